"""Where a group's tasks wait, and how long: what a report's headline says of a suspect.

The place is the innermost frame of the application's own code (its runtime says which frames
are: :meth:`~snapdiff.runtime.Runtime.app_frame`), else the frame its runtime says a task waits
in. Its state, and how many of the group's tasks wait in that state at that frame, make ``278 of
279 wait in chan send at leaky/fanout.go:53``.

Ages come from what the dump records: a reader that prints how long a task has waited
(``[chan send, 12 minutes]``) prints nothing under a minute, so a task with a state and no wait
counts as 0, and the oldest and median wait of a group are known to the minute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from snapdiff.model import Frame, Task
from snapdiff.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Waiting:
    """The most common (state, place) of a group's tasks, and the ages its dump records.

    ``count`` of the group's ``total`` tasks are in ``state`` (empty when the dump has no states)
    at ``frame`` (None when they have no frames); ``app``: the frame is the application's own
    (else the nearest frame its runtime names). ``oldest_wait_minutes`` and
    ``median_wait_minutes``: None when the dump records no wait times.
    """

    state: str
    frame: Frame | None
    count: int
    total: int
    oldest_wait_minutes: int | None = None
    median_wait_minutes: int | None = None
    app: bool = True


def _median(values: Counter[int]) -> int:
    middle = (sum(values.values()) - 1) // 2
    seen = 0
    for value in sorted(values):
        seen += values[value]
        if seen > middle:
            return value
    return 0


def waiting(tasks: Iterable[tuple[Task, int]], rt: Runtime) -> Waiting | None:
    """:class:`Waiting` of a group from its tasks, each with how many it stands for (a profile:
    one entry per distinct stack, state and wait). None for an empty group and for resources
    (a socket waits nowhere)."""
    places: Counter[tuple[str, Frame | None, bool]] = Counter()
    waits: Counter[int] = Counter()
    total = 0
    timed = False
    seen: dict[int, tuple[Frame | None, bool]] = {}
    for task, n in tasks:
        if rt.kind(task.kind).resource:
            return None
        total += n
        key = id(task.frames)
        if key not in seen:
            found = rt.app_frame(task.frames)
            seen[key] = (found, True) if found else (rt.blocking_frame(task.frames), False)
        frame, app = seen[key]
        places[(task.state, frame, app)] += n
        if task.state:
            timed = timed or task.wait_minutes is not None
            waits[task.wait_minutes or 0] += n
    if not total:
        return None
    (state, frame, app), count = places.most_common(1)[0]
    oldest = max(waits) if timed else None
    median = _median(waits) if timed else None
    return Waiting(state, frame, count, total, oldest, median, app)
