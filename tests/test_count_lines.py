"""unwrap.count_lines: lines that begin with each of several byte strings, counted a window at a
time in one pass, equal to a plain line-by-line count whatever the window boundaries cut."""

from __future__ import annotations

import mmap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from snapdiff import unwrap

NEEDLES = (b"goroutine ", b"goroutine 0 ", b"panic: ", b"ab")
PIECES = [b"goroutine 0 x", b"goroutine 12 [", b"panic: x", b"ab", b"zz", b"\n", b"\n\n", b"go"]


def _plain(data: bytes) -> list[int]:
    return [sum(1 for line in data.split(b"\n") if line.startswith(n)) for n in NEEDLES]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=80), st.sampled_from([16, 17, 64]))
def test_counts_equal_a_plain_count_across_window_boundaries(pieces, window):
    data = b"".join(pieces)
    saved = unwrap._WINDOW
    unwrap._WINDOW = window  # small windows: matches across every boundary
    try:
        assert unwrap.count_lines(data, *NEEDLES) == _plain(data)
    finally:
        unwrap._WINDOW = saved


def test_a_mapped_file_counts_as_its_bytes(tmp_path: Path) -> None:
    data = b"".join(PIECES * 50_000)
    path = tmp_path / "d.txt"
    path.write_bytes(data)
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert unwrap.count_lines(mapped, *NEEDLES) == _plain(data)
