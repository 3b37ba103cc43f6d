"""Snapshot files: versioned JSON (gzip when the name ends in ``.gz``), frames and stacks interned.

Layout (version 1; docs/snapshot-format.md and snapdiff/schemas/snapshot-v1.json)::

    {"format": "snapdiff-snapshot", "version": 1, "written_by": "snapdiff 0.1.0",
     "source": {...}, "truncated": false, "skipped_lines": 0, "warnings": [...],
     "frames": [[function, file, line], ...],
     "stacks": [[frame index, ...], ...],            innermost first
     "states": [...], "labelsets": [[[k, v], ...], ...], "flagsets": [[flag, ...], ...],
     "task_fields": [...names of the columns below...],
     "tasks": [[kind, id, name, state, wait_minutes, stack, created_by, creator_id,
                labels, flags, count], ...],
     "locals": [[task index, frame index, name, repr], ...]}   only when kept on purpose

A million goroutines share a few hundred stacks, so a task is a short row of numbers.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict
from typing import Any

import orjson

from snapdiff import __version__
from snapdiff.errors import InputError
from snapdiff.model import Frame, Snapshot, SourceInfo, Task, new_task

FORMAT = "snapdiff-snapshot"
VERSION = 1
TASK_FIELDS = (
    "kind",
    "id",
    "name",
    "state",
    "wait_minutes",
    "stack",
    "created_by",
    "creator_id",
    "labels",
    "flags",
    "count",
)


class _Table:
    """Values to small integers, first seen first."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.items: list[Any] = []

    def add(self, value: Any) -> int:
        i = self.index.get(value)
        if i is None:
            i = self.index[value] = len(self.items)
            self.items.append(value)
        return i


def encode(snapshot: Snapshot) -> dict[str, Any]:
    frames, stacks, states, labelsets, flagsets, kinds = (_Table() for _ in range(6))
    rows: list[list[Any]] = []
    local_rows: list[list[Any]] = []
    stack_ids: dict[tuple[Frame, ...], int] = {}
    for n, t in enumerate(snapshot.tasks):
        sid = stack_ids.get(t.frames)
        if sid is None:
            sid = stack_ids[t.frames] = stacks.add(tuple(frames.add(f) for f in t.frames))
        rows.append(
            [
                kinds.add(t.kind),
                t.id,
                t.name or None,
                states.add(t.state),
                t.wait_minutes,
                sid,
                frames.add(t.created_by) if t.created_by is not None else None,
                t.creator_id,
                labelsets.add(t.labels) if t.labels else None,
                flagsets.add(t.flags) if t.flags else None,
                t.count,
            ]
        )
        local_rows.extend([n, fi, name, value] for fi, name, value in t.locals)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "written_by": f"snapdiff {__version__}",
        "source": asdict(snapshot.source),
        "truncated": snapshot.truncated,
        "skipped_lines": snapshot.skipped_lines,
        "warnings": list(snapshot.warnings),
        "kinds": kinds.items,
        "frames": [[f.function, f.file, f.line] for f in frames.items],
        "stacks": [list(s) for s in stacks.items],
        "states": states.items,
        "labelsets": [[list(kv) for kv in ls] for ls in labelsets.items],
        "flagsets": [list(fs) for fs in flagsets.items],
        "task_fields": list(TASK_FIELDS),
        "tasks": rows,
    }
    if local_rows:
        doc["locals"] = local_rows
    return doc


def dumps(snapshot: Snapshot, *, compress: bool = False) -> bytes:
    data = orjson.dumps(encode(snapshot))
    if compress:
        # mtime=0: the same snapshot gives the same bytes.
        return gzip.compress(data, compresslevel=6, mtime=0)
    return data + b"\n"


def is_snapshot(head: bytes) -> bool:
    start = head.lstrip()[:200]
    return start.startswith(b"{") and b'"' + FORMAT.encode() + b'"' in start


def loads(data: bytes, origin: str) -> Snapshot:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{origin}: not a valid snapshot file: {exc}") from None
    try:
        return decode(doc, origin)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(
            f"{origin}: snapshot file is damaged or of another version: {type(exc).__name__}: {exc}"
        ) from None


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _check_types(tasks: list[Task]) -> None:
    """One pass over the columns that came as raw JSON values."""
    for t in tasks:
        for value in (t.id, t.wait_minutes, t.creator_id):
            if value is not None and (type(value) is not int):
                raise TypeError(f"expected an integer or null, got {type(value).__name__}")
        if type(t.count) is not int or t.count < 1:
            raise TypeError("task count must be a positive integer")
        if type(t.name) is not str:
            raise TypeError("task name must be a string")


def decode(doc: Any, origin: str) -> Snapshot:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{origin}: not a snapdiff snapshot file")
    version = doc.get("version")
    if version != VERSION:
        raise InputError(
            f"{origin}: snapshot file version {version!r}; this snapdiff reads version {VERSION}"
        )
    fields = doc["task_fields"]
    if list(fields) != list(TASK_FIELDS):
        raise InputError(f"{origin}: snapshot file has unknown task fields {fields!r}")
    frames = [Frame(_str(f), _str(p), int(n)) for f, p, n in doc["frames"]]
    stacks = [tuple(frames[i] for i in s) for s in doc["stacks"]]
    kinds = [_str(k) for k in doc["kinds"]]
    states = [_str(s) for s in doc["states"]]
    labelsets = [tuple((_str(k), _str(v)) for k, v in ls) for ls in doc["labelsets"]]
    flagsets = [tuple(_str(f) for f in fs) for fs in doc["flagsets"]]
    locals_by_task: dict[int, list[tuple[int, str, str]]] = {}
    for n, fi, name, value in doc.get("locals", ()):
        locals_by_task.setdefault(int(n), []).append((int(fi), _str(name), _str(value)))
    no_locals: tuple[tuple[int, str, str], ...] = ()
    tasks = []
    for n, row in enumerate(doc["tasks"]):
        kind, tid, name, state, wait, stack, created_by, creator, labels, flags, count = row
        # Every field given, in Task's field order: this loop runs once per task.
        tasks.append(
            new_task(
                kinds[kind],
                stacks[stack],
                tid,
                name or "",
                states[state],
                wait,
                frames[created_by] if created_by is not None else None,
                creator,
                labelsets[labels] if labels is not None else (),
                flagsets[flags] if flags is not None else (),
                count,
                tuple(locals_by_task[n]) if n in locals_by_task else no_locals,
            )
        )
    _check_types(tasks)
    src = doc["source"]
    source = SourceInfo(
        format=_str(src["format"]),
        origin=_str(src["origin"]),
        captured_at=src.get("captured_at"),
        producer=src.get("producer"),
        detail=src.get("detail") or "",
        pid=_opt_int(src.get("pid")),
        host=src.get("host"),
        capture=tuple((_str(k), _str(v)) for k, v in src.get("capture") or ()),
    )
    return Snapshot(
        source=source,
        tasks=tuple(tasks),
        warnings=tuple(_str(w) for w in doc.get("warnings", ())),
        truncated=bool(doc.get("truncated", False)),
        skipped_lines=int(doc.get("skipped_lines", 0)),
    )
