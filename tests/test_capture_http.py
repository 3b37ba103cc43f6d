"""Capturing over HTTP from a real server on 127.0.0.1: the sample dumps, and every fault caused
for real (a closed port, a name that cannot resolve, TLS, hangs, cut bodies, statuses, HTML,
sizes, redirects). Only loopback addresses are ever contacted."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest

from snapdiff.capture import Captured, to_snapshot
from snapdiff.capture.http import capture_url, normalise_url
from snapdiff.errors import CaptureError, ExitCode, UsageError
from snapdiff.inputs import load
from snapdiff.model import Snapshot
from tests.httpserver import (
    GO_DIR,
    PY_JSON,
    TOKEN,
    DumpServer,
    closed_port,
    dump_server_fixture,  # noqa: F401  (the dump_server fixture)
    tls_cert_fixture,  # noqa: F401  (the tls_cert fixture)
    tls_server_fixture,  # noqa: F401  (the tls_server fixture)
)


def fails(call: Callable[[], object], *, within: float = 10.0) -> str:
    """The CaptureError message of ``call``; checks it is one line and came in time."""
    t0 = time.monotonic()
    with pytest.raises(CaptureError) as info:
        call()
    took = time.monotonic() - t0
    assert took < within, f"took {took:.1f}s"
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert info.value.exit_code == ExitCode.CAPTURE_FAILED
    return message


# -- normalise_url ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://host:6060", "http://host:6060/debug/pprof/goroutine?debug=2"),
        ("host:6060", "http://host:6060/debug/pprof/goroutine?debug=2"),
        ("127.0.0.1:6060", "http://127.0.0.1:6060/debug/pprof/goroutine?debug=2"),
        ("http://host:6060/", "http://host:6060/debug/pprof/goroutine?debug=2"),
        ("http://host:6060/debug/pprof", "http://host:6060/debug/pprof/goroutine?debug=2"),
        ("http://host:6060/debug/pprof/", "http://host:6060/debug/pprof/goroutine?debug=2"),
        ("HTTPS://host/debug/pprof/", "https://host/debug/pprof/goroutine?debug=2"),
        ("http://host/svc/debug/pprof/", "http://host/svc/debug/pprof/goroutine?debug=2"),
        ("[::1]:6060", "http://[::1]:6060/debug/pprof/goroutine?debug=2"),
        # Without debug= Go answers a binary profile: debug=2 is added.
        (
            "http://host:6060/debug/pprof/goroutine",
            "http://host:6060/debug/pprof/goroutine?debug=2",
        ),
        # Kept as given.
        (
            "http://host:6060/debug/pprof/goroutine?debug=1",
            "http://host:6060/debug/pprof/goroutine?debug=1",
        ),
        (
            "http://host:6060/debug/pprof/goroutineleak?debug=2",
            "http://host:6060/debug/pprof/goroutineleak?debug=2",
        ),
        ("http://host:8000/debug/threads", "http://host:8000/debug/threads"),
        ("http://host:8000/debug/threads?fmt=json", "http://host:8000/debug/threads?fmt=json"),
    ],
)
def test_normalise_url(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://host:6060", "http://host:6060/debug/pprof/goroutine?debug=1"),
        ("host:6060/debug/pprof/", "http://host:6060/debug/pprof/goroutine?debug=1"),
        (
            "http://host:6060/debug/pprof/goroutine?debug=2",
            "http://host:6060/debug/pprof/goroutine?debug=1",
        ),
    ],
)
def test_normalise_url_debug_1_when_asked(given: str, expected: str) -> None:
    assert normalise_url(given, debug=1) == expected


@pytest.mark.parametrize(
    ("given", "debug", "says"),
    [
        ("ftp://host/dump.txt", None, "only http:// and https:// URLs can be captured"),
        ("file:///tmp/dump.txt", None, "only http:// and https:// URLs can be captured"),
        ("http://", None, "no host in the URL"),
        ("http://host:port/", None, "not a valid port"),
        ("", None, "no URL given"),
        ("http://host:6060", 3, "debug=3: snapdiff reads Go's debug=0, 1 and 2"),
        ("http://host:8000/debug/threads", 1, "debug=1 applies to Go pprof URLs"),
    ],
)
def test_normalise_url_refuses(given: str, debug: int | None, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        normalise_url(given, debug=debug)


def test_normalise_url_never_shows_a_password() -> None:
    with pytest.raises(UsageError) as info:
        normalise_url("ftp://user:hunter22@host/x")
    assert "hunter22" not in str(info.value)


# -- successful captures ------------------------------------------------------------------------


def counts(snap: Snapshot) -> tuple[int, int]:
    tasks = snap.tasks
    return len(tasks), sum(t.count for t in tasks)


@pytest.mark.parametrize("form", ["{base}", "{base}/debug/pprof/", "127.0.0.1:{port}"])
def test_capture_go_debug2_from_a_base_url(dump_server: DumpServer, form: str) -> None:
    url = normalise_url(form.format(base=dump_server.base, port=dump_server.port))
    captured = capture_url(url)
    expected = (GO_DIR / "t1.debug2.txt").read_bytes()
    assert captured.data == expected
    assert captured.origin == f"{dump_server.base}/debug/pprof/goroutine?debug=2"
    assert captured.host == "127.0.0.1"
    assert captured.tool == "http"
    assert captured.source_hint is None
    assert 0 <= captured.duration_seconds < 5
    assert captured.captured_at.endswith("Z")
    details = dict(captured.details)
    assert details["http_status"] == "200"
    assert details["bytes"] == str(len(expected))
    assert details["content_type"] == "text/plain; charset=utf-8"
    assert details["url"] == captured.origin
    snap = to_snapshot(captured)
    assert counts(snap) == counts(load(str(GO_DIR / "t1.debug2.txt")))
    assert snap.source.origin == captured.origin
    assert snap.source.host == "127.0.0.1"
    assert ("http_status", "200") in snap.source.capture
    assert ("tool", "http") in snap.source.capture


def test_capture_go_debug1(dump_server: DumpServer) -> None:
    captured = capture_url(normalise_url(dump_server.base, debug=1))
    assert captured.data == (GO_DIR / "t1.debug1.txt").read_bytes()
    snap = to_snapshot(captured)
    assert snap.source.format == load(str(GO_DIR / "t1.debug1.txt")).source.format
    assert counts(snap) == counts(load(str(GO_DIR / "t1.debug1.txt")))


def test_capture_goroutineleak_profile_as_given(dump_server: DumpServer) -> None:
    url = dump_server.url("/debug/pprof/goroutineleak?debug=2")
    snap = to_snapshot(capture_url(normalise_url(url)))
    assert sum("leaked" in t.flags for t in snap.tasks) > 0


def test_capture_json_endpoint_goes_to_the_json_reader(dump_server: DumpServer) -> None:
    captured = capture_url(normalise_url(dump_server.url("/debug/threads")))
    assert dict(captured.details)["content_type"] == "application/json"
    snap = to_snapshot(captured)
    direct = load(str(PY_JSON))
    assert snap.source.format == direct.source.format
    assert counts(snap) == counts(direct)


def test_two_captures_diff_like_the_files(dump_server: DumpServer) -> None:
    from snapdiff.diff import diff

    dump_server.dump = "t0"
    before = to_snapshot(capture_url(normalise_url(dump_server.base)))
    dump_server.dump = "t1"
    after = to_snapshot(capture_url(normalise_url(dump_server.base)))
    assert [g.key.function for g in diff(before, after).groups if g.suspect] == ["main.fetchAll"]


def test_gzip_transfer_is_undone(dump_server: DumpServer) -> None:
    captured = capture_url(dump_server.url("/gzip/debug/pprof/goroutine?debug=2"))
    expected = (GO_DIR / "t1.debug2.txt").read_bytes()
    assert captured.data == expected
    details = dict(captured.details)
    assert details["content_encoding"] == "gzip"
    assert details["bytes"] == str(len(expected))
    assert int(details["bytes_on_wire"]) < len(expected) // 3
    assert dump_server.seen[-1].header("Accept-Encoding") == "gzip"


def test_headers_and_token_arrive_and_the_token_is_kept_nowhere(dump_server: DumpServer) -> None:
    captured = capture_url(
        dump_server.url("/auth/debug/pprof/goroutine?debug=2"),
        headers=[("X-Tenant", "acme"), ("X-Request-Id", "r-1")],
        token=TOKEN + "\n",  # as read from a file
    )
    seen = dump_server.seen[-1]
    assert seen.header("Authorization") == f"Bearer {TOKEN}"
    assert seen.header("X-Tenant") == "acme"
    assert seen.header("X-Request-Id") == "r-1"
    assert (seen.header("User-Agent") or "").startswith("snapdiff/")
    assert captured.data == (GO_DIR / "t1.debug2.txt").read_bytes()
    for field in Captured.__slots__:
        assert TOKEN not in repr(getattr(captured, field)), field
    assert TOKEN not in repr(to_snapshot(captured).source)


def test_password_in_the_url_becomes_basic_auth_and_leaves_the_url(
    dump_server: DumpServer,
) -> None:
    url = dump_server.url("/debug/pprof/goroutine?debug=2").replace("://", "://ops:pa55word@")
    captured = capture_url(url)
    expected = "Basic " + base64.b64encode(b"ops:pa55word").decode()
    assert dump_server.seen[-1].header("Authorization") == expected
    assert "pa55word" not in repr(captured.details) + captured.origin
    assert captured.origin == dump_server.url("/debug/pprof/goroutine?debug=2")


def test_redirect_on_the_same_host_is_followed(dump_server: DumpServer) -> None:
    captured = capture_url(dump_server.url("/chain?n=3"), token=TOKEN)
    details = dict(captured.details)
    assert details["redirects"] == "4"
    assert details["url"] == dump_server.url("/debug/pprof/goroutine?debug=2")
    assert captured.origin == dump_server.url("/chain?n=3")
    assert len(dump_server.seen) == 5
    assert all(s.header("Authorization") == f"Bearer {TOKEN}" for s in dump_server.seen)


def test_redirect_to_another_host_when_allowed_drops_the_credentials(
    dump_server: DumpServer,
) -> None:
    # "localhost" is another host name for the same server (from /etc/hosts: no DNS query).
    other = f"http://localhost:{dump_server.port}/debug/pprof/goroutine?debug=2"
    captured = capture_url(
        dump_server.url(f"/redirect?to={other}"),
        token=TOKEN,
        headers=[("X-Api-Key", "k-123456"), ("X-Tenant", "acme")],
        allow_other_hosts=True,
    )
    assert dict(captured.details)["url"] == other
    first, second = dump_server.seen
    assert first.header("Authorization") == f"Bearer {TOKEN}"
    assert second.header("Authorization") is None
    assert second.header("X-Api-Key") is None
    assert second.header("X-Tenant") == "acme"


def test_https_with_a_trusted_certificate(
    tls_server: DumpServer, tls_cert: tuple[object, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_cert[0]))
    captured = capture_url(normalise_url(tls_server.base))
    assert captured.data == (GO_DIR / "t1.debug2.txt").read_bytes()
    assert captured.origin.startswith("https://127.0.0.1:")


# -- faults -----------------------------------------------------------------------------------


def test_connection_refused() -> None:
    port = closed_port()
    message = fails(lambda: capture_url(f"http://127.0.0.1:{port}/debug/pprof/goroutine?debug=2"))
    assert message == (
        f"connection refused by 127.0.0.1:{port}: nothing listens on that port;"
        " is the service running, and is the port right?"
    )


def test_dns_failure_under_the_invalid_domain() -> None:
    # RFC 6761: .invalid never resolves; it is refused before any lookup, so nothing leaves
    # the machine.
    message = fails(lambda: capture_url("http://leaky.invalid:6060/debug/pprof/"))
    assert message == (
        "cannot resolve host 'leaky.invalid': the .invalid domain never exists (RFC 6761);"
        " check the host name in the URL"
    )


def test_tls_self_signed_certificate_is_not_trusted(tls_server: DumpServer) -> None:
    message = fails(lambda: capture_url(normalise_url(tls_server.base)))
    # OpenSSL 1.1 writes "self signed", 3.x "self-signed".
    assert message.replace("self signed", "self-signed") == (
        f"TLS error from 127.0.0.1:{tls_server.port}: its certificate is not trusted"
        " (self-signed certificate); if a private CA signed it, point SSL_CERT_FILE at that"
        " CA's certificate"
    )


def test_https_to_a_plain_http_port(dump_server: DumpServer) -> None:
    url = f"https://127.0.0.1:{dump_server.port}/debug/pprof/goroutine?debug=2"
    message = fails(lambda: capture_url(url))
    assert message.startswith(
        f"TLS error from 127.0.0.1:{dump_server.port}: the handshake failed ("
    )
    assert message.endswith(
        f"); the port may serve plain HTTP: try http://127.0.0.1:{dump_server.port}"
        "/debug/pprof/goroutine?debug=2"
    )


def test_http_to_a_tls_port(tls_server: DumpServer) -> None:
    url = f"http://127.0.0.1:{tls_server.port}/debug/pprof/goroutine?debug=2"
    message = fails(lambda: capture_url(url))
    port = tls_server.port
    assert message in (
        f"127.0.0.1:{port} closed the connection without answering: is it an HTTP server"
        f" (if it serves https, use https://127.0.0.1:{port})? try again",
    ) or message.startswith(f"127.0.0.1:{port} did not answer in HTTP (it sent ")


def test_server_accepts_and_never_answers(dump_server: DumpServer) -> None:
    t0 = time.monotonic()
    message = fails(lambda: capture_url(dump_server.url("/hang"), timeout=1.0), within=3.0)
    assert time.monotonic() - t0 >= 0.9
    assert message == (
        f"accepted the connection but sent no response within 1s (--timeout) from"
        f" 127.0.0.1:{dump_server.port}: the service may be stuck or overloaded; try again,"
        " or raise --timeout"
    )


def test_half_a_body_then_a_hang(dump_server: DumpServer) -> None:
    size = (GO_DIR / "t1.debug2.txt").stat().st_size
    message = fails(lambda: capture_url(dump_server.url("/half"), timeout=1.5), within=4.0)
    assert message == (
        f"timed out after 1.5s (--timeout) with {size // 2:,} bytes of the body"
        f" (of {size:,} announced) received from 127.0.0.1:{dump_server.port};"
        f" nothing more came for {message.split('came for ')[1].split('s:')[0]}s:"
        " the server hangs mid-body; try again, or raise --timeout"
    )


def test_trickle_is_cut_off_by_the_total_timeout(dump_server: DumpServer) -> None:
    # A byte every 0.1s: every single read succeeds, only the total timeout stops it.
    t0 = time.monotonic()
    message = fails(lambda: capture_url(dump_server.url("/trickle"), timeout=1.5), within=3.5)
    took = time.monotonic() - t0
    assert 1.4 <= took < 3.0
    assert message.startswith("timed out after 1.5s (--timeout) with ")
    got = int(message.split(" with ")[1].split(" bytes")[0])
    assert 5 <= got <= 20
    assert "it was still sending, too slowly" in message
    assert message.endswith("; try again, or raise --timeout")


def test_connection_closed_mid_body(dump_server: DumpServer) -> None:
    size = (GO_DIR / "t1.debug2.txt").stat().st_size
    message = fails(lambda: capture_url(dump_server.url("/cut")))
    assert message == (
        f"127.0.0.1:{dump_server.port} closed the connection after 1,000 of {size:,} bytes of"
        " the body: the service may have crashed or restarted; try again"
    )


def test_connection_closed_without_a_response(dump_server: DumpServer) -> None:
    message = fails(lambda: capture_url(dump_server.url("/close")))
    port = dump_server.port
    assert message == (
        f"127.0.0.1:{port} closed the connection without answering: is it an HTTP server"
        f" (if it serves https, use https://127.0.0.1:{port})? try again"
    )


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (
            401,
            "HTTP 401 Unauthorized from {url}: 'database is down: connection pool exhausted':"
            " the endpoint needs credentials; pass them with --header 'Name: value'"
            " or --token-env (--token-file)",
        ),
        (
            403,
            "HTTP 403 Forbidden from {url}: 'database is down: connection pool exhausted':"
            " the endpoint refused the credentials, or needs some; pass them with"
            " --header 'Name: value' or --token-env (--token-file)",
        ),
        (
            500,
            "HTTP 500 Internal Server Error from {url}: 'database is down: connection pool"
            " exhausted': the service failed to answer; try again, and look at its logs",
        ),
        (
            503,
            "HTTP 503 Service Unavailable from {url}: 'database is down: connection pool"
            " exhausted': the service failed to answer; try again, and look at its logs",
        ),
        (
            418,
            "HTTP 418 I'm a Teapot from {url}: 'database is down: connection pool exhausted':"
            " not a dump; check the URL",
        ),
    ],
)
def test_error_statuses(dump_server: DumpServer, code: int, says: str) -> None:
    url = dump_server.url(f"/status?code={code}")
    assert fails(lambda: capture_url(url)) == says.format(url=url)


def test_404_names_the_path_and_pprof(dump_server: DumpServer) -> None:
    message = fails(lambda: capture_url(dump_server.url("/debug/pprof/goroutinez?debug=2")))
    assert message == (
        f"HTTP 404 Not Found: no /debug/pprof/goroutinez on 127.0.0.1:{dump_server.port}:"
        " '404 page not found'; check the path (for Go, net/http/pprof may not be registered"
        ' on this port: import _ "net/http/pprof" and serve http.DefaultServeMux)'
    )


def test_401_echoing_the_token_does_not_leak_it(dump_server: DumpServer) -> None:
    url = dump_server.url("/auth/debug/pprof/goroutine?debug=2")
    message = fails(lambda: capture_url(url, token="wrong-token-1234"))
    assert "wrong-token-1234" not in message
    assert message.startswith(f"HTTP 401 Unauthorized from {url}: 'unauthorized: got Bearer ***'")


@pytest.mark.parametrize("route", ["/login", "/html-as-text"])
def test_html_login_page(dump_server: DumpServer, route: str) -> None:
    url = dump_server.url(route)
    assert fails(lambda: capture_url(url)) == (
        f"got an HTML page, not a dump (a login page or proxy?) from {url}"
        " (HTTP 200, title 'Sign in - Example SSO'): check the URL; if the endpoint needs"
        " credentials, pass --header or --token-env"
    )


def test_a_dump_served_as_html_is_still_a_dump(dump_server: DumpServer) -> None:
    captured = capture_url(dump_server.url("/dump-as-html"))
    assert captured.data == (GO_DIR / "t1.debug2.txt").read_bytes()


def test_pprof_index_page_is_html(dump_server: DumpServer) -> None:
    url = dump_server.url("/debug/pprof/")  # as given, not normalised
    assert "got an HTML page, not a dump" in fails(lambda: capture_url(url))


def test_empty_body(dump_server: DumpServer) -> None:
    url = dump_server.url("/empty")
    assert fails(lambda: capture_url(url)) == (
        f"HTTP 200 OK from {url} with an empty body: no dump in it; check the URL"
    )


@pytest.mark.parametrize(
    ("query", "how", "read"),
    [
        ("", "it announces 5,000 bytes", 0),
        ("&chunked=1", "4,097 bytes so far", 4097),
        ("&gzip=1", "more than that once gzip is undone", None),
    ],
)
def test_body_bigger_than_the_cap(
    dump_server: DumpServer, query: str, how: str, read: int | None
) -> None:
    url = dump_server.url(f"/big?n=5000{query}")
    message = fails(lambda: capture_url(url, max_bytes=4096))
    prefix = (
        f"{url}: the response is bigger than the cap of 4 KiB (--max-bytes 4096; {how});"
        " stopped reading after "
    )
    assert message.startswith(prefix)
    assert message.endswith(" bytes: raise --max-bytes if the dump is really that big")
    if read is not None:
        assert (
            message == prefix + f"{read:,} bytes: raise --max-bytes if the dump is really that big"
        )


def test_gzip_body_without_content_encoding_is_held_to_the_cap(dump_server: DumpServer) -> None:
    """A .gz file served as it is (no Content-Encoding) is small on the wire; what it
    decompresses to is held to --max-bytes as well."""
    url = dump_server.url("/big?n=200000&gzfile=1")
    message = fails(lambda: capture_url(url, max_bytes=64 << 10))
    assert "the cap of 64 KiB (--max-bytes 65536; more than that once its gzip data is undone)" in (
        message
    )
    captured = capture_url(url, max_bytes=256 << 10)  # under the cap: kept as received
    assert captured.data[:2] == b"\x1f\x8b"


def test_body_at_the_cap_is_kept(dump_server: DumpServer) -> None:
    captured = capture_url(dump_server.url("/big?n=4096&chunked=1"), max_bytes=4096)
    assert len(captured.data) == 4096


def test_big_body_stops_reading_at_the_cap(dump_server: DumpServer) -> None:
    t0 = time.monotonic()
    url = dump_server.url(f"/big?n={48 << 20}&chunked=1")
    message = fails(lambda: capture_url(url, max_bytes=1 << 20))
    assert "the cap of 1 MiB (--max-bytes 1048576;" in message
    assert time.monotonic() - t0 < 5


def test_redirect_to_another_host_is_refused(dump_server: DumpServer) -> None:
    other = f"http://localhost:{dump_server.port}/debug/pprof/goroutine?debug=2"
    url = dump_server.url(f"/redirect?to={other}")
    assert fails(lambda: capture_url(url, token=TOKEN)) == (
        f"{url} redirects to another host, localhost:{dump_server.port} ({other}): refused,"
        " it could take the request and its credentials to a server you did not name;"
        " capture that URL directly, or allow it with --allow-other-hosts"
    )
    assert len(dump_server.seen) == 1


def test_redirect_to_another_port_is_refused(dump_server: DumpServer) -> None:
    port = closed_port()
    other = f"http://127.0.0.1:{port}/x"
    message = fails(lambda: capture_url(dump_server.url(f"/redirect?to={other}")))
    assert f"redirects to another port, {port} ({other}): refused" in message


def test_redirect_loop(dump_server: DumpServer) -> None:
    assert fails(lambda: capture_url(dump_server.url("/loop/a"))) == (
        f"redirect loop: {dump_server.url('/loop/b')} leads back to {dump_server.url('/loop/a')}"
        " after 1 redirect; check the URL (or the proxy in front)"
    )


def test_too_many_redirects(dump_server: DumpServer) -> None:
    assert fails(lambda: capture_url(dump_server.url("/chain?n=9"))) == (
        f"more than 5 redirects from {dump_server.url('/chain?n=9')}"
        f" (the last to {dump_server.url('/chain?n=3')}); check the URL (or the proxy in front)"
    )


def test_redirects_off(dump_server: DumpServer) -> None:
    assert fails(lambda: capture_url(dump_server.url("/loop/a"), follow_redirects=False)) == (
        f"HTTP 302 from {dump_server.url('/loop/a')} redirects to {dump_server.url('/loop/b')},"
        " and redirects are off: capture that URL directly"
    )


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"headers": [("Bad Name", "x")]}, "not a valid header name: 'Bad Name'"),
        ({"headers": [("X-A", "a\r\nX-B: b")]}, "the value of header X-A holds a line break"),
        ({"token": "abc\ndef"}, "the token holds a space, line break or control character"),
        ({"token": "  "}, "the token is empty"),
        (
            {"token": "abc", "headers": [("Authorization", "Basic eA==")]},
            "give either a token or an Authorization header, not both",
        ),
        ({"timeout": 0}, "timeouts must be positive"),
        ({"max_bytes": 0}, "--max-bytes must be a positive number"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], says: str) -> None:
    with pytest.raises(UsageError) as info:
        capture_url("http://127.0.0.1:1/", **kwargs)  # type: ignore[arg-type]
    assert str(info.value).startswith(says)
    assert "def" not in str(info.value)
