"""Plain ``py-spy dump`` text.

::

    Process 17115: /usr/bin/python3.11 service.py          -> pid, command line
    Python v3.11.7 (/usr/bin/python3.11)                    -> producer version
    (blank)
    Thread 17118 (idle): "pool-0"                           -> a thread: id, state, name
        Condition.wait (threading.py:327)                   -> a frame, innermost first
            Arguments:                                      -> with --locals: dropped unless kept
                self: <Condition at 0x7f73bf0bfd90>
            Locals:
                waiter: <_thread.lock at 0x7f73befa4f40>
        clock_nanosleep (libc.so.6)                         -> with --native: no line number
        0x7f73bf64524a (libc.so.6)

States are ``idle``, ``active`` and ``active+gil``. The text carries only file names, not paths.
With ``--subprocesses`` several ``Process`` sections follow one another.
"""

from __future__ import annotations

import re

from snapdiff.model import FLAG_ACTIVE, FLAG_OWNS_GIL, THREAD, Frame, Snapshot, SourceInfo, Task

NAME = "pyspy-text"
DESCRIPTION = "py-spy dump text output: Python threads, with or without --locals and --native"

_SNIFF = re.compile(rb'^Thread (?:0x[0-9A-Fa-f]+|\d+) \([^)\n]*\): "', re.M)
_PROCESS = re.compile(rb"^Process (\d+): ", re.M)
_THREAD = re.compile(r'Thread (0x[0-9A-Fa-f]+|\d+) \(([^)]*)\)(?:: "(.*)")?\s*$')
_FRAME = re.compile(r"    (\S.*?) \((.*?)(?::(\d+))?\)\s*$")
_VERSION = re.compile(r"Python v(\S+)")


def sniff(head: bytes) -> bool:
    return _SNIFF.search(head) is not None and (
        _PROCESS.search(head) is not None or head.lstrip().startswith(b"Thread ")
    )


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    tasks: list[Task] = []
    warnings: list[str] = []
    interned: dict[tuple[str, str, int], Frame] = {}
    pids: list[int] = []
    version = ""
    skipped = 0

    cur: dict[str, object] | None = None
    frames: list[Frame] = []
    local_rows: list[tuple[int, str, str]] = []
    section = ""  # "", "args" or "locals": inside a --locals block of the last frame

    def finish() -> None:
        nonlocal cur, frames, local_rows
        if cur is not None:
            state = str(cur["state"])
            flags = []
            if state.startswith("active"):
                flags.append(FLAG_ACTIVE)
            if "gil" in state:
                flags.append(FLAG_OWNS_GIL)
            tasks.append(
                Task(
                    kind=THREAD,
                    frames=tuple(frames),
                    id=int(str(cur["id"]), 0),
                    name=str(cur["name"]),
                    state=state,
                    flags=tuple(flags),
                    locals=tuple(local_rows) if keep_locals else (),
                )
            )
        cur = None
        frames = []
        local_rows = []

    for raw in lines:
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("Thread "):
            m = _THREAD.match(line)
            if m:
                finish()
                cur = {"id": m.group(1), "state": m.group(2), "name": m.group(3) or ""}
                section = ""
                continue
        if line.startswith("Process "):
            pm = _PROCESS.match(line.encode())
            if pm:
                finish()
                pids.append(int(pm.group(1)))
                continue
        if line.startswith("Python v"):
            vm = _VERSION.match(line)
            if vm:
                version = vm.group(1)
                continue
        if cur is not None and line.startswith("        "):
            stripped = line.strip()
            if stripped in ("Arguments:", "Locals:"):
                section = stripped
                continue
            if section and frames and ": " in stripped:
                name, _, value = stripped.partition(": ")
                local_rows.append((len(frames) - 1, name, value))
                continue
        if cur is not None and line.startswith("    "):
            fm = _FRAME.match(line)
            if fm:
                section = ""
                key = (fm.group(1), fm.group(2), int(fm.group(3) or 0))
                frame = interned.get(key)
                if frame is None:
                    frame = interned[key] = Frame(*key)
                frames.append(frame)
                continue
        skipped += 1
    finish()
    truncated = bool(text) and not text.endswith("\n")
    if truncated:
        warnings.append(f"{origin}:{len(lines)}: the input ends in the middle of a line")
    if len(set(pids)) > 1:
        warnings.append(f"{origin}: {len(set(pids))} processes in one dump (--subprocesses)")
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer=f"python {version}" if version else "py-spy",
            detail=f"Python {version}" if version else "",
            pid=pids[0] if len(set(pids)) == 1 else None,
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        skipped_lines=skipped,
    )
