"""Group summaries counted per distinct shape of task: the same figures as counting each task.

``diff.summarise`` counts the (kind, stack, state, flags, wait, labels, count) of a group's
tasks, stacks by object identity and the rest by value, and sums per combination. Readers share
those tuples, but nothing requires it: tasks here are built with equal but distinct tuples,
aggregated counts, and every field varying, and the summary is checked against figures made
task by task.
"""

from __future__ import annotations

import random
from collections import Counter

from snapdiff.compare import summarise
from snapdiff.group import GroupKey
from snapdiff.model import FLAG_LEAKED, GOROUTINE, Frame, Task
from snapdiff.runtimes.go import RUNTIME as GO

STACKS = [
    (Frame("main.a", "/a.go", 1), Frame("main.main", "/m.go", 9)),
    (Frame("main.b", "/b.go", 2), Frame("main.main", "/m.go", 9)),
    (Frame("main.c", "/c.go", 3), Frame("main.run", "/r.go", 4)),
]
STATES = ["chan send", "select", "", "IO wait"]
LABELS = [(), (("k", "v"),), (("k", "v"), ("x", "y"))]


def tasks(seed: int, n: int) -> list[Task]:
    rng = random.Random(seed)
    out = []
    for gid in range(1, n + 1):
        out.append(
            Task(
                kind=GOROUTINE,
                frames=tuple(rng.choice(STACKS)),  # equal, never the same object
                id=gid,
                state=rng.choice(STATES),
                wait_minutes=rng.choice([None, 0, 3, 12]),
                created_by=Frame("main.spawn", "/s.go", 7),
                creator_id=1,
                labels=(*rng.choice(LABELS), ("all", "1")),  # a new tuple each time
                flags=tuple(rng.choice([[], [FLAG_LEAKED], ["locked-to-thread"]])),
                count=rng.choice([1, 1, 1, 4]),
            )
        )
    return out


def test_summary_matches_counting_task_by_task() -> None:
    key = GroupKey("site", GOROUTINE, "main.spawn", "/s.go", 7)
    for seed in range(20):
        group = tasks(seed, 200)
        summary = summarise(key, group, GO)
        states: Counter[str] = Counter()
        stacks: Counter[tuple[Frame, ...]] = Counter()
        entries: Counter[str] = Counter()
        for t in group:
            states[t.state] += t.count
            stacks[t.frames] += t.count
            entries[t.frames[-1].function] += t.count
        del states[""]
        assert summary.count == sum(t.count for t in group)
        assert summary.states == tuple(states.most_common())
        assert summary.max_wait_minutes == max(
            t.wait_minutes for t in group if t.wait_minutes is not None
        )
        assert summary.leaked == sum(t.count for t in group if FLAG_LEAKED in t.flags)
        assert summary.stack == stacks.most_common(1)[0][0]
        assert summary.entry_function == entries.most_common(1)[0][0]
        assert summary.labels == (("all", "1"),)
        assert summary.example_ids == (1, 2, 3, 4, 5)


def test_summary_of_shared_labels_and_no_waits() -> None:
    key = GroupKey("site", GOROUTINE, "main.spawn", "/s.go", 7)
    group = [
        t._replace(labels=(("k", "v"), ("x", "y")), wait_minutes=None, state="select")
        for t in tasks(1, 50)
    ]
    summary = summarise(key, group, GO)
    assert summary.labels == (("k", "v"), ("x", "y"))
    assert summary.max_wait_minutes is None
    assert summary.states == (("select", sum(t.count for t in group)),)


def test_example_ids_are_the_lowest_whatever_the_order() -> None:
    """A dump lists goroutines in no promised order (SIGQUIT: the scheduler's), and a thread
    may have no id: the examples are the lowest ids there are."""
    key = GroupKey("site", GOROUTINE, "main.spawn", "/s.go", 7)
    for seed in range(5):
        group = tasks(seed, 300)
        random.Random(seed).shuffle(group)
        group[0] = group[0]._replace(id=None)
        ids = sorted(t.id for t in group if t.id is not None)
        assert summarise(key, group, GO).example_ids == tuple(ids[:5])
