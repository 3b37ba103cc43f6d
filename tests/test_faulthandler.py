"""The faulthandler reader on real dumps of samples/python/leaky_threads.py (3.9 to 3.13).

The dumps come from samples/regen-pyfmt.sh: SIGUSR1 at about 3 s (t0) and 25 s (t1), SIGABRT
at the end (fatal.txt), the whole stderr with the service's log lines (stderr.log.gz), and a
run past 100 threads (cut.txt). The counts below were taken from the raw files with grep
(``grep -c 'in _worker$' t1.txt``, ``grep -c '^\\(Current t\\|T\\)hread 0x' t1.txt``, ...).
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapdiff.diff import diff
from snapdiff.errors import InputError
from snapdiff.group import name_pattern, site_key
from snapdiff.inputs import load, parse_bytes
from snapdiff.model import FLAG_ELIDED, FLAG_NO_STACK, FLAG_PARTIAL, Snapshot
from snapdiff.runtimes import SOURCES, detect
from snapdiff.runtimes.python import RUNTIME as PY
from snapdiff.runtimes.python import faulthandler_text
from tests.conftest import GO_DUMPS, PY_DUMPS

py_site = partial(site_key, rt=PY)

FH = PY_DUMPS / "faulthandler"
VERSIONS = ("py3.9", "py3.11", "py3.12", "py3.13")
# (threads, _worker, short_task) per file; every file also has 4 pool_worker threads and one
# each of watch_config, request_loop, churn_loop, feed_loop and <module> (the main thread).
COUNTS = {
    ("py3.9", "t0.txt"): (21, 10, 2),
    ("py3.9", "t1.txt"): (72, 60, 3),
    ("py3.9", "fatal.txt"): (72, 60, 3),
    ("py3.11", "t0.txt"): (21, 10, 2),
    ("py3.11", "t1.txt"): (74, 60, 5),
    ("py3.11", "fatal.txt"): (71, 60, 2),
    ("py3.12", "t0.txt"): (22, 10, 3),
    ("py3.12", "t1.txt"): (72, 60, 3),
    ("py3.12", "fatal.txt"): (73, 60, 4),
    ("py3.13", "t0.txt"): (21, 10, 2),
    ("py3.13", "t1.txt"): (72, 60, 3),
    ("py3.13", "fatal.txt"): (72, 60, 3),
}
FILES = sorted(COUNTS)
ALL_PATHS = [FH / v / n for v, n in FILES] + [FH / "py3.13" / "cut.txt"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_RAW_HEADER = re.compile(r"^(Current thread|Thread) 0x([0-9a-f]+) \(most recent call first\):$")


def read(version: str, name: str) -> Snapshot:
    return load(str(FH / version / name))


def sites(snap: Snapshot) -> Counter[str]:
    return Counter(site_key(t, PY).function for t in snap.tasks)


def expected(version: str, name: str) -> Counter[str]:
    _, workers, short = COUNTS[(version, name)]
    return Counter(
        {
            "_worker": workers,
            "short_task": short,
            "pool_worker": 4,
            "watch_config": 1,
            "request_loop": 1,
            "churn_loop": 1,
            "feed_loop": 1,
            "<module>": 1,
        }
    )


def raw_headers(path: Path) -> list[tuple[bool, int]]:
    """(is current, id) of every thread header, read with the standard library."""
    out = []
    for line in path.read_text(encoding="ascii").splitlines():
        m = _RAW_HEADER.match(line)
        if m:
            out.append((m.group(1) == "Current thread", int(m.group(2), 16)))
    return out


# --- counts and fields -------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "name"), FILES, ids=lambda x: str(x))
def test_thread_counts_per_target(version, name):
    snap = read(version, name)
    assert snap.source.format == "faulthandler-text"
    assert snap.total == COUNTS[(version, name)][0]
    assert sites(snap) == expected(version, name)
    assert not snap.truncated
    assert snap.warnings == ()


@pytest.mark.parametrize(("version", "name"), FILES, ids=lambda x: str(x))
def test_ids_and_the_current_thread_match_the_raw_headers(version, name):
    snap = read(version, name)
    raw = raw_headers(FH / version / name)
    assert [t.id for t in snap.tasks] == [tid for _, tid in raw]
    assert len({t.id for t in snap.tasks}) == len(snap.tasks)
    current = [t for t in snap.tasks if t.state == "current"]
    assert [t.id for t in current] == [tid for is_cur, tid in raw if is_cur]
    # The signal and the abort were handled by the main thread, in main().
    assert len(current) == 1
    assert current[0].frames[-1].function == "<module>"
    assert all(t.name == "" for t in snap.tasks)  # faulthandler names no thread before 3.14


@pytest.mark.parametrize("version", VERSIONS)
def test_frames_are_innermost_first_with_paths_and_lines(version):
    snap = read(version, "t1.txt")
    pool = [t for t in snap.tasks if site_key(t, PY).function == "pool_worker"]
    assert len(pool) == 4
    for task in pool:
        functions = [f.function for f in task.frames]
        assert functions[:3] == ["wait", "get", "pool_worker"]
        assert functions[-1] == "_bootstrap"
        assert task.frames[1].file.endswith("/queue.py")
        assert task.frames[2].file.endswith("/leaky_threads.py")
        assert all(f.line > 0 for f in task.frames)


def test_sigusr1_dump_among_log_lines_skips_them():
    # t1.txt is what stderr grew by after SIGUSR1: the dump and the service's next log line.
    path = FH / "py3.12" / "t1.txt"
    logs = [ln for ln in path.read_text().splitlines() if " INFO leaky: " in ln]
    snap = read("py3.12", "t1.txt")
    assert snap.skipped_lines == len(logs) == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_fatal_error_header_is_reported(version):
    snap = read(version, "fatal.txt")
    assert "Fatal Python error: Aborted" in snap.source.detail
    assert snap.skipped_lines == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_stderr_log_with_three_dumps_reads_the_last_and_says_so(version):
    path = FH / version / "stderr.log.gz"
    text = gzip.decompress(path.read_bytes()).decode()
    lines = text.splitlines()
    fatal_line = next(i for i, ln in enumerate(lines, 1) if ln.startswith("Fatal Python error"))
    snap = load(str(path))
    fatal = read(version, "fatal.txt")
    assert [(t.id, t.frames) for t in snap.tasks] == [(t.id, t.frames) for t in fatal.tasks]
    assert len(snap.warnings) == 1
    warning = snap.warnings[0]
    assert "3 faulthandler dumps in one file" in warning
    assert f"read the last, lines {fatal_line}-" in warning
    assert "--dump N" in warning
    # The first dump starts on the first thread header; the log lines are skipped.
    first = next(i for i, ln in enumerate(lines, 1) if ln.startswith("Thread 0x"))
    assert f"starting on lines {first}, " in warning
    # The log lines skipped are those of the dump read (the last one's part of the file).
    assert snap.skipped_lines == sum(" INFO leaky: " in ln for ln in lines[fatal_line - 1 :])


def test_more_than_100_threads_warns_that_the_rest_are_missing():
    path = FH / "py3.13" / "cut.txt"
    assert path.read_text().rstrip("\n").endswith("\n...")
    snap = load(str(path))
    assert snap.total == 100
    assert sites(snap) == Counter({"_worker": 96, "short_task": 4})
    assert any("at most 100 threads" in w for w in snap.warnings)


# --- diff --------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_diff_flags_the_executor_leak_and_not_the_pool(version):
    result = diff(read(version, "t0.txt"), read(version, "t1.txt"))
    assert [(g.key.function, g.key.file) for g in result.groups if g.suspect] == [
        ("_worker", "thread.py")
    ]
    by_fn = {g.key.function: g for g in result.groups}
    leak = by_fn["_worker"]
    assert (leak.before, leak.after) == (10, 60)
    assert leak.survivors == 10  # pthread handles of live threads are not reused
    assert by_fn["pool_worker"].verdict == "steady"
    assert (by_fn["pool_worker"].after, by_fn["pool_worker"].survivors) == (4, 4)
    assert by_fn["watch_config"].verdict == "steady"
    assert not by_fn["short_task"].suspect


def test_faulthandler_and_py_spy_group_alike():
    # Both are keyed by target function and file name (py-spy text has no paths).
    fh = {(k.function, k.file) for k in map(py_site, read("py3.12", "t1.txt").tasks)}
    spy = {
        (k.function, k.file) for k in map(py_site, load(str(PY_DUMPS / "py3.12" / "t1.txt")).tasks)
    }
    assert fh == spy


# --- detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_PATHS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_detected_by_content(path):
    source = detect(path.read_bytes()[: 256 * 1024])
    assert source is not None and source.name == "faulthandler-text"


OTHER_DUMPS = sorted(
    [
        *PY_DUMPS.glob("py3.*/t*.txt"),
        *GO_DUMPS.glob("go1.*/*.txt"),
        *(PY_DUMPS / "pystack").glob("py3.*/t*.txt"),
    ]
)


@pytest.mark.parametrize("path", OTHER_DUMPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_other_formats_are_not_taken(path):
    head = path.read_bytes()[: 256 * 1024]
    assert not faulthandler_text.sniff(head)


def test_a_python_traceback_is_not_a_faulthandler_dump():
    data = (
        b"Traceback (most recent call last):\n"
        b'  File "app.py", line 3, in <module>\n'
        b"ZeroDivisionError: division by zero\n"
    )
    assert not faulthandler_text.sniff(data)


def test_registered_and_listed():
    assert SOURCES["faulthandler-text"].description == faulthandler_text.DESCRIPTION


# --- damaged, odd and hostile input ------------------------------------------------------------

SMALL = (FH / "py3.12" / "t0.txt").read_bytes()


def attempt(data: bytes, **kw: Any) -> Snapshot | None:
    """A snapshot, or None for an InputError; any other exception fails the test."""
    try:
        return parse_bytes(data, "input", "faulthandler-text", **kw)
    except InputError:
        return None


def test_crlf_reads_the_same():
    plain = parse_bytes(SMALL, "input")
    crlf = parse_bytes(SMALL.replace(b"\n", b"\r\n"), "input")
    assert crlf.tasks == plain.tasks
    assert crlf.skipped_lines == plain.skipped_lines


def test_log_lines_around_are_skipped():
    before = b"2026-11-27T22:46:49 INFO service started\nWARNING: something odd\n"
    after = b"\n2026-11-27T22:46:50 INFO leaky: 10 executors\n"
    plain = parse_bytes(SMALL, "input")
    snap = parse_bytes(before + SMALL + after, "input")
    assert snap.tasks == plain.tasks
    assert snap.skipped_lines == plain.skipped_lines + 3
    assert snap.warnings == ()


def test_log_line_inside_a_thread_does_not_end_it():
    lines = SMALL.split(b"\n")
    at = next(i for i, ln in enumerate(lines) if ln.startswith(b"  File")) + 1
    lines.insert(at, b"2026-11-27T22:46:49 INFO written by another thread meanwhile")
    snap = parse_bytes(b"\n".join(lines), "input")
    assert snap.tasks == parse_bytes(SMALL, "input").tasks


@pytest.mark.parametrize("cut", range(200, len(SMALL), 397))
def test_truncated_keeps_the_threads_before_the_cut(cut):
    data = SMALL[:cut]
    snap = attempt(data)
    assert snap is not None
    whole = parse_bytes(SMALL, "input").tasks
    complete = data.count(b"\n\n")  # threads ended by their blank line
    assert [t.id for t in snap.tasks[:complete]] == [t.id for t in whole[:complete]]
    tail = data.rsplit(b"\n", 1)[-1].decode()
    # A last line without its newline is a cut only when it is no whole line of the dump:
    # many saved dumps simply end without one.
    # (a header, or a stack's outermost frame: the evidence that the stack is whole).
    whole = r'  File ".*", line \d+ in (<module>|_bootstrap)|(Current thread|Thread) .*:'
    if tail and not re.fullmatch(whole, tail):
        assert snap.truncated
        if tail.startswith("  "):  # cut inside a thread's frames
            assert FLAG_PARTIAL in snap.tasks[-1].flags
        assert any("ends in the middle of a line" in w for w in snap.warnings)
    elif tail:
        assert not snap.truncated


def test_elided_frames_no_frame_and_single_stack():
    data = (
        "Thread 0x00007f0000000001 (most recent call first):\n"
        + '  File "/srv/app/deep.py", line 4 in recurse\n' * 100
        + "  ...\n\n"
        "Thread 0x00007f0000000002 (most recent call first):\n"
        "  <no Python frame>\n\n"
        "Current thread 0x00007f0000000003 (most recent call first):\n"
        "  Garbage-collecting\n"
        '  File "/srv/app/main.py", line 9 in main\n'
    ).encode()
    snap = parse_bytes(data, "input")
    deep, empty, current = snap.tasks
    assert len(deep.frames) == 100 and FLAG_ELIDED in deep.flags
    assert any("more than 100 frames" in w for w in snap.warnings)
    assert empty.frames == () and FLAG_NO_STACK in empty.flags
    assert current.state == "garbage-collecting"
    single = parse_bytes(
        b'Stack (most recent call first):\n  File "/srv/a.py", line 1 in <module>\n', "input"
    )
    assert [(t.id, t.frames[0].function) for t in single.tasks] == [(None, "<module>")]


def test_timeout_header_and_unknown_file_and_line():
    data = (
        b"Timeout (0:00:05)!\n"
        b"Thread 0x00007f0000000001 (most recent call first):\n"
        b"  File ???, line ??? in ???\n"
        b'  File "/srv/app/x.py", line 2 in f\n'
    )
    snap = parse_bytes(data, "input")
    assert "timeout after 0:00:05" in snap.source.detail
    assert [(f.function, f.file, f.line) for f in snap.tasks[0].frames] == [
        ("???", "???", 0),
        ("f", "/srv/app/x.py", 2),
    ]


def test_python_3_14_thread_names_and_c_stack():
    # Python 3.14 writes the OS thread name between the id and the parenthesis (CPython's
    # Python/traceback.c, write_thread_name) and, on a fatal error, the C stack after the
    # Python ones. Made from a real 3.13 dump, since no 3.14 interpreter was at hand.
    real = (FH / "py3.13" / "fatal.txt").read_text()
    named = re.sub(
        r"^(Current thread|Thread) (0x[0-9a-f]+) ",
        lambda m: f"{m.group(1)} {m.group(2)} [ThreadPoolExecu] ",
        real,
        flags=re.M,
    )
    named += (
        "\nCurrent thread's C stack trace (most recent call first):\n"
        '  Binary file "/usr/bin/python3.14", at _Py_DumpStack+0x31 [0x5581d6e4]\n'
        '  Binary file "/lib/libc.so.6", at abort+0x2b [0x7f2a0b2b]\n'
        "\nExtension modules: _cffi_backend (total: 1)\n"
    )
    snap = parse_bytes(named.encode(), "input")
    plain = parse_bytes(real.encode(), "input")
    assert [(t.id, t.frames) for t in snap.tasks] == [(t.id, t.frames) for t in plain.tasks]
    assert {t.name for t in snap.tasks} == {"ThreadPoolExecu"}
    assert "OS thread names" in snap.source.detail
    assert snap.skipped_lines == 3


HOSTILE = [
    "ansi \x1b[31mred\x1b[0m",
    "[bold]x[/bold]",
    "<script>",
    "br]ack (most recent call first):",
    "nul\x00byte",
    "ünïcode ✓",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_and_paths_are_kept_as_data(name):
    data = (
        f"Thread 0x00007f0000000001 [{name}] (most recent call first):\n"
        f'  File "/srv/{name}".py", line 3 in {name}\n'
        f'  File "/usr/lib/python3.14/threading.py", line 1012 in _bootstrap\n'
    ).encode()
    snap = parse_bytes(data, "input")
    (task,) = snap.tasks
    assert task.name == name
    assert task.frames[0].function == name
    assert task.frames[0].file == f'/srv/{name}".py'
    assert name_pattern(task.name) == re.sub(r"\d+", "N", name)


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash(data):
    attempt(data)
    attempt(b"Thread 0x1 (most recent call first):\n" + data)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 10**5), st.integers(0, 64), st.binary(max_size=16)),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_real_dump_never_crashes(edits):
    data = bytearray(SMALL)
    for at, length, insert in edits:
        at %= len(data) + 1
        data[at : at + length] = insert
    attempt(bytes(data))


def test_windows_fatal_exception_header():
    data = (
        b"Windows fatal exception: access violation\r\n\r\n"
        b"Current thread 0x00001734 (most recent call first):\r\n"
        b'  File "C:\\srv\\app\\collect.py", line 706 in collect\r\n'
    )
    snap = parse_bytes(data, "input")
    assert "Windows fatal exception: access violation" in snap.source.detail
    assert [(t.id, t.state, t.frames[0].file) for t in snap.tasks] == [
        (0x1734, "current", "C:\\srv\\app\\collect.py")
    ]
    assert site_key(snap.tasks[0], PY).file == "collect.py"
