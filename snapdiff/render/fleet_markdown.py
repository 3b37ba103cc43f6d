"""Markdown of a fleet for incident tickets: one line per suspect site across the replicas, the
sites table, per-replica figures and the stack of each suspect. Escaping as in
:mod:`snapdiff.render.markdown`."""

from __future__ import annotations

from snapdiff.compare import GroupSummary
from snapdiff.diff import GroupDiff
from snapdiff.fleet import FleetResult, FleetSite
from snapdiff.render import fleet_common as fc
from snapdiff.render.common import group_count, rate, signed
from snapdiff.render.markdown import _details, _group_name, text

SUSPECT_DETAILS = 10
SITES = 30


def summary_of(site: FleetSite) -> GroupDiff | GroupSummary:
    """What a site's rows and details show: the diff or the summary of its example replica."""
    return site.example if isinstance(site.example, GroupDiff) else site.example.summary


def _replicas(result: FleetResult, site: FleetSite) -> list[str]:
    by_number = {r.number: r for r in result.replicas}
    out = [
        "| Replica | Verdict | Before | After | Δ | Per min | Survivors |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for f in fc.figures_in_order(site):
        r = by_number[f.replica]
        name = text(f"{r.number} {r.address}") + (" (restarted)" if r.restarted else "")
        verdict = f"**{text(f.verdict)}**" if f.suspect else text(f.verdict)
        surv = "-" if f.survivors is None else f"{f.survivors:,}"
        out.append(
            f"| {name} | {verdict} | {f.before:,} | {f.after:,} | {signed(f.delta)} | "
            f"{rate(f.rate_per_minute)} | {surv} |"
        )
    return out


def render_fleet(result: FleetResult) -> str:
    n = len(result.suspects)
    title = f"{n:,} suspect site{'' if n == 1 else 's'}" if n else "no suspect site"
    out = [f"### snapdiff {result.command} of {len(result.judged)} replicas: {title}", ""]
    out += [text(fc.head(result), 2000), ""]
    for site in result.suspects:
        out.append("- " + text(fc.site_sentence(site), 1000))
    if result.suspects:
        out.append("")
    out += ["| Verdict | Site | On | Δ all | Per min |", "|---|---|--:|--:|--:|"]
    for s in result.sites[:SITES]:
        verdict = text(fc.site_verdict(s))
        out.append(
            f"| {f'**{verdict}**' if s.suspect else verdict} | {_group_name(summary_of(s))} | "
            f"{s.present_on}/{len(s.figures)} | {signed(s.delta)} | {rate(s.rate_per_minute)} |"
        )
    if len(result.sites) > SITES:
        out.append(f"\n({len(result.sites) - SITES} more sites in the JSON report)")
    out.append("")
    for site in result.suspects[:SUSPECT_DETAILS]:
        out += [f"#### {_group_name(summary_of(site), prose=True)}", ""]
        out += _replicas(result, site)
        out.append("")
        out += _details(summary_of(site), group_count(summary_of(site)), stuck=True)
        out.append("")
    out.append("Replicas:")
    out.append("")
    for r in result.replicas:
        out.append(f"- {text(fc.replica_line(r), 1000)}")
    if result.warnings:
        out.append("")
        out += [f"> note: {text(w)}" for w in result.warnings]
    return "\n".join(out) + "\n"
