"""A live series: capture on a schedule, keep the last few snapshots, judge them after every
capture. No terminal here: each step goes to a callback, so the CLI decides how to show it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from snapdiff.capture.capturer import Capturer
from snapdiff.capture.series import Event, run_series, save
from snapdiff.group import GroupBy
from snapdiff.model import Snapshot
from snapdiff.trend import TrendResult, trend


@dataclass
class Watch:
    """What a watch has seen: the last ``window`` snapshots and the trend over them."""

    window: int
    group_by: GroupBy = GroupBy.SITE
    snapshots: list[Snapshot] = field(default_factory=list)
    result: TrendResult | None = None
    saved: int = 0
    failures: list[str] = field(default_factory=list)
    folder: str = "."

    def add(self, snapshot: Snapshot) -> None:
        self.saved += 1
        self.snapshots = [*self.snapshots, snapshot][-self.window :]
        if len(self.snapshots) >= 2:
            self.result = trend(self.snapshots, self.group_by)

    def fail(self, message: str) -> None:
        self.failures.append(message)


def run_watch(
    capturer: Capturer,
    watch: Watch,
    *,
    every: float,
    count: int | None = None,
    duration: float | None = None,
    stop: Callable[[Watch], bool] = lambda w: False,
    on_step: Callable[[Watch, Event], None] = lambda w, e: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Capture every ``every`` seconds into ``watch.folder``, judging the window after each
    capture, until ``count`` captures, ``duration`` seconds, ``stop(watch)`` or Ctrl-C
    (KeyboardInterrupt propagates; what was saved stays saved and ``watch`` holds the rest).
    The first capture's failure ends it (CaptureError); later ones are counted and it goes on.
    """

    def capture() -> tuple[Snapshot, bytes | None]:
        return capturer.snapshots()[0][0], None

    def store(snap: Snapshot, raw: bytes | None) -> str:
        path = save(snap, capturer.target, watch.folder)
        watch.add(snap)
        return path

    def step(event: Event) -> None:
        if event.error is not None and watch.saved:
            watch.fail(event.error)
        on_step(watch, event)

    run_series(
        capture,
        store,
        every=every,
        count=count,
        duration=duration,
        keep_going=True,
        first_must_succeed=True,
        endless=True,
        stop=lambda: stop(watch),
        on_event=step,
        sleep=sleep,
        clock=clock,
    )
