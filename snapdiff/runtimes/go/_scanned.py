"""Go full-stack dumps read with the compiled scanner (``_gscan``, C), when it was built.

The scanner walks a window block by block and, for each plain goroutine whose header and
stack text it already knows, appends three columns: the goroutine's id, the number of its
(header, stack) reading and its creator's id. It returns to Python at the first block it cannot
take that way, and Python does what :meth:`go_text._FastReader.window` does there:

- a header text not seen before (after the id, ``gp=.. m=..`` blanked) is parsed once
  (``_fast_header``); a stack text (arguments, registers and creator ids blanked, as the fast
  path blanks them) is read once by the line machine (``_read_body``), which says whether
  blanking may have changed its reading;
- a (header, stack) pair gets a number and the tuple of what its tasks share;
- any other block (log lines, cuts, goroutine 0, duplicates, a stack read line by line) is fed
  to the machine as it is, at its line number, which the scanner counts;
- what follows the window's last blank line is fed to the machine, as in ``window``.

Tasks are then made from the columns with ``make_task``, as for a worker's scan. A window
holding a carriage return is read by ``window`` itself (CRLF line ends are made LF there).

So the snapshot is exactly the pure-Python one (``tests/test_scanner.py`` holds them side by
side on every test dump and sample and on mutated inputs). One process: with the scanner,
the forked worker of the pure path does not pay (docs/performance.md).
"""

from __future__ import annotations

import importlib
import mmap
import os
import sys
from collections.abc import Iterable
from itertools import repeat
from types import ModuleType
from typing import Any

from snapdiff.model import GOROUTINE, Snapshot, make_task
from snapdiff.runtimes.go import go_text

_gscan: ModuleType | None
try:
    _gscan = importlib.import_module("snapdiff.runtimes.go._gscan")
except ImportError:  # built without a C compiler: the pure-Python reader runs
    _gscan = None

# Set (to anything but "" or "0") to read Go dumps in pure Python even where the scanner
# was built: for tests of both paths, or to rule the scanner out.
PURE_ENV = "SNAPDIFF_PURE_PYTHON"

_DONE, _SLOW, _NEED_HEADER, _NEED_BODY, _NEED_COMBO = range(5)


def compiled() -> bool:
    """Whether Go text dumps are read with the compiled scanner in this process."""
    return _gscan is not None and os.environ.get(PURE_ENV, "") in ("", "0")


def describe() -> str:
    """Which reader runs, for ``snapdiff formats``."""
    if compiled():
        return "compiled scanner (C)"
    if _gscan is not None:
        return f"pure-Python reader ({PURE_ENV} is set)"
    return "pure-Python reader (the compiled scanner was not built: no C compiler at install)"


Buffer = bytes | bytearray | mmap.mmap


go_text.COMPILED = sys.modules[__name__]  # go_text.parse_buffer and parse_stream use it


class _Reader:
    def __init__(self, origin: str) -> None:
        self.fast = go_text._FastReader(origin)
        # {hash: (key, number or None)}: header texts after the id; None: no plain header.
        self.headers: dict[int, tuple[bytes, int | None]] = {}
        # {hash: (key, number or None, creator id when none was blanked)}: stack texts.
        self.bodies: dict[int, tuple[bytes, int | None, int | None]] = {}
        self.combos: dict[int, int] = {}  # (header << 32 | stack): number
        self.header_list: list[tuple[str, go_text._FastHeader]] = []
        self.body_list: list[go_text._Body] = []
        self.combo_list: list[tuple[Any, ...]] = []

    def window(self, buf: Buffer, start: int, end: int, final: bool) -> None:
        """Read ``buf[start:end]``: whole lines, ending after a blank line unless final."""
        fast = self.fast
        if buf.find(b"\r", start, end) >= 0:
            fast.window(bytes(buf[start:end]), final)
            return
        assert _gscan is not None
        scan = _gscan.scan
        fast.size += end - start
        machine = fast.machine
        seen = machine.seen
        line = fast.next_line
        pos = start
        ids: list[int] = []
        cids: list[int] = []
        creators: list[int | None] = []
        while True:
            status, pos, lines, info, khash = scan(
                buf, pos, end, seen, self.headers, self.bodies, self.combos, ids, cids, creators
            )
            line += lines
            if ids:
                self._extend(ids, cids, creators)
                ids, cids, creators = [], [], []
            if status == _DONE:
                break
            if status == _SLOW:
                text = go_text._decode(bytes(buf[pos:info]))
                machine.feed([*text.split("\n"), ""], line, "")
                line += text.count("\n") + 2
                pos = info + 2
            elif status == _NEED_HEADER:
                rest = go_text._decode(info)
                header = fast._fast_header(rest)
                number = None
                if header is not None:
                    number = len(self.header_list)
                    self.header_list.append((rest, header))
                self.headers[khash] = (info, number)
            elif status == _NEED_BODY:
                reading = fast._read_body(go_text._decode(info))
                number = creator = None
                if reading is not None:
                    number = len(self.body_list)
                    self.body_list.append(reading)
                    creator = reading[2]
                self.bodies[khash] = (info, number, creator)
            else:  # _NEED_COMBO: the first goroutine of this header with this stack
                rest, header = self.header_list[info >> 32]
                if rest not in fast.live:
                    fast._use_header(rest, header)
                frames, created_by, _, flags = self.body_list[info & 0xFFFFFFFF]
                state, wait, header_flags, labels = header
                self.combos[info] = len(self.combo_list)
                self.combo_list.append(
                    (
                        frames,
                        state,
                        wait,
                        created_by,
                        labels,
                        header_flags + flags if flags else header_flags,
                    )
                )
        # What follows the last blank line: whole lines, except the final window's last.
        rest_lines = go_text._decode(bytes(buf[pos:end])).split("\n")
        tail = rest_lines.pop()
        if final and tail and go_text._WHOLE_TAIL.match(tail.encode()):
            rest_lines.append(tail)  # no final newline, but a whole last line (go_text.window)
            tail = ""
        machine.feed(rest_lines, line, tail)
        fast.next_line = line + len(rest_lines)
        if final:
            fast.tail = tail

    def _extend(self, ids: list[int], cids: list[int], creators: list[int | None]) -> None:
        frames, states, waits, created_by, labels, flags = zip(
            *map(self.combo_list.__getitem__, cids), strict=True
        )
        self.fast.machine.tasks.extend(
            map(
                make_task,
                zip(
                    repeat(GOROUTINE),
                    frames,
                    ids,
                    repeat(""),
                    states,
                    waits,
                    created_by,
                    creators,
                    labels,
                    flags,
                    repeat(1),
                    repeat(()),
                ),
            )
        )


def parse_buffer(buf: bytes | mmap.mmap, origin: str) -> Snapshot:
    """:func:`go_text.parse_buffer` with the scanner: windows cut as there, pages released."""
    reader = _Reader(origin)
    start = 0
    for cut in go_text._cuts(buf):
        reader.window(buf, start, cut, final=False)
        go_text._release(buf, start, cut)
        start = cut
    reader.window(buf, start, len(buf), final=True)
    return reader.fast.end()


def parse_stream(pieces: Iterable[bytes], origin: str) -> Snapshot:
    """:func:`go_text.parse_stream` with the scanner."""
    reader = _Reader(origin)
    pending = bytearray()
    for piece in pieces:
        pending += piece
        start = 0
        while len(pending) - start >= go_text.WINDOW:
            cut = go_text._boundary(pending, start, start + go_text.WINDOW)
            if cut <= start:
                cut = go_text._boundary(pending, start, len(pending))
                if cut <= start:
                    break
            reader.window(pending, start, cut, final=False)
            start = cut
        del pending[:start]
    reader.window(pending, 0, len(pending), final=True)
    return reader.fast.end()
