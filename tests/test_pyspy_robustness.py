"""The py-spy readers on damaged, odd and hostile input: a result or an InputError, nothing else.

Every real dump is read as-is, with CRLF, with trailing spaces, coloured as py-spy colours it
on a terminal, cut at many byte offsets, and (text) with log lines around and between its
threads. Synthetic inputs are made in memory from the real dumps.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapdiff import store
from snapdiff.errors import InputError
from snapdiff.group import site_key
from snapdiff.inputs import parse_bytes
from snapdiff.model import FLAG_PARTIAL, Snapshot
from snapdiff.runtimes import detect
from snapdiff.runtimes.python import RUNTIME as PY
from tests.conftest import PY_DUMPS

VERSIONS = ("py3.9", "py3.11", "py3.12", "py3.13")
ALL = sorted(p for v in VERSIONS for p in (PY_DUMPS / v).glob("t*.*"))
JSON_FILES = [p for p in ALL if p.suffix == ".json"]
TEXT_FILES = [p for p in ALL if p.suffix == ".txt"]
SMALL_JSON = [PY_DUMPS / v / "t0.json" for v in VERSIONS] + [PY_DUMPS / "py3.12" / "t1.json"]
SMALL_TEXT = [PY_DUMPS / v / "t0.txt" for v in VERSIONS] + [
    PY_DUMPS / "py3.12" / "t1.locals.txt",
    PY_DUMPS / "py3.13" / "t1.native.txt",
]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOSTILE_NAMES = [
    "ansi \x1b[31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07",
    "[bold]x[/bold] [chan receive]",
    "<script>alert(1)</script>",
    "tick `x` ``y`` ```z```",
    "nul\x00byte",
    'quote " inside',
    'paren) (idle): "x',
    'Thread 99 (idle): "fake"',
    "tab\tname",
    "| pipe | *star* _under_",
    "ünïcode ✓ 名前",
    "trailing space ",
    "\u202eright-to-left",
]


def ids(p: Any) -> str:
    return f"{p.parent.name}/{p.name}"


def attempt(data: bytes, source: str | None = None, **kw: Any) -> Snapshot | None:
    """A snapshot, or None for an InputError; any other exception fails the test."""
    try:
        return parse_bytes(data, "input", source, **kw)
    except InputError:
        return None


def strict(data: bytes, source: str | None = None) -> Snapshot:
    return parse_bytes(data, "input", source)


# --- each real dump several ways ---------------------------------------------------------------


@pytest.mark.parametrize("p", ALL, ids=ids)
def test_crlf_and_trailing_spaces_read_the_same(p):
    data = p.read_bytes()
    plain = strict(data)
    assert plain.tasks
    crlf = strict(data.replace(b"\n", b"\r\n"))
    assert crlf.tasks == plain.tasks
    assert not crlf.truncated
    if p.suffix == ".txt":
        spaced = strict(data.replace(b"\n", b"  \n"))
        assert spaced.tasks == plain.tasks
        assert spaced.skipped_lines == 0


def colourise(text: str) -> str:
    """What py-spy prints to a terminal (seen with ``script -qc 'py-spy dump ...'``)."""
    out = []
    for line in text.split("\n"):
        m = re.match(r"(Process )(\d+)(: .*)", line)
        if m:
            line = f"{m[1]}\x1b[33m\x1b[1m{m[2]}\x1b[0m{m[3]}"
        m = re.match(r"Python v(\S+) \((.*)\)$", line)
        if m:
            line = f"Python v\x1b[1m{m[1]}\x1b[0m (\x1b[2m{m[2]}\x1b[0m)"
        m = re.match(r"(Thread )(\S+)( \(.*)", line)
        if m:
            line = f"{m[1]}\x1b[33m\x1b[1m{m[2]}\x1b[0m{m[3]}"
        m = re.match(r"    (\S.*?) \((.*?)(?::(\d+))?\)$", line)
        if m:
            where = f"\x1b[36m{m[2]}\x1b[0m" + (f":\x1b[2m{m[3]}\x1b[0m" if m[3] else "")
            line = f"    \x1b[32m{m[1]}\x1b[0m ({where})"
        m = re.match(r"        (Arguments:|Locals:)$", line)
        if m:
            line = f"        \x1b[2m{m[1]}\x1b[0m"
        out.append(line)
    return "\r\n".join(out)  # a terminal turns \n into \r\n


@pytest.mark.parametrize("p", TEXT_FILES, ids=ids)
def test_coloured_terminal_output_reads_the_same(p):
    data = p.read_bytes()
    coloured = colourise(data.decode()).encode()
    assert b"\x1b[" in coloured
    source = detect(coloured)
    assert source is not None
    assert source.name == "pyspy-text"
    snap = strict(coloured)
    plain = strict(data)
    assert snap.tasks == plain.tasks
    assert snap.source.pid == plain.source.pid
    assert snap.source.producer == plain.source.producer
    assert snap.skipped_lines == 0
    assert "coloured terminal output" in snap.source.detail
    kept = parse_bytes(coloured, "input", keep_locals=True)
    assert kept.tasks == parse_bytes(data, "input", keep_locals=True).tasks


def complete_objects(data: bytes) -> int:
    """Top-level thread objects that end before the cut: py-spy's pretty JSON closes each with
    a ``}`` indented by two spaces (frames by six, locals by ten)."""
    return data.count(b"\n  }")


def offsets(size: int, n: int = 60) -> list[int]:
    step = max(1, size // n)
    return sorted({*range(1, size, step), 2, size - 1, size - 2, size - 3})


@pytest.mark.parametrize("p", [*SMALL_JSON, PY_DUMPS / "py3.9" / "t1.locals.json"], ids=ids)
def test_cut_json_keeps_the_complete_threads_before_the_cut(p):
    data = p.read_bytes()
    full = strict(data)
    for cut in offsets(len(data)):
        part = data[:cut]
        n = complete_objects(part)
        if part.rstrip().endswith(b"]"):
            assert strict(part).tasks == full.tasks
            continue
        snap = attempt(part)
        if n == 0:
            assert snap is None, cut
            with pytest.raises(InputError, match=r"^input: "):
                strict(part, "pyspy-json")
            continue
        assert snap is not None, cut
        assert snap.tasks == full.tasks[:n], cut
        assert snap.truncated
        assert snap.warnings[0] == (
            f"input: JSON cut short; kept the {n} complete thread objects before the cut"
        )


@pytest.mark.parametrize("p", SMALL_TEXT, ids=ids)
def test_cut_text_keeps_the_threads_before_the_cut(p):
    data = p.read_bytes()
    full = strict(data)
    for cut in offsets(len(data), 120):
        part = data[:cut]
        snap = attempt(part)
        if snap is None:
            assert b"\n    " not in part[part.find(b"\nThread ") :], cut  # no frame yet
            continue
        n = len(snap.tasks)
        assert snap.tasks[: n - 1] == full.tasks[: n - 1], cut
        last, whole = snap.tasks[-1], full.tasks[n - 1]
        assert last.id == whole.id
        assert whole.name.startswith(last.name)
        assert whole.frames[: len(last.frames)] == last.frames
        # A last line without its newline is a cut unless it is whole: a frame that ends in
        # its parenthesis, a header whose name's quote closed.
        tail = re.sub(rb"\x1b\[[0-9;]*m", b"", part.rsplit(b"\n", 1)[-1]).rstrip()
        whole = tail.endswith(b")") or (tail.startswith(b"Thread ") and tail.endswith(b'"'))
        assert snap.truncated == bool(tail and not whole)
        if snap.truncated:
            assert FLAG_PARTIAL in last.flags
            assert snap.warnings[0].startswith("input:")
            assert "the input ends in the middle of a line" in snap.warnings[0]


@pytest.mark.parametrize("p", TEXT_FILES, ids=ids)
def test_text_with_log_lines_around_and_between_threads(p):
    data = p.read_bytes().decode()
    log = [
        "2024-05-01T10:00:00.123Z INFO service started",
        "Thread pool started with 4 workers",
        "[2024-05-01 10:00:01] WARNING: Process 12 is slow",
        "$ py-spy dump --pid 17115",
    ]
    blocks = re.split(r"(?m)^(?=Thread )", data)
    injected = 0
    out = [*log]
    injected += len(log)
    for i, block in enumerate(blocks):
        out.append(block.rstrip("\n"))
        if i % 7 == 3:
            out.append("ERROR something unrelated happened (code 7)")
            injected += 1
    out += log[:2]
    injected += 2
    mixed = "\n".join(out) + "\n"
    snap = strict(mixed.encode())
    plain = strict(p.read_bytes())
    assert snap.tasks == plain.tasks
    # The shell prompt line is taken off before the reader sees it, and said so.
    assert snap.skipped_lines == injected - 1
    assert "1 shell prompt line" in snap.source.detail
    assert snap.source.pid == plain.source.pid


@pytest.mark.parametrize("p", SMALL_JSON, ids=ids)
def test_json_followed_by_other_text(p):
    data = p.read_bytes()
    snap = strict(data + b"exit status 0\r\n\n[1]+  Done\n")
    assert snap.tasks == strict(data).tasks
    assert not snap.truncated
    assert snap.warnings == ("input: ignored 2 lines of other text after the JSON array",)


def test_subprocesses_sections_are_read_one_after_another():
    a = (PY_DUMPS / "py3.11" / "t0.txt").read_text()
    b = (PY_DUMPS / "py3.12" / "t0.txt").read_text()
    header, rest = b.split("\n\n", 1)
    joined = a + "\n" + "-" * 80 + "\n" + header + "\nParent Process 1: /sbin/init\n\n" + rest
    snap = strict(joined.encode())
    assert snap.tasks == strict(a.encode()).tasks + strict(b.encode()).tasks
    assert snap.skipped_lines == 0
    assert snap.source.pid is None
    assert snap.warnings == ("input: 2 processes in one dump (--subprocesses)",)


# --- odd JSON ----------------------------------------------------------------------------------

ODD_VALUES: list[Any] = [None, "x", "", 1.5, -1, 0, True, [], {}, [1, "a"], {"k": None}]


def first_threads(n: int = 3) -> list[dict[str, Any]]:
    doc = json.loads((PY_DUMPS / "py3.12" / "t0.json").read_text())
    return doc[:n]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "field",
    [
        "pid",
        "thread_id",
        "thread_name",
        "os_thread_id",
        "active",
        "owns_gil",
        "frames",
        "process_info",
        "unknown",
    ],
)
def test_json_thread_field_of_any_type(field):
    for value in ODD_VALUES:
        doc = first_threads()
        doc[1][field] = value
        snap = attempt(orjson.dumps(doc), "pyspy-json")
        assert snap is not None
        if field == "frames" and not isinstance(value, list):
            assert len(snap.tasks) == 2
            assert "1 entries are not py-spy thread objects; skipped" in snap.warnings[0]
        else:
            assert len(snap.tasks) == 3
        del doc[1][field]
        assert attempt(orjson.dumps(doc), "pyspy-json") is not None


@pytest.mark.parametrize(
    "field",
    ["name", "filename", "module", "short_filename", "line", "locals", "is_entry", "is_shim_entry"],
)
def test_json_frame_field_of_any_type(field):
    for value in ODD_VALUES:
        for keep in (False, True):
            doc = first_threads()
            doc[1]["frames"][0][field] = value
            snap = attempt(orjson.dumps(doc), "pyspy-json", keep_locals=keep)
            assert snap is not None
            frame = snap.tasks[1].frames[0]
            assert isinstance(frame.function, str)
            assert isinstance(frame.file, str)
            assert isinstance(frame.line, int)
            assert frame.line >= 0


def test_json_frame_without_filename_takes_the_short_one():
    doc = first_threads()
    doc[1]["frames"][0]["filename"] = None
    snap = strict(orjson.dumps(doc))
    assert snap.tasks[1].frames[0].file == doc[1]["frames"][0]["short_filename"]


def test_json_numbers_beyond_64_bits():
    big = b"1" + b"0" * 30
    doc = orjson.dumps(first_threads()).replace(b'"line":', b'"line":' + big + b',"x":', 1)
    snap = attempt(doc, "pyspy-json")
    if snap is not None:  # orjson reads such a number as a float: a line that is not one
        assert snap.tasks[0].frames[0].line == 0
    doc = orjson.dumps(first_threads()).replace(
        b'"os_thread_id":', b'"os_thread_id":-' + big + b',"x":', 1
    )
    snap = attempt(doc, "pyspy-json")
    if snap is not None:
        assert isinstance(snap.tasks[0].id, int)


@pytest.mark.parametrize(
    "doc",
    [
        b'{"pid": 1, "frames": []}',
        b"[1, 2, 3]",
        b'["a", "b"]',
        b"[]",
        b"[[]]",
        b'[{"frames": 1}]',
        b'"text"',
        b"42",
        b"null",
        b'[{"pid": 1}]',
    ],
)
def test_valid_json_that_is_not_py_spy(doc):
    with pytest.raises(InputError, match=r"^input: "):
        strict(doc, "pyspy-json")
    with pytest.raises(InputError):
        strict(doc)


def test_json_dict_error_says_what_it_is():
    with pytest.raises(InputError, match="should be a list of threads, not a JSON object"):
        strict(b'{"pid": 1}', "pyspy-json")


def test_4096_threads_read_quickly():
    """py-spy's limit on threads; made from one real thread object with distinct ids."""
    proto = first_threads(1)[0]
    doc = []
    for i in range(4096):
        t = dict(proto, thread_id=10_000_000 + i, os_thread_id=1000 + i, thread_name=f"w-{i}")
        doc.append(t)
    data = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    start = time.perf_counter()
    snap = strict(data)
    groups = {site_key(t, PY) for t in snap.tasks}
    took = time.perf_counter() - start
    assert snap.total == 4096
    assert len(groups) == 1
    assert took < 2.0
    # The same cut in the middle: the salvage follows the nesting at C speed.
    start = time.perf_counter()
    cut = strict(data[: len(data) // 2])
    assert time.perf_counter() - start < 2.0
    assert cut.total == complete_objects(data[: len(data) // 2])
    text = "Process 1: python x.py\nPython v3.12.1 (python)\n\n" + "".join(
        f'Thread {1000 + i} (idle): "w-{i}"\n    f (x.py:1)\n    <module> (x.py:2)\n'
        for i in range(4096)
    )
    start = time.perf_counter()
    assert strict(text.encode()).total == 4096
    assert time.perf_counter() - start < 2.0


# --- text quirks -------------------------------------------------------------------------------


def test_text_ids_with_leading_zeros_or_too_many_digits():
    data = (
        'Thread 0123 (idle): "a"\n    f (x.py:1)\n'
        f'Thread {"9" * 30} (idle): "b"\n    g (x.py:2)\n'
        'Thread 0x7FAB12 (active+gil): "c"\n    h (x.py:3)\n'
    )
    snap = strict(data.encode(), "pyspy-text")
    assert [(t.id, t.name, t.state) for t in snap.tasks] == [
        (123, "a", "idle"),
        (0x7FAB12, "c", "active+gil"),
    ]
    assert snap.tasks[0].frames[-1].function == "g"  # the unreadable header was skipped
    assert snap.skipped_lines == 1
    assert "1 of 2 threads have no OS thread id" in snap.warnings[0]


def test_text_thread_without_a_name():
    snap = strict(b"Thread 0x7F00AA (idle)\n    f (x.py:1)\n", "pyspy-text")
    assert (snap.tasks[0].id, snap.tasks[0].name) == (0x7F00AA, "")


def test_text_name_with_newlines():
    """py-spy prints the name raw: a newline in it splits the header over several lines."""
    base = (PY_DUMPS / "py3.12" / "t0.txt").read_text()
    hostile = base.replace('"pool-1"', '"pool\nline two\n    not a (frame"', 1)
    snap = strict(hostile.encode())
    plain = strict(base.encode())
    assert len(snap.tasks) == len(plain.tasks)
    for got, want in zip(snap.tasks, plain.tasks, strict=True):
        assert got.frames == want.frames
        if want.name == "pool-1":
            assert got.name == "pool\nline two\n    not a (frame"
        else:
            assert got.name == want.name
    assert snap.skipped_lines == 0


def test_text_name_that_never_closes_keeps_the_frames():
    data = b'Thread 5 (idle): "open\nrest\n    f (x.py:1)\n    <module> (x.py:2)\n'
    snap = strict(data, "pyspy-text")
    assert snap.tasks[0].name == "open\nrest"
    assert [f.function for f in snap.tasks[0].frames] == ["f", "<module>"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_kept_as_data(name):
    doc = first_threads()
    doc[0]["thread_name"] = name
    snap = strict(orjson.dumps(doc))
    assert snap.tasks[0].name == name
    text = (PY_DUMPS / "py3.12" / "t0.txt").read_text()
    hostile = text.replace('"pool-2"', f'"{name}"', 1)  # raw between quotes, as py-spy prints
    tsnap = strict(hostile.encode())
    plain = strict(text.encode())
    got = {t.id: t for t in tsnap.tasks}
    for want in plain.tasks:
        assert got[want.id].frames == want.frames
        assert got[want.id].name == (name if want.name == "pool-2" else want.name)


def test_hostile_names_in_coloured_output_keep_their_own_escapes():
    text = (PY_DUMPS / "py3.12" / "t0.txt").read_text()
    name = HOSTILE_NAMES[0]
    snap = strict(colourise(text.replace('"pool-2"', f'"{name}"', 1)).encode())
    assert name in {t.name for t in snap.tasks}


def test_local_values_never_become_frames_or_threads():
    """A value line that looks like a frame or a header is still a value."""
    base = (PY_DUMPS / "py3.12" / "t1.locals.txt").read_text()
    evil = base.replace(
        '            db_password: "hunter2-not-a-real-password"',
        "            db_password: x (evil.py:1)\n"
        '            Thread 1 (idle): "forged"\n'
        "    forged_frame (evil.py:1)",
        1,
    )
    snap = strict(evil.encode())
    forged = [t for t in snap.tasks if any(f.file == "evil.py" for f in t.frames)]
    # Only the line indented as a frame (4 spaces) can be one: py-spy escapes newlines in
    # values, so a real dump cannot hold it; values stay out of frames and names.
    assert len(forged) == 1
    assert not any("forged" in t.name for t in snap.tasks)
    assert all("x (evil.py:1)" not in repr(t) for t in snap.tasks)


# --- properties --------------------------------------------------------------------------------


REAL = [p.read_bytes() for p in SMALL_JSON + SMALL_TEXT]


@SETTINGS
@given(st.binary(max_size=2048), st.sampled_from([None, "pyspy-json", "pyspy-text"]))
def test_random_bytes_never_crash(data, source):
    for keep in (False, True):
        attempt(data, source, keep_locals=keep)


@SETTINGS
@given(
    st.sampled_from(range(len(REAL))),
    st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 64), st.binary(max_size=16)),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_real_dumps_never_crash(which, edits):
    data = bytearray(REAL[which])
    for at, length, insert in edits:
        at %= len(data) + 1
        data[at : at + length] = insert
    for source in (None, "pyspy-json", "pyspy-text"):
        attempt(bytes(data), source, keep_locals=True)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "pid",
                    "thread_id",
                    "thread_name",
                    "os_thread_id",
                    "active",
                    "owns_gil",
                    "frames",
                    "name",
                    "filename",
                    "short_filename",
                    "line",
                    "locals",
                    "repr",
                    "module",
                    "x",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=30,
)


@SETTINGS
@given(st.lists(json_values, max_size=5))
def test_any_json_list_never_crashes(doc):
    data = orjson.dumps(doc)
    for keep in (False, True):
        snap = attempt(data, "pyspy-json", keep_locals=keep)
        if snap is not None:
            assert all(isinstance(t.name, str) for t in snap.tasks)


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
frame_names = st.text(
    st.characters(blacklist_categories=("Cs", "Zs", "Cc", "Zl", "Zp")), min_size=1, max_size=20
)


@SETTINGS
@given(
    st.lists(
        st.tuples(names, st.integers(1, 2**22), st.booleans(), st.lists(frame_names, max_size=5)),
        min_size=1,
        max_size=8,
    )
)
def test_json_round_trip(threads):
    doc = [
        {
            "pid": 7,
            "thread_id": 140000000000000 + tid,
            "thread_name": name,
            "os_thread_id": tid,
            "active": active,
            "owns_gil": False,
            "frames": [
                {"name": f, "filename": f"/src/{f}.py", "short_filename": f"{f}.py", "line": i + 1}
                for i, f in enumerate(frames)
            ],
        }
        for name, tid, active, frames in threads
    ]
    snap = strict(orjson.dumps(doc))
    assert [(t.name, t.id, t.state) for t in snap.tasks] == [
        (n, tid, "active" if a else "idle") for n, tid, a, _ in threads
    ]
    assert [[f.function for f in t.frames] for t in snap.tasks] == [f for *_, f in threads]
    again = store.loads(store.dumps(snap), "snap")
    assert again.tasks == snap.tasks


@SETTINGS
@given(
    st.lists(
        st.tuples(
            names.filter(lambda n: "\n" not in n and "\r" not in n),
            st.integers(1, 2**22),
            st.sampled_from(["idle", "active", "active+gil"]),
            st.lists(frame_names.filter(lambda f: "(" not in f), min_size=1, max_size=5),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_text_round_trip(threads):
    lines = ["Process 7: python app.py", "Python v3.12.1 (python)", ""]
    for name, tid, state, frames in threads:
        lines.append(f'Thread {tid} ({state}): "{name}"')
        lines += [f"    {f} ({f}.py:{i + 1})" for i, f in enumerate(frames)]
    snap = strict(("\n".join(lines) + "\n").encode(), "pyspy-text")
    assert [(t.name, t.id, t.state) for t in snap.tasks] == [
        (n, tid, s) for n, tid, s, _ in threads
    ]
    assert [[f.function for f in t.frames] for t in snap.tasks] == [f for *_, f in threads]
    assert snap.skipped_lines == 0
