#!/usr/bin/env python3
"""A service whose threads are named per session and per connection, leaking one of them.

Real services name threads after what they serve: ``session-<uuid>``, ``conn-<hex>``. Each
name is then unique, and a leak spreads over as many names as threads. Three kinds run:

* leak:   every 50 ms a session opens a thread ``session-<uuid4>`` that waits for a close
          that never comes.
* churn:  every 20 ms a connection thread ``conn-<8 hex digits>`` answers and exits.
* pool:   four workers ``worker-<8 hex digits>`` wait on a shared queue.

Standard library only; runs on Python 3.9 and newer. Prints its pid on the first line.
"""

import queue
import secrets
import threading
import time
import uuid

jobs: "queue.Queue[int]" = queue.Queue()
closed = threading.Event()  # never set: sessions are never closed


def session() -> None:
    closed.wait()


def connection() -> None:
    time.sleep(0.005)


def worker() -> None:
    while True:
        jobs.get()


def main() -> None:
    import os

    print(os.getpid(), flush=True)
    for _ in range(4):
        threading.Thread(target=worker, name=f"worker-{secrets.token_hex(4)}", daemon=True).start()
    tick = 0
    while True:
        time.sleep(0.02)
        tick += 1
        threading.Thread(
            target=connection, name=f"conn-{secrets.token_hex(4)}", daemon=True
        ).start()
        if tick % 3 == 0:
            threading.Thread(target=session, name=f"session-{uuid.uuid4()}", daemon=True).start()
        if tick % 50 == 0:
            jobs.put(tick)


if __name__ == "__main__":
    main()
