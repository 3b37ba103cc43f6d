"""Writing reports and snapshots: atomic, never replacing a file unless asked, special files."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from snapdiff import output
from snapdiff.errors import OutputError
from snapdiff.output import write_bytes


def test_new_file(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    write_bytes(str(target), b"report\n")
    assert target.read_bytes() == b"report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


def test_existing_file_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "r.txt"
    target.write_bytes(b"old")
    with pytest.raises(OutputError, match="already exists; use --force"):
        write_bytes(str(target), b"new")
    assert target.read_bytes() == b"old"
    write_bytes(str(target), b"new", force=True)
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


def test_symlink_to_a_file_needs_force(tmp_path: Path) -> None:
    real = tmp_path / "real.txt"
    real.write_bytes(b"old")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with pytest.raises(OutputError, match="is a symbolic link; use --force"):
        write_bytes(str(link), b"new")
    assert real.read_bytes() == b"old"


def test_symlink_to_a_fifo_is_refused_without_force(tmp_path: Path) -> None:
    """In a shared folder a link may lead to someone else's FIFO or device: never written
    through without --force (a reader on the FIFO would get the report)."""
    fifo = tmp_path / "their.fifo"
    os.mkfifo(fifo)
    link = tmp_path / "report.md"
    link.symlink_to(fifo)
    with pytest.raises(OutputError, match=r"report\.md: is a symbolic link; use --force"):
        write_bytes(str(link), b"secret")
    dangling = tmp_path / "dangling.md"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match="is a symbolic link"):
        write_bytes(str(dangling), b"x")
    assert not (tmp_path / "nowhere").exists()


def test_stale_temporaries_of_ours_are_removed_on_the_next_write(tmp_path: Path) -> None:
    import time as _time

    from snapdiff.output import STALE_AFTER, TEMP_PREFIX, TEMP_SUFFIX

    stale = tmp_path / f"{TEMP_PREFIX}report.md.abc123{TEMP_SUFFIX}"
    fresh = tmp_path / f"{TEMP_PREFIX}report.md.def456{TEMP_SUFFIX}"
    theirs = tmp_path / ".report.md.xyz.tmp"  # not our naming: never touched
    for path in (stale, fresh, theirs):
        path.write_bytes(b"half")
    old = _time.time() - STALE_AFTER - 60
    os.utime(stale, (old, old))
    os.utime(theirs, (old, old))
    write_bytes(str(tmp_path / "other.md"), b"new")
    assert not stale.exists()
    assert fresh.exists() and theirs.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [fresh.name, theirs.name, "other.md"]
    )


def test_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="is a folder"):
        write_bytes(str(tmp_path), b"x")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_bytes(str(tmp_path / "no" / "r.txt"), b"x")


@pytest.mark.parametrize("broken", ["write", "fsync", "link", "replace"])
def test_failure_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if broken == "write":
        real_fdopen = os.fdopen

        def fdopen(fd: int, mode: str = "r", *args: object) -> object:
            fh = real_fdopen(fd, mode)
            fh.write = fail  # type: ignore[method-assign]
            return fh

        monkeypatch.setattr(output.os, "fdopen", fdopen)
    elif broken == "link":
        # A file system without hard links falls back to rename; make that fail too.
        monkeypatch.setattr(output.os, "link", fail)
        monkeypatch.setattr(output.os, "replace", fail)
    else:
        monkeypatch.setattr(output.os, broken, fail)
    target = tmp_path / "r.txt"
    if broken == "replace":
        target.write_bytes(b"old")
    with pytest.raises(OutputError, match="No space left"):
        write_bytes(str(target), b"new", force=True)
    names = [p.name for p in tmp_path.iterdir()]
    assert names == (["r.txt"] if broken == "replace" else [])
    if broken == "replace":
        assert target.read_bytes() == b"old"


def test_file_appearing_meanwhile_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.txt"
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        if not target.exists():
            target.write_bytes(b"someone else's")

    monkeypatch.setattr(output.os, "fsync", fsync)
    with pytest.raises(OutputError, match="already exists"):
        write_bytes(str(target), b"ours")
    assert target.read_bytes() == b"someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["r.txt"]


def test_dev_null_is_written_not_replaced() -> None:
    before = os.stat("/dev/null")
    write_bytes("/dev/null", b"x" * 100_000)
    after = os.stat("/dev/null")
    assert (before.st_ino, before.st_rdev) == (after.st_ino, after.st_rdev)


def test_fifo_is_written(tmp_path: Path) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_bytes(str(fifo), b"a" * 200_000)
    reader.join(timeout=30)
    assert got == [b"a" * 200_000]
    assert fifo.is_fifo()


def test_stdout_errors_are_output_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    class Full:
        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            pass

    class Out:
        buffer = Full()

    monkeypatch.setattr(output.sys, "stdout", Out())
    with pytest.raises(OutputError, match="standard output: cannot write: No space left"):
        write_bytes("-", b"x")
