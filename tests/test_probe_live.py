"""The probe in a real asyncio service (samples/python/leaky_asyncio.py): captured twice over HTTP
and diffed, the leaking create_task line is the only suspect; the endpoint answers while the
service's event loop is blocked in time.sleep."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from snapdiff.diff import diff
from snapdiff.model import Snapshot
from snapdiff.render.json import diff_document
from snapdiff.runtimes import detect
from snapdiff.runtimes.python import probe_json
from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow

SERVICE = SAMPLES / "python" / "leaky_asyncio.py"
BLOCK_AT = 6.0  # seconds after start: after the first two captures
BLOCK_FOR = 4.0


class Service:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self.wait_for(r"^probe (http://\S+)$").group(1)
        self.started = time.monotonic()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the service never printed {pattern!r}") from None
            m = re.search(pattern, line)
            if m:
                return m

    def capture(self, name: str) -> tuple[Snapshot, bytes, float]:
        t0 = time.monotonic()
        with urllib.request.urlopen(self.url, timeout=10) as response:
            body: bytes = response.read()
        seconds = time.monotonic() - t0
        source = detect(body[:4096])
        assert source is not None and source.name == probe_json.NAME
        return probe_json.parse(body, name), body, seconds


@pytest.fixture()
def service() -> Iterator[Service]:
    proc = subprocess.Popen(
        [sys.executable, str(SERVICE), "--block-at", str(BLOCK_AT), "--block-for", str(BLOCK_FOR)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield Service(proc)
    finally:
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()


def sleep_until(service: Service, seconds: float) -> None:
    time.sleep(max(0.0, service.started + seconds - time.monotonic()))


def check_report(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    report = diff_document(diff(before, after))
    suspects = [g for g in report["groups"] if g["suspect"]]
    assert len(suspects) == 1, [(g["label"], g["verdict"]) for g in suspects]
    leak = suspects[0]
    assert leak["verdict"] == "leak"
    assert leak["site_function"] == "handle_connection"
    assert leak["delta"] > 0 and leak["survivors"] == leak["before"] > 0
    lines = SERVICE.read_text("utf-8").splitlines()
    site_line = next(i for i, line in enumerate(lines, 1) if line.endswith("# the leaking line"))
    assert leak["site_file"].endswith("leaky_asyncio.py") and leak["site_line"] == site_line
    churn = [g for g in report["groups"] if g["site_function"] == "housekeeping"]
    assert all(not g["suspect"] for g in churn)
    # The background tasks and threads made in main, one each: steady.
    steady = [g for g in report["groups"] if g["site_function"] == "main"]
    assert len(steady) >= 5 and all(g["verdict"] == "steady" for g in steady)
    return report


def test_diff_flags_the_leaking_create_task_line(service: Service) -> None:
    sleep_until(service, 1.5)
    before, _, _ = service.capture("t0")
    sleep_until(service, 4.0)
    after, _, _ = service.capture("t1")
    assert before.source.pid == after.source.pid
    assert any(t.kind == "asyncio-task" for t in after.tasks)
    assert any(t.kind == "thread" and t.name == "load-generator" for t in after.tasks)
    check_report(before, after)

    # Blocked: the loop sits in time.sleep; the probe answers from its own thread.
    service.wait_for(r"^blocking the loop", timeout=BLOCK_AT + 5)
    time.sleep(0.5)
    blocked, body, seconds = service.capture("t2")
    assert seconds < 1.0
    assert b'"state":"running"' in body
    running = [t for t in blocked.tasks if t.state == "running"]
    assert len(running) == 1 and running[0].frames[0].function == "block_loop"
    check_report(before, blocked)
