"""Start-up of snapdiff commands, as a user runs them: best wall time of N whole processes.

    python bench/bench_startup.py                      # this tree, this Python
    python bench/bench_startup.py --checkout DIR       # another tree (git archive REV snapdiff)

Run it with the Python of a venv to time that venv's dependencies (typer's version matters:
0.29 imports pydantic for every command).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from _bytecode import compile_package

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "go" / "dumps" / "go1.27" / "t1.debug2.txt"


def best(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--checkout", type=Path, help="time the snapdiff package in this folder")
    args = parser.parse_args()
    snapdiff = [sys.executable, "-m", "snapdiff"]
    if args.checkout:
        launcher = (
            f"import sys, runpy; sys.path.insert(0, {str(args.checkout.resolve())!r}); "
            "sys.argv[0] = 'snapdiff'; runpy.run_module('snapdiff', run_name='__main__')"
        )
        snapdiff = [sys.executable, "-c", launcher]
    compile_package(args.checkout)
    import typer  # the version is part of the result

    print(f"python {sys.version.split()[0]}, typer {typer.__version__}")
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import typer'": [sys.executable, "-c", "import typer"],
        "snapdiff --version": [*snapdiff, "--version"],
        "snapdiff --help": [*snapdiff, "--help"],
        "snapdiff diff --help": [*snapdiff, "diff", "--help"],
        "snapdiff show SAMPLE (74 KB)": [*snapdiff, "show", str(SAMPLE), "-q"],
    }
    for name, cmd in cases.items():
        print(f"{name:32} {best(cmd, args.repeat) * 1000:6.0f} ms", flush=True)


if __name__ == "__main__":
    main()
