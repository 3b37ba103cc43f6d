"""Tasks left behind, grouped by creation site, and the ways they are shown: the text of a failed
test (also the terminal summary), the JSON and the Markdown report files.

A group's key is the creation site (the line that started the thread or created the task) when
the probe's hooks saw the creation, else the thread's target or the task's outermost coroutine;
every group says which key it has. Thread and task names, function names and paths are the
program's text: the text renderer makes control characters visible, Markdown escapes them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from snapdiff.model import Frame
from snapdiff.pytest_plugin._live import THREAD, Found
from snapdiff.pytest_plugin._rules import module_of

FORMAT = "snapdiff-pytest-leaks"
VERSION = 1
EXAMPLE_FRAMES = 12
EXAMPLE_NAMES = 5
EXAMPLE_TESTS = 10

SITE = "creation site"
TARGET = "thread target"
COROUTINE = "coroutine"


@dataclass(frozen=True, slots=True)
class SiteLeak:
    """The threads or tasks of one creation site left behind."""

    kind: str  # "thread" | "asyncio-task"
    key: str  # SITE | TARGET | COROUTINE: which frame the group is keyed by
    site: Frame
    count: int
    waiting: tuple[tuple[str, int], ...]  # where they wait, most common first
    states: tuple[tuple[str, int], ...]
    names: tuple[str, ...]  # a few examples
    tests: tuple[str, ...]  # the tests that created them (node ids), first seen first
    example: tuple[Frame, ...]  # one stack, innermost first


def _key_of(found: Found) -> str:
    if found.site is not None:
        return SITE
    return TARGET if found.kind == THREAD else COROUTINE


def group(found: Iterable[tuple[Found, str]]) -> list[SiteLeak]:
    """(task, test that created it) pairs -> one SiteLeak per kind and creation site, the largest
    first."""
    buckets: dict[tuple[str, tuple[str, str, int]], list[tuple[Found, str]]] = {}
    for f, test in found:
        buckets.setdefault((f.kind, f.key), []).append((f, test))
    out = []
    for (kind, key), members in buckets.items():
        first = members[0][0]
        frame = first.site or first.entry or Frame(key[0])
        tests = list(dict.fromkeys(t for _, t in members if t))
        names = list(dict.fromkeys(f.name for f, _ in members))
        out.append(
            SiteLeak(
                kind,
                _key_of(first),
                frame,
                len(members),
                tuple(Counter(f.waiting for f, _ in members).most_common()),
                tuple(Counter(f.state for f, _ in members).most_common()),
                tuple(names[:EXAMPLE_NAMES]),
                tuple(tests[:EXAMPLE_TESTS]),
                first.frames[:EXAMPLE_FRAMES],
            )
        )
    out.sort(key=lambda s: (-s.count, s.kind, s.site.file, s.site.line, s.site.function))
    return out


def to_plain(leaks: Iterable[SiteLeak]) -> list[object]:
    """JSON-ready data (what crosses from a pytest-xdist worker to the controller)."""
    return list(orjson.loads(orjson.dumps(list(leaks))))


def _frame(d: dict[str, object]) -> Frame:
    return Frame(str(d["function"]), str(d.get("file") or ""), int(str(d.get("line") or 0)))


def from_plain(items: Iterable[object]) -> list[SiteLeak]:
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        out.append(
            SiteLeak(
                str(item["kind"]),
                str(item["key"]),
                _frame(item["site"]),
                int(item["count"]),
                tuple((str(w), int(n)) for w, n in item["waiting"]),
                tuple((str(s), int(n)) for s, n in item["states"]),
                tuple(str(n) for n in item["names"]),
                tuple(str(t) for t in item["tests"]),
                tuple(_frame(f) for f in item["example"]),
            )
        )
    return out


def merge(leaks: Iterable[SiteLeak]) -> list[SiteLeak]:
    """The same site reported by several tests (or xdist workers) as one group."""
    merged: dict[tuple[str, str, str, int], SiteLeak] = {}
    for s in leaks:
        k = (s.kind, s.site.function, s.site.file, s.site.line)
        old = merged.get(k)
        if old is None:
            merged[k] = s
            continue
        waiting: Counter[str] = Counter(dict(old.waiting))
        waiting.update(dict(s.waiting))
        states: Counter[str] = Counter(dict(old.states))
        states.update(dict(s.states))
        merged[k] = SiteLeak(
            old.kind,
            old.key,
            old.site,
            old.count + s.count,
            tuple(waiting.most_common()),
            tuple(states.most_common()),
            tuple(dict.fromkeys(old.names + s.names))[:EXAMPLE_NAMES],
            tuple(dict.fromkeys(old.tests + s.tests))[:EXAMPLE_TESTS],
            old.example,
        )
    out = list(merged.values())
    out.sort(key=lambda s: (-s.count, s.kind, s.site.file, s.site.line, s.site.function))
    return out


def _clean(text: str, limit: int = 300) -> str:
    from snapdiff.render.common import clean

    return clean(text, limit)


def _plural(kind: str, n: int) -> str:
    word = "thread" if kind == THREAD else "asyncio task"
    return f"{n} {word}" + ("" if n == 1 else "s")


def count_words(leaks: Iterable[SiteLeak]) -> str:
    totals: Counter[str] = Counter()
    for s in leaks:
        totals[s.kind] += s.count
    return " and ".join(_plural(k, totals[k]) for k in sorted(totals, key=lambda k: k != THREAD))


def relative(path: str, root: str) -> str:
    if root and path.startswith(root.rstrip(os.sep) + os.sep):
        return path[len(root.rstrip(os.sep)) + 1 :]
    return path


def suggested_rule(s: SiteLeak, root: str) -> str:
    """A rule that ignores this site: by file and line inside the project, by qualified function
    outside it (a library's line numbers change with its version)."""
    where = relative(s.site.file, root)
    if s.key == SITE and where and where != s.site.file:
        return f"site:{where}:{s.site.line}"
    module = module_of(s.site.file) if s.site.file else ""
    name = f"{module}.{s.site.function}" if module else s.site.function
    return f"site:{name}" if s.key == SITE else f"function:{name}"


def text(leaks: list[SiteLeak], root: str, *, stacks: bool = True) -> str:
    """Plain text, one block per site (the failed test's report and the terminal summary)."""
    lines: list[str] = []
    for s in leaks:
        where = relative(s.site.file, root)
        loc = f"{where}:{s.site.line}" if s.site.line else where
        lines.append(
            f"{_plural(s.kind, s.count)} from {s.key} {_clean(loc)} in {_clean(s.site.function)}"
        )
        waits = ", ".join(f"{_clean(w)} ×{n}" if n > 1 else _clean(w) for w, n in s.waiting[:3])
        lines.append(f"    waiting in: {waits}")
        states = ", ".join(f"{st} ×{n}" if n > 1 else st for st, n in s.states)
        lines.append(f"    state: {states}")
        if s.names:
            lines.append("    names: " + ", ".join(_clean(n, 80) for n in s.names))
        if s.tests:
            lines.append("    created by test: " + ", ".join(_clean(t, 200) for t in s.tests))
        if stacks and s.example:
            lines.append("    example stack (innermost first):")
            for f in s.example:
                lines.append(
                    f"        {_clean(f.function)}  {_clean(relative(f.location(), root))}"
                )
        lines.append(f"    to ignore: snapdiff_leaks_ignore = {_clean(suggested_rule(s, root))}")
    return "\n".join(lines)


def document(
    leaks: list[SiteLeak],
    *,
    scope: str,
    action: str,
    grace: float,
    checks: int,
    ignored: int,
    root: str,
) -> dict[str, object]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "scope": scope,
        "action": action,
        "grace_seconds": grace,
        "checks": checks,
        "ignored": ignored,
        "rootdir": root,
        "left_behind": sum(s.count for s in leaks),
        "sites": leaks,
    }


def to_json(doc: dict[str, object]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n"


def to_markdown(doc: dict[str, object], leaks: list[SiteLeak]) -> bytes:
    from snapdiff.render import markdown as md

    root = str(doc["rootdir"])
    out = ["## Tasks left behind by the test suite", ""]
    checked = f"{doc['checks']} checks ({doc['scope']} scope, {doc['grace_seconds']} s grace)"
    if not leaks:
        out.append(f"Nothing left behind: {checked}.")
        if doc["ignored"]:
            out.append(f"{doc['ignored']} left behind by ignored sites.")
        return ("\n".join(out) + "\n").encode()
    sites = f"{len(leaks)} creation site" + ("" if len(leaks) == 1 else "s")
    out.append(f"{count_words(leaks)} left behind, {sites}; {checked}.")
    out.append("")
    out.append("| kind | count | creation site | where they wait | names | tests |")
    out.append("|---|---:|---|---|---|---|")
    for s in leaks:
        loc = relative(s.site.location(), root)
        site = f"{md.code(s.site.function)}<br>{md.code(loc)}" if loc else md.code(s.site.function)
        if s.key != SITE:
            site += f" ({s.key})"
        waits = "<br>".join(md.text(w) + (f" ×{n}" if n > 1 else "") for w, n in s.waiting[:3])
        tests = "<br>".join(md.code(t) for t in s.tests[:3])
        if len(s.tests) > 3:
            tests += f"<br>and {len(s.tests) - 3} more"
        kind = "thread" if s.kind == THREAD else "asyncio task"
        names = "<br>".join(md.code(n, 80) for n in s.names[:3])
        out.append(f"| {kind} | {s.count} | {site} | {waits} | {names} | {tests} |")
    for s in leaks:
        out.append("")
        head = f"{s.site.function} ({relative(s.site.location(), root)})"
        out.append(f"<details><summary>{md.html(head)}: example stack</summary>")
        out.append("")
        body = "\n".join(
            f"{_clean(f.function, 300)}\n    {_clean(relative(f.location(), root), 300)}"
            for f in s.example
        )
        out.append(md.fence(body or "(no frames)"))
        out.append("")
        out.append("</details>")
    if doc["ignored"]:
        out.append("")
        out.append(f"{doc['ignored']} more left behind by ignored sites.")
    return ("\n".join(out) + "\n").encode()
