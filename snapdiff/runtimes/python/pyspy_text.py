"""Plain ``py-spy dump`` text.

::

    Process 17115: /usr/bin/python3.11 service.py          -> pid, command line
    Python v3.11.7 (/usr/bin/python3.11)                    -> the target's Python version
    (blank)
    Thread 17118 (idle): "pool-0"                           -> a thread: id, state, name
        Condition.wait (threading.py:327)                   -> a frame, innermost first
            Arguments:                                      -> with --locals: dropped unless kept
                self: <Condition at 0x7f73bf0bfd90>
            Locals:
                waiter: <_thread.lock at 0x7f73befa4f40>
        clock_nanosleep (libc.so.6)                         -> with --native: no line number
        0x7f73bf64524a (libc.so.6)

The reader is a line state machine:

OUTSIDE  before the first thread: ``Process 17115: ...`` (pid), ``Python v3.11.7 (...)``
         (version), ``Parent Process 17000: ...`` and a line of dashes (``--subprocesses``);
         anything else is a skipped line (log lines around the dump). A header -> THREAD.
THREAD   ``Thread 17118 (idle): "pool-0"``: the id is the OS thread id, or the pthread id in hex
         (``Thread 0x7F3A2B4C5700 (active+gil)``) when py-spy has none (``--nonblocking`` on
         Python 3.9 and 3.10; a warning says such ids do not match OS ids); a thread without a
         Python name has no ``: "..."`` part. States are ``idle``, ``active`` and
         ``active+gil``. The name is printed raw between quotes, so it may hold quotes, ANSI
         escapes, NULs, and newlines: a header whose quote does not close takes the next lines
         as the rest of the name (-> NAME). Then frame lines -> FRAME.
NAME     the rest of a name that holds a newline, until a line ending in ``"`` (at most
         :data:`_NAME_LINES` lines; a frame line or a header ends it early) -> THREAD.
FRAME    ``    Queue.get (queue.py:171)``, ``    time_sleep (libpython3.12.so.1.0)`` (native:
         no line); ``        Arguments:`` / ``        Locals:`` (older py-spy printed
         ``Arguments::``) -> LOCALS. A header -> THREAD; ``Process ...`` -> OUTSIDE.
LOCALS   ``            name: repr``, one a line (py-spy escapes newlines in string values), kept
         only when the caller asks (they can hold secrets); never anything else is made of
         them. A frame line -> FRAME.

Quirks kept: the text carries only short file names, not paths. When py-spy writes to a
terminal (``kubectl exec -t``, ``script``), ids, frames and the ``Arguments:`` markers are
coloured with ANSI escapes and lines end in CRLF; both are read (a thread name's own escapes
are kept: py-spy never colours the name). With ``--subprocesses`` several ``Process`` sections
follow one another. A dump that ends in the middle of a line is truncated: its last thread is
flagged partial.
"""

from __future__ import annotations

import re

from snapdiff.model import (
    FLAG_ACTIVE,
    FLAG_OWNS_GIL,
    FLAG_PARTIAL,
    THREAD,
    Frame,
    Snapshot,
    SourceInfo,
    Task,
)
from snapdiff.runtimes._lines import starts_by
from snapdiff.runtimes.python.pyspy_json import frame_notes

NAME = "pyspy-text"
DESCRIPTION = "py-spy dump text output: Python threads, with or without --locals and --native"

DUMPS_NOUN = "py-spy dumps"
LOOSE_HEADER = re.compile(rb"^Thread (?:0x)?[0-9a-fA-F]+ \([^\n]*", re.M)
_PROCESS_STARTS = starts_by(re.compile(r"Process \d+: "))


def dump_starts(text: str) -> list[int]:
    """``Process N:`` sections; but ``--subprocesses`` prints a process tree as one dump, its
    children each with a ``Parent Process`` line."""
    if re.search(r"(?m)^Parent Process \d+: ", text):
        return []
    return _PROCESS_STARTS(text)


# ANSI colour (SGR) sequences py-spy's console styling writes when stdout is a terminal.
_SGR = r"(?:\x1b\[[0-9;]*m)*"
_SGR_ANY = re.compile(r"\x1b\[[0-9;]*m")
_SGR_RE = re.compile(r"\x1b\[[0-9;]*m")
_ID = r"(0x[0-9A-Fa-f]{1,16}|\d{1,20})"

_SNIFF_HEADER = re.compile(
    rb"^Thread (?:\x1b\[[0-9;]*m)*(?:0x[0-9A-Fa-f]{1,16}|\d{1,20})(?:\x1b\[[0-9;]*m)* "
    rb"\([a-z+]*\)(?:: \"[^\n]*)?\r?\n"
    rb"    (?:\x1b\[[0-9;]*m)*\S[^\n]* \([^\n]*\)\r?$",
    re.M,
)
_SNIFF_PROCESS = re.compile(rb"^Process (?:\x1b\[[0-9;]*m)*\d+(?:\x1b\[[0-9;]*m)*: ", re.M)
_THREAD = re.compile(rf"Thread {_SGR}{_ID}{_SGR} \(([a-z+]*)\)(?:: \"(.*))?$")
_PROCESS = re.compile(r"(Parent )?Process (\d{1,20}): ")
# A frame line, '    FUNCTION (FILE:LINE)', is cut with string methods (:func:`_frame`): as
# the pattern '    (\S.*?) \((.*?)(?::(\d+))?\)\s*$' a long line of ' (' and no final ')'
# took quadratic time (116 KB: 22 s).
_VERSION = re.compile(r"Python v(\S+)")
_NAME_LINES = 16

_SECTION_MARKERS = frozenset({"Arguments:", "Locals:", "Arguments::", "Locals::"})


def is_header(line: str) -> bool:
    """Whether the reader takes ``line`` as a thread header."""
    return _THREAD.match(line) is not None


def sniff(head: bytes) -> bool:
    """A thread header followed by a frame line, or a header anywhere after a ``Process`` line."""
    if _SNIFF_HEADER.search(head) is not None:
        return True
    return _SNIFF_PROCESS.search(head) is not None and b"\nThread " in head


def _thread_id(text: str) -> int:
    return int(text, 16) if text[:2] in ("0x", "0X") else int(text)


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    tasks: list[Task] = []
    warnings: list[str] = []
    interned: dict[tuple[str, str, int], Frame] = {}
    pids: list[int] = []
    version = ""
    skipped = 0
    handles = 0  # threads printed with their pthread handle (hex): py-spy had no OS thread id
    coloured = False
    native = False
    had_locals = False

    cur: dict[str, str] | None = None
    frames: list[Frame] = []
    local_rows: list[tuple[int, str, str]] = []
    section = ""  # "" or the --locals marker of the last frame
    name_lines = 0  # > 0 while reading the rest of a name that holds newlines

    def finish(partial: bool = False) -> None:
        nonlocal cur, frames, local_rows, handles
        if cur is not None:
            if cur["id"][:2] in ("0x", "0X"):
                handles += 1
            state = cur["state"]
            flags = []
            if state.startswith("active"):
                flags.append(FLAG_ACTIVE)
            if "gil" in state:
                flags.append(FLAG_OWNS_GIL)
            if partial:
                flags.append(FLAG_PARTIAL)
            tasks.append(
                Task(
                    kind=THREAD,
                    frames=tuple(frames),
                    id=_thread_id(cur["id"]),
                    name=cur["name"],
                    state=state,
                    flags=tuple(flags),
                    locals=tuple(local_rows) if keep_locals else (),
                )
            )
        cur = None
        frames = []
        local_rows = []

    for raw in lines:
        line = raw[:-1] if raw.endswith("\r") else raw
        if name_lines and cur is not None:
            # The rest of a thread name that holds a newline.
            plain = _SGR_RE.sub("", line) if "\x1b" in line else line
            if _THREAD.match(plain) or _frame(plain):
                name_lines = 0  # the name never closed: keep what was read, read this line
            elif line.endswith('"'):
                cur["name"] += "\n" + line[:-1]
                name_lines = 0
                continue
            else:
                cur["name"] += "\n" + line
                name_lines = 0 if name_lines >= _NAME_LINES else name_lines + 1
                continue
        if not line.strip():
            continue
        if "\x1b" in line and line.startswith(("Process ", "Python v", "    ")):
            # Coloured output (a thread header is matched with its escapes: the name keeps its
            # own). Only the lines py-spy styles say the dump is coloured, not a name or value.
            plain = _SGR_RE.sub("", line)
            coloured = coloured or not line.startswith("            ")
            line = plain
        if line.startswith("Thread "):
            m = _THREAD.match(line)
            if m:
                finish()
                coloured = coloured or line.startswith("Thread \x1b")
                rest = m.group(3)
                name = ""
                if rest is not None:
                    closed = rest.rstrip()  # spaces after the closing quote
                    if closed.endswith('"'):
                        name = closed[:-1]
                    else:
                        name = rest
                        name_lines = 1
                cur = {"id": m.group(1), "state": m.group(2), "name": name}
                section = ""
                continue
            line = _SGR_RE.sub("", line) if "\x1b" in line else line
        if line.startswith(("Process ", "Parent Process ")):
            pm = _PROCESS.match(line)
            if pm:
                finish()
                if not pm.group(1):
                    pids.append(int(pm.group(2)))
                continue
        if line.startswith("Python v"):
            vm = _VERSION.match(line)
            if vm:
                version = vm.group(1)
                continue
        if cur is not None and line.startswith("        "):
            stripped = line.strip()
            if "\x1b" in stripped:
                stripped = _SGR_RE.sub("", stripped)
            if stripped in _SECTION_MARKERS:
                section = stripped
                had_locals = True
                continue
            if section and frames and line.startswith("            "):
                name, sep, value = stripped.partition(":")
                if sep and name and " " not in name:
                    if keep_locals:
                        local_rows.append((len(frames) - 1, name, value.removeprefix(" ")))
                    continue
        if cur is not None and line.startswith("    "):
            fm = _frame(line)
            if fm:
                section = ""
                key = fm
                if not key[2] and not key[1].endswith(".py"):
                    native = True
                frame = interned.get(key)
                if frame is None:
                    frame = interned[key] = Frame(*key)
                frames.append(frame)
                continue
        if line.strip("-") == "":
            continue  # the separator --subprocesses prints between processes
        skipped += 1
    # No final newline is no cut by itself (saved and pasted dumps often lack it): the last
    # line must also stop half way (a frame without its closing parenthesis, a header whose
    # name's quote never closes).
    tail = _SGR_ANY.sub("", lines[-1]).rstrip() if lines else ""
    truncated = bool(tail) and not (
        tail.endswith(")") or (tail.endswith('"') and tail.startswith("Thread "))
    )
    finish(partial=truncated)
    if handles:
        warnings.append(
            f"{origin}: {handles} of {len(tasks)} threads have no OS thread id (py-spy "
            "--nonblocking on Python < 3.11 gives none); their ids are pthread handles, which "
            "do not match the OS ids of a dump that has them"
        )
    if truncated:
        warnings.append(
            f"{origin}:{len(lines)}: the input ends in the middle of a line"
            + (f"; thread {tasks[-1].id} is cut short" if tasks else "")
        )
    if len(set(pids)) > 1:
        warnings.append(f"{origin}: {len(set(pids))} processes in one dump (--subprocesses)")
    detail = ["py-spy dump text"]
    if version:
        detail.append(f"Python {version}")
    frame_notes(detail, {"native": native, "locals": had_locals}, keep_locals)
    if coloured:
        detail.append("coloured terminal output")
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer=f"python {version}" if version else "py-spy",
            detail=", ".join(detail),
            pid=pids[0] if len(set(pids)) == 1 else None,
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        skipped_lines=skipped,
    )


def _frame(line: str) -> tuple[str, str, int] | None:
    """(function, file, line) of a frame line, else None: the function up to the first ' (',
    the location up to the final ')', its line the digits after its last ':' (0 without)."""
    if not line.startswith("    ") or line[4:5].isspace() or len(line) < 5:
        return None
    body = line[4:].rstrip()
    if not body.endswith(")"):
        return None
    cut = body.find(" (")
    if cut < 1:
        return None
    where = body[cut + 2 : -1]
    file, colon, number = where.rpartition(":")
    if colon and 0 < len(number) <= 9 and number.isascii() and number.isdigit():
        return body[:cut], file, int(number)
    return body[:cut], where, 0
