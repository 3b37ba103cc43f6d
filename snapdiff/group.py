"""Grouping tasks: what a "site" is, and the stricter or looser keys beside it.

``site``  (default) where the task was created: Go's ``created by`` function and the file:line
          of the ``go`` statement; a Python thread's target (the first frame above threading's
          bootstrap frames) with its name pattern; an asyncio task's ``create_task`` call site
          where the source records it; a libuv handle's type and endpoint (its one frame:
          ``tcp connected to`` ``127.0.0.1:8080``). Falls back to ``entry`` when a task has none.
          A JVM thread's entry method (the first frame above ``Thread.run`` and the frames of a
          thread-per-task executor) with its name pattern: a pool made per request and a
          server's pool have the same stack and differ only in their names.
``entry`` the outermost frame's function and file: where the task started running.
``leaf``  the innermost frame outside Go's runtime package, with its file:line: where the task
          is blocked now.
``stack`` the whole normalised stack (functions and file:line, no arguments or offsets).

Every group says which key it was made with (:attr:`GroupKey.by`), so a report can tell a
creation site from a fallback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from snapdiff.model import ASYNCIO_TASK, GOROUTINE, LIBUV_HANDLE, THREAD, Frame, Task


class GroupBy(StrEnum):
    SITE = "site"
    ENTRY = "entry"
    LEAF = "leaf"
    STACK = "stack"


@dataclass(frozen=True, slots=True)
class GroupKey:
    by: str  # the key actually used: site, entry (also as the fallback of site), leaf, stack, none
    kind: str
    function: str
    file: str = ""
    line: int = 0
    name_pattern: str = ""
    stack: tuple[Frame, ...] = ()

    def location(self) -> str:
        return Frame(self.function, self.file, self.line).location()

    def label(self) -> str:
        if self.kind == LIBUV_HANDLE:
            return f"{self.function} {self.file}".strip()
        short = Frame(self.function, self.file, self.line).short_location()
        text = self.function or "(no stack)"
        if short:
            text += f" ({short})"
        if self.name_pattern:
            text += f" [{self.name_pattern}]"
        return text


_DIGITS = re.compile(r"\d+")
_THREAD_BOOTSTRAP = frozenset(
    {
        "_bootstrap",
        "_bootstrap_inner",
        "run",
        "Thread._bootstrap",
        "Thread._bootstrap_inner",
        "Thread.run",
    }
)

# The outermost frames of JVM threads: a stack that ends in one of these is a JVM thread's.
_JVM_ROOTS = frozenset(
    {
        "java.lang.Thread.run",
        "java.lang.Thread.runWith",
        "java.lang.VirtualThread.run",
        "jdk.internal.misc.InnocuousThread.run",
        "jdk.internal.vm.Continuation.enter",
        "jdk.internal.vm.Continuation.enter0",
        "jdk.internal.vm.Continuation.enterSpecial",
    }
)
# Frames that say nothing of what a JVM thread is for: how the JVM starts a thread, how a
# thread-per-task executor (virtual threads) runs its one task, a lambda's generated class.
_JVM_BOOTSTRAP = _JVM_ROOTS | {
    "java.lang.VirtualThread$VThreadContinuation$1.run",
    "jdk.internal.vm.Continuation.run",
    "java.util.concurrent.ThreadPerTaskExecutor$TaskRunner.run",
    "java.util.concurrent.ThreadPerTaskExecutor$ThreadBoundFuture.run",
    "java.util.concurrent.FutureTask.run",
    "java.util.concurrent.Executors$RunnableAdapter.call",
}
_JVM_FILES = (".java", ".kt", ".scala", ".groovy", ".clj")


def name_pattern(name: str) -> str:
    """``ThreadPoolExecutor-45_0`` -> ``ThreadPoolExecutor-N_N``: counters in names are clocks."""
    return _DIGITS.sub("N", name)


def is_native(frame: Frame) -> bool:
    """A C frame in a Python stack (py-spy --native): a shared library or a C source file.
    JVM frames (``Foo.java``) are not native: see :func:`is_jvm_stack`."""
    file = frame.file
    return not file.endswith(".py") and not file.startswith("<") and not file.endswith(_JVM_FILES)


def is_jvm_stack(frames: tuple[Frame, ...]) -> bool:
    """A JVM thread's stack: it starts in ``Thread.run`` (or the like) or in a JVM source file."""
    if not frames:
        return False
    outer = frames[-1]
    return outer.function in _JVM_ROOTS or outer.file.endswith(_JVM_FILES)


def jvm_entry(frames: tuple[Frame, ...]) -> Frame:
    """A JVM thread's entry method: the outermost frame past the JVM's own start-up frames
    (``Thread.run``, a virtual thread's executor, a lambda's generated ``run``); for a pool
    worker, ``ThreadPoolExecutor$Worker.run``. ``frames`` must not be empty."""
    for frame in reversed(frames):
        function = frame.function
        if function in _JVM_BOOTSTRAP or "$$Lambda." in function:
            continue
        return frame
    return frames[0]


def entry_frame(task: Task) -> Frame | None:
    """The outermost frame; for threads, the thread's target (or the outermost Python frame):
    every thread starts in threading's bootstrap, which says nothing."""
    if task.kind == THREAD:
        if is_jvm_stack(task.frames):
            return jvm_entry(task.frames)
        target = thread_target(task.frames)
        if target is not None:
            return target
        for frame in reversed(task.frames):
            if not is_native(frame):
                return frame
    return task.entry


def blocking_frame(task: Task) -> Frame | None:
    """Where the task waits: the innermost frame outside Go's runtime package (whose
    ``gopark``/``selectgo`` frames, shown under GOTRACEBACK=system, say nothing about the caller).
    """
    return blocking_frame_of(task.frames)


def blocking_frame_of(frames: tuple[Frame, ...]) -> Frame | None:
    """:func:`blocking_frame` of a stack (innermost first); None for an empty one."""
    for frame in frames:
        if not frame.function.startswith("runtime."):
            return frame
    return frames[0] if frames else None


def thread_target(frames: tuple[Frame, ...]) -> Frame | None:
    """The first frame above threading's bootstrap frames (outermost first), if it has them."""
    saw_bootstrap = False
    for frame in reversed(frames):
        if is_native(frame):
            continue
        if frame.file.endswith("threading.py"):
            if frame.function in _THREAD_BOOTSTRAP:
                saw_bootstrap = True
                continue
            # Still inside threading (a thread caught while starting, before its target runs).
            return None
        return frame if saw_bootstrap else None
    return None


def _file_key(task: Task, path: str) -> str:
    """Python frames are keyed by file name alone: py-spy's text has only names where its JSON
    has full paths, and the two must group alike."""
    if task.kind == GOROUTINE or task.kind == LIBUV_HANDLE:
        return path
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _entry_key(task: Task, by: str = "entry") -> GroupKey:
    entry = entry_frame(task)
    if entry is None:
        return GroupKey("none", task.kind, "", name_pattern=_pattern(task))
    return GroupKey(
        by, task.kind, entry.function, _file_key(task, entry.file), name_pattern=_pattern(task)
    )


def _pattern(task: Task) -> str:
    return name_pattern(task.name) if task.kind == THREAD and task.name else ""


def site_key(task: Task) -> GroupKey:
    if task.kind == LIBUV_HANDLE and task.frames:
        # The reader puts the handle's type and stable endpoint in its one frame.
        return GroupKey("site", task.kind, task.frames[0].function, task.frames[0].file)
    if task.created_by is not None and task.created_by.function:
        cb = task.created_by
        if task.kind == ASYNCIO_TASK or task.kind == THREAD:
            return GroupKey(
                "site", task.kind, cb.function, _file_key(task, cb.file), cb.line, _pattern(task)
            )
        return GroupKey("site", task.kind, cb.function, cb.file, cb.line)
    if task.kind == THREAD:
        target = jvm_entry(task.frames) if is_jvm_stack(task.frames) else thread_target(task.frames)
        if target is not None:
            return GroupKey(
                "site", task.kind, target.function, _file_key(task, target.file), 0, _pattern(task)
            )
    return _entry_key(task)


def key_for(task: Task, by: GroupBy) -> GroupKey:
    if by is GroupBy.SITE:
        return site_key(task)
    if by is GroupBy.ENTRY:
        return _entry_key(task)
    if by is GroupBy.LEAF:
        leaf = blocking_frame(task)
        if leaf is None:
            return GroupKey("none", task.kind, "")
        return GroupKey("leaf", task.kind, leaf.function, leaf.file, leaf.line)
    stack = task.frames + ((task.created_by,) if task.created_by is not None else ())
    top = blocking_frame(task)
    return GroupKey(
        "stack",
        task.kind,
        top.function if top else "",
        top.file if top else "",
        top.line if top else 0,
        stack=stack,
    )


def group(tasks: Iterable[Task], by: GroupBy = GroupBy.SITE) -> dict[GroupKey, list[Task]]:
    """Tasks by key, in first-seen order (deterministic for a given input)."""
    groups: dict[GroupKey, list[Task]] = {}
    # A key depends only on the kind, stack, creator and name, which a dump's readers share
    # between tasks (one tuple per distinct stack): the key is made once per combination.
    # Objects are told apart by identity; the first task of each combination is held, so no
    # identity can be reused while the loop runs.
    seen: dict[tuple[str, int, int, str], tuple[list[Task], Task]] = {}
    for task in tasks:
        combo = (task.kind, id(task.frames), id(task.created_by), task.name)
        known = seen.get(combo)
        if known is None:
            members = groups.setdefault(key_for(task, by), [])
            seen[combo] = (members, task)
        else:
            members = known[0]
        members.append(task)
    return groups
