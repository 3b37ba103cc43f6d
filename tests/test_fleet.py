"""Fleets: targets, a fleet capture against real HTTP servers, and diff/trend of a folder of
replicas (samples/series/go-fleet: a real capture of six copies of the Go sample, made by
samples/regen-fleet.sh: four leaking, one steady, one restarted during the series)."""

from __future__ import annotations

import gzip
import re
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from snapdiff import inputs, store
from snapdiff.capture.fleet import Replica, expand, file_stem, read_targets
from snapdiff.capture.series import Target
from snapdiff.cli import app
from snapdiff.diff import diff
from snapdiff.errors import InputError, UsageError
from snapdiff.fleet import fleet, replica_of, split
from snapdiff.group import GroupBy
from snapdiff.trend import order, trend
from tests.httpserver import DumpServer

ROOT = Path(__file__).resolve().parent.parent
FLEET = ROOT / "samples" / "series" / "go-fleet"
RUNNER = CliRunner()


def run(*args: str):
    return RUNNER.invoke(app, list(args), prog_name="snapdiff", env={"COLUMNS": "100"})


def _fleet_snaps():
    return [inputs.load(str(p)) for p in sorted(FLEET.glob("*.json.gz"))]


# --- targets -------------------------------------------------------------------------------


def test_addresses_and_pids_are_replicas_once_each_in_the_given_order():
    got = expand(["127.0.0.9:6060", "http://127.0.0.2:6060/", "127.0.0.9:6060", "4242"])
    assert [(r.index, r.address) for r in got] == [
        (1, "127.0.0.9:6060"),
        (2, "127.0.0.2:6060"),
        (3, "pid 4242"),
    ]
    assert got[1].target.url == "http://127.0.0.2:6060/" and got[2].target.pid == 4242


def test_a_name_with_one_address_per_family_is_one_replica_as_written():
    # localhost is 127.0.0.1 and often ::1 too: the same machine, one replica.
    got = expand(["http://localhost:6060"])
    assert len(got) == 1
    assert got[0].target.url == "http://localhost:6060" and got[0].name == "localhost"
    assert got[0].address.endswith(":6060")


def test_a_name_that_does_not_resolve_is_a_capture_error():
    from snapdiff.errors import CaptureError

    with pytest.raises(CaptureError, match=r"cannot resolve host 'no-such-host\.invalid'"):
        expand(["http://no-such-host.invalid:6060"])


def test_targets_file_skips_comments_and_names_the_bad_line(tmp_path):
    good = tmp_path / "replicas.txt"
    good.write_text("# orders\n\n127.0.0.1:6060\r\nhttp://127.0.0.2:6060  # second\n")
    assert read_targets(str(good)) == ["127.0.0.1:6060", "http://127.0.0.2:6060"]
    bad = tmp_path / "bad.txt"
    bad.write_text("127.0.0.1:6060\n# fine\nnot a target\n")
    with pytest.raises(InputError, match=r"bad\.txt:3: not a URL or pid: 'not a target'"):
        read_targets(str(bad))
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(InputError, match="no targets"):
        read_targets(str(empty))


def test_file_names_sort_by_replica_then_time():
    t0 = datetime(2026, 12, 3, 8, 55, tzinfo=UTC)
    a = Replica(2, Target(url="http://10.0.0.10:6060"), "10.0.0.10:6060")
    b = Replica(10, Target(url="http://10.0.0.9:6060"), "10.0.0.9:6060")
    v6 = Replica(3, Target(url="http://[::1]:6060"), "[::1]:6060")
    names = [
        file_stem(b, t0),
        file_stem(a, t0 + timedelta(seconds=30)),
        file_stem(a, t0),
        file_stem(v6, t0),
    ]
    assert sorted(names) == [names[2], names[1], names[3], names[0]]
    assert names[2] == "snap-r002-10.0.0.10_6060-20261203T085500.000Z"
    assert "/" not in names[3] and ":" not in names[3]


# --- capture ---------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fleet_capture_saves_each_replica_and_reports_the_one_that_failed(tmp_path):
    servers = [DumpServer().start() for _ in range(3)]
    try:
        dead = f"http://127.0.0.1:{_closed_port()}"
        targets = tmp_path / "targets.txt"
        targets.write_text("\n".join([servers[0].base, dead, servers[1].base]) + "\n")
        out = tmp_path / "fleet"
        r = run(
            "capture", "--targets", str(targets), servers[2].base, "--parallel", "2",
            "--timeout", "5s", "-o", f"{out}/",
        )  # fmt: skip
    finally:
        for s in servers:
            s.stop()
    assert r.exit_code == 4, r.output
    # The targets on the command line come first, then the file's, in its order.
    assert "r003 127.0.0.1:" in r.stderr and "connection refused" in r.stderr
    assert "1 capture(s) failed, of 1 replica(s) (r003" in r.stderr
    assert "round 1/1: 3 of 4 replicas saved, 1 failed" in r.stderr
    files = sorted(out.glob("snap-*.json.gz"))
    assert [f.name[:9] for f in files] == ["snap-r001", "snap-r002", "snap-r004"]
    for f, server in zip(files, [servers[2], servers[0], servers[1]], strict=True):
        snap = store.loads(gzip.decompress(f.read_bytes()), str(f))
        record = dict(snap.source.capture)
        assert record["replica"] == f"127.0.0.1:{server.port}"
        assert record["replica_index"] == f.name[6:9].lstrip("0")
        assert snap.source.format == "go-goroutine-text"
        assert f"127.0.0.1_{server.port}" in f.name


def test_fleet_capture_in_rounds_and_its_usage_errors(tmp_path):
    servers = [DumpServer().start() for _ in range(2)]
    try:
        out = tmp_path / "rounds"
        bases = [s.base for s in servers]
        r = run("capture", *bases, "--every", "0.2s", "--count", "3", "-o", f"{out}/", "-q")
        to_file = run("capture", *bases, "-o", str(tmp_path / "one.json"))
        to_stdout = run("capture", *bases, "-o", "-")
        with_pid = run("capture", *bases, "--pid", "1")
    finally:
        for s in servers:
            s.stop()
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.glob("snap-*.json.gz"))
    assert [n[:9] for n in names] == ["snap-r001"] * 3 + ["snap-r002"] * 3
    assert names == sorted(names, key=lambda n: (n[:9], n[9:]))
    assert to_file.exit_code == 2 and "give -o a folder" in to_file.stderr
    assert to_stdout.exit_code == 2 and "give -o a folder" in to_stdout.stderr
    assert with_pid.exit_code == 2


# --- diff and trend of a fleet's folder ------------------------------------------------------


def test_snapshots_of_the_sample_fleet_name_their_replicas():
    snaps = _fleet_snaps()
    groups = split(snaps)
    assert [len(g) for g in groups] == [4] * 6
    assert [dict(g[0].source.capture)["replica_index"] for g in groups] == list("123456")
    assert all(len({replica_of(s) for s in g}) == 1 for g in groups)
    # A snapshot without a replica record (any single capture) is one replica on its own.
    plain = [replace(s, source=replace(s.source, capture=())) for s in snaps[:4]]
    assert len(split(plain)) == 1


@pytest.mark.parametrize("command", ["trend", "diff"])
def test_each_replica_is_judged_as_alone_then_the_site_across_the_fleet(command):
    snaps = _fleet_snaps()
    result = fleet(snaps, command, GroupBy.SITE)
    top = result.suspects[0]
    assert top.key.function == "main.fetchAll"
    for replica_snaps, figure in zip(split(snaps), top.figures, strict=True):
        ordered, _ = order(replica_snaps)
        alone = (
            trend(ordered, GroupBy.SITE)
            if command == "trend"
            else diff(ordered[0], ordered[-1], GroupBy.SITE)
        )
        g = next(g for g in alone.groups if g.key == top.key)
        assert (figure.verdict, figure.suspect, figure.delta) == (g.verdict, g.suspect, g.delta)
    by_number = {f.replica: f for f in top.figures}
    # r005 (-max-leak 2) holds: never suspect; the four plain replicas are.
    assert not by_number[5].suspect and by_number[5].delta == 0
    assert all(by_number[n].suspect for n in (1, 2, 3, 4))
    restarted = [r.number for r in result.replicas if r.restarted]
    if command == "trend":
        # r006 was killed and started again: judged run by run, it leaked in both runs, and its
        # survivors are those of its last run.
        assert restarted == [6]
        assert by_number[6].suspect
        assert by_number[6].survivors is not None
        assert top.suspect_on == 5
    assert [r.number for r in result.replicas] == [1, 2, 3, 4, 5, 6]


def test_trend_of_the_fleet_folder_in_every_format():
    text = run("trend", str(FLEET), "-q")
    assert text.exit_code == 0, text.output
    first = " ".join(text.stdout.split())
    assert "6 replicas (series of each over 30s)" in first
    assert "main.fetchAll (leaky/fanout.go:33): SUSPECT on 5 of 6 replicas" in first
    assert "(replica 5 steady)" in first
    assert "6 127.0.0.1:56631 (restarted)" in text.stdout
    assert "restarted during the series" in text.stderr

    md = run("trend", str(FLEET), "-q", "-f", "markdown")
    assert md.exit_code == 0
    assert md.stdout.startswith("### snapdiff trend of 6 replicas: 1 suspect site\n")
    assert "SUSPECT on 5 of 6 replicas" in md.stdout
    assert "| **SUSPECT 5/6** | `main.fetchAll` `leaky/fanout.go:33` | 6/6 |" in md.stdout

    jira = run("trend", str(FLEET), "-q", "-f", "jira")
    assert jira.exit_code == 0, jira.output
    assert jira.stdout.startswith("h3. snapdiff trend of 6 replicas: 1 suspect site\n")
    assert "|*SUSPECT 5/6*|{{main.fetchAll}} {{leaky/fanout.go:33}}|6/6|" in jira.stdout
    assert "|6 127.0.0.1:56631 (restarted)|*leak*|" in jira.stdout
    assert "|5 127.0.0.1:59313|steady|2|2|0|0|2|" in jira.stdout
    assert jira.stdout.count("{expand") == 2 and jira.stdout.count("{noformat}") == 2

    html = run("trend", str(FLEET), "-q", "-f", "html")
    assert html.exit_code == 0, html.output
    page = html.stdout
    assert "<h1>snapdiff trend of 6 replicas: 1 suspect site</h1>" in page
    assert '<tr class="suspect"><td class="v">SUSPECT 5/6</td>' in page
    assert '<td>6 127.0.0.1:56631 (restarted)</td><td class="v">leak</td>' in page
    assert '<tr><td>5 127.0.0.1:59313</td><td class="v">steady</td>' in page
    assert page.count("<table") == page.count("</table>") == 2

    js = run("trend", str(FLEET), "-q", "-f", "json")
    doc = orjson.loads(js.stdout_bytes)
    assert doc["command"] == "fleet-trend" and doc["suspects"] == 1
    assert [r["replica"] for r in doc["replicas"]] == [1, 2, 3, 4, 5, 6]
    assert [r["restarted"] for r in doc["replicas"]] == [False] * 5 + [True]
    site = doc["sites"][0]
    assert site["key_function"] == "main.fetchAll"
    assert (site["suspect_replicas"], site["present_replicas"]) == (5, 6)
    rates = [r["rate_per_minute"] for r in site["replicas"] if r["suspect"]]
    assert len(rates) == 5 and all(r > 100 for r in rates)
    assert abs(site["rate_per_minute_median"] - sorted(rates)[2]) < 0.01


def test_diff_of_the_fleet_folder_and_its_gates():
    r = run("diff", str(FLEET), "-q", "-f", "json")
    assert r.exit_code == 0, r.output
    doc = orjson.loads(r.stdout_bytes)
    assert doc["command"] == "fleet-diff"
    site = doc["sites"][0]
    assert site["key_function"] == "main.fetchAll"
    r1 = next(f for f in site["replicas"] if f["replica"] == 1)
    assert r1["before"] == 29 and r1["after"] == 152  # its first and last snapshot
    gate = run("diff", str(FLEET), "-q", "--fail-on-growth", "110")
    assert gate.exit_code == 5
    assert "main.fetchAll on replica 1" in gate.stderr
    assert "on replica 5" not in gate.stderr
    assert run("diff", str(FLEET), "-q", "--fail-on-growth", "10000").exit_code == 0


def test_a_folder_of_one_series_is_diffed_first_against_last():
    folder = ROOT / "samples" / "series" / "go-leaky"
    r = run("diff", str(folder), "-q", "-f", "json")
    assert r.exit_code == 0, r.output
    doc = orjson.loads(r.stdout_bytes)
    assert doc["command"] == "diff"
    assert doc["before"]["origin"] != doc["after"]["origin"]


def test_replica_with_one_snapshot_is_listed_not_judged():
    snaps = _fleet_snaps()
    partial = [s for s in snaps if replica_of(s) != replica_of(snaps[-1])] + [snaps[-1]]
    result = fleet(partial, "trend")
    assert [r.judged for r in result.replicas] == [True] * 5 + [False]
    assert any("one snapshot only" in w for w in result.warnings)
    with pytest.raises(UsageError, match="no replica has two snapshots"):
        fleet([g[0] for g in split(snaps)], "trend")


def test_hostile_replica_names_are_shown_as_text(tmp_path):
    snaps = _fleet_snaps()
    evil = "10.0.0.1:1`|<b>x</b>|\x1b[31m[red]"
    changed = []
    for s in snaps:
        record = tuple(
            (k, evil if k == "replica" and replica_of(s) == replica_of(snaps[0]) else v)
            for k, v in s.source.capture
        )
        changed.append(replace(s, source=replace(s.source, capture=record)))
    for i, s in enumerate(changed):
        (tmp_path / f"{i:02d}.json").write_bytes(store.dumps(s))
    text = run("trend", str(tmp_path), "-q", "--color", "always")
    md = run("trend", str(tmp_path), "-q", "-f", "markdown")
    assert text.exit_code == 0 and md.exit_code == 0
    assert "\x1b[31m[red]" not in text.stdout and "[red]" in text.stdout
    assert "<b>" not in md.stdout and "`|" not in md.stdout
    jira = run("trend", str(tmp_path), "-q", "-f", "jira")
    html = run("trend", str(tmp_path), "-q", "-f", "html")
    assert jira.exit_code == 0 and html.exit_code == 0
    # Jira: the replica's name is text, its | escaped (never a new cell), no <b> markup.
    row = next(line for line in jira.stdout.splitlines() if "10.0.0.1:1" in line and "|" in line)
    assert re.split(r"(?<!\\)\|", row)[1:-1] == [
        "1 10.0.0.1:1`\\|<b>x</b>\\|\\\\x1b\\[31m\\[red\\]",
        "*leak*",
        "29",
        "152",
        "\\+123",
        "\\+250",
        "29",
    ], row
    assert "\x1b" not in jira.stdout
    assert "<b>" not in html.stdout and "&lt;b&gt;x&lt;/b&gt;" in html.stdout
    assert "\x1b" not in html.stdout
