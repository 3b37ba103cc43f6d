"""Capturing a dump from an HTTP debug endpoint: Go's net/http/pprof, or any URL that serves one.

Standard library only. :func:`normalise_url` turns what a user types (``host:6060``, a pprof
base) into the URL of the goroutine profile; :func:`capture_url` fetches a URL:

- one GET (a POST of a form for aiomonitor's ``/api/live-tasks``, which answers nothing else:
  see :func:`request_for`), with a timeout on connecting (``connect_timeout``, which also
  bounds the TLS handshake) and one on the whole exchange (``timeout``: connecting, redirects,
  headers and body; a server that trickles a byte a second is cut off when it runs out);
- up to 5 redirects on the same scheme, host and port; a redirect elsewhere is refused unless
  ``allow_other_hosts``, and then the credentials are not sent on;
- at most ``max_bytes`` kept (after gzip is undone); reading stops at the cap;
- ``Content-Encoding: gzip`` undone; the bytes are otherwise kept exactly as received;
- a ``user:password@`` in the URL becomes Basic authentication and leaves the URL.

Every failure is a :class:`~snapdiff.errors.CaptureError` with a one-line message that says what
happened and what to try (naming the CLI options); bad arguments are a
:class:`~snapdiff.errors.UsageError`. The token, a password and the values of credential headers
never appear in an error, in ``Captured.origin`` or in ``Captured.details``: every text that
leaves this module is scrubbed of them, including what the server sent back.

Names under ``.invalid`` are refused without a lookup (RFC 6761, section 6.4): the system
resolver would otherwise ask the network's DNS server about them.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

from snapdiff import __version__, inputs, runtimes
from snapdiff.capture import Captured, Stopwatch
from snapdiff.errors import CaptureError, InputError, UsageError

MAX_REDIRECTS = 5
READ_CHUNK = 64 * 1024
ERROR_BODY_BYTES = 4096  # read of an error response, for its first line
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers whose values are credentials: scrubbed from messages, dropped on a cross-host redirect.
_SECRET_HEADER = re.compile(r"auth|cookie|token|key|secret|session|password", re.IGNORECASE)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PPROF_BASE = re.compile(r"^(?P<prefix>.*?)(?:/debug/pprof)?/?$")
_PPROF_PROFILE = re.compile(r"/debug/pprof/(?:goroutine|goroutineleak)$")
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
# OpenSSL's reasons when the other end does not speak TLS (a plain-HTTP port).
_NOT_TLS = frozenset(
    {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST", "UNKNOWN_PROTOCOL"}
)


# -- URLs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Url:
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    target: str  # path and query: what goes on the request line
    user: tuple[str, str] | None  # from user:password@, never shown

    @classmethod
    def parse(cls, url: str) -> _Url:
        parts = urlsplit(url if "://" in url else "http://" + url)
        scheme = parts.scheme.lower()
        shown = _without_userinfo(url)
        if scheme not in ("http", "https"):
            raise UsageError(
                f"{shown}: only http:// and https:// URLs can be captured"
                " (for a file, use the file name)"
            )
        if not parts.hostname:
            raise UsageError(f"{shown}: no host in the URL (try http://127.0.0.1:6060)")
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"{shown}: not a valid port in the URL") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        user = None
        if parts.username is not None:
            user = (unquote(parts.username), unquote(parts.password or ""))
        default = 443 if scheme == "https" else 80
        return cls(scheme, parts.hostname.lower(), port or default, target, user)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def netloc(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def public(self) -> str:
        """The URL without credentials: what messages and records show."""
        return f"{self.scheme}://{self.netloc}{self.target}"

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


class HTTPStatusError(CaptureError):
    """The server answered with an error status (kept for callers that try another path)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


PROBE_PATH = "/debug/snapdiff"
# aiomonitor's web UI lists live tasks only in answer to a POST of a form (filter, persistent).
AIOMONITOR_LIVE_TASKS = "/api/live-tasks"
FORM_TYPE = "application/x-www-form-urlencoded"


def request_for(target: str) -> tuple[str, bytes]:
    """(method, body) for a request target (path and query).

    ``GET`` with no body, except for a path ending in ``/api/live-tasks`` (aiomonitor's live-task
    list, which answers GET with 405): ``POST`` of a form, empty (aiomonitor's defaults: no
    filter, every task) or the URL's query as the form (``?filter=watch&persistent=false``:
    aiomonitor reads the form of a POST, never the query).
    """
    path, _, query = target.partition("?")
    if path.rstrip("/").endswith(AIOMONITOR_LIVE_TASKS):
        return "POST", query.encode("ascii", "replace")
    return "GET", b""


def is_bare_base(url: str) -> bool:
    """``http://host:port`` or ``host:port/``: no path said what to fetch."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    return parts.path in ("", "/") and not parts.query


def capture_base(url: str, *, debug: int | None = None, **options: Any) -> Captured:
    """Capture what a URL names; a bare base means Go's goroutine profile, or, on a server
    without net/http/pprof (404), the document of a snapdiff probe at ``/debug/snapdiff``."""
    target = normalise_url(url, debug=debug)
    try:
        return capture_url(target, **options)
    except HTTPStatusError as exc:
        if exc.status != 404 or debug is not None or not is_bare_base(url):
            raise
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    probe = text.rstrip("/") + PROBE_PATH
    try:
        return capture_url(probe, **options)
    except HTTPStatusError as exc:
        if exc.status != 404:
            raise
        raise CaptureError(
            f"{_without_userinfo(text)}: neither Go's pprof (/debug/pprof/) nor a snapdiff probe "
            f"({PROBE_PATH}) answers there; give the full URL of the debug endpoint"
        ) from None


def normalise_url(url: str, *, debug: int | None = None) -> str:
    """The URL to capture from what a user typed.

    ``http://host:6060``, ``host:6060``, ``http://host:6060/``, ``.../debug/pprof`` and
    ``.../debug/pprof/`` (under any path prefix) mean the goroutine profile with full stacks:
    ``.../debug/pprof/goroutine?debug=2`` (``debug=1`` or ``0`` when asked). ``.../goroutine``
    and ``.../goroutineleak`` without ``debug=`` get ``debug=2`` too (without it Go answers the
    protobuf profile, which has counts per stack only); ``debug`` replaces the one they have.
    Any other URL is kept as given: a JSON debug endpoint, a profile with its query.
    Only http and https; anything else is a :class:`UsageError`.
    """
    if debug is not None and debug not in (0, 1, 2):
        raise UsageError(f"debug={debug}: snapdiff reads Go's debug=0, 1 and 2 profiles only")
    text = url.strip()
    if not text:
        raise UsageError("no URL given (try http://127.0.0.1:6060)")
    if "://" not in text:
        text = "http://" + text
    _Url.parse(text)  # scheme, host and port are valid
    parts = urlsplit(text)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = [v for k, v in query if k == "debug"]
    rest = [(k, v) for k, v in query if k != "debug"]
    base = _PPROF_BASE.match(parts.path)
    if base and (parts.path in ("", "/") or parts.path.rstrip("/").endswith("/debug/pprof")):
        level = str(debug) if debug is not None else (given[-1] if given else "2")
        path = base.group("prefix") + "/debug/pprof/goroutine"
    elif _PPROF_PROFILE.search(parts.path):
        if debug is None and given:
            return text
        level = str(2 if debug is None else debug)
        path = parts.path
    else:
        if debug is not None:
            raise UsageError(
                f"{_without_userinfo(text)}: debug={debug} applies to Go pprof URLs"
                " (.../debug/pprof/...); for another endpoint, put what it needs in the URL"
            )
        return text
    new_query = urlencode([("debug", level), *rest])
    return str(urlunsplit((parts.scheme.lower(), parts.netloc, path, new_query, "")))


# -- capture ----------------------------------------------------------------------------------


def capture_url(
    url: str,
    *,
    headers: Sequence[tuple[str, str]] = (),
    token: str | None = None,
    connect_timeout: float = 5.0,
    timeout: float = 60.0,
    max_bytes: int = 256 << 20,
    follow_redirects: bool = True,
    allow_other_hosts: bool = False,
) -> Captured:
    """GET ``url`` (as given: see :func:`normalise_url`) and return the body as received;
    a URL whose path ends in ``/api/live-tasks`` is POSTed a form instead (:func:`request_for`).

    ``token`` is sent as ``Authorization: Bearer ...``. ``details`` records ``http_status``,
    ``bytes`` (kept), ``content_type``, ``url`` (the final URL, after redirects), and when they
    apply ``content_encoding``, ``bytes_on_wire`` and ``redirects``.
    """
    if connect_timeout <= 0 or timeout <= 0:
        raise UsageError("timeouts must be positive numbers of seconds")
    if max_bytes <= 0:
        raise UsageError("--max-bytes must be a positive number of bytes")
    start = _Url.parse(url)
    fetch = _Fetch(
        start,
        _request_headers(start, headers, token),
        _secrets(start, headers, token),
        connect_timeout=connect_timeout,
        timeout=timeout,
        max_bytes=max_bytes,
    )
    watch = Stopwatch()
    current = start
    seen = [start.public]
    while True:
        result = fetch.once(current)
        if isinstance(result, _Body):
            break
        nxt = result.location
        if not follow_redirects:
            raise fetch.error(
                f"HTTP {result.status} from {current.public} redirects to {nxt.public},"
                " and redirects are off: capture that URL directly"
            )
        if nxt.key != start.key and not allow_other_hosts:
            raise fetch.error(
                f"{current.public} redirects to {_elsewhere(start, nxt)} ({nxt.public}): refused,"
                " it could take the request and its credentials to a server you did not name;"
                " capture that URL directly, or allow it with --allow-other-hosts"
            )
        if nxt.public in seen:
            raise fetch.error(
                f"redirect loop: {current.public} leads back to {nxt.public}"
                f" after {len(seen) - 1} redirect{'s' if len(seen) > 2 else ''};"
                " check the URL (or the proxy in front)"
            )
        if len(seen) > MAX_REDIRECTS:
            raise fetch.error(
                f"more than {MAX_REDIRECTS} redirects from {start.public}"
                f" (the last to {nxt.public}); check the URL (or the proxy in front)"
            )
        seen.append(nxt.public)
        current = nxt
    details: list[tuple[str, str]] = [
        ("http_status", str(result.status)),
        ("bytes", str(len(result.data))),
        ("content_type", result.content_type),
        ("url", current.public),
    ]
    if result.encoding:
        details += [("content_encoding", result.encoding), ("bytes_on_wire", str(result.wire))]
    if len(seen) > 1:
        details.append(("redirects", str(len(seen) - 1)))
    return Captured(
        data=result.data,
        origin=fetch.scrub(start.public),
        captured_at=watch.started_at,
        duration_seconds=watch.elapsed(),
        tool="http",
        source_hint=None,
        host=start.host,
        details=tuple((k, fetch.scrub(v)) for k, v in details),
    )


def _elsewhere(start: _Url, nxt: _Url) -> str:
    if nxt.host != start.host:
        return f"another host, {nxt.hostport}"
    if nxt.scheme != start.scheme:
        return f"{nxt.scheme} instead of {start.scheme}"
    return f"another port, {nxt.port}"


def _request_headers(
    start: _Url, headers: Sequence[tuple[str, str]], token: str | None
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in headers:
        if not _HEADER_NAME.fullmatch(name):
            raise UsageError(f"not a valid header name: {name!r} (expected 'Name: value')")
        if any(c in value for c in "\r\n\0"):
            raise UsageError(f"the value of header {name} holds a line break")
        out.append((name, value.strip()))
    names = {n.lower() for n, _ in out}
    if token is not None:
        token = token.strip()
        if not token:
            raise UsageError("the token is empty; check the file or variable it comes from")
        if any(ord(c) < 33 or ord(c) == 127 for c in token):
            raise UsageError(
                "the token holds a space, line break or control character;"
                " check the file or variable it comes from"
            )
        if "authorization" in names:
            raise UsageError("give either a token or an Authorization header, not both")
        out.append(("Authorization", f"Bearer {token}"))
    elif start.user is not None and "authorization" not in names:
        pair = f"{start.user[0]}:{start.user[1]}".encode()
        out.append(("Authorization", "Basic " + base64.b64encode(pair).decode("ascii")))
    names = {n.lower() for n, _ in out}
    if "user-agent" not in names:
        out.append(("User-Agent", f"snapdiff/{__version__}"))
    if "accept-encoding" not in names:
        out.append(("Accept-Encoding", "gzip"))
    out.append(("Connection", "close"))
    return out


def _secrets(start: _Url, headers: Sequence[tuple[str, str]], token: str | None) -> list[str]:
    found: list[str] = []
    if token and token.strip():
        found.append(token.strip())
    if start.user is not None:
        found.append(start.user[1])
        pair = f"{start.user[0]}:{start.user[1]}".encode()
        found.append(base64.b64encode(pair).decode("ascii"))
    for name, value in headers:
        if _SECRET_HEADER.search(name):
            value = value.strip()
            found.append(value)
            found.extend(value.split(None, 1)[1:])  # the credential after "Bearer "/"Basic "
    # Longest first, so that a secret containing another is scrubbed whole.
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


@dataclass(frozen=True, slots=True)
class _Body:
    status: int
    data: bytes
    content_type: str
    encoding: str  # "" when the body came as it is
    wire: int  # bytes received (before gzip was undone)


@dataclass(frozen=True, slots=True)
class _Redirect:
    status: int
    location: _Url


class _Watchdog:
    """Shuts the socket down when the whole-transfer deadline passes, so that no read (even
    one that keeps getting a byte just before its own timeout) outlives it."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = threading.Event()
        self._sock = sock
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired.set()
        with contextlib.suppress(OSError):
            # The plain socket's shutdown: SSLSocket.shutdown would also drop its TLS state
            # under the reading thread.
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


class _Fetch:
    """One capture: the deadline, the credentials to send and to scrub, the size cap."""

    def __init__(
        self,
        start: _Url,
        headers: list[tuple[str, str]],
        secrets: list[str],
        *,
        connect_timeout: float,
        timeout: float,
        max_bytes: int,
    ) -> None:
        self.start = start
        self.headers = headers
        self.secrets = secrets
        self.connect_timeout = connect_timeout
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.deadline = time.monotonic() + timeout

    # -- messages

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def error(self, message: str, status: int | None = None) -> CaptureError:
        """The error to raise: one line, scrubbed of every credential."""
        text = " ".join(self.scrub(message).split())
        return HTTPStatusError(text, status) if status is not None else CaptureError(text)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def _timed_out(self, url: _Url, what: str) -> CaptureError:
        return self.error(
            f"{what} within {self.timeout:g}s (--timeout) from {url.hostport}:"
            " the service may be stuck or overloaded; try again, or raise --timeout"
        )

    # -- one request

    def once(self, url: _Url) -> _Body | _Redirect:
        headers = self.headers
        if url.key != self.start.key:  # allowed elsewhere: the credentials stay here
            headers = [(n, v) for n, v in headers if not _SECRET_HEADER.search(n)]
        sock = self._connect(url)
        dog = _Watchdog(sock, self.left())
        try:
            return self._exchange(url, sock, headers, dog)
        finally:
            dog.cancel()
            with contextlib.suppress(OSError):
                sock.close()

    def _connect(self, url: _Url) -> socket.socket:
        if url.host == "invalid" or url.host.endswith(".invalid"):
            raise self.error(
                f"cannot resolve host {url.host!r}: the .invalid domain never exists"
                " (RFC 6761); check the host name in the URL"
            )
        wait = min(self.connect_timeout, self.left())
        if wait <= 0:
            raise self._timed_out(url, "no answer")
        try:
            sock = socket.create_connection((url.host, url.port), timeout=wait)
        except socket.gaierror as exc:
            raise self.error(
                f"cannot resolve host {url.host!r}: {exc.strerror or exc};"
                " check the host name in the URL"
            ) from None
        except ConnectionRefusedError:
            raise self.error(
                f"connection refused by {url.hostport}: nothing listens on that port;"
                " is the service running, and is the port right?"
            ) from None
        except TimeoutError:
            raise self.error(
                f"no connection to {url.hostport} within {wait:g}s (--connect-timeout):"
                " is the host up, the port right, or does a firewall drop the packets?"
            ) from None
        except OSError as exc:
            raise self.error(f"cannot connect to {url.hostport}: {exc.strerror or exc}") from None
        if url.scheme == "https":
            sock = self._tls(url, sock)
        return sock

    def _tls(self, url: _Url, sock: socket.socket) -> socket.socket:
        plain = f"http://{url.netloc}{url.target}"
        context = ssl.create_default_context()
        wait = max(min(self.connect_timeout, self.left()), 0.001)
        try:
            sock.settimeout(wait)
            return context.wrap_socket(sock, server_hostname=url.host)
        except ssl.SSLCertVerificationError as exc:
            reason = str(exc.verify_message or exc.reason or "verification failed").rstrip(".")
            raise self.error(
                f"TLS error from {url.hostport}: its certificate is not trusted ({reason});"
                " if a private CA signed it, point SSL_CERT_FILE at that CA's certificate"
            ) from None
        except TimeoutError:
            raise self.error(
                f"TLS handshake with {url.hostport} timed out after {wait:g}s"
                f" (--connect-timeout): is it really https? try {plain}"
            ) from None
        except (ssl.SSLError, ConnectionError) as exc:
            code = str(getattr(exc, "reason", None) or "")
            text = code.lower().replace("_", " ") if code else type(exc).__name__
            if isinstance(exc, ConnectionError | ssl.SSLEOFError) or code in _NOT_TLS:
                raise self.error(
                    f"TLS error from {url.hostport}: the handshake failed ({text});"
                    f" the port may serve plain HTTP: try {plain}"
                ) from None
            raise self.error(
                f"TLS error from {url.hostport}: the handshake failed ({text})"
            ) from None
        except OSError as exc:
            sock.close()
            raise self.error(f"TLS error from {url.hostport}: {exc.strerror or exc}") from None

    def _exchange(
        self, url: _Url, sock: socket.socket, headers: list[tuple[str, str]], dog: _Watchdog
    ) -> _Body | _Redirect:
        cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = cls(url.host, url.port)
        conn.sock = sock  # connected above, with our own errors
        names = {n.lower() for n, _ in headers}
        try:
            method, body = request_for(url.target)
            conn.putrequest(
                method, url.target, skip_host="host" in names, skip_accept_encoding=True
            )
            for name, value in headers:
                conn.putheader(name, value)
            if method == "POST":
                if "content-type" not in names:
                    conn.putheader("Content-Type", FORM_TYPE)
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
        except http.client.InvalidURL:
            raise self.error(
                f"{url.public}: the path holds characters that cannot be sent"
            ) from None
        except OSError as exc:
            if dog.fired.is_set():
                raise self._timed_out(url, "could not send the request") from None
            raise self.error(
                f"{url.hostport} closed the connection while the request was sent"
                f" ({exc.strerror or type(exc).__name__}); try again"
            ) from None
        try:
            sock.settimeout(max(self.left(), 0.001))
            resp = conn.getresponse()
        except TimeoutError:
            raise self._timed_out(url, "accepted the connection but sent no response") from None
        except http.client.BadStatusLine as exc:
            if dog.fired.is_set():
                raise self._timed_out(url, "accepted the connection but sent no response") from None
            hint = (
                f" (if it serves https, use https://{url.netloc})" if url.scheme == "http" else ""
            )
            if isinstance(exc, http.client.RemoteDisconnected):
                raise self.error(
                    f"{url.hostport} closed the connection without answering:"
                    f" is it an HTTP server{hint}? try again"
                ) from None
            first = str(exc.args[0] if exc.args else exc)[:60]
            raise self.error(
                f"{url.hostport} did not answer in HTTP (it sent {first!r}): is it an HTTP"
                f" server{hint}?"
            ) from None
        except (http.client.HTTPException, OSError) as exc:
            if dog.fired.is_set():
                raise self._timed_out(url, "accepted the connection but sent no response") from None
            raise self.error(f"reading the response from {url.hostport} failed: {exc}") from None
        with contextlib.closing(resp):
            return self._response(url, sock, resp, dog)

    def _response(
        self, url: _Url, sock: socket.socket, resp: http.client.HTTPResponse, dog: _Watchdog
    ) -> _Body | _Redirect:
        status = resp.status
        phrase = _phrase(status, resp.reason)
        if status in REDIRECT_STATUSES:
            location = resp.getheader("Location")
            if not location:
                raise self.error(f"HTTP {status} {phrase} from {url.public} without a Location")
            try:
                return _Redirect(status, _Url.parse(urljoin(url.public, location.strip())))
            except UsageError:
                shown = _without_userinfo(location.strip())[:200]
                raise self.error(
                    f"{url.public} redirects to {shown!r}, which cannot be captured"
                    " (only http:// and https://)"
                ) from None
        if not 200 <= status < 300:
            raise self._status_error(url, sock, resp, status, phrase)
        data, encoding, wire = self._read_body(url, sock, resp, dog)
        content_type = (resp.getheader("Content-Type") or "").strip()
        if not data:
            raise self.error(
                f"HTTP {status} {phrase} from {url.public} with an empty body: no dump in it;"
                " check the URL"
            )
        if _is_html(data, content_type):
            title = _title(data)
            raise self.error(
                f"got an HTML page, not a dump (a login page or proxy?) from {url.public}"
                f" (HTTP {status}{', title ' + repr(title) if title else ''}):"
                " check the URL; if the endpoint needs credentials, pass --header or --token-env"
            )
        return _Body(status, data, content_type, encoding, wire)

    def _status_error(
        self,
        url: _Url,
        sock: socket.socket,
        resp: http.client.HTTPResponse,
        status: int,
        phrase: str,
    ) -> CaptureError:
        said = _first_line(self._peek(sock, resp))
        quoted = f": {said!r}" if said else ""
        if status in (401, 403):
            why = "needs credentials" if status == 401 else "refused the credentials, or needs some"
            return self.error(
                f"HTTP {status} {phrase} from {url.public}{quoted}: the endpoint {why};"
                " pass them with --header 'Name: value' or --token-env (--token-file)"
            )
        if status == 404:
            return self.error(
                f"HTTP 404 {phrase}: no {url.path} on {url.hostport}{quoted}; check the path"
                " (for Go, net/http/pprof may not be registered on this port:"
                ' import _ "net/http/pprof" and serve http.DefaultServeMux)',
                status,
            )
        if status >= 500:
            return self.error(
                f"HTTP {status} {phrase} from {url.public}{quoted}: the service failed to"
                " answer; try again, and look at its logs"
            )
        return self.error(
            f"HTTP {status} {phrase} from {url.public}{quoted}: not a dump; check the URL"
        )

    def _peek(self, sock: socket.socket, resp: http.client.HTTPResponse) -> bytes:
        """The start of an error body, as far as the deadline allows (best effort)."""
        left = self.left()
        if left <= 0:
            return b""
        try:
            sock.settimeout(min(left, 1.0))
            return resp.read(ERROR_BODY_BYTES)
        except (http.client.HTTPException, OSError, ValueError):
            return b""

    def _read_body(
        self, url: _Url, sock: socket.socket, resp: http.client.HTTPResponse, dog: _Watchdog
    ) -> tuple[bytes, str, int]:
        encoding = (resp.getheader("Content-Encoding") or "").strip().lower()
        decoder: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(wbits=31)
        elif encoding == "deflate":
            decoder = zlib.decompressobj(wbits=47)  # zlib or gzip header, detected
        elif encoding in ("", "identity"):
            encoding = ""
        else:
            raise self.error(
                f"{url.public} sent the body as Content-Encoding {encoding!r}, which snapdiff"
                " does not decode (it asks for gzip or nothing); try a --header"
                " 'Accept-Encoding: identity'"
            )
        announced = resp.length  # Content-Length, None when chunked or until close
        if announced is not None and announced > self.max_bytes and decoder is None:
            raise self._too_big(url, 0, f"it announces {announced:,} bytes")
        parts: list[bytes] = []
        kept = wire = 0
        last = time.monotonic()
        while True:
            left = self.left()
            try:
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                # Never more than one byte past the cap: reading stops there.
                room = self.max_bytes - (wire if decoder is not None else kept) + 1
                chunk = resp.read1(max(min(READ_CHUNK, room), 1))
            except TimeoutError:
                raise self._mid_body(url, wire, announced, last) from None
            except http.client.IncompleteRead:
                if dog.fired.is_set():
                    raise self._mid_body(url, wire, announced, last) from None
                raise self.error(
                    f"{url.hostport} closed the connection after {wire:,} bytes of the (chunked)"
                    " body, before its end: the service may have crashed or restarted; try again"
                ) from None
            except (http.client.HTTPException, OSError, ValueError) as exc:
                if dog.fired.is_set():
                    raise self._mid_body(url, wire, announced, last) from None
                raise self.error(
                    f"the transfer from {url.hostport} failed after {wire:,} bytes of the body"
                    f" ({exc or type(exc).__name__}); try again"
                ) from None
            if not chunk:
                break
            last = time.monotonic()
            wire += len(chunk)
            if decoder is not None:
                try:
                    chunk = decoder.decompress(chunk, self.max_bytes - kept + 1)
                except zlib.error as exc:
                    raise self.error(
                        f"{url.public}: the {encoding} body is damaged ({exc}); try again,"
                        " or ask for it plain with --header 'Accept-Encoding: identity'"
                    ) from None
                if decoder.unconsumed_tail or wire > self.max_bytes:
                    raise self._too_big(url, wire, "more than that once gzip is undone")
            kept += len(chunk)
            if kept > self.max_bytes:
                raise self._too_big(url, wire, f"{kept:,} bytes so far")
            parts.append(chunk)
        if dog.fired.is_set() or self.left() <= 0:  # a body that ends with the connection
            raise self._mid_body(url, wire, announced, last)
        if announced is not None and wire < announced:
            raise self.error(
                f"{url.hostport} closed the connection after {wire:,} of {announced:,} bytes of"
                " the body: the service may have crashed or restarted; try again"
            )
        if decoder is not None and not decoder.eof:
            raise self.error(
                f"{url.public}: the {encoding} body stops after {wire:,} bytes, before its end;"
                " the transfer was cut: try again"
            )
        body = b"".join(parts)
        if body[:2] == inputs.GZIP_MAGIC:
            # A body that is itself gzip (a .gz file served as it is, no Content-Encoding):
            # the cap holds for what it decompresses to as well (one pass, nothing kept).
            try:
                for _ in inputs.gunzip_pieces(body, url.public, limit=self.max_bytes):
                    pass
            except inputs.TooBig:
                raise self._too_big(
                    url, wire, "more than that once its gzip data is undone"
                ) from None
            except InputError:
                pass  # damaged gzip: the reader says so
        return body, encoding, wire

    def _mid_body(self, url: _Url, wire: int, announced: int | None, last: float) -> CaptureError:
        got = f"{wire:,} bytes of the body" + (
            f" (of {announced:,} announced)" if announced is not None else ""
        )
        idle = time.monotonic() - last
        if wire and idle < min(1.0, self.timeout / 3):
            why = f"it was still sending, too slowly ({wire / self.timeout:,.0f} bytes/s)"
        else:
            why = f"nothing more came for {idle:.1f}s: the server hangs mid-body"
        return self.error(
            f"timed out after {self.timeout:g}s (--timeout) with {got} received from"
            f" {url.hostport}; {why}; try again, or raise --timeout"
        )

    def _too_big(self, url: _Url, wire: int, how: str) -> CaptureError:
        return self.error(
            f"{url.public}: the response is bigger than the cap of {_size(self.max_bytes)}"
            f" (--max-bytes {self.max_bytes}; {how}); stopped reading after {wire:,} bytes:"
            " raise --max-bytes if the dump is really that big"
        )


def _phrase(status: int, reason: str) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return " ".join(reason.split())[:40]


def _is_html(data: bytes, content_type: str) -> bool:
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html")):
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("text/html", "application/xhtml+xml"):
        # Only when no reader knows it: a dump served with the wrong type is still a dump.
        return runtimes.detect(data[: runtimes.SNIFF_BYTES]) is None
    return False


def _title(data: bytes) -> str:
    found = _TITLE.search(data[:65536])
    if not found:
        return ""
    text = " ".join(found.group(1).decode("utf-8", "replace").split())
    return text[:80]


def _first_line(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    if "<" in text and ">" in text:
        title = _title(body)
        if title:
            return title
        text = _TAG.sub("\n", text)
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line[:160]
    return ""


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:,.1f}".removesuffix(".0") + f" {unit}"
    return f"{n:,} bytes"
