"""What the pytest plugin adds to each test: the same generated suite run without the plugin,
with a check after every test, per module, and once per session.

The suite has ``--sync`` plain tests and ``--async`` pytest-asyncio tests (each makes an event
loop, which the plugin hooks), spread over ten modules, none of which leaves anything behind:
the figure is the cost of the check itself, with no grace period spent. ``--threads`` idle
threads run for the whole session (a suite with a thread pool or a server started once), which
the per-test baseline lists each time. The time of each test is measured inside pytest (from
the start of its setup to the end of its teardown, a hookwrapper around the whole protocol, so
it includes the plugin's hooks), in wall-clock and in CPU time of the pytest process (less
disturbed by other work on the machine); start-up and collection are left out. The runs
alternate and each figure is the median over ``--repeat`` runs. Last, the check alone: the
baseline and the check after it, timed in this process (best of five batches of 2,000), the
figure least disturbed by other work on the machine.

    python bench/bench_pytest_plugin.py [--sync 300] [--async 100] [--threads 0] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CONFTEST = """
import json, os, threading, time
import pytest

_total = [0.0, 0.0, 0]
for _ in range(int(os.environ.get("BENCH_THREADS", "0"))):
    threading.Thread(target=threading.Event().wait, daemon=True).start()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    t0 = time.perf_counter()
    c0 = time.process_time()
    yield
    _total[0] += time.perf_counter() - t0
    _total[1] += time.process_time() - c0
    _total[2] += 1


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_OUT"], "w") as fh:
        json.dump({"wall": _total[0], "cpu": _total[1], "tests": _total[2]}, fh)
"""

SYNC = """
def test_sync_{n}():
    assert sum(range(100)) == 4950
"""

ASYNC = """
@pytest.mark.asyncio
async def test_async_{n}():
    await asyncio.sleep(0)
"""

MODES = {
    "no plugin": [],
    "per test": ["--snapdiff-leaks"],
    "per module": ["--snapdiff-leaks", "--snapdiff-leaks-scope=module"],
    "per session": ["--snapdiff-leaks", "--snapdiff-leaks-scope=session"],
}


def make_suite(root: Path, sync: int, asyn: int, modules: int = 10) -> None:
    (root / "conftest.py").write_text(CONFTEST)
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    for m in range(modules):
        body = ["import asyncio", "import pytest"]
        body += [SYNC.format(n=n) for n in range(m, sync, modules)]
        body += [ASYNC.format(n=n) for n in range(m, asyn, modules)]
        (root / f"test_bench_{m}.py").write_text("\n".join(body))


def run(root: Path, args: list[str], threads: int) -> tuple[float, float, int]:
    out = root / "result.json"
    env = dict(os.environ, BENCH_OUT=str(out), BENCH_THREADS=str(threads))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    proc = subprocess.run(cmd + args, cwd=root, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"pytest failed ({proc.returncode}):\n{proc.stdout[-2000:]}")
    data = json.loads(out.read_text())
    return float(data["wall"]), float(data["cpu"]), int(data["tests"])


def core(threads: int, number: int = 2000) -> float:
    """Seconds for one check in this process, best of five: the baseline before a test and the
    check after it, with ``threads`` idle threads and the hooks installed, nothing left behind."""
    import threading
    import timeit

    from snapdiff.pytest_plugin import _live

    _live.install(_live.Reaper())
    stop = threading.Event()
    idle = [threading.Thread(target=stop.wait) for _ in range(threads)]
    for t in idle:
        t.start()

    def once() -> None:
        _live.settle(_live.baseline(), 1.0, lambda f: False)

    try:
        return min(timeit.repeat(once, number=number, repeat=5)) / number
    finally:
        stop.set()
        for t in idle:
            t.join()
        _live.uninstall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sync", type=int, default=300)
    parser.add_argument("--async", dest="asyn", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    wall: dict[str, list[float]] = {mode: [] for mode in MODES}
    cpu: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_suite(root, args.sync, args.asyn)
        for _ in range(args.repeat):
            for mode, extra in MODES.items():
                w, c, tests = run(root, extra, args.threads)
                wall[mode].append(w / tests)
                cpu[mode].append(c / tests)
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{args.sync} sync + {args.asyn} asyncio tests, {args.threads} idle threads, "
        f"median of {args.repeat} runs"
    )
    base_wall = statistics.median(wall["no plugin"])
    base_cpu = statistics.median(cpu["no plugin"])
    print()
    print(f"{'mode':<12} {'wall/test':>10} {'added':>9} {'CPU/test':>10} {'added':>9}")
    for mode in MODES:
        w = statistics.median(wall[mode])
        c = statistics.median(cpu[mode])
        aw = "" if mode == "no plugin" else f"{(w - base_wall) * 1e6:+.0f} µs"
        ac = "" if mode == "no plugin" else f"{(c - base_cpu) * 1e6:+.0f} µs"
        print(f"{mode:<12} {w * 1e6:>7.0f} µs {aw:>9} {c * 1e6:>7.0f} µs {ac:>9}")
    print()
    print(f"one check alone (baseline + check, in process, {args.threads} idle threads): ", end="")
    print(f"{core(args.threads) * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
