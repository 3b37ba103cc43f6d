"""The command line: a thin Typer layer over the library. Errors become exit codes here only.

The library and rich are imported inside the commands that use them, not here: ``snapdiff
--help`` and every command's start-up pay only for Typer and what the command needs.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from snapdiff import __version__
from snapdiff.errors import ExitCode, OutputError, SnapdiffError, UsageError
from snapdiff.group import GroupBy

if TYPE_CHECKING:
    from rich.console import Console

    from snapdiff.diff import DiffResult
    from snapdiff.model import Snapshot

app = typer.Typer(
    name="snapdiff",
    help=(
        "Find the creation sites that leak goroutines, threads and tasks: read two dumps of a "
        "service taken minutes apart, group the tasks by where they were created, and report "
        "which sites accumulated tasks, how fast, and where those tasks are stuck."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)


class Format(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


class Color(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


_state = {"traceback": bool(os.environ.get("SNAPDIFF_TRACEBACK"))}

GroupByOpt = Annotated[
    GroupBy,
    typer.Option(
        "--group-by",
        "-g",
        case_sensitive=False,
        help="site: where tasks were created (fallback: entry); entry: outermost frame; "
        "leaf: where they are blocked; stack: the whole stack.",
    ),
]
FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", case_sensitive=False, help="Report format.")
]
OutputOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", help="Write the report to FILE ('-' for stdout)."),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing output file.")]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source", help="Read inputs as this format instead of detecting it (see 'formats')."
    ),
]
ColorOpt = Annotated[
    Color, typer.Option("--color", case_sensitive=False, help="Colour in the terminal report.")
]
DumpOpt = Annotated[
    int | None,
    typer.Option(
        "--dump",
        min=1,
        help="When a file holds several dumps (kill -3 twice, py-spy over several processes): "
        "read the Nth (1 = the first); without it, the last. 'trend' reads each.",
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines on stderr.")]


def _stderr() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def _say(line: str, style: str | None = None) -> None:
    """One line of our own on stderr; ``line`` must already be cleaned of untrusted text."""
    from rich.text import Text

    _stderr().print(Text(line), style=style)


def _clean(text: str, limit: int) -> str:
    from snapdiff.render.common import clean

    return clean(text, limit)


def _err(message: str) -> None:
    _say("snapdiff: error: " + _clean(message, 4000))


def _warn(message: str) -> None:
    _say("snapdiff: warning: " + _clean(message, 4000))


@contextmanager
def handle_errors() -> Iterator[None]:
    """The one place where errors become messages and exit codes."""
    try:
        yield
    except SnapdiffError as exc:
        if _state["traceback"]:
            raise
        _err(exc.message)
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        _err("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except BrokenPipeError:
        # The reader of our output went away (| head): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if _state["traceback"]:
            raise
        _err(
            f"internal error: {type(exc).__name__}: {exc} "
            "(this is a bug in snapdiff; run again with --traceback and report it)"
        )
        raise typer.Exit(int(ExitCode.BUG)) from None


def _version(value: bool) -> None:
    if value:
        print(f"snapdiff {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Show a traceback on errors (for bug reports).")
    ] = False,
) -> None:
    # Set on every run, not only when asked: the app can run many times in one process (tests).
    _state["traceback"] = traceback or bool(os.environ.get("SNAPDIFF_TRACEBACK"))


def _load(
    path: str,
    source: str | None,
    quiet: bool,
    *,
    keep_locals: bool = False,
    dump: int | None = None,
) -> Snapshot:
    from snapdiff import inputs

    snap = inputs.load(path, source, keep_locals=keep_locals, dump=dump)
    if not quiet:
        kinds = {t.kind for t in snap.tasks}
        kind = kinds.pop() + "s" if len(kinds) == 1 else "tasks"
        # A snapshot file's kind and format, and a reader's detail, come from the input.
        detail = f", {snap.source.detail}" if snap.source.detail else ""
        what = _clean(f"{kind} ({snap.source.format}{detail})", 400)
        _say(
            f"read {snap.total:,} {what} from {_clean(snap.source.origin, 500)}",
            style="dim",
        )
    for warning in snap.warnings:
        _warn(warning)
    if snap.truncated and not any("trunc" in w or "cut" in w for w in snap.warnings):
        _warn(f"{snap.source.origin}: the snapshot is truncated")
    return snap


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?", re.I)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``1h30m``, ``2.5m`` -> seconds."""
    text = text.strip()
    pos, total = 0, 0.0
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if m is None or m.end() == pos:
            raise UsageError(f"not a duration: {text!r} (try 90s, 5m, 1h30m)")
        total += float(m.group(1)) * _UNITS[m.group(2).lower() if m.group(2) else None]
        pos = m.end()
    if not text or total <= 0:
        raise UsageError(f"not a positive duration: {text!r}")
    return total


def _console_for(color: Color, file: io.StringIO | None = None) -> Console:
    from rich.console import Console

    from snapdiff.render import text as text_render

    if file is not None:
        return Console(file=file, color_system=None, width=120, highlight=False, soft_wrap=False)
    force = {Color.always: True, Color.never: False, Color.auto: None}[color]
    return text_render.ReportConsole(
        file=sys.stdout,
        force_terminal=force,
        no_color=color is Color.never or None,
        highlight=False,
    )


def _emit(
    fmt: Format,
    output: str | None,
    force: bool,
    color: Color,
    report: str,
    result: object,
) -> None:
    """Write ``result`` in ``fmt`` with the renderer of that format for ``report``: the
    function ``render_<report>`` of ``snapdiff.render.text``, ``.markdown`` or ``.json`` (for
    a trend, of ``trend_text`` and so on). Only that module is imported: JSON and Markdown
    reports do without rich."""
    from importlib import import_module

    prefix = "trend_" if report == "trend" else ""
    render = getattr(import_module(f"snapdiff.render.{prefix}{fmt.value}"), f"render_{report}")
    if fmt is Format.text:
        if output is None or output == "-":
            try:
                render(result, _console_for(color))
            except BrokenPipeError:
                raise
            except OSError as exc:  # a full disk behind a redirection, a closed terminal
                raise OutputError(f"standard output: cannot write: {exc.strerror or exc}") from None
            return
        buf = io.StringIO()
        render(result, _console_for(color, buf))
        data = buf.getvalue().encode()
    elif fmt is Format.markdown:
        data = render(result).encode()
    else:
        data = render(result)
    from snapdiff.output import write_bytes

    write_bytes(output or "-", data, force=force)


@app.command("diff")
def diff_cmd(
    before: Annotated[
        str | None,
        typer.Argument(metavar="BEFORE", help="The earlier dump or snapshot ('-' for stdin)."),
    ] = None,
    after: Annotated[
        str | None, typer.Argument(metavar="AFTER", help="The later dump or snapshot.")
    ] = None,
    group_by: GroupByOpt = GroupBy.SITE,
    fmt: FormatOpt = Format.text,
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
        str,
        typer.Option("--after", metavar="DURATION", help="With --live: time between captures."),
    ] = "60s",
    save_to: Annotated[
        str,
        typer.Option(
            "--save", metavar="FOLDER", help="With --live: where to save the two snapshots."
        ),
    ] = ".",
    elapsed: Annotated[
        str | None,
        typer.Option(
            "--elapsed",
            help="Time between the two dumps (90s, 5m, 1h30m) when they carry no capture time.",
        ),
    ] = None,
    fail_on_growth: Annotated[
        int | None,
        typer.Option(
            "--fail-on-growth",
            min=1,
            help="Exit 5 when a suspect site grew by at least N tasks.",
        ),
    ] = None,
    fail_on_rate: Annotated[
        float | None,
        typer.Option(
            "--fail-on-rate",
            min=0.0,
            help="Exit 5 when a suspect site grew by at least R tasks per minute.",
        ),
    ] = None,
    color: ColorOpt = Color.auto,
    quiet: QuietOpt = False,
) -> None:
    """Compare two dumps of the same service: which creation sites accumulated tasks.

    With --live TARGET, capture the two snapshots now: "did it grow in the last minute?"
    """
    with handle_errors():
        from snapdiff.diff import diff

        seconds = parse_duration(elapsed) if elapsed is not None else None
        if live is not None:
            if before is not None or after is not None:
                raise UsageError("--live captures both snapshots: give no BEFORE or AFTER files")
            from snapdiff.cli_capture import live_pair

            snap_b, snap_a = live_pair(live, parse_duration(after_wait), save_to, quiet)
        else:
            if before is None or after is None:
                raise UsageError("give BEFORE and AFTER dumps, or --live TARGET")
            if before == "-" and after == "-":
                raise UsageError("only one of BEFORE and AFTER can be '-' (stdin)")
            snap_b = _load(before, source, quiet)
            snap_a = _load(after, source, quiet)
        result = diff(snap_b, snap_a, group_by, elapsed_seconds=seconds)
        if fail_on_rate is not None and result.elapsed_seconds is None:
            raise UsageError("--fail-on-rate needs the time between the dumps: pass --elapsed")
        for warning in result.warnings:
            _warn(warning)
        _emit(fmt, output, force, color, "diff", result)
        _gate(result, fail_on_growth)
        _rate_gate(result, fail_on_rate)


def _rate_gate(result: DiffResult, per_minute: float | None) -> None:
    if per_minute is None:
        return
    over = [
        g
        for g in result.groups
        if g.suspect and g.rate_per_minute is not None and g.rate_per_minute >= per_minute
    ]
    if over:
        names = ", ".join(
            f"{_clean(g.key.function, 200)} ({g.rate_per_minute or 0:+.1f}/min)" for g in over[:5]
        )
        message = f"{len(over)} suspect site(s) grew by {per_minute:g}/min or more: {names}"
        _say("snapdiff: " + message)
        raise typer.Exit(int(ExitCode.THRESHOLD))


def _gate(result: DiffResult, threshold: int | None) -> None:
    if threshold is None:
        return
    from snapdiff.diff import growth_over

    over = growth_over(result, threshold)
    if over:
        names = ", ".join(f"{_clean(g.key.function, 200)} (+{g.delta:,})" for g in over[:5])
        _say(f"snapdiff: {len(over)} suspect site(s) grew by {threshold:,} or more: {names}")
        raise typer.Exit(int(ExitCode.THRESHOLD))


@app.command("show")
def show_cmd(
    snapshot: Annotated[str, typer.Argument(help="A dump or snapshot file ('-' for stdin).")],
    group_by: GroupByOpt = GroupBy.SITE,
    fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
    force: ForceOpt = False,
    source: SourceOpt = None,
    color: ColorOpt = Color.auto,
    quiet: QuietOpt = False,
    dump: DumpOpt = None,
) -> None:
    """Group the tasks of one dump by creation site."""
    with handle_errors():
        from snapdiff.diff import show

        snap = _load(snapshot, source, quiet, dump=dump)
        result = show(snap, group_by)
        _emit(fmt, output, force, color, "show", result)


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


@app.command("convert")
def convert_cmd(
    dump: Annotated[str, typer.Argument(help="A dump or snapshot file ('-' for stdin).")],
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="Snapshot file to write (.json, or .json.gz to compress)."
        ),
    ],
    force: ForceOpt = False,
    source: SourceOpt = None,
    captured_at: Annotated[
        str | None,
        typer.Option(
            "--captured-at",
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

        snap = _load(dump, source, quiet, keep_locals=keep_locals, dump=dump_index)
        if captured_at is not None:
            snap = replace(
                snap, source=replace(snap.source, captured_at=parse_time(captured_at, dump))
            )
        data = store.dumps(snap, compress=output.endswith(".gz"))
        write_bytes(output, data, force=force)
        if not quiet and output != "-":
            _say(
                f"wrote {_clean(output, 500)} ({len(data):,} bytes, {len(snap.tasks):,} tasks)",
                style="dim",
            )


@app.command("formats")
def formats_cmd(
    fmt: FormatOpt = Format.text,
) -> None:
    """List the input formats snapdiff reads (each is detected by content)."""
    with handle_errors():
        from snapdiff import runtimes, store
        from snapdiff.output import write_bytes

        rows = [(s.name, s.description) for s in runtimes.SOURCES.values()]
        rows.append((store.FORMAT, "snapdiff snapshot file (snapdiff convert), .json or .json.gz"))
        if fmt is Format.json:
            import orjson

            data = [{"name": n, "description": d} for n, d in rows]
            write_bytes("-", orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        elif fmt is Format.markdown:
            lines = ["| Name | Reads |", "|---|---|"] + [f"| `{n}` | {d} |" for n, d in rows]
            write_bytes("-", ("\n".join(lines) + "\n").encode())
        else:
            for name, description in rows:
                print(f"{name:22} {description}")
            print("\nAll of them may be gzip-compressed; '-' reads standard input.")


def main() -> None:
    app(prog_name="snapdiff")


# Commands defined in their own modules register themselves on ``app`` when imported.
# capture is listed before trend and watch in --help.
from snapdiff import cli_capture  # noqa: E402, F401, I001
from snapdiff import cli_trend  # noqa: E402, F401
