"""Throughput of reading Go full-stack dumps, end to end, as a user runs it.

Makes a dump of N goroutines by repeating the blocks of a real sample dump with fresh ids,
then times ``snapdiff show`` as a whole process (start-up included) and, for the floor, just
reading the file. Prints MiB/s, goroutines/s, peak RSS and wall time.

    python bench/bench_parse.py [--goroutines 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "go" / "dumps" / "go1.27" / "t1.debug2.txt"


def make_dump(path: Path, goroutines: int) -> int:
    blocks = SAMPLE.read_text().strip("\n").split("\n\n")
    out = []
    n = 0
    while n < goroutines:
        for block in blocks:
            n += 1
            out.append(re.sub(r"^goroutine \d+ ", f"goroutine {n} ", block, count=1))
            if n >= goroutines:
                break
    data = "\n\n".join(out) + "\n"
    path.write_text(data)
    return len(data.encode())


def run(cmd: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr.decode()}")
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--goroutines", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    snapdiff = [sys.executable, "-m", "snapdiff"]
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.goroutines:
            dump = Path(tmp) / f"dump-{n}.txt"
            size = make_dump(dump, n)
            mib = size / (1 << 20)
            floor = min(
                run([sys.executable, "-c", f"open({str(dump)!r}, 'rb').read()"])[0]
                for _ in range(args.repeat)
            )
            times = []
            rss = 0
            for _ in range(args.repeat):
                wall, rss = run([*snapdiff, "show", str(dump), "-q", "-f", "json", "-o", os.devnull])
                times.append(wall)
            best = min(times)
            print(
                f"show {n:>9,} goroutines {mib:8.1f} MiB: best {best:6.2f} s of {args.repeat}, "
                f"{mib / best:6.1f} MiB/s, {n / best:>9,.0f} goroutines/s, "
                f"peak RSS {rss / 1024:,.0f} MiB (read-only floor {floor:.2f} s)"
            )


if __name__ == "__main__":
    main()
