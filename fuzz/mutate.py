"""Mutations of a real dump, as a Hypothesis strategy: what the issue's fuzzing found classes
with. Byte flips and insertions, cuts, repeated slices, lines stretched, numbers replaced by
huge ones or endless digit strings, JSON-breaking and Markdown-breaking tokens, CRLF, gzip."""

from __future__ import annotations

import gzip
import re

from hypothesis import strategies as st

TOKENS = (
    b"\x00",
    b"\xff\xfe",
    b"\r\n",
    b"\n\n",
    b"\t",
    b'"',
    b"\\",
    b"\\ud800",
    b"NaN",
    b"Infinity",
    b"-0",
    b"1e999",
    b"true",
    b"null",
    b"[",
    b"]",
    b"{",
    b"}",
    b"[" * 2000,
    b"18446744073709551616",
    b"-9223372036854775809",
    b"9" * 40,
    b"9" * 5000,
    b"0x" + b"f" * 40,
    b"user@evil.example",
    b"`|*_<script>",
    b"\x1b[31m",
    b" (",
    b")",
    b":1:2",
    b", line 1, in ",
    b"goroutine 1 [running]:\n",
    b"created by main.main in goroutine 1\n",
    b'"threadName": ',
    b"\xe2\x80\xae",
)
_NUMBER = re.compile(rb"\d+")


def _apply(data: bytes, op: str, pos: int, arg: int, token: bytes) -> bytes:
    n = len(data)
    at = pos % (n + 1)
    if op == "insert":
        return data[:at] + token + data[at:]
    if op == "flip" and n:
        i = pos % n
        return data[:i] + bytes([data[i] ^ (1 << (arg % 8))]) + data[i + 1 :]
    if op == "cut":
        return data[:at]
    if op == "delete":
        return data[:at] + data[at + arg % 4096 :]
    if op == "repeat":
        piece = data[at : at + 1 + arg % 200]
        return data[:at] + piece * (1 + arg % 300) + data[at:]  # at most 60 KB more
    if op == "stretch":
        # One line made long: the line around ``at`` repeated without its end.
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        line = data[start : end if end >= 0 else n]
        # At most a megabyte more: a one-line JSON dump stretched 400 times would be gigabytes.
        times = min(1 + arg % 400, 1 + (1 << 20) // max(len(line), 1))
        return data[:start] + line * times + data[start:]
    if op == "number":
        numbers = list(_NUMBER.finditer(data))
        if numbers:
            m = numbers[pos % len(numbers)]
            huge = (b"18446744073709551617", b"9" * 5000, b"0", b"-1")[arg % 4]
            return data[: m.start()] + huge + data[m.end() :]
        return data
    if op == "crlf":
        return data.replace(b"\n", b"\r\n")
    if op == "gzip":
        return gzip.compress(data, mtime=0)
    return data


OPS = ("insert", "flip", "cut", "delete", "repeat", "stretch", "number", "crlf", "gzip")


def mutated(seeds: tuple[bytes, ...], most: int = 4) -> st.SearchStrategy[bytes]:
    """A seed with up to ``most`` mutations applied."""
    step = st.tuples(
        st.sampled_from(OPS),
        st.integers(0, 1 << 30),
        st.integers(0, 1 << 16),
        st.sampled_from(TOKENS),
    )

    def build(seed: bytes, steps: list[tuple[str, int, int, bytes]]) -> bytes:
        for op, pos, arg, token in steps:
            if op == "gzip" and seed[:2] == b"\x1f\x8b":
                continue
            seed = _apply(seed, op, pos, arg, token)
            if len(seed) > 8 << 20:
                seed = seed[: 8 << 20]
        return seed

    return st.builds(build, st.sampled_from(seeds), st.lists(step, min_size=1, max_size=most))
