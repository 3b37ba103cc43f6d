"""Helpers the text readers share to say where each of several dumps in one input begins."""

from __future__ import annotations

import re
from collections.abc import Callable


def starts_by(
    pattern: re.Pattern[str], back: re.Pattern[str] | None = None
) -> Callable[[str], list[int]]:
    """Dumps begin at each line ``pattern`` matches (and at the lines just before it that
    ``back`` matches: a date line, ``jcmd``'s pid line). Line numbers are 1-based."""

    def starts(text: str) -> list[int]:
        lines = text.split("\n")
        found: list[int] = []
        for i, ln in enumerate(lines):
            if pattern.match(ln):
                j = i
                while back is not None and j > 0 and back.match(lines[j - 1]):
                    j -= 1
                found.append(j + 1)
        return found

    return starts
