"""`snapdiff capture` and `snapdiff diff --live` as a user runs them, against a real server."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from snapdiff import store
from snapdiff.cli import app
from tests.httpserver import DumpServer, dump_server_fixture  # noqa: F401

RUNNER = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):
    return RUNNER.invoke(app, list(args), prog_name="snapdiff", env=env)


def _snapshots(folder: Path) -> list[Path]:
    return sorted(folder.glob("snap-*.json.gz"))


def test_capture_once_to_a_file_and_to_stdout(dump_server: DumpServer, tmp_path):
    out = tmp_path / "before.json.gz"
    result = run("capture", dump_server.base, "-o", str(out))
    assert result.exit_code == 0, result.output
    snap = store.loads(gzip.decompress(out.read_bytes()), str(out))
    assert snap.source.format == "go-goroutine-text"
    assert snap.source.captured_at and snap.source.captured_at.endswith("Z")
    details = dict(snap.source.capture)
    assert details["http_status"] == "200" and details["tool"] == "http"
    again = run("capture", dump_server.base, "-o", str(out))
    assert again.exit_code == 3 and "already exists" in again.stderr
    stdout = run("capture", dump_server.base, "-o", "-", "-q")
    assert stdout.exit_code == 0
    assert orjson.loads(stdout.stdout_bytes)["format"] == "snapdiff-snapshot"


def test_token_from_the_environment_reaches_the_server_and_no_file(
    dump_server: DumpServer, tmp_path
):
    result = run(
        "capture",
        dump_server.base,
        "--token-env",
        "DEBUG_TOKEN",
        "-o",
        str(tmp_path) + "/",
        "--raw",
        env={"DEBUG_TOKEN": "s3cret-token-value"},
    )
    assert result.exit_code == 0, result.output
    sent = [dict(s.headers).get("Authorization") for s in dump_server.seen]
    assert "Bearer s3cret-token-value" in sent
    for path in tmp_path.iterdir():
        assert b"s3cret-token-value" not in gzip.decompress(path.read_bytes())
    assert "s3cret-token-value" not in result.output


def test_series_saves_one_file_per_capture(dump_server: DumpServer, tmp_path):
    result = run(
        "capture", dump_server.base, "--every", "0.2s", "--count", "3", "-o", str(tmp_path) + "/"
    )
    assert result.exit_code == 0, result.output
    assert len(_snapshots(tmp_path)) == 3
    assert "[3/3]" in result.stderr
    assert not list(tmp_path.glob(".*tmp"))


def test_series_when_the_target_dies_half_way(dump_server: DumpServer, tmp_path):
    threading.Timer(0.5, dump_server.stop).start()
    stop = run(
        "capture",
        dump_server.base,
        "--every",
        "0.3s",
        "--count",
        "6",
        "--timeout",
        "1s",
        "-o",
        str(tmp_path / "a") + "/",
    )
    assert stop.exit_code == 4
    kept = _snapshots(tmp_path / "a")
    assert 1 <= len(kept) < 6
    assert "connection refused" in stop.stderr


def test_series_keep_going_goes_on_and_still_exits_4(dump_server: DumpServer, tmp_path):
    threading.Timer(0.5, dump_server.stop).start()
    going = run(
        "capture",
        dump_server.base,
        "--every",
        "0.3s",
        "--count",
        "4",
        "--timeout",
        "1s",
        "--keep-going",
        "-o",
        str(tmp_path) + "/",
    )
    assert going.exit_code == 4
    assert "captures failed" in going.stderr
    assert "[4/4]" in going.stderr  # it went on to the end
    assert len(_snapshots(tmp_path)) >= 1


def test_diff_live_captures_twice_and_diffs(dump_server: DumpServer, tmp_path):
    dump_server.dump = "t0"

    def later():
        time.sleep(0.4)
        dump_server.dump = "t1"

    threading.Thread(target=later, daemon=True).start()
    result = run(
        "diff", "--live", dump_server.base, "--after", "1s", "--save", str(tmp_path), "-f", "json"
    )
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout_bytes)
    assert [g["site_function"] for g in doc["groups"] if g["suspect"]] == ["main.fetchAll"]
    assert doc["elapsed_source"] == "capture times"
    assert len(_snapshots(tmp_path)) == 2


def test_usage_errors():
    assert run("capture").exit_code == 2
    assert run("capture", "http://127.0.0.1:1", "--pid", "3").exit_code == 2
    assert run("capture", "http://127.0.0.1:1", "--count", "3").exit_code == 2
    result = run("capture", "http://127.0.0.1:1", "--every", "1s", "--count", "2", "-o", "-")
    assert result.exit_code == 2
    assert run("diff", "--live", "http://127.0.0.1:1", "a", "b").exit_code == 2


@pytest.mark.slow
def test_ctrl_c_keeps_every_finished_snapshot(dump_server: DumpServer, tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snapdiff",
            "capture",
            dump_server.base,
            "--every",
            "0.4s",
            "--count",
            "100",
            "-o",
            str(tmp_path) + "/",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while len(_snapshots(tmp_path)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    kept = _snapshots(tmp_path)
    assert len(kept) >= 3
    for path in kept:  # every file that is there is whole
        assert store.loads(gzip.decompress(path.read_bytes()), str(path)).tasks
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert b"Traceback" not in err


def test_raw_pair_is_checked_whole_before_anything_is_written(dump_server: DumpServer, tmp_path):
    """--raw when the raw file exists: the run stops before writing the snapshot, so no half
    pair is left; with a new name both are written."""
    out = tmp_path / "snap.json.gz"
    raw = tmp_path / "snap.raw.gz"
    raw.write_bytes(b"kept")
    result = run("capture", dump_server.base, "-o", str(out), "--raw")
    assert result.exit_code == 3
    assert f"{raw}: already exists; use --force to replace it" in result.stderr
    assert not out.exists()
    assert raw.read_bytes() == b"kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snap.raw.gz"]
    result = run("capture", dump_server.base, "-o", str(tmp_path / "b.json.gz"), "--raw")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b.raw.gz").exists() and (tmp_path / "b.json.gz").exists()
