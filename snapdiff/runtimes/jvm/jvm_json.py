"""``jcmd PID Thread.dump_to_file -format=json FILE`` (JDK 21+): threads by thread container.

::

    {"threadDump": {"processId": "12503", "time": "2026-11-27T22:47:27.165301431Z",
      "runtimeVersion": "25.0.3+9-LTS",
      "threadContainers": [
        {"container": "<root>", "parent": null, "owner": null,
         "threads": [{"tid": "7", "time": "...", "name": "Reference Handler",
                      "state": "RUNNABLE", "stack": ["java.base/java.lang.ref.Reference
                      .waitForReferencePendingList(Native Method)", ...]}, ...],
         "threadCount": "14"},
        {"container": "java.util.concurrent.ThreadPerTaskExecutor@5d29b271",
         "parent": "<root>", "owner": null,
         "threads": [{"tid": "54", "virtual": true, "name": "", "state": "WAITING",
                      "parkBlocker": {"object": "java.util.concurrent.CountDownLatch$Sync@.."},
                      "stack": [...]}], "threadCount": "1"}, ...]}}

Unlike jstack, this dump has the virtual threads (which have no names) and says which
container each thread belongs to: the root, an executor (``ThreadPoolExecutor@hash``, one
``ThreadPerTaskExecutor@hash`` per ``newVirtualThreadPerTaskExecutor()``), a structured task
scope, a ForkJoinPool's carrier threads. It has no VM-internal threads and no daemon flag.
Numbers are strings (``"tid": "54"``). Stack lines are ``StackTraceElement.toString()``
(``java.base/java.lang.Object.wait0(Native Method)``) and read as jstack's frames are, so the
two formats group alike.

A task's id is ``tid``, the Java thread id (jstack's ``#N``: counted up, never reused). The
container, without its hash code (``java.util.concurrent.ThreadPerTaskExecutor``), is kept as
the label ``container``, and ``virtual=true`` marks virtual threads. A virtual thread's entry
method is its task (the frames of ``VirtualThread.run`` and of the executor are passed over),
so one executor made per request and never closed groups by the task it runs, apart from a
long-lived executor's tasks. Unknown keys are ignored; a dump cut short keeps the threads
before the cut and says so.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from snapdiff.errors import InputError
from snapdiff.model import THREAD, Frame, Snapshot, SourceInfo, Task, new_task
from snapdiff.runtimes import _json
from snapdiff.runtimes.jvm.jvm_text import parse_frame

NAME = "jvm-json"
DESCRIPTION = "jcmd Thread.dump_to_file -format=json: JVM threads by container (JDK 21+)"

_SNIFF = re.compile(rb'^\s*\{\s*"threadDump"\s*:\s*\{')
_HASH = re.compile(r"@[0-9a-fA-F]+$")

# A JSON string (with its escapes; one cut short runs to the end) or one bracket: enough to
# follow the nesting at C speed.
_TOKEN = _json.TOKEN
_CLOSE = {0x7B: b"}", 0x5B: b"]"}


def sniff(head: bytes) -> bool:
    return _SNIFF.match(head) is not None


def salvage(data: bytes, depth: int) -> tuple[Any, int] | None:
    """A JSON document cut short: what it holds up to the last complete object that closed at
    ``depth`` open brackets (a thread), with the brackets still open closed; and the number of
    such objects. None when there is none."""
    stack: list[int] = []
    cut = -1
    closers = b""
    count = 0
    for m in _TOKEN.finditer(data):
        c = data[m.start()]
        if c == 0x22:
            continue
        if c in (0x7B, 0x5B):
            stack.append(c)
            continue
        if not stack:
            return None
        opened = stack.pop()
        if len(stack) == depth and opened == 0x7B:
            cut = m.end()
            closers = b"".join(_CLOSE[b] for b in reversed(stack))
            count += 1
    if cut < 0:
        return None
    try:
        return orjson.loads(data[:cut] + closers), count
    except orjson.JSONDecodeError:
        return None


def load(data: bytes, origin: str, what: str, depth: int) -> tuple[Any, list[str], bool]:
    """The JSON document, warnings, and whether it was cut short."""
    try:
        return orjson.loads(data), [], False
    except orjson.JSONDecodeError as exc:
        saved = salvage(data, depth)
        if saved is None:
            raise InputError(f"{origin}: not valid {what} JSON: {exc}") from None
        doc, count = saved
        return doc, [f"{origin}: JSON cut short; kept the {count} complete threads before it"], True


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and 0 < len(value) <= 20 and value.isascii() and value.isdigit():
        return int(value)
    return None


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    """Read a jcmd JSON thread dump. ``keep_locals`` is accepted for the common signature: the
    dump holds no local variables."""
    doc, warnings, truncated = load(data, origin, "jcmd thread dump", 5)
    dump = doc.get("threadDump") if isinstance(doc, dict) else None
    if not isinstance(dump, dict):
        raise InputError(f'{origin}: a jcmd JSON thread dump is an object with "threadDump"')
    containers = dump.get("threadContainers")
    if not isinstance(containers, list):
        containers = []
        warnings.append(f'{origin}: no "threadContainers" list: no threads read')
    tasks: list[Task] = []
    interned: dict[str, Frame] = {}
    stacks: dict[tuple[Frame, ...], tuple[Frame, ...]] = {}
    virtual = 0
    bad = 0
    for container in containers:
        if not isinstance(container, dict) or not isinstance(container.get("threads"), list):
            bad += 1
            continue
        where = _HASH.sub("", _str(container.get("container")))
        for item in container["threads"]:
            if not isinstance(item, dict):
                bad += 1
                continue
            frames: list[Frame] = []
            stack = item.get("stack")
            if isinstance(stack, list):
                frames = [parse_frame(s, interned) for s in stack if isinstance(s, str)]
            key = tuple(frames)
            labels: list[tuple[str, str]] = []
            if where and where != "<root>":
                labels.append(("container", where))
            if item.get("virtual") is True:
                labels.append(("virtual", "true"))
                virtual += 1
            tasks.append(
                new_task(
                    THREAD,
                    stacks.setdefault(key, key),
                    _int(item.get("tid")),
                    _str(item.get("name")),
                    _str(item.get("state")),
                    None,
                    None,
                    None,
                    tuple(labels),
                    (),
                )
            )
    if bad:
        warnings.append(f"{origin}: {bad} entries are not thread containers or threads; skipped")
    version = _str(dump.get("runtimeVersion"))
    detail = ["jcmd Thread.dump_to_file -format=json"]
    if version:
        detail.append(f"Java {version}")
    detail.append(f"{len(containers)} containers")
    if virtual:
        detail.append(f"{virtual} virtual threads")
    time = _str(dump.get("time"))
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            captured_at=_iso_z(time),
            producer=f"java {version}" if version else "java",
            detail=", ".join(detail),
            pid=_int(dump.get("processId")),
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
    )


_NANOS = re.compile(r"(\.\d{1,6})\d*Z$")


def _iso_z(value: str) -> str | None:
    """``2026-11-27T22:47:27.165301431Z`` -> ``2026-11-27T22:47:27.165301Z``: microseconds, as
    Python reads them; None unless it is a UTC time."""
    if not value.endswith("Z") or "T" not in value:
        return None
    return _NANOS.sub(r"\1Z", value)
