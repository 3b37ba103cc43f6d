"""Cost of the probe per task creation and per thread start, and the time to build a document.

Times batches of ``asyncio.create_task`` calls (and ``TaskGroup.create_task`` calls) in a
running loop, without the probe and with it installed, and ``Thread.start`` with and without the
hook; then the time to build and encode the probe's document with ``--pending`` pending tasks.
Each per-call figure is the best of ``--repeat`` batches (small batches keep the garbage
collector's share out of the figure). Standard library and snapdiff.probe only: runs on any
CPython 3.11+.

    python bench/bench_probe.py [--batch 10000] [--repeat 20] [--threads 300] [--pending 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from snapdiff import probe


async def idle() -> None:
    pass


async def forever(event: asyncio.Event) -> None:
    await event.wait()


async def create_many(n: int) -> float:
    tasks: list[asyncio.Task[None]] = []
    append = tasks.append
    create = asyncio.create_task
    t0 = time.perf_counter_ns()
    for _ in range(n):
        append(create(idle()))
    elapsed = time.perf_counter_ns() - t0
    await asyncio.gather(*tasks)
    return elapsed / n


async def group_many(n: int) -> float:
    async with asyncio.TaskGroup() as group:
        create = group.create_task
        t0 = time.perf_counter_ns()
        for _ in range(n):
            create(idle())
        elapsed = time.perf_counter_ns() - t0
    return elapsed / n


def best(repeat: int, run: Any, n: int, with_probe: bool) -> float:
    figures = []
    for _ in range(repeat):

        async def main() -> float:
            if with_probe:
                probe.install()
            try:
                result: float = await run(n)
                return result
            finally:
                probe.uninstall()

        figures.append(asyncio.run(main()))
    return min(figures)


def thread_start(n: int, with_probe: bool) -> float:
    if with_probe:
        probe.install()
    try:
        threads = [threading.Thread(target=int) for _ in range(n)]
        t0 = time.perf_counter_ns()
        for t in threads:
            t.start()
        elapsed = time.perf_counter_ns() - t0
        for t in threads:
            t.join()
    finally:
        probe.uninstall()
    return elapsed / n


def document(n: int) -> tuple[float, float, int]:
    async def main() -> tuple[float, float, int]:
        probe.install()
        event = asyncio.Event()
        tasks = [asyncio.create_task(forever(event)) for _ in range(n)]
        await asyncio.sleep(0)
        t0 = time.perf_counter()
        doc = probe.snapshot()
        t1 = time.perf_counter()
        body = probe.snapshot_json(max_bytes=1 << 40)
        t2 = time.perf_counter()
        event.set()
        await asyncio.gather(*tasks)
        probe.uninstall()
        assert len(doc["tasks"]) >= n
        return t1 - t0, (t2 - t1), len(body)

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=300)
    parser.add_argument("--pending", type=int, default=100_000)
    args = parser.parse_args()
    print(f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    print(f"best of {args.repeat} batches of {args.batch} creations")
    for label, run in (("asyncio.create_task", create_many), ("TaskGroup.create_task", group_many)):
        without = best(args.repeat, run, args.batch, False)
        with_probe = best(args.repeat, run, args.batch, True)
        print(
            f"{label:24} without probe {without:7.0f} ns   with probe {with_probe:7.0f} ns   "
            f"+{with_probe - without:5.0f} ns ({with_probe / without - 1:+.0%})"
        )
    without = min(thread_start(args.threads, False) for _ in range(args.repeat))
    with_probe = min(thread_start(args.threads, True) for _ in range(args.repeat))
    print(
        f"{'Thread.start':24} without probe {without:7.0f} ns   with probe {with_probe:7.0f} ns   "
        f"+{with_probe - without:5.0f} ns"
    )
    build, encode, size = document(args.pending)
    print(
        f"document with {args.pending} pending tasks: snapshot() {build * 1000:.0f} ms, "
        f"snapshot_json() {encode * 1000:.0f} ms, {size / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
