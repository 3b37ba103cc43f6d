"""A real HTTP server on 127.0.0.1 for the capture tests: it serves the sample dumps and
misbehaves on purpose, one route per fault.

Everything is bounded: a route that hangs waits on the server's stop event for at most
``HANG_SECONDS``; one that trickles sends at most ``TRICKLE_BYTES``; the server refuses requests
after ``MAX_REQUESTS`` and stops by itself after ``LIFETIME_SECONDS`` even if nobody stops it.
The fixtures stop it at the end of each test.
"""

from __future__ import annotations

import gzip
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
GO_DIR = ROOT / "samples" / "go" / "dumps" / "go1.27"
PY_JSON = ROOT / "samples" / "python" / "dumps" / "py3.12" / "t1.json"

HANG_SECONDS = 15.0
TRICKLE_BYTES = 200
TRICKLE_EVERY = 0.1
MAX_REQUESTS = 200
LIFETIME_SECONDS = 120.0
BIG_LIMIT = 64 << 20
TOKEN = "s3cr3t-t0ken-value"

LOGIN_PAGE = b"""<!DOCTYPE html>
<html><head><title>Sign in - Example SSO</title></head>
<body><form method="post"><input name="user"><input type="password" name="pw"></form></body>
</html>
"""
PPROF_INDEX = b"""<html>
<head><title>/debug/pprof/</title></head>
<body>/debug/pprof/<br><a href="goroutine?debug=1">goroutine</a></body>
</html>
"""


@dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    path: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class DumpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        if tls is not None:
            # The handshake happens in the handler's thread, on its first read.
            self.socket = tls.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )
        self.scheme = "https" if tls else "http"
        self.stopping = threading.Event()
        self.seen: list[Seen] = []
        self.errors: list[str] = []
        self.dump = "t1"  # which sample the goroutine routes serve: t0 or t1
        self._lock = threading.Lock()
        self._count = 0
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> DumpServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(LIFETIME_SECONDS, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self.stopping.is_set():
                return
            self.stopping.set()
        if self._timer is not None:
            self._timer.cancel()
        self.shutdown()
        self.server_close()

    def verify_request(self, request: object, client_address: object) -> bool:
        with self._lock:
            self._count += 1
            return self._count <= MAX_REQUESTS and not self.stopping.is_set()

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        exc = sys.exc_info()[1]
        self.errors.append(f"{type(exc).__name__}: {exc}")

    def hang(self, seconds: float = HANG_SECONDS) -> None:
        self.stopping.wait(seconds)


def _go_file(name: str) -> bytes:
    return (GO_DIR / name).read_bytes()


class Handler(BaseHTTPRequestHandler):
    server: DumpServer
    protocol_version = "HTTP/1.1"
    timeout = 10  # a client that connects and sends nothing does not hold a thread for long

    def log_message(self, format: str, *args: object) -> None:
        pass

    # -- helpers

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send(status, b"", extra=(("Location", location),))

    # -- dispatch

    def do_GET(self) -> None:
        self.server.seen.append(Seen(self.path, tuple(self.headers.items())))
        path = urlsplit(self.path).path
        route = ROUTES.get(path)
        if route is None:
            self.send(404, b"404 page not found\n")
            return
        route(self)

    # -- the sample dumps

    def goroutine(self, profile: str = "goroutine") -> None:
        level = self.query.get("debug", "0")
        if level not in ("0", "1", "2"):
            self.send(400, b"this test server serves debug=0, 1 and 2 only\n")
            return
        # debug=0: the gzipped protobuf, sent as Go sends it (no Content-Encoding).
        suffix, kind = (".pb.gz", "application/octet-stream") if level == "0" else (".txt", "")
        name = f"{self.server.dump}.debug{level}{suffix}"
        if profile == "goroutineleak":
            name = f"t1.goroutineleak.debug{level}{suffix}"
        if kind:
            self.send(200, _go_file(name), kind)
        else:
            self.send(200, _go_file(name))

    def goroutineleak(self) -> None:
        self.goroutine("goroutineleak")

    def pprof_index(self) -> None:
        self.send(200, PPROF_INDEX, "text/html; charset=utf-8")

    def threads(self) -> None:
        self.send(200, PY_JSON.read_bytes(), "application/json")

    def gzipped(self) -> None:
        body = _go_file("t1.debug2.txt")
        if "gzip" in (self.headers.get("Accept-Encoding") or ""):
            zipped = gzip.compress(body, mtime=0)
            self.send(200, zipped, extra=(("Content-Encoding", "gzip"),))
        else:
            self.send(200, body)

    def auth(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            # Echoes what it got, as careless services do: the client must not repeat it.
            got = self.headers.get("Authorization") or "nothing"
            self.send(401, f"unauthorized: got {got}\n".encode())
            return
        self.send(200, _go_file("t1.debug2.txt"))

    # -- statuses and wrong content

    def status(self) -> None:
        code = int(self.query.get("code", "500"))
        self.send(code, b"database is down: connection pool exhausted\nsecond line\n")

    def login(self) -> None:
        self.send(200, LOGIN_PAGE, "text/html; charset=utf-8")

    def html_as_text(self) -> None:
        self.send(200, LOGIN_PAGE, "text/plain")

    def dump_as_html(self) -> None:
        self.send(200, _go_file("t1.debug2.txt"), "text/html")

    def empty(self) -> None:
        self.send(200, b"")

    def big(self) -> None:
        size = min(int(self.query.get("n", "1000")), BIG_LIMIT)
        line = b"goroutine 1 [running]:\nmain.main()\n\t/src/main.go:1 +0x1\n\n"
        body = (line * (size // len(line) + 1))[:size]
        if self.query.get("gzip"):
            self.send(200, gzip.compress(body, mtime=0), extra=(("Content-Encoding", "gzip"),))
        elif self.query.get("gzfile"):
            # A .gz file served as it is: gzip bytes, no Content-Encoding.
            self.send(200, gzip.compress(body, mtime=0))
        elif self.query.get("chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, size, 4096):
                part = body[start : start + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send(200, body)

    # -- redirects

    def redirect_to(self) -> None:
        self.redirect(self.query["to"])

    def loop_a(self) -> None:
        self.redirect("/loop/b")

    def loop_b(self) -> None:
        self.redirect("/loop/a")

    def chain(self) -> None:
        left = int(self.query.get("n", "0"))
        if left <= 0:
            self.redirect("/debug/pprof/goroutine?debug=2", 307)
        else:
            self.redirect(f"/chain?n={left - 1}", 301)

    # -- hangs and broken transfers

    def hang(self) -> None:
        """Reads the request, answers nothing, and holds the connection open."""
        self.server.hang()
        self.close_connection = True

    def half(self) -> None:
        """Headers, half the body, then nothing."""
        body = _go_file("t1.debug2.txt")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.server.hang()
        self.close_connection = True

    def cut(self) -> None:
        """Headers, half the body, then the connection closes (a crash)."""
        body = _go_file("t1.debug2.txt")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:1000])
        self.wfile.flush()
        self.close_connection = True

    def trickle(self) -> None:
        """A byte every TRICKLE_EVERY seconds, never faster, for at most TRICKLE_BYTES."""
        body = _go_file("t1.debug2.txt")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        for i in range(TRICKLE_BYTES):
            if self.server.stopping.wait(TRICKLE_EVERY):
                break
            try:
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
            except OSError:
                break
        self.close_connection = True

    def close(self) -> None:
        """Closes the connection without a word."""
        self.close_connection = True


ROUTES: dict[str, Callable[[Handler], None]] = {
    "/debug/pprof/goroutine": Handler.goroutine,
    "/debug/pprof/goroutineleak": Handler.goroutineleak,
    "/debug/pprof/": Handler.pprof_index,
    "/debug/threads": Handler.threads,
    "/gzip/debug/pprof/goroutine": Handler.gzipped,
    "/auth/debug/pprof/goroutine": Handler.auth,
    "/status": Handler.status,
    "/login": Handler.login,
    "/html-as-text": Handler.html_as_text,
    "/dump-as-html": Handler.dump_as_html,
    "/empty": Handler.empty,
    "/big": Handler.big,
    "/redirect": Handler.redirect_to,
    "/loop/a": Handler.loop_a,
    "/loop/b": Handler.loop_b,
    "/chain": Handler.chain,
    "/hang": Handler.hang,
    "/half": Handler.half,
    "/cut": Handler.cut,
    "/trickle": Handler.trickle,
    "/close": Handler.close,
}


@contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[DumpServer]:
    server = DumpServer(tls).start()
    try:
        yield server
    finally:
        server.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made now with openssl; skips without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not found: cannot make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
            "-addext", "extendedKeyUsage=serverAuth",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture(name="dump_server")
def dump_server_fixture() -> Iterator[DumpServer]:
    """The server on 127.0.0.1, on a port the system picked."""
    with serving() as server:
        yield server


@pytest.fixture(name="tls_cert", scope="session")
def tls_cert_fixture(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(name="tls_server")
def tls_server_fixture(tls_cert: tuple[Path, Path]) -> Iterator[DumpServer]:
    """The same server behind TLS with the self-signed certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_cert)
    with serving(context) as server:
        yield server


def wait_until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()
