"""``snapdiff capture`` of many replicas: wiring of :mod:`snapdiff.capture.fleet` and its
progress display. ``diff`` and ``trend`` of a fleet's folder: wiring of :mod:`snapdiff.fleet`."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from snapdiff.cli._common import clean, stderr
from snapdiff.errors import CaptureError, UsageError
from snapdiff.group import GroupBy

if TYPE_CHECKING:
    from rich.console import Console

    from snapdiff.capture.capturer import Capturer
    from snapdiff.capture.fleet import FleetEvent, Replica
    from snapdiff.cli._common import Color, Format
    from snapdiff.fleet import FleetResult
    from snapdiff.model import Snapshot


def fleet_replicas(targets: Sequence[str], targets_file: str | None) -> list[Replica] | None:
    """The replicas to capture, or None for a plain one-target capture (one URL or pid whose
    host is an address or a name with one address)."""
    from snapdiff.capture.fleet import expand, read_targets

    texts = list(targets)
    if targets_file is not None:
        texts += read_targets(targets_file)
    if not texts:
        return None
    if len(texts) == 1 and targets_file is None:
        try:
            replicas = expand(texts)
        except CaptureError:
            return None  # the one-target path says why it cannot be reached
        return replicas if len(replicas) > 1 else None
    return expand(texts)


class FleetProgress:
    """One display for the whole fleet on stderr: a live line on a terminal (round, done,
    failed, slowest so far), a line per failed replica and one per round."""

    def __init__(self, console: Console, quiet: bool, size: int) -> None:
        self.console = console
        self.quiet = quiet
        self.size = size
        self.done = 0
        self.failed = 0
        self.slowest: tuple[float, str] = (0.0, "")
        self._status = None
        if console.is_terminal and not quiet:
            self._status = console.status(f"capturing {size} replicas...")
            self._status.start()

    def __call__(self, e: FleetEvent) -> None:
        from rich.text import Text

        from snapdiff.capture.fleet import ReplicaDone
        from snapdiff.render.common import clean

        if isinstance(e, ReplicaDone):
            self.done += 1
            who = f"{e.replica.label} {clean(e.replica.address, 200)}"
            if e.error is not None:
                self.failed += 1
                # Failures are always shown, even with --quiet: the exit status alone is vague.
                self.console.print(
                    Text(f"[round {e.round}] {who} failed: {clean(e.error, 500)}", style="red")
                )
            if e.seconds >= self.slowest[0]:
                self.slowest = (e.seconds, who)
            if self._status is not None:
                self._status.update(
                    f"round {e.round}: {self.done}/{self.size} done, {self.failed} failed; "
                    f"slowest {self.slowest[1]} {self.slowest[0]:.1f}s"
                )
            return
        planned = f"/{e.planned}" if e.planned else ""
        slowest = ""
        if e.slowest is not None:
            slowest = f", slowest {e.slowest.label} {clean(e.slowest.address, 200)} "
            slowest += f"{e.slowest_seconds:.1f}s"
        line = Text(
            f"round {e.round}{planned}: {e.saved} of {e.saved + e.failed} replicas saved, "
            f"{e.failed} failed, {e.seconds:.1f}s{slowest}",
            style="red" if e.failed else "",
        )
        if e.next_in is not None:
            line.append(f"; next in {e.next_in:.0f}s", style="dim")
        if not self.quiet:
            self.console.print(line)
        self.done, self.failed, self.slowest = 0, 0, (0.0, "")
        if self._status is not None:
            if e.next_in is None:
                self._status.stop()
            else:
                self._status.update(f"next round in {e.next_in:.0f}s (Ctrl-C keeps what was saved)")

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()


def capture_fleet(
    replicas: Sequence[Replica],
    capturer: Capturer,
    output: str | None,
    *,
    raw: bool,
    parallel: int,
    every: float | None,
    count: int | None,
    duration: float | None,
    quiet: bool,
) -> None:
    """Capture every replica once or in rounds into the folder ``output``; CaptureError (exit 4)
    at the end when any capture failed."""
    from datetime import UTC, datetime

    from snapdiff.capture.fleet import file_stem, run_fleet
    from snapdiff.capture.series import is_folder, save

    if capturer.subprocesses:
        raise UsageError("--subprocesses captures one process tree: not with several targets")
    if output == "-" or (output is not None and not is_folder(output)):
        raise UsageError("several replicas are saved one file each: give -o a folder (ending in /)")
    folder = output or "."

    def capture(replica: Replica) -> tuple[Snapshot, bytes | None]:
        one = copy.copy(capturer)
        one.target = replica.target
        snap, captured = one.snapshots()[0]
        source = replace(snap.source, capture=snap.source.capture + replica.details())
        return replace(snap, source=source), (captured.data if raw else None)

    def store(replica: Replica, snap: Snapshot, data: bytes | None) -> str:
        stamp = snap.source.captured_at or ""
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
        stem = file_stem(replica, when or datetime.now(UTC))
        return save(snap, replica.target, folder, raw=data, stem=stem)

    console = stderr()
    progress = FleetProgress(console, quiet, len(replicas))
    try:
        outcome = run_fleet(
            replicas,
            capture,
            store,
            parallel=parallel,
            every=every,
            count=count,
            duration=duration,
            on_event=progress,
        )
    finally:
        progress.stop()
    if outcome.failed:
        names = ", ".join(f"{r.label} {r.address}" for r in outcome.failed_replicas[:5])
        more = len(outcome.failed_replicas) - 5
        raise CaptureError(
            f"{outcome.failed} capture(s) failed, of {len(outcome.failed_replicas)} replica(s) "
            f"({clean(names, 1000)}{f' and {more} more' if more > 0 else ''}); the other "
            f"{len(outcome.saved)} snapshot(s) are saved in {clean(folder, 300)}"
        )
    if not quiet:
        from rich.text import Text

        console.print(
            Text(f"saved {len(outcome.saved)} snapshots of {len(replicas)} replicas in {folder}")
        )


def fleet_result(snaps: Sequence[Snapshot], command: str, group_by: GroupBy) -> FleetResult | None:
    """The fleet's diff or trend when the snapshots are of two or more replicas, else None."""
    from snapdiff.fleet import fleet, split

    if len(split(snaps)) < 2:
        return None
    return fleet(snaps, command, group_by)


def fleet_gate(result: FleetResult, growth: int | None, rate: float | None) -> str:
    """The message of a --fail-on line crossed on any replica (empty when none is)."""
    over: list[str] = []
    for site in result.suspects:
        for f in site.figures:
            if not f.suspect:
                continue
            grew = growth is not None and f.delta >= growth
            fast = rate is not None and f.rate_per_minute is not None and f.rate_per_minute >= rate
            if grew or fast:
                over.append(f"{clean(site.key.function, 200)} on replica {f.replica}")
    if not over:
        return ""
    line = f"+{growth:,} tasks" if growth is not None else f"{rate:g}/min"
    shown = ", ".join(over[:5]) + (f" and {len(over) - 5} more" if len(over) > 5 else "")
    return f"{len(over)} suspect site(s) crossed {line}: {shown}"


def diff_folder(
    folder: str, snaps: Sequence[Snapshot], group_by: GroupBy
) -> tuple[Snapshot, Snapshot] | FleetResult:
    """``snapdiff diff FOLDER``: the fleet's diff when its snapshots are of two or more
    replicas, else its first and last snapshot by capture time."""
    from snapdiff.trend import order

    result = fleet_result(snaps, "diff", group_by)
    if result is not None:
        return result
    if len(snaps) < 2:
        raise UsageError(f"{folder}: a diff needs two snapshots, the folder has {len(snaps)}")
    ordered, _ = order(snaps)
    return ordered[0], ordered[-1]


def report_fleet(
    result: FleetResult,
    fmt: Format,
    output: str | None,
    force: bool,
    color: Color,
    growth: int | None,
    rate: float | None,
) -> None:
    """Warnings, the report in ``fmt``, then the --fail-on lines (exit 5)."""
    import typer

    from snapdiff.cli._common import emit, say, warn
    from snapdiff.errors import ExitCode

    for warning in result.warnings:
        warn(warning)
    emit(fmt, output, force, color, "fleet", result)
    message = fleet_gate(result, growth, rate)
    if message:
        say("snapdiff: " + message)
        raise typer.Exit(int(ExitCode.THRESHOLD))
