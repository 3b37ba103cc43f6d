"""The JSON report of a fleet: the replicas, and per site its verdict across them with every
replica's own figures. Documented in docs/json-report.md."""

from __future__ import annotations

from typing import Any

import orjson

from snapdiff import __version__
from snapdiff.diff import GroupDiff
from snapdiff.fleet import FleetResult, FleetSite, Replica, ReplicaFigure
from snapdiff.render.json import SCHEMA, SCHEMA_VERSION, _common, _tail


def _round(value: float | None, digits: int = 3) -> float | None:
    return round(value, digits) if value is not None else None


def _replica(r: Replica) -> dict[str, Any]:
    return {
        "replica": r.number,
        "address": r.address,
        "host": r.host,
        "snapshots": r.snapshots,
        "total_first": r.total_first,
        "total_last": r.total_last,
        "restarted": r.restarted,
        "judged": r.judged,
    }


def _figure(f: ReplicaFigure) -> dict[str, Any]:
    return {
        "replica": f.replica,
        "verdict": f.verdict,
        "suspect": f.suspect,
        "before": f.before,
        "after": f.after,
        "delta": f.delta,
        "rate_per_minute": _round(f.rate_per_minute),
        "survivors": f.survivors,
    }


def _site(s: FleetSite) -> dict[str, Any]:
    summary = s.example if isinstance(s.example, GroupDiff) else s.example.summary
    return {
        **_common(summary),
        "suspect": s.suspect,
        "suspect_replicas": s.suspect_on,
        "present_replicas": s.present_on,
        "judged_replicas": len(s.figures),
        "rate_per_minute_median": _round(s.rate_per_minute),
        "delta": s.delta,
        "replicas": [_figure(f) for f in s.figures],
        **_tail(summary),
    }


def fleet_document(result: FleetResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "command": f"fleet-{result.command}",
        "snapdiff_version": __version__,
        "group_by": result.group_by,
        "replicas": [_replica(r) for r in result.replicas],
        "suspects": len(result.suspects),
        "warnings": list(result.warnings),
        "sites": [_site(s) for s in result.sites],
    }


def render_fleet(result: FleetResult) -> bytes:
    return orjson.dumps(fleet_document(result), option=orjson.OPT_INDENT_2) + b"\n"
