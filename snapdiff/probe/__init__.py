"""An in-process debug endpoint that shows every asyncio task and thread with its creation site.

Standard library only: a service adds it without pulling in anything else::

    from snapdiff import probe

    async def main():
        host, port = probe.start()        # 127.0.0.1, a free port; inside the running loop
        ...

``start()`` installs the recorders (:func:`install`) and serves one JSON document (format
``snapdiff-probe``, version 1, see docs/probe.md) at ``GET /`` and ``GET /debug/snapdiff`` from a
daemon thread, so it answers while the event loop is blocked. Read it with
``snapdiff capture http://127.0.0.1:PORT`` or any HTTP client.

Creation sites are recorded from the moment of :func:`install`: call it (or :func:`start`) from
inside the running loop, early; :func:`install_on` takes a loop explicitly. Tasks created before
are listed all the same, without a creation site or an age.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from snapdiff.probe import _hooks, _server, _snapshot
from snapdiff.probe._mount import ASGIEndpoint, ASGIMiddleware, WSGIEndpoint, WSGIMiddleware

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMAT",
    "VERSION",
    "ASGIEndpoint",
    "ASGIMiddleware",
    "WSGIEndpoint",
    "WSGIMiddleware",
    "address",
    "asgi_app",
    "install",
    "install_on",
    "snapshot",
    "snapshot_json",
    "start",
    "stop",
    "uninstall",
    "wsgi_app",
]

FORMAT = _snapshot.FORMAT
VERSION = _snapshot.VERSION
DEFAULT_MAX_BYTES = _snapshot.DEFAULT_MAX_BYTES

_endpoint: _server.Endpoint | None = None
_endpoint_lock = threading.Lock()


def install() -> asyncio.AbstractEventLoop | None:
    """Record where threads are started and, called inside a running loop, where its tasks are
    created. Returns that loop, or None when called outside one. Safe to call again."""
    _hooks.install_thread_hook()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    _hooks.install_on(loop)
    return loop


def install_on(loop: asyncio.AbstractEventLoop) -> None:
    """Record creation sites of ``loop``'s tasks (chaining to its task factory) and list them."""
    _hooks.install_thread_hook()
    _hooks.install_on(loop)


def uninstall() -> None:
    """Put back the task factories and ``Thread.start`` as they were; the loops are forgotten."""
    for loop in _hooks.known_loops():
        _hooks.uninstall_from(loop)
    _hooks.uninstall_thread_hook()


def start(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    token: str | None = None,
    allow_remote: bool = False,
    insecure: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[str, int]:
    """Install the recorders and serve the document; returns the bound (host, port).

    ``host`` must be a loopback address unless ``allow_remote``; ``allow_remote`` needs a
    ``token`` unless ``insecure`` (anyone who reaches the port would read every stack). With
    ``token``, requests need ``Authorization: Bearer TOKEN``. A document larger than
    ``max_bytes`` leaves tasks out (never made) and says how many; one document is built at a
    time, and a request that waits more than two seconds for another gets 503.
    """
    global _endpoint
    if not allow_remote and not _server.is_loopback(host):
        raise ValueError(
            f"refusing to serve the probe on {host!r}, not a loopback address; "
            "pass allow_remote=True (and a token) to expose it"
        )
    if allow_remote and not token and not insecure:
        raise ValueError(
            "refusing allow_remote=True without a token: anyone who reaches the port would "
            "read every stack of the process; pass token=..., or insecure=True on a network "
            "you trust"
        )
    install()
    with _endpoint_lock:
        if _endpoint is not None:
            bound = _endpoint.address
            raise RuntimeError(
                f"the probe already serves on {bound[0]}:{bound[1]}; stop() it first"
            )
        endpoint = _server.Endpoint(host, port, token, max_bytes)
        endpoint.start()
        _endpoint = endpoint
        return endpoint.address


def stop() -> None:
    """Stop serving and free the port (the recorders stay installed). Safe when not running."""
    global _endpoint
    with _endpoint_lock:
        endpoint, _endpoint = _endpoint, None
    if endpoint is not None:
        endpoint.stop()


def address() -> tuple[str, int] | None:
    """The (host, port) the probe serves on, or None."""
    endpoint = _endpoint
    return endpoint.address if endpoint is not None else None


def snapshot() -> dict[str, Any]:
    """The document the endpoint serves, as a dict."""
    return _snapshot.build()


def snapshot_json(max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The document the endpoint serves, as JSON bytes (for a route of your own)."""
    return _snapshot.encode(_snapshot.build(), max_bytes)


def asgi_app(*, token: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> ASGIEndpoint:
    """An ASGI app serving the document at its root and ``/debug/snapdiff``; mount it."""
    return ASGIEndpoint(token=token, max_bytes=max_bytes)


def wsgi_app(*, token: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> WSGIEndpoint:
    """A WSGI app serving the document at its root and ``/debug/snapdiff``; mount it."""
    return WSGIEndpoint(token=token, max_bytes=max_bytes)
