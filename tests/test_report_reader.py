"""What a person reading a report meets: where the suspect's tasks wait, their ages, the noise
folded, links to the code, tables that fit, every value at 80 columns, and the command line's
small courtesies. All on the real sample dumps."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snapdiff import inputs, runtimes
from snapdiff.compare import profile
from snapdiff.group import GroupBy, group
from snapdiff.model import Frame
from snapdiff.render.options import Links
from snapdiff.waits import waiting
from tests.conftest import GO_DUMPS, ROOT, SAMPLES

GO = GO_DUMPS / "go1.27"
GO_PAIR = [str(GO / "t0.debug2.txt"), str(GO / "t1.debug2.txt")]
JDK = SAMPLES / "java" / "dumps" / "jdk17"
TEMPLATE = "https://git.example/repo/blob/{ref}/{path}#L{line}"


def run(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    base: dict[str, str | None] = {
        "COLUMNS": "80",
        "NO_COLOR": None,
        "TERM": "xterm",
        "SNAPDIFF_LINK_TEMPLATE": None,
        "SNAPDIFF_PATH_MAP": None,
        "SNAPDIFF_LINK_REF": None,
    }
    result = CliRunner(env={**base, **(env or {})}).invoke(app_(), list(args), prog_name="snapdiff")
    return result.exit_code, result.stdout, result.stderr


def app_():  # type: ignore[no-untyped-def]
    from snapdiff.cli import app

    return app


# --- where they wait -------------------------------------------------------------------------


def _waiting_of(path: Path, function: str):  # type: ignore[no-untyped-def]
    snap = inputs.load(str(path))
    rt = runtimes.of(snap)
    for key, tasks in group(snap.tasks, GroupBy.SITE, rt=rt).items():
        if key.function == function:
            return waiting(profile(tasks), rt)
    raise AssertionError(f"no group {function}")


def test_go_suspect_waits_in_its_own_code_with_the_count() -> None:
    w = _waiting_of(GO / "t1.debug2.txt", "main.fetchAll")
    assert w is not None
    assert (w.state, w.frame, w.count, w.total, w.app) == (
        "chan send",
        Frame("main.fetchOne", "snapdiff.example/leaky/fanout.go", 53),
        278,
        279,
        True,
    )
    assert (w.oldest_wait_minutes, w.median_wait_minutes) == (1, 0)


def test_the_capture_s_own_goroutine_is_not_where_the_application_waits() -> None:
    """The pprof handler's goroutine runs in the runtime and net/http only: no frame of the
    application, so its place is the runtime's innermost frame outside ``runtime.``."""
    w = _waiting_of(GO / "t1.debug2.txt", "net/http.(*Server).Serve")
    assert w is not None and not w.app


def test_jvm_pool_workers_wait_in_the_queue_not_in_unsafe_park() -> None:
    w = _waiting_of(JDK / "t1.txt", "java.util.concurrent.ThreadPoolExecutor$Worker.run")
    assert w is not None and not w.app
    assert (
        w.frame is not None and w.frame.function == "java.util.concurrent.LinkedBlockingQueue.take"
    )


def test_python_text_dump_stdlib_by_relative_name_is_not_the_application() -> None:
    w = _waiting_of(SAMPLES / "python/dumps/py3.12/t1.txt", "_worker")
    assert w is not None and not w.app
    w = _waiting_of(SAMPLES / "python/dumps/py3.12/t1.txt", "request_loop")
    assert w is not None and w.app and w.frame is not None
    assert w.frame.file == "leaky_threads.py"


def test_headline_says_where_and_how_many_in_every_format() -> None:
    code, out, _ = run("diff", *GO_PAIR, "--elapsed", "70s", "-q")
    assert code == 0
    head = " ".join(out.split("\n\n", 1)[0].split())
    assert head.endswith(
        "grew by 261, +224/min; 278 of 279 wait in chan send at leaky/fanout.go:53."
    )
    for fmt, place in (("markdown", "`leaky/fanout.go:53`"), ("jira", "{{leaky/fanout.go:53}}")):
        code, out, _ = run("diff", *GO_PAIR, "--elapsed", "70s", "-q", "-f", fmt)
        assert f"278 of 279 wait in chan send at {place}." in out.split("\n\n")[1]


# --- ages ------------------------------------------------------------------------------------


def test_ages_in_json_and_text() -> None:
    _, out, _ = run("diff", *GO_PAIR, "--elapsed", "70s", "-q", "-f", "json")
    top = json.loads(out)["groups"][0]
    assert top["waiting"]["oldest_wait_minutes"] == 1
    assert top["waiting"]["median_wait_minutes"] == 0
    assert top["waiting"]["count"] == 278 and top["waiting"]["line"] == 53
    assert top["alive_at_least_seconds"] == 70.0
    _, out, _ = run("diff", *GO_PAIR, "--elapsed", "70s", "-q")
    assert "ages: oldest waiting 1 min, median under 1 min; 18 alive for at least 1m 10s" in out


# --- noise -----------------------------------------------------------------------------------


def test_steady_and_internal_sites_fold_into_one_line_and_all_lists_them() -> None:
    _, folded, _ = run("diff", *GO_PAIR, "-q", "--color", "never")
    _, every, _ = run("diff", *GO_PAIR, "-q", "--color", "never", "--all")
    assert "+ 9 steady or internal sites, 16 goroutines (--all lists them)" in folded
    assert "main.startPool" not in folded and "startBackgroundRead" not in folded
    assert "main.startPool" in every and "startBackgroundRead" in every
    assert "steady or internal" not in every


def test_a_note_on_both_inputs_is_said_once() -> None:
    pair = [str(GO / "t0.debug1.txt"), str(GO / "t1.debug1.txt")]
    for fmt in ("text", "markdown", "jira", "html"):
        _, out, _ = run("diff", *pair, "-q", "-f", fmt, env={"COLUMNS": "300"})
        assert out.count("debug=1 profiles have no goroutine ids") == 1, fmt


# --- links -----------------------------------------------------------------------------------


def test_links_to_the_code_with_a_path_map() -> None:
    args = ["diff", *GO_PAIR, "-q", "--link-template", TEMPLATE, "--link-ref", "v1.2"]
    _, out, _ = run(*args, "--path-map", "snapdiff.example/=", "-f", "markdown")
    assert "[`leaky/fanout.go:53`](https://git.example/repo/blob/v1.2/leaky/fanout.go#L53)" in out
    # A path no map matches (the standard library's) gets no link.
    assert "(https://git.example/repo/blob/v1.2/http/" not in out
    _, out, _ = run(*args, "--path-map", "snapdiff.example/=", "-f", "jira")
    assert "[{{leaky/fanout.go:53}}|https://git.example/repo/blob/v1.2/leaky/fanout.go#L53]" in out
    _, out, _ = run(*args, "--path-map", "snapdiff.example/=", "-f", "html")
    assert '<a href="https://git.example/repo/blob/v1.2/leaky/fanout.go#L53">' in out


def test_a_frame_without_a_line_links_to_its_file() -> None:
    links = Links(TEMPLATE, (("snapdiff.example/", ""),), "v1.2")
    file = "snapdiff.example/leaky/main.go"
    assert links.url(Frame("main.main", file, 81)) == (
        "https://git.example/repo/blob/v1.2/leaky/main.go#L81"
    )
    assert links.url(Frame("main.main", file, 0)) == (
        "https://git.example/repo/blob/v1.2/leaky/main.go"
    )
    # A line outside the fragment cannot be left out: it is 1.
    query = Links("https://git.example/view?file={path}&line={line}")
    assert query.url(Frame("f", "a/b.go", 0)) == "https://git.example/view?file=a/b.go&line=1"


def test_links_from_the_environment() -> None:
    env = {"SNAPDIFF_LINK_TEMPLATE": TEMPLATE, "SNAPDIFF_PATH_MAP": "snapdiff.example/=src/"}
    _, out, _ = run("diff", *GO_PAIR, "-q", "-f", "markdown", env=env)
    assert "(https://git.example/repo/blob/main/src/leaky/fanout.go#L53)" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--link-template", "javascript:alert(1)//{path}"],
        ["--link-template", "https://git.example/no-path"],
        ["--path-map", "a=b"],
        ["--link-template", TEMPLATE, "--path-map", "no-equals-sign"],
    ],
)
def test_bad_link_options_are_usage_errors(args: list[str]) -> None:
    code, out, err = run("diff", *GO_PAIR, "-q", "-f", "markdown", *args)
    assert code == 2 and out == ""
    assert err.startswith("snapdiff: error: --")


# --- widths ----------------------------------------------------------------------------------


def _cells(row: str) -> int:
    cells = [c for c in re.split(r"(?<!\\)\|", row)[1:-1]]
    return sum(len(re.sub(r"\]\([^)]*\)", "", c.strip())) for c in cells)


@pytest.mark.parametrize(
    "args",
    [
        ["diff", str(JDK / "t0.txt"), str(JDK / "t1.txt")],
        ["trend", str(SAMPLES / "series/py-noisy")],
        ["trend", str(SAMPLES / "series/go-leakprofile")],
    ],
)
def test_markdown_tables_keep_to_about_100_characters_of_cells(args: list[str]) -> None:
    _, out, _ = run(*args, "-q", "-f", "markdown", "--all")
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows
    names_alone = [r for r in rows if _cells(r) > 100]
    # A row may be longer only by its group's own name: its other cells are short.
    for row in names_alone:
        cells = re.split(r"(?<!\\)\|", row)[1:-1]
        assert sum(len(c.strip()) for c in cells) - max(len(c.strip()) for c in cells) <= 100


def test_trend_of_many_snapshots_loses_no_value_at_80_columns() -> None:
    folders = [str(SAMPLES / "series/go-leakprofile"), str(SAMPLES / "series/go-leaky")]
    code, out, err = run("trend", *folders, "-q", "--color", "never", "--all")
    assert code == 0, err
    lines = out.splitlines()
    assert max(map(len, lines)) <= 80
    _, data, _ = run("trend", *folders, "-q", "-f", "json")
    joined = re.sub(r"\n +", " ", out)
    for g in json.loads(data)["groups"]:
        label = g["key_function"] or "(no stack)"
        assert label in out.replace("\n", ""), label
        assert f"{g['before']:,} -> {g['after']:,}" in joined, label


# --- the command line ------------------------------------------------------------------------


def test_h_is_help_and_placeholders_are_conventional() -> None:
    code, out, _ = run("diff", "-h", env={"COLUMNS": "200"})
    assert code == 0 and "Usage: snapdiff diff" in out
    for bad in ("<str>", "<int range>", "<float range>", " TEXT", " INTEGER"):
        assert bad not in out, bad
    for good in (
        "--output FILE",
        "--elapsed DURATION",
        "--fail-on-growth N",
        "--link-template URL",
    ):
        assert good in out
    code, out, _ = run("-h", env={"COLUMNS": "80"})
    assert code == 0
    assert "..." not in out.split("Commands:", 1)[1], "a command's summary was cut"


@pytest.mark.parametrize("option", [["--after", "1m"], ["--save", "out/"]])
def test_live_only_options_without_live_are_usage_errors(option: list[str]) -> None:
    code, _, err = run("diff", *GO_PAIR, *option)
    assert code == 2
    assert f"snapdiff: error: {option[0]} goes with --live" in err


def test_trend_folder_with_a_stray_file_skips_it(tmp_path: Path) -> None:
    for f in (SAMPLES / "series/go-leaky").glob("*.json.gz"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "notes.txt").write_text("what we did at 10:02\n", "utf-8")
    code, out, err = run("trend", str(tmp_path), "-q")
    assert code == 0
    assert f"snapdiff: warning: skipped {tmp_path / 'notes.txt'}: not a dump" in err
    assert out.startswith("6 snapshots over 50s")


def test_trend_missing_folder_says_so(tmp_path: Path) -> None:
    code, _, err = run("trend", str(tmp_path / "nope"))
    assert code == 3
    assert err == f"snapdiff: error: {tmp_path / 'nope'}: no such file or folder\n"


def test_footer_names_the_file_passed(tmp_path: Path) -> None:
    snap = tmp_path / "after.json.gz"
    code, _, err = run("convert", GO_PAIR[1], "-o", str(snap), "-q")
    assert code == 0, err
    _, out, _ = run("diff", GO_PAIR[0], str(snap), "-q", env={"COLUMNS": "300"})
    assert f"after:  {snap} (" in out
    _, out, _ = run("diff", GO_PAIR[0], str(snap), "-q", "-f", "json")
    after = json.loads(out)["after"]
    assert after["origin"] == str(snap)
    assert after["capture"]["dump"] == str(Path(GO_PAIR[1]).relative_to(ROOT)) or after["capture"][
        "dump"
    ].endswith("t1.debug2.txt")


def test_rate_unknown_points_to_capture_and_elapsed() -> None:
    _, out, _ = run("diff", *GO_PAIR, "-q", env={"COLUMNS": "300"})
    assert "pass --elapsed 5m (the time between them), or take them with 'snapdiff capture'" in out
