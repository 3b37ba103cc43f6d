"""Ignore rules, in the style goleak users know (``IgnoreTopFunction``, ``IgnoreAnyFunction``,
``IgnoreCurrent``), written as one string each so they fit an ini line, a ``pyproject.toml`` list
and a marker argument alike::

    site:myapp/pool.py:42         the creation site: file (path suffix) and line
    site:myapp/pool.py            any line of that file
    site:myapp.pool.start_pool    the function that created it (qualified name, glob)
    function:Server.serve_forever a function anywhere in its stack (glob; qualified name)
    top:Event.wait                the innermost frame (where it waits)
    thread:ThreadPoolExecutor-*   a thread's name (glob)
    task:heartbeat-*              an asyncio task's name (glob)
    current                       what has the creation site, thread target or coroutine of
                                  something already running when the first test started
                                  (goleak's IgnoreCurrent; the baseline already leaves out
                                  those very threads and tasks)

A function name matches a frame's qualified name (``Server.serve_forever``), or the module path
of its file joined to it (``socketserver.BaseServer.serve_forever`` matches a frame
``BaseServer.serve_forever`` in ``.../socketserver.py``). Globs use :mod:`fnmatch` (``*``, ``?``,
``[...]``), case-sensitively.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from snapdiff.model import Frame

KINDS = ("site", "function", "top", "thread", "task", "current")


class RuleError(ValueError):
    """A rule that cannot be read; the message names the rule and what is expected."""


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # one of KINDS
    pattern: str
    origin: str  # where it was written: "ini", "--snapdiff-leaks-ignore", "marker", "built-in"
    why: str = ""  # built-in rules say what they are for

    def text(self) -> str:
        return self.kind if self.kind == "current" else f"{self.kind}:{self.pattern}"


def parse(text: str, origin: str) -> Rule:
    raw = text.strip()
    if raw == "current":
        return Rule("current", "", origin)
    kind, sep, pattern = raw.partition(":")
    kind = kind.strip()
    pattern = pattern.strip()
    if not sep or kind not in KINDS or not pattern:
        raise RuleError(
            f"{origin}: cannot read ignore rule {raw!r}: expected one of "
            "site:FILE[:LINE] | site:FUNCTION | function:NAME | top:NAME | thread:NAME | "
            "task:NAME | current"
        )
    return Rule(kind, pattern, origin)


def parse_all(texts: Iterable[str], origin: str) -> tuple[Rule, ...]:
    return tuple(parse(t, origin) for t in texts if t.strip() and not t.strip().startswith("#"))


# Background threads of pytest plugins and well-known libraries that live for the whole process
# by design: a test that first touches the library starts them, and they are not leaks.
BUILTIN: tuple[Rule, ...] = (
    Rule("function", "TMonitor.run", "built-in", "tqdm's monitor thread (one per process)"),
    Rule(
        "function",
        "WorkerThread.run",
        "built-in",
        "anyio's to_thread worker pool (idle workers end after 10 s)",
    ),
    Rule(
        "function",
        "anyio._backends._asyncio.TestRunner._run_tests_and_fixtures",
        "built-in",
        "anyio's pytest plugin: the task that runs the tests, ended when its runner closes",
    ),
    Rule("thread", "pydevd.*", "built-in", "the PyCharm/VS Code debugger's threads"),
    Rule("function", "pydevd*", "built-in", "the PyCharm/VS Code debugger's threads"),
    Rule("function", "*execnet.gateway_base.*", "built-in", "pytest-xdist's execnet I/O threads"),
    Rule("site", "pytest_timeout.*", "built-in", "pytest-timeout's timer thread"),
    Rule(
        "function",
        "BackgroundWorker._target",
        "built-in",
        "sentry-sdk's event sender (one per client, lives with it)",
    ),
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """What a rule looks at in a task left behind."""

    kind: str  # "thread" | "asyncio-task"
    name: str
    site: Frame | None
    frames: tuple[Frame, ...]  # innermost first
    key: tuple[str, str, int]  # the grouping key: (function, file, line) of site or entry
    entry: tuple[str, str]  # the thread's target or task's coroutine: (function, file)


_SPLIT = re.compile(r"[\\/]")


def module_of(path: str) -> str:
    """``/usr/lib/python3.12/socketserver.py`` -> ``socketserver``; a package keeps the parts
    after the last ``site-packages``/``lib`` folder it can tell (``anyio._backends._asyncio``)."""
    parts = _SPLIT.split(path)
    if not parts:
        return ""
    parts[-1] = os.path.splitext(parts[-1])[0]
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            parts = parts[len(parts) - parts[::-1].index(marker) :]
            break
    else:
        for i in range(len(parts) - 1, -1, -1):
            if re.fullmatch(r"python\d+(\.\d+)*", parts[i]):
                parts = parts[i + 1 :]
                break
        else:
            parts = parts[-1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(p for p in parts if p)


def _name_matches(pattern: str, frame: Frame) -> bool:
    if fnmatchcase(frame.function, pattern):
        return True
    module = module_of(frame.file) if frame.file else ""
    return bool(module) and fnmatchcase(f"{module}.{frame.function}", pattern)


def _file_matches(pattern: str, path: str) -> bool:
    path = path.replace("\\", "/")
    pattern = pattern.replace("\\", "/")
    if any(ch in pattern for ch in "*?["):
        return fnmatchcase(path, pattern) or fnmatchcase(path, "*/" + pattern)
    return path == pattern or path.endswith("/" + pattern)


def _site_matches(pattern: str, site: Frame | None) -> bool:
    if site is None:
        return False
    head, sep, tail = pattern.rpartition(":")
    if sep and tail.isdigit():
        return site.line == int(tail) and _file_matches(head, site.file)
    if pattern.endswith(".py") or "/" in pattern:
        return _file_matches(pattern, site.file)
    return _name_matches(pattern, site)


@dataclass(frozen=True, slots=True)
class Current:
    """What was running when the session started: creation sites and entry functions."""

    sites: frozenset[tuple[str, str, int]] = frozenset()
    entries: frozenset[tuple[str, str]] = frozenset()


def matches(rule: Rule, c: Candidate, current: Current) -> bool:
    kind = rule.kind
    if kind == "site":
        return _site_matches(rule.pattern, c.site)
    if kind == "function":
        return any(_name_matches(rule.pattern, f) for f in c.frames) or (
            c.site is not None and _name_matches(rule.pattern, c.site)
        )
    if kind == "top":
        return bool(c.frames) and _name_matches(rule.pattern, c.frames[0])
    if kind == "thread":
        return c.kind == "thread" and fnmatchcase(c.name, rule.pattern)
    if kind == "task":
        return c.kind != "thread" and fnmatchcase(c.name, rule.pattern)
    # "current": the same creation site, or the same thread target or coroutine function
    return c.key in current.sites or c.entry in current.entries


def first_match(rules: Iterable[Rule], c: Candidate, current: Current) -> Rule | None:
    for rule in rules:
        if matches(rule, c, current):
            return rule
    return None
