"""The structure holds: the generic core names no runtime and no format, and no module imports
itself back through others.

What a runtime is (its readers, creation-site and entry rules, identity, id clocks, hints,
words) lives in its package under ``snapdiff/runtimes/``; grouping, comparing, diffing,
trending, gating and rendering ask it. These tests read the code as text: a runtime's or a
format's name in one of the generic modules' code (comments and docstrings aside) fails, and so
does an import cycle between snapdiff's modules.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from snapdiff import runtimes
from snapdiff.model import ASYNCIO_TASK, GOROUTINE, LIBUV_HANDLE, THREAD

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "snapdiff"

GENERIC = [
    PACKAGE / "group.py",
    PACKAGE / "compare.py",
    PACKAGE / "diff.py",
    PACKAGE / "trend.py",
    PACKAGE / "gate.py",
    PACKAGE / "runtime.py",
    PACKAGE / "inputs.py",
    PACKAGE / "unwrap.py",
    *sorted((PACKAGE / "render").glob("*.py")),
]

# Words that name a runtime, a tool that dumps one, or a kind of task only some runtimes have.
RUNTIME_WORDS = {
    "golang",
    "goroutine",
    "goroutines",
    "python",
    "cpython",
    "jvm",
    "java",
    "node",
    "nodejs",
    "libuv",
    "asyncio",
    "pyspy",
    "py-spy",
    "jstack",
    "jcmd",
    "faulthandler",
    "pystack",
    "aiomonitor",
}
KIND_NAMES = {GOROUTINE, THREAD, ASYNCIO_TASK, LIBUV_HANDLE}
# f-string text is a token of its own from Python 3.12 on.
_FSTRING_MIDDLE = getattr(tokenize, "FSTRING_MIDDLE", -1)
KIND_CONSTANTS = {"GOROUTINE", "THREAD", "ASYNCIO_TASK", "LIBUV_HANDLE"}


def _code_tokens(path: Path) -> list[tuple[int, int, str]]:
    """(type, line, text) of every name and string in the file's code: not comments, and not
    docstrings (a string that is a whole statement)."""
    source = path.read_text("utf-8")
    docstrings = {
        node.body[0].value.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
        and isinstance(node.body[0].value.value, str)
    }
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and tok.start[0] in docstrings:
            continue
        if tok.type in (tokenize.NAME, tokenize.STRING, _FSTRING_MIDDLE):
            out.append((tok.type, tok.start[0], tok.string))
    return out


def _offences(path: Path) -> list[str]:
    formats = set(runtimes.SOURCES)
    found = []
    for kind, line, text in _code_tokens(path):
        if kind == tokenize.NAME:
            parts = set(text.lower().split("_"))
            bad = (parts & (RUNTIME_WORDS | {"go"})) or (text in KIND_CONSTANTS and {text})
        else:
            words = set(re.findall(r"[a-z][a-z0-9.-]*[a-z0-9]|[a-z]", text.lower()))
            bad = (
                (words & RUNTIME_WORDS)
                | set(re.findall(r"\bGo\b", text))  # the runtime; "come and go" is English
                | {f for f in formats if f in text}
                | {k for k in KIND_NAMES if re.search(rf"(?<![\w-]){re.escape(k)}(?![\w-])", text)}
            )
        if bad:
            found.append(f"{path.relative_to(ROOT)}:{line}: {text!r} names {sorted(bad)}")
    return found


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_generic_modules_name_no_runtime_and_no_format(path: Path) -> None:
    assert _offences(path) == []


def test_the_check_finds_a_runtime_name(tmp_path: Path) -> None:
    # The check itself can fail: code that names a runtime, a format or a kind is caught,
    # a comment or a docstring is not.
    bad = tmp_path / "bad.py"
    bad.write_text(
        '"""Go and the JVM, in a docstring: fine."""\n'
        "# goroutine, in a comment: fine\n"
        "def is_jvm(x):\n"
        "    return x == 'go-goroutine-text' or x.kind == THREAD or f'{x} goroutines'\n"
    )
    offences = "\n".join(_offences_outside(bad))
    assert "is_jvm" in offences and "'Go'" not in offences
    assert "go-goroutine-text" in offences
    assert "THREAD" in offences
    assert "goroutines" in offences
    assert "docstring" not in offences and "comment" not in offences


def _offences_outside(path: Path) -> list[str]:
    global ROOT
    saved, ROOT = ROOT, path.parent
    try:
        return _offences(path)
    finally:
        ROOT = saved


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the snapdiff modules it imports (at the top or inside a function)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "profile_pb2" not in p.name}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle() -> None:
    graph = _imports()
    assert "snapdiff.cli.trend" in graph and "snapdiff.runtimes.go" in graph
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_cli_package_knows_the_app() -> None:
    # Commands are registered in snapdiff/cli/__init__.py: no module imports it back, and the
    # library imports no command module.
    graph = _imports()
    for module, targets in graph.items():
        assert "snapdiff.cli" not in targets or module == "snapdiff.__main__", module
        if not module.startswith("snapdiff.cli") and module != "snapdiff.__main__":
            assert not any(t.startswith("snapdiff.cli") for t in targets), module
