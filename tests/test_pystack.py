"""The pystack reader on real ``pystack remote`` dumps of samples/python/leaky_threads.py.

The dumps come from samples/regen-pyfmt.sh (pystack 1.7.2, Python 3.9 to 3.13): t0 at about
3 s, t1 at about 25 s, then --locals and --native (gzipped). The counts below were taken from
the raw files with grep (``grep -c ', in _worker$' t1.txt``, ``grep -c '^Traceback for thread'
t1.txt``, and ``zcat`` for the gzipped ones). A slow test runs the service live.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from snapdiff.cli import app
from snapdiff.diff import diff
from snapdiff.errors import InputError
from snapdiff.group import entry_frame, site_key
from snapdiff.inputs import load, parse_bytes
from snapdiff.model import FLAG_NO_STACK, FLAG_OWNS_GIL, FLAG_PARTIAL, Snapshot
from snapdiff.runtimes import SOURCES, detect
from snapdiff.runtimes.python import RUNTIME as PY
from snapdiff.runtimes.python import is_native, pystack_text
from tests.conftest import GO_DUMPS, PY_DUMPS, SAMPLES

py_site = partial(site_key, rt=PY)

PS = PY_DUMPS / "pystack"
VERSIONS = ("py3.9", "py3.11", "py3.12", "py3.13")
NAMES = ("t0.txt", "t1.txt", "t1.locals.txt.gz", "t1.native.txt.gz")
# (threads, _worker, short_task) per file; every file also has 4 pool_worker threads and one
# each of watch_config, request_loop, churn_loop, feed_loop and <module> (the main thread).
COUNTS = {
    "py3.9": ((23, 12, 2), (72, 60, 3), (72, 60, 3), (71, 60, 2)),
    "py3.11": ((24, 12, 3), (70, 60, 1), (72, 60, 3), (72, 60, 3)),
    "py3.12": ((23, 12, 2), (72, 60, 3), (72, 60, 3), (71, 60, 2)),
    "py3.13": ((23, 12, 2), (72, 60, 3), (73, 60, 4), (71, 60, 2)),
}
FILES = [(v, n) for v in VERSIONS for n in NAMES]
SECRETS = ("sk-test-not-a-real-secret", "hunter2-not-a-real-password")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_RAW_HEADER = re.compile(r"^Traceback for thread (\d+) \((.*)\) \[\] \(most recent call last\):$")


def raw_text(version: str, name: str) -> str:
    data = (PS / version / name).read_bytes()
    return (gzip.decompress(data) if name.endswith(".gz") else data).decode()


def read(version: str, name: str, **kw: bool) -> Snapshot:
    return load(str(PS / version / name), **kw)


def expected(version: str, name: str) -> tuple[int, Counter[str]]:
    total, workers, short = COUNTS[version][NAMES.index(name)]
    return total, Counter(
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


# --- counts and fields -------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "name"), FILES, ids=lambda x: str(x))
def test_thread_counts_per_target(version, name):
    snap = read(version, name)
    total, sites = expected(version, name)
    assert snap.source.format == "pystack-text"
    assert snap.total == total
    assert Counter(site_key(t, PY).function for t in snap.tasks) == sites
    assert not snap.truncated
    assert snap.skipped_lines == 0
    assert snap.warnings == ()


@pytest.mark.parametrize(("version", "name"), FILES, ids=lambda x: str(x))
def test_ids_are_os_thread_ids_and_the_process_name_is_not_a_thread_name(version, name):
    snap = read(version, name)
    raw = [m.groups() for m in map(_RAW_HEADER.match, raw_text(version, name).splitlines()) if m]
    assert [t.id for t in snap.tasks] == [int(tid) for tid, _ in raw]
    # No thread of the service names its OS thread: all carry the process's name.
    assert {comm for _, comm in raw} == {version.replace("py", "python")}
    assert all(t.name == "" for t in snap.tasks)
    assert f"process {version.replace('py', 'python')}" in snap.source.detail
    main = snap.tasks[-1]
    assert entry_frame(main, PY) is not None and entry_frame(main, PY).function == "<module>"


@pytest.mark.parametrize("version", VERSIONS)
def test_frames_are_reversed_to_innermost_first(version):
    snap = read(version, "t1.txt")
    pool = [t for t in snap.tasks if site_key(t, PY).function == "pool_worker"]
    assert len(pool) == 4
    for task in pool:
        assert [f.function for f in task.frames[:3]] == ["wait", "get", "pool_worker"]
        assert task.frames[-1].function == "_bootstrap"
        assert task.frames[2].file.endswith("/leaky_threads.py")
        assert task.frames[2].line == 60


@pytest.mark.parametrize("version", VERSIONS)
def test_native_frames_are_kept_and_skipped_for_the_target(version):
    snap = read(version, "t1.native.txt.gz")
    assert "native frames" in snap.source.detail
    workers = [t for t in snap.tasks if site_key(t, PY).function == "_worker"]
    assert len(workers) == 60
    for task in workers:
        assert is_native(task.frames[0])  # the futex wait under SimpleQueue.get
        assert is_native(task.frames[-1])  # clone3 / start_thread
        assert site_key(task, PY).file == "thread.py"
    symbols = {f.function for t in snap.tasks for f in t.frames}
    assert not any(s.endswith("(inlined)") for s in symbols)
    # A C frame whose source pystack does not know is named by its library.
    main = snap.tasks[-1]
    assert main.frames[-1].function == "_start"
    assert main.frames[-1].file == version.replace("py", "python")


@pytest.mark.parametrize("version", VERSIONS)
def test_locals_are_dropped_unless_asked(version):
    raw = raw_text(version, "t1.locals.txt.gz")
    assert all(s in raw for s in SECRETS)
    dropped = read(version, "t1.locals.txt.gz")
    assert all(t.locals == () for t in dropped.tasks)
    assert "locals dropped" in dropped.source.detail
    plain = read(version, "t1.txt")
    assert len(dropped.tasks) == expected(version, "t1.locals.txt.gz")[0]
    assert {site_key(t, PY) for t in dropped.tasks} == {site_key(t, PY) for t in plain.tasks}
    kept = read(version, "t1.locals.txt.gz", keep_locals=True)
    pool = [t for t in kept.tasks if site_key(t, PY).function == "pool_worker"]
    for task in pool:
        rows = {name: (task.frames[i].function, value) for i, name, value in task.locals}
        assert rows["db_password"] == ("pool_worker", '"hunter2-not-a-real-password"')
        assert rows["worker_id"][0] == "pool_worker"


# --- diff --------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_diff_flags_the_executor_leak_and_not_the_pool(version):
    result = diff(read(version, "t0.txt"), read(version, "t1.txt"))
    assert [(g.key.function, g.key.file) for g in result.groups if g.suspect] == [
        ("_worker", "thread.py")
    ]
    by_fn = {g.key.function: g for g in result.groups}
    leak = by_fn["_worker"]
    assert (leak.before, leak.after, leak.survivors) == (12, 60, 12)
    assert by_fn["pool_worker"].verdict == "steady"
    assert (by_fn["pool_worker"].after, by_fn["pool_worker"].survivors) == (4, 4)
    assert by_fn["watch_config"].verdict == "steady"
    assert not by_fn["short_task"].suspect


def test_pystack_and_py_spy_group_alike():
    ps = {(k.function, k.file) for k in map(py_site, read("py3.12", "t1.txt").tasks)}
    spy = {
        (k.function, k.file) for k in map(py_site, load(str(PY_DUMPS / "py3.12" / "t1.json")).tasks)
    }
    assert ps == spy


# --- detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "name"), FILES, ids=lambda x: str(x))
def test_detected_by_content(version, name):
    source = detect(raw_text(version, name).encode()[: 256 * 1024])
    assert source is not None and source.name == "pystack-text"


OTHER_DUMPS = sorted(
    [
        *PY_DUMPS.glob("py3.*/t*.txt"),
        *GO_DUMPS.glob("go1.*/*.txt"),
        *(PY_DUMPS / "faulthandler").glob("py3.*/*.txt"),
    ]
)


@pytest.mark.parametrize("path", OTHER_DUMPS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_other_formats_are_not_taken(path):
    assert not pystack_text.sniff(path.read_bytes()[: 256 * 1024])


def test_registered_and_listed():
    assert SOURCES["pystack-text"].description == pystack_text.DESCRIPTION


# --- damaged, odd and hostile input ------------------------------------------------------------

SMALL = (PS / "py3.12" / "t0.txt").read_bytes()


def attempt(data: bytes, **kw: Any) -> Snapshot | None:
    try:
        return parse_bytes(data, "input", "pystack-text", **kw)
    except InputError:
        return None


def test_crlf_and_colours_read_the_same():
    plain = parse_bytes(SMALL, "input")
    crlf = parse_bytes(SMALL.replace(b"\n", b"\r\n"), "input")
    assert crlf.tasks == plain.tasks
    # pystack's colours on a terminal (pystack/colors.py: termcolor-style SGR sequences).
    coloured = re.sub(rb"\(Python\)", b"\x1b[32m(Python)\x1b[0m", SMALL)
    coloured = re.sub(rb", in (\w+)$", b", in \x1b[33m\\1\x1b[0m", coloured, flags=re.M)
    snap = parse_bytes(coloured, "input")
    assert snap.tasks == plain.tasks
    assert "coloured terminal output" in snap.source.detail


def test_log_lines_around_are_skipped():
    snap = parse_bytes(b"$ pystack remote 4242\nWARNING: odd\n" + SMALL + b"done\n", "input")
    assert snap.tasks == parse_bytes(SMALL, "input").tasks
    assert snap.skipped_lines == 2  # the prompt line is taken off before the reader
    assert "shell prompt" in snap.source.detail


@pytest.mark.parametrize("cut", range(150, len(SMALL), 613))
def test_truncated_keeps_the_threads_before_the_cut(cut):
    data = SMALL[:cut]
    snap = attempt(data)
    if data.count(b"Traceback for thread") == 0 or snap is None:
        return
    whole = parse_bytes(SMALL, "input").tasks
    complete = data.count(b"\n\n")
    assert [t.id for t in snap.tasks[:complete]] == [t.id for t in whole[:complete]]
    # No final newline is a cut unless the input ends on a stack's outermost frame (or that
    # frame's source line): a stack that stops half way is the evidence.
    lines = data.decode().split("\n")
    outer = any(
        re.match(r'    \(Python\) File ".*", line \d+, in (<module>|_bootstrap)$', ln)
        for ln in lines[-2:]
    )
    if not data.endswith(b"\n") and not outer:
        assert snap.truncated
        assert FLAG_PARTIAL in snap.tasks[-1].flags


def test_status_names_empty_stacks_and_interpreters():
    data = (
        b"Traceback for thread 7 (worker-1) [Has the GIL,Garbage collecting] "
        b"(most recent call last):\n"
        b'    (Python) File "/srv/a.py", line 3, in main\n'
        b"        work()\n"
        b"\n"
        b"The frame stack for thread 8 is empty\n"
        b"\n"
        b"Traceback for thread 9 (python3) (most recent call last):\n"
        b"  In interpreter 1 [Waiting for the GIL]\n"
        b'    (Python) File "/srv/b.py", line 5, in sub\n'
        b"\n"
        b"Traceback for thread 6 (python3) [] (most recent call last):\n"
        b"* - Unable to merge native stack due to insufficient native information - *\n"
        b'    (Python) File "/srv/c.py", line 1, in <module>\n'
    )
    snap = parse_bytes(data, "input")
    gil, empty, sub, main = snap.tasks
    assert (gil.id, gil.name, gil.state) == (7, "worker-1", "has the gil, garbage collecting")
    assert FLAG_OWNS_GIL in gil.flags
    assert empty.frames == () and FLAG_NO_STACK in empty.flags
    assert (sub.name, sub.state) == ("", "waiting for the gil")
    assert main.name == "" and main.frames[0].function == "<module>"
    assert any("could not merge native frames" in w for w in snap.warnings)


HOSTILE = [
    "ansi \x1b[31mred\x1b[0m",
    "[bold]x[/bold]",
    "paren) [Has the GIL] (x",
    "<script>",
    "ünïcode ✓",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_paths_and_source_lines_are_data(name):
    data = (
        f"Traceback for thread 11 ({name}) [] (most recent call last):\n"
        f'    (Python) File "/srv/{name}.py", line 3, in {name}\n'
        f"        Traceback for thread 12 (x) [] (most recent call last):\n"
        f"\n"
        f"Traceback for thread 10 (python3) [] (most recent call last):\n"
        f'    (Python) File "/srv/main.py", line 1, in <module>\n'
    ).encode()
    snap = parse_bytes(data, "input")
    assert [t.id for t in snap.tasks] == [11, 10]
    assert snap.tasks[0].frames[0].file == f"/srv/{name}.py"
    assert snap.tasks[0].name == name
    assert snap.tasks[0].frames[0].function == name
    assert "coloured" not in snap.source.detail


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash(data):
    attempt(data)
    attempt(b"Traceback for thread 1 (x) [] (most recent call last):\n" + data, keep_locals=True)


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 10**5), st.integers(0, 64), st.binary(max_size=16)),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_real_dump_never_crashes(edits):
    data = bytearray(raw_text("py3.12", "t1.locals.txt.gz").encode()[:20000])
    for at, length, insert in edits:
        at %= len(data) + 1
        data[at : at + length] = insert
    attempt(bytes(data), keep_locals=True)


# --- live --------------------------------------------------------------------------------------


def find_pystack() -> str:
    found = shutil.which("pystack")
    if found:
        return found
    beside = Path(sys.executable).parent / "pystack"
    if beside.exists():
        return str(beside)
    pytest.skip("pystack is not installed")


@pytest.mark.slow
def test_live_service_dumped_twice_with_pystack_flags_the_leak():
    pystack = find_pystack()
    service = SAMPLES / "python" / "leaky_threads.py"
    proc = subprocess.Popen(
        [sys.executable, str(service), "--leak-rate", "0.1", "--max-leak", "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(proc.pid)
        dumps = []
        for wait in (1.0, 4.0):
            time.sleep(wait)
            done = subprocess.run(
                [pystack, "remote", "--no-color", str(proc.pid)],
                capture_output=True,
                timeout=60,
                check=False,
            )
            if done.returncode != 0:
                pytest.skip(f"pystack cannot attach here: {done.stderr.decode()[-300:]}")
            dumps.append(parse_bytes(done.stdout, f"dump{len(dumps)}"))
    finally:
        proc.kill()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    before, after = dumps
    assert before.source.format == after.source.format == "pystack-text"
    result = diff(before, after)
    assert [g.key.function for g in result.groups if g.suspect] == ["_worker"]
    by_fn = {g.key.function: g for g in result.groups}
    assert by_fn["_worker"].after == 40
    assert by_fn["pool_worker"].verdict == "steady"


@pytest.mark.parametrize("keep", [False, True])
def test_convert_writes_no_secret_unless_asked(keep, tmp_path):
    out = tmp_path / "snap.json"
    args = ["convert", str(PS / "py3.13" / "t1.locals.txt.gz"), "-o", str(out)]
    result = CliRunner().invoke(app, args + (["--keep-locals"] if keep else []))
    assert result.exit_code == 0, result.output
    written = out.read_text(encoding="utf-8")
    assert all((s in written) == keep for s in SECRETS)
