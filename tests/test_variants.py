"""Dumps as people save and paste them (samples/variants/, see its README for the public dump
that shows each shape), and, when a folder of the public dumps themselves is at hand, the check
of bench/check_real_dumps.py over it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from snapdiff import inputs
from snapdiff.cli import app
from snapdiff.errors import UsageError
from snapdiff.model import FLAG_PARTIAL, Snapshot

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ROOT / "samples" / "variants"


def load(name: str, **kw: Any) -> Snapshot:
    return inputs.load(str(VARIANTS / name), **kw)


# file, format, tasks, what the detail line says was taken off (or the reader noticed)
CASES = [
    ("jvm-jdk21-carrier.txt", "jvm-text", 4, ""),
    ("jvm-jdk21-carrier.utf16le.txt", "jvm-text", 4, "UTF-16 (little-endian)"),
    ("jvm-jdk21-carrier.utf16bom.txt", "jvm-text", 4, "UTF-16 with a byte order mark"),
    ("jvm-visualvm-crlf.txt", "jvm-text", 3, '"name" - Thread t@N'),
    ("jvm-threadinfo.txt", "jvm-text", 3, "ThreadInfo.toString"),
    ("jvm-jdk5-two-dumps.txt", "jvm-text", 3, "1.5.0.11"),
    ("faulthandler-old-traceback.txt", "faulthandler-text", 1, "shell prompt"),
    ("faulthandler-py27-old-headers.txt", "faulthandler-text", 2, ""),
    ("faulthandler-journald-unindented.txt", "faulthandler-text", 2, "syslog prefix"),
    ("pyspy-two-hosts-transcript.txt", "pyspy-text", 1, "shell prompt"),
    ("pyspy-comment-prefix.txt", "pyspy-text", 2, "comment prefix"),
    ("pystack-rst-indented.txt", "pystack-text", 2, "an indent on every line"),
    ("node-v11-no-report-version.json", "node-report", 4, "without reportVersion"),
    ("go-kubectl-timestamps.txt", "go-goroutine-text", 3, "timestamp prefix"),
    ("go-cri-log.txt", "go-goroutine-text", 3, "container runtime log prefix"),
    ("go-curl-i.txt", "go-goroutine-text", 3, "HTTP status line and headers"),
    ("go-ticket-fenced.md", "go-goroutine-text", 3, "Markdown code fences"),
    ("go-two-sigquit.txt", "go-goroutine-text", 2, ""),
]


@pytest.mark.parametrize(("name", "fmt", "count", "said"), CASES, ids=[c[0] for c in CASES])
def test_each_variant_is_read_whole(name, fmt, count, said):
    snap = load(name)
    assert snap.source.format == fmt
    assert snap.total == count
    assert not snap.truncated, snap.warnings  # none of them is cut: no false "cut short"
    assert not any(FLAG_PARTIAL in t.flags for t in snap.tasks)
    assert said in snap.source.detail


def test_carrier_thread_is_read_with_its_virtual_thread():
    snap = load("jvm-jdk21-carrier.txt")
    carrier = next(t for t in snap.tasks if t.name == "ForkJoinPool-1-worker-1")
    assert carrier.id == 31
    assert carrier.state == "carrying virtual thread #57"
    assert carrier.frames[0].function == "jdk.internal.vm.Continuation.run"
    assert not snap.warnings  # every header is accounted for


def test_utf16_reads_as_the_utf8_dump():
    plain = load("jvm-jdk21-carrier.txt")
    for name in ("jvm-jdk21-carrier.utf16le.txt", "jvm-jdk21-carrier.utf16bom.txt"):
        assert load(name).tasks == plain.tasks


def test_visualvm_and_threadinfo_ids_and_states():
    vvm = {t.name: t for t in load("jvm-visualvm-crlf.txt").tasks}
    assert vvm["pool-7-thread-1"].id == 52
    assert vvm["pool-7-thread-1"].state.startswith("TIMED_WAITING")
    assert vvm["pool-7-thread-1"].frames[1].function == "LeakyService.awaitReply"
    info = {t.name: t for t in load("jvm-threadinfo.txt").tasks}
    assert (info["http-worker-1"].id, info["http-worker-1"].state) == (41, "WAITING")
    assert "daemon" in info["http-worker-1"].flags
    assert (info["RMI TCP Connection(3)-10.0.0.5"].id, info["pool-7-thread-1"].id) == (64, 52)


def test_jdk5_dump_without_jni_line_or_final_newline_is_whole():
    data = (VARIANTS / "jvm-jdk5-two-dumps.txt").read_bytes()
    assert not data.endswith(b"\n") and b"JNI global" not in data
    snap = load("jvm-jdk5-two-dumps.txt")
    assert [t.name for t in snap.tasks] == ["pool-7-thread-1", "http-worker-1", "VM Thread"]
    assert snap.tasks[-1].id == -12  # a VM thread: its nid (decimal, no 0x) negated
    assert (
        "2 thread dumps in one file (starting on lines 1, 10); read the last" in (snap.warnings[0])
    )


def test_a_dump_is_picked_with_dump_and_trend_reads_each():
    first = load("jvm-jdk5-two-dumps.txt", dump=1)
    assert [t.name for t in first.tasks] == ["http-worker-1", "VM Thread"]
    assert "read dump 1, lines 1-9" in first.warnings[0]
    with pytest.raises(UsageError, match="holds 2 dumps; --dump takes 1 to 2"):
        load("jvm-jdk5-two-dumps.txt", dump=3)
    each = inputs.load_each(str(VARIANTS / "go-two-sigquit.txt"))
    assert [s.total for s in each] == [3, 2]
    assert [s.source.origin.rsplit("#", 1)[1] for s in each] == ["1", "2"]
    assert "read each" in each[0].warnings[0] and not each[1].warnings


def test_the_cli_says_which_dump_it_read():
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["show", str(VARIANTS / "pyspy-two-hosts-transcript.txt"), "--dump", "1"],
        prog_name="snapdiff",
    )
    assert res.exit_code == 0, res.output
    assert "read 2 threads" in res.stderr
    assert "2 py-spy dumps in one file (starting on lines 2, 16); read dump 1" in res.stderr
    res = runner.invoke(
        app,
        ["trend", str(VARIANTS / "go-two-sigquit.txt"), "--every", "1m"],
        prog_name="snapdiff",
    )
    assert res.exit_code == 0, res.output
    assert "read 2 snapshots" in res.stderr


def test_a_last_dump_with_no_task_falls_back_to_the_one_before():
    text = (VARIANTS / "pyspy-two-hosts-transcript.txt").read_text()
    cut = text[: text.index("Thread 9120")]  # the second host's dump is cut before its threads
    snap = inputs.parse_bytes(cut.encode(), "cut.txt")
    assert snap.total == 2
    assert "read dump 1" in snap.warnings[0] and "dump 2 (line 16) has no task" in snap.warnings[0]


def test_headers_the_reader_does_not_take_are_named_with_their_lines():
    # A header mangled in a paste (a space after "tid="): it looks like a thread header, but
    # the reader does not take it.
    text = (VARIANTS / "jvm-jdk21-carrier.txt").read_text()
    broken = text.replace("tid=0x00007f1bb8006c00", "tid= 0x00007f1bb8006c00", 1)
    snap = inputs.parse_bytes(broken.encode(), "broken.txt")
    assert snap.total == 3
    said = snap.warnings[-1]
    assert said.startswith("broken.txt: read 3 threads of 4 headers; ")
    line = broken.split("\n").index(next(ln for ln in broken.split("\n") if "tid= 0x" in ln)) + 1
    assert f"1 thread headers not understood at lines {line}" in said


def test_a_cut_is_still_told_by_the_dump_itself():
    text = (VARIANTS / "jvm-jdk21-carrier.txt").read_text()
    cut = text[: text.index("(java.base@21.0.5/ForkJoinPool.java:1893)") + 20]
    snap = inputs.parse_bytes(cut.encode(), "cut.txt")
    assert snap.truncated and FLAG_PARTIAL in snap.tasks[-1].flags
    # cut after a whole frame line but before the VM threads and the JNI line: still a cut
    at_line_end = text[: text.index('"VM Thread"')]
    assert inputs.parse_bytes(at_line_end.encode(), "cut.txt").truncated


REAL = os.environ.get("SNAPDIFF_REAL_DUMPS")


@pytest.mark.skipif(
    not REAL or not Path(REAL).is_dir(),
    reason="set SNAPDIFF_REAL_DUMPS to a folder of public dumps (see bench/check_real_dumps.py)",
)
def test_every_real_dump_is_read_or_refused_with_a_reason():
    spec = importlib.util.spec_from_file_location("check", ROOT / "bench" / "check_real_dumps.py")
    assert spec is not None and spec.loader is not None
    check = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = check  # its dataclasses look their module up
    spec.loader.exec_module(check)
    rows = check.check(Path(str(REAL)))
    assert len(rows) >= 60
    wrong = [(r.file, r.expected, r.count, r.cut, r.why) for r in rows if r.result == "WRONG"]
    assert not wrong
