"""Writing files without ever losing what was there.

Regular files are written atomically: a temporary file in the same folder, fsync, rename, and
the folder fsynced. An existing file is replaced only when asked (``force``). Special files
(``/dev/null``, ``/dev/stdout``, pipes, terminals) are written directly and never replaced.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from snapdiff.errors import OutputError


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
    fd = -1
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
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
