"""Python: py-spy (text and JSON), snapdiff's probe, aiomonitor, py-spy-asyncio, faulthandler
and pystack, and what snapdiff knows about Python threads and asyncio tasks.

A thread's creation site is its target: the first frame above threading's bootstrap frames
(``_bootstrap``, ``_bootstrap_inner``, ``run``), unless the reader recorded the call that
started it (the probe does). Its name with digits collapsed (``ThreadPoolExecutor-N_N``) is part
of its group. Frames are keyed by file name alone: py-spy's text has only names where its JSON
has full paths, and the two must group alike. C frames (``py-spy --native``, pystack) are not
where a thread starts. Thread ids are reused by the operating system: a thread is its id and
name. The probe numbers asyncio tasks in creation order: an id clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapdiff.model import ASYNCIO_TASK, THREAD, Frame, Task
from snapdiff.runtime import NamedThreads, TaskKind, reader
from snapdiff.runtimes.python import (
    aiomonitor_json,
    faulthandler_text,
    probe_json,
    pyspy_asyncio_json,
    pyspy_json,
    pyspy_text,
    pystack_text,
)

_THREAD_BOOTSTRAP = frozenset(
    {
        "_bootstrap",
        "_bootstrap_inner",
        "run",
        "Thread._bootstrap",
        "Thread._bootstrap_inner",
        "Thread.run",
    }
)


def is_native(frame: Frame) -> bool:
    """A C frame in a Python stack (py-spy --native): a shared library or a C source file."""
    file = frame.file
    return not file.endswith(".py") and not file.startswith("<")


def thread_target(frames: tuple[Frame, ...]) -> Frame | None:
    """The first frame above threading's bootstrap frames (outermost first), if it has them."""
    saw_bootstrap = False
    for frame in reversed(frames):
        if is_native(frame):
            continue
        if frame.file.endswith("threading.py"):
            if frame.function in _THREAD_BOOTSTRAP:
                saw_bootstrap = True
                continue
            # Still inside threading (a thread caught while starting, before its target runs).
            return None
        return frame if saw_bootstrap else None
    return None


# Standard library files a thread or task waits in, for dumps that give only a file's name.
STDLIB_FILES = frozenset(
    {
        "threading.py", "queue.py", "selectors.py", "socket.py", "socketserver.py", "ssl.py",
        "subprocess.py", "base_events.py", "events.py", "tasks.py", "locks.py", "queues.py",
        "streams.py", "runners.py", "selector_events.py", "unix_events.py", "thread.py",
        "_base.py", "process.py", "connection.py", "client.py", "server.py", "sched.py",
    }
)  # fmt: skip
# Installed packages that are frameworks, not the application.
FRAMEWORKS = (
    "uvicorn", "gunicorn", "starlette", "fastapi", "django", "flask", "werkzeug", "aiohttp",
    "anyio", "grpc", "urllib3", "requests", "httpx", "httpcore", "celery", "kombu", "gevent",
)  # fmt: skip


@dataclass(frozen=True)
class Python(NamedThreads):
    def implicit_site(self, task: Task) -> Frame | None:
        return thread_target(task.frames) if task.kind == THREAD else None

    def is_app_frame(self, frame: Frame) -> bool:
        """A Python file outside the standard library and the frameworks of :data:`FRAMEWORKS`.
        A path relative to ``sys.path`` (py-spy's text: ``concurrent/futures/thread.py``) is the
        standard library's when its name is one of :data:`STDLIB_FILES`."""
        path = frame.file.replace("\\", "/")
        if not path.endswith(".py") or path.startswith("<"):
            return False  # <frozen ...>, native frames
        if "/site-packages/" in path or "/dist-packages/" in path:
            return not any(f"-packages/{p}/" in path for p in FRAMEWORKS)
        if "/lib/python3" in path or "/Lib/" in frame.file:
            return False  # the standard library of an installed interpreter
        if path.startswith("/") or path[1:3] == ":/":
            return True
        return path.rsplit("/", 1)[-1] not in STDLIB_FILES

    def entry_frame(self, task: Task) -> Frame | None:
        """A thread's target, or its outermost Python frame: every thread starts in threading's
        bootstrap, which says nothing."""
        if task.kind == THREAD:
            target = thread_target(task.frames)
            if target is not None:
                return target
            for frame in reversed(task.frames):
                if not is_native(frame):
                    return frame
        return task.entry


RUNTIME = Python(
    "python",
    "Python",
    readers=(
        reader(pyspy_json),
        reader(probe_json),
        reader(aiomonitor_json),
        reader(pyspy_asyncio_json),
        reader(faulthandler_text),
        reader(pystack_text),
        reader(pyspy_text),
    ),
    kinds=(
        TaskKind(THREAD, "thread", "threads", example_names=True),
        TaskKind(ASYNCIO_TASK, "asyncio task", "asyncio tasks"),
    ),
    id_clocks=frozenset({(probe_json.NAME, ASYNCIO_TASK)}),
    same_formats=(frozenset({pyspy_json.NAME, pyspy_text.NAME}),),
    # py-spy's ids are the kernel's thread ids (Linux hands them out in increasing order until
    # they wrap at pid_max): later threads have higher ids.
    growing_ids=frozenset({pyspy_json.NAME, pyspy_text.NAME}),
    site_hints={
        (THREAD, "_worker", "thread.py"): (
            "these are ThreadPoolExecutor worker threads, so the dump cannot show which code "
            "made the executors; the usual leak is an executor made per request and never shut "
            "down (snapdiff.probe records the call that started each thread)"
        ),
    },
)
