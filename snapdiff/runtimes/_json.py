"""What every JSON reader shares: loading a document, and the tokens of a cut one.

:func:`loads` is orjson, and where orjson refuses a document that Python's ``json`` reads
(lone surrogates written as ``\\ud800`` escapes by Python's json, ``NaN`` from Node.js), the
standard library with those values made writable: a lone surrogate becomes U+FFFD, ``NaN`` and
``Infinity`` become ``null``. Either way, whatever comes back can be written by orjson again,
and any failure, nesting too deep for the standard library included, is a ``ValueError``.

:data:`TOKEN` finds the strings and brackets of a document cut short, for the readers that
salvage what comes before the cut. Its quantifiers are possessive: a string of a million
characters is one step each, never a saved backtracking point each (which took 125 bytes of
memory per byte of an open string).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# A JSON string (with its escapes; one cut short runs to the end) or one bracket.
TOKEN = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\Z)|[\[\]{}]', re.S)

_DECODER = json.JSONDecoder(parse_constant=lambda _: None)


def loads(data: bytes | str) -> Any:
    """The document in ``data``; ``ValueError`` when it is not one."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    doc, end = raw_decode(text.lstrip())
    if text.lstrip()[end:].strip():
        raise ValueError("extra data after the JSON document")
    return doc


def raw_decode(text: str) -> tuple[Any, int]:
    """The document at the start of ``text`` and where it ends, read by the standard library,
    made writable (see the module's docstring); ``ValueError`` when there is none."""
    try:
        doc, end = _DECODER.raw_decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    return writable(doc), end


def writable(doc: Any) -> Any:
    """``doc`` with lone surrogates replaced: they cannot be written as UTF-8."""
    try:
        raw = json.dumps(doc, ensure_ascii=False, allow_nan=False).encode("utf-8", "replace")
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    return orjson.loads(raw)
