"""The service's event-loop lag and memory while the probe answers concurrent requests.

Starts a service (a subprocess: an asyncio loop with ``--tasks`` pending tasks and the probe on
127.0.0.1), measures how late a 5 ms ``asyncio.sleep`` wakes up (the loop's lag) while
``--clients`` clients fetch the document in a loop for ``--seconds``, and prints the lag (median,
99th percentile, worst), the requests answered (200) and refused (503), and the service's RSS
before and at its peak. Standard library and snapdiff.probe only.

    python bench/bench_probe_load.py [--tasks 100000] [--clients 8] [--seconds 10]
    python bench/bench_probe_load.py --clients 0      # the same service with no request: baseline
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SERVICE = textwrap.dedent(
    """
    import asyncio, json, resource, sys, time
    sys.path.insert(0, {root!r})
    from snapdiff import probe

    def rss_mb():
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    async def main():
        probe.install()
        done = asyncio.Event()
        tasks = [asyncio.create_task(done.wait(), name=f"worker-{{i}}") for i in range({tasks})]
        # Each task runs its first step on the loop's next pass (100,000 of them: about a
        # second): let them, so that the lag measured is the probe's, not the service's start.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        host, port = probe.start("127.0.0.1", 0)
        before = rss_mb()
        lags = []
        stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        print(port, flush=True)
        while not stop.done():
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - t0 - 0.005)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        lags.sort()
        print(json.dumps({{
            "median_ms": lags[len(lags) // 2] * 1000,
            "p99_ms": lags[int(len(lags) * 0.99)] * 1000,
            "max_ms": lags[-1] * 1000,
            "rss_before_mb": before,
            "rss_peak_mb": peak,
        }}), flush=True)
        done.set()

    asyncio.run(main())
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    code = SERVICE.format(root=str(ROOT), tasks=args.tasks)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    port = int(proc.stdout.readline())
    url = f"http://127.0.0.1:{port}/debug/snapdiff"
    counts = {"200": 0, "503": 0, "other": 0}
    sizes: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + args.seconds

    def client() -> None:
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    size, key = len(r.read()), str(r.status)
            except urllib.error.HTTPError as err:
                size, key = 0, str(err.code) if err.code == 503 else "other"
            except (OSError, urllib.error.URLError):
                size, key = 0, "other"  # timed out, or the connection failed
            with lock:
                counts[key if key in counts else "other"] += 1
                if size:
                    sizes.append(size)

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if not threads:  # --clients 0: the service's own lag, the baseline
        time.sleep(args.seconds)
    proc.stdin.write("stop\n")
    proc.stdin.flush()
    stats = json.loads(proc.stdout.readline())
    proc.wait(timeout=30)
    print(
        f"probe under load: {args.tasks:,} pending tasks, {args.clients} clients for "
        f"{args.seconds:g} s (Python {sys.version.split()[0]})"
    )
    print(
        f"  requests: {counts['200']} answered, {counts['503']} busy (503), "
        f"{counts['other']} failed; document {max(sizes, default=0) / 1e6:.1f} MB"
    )
    print(
        f"  loop lag: median {stats['median_ms']:.2f} ms, p99 {stats['p99_ms']:.1f} ms, "
        f"worst {stats['max_ms']:.1f} ms"
    )
    print(
        f"  service RSS: {stats['rss_before_mb']:.0f} MB before, "
        f"{stats['rss_peak_mb']:.0f} MB at its peak"
    )


if __name__ == "__main__":
    main()
