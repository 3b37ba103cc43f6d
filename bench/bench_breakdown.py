"""Where the time of reading and showing one Go dump goes, in one process, step by step.

Times (best of 5, cyclic collector off, as when snapdiff reads) the Go reader on the whole
dump, the C passes every reading makes (decode, argument blanking, splitting into blocks, a
window at a time), and each per-task step of ``snapdiff show`` on the tasks read: making them
from columns, grouping, the summaries' profiles, their example ids, and ``diff.show`` in all.
What the reader costs beyond its C passes is printed per goroutine.

    python bench/bench_parse.py --inputs shallow-100000 --keep /tmp/pf/in --no-diff
    python bench/bench_breakdown.py /tmp/pf/in/shallow-100000.txt
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ["SNAPDIFF_ONE_PROCESS"] = "1"  # the reader's own work, in this process

from _passes import passes

from snapdiff.diff import _example_ids, profile, show
from snapdiff.group import group
from snapdiff.model import make_task
from snapdiff.runtimes.go import go_text


def best(step: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    least, result = float("inf"), None
    for _ in range(repeat):
        gc.disable()
        start = time.perf_counter()
        result = step()
        least = min(least, time.perf_counter() - start)
        gc.enable()
    return least, result


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    path = Path(sys.argv[1])
    raw = path.read_bytes()
    read, snap = best(lambda: go_text.parse_buffer(raw, str(path)), 3)
    tasks = snap.tasks
    columns = list(zip(*tasks, strict=True))
    groups = group(tasks)
    steps = {
        "C passes (decode, blank, split)": best(lambda: passes(raw), 3)[0],
        "make the tasks from columns": best(
            lambda: list(map(make_task, zip(*columns, strict=True)))
        )[0],
        "group them": best(lambda: group(tasks))[0],
        "the summaries' profiles": best(lambda: [profile(v) for v in groups.values()])[0],
        "their example ids": best(lambda: [_example_ids(v) for v in groups.values()])[0],
        "diff.show in all": best(lambda: show(snap))[0],
    }
    mib = len(raw) / (1 << 20)
    print(f"{path.name}: {mib:.1f} MiB, {len(tasks):,} tasks, {len(groups)} groups")
    print(f"{'the Go reader, whole dump':34} {read:7.3f} s")
    for label, seconds in steps.items():
        print(f"{label:34} {seconds:7.3f} s")
    beyond = (read - steps["C passes (decode, blank, split)"]) / len(tasks) * 1e6
    print(f"{'reader beyond its C passes':34} {beyond:7.2f} us a goroutine")


if __name__ == "__main__":
    main()
