"""CPython's ``faulthandler`` dumps: ``faulthandler.dump_traceback``, ``register`` (SIGUSR1),
``dump_traceback_later`` and fatal errors (``enable``, ``-X faulthandler``).

::

    Fatal Python error: Aborted                            -> a fatal error: starts a dump
    (blank)
    Thread 0x00007f68567fc6c0 (most recent call first):    -> a thread: its pthread handle
      File "/srv/app/worker.py", line 69 in short_task     -> a frame, innermost first
      File "/usr/lib/python3.12/threading.py", line 1010 in run
    (blank)
    Current thread 0x00007f689aecab80 (most recent call first):   -> the thread that dumped
      File "/srv/app/main.py", line 147 in main
    (blank)
    Extension modules: numpy.core._multiarray_umath, ... (total: 12)   -> footer of a fatal error

The reader is a line state machine:

OUTSIDE  anything before a thread header is a skipped line (the log lines of the stderr the
         dump went to), except ``Fatal Python error: <reason>`` (``Windows fatal exception:
         <reason>`` on Windows), ``Timeout (0:00:05)!``
         (``dump_traceback_later``) and ``Stack (most recent call first):`` (a dump of one
         thread, ``all_threads=False``, without an id), which start a dump, and
         ``Python runtime state: ...``, which is noted. A header -> THREAD.
THREAD   ``Thread 0xHHHH (most recent call first):`` or ``Current thread 0xHHHH (...):``. The
         id is the pthread handle in hex (an address, not the OS thread id: it still names one
         thread across two dumps of a process, but glibc hands a dead thread's handle to the
         next thread it starts). Python 3.14 prints the OS thread name between the id and the
         parenthesis (``Thread 0x... [worker-3] (most recent call first):``) as raw bytes, cut
         to 15 bytes on Linux. Then -> FRAME.
FRAME    ``  File "path", line N in function`` (``???`` for an unknown file or line; non-ASCII
         escaped as ``\\xNN``; each string cut at 500 characters with ``...``);
         ``  <no Python frame>`` and ``  <tstate is freed>`` (no stack); ``  Garbage-collecting``
         (the current thread was collecting); ``  ...``: the stack had more than 100 frames and
         the rest is cut (flagged). A blank line ends the thread -> OUTSIDE; a header -> THREAD.
         ``...`` alone after a thread: the process had more than 100 threads and faulthandler
         listed no more (a warning). ``Extension modules: ...`` (3.10+) ends a fatal dump.

Several dumps in one file: a stderr log that collected a dump per SIGUSR1 holds many.
faulthandler writes a blank line before every thread but the first, and none after the last.
A dump starts at a fatal error or timeout header; at a thread header that does not follow a
blank line once the dump being read has had its ``Current thread``; at a second ``Current
thread``; or at a thread id already seen in the dump being read. The reader keeps the last
dump, the latest state of the process, and says in a warning how many there were and on which
lines they start, so the others can be cut out (``sed -n 'A,Bp'``) and read on their own.
Log lines written by other threads while a dump was being written are skipped without ending
it.

Quirks kept: faulthandler names no thread before Python 3.14 and prints no state; functions are
code names (``wait``, not ``Condition.wait``). A dump that ends in the middle of a line is
truncated: its last thread is flagged partial.
"""

from __future__ import annotations

import re

from snapdiff.model import (
    FLAG_ELIDED,
    FLAG_NO_STACK,
    FLAG_PARTIAL,
    THREAD,
    Frame,
    Snapshot,
    SourceInfo,
    Task,
)

NAME = "faulthandler-text"
DESCRIPTION = "CPython faulthandler dumps: SIGUSR1 (register), dump_traceback(_later), fatal errors"

DUMPS_NOUN = "faulthandler dumps"
LOOSE_HEADER = re.compile(
    rb"^(?:(?:Current thread|Thread) 0x[0-9a-fA-F]+\b[^\n]*:|(?:Stack|Traceback) "
    rb"\(most recent call first\):)[ \t\r]*$",
    re.M,
)

# Python 3.3 and the faulthandler backport before 2.4 wrote "Thread 0x...:" (no "(most recent
# call first)") and "Traceback (most recent call first):" for one thread.
_SNIFF = re.compile(
    rb"^(?:(?:Current thread|Thread) 0x[0-9a-fA-F]{1,16}(?: \[[^\n]*\])?"
    rb"(?: \(most recent call first\))?|(?:Stack|Traceback) \(most recent call first\)):\r?\n"
    rb"(?:  File [\"?]|File \"|  <no Python frame>|  <tstate is freed>|  Garbage-collecting"
    rb"|  \.\.\.\r?$)",
    re.M,
)
_THREAD = re.compile(
    r"(Current thread|Thread) 0x([0-9a-fA-F]{1,16})(?: \[(.*)\])?(?: \(most recent call first\))?:$"
)
_FRAME = re.compile(r' {0,2}File (?:"(.*)"|\?\?\?), line (\d{1,9}|\?\?\?) in (.*)$')
# The outermost frame of a Python thread: the main thread's module, a threading.Thread's
# bootstrap. A dump whose last line (with no newline after it) is such a frame is whole.
_OUTERMOST = ("<module>", "_bootstrap", "__bootstrap", "_run_module_as_main")
_FATAL_HEADERS = ("Fatal Python error: ", "Windows fatal exception: ")
_TIMEOUT = re.compile(r"Timeout \((\d+:\d\d:\d\d(?:\.\d+)?)\)!$")
_STACKS = ("Stack (most recent call first):", "Traceback (most recent call first):")


def sniff(head: bytes) -> bool:
    """A thread (or ``Stack``) header whose next line is a frame or one of faulthandler's marks."""
    return _SNIFF.search(head) is not None


def is_header(line: str) -> bool:
    """Whether the reader takes ``line`` as a thread (or one-thread stack) header."""
    return line in _STACKS or _THREAD.match(line) is not None


def dump_starts(text: str) -> list[int]:
    """The first line of each dump in ``text`` (as :func:`parse` splits them)."""
    return [d.first_line for d in _read(text)[0]]


class _Dump:
    """One dump being read: its first line, header and threads."""

    __slots__ = ("current", "cut", "elided", "first_line", "ids", "reason", "tasks")

    def __init__(self, first_line: int, reason: str = "") -> None:
        self.first_line = first_line
        self.reason = reason
        self.tasks: list[Task] = []
        self.ids: set[int] = set()
        self.current = False
        self.cut = False  # "..." after 100 threads
        self.elided = 0


def _whole(line: str) -> bool:
    """Whether a last line (with no newline after it) is a whole line of a dump."""
    frame = _FRAME.match(line)
    if frame is not None:
        return frame.group(3).strip() in _OUTERMOST  # else the stack stops half way
    return (
        is_header(line)
        or line.strip() in ("...", "<no Python frame>", "<tstate is freed>", "Garbage-collecting")
        or line.startswith(("Extension modules: ", "Python runtime state: "))
    )


def _read(text: str) -> tuple[list[_Dump], int, str, bool, bool, int]:
    """The dumps of ``text``; skipped lines, runtime state, whether threads are named, whether
    the input is cut, and its number of lines."""
    lines = text.split("\n")
    dumps: list[_Dump] = []
    interned: dict[tuple[str, int, str], Frame] = {}
    skipped = 0
    runtime_state = ""
    names = False

    dump: _Dump | None = None
    cur: dict[str, str] | None = None  # id (hex), name, state
    frames: list[Frame] = []
    flags: list[str] = []
    pending_header: tuple[int, str] | None = None  # a fatal/timeout header seen before threads

    def finish(partial: bool = False) -> None:
        nonlocal cur, frames, flags
        if cur is not None and dump is not None:
            if not frames and FLAG_NO_STACK not in flags:
                flags.append(FLAG_NO_STACK)
            if partial:
                flags.append(FLAG_PARTIAL)
            if FLAG_ELIDED in flags:
                dump.elided += 1
            dump.tasks.append(
                Task(
                    kind=THREAD,
                    frames=tuple(frames),
                    id=int(cur["id"], 16) if cur["id"] else None,
                    name=cur["name"],
                    state=cur["state"],
                    flags=tuple(flags),
                )
            )
        cur = None
        frames = []
        flags = []

    def start_dump(line_no: int, reason: str) -> None:
        nonlocal dump
        finish()
        dump = _Dump(line_no, reason)
        dumps.append(dump)

    after_blank = False  # the previous line was blank: faulthandler's separator of threads
    for line_no, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line:
            finish()
            after_blank = True
            continue
        follows_blank, after_blank = after_blank, False
        if (line[0] == " " or line.startswith("File ")) and cur is not None:
            # (Frames lose their indent where an issue tracker renders a pasted dump.)
            if line.startswith(("  File ", "File ")):
                fm = _FRAME.match(line)
                if fm:
                    file = fm.group(1) if fm.group(1) is not None else "???"
                    number = int(fm.group(2)) if fm.group(2) != "???" else 0
                    key = (file, number, fm.group(3))
                    frame = interned.get(key)
                    if frame is None:
                        frame = interned[key] = Frame(fm.group(3), file, number)
                    frames.append(frame)
                    continue
            elif line == "  ...":
                flags.append(FLAG_ELIDED)
                continue
            elif line in ("  <no Python frame>", "  <tstate is freed>"):
                flags.append(FLAG_NO_STACK)
                continue
            elif line == "  Garbage-collecting":
                cur["state"] = "garbage-collecting"
                continue
        if line.startswith(("Thread 0x", "Current thread 0x")):
            m = _THREAD.match(line)
            if m:
                tid = int(m.group(2), 16)
                is_current = m.group(1) == "Current thread"
                if pending_header is not None:
                    start_dump(*pending_header)
                    pending_header = None
                elif (
                    dump is None
                    or tid in dump.ids
                    or (is_current and dump.current)
                    or (dump.current and not follows_blank)
                ):
                    start_dump(line_no, "")
                finish()
                assert dump is not None
                dump.ids.add(tid)
                dump.current = dump.current or is_current
                name = m.group(3) or ""
                names = names or bool(name)
                cur = {"id": m.group(2), "name": name, "state": "current" if is_current else ""}
                continue
        if line in _STACKS:
            first, reason = pending_header if pending_header is not None else (line_no, "")
            pending_header = None
            start_dump(first, reason)
            cur = {"id": "", "name": "", "state": "current"}
            continue
        if line.startswith(_FATAL_HEADERS):
            finish()
            pending_header = (line_no, line.strip())
            continue
        if line.startswith("Timeout ("):
            tm = _TIMEOUT.match(line)
            if tm:
                finish()
                pending_header = (line_no, f"timeout after {tm.group(1)}")
                continue
        if line.startswith("Python runtime state: "):
            runtime_state = line.removeprefix("Python runtime state: ").strip()
            continue
        if line == "..." and dump is not None:
            finish()
            dump.cut = True
            continue
        if line.startswith("Extension modules: ") and dump is not None:
            finish()
            continue
        # Anything else: a log line, or 3.14's C stack of a fatal error (``Current thread's C
        # stack trace (most recent call first):`` and ``  Binary file ...`` lines). A log line
        # written while a thread was being dumped does not end the thread.
        skipped += 1
    # No final newline is no cut by itself (saved and pasted dumps often have none): the last
    # line must also be no whole frame, header or mark.
    tail = lines[-1].rstrip("\r") if lines else ""
    truncated = bool(tail) and not _whole(tail)
    finish(partial=truncated)
    return dumps, skipped, runtime_state, names, truncated, len(lines)


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    """Read the last dump in ``data``; ``keep_locals`` is accepted and unused (none are printed)."""
    text = data.decode("utf-8", errors="replace")
    dumps, skipped, runtime_state, names, truncated, n_lines = _read(text)
    warnings: list[str] = []
    chosen = dumps[-1] if dumps else _Dump(1)
    if len(dumps) > 1:
        starts = ", ".join(str(d.first_line) for d in dumps)
        warnings.append(
            f"{origin}: {len(dumps)} faulthandler dumps in one file (starting on lines "
            f"{starts}); read the last, from line {chosen.first_line}"
        )
    tasks = chosen.tasks
    if chosen.cut:
        warnings.append(
            f"{origin}: faulthandler lists at most 100 threads and this process had more: "
            "the rest are missing"
        )
    if chosen.elided:
        warnings.append(
            f"{origin}: {chosen.elided} threads had more than 100 frames; their outer frames "
            "are cut"
        )
    if truncated:
        warnings.append(
            f"{origin}:{n_lines}: the input ends in the middle of a line"
            + (f"; thread 0x{tasks[-1].id:x} is cut short" if tasks and tasks[-1].id else "")
        )
    detail = ["faulthandler"]
    if chosen.reason:
        detail.append(chosen.reason)
    if runtime_state:
        detail.append(f"runtime {runtime_state}")
    detail.append("thread ids are pthread handles")
    if names:
        detail.append("OS thread names (Python >= 3.14)")
    return Snapshot(
        source=SourceInfo(format=NAME, origin=origin, producer="python", detail=", ".join(detail)),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        skipped_lines=skipped,
    )
