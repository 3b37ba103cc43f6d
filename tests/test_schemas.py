"""The JSON Schemas in snapdiff/schemas/ describe what snapdiff really writes, and reject damage."""

from __future__ import annotations

import copy
import gc
import gzip
import json
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
    for command in ("diff", "show"):
        props = REPORT.schema["$defs"][command]["properties"]
        assert props["schema"]["const"] == json_render.SCHEMA
        assert props["schema_version"]["const"] == json_render.SCHEMA_VERSION


@pytest.mark.parametrize("dump", DUMPS, ids=_name)
def test_convert_writes_valid_snapshots(dump, tmp_path):
    doc = _convert(dump, tmp_path / "snap.json.gz", "--captured-at", "2026-01-02T03:04:05Z")
    assert _errors(SNAPSHOT, doc) == []
    assert doc["task_count"], "a sample with no tasks would make this test vacuous"


# The series written before version 2; go-fleet's snapshots were written as version 2.
SERIES = sorted(
    p for p in (ROOT / "samples" / "series").rglob("*.json.gz") if p.parent.name != "go-fleet"
)
FLEET = sorted((ROOT / "samples" / "series" / "go-fleet").glob("*.json.gz"))


@pytest.mark.parametrize("path", FLEET[::6], ids=_name)
def test_fleet_snapshots_are_valid_version_2(path):
    doc = json.loads(gzip.decompress(path.read_bytes()))
    assert doc["version"] == store.VERSION == 2
    assert _errors(SNAPSHOT, doc) == []
    assert dict(doc["source"]["capture"])["replica"].startswith("127.0.0.1:")


@pytest.mark.parametrize("path", SERIES, ids=_name)
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
    "unknown command": (("command",), "trend"),
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
