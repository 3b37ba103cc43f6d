"""The fuzz harness in CI: every target, mutations of its seeds, a fixed seed, a bounded time.

A quick pass of what ``python -m fuzz.run`` does for longer (fuzz/README.md): for each reader,
the snapshot loader and the renderers, a fixed number of mutated real dumps, each of which must
give a result or one error line (exit 3), and within a few seconds.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as fixed_seed

from fuzz import mutate, seeds, targets

TARGETS = targets.all_targets()
EXAMPLES = {targets.RENDERERS: 15}
PER_INPUT = 10.0  # seconds: far above any input of a few megabytes read in linear time


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target_keeps_the_contract(name):
    pool = seeds.by_reader().get(name) or tuple(
        s for v in seeds.by_reader().values() for s in v[:2]
    )
    corpus = tuple(data for _, data in pool)
    assert corpus, f"no seed for {name}"
    target = TARGETS[name]

    @fixed_seed(14)
    @settings(
        max_examples=EXAMPLES.get(name, 40),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutate.mutated(corpus))
    def run(data: bytes) -> None:
        start = time.perf_counter()
        target(data)
        took = time.perf_counter() - start
        assert took < PER_INPUT, f"{name}: {took:.1f} s on {len(data):,} bytes"

    run()


def test_every_reader_has_seeds_and_a_target():
    found = seeds.by_reader()
    missing = [name for name in TARGETS if name != targets.RENDERERS and not found.get(name)]
    # The probe's own format has no sample dump (it is made live): its target is seeded from
    # every other reader's dumps.
    assert missing == ["snapdiff-probe"]
