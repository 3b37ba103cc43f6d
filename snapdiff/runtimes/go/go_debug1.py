"""Go aggregated goroutine profiles: ``/debug/pprof/goroutine?debug=1``.

Printed by ``printCountProfile`` and ``printStackRecord`` in ``runtime/pprof/pprof.go``::

    goroutine profile: total 10                      (``goroutineleak profile:`` on Go 1.26+)
    2 @ 0x103b125 0x106cd1f 0x13ac44a 0x106fd81      N goroutines share this stack
    # labels: {"test_label":"test_value"}           optional; keys and values quoted by %q
    #	0x106cd1e	time.Sleep+0xbe	/usr/local/go/src/runtime/time.go:188
    #	0x13ac449	main.shortSleepLoop+0x29	/src/main.go:165
    #	0x1069e1d                                    a PC with no symbol: the PC is the name
    (blank line)                                     ends every record, the last one too

A line state machine: HEAD until the ``profile: total`` line; BETWEEN, where a record line
``N @ 0x...`` -> RECORD; RECORD takes the ``# labels:`` line and the frame lines until a blank
line -> BETWEEN. Lines that fit nowhere are counted as skipped (CRLF and tabs turned into spaces
are read as well). A cut is seen as a last line without its newline, a last record not closed
by its blank line, or records that do not add up to the declared total; the snapshot is then
marked truncated.

No goroutine ids, states or creation sites: tasks group by entry function or whole stack, and
survivors cannot be told. One record becomes one :class:`Task` with ``count = N``.
"""

from __future__ import annotations

import re

from snapdiff.model import FLAG_LEAKED, FLAG_PARTIAL, GOROUTINE, Frame, Snapshot, SourceInfo, Task
from snapdiff.runtimes._lines import starts_by
from snapdiff.runtimes.go.go_text import go_unquote

NAME = "go-goroutine-debug1"
DESCRIPTION = "Go aggregated goroutine profile: pprof goroutine?debug=1 (counts per stack, no ids)"

DUMPS_NOUN = "goroutine profiles"
dump_starts = starts_by(re.compile(r"(?:goroutine|goroutineleak) profile: total "))

_SNIFF = re.compile(rb"^(?:goroutine|goroutineleak) profile: total [0-9]{1,20}[ \t\r]*$", re.M)
_TOTAL = re.compile(r"(\w+) profile: total ([0-9]{1,20})[ \t]*$")
_RECORD = re.compile(r"([0-9]{1,20}) @(?: 0x[0-9a-fA-F]+)*[ \t]*$")
# A frame line, "#\t0xPC\tFUNCTION+0xOFFSET\tFILE:LINE" (or only "#\t0xPC"), is cut in steps
# (:func:`_frame`): as one pattern, '([^\t]*?)\+0x.. [ \t]+([^\t]*):([0-9]+)' backtracked over
# every "+0x1 " of a long line without a final ":LINE": quadratic time.
_PC = re.compile(r"#[ \t]+(0x[0-9a-fA-F]+)")
_OFFSET = re.compile(r"\+0x[0-9a-fA-F]+[ \t]+")
_LABEL_PAIR = re.compile(r'("(?:[^"\\]|\\.)*")[ \t]*:[ \t]*("(?:[^"\\]|\\.)*")')


def sniff(head: bytes) -> bool:
    return _SNIFF.search(head) is not None


_WHOLE_LAST = re.compile(r"\n#\t0x[0-9a-f]+\t[^\n]*:[0-9]+[ \t\r]*\Z")


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    text = data.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    closed = bool(text) and not text.endswith("\n") and _WHOLE_LAST.search(text) is not None
    if closed:
        # No final newline (nor the blank line that closes a record), but the last line is a
        # whole frame line: saved and pasted profiles often end so. The declared total still
        # tells a cut at a record's end.
        text += "\n\n"
    lines = text.split("\n")
    ends_mid_line = bool(text) and not text.endswith("\n")
    lines.pop()  # "" after the final newline, or the line that was cut (never trusted)
    warnings: list[str] = []
    tasks: list[Task] = []
    profile = "goroutine"
    declared: int | None = None
    skipped = 0
    interned: dict[tuple[str, str, int], Frame] = {}

    count = 0
    frames: list[Frame] = []
    labels: tuple[tuple[str, str], ...] = ()
    in_record = False

    def finish(*flags: str) -> None:
        nonlocal in_record, frames, labels
        if in_record:
            if profile == "goroutineleak":
                flags = (FLAG_LEAKED, *flags)
            tasks.append(
                Task(kind=GOROUTINE, frames=tuple(frames), count=count, labels=labels, flags=flags)
            )
        in_record = False
        frames = []
        labels = ()

    for line in lines:
        if not line or line.isspace():
            finish()
            continue
        first = line[0]
        if first == "#":
            if in_record:
                if line.startswith("# labels: "):
                    labels = _labels(line[len("# labels: ") :].strip())
                    continue
                key = _frame(line)
                if key is not None:
                    frame = interned.get(key)
                    if frame is None:
                        frame = interned[key] = Frame(*key)
                    frames.append(frame)
                    continue
            skipped += 1
            continue
        rm = _RECORD.match(line)
        if rm is not None:
            finish()
            in_record = True
            count = int(rm.group(1))
            continue
        if declared is None and " profile: total " in line:
            tm = _TOTAL.match(line)
            if tm is not None:
                profile = tm.group(1)
                declared = int(tm.group(2))
                continue
        skipped += 1

    truncated = False
    if ends_mid_line or in_record:
        truncated = True
        finish(FLAG_PARTIAL)
        if ends_mid_line:
            warnings.append(f"{origin}:{len(lines) + 1}: the input ends in the middle of a line")
        else:
            warnings.append(
                f"{origin}:{len(lines)}: the last record is not closed by its blank line: "
                "the input may have been cut"
            )
    total = sum(t.count for t in tasks)
    if declared is not None and total != declared:
        if total < declared:
            truncated = True
            if closed and tasks and FLAG_PARTIAL not in tasks[-1].flags:
                # The record closed above was cut after all: its stack may lack frames.
                tasks[-1] = tasks[-1]._replace(flags=(*tasks[-1].flags, FLAG_PARTIAL))
        warnings.append(
            f"{origin}: the profile says total {declared} but its records add up to {total}"
            + (" (cut short?)" if total < declared else "")
        )
    warnings.append(
        f"{origin}: debug=1 profiles have no goroutine ids, states or creation sites: grouped "
        "by entry function, survivors unknown"
    )
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer="go",
            detail=f"{profile} profile, aggregated",
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        skipped_lines=skipped,
    )


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    """``{"handler":"/api/v1/items", "tenant":"acme"}``: Go %q strings, so not always JSON."""
    if text == "{}":
        return ()
    pairs = tuple(
        (go_unquote(m.group(1)), go_unquote(m.group(2))) for m in _LABEL_PAIR.finditer(text)
    )
    return pairs or (("", text),)


def _frame(line: str) -> tuple[str, str, int] | None:
    """(function, file, line) of a frame line; (pc, "", 0) when it names no function."""
    m = _PC.match(line)
    if m is None:
        return None
    pc, rest = m.group(1), line[m.end() :].rstrip(" \t")
    if not rest:
        return pc, "", 0
    if rest[0] not in " \t":
        return None
    body = rest.lstrip(" \t")
    where, colon, number = body.rpartition(":")
    if not colon or not 0 < len(number) <= 20 or not (number.isascii() and number.isdigit()):
        return None
    for off in _OFFSET.finditer(where):
        func, file = where[: off.start()], where[off.end() :]
        if "\t" in func:
            return None
        if "\t" not in file:
            return (func, file, int(number)) if func else (pc, "", 0)
    return None
