"""The shapes that fool a leak verdict, on real dumps of programs that take them on purpose
(samples/go/shapes, samples/java/WarmPool.java, samples/node/tenant_watch.js, and the series
samples/series/go-restart): late leaks, bursts, growth by one, capped leaks, pools warming up,
per-instance keys, restarts, swapped and identical inputs. docs/verdict.md has the rules."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from snapdiff.cli import app
from snapdiff.compare import RESTART_PROVEN, continuity
from snapdiff.diff import diff
from snapdiff.inputs import load
from snapdiff.runtime import name_pattern
from snapdiff.trend import trend
from tests.conftest import PY_DUMPS, ROOT

SHAPES = ROOT / "samples" / "go" / "dumps" / "shapes-go1.27"
WARM = ROOT / "samples" / "java" / "dumps" / "warmpool-jdk17"
TENANTS = ROOT / "samples" / "node" / "dumps" / "tenants-node20"
RESTART = ROOT / "samples" / "series" / "go-restart"
PY_SERIES = ROOT / "samples" / "series" / "py-leaky"
SESSIONS = PY_DUMPS / "sessions"


def _diff(before, after):
    return diff(load(str(before)), load(str(after)))


def _by(result, attr="function"):
    return {getattr(g.key, attr): g for g in result.groups}


@pytest.fixture(scope="module")
def shapes():
    return _diff(SHAPES / "t0.debug2.txt", SHAPES / "t1.debug2.txt")


def test_a_leak_that_starts_late_is_a_leak_and_a_burst_is_a_burst(shapes):
    by = _by(shapes)
    late = by["main.lateLeak"]
    # Born from about two thirds of the way through: the old rule (a quarter born in the first
    # half of the interval) called it a burst.
    assert (late.before, late.verdict, late.suspect, late.confidence) == (0, "leak", True, "high")
    assert "started between the snapshots" in late.reasons[0]
    burst = by["main.burstAfter"]
    assert (burst.after, burst.verdict, burst.suspect) == (40, "burst", False)
    assert [g.key.function for g in shapes.suspects] == ["main.lateLeak"]
    assert shapes.warnings == ()


def test_growth_by_one_is_not_a_suspect(shapes):
    pool = _by(shapes)["main.addWorker"]
    assert (pool.before, pool.after, pool.survivors) == (1, 2, 1)
    assert (pool.verdict, pool.suspect) == ("growing", False)
    assert "grew by one" in pool.reasons[-1]


def test_a_capped_leak_is_held_with_its_ages(shapes):
    capped = _by(shapes)["main.cappedLeak"]
    assert (capped.before, capped.after, capped.survivors) == (60, 60, 60)
    assert (capped.verdict, capped.suspect) == ("held", False)
    assert capped.reasons[0].startswith("all 60 tasks lived through the whole interval")
    assert "born before the first snapshot" in capped.reasons[1]
    assert "60 blocked for a minute or more" in capped.reasons[1]
    # Small constant groups are still steady.
    assert [g.key.function for g in shapes.groups if g.verdict == "held"] == ["main.cappedLeak"]
    assert sum(g.verdict == "steady" for g in shapes.groups) >= 3


def test_a_fixed_pool_warming_up_says_a_third_snapshot_tells():
    result = _diff(WARM / "t0.txt", WARM / "t1.txt")
    by = _by(result, "name_pattern")
    pool = by["pool-N-thread-N"]
    assert (pool.before, pool.after, pool.verdict, pool.suspect) == (6, 20, "leak", True)
    assert pool.confidence == "medium"
    assert "one pool (pool-1-thread-N)" in pool.reasons[-1]
    assert "a third snapshot tells" in pool.reasons[-1]
    assert not any("per request" in r for r in pool.reasons)
    # The ForkJoin pool started one more worker: growth by one.
    fj = by["ForkJoinPool-N-worker-N"]
    assert (fj.before, fj.after, fj.verdict, fj.suspect) == (1, 2, "growing", False)
    # Five threads started back to back just before t1: a burst.
    assert by["report-N"].verdict == "burst"
    # The third snapshot: the pool stopped at its size.
    over = trend([load(str(WARM / f"t{i}.txt")) for i in range(3)])
    assert _by(over, "name_pattern")["pool-N-thread-N"].verdict == "step"
    assert not over.suspects


def test_highest_thread_number_going_down_in_one_jvm_is_no_restart():
    before, after = load(str(WARM / "t1.txt")), load(str(WARM / "t2.txt"))
    assert after.max_id < before.max_id  # the report-N threads, the newest, ended
    result = diff(before, after)
    assert result.ids_comparable
    assert result.warnings == ()
    assert _by(result, "name_pattern")["pool-N-thread-N"].survivors == 20


def test_per_tenant_watchers_are_one_group_with_examples():
    result = _diff(TENANTS / "t0.json", TENANTS / "t1.json")
    (leak,) = result.suspects
    assert leak.key.function == "fs_poll"
    assert leak.key.file.endswith("/tenants/tenant-N.json")
    assert leak.before >= 10 and leak.after >= leak.before + 40
    assert leak.survivors == leak.before
    assert all(n.endswith(".json") and "tenant-" in n for n in leak.example_names)
    assert len(set(leak.example_names)) == 3
    # The config file's watcher is not an instance of the pattern: its own group, steady.
    config = [g for g in result.groups if g.key.file.endswith("/config.json")]
    assert [(g.verdict, g.after) for g in config] == [("steady", 1)]
    assert not any(g.key.function == "fs_poll" and g.verdict == "new" for g in result.groups)


def test_a_series_with_a_restart_is_judged_run_by_run():
    result = trend([load(str(p)) for p in sorted(RESTART.glob("*.json.gz"))])
    assert result.runs == ((0, 2), (3, 5))
    assert any(
        w.startswith("the process restarted between snapshots 3 and 4") for w in result.warnings
    )
    assert [g.key.function for g in result.suspects] == ["main.lateLeak"]
    leak = result.suspects[0]
    assert leak.reasons[0] == (
        "grew in both runs (snapshots 1-3, 4-6); the process restarted between snapshots 3 and 4"
    )
    capped = _by(result)["main.cappedLeak"]
    assert (capped.verdict, capped.suspect, capped.series) == ("held", False, (60,) * 6)


def test_the_restart_is_proven_by_a_reused_goroutine_id():
    before, after = (load(str(RESTART / f"0{i}.json.gz")) for i in (3, 4))
    c = continuity(before, after)
    assert (c.restart, c.comparable) == (RESTART_PROVEN, False)
    assert "ids are never reused within one run" in c.notes[0]
    # Within a run: no restart.
    for i in (1, 4):
        a, b = (load(str(RESTART / f"0{j}.json.gz")) for j in (i, i + 1))
        assert continuity(a, b).restart == ""


@pytest.mark.parametrize("ext", ["json", "txt"])
def test_py_spy_dumps_in_the_wrong_order_are_warned(ext):
    before, after = (load(str(PY_DUMPS / "py3.12" / f"{t}.{ext}")) for t in ("t1", "t0"))
    result = diff(before, after)
    (note,) = result.warnings
    assert note.startswith("the snapshots look swapped: the threads only in the first were born")
    assert not result.ids_comparable
    # In the right order, no such warning.
    assert not diff(after, before).warnings


def test_capture_times_in_the_wrong_order_give_one_message():
    first, last = (load(str(PY_SERIES / f"0{i}.json.gz")) for i in (1, 6))
    result = diff(last, first)
    (note,) = result.warnings
    assert note.startswith("the snapshots are in the wrong order: the second was captured 50s")
    assert "so do the ids" in note
    assert result.elapsed_seconds is None and not result.ids_comparable


def test_the_same_dump_twice_is_said():
    dump = str(SHAPES / "t0.debug2.txt")
    result = diff(load(dump), load(dump))
    (note,) = result.warnings
    assert "the same dump given twice" in note
    assert not result.suspects


def test_the_same_profile_twice_is_said_without_ids():
    # Go debug=1 profiles have no ids: the same file twice is still told.
    dump = str(ROOT / "samples" / "go" / "dumps" / "go1.27" / "t0.debug1.txt")
    result = diff(load(dump), load(dump))
    assert [w for w in result.warnings if "the same dump given twice" in w]
    assert not result.ids_comparable


def test_the_text_report_lists_a_held_group_and_the_json_gives_its_ages():
    args = ["diff", str(SHAPES / "t0.debug2.txt"), str(SHAPES / "t1.debug2.txt"), "-q"]
    text = CliRunner(env={"COLUMNS": "100"}).invoke(app, args, prog_name="snapdiff")
    assert text.exit_code == 0, text.output
    held = [line for line in text.stdout.splitlines() if line.startswith("held ")]
    assert len(held) == 1 and "main.cappedLeak" in held[0]
    js = CliRunner().invoke(app, [*args, "-f", "json"], prog_name="snapdiff")
    group = next(g for g in orjson.loads(js.stdout_bytes)["groups"] if g["verdict"] == "held")
    assert any(r.startswith("born before the first snapshot") for r in group["reasons"])


def test_threads_named_per_session_are_one_group_and_their_leak_is_found():
    # samples/python/session_threads.py names each thread after what it serves:
    # session-<uuid4> (leaking), conn-<8 hex> (short), worker-<8 hex> (a pool of four). With
    # every name its own group, the leak read as dozens of "new" groups of one thread each.
    before, after = (load(str(SESSIONS / f"{t}.txt")) for t in ("t0", "t1"))
    sessions = [t for t in after.tasks if t.name.startswith("session-")]
    assert len({t.name for t in sessions}) == len(sessions) > 60
    result = diff(before, after)
    (suspect,) = result.suspects
    assert suspect.key.function == "session"
    assert suspect.key.name_pattern == "session-<uuid>"
    assert suspect.after == len(sessions)
    assert (
        suspect.survivors
        == suspect.before
        == sum(t.name.startswith("session-") for t in before.tasks)
    )
    workers = [g for g in result.groups if g.key.function == "worker"]
    names = {t.name for t in after.tasks if t.name.startswith("worker-")}
    # A hex id of digits only reads as a number: such a worker is a group of its own.
    assert sum(g.after for g in workers) == 4
    assert {g.key.name_pattern for g in workers} == {name_pattern(n) for n in names}
    assert all(g.verdict == "steady" for g in workers)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("ThreadPoolExecutor-45_0", "ThreadPoolExecutor-N_N"),
        ("session-6f1cab12-3e4d-4f5a-8b9c-0d1e2f3a4b5c", "session-<uuid>"),
        ("conn 0x7f3a9c", "conn 0x…"),  # the 0 of 0x… is not a number
        ("worker-a1b2c3d4", "worker-<hex>"),
        ("sha-1f2e3d4c5b6a7988aa", "sha-<hex>"),
        ("C2 CompilerThread0", "CN CompilerThreadN"),  # words stay words
        ("feeder", "feeder"),
        ("deadbeef", "deadbeef"),  # no digit: a word
        ("cafe12", "<hex>"),
        ("grpc-default-executor-3", "grpc-default-executor-N"),
    ],
)
def test_a_name_pattern_takes_out_what_names_one_instance(name, pattern):
    assert name_pattern(name) == pattern
