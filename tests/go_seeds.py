"""Every Go full-stack dump the tests and samples hold: the seeds of the scanner's equivalence
tests and of its fuzzer (bench/fuzz_scanner.py).

The sample dumps (samples/go/dumps), the public corpus when it is present, and every string
literal of the Go reader's tests that holds a goroutine header (the hand-made dumps of
test_go_text.py, test_go_robustness.py, ...), found by reading the test modules' source.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_HEADER = re.compile(rb"(?m)^goroutine [0-9]+ ")
_TEST_MODULES = (
    "test_go_text.py",
    "test_go_robustness.py",
    "test_perf_equivalence.py",
    "test_parallel.py",
    "test_injection.py",
    "test_diff.py",
)


def seeds() -> dict[str, bytes]:
    """{name: dump}, in a stable order."""
    found: dict[str, bytes] = {}
    for path in sorted((ROOT / "samples" / "go" / "dumps").glob("go1.*/*.txt")):
        data = path.read_bytes()
        if _HEADER.search(data) and "debug1" not in path.name:
            found[str(path.relative_to(ROOT))] = data
    upstream = ROOT.parent / "shared" / "corpus" / "upstream"
    for path in sorted(upstream.glob("*/*.txt")) if upstream.exists() else ():
        data = path.read_bytes()
        if _HEADER.search(data) and "debug1" not in path.name:
            found[f"upstream/{path.relative_to(upstream)}"] = data
    for name in _TEST_MODULES:
        path = ROOT / "tests" / name
        if not path.exists():
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
                value = node.value.encode() if isinstance(node.value, str) else node.value
                if _HEADER.search(value):
                    found.setdefault(f"{name}:{node.lineno}", value)
    return found
