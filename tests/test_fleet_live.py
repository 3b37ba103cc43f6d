"""A fleet of real services on loopback: copies of the Go sample (samples/go/leaky, built with a
real Go toolchain) and of the Python probe sample (samples/python/leaky_asyncio.py), some
leaking and one not, one killed and started again during the series, one port that never
answers; then a host name that resolves to several 127.0.0.x addresses (an /etc/hosts entry,
added and removed by the test when it runs as root)."""

from __future__ import annotations

import gzip
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from snapdiff import store
from tests.test_capture_go_live import leaky_binary  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PROBE_SAMPLE = ROOT / "samples" / "python" / "leaky_asyncio.py"
HOSTS = Path("/etc/hosts")
NAME = "snapdiff-fleet-test.internal"


def _wait_line(stream, pattern: str, seconds: float = 30.0) -> re.Match[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no line matching {pattern!r}")


def start_go(binary: Path, addr: str, *flags: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [str(binary), "-addr", addr, "-leak-rate", "200ms", *flags],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = _wait_line(proc.stderr, r"listening on (\S+:\d+)")
    return proc, found[1]


def start_probe() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(PROBE_SAMPLE), "--rate", "10"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    found = _wait_line(proc.stdout, r"probe (http://\S+)")
    return proc, found[1]


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        p.kill()
        p.wait()
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def mute_port() -> Iterator[int]:
    """A port that accepts connections (the kernel does) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield int(s.getsockname()[1])


def _run(*args: str, **kw) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "snapdiff", *args], **kw)


def test_a_live_fleet_with_a_restart_and_a_replica_that_never_answers(leaky_binary, tmp_path):  # noqa: F811
    procs: list[subprocess.Popen[str]] = []
    try:
        go = [start_go(leaky_binary, "127.0.0.1:0") for _ in range(3)]
        steady = start_go(leaky_binary, "127.0.0.1:0", "-max-leak", "2")
        probes = [start_probe() for _ in range(2)]
        procs += [p for p, _ in [*go, steady, *probes]]
        with mute_port() as mute:
            targets = tmp_path / "targets.txt"
            lines = [a for _, a in go] + [steady[1]] + [u for _, u in probes]
            lines.append(f"127.0.0.1:{mute}")
            targets.write_text("\n".join(lines) + "\n")
            out = tmp_path / "fleet"
            capture = _run(
                "capture", "--targets", str(targets), "--every", "3s", "--count", "4",
                "--timeout", "2s", "-o", f"{out}/",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            # Replica 1 is killed after the second round and started again on its port: its
            # goroutine ids start again from low numbers, as after any restart. It comes back
            # with one more pool worker (a new deployment's settings): its start-up goroutines
            # then hold ids the first run gave to other creation sites, which proves the
            # restart. The same settings again would make the two runs' start-ups alike, and
            # Go dumps carry no pid: the restart would then be only "possible" unless some id
            # happens to come back with another creation site (docs/verdict.md, rule 7).
            time.sleep(4.5)
            stop([go[0][0]])
            restarted, _ = start_go(leaky_binary, go[0][1], "-workers", "9")
            procs.append(restarted)
            _, err = capture.communicate(timeout=120)
        assert capture.returncode == 4, err.decode()
        text = err.decode()
        assert text.count(f"r007 127.0.0.1:{mute} failed") == 4
        assert "round 4/4: 6 of 7 replicas saved, 1 failed" in text
        files = sorted(out.glob("snap-*.json.gz"))
        assert len(files) == 24
        assert [f.name[:9] for f in files] == [
            f"snap-r00{i}" for i in range(1, 7) for _ in range(4)
        ]
        probe_snap = store.loads(gzip.decompress(files[-1].read_bytes()), str(files[-1]))
        assert dict(probe_snap.source.capture)["dump_host"] == socket.gethostname()

        trend = subprocess.run(
            [sys.executable, "-m", "snapdiff", "trend", str(out), "-f", "json", "-q"],
            capture_output=True,
            timeout=120,
        )
        assert trend.returncode == 0, trend.stderr.decode()
        doc = orjson.loads(trend.stdout)
        assert [r["restarted"] for r in doc["replicas"]] == [True] + [False] * 5
        sites = {s["key_function"]: s for s in doc["sites"] if s["suspect"]}
        fetch = {f["replica"]: f for f in sites["main.fetchAll"]["replicas"]}
        assert fetch[2]["suspect"] and fetch[3]["suspect"]
        # -max-leak 2 stops the requests once 2 goroutines have leaked; each request leaks 1,
        # or 2 when both of its backends are slower than its 40 ms timeout: 2 or 3 in all.
        assert not fetch[4]["suspect"] and fetch[4]["after"] in (2, 3)
        assert fetch[5]["verdict"] == fetch[6]["verdict"] == "absent"  # Python replicas
        python = {f["replica"]: f for f in sites["handle_connection"]["replicas"]}
        assert python[5]["suspect"] and python[6]["suspect"]
        assert "restarted during the series" in trend.stderr.decode()
    finally:
        stop(procs)


@contextmanager
def hosts_entry(name: str, addresses: list[str]) -> Iterator[None]:
    original = HOSTS.read_bytes()
    try:
        with HOSTS.open("a") as fh:
            fh.write("".join(f"\n{a} {name}" for a in addresses) + "\n")
        yield
    finally:
        HOSTS.write_bytes(original)


def _free_port_on(addresses: list[str]) -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind((addresses[0], 0))
            port = int(s.getsockname()[1])
        try:
            for a in addresses[1:]:
                with socket.socket() as t:
                    t.bind((a, port))
        except OSError:
            continue
        return port
    raise AssertionError("no port free on every address")


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.access(HOSTS, os.W_OK), reason="needs root to edit /etc/hosts"
)
def test_a_name_that_resolves_to_several_addresses_is_one_replica_each(leaky_binary, tmp_path):  # noqa: F811
    addresses = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    port = _free_port_on(addresses)
    procs = []
    try:
        procs = [start_go(leaky_binary, f"{a}:{port}")[0] for a in addresses]
        with hosts_entry(NAME, addresses):
            resolved = {i[4][0] for i in socket.getaddrinfo(NAME, port, type=socket.SOCK_STREAM)}
            if resolved != set(addresses):
                pytest.skip(f"the resolver gives {sorted(resolved)} for several hosts lines")
            out = tmp_path / "dns"
            done = subprocess.run(
                [sys.executable, "-m", "snapdiff", "capture", f"http://{NAME}:{port}",
                 "-o", f"{out}/"],
                capture_output=True, timeout=120,
            )  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()
        files = sorted(out.glob("snap-*.json.gz"))
        assert [f.name.split("-")[1:3] for f in files] == [
            ["r001", f"127.0.0.2_{port}"],
            ["r002", f"127.0.0.3_{port}"],
            ["r003", f"127.0.0.4_{port}"],
        ]
        for f, address in zip(files, addresses, strict=True):
            snap = store.loads(gzip.decompress(f.read_bytes()), str(f))
            record = dict(snap.source.capture)
            assert record["replica"] == f"{address}:{port}"
            assert record["replica_name"] == NAME
            assert snap.total > 0
        assert NAME not in HOSTS.read_text()
    finally:
        stop(procs)
