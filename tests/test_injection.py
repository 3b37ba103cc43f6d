"""Dump text is untrusted: it must not inject markup, escapes, Markdown or HTML into a report.

Real-format dumps (Go ``debug=2`` text, ``py-spy dump --json`` and a Node.js report) carry
hostile strings in function names, file paths, thread names, labels, states, and the endpoints
of libuv handles (their group labels and example connections). Every report format of ``diff``
and ``show`` must show them as inert text; the JSON report must keep them exactly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snapdiff.cli import app
from tests.conftest import SAMPLES

# Each payload goes into every field a dump lets it reach.
PAYLOADS = {
    "rich-markup": "[bold red]x[/] [link=http://evil]click[/link]",
    "ansi-sgr": "\x1b[31mred\x1b[0m",
    "osc8-link": "\x1b]8;;http://evil\x07link\x1b]8;;\x07",
    "carriage-return": "fine\rEVIL",
    "bidi-zero-width": "abc\u202edcba\u200b\u200d\ufeff",
    "md-emphasis": "**bold** _it_ ~~gone~~",
    "md-link": "[click](http://evil) and https://evil.example www.evil.com",
    "md-image": "![img](http://evil/x.png)",
    "md-table": "a|b|c",
    "md-backticks": "x ``` y `````````` z `",
    "html": "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "html-details": "</details></summary><details open>",
}
LONG = "main.long" + "A" * 100_000
# What must never reach a report unescaped, as the dumps spell it.
RAW_HTML = ("<script", "<img", "</details>", "</summary>", "<details open")


def _label_safe(text: str) -> str:
    """Go prints labels as ``{key: value, ...}``: a value cannot hold ``,`` ``:`` or ``}``."""
    return re.sub(r"[,:{}]", ".", text)


def _state_safe(text: str) -> str:
    """A Go state sits in ``[...]``: it cannot hold ``]`` (or a newline)."""
    return text.replace("]", ")").replace("\n", " ")


def go_dump(new: bool) -> bytes:
    """A goroutine dump; with ``new``, every hostile site has grown by three goroutines."""
    blocks = ["goroutine 1 [select]:\nmain.main()\n\t/src/app/main.go:40 +0x1d\n"]
    gid = 100
    for i, (name, payload) in enumerate([*PAYLOADS.items(), ("long", LONG)]):
        ids = [gid + n for n in range(3)] + ([5000 + i * 10 + n for n in range(3)] if new else [])
        gid += 10
        function = f"main.spawn{i}{payload}" if name != "long" else LONG
        label = _label_safe(payload)
        for g in ids:
            blocks.append(
                f"goroutine {g} [chan send {_state_safe(payload)}, 3 minutes] "
                f"{{handler: {label}, tenant: t{i}}}:\n"
                f"main.worker{payload}(0xc000010000)\n"
                f"\t/src/{payload}/worker.go:12 +0x1d\n"
                f"created by {function} in goroutine 1\n"
                f"\t/src/{payload}/spawn.go:{30 + i} +0x4f\n"
            )
    return ("\n".join(blocks) + "\n").encode()


def _frame(function: str, filename: str, line: int) -> dict[str, object]:
    return {
        "name": function,
        "filename": filename,
        "module": None,
        "short_filename": filename.rsplit("/", 1)[-1],
        "line": line,
        "locals": None,
        "is_entry": False,
        "is_shim_entry": False,
    }


def pyspy_dump(new: bool) -> bytes:
    threads = []
    tid = 1000
    for i, (name, payload) in enumerate([*PAYLOADS.items(), ("long", LONG)]):
        function = f"target{i}{payload}" if name != "long" else LONG
        for n in range(3 + (3 if new else 0)):
            tid += 1
            threads.append(
                {
                    "pid": 4242,
                    "thread_id": tid + i * 100,
                    "thread_name": f"{payload}-worker-{n}",
                    "os_thread_id": tid,
                    "active": False,
                    "owns_gil": False,
                    "frames": [
                        _frame("Condition.wait", "/usr/lib/python3.12/threading.py", 331),
                        _frame(function, f"/srv/{payload}/app.py", 20 + n),
                        _frame("Thread.run", "/usr/lib/python3.12/threading.py", 1010),
                        _frame("Thread._bootstrap_inner", "/usr/lib/python3.12/threading.py", 1073),
                        _frame("Thread._bootstrap", "/usr/lib/python3.12/threading.py", 1030),
                    ],
                    "process_info": None,
                }
            )
        tid = 1000 + (i + 1) * 10
    return json.dumps(threads).encode()


def node_dump(new: bool) -> bytes:
    """A real Node.js report with, per payload, outgoing connections to a host named by it
    (the group's label: ``tcp connected to PAYLOAD:8080``; each connection's name, shown as an
    example: ``127.0.0.1:40001 -> PAYLOAD:8080``); with ``new``, three more per payload."""
    doc = json.loads((SAMPLES / "node" / "dumps" / "node20" / "t0.json").read_bytes())
    handles = doc["libuv"]
    address = 0x7F0000000000
    for i, payload in enumerate([*PAYLOADS.values(), LONG]):
        for n in range(6 if new else 3):
            address += 0x100
            handles.insert(
                0,
                {
                    "type": "tcp",
                    "is_active": True,
                    "is_referenced": True,
                    "address": hex(address),
                    "localEndpoint": {"ip4": "127.0.0.1", "port": 40001 + i * 10 + n},
                    "remoteEndpoint": {"ip4": payload, "port": 8080},
                    "readable": True,
                    "writable": True,
                    "fd": 100 + n,
                },
            )
    return json.dumps(doc).encode()


MAKERS = {"go": (go_dump, ".txt"), "pyspy": (pyspy_dump, ".json"), "node": (node_dump, ".json")}


@pytest.fixture(scope="module", params=list(MAKERS))
def dumps(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp(request.param)
    make, suffix = MAKERS[request.param]
    before, after = folder / f"before{suffix}", folder / f"after{suffix}"
    before.write_bytes(make(new=False))
    after.write_bytes(make(new=True))
    return [before, after]


def run(*args: str) -> tuple[str, str]:
    result = CliRunner(env={"COLUMNS": "100", "NO_COLOR": None, "TERM": "xterm"}).invoke(
        app, [*args, "--quiet"], prog_name="snapdiff"
    )
    assert result.exit_code == 0, (result.exit_code, result.stderr[-2000:])
    assert result.stderr == ""
    return result.stdout, result.stderr


def commands(dumps: list[Path]) -> list[list[str]]:
    before, after = (str(p) for p in dumps)
    return [
        ["diff", before, after, "--elapsed", "5m"],
        ["show", after],
        ["trend", before, after, after, "--every", "5m"],
    ]


# --- text ------------------------------------------------------------------------------------

SGR = re.compile(r"\x1b\[[0-9;]*m")
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


@pytest.mark.parametrize("color", ["always", "never"])
def test_text_report_is_inert(dumps: list[Path], color: str) -> None:
    for args in commands(dumps):
        out, _ = run(*args, "--color", color)
        if color == "always":
            assert SGR.search(out), "colour was asked for"
        plain = SGR.sub("", out)
        bad = CONTROL.findall(plain)
        assert not bad, f"control characters in the text report: {sorted(set(bad))!r}"
        unfolded = re.sub(r"\n +", "", plain)
        # Markup is printed as it is, not interpreted (and rich's link markup never appears).
        assert "[bold red]x[/]" in unfolded
        assert "[link=http://evil]click[/link]" in unfolded
        assert "\x1b]8" not in out
        # Escapes are shown, not sent: \x1b and \r become visible text.
        assert "\\x1b[31mred\\x1b[0m" in unfolded
        assert "fine\\x0dEVIL" in unfolded
        assert "\\u202e" in unfolded
        # A 100 KB name is cut with a marker, not printed in full.
        assert "more characters)" in unfolded
        assert len(out) < 200_000


# --- Markdown --------------------------------------------------------------------------------


def _outside_fences(markdown: str) -> str:
    """The Markdown without its fenced code blocks (closed by a run as long as the opener)."""
    out, fence = [], ""
    for line in markdown.splitlines():
        if fence:
            if line.strip() == fence:
                fence = ""
            continue
        m = re.match(r"(`{3,})", line)
        if m:
            fence = m.group(1)
            continue
        out.append(line)
    assert not fence, "a code fence is never closed"
    return "\n".join(out)


def _without_code_spans(line: str) -> str:
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", line)


def _cells(row: str) -> int:
    return len(re.split(r"(?<!\\)\|", row)) - 2


def test_markdown_report_is_inert(dumps: list[Path]) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    for args in commands(dumps):
        out, _ = run(*args, "--format", "markdown")
        bad = CONTROL.findall(out)
        assert not bad, f"control characters in the Markdown report: {sorted(set(bad))!r}"
        prose = _outside_fences(out)
        # A code span shows a tag literally (the rendered HTML is checked below).
        bare = "\n".join(_without_code_spans(line) for line in prose.splitlines())
        for raw in RAW_HTML:
            if raw in ("</details>", "</summary>"):
                # Only our own closing tags: one per block, at its own place.
                opened = bare.count("<details><summary>")
                assert bare.count("</summary>") == opened
                assert len(re.findall(r"^</details>$", bare, re.M)) == bare.count(raw) == opened
            else:
                assert raw not in bare, raw
        # Tables: every row has as many cells as its table's header.
        tables = [block.splitlines() for block in re.findall(r"(?:^\|.*\n?)+", prose, re.M)]
        assert tables
        for rows in tables:
            assert {_cells(r) for r in rows} == {_cells(rows[0])}
        # No link, image, emphasis or autolink from the dump outside code.
        text = "\n".join(_without_code_spans(line) for line in prose.splitlines())
        assert not re.search(r"(?<!\\)\]\(", text), "link syntax survived"
        # (Emphasis inside the <summary> HTML block is not read as Markdown: checked below.)
        markdown_lines = [ln for ln in text.splitlines() if not ln.startswith("<details>")]
        assert not re.search(r"(?<!\\)\*\*bold", "\n".join(markdown_lines))
        assert not re.search(r"https?://|www\.", text), "an autolink survived"
        # What a CommonMark renderer with GFM tables makes of it.
        html = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(out)
        for tag in ("<a ", "<img", "<script", "<em>", "<s>", "<details open"):
            assert tag not in html, tag
        assert set(re.findall(r"<strong>(.*?)</strong>", html)) <= {"SUSPECT", "Warning:"}
        for table, rows in zip(
            re.findall(r"<table>(.*?)</table>", html, re.S), tables, strict=True
        ):
            html_rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
            assert {len(re.findall(r"<t[hd][ >]", r)) for r in html_rows} == {_cells(rows[0])}
        # The hostile text is still there to read.
        assert "[bold red]x[/]" in html
        assert "&lt;script&gt;" in html


# --- JSON ------------------------------------------------------------------------------------


def _strings(node: object) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, dict):
        return set(node) | {s for v in node.values() for s in _strings(v)}
    if isinstance(node, list):
        return {s for v in node for s in _strings(v)}
    return set()


def test_json_report_keeps_strings_exactly(dumps: list[Path]) -> None:
    source = dumps[0].parent.name.rstrip("0123456789")
    for args in commands(dumps):
        out, _ = run(*args, "--format", "json")
        doc = json.loads(out)
        strings = _strings(doc)
        for i, payload in enumerate(PAYLOADS.values()):
            if source == "go":
                assert f"main.spawn{i}{payload}" in strings
                assert f"/src/{payload}/spawn.go" in strings
                assert _label_safe(payload) in strings  # a label value
            elif source == "pyspy":
                assert f"target{i}{payload}" in strings
                assert f"/srv/{payload}/app.py" in strings
                assert f"{payload}-worker-0" in strings  # an example name
            else:
                assert f"tcp connected to {payload}:8080" in strings  # the group's label
                ports = range(40001 + i * 10, 40007 + i * 10)  # an example connection:
                assert any(f"127.0.0.1:{port} -> {payload}:8080" in strings for port in ports)
        assert any(LONG in s for s in strings)
        # And the same text again after a round trip through JSON.
        assert json.loads(json.dumps(doc)) == doc


# --- the progress line on stderr --------------------------------------------------------------


def test_progress_line_shows_what_the_reader_recognised_inertly(tmp_path: Path) -> None:
    """The reader's detail quotes the dump (pystack's process name, a JVM's version line): the
    ``read N threads (...)`` line on stderr shows escapes, it does not send them."""
    dump = tmp_path / "pystack.txt"
    name = PAYLOADS["ansi-sgr"] + PAYLOADS["osc8-link"]
    dump.write_text(
        f"Traceback for thread 11 ({name}) [Has the GIL] (most recent call last):\n"
        '    (Python) File "/srv/a.py", line 1, in <module>\n'
        "        main()\n\n",
        encoding="utf-8",
    )
    result = CliRunner(env={"COLUMNS": "200", "TERM": "xterm"}).invoke(
        app, ["show", str(dump), "-f", "json"], prog_name="snapdiff"
    )
    assert result.exit_code == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("read 1 thread"))
    assert "process " in line and "\\x1b[31mred" in line
    assert not CONTROL.findall(line), line


def test_progress_line_shows_a_snapshot_files_own_names_inertly(tmp_path: Path) -> None:
    """A snapshot file names its task kinds and source format itself: untrusted too."""
    from snapdiff import store
    from snapdiff.inputs import load

    snap = load(str(SAMPLES / "go" / "dumps" / "go1.27" / "t0.debug2.txt"))
    doc = store.encode(snap)
    doc["kinds"] = [PAYLOADS["ansi-sgr"]]
    doc["source"]["format"] = PAYLOADS["osc8-link"]
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = CliRunner(env={"COLUMNS": "200", "TERM": "xterm"}).invoke(
        app, ["show", str(path), "-f", "json"], prog_name="snapdiff"
    )
    assert result.exit_code == 0, result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("read "))
    assert "\\x1b[31mred" in line and "\\x1b]8;;http://evil" in line
    assert not CONTROL.findall(line), line


def test_capture_lines_show_a_documents_kind_inertly() -> None:
    """A probe document names its tasks' kind itself; capture's progress lines quote it."""
    from snapdiff.cli.capture import _kind
    from snapdiff.model import Frame, Snapshot, SourceInfo, Task

    task = Task(PAYLOADS["ansi-sgr"], (Frame("main", "app.py", 1),))
    shown = _kind(Snapshot(SourceInfo("snapdiff-probe", "http://127.0.0.1:1"), (task,)))
    assert "\\x1b[31mred" in shown
    assert not CONTROL.findall(shown)


# --- Jira wiki markup ----------------------------------------------------------------------------


def _outside_noformat(jira: str) -> tuple[str, int]:
    """The markup without its ``{noformat}`` blocks, and how many there were."""
    out, inside, blocks = [], False, 0
    for line in jira.splitlines():
        if line == "{noformat}":
            inside = not inside
            blocks += inside
            continue
        if not inside:
            out.append(line)
    assert not inside, "a {noformat} block is never closed"
    return "\n".join(out), blocks


def _jira_cells(row: str) -> int:
    return len(re.split(r"(?<!\\)\|+", row)) - 2


def test_jira_report_is_inert(dumps: list[Path]) -> None:
    for args in commands(dumps):
        out, _ = run(*args, "--format", "jira")
        assert not CONTROL.findall(out)
        prose, blocks = _outside_noformat(out)
        # Only our own blocks: one {noformat} pair per stack shown, one {expand} pair per block.
        assert prose.count("{noformat}") == 0
        assert prose.count("{expand}") == len(re.findall(r"^\{expand:", prose, re.M))
        # Nothing from the dump becomes a link, an image, a mention or emphasis.
        assert not re.search(r"https?://", prose), "an autolink survived"
        assert "[click]" not in prose and "!img" not in prose.replace("\\!img", "")
        assert not re.search(r"(?<![\\{])\*\*bold", prose)
        # Tables: every row has as many cells as its table's header.
        for table in re.findall(r"(?:^\|.*\n?)+", prose, re.M):
            rows = table.splitlines()
            assert {_jira_cells(r) for r in rows} == {_jira_cells(rows[0])}, rows[:2]
        # The hostile text is still there to read, escaped.
        assert "\\[bold red\\]x\\[/\\]" in prose
        if args[0] == "diff" and "tcp connected" not in out:
            assert blocks, "the suspects' stacks are in {noformat} blocks"


# --- HTML ------------------------------------------------------------------------------------

HTML_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "p", "code", "table",
    "thead", "tbody", "tr", "th", "td", "details", "summary", "pre", "section", "ul", "li",
    "span", "svg", "polyline", "line", "text", "rect", "script", "a", "div",
}  # fmt: skip


class _Elements:
    """Every element and attribute of a page, as a browser's parser sees them."""

    def __init__(self, page: str) -> None:
        from html.parser import HTMLParser

        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        outer = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
                outer.tags.append((tag, attrs))

            def handle_data(self, data: str) -> None:
                outer.text.append(data)

        Parser(convert_charrefs=True).feed(page)


def test_html_report_is_inert(dumps: list[Path]) -> None:
    for args in commands(dumps):
        out, _ = run(*args, "--format", "html")
        assert not CONTROL.findall(out)
        page = _Elements(out)
        assert {tag for tag, _ in page.tags} <= HTML_TAGS
        assert [tag for tag, _ in page.tags].count("script") == 1  # our own, at the end
        for tag, attrs in page.tags:
            for name, value in attrs:
                assert not name.startswith("on"), (tag, name)
                assert name not in ("src", "href", "srcset", "action"), (tag, name, value)
            assert ("open", None) not in attrs
        text = "".join(page.text)
        # The hostile text is there to read, as text.
        assert "[bold red]x[/]" in text
        assert "<script>alert(1)</script>" in text or "tcp connected" in text
        assert "more characters)" in text
