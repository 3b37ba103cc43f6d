"""Capturing a live Python process with ``py-spy dump --json``.

py-spy comes with snapdiff (a dependency), so :func:`find_py_spy` looks for the one installed
next to the running interpreter before ``PATH``. :func:`capture_pid` runs it once per process
and returns the raw JSON with what is known about the capture; nothing is parsed here beyond
checking that the output is JSON.

What py-spy does, and what this module does about it (py-spy 0.4.3, Linux):

* It pauses the target while it reads the stacks (ptrace), unless ``--nonblocking``. A py-spy
  that does not finish within ``timeout`` is killed with its whole process group, and a target
  left stopped by it is continued (``SIGCONT``), unless it was already stopped before.
* ``--subprocesses`` with ``--json`` prints the threads of the parent only. The child processes
  are found here instead (``/proc/PID/task/*/children``, else the parent pid of every process
  in ``/proc``), and each Python one is dumped on its own; a child that is not Python is skipped
  and named in the parent's ``details``.
* It reads at most 4096 threads per process; past that it reports "Failed to find a python
  interpreter in the .data section", which is mapped to a message that names the limit.
* ``--nonblocking`` now and then fails with "Failed to get stack traces" when a thread changes
  while py-spy reads it; such a dump is tried again (``NONBLOCKING_ATTEMPTS``).
* Its errors are one line after ``Error:`` once ``RUST_BACKTRACE`` is off (a Rust backtrace
  follows otherwise); the known ones are mapped to messages that say what to do, any other
  one is quoted.

``--locals`` is passed only when asked: locals can hold secrets, and what py-spy never read
cannot leak.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from snapdiff.capture import Captured, Stopwatch, local_host
from snapdiff.errors import CaptureError

SOURCE = "pyspy-json"
THREAD_LIMIT = 4096  # py-spy's "Max thread recursion depth": a dump stops past this many threads
VERSION_TIMEOUT = 10.0
# --nonblocking reads a running process, and a thread that changes under it fails the whole
# dump ("Failed to get stack traces ... Bad address"): about 1 in 15 dumps of the sample
# service, whose threads come and go. Such a dump is tried again, up to this many times.
NONBLOCKING_ATTEMPTS = 4
_TORN = b"Failed to get stack traces"
_EXE = "py-spy.exe" if sys.platform == "win32" else "py-spy"
_INSTALL_HINT = (
    "py-spy comes with snapdiff (in its environment, or inside snapdiff.pyz); "
    "put py-spy on PATH or pass --py-spy PATH"
)
_PTRACE_HINT = (
    "py-spy needs ptrace rights: run it as root or with CAP_SYS_PTRACE "
    "(Docker: --cap-add SYS_PTRACE; Kubernetes: kubectl debug with a profile that grants it), "
    "or as the target's user with /proc/sys/kernel/yama/ptrace_scope set to 0"
)
_VERSION = re.compile(r"\bpy-spy\s+v?(\d+(?:\.\d+)+\S*)")


# --- finding py-spy ------------------------------------------------------------------------


def find_py_spy(explicit: str | None = None) -> str:
    """The py-spy to run: ``explicit`` (``--py-spy``), else the one installed with snapdiff.

    Looked for next to ``sys.executable`` (the venv's ``bin/`` or ``Scripts/``), then in the
    ``scripts`` folder of this interpreter, then on ``PATH``.
    """
    if explicit is not None:
        return _check_executable(explicit)
    candidates = [Path(sys.executable).parent / _EXE]
    scripts = sysconfig.get_path("scripts")
    if scripts:
        candidates.append(Path(scripts) / _EXE)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("py-spy")
    if found:
        return found
    raise CaptureError(f"py-spy not found: {_INSTALL_HINT}")


def _check_executable(path: str) -> str:
    p = Path(path)
    if not p.exists():
        raise CaptureError(f"py-spy not found at {path}: no such file; {_INSTALL_HINT}")
    if p.is_dir():
        raise CaptureError(f"--py-spy {path} is a folder, not the py-spy program; {_INSTALL_HINT}")
    if not os.access(p, os.X_OK):
        raise CaptureError(
            f"--py-spy {path} is not executable: make it executable (chmod +x) or "
            "point --py-spy at the py-spy program"
        )
    return str(p)


def py_spy_version(path: str) -> str:
    """The version ``path --version`` prints: ``"0.4.3"``."""
    argv = [path, "--version"]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=VERSION_TIMEOUT,
            env=_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CaptureError(
            f"{path} --version did not answer within {VERSION_TIMEOUT:g} s: "
            "point --py-spy at a working py-spy"
        ) from None
    except OSError as exc:
        raise CaptureError(f"cannot run {path}: {exc.strerror or exc}; {_INSTALL_HINT}") from None
    text = done.stdout.decode("utf-8", "replace") + done.stderr.decode("utf-8", "replace")
    m = _VERSION.search(text)
    if done.returncode != 0 or m is None:
        raise CaptureError(
            f"{path} does not look like py-spy ('--version' printed {_first_line(text)!r}, "
            f"exit {done.returncode}): point --py-spy at the py-spy program"
        )
    return m.group(1)


# --- capturing -----------------------------------------------------------------------------


def capture_pid(
    pid: int,
    *,
    py_spy: str | None = None,
    nonblocking: bool = False,
    native: bool = False,
    locals: bool = False,
    subprocesses: bool = False,
    timeout: float = 30.0,
) -> list[Captured]:
    """``py-spy dump --pid PID --json``: one :class:`Captured` per Python process.

    ``timeout`` bounds each py-spy run. With ``subprocesses`` the descendants of ``pid`` are
    dumped one by one after it, in the order found (breadth first, by pid); a descendant that
    is not Python or that exits first is skipped and noted in the first result's ``details``.
    A ``pid`` that is not Python itself is skipped in the same way when ``subprocesses`` is
    set (a shell or launcher in front of the service); without Python anywhere it is an error.
    """
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise CaptureError(f"invalid pid {pid!r}: give the positive process id of the service")
    exe = find_py_spy(py_spy)
    version = py_spy_version(exe)
    options = _Options(exe, version, nonblocking, native, locals, timeout)
    if not subprocesses:
        return [_dump(pid, options)]

    results: list[Captured] = []
    skipped: list[str] = []
    root_error: CaptureError | None = None
    try:
        results.append(_dump(pid, options))
    except _NotPython as exc:
        skipped.append(f"pid {pid} ({_comm(pid)}): not Python")
        root_error = exc
    for child, parent in _descendants(pid):
        try:
            captured = _dump(child, options, parent=parent)
        except _NotPython:
            skipped.append(f"pid {child} ({_comm(child)}): not Python")
        except _Gone:
            skipped.append(f"pid {child}: exited before it could be dumped")
        else:
            results.append(captured)
    if not results:
        assert root_error is not None
        raise root_error
    if skipped:
        first = results[0]
        note = ("skipped_processes", "; ".join(skipped))
        results[0] = Captured(
            data=first.data,
            origin=first.origin,
            captured_at=first.captured_at,
            duration_seconds=first.duration_seconds,
            tool=first.tool,
            source_hint=first.source_hint,
            pid=first.pid,
            host=first.host,
            details=(*first.details, note),
        )
    return results


@dataclass(frozen=True, slots=True)
class _Options:
    exe: str
    version: str
    nonblocking: bool
    native: bool
    locals: bool
    timeout: float

    def argv(self, pid: int) -> list[str]:
        argv = [self.exe, "dump", "--pid", str(pid), "--json"]
        if self.nonblocking:
            argv.append("--nonblocking")
        if self.native:
            argv.append("--native")
        if self.locals:
            argv.append("--locals")
        return argv


class _NotPython(CaptureError):
    pass


class _Gone(CaptureError):
    pass


def _dump(pid: int, opts: _Options, parent: int | None = None) -> Captured:
    argv = opts.argv(pid)
    tool = f"py-spy {opts.version}"
    if not _alive(pid):
        raise _Gone(_gone_message(pid))
    # A target stopped on purpose (SIGSTOP by an operator) is left as it was found.
    stopped_before = _stat_state(f"/proc/{pid}/stat") in ("T", "t")
    attempts = 0
    while True:
        attempts += 1
        watch = Stopwatch()
        out, err, code = _run(argv, opts.timeout, pid, stopped_before)
        duration = watch.elapsed()
        if code == 0:
            break
        torn = opts.nonblocking and _TORN in err and _alive(pid)
        if not torn:
            raise _failure(pid, tool, code, err)
        if attempts == NONBLOCKING_ATTEMPTS:
            raise CaptureError(
                f"{tool} --nonblocking read torn stacks of pid {pid} {attempts} times in a row "
                f"(its threads changed while they were read: {_first_line(err.decode())}): "
                "try again, or capture without --nonblocking (the target pauses for the dump)"
            )
        time.sleep(0.05 * attempts)
    try:
        doc = orjson.loads(out)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, list):
        shown = _first_line(out.decode("utf-8", "replace")) or "nothing"
        raise CaptureError(
            f"{tool} printed something other than a JSON thread list for pid {pid} "
            f"(starting {shown[:60]!r}): snapdiff needs a py-spy whose 'dump --json' works "
            "(0.3.14 or newer); point --py-spy at one"
        )
    details: list[tuple[str, str]] = [("command", shlex.join(argv))]
    if parent is not None:
        details.append(("parent_pid", str(parent)))
    if attempts > 1:
        details.append(("attempts", str(attempts)))
    note = _first_line(err.decode("utf-8", "replace"))
    if note:
        details.append(("py_spy_stderr", note[:200]))
    return Captured(
        data=out,
        origin=f"pid {pid}",
        captured_at=watch.started_at,
        duration_seconds=duration,
        tool=tool,
        source_hint=SOURCE,
        pid=pid,
        host=local_host(),
        details=tuple(details),
    )


def _env() -> dict[str, str]:
    # Without a backtrace py-spy's error is the line after "Error:" and its causes.
    env = dict(os.environ)
    env["RUST_BACKTRACE"] = "0"
    env["RUST_LIB_BACKTRACE"] = "0"
    return env


def _run(
    argv: Sequence[str], timeout: float, pid: int, stopped_before: bool
) -> tuple[bytes, bytes, int]:
    """Run py-spy in its own process group; on timeout (or interrupt) kill the whole group."""
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(),
            start_new_session=True,
        )
    except OSError as exc:
        raise CaptureError(
            f"cannot run {argv[0]}: {exc.strerror or exc}; {_INSTALL_HINT}"
        ) from None
    finished = False
    try:
        out, err = proc.communicate(timeout=timeout)
        finished = True
    except subprocess.TimeoutExpired:
        pass
    finally:
        if not finished:
            _kill_group(proc)
            if not stopped_before:
                _resume(pid)
    if not finished:
        raise CaptureError(
            f"py-spy did not finish within {timeout:g} s on pid {pid} and was stopped "
            "(the target was left running): try again with a longer timeout, or with "
            "--nonblocking so that the target is not paused"
        )
    return out, err, proc.returncode


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        # Something outside the group still holds the pipes; do not wait for it.
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()


# --- the target in /proc --------------------------------------------------------------------


def _stat_state(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    # "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split at the last ")".
    rest = data[data.rfind(b")") + 1 :].split()
    return rest[0].decode("ascii", "replace") if rest else None


def _stopped_threads(pid: int) -> bool:
    """Is any thread of ``pid`` stopped (``T``) or in a tracing stop (``t``)?"""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return _stat_state(f"/proc/{pid}/stat") in ("T", "t")
    return any(_stat_state(f"/proc/{pid}/task/{tid}/stat") in ("T", "t") for tid in tids)


def _resume(pid: int) -> None:
    """Continue a target that a killed py-spy left stopped."""
    deadline = time.monotonic() + 1.0
    while True:
        if _stopped_threads(pid):
            try:
                os.kill(pid, signal.SIGCONT)
            except (ProcessLookupError, PermissionError):
                return
        if time.monotonic() >= deadline:
            return
        time.sleep(0.05)
        if not _stopped_threads(pid):
            return


def _alive(pid: int) -> bool:
    state = _stat_state(f"/proc/{pid}/stat")
    if state is not None:
        return state not in ("Z", "X")
    if os.path.isdir("/proc/self"):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _gone_message(pid: int) -> str:
    if _stat_state(f"/proc/{pid}/stat") == "Z":
        return (
            f"pid {pid} has exited (a zombie its parent has not reaped): "
            "check the pid of the running service (pgrep -f, ps)"
        )
    return f"no process with pid {pid} (it may have exited): check the pid (pgrep -f, ps)"


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as fh:
            return fh.read().strip() or "?"
    except OSError:
        return "?"


def _thread_count(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _children(pid: int) -> list[int]:
    """Direct children of ``pid``: the kernel's list, else a walk over every /proc/N/stat."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: set[int] = set()
    have_lists = False
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.update(int(x) for x in fh.read().split())
            have_lists = True
        except (OSError, ValueError):
            continue
    if have_lists:
        return sorted(found)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 1 :].split()
        if len(fields) > 1 and fields[1] == str(pid).encode():
            found.add(int(name))
    return sorted(found)


def _descendants(pid: int) -> list[tuple[int, int]]:
    """(child, its parent) for every descendant of ``pid``, breadth first."""
    out: list[tuple[int, int]] = []
    seen = {pid}
    queue = [pid]
    while queue:
        parent = queue.pop(0)
        for child in _children(parent):
            if child not in seen:
                seen.add(child)
                out.append((child, parent))
                queue.append(child)
    return out


# --- py-spy's errors -> what to do -----------------------------------------------------------

_NOISE = ("caused by:", "stack backtrace:", "note: ", "for more information")


def _first_line(text: str) -> str:
    """The first line that says something, without py-spy's ``Error:`` prefix."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.lower().startswith(_NOISE):
            continue
        for prefix in ("Error: ", "error: "):
            if line.startswith(prefix):
                line = line[len(prefix) :].strip()
        if line:
            return line
    return ""


def _failure(pid: int, tool: str, code: int, stderr: bytes) -> CaptureError:
    text = stderr.decode("utf-8", "replace")
    low = text.lower()
    line = _first_line(text)
    if "permission denied" in low or "operation not permitted" in low:
        scope = _ptrace_scope()
        where = f" (ptrace_scope is {scope} here)" if scope is not None else ""
        return CaptureError(f"permission denied reading pid {pid}: {_PTRACE_HINT}{where}")
    if not _alive(pid) or "check that the process is running" in low:
        return _Gone(_gone_message(pid))
    if "failed to find python version" in low:
        return _NotPython(
            f"pid {pid} ({_comm(pid)}) is not a Python process (py-spy found no Python in it): "
            "give the pid of the Python service, or --subprocesses for a launcher's children"
        )
    if "failed to find a python interpreter" in low or "max thread recursion" in low:
        threads = _thread_count(pid)
        if threads is not None and threads > THREAD_LIMIT:
            return CaptureError(
                f"pid {pid} has {threads} threads, more than the {THREAD_LIMIT} that {tool} can "
                "dump: this many threads is itself the symptom of a thread leak; watch the count "
                f"grow with 'grep Threads /proc/{pid}/status', and after a restart capture "
                "early, while it is under the limit"
            )
        return CaptureError(
            f"{tool} found no Python interpreter in pid {pid} ({_comm(pid)}): its Python may be "
            "newer than this py-spy knows; upgrade py-spy (pip install -U py-spy) or pass "
            "--py-spy PATH to a newer one"
        )
    if code < 0:
        return CaptureError(
            f"{tool} was killed by signal {-code} while dumping pid {pid}: try again"
            + (f" ({line})" if line else "")
        )
    return CaptureError(
        f"{tool} failed on pid {pid} (exit {code}): {line or 'no message on stderr'}"
    )


def _ptrace_scope() -> str | None:
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope", encoding="ascii") as fh:
            return fh.read().strip() or None
    except OSError:
        return None
