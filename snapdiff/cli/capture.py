"""``snapdiff capture`` and ``snapdiff diff --live``: the CLI over :mod:`snapdiff.capture`."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from snapdiff.cli._common import clean, handle_errors, parse_duration, stderr, warn
from snapdiff.errors import CaptureError, UsageError
from snapdiff.limits import DEFAULT_MAX_BYTES

# The capture code and rich are imported where they are used.
if TYPE_CHECKING:
    from rich.console import Console

    from snapdiff.capture.series import Event
    from snapdiff.model import Snapshot


def _read_secret_file(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise UsageError(f"--token-file {path}: {exc.strerror or exc}") from None


def _token(token_env: str | None, token_file: str | None) -> str | None:
    if token_env and token_file:
        raise UsageError("give --token-env or --token-file, not both")
    if token_env:
        value = os.environ.get(token_env)
        if not value:
            raise UsageError(f"--token-env {token_env}: the variable is not set or empty")
        return value
    if token_file:
        return _read_secret_file(token_file)
    return None


def _headers(values: list[str]) -> list[tuple[str, str]]:
    headers = []
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {value!r}: expected 'Name: value'")
        headers.append((name.strip(), content.strip()))
    return headers


def _kind(snap: Snapshot) -> str:
    from snapdiff.render.common import kind_plural

    kinds = {t.kind for t in snap.tasks}
    # The kind comes from the endpoint's document (the probe's JSON names it).
    return clean(kind_plural(kinds.pop(), 2), 100) if len(kinds) == 1 else "tasks"


def _describe(snap: Snapshot) -> str:
    kind = _kind(snap)
    took = dict(snap.source.capture).get("duration_seconds", "?")
    return f"{snap.total:,} {kind} in {took}s from {clean(snap.source.origin, 300)}"


class Progress:
    """Series progress on stderr: a live line on a terminal, plain lines otherwise."""

    def __init__(self, console: Console, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self.first: int | None = None
        self.seen = 0
        self.failures = 0
        self.live = console.is_terminal and not quiet
        self._status = None
        if self.live:
            self._status = console.status("capturing...")
            self._status.start()

    def __call__(self, e: Event) -> None:
        from rich.text import Text

        self.seen += 1
        if e.error:
            self.failures += 1
        total = e.snapshot.total if e.snapshot else None
        if total is not None and self.first is None:
            self.first = total
        planned = f"/{e.planned}" if e.planned else ""
        if e.error:
            line = Text(f"[{e.index}{planned}] failed: {clean(e.error, 500)}", style="red")
        else:
            delta = (total or 0) - (self.first or 0)
            kind = _kind(e.snapshot) if e.snapshot else "tasks"
            line = Text(
                f"[{e.index}{planned}] {total:,} {kind} ({delta:+,} since the first) -> "
                f"{clean(e.path or '', 300)}"
            )
        if e.next_in is not None:
            line.append(f"; next in {e.next_in:.0f}s", style="dim")
        if not self.quiet:
            self.console.print(line)
        if self._status is not None:
            if e.next_in is None:
                self._status.stop()
            else:
                self._status.update(
                    f"next capture in {e.next_in:.0f}s (Ctrl-C keeps what was saved)"
                )

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()


def capture_cmd(
    target: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[TARGET]...",
            help="A URL (Go pprof base such as http://127.0.0.1:6060, or a JSON debug endpoint) "
            "or a pid; several, or a name that resolves to several addresses, capture a fleet.",
        ),
    ] = None,
    targets: Annotated[
        str | None,
        typer.Option(
            "--targets",
            metavar="FILE",
            help="Replicas to capture, one URL, host:port or pid a line ('#' comments).",
        ),
    ] = None,
    parallel: Annotated[
        int, typer.Option("--parallel", min=1, help="Fleet: capture at most N replicas at once.")
    ] = 16,
    pid: Annotated[
        int | None,
        typer.Option("--pid", "-p", metavar="PID", help="A Python process to dump with py-spy."),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Snapshot file, a folder (ending in /), or '-' for stdout. Default: a "
            "time-stamped file in the current folder.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing output file.")
    ] = False,
    raw: Annotated[
        bool, typer.Option("--raw", help="Also keep the raw bytes (gzip) beside it.")
    ] = False,
    every: Annotated[
        str | None,
        typer.Option("--every", metavar="DURATION", help="Capture a series: every 30s, 5m..."),
    ] = None,
    count: Annotated[
        int | None,
        typer.Option("--count", min=1, metavar="N", help="How many captures in the series."),
    ] = None,
    for_: Annotated[
        str | None,
        typer.Option("--for", metavar="DURATION", help="How long the series runs (10m)."),
    ] = None,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="In a series, go on after a failed capture.")
    ] = False,
    py_spy: Annotated[
        str | None, typer.Option("--py-spy", metavar="FILE", help="The py-spy to use.")
    ] = None,
    nonblocking: Annotated[
        bool,
        typer.Option("--nonblocking", help="py-spy: do not pause the target (stacks may tear)."),
    ] = False,
    native: Annotated[bool, typer.Option("--native", help="py-spy: include C frames.")] = False,
    locals_: Annotated[
        bool, typer.Option("--locals", help="py-spy: capture and keep local variables (secrets!).")
    ] = False,
    subprocesses: Annotated[
        bool,
        typer.Option("--subprocesses", help="py-spy: also dump child processes (one file each)."),
    ] = False,
    debug: Annotated[
        int | None,
        typer.Option(
            "--debug",
            min=0,
            max=2,
            metavar="N",
            help="Go pprof: debug=2, 1 or 0 (protobuf) (default 2).",
        ),
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header", "-H", metavar="HEADER", help="HTTP header 'Name: value' (repeat)."
        ),
    ] = None,
    token_env: Annotated[
        str | None,
        typer.Option(
            "--token-env", metavar="NAME", help="Bearer token from this environment variable."
        ),
    ] = None,
    token_file: Annotated[
        str | None,
        typer.Option("--token-file", metavar="FILE", help="Bearer token from this file."),
    ] = None,
    connect_timeout: Annotated[
        str, typer.Option("--connect-timeout", metavar="DURATION", help="HTTP: time to connect.")
    ] = "5s",
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout",
            metavar="DURATION",
            help="Time for the whole capture (HTTP transfer, py-spy).",
        ),
    ] = "60s",
    max_bytes: Annotated[
        int,
        typer.Option(
            "--max-bytes", min=1, metavar="N", help="HTTP: refuse bodies larger than this."
        ),
    ] = DEFAULT_MAX_BYTES,
    allow_other_hosts: Annotated[
        bool, typer.Option("--allow-other-hosts", help="HTTP: follow redirects to other hosts.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
) -> None:
    """Capture a snapshot of a live Python process (py-spy) or a debug endpoint, once or as a
    series; saved atomically, never replacing a file without --force."""
    with handle_errors():
        from rich.text import Text

        from snapdiff.capture.capturer import Capturer
        from snapdiff.capture.series import parse_target, run_series, save
        from snapdiff.cli.fleet import capture_fleet, fleet_replicas

        replicas = fleet_replicas(target or [], targets) if pid is None else None
        if replicas:
            tgt = replicas[0].target
        elif target and len(target) > 1:
            raise UsageError("give either --pid or URLs, not both")
        else:
            tgt = parse_target(target[0] if target else None, pid)
        capturer = Capturer(
            tgt,
            on_warning=warn,
            py_spy=py_spy,
            nonblocking=nonblocking,
            native=native,
            locals_=locals_,
            subprocesses=subprocesses,
            debug=debug,
            headers=_headers(header or []),
            token=_token(token_env, token_file),
            connect_timeout=parse_duration(connect_timeout),
            timeout=parse_duration(timeout),
            max_bytes=max_bytes,
            allow_other_hosts=allow_other_hosts,
        )
        console = stderr()
        if replicas:
            # A fleet always goes on past a failed replica (--keep-going or not), exit 4 at the end.
            if every is None and (count is not None or for_ is not None):
                raise UsageError("--count and --for go with --every")
            capture_fleet(
                replicas,
                capturer,
                output,
                raw=raw,
                parallel=parallel,
                every=parse_duration(every) if every is not None else None,
                count=count,
                duration=parse_duration(for_) if for_ else None,
                quiet=quiet,
            )
            return
        if every is None:
            if count is not None or for_ is not None:
                raise UsageError("--count and --for go with --every")
            for snap, captured in capturer.snapshots():
                path = save(snap, tgt, output, force=force, raw=captured.data if raw else None)
                for w in snap.warnings:
                    warn(w)
                if not quiet:
                    console.print(Text(f"captured {_describe(snap)} -> {clean(path, 300)}"))
            return
        if (
            output is not None
            and output != "-"
            and not output.endswith(("/", os.sep))
            and not Path(output).is_dir()
        ):
            raise UsageError("a series writes one file per capture: give -o a folder (ending in /)")
        if output == "-":
            raise UsageError("a series cannot write to stdout: give -o a folder")
        progress = Progress(console, quiet)

        def one() -> tuple[Snapshot, bytes | None]:
            pairs = capturer.snapshots()
            for snap, captured in pairs[1:]:
                save(snap, tgt, output, raw=captured.data if raw else None)
            snap, captured = pairs[0]
            return snap, (captured.data if raw else None)

        try:
            run_series(
                one,
                lambda snap, data: save(snap, tgt, output, raw=data),
                every=parse_duration(every),
                count=count,
                duration=parse_duration(for_) if for_ else None,
                keep_going=keep_going,
                on_event=progress,
            )
        finally:
            progress.stop()
        if progress.failures:
            # --keep-going went on; the exit status still says that not everything was captured.
            raise CaptureError(
                f"{progress.failures} of {progress.seen} captures failed; the other "
                f"{progress.seen - progress.failures} are saved in {output or '.'}"
            )


def live_pair(target: str, wait: float, folder: str, quiet: bool) -> tuple[Snapshot, Snapshot]:
    """Capture ``target`` now and ``wait`` seconds later; save both into ``folder``."""
    from rich.text import Text

    from snapdiff.capture.capturer import Capturer
    from snapdiff.capture.series import save

    capturer = Capturer.plain(target, on_warning=warn)
    tgt = capturer.target
    console = stderr()
    out = folder if folder.endswith(("/", os.sep)) else folder + os.sep
    pair: list[Snapshot] = []
    for n in (1, 2):
        if n == 2:
            if console.is_terminal and not quiet:
                with console.status(f"waiting {wait:.0f}s before the second capture..."):
                    time.sleep(wait)
            else:
                if not quiet:
                    console.print(Text(f"waiting {wait:.0f}s before the second capture"))
                time.sleep(wait)
        snap = capturer.snapshots()[0][0]
        path = save(snap, tgt, out)
        if not quiet:
            console.print(Text(f"captured {_describe(snap)} -> {clean(path, 300)}"))
        for w in snap.warnings:
            warn(w)
        pair.append(snap)
    return pair[0], pair[1]
