"""The command line: a thin Typer layer over the library. Errors become exit codes in one place
(:func:`snapdiff.cli._common.handle_errors`).

Each command lives in a module of its own and knows nothing of the app; this module makes the
app and registers them, in the order ``--help`` lists them. No command module imports another's
private helpers, and none imports this one.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from snapdiff import __version__
from snapdiff.cli import _common, capture, report, trend

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
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    _common.state["traceback"] = traceback or bool(os.environ.get("SNAPDIFF_TRACEBACK"))


# The one-line summaries --help lists, said whole (a docstring's first line would be cut).
app.command("diff", short_help="Compare two dumps: which creation sites accumulated tasks.")(
    report.diff_cmd
)
app.command("show", short_help="Group the tasks of one dump by creation site.")(report.show_cmd)
app.command("convert", short_help="Save a dump as a snapshot file with its capture time.")(
    report.convert_cmd
)
app.command("formats", short_help="List the input formats snapdiff reads.")(report.formats_cmd)
app.command("capture", short_help="Capture a snapshot of a live service, once or as a series.")(
    capture.capture_cmd
)
app.command("trend", short_help="Judge a series of snapshots: which sites keep accumulating.")(
    trend.trend_cmd
)
app.command("watch", short_help="Capture a live service every few seconds; the top sites live.")(
    trend.watch_cmd
)


def main() -> None:
    app(prog_name="snapdiff")


__all__ = ["app", "main"]
