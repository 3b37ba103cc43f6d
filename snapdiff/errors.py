"""Error kinds of the library and the exit codes the CLI maps them to."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    BUG = 1
    USAGE = 2
    BAD_INPUT = 3
    CAPTURE_FAILED = 4
    THRESHOLD = 5
    INTERRUPTED = 130


class SnapdiffError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code: ExitCode = ExitCode.BUG

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(SnapdiffError):
    exit_code = ExitCode.USAGE


class InputError(SnapdiffError):
    """A file that cannot be read, or whose content is not a dump snapdiff knows."""

    exit_code = ExitCode.BAD_INPUT


class ParseError(InputError):
    """A dump that was recognised but cannot be read; points at the line."""

    def __init__(self, origin: str, line_no: int, line: str, reason: str) -> None:
        shown = line if len(line) <= 120 else line[:117] + "..."
        self.origin = origin
        self.line_no = line_no
        self.line = line
        self.reason = reason
        super().__init__(f"{origin}:{line_no}: {reason}: {shown!r}")


class OutputError(SnapdiffError):
    """An output file that cannot be written (exists, no permission, disk full)."""

    exit_code = ExitCode.BAD_INPUT


class CaptureError(SnapdiffError):
    exit_code = ExitCode.CAPTURE_FAILED
