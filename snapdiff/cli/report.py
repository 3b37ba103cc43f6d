"""``snapdiff diff``, ``show``, ``convert`` and ``formats``: the CLI over :mod:`snapdiff.diff`.

The library and rich are imported inside the commands that use them, not here: ``snapdiff
--help`` and every command's start-up pay only for Typer and what the command needs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Annotated

import typer

from snapdiff.cli._common import (
    DEFAULT_FORMAT,
    AllOpt,
    Color,
    ColorOpt,
    DumpOpt,
    ForceOpt,
    FormatOpt,
    GroupByOpt,
    LinkOpt,
    OutputOpt,
    PathMapOpt,
    QuietOpt,
    RefOpt,
    SourceOpt,
    clean,
    emit,
    fail_if,
    handle_errors,
    load,
    parse_duration,
    report_options,
    say,
    warn,
)
from snapdiff.errors import UsageError
from snapdiff.group import GroupBy


def diff_cmd(
    before: Annotated[
        str | None,
        typer.Argument(
            metavar="BEFORE",
            help="The earlier dump or snapshot ('-' for stdin); alone, a folder of snapshots: "
            "each replica's first against its last.",
        ),
    ] = None,
    after: Annotated[
        str | None, typer.Argument(metavar="AFTER", help="The later dump or snapshot.")
    ] = None,
    group_by: GroupByOpt = GroupBy.SITE,
    fmt: FormatOpt = DEFAULT_FORMAT,
    output: OutputOpt = None,
    force: ForceOpt = False,
    source: SourceOpt = None,
    live: Annotated[
        str | None,
        typer.Option(
            "--live",
            metavar="TARGET",
            help="Instead of two files: capture TARGET (a URL or a pid) now and again --after "
            "later, save both snapshots, and diff them.",
        ),
    ] = None,
    after_wait: Annotated[
        str | None,
        typer.Option(
            "--after", metavar="DURATION", help="With --live: time between captures (60s)."
        ),
    ] = None,
    save_to: Annotated[
        str | None,
        typer.Option(
            "--save",
            metavar="FOLDER",
            help="With --live: where to save the two snapshots (the current folder).",
        ),
    ] = None,
    elapsed: Annotated[
        str | None,
        typer.Option(
            "--elapsed",
            metavar="DURATION",
            help="Time between the two dumps (90s, 5m, 1h30m) when they carry no capture time.",
        ),
    ] = None,
    fail_on_growth: Annotated[
        int | None,
        typer.Option(
            "--fail-on-growth",
            min=1,
            metavar="N",
            help="Exit 5 when a suspect site grew by at least N tasks.",
        ),
    ] = None,
    fail_on_rate: Annotated[
        float | None,
        typer.Option(
            "--fail-on-rate",
            min=0.0,
            metavar="R",
            help="Exit 5 when a suspect site grew by at least R tasks per minute.",
        ),
    ] = None,
    color: ColorOpt = Color.auto,
    quiet: QuietOpt = False,
    all_groups: AllOpt = False,
    link_template: LinkOpt = None,
    path_map: PathMapOpt = None,
    link_ref: RefOpt = None,
) -> None:
    """Compare two dumps of the same service: which creation sites accumulated tasks.

    With --live TARGET, capture the two snapshots now: "did it grow in the last minute?"
    """
    with handle_errors():
        from snapdiff.diff import diff
        from snapdiff.gate import crossed

        seconds = parse_duration(elapsed) if elapsed is not None else None
        options = report_options(all_groups, link_template, path_map, link_ref)
        if live is None and (after_wait is not None or save_to is not None):
            option = "--after" if after_wait is not None else "--save"
            raise UsageError(f"{option} goes with --live (it captures); with files, drop it")
        if live is not None:
            if before is not None or after is not None:
                raise UsageError("--live captures both snapshots: give no BEFORE or AFTER files")
            from snapdiff.cli.capture import live_pair

            wait = parse_duration(after_wait or "60s")
            snap_b, snap_a = live_pair(live, wait, save_to or ".", quiet)
        elif before is not None and after is None and Path(before).is_dir():
            # A folder of snapshots: each replica's first and last, or one series' (cli/fleet).
            from snapdiff.cli.fleet import diff_folder, report_fleet
            from snapdiff.cli.trend import _load_all, expand_marked

            found = diff_folder(before, _load_all(expand_marked([before]), source, quiet), group_by)
            if not isinstance(found, tuple):
                report_fleet(found, fmt, output, force, color, fail_on_growth, fail_on_rate)
                return
            snap_b, snap_a = found
        else:
            if before is None or after is None:
                raise UsageError("give BEFORE and AFTER dumps, or --live TARGET")
            if before == "-" and after == "-":
                raise UsageError("only one of BEFORE and AFTER can be '-' (stdin)")
            snap_b = load(before, source, quiet)
            snap_a = load(after, source, quiet)
        result = diff(snap_b, snap_a, group_by, elapsed_seconds=seconds)
        if fail_on_rate is not None and result.elapsed_seconds is None:
            raise UsageError("--fail-on-rate needs the time between the dumps: pass --elapsed")
        for warning in result.warnings:
            warn(warning)
        emit(fmt, output, force, color, "diff", result, options)
        fail_if(
            crossed(
                result.groups,
                attrgetter("rate_per_minute"),
                fail_on_growth,
                fail_on_rate,
                clean=clean,
            )
        )


def show_cmd(
    snapshot: Annotated[str, typer.Argument(help="A dump or snapshot file ('-' for stdin).")],
    group_by: GroupByOpt = GroupBy.SITE,
    fmt: FormatOpt = DEFAULT_FORMAT,
    output: OutputOpt = None,
    force: ForceOpt = False,
    source: SourceOpt = None,
    color: ColorOpt = Color.auto,
    quiet: QuietOpt = False,
    link_template: LinkOpt = None,
    path_map: PathMapOpt = None,
    link_ref: RefOpt = None,
    dump: DumpOpt = None,
) -> None:
    """Group the tasks of one dump by creation site."""
    with handle_errors():
        from snapdiff.diff import show

        options = report_options(True, link_template, path_map, link_ref)
        snap = load(snapshot, source, quiet, dump=dump)
        result = show(snap, group_by)
        emit(fmt, output, force, color, "show", result, options)


def parse_time(value: str, path: str) -> str:
    """``now``, ``mtime`` (the input file's modification time) or an ISO 8601 time -> UTC ISO."""
    if value == "now":
        moment = datetime.now(UTC)
    elif value == "mtime":
        if path == "-":
            raise UsageError("--captured-at mtime needs a file, not stdin")
        moment = datetime.fromtimestamp(Path(path).stat().st_mtime, UTC)
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"--captured-at: not a time: {value!r} (ISO 8601, 'now' or 'mtime')"
            ) from None
        if moment.tzinfo is None:
            raise UsageError(f"--captured-at: {value!r} has no time zone; add Z or +00:00")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def convert_cmd(
    dump: Annotated[str, typer.Argument(help="A dump or snapshot file ('-' for stdin).")],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Snapshot file to write (.json, or .json.gz to compress).",
        ),
    ],
    force: ForceOpt = False,
    source: SourceOpt = None,
    captured_at: Annotated[
        str | None,
        typer.Option(
            "--captured-at",
            metavar="TIME",
            help="When the dump was taken: ISO 8601 time, 'now', or 'mtime' (the file's).",
        ),
    ] = None,
    keep_locals: Annotated[
        bool,
        typer.Option(
            "--keep-locals",
            help="Keep local variables from py-spy --locals dumps (they can hold secrets).",
        ),
    ] = False,
    quiet: QuietOpt = False,
    dump_index: DumpOpt = None,
) -> None:
    """Save a dump as a snapshot file: compact, versioned, with its capture time."""
    with handle_errors():
        from snapdiff import store
        from snapdiff.output import write_bytes

        snap = load(dump, source, quiet, keep_locals=keep_locals, passed=False, dump=dump_index)
        if captured_at is not None:
            snap = replace(
                snap, source=replace(snap.source, captured_at=parse_time(captured_at, dump))
            )
        data = store.dumps(snap, compress=output.endswith(".gz"))
        write_bytes(output, data, force=force)
        if not quiet and output != "-":
            say(
                f"wrote {clean(output, 500)} ({len(data):,} bytes, {len(snap.tasks):,} tasks)",
                style="dim",
            )


def formats_cmd(
    fmt: FormatOpt = DEFAULT_FORMAT,
) -> None:
    """List the input formats snapdiff reads (each is detected by content)."""
    with handle_errors():
        from snapdiff.inputs import formats

        emit(fmt, None, False, Color.auto, "formats", formats())
        if fmt.value == "text":
            from snapdiff.runtimes.go import _scanned

            print(f"Go dumps are read by the {_scanned.describe()}.")
