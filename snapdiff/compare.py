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
from operator import attrgetter, is_not, le

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
_NOT_NEGATIVE = partial(le, 0)  # 0 <= id


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
    out of order took 0.2 s). Only ids the dump prints: a negative id is one a reader made up
    (a JVM's own threads: their negated OS thread id), which no one finds in the dump."""
    return tuple(nsmallest(n, filter(_NOT_NEGATIVE, filter(_NOT_NONE, map(_ID, tasks)))))


_NUMBERS = re.compile(r"(\d+)")


def _natural(name: str) -> list[tuple[int, str] | str]:
    """``pool-9-thread-1`` before ``pool-10-thread-1``: numbers in names compare as numbers
    (by length without leading zeros, then digits: no ``int()``, which refuses 4,301 digits)."""
    return [
        (len(p.lstrip("0")), p.lstrip("0")) if i % 2 else p
        for i, p in enumerate(_NUMBERS.split(name))
    ]


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


# How sure snapdiff is that the process restarted between two snapshots.
RESTART_PROVEN = "proven"  # another pid, or an id that is never reused carried by another task
RESTART_LIKELY = "likely"  # not one task of the first snapshot is in the second
RESTART_POSSIBLE = "possible"  # only the highest id went down: survivors are still counted


@dataclass(frozen=True, slots=True)
class Continuity:
    """Whether two snapshots are of one run of one process, in order, and how sure that is.

    ``comparable``: ids name the same tasks in both, so survivors can be counted. ``restart``:
    one of the ``RESTART_*`` words, or "" when nothing suggests one. ``swapped``: the capture
    times or the ids say the second snapshot is the earlier one. ``identical``: the same tasks
    in the same states, as when one dump is given twice. ``notes``: the warnings to show, one
    per finding, each saying what it rests on.
    """

    comparable: bool
    restart: str = ""
    swapped: bool = False
    identical: bool = False
    notes: tuple[str, ...] = ()
    # What a restart rests on, in a few words ("pid 41 and 97"), for reports that cite it.
    evidence: str = ""


def _same_dump(before: Snapshot, after: Snapshot) -> bool:
    """The same tasks (ids, names, states, waits, stacks) in the same order, and the same
    capture time: one dump read twice. Cheap tests first."""
    if before.total != after.total or len(before.tasks) != len(after.tasks):
        return False
    if before.source.captured_at != after.source.captured_at:
        return False
    return before.tasks == after.tasks


def reused_ids(
    before: Snapshot, after: Snapshot, rt: Runtime, limit: int = 3
) -> list[tuple[int, object, object]]:
    """Tasks whose id is never reused within a run (:meth:`Runtime.origin` says so) and that
    carry the same id in both snapshots with another origin: (id, origin before, origin after),
    up to ``limit``. One is proof of a restart."""
    origins: dict[int, object] = {}
    for t in before.tasks:
        o = rt.origin(t)
        if o is not None and t.id is not None:
            origins[t.id] = o
    if not origins:
        return []
    out: list[tuple[int, object, object]] = []
    for t in after.tasks:
        if t.id is None:
            continue
        was = origins.get(t.id)
        if was is None:
            continue
        now = rt.origin(t)
        if now is not None and now != was:
            out.append((t.id, was, now))
            if len(out) >= limit:
                break
    return out


def _origin_text(o: object) -> str:
    """``created by main.serve (server.go:42)`` (Go), ``running App.work`` (a JVM thread)."""
    if isinstance(o, Frame):
        where = o.short_location()
        return f"created by {o.function}" + (f" ({where})" if where else "")
    if isinstance(o, tuple) and o and isinstance(o[0], str):
        return f"running {o[0]}"
    return f"as {o}"


def _ids_say_swapped(before: Snapshot, after: Snapshot, rt: Runtime) -> tuple[int, int] | None:
    """For ids that grow with time: the tasks only in the first snapshot were born after those
    only in the second (the median id of each, returned), which is what two dumps in the wrong
    order look like. In order, every task that appeared was born after every task that ended
    (give or take Go's per-P batches of ids). With :data:`SWAP_MIN_TASKS` or more on each side,
    the medians decide (more than :data:`SWAP_BATCHES` batches apart where ids come in
    batches); with fewer on one side, every id of the first must be above every id of the
    second, the other side must have twice as many, and ids must not come in batches. None when
    that is not so, or when the two share no task (no order can be told of two runs)."""
    if not (rt.ids_grow(before.source.format) and rt.ids_grow(after.source.format)):
        return None
    ids_b = {t.id for t in before.tasks if t.id is not None and t.id > 0}
    ids_a = {t.id for t in after.tasks if t.id is not None and t.id > 0}
    if not ids_b & ids_a:
        return None
    # The capture's own tasks (the one writing the dump) are born at each capture, from
    # whatever batch the serving P holds: they tell nothing of order.
    own_b = _capture_own_ids(before, rt)
    own_a = _capture_own_ids(after, rt)
    only_b = sorted(ids_b - ids_a - own_b)
    only_a = sorted(ids_a - ids_b - own_a)
    if not only_b or not only_a:
        return None
    mid_b, mid_a = only_b[len(only_b) // 2], only_a[len(only_a) // 2]
    if len(only_b) >= SWAP_MIN_TASKS and len(only_a) >= SWAP_MIN_TASKS:
        # Ps hold back ids in batches: a later goroutine may take one from an old batch. A task
        # only in the second above every id of the first was born after the first in any
        # reading but a swap, which would need the later snapshot to show nothing as new.
        if rt.id_batch and only_a[-1] > max(ids_b):
            return None
        return (mid_b, mid_a) if mid_b - mid_a > SWAP_BATCHES * rt.id_batch else None
    if rt.id_batch or max(len(only_b), len(only_a)) < 2 * SWAP_MIN_TASKS:
        # With ids in batches, a few later tasks may hold lower ids than every earlier one.
        return None
    return (mid_b, mid_a) if only_b[0] > only_a[-1] else None


def _capture_own_ids(snapshot: Snapshot, rt: Runtime) -> set[int | None]:
    return {t.id for t in snapshot.tasks if t.frames and rt.is_capture_own(t.frames)}


def born_out_of_turn(before: Snapshot, after: Snapshot, rt: Runtime) -> int:
    """Tasks only in ``after`` whose id one run of the process would have handed out before
    an id that ``before`` already held, so that they cannot have been born between the two
    captures of one run. Ids grow with time; Go hands each P a batch of 16 (ids 16k+1 to
    16k+16) and each P numbers its goroutines in order within its batch, so there only an
    older id *of the same batch* makes a newer task out of turn: a P that sat idle may hand
    out ids of an old batch long after other Ps have passed them."""
    batch = rt.id_batch
    top: dict[int, int] = {}
    for t in before.tasks:
        tid = t.id
        if tid is not None and tid > 0:
            k = (tid - 1) // batch if batch else 0
            if tid > top.get(k, 0):
                top[k] = tid
    held = {t.id for t in before.tasks}
    out = 0
    for t in after.tasks:
        tid = t.id
        if tid is None or tid <= 0 or tid in held:
            continue
        if top.get((tid - 1) // batch if batch else 0, 0) > tid:
            out += 1
    return out


# Thresholds the diff and the trend share (docs/verdict.md, docs/trend.md).
# A group whose tasks all lived through the whole interval at a flat count is "held" (a pool of
# that size, or a leak that hit a limit) from this many tasks.
HELD_MIN = 20
# Growth with no ids must be at least this large (absolute and relative) to be called suspect.
GROWTH_WITHOUT_IDS = 10
GROWTH_WITHOUT_IDS_RATIO = 0.5


# A second snapshot whose highest id is below the first's may hold this many tasks born out
# of turn (or a tenth of its tasks) and still read as one running process whose newest tasks
# ended: a system task hidden from one dump and shown in the next looks new.
UNEXPLAINED_NEW = 2
# Tasks that must be only in the first snapshot, and only in the second, for ids to say the two
# are in the wrong order.
SWAP_MIN_TASKS = 3
# Where ids come in batches, the medians must be more than this many batches apart.
SWAP_BATCHES = 4


def continuity(before: Snapshot, after: Snapshot) -> Continuity:
    """Whether task ids of the two snapshots name the same tasks; restarts, swapped and
    identical inputs, each with the evidence. The rules, in order (docs/verdict.md):

    1. the same dump twice: said; ids comparable (every task survives, nothing grows);
    2. another pid: a restart, proven; no survivors;
    3. an id that is never reused within a run (Go goroutine ids, JVM thread numbers) carried
       by a task with another origin (creation site, entry method): a restart, proven;
    4. not one task of the first snapshot in the second (both with 5 or more): a restart, likely;
    5. capture times in the wrong order, or (without capture times) ids that grow with time
       saying so: swapped (or, for ids, a new run's low ids); no survivors (they would be the
       same either way round, but every verdict reads backwards);
    6. the highest id went down though the second snapshot holds more than a few tasks the
       first does not (the newest tasks ending explains the rest): a restart is possible,
       survivors are still counted, and the warning says how little that rests on.
    """
    rt = runtimes.of(after)
    ids = before.has_ids and after.has_ids
    if _same_dump(before, after):
        return Continuity(
            ids,
            identical=True,
            notes=(
                "the two snapshots are identical (the same tasks in the same states, the same "
                "capture time): the same dump given twice? If not, nothing changed between them",
            ),
        )
    if not ids:
        return Continuity(False)
    if before.source.pid and after.source.pid and before.source.pid != after.source.pid:
        return Continuity(
            False,
            RESTART_PROVEN,
            notes=(
                f"the snapshots come from different processes (pid {before.source.pid} and "
                f"{after.source.pid}): survivors are not counted",
            ),
            evidence=f"pid {before.source.pid}, then {after.source.pid}",
        )
    noun = rt.kind(after.tasks[0].kind).singular if after.tasks else "task"
    clash = reused_ids(before, after, rt)
    if clash:
        tid, was, now = clash[0]
        more = f"; {len(clash) - 1}{'+' if len(clash) >= 3 else ''} more such" if clash[1:] else ""
        evidence = (
            f"{noun} {tid} {_origin_text(was)} before and {_origin_text(now)} after, and ids are "
            f"never reused within one run{more}"
        )
        return Continuity(
            False,
            RESTART_PROVEN,
            notes=(
                f"the process restarted between the snapshots: {evidence}; survivors are not "
                "counted",
            ),
            evidence=evidence,
        )
    if nothing_survived(before, after):
        return Continuity(
            False,
            RESTART_LIKELY,
            notes=(
                "not one task of the first snapshot is in the second: the process restarted in "
                "between (or these are two processes); survivors are not counted",
            ),
            evidence="not one task of the first snapshot is in the second",
        )
    elapsed = elapsed_between(before, after)
    # Ids in reverse order with capture times in order are a new run's low ids, not a swap.
    by_ids = _ids_say_swapped(before, after, rt) if elapsed is None or elapsed < 0 else None
    if elapsed is not None and elapsed < 0:
        # Survivors are the same either way round, but every verdict would read backwards.
        agree = (
            f"; so do the ids ({noun}s only in the first were born later: ids around "
            f"{by_ids[0]} against {by_ids[1]})"
            if by_ids
            else ""
        )
        return Continuity(
            False,
            swapped=True,
            notes=(
                f"the snapshots are in the wrong order: the second was captured "
                f"{_duration(-elapsed)} before the first (by their capture times){agree}; "
                "survivors and rates are not counted: give them the other way round",
            ),
        )
    if by_ids is not None:
        return Continuity(
            False,
            swapped=True,
            notes=(
                f"the snapshots look swapped: the {noun}s only in the first were born after those "
                f"only in the second (ids around {by_ids[0]} against {by_ids[1]}; ids grow with "
                "time), so the first is the later one, or the process restarted in between; "
                "survivors are not counted: if swapped, give them the other way round",
            ),
        )
    if rt.restart_by_max_id and rt.same_format(before.source.format, after.source.format):
        b_max, a_max = before.max_id, after.max_id
        if b_max is not None and a_max is not None and a_max < b_max:
            # One running process shows this when its newest tasks end: the tasks it created
            # since took ids that no task of the first snapshot had passed (in Go, ids left in
            # a P's batch). Only new tasks that one run could not have numbered so count.
            unknown = born_out_of_turn(before, after, rt)
            if unknown > max(UNEXPLAINED_NEW, after.total // 10):
                return Continuity(
                    True,
                    RESTART_POSSIBLE,
                    notes=(
                        f"the highest {noun} id went down ({b_max} -> {a_max}) though {unknown} "
                        f"{noun}s of the second snapshot are new with ids below those of older "
                        f"{noun}s{' of their batch' if rt.id_batch else ''}, which one run never "
                        "hands out: the process may have restarted in between (weak evidence: "
                        f"no id is carried by another {noun}, and some tasks are in both). "
                        "Survivors are counted; if it did restart, treat them as unknown",
                    ),
                    evidence=f"the highest {noun} id went down ({b_max} -> {a_max})",
                )
    return Continuity(True)


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 120:
        return f"{s}s"
    m, s = divmod(s, 60)
    return f"{m}m {s}s" if m < 60 else f"{m // 60}h {m % 60}m"


def comparable(before: Snapshot, after: Snapshot) -> tuple[bool, list[str]]:
    """Whether task ids of the two snapshots name the same tasks, and the warnings
    (:func:`continuity`)."""
    c = continuity(before, after)
    return c.comparable, list(c.notes)


def id_spans(before: Snapshot, after: Snapshot) -> dict[str, tuple[int, int]]:
    """Per kind with an id clock, the highest id of each snapshot: the ids between were born
    between the two captures."""
    out: dict[str, tuple[int, int]] = {}
    for fmt, kind in runtimes.of(after).id_clocks:
        if before.source.format != fmt or after.source.format != fmt:
            continue
        max_b = _max_id(before.tasks, kind)
        max_a = _max_id(after.tasks, kind)
        if max_b is not None and max_a is not None and max_a > max_b:
            out[kind] = (max_b, max_a)
    return out


def _max_id(tasks: Sequence[Task], kind: str) -> int | None:
    if set(map(_KIND, tasks)) == {kind}:
        return max(filter(_NOT_NONE, map(_ID, tasks)), default=None)
    return max((t.id for t in tasks if t.kind == kind and t.id is not None), default=None)


def nothing_survived(before: Snapshot, after: Snapshot, at_least: int = 5) -> bool:
    """A live process keeps some tasks (Go's listeners and pools, Python's main thread) for
    good: not one task of ``before`` in ``after`` (both with ``at_least`` tasks) says they are
    two runs. Tasks every run has under the same id (:meth:`Runtime.in_every_run`, Go's
    goroutine 1) do not count as kept."""
    if before.total < at_least or after.total < at_least:
        return False
    rt = runtimes.of(after)
    ids_b = set(rt.identities([t for t in before.tasks if not rt.in_every_run(t)]))
    return not any(map(ids_b.__contains__, rt.identities(after.tasks)))
