"""One configured capture of one target (a pid through py-spy, or a URL), repeatable for a
series. No terminal here: warnings go to a callback."""

from __future__ import annotations

import os
from collections.abc import Callable

from snapdiff.capture import Captured, to_snapshot
from snapdiff.capture.series import Target, parse_target
from snapdiff.errors import CaptureError, InputError
from snapdiff.limits import DEFAULT_MAX_BYTES
from snapdiff.model import Snapshot


class Capturer:
    """One configured capture of one target, repeatable (for a series)."""

    def __init__(
        self,
        target: Target,
        *,
        py_spy: str | None = None,
        nonblocking: bool = False,
        native: bool = False,
        locals_: bool = False,
        subprocesses: bool = False,
        debug: int | None = None,
        headers: list[tuple[str, str]] | None = None,
        token: str | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 60.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        allow_other_hosts: bool = False,
        on_warning: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.target = target
        self.on_warning = on_warning
        self.py_spy = py_spy
        self.nonblocking = nonblocking
        self.native = native
        self.locals = locals_
        self.subprocesses = subprocesses
        self.debug = debug
        self.headers = headers or []
        self.token = token
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.allow_other_hosts = allow_other_hosts

    @classmethod
    def plain(
        cls,
        target: str,
        timeout: float = 60.0,
        on_warning: Callable[[str], None] = lambda message: None,
    ) -> Capturer:
        """Defaults for commands without capture options (diff --live, watch); a bearer
        token, if any, from the SNAPDIFF_TOKEN environment variable."""
        return cls(
            parse_target(target, None),
            token=os.environ.get("SNAPDIFF_TOKEN") or None,
            connect_timeout=min(5.0, timeout),
            timeout=timeout,
            on_warning=on_warning,
        )

    def raw(self) -> list[Captured]:
        """What the target answered: one capture, or one per process with --subprocesses."""
        if self.target.pid is not None:
            from snapdiff.capture.pyspy import capture_pid

            return capture_pid(
                self.target.pid,
                py_spy=self.py_spy,
                nonblocking=self.nonblocking,
                native=self.native,
                locals=self.locals,
                subprocesses=self.subprocesses,
                timeout=self.timeout,
            )
        from snapdiff.capture.http import capture_base

        return [
            capture_base(
                self.target.url or "",
                debug=self.debug,
                headers=self.headers,
                token=self.token,
                connect_timeout=self.connect_timeout,
                timeout=self.timeout,
                max_bytes=self.max_bytes,
                allow_other_hosts=self.allow_other_hosts,
            )
        ]

    def snapshots(self) -> list[tuple[Snapshot, Captured]]:
        """Each capture read into a snapshot; an answer that is no dump is a failed capture."""
        out = []
        for captured in self.raw():
            for name, value in captured.details:
                if name == "skipped_processes":
                    self.on_warning(f"{captured.origin}: skipped {value}")
            try:
                snap = to_snapshot(captured, keep_locals=self.locals)
            except InputError as exc:
                # The target answered, but not with a dump: the capture failed.
                raise CaptureError(f"{captured.origin} answered, but: {exc.message}") from None
            out.append((snap, captured))
        return out
