"""A bare base URL: Go's pprof where it is, snapdiff's probe where it is not."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from snapdiff import probe
from snapdiff.capture import to_snapshot
from snapdiff.capture.http import capture_base
from snapdiff.errors import CaptureError
from tests.httpserver import DumpServer, dump_server_fixture  # noqa: F401


@pytest.fixture
def plain_server(tmp_path) -> Iterator[str]:
    """A real web server with neither pprof nor a probe: every path is 404."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_base_url_of_a_go_service_is_its_goroutine_profile(dump_server: DumpServer):
    captured = capture_base(dump_server.base)
    assert captured.origin.endswith("/debug/pprof/goroutine?debug=2")
    assert to_snapshot(captured).source.format == "go-goroutine-text"


def test_base_url_of_a_probe_is_its_document():
    host, port = probe.start(host="127.0.0.1", port=0)
    try:
        captured = capture_base(f"http://{host}:{port}/")
    finally:
        probe.stop()
    snap = to_snapshot(captured)
    assert snap.source.format == "snapdiff-probe"
    assert captured.origin.endswith("/debug/snapdiff")
    assert any(t.kind == "thread" and t.name == "MainThread" for t in snap.tasks)


def test_base_url_with_neither_says_so(plain_server: str):
    with pytest.raises(CaptureError, match=r"neither Go's pprof .* nor a snapdiff probe"):
        capture_base(plain_server)


def test_a_full_path_that_is_missing_is_not_retried_elsewhere(plain_server: str):
    with pytest.raises(CaptureError, match="HTTP 404"):
        capture_base(plain_server + "/debug/pprof/goroutine?debug=2")
