"""aiomonitor's live-task JSON: ``POST /api/live-tasks`` of its web UI (aiomonitor 0.7).

::

    {"tasks": [{"task_id": "140216014356544", "state": "PENDING", "name": "Task-286",
                "coro": "wait_for_confirmation()",
                "created_location": "<cwd>/samples/python/leaky_asyncio.py:88",
                "since": "00:01.943", "is_root": false},
               {"task_id": "140216040186368", "state": "PENDING", "name": "Task-1",
                "coro": "main()", "created_location": "-", "since": "-", "is_root": true}, ...]}

The endpoint takes a form (``filter=`` and ``persistent=false`` are its defaults; an empty form
will do) and answers only POST; ``snapdiff capture`` posts one to a URL ending in
``/api/live-tasks``. Tasks come sorted by ``task_id``, not by age.

Read from each task: ``task_id`` as the id, ``name``, ``state`` (lower-cased: ``pending``),
``coro`` (the coroutine's qualified name, ``()`` removed) as the task's only frame, with no file:
the list carries no stacks. ``created_location`` is the creation site: the file and line of the
innermost frame of the stack aiomonitor's task factory recorded, after aiomonitor removed its
own frame and asyncio's ``create_task`` frames: the ``create_task`` call. It is there only when
the service started aiomonitor with ``hook_task_factory=True``; ``-`` for tasks made before
(the root task of ``asyncio.run``, ``is_root``) or without the hook. The function of that frame
is not in the JSON: the site's function reads ``?``. Files are as aiomonitor shortens them
(``<cwd>/``, ``<home>/``, ``<stdlib>/``, ``<sitepkg>/`` prefixes); sites are grouped by file name
and line, so two captures of one process group alike. ``since`` (the task's age, for tasks made
through the hook) is not read.

Ids: ``task_id`` is ``id(task)``, the task object's address. It is unique among the live tasks
of one capture and names the same task in two captures while that task lives, but it is **reused**
once a task is freed, and it is no clock (it does not grow with creation order). Survivors are
matched by id and name, and asyncio's default names (``Task-N``) carry a counter it never
reuses, so the pair tells tasks apart across captures.

Unknown keys are ignored; a field of the wrong type reads as missing; an entry that is not a
task object is skipped and counted in a warning. A document cut short keeps the complete task
objects before the cut; other text after the document is ignored with a warning.
"""

from __future__ import annotations

import re
from typing import Any

from snapdiff.errors import InputError
from snapdiff.model import ASYNCIO_TASK, Frame, Snapshot, SourceInfo, Task
from snapdiff.runtimes import _json

NAME = "aiomonitor-json"
DESCRIPTION = (
    "aiomonitor live-task JSON (POST /api/live-tasks of its web UI): asyncio tasks with "
    "creation sites when hook_task_factory=True"
)
UNKNOWN_FUNCTION = "?"

_SNIFF = re.compile(
    rb'^\s*\{\s*"tasks"\s*:\s*\[\s*(?:\]|\{[^{}]*?"(?:task_id|created_location|coro)"\s*:)'
)
_LOCATION = re.compile(r"^(?P<file>.+):(?P<line>\d+)$", re.S)


def sniff(head: bytes) -> bool:
    return _SNIFF.match(head) is not None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def loads(data: bytes) -> Any:
    """JSON from bytes; ``ValueError`` when it is not JSON (never another exception)."""
    # Python's json (which aiomonitor uses) writes lone surrogates, from odd file names, as
    # escapes that orjson refuses: _json reads them.
    return _json.loads(data)


def load_object(data: bytes, origin: str, fmt: str, what: str) -> tuple[Any, list[str], bool]:
    """A dump's JSON, or what :func:`salvage_object` keeps of it (counting ``what``) with a
    warning: (the document, warnings, cut short). Nothing kept: an error naming ``fmt``."""
    try:
        return loads(data), [], False
    except ValueError as exc:
        doc, note, truncated = salvage_object(data, what)
        if doc is None:
            raise InputError(f"{origin}: not valid {fmt} JSON: {exc}") from None
        return doc, [f"{origin}: {note}"], truncated


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    """``keep_locals`` has nothing to keep: aiomonitor's list has no locals."""
    doc, warnings, truncated = load_object(data, origin, "aiomonitor", "task")
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), list):
        raise InputError(
            f'{origin}: not aiomonitor\'s live-task JSON (an object with a "tasks" list)'
        )
    interned: dict[tuple[str, str, int], Frame] = {}
    tasks: list[Task] = []
    bad = 0
    with_site = 0
    for item in doc["tasks"]:
        task = _task(item, interned)
        if task is None:
            bad += 1
            continue
        tasks.append(task)
        if task.created_by is not None:
            with_site += 1
    if bad:
        warnings.append(f"{origin}: {bad} entries are not aiomonitor task objects; skipped")
    if tasks and with_site == 0:
        warnings.append(
            f"{origin}: no task has a creation site: aiomonitor records them only when started "
            "with hook_task_factory=True; tasks are grouped by coroutine"
        )
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer="aiomonitor",
            detail=f"aiomonitor live tasks, {with_site} of {len(tasks)} with creation sites",
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
    )


def _intern(interned: dict[tuple[str, str, int], Frame], key: tuple[str, str, int]) -> Frame:
    frame = interned.get(key)
    if frame is None:
        frame = interned[key] = Frame(*key)
    return frame


def _task(item: Any, interned: dict[tuple[str, str, int], Frame]) -> Task | None:
    if not isinstance(item, dict):
        return None
    raw_id = item.get("task_id")
    coro = _str(item.get("coro"))
    name = _str(item.get("name"))
    if raw_id is None and coro is None and name is None:
        return None
    task_id = _int(raw_id)
    if isinstance(raw_id, str) and raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 40:
        task_id = int(raw_id)
    frames: tuple[Frame, ...] = ()
    if coro:
        function = coro.removesuffix("()")
        frames = (_intern(interned, (function or coro, "", 0)),)
    created_by = None
    location = _str(item.get("created_location"))
    if location and location != "-":
        m = _LOCATION.match(location)
        if m is not None and len(m.group("line")) < 10:
            created_by = _intern(
                interned, (UNKNOWN_FUNCTION, m.group("file"), int(m.group("line")))
            )
        else:
            created_by = _intern(interned, (UNKNOWN_FUNCTION, location, 0))
    return Task(
        kind=ASYNCIO_TASK,
        frames=frames,
        id=task_id,
        name=name or "",
        state=(_str(item.get("state")) or "").lower(),
        created_by=created_by,
    )


# A JSON string (with its escapes; one cut short runs to the end) or one bracket.
_TOKEN = _json.TOKEN


def salvage_object(data: bytes, what: str) -> tuple[Any, str, bool]:
    """A JSON object of lists (``{"tasks": [...]}``) cut short, or followed by other text:
    (what it holds, a note, cut short). Cut inside a list, it keeps the complete elements
    before the cut and the lists before that one; the note counts them as ``what``."""
    text = data.lstrip()
    if not text.startswith(b"{"):
        return None, "", False
    stack: list[int] = []
    last_end = -1  # the end of the last complete element of a list of the top-level object
    kept = 0
    for m in _TOKEN.finditer(text):
        c = text[m.start()]
        if c == 0x22:
            continue
        if c in (0x7B, 0x5B):
            stack.append(c)
            continue
        if not stack or stack[-1] != (0x7B if c == 0x7D else 0x5B):
            return None, "", False  # brackets that do not match: not JSON cut short
        stack.pop()
        if not stack:
            try:
                doc = loads(text[: m.end()])
            except ValueError:
                return None, "", False
            rest = sum(1 for line in text[m.end() :].splitlines() if line.strip())
            return doc, f"ignored {rest} lines of other text after the JSON object", False
        if stack == [0x7B, 0x5B]:
            last_end = m.end()
            kept += 1
    if last_end < 0:
        return None, "", False
    try:
        doc = loads(text[:last_end] + b"]}")
    except ValueError:
        return None, "", False
    note = f"JSON cut short; kept the {kept} complete {what} objects before the cut"
    return doc, note, True
