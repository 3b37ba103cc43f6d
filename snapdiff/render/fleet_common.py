"""Words shared by the fleet reports: the one-line verdict of a site across replicas."""

from __future__ import annotations

from collections import Counter

from snapdiff.fleet import FleetResult, FleetSite, Replica, ReplicaFigure
from snapdiff.render.common import clean, duration, key_text, rate

# Replicas named one by one in a site's sentence; more are counted.
NAMED = 4
# Rates within this factor of each other read as one figure ("+220/min each").
SAME_RATE = 1.5


def replica_name(r: Replica) -> str:
    """``replica 3 (127.0.0.3:6060, web-3)``."""
    host = f", {clean(r.host, 100)}" if r.host else ""
    return f"replica {r.number} ({clean(r.address, 100)}{host})"


def figures_in_order(site: FleetSite) -> list[ReplicaFigure]:
    """A site's figures as every report lists them: suspect replicas first, largest growth
    first, then by replica number."""
    return sorted(site.figures, key=lambda f: (not f.suspect, -f.delta, f.replica))


def replica_line(r: Replica, arrow: str = "→") -> str:
    """``replica 3 (127.0.0.3:6060): 4 snapshots, 29 → 152 tasks; restarted``."""
    state = "" if r.judged else "; one snapshot, not judged"
    state += "; restarted" if r.restarted else ""
    return (
        f"{replica_name(r)}: {r.snapshots} snapshots, {r.total_first:,} {arrow} "
        f"{r.total_last:,} tasks{state}"
    )


def _rates(site: FleetSite) -> str:
    chosen = [f for f in site.figures if f.suspect] or list(site.figures)
    values = sorted(f.rate_per_minute for f in chosen if f.rate_per_minute is not None)
    if not values:
        return ""
    low, high = values[0], values[-1]
    if (low > 0 and high <= low * SAME_RATE) or len(values) == 1:
        each = " each" if len(values) > 1 else ""
        return f", {rate(site.rate_per_minute)}/min{each}"
    return f", {rate(low)} to {rate(high)}/min (median {rate(site.rate_per_minute)})"


def _listed(figures: list[ReplicaFigure], with_verdict: bool) -> str:
    shown = figures[:NAMED]
    parts = [f"replica {f.replica}" + (f" {f.verdict}" if with_verdict else "") for f in shown]
    if len(figures) > NAMED:
        parts.append(f"{len(figures) - NAMED} more")
    return ", ".join(parts)


def site_verdict(site: FleetSite) -> str:
    """The site's verdict across the fleet, for a table cell: ``SUSPECT 5/6`` or the most
    common verdict of its replicas."""
    n = len(site.figures)
    if site.suspect:
        return f"SUSPECT {site.suspect_on}/{n}"
    verdicts = Counter(f.verdict for f in site.figures if f.verdict != "absent")
    return verdicts.most_common(1)[0][0] if verdicts else "absent"


def site_sentence(site: FleetSite) -> str:
    """``main.fetchAll (leaky/fanout.go:33): SUSPECT on 5 of 6 replicas, +220/min each
    (replica 3 steady)``."""
    n = len(site.figures)
    name = key_text(site.key)
    if not site.suspect:
        return f"{name}: {site_verdict(site)} on {site.present_on} of {n} replicas"
    text = f"{name}: SUSPECT on {site.suspect_on} of {n} replicas{_rates(site)}"
    others = [f for f in site.figures if not f.suspect]
    if site.suspect_on == n:
        return text
    if site.suspect_on * 2 >= n:
        return f"{text} ({_listed(others, True)})"
    return f"{text} (on {_listed([f for f in site.figures if f.suspect], False)})"


def head(result: FleetResult) -> str:
    """First line: how many replicas, over what, how many suspect sites."""
    judged = result.judged
    what = "first and last snapshot" if result.command == "diff" else "series"
    spans = [r.elapsed_seconds for r in result.results if r.elapsed_seconds is not None]
    span = f" over {duration(max(spans))}" if spans else ""
    first = sum(r.total_first for r in judged)
    last = sum(r.total_last for r in judged)
    text = (
        f"{len(judged)} replicas ({what} of each{span}): {first:,} -> {last:,} tasks "
        f"({last - first:+,})."
    )
    suspects = result.suspects
    if not suspects:
        return text + " No suspect site on any replica."
    return text + f" {len(suspects)} suspect site(s): " + site_sentence(suspects[0]) + "."
