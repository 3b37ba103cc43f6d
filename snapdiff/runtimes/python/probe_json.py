"""The probe's JSON document (format ``snapdiff-probe``): asyncio tasks and threads with their
creation sites, served by :mod:`snapdiff.probe` or by any runtime that speaks the format.

::

    {"format": "snapdiff-probe", "version": 1, "captured_at": "2025-01-01T10:00:00.000Z",
     "process": {"pid": 4242, "argv0": "svc.py", "runtime": "CPython 3.12.1", "host": "web-1"},
     "loops": [{"id": 1, "thread_id": 4242, "running": true, ...}],
     "truncated": false, "omitted_tasks": 0,
     "tasks": [{"kind": "asyncio-task", "id": 17, "name": "Task-17", "state": "pending",
                "created_by": {"function": "handle", "file": "/srv/svc.py", "line": 88},
                "parent_id": 9, "age_seconds": 12.5, "awaiting": {"type": "Future"},
                "frames": [{"function": "Event.wait", "file": ".../locks.py", "line": 213},
                           {"function": "watch", "file": "/srv/svc.py", "line": 40}]},
               {"kind": "thread", "id": 4250, "name": "pool-0", "daemon": true, ...}]}

docs/probe.md describes every field; snapdiff/schemas/probe-v1.json is its JSON Schema.

Detected by the ``"format": "snapdiff-probe"`` member of a JSON object. Frames are innermost
first. A task's ``id`` is the probe's own counter for asyncio tasks (it grows with every task and
is never reused: an id clock) and the OS thread id for threads. ``created_by`` becomes the task's
creation site, ``parent_id`` its creator. A newer version is read for the fields this reader knows,
with a warning; unknown fields are ignored; an entry that is not a task object is skipped and
counted. A document cut short keeps the complete task objects before the cut.
"""

from __future__ import annotations

import re
from typing import Any

from snapdiff.errors import InputError
from snapdiff.model import (
    FLAG_DAEMON,
    FLAG_ELIDED,
    Frame,
    Snapshot,
    SourceInfo,
    Task,
)
from snapdiff.runtimes import _json

NAME = "snapdiff-probe"
DESCRIPTION = (
    "snapdiff probe JSON (GET /debug/snapdiff of snapdiff.probe): asyncio tasks and threads "
    "with creation sites"
)
FORMAT = "snapdiff-probe"
VERSION = 1

_SNIFF = re.compile(rb'"format"\s*:\s*"snapdiff-probe"')


def sniff(head: bytes) -> bool:
    return head.lstrip()[:1] == b"{" and _SNIFF.search(head, 0, 64 * 1024) is not None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _loads(data: bytes) -> Any:
    # Python's json writes lone surrogates (from odd file names) as escapes orjson refuses;
    # _json reads them, and a document nested too deeply is a ValueError.
    return _json.loads(data)


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    """``keep_locals`` has nothing to keep: the probe never serves locals."""
    warnings: list[str] = []
    truncated = False
    try:
        doc = _loads(data)
    except ValueError as exc:
        doc, note = _salvage(data)
        if doc is None:
            raise InputError(f"{origin}: not valid snapdiff probe JSON: {exc}") from None
        warnings.append(f"{origin}: {note}")
        truncated = note.startswith("JSON cut short")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f'{origin}: not a snapdiff probe document (no "format": "{FORMAT}")')
    version = _int(doc.get("version"))
    if version is None:
        raise InputError(f"{origin}: snapdiff probe document without a version number")
    if version > VERSION:
        warnings.append(
            f"{origin}: snapdiff probe format version {version} is newer than this reader "
            f"({VERSION}); read the fields it knows"
        )
    if doc.get("truncated") is True:
        truncated = True
        omitted = _int(doc.get("omitted_tasks"))
        warnings.append(
            f"{origin}: the probe cut the document at its size cap"
            + (f" and left out {omitted} tasks" if omitted else "")
        )
    items = doc.get("tasks")
    if not isinstance(items, list):
        raise InputError(f'{origin}: snapdiff probe document without a "tasks" list')

    interned: dict[tuple[str, str, int], Frame] = {}
    tasks: list[Task] = []
    bad = 0
    counts: dict[str, int] = {}
    for item in items:
        task = _task(item, interned)
        if task is None:
            bad += 1
            continue
        tasks.append(task)
        counts[task.kind] = counts.get(task.kind, 0) + 1
    if bad:
        warnings.append(f"{origin}: {bad} entries are not task objects; skipped")

    process = doc.get("process")
    if not isinstance(process, dict):
        process = {}
    loops = doc.get("loops")
    if not isinstance(loops, list):
        loops = []
    runtime = _str(process.get("runtime"))
    detail = [f"snapdiff probe v{version}"]
    detail.extend(f"{n} {kind.replace('-', ' ')}s" for kind, n in counts.items())
    if loops:
        detail.append(f"{len(loops)} event loop{'s' if len(loops) != 1 else ''}")
    extra = tuple(
        (key, value)
        for key in ("argv0", "runtime", "probe_installed_at")
        if (value := _str(process.get(key)))
    )
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            captured_at=_str(doc.get("captured_at")),
            producer=f"{runtime} (snapdiff probe)" if runtime else "snapdiff probe",
            detail=", ".join(detail),
            pid=_int(process.get("pid")),
            host=_str(process.get("host")),
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        extra=extra,
    )


def _frame(item: Any, interned: dict[tuple[str, str, int], Frame]) -> Frame | None:
    if not isinstance(item, dict):
        return None
    function = _str(item.get("function"))
    if not function:
        return None
    line = _int(item.get("line"))
    key = (function, _str(item.get("file")) or "", line if line is not None and line > 0 else 0)
    frame = interned.get(key)
    if frame is None:
        frame = interned[key] = Frame(*key)
    return frame


def _task(item: Any, interned: dict[tuple[str, str, int], Frame]) -> Task | None:
    if not isinstance(item, dict):
        return None
    kind = _str(item.get("kind"))
    raw_frames = item.get("frames")
    if not kind or not isinstance(raw_frames, list):
        return None
    frames = tuple(f for f in (_frame(x, interned) for x in raw_frames) if f is not None)
    flags: list[str] = []
    if item.get("daemon") is True:
        flags.append(FLAG_DAEMON)
    if (_int(item.get("frames_omitted")) or 0) > 0:
        flags.append(FLAG_ELIDED)
    task_id = _int(item.get("id"))
    if task_id is None:
        task_id = _int(item.get("ident"))
    return Task(
        kind=kind,
        frames=frames,
        id=task_id,
        name=_str(item.get("name")) or "",
        state=_str(item.get("state")) or "",
        created_by=_frame(item.get("created_by"), interned),
        creator_id=_int(item.get("parent_id")),
        flags=tuple(flags),
    )


# A JSON string (with its escapes; one cut short runs to the end) or one bracket.
_TOKEN = _json.TOKEN
_TASKS = re.compile(rb'"tasks"\s*:\s*\[')


def _salvage(data: bytes) -> tuple[Any, str]:
    """A document cut inside its ``tasks`` list (the last member): the complete tasks before."""
    m = _TASKS.search(data)
    if m is None:
        return None, ""
    try:
        head = _loads(data[: m.start()].rstrip().rstrip(b",") + b"}")
    except ValueError:
        return None, ""
    if not isinstance(head, dict):
        return None, ""
    depth = 0
    last_end = -1
    closed = False
    start = m.end()
    for tok in _TOKEN.finditer(data, start):
        c = data[tok.start()]
        if c == 0x22:
            continue
        if c in (0x7B, 0x5B):
            depth += 1
            continue
        depth -= 1
        if depth == 0 and c == 0x7D:
            last_end = tok.end()
        elif depth < 0:
            closed = True
            break
    try:
        tasks = _loads(b"[" + data[start:last_end] + b"]") if last_end > 0 else []
    except ValueError:
        return None, ""
    head["tasks"] = tasks
    if closed:
        return head, "ignored other text after the JSON document"
    return head, f"JSON cut short; kept the {len(tasks)} complete task objects before the cut"
