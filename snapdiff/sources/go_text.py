"""Go goroutine dumps with full stacks.

Covers ``/debug/pprof/goroutine?debug=2``, ``runtime.Stack(buf, true)``, panic output
(GOTRACEBACK=all/system/crash), SIGQUIT dumps and the ``goroutineleak`` profile, Go 1.15 to 1.27.

The reader is a line state machine (innermost frame first, as the runtime prints):

OUTSIDE   waits for a header; anything else is a skipped line (log lines, a SIGQUIT preamble,
          ``PC=... m=0 sigcode=0``, a register dump, ``exit status 2``).
          ``goroutine 18 [chan send, 2 minutes, locked to thread]:``
          ``goroutine 7 gp=0xc000007a40 m=nil [select (leaked)]:``      (GOTRACEBACK>=system, 1.23+)
          ``goroutine 9 [select] {handler: /api/v1/items, tenant: acme}:``   (tracebacklabels=1)
          -> FUNC
FUNC      a function line ``net/http.(*Server).Serve(0xc00008c000, {0x738a20, ...})`` -> FILE;
          ``created by main.start in goroutine 1`` (1.21+; older without ``in goroutine``) -> FILE;
          ``...additional frames elided...`` (before 1.23) / ``...4 frames elided...`` (1.23+);
          ``[originating from goroutine 24]:`` (GODEBUG=tracebackancestors) -> ANCESTOR;
          a blank line ends the goroutine -> OUTSIDE.
FILE      ``\t/usr/lib/go/src/net/http/server.go:3056 +0x364`` (tabs may have become spaces;
          ``fp=.. sp=.. pc=..`` may follow under GOTRACEBACK=crash) -> FUNC.
          ``\tgoroutine running on other thread; stack unavailable`` (SIGQUIT) -> FUNC.
ANCESTOR  frames of a goroutine that created this one; read and dropped (they are not where
          this goroutine is), until a blank line.

Quirks kept: a goroutine whose block is cut (a function line without its file line, a
``created by`` without its file line, the end of the input mid-line) is kept and flagged
partial; ``debug=2`` over HTTP is silently cut at exactly 64 MiB; goroutine 0 (an M's g0 in a
SIGQUIT dump) is not a goroutine and is skipped.
"""

from __future__ import annotations

import ast
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

_HEADER = re.compile(
    r"goroutine (\d+)(?: gp=\S+ m=\S+(?: mp=\S+)?)? \[([^\]]*)\](?: \{(.*)\})?:[ \t]*$"
)
_SNIFF = re.compile(rb"^goroutine \d+ (?:gp=\S+ m=\S+(?: mp=\S+)? )?\[[^\]\n]*\]", re.M)
_FILE = re.compile(r"[ \t]+(.*?):(\d+)(?:[ \t]|$)")
_ELIDED = re.compile(r"\.\.\.(?:additional|\d+) frames elided\.\.\.$")
_ORIGIN = re.compile(r"\[originating from goroutine (\d+)\]:$")
_FRAME, _CREATOR, _DROP = 0, 1, 2

_LABEL_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^:,]+')


def sniff(head: bytes) -> bool:
    return _SNIFF.search(head) is not None


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

    def settle_cut(self) -> None:
        """The pending line never got its file line: keep the function, flag the cut."""
        assert self.pending is not None
        func, kind = self.pending
        self.pending = None
        if kind == _CREATOR:
            self.created_by = Frame(func)
        elif kind == _FRAME:
            self.frames.append(Frame(func))
        if FLAG_PARTIAL not in self.flags:
            self.flags.append(FLAG_PARTIAL)

    def build(self) -> Task:
        if self.pending is not None:
            self.settle_cut()
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
    for suffix, flag in ((" (scan)", FLAG_SCAN), (" (leaked)", FLAG_LEAKED)):
        if suffix in status:
            status = status.replace(suffix, "")
            flags.append(flag)
    if status.endswith(" (durable)"):
        status = status[: -len(" (durable)")]
        flags.append(FLAG_DURABLE)
    wait: int | None = None
    for part in parts[1:]:
        if part.endswith(" minutes"):
            number = part[: -len(" minutes")]
            if number.isdigit():
                wait = int(number)
                continue
        if part == "locked to thread":
            flags.append(FLAG_LOCKED)
        elif part.startswith("synctest bubble "):
            flags.append("synctest-bubble-" + part[len("synctest bubble ") :])
        elif part:
            flags.append(part)
    return status, wait, flags


def _unquote(token: str) -> str:
    token = token.strip()
    if len(token) >= 2 and token[0] == '"' and token[-1] == '"':
        try:
            value = ast.literal_eval(token)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return token[1:-1]
        return value if isinstance(value, str) else token[1:-1]
    return token


def parse_labels(text: str) -> tuple[tuple[str, str], ...]:
    """``handler: /api/v1/items, tenant: acme`` (keys and values quoted Go-style when needed)."""
    tokens = [(m.group(0), m.start()) for m in _LABEL_TOKEN.finditer(text)]
    labels: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        key = tokens[i][0]
        if i + 1 < len(tokens):
            value = tokens[i + 1][0]
            labels.append((_unquote(key), _unquote(value)))
            i += 2
        else:
            labels.append((_unquote(key), ""))
            i += 1
    return tuple((k, v) for k, v in labels if k or v)


def _function_name(line: str) -> str | None:
    """The function of a frame line, without its arguments; None if the line is not one."""
    if not line.endswith(")"):
        return None
    cut = line.rfind("(")
    if cut <= 0:
        return None
    return line[:cut]


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    ends_mid_line = bool(text) and not text.endswith("\n")
    if not ends_mid_line and lines and lines[-1] == "":
        lines.pop()

    tasks: list[Task] = []
    warnings: list[str] = []
    seen: set[int] = set()
    duplicates = 0
    skipped = 0
    partial_notes: list[str] = []
    features: set[str] = set()
    interned: dict[tuple[str, str, int], Frame] = {}

    cur: _Builder | None = None
    in_ancestor = False
    skip_block = False  # inside goroutine 0 or a duplicate

    def finish() -> None:
        nonlocal cur
        if cur is not None:
            task = cur.build()
            if FLAG_PARTIAL in task.flags:
                partial_notes.append(f"line {cur.line_no}: goroutine {cur.id}")
            tasks.append(task)
            cur = None

    for index, raw in enumerate(lines):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith("goroutine "):
            m = _HEADER.match(line)
            if m is not None:
                finish()
                in_ancestor = False
                gid = int(m.group(1))
                if gid == 0 or gid in seen:
                    if gid != 0:
                        duplicates += 1
                    skip_block = True
                    continue
                skip_block = False
                seen.add(gid)
                state, wait, flags = parse_state(m.group(2))
                labels = parse_labels(m.group(3)) if m.group(3) else ()
                if labels:
                    features.add("labels")
                if " gp=" in line:
                    features.add("gp")
                cur = _Builder(gid, state, wait, flags, labels, index + 1)
                continue
        if skip_block:
            if not line.strip():
                skip_block = False
            continue
        if cur is None:
            if line.strip():
                skipped += 1
            continue
        if not line.strip():
            finish()
            in_ancestor = False
            continue
        first = line[0]
        if first == " " or first == "\t":
            # A file line, or the runtime saying it has no stack.
            if "goroutine running on other thread" in line:
                if FLAG_NO_STACK not in cur.flags:
                    cur.flags.append(FLAG_NO_STACK)
                continue
            if cur.pending is None:
                skipped += 1
                continue
            func, kind = cur.pending
            cur.pending = None
            if kind == _DROP:
                continue
            fm = _FILE.match(line)
            if fm is None:
                path, lineno = line.strip(), 0
            else:
                path, lineno = fm.group(1), int(fm.group(2))
            key = (func, path, lineno)
            frame = interned.get(key)
            if frame is None:
                frame = interned[key] = Frame(func, path, lineno)
            if kind == _CREATOR:
                cur.created_by = frame
            else:
                cur.frames.append(frame)
            continue
        if cur.pending is not None:
            # The previous function line had no file line: the block was cut there.
            cur.settle_cut()
        if line.startswith("created by "):
            rest = line[len("created by ") :]
            cut = rest.find(" in goroutine ")
            creator_id: int | None = None
            if cut >= 0:
                features.add("in-goroutine")
                creator = rest[cut + len(" in goroutine ") :]
                creator_id = int(creator) if creator.isdigit() else None
                rest = rest[:cut]
            if in_ancestor or cur.created_by is not None:
                cur.pending = (rest, _DROP)  # an ancestor's creator: consume its file line
            else:
                cur.creator_id = creator_id
                cur.pending = (rest, _CREATOR)
            continue
        if line.startswith("...") and _ELIDED.match(line):
            if FLAG_ELIDED not in cur.flags:
                cur.flags.append(FLAG_ELIDED)
            features.add("elided")
            continue
        if line.startswith("[originating from goroutine") and _ORIGIN.match(line):
            in_ancestor = True
            features.add("ancestors")
            continue
        name = _function_name(line)
        if name is None:
            if index == len(lines) - 1 and ends_mid_line:
                # The last line, cut in the middle of a function line.
                if FLAG_PARTIAL not in cur.flags:
                    cur.flags.append(FLAG_PARTIAL)
                continue
            warnings.append(
                f"{origin}:{index + 1}: not a stack frame, goroutine {cur.id} kept "
                f"with the frames before it: {line[:80]!r}"
            )
            if FLAG_PARTIAL not in cur.flags:
                cur.flags.append(FLAG_PARTIAL)
            finish()
            skip_block = True
            continue
        cur.pending = (name, _DROP if in_ancestor else _FRAME)
    finish()

    truncated = False
    if len(data) == PPROF_HTTP_LIMIT:
        truncated = True
        warnings.append(
            f"{origin}: exactly 64 MiB: net/http/pprof cuts debug=2 output there without a "
            "marker; the goroutines after the cut are missing"
        )
    if ends_mid_line:
        truncated = True
        warnings.append(f"{origin}:{len(lines)}: the input ends in the middle of a line")
    if partial_notes:
        last_cut = tasks and FLAG_PARTIAL in tasks[-1].flags
        if last_cut:
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
