"""Both cores: a worker's scans applied here give exactly what reading every window here gives.

``go_text.parse_buffer`` hands some windows of a big input to a forked worker, which scans them
(``_FastReader.scan``: plain goroutines as columns, other blocks as text) and sends the scans
back; this process applies them (``_FastReader.apply``) between the windows it reads itself.
The result must equal the plain line-by-line reading on every real dump and its variants (CRLF,
log lines, cuts, every id twice), with window seams everywhere: first with the scans made in
this process (every window scanned, then every other one), then through a real fork.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapdiff.inputs import load
from snapdiff.model import Snapshot
from snapdiff.runtimes.go import go_text
from tests.conftest import GO_DUMPS, upstream
from tests.test_perf_equivalence import (
    SAMPLE_FILES,
    SAMPLE_IDS,
    UPSTREAM_NAMES,
    blocks,
    equal,
    variants,
)

GENERATED_BLOCK = (
    "goroutine {gid} [chan send, {wait} minutes]:\n"
    "main.fetchOne(0x{gid:x}, 0xc000{gid:06x})\n\t/src/fanout.go:53 +0x65\n"
    "main.loop(...)\n\t/src/fanout.go:40\n"
    "created by main.fetchAll in goroutine {creator}\n\t/src/fanout.go:33 +0x8e\n"
)


@pytest.fixture(autouse=True)
def _pure_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker belongs to the pure-Python reader: the compiled scanner (one process) is
    tested in test_scanner.py."""
    monkeypatch.setenv("SNAPDIFF_PURE_PYTHON", "1")


def in_process(data: bytes, window: int, share: tuple[bool, ...]) -> tuple[Snapshot, int, int]:
    """Read ``data`` as the parallel path does, with the scans made here: the snapshot, the
    number of scans applied and the number that fell back to reading the window."""
    saved = go_text.WINDOW
    go_text.WINDOW = window
    try:
        reader = go_text._FastReader("t.txt")
        scanner = go_text._FastReader("")
        fallbacks = 0
        plain_window = reader.window

        def counted(raw: bytes, final: bool) -> None:
            nonlocal fallbacks
            fallbacks += 1
            plain_window(raw, final)

        scans = start = 0
        for index, cut in enumerate(go_text._cuts(data)):
            if share[index % len(share)]:
                scans += 1
                reader.window = counted  # type: ignore[method-assign]
                reader.apply(scanner.scan(data[start:cut]), data, start, cut)
                reader.window = plain_window  # type: ignore[method-assign]
            else:
                reader.window(data[start:cut], final=False)
            start = cut
        reader.window(data[start:], final=True)
        return reader.end(), scans, fallbacks
    finally:
        go_text.WINDOW = saved


def forked(data: bytes, window: int) -> Snapshot:
    """``go_text.parse`` with a worker process whatever the size."""
    saved = go_text.WINDOW, go_text.PARALLEL_MIN
    go_text.WINDOW, go_text.PARALLEL_MIN = window, 0
    try:
        return go_text.parse(data, "t.txt")
    finally:
        go_text.WINDOW, go_text.PARALLEL_MIN = saved


SHARES = ((True,), (False, True), (True, False, True))


def check(data: bytes, windows: tuple[int, ...] = (64, 1000)) -> Snapshot:
    expected = go_text.parse_reference(data, "t.txt")
    for window in windows:
        for share in SHARES:
            equal(in_process(data, window, share)[0], expected)
    return expected


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=SAMPLE_IDS)
def test_samples(path: Path) -> None:
    if "debug1" in path.name:
        pytest.skip("aggregated profile: another reader")
    for data in variants(path.read_bytes()):
        check(data)


@pytest.mark.parametrize("name", UPSTREAM_NAMES)
def test_upstream_corpus(name: str) -> None:
    for data in variants(upstream(name).read_bytes()):
        check(data)


def generated(count: int, first: int = 1) -> bytes:
    return "\n".join(
        GENERATED_BLOCK.format(gid=gid, wait=gid % 3, creator=gid // 10 + 1)
        for gid in range(first, first + count)
    ).encode()


def test_scans_are_applied_not_reread() -> None:
    """On a plain dump every scan is taken in as it is, none read again."""
    data = generated(3000)
    snap, scans, fallbacks = in_process(data, 4096, (False, True))
    equal(snap, go_text.parse_reference(data, "t.txt"))
    assert len(snap.tasks) == 3000
    assert scans > 20
    assert fallbacks == 0


def test_ids_seen_before_fall_back() -> None:
    """The same ids twice (two dumps in one file): scans whose ids this process has seen, or
    whose other blocks name them, are read again here, and the duplicates are counted."""
    data = generated(600) + b"\n\n" + generated(600, first=3)  # windows not aligned
    snap, scans, fallbacks = in_process(data, 1000, (False, True))
    equal(snap, go_text.parse_reference(data, "t.txt"))
    assert len(snap.tasks) == 602
    assert snap.warnings[-1].startswith("t.txt: 598 goroutine id(s) appear more than once")
    assert 0 < fallbacks < scans
    # A log-mixed block that opens goroutine 5 before a plain goroutine 5 in the same window.
    mixed = b"goroutine 5 [running]:\nmain.f()\n\t/a.go:1\nlog line\n\n" + generated(40)
    for window in (64, 300, 4096):
        equal(in_process(mixed, window, (True,))[0], go_text.parse_reference(mixed, "t.txt"))


def test_creator_ids_read_in_order() -> None:
    """A scan blanks a window's creator ids in one pass and hands them out in order; a window
    that holds the blanked form itself, or an id too long to be one, is read block by block."""
    data = generated(300).replace(b"in goroutine 7\n", b"in goroutine 123456789012345678901234\n")
    odd = data.replace(b"in goroutine 20\n", b"in goroutine #\n")
    for dump in (data, odd, data + b"\n\n" + odd):
        expected = go_text.parse_reference(dump, "t.txt")
        # Ten goroutines a creator; the second copy's ids are duplicates, dropped.
        assert sum(t.creator_id is None for t in expected.tasks) == (20 if dump is odd else 10)
        for window in (300, 2000, 9000):
            for share in SHARES:
                equal(in_process(dump, window, share)[0], expected)


@pytest.mark.parametrize("path", ["go1.27/t1.debug2.txt", "go1.27/sigquit.txt"])
def test_forked_worker(path: str) -> None:
    """Through a real fork and pipe: the dump and its variants, windows of 64 bytes up."""
    source = GO_DUMPS / path
    if not source.exists():
        pytest.skip(f"no {source}")
    for data in variants(source.read_bytes()):
        expected = go_text.parse_reference(data, "t.txt")
        for window in (64, 4096):
            equal(forked(data, window), expected)


def test_forked_big_file(tmp_path: Path) -> None:
    """A mapped file over the threshold, as ``snapdiff show`` reads it."""
    data = generated(20000) + b"\n\n" + generated(30, first=7)  # ends with duplicates
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    saved = go_text.WINDOW, go_text.PARALLEL_MIN
    go_text.WINDOW, go_text.PARALLEL_MIN = 64 << 10, 1 << 20
    try:
        assert len(data) > go_text.PARALLEL_MIN
        snap = load(str(path))
    finally:
        go_text.WINDOW, go_text.PARALLEL_MIN = saved
    expected = go_text.parse_reference(data, str(path))
    equal(snap, expected)
    assert len(snap.tasks) == 20000
    assert {t.creator_id for t in snap.tasks} == set(range(1, 2002))


def mapped_kib(path: Path) -> int:
    """How much of ``path`` this process has mapped in memory now (Linux), in KiB."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
            inside = line.endswith(" " + str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="no /proc/self/smaps")
def test_mapped_file_is_held_a_window_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a worker, this process maps about a window of the file at a time, not what lies
    around every cut at once: a read fault maps 64 KiB of a file, or a whole large folio of the
    page cache (2 MiB here), and working out every cut first held most of the file."""
    data = generated(60000)
    path = tmp_path / "big.txt"
    path.write_bytes(data)
    monkeypatch.setattr(go_text, "WINDOW", 32 << 10)
    monkeypatch.setattr(go_text, "PARALLEL_MIN", 1 << 20)
    held: list[int] = []
    window, apply = go_text._FastReader.window, go_text._FastReader.apply

    def windowing(self: go_text._FastReader, raw: bytes, final: bool) -> None:
        held.append(mapped_kib(path))
        window(self, raw, final)

    def applying(self: go_text._FastReader, scan: go_text._Scan, *rest: object) -> None:
        held.append(mapped_kib(path))
        apply(self, scan, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(go_text._FastReader, "window", windowing)
    monkeypatch.setattr(go_text._FastReader, "apply", applying)
    snap = load(str(path))
    assert len(snap.tasks) == 60000
    assert len(data) > 360 * go_text.WINDOW  # 12 MiB
    assert len(held) > 360
    assert max(held) <= 6 << 10, held  # KiB: a window and the folios around it


def test_worker_that_dies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that dies after its first scan: this process reads the rest itself."""
    scan = go_text._FastReader.scan
    made = [0]

    def dying(self: go_text._FastReader, raw: bytes) -> go_text._Scan:
        made[0] += 1
        if made[0] > 1:
            os._exit(3)
        return scan(self, raw)

    monkeypatch.setattr(go_text._FastReader, "scan", dying)
    data = generated(2000)
    equal(forked(data, 2048), go_text.parse_reference(data, "t.txt"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(blocks(), min_size=1, max_size=8), st.integers(1, 20), st.sampled_from([0, 7]))
def test_generated_repeats(found: list[str], times: int, reuse: int) -> None:
    """Generated blocks (odd lines, labels, gp=, cuts) under fresh ids, some ids used twice."""
    out = []
    gid = 100
    for n in range(times):
        for block in found:
            gid += 1
            used = gid - reuse if reuse and n % 3 == 2 else gid
            out.append(re.sub(r"^goroutine \d+ ", f"goroutine {used} ", block))
    check(("\n\n".join(out) + "\n").encode(), windows=(200, 1000))


def test_no_fork_beside_other_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """With another thread running (a capture, a server), the input is read in one process:
    a fork would copy locks that thread may hold."""

    def no_fork() -> int:
        raise AssertionError("forked beside another thread")

    monkeypatch.setattr(go_text.os, "fork", no_fork)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        data = generated(500)
        equal(forked(data, 2048), go_text.parse_reference(data, "t.txt"))
    finally:
        stop.set()
        other.join()


def test_one_process_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """SNAPDIFF_ONE_PROCESS keeps a big input in this process (a busy machine, a memory cap)."""

    def no_fork() -> int:
        raise AssertionError("forked though one process was asked for")

    if not go_text._can_fork():
        pytest.skip("this process would not fork anyway (one CPU, or not Linux)")
    monkeypatch.setenv("SNAPDIFF_ONE_PROCESS", "1")
    assert not go_text._can_fork()
    monkeypatch.setattr(go_text.os, "fork", no_fork)
    data = generated(500)
    equal(forked(data, 2048), go_text.parse_reference(data, "t.txt"))
