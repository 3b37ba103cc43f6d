"""The Go full-stack reader (go_text) on real dumps and on header forms no real file here shows.

Expected values come from the dumps themselves (grep and awk over each file), never from the
reader's own output.
"""

from __future__ import annotations

from collections import Counter

import pytest

from snapdiff.errors import InputError
from snapdiff.inputs import parse_bytes
from snapdiff.model import Frame, Snapshot, Task
from snapdiff.runtimes import detect
from snapdiff.runtimes.go import go_text
from tests.conftest import GO_DUMPS, upstream


def read(path) -> Snapshot:
    return parse_bytes(path.read_bytes(), str(path))


def text(dump: str) -> Snapshot:
    return go_text.parse(dump.encode(), "t.txt")


def by_id(snap: Snapshot) -> dict[int | None, Task]:
    return {t.id: t for t in snap.tasks}


# Per goroutine, in file order, from an awk pass over each file (the block's header, its
# function lines up to "created by" or "[originating from", and the line after "created by"):
# (id, state, wait minutes, flags from the header, (creator, last two path parts, line),
#  creator id, frame count, innermost function, outermost function)
CORPUS = {
    "gostackparse/ancestors.txt": [
        (1, "running", None, (), None, None, 2, "main.stackAll", "main.main"),
        (
            25,
            "chan receive",
            None,
            (),
            ("main.d1", "test-fixtures/ancestors.go", 69),
            None,
            2,
            "main.bar",
            "main.foo.func2",
        ),
        (
            29,
            "chan receive",
            None,
            (),
            ("main.d1", "test-fixtures/ancestors.go", 69),
            None,
            2,
            "main.bar",
            "main.foo.func2",
        ),
    ],
    "gostackparse/cgo.txt": [
        (1, "running", None, (), None, None, 4, "runtime/pprof.writeGoroutineStacks", "main.main"),
        (
            6,
            "syscall",
            None,
            (),
            ("main.main", "test-fixtures/cgo.go", 36),
            None,
            2,
            "main._Cfunc_c_sleep_loop",
            "main.cSleepLoop",
        ),
        (
            7,
            "sleep",
            None,
            ("locked-to-thread",),
            ("main.main", "test-fixtures/cgo.go", 37),
            None,
            5,
            "time.Sleep",
            "main.cGoSleepLoop",
        ),
    ],
    "gostackparse/frameselided.txt": [
        (
            1,
            "running",
            None,
            (),
            None,
            None,
            100,
            "runtime/pprof.writeGoroutineStacks",
            "main.stackDump",
        ),
    ],
    "gostackparse/frameselided_goroutine.txt": [
        (
            18,
            "running",
            None,
            (),
            ("main.main", "test-fixtures/frameselided_goroutine.go", 16),
            None,
            100,
            "runtime/pprof.writeGoroutineStacks",
            "main.stackDump",
        ),
        (1, "chan receive", None, (), None, None, 1, "main.main", "main.main"),
    ],
    "gostackparse/go121_createdby.txt": [
        (
            18,
            "running",
            None,
            (),
            ("main.main", "test-fixtures/go121_createdby.go", 14),
            1,
            2,
            "main.printStack",
            "main.main.func1",
        ),
        (1, "semacquire", None, (), None, None, 3, "sync.runtime_Semacquire", "main.main"),
    ],
    "gostackparse/lockedm.txt": [
        (
            7,
            "running",
            None,
            ("locked-to-thread",),
            ("testing.(*T).Run", "testing/testing.go", 1168),
            None,
            5,
            "testing.tRunner.func1.1",
            "testing.tRunner",
        ),
    ],
    "gostackparse/waitsince.txt": [
        (1, "running", None, (), None, None, 6, "runtime/pprof.writeGoroutineStacks", "main.main"),
        (
            22,
            "sleep",
            1,
            (),
            ("main.indirectShortSleepLoop2", "goroutine/main.go", 185),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            3,
            "IO wait",
            1,
            (),
            ("main.main", "goroutine/main.go", 121),
            None,
            11,
            "internal/poll.runtime_pollWait",
            "main.main.func1",
        ),
        (
            4,
            "sleep",
            1,
            (),
            ("main.main", "goroutine/main.go", 130),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            5,
            "sleep",
            1,
            (),
            ("main.main", "goroutine/main.go", 131),
            None,
            2,
            "time.Sleep",
            "main.sleepLoop",
        ),
        (
            6,
            "chan receive",
            1,
            (),
            ("main.main", "goroutine/main.go", 132),
            None,
            1,
            "main.chanReceiveForever",
            "main.chanReceiveForever",
        ),
        (
            24,
            "select",
            1,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1709),
            None,
            1,
            "net/http.(*persistConn).writeLoop",
            "net/http.(*persistConn).writeLoop",
        ),
        (
            23,
            "IO wait",
            1,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1708),
            None,
            10,
            "internal/poll.runtime_pollWait",
            "net/http.(*persistConn).readLoop",
        ),
        (
            41,
            "IO wait",
            1,
            (),
            ("net/http.(*Server).Serve", "http/server.go", 2969),
            None,
            15,
            "internal/poll.runtime_pollWait",
            "net/http.(*conn).serve",
        ),
    ],
    "gostackparse/windows.txt": [
        (
            1,
            "running",
            None,
            (),
            None,
            None,
            1,
            "runtime/pprof.writeGoroutineStacks",
            "runtime/pprof.writeGoroutineStacks",
        ),
    ],
    "goleak/http.go1.20.txt": [
        (1, "running", None, (), None, None, 2, "main.getStackBuffer", "main.main"),
        (
            20,
            "IO wait",
            None,
            (),
            ("main.start", "testdata/http.go", 27),
            None,
            9,
            "internal/poll.runtime_pollWait",
            "net/http.Serve",
        ),
        (
            24,
            "select",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1765),
            None,
            1,
            "net/http.(*persistConn).readLoop",
            "net/http.(*persistConn).readLoop",
        ),
        (
            25,
            "select",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1766),
            None,
            1,
            "net/http.(*persistConn).writeLoop",
            "net/http.(*persistConn).writeLoop",
        ),
        (
            4,
            "IO wait",
            None,
            (),
            ("net/http.(*Server).Serve", "http/server.go", 3089),
            None,
            10,
            "internal/poll.runtime_pollWait",
            "net/http.(*conn).serve",
        ),
    ],
    "goleak/http.tracebackancestors.txt": [
        (1, "running", None, (), None, None, 2, "main.getStackBuffer", "main.main"),
        (
            20,
            "IO wait",
            None,
            (),
            ("main.start", "testdata/http.go", 27),
            1,
            9,
            "internal/poll.runtime_pollWait",
            "net/http.Serve",
        ),
        (
            24,
            "select",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1776),
            21,
            1,
            "net/http.(*persistConn).readLoop",
            "net/http.(*persistConn).readLoop",
        ),
        (
            4,
            "IO wait",
            None,
            (),
            ("net/http.(*Server).Serve", "http/server.go", 3086),
            20,
            10,
            "internal/poll.runtime_pollWait",
            "net/http.(*conn).serve",
        ),
        (
            25,
            "select",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1777),
            21,
            1,
            "net/http.(*persistConn).writeLoop",
            "net/http.(*persistConn).writeLoop",
        ),
    ],
    "goleak/http.txt": [
        (1, "running", None, (), None, None, 2, "main.getStackBuffer", "main.main"),
        (
            4,
            "IO wait",
            None,
            (),
            ("main.start", "testdata/http.go", 27),
            1,
            9,
            "internal/poll.runtime_pollWait",
            "net/http.Serve",
        ),
        (
            20,
            "select",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1776),
            5,
            1,
            "net/http.(*persistConn).readLoop",
            "net/http.(*persistConn).readLoop",
        ),
        (
            21,
            "select",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1777),
            5,
            1,
            "net/http.(*persistConn).writeLoop",
            "net/http.(*persistConn).writeLoop",
        ),
        (
            8,
            "IO wait",
            None,
            (),
            ("net/http.(*Server).Serve", "http/server.go", 3086),
            4,
            10,
            "internal/poll.runtime_pollWait",
            "net/http.(*conn).serve",
        ),
    ],
    "go-profiler-notes/1.runtime.stack.txt": [
        (1, "running", None, (), None, None, 3, "main.glob..func1", "main.main"),
        (
            22,
            "sleep",
            None,
            (),
            ("main.indirectShortSleepLoop2", "goroutine/main.go", 185),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            3,
            "IO wait",
            None,
            (),
            ("main.main", "goroutine/main.go", 121),
            None,
            11,
            "internal/poll.runtime_pollWait",
            "main.main.func1",
        ),
        (
            4,
            "sleep",
            None,
            (),
            ("main.main", "goroutine/main.go", 130),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            5,
            "sleep",
            None,
            (),
            ("main.main", "goroutine/main.go", 131),
            None,
            2,
            "time.Sleep",
            "main.sleepLoop",
        ),
        (
            6,
            "chan receive",
            None,
            (),
            ("main.main", "goroutine/main.go", 132),
            None,
            1,
            "main.chanReceiveForever",
            "main.chanReceiveForever",
        ),
    ],
    "go-profiler-notes/2.runtime.stack.txt": [
        (1, "running", None, (), None, None, 3, "main.glob..func1", "main.main"),
        (
            22,
            "sleep",
            1,
            (),
            ("main.indirectShortSleepLoop2", "goroutine/main.go", 185),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            3,
            "IO wait",
            1,
            (),
            ("main.main", "goroutine/main.go", 121),
            None,
            11,
            "internal/poll.runtime_pollWait",
            "main.main.func1",
        ),
        (
            4,
            "sleep",
            1,
            (),
            ("main.main", "goroutine/main.go", 130),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            5,
            "sleep",
            1,
            (),
            ("main.main", "goroutine/main.go", 131),
            None,
            2,
            "time.Sleep",
            "main.sleepLoop",
        ),
        (
            6,
            "chan receive",
            1,
            (),
            ("main.main", "goroutine/main.go", 132),
            None,
            1,
            "main.chanReceiveForever",
            "main.chanReceiveForever",
        ),
        (
            24,
            "select",
            1,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1709),
            None,
            1,
            "net/http.(*persistConn).writeLoop",
            "net/http.(*persistConn).writeLoop",
        ),
        (
            23,
            "IO wait",
            1,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1708),
            None,
            10,
            "internal/poll.runtime_pollWait",
            "net/http.(*persistConn).readLoop",
        ),
        (
            41,
            "IO wait",
            1,
            (),
            ("net/http.(*Server).Serve", "http/server.go", 2969),
            None,
            15,
            "internal/poll.runtime_pollWait",
            "net/http.(*conn).serve",
        ),
    ],
    "go-profiler-notes/1.net.http.pprof.goroutine.debug2.txt": [
        (
            41,
            "running",
            None,
            (),
            ("net/http.(*Server).Serve", "http/server.go", 2969),
            None,
            9,
            "runtime/pprof.writeGoroutineStacks",
            "net/http.(*conn).serve",
        ),
        (1, "select", None, (), None, None, 13, "net/http.(*persistConn).roundTrip", "main.main"),
        (
            22,
            "sleep",
            None,
            (),
            ("main.indirectShortSleepLoop2", "goroutine/main.go", 185),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            3,
            "IO wait",
            None,
            (),
            ("main.main", "goroutine/main.go", 121),
            None,
            11,
            "internal/poll.runtime_pollWait",
            "main.main.func1",
        ),
        (
            4,
            "sleep",
            None,
            (),
            ("main.main", "goroutine/main.go", 130),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            5,
            "sleep",
            None,
            (),
            ("main.main", "goroutine/main.go", 131),
            None,
            2,
            "time.Sleep",
            "main.sleepLoop",
        ),
        (
            6,
            "chan receive",
            None,
            (),
            ("main.main", "goroutine/main.go", 132),
            None,
            1,
            "main.chanReceiveForever",
            "main.chanReceiveForever",
        ),
        (
            24,
            "select",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1709),
            None,
            1,
            "net/http.(*persistConn).writeLoop",
            "net/http.(*persistConn).writeLoop",
        ),
        (
            23,
            "IO wait",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1708),
            None,
            10,
            "internal/poll.runtime_pollWait",
            "net/http.(*persistConn).readLoop",
        ),
        (
            67,
            "IO wait",
            None,
            (),
            ("net/http.(*connReader).startBackgroundRead", "http/server.go", 686),
            None,
            7,
            "internal/poll.runtime_pollWait",
            "net/http.(*connReader).backgroundRead",
        ),
    ],
    "go-profiler-notes/1.pprof.lookup.goroutine.debug2.txt": [
        (1, "running", None, (), None, None, 6, "runtime/pprof.writeGoroutineStacks", "main.main"),
        (
            22,
            "sleep",
            None,
            (),
            ("main.indirectShortSleepLoop2", "goroutine/main.go", 185),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            3,
            "IO wait",
            None,
            (),
            ("main.main", "goroutine/main.go", 121),
            None,
            11,
            "internal/poll.runtime_pollWait",
            "main.main.func1",
        ),
        (
            4,
            "sleep",
            None,
            (),
            ("main.main", "goroutine/main.go", 130),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            5,
            "sleep",
            None,
            (),
            ("main.main", "goroutine/main.go", 131),
            None,
            2,
            "time.Sleep",
            "main.sleepLoop",
        ),
        (
            6,
            "chan receive",
            None,
            (),
            ("main.main", "goroutine/main.go", 132),
            None,
            1,
            "main.chanReceiveForever",
            "main.chanReceiveForever",
        ),
    ],
    "go-profiler-notes/2.net.http.pprof.goroutine.debug2.txt": [
        (
            41,
            "running",
            None,
            (),
            ("net/http.(*Server).Serve", "http/server.go", 2969),
            None,
            9,
            "runtime/pprof.writeGoroutineStacks",
            "net/http.(*conn).serve",
        ),
        (1, "select", None, (), None, None, 13, "net/http.(*persistConn).roundTrip", "main.main"),
        (
            22,
            "sleep",
            1,
            (),
            ("main.indirectShortSleepLoop2", "goroutine/main.go", 185),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            3,
            "IO wait",
            1,
            (),
            ("main.main", "goroutine/main.go", 121),
            None,
            11,
            "internal/poll.runtime_pollWait",
            "main.main.func1",
        ),
        (
            4,
            "sleep",
            1,
            (),
            ("main.main", "goroutine/main.go", 130),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            5,
            "sleep",
            1,
            (),
            ("main.main", "goroutine/main.go", 131),
            None,
            2,
            "time.Sleep",
            "main.sleepLoop",
        ),
        (
            6,
            "chan receive",
            1,
            (),
            ("main.main", "goroutine/main.go", 132),
            None,
            1,
            "main.chanReceiveForever",
            "main.chanReceiveForever",
        ),
        (
            24,
            "select",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1709),
            None,
            1,
            "net/http.(*persistConn).writeLoop",
            "net/http.(*persistConn).writeLoop",
        ),
        (
            23,
            "IO wait",
            None,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1708),
            None,
            10,
            "internal/poll.runtime_pollWait",
            "net/http.(*persistConn).readLoop",
        ),
        (
            54,
            "IO wait",
            None,
            (),
            ("net/http.(*connReader).startBackgroundRead", "http/server.go", 686),
            None,
            7,
            "internal/poll.runtime_pollWait",
            "net/http.(*connReader).backgroundRead",
        ),
    ],
    "go-profiler-notes/2.pprof.lookup.goroutine.debug2.txt": [
        (1, "running", None, (), None, None, 6, "runtime/pprof.writeGoroutineStacks", "main.main"),
        (
            22,
            "sleep",
            1,
            (),
            ("main.indirectShortSleepLoop2", "goroutine/main.go", 185),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            3,
            "IO wait",
            1,
            (),
            ("main.main", "goroutine/main.go", 121),
            None,
            11,
            "internal/poll.runtime_pollWait",
            "main.main.func1",
        ),
        (
            4,
            "sleep",
            1,
            (),
            ("main.main", "goroutine/main.go", 130),
            None,
            2,
            "time.Sleep",
            "main.shortSleepLoop",
        ),
        (
            5,
            "sleep",
            1,
            (),
            ("main.main", "goroutine/main.go", 131),
            None,
            2,
            "time.Sleep",
            "main.sleepLoop",
        ),
        (
            6,
            "chan receive",
            1,
            (),
            ("main.main", "goroutine/main.go", 132),
            None,
            1,
            "main.chanReceiveForever",
            "main.chanReceiveForever",
        ),
        (
            24,
            "select",
            1,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1709),
            None,
            1,
            "net/http.(*persistConn).writeLoop",
            "net/http.(*persistConn).writeLoop",
        ),
        (
            23,
            "IO wait",
            1,
            (),
            ("net/http.(*Transport).dialConn", "http/transport.go", 1708),
            None,
            10,
            "internal/poll.runtime_pollWait",
            "net/http.(*persistConn).readLoop",
        ),
        (
            41,
            "IO wait",
            1,
            (),
            ("net/http.(*Server).Serve", "http/server.go", 2969),
            None,
            15,
            "internal/poll.runtime_pollWait",
            "net/http.(*conn).serve",
        ),
    ],
}
# Flags beyond those of the header, per file and goroutine id.
EXTRA_FLAGS = {
    "gostackparse/frameselided.txt": {1: ("frames-elided",)},
    "gostackparse/frameselided_goroutine.txt": {18: ("frames-elided",)},
    # One frame of goroutine 1 and no main.main: an excerpt, read as cut at a line end.
    "gostackparse/windows.txt": {1: ("partial",)},
}
UPSTREAM_PATHS = {
    # One exact frame per producer, full path included.
    "gostackparse/windows.txt": (
        1,
        0,
        Frame("runtime/pprof.writeGoroutineStacks", "C:/Users/felixge/pprof.go", 693),
    ),
    "gostackparse/cgo.txt": (6, 0, Frame("main._Cfunc_c_sleep_loop", "_cgo_gotypes.go", 56)),
    "gostackparse/lockedm.txt": (
        7,
        2,
        Frame("panic", "/usr/local/Cellar/go/1.15.6/libexec/src/runtime/panic.go", 969),
    ),
    "gostackparse/go121_createdby.txt": (
        1,
        0,
        Frame("sync.runtime_Semacquire", "/Users/nick.ripley/repos/go/src/runtime/sema.go", 62),
    ),
    "goleak/http.txt": (
        8,
        9,
        Frame("net/http.(*conn).serve", "/usr/lib/go/src/net/http/server.go", 2044),
    ),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_upstream_goroutines(name):
    snap = read(upstream(name))
    assert snap.source.format == "go-goroutine-text"
    expected = CORPUS[name]
    assert [t.id for t in snap.tasks] == [row[0] for row in expected]
    extra = EXTRA_FLAGS.get(name, {})
    for gid, state, wait, flags, creator, creator_id, n_frames, leaf, entry in expected:
        task = by_id(snap)[gid]
        assert (task.state, task.wait_minutes) == (state, wait), gid
        assert task.flags == flags + extra.get(gid, ()), gid
        if creator is None:
            assert task.created_by is None, gid
        else:
            function, path_end, line = creator
            assert task.created_by is not None
            assert task.created_by.function == function
            assert task.created_by.file.endswith(path_end)
            assert task.created_by.line == line
        assert task.creator_id == creator_id, gid
        assert len(task.frames) == n_frames, gid
        assert task.frames[0].function == leaf
        assert task.frames[-1].function == entry
        assert task.labels == ()
    # go121_createdby.txt's last line has no newline, but it is a whole "created by" location:
    # no cut (a missing final newline is no evidence of one).
    cut = ("gostackparse/windows.txt",)
    assert snap.truncated == (name in cut)
    assert snap.skipped_lines == 0


@pytest.mark.parametrize("name", sorted(UPSTREAM_PATHS))
def test_upstream_exact_frames(name):
    gid, index, frame = UPSTREAM_PATHS[name]
    assert by_id(read(upstream(name)))[gid].frames[index] == frame


def test_inlined_frame_without_offset():
    # cgo.txt: "main.goSleep(...)" and a file line with no "+0x..".
    task = by_id(read(upstream("gostackparse/cgo.txt")))[7]
    assert task.frames[1].function == "main.goSleep"
    assert task.frames[1].line == 53
    assert task.frames[1].file.endswith("/test-fixtures/cgo.go")


def test_ancestors_are_dropped():
    snap = read(upstream("gostackparse/ancestors.txt"))
    # Goroutine 25 has 10 "[originating from goroutine N]" blocks of its own; none of their
    # frames or "created by main.d1" lines are this goroutine's.
    assert "tracebackancestors" in snap.source.detail
    functions = {f.function for t in snap.tasks for f in t.frames}
    assert "main.d1" not in functions


def test_goleak_ancestors_keep_the_first_creator():
    snap = read(upstream("goleak/http.tracebackancestors.txt"))
    task = by_id(snap)[24]
    # "created by net/http.(*Transport).dialConn in goroutine 21", then an ancestor's
    # "created by net/http.(*Transport).queueForDial".
    assert task.created_by == Frame(
        "net/http.(*Transport).dialConn", "/usr/lib/go/src/net/http/transport.go", 1776
    )
    assert task.creator_id == 21
    assert [f.function for f in task.frames] == ["net/http.(*persistConn).readLoop"]


def test_go120_has_no_creator_ids():
    snap = read(upstream("goleak/http.go1.20.txt"))
    assert all(t.creator_id is None for t in snap.tasks)
    assert "Go >= 1.21" not in snap.source.detail
    assert "Go >= 1.21" in read(upstream("goleak/http.txt")).source.detail


def test_empty_input_is_an_input_error():
    path = upstream("gostackparse/empty_input.txt")
    with pytest.raises(InputError, match="empty input"):
        read(path)


def test_empty_stack():
    snap = read(upstream("gostackparse/empty_stack.txt"))
    assert [(t.id, t.frames, t.flags) for t in snap.tasks] == [
        (1, (), ("no-stack",)),  # a whole block with no frame lines
        (2, (), ("partial",)),  # the header is the file's last line: nothing after it
    ]
    assert snap.truncated


def test_errorhandling_keeps_goroutines_and_names_the_line():
    path = upstream("gostackparse/errorhandling.txt")
    snap = read(path)
    tasks = by_id(snap)
    assert list(tasks) == [1, 2, 3]
    assert tasks[2].frames == ()
    assert tasks[2].flags == ("partial",)
    assert tasks[1].frames == (Frame("main.main", "/example/main.go", 152),)
    assert tasks[3].frames == (Frame("main.foo", "/example/main.go", 182),)
    assert tasks[3].created_by == Frame("main.main", "/example/main.go", 110)
    assert tasks[1].flags == tasks[3].flags == ()
    assert (
        f"{path}:6: not a stack frame, goroutine 2 kept with the frames before it: 'main.main)('"
        in snap.warnings
    )
    assert not snap.truncated


def test_partial_created_by():
    path = upstream("gostackparse/partial_createdby.txt")
    snap = read(path)
    tasks = by_id(snap)
    assert tasks[1].frames == (Frame("main.foo", "/example/main.go", 182),)
    assert tasks[1].created_by == Frame("main.main")
    assert tasks[2].frames == (Frame("main.foo", "/example/main.go", 183),)
    assert tasks[2].created_by == Frame("main.foo")
    assert tasks[1].flags == tasks[2].flags == ("partial",)
    assert snap.truncated
    assert any(
        "2 goroutine block(s) cut short (line 1: goroutine 1, line 6: goroutine 2)" in w
        for w in snap.warnings
    )


def test_partial_stack():
    snap = read(upstream("gostackparse/partial_stack.txt"))
    assert [(t.id, t.frames, t.flags) for t in snap.tasks] == [
        (1, (Frame("main.main"),), ("partial",)),
        (2, (Frame("main.main"),), ("partial",)),
    ]
    assert snap.truncated
    assert any("line 1: goroutine 1, line 4: goroutine 2" in w for w in snap.warnings)


def test_profiler_notes_pair_shares_ids():
    one = read(upstream("go-profiler-notes/1.runtime.stack.txt"))
    two = read(upstream("go-profiler-notes/2.runtime.stack.txt"))
    assert {t.id for t in one.tasks} <= {t.id for t in two.tasks}


# --- the project's own service (samples/go) -------------------------------------------------

FETCH = (("handler", "/api/v1/items"), ("tenant", "acme"))
POOL = (("pool", "workers"),)

# From grep/awk over each file: goroutine count, states, goroutines waiting "1 minutes",
# creators, creator ids ("in goroutine N"), header labels, leaked.
SAMPLES = {
    "go1.19/t0.debug2.txt": (
        42,
        {
            "chan send": 21,
            "chan receive": 12,
            "sleep": 5,
            "IO wait": 2,
            "running": 1,
            "runnable": 1,
        },
        0,
        {"main.fetchAll": 21, "main.startPool": 8, "main.churnLoop": 5, "main.main": 4},
        {None: 42},
        {(): 42},
        0,
    ),
    "go1.19/t1.debug2.txt": (
        323,
        {
            "chan send": 292,
            "sleep": 15,
            "chan receive": 12,
            "select": 1,
            "running": 1,
            "runnable": 1,
            "IO wait": 1,
        },
        67,
        {"main.fetchAll": 294, "main.churnLoop": 13, "main.startPool": 8, "main.main": 4},
        {None: 323},
        {(): 323},
        0,
    ),
    "go1.27/t0.debug2.txt": (
        36,
        {"chan send": 18, "chan receive": 13, "sleep": 2, "IO wait": 2, "running": 1},
        0,
        {"main.fetchAll": 18, "main.startPool": 8, "main.main": 4, "main.churnLoop": 2},
        {30: 18, 1: 14, 29: 2, 1644: 1, None: 1},
        {FETCH: 19, POOL: 8, (): 9},
        0,
    ),
    "go1.27/t1.debug2.txt": (
        308,
        {"chan send": 278, "sleep": 14, "chan receive": 13, "IO wait": 2, "running": 1},
        59,
        {"main.fetchAll": 279, "main.churnLoop": 13, "main.startPool": 8, "main.main": 4},
        {30: 279, 1: 14, 29: 13, 23204: 1, None: 1},
        {FETCH: 280, POOL: 8, (): 20},
        0,
    ),
    "go1.27/t1.goroutineleak.debug2.txt": (
        302,
        {"chan send": 279, "chan receive": 13, "sleep": 7, "IO wait": 2, "running": 1},
        3,
        {"main.fetchAll": 279, "main.startPool": 8, "main.churnLoop": 7, "main.main": 4},
        {30: 279, 1: 14, 29: 7, 23214: 1, None: 1},
        {FETCH: 280, POOL: 8, (): 14},
        279,
    ),
    "go1.19/sigquit.txt": (
        317,
        {
            "chan send": 289,
            "chan receive": 13,
            "sleep": 8,
            "GC worker (idle)": 2,
            "force gc (idle)": 1,
            "finalizer wait": 1,
            "IO wait": 1,
            "GC sweep wait": 1,
            "GC scavenge wait": 1,
        },
        63,
        {
            "main.fetchAll": 289,
            "main.startPool": 8,
            "main.churnLoop": 8,
            "main.main": 4,
            "runtime.gcenable": 2,
            "runtime.gcBgMarkStartWorkers": 2,
        },
        {None: 317},
        {(): 317},
        0,
    ),
    "go1.27/sigquit.txt": (
        313,
        {
            "chan send": 284,
            "chan receive": 13,
            "sleep": 8,
            "GC worker (idle)": 2,
            "force gc (idle)": 1,
            "finalizer wait": 1,
            "cleanup wait": 1,
            "IO wait": 1,
            "GC sweep wait": 1,
            "GC scavenge wait": 1,
        },
        69,
        {
            "main.fetchAll": 284,
            "main.startPool": 8,
            "main.churnLoop": 8,
            "main.main": 4,
            "runtime.gcenable": 2,
            "runtime.gcBgMarkStartWorkers": 2,
        },
        {18: 284, 1: 18, 17: 8, 235: 2, None: 1},
        {FETCH: 285, POOL: 8, (): 20},
        0,
    ),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_dump(name):
    n, states, waiting, creators, creator_ids, labels, leaked = SAMPLES[name]
    snap = read(GO_DUMPS / name)
    assert snap.source.format == "go-goroutine-text"
    assert len(snap.tasks) == len({t.id for t in snap.tasks}) == n
    assert 0 not in {t.id for t in snap.tasks}  # goroutine 0 (SIGQUIT) is an M's g0
    assert Counter(t.state for t in snap.tasks) == states
    assert sum(t.wait_minutes == 1 for t in snap.tasks) == waiting
    assert {t.wait_minutes for t in snap.tasks} <= {None, 1}
    made_by = Counter(t.created_by.function for t in snap.tasks if t.created_by)
    assert {k: made_by[k] for k in creators} == creators
    assert sum(t.created_by is None for t in snap.tasks) == 1  # goroutine 1
    assert by_id(snap)[1].created_by is None
    assert Counter(t.creator_id for t in snap.tasks) == creator_ids
    assert Counter(t.labels for t in snap.tasks) == labels
    assert sum("leaked" in t.flags for t in snap.tasks) == leaked
    others = {f for t in snap.tasks for f in t.flags} - {"leaked"}
    assert others == set()
    assert not snap.truncated
    assert snap.warnings == ()
    # Preamble and register dump of SIGQUIT output: 18 log lines, "SIGQUIT: quit", "PC=...",
    # 21 register lines.
    assert snap.skipped_lines == (41 if "sigquit" in name else 0)


@pytest.mark.parametrize("version", ["go1.19", "go1.27"])
def test_sample_entries_and_leaves(version):
    # awk over t1.debug2.txt: innermost and outermost function of every goroutine.
    snap = read(GO_DUMPS / version / "t1.debug2.txt")
    leaves = Counter(t.frames[0].function for t in snap.tasks)
    entries = Counter(t.frames[-1].function for t in snap.tasks)
    if version == "go1.19":
        assert leaves["main.fetchOne"] == 292 and leaves["time.Sleep"] == 15
        assert entries["main.fetchOne"] == 294 and entries["main.handleShort"] == 13
    else:
        assert leaves["main.fetchOne"] == 278 and leaves["time.Sleep"] == 14
        assert entries["main.fetchOne"] == 279 and entries["main.handleShort"] == 13
    assert leaves["main.worker"] == entries["main.worker"] == 8


def test_sigquit_goroutine_with_system_frames():
    snap = read(GO_DUMPS / "go1.27" / "sigquit.txt")
    assert snap.source.detail == "Go >= 1.21, labels in headers, GOTRACEBACK=system headers"
    task = by_id(snap)[1833]
    # goroutine 1833 gp=0x326af13f94a0 m=nil [chan send, 1 minutes] {handler: ..., tenant: acme}:
    assert (task.state, task.wait_minutes, task.labels, task.flags) == ("chan send", 1, FETCH, ())
    assert task.frames == (
        Frame("runtime.gopark", "runtime/proc.go", 474),
        Frame("runtime.chansend", "runtime/chan.go", 283),
        Frame("runtime.chansend1", "runtime/chan.go", 161),
        Frame("main.fetchOne", "snapdiff.example/leaky/fanout.go", 53),
        Frame("main.fetchAll.gowrap1", "snapdiff.example/leaky/fanout.go", 33),
        Frame("runtime.goexit", "runtime/asm_amd64.s", 1264),
    )
    assert task.created_by == Frame("main.fetchAll", "snapdiff.example/leaky/fanout.go", 33)
    assert task.creator_id == 18


def test_leaked_goroutine_loses_its_wait():
    plain = by_id(read(GO_DUMPS / "go1.27" / "t1.debug2.txt"))[4767]
    leaked = by_id(read(GO_DUMPS / "go1.27" / "t1.goroutineleak.debug2.txt"))[4767]
    assert (plain.state, plain.wait_minutes, plain.flags) == ("chan send", 1, ())
    assert (leaked.state, leaked.wait_minutes, leaked.flags) == ("chan send", None, ("leaked",))
    assert (
        plain.frames
        == leaked.frames
        == (Frame("main.fetchOne", "snapdiff.example/leaky/fanout.go", 53),)
    )
    assert plain.created_by == Frame("main.fetchAll", "snapdiff.example/leaky/fanout.go", 33)
    assert plain.labels == leaked.labels == FETCH


# --- header and block forms Go prints that no real file here shows --------------------------
# Each is written by hand from runtime/traceback.go (goroutineheader, traceback1,
# printcreatedby1, printAncestorTraceback, tracebackothers) of Go 1.27.

BODY = (
    "main.f()\n\t/src/main.go:10 +0x1d\n"
    "created by main.main in goroutine 1\n\t/src/main.go:5 +0x2a\n"
)


@pytest.mark.parametrize(
    ("status", "state", "wait", "flags"),
    [
        # The GC's scan bit is set while a goroutine's stack is being scanned.
        ("chan receive (scan)", "chan receive", None, ("scan",)),
        ("select (leaked) (scan)", "select", None, ("leaked", "scan")),
        # testing/synctest: wait reasons named "(durable)" and the bubble id.
        (
            "chan receive (durable), synctest bubble 3",
            "chan receive",
            None,
            ("durable", "synctest-bubble-3"),
        ),
        (
            "sleep (durable), 2 minutes, synctest bubble 12",
            "sleep",
            2,
            ("durable", "synctest-bubble-12"),
        ),
        ("chan send, 1440 minutes, locked to thread", "chan send", 1440, ("locked-to-thread",)),
        ("syscall, 3 minutes", "syscall", 3, ()),
        # A part Go may add one day: kept as a flag, never dropped.
        ("select, something new", "select", None, ("something new",)),
        ("???", "???", None, ()),
    ],
)
def test_header_status(status, state, wait, flags):
    task = text(f"goroutine 7 [{status}]:\n{BODY}").tasks[0]
    assert (task.state, task.wait_minutes, task.flags) == (state, wait, flags)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ("{handler: /api/v1/items, tenant: acme}", FETCH),
        # tracebackStringNeedsQuoting: anything but [A-Za-z0-9./_] is quoted by printquoted.
        ('{"a b": "x\\"y"}', (("a b", 'x"y'),)),
        ('{k: "a, b: c}] d"}', (("k", "a, b: c}] d"),)),
        ('{"tab\\there": "\\u00e9\\U0001f600\\x07\\\\"}', (("tab\there", "é😀\x07\\"),)),
        # An invalid UTF-8 byte is printed as \xNN.
        ('{k: "a\\xffb"}', (("k", "a\ufffdb"),)),
        # The empty string needs no quotes: "k: " and ": v".
        ("{k: , : v}", (("k", ""), ("", "v"))),
        ("{k: }", (("k", ""),)),
    ],
)
def test_header_labels(labels, expected):
    task = text(f"goroutine 9 [select] {labels}:\n{BODY}").tasks[0]
    assert task.labels == expected
    assert task.state == "select"
    assert task.created_by == Frame("main.main", "/src/main.go", 5)


def test_gp_m_mp_header():
    # A goroutine on an M under GOTRACEBACK=system prints its m id and address.
    dump = (
        "goroutine 9 gp=0xc0000061c0 m=3 mp=0xc000100008 [running]:\n"
        "main.f()\n\t/src/main.go:10 +0x1d fp=0xc000 sp=0xc000 pc=0x4a\n"
    )
    snap = text(dump)
    assert snap.tasks[0].frames == (Frame("main.f", "/src/main.go", 10),)
    assert "GOTRACEBACK=system headers" in snap.source.detail


def test_middle_elision_keeps_the_frames_after_it():
    # Go 1.23+: the first 50 frames, "...N frames elided...", then the last 50.
    dump = (
        "goroutine 3 [running]:\n"
        "main.a(...)\n\t/src/a.go:1\n"
        "...4 frames elided...\n"
        "main.z()\n\t/src/z.go:9 +0x10\n"
        "created by main.main in goroutine 1\n\t/src/main.go:5 +0x2a\n"
    )
    task = text(dump).tasks[0]
    assert [f.function for f in task.frames] == ["main.a", "main.z"]
    assert task.flags == ("frames-elided",)
    assert task.created_by == Frame("main.main", "/src/main.go", 5)


def test_ancestor_elision_is_not_this_goroutines():
    dump = (
        "goroutine 3 [select]:\nmain.a()\n\t/src/a.go:1 +0x1\n"
        "created by main.b in goroutine 2\n\t/src/b.go:2 +0x1\n"
        "[originating from goroutine 2]:\nmain.b(...)\n\t/src/b.go:3 +0x1\n"
        "...additional frames elided...\n"
        "created by main.main\n\t/src/main.go:4 +0x1\n"
    )
    task = text(dump).tasks[0]
    assert task.flags == ()
    assert task.frames == (Frame("main.a", "/src/a.go", 1),)
    assert (task.created_by, task.creator_id) == (Frame("main.b", "/src/b.go", 2), 2)


def test_stack_unavailable():
    # tracebackothers, for a goroutine running on another M during a SIGQUIT.
    dump = (
        "goroutine 1 [running]:\nmain.main()\n\t/src/main.go:3 +0x1\n\n"
        "goroutine 21 [running]:\n"
        "\tgoroutine running on other thread; stack unavailable\n"
        "created by main.main in goroutine 1\n\t/src/main.go:9 +0x44\n"
    )
    snap = text(dump)
    task = by_id(snap)[21]
    assert task.frames == ()
    assert task.flags == ("no-stack",)
    assert task.created_by == Frame("main.main", "/src/main.go", 9)
    assert not snap.truncated and snap.warnings == ()


def test_panic_output():
    # What "go run" prints for a panic that was recovered and raised again.
    dump = (
        "panic: boom [recovered]\n\tpanic: boom\n\n"
        "goroutine 1 [running]:\n"
        "main.main.func1()\n\t/tmp/p/main.go:8 +0x5d\n"
        "panic({0x4a2f20?, 0x4e1b48?})\n\t/usr/lib/go/src/runtime/panic.go:785 +0x132\n"
        "main.main()\n\t/tmp/p/main.go:11 +0x4e\n"
        "exit status 2\n"
    )
    snap = parse_bytes(dump.encode(), "panic.txt")
    (task,) = snap.tasks
    assert [f.function for f in task.frames] == ["main.main.func1", "panic", "main.main"]
    assert task.flags == ()
    assert snap.skipped_lines == 3  # the two panic lines and "exit status 2"
    assert not snap.truncated and snap.warnings == ()


def test_cgo_frames():
    # traceback2 without a cgo symbolizer prints "non-Go function at pc=..."; with one, the
    # symbolizer's function name then "\tfile:line pc=..." (or just "\tpc=...").
    dump = (
        "goroutine 5 [syscall]:\n"
        "non-Go function at pc=0x7f12\n"
        "c_sleep\n\t/src/sleep.c:4 pc=0x7f34\n"
        "non-Go function\n\tpc=0x7f56\n"
        "main._Cfunc_c_sleep(0xf4240)\n\t_cgo_gotypes.go:56 +0x45\n"
        "created by main.main\n\t/src/main.go:36 +0x45\n"
    )
    snap = text(dump)
    assert snap.tasks[0].frames == (
        Frame("non-Go function"),
        Frame("c_sleep", "/src/sleep.c", 4),
        Frame("non-Go function"),
        Frame("main._Cfunc_c_sleep", "_cgo_gotypes.go", 56),
    )
    assert snap.warnings == ()


def test_duplicate_ids_keep_the_first():
    # Two dumps concatenated into one file.
    first = "goroutine 5 [chan send]:\nmain.a()\n\t/a.go:1 +0x1\ncreated by main.main\n\t/m.go:1\n"
    second = "goroutine 5 [select]:\nmain.b()\n\t/b.go:2 +0x1\ncreated by main.main\n\t/m.go:2\n"
    snap = text(first + "\n" + second)
    assert [(t.id, t.state) for t in snap.tasks] == [(5, "chan send")]
    assert any("1 goroutine id(s) appear more than once" in w for w in snap.warnings)


def test_goroutine_zero_is_skipped():
    dump = "goroutine 0 gp=0xa m=0 mp=0xb [idle]:\nruntime.futex()\n\tx.s:1 +0x1\n\n" + (
        "goroutine 1 [running]:\nmain.main()\n\t/m.go:1 +0x1\n"
    )
    snap = text(dump)
    assert [t.id for t in snap.tasks] == [1]
    assert snap.skipped_lines == 0


def test_block_without_blank_line_between():
    # Some tools strip blank lines; a header still starts a new goroutine.
    dump = (
        "goroutine 1 [running]:\nmain.main()\n\t/m.go:1 +0x1\n"
        "goroutine 2 [select]:\nmain.f()\n\t/f.go:2 +0x1\ncreated by main.main\n\t/m.go:3 +0x1\n"
    )
    assert [(t.id, len(t.frames)) for t in text(dump).tasks] == [(1, 1), (2, 1)]


@pytest.mark.parametrize(
    "header",
    [
        "goroutine 99999999999999999999999 [running]:",  # over 20 digits: not an id Go prints
        "goroutine 1 [running]",  # no colon
        "goroutine x [running]:",
        "goroutine ² [running]:",
    ],
)
def test_not_headers(header):
    assert go_text.parse(f"{header}\n{BODY}".encode(), "t.txt").tasks == ()


def test_numbers_that_are_not_ascii_are_not_numbers():
    # int() accepts "²" in no form and "٣" as 3: neither is something Go prints.
    dump = "goroutine 1 [chan send, ² minutes]:\nmain.main()\n\t/f.go:٣ +0x1\n"
    task = text(dump).tasks[0]
    assert task.wait_minutes is None
    assert task.flags == ("² minutes",)
    assert task.frames == (Frame("main.main", "/f.go:٣", 0),)


def test_detect_picks_the_full_stack_reader():
    data = (GO_DUMPS / "go1.27" / "sigquit.txt").read_bytes()
    source = detect(data[: 256 * 1024])
    assert source is not None and source.name == "go-goroutine-text"
