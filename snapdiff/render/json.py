"""JSON reports for machines. Schema-versioned; fields documented in docs/json-report.md.

Strings are copied from the dump as they are (JSON escapes whatever it must); a consumer that
shows them must escape them for its own medium.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson

from snapdiff import __version__
from snapdiff.compare import GroupSummary, SnapshotMeta
from snapdiff.diff import DiffResult, GroupDiff, ShowResult
from snapdiff.model import Frame
from snapdiff.render.options import DEFAULT, ReportOptions
from snapdiff.waits import Waiting

SCHEMA = "snapdiff-report"
SCHEMA_VERSION = 1


def _frame(f: Frame) -> dict[str, Any]:
    return {"function": f.function, "file": f.file or None, "line": f.line or None}


def _meta(m: SnapshotMeta) -> dict[str, Any]:
    src = asdict(m.source)
    src["capture"] = dict(m.source.capture)
    return {
        **src,
        "total": m.total,
        "groups": m.groups,
        "truncated": m.truncated,
        "max_id": m.max_id,
        "warnings": list(m.warnings),
    }


def _common(g: GroupDiff | GroupSummary) -> dict[str, Any]:
    key = g.key
    return {
        "key": key.by,
        "kind": key.kind,
        "label": key.label(),
        "key_function": key.function or None,
        "key_file": key.file or None,
        "key_line": key.line or None,
        "site_function": g.site.function if g.site else None,
        "site_file": (g.site.file or None) if g.site else None,
        "site_line": (g.site.line or None) if g.site else None,
        "entry_function": g.entry_function or None,
        "name_pattern": key.name_pattern or None,
    }


def _waiting(w: Waiting | None) -> dict[str, Any] | None:
    if w is None:
        return None
    f = w.frame
    return {
        "state": w.state,
        "function": (f.function or None) if f else None,
        "file": (f.file or None) if f else None,
        "line": (f.line or None) if f else None,
        "count": w.count,
        "total": w.total,
        "oldest_wait_minutes": w.oldest_wait_minutes,
        "median_wait_minutes": w.median_wait_minutes,
    }


def _tail(g: GroupDiff | GroupSummary) -> dict[str, Any]:
    return {
        "waiting": _waiting(g.waiting),
        "states": dict(g.states),
        "max_wait_minutes": g.max_wait_minutes,
        "leaked": g.leaked,
        "labels": dict(g.labels),
        "example_ids": list(g.example_ids),
        "example_names": list(g.example_names),
        "stack": [_frame(f) for f in g.stack],
    }


def diff_document(result: DiffResult) -> dict[str, Any]:
    groups = []
    for g in result.groups:
        groups.append(
            {
                **_common(g),
                "before": g.before,
                "after": g.after,
                "delta": g.delta,
                "rate_per_minute": (
                    round(g.rate_per_minute, 3) if g.rate_per_minute is not None else None
                ),
                "survivors": g.survivors,
                "new": g.new,
                "gone": g.gone,
                "suspect": g.suspect,
                "verdict": g.verdict,
                "confidence": g.confidence,
                "reasons": list(g.reasons),
                "alive_at_least_seconds": (
                    result.elapsed_seconds if g.survivors and result.ids_comparable else None
                ),
                **_tail(g),
            }
        )
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "command": "diff",
        "snapdiff_version": __version__,
        "group_by": result.group_by,
        "before": _meta(result.before),
        "after": _meta(result.after),
        "elapsed_seconds": result.elapsed_seconds,
        "elapsed_source": result.elapsed_source or None,
        "ids_comparable": result.ids_comparable,
        "truncated": result.before.truncated or result.after.truncated,
        "suspects": sum(1 for g in result.groups if g.suspect),
        "total_before": result.before.total,
        "total_after": result.after.total,
        "warnings": list(result.warnings),
        "groups": groups,
    }


def show_document(result: ShowResult) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "command": "show",
        "snapdiff_version": __version__,
        "group_by": result.group_by,
        "snapshot": _meta(result.snapshot),
        "total": result.snapshot.total,
        "truncated": result.snapshot.truncated,
        "groups": [{**_common(g), "count": g.count, **_tail(g)} for g in result.groups],
    }


def render_diff(result: DiffResult, options: ReportOptions = DEFAULT) -> bytes:
    """Every group, whatever ``options`` say: a machine reads the whole report."""
    return orjson.dumps(diff_document(result), option=orjson.OPT_INDENT_2) + b"\n"


def render_show(result: ShowResult, options: ReportOptions = DEFAULT) -> bytes:
    return orjson.dumps(show_document(result), option=orjson.OPT_INDENT_2) + b"\n"


def render_formats(rows: list[tuple[str, str]]) -> bytes:
    data = [{"name": n, "description": d} for n, d in rows]
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"
