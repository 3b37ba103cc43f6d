"""``py-spy-asyncio dump --asyncio --json``: the py-spy fork that also lists asyncio tasks.

::

    {"asyncio_tasks": [{"task_id": "0x7fcd81dd4580", "name": "Task-198", "state": "pending",
                        "frames": [{"name": "Event.wait", "filename": ".../asyncio/locks.py",
                                    "line": 212, ...},
                                   {"name": "wait_for_confirmation", "line": 61, ...}],
                        "creation_traceback": [{"name": "<module>", "line": 209, ...}, ...,
                                               {"name": "handle_connection", "line": 88, ...},
                                               {"name": "create_task", ...}, ...]}, ...],
     "threads": [{"pid": 8417, "thread_id": 139820749711040, "os_thread_id": 8463,
                  "thread_name": "load-generator", "frames": [...], ...}, ...]}

Without ``--asyncio`` the fork prints py-spy's own array of threads (read as ``pyspy-json``).
Frames have py-spy's shape (``name``, ``filename``, ``short_filename``, ``line``, ``locals``).

Threads are read as :mod:`snapdiff.runtimes.python.pyspy_json` reads them (its functions, not
a copy).
Each asyncio task: ``task_id`` (hex address) as the id, ``name``, ``state`` (``pending``,
``finished``, ...: kept as given; finished tasks are listed unless ``--asyncio-hide-finished``),
``frames`` (the coroutine chain, **innermost first**, as for threads) and
``creation_traceback``, which comes **outermost first** (``<module>`` ... ``create_task``):
it is turned around. The creation site (:func:`creation_site`) is the ``create_task`` or
``ensure_future`` call: the frame just outside asyncio's own frames at the inner end of the
traceback, past any task factory (the snapdiff probe's, a tracing library's). CPython records
a creation traceback only in asyncio debug mode (``PYTHONASYNCIODEBUG=1``,
``asyncio.run(..., debug=True)``, ``loop.set_debug(True)``); without it tasks are grouped by
coroutine, with a warning.

Ids: ``task_id`` is the task object's address. It names the same task in two captures while the
task lives, but is **reused** once a task is freed and is no clock. Survivors are matched by id
and name; asyncio's default names (``Task-N``) carry a counter it never reuses, so the pair
tells tasks apart. py-spy-asyncio 0.4.4 writes the name ``None`` for default-named tasks of
CPython 3.13 (which names tasks lazily): such a task gets no name and no id (an address alone
would match a new task to a freed one), and a warning says survivors are not counted.

Locals (``--locals``) are dropped unless kept, as for ``pyspy-json``. Unknown keys are ignored;
an entry that is not a task or thread object is skipped and counted. A document cut short keeps
the complete objects before the cut; other text after it is ignored with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from snapdiff.errors import InputError
from snapdiff.model import ASYNCIO_TASK, Frame, Snapshot, SourceInfo, Task
from snapdiff.runtimes.python.aiomonitor_json import load_object
from snapdiff.runtimes.python.pyspy_json import _int, frame_notes
from snapdiff.runtimes.python.pyspy_json import _thread as pyspy_thread

NAME = "py-spy-asyncio-json"
DESCRIPTION = (
    "py-spy-asyncio dump --asyncio --json: asyncio tasks (creation sites in asyncio debug "
    "mode) and threads"
)

_SNIFF = re.compile(rb'^\s*\{\s*"(?:asyncio_tasks|threads)"\s*:\s*\[')
_HAS_TASKS = re.compile(rb'"asyncio_tasks"\s*:\s*\[')
_HEX = re.compile(r"^(?:0[xX])?[0-9a-fA-F]{1,32}$")
# Functions of asyncio that make a task; the site is not one of them.
_MACHINERY = frozenset(
    {
        "create_task",
        "ensure_future",
        "_ensure_future",
        "__init__",
        "eager_task_factory",
        "factory",
        "_run_coroutine_threadsafe",
        "run_coroutine_threadsafe",
    }
)


def sniff(head: bytes) -> bool:
    return _SNIFF.match(head) is not None and _HAS_TASKS.search(head) is not None


def is_asyncio(frame: Frame) -> bool:
    """A frame in asyncio's own files (full path, or py-spy's short name ``asyncio/x.py``)."""
    path = frame.file.replace("\\", "/")
    return "/asyncio/" in path or path.startswith("asyncio/")


def creation_site(frames: Sequence[Frame]) -> Frame | None:
    """The ``create_task``/``ensure_future`` call of a creation traceback (innermost first).

    The traceback goes out to the event loop (``Handle._run`` in ``asyncio/events.py``) and on
    to ``asyncio.run``: those outer frames are cut. Inside, from the inner end: frames outside
    asyncio (task factories), then asyncio's task-making frames, then the caller: the site.
    A task made by asyncio itself (the handler task of ``start_server``) has no caller outside
    asyncio: its site is the first asyncio frame that does not only make tasks. A task made
    without asyncio's help (``Task(...)`` called directly) has its innermost frame as site.
    """
    for i, frame in enumerate(frames):
        if frame.function.rsplit(".", 1)[-1] == "_run" and frame.file.replace("\\", "/").endswith(
            "asyncio/events.py"
        ):
            frames = frames[:i]
            break
    if not frames:
        return None
    i, n = 0, len(frames)
    while i < n and not is_asyncio(frames[i]):
        i += 1
    if i == n:
        return frames[0]
    while i < n and is_asyncio(frames[i]):
        i += 1
    if i < n:
        return frames[i]
    for frame in frames:
        if is_asyncio(frame) and frame.function.rsplit(".", 1)[-1] not in _MACHINERY:
            return frame
    return frames[-1]


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    doc, warnings, truncated = load_object(data, origin, "py-spy-asyncio", "task and thread")
    if not isinstance(doc, dict) or not isinstance(doc.get("asyncio_tasks"), list):
        raise InputError(
            f"{origin}: not py-spy-asyncio --asyncio --json output"
            ' (an object with an "asyncio_tasks" list)'
        )
    raw_threads = doc.get("threads")
    if not isinstance(raw_threads, list):
        raw_threads = []
    interned: dict[tuple[str, str, int], Frame] = {}
    seen = {"native": False, "locals": False}
    tasks: list[Task] = []
    bad_tasks = bad_threads = with_site = unnamed = 0
    for item in doc["asyncio_tasks"]:
        task = _task(item, interned, keep_locals, seen)
        if task is None:
            bad_tasks += 1
            continue
        tasks.append(task)
        with_site += task.created_by is not None
        unnamed += not task.name
    n_tasks = len(tasks)
    pids: set[int] = set()
    for item in raw_threads:
        thread = pyspy_thread(item, interned, keep_locals, seen)
        if thread is None:
            bad_threads += 1
            continue
        tasks.append(thread)
        pid = _int(item.get("pid"))
        if pid is not None:
            pids.add(pid)
    if bad_tasks:
        warnings.append(f"{origin}: {bad_tasks} entries are not asyncio task objects; skipped")
    if bad_threads:
        warnings.append(f"{origin}: {bad_threads} entries are not py-spy thread objects; skipped")
    if len(pids) > 1:
        warnings.append(f"{origin}: threads of {len(pids)} processes in one dump")
    if n_tasks and with_site == 0:
        warnings.append(
            f"{origin}: no asyncio task has a creation traceback: CPython records them only in "
            "asyncio debug mode (PYTHONASYNCIODEBUG=1); tasks are grouped by coroutine"
        )
    if unnamed:
        warnings.append(
            f"{origin}: {unnamed} asyncio tasks have no name (py-spy-asyncio writes None for "
            "CPython 3.13's default names); their addresses alone are reused, so they get no "
            "id and survivors are not counted"
        )
    detail = frame_notes(
        [
            "py-spy-asyncio --asyncio --json",
            f"{n_tasks} asyncio tasks ({with_site} with creation sites)",
            f"{len(tasks) - n_tasks} threads",
        ],
        seen,
        keep_locals,
    )
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer="py-spy-asyncio",
            detail=", ".join(detail),
            pid=next(iter(pids)) if len(pids) == 1 else None,
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
    )


def _task(
    item: Any, interned: dict[tuple[str, str, int], Frame], keep: bool, seen: dict[str, bool]
) -> Task | None:
    # Frames and locals the way py-spy's threads are read; then what makes it a task.
    base = pyspy_thread(item, interned, keep, seen)
    if base is None:
        return None
    created_by = None
    traceback = item.get("creation_traceback")
    if isinstance(traceback, list) and traceback:
        made = pyspy_thread({"frames": traceback[::-1]}, interned, False, {})
        if made is not None:
            created_by = creation_site(made.frames)
    name = item.get("name")
    if not isinstance(name, str) or name == "None":
        name = ""
    task_id = _int(item.get("task_id"))
    raw_id = item.get("task_id")
    if isinstance(raw_id, str) and _HEX.match(raw_id):
        task_id = int(raw_id, 16)
    state = item.get("state")
    return base._replace(
        kind=ASYNCIO_TASK,
        id=task_id if name else None,
        name=name,
        state=state if isinstance(state, str) else "",
        flags=(),
        created_by=created_by,
    )
