"""The compiled scanner of Go dumps and the pure-Python reader give exactly the same snapshot.

Both paths run on every Go full-stack dump of the tests and samples (``tests/go_seeds.py``),
on the ways of turning each around that test_perf_equivalence.py uses, with windows of every
size, and on inputs mutated byte by byte and line by line from them. The plain line-by-line
reading (``go_text.parse_reference``) is the judge of both. Where the scanner was not built
(no C compiler at install) the tests of the compiled path skip, unless
``SNAPDIFF_REQUIRE_SCANNER`` is set (CI sets it: there it must have been built).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapdiff.inputs import load
from snapdiff.model import Snapshot
from snapdiff.runtimes.go import _scanned, go_text
from tests.go_seeds import mutate, seeds
from tests.test_parallel import generated, mapped_kib
from tests.test_perf_equivalence import equal, variants

SEEDS = seeds()
NAMES = list(SEEDS)
needs_scanner = pytest.mark.skipif(
    _scanned._gscan is None and not os.environ.get("SNAPDIFF_REQUIRE_SCANNER"),
    reason="the compiled scanner was not built here",
)


def _pure(data: bytes, monkeypatch: pytest.MonkeyPatch) -> Snapshot:
    with monkeypatch.context() as m:
        m.setenv(_scanned.PURE_ENV, "1")
        assert not _scanned.compiled()
        return go_text.parse(data, "t.txt")


def both(data: bytes, monkeypatch: pytest.MonkeyPatch, windows: tuple[int, ...]) -> None:
    """The compiled path, mapped-buffer and stream, at each window size, against the pure
    path and the line-by-line reading."""
    reference = go_text.parse_reference(data, "t.txt")
    equal(_pure(data, monkeypatch), reference)
    monkeypatch.delenv(_scanned.PURE_ENV, raising=False)
    assert _scanned.compiled()
    for size in windows:
        monkeypatch.setattr(go_text, "WINDOW", size)
        equal(go_text.parse(data, "t.txt"), reference)
        rng = random.Random(size)
        pieces, pos = [], 0
        while pos < len(data):
            step = rng.randint(1, 300)
            pieces.append(data[pos : pos + step])
            pos += step
        equal(go_text.parse_stream(iter(pieces), "t.txt"), reference)


def test_scanner_built_where_required() -> None:
    if os.environ.get("SNAPDIFF_REQUIRE_SCANNER"):
        assert _scanned._gscan is not None, "the compiled scanner was not built"
    assert len(SEEDS) >= 20  # samples and the tests' own dumps were found


@needs_scanner
@pytest.mark.parametrize("name", NAMES)
def test_every_seed_dump_both_paths(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = SEEDS[name]
    big = len(data) > 50_000
    for variant in variants(data):
        both(variant, monkeypatch, (1 << 20, 4096) if big else (1 << 20, 64, 1))


def test_formats_says_which_path_runs() -> None:
    def formats(env: dict[str, str]) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "snapdiff", "formats"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        ).stdout
        return next(line for line in out.splitlines() if line.startswith("Go dumps are read"))

    assert "pure-Python reader" in formats({_scanned.PURE_ENV: "1"})
    default = formats({_scanned.PURE_ENV: ""})
    if _scanned._gscan is not None:
        assert "compiled scanner" in default
    else:
        assert "not built" in default


SMALL = [n for n in NAMES if len(SEEDS[n]) <= 50_000]


@needs_scanner
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SMALL), st.integers(0, 2**32 - 1), st.integers(1, 12))
def test_mutated_dumps_both_paths(name: str, seed: int, count: int) -> None:
    data = mutate(SEEDS[name], random.Random(seed), count)
    with pytest.MonkeyPatch.context() as monkeypatch:
        both(data, monkeypatch, (1 << 20, 97))


@needs_scanner
def test_a_hash_collision_reads_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A header or stack whose hash is taken by another text is read by the machine, never
    given the other's reading."""
    assert _scanned._gscan is not None
    data = SEEDS["samples/go/dumps/go1.27/t1.debug2.txt"]
    reference = go_text.parse_reference(data, "t.txt")
    monkeypatch.delenv(_scanned.PURE_ENV, raising=False)
    reader = _scanned._Reader("t.txt")
    reader.window(data, 0, len(data), final=True)
    # The same dump again, with every known hash pointing at other bytes.
    taken = _scanned._Reader("t.txt")
    taken.headers = {h: (b"x" + k, 0) for h, (k, _) in reader.headers.items()}
    taken.bodies = {h: (b"x" + k, 0, None) for h, (k, _, _) in reader.bodies.items()}
    taken.window(data, 0, len(data), final=True)
    equal(taken.fast.end(), reference)
    assert not taken.combos  # nothing was read from the columns


@needs_scanner
def test_scan_checks_its_window() -> None:
    gscan = _scanned._gscan
    assert gscan is not None
    data = b"goroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0x1\n\n"
    args = (set(), {}, {}, {}, [], [], [])
    for pos, end in ((-1, 5), (0, len(data) + 1), (10, 5)):
        with pytest.raises(ValueError):
            gscan.scan(data, pos, end, *args)
    with pytest.raises(TypeError):
        gscan.scan("text", 0, 1, *args)
    # An empty window: done at once. A window that ends in the middle of a block: no column,
    # at most a question about its header, whatever was known.
    assert gscan.scan(data, 0, 0, *args)[:3] == (0, 0, 0)
    reader = _scanned._Reader("t.txt")
    reader.window(data, 0, len(data), final=True)
    known = (reader.headers, reader.bodies, reader.combos)
    for end in range(len(data) - 1):
        columns: tuple[list[int], list[int], list[int | None]] = ([], [], [])
        status, pos, lines, _, _ = gscan.scan(data, 0, end, set(), *known, *columns)
        assert (status, pos, lines, columns) == (0, 0, 0, ([], [], []))
    status, pos, lines, _, _ = gscan.scan(data, 0, len(data), set(), *known, *args[4:])
    assert (status, pos, lines, args[4:]) == (0, len(data), 4, ([1], [0], [None]))


@needs_scanner
@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="no /proc/self/smaps")
def test_compiled_path_holds_a_window_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mapped file read by the scanner is given back a window at a time (as the pure path
    does it): the process never holds the whole file."""
    data = generated(60000)
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    monkeypatch.delenv(_scanned.PURE_ENV, raising=False)
    monkeypatch.setattr(go_text, "WINDOW", 32 << 10)
    held: list[int] = []
    window = _scanned._Reader.window

    def windowing(self: _scanned._Reader, *args: Any, **kwargs: Any) -> None:
        held.append(mapped_kib(path))
        window(self, *args, **kwargs)

    monkeypatch.setattr(_scanned._Reader, "window", windowing)
    snap = load(str(path))
    assert len(snap.tasks) == 60000
    assert len(data) > 360 * go_text.WINDOW  # 12 MiB
    assert len(held) > 360
    assert max(held) <= 6 << 10, held  # KiB: a window and the folios around it
