"""The runtimes snapdiff reads, each a package of its own, and the readers of their dumps.

:data:`RUNTIMES` lists them; each holds its readers and what snapdiff knows about its tasks
(:class:`snapdiff.runtime.Runtime`). Adding a runtime is its package plus one line there.

A format is detected by content: :func:`detect` shows each reader the first bytes of the input
and takes the first that recognises them, in the order of :data:`SOURCES`, which is
:data:`DETECTION_ORDER` (explained below) followed by the readers of any runtime it does not
name, in the order of :data:`RUNTIMES`. The rest of snapdiff asks :func:`of` which runtime a
snapshot is of, by the format its reader wrote into it.
"""

from __future__ import annotations

from dataclasses import replace

from snapdiff.errors import UsageError
from snapdiff.model import Snapshot
from snapdiff.runtime import GENERIC, Reader, Runtime, TaskKind, default_kind
from snapdiff.runtimes import go, jvm, node, python

SNIFF_BYTES = 256 * 1024

# Source is the name the rest of snapdiff has long used for a reader.
Source = Reader

RUNTIMES: list[Runtime] = [go.RUNTIME, python.RUNTIME, jvm.RUNTIME, node.RUNTIME]

# Order matters: the most specific sniff first. A SIGQUIT dump may hold log lines that look like
# anything, so the Go full-stack reader, whose header pattern is precise, comes after the JSON
# readers and the aggregated profile (whose "profile: total" line is unambiguous). The asyncio
# JSON readers want an object whose first key is theirs ("tasks" with aiomonitor's task keys,
# "asyncio_tasks"), so they cannot take the probe's document or a py-spy array; the JVM JSON
# readers want "threadDump" (jcmd) or "threads" holding ThreadInfo's keys (the actuator) as the
# first key. A Node.js report is found by a line opening an object whose first member is
# "header" with "reportVersion". The Python text dumps of faulthandler and pystack come before
# Go's and py-spy's: their thread headers end in "(most recent call first):" / "(most recent
# call last):", which neither prints, while py-spy's sniff takes any "Process N: " log line
# followed by a "Thread " line. The JVM text reader wants a quoted thread header with
# "tid=0x.. nid=.." or a "Full thread dump" line, which neither Go's nor py-spy's text has.
# The pprof protobuf comes first: its sniff rejects text at the first bytes, and no text reader
# should get to search a binary profile's string table for its patterns.
DETECTION_ORDER = (
    "go-goroutine-pprof",
    "pyspy-json",
    "go-goroutine-debug1",
    "snapdiff-probe",
    "aiomonitor-json",
    "py-spy-asyncio-json",
    "jvm-json",
    "spring-threaddump",
    "node-report",
    "faulthandler-text",
    "pystack-text",
    "go-goroutine-text",
    "jvm-text",
    "pyspy-text",
)

SOURCES: dict[str, Reader] = {}
_BY_FORMAT: dict[str, Runtime] = {}
_KINDS: dict[str, TaskKind] = {}


def _build() -> None:
    readers = {r.name: (r, rt) for rt in RUNTIMES for r in rt.readers}
    ordered = [n for n in DETECTION_ORDER if n in readers]
    ordered += [n for n in readers if n not in DETECTION_ORDER]
    SOURCES.clear()
    SOURCES.update((n, readers[n][0]) for n in ordered)
    _BY_FORMAT.clear()
    _BY_FORMAT.update((n, rt) for n, (_, rt) in readers.items())
    _KINDS.clear()
    for rt in RUNTIMES:
        for kind in rt.kinds:
            _KINDS[kind.name] = _merged(_KINDS.get(kind.name), kind)


def _merged(known: TaskKind | None, kind: TaskKind) -> TaskKind:
    """A kind several runtimes declare (threads): the first one's words, every runtime's label
    words, and a report trait where any runtime has it."""
    if known is None:
        return kind
    return replace(
        known,
        resource=known.resource or kind.resource,
        example_ids=known.example_ids or kind.example_ids,
        example_names=known.example_names or kind.example_names,
        created_at=known.created_at or kind.created_at,
        label_words=known.label_words + kind.label_words,
    )


_build()


def register(runtime: Runtime) -> None:
    """Add a runtime (a test's, or a plugin's) after the others; its readers are tried last."""
    RUNTIMES.append(runtime)
    _build()


def unregister(runtime: Runtime) -> None:
    RUNTIMES.remove(runtime)
    _build()


def detect(head: bytes) -> Reader | None:
    for source in SOURCES.values():
        if source.sniff(head):
            return source
    return None


def get(name: str) -> Reader:
    try:
        return SOURCES[name]
    except KeyError:
        known = ", ".join(SOURCES)
        raise UsageError(f"unknown source {name!r}; known: {known}") from None


def of_format(fmt: str) -> Runtime:
    """The runtime whose reader wrote ``fmt``; the generic rules for a format none claims."""
    return _BY_FORMAT.get(fmt, GENERIC)


def of(snapshot: Snapshot) -> Runtime:
    """The runtime a snapshot is of."""
    return of_format(snapshot.source.format)


def task_kind(name: str) -> TaskKind:
    """How reports speak of a kind of task (merged over the runtimes that declare it)."""
    return _KINDS.get(name) or default_kind(name)


__all__ = [
    "DETECTION_ORDER",
    "RUNTIMES",
    "SNIFF_BYTES",
    "SOURCES",
    "Reader",
    "Runtime",
    "Source",
    "TaskKind",
    "detect",
    "get",
    "of",
    "of_format",
    "register",
    "task_kind",
    "unregister",
]
