"""Grouping tasks: what a "site" is, and the stricter or looser keys beside it.

``site``  (default) where the task was created: the creation site its reader found (Go's
          ``created by`` line, the call that started a thread or task where the source records
          it), else what its runtime calls its site (a Python thread's target, a JVM thread's
          entry method), with the runtime's name pattern (``pool-N-thread-N``); a resource's
          type and endpoint (a Node.js socket). Falls back to ``entry`` when a task has none.
``entry`` where the task started running, as its runtime sees it, and the file.
``leaf``  where the task is blocked now: the frame its runtime says it waits in, with file:line.
``stack`` the whole normalised stack (functions and file:line, no arguments or offsets).

Every group says which key it was made with (:attr:`GroupKey.by`), so a report can tell a
creation site from a fallback. What differs between runtimes is asked of the snapshot's
:class:`~snapdiff.runtime.Runtime`; this module names none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from snapdiff.model import Frame, Task
from snapdiff.runtime import Runtime, name_pattern
from snapdiff.runtimes import task_kind

__all__ = [
    "GroupBy",
    "GroupKey",
    "blocking_frame",
    "entry_frame",
    "group",
    "key_for",
    "name_pattern",
    "site_key",
]


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
        if task_kind(self.kind).resource:
            return f"{self.function} {self.file}".strip()
        short = Frame(self.function, self.file, self.line).short_location()
        text = self.function or "(no stack)"
        if short:
            text += f" ({short})"
        if self.name_pattern:
            text += f" [{self.name_pattern}]"
        return text


def entry_frame(task: Task, rt: Runtime) -> Frame | None:
    """Where the task started running, as its runtime sees it."""
    return rt.entry_frame(task)


def blocking_frame(task: Task, rt: Runtime) -> Frame | None:
    """Where the task waits, as its runtime sees it."""
    return rt.blocking_frame(task.frames)


def _entry_key(task: Task, rt: Runtime, by: str = "entry") -> GroupKey:
    entry = rt.entry_frame(task)
    if entry is None:
        return GroupKey("none", task.kind, "", name_pattern=rt.pattern(task))
    return GroupKey(
        by, task.kind, entry.function, rt.file_key(task, entry.file), name_pattern=rt.pattern(task)
    )


def site_key(task: Task, rt: Runtime) -> GroupKey:
    resource = rt.resource_site(task)
    if resource is not None:
        return GroupKey("site", task.kind, *resource)
    cb = task.created_by
    if cb is not None and cb.function:
        return GroupKey(
            "site", task.kind, cb.function, rt.file_key(task, cb.file), cb.line, rt.pattern(task)
        )
    target = rt.implicit_site(task)
    if target is not None:
        return GroupKey(
            "site", task.kind, target.function, rt.file_key(task, target.file), 0, rt.pattern(task)
        )
    return _entry_key(task, rt)


def key_for(task: Task, by: GroupBy, rt: Runtime) -> GroupKey:
    if by is GroupBy.SITE:
        return site_key(task, rt)
    if by is GroupBy.ENTRY:
        return _entry_key(task, rt)
    if by is GroupBy.LEAF:
        leaf = rt.blocking_frame(task.frames)
        if leaf is None:
            return GroupKey("none", task.kind, "")
        return GroupKey("leaf", task.kind, leaf.function, leaf.file, leaf.line)
    stack = task.frames + ((task.created_by,) if task.created_by is not None else ())
    top = rt.blocking_frame(task.frames)
    return GroupKey(
        "stack",
        task.kind,
        top.function if top else "",
        top.file if top else "",
        top.line if top else 0,
        stack=stack,
    )


def group(
    tasks: Iterable[Task], by: GroupBy = GroupBy.SITE, *, rt: Runtime
) -> dict[GroupKey, list[Task]]:
    """Tasks by key, in first-seen order (deterministic for a given input). ``rt``: the
    runtime of the snapshot the tasks are of (:func:`snapdiff.runtimes.of`)."""
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
            members = groups.setdefault(key_for(task, by, rt), [])
            seen[combo] = (members, task)
        else:
            members = known[0]
        members.append(task)
    return groups
