"""Spring Boot's ``/actuator/threaddump`` as JSON: ``ThreadMXBean.dumpAllThreads(true, true)``
serialised by Jackson, one object per ``java.lang.management.ThreadInfo``.

::

    {"threads": [{"threadName": "http-worker-1", "threadId": 17, "blockedTime": -1,
      "blockedCount": 0, "waitedTime": -1, "waitedCount": 3,
      "lockName": "java.util.concurrent.locks.AbstractQueuedSynchronizer$ConditionObject@1f18eec1",
      "lockOwnerId": -1, "daemon": false, "inNative": false, "suspended": false,
      "threadState": "WAITING", "priority": 5,
      "stackTrace": [{"classLoaderName": "app", "moduleName": "java.base",
                      "moduleVersion": "17.0.15", "methodName": "park",
                      "fileName": "Unsafe.java", "lineNumber": -2, "nativeMethod": true,
                      "className": "jdk.internal.misc.Unsafe"}, ...],
      "lockedMonitors": [...], "lockedSynchronizers": [...],
      "lockInfo": {"className": "...", "identityHashCode": 520548033}}, ...]}

The property names are ThreadInfo's and StackTraceElement's getters; their order depends on
the Spring Boot version (3.x follows the getters, 4.x sorts them), and null properties are left
out. ``lineNumber`` is -2 for a native method and -1 when unknown. Frames are innermost first.
The dump has platform threads only (no virtual threads) and none of the VM's own threads.

A task's id is ``threadId``, the Java thread id (jstack's ``#N``: counted up, never reused);
``daemon`` gives the daemon flag; the state is ``threadState``. Frames are named
``className.methodName`` and read as jstack's are (lambda class numbers and addresses dropped),
so the formats group alike. Unknown keys are ignored, a field of the wrong type reads as
missing, and a dump cut short keeps the threads before the cut and says so.

These readers were written from Spring Boot's documented response and tested on a dump a plain
JVM program wrote with the same property names (samples/java): no Spring Boot application was
run to produce it.
"""

from __future__ import annotations

import re
from typing import Any

from snapdiff.errors import InputError
from snapdiff.model import FLAG_DAEMON, THREAD, Frame, Snapshot, SourceInfo, Task, new_task
from snapdiff.runtimes.jvm.jvm_json import load
from snapdiff.runtimes.jvm.jvm_text import clean_function

NAME = "spring-threaddump"
DESCRIPTION = (
    "Spring Boot /actuator/threaddump JSON (ThreadMXBean.dumpAllThreads as Jackson writes it)"
)

_SNIFF = re.compile(
    rb'^\s*\{\s*"threads"\s*:\s*\[\s*(?:\]|\{[^{}]*?"(?:threadName|threadId|blockedCount|'
    rb'blockedTime|threadState|daemon|inNative)"\s*:)'
)


def sniff(head: bytes) -> bool:
    return _SNIFF.match(head) is not None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _frame(item: Any, interned: dict[tuple[str, str, str, int], Frame]) -> Frame | None:
    if not isinstance(item, dict):
        return None
    cls, method = _str(item.get("className")), _str(item.get("methodName"))
    file = _str(item.get("fileName"))
    line = _int(item.get("lineNumber")) or 0
    key = (cls, method, file, line)
    frame = interned.get(key)
    if frame is None:
        frame = interned[key] = Frame(clean_function(f"{cls}.{method}"), file, max(line, 0))
    return frame


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    """Read an actuator thread dump. ``keep_locals`` is accepted for the common signature: the
    dump holds no local variables."""
    doc, warnings, truncated = load(data, origin, "actuator thread dump", 2)
    threads = doc.get("threads") if isinstance(doc, dict) else None
    if not isinstance(threads, list):
        raise InputError(f'{origin}: an actuator thread dump is an object with a "threads" list')
    tasks: list[Task] = []
    interned: dict[tuple[str, str, str, int], Frame] = {}
    stacks: dict[tuple[Frame, ...], tuple[Frame, ...]] = {}
    bad = 0
    for item in threads:
        if not isinstance(item, dict):
            bad += 1
            continue
        trace = item.get("stackTrace")
        frames = (_frame(x, interned) for x in (trace if isinstance(trace, list) else ()))
        key = tuple(f for f in frames if f is not None)
        tasks.append(
            new_task(
                THREAD,
                stacks.setdefault(key, key),
                _int(item.get("threadId")),
                _str(item.get("threadName")),
                _str(item.get("threadState")),
                None,
                None,
                None,
                (),
                (FLAG_DAEMON,) if item.get("daemon") is True else (),
            )
        )
    if bad:
        warnings.append(f"{origin}: {bad} entries are not thread objects; skipped")
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer="java",
            detail="Spring Boot actuator thread dump (ThreadInfo JSON)",
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
    )
