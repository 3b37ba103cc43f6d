"""Recording creation sites: an asyncio task factory and a ``threading.Thread.start`` wrapper.

For each task the factory keeps one small tuple, a :data:`Record`: a sequence number (the probe's
id clock: it grows with every creation and is never reused), the monotonic creation time, the
creation site as the code object and instruction offset of one frame (the line number is worked
out only when a snapshot shows it: reading ``f_lineno`` costs more than the rest of the record)
and the parent task's number. No traceback objects, no frame references, no locals.

The creation site is the first frame, walking out from the call, that is neither in asyncio's own
files nor in the probe: the line that called ``create_task``, ``ensure_future``,
``TaskGroup.create_task``, ``gather`` and so on. When the call came from the event loop itself (a
protocol callback such as ``asyncio.start_server`` creating a task per connection), the walk stops
at the loop's callback runner and the site is the asyncio frame that created the task.

The record sits on the task object (an attribute) or, for task types that take no attributes, in a
:class:`weakref.WeakKeyDictionary`; threads keep theirs in a ``WeakKeyDictionary``.
"""

from __future__ import annotations

import asyncio
import asyncio.events
import concurrent.futures
import itertools
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, Final

ATTR = "_snapdiff_probe"

# (seq, created: time.monotonic() or -1.0 when unknown, site code or None, site f_lasti,
#  parent seq or None). A plain tuple: building a NamedTuple costs a Python-level call.
Record = tuple[int, float, CodeType | None, int, int | None]
SEQ: Final = 0
CREATED: Final = 1
CODE: Final = 2
LASTI: Final = 3
PARENT: Final = 4


# The id clock. next() on itertools.count is atomic under the GIL: the loop thread and the
# probe's thread (numbering tasks created before the factory was installed) share it safely.
_clock = itertools.count(1)
next_seq = _clock.__next__

_ASYNCIO_DIR = os.path.dirname(asyncio.__file__) + os.sep
_THREADING_FILE = threading.__file__
_PROBE_DIR = os.path.dirname(__file__) + os.sep
# Thread pools start their threads from inside the standard library: the site that says
# something is the caller of submit()/run_in_executor()/to_thread(), above these files.
_POOL_DIRS = (os.path.dirname(concurrent.futures.__file__) + os.sep, _ASYNCIO_DIR)
# The loop runs every callback through Handle._run: frames beyond it are the loop's machinery.
_BOUNDARY = asyncio.events.Handle._run.__code__

_USER, _ASYNCIO, _SKIP = 0, 1, 2
_kinds: dict[str, int] = {}

_task_records: weakref.WeakKeyDictionary[Any, Record] = weakref.WeakKeyDictionary()
_thread_records: weakref.WeakKeyDictionary[threading.Thread, Record] = weakref.WeakKeyDictionary()
_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_loop_ids: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()
_loop_clock = itertools.count(1)
_lock = threading.Lock()
_original_start: Callable[[threading.Thread], None] | None = None
installed_at: float | None = None  # time.time() of the first install


def _kind(filename: str) -> int:
    kind = _kinds.get(filename)
    if kind is None:
        if filename.startswith(_PROBE_DIR):
            kind = _SKIP
        elif filename.startswith(_ASYNCIO_DIR):
            kind = _ASYNCIO
        else:
            kind = _USER
        _kinds[filename] = kind
    return kind


def task_site(frame: FrameType | None) -> FrameType | None:
    """The first frame outside asyncio and the probe; the loop's own creator when there is none."""
    fallback: FrameType | None = None
    while frame is not None:
        code = frame.f_code
        if code is _BOUNDARY:
            break
        kind = _kinds.get(code.co_filename)
        if kind is None:
            kind = _kind(code.co_filename)
        if kind == _USER:
            return frame
        if kind == _ASYNCIO:
            fallback = frame
        frame = frame.f_back
    return fallback


def thread_site(frame: FrameType | None) -> FrameType | None:
    """The first frame outside threading.py, the probe and the standard thread pools
    (concurrent.futures, asyncio); the first outside threading.py when there is none."""
    fallback: FrameType | None = None
    while frame is not None:
        name = frame.f_code.co_filename
        if name != _THREADING_FILE and not name.startswith(_PROBE_DIR):
            if not name.startswith(_POOL_DIRS):
                return frame
            if fallback is None:
                fallback = frame
        frame = frame.f_back
    return fallback


_lines: dict[tuple[CodeType, int], int] = {}


def line_of(code: CodeType, lasti: int) -> int:
    """The line of the instruction at byte offset ``lasti`` (what ``f_lineno`` would have said)."""
    key = (code, lasti)
    line = _lines.get(key)
    if line is None:
        line = 0
        for start, end, number in code.co_lines():
            if start <= lasti < end:
                line = number or 0
                break
        if not line:
            line = code.co_firstlineno
        _lines[key] = line
    return line


def site(rec: Record | None) -> tuple[str, str, int] | None:
    """(function, file, line) of a record's creation site."""
    if rec is None:
        return None
    code = rec[CODE]
    if code is None:
        return None
    return code.co_qualname, code.co_filename, line_of(code, rec[LASTI])


def record_of(task: Any) -> Record | None:
    rec = getattr(task, ATTR, None)
    if rec is None:
        rec = _task_records.get(task)
    return rec if type(rec) is tuple else None


def seq_of(task: Any) -> int:
    """The task's number; a task created before the factory was installed gets one now."""
    rec = record_of(task)
    if rec is not None:
        return rec[SEQ]
    with _lock:
        rec = record_of(task)
        if rec is None:
            rec = (next_seq(), -1.0, None, 0, None)
            _store(task, rec)
    return rec[SEQ]


def _store(task: Any, rec: Record) -> None:
    try:
        setattr(task, ATTR, rec)
    except (AttributeError, TypeError):
        _task_records[task] = rec


def _make_factory(previous: Callable[..., Any] | None) -> Callable[..., Any]:
    # Everything the factory calls is bound here and the frame walk of task_site is inlined:
    # this runs for every task the service creates.
    current_task = asyncio.current_task
    monotonic = time.monotonic
    getframe = sys._getframe
    kinds = _kinds
    classify = _kind
    boundary = _BOUNDARY
    Task = asyncio.Task

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        if previous is None:
            task = Task(coro, loop=loop, **kwargs)
        else:
            task = previous(loop, coro, **kwargs)
        frame: FrameType | None = getframe(1)
        fallback = None
        while frame is not None:
            code = frame.f_code
            if code is boundary:
                frame = fallback
                break
            kind = kinds.get(code.co_filename)
            if kind is None:
                kind = classify(code.co_filename)
            if kind == _USER:
                break
            if kind == _ASYNCIO:
                fallback = frame
            frame = frame.f_back
        else:
            frame = fallback
        parent = current_task(loop)
        parent_seq = None
        if parent is not None:
            parent_rec = getattr(parent, ATTR, None)
            parent_seq = parent_rec[0] if type(parent_rec) is tuple else seq_of(parent)
        if frame is None:
            rec: Record = (next_seq(), monotonic(), None, 0, parent_seq)
        else:
            rec = (next_seq(), monotonic(), frame.f_code, frame.f_lasti, parent_seq)
        try:
            setattr(task, ATTR, rec)
        except (AttributeError, TypeError):
            _task_records[task] = rec
        return task

    factory._snapdiff_probe_previous = previous  # type: ignore[attr-defined]
    return factory


def is_probe_factory(factory: object) -> bool:
    return hasattr(factory, "_snapdiff_probe_previous")


def loop_id(loop: asyncio.AbstractEventLoop) -> int:
    with _lock:
        number = _loop_ids.get(loop)
        if number is None:
            number = _loop_ids[loop] = next(_loop_clock)
    return number


def install_on(loop: asyncio.AbstractEventLoop) -> None:
    """Record creation sites of the tasks of ``loop`` from now on, and list its tasks."""
    _mark_installed()
    factory = loop.get_task_factory()
    if not is_probe_factory(factory):
        loop.set_task_factory(_make_factory(factory))
    _loops.add(loop)
    loop_id(loop)


def uninstall_from(loop: asyncio.AbstractEventLoop) -> None:
    factory = loop.get_task_factory()
    if is_probe_factory(factory):
        loop.set_task_factory(factory._snapdiff_probe_previous)  # type: ignore[union-attr]
    _loops.discard(loop)


def known_loops() -> list[asyncio.AbstractEventLoop]:
    for _ in range(100):
        try:
            return list(_loops)
        except RuntimeError:  # the set changed size during iteration
            continue
    return []


def _mark_installed() -> None:
    global installed_at
    if installed_at is None:
        installed_at = time.time()


def install_thread_hook() -> None:
    global _original_start
    _mark_installed()
    with _lock:
        if _original_start is not None:
            return
        original = threading.Thread.start
        _original_start = original
        getframe = sys._getframe
        monotonic = time.monotonic

        def start(self: threading.Thread) -> None:
            frame = thread_site(getframe(1))
            rec: Record = (
                0,
                monotonic(),
                frame.f_code if frame is not None else None,
                frame.f_lasti if frame is not None else 0,
                None,
            )
            _thread_records[self] = rec
            original(self)

        start.__wrapped__ = original  # type: ignore[attr-defined]
        threading.Thread.start = start  # type: ignore[method-assign]


def uninstall_thread_hook() -> None:
    global _original_start
    with _lock:
        if _original_start is not None:
            threading.Thread.start = _original_start  # type: ignore[method-assign,assignment]
            _original_start = None


def thread_record(thread: threading.Thread) -> Record | None:
    return _thread_records.get(thread)
