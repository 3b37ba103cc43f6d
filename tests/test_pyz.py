"""snapdiff.pyz, built by scripts/build-pyz.py, run by the Python of a clean venv with nothing
installed: the README's sample diff, a capture from a real HTTP server, the orjson stand-in on
a Python it carries no orjson for, a clear error on an old Python, and the ptrace advice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pytest

from tests.httpserver import DumpServer

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
T0 = "samples/go/dumps/go1.27/t0.debug2.txt"
T1 = "samples/go/dumps/go1.27/t1.debug2.txt"


def _pyenv_python(version: str) -> str | None:
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    for found in sorted(Path(root or "/nonexistent").glob(f"versions/{version}*/bin/python3")):
        return str(found)
    return shutil.which(f"python{version}")


@pytest.fixture(scope="module")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pyz") / "snapdiff.pyz"
    build = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build-pyz.py"), "-o", str(out), "--orjson-for"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    return out


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    venv = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    probe = subprocess.run([python, "-c", "import typer"], capture_output=True)
    assert probe.returncode != 0  # nothing installed
    return python


def _env(tmp: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "SNAPDIFF_PYZ_CACHE": str(tmp / "cache")}


def test_the_readme_diff_and_a_capture_from_a_clean_venv(pyz, clean_python, tmp_path):
    r = subprocess.run(
        [clean_python, str(pyz), "diff", T0, T1, "--elapsed", "70s"],
        cwd=ROOT, capture_output=True, text=True, env=_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Suspect: main.fetchAll" in " ".join(r.stdout.split())
    assert "note:" not in r.stderr  # the bundled orjson loaded
    server = DumpServer().start()
    try:
        c = subprocess.run(
            [clean_python, str(pyz), "capture", server.base, "-o", str(tmp_path / "s.json")],
            capture_output=True, text=True, env=_env(tmp_path), timeout=120,
        )  # fmt: skip
    finally:
        server.stop()
    assert c.returncode == 0, c.stderr
    doc = orjson.loads((tmp_path / "s.json").read_bytes())
    assert doc["format"] == "snapdiff-snapshot" and doc["source"]["format"] == "go-goroutine-text"


def test_a_python_without_a_bundled_orjson_uses_the_standard_library(pyz, tmp_path):
    # The file was built with the orjson of this Python only (--orjson-for with no version).
    other = next(
        (p for v in ("3.13", "3.12", "3.11") if (p := _pyenv_python(v)) is not None
         and subprocess.run([p, "-c", f"import sys; sys.exit(sys.version_info[:2] == "
                             f"{tuple(sys.version_info[:2])})"]).returncode == 0),
        None,
    )  # fmt: skip
    if other is None:
        pytest.skip("no other Python 3.11+ on this machine")
    r = subprocess.run(
        [other, str(pyz), "diff", T0, T1, "--elapsed", "70s", "-f", "json"],
        cwd=ROOT, capture_output=True, text=True, env=_env(tmp_path), timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "has no orjson for Python" in r.stderr and "standard library's json" in r.stderr
    assert orjson.loads(r.stdout)["groups"][0]["key_function"] == "main.fetchAll"


def test_an_old_python_gets_one_clear_line(pyz, tmp_path):
    old = _pyenv_python("3.10") or _pyenv_python("3.9")
    if old is None:
        pytest.skip("no Python 3.9 or 3.10 on this machine")
    r = subprocess.run(
        [old, str(pyz), "formats"], capture_output=True, text=True, env=_env(tmp_path)
    )
    assert r.returncode == 2
    assert r.stderr.startswith("snapdiff: error: snapdiff.pyz needs Python 3.11 or newer")
    assert "Traceback" not in r.stderr


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root to run the capture as another user",
)
def test_without_ptrace_rights_the_capture_says_what_to_add(pyz):
    # A folder the other user can reach (pytest's own are the owner's only).
    with tempfile.TemporaryDirectory(dir="/tmp") as shared:
        Path(shared).chmod(0o777)
        copy = Path(shared) / "snapdiff.pyz"
        shutil.copy(pyz, copy)
        copy.chmod(0o644)
        target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            time.sleep(0.3)
            r = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 sys.executable, str(copy), "capture", "--pid", str(target.pid), "-o", "-"],
                capture_output=True, text=True, env=_env(Path(shared)), timeout=120,
            )  # fmt: skip
        finally:
            target.kill()
            target.wait()
    assert r.returncode == 4, r.stderr
    assert "ptrace" in r.stderr and "CAP_SYS_PTRACE" in r.stderr
    assert "--cap-add SYS_PTRACE" in r.stderr
    assert "Traceback" not in r.stderr
