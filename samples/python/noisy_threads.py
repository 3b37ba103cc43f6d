#!/usr/bin/env python3
"""A self-driving service whose thread counts move without leaking (and, optionally, a slow leak).

It exists to produce real series of thread dumps that two snapshots misjudge. Threads:

* burst:      on SIGUSR1, "burst-N" threads (--burst-size, 40) start at once, each waits
              --burst-life seconds (4) and exits: a transient spike.
* churn:      "req-N" threads that live 0.5-1.5 s each; they are started ever faster
              (the rate grows by --ramp per second), so the number alive at any moment ends
              several times higher than it started, although no thread lives long.
* pool:       a fixed pool of "pool-N" threads blocked on a queue that is fed now and then.
* stuck:      one "config-watcher" thread blocked forever on an Event.
* slow leak:  with --leak-every S, a "subscriber-N" thread every S seconds that waits forever on
              a queue nobody writes to (off by default).

Prints its pid on the first line of stdout. Standard library only; Python 3.9 and newer.
"""

import argparse
import os
import queue
import random
import signal
import sys
import threading
import time

stop = threading.Event()
never = threading.Event()  # never set
work = queue.Queue()
bursts = []  # SIGUSR1 -> the main loop starts a burst


def handle_request(n, duration):
    time.sleep(duration)
    return n


def burst_task(n, life):
    stop.wait(life)
    return n


def pool_worker(worker_id):
    while not stop.is_set():
        item = work.get()
        if item is None:
            break
    return worker_id


def watch_config(path):
    never.wait()
    return path


def subscribe(topic):
    # Bug on purpose: the subscription queue is never written to nor closed.
    inbox = queue.Queue()
    inbox.get()
    return topic


def churn_loop(base_rate, ramp):
    rng = random.Random(42)
    started = time.monotonic()
    n = 0
    while not stop.is_set():
        rate = base_rate + ramp * (time.monotonic() - started)  # threads per second
        threading.Thread(
            target=handle_request, args=(n, rng.uniform(0.5, 1.5)), name="req-%d" % n
        ).start()
        n += 1
        stop.wait(1.0 / rate)


def leak_loop(every):
    n = 0
    while not stop.wait(every):
        threading.Thread(target=subscribe, args=("topic-%d" % n,), name="subscriber-%d" % n,
                         daemon=True).start()
        n += 1


def feed_loop(interval):
    n = 0
    while not stop.wait(interval):
        work.put(n)
        n += 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst-size", type=int, default=40)
    parser.add_argument("--burst-life", type=float, default=4.0,
                        help="seconds each burst thread lives")
    parser.add_argument("--churn-rate", type=float, default=4.0,
                        help="request threads started per second at first")
    parser.add_argument("--ramp", type=float, default=0.4,
                        help="growth of the request rate per second of run time")
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--leak-every", type=float, default=0,
                        help="seconds between leaked subscriber threads (0 = no leak)")
    parser.add_argument("--duration", type=float, default=0,
                        help="exit after this many seconds (0 = run until killed)")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGUSR1, lambda signum, frame: bursts.append(time.monotonic()))
    print(os.getpid(), flush=True)

    for i in range(args.pool_size):
        threading.Thread(target=pool_worker, args=(i,), name="pool-%d" % i, daemon=True).start()
    threading.Thread(target=watch_config, args=("/etc/noisy/config.toml",),
                     name="config-watcher", daemon=True).start()
    threading.Thread(target=churn_loop, args=(args.churn_rate, args.ramp),
                     name="churn", daemon=True).start()
    threading.Thread(target=feed_loop, args=(2.0,), name="feeder", daemon=True).start()
    if args.leak_every > 0:
        threading.Thread(target=leak_loop, args=(args.leak_every,), name="leaker",
                         daemon=True).start()

    started = time.monotonic()
    burst_no = 0
    try:
        while args.duration <= 0 or time.monotonic() - started < args.duration:
            while bursts:
                bursts.pop()
                for _ in range(args.burst_size):
                    threading.Thread(target=burst_task, args=(burst_no, args.burst_life),
                                     name="burst-%d" % burst_no, daemon=True).start()
                    burst_no += 1
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    stop.set()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
