"""Capturing snapshots from live targets: a Python process (py-spy) or an HTTP debug endpoint.

Every capture returns :class:`Captured`: the raw bytes exactly as received plus what is known
about the capture. :func:`to_snapshot` reads them with the same readers as files and records
the capture in the snapshot's :class:`~snapdiff.model.SourceInfo`. Failures raise
:class:`~snapdiff.errors.CaptureError` with a one-line message that says what to do.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from snapdiff import __version__
from snapdiff.inputs import parse_bytes
from snapdiff.model import Snapshot


@dataclass(frozen=True, slots=True)
class Captured:
    data: bytes
    origin: str  # "pid 1234" or the URL fetched
    captured_at: str  # ISO 8601 UTC ("Z") of the moment the capture started
    duration_seconds: float
    tool: str  # "py-spy 0.4.3", "http"
    source_hint: str | None = None  # the reader to use, when the capture knows it
    pid: int | None = None
    host: str | None = None
    details: tuple[tuple[str, str], ...] = ()  # HTTP status, bytes, content type, ...


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Stopwatch:
    """Wall-clock start time for the record, monotonic time for the duration."""

    def __init__(self) -> None:
        self.started_at = utc_now()
        self._t0 = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._t0


def local_host() -> str:
    return socket.gethostname()


def to_snapshot(captured: Captured, *, keep_locals: bool = False) -> Snapshot:
    snap = parse_bytes(
        captured.data, captured.origin, captured.source_hint, keep_locals=keep_locals
    )
    capture = (
        ("tool", captured.tool),
        ("snapdiff", __version__),
        ("duration_seconds", f"{captured.duration_seconds:.3f}"),
        *captured.details,
    )
    if snap.source.host and snap.source.host != captured.host:
        # The host name the dump itself gives (a probe's, a Node.js report's): which machine
        # answered, where the URL names an address or a service.
        capture += (("dump_host", snap.source.host),)
    source = replace(
        snap.source,
        origin=captured.origin,
        captured_at=captured.captured_at,
        pid=captured.pid if captured.pid is not None else snap.source.pid,
        host=captured.host,
        capture=capture,
    )
    return replace(snap, source=source)
