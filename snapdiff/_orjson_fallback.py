"""The part of orjson snapdiff uses, on the standard library's json: for ``snapdiff.pyz`` on a
platform or Python its bundled orjson was not compiled for.

orjson is a compiled extension: the single-file build carries the builds of orjson for the
Pythons it was made for, on the platform it was made on. Where none of them loads (another CPU,
musl instead of glibc, a Python it was not built for), the file's start-up puts this module in
its place (``sys.modules["orjson"]``) and says so once on stderr. Same results, slower: reading a
big snapshot file takes several times longer.

Only what snapdiff calls is here: :func:`loads`, :func:`dumps` with ``OPT_INDENT_2``, and
:class:`JSONDecodeError`. As orjson: bytes in and out, UTF-8, no NaN, dataclasses as objects.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

OPT_INDENT_2 = 1
OPT_SORT_KEYS = 1 << 5

__version__ = "0 (snapdiff's standard-library fallback)"


class JSONDecodeError(json.JSONDecodeError):
    """What orjson raises for a document it cannot read (a ValueError, as orjson's)."""


class JSONEncodeError(TypeError):
    pass


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    if isinstance(data, memoryview | bytearray):
        data = bytes(data)
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JSONDecodeError(
                f"str is not valid UTF-8: {exc.reason}", data.decode("utf-8", "replace"), exc.start
            ) from None
    else:
        text = data
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise JSONDecodeError(exc.msg, exc.doc, exc.pos) from None
    except _Constant as exc:
        raise JSONDecodeError(f"{exc} is not valid JSON", text, 0) from None


class _Constant(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Constant(name)


def _default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    raise JSONEncodeError(f"Type is not JSON serializable: {type(obj).__name__}")


def _finite(obj: Any) -> Any:
    """NaN and infinities become null, as orjson writes them."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def dumps(obj: Any, default: Any = None, option: int | None = None) -> bytes:
    opts = option or 0
    indent = 2 if opts & OPT_INDENT_2 else None
    separators = (",", ": ") if indent else (",", ":")

    def fallback(value: Any) -> Any:
        try:
            return _default(value)
        except JSONEncodeError:
            if default is None:
                raise
            return default(value)

    try:
        text = json.dumps(
            obj,
            ensure_ascii=False,
            allow_nan=False,
            indent=indent,
            separators=separators,
            sort_keys=bool(opts & OPT_SORT_KEYS),
            default=fallback,
        )
    except ValueError:  # NaN or an infinity somewhere: orjson writes null
        text = json.dumps(
            _finite(obj),
            ensure_ascii=False,
            indent=indent,
            separators=separators,
            sort_keys=bool(opts & OPT_SORT_KEYS),
            default=fallback,
        )
    return text.encode("utf-8", "surrogatepass")
