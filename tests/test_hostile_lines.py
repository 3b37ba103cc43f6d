"""Long hostile lines: every reader reads them in time proportional to their length.

For each reader, its largest real dump is taken apart: each distinct line (for a JSON format,
each distinct string) is stretched to a few kilobytes three ways (repeated, repeated without its
last character, its first half repeated), which is what makes a pattern with adjacent or nested
unbounded groups backtrack over and over. The stretched dump must be read within a small
multiple of the time the reader takes per byte of the real dump: relative, so a slow or busy
machine does not matter. Absolute figures belong in bench/.
"""

from __future__ import annotations

import contextlib
import time

import pytest

from fuzz import seeds
from snapdiff import runtimes
from snapdiff.errors import SnapdiffError

SIZE = 16384
MULTIPLE = 12
# The pprof protobuf has no lines: its strings are read by length, never by a pattern.
TEXT_READERS = [name for name in runtimes.SOURCES if name != "go-pprof"]


def _best(parse, data: bytes, enough: float = 0.0) -> float:
    """The shortest of three runs; fewer when one already took no more than ``enough``."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with contextlib.suppress(SnapdiffError):
            parse(data, "hostile")
        best = min(best, time.perf_counter() - start)
        if best <= enough:
            break
    return best


def _largest(name: str) -> bytes:
    found = seeds.by_reader()[name]
    if not found:
        pytest.skip(f"no sample of {name}")
    return max(found, key=lambda s: len(s[1]))[1]


@pytest.mark.parametrize("name", TEXT_READERS)
def test_long_hostile_lines_read_in_linear_time(name):
    reader = runtimes.SOURCES[name]
    seed = _largest(name)
    hostile = seeds.adversarial_json(seed, SIZE)
    if hostile is None:
        hostile = seeds.adversarial_text(seed, SIZE)
    per_byte = _best(reader.parse, seed) / len(seed)
    allowed = MULTIPLE * per_byte * max(len(hostile), len(seed))
    took = _best(reader.parse, hostile, enough=allowed)
    assert took <= allowed, (
        f"{name}: {len(hostile):,} hostile bytes took {took:.3f} s, "
        f"{took / (per_byte * len(hostile)):.0f} times the time per byte of a real dump"
    )
