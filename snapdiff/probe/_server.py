"""The HTTP endpoint: a ThreadingHTTPServer in a daemon thread, one JSON document, nothing else.

It never touches the event loop, so it answers while the loop is blocked or wedged.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from snapdiff.probe import _snapshot

PATHS = ("/", "/debug/snapdiff", "/debug/snapdiff/")


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )


def check_token(header: str | None, token: str | None) -> bool:
    if token is None:
        return True
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())


def route(
    method: str,
    path: str,
    authorization: str | None,
    token: str | None,
    paths: tuple[str, ...] = PATHS,
) -> int:
    """The status a request gets before any work is done: 200, 401, 404 or 405."""
    if path.split("?", 1)[0] not in paths:
        return 404
    if method != "GET":
        return 405
    if not check_token(authorization, token):
        return 401
    return 200


REASONS = {
    401: "401 unauthorized\n",
    404: "404 not found\n",
    405: "405 method not allowed\n",
    503: "503 busy: another snapshot is being built; retry in a second\n",
}
JSON_HEADERS = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))


def refusal_headers(status: int) -> list[tuple[str, str]]:
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    if status == 401:
        headers.append(("WWW-Authenticate", 'Bearer realm="snapdiff-probe"'))
    if status == 405:
        headers.append(("Allow", "GET"))
    if status == 503:
        headers.append(("Retry-After", "1"))
    return headers


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "snapdiff-probe"
    timeout = 30  # an idle connection is dropped after this many seconds
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer()

    def __getattr__(self, name: str) -> Any:
        # Every other method (POST, HEAD, PUT, OPTIONS, BREW...) gets 404 or 405.
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def _answer(self) -> None:
        status = route(
            self.command, self.path, self.headers.get("Authorization"), self.server.token
        )
        if status != 200:
            self._plain(status)
            return
        body = _snapshot.document(self.server.max_bytes)
        if body is None:
            self._plain(503)
            return
        self.send_response(200)
        for name, value in JSON_HEADERS:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _plain(self, status: int) -> None:
        body = REASONS[status].encode()
        self.send_response(status)
        for name, value in refusal_headers(status):
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a service's stderr is not ours to write on


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    token: str | None = None
    max_bytes: int = _snapshot.DEFAULT_MAX_BYTES

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closes early (or any other failure of one connection) ends that
        # connection only: the service's stderr is not ours to print a traceback on.
        pass

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # The thread serving a connection is the probe's: snapshots leave it out.
        ident = threading.get_ident()
        _snapshot.probe_threads.add(ident)
        try:
            super().process_request_thread(request, client_address)
        finally:
            _snapshot.probe_threads.discard(ident)


class _Server6(_Server):
    address_family = socket.AF_INET6


class Endpoint:
    """A running endpoint: the server and its thread."""

    def __init__(self, host: str, port: int, token: str | None, max_bytes: int) -> None:
        cls = _Server6 if ":" in host else _Server
        self.server = cls((host.strip("[]"), port), _Handler)
        self.server.token = token
        self.server.max_bytes = max_bytes
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="snapdiff-probe",
            daemon=True,
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self.thread.start()
        if self.thread.ident is not None:
            _snapshot.probe_threads.add(self.thread.ident)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        if self.thread.ident is not None:
            _snapshot.probe_threads.discard(self.thread.ident)
