"""The Node.js report reader on real reports of samples/node/leaky_sockets.js and handle_zoo.js.

Expected numbers come from the raw files, never from the reader: the tables below were counted
in the reports with the standard library's json (tcp handles by remote or local port, other
handles by type), and the tests that check ids, names and frames read the raw files themselves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from snapdiff import store
from snapdiff.cli import app
from snapdiff.diff import diff
from snapdiff.errors import InputError
from snapdiff.group import GroupBy, key_for, site_key
from snapdiff.inputs import load, parse_bytes
from snapdiff.model import LIBUV_HANDLE, THREAD, Snapshot
from snapdiff.runtimes import detect
from snapdiff.runtimes.node import RUNTIME as NODE
from snapdiff.runtimes.node import node_report
from tests.conftest import GO_DUMPS, PY_DUMPS, SAMPLES

NODE_DUMPS = SAMPLES / "node" / "dumps" / "node20"
API, UPSTREAM, AUDIT = 18080, 18081, 18082
LEAK = f"tcp connected to 127.0.0.1:{AUDIT}"
POOL = f"tcp connected to 127.0.0.1:{UPSTREAM}"
CALLERS = f"tcp accepted on 127.0.0.1:{API}"
INTERNAL = {"async": 3, "check": 2, "idle": 1, "prepare": 1, "signal SIGUSR2": 1}
# Handles per group key in each report: audit connections (the leak) grow, the rest stay.
EXPECTED = {
    "t0.json": Counter(
        {LEAK: 6, POOL: 3, CALLERS: 3, f"tcp listening on 127.0.0.1:{API}": 1, "timer": 1}
    )
    + Counter(INTERNAL),
    "t1.json": Counter(
        {
            LEAK: 36,
            POOL: 3,
            CALLERS: 3,
            f"tcp listening on 127.0.0.1:{API}": 1,
            "timer": 1,
            "timer (unref)": 1,
        }
    )
    + Counter(INTERNAL),
}
SECRET = "sk-node-not-a-real-secret"


def raw(name: str) -> dict[str, object]:
    doc = json.loads((NODE_DUMPS / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def raw_handles(name: str) -> list[dict[str, object]]:
    handles = raw(name)["libuv"]
    assert isinstance(handles, list)
    return [h for h in handles if h["type"] != "loop"]


def read(name: str) -> Snapshot:
    return load(str(NODE_DUMPS / name))


def handle_groups(snap: Snapshot) -> Counter[str]:
    return Counter(site_key(t, NODE).label() for t in snap.tasks if t.kind == LIBUV_HANDLE)


def with_secret(name: str) -> bytes:
    """A real report with what a real environment would hold: a token in its variables."""
    doc = raw(name)
    doc["environmentVariables"] = {"API_TOKEN": SECRET, "PATH": "/usr/bin"}
    return json.dumps(doc, indent=2).encode()


# --- counts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["t0.json", "t1.json"])
def test_handles_per_type_and_endpoint(name):
    snap = read(name)
    assert snap.source.format == "node-report"
    assert handle_groups(snap) == EXPECTED[name]
    assert not snap.truncated
    assert snap.warnings == ()
    assert snap.skipped_lines == 0


@pytest.mark.parametrize("name", ["t0.json", "t1.json"])
def test_counts_agree_with_the_raw_handles(name):
    handles = raw_handles(name)
    by_port: Counter[tuple[str, int | None, int | None]] = Counter()
    for h in handles:
        local, remote = h.get("localEndpoint"), h.get("remoteEndpoint")
        by_port[
            (
                str(h["type"]),
                local["port"] if isinstance(local, dict) else None,
                remote["port"] if isinstance(remote, dict) else None,
            )
        ] += 1
    to_audit = sum(n for (t, _, r), n in by_port.items() if (t, r) == ("tcp", AUDIT))
    to_upstream = sum(n for (t, _, r), n in by_port.items() if (t, r) == ("tcp", UPSTREAM))
    accepted = sum(n for (t, lp, r), n in by_port.items() if (t, lp) == ("tcp", API) and r)
    groups = handle_groups(read(name))
    assert (groups[LEAK], groups[POOL], groups[CALLERS]) == (to_audit, to_upstream, accepted)
    assert sum(groups.values()) == len(handles)


@pytest.mark.parametrize("name", ["t0.json", "t1.json"])
def test_fields_of_each_handle(name):
    snap = read(name)
    handles = [t for t in snap.tasks if t.kind == LIBUV_HANDLE]
    for task, h in zip(handles, raw_handles(name), strict=True):
        assert task.id == int(str(h["address"]), 16)
        assert task.state.startswith("active" if h["is_active"] else "inactive")
        assert task.state.endswith("(unref)") == (h["is_referenced"] is False)
        assert len(task.frames) == 1
        local, remote = h.get("localEndpoint"), h.get("remoteEndpoint")
        if h["type"] == "tcp" and isinstance(local, dict) and isinstance(remote, dict):
            assert task.name == (
                f"{remote['ip4']}:{remote['port']} -> {local['ip4']}:{local['port']}"
                if local["port"] == API
                else f"{local['ip4']}:{local['port']} -> {remote['ip4']}:{remote['port']}"
            )


def test_header_gives_the_source_info():
    header = raw("t1.json")["header"]
    assert isinstance(header, dict)
    snap = read("t1.json")
    assert snap.source.pid == header["processId"]
    assert snap.source.producer == f"node {header['nodejsVersion']}"
    assert snap.source.host == header["host"]
    stamp = int(header["dumpEventTimeStamp"])
    captured = snap.source.captured_at
    assert captured is not None and captured.endswith("Z")
    assert captured[:19] == time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(stamp / 1000))
    assert captured[20:23] == f"{stamp % 1000:03d}"
    assert "event SIGUSR2 (Signal)" in snap.source.detail


def test_a_signal_report_has_an_idle_main_thread():
    """Written from the idle event loop: the JavaScript stack is empty."""
    assert raw("t1.json")["javascriptStack"] == {"message": "", "errorProperties": {}}
    threads = [t for t in read("t1.json").tasks if t.kind == THREAD]
    assert [(t.name, t.id, t.frames, t.state) for t in threads] == [("main", 0, (), "idle")]


def test_a_timer_leak_does_not_show_in_the_libuv_list():
    """The service leaks one setInterval per request, as many as audit connections; Node runs
    them all on one libuv timer handle."""
    for name in ("t0.json", "t1.json"):
        leaked = handle_groups(read(name))[LEAK]
        timers = sum(1 for h in raw_handles(name) if h["type"] == "timer")
        assert leaked >= 6 and timers <= 2


# --- the handle zoo: every kind of key, worker threads, a JavaScript stack ----------------------


def test_zoo_keys_each_kind_of_handle():
    doc = raw("handles.json")
    handles = [h for h in doc["libuv"] if h["type"] != "loop"]  # type: ignore[union-attr]
    listen = next(
        h
        for h in handles
        if h["type"] == "tcp" and h["remoteEndpoint"] is None and not h["readable"]
    )
    port = listen["localEndpoint"]["port"]
    path = next(h["localEndpoint"] for h in handles if h["type"] == "pipe" and h["localEndpoint"])
    watched = next(h["filename"] for h in handles if h["type"] == "fs_event")
    groups = handle_groups(read("handles.json"))
    assert groups[f"tcp listening on 127.0.0.1:{port}"] == 1
    assert groups[f"tcp accepted on 127.0.0.1:{port}"] == 1
    assert groups[f"tcp connected to 127.0.0.1:{port}"] == 1
    assert groups["tcp connected to 198.51.100.1:9"] == 1
    assert (
        sum(n for k, n in groups.items() if re.fullmatch(r"tcp listening on \[::1\]:\d+", k)) == 1
    )
    assert groups["udp bound to 127.0.0.1:*"] == 1
    assert groups["udp connected to 127.0.0.1:9"] == 1
    assert groups[f"pipe listening on {path}"] == 1
    assert groups[f"pipe accepted on {path}"] == 1
    assert groups[f"pipe connected to {path}"] == 1
    assert groups["pipe"] == 3  # the child's stdin, stdout and stderr
    assert groups["process"] == 1
    assert groups[f"fs_event {watched}"] == 1
    assert groups["signal SIGUSR1"] == 1
    worker = doc["workers"][0]  # type: ignore[index]
    worker_handles = [h for h in worker["libuv"] if h["type"] != "loop"]
    assert sum(groups.values()) == len(handles) + len(worker_handles)


def test_zoo_threads_and_their_stacks():
    doc = raw("handles.json")
    snap = read("handles.json")
    threads = [t for t in snap.tasks if t.kind == THREAD]
    assert [t.name for t in threads] == ["main", "worker 1"]
    main, worker = threads
    lines = doc["javascriptStack"]["stack"]  # type: ignore[index]
    assert len(main.frames) == len(lines) == 7
    assert (main.frames[0].function, main.frames[0].file, main.frames[0].line) == (
        "Object.writeReport",
        "node:internal/process/report",
        27,
    )
    assert [f.function for f in main.frames[1:5]] == ["writeNested"] * 4
    assert all(f.file.endswith("handle_zoo.js") for f in main.frames[1:6])
    assert main.frames[-1].function == "listOnTimeout"
    assert key_for(main, GroupBy.LEAF, NODE).function == "Object.writeReport"
    # The worker's report says "No stack." / "Unavailable.": no frames.
    assert worker.frames == () and worker.id == 1
    assert "1 worker thread" in snap.source.detail


def test_cluster_worker_connections_are_accepted_without_a_listener():
    """The listener of a cluster worker is the primary's: the worker's report has none."""
    handles = [h for h in raw("cluster.json")["libuv"] if h["type"] == "tcp"]  # type: ignore[union-attr]
    assert len(handles) == 6 and all(h["remoteEndpoint"] for h in handles)
    port = min(h["localEndpoint"]["port"] for h in handles)
    groups = handle_groups(read("cluster.json"))
    assert groups[f"tcp accepted on 127.0.0.1:{port}"] == 3
    assert groups[f"tcp connected to 127.0.0.1:{port}"] == 3


# A socket whose connect had not completed (its SYN unanswered), as a Node 20 report printed it:
# no remote endpoint yet, but readable and writable, unlike a listener.
CONNECTING = {
    "type": "tcp",
    "is_active": False,
    "is_referenced": True,
    "address": "0x00000000447f4950",
    "localEndpoint": {"host": "192.0.2.2", "ip4": "192.0.2.2", "port": 46078},
    "remoteEndpoint": None,
    "sendBufferSize": 16384,
    "recvBufferSize": 131072,
    "fd": 28,
    "writeQueueSize": 0,
    "readable": True,
    "writable": True,
}


def test_a_connect_in_progress_is_not_a_listener():
    doc = raw("t0.json")
    handles = doc["libuv"]
    assert isinstance(handles, list)
    handles.insert(0, CONNECTING)
    snap = parse_bytes(json.dumps(doc).encode(), "t0.json")
    groups = handle_groups(snap)
    assert groups["tcp not connected, from 192.0.2.2"] == 1
    assert groups - Counter({"tcp not connected, from 192.0.2.2": 1}) == EXPECTED["t0.json"]
    task = next(t for t in snap.tasks if t.name == "192.0.2.2:46078")
    assert task.state == "inactive"


# --- the diff -----------------------------------------------------------------------------------


def test_diff_flags_the_leaking_endpoint_and_not_the_pools():
    result = diff(read("t0.json"), read("t1.json"))
    by_label = {g.key.label(): g for g in result.groups}
    assert [g.key.label() for g in result.suspects] == [LEAK]
    leak = by_label[LEAK]
    assert (leak.before, leak.after, leak.verdict, leak.confidence) == (6, 36, "leak", "high")
    assert leak.survivors == 6  # the same connections (address and both ports) still open
    for steady in (POOL, CALLERS, f"tcp listening on 127.0.0.1:{API}"):
        g = by_label[steady]
        assert (g.verdict, g.suspect, g.survivors) == ("steady", False, g.before)
    assert by_label["timer (unref)"].verdict == "new"
    assert result.elapsed_seconds is not None and 9 < result.elapsed_seconds < 11


def test_without_handle_addresses_the_leak_is_still_flagged_by_growth():
    """No ids, no survivors: diff falls back on growth (at least GROWTH_WITHOUT_IDS, and half
    the earlier count), which the leak passes and the pools do not."""

    def stripped(name: str) -> Snapshot:
        doc = raw(name)
        for h in doc["libuv"]:  # type: ignore[union-attr]
            h.pop("address", None)
        return parse_bytes(json.dumps(doc).encode(), name)

    result = diff(stripped("t0.json"), stripped("t1.json"))
    assert not result.ids_comparable
    assert [g.key.label() for g in result.suspects] == [LEAK]
    leak = next(g for g in result.groups if g.key.label() == LEAK)
    assert (leak.verdict, leak.confidence, leak.survivors) == ("growing", "low", None)
    assert {g.verdict for g in result.groups if g.key.label() in (POOL, CALLERS)} == {"steady"}


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_reports_name_the_endpoint(fmt):
    a, b = str(NODE_DUMPS / "t0.json"), str(NODE_DUMPS / "t1.json")
    res = CliRunner().invoke(
        app, ["diff", a, b, "-f", fmt, "--color", "never"], prog_name="snapdiff"
    )
    assert res.exit_code == 0, res.stderr
    if fmt == "json":
        doc = json.loads(res.stdout)
        suspects = [g["label"] for g in doc["groups"] if g["suspect"]]
        assert suspects == [LEAK]
    else:
        head = res.stdout.split("\n\n")[0 if fmt == "text" else 1].replace("\n", " ")
        if fmt == "text":
            assert f"Suspect: {LEAK} grew by 30" in head
        else:
            assert f"Suspect: `{LEAK}` grew by 30" in head
        assert "libuv handles" in res.stdout


# --- secrets --------------------------------------------------------------------------------------


def test_committed_reports_hold_no_environment():
    for name in ("t0.json", "t1.json", "handles.json", "cluster.json"):
        assert raw(name)["environmentVariables"] == {}


def test_environment_variables_never_reach_any_output(tmp_path):
    before, after = tmp_path / "t0.json", tmp_path / "t1.json"
    before.write_bytes(with_secret("t0.json"))
    after.write_bytes(with_secret("t1.json"))
    runner = CliRunner()
    snap_file = tmp_path / "t1.snap.json"
    res = runner.invoke(app, ["convert", str(after), "-o", str(snap_file)], prog_name="snapdiff")
    assert res.exit_code == 0, res.stderr
    assert SECRET.encode() not in snap_file.read_bytes()
    assert b"API_TOKEN" not in snap_file.read_bytes()
    outputs = [res.stdout + res.stderr]
    for fmt in ("text", "markdown", "json"):
        for args in (["diff", str(before), str(after)], ["show", str(after)]):
            res = runner.invoke(app, [*args, "-f", fmt], prog_name="snapdiff")
            assert res.exit_code == 0, res.stderr
            outputs.append(res.stdout + res.stderr)
    for out in outputs:
        assert SECRET not in out and "API_TOKEN" not in out
    snap = parse_bytes(with_secret("t1.json"), "t1.json")
    assert SECRET.encode() not in store.dumps(snap)


# --- bad input ----------------------------------------------------------------------------------


def test_crlf_and_log_lines_around_read_the_same():
    data = (NODE_DUMPS / "t1.json").read_bytes()
    plain = handle_groups(parse_bytes(data, "t1.json"))
    crlf = parse_bytes(data.replace(b"\n", b"\r\n"), "crlf.json")
    assert handle_groups(crlf) == plain
    logged = (
        b"2026-11-27T22:46:15Z info service up on :18080\r\n"
        b"Writing Node.js report to file: report.json\n"
        + data
        + b"\nNode.js report completed\n[worker] [bold]done[/bold]\n"
    )
    snap = parse_bytes(logged, "stdout.log")
    assert handle_groups(snap) == plain
    assert snap.skipped_lines == 4
    assert snap.warnings == ("stdout.log: skipped 4 lines of other text around the report",)


def test_a_report_written_to_stdout_among_log_lines():
    lines = (NODE_DUMPS / "stdout.log").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "service starting" and lines[-1] == "service up"
    start, end = lines.index("{"), lines.index("}")
    doc = json.loads("\n".join(lines[start : end + 1]))
    snap = load(str(NODE_DUMPS / "stdout.log"))
    assert snap.source.format == "node-report"
    assert snap.skipped_lines == sum(1 for x in lines[:start] + lines[end + 1 :] if x.strip())
    assert snap.skipped_lines >= 3  # the two log lines and Node's "report completed"
    assert len([t for t in snap.tasks if t.kind == LIBUV_HANDLE]) == len(doc["libuv"]) - 1
    assert [t.frames[0].function for t in snap.tasks if t.kind == THREAD] == ["Object.writeReport"]


def _complete_handles_before(data: bytes, cut: int) -> int:
    """Handles of the main libuv list closed before ``cut`` (Node indents them by 4)."""
    start = data.index(b'"libuv": [')
    end = data.index(b"\n  ]", start)
    return data.count(b"\n    }", start, min(cut, end))


def test_a_report_cut_in_its_handle_list_keeps_the_complete_handles():
    data = (NODE_DUMPS / "t1.json").read_bytes()
    start = data.index(b'"libuv": [')
    end = data.index(b"\n  ]", start)
    seen_partial_endpoint = False
    for cut in range(start + 20, end, 53):
        snap = parse_bytes(data[:cut], "cut.json")
        handles = [t for t in snap.tasks if t.kind == LIBUV_HANDLE]
        expected = _complete_handles_before(data, cut)
        # The loop entry, the last, is not a handle.
        loop = data.rfind(b'"type": "loop"', 0, cut)
        loop_closed = loop > 0 and 0 < data.find(b"\n    }", loop) < cut
        assert len(handles) == expected - loop_closed
        assert snap.truncated
        assert (
            snap.warnings[0]
            == "cut.json: report cut short in its 'libuv' section; kept what came before the cut"
        )
        # A handle cut after its localEndpoint is dropped, not read as a listener.
        labels = handle_groups(snap)
        assert sum(n for k, n in labels.items() if k.startswith("tcp listening on")) <= 1
        seen_partial_endpoint |= b'"remoteEndpoint"' not in data[data.rfind(b"{", 0, cut) : cut]
    assert seen_partial_endpoint


def test_a_report_cut_after_its_handle_list_keeps_every_handle():
    data = (NODE_DUMPS / "t1.json").read_bytes()
    cut = data.index(b'"environmentVariables"') + 10
    snap = parse_bytes(data[:cut], "cut.json")
    assert handle_groups(snap) == EXPECTED["t1.json"]
    assert snap.truncated


def test_a_report_cut_before_its_handle_list_is_a_clear_error():
    data = (NODE_DUMPS / "t1.json").read_bytes()
    for cut in (40, 300, data.index(b'"libuv"') - 5):
        with pytest.raises(
            InputError, match=r"^cut\.json: Node\.js report cut short before its libuv handle list"
        ):
            parse_bytes(data[:cut], "cut.json")


def test_every_cut_reads_or_fails_cleanly():
    data = (NODE_DUMPS / "handles.json").read_bytes()
    for cut in range(1, len(data), 211):
        try:
            snap = parse_bytes(data[:cut], "cut.json")
        except InputError as exc:
            assert str(exc).startswith("cut.json: ")
        else:
            assert snap.truncated


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_mangled_reports_read_or_fail_cleanly(data):
    """A span of a real report replaced by junk: a snapshot that can be saved, or InputError."""
    report = (NODE_DUMPS / "handles.json").read_bytes()
    i = data.draw(st.integers(0, len(report) - 1))
    j = data.draw(st.integers(i, min(len(report), i + 64)))
    junk = data.draw(st.binary(max_size=16) | st.sampled_from([b"}", b"]", b'"', b"\\", b"\r\n"]))
    try:
        snap = parse_bytes(report[:i] + junk + report[j:], "m.json")
    except InputError as exc:
        assert str(exc).startswith("m.json")
    else:
        assert store.loads(store.dumps(snap), "m.snap").total == snap.total


def test_garbage_and_wrong_types_read_as_missing():
    doc = raw("t0.json")
    handles = doc["libuv"]
    assert isinstance(handles, list)
    handles[0] = "not a handle"
    handles[1] = {"type": "tcp", "localEndpoint": 7, "remoteEndpoint": [1], "address": "0xzz"}
    doc["workers"] = [3, {"header": "x", "libuv": {"a": 1}}]
    doc["javascriptStack"] = {"stack": [None, 5, "at \x1b[31m[red]x[/red] (/a\u202e.js:1:2)"]}
    header = doc["header"]
    assert isinstance(header, dict)
    header["event"] = "\x1b[2J[bold]SIGUSR2"
    snap = parse_bytes(json.dumps(doc).encode(), "odd.json")
    assert "event ? (Signal)" in snap.source.detail
    assert "odd.json: 1 entries are not libuv handle objects; skipped" in snap.warnings
    assert "odd.json: 1 entries of workers are not reports; skipped" in snap.warnings
    odd = next(t for t in snap.tasks if t.kind == LIBUV_HANDLE and t.id is None)
    assert odd.frames[0].function == "tcp"
    main = snap.tasks[0]
    assert main.frames[0].function == "\x1b[31m[red]x[/red]"
    res = CliRunner().invoke(
        app,
        ["show", "-", "-f", "text", "--color", "never", "--group-by", "leaf"],
        input=json.dumps(doc),
        prog_name="snapdiff",
    )
    assert res.exit_code == 0, res.stderr
    assert "\x1b[31m" not in res.stdout and "[red]x[/red]" in res.stdout


def hostile_report(payloads: list[str], grown: bool) -> bytes:
    """A real report with each payload as a pipe path, a watched file, a signal name, and the
    function of a worker thread's frame; ``grown`` adds three more pipes per payload."""
    doc = raw("t0.json")
    handles = doc["libuv"]
    workers = doc["workers"]
    assert isinstance(handles, list) and isinstance(workers, list)
    address = 0x7F0000000000
    for i, payload in enumerate(payloads):
        for n in range(6 if grown else 3):
            address += 0x100
            handles.insert(
                0,
                {
                    "type": "pipe",
                    "is_active": True,
                    "is_referenced": True,
                    "address": hex(address),
                    "localEndpoint": None,
                    "remoteEndpoint": f"/run/{payload}.sock",
                    "readable": True,
                    "writable": True,
                    "fd": 100 + n,
                },
            )
        handles.insert(0, {"type": "fs_event", "address": hex(address + 1), "filename": payload})
        handles.insert(0, {"type": "signal", "address": hex(address + 2), "signal": payload})
        workers.append(
            {
                "header": {"threadId": i + 1},
                "javascriptStack": {"stack": [f"at run{i}{payload} (/srv/{payload}.js:3:9)"]},
                "libuv": [],
            }
        )
    return json.dumps(doc).encode()


def test_hostile_strings_stay_inert_in_every_report(tmp_path):
    from tests.test_injection import (
        CONTROL,
        PAYLOADS,
        RAW_HTML,
        SGR,
        _outside_fences,
        _without_code_spans,
    )

    payloads = list(PAYLOADS.values())
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_bytes(hostile_report(payloads, grown=False))
    after.write_bytes(hostile_report(payloads, grown=True))
    runner = CliRunner(env={"COLUMNS": "100", "NO_COLOR": None, "TERM": "xterm"})
    for args in (["diff", str(before), str(after)], ["show", str(after)]):
        for fmt, color in (("text", "always"), ("text", "never"), ("markdown", "never")):
            res = runner.invoke(app, [*args, "-f", fmt, "--color", color], prog_name="snapdiff")
            assert res.exit_code == 0, res.stderr
            out = SGR.sub("", res.stdout) if fmt == "text" else res.stdout
            assert not CONTROL.findall(out), (args, fmt)
            assert not CONTROL.findall(SGR.sub("", res.stderr))
            if fmt == "markdown":
                # A code span shows a tag literally: only text outside code spans counts.
                prose = "\n".join(map(_without_code_spans, _outside_fences(out).splitlines()))
                assert all(tag not in prose for tag in RAW_HTML if not tag.startswith("</"))
            else:
                assert "[bold red]x[/]" in re.sub(r"\n +", "", out)
        res = runner.invoke(app, [*args, "-f", "json"], prog_name="snapdiff")
        labels = {g["label"] for g in json.loads(res.stdout)["groups"]}
        for payload in payloads:
            assert f"pipe connected to /run/{payload}.sock" in labels
            assert f"signal {payload}" in labels and f"fs_event {payload}" in labels
    result = diff(load(str(before)), load(str(after)))
    grown = {g.key.label() for g in result.groups if g.delta == 3}
    assert grown == {f"pipe connected to /run/{p}.sock" for p in payloads}


def test_lone_surrogates_are_replaced():
    doc = (NODE_DUMPS / "handles.json").read_bytes()
    doc = doc.replace(b'"type": "fs_event",', b'"type": "fs_event", "filename": "/w\\ud800",', 1)
    snap = parse_bytes(doc, "odd.json")
    assert store.dumps(snap)


def test_not_a_report_is_refused():
    with pytest.raises(InputError, match=r"not a Node\.js diagnostic report"):
        parse_bytes(b'{"header": {"x": 1}}', "x.json", "node-report")
    with pytest.raises(InputError):
        parse_bytes(b'{"header": {"reportVersion": 4}, "libuv": 3}', "x.json")


# --- detection ----------------------------------------------------------------------------------


def test_detected_by_content_and_steals_nothing():
    for name in ("t0.json", "t1.json", "handles.json", "cluster.json"):
        head = (NODE_DUMPS / name).read_bytes()[:262144]
        source = detect(head)
        assert source is not None and source.name == "node-report"
    others = [*GO_DUMPS.rglob("*.txt"), *PY_DUMPS.rglob("*.json"), *PY_DUMPS.rglob("*.txt")]
    assert len(others) > 20
    for path in others:
        assert not node_report.sniff(path.read_bytes()[:262144]), path
    compact = orjson.dumps(raw("t0.json"))
    assert node_report.sniff(compact)
    assert not node_report.sniff(b'{"headers": {"reportVersion": 4}}')
    assert not node_report.sniff(b'log: {"header": {"reportVersion": 4}}')


def test_listed_by_formats():
    res = CliRunner().invoke(app, ["formats"], prog_name="snapdiff")
    assert res.exit_code == 0
    assert re.search(r"^node-report\s+Node\.js diagnostic report", res.stdout, re.M)


# --- live -----------------------------------------------------------------------------------------


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _wait_for_report(directory: Path, count: int, timeout: float = 20) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sorted(directory.glob("report.*.json"))
        if len(done) >= count:
            time.sleep(0.3)  # let node finish writing it
            return done[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"no report {count} in {directory}")


@pytest.mark.slow
def test_live_service_two_reports_on_signal(tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = SAMPLES / "node" / "leaky_sockets.js"
    api, upstream, audit = (str(p) for p in _free_ports(3))
    reports = tmp_path / "reports"
    reports.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin")}
    service = subprocess.Popen(
        [
            node,
            "--report-on-signal",
            "--report-signal=SIGUSR2",
            f"--report-directory={reports}",
            str(script),
            "service",
            api,
            upstream,
            audit,
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    peers = None
    try:
        assert service.stdout is not None
        assert service.stdout.readline().strip() == str(service.pid)
        peers = subprocess.Popen(
            [node, str(script), "peers", api, upstream, audit, "3", "200"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(1.5)
        service.send_signal(signal.SIGUSR2)
        first = _wait_for_report(reports, 1)
        time.sleep(3)
        service.send_signal(signal.SIGUSR2)
        second = _wait_for_report(reports, 2)
    finally:
        for proc in (service, peers):
            if proc is not None:
                proc.kill()
                proc.wait(timeout=10)
        if service.stdout is not None:
            service.stdout.close()
    result = diff(load(str(first)), load(str(second)))
    assert [g.key.label() for g in result.suspects] == [f"tcp connected to 127.0.0.1:{audit}"]
    by_label = {g.key.label(): g for g in result.groups}
    assert by_label[f"tcp connected to 127.0.0.1:{audit}"].delta >= 20
    assert by_label[f"tcp accepted on 127.0.0.1:{api}"].verdict == "steady"
    assert not by_label[f"tcp connected to 127.0.0.1:{upstream}"].suspect
