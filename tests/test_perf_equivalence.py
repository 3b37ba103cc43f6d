"""The fast Go reader gives exactly what the plain line-by-line reading gives.

``go_text.parse`` splits the input into windows and blocks, reads each distinct block body once
and every goroutine's header alone; ``go_text.parse_reference`` feeds every line to the state
machine in order. On every real dump, every way of turning it around, and generated dumps, the
two snapshots must be equal: tasks, warnings (line numbers included), truncation, skipped lines.
The window size is made tiny in some runs so that window seams fall everywhere.
"""

from __future__ import annotations

import gzip
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapdiff.errors import InputError
from snapdiff.inputs import load, parse_bytes
from snapdiff.model import Snapshot
from snapdiff.runtimes.go import go_text
from tests.conftest import GO_DUMPS, UPSTREAM, upstream

SAMPLE_FILES = sorted(GO_DUMPS.glob("go1.*/*.txt"))
UPSTREAM_NAMES = [
    "gostackparse/ancestors.txt",
    "gostackparse/cgo.txt",
    "gostackparse/empty_input.txt",
    "gostackparse/empty_stack.txt",
    "gostackparse/errorhandling.txt",
    "gostackparse/frameselided.txt",
    "gostackparse/frameselided_goroutine.txt",
    "gostackparse/go121_createdby.txt",
    "gostackparse/lockedm.txt",
    "gostackparse/partial_createdby.txt",
    "gostackparse/partial_stack.txt",
    "gostackparse/waitsince.txt",
    "gostackparse/windows.txt",
    "goleak/http.go1.20.txt",
    "goleak/http.tracebackancestors.txt",
    "goleak/http.txt",
    "go-profiler-notes/1.net.http.pprof.goroutine.debug2.txt",
    "go-profiler-notes/1.pprof.lookup.goroutine.debug2.txt",
    "go-profiler-notes/1.runtime.stack.txt",
    "go-profiler-notes/2.net.http.pprof.goroutine.debug2.txt",
    "go-profiler-notes/2.pprof.lookup.goroutine.debug2.txt",
    "go-profiler-notes/2.runtime.stack.txt",
]
SAMPLE_IDS = [str(p.relative_to(GO_DUMPS)) for p in SAMPLE_FILES]


def equal(fast: Snapshot, slow: Snapshot) -> None:
    assert fast.tasks == slow.tasks
    assert fast.warnings == slow.warnings
    assert fast.truncated == slow.truncated
    assert fast.skipped_lines == slow.skipped_lines
    assert fast.source == slow.source
    assert fast == slow


def check(data: bytes, *, windows: tuple[int, ...] = (1 << 20, 64, 1)) -> Snapshot:
    """Fast against plain reading, with several window sizes and as a stream of pieces."""
    slow = go_text.parse_reference(data, "t.txt")
    saved = go_text.WINDOW
    try:
        for size in windows:
            go_text.WINDOW = size
            equal(go_text.parse(data, "t.txt"), slow)
            rng = random.Random(size)
            pieces, pos = [], 0
            while pos < len(data):
                step = rng.randint(1, 200)
                pieces.append(data[pos : pos + step])
                pos += step
            equal(go_text.parse_stream(iter(pieces), "t.txt"), slow)
    finally:
        go_text.WINDOW = saved
    return slow


def variants(data: bytes) -> list[bytes]:
    """The dump as it is, with CRLF, tabs turned to spaces, log lines around blocks, and cut."""
    text = data.decode("utf-8", errors="replace")
    logged = re.sub(r"\n\n", "\n\nleaky: 2026/11/27 a log line\n\n", text, count=3)
    glued = text.replace("\n\n", "\nexit status 2\n", 2)
    out = [
        data,
        text.replace("\n", "\r\n").encode(),
        text.replace("\t", "        ").encode(),
        logged.encode(),
        glued.encode(),
        (text + text).encode(),  # every id twice
        text.rstrip("\n").encode(),
    ]
    for cut in (len(data) // 3, len(data) // 2, len(data) - 3):
        if cut > 0:
            out.append(data[:cut])
    return out


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


def test_cut_at_every_line_end() -> None:
    data = (GO_DUMPS / "go1.27" / "t1.debug2.txt").read_bytes()
    ends = [m.end() for m in re.finditer(rb"\n", data)]
    for end in ends[::7]:
        check(data[:end], windows=(1 << 20, 300))


def test_big_repeated_dump_with_distinct_creators(tmp_path: Path) -> None:
    """Blocks that differ only in their arguments and creator ids share one reading."""
    blocks = []
    for gid in range(1, 3000):
        blocks.append(
            f"goroutine {gid} [chan send, {gid % 3} minutes]:\n"
            f"main.fetchOne(0x{gid:x}, 0xc000{gid:06x})\n\t/src/fanout.go:53 +0x65\n"
            f"created by main.fetchAll in goroutine {gid // 10 + 1}\n\t/src/fanout.go:33 +0x8e\n"
        )
    data = "\n".join(blocks).encode()
    slow = check(data, windows=(1 << 20, 4096))
    assert len(slow.tasks) == 2999
    assert {t.creator_id for t in slow.tasks} == set(range(1, 301))


def test_inputs_mapped_and_gzipped(tmp_path: Path) -> None:
    """A file is mapped, a gzip file decompressed as it is read: the same snapshot."""
    data = (GO_DUMPS / "go1.27" / "t1.debug2.txt").read_bytes()
    plain = tmp_path / "d.txt"
    plain.write_bytes(data)
    packed = tmp_path / "d.txt.gz"
    packed.write_bytes(gzip.compress(data))
    expected = go_text.parse_reference(data, str(plain))
    equal(load(str(plain)), expected)
    snap = load(str(packed))
    assert snap.tasks == expected.tasks
    assert snap.warnings == tuple(w.replace(str(plain), str(packed)) for w in expected.warnings)
    # Two members, the second cut: read as the one-shot decompression reads it.
    cut = gzip.compress(data) + gzip.compress(data)[:-40]
    snap = parse_bytes(cut, "x")
    assert snap.truncated
    assert snap.warnings[0] == "x: the gzip stream is cut short; read what it held"
    with pytest.raises(InputError, match="damaged gzip data"):
        parse_bytes(gzip.compress(data)[:20] + b"\x00" * 64 + gzip.compress(data)[84:], "x")


# Generated dumps: blocks of the forms the runtime prints, with arguments and creator ids that
# vary, and the odd lines that send a block down the line-by-line path.
FUNCS = st.sampled_from(
    ["main.f", "net/http.(*Server).Serve", "main.(*T).run.func1", "runtime.gopark", "x"]
)
FILES = st.sampled_from(["/src/a.go", "/usr/lib/go/src/runtime/proc.go", "C:/w/b.go"])
ARGS = st.sampled_from(["", "...", "0xc000010000, 0x3", "0x0?, {0x1, 0x2}", "(", ")", "x)"])
ODD = st.sampled_from(
    [
        "",
        " ",
        "...additional frames elided...",
        "...3 frames elided...",
        "[originating from goroutine 7]:",
        "non-Go function at pc=0x1",
        "\tgoroutine running on other thread; stack unavailable",
        "leaky: a log line",
        "exit status 2",
        "\t/only/a/file.go:3",
        "main.g(0x1)",
        "created by main.h(0x1)",
        "\tfoo() pc=0x12",
        "goroutine 0 [idle]:",
        "goroutine 3 [running]:",
    ]
)

CREATORS = st.sampled_from(["", " in goroutine 1", " in goroutine 12", " in goroutine #"])


@st.composite
def frame_lines(draw: st.DrawFn) -> list[str]:
    func, args, path = draw(FUNCS), draw(ARGS), draw(FILES)
    line = draw(st.integers(1, 999))
    offset = draw(st.sampled_from([" +0x1f", "", " +0x2 fp=0x1 sp=0x2 pc=0x3"]))
    return [f"{func}({args})", f"\t{path}:{line}{offset}"]


@st.composite
def blocks(draw: st.DrawFn) -> str:
    gid = draw(st.integers(0, 40))
    state = draw(
        st.sampled_from(
            ["running", "chan send, 3 minutes", "select (leaked)", "sleep, locked to thread"]
        )
    )
    labels = draw(st.sampled_from(["", " {a: b}", ' {"k k": "v"}']))
    gp = draw(
        st.sampled_from(["", " gp=0xc000007a40 m=nil", " gp=0x1 m=3 mp=0xc0001", " gp=x m=1"])
    )
    lines = [f"goroutine {gid}{gp} [{state}]{labels}:"]
    for _ in range(draw(st.integers(0, 4))):
        lines += draw(frame_lines())
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(ODD))
    if draw(st.booleans()):
        creator = draw(
            st.sampled_from(["", " in goroutine 1", " in goroutine 12", " in goroutine #"])
        )
        lines += [
            f"created by {draw(FUNCS)}{creator}",
            f"\t{draw(FILES)}:{draw(st.integers(1, 9))}",
        ]
    return "\n".join(lines)


DUMPS = st.tuples(
    st.lists(blocks(), max_size=12),
    st.sampled_from(["\n\n", "\n\n\n", "\n \n", "\n"]),
    st.sampled_from(["", "\n", "\n\n"]),
    st.sampled_from(["\n", "\r\n"]),
    st.integers(0, 3000),
).map(lambda t: (t[1].join(t[0]) + t[2]).replace("\n", t[3])[: len(t[0]) * 300 - t[4] % 300])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DUMPS)
def test_generated_dumps(dump: str) -> None:
    check(dump.encode(), windows=(1 << 20, 50, 1))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(blocks(), min_size=1, max_size=8), st.integers(1, 30))
def test_generated_repeats(found: list[str], times: int) -> None:
    """The same bodies again and again under fresh ids: the cached readings must hold."""
    out = []
    gid = 100
    for _ in range(times):
        for block in found:
            gid += 1
            out.append(re.sub(r"^goroutine \d+ ", f"goroutine {gid} ", block))
    check(("\n\n".join(out) + "\n").encode(), windows=(1 << 20, 200))


def test_upstream_present() -> None:
    """The corpus list above names every Go full-stack dump of the corpus."""
    if not UPSTREAM.exists():
        pytest.skip("upstream corpus not present")
    have = {
        str(p.relative_to(UPSTREAM))
        for p in UPSTREAM.glob("*/*.txt")
        if "debug1" not in p.name
        and p.parent.name in ("gostackparse", "goleak", "go-profiler-notes")
    }
    assert have == set(UPSTREAM_NAMES)
