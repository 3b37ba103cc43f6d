"""Throughput of reading Go full-stack dumps, end to end, as a user runs it.

Makes its inputs itself, then times whole processes (start-up included), each case several
times, and prints the best wall time, MiB/s, goroutines/s and the peak RSS of that process,
beside the floor of a process that only reads the file (in the same run, same machine load).

Inputs:
  shallow-N   generated: N goroutines over 40 creation sites, 3 to 5 frames each, pointer
              arguments and creator ids varying from goroutine to goroutine
  deep-N      generated: the same with 30 to 40 frames a stack
  service-N   the Go sample service (samples/go/leaky) driven to N goroutines; the dump is
              taken with curl from /debug/pprof/goroutine?debug=2 while it is under the 64 MiB
              cut of net/http/pprof, with SIGQUIT (GOTRACEBACK=all, stderr to a file) above it

Commands timed: ``snapdiff show DUMP``, ``snapdiff diff DUMP DUMP``, ``snapdiff convert``,
a process that only loads the snapshot file it wrote, ``snapdiff show SNAPSHOT``, and
``snapdiff --version`` / ``--help`` start-up.

    python bench/bench_parse.py                                   # shallow/deep/service 100k, 200k
    python bench/bench_parse.py --inputs shallow-1000000 service-1000000 --repeat 3
    python bench/bench_parse.py --inputs shallow-100000 --keep /tmp/dumps   # keep the files

``--compare NAME=COMMAND`` also times another program on each input in the same run, as a
whole process (``{input}`` in COMMAND stands for the dump's path): another parser, built
beside the project, measured on the same files with the same machine load, in rounds
alternating with snapdiff's ``show`` (best and median printed). The program must
print the number of goroutines it read as the first number on its standard output: its line
shows that count (not the input's), and its goroutines/s are of what it read. An exit status
of 1 (some goroutines not read) is shown, not taken as a failure.

    python bench/bench_parse.py --compare 'gostackparse=/tmp/gsp/gsp {input}' --no-diff
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

from _bytecode import compile_package

ROOT = Path(__file__).resolve().parent.parent
GO = Path(sys.executable).parent / "go"
SNAPDIFF = [sys.executable, "-m", "snapdiff"]


# ----------------------------------------------------------------------------- generated dumps


def generate(path: Path, goroutines: int, depth: tuple[int, int], seed: int = 1) -> None:
    """A deterministic debug=2-style dump (Go >= 1.21 forms) written block by block."""
    rng = random.Random(seed)
    sites = []
    for s in range(40):
        frames = [
            (f"example.com/svc/pkg{s % 7}.(*T{s}).step{i}", f"/src/svc/pkg{s % 7}/f{i}.go", 10 + i)
            for i in range(rng.randint(*depth))
        ]
        state = rng.choice(["chan send", "chan receive", "select", "IO wait", "sync.Mutex.Lock"])
        sites.append((frames, f"example.com/svc.spawn{s}", f"/src/svc/spawn.go:{s + 1}", state))
    weights = [1000 if s < 3 else 1 for s in range(len(sites))]  # three leaking sites
    with path.open("w") as out:
        for gid in range(1, goroutines + 1):
            frames, creator, where, state = rng.choices(sites, weights)[0]
            wait = f", {gid % 7} minutes" if gid % 3 else ""
            out.write(f"goroutine {gid} [{state}{wait}]:\n")
            for func, file, line in frames:
                out.write(f"{func}(0xc{rng.getrandbits(36):09x}, 0x{gid % 4096:x})\n")
                out.write(f"\t{file}:{line} +0x{line * 13:x}\n")
            out.write(f"created by {creator} in goroutine {gid // 50 + 1}\n\t{where} +0x8e\n\n")


# ----------------------------------------------------------------------------- the Go service


def build_service(tmp: Path) -> Path:
    binary = tmp / "leaky"
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod")
    subprocess.run(
        [str(GO), "build", "-trimpath", "-o", str(binary), "."],
        cwd=ROOT / "samples" / "go" / "leaky",
        check=True,
        env=env,
    )
    return binary


def service_dump(binary: Path, path: Path, goroutines: int) -> None:
    """Run the service until it holds ``goroutines`` goroutines, then dump them."""
    fanout = 1001
    big = goroutines * 240 > (60 << 20)  # about 240 bytes a goroutine in debug=2
    errfile = path.with_suffix(".stderr")
    with errfile.open("wb") as err:
        proc = subprocess.Popen(
            [
                str(binary),
                "-addr",
                "127.0.0.1:0",
                "-leak-rate",
                "2ms",
                "-fanout",
                str(fanout),
                "-max-leak",
                str(goroutines),
                "-log-every",
                "0",
            ],
            stderr=err,
            env=dict(os.environ, GOTRACEBACK="all"),
        )
    try:
        addr = None
        for _ in range(200):
            found = re.search(rb"listening on (\S+)", errfile.read_bytes())
            if found:
                addr = found.group(1).decode()
                break
            time.sleep(0.05)
        if addr is None:
            raise SystemExit("the service did not start")
        url = f"http://{addr}/debug/pprof/goroutine"
        while True:
            head = urllib.request.urlopen(f"{url}?debug=1", timeout=60).read(200)
            total = int(re.search(rb"total (\d+)", head).group(1))  # type: ignore[union-attr]
            if total >= goroutines:
                break
            time.sleep(0.5)
        if not big:
            with path.open("wb") as out:
                subprocess.run(["curl", "-s", f"{url}?debug=2"], stdout=out, check=True)
            return
        errfile.write_bytes(b"")
        proc.send_signal(signal.SIGQUIT)
        proc.wait(timeout=600)
        text = errfile.read_bytes()
        start = text.find(b"goroutine ")
        path.write_bytes(text[start:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        errfile.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- timing


class Measure(NamedTuple):
    wall: float  # seconds
    rss: int  # peak RSS in KiB: the process's or a child's (a worker's), whichever is higher
    cpu: float  # user + system seconds, children included
    faults: int  # minor page faults, children included


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Measure:
    """One whole process, as ``wait4`` reports it."""
    return _measure(cmd, env)[0]


def _measure(
    cmd: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0, 5)
) -> tuple[Measure, bytes, int]:
    """One whole process, its standard output (to a file: no pipe to drain while it runs)
    and its exit status."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, env=env)
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        said = out.read(4096)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err.decode()}")
    usage_cpu = usage.ru_utime + usage.ru_stime
    return Measure(wall, usage.ru_maxrss, usage_cpu, usage.ru_minflt), said, proc.returncode


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, float]:
    """(wall seconds, peak RSS in KiB, CPU seconds) of one process."""
    wall, rss, cpu, _ = measure(cmd, env)
    return wall, rss, cpu


def best(
    cmd: list[str], repeat: int, env: dict[str, str] | None = None
) -> tuple[float, int, float]:
    """The best wall time, the highest peak RSS and the least CPU time of ``repeat`` runs.

    CPU time (user + system) is what the process needed; wall time also shows what other
    processes on the machine took from it.
    """
    runs = [run(cmd, env) for _ in range(repeat)]
    return min(r[0] for r in runs), max(r[1] for r in runs), min(r[2] for r in runs)


def count_goroutines(path: Path) -> int:
    """Block headers in the file, read 1 MiB at a time. This process must stay small: the peak
    RSS the kernel reports for a child is never below the RSS of the process that started it
    (Linux carries it over at ``exec``), and 16 MiB reads here made every child "peak" at
    53 MiB."""
    needle = b"\ngoroutine "
    count, tail = 0, b""
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            data = tail + chunk
            count += data.count(needle)
            tail = data[1 - len(needle) :]  # too short to hold a whole header: none counted twice
    return count


def report(label: str, size: int, n: int, timing: tuple[float, int, float], floor: float) -> None:
    wall, rss, cpu = timing
    mib = size / (1 << 20)
    print(
        f"{label:34} {mib:7.1f} MiB {n:>9,} gor. wall {wall:6.2f} s cpu {cpu:6.2f} s "
        f"{mib / wall:6.1f} MiB/s {n / wall:>9,.0f} gor./s RSS {rss / 1024:5,.0f} MiB "
        f"(read floor {floor:.2f} s)",
        flush=True,
    )


def _show_rounds(
    name: str, dump: Path, size: int, n: int, floor: float, args: argparse.Namespace
) -> None:
    """``show`` of one dump, the compared programs on it and ``show`` in pure Python, in
    rounds: each round runs each once, in turn, so that a slow spell of a busy machine falls
    on all of them alike. Prints the best and the median wall time of each; for a compared
    program, also how many times its time snapdiff's ``show`` took (above 1: snapdiff is
    faster), best against best and median against median."""
    quiet = ["-q", "-f", "json", "-o", os.devnull]
    cases: list[tuple[str, list[str], dict[str, str] | None, bool]] = [
        (f"show {name}", [*SNAPDIFF, "show", str(dump), *quiet], None, False)
    ]
    for other in args.compare:
        label, _, command = other.partition("=")
        cmd = [part.replace("{input}", str(dump)) for part in shlex.split(command)]
        cases.append((f"{label} {name}", cmd, None, True))
    if not args.no_pure:  # the reader without the compiled scanner (its worker too)
        pure = {**os.environ, "SNAPDIFF_PURE_PYTHON": "1"}
        cases.append((f"show {name} (pure Python)", cases[0][1], pure, False))
    runs: dict[str, list[tuple[Measure, bytes, int]]] = {case[0]: [] for case in cases}
    failed: dict[str, str] = {}
    for _ in range(args.repeat):
        for label, cmd, env, other in cases:
            if label in failed:
                continue
            try:
                runs[label].append(_measure(cmd, env, ok=(0, 1) if other else (0, 5)))
            except SystemExit as error:  # it cannot read this input: say so, go on
                said = str(error).splitlines()
                failed[label] = said[1] if len(said) > 1 else ""
    ours = sorted(m.wall for m, _, _ in runs[cases[0][0]])
    for label, _, _, other in cases:
        if label in failed:
            print(f"{label}: failed: {failed[label]}")
            continue
        measured = runs[label]
        walls = sorted(m.wall for m, _, _ in measured)
        counted = n
        if other:
            first = re.search(rb"[0-9]+", measured[0][1])
            counted = int(first.group()) if first else -1
            if measured[0][2]:
                label += f" (exit {measured[0][2]})"
        timing = (walls[0], max(m.rss for m, _, _ in measured), min(m.cpu for m, _, _ in measured))
        report(label, size, counted, timing, floor)
        median = statistics.median(walls)
        line = f"{'':34} wall median {median:6.2f} s of {len(walls)} runs"
        if other and ours:
            line += (
                f"; snapdiff show is {walls[0] / ours[0]:.2f}x faster at best, "
                f"{median / statistics.median(ours):.2f}x at median"
            )
        print(line, flush=True)


def make_input(name: str, folder: Path, binary: list[Path]) -> Path:
    kind, _, count = name.partition("-")
    n = int(count)
    path = folder / f"{name}.txt"
    if path.exists():
        return path
    if kind == "shallow":
        generate(path, n, (3, 5))
    elif kind == "deep":
        generate(path, n, (30, 40))
    elif kind == "service":
        if not binary:
            binary.append(build_service(folder))
        service_dump(binary[0], path, n)
    else:
        raise SystemExit(f"unknown input {name!r}")
    return path


def _load_only(snapshot: Path, checkout: Path | None) -> list[str]:
    """A process that loads a snapshot file into the model and stops (start-up included)."""
    path = f"sys.path.insert(0, {str(checkout.resolve())!r}); " if checkout else ""
    code = f"import sys; {path}from snapdiff import inputs; inputs.load({str(snapshot)!r}, None)"
    return [sys.executable, "-c", code]


# The least any reader written in Python does with a dump, whatever its design: start the CLI
# (Python, Typer, the command's imports), map the file and, a window at a time as the reader
# cuts them, decode it, blank the arguments of every function line with one regex substitution
# (the reader's own) and split it into blocks. Each step is one call into C over a window; no
# Python code runs per goroutine. A reader in Python cannot beat this.
_PASSES = (
    "import sys, mmap; {path}import snapdiff.cli, snapdiff.inputs\n"
    "sys.path.insert(0, {bench!r})\n"
    "from _passes import passes\n"
    "f = open({dump!r}, 'rb')\n"
    "passes(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))"
)
_START = "import sys; {path}import snapdiff.cli, snapdiff.inputs"


def _floors(dump: Path, checkout: Path | None, repeat: int) -> tuple[float, float]:
    """(start-up, start-up + the C passes) of one process, best wall times."""
    path = f"sys.path.insert(0, {str(checkout.resolve())!r}); " if checkout else ""
    start = best([sys.executable, "-c", _START.format(path=path)], repeat)[0]
    code = _PASSES.format(path=path, bench=str(Path(__file__).resolve().parent), dump=str(dump))
    passes = best([sys.executable, "-c", code], repeat)[0]
    return start, passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--inputs",
        nargs="+",
        default=[
            "shallow-100000",
            "deep-100000",
            "service-100000",
            "shallow-200000",
            "deep-200000",
            "service-200000",
        ],
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="make and keep the inputs in this folder")
    parser.add_argument("--no-diff", action="store_true", help="skip the diff and snapshot runs")
    parser.add_argument(
        "--no-pure", action="store_true", help="skip `show` with SNAPDIFF_PURE_PYTHON=1"
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=COMMAND",
        help="also time COMMAND on each input ({input}: its path), e.g. another parser",
    )
    parser.add_argument(
        "--checkout",
        type=Path,
        help="time the snapdiff package of another checkout (e.g. `git archive` of a commit)",
    )
    args = parser.parse_args()
    if args.checkout:
        launcher = (
            f"import sys, runpy; sys.path.insert(0, {str(args.checkout.resolve())!r}); "
            "sys.argv[0] = 'snapdiff'; runpy.run_module('snapdiff', run_name='__main__')"
        )
        SNAPDIFF[:] = [sys.executable, "-c", launcher]

    compile_package(args.checkout)
    wall, rss, cpu = best([*SNAPDIFF, "--version"], args.repeat * 3)
    bare, _, bare_cpu = best([sys.executable, "-c", "pass"], args.repeat * 3)
    print(
        f"{'snapdiff --version':34} wall {wall:.3f} s cpu {cpu:.3f} s, RSS {rss / 1024:.0f} MiB "
        f"(bare python: wall {bare:.3f} s cpu {bare_cpu:.3f} s)"
    )
    wall, rss, cpu = best([*SNAPDIFF, "--help"], args.repeat * 3)
    print(f"{'snapdiff --help':34} wall {wall:.3f} s cpu {cpu:.3f} s, RSS {rss / 1024:.0f} MiB")

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'(this bench process: peak RSS':34} {own:.0f} MiB, the least any child can report)")

    tmp = tempfile.mkdtemp(prefix="snapdiff-bench-")
    folder = args.keep or Path(tmp)
    folder.mkdir(parents=True, exist_ok=True)
    binary: list[Path] = []
    try:
        for name in args.inputs:
            dump = make_input(name, folder, binary)
            size = dump.stat().st_size
            n = count_goroutines(dump) + 1
            read = [sys.executable, "-c", f"open({str(dump)!r}, 'rb').read()"]
            floor = best(read, args.repeat)[0]
            quiet = ["-q", "-f", "json", "-o", os.devnull]
            _show_rounds(name, dump, size, n, floor, args)
            start, passes = _floors(dump, args.checkout, args.repeat)
            mib = size / (1 << 20)
            # Both cores at best: start-up once, the passes shared evenly (a computed bound).
            shared = start + (passes - start) / 2
            print(
                f"{'  floor: start-up + C passes':34} {mib:7.1f} MiB wall {passes:6.2f} s "
                f"{mib / passes:6.1f} MiB/s (start-up {start:.2f} s; passes shared by two "
                f"cores: {shared:.2f} s, {mib / shared:.1f} MiB/s)",
                flush=True,
            )
            if args.no_diff:
                continue
            timing = best([*SNAPDIFF, "diff", str(dump), str(dump), *quiet], args.repeat)
            report(f"diff {name} (x2)", 2 * size, 2 * n, timing, 2 * floor)
            snap = folder / f"{name}.json.gz"
            snap.unlink(missing_ok=True)
            timing = run([*SNAPDIFF, "convert", str(dump), "-q", "-o", str(snap)])
            report(f"convert {name}", size, n, timing, floor)
            ssize = snap.stat().st_size / (1 << 20)
            wall, rss, cpu = best(_load_only(snap, args.checkout), args.repeat)
            print(
                f"{'  load its snapshot':34} {ssize:7.1f} MiB {n:>9,} tasks wall {wall:6.2f} s "
                f"cpu {cpu:6.2f} s RSS {rss / 1024:5,.0f} MiB",
                flush=True,
            )
            wall, rss, cpu = best([*SNAPDIFF, "show", str(snap), *quiet], args.repeat)
            print(
                f"{'  show its snapshot':34} {ssize:7.1f} MiB {n:>9,} tasks wall {wall:6.2f} s "
                f"cpu {cpu:6.2f} s RSS {rss / 1024:5,.0f} MiB",
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
