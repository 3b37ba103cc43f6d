"""Coverage-guided fuzzing of the compiled scanner of Go dumps (snapdiff/runtimes/go/_gscan.c).

Builds a copy of the scanner with gcc beside this run (in a temporary folder): compiled with
``-fsanitize-coverage=trace-pc`` (every branch taken calls back into a small counter map, the
edges the fuzzer steers by) and, with ``--asan``, AddressSanitizer and UndefinedBehavior-
Sanitizer (any read or write out of bounds aborts the run with a report). Seeds: every Go
full-stack dump of the tests and samples (tests/go_seeds.py), whole and cut into pieces of a
few blocks. Each input is a seed from the corpus mutated (bytes flipped, inserted, removed,
lines repeated, dropped, swapped or cut, tokens of the grammar dropped in); an input that
reaches a new edge (or a new order of magnitude of hits on one) joins the corpus. Every input
is read by the scanner: most by the scanner alone, checked for what it returns (positions,
line counts, columns), every ``--check-every``-th one (and every whole seed, first) by the
whole compiled path and line by line (``go_text.parse_reference``): the two snapshots must be
equal. A hang (``--timeout`` seconds for a batch of 100 inputs), an exception or a difference
stops the run and writes the input to ``--out``; a crash kills the process, and the input
it was reading is in ``--out/current``.

    python bench/fuzz_scanner.py --inputs 1000000 --asan     # prints the count at the end
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import random
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from snapdiff.runtimes.go import _scanned, go_text  # noqa: E402
from tests.go_seeds import mutate, seeds  # noqa: E402

MAP = 1 << 14  # edges: a few hundred
_COUNTER = r"""
#include <stdint.h>
unsigned char snapdiff_cov_map[1 << 14];
static uintptr_t previous;
void __sanitizer_cov_trace_pc(void) {
    uintptr_t pc = (uintptr_t)__builtin_return_address(0);
    snapdiff_cov_map[(pc ^ previous) & 0x3FFF]++;
    previous = pc >> 1;
}
"""


def build(folder: Path, asan: bool) -> Path:
    """The scanner compiled for fuzzing, as a module file in ``folder``."""
    counter = folder / "counter.c"
    counter.write_text(_COUNTER)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    target = folder / f"_gscan{suffix}"
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"] if asan else []
    common = ["-O1", "-g", "-fPIC", f"-I{sysconfig.get_paths()['include']}", *sanitize]
    objects = [folder / "counter.o", folder / "gscan.o"]
    subprocess.run(["gcc", *common, "-c", str(counter), "-o", str(objects[0])], check=True)
    source = ROOT / "snapdiff" / "runtimes" / "go" / "_gscan.c"
    subprocess.run(
        ["gcc", *common, "-fsanitize-coverage=trace-pc", "-c", str(source), "-o", str(objects[1])],
        check=True,
    )
    subprocess.run(["gcc", "-shared", *sanitize, *map(str, objects), "-o", str(target)], check=True)
    return target


def load(target: Path) -> tuple[Any, ctypes.Array[ctypes.c_ubyte]]:
    """Use the fuzzing build as the scanner of this process; returns its counter map."""
    spec = importlib.util.spec_from_file_location("snapdiff.runtimes.go._gscan", target)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _scanned._gscan = module
    return module, (ctypes.c_ubyte * MAP).in_dll(ctypes.CDLL(str(target)), "snapdiff_cov_map")


def drive(scan: Any, data: bytes, end: int, rng: random.Random) -> None:
    """The scanner alone over ``data[:end]``, answering its questions as a reader would (some
    headers and stacks taken, some not), checking what it returns: positions that only move
    forward inside the window, line counts that are the window's, columns of equal length."""
    headers: dict[int, tuple[bytes, int | None]] = {}
    bodies: dict[int, tuple[bytes, int | None, int | None]] = {}
    combos: dict[int, int] = {}
    seen: set[int] = set()
    ids: list[int] = []
    cids: list[int] = []
    creators: list[int | None] = []
    pos = 0
    for _ in range(4 * len(data) + 10):
        status, new, lines, info, key = scan(
            data, pos, end, seen, headers, bodies, combos, ids, cids, creators
        )
        if not pos <= new <= end or lines != data.count(b"\n", pos, new):
            raise AssertionError(f"scan went from {pos} to {new} ({lines} lines) in {end}")
        if not len(ids) == len(cids) == len(creators):
            raise AssertionError("columns of different lengths")
        pos = new
        if status == 0:
            return
        if status == 1:
            if not (pos <= info < end - 1 and data[info : info + 2] == b"\n\n"):
                raise AssertionError(f"block at {pos} said to end at {info}")
            pos = info + 2
        elif status == 2:
            headers[key] = (info, rng.choice((len(headers), len(headers), None)))
        elif status == 3:
            number = rng.choice((len(bodies), len(bodies), None))
            bodies[key] = (info, number, rng.choice((1, None)))
        elif status == 4:
            combos[info] = len(combos)
        else:
            raise AssertionError(f"status {status}")
    raise AssertionError("the scanner made no progress")


def pieces(data: bytes, rng: random.Random) -> list[bytes]:
    """A big seed's pieces: runs of 1 to 8 blocks (whole inputs stay too)."""
    blocks = data.split(b"\n\n")
    out = []
    for _ in range(min(200, len(blocks))):
        at = rng.randrange(len(blocks))
        out.append(b"\n\n".join(blocks[at : at + rng.randint(1, 8)]) + b"\n")
    return out


# Hits on an edge, by order of magnitude (1, 2-3, 4-7, ..., 128-255), as one bit of a byte.
_ONE_HOT = bytes(0 if hits == 0 else 1 << (hits.bit_length() - 1) for hits in range(256))


def _edges(reached: int) -> int:
    """How many edges were reached at all."""
    return MAP - reached.to_bytes(MAP, "little").count(0)


class Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Timeout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="how many inputs to run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--asan", action="store_true", help="with Address/UB sanitizers")
    parser.add_argument("--check-every", type=int, default=20, help="compare with reference")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per 100 inputs")
    parser.add_argument("--out", type=Path, default=Path("bench/out/fuzz"))
    args = parser.parse_args()
    libasan = ""
    if args.asan:
        libasan = subprocess.run(
            ["gcc", "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
        ).stdout.strip()
    if args.asan and libasan not in os.environ.get("LD_PRELOAD", ""):
        # The sanitizer's run-time must be loaded first: start again with it.
        env = dict(os.environ, LD_PRELOAD=libasan, ASAN_OPTIONS="detect_leaks=0")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)

    args.out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="snapdiff-fuzz-"))
    module, counters = load(build(folder, args.asan))
    rng = random.Random(args.seed)
    corpus: list[bytes] = []
    whole = list(seeds().values())
    for data in whole:
        if _scanned.parse_buffer(data, "f.txt") != go_text.parse_reference(data, "f.txt"):
            raise SystemExit("a seed dump reads differently: run tests/test_scanner.py")
        corpus.extend(pieces(data, rng) if len(data) > 8192 else [data])
    n_seeds = len(corpus)
    reached = 0  # every (edge, order of magnitude) reached so far, as bits
    current = os.open(args.out / "current", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    signal.signal(signal.SIGALRM, _alarm)
    mismatches = 0
    started = time.perf_counter()
    count = 0
    data = b""
    try:
        for count in range(1, args.inputs + 1):
            if count % 100 == 1:
                signal.setitimer(signal.ITIMER_REAL, args.timeout)
            seed = corpus[rng.randrange(len(corpus))]
            data = mutate(seed, rng, rng.randint(1, 8))
            os.ftruncate(current, 0)
            os.pwrite(current, data, 0)
            ctypes.memset(counters, 0, MAP)
            checked = count % args.check_every == 0
            if checked:
                go_text.WINDOW = 1 << 20 if count % 3 else rng.randint(1, 512)
                snap = _scanned.parse_buffer(data, "f.txt")
            else:
                drive(module.scan, data, len(data) if count % 5 else rng.randint(0, len(data)), rng)
            found = int.from_bytes(bytes(counters).translate(_ONE_HOT), "little")
            if found & ~reached:
                reached |= found
                corpus.append(data)
            if checked:
                go_text.WINDOW = 1 << 20
                if snap != go_text.parse_reference(data, "f.txt") and (
                    _scanned.parse_buffer(data, "f.txt") != go_text.parse_reference(data, "f.txt")
                ):
                    mismatches += 1
                    (args.out / f"mismatch-{count}.txt").write_bytes(data)
            if count % 100_000 == 0:
                edges = _edges(reached)
                rate = count / (time.perf_counter() - started)
                print(f"{count:,} inputs, {edges:,} edges, corpus {len(corpus):,}, {rate:,.0f}/s")
    except Timeout:
        (args.out / f"hang-{count}.txt").write_bytes(data)
        raise SystemExit(f"input {count} took too long: {args.out}/hang-{count}.txt") from None
    except Exception:
        (args.out / f"error-{count}.txt").write_bytes(data)
        print(f"input {count} raised: {args.out}/error-{count}.txt", file=sys.stderr)
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        os.close(current)
    wall = time.perf_counter() - started
    edges = _edges(reached)
    print(
        f"fuzzed the compiled scanner: {count:,} inputs in {wall:.0f} s "
        f"({count / wall:,.0f}/s) after the {len(whole)} seed dumps, {edges:,} edges, corpus "
        f"{n_seeds:,} seeds and pieces of them + "
        f"{len(corpus) - n_seeds:,} found, {count // args.check_every:,} compared with the "
        f"line-by-line reading, {mismatches} differences, "
        f"sanitizers {'on' if args.asan else 'off'}, no crash, no hang"
    )
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
