"""aiomonitor's live-task JSON: the real captures of samples/python/leaky_asyncio.py under
aiomonitor (samples/python/dumps/aiomonitor/, from samples/regen-asyncio.sh), damaged and
hostile input, and ``snapdiff capture`` POSTing the form to a live aiomonitor."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapdiff.capture import to_snapshot
from snapdiff.capture.http import capture_url, request_for
from snapdiff.diff import diff
from snapdiff.errors import InputError
from snapdiff.group import GroupBy, group
from snapdiff.inputs import parse_bytes
from snapdiff.model import ASYNCIO_TASK, Frame, Snapshot
from snapdiff.runtimes import detect
from snapdiff.runtimes.python import RUNTIME as PY
from snapdiff.runtimes.python import aiomonitor_json
from tests.conftest import PY_DUMPS, SAMPLES

DUMPS = PY_DUMPS / "aiomonitor"
PAIR = (DUMPS / "t0.json", DUMPS / "t1.json")
SERVICE = SAMPLES / "python" / "leaky_asyncio.py"
RUNNER = SAMPLES / "python" / "leaky_asyncio_aiomonitor.py"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def service_line(marker: str) -> int:
    lines = SERVICE.read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if marker in line)


LEAK_LINE = service_line("# the leaking line")
AUDIT_LINE = service_line("keep(asyncio.create_task(audit(")
SWEEP_LINE = service_line("keep(asyncio.create_task(sweep(")
BACKGROUND_LINES = [service_line(f'name="{n}")') for n in ("heartbeat", "flush-metrics")]


def read(path: Path) -> Snapshot:
    return parse_bytes(path.read_bytes(), path.name)


def attempt(data: bytes) -> Snapshot | None:
    """A snapshot, or None for an InputError; any other exception fails the test."""
    try:
        return aiomonitor_json.parse(data, "input")
    except InputError:
        return None


def site_counts(snap: Snapshot) -> Counter[tuple[str, int]]:
    return Counter(
        {
            (k.file, k.line): len(v)
            for k, v in group(snap.tasks, GroupBy.SITE, rt=PY).items()
            if k.line
        }
    )


# --- the real captures -------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAIR, ids=lambda p: p.name)
def test_detected_and_read_whole(path: Path) -> None:
    data = path.read_bytes()
    source = detect(data[:4096])
    assert source is not None and source.name == aiomonitor_json.NAME
    snap = read(path)
    raw = json.loads(data)["tasks"]
    assert len(snap.tasks) == len(raw) > 0
    assert snap.source.format == aiomonitor_json.NAME and not snap.warnings
    assert all(t.kind == ASYNCIO_TASK and t.state == "pending" for t in snap.tasks)
    # Ids: the addresses as given, one per task.
    assert [t.id for t in snap.tasks] == [int(x["task_id"]) for x in raw]
    assert len({t.id for t in snap.tasks}) == len(raw)
    # The only frame is the coroutine, without "()".
    assert [t.frames[0].function + "()" for t in snap.tasks] == [x["coro"] for x in raw]
    roots = [t for t in snap.tasks if t.created_by is None]
    assert [t.frames[0].function for t in roots] == ["main"]


@pytest.mark.parametrize("path", PAIR, ids=lambda p: p.name)
def test_counts_per_creation_site_match_the_raw_json(path: Path) -> None:
    data = path.read_bytes()
    # Established without snapdiff: the json module, and a plain search of the bytes.
    expected: Counter[tuple[str, int]] = Counter()
    for item in json.loads(data)["tasks"]:
        if item["created_location"] != "-":
            file, line = item["created_location"].rsplit(":", 1)
            expected[(file.rsplit("/", 1)[-1], int(line))] += 1
    for (file, line), n in expected.items():
        assert data.count(f'{file}:{line}"'.encode()) == n
    assert site_counts(read(path)) == expected
    assert expected[("leaky_asyncio.py", LEAK_LINE)] > 5


def test_the_leaking_create_task_line_is_the_only_suspect() -> None:
    before, after = (read(p) for p in PAIR)
    result = diff(before, after)
    assert result.ids_comparable
    suspects = [g for g in result.groups if g.suspect]
    assert [(g.key.file, g.key.line, g.verdict) for g in suspects] == [
        ("leaky_asyncio.py", LEAK_LINE, "leak")
    ]
    leak = suspects[0]
    assert leak.key.function == aiomonitor_json.UNKNOWN_FUNCTION
    assert leak.survivors == leak.before and leak.after > leak.before
    by_line = {g.key.line: g for g in result.groups if g.key.file == "leaky_asyncio.py"}
    for line in BACKGROUND_LINES:
        assert by_line[line].verdict == "steady"
    assert by_line[SWEEP_LINE].verdict in ("churn", "turnover", "shrinking", "steady")
    assert not by_line[SWEEP_LINE].suspect
    if AUDIT_LINE in by_line:
        assert not by_line[AUDIT_LINE].suspect


# --- damaged and odd input ---------------------------------------------------------------------


def test_crlf_and_pretty_printed_read_the_same() -> None:
    data = PAIR[1].read_bytes()
    plain = attempt(data)
    assert plain is not None
    pretty = json.dumps(json.loads(data), indent=2).replace("\n", "\r\n").encode()
    again = parse_bytes(pretty, "pretty")
    assert again.source.format == aiomonitor_json.NAME
    assert again.tasks == plain.tasks


def test_cut_anywhere_keeps_the_complete_tasks_before_the_cut() -> None:
    data = PAIR[1].read_bytes()
    whole = aiomonitor_json.parse(data, "whole").tasks
    for end in range(1, len(data), 97):
        snap = attempt(data[:end])
        if snap is None:
            continue
        assert snap.tasks == whole[: len(snap.tasks)]
        assert snap.truncated and "cut short" in snap.warnings[0]
    cut = aiomonitor_json.parse(data[: len(data) // 2], "cut")
    assert 0 < len(cut.tasks) < len(whole)
    assert f"kept the {len(cut.tasks)} complete task objects" in cut.warnings[0]


def test_text_after_the_document_is_ignored_with_a_warning() -> None:
    data = PAIR[0].read_bytes() + b"\n$ echo done\ndone\n"
    snap = aiomonitor_json.parse(data, "x")
    assert len(snap.tasks) == len(json.loads(PAIR[0].read_bytes())["tasks"])
    assert snap.warnings == ("x: ignored 2 lines of other text after the JSON object",)
    assert not snap.truncated


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"[]",
        b'{"tasks": {}}',
        b'{"task": []}',
        b"\xff\xfe{",
        b'{"tasks": [' * 5000,
        b"<html>nope</html>",
        b'{"tasks": [{"task_id": "1"}]] junk',
    ],
)
def test_garbage_is_an_input_error(data: bytes) -> None:
    with pytest.raises(InputError):
        aiomonitor_json.parse(data, "junk")


def test_odd_entries_are_skipped_or_read_as_missing() -> None:
    doc = {
        "tasks": [
            1,
            None,
            {},
            {"task_id": 12, "name": 5, "coro": "f()", "created_location": "/x/y.py"},
            {"task_id": "9" * 60, "coro": "()", "created_location": "C:\\svc\\a.py:7"},
            {"task_id": "abc", "name": "n", "state": None, "created_location": ":"},
        ]
    }
    snap = aiomonitor_json.parse(json.dumps(doc).encode(), "odd")
    assert snap.warnings == ("odd: 3 entries are not aiomonitor task objects; skipped",)
    a, b, c = snap.tasks
    assert (a.id, a.name, a.frames[0].function) == (12, "", "f")
    assert a.created_by == Frame("?", "/x/y.py", 0)
    assert b.id is None and b.frames[0].function == "()"
    assert b.created_by == Frame("?", "C:\\svc\\a.py", 7)
    assert c.id is None and c.frames == () and c.state == ""


def test_without_the_task_factory_hook_a_warning_says_why() -> None:
    doc = {"tasks": [{"task_id": "1", "name": "Task-1", "coro": "main()", "created_location": "-"}]}
    snap = aiomonitor_json.parse(json.dumps(doc).encode(), "x")
    assert "hook_task_factory=True" in snap.warnings[0]


def test_sniff_is_specific() -> None:
    assert aiomonitor_json.sniff(b'{"tasks": []}')
    assert aiomonitor_json.sniff(b' \r\n{ "tasks" : [ { "task_id": "1"')
    others = [p for p in sorted(PY_DUMPS.glob("*/t*.json")) if p.parent != DUMPS]
    assert len(others) > 10
    for other in others:
        assert not aiomonitor_json.sniff(other.read_bytes()[:4096]), other
    assert not aiomonitor_json.sniff(b'{"format": "snapdiff-probe", "tasks": [{"id": 1}]}')
    assert not aiomonitor_json.sniff(b'{"tasks": [{"id": 1, "frames": []}]}')


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_FIELDS = st.sampled_from(["task_id", "state", "name", "coro", "created_location", "is_root"])


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_give_a_snapshot_or_an_input_error(data: bytes) -> None:
    attempt(data)
    attempt(b'{"tasks": [' + data)


@SETTINGS
@given(st.lists(st.dictionaries(_FIELDS, _JSON, max_size=6) | _JSON, max_size=5))
def test_any_task_fields_give_a_snapshot_or_an_input_error(items: list[Any]) -> None:
    data = json.dumps({"tasks": items}).encode()
    snap = attempt(data)
    assert snap is not None
    for end in (len(data) // 3, len(data) // 2, len(data) - 2):
        attempt(data[:end])


@SETTINGS
@given(st.integers(min_value=0, max_value=7036), st.binary(min_size=1, max_size=8))
def test_a_real_capture_with_bytes_replaced_never_crashes(at: int, junk: bytes) -> None:
    data = PAIR[1].read_bytes()
    attempt(data[:at] + junk + data[at + len(junk) :])


# --- capture: the form POST ----------------------------------------------------------------


def test_request_for_posts_a_form_only_to_the_live_task_list() -> None:
    assert request_for("/debug/pprof/goroutine?debug=2") == ("GET", b"")
    assert request_for("/api/live-tasks") == ("POST", b"")
    assert request_for("/prefix/api/live-tasks/") == ("POST", b"")
    assert request_for("/api/live-tasks?filter=audit&persistent=false") == (
        "POST",
        b"filter=audit&persistent=false",
    )
    assert request_for("/api/live-tasks-old") == ("GET", b"")


def aiomonitor_python() -> str:
    """A Python that imports aiomonitor: $AIOMONITOR_PYTHON, else this one."""
    for candidate in (os.environ.get("AIOMONITOR_PYTHON"), sys.executable):
        if candidate and shutil.which(candidate):
            probe = subprocess.run(
                [candidate, "-c", "import aiomonitor"], capture_output=True, timeout=60
            )
            if probe.returncode == 0:
                return candidate
    pytest.skip(
        "aiomonitor is not installed: set AIOMONITOR_PYTHON to a Python 3.11+ that has it "
        "(python3.11 -m venv /tmp/aiomon && /tmp/aiomon/bin/pip install aiomonitor)"
    )


class Monitored:
    """samples/python/leaky_asyncio_aiomonitor.py, running."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self.wait_for(r"^aiomonitor (http://\S+)$").group(1)
        self.wait_for(r"^orders ")
        self.started = time.monotonic()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the service never printed {pattern!r}") from None
            m = re.search(pattern, line)
            if m:
                return m


@pytest.fixture()
def monitored() -> Iterator[Monitored]:
    python = aiomonitor_python()
    proc = subprocess.Popen(
        [python, str(RUNNER), "--rate", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=SAMPLES.parent,
    )
    try:
        yield Monitored(proc)
    finally:
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()


@pytest.mark.slow
def test_capture_posts_the_form_to_a_live_aiomonitor(monitored: Monitored) -> None:
    url = monitored.url + "/api/live-tasks"
    time.sleep(max(0.0, monitored.started + 1.5 - time.monotonic()))
    first = capture_url(url, timeout=10)
    assert dict(first.details)["http_status"] == "200"
    assert first.origin == url
    before = to_snapshot(first)
    assert before.source.format == aiomonitor_json.NAME
    assert before.source.captured_at == first.captured_at
    time.sleep(3)
    after = to_snapshot(capture_url(url, timeout=10))
    suspects = [g for g in diff(before, after).groups if g.suspect]
    assert [(g.key.file, g.key.line, g.verdict) for g in suspects] == [
        ("leaky_asyncio.py", LEAK_LINE, "leak")
    ]
    # The URL's query becomes the form: aiomonitor filters by coroutine name.
    only = to_snapshot(capture_url(url + "?filter=wait_for_confirmation&persistent=false"))
    assert only.tasks and {t.frames[0].function for t in only.tasks} == {"wait_for_confirmation"}
    assert len(only.tasks) < len(after.tasks) + 20
