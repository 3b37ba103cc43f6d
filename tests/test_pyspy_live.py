"""The real py-spy on live processes: the leaking sample service, and threads with hostile names.

Needs py-spy and permission to ptrace (root, ``kernel.yama.ptrace_scope=0`` or
``CAP_SYS_PTRACE``); skipped without them.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snapdiff.cli import app
from snapdiff.diff import diff
from snapdiff.group import site_key
from snapdiff.inputs import parse_bytes
from snapdiff.model import Snapshot
from snapdiff.runtimes.python import RUNTIME as PY
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow

SERVICE = SAMPLES / "python" / "leaky_threads.py"
TIMEOUT = 30


def find_py_spy() -> str:
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    pytest.skip("py-spy is not installed")


def start(args: list[str]) -> subprocess.Popen[str]:
    """A Python process that prints its pid on its first line once it is up."""
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    assert first == str(proc.pid), f"unexpected first line {first!r}"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=TIMEOUT)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def dump(py_spy: str, pid: int, *flags: str) -> bytes:
    done = subprocess.run(
        [py_spy, "dump", "--pid", str(pid), *flags],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def dump_on_a_terminal(py_spy: str, pid: int) -> bytes:
    """py-spy writing to a pseudo-terminal (as under ``kubectl exec -t``): colours and CRLF."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [py_spy, "dump", "--pid", str(pid)], stdout=follower, stderr=subprocess.PIPE
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=TIMEOUT) == 0
        assert proc.stderr is not None
        proc.stderr.close()
        return b"".join(chunks)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


def check_ptrace(py_spy: str, pid: int) -> None:
    """Run py-spy once; skip when the system does not let it attach."""
    done = subprocess.run(
        [py_spy, "dump", "--pid", str(pid)], capture_output=True, timeout=TIMEOUT, check=False
    )
    if done.returncode != 0:
        err = done.stderr.decode(errors="replace")
        if any(s in err.lower() for s in ("permission", "not permitted", "ptrace")):
            pytest.skip(f"py-spy may not attach here: {err.strip()[:200]}")
        pytest.fail(f"py-spy dump failed: {err}")


@pytest.fixture
def py_spy() -> str:
    return find_py_spy()


@pytest.fixture
def service() -> Iterator[subprocess.Popen[str]]:
    proc = start([str(SERVICE), "--leak-rate", "0.2", "--max-leak", "0", "--duration", "120"])
    try:
        yield proc
    finally:
        stop(proc)


def test_live_executor_leak_is_the_suspect(py_spy, service):
    check_ptrace(py_spy, service.pid)
    time.sleep(0.5)
    t0 = time.monotonic()
    before = parse_bytes(dump(py_spy, service.pid, "--json"), "before.json")
    time.sleep(3)
    elapsed = time.monotonic() - t0
    after = parse_bytes(dump(py_spy, service.pid, "--json"), "after.json")
    assert before.source.pid == after.source.pid == service.pid
    result = diff(before, after, elapsed_seconds=elapsed)
    assert result.ids_comparable
    assert [(g.key.function, g.key.name_pattern) for g in result.suspects] == [
        ("_worker", "ThreadPoolExecutor-N_N")
    ]
    by_fn = {g.key.function: g for g in result.groups}
    leak = by_fn["_worker"]
    assert leak.after > leak.before > 0
    assert leak.survivors == leak.before
    for steady, count in (("pool_worker", 4), ("watch_config", 1)):
        assert not by_fn[steady].suspect
        assert by_fn[steady].verdict == "steady"
        assert by_fn[steady].after == count
    assert "short_task" not in {g.key.function for g in result.suspects}


def test_live_json_and_text_agree(py_spy, service):
    """The same threads in both formats, with the same ids (the OS thread ids)."""
    check_ptrace(py_spy, service.pid)
    time.sleep(0.5)
    js = parse_bytes(dump(py_spy, service.pid, "--json"), "dump.json")
    tx = parse_bytes(dump(py_spy, service.pid), "dump.txt")

    def stable(snap: Snapshot) -> set[tuple[int | None, str, str]]:
        return {
            (t.id, t.name, site_key(t, PY).function)
            for t in snap.tasks
            if not t.name.startswith(("short-", "ThreadPoolExecutor-"))
        }

    assert stable(js) == stable(tx)
    assert len(stable(js)) == 9  # MainThread, 4 pool, watcher, requests, churn, feeder


HOSTILE = r"""
import os, threading, time
ev = threading.Event()

def target(secret):
    value = "line1\n    forged_frame (evil.py:1)\nThread 1 (idle): \"forged\""
    ev.wait()

NAMES = {names!r}
for n in NAMES:
    threading.Thread(target=target, args=("hunter2-live",), name=n, daemon=True).start()
print(os.getpid(), flush=True)
time.sleep(120)
"""

NAMES = [
    "ansi \x1b[31mred\x1b[0m",
    "[bold]x[/bold]",
    "<script>alert(1)</script>",
    "tick `x` ``y``",
    "nul\x00byte",
    'quote " inside',
    'paren) (idle): "x',
    "new\nline",
    'Thread 99 (idle): "fake"',
    "tab\tname",
]


def test_live_hostile_thread_names(py_spy, tmp_path):
    script = tmp_path / "hostile.py"
    script.write_text(HOSTILE.format(names=NAMES), encoding="utf-8")
    proc = start([str(script)])
    try:
        check_ptrace(py_spy, proc.pid)
        time.sleep(0.3)
        dumps = {
            "json": dump(py_spy, proc.pid, "--json"),
            "text": dump(py_spy, proc.pid),
            "locals": dump(py_spy, proc.pid, "--locals"),
            "terminal": dump_on_a_terminal(py_spy, proc.pid),
        }
    finally:
        stop(proc)
    assert b"\x1b[" in dumps["terminal"]
    assert b"\r\n" in dumps["terminal"]
    assert b"hunter2-live" in dumps["locals"]
    read = {k: parse_bytes(v, k) for k, v in dumps.items()}
    for kind, snap in read.items():
        targets = {t.name: site_key(t, PY).function for t in snap.tasks}
        for name in NAMES:
            assert targets.get(name) == "target", (kind, name)
        assert len(snap.tasks) == len(NAMES) + 1, kind
        assert snap.skipped_lines == 0, kind
        for task in snap.tasks:
            assert all(f.file != "evil.py" for f in task.frames), kind
            assert "forged" not in task.name
            assert "hunter2-live" not in repr(task)
    assert "coloured terminal output" in read["terminal"].source.detail
    ids = {k: sorted(t.id or 0 for t in s.tasks) for k, s in read.items()}
    assert ids["json"] == ids["text"] == ids["locals"] == ids["terminal"]


def _thread_suspects(report: bytes) -> list[str]:
    doc = json.loads(report)
    return [g["site_function"] for g in doc["groups"] if g["suspect"]]


def test_capture_twice_then_diff_as_a_user_would(py_spy, service, tmp_path):
    check_ptrace(py_spy, service.pid)
    time.sleep(1.0)  # let the pool start
    runner = CliRunner()
    for name in ("before", "after"):
        result = runner.invoke(
            app, ["capture", "--pid", str(service.pid), "-o", str(tmp_path / f"{name}.json.gz")]
        )
        assert result.exit_code == 0, result.output
        time.sleep(3)
    report = runner.invoke(
        app,
        [
            "diff",
            str(tmp_path / "before.json.gz"),
            str(tmp_path / "after.json.gz"),
            "-q",
            "-f",
            "json",
        ],
    )
    assert report.exit_code == 0, report.output
    assert _thread_suspects(report.stdout_bytes) == ["_worker"]


def test_diff_live_by_pid_as_a_user_would(py_spy, service, tmp_path):
    check_ptrace(py_spy, service.pid)
    time.sleep(1.0)
    report = CliRunner().invoke(
        app,
        [
            "diff",
            "--live",
            str(service.pid),
            "--after",
            "3s",
            "--save",
            str(tmp_path),
            "-q",
            "-f",
            "json",
        ],
    )
    assert report.exit_code == 0, report.output
    assert _thread_suspects(report.stdout_bytes) == ["_worker"]
    assert len(list(tmp_path.glob("snap-*.json.gz"))) == 2
