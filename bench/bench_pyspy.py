"""How long snapdiff takes on a py-spy dump of thousands of threads, as a user runs it.

Starts a real Python process holding N threads (a pool of workers per site, waiting in a few
different places), dumps it with ``py-spy dump --json`` (and the plain text), and times whole
``snapdiff show`` and ``snapdiff diff`` processes on the dumps, best of several runs, beside a
bare Python start. py-spy refuses processes of more than 4,096 threads, hence 4,000.

    python bench/bench_pyspy.py                 # 4,000 threads
    python bench/bench_pyspy.py --threads 1000 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HOLDER = textwrap.dedent(
    """
    import sys, threading, time
    n = int(sys.argv[1])
    stop = threading.Event()
    def wait_event():
        stop.wait()
    def wait_lock(lock=threading.Lock()):
        with threading.Condition():
            stop.wait()
    def sleeper():
        while not stop.is_set():
            time.sleep(0.5)
    targets = [wait_event, wait_lock, sleeper]
    for i in range(n):
        threading.Thread(target=targets[i % 3], name=f"worker-{i % 40}-{i}", daemon=True).start()
    print("ready", flush=True)
    time.sleep(3600)
    """
)


def best(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if py_spy is None:
        sys.exit("py-spy not found (pip install py-spy)")
    tmp = Path(tempfile.mkdtemp(prefix="snapdiff-bench-pyspy-"))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(args.threads)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        dumps = {}
        for fmt, extra in (("json", ["--json"]), ("txt", [])):
            path = tmp / f"dump.{fmt}"
            start = time.perf_counter()
            out = subprocess.run(
                [py_spy, "dump", "--pid", str(holder.pid), *extra],
                check=True,
                capture_output=True,
            ).stdout
            took = time.perf_counter() - start
            path.write_bytes(out)
            dumps[fmt] = path
            print(f"py-spy dump {fmt:4}: {len(out) / 1024:,.0f} KiB in {took:.2f} s")
    finally:
        holder.kill()
        holder.wait()
    snapdiff = [sys.executable, "-m", "snapdiff"]
    quiet = ["-q", "-f", "json", "-o", os.devnull]
    bare = best([sys.executable, "-c", "pass"], args.repeat)
    print(f"bare python start: {bare:.3f} s")
    for fmt, path in dumps.items():
        wall = best([*snapdiff, "show", str(path), *quiet], args.repeat)
        print(f"snapdiff show {fmt:4} ({args.threads:,} threads): {wall:.3f} s")
        wall = best([*snapdiff, "diff", str(path), str(path), *quiet], args.repeat)
        print(f"snapdiff diff {fmt:4} (x2):            {wall:.3f} s")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
