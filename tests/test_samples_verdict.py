"""On the project's own leaking services, every leaking site is suspect and nothing else is."""

from __future__ import annotations

import pytest

from snapdiff.diff import diff
from snapdiff.inputs import load
from tests.conftest import GO_DUMPS, PY_DUMPS

GO_PAIRS = [
    (GO_DUMPS / v / "t0.debug2.txt", GO_DUMPS / v / "t1.debug2.txt") for v in ("go1.19", "go1.27")
]
PY_PAIRS = [
    (PY_DUMPS / v / f"t0.{ext}", PY_DUMPS / v / f"t1.{ext}")
    for v in ("py3.11", "py3.12", "py3.13")
    for ext in ("json", "txt")
]


@pytest.mark.parametrize("pair", GO_PAIRS, ids=lambda p: p[0].parent.name)
def test_go_fanout_leak_is_the_only_suspect(pair):
    result = diff(load(str(pair[0])), load(str(pair[1])))
    suspects = [g.key.function for g in result.groups if g.suspect]
    assert suspects == ["main.fetchAll"]
    by_site = {g.key.function: g for g in result.groups if g.key.by == "site"}
    assert by_site["main.churnLoop"].verdict == "churn"
    assert by_site["main.startPool"].verdict == "steady"
    assert by_site["main.startPool"].after == 8
    assert by_site["main.startConfigWatcher"].verdict == "steady"
    leak = by_site["main.fetchAll"]
    assert leak.survivors == leak.before > 0
    assert leak.after > leak.before
    assert dict(leak.states)["chan send"] >= leak.after - 2


@pytest.mark.parametrize("pair", PY_PAIRS, ids=lambda p: f"{p[0].parent.name}-{p[0].suffix}")
def test_python_executor_leak_is_the_only_suspect(pair):
    result = diff(load(str(pair[0])), load(str(pair[1])))
    suspects = [(g.key.function, g.key.name_pattern) for g in result.groups if g.suspect]
    assert suspects == [("_worker", "ThreadPoolExecutor-N_N")]
    by_fn = {g.key.function: g for g in result.groups}
    assert by_fn["pool_worker"].verdict == "steady"
    assert by_fn["pool_worker"].after == 4
    assert by_fn["watch_config"].verdict == "steady"
    assert not by_fn["short_task"].suspect
    assert by_fn["_worker"].after == 100


def test_go_leak_detector_dump_pairs_with_an_earlier_dump():
    # Go 1.27's goroutineleak?debug=2: every goroutine, the proven leaks marked "(leaked)"
    # (and, once marked, without their wait minutes).
    before = load(str(GO_DUMPS / "go1.27" / "t0.debug2.txt"))
    after = load(str(GO_DUMPS / "go1.27" / "t1.goroutineleak.debug2.txt"))
    result = diff(before, after)
    assert [g.key.function for g in result.suspects] == ["main.fetchAll"]
    leak = result.suspects[0]
    assert leak.leaked > 0.9 * leak.after
    assert sum(g.leaked for g in result.groups) == leak.leaked


def test_go_sigquit_dump_reads_with_log_lines_and_registers_around_it():
    snap = load(str(GO_DUMPS / "go1.27" / "sigquit.txt"))
    assert snap.skipped_lines > 15  # the log lines before and the register dump after
    assert all(t.id != 0 for t in snap.tasks)
    sites = {t.created_by.function for t in snap.tasks if t.created_by}
    assert {"main.fetchAll", "main.startPool", "main.startConfigWatcher"} <= sites
