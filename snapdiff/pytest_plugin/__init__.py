"""The leak gate for test suites: a test that leaves threads or asyncio tasks behind fails (or
warns), with a report per creation site. See docs/pytest.md.

pytest loads this module through the ``pytest11`` entry point whenever snapdiff is installed; it
does nothing until enabled (``--snapdiff-leaks``, ``snapdiff_leaks = true`` in the ini file, or a
``snapdiff_leaks``/``no_leaks`` marker on a test). Enabled, it installs the probe's hooks (where
each thread is started and each asyncio task created) when the first checked test starts, takes a
baseline before the test (or the module, or the session), and after it, once every fixture is
torn down, lists what is new and still running; a short grace period lets what is about to end
end. The check fails the teardown of the test (pytest counts it as an error of that test, as it
does a failing fixture finalizer); with ``--snapdiff-leaks-action warn`` it is a warning.
"""

from __future__ import annotations

import bisect
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from snapdiff.pytest_plugin import _rules

if TYPE_CHECKING:
    from snapdiff.pytest_plugin._live import Baseline, Found, Reaper
    from snapdiff.pytest_plugin._report import SiteLeak

__all__ = ["LeakWarning"]

SCOPES = ("test", "module", "session")
# pytest's fixture scopes, narrowest first; a check's scope ranks as the fixture scope it ends with.
FIXTURE_RANK = {"function": 0, "class": 1, "module": 2, "package": 3, "session": 4}
CHECK_RANK = {"test": 0, "module": 2, "session": 4}
ACTIONS = ("fail", "warn")
FORMATS = ("json", "markdown")
MARKERS = ("snapdiff_leaks", "no_leaks")
_PLUGIN_NAME = "snapdiff-leak-gate"


class LeakWarning(pytest.PytestWarning):
    """A test left threads or asyncio tasks behind (``--snapdiff-leaks-action warn``)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("snapdiff", "snapdiff: threads and asyncio tasks left behind")
    group.addoption(
        "--snapdiff-leaks",
        action="store_true",
        default=None,
        help="fail a test that leaves threads or asyncio tasks behind (ini: snapdiff_leaks)",
    )
    group.addoption(
        "--snapdiff-leaks-scope",
        choices=SCOPES,
        default=None,
        help="check after each test (default), each module, or once for the whole session "
        "(ini: snapdiff_leaks_scope)",
    )
    group.addoption(
        "--snapdiff-leaks-action",
        choices=ACTIONS,
        default=None,
        help="fail (default) or warn (ini: snapdiff_leaks_action)",
    )
    group.addoption(
        "--snapdiff-leaks-grace",
        metavar="SECONDS",
        default=None,
        help="how long to wait for threads and tasks to end before calling them left behind; "
        "no wait when nothing is left (default 1.0; ini: snapdiff_leaks_grace)",
    )
    group.addoption(
        "--snapdiff-leaks-ignore",
        metavar="RULE",
        action="append",
        default=[],
        help="ignore what matches RULE: site:FILE[:LINE] | site:FUNCTION | function:NAME | "
        "top:NAME | thread:NAME | task:NAME | current (repeatable; ini: snapdiff_leaks_ignore)",
    )
    group.addoption(
        "--snapdiff-leaks-no-builtin-ignores",
        action="store_true",
        default=False,
        help="also report the known background threads of pytest plugins and libraries "
        "(ini: snapdiff_leaks_builtin_ignores = false)",
    )
    group.addoption(
        "--snapdiff-leaks-report",
        metavar="FILE",
        default=None,
        help="write a report of what was left behind to FILE (JSON, or Markdown for .md)",
    )
    group.addoption(
        "--snapdiff-leaks-report-format",
        choices=FORMATS,
        default=None,
        help="the report file's format (default: from the file name)",
    )
    group.addoption(
        "--snapdiff-leaks-force",
        action="store_true",
        default=False,
        help="replace the report file if it exists",
    )
    parser.addini("snapdiff_leaks", "check every test for leaks (bool)", type="bool", default=False)
    parser.addini("snapdiff_leaks_scope", "test | module | session", default="test")
    parser.addini("snapdiff_leaks_action", "fail | warn", default="fail")
    parser.addini("snapdiff_leaks_grace", "grace period in seconds", default="1.0")
    parser.addini("snapdiff_leaks_ignore", "ignore rules, one a line", type="linelist", default=[])
    parser.addini(
        "snapdiff_leaks_builtin_ignores",
        "ignore known background threads of pytest plugins and libraries (bool)",
        type="bool",
        default=True,
    )


@dataclass(frozen=True, slots=True)
class Settings:
    enabled: bool
    scope: str
    action: str
    grace: float
    rules: tuple[_rules.Rule, ...]
    report: Path | None
    report_format: str
    force: bool


@dataclass(frozen=True, slots=True)
class TestOptions:
    check: bool  # this test is checked on its own
    action: str
    grace: float
    rules: tuple[_rules.Rule, ...]  # the marker's, before the session's
    skip: bool  # check=False: what this test leaves behind is not reported


def _grace(value: object, where: str) -> float:
    try:
        grace = float(str(value))
    except ValueError:
        raise pytest.UsageError(f"{where}: not a number of seconds: {value!r}") from None
    if not 0 <= grace <= 3600:
        raise pytest.UsageError(f"{where}: must be between 0 and 3600 seconds, not {value!r}")
    return grace


def _choice(value: object, choices: tuple[str, ...], where: str) -> str:
    text = str(value).strip().lower()
    if text not in choices:
        raise pytest.UsageError(f"{where}: expected one of {', '.join(choices)}, not {value!r}")
    return text


def read_settings(config: pytest.Config) -> Settings:
    opt = config.option
    enabled = bool(opt.snapdiff_leaks) or bool(config.getini("snapdiff_leaks"))
    scope = _choice(
        opt.snapdiff_leaks_scope or config.getini("snapdiff_leaks_scope"), SCOPES, "scope"
    )
    action = _choice(
        opt.snapdiff_leaks_action or config.getini("snapdiff_leaks_action"), ACTIONS, "action"
    )
    grace_value = opt.snapdiff_leaks_grace
    grace = _grace(
        grace_value if grace_value is not None else config.getini("snapdiff_leaks_grace"),
        "--snapdiff-leaks-grace" if grace_value is not None else "snapdiff_leaks_grace",
    )
    try:
        rules = _rules.parse_all(opt.snapdiff_leaks_ignore, "--snapdiff-leaks-ignore")
        rules += _rules.parse_all(config.getini("snapdiff_leaks_ignore"), "snapdiff_leaks_ignore")
    except _rules.RuleError as exc:
        raise pytest.UsageError(str(exc)) from None
    if (
        config.getini("snapdiff_leaks_builtin_ignores")
        and not opt.snapdiff_leaks_no_builtin_ignores
    ):
        rules += _rules.BUILTIN
    report = None
    fmt = "json"
    if opt.snapdiff_leaks_report:
        report = config.invocation_params.dir / opt.snapdiff_leaks_report
        fmt = opt.snapdiff_leaks_report_format or (
            "markdown" if report.suffix.lower() in (".md", ".markdown") else "json"
        )
    return Settings(
        enabled, scope, action, grace, rules, report, fmt, bool(opt.snapdiff_leaks_force)
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "snapdiff_leaks(*ignore, grace=None, action=None, check=True): check this test for "
        "threads and asyncio tasks left behind; positional arguments are ignore rules",
    )
    config.addinivalue_line(
        "markers",
        "no_leaks(*ignore, grace=None, action=None, check=True): the same as snapdiff_leaks",
    )
    settings = read_settings(config)
    is_worker = hasattr(config, "workerinput")
    report = settings.report
    if report is not None and not is_worker and not settings.force and report.is_file():
        raise pytest.UsageError(
            f"{settings.report}: already exists; use --snapdiff-leaks-force to replace it"
        )
    config.pluginmanager.register(LeakGate(config, settings, is_worker), _PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    gate = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if isinstance(gate, LeakGate):
        gate.close()
        config.pluginmanager.unregister(gate)


_RESULT = pytest.StashKey[tuple[str, list[object], int, int]]()


class LeakGate:
    """The per-session state: settings, the hooks once installed, the baselines, the results."""

    def __init__(self, config: pytest.Config, settings: Settings, is_worker: bool) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = is_worker
        self.root = str(config.rootpath)
        self.reaper: Reaper | None = None
        self.session_base: Baseline | None = None
        self.module_base: Baseline | None = None
        self.test_base: Baseline | None = None
        self.current = _rules.Current()
        self.windows: list[tuple[float, str]] = []  # (start, node id) of each test, in order
        self.options: dict[str, TestOptions] = {}
        self.carried: list[Found] = []
        # (start, end, scope rank) of each setup of a fixture wider than a test
        self.fixture_windows: list[tuple[float, float, int]] = []
        self.ignored = 0
        # What the reports said (on the xdist controller: what the workers said).
        self.leaks: list[SiteLeak] = []
        self.checks = 0
        self.total_ignored = 0
        self.report_error: str | None = None

    # -- set-up ----------------------------------------------------------------------------

    def close(self) -> None:
        if self.reaper is not None:
            from snapdiff.pytest_plugin import _live

            _live.uninstall()
            self.reaper = None

    def _install(self) -> Reaper:
        if self.reaper is None:
            from snapdiff.pytest_plugin import _live

            reaper = _live.Reaper()
            reaper.grace = self.settings.grace
            _live.install(reaper)
            self.reaper = reaper
            # For the rule "current" (in the ini file or in any test's marker).
            running = _live.running()
            self.current = _rules.Current(
                frozenset(f.key for f in running if f.site is not None),
                frozenset(f.entry_key for f in running if f.entry is not None),
            )
        return self.reaper

    def item_options(self, item: pytest.Item) -> TestOptions:
        opts = self.options.get(item.nodeid)
        if opts is not None:
            return opts
        s = self.settings
        marked = False
        check = True
        action = s.action
        grace = s.grace
        rules: tuple[_rules.Rule, ...] = ()
        for name in MARKERS:
            for mark in item.iter_markers(name):
                marked = True
                where = f"{item.nodeid}: @pytest.mark.{name}"
                try:
                    rules += _rules.parse_all([str(a) for a in mark.args], where)
                except _rules.RuleError as exc:
                    raise pytest.UsageError(str(exc)) from None
                if "ignore" in mark.kwargs:
                    extra = mark.kwargs["ignore"]
                    extra = [extra] if isinstance(extra, str) else list(extra)
                    try:
                        rules += _rules.parse_all([str(a) for a in extra], where)
                    except _rules.RuleError as exc:
                        raise pytest.UsageError(str(exc)) from None
                if mark.kwargs.get("grace") is not None:
                    grace = _grace(mark.kwargs["grace"], where + " grace")
                if mark.kwargs.get("action") is not None:
                    action = _choice(mark.kwargs["action"], ACTIONS, where + " action")
                if "check" in mark.kwargs:
                    check = bool(mark.kwargs["check"])
        own = check and (marked or (s.enabled and s.scope == "test"))
        opts = TestOptions(own, action, grace, rules, skip=not check)
        self.options[item.nodeid] = opts
        return opts

    # -- ignoring ---------------------------------------------------------------------------

    def _ignored_by(self, found: Found, rules: tuple[_rules.Rule, ...]) -> bool:
        if _rules.first_match(rules, found.candidate(), self.current) is not None:
            self.ignored += 1
            return True
        return False

    def _test_of(self, found: Found, default: str) -> str:
        if found.created < 0 or not self.windows:
            return default
        i = bisect.bisect_right(self.windows, (found.created, "\uffff")) - 1
        return self.windows[i][1] if i >= 0 else default

    def _ignore_attributed(self, found: Found) -> bool:
        """Module and session scope: the rules of the test that created it, then the session's."""
        test = self._test_of(found, "")
        opts = self.options.get(test)
        if opts is not None and opts.skip:
            self.ignored += 1
            return True
        rules = (opts.rules if opts is not None else ()) + self.settings.rules
        return self._ignored_by(found, rules)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Any:
        """What a fixture wider than the check starts belongs to that fixture: it is torn down
        later, and checked then in the scope that ends with it."""
        if self.reaper is None or fixturedef.scope == "function":
            yield
            return
        start = time.monotonic()
        yield
        self.fixture_windows.append((start, time.monotonic(), FIXTURE_RANK[fixturedef.scope]))

    def _wider_fixture(self, found: Found, rank: int) -> bool:
        created = found.created
        if created < 0:
            return False
        return any(s <= created <= e and r > rank for s, e, r in self.fixture_windows)

    # -- the checks --------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Any:
        opts = self.item_options(item)
        s = self.settings
        scoped = s.enabled and s.scope != "test"
        if opts.check or scoped:
            from snapdiff.pytest_plugin import _live

            reaper = self._install()
            self.windows.append((time.monotonic(), item.nodeid))
            if scoped and s.scope == "session" and self.session_base is None:
                self.session_base = _live.baseline()
            if scoped and s.scope == "module" and self.module_base is None:
                self.module_base = _live.baseline()
            if opts.check:
                # tasks reaped for the module's or session's check stay theirs
                self.carried += reaper.take()
                self.test_base = _live.baseline()
                reaper.base = self.test_base
                reaper.grace = opts.grace
                rules = opts.rules + s.rules
                reaper.ignored = lambda f: self._ignored_by(f, rules)
            else:
                reaper.base = self.module_base or self.session_base
                reaper.grace = s.grace
                reaper.ignored = self._ignore_attributed
        yield

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        yield
        if self.reaper is None:
            return
        from snapdiff.pytest_plugin import _live, _report

        s = self.settings
        opts = self.item_options(item)
        found: list[tuple[Found, str]] = []
        action = s.action
        checked = False
        if opts.check and self.test_base is not None:
            rules = opts.rules + s.rules
            reported: list[object] = []
            left = _live.settle(
                self.test_base, opts.grace, lambda f: self._ignored_by(f, rules), objects=reported
            )
            left += self.reaper.take()
            # Reported here: a module or session check (a marked test in that mode) does not
            # report them again.
            for wider in (self.module_base, self.session_base):
                if wider is not None:
                    wider.absorb(reported)
            found = [(f, item.nodeid) for f in left if not self._wider_fixture(f, 0)]
            action = opts.action
            self.test_base = None
            checked = True
        end_module = nextitem is None or getattr(nextitem, "module", None) is not getattr(
            item, "module", None
        )
        scoped_base = None
        if s.enabled and s.scope == "module" and end_module:
            scoped_base, self.module_base = self.module_base, None
        elif s.enabled and s.scope == "session" and nextitem is None:
            scoped_base, self.session_base = self.session_base, None
        if scoped_base is not None:
            self.reaper.base = scoped_base
            left = _live.settle(scoped_base, s.grace, self._ignore_attributed)
            left += self.carried + self.reaper.take()
            self.carried = []
            rank = CHECK_RANK[s.scope]
            found += [
                (f, self._test_of(f, item.nodeid)) for f in left if not self._wider_fixture(f, rank)
            ]
            checked = True
        self.reaper.base = self.module_base or self.session_base
        oldest = self.reaper.base.at if self.reaper.base is not None else time.monotonic()
        self.fixture_windows = [w for w in self.fixture_windows if w[1] >= oldest]
        if not checked:
            return
        leaks = _report.group(found)
        text = ""
        if leaks:
            what = "module" if s.scope == "module" and not opts.check else "test"
            if not opts.check and s.scope == "session":
                what = "session"
            text = (
                f"snapdiff: {_report.count_words(leaks)} left behind "
                f"(checked at the end of this {what}, after a grace period of up to "
                f"{opts.grace if opts.check else s.grace:g} s)\n\n" + _report.text(leaks, self.root)
            )
            if action == "warn":
                path, line, _ = item.location
                warnings.warn_explicit(
                    LeakWarning(text),
                    LeakWarning,
                    str(self.config.rootpath / path),
                    (line or 0) + 1,
                )
        item.stash[_RESULT] = (
            text if action == "fail" else "",
            _report.to_plain(leaks),
            1,
            self.ignored,
        )
        self.ignored = 0  # counted from one check to the next, the reaper's included

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        if call.when != "teardown":
            return
        result = item.stash.get(_RESULT, None)
        if result is None:
            return
        text, plain, checks, ignored = result
        rep = outcome.get_result()
        rep.snapdiff_leaks = plain
        rep.snapdiff_checks = checks
        rep.snapdiff_ignored = ignored
        if text:
            if rep.passed:
                rep.outcome = "failed"
                rep.longrepr = text
            else:
                rep.sections.append(("snapdiff: left behind", text))

    # -- collecting and reporting (on the xdist controller too) -------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        plain = getattr(report, "snapdiff_leaks", None)
        if plain is None:
            return
        from snapdiff.pytest_plugin import _report

        self.leaks.extend(_report.from_plain(plain))
        self.checks += int(getattr(report, "snapdiff_checks", 0))
        self.total_ignored += int(getattr(report, "snapdiff_ignored", 0))

    def _active(self) -> bool:
        return self.settings.enabled or self.checks > 0

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        s = self.settings
        if self.is_worker or s.report is None:
            return
        from snapdiff.errors import SnapdiffError
        from snapdiff.output import write_bytes
        from snapdiff.pytest_plugin import _report

        leaks = _report.merge(self.leaks)
        doc = _report.document(
            leaks,
            scope=s.scope,
            action=s.action,
            grace=s.grace,
            checks=self.checks,
            ignored=self.total_ignored,
            root=self.root,
        )
        data = (
            _report.to_markdown(doc, leaks)
            if s.report_format == "markdown"
            else _report.to_json(doc)
        )
        try:
            write_bytes(str(s.report), data, force=s.force)
        except SnapdiffError as exc:
            self.report_error = str(exc)
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self._active():
            return
        from snapdiff.pytest_plugin import _report

        tr = terminalreporter
        leaks = _report.merge(self.leaks)
        tr.section("snapdiff: threads and asyncio tasks left behind")
        ignored = f", {self.total_ignored} ignored" if self.total_ignored else ""
        if not leaks:
            tr.write_line(f"nothing left behind ({_checks(self.checks)}{ignored})")
        else:
            tr.write_line(
                f"{_report.count_words(leaks)} left behind at {_sites(len(leaks))} "
                f"({_checks(self.checks)}{ignored})"
            )
            tr.write_line(_report.text(leaks, self.root, stacks=False))
        if self.settings.report is not None:
            if self.report_error is not None:
                tr.write_line(f"snapdiff: error: {self.report_error}", red=True)
            else:
                tr.write_line(f"report written to {self.settings.report}")


def _checks(n: int) -> str:
    return f"{n} check" + ("" if n == 1 else "s")


def _sites(n: int) -> str:
    return f"{n} creation site" + ("" if n == 1 else "s")
