"""Go goroutine dumps with full stacks.

Covers ``/debug/pprof/goroutine?debug=2``, ``runtime.Stack(buf, true)``, panic output
(GOTRACEBACK=all/system/crash), SIGQUIT dumps and the ``goroutineleak`` profile, Go 1.15 to 1.27.
The runtime code that prints them is ``goroutineheader``, ``traceback1``, ``printcreatedby1`` and
``printAncestorTraceback`` in ``runtime/traceback.go``.

The reader is a line state machine (innermost frame first, as the runtime prints). CRLF line
ends are made LF first; an indented line is one that starts with a tab or, after an editor, a
mail client or a web page turned tabs into spaces, a space. Lines are told apart with ``str``
methods; headers and file lines are parsed once per distinct text, and regexes run only on
headers, elision and ancestor markers.

OUTSIDE   no goroutine open. Waits for a header; anything else is a skipped line (log lines, a
          SIGQUIT preamble, ``panic: boom [recovered]``, ``PC=... m=0 sigcode=0``, a register
          dump, ``exit status 2``), counted in ``skipped_lines``. Headers::

            goroutine 18 [chan send, 2 minutes, locked to thread]:
            goroutine 7 gp=0xc000007a40 m=nil [select (leaked)]:          (GOTRACEBACK>=system)
            goroutine 9 gp=0xc0000061c0 m=3 mp=0xc000100008 [running]:   (on an M)
            goroutine 9 [select] {handler: /api/v1/items, "a b": "x\\"y"}:  (tracebacklabels=1)
            goroutine 4 [chan receive (durable), synctest bubble 3]:      (testing/synctest)

          The status may carry `` (leaked)``, `` (scan)``, `` (durable)``; then ``, N minutes``,
          ``, locked to thread``, ``, synctest bubble N``. Label keys and values are printed
          bare when they are only ``[A-Za-z0-9./_]`` and Go-quoted otherwise. -> FUNC.
          ``goroutine 0`` (an M's g0 in a SIGQUIT dump: not a goroutine) and an id seen before
          (two dumps in one file) -> SKIP.
FUNC      a goroutine is open, no function line is waiting for its file line.
          ``net/http.(*Server).Serve(0xc00008c000, {0x738a20, ...})`` -> FILE;
          ``created by main.start in goroutine 1`` (1.21+; older without ``in goroutine``) -> FILE;
          ``...additional frames elided...`` (before 1.23: the stack ends, ``created by`` may
          follow) or ``...4 frames elided...`` (1.23+: the middle is cut, frames continue):
          flags the goroutine, stays in FUNC;
          ``[originating from goroutine 24]:`` (GODEBUG=tracebackancestors) -> ANCESTOR;
          ``non-Go function at pc=0x...`` (a cgo caller, no file line): a frame, stays;
          ``\\tgoroutine running on other thread; stack unavailable`` (SIGQUIT): flags
          ``no-stack``, a ``created by`` may follow;
          a blank line ends the goroutine -> OUTSIDE.
          Any other line: when the next line is indented it is a malformed function line
          (warned with its line number, the goroutine kept with the frames before it and
          flagged partial) -> SKIP, unless the next line is a cgo symbolizer's
          ``\\tfile.c:12 pc=0x...`` (then it is that frame's function) -> FILE; otherwise the
          block ended without a blank line (``exit status 2`` after a panic; the block is
          judged as at the end of the input, below) -> OUTSIDE.
          A goroutine whose whole block holds no frame is flagged ``no-stack``.
FILE      a function or ``created by`` line waits: ``\\t/usr/lib/go/src/net/http/server.go:3056
          +0x364`` (``fp=.. sp=.. pc=..`` may follow under GOTRACEBACK>=system) makes the frame
          -> FUNC. Any other line means the block was cut after the function line: the frame
          is kept without a file and the goroutine flagged partial; the line is then read in
          FUNC.
ANCESTOR  FUNC for the frames and ``created by`` of the goroutines that created this one;
          read and dropped (they are not where this goroutine is), as is an ancestor's
          ``...additional frames elided...``. A blank line -> OUTSIDE.
SKIP      lines of a skipped block, until a blank line (-> OUTSIDE) or a header.

Cut input. The runtime ends every line with a newline, so input that ends mid-line was cut:
the last line is read only as far as it can be trusted (a file line whose line number may be
cut loses its file), the goroutine it belongs to is flagged partial and the snapshot
truncated. A cut that falls exactly on a line end is seen when the last goroutine, not closed
by a blank line, is left waiting for a file line, has no frames, or has no ``created by`` line
(goroutine 1, which never has one: does not end in main.main, runtime.main, runtime.goexit or an
init function). A cut at the very end of a whole block cannot be seen. ``debug=2`` over HTTP is
cut silently at exactly 64 MiB.

Speed. :func:`parse` gives exactly what feeding every line to the machine gives
(:func:`parse_reference`; ``tests/test_perf_equivalence.py`` holds them side by side), but reads
a window of the input at a time (mapped files and gzip streams are never decoded whole) and
reads each distinct block body once, with a second process scanning half of the windows of a
big input: see "The fast path" below.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import re
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from itertools import cycle, repeat
from typing import Any, NamedTuple

from snapdiff.model import (
    FLAG_DURABLE,
    FLAG_ELIDED,
    FLAG_LEAKED,
    FLAG_LOCKED,
    FLAG_NO_STACK,
    FLAG_PARTIAL,
    FLAG_SCAN,
    GOROUTINE,
    Frame,
    Snapshot,
    SourceInfo,
    Task,
    make_task,
)
from snapdiff.runtimes._lines import starts_by

NAME = "go-goroutine-text"
DESCRIPTION = (
    "Go goroutine dump with full stacks: pprof goroutine?debug=2, runtime.Stack, "
    "panic and SIGQUIT output (Go 1.15-1.27)"
)

# --- what snapdiff.inputs and snapdiff.unwrap ask of this format (snapdiff.runtime.Reader) ---
DUMPS_NOUN = "goroutine dumps"
# Two of these lines may mean two dumps (two SIGQUIT dumps in one stderr); with fewer, the
# input is one dump, read a window at a time.
ANOTHER_DUMP_MARKS = (b"SIGQUIT: quit", b"SIGABRT: abort", b"panic: ", b"fatal error: ")
dump_starts = starts_by(
    re.compile(r"(?:SIGQUIT: quit|SIGABRT: abort|panic: |fatal error: |goroutine profile: )")
)
# Looser than the reader's header: any goroutine line with an id and a bracket.
LOOSE_HEADER = re.compile(rb"^goroutine ([1-9][0-9]*) (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[[^\n]*", re.M)
# A goroutine printed twice (a dump written over itself) is read once.
DISTINCT_HEADER_IDS = True
QUICK_HEADER = (b"goroutine ", b"goroutine 0 ")

PPROF_HTTP_LIMIT = 64 << 20  # net/http/pprof cuts debug=2 output here without a marker

# What follows "goroutine <id>" in a header.
_HEADER_REST = re.compile(
    r" (gp=\S+ m=\S+(?: mp=\S+)? )?\[([^\]]*)\](?: \{(.*)\})?:[ \t]*$", re.DOTALL
)
_SNIFF = re.compile(rb"^goroutine [0-9]{1,20} (?:gp=\S+ m=\S+(?: mp=\S+)? )?\[[^\]\n]*\]", re.M)
_ELIDED = re.compile(r"\.\.\.(?:additional|[0-9]+) frames elided\.\.\.[ \t]*$")
_ORIGIN = re.compile(r"\[originating from goroutine [0-9]+\]:[ \t]*$")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}
_FRAME, _CREATOR, _DROP = 0, 1, 2
_NON_GO = Frame("non-Go function")
_MAX_DIGITS = 20  # a uint64 goroutine id; longer runs are not numbers Go prints

_Header = tuple[str, int | None, tuple[str, ...], tuple[tuple[str, str], ...], bool]


def sniff(head: bytes) -> bool:
    return _SNIFF.search(head) is not None


def _small_int(text: str) -> int | None:
    """``text`` as an int when it is 1 to 20 ASCII digits (``int()`` takes ``²`` and ``٣``)."""
    if 0 < len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit():
        return int(text)
    return None


class _Builder:
    """The goroutine being read."""

    __slots__ = (
        "created_by",
        "creator_id",
        "flags",
        "frames",
        "id",
        "labels",
        "line_no",
        "pending",
        "state",
        "wait",
    )

    def __init__(
        self,
        gid: int,
        state: str,
        wait: int | None,
        flags: list[str],
        labels: tuple[tuple[str, str], ...],
        line_no: int,
    ) -> None:
        self.id = gid
        self.state = state
        self.wait = wait
        self.flags = flags
        self.labels = labels
        self.line_no = line_no
        self.frames: list[Frame] = []
        self.created_by: Frame | None = None
        self.creator_id: int | None = None
        # A function or created-by line waiting for its file line: (function, _FRAME|_CREATOR|_DROP)
        self.pending: tuple[str, int] | None = None

    def flag(self, flag: str) -> None:
        if flag not in self.flags:
            self.flags.append(flag)

    def settle_cut(self) -> None:
        """The pending line never got its file line: keep the function, flag the cut."""
        assert self.pending is not None
        func, kind = self.pending
        self.pending = None
        if kind == _CREATOR:
            self.created_by = Frame(func)
        elif kind == _FRAME:
            self.frames.append(Frame(func))
        self.flag(FLAG_PARTIAL)

    def build(self) -> Task:
        if self.pending is not None:
            self.settle_cut()
        if not self.frames and FLAG_PARTIAL not in self.flags:
            self.flag(FLAG_NO_STACK)  # a whole block with no frames in it
        return Task(
            kind=GOROUTINE,
            frames=tuple(self.frames),
            id=self.id,
            state=self.state,
            wait_minutes=self.wait,
            created_by=self.created_by,
            creator_id=self.creator_id,
            labels=self.labels,
            flags=tuple(self.flags),
        )


def parse_state(text: str) -> tuple[str, int | None, list[str]]:
    """``chan send (leaked), 3 minutes, locked to thread`` -> ("chan send", 3, [leaked, locked])."""
    parts = text.split(", ")
    status = parts[0]
    flags: list[str] = []
    for suffix, flag in ((" (leaked)", FLAG_LEAKED), (" (scan)", FLAG_SCAN)):  # printed order
        if suffix in status:
            status = status.replace(suffix, "")
            flags.append(flag)
    if status.endswith(" (durable)"):
        status = status[: -len(" (durable)")]
        flags.append(FLAG_DURABLE)
    wait: int | None = None
    for part in parts[1:]:
        if part.endswith(" minutes"):
            number = _small_int(part[: -len(" minutes")])
            if number is not None:
                wait = number
                continue
        if part == "locked to thread":
            flags.append(FLAG_LOCKED)
        elif part.startswith("synctest bubble "):
            flags.append("synctest-bubble-" + part[len("synctest bubble ") :])
        elif part:
            flags.append(part)
    return status, wait, flags


def _escape(m: re.Match[str]) -> str:
    esc = m.group(1)
    simple = _SIMPLE_ESCAPES.get(esc)
    if simple is not None:
        return simple
    if len(esc) == 1:
        return esc  # not an escape Go prints: keep the character
    code = int(esc, 8) if esc[0] in "01234567" else int(esc[1:], 16)
    if esc[0] == "x" and code >= 0x80:
        return "\ufffd"  # Go writes a byte of invalid UTF-8 as \xNN
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return chr(code)


def go_unquote(token: str) -> str:
    """A Go double-quoted string (``runtime.printquoted`` or ``strconv.Quote``) to its text."""
    body = token[1:-1]
    return _ESCAPE.sub(_escape, body) if "\\" in body else body


def _label_token(text: str, pos: int, stop: str) -> tuple[str, int]:
    """A key or value at ``pos``: Go-quoted, or bare up to ``stop``. Returns (text, end)."""
    if text.startswith('"', pos):
        m = _QUOTED.match(text, pos)
        if m is not None:
            return go_unquote(m.group(0)), m.end()
    end = text.find(stop, pos)
    if end < 0:
        end = len(text)
    return text[pos:end], end


def parse_labels(text: str) -> tuple[tuple[str, str], ...]:
    """``handler: /api/v1/items, "a b": "x\\"y"``: ``key: value`` pairs joined by ``, ``.

    A bare key or value holds only ``[A-Za-z0-9./_]`` (it may be empty); anything else is
    quoted, so a ``: `` or ``, `` inside quotes is text, never a separator.
    """
    labels: list[tuple[str, str]] = []
    pos, size = 0, len(text)
    while pos < size:
        key, pos = _label_token(text, pos, ": ")
        value = ""
        if text.startswith(": ", pos):
            value, pos = _label_token(text, pos + 2, ", ")
        elif text.startswith(":", pos):
            pos += 1  # "k:" at the very end: an empty value whose space was trimmed
        labels.append((key, value))
        if text.startswith(", ", pos):
            pos += 2
        elif pos < size:
            # Text the grammar does not expect: keep the rest as one value, never loop on it.
            labels.append(("", text[pos:]))
            break
    return tuple((k, v) for k, v in labels if k or v)


def _parse_header(rest: str) -> _Header | None:
    """What follows ``goroutine <id>``: (state, wait, flags, labels, has gp=)."""
    m = _HEADER_REST.match(rest)
    if m is None:
        return None
    state, wait, flags = parse_state(m.group(2))
    labels = parse_labels(m.group(3)) if m.group(3) else ()
    return state, wait, tuple(flags), labels, m.group(1) is not None


def _function_name(line: str) -> str | None:
    """The function of a frame line, without its arguments; None if the line is not one.

    Arguments hold no parentheses, so the call's ``(`` is the last one. A name never holds
    ``": "``, which most log lines do.
    """
    if not line.endswith(")"):
        return None
    cut = line.rfind("(")
    if cut <= 0:
        return None
    name = line[:cut]
    if ": " in name:
        return None
    return name


def _file_frame(func: str, line: str, cut: bool = False) -> Frame:
    """``\\tpath/file.go:12 +0x1f fp=0x.. sp=0x.. pc=0x..`` (or a cgo symbolizer's
    ``\\tfile.c:12 pc=0x..`` or ``\\tpc=0x..``) as the frame of ``func``.

    When the line was cut (the end of the input), a line number with nothing after it may
    itself be cut, so the file is left out.
    """
    body = line.strip()
    end = body.find(" +0x")
    if end < 0:
        end = body.find(" fp=")
        if end < 0:
            end = body.find(" pc=")
            if end < 0:
                end = len(body)
    if cut and end == len(body):
        return Frame(func)
    colon = body.rfind(":", 0, end)
    if colon > 0:
        number = _small_int(body[colon + 1 : end])
        if number is not None:
            return Frame(func, body[:colon], number)
    if body.startswith("pc="):
        return Frame(func)
    return Frame(func, body[:end], 0)


_MAIN_ENTRIES = frozenset(("main.main", "runtime.main", "runtime.goexit"))


def _missing_end(goroutine: _Builder) -> str:
    """What a whole block would end with and this one lacks ("" if it looks whole).

    Every goroutine but 1 ends with its ``created by`` line (or shows no stack); goroutine 1
    ends in main.main (runtime.main and runtime.goexit under GOTRACEBACK=system), in a
    package's init, or at an elision.
    """
    if goroutine.created_by is not None or FLAG_NO_STACK in goroutine.flags:
        return ""
    if goroutine.id != 1:
        return "its 'created by' line"
    if FLAG_ELIDED in goroutine.flags or not goroutine.frames:
        return ""
    entry = goroutine.frames[-1].function
    if entry in _MAIN_ENTRIES or entry.endswith(".init") or ".init." in entry:
        return ""
    return "main.main"


def _is_indented(line: str) -> bool:
    return line[:1] in ("\t", " ") and not line.isspace()


class _Tables:
    """What every goroutine of one input shares: parsed headers, frames interned."""

    __slots__ = ("file_frames", "headers", "interned")

    def __init__(self) -> None:
        self.interned: dict[tuple[str, str, int], Frame] = {}
        self.file_frames: dict[tuple[str, str], Frame] = {}
        self.headers: dict[str, _Header | None] = {}

    def frame_from(self, func: str, line: str, cut: bool) -> Frame:
        made = _file_frame(func, line, cut)
        key = (made.function, made.file, made.line)
        frame = self.interned.get(key)
        if frame is None:
            frame = self.interned[key] = made
        return frame

    def header(self, rest: str) -> _Header | None:
        if rest in self.headers:
            return self.headers[rest]
        parsed = self.headers[rest] = _parse_header(rest)
        return parsed


class _Machine:
    """The line state machine of the module docstring, fed lines a block or a file at a time.

    Between two blocks separated by a blank line the state is always OUTSIDE, so the input can
    be fed in pieces cut after blank lines; ``feed`` is told the number of its first line and
    the line that follows its last one (for the one look-ahead the machine makes).
    """

    def __init__(self, origin: str, tables: _Tables) -> None:
        self.origin = origin
        self.tables = tables
        self.tasks: list[Task] = []
        self.warnings: list[str] = []
        self.seen: set[int] = set()
        self.duplicates = 0
        self.skipped = 0
        self.partial_notes: list[str] = []
        self.features: set[str] = set()
        self.cur: _Builder | None = None
        self.in_ancestor = False
        self.skip_block = False  # SKIP: inside goroutine 0, a duplicate or a malformed block

    def finish(self) -> None:
        cur = self.cur
        if cur is not None:
            task = cur.build()
            if FLAG_PARTIAL in task.flags:
                self.partial_notes.append(f"line {cur.line_no}: goroutine {cur.id}")
            self.tasks.append(task)
            self.cur = None

    def header(self, line: str, line_no: int) -> bool:
        """Open a goroutine if ``line`` is a header; True if it was one."""
        space = line.find(" ", 10)
        if space < 0:
            return False
        gid = _small_int(line[10:space])
        if gid is None:
            return False
        parsed = self.tables.header(line[space:])
        if parsed is None:
            return False
        self.finish()
        self.in_ancestor = False
        if gid == 0 or gid in self.seen:
            if gid != 0:
                self.duplicates += 1
            self.skip_block = True
            return True
        self.skip_block = False
        self.seen.add(gid)
        state, wait, flags, labels, has_gp = parsed
        if labels:
            self.features.add("labels")
        if has_gp:
            self.features.add("gp")
        self.cur = _Builder(gid, state, wait, list(flags), labels, line_no)
        return True

    def feed(self, lines: list[str], first_no: int, after: str) -> None:
        """Read ``lines``, the first of which is line ``first_no``; ``after`` follows the last."""
        features = self.features
        file_frames = self.tables.file_frames
        frame_from = self.tables.frame_from
        n_lines = len(lines)
        for index, line in enumerate(lines):
            if not line:
                # A blank line ends a goroutine (FUNC, FILE, ANCESTOR) or a SKIP block.
                self.finish()
                self.in_ancestor = self.skip_block = False
                continue
            cur = self.cur
            first = line[0]
            if first == "\t" or first == " ":
                if line.isspace():
                    self.finish()
                    self.in_ancestor = self.skip_block = False
                    continue
                if cur is None:
                    if not self.skip_block:
                        self.skipped += 1
                    continue
                pending = cur.pending
                if pending is None:
                    # FUNC: an indented line with no function line before it.
                    if "goroutine running on other thread" in line:
                        cur.flag(FLAG_NO_STACK)
                    else:
                        self.skipped += 1
                    continue
                # FILE -> FUNC
                cur.pending = None
                func, kind = pending
                if kind == _DROP:
                    continue
                fkey = (func, line)
                frame = file_frames.get(fkey)
                if frame is None:
                    frame = file_frames[fkey] = frame_from(func, line, False)
                if kind == _CREATOR:
                    cur.created_by = frame
                else:
                    cur.frames.append(frame)
                continue
            if (
                first == "g"
                and line.startswith("goroutine ")
                and self.header(line, first_no + index)
            ):
                continue
            if cur is None:
                # OUTSIDE or SKIP
                if not self.skip_block:
                    self.skipped += 1
                continue
            if cur.pending is not None:
                # FILE, but the function line had no file line: the block was cut there.
                cur.settle_cut()
            in_ancestor = self.in_ancestor
            if first == "c" and line.startswith("created by "):
                rest = line[len("created by ") :]
                cut = rest.find(" in goroutine ")
                creator_id: int | None = None
                if cut >= 0:
                    features.add("in-goroutine")
                    creator_id = _small_int(rest[cut + len(" in goroutine ") :].rstrip())
                    rest = rest[:cut]
                if in_ancestor or cur.created_by is not None:
                    cur.pending = (rest, _DROP)  # an ancestor's creator: consume its file line
                else:
                    cur.creator_id = creator_id
                    cur.pending = (rest, _CREATOR)
                continue
            name = _function_name(line)
            if name is not None:
                cur.pending = (name, _DROP if in_ancestor else _FRAME)
                continue
            if first == "." and _ELIDED.match(line):
                if not in_ancestor:
                    cur.flag(FLAG_ELIDED)
                    features.add("elided")
                continue
            if first == "[" and _ORIGIN.match(line):
                self.in_ancestor = True
                features.add("ancestors")
                continue
            if line.startswith("non-Go function at pc="):
                if not in_ancestor:
                    cur.frames.append(_NON_GO)
                continue
            following = lines[index + 1] if index + 1 < n_lines else after
            if _is_indented(following):
                if "pc=0x" in following and " sp=0x" not in following:
                    # A cgo symbolizer's frame: its function printed as it chose, then
                    # "\tfile:line pc=0x..".
                    cur.pending = (line.strip(), _DROP if in_ancestor else _FRAME)
                    continue
                self.warnings.append(
                    f"{self.origin}:{first_no + index}: not a stack frame, goroutine {cur.id} "
                    f"kept with the frames before it: {line[:80]!r}"
                )
                cur.flag(FLAG_PARTIAL)
                self.finish()
                self.skip_block = True
                continue
            # The block ended without a blank line: "exit status 2" after a panic, a log line.
            # Nothing says it is whole: judge it as if the input ended here.
            if (not cur.frames and FLAG_NO_STACK not in cur.flags) or _missing_end(cur):
                cur.flag(FLAG_PARTIAL)
            self.finish()
            self.in_ancestor = False
            self.skipped += 1

    def end(self, tail: str, n_lines: int, size: int) -> Snapshot:
        """The input is over: ``tail`` is its cut last line ("" after a final newline),
        ``n_lines`` the number of whole lines, ``size`` the input's length in bytes."""
        origin = self.origin
        warnings = self.warnings
        truncated = False
        if size == PPROF_HTTP_LIMIT:
            truncated = True
            warnings.append(
                f"{origin}: exactly 64 MiB: net/http/pprof cuts debug=2 output there without a "
                "marker; the goroutines after the cut are missing"
            )
        if tail:
            # The line that was cut: trust only what it cannot have lost.
            truncated = True
            tail_no = n_lines + 1
            cur = self.cur
            if tail.startswith("goroutine ") and self.header(tail, tail_no):
                pass  # cut just before the newline of a header: no frames, flagged below
            elif cur is not None and not self.skip_block and _is_indented(tail) and cur.pending:
                func, kind = cur.pending
                cur.pending = None
                if kind == _FRAME:
                    cur.frames.append(self.tables.frame_from(func, tail, True))
                elif kind == _CREATOR:
                    cur.created_by = self.tables.frame_from(func, tail, True)
            elif cur is None and not self.skip_block and tail.strip():
                self.skipped += 1
            if self.cur is not None:
                self.cur.flag(FLAG_PARTIAL)
            warnings.append(f"{origin}:{tail_no}: the input ends in the middle of a line")
        elif self.cur is not None:
            # The last goroutine was not closed by a blank line (normal for debug=2): was the
            # input cut exactly at a line end?
            cur = self.cur
            if cur.pending is not None or (not cur.frames and FLAG_NO_STACK not in cur.flags):
                cur.flag(FLAG_PARTIAL)
            else:
                missing = _missing_end(cur)
                if missing:
                    cur.flag(FLAG_PARTIAL)
                    warnings.append(
                        f"{origin}:{n_lines}: the last goroutine ({cur.id}) ends without "
                        f"{missing}: the input may have been cut at a line end"
                    )
        self.finish()

        tasks = self.tasks
        if self.partial_notes:
            notes = self.partial_notes
            if tasks and FLAG_PARTIAL in tasks[-1].flags:
                truncated = True
            shown = ", ".join(notes[:3]) + (" ..." if len(notes) > 3 else "")
            warnings.append(
                f"{origin}: {len(notes)} goroutine block(s) cut short ({shown}); "
                "kept with the frames that were there"
            )
        if self.duplicates:
            warnings.append(
                f"{origin}: {self.duplicates} goroutine id(s) appear more than once (several "
                "dumps in one file?); kept the first of each"
            )
        return Snapshot(
            source=SourceInfo(
                format=NAME, origin=origin, producer="go", detail=_detail(self.features)
            ),
            tasks=tuple(tasks),
            warnings=tuple(warnings),
            truncated=truncated,
            skipped_lines=self.skipped,
        )


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text


def parse_reference(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    """The plain line-by-line reading of the whole input, one line after another.

    :func:`parse` must give exactly the same snapshot; tests hold the two side by side.
    """
    text = _decode(data)
    lines = text.split("\n")
    # The last element is "" after a final newline, or the line that was cut.
    tail = lines.pop()
    if tail and _WHOLE_TAIL.match(tail.encode("utf-8", errors="surrogateescape")):
        lines.append(tail)  # no final newline, but a whole last line: read as a line
        tail = ""
    machine = _Machine(origin, _Tables())
    machine.feed(lines, 1, tail)
    return machine.end(tail, len(lines), len(data))


# ---------------------------------------------------------------------------------------------
# The fast path.
#
# Most blocks of a big dump are one of a few hundred stacks; they differ only in the arguments
# of their function lines (pointers), the registers of their file lines and the g and m of
# their headers (GOTRACEBACK>=system, SIGQUIT), and the creator's id. Each window of the input
# (cut after a blank line, where the machine is always OUTSIDE) is split into blocks at blank
# lines with ``str.split``; arguments and registers are blanked out of a copy of the window by
# regex substitutions (C speed), creator ids out of the bodies that have one, and each distinct
# blanked body (the block after its header) is read once by the machine, which also says
# whether blanking could have changed its reading (``_blanked_safely``). A goroutine then costs
# its header: the id, and the state, wait and labels parsed once per header text after the id.
# Any block that is not a plain, whole goroutine (log lines, cuts, warnings, goroutine 0,
# duplicates, the last block) is fed to the machine as it is, with its line numbers, counted
# only then.
#
# Both cores. An input of ``PARALLEL_MIN`` bytes or more is read by two processes: a forked
# worker (same mapped buffer, same window cuts) scans every other window (``scan``): it does the
# splitting, blanking and look-ups, and sends back plain columns (goroutine ids, the number of
# each one's (header, body) reading, creator ids) with the texts of readings it numbers for the
# first time and, for every other block, its text and line offset. This process reads its own
# windows and applies the scans in order (``apply``): it reads each new text once into its own
# frames, feeds the other blocks to the machine at their line numbers and makes the tasks from
# the columns with ``make_task``. Tasks never cross the pipe. The worker knows only the ids of
# its own windows: a scan whose ids this process has already seen, or whose other blocks may
# name them, is read again here with ``window``, which keeps the result exactly the serial one
# (``tests/test_parallel.py``).

# Bytes of input read, decoded and split at a time (about 5 times that held). Small enough that
# a window's text, its blanked copy and the substitution's pieces stay in the CPU's cache and
# in memory the allocators already hold: with 4 MiB windows every window mapped fresh pymalloc
# arenas and heap, and `show` of 100,000 deep stacks took 256,124 minor page faults against
# 73,818 (bench/bench_knobs.py; docs/performance.md, "Windows").
WINDOW = 256 << 10
# A function line's arguments (the last parentheses). Possessive (``*+``): the class holds no
# ``)``, so giving characters back can never match, and not trying is 10 to 20 % faster.
_ARGS = re.compile(r"\([^()\n]*+\)\n")
_CREATOR_ID = re.compile(r" in goroutine [0-9]+\n")
_BLANK_ARGS = "()\n"
# GOTRACEBACK>=system (and SIGQUIT): each file line ends with the frame's registers.
_REGISTERS = re.compile(r" fp=0x[0-9a-f]+ sp=0x[0-9a-f]+ pc=0x[0-9a-f]+\n")
_BLANK_REGISTERS = " fp=# sp=# pc=#\n"
# ... and each header has the goroutine's g and m: read as one header, whatever their values.
_GP = re.compile(r" gp=0x[0-9a-f]+ m=(?:nil|[0-9]+)(?: mp=0x[0-9a-f]+)? (?=\[)")
_BLANK_GP = " gp=# m=# "
_BLANK_CREATOR = " in goroutine #\n"
_BODY_FLAGS = frozenset((FLAG_PARTIAL, FLAG_NO_STACK, FLAG_ELIDED))  # flags a body can set

# A distinct body, read once: (frames, created_by, creator id, flags the body adds). None when
# the body must be read line by line each time.
_Body = tuple[tuple[Frame, ...], Frame | None, int | None, tuple[str, ...]]
_UNSEEN: Any = object()  # a dictionary miss (None is a reading: line by line)
# Bodies kept with their creator id: enough for the sites of a dump, bounded when every block
# has its own creator (each request's goroutine starting one), so that memory stays bounded.
_MAX_BODIES = 1 << 16
_FastHeader = tuple[str, int | None, tuple[str, ...], tuple[tuple[str, str], ...]]
# A header and a body read together: (frames, state, wait, created_by, labels, flags).
_Combo = tuple[
    tuple[Frame, ...], str, int | None, Frame | None, tuple[tuple[str, str], ...], tuple[str, ...]
]
# What a scan numbers first: header texts, body texts (creator id blanked), (header, body).
_News = tuple[list[str], list[str], list[tuple[int, int]]]
_Found = tuple[int, int | None, bool]
_CREATOR_ID_CUT = re.compile(r" in goroutine ([0-9]{1,20})\n")
_HEADER_ID = re.compile(r"^goroutine ([0-9]{1,20}) ", re.M)


class _Scan(NamedTuple):
    """A window as :meth:`_FastReader.scan` found it (plain data, cheap to pickle)."""

    size: int  # bytes
    gids: list[int]  # the plain goroutines, in order
    combos: list[int]  # their (header, body) readings, numbered by the scanning reader
    creator_ids: list[int | None]
    slow: list[tuple[int, str, int]]  # other blocks: (plain goroutines before, text, line offset)
    rest_lines: list[str]  # the lines after the last blank line
    rest_line: int  # their line offset
    tail: str  # the cut last line ("" unless the window ends mid-line)
    new_headers: list[str]  # header texts (after the id) numbered first in this window
    new_keys: list[str]  # body texts (creator id blanked) numbered first in this window
    new_combos: list[tuple[int, int]]  # (header, body) numbered first in this window


def _header_ids(text: str) -> set[int]:
    """Every id the machine could read as a header's in ``text`` (a superset)."""
    return set(map(int, _HEADER_ID.findall(text)))


class _FastReader:
    def __init__(self, origin: str) -> None:
        self.tables = _Tables()
        self.machine = _Machine(origin, self.tables)
        self.bodies: dict[str, _Body | None] = {}
        self.by_creator: dict[str, _Body | None] = {}  # bodies with their creator id blanked
        self.fast_headers: dict[str, _FastHeader | None] = {}
        self.live: dict[str, _FastHeader] = {}  # headers that opened a goroutine
        self.next_line = 1  # the number of the first line of the next window
        self.size = 0
        self.tail = ""  # the final window's cut last line
        # Scanning for another reader (a worker): numbers of headers, bodies and pairs of them.
        self.header_ids: dict[str, int] = {}
        self.key_ids: dict[str, int | None] = {}
        self.key_creators: list[int | None] = []
        self.combo_ids: dict[tuple[int, int], int] = {}
        self.exact: dict[str, tuple[int, int | None]] = {}
        self.scanned_blocks: dict[str, _Found] = {}
        self.scan_seen: set[int] = set()
        # Applying scans: what their numbers stand for here.
        self.scanned_headers: list[tuple[str, _FastHeader]] = []
        self.scanned_keys: list[tuple[_Body, set[str]]] = []
        self.scanned_combos: list[_Combo] = []
        self.combo_parts: list[tuple[int, int]] = []
        self.applied_combos: set[int] = set()

    def _fast_header(self, rest: str) -> _FastHeader | None:
        if rest in self.fast_headers:
            return self.fast_headers[rest]
        parsed = self.tables.header(rest)
        fast: _FastHeader | None = None
        if parsed is not None:
            state, wait, flags, labels, _ = parsed
            if not _BODY_FLAGS.intersection(flags):
                fast = (state, wait, flags, labels)
        self.fast_headers[rest] = fast
        return fast

    def _use_header(self, rest: str, header: _FastHeader) -> None:
        """A header's first goroutine: what the header shows joins the snapshot's detail."""
        self.live[rest] = header
        parsed = self.tables.headers[rest]
        assert parsed is not None
        if parsed[3]:
            self.machine.features.add("labels")
        if parsed[4]:
            self.machine.features.add("gp")

    def _body(self, body: str) -> _Body | None:
        """The reading of a body (args blanked); None if it must be read line by line."""
        entry = self.bodies.get(body, _UNSEEN)
        if entry is not _UNSEEN:
            return entry  # type: ignore[no-any-return]
        key = _CREATOR_ID.sub(_BLANK_CREATOR, body)
        if key == body:
            entry = self.bodies[body] = self._read_body(body)
            return entry
        # The creator's id differs from goroutine to goroutine (each created by another):
        # the body without it is read once, the id is read from each block.
        entry = self.by_creator.get(key, _UNSEEN)
        if entry is _UNSEEN:
            entry = self.by_creator[key] = self._read_body(key)
        if entry is None:
            return None
        frames, created_by, _, flags = entry
        entry = (frames, created_by, _creator_id(body), flags)
        if len(self.bodies) < _MAX_BODIES:
            self.bodies[body] = entry
        return entry

    def _read_body(self, body: str) -> _Body | None:
        """Read a body once, with a stand-in header; None if it is no plain block."""
        entry, features = self._reading(body)
        if entry is not None:
            self.machine.features.update(features)
        return entry

    def _reading(self, body: str) -> tuple[_Body | None, set[str]]:
        """:meth:`_read_body` without touching the snapshot: the reading and what it shows."""
        entry: _Body | None = None
        scratch = _Machine("", self.tables)
        scratch.feed(["goroutine 2 [x]:", *body.split("\n"), ""], 1, "")
        if (
            len(scratch.tasks) == 1
            and not scratch.warnings
            and not scratch.skipped
            and not scratch.duplicates
            and FLAG_PARTIAL not in scratch.tasks[0].flags
            and self._blanked_safely(body, scratch.tasks[0])
        ):
            task = scratch.tasks[0]
            entry = (task.frames, task.created_by, task.creator_id, task.flags)
        return entry, scratch.features

    @staticmethod
    def _blanked_safely(body: str, task: Task) -> bool:
        """Whether every body that blanks to ``body`` reads as ``body`` does.

        Blanked registers (``fp=.. sp=.. pc=..``) are harmless at the end of a file line.
        A blanked ``(...)`` is harmless on a function line (the name ends at the last ``(``);
        anywhere else (a file line, a ``created by`` line, a log line) the arguments would be
        part of what is read. A blanked creator id must be on this goroutine's one
        ``created by`` line, read from the block itself.
        """
        for line in body.split("\n"):
            if _BLANK_REGISTERS[:-1] in line and (line[:1] not in ("\t", " ") or "pc=0x" in line):
                return False  # registers are harmless only after a file line's position
            if line.endswith("()") and (
                line[:1] in ("\t", " ")
                or line.startswith(("created by ", "goroutine "))
                or _function_name(line) is None
            ):
                return False
        if _BLANK_CREATOR[:-1] in body:
            # Read back from the block by _creator_id: one created-by line, the last but one.
            if body.count(" in goroutine ") != 1 or body.count("created by ") != 1:
                return False
            end = body.rfind("\n")
            line = body[body.rfind("\n", 0, end) + 1 : end]
            if not line.startswith("created by ") or _BLANK_CREATOR[:-1] not in line:
                return False
            if task.created_by is None:
                return False
        return True

    def window(self, raw: bytes, final: bool) -> None:
        """Read one window of the input: whole lines, ending after a blank line unless final."""
        self.size += len(raw)
        if (
            final
            and raw
            and not raw.endswith(b"\n")
            and _WHOLE_TAIL.match(raw, raw.rfind(b"\n") + 1)
        ):
            # No final newline, but the last line is whole (a file line with its pc offset, a
            # header): saved and pasted dumps often end so. It is read as a line, not a cut.
            raw += b"\n"
        text = _decode(raw)
        blanked = _ARGS.sub(_BLANK_ARGS, text)
        if " fp=0x" in blanked:
            blanked = _REGISTERS.sub(_BLANK_REGISTERS, blanked)
        chunks = blanked.split("\n\n")
        last = chunks.pop()  # what follows the last blank-line pair
        originals: list[str] | None = None

        machine = self.machine
        live = self.live
        append = machine.tasks.append
        seen = machine.seen
        bodies = self.bodies
        # Line numbers are counted only for the blocks read line by line.
        done_index, done_offset, done_line = 0, 0, self.next_line

        for index, chunk in enumerate(chunks):
            if chunk.startswith("goroutine "):
                nl = chunk.find("\n")
                space = chunk.find(" ", 10, nl) if nl > 0 else -1
                if space > 10:
                    rest = chunk[space:nl]
                    header = live.get(rest)
                    if header is None and rest.startswith(" gp="):
                        gp = _GP.match(rest)
                        if gp is not None:
                            rest = _BLANK_GP + rest[gp.end() :]
                            header = live.get(rest)
                    fresh = header is None
                    if fresh:
                        header = self._fast_header(rest)
                    gid_text = chunk[10:space]
                    if (
                        header is not None
                        and len(gid_text) <= _MAX_DIGITS
                        and gid_text.isdigit()
                        and gid_text.isascii()
                    ):
                        gid = int(gid_text)
                        if gid and gid not in seen:
                            body = bodies.get(chunk[nl + 1 :], _UNSEEN)
                            if body is _UNSEEN:
                                body = self._body(chunk[nl + 1 :])
                            if body is not None:
                                seen.add(gid)
                                frames, created_by, creator_id, flags = body
                                state, wait, header_flags, labels = header
                                if fresh:
                                    self._use_header(rest, header)
                                append(
                                    make_task(
                                        (
                                            GOROUTINE,
                                            frames,
                                            gid,
                                            "",
                                            state,
                                            wait,
                                            created_by,
                                            creator_id,
                                            labels,
                                            header_flags + flags if flags else header_flags,
                                            1,
                                            (),
                                        )
                                    )
                                )
                                continue
            # Line by line, as it is, with its line numbers.
            if originals is None:
                originals = text.split("\n\n")
            offset = (
                done_offset + sum(map(len, chunks[done_index:index])) + 2 * (index - done_index)
            )
            line_no = done_line + blanked.count("\n", done_offset, offset)
            done_index, done_offset, done_line = index, offset, line_no
            machine.feed([*originals[index].split("\n"), ""], line_no, "")

        # What follows the last blank-line pair: whole lines, except the final window's last.
        offset = done_offset + sum(map(len, chunks[done_index:])) + 2 * (len(chunks) - done_index)
        line_no = done_line + blanked.count("\n", done_offset, offset)
        # (``last`` has as many lines as the same stretch of ``text``.)
        rest_lines = text.rsplit("\n", last.count("\n") + 1)[1:] if chunks else text.split("\n")
        tail = rest_lines.pop()
        machine.feed(rest_lines, line_no, tail)
        self.next_line = line_no + len(rest_lines)
        if final:
            self.tail = tail

    # -- Both cores: a worker process scans some windows, this process applies what it found.

    def scan(self, raw: bytes) -> _Scan:
        """What :meth:`window` would do with a (non-final) window, as plain data for another
        process: the plain goroutines as columns of ids, (header, body) readings and creator
        ids; every other block as its text and line offset, for the machine to read there.

        Readings are numbered in this reader; a scan lists those it is the first to use, as
        texts the applying reader reads again into its own (shared) frames.
        """
        text = _decode(raw)
        blanked = _ARGS.sub(_BLANK_ARGS, text)
        if " fp=0x" in blanked:
            blanked = _REGISTERS.sub(_BLANK_REGISTERS, blanked)
        # Creator ids too, in one pass, kept in order (each block takes the next one its
        # blanked text has); not where the text holds what they are blanked to.
        creators: list[str] = []
        if " in goroutine " in blanked and _BLANK_CREATOR not in blanked:
            parts = _CREATOR_ID_CUT.split(blanked)
            if len(parts) > 1:
                creators = parts[1::2]
                blanked = _BLANK_CREATOR.join(parts[0::2])
        taken = 0
        chunks = blanked.split("\n\n")
        last = chunks.pop()
        originals: list[str] | None = None

        blocks = self.scanned_blocks
        seen = self.scan_seen
        gids: list[int] = []
        combos: list[int] = []
        creator_ids: list[int | None] = []
        slow: list[tuple[int, str, int]] = []
        news: _News = ([], [], [])
        done_index, done_offset, done_line = 0, 0, 0

        for index, chunk in enumerate(chunks):
            if chunk.startswith("goroutine "):
                space = chunk.find(" ", 10)
                gid_text = chunk[10:space]
                if (
                    space > 10
                    and len(gid_text) <= _MAX_DIGITS
                    and gid_text.isdigit()
                    and gid_text.isascii()
                ):
                    gid = int(gid_text)
                    if gid and gid not in seen:
                        # The block after the id: most are repeats of an earlier one.
                        found = blocks.get(chunk[space:])
                        if found is None:
                            found = self._scan_block(chunk[space:], news)
                        if found is not None:
                            seen.add(gid)
                            gids.append(gid)
                            combos.append(found[0])
                            if found[2] and creators:
                                creator_ids.append(int(creators[taken]))
                                taken += 1
                            else:
                                creator_ids.append(found[1])
                            continue
            if creators:
                taken += chunk.count(_BLANK_CREATOR)
            if originals is None:
                originals = text.split("\n\n")
            offset = (
                done_offset + sum(map(len, chunks[done_index:index])) + 2 * (index - done_index)
            )
            line_no = done_line + blanked.count("\n", done_offset, offset)
            done_index, done_offset, done_line = index, offset, line_no
            slow.append((len(gids), originals[index], line_no))

        offset = done_offset + sum(map(len, chunks[done_index:])) + 2 * (len(chunks) - done_index)
        line_no = done_line + blanked.count("\n", done_offset, offset)
        rest_lines = text.rsplit("\n", last.count("\n") + 1)[1:] if chunks else text.split("\n")
        tail = rest_lines.pop()
        return _Scan(
            len(raw),
            gids,
            combos,
            creator_ids,
            slow,
            rest_lines,
            line_no,
            tail,
            *news,
        )

    def _scan_block(self, block: str, news: _News) -> _Found | None:
        """A block after its id, read for :meth:`scan`: (reading number, creator id, whether
        its creator id was blanked), None if it must be read line by line. Numbers first given
        here are added to ``news``."""
        nl = block.find("\n")
        if nl < 0:
            return None
        rest = block[:nl]
        header_ids = self.header_ids
        hid = header_ids.get(rest)
        if hid is None and rest.startswith(" gp="):
            gp = _GP.match(rest)
            if gp is not None:
                rest = _BLANK_GP + rest[gp.end() :]
                hid = header_ids.get(rest)
        if hid is None:
            if self._fast_header(rest) is None:
                return None
            hid = header_ids[rest] = len(header_ids)
            news[0].append(rest)
        body = block[nl + 1 :]
        entry = self.exact.get(body)
        if entry is None:
            entry = self._scan_body(body, news[1])
            if entry is None:
                return None
        key, creator_id = entry
        combo = self.combo_ids.get((hid, key))
        if combo is None:
            combo = self.combo_ids[hid, key] = len(self.combo_ids)
            news[2].append((hid, key))
        # Whether the block takes the next of the window's creator ids, when they are blanked.
        found = (combo, creator_id, _BLANK_CREATOR in block)
        if len(self.scanned_blocks) < _MAX_BODIES:
            self.scanned_blocks[block] = found
        return found

    def _scan_body(self, body: str, new_keys: list[str]) -> tuple[int, int | None] | None:
        """:meth:`_body` for :meth:`scan`: (reading number, creator id), None if line by line."""
        key = _CREATOR_ID.sub(_BLANK_CREATOR, body)
        number = self.key_ids.get(key, _UNSEEN)
        if number is _UNSEEN:
            reading = self._read_body(key)
            number = None
            if reading is not None:
                number = len(self.key_creators)
                self.key_creators.append(reading[2])
                new_keys.append(key)
            self.key_ids[key] = number
        if number is None:
            return None
        creator_id = self.key_creators[number] if key == body else _creator_id(body)
        entry = (number, creator_id)
        if len(self.exact) < _MAX_BODIES:
            self.exact[body] = entry
        return entry

    def apply(self, scan: _Scan, buf: bytes | mmap.mmap, start: int, end: int) -> None:
        """Take in the window ``buf[start:end]`` as another reader (a worker's) scanned it:
        the same as :meth:`window` on it, which it falls back to when an id of the scan's plain
        goroutines was seen before or may be read again in its other blocks."""
        for rest in scan.new_headers:
            header = self._fast_header(rest)
            assert header is not None  # the scanning reader read it the same way
            self.scanned_headers.append((rest, header))
        for key in scan.new_keys:
            reading, features = self._reading(key)
            assert reading is not None
            self.scanned_keys.append((reading, features))
        headers, keys = self.scanned_headers, self.scanned_keys
        for h, k in scan.new_combos:
            state, wait, header_flags, labels = headers[h][1]
            frames, created_by, _, flags = keys[k][0]
            self.scanned_combos.append(
                (
                    frames,
                    state,
                    wait,
                    created_by,
                    labels,
                    header_flags + flags if flags else header_flags,
                )
            )
            self.combo_parts.append((h, k))

        machine = self.machine
        seen = machine.seen
        gids = scan.gids
        others = [text for _, text, _ in scan.slow]
        others.extend(scan.rest_lines)
        if not seen.isdisjoint(gids) or (
            others and not _header_ids("\n".join(others)).isdisjoint(gids)
        ):
            self.window(buf[start:end], final=False)
            return
        self.size += scan.size
        # What a combination's first goroutine adds to the snapshot's detail.
        for combo in set(scan.combos).difference(self.applied_combos):
            self.applied_combos.add(combo)
            h, k = self.combo_parts[combo]
            rest, header = headers[h]
            if rest not in self.live:
                self._use_header(rest, header)
            machine.features.update(keys[k][1])
        seen.update(gids)
        first_line = self.next_line
        done = 0
        for before, text, line_no in scan.slow:
            if before > done:
                self._extend(
                    gids[done:before], scan.combos[done:before], scan.creator_ids[done:before]
                )
                done = before
            machine.feed([*text.split("\n"), ""], first_line + line_no, "")
        if len(gids) > done:
            self._extend(gids[done:], scan.combos[done:], scan.creator_ids[done:])
        machine.feed(scan.rest_lines, first_line + scan.rest_line, scan.tail)
        self.next_line = first_line + scan.rest_line + len(scan.rest_lines)

    def _extend(self, gids: list[int], combos: list[int], creator_ids: list[int | None]) -> None:
        frames, states, waits, created_by, labels, flags = zip(
            *map(self.scanned_combos.__getitem__, combos), strict=True
        )
        self.machine.tasks.extend(
            map(
                make_task,
                zip(
                    repeat(GOROUTINE),
                    frames,
                    gids,
                    repeat(""),
                    states,
                    waits,
                    created_by,
                    creator_ids,
                    labels,
                    flags,
                    repeat(1),
                    repeat(()),
                ),
            )
        )

    def end(self) -> Snapshot:
        return self.machine.end(self.tail, self.next_line - 1, self.size)


# A last line that cannot have lost anything: a file line ending in its pc offset, a header.
_WHOLE_TAIL = re.compile(
    rb"(?:[\t ][^\n]*:[0-9]+ \+0x[0-9a-f]+|goroutine [0-9]+ [^\n]*\]:"
    rb"|\.\.\.additional frames elided\.\.\.)[ \t\r]*$"
)


def is_header(line: str) -> bool:
    """Whether the reader takes ``line`` as a goroutine header."""
    return _SNIFF.match(line.encode("utf-8", errors="replace")) is not None


def _creator_id(body: str) -> int | None:
    """The creator id of a plain body, whose ``created by`` line is its last but one."""
    end = body.rfind("\n")
    line = body[body.rfind("\n", 0, end) + 1 : end]
    return _small_int(line[line.find(" in goroutine ") + len(" in goroutine ") :])


def _boundary(buf: bytes | bytearray | mmap.mmap, start: int, end: int) -> int:
    """The position just after the last blank line (LF or CRLF) in ``buf[start:end]``, or -1."""
    lf = buf.rfind(b"\n\n", start, end)
    # Only a CRLF blank line after the last LF one can end later (and searching the whole
    # window for one that is not there would read all of it).
    crlf = buf.rfind(b"\n\r\n", max(start, lf), end)
    return max(lf + 2 if lf >= 0 else -1, crlf + 3 if crlf >= 0 else -1)


def _cuts(buf: bytes | mmap.mmap) -> Iterator[int]:
    """Where each window but the last ends: after a blank line, about ``WINDOW`` bytes on."""
    size = len(buf)
    start = 0
    while size - start > WINDOW:
        cut = _boundary(buf, start, start + WINDOW)
        if cut < 0:  # one block longer than a window: take it whole
            lf = buf.find(b"\n\n", start + WINDOW)
            crlf = buf.find(b"\n\r\n", start + WINDOW)
            ends = [p + 2 for p in (lf,) if p >= 0] + [p + 3 for p in (crlf,) if p >= 0]
            if not ends:
                return
            cut = min(ends)
        yield cut
        start = cut


def _release(buf: bytes | mmap.mmap, start: int, end: int) -> None:
    """Unmap the whole pages of ``buf[start:end]``, read and done with (a window, or what a
    worker passed over since its last release; ``start`` where the last release ended)."""
    if isinstance(buf, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        # Read pages of the file are left to the page cache: they do not count against
        # this process, whose memory then holds the tasks and a window, not the file.
        # Only the new pages: the kernel walks every page table of the range it is given.
        first = start - start % mmap.PAGESIZE
        if end - first >= mmap.PAGESIZE:
            buf.madvise(mmap.MADV_DONTNEED, first, end - end % mmap.PAGESIZE - first)


# The reader with the compiled scanner: the module ``_scanned``, which sets itself here when
# the package imports it (it builds on this module, which so does not import it back).
COMPILED: Any = None

# Both cores. From this size on, a forked worker scans some of the windows (the splitting,
# blanking and body look-ups: C-speed work, but per byte) and sends each back as columns;
# this process reads the others itself and makes every task, from columns for the worker's.
# Below about 12 MB it gives the same wall time for more CPU (bench/bench_knobs.py --head).
PARALLEL_MIN = 8 << 20
# Which windows the worker scans, in a repeating pattern. Applying a scan costs this process
# about a tenth of reading the window, and the worker scans about as fast as this process
# reads: every other one.
WORKER_SHARE = (False, True)


def parse_buffer(buf: bytes | mmap.mmap, origin: str) -> Snapshot:
    """Read a dump held in memory or mapped from a file, a window at a time: the input is
    never decoded whole. Big inputs are read by two processes where the system can fork.
    With the compiled scanner (``_scanned``), one process."""
    if COMPILED is not None and COMPILED.compiled():
        return COMPILED.parse_buffer(buf, origin)  # type: ignore[no-any-return]
    reader = _FastReader(origin)
    start = 0
    if len(buf) >= PARALLEL_MIN and _can_fork():
        start = _read_parallel(buf, reader)
    else:
        for cut in _cuts(buf):
            reader.window(buf[start:cut], final=False)
            _release(buf, start, cut)
            start = cut
    reader.window(buf[start:], final=True)
    return reader.end()


def _can_fork() -> bool:
    """Whether a worker can help and be a plain fork: this process may run on two CPUs or
    more, the system has ``fork`` and it is safe there (not macOS, whose system libraries may
    not survive one), and no other thread could hold a lock the fork would inherit locked."""
    if os.environ.get("SNAPDIFF_ONE_PROCESS"):  # asked for: a busy machine, a memory limit
        return False
    if not hasattr(os, "fork") or sys.platform == "darwin" or threading.active_count() != 1:
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cpus or 1) >= 2


def _shares(buf: bytes | mmap.mmap) -> Iterator[tuple[int, bool]]:
    """Each window's cut, and whether the worker scans it. Both processes work them out as
    they go: finding every cut first would map a page around each (64 KiB with the kernel's
    fault-around), in small windows most of the file at once."""
    return zip(_cuts(buf), cycle(WORKER_SHARE))


def _read_parallel(buf: bytes | mmap.mmap, reader: _FastReader) -> int:
    """Read every window but the last, with a worker; returns where the last one starts.

    The worker is a fork of this process: it maps the same buffer, cuts the same windows and
    scans its share. Should it fail, this process reads the rest of its share itself.
    """
    pid = -1
    try:
        read_fd, write_fd = os.pipe()
    except OSError:  # out of file descriptors: one process
        read_fd = write_fd = -1
    else:
        try:
            pid = os.fork()
        except OSError:  # out of processes or memory: one process
            os.close(read_fd)
            os.close(write_fd)
    if pid == 0:  # the worker
        status = 1
        try:
            os.close(read_fd)
            with open(write_fd, "wb") as out:
                scanner = _FastReader("")
                start = released = 0
                for cut, its in _shares(buf):
                    if its:
                        pickle.dump(scanner.scan(buf[start:cut]), out, pickle.HIGHEST_PROTOCOL)
                        out.flush()
                        _release(buf, released, cut)
                        released = cut
                    start = cut
            status = 0
        finally:
            os._exit(status)  # no clean-up of the parent's state (atexit, buffers) here
    inbox = None
    if pid > 0:
        os.close(write_fd)
        inbox = open(read_fd, "rb")  # noqa: SIM115 (closed below)
    try:
        start = 0
        for cut, its in _shares(buf):
            scan: _Scan | None = None
            if its and inbox is not None:
                try:
                    scan = pickle.load(inbox)
                except Exception:  # the worker died: read the rest here
                    inbox.close()
                    inbox = None
            if scan is not None:
                reader.apply(scan, buf, start, cut)
            else:
                reader.window(buf[start:cut], final=False)
            _release(buf, start, cut)
            start = cut
        return start
    finally:
        if pid > 0:
            if inbox is not None:
                inbox.close()
            with contextlib.suppress(OSError):  # ChildProcessError: reaped already
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


def parse_stream(pieces: Iterable[bytes], origin: str) -> Snapshot:
    """Read a dump that arrives in pieces (a gzip stream decompressed as it is read)."""
    if COMPILED is not None and COMPILED.compiled():
        return COMPILED.parse_stream(pieces, origin)  # type: ignore[no-any-return]
    reader = _FastReader(origin)
    pending = bytearray()
    for piece in pieces:
        pending += piece
        # Windows of about WINDOW bytes, as from a mapped file, whatever the size of a piece.
        start = 0
        while len(pending) - start >= WINDOW:
            cut = _boundary(pending, start, start + WINDOW)
            if cut <= start:  # one block longer than a window: up to the last blank line
                cut = _boundary(pending, start, len(pending))
                if cut <= start:
                    break  # not one whole block yet
            reader.window(bytes(pending[start:cut]), final=False)
            start = cut
        del pending[:start]
    reader.window(bytes(pending), final=True)
    return reader.end()


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    return parse_buffer(data, origin)


def _detail(features: set[str]) -> str:
    notes = []
    if "in-goroutine" in features:
        notes.append("Go >= 1.21")
    if "labels" in features:
        notes.append("labels in headers")
    if "gp" in features:
        notes.append("GOTRACEBACK=system headers")
    if "ancestors" in features:
        notes.append("tracebackancestors")
    return ", ".join(notes)
