"""Jira wiki markup of a trend: escaping as in :mod:`snapdiff.render.jira`."""

from __future__ import annotations

from snapdiff.render import common
from snapdiff.render import trend_common as tc
from snapdiff.render.jira import code, details, group_name, text, waiting_clause
from snapdiff.render.options import DEFAULT, ReportOptions
from snapdiff.trend import TrendResult

SUSPECT_STACKS = 10


def render_trend(result: TrendResult, options: ReportOptions = DEFAULT) -> str:
    links = options.links
    suspects = result.suspects
    n = len(suspects)
    title = f"{n:,} suspect site{'' if n == 1 else 's'}" if n else "no suspect site"
    out = [f"h3. snapdiff trend: {title}", ""]
    summary = text(tc.head(result))
    if suspects:
        top = suspects[0]
        summary += (
            f" Suspect: {group_name(top.summary, links)}{text(tc.suspect_tail(result))}"
            f"{waiting_clause(top.summary.waiting, links)}{text(common.more_suspects(n))}."
        )
    else:
        summary += " No site keeps accumulating tasks."
    out += [summary, ""]
    summaries = tuple(g.summary for g in result.groups)
    words = common.key_heading(result.group_by, summaries)
    head = ["Verdict", words[0].upper() + words[1:], "Trend", "First", "Last", "Δ"]
    head += [f"Per {tc.per(result)}", "Steadiness"]
    head += ["Survivors"] * result.ids_comparable + [f"{tc.leak_marker(result)}: leaked"] * bool(
        result.runtime_leaks
    )
    head.append("Where they wait")
    out.append("||" + "||".join(head) + "||")
    shown, folded = tc.split_noise(result, options.all_groups)
    mark_entry = not common.entry_only(summaries)
    for g in shown:
        verdict = text(tc.verdict_text(g))
        row = [
            f"*{verdict}*" if g.suspect else verdict,
            group_name(g.summary, links, mark_entry=mark_entry),
            tc.sparkline(g.series, 24),
            f"{g.before:,}",
            f"{g.after:,}",
            text(common.signed(g.delta)),
            text(tc.slope_text(g)),
            text(tc.steadiness_text(g)),
        ]
        if result.ids_comparable:
            row.append(f"{g.survivors:,}" if g.survivors is not None else "?")
        if result.runtime_leaks:
            row.append(text(tc.runtime_leaked(g)))
        row.append(waiting_clause(g.summary.waiting, links).removeprefix("; ") or " ")
        out.append("|" + "|".join(row) + "|")
    out.append("")
    if folded:
        tasks = sum(g.after for g in folded)
        out.append(text(common.fold_line(len(folded), tasks, tc.kind(result), hint=False)))
        out.append("{expand:" + f"{len(folded):,} steady or internal sites" + "}")
        for g in folded:
            out.append(f"* {group_name(g.summary, links)}: {g.before:,} → {g.after:,}")
        out += ["{expand}", ""]
    for g in suspects[:SUSPECT_STACKS]:
        out += details(g.summary, g.after, links, g.reasons, tc.ages(result, g))
    out += [f"Snapshots, grouped by {text(words)}:", ""]
    kind = tc.kind(result)
    for i in tc.listed(len(result.snapshots)):
        if i is None:
            out.append("* ...")
            continue
        m = result.snapshots[i]
        parts = ", ".join(
            code(p) if untrusted else text(p) for p, untrusted in common.describe_parts(m, kind)
        )
        out.append(f"* {text(tc.offset_text(result, i))}: {code(m.source.origin)}: {parts}")
    out.append(f"* {text(tc.time_note(result))}")
    notes = common.unique(result.warnings)
    if notes:
        out += ["", "Notes:", ""]
        out.extend(f"* {text(n)}" for n in notes)
    return "\n".join(out) + "\n"
