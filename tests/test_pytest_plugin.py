"""The pytest plugin, run for real: small suites in a pytest subprocess (pytester), each with the
plugin loaded from its entry point as a user gets it."""

from __future__ import annotations

import json
import re
import textwrap
import threading
import time
from pathlib import Path

import pytest

from snapdiff.model import Frame
from snapdiff.pytest_plugin import _live, _rules
from snapdiff.render import markdown as md

# The suites need neither; hypothesis's plugin alone takes seconds to import on a busy machine.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
"""

# One suite with every case: a subprocess costs a second or two, so the cases share runs.
SUITE = """
import asyncio, threading, time
from concurrent.futures import ThreadPoolExecutor
import pytest

_kept = []


def wait_forever(stop):
    stop.wait()


@pytest.fixture(scope="session")
def server():
    # Started in the first test's setup, stopped at the end of the session: not that test's.
    stop = threading.Event()
    thread = threading.Thread(target=wait_forever, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


def test_clean(server):
    t = threading.Thread(target=time.sleep, args=(0.01,))
    t.start()
    t.join()
    with ThreadPoolExecutor(2) as ex:
        ex.submit(time.sleep, 0.01).result()


def test_thread_left():
    stop = threading.Event()
    threading.Thread(target=wait_forever, args=(stop,), daemon=True).start()  # SITE-thread


def test_executor_left():
    ex = ThreadPoolExecutor(1, thread_name_prefix="left")
    _kept.append(ex)
    ex.submit(time.sleep, 0.01).result()  # SITE-executor


def test_thread_ends_in_grace():
    threading.Thread(target=time.sleep, args=(0.2,)).start()


@pytest.mark.asyncio
async def test_task_left():
    asyncio.create_task(asyncio.Event().wait())  # SITE-task


@pytest.mark.asyncio
async def test_task_ends_in_grace():
    asyncio.create_task(asyncio.sleep(0.2))


@pytest.mark.asyncio
async def test_task_cleaned_up():
    task = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    task.cancel()


@pytest.mark.anyio
async def test_anyio_task_left():
    asyncio.get_running_loop().create_task(asyncio.Event().wait())  # SITE-anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""

NAME = "evil\x1b[31m|`x`<b>*"  # a thread's name in test_ignore_rules_from_ini_and_markers
LEAKY = {"test_thread_left", "test_executor_left", "test_task_left", "test_anyio_task_left"}


def line_of(source: str, tag: str) -> int:
    for number, line in enumerate(source.splitlines(), 1):
        if line.rstrip().endswith(f"# {tag}"):
            return number
    raise AssertionError(tag)


def errors_of(result: pytest.RunResult) -> set[str]:
    return {
        line.split("::")[1].split(" ")[0]
        for line in result.outlines
        if line.startswith("ERROR ") and "::" in line
    }


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_leaks_fail_their_test_with_the_creation_site(suite: pytest.Pytester) -> None:
    source = SUITE.lstrip("\n")
    result = suite.runpytest_subprocess(
        "--snapdiff-leaks",
        "--snapdiff-leaks-grace=0.5",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "--snapdiff-leaks-report",
        "leaks.json",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert errors_of(result) == LEAKY
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 8 and outcomes["errors"] == 4
    text = result.stdout.str()
    for tag in ("thread", "executor", "task", "anyio"):
        assert f"test_suite.py:{line_of(source, 'SITE-' + tag)}" in text
    assert "1 thread left behind" in text
    assert "pending when its loop was shut down" in text

    doc = json.loads((suite.path / "leaks.json").read_text())
    assert doc["format"] == "snapdiff-pytest-leaks" and doc["checks"] == 8
    sites = {(s["kind"], s["site"]["line"]): s for s in doc["sites"]}
    assert set(sites) == {
        ("thread", line_of(source, "SITE-thread")),
        ("thread", line_of(source, "SITE-executor")),
        ("asyncio-task", line_of(source, "SITE-task")),
        ("asyncio-task", line_of(source, "SITE-anyio")),
    }
    thread = sites[("thread", line_of(source, "SITE-thread"))]
    assert thread["key"] == "creation site"
    assert thread["site"]["function"] == "test_thread_left"
    assert thread["tests"] == ["test_suite.py::test_thread_left"]
    assert [f["function"] for f in thread["example"]][-1] == "wait_forever"
    executor = sites[("thread", line_of(source, "SITE-executor"))]
    assert executor["names"] == ["left_0"]
    task = sites[("asyncio-task", line_of(source, "SITE-task"))]
    assert task["states"] == [["pending when its loop was shut down", 1]]
    assert task["waiting"][0][0].startswith("Event.wait")


def test_off_unless_enabled_and_the_marker_checks_one_test(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess(*QUIET)
    assert result.ret == pytest.ExitCode.OK
    assert result.parseoutcomes()["passed"] == 8
    assert "left behind" not in result.stdout.str()

    suite.makepyfile(
        test_marked="""
        import threading, pytest

        @pytest.mark.no_leaks
        def test_marked():
            threading.Thread(target=threading.Event().wait, daemon=True).start()

        def test_unmarked():
            threading.Thread(target=threading.Event().wait, daemon=True).start()
        """
    )
    result = suite.runpytest_subprocess(*QUIET, "test_marked.py")
    assert errors_of(result) == {"test_marked"}
    assert "1 check)" in result.stdout.str()


def test_ignore_rules_from_ini_and_markers(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import threading
        def forever():
            threading.Event().wait()
        threading.Thread(target=forever, daemon=True).start()
        """
    )
    path = pytester.makepyfile(
        test_rules="""
        import threading, time
        import pytest
        from conftest import forever

        def keep_polling():
            while True:
                time.sleep(0.05)

        def inner():
            keep_polling()

        def test_site_ignored():
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()  # SITE

        def test_function_ignored():
            threading.Thread(target=inner, daemon=True).start()

        def test_name_ignored():
            name = "background-7"
            threading.Thread(target=time.sleep, args=(60,), name=name, daemon=True).start()

        def test_current_ignored():
            threading.Thread(target=forever, daemon=True).start()

        @pytest.mark.snapdiff_leaks("site:test_marker_rule", grace=0)
        def test_marker_rule():
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()

        @pytest.mark.snapdiff_leaks(check=False)
        def test_not_checked():
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()

        def test_still_caught():
            name = "evil\\x1b[31m|`x`<b>*"  # NAME
            threading.Thread(target=time.sleep, args=(60,), name=name, daemon=True).start()
        """
    )
    site = line_of(path.read_text(), "SITE")
    pytester.makeini(
        INI
        + textwrap.dedent(
            f"""
            snapdiff_leaks = true
            snapdiff_leaks_grace = 0.2
            snapdiff_leaks_ignore =
                site:test_rules.py:{site}
                function:*.keep_polling
                thread:background-*
                current
            """
        )
    )
    result = pytester.runpytest_subprocess(*QUIET, "--snapdiff-leaks-report=r.md")
    assert errors_of(result) == {"test_still_caught"}, result.stdout.str()
    text = result.stdout.str()
    assert "(6 checks, 5 ignored)" in text
    # A thread's name is the program's text: shown, never interpreted.
    assert "\x1b[31m" not in text and "evil\\x1b[31m|`x`<b>*" in text
    report = (pytester.path / "r.md").read_text()
    assert report.startswith("## Tasks left behind by the test suite")
    assert "| thread | 1 | `test_still_caught`" in report
    # In the table the name is a code span (where "<b>" is text); nowhere else raw.
    assert "\x1b" not in report
    assert f"| {md.code(NAME, 80)} |" in report
    assert "<b>" not in re.sub(r"(`+).*?\1", "", report)


@pytest.mark.slow
def test_module_scope_names_the_test(suite: pytest.Pytester) -> None:
    source = SUITE.lstrip("\n")
    result = suite.runpytest_subprocess(
        "--snapdiff-leaks", "--snapdiff-leaks-scope", "module", *QUIET
    )
    # One check at the end of the module, reported at the last test's teardown.
    assert errors_of(result) == {"test_anyio_task_left"}
    text = result.stdout.str()
    assert "checked at the end of this module" in text
    assert "created by test: test_suite.py::test_executor_left" in text
    assert f"test_suite.py:{line_of(source, 'SITE-task')}" in text
    assert "4 threads" not in text and "2 threads and 2 asyncio tasks left behind" in text


def test_a_marked_test_in_module_scope_reports_its_leak_once(pytester: pytest.Pytester) -> None:
    # The marked test checks itself; the module's check at its end must not report the same
    # thread again at the last test's teardown.
    pytester.makeini(INI)
    pytester.makepyfile(
        test_marked="""
        import threading
        import pytest

        stop = threading.Event()

        @pytest.mark.snapdiff_leaks
        def test_marked_leaks():
            threading.Thread(target=stop.wait, name="marked-left", daemon=True).start()

        def test_last():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        "--snapdiff-leaks", "--snapdiff-leaks-scope", "module", *QUIET
    )
    assert errors_of(result) == {"test_marked_leaks"}
    text = result.stdout.str()
    assert "checked at the end of this test" in text
    assert "checked at the end of this module" not in text


@pytest.mark.slow
def test_warn_instead_of_failing(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess(
        "--snapdiff-leaks",
        "--snapdiff-leaks-action",
        "warn",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "-k",
        "thread_left",
    )
    assert result.ret == pytest.ExitCode.OK
    text = result.stdout.str()
    assert "LeakWarning" in text and "1 thread left behind" in text


def test_report_never_replaced_without_force(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("def test_x(): pass")
    (pytester.path / "leaks.md").write_text("earlier report\n")
    result = pytester.runpytest_inprocess("--snapdiff-leaks", "--snapdiff-leaks-report", "leaks.md")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "leaks.md: already exists; use --snapdiff-leaks-force" in result.stderr.str()
    assert (pytester.path / "leaks.md").read_text() == "earlier report\n"


@pytest.mark.slow
def test_xdist_workers_report_to_the_controller(suite: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = suite.runpytest_subprocess(
        "--snapdiff-leaks",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "--snapdiff-leaks-report",
        "leaks.json",
    )
    assert errors_of(result) == LEAKY
    doc = json.loads((suite.path / "leaks.json").read_text())
    assert doc["checks"] == 8
    assert sorted(s["tests"][0].split("::")[1] for s in doc["sites"]) == sorted(LEAKY)


# -- the rules, in process ---------------------------------------------------------------------


def candidate(site: Frame | None, frames: tuple[Frame, ...], name: str = "t") -> _rules.Candidate:
    key = (site.function, site.file, site.line) if site else ("?", "", 0)
    return _rules.Candidate("thread", name, site, frames, key, ("run", "/srv/app/pool.py"))


def test_rules_match_as_documented() -> None:
    site = Frame("Pool.start", "/srv/app/pool.py", 42)
    frames = (
        Frame("Condition.wait", "/usr/lib/python3.12/threading.py", 320),
        Frame("BaseServer.serve_forever", "/usr/lib/python3.12/socketserver.py", 235),
    )
    c = candidate(site, frames, "ThreadPoolExecutor-3_0")
    none = _rules.Current()

    def hit(text: str) -> bool:
        return _rules.matches(_rules.parse(text, "test"), c, none)

    assert hit("site:app/pool.py:42") and not hit("site:app/pool.py:43")
    assert hit("site:pool.py") and not hit("site:ool.py")
    assert hit("site:Pool.start") and hit("site:pool.Pool.*")
    assert hit("function:socketserver.BaseServer.serve_forever")
    assert hit("function:*.serve_forever") and not hit("function:serve_forever")
    assert hit("top:Condition.wait") and not hit("top:BaseServer.serve_forever")
    assert hit("thread:ThreadPoolExecutor-*") and not hit("task:ThreadPoolExecutor-*")
    assert not hit("current")
    assert _rules.matches(_rules.parse("current", "t"), c, _rules.Current(sites=frozenset({c.key})))
    running = _rules.Current(entries=frozenset({("run", "/srv/app/pool.py")}))
    assert _rules.matches(_rules.parse("current", "t"), c, running)


@pytest.mark.parametrize("bad", ["site", "nowhere:x", "site:", "function"])
def test_a_bad_rule_says_what_is_expected(bad: str) -> None:
    with pytest.raises(_rules.RuleError, match=rf"^ini: cannot read ignore rule '{bad}': expected"):
        _rules.parse(bad, "ini")


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("/usr/lib/python3.12/socketserver.py", "socketserver"),
        ("/v/lib/python3.11/site-packages/anyio/_backends/_asyncio.py", "anyio._backends._asyncio"),
        ("/v/lib/python3.11/site-packages/tqdm/__init__.py", "tqdm"),
        ("/home/me/proj/tests/test_x.py", "test_x"),
    ],
)
def test_module_of(path: str, module: str) -> None:
    assert _rules.module_of(path) == module


def test_usage_errors(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_inprocess("--snapdiff-leaks", "--snapdiff-leaks-grace", "soon")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--snapdiff-leaks-grace: not a number of seconds: 'soon'" in result.stderr.str()
    result = pytester.runpytest_inprocess("--snapdiff-leaks", "--snapdiff-leaks-ignore", "x:y")
    assert "cannot read ignore rule 'x:y'" in result.stderr.str()


def test_every_option_is_documented(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    result = pytester.runpytest_inprocess("--help")
    text = result.stdout.str()
    options = set(re.findall(r"--snapdiff-leaks[a-z-]*", text))
    inis = set(re.findall(r"\bsnapdiff_leaks[a-z_]*", text))
    assert len(options) == 9 and len(inis) == 6
    doc = (Path(__file__).resolve().parent.parent / "docs" / "pytest.md").read_text()
    for name in sorted(options | inis):
        assert f"`{name}" in doc, f"docs/pytest.md does not describe {name}"
    for rule in _rules.BUILTIN:
        assert f"`{rule.text()}`" in doc, f"docs/pytest.md does not list {rule.text()}"


# -- the grace period, in process -------------------------------------------------------------


def test_no_wait_when_nothing_is_left() -> None:
    base = _live.baseline()
    slept: list[float] = []
    assert _live.settle(base, 5.0, lambda f: False, sleep=slept.append) == []
    assert slept == []


def test_what_ends_within_the_grace_period_is_not_left_behind() -> None:
    base = _live.baseline()
    ending = threading.Thread(target=time.sleep, args=(0.05,))
    stop = threading.Event()
    staying = threading.Thread(target=stop.wait, name="staying")
    ending.start()
    staying.start()
    try:
        t0 = time.monotonic()
        left = _live.settle(base, 0.5, lambda f: False)
        waited = time.monotonic() - t0
    finally:
        stop.set()
        staying.join()
        ending.join()
    assert [(f.kind, f.name, f.state) for f in left] == [("thread", "staying", "alive")]
    assert left[0].entry is not None and left[0].entry.function == "Event.wait"
    assert 0.5 <= waited < 5  # the staying thread: the whole grace period, then no more


def test_an_ignored_thread_is_not_waited_for() -> None:
    base = _live.baseline()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="ignored")
    thread.start()
    slept: list[float] = []
    try:
        left = _live.settle(base, 5.0, lambda f: f.name == "ignored", sleep=slept.append)
    finally:
        stop.set()
        thread.join()
    assert left == [] and slept == []
