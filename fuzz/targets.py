"""Fuzz targets: one per reader, the snapshot loader and the report renderers.

Each target takes bytes and checks snapdiff's contract on them: a result, or a ``SnapdiffError``
(exit 3 for input) whose message is one line; never another exception. A result must also
survive being written as a snapshot file and read back, which is where numbers beyond 64 bits
and unwritable strings used to surface. Time and memory are bounded by the runner (run.py) and
the test (tests/test_fuzz.py).
"""

from __future__ import annotations

from collections.abc import Callable

import typer
import typer.testing as typer_testing
from typer.testing import CliRunner

from fuzz.seeds import SNAPSHOT
from snapdiff import inputs, runtimes, store
from snapdiff.cli import app
from snapdiff.errors import ExitCode, SnapdiffError
from snapdiff.model import Snapshot

RENDERERS = "renderers"


class ContractBroken(AssertionError):
    """The contract does not hold for an input."""


def _one_line(exc: SnapdiffError) -> None:
    message = str(exc)
    if "\n" in message or not message:
        raise ContractBroken(f"error message is not one line: {message!r:.300}")
    if exc.exit_code != ExitCode.BAD_INPUT:
        raise ContractBroken(f"{type(exc).__name__} exits {int(exc.exit_code)}, not 3: {message}")


def _round_trip(snap: Snapshot) -> None:
    again = store.loads(store.dumps(snap), "round-trip")
    if len(again.tasks) != len(snap.tasks):
        raise ContractBroken("a snapshot file does not hold what it was written from")


def reader_target(name: str | None) -> Callable[[bytes], str]:
    """Read ``data`` as ``name`` (a reader, or the snapshot loader for None)."""

    def target(data: bytes) -> str:
        try:
            snap = inputs.parse_bytes(data, "fuzz", name or store.FORMAT)
        except SnapdiffError as exc:
            _one_line(exc)
            return "error"
        _round_trip(snap)
        return "result"

    return target


_RUNNER = CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1", "SNAPDIFF_TRACEBACK": None})
_COMMAND = None


def _invoke(args: list[str]):  # type: ignore[no-untyped-def]
    """The CLI on ``args``, its command built once (typer's runner builds it on every invoke,
    which costs more than reading a small dump)."""
    global _COMMAND
    if _COMMAND is None:
        _COMMAND = typer.main.get_command(app)
    built = _COMMAND
    real = typer_testing._get_command
    typer_testing._get_command = lambda _app: built  # type: ignore[assignment]
    try:
        return _RUNNER.invoke(app, args, prog_name="snapdiff")
    finally:
        typer_testing._get_command = real


def renderers_target(data: bytes) -> str:
    """``show`` in every format on ``data`` (a file, as a user runs it)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dump"
        path.write_bytes(data)
        outcome = "error"
        for fmt in ("text", "markdown", "json"):
            result = _invoke(["show", str(path), "-f", fmt])
            if result.exit_code not in (0, 3):
                raise ContractBroken(
                    f"show -f {fmt} exited {result.exit_code}: {result.stderr[-600:]}"
                ) from result.exception
            errors = [ln for ln in result.stderr.splitlines() if ln.startswith("snapdiff: error")]
            if result.exit_code == 3 and (len(errors) != 1 or "Traceback (most" in result.stderr):
                raise ContractBroken(f"show -f {fmt}: not one error line: {result.stderr[-600:]}")
            if result.exit_code == 0:
                outcome = "result"
        return outcome


def all_targets() -> dict[str, Callable[[bytes], str]]:
    targets: dict[str, Callable[[bytes], str]] = {
        name: reader_target(name) for name in runtimes.SOURCES
    }
    targets[SNAPSHOT] = reader_target(None)
    targets[RENDERERS] = renderers_target
    return targets
