"""A fleet of real local endpoints: how long one round of ``snapdiff capture`` over N replicas
takes, and how long ``snapdiff diff FOLDER`` takes on the N snapshot pairs it saved.

    .venv/bin/python bench/bench_fleet.py [--replicas 200] [--parallel 16 64] [--go BINARY]

The endpoints: by default one server process (asyncio, standard library) listening on N loopback
ports, each answering ``/debug/pprof/goroutine?debug=2`` with a real dump of the Go sample
(samples/go/dumps/go1.27: ``t0`` on a port's first request, ``t1`` after), as a Go service
would; one process, so that the machine's cores go to snapdiff. With ``--go BINARY`` (the sample
built with ``go build`` in samples/go/leaky), N real Go services instead (about 20 MB each).

Prints, for each ``--parallel``: the wall time of a round of N captures (the ``capture``
command, start-up included) and captures per second; then the time of ``diff FOLDER -f json``
on the N pairs (start-up, reading 2N snapshot files, N diffs, the report).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DUMPS = ROOT / "samples" / "go" / "dumps" / "go1.27"

SERVER = r"""
import asyncio, sys
t0 = open(sys.argv[1], "rb").read()
t1 = open(sys.argv[2], "rb").read()
n = int(sys.argv[3])
served = {}

def head(body):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))

async def handle(reader, writer):
    port = writer.get_extra_info("sockname")[1]
    try:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        body = t1 if served.get(port) else t0
        served[port] = True
        writer.write(head(body) + body)
        await writer.drain()
    finally:
        writer.close()

async def main():
    servers = [await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256) for _ in range(n)]
    for s in servers:
        print(s.sockets[0].getsockname()[1])
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def start_endpoints(n: int, go: str | None) -> tuple[list[subprocess.Popen[str]], list[int]]:
    if go is None:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(DUMPS / "t0.debug2.txt"),
             str(DUMPS / "t1.debug2.txt"), str(n)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        ports = []
        for line in proc.stdout:
            if line.strip() == "ready":
                break
            ports.append(int(line))
        return [proc], ports
    procs, ports = [], []
    for _ in range(n):
        p = subprocess.Popen(
            [go, "-addr", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert p.stderr is not None
        for line in p.stderr:
            if "listening on" in line:
                ports.append(int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1]))
                break
        procs.append(p)
    return procs, ports


def snapdiff(*args: str) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "snapdiff", *args], capture_output=True)
    return time.perf_counter() - t0, done


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=200)
    ap.add_argument("--parallel", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--go", metavar="BINARY", help="run N Go sample services instead")
    args = ap.parse_args()
    procs, ports = start_endpoints(args.replicas, args.go)
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        targets = work / "targets.txt"
        targets.write_text("".join(f"127.0.0.1:{p}\n" for p in ports))
        kind = f"{args.replicas} Go services" if args.go else f"{args.replicas} endpoints"
        version = sys.version.split()[0]
        print(f"fleet: {kind} on 127.0.0.1, {os.cpu_count()} cores, Python {version}")
        last = None
        for parallel in args.parallel:
            folder = work / f"p{parallel}"
            seconds, done = snapdiff(
                "capture", "--targets", str(targets), "--parallel", str(parallel),
                "-o", f"{folder}/", "-q",
            )  # fmt: skip
            saved = len(list(folder.glob("snap-*.json.gz")))
            status = "" if done.returncode == 0 else f" (exit {done.returncode})"
            print(
                f"capture, one round, --parallel {parallel:3d}: {seconds:6.2f} s for {saved} "
                f"snapshots, {saved / seconds:6.1f} a second{status}"
            )
            last = folder
        assert last is not None
        # Every replica now has a first (t0) and a later (t1) snapshot across the two folders.
        pairs = work / "pairs"
        pairs.mkdir()
        for folder in (work / f"p{p}" for p in args.parallel[:2]):
            for f in folder.glob("snap-*.json.gz"):
                shutil.copy(f, pairs / f.name)
        n = len(list(pairs.glob("*.json.gz")))
        seconds, done = snapdiff("diff", str(pairs), "-f", "json", "-o", os.devnull, "-q")
        print(
            f"diff FOLDER -f json, {n // 2} replicas x 2 snapshots: {seconds:6.2f} s "
            f"(exit {done.returncode})"
        )
    finally:
        for p in procs:
            p.kill()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
