"""Every Go full-stack dump the tests and samples hold: the seeds of the scanner's equivalence
tests and of its fuzzer (bench/fuzz_scanner.py).

The sample dumps (samples/go/dumps), the public corpus when it is present, and every string
literal of the Go reader's tests that holds a goroutine header (the hand-made dumps of
test_go_text.py, test_go_robustness.py, ...), found by reading the test modules' source.
"""

from __future__ import annotations

import ast
import random
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


# Mutations of the seed dumps: bytes flipped, inserted and removed, lines repeated, dropped
# and swapped, tokens of the grammar dropped in; the kinds of damage a fuzzer makes.
TOKENS = [
    b"\n\n",
    b"\n",
    b"\r\n",
    b"goroutine ",
    b"goroutine 0 ",
    b"goroutine 99999999999999999999 ",
    b"goroutine 123456789012345678901 ",
    b" [running]:\n",
    b" gp=0xc000007a40 m=nil ",
    b" gp=0x1 m=3 mp=0xc0001 [",
    b"(0xc000010000, 0x3)",
    b"()",
    b"(",
    b")",
    b" fp=0x1 sp=0x2 pc=0x3",
    b" pc=0x",
    b"created by main.f in goroutine 12\n",
    b" in goroutine ",
    b" in goroutine #",
    b"\t/src/a.go:12 +0x1f\n",
    b"...additional frames elided...\n",
    b"[originating from goroutine 7]:\n",
    b"\xff\xfe",
    b"\xe2\x80",
    b" {a: b}",
]


def mutate(data: bytes, rng: random.Random, count: int) -> bytes:
    out = bytearray(data)
    for _ in range(count):
        how = rng.randrange(7)
        at = rng.randrange(len(out) + 1)
        if how == 0 and out:
            out[min(at, len(out) - 1)] = rng.randrange(256)
        elif how == 1:
            out[at:at] = rng.choice(TOKENS)
        elif how == 2:
            del out[at : at + rng.randint(1, 40)]
        else:
            lines = bytes(out).split(b"\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            if how == 3:
                lines.insert(i, lines[j])
            elif how == 4:
                del lines[i]
            elif how == 5:
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
            out = bytearray(b"\n".join(lines))
    return bytes(out)
