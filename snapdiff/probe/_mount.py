"""The same endpoint inside an existing ASGI or WSGI app, for services that cannot open a port.

These answer on the app's own server: an ASGI app answers from the event loop, so unlike
:func:`snapdiff.probe.start` it cannot answer while the loop is blocked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from snapdiff.probe import _hooks, _server, _snapshot

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

DEFAULT_PATH = "/debug/snapdiff"


def _relative(scope: Scope) -> str:
    path = str(scope.get("path") or "/")
    root = str(scope.get("root_path") or "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _install_here() -> None:
    _hooks.install_thread_hook()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    _hooks.install_on(loop)


async def _respond(
    scope: Scope, send: Send, token: str | None, max_bytes: int, paths: tuple[str, ...]
) -> None:
    _install_here()
    status = _server.route(
        str(scope.get("method", "GET")),
        _relative(scope),
        _header(scope, b"authorization"),
        token,
        paths,
    )
    body: bytes | None = None
    if status == 200:
        # Never block the loop waiting for another document: poll, then 503.
        for _ in range(int(_snapshot.WAIT_SECONDS / 0.05)):
            body = _snapshot.document(max_bytes, wait=0)
            if body is not None:
                break
            await asyncio.sleep(0.05)
        status = 200 if body is not None else 503
    if body is not None:
        headers = list(_server.JSON_HEADERS)
    else:
        body = _server.REASONS[status].encode()
        headers = _server.refusal_headers(status)
    headers.append(("Content-Length", str(len(body))))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _install_here()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class ASGIEndpoint:
    """An ASGI app serving the document at its root and at ``/debug/snapdiff`` (mount it)."""

    def __init__(
        self, *, token: str | None = None, max_bytes: int = _snapshot.DEFAULT_MAX_BYTES
    ) -> None:
        self.token = token
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] == "http":
            await _respond(scope, send, self.token, self.max_bytes, _server.PATHS)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})


class ASGIMiddleware:
    """Wraps an ASGI app: ``GET path`` (``/debug/snapdiff``) is the probe, the rest goes on.

    Works with Starlette's and FastAPI's ``app.add_middleware(ASGIMiddleware)``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str = DEFAULT_PATH,
        token: str | None = None,
        max_bytes: int = _snapshot.DEFAULT_MAX_BYTES,
    ) -> None:
        self.app = app
        self.path = path
        self.token = token
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _relative(scope) == self.path:
            await _respond(scope, send, self.token, self.max_bytes, (self.path,))
            return
        if scope["type"] == "lifespan":
            _install_here()
        await self.app(scope, receive, send)


_STATUS_LINES = {
    200: "200 OK",
    401: "401 Unauthorized",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    503: "503 Service Unavailable",
}


def _wsgi_respond(
    environ: dict[str, Any],
    start_response: StartResponse,
    token: str | None,
    max_bytes: int,
    paths: tuple[str, ...],
) -> list[bytes]:
    status = _server.route(
        str(environ.get("REQUEST_METHOD", "GET")),
        str(environ.get("PATH_INFO") or "/"),
        environ.get("HTTP_AUTHORIZATION"),
        token,
        paths,
    )
    body = _snapshot.document(max_bytes) if status == 200 else None
    if status == 200 and body is None:
        status = 503
    if body is not None:
        headers = list(_server.JSON_HEADERS)
    else:
        body = _server.REASONS[status].encode()
        headers = _server.refusal_headers(status)
    headers.append(("Content-Length", str(len(body))))
    start_response(_STATUS_LINES[status], headers)
    return [body]


class WSGIEndpoint:
    """A WSGI app serving the document at its root and at ``/debug/snapdiff`` (mount it)."""

    def __init__(
        self, *, token: str | None = None, max_bytes: int = _snapshot.DEFAULT_MAX_BYTES
    ) -> None:
        _hooks.install_thread_hook()
        self.token = token
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        return _wsgi_respond(environ, start_response, self.token, self.max_bytes, _server.PATHS)


class WSGIMiddleware:
    """Wraps a WSGI app: ``GET path`` (``/debug/snapdiff``) is the probe, the rest goes on."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        path: str = DEFAULT_PATH,
        token: str | None = None,
        max_bytes: int = _snapshot.DEFAULT_MAX_BYTES,
    ) -> None:
        _hooks.install_thread_hook()
        self.app = app
        self.path = path
        self.token = token
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (environ.get("PATH_INFO") or "/") == self.path:
            return _wsgi_respond(environ, start_response, self.token, self.max_bytes, (self.path,))
        return self.app(environ, start_response)
