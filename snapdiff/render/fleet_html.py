"""The HTML page of a fleet: the suspect sites across the replicas, the sites table, each
suspect's figures per replica and its stack. Self-contained and escaped as
:mod:`snapdiff.render.html`."""

from __future__ import annotations

from snapdiff.fleet import FleetResult, FleetSite
from snapdiff.render import fleet_common as fc
from snapdiff.render.common import group_count, rate, signed
from snapdiff.render.fleet_markdown import SITES, SUSPECT_DETAILS, summary_of
from snapdiff.render.html import details, esc, group_name, notes, num, page, scroll


def _replicas(result: FleetResult, site: FleetSite, ident: str) -> list[str]:
    by_number = {r.number: r for r in result.replicas}
    head = [("Replica", False), ("Verdict", False), ("Before", True), ("After", True)]
    head += [("Δ", True), ("Per min", True), ("Survivors", True)]
    ths = "".join(
        f'<th class="n" scope="col">{h}</th>' if isnum else f'<th scope="col">{h}</th>'
        for h, isnum in head
    )
    out = [f'<table class="sortable" id="{ident}"><thead><tr>{ths}</tr></thead><tbody>']
    for f in fc.figures_in_order(site):
        r = by_number[f.replica]
        name = esc(f"{r.number} {r.address}") + (" (restarted)" if r.restarted else "")
        surv = "-" if f.survivors is None else f"{f.survivors:,}"
        cls = ' class="suspect"' if f.suspect else ""
        out.append(
            f'<tr{cls}><td>{name}</td><td class="v">{esc(f.verdict)}</td>'
            + num(f.before, f"{f.before:,}")
            + num(f.after, f"{f.after:,}")
            + num(f.delta, signed(f.delta))
            + num(f.rate_per_minute, rate(f.rate_per_minute))
            + num(f.survivors, surv)
            + "</tr>"
        )
    out.append("</tbody></table>")
    return out


def render_fleet(result: FleetResult) -> str:
    n = len(result.suspects)
    title = f"snapdiff {result.command} of {len(result.judged)} replicas: " + (
        f"{n:,} suspect site{'' if n == 1 else 's'}" if n else "no suspect site"
    )
    body = [f"<h1>{esc(title)}</h1>", f'<p class="summary">{esc(fc.head(result), 2000)}</p>']
    if result.suspects:
        body.append("<ul>")
        body += [f"<li>{esc(fc.site_sentence(s), 1000)}</li>" for s in result.suspects]
        body.append("</ul>")
    head = [("Verdict", False), ("Site", False), ("On", True), ("Δ all", True)]
    head.append(("Per min", True))
    ths = "".join(
        f'<th class="n" scope="col">{h}</th>' if isnum else f'<th scope="col">{h}</th>'
        for h, isnum in head
    )
    table = [f'<table class="sortable" id="sites"><thead><tr>{ths}</tr></thead><tbody>']
    for s in result.sites[:SITES]:
        cls = ' class="suspect"' if s.suspect else ""
        table.append(
            f'<tr{cls}><td class="v">{esc(fc.site_verdict(s))}</td>'
            f"<td>{group_name(summary_of(s), None)}</td>"
            + num(s.present_on, f"{s.present_on}/{len(s.figures)}")
            + num(s.delta, signed(s.delta))
            + num(s.rate_per_minute, rate(s.rate_per_minute))
            + "</tr>"
        )
    table.append("</tbody></table>")
    body += scroll(table)
    if len(result.sites) > SITES:
        body.append(f"<p>({len(result.sites) - SITES} more sites in the JSON report)</p>")
    for i, site in enumerate(result.suspects[:SUSPECT_DETAILS]):
        summary = summary_of(site)
        section = details(summary, group_count(summary), None)
        # The figures of each replica go under the suspect's heading, before its details.
        section[2:2] = scroll(_replicas(result, site, f"replicas-{i + 1}"))
        body += section
    body += ["<h2>Replicas</h2>", "<ul>"]
    for r in result.replicas:
        body.append(f"<li>{esc(fc.replica_line(r), 1000)}</li>")
    body.append("</ul>")
    body += notes(result.warnings)
    return page(title, body)
