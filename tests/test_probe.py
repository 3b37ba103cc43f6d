"""The probe in this process: creation sites, parents, no locals, the endpoint's rules."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from snapdiff import probe
from snapdiff.diff import diff
from snapdiff.model import ASYNCIO_TASK, THREAD
from snapdiff.runtimes import detect
from snapdiff.runtimes.python import probe_json

HERE = Path(__file__).resolve()
SECRET = "hunter2-probe-secret-not-real"
SCHEMA = Draft202012Validator(
    json.loads((resources.files("snapdiff") / "schemas" / "probe-v1.json").read_text("utf-8"))
)


def line_of(marker: str) -> int:
    """The line of this file that carries ``marker`` in a comment."""
    lines = HERE.read_text("utf-8").splitlines()
    hits = [i for i, line in enumerate(lines, 1) if line.rstrip().endswith(f"# {marker}")]
    assert len(hits) == 1, marker
    return hits[0]


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    yield
    probe.stop()
    probe.uninstall()


def fetch(url: str, *, method: str = "GET", token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


async def wait_forever(event: asyncio.Event) -> None:
    secret = SECRET  # a local the probe must never show
    await event.wait()
    assert secret


async def short(n: int) -> int:
    await asyncio.sleep(0)
    return n


async def beat(stop: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.sleep(0.01)


async def spawner(event: asyncio.Event, n: int) -> list[asyncio.Task[None]]:
    leaked = []
    for _ in range(n):
        leaked.append(asyncio.create_task(wait_forever(event)))  # leak-site
    return leaked


def thread_body(stop: threading.Event) -> None:
    secret = SECRET
    stop.wait(10)
    assert secret


def tasks_of(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [t for t in doc["tasks"] if t["kind"] == kind]


def test_snapshot_sites_parents_states_and_no_locals() -> None:
    docs: dict[str, Any] = {}

    async def main() -> None:
        assert probe.install() is asyncio.get_running_loop()
        event, stop = asyncio.Event(), asyncio.Event()
        spawn = asyncio.create_task(spawner(event, 5))  # spawner-site
        leaked = await spawn
        steady = asyncio.create_task(beat(stop))  # steady-site
        churn = [asyncio.ensure_future(short(i)) for i in range(20)]  # churn-site
        await asyncio.gather(*churn)
        async with asyncio.TaskGroup() as group:
            group.create_task(short(1))  # group-site
            inside = probe.snapshot()
        worker_stop = threading.Event()
        worker = threading.Thread(target=thread_body, args=(worker_stop,), name="worker-1")
        worker.start()  # thread-site
        await asyncio.sleep(0.05)
        docs["doc"] = probe.snapshot()
        docs["inside"] = inside
        docs["json"] = probe.snapshot_json()
        worker_stop.set()
        worker.join()
        stop.set()
        await steady
        event.set()
        await asyncio.gather(*leaked)

    asyncio.run(main())
    doc = docs["doc"]
    SCHEMA.validate(doc)
    assert doc["format"] == "snapdiff-probe" and doc["version"] == 1
    assert doc["captured_at"].endswith("Z")
    assert doc["process"]["pid"] > 0 and doc["process"]["runtime"].startswith("CPython")
    assert SECRET not in docs["json"].decode() and SECRET not in json.dumps(doc)
    assert SECRET not in json.dumps(docs["inside"])

    tasks = tasks_of(doc, "asyncio-task")
    leaks = [t for t in tasks if t["created_by"] and t["created_by"]["function"] == "spawner"]
    assert len(leaks) == 5
    for t in leaks:
        assert t["created_by"] == {
            "function": "spawner",
            "file": str(HERE),
            "line": line_of("leak-site"),
        }
        assert t["state"] == "pending"
        assert t["awaiting"] == {"type": "Future"}
        assert [f["function"] for f in t["frames"]] == ["Event.wait", "wait_forever"]
        assert t["age_seconds"] >= 0
    # The spawner task is done: its children still name it as their parent.
    assert len({t["parent_id"] for t in leaks}) == 1
    ids = [t["id"] for t in tasks]
    assert len(ids) == len(set(ids))
    assert leaks[0]["parent_id"] < min(t["id"] for t in leaks)
    main_task = next(
        t
        for t in tasks
        if t["frames"][-1]["function"]
        == "test_snapshot_sites_parents_states_and_no_locals.<locals>.main"
    )
    assert main_task["state"] == "running"  # snapshot() was called from it
    assert main_task["created_by"] is None  # created before install(): no site, no age
    assert main_task["age_seconds"] is None
    steady = [
        t for t in tasks if t["created_by"] and t["created_by"]["line"] == line_of("steady-site")
    ]
    assert len(steady) == 1 and steady[0]["parent_id"] == main_task["id"]
    # The churn tasks ended: all_tasks no longer has them.
    assert not [
        t for t in tasks if t["created_by"] and t["created_by"]["line"] == line_of("churn-site")
    ]
    in_group = [
        t
        for t in tasks_of(docs["inside"], "asyncio-task")
        if t["created_by"] and t["created_by"]["line"] == line_of("group-site")
    ]
    assert len(in_group) == 1

    threads = tasks_of(doc, "thread")
    worker = next(t for t in threads if t["name"] == "worker-1")
    assert worker["created_by"] == {
        "function": "test_snapshot_sites_parents_states_and_no_locals.<locals>.main",
        "file": str(HERE),
        "line": line_of("thread-site"),
    }
    assert worker["frames"][-1]["function"] == "Thread._bootstrap"
    assert any(f["function"] == "thread_body" for f in worker["frames"])
    assert worker["daemon"] is False and worker["id"] == worker["id"] and worker["age_seconds"] >= 0
    assert any(t["name"] == "MainThread" for t in threads)


def test_endpoint_rules_token_methods_paths() -> None:
    host, port = probe.start(token="s3cret")
    assert host == "127.0.0.1" and port > 0
    assert probe.address() == (host, port)
    base = f"http://{host}:{port}"
    assert fetch(base)[0] == 401
    assert fetch(base, token="wrong")[0] == 401
    status, body = fetch(base + "/debug/snapdiff", token="s3cret")
    assert status == 200
    assert json.loads(body)["format"] == "snapdiff-probe"
    status, body = fetch(base + "/", token="s3cret")
    assert status == 200
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
        assert fetch(base + "/debug/snapdiff", method=method, token="s3cret")[0] == 405
    for path in ("/debug/pprof/goroutine", "/debug", "/debug/snapdiff/x", "/favicon.ico"):
        assert fetch(base + path, token="s3cret")[0] == 404
    with pytest.raises(RuntimeError, match="already serves"):
        probe.start()


def test_probe_threads_are_left_out() -> None:
    host, port = probe.start()
    doc = json.loads(fetch(f"http://{host}:{port}")[1])
    names = [t["name"] for t in tasks_of(doc, "thread")]
    assert "snapdiff-probe" not in names
    assert names.count("MainThread") == 1
    assert all(not n.startswith("Thread-") for n in names), names


def test_stop_frees_the_port() -> None:
    host, port = probe.start()
    probe.stop()
    assert probe.address() is None
    with socket.socket() as sock:
        sock.bind((host, port))  # free again
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://{host}:{port}/", timeout=2)
    host2, port2 = probe.start(port=0)
    assert fetch(f"http://{host2}:{port2}")[0] == 200
    probe.stop()
    probe.stop()  # harmless


def test_refuses_a_non_loopback_host() -> None:
    with pytest.raises(ValueError, match="not a loopback"):
        probe.start(host="0.0.0.0")
    assert probe.address() is None
    host, _ = probe.start(host="localhost")
    assert host in ("127.0.0.1", "::1")


def test_answers_while_the_loop_is_blocked() -> None:
    result: dict[str, Any] = {}

    def client(base: str) -> None:
        time.sleep(0.3)  # the loop is in time.sleep by now
        t0 = time.monotonic()
        status, body = fetch(base)
        result["seconds"] = time.monotonic() - t0
        result["status"] = status
        result["doc"] = json.loads(body)

    async def main() -> None:
        host, port = probe.start()
        event = asyncio.Event()
        pending = asyncio.create_task(wait_forever(event))
        await asyncio.sleep(0)
        t = threading.Thread(target=client, args=(f"http://{host}:{port}",))
        t.start()
        blocked_in_sleep()
        t.join()
        event.set()
        await pending

    def blocked_in_sleep() -> None:
        time.sleep(1.5)  # blocks the event loop

    asyncio.run(main())
    assert result["status"] == 200
    assert result["seconds"] < 1.0
    doc = result["doc"]
    running = [t for t in tasks_of(doc, "asyncio-task") if t["state"] == "running"]
    assert len(running) == 1
    functions = [f["function"] for f in running[0]["frames"]]
    assert functions[0].endswith("blocked_in_sleep") and functions[-1].endswith("main")
    assert doc["loops"][0]["current_task_id"] == running[0]["id"]
    loop_thread = next(
        t for t in tasks_of(doc, "thread") if t["id"] == doc["loops"][0]["thread_id"]
    )
    assert loop_thread["frames"][0]["function"].endswith("blocked_in_sleep")


def test_size_cap_leaves_tasks_out_and_says_so() -> None:
    async def main() -> bytes:
        probe.install()
        event = asyncio.Event()
        tasks = [asyncio.create_task(wait_forever(event)) for _ in range(200)]
        await asyncio.sleep(0)
        body = probe.snapshot_json(max_bytes=20_000)
        event.set()
        await asyncio.gather(*tasks)
        return body

    body = asyncio.run(main())
    assert len(body) <= 20_000
    doc = json.loads(body)
    assert doc["truncated"] is True and doc["omitted_tasks"] > 0
    snap = probe_json.parse(body, "capped.json")
    assert snap.truncated
    assert any("left out" in w for w in snap.warnings)


def test_chains_to_an_existing_task_factory_and_uninstalls() -> None:
    seen: list[str] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        seen.append(coro.__qualname__)
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(factory)
        probe.install_on(loop)
        probe.install_on(loop)  # again: no second layer
        task = asyncio.create_task(short(1), name="named")  # chained-site
        assert await task == 1
        assert task.get_name() == "named"
        doc = probe.snapshot()
        assert doc["loops"][0]["tasks"] >= 1
        probe.uninstall()
        assert loop.get_task_factory() is factory

    original = threading.Thread.start
    asyncio.run(main())
    assert seen[0] == "short"  # then asyncio.run's own shutdown tasks, through the same factory
    assert threading.Thread.start is original


def test_mounts_in_wsgi_and_asgi_apps() -> None:
    from snapdiff.probe import ASGIMiddleware, WSGIMiddleware

    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"], captured["headers"] = status, dict(headers)

    def inner(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"app"]

    app = WSGIMiddleware(inner, token="t")
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/debug/snapdiff",
        "HTTP_AUTHORIZATION": "Bearer t",
    }
    body = b"".join(app(environ, start_response))
    assert captured["status"] == "200 OK" and json.loads(body)["format"] == "snapdiff-probe"
    app(dict(environ, HTTP_AUTHORIZATION="Bearer x"), start_response)
    assert captured["status"].startswith("401")
    app(dict(environ, REQUEST_METHOD="POST"), start_response)
    assert captured["status"].startswith("405")
    assert b"".join(app(dict(environ, PATH_INFO="/orders"), start_response)) == b"app"
    standalone = probe.wsgi_app()
    b"".join(standalone({"REQUEST_METHOD": "GET", "PATH_INFO": "/x"}, start_response))
    assert captured["status"].startswith("404")

    async def call(asgi: Any, path: str, method: str = "GET", root: str = "") -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "root_path": root, "headers": []}
        await asgi(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    async def inner_asgi(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    async def main() -> None:
        wrapped = ASGIMiddleware(inner_asgi)
        status, body = await call(wrapped, "/debug/snapdiff")
        assert status == 200
        doc = json.loads(body)
        running = [t for t in tasks_of(doc, "asyncio-task") if t["state"] == "running"]
        assert len(running) == 1  # this coroutine: the middleware answered from the loop
        assert await call(wrapped, "/orders") == (200, b"app")
        assert (await call(wrapped, "/debug/snapdiff", "POST"))[0] == 405
        mounted = probe.asgi_app()
        assert (await call(mounted, "/", root=""))[0] == 200
        assert (await call(mounted, "/probe/debug/snapdiff", root="/probe"))[0] == 200
        assert (await call(mounted, "/probe/other", root="/probe"))[0] == 404

    asyncio.run(main())


def test_reader_reads_the_document() -> None:
    async def main() -> bytes:
        probe.install()
        event = asyncio.Event()
        tasks = await spawner(event, 3)
        await asyncio.sleep(0)  # let them start
        body = probe.snapshot_json()
        event.set()
        await asyncio.gather(*tasks)
        return body

    body = asyncio.run(main())
    source = detect(body[:4096])
    assert source is not None and source.name == "snapdiff-probe"
    snap = probe_json.parse(body, "probe.json")
    assert snap.source.format == "snapdiff-probe"
    assert snap.source.captured_at and snap.source.captured_at.endswith("Z")
    assert snap.source.pid is not None and snap.source.host
    assert snap.warnings == ()
    leaks = [
        t
        for t in snap.tasks
        if t.kind == ASYNCIO_TASK and t.created_by and t.created_by.function == "spawner"
    ]
    assert len(leaks) == 3
    assert leaks[0].created_by is not None and leaks[0].created_by.line == line_of("leak-site")
    assert leaks[0].creator_id is not None
    assert leaks[0].frames[0].function == "Event.wait"
    assert any(t.kind == THREAD and t.name == "MainThread" for t in snap.tasks)
    result = diff(snap, snap)
    assert not result.suspects


def test_reader_edge_cases() -> None:
    doc = {
        "format": "snapdiff-probe",
        "version": 2,
        "captured_at": "2025-01-01T00:00:00.000Z",
        "process": {"pid": 7, "host": "h", "runtime": "Other 1.0"},
        "tasks": [
            {
                "kind": "goroutine",
                "id": 5,
                "frames": [{"function": "main.f", "file": "m.go", "line": 3}],
                "created_by": {"function": "main.main", "file": "m.go", "line": 9},
                "future_field": 1,
            },
            "not a task",
            {"kind": "thread", "frames": "nope"},
        ],
    }
    raw = json.dumps(doc).encode()
    assert probe_json.sniff(raw) and probe_json.sniff(b"  \n" + raw)
    assert not probe_json.sniff(b'[{"format": "snapdiff-probe"}]')
    assert not probe_json.sniff(b'{"format": "other"}')
    snap = probe_json.parse(raw, "d.json")
    assert [t.kind for t in snap.tasks] == ["goroutine"]
    assert snap.tasks[0].created_by is not None and snap.tasks[0].created_by.function == "main.main"
    assert any("version 2 is newer" in w for w in snap.warnings)
    assert any("2 entries are not task objects" in w for w in snap.warnings)
    assert snap.source.producer == "Other 1.0 (snapdiff probe)"

    cut = raw[: raw.index(b'"not a task"') - 2]  # after the first task's closing brace
    snap = probe_json.parse(cut, "cut.json")
    assert snap.truncated and len(snap.tasks) == 1
    assert any("cut short" in w for w in snap.warnings)
    trailing = probe_json.parse(raw + b"\nlog line\n", "t.json")
    assert not trailing.truncated and len(trailing.tasks) == 1

    from snapdiff.errors import InputError

    with pytest.raises(InputError, match="not a snapdiff probe document"):
        probe_json.parse(b'{"format": "x", "tasks": []}', "x.json")
    with pytest.raises(InputError, match="without a version"):
        probe_json.parse(b'{"format": "snapdiff-probe", "tasks": []}', "x.json")
    with pytest.raises(InputError, match="not valid"):
        probe_json.parse(b'{"format": "snapdiff-probe", ', "x.json")


def test_probe_imports_only_the_standard_library() -> None:
    code = (
        "import sys; from snapdiff import probe; "
        "bad = sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('typer', 'rich', 'orjson', 'click') "
        "or (m.startswith('snapdiff.') and not m.startswith('snapdiff.probe'))); "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    tree = Path(probe.__file__).parent
    for path in tree.glob("*.py"):
        text = path.read_text("utf-8")
        for line in text.splitlines():
            if line.startswith(("import ", "from ")) and "snapdiff" in line:
                assert line.startswith("from snapdiff.probe"), (path, line)
