"""What the trend renderers share: sparklines, the summary sentence, rates and columns."""

from __future__ import annotations

from snapdiff.render import common
from snapdiff.trend import SiteTrend, TrendResult

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(series: tuple[int, ...] | list[int], width: int | None = None) -> str:
    """One block per count, scaled between the series' own lowest and highest count.

    A flat series is a flat line at mid height (or the lowest block when it is all zero).
    With ``width``, a longer series is reduced to that many evenly spaced points.
    """
    values = list(series)
    if width is not None and len(values) > width > 1:
        values = [values[i] for i in pick(len(values), width)]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return (BLOCKS[0] if hi == 0 else BLOCKS[3]) * len(values)
    top = len(BLOCKS) - 1
    return "".join(BLOCKS[round((v - lo) * top / (hi - lo))] for v in values)


def pick(n: int, k: int) -> list[int]:
    """``k`` evenly spaced indices of ``range(n)``, always with the first and the last."""
    if n <= k:
        return list(range(n))
    if k == 1:
        return [n - 1]
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def listed(n: int, head: int = 3, tail: int = 3) -> list[int | None]:
    """Which snapshots a report lists: all of a short series; else the first and last few with
    ``None`` standing for the ones left out."""
    if n <= head + tail + 2:
        return list(range(n))
    return [*range(head), None, *range(n - tail, n)]


def kind(result: TrendResult) -> str:
    kinds = {g.key.kind for g in result.groups}
    return kinds.pop() if len(kinds) == 1 else "task"


def per(result: TrendResult) -> str:
    """The unit of slopes: ``min`` with times, else ``step``."""
    return "min" if result.offsets_seconds is not None else "step"


def slope_text(g: SiteTrend) -> str:
    value = g.slope_per_minute if g.slope_per_minute is not None else g.slope_per_step
    return common.rate(value)


def steadiness_text(g: SiteTrend) -> str:
    return f"{g.steadiness:.0%}" if g.steadiness is not None else "-"


def verdict_text(g: SiteTrend) -> str:
    if g.suspect and g.confidence == "low":
        return "SUSPECT (unconfirmed)"
    if g.suspect:
        return "SUSPECT"
    return g.verdict


def site_text(g: SiteTrend) -> str:
    return common.key_text(g.key)


def span(result: TrendResult) -> str:
    n = len(result.snapshots)
    if result.offsets_seconds is None:
        return f"{n} snapshots (times unknown)"
    return f"{n} snapshots over {common.duration(result.elapsed_seconds)}"


def head(result: TrendResult, arrow: str = "->") -> str:
    """``6 snapshots over 50s: 36 -> 308 goroutines (+272).``"""
    totals = result.totals
    things = common.kind_plural(kind(result), 2)
    delta = totals[-1] - totals[0]
    return (
        f"{span(result)}: {totals[0]:,} {arrow} {totals[-1]:,} {things} ({common.signed(delta)})."
    )


def suspect_tail(result: TrendResult, arrow: str = "->") -> str:
    """`` grew 18 -> 279, +224/min, in 5 of 5 steps`` and how many other suspects."""
    top = result.suspects[0]
    return (
        f" grew {top.before:,} {arrow} {top.after:,}, {slope_text(top)}/{per(result)}, "
        f"in {top.rising_steps} of {len(top.series) - 1} steps"
    )


def summary(result: TrendResult) -> str:
    if not result.suspects:
        return head(result) + " No site keeps accumulating tasks."
    top = result.suspects[0]
    return (
        f"{head(result)} Suspect: {site_text(top)}{suspect_tail(result)}"
        f"{common.waiting_clause(top.summary.waiting)}{common.more_suspects(len(result.suspects))}."
    )


def time_note(result: TrendResult) -> str:
    if result.offsets_seconds is not None:
        return f"times from {result.time_source}; growth is a Theil-Sen slope per minute"
    return (
        "times unknown (raw dumps without capture times): growth is per step between "
        "snapshots; pass --every 30s (the time between them), or take them with 'snapdiff "
        "capture', which records it"
    )


def offset_text(result: TrendResult, i: int) -> str:
    if result.offsets_seconds is None:
        return f"#{i + 1}"
    return "+" + common.duration(result.offsets_seconds[i])


def split_noise(result: TrendResult, all_groups: bool) -> tuple[list[SiteTrend], list[SiteTrend]]:
    """The groups to list and those folded into one line: steady, the runtime's own, the
    capture's own (none folded with ``all_groups``)."""
    if all_groups:
        return list(result.groups), []
    shown: list[SiteTrend] = []
    folded: list[SiteTrend] = []
    for g in result.groups:
        noise = common.is_noise(g.summary, suspect=g.suspect, delta=g.delta)
        noise = noise and (g.verdict == "steady" or g.delta == 0 or g.after <= 1)
        (folded if noise else shown).append(g)
    return shown, folded


def ages(result: TrendResult, g: SiteTrend) -> str:
    """Go's wait times of the group's goroutines in the last snapshot, and how long the tasks
    of the first snapshot that are still alive in the last have lived at least."""
    alive = result.elapsed_seconds if result.ids_comparable else None
    return common.ages_text(g.summary.waiting, g.survivors, alive)


def leak_marker(result: TrendResult) -> str:
    """Who marked tasks leaked in this series (``Go``), for a column heading."""
    for g in result.groups:
        if any(g.leaked_series):
            return common.marker(g.key.kind)
    return "runtime"


def runtime_leaked(g: SiteTrend) -> str:
    """Go's own count beside ours: ``212 leaked`` (last snapshot)."""
    return f"{g.leaked:,}" if g.leaked else "-"
