"""The C passes every reading of a Go dump makes, and nothing else: the floor of a reader."""

from __future__ import annotations

import mmap
from itertools import chain

from snapdiff.runtimes.go import go_text


def passes(buf: bytes | mmap.mmap) -> int:
    """Decode, blank the arguments and split into blocks, a window at a time as the reader
    cuts them (found as it goes, as the reader does); returns the number of blocks."""
    blocks, start = 0, 0
    for end in chain(go_text._cuts(buf), [len(buf)]):
        text = go_text._decode(buf[start:end])
        blocks += len(go_text._ARGS.sub(go_text._BLANK_ARGS, text).split("\n\n"))
        start = end
    return blocks
