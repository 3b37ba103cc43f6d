"""N snapshots -> per-group series, a robust slope and a leak verdict over time. Pure functions.

Two snapshots can lie: a burst that exists only at the second capture looks like a leak, and
churn can end higher than it started. Over a series, :func:`judge_trend` calls a group
``suspect`` (verdict ``leak``) only when it keeps accumulating tasks that live long:

* it grows over the series: the Theil-Sen slope (the median of the slopes between every pair of
  snapshots, which one odd snapshot cannot move) is positive and the last count is above the
  first;
* steadily: it grew in at least two steps (:data:`MIN_RISING_STEPS`) and went down in at most
  a third of them (steadiness, the share of steps that did not go down, is at least
  :data:`STEADINESS_FOR_LEAK`);
* and its tasks stay: most tasks of the first snapshot in which the group had tasks are still
  alive in the last (:data:`KEPT_FOR_LEAK`). Ids are matched as ``diff`` matches them.

A burst (up, then back down), churn (nothing lives from one snapshot to the last), a pool or a
stuck task (constant) and a single jump (a pool that started once) are never suspect. Without
comparable ids, only Go's own ``(leaked)`` marks or large, steady growth make a suspect (the
latter with low confidence), as in ``diff``.

The whole rule table is in docs/trend.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from statistics import median

from snapdiff import runtimes
from snapdiff.compare import (
    GROWTH_WITHOUT_IDS,
    GROWTH_WITHOUT_IDS_RATIO,
    HELD_MIN,
    RESTART_LIKELY,
    RESTART_PROVEN,
    GroupSummary,
    SnapshotMeta,
    SummaryFields,
    continuity,
    elapsed_between,
    marked_by,
    meta,
    summarise,
)
from snapdiff.errors import UsageError
from snapdiff.group import GroupBy, GroupKey, group, merge_instances
from snapdiff.model import FLAG_LEAKED, Snapshot, Task
from snapdiff.runtime import Runtime

# A growing group is a leak when at least this share of the tasks of its first non-empty
# snapshot is still alive in the last one.
KEPT_FOR_LEAK = 0.5
# ... and when at least this share of its steps did not go down ...
STEADINESS_FOR_LEAK = 2 / 3
# ... and it grew in at least this many steps (one jump is a pool starting, not a leak).
MIN_RISING_STEPS = 2
# A group that went up and came back is a burst when its peak is at least
# BURST_FACTOR x its typical level (the larger of its first, last and median counts) + BURST_MIN.
BURST_FACTOR = 2
BURST_MIN = 3


@dataclass(frozen=True, slots=True)
class SiteTrend(SummaryFields):
    """One group over the series."""

    key: GroupKey
    series: tuple[int, ...]  # tasks in each snapshot
    leaked_series: tuple[int, ...]  # of them, marked leaked by the runtime
    before: int  # first
    after: int  # last
    delta: int
    slope_per_minute: float | None  # Theil-Sen; None without times
    slope_per_step: float  # Theil-Sen over snapshot numbers
    steadiness: float | None  # share of steps that did not go down; None for one snapshot
    rising_steps: int
    survivors: int | None  # tasks of the first snapshot still alive in the last
    kept: float | None  # share of the first non-empty snapshot's tasks alive in the last
    verdict: str
    suspect: bool
    confidence: str
    reasons: tuple[str, ...]
    summary: GroupSummary  # the group in the last snapshot that had it

    @property
    def leaked(self) -> int:
        """Tasks the runtime marked leaked in the last snapshot."""
        return self.leaked_series[-1] if self.leaked_series else 0


@dataclass(frozen=True, slots=True)
class TrendResult:
    snapshots: tuple[SnapshotMeta, ...]  # in series order
    offsets_seconds: tuple[float, ...] | None  # time of each snapshot since the first
    time_source: str  # "capture times", "--every", or "" (rates are per step)
    group_by: str
    ids_comparable: bool
    groups: tuple[SiteTrend, ...]
    warnings: tuple[str, ...]
    # The runs of the process the series was split into at restarts: (first, last) snapshot
    # index of each, in order; one run when the process never restarted.
    runs: tuple[tuple[int, int], ...] = ()

    @property
    def suspects(self) -> tuple[SiteTrend, ...]:
        return tuple(g for g in self.groups if g.suspect)

    @property
    def elapsed_seconds(self) -> float | None:
        return self.offsets_seconds[-1] if self.offsets_seconds else None

    @property
    def totals(self) -> tuple[int, ...]:
        return tuple(m.total for m in self.snapshots)

    @property
    def runtime_leaks(self) -> bool:
        """Whether any snapshot carried the runtime's leak marks."""
        return any(any(g.leaked_series) for g in self.groups)


# --- statistics -----------------------------------------------------------------------------


def theil_sen(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The median of the slopes between every pair of points with different x.

    Robust: up to ~29% of the points can be anything without moving it far. O(n²) pairs, which
    is fine for the few hundred snapshots of a series. 0.0 when no two x differ.
    """
    slopes = [
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    return float(median(slopes)) if slopes else 0.0


def steadiness(series: Sequence[int]) -> float | None:
    """The share of steps that did not go down (1.0: never went down). None for one point."""
    steps = len(series) - 1
    if steps < 1:
        return None
    return sum(1 for a, b in pairwise(series) if b >= a) / steps


def rising_steps(series: Sequence[int]) -> int:
    return sum(1 for a, b in pairwise(series) if b > a)


# --- the verdict ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrendEvidence:
    series: tuple[int, ...]
    slope: float  # per step (the sign and pattern are what matter here)
    survivors: int | None
    kept: float | None  # None when ids cannot be compared or the group never had tasks before
    leaked: int  # the runtime's leak marks in the last snapshot
    marked_by: str = ""  # whose marks: "Go" reads "the Go runtime marked"


def judge_trend(e: TrendEvidence) -> tuple[str, bool, str, tuple[str, ...]]:
    """(verdict, suspect, confidence, reasons) for one group over a series."""
    s = e.series
    first, last, peak = s[0], s[-1], max(s)
    steps = len(s) - 1
    steady = steadiness(s)
    rises = rising_steps(s)
    downs = sum(1 for a, b in pairwise(s) if b < a)
    reasons: list[str] = []
    if e.leaked:
        reasons.append(f"{marked_by(e.marked_by)} marked {e.leaked} as leaked")

    typical = max(first, last, median(s))
    if steps >= 2 and peak >= BURST_FACTOR * typical + BURST_MIN and e.slope <= 0:
        at = s.index(peak) + 1
        reasons.append(f"rose to {peak} at snapshot {at} and came back down to {last}")
        return "burst", False, "high", tuple(reasons)
    if last == 0:
        return "gone", False, "high", tuple(reasons)
    if all(c == 0 for c in s[:-1]):
        if last < 3 or steps < 2:
            reasons.append("only in the last snapshot: too early to judge")
            return "new", False, "low", tuple(reasons)
        reasons.append("appeared in the last snapshot only: a jump, not a trend yet")
        return "burst", False, "medium", tuple(reasons)

    if e.slope <= 0 or last <= first:
        if e.survivors == 0 and first > 0:
            reasons.append(f"none of the {first} first tasks is alive in the last snapshot")
            return "churn", False, "high", tuple(reasons)
        if last < first:
            return "shrinking", False, "high", tuple(reasons)
        if e.survivors is not None and e.survivors == first == last:
            if first >= HELD_MIN and all(c == first for c in s):
                reasons.append(
                    f"all {first} tasks lived through the whole series at a flat count: a pool "
                    "of that size, or a leak that hit a limit (a semaphore, a pool's cap, a "
                    "connection limit)"
                )
                return "held", False, "medium", tuple(reasons)
            reasons.append("the same tasks in every snapshot")
        elif last > first:
            reasons.append(f"no trend: the count went {first} -> {last} with ups and downs")
        return "steady", False, "high", tuple(reasons)

    # Growing: the slope is positive and the series ends higher than it began.
    if e.kept is not None:
        if e.kept == 0:
            reasons.append(
                "none of its earlier tasks is alive in the last snapshot: they come and go"
            )
            return "churn", False, "high", tuple(reasons)
        if e.kept < KEPT_FOR_LEAK:
            reasons.append(
                f"only {e.kept:.0%} of its earlier tasks are alive in the last snapshot: "
                "turnover, not accumulation"
            )
            return "turnover", False, "medium", tuple(reasons)
        reasons.append(f"{e.kept:.0%} of its earlier tasks are still alive")
        if steps >= 2 and rises < MIN_RISING_STEPS:
            reasons.append("grew in one step only, then held: a pool or a one-off, not a trend")
            return "step", False, "medium", tuple(reasons)
        if steady is not None and steady < STEADINESS_FOR_LEAK:
            reasons.append(f"went down in {downs} of {steps} steps: not steady growth")
            return "growing", False, "low", tuple(reasons)
        reasons.append(f"grew in {rises} of {steps} steps")
        return "leak", True, "high", tuple(reasons)

    growth = last - first
    if e.leaked and e.leaked >= growth // 2:
        return "leak", True, "high", tuple(reasons)
    big = growth >= GROWTH_WITHOUT_IDS and growth >= GROWTH_WITHOUT_IDS_RATIO * first
    regular = steady == 1.0 and (steps < 2 or rises >= max(MIN_RISING_STEPS, steps // 2))
    reasons.append(
        "no task ids to match across the series: how long tasks live is unknown"
        + (", but it grew in every step" if big and regular else "")
    )
    return "growing", big and regular, "low", tuple(reasons)


# --- the series -----------------------------------------------------------------------------


def order(snapshots: Sequence[Snapshot]) -> tuple[list[Snapshot], list[str]]:
    """Sorted by capture time when every snapshot has one; else in the given order."""
    snaps = list(snapshots)
    stamped = [elapsed_between(snaps[0], s) for s in snaps]
    if all(t is not None for t in stamped):
        keyed = sorted(zip(stamped, range(len(snaps)), snaps, strict=True), key=lambda x: x[:2])
        return [s for _, _, s in keyed], []
    if any(t is not None for t in stamped):
        return snaps, [
            "some snapshots carry a capture time and some do not: kept in the given order, "
            "rates are per step"
        ]
    return snaps, []


def offsets(snaps: Sequence[Snapshot], every: float | None) -> tuple[list[float] | None, str]:
    """Seconds since the first snapshot for each, and where they come from."""
    if every is not None:
        return [i * every for i in range(len(snaps))], "--every"
    times = [elapsed_between(snaps[0], s) for s in snaps]
    if all(t is not None for t in times):
        return [float(t or 0.0) for t in times], "capture times"
    return None, ""


def _runs(snaps: Sequence[Snapshot]) -> tuple[list[tuple[int, int]], bool, list[str]]:
    """The series split into runs of the process at each restart that is proven or likely
    (:func:`snapdiff.compare.continuity`): (first, last) index of each run; whether ids name
    the same tasks within every run; the warnings."""
    runs: list[tuple[int, int]] = []
    notes: list[str] = []
    ids_ok = True
    start = 0
    for i, (a, b) in enumerate(pairwise(snaps)):
        c = continuity(a, b)
        if c.restart in (RESTART_PROVEN, RESTART_LIKELY):
            runs.append((start, i))
            start = i + 1
            notes.append(
                f"the process restarted between snapshots {i + 1} and {i + 2} ({c.evidence})"
            )
            continue
        if not c.comparable:
            ids_ok = False
        if c.identical:
            continue  # a quiet stretch of a series: nothing changed, nothing to say
        notes.extend(n for n in c.notes if n not in notes)
    runs.append((start, len(snaps) - 1))
    if len(runs) > 1:
        notes.append(
            f"the series is judged run by run ({_run_list(runs)}); survivors are counted within a "
            "run, never across a restart"
        )
    return runs, ids_ok, notes


def _span(run: tuple[int, int]) -> str:
    a, b = run
    return f"{a + 1}-{b + 1}" if b > a else f"{a + 1}"


def _run_list(runs: Sequence[tuple[int, int]]) -> str:
    return "snapshots " + ", ".join(_span(r) for r in runs)


def _alive(tasks: Sequence[Task], later: set[tuple[object, ...]], rt: Runtime) -> int:
    return sum(t.count for t in tasks if rt.identity(t) in later)


@dataclass(frozen=True, slots=True)
class _RunJudgement:
    """One group over one run of the process."""

    series: tuple[int, ...]
    per_step: float
    per_minute: float | None
    survivors: int | None
    kept: float | None
    verdict: tuple[str, bool, str, tuple[str, ...]]


def _cut(xs: list[float] | None, run: tuple[int, int]) -> list[float] | None:
    return xs[run[0] : run[1] + 1] if xs is not None else None


def _judge_run(
    per: Sequence[Sequence[Task]],
    leaked: int,
    marks: str,
    ids_ok: bool,
    rt: Runtime,
    xs: tuple[list[float], list[float] | None],
) -> _RunJudgement:
    """Judge one group over the snapshots of one run (``per``: its tasks in each)."""
    series = tuple(sum(t.count for t in tasks) for tasks in per)
    ys = [float(c) for c in series]
    per_step = theil_sen(xs[0], ys)
    per_minute = theil_sen(xs[1], ys) if xs[1] is not None else None
    survivors: int | None = None
    kept: float | None = None
    if ids_ok:
        at_end = {rt.identity(t) for t in per[-1]}
        survivors = _alive(per[0], at_end, rt)
        ref = next((i for i, c in enumerate(series[:-1]) if c > 0), None)
        if ref is not None:
            kept = _alive(per[ref], at_end, rt) / series[ref]
    verdict = judge_trend(TrendEvidence(series, per_step, survivors, kept, leaked, marks))
    return _RunJudgement(series, per_step, per_minute, survivors, kept, verdict)


def _over_runs(
    judged: list[tuple[tuple[int, int], _RunJudgement]],
    runs: list[tuple[int, int]],
) -> tuple[_RunJudgement | None, tuple[str, bool, str, tuple[str, ...]]]:
    """A group over a series split at restarts: a leak when it is one in some run (high
    confidence when in every run that has it, and at least two), else what its last run says.
    The reasons name the runs."""
    restarts = ", ".join(f"{a + 1} and {a + 2}" for (_, a) in runs[:-1])
    said = f"the process restarted between snapshots {restarts}"
    if not judged:
        return None, ("new", False, "low", ("in no run in two snapshots or more: too early",))
    leaks = [(run, j) for run, j in judged if j.verdict[1]]
    if leaks:
        run, j = leaks[-1]
        every = len(leaks) == len(judged)
        if every and len(leaks) >= 2:
            head = f"grew in {'both' if len(leaks) == 2 else 'all'} runs"
        else:
            head = f"a leak in {'run' if len(leaks) == 1 else 'runs'} "
            head += ", ".join(_span(r) for r, _ in leaks)
            others = [f"{_span(r)}: {j2.verdict[0]}" for r, j2 in judged if not j2.verdict[1]]
            if others:
                head += f" (other runs: {'; '.join(others)})"
        where = f"({_run_list([r for r, _ in leaks])})"
        confidence = j.verdict[2] if every and len(leaks) >= 2 else "medium"
        reasons = (f"{head} {where}; {said}", *j.verdict[3])
        return j, ("leak", True, confidence, reasons)
    run, j = judged[-1]
    verdict, _, confidence, why = j.verdict
    return j, (verdict, False, confidence, (f"in the last run ({_run_list([run])}); {said}", *why))


def trend(
    snapshots: Sequence[Snapshot],
    by: GroupBy = GroupBy.SITE,
    every_seconds: float | None = None,
) -> TrendResult:
    """Judge every group over a series of snapshots of one process.

    Snapshots are ordered by capture time when all have one; ``every_seconds`` gives the
    spacing of snapshots without capture times (and then the given order is kept).
    """
    if len(snapshots) < 2:
        raise UsageError(f"a trend needs at least two snapshots, got {len(snapshots)}")
    warnings: list[str] = []
    if every_seconds is None:
        snaps, notes = order(snapshots)
        warnings.extend(notes)
    else:
        snaps = list(snapshots)
    offs, time_source = offsets(snaps, every_seconds)
    if offs is not None and any(b <= a for a, b in pairwise(offs)):
        warnings.append("two snapshots share a capture time: rates are per step")
        offs, time_source = None, ""
    if len(snaps) == 2:
        warnings.append("two snapshots: steadiness needs three or more ('snapdiff diff' for two)")

    runs, ids_ok, notes = _runs(snaps)
    warnings.extend(notes)
    rt = runtimes.of(snaps[-1])
    formats = {rt.format_family(s.source.format) for s in snaps}
    if len(formats) > 1:
        warnings.append(
            f"the snapshots are of different formats ({', '.join(sorted(formats))}): sites may "
            "not match"
        )

    grouped = merge_instances([group(s.tasks, by, rt=rt) for s in snaps], rt)
    keys: list[GroupKey] = []
    seen: set[GroupKey] = set()
    for g in reversed(grouped):
        for k in g:
            if k not in seen:
                seen.add(k)
                keys.append(k)
    xs_steps = [float(i) for i in range(len(snaps))]
    xs_minutes = [o / 60 for o in offs] if offs is not None else None

    results: list[SiteTrend] = []
    for key in keys:
        per = [g.get(key, []) for g in grouped]
        series = tuple(sum(t.count for t in tasks) for tasks in per)
        leaked = tuple(sum(t.count for t in tasks if FLAG_LEAKED in t.flags) for tasks in per)
        marks = rt.kind(key.kind).marked_by
        judged = [
            (run, _judge_run(per[run[0] : run[1] + 1], leaked[run[1]], marks, ids_ok, rt, xs))
            for run in runs
            if run[1] > run[0] and any(series[run[0] : run[1] + 1])
            for xs in [(xs_steps[run[0] : run[1] + 1], _cut(xs_minutes, run))]
        ]
        j: _RunJudgement | None
        if len(runs) == 1:
            j = judged[0][1]
            verdict, suspect, confidence, reasons = j.verdict
        else:
            j, (verdict, suspect, confidence, reasons) = _over_runs(judged, runs)
        shown = next(tasks for tasks in reversed(per) if tasks)
        results.append(
            SiteTrend(
                key=key,
                series=series,
                leaked_series=leaked,
                before=series[0],
                after=series[-1],
                delta=series[-1] - series[0],
                slope_per_minute=j.per_minute if j else None,
                slope_per_step=j.per_step if j else 0.0,
                steadiness=steadiness(j.series if j else series),
                rising_steps=rising_steps(series),
                survivors=j.survivors if j else None,
                kept=j.kept if j else None,
                verdict=verdict,
                suspect=suspect,
                confidence=confidence,
                reasons=reasons,
                summary=summarise(key, shown, rt),
            )
        )
    results.sort(key=_order)
    if any(s.truncated for s in snaps):
        warnings.append(
            "a snapshot is truncated: counts of the groups whose tasks were cut off are low"
        )
    return TrendResult(
        snapshots=tuple(meta(s, len(g)) for s, g in zip(snaps, grouped, strict=True)),
        offsets_seconds=tuple(offs) if offs is not None else None,
        time_source=time_source,
        group_by=by.value,
        ids_comparable=ids_ok and len(runs) == 1,
        groups=tuple(results),
        warnings=tuple(warnings),
        runs=tuple(runs),
    )


def _order(g: SiteTrend) -> tuple[int, float, int, int, str, str, int]:
    return (
        0 if g.suspect else 1,
        -g.slope_per_step,
        -g.delta,
        -g.after,
        g.key.function,
        g.key.file,
        g.key.line,
    )


def slope(g: SiteTrend) -> float:
    """Growth per minute when the series has times, else per step."""
    return g.slope_per_minute if g.slope_per_minute is not None else g.slope_per_step


def growth_over(result: TrendResult, threshold: int) -> list[SiteTrend]:
    """Suspect groups that grew by at least ``threshold`` tasks, first to last."""
    return [g for g in result.groups if g.suspect and g.delta >= threshold]


def rate_over(result: TrendResult, per_minute: float) -> list[SiteTrend]:
    """Suspect groups growing by at least ``per_minute`` tasks a minute (needs times)."""
    return [
        g
        for g in result.groups
        if g.suspect and g.slope_per_minute is not None and g.slope_per_minute >= per_minute
    ]
