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
"""

from __future__ import annotations

import re

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
)

NAME = "go-goroutine-text"
DESCRIPTION = (
    "Go goroutine dump with full stacks: pprof goroutine?debug=2, runtime.Stack, "
    "panic and SIGQUIT output (Go 1.15-1.27)"
)

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


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    text = data.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    ends_mid_line = bool(text) and not text.endswith("\n")
    # The last element is "" after a final newline, or the line that was cut.
    tail = lines.pop()
    n_lines = len(lines)

    tasks: list[Task] = []
    warnings: list[str] = []
    seen: set[int] = set()
    duplicates = 0
    skipped = 0
    partial_notes: list[str] = []
    features: set[str] = set()
    interned: dict[tuple[str, str, int], Frame] = {}
    file_frames: dict[tuple[str, str], Frame] = {}
    headers: dict[str, _Header | None] = {}

    cur: _Builder | None = None
    in_ancestor = False
    skip_block = False  # SKIP: inside goroutine 0, a duplicate or a malformed block

    def finish() -> None:
        nonlocal cur
        if cur is not None:
            task = cur.build()
            if FLAG_PARTIAL in task.flags:
                partial_notes.append(f"line {cur.line_no}: goroutine {cur.id}")
            tasks.append(task)
            cur = None

    def header(line: str, line_no: int) -> bool:
        """Open a goroutine if ``line`` is a header; True if it was one."""
        nonlocal cur, skip_block, in_ancestor, duplicates
        space = line.find(" ", 10)
        if space < 0:
            return False
        gid = _small_int(line[10:space])
        if gid is None:
            return False
        rest = line[space:]
        if rest in headers:
            parsed = headers[rest]
        else:
            parsed = headers[rest] = _parse_header(rest)
        if parsed is None:
            return False
        finish()
        in_ancestor = False
        if gid == 0 or gid in seen:
            if gid != 0:
                duplicates += 1
            skip_block = True
            return True
        skip_block = False
        seen.add(gid)
        state, wait, flags, labels, has_gp = parsed
        if labels:
            features.add("labels")
        if has_gp:
            features.add("gp")
        cur = _Builder(gid, state, wait, list(flags), labels, line_no)
        return True

    def frame_from(func: str, line: str, cut: bool) -> Frame:
        made = _file_frame(func, line, cut)
        key = (made.function, made.file, made.line)
        frame = interned.get(key)
        if frame is None:
            frame = interned[key] = made
        return frame

    for index, line in enumerate(lines):
        if not line:
            # A blank line ends a goroutine (FUNC, FILE, ANCESTOR) or a SKIP block.
            finish()
            in_ancestor = skip_block = False
            continue
        first = line[0]
        if first == "\t" or first == " ":
            if line.isspace():
                finish()
                in_ancestor = skip_block = False
                continue
            if cur is None:
                if not skip_block:
                    skipped += 1
                continue
            pending = cur.pending
            if pending is None:
                # FUNC: an indented line with no function line before it.
                if "goroutine running on other thread" in line:
                    cur.flag(FLAG_NO_STACK)
                else:
                    skipped += 1
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
        if first == "g" and line.startswith("goroutine ") and header(line, index + 1):
            continue
        if cur is None:
            # OUTSIDE or SKIP
            if not skip_block:
                skipped += 1
            continue
        if cur.pending is not None:
            # FILE, but the function line had no file line: the block was cut there.
            cur.settle_cut()
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
            in_ancestor = True
            features.add("ancestors")
            continue
        if line.startswith("non-Go function at pc="):
            if not in_ancestor:
                cur.frames.append(_NON_GO)
            continue
        following = lines[index + 1] if index + 1 < n_lines else tail
        if _is_indented(following):
            if "pc=0x" in following and " sp=0x" not in following:
                # A cgo symbolizer's frame: its function printed as it chose, then
                # "\tfile:line pc=0x..".
                cur.pending = (line.strip(), _DROP if in_ancestor else _FRAME)
                continue
            warnings.append(
                f"{origin}:{index + 1}: not a stack frame, goroutine {cur.id} kept "
                f"with the frames before it: {line[:80]!r}"
            )
            cur.flag(FLAG_PARTIAL)
            finish()
            skip_block = True
            continue
        # The block ended without a blank line: "exit status 2" after a panic, a log line.
        # Nothing says it is whole: judge it as if the input ended here.
        if (not cur.frames and FLAG_NO_STACK not in cur.flags) or _missing_end(cur):
            cur.flag(FLAG_PARTIAL)
        finish()
        in_ancestor = False
        skipped += 1

    truncated = False
    if len(data) == PPROF_HTTP_LIMIT:
        truncated = True
        warnings.append(
            f"{origin}: exactly 64 MiB: net/http/pprof cuts debug=2 output there without a "
            "marker; the goroutines after the cut are missing"
        )
    if ends_mid_line:
        # The line that was cut: trust only what it cannot have lost.
        truncated = True
        tail_no = n_lines + 1
        if tail.startswith("goroutine ") and header(tail, tail_no):
            pass  # cut just before the newline of a header: no frames, flagged below
        elif cur is not None and not skip_block and _is_indented(tail) and cur.pending:
            func, kind = cur.pending
            cur.pending = None
            if kind == _FRAME:
                cur.frames.append(frame_from(func, tail, True))
            elif kind == _CREATOR:
                cur.created_by = frame_from(func, tail, True)
        elif cur is None and not skip_block and tail.strip():
            skipped += 1
        if cur is not None:
            cur.flag(FLAG_PARTIAL)
        warnings.append(f"{origin}:{tail_no}: the input ends in the middle of a line")
    elif cur is not None:
        # The last goroutine was not closed by a blank line (normal for debug=2): was the
        # input cut exactly at a line end?
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
    finish()

    if partial_notes:
        if tasks and FLAG_PARTIAL in tasks[-1].flags:
            truncated = True
        shown = ", ".join(partial_notes[:3]) + (" ..." if len(partial_notes) > 3 else "")
        warnings.append(
            f"{origin}: {len(partial_notes)} goroutine block(s) cut short ({shown}); "
            "kept with the frames that were there"
        )
    if duplicates:
        warnings.append(
            f"{origin}: {duplicates} goroutine id(s) appear more than once (several dumps in one "
            "file?); kept the first of each"
        )
    return Snapshot(
        source=SourceInfo(format=NAME, origin=origin, producer="go", detail=_detail(features)),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        skipped_lines=skipped,
    )


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
