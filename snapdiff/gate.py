"""The ``--fail-on-growth`` and ``--fail-on-rate`` lines, for a diff and for a trend alike."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from snapdiff.group import GroupKey


class Judged(Protocol):
    """A judged group of a diff (GroupDiff) or a trend (SiteTrend)."""

    @property
    def key(self) -> GroupKey: ...
    @property
    def suspect(self) -> bool: ...
    @property
    def delta(self) -> int: ...


G = TypeVar("G", bound=Judged)


@dataclass(frozen=True, slots=True)
class Crossed:
    """The suspect sites over a line, and what to say: ``2 suspect site(s) grew by 60 or
    more: main.fetchAll (+261), ...`` (function names are the dump's: clean before printing)."""

    sites: tuple[Judged, ...]
    message: str


def crossed(
    groups: Sequence[G],
    rate_of: Callable[[G], float | None],
    growth: int | None = None,
    rate: float | None = None,
    *,
    clean: Callable[[str, int], str],
    rate_verb: str = "grew",
) -> Crossed | None:
    """The first line crossed: growth (tasks, first to last), then rate (tasks a minute, as
    ``rate_of`` gives it); None when neither is."""
    if growth is not None:
        over = [g for g in groups if g.suspect and g.delta >= growth]
        if over:
            names = ", ".join(f"{clean(g.key.function, 200)} (+{g.delta:,})" for g in over[:5])
            return Crossed(
                tuple(over), f"{len(over)} suspect site(s) grew by {growth:,} or more: {names}"
            )
    if rate is not None:
        fast = [g for g in groups if g.suspect and _at_least(rate_of(g), rate)]
        if fast:
            names = ", ".join(
                f"{clean(g.key.function, 200)} ({rate_of(g) or 0:+.1f}/min)" for g in fast[:5]
            )
            return Crossed(
                tuple(fast),
                f"{len(fast)} suspect site(s) {rate_verb} by {rate:g}/min or more: {names}",
            )
    return None


def _at_least(value: float | None, line: float) -> bool:
    return value is not None and value >= line
