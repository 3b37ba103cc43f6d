"""The command line as a user meets it: exit codes, error lines, stdin, output files, help."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snapdiff import __version__, runtimes
from snapdiff.cli import app
from tests.conftest import GO_DUMPS, PY_DUMPS, ROOT

GO0 = str(GO_DUMPS / "go1.27" / "t0.debug2.txt")
GO1 = str(GO_DUMPS / "go1.27" / "t1.debug2.txt")
PY0 = str(PY_DUMPS / "py3.12" / "t0.json")
PY1 = str(PY_DUMPS / "py3.12" / "t1.json")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ENV = {"COLUMNS": "100", "NO_COLOR": None, "FORCE_COLOR": None, "SNAPDIFF_TRACEBACK": None}


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner(env=ENV).invoke(app, list(args), input=stdin, prog_name="snapdiff")
    return result.exit_code, result.stdout, result.stderr


def assert_error(err: str, *words: str) -> None:
    """One line on stderr, ``snapdiff: error: ...``, no traceback."""
    lines = [line for line in err.splitlines() if line.startswith("snapdiff: error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, err)


# --- exit codes --------------------------------------------------------------------------------


def test_ok() -> None:
    code, out, err = run("diff", GO0, GO1, "--elapsed", "70s", "--color", "never")
    assert code == 0
    assert out.startswith("36 -> 308 goroutines")
    assert "snapdiff: error" not in err


@pytest.mark.parametrize(
    "args",
    [
        ["diff", GO0, GO1, "--no-such-option"],
        ["diff", GO0],
        ["diff", GO0, GO1, "--elapsed", "soon"],
        ["diff", GO0, GO1, "--elapsed", "0s"],
        ["diff", GO0, GO1, "--format", "yaml"],
        ["diff", GO0, GO1, "--fail-on-growth", "0"],
        ["diff", "-", "-"],
        ["show", GO1, "--group-by", "colour"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    code, out, err = run(*args)
    assert code == 2, err
    assert out == ""
    assert "Traceback" not in err


def test_bad_elapsed_says_what_to_write() -> None:
    code, _, err = run("diff", GO0, GO1, "--elapsed", "soon")
    assert code == 2
    assert_error(err, "not a duration", "'soon'", "90s")


def _bad_inputs(tmp: Path) -> dict[str, tuple[str, str]]:
    (tmp / "empty.txt").write_bytes(b"")
    (tmp / "random.bin").write_bytes(bytes(range(256)) * 40)
    (tmp / "prose.txt").write_text("hello\nthis is not a goroutine dump\n")
    (tmp / "folder").mkdir()
    (tmp / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    return {
        "missing": (str(tmp / "missing.txt"), "no such file"),
        "empty": (str(tmp / "empty.txt"), "empty"),
        "random bytes": (str(tmp / "random.bin"), "not a dump"),
        "prose": (str(tmp / "prose.txt"), "not a dump"),
        "folder": (str(tmp / "folder"), "folder"),
        # The message says "empty input" today; it should name the damaged gzip stream.
        "damaged gzip": (str(tmp / "bad.gz"), ""),
    }


@pytest.mark.parametrize(
    "case", ["missing", "empty", "random bytes", "prose", "folder", "damaged gzip"]
)
@pytest.mark.parametrize("command", ["show", "diff", "convert"])
def test_bad_input_exits_3(tmp_path: Path, case: str, command: str) -> None:
    path, words = _bad_inputs(tmp_path)[case]
    args = {
        "show": ["show", path],
        "diff": ["diff", GO0, path],
        "convert": ["convert", path, "-o", str(tmp_path / "out.json")],
    }[command]
    code, out, err = run(*args)
    assert code == 3, err
    assert out == ""
    assert_error(err, path, words)
    assert not (tmp_path / "out.json").exists()


def test_unreadable_file_exits_3(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = tmp_path / "secret.txt"
    path.write_bytes(Path(GO0).read_bytes())
    path.chmod(0)
    code, _, err = run("show", str(path))
    assert code == 3
    assert_error(err, "permission denied")


def test_fail_on_growth() -> None:
    code, out, err = run("diff", GO0, GO1, "--fail-on-growth", "100", "-q", "-f", "json")
    assert code == 5
    assert json.loads(out)["groups"][0]["suspect"] is True  # the report is still written
    assert "main.fetchAll (+261)" in err
    code, _, _ = run("diff", GO0, GO1, "--fail-on-growth", "1000", "-q", "-f", "json")
    assert code == 0


def test_bug_exits_1_and_traceback_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("snapdiff.diff.show", boom)
    code, _, err = run("show", GO1)
    assert code == 1
    assert_error(err, "internal error", "ZeroDivisionError", "--traceback")
    result = CliRunner(env=ENV).invoke(app, ["--traceback", "show", GO1], prog_name="snapdiff")
    assert isinstance(result.exception, ZeroDivisionError)
    # --traceback holds for that run only.
    code, _, err = run("show", GO1)
    assert code == 1 and "Traceback" not in err


def test_input_error_with_traceback_raises() -> None:
    result = CliRunner(env=ENV).invoke(
        app, ["--traceback", "show", "/no/such/file"], prog_name="snapdiff"
    )
    assert result.exit_code != 0
    assert result.exception is not None and "no such file" in str(result.exception)


# --- stdin ----------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_stdin(compress: bool) -> None:
    data = Path(GO1).read_bytes()
    if compress:
        data = gzip.compress(data)
    code, out, err = run("diff", GO0, "-", "-q", "-f", "json", stdin=data)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["after"]["origin"] == "<stdin>"
    assert doc["total_after"] == 308
    code, out, _ = run("show", "-", "-q", "-f", "json", stdin=data)
    assert code == 0 and json.loads(out)["total"] == 308


def test_empty_stdin_exits_3() -> None:
    code, _, err = run("show", "-", stdin=b"")
    assert code == 3
    assert_error(err, "<stdin>", "empty")


# --- output files -----------------------------------------------------------------------------


def test_output_file_is_never_replaced_without_force(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    target.write_text("precious")
    code, out, err = run("diff", GO0, GO1, "-q", "-f", "markdown", "-o", str(target))
    assert code == 3
    assert_error(err, "already exists", "--force")
    assert target.read_text() == "precious"
    code, out, _ = run("diff", GO0, GO1, "-q", "-f", "markdown", "-o", str(target), "--force")
    assert code == 0 and out == ""
    assert target.read_text().startswith("### snapdiff: 1 suspect site")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_text_report_to_a_file_is_plain(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    code, _, _ = run("diff", GO0, GO1, "-q", "--color", "always", "-o", str(target))
    assert code == 0
    text = target.read_text()
    assert "\x1b" not in text
    assert text.startswith("36 -> 308 goroutines")
    assert all(line == line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize("special", ["/dev/null", "/dev/stdout"])
def test_special_files_are_written_not_replaced(special: str, tmp_path: Path) -> None:
    if not os.path.exists(special):
        pytest.skip(f"no {special}")
    before = os.stat(special)
    proc = subprocess.run(
        [sys.executable, "-m", "snapdiff", "show", GO1, "-q", "-f", "json", "-o", special],
        capture_output=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    if special == "/dev/stdout":
        assert json.loads(proc.stdout)["total"] == 308
    after = os.stat(special)
    assert (before.st_ino, before.st_mode) == (
        after.st_ino,
        after.st_mode,
    ) or special != "/dev/null"
    assert list(tmp_path.iterdir()) == []


def test_fifo_output(tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    code, _, err = run("show", GO1, "-q", "-f", "json", "-o", str(fifo))
    data, _ = reader.communicate(timeout=30)
    assert code == 0, err
    assert json.loads(data)["total"] == 308
    assert fifo.is_fifo()


def test_write_into_read_only_folder_leaves_nothing(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, err = run("show", GO1, "-q", "-o", str(folder / "r.txt"))
        assert code == 3
        assert_error(err, "cannot write")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_output_into_missing_folder(tmp_path: Path) -> None:
    code, _, err = run("show", GO1, "-q", "-o", str(tmp_path / "nope" / "r.txt"))
    assert code == 3
    assert_error(err, "does not exist")


# --- convert -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), [(GO0, GO1), (PY0, PY1)])
@pytest.mark.parametrize("suffix", [".json", ".json.gz"])
def test_convert_then_diff_gives_the_same_groups(
    tmp_path: Path, before: str, after: str, suffix: str
) -> None:
    snaps = []
    for i, dump in enumerate((before, after)):
        target = tmp_path / f"s{i}{suffix}"
        code, out, err = run("convert", dump, "-o", str(target))
        assert code == 0, err
        assert out == ""
        assert f"wrote {target}" in err
        snaps.append(str(target))
    raw = json.loads(run("diff", before, after, "-q", "-f", "json")[1])
    converted = json.loads(run("diff", *snaps, "-q", "-f", "json")[1])

    def groups(doc: dict[str, object]) -> list[tuple[object, ...]]:
        return [
            (g["label"], g["before"], g["after"], g["survivors"], g["verdict"], g["suspect"])
            for g in doc["groups"]  # type: ignore[attr-defined]
        ]

    assert groups(converted) == groups(raw)


def test_convert_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "s.json"
    target.write_text("{}")
    code, _, err = run("convert", GO0, "-o", str(target))
    assert code == 3
    assert_error(err, "already exists")
    assert target.read_text() == "{}"


# --- formats, version, help -------------------------------------------------------------------


def test_formats_lists_every_source() -> None:
    code, out, _ = run("formats")
    assert code == 0
    for name in runtimes.SOURCES:
        assert re.search(rf"^{re.escape(name)}\s", out, re.M), name
    code, out, _ = run("formats", "-f", "json")
    assert {d["name"] for d in json.loads(out)} >= set(runtimes.SOURCES)


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == f"snapdiff {__version__}"
    proc = subprocess.run(
        [sys.executable, "-m", "snapdiff", "--version"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"snapdiff {__version__}"


OPTIONS = {
    "diff": ["--group-by", "--format", "--output", "--force", "--source", "--elapsed",
             "--fail-on-growth", "--color", "--quiet"],
    "show": ["--group-by", "--format", "--output", "--force", "--source", "--color", "--quiet"],
    "convert": ["--output", "--force", "--source", "--captured-at", "--keep-locals", "--quiet"],
    "formats": ["--format"],
}  # fmt: skip


@pytest.mark.parametrize("command", OPTIONS)
def test_help_mentions_every_option(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    plain = ANSI.sub("", out)
    for option in OPTIONS[command]:
        assert option in plain, option


def test_no_arguments_shows_help() -> None:
    code, out, err = run()
    assert code in (0, 2)
    assert "diff" in ANSI.sub("", out + err) and "show" in ANSI.sub("", out + err)


def _many_sites(path: Path, n: int = 20_000) -> Path:
    blocks = [
        f"goroutine {i + 2} [chan send]:\nmain.worker(0x1)\n\t/src/w.go:12 +0x1d\n"
        f"created by main.spawn{i} in goroutine 1\n\t/src/s{i}.go:{i + 1} +0x4f\n"
        for i in range(n)
    ]
    path.write_text("\n".join(blocks))
    return path


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_broken_pipe_is_quiet(tmp_path: Path, fmt: str) -> None:
    """``snapdiff show ... | head -1`` on a report far larger than a pipe holds."""
    dump = _many_sites(tmp_path / "many.txt")
    proc = subprocess.run(
        f"{sys.executable} -m snapdiff show {dump} -f {fmt} --color never | head -1;"
        " exit ${PIPESTATUS[0]}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.stdout.count("\n") == 1
    assert "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert "error" not in proc.stderr
    assert proc.returncode == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_full_disk_on_stdout_is_an_error_not_a_bug(fmt: str) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "snapdiff", "show", GO1, "-q", "-f", fmt],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert proc.returncode == 3
    assert_error(proc.stderr, "standard output", "No space left")


def _as_nobody(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run snapdiff as an unprivileged user: root reads and writes everything."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run as another user")
    prefix = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable]
    env = {**os.environ, "HOME": "/tmp"}
    usable = subprocess.run(
        [*prefix, "-c", "import snapdiff"], capture_output=True, timeout=60, check=False, env=env
    )
    if usable.returncode != 0:
        pytest.skip("this Python or checkout is not usable by another user here")
    return subprocess.run(
        [*prefix, "-m", "snapdiff", *args], capture_output=True, timeout=60, check=False, env=env
    )


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder other users may enter (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="snapdiff-test-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_unreadable_file_exits_3_as_another_user(shared_dir: Path) -> None:
    path = shared_dir / "secret.txt"
    path.write_bytes(Path(GO0).read_bytes())
    path.chmod(0o600)
    proc = _as_nobody("show", str(path))
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.decode().strip() == f"snapdiff: error: {path}: permission denied"


def test_read_only_folder_as_another_user_leaves_nothing(shared_dir: Path) -> None:
    proc = _as_nobody("show", GO1, "-q", "-o", str(shared_dir / "r.txt"))
    assert proc.returncode == 3, proc.stderr
    err = proc.stderr.decode()
    assert err.startswith("snapdiff: error: ") and "cannot write" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert list(shared_dir.iterdir()) == []


@pytest.mark.parametrize(("fmt", "rich"), [("json", False), ("markdown", False), ("text", True)])
def test_reports_import_only_their_renderer(fmt: str, rich: bool, tmp_path: Path) -> None:
    """JSON and Markdown reports start without rich (about 30 ms); text reports need it."""
    dump = str(GO_DUMPS / "go1.27" / "t1.debug2.txt")
    script = (
        "import sys\n"
        "from snapdiff.cli import main\n"
        f"sys.argv = ['snapdiff', 'show', {dump!r}, '-q', '-f', {fmt!r}, '-o', "
        f"{str(tmp_path / 'out')!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("['rich']" if rich else "[]")
    assert (tmp_path / "out").stat().st_size > 100
