"""The Go protobuf goroutine profile reader (go_pprof) on real profiles and damaged ones.

The profiles are samples/go/dumps/go<version>/*.pb.gz, captured by samples/regen-go.sh
(DEBUG0_ONLY=1) from samples/go/leaky. Expected counts come from ``go tool pprof -traces`` on
each file, which shows every sample but the one with no frames (see ENTRY_COUNTS).
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from snapdiff.capture import to_snapshot
from snapdiff.capture.http import capture_url, normalise_url
from snapdiff.cli import app
from snapdiff.diff import diff
from snapdiff.errors import InputError
from snapdiff.inputs import load, parse_bytes
from snapdiff.model import FLAG_LEAKED, FLAG_NO_STACK, Frame, Snapshot
from snapdiff.runtimes import SNIFF_BYTES, detect
from snapdiff.runtimes.go import go_pprof
from tests.conftest import GO_DUMPS, PY_DUMPS, ROOT, UPSTREAM
from tests.httpserver import (
    DumpServer,
    dump_server_fixture,  # noqa: F401  (the dump_server fixture)
)
from tests.test_injection import (
    CONTROL,
    LONG,
    PAYLOADS,
    SGR,
    _outside_fences,
    _strings,
    _without_code_spans,
)

FETCH = (("handler", "/api/v1/items"), ("tenant", "acme"))
POOL = (("pool", "workers"),)
PROFILES = sorted(GO_DUMPS.glob("go1.*/*debug0.pb.gz"))
IDS = [f"{p.parent.name}/{p.name}" for p in PROFILES]

# go tool pprof -traces FILE: goroutines per outermost function (None: the sample with no
# frames, which pprof -traces does not print), total, and number of samples.
ENTRY_COUNTS: dict[str, tuple[dict[str | None, int], int, int]] = {
    "go1.19/t0.debug0.pb.gz": (
        {"main.fetchOne": 18, "main.handleShort": 11, "main.worker": 8, "main.watchConfig": 1},
        45,
        11,
    ),
    "go1.19/t1.debug0.pb.gz": (
        {"main.fetchOne": 282, "main.handleShort": 11, "main.worker": 8, "main.watchConfig": 1},
        309,
        12,
    ),
    "go1.27/t0.debug0.pb.gz": (
        {"main.fetchOne": 17, "main.handleShort": 9, "main.worker": 8, "main.watchConfig": 1},
        42,
        11,
    ),
    "go1.27/t1.debug0.pb.gz": (
        {
            "main.fetchOne": 286,
            "main.handleShort": 3,
            "main.worker": 8,
            "main.watchConfig": 1,
            None: 1,
        },
        305,
        12,
    ),
    "go1.27/t1.goroutineleak.debug0.pb.gz": ({"main.fetchOne": 286}, 286, 1),
}


def read(path: Path) -> Snapshot:
    return load(str(path))


def raw(path: Path) -> bytes:
    """The serialized profile, as the reader is given it (inputs.py undoes the gzip)."""
    return gzip.decompress(path.read_bytes())


def entry_counts(snap: Snapshot) -> Counter[str | None]:
    counts: Counter[str | None] = Counter()
    for task in snap.tasks:
        counts[task.entry.function if task.entry else None] += task.count
    return counts


# -- real profiles --------------------------------------------------------------------------


def test_every_profile_has_expected_counts() -> None:
    assert sorted(ENTRY_COUNTS) == IDS


@pytest.mark.parametrize("path", PROFILES, ids=IDS)
def test_counts_per_entry_function(path: Path) -> None:
    expected, total, samples = ENTRY_COUNTS[f"{path.parent.name}/{path.name}"]
    snap = read(path)
    assert snap.source.format == go_pprof.NAME
    assert snap.total == total
    assert len(snap.tasks) == samples
    counts = entry_counts(snap)
    for function, count in expected.items():
        assert counts[function] == count, function
    if None not in expected:
        assert None not in counts
    assert not snap.truncated
    assert all(t.id is None and not t.state and t.created_by is None for t in snap.tasks)


@pytest.mark.parametrize("path", PROFILES, ids=IDS)
def test_labels_and_stacks(path: Path) -> None:
    snap = read(path)
    for task in snap.tasks:
        if task.entry is None:
            assert task.flags[-1:] == (FLAG_NO_STACK,)
            continue
        if task.entry.function in ("main.fetchOne", "main.leakLoop"):
            assert task.labels == FETCH
        elif task.entry.function == "main.worker":
            assert task.labels == POOL
        else:
            assert task.labels == ()
    leak = next(t for t in snap.tasks if t.leaf and t.frames[1].function == "runtime.chansend")
    assert leak.entry == leak.frames[3]
    assert leak.entry.function == "main.fetchOne"
    assert leak.entry.file == "snapdiff.example/leaky/fanout.go"
    assert leak.entry.line == 53
    assert leak.leaf is not None and leak.leaf.function == "runtime.gopark"


def test_inlined_calls_are_frames_innermost_first() -> None:
    # go tool pprof -traces go1.27/t0.debug0.pb.gz, the Accept loop of main.main: ...
    # internal/poll.(*pollDesc).waitRead (inline), then the function it is inlined into.
    snap = read(GO_DUMPS / "go1.27" / "t0.debug0.pb.gz")
    main = next(t for t in snap.tasks if t.entry and t.entry.function == "runtime.main")
    names = [f.function for f in main.frames]
    assert names == [
        "runtime.gopark",
        "runtime.netpollblock",
        "internal/poll.runtime_pollWait",
        "internal/poll.(*pollDesc).wait",
        "internal/poll.(*pollDesc).waitRead",
        "internal/poll.(*FD).Accept",
        "net.(*netFD).accept",
        "net.(*TCPListener).accept",
        "net.(*TCPListener).Accept",
        "net/http.(*Server).Serve",
        "net/http.Serve",
        "main.main",
        "runtime.main",
    ]
    # waitRead is inlined into Accept: one location (one address) with two lines.
    assert main.frames[4].location() == "internal/poll/fd_poll_runtime.go:89"
    assert main.frames[5].file == "internal/poll/fd_unix.go"
    from snapdiff.runtimes.go.pprof import profile_pb2

    profile = profile_pb2.Profile.FromString(raw(GO_DUMPS / "go1.27" / "t0.debug0.pb.gz"))
    names = {f.id: profile.string_table[f.name] for f in profile.function}
    inlined = [[names[line.function_id] for line in loc.line] for loc in profile.location]
    assert ["internal/poll.(*pollDesc).waitRead", "internal/poll.(*FD).Accept"] in inlined


@pytest.mark.parametrize("path", PROFILES, ids=IDS)
def test_captured_at_is_the_profile_time(path: Path) -> None:
    # captures.tsv has the time curl started; the profile's time_nanos is a few ms later.
    rows = dict(
        line.split("\t")[:2] for line in (path.parent / "captures.tsv").read_text().splitlines()[1:]
    )
    snap = read(path)
    assert snap.source.captured_at is not None and snap.source.captured_at.endswith("Z")
    taken = datetime.fromisoformat(snap.source.captured_at)
    asked = datetime.fromisoformat(rows[path.name])
    assert 0 <= (taken - asked).total_seconds() < 1


def test_goroutineleak_profile_counts_leaked_goroutines_only() -> None:
    snap = read(GO_DUMPS / "go1.27" / "t1.goroutineleak.debug0.pb.gz")
    assert (
        snap.source.detail == "goroutineleak profile, aggregated, protobuf: leaked goroutines only"
    )
    assert all(FLAG_LEAKED in t.flags for t in snap.tasks)
    plain = read(GO_DUMPS / "go1.27" / "t1.debug0.pb.gz")
    assert not any(FLAG_LEAKED in t.flags for t in plain.tasks)
    assert plain.source.detail == "goroutine profile, aggregated, protobuf"
    # Every leaked goroutine is a blocked fan-out sender. The goroutine profile taken 30 ms
    # before has 285 senders in runtime.chansend; the service leaks one every ~0.3 s.
    senders = sum(
        t.count for t in plain.tasks if t.frames[1:2] and t.frames[1].function == "runtime.chansend"
    )
    assert senders == 285
    assert senders <= snap.total <= senders + 1


@pytest.mark.parametrize("version", ["go1.19", "go1.27"])
def test_diff_flags_the_fanout_leak_and_not_the_pool(version: str) -> None:
    before = read(GO_DUMPS / version / "t0.debug0.pb.gz")
    after = read(GO_DUMPS / version / "t1.debug0.pb.gz")
    result = diff(before, after)
    assert not result.ids_comparable
    assert result.elapsed_source == "capture times"
    assert result.elapsed_seconds is not None and 69 < result.elapsed_seconds < 71
    suspects = [(g.key.function, g.key.by, g.confidence) for g in result.suspects]
    assert suspects == [("main.fetchOne", "entry", "low")]
    groups = {g.key.function: g for g in result.groups}
    assert groups["main.worker"].verdict == "steady"
    assert groups["main.worker"].before == groups["main.worker"].after == 8
    assert groups["main.watchConfig"].verdict == "steady"
    assert not groups["main.handleShort"].suspect
    assert all(g.survivors is None for g in result.groups)


def test_diff_against_the_debug1_profile_of_the_same_run_agrees() -> None:
    # Different formats of the same service: the same suspect by the same key.
    before = load(str(GO_DUMPS / "go1.27" / "t0.debug1.txt"))
    after = read(GO_DUMPS / "go1.27" / "t1.debug0.pb.gz")
    assert [g.key.function for g in diff(before, after).suspects] == ["main.fetchOne"]


def test_cli_diff_and_formats() -> None:
    runner = CliRunner()
    t0, t1 = (str(GO_DUMPS / "go1.27" / f"t{i}.debug0.pb.gz") for i in (0, 1))
    result = runner.invoke(app, ["diff", t0, t1, "-f", "json"], prog_name="snapdiff")
    assert result.exit_code == 0, result.output
    assert '"main.fetchOne"' in result.stdout
    assert f"read 305 goroutines ({go_pprof.NAME}" in result.stderr
    formats = runner.invoke(app, ["formats"], prog_name="snapdiff")
    assert go_pprof.NAME in formats.stdout


# -- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROFILES, ids=IDS)
def test_detected_from_the_head(path: Path) -> None:
    source = detect(raw(path)[:SNIFF_BYTES])
    assert source is not None and source.name == go_pprof.NAME


def _other_inputs() -> list[Path]:
    files = [
        p for p in GO_DUMPS.glob("go1.*/*") if not p.name.endswith((".pb.gz", ".pprof", ".tsv"))
    ]
    files += sorted(PY_DUMPS.glob("*/*.json")) + sorted(PY_DUMPS.glob("*/*.txt"))
    files += sorted(UPSTREAM.glob("*/*.txt"))
    return sorted(files)


@pytest.mark.parametrize("path", _other_inputs(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_other_formats_are_not_taken(path: Path) -> None:
    head = path.read_bytes()[:SNIFF_BYTES]
    assert not go_pprof.sniff(head)
    assert not go_pprof.sniff(head.replace(b"\n", b"\r\n"))


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\n",
        b"\x00\x00\x00",
        b"goroutine profile: total 3\n",
        b'{"tasks": []}',
        b"[]",
        b"\n\x04\x08\x01\x10\x02",  # a sample_type alone: no other field
        b"\n\x04\x08\x01\x18\x02*\x00",  # a ValueType with a field it does not have
        bytes(range(256)),
    ],
)
def test_sniff_refuses(head: bytes) -> None:
    assert not go_pprof.sniff(head)


# -- damaged and unusual input ---------------------------------------------------------------


T1 = GO_DUMPS / "go1.27" / "t1.debug0.pb.gz"


def test_other_profile_types_are_named() -> None:
    for version in ("go1.19", "go1.27"):
        heap = GO_DUMPS / version / "t1.heap.pprof"
        with pytest.raises(InputError) as info:
            read(heap)
        assert str(info.value) == (
            f"{heap}: a heap profile in pprof format (sample types: alloc_objects/count, "
            "alloc_space/bytes, inuse_objects/count, inuse_space/bytes), not a goroutine "
            "profile: snapdiff reads goroutine profiles (/debug/pprof/goroutine or goroutineleak)"
        )
        with pytest.raises(InputError, match=r"a cpu profile in pprof format \(sample types: "):
            read(GO_DUMPS / version / "t1.cpu.pprof")


def test_cli_says_what_profile_it_is_in_one_line() -> None:
    heap = str(GO_DUMPS / "go1.27" / "t1.heap.pprof")
    result = CliRunner().invoke(app, ["show", heap], prog_name="snapdiff")
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"snapdiff: error: {heap}: a heap profile")
    assert "Traceback" not in result.output


def test_cut_before_the_string_table_is_an_error() -> None:
    data = raw(T1)
    fields, _, _ = go_pprof._walk(data)
    table = min(start for number, start, _ in fields if number == 6) - 2  # its tag and length
    with pytest.raises(InputError, match="not a dump snapdiff recognises"):
        parse_bytes(data[:1], "cut.pb")  # one field: too little to tell
    for cut in (100, 700, table - 1):
        with pytest.raises(InputError) as info:
            parse_bytes(data[:cut], "cut.pb")
        assert str(info.value) == (
            "cut.pb: a pprof profile with no string table before the point where it stops "
            "(Go writes the string table last): nothing in it can be named"
        )
    # Cut between two fields: nothing looks cut, but there is still nothing to name things by.
    with pytest.raises(InputError) as info:
        parse_bytes(data[:table], "cut.pb")
    assert str(info.value) == (
        "cut.pb: a pprof profile with no string table: nothing in it can be named"
    )


def test_cut_inside_the_string_table_reads_what_it_has() -> None:
    data = raw(T1)
    whole = parse_bytes(data, "whole.pb")
    snap = parse_bytes(data[:-3], "cut.pb")
    assert snap.truncated
    assert snap.warnings[0].startswith("cut.pb: the profile is cut short at byte ")
    assert snap.total == whole.total
    assert len(snap.tasks) == len(whole.tasks)


def test_cut_between_two_strings_is_seen() -> None:
    # A cut at a field boundary decodes without error; the names that point past the end of
    # the string table show it.
    data = raw(T1)
    fields, _, _ = go_pprof._walk(data)
    tenth = [end for number, _, end in fields if number == 6][9]
    snap = parse_bytes(data[:tenth], "cut.pb")
    assert snap.truncated
    assert any(
        w.startswith("cut.pb: ")
        and "names point past the end of the string table (10 strings)" in w
        for w in snap.warnings
    )
    assert snap.total == 305


def test_cut_gzip_stream() -> None:
    packed = T1.read_bytes()
    for cut in range(20, len(packed), 97):
        try:
            snap = parse_bytes(packed[:cut], "cut.pb.gz")
        except InputError:
            continue
        assert snap.truncated


@pytest.mark.parametrize(
    "tail",
    [b"\xff\xff\xff\xff", b"leaky: 2026/11/27 20:49:54 status: goroutines=41\n", b"\x0f"],
)
def test_bytes_after_the_profile(tail: bytes) -> None:
    whole = parse_bytes(raw(T1), "t.pb")
    snap = parse_bytes(raw(T1) + tail, "t.pb")
    assert snap.truncated
    # 0xff bytes read as the start of a field key that never ends: "cut short".
    assert re.match(
        r"t\.pb: the profile (is cut short|has bytes that are not part of a profile) at byte "
        f"{len(raw(T1))} of {len(raw(T1)) + len(tail)}: read what came before",
        snap.warnings[0],
    )
    assert entry_counts(snap) == entry_counts(whole)


def test_junk_after_the_gzip_member_is_ignored() -> None:
    snap = parse_bytes(T1.read_bytes() + b"\nleaky: log line\n", "t.pb.gz")
    assert snap.total == 305 and not snap.truncated


def test_log_lines_before_the_profile_are_not_a_dump() -> None:
    with pytest.raises(InputError, match="not a dump snapdiff recognises"):
        parse_bytes(b"leaky: 2026/11/27 status\n" + raw(T1), "t.pb")


def test_crlf_translation_damages_but_never_crashes() -> None:
    data = raw(T1).replace(b"\n", b"\r\n")
    try:
        snap = parse_bytes(data, "crlf.pb")
    except InputError as exc:
        assert str(exc).startswith("crlf.pb: ")
    else:
        assert snap.total > 0


def _profile(**fields: object) -> bytes:
    from snapdiff.runtimes.go.pprof import profile_pb2

    return bytes(profile_pb2.Profile(**fields).SerializeToString())


def _goroutine_profile(samples: list[dict[str, object]], **extra: object) -> bytes:
    from snapdiff.runtimes.go.pprof import profile_pb2

    strings = ["", "goroutine", "count", "main.f", "f.go", "bytes", "size", "k", "v"]
    return _profile(
        sample_type=[profile_pb2.ValueType(type=1, unit=2)],
        period_type=profile_pb2.ValueType(type=1, unit=2),
        period=1,
        function=[profile_pb2.Function(id=1, name=3, filename=4)],
        location=[
            profile_pb2.Location(id=1, line=[profile_pb2.Line(function_id=1, line=7)]),
            profile_pb2.Location(id=2, address=0x4A0B0C),  # no symbols
        ],
        sample=[profile_pb2.Sample(**s) for s in samples],
        string_table=strings,
        **extra,
    )


def test_no_samples_says_so() -> None:
    with pytest.raises(InputError) as info:
        parse_bytes(_goroutine_profile([]), "empty.pb")
    assert str(info.value) == (
        f"empty.pb: read as {go_pprof.NAME} but found no tasks in it "
        "(empty.pb: the goroutine profile has no samples)"
    )


def test_hand_made_profile_numeric_labels_addresses_and_unknown_locations() -> None:
    from snapdiff.runtimes.go.pprof import profile_pb2

    data = _goroutine_profile(
        [
            {
                "location_id": [2, 1],
                "value": [3],
                "label": [
                    profile_pb2.Label(key=6, num=512, num_unit=5),
                    profile_pb2.Label(key=7, str=8),
                ],
            },
            {"location_id": [1, 99], "value": [2]},
            {"location_id": [1], "value": [0]},  # no goroutines: dropped
        ]
    )
    snap = parse_bytes(data, "hand.pb")
    assert snap.source.captured_at is None
    first, second = snap.tasks
    assert first.count == 3
    assert first.frames == (Frame("0x4a0b0c"), Frame("main.f", "f.go", 7))
    assert first.labels == (("k", "v"), ("size", "512 bytes"))  # sorted by key
    assert second.count == 2 and second.frames == (Frame("main.f", "f.go", 7),)
    assert "partial" in second.flags
    assert any("1 stack entries point at locations" in w for w in snap.warnings)


def test_profile_without_goroutine_sample_type() -> None:
    from snapdiff.runtimes.go.pprof import profile_pb2

    data = _profile(
        sample_type=[profile_pb2.ValueType(type=1, unit=2)],
        sample=[profile_pb2.Sample(value=[1])],
        string_table=["", "contentions", "count"],
        period_type=profile_pb2.ValueType(type=1, unit=2),
    )
    with pytest.raises(InputError, match=r"a block or mutex profile in pprof format"):
        parse_bytes(data, "block.pb")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_bytes_never_crash(data: st.DataObject) -> None:
    blob = bytearray(raw(T1))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(blob)))
    try:
        snap = parse_bytes(bytes(blob[:cut]), "fuzz.pb")
    except InputError:
        return
    assert snap.total >= 0


# -- capture -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://host:6060", "http://host:6060/debug/pprof/goroutine?debug=0"),
        ("host:6060/debug/pprof/", "http://host:6060/debug/pprof/goroutine?debug=0"),
        (
            "http://host:6060/debug/pprof/goroutineleak?debug=2",
            "http://host:6060/debug/pprof/goroutineleak?debug=0",
        ),
    ],
)
def test_normalise_url_debug_0(given: str, expected: str) -> None:
    assert normalise_url(given, debug=0) == expected


def test_capture_debug0_from_a_served_profile(dump_server: DumpServer) -> None:
    captured = capture_url(normalise_url(dump_server.base, debug=0))
    assert captured.data == T1.read_bytes()  # kept gzipped, as served
    assert dict(captured.details)["content_type"] == "application/octet-stream"
    snap = to_snapshot(captured)
    assert snap.source.format == go_pprof.NAME
    assert entry_counts(snap) == entry_counts(read(T1))
    assert snap.source.origin == f"{dump_server.base}/debug/pprof/goroutine?debug=0"


def test_cli_capture_debug0_then_diff(dump_server: DumpServer, tmp_path: Path) -> None:
    runner = CliRunner()
    paths = []
    for dump in ("t0", "t1"):
        dump_server.dump = dump
        out = tmp_path / f"{dump}.json"
        args = ["capture", dump_server.base, "--debug", "0", "-o", str(out), "--raw"]
        result = runner.invoke(app, args, prog_name="snapdiff")
        assert result.exit_code == 0, result.output
        paths.append(str(out))
    assert dump_server.seen[-1].path == "/debug/pprof/goroutine?debug=0"
    result = runner.invoke(app, ["diff", *paths, "-f", "json"], prog_name="snapdiff")
    assert result.exit_code == 0, result.output
    before, after = (load(p) for p in paths)
    assert [g.key.function for g in diff(before, after).suspects] == ["main.fetchOne"]
    # --raw keeps the profile as served (already gzip), readable as it is.
    kept = tmp_path / "t1.raw.gz"
    assert kept.read_bytes() == T1.read_bytes()
    assert entry_counts(load(str(kept))) == entry_counts(after)


# -- untrusted text -------------------------------------------------------------------------


def _hostile_profile(new: bool, when: int) -> bytes:
    """A goroutine profile whose names, files and labels carry test_injection's payloads;
    with ``new``, every site has three goroutines more."""
    from snapdiff.runtimes.go.pprof import profile_pb2

    strings = ["", "goroutine", "count", "handler"]

    def index(text: str) -> int:
        strings.append(text)
        return len(strings) - 1

    functions, locations, samples = [], [], []
    for i, (name, payload) in enumerate([*PAYLOADS.items(), ("long", LONG)]):
        entry = f"main.spawn{i}{payload}" if name != "long" else LONG
        for n, (function, file) in enumerate(
            [
                (f"main.worker{payload}", f"/src/{payload}/worker.go"),
                (entry, f"/src/{payload}/x.go"),
            ]
        ):
            fid = 2 * i + n + 1
            functions.append(
                profile_pb2.Function(id=fid, name=index(function), filename=index(file))
            )
            line = profile_pb2.Line(function_id=fid, line=12 + i)
            locations.append(profile_pb2.Location(id=fid, address=0x1000 + fid, line=[line]))
        label = profile_pb2.Label(key=3, str=index(payload))
        samples.append(
            profile_pb2.Sample(
                location_id=[2 * i + 1, 2 * i + 2], value=[6 if new else 3], label=[label]
            )
        )
    return gzip.compress(
        _profile(
            sample_type=[profile_pb2.ValueType(type=1, unit=2)],
            sample=samples,
            location=locations,
            function=functions,
            string_table=strings,
            time_nanos=when,
        )
    )


def test_hostile_names_stay_inert(tmp_path: Path) -> None:
    before, after = tmp_path / "before.pb.gz", tmp_path / "after.pb.gz"
    before.write_bytes(_hostile_profile(False, 1_795_819_623_000_000_000))
    after.write_bytes(_hostile_profile(True, 1_795_819_923_000_000_000))
    runner = CliRunner(env={"COLUMNS": "100", "NO_COLOR": None, "TERM": "xterm"})

    def run(*args: str) -> str:
        result = runner.invoke(app, [*args, "--quiet"], prog_name="snapdiff")
        assert result.exit_code == 0, result.stderr[-2000:]
        return result.stdout

    for args in (["diff", str(before), str(after)], ["show", str(after)]):
        text = SGR.sub("", run(*args, "--color", "always"))
        assert not CONTROL.findall(text)
        unfolded = re.sub(r"\n +", "", text)
        assert "[bold red]x[/]" in unfolded
        assert "\\x1b[31mred\\x1b[0m" in unfolded
        assert len(text) < 200_000  # the 100 KB name is cut
        prose = _outside_fences(run(*args, "--format", "markdown"))
        # A code span shows a tag literally: only text outside code spans counts.
        prose = "\n".join(map(_without_code_spans, prose.splitlines()))
        for raw_html in ("<script", "<img", "<details open"):
            assert raw_html not in prose
        strings = _strings(json.loads(run(*args, "--format", "json")))
        for i, payload in enumerate(PAYLOADS.values()):
            assert f"main.spawn{i}{payload}" in strings
            assert payload in strings  # the label value
        assert LONG in strings


# -- packaging ------------------------------------------------------------------------------


def test_protobuf_is_imported_only_for_this_format() -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from snapdiff.cli import app\n"
        "from snapdiff.inputs import load\n"
        "assert CliRunner().invoke(app, ['--version']).exit_code == 0\n"
        f"load({str(GO_DUMPS / 'go1.27' / 't1.debug1.txt')!r})\n"
        "assert 'google.protobuf' not in sys.modules, 'imported too early'\n"
        f"load({str(T1)!r})\n"
        "assert 'google.protobuf' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_generated_module_matches_the_proto() -> None:
    # profile_pb2.py is generated from profile.proto (snapdiff/runtimes/go/pprof/regen.sh): every
    # message and field declared in the proto, with its number, is in the generated module.
    from snapdiff.runtimes.go.pprof import profile_pb2

    proto = (ROOT / "snapdiff" / "runtimes" / "go" / "pprof" / "profile.proto").read_text()
    body = re.sub(r"//[^\n]*", "", proto)
    declared = {
        message: {
            (name, int(number)) for name, number in re.findall(r"\b(\w+)\s*=\s*(\d+)\s*;", block)
        }
        for message, block in re.findall(r"message\s+(\w+)\s*\{([^}]*)\}", body)
    }
    generated = {
        name: {(f.name, f.number) for f in message.fields}
        for name, message in profile_pb2.DESCRIPTOR.message_types_by_name.items()
    }
    assert len(declared) == 8
    assert generated == declared
    assert profile_pb2.DESCRIPTOR.package == "perftools.profiles"
