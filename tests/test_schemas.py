"""The JSON Schemas in snapdiff/schemas/ describe what snapdiff really writes, and reject damage."""

from __future__ import annotations

import copy
import gc
import gzip
import json
import re
import shutil
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from snapdiff import store
from snapdiff.cli import app
from snapdiff.errors import InputError
from snapdiff.render import json as json_render
from tests.conftest import GO_DUMPS, PY_DUMPS, ROOT
from tests.httpserver import DumpServer, dump_server_fixture  # noqa: F401


def _schema(name: str) -> Draft202012Validator:
    schema = json.loads((resources.files("snapdiff") / "schemas" / name).read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


SNAPSHOT = _schema("snapshot-v2.json")
SNAPSHOT_V1 = _schema("snapshot-v1.json")
REPORT = _schema("report-v1.json")

DUMPS = sorted(
    p
    for base in (GO_DUMPS, PY_DUMPS)
    for p in base.rglob("*")
    if p.is_file() and p.suffix in (".txt", ".json", ".gz")
)
GO_PAIRS = [
    (GO_DUMPS / v / f"t0.{kind}.txt", GO_DUMPS / v / f"t1.{kind}.txt")
    for v in ("go1.19", "go1.27")
    for kind in ("debug2", "debug1")
]
PY_PAIRS = [
    (PY_DUMPS / v / f"t0.{ext}", PY_DUMPS / v / f"t1.{ext}")
    for v in ("py3.11", "py3.12", "py3.13")
    for ext in ("json", "txt")
]
PAIRS = GO_PAIRS + PY_PAIRS


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT / "samples"))


def _snapdiff(*args: str) -> str:
    result = CliRunner().invoke(app, ["--traceback", *args], prog_name="snapdiff")
    assert result.exit_code == 0, (result.exit_code, result.stderr, result.exception)
    return result.stdout


def _errors(validator: Draft202012Validator, doc: object) -> list[str]:
    return [e.message for e in validator.iter_errors(doc)]


def _convert(dump: Path, out: Path, *extra: str) -> dict:
    _snapdiff("convert", str(dump), "-o", str(out), "-q", *extra)
    data = out.read_bytes()
    if out.suffix == ".gz":
        data = gzip.decompress(data)
    return json.loads(data)


def test_schemas_match_the_versions_the_code_writes():
    snap = SNAPSHOT.schema["properties"]
    assert snap["format"]["const"] == store.FORMAT
    assert snap["version"]["const"] == store.VERSION
    assert snap["task_fields"]["const"] == list(store.TASK_FIELDS)
    assert snap["columns"]["required"] == list(store.TASK_FIELDS)
    assert SNAPSHOT_V1.schema["properties"]["version"]["const"] in store.READS
    assert len(SNAPSHOT_V1.schema["$defs"]["task"]["prefixItems"]) == len(store.TASK_FIELDS)
    for name in ("diff", "show", "trend", "fleet"):
        props = REPORT.schema["$defs"][name]["properties"]
        assert props["schema"]["const"] == json_render.SCHEMA
        assert props["schema_version"]["const"] == json_render.SCHEMA_VERSION


def test_the_report_schema_dispatches_every_command():
    """Each command of the top-level enum has its own branch, and each branch names a def."""
    commands = REPORT.schema["properties"]["command"]["enum"]
    assert commands == ["diff", "show", "trend", "fleet-trend", "fleet-diff"]
    branches = {
        b["if"]["properties"]["command"]["const"]: b["then"]["$ref"] for b in REPORT.schema["allOf"]
    }
    assert sorted(branches) == sorted(commands)
    for ref in branches.values():
        assert ref.removeprefix("#/$defs/") in REPORT.schema["$defs"], ref


def _fields(name: str) -> set[str]:
    """The property names a def of the report schema lists, with those of its allOf parts."""
    d = REPORT.schema["$defs"][name]
    names = set(d.get("properties", {}))
    for part in d.get("allOf", []):
        names |= _fields(part["$ref"].removeprefix("#/$defs/"))
    return names


def test_every_report_field_is_in_the_json_report_doc():
    """docs/json-report.md names every field the schema lists (as `field`)."""
    doc = (ROOT / "docs" / "json-report.md").read_text("utf-8")
    named = set(re.findall(r"`([a-z_]+)`", doc))
    defs = ["diff", "show", "trend", "fleet", "snapshot", "group_common", "diff_group"]
    defs += ["show_group", "trend_group", "fleet_replica", "fleet_figure", "fleet_site"]
    for name in defs:
        assert _fields(name) - named == set(), name
    waiting = REPORT.schema["$defs"]["group_common"]["properties"]["waiting"]["properties"]
    assert set(waiting) - named == set()


@pytest.mark.parametrize("dump", DUMPS, ids=_name)
def test_convert_writes_valid_snapshots(dump, tmp_path):
    doc = _convert(dump, tmp_path / "snap.json.gz", "--captured-at", "2026-01-02T03:04:05Z")
    assert _errors(SNAPSHOT, doc) == []
    assert doc["task_count"], "a sample with no tasks would make this test vacuous"


# The series written before version 2 (version 1); go-fleet's and go-restart's snapshots were
# written as version 2.
SERIES = sorted((ROOT / "samples" / "series").rglob("*.json.gz"))
SERIES_V1 = [p for p in SERIES if json.loads(gzip.decompress(p.read_bytes()))["version"] == 1]
SERIES_V2 = [p for p in SERIES if p not in SERIES_V1 and p.parent.name != "go-fleet"]
FLEET = sorted((ROOT / "samples" / "series" / "go-fleet").glob("*.json.gz"))


@pytest.mark.parametrize("path", FLEET[::6], ids=_name)
def test_fleet_snapshots_are_valid_version_2(path):
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert doc["version"] == store.VERSION == 2
    assert _errors(SNAPSHOT, doc) == []
    assert dict(doc["source"]["capture"])["replica"].startswith("127.0.0.1:")


@pytest.mark.parametrize("path", SERIES_V2, ids=_name)
def test_version_2_sample_snapshots_are_valid(path):
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert doc["version"] == store.VERSION == 2
    assert _errors(SNAPSHOT, doc) == []


@pytest.mark.parametrize("path", SERIES_V1, ids=_name)
def test_version_1_snapshots_are_valid_and_read_as_written_again(path, tmp_path):
    """The sample series were written as version 1: the v1 schema still holds for them, and
    reading one gives the same snapshot as reading it after it is written as version 2."""
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert doc["version"] == 1
    assert _errors(SNAPSHOT_V1, doc) == []
    again = _convert(path, tmp_path / "again.json")
    assert again["version"] == store.VERSION == 2
    assert _errors(SNAPSHOT, again) == []
    first = store.loads(gzip.decompress(path.read_bytes()), "a")
    assert first.tasks
    assert store.loads(store.dumps(first), "a") == first


def test_reading_leaves_the_collector_as_it_was():
    """A snapshot is built with the cyclic collector paused; what was made goes straight to
    the oldest generation, never walked by a young pass. The collector is back on after (off
    if it was off), and objects the program froze itself (``gc.freeze``) stay frozen."""
    data = store.dumps(store.loads(gzip.decompress(SERIES[0].read_bytes()), "a"))
    snap = store.loads(data, "a")
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert id(snap.tasks) in {id(o) for o in gc.get_objects(generation=2)}
    mine = [[n] for n in range(100)]
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen >= len(mine)
        store.loads(data, "a")
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    gc.disable()
    try:
        store.loads(data, "a")
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "dump",
    [PY_DUMPS / v / f"t1.locals.{ext}" for v in ("py3.11", "py3.13") for ext in ("json", "txt")],
    ids=_name,
)
def test_snapshots_with_kept_locals_are_valid(dump, tmp_path):
    doc = _convert(dump, tmp_path / "snap.json", "--keep-locals")
    assert doc.get("locals"), "--keep-locals on a --locals dump should keep some"
    assert _errors(SNAPSHOT, doc) == []


def test_snapshot_of_a_truncated_dump_is_valid(tmp_path):
    cut = tmp_path / "cut.txt"
    cut.write_bytes((GO_DUMPS / "go1.27" / "t1.debug2.txt").read_bytes()[:20_000])
    doc = _convert(cut, tmp_path / "snap.json")
    assert doc["truncated"] is True
    assert _errors(SNAPSHOT, doc) == []


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: _name(p[0]))
def test_diff_json_is_valid(pair):
    doc = json.loads(_snapdiff("diff", str(pair[0]), str(pair[1]), "-f", "json", "-q"))
    assert _errors(REPORT, doc) == []
    assert doc["command"] == "diff"
    assert doc["groups"]


@pytest.mark.parametrize("group_by", ["site", "entry", "leaf", "stack"])
def test_diff_json_is_valid_for_every_grouping(group_by, tmp_path):
    before, after = GO_PAIRS[1]
    # With a capture time on both sides, so rates and elapsed_source are filled in.
    b = tmp_path / "b.json"
    a = tmp_path / "a.json"
    _snapdiff("convert", str(before), "-o", str(b), "-q", "--captured-at", "2026-01-02T03:04:05Z")
    _snapdiff("convert", str(after), "-o", str(a), "-q", "--captured-at", "2026-01-02T03:05:15Z")
    doc = json.loads(_snapdiff("diff", str(b), str(a), "-f", "json", "-q", "-g", group_by))
    assert _errors(REPORT, doc) == []
    assert doc["elapsed_source"] == "capture times"


def test_diff_json_across_a_restart_is_valid():
    before, after = GO_PAIRS[0]
    doc = json.loads(_snapdiff("diff", str(after), str(before), "-f", "json", "-q"))
    assert doc["ids_comparable"] is False
    assert _errors(REPORT, doc) == []


@pytest.mark.parametrize("dump", DUMPS, ids=_name)
def test_show_json_is_valid(dump):
    doc = json.loads(_snapdiff("show", str(dump), "-f", "json", "-q"))
    assert _errors(REPORT, doc) == []
    assert doc["command"] == "show"


# The other runtimes' dumps: show of each, diff and trend of each pair.
JVM_DUMPS = ROOT / "samples" / "java" / "dumps"
NODE_DUMPS = ROOT / "samples" / "node" / "dumps"
OTHER_DUMPS = sorted(
    p
    for base in (JVM_DUMPS, NODE_DUMPS)
    for p in base.rglob("*")
    if p.is_file() and p.suffix in (".txt", ".json", ".gz")
)
OTHER_PAIRS = [
    (JVM_DUMPS / "jdk17" / "t0.txt", JVM_DUMPS / "jdk17" / "t1.txt"),
    (JVM_DUMPS / "jdk17" / "t0.actuator.json", JVM_DUMPS / "jdk17" / "t1.actuator.json.gz"),
    (JVM_DUMPS / "jdk25" / "t0.json", JVM_DUMPS / "jdk25" / "t1.json.gz"),
    (JVM_DUMPS / "jdk25" / "t0.txt", JVM_DUMPS / "jdk25" / "t1.txt.gz"),
    (NODE_DUMPS / "node20" / "t0.json", NODE_DUMPS / "node20" / "t1.json"),
    (NODE_DUMPS / "tenants-node20" / "t0.json", NODE_DUMPS / "tenants-node20" / "t1.json"),
]


@pytest.mark.parametrize("dump", OTHER_DUMPS, ids=_name)
def test_show_json_of_other_runtimes_is_valid(dump):
    """JVM text dumps hold the VM's own threads, whose ids the reader makes up (negative):
    they are no example ids."""
    doc = json.loads(_snapdiff("show", str(dump), "-f", "json", "-q"))
    assert _errors(REPORT, doc) == []
    assert doc["groups"]


@pytest.mark.parametrize("pair", OTHER_PAIRS, ids=lambda p: _name(p[0]))
@pytest.mark.parametrize("command", ["diff", "trend"])
def test_diff_and_trend_json_of_other_runtimes_are_valid(pair, command):
    doc = json.loads(_snapdiff(command, str(pair[0]), str(pair[1]), "-f", "json", "-q"))
    assert _errors(REPORT, doc) == []
    assert doc["command"] == command
    assert doc["groups"]


def _check_series(doc: dict) -> None:
    """What the schema cannot say: every per-snapshot list has one entry per snapshot, and
    the runs cover the series in order."""
    n = len(doc["snapshots"])
    assert len(doc["totals"]) == n
    assert doc["totals"] == [s["total"] for s in doc["snapshots"]]
    assert (doc["total_before"], doc["total_after"]) == (doc["totals"][0], doc["totals"][-1])
    if doc["offsets_seconds"] is not None:
        assert len(doc["offsets_seconds"]) == n
        assert doc["offsets_seconds"][0] == 0
        assert doc["elapsed_seconds"] == doc["offsets_seconds"][-1]
    else:
        assert doc["elapsed_seconds"] is None and doc["time_source"] is None
    starts = [r[0] for r in doc["runs"]]
    ends = [r[1] for r in doc["runs"]]
    assert starts == [0] + [e + 1 for e in ends[:-1]] and ends[-1] == n - 1
    assert doc["suspects"] == sum(g["suspect"] for g in doc["groups"])
    for g in doc["groups"]:
        assert len(g["series"]) == len(g["runtime_leaked"]) == n
        assert (g["before"], g["after"]) == (g["series"][0], g["series"][-1])
        assert g["delta"] == g["after"] - g["before"]


# Every sample series but the fleet's (several replicas: a fleet report, below).
SERIES_DIRS = sorted(
    p for p in (ROOT / "samples" / "series").iterdir() if p.is_dir() and p.name != "go-fleet"
)


@pytest.mark.parametrize("folder", SERIES_DIRS, ids=_name)
def test_trend_json_of_every_sample_series_is_valid(folder):
    doc = json.loads(_snapdiff("trend", str(folder), "-f", "json", "-q"))
    assert _errors(REPORT, doc) == []
    assert doc["command"] == "trend"
    assert doc["time_source"] == "capture times"
    assert doc["groups"]
    _check_series(doc)
    # go-restart's process restarted once: two runs, its ids not comparable across them.
    restarted = folder.name == "go-restart"
    assert len(doc["runs"]) == (2 if restarted else 1)
    assert doc["ids_comparable"] is not restarted


GO127 = GO_DUMPS / "go1.27"
WARMPOOL = ROOT / "samples" / "java" / "dumps" / "warmpool-jdk17"
TREND_VARIANTS = {
    # raw dumps: no capture times, so no offsets and slopes per step only
    "go dumps without times": [str(GO127 / "t0.debug2.txt"), str(GO127 / "t1.debug2.txt")],
    "--every": [str(GO127 / "t0.debug2.txt"), str(GO127 / "t1.debug2.txt"), "--every", "70s"],
    # debug=1 has no ids: survivors and kept are null
    "go debug=1": [str(GO127 / "t0.debug1.txt"), str(GO127 / "t1.debug1.txt")],
    # a pool that grew in one step, then held: verdict step
    "jvm warm pool": [str(WARMPOOL / f"t{i}.txt") for i in range(3)],
    "group by stack": [str(ROOT / "samples" / "series" / "go-leaky"), "-g", "stack"],
    "group by leaf": [str(ROOT / "samples" / "series" / "py-noisy"), "-g", "leaf"],
    "restart, group by entry": [str(ROOT / "samples" / "series" / "go-restart"), "-g", "entry"],
}


@pytest.mark.parametrize("variant", TREND_VARIANTS, ids=str)
def test_trend_json_variants_are_valid(variant):
    doc = json.loads(_snapdiff("trend", *TREND_VARIANTS[variant], "-f", "json", "-q"))
    assert _errors(REPORT, doc) == []
    _check_series(doc)
    verdicts = {g["verdict"] for g in doc["groups"]}
    if variant == "go dumps without times":
        assert doc["time_source"] is None
        assert all(g["slope_per_minute"] is None for g in doc["groups"])
    if variant == "--every":
        assert (doc["time_source"], doc["offsets_seconds"]) == ("--every", [0.0, 70.0])
    if variant == "go debug=1":
        assert doc["ids_comparable"] is False
        assert all(g["survivors"] is None and g["kept"] is None for g in doc["groups"])
    if variant == "jvm warm pool":
        assert "step" in verdicts


def test_watch_json_of_a_real_capture_is_valid(dump_server: DumpServer, tmp_path):
    """watch -f json against a real HTTP server: its snapshots carry what the capture
    recorded (the URL, the HTTP status, the capture time)."""
    out = _snapdiff(
        *("watch", dump_server.base, "--every", "0.05s", "--count", "3"),
        *("--save", str(tmp_path / "w"), "-f", "json", "-q"),
    )
    doc = json.loads(out)
    assert _errors(REPORT, doc) == []
    assert doc["command"] == "trend"
    assert len(doc["snapshots"]) == 3 == len(list((tmp_path / "w").glob("*.json.gz")))
    assert doc["time_source"] == "capture times"
    first = doc["snapshots"][0]
    assert first["captured_at"] is not None
    assert first["capture"]["url"].startswith(dump_server.base)
    _check_series(doc)


FLEET_DIR = ROOT / "samples" / "series" / "go-fleet"


def _fleet(command: str, folder: Path = FLEET_DIR) -> dict:
    doc = json.loads(_snapdiff(command, str(folder), "-f", "json", "-q"))
    assert doc["command"] == f"fleet-{command}"
    return doc


def _check_fleet(doc: dict) -> None:
    """What the schema cannot say: each site has one figure per judged replica, in order."""
    judged = [r["replica"] for r in doc["replicas"] if r["judged"]]
    assert doc["suspects"] == sum(s["suspect"] for s in doc["sites"])
    for s in doc["sites"]:
        assert [f["replica"] for f in s["replicas"]] == judged
        assert s["judged_replicas"] == len(judged)
        assert s["suspect_replicas"] == sum(f["suspect"] for f in s["replicas"])
        assert s["present_replicas"] == sum(f["verdict"] != "absent" for f in s["replicas"])
        assert s["delta"] == sum(f["delta"] for f in s["replicas"])


@pytest.mark.parametrize("command", ["trend", "diff"])
def test_fleet_json_is_valid(command):
    doc = _fleet(command)
    assert _errors(REPORT, doc) == []
    assert len(doc["replicas"]) == 6 and all(r["judged"] for r in doc["replicas"])
    assert doc["suspects"] >= 1
    _check_fleet(doc)


@pytest.mark.parametrize("command", ["trend", "diff"])
def test_fleet_json_with_a_replica_not_judged_is_valid(command, tmp_path):
    """A replica with one snapshot only is listed, not judged: it has no figures."""
    for p in FLEET_DIR.glob("*.json.gz"):
        shutil.copy(p, tmp_path)
    for p in sorted(tmp_path.glob("snap-r002-*"))[1:]:
        p.unlink()
    doc = _fleet(command, tmp_path)
    assert _errors(REPORT, doc) == []
    assert [r["judged"] for r in doc["replicas"]] == [True, False, True, True, True, True]
    assert any("replica 2 " in w for w in doc["warnings"])
    _check_fleet(doc)


# --- the schemas are not vacuous: damaged documents fail -----------------------------------


@pytest.fixture(scope="module")
def snapshot_doc(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("snap") / "s.json"
    return _convert(GO_DUMPS / "go1.27" / "t1.goroutineleak.debug2.txt", out)


def _set(doc: dict, path: tuple, value: object) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()

SNAPSHOT_DAMAGE = {
    "wrong format": (("format",), "snapdiff-report"),
    "other version": (("version",), 3),
    "no columns": (("columns",), _DELETE),
    "no task count": (("task_count",), _DELETE),
    "no frames table": (("frames",), _DELETE),
    "unknown top-level key": (("surprise",), 1),
    "a column missing": (("columns", "stack"), _DELETE),
    "an unknown column": (("columns", "colour"), [0]),
    "task id a string": (("columns", "id", 0), "18"),
    "negative stack index": (("columns", "stack", 0), -1),
    "count zero": (("columns", "count"), {"runs": [[0, 302]]}),
    "a run of length zero": (("columns", "kind"), {"runs": [[0, 0]]}),
    "runs beside another key": (("columns", "kind"), {"runs": [[0, 302]], "more": 1}),
    "a column neither list nor runs": (("columns", "state"), 3),
    "frame line a string": (("frames", 0, 2), "53"),
    "frame with four items": (("frames", 0), ["f", "file.go", 1, "extra"]),
    "task columns renamed": (("task_fields", 0), "type"),
    "captured_at a number": (("source", "captured_at"), 1700000000),
    "source without origin": (("source", "origin"), _DELETE),
    "truncated as a string": (("truncated",), "no"),
    "label pair of three": (("labelsets", 0, 0), ["k", "v", "x"]),
}


@pytest.mark.parametrize("damage", SNAPSHOT_DAMAGE, ids=str)
def test_damaged_snapshot_fails(snapshot_doc, damage):
    assert _errors(SNAPSHOT, snapshot_doc) == []
    path, value = SNAPSHOT_DAMAGE[damage]
    assert _errors(SNAPSHOT, _set(snapshot_doc, path, value)), damage


# What the loader must refuse, as a one-line input error (the schema is stricter: it also
# refuses unknown keys and loosely typed metadata the loader reads leniently).
LOAD_REFUSES = [
    d
    for d in SNAPSHOT_DAMAGE
    if d not in {"unknown top-level key", "captured_at a number", "truncated as a string"}
] + ["column too short", "stack index past the table", "created_by a float"]
SNAPSHOT_DAMAGE_LOAD = {
    **SNAPSHOT_DAMAGE,
    "column too short": (("columns", "id"), [1, 2, 3]),
    "stack index past the table": (("columns", "stack", 0), 10_000),
    "created_by a float": (("columns", "created_by"), {"runs": [[1.0, 302]]}),
}


@pytest.mark.parametrize("damage", LOAD_REFUSES, ids=str)
def test_damaged_snapshot_is_an_input_error(snapshot_doc, damage):
    assert snapshot_doc["task_count"] == 302
    assert len(store.decode(snapshot_doc, "ok").tasks) == 302
    path, value = SNAPSHOT_DAMAGE_LOAD[damage]
    data = json.dumps(_set(snapshot_doc, path, value)).encode()
    with pytest.raises(InputError, match=r"^bad\.json: "):
        store.loads(data, "bad.json")


@pytest.fixture(scope="module")
def diff_doc() -> dict:
    before, after = GO_PAIRS[1]
    return json.loads(_snapdiff("diff", str(before), str(after), "-f", "json", "-q"))


@pytest.fixture(scope="module")
def show_doc() -> dict:
    return json.loads(_snapdiff("show", str(GO_PAIRS[1][1]), "-f", "json", "-q"))


DIFF_DAMAGE = {
    "no groups": (("groups",), _DELETE),
    "other schema": (("schema",), "something-else"),
    "other schema_version": (("schema_version",), 2),
    "unknown command": (("command",), "compare"),
    "another command's name": (("command",), "trend"),
    "no command": (("command",), _DELETE),
    "suspect as a string": (("groups", 0, "suspect"), "yes"),
    "unknown verdict": (("groups", 0, "verdict"), "maybe"),
    "unknown confidence": (("groups", 0, "confidence"), "certain"),
    "before negative": (("groups", 0, "before"), -1),
    "delta a float": (("groups", 0, "delta"), 1.5),
    "missing site_function": (("groups", 0, "site_function"), _DELETE),
    "unknown group field": (("groups", 0, "surprise"), 1),
    "show field in a diff group": (("groups", 0, "count"), 3),
    "stack frame without function": (("groups", 0, "stack", 0, "function"), _DELETE),
    "states with a string count": (("groups", 0, "states", "chan send"), "many"),
    "elapsed_source unknown": (("elapsed_source",), "guess"),
    "snapshot meta without total": (("before", "total"), _DELETE),
}


@pytest.mark.parametrize("damage", DIFF_DAMAGE, ids=str)
def test_damaged_diff_report_fails(diff_doc, damage):
    assert _errors(REPORT, diff_doc) == []
    path, value = DIFF_DAMAGE[damage]
    assert _errors(REPORT, _set(diff_doc, path, value)), damage


SHOW_DAMAGE = {
    "no total": (("total",), _DELETE),
    "group without count": (("groups", 0, "count"), _DELETE),
    "diff field in a show group": (("groups", 0, "delta"), 3),
    "diff-only top-level field": (("suspects",), 1),
    "unknown key kind": (("groups", 0, "key"), "creator"),
}


@pytest.mark.parametrize("damage", SHOW_DAMAGE, ids=str)
def test_damaged_show_report_fails(show_doc, damage):
    assert _errors(REPORT, show_doc) == []
    path, value = SHOW_DAMAGE[damage]
    assert _errors(REPORT, _set(show_doc, path, value)), damage


@pytest.fixture(scope="module")
def trend_doc() -> dict:
    doc = json.loads(
        _snapdiff("trend", str(ROOT / "samples" / "series" / "go-leaky"), "-f", "json", "-q")
    )
    assert doc["groups"][0]["suspect"] is True
    return doc


TREND_DAMAGE = {
    "no runs": (("runs",), _DELETE),
    "no snapshots": (("snapshots",), _DELETE),
    "no totals": (("totals",), _DELETE),
    "a run of three": (("runs", 0), [0, 5, 6]),
    "a run index a float": (("runs", 0, 1), 4.5),
    "one snapshot": (("snapshots",), [{}]),
    "snapshot without origin": (("snapshots", 0, "origin"), _DELETE),
    "time_source unknown": (("time_source",), "guess"),
    "offsets_seconds a string": (("offsets_seconds",), "0,10"),
    "elapsed_seconds zero": (("elapsed_seconds",), 0),
    "diff's before and after": (("before",), {}),
    "diff's elapsed_source": (("elapsed_source",), "capture times"),
    "unknown top-level field": (("surprise",), 1),
    "unknown command": (("command",), "trends"),
    "a fleet's command": (("command",), "fleet-trend"),
    "group without series": (("groups", 0, "series"), _DELETE),
    "group without slope_per_step": (("groups", 0, "slope_per_step"), _DELETE),
    "group without verdict": (("groups", 0, "verdict"), _DELETE),
    "series count a float": (("groups", 0, "series", 0), 1.5),
    "series count negative": (("groups", 0, "series", 0), -1),
    "steadiness above 1": (("groups", 0, "steadiness"), 1.5),
    "steadiness null": (("groups", 0, "steadiness"), None),
    "kept a string": (("groups", 0, "kept"), "all"),
    "rising_steps a float": (("groups", 0, "rising_steps"), 2.5),
    "unknown verdict": (("groups", 0, "verdict"), "maybe"),
    "fleet's absent as a verdict": (("groups", 0, "verdict"), "absent"),
    "unknown confidence": (("groups", 0, "confidence"), "certain"),
    "diff's rate in a trend group": (("groups", 0, "rate_per_minute"), 1.0),
    "diff's new in a trend group": (("groups", 0, "new"), 3),
    "unknown group field": (("groups", 0, "surprise"), 1),
    "missing site_function": (("groups", 0, "site_function"), _DELETE),
    "a negative example id": (("groups", 0, "example_ids"), [-15427]),
    "stack frame without function": (("groups", 0, "stack", 0, "function"), _DELETE),
}


@pytest.mark.parametrize("damage", TREND_DAMAGE, ids=str)
def test_damaged_trend_report_fails(trend_doc, damage):
    assert _errors(REPORT, trend_doc) == []
    path, value = TREND_DAMAGE[damage]
    assert _errors(REPORT, _set(trend_doc, path, value)), damage


def test_a_trend_group_may_say_step_and_a_diff_group_may_not(trend_doc, diff_doc):
    assert _errors(REPORT, _set(trend_doc, ("groups", 0, "verdict"), "step")) == []
    assert _errors(REPORT, _set(diff_doc, ("groups", 0, "verdict"), "step"))


@pytest.fixture(scope="module")
def fleet_docs() -> dict[str, dict]:
    return {command: _fleet(command) for command in ("trend", "diff")}


FLEET_DAMAGE = {
    "no sites": (("sites",), _DELETE),
    "no replicas": (("replicas",), _DELETE),
    "no replica at all": (("replicas",), []),
    "no suspects": (("suspects",), _DELETE),
    "unknown command": (("command",), "fleet"),
    "a trend's field": (("runs",), [[0, 3]]),
    "unknown top-level field": (("surprise",), 1),
    "replica number 0": (("replicas", 0, "replica"), 0),
    "replica without address": (("replicas", 0, "address"), _DELETE),
    "replica judged as a string": (("replicas", 0, "judged"), "yes"),
    "replica host a number": (("replicas", 0, "host"), 1),
    "unknown replica field": (("replicas", 0, "surprise"), 1),
    "site without judged_replicas": (("sites", 0, "judged_replicas"), _DELETE),
    "site without its figures": (("sites", 0, "replicas"), _DELETE),
    "site delta a float": (("sites", 0, "delta"), 1.5),
    "site median rate a string": (("sites", 0, "rate_per_minute_median"), "fast"),
    "site with a verdict": (("sites", 0, "verdict"), "leak"),
    "site without site_function": (("sites", 0, "site_function"), _DELETE),
    "site stack frame without function": (("sites", 0, "stack", 0, "function"), _DELETE),
    "unknown site field": (("sites", 0, "surprise"), 1),
    "figure without verdict": (("sites", 0, "replicas", 0, "verdict"), _DELETE),
    "figure verdict unknown": (("sites", 0, "replicas", 0, "verdict"), "maybe"),
    "figure survivors negative": (("sites", 0, "replicas", 0, "survivors"), -1),
    "figure with a trend field": (("sites", 0, "replicas", 0, "slope_per_minute"), 1.0),
}


@pytest.mark.parametrize("damage", FLEET_DAMAGE, ids=str)
@pytest.mark.parametrize("command", ["trend", "diff"])
def test_damaged_fleet_report_fails(fleet_docs, command, damage):
    doc = fleet_docs[command]
    assert _errors(REPORT, doc) == []
    path, value = FLEET_DAMAGE[damage]
    assert _errors(REPORT, _set(doc, path, value)), damage


def test_a_fleet_trend_figure_may_say_step_and_a_fleet_diff_figure_may_not(fleet_docs):
    """fleet-diff judges each replica as diff does: no step."""
    path = ("sites", 0, "replicas", 0, "verdict")
    assert _errors(REPORT, _set(fleet_docs["trend"], path, "step")) == []
    assert _errors(REPORT, _set(fleet_docs["diff"], path, "step"))
    for doc in fleet_docs.values():
        assert _errors(REPORT, _set(doc, path, "absent")) == []
