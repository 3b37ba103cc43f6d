"""JVM thread dumps: jstack / jstack -l / kill -3 text, jcmd JSON, Spring Boot actuator JSON.

The dumps under samples/java/dumps were captured from samples/java/LeakyService.java by
samples/regen-java.sh: a server pool of four ``http-worker-N`` threads, one fixed pool per
request (``pool-K-thread-1``) never shut down, on JDK 25 also one virtual thread per request in
its own executor, never closed. Counts are checked against the raw files, split apart here by
other means than the readers use.
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from snapdiff import runtimes
from snapdiff.cli import app
from snapdiff.diff import diff
from snapdiff.errors import InputError, ParseError
from snapdiff.group import GroupBy, entry_frame, group, site_key
from snapdiff.inputs import load, parse_bytes
from snapdiff.model import FLAG_DAEMON, FLAG_PARTIAL, Frame, Snapshot
from snapdiff.runtimes.jvm import RUNTIME as JVM
from tests.conftest import GO_DUMPS, PY_DUMPS, SAMPLES

JAVA = SAMPLES / "java"
DUMPS = JAVA / "dumps"
POOL = "java.util.concurrent.ThreadPoolExecutor$Worker.run"


def raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def dump(version: str, stem: str) -> Path:
    """A sample dump, gzipped or not."""
    for p in (DUMPS / version / stem, DUMPS / version / f"{stem}.gz"):
        if p.exists():
            return p
    raise FileNotFoundError(DUMPS / version / stem)


def read(version: str, stem: str) -> Snapshot:
    return load(str(dump(version, stem)))


def by_pattern(snap: Snapshot) -> Counter[str]:
    return Counter(site_key(t, JVM).name_pattern for t in snap.tasks)


_RAW_NAME = re.compile(rb'^"(pool-\d+-thread-\d+|http-worker-\d+)" #(\d+) ', re.M)


def raw_names(path: Path) -> Counter[str]:
    """Threads per name pattern in a text dump, by its header lines alone."""
    return Counter(re.sub(r"\d+", "N", m.group(1).decode()) for m in _RAW_NAME.finditer(raw(path)))


TEXT = [
    ("jdk17", "t0.txt"),
    ("jdk17", "t1.txt"),
    ("jdk17", "t0.l.txt"),
    ("jdk17", "t1.l.txt"),
    ("jdk17", "sigquit.txt"),
    ("jdk25", "t0.txt"),
    ("jdk25", "t1.txt"),
]
PAIRS = [
    ("jdk17", "t0.txt", "t1.txt"),
    ("jdk17", "t0.l.txt", "t1.l.txt"),
    ("jdk17", "t0.actuator.json", "t1.actuator.json"),
    ("jdk25", "t0.txt", "t1.txt"),
    ("jdk25", "t0.json", "t1.json"),
    ("jdk25", "t0.actuator.json", "t1.actuator.json"),
]


# --- counts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "stem"), TEXT, ids=str)
def test_text_counts_per_site_match_the_raw_headers(version, stem):
    path = dump(version, stem)
    snap = load(str(path))
    assert snap.source.format == "jvm-text"
    expected = raw_names(path)
    patterns = by_pattern(snap)
    assert patterns["http-worker-N"] == expected["http-worker-N"] == 4
    assert patterns["pool-N-thread-N"] == expected["pool-N-thread-N"] > 0
    assert snap.total == len(re.findall(rb'^"', raw(path), re.M))
    groups = group(snap.tasks, rt=JVM)
    pools = {k.name_pattern: len(v) for k, v in groups.items() if k.function == POOL}
    assert pools == {"http-worker-N": 4, "pool-N-thread-N": expected["pool-N-thread-N"]}
    assert not snap.truncated
    assert snap.warnings == ()


def test_thread_fields_from_jstack():
    snap = read("jdk17", "t0.txt")
    text = raw(dump("jdk17", "t0.txt")).decode()
    worker = next(t for t in snap.tasks if t.name == "http-worker-1")
    number = int(re.search(r'^"http-worker-1" #(\d+) ', text, re.M).group(1))
    assert worker.id == number
    assert worker.state == "WAITING (parking)"
    assert FLAG_DAEMON not in worker.flags
    assert worker.frames[0] == Frame("jdk.internal.misc.Unsafe.park")  # (Native Method)
    assert worker.frames[1] == Frame(
        "java.util.concurrent.locks.LockSupport.park", "LockSupport.java", 341
    )
    assert worker.frames[-1] == Frame("java.lang.Thread.run", "Thread.java", 840)
    assert entry_frame(worker, JVM).function == POOL
    # The lock lines ("- parking to wait for") are no frames.
    assert not any(f.function.startswith("-") for t in snap.tasks for f in t.frames)
    watcher = next(t for t in snap.tasks if t.name == "config-watcher")
    assert FLAG_DAEMON in watcher.flags
    # LeakyService$$Lambda$266/0x00007f7bc0162cc0.run(Unknown Source): numbers dropped.
    assert watcher.frames[-2] == Frame("LeakyService$$Lambda.run")
    source = (JAVA / "LeakyService.java").read_text().splitlines()
    start = source.index("    static void watchConfig() {")
    line = next(i for i in range(start, len(source)) if "NEVER.await()" in source[i]) + 1
    assert entry_frame(watcher, JVM) == Frame("LeakyService.watchConfig", "LeakyService.java", line)
    assert re.search(r"LeakyService\$\$Lambda\$\d+/0x[0-9a-f]+\.run", text)


def test_vm_internal_threads_are_kept_apart_from_sites():
    snap = read("jdk17", "t1.txt")
    vm = [t for t in snap.tasks if t.id is not None and t.id < 0]
    assert {t.name for t in vm} == {"VM Thread", "VM Periodic Task Thread"}
    assert all(not t.frames for t in vm)
    keys = {site_key(t, JVM) for t in vm}
    assert all(k.by == "none" and not k.function for k in keys)
    text = raw(dump("jdk17", "t1.txt")).decode()
    nid = int(re.search(r'^"VM Thread" .*nid=(0x[0-9a-f]+)', text, re.M).group(1), 16)
    assert next(t for t in vm if t.name == "VM Thread").id == -nid
    # The highest id is a #N thread number, not an OS thread id.
    assert snap.max_id == max(int(n) for n in re.findall(r'^".*" #(\d+) ', text, re.M))


def test_hostile_name_with_quotes_and_a_newline_is_read_raw():
    for version in ("jdk17", "jdk25"):
        snap = read(version, "t0.txt")
        odd = [t for t in snap.tasks if t.name.startswith("tenant")]
        assert [t.name for t in odd] == ['tenant "acme"\n[bold]audit[/bold] <x>']
        assert entry_frame(odd[0], JVM).function == "LeakyService.watchConfig"
        assert snap.skipped_lines == 0


def test_jstack_l_has_the_same_threads_as_jstack():
    plain, long = read("jdk17", "t0.txt"), read("jdk17", "t0.l.txt")
    # Two captures half a second apart: the long-lived threads are the same.
    ids_plain = {t.id for t in plain.tasks if not t.name.startswith("short-")}
    ids_long = {t.id for t in long.tasks if not t.name.startswith("short-")}
    assert ids_plain <= ids_long
    assert b"Locked ownable synchronizers" in raw(dump("jdk17", "t0.l.txt"))


def test_kill_3_output_with_log_lines_and_heap_summary_around_it():
    path = dump("jdk17", "sigquit.txt")
    text = raw(path).decode()
    snap = load(str(path))
    logs = len(re.findall(r"^\d{4}-\d\d-\d\dT.* INFO ", text, re.M))
    heap = text.split("\nHeap\n", 1)[1].split("\n\n", 1)[0].count("\n") + 2
    smr = 0  # the SMR block is part of the dump, not skipped
    assert logs >= 6
    assert snap.skipped_lines == logs + heap + smr
    assert by_pattern(snap)["http-worker-N"] == 4
    assert not snap.truncated


# --- diffs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "early", "late"), PAIRS, ids=str)
def test_diff_flags_the_per_request_pool_not_the_server_pool(version, early, late):
    result = diff(read(version, early), read(version, late))
    assert result.ids_comparable
    by_key = {(g.key.function, g.key.name_pattern): g for g in result.groups}
    leak = by_key[(POOL, "pool-N-thread-N")]
    steady = by_key[(POOL, "http-worker-N")]
    assert leak.suspect and leak.verdict == "leak"
    assert leak.survivors == leak.before > 0
    assert leak.after > leak.before
    assert not steady.suspect and steady.verdict == "steady"
    assert steady.before == steady.after == steady.survivors == 4
    suspects = {(g.key.function, g.key.name_pattern) for g in result.suspects}
    if early.endswith(".json") and "actuator" not in early:
        # jcmd's JSON also has the virtual threads: one leaked per request as well.
        assert suspects == {(POOL, "pool-N-thread-N"), ("LeakyService.awaitReply", "")}
        assert by_key[("LeakyService.consume", "")].verdict == "steady"
    else:
        assert suspects == {(POOL, "pool-N-thread-N")}
    assert not any(g.suspect for g in result.groups if g.key.by == "none")


def test_jcmd_json_virtual_threads_and_containers():
    snap = read("jdk25", "t1.json")
    doc = json.loads(raw(dump("jdk25", "t1.json")))["threadDump"]
    threads = [t for c in doc["threadContainers"] for t in c["threads"]]
    assert snap.total == len(threads)
    assert snap.source.pid == int(doc["processId"])
    assert snap.source.captured_at.startswith(doc["time"][:19])
    virtual = [t for t in snap.tasks if ("virtual", "true") in t.labels]
    assert len(virtual) == sum(1 for t in threads if t.get("virtual"))
    leaked = [t for t in virtual if entry_frame(t, JVM).function == "LeakyService.awaitReply"]
    per_request = [
        c
        for c in doc["threadContainers"]
        if c["container"].startswith("java.util.concurrent.ThreadPerTaskExecutor@")
        and len(c["threads"]) == 1
    ]
    assert len(leaked) == len(per_request) > 10
    assert all(
        ("container", "java.util.concurrent.ThreadPerTaskExecutor") in t.labels for t in leaked
    )
    # Same Java thread ids, same frames as jstack's for the platform threads.
    worker = next(t for t in snap.tasks if t.name == "http-worker-1")
    assert worker.frames[-1] == Frame("java.lang.Thread.run", "Thread.java", worker.frames[-1].line)
    assert entry_frame(worker, JVM).function == POOL


def test_jcmd_json_and_jstack_of_one_process_name_the_same_threads():
    text, js = read("jdk25", "t1.txt"), read("jdk25", "t1.json")
    named_text = {t.id: t.name for t in text.tasks if t.name.startswith(("pool-", "http-"))}
    named_json = {t.id: t.name for t in js.tasks if t.name.startswith(("pool-", "http-"))}
    common = named_text.keys() & named_json.keys()
    assert len(common) >= len(named_text) - 3  # captured a fraction of a second apart
    assert all(named_text[i] == named_json[i] for i in common)


def test_actuator_json_fields():
    path = dump("jdk17", "t0.actuator.json")
    doc = json.loads(raw(path))
    snap = load(str(path))
    assert snap.source.format == "spring-threaddump"
    assert snap.total == len(doc["threads"])
    first = doc["threads"][0]
    task = next(t for t in snap.tasks if t.id == first["threadId"])
    assert task.name == first["threadName"] and task.state == first["threadState"]
    assert (FLAG_DAEMON in task.flags) == first["daemon"]
    counts = Counter(re.sub(r"\d+", "N", t["threadName"]) for t in doc["threads"])
    assert by_pattern(snap)["pool-N-thread-N"] == counts["pool-N-thread-N"] > 0
    assert by_pattern(snap)["http-worker-N"] == 4


def test_actuator_json_with_sorted_keys_as_spring_boot_4_writes_it():
    data = raw(dump("jdk17", "t0.actuator.json"))
    resorted = orjson.dumps(orjson.loads(data), option=orjson.OPT_SORT_KEYS)
    assert resorted.startswith(b'{"threads":[{"blockedCount"')
    a, b = parse_bytes(data, "a"), parse_bytes(resorted, "b")
    assert b.source.format == "spring-threaddump"
    assert a.tasks == b.tasks


def test_actuator_json_with_null_properties_as_spring_boot_2_writes_them():
    doc = orjson.loads(raw(dump("jdk17", "t0.actuator.json")))
    for thread in doc["threads"]:
        thread.setdefault("lockName", None)
        thread.setdefault("lockInfo", None)
        for frame in thread["stackTrace"]:
            for key in ("classLoaderName", "moduleName", "moduleVersion", "fileName"):
                frame.setdefault(key, None)
    a = load(str(dump("jdk17", "t0.actuator.json")))
    b = parse_bytes(orjson.dumps(doc), "b")
    assert b.source.format == "spring-threaddump"
    assert a.tasks == b.tasks


def test_dumps_in_the_wrong_order_are_not_matched_by_id():
    result = diff(read("jdk17", "t1.txt"), read("jdk17", "t0.txt"))
    assert not result.ids_comparable
    (note,) = result.warnings
    assert note.startswith("the snapshots look swapped: the threads only in the first were born")
    assert not result.suspects


def test_json_report_carries_name_pattern_and_entry_function(tmp_path):
    result = CliRunner().invoke(
        app,
        ["diff", str(dump("jdk17", "t0.txt")), str(dump("jdk17", "t1.txt")), "-f", "json"],
        prog_name="snapdiff",
    )
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    groups = {(g["entry_function"], g["name_pattern"]): g for g in report["groups"]}
    leak = groups[(POOL, "pool-N-thread-N")]
    assert leak["suspect"] and leak["verdict"] == "leak"
    assert groups[(POOL, "http-worker-N")]["verdict"] == "steady"
    assert groups[("LeakyService.churn", "churn")]["verdict"] == "steady"
    assert "read 37 threads" not in result.stdout  # progress goes to stderr
    assert "jvm-text" in result.stderr


def test_formats_lists_the_jvm_readers():
    result = CliRunner().invoke(app, ["formats"], prog_name="snapdiff")
    for name in ("jvm-text", "jvm-json", "spring-threaddump"):
        assert name in result.stdout


# --- detection -------------------------------------------------------------------------------


JVM_FILES = sorted(p for p in DUMPS.glob("*/*") if p.name != "captures.tsv")
OTHER_FILES = sorted(
    p for p in [*GO_DUMPS.glob("*/*"), *PY_DUMPS.glob("*/*")] if p.suffix in (".txt", ".json")
)


@pytest.mark.parametrize("path", JVM_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_jvm_dumps_are_detected_as_theirs(path):
    head = raw(path)[: runtimes.SNIFF_BYTES]
    expected = (
        "spring-threaddump"
        if "actuator" in path.name
        else "jvm-json"
        if ".json" in path.name
        else "jvm-text"
    )
    assert runtimes.detect(head).name == expected


@pytest.mark.parametrize("path", OTHER_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_jvm_readers_take_no_go_or_python_dump(path):
    head = path.read_bytes()[: runtimes.SNIFF_BYTES]
    for name in ("jvm-text", "jvm-json", "spring-threaddump"):
        assert not runtimes.SOURCES[name].sniff(head)


# --- damaged and odd input -------------------------------------------------------------------


def test_crlf_tabs_as_spaces_and_log_lines_around_read_alike():
    data = raw(dump("jdk17", "t0.l.txt"))
    base = parse_bytes(data, "a")
    crlf = parse_bytes(data.replace(b"\n", b"\r\n"), "b")
    spaces = parse_bytes(data.replace(b"\t", b"        "), "c")
    logs = b"INFO starting\nWARN something odd\n" + data + b"INFO after the dump\n"
    logged = parse_bytes(logs, "d")
    for other in (crlf, spaces, logged):
        assert other.tasks == base.tasks
    assert logged.skipped_lines == base.skipped_lines + 3


def test_kill_3_twice_reads_the_last_dump_only():
    once = raw(dump("jdk17", "sigquit.txt"))
    earlier = raw(dump("jdk17", "t0.txt"))
    snap = parse_bytes(b"INFO up\n" + earlier + b"INFO more\n" + once, "stdout.log")
    alone = parse_bytes(once, "sigquit.txt")
    assert snap.tasks == alone.tasks
    assert any("2 thread dumps in one file" in w and "read the last" in w for w in snap.warnings)
    assert by_pattern(snap)["http-worker-N"] == 4


def test_jcmd_thread_print_gives_the_pid():
    data = raw(dump("jdk17", "t0.txt"))
    snap = parse_bytes(b"5374:\n" + data, "jcmd.txt")
    assert snap.source.pid == 5374
    assert snap.tasks == parse_bytes(data, "jstack.txt").tasks
    assert snap.skipped_lines == 0
    assert parse_bytes(data, "jstack.txt").source.pid is None


def test_log_line_between_a_threads_frames_does_not_end_it():
    data = raw(dump("jdk17", "t0.txt")).decode()
    anchor = "\tat java.util.concurrent.LinkedBlockingQueue.take("
    mixed = data.replace(anchor, "12:00:01 INFO GET /work done\n" + anchor, 1)
    a, b = parse_bytes(data.encode(), "a"), parse_bytes(mixed.encode(), "b")
    assert a.tasks == b.tasks
    assert b.skipped_lines == a.skipped_lines + 1


@pytest.mark.parametrize("cut_at", ["mid-line", "line-end"])
def test_truncated_in_the_middle_of_a_thread(cut_at):
    data = raw(dump("jdk17", "t1.txt"))
    full = parse_bytes(data, "full")
    at = data.index(b"\tat java.util.concurrent.ThreadPoolExecutor.getTask(", len(data) // 2)
    cut = data[: at + 20] if cut_at == "mid-line" else data[:at]
    snap = parse_bytes(cut, "cut.txt")
    assert snap.truncated
    assert FLAG_PARTIAL in snap.tasks[-1].flags
    assert sum(FLAG_PARTIAL in t.flags for t in snap.tasks) == 1
    assert snap.total < full.total
    assert any("cut short" in w and "cut.txt" in w for w in snap.warnings)
    assert snap.tasks[:-1] == full.tasks[: len(snap.tasks) - 1]


@pytest.mark.parametrize("stem", ["t1.json", "t1.actuator.json"])
def test_json_cut_short_keeps_the_threads_before_the_cut(stem):
    data = raw(dump("jdk25", stem))
    full = parse_bytes(data, "full")
    snap = parse_bytes(data[: len(data) // 2], "cut.json")
    assert snap.truncated
    assert 0 < snap.total < full.total
    assert snap.tasks == full.tasks[: len(snap.tasks)]
    assert any("cut short" in w for w in snap.warnings)


def test_garbage_forced_as_jvm_text_is_a_one_line_parse_error():
    with pytest.raises(ParseError) as info:
        parse_bytes(b"\nhello\nworld\n", "junk.txt", "jvm-text")
    assert str(info.value).startswith("junk.txt:2: no JVM thread header")
    assert str(info.value).endswith(": 'hello'")
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="not valid jcmd thread dump JSON"):
        parse_bytes(b'{"threadDump": nope', "x.json", "jvm-json")
    with pytest.raises(InputError, match='"threads" list'):
        parse_bytes(b'{"threads": 3}', "x.json", "spring-threaddump")


def test_jdk8_and_older_headers_from_documented_examples():
    # JDK 8: "#N" but no cpu= or elapsed=; JDK 6/7: no "#N", no os_prio=; JNI footer says
    # "references". Shapes as Oracle's troubleshooting guide prints them.
    text = (
        "2016-05-10 10:51:55\n"
        "Full thread dump Java HotSpot(TM) 64-Bit Server VM (25.91-b14 mixed mode):\n\n"
        '"pool-3-thread-1" #12 prio=5 os_prio=0 tid=0x00007f2ac4120800 nid=0x19f6 waiting on '
        "condition [0x00007f2aa8b3e000]\n"
        "   java.lang.Thread.State: WAITING (parking)\n"
        "\tat sun.misc.Unsafe.park(Native Method)\n"
        "\t- parking to wait for  <0x00000000d6e5c4d8> (a java.util.concurrent.locks."
        "AbstractQueuedSynchronizer$ConditionObject)\n"
        "\tat java.util.concurrent.LinkedBlockingQueue.take(LinkedBlockingQueue.java:442)\n"
        "\tat java.util.concurrent.ThreadPoolExecutor.getTask(ThreadPoolExecutor.java:1067)\n"
        "\tat java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1127)\n"
        "\tat java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:617)\n"
        "\tat java.lang.Thread.run(Thread.java:745)\n\n"
        '"Low Memory Detector" daemon prio=6 tid=0x02a7c800 nid=0xf20 runnable\n'
        "   java.lang.Thread.State: RUNNABLE\n\n"
        '"VM Thread" os_prio=0 tid=0x00007f2ac4072000 nid=0x19e7 runnable \n\n'
        '"GC task thread#0 (ParallelGC)" os_prio=0 tid=0x00007f2ac401e000 nid=0x19e3 runnable \n\n'
        "JNI global references: 6\n\n"
    )
    snap = parse_bytes(text.encode(), "jdk8.txt")
    assert snap.source.format == "jvm-text"
    assert snap.source.producer == "java 25.91-b14"
    assert [(t.id, t.name) for t in snap.tasks] == [
        (12, "pool-3-thread-1"),
        (-0xF20, "Low Memory Detector"),
        (-0x19E7, "VM Thread"),
        (-0x19E3, "GC task thread#0 (ParallelGC)"),
    ]
    pool = snap.tasks[0]
    assert entry_frame(pool, JVM).function == POOL
    assert site_key(pool, JVM).name_pattern == "pool-N-thread-N"
    assert FLAG_DAEMON in snap.tasks[1].flags
    assert not snap.truncated and snap.skipped_lines == 0


def test_lambda_and_hidden_class_names_group_alike_across_runs():
    a = b'"t-1" #5 prio=5 tid=0x1 nid=0x2 runnable\n\tat A$$Lambda$14/0x0000000800c0b448.run(Unknown Source)\n\tat java.lang.Thread.run(java.base@17.0.1/Thread.java:833)\n'  # noqa: E501
    b = b'"t-2" #9 prio=5 tid=0x1 nid=0x3 runnable\n\tat java.lang.invoke.LambdaForm$MH/0x0000000800c0c000.invoke(LambdaForm$MH)\n\tat app//A$$Lambda/0x00007f00deadbeef.run(Unknown Source)\n\tat java.lang.Thread.run(java.base@21/Thread.java:1583)\n'  # noqa: E501
    sa, sb = parse_bytes(a, "a"), parse_bytes(b, "b")
    assert sa.tasks[0].frames[0] == sb.tasks[0].frames[1] == Frame("A$$Lambda.run")
    assert sb.tasks[0].frames[0].function == "java.lang.invoke.LambdaForm$MH.invoke"
    ka = [k.function for k in group(sa.tasks, GroupBy.SITE, rt=JVM)]
    assert ka == ["A$$Lambda.run"]


def test_renamed_jvm_thread_is_still_a_survivor():
    before = b'"worker 1" #40 prio=5 tid=0x1 nid=0x2 waiting\n\tat A.loop(A.java:3)\n\tat java.lang.Thread.run(Thread.java:1)\n'  # noqa: E501
    after = before.replace(b'"worker 1"', b'"worker 17"')  # Thread.setName per request
    more = b'"worker 18" #41 prio=5 tid=0x1 nid=0x3 waiting\n\tat A.loop(A.java:3)\n\tat java.lang.Thread.run(Thread.java:1)\n'  # noqa: E501
    result = diff(parse_bytes(before, "a"), parse_bytes(after + more, "b"))
    g = result.groups[0]
    assert (g.before, g.after, g.survivors) == (1, 2, 1)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL = raw(dump("jdk17", "t0.l.txt"))


@SETTINGS
@given(st.data())
def test_damaged_dumps_read_or_fail_cleanly(data):
    """Cut, spliced and corrupted dumps: a snapshot or an InputError, never another error."""
    start = data.draw(st.integers(0, len(SMALL)))
    end = data.draw(st.integers(start, len(SMALL)))
    junk = data.draw(st.binary(max_size=64))
    blob = SMALL[:start] + junk + SMALL[end:]
    try:
        snap = parse_bytes(blob, "x.txt", "jvm-text")
    except InputError:
        return
    assert all(t.id is not None for t in snap.tasks)


# --- a live JVM ------------------------------------------------------------------------------


@pytest.mark.slow
def test_live_service_captured_twice_flags_the_leak(tmp_path):
    java, jstack = shutil.which("java"), shutil.which("jstack")
    if not java or not jstack:
        pytest.skip("no JDK (java, jstack) on PATH")
    proc = subprocess.Popen(
        [java, str(JAVA / "LeakyService.java")], stdout=subprocess.PIPE, text=True
    )
    try:
        pid, port = proc.stdout.readline().split()
        assert int(pid) == proc.pid

        def requests(n: int) -> None:
            for _ in range(n):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/work", timeout=10) as r:
                    r.read()

        def capture(name: str, *argv: str) -> Path:
            out = tmp_path / name
            out.write_bytes(subprocess.run(argv, capture_output=True, check=True).stdout)
            return out

        requests(5)
        first = capture("t0.txt", jstack, pid)
        requests(15)
        time.sleep(0.2)
        second = capture("t1.txt", jstack, "-l", pid)
        jcmd = shutil.which("jcmd")
        printed = capture("t1.jcmd.txt", jcmd, pid, "Thread.print") if jcmd else None
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    result = diff(load(str(first)), load(str(second)))
    by_key = {(g.key.function, g.key.name_pattern): g for g in result.groups}
    leak = by_key[(POOL, "pool-N-thread-N")]
    assert (leak.before, leak.after, leak.survivors, leak.verdict) == (5, 20, 5, "leak")
    assert by_key[(POOL, "http-worker-N")].verdict == "steady"
    assert [(g.key.function, g.key.name_pattern) for g in result.suspects] == [
        (POOL, "pool-N-thread-N")
    ]
    if printed is not None:
        snap = load(str(printed))
        assert snap.source.pid == proc.pid
        assert by_pattern(snap)["pool-N-thread-N"] == 20


def _thread(name: str, number: int | None, function: str) -> bytes:
    head = f'"{name}" ' + (f"#{number} " if number is not None else "")
    if number is None:  # a VM-internal thread: no number, no frames
        return f"{head}os_prio=0 tid=0x1 nid=0x{sum(map(ord, name)):x} runnable\n\n".encode()
    return (
        f"{head}prio=5 tid=0x1 nid=0x{number:x} waiting on condition\n"
        "   java.lang.Thread.State: WAITING (parking)\n"
        f"\tat {function}(App.java:7)\n\tat java.lang.Thread.run(Thread.java:840)\n\n"
    ).encode()


def test_id_clock_judges_a_new_site_and_ignores_the_vm_threads():
    steady = b"".join(_thread(f"steady-{i}", i, "App.serve") for i in range(1, 11))
    before = parse_bytes(steady + _thread("VM Thread", None, ""), "before.txt")
    born = b"".join(_thread(f"worker-{i}", i, "App.work") for i in range(12, 21))
    gc = b"".join(_thread(f"GC Thread#{i}", None, "") for i in range(4))
    after = parse_bytes(steady + born + _thread("VM Thread", None, "") + gc, "after.txt")
    result = diff(before, after)
    by_pattern_ = {g.key.name_pattern: g for g in result.groups}
    worker = by_pattern_["worker-N"]
    # Born steadily over ids 12-20 of the 11-20 created between the dumps: a leak.
    assert (worker.before, worker.after, worker.verdict) == (0, 9, "leak")
    # The VM's own threads have no number: no clock tells their age.
    assert by_pattern_["GC Thread#N"].verdict == "growing"
    assert not by_pattern_["GC Thread#N"].suspect
    assert by_pattern_["steady-N"].verdict == "steady"
