"""The diff and its verdict, on real dumps where the situation can be had for real."""

from __future__ import annotations

from dataclasses import replace

import pytest

from snapdiff.diff import _Evidence, diff, growth_over, judge, show
from snapdiff.group import GroupBy
from snapdiff.inputs import load
from snapdiff.model import GOROUTINE, Frame, Task
from tests.conftest import GO_DUMPS, upstream

T0 = str(GO_DUMPS / "go1.27" / "t0.debug2.txt")
T1 = str(GO_DUMPS / "go1.27" / "t1.debug2.txt")


def _by_function(result):
    return {g.key.function: g for g in result.groups}


def test_reversed_order_is_detected_and_survivors_not_counted():
    result = diff(load(T1), load(T0))
    assert not result.ids_comparable
    assert any("went down" in w for w in result.warnings)
    assert all(g.survivors is None for g in result.groups)
    assert not result.suspects


def test_restart_between_captures_is_detected_on_upstream_pair():
    before = load(str(upstream("go-profiler-notes/1.net.http.pprof.goroutine.debug2.txt")))
    after = load(str(upstream("go-profiler-notes/2.net.http.pprof.goroutine.debug2.txt")))
    result = diff(before, after)
    assert not result.ids_comparable
    assert any("restarted" in w for w in result.warnings)


def test_same_process_upstream_pair_has_no_suspect():
    before = load(str(upstream("go-profiler-notes/1.runtime.stack.txt")))
    after = load(str(upstream("go-profiler-notes/2.runtime.stack.txt")))
    result = diff(before, after)
    assert result.ids_comparable
    assert not result.suspects
    new = [g for g in result.groups if g.before == 0]
    assert new and all(g.verdict == "new" for g in new)


@pytest.mark.parametrize("version", ["go1.19", "go1.27"])
def test_debug1_pair_flags_the_leak_with_low_confidence_only(version):
    before = load(str(GO_DUMPS / version / "t0.debug1.txt"))
    after = load(str(GO_DUMPS / version / "t1.debug1.txt"))
    result = diff(before, after)
    assert not result.ids_comparable
    suspects = [(g.key.function, g.key.by, g.confidence) for g in result.suspects]
    assert suspects == [("main.fetchOne", "entry", "low")]
    assert all(g.survivors is None for g in result.groups)


def test_rate_uses_capture_times_of_snapshots():
    before = load(T0)
    after = load(T1)
    before = replace(before, source=replace(before.source, captured_at="2026-11-27T20:49:54Z"))
    after = replace(after, source=replace(after.source, captured_at="2026-11-27T20:51:04Z"))
    result = diff(before, after)
    assert result.elapsed_seconds == 70
    assert result.elapsed_source == "capture times"
    leak = _by_function(result)["main.fetchAll"]
    assert leak.rate_per_minute == pytest.approx(leak.delta / (70 / 60))


def test_elapsed_override_and_unknown_rate():
    assert diff(load(T0), load(T1)).elapsed_seconds is None
    assert all(g.rate_per_minute is None for g in diff(load(T0), load(T1)).groups)
    result = diff(load(T0), load(T1), elapsed_seconds=120)
    assert result.elapsed_source == "--elapsed"
    leak = _by_function(result)["main.fetchAll"]
    assert leak.rate_per_minute == pytest.approx(leak.delta / 2)


def test_leak_that_started_after_the_first_capture_is_judged_by_the_id_clock():
    # The same real pair, with the fan-out goroutines removed from the first snapshot: as if the
    # leak began after it. Their ids in the second are spread over the whole interval.
    before = load(T0)
    before = replace(
        before,
        tasks=tuple(
            t
            for t in before.tasks
            if not (t.created_by and t.created_by.function == "main.fetchAll")
        ),
    )
    result = diff(before, load(T1))
    leak = _by_function(result)["main.fetchAll"]
    assert leak.before == 0
    assert leak.verdict == "leak" and leak.suspect


def test_burst_of_young_tasks_at_a_new_site_is_not_suspect():
    before = load(T0)
    after = load(T1)
    top = after.max_id or 0
    site = Frame("main.burst", "/src/burst.go", 12)
    burst = tuple(
        Task(
            kind=GOROUTINE,
            frames=(Frame("main.handle", "/src/burst.go", 20),),
            id=top + 1 + i,
            state="chan receive",
            created_by=site,
        )
        for i in range(50)
    )
    after = replace(after, tasks=after.tasks + burst)
    result = diff(before, after)
    group = _by_function(result)["main.burst"]
    assert group.after == 50
    assert group.verdict == "burst"
    assert not group.suspect
    assert [g.key.function for g in result.suspects] == ["main.fetchAll"]


@pytest.mark.parametrize(
    ("evidence", "verdict", "suspect"),
    [
        (_Evidence(10, 100, 10, None, 0, 0), "leak", True),
        (_Evidence(10, 100, 0, None, 0, 0), "churn", False),
        (_Evidence(8, 8, 8, None, 0, 0), "steady", False),
        (_Evidence(1, 1, 1, None, 1, 0), "steady", False),  # a constant stuck task
        (_Evidence(10, 5, 5, None, 0, 0), "shrinking", False),
        (_Evidence(10, 0, 0, None, 0, 0), "gone", False),
        (_Evidence(10, 20, 3, None, 0, 0), "turnover", False),
        (_Evidence(0, 40, 0, 0.5, 0, 0), "leak", True),
        (_Evidence(0, 40, 0, 0.0, 0, 0), "burst", False),
        (_Evidence(0, 2, 0, 0.9, 0, 0), "new", False),
        (_Evidence(20, 300, None, None, 0, 0), "growing", True),
        (_Evidence(6, 12, None, None, 0, 0), "growing", False),
        (_Evidence(6, 12, None, None, 6, 0), "leak", True),  # no ids, but waiting minutes
    ],
)
def test_judge(evidence, verdict, suspect):
    got_verdict, got_suspect, _, reasons = judge(evidence)
    assert (got_verdict, got_suspect) == (verdict, suspect)
    if got_suspect:
        assert reasons


def test_leaked_marks_are_reported_as_the_runtimes_own_verdict():
    before = load(T0)
    after = load(str(GO_DUMPS / "go1.27" / "t1.goroutineleak.debug2.txt"))
    result = diff(before, after)
    leak = _by_function(result)["main.fetchAll"]
    assert leak.leaked == leak.after - sum(n for s, n in leak.states if s != "chan send")
    assert any("leaked" in r for r in leak.reasons)
    assert all(g.leaked == 0 for g in result.groups if g.key.function != "main.fetchAll")


def test_growth_gate_counts_only_suspects():
    result = diff(load(T0), load(T1))
    leak = _by_function(result)["main.fetchAll"]
    assert growth_over(result, leak.delta) == [leak]
    assert growth_over(result, leak.delta + 1) == []
    churn = _by_function(result)["main.churnLoop"]
    assert churn.delta > 0 and churn not in growth_over(result, 1)


@pytest.mark.parametrize(
    ("by", "function"),
    [
        (GroupBy.SITE, "main.fetchAll"),
        (GroupBy.ENTRY, "main.fetchOne"),
        (GroupBy.LEAF, "main.fetchOne"),
        (GroupBy.STACK, "main.fetchOne"),
    ],
)
def test_group_by_keys(by, function):
    result = diff(load(T0), load(T1), by)
    assert result.suspects
    top = result.suspects[0]
    assert top.key.function == function
    assert top.site is not None and top.site.function == "main.fetchAll"
    assert top.entry_function == "main.fetchOne"


def test_leaf_skips_runtime_frames_of_a_sigquit_dump():
    # SIGQUIT dumps show runtime.gopark and friends on top of every blocked goroutine.
    snap = load(str(GO_DUMPS / "go1.27" / "sigquit.txt"))
    assert any(t.leaf and t.leaf.function == "runtime.gopark" for t in snap.tasks)
    result = show(snap, GroupBy.LEAF)
    assert result.groups[0].key.function == "main.fetchOne"
    runtime_only = sum(
        1 for t in snap.tasks if all(f.function.startswith("runtime.") for f in t.frames)
    )
    parked = [g.count for g in result.groups if g.key.function == "runtime.gopark"]
    assert parked == [runtime_only]


def test_show_counts_add_up_and_sort_by_count():
    snap = load(T1)
    result = show(snap)
    assert sum(g.count for g in result.groups) == snap.total == result.snapshot.total
    counts = [g.count for g in result.groups]
    assert counts == sorted(counts, reverse=True)
    assert result.groups[0].key.function == "main.fetchAll"


# --- summaries read off the profile equal the task-by-task reading -------------------------

SUMMARY_DUMPS = sorted(
    p
    for pattern in (
        "go/dumps/*/*.txt",
        "go/dumps/*/*.pb.gz",
        "python/dumps/*/*.json",
        "java/dumps/*/*",
        "node/dumps/*/t*.json",
    )
    for p in (GO_DUMPS.parent.parent).glob(pattern)
    if p.is_file() and p.suffix != ".tsv" and "heap" not in p.name and "cpu" not in p.name
)


def _naive(tasks):
    """What a group's summary says, counted one task at a time."""
    from collections import Counter

    states: Counter = Counter()
    stacks: Counter = Counter()
    for t in tasks:
        if t.state:
            states[t.state] += t.count
        stacks[t.frames] += t.count
    waits = [t.wait_minutes for t in tasks if t.wait_minutes is not None]
    common = set(tasks[0].labels)
    for t in tasks:
        common &= set(t.labels)
    return {
        "count": sum(t.count for t in tasks),
        "states": tuple(states.most_common()),
        "max_wait_minutes": max(waits) if waits else None,
        "leaked": sum(t.count for t in tasks if "leaked" in t.flags),
        "stack": stacks.most_common(1)[0][0],
        "labels": tuple(sorted(common)),
    }


@pytest.mark.parametrize(
    "path", SUMMARY_DUMPS, ids=lambda p: str(p.relative_to(GO_DUMPS.parent.parent))
)
def test_summaries_equal_a_task_by_task_count(path):
    from snapdiff import runtimes
    from snapdiff.compare import summarise
    from snapdiff.group import group

    snap = load(str(path))
    rt = runtimes.of(snap)
    groups = group(snap.tasks, rt=rt)
    assert groups
    for key, tasks in groups.items():
        summary = summarise(key, tasks, rt)
        expected = _naive(tasks)
        got = {name: getattr(summary, name) for name in expected}
        assert got == expected, key.label()
