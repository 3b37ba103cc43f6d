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

from dataclasses import dataclass

from snapdiff import runtimes
from snapdiff.compare import (
    GROWTH_WITHOUT_IDS,
    GROWTH_WITHOUT_IDS_RATIO,
    HELD_MIN,
    GroupSummary,
    SnapshotMeta,
    SummaryFields,
    continuity,
    elapsed_between,
    id_spans,
    leaked_count,
    long_waiting,
    marked_by,
    meta,
    profile,
    summarise,
    total,
)
from snapdiff.group import GroupBy, GroupKey, group, merge_instances
from snapdiff.model import Snapshot, Task

# A grown group is a leak when at least this share of its earlier tasks is still alive.
SURVIVAL_FOR_LEAK = 0.5
# The smallest growth that can make a suspect: a site that grew by one task (a pool that
# started one more worker, a runtime's lazily started helper) is never one.
MIN_GROWTH_FOR_SUSPECT = 2
# ... and the growth from which a leak shown by survivors or by the id clock is of high
# confidence (below it, medium).
GROWTH_FOR_HIGH = 5
# A new site is a leak when the middle 80% of its tasks' birth ids span at least this share of
# the ids created between the two captures (born steadily, whenever it started); below it, a
# burst (born at once).
BURST_SPAN = 0.15
# ... unless its tasks hold at least this share of the ids in their span (born one after
# another, nothing else created between them: a loop that started them at once) and the span
# is under half the interval.
BURST_DENSITY = 0.9
MIN_NEW_SITE = 3


@dataclass(frozen=True, slots=True)
class GroupDiff(SummaryFields):
    """One group across two snapshots: counts, survivors, the verdict, and the group's summary
    (in the second snapshot, or in the first for a group that is gone)."""

    key: GroupKey
    before: int
    after: int
    delta: int
    rate_per_minute: float | None
    survivors: int | None
    new: int | None
    gone: int | None
    leaked: int  # tasks of the second snapshot the runtime marked leaked
    verdict: str
    suspect: bool
    confidence: str
    reasons: tuple[str, ...]
    summary: GroupSummary


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


def show(snapshot: Snapshot, by: GroupBy = GroupBy.SITE) -> ShowResult:
    rt = runtimes.of(snapshot)
    groups = group(snapshot.tasks, by, rt=rt)
    summaries = sorted(
        (summarise(k, v, rt) for k, v in groups.items()),
        key=lambda g: (-g.count, g.key.function, g.key.file, g.key.line),
    )
    return ShowResult(meta(snapshot, len(groups)), by.value, tuple(summaries))


@dataclass(frozen=True, slots=True)
class _Evidence:
    before: int
    after: int
    survivors: int | None
    # For a site new in the second snapshot, by the id clock: the share of the ids created
    # between the captures over which the middle 80% of its tasks were born.
    born_span: float | None
    long_waiting: int  # tasks waiting a minute or more (Go)
    leaked: int
    marked_by: str = ""  # whose leak marks: "Go" reads "the Go runtime marked"
    no_ids_hint: str = ""  # where a dump with ids can be had, for growth without ids
    born_from: float | None = None  # ... and how far into the interval those births begin
    born_dense: bool = False  # ... and whether they hold nearly every id of their span
    one_pool: str = ""  # the names show the tasks are of one pool (``pool-1-thread-N``)
    ages: str = ""  # what says how old the tasks are (waits, birth ids), for a flat group


def _growth_confidence(delta: int, reasons: list[str]) -> str:
    if delta >= GROWTH_FOR_HIGH:
        return "high"
    reasons.append(f"grew by {delta} only: confidence is high from +{GROWTH_FOR_HIGH}")
    return "medium"


def judge(e: _Evidence) -> tuple[str, bool, str, tuple[str, ...]]:
    """(verdict, suspect, confidence, reasons). The rules, in order, are docs/verdict.md's."""
    delta = e.after - e.before
    reasons: list[str] = []
    if e.leaked:
        reasons.append(f"{marked_by(e.marked_by)} marked {e.leaked} as leaked")
    if delta <= 0:
        if e.after == 0:
            return "gone", False, "high", tuple(reasons)
        if delta == 0:
            if e.survivors is not None and e.survivors == e.before:
                if e.before >= HELD_MIN:
                    reasons.append(
                        f"all {e.before} tasks lived through the whole interval at a flat count: "
                        "a pool of that size, or a leak that hit a limit (a semaphore, a pool's "
                        "cap, a connection limit)"
                    )
                    if e.ages:
                        reasons.append(e.ages)
                    return "held", False, "medium", tuple(reasons)
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
            if delta < MIN_GROWTH_FOR_SUSPECT:
                reasons.append(
                    "grew by one: too little to call a leak (a pool that started one more "
                    "worker, a lazily started helper); a later snapshot tells"
                )
                return "growing", False, "low", tuple(reasons)
            if e.one_pool:
                reasons.append(
                    f"the names show one pool ({e.one_pool}): a pool warming up to its size looks "
                    "the same in one pair of dumps; a third snapshot tells (a pool stops at its "
                    "size, a leak does not)"
                )
                return "leak", True, "medium", tuple(reasons)
            return "leak", True, _growth_confidence(delta, reasons), tuple(reasons)
        reasons.append("most earlier tasks ended: turnover, not accumulation")
        return "turnover", False, "medium", tuple(reasons)

    if e.before == 0 and e.after < MIN_NEW_SITE:
        reasons.append(f"new since the first snapshot; too few tasks ({e.after}) to judge")
        return "new", False, "low", tuple(reasons)

    if e.before == 0 and e.born_span is not None:
        start = f", from {e.born_from:.0%} of the way through" if e.born_from is not None else ""
        dense = e.born_dense and e.born_span < 0.5
        if e.born_span >= BURST_SPAN and not dense:
            reasons.append(
                f"new since the first snapshot; its tasks were born steadily over "
                f"{e.born_span:.0%} of the interval{start}, and are all still alive: a leak that "
                "started between the snapshots"
            )
            return "leak", True, _growth_confidence(delta, reasons), tuple(reasons)
        at = f", {e.born_from:.0%} of the way through" if e.born_from is not None else ""
        how = (
            "one after another, nothing else created between them"
            if dense
            else f"within {max(e.born_span, 0.01):.0%} of the interval"
        )
        reasons.append(
            f"new since the first snapshot, all born at about the same time ({how}{at}): a "
            "burst; a third snapshot tells whether they stay"
        )
        return "burst", False, "medium", tuple(reasons)

    if delta < MIN_GROWTH_FOR_SUSPECT:
        reasons.append("grew by one: too little to judge")
        return "growing", False, "low", tuple(reasons)

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
        + (f" ({e.no_ids_hint})" if big and e.no_ids_hint else "")
    )
    return "growing", big, "low", tuple(reasons)


def _births(ids: list[int], span: tuple[int, int]) -> tuple[float, float, bool]:
    """(span, start) of the middle 80% of birth ids, as shares of the ids created between the
    two captures (``span`` = the highest id of each), and whether the ids are dense (hold at
    least :data:`BURST_DENSITY` of the ids from the lowest to the highest)."""
    ids.sort()
    lo = ids[(len(ids) - 1) // 10]
    hi = ids[len(ids) - 1 - (len(ids) - 1) // 10]
    b_max, a_max = span
    width = a_max - b_max
    dense = len(ids) >= BURST_DENSITY * (ids[-1] - ids[0] + 1)
    return (hi - lo) / width, max(0.0, (lo - b_max) / width), dense


def _ages(tasks: list[Task], b_max: int | None) -> str:
    """What says how old a flat group's tasks are: birth ids against the first snapshot's
    highest, waits of a minute or more."""
    parts: list[str] = []
    ids = [t.id for t in tasks if t.id is not None and t.id > 0]
    if b_max is not None and ids:
        parts.append(
            f"born before the first snapshot (ids {min(ids)} to {max(ids)}; its highest was "
            f"{b_max})"
        )
    waits = [t.wait_minutes for t in tasks if t.wait_minutes]
    if waits:
        longest = max(waits)
        parts.append(
            f"{len(waits)} blocked for a minute or more (up to {longest} "
            f"minute{'s' if longest > 1 else ''})"
        )
    return "; ".join(parts)


def diff(
    before: Snapshot,
    after: Snapshot,
    by: GroupBy = GroupBy.SITE,
    elapsed_seconds: float | None = None,
) -> DiffResult:
    """Compare two snapshots of the same process. ``elapsed_seconds`` overrides capture times."""
    warnings: list[str] = []
    cont = continuity(before, after)
    elapsed_source = "--elapsed" if elapsed_seconds is not None else ""
    if elapsed_seconds is None:
        elapsed_seconds = elapsed_between(before, after)
        if elapsed_seconds is not None:
            elapsed_source = "capture times"
            if elapsed_seconds <= 0:
                # Swapped or identical inputs have their own warning, which says why.
                if not (cont.swapped or cont.identical):
                    warnings.append(
                        "the second snapshot was not captured after the first: rates not computed"
                    )
                elapsed_seconds, elapsed_source = None, ""
    ids_ok = cont.comparable
    warnings.extend(cont.notes)
    rt = runtimes.of(after)

    if not rt.same_format(before.source.format, after.source.format):
        warnings.append(
            f"the snapshots are of different formats ({before.source.format} and "
            f"{after.source.format}): sites may not match; compare dumps of the same kind"
        )

    groups_b, groups_a = merge_instances(
        [group(before.tasks, by, rt=rt), group(after.tasks, by, rt=rt)], rt
    )
    keys = list(groups_a) + [k for k in groups_b if k not in groups_a]

    clocks = id_spans(before, after) if ids_ok else {}

    results: list[GroupDiff] = []
    for key in keys:
        tb = groups_b.get(key, [])
        ta = groups_a.get(key, [])
        nb = total(tb)
        na = total(ta)
        survivors: int | None = None
        if ids_ok:
            ids_b = set(rt.identities(tb))
            survivors = sum(map(ids_b.__contains__, rt.identities(ta)))
        span: float | None = None
        start: float | None = None
        dense = False
        clock = clocks.get(key.kind)
        if nb == 0 and na and clock is not None:
            # Ids below 1 are no clock (a JVM's own threads: their negated OS thread id).
            born = [t.id for t in ta if t.id is not None and t.id > 0]
            if born:
                span, start, dense = _births(born, clock)
        pool = rt.one_pool(ta) if na > nb and survivors else ""
        ages = ""
        if na == nb and survivors == nb >= HELD_MIN:
            clocked = (before.source.format, key.kind) in rt.id_clocks
            ages = _ages(ta, before.max_id if clocked else None)
        prof_a = profile(ta)
        summary = summarise(key, ta, rt, prof_a) if ta else summarise(key, tb, rt)
        leaked = leaked_count(prof_a)
        kind = rt.kind(key.kind)
        verdict, suspect, confidence, reasons = judge(
            _Evidence(
                nb,
                na,
                survivors,
                span,
                long_waiting(prof_a),
                leaked,
                kind.marked_by,
                rt.no_ids_hint,
                start,
                dense,
                pool,
                ages,
            )
        )
        if suspect and not pool:
            hints = (
                rt.site_hints.get((key.kind, key.function, key.file)),
                rt.name_hints.get((key.kind, key.name_pattern)),
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
                leaked=leaked,
                verdict=verdict,
                suspect=suspect,
                confidence=confidence,
                reasons=reasons,
                summary=summary,
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
