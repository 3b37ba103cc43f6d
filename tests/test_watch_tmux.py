"""``snapdiff watch`` in a real terminal (tmux), as a person uses it: against the live leaking
Python service, every second; the live table shows sparklines; Ctrl-C leaves the final trend
report, exit code 130, and the snapshots saved.

Needs tmux, py-spy and permission to ptrace; skipped without them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLES

pytestmark = pytest.mark.slow

SERVICE = SAMPLES / "python" / "leaky_threads.py"
SPARK = set("▁▂▃▄▅▆▇█")


def _tmux(*args: str) -> str:
    return subprocess.run(
        ["tmux", *args], check=True, capture_output=True, text=True, timeout=10
    ).stdout


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def service() -> Iterator[int]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SERVICE),
            "--leak-rate",
            "0.1",
            "--max-leak",
            "0",
            "--duration",
            "120",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def _py_spy_ok(pid: int) -> None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        pytest.skip("py-spy is not installed")
    r = subprocess.run([py_spy, "dump", "--pid", str(pid)], capture_output=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"py-spy cannot dump here: {r.stderr.decode(errors='replace')[:200]}")


def test_watch_live_table_then_ctrl_c_final_report(service, tmp_path):
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    _py_spy_ok(service)
    session = f"snapdiff-watch-{os.getpid()}"
    saved = tmp_path / "snaps"
    status = tmp_path / "status"
    command = (
        f"cd {ROOT} && {sys.executable} -m snapdiff watch {service} --every 1s "
        f"--save {saved}; echo $? > {status}; sleep 60"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "150",
            "-y",
            "45",
            "bash",
            "-c",
            command,
        ],
        check=True,
        env=env,
        timeout=10,
    )
    try:

        def screen() -> str:
            return _tmux("capture-pane", "-p", "-t", session)

        def live_table() -> str | None:
            text = screen()
            lines = [ln for ln in text.splitlines() if "_worker" in ln]
            # The screen's own count: a file is saved a moment before the table is redrawn.
            shown = re.search(r"snapdiff watch: (\d+) snapshots", " ".join(text.split()))
            enough = shown is not None and int(shown.group(1)) >= 4
            if enough and "saved in" in text and any(SPARK & set(ln) for ln in lines):
                return text
            return None

        live = _wait(live_table, 60, "the live table with a sparkline")
        flat = " ".join(live.split())  # the status line wraps on a narrow screen
        assert flat.startswith("snapdiff watch: ")
        assert "Ctrl-C ends with a report" in flat
        assert "verdict" in live and "series" in live
        assert re.search(r"^SUSPECT\s+_worker .*[▁▂▃▄▅▆▇█]{4}", live, re.M), live

        _tmux("send-keys", "-t", session, "C-c")
        code = _wait(lambda: status.exists() and status.read_text().strip(), 30, "exit")
        assert code == "130"
        history = _tmux("capture-pane", "-p", "-S", "-300", "-t", session)
        assert "Suspect: _worker" in history  # the final trend report
        assert "times from capture times" in history
        assert "snapshots saved in" in history
        assert len(list(saved.glob("*.json.gz"))) >= 4
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
