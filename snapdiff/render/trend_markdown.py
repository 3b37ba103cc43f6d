"""Markdown of a trend for incident tickets: the verdict table, the series as a small table, and
the stacks of the suspects. Escaping as in :mod:`snapdiff.render.markdown`."""

from __future__ import annotations

from snapdiff.render import common
from snapdiff.render import trend_common as tc
from snapdiff.render.markdown import (
    _describe,
    _details,
    _group_name,
    _grouped_by,
    _key_words,
    _states,
    code,
    html,
    table,
    text,
    waiting_clause,
)
from snapdiff.render.options import DEFAULT, ReportOptions
from snapdiff.trend import TrendResult

SUSPECT_STACKS = 10
SERIES_SITES = 10
SERIES_COLUMNS = 8


def render_trend(result: TrendResult, options: ReportOptions = DEFAULT) -> str:
    links = options.links
    suspects = result.suspects
    n = len(suspects)
    title = f"{n:,} suspect site{'' if n == 1 else 's'}" if suspects else "no suspect site"
    out = [f"### snapdiff trend: {title}", ""]
    summary = tc.head(result, "→")
    if suspects:
        top = suspects[0]
        summary += (
            f" Suspect: {_group_name(top.summary, prose=True, links=links)}"
            f"{text(tc.suspect_tail(result, '→'))}"
            f"{waiting_clause(top.summary.waiting, links)}{text(common.more_suspects(n))}."
        )
    else:
        summary += " No site keeps accumulating tasks."
    out += [summary, ""]

    summaries = tuple(g.summary for g in result.groups)
    heading = _key_words(result.group_by, summaries)
    mark_entry = not common.entry_only(summaries)
    head = ["Verdict", heading[0].upper() + heading[1:], "Trend", "First", "Last", "Δ"]
    align = ["---", "---", "---", "--:", "--:", "--:"]
    head.append(f"Per {tc.per(result)}")
    align.append("--:")
    fixed = len(head)
    head.append("Steadiness")
    align.append("--:")
    if result.ids_comparable:
        head.append("Survivors")
        align.append("--:")
    if result.runtime_leaks:
        head.append(f"{tc.leak_marker(result)}: leaked")
        align.append("--:")
    head.append("States (last)")
    align.append("---")
    shown_groups, folded = tc.split_noise(result, options.all_groups)
    rows = []
    for g in shown_groups:
        verdict = text(tc.verdict_text(g))
        row = [
            f"**{verdict}**" if g.suspect else verdict,
            _group_name(g.summary, mark_entry=mark_entry, links=links),
            tc.sparkline(g.series, 24),
            f"{g.before:,}",
            f"{g.after:,}",
            common.signed(g.delta),
            tc.slope_text(g),
            tc.steadiness_text(g),
        ]
        if result.ids_comparable:
            row.append(f"{g.survivors:,}" if g.survivors is not None else "?")
        if result.runtime_leaks:
            row.append(tc.runtime_leaked(g))
        row.append(_states(g.summary))
        rows.append(row)
    out += table(head, align, rows, fixed)
    if folded:
        line = common.fold_line(
            len(folded), sum(g.after for g in folded), tc.kind(result), hint=False
        )
        out += [f"<details><summary>{html(line)}</summary>", ""]
        for g in folded:
            name = _group_name(g.summary, prose=True, mark_entry=mark_entry, links=links)
            out.append(f"- {name}: {g.before:,} → {g.after:,}, {text(tc.verdict_text(g))}")
        out += ["", "</details>", ""]

    cols = tc.pick(len(result.snapshots), SERIES_COLUMNS)
    shown = shown_groups[:SERIES_SITES]
    out.append(f"Counts per snapshot (top {len(shown)} of {len(result.groups)} groups):")
    out.append("")
    out.append("| Group | " + " | ".join(tc.offset_text(result, i) for i in cols) + " |")
    out.append("|---|" + "|".join("--:" for _ in cols) + "|")
    for g in shown:
        out.append(
            f"| {_group_name(g.summary, mark_entry=mark_entry)} | "
            + " | ".join(f"{g.series[i]:,}" for i in cols)
            + " |"
        )
    out.append("")

    for g in suspects[:SUSPECT_STACKS]:
        details = _details(g.summary, g.after, stuck=True, ages=tc.ages(result, g))
        why = "Why: " + text("; ".join(g.reasons)) + "."
        out += [details[0], "", why, "", *details[2:]]
    if len(suspects) > SUSPECT_STACKS:
        out += [f"Stacks of {len(suspects) - SUSPECT_STACKS} more suspect sites left out.", ""]

    out.append(f"Snapshots, {_grouped_by(result.group_by, summaries)}:")
    out.append("")
    kind = tc.kind(result)
    for i in tc.listed(len(result.snapshots)):
        if i is None:
            out.append("- ...")
            continue
        m = result.snapshots[i]
        name = m.source.origin.replace("\\", "/").rsplit("/", 1)[-1] or m.source.origin
        out.append(
            f"- {text(tc.offset_text(result, i))}: {code(name, 200, table=False)}: "
            f"{_describe(m, kind)}"
        )
    out.append(f"- {text(tc.time_note(result))}")
    if result.warnings:
        out += ["", "Notes:", ""]
        out.extend(f"- {text(n)}" for n in result.warnings)
    return "\n".join(out) + "\n"
