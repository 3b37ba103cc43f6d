"""What surrounds a dump as people save and paste it, taken off before a reader sees it.

A dump rarely arrives as the runtime wrote it. It comes with the HTTP status line and headers of
``curl -i``; inside a terminal transcript (shell prompts and commands before and after it);
with a log prefix on every line (a timestamp from ``kubectl logs --timestamps`` or ``docker logs
-t``, the ``<time> stdout F`` of a container runtime's log file, ``[pod/name/container]`` from
``kubectl logs --prefix``, a syslog or journald prefix, a ``> `` quote); between Markdown code
fences from a ticket; with CRLF line ends; as UTF-16 (a Windows ``>`` redirect), with or without
a byte order mark. :func:`unwrap` takes all of that off and says what it took, **keeping every
line where it was**: a line it drops becomes an empty line and a prefix it strips leaves the
rest of the line, so a reader's ``file:line`` in a warning or error is still the line of the
file the user has.

Nothing is done (and nothing copied) when the first bytes show none of it: a multi-gigabyte Go
dump straight from ``debug=2`` goes to its reader as it is.

Several dumps in one input (``py-spy dump`` over several processes, ``kill -3`` twice, two
SIGQUIT dumps in one stderr) are found by each reader's ``dump_starts``, from the lines that
begin a dump; :mod:`snapdiff.inputs` reads each as its own snapshot where the command takes
several, or the one asked for, and says so. :func:`account` counts the lines that look like a
task header (each reader's ``loose_header``), so a reader that read fewer tasks than the input
seems to hold can say which lines it did not understand. Nothing here names a format: what
differs between formats is asked of the reader (:class:`snapdiff.runtime.Reader`).
"""

from __future__ import annotations

import codecs
import mmap
import re
from dataclasses import dataclass
from typing import Any

from snapdiff.runtime import Reader

# A file larger than this is never rewritten here (a copy would double its memory): the
# wrappings are those of pasted and saved dumps, which are small.
MAX_UNWRAP = 256 * 1024 * 1024
_HEAD = 256 * 1024  # how much of the start is looked at to decide


@dataclass(frozen=True, slots=True)
class Unwrapped:
    data: bytes
    notes: tuple[str, ...]  # what was taken off, for the snapshot's detail line


# --- line prefixes --------------------------------------------------------------------------
# Each: a name (said in the detail line) and a pattern for the prefix of one line. The prefix
# and exactly one separating space go; the dump's own indentation (tabs, spaces) stays.
_TS = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?"
# containerd / CRI-O log files: "<RFC 3339 time> stdout F <line>"; P marks a partial line, whose
# rest is on the next line of the same stream.
_CRI = re.compile(rf"^{_TS} (stdout|stderr) ([FP])(?: |$)")
_PREFIXES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("container runtime log prefix", _CRI),
    # kubectl logs --prefix
    ("kubectl --prefix", re.compile(r"^\[pod/[^\]\s]+/[^\]\s]+\] ?")),
    # kubectl logs --timestamps, docker logs -t, most loggers: a timestamp first
    ("timestamp prefix", re.compile(rf"^\[?{_TS}\]?(?: |$)")),
    # syslog and journalctl: "Mar  3 10:00:00 host app[123]: "
    (
        "syslog prefix",
        re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [^\s:\[]+(?:\[\d+\])?: ?"),
    ),
    # a quoted reply (mail, Markdown)
    ("quote prefix", re.compile(r"^> ?")),
    # a dump kept in a comment of a script or a config file
    ("comment prefix", re.compile(r"^[ \t]*#(?: |$)")),
)
_PREFIX_SHARE = 0.8  # of the non-blank lines of the start that must carry the same prefix
# A "# " prefix must be on every line: most lines of a Go debug=1 profile start with "#" (its
# frames and labels), and with its tabs turned to spaces they read as "# ..." too.
_ALL_LINES = frozenset({"comment prefix"})
_PREFIX_LINES = 400  # lines of the start looked at

# --- shell prompts --------------------------------------------------------------------------
_PROMPT = re.compile(
    r"^(?:"
    r"(?:\([^\n]*\) +)?"  # a virtualenv or conda prefix: (venv) user@host:~$
    r"\[?[\w.-]+@[\w.-]+(?:[: ][^\s$#%>]*)?\]?[$#%] ?"  # user@host:~$ cmd, [user@host dir]$ cmd
    r"|[$❯➜➤%] \S|[❯➜➤]\s*$"  # $ cmd, the ❯, ➜ and ➤ of zsh themes
    r"|PS [A-Za-z]:\\[^>]*> ?"  # PowerShell
    r"|[A-Za-z]:\\[^>\"]*>\S"  # cmd.exe: C:\work>jstack 123
    r").*$"
)
_FENCE = re.compile(r"^([ \t]*)(?:`{3,}|~{3,})[\w+-]*[ \t]*$")
_HTTP_STATUS = re.compile(r"^HTTP/\d(?:\.\d)? \d{3}\b")
_HTTP_HEADER = re.compile(r"^[A-Za-z0-9-]+: ")
_CURL_VERBOSE = re.compile(r"^(?:[<>*] |[<>*]$|\{ \[|\} \[)")


def _decode_utf16(buf: bytes) -> tuple[str, str] | None:
    """The text of UTF-16 input (with a byte order mark, or plain ASCII as UTF-16 without)."""
    if buf[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return buf.decode("utf-16", errors="replace"), "UTF-16 with a byte order mark"
    sample = buf[:512]
    if len(sample) >= 16:
        evens, odds = sample[0::2], sample[1::2]
        if odds.count(0) > 0.9 * len(odds) and evens.count(0) < 0.1 * len(evens):
            return buf.decode("utf-16-le", errors="replace"), "UTF-16 (little-endian)"
        if evens.count(0) > 0.9 * len(evens) and odds.count(0) < 0.1 * len(odds):
            return buf.decode("utf-16-be", errors="replace"), "UTF-16 (big-endian)"
    return None


def wrapped(head: bytes) -> bool:
    """Whether the start of the input shows any wrapping (the cheap test: no copy)."""
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or head[:3] == codecs.BOM_UTF8:
        return True
    if b"\x00" in head[:512]:
        # UTF-16 without a byte order mark; any other NUL is binary data (a protobuf
        # profile), which is never rewritten.
        return _decode_utf16(bytes(head[:512])) is not None
    if b"\r\n" in head or b"```" in head or b"~~~" in head:
        return True
    text = head.decode("utf-8", errors="replace")
    lines = [ln for ln in text.split("\n", _PREFIX_LINES)[:_PREFIX_LINES] if ln.strip()]
    if not lines:
        return False
    if _HTTP_STATUS.match(lines[0]) or _CURL_VERBOSE.match(lines[0]):
        return True
    if any(_PROMPT.match(ln) for ln in lines[:5] + lines[-3:]):
        return True
    if all(ln[0] in " \t" for ln in lines):
        return True  # indented as a block (reStructuredText, a Markdown list, an e-mail)
    return _prefix(lines) is not None


def _prefix(lines: list[str]) -> tuple[str, re.Pattern[str]] | None:
    sample = [ln for ln in lines[:_PREFIX_LINES] if ln.strip()]
    if len(sample) < 3:
        return None
    for name, pattern in _PREFIXES:
        hits = sum(1 for ln in sample if pattern.match(ln))
        if hits >= (len(sample) if name in _ALL_LINES else _PREFIX_SHARE * len(sample)):
            return name, pattern
    return None


def unwrap(buf: Any, size: int) -> Unwrapped | None:
    """The input with its wrapping taken off, or None when there is none (the usual case).

    ``buf`` is bytes or a mapped file (anything sliceable into bytes); ``size`` its length.
    """
    if size > MAX_UNWRAP:
        return None
    head: bytes = buf[:_HEAD]
    if not wrapped(head):
        return None
    raw: bytes = buf[:]
    notes: list[str] = []
    decoded = _decode_utf16(raw)
    if decoded is not None:
        text, note = decoded
        notes.append(note)
    else:
        text = raw.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
        notes.append("CRLF line ends")
    lines = text.split("\n")

    # Prefixes first: a prompt or a fence may itself carry the log prefix. Two may be stacked
    # (kubectl --prefix and --timestamps).
    for _ in range(3):
        found = _prefix(lines)
        if found is None:
            break
        name, pattern = found
        if pattern is _CRI:
            lines = _join_cri(lines)
        else:
            lines = [pattern.sub("", ln, count=1) for ln in lines]
        notes.append(f"a {name} on every line")

    _blank_http(lines, notes)
    _blank_fences(lines, notes)
    _dedent(lines, notes)
    prompts = 0
    for i, ln in enumerate(lines):
        if ln and _PROMPT.match(ln):
            lines[i] = ""
            prompts += 1
    if prompts:
        notes.append(f"{prompts} shell prompt line{'s' if prompts > 1 else ''}")
    out = "\n".join(lines).encode("utf-8")
    if not notes and out == raw:
        return None
    return Unwrapped(out, tuple(notes))


def _join_cri(lines: list[str]) -> list[str]:
    """Container runtime log lines without their prefix, of the stream that holds most lines; a
    partial line (``P``) joined with its rest (the next line of its stream), which leaves an
    empty line in its place."""
    out = list(lines)
    open_at: dict[str, int] = {}  # stream -> index of its line still open (P)
    # A dump goes to one stream (stderr for Go, stdout for kill -3): the other stream's lines,
    # written meanwhile, would fall inside its blocks. They are left out.
    streams = [m.group(1) for m in map(_CRI.match, lines) if m is not None]
    main = max(set(streams), key=streams.count) if streams else ""
    for i, ln in enumerate(lines):
        m = _CRI.match(ln)
        if m is None:
            continue
        stream, tag, body = m.group(1), m.group(2), ln[m.end() :]
        if stream != main:
            out[i] = ""
            continue
        j = open_at.pop(stream, None)
        if j is None:
            out[i] = body
        else:
            out[j] += body
            out[i] = ""
        if tag == "P":
            open_at[stream] = i if j is None else j
    return out


def _blank_http(lines: list[str], notes: list[str]) -> None:
    """``curl -i``: a status line and headers up to the blank line, wherever a response starts
    (several requests in one file); ``curl -v`` lines (``> GET``, ``< HTTP``, ``* ``) at the
    start."""
    i = 0
    while i < len(lines) and (not lines[i].strip() or _CURL_VERBOSE.match(lines[i])):
        if lines[i].strip():
            lines[i] = ""
            if "curl -v" not in "".join(notes):
                notes.append("curl -v lines")
        i += 1
    responses = 0
    i = 0
    while i < len(lines):
        if _HTTP_STATUS.match(lines[i]):
            responses += 1
            lines[i] = ""
            i += 1
            while i < len(lines) and _HTTP_HEADER.match(lines[i]):
                lines[i] = ""
                i += 1
            continue
        i += 1
    if responses:
        notes.append(f"HTTP status line and headers ({responses} response{'s' * (responses > 1)})")


def _dedent(lines: list[str], notes: list[str]) -> None:
    """An indent that every non-blank line has (a block in reStructuredText, a list item): every
    format has lines at the start of the line (a header), so it is not the dump's own."""
    body = [ln for ln in lines if ln.strip()]
    if not body or body[0][0] not in " \t":
        return
    indent = body[0][: len(body[0]) - len(body[0].lstrip())]
    for ln in body:
        while not ln.startswith(indent):
            indent = indent[:-1]
        if not indent:
            return
    lines[:] = [ln[len(indent) :] if ln.strip() else "" for ln in lines]
    notes.append("an indent on every line")


def _blank_fences(lines: list[str], notes: list[str]) -> None:
    """Markdown code fences: the fence lines go, and the fence's own indentation (a fence in a
    list item) is taken off the lines inside."""
    fences = 0
    indent: str | None = None
    for i, ln in enumerate(lines):
        m = _FENCE.match(ln)
        if m:
            lines[i] = ""
            fences += 1
            indent = m.group(1) if indent is None else None
            continue
        if indent and ln.startswith(indent):
            lines[i] = ln[len(indent) :]
    if fences:
        notes.append("Markdown code fences")


_WINDOW = 1 << 20  # small: each window is a copy


def count_lines(data: Any, *starts: bytes) -> list[int]:
    """For each of ``starts``, the lines of ``data`` (bytes or a mapped file) that begin with
    it, counted in one pass, a window at a time in C (no regex, no copy of the whole)."""
    needles = [b"\n" + start for start in starts]
    totals = [1 if data[: len(start)] == start else 0 for start in starts]
    step = _WINDOW
    overlap = max(map(len, needles), default=1) - 1
    release = isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED")
    for i in range(0, len(data), step):
        # Windows overlap by the longest needle's length less one, so no match is cut in two;
        # a match inside the overlap is counted in the window where it starts.
        window = data[i : i + step + overlap]
        for k, needle in enumerate(needles):
            found = window.count(needle)
            if found and len(window) > step:
                found -= window.count(needle, step)  # starts in the overlap: the next window's
            totals[k] += found
        if release:
            # The pages read go back to the page cache: they do not count against this
            # process (the reader maps them again a window at a time).
            data.madvise(mmap.MADV_DONTNEED, i, min(step, len(data) - i))
    return totals


_count_lines = count_lines


@dataclass(frozen=True, slots=True)
class Unaccounted:
    """Lines that look like task headers, more of them than tasks were read."""

    headers: int  # lines that look like a header
    not_understood: tuple[int, ...]  # those the reader's own header pattern does not take


def account(data: Any, reader: Reader, read: int) -> Unaccounted | None:
    """None when the ``read`` tasks account for every line that looks like a task header (or
    the format has no header lines); else how many there are and which the reader's own test
    of a header line (:attr:`Reader.is_header`) does not take."""
    pattern = reader.loose_header
    if pattern is None:
        return None
    quick = reader.quick_header
    if quick is not None:
        headers, not_headers = _count_lines(data, *quick)
        if headers - not_headers <= read:
            return None  # the quick count (C passes, a window at a time): nothing unaccounted
    found = list(pattern.finditer(data))
    if reader.distinct_header_ids:
        # A task printed twice (a dump written over itself) is read once, as the reader says:
        # only distinct ids count.
        firsts: dict[bytes, re.Match[bytes]] = {}
        for m in found:
            firsts.setdefault(m.group(1), m)
        found = list(firsts.values())
    if len(found) <= read:
        return None
    missed: list[int] = []
    understood = reader.is_header
    if understood is not None:
        data = bytes(data)  # a mapped file: line numbers need bytes.count
        line, pos = 1, 0
        for m in found:
            line += data.count(b"\n", pos, m.start())
            pos = m.start()
            if not understood(m.group().decode("utf-8", errors="replace").rstrip("\r")):
                missed.append(line)
    return Unaccounted(len(found), tuple(missed))
