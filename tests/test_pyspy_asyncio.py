"""py-spy-asyncio's ``dump --asyncio --json``: the real captures of samples/python/leaky_asyncio.py
(samples/python/dumps/py-spy-asyncio/, CPython 3.12 in asyncio debug mode, from
samples/regen-asyncio.sh), the creation site rule, and damaged and hostile input."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapdiff.diff import diff
from snapdiff.errors import InputError
from snapdiff.group import GroupBy, group
from snapdiff.inputs import parse_bytes
from snapdiff.model import ASYNCIO_TASK, THREAD, Frame, Snapshot
from snapdiff.runtimes import detect
from snapdiff.runtimes.python import RUNTIME as PY
from snapdiff.runtimes.python import pyspy_asyncio_json, pyspy_json
from snapdiff.runtimes.python.pyspy_asyncio_json import creation_site
from tests.conftest import PY_DUMPS, SAMPLES

DUMPS = PY_DUMPS / "py-spy-asyncio"
PAIR = (DUMPS / "t0.json", DUMPS / "t1.json")
SERVICE = SAMPLES / "python" / "leaky_asyncio.py"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SERVICE_LINES = SERVICE.read_text("utf-8").splitlines()


def service_line(marker: str) -> int:
    return next(i for i, line in enumerate(SERVICE_LINES, 1) if marker in line)


LEAK_LINE = service_line("# the leaking line")
SWEEP_LINE = service_line("keep(asyncio.create_task(sweep(")
# Every line of the service that makes a task: its create_task calls and asyncio.run.
MAKING_LINES = {
    i
    for i, line in enumerate(SERVICE_LINES, 1)
    if "asyncio.create_task(" in line or "asyncio.run(" in line
}


def read(path: Path) -> Snapshot:
    return parse_bytes(path.read_bytes(), path.name)


def attempt(data: bytes, **kw: Any) -> Snapshot | None:
    """A snapshot, or None for an InputError; any other exception fails the test."""
    try:
        return pyspy_asyncio_json.parse(data, "input", **kw)
    except InputError:
        return None


def doc(path: Path = PAIR[1]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_bytes())
    return loaded


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


# --- the real captures -------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAIR, ids=lambda p: p.name)
def test_detected_and_read_whole(path: Path) -> None:
    data = path.read_bytes()
    source = detect(data[:4096])
    assert source is not None and source.name == pyspy_asyncio_json.NAME
    snap = read(path)
    raw = json.loads(data)
    tasks = [t for t in snap.tasks if t.kind == ASYNCIO_TASK]
    threads = [t for t in snap.tasks if t.kind == THREAD]
    assert len(tasks) == len(raw["asyncio_tasks"]) > 0
    assert len(threads) == len(raw["threads"]) > 0
    assert not snap.warnings and snap.source.pid == raw["threads"][0]["pid"]
    assert [t.id for t in tasks] == [int(x["task_id"], 16) for x in raw["asyncio_tasks"]]
    assert [t.name for t in tasks] == [x["name"] for x in raw["asyncio_tasks"]]
    # Frames innermost first, as in the JSON: a leaked task waits in Event.wait.
    leaked = [t for t in tasks if t.frames[-1].function == "wait_for_confirmation"]
    assert leaked and all(t.frames[0].function == "Event.wait" for t in leaked)
    assert all(t.created_by is not None for t in tasks)
    assert not any(t.locals for t in snap.tasks)


@pytest.mark.parametrize("path", PAIR, ids=lambda p: p.name)
def test_threads_read_as_py_spy_reads_them(path: Path) -> None:
    raw = json.loads(path.read_bytes())
    alone = pyspy_json.parse(encode(raw["threads"]), "threads")
    assert [t for t in read(path).tasks if t.kind == THREAD] == list(alone.tasks)


@pytest.mark.parametrize("path", PAIR, ids=lambda p: p.name)
def test_counts_per_creation_site_match_the_raw_json(path: Path) -> None:
    data = path.read_bytes()
    # Established without snapdiff: the innermost frame of each creation traceback (printed
    # outermost first) that is a task-making line of the service's source.
    expected: Counter[tuple[str, int]] = Counter()
    for task in json.loads(data)["asyncio_tasks"]:
        sites = [
            (f["short_filename"], f["line"])
            for f in task["creation_traceback"]
            if f["filename"].endswith("/" + SERVICE.name) and f["line"] in MAKING_LINES
        ]
        expected[sites[-1]] += 1
    # The leak, by a plain search: each leaked task's traceback holds the line once.
    leak_frame = f'"line": {LEAK_LINE},'.encode()
    assert data.count(leak_frame) == expected[("leaky_asyncio.py", LEAK_LINE)] > 5
    got = Counter(
        {
            (k.file, k.line): len(v)
            for k, v in group(read(path).tasks, GroupBy.SITE, rt=PY).items()
            if k.kind == ASYNCIO_TASK
        }
    )
    assert got == expected


def test_the_leaking_create_task_line_is_the_only_suspect() -> None:
    before, after = (read(p) for p in PAIR)
    result = diff(before, after)
    assert result.ids_comparable and not result.warnings
    suspects = [g for g in result.groups if g.suspect]
    assert [(g.key.function, g.key.file, g.key.line, g.verdict) for g in suspects] == [
        ("handle_connection", "leaky_asyncio.py", LEAK_LINE, "leak")
    ]
    assert suspects[0].survivors == suspects[0].before > 0
    main = [g for g in result.groups if g.key.function == "main"]
    assert len(main) == 3 and all(g.verdict == "steady" for g in main)
    sweep = [g for g in result.groups if g.key.line == SWEEP_LINE]
    assert sweep and not sweep[0].suspect and sweep[0].survivors == 0
    threads = [g for g in result.groups if g.key.kind == THREAD]
    assert threads and all(g.verdict == "steady" for g in threads)


# --- the creation site -------------------------------------------------------------------------

LIB = "/usr/lib/python3.12/asyncio/"


def F(function: str, file: str, line: int = 1) -> Frame:
    return Frame(function, file, line)


LOOP = [
    F("_run", LIB + "events.py", 84),
    F("_run_once", LIB + "base_events.py"),
    F("run_forever", LIB + "base_events.py"),
    F("run", LIB + "runners.py"),
    F("<module>", "/srv/app.py", 9),
]


def test_site_is_the_caller_past_asyncio_and_a_task_factory() -> None:
    frames = [
        F("factory", "/srv/tracing.py"),
        F("create_task", LIB + "base_events.py"),
        F("create_task", LIB + "tasks.py"),
        F("handle", "/srv/app.py", 40),
        F("serve", "/srv/app.py", 30),
        *LOOP,
    ]
    assert creation_site(frames) == F("handle", "/srv/app.py", 40)


def test_site_of_gather_and_taskgroup_is_the_user_call() -> None:
    gather = [
        F("_ensure_future", LIB + "tasks.py"),
        F("ensure_future", LIB + "tasks.py"),
        F("gather", LIB + "tasks.py"),
        F("fan_out", "/srv/app.py", 12),
        *LOOP,
    ]
    assert creation_site(gather) == F("fan_out", "/srv/app.py", 12)
    taskgroup = [
        F("create_task", LIB + "base_events.py"),
        F("TaskGroup.create_task", "asyncio/taskgroups.py"),
        F("spawn", "app.py", 3),
    ]
    assert creation_site(taskgroup) == F("spawn", "app.py", 3)


def test_site_of_a_task_asyncio_made_itself_is_its_asyncio_caller() -> None:
    frames = [
        F("create_task", LIB + "base_events.py"),
        F("StreamReaderProtocol.connection_made", LIB + "streams.py", 260),
        *LOOP,
    ]
    made_by = F("StreamReaderProtocol.connection_made", LIB + "streams.py", 260)
    assert creation_site(frames) == made_by


def test_site_of_the_main_task_is_the_asyncio_run_call() -> None:
    frames = [F("run", LIB + "runners.py", 100), F("run", LIB + "runners.py"), LOOP[-1]]
    assert creation_site(frames) == LOOP[-1]


def test_site_without_asyncio_frames_is_the_innermost_and_windows_paths_count() -> None:
    assert creation_site([F("make", "/srv/a.py", 2), F("main", "/srv/a.py", 9)]) == F(
        "make", "/srv/a.py", 2
    )
    win = [
        F("create_task", "C:\\Python312\\Lib\\asyncio\\tasks.py"),
        F("handle", "C:\\srv\\app.py", 5),
        F("_run", "C:\\Python312\\Lib\\asyncio\\events.py"),
    ]
    assert creation_site(win) == F("handle", "C:\\srv\\app.py", 5)
    assert creation_site([]) is None
    assert creation_site(LOOP[:1]) is None


# --- odd and damaged input ---------------------------------------------------------------------


def test_names_none_of_python_3_13_drop_the_ids() -> None:
    d = doc()
    for task in d["asyncio_tasks"]:
        if task["name"].startswith("Task-"):
            task["name"] = "None"
    snap = pyspy_asyncio_json.parse(encode(d), "x")
    unnamed = [t for t in snap.tasks if t.kind == ASYNCIO_TASK and not t.name]
    assert unnamed and all(t.id is None for t in unnamed)
    assert not snap.has_ids
    assert any("no name" in w for w in snap.warnings)


def test_without_creation_tracebacks_a_warning_says_why() -> None:
    d = doc()
    for task in d["asyncio_tasks"]:
        task["creation_traceback"] = None
    snap = pyspy_asyncio_json.parse(encode(d), "x")
    assert all(t.created_by is None for t in snap.tasks)
    assert any("PYTHONASYNCIODEBUG=1" in w for w in snap.warnings)
    keys = group(snap.tasks, GroupBy.SITE, rt=PY)
    assert any(k.by == "entry" and k.function == "wait_for_confirmation" for k in keys)


def test_locals_are_dropped_unless_kept() -> None:
    d = doc()
    task = d["asyncio_tasks"][0]
    task["frames"][-1]["locals"] = [{"name": "api_token", "repr": "'s3cret'", "arg": True}]
    task["creation_traceback"][-1]["locals"] = [{"name": "x", "repr": "1"}]
    data = encode(d)
    dropped = pyspy_asyncio_json.parse(data, "x")
    assert not any(t.locals for t in dropped.tasks) and "locals dropped" in dropped.source.detail
    kept = pyspy_asyncio_json.parse(data, "x", keep_locals=True)
    first = kept.tasks[0]
    assert first.locals == ((len(first.frames) - 1, "api_token", "'s3cret'"),)
    assert sum(1 for t in kept.tasks if t.locals) == 1


def test_crlf_and_compact_read_the_same() -> None:
    data = PAIR[0].read_bytes()
    plain = pyspy_asyncio_json.parse(data, "x")
    crlf = parse_bytes(data.replace(b"\n", b"\r\n"), "crlf")
    compact = parse_bytes(json.dumps(json.loads(data), separators=(",", ":")).encode(), "c")
    assert crlf.tasks == plain.tasks == compact.tasks
    assert crlf.source.format == compact.source.format == pyspy_asyncio_json.NAME


def test_cut_anywhere_keeps_the_complete_objects_before_the_cut() -> None:
    data = PAIR[0].read_bytes()
    whole = pyspy_asyncio_json.parse(data, "whole").tasks
    n_tasks = len(doc(PAIR[0])["asyncio_tasks"])
    seen_threads_cut = False
    for end in range(1, len(data), 211):
        snap = attempt(data[:end])
        if snap is None:
            continue
        assert snap.truncated and "cut short" in snap.warnings[0]
        tasks = [t for t in snap.tasks if t.kind == ASYNCIO_TASK]
        threads = [t for t in snap.tasks if t.kind == THREAD]
        assert tasks == list(whole[: len(tasks)])
        if threads:
            seen_threads_cut = True
            assert len(tasks) == n_tasks
            assert threads == list(whole[n_tasks : n_tasks + len(threads)])
    assert seen_threads_cut


def test_text_after_the_document_is_ignored_with_a_warning() -> None:
    snap = pyspy_asyncio_json.parse(PAIR[0].read_bytes() + b"$ \n", "x")
    assert snap.warnings == ("x: ignored 1 lines of other text after the JSON object",)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{}",
        b'{"threads": []}',
        b'{"asyncio_tasks": {}}',
        b'{"asyncio_tasks": [',
        b"[" * 3000,
        b"\x00\x01",
    ],
)
def test_garbage_is_an_input_error(data: bytes) -> None:
    with pytest.raises(InputError):
        pyspy_asyncio_json.parse(data, "junk")


def test_odd_entries_are_skipped_and_counted() -> None:
    d = {
        "asyncio_tasks": [
            1,
            {"name": "no frames"},
            {"frames": [None, {"name": 3}], "task_id": "zz", "creation_traceback": [7]},
            {"frames": [], "task_id": 77, "name": "n", "state": 5},
        ],
        "threads": [None, {"frames": "x"}],
    }
    snap = pyspy_asyncio_json.parse(encode(d), "odd")
    assert "odd: 2 entries are not asyncio task objects; skipped" in snap.warnings
    assert "odd: 2 entries are not py-spy thread objects; skipped" in snap.warnings
    a, b = snap.tasks
    assert a.id is None and a.frames == (Frame("?"),) and a.created_by is None
    assert (b.id, b.state) == (77, "")


def test_sniff_is_specific() -> None:
    assert pyspy_asyncio_json.sniff(b'{"asyncio_tasks": []}')
    assert pyspy_asyncio_json.sniff(b'{"threads": [], "asyncio_tasks": []}')
    assert not pyspy_asyncio_json.sniff(b'{"threads": []}')
    others = [p for p in sorted(PY_DUMPS.glob("*/t*.json")) if p.parent != DUMPS]
    assert len(others) > 10
    for other in others:
        assert not pyspy_asyncio_json.sniff(other.read_bytes()[:4096]), other


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_FRAME = st.dictionaries(
    st.sampled_from(["name", "filename", "short_filename", "line", "locals", "module"]),
    _JSON,
    max_size=6,
)
_TASK = st.fixed_dictionaries(
    {},
    optional={
        "task_id": _JSON | st.sampled_from(["0x7f", "0X", "x", "-1", "0x" + "f" * 40]),
        "name": _JSON,
        "state": _JSON,
        "frames": st.lists(_FRAME | _JSON, max_size=3) | _JSON,
        "creation_traceback": st.lists(_FRAME | _JSON, max_size=4) | _JSON,
    },
)


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_give_a_snapshot_or_an_input_error(data: bytes) -> None:
    attempt(data)
    attempt(b'{"asyncio_tasks": [' + data)


@SETTINGS
@given(st.lists(_TASK | _JSON, max_size=4), st.lists(_TASK | _JSON, max_size=2), st.booleans())
def test_any_fields_give_a_snapshot_or_an_input_error(
    tasks: list[Any], threads: list[Any], keep: bool
) -> None:
    data = encode({"asyncio_tasks": tasks, "threads": threads})
    snap = attempt(data, keep_locals=keep)
    assert snap is not None
    for end in (len(data) // 3, len(data) // 2, len(data) - 2):
        attempt(data[:end], keep_locals=keep)


@SETTINGS
@given(st.integers(min_value=0, max_value=99000), st.binary(min_size=1, max_size=8))
def test_a_real_capture_with_bytes_replaced_never_crashes(at: int, junk: bytes) -> None:
    data = PAIR[0].read_bytes()
    attempt(data[:at] + junk + data[at + len(junk) :])


def test_a_real_task_with_its_fields_swapped_never_crashes() -> None:
    base = doc(PAIR[0])
    for key in ("task_id", "name", "state", "frames", "creation_traceback"):
        for value in (None, 1, "x", [], {}, [None], [[]], True, 1.5):
            d = copy.deepcopy(base)
            d["asyncio_tasks"][0][key] = value
            attempt(encode(d))
