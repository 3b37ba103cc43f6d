"""What is running now: the threads and unfinished asyncio tasks of this process, and which of
them appeared since a baseline, with the creation sites the probe's hooks recorded.

The hooks are the probe's (:mod:`snapdiff.probe._hooks`): the ``Thread.start`` wrapper, and the
task factory, which the plugin puts on every event loop as it is made (a wrapper around
``BaseEventLoop.__init__``: pytest-asyncio, anyio and ``asyncio.run`` all make theirs that way).

Test runners close their loop with ``asyncio.Runner.close()``, which cancels every task still
pending: a task that would never have ended is cancelled there and gone before the test's
teardown ends. The plugin wraps the function that does it (``asyncio.runners._cancel_all_tasks``):
before the runner cancels them, the loop runs for up to the grace period so that tasks about to
end can end, and those still pending are recorded as left behind.
"""

from __future__ import annotations

import asyncio
import asyncio.base_events
import asyncio.runners
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from snapdiff.model import Frame
from snapdiff.probe import _hooks, _snapshot
from snapdiff.pytest_plugin._rules import Candidate

MAX_FRAMES = 64
_THREADING_FILE = threading.__file__
_BOOTSTRAP = frozenset({"Thread._bootstrap", "Thread._bootstrap_inner", "Thread.run"})

THREAD = "thread"
TASK = "asyncio-task"

ALIVE = "alive"
PENDING = "pending"
SHUT_DOWN = "pending when its loop was shut down"
CLOSED = "pending in a closed loop"


@dataclass(frozen=True, slots=True)
class Found:
    """One thread or task left behind."""

    kind: str
    name: str
    site: Frame | None  # the line that started or created it, when the hooks saw it
    entry: Frame | None  # the thread's target or the task's outermost coroutine
    frames: tuple[Frame, ...]  # innermost first, at most MAX_FRAMES
    waiting: str  # where it waits: innermost frame, and for a task what it awaits
    state: str
    daemon: bool | None
    created: float  # time.monotonic() at creation, -1.0 when unknown

    @property
    def key(self) -> tuple[str, str, int]:
        frame = self.site or self.entry
        if frame is None:
            return (f"<{self.kind} {self.name}>", "", 0)
        return (frame.function, frame.file, frame.line)

    @property
    def entry_key(self) -> tuple[str, str]:
        return (self.entry.function, self.entry.file) if self.entry is not None else ("", "")

    def candidate(self) -> Candidate:
        return Candidate(self.kind, self.name, self.site, self.frames, self.key, self.entry_key)


def _frames(frame: FrameType | None) -> list[FrameType]:
    out: list[FrameType] = []
    while frame is not None:
        out.append(frame)
        frame = frame.f_back
    return out


def _frame(f: FrameType) -> Frame:
    code = f.f_code
    return Frame(code.co_qualname, code.co_filename, f.f_lineno or 0)


def _site(rec: _hooks.Record | None) -> Frame | None:
    site = _hooks.site(rec)
    return Frame(*site) if site is not None else None


def _where(frames: tuple[Frame, ...]) -> str:
    if not frames:
        return "(no Python frame)"
    top = frames[0]
    return f"{top.function} ({top.short_location()})"


def _stack_of(thread: threading.Thread) -> FrameType | None:
    ident = thread.ident
    return sys._current_frames().get(ident) if ident is not None else None


def describe_thread(thread: threading.Thread, stack: FrameType | None) -> Found:
    raw = _frames(stack)
    # threading's bootstrap frames say nothing: the entry is the frame they call (the target,
    # or a subclass's run(), or Timer.run)
    while (
        len(raw) > 1
        and raw[-1].f_code.co_filename == _THREADING_FILE
        and raw[-1].f_code.co_qualname in _BOOTSTRAP
    ):
        raw.pop()
    frames = tuple(_frame(f) for f in raw[:MAX_FRAMES])
    entry = _frame(raw[-1]) if raw else None
    rec = _hooks.thread_record(thread)
    return Found(
        THREAD,
        thread.name,
        _site(rec),
        entry,
        frames,
        _where(frames),
        ALIVE,
        thread.daemon,
        rec[_hooks.CREATED] if rec is not None else -1.0,
    )


def describe_task(task: asyncio.Task[Any], state: str) -> Found:
    raw, awaiting = _snapshot.coro_stack(task.get_coro())
    waiter = getattr(task, "_fut_waiter", None)
    if waiter is not None:
        awaiting = _snapshot.describe_awaitable(waiter)
    frames = tuple(_frame(f) for f in raw[:MAX_FRAMES])
    entry = _frame(raw[-1]) if raw else None
    rec = _hooks.record_of(task)
    where = _where(frames)
    if awaiting is not None:
        where += f" awaiting a {awaiting['type']}"
    return Found(
        TASK,
        task.get_name(),
        _site(rec),
        entry,
        frames,
        where,
        state,
        None,
        rec[_hooks.CREATED] if rec is not None and rec[_hooks.CREATED] >= 0 else -1.0,
    )


@dataclass(slots=True)
class Baseline:
    """What was running at one moment: the threads (held, they are few) and the tasks (weakly)."""

    threads: frozenset[threading.Thread]
    tasks: weakref.WeakSet[asyncio.Task[Any]]
    at: float

    def is_new_task(self, task: asyncio.Task[Any]) -> bool:
        return task not in self.tasks

    def absorb(self, objects: Iterable[object]) -> None:
        """Count ``objects`` (threads and tasks already reported by a narrower check) as
        running at this baseline, so that a wider check does not report them again."""
        objects = list(objects)
        self.threads = self.threads | {o for o in objects if isinstance(o, threading.Thread)}
        self.tasks.update(o for o in objects if isinstance(o, asyncio.Task))


def _loop_tasks(loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[Any]]:
    for _ in range(100):
        try:
            return [t for t in asyncio.all_tasks(loop) if not t.done()]
        except RuntimeError:  # the set changed size under us (a loop in another thread)
            continue
    return []


def baseline() -> Baseline:
    tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
    for loop in _hooks.known_loops():
        tasks.update(_loop_tasks(loop))
    return Baseline(frozenset(threading.enumerate()), tasks, time.monotonic())


def new_live(base: Baseline) -> Iterator[tuple[object, Callable[[], Found]]]:
    """(object, how to describe it) for each thread and unfinished task newer than ``base``."""
    me = threading.current_thread()
    for thread in threading.enumerate():
        if thread in base.threads or thread is me or not thread.is_alive():
            continue
        if thread.ident in _snapshot.probe_threads:
            continue
        yield thread, (lambda t=thread: describe_thread(t, _stack_of(t)))  # type: ignore[misc]
    for loop in _hooks.known_loops():
        state = CLOSED if loop.is_closed() else PENDING
        for task in _loop_tasks(loop):
            if base.is_new_task(task):
                yield task, (lambda t=task, s=state: describe_task(t, s))  # type: ignore[misc]


def running() -> list[Found]:
    """Every thread and unfinished task alive now (but this thread)."""
    return [describe() for _, describe in new_live(Baseline(frozenset(), weakref.WeakSet(), 0.0))]


def still_there(obj: object) -> bool:
    if isinstance(obj, threading.Thread):
        return obj.is_alive()
    if isinstance(obj, asyncio.Future):
        return not obj.done()
    return False


def can_end(obj: object) -> bool:
    """Whether waiting can help: a thread can end; a task only if its loop runs meanwhile."""
    if isinstance(obj, threading.Thread):
        return True
    if isinstance(obj, asyncio.Future):
        loop = obj.get_loop()
        return loop.is_running() and not loop.is_closed()
    return False


def settle(
    base: Baseline,
    grace: float,
    ignored: Callable[[Found], bool],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    objects: list[object] | None = None,
) -> list[Found]:
    """What newer than ``base`` is still there after up to ``grace`` seconds (ignored ones left
    out). Polls with a short, growing interval; returns at once when nothing is left that could
    still end. ``objects``, when given, receives the threads and tasks returned."""
    deadline = clock() + grace
    pending: list[tuple[object, Callable[[], Found]]] = []
    for obj, describe in new_live(base):
        if not ignored(describe()):
            pending.append((obj, describe))
    interval = 0.001
    while pending:
        pending = [(o, d) for o, d in pending if still_there(o)]
        if not any(can_end(o) for o, _ in pending):
            break
        left = deadline - clock()
        if left <= 0:
            break
        sleep(min(interval, left))
        interval = min(interval * 2, 0.05)
    if objects is not None:
        objects.extend(o for o, _ in pending)
    return [d() for _, d in pending]


# -- hooks installed for the session ---------------------------------------------------------


class Reaper:
    """Sees the tasks a runner is about to cancel when it closes its loop."""

    def __init__(self) -> None:
        self.base: Baseline | None = None
        self.grace = 0.0
        self.ignored: Callable[[Found], bool] = lambda f: False
        self.found: list[Found] = []

    def before_cancel(self, loop: asyncio.AbstractEventLoop) -> None:
        base = self.base
        if base is None or loop.is_running() or loop.is_closed():
            return
        tasks = [t for t in _loop_tasks(loop) if base.is_new_task(t)]
        tasks = [t for t in tasks if not self.ignored(describe_task(t, SHUT_DOWN))]
        if tasks and self.grace > 0:
            waiting = asyncio.wait(tasks, timeout=self.grace)
            try:
                loop.run_until_complete(waiting)
            except Exception:  # never let the check break the runner's own shutdown
                waiting.close()
        self.found.extend(describe_task(t, SHUT_DOWN) for t in tasks if not t.done())

    def take(self) -> list[Found]:
        found, self.found = self.found, []
        return found


_state: dict[str, Any] = {}


def install(reaper: Reaper) -> None:
    """The probe's thread hook, its task factory on every new loop, and the reaper."""
    if _state:
        return
    _hooks.install_thread_hook()
    init = asyncio.base_events.BaseEventLoop.__init__
    cancel_all = asyncio.runners._cancel_all_tasks  # type: ignore[attr-defined]

    def loop_init(self: asyncio.base_events.BaseEventLoop, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        _hooks.install_on(self)

    def cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
        try:
            reaper.before_cancel(loop)
        finally:
            cancel_all(loop)

    _state.update(init=init, cancel_all=cancel_all)
    asyncio.base_events.BaseEventLoop.__init__ = loop_init  # type: ignore[method-assign,assignment]
    asyncio.runners._cancel_all_tasks = cancel_all_tasks  # type: ignore[attr-defined]
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None:
        _hooks.install_on(running)


def uninstall() -> None:
    if not _state:
        return
    asyncio.base_events.BaseEventLoop.__init__ = _state["init"]  # type: ignore[method-assign]
    asyncio.runners._cancel_all_tasks = _state["cancel_all"]  # type: ignore[attr-defined]
    _state.clear()
    for loop in _hooks.known_loops():
        _hooks.uninstall_from(loop)
    _hooks.uninstall_thread_hook()
