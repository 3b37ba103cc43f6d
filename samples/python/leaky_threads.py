#!/usr/bin/env python3
"""A small self-driving service that leaks threads on purpose.

It exists to produce realistic thread dumps for snapdiff. Four kinds of
threads are running:

* leak:   every request creates a new ThreadPoolExecutor(max_workers=1),
          submits one job and never shuts the executor down, so one idle
          worker thread ("ThreadPoolExecutor-N_0") is left behind per request.
* pool:   a fixed pool of worker threads ("pool-0".."pool-3") blocked on a
          shared queue.Queue that is fed now and then.
* churn:  short-lived threads ("short-N") that sleep 10-100 ms and exit.
* stuck:  one "config-watcher" thread blocked forever on an Event.

Standard library only; runs on Python 3.9 and newer.

Opt-in: with LEAKY_FAULTHANDLER=1 in the environment, SIGUSR1 makes faulthandler dump
every thread to stderr, fatal signals (SIGABRT, SIGSEGV) dump them too, and the main
loop writes a log line to stderr every second, so stderr holds dumps among log lines.
"""

import argparse
import concurrent.futures
import faulthandler
import os
import queue
import random
import signal
import sys
import threading
import time

work_queue = queue.Queue()
config_changed = threading.Event()  # never set
stop = threading.Event()

leaked_executors = []  # keep references so the executors are never collected


def compute(n):
    return sum(i * i for i in range(100 + n % 50))


def handle_request(n):
    """Handle one request. Bug: the executor is never shut down."""
    api_token = "sk-test-not-a-real-secret"
    request_id = "req-%06d" % n
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = executor.submit(compute, n)
    result = future.result()
    leaked_executors.append(executor)
    return request_id, len(api_token), result


def pool_worker(worker_id):
    api_token = "sk-test-not-a-real-secret"
    db_password = "hunter2-not-a-real-password"
    handled = 0
    while not stop.is_set():
        item = work_queue.get()
        if item is None:
            break
        handled += compute(item) and 1
        work_queue.task_done()
    return worker_id, handled, len(api_token) + len(db_password)


def short_task(n, duration):
    time.sleep(duration)
    return n


def watch_config(path):
    # Waits for a reload signal that never comes.
    config_changed.wait()
    return path


def request_loop(rate, max_leak):
    n = 0
    while not stop.is_set():
        if max_leak <= 0 or n < max_leak:
            handle_request(n)
            n += 1
        stop.wait(rate)


def churn_loop(interval):
    n = 0
    rng = random.Random(1234)
    while not stop.is_set():
        t = threading.Thread(
            target=short_task,
            args=(n, rng.uniform(0.01, 0.1)),
            name="short-%d" % n,
        )
        t.start()
        n += 1
        stop.wait(interval)


def feed_loop(interval):
    n = 0
    while not stop.is_set():
        work_queue.put(n)
        n += 1
        stop.wait(interval)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leak-rate", type=float, default=0.2,
                        help="seconds between requests (each leaks one thread)")
    parser.add_argument("--max-leak", type=int, default=300,
                        help="stop leaking after N requests (0 = unbounded)")
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--churn-interval", type=float, default=0.02,
                        help="seconds between short-lived threads")
    parser.add_argument("--feed-interval", type=float, default=0.5,
                        help="seconds between items put on the pool queue")
    parser.add_argument("--duration", type=float, default=0,
                        help="exit after this many seconds (0 = run forever)")
    args = parser.parse_args(argv)

    print(os.getpid(), flush=True)
    log_to_stderr = os.environ.get("LEAKY_FAULTHANDLER") == "1"
    if log_to_stderr:
        faulthandler.enable(file=sys.stderr, all_threads=True)
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)

    for i in range(args.pool_size):
        threading.Thread(target=pool_worker, args=(i,),
                         name="pool-%d" % i).start()
    threading.Thread(target=watch_config, args=("/etc/leaky/config.toml",),
                     name="config-watcher", daemon=True).start()
    threading.Thread(target=request_loop, args=(args.leak_rate, args.max_leak),
                     name="requests", daemon=True).start()
    threading.Thread(target=churn_loop, args=(args.churn_interval,),
                     name="churn", daemon=True).start()
    threading.Thread(target=feed_loop, args=(args.feed_interval,),
                     name="feeder", daemon=True).start()

    started = time.monotonic()
    ticks = 0
    try:
        while args.duration <= 0 or time.monotonic() - started < args.duration:
            time.sleep(0.5)
            ticks += 1
            if log_to_stderr and ticks % 2 == 0:
                print("%s INFO leaky: %d executors, %d threads alive"
                      % (time.strftime("%Y-%m-%dT%H:%M:%S"), len(leaked_executors),
                         threading.active_count()), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    stop.set()
    # Leaked executor workers are non-daemon and would block interpreter
    # exit; leave without joining them.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
