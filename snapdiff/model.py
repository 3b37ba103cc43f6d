"""The data model: immutable (frozen, slotted dataclasses; tasks are named tuples) holding tuples.

Stacks are innermost frame first, as every runtime prints them.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter, is_not
from typing import Any, NamedTuple

GOROUTINE = "goroutine"
THREAD = "thread"
ASYNCIO_TASK = "asyncio-task"
# A libuv handle of a Node.js process (socket, timer, pipe...): one frame, (role, endpoint).
LIBUV_HANDLE = "libuv-handle"

# Flags a task can carry. Kept as plain strings so a snapshot file stays readable.
FLAG_LOCKED = "locked-to-thread"
FLAG_LEAKED = "leaked"  # Go 1.26+: the collector proved the goroutine can never run again
FLAG_DURABLE = "durable"  # Go synctest: durably blocked inside a bubble
FLAG_SCAN = "scan"
FLAG_ELIDED = "frames-elided"  # the runtime cut the middle or end of the stack
FLAG_PARTIAL = "partial"  # the dump was cut inside this task's block
FLAG_NO_STACK = "no-stack"  # the runtime printed no frames (running on another thread)
FLAG_DAEMON = "daemon"
FLAG_ACTIVE = "active"
FLAG_OWNS_GIL = "owns-gil"


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame. ``line`` is 0 when the dump does not say."""

    function: str
    file: str = ""
    line: int = 0

    def location(self) -> str:
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def short_location(self) -> str:
        """The file's last two path parts and the line: enough to find it, short enough to read."""
        if not self.file:
            return ""
        parts = self.file.replace("\\", "/").rsplit("/", 2)
        short = "/".join(parts[-2:])
        return f"{short}:{self.line}" if self.line else short


class Task(NamedTuple):
    """A goroutine, thread or asyncio task (or, with ``count > 1``, that many identical ones).

    ``id`` is the runtime's own id where the dump has one: Go goroutine ids are never reused;
    Python thread ids are, so thread identity is (id, name).

    A named tuple rather than a frozen dataclass: as immutable, and a million of them are made
    from columns by C code alone (:data:`make_task`), at a fifth of the cost of setting slots.
    """

    kind: str
    frames: tuple[Frame, ...]
    id: int | None = None
    name: str = ""
    state: str = ""
    wait_minutes: int | None = None
    created_by: Frame | None = None
    creator_id: int | None = None
    labels: tuple[tuple[str, str], ...] = ()
    flags: tuple[str, ...] = ()
    count: int = 1  # type: ignore[assignment]  # shadows tuple.count, which no code calls
    # (frame index, name, value repr): only present when the user asked to keep locals.
    locals: tuple[tuple[int, str, str], ...] = ()

    @property
    def entry(self) -> Frame | None:
        """The outermost frame: where the task started running."""
        return self.frames[-1] if self.frames else None

    @property
    def leaf(self) -> Frame | None:
        """The innermost frame: where the task is now (blocked or running)."""
        return self.frames[0] if self.frames else None


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where a snapshot came from and when."""

    format: str
    origin: str
    captured_at: str | None = None  # ISO 8601, UTC, "Z"
    producer: str | None = None  # e.g. "go", "py-spy 0.4.3", "python 3.12.1"
    detail: str = (
        ""  # what the reader recognised, e.g. "Go >= 1.21 (created by ... in goroutine N)"
    )
    pid: int | None = None
    host: str | None = None
    capture: tuple[
        tuple[str, str], ...
    ] = ()  # how it was captured (tool, duration, HTTP status...)


@dataclass(frozen=True, slots=True)
class Snapshot:
    source: SourceInfo
    tasks: tuple[Task, ...]
    warnings: tuple[str, ...] = ()
    truncated: bool = False
    # Lines the reader did not understand and skipped (log lines around a dump, register dumps).
    skipped_lines: int = 0
    extra: tuple[tuple[str, str], ...] = field(default=())

    # C-level passes (map over the tasks' fields): a snapshot may hold a million tasks.
    @property
    def total(self) -> int:
        return sum(map(_COUNT, self.tasks))

    @property
    def has_ids(self) -> bool:
        return bool(self.tasks) and None not in map(_ID, self.tasks)

    @property
    def max_id(self) -> int | None:
        return max(filter(_NOT_NONE, map(_ID, self.tasks)), default=None)


_COUNT = attrgetter("count")
_ID = attrgetter("id")
_NOT_NONE = partial(is_not, None)

# ``make_task(values)``: a Task from a tuple of all twelve fields in order, with no Python code
# run; ``map(make_task, zip(*columns))`` builds a million tasks in C.
make_task: Callable[[Iterable[Any]], Task] = partial(tuple.__new__, Task)


def new_task(
    kind: str,
    frames: tuple[Frame, ...],
    id: int | None,
    name: str,
    state: str,
    wait_minutes: int | None,
    created_by: Frame | None,
    creator_id: int | None,
    labels: tuple[tuple[str, str], ...],
    flags: tuple[str, ...],
    count: int = 1,
    locals: tuple[tuple[int, str, str], ...] = (),
) -> Task:
    """``Task(...)`` with every field given, for readers that make a million of them: skips the
    named tuple's keyword handling (0.18 us a task against 0.38 us)."""
    return _tuple_new(
        Task,
        (
            kind,
            frames,
            id,
            name,
            state,
            wait_minutes,
            created_by,
            creator_id,
            labels,
            flags,
            count,
            locals,
        ),
    )


_tuple_new = tuple.__new__


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a model is built: its objects hold no cycles, and the
    collector's passes over a million new tuples cost more than building them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():
                # Straight to the oldest generation, unscanned: the collector's next young
                # pass would otherwise walk every object just made (0.1 to 0.2 s a million
                # tasks). Not when the program froze objects of its own: they stay frozen.
                gc.freeze()
                gc.unfreeze()
            gc.enable()
