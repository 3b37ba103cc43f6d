"""Writing files without ever losing what was there.

Regular files are written atomically: a temporary file in the same folder, fsync, rename, and
the folder fsynced. An existing file is replaced only when asked (``force``). Special files
(``/dev/null``, ``/dev/stdout``, pipes, terminals) are written directly and never replaced. A
symbolic link at the target is refused unless ``force``, whatever it points at: in a shared
folder it may lead to someone else's FIFO or device (the system's links under /dev and /proc,
such as /dev/stdout, are written as the special files they are).

The temporary file is named ``.snapdiff-tmp-<target name>.<random>.tmp``: obviously ours. One
left behind by a kill -9 is removed on the next write into that folder once it is an hour old
and belongs to the same user (younger ones may be another run's, still writing).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
import time
from pathlib import Path

from snapdiff.errors import OutputError

TEMP_PREFIX = ".snapdiff-tmp-"
TEMP_SUFFIX = ".tmp"
STALE_AFTER = 3600.0  # seconds: a temporary file older than this is left over from a killed run


def check_target(target: str, *, force: bool = False) -> None:
    """``OutputError`` when :func:`write_bytes` would refuse ``target``: checked for every file
    of a pair before any of them is written, so that a refusal never leaves half a pair."""
    if target == "-":
        return
    path = Path(target)
    try:
        lst = path.lstat()
    except FileNotFoundError:
        lst = None
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    if lst is not None and stat.S_ISLNK(lst.st_mode) and not force and not _system_link(target):
        raise OutputError(f"{target}: is a symbolic link; use --force to write where it points")
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{target}: is a folder; give a file name")
    if st is not None and stat.S_ISREG(st.st_mode) and not force:
        raise OutputError(f"{target}: already exists; use --force to replace it")
    if st is None:
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise OutputError(f"{target}: folder {folder} does not exist")


def _system_link(target: str) -> bool:
    """The system's own links to special files: /dev/stdout, /dev/fd/1, /proc/self/fd/1."""
    return os.path.abspath(target).startswith(("/dev/", "/proc/"))


def remove_stale_temporaries(folder: Path, *, now: float | None = None) -> list[str]:
    """Remove our temporary files in ``folder`` left by a killed run (see the module's
    docstring); return their names. Best effort: a file that cannot be removed stays."""
    now = time.time() if now is None else now
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(TEMP_SUFFIX)):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < STALE_AFTER:
                continue
            if uid is not None and st.st_uid != uid:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(entry.name)
    return removed


def write_bytes(target: str, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``target`` ("-" is standard output)."""
    if target == "-":
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            raise  # the reader went away (| head): the CLI ends quietly
        except OSError as exc:
            raise OutputError(f"standard output: cannot write: {exc.strerror or exc}") from None
        return
    check_target(target, force=force)
    path = Path(target)
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{target}: is a folder; give a file name")
        _write_special(path, data)
        return
    if st is not None and not force:
        raise OutputError(f"{target}: already exists; use --force to replace it")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{target}: folder {folder} does not exist")
    remove_stale_temporaries(folder)
    fd = -1
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX, dir=folder
        )
        # mkstemp makes 0600; give the file the mode a plain open() would (or the replaced one's).
        os.fchmod(fd, stat.S_IMODE(st.st_mode) if st is not None else _default_mode())
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if st is None and not force:
            # Never replace a file that appeared while we wrote: link fails if it exists.
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputError(f"{target}: already exists; use --force to replace it") from None
            except OSError:
                os.replace(tmp, path)  # file systems without hard links
            else:
                os.unlink(tmp)
        else:
            os.replace(tmp, path)
        tmp = ""
        _fsync_dir(folder)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_special(path: Path, data: bytes) -> None:
    try:
        with open(path, "wb", buffering=0) as fh:
            view = memoryview(data)
            while view:
                written = fh.write(view)
                if written is None:
                    raise OSError("write would block")
                view = view[written:]
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
