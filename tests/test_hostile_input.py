"""Hostile input, crafted: each class found by fuzzing and hand-made files stays fixed.

Every case runs the command a user would (``show -f json``, ``convert``) on a real dump with one
hostile change, and expects a result (exit 0, valid JSON) or one line on stderr with exit 3:
never a traceback.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from snapdiff import store
from snapdiff.cli import app
from tests.conftest import GO_DUMPS, SAMPLES

ENV = {"COLUMNS": "100", "NO_COLOR": None, "FORCE_COLOR": None, "SNAPDIFF_TRACEBACK": None}
HUGE = str(2**70)  # past 64 bits
DIGITS = "9" * 5000  # past Python's int-conversion limit (4,300 digits)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env=ENV).invoke(app, list(args), prog_name="snapdiff")
    return result.exit_code, result.stdout, result.stderr


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("snapdiff: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def read_sample(relative: str) -> bytes:
    data = (SAMPLES / relative).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def shown(path: str) -> dict:
    code, out, err = run("show", path, "-f", "json")
    assert code == 0, err
    return json.loads(out)


def converted(tmp_path: Path, path: str) -> None:
    code, _, err = run("convert", path, "-o", str(tmp_path / "out.json"))
    assert code == 0, err
    store.loads((tmp_path / "out.json").read_bytes(), "out.json")


GO_TEXT = "go/dumps/go1.27/t1.debug2.txt"
PYSPY_JSON = "python/dumps/py3.12/t1.json"


# --- integers beyond 64 bits, digit strings beyond the int-conversion limit -------------------


def _sub_first(data: bytes, pattern: bytes, repl: bytes) -> bytes:
    new, n = re.subn(pattern, repl, data, count=1)
    assert n == 1, pattern
    return new


HUGE_NUMBERS = {
    "go-frame-line": (GO_TEXT, rb"(\t[^\n]+\.go:)\d+", rb"\g<1>" + HUGE.encode()),
    "go-frame-line-digits": (GO_TEXT, rb"(\t[^\n]+\.go:)\d+", rb"\g<1>" + DIGITS.encode()),
    "go-goroutine-id": (GO_TEXT, rb"goroutine \d+ \[", b"goroutine 99999999999999999999 ["),
    "pyspy-thread-id": (PYSPY_JSON, rb'"thread_id": \d+', b'"thread_id": ' + HUGE.encode()),
    "pyspy-line": (PYSPY_JSON, rb'"line": \d+', b'"line": ' + HUGE.encode()),
    "aiomonitor-task-id": (
        "python/dumps/aiomonitor/t1.json",
        rb'"task_id": "\d+"',
        b'"task_id": ' + HUGE.encode(),
    ),
    "node-frame-line": (
        "node/dumps/node20/handles.json",
        rb'(at [^"\n]*?:)\d+(:\d+\)?")',
        rb"\g<1>" + DIGITS.encode() + rb"\2",
    ),
    "jvm-nid": ("java/dumps/jdk17/t1.txt", rb"nid=0x[0-9a-f]+", b"nid=" + DIGITS.encode()),
    "jvm-thread-name": (
        "java/dumps/jdk17/t1.txt",
        rb'(?m)^"([^"\n]+)"',
        b'"pool-' + DIGITS.encode() + b'-thread-1"',
    ),
}


@pytest.mark.parametrize("case", sorted(HUGE_NUMBERS))
def test_numbers_beyond_64_bits_are_read_as_unknown(tmp_path, case):
    relative, pattern, repl = HUGE_NUMBERS[case]
    if not (SAMPLES / relative).exists():
        pytest.skip(f"no sample {relative}")
    data = _sub_first(read_sample(relative), pattern, repl)
    path = write(tmp_path, "dump" + "".join(Path(relative).suffixes[:1]), data)
    report = shown(path)
    assert report["before"]["tasks"] > 0 if "before" in report else report
    converted(tmp_path, path)


def test_pprof_counts_past_64_bits_are_refused_in_one_line(tmp_path):
    from snapdiff.runtimes.go.pprof import profile_pb2

    raw = gzip.decompress((GO_DUMPS / "go1.27" / "t0.debug0.pb.gz").read_bytes())
    profile = profile_pb2.Profile.FromString(raw)
    assert len(profile.sample) >= 3
    for sample in profile.sample[:3]:
        sample.value[0] = 2**63 - 1  # the most one sample can say (int64)
    path = write(tmp_path, "bomb.pb", profile.SerializeToString())
    code, _, err = run("show", path, "-f", "json")
    assert code == 3
    assert "task counts add up to" in one_error(err)


def test_natural_order_of_names_with_endless_digits():
    from snapdiff.compare import _natural

    names = [f"pool-{DIGITS}-thread-1", "pool-10-thread-1", "pool-9-thread-1"]
    assert sorted(names, key=_natural) == [names[2], names[1], names[0]]


# --- JSON the standard library reads and orjson would not write ---------------------------------


def test_lone_surrogates_in_probe_json_become_replacement_characters(tmp_path):
    doc = {
        "format": "snapdiff-probe",
        "version": 1,
        "tasks": [
            {"kind": "thread", "name": "worker", "frames": [{"function": "run", "file": "a.py"}]}
        ],
    }
    data = json.dumps(doc).replace('"worker"', '"w\\ud800rker"').encode()
    path = write(tmp_path, "probe.json", data)
    code, out, err = run("show", path, "-f", "json")
    assert code in (0, 3), err
    if code == 3:
        one_error(err)
    else:
        assert "\\ud800" not in out
        converted(tmp_path, path)


def test_deep_nesting_in_probe_json_is_one_line(tmp_path):
    data = b'{"format": "snapdiff-probe", "version": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000
    data += b"}"
    path = write(tmp_path, "deep.json", data)
    code, _, err = run("show", path)
    assert code == 3
    one_error(err)


def test_node_report_with_nan_and_log_text_after_it(tmp_path):
    data = read_sample("node/dumps/node20/t1.json")
    data = _sub_first(data, rb'"userCpuSeconds": [0-9.]+', b'"userCpuSeconds": NaN')
    path = write(tmp_path, "report.json", data + b"\n2026-01-01 log line after the report\n")
    shown(path)
    converted(tmp_path, path)


# --- snapshot files: types checked against the schema before use -------------------------------


def _snapshot_doc() -> dict:
    snap = store.loads(store.dumps(_go_snapshot()), "x")
    return orjson.loads(store.dumps(snap))


def _go_snapshot():
    from snapdiff import inputs

    return inputs.load(str(GO_DUMPS / "go1.27" / "t0.debug2.txt"))


def _set(doc: dict, path: tuple, value) -> dict:
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


WRONG_TYPES = {
    "version-true": (("version",), True),
    "truncated-string": (("truncated",), "no"),
    "warnings-string": (("warnings",), "abc"),
    "skipped-negative": (("skipped_lines",), -1),
    "captured-at-object": (("source", "captured_at"), {"a": 1}),
    "host-number": (("source", "host"), 5),
    "detail-list": (("source", "detail"), ["x"]),
    "producer-bool": (("source", "producer"), False),
    "pid-string": (("source", "pid"), "12"),
    "stack-index-negative": (("stacks", 0, 0), -1),
    "stack-index-fraction": (("stacks", 0, 0), 0.5),
    "stack-index-bool": (("stacks", 0, 0), True),
    "frame-line-negative": (("frames", 0, 2), -3),
    "frame-function-number": (("frames", 0, 0), 3),
    "kind-number": (("kinds", 0), 1),
    "locals-negative": (("locals",), [[-1, 0, "x", "1"]]),
    "locals-fraction": (("locals",), [[0.5, 0, "x", "1"]]),
    "label-not-pair": (("labelsets",), [[["k"]]]),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_snapshot_fields_of_the_wrong_type_are_refused(tmp_path, case):
    jsonschema = pytest.importorskip("jsonschema")
    path_in_doc, value = WRONG_TYPES[case]
    doc = _set(_snapshot_doc(), path_in_doc, value)
    schema = json.loads((Path(store.__file__).parent / "schemas" / "snapshot-v2.json").read_text())
    # The schema says no...
    assert not jsonschema.Draft202012Validator(schema).is_valid(doc)
    # ... and so does the loader, in one line.
    path = write(tmp_path, "snap.json", orjson.dumps(doc))
    code, _, err = run("show", path, "-f", "json")
    assert code == 3, err
    assert "snap.json: " in one_error(err)


def test_a_valid_snapshot_still_loads(tmp_path):
    path = write(tmp_path, "snap.json", orjson.dumps(_snapshot_doc()))
    assert shown(path)


def test_run_length_bomb_is_refused_before_expanding(tmp_path):
    doc = _snapshot_doc()
    big = 10**8
    doc["task_count"] = big
    for name in store.TASK_FIELDS:
        column = doc["columns"][name]
        first = column["runs"][0][0] if isinstance(column, dict) else column[0]
        doc["columns"][name] = {"runs": [[first, big]]}
    path = write(tmp_path, "bomb.json", orjson.dumps(doc))
    code, _, err = run("show", path)
    assert code == 3
    assert "claims 100,000,000 tasks, more than its" in one_error(err)


def test_snapshot_ids_beyond_64_bits_are_unknown(tmp_path):
    doc = _snapshot_doc()
    doc["columns"]["id"] = [2**70] * doc["task_count"]
    path = write(tmp_path, "snap.json", json.dumps(doc).encode())
    # orjson reads 2**70 as a float: the schema's integer type refuses it.
    code, _, err = run("show", path, "-f", "json")
    assert code == 3
    one_error(err)


# --- size limits: gzip bombs, endless inputs -----------------------------------------------------


def run_limited(limit: str, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    env = {**ENV, "SNAPDIFF_MAX_INPUT": limit}
    result = CliRunner(env=env).invoke(app, list(args), input=stdin, prog_name="snapdiff")
    return result.exit_code, result.stdout, result.stderr


BOMBS = {
    # A py-spy JSON list whose one thread name is megabytes of "a": read whole.
    "pyspy-json": b'[{"pid": 1, "thread_id": 1, "thread_name": "' + b"a" * (3 << 20) + b'"}]',
    # A Go dump with megabytes of blank lines: read as a stream.
    "go-text": read_sample(GO_TEXT) + b"\n" * (3 << 20),
    # A snapshot file.
    "snapshot": store.dumps(_go_snapshot()).rstrip() + b" " * (3 << 20),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_gzip_past_the_limit_is_one_line_and_the_limit_can_be_raised(tmp_path, kind):
    path = write(tmp_path, "bomb.gz", gzip.compress(BOMBS[kind], 9))
    code, _, err = run_limited("2M", "show", path)
    assert code == 3
    assert one_error(err) == (
        f"snapdiff: error: {path}: its gzip data decompresses to more than 2 MiB, the input "
        "size limit; set SNAPDIFF_MAX_INPUT (e.g. SNAPDIFF_MAX_INPUT=8G) to read more"
    )
    code, _, err = run_limited("8M", "show", path)
    assert "input size limit" not in err


def test_endless_device_stops_at_the_limit():
    code, _, err = run_limited("1M", "show", "/dev/zero")
    assert code == 3
    assert "/dev/zero: it holds more than 1 MiB, the input size limit" in one_error(err)


def test_stdin_past_the_limit():
    code, _, err = run_limited("64K", "show", "-", stdin=b"goroutine 1 [running]:\n" * 10_000)
    assert code == 3
    assert "<stdin>: it holds more than 64 KiB, the input size limit" in one_error(err)


def test_a_limit_that_is_not_a_size_is_a_usage_error():
    code, _, err = run_limited("lots", "show", str(GO_DUMPS / "go1.27" / "t0.debug2.txt"))
    assert code == 2
    assert "SNAPDIFF_MAX_INPUT='lots': not a size" in one_error(err)
