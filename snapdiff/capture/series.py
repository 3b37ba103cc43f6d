"""Targets, file names and schedules for captures: once, or as a series at an interval.

No terminal here: progress goes to a callback, so the CLI decides how to show it.
"""

from __future__ import annotations

import gzip
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from snapdiff import store
from snapdiff.errors import CaptureError, OutputError, UsageError
from snapdiff.model import Snapshot
from snapdiff.output import check_target, write_bytes


@dataclass(frozen=True, slots=True)
class Target:
    """What to capture: a process by pid, or a URL."""

    pid: int | None = None
    url: str | None = None

    @property
    def tag(self) -> str:
        """The part of a file name that says what was captured: the pid, or the port."""
        if self.pid is not None:
            return str(self.pid)
        parts = urlsplit(self.url or "")
        try:
            port = parts.port
        except ValueError:
            port = None
        return str(port or (443 if parts.scheme == "https" else 80))

    @property
    def host(self) -> str | None:
        if self.url is None:
            return None
        return urlsplit(self.url).hostname


def parse_target(text: str | None, pid: int | None) -> Target:
    """``--pid 1234``, ``1234`` (a bare number is a pid), or a URL (``host:port`` too)."""
    if pid is not None and text:
        raise UsageError("give either --pid or a URL, not both")
    if pid is not None:
        if pid <= 0:
            raise UsageError(f"not a pid: {pid}")
        return Target(pid=pid)
    if not text:
        raise UsageError("nothing to capture: give --pid PID or a URL")
    if text.isdigit():
        return Target(pid=int(text))
    if "://" not in text:
        if re.match(r"^[\w.\-]+:\d+(/|$)", text) or re.match(r"^\[[0-9a-fA-F:]+\]:\d+", text):
            text = "http://" + text
        else:
            raise UsageError(
                f"not a URL or pid: {text!r} (try http://127.0.0.1:6060 or --pid 1234)"
            )
    return Target(url=text)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_name(host: str, target: Target, when: datetime, suffix: str = ".json.gz") -> str:
    """``snap-<host>-<pid|port>-<UTC time>.json.gz``: sorts by time, says what it is."""
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%S") + f".{when.microsecond // 1000:03d}Z"
    safe_host = _UNSAFE.sub("_", host)[:60] or "host"
    return f"snap-{safe_host}-{target.tag}-{stamp}{suffix}"


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def is_folder(output: str) -> bool:
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


def save(
    snapshot: Snapshot,
    target: Target,
    output: str | None,
    *,
    force: bool = False,
    raw: bytes | None = None,
    stem: str | None = None,
) -> str:
    """Write the snapshot (and the raw bytes, gzip, beside it when given); return the path.

    ``output``: None (the current folder, default name), a folder (ending in ``/`` or existing),
    ``-`` (stdout) or a file name. Default names (or ``stem`` + ``.json.gz`` in a folder) never
    replace a file: a number is added.
    """
    if output == "-":
        write_bytes("-", store.dumps(snapshot))
        return "-"
    host = snapshot.source.host or target.host or "local"
    when = _parse_time(snapshot.source.captured_at) if snapshot.source.captured_at else None
    when = when or datetime.now(UTC)
    if output is None or is_folder(output):
        folder = Path(output or ".")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{folder}: cannot create folder: {exc.strerror or exc}") from None
        base = stem or default_name(host, target, when, suffix="")
        for n in range(1, 1000):
            name = base + ("" if n == 1 else f"-{n}")
            path = folder / f"{name}.json.gz"
            if raw is not None and (folder / f"{name}.raw.gz").exists():
                continue  # the pair's other half is taken: another number
            try:
                write_bytes(str(path), store.dumps(snapshot, compress=True))
            except OutputError:
                if path.exists():
                    continue
                raise
            if raw is not None:
                write_bytes(str(folder / f"{name}.raw.gz"), _gzipped(raw))
            return str(path)
        raise OutputError(f"{folder}: too many snapshots with the name {base}")
    data = store.dumps(snapshot, compress=output.endswith(".gz"))
    raw_path = None
    if raw is not None:
        stem = output[:-3] if output.endswith(".gz") else output
        stem = stem[:-5] if stem.endswith(".json") else stem
        raw_path = stem + ".raw.gz"
        # Both targets checked before either is written: never half a pair.
        check_target(output, force=force)
        check_target(raw_path, force=force)
    write_bytes(output, data, force=force)
    if raw is not None and raw_path is not None:
        write_bytes(raw_path, _gzipped(raw), force=force)
    return output


def _gzipped(raw: bytes) -> bytes:
    """The raw bytes gzipped once: Go's protobuf profiles come gzipped already."""
    return raw if raw[:2] == b"\x1f\x8b" else gzip.compress(raw, mtime=0)


@dataclass(frozen=True, slots=True)
class Event:
    """One step of a series, for a progress display."""

    index: int  # 1-based number of this capture
    planned: int | None  # how many in all, when known
    path: str | None  # where it was saved (None on failure)
    snapshot: Snapshot | None
    error: str | None
    next_in: float | None  # seconds until the next capture; None when this was the last


def wait_for_slot(
    start: float, k: int, every: float, now: float, duration: float | None
) -> float | None:
    """Seconds from ``now`` to the next slot of a schedule ``start + k * every`` (a capture that
    overran skips the missed slots, never makes them up); None when that slot is past
    ``duration``."""
    slot = start + k * every
    while slot < now:
        slot += every
    if duration is not None and slot - start > duration:
        return None
    return slot - now


def run_series(
    capture: Callable[[], tuple[Snapshot, bytes | None]],
    store_one: Callable[[Snapshot, bytes | None], str],
    *,
    every: float,
    count: int | None = None,
    duration: float | None = None,
    keep_going: bool = False,
    first_must_succeed: bool = False,
    endless: bool = False,
    stop: Callable[[], bool] = lambda: False,
    on_event: Callable[[Event], None] = lambda e: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[str]:
    """Capture on a fixed schedule (start + k * every), never drifting, until ``count`` captures
    or ``duration`` seconds (or, ``endless``, until Ctrl-C), or until ``stop()`` says so after a
    capture. A capture that overruns its slot makes the next one start at once (missed slots
    are skipped, not made up). Returns the saved paths.

    A failure stops the series (CaptureError propagates) unless ``keep_going``; with
    ``first_must_succeed``, a failure before anything was saved does (the target is wrong:
    nothing to go on with). What was saved stays saved either way, and Ctrl-C
    (KeyboardInterrupt) propagates after the last save.
    """
    if every <= 0:
        raise UsageError("--every must be a positive duration")
    if count is None and duration is None and not endless:
        raise UsageError("a series needs --count N or --for DURATION")
    planned = count
    if planned is None and duration is not None:
        planned = int(duration // every) + 1
    start = clock()
    saved: list[str] = []
    k = 0
    failures = 0
    while True:
        k += 1
        path: str | None = None
        snap: Snapshot | None = None
        error: str | None = None
        try:
            snap, raw = capture()
            path = store_one(snap, raw)
            saved.append(path)
        except CaptureError as exc:
            failures += 1
            error = exc.message
            if not keep_going or (first_must_succeed and not saved):
                on_event(Event(k, planned, None, None, error, None))
                raise
        done = planned is not None and k >= planned
        next_in: float | None = None
        if not done:
            next_in = wait_for_slot(start, k, every, clock(), duration)
            done = next_in is None
        on_event(Event(k, planned, path, snap, error, next_in))
        if done or next_in is None or stop():
            break
        sleep(next_in)
    if not saved and failures:
        raise CaptureError(f"every capture of the series failed ({failures})")
    return saved
