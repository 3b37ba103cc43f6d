"""``snapdiff trend`` and ``snapdiff watch``: the CLI over :mod:`snapdiff.trend` and
:mod:`snapdiff.capture.watch`."""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from snapdiff.cli._common import (
    DEFAULT_FORMAT,
    AllOpt,
    Color,
    ColorOpt,
    ForceOpt,
    Format,
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
    parse_duration,
    report_options,
    say,
    stderr,
    warn,
)
from snapdiff.errors import ExitCode, InputError, UsageError
from snapdiff.group import GroupBy

# The library, rich's Live and the capture code are imported where they are used.
if TYPE_CHECKING:
    from snapdiff.capture.capturer import Capturer
    from snapdiff.capture.series import Event
    from snapdiff.gate import Crossed
    from snapdiff.model import Snapshot
    from snapdiff.render.options import ReportOptions
    from snapdiff.trend import TrendResult

# Files a folder given to 'trend' is read for (sorted by name); raw captures saved beside
# snapshots (.raw.gz) are left out, they hold the same dump again.
DUMP_SUFFIXES = (".json", ".json.gz", ".txt", ".txt.gz", ".log", ".log.gz")
WATCH_WINDOW = 60

FailOnGrowthOpt = Annotated[
    int | None,
    typer.Option(
        "--fail-on-growth",
        min=1,
        metavar="N",
        help="Exit 5 when a suspect site grew by at least N tasks (first to last snapshot).",
    ),
]
FailOnRateOpt = Annotated[
    float | None,
    typer.Option(
        "--fail-on-rate",
        min=0.0,
        metavar="R",
        help="Exit 5 when a suspect site grows by at least R tasks per minute.",
    ),
]
PlotOpt = Annotated[
    str | None,
    typer.Option(
        "--plot",
        metavar="FILE",
        help="Also draw the counts over time of the top sites into FILE (.png or .svg); needs "
        "matplotlib (pip install matplotlib beside snapdiff).",
    ),
]


def expand(paths: Sequence[str]) -> list[str]:
    """Files, folders (their dump files, by name) and globs -> files, in the given order."""
    return [f for f, _ in expand_marked(paths)]


def expand_marked(paths: Sequence[str]) -> list[tuple[str, bool]]:
    """:func:`expand`, each file with whether it was found in a folder (a stray file there is
    skipped with a warning; a file named on the command line must be read)."""
    out: list[tuple[str, bool]] = []
    for path in paths:
        p = Path(path)
        if path != "-" and not p.exists() and not any(c in path for c in "*?["):
            raise InputError(f"{path}: no such file or folder")
        if path != "-" and p.is_dir():
            found = sorted(
                str(f)
                for f in p.iterdir()
                if f.is_file() and not f.name.startswith(".") and f.name.endswith(DUMP_SUFFIXES)
            )
            if not found:
                raise UsageError(f"{path}: no dumps or snapshots in this folder")
            out.extend((f, True) for f in found)
        elif path != "-" and not p.exists() and any(c in path for c in "*?["):
            found = sorted(f for f in glob.glob(path) if Path(f).is_file())
            if not found:
                raise UsageError(f"{path}: no file matches")
            out.extend((f, False) for f in found)
        else:
            out.append((path, False))
    if [f for f, _ in out].count("-") > 1:
        raise UsageError("only one input can be '-' (stdin)")
    return out


def _load_all(
    files: Sequence[str | tuple[str, bool]], source: str | None, quiet: bool
) -> list[Snapshot]:
    """Read every file; one found in a folder that is not a dump is skipped with a warning."""
    from snapdiff import inputs
    from snapdiff.cli._common import as_passed

    snaps = []
    for item in files:
        f, in_folder = item if isinstance(item, tuple) else (item, False)
        try:
            # A file that holds several dumps (kill -3 more than once) gives one snapshot each
            # (named FILE#1, FILE#2...).
            each = inputs.load_each(f, source)
        except InputError as exc:
            if not in_folder:
                raise
            warn(f"skipped {exc.message}")
            continue
        for snap in each:
            if len(each) == 1:
                snap = as_passed(snap, f)
            for warning in snap.warnings:
                warn(warning)
            snaps.append(snap)
    if not quiet:
        total = sum(s.total for s in snaps)
        formats = clean(", ".join(sorted({s.source.format for s in snaps})), 300)
        say(f"read {len(snaps)} snapshots ({formats}), {total:,} tasks in all", style="dim")
    return snaps


def crossed(result: TrendResult, growth: int | None, rate: float | None) -> Crossed | None:
    """Suspect sites over a --fail-on line, and the message that says so."""
    from snapdiff.gate import crossed as gate

    return gate(
        result.groups,
        attrgetter("slope_per_minute"),
        growth,
        rate,
        clean=clean,
        rate_verb="grow",
    )


def _check_rate_gate(result: TrendResult, rate: float | None) -> None:
    if rate is not None and result.offsets_seconds is None:
        raise UsageError(
            "--fail-on-rate needs times: the snapshots carry no capture time; pass --every"
        )


def report(
    result: TrendResult,
    fmt: Format,
    output: str | None,
    force: bool,
    color: Color,
    plot: str | None,
    options: ReportOptions | None = None,
) -> None:
    if plot is not None:
        from snapdiff.output import write_bytes
        from snapdiff.render import trend_plot

        data = trend_plot.render_plot(result, trend_plot.plot_format(plot))
        write_bytes(plot, data, force=force)
    emit(fmt, output, force, color, "trend", result, options)


def trend_cmd(
    snapshots: Annotated[
        list[str],
        typer.Argument(
            metavar="SNAPSHOT...",
            help="Dumps or snapshot files, folders of them, or globs; two or more.",
        ),
    ],
    group_by: GroupByOpt = GroupBy.SITE,
    fmt: FormatOpt = DEFAULT_FORMAT,
    output: OutputOpt = None,
    force: ForceOpt = False,
    source: SourceOpt = None,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            metavar="DURATION",
            help="Time between the snapshots, for dumps without capture times (keeps the "
            "given order).",
        ),
    ] = None,
    plot: PlotOpt = None,
    fail_on_growth: FailOnGrowthOpt = None,
    fail_on_rate: FailOnRateOpt = None,
    color: ColorOpt = Color.auto,
    quiet: QuietOpt = False,
    all_groups: AllOpt = False,
    link_template: LinkOpt = None,
    path_map: PathMapOpt = None,
    link_ref: RefOpt = None,
) -> None:
    """Judge a series of snapshots of one service: which sites keep accumulating tasks.

    Per site: the count in every snapshot, the growth per minute (a robust slope), how steadily
    it grew, the tasks that lived through the whole series, and a verdict.
    """
    with handle_errors():
        from snapdiff.trend import trend

        if plot is not None:
            from snapdiff.render.trend_plot import plot_format

            plot_format(plot)
        seconds = parse_duration(every) if every is not None else None
        options = report_options(all_groups, link_template, path_map, link_ref)
        files = expand_marked(snapshots)
        snaps = _load_all(files, source, quiet)
        if len(snaps) < 2:
            raise UsageError(f"a trend needs two or more snapshots, got {len(snaps)}")
        from snapdiff.cli.fleet import fleet_result, report_fleet

        fleet = fleet_result(snaps, "trend", group_by)
        if fleet is not None:  # snapshots of several replicas: each judged, then every site
            if every is not None or plot is not None:
                raise UsageError("--every and --plot are for one series, not a fleet's folder")
            report_fleet(fleet, fmt, output, force, color, fail_on_growth, fail_on_rate)
            return
        result = trend(snaps, group_by, every_seconds=seconds)
        _check_rate_gate(result, fail_on_rate)
        for warning in result.warnings:
            warn(warning)
        report(result, fmt, output, force, color, plot, options)
        fail_if(crossed(result, fail_on_growth, fail_on_rate))


def _capturer(target: str, timeout: float) -> Capturer:
    from snapdiff.capture.capturer import Capturer

    return Capturer.plain(target, timeout, on_warning=warn)


def _status(n: int, folder: str, every: float, note: str = "") -> str:
    """Two lines: progress and what Ctrl-C does; where the snapshots go (and a failure)."""
    now = datetime.now(UTC).strftime("%H:%M:%S")
    return (
        f"snapdiff watch: {n} snapshot{'' if n == 1 else 's'}, every {every:g}s, last {now} UTC; "
        f"Ctrl-C ends with a report\nsaved in {folder}{note}"
    )


def watch_cmd(
    target: Annotated[
        str, typer.Argument(help="A URL (Go pprof base, or a JSON debug endpoint) or a pid.")
    ],
    every: Annotated[
        str, typer.Option("--every", metavar="DURATION", help="Time between captures.")
    ] = "10s",
    save_to: Annotated[
        str,
        typer.Option("--save", metavar="FOLDER", help="Where every snapshot is saved."),
    ] = ".",
    count: Annotated[
        int | None, typer.Option("--count", min=2, metavar="N", help="Stop after N captures.")
    ] = None,
    for_: Annotated[
        str | None, typer.Option("--for", metavar="DURATION", help="Stop after this long.")
    ] = None,
    window: Annotated[
        int,
        typer.Option(
            "--window", min=2, metavar="N", help="Judge the last N snapshots (all are saved)."
        ),
    ] = WATCH_WINDOW,
    top: Annotated[
        int, typer.Option("--top", min=1, metavar="N", help="Rows in the live table.")
    ] = 12,
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout", metavar="DURATION", help="Time for one capture (HTTP transfer, py-spy)."
        ),
    ] = "30s",
    group_by: GroupByOpt = GroupBy.SITE,
    fmt: FormatOpt = DEFAULT_FORMAT,
    output: OutputOpt = None,
    force: ForceOpt = False,
    plot: PlotOpt = None,
    fail_on_growth: FailOnGrowthOpt = None,
    fail_on_rate: FailOnRateOpt = None,
    color: ColorOpt = Color.auto,
    quiet: QuietOpt = False,
) -> None:
    """Capture TARGET every --every and show the top sites live: counts, sparklines, verdicts.

    Every snapshot is saved into --save. Ctrl-C (or --count, --for, or a --fail-on line being
    crossed) ends it with a trend report of the last --window snapshots; Ctrl-C exits 130.
    """
    with handle_errors():
        from rich.live import Live
        from rich.text import Text

        from snapdiff.capture.watch import Watch, run_watch
        from snapdiff.render import trend_text

        step = parse_duration(every)
        limit = parse_duration(for_) if for_ is not None else None
        if plot is not None:
            from snapdiff.render.trend_plot import plot_format

            plot_format(plot)
        capturer = _capturer(target, parse_duration(timeout))
        folder = save_to if save_to.endswith(("/", os.sep)) else save_to + os.sep
        console = stderr()
        live_ok = console.is_terminal and not quiet
        watch = Watch(window, group_by, folder=folder)
        interrupted = False
        live = Live(console=console, transient=True, auto_refresh=False) if live_ok else None

        def on_step(w: Watch, e: Event) -> None:
            note = f"; capture failed: {e.error}" if e.error else ""
            status = _status(w.saved, clean(folder, 300), step, clean(note, 300))
            if live is not None:
                live.update(trend_text.live_view(w.result, status, top, console.height))
                live.refresh()
            elif not quiet:
                head = w.result.groups[0] if w.result is not None and w.result.groups else None
                extra = ""
                if head is not None:
                    extra = f"; top: {clean(head.key.function, 200)} {head.series[-1]:,} "
                    extra += f"({head.verdict})"
                line = f"snapdiff watch: {w.saved} snapshots saved in {folder}"
                console.print(Text(line + extra + clean(note, 300)))

        def over_a_line(w: Watch) -> bool:
            return (
                w.result is not None and crossed(w.result, fail_on_growth, fail_on_rate) is not None
            )

        try:
            if live is not None:
                live.start()
                live.update(trend_text.live_view(None, "snapdiff watch: first capture..."))
                live.refresh()
            run_watch(
                capturer,
                watch,
                every=step,
                count=count,
                duration=limit,
                stop=over_a_line,
                on_step=on_step,
                sleep=time.sleep,
                clock=time.monotonic,
            )
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if live is not None:
                live.stop()
        result = watch.result
        if result is None:
            if interrupted:
                raise KeyboardInterrupt
            raise UsageError("fewer than two snapshots were captured: nothing to report")
        saved, failures = watch.saved, watch.failures
        if not quiet:
            console.print(
                Text(
                    f"snapdiff watch: {saved} snapshot{'' if saved == 1 else 's'} saved in "
                    f"{clean(folder, 300)}"
                    + (f"; {len(failures)} capture(s) failed" if failures else "")
                )
            )
        _check_rate_gate(result, fail_on_rate)
        report(result, fmt, output, force, color, plot)
        if interrupted:
            raise typer.Exit(int(ExitCode.INTERRUPTED))
        fail_if(crossed(result, fail_on_growth, fail_on_rate))
