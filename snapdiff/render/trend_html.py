"""The HTML page of a trend: the chart of the top sites over time (inline SVG), the table with
each site's sparkline, the suspects' stacks. Self-contained and escaped as
:mod:`snapdiff.render.html`."""

from __future__ import annotations

from snapdiff.render import common
from snapdiff.render import trend_common as tc
from snapdiff.render.html import (
    code,
    describe,
    details,
    esc,
    group_name,
    notes,
    num,
    page,
    scroll,
    sparkline,
    waiting_clause,
)
from snapdiff.render.options import DEFAULT, ReportOptions
from snapdiff.trend import SiteTrend, TrendResult

CHART_SITES = 6
COLORS = ("#cf222e", "#0969da", "#1a7f37", "#8250df", "#bc4c00", "#57606a")
SUSPECT_STACKS = 10


def chart(result: TrendResult, groups: list[SiteTrend], width: int = 720, height: int = 240) -> str:
    """Counts per snapshot of ``groups``, one line each, over time (or snapshot number)."""
    if not groups or len(result.snapshots) < 2:
        return ""
    left, right, top, bottom = 48, 12, 10, 28
    xs = list(result.offsets_seconds or range(len(result.snapshots)))
    x_span = (xs[-1] - xs[0]) or 1
    hi = max(max(g.series) for g in groups) or 1

    def x(v: float) -> float:
        return left + (v - xs[0]) * (width - left - right) / x_span

    def y(v: float) -> float:
        return height - bottom - v * (height - top - bottom) / hi

    parts = [
        f'<svg class="chart" width="{width}" height="{height}" role="img" '
        f'aria-label="tasks per site over time">',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" '
        'stroke="#d0d7de"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{y(0):.1f}" stroke="#d0d7de"/>',
        f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{hi:,}</text>',
        f'<text x="{left - 6}" y="{y(0):.1f}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{height - 8}">{esc(tc.offset_text(result, 0))}</text>',
        f'<text x="{width - right}" y="{height - 8}" text-anchor="end">'
        f"{esc(tc.offset_text(result, len(xs) - 1))}</text>",
    ]
    for i, g in enumerate(groups):
        color = COLORS[i % len(COLORS)]
        points = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, g.series, strict=True))
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}">'
            f"<title>{esc(tc.site_text(g))}</title></polyline>"
        )
    parts.append("</svg>")
    legend = "".join(
        f'<li><svg width="14" height="10"><rect width="14" height="10" '
        f'fill="{COLORS[i % len(COLORS)]}"/></svg> {esc(tc.site_text(g))}</li>'
        for i, g in enumerate(groups)
    )
    return "".join(parts) + f'<ul class="legend">{legend}</ul>'


def render_trend(result: TrendResult, options: ReportOptions = DEFAULT) -> str:
    links = options.links
    kind = tc.kind(result)
    suspects = result.suspects
    n = len(suspects)
    title = (
        f"snapdiff trend: {n:,} suspect site{'' if n == 1 else 's'}"
        if n
        else ("snapdiff trend: no suspect site")
    )
    body = [f"<h1>{esc(title)}</h1>"]
    summary = esc(tc.head(result, "→"))
    if suspects:
        top = suspects[0]
        summary += (
            f" Suspect: {group_name(top.summary, links)}{esc(tc.suspect_tail(result, '→'))}"
            f"{waiting_clause(top.summary.waiting, links)}{esc(common.more_suspects(n))}."
        )
    else:
        summary += " No site keeps accumulating tasks."
    body.append(f'<p class="summary">{summary}</p>')
    shown, folded = tc.split_noise(result, options.all_groups)
    body.append(chart(result, shown[:CHART_SITES]))
    summaries = tuple(g.summary for g in result.groups)
    words = common.key_heading(result.group_by, summaries)
    head = [("Verdict", False), (esc(words[0].upper() + words[1:]), False), ("Series", False)]
    head += [("First", True), ("Last", True), ("Δ", True), (f"Per {tc.per(result)}", True)]
    head += [("Steadiness", True)]
    if result.ids_comparable:
        head.append(("Survivors", True))
    if result.runtime_leaks:
        head.append((esc(f"{tc.leak_marker(result)}: leaked"), True))
    head.append(("Where they wait", False))
    mark_entry = not common.entry_only(summaries)

    def table(groups: list[SiteTrend], ident: str) -> list[str]:
        ths = "".join(
            f'<th class="n" scope="col">{h}</th>' if isnum else f'<th scope="col">{h}</th>'
            for h, isnum in head
        )
        out = [f'<table class="sortable" id="{ident}"><thead><tr>{ths}</tr></thead><tbody>']
        for g in groups:
            slope = g.slope_per_minute if g.slope_per_minute is not None else g.slope_per_step
            cells = [
                f'<td class="v">{esc(tc.verdict_text(g))}</td>',
                f"<td>{group_name(g.summary, links, mark_entry=mark_entry)}</td>",
                f"<td>{sparkline(g.series)}</td>",
                num(g.before, f"{g.before:,}"),
                num(g.after, f"{g.after:,}"),
                num(g.delta, common.signed(g.delta)),
                num(slope, tc.slope_text(g)),
                num(g.steadiness, tc.steadiness_text(g)),
            ]
            if result.ids_comparable:
                shown_s = f"{g.survivors:,}" if g.survivors is not None else "?"
                cells.append(num(g.survivors, shown_s))
            if result.runtime_leaks:
                cells.append(num(g.leaked, tc.runtime_leaked(g)))
            where = waiting_clause(g.summary.waiting, links).removeprefix("; ")
            cells.append(f"<td>{where}</td>")
            cls = ' class="suspect"' if g.suspect else ""
            out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        return out

    body += scroll(table(shown, "groups"))
    if folded:
        line = common.fold_line(len(folded), sum(g.after for g in folded), kind, hint=False)
        body.append(f"<details><summary>{esc(line)}</summary>")
        body += [*table(folded, "folded"), "</details>"]
    for g in suspects[:SUSPECT_STACKS]:
        series = " (" + " → ".join(f"{c:,}" for c in g.series) + ")"
        body += details(g.summary, g.after, links, g.reasons, tc.ages(result, g), esc(series))
    body += [f"<h2>Snapshots, grouped by {esc(words)}</h2>", "<ul>"]
    for i in tc.listed(len(result.snapshots)):
        if i is None:
            body.append("<li>...</li>")
            continue
        m = result.snapshots[i]
        body.append(
            f"<li>{esc(tc.offset_text(result, i))}: {code(m.source.origin)}: "
            f"{describe(m, kind)}</li>"
        )
    body += [f"<li>{esc(tc.time_note(result))}</li>", "</ul>"]
    body += notes(common.unique(result.warnings))
    return page(title, body)
