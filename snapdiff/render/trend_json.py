"""The JSON report of a trend: the fields of the ``diff`` report (``before`` is the first
snapshot, ``after`` the last) plus the series, the slope, the steadiness and Go's own marks.
Documented in docs/trend.md."""

from __future__ import annotations

from typing import Any

import orjson

from snapdiff import __version__
from snapdiff.render.json import SCHEMA, SCHEMA_VERSION, _common, _meta, _tail
from snapdiff.render.options import DEFAULT, ReportOptions
from snapdiff.trend import SiteTrend, TrendResult


def _round(value: float | None, digits: int = 3) -> float | None:
    return round(value, digits) if value is not None else None


def _group(g: SiteTrend) -> dict[str, Any]:
    return {
        **_common(g.summary),
        "before": g.before,
        "after": g.after,
        "delta": g.delta,
        "series": list(g.series),
        "slope_per_minute": _round(g.slope_per_minute),
        "slope_per_step": _round(g.slope_per_step),
        "steadiness": _round(g.steadiness),
        "rising_steps": g.rising_steps,
        "survivors": g.survivors,
        "kept": _round(g.kept),
        "runtime_leaked": list(g.leaked_series),
        "suspect": g.suspect,
        "verdict": g.verdict,
        "confidence": g.confidence,
        "reasons": list(g.reasons),
        **_tail(g.summary),
    }


def trend_document(result: TrendResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "command": "trend",
        "snapdiff_version": __version__,
        "group_by": result.group_by,
        "snapshots": [_meta(m) for m in result.snapshots],
        "offsets_seconds": list(result.offsets_seconds) if result.offsets_seconds else None,
        "time_source": result.time_source or None,
        "elapsed_seconds": result.elapsed_seconds,
        "ids_comparable": result.ids_comparable,
        "truncated": any(m.truncated for m in result.snapshots),
        "suspects": len(result.suspects),
        "totals": list(result.totals),
        "total_before": result.totals[0],
        "total_after": result.totals[-1],
        "warnings": list(result.warnings),
        "groups": [_group(g) for g in result.groups],
    }


def render_trend(result: TrendResult, options: ReportOptions = DEFAULT) -> bytes:
    return orjson.dumps(trend_document(result), option=orjson.OPT_INDENT_2) + b"\n"
