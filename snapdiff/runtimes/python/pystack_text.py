"""``pystack remote PID`` (and ``pystack core``) text output.

::

    Traceback for thread 3840 (python3.12) [Has the GIL] (most recent call last):
        (Python) File "/usr/lib/python3.12/threading.py", line 1030, in _bootstrap   -> outermost
            self._bootstrap_inner()                                  -> the source line
          Arguments:                                                 -> with --locals
            self: <Thread at 0x7f689a197680>
        (C) File "./Modules/timemodule.c", line 425, in time_sleep (libpython3.12.so.1.0)
    (blank)

The reader is a line state machine:

OUTSIDE  before the first header: anything is a skipped line (log lines, ``pystack core``'s
         process summary). A header -> THREAD.
THREAD   ``Traceback for thread TID (name) [status] (most recent call last):``. TID is the OS
         thread id (the main thread's is the pid). The name, when present, is the OS thread name
         (``/proc/PID/task/TID/comm``): threads that never set one carry the process's name,
         which the main thread (printed last) also has; such names are dropped, the others kept
         (Python >= 3.14 gives threads their Python name, cut to 15 bytes). The status is
         ``[]`` or a comma-separated list of ``Has the GIL``, ``Waiting for the GIL``,
         ``Dropping the GIL``, ``Garbage collecting``, ``Thread terminated``. With several
         interpreters the status moves to a line of its own (``  In the main interpreter
         [...]``). ``The frame stack for thread TID is empty``: a thread with no stack. -> FRAME.
FRAME    ``    (Python) File "path", line N, in function``: outermost first, reversed at the
         end of the thread; then the source line (8 spaces, read from the disk of the machine
         pystack ran on: it may be missing or wrong; ignored). ``    (C) File "path", line N,
         in symbol (library)`` with --native: a C frame, kept like py-spy's native frames (the
         file is the C source, or the library when the source is ``???``; ``(inlined)`` is
         dropped from the symbol). ``      Arguments:`` / ``      Locals:`` -> LOCALS.
         ``* - Unable to merge native stack ... - *``: pystack printed Python frames only.
         A blank line ends the thread -> OUTSIDE.
LOCALS   ``        name: value``, one a line, kept only when the caller asks (they can hold
         secrets). A frame line -> FRAME; a blank line -> OUTSIDE.

Quirks kept: pystack prints colours (``--no-color`` turns them off) when writing to a
terminal: they are removed from the lines it colours (frames and locals markers); escapes
anywhere else (a thread name, a path in an uncoloured dump) are kept as data. A dump that
ends in the middle of a line is truncated: its last thread is flagged partial.
"""

from __future__ import annotations

import re

from snapdiff.model import (
    FLAG_NO_STACK,
    FLAG_OWNS_GIL,
    FLAG_PARTIAL,
    THREAD,
    Frame,
    Snapshot,
    SourceInfo,
    Task,
)
from snapdiff.runtimes.python.pyspy_json import frame_notes

NAME = "pystack-text"
DESCRIPTION = "pystack remote/core text output: Python threads, with or without --locals, --native"

LOOSE_HEADER = re.compile(rb"^Traceback for thread \d+[^\n]*", re.M)

_SGR_RE = re.compile(r"\x1b\[[0-9;]*m")
_SNIFF = re.compile(
    rb"^(?:\x1b\[[0-9;]*m)*Traceback for thread \d{1,20} [^\n]*\(most recent call last\):\r?$",
    re.M,
)
_HEADER = re.compile(
    r"Traceback for thread (\d{1,20})(?: \((.*)\))?(?: \[([^\]]*)\])? \(most recent call last\):$"
)
_EMPTY = re.compile(r"The frame stack for thread (\d{1,20}) is empty$")
_PY_FRAME = re.compile(r'    \(Python\) File "(.*)", line (\d{1,9}), in (.*)$')
# A C frame, '    (C) File "FILE", line N, in SYMBOL (LIBRARY)', is cut with string methods
# (:func:`_c_frame`): as one pattern, '"(.*)", line ..., in (.*) \((.*)\)$', a long line with
# many '", line 1, in ' and no final ')' took cubic time (7 KB: 5 s).
_C_PREFIX = '    (C) File "'
_LINE_IN = re.compile(r'", line (\d{1,9}), in ')
_INTERPRETER = re.compile(
    r"  (?:In the main interpreter|In interpreter \d+|Not currently attached)"
)


# The outermost frame of a Python thread (the main thread's module, a Thread's bootstrap).
_OUTERMOST = ("<module>", "_bootstrap", "__bootstrap", "_run_module_as_main")


def _whole_end(lines: list[str]) -> bool:
    """Whether an input whose last line has no newline after it still ends whole: on a header,
    or on the outermost frame of a stack (or that frame's source line). Saved and pasted dumps
    often lack the final newline; that alone is no cut."""
    last = _SGR_RE.sub("", lines[-1].rstrip("\r"))
    if _HEADER.match(last) or _EMPTY.match(last):
        return True
    for back in (1, 2):
        if len(lines) > back:
            frame = _PY_FRAME.match(_SGR_RE.sub("", lines[-back].rstrip("\r")))
            if frame is not None:
                return frame.group(3).strip() in _OUTERMOST
    return False


def is_header(line: str) -> bool:
    """Whether the reader takes ``line`` as a thread header."""
    return _HEADER.match(_SGR_RE.sub("", line)) is not None


def sniff(head: bytes) -> bool:
    """A ``Traceback for thread N ... (most recent call last):`` header."""
    return _SNIFF.search(head) is not None


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    # (tid, OS name, status, frames outermost first, flags, locals by outermost-first index)
    threads: list[tuple[int, str, str, list[Frame], list[str], list[tuple[int, str, str]]]] = []
    interned: dict[tuple[str, str, int], Frame] = {}
    skipped = 0
    native = False
    had_locals = False
    coloured = False
    unmerged = 0

    frames: list[Frame] = []
    flags: list[str] = []
    local_rows: list[tuple[int, str, str]] = []
    in_thread = False
    in_locals = False

    def frame_of(function: str, file: str, line: int) -> Frame:
        key = (function, file, line)
        frame = interned.get(key)
        if frame is None:
            frame = interned[key] = Frame(function, file, line)
        return frame

    def start(tid: int, name: str, status: str) -> None:
        nonlocal frames, flags, local_rows, in_thread, in_locals
        frames = []
        flags = []
        local_rows = []
        threads.append((tid, name, status, frames, flags, local_rows))
        in_thread = True
        in_locals = False

    for raw in lines:
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith(("    \x1b", "      \x1b")):
            # pystack colours the frame markers, functions, libraries and the locals markers
            # (never a header): only such lines lose their escapes, elsewhere they are data.
            plain = _SGR_RE.sub("", line)
            coloured = coloured or plain != line
            line = plain
        if not line.strip():
            in_thread = in_locals = False
            continue
        if in_thread and line.startswith("    ("):
            pm = _PY_FRAME.match(line)
            if pm:
                frames.append(frame_of(pm.group(3), pm.group(1), int(pm.group(2))))
                in_locals = False
                continue
            cm = _c_frame(line)
            if cm:
                native = True
                file, number, symbol, library = cm
                symbol = symbol.removesuffix(" (inlined)")
                if file == "???":
                    file, number = library.rsplit("/", 1)[-1], "0"
                frames.append(frame_of(symbol, file, int(number)))
                in_locals = False
                continue
        if in_thread and line.startswith("      ") and line.strip() in ("Arguments:", "Locals:"):
            in_locals = True
            had_locals = True
            continue
        if in_thread and line.startswith("        "):
            if in_locals:
                name, sep, value = line.strip().partition(": ")
                if keep_locals and sep and frames:
                    local_rows.append((len(frames) - 1, name, value))
                continue
            if frames:
                continue  # the source line of the frame above
        if line.startswith("Traceback for thread "):
            m = _HEADER.match(line)
            if m:
                start(int(m.group(1)), m.group(2) or "", m.group(3) or "")
                continue
        if line.startswith("The frame stack for thread "):
            em = _EMPTY.match(line)
            if em:
                start(int(em.group(1)), "", "")
                flags.append(FLAG_NO_STACK)
                in_thread = False
                continue
        if in_thread and _INTERPRETER.match(line):
            status = line[line.rfind("[") + 1 : -1] if line.endswith("]") else ""
            tid, name, _, fr, fl, lr = threads[-1]
            threads[-1] = (tid, name, status, fr, fl, lr)
            continue
        if in_thread and line.startswith("* - Unable to merge native stack"):
            unmerged += 1
            continue
        skipped += 1

    truncated = bool(lines[-1]) and not _whole_end(lines)
    if truncated and threads:
        threads[-1][4].append(FLAG_PARTIAL)
    # Threads that never set a name have the process's, which the main thread (printed last)
    # has too.
    process_name = threads[-1][1] if threads else ""
    tasks: list[Task] = []
    for tid, name, status, fr, fl, lr in threads:
        task_flags = list(fl)
        if not fr and FLAG_NO_STACK not in task_flags:
            task_flags.append(FLAG_NO_STACK)
        if "Has the GIL" in status:
            task_flags.append(FLAG_OWNS_GIL)
        n = len(fr)
        tasks.append(
            Task(
                kind=THREAD,
                frames=tuple(reversed(fr)),
                id=tid,
                name="" if name == process_name else name,
                state=status.lower().replace(",", ", "),
                flags=tuple(task_flags),
                locals=tuple((n - 1 - i, k, v) for i, k, v in lr) if keep_locals else (),
            )
        )
    warnings: list[str] = []
    if truncated:
        warnings.append(
            f"{origin}:{len(lines)}: the input ends in the middle of a line"
            + (f"; thread {tasks[-1].id} is cut short" if tasks else "")
        )
    if unmerged:
        warnings.append(
            f"{origin}: pystack could not merge native frames for {unmerged} threads; "
            "they have Python frames only"
        )
    detail = ["pystack"]
    if process_name:
        detail.append(f"process {process_name}")
    frame_notes(detail, {"native": native, "locals": had_locals}, keep_locals)
    if coloured:
        detail.append("coloured terminal output")
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer="pystack",
            detail=", ".join(detail),
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        skipped_lines=skipped,
    )


def _c_frame(line: str) -> tuple[str, str, str, str] | None:
    """(file, line, symbol, library) of a C frame line, else None. As the pattern
    '"(.*)", line (\\d+), in (.*) \\((.*)\\)$' would take them (the last ' (' opens the
    library; the last '", line N, in ' before it ends the file), in time linear in the line."""
    if not line.startswith(_C_PREFIX) or not line.endswith(")"):
        return None
    body = line[len(_C_PREFIX) : -1]
    cut = body.rfind(" (")
    if cut < 0:
        return None
    last = None
    for last in _LINE_IN.finditer(body, 0, cut):  # noqa: B007 (the last one is wanted)
        pass
    if last is None:
        return None
    return body[: last.start()], last.group(1), body[last.end() : cut], body[cut + 2 :]
