#!/usr/bin/env python3
"""A small asyncio order service that leaks tasks on purpose, with the snapdiff probe in it.

It exists to show (and test) what the probe sees. An order server listens on a loopback port; a
load-generator thread sends it one order line per request. What runs:

* leak:   every request creates a ``wait_for_confirmation`` task (in ``handle_connection``) that
          waits on an ``asyncio.Event`` nobody ever sets: one task left behind per request.
* churn:  every request also creates a short ``audit`` task, ``housekeeping`` starts batches of
          short ``sweep`` tasks, and asyncio creates a task per connection: all end within
          half a second.
* steady: three background tasks made at start (``heartbeat``, ``flush_metrics``,
          ``housekeeping``), the ``main`` task, the server's accept machinery.
* threads: ``load-generator`` (sends the orders), ``metrics-reporter`` (sleeps), and the two
          ``blocking_N`` threads of the loop's default executor.

Standard library and snapdiff.probe only (which is standard library only); CPython 3.11+. Prints
``pid N``, ``probe http://HOST:PORT`` and ``orders HOST:PORT`` on stdout, then runs until killed
(or for ``--duration`` seconds). ``--block-at S --block-for N`` blocks the event loop in
``time.sleep(N)`` S seconds after start: the probe still answers.

    python3 samples/python/leaky_asyncio.py [--probe-host 127.0.0.1] [--probe-port 0]
            [--token TOKEN] [--rate 20] [--max-leak 5000] [--block-at S --block-for N]
            [--duration 0]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import random
import socket
import sys
import threading
import time
from pathlib import Path

try:
    from snapdiff import probe
except ImportError:  # run from a checkout without installing snapdiff
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from snapdiff import probe

confirmations: dict[int, asyncio.Event] = {}  # order id -> set when confirmed (never)
watchers: dict[int, asyncio.Task[None]] = {}  # order id -> its wait_for_confirmation task
running: set[asyncio.Task[None]] = set()  # short tasks, referenced until they end
stats = {"orders": 0, "leaked": 0, "audited": 0, "swept": 0}
stop = threading.Event()


def say(text: str) -> None:
    print(text, flush=True)


async def wait_for_confirmation(order_id: int) -> None:
    """Wait for the payment provider to confirm the order. It never does: the leak."""
    event = confirmations.setdefault(order_id, asyncio.Event())
    await event.wait()
    confirmations.pop(order_id, None)
    watchers.pop(order_id, None)


def keep(task: asyncio.Task[None]) -> None:
    running.add(task)
    task.add_done_callback(running.discard)


async def audit(order_id: int) -> None:
    await asyncio.sleep(random.uniform(0.05, 0.3))
    stats["audited"] += 1


async def handle_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, max_leak: int
) -> None:
    try:
        line = await reader.readline()
        parts = line.split()
        order_id = int(parts[1]) if len(parts) == 2 and parts[0] == b"ORDER" else -1
        if order_id >= 0:
            stats["orders"] += 1
            if stats["leaked"] < max_leak:
                stats["leaked"] += 1
                waiting = wait_for_confirmation(order_id)
                watchers[order_id] = asyncio.create_task(waiting)  # the leaking line
            keep(asyncio.create_task(audit(order_id)))
            writer.write(b"OK %d\n" % order_id)
        else:
            writer.write(b"ERR\n")
        await writer.drain()
    finally:
        writer.close()


async def heartbeat() -> None:
    while True:
        await asyncio.sleep(0.5)


def compute_metrics(snapshot: dict[str, int]) -> int:
    return sum(snapshot.values())


async def flush_metrics() -> None:
    loop = asyncio.get_running_loop()
    while True:
        await loop.run_in_executor(None, compute_metrics, dict(stats))
        await asyncio.sleep(0.2)


async def sweep(n: int) -> None:
    await asyncio.sleep(random.uniform(0.05, 0.4))
    stats["swept"] += 1


async def housekeeping() -> None:
    n = 0
    while True:
        for _ in range(random.randint(1, 4)):
            n += 1
            keep(asyncio.create_task(sweep(n)))
        await asyncio.sleep(0.1)


async def block_loop(at: float, seconds: float) -> None:
    await asyncio.sleep(at)
    say(f"blocking the loop for {seconds:g}s")
    time.sleep(seconds)  # deliberately blocks the event loop
    say("loop unblocked")


def load_generator(port: int, rate: float) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"ORDER %d\n" % n)
                conn.recv(64)
        except OSError:
            pass
        stop.wait(1 / rate)


def metrics_reporter() -> None:
    while not stop.wait(1.0):
        pass


async def main(args: argparse.Namespace) -> None:
    host, port = probe.start(args.probe_host, args.probe_port, token=args.token)
    say(f"pid {os.getpid()}")
    say(f"probe http://{host}:{port}")
    loop = asyncio.get_running_loop()
    executor = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="blocking")
    loop.set_default_executor(executor)
    # Start both executor threads now, so that the thread count is steady from the first capture.
    await asyncio.gather(
        loop.run_in_executor(None, time.sleep, 0.05), loop.run_in_executor(None, time.sleep, 0.05)
    )

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handle_connection(reader, writer, args.max_leak)

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    order_port = server.sockets[0].getsockname()[1]
    background = [
        asyncio.create_task(heartbeat(), name="heartbeat"),
        asyncio.create_task(flush_metrics(), name="flush-metrics"),
        asyncio.create_task(housekeeping(), name="housekeeping"),
    ]
    if args.block_at is not None:
        background.append(asyncio.create_task(block_loop(args.block_at, args.block_for)))
    threading.Thread(target=metrics_reporter, name="metrics-reporter", daemon=True).start()
    threading.Thread(
        target=load_generator, args=(order_port, args.rate), name="load-generator", daemon=True
    ).start()
    say(f"orders 127.0.0.1:{order_port}")
    try:
        if args.duration:
            await asyncio.sleep(args.duration)
        else:
            await asyncio.Event().wait()
    finally:
        stop.set()
        server.close()
        probe.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probe-host", default="127.0.0.1")
    parser.add_argument("--probe-port", type=int, default=0)
    parser.add_argument("--token", default=None, help="require Authorization: Bearer TOKEN")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--max-leak", type=int, default=5000, help="stop leaking after N")
    parser.add_argument("--block-at", type=float, default=None, metavar="S")
    parser.add_argument("--block-for", type=float, default=3.0, metavar="N")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds; 0 runs forever")
    return parser.parse_args()


if __name__ == "__main__":
    random.seed(1)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parse_args()))
