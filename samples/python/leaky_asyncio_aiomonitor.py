#!/usr/bin/env python3
"""``leaky_asyncio.py`` under aiomonitor instead of the snapdiff probe.

The same order service (the same leak, churn, steady tasks and threads: it runs
``leaky_asyncio.main``), with ``aiomonitor.start_monitor(loop, hook_task_factory=True)`` in place
of ``probe.start()``: aiomonitor's task factory records each task's creation stack, and its web UI
serves the live tasks as JSON at ``POST /api/live-tasks`` (form-encoded)::

    curl -s -X POST http://HOST:PORT/api/live-tasks -d filter= -d persistent=false

Needs aiomonitor (``pip install aiomonitor``, 0.7.x was used) and CPython 3.11+. Takes the same
flags as ``leaky_asyncio.py`` (``--probe-host``/``--probe-port`` set where the web UI listens;
``--token`` is not supported: aiomonitor has no authentication). Prints ``pid N``,
``aiomonitor http://HOST:PORT`` (the web UI) and ``orders HOST:PORT``. The telnet UI gets a free
port too; aiomonitor's Python console is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import sys
from pathlib import Path
from typing import Any

import aiomonitor

sys.path.insert(0, str(Path(__file__).resolve().parent))
import leaky_asyncio

_monitor: list[Any] = []


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class AiomonitorInsteadOfProbe:
    """What ``leaky_asyncio.main`` calls as ``probe.start``/``probe.stop``."""

    @staticmethod
    def start(
        host: str = "127.0.0.1", port: int = 0, *, token: str | None = None
    ) -> tuple[str, int]:
        if token is not None:
            raise SystemExit("aiomonitor has no authentication: --token is not supported")
        webui_port = port or _free_port(host)
        monitor = aiomonitor.start_monitor(
            asyncio.get_running_loop(),
            host=host,
            port=_free_port(host),
            webui_port=webui_port,
            console_enabled=False,
            hook_task_factory=True,
        )
        _monitor.append(monitor)
        leaky_asyncio.say(f"aiomonitor http://{host}:{webui_port}")
        return host, webui_port

    @staticmethod
    def stop() -> None:
        while _monitor:
            _monitor.pop().close()


if __name__ == "__main__":
    leaky_asyncio.probe = AiomonitorInsteadOfProbe  # type: ignore[assignment]
    random.seed(1)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(leaky_asyncio.main(leaky_asyncio.parse_args()))
