"""Reading an input: a file, ``-`` for stdin, gzip or not, a raw dump or a snapshot file."""

from __future__ import annotations

import sys
import zlib
from dataclasses import replace

from snapdiff import sources, store
from snapdiff.errors import InputError
from snapdiff.model import Snapshot

GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a dump") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def gunzip(data: bytes, origin: str) -> tuple[bytes, bool]:
    """(decompressed data, complete). Concatenated members are read one after another."""
    parts: list[bytes] = []
    rest = data
    while rest:
        d = zlib.decompressobj(wbits=31)
        try:
            parts.append(d.decompress(rest))
        except zlib.error as exc:
            if parts:
                break  # junk after a complete member
            raise InputError(f"{origin}: damaged gzip data: {exc}") from None
        if not d.eof:
            return b"".join(parts), False
        rest = d.unused_data
        if not rest.startswith(GZIP_MAGIC):
            break
    return b"".join(parts), True


def parse_bytes(
    data: bytes, origin: str, source: str | None = None, *, keep_locals: bool = False
) -> Snapshot:
    """Detect (or take the forced ``source``) and read; snapshot files load as they are."""
    warnings: list[str] = []
    if data.startswith(GZIP_MAGIC):
        data, complete = gunzip(data, origin)
        if not complete and not data:
            raise InputError(f"{origin}: damaged or cut gzip data: nothing could be decompressed")
        if not complete:
            warnings.append(f"{origin}: the gzip stream is cut short; read what it held")
    if not data.strip():
        raise InputError(f"{origin}: empty input: no dump to read")
    head = data[: sources.SNIFF_BYTES]
    if source == store.FORMAT or (source is None and store.is_snapshot(head)):
        snap = store.loads(data, origin)
    else:
        reader = sources.get(source) if source else sources.detect(head)
        if reader is None:
            raise InputError(
                f"{origin}: not a dump snapdiff recognises ({_describe(head)}); "
                "see 'snapdiff formats', or force one with --source"
            )
        snap = reader.parse(data, origin, keep_locals=keep_locals)
        if not snap.tasks:
            raise InputError(
                f"{origin}: read as {reader.name} but found no tasks in it"
                + (f" ({snap.warnings[0]})" if snap.warnings else "")
            )
    if warnings:
        snap = replace(snap, warnings=(*warnings, *snap.warnings), truncated=True)
    return snap


def load(path: str, source: str | None = None, *, keep_locals: bool = False) -> Snapshot:
    origin = "<stdin>" if path == "-" else path
    data = read_bytes(path)
    return parse_bytes(data, origin, source, keep_locals=keep_locals)


def _describe(head: bytes) -> str:
    if b"\x00" in head[:4096]:
        return "binary data"
    text = head[:2048].decode("utf-8", errors="replace").lstrip()
    first = text.split("\n", 1)[0].strip()
    if not first:
        return "no recognisable first line"
    shown = first if len(first) <= 60 else first[:57] + "..."
    return f"first line {shown!r}"
