"""The probe under hostile use: exposed without a token, many requests at once, a client that
hangs up, a document far past the cap. A real probe serving real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import orjson
import pytest

from snapdiff import probe
from snapdiff.probe import _snapshot


@pytest.fixture
def served() -> Iterator[tuple[str, int]]:
    host, port = probe.start("127.0.0.1", 0)
    try:
        yield host, port
    finally:
        probe.stop()


@pytest.fixture
def loop_with_tasks() -> Iterator[int]:
    """A loop in a thread with 3,000 pending tasks (created after the probe's factory)."""
    n = 3000
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    loop = asyncio.new_event_loop()

    async def main() -> None:
        probe.install()
        done = asyncio.Event()
        stop.append(done)
        tasks = [asyncio.create_task(done.wait(), name=f"waiter-{i}") for i in range(n)]
        ready.set()
        await done.wait()
        await asyncio.gather(*tasks)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield n
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(10)
        loop.close()


def get(host: str, port: int) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/debug/snapdiff", timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_allow_remote_without_a_token_is_refused():
    with pytest.raises(ValueError, match="allow_remote=True without a token"):
        probe.start("127.0.0.1", 0, allow_remote=True)
    assert probe.address() is None
    host, port = probe.start("127.0.0.1", 0, allow_remote=True, insecure=True)
    try:
        assert get(host, port)[0] == 200
    finally:
        probe.stop()
    host, port = probe.start("127.0.0.1", 0, allow_remote=True, token="t0ken")
    try:
        assert get(host, port)[0] == 401
    finally:
        probe.stop()


def test_the_document_is_built_within_the_cap(loop_with_tasks, monkeypatch):
    made = []
    real = _snapshot._task_entry

    def counting(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_snapshot, "_task_entry", counting)
    body = _snapshot.document(64 * 1024)
    assert body is not None and len(body) <= 64 * 1024
    doc = orjson.loads(body)
    kept = sum(1 for t in doc["tasks"] if t["kind"] == "asyncio-task")
    assert doc["truncated"] is True
    assert doc["omitted_tasks"] >= loop_with_tasks - kept
    # Entries past the cap were never made: one past the last kept, at most.
    assert len(made) <= kept + 1 < loop_with_tasks


def test_one_document_at_a_time_others_wait_then_get_503(served, monkeypatch):
    host, port = served
    monkeypatch.setattr(_snapshot, "WAIT_SECONDS", 0.3)
    assert _snapshot._building.acquire(timeout=5)  # a document being built
    try:
        start = time.monotonic()
        status, headers, body = get(host, port)
        assert status == 503
        assert headers["Retry-After"] == "1"
        assert body == b"503 busy: another snapshot is being built; retry in a second\n"
        assert time.monotonic() - start >= 0.3
    finally:
        _snapshot._building.release()
    assert get(host, port)[0] == 200


def test_wsgi_app_answers_503_when_busy(monkeypatch):
    monkeypatch.setattr(_snapshot, "WAIT_SECONDS", 0.05)
    app = probe.wsgi_app()
    seen = []
    assert _snapshot._building.acquire(timeout=5)
    try:
        body = app({"REQUEST_METHOD": "GET", "PATH_INFO": "/"}, lambda s, h: seen.append(s))
    finally:
        _snapshot._building.release()
    assert seen == ["503 Service Unavailable"] and body[0].startswith(b"503 busy")


SERVICE = textwrap.dedent(
    """
    import asyncio, sys, threading
    from snapdiff import probe

    async def main():
        probe.install()
        done = asyncio.Event()
        tasks = [asyncio.create_task(done.wait(), name=f"t{i}") for i in range(20000)]
        host, port = probe.start("127.0.0.1", 0)
        print(port, flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def test_a_client_that_closes_early_leaves_no_traceback():
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVICE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        for _ in range(5):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /debug/snapdiff HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(100)  # the answer has started
            # Hang up hard (RST) in the middle of a multi-megabyte body.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        status, _, body = get("127.0.0.1", port)
        assert status == 200 and len(orjson.loads(body)["tasks"]) > 20000
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert err == ""
