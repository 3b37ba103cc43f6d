"""Go readers on every real dump read several ways, on cut input, and on generated junk.

Each way gives the same snapshot, or one flagged truncated with fewer or partial goroutines, or
an InputError; never another exception (STYLE.md point 11).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapdiff.errors import InputError
from snapdiff.inputs import parse_bytes
from snapdiff.model import Snapshot
from snapdiff.runtimes.go import go_debug1, go_text
from tests.conftest import GO_DUMPS, UPSTREAM

SAMPLE_FILES = sorted(p for p in GO_DUMPS.glob("go1.*/*.txt"))
UPSTREAM_FILES = sorted(
    p
    for sub in ("gostackparse", "goleak", "go-profiler-notes")
    for p in (UPSTREAM / sub).glob("*.txt")
)
ALL_FILES = SAMPLE_FILES + UPSTREAM_FILES
IDS = [str(p.relative_to(p.parents[1])) for p in ALL_FILES]
# empty_input.txt (0 bytes) has nothing to turn around; test_as_is covers it.
DUMPS = [p for p in ALL_FILES if p.stat().st_size]
DUMP_IDS = [str(p.relative_to(p.parents[1])) for p in DUMPS]

LOG_LINES = [
    "leaky: 2026/11/27 20:49:54.832159 status: goroutines=41 leaked=19",
    "exit status 2",
    "\x1b[31m[red]ERROR[/red]\x1b[0m \u202egnp.exe something went wrong: EOF",
    "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4a]",
]


def try_parse(data: bytes, origin: str = "t.txt") -> Snapshot | None:
    """The snapshot, or None for an InputError; anything else fails the test."""
    try:
        return parse_bytes(data, origin)
    except InputError:
        return None


def same(a: Snapshot, b: Snapshot) -> None:
    assert a.tasks == b.tasks
    assert a.truncated == b.truncated
    assert a.source.format == b.source.format


@pytest.fixture(scope="module")
def originals() -> dict[Path, Snapshot | None]:
    return {p: try_parse(p.read_bytes(), str(p)) for p in ALL_FILES if p.exists()}


@pytest.mark.parametrize("path", ALL_FILES, ids=IDS)
def test_as_is(path, originals):
    if not path.exists():
        pytest.skip(f"not present: {path}")
    snap = originals[path]
    if path.name == "empty_input.txt":
        assert snap is None
        return
    assert snap is not None and snap.tasks
    ids = [t.id for t in snap.tasks if t.id is not None]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", DUMPS, ids=DUMP_IDS)
@pytest.mark.parametrize("way", ["crlf", "spaces", "two-spaces"])
def test_line_ends_and_tabs(path, way, originals):
    assert originals[path] is not None
    data = path.read_bytes()
    changed = {
        "crlf": data.replace(b"\n", b"\r\n"),
        "spaces": data.replace(b"\t", b"        "),
        "two-spaces": data.replace(b"\t", b"  "),
    }[way]
    snap = try_parse(changed, str(path))
    assert snap is not None
    same(snap, originals[path])


@pytest.mark.parametrize("path", DUMPS, ids=DUMP_IDS)
def test_log_lines_around_blocks(path, originals):
    assert originals[path] is not None
    original = originals[path]
    data = path.read_bytes().decode()
    lines = data.split("\n")
    out: list[str] = [LOG_LINES[0], LOG_LINES[2]]
    added = 2
    for i, line in enumerate(lines):
        out.append(line)
        if line == "" and 0 < i < len(lines) - 1:
            # After the blank line that ends a block, before the next one.
            out.append(LOG_LINES[(i // 2) % len(LOG_LINES)])
            added += 1
    if data.endswith("\n"):
        out[-1:] = [LOG_LINES[1], ""]  # right after the last block, as "go run" prints
        added += 1
    snap = try_parse("\n".join(out).encode(), str(path))
    assert snap is not None
    same(snap, original)
    assert snap.skipped_lines == original.skipped_lines + added


@pytest.mark.parametrize(
    "name", ["go1.27/t1.debug2.txt", "go1.19/sigquit.txt", "go1.27/t1.goroutineleak.debug2.txt"]
)
def test_log_line_right_after_a_block(name):
    # A log line between the last frame line of a block and its blank line ends the block.
    data = (GO_DUMPS / name).read_text()
    original = try_parse(data.encode())
    noisy = data.replace("\n\ngoroutine ", "\n" + LOG_LINES[0] + "\n\ngoroutine ")
    snap = try_parse(noisy.encode())
    assert original is not None and snap is not None
    same(snap, original)
    assert snap.warnings == original.warnings


def check_cut(full: Snapshot, data: bytes, cut: int) -> None:
    part = data[:cut]
    snap = try_parse(part, "cut.txt")
    if snap is None:
        return  # an InputError: nothing recognisable before the cut
    if not snap.truncated:
        # Only a cut exactly at the end of a whole block goes unseen (Go prints nothing that
        # says a block was the last one); what was read is then exactly the start of the dump.
        # (or on a last line that looks whole: a pc offset may have lost a digit, which no
        # frame keeps).
        assert part.endswith(b"\n") or go_text._WHOLE_TAIL.match(part, part.rfind(b"\n") + 1), cut
        assert snap.tasks == full.tasks[: len(snap.tasks)], cut
        return
    assert snap.warnings, cut
    assert len(snap.tasks) <= len(full.tasks), cut
    tail = part[part.rfind(b"\n") + 1 :]
    # A last line that looks whole (a file line with its pc offset, a header) is read as a
    # line: the cut is then told by the block it leaves unfinished, not by the missing newline.
    whole = go_text._WHOLE_TAIL.match(tail) or go_debug1._WHOLE_LAST.search("\n" + tail.decode())
    if tail and not whole:
        assert any("ends in the middle of a line" in w for w in snap.warnings), cut
    if full.has_ids:
        by_id = {t.id: t for t in full.tasks}
        for task in snap.tasks:
            assert task.id in by_id, cut
            if "partial" not in task.flags:
                assert task == by_id[task.id], cut
    else:
        for mine, theirs in zip(snap.tasks, full.tasks, strict=False):
            if "partial" not in mine.flags:
                assert mine == theirs, cut


CUT_FILES = [
    GO_DUMPS / "go1.27" / "t0.debug2.txt",
    GO_DUMPS / "go1.19" / "t0.debug2.txt",
    GO_DUMPS / "go1.27" / "t0.debug1.txt",
    GO_DUMPS / "go1.19" / "t1.debug1.txt",
    UPSTREAM / "goleak" / "http.tracebackancestors.txt",
    UPSTREAM / "gostackparse" / "cgo.txt",
    UPSTREAM / "go-profiler-notes" / "2.runtime.stack.txt",
]


@pytest.mark.parametrize("path", CUT_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cut_every_97_bytes(path):
    if not path.exists():
        pytest.skip(f"not present: {path}")
    data = path.read_bytes()
    full = try_parse(data)
    assert full is not None
    for cut in range(1, len(data), 97):
        check_cut(full, data, cut)


@pytest.mark.parametrize("path", CUT_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_cut_at_every_line_end(path):
    # A cut that falls exactly on a line end leaves no half line behind.
    if not path.exists():
        pytest.skip(f"not present: {path}")
    data = path.read_bytes()
    full = try_parse(data)
    assert full is not None
    for m in re.finditer(rb"\n", data):
        check_cut(full, data, m.end())


def build_64mib(source: bytes) -> bytes:
    """``source`` repeated with new goroutine ids (id N of copy k becomes k * 1,000,000 + N, in
    headers and in "in goroutine N"), blank-line separated, cut at exactly 64 MiB."""
    limit = go_text.PPROF_HTTP_LIMIT
    copies = limit // (len(source) + 1) + 1
    number = re.compile(rb"goroutine ([0-9]+)")
    parts = [
        number.sub(lambda m, k=k: b"goroutine %d" % (k * 1_000_000 + int(m.group(1))), source)
        for k in range(copies)
    ]
    data = b"\n".join(parts)[:limit]
    assert len(data) == limit == 67_108_864
    return data


def test_64_mib_cut():
    data = build_64mib((GO_DUMPS / "go1.27" / "t1.debug2.txt").read_bytes())
    assert data[-1:] != b"\n"  # the cut falls inside a line
    whole_headers = len(re.findall(rb"(?m)^goroutine [0-9]+ \[[^\n]*:\n", data))
    main_goroutines = len(re.findall(rb"(?m)^goroutine (?:1|[0-9]+000001) \[[^\n]*:\n", data))
    tail = data[data.rindex(b"\n") + 1 :]
    snap = parse_bytes(data, "big.txt")
    assert snap.truncated
    assert any("exactly 64 MiB" in w for w in snap.warnings)
    assert len(snap.tasks) == len({t.id for t in snap.tasks}) == whole_headers
    partial = [t for t in snap.tasks if "partial" in t.flags]
    assert len(partial) == (0 if tail.startswith(b"goroutine ") else 1)
    if partial:
        assert partial[0] is snap.tasks[-1]
    whole = snap.tasks[: len(snap.tasks) - len(partial)]
    assert sum(t.created_by is None for t in whole) == main_goroutines
    assert all(t.flags == () for t in whole)


# --- Hypothesis ------------------------------------------------------------------------------

HOSTILE = st.sampled_from(
    [
        "\x1b[31m",
        "\x1b]8;;http://x\x07link\x1b]8;;\x07",
        "[red]",
        "[/]",
        "[bold red]x[/bold red]",
        "\x00",
        "\u202e",
        "\u2066",
        "\ufeff",
        "\ud7ff",
        "\r",
        "\t",
        "²",
        "٣",
        "9" * 30,
        '"',
        "\\",
        "{",
        "}",
        ": ",
        ", ",
    ]
)
FRAGMENTS = st.sampled_from(
    [
        "goroutine 1 [running]:",
        "goroutine 18 [chan send, 2 minutes, locked to thread]:",
        "goroutine 7 gp=0xc000007a40 m=nil [select (leaked)]:",
        "goroutine 9 gp=0xc0000061c0 m=3 mp=0xc000100008 [running]:",
        'goroutine 9 [select] {handler: /api, "a b": "x\\"y", k: }:',
        "goroutine 0 [idle]:",
        "goroutine 4 [chan receive (durable), synctest bubble 3]:",
        "main.main()",
        "net/http.(*Server).Serve(0xc00008c000, {0x738a20, 0xc0000ba0c0})",
        "main.goSleep(...)",
        "\t/usr/lib/go/src/net/http/server.go:3056 +0x364",
        "\truntime/proc.go:474 +0xca fp=0x326af1383ee8 sp=0x326af1383ec8 pc=0x48a1ca",
        "        /src/main.go:12",
        "\t_cgo_gotypes.go:56 +0x45",
        "\tpc=0x7f12",
        "created by main.start in goroutine 1",
        "created by main.main",
        "...additional frames elided...",
        "...4 frames elided...",
        "[originating from goroutine 24]:",
        "\tgoroutine running on other thread; stack unavailable",
        "non-Go function at pc=0x7f12",
        "",
        "",
        "panic: boom [recovered]",
        "exit status 2",
        "SIGQUIT: quit",
        "rax    0xca",
        "goroutine profile: total 3",
        "2 @ 0x103b125 0x106cd1f",
        '# labels: {"a":"b\\x00", "c":"\\U0001f600"}',
        "#\t0x106cd1e\ttime.Sleep+0xbe\t/usr/local/go/src/runtime/time.go:188",
        "#\t0x106cd1e",
    ]
)
LINE = st.one_of(
    FRAGMENTS,
    FRAGMENTS.flatmap(lambda f: HOSTILE.map(lambda h: f[: len(f) // 2] + h + f[len(f) // 2 :])),
    st.text(max_size=40),
    st.lists(HOSTILE, max_size=4).map("".join),
)
DUMP = st.tuples(st.lists(LINE, max_size=40), st.sampled_from(["\n", "\r\n"]), st.booleans()).map(
    lambda t: t[1].join(t[0]) + (t[1] if t[2] else "")
)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def never_raises(data: bytes) -> None:
    for reader in (go_text.parse, go_debug1.parse):
        snap = reader(data, "h.txt")  # the readers themselves never raise
        ids = [t.id for t in snap.tasks if t.id is not None]
        assert len(ids) == len(set(ids))
        assert all(0 < i < 1 << 64 for i in ids)
        for task in snap.tasks:
            assert task.count >= 0
            for frame in (*task.frames, *(f for f in [task.created_by] if f)):
                assert frame.line >= 0
                frame.function.encode()  # no lone surrogates
            for key, value in task.labels:
                (key + value).encode()
    try_parse(data)


@SETTINGS
@given(st.binary(max_size=2000))
def test_any_bytes(data):
    never_raises(data)


@SETTINGS
@given(DUMP)
def test_dump_like_text(dump):
    never_raises(dump.encode("utf-8", errors="surrogatepass"))


@SETTINGS
@given(st.text(max_size=60), st.text(max_size=60))
def test_any_label_text(key, value):
    quoted = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    header = f"goroutine 5 [select] {{{quoted}: {value}}}:\nmain.f()\n\t/f.go:1 +0x1\n"
    never_raises(header.encode("utf-8", errors="surrogatepass"))
