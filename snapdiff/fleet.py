"""Snapshots of many replicas of one service -> a diff or a trend per replica -> a verdict per
site across the fleet. Pure functions.

Which replica a snapshot is comes from its capture record (``replica``, written by a fleet
capture: :mod:`snapdiff.capture.fleet`). Each replica is judged alone, exactly as ``diff`` (its
first and last snapshot) or ``trend`` (all of its snapshots) judges one process, restarts
included; then every site gets the count of replicas on which it is suspect, the median of their
rates, and each replica's own figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from snapdiff.diff import DiffResult, GroupDiff, diff
from snapdiff.errors import UsageError
from snapdiff.group import GroupBy, GroupKey
from snapdiff.model import Snapshot
from snapdiff.trend import SiteTrend, TrendResult, order, trend

# Names in a snapshot's ``source.capture`` that say which replica it is.
REPLICA = "replica"  # "127.0.0.3:6060" (address and port), or "pid 1234"
REPLICA_INDEX = "replica_index"  # "3": its number in the fleet, 1-based
REPLICA_NAME = "replica_name"  # the name the address came from ("orders.default.svc")
DUMP_HOST = "dump_host"  # the host name the dump itself gives (snapdiff.capture.to_snapshot)


def replica_of(snapshot: Snapshot) -> str | None:
    """The replica a fleet capture recorded in the snapshot, or None."""
    return dict(snapshot.source.capture).get(REPLICA)


def split(snapshots: Sequence[Snapshot]) -> list[list[Snapshot]]:
    """Snapshots by replica, replicas in fleet order (their number, else first seen). Snapshots
    that name no replica are one replica of their own (what a single capture series is)."""
    by: dict[str, list[Snapshot]] = {}
    for snap in snapshots:
        by.setdefault(replica_of(snap) or "", []).append(snap)
    return sorted(by.values(), key=lambda snaps: _index(snaps[0]) or 10**9)


def _index(snapshot: Snapshot) -> int | None:
    value = dict(snapshot.source.capture).get(REPLICA_INDEX, "")
    return int(value) if value.isdigit() else None


@dataclass(frozen=True, slots=True)
class Replica:
    """One replica of the fleet, as its snapshots tell."""

    number: int  # 1-based, as captured (r003 is 3)
    address: str  # "127.0.0.3:6060", or the origin of snapshots without a replica record
    host: str | None  # the host name the dump gives, else the name the address came from
    snapshots: int
    total_first: int
    total_last: int
    restarted: bool  # its task ids could not be matched across its snapshots: a new process
    judged: bool  # False with fewer than two snapshots: no diff, no trend


@dataclass(frozen=True, slots=True)
class ReplicaFigure:
    """One site on one judged replica."""

    replica: int  # Replica.number
    verdict: str  # the replica's own verdict; "absent" when the site has no tasks there
    suspect: bool
    before: int
    after: int
    delta: int
    rate_per_minute: float | None  # diff: the rate; trend: the slope (None without times)
    survivors: int | None


@dataclass(frozen=True, slots=True)
class FleetSite:
    key: GroupKey
    example: GroupDiff | SiteTrend  # the site on the replica where it grew the most
    figures: tuple[ReplicaFigure, ...]  # one per judged replica, in replica order
    suspect_on: int
    present_on: int
    rate_per_minute: float | None  # median over the replicas where it is suspect (else all)

    @property
    def suspect(self) -> bool:
        return self.suspect_on > 0

    @property
    def delta(self) -> int:
        return sum(f.delta for f in self.figures)


@dataclass(frozen=True, slots=True)
class FleetResult:
    command: str  # "diff" (first and last snapshot of each replica) or "trend"
    group_by: str
    replicas: tuple[Replica, ...]
    sites: tuple[FleetSite, ...]
    results: tuple[DiffResult | TrendResult, ...]  # one per judged replica, in replica order
    warnings: tuple[str, ...]

    @property
    def judged(self) -> tuple[Replica, ...]:
        return tuple(r for r in self.replicas if r.judged)

    @property
    def suspects(self) -> tuple[FleetSite, ...]:
        return tuple(s for s in self.sites if s.suspect)


def _replica(number: int, snaps: Sequence[Snapshot], judged: bool, restarted: bool) -> Replica:
    first, last = snaps[0], snaps[-1]
    record = dict(last.source.capture)
    host = record.get(DUMP_HOST) or record.get(REPLICA_NAME) or None
    return Replica(
        number=_index(first) or number,
        address=record.get(REPLICA) or first.source.origin,
        host=host,
        snapshots=len(snaps),
        total_first=first.total,
        total_last=last.total,
        restarted=restarted,
        judged=judged,
    )


def fleet(
    snapshots: Sequence[Snapshot], command: str = "trend", by: GroupBy = GroupBy.SITE
) -> FleetResult:
    """Judge each replica alone (``command``: "diff" of its first and last snapshot, or "trend"
    of all), then every site across the judged replicas."""
    if command not in ("diff", "trend"):
        raise ValueError(command)
    replicas: list[Replica] = []
    results: list[DiffResult | TrendResult] = []
    warnings: list[str] = []
    for number, snaps in enumerate(split(snapshots), 1):
        ordered, _ = order(snaps)
        if len(ordered) < 2:
            replicas.append(_replica(number, ordered, False, False))
            continue
        result: DiffResult | TrendResult = (
            diff(ordered[0], ordered[-1], by) if command == "diff" else trend(ordered, by)
        )
        with_ids = all(s.has_ids for s in ordered)
        replicas.append(_replica(number, ordered, True, with_ids and not result.ids_comparable))
        results.append(result)
    judged = [r for r in replicas if r.judged]
    if not judged:
        raise UsageError(
            "no replica has two snapshots: a fleet's diff or trend needs two or more of each"
        )
    for r in replicas:
        if not r.judged:
            warnings.append(f"replica {r.number} ({r.address}) has one snapshot only: not judged")
    if any(r.restarted for r in judged):
        names = ", ".join(str(r.number) for r in judged if r.restarted)
        warnings.append(
            f"replica(s) {names} restarted during the series: their survivors are not counted"
        )
    return FleetResult(
        command=command,
        group_by=by.value,
        replicas=tuple(replicas),
        sites=_sites(judged, results),
        results=tuple(results),
        warnings=tuple(warnings),
    )


def _figure(number: int, g: GroupDiff | SiteTrend | None) -> ReplicaFigure:
    if g is None:
        return ReplicaFigure(number, "absent", False, 0, 0, 0, None, None)
    rate = g.rate_per_minute if isinstance(g, GroupDiff) else g.slope_per_minute
    return ReplicaFigure(
        number, g.verdict, g.suspect, g.before, g.after, g.delta, rate, g.survivors
    )


def _sites(
    judged: Sequence[Replica], results: Sequence[DiffResult | TrendResult]
) -> tuple[FleetSite, ...]:
    tables: list[dict[GroupKey, GroupDiff | SiteTrend]] = [
        {g.key: g for g in result.groups} for result in results
    ]
    keys: dict[GroupKey, None] = {}
    for table in tables:
        keys.update(dict.fromkeys(table))
    sites = []
    for key in keys:
        present = [(r, t[key]) for r, t in zip(judged, tables, strict=True) if key in t]
        figures = tuple(_figure(r.number, t.get(key)) for r, t in zip(judged, tables, strict=True))
        suspect = [f for f in figures if f.suspect]
        rates = [f.rate_per_minute for f in (suspect or figures) if f.rate_per_minute is not None]
        example = max(present, key=lambda p: (p[1].suspect, p[1].delta, -p[0].number))[1]
        sites.append(
            FleetSite(
                key=key,
                example=example,
                figures=figures,
                suspect_on=len(suspect),
                present_on=len(present),
                rate_per_minute=float(median(rates)) if rates else None,
            )
        )
    sites.sort(
        key=lambda s: (
            -s.suspect_on,
            -(s.rate_per_minute or 0.0),
            -s.delta,
            s.key.function,
            s.key.file,
            s.key.line,
        )
    )
    return tuple(sites)
