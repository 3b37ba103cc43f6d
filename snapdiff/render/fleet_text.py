"""The terminal report of a fleet: the verdict of each site across replicas, then each suspect
site's figures per replica and its stack, then the replicas. Untrusted text goes into ``Text``."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from snapdiff.diff import GroupDiff
from snapdiff.fleet import FleetResult, FleetSite
from snapdiff.render import fleet_common as fc
from snapdiff.render.common import clean, is_resource, rate, signed
from snapdiff.render.text import Folded, _print, _site, _stack, _table

SITES = 30  # rows of the sites table
SUSPECT_DETAILS = 5  # suspect sites shown with their replicas and stack
REPLICA_ROWS = 40  # replicas shown per suspect site (all are in the JSON report)


def _sites_table(result: FleetResult) -> object:
    table = _table()
    for name, justify in (
        ("verdict", "left"),
        ("site", "left"),
        ("on", "right"),
        ("Δ all", "right"),
        ("/min", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for s in result.sites[:SITES]:
        summary = s.example if isinstance(s.example, GroupDiff) else s.example.summary
        table.add_row(
            Text(fc.site_verdict(s), style="bold red" if s.suspect else ""),
            _site(summary),
            f"{s.present_on}/{len(s.figures)}",
            signed(s.delta),
            rate(s.rate_per_minute),
        )
    return table


def _replicas_table(result: FleetResult, site: FleetSite) -> object:
    table = _table()
    for name, justify in (
        ("replica", "left"),
        ("verdict", "left"),
        ("before", "right"),
        ("after", "right"),
        ("Δ", "right"),
        ("/min", "right"),
        ("surv.", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    by_number = {r.number: r for r in result.replicas}
    rows = fc.figures_in_order(site)
    for f in rows[:REPLICA_ROWS]:
        r = by_number[f.replica]
        table.add_row(
            Text(f"{r.number} {clean(r.address, 100)}" + (" (restarted)" if r.restarted else "")),
            Text(f.verdict.upper() if f.suspect else f.verdict, style="red" if f.suspect else ""),
            f"{f.before:,}",
            f"{f.after:,}",
            signed(f.delta),
            rate(f.rate_per_minute),
            "-" if f.survivors is None else f"{f.survivors:,}",
        )
    return table


def render_fleet(result: FleetResult, console: Console) -> None:
    _print(console, Folded([(fc.head(result), "bold")], 1, hang=0))
    _print(console)
    _print(console, _sites_table(result))  # type: ignore[arg-type]
    for site in result.suspects[:SUSPECT_DETAILS]:
        _print(console)
        _print(console, Folded([(fc.site_sentence(site), "bold")], 1))
        _print(console, _replicas_table(result, site))  # type: ignore[arg-type]
        if len(site.figures) > REPLICA_ROWS:
            more = len(site.figures) - REPLICA_ROWS
            _print(console, Text(f"  ({more} more replicas in the JSON report)", style="dim"))
        summary = site.example if isinstance(site.example, GroupDiff) else site.example.summary
        if not is_resource(site.key.kind):  # a handle's one frame is its key, already shown
            _print(console, _stack(summary))
    if len(result.suspects) > SUSPECT_DETAILS:
        more = len(result.suspects) - SUSPECT_DETAILS
        _print(console, Text(f"({more} more suspect sites in the table above)"))
    _print(console)
    for r in result.replicas:
        _print(console, Folded([(fc.replica_line(r, "->"), "dim")], 1, hang=4))
    for note in result.warnings:
        _print(console, Folded([("note: " + clean(note, 500), "yellow")], 1, hang=6))
