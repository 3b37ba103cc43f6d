"""What the commands share: options, the consoles, reading inputs, writing reports, and the
one place where errors become messages and exit codes."""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from snapdiff.errors import ExitCode, OutputError, SnapdiffError, UsageError
from snapdiff.group import GroupBy
from snapdiff.render import RENDERERS

if TYPE_CHECKING:
    from rich.console import Console

    from snapdiff.gate import Crossed
    from snapdiff.model import Snapshot
    from snapdiff.render.options import ReportOptions

# The report formats, one per renderer (snapdiff.render.RENDERERS), in its order.
Format = StrEnum("Format", {name: name for name in RENDERERS})  # type: ignore[misc]
DEFAULT_FORMAT = Format("text")


class Color(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


state = {"traceback": bool(os.environ.get("SNAPDIFF_TRACEBACK"))}

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
    typer.Option(
        "--output", "-o", metavar="FILE", help="Write the report to FILE ('-' for stdout)."
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing output file.")]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        metavar="NAME",
        help="Read inputs as this format instead of detecting it (see 'formats').",
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
AllOpt = Annotated[
    bool,
    typer.Option(
        "--all", help="List every group; by default steady and internal ones are one line."
    ),
]
LinkOpt = Annotated[
    str | None,
    typer.Option(
        "--link-template",
        metavar="URL",
        help="Link file:line to the code in Markdown, Jira and HTML: a URL with {path}, {line} "
        "and {ref} (default: $SNAPDIFF_LINK_TEMPLATE).",
    ),
]
PathMapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--path-map",
        metavar="FROM=TO",
        help="With --link-template: a build path prefix and the repository path it stands for "
        "(repeat; default: $SNAPDIFF_PATH_MAP). Paths no map matches get no link.",
    ),
]
RefOpt = Annotated[
    str | None,
    typer.Option(
        "--link-ref",
        metavar="REF",
        help="The {ref} of --link-template: a commit, tag or branch (default: "
        "$SNAPDIFF_LINK_REF, else main).",
    ),
]


def report_options(
    all_groups: bool, template: str | None, path_map: list[str] | None, ref: str | None
) -> ReportOptions:
    """What the reader asked of the report: every group, links to the code."""
    from snapdiff.render.options import ReportOptions, links_from

    return ReportOptions(all_groups, links_from(template, path_map, ref))


def stderr() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def say(line: str, style: str | None = None) -> None:
    """One line of our own on stderr; ``line`` must already be cleaned of untrusted text."""
    from rich.text import Text

    stderr().print(Text(line), style=style)


def clean(text: str, limit: int) -> str:
    from snapdiff.render.common import clean

    return clean(text, limit)


def err(message: str) -> None:
    say("snapdiff: error: " + clean(message, 4000))


def warn(message: str) -> None:
    say("snapdiff: warning: " + clean(message, 4000))


@contextmanager
def handle_errors() -> Iterator[None]:
    """The one place where errors become messages and exit codes."""
    try:
        yield
    except SnapdiffError as exc:
        if state["traceback"]:
            raise
        err(exc.message)
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        err("interrupted")
        raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
    except BrokenPipeError:
        # The reader of our output went away (| head): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if state["traceback"]:
            raise
        err(
            f"internal error: {type(exc).__name__}: {exc} "
            "(this is a bug in snapdiff; run again with --traceback and report it)"
        )
        raise typer.Exit(int(ExitCode.BUG)) from None


def as_passed(snap: Snapshot, path: str) -> Snapshot:
    """The snapshot named by the path the user passed: a snapshot file records the dump it was
    made from as its origin, which a report's footer would name instead (kept in ``capture``
    as ``dump``)."""
    from dataclasses import replace

    origin = snap.source.origin
    if path == "-" or origin == path:
        return snap
    capture = (*snap.source.capture, ("dump", origin))
    return replace(snap, source=replace(snap.source, origin=path, capture=capture))


def load(
    path: str,
    source: str | None,
    quiet: bool,
    *,
    keep_locals: bool = False,
    passed: bool = True,
    dump: int | None = None,
) -> Snapshot:
    """Read one input; ``passed``: named by the path given (not by the dump a snapshot file was
    made from; ``convert`` keeps that)."""
    from snapdiff import inputs

    snap = inputs.load(path, source, keep_locals=keep_locals, dump=dump)
    if passed:
        snap = as_passed(snap, path)
    if not quiet:
        kinds = {t.kind for t in snap.tasks}
        kind = kinds.pop() + "s" if len(kinds) == 1 else "tasks"
        # A snapshot file's kind and format, and a reader's detail, come from the input.
        detail = f", {snap.source.detail}" if snap.source.detail else ""
        what = clean(f"{kind} ({snap.source.format}{detail})", 400)
        say(
            f"read {snap.total:,} {what} from {clean(snap.source.origin, 500)}",
            style="dim",
        )
    for warning in snap.warnings:
        warn(warning)
    if snap.truncated and not any("trunc" in w or "cut" in w for w in snap.warnings):
        warn(f"{snap.source.origin}: the snapshot is truncated")
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


def console_for(color: Color, file: io.StringIO | None = None) -> Console:
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


def emit(
    fmt: Format,
    output: str | None,
    force: bool,
    color: Color,
    report: str,
    result: object,
    options: ReportOptions | None = None,
) -> None:
    """Write ``result`` in ``fmt`` with the renderer of that format for ``report``
    (:data:`snapdiff.render.RENDERERS`). Only that renderer is imported: JSON and Markdown
    reports do without rich."""
    renderer = RENDERERS[fmt.value]
    if not renderer.renders(report):
        raise UsageError(f"--format {fmt.value} has no {report} report")
    render = renderer.function(report)
    if options is not None:
        from functools import partial

        render = partial(render, options=options)
    if renderer.output == "console":
        if output is None or output == "-":
            try:
                render(result, console_for(color))
            except BrokenPipeError:
                raise
            except OSError as exc:  # a full disk behind a redirection, a closed terminal
                raise OutputError(f"standard output: cannot write: {exc.strerror or exc}") from None
            return
        buf = io.StringIO()
        render(result, console_for(color, buf))
        data = buf.getvalue().encode()
    elif renderer.output == "text":
        data = render(result).encode("utf-8")
    else:
        data = render(result)
    from snapdiff.output import write_bytes

    write_bytes(output or "-", data, force=force)


def fail_if(crossed: Crossed | None) -> None:
    """Exit 5 (after the report) when a --fail-on line was crossed."""
    if crossed is not None:
        say("snapdiff: " + crossed.message)
        raise typer.Exit(int(ExitCode.THRESHOLD))
