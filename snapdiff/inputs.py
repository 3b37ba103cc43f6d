"""Reading an input: a file, ``-`` for stdin, gzip or not, a raw dump or a snapshot file."""

from __future__ import annotations

import itertools
import mmap
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import BinaryIO

from snapdiff import bounds, runtimes, store, unwrap
from snapdiff.errors import InputError, UsageError
from snapdiff.model import Snapshot, paused_gc

# What the readers are given: bytes, or a file mapped in memory (sliced into bytes as needed).
Buffer = bytes | mmap.mmap

GZIP_MAGIC = b"\x1f\x8b"

# The most bytes read from an input of no known size (standard input, a pipe, a device such as
# /dev/zero) and the most a gzip input may decompress to (a 1 MB .json.gz can hold gigabytes).
# SNAPDIFF_MAX_INPUT raises it (bytes, or with K, M, G: "8G"); docs/exit-codes.md.
DEFAULT_MAX_INPUT = 1 << 30
MAX_INPUT_VARIABLE = "SNAPDIFF_MAX_INPUT"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def max_input() -> int:
    """The input size limit: :data:`DEFAULT_MAX_INPUT` or ``SNAPDIFF_MAX_INPUT``."""
    text = os.environ.get(MAX_INPUT_VARIABLE, "").strip().upper().removesuffix("B")
    if not text:
        return DEFAULT_MAX_INPUT
    unit = text[-1] if text[-1] in _UNITS else ""
    number = text[: len(text) - len(unit)]
    if not (number.isascii() and number.isdigit()) or len(number) > 15:
        raise UsageError(
            f"{MAX_INPUT_VARIABLE}={os.environ[MAX_INPUT_VARIABLE]!r}: not a size (try 4G, 500M)"
        )
    return int(number) * _UNITS[unit]


class TooBig(InputError):
    """An input past the size limit."""


def _too_big(origin: str, limit: int, what: str) -> TooBig:
    return TooBig(
        f"{origin}: {what} more than {_size(limit)}, the input size limit; "
        f"set {MAX_INPUT_VARIABLE} (e.g. {MAX_INPUT_VARIABLE}=8G) to read more"
    )


def _size(n: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if n >= _UNITS[unit] and n % _UNITS[unit] == 0:
            return f"{n // _UNITS[unit]} {unit}iB"
    return f"{n:,} bytes"


def read_bytes(path: str, limit: int | None = None) -> bytes:
    """All of ``path`` ("-": standard input); an error past ``limit`` (:func:`max_input`)."""
    if path == "-":
        return _read_limited(sys.stdin.buffer, "<stdin>", limit)
    try:
        with open(path, "rb") as fh:
            return _read_limited(fh, path, limit)
    except OSError as exc:
        raise _open_error(path, exc) from None


def _read_limited(fh: BinaryIO, origin: str, limit: int | None) -> bytes:
    limit = max_input() if limit is None else limit
    data = bytearray()
    while chunk := fh.read(min(_GZ_OUT, limit + 1 - len(data))):
        data += chunk
        if len(data) > limit:
            raise _too_big(origin, limit, "it holds")
    return bytes(data)


def _open_error(path: str, exc: OSError) -> InputError:
    if isinstance(exc, FileNotFoundError):
        if "://" in path:
            return InputError(
                f"{path}: a URL, not a file: capture it with 'snapdiff capture {path}', "
                "or diff it live with 'snapdiff diff --live'"
            )
        return InputError(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return InputError(f"{path}: is a folder, not a dump")
    if isinstance(exc, PermissionError):
        return InputError(f"{path}: permission denied")
    return InputError(f"{path}: cannot read: {exc.strerror or exc}")


class _GzipState:
    __slots__ = ("complete",)

    def __init__(self) -> None:
        self.complete = True


_GZ_IN = 1 << 20  # compressed bytes fed to zlib at a time
_GZ_OUT = 4 << 20  # most decompressed bytes taken from zlib at a time


def gunzip_pieces(
    buf: Buffer, origin: str, state: _GzipState | None = None, limit: int | None = None
) -> Iterator[bytes]:
    """Decompress ``buf`` (gzip, one member or several) a piece at a time.

    The first member's output comes as it is decompressed; a later member's only once it is
    whole, as a damaged later member is dropped (junk after a complete member). A damaged
    first member is an error; a cut one ends the stream with ``state.complete`` False. More
    than ``limit`` bytes out (:func:`max_input`) is an error: a gzip bomb stops there.
    """
    state = _GzipState() if state is None else state
    limit = max_input() if limit is None else limit
    out_total = 0
    pos, size, member = 0, len(buf), 0
    while pos < size:
        d = zlib.decompressobj(wbits=31)
        held: list[bytes] = []
        try:
            while not d.eof:
                if d.unconsumed_tail:
                    piece = d.unconsumed_tail
                elif pos < size:
                    piece = buf[pos : pos + _GZ_IN]
                    pos += len(piece)
                else:
                    piece = b""  # the input is all given: what zlib still holds, if anything
                out = d.decompress(piece, _GZ_OUT) if piece else d.flush()
                out_total += len(out)
                if out_total > limit:
                    raise _too_big(origin, limit, "its gzip data decompresses to")
                if out:
                    if member:
                        held.append(out)
                    else:
                        yield out
                if not piece:
                    break
        except zlib.error as exc:
            if member:
                break  # junk after a complete member
            raise InputError(f"{origin}: damaged gzip data: {exc}") from None
        yield from held
        if not d.eof:
            state.complete = False
            return
        pos -= len(d.unused_data)
        member += 1
        if buf[pos : pos + 2] != GZIP_MAGIC:
            break


def _is_blank(buf: Buffer) -> bool:
    step = 1 << 20
    return all(not buf[i : i + step].strip() for i in range(0, len(buf), step))


def parse_bytes(
    data: bytes,
    origin: str,
    source: str | None = None,
    *,
    keep_locals: bool = False,
    dump: int | None = None,
) -> Snapshot:
    """Detect (or take the forced ``source``) and read; snapshot files load as they are."""
    return parse_buffer(data, origin, source, keep_locals=keep_locals, dump=dump)


def parse_buffer(
    buf: Buffer,
    origin: str,
    source: str | None = None,
    *,
    keep_locals: bool = False,
    dump: int | None = None,
) -> Snapshot:
    """:func:`parse_bytes` on bytes or a file mapped in memory.

    A reader with a buffer or stream entry point (Go's full-stack dumps, which grow to
    gigabytes) is handed the mapped file, or the pieces of a gzip stream as they are
    decompressed; the other formats are small and read whole. When the input holds several
    dumps, ``dump`` (1-based) picks one; without it the last is read, and a warning says how
    many there are and where they start.
    """
    with paused_gc():
        return _parse_buffer(buf, origin, source, keep_locals, dump)[0]


def parse_each(
    buf: Buffer, origin: str, source: str | None = None, *, keep_locals: bool = False
) -> list[Snapshot]:
    """Every dump of the input, each its own snapshot (``origin#1``, ``origin#2``...)."""
    with paused_gc():
        first, count = _parse_buffer(buf, origin, source, keep_locals, None, each=True)
        if count <= 1:
            return [first]
        return [
            _parse_buffer(buf, origin, source, keep_locals, n, each=True)[0]
            for n in range(1, count + 1)
        ]


def _parse_buffer(
    buf: Buffer,
    origin: str,
    source: str | None,
    keep_locals: bool,
    dump: int | None,
    *,
    each: bool = False,
) -> tuple[Snapshot, int]:
    """The snapshot read and the number of dumps the input holds."""
    if buf[:2] == GZIP_MAGIC:
        return _parse_gzip(buf, origin, source, keep_locals, dump, each)
    if _is_blank(buf[: runtimes.SNIFF_BYTES]) and _is_blank(buf):
        raise InputError(f"{origin}: empty input: no dump to read")
    notes: tuple[str, ...] = ()
    # A binary format (the pprof protobuf) is never unwrapped: only text is.
    head = buf[: runtimes.SNIFF_BYTES]
    binary = any(r.binary and r.sniff(head) for r in runtimes.SOURCES.values())
    wrapped = None if binary else unwrap.unwrap(buf, len(buf))
    if wrapped is not None:
        buf, notes = wrapped.data, wrapped.notes
        if _is_blank(buf):
            raise InputError(f"{origin}: no dump in it once {', '.join(notes)} are taken off")
    head = buf[: runtimes.SNIFF_BYTES]
    reader = _reader(head, origin, source)
    if reader is None:
        return store.loads(buf[:], origin), 1
    if reader.parse_buffer is not None and (len(buf) > _SPLIT_MAX or _marks(buf, reader) < 2):
        # One dump (no crash or SIGQUIT header twice, say), read a window at a time.
        snap = _checked(reader.parse_buffer(buf, origin), reader)
        if len(buf) <= _SPLIT_MAX:
            snap = _accounted(snap, buf, reader)
        return _noted(snap, notes), 1
    return _read_dumps(buf[:], origin, reader, keep_locals, dump, notes, each)


# Inputs larger than this are not looked at for several dumps (a full-stack dump of gigabytes
# is one dump, read a window at a time).
_SPLIT_MAX = 64 * 1024 * 1024


def _marks(buf: Buffer, reader: runtimes.Source) -> int:
    """Lines that may begin another dump (:attr:`~snapdiff.runtime.Reader.another_dump_marks`);
    two for a reader that names none: any input may hold several."""
    if not reader.another_dump_marks:
        return 2
    return sum(unwrap.count_lines(buf, *reader.another_dump_marks))


def _read_dumps(
    data: bytes,
    origin: str,
    reader: runtimes.Source,
    keep_locals: bool,
    dump: int | None,
    notes: tuple[str, ...],
    each: bool,
) -> tuple[Snapshot, int]:
    """Read one dump of ``data``: the only one, the one asked for, or the last."""
    text = data.decode("utf-8", errors="replace")
    starts = reader.dump_starts(text) if reader.dump_starts is not None else []
    if len(starts) <= 1:
        if dump not in (None, 1):
            raise UsageError(f"{origin}: holds one dump, not {dump}")
        return _finish(data, text, origin, reader, keep_locals, notes), 1
    count = len(starts)
    if dump is not None and not 1 <= dump <= count:
        raise UsageError(f"{origin}: holds {count} dumps; --dump takes 1 to {count}")
    lines = text.split("\n")
    empty: list[int] = []  # dumps passed over: they hold no task (cut before their first)
    pick = count if dump is None else dump
    while True:
        # What comes before the first dump (log lines, jcmd's pid) is read with the first.
        first = starts[pick - 1] if pick > 1 else 1
        end = starts[pick] - 1 if pick < count else len(lines)
        # Lines before the dump become empty lines: line numbers in messages stay the file's.
        part = "\n" * (first - 1) + "\n".join(lines[first - 1 : end])
        if pick < count:
            part += "\n"
        name = f"{origin}#{pick}" if each else origin
        try:
            snap = _finish(part.encode("utf-8"), part, name, reader, keep_locals, notes)
            break
        except InputError:
            if dump is not None or each or pick == 1:
                raise
            empty.append(pick)
            pick -= 1
    where = ", ".join(str(n) for n in starts)
    what = reader.dumps_noun
    if each:
        said = f"{origin}: {count} {what} in one file (starting on lines {where}); read each"
    else:
        chosen = "the last" if dump is None and not empty else f"dump {pick}"
        said = (
            f"{origin}: {count} {what} in one file (starting on lines {where}); read {chosen}, "
            f"lines {starts[pick - 1]}-{end}; pick another with --dump N, or give the file to "
            "'snapdiff trend' to read each"
        )
    if empty:
        said += "; " + ", ".join(
            f"dump {n} (line {starts[n - 1]}) has no task in it (cut short?)" for n in empty
        )
    if each and pick > 1:
        return snap, count  # said once, with the first
    return replace(snap, warnings=(said, *snap.warnings)), count


def _finish(
    data: bytes,
    text: str,
    origin: str,
    reader: runtimes.Source,
    keep_locals: bool,
    notes: tuple[str, ...],
) -> Snapshot:
    if reader.parse_buffer is not None:
        snap = _checked(reader.parse_buffer(data, origin), reader)
    else:
        snap = _checked(reader.parse(data, origin, keep_locals=keep_locals), reader)
    return _noted(_accounted(snap, data, reader), notes)


def _accounted(snap: Snapshot, data: Buffer, reader: runtimes.Source) -> Snapshot:
    """A warning when the input has more lines that look like task headers than tasks read."""
    found = unwrap.account(data, reader, snap.total)
    if found is None:
        return snap
    rt = runtimes.of_format(reader.name)
    kind = rt.kind(snap.tasks[0].kind if snap.tasks else rt.kinds[0].name).singular
    said = f"{snap.source.origin}: read {snap.total:,} {kind}s of {found.headers:,} headers"
    if found.not_understood:
        shown = ", ".join(map(str, found.not_understood[:10]))
        more = ", ..." if len(found.not_understood) > 10 else ""
        said += (
            f"; {len(found.not_understood):,} {kind} headers not understood at lines {shown}{more}"
        )
    if snap.skipped_lines:
        said += f"; {snap.skipped_lines:,} lines skipped"
    return replace(snap, warnings=(*snap.warnings, said))


def _noted(snap: Snapshot, notes: tuple[str, ...]) -> Snapshot:
    if not notes:
        return snap
    detail = ", ".join(filter(None, (snap.source.detail, "taken off: " + ", ".join(notes))))
    return replace(snap, source=replace(snap.source, detail=detail))


def _parse_gzip(
    buf: Buffer,
    origin: str,
    source: str | None,
    keep_locals: bool,
    dump: int | None,
    each: bool,
) -> tuple[Snapshot, int]:
    state = _GzipState()
    pieces = gunzip_pieces(buf, origin, state)
    # Enough of the start to detect the format (and to tell an empty stream).
    start = bytearray()
    for piece in pieces:
        start += piece
        if len(start) >= runtimes.SNIFF_BYTES and start.strip():
            break
    if not start and not state.complete:
        raise InputError(f"{origin}: damaged or cut gzip data: nothing could be decompressed")
    if not start.strip():
        raise InputError(f"{origin}: empty input: no dump to read")
    head = bytes(start[: runtimes.SNIFF_BYTES])
    count = 1
    reader = None if unwrap.wrapped(head) else _reader(head, origin, source)
    if reader is not None and reader.parse_stream is not None:
        stream = itertools.chain((bytes(start),), pieces)
        snap = _checked(reader.parse_stream(stream, origin), reader)
    else:
        data = bytes(start) + b"".join(pieces)
        snap, count = _parse_buffer(data, origin, source, keep_locals, dump, each=each)
    if not state.complete:
        snap = replace(
            snap,
            warnings=(f"{origin}: the gzip stream is cut short; read what it held", *snap.warnings),
            truncated=True,
        )
    return snap, count


def _reader(head: bytes, origin: str, source: str | None) -> runtimes.Source | None:
    """The reader for an input starting with ``head``; None for a snapshot file."""
    if source == store.FORMAT or (source is None and store.is_snapshot(head)):
        return None
    reader = runtimes.get(source) if source else runtimes.detect(head)
    if reader is None:
        raise InputError(
            f"{origin}: not a dump snapdiff recognises ({_describe(head)}); "
            "see 'snapdiff formats', or force one with --source"
        )
    return reader


def _checked(snap: Snapshot, reader: runtimes.Source) -> Snapshot:
    if not snap.tasks:
        raise InputError(
            f"{snap.source.origin}: read as {reader.name} but found no tasks in it"
            + (f" ({snap.warnings[0]})" if snap.warnings else "")
        )
    return bounds.bounded(snap)


def load(
    path: str, source: str | None = None, *, keep_locals: bool = False, dump: int | None = None
) -> Snapshot:
    """Read a file (mapped in memory, never copied whole) or ``-`` for standard input."""
    return _load(path, source, keep_locals, dump, each=False)[0]


def load_each(path: str, source: str | None = None) -> list[Snapshot]:
    """Every dump of a file, each its own snapshot (one for most files)."""
    return _load(path, source, False, None, each=True)


def _load(
    path: str, source: str | None, keep_locals: bool, dump: int | None, *, each: bool
) -> list[Snapshot]:
    max_input()  # a limit that is not a size is an error before anything is read
    if path == "-":
        stdin = read_bytes(path)
        if each:
            return parse_each(stdin, "<stdin>", source)
        return [parse_bytes(stdin, "<stdin>", source, keep_locals=keep_locals, dump=dump)]
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below, after the map)
    except OSError as exc:
        raise _open_error(path, exc) from None
    with fh:
        try:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
                data: Buffer = _read_limited(fh, path, None)  # a pipe, a device, an empty file
            else:
                data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise _open_error(path, exc) from None
        try:
            if each:
                return parse_each(data, path, source)
            return [parse_buffer(data, path, source, keep_locals=keep_locals, dump=dump)]
        finally:
            if isinstance(data, mmap.mmap):
                data.close()


def _describe(head: bytes) -> str:
    if b"\x00" in head[:4096]:
        return "binary data"
    text = head[:2048].decode("utf-8", errors="replace").lstrip()
    first = text.split("\n", 1)[0].strip()
    if not first:
        return "no recognisable first line"
    shown = first if len(first) <= 60 else first[:57] + "..."
    return f"first line {shown!r}"


def formats() -> list[tuple[str, str]]:
    """(name, description) of every input format, in the order they are detected."""
    rows = [(s.name, s.description) for s in runtimes.SOURCES.values()]
    rows.append((store.FORMAT, "snapdiff snapshot file (snapdiff convert), .json or .json.gz"))
    return rows
