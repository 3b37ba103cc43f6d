"""The HTML report in a real browser: headless Chromium loads each page from a file, and

* the page logs nothing on its console (a script or style blocked by the page's own
  Content-Security-Policy, or a script error, would be logged);
* the page makes no network request: Chromium's network log holds no request the page started
  (the browser's own background requests have no initiator, ``not an origin``); a control page
  that does load an image over HTTP shows that the check sees one;
* the script ran (the table headings became sortable) and the DOM holds no element from a
  hostile dump;
* the screenshot shows the suspect's row: its tinted background and red verdict are on screen.

Chromium comes from the system (Debian's ``chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snapdiff.cli import app
from tests.conftest import GO_DUMPS, SAMPLES
from tests.test_injection import HTML_TAGS, _Elements, go_dump

pytestmark = pytest.mark.slow

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")

# Quiet Chromium's own background traffic, so the network log is mostly the page's.
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--hide-scrollbars",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--no-pings",
    "--enable-logging=stderr",
    "--v=0",
]
SUSPECT_BACKGROUND = (0xFF, 0xF1, 0xF0)  # tr.suspect td
SUSPECT_VERDICT = (0xB4, 0x23, 0x18)  # tr.suspect td.v


def _report(args: list[str], out: Path) -> Path:
    result = CliRunner().invoke(
        app, [*args, "-f", "html", "-q", "-o", str(out)], prog_name="snapdiff"
    )
    assert result.exit_code == 0, result.stderr
    return out


def _chromium(page: Path, tmp: Path, *extra: str) -> tuple[str, str, list[dict[str, object]]]:
    """(stdout, stderr, the page's requests from the network log) of one headless run."""
    assert CHROMIUM is not None
    netlog = tmp / f"{page.stem}-{len(extra)}.netlog.json"
    profile = tmp / f"profile-{page.stem}-{len(extra)}"
    run = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--log-net-log={netlog}",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    log = json.loads(netlog.read_text("utf-8"))
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    requests = [
        e["params"]
        for e in log["events"]
        if types.get(e["type"]) == "URL_REQUEST_START_JOB"
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
        and not str(e.get("params", {}).get("url", "")).startswith("file:")
    ]
    return run.stdout, run.stderr, requests


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("html")
    go = GO_DUMPS / "go1.27"
    (tmp / "before.txt").write_bytes(go_dump(new=False))
    (tmp / "after.txt").write_bytes(go_dump(new=True))
    return {
        "go-diff": _report(
            ["diff", str(go / "t0.debug2.txt"), str(go / "t1.debug2.txt"), "--elapsed", "70s"],
            tmp / "go-diff.html",
        ),
        "jvm-diff": _report(
            [
                "diff",
                str(SAMPLES / "java/dumps/jdk17/t0.txt"),
                str(SAMPLES / "java/dumps/jdk17/t1.txt"),
            ],
            tmp / "jvm-diff.html",
        ),
        "py-trend": _report(["trend", str(SAMPLES / "series/py-leaky")], tmp / "py-trend.html"),
        "go-fleet": _report(["trend", str(SAMPLES / "series/go-fleet")], tmp / "go-fleet.html"),
        "hostile": _report(
            ["diff", str(tmp / "before.txt"), str(tmp / "after.txt"), "--elapsed", "5m"],
            tmp / "hostile.html",
        ),
    }


@needs_chromium
@pytest.mark.parametrize("name", ["go-diff", "jvm-diff", "py-trend", "go-fleet", "hostile"])
def test_page_loads_quietly_offline_and_runs_its_script(
    pages: dict[str, Path], name: str, tmp_path: Path
) -> None:
    dom, stderr, requests = _chromium(pages[name], tmp_path, "--dump-dom")
    assert _console(stderr) == []
    assert requests == []
    # The script ran under the page's policy: every heading of the sortable table is a button.
    assert dom.count('aria-sort="none"') >= 5
    page = _Elements(dom)
    assert {tag for tag, _ in page.tags} <= HTML_TAGS
    assert [tag for tag, _ in page.tags].count("script") == 1
    for tag, attrs in page.tags:
        assert not any(a.startswith("on") or a in ("src", "href") for a, _ in attrs), tag
    if name == "hostile":
        text = "".join(page.text)
        assert "<script>alert(1)</script><img src=x onerror=alert(1)>" in text


@needs_chromium
def test_network_check_sees_a_page_that_fetches(tmp_path: Path) -> None:
    """The control: a page that loads an image over HTTP shows in the network log."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = tmp_path / "fetches.html"
    page.write_text(f'<!DOCTYPE html><img src="http://127.0.0.1:{port}/x.png">', "utf-8")
    _, _, requests = _chromium(page, tmp_path, "--dump-dom")
    assert any(f"127.0.0.1:{port}" in str(r.get("url")) for r in requests)


@needs_chromium
@pytest.mark.parametrize("name", ["go-diff", "jvm-diff", "py-trend"])
def test_screenshot_shows_the_suspect_row(
    pages: dict[str, Path], name: str, tmp_path: Path
) -> None:
    image_lib = pytest.importorskip("PIL.Image")
    shot = tmp_path / f"{name}.png"
    _, stderr, _ = _chromium(
        pages[name], tmp_path, "--window-size=1200,900", f"--screenshot={shot}"
    )
    assert _console(stderr) == []
    with image_lib.open(shot) as image:
        rgb = image.convert("RGB")
        colours = {colour for _, colour in rgb.getcolors(maxcolors=1 << 20) or []}
    assert SUSPECT_BACKGROUND in colours, "no suspect row on screen"
    # The verdict's red, anti-aliased: some pixel close to it.
    assert any(
        sum(abs(a - b) for a, b in zip(c, SUSPECT_VERDICT, strict=True)) < 40 for c in colours
    ), "no red SUSPECT verdict on screen"
