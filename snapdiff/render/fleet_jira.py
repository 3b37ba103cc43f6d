"""Jira wiki markup of a fleet: the suspect sites across the replicas, the sites table, each
suspect's figures per replica and its stack. Escaping as in :mod:`snapdiff.render.jira`."""

from __future__ import annotations

from snapdiff.fleet import FleetResult, FleetSite
from snapdiff.render import fleet_common as fc
from snapdiff.render.common import group_count, rate, signed
from snapdiff.render.fleet_markdown import SITES, SUSPECT_DETAILS, summary_of
from snapdiff.render.jira import _row, details, group_name, text


def _replicas(result: FleetResult, site: FleetSite) -> list[str]:
    by_number = {r.number: r for r in result.replicas}
    out = ["||Replica||Verdict||Before||After||Δ||Per min||Survivors||"]
    for f in fc.figures_in_order(site):
        r = by_number[f.replica]
        name = text(f"{r.number} {r.address}") + (" (restarted)" if r.restarted else "")
        verdict = f"*{text(f.verdict)}*" if f.suspect else text(f.verdict)
        surv = "-" if f.survivors is None else f"{f.survivors:,}"
        out.append(
            _row(
                [
                    name,
                    verdict,
                    f"{f.before:,}",
                    f"{f.after:,}",
                    text(signed(f.delta)),
                    text(rate(f.rate_per_minute)),
                    surv,
                ]
            )
        )
    return out


def render_fleet(result: FleetResult) -> str:
    n = len(result.suspects)
    title = f"{n:,} suspect site{'' if n == 1 else 's'}" if n else "no suspect site"
    out = [f"h3. snapdiff {result.command} of {len(result.judged)} replicas: {title}", ""]
    out += [text(fc.head(result), 2000), ""]
    for site in result.suspects:
        out.append("* " + text(fc.site_sentence(site), 1000))
    if result.suspects:
        out.append("")
    out.append("||Verdict||Site||On||Δ all||Per min||")
    for s in result.sites[:SITES]:
        verdict = text(fc.site_verdict(s))
        out.append(
            _row(
                [
                    f"*{verdict}*" if s.suspect else verdict,
                    group_name(summary_of(s), None),
                    f"{s.present_on}/{len(s.figures)}",
                    text(signed(s.delta)),
                    text(rate(s.rate_per_minute)),
                ]
            )
        )
    if len(result.sites) > SITES:
        out.append(text(f"({len(result.sites) - SITES} more sites in the JSON report)"))
    out.append("")
    for site in result.suspects[:SUSPECT_DETAILS]:
        summary = summary_of(site)
        out += [f"h4. {group_name(summary, None, mark_entry=False)}", ""]
        out += _replicas(result, site)
        out.append("")
        out += details(summary, group_count(summary), None)
    out += ["Replicas:", ""]
    for r in result.replicas:
        out.append("* " + text(fc.replica_line(r), 1000))
    if result.warnings:
        out += ["", "Notes:", ""]
        out += [f"* {text(w)}" for w in result.warnings]
    return "\n".join(out) + "\n"
