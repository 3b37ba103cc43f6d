"""On real series from the project's own services, every leak is suspect and nothing else is.

The series are in samples/series/ (samples/regen-series.sh captures them again): six snapshots
ten seconds apart of each service, with a burst and churn that ends higher than it started.
"""

from __future__ import annotations

import pytest

from snapdiff.inputs import load
from snapdiff.trend import trend
from tests.conftest import SAMPLES

SERIES = SAMPLES / "series"

# series -> the leaking sites (key function), and what the other notable sites must be judged
EXPECTED = {
    "go-leaky": (
        {"main.fetchAll"},
        {
            "main.startPool": "steady",
            "main.startConfigWatcher": "steady",
            "main.churnLoop": ("churn", "burst", "steady", "shrinking"),
            "net/http.(*Server).Serve": "burst",  # 40 idle connections at the 3rd capture only
        },
    ),
    "go-leakprofile": ({"main.fetchAll"}, {"main.startPool": "steady"}),
    "py-leaky": ({"_worker"}, {"pool_worker": "steady", "watch_config": "steady"}),
    "py-noisy": (
        {"subscribe"},
        {
            "handle_request": "churn",  # ends several times higher, no thread lives long
            "burst_task": "burst",
            "pool_worker": "steady",
            "watch_config": "steady",
        },
    ),
    "py-noleak": (set(), {"handle_request": "churn", "burst_task": "burst"}),
}


def series(name: str):
    files = sorted((SERIES / name).glob("*.json.gz"))
    assert len(files) >= 5, f"samples/series/{name}: run samples/regen-series.sh"
    return trend([load(str(f)) for f in files])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exactly_the_leaks_are_suspect(name):
    leaks, others = EXPECTED[name]
    result = series(name)
    assert result.ids_comparable
    assert result.offsets_seconds is not None
    assert {g.key.function for g in result.suspects} == leaks
    assert all(g.verdict == "leak" and g.confidence == "high" for g in result.suspects)
    by_fn = {g.key.function: g for g in result.groups}
    for fn, verdicts in others.items():
        allowed = (verdicts,) if isinstance(verdicts, str) else verdicts
        assert by_fn[fn].verdict in allowed, (fn, by_fn[fn].series, by_fn[fn].reasons)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_leaks_keep_their_tasks_and_grow_every_step(name):
    for g in series(name).suspects:
        assert g.survivors == g.before
        assert g.steadiness == 1.0
        assert g.slope_per_minute is not None and g.slope_per_minute > 5


def test_the_burst_and_the_rising_churn_would_fool_a_pair_of_snapshots():
    from snapdiff.diff import diff

    files = sorted((SERIES / "py-noleak").glob("*.json.gz"))
    snaps = [load(str(f)) for f in files]
    churn = next(g for g in series("py-noleak").groups if g.key.function == "handle_request")
    assert churn.after >= 2 * churn.before  # ended much higher than it began
    pair = diff(snaps[1], snaps[2])  # across the burst
    burst = next(g for g in pair.groups if g.key.function == "burst_task")
    assert burst.delta >= 30


def test_go_marks_its_own_leaks_beside_the_verdict():
    result = series("go-leakprofile")
    leak = result.suspects[0]
    assert result.runtime_leaks
    assert leak.leaked_series[-1] >= 0.9 * leak.after
    assert all(g.leaked == 0 for g in result.groups if not g.suspect)
