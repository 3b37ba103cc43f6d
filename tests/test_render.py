"""Golden files: every report format of ``diff`` and ``show`` on real sample dumps.

The reports are what an on-call engineer reads and pastes into a ticket, so the goldens under
``tests/golden/<command>/`` are reviewed by eye. After a deliberate change, regenerate them with
``SNAPDIFF_UPDATE_GOLDEN=1 python -m pytest tests/test_render.py`` and read the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snapdiff.cli import app
from snapdiff.render.text import fold
from tests.conftest import GO_DUMPS, PY_DUMPS, ROOT

GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("SNAPDIFF_UPDATE_GOLDEN"))
ENV = {"COLUMNS": "100", "LINES": "50", "NO_COLOR": None, "FORCE_COLOR": None, "TERM": "xterm"}

GO127 = GO_DUMPS / "go1.27"
GO119 = GO_DUMPS / "go1.19"
PY312 = PY_DUMPS / "py3.12"
JDK17 = ROOT / "samples" / "java" / "dumps" / "jdk17"

CASES = {
    "diff/go1.27": [
        "diff", str(GO127 / "t0.debug2.txt"), str(GO127 / "t1.debug2.txt"), "--elapsed", "70s"
    ],
    "diff/go1.19": ["diff", str(GO119 / "t0.debug2.txt"), str(GO119 / "t1.debug2.txt")],
    "diff/py3.12": ["diff", str(PY312 / "t0.json"), str(PY312 / "t1.json")],
    "diff/jdk17": ["diff", str(JDK17 / "t0.txt"), str(JDK17 / "t1.txt")],
    "show/go1.27-goroutineleak": ["show", str(GO127 / "t1.goroutineleak.debug2.txt")],
}  # fmt: skip
FORMATS = {"text": "txt", "markdown": "md", "json": "json", "jira": "jira", "html": "html"}


def run(args: list[str], env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    result = CliRunner(env={**ENV, **(env or {})}).invoke(app, args, prog_name="snapdiff")
    return result.exit_code, result.stdout, result.stderr


def _relative(args: list[str]) -> list[str]:
    """Paths relative to the repository, so the reports name the same files everywhere."""
    return [os.path.relpath(a, ROOT) if a.startswith(str(ROOT)) else a for a in args]


def _json_comparable(text: str) -> object:
    doc = json.loads(text)
    doc.pop("snapdiff_version", None)
    return doc


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, err = run([*_relative(CASES[case]), "--format", fmt, "--color", "never"])
    assert code == 0, err
    assert err.startswith("read "), err  # progress goes to stderr, never into the report
    assert "Traceback" not in err
    path = GOLDEN / f"{case}.{FORMATS[fmt]}"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(out, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    if fmt == "json":
        assert _json_comparable(out) == _json_comparable(expected)
    else:
        assert out == expected


@pytest.mark.parametrize("case", CASES)
def test_quiet_leaves_stderr_empty(case: str) -> None:
    code, _, err = run([*CASES[case], "--quiet", "--color", "never"])
    assert code == 0
    assert err == ""


@pytest.mark.parametrize("width", [80, 100, 120])
@pytest.mark.parametrize("case", CASES)
def test_text_fits_the_width_and_loses_nothing(case: str, width: int) -> None:
    every = ["--all"] if case.startswith("diff/") else []  # show lists every group anyway
    code, out, _ = run([*CASES[case], "-q", *every, "--color", "never"], {"COLUMNS": str(width)})
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    assert all(line == line.rstrip() for line in lines), "trailing spaces"
    # Folded lines joined back give the long paths whole.
    joined = re.sub(r"\n +", "", out)
    if "py3.12" in case:
        assert "/lib/python3.12/concurrent/futures/thread.py:89" in joined
    elif "jdk17" in case:
        assert "suspect java.util.concurrent.ThreadPoolExecutor$Worker.run: 61 threads" in joined
        assert (
            "at java.util.concurrent.LinkedBlockingQueue.take (LinkedBlockingQueue.java:435)"
            in (re.sub(r"\n *", " ", out))
        )
    else:
        assert "main.fetchAll" in out
        # In the table the numbers sit on a folded name's first line: look for both parts.
        name = "net/http.(*connReader).startBackgroundRead"
        assert name in out or re.search(
            r"net/http\.\(\*connReader\)\.[ 0-9+.-]*\n +startBackgroundRead\n", out
        )


def test_json_reports_have_the_documented_fields() -> None:
    _, out, _ = run([*CASES["diff/go1.27"], "-f", "json", "-q"])
    doc = json.loads(out)
    assert doc["schema"] == "snapdiff-report" and doc["command"] == "diff"
    top = doc["groups"][0]
    for field in ("site_function", "entry_function", "before", "after", "delta", "suspect"):
        assert field in top
    assert top["site_function"] == "main.fetchAll" and top["suspect"] is True
    assert [g["site_function"] for g in doc["groups"] if g["suspect"]] == ["main.fetchAll"]
    _, out, _ = run([*CASES["show/go1.27-goroutineleak"], "-f", "json", "-q"])
    doc = json.loads(out)
    assert doc["total"] == sum(g["count"] for g in doc["groups"]) == 302
    assert doc["groups"][0]["leaked"] == 279


def test_markdown_reads_as_prose() -> None:
    """Our own sentences are not littered with backslashes and entities."""
    _, out, _ = run([*CASES["diff/go1.19"], "-f", "markdown", "-q"])
    first = out.splitlines()[2]
    assert first.startswith("42 → 323 goroutines (+281). Suspect: `main.fetchAll` (")
    assert "\\-" not in out and "\\." not in out and "\\(" not in out


def test_markdown_renders_as_intended() -> None:
    """Rendered by a CommonMark parser with GFM tables: one table, code in cells, a fence."""
    markdown_it = pytest.importorskip("markdown_it")
    _, out, _ = run([*CASES["diff/go1.27"], "-f", "markdown", "-q"])
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(out)
    assert html.count("<table>") == 1
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    assert len(rows) == 3  # the heading, the suspect, the churning site
    assert {len(re.findall(r"<t[hd][ >]", r)) for r in rows} == {9}
    assert "<td><strong>SUSPECT</strong></td>" in html
    # The steady and internal sites, the capture's own HTTP goroutines among them, are in a
    # collapsed block under the table.
    folded = html.split("steady or internal sites", 1)[1].split("</details>", 1)[0]
    assert "<code>net/http.(*connReader).startBackgroundRead</code>" in folded
    assert folded.count("<li>") == 9
    assert '<pre><code class="language-text">main.fetchOne' in html


@pytest.mark.parametrize(
    ("line", "width", "expected"),
    [
        ("short", 10, ["short"]),
        ("    /usr/lib/python3.12/threading.py:1010", 30,
         ["    /usr/lib/python3.12/", "      threading.py:1010"]),
        ("net/http.(*connReader).startBackgroundRead", 31,
         ["net/http.(*connReader).", "  startBackgroundRead"]),
        ("x" * 25, 10, ["x" * 10, "  " + "x" * 8, "  " + "x" * 7]),
        ("one two three four", 9, ["one two", "  three", "  four"]),
    ],
)  # fmt: skip
def test_fold(line: str, width: int, expected: list[str]) -> None:
    assert fold(line, width) == expected
    assert "".join(p.strip() for p in fold(line, width)).replace(" ", "") == line.replace(" ", "")
