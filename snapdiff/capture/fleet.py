"""Many replicas at once: the targets of a fleet, and rounds of concurrent captures.

A fleet is what one service name stands for: several URLs given on the command line or in a
file (``--targets``), or a DNS name that resolves to many addresses (a Kubernetes headless
service, a Consul name), one replica per address with the port of the URL. Each round captures
every replica, at most ``parallel`` at a time, each with its own timeouts; a replica that fails
is reported and the others go on. Rounds follow the fixed schedule of
:func:`snapdiff.capture.series.run_series`.

No terminal and no threads of the caller's here: capturing and storing are callbacks, progress is
an event callback called from the calling thread, and clock and sleep are passed in.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from snapdiff.capture.series import Target, parse_target, wait_for_slot
from snapdiff.errors import CaptureError, InputError, UsageError
from snapdiff.fleet import REPLICA, REPLICA_INDEX, REPLICA_NAME
from snapdiff.model import Snapshot

Resolver = Callable[[str, int], Sequence[str]]


@dataclass(frozen=True, slots=True)
class Replica:
    """One member of the fleet: what to capture and how it is named."""

    index: int  # 1-based, in the order of the targets (a name's addresses in address order)
    target: Target
    address: str  # "127.0.0.3:6060", "[::1]:6060" or "pid 1234": unique in the fleet
    name: str | None = None  # the host name the address was resolved from, if any

    @property
    def label(self) -> str:
        return f"r{self.index:03d}"

    def details(self) -> tuple[tuple[str, str], ...]:
        out = [(REPLICA, self.address), (REPLICA_INDEX, str(self.index))]
        if self.name:
            out.append((REPLICA_NAME, self.name))
        return tuple(out)


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to for a TCP connection: its IPv4 addresses when it has
    any, else its IPv6 ones. A name with both (``localhost``, a dual-stack service) names each
    machine twice, once per family: one family is one address per replica."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CaptureError(
            f"cannot resolve host {host!r}: {exc.strerror or exc}; check the name"
        ) from None
    v4 = [str(i[4][0]) for i in infos if i[0] == socket.AF_INET]
    v6 = [str(i[4][0]) for i in infos if i[0] == socket.AF_INET6]
    return list(dict.fromkeys(v4 or v6))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _with_host(url: str, host: str) -> str:
    parts = urlsplit(url)
    netloc = _hostport(host, parts.port) if parts.port else (f"[{host}]" if ":" in host else host)
    if parts.username or parts.password:
        netloc = parts.netloc.rpartition("@")[0] + "@" + netloc
    return urlunsplit(parts._replace(netloc=netloc))


def _address_key(address: str) -> tuple[int, int, str]:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return (9, 0, address)
    return (ip.version, int(ip), address)


def expand(texts: Iterable[str], *, resolver: Resolver = resolve) -> list[Replica]:
    """URLs, ``host:port`` and pids -> the replicas of the fleet, numbered from 1.

    A URL whose host is a name that resolves to several addresses stands for one replica per
    address (the port from the URL; the URL is captured with the address in place of the name).
    A name with one address stays as written. The same address and port twice is one replica.
    """
    out: list[Replica] = []
    seen: set[str] = set()
    for text in texts:
        target = parse_target(text, None)
        found: list[tuple[Target, str, str | None]] = []
        if target.pid is not None:
            found.append((target, f"pid {target.pid}", None))
        else:
            url = target.url or ""
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = int(target.tag)
            if _is_address(host):
                found.append((target, _hostport(host, port), None))
            else:
                addresses = sorted(resolver(host, port), key=_address_key)
                if len(addresses) == 1:
                    found.append((target, _hostport(addresses[0], port), host))
                for address in addresses if len(addresses) > 1 else ():
                    one = Target(url=_with_host(url, address))
                    found.append((one, _hostport(address, port), host))
        for tgt, address, name in found:
            if address not in seen:
                seen.add(address)
                out.append(Replica(len(out) + 1, tgt, address, name))
    if not out:
        raise UsageError("no targets: give URLs, --targets FILE or --pid")
    return out


def read_targets(path: str) -> list[str]:
    """A targets file: one URL, ``host:port`` or pid a line; blank lines and ``#`` comments
    are skipped. A line that is none of these is an error that names the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"--targets {path}: {exc.strerror or exc}") from None
    out: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        item = line.split("#", 1)[0].strip()
        if not item:
            continue
        try:
            parse_target(item, None)
        except UsageError as exc:
            raise InputError(f"{path}:{number}: {exc.message}") from None
        out.append(item)
    if not out:
        raise InputError(f"--targets {path}: no targets in the file")
    return out


def file_stem(replica: Replica, when: datetime) -> str:
    """``snap-r003-127.0.0.3_6060-20261203T085500.123Z``: by replica, then by time."""
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%S") + f".{when.microsecond // 1000:03d}Z"
    address = "".join(c if c.isalnum() or c in ".-" else "_" for c in replica.address)
    return f"snap-{replica.label}-{address.strip('_')[:60]}-{stamp}"


# --- rounds -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplicaDone:
    """One replica's capture in a round: saved, or failed with a one-line message."""

    round: int
    replica: Replica
    seconds: float
    path: str | None
    snapshot: Snapshot | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RoundDone:
    """A round is over: how many were saved and failed, the slowest replica, what comes next."""

    round: int
    planned: int | None  # rounds in all, when known
    saved: int
    failed: int
    slowest: Replica | None
    slowest_seconds: float
    seconds: float  # the whole round
    next_in: float | None  # seconds until the next round; None after the last


FleetEvent = ReplicaDone | RoundDone


@dataclass(frozen=True, slots=True)
class FleetOutcome:
    rounds: int
    saved: tuple[str, ...]
    failed: int  # captures that failed, over all rounds
    failed_replicas: tuple[Replica, ...]  # replicas that failed at least once


def _one(
    capture: Callable[[Replica], tuple[Snapshot, bytes | None]],
    store: Callable[[Replica, Snapshot, bytes | None], str],
    replica: Replica,
    clock: Callable[[], float],
) -> tuple[float, str | None, Snapshot | None, str | None]:
    t0 = clock()
    try:
        snap, raw = capture(replica)
        path = store(replica, snap, raw)
    except CaptureError as exc:
        return clock() - t0, None, None, exc.message
    return clock() - t0, path, snap, None


def run_round(
    replicas: Sequence[Replica],
    capture: Callable[[Replica], tuple[Snapshot, bytes | None]],
    store: Callable[[Replica, Snapshot, bytes | None], str],
    *,
    round_no: int,
    pool: ThreadPoolExecutor,
    on_event: Callable[[FleetEvent], None],
    clock: Callable[[], float] = time.monotonic,
) -> list[ReplicaDone]:
    """Capture every replica once, as many at a time as the pool has workers. Events come in
    the order captures finish, from the calling thread. A CaptureError is that replica's
    failure; any other exception (a bug, an unwritable folder) ends the round and propagates."""
    pending: set[Future[tuple[float, str | None, Snapshot | None, str | None]]] = set()
    which: dict[Future[tuple[float, str | None, Snapshot | None, str | None]], Replica] = {}
    for replica in replicas:
        fut = pool.submit(_one, capture, store, replica, clock)
        which[fut] = replica
        pending.add(fut)
    done_list: list[ReplicaDone] = []
    try:
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(finished, key=lambda f: which[f].index):
                seconds, path, snap, error = fut.result()
                event = ReplicaDone(round_no, which[fut], seconds, path, snap, error)
                done_list.append(event)
                on_event(event)
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise
    return done_list


def run_fleet(
    replicas: Sequence[Replica],
    capture: Callable[[Replica], tuple[Snapshot, bytes | None]],
    store: Callable[[Replica, Snapshot, bytes | None], str],
    *,
    parallel: int = 16,
    every: float | None = None,
    count: int | None = None,
    duration: float | None = None,
    on_event: Callable[[FleetEvent], None] = lambda e: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> FleetOutcome:
    """One round (``every`` None), or rounds on a fixed schedule (start + k * every) until
    ``count`` rounds or ``duration`` seconds; a round that overruns its slot makes the next
    start at once. Failed replicas never stop the fleet; when every capture of every round
    failed, CaptureError. Ctrl-C (KeyboardInterrupt) propagates; what was saved stays saved."""
    if parallel < 1:
        raise UsageError("--parallel must be 1 or more")
    if every is not None and every <= 0:
        raise UsageError("--every must be a positive duration")
    if every is not None and count is None and duration is None:
        raise UsageError("a series needs --count N or --for DURATION")
    planned: int | None = 1 if every is None else count
    if planned is None and every is not None and duration is not None:
        planned = int(duration // every) + 1
    saved: list[str] = []
    failed = 0
    failed_replicas: dict[int, Replica] = {}
    start = clock()
    k = 0
    with ThreadPoolExecutor(max_workers=min(parallel, len(replicas)) or 1) as pool:
        while True:
            k += 1
            t0 = clock()
            results = run_round(
                replicas, capture, store, round_no=k, pool=pool, on_event=on_event, clock=clock
            )
            ok = [r for r in results if r.error is None]
            bad = [r for r in results if r.error is not None]
            saved.extend(r.path for r in ok if r.path)
            failed += len(bad)
            for r in bad:
                failed_replicas.setdefault(r.replica.index, r.replica)
            slow = max(results, key=lambda r: r.seconds, default=None)
            done = every is None or (planned is not None and k >= planned)
            next_in: float | None = None
            if not done and every is not None:
                next_in = wait_for_slot(start, k, every, clock(), duration)
                done = next_in is None
            on_event(
                RoundDone(
                    k,
                    planned,
                    len(ok),
                    len(bad),
                    slow.replica if slow else None,
                    slow.seconds if slow else 0.0,
                    clock() - t0,
                    next_in,
                )
            )
            if done or next_in is None:
                break
            sleep(next_in)
    if not saved and failed:
        raise CaptureError(f"every capture failed ({failed} in {k} round{'s' if k > 1 else ''})")
    return FleetOutcome(
        k, tuple(saved), failed, tuple(sorted(failed_replicas.values(), key=lambda r: r.index))
    )
