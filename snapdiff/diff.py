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
    GroupSummary,
    SnapshotMeta,
    SummaryFields,
    comparable,
    elapsed_between,
    leaked_count,
    long_waiting,
    marked_by,
    meta,
    midpoints,
    nothing_survived,
    profile,
    summarise,
    total,
)
from snapdiff.group import GroupBy, GroupKey, group
from snapdiff.model import Snapshot

# A grown group is a leak when at least this share of its earlier tasks is still alive.
SURVIVAL_FOR_LEAK = 0.5
# A new site is a leak when at least this share of its tasks was born in the first half of the
# interval between the two captures (by the id clock).
EARLY_BORN_FOR_LEAK = 0.25
# Growth with no ids must be at least this large (absolute and relative) to be called suspect.
GROWTH_WITHOUT_IDS = 10
GROWTH_WITHOUT_IDS_RATIO = 0.5
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
    early_born: float | None  # share of a new site's tasks born in the first half of the interval
    long_waiting: int  # tasks waiting a minute or more (Go)
    leaked: int
    marked_by: str = ""  # whose leak marks: "Go" reads "the Go runtime marked"
    no_ids_hint: str = ""  # where a dump with ids can be had, for growth without ids


def judge(e: _Evidence) -> tuple[str, bool, str, tuple[str, ...]]:
    """(verdict, suspect, confidence, reasons)."""
    delta = e.after - e.before
    reasons: list[str] = []
    if e.leaked:
        reasons.append(f"{marked_by(e.marked_by)} marked {e.leaked} as leaked")
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
        + (f" ({e.no_ids_hint})" if big and e.no_ids_hint else "")
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
    rt = runtimes.of(after)

    if not rt.same_format(before.source.format, after.source.format):
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

    groups_b = group(before.tasks, by, rt=rt)
    groups_a = group(after.tasks, by, rt=rt)
    keys = list(groups_a) + [k for k in groups_b if k not in groups_a]

    halfway = midpoints(before, after) if ids_ok else {}

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
        early: float | None = None
        midpoint = halfway.get(key.kind)
        if nb == 0 and na and midpoint is not None:
            # Ids below 1 are no clock (a JVM's own threads: their negated OS thread id).
            early = sum(1 for t in ta if t.id is not None and 0 < t.id <= midpoint) / len(ta)
        prof_a = profile(ta)
        summary = summarise(key, ta, rt, prof_a) if ta else summarise(key, tb, rt)
        leaked = leaked_count(prof_a)
        kind = rt.kind(key.kind)
        verdict, suspect, confidence, reasons = judge(
            _Evidence(
                nb,
                na,
                survivors,
                early,
                long_waiting(prof_a),
                leaked,
                kind.marked_by,
                rt.no_ids_hint,
            )
        )
        if suspect:
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
