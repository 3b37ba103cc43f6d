"""Input formats: one module per format, each with ``sniff(head)`` and ``parse(data, origin)``.

A format is detected by content: :func:`detect` shows each reader the first bytes of the input
and takes the first that recognises them, in the order of :data:`SOURCES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from snapdiff.errors import UsageError
from snapdiff.model import Snapshot
from snapdiff.runtimes.go import go_debug1, go_pprof, go_text
from snapdiff.runtimes.jvm import jvm_json, jvm_text, spring_threaddump
from snapdiff.runtimes.node import node_report
from snapdiff.runtimes.python import (
    aiomonitor_json,
    faulthandler_text,
    probe_json,
    pyspy_asyncio_json,
    pyspy_json,
    pyspy_text,
    pystack_text,
)

SNIFF_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    description: str
    sniff: Callable[[bytes], bool]
    parse: Callable[..., Snapshot]
    # The reader's own test of a task header line, for formats with one (None otherwise): a
    # line that looks like a header but fails it is named in a warning.
    is_header: Callable[[str], bool] | None = None


def _from_module(module: ModuleType) -> Source:
    return Source(
        module.NAME,
        module.DESCRIPTION,
        module.sniff,
        module.parse,
        getattr(module, "is_header", None),
    )


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
SOURCES: dict[str, Source] = {
    s.name: s
    for s in map(
        _from_module,
        (
            go_pprof,
            pyspy_json,
            go_debug1,
            probe_json,
            aiomonitor_json,
            pyspy_asyncio_json,
            jvm_json,
            spring_threaddump,
            node_report,
            faulthandler_text,
            pystack_text,
            go_text,
            jvm_text,
            pyspy_text,
        ),
    )
}


def detect(head: bytes) -> Source | None:
    for source in SOURCES.values():
        if source.sniff(head):
            return source
    return None


def get(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        known = ", ".join(SOURCES)
        raise UsageError(f"unknown source {name!r}; known: {known}") from None
