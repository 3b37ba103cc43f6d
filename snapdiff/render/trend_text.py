"""The terminal report of a trend, and the live table of ``watch``. Dump text goes into
``Text`` objects, never into markup; long names fold as in the diff report."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from snapdiff.render import common
from snapdiff.render import trend_common as tc
from snapdiff.render.common import clean
from snapdiff.render.options import DEFAULT, ReportOptions
from snapdiff.render.text import (
    MIN_FOLD_WIDTH,
    Folded,
    _examples,
    _print,
    _site,
    _stack,
    _suspect_line,
    _table,
)
from snapdiff.trend import SiteTrend, TrendResult

SUSPECT_STACKS = 5
SPARK_WIDTH = 24
SITE_ROOM = 30


def _verdict(g: SiteTrend) -> Text:
    style = "bold red" if g.suspect else ("yellow" if g.verdict in ("growing", "turnover") else "")
    return Text(tc.verdict_text(g), style=style)


def trend_table(
    result: TrendResult,
    limit: int | None = None,
    *,
    compact: bool = False,
    groups: list[SiteTrend] | None = None,
) -> Table:
    """Verdict, site, sparkline, first, last, slope, steadiness, survivors (and Go's marks).

    ``compact``: one line per group (the live view of ``watch``, which must fit the screen).
    """
    table = _table()
    table.add_column("verdict", min_width=7)
    summaries = tuple(g.summary for g in result.groups)
    table.add_column(
        common.key_heading(result.group_by, summaries), min_width=MIN_FOLD_WIDTH, ratio=1
    )
    mark_entry = not common.entry_only(summaries)
    table.add_column("series", no_wrap=True)
    table.add_column("first", justify="right", no_wrap=True)
    table.add_column("last", justify="right", no_wrap=True)
    table.add_column(f"/{tc.per(result)}", justify="right", no_wrap=True)
    table.add_column("steady", justify="right", no_wrap=True)
    if result.ids_comparable:
        table.add_column("surv.", justify="right", no_wrap=True)
    if result.runtime_leaks:
        table.add_column(f"{tc.leak_marker(result)} leaked", justify="right", no_wrap=True)
    every = list(result.groups) if groups is None else groups
    listed = every if limit is None else every[:limit]
    for g in listed:
        row: list[RenderableType] = [
            _verdict(g),
            Text(tc.site_text(g), no_wrap=True, overflow="ellipsis")
            if compact
            else _site(g.summary, mark_entry=mark_entry),
            Text(tc.sparkline(g.series, SPARK_WIDTH), style="red" if g.suspect else "cyan"),
            f"{g.before:,}",
            f"{g.after:,}",
            Text(tc.slope_text(g), style="red" if g.suspect else ""),
            tc.steadiness_text(g),
        ]
        if result.ids_comparable:
            row.append(f"{g.survivors:,}" if g.survivors is not None else "?")
        if result.runtime_leaks:
            row.append(tc.runtime_leaked(g))
        table.add_row(*row)
    if limit is not None and len(every) > limit:
        table.add_row("", Text(f"... {len(every) - limit} more groups", style="dim"))
    return table


def site_lines(result: TrendResult, groups: tuple[SiteTrend, ...] | list[SiteTrend]) -> Folded:
    """One entry per group for a console too narrow for the table: the verdict and the site on
    one line, the sparkline and every figure of the table's row, named, on the next; both fold
    at separators, so no value is cut."""
    summaries = tuple(g.summary for g in result.groups)
    mark_entry = not common.entry_only(summaries)
    lines: list[tuple[str, str]] = []
    for g in groups:
        name = tc.site_text(g)
        if mark_entry and g.key.by == "entry" and g.summary.site is None:
            name += " (entry function)"
        style = "bold red" if g.suspect else ""
        lines.append((f"{tc.verdict_text(g):<9} {name}", style))
        figures = [
            f"{g.before:,} -> {g.after:,}",
            f"{tc.slope_text(g)}/{tc.per(result)}",
            f"steady {tc.steadiness_text(g)}",
        ]
        if result.ids_comparable:
            figures.append(
                f"survivors {g.survivors:,}" if g.survivors is not None else "survivors ?"
            )
        if result.runtime_leaks and g.leaked:
            figures.append(f"{tc.leak_marker(result)} leaked {tc.runtime_leaked(g)}")
        if g.summary.states:
            figures.append(common.detail(g.summary))
        spark = tc.sparkline(g.series, SPARK_WIDTH)
        lines.append((f"{'':10}{spark} " + ", ".join(figures), ""))
    return Folded(lines, 1, hang=2)


def render_trend(
    result: TrendResult,
    console: Console,
    *,
    stacks: int = SUSPECT_STACKS,
    options: ReportOptions = DEFAULT,
) -> None:
    kind = tc.kind(result)
    _print(console, Folded([(tc.summary(result), "bold")], 1, hang=0))
    _print(console)
    shown, folded = tc.split_noise(result, options.all_groups)
    table = trend_table(result, groups=shown)
    # The table when its site column keeps room for a name (not one path part per line).
    if console.measure(table).minimum - MIN_FOLD_WIDTH + SITE_ROOM > console.width:
        _print(console, site_lines(result, shown))
    else:
        _print(console, table)
    if folded:
        line = common.fold_line(len(folded), sum(g.after for g in folded), kind)
        _print(console, Folded([(line, "dim")], 1))
    for g in result.suspects[:stacks]:
        _print(console)
        series = " ".join(f"{c:,}" for c in g.series)
        _print(console, Folded([(_suspect_line(g.summary, series), "bold")], 1))
        lines = [("why: " + "; ".join(clean(r, 300) for r in g.reasons), "dim")]
        ages = tc.ages(result, g)
        if ages:
            lines.append(("ages: " + ages, ""))
        if g.leaked:
            lines.append(
                (
                    f"{common.marker(g.key.kind)} runtime: {g.leaked:,} of {g.after:,} marked "
                    "(leaked) in the last snapshot",
                    "",
                )
            )
        if g.labels:
            labels = ", ".join(f"{clean(k, 100)}={clean(v, 200)}" for k, v in g.labels)
            lines.append(("labels: " + labels, ""))
        lines += _examples(g.summary)
        _print(console, Folded(lines, 1))
        if not common.is_resource(g.key.kind):  # a handle's one frame is its key, already shown
            _print(console, _stack(g.summary))
    if len(result.suspects) > stacks:
        _print(console, Text(f"(stacks of {len(result.suspects) - stacks} more suspects left out)"))
    _print(console)
    for i in tc.listed(len(result.snapshots)):
        if i is None:
            _print(console, Text(f"{'...':>8}", style="dim"))
            continue
        m = result.snapshots[i]
        line = (
            f"{tc.offset_text(result, i):>8}  {clean(m.source.origin, 300)} "
            f"({common.describe_input(m, kind)})"
        )
        _print(console, Folded([(line, "")], 1, hang=10))
    _print(console, Folded([(tc.time_note(result), "dim")], 1, hang=0))
    for note in result.warnings:
        _print(console, Folded([("note: " + clean(note, 500), "yellow")], 1, hang=6))


def live_view(
    result: TrendResult | None, status: str, limit: int = 12, height: int | None = None
) -> RenderableType:
    """What ``watch`` shows while it runs: a status line and the top groups, one line each,
    as many as fit in ``height`` lines."""
    head = Text(status, style="bold")
    if result is None:
        return Group(head, Text("waiting for a second snapshot...", style="dim"))
    if height is not None:
        limit = max(1, min(limit, height - 8))
    return Group(head, Text(tc.summary(result)), Text(""), trend_table(result, limit, compact=True))
