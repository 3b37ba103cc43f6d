"""What diff and trend share: who a task is across snapshots, whether two snapshots' ids can
be compared at all, and what a group of tasks looks like (its summary). Pure functions.

Runtime-specific knowledge (which ids are a clock, how a task is known across dumps, where it
waits) is asked of the snapshot's runtime (:func:`snapdiff.runtimes.of`); nothing here names
a runtime or a format.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from heapq import nsmallest
from operator import attrgetter, is_not

from snapdiff import runtimes
from snapdiff.group import GroupKey, site_key
from snapdiff.model import FLAG_LEAKED, Frame, Snapshot, SourceInfo, Task, new_task
from snapdiff.runtime import Runtime
from snapdiff.waits import Waiting, waiting

# The passes over every task of a group are made of these, run by map/filter/Counter in C: a
# Python loop per task would cost more than reading the dump did.
_FRAMES = attrgetter("frames")
_COUNT = attrgetter("count")
_ID = attrgetter("id")
_KIND = attrgetter("kind")
_NAME = attrgetter("name")
_STATE = attrgetter("state")
_WAIT = attrgetter("wait_minutes")
_FLAGS = attrgetter("flags")
_LABELS = attrgetter("labels")
_NOT_NONE = partial(is_not, None)


@dataclass(frozen=True, slots=True)
class SnapshotMeta:
    """What a report says about one input."""

    source: SourceInfo
    total: int
    groups: int
    truncated: bool
    warnings: tuple[str, ...]
    max_id: int | None


@dataclass(frozen=True, slots=True)
class GroupSummary:
    """One group in one snapshot."""

    key: GroupKey
    count: int
    site: Frame | None  # the creation site (most common among the group's tasks), if any
    states: tuple[tuple[str, int], ...]
    max_wait_minutes: int | None
    leaked: int
    entry_function: str
    stack: tuple[Frame, ...]
    example_ids: tuple[int, ...]
    labels: tuple[tuple[str, str], ...]
    # A few task names (threads, libuv handles: a socket's two endpoints), first seen first.
    example_names: tuple[str, ...] = ()
    # Where the tasks of ``stack`` wait, as their runtime sees it.
    blocking: Frame | None = None
    # Where most of the group's tasks wait (the application's own frame) and their ages.
    waiting: Waiting | None = None
    # Whose tasks these are when not the application's: "runtime" (the runtime's own),
    # "capture" (the debug endpoint writing the dump), "" (the application's).
    owner: str = ""


class SummaryFields:
    """A result that holds a group's :class:`GroupSummary` (``summary``) reads its fields
    through it: composed, not copied."""

    __slots__ = ()
    summary: GroupSummary

    @property
    def site(self) -> Frame | None:
        return self.summary.site

    @property
    def entry_function(self) -> str:
        return self.summary.entry_function

    @property
    def states(self) -> tuple[tuple[str, int], ...]:
        return self.summary.states

    @property
    def max_wait_minutes(self) -> int | None:
        return self.summary.max_wait_minutes

    @property
    def stack(self) -> tuple[Frame, ...]:
        return self.summary.stack

    @property
    def example_ids(self) -> tuple[int, ...]:
        return self.summary.example_ids

    @property
    def labels(self) -> tuple[tuple[str, str], ...]:
        return self.summary.labels

    @property
    def example_names(self) -> tuple[str, ...]:
        return self.summary.example_names

    @property
    def blocking(self) -> Frame | None:
        return self.summary.blocking

    @property
    def waiting(self) -> Waiting | None:
        return self.summary.waiting


def marked_by(who: str) -> str:
    """``the Go runtime`` for leak marks of a kind whose runtime says ``Go``."""
    return f"the {who} runtime" if who else "the runtime"


def meta(snapshot: Snapshot, groups: int) -> SnapshotMeta:
    return SnapshotMeta(
        source=snapshot.source,
        total=snapshot.total,
        groups=groups,
        truncated=snapshot.truncated,
        warnings=snapshot.warnings,
        max_id=snapshot.max_id if snapshot.has_ids else None,
    )


def total(tasks: Sequence[Task]) -> int:
    return sum(map(_COUNT, tasks))


Profile = list[tuple[Task, int]]


def profile(tasks: Sequence[Task]) -> Profile:
    """A task for each distinct combination of what a summary reads (kind, stack, state, flags,
    wait, labels), with how many tasks it stands for, first seen first.

    A group of a million goroutines has a few dozen combinations: one C-level pass counts them,
    and every summary is then read off this short list. Stacks are told apart by identity
    (readers share one tuple between the tasks of a stack), which costs no hashing of frames.
    """
    stacks = list(map(_FRAMES, tasks))
    counts = Counter(
        zip(
            map(_KIND, tasks),
            map(id, stacks),
            map(_STATE, tasks),
            map(_FLAGS, tasks),
            map(_WAIT, tasks),
            map(_LABELS, tasks),
            map(_COUNT, tasks),
            strict=True,
        )
    )
    stack_of = dict(zip(map(id, stacks), stacks, strict=True))
    return [
        (new_task(kind, stack_of[sid], None, "", state, wait, None, None, labels, flags), n * count)
        for (kind, sid, state, flags, wait, labels, count), n in counts.items()
    ]


def _states(prof: Profile) -> tuple[tuple[str, int], ...]:
    counts: Counter[str] = Counter()
    for t, n in prof:
        if t.state:
            counts[t.state] += n
    return tuple(counts.most_common())


def _max_wait(prof: Profile) -> int | None:
    return max((t.wait_minutes for t, _ in prof if t.wait_minutes is not None), default=None)


def leaked_count(prof: Profile) -> int:
    return sum(n for t, n in prof if FLAG_LEAKED in t.flags)


def long_waiting(prof: Profile) -> int:
    return sum(n for t, n in prof if (t.wait_minutes or 0) >= 1)


def _by_stack(prof: Profile) -> Profile:
    """One task per distinct stack object with the count of its tasks, first seen first.

    Readers share one stack tuple between the tasks of a stack: stacks are told apart by
    identity, where hashing each stack would cost a call per frame.
    """
    some: dict[int, Task] = {}
    counts: Counter[int] = Counter()
    for t, n in prof:
        key = id(t.frames)
        some.setdefault(key, t)
        counts[key] += n
    return [(some[key], n) for key, n in counts.items()]


def _representative(by_stack: list[tuple[Task, int]]) -> tuple[Frame, ...]:
    """The most common stack of the group (the first seen among equals)."""
    if not by_stack:
        return ()
    counts: Counter[tuple[Frame, ...]] = Counter()
    for t, n in by_stack:
        counts[t.frames] += n
    return counts.most_common(1)[0][0]


def _labels(prof: Profile) -> tuple[tuple[str, str], ...]:
    """Labels every task of the group shares."""
    if not prof:
        return ()
    common = set(prof[0][0].labels)
    for t, _ in prof:
        common &= set(t.labels)
        if not common:
            break
    return tuple(sorted(common))


def _entry_function(by_stack: list[tuple[Task, int]], rt: Runtime) -> str:
    counts: Counter[str] = Counter()
    for t, n in by_stack:
        entry = rt.entry_frame(t)
        counts[entry.function if entry else ""] += n
    return counts.most_common(1)[0][0] if counts else ""


def _example_ids(tasks: Sequence[Task], n: int = 5) -> tuple[int, ...]:
    """The ``n`` lowest ids: one pass, whatever the order of the dump (sorting a million ids
    out of order took 0.2 s)."""
    return tuple(nsmallest(n, filter(_NOT_NONE, map(_ID, tasks))))


_NUMBERS = re.compile(r"(\d+)")


def _natural(name: str) -> list[int | str]:
    """``pool-9-thread-1`` before ``pool-10-thread-1``: numbers in names compare as numbers."""
    return [int(p) if i % 2 else p for i, p in enumerate(_NUMBERS.split(name))]


def _example_names(kind: str, tasks: Sequence[Task], rt: Runtime, n: int = 3) -> tuple[str, ...]:
    """Up to ``n`` distinct task names in natural order, the first ``n - 1`` and the last: the
    counters in names are clocks, so ``pool-1-thread-1, pool-2-thread-1, pool-60-thread-1``
    shows how far they ran. Only for kinds whose runtime says their names are worth it (a dump
    can hold a million tasks, whose names would cost a sort for little)."""
    if not rt.kind(kind).example_names:
        return ()
    names = sorted(set(filter(None, map(_NAME, tasks))), key=_natural)
    return tuple(names if len(names) <= n else names[: n - 1] + names[-1:])


def _site(key: GroupKey, tasks: Sequence[Task], rt: Runtime) -> Frame | None:
    if key.by == "site":
        return Frame(key.function, key.file, key.line)
    counts: Counter[Frame] = Counter()
    for t in tasks:
        k = site_key(t, rt)
        if k.by == "site":
            counts[Frame(k.function, k.file, k.line)] += t.count
    return counts.most_common(1)[0][0] if counts else None


def summarise(
    key: GroupKey, tasks: Sequence[Task], rt: Runtime, prof: Profile | None = None
) -> GroupSummary:
    """``prof``: :func:`profile` of ``tasks``, when the caller has it already."""
    prof = profile(tasks) if prof is None else prof
    by_stack = _by_stack(prof)
    stack = _representative(by_stack)
    return GroupSummary(
        key=key,
        count=sum(n for _, n in prof),
        site=_site(key, tasks, rt),
        states=_states(prof),
        max_wait_minutes=_max_wait(prof),
        leaked=leaked_count(prof),
        entry_function=_entry_function(by_stack, rt),
        stack=stack,
        example_ids=_example_ids(tasks),
        labels=_labels(prof),
        example_names=_example_names(key.kind, tasks, rt),
        blocking=rt.blocking_frame(stack),
        waiting=waiting(prof, rt),
        owner=_owner(key, stack, rt),
    )


def _owner(key: GroupKey, stack: tuple[Frame, ...], rt: Runtime) -> str:
    if rt.kind(key.kind).resource:
        return ""
    if rt.is_internal(key.function):
        return "runtime"
    return "capture" if rt.is_capture_own(stack) else ""


def identity(task: Task, rt: Runtime) -> tuple[object, ...]:
    """What names a task across snapshots of one process, as its runtime says."""
    return rt.identity(task)


def identities(tasks: Sequence[Task], rt: Runtime) -> Iterator[tuple[object, ...]]:
    """:func:`identity` of each task (in C passes, where the runtime can)."""
    return rt.identities(tasks)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def elapsed_between(before: Snapshot, after: Snapshot) -> float | None:
    t0 = _parse_time(before.source.captured_at)
    t1 = _parse_time(after.source.captured_at)
    if t0 is None or t1 is None or t0.tzinfo is None or t1.tzinfo is None:
        return None
    return (t1 - t0).total_seconds()


def comparable(before: Snapshot, after: Snapshot) -> tuple[bool, list[str]]:
    """Whether task ids of the two snapshots name the same tasks, and why not."""
    rt = runtimes.of(after)
    notes: list[str] = []
    if not (before.has_ids and after.has_ids):
        return False, notes
    if before.source.pid and after.source.pid and before.source.pid != after.source.pid:
        notes.append(
            f"the snapshots come from different processes (pid {before.source.pid} and "
            f"{after.source.pid}): survivors are not counted"
        )
        return False, notes
    clocked = rt.restart_by_max_id and rt.same_format(before.source.format, after.source.format)
    if clocked:
        noun = rt.kind(after.tasks[0].kind).singular + " id" if after.tasks else "id"
        b_max, a_max = before.max_id, after.max_id
        if b_max is not None and a_max is not None and a_max < b_max:
            notes.append(
                f"the highest {noun} went down ({b_max} -> {a_max}): the process restarted "
                "between the snapshots, or they are in the wrong order; survivors are not counted"
            )
            return False, notes
    return True, notes


def midpoints(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Per kind with an id clock, the id born halfway between the two captures."""
    out: dict[str, float] = {}
    for fmt, kind in runtimes.of(after).id_clocks:
        if before.source.format != fmt or after.source.format != fmt:
            continue
        max_b = _max_id(before.tasks, kind)
        max_a = _max_id(after.tasks, kind)
        if max_b is not None and max_a is not None and max_a > max_b:
            out[kind] = max_b + (max_a - max_b) / 2
    return out


def _max_id(tasks: Sequence[Task], kind: str) -> int | None:
    if set(map(_KIND, tasks)) == {kind}:
        return max(filter(_NOT_NONE, map(_ID, tasks)), default=None)
    return max((t.id for t in tasks if t.kind == kind and t.id is not None), default=None)


def nothing_survived(before: Snapshot, after: Snapshot, at_least: int = 5) -> bool:
    """A live process keeps some tasks (Go's main goroutine, Python's main thread) for good."""
    if before.total < at_least or after.total < at_least:
        return False
    rt = runtimes.of(after)
    ids_b = set(rt.identities(before.tasks))
    return not any(map(ids_b.__contains__, rt.identities(after.tasks)))
