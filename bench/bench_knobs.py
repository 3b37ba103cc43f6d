"""`snapdiff show` of one dump under several settings of the Go reader, runs alternating.

A setting is a label and any number of assignments: ``go_text.NAME=VALUE`` sets a constant of
``snapdiff/runtimes/go/go_text.py`` (a Python literal) in the process before the command runs,
``env.NAME=VALUE`` puts a variable in its environment. Each round runs every setting once, in
turn, so that a slow spell of the machine falls on all of them alike. For each setting it
prints the best and the median wall time, the least CPU time, the highest peak RSS and the
least number of minor page faults (a forked worker's included in all but wall time).

    python bench/bench_knobs.py /tmp/pf/in/deep-100000.txt --repeat 3 \\
        --setting 4M go_text.WINDOW=4194304 --setting 256K go_text.WINDOW=262144
    python bench/bench_knobs.py /tmp/pf/in/deep-100000.txt --setting plain \\
        --setting kept go_text.WINDOW=4194304 env.MALLOC_TOP_PAD_=67108864
    python bench/bench_knobs.py /tmp/pf/in/service-100000.txt --head 8000000 \\
        --setting one env.SNAPDIFF_ONE_PROCESS=1 --setting two

``--head BYTES`` times the first BYTES of the dump instead, cut after the last blank line
before them (a whole dump, smaller). Dumps come from ``bench_parse.py --keep DIR``; gzipped
ones are read as snapdiff reads them.
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import sys
import tempfile
from pathlib import Path

from _bytecode import compile_package
from bench_parse import Measure, measure

_LAUNCHER = (
    "import sys, runpy\n"
    "from snapdiff.runtimes import go_text\n"
    "for name, value in {assignments!r}:\n"
    "    if not hasattr(go_text, name):\n"
    "        raise SystemExit(f'go_text has no {{name}}')\n"
    "    setattr(go_text, name, value)\n"
    "sys.argv[0] = 'snapdiff'\n"
    "runpy.run_module('snapdiff', run_name='__main__')\n"
)


class Setting:
    def __init__(self, label: str, assignments: list[str]) -> None:
        self.label = label
        self.constants: list[tuple[str, object]] = []
        self.env = dict(os.environ)
        for assignment in assignments:
            target, _, value = assignment.partition("=")
            where, _, name = target.partition(".")
            if where == "go_text" and name:
                self.constants.append((name, ast.literal_eval(value)))
            elif where == "env" and name:
                self.env[name] = value
            else:
                raise SystemExit(f"not go_text.NAME=VALUE or env.NAME=VALUE: {assignment!r}")

    def command(self, dump: Path) -> list[str]:
        launcher = _LAUNCHER.format(assignments=self.constants)
        return [
            sys.executable,
            "-c",
            launcher,
            "show",
            str(dump),
            "-q",
            "-f",
            "json",
            "-o",
            os.devnull,
        ]


def head(dump: Path, size: int, folder: Path) -> Path:
    """The dump's first ``size`` bytes, up to the end of the last blank line in them."""
    data = dump.read_bytes()[:size]
    cut = data.rfind(b"\n\n")
    if cut < 0:
        raise SystemExit(f"no blank line in the first {size} bytes of {dump}")
    path = folder / f"{dump.stem}-head{size}{dump.suffix}"
    path.write_bytes(data[: cut + 2])
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dump", type=Path)
    parser.add_argument(
        "--setting",
        nargs="+",
        action="append",
        required=True,
        metavar=("LABEL", "ASSIGNMENT"),
        help="a label and its go_text.NAME=VALUE / env.NAME=VALUE assignments",
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds (each runs every setting)")
    parser.add_argument("--head", type=int, help="time the dump's first HEAD bytes instead")
    args = parser.parse_args()
    settings = [Setting(label, assignments) for label, *assignments in args.setting]
    compile_package(None)
    with tempfile.TemporaryDirectory(prefix="snapdiff-knobs-") as tmp:
        dump = head(args.dump, args.head, Path(tmp)) if args.head else args.dump
        runs: dict[str, list[Measure]] = {s.label: [] for s in settings}
        for _ in range(args.repeat):
            for setting in settings:
                runs[setting.label].append(measure(setting.command(dump), setting.env))
        mib = dump.stat().st_size / (1 << 20)
        print(f"{dump.name}: {mib:.1f} MiB, {args.repeat} rounds")
        for label, done in runs.items():
            walls = [m.wall for m in done]
            cpu, rss = min(m.cpu for m in done), max(m.rss for m in done) / 1024
            print(
                f"  {label:14} wall best {min(walls):5.2f} s median {statistics.median(walls):5.2f}"
                f" s  cpu {cpu:5.2f} s  RSS {rss:4.0f} MiB"
                f"  minor faults {min(m.faults for m in done):>9,}",
                flush=True,
            )


if __name__ == "__main__":
    main()
