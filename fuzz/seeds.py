"""Seeds for the fuzz targets and the long-line tests: every sample dump and test dump, by reader.

A seed is the decompressed bytes of a real dump; which reader takes it is found by detection,
as ``snapdiff`` itself does.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import orjson

from snapdiff import runtimes, store

ROOT = Path(__file__).resolve().parent.parent
PLACES = (ROOT / "samples", ROOT / "tests")
SNAPSHOT = "snapshot"  # the seeds read by the snapshot loader


def _files() -> Iterator[Path]:
    for place in PLACES:
        for path in sorted(place.rglob("*")):
            if path.is_file() and path.suffix not in (".py", ".java", ".js", ".go", ".sh", ".md"):
                if "leaky" in path.parts or path.stat().st_size > 8 << 20:
                    continue
                yield path


def _content(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            return b""
    return data


@cache
def by_reader() -> dict[str, tuple[tuple[str, bytes], ...]]:
    """Reader name (or :data:`SNAPSHOT`) -> its seeds as (file relative to the root, bytes)."""
    found: dict[str, list[tuple[str, bytes]]] = {name: [] for name in runtimes.SOURCES}
    found[SNAPSHOT] = []
    for path in _files():
        data = _content(path)
        head = data[: runtimes.SNIFF_BYTES]
        if not head.strip():
            continue
        if store.is_snapshot(head):
            found[SNAPSHOT].append((str(path.relative_to(ROOT)), data))
            continue
        reader = runtimes.detect(head)
        if reader is not None:
            found[reader.name].append((str(path.relative_to(ROOT)), data))
    return {name: tuple(seeds) for name, seeds in found.items()}


def json_strings(doc: object) -> Iterator[str]:
    """Every string in a JSON document, keys and values."""
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield key
            yield from json_strings(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from json_strings(value)


def _stretch(text: str, size: int) -> str:
    return text * (size // max(len(text), 1) + 1)


def long_line_variants(text: str, size: int) -> tuple[str, ...]:
    """One line, or a string, made ``size`` long three ways: repeated whole, repeated without
    its last character (the end a pattern wants never comes), and its first half repeated."""
    if len(text) < 2:
        return ()
    return (
        _stretch(text, size),
        _stretch(text[:-1], size),
        _stretch(text[: len(text) // 2], size),
    )


def adversarial_text(seed: bytes, size: int, lines: int = 60) -> bytes:
    """A text dump with each of its first ``lines`` distinct lines stretched to ``size``."""
    rows = seed.splitlines(keepends=True)
    out = [b"".join(rows[:30])]
    seen: set[bytes] = set()
    for row in rows[:lines]:
        core = row.rstrip(b"\r\n")
        if core in seen:
            continue
        seen.add(core)
        text = core.decode("utf-8", "replace")
        out.extend(v.encode() + b"\n" for v in long_line_variants(text, size))
        out.append(b"".join(rows[:8]))
    return b"".join(out)


def adversarial_json(seed: bytes, size: int, strings: int = 60) -> bytes | None:
    """A JSON dump with each of its first ``strings`` distinct string values stretched to
    ``size`` (one of the three variants, in turn); None when the seed is not one document."""
    try:
        doc = orjson.loads(seed)
    except orjson.JSONDecodeError:
        start = seed.find(b"{")
        try:
            doc = orjson.loads(seed[start:]) if start >= 0 else None
        except orjson.JSONDecodeError:
            return None
    if doc is None:
        return None
    chosen: dict[str, str] = {}
    for text in json_strings(doc):
        if len(chosen) >= strings:
            break
        if text not in chosen and len(text) >= 2:
            variants = long_line_variants(text, size)
            chosen[text] = variants[len(chosen) % 3]

    def swap(value: object, key: bool = False) -> object:
        if isinstance(value, str):
            return value if key else chosen.get(value, value)
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    return orjson.dumps(swap(doc))
