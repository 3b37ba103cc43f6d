"""Two snapshots -> per-group deltas and a leak verdict. Pure functions on the model.

The verdict (:func:`judge`) in words:

* A group that did not grow is never suspect: ``steady`` (same count; a pool, or a constant
  stuck task), ``shrinking`` or ``gone``.
* A group that grew is ``suspect`` (verdict ``leak``) when its tasks live long: most of the tasks
  of the first snapshot are still alive in the second (survivors; Go goroutine ids are never
  reused, threads are matched by id and name) and new ones joined them.
* It is ``churn`` when none of the first snapshot's tasks survived: the tasks come and go, and
  the second capture happened to see more of them.
* A site absent from the first snapshot with fewer than three tasks is ``new``: too few to judge.
  A larger one is judged by the id clock: Go goroutine ids grow with
  every creation, so a site whose tasks were born across the whole interval (old ids still alive)
  is accumulating (``leak``), while one whose tasks were all born just before the capture is a
  ``burst``. Without ids, tasks waiting a minute or more count as long-lived.
* Without ids at all (Go ``debug=1``) survivors cannot be told: large growth is ``growing`` and
  suspect with low confidence, and the report says so.
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

from snapdiff.group import GroupBy, GroupKey, entry_frame, group, is_jvm_stack, site_key
from snapdiff.model import (
    ASYNCIO_TASK,
    FLAG_LEAKED,
    GOROUTINE,
    LIBUV_HANDLE,
    THREAD,
    Frame,
    Snapshot,
    SourceInfo,
    Task,
    new_task,
)
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

# A grown group is a leak when at least this share of its earlier tasks is still alive.
SURVIVAL_FOR_LEAK = 0.5
# A new site is a leak when at least this share of its tasks was born in the first half of the
# interval between the two captures (by the id clock).
EARLY_BORN_FOR_LEAK = 0.25
# Growth with no ids must be at least this large (absolute and relative) to be called suspect.
GROWTH_WITHOUT_IDS = 10
GROWTH_WITHOUT_IDS_RATIO = 0.5
MIN_NEW_SITE = 3
# Ids that count up with every creation and are never reused, by (format, kind): Go goroutine
# ids, JVM thread numbers (jstack's ``#N``, jcmd's and the actuator's thread ids), and the
# asyncio task numbers of snapdiff's probe. (Other asyncio sources give object
# addresses, which are reused and say nothing of age.)
_JVM_FORMATS = frozenset({"jvm-text", "jvm-json", "spring-threaddump"})
ID_CLOCKS = frozenset(
    {
        ("go-goroutine-text", GOROUTINE),
        ("snapdiff-probe", ASYNCIO_TASK),
        *((fmt, THREAD) for fmt in _JVM_FORMATS),
    }
)


# Sites that are a library's, not the code that leaks: what to look for instead.
SITE_HINTS = {
    (THREAD, "_worker", "thread.py"): (
        "these are ThreadPoolExecutor worker threads, so the dump cannot show which code made "
        "the executors; the usual leak is an executor made per request and never shut down "
        "(snapdiff.probe records the call that started each thread)"
    ),
    (THREAD, "java.util.concurrent.ThreadPoolExecutor$Worker.run", "ThreadPoolExecutor.java"): (
        "these are ThreadPoolExecutor worker threads, so the dump cannot show which code made "
        "the pools; the usual leak is an executor made per request and never shut down"
    ),
}
# Thread-name patterns that say something of where the threads come from.
NAME_HINTS = {
    (THREAD, "pool-N-thread-N"): (
        "pool-N-thread-N names come from Executors' default ThreadFactory, which numbers its "
        "pools: the first number counts the executors made so far. Give each executor a "
        "ThreadFactory that names its threads to tell them apart"
    ),
}


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
    waiting: Waiting | None = None  # where most of its tasks wait, and Go's wait times


@dataclass(frozen=True, slots=True)
class GroupDiff:
    key: GroupKey
    before: int
    after: int
    delta: int
    rate_per_minute: float | None
    survivors: int | None
    new: int | None
    gone: int | None
    states: tuple[tuple[str, int], ...]
    max_wait_minutes: int | None
    leaked: int
    entry_function: str
    stack: tuple[Frame, ...]
    example_ids: tuple[int, ...]
    labels: tuple[tuple[str, str], ...]
    verdict: str
    suspect: bool
    confidence: str
    reasons: tuple[str, ...]
    site: Frame | None = None
    example_names: tuple[str, ...] = ()
    waiting: Waiting | None = None


@dataclass(frozen=True, slots=True)
class ShowResult:
    snapshot: SnapshotMeta
    group_by: str
    groups: tuple[GroupSummary, ...]


@dataclass(frozen=True, slots=True)
class DiffResult:
    before: SnapshotMeta
    after: SnapshotMeta
    group_by: str
    elapsed_seconds: float | None
    elapsed_source: str  # "capture times", "--elapsed", or "" when unknown
    ids_comparable: bool
    groups: tuple[GroupDiff, ...]
    warnings: tuple[str, ...]

    @property
    def suspects(self) -> tuple[GroupDiff, ...]:
        return tuple(g for g in self.groups if g.suspect)


def meta(snapshot: Snapshot, groups: int) -> SnapshotMeta:
    return SnapshotMeta(
        source=snapshot.source,
        total=snapshot.total,
        groups=groups,
        truncated=snapshot.truncated,
        warnings=snapshot.warnings,
        max_id=snapshot.max_id if snapshot.has_ids else None,
    )


def _total(tasks: Sequence[Task]) -> int:
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


def _leaked(prof: Profile) -> int:
    return sum(n for t, n in prof if FLAG_LEAKED in t.flags)


def _long_waiting(prof: Profile) -> int:
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


def _entry_function(by_stack: list[tuple[Task, int]]) -> str:
    counts: Counter[str] = Counter()
    for t, n in by_stack:
        entry = entry_frame(t)
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


def _example_names(kind: str, tasks: Sequence[Task], n: int = 3) -> tuple[str, ...]:
    """Up to ``n`` distinct task names in natural order, the first ``n - 1`` and the last: the
    counters in names are clocks, so ``pool-1-thread-1, pool-2-thread-1, pool-60-thread-1``
    shows how far they ran. Threads and libuv handles only: goroutines have no names, and a
    dump can hold a million asyncio tasks, whose names would cost a sort for little."""
    if kind != THREAD and kind != LIBUV_HANDLE:
        return ()
    names = sorted(set(filter(None, map(_NAME, tasks))), key=_natural)
    return tuple(names if len(names) <= n else names[: n - 1] + names[-1:])


def _site(key: GroupKey, tasks: Sequence[Task]) -> Frame | None:
    if key.by == "site":
        return Frame(key.function, key.file, key.line)
    counts: Counter[Frame] = Counter()
    for t in tasks:
        k = site_key(t)
        if k.by == "site":
            counts[Frame(k.function, k.file, k.line)] += t.count
    return counts.most_common(1)[0][0] if counts else None


def summarise(key: GroupKey, tasks: Sequence[Task], prof: Profile | None = None) -> GroupSummary:
    """``prof``: :func:`profile` of ``tasks``, when the caller has it already."""
    prof = profile(tasks) if prof is None else prof
    by_stack = _by_stack(prof)
    return GroupSummary(
        key=key,
        count=sum(n for _, n in prof),
        site=_site(key, tasks),
        states=_states(prof),
        max_wait_minutes=_max_wait(prof),
        leaked=_leaked(prof),
        entry_function=_entry_function(by_stack),
        stack=_representative(by_stack),
        example_ids=_example_ids(tasks),
        labels=_labels(prof),
        example_names=_example_names(key.kind, tasks),
        waiting=waiting(prof),
    )


def show(snapshot: Snapshot, by: GroupBy = GroupBy.SITE) -> ShowResult:
    groups = group(snapshot.tasks, by)
    summaries = sorted(
        (summarise(k, v) for k, v in groups.items()),
        key=lambda g: (-g.count, g.key.function, g.key.file, g.key.line),
    )
    return ShowResult(meta(snapshot, len(groups)), by.value, tuple(summaries))


def identity(task: Task) -> tuple[object, ...]:
    """What names a task across snapshots: Go goroutine ids and JVM thread numbers alone (never
    reused; a JVM thread may be renamed), other thread ids with the name (the OS reuses them)."""
    if task.kind == GOROUTINE:
        return (task.id,)
    if task.id is not None and task.id > 0 and is_jvm_stack(task.frames):
        return (task.id,)
    return (task.id, task.name)


def identities(tasks: Sequence[Task]) -> Iterator[tuple[object, ...]]:
    """:func:`identity` of each task, in C passes where the tasks are of one sort."""
    if set(map(_KIND, tasks)) == {GOROUTINE}:
        return zip(map(_ID, tasks))
    return map(identity, tasks)


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
    notes: list[str] = []
    if not (before.has_ids and after.has_ids):
        return False, notes
    if before.source.pid and after.source.pid and before.source.pid != after.source.pid:
        notes.append(
            f"the snapshots come from different processes (pid {before.source.pid} and "
            f"{after.source.pid}): survivors are not counted"
        )
        return False, notes
    clocked = any(t.kind == GOROUTINE for t in after.tasks) or (
        before.source.format == after.source.format and after.source.format in _JVM_FORMATS
    )
    if clocked:
        noun = "goroutine id" if after.tasks and after.tasks[0].kind == GOROUTINE else "thread id"
        b_max, a_max = before.max_id, after.max_id
        if b_max is not None and a_max is not None and a_max < b_max:
            notes.append(
                f"the highest {noun} went down ({b_max} -> {a_max}): the process restarted "
                "between the snapshots, or they are in the wrong order; survivors are not counted"
            )
            return False, notes
    return True, notes


def _midpoints(before: Snapshot, after: Snapshot) -> dict[str, float]:
    """Per kind with an id clock, the id born halfway between the two captures."""
    out: dict[str, float] = {}
    for fmt, kind in ID_CLOCKS:
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
    ids_b = set(identities(before.tasks))
    return not any(map(ids_b.__contains__, identities(after.tasks)))


@dataclass(frozen=True, slots=True)
class _Evidence:
    before: int
    after: int
    survivors: int | None
    early_born: float | None  # share of a new site's tasks born in the first half of the interval
    long_waiting: int  # tasks waiting a minute or more (Go)
    leaked: int


def judge(e: _Evidence) -> tuple[str, bool, str, tuple[str, ...]]:
    """(verdict, suspect, confidence, reasons)."""
    delta = e.after - e.before
    reasons: list[str] = []
    if e.leaked:
        reasons.append(f"the Go runtime marked {e.leaked} as leaked")
    if delta <= 0:
        if e.after == 0:
            return "gone", False, "high", tuple(reasons)
        if delta == 0:
            if e.survivors is not None and e.survivors == e.before:
                reasons.append("the same tasks in both snapshots")
            elif e.survivors == 0:
                reasons.append(f"none of the {e.before} earlier tasks is still alive")
                return "churn", False, "high", tuple(reasons)
            return "steady", False, "high", tuple(reasons)
        return "shrinking", False, "high", tuple(reasons)

    if e.survivors is not None and e.before > 0:
        share = e.survivors / e.before
        new = e.after - e.survivors
        if e.survivors == 0:
            reasons.append(f"none of the {e.before} earlier tasks is still alive: they come and go")
            return "churn", False, "high", tuple(reasons)
        reasons.append(f"{e.survivors} of {e.before} earlier tasks still alive, {new} new")
        if share >= SURVIVAL_FOR_LEAK and new > 0:
            return "leak", True, "high", tuple(reasons)
        reasons.append("most earlier tasks ended: turnover, not accumulation")
        return "turnover", False, "medium", tuple(reasons)

    if e.before == 0 and e.after < MIN_NEW_SITE:
        reasons.append(f"new since the first snapshot; too few tasks ({e.after}) to judge")
        return "new", False, "low", tuple(reasons)

    if e.before == 0 and e.early_born is not None:
        if e.early_born >= EARLY_BORN_FOR_LEAK:
            reasons.append(
                f"new since the first snapshot; {e.early_born:.0%} of its tasks were born in the "
                "first half of the interval and are still alive"
            )
            return "leak", True, "high", tuple(reasons)
        reasons.append("new since the first snapshot, all born just before the second capture")
        return "burst", False, "medium", tuple(reasons)

    if e.long_waiting and e.long_waiting >= max(1, delta // 2):
        reasons.append(f"{e.long_waiting} tasks blocked for a minute or more")
        return "leak", True, "medium", tuple(reasons)

    big = delta >= GROWTH_WITHOUT_IDS and delta >= GROWTH_WITHOUT_IDS_RATIO * e.before
    if e.leaked and e.leaked >= delta // 2:
        return "leak", True, "high", tuple(reasons)
    if e.survivors is not None:
        # A new site of tasks whose ids are no clock (threads): nothing says how old they are.
        reasons.append(
            "new since the first snapshot; their ids tell nothing of their age, so a leak "
            "cannot be told from a burst"
        )
        return "growing", big, "low", tuple(reasons)
    reasons.append(
        "no task ids to match: survivors unknown, churn cannot be ruled out"
        + (" (a full dump, such as Go's debug=2, can confirm)" if big else "")
    )
    return "growing", big, "low", tuple(reasons)


def diff(
    before: Snapshot,
    after: Snapshot,
    by: GroupBy = GroupBy.SITE,
    elapsed_seconds: float | None = None,
) -> DiffResult:
    """Compare two snapshots of the same process. ``elapsed_seconds`` overrides capture times."""
    warnings: list[str] = []
    elapsed_source = "--elapsed" if elapsed_seconds is not None else ""
    if elapsed_seconds is None:
        elapsed_seconds = elapsed_between(before, after)
        if elapsed_seconds is not None:
            elapsed_source = "capture times"
            if elapsed_seconds <= 0:
                warnings.append(
                    "the second snapshot was not captured after the first: rates not computed"
                )
                elapsed_seconds, elapsed_source = None, ""
    ids_ok, notes = comparable(before, after)
    warnings.extend(notes)

    if before.source.format != after.source.format and {
        before.source.format,
        after.source.format,
    } != {"pyspy-json", "pyspy-text"}:
        warnings.append(
            f"the snapshots are of different formats ({before.source.format} and "
            f"{after.source.format}): sites may not match; compare dumps of the same kind"
        )
    if ids_ok and nothing_survived(before, after):
        ids_ok = False
        warnings.append(
            "not one task of the first snapshot is in the second: the process restarted in "
            "between (or these are two processes); survivors are not counted"
        )

    groups_b = group(before.tasks, by)
    groups_a = group(after.tasks, by)
    keys = list(groups_a) + [k for k in groups_b if k not in groups_a]

    midpoints = _midpoints(before, after) if ids_ok else {}

    results: list[GroupDiff] = []
    for key in keys:
        tb = groups_b.get(key, [])
        ta = groups_a.get(key, [])
        nb = _total(tb)
        na = _total(ta)
        survivors: int | None = None
        if ids_ok:
            ids_b = set(identities(tb))
            survivors = sum(map(ids_b.__contains__, identities(ta)))
        early: float | None = None
        midpoint = midpoints.get(key.kind)
        if nb == 0 and na and midpoint is not None:
            # Ids below 1 are no clock (a JVM's own threads: their negated OS thread id).
            early = sum(1 for t in ta if t.id is not None and 0 < t.id <= midpoint) / len(ta)
        prof_a = profile(ta)
        summary = summarise(key, ta, prof_a) if ta else summarise(key, tb)
        leaked = _leaked(prof_a)
        long_waiting = _long_waiting(prof_a)
        verdict, suspect, confidence, reasons = judge(
            _Evidence(nb, na, survivors, early, long_waiting, leaked)
        )
        if suspect:
            hints = (
                SITE_HINTS.get((key.kind, key.function, key.file)),
                NAME_HINTS.get((key.kind, key.name_pattern)),
            )
            reasons = (*reasons, *filter(None, hints))
        rate = None
        if elapsed_seconds:
            rate = (na - nb) / (elapsed_seconds / 60)
        results.append(
            GroupDiff(
                key=key,
                before=nb,
                after=na,
                delta=na - nb,
                rate_per_minute=rate,
                survivors=survivors,
                new=(na - survivors) if survivors is not None else None,
                gone=(nb - survivors) if survivors is not None else None,
                states=summary.states,
                max_wait_minutes=summary.max_wait_minutes,
                leaked=leaked,
                entry_function=summary.entry_function,
                stack=summary.stack,
                example_ids=summary.example_ids,
                labels=summary.labels,
                verdict=verdict,
                suspect=suspect,
                confidence=confidence,
                reasons=reasons,
                site=summary.site,
                example_names=summary.example_names,
                waiting=summary.waiting,
            )
        )
    results.sort(key=_order)
    if before.truncated or after.truncated:
        warnings.append(
            "a snapshot is truncated: counts of the groups whose tasks were cut off are low"
        )
    return DiffResult(
        before=meta(before, len(groups_b)),
        after=meta(after, len(groups_a)),
        group_by=by.value,
        elapsed_seconds=elapsed_seconds,
        elapsed_source=elapsed_source,
        ids_comparable=ids_ok,
        groups=tuple(results),
        warnings=tuple(warnings),
    )


def _order(g: GroupDiff) -> tuple[int, int, int, str, str, int]:
    return (0 if g.suspect else 1, -g.delta, -g.after, g.key.function, g.key.file, g.key.line)


def growth_over(result: DiffResult, threshold: int) -> list[GroupDiff]:
    """Suspect groups that grew by at least ``threshold`` (for ``--fail-on-growth``)."""
    return [g for g in result.groups if g.suspect and g.delta >= threshold]
