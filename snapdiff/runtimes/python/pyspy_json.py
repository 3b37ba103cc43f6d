"""``py-spy dump --json``: a JSON array with one object per thread.

::

    [{"pid": 17115, "thread_id": 140133130708672, "thread_name": "pool-0",
      "os_thread_id": 19078, "active": false, "owns_gil": false, "process_info": null,
      "frames": [{"name": "Condition.wait", "filename": "/usr/lib/python3.11/threading.py",
                  "module": null, "short_filename": "threading.py", "line": 327,
                  "locals": null, "is_entry": false, "is_shim_entry": false}, ...]}, ...]

Frames are innermost first; threads newest first (the text dump prints them the other way).
``--locals`` fills ``locals`` with ``{"name", "addr", "arg", "repr"}``: dropped unless the user
asks to keep them (they can hold secrets); their values are not read otherwise. ``--native``
adds frames whose ``filename`` and ``module`` name a shared library and whose ``line`` is 0.

A task's id is ``os_thread_id``, the id the text dump prints, when py-spy has it: the kernel
hands those out in increasing order and does not reuse them soon, while ``thread_id`` (the
pthread handle, an address) comes back for the next thread at once. ``thread_id`` is the id
only when there is no OS id (``--nonblocking`` on Python 3.9 and 3.10 gives none), and a
warning says so: such ids do not match those of a dump that has OS ids. The state is ``idle``,
``active`` or ``active+gil``, as the text dump says it.

Unknown keys are ignored; a field of the wrong type reads as missing; an entry that is not a
thread object is skipped and counted in a warning. A dump cut short keeps the complete thread
objects before the cut and says so; other text after the array (a shell's next lines) is
ignored with a warning.
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
from snapdiff.runtimes import _json

NAME = "pyspy-json"
DESCRIPTION = "py-spy dump --json: Python threads (CPython 3.9-3.13), with or without --locals"

_SNIFF = re.compile(rb'^\s*\[\s*\{[^{]*?"(?:pid|thread_id|thread_name|frames)"\s*:')


def sniff(head: bytes) -> bool:
    return _SNIFF.match(head) is not None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _describe(doc: Any) -> str:
    if isinstance(doc, dict):
        return "a JSON object"
    return f"JSON {type(doc).__name__.replace('NoneType', 'null')}"


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    warnings: list[str] = []
    truncated = False
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        doc, note, truncated = _salvage(data)
        if doc is None:
            raise InputError(f"{origin}: not valid py-spy JSON: {exc}") from None
        warnings.append(f"{origin}: {note}")
    if not isinstance(doc, list):
        raise InputError(f"{origin}: py-spy JSON should be a list of threads, not {_describe(doc)}")
    tasks: list[Task] = []
    pids: set[int] = set()
    interned: dict[tuple[str, str, int], Frame] = {}
    # Threads of one pool share one stack tuple, as goroutines do in the Go reader: grouping
    # and summaries then work per distinct stack, not per thread.
    stacks: dict[tuple[int, ...], tuple[Frame, ...]] = {}
    seen = {"native": False, "locals": False}
    bad = 0
    handles = 0  # threads whose id is the pthread handle: py-spy had no OS thread id
    for item in doc:
        task = _thread(item, interned, keep_locals, seen, stacks)
        if task is None:
            bad += 1
            continue
        tasks.append(task)
        if _int(item.get("os_thread_id")) is None and task.id is not None:
            handles += 1
        pid = _int(item.get("pid"))
        if pid is not None:
            pids.add(pid)
    if bad:
        warnings.append(f"{origin}: {bad} entries are not py-spy thread objects; skipped")
    if len(pids) > 1:
        warnings.append(f"{origin}: threads of {len(pids)} processes in one dump")
    if handles:
        warnings.append(
            f"{origin}: {handles} of {len(tasks)} threads have no OS thread id (py-spy "
            "--nonblocking on Python < 3.11 gives none); their ids are pthread handles, which "
            "do not match the OS ids of a dump that has them"
        )
    detail = frame_notes(["py-spy dump --json"], seen, keep_locals)
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer="py-spy",
            detail=", ".join(detail),
            pid=next(iter(pids)) if len(pids) == 1 else None,
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
    )


def frame_notes(detail: list[str], seen: dict[str, bool], keep_locals: bool) -> list[str]:
    """The reader's detail, with what the frames held: native frames, locals kept or dropped."""
    if seen["native"]:
        detail.append("native frames")
    if seen["locals"]:
        detail.append("locals kept" if keep_locals else "locals dropped")
    return detail


def _thread(
    item: Any,
    interned: dict[tuple[str, str, int], Frame],
    keep: bool,
    seen: dict[str, bool],
    stacks: dict[tuple[int, ...], tuple[Frame, ...]] | None = None,
) -> Task | None:
    if not isinstance(item, dict) or not isinstance(item.get("frames"), list):
        return None
    frames: list[Frame] = []
    local_rows: list[tuple[int, str, str]] = []
    for f in item["frames"]:
        if not isinstance(f, dict):
            continue
        name = f.get("name")
        path = f.get("filename")
        if not isinstance(path, str) or not path:
            path = f.get("short_filename")
        line = _int(f.get("line"))
        key = (
            name if isinstance(name, str) else "?",
            path if isinstance(path, str) else "",
            line if line is not None and line > 0 else 0,
        )
        frame = interned.get(key)
        if frame is None:
            frame = interned[key] = Frame(*key)
        frames.append(frame)
        if isinstance(f.get("module"), str) and not key[2]:
            seen["native"] = True
        variables = f.get("locals")
        if isinstance(variables, list) and variables:
            seen["locals"] = True
            if keep:
                for var in variables:
                    if isinstance(var, dict) and isinstance(var.get("name"), str):
                        value = var.get("repr")
                        # py-spy's text dump shows "?" for a value it could not read.
                        shown = value if isinstance(value, str) else "?"
                        local_rows.append((len(frames) - 1, var["name"], shown))
    os_tid = _int(item.get("os_thread_id"))
    tid = os_tid if os_tid is not None else _int(item.get("thread_id"))
    name = item.get("thread_name")
    active = item.get("active") is True
    gil = item.get("owns_gil") is True
    flags = []
    if active:
        flags.append(FLAG_ACTIVE)
    if gil:
        flags.append(FLAG_OWNS_GIL)
    # Frames are interned, so a stack is known by its frames' identities (no Frame hashing).
    stack = tuple(frames)
    if stacks is not None:
        stack = stacks.setdefault(tuple(map(id, frames)), stack)
    return Task(
        kind=THREAD,
        frames=stack,
        id=tid,
        name=name if isinstance(name, str) else "",
        state=("active+gil" if gil else "active") if active else "idle",
        flags=tuple(flags),
        locals=tuple(local_rows),
    )


# A JSON string (with its escapes; one cut short runs to the end) or one bracket: enough to
# follow the nesting at C speed.
_TOKEN = _json.TOKEN


def _salvage(data: bytes) -> tuple[Any, str, bool]:
    """A JSON array cut short, or followed by other text: (what it holds, a note, cut short)."""
    text = data.lstrip()
    if not text.startswith(b"["):
        return None, "", False
    depth = 0
    last_end = -1  # the end of the last complete top-level object
    for m in _TOKEN.finditer(text):
        c = text[m.start()]
        if c == 0x22:
            continue
        if c in (0x7B, 0x5B):
            depth += 1
            continue
        depth -= 1
        if depth == 1 and c == 0x7D:
            last_end = m.start()
        elif depth == 0:
            # The array is complete: what follows it is not JSON (log lines after a dump).
            try:
                doc = orjson.loads(text[: m.end()])
            except orjson.JSONDecodeError:
                return None, "", False
            rest = sum(1 for line in text[m.end() :].splitlines() if line.strip())
            return doc, f"ignored {rest} lines of other text after the JSON array", False
    if last_end < 0:
        return None, "", False
    try:
        doc = orjson.loads(text[: last_end + 1] + b"]")
    except orjson.JSONDecodeError:
        return None, "", False
    return doc, f"JSON cut short; kept the {len(doc)} complete thread objects before the cut", True
