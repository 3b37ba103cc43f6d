"""Bounds on the numbers a dump can honestly hold, checked once for every reader.

Every number a reader takes from a dump ends up in a JSON report or a snapshot file, which
hold 64-bit integers. A dump is untrusted text: a frame's line, a thread id or a sample count
can be any string of digits. :func:`bounded` is applied to every snapshot a reader returns
(``inputs``) and to every snapshot file read (``store``): numbers outside 64 bits become
"unknown" (a frame's line 0, an id ``None``) with a warning, and counts whose sum could not be
added up in 64 bits are an error. :func:`digits` reads a run of digits without ever passing
Python's limit on int conversion (4,300 digits).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from operator import attrgetter, is_not

from snapdiff.errors import InputError
from snapdiff.model import Frame, Snapshot, Task

# The range of a signed 64-bit integer: what orjson writes and most consumers of JSON read.
LOWEST = -(2**63)
HIGHEST = 2**63 - 1
# The most tasks counts may add up to: far beyond any real process, and two snapshots' totals
# still add and subtract within 64 bits.
MOST_TASKS = 2**53

_ID = attrgetter("id")
_CREATOR_ID = attrgetter("creator_id")
_WAIT = attrgetter("wait_minutes")
_COUNT = attrgetter("count")
_FRAMES = attrgetter("frames")
_CREATED_BY = attrgetter("created_by")
_NOT_NONE = partial(is_not, None)


def digits(text: str, most: int = 19) -> int | None:
    """``text`` as an int when it is 1 to ``most`` ASCII digits, else None (``int()`` takes
    ``²``, ``٣`` and signs, and refuses 4,301 digits with an exception)."""
    if 0 < len(text) <= most and text.isascii() and text.isdigit():
        value = int(text)
        return value if value <= HIGHEST else None
    return None


def fits(value: int | None) -> bool:
    return value is None or abs(value) <= HIGHEST


def _all_fit(values: Iterable[int | None]) -> bool:
    present: Iterable[int] = filter(_NOT_NONE, values)  # type: ignore[arg-type]
    return max(map(abs, present), default=0) <= HIGHEST


def bounded(snap: Snapshot) -> Snapshot:
    """``snap`` with every number inside 64 bits; an error when its counts add up past
    :data:`MOST_TASKS`. C-level passes over the tasks; a task is rebuilt only when it must be."""
    origin = snap.source.origin
    tasks = snap.tasks
    total = sum(map(_COUNT, tasks))
    if total > MOST_TASKS:
        raise InputError(
            f"{origin}: its task counts add up to {total:.3g}, more than any process can hold"
        )
    fields_fit = (
        _all_fit(map(_ID, tasks))
        and _all_fit(map(_CREATOR_ID, tasks))
        and _all_fit(map(_WAIT, tasks))
    )
    stacks = dict(zip(map(id, map(_FRAMES, tasks)), map(_FRAMES, tasks), strict=True))
    # Each distinct stack and creation frame once (by identity: readers share them).
    creators = dict(zip(map(id, map(_CREATED_BY, tasks)), map(_CREATED_BY, tasks), strict=True))
    frames = [f for s in stacks.values() for f in s]
    frames.extend(filter(None, creators.values()))
    bad_frames = {f for f in frames if abs(f.line) > HIGHEST}
    pid_fits = fits(snap.source.pid)
    if fields_fit and not bad_frames and pid_fits:
        return snap
    fixed = {f: Frame(f.function, f.file, 0) for f in bad_frames}
    new_stacks: dict[int, tuple[Frame, ...]] = {}
    for key, stack in stacks.items():
        if bad_frames.isdisjoint(stack):
            new_stacks[key] = stack
        else:
            new_stacks[key] = tuple(fixed.get(f, f) for f in stack)
    out: list[Task] = []
    for t in tasks:
        out.append(
            t._replace(
                frames=new_stacks[id(t.frames)],
                id=t.id if fits(t.id) else None,
                creator_id=t.creator_id if fits(t.creator_id) else None,
                wait_minutes=t.wait_minutes if fits(t.wait_minutes) else None,
                created_by=fixed.get(t.created_by, t.created_by) if t.created_by else None,
            )
        )
    source = snap.source if pid_fits else replace(snap.source, pid=None)
    note = f"{origin}: numbers beyond 64 bits (ids, line numbers) read as unknown"
    return replace(snap, source=source, tasks=tuple(out), warnings=(*snap.warnings, note))
