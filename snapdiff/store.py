"""Snapshot files: versioned JSON (gzip when the name ends in ``.gz``), frames and stacks interned.

Layout (version 2; docs/snapshot-format.md and snapdiff/schemas/snapshot-v2.json)::

    {"format": "snapdiff-snapshot", "version": 2, "written_by": "snapdiff 0.1.0",
     "source": {...}, "truncated": false, "skipped_lines": 0, "warnings": [...],
     "kinds": [...], "frames": [[function, file, line], ...],
     "stacks": [[frame index, ...], ...],            innermost first
     "states": [...], "labelsets": [[[k, v], ...], ...], "flagsets": [[flag, ...], ...],
     "task_count": N,
     "task_fields": [...names of the columns below...],
     "columns": {"kind": COLUMN, "id": COLUMN, ..., "count": COLUMN},
     "locals": [[task index, frame index, name, repr], ...]}   only when kept on purpose

    COLUMN: [value of task 0, value of task 1, ...]
          | {"runs": [[value, how many tasks in a row], ...]}

A column holds, for every task in order, what a version 1 row held in that field: table indices
for kind, state, stack, created_by, labels and flags (null for none), the values themselves for
the rest. Columns rather than rows: a million goroutines share a few hundred stacks, so most
columns are a few runs, and reading is a handful of C-level passes (``orjson`` makes a few long
lists of small ints, ``map``/``zip`` make the tasks) instead of a Python loop per task: a million
tasks load in a fraction of a second. Version 1 files (one row per task) are still read.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from dataclasses import asdict
from itertools import chain, compress, count, islice, repeat, starmap
from operator import attrgetter, ne
from typing import Any, NamedTuple

import orjson

from snapdiff import __version__
from snapdiff.errors import InputError
from snapdiff.model import Frame, Snapshot, SourceInfo, Task, make_task, new_task, paused_gc

FORMAT = "snapdiff-snapshot"
VERSION = 2
READS = (1, 2)
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
_KIND = attrgetter("kind")
_FRAMES = attrgetter("frames")
_ID = attrgetter("id")
_NAME = attrgetter("name")
_STATE = attrgetter("state")
_WAIT = attrgetter("wait_minutes")
_CREATED_BY = attrgetter("created_by")
_CREATOR_ID = attrgetter("creator_id")
_LABELS = attrgetter("labels")
_FLAGS = attrgetter("flags")
_COUNT = attrgetter("count")
# A column is written as runs when that takes at most this share of the tasks.
_RUNS_AT_MOST = 0.25


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
    """The file's document. Every pass over the tasks is a C-level ``map``; tables are filled
    in first-seen order, stacks and creation frames per distinct object (readers share them)."""
    tasks = snapshot.tasks
    frames, stacks = _Table(), _Table()
    stack_objs = list(map(_FRAMES, tasks))
    creator_objs = list(map(_CREATED_BY, tasks))
    stack_ids = list(map(id, stack_objs))
    creator_ids = list(map(id, creator_objs))
    stack_of = dict(zip(stack_ids, stack_objs, strict=True))
    creator_of = dict(zip(creator_ids, creator_objs, strict=True))
    stack_index: dict[int, int] = {}
    creator_index: dict[int, int | None] = {id(None): None}
    for sid, cid in dict.fromkeys(zip(stack_ids, creator_ids, strict=True)):
        if sid not in stack_index:
            stack_index[sid] = stacks.add(tuple(frames.add(f) for f in stack_of[sid]))
        if cid not in creator_index:
            creator_index[cid] = frames.add(creator_of[cid])
    kinds = list(dict.fromkeys(map(_KIND, tasks)))
    states = list(dict.fromkeys(map(_STATE, tasks)))
    labelsets = [ls for ls in dict.fromkeys(map(_LABELS, tasks)) if ls]
    flagsets = [fs for fs in dict.fromkeys(map(_FLAGS, tasks)) if fs]
    kind_index = {k: i for i, k in enumerate(kinds)}
    state_index = {k: i for i, k in enumerate(states)}
    label_index: dict[Any, int | None] = {ls: i for i, ls in enumerate(labelsets)}
    label_index[()] = None
    flag_index: dict[Any, int | None] = {fs: i for i, fs in enumerate(flagsets)}
    flag_index[()] = None
    columns = {
        "kind": list(map(kind_index.__getitem__, map(_KIND, tasks))),
        "id": list(map(_ID, tasks)),
        "name": list(map(_NAME, tasks)),
        "state": list(map(state_index.__getitem__, map(_STATE, tasks))),
        "wait_minutes": list(map(_WAIT, tasks)),
        "stack": list(map(stack_index.__getitem__, stack_ids)),
        "created_by": list(map(creator_index.__getitem__, creator_ids)),
        "creator_id": list(map(_CREATOR_ID, tasks)),
        "labels": list(map(label_index.__getitem__, map(_LABELS, tasks))),
        "flags": list(map(flag_index.__getitem__, map(_FLAGS, tasks))),
        "count": list(map(_COUNT, tasks)),
    }
    local_rows = [
        [n, fi, name, value]
        for n, t in enumerate(tasks)
        if t.locals
        for fi, name, value in t.locals
    ]
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "written_by": f"snapdiff {__version__}",
        "source": asdict(snapshot.source),
        "truncated": snapshot.truncated,
        "skipped_lines": snapshot.skipped_lines,
        "warnings": list(snapshot.warnings),
        "kinds": kinds,
        "frames": [[f.function, f.file, f.line] for f in frames.items],
        "stacks": [list(s) for s in stacks.items],
        "states": states,
        "labelsets": [[list(kv) for kv in ls] for ls in labelsets],
        "flagsets": [list(fs) for fs in flagsets],
        "task_count": len(tasks),
        "task_fields": list(TASK_FIELDS),
        "columns": {name: _column(columns[name]) for name in TASK_FIELDS},
    }
    if local_rows:
        doc["locals"] = local_rows
    return doc


def _column(values: list[Any]) -> list[Any] | dict[str, list[list[Any]]]:
    """The values as they are, or as runs of equal values when that is much shorter."""
    # Where a value differs from the one before it: one C-level pass.
    changes = list(compress(count(1), map(ne, islice(values, 1, None), values)))
    if len(changes) + 1 > max(1, int(len(values) * _RUNS_AT_MOST)):
        return values
    starts = [0, *changes]
    ends = [*changes, len(values)]
    return {"runs": [[values[a], b - a] for a, b in zip(starts, ends, strict=True)]}


def dumps(snapshot: Snapshot, *, compress: bool = False) -> bytes:
    with paused_gc():
        data = orjson.dumps(encode(snapshot))
    if compress:
        # mtime=0: the same snapshot gives the same bytes.
        return gzip.compress(data, compresslevel=6, mtime=0)
    return data + b"\n"


def is_snapshot(head: bytes) -> bool:
    start = head.lstrip()[:200]
    return start.startswith(b"{") and b'"' + FORMAT.encode() + b'"' in start


def loads(data: bytes, origin: str) -> Snapshot:
    with paused_gc():
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"{origin}: not a valid snapshot file: {exc}") from None
        try:
            return decode(doc, origin)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise InputError(
                f"{origin}: snapshot file is damaged or of another version: "
                f"{type(exc).__name__}: {exc}"
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


def _line(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise TypeError(f"a frame's line must be an integer >= 0, not {value!r:.40}")
    return value


_INT: frozenset[type] = frozenset({int})
_INT_OR_NULL: frozenset[type] = frozenset({int, type(None)})
_STR_OR_NULL: frozenset[type] = frozenset({str, type(None)})
_COLUMN_TYPES = {
    "kind": _INT,
    "id": _INT_OR_NULL,
    "name": _STR_OR_NULL,
    "state": _INT,
    "wait_minutes": _INT_OR_NULL,
    "stack": _INT,
    "created_by": _INT_OR_NULL,
    "creator_id": _INT_OR_NULL,
    "labels": _INT_OR_NULL,
    "flags": _INT_OR_NULL,
    "count": _INT,
}


def _only(values: list[Any], types: frozenset[type], field: str) -> None:
    """Every value of a column is of one of these types (one C-level pass)."""
    if not types.issuperset(map(type, values)):
        bad = next(v for v in values if type(v) not in types)
        raise TypeError(f"{field}: unexpected {type(bad).__name__} {bad!r:.40}")


def _expand(
    column: Any,
    count: int,
    field: str,
    types: frozenset[type],
    lookup: dict[Any, Any] | None = None,
) -> Iterable[Any]:
    """A column's values, one per task, each of one of ``types`` and, with ``lookup``, put
    through it (table indices to what they stand for). Types and look-ups are done on the list,
    or on the runs' values only (what a run expands to is that same object)."""
    if isinstance(column, dict):
        runs = column["runs"]
        if set(column) != {"runs"} or not isinstance(runs, list):
            raise ValueError(f"column {field}: neither a list nor runs")
        for run in runs:
            if not isinstance(run, list) or len(run) != 2 or type(run[1]) is not int or run[1] < 1:
                raise ValueError(f"column {field}: a run is not [value, length >= 1]")
        _only([run[0] for run in runs], types, field)
        if lookup is not None:
            runs = [[lookup[value], n] for value, n in runs]
        if sum(run[1] for run in runs) != count:
            raise ValueError(f"column {field}: its runs do not add up to {count:,} tasks")
        return list(chain.from_iterable(starmap(repeat, runs)))
    if not isinstance(column, list):
        raise TypeError(f"column {field}: neither a list nor runs")
    _only(column, types, field)
    if len(column) != count:
        raise ValueError(f"column {field} has {len(column):,} values for {count:,} tasks")
    return column if lookup is None else map(lookup.__getitem__, column)


def _lookup(table: list[Any], *, nullable: bool, empty: Any = None) -> dict[Any, Any]:
    """Index -> value (a dict, so that a negative index fails as KeyError)."""
    lookup: dict[Any, Any] = dict(enumerate(table))
    if nullable:
        lookup[None] = empty
    return lookup


def decode(doc: Any, origin: str) -> Snapshot:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{origin}: not a snapdiff snapshot file")
    version = doc.get("version")
    if version not in READS:
        raise InputError(
            f"{origin}: snapshot file version {version!r}; this snapdiff reads versions "
            + " and ".join(map(str, READS))
        )
    fields = doc["task_fields"]
    if list(fields) != list(TASK_FIELDS):
        raise InputError(f"{origin}: snapshot file has unknown task fields {fields!r}")
    frames = [Frame(_str(f), _str(p), _line(n)) for f, p, n in doc["frames"]]
    stacks = [tuple(frames[i] for i in s) for s in doc["stacks"]]
    kinds = [_str(k) for k in doc["kinds"]]
    states = [_str(s) for s in doc["states"]]
    labelsets = [tuple((_str(k), _str(v)) for k, v in ls) for ls in doc["labelsets"]]
    flagsets = [tuple(_str(f) for f in fs) for fs in doc["flagsets"]]
    tables = _Tables(kinds, frames, stacks, states, labelsets, flagsets)
    tasks = _tasks_v1(doc["tasks"], tables) if version == 1 else _tasks_v2(doc, tables)
    for n, fi, name, value in doc.get("locals", ()):
        n = int(n)
        kept = (*tasks[n].locals, (int(fi), _str(name), _str(value)))
        tasks[n] = tasks[n]._replace(locals=kept)
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


class _Tables(NamedTuple):
    """A file's tables, read, that task columns and rows point into."""

    kinds: list[str]
    frames: list[Frame]
    stacks: list[tuple[Frame, ...]]
    states: list[str]
    labelsets: list[tuple[tuple[str, str], ...]]
    flagsets: list[tuple[str, ...]]


def _tasks_v2(doc: dict[str, Any], t: _Tables) -> list[Task]:
    count = doc["task_count"]
    if type(count) is not int or count < 0:
        raise TypeError("task_count must be a non-negative integer")
    columns = doc["columns"]
    if not isinstance(columns, dict) or set(columns) != set(TASK_FIELDS):
        raise ValueError(f"columns must be exactly {', '.join(TASK_FIELDS)}")
    # Table look-ups through dicts: a bad index (negative, past the end) is a KeyError, never
    # another table entry.
    lookups = {
        "kind": _lookup(t.kinds, nullable=False),
        "stack": _lookup(t.stacks, nullable=False),
        "state": _lookup(t.states, nullable=False),
        "created_by": _lookup(t.frames, nullable=True),
        "labels": _lookup(t.labelsets, nullable=True, empty=()),
        "flags": _lookup(t.flagsets, nullable=True, empty=()),
    }
    col = {
        name: _expand(columns[name], count, name, _COLUMN_TYPES[name], lookups.get(name))
        for name in TASK_FIELDS
    }
    counts = col["count"]
    assert isinstance(counts, list)  # no look-up: the list itself
    if count and min(counts) < 1:
        raise TypeError("task count must be a positive integer")
    names = col["name"]
    assert isinstance(names, list)
    if None in names:
        names = ["" if n is None else n for n in names]
    return list(
        map(
            make_task,
            zip(
                col["kind"],
                col["stack"],
                col["id"],
                names,
                col["state"],
                col["wait_minutes"],
                col["created_by"],
                col["creator_id"],
                col["labels"],
                col["flags"],
                counts,
                repeat(()),
            ),
        )
    )


def _tasks_v1(rows: list[Any], tables: _Tables) -> list[Task]:
    kinds, frames, stacks, states, labelsets, flagsets = tables
    tasks = []
    for row in rows:
        kind, tid, name, state, wait, stack, created_by, creator, labels, flags, count = row
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
            )
        )
    for task in tasks:
        for value in (task.id, task.wait_minutes, task.creator_id):
            if value is not None and (type(value) is not int):
                raise TypeError(f"expected an integer or null, got {type(value).__name__}")
        if type(task.count) is not int or task.count < 1:
            raise TypeError("task count must be a positive integer")
        if type(task.name) is not str:
            raise TypeError("task name must be a string")
    return tasks
