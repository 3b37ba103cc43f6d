"""The probe's JSON document: every asyncio task of every known loop and every thread.

Built from another thread than the event loop's, without waiting on it: ``asyncio.all_tasks``
reads a weak set (a copy, retried when it changes under us), coroutine stacks are read by walking
``cr_await`` from frame to frame, thread stacks come from ``sys._current_frames()``. Only code
names, file names and line numbers are read: never ``f_locals``, never a ``repr`` of user objects.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain
from types import FrameType
from typing import Any

from snapdiff.probe import _hooks

FORMAT = "snapdiff-probe"
VERSION = 1
MAX_FRAMES = 128  # per stack; the innermost and outermost halves are kept
DEFAULT_MAX_BYTES = 16 * 1024 * 1024

# Threads of the probe itself (the server, the request being answered) are left out.
probe_threads: set[int] = set()

_STATE_RUNNING = "running"
_PROBE_DIR = os.path.dirname(__file__) + os.sep


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _frame(frame: FrameType) -> dict[str, Any]:
    code = frame.f_code
    return {"function": code.co_qualname, "file": code.co_filename, "line": frame.f_lineno or 0}


def _cap(frames: list[FrameType]) -> tuple[list[dict[str, Any]], int]:
    """Frames as JSON objects, innermost first; a deep stack keeps both ends."""
    omitted = 0
    if len(frames) > MAX_FRAMES:
        half = MAX_FRAMES // 2
        omitted = len(frames) - MAX_FRAMES
        frames = frames[:half] + frames[-half:]
    return [_frame(f) for f in frames], omitted


def _site(rec: _hooks.Record | None) -> dict[str, Any] | None:
    site = _hooks.site(rec)
    if site is None:
        return None
    return {"function": site[0], "file": site[1], "line": site[2]}


def _age(rec: _hooks.Record | None, now: float) -> float | None:
    if rec is None or rec[_hooks.CREATED] < 0:
        return None
    return round(now - rec[_hooks.CREATED], 3)


def _coro_frame(obj: Any) -> FrameType | None:
    for attr in ("cr_frame", "gi_frame", "ag_frame"):
        frame = getattr(obj, attr, None)
        if frame is not None:
            return frame  # type: ignore[no-any-return]
    return None


def _awaited(obj: Any) -> Any:
    for attr in ("cr_await", "gi_yieldfrom", "ag_await"):
        inner = getattr(obj, attr, None)
        if inner is not None:
            return inner
    return None


def describe_awaitable(awaitable: Any) -> dict[str, Any]:
    """What a coroutine awaits, for the document: its type, and a task's id. Shared with the
    pytest plugin, which reads tasks the same way."""
    if isinstance(awaitable, asyncio.Task):
        return {"type": type(awaitable).__name__, "task_id": _hooks.seq_of(awaitable)}
    return {"type": type(awaitable).__name__}


def coro_stack(coro: Any) -> tuple[list[FrameType], dict[str, Any] | None]:
    """(frames innermost first, what the innermost coroutine awaits). Shared with the pytest
    plugin."""
    frames: list[FrameType] = []
    awaiting: dict[str, Any] | None = None
    obj = coro
    for _ in range(1000):
        frame = _coro_frame(obj)
        if frame is None:
            break
        frames.append(frame)
        inner = _awaited(obj)
        if inner is None:
            break
        if _coro_frame(inner) is not None:
            obj = inner
            continue
        awaiting = describe_awaitable(inner)
        break
    frames.reverse()
    return frames, awaiting


def _running_stack(thread_frame: FrameType | None, outer: FrameType) -> list[FrameType] | None:
    """The loop thread's frames from the innermost out to the running task's coroutine frame."""
    frames = _thread_frames(thread_frame)
    for i, frame in enumerate(frames):
        if frame is outer:
            return frames[: i + 1]
    return None


def _tasks_of(loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[Any]]:
    for _ in range(100):
        try:
            return list(asyncio.all_tasks(loop))
        except RuntimeError:  # "Set changed size during iteration": the loop is busy; again
            continue
    return []


def _current_task(loop: asyncio.AbstractEventLoop) -> Any:
    current = getattr(asyncio.tasks, "_current_tasks", None)
    if isinstance(current, dict):
        return current.get(loop)
    return None


def _task_entry(
    task: asyncio.Task[Any],
    loop_number: int,
    running: Any,
    loop_frame: FrameType | None,
    now: float,
) -> dict[str, Any]:
    seq = _hooks.seq_of(task)
    rec = _hooks.record_of(task)
    if task.done():
        state = "cancelled" if task.cancelled() else "done"
    elif task is running:
        state = _STATE_RUNNING
    else:
        state = "pending"
    frames, awaiting = coro_stack(task.get_coro())
    # The future the task waits on (C and Python tasks both keep it): more telling than the
    # iterator of Future.__await__ the coroutine holds.
    waiter = getattr(task, "_fut_waiter", None)
    if waiter is not None:
        awaiting = describe_awaitable(waiter)
    if state == _STATE_RUNNING and frames:
        full = _running_stack(loop_frame, frames[-1])
        if full is not None:
            frames = full
    shown, omitted = _cap(frames)
    return {
        "kind": "asyncio-task",
        "id": seq,
        "name": task.get_name(),
        "state": state,
        "loop": loop_number,
        "age_seconds": _age(rec, now),
        "created_by": _site(rec),
        "parent_id": rec[_hooks.PARENT] if rec is not None else None,
        "awaiting": awaiting,
        "frames": shown,
        "frames_omitted": omitted,
    }


def _thread_frames(frame: FrameType | None) -> list[FrameType]:
    """A thread's frames, innermost first; the probe's own (in the thread building this) skipped."""
    while frame is not None and frame.f_code.co_filename.startswith(_PROBE_DIR):
        frame = frame.f_back
    frames: list[FrameType] = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


def _process() -> dict[str, Any]:
    argv0 = sys.argv[0] if sys.argv else ""
    installed = _hooks.installed_at
    return {
        "pid": os.getpid(),
        "argv0": argv0,
        "runtime": f"{platform.python_implementation()} {platform.python_version()}",
        "host": socket.gethostname(),
        "probe_installed_at": (
            datetime.fromtimestamp(installed, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            if installed is not None
            else None
        ),
    }


def build() -> dict[str, Any]:
    """The whole document as a dict (tasks last)."""
    head, _, entries = _parts()
    head["tasks"] = list(entries)
    return head


def _parts() -> tuple[dict[str, Any], int, Iterator[dict[str, Any]]]:
    """The document without its tasks, how many tasks it has, and its task entries, threads
    first, made one at a time as they are taken (so a cap can stop making them)."""
    captured_at = _now_iso()
    now = time.monotonic()
    current_frames = sys._current_frames()
    threads = threading.enumerate()
    native = {t.ident: t.native_id for t in threads if t.ident is not None}

    loops: list[dict[str, Any]] = []
    task_lists: list[tuple[list[asyncio.Task[Any]], int, Any, FrameType | None]] = []
    for loop in _hooks.known_loops():
        number = _hooks.loop_id(loop)
        ident = getattr(loop, "_thread_id", None)
        loop_frame = current_frames.get(ident) if isinstance(ident, int) else None
        running = _current_task(loop)
        tasks = _tasks_of(loop)
        loops.append(
            {
                "id": number,
                "thread_id": native.get(ident) if isinstance(ident, int) else None,
                "running": loop.is_running(),
                "closed": loop.is_closed(),
                "current_task_id": _hooks.seq_of(running) if running is not None else None,
                "tasks": len(tasks),
            }
        )
        tasks.sort(key=_hooks.seq_of)
        task_lists.append((tasks, number, running, loop_frame))

    thread_entries: list[dict[str, Any]] = []
    seen: set[int] = set()
    for thread in threads:
        ident = thread.ident
        if ident is None or ident in probe_threads:
            continue
        seen.add(ident)
        rec = _hooks.thread_record(thread)
        shown, omitted = _cap(_thread_frames(current_frames.get(ident)))
        thread_entries.append(
            {
                "kind": "thread",
                "id": thread.native_id,
                "ident": ident,
                "name": thread.name,
                "daemon": thread.daemon,
                "age_seconds": _age(rec, now),
                "created_by": _site(rec),
                "frames": shown,
                "frames_omitted": omitted,
            }
        )
    for ident, frame in current_frames.items():
        if ident in seen or ident in probe_threads:
            continue
        shown, omitted = _cap(_thread_frames(frame))
        thread_entries.append(
            {
                "kind": "thread",
                "id": None,
                "ident": ident,
                "name": "",
                "daemon": None,
                "age_seconds": None,
                "created_by": None,
                "frames": shown,
                "frames_omitted": omitted,
            }
        )
    del current_frames  # frames keep their threads' locals alive: let them go at once

    head = {
        "format": FORMAT,
        "version": VERSION,
        "captured_at": captured_at,
        "process": _process(),
        "loops": loops,
        "truncated": False,
        "omitted_tasks": 0,
    }
    total = len(thread_entries) + sum(len(tasks) for tasks, *_ in task_lists)
    task_entries = (
        _task_entry(task, number, running, loop_frame, now)
        for tasks, number, running, loop_frame in task_lists
        for task in tasks
    )
    return head, total, chain(thread_entries, task_entries)


# One document at a time: a second request waits this long for the first, then gets 503. A
# document of 100,000 tasks takes a fraction of a second, and eight at once held the GIL (and
# so the service's event loop) eight times as long and took a gigabyte.
_building = threading.Lock()
WAIT_SECONDS = 2.0


def document(max_bytes: int = DEFAULT_MAX_BYTES, wait: float | None = None) -> bytes | None:
    """The document as JSON, built within ``max_bytes`` (task entries past the cap are not
    made, only counted); None when another document is being built for longer than ``wait``."""
    wait = WAIT_SECONDS if wait is None else wait
    if not (_building.acquire(timeout=wait) if wait > 0 else _building.acquire(False)):
        return None
    try:
        head, total, entries = _parts()
        return _encode(head, total, entries, max_bytes)
    finally:
        _building.release()


def encode(doc: dict[str, Any], max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The document as JSON, cut to ``max_bytes``: tasks past the cap are left out and counted."""
    head = {k: v for k, v in doc.items() if k != "tasks"}
    return _encode(head, len(doc["tasks"]), iter(doc["tasks"]), max_bytes)


def _encode(
    head: dict[str, Any], total: int, entries: Iterator[dict[str, Any]], max_bytes: int
) -> bytes:
    budget = max_bytes - len(json.dumps(head)) - 64
    pieces: list[str] = []
    size = 0
    for entry in entries:
        piece = json.dumps(entry, separators=(",", ":"))
        size += len(piece) + 1
        if size > budget:
            break  # the rest is never made
        pieces.append(piece)
    if len(pieces) < total:
        head["truncated"] = True
        head["omitted_tasks"] = total - len(pieces)
    text = json.dumps(head, separators=(",", ":"))
    return (text[:-1] + ',"tasks":[' + ",".join(pieces) + "]}").encode("ascii")
