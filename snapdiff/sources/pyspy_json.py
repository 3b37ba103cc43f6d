"""``py-spy dump --json``: a JSON array with one object per thread.

::

    [{"pid": 17115, "thread_id": 140133130708672, "thread_name": "pool-0",
      "os_thread_id": 19078, "active": false, "owns_gil": false, "process_info": null,
      "frames": [{"name": "Condition.wait", "filename": "/usr/lib/python3.11/threading.py",
                  "module": null, "short_filename": "threading.py", "line": 327,
                  "locals": null, "is_entry": false, "is_shim_entry": false}, ...]}, ...]

Frames are innermost first. ``--locals`` fills ``locals`` with ``{"name", "addr", "arg", "repr"}``:
dropped unless the user asks to keep them (they can hold secrets). ``--native`` adds frames
whose ``filename`` is a shared library and ``line`` 0. Unknown keys are ignored.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from snapdiff.errors import InputError
from snapdiff.model import (
    FLAG_ACTIVE,
    FLAG_OWNS_GIL,
    THREAD,
    Frame,
    Snapshot,
    SourceInfo,
    Task,
)

NAME = "pyspy-json"
DESCRIPTION = "py-spy dump --json: Python threads (CPython 3.9-3.13), with or without --locals"

_SNIFF = re.compile(rb'^\s*\[\s*\{[^{]*?"(?:pid|thread_id|thread_name|frames)"\s*:')


def sniff(head: bytes) -> bool:
    return _SNIFF.match(head) is not None


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    warnings: list[str] = []
    truncated = False
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        doc, note = _salvage(data)
        if doc is None:
            raise InputError(f"{origin}: not valid py-spy JSON: {exc}") from None
        truncated = True
        warnings.append(f"{origin}: {note}")
    if not isinstance(doc, list):
        raise InputError(f"{origin}: py-spy JSON should be a list of threads")
    tasks: list[Task] = []
    pids: set[int] = set()
    interned: dict[tuple[str, str, int], Frame] = {}
    bad = 0
    for item in doc:
        task = _thread(item, interned, keep_locals)
        if task is None:
            bad += 1
            continue
        tasks.append(task)
        pid = item.get("pid")
        if isinstance(pid, int):
            pids.add(pid)
    if bad:
        warnings.append(f"{origin}: {bad} entries are not py-spy thread objects; skipped")
    if len(pids) > 1:
        warnings.append(f"{origin}: threads of {len(pids)} processes in one dump")
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer="py-spy",
            pid=next(iter(pids)) if len(pids) == 1 else None,
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
    )


def _thread(item: Any, interned: dict[tuple[str, str, int], Frame], keep: bool) -> Task | None:
    if not isinstance(item, dict) or not isinstance(item.get("frames"), list):
        return None
    frames: list[Frame] = []
    local_rows: list[tuple[int, str, str]] = []
    for fi, f in enumerate(item["frames"]):
        if not isinstance(f, dict):
            continue
        name = f.get("name")
        path = f.get("filename") or f.get("short_filename") or ""
        line = f.get("line")
        key = (
            name if isinstance(name, str) else "?",
            path if isinstance(path, str) else "",
            line if isinstance(line, int) and not isinstance(line, bool) and line > 0 else 0,
        )
        frame = interned.get(key)
        if frame is None:
            frame = interned[key] = Frame(*key)
        frames.append(frame)
        if keep and isinstance(f.get("locals"), list):
            for var in f["locals"]:
                if isinstance(var, dict) and isinstance(var.get("name"), str):
                    local_rows.append((fi, var["name"], str(var.get("repr"))))
    tid = item.get("thread_id")
    name = item.get("thread_name")
    active = item.get("active") is True
    flags = []
    if active:
        flags.append(FLAG_ACTIVE)
    if item.get("owns_gil") is True:
        flags.append(FLAG_OWNS_GIL)
    return Task(
        kind=THREAD,
        frames=tuple(frames),
        id=tid if isinstance(tid, int) and not isinstance(tid, bool) else None,
        name=name if isinstance(name, str) else "",
        state="active" if active else "idle",
        flags=tuple(flags),
        locals=tuple(local_rows),
    )


def _salvage(data: bytes) -> tuple[list[Any] | None, str]:
    """A JSON array cut short: keep the thread objects that are complete."""
    text = data.lstrip()
    if not text.startswith(b"["):
        return None, ""
    # Cut back to the end of the last complete top-level object and close the array.
    depth = 0
    in_str = False
    esc = False
    last_end = -1
    for i, c in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                in_str = False
            continue
        if c == 0x22:
            in_str = True
        elif c in (0x7B, 0x5B):
            depth += 1
        elif c in (0x7D, 0x5D):
            depth -= 1
            if depth == 1 and c == 0x7D:
                last_end = i
    if last_end < 0:
        return None, ""
    try:
        doc = orjson.loads(text[: last_end + 1] + b"]")
    except orjson.JSONDecodeError:
        return None, ""
    return doc, f"JSON cut short; kept the {len(doc)} complete thread objects before the cut"
