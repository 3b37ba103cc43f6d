"""Schedules, names and saving of captures (the capture itself is tested with real targets)."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from snapdiff import store
from snapdiff.capture.series import Target, default_name, parse_target, run_series, save
from snapdiff.errors import CaptureError, OutputError, UsageError
from snapdiff.inputs import load
from tests.conftest import GO_DUMPS

SNAP = load(str(GO_DUMPS / "go1.27" / "t0.debug2.txt"))
RAW = (GO_DUMPS / "go1.27" / "t0.debug2.txt").read_bytes()


@pytest.mark.parametrize(
    ("text", "pid", "expected"),
    [
        (None, 1234, Target(pid=1234)),
        ("1234", None, Target(pid=1234)),
        ("http://127.0.0.1:6060", None, Target(url="http://127.0.0.1:6060")),
        ("127.0.0.1:6060", None, Target(url="http://127.0.0.1:6060")),
        ("localhost:6060/debug/pprof/", None, Target(url="http://localhost:6060/debug/pprof/")),
    ],
)
def test_parse_target(text, pid, expected):
    assert parse_target(text, pid) == expected


@pytest.mark.parametrize(("text", "pid"), [(None, None), ("x y", None), ("1", 2), (None, -3)])
def test_parse_target_refuses(text, pid):
    with pytest.raises(UsageError):
        parse_target(text, pid)


def test_default_name_sorts_by_time_and_says_what_it_is():
    t = Target(url="http://10.0.0.1:6060")
    a = default_name("web-1", t, datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC))
    b = default_name("web-1", t, datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC))
    assert a == "snap-web-1-6060-20260102T030405.006Z.json.gz"
    assert a < b
    assert default_name("a/b c", Target(pid=9), datetime(2026, 1, 1, tzinfo=UTC)).startswith(
        "snap-a_b_c-9-"
    )


def test_save_to_folder_never_replaces(tmp_path):
    snap = SNAP
    first = save(snap, Target(pid=1), str(tmp_path) + "/", raw=RAW)
    second = save(snap, Target(pid=1), str(tmp_path) + "/", raw=RAW)
    assert first != second
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            first.rsplit("/", 1)[-1],
            second.rsplit("/", 1)[-1],
            first.rsplit("/", 1)[-1].replace(".json.gz", ".raw.gz"),
            second.rsplit("/", 1)[-1].replace(".json.gz", ".raw.gz"),
        ]
    )
    assert store.loads(gzip.decompress(Path(first).read_bytes()), first).tasks == snap.tasks
    assert (
        gzip.decompress(
            (tmp_path / first.rsplit("/", 1)[-1].replace(".json.gz", ".raw.gz")).read_bytes()
        )
        == RAW
    )


def test_save_to_file_needs_force(tmp_path):
    out = str(tmp_path / "s.json")
    save(SNAP, Target(pid=1), out)
    with pytest.raises(OutputError, match="already exists"):
        save(SNAP, Target(pid=1), out)
    save(SNAP, Target(pid=1), out, force=True)


def test_series_keeps_to_its_schedule_and_count():
    events = []
    t0 = time.monotonic()
    saved = run_series(
        lambda: (SNAP, None),
        lambda s, raw: f"snap-{len(events)}",
        every=0.05,
        count=4,
        on_event=events.append,
    )
    took = time.monotonic() - t0
    assert len(saved) == 4 == len(events)
    assert [e.index for e in events] == [1, 2, 3, 4]
    assert events[-1].next_in is None
    assert all(e.next_in is not None and e.next_in <= 0.05 for e in events[:-1])
    assert 0.15 <= took < 1.0


def test_series_stops_on_failure_unless_keep_going():
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] == 2:
            raise CaptureError("target went away")
        return SNAP, None

    events = []
    with pytest.raises(CaptureError):
        run_series(flaky, lambda s, r: "x", every=0.01, count=3, on_event=events.append)
    assert [e.error for e in events] == [None, "target went away"]

    calls["n"] = 0
    events.clear()
    saved = run_series(
        flaky, lambda s, r: "x", every=0.01, count=3, keep_going=True, on_event=events.append
    )
    assert len(saved) == 2
    assert [e.error is None for e in events] == [True, False, True]


def test_series_by_duration():
    saved = run_series(lambda: (SNAP, None), lambda s, r: "x", every=0.05, duration=0.12)
    assert len(saved) == 3
