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

from snapdiff import runtimes, store
from snapdiff.errors import InputError
from snapdiff.model import Snapshot, paused_gc

# What the readers are given: bytes, or a file mapped in memory (sliced into bytes as needed).
Buffer = bytes | mmap.mmap

GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise _open_error(path, exc) from None


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


def _gunzip_pieces(buf: Buffer, origin: str, state: _GzipState) -> Iterator[bytes]:
    """Decompress ``buf`` (gzip, one member or several) a piece at a time.

    The first member's output comes as it is decompressed; a later member's only once it is
    whole, as a damaged later member is dropped (junk after a complete member). A damaged
    first member is an error; a cut one ends the stream with ``state.complete`` False.
    """
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
    data: bytes, origin: str, source: str | None = None, *, keep_locals: bool = False
) -> Snapshot:
    """Detect (or take the forced ``source``) and read; snapshot files load as they are."""
    return parse_buffer(data, origin, source, keep_locals=keep_locals)


def parse_buffer(
    buf: Buffer, origin: str, source: str | None = None, *, keep_locals: bool = False
) -> Snapshot:
    """:func:`parse_bytes` on bytes or a file mapped in memory.

    A reader with a buffer or stream entry point (Go's full-stack dumps, which grow to
    gigabytes) is handed the mapped file, or the pieces of a gzip stream as they are
    decompressed; the other formats are small and read whole.
    """
    with paused_gc():
        return _parse_buffer(buf, origin, source, keep_locals)


def _parse_buffer(buf: Buffer, origin: str, source: str | None, keep_locals: bool) -> Snapshot:
    if buf[:2] == GZIP_MAGIC:
        return _parse_gzip(buf, origin, source, keep_locals)
    if _is_blank(buf[: runtimes.SNIFF_BYTES]) and _is_blank(buf):
        raise InputError(f"{origin}: empty input: no dump to read")
    head = buf[: runtimes.SNIFF_BYTES]
    reader = _reader(head, origin, source)
    if reader is None:
        snap = store.loads(buf[:], origin)
    elif reader.parse_buffer is not None:
        snap = _checked(reader.parse_buffer(buf, origin), reader)
    else:
        snap = _checked(reader.parse(buf[:], origin, keep_locals=keep_locals), reader)
    return snap


def _parse_gzip(buf: Buffer, origin: str, source: str | None, keep_locals: bool) -> Snapshot:
    state = _GzipState()
    pieces = _gunzip_pieces(buf, origin, state)
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
    reader = _reader(head, origin, source)
    if reader is not None and reader.parse_stream is not None:
        stream = itertools.chain((bytes(start),), pieces)
        snap = _checked(reader.parse_stream(stream, origin), reader)
    else:
        data = bytes(start) + b"".join(pieces)
        if reader is None:
            snap = store.loads(data, origin)
        else:
            snap = _checked(reader.parse(data, origin, keep_locals=keep_locals), reader)
    if not state.complete:
        snap = replace(
            snap,
            warnings=(f"{origin}: the gzip stream is cut short; read what it held", *snap.warnings),
            truncated=True,
        )
    return snap


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
    return snap


def load(path: str, source: str | None = None, *, keep_locals: bool = False) -> Snapshot:
    """Read a file (mapped in memory, never copied whole) or ``-`` for standard input."""
    if path == "-":
        return parse_bytes(read_bytes(path), "<stdin>", source, keep_locals=keep_locals)
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below, after the map)
    except OSError as exc:
        raise _open_error(path, exc) from None
    with fh:
        try:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
                data: Buffer = fh.read()  # a pipe, a device, an empty file
            else:
                data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as exc:
            raise _open_error(path, exc) from None
        try:
            return parse_buffer(data, path, source, keep_locals=keep_locals)
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
