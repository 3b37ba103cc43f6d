"""The Go aggregated profile reader (go_debug1) on real profiles and hand-made edge cases.

Expected values come from the profiles themselves (grep and awk over each file).
"""

from __future__ import annotations

import pytest

from snapdiff.inputs import parse_bytes
from snapdiff.model import Frame, Snapshot
from snapdiff.runtimes import detect
from snapdiff.runtimes.go import go_debug1
from tests.conftest import GO_DUMPS, upstream

FETCH = (("handler", "/api/v1/items"), ("tenant", "acme"))
POOL = (("pool", "workers"),)
TEST_LABEL = (("test_label", "test_value"),)


def read(path) -> Snapshot:
    return parse_bytes(path.read_bytes(), str(path))


def profile(dump: str) -> Snapshot:
    return go_debug1.parse(dump.encode(), "p.txt")


# awk over each file, per "N @" record in order: (N, labels, frame lines, innermost function,
# outermost function).
SAMPLES = {
    "go1.27/t1.debug1.txt": (
        "goroutine",
        307,
        [
            (279, FETCH, 1, "main.fetchOne", "main.fetchOne"),
            (12, (), 2, "time.Sleep", "main.handleShort"),
            (8, POOL, 1, "main.worker", "main.worker"),
            (1, (), 9, "runtime/pprof.writeRuntimeProfile", "net/http.(*conn).serve"),
            (1, (), 1, "main.churnLoop", "main.churnLoop"),
            (1, (), 1, "main.logStats", "main.logStats"),
            (1, (), 1, "main.feedJobs", "main.feedJobs"),
            (1, (), 1, "main.watchConfig", "main.watchConfig"),
            (1, FETCH, 3, "main.leakLoop.func1", "main.leakLoop"),
            (1, (), 11, "internal/poll.runtime_pollWait", "runtime.main"),
            # "1 @ 0x490fa1" and no frame line: only runtime.goexit, which pprof hides.
            (1, (), 0, None, None),
        ],
    ),
    "go1.27/t1.goroutineleak.debug1.txt": (
        "goroutineleak",
        279,
        [(279, FETCH, 1, "main.fetchOne", "main.fetchOne")],
    ),
    "go1.19/t1.debug1.txt": (
        "goroutine",
        320,
        [
            (294, FETCH, 1, "main.fetchOne", "main.fetchOne"),
            (10, (), 2, "time.Sleep", "main.handleShort"),
            (8, POOL, 1, "main.worker", "main.worker"),
            (
                1,
                (),
                10,
                "runtime/pprof.runtime_goroutineProfileWithLabels",
                "net/http.(*conn).serve",
            ),
            (1, (), 1, "main.churnLoop", "main.churnLoop"),
            (1, (), 1, "main.logStats", "main.logStats"),
            (1, FETCH, 3, "main.leakLoop.func1", "main.leakLoop"),
            (1, (), 1, "main.feedJobs", "main.feedJobs"),
            (1, (), 1, "main.watchConfig", "main.watchConfig"),
            (1, (), 7, "internal/poll.runtime_pollWait", "net/http.(*connReader).backgroundRead"),
            (1, (), 11, "internal/poll.runtime_pollWait", "runtime.main"),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_profile(name):
    kind, total, records = SAMPLES[name]
    snap = read(GO_DUMPS / name)
    assert snap.source.format == "go-goroutine-debug1"
    assert snap.source.detail == f"{kind} profile, aggregated"
    assert snap.total == total
    got = [
        (
            t.count,
            t.labels,
            len(t.frames),
            t.leaf.function if t.leaf else None,
            t.entry.function if t.entry else None,
        )
        for t in snap.tasks
    ]
    assert got == records
    leaked = ("leaked",) if kind == "goroutineleak" else ()
    assert all(t.flags == leaked for t in snap.tasks)
    assert all(t.id is None and t.created_by is None for t in snap.tasks)
    assert not snap.truncated
    assert snap.skipped_lines == 0
    assert len(snap.warnings) == 1 and "no goroutine ids" in snap.warnings[0]


def test_sample_frames_are_exact():
    snap = read(GO_DUMPS / "go1.27" / "t1.debug1.txt")
    assert snap.tasks[0].frames == (Frame("main.fetchOne", "snapdiff.example/leaky/fanout.go", 53),)
    # "#\t0x4d31aa\tinternal/poll.(*FD).Accept+0x26a\t\tinternal/poll/fd_unix.go:618": tabs pad
    # the columns.
    assert Frame("internal/poll.(*FD).Accept", "internal/poll/fd_unix.go", 618) in (
        snap.tasks[9].frames
    )


# awk over go-profiler-notes: number of records, declared total, records with labels.
UPSTREAM = {
    "go-profiler-notes/1.net.http.pprof.goroutine.debug1.txt": (9, 10, 6),
    "go-profiler-notes/1.pprof.lookup.goroutine.debug1.txt": (5, 6, 4),
    "go-profiler-notes/2.net.http.pprof.goroutine.debug1.txt": (9, 10, 6),
    "go-profiler-notes/2.pprof.lookup.goroutine.debug1.txt": (8, 9, 6),
}


@pytest.mark.parametrize("name", sorted(UPSTREAM))
def test_upstream_profile(name):
    records, total, labelled = UPSTREAM[name]
    snap = read(upstream(name))
    assert len(snap.tasks) == records
    assert snap.total == total
    assert sum(t.labels == TEST_LABEL for t in snap.tasks) == labelled
    assert sum(t.labels == () for t in snap.tasks) == records - labelled
    first = snap.tasks[0]
    assert first.count == 2
    assert first.frames[0] == Frame(
        "time.Sleep", "/usr/local/Cellar/go/1.15.6/libexec/src/runtime/time.go", 188
    )
    assert first.frames[1].function == "main.shortSleepLoop"
    assert first.frames[1].line == 165
    assert not snap.truncated


RECORD = "1 @ 0x1 0x2\n#\t0x1\tmain.f+0x1\t/src/f.go:3\n\n"


def test_labels_in_go_quoting():
    # pprof prints labels with %q: Go escapes such as \a and \x00 are not JSON.
    dump = (
        "goroutine profile: total 1\n1 @ 0x1\n"
        '# labels: {"a b":"x\\"y", "k":"\\a\\x00😀", "t":"\\U0001f600\\u00e9"}\n'
        "#\t0x1\tmain.f+0x1\t/src/f.go:3\n\n"
    )
    (task,) = profile(dump).tasks
    assert task.labels == (("a b", 'x"y'), ("k", "\a\x00😀"), ("t", "😀é"))


def test_unreadable_labels_are_kept():
    dump = "goroutine profile: total 1\n1 @ 0x1\n# labels: {broken\n" + RECORD.split("\n", 1)[1]
    assert profile(dump).tasks[0].labels == (("", "{broken"),)


def test_pc_without_symbol():
    # printStackRecord prints "#\t0x..." alone when a PC has no function.
    dump = (
        "goroutine profile: total 1\n1 @ 0x1069e1d 0x2\n"
        "#\t0x1069e1d\n#\t0x2\tmain.f+0x1\t/f.go:3\n\n"
    )
    assert profile(dump).tasks[0].frames == (Frame("0x1069e1d"), Frame("main.f", "/f.go", 3))


def test_tabs_as_spaces_and_crlf():
    data = (GO_DUMPS / "go1.27" / "t1.debug1.txt").read_bytes()
    plain = go_debug1.parse(data, "p")
    spaced = go_debug1.parse(data.replace(b"\t", b"    "), "p")
    crlf = go_debug1.parse(data.replace(b"\n", b"\r\n"), "p")
    assert spaced.tasks == plain.tasks == crlf.tasks
    assert not spaced.truncated and not crlf.truncated


def test_cut_mid_line():
    data = (GO_DUMPS / "go1.27" / "t1.debug1.txt").read_bytes()
    cut = data[: data.index(b"main.worker") + 4]
    snap = go_debug1.parse(cut, "p")
    assert snap.truncated
    assert snap.tasks[-1].count == 8 and snap.tasks[-1].flags == ("partial",)
    assert any("ends in the middle of a line" in w for w in snap.warnings)
    assert any(
        "says total 307 but its records add up to 299 (cut short?)" in w for w in snap.warnings
    )


def test_cut_at_a_line_end_inside_a_record():
    data = (GO_DUMPS / "go1.27" / "t1.debug1.txt").read_bytes()
    end = data.index(b"internal/poll.(*FD).Accept")
    cut = data[: data.index(b"\n", end) + 1]
    snap = go_debug1.parse(cut, "p")
    # The record counts add up to the total; only the missing blank line tells the cut.
    assert snap.total == 306
    assert snap.truncated
    assert snap.tasks[-1].flags == ("partial",)
    assert any("not closed by its blank line" in w for w in snap.warnings)


def test_only_goroutine_profiles_are_sniffed():
    assert go_debug1.sniff(b"goroutine profile: total 3\n")
    assert go_debug1.sniff(b"goroutineleak profile: total 3\r\n")
    assert not go_debug1.sniff(b"threadcreate profile: total 12\n")
    assert not go_debug1.sniff(b"goroutine profile: total " + b"9" * 30 + b"\n")
    source = detect((GO_DUMPS / "go1.19" / "t0.debug1.txt").read_bytes())
    assert source is not None and source.name == "go-goroutine-debug1"


def test_huge_numbers_are_not_records():
    dump = "goroutine profile: total 1\n" + "9" * 5000 + " @ 0x1\n#\t0x1\tmain.f+0x1\t/f.go:3\n\n"
    snap = profile(dump)
    assert snap.tasks == ()
    assert snap.skipped_lines == 2
