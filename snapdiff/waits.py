"""Where a group's tasks wait, and how long: what a report's headline says of a suspect.

The place is the innermost frame of the application's own code: not the runtime, not the
standard library, not a well-known framework (:func:`is_app_frame`). Its state and how many of
the group's tasks wait in that state at that frame make ``278 of 279 wait in chan send at
leaky/fanout.go:53``.

Ages come from what the dump records: Go prints how long a goroutine has waited (``[chan send,
12 minutes]``; nothing under a minute), so the oldest and median wait of a group's goroutines
are known to the minute. Pure functions over the tasks of one group.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from snapdiff.group import is_jvm_stack
from snapdiff.model import GOROUTINE, LIBUV_HANDLE, THREAD, Frame, Task

# Go: a package path whose first element has no dot is the standard library (``net/http``,
# ``sync``, ``internal/poll``), except ``main``. These module prefixes are frameworks whose frames
# say less than the caller's.
_GO_FRAMEWORKS = (
    "google.golang.org/grpc",
    "github.com/gin-gonic/",
    "github.com/labstack/echo",
    "github.com/gorilla/",
    "go.opentelemetry.io/",
    "golang.org/x/",
    "github.com/valyala/fasthttp",
)
# JVM: the platform's packages and widespread frameworks.
_JVM_FRAMEWORKS = (
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "org.springframework.",
    "org.apache.catalina.",
    "org.apache.tomcat.",
    "org.apache.coyote.",
    "org.eclipse.jetty.",
    "io.netty.",
    "io.undertow.",
    "reactor.",
    "io.grpc.",
    "com.zaxxer.hikari.",
    "okhttp3.",
)
# Python: the standard library's files when only a file name is known (py-spy's text output),
# and the third-party packages that are frameworks rather than an application.
_PY_STDLIB_FILES = frozenset(
    {
        "threading.py",
        "queue.py",
        "selectors.py",
        "socket.py",
        "socketserver.py",
        "ssl.py",
        "subprocess.py",
        "base_events.py",
        "events.py",
        "tasks.py",
        "locks.py",
        "queues.py",
        "streams.py",
        "runners.py",
        "selector_events.py",
        "unix_events.py",
        "thread.py",
        "_base.py",
        "process.py",
        "connection.py",
        "client.py",
        "server.py",
        "time.py",
        "sched.py",
    }
)
_PY_FRAMEWORKS = (
    "site-packages/uvicorn/",
    "site-packages/gunicorn/",
    "site-packages/starlette/",
    "site-packages/fastapi/",
    "site-packages/django/",
    "site-packages/flask/",
    "site-packages/werkzeug/",
    "site-packages/aiohttp/",
    "site-packages/anyio/",
    "site-packages/grpc/",
    "site-packages/urllib3/",
    "site-packages/requests/",
    "site-packages/httpx/",
    "site-packages/httpcore/",
    "site-packages/celery/",
    "site-packages/kombu/",
    "site-packages/gevent/",
)


def _go_app(function: str) -> bool:
    if function.startswith("main."):
        return True
    package = function.split(".", 1)[0] if "/" not in function else function
    first = package.split("/", 1)[0]
    if "." not in first:  # runtime, sync, net/http, internal/poll: the standard library
        return False
    return not function.startswith(_GO_FRAMEWORKS)


def _py_app(frame: Frame) -> bool:
    path = frame.file.replace("\\", "/")
    if not path or path.startswith("<") or not path.endswith(".py"):
        return False  # <frozen ...>, native frames
    if "/site-packages/" in path or "/dist-packages/" in path:
        return not any(p in path for p in _PY_FRAMEWORKS)
    if "/lib/python3" in path or "/lib/python2" in path or "/Lib/" in frame.file:
        return False  # the standard library of an installed interpreter
    if path.startswith("/") or path[1:3] == ":/":
        return True
    # A name relative to sys.path, as py-spy's text prints it (concurrent/futures/thread.py).
    return path.rsplit("/", 1)[-1] not in _PY_STDLIB_FILES


def _jvm_app(function: str) -> bool:
    return not function.startswith(_JVM_FRAMEWORKS) and "$$Lambda" not in function


def is_app_frame(kind: str, frame: Frame, *, jvm: bool = False) -> bool:
    """The frame is the application's own code, for a task of ``kind`` (``jvm``: of a JVM
    thread's stack)."""
    if not frame.function:
        return False
    if kind == GOROUTINE:
        return _go_app(frame.function)
    if jvm:
        return _jvm_app(frame.function)
    if frame.file.endswith((".js", ".mjs", ".cjs", ".ts")):
        return (
            not frame.file.startswith(("node:", "internal/")) and "node_modules" not in frame.file
        )
    return _py_app(frame)


def app_frame(kind: str, frames: Sequence[Frame]) -> Frame | None:
    """The innermost frame of the application's own code in a stack (innermost first), or
    None when every frame is the runtime's, the standard library's or a framework's."""
    jvm = kind == THREAD and is_jvm_stack(tuple(frames))
    for frame in frames:
        if is_app_frame(kind, frame, jvm=jvm):
            return frame
    return None


def blocking_place(kind: str, frames: Sequence[Frame]) -> Frame | None:
    """Where a task waits, for a reader: the innermost application frame; else the innermost
    frame outside Go's runtime package; None for a task with no frames."""
    found = app_frame(kind, frames)
    if found is not None:
        return found
    for frame in frames:
        if not frame.function.startswith(_PRIMITIVES):
            return frame
    return frames[0] if frames else None


# Frames of waiting itself, which say nothing of what is awaited: Go's scheduler, the JVM's
# parking and monitor primitives.
_PRIMITIVES = (
    "runtime.",
    "jdk.internal.misc.Unsafe.",
    "sun.misc.Unsafe.",
    "java.lang.Object.wait",
    "java.lang.Thread.sleep",
    "java.util.concurrent.locks.",
    "java.util.concurrent.ForkJoinPool.managedBlock",
    "java.util.concurrent.ForkJoinPool.unmanagedBlock",
)


@dataclass(frozen=True, slots=True)
class Waiting:
    """The most common (state, place) of a group's tasks, and the ages its dump records.

    ``count`` of the group's ``total`` tasks are in ``state`` (empty when the dump has no states)
    at ``frame`` (None when they have no frames). ``oldest_wait_minutes`` and
    ``median_wait_minutes``: Go's wait times of the group's goroutines, a goroutine whose header
    prints none counting as 0 (it waited under a minute); None when the dump records no waits.
    """

    state: str
    frame: Frame | None
    count: int
    total: int
    oldest_wait_minutes: int | None = None
    median_wait_minutes: int | None = None
    app: bool = True  # the frame is the application's own (else the nearest library frame)


def _median(values: Counter[int]) -> int:
    total = sum(values.values())
    middle = (total - 1) // 2
    seen = 0
    for value in sorted(values):
        seen += values[value]
        if seen > middle:
            return value
    return 0


def waiting(tasks: Iterable[tuple[Task, int]]) -> Waiting | None:
    """:class:`Waiting` of a group from its tasks, each with how many it stands for (a profile:
    one entry per distinct stack, state and wait). None for handles and empty groups."""
    places: Counter[tuple[str, Frame | None]] = Counter()
    waits: Counter[int] = Counter()
    total = 0
    any_wait = False
    kind = ""
    frames_cache: dict[int, Frame | None] = {}
    for task, n in tasks:
        kind = task.kind
        if kind == LIBUV_HANDLE:
            return None
        total += n
        key = id(task.frames)
        if key not in frames_cache:
            frames_cache[key] = blocking_place(task.kind, task.frames)
        places[(task.state, frames_cache[key])] += n
        if task.kind == GOROUTINE and task.state:
            if task.wait_minutes is not None:
                any_wait = True
            waits[task.wait_minutes or 0] += n
    if not total:
        return None
    (state, frame), count = places.most_common(1)[0]
    oldest = median = None
    if any_wait and kind == GOROUTINE:
        oldest = max(waits)
        median = _median(waits)
    app = frame is not None and app_frame(kind, (frame,)) is not None
    return Waiting(state, frame, count, total, oldest, median, app)
