"""A runtime snapdiff has never heard of, added the way docs/contributing.md says: a reader and
a Runtime, registered with one call. Grouping, identity, the id clock, the diff and every report
format work for it without a change to a generic module.

The runtime is made up here: "toy" runs fibers, starts each in ``toy.boot`` (a start-up frame
that says nothing, as Python's threading bootstrap or the JVM's ``Thread.run`` do), numbers them
in creation order and never reuses a number (an id clock), and prints ``spawned by`` when it
knows who made a fiber.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import orjson
import pytest
from rich.console import Console

from snapdiff import runtimes
from snapdiff.diff import diff, show
from snapdiff.errors import InputError
from snapdiff.group import GroupBy, group
from snapdiff.inputs import parse_bytes
from snapdiff.model import Frame, Snapshot, SourceInfo, Task
from snapdiff.render import RENDERERS
from snapdiff.runtime import Reader, Runtime, TaskKind
from snapdiff.runtimes._lines import starts_by

FIBER = "fiber"
NAME = "toy-fiber-text"
_HEADER = re.compile(r"^fiber (\d+) \[([^\]]*)\](?: name=(\S+))?$")
_FRAME = re.compile(r"^  (?:spawned by )?(\S+) \(([^:()]+):(\d+)\)$")


def sniff(head: bytes) -> bool:
    return head.startswith(b"TOY FIBER DUMP")


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    lines = data.decode().splitlines()
    at = re.search(r"at (\S+)", lines[0])
    tasks: list[Task] = []
    cur: dict[str, object] | None = None

    def close() -> None:
        if cur is not None:
            tasks.append(
                Task(
                    FIBER,
                    tuple(cur["frames"]),  # type: ignore[arg-type]
                    id=cur["id"],  # type: ignore[arg-type]
                    name=cur["name"],  # type: ignore[arg-type]
                    state=cur["state"],  # type: ignore[arg-type]
                    created_by=cur["by"],  # type: ignore[arg-type]
                )
            )

    for line in lines[1:]:
        header = _HEADER.match(line)
        frame = _FRAME.match(line)
        if header:
            close()
            fid, state, name = header.groups()
            cur = {"id": int(fid), "state": state, "name": name or "", "frames": [], "by": None}
        elif frame and cur is not None:
            f = Frame(frame[1], frame[2], int(frame[3]))
            if line.startswith("  spawned by "):
                cur["by"] = f
            else:
                cur["frames"].append(f)  # type: ignore[attr-defined]
    close()
    return Snapshot(SourceInfo(NAME, origin, captured_at=at[1] if at else None), tuple(tasks))


@dataclass(frozen=True)
class Toy(Runtime):
    def implicit_site(self, task: Task) -> Frame | None:
        for frame in reversed(task.frames):
            if frame.function != "toy.boot":
                return frame
        return None

    def entry_frame(self, task: Task) -> Frame | None:
        return self.implicit_site(task)

    def identity(self, task: Task) -> tuple[object, ...]:
        return (task.id,)  # never reused: a renamed fiber is the same fiber


TOY = Toy(
    "toy",
    "Toy",
    readers=(
        Reader(
            NAME,
            "toy fiber dumps",
            sniff,
            parse,
            is_header=lambda line: _HEADER.match(line) is not None,
            dump_starts=starts_by(re.compile(r"TOY FIBER DUMP ")),
            dumps_noun="fiber dumps",
            loose_header=re.compile(rb"^fiber \d+[^\n]*", re.M),
        ),
    ),
    kinds=(TaskKind(FIBER, "fiber", "fibers", example_ids=True),),
    id_clocks=frozenset({(NAME, FIBER)}),
    restart_by_max_id=True,
    site_hints={(FIBER, "app.spawnLeak", "app/leak.toy"): "toy hint: close your fibers"},
)


@pytest.fixture
def toy() -> Iterator[Runtime]:
    runtimes.register(TOY)
    try:
        yield TOY
    finally:
        runtimes.unregister(TOY)


def dump(at: str, fibers: list[tuple[int, str, str, str | None]]) -> bytes:
    """(id, name, entry function, spawner or None) per fiber, each started in toy.boot."""
    out = [f"TOY FIBER DUMP at {at}"]
    for fid, name, entry, spawner in fibers:
        out.append(f"fiber {fid} [parked]" + (f" name={name}" if name else ""))
        out.append(f"  {entry} (app/{entry.split('.')[-1]}.toy:7)")
        out.append("  toy.boot (toy/rt.toy:1)")
        if spawner:
            out.append(f"  spawned by {spawner} (app/leak.toy:20)")
    return ("\n".join(out) + "\n").encode()


LEAK = "app.spawnLeak"
BEFORE = dump(
    "2026-12-03T10:00:00Z",
    [
        (1, "main", "app.main", None),
        (2, "", "app.pollA", None),
        (3, "", "app.pollB", None),
        (5, "leak-5", "app.handle", LEAK),
        (6, "leak-6", "app.handle", LEAK),
        (7, "", "app.churn", "app.spawnChurn"),
    ],
)
AFTER = dump(
    "2026-12-03T10:02:00Z",
    [
        (1, "main", "app.main", None),
        (2, "", "app.pollA", None),
        (3, "", "app.pollB", None),
        (5, "renamed", "app.handle", LEAK),
        (6, "leak-6", "app.handle", LEAK),
        *((i, f"leak-{i}", "app.handle", LEAK) for i in range(9, 21)),
        # A site that appeared after the first dump, born across the whole interval.
        *((i, "", "app.late", "app.spawnLate") for i in (10, 12, 22, 25, 28)),
        (30, "", "app.churn", "app.spawnChurn"),
    ],
)


def test_an_unregistered_runtime_is_refused() -> None:
    with pytest.raises(InputError, match="not a dump snapdiff recognises"):
        parse_bytes(BEFORE, "before.toy")


def test_its_reader_is_detected_and_its_snapshot_knows_its_runtime(toy: Runtime) -> None:
    snap = parse_bytes(BEFORE, "before.toy")
    assert snap.source.format == NAME
    assert runtimes.of(snap) is toy
    assert runtimes.SOURCES[NAME].sniff(BEFORE)
    assert list(runtimes.SOURCES)[-1] == NAME  # tried after every reader that was there


def test_its_start_up_frame_is_no_site(toy: Runtime) -> None:
    # Two unrelated fibers without a spawner, both started in toy.boot: two groups, keyed by
    # what the runtime calls their site, not one group keyed by the start-up frame.
    snap = parse_bytes(BEFORE, "before.toy")
    keys = {k.function: k for k in group(snap.tasks, rt=toy)}
    assert {"app.pollA", "app.pollB"} <= set(keys)
    assert "toy.boot" not in keys
    assert keys["app.pollA"].by == "site" and keys[LEAK].line == 20
    entry = {k.function for k in group(snap.tasks, GroupBy.ENTRY, rt=toy)}
    assert "toy.boot" not in entry and "app.handle" in entry


def test_diff_uses_its_identity_clock_hints_and_words(toy: Runtime) -> None:
    result = diff(parse_bytes(BEFORE, "b"), parse_bytes(AFTER, "a"))
    assert result.ids_comparable
    by = {g.key.function: g for g in result.groups}
    leak = by[LEAK]
    # Fiber 5 was renamed: still the same fiber (identity is the id alone).
    assert (leak.before, leak.after, leak.survivors) == (2, 14, 2)
    assert (leak.verdict, leak.suspect, leak.confidence) == ("leak", True, "high")
    assert "toy hint: close your fibers" in leak.reasons
    # New since the first dump, ids from before the midpoint of the clock: a leak, not a burst.
    assert by["app.spawnLate"].verdict == "leak"
    assert by["app.spawnChurn"].verdict == "churn"
    assert by["app.pollA"].verdict == "steady"
    assert result.elapsed_seconds == 120


def test_a_restart_is_told_by_its_clock(toy: Runtime) -> None:
    # The highest id went down and the second dump holds fibers the first never had: a restart
    # is possible (weak evidence, said in the runtime's words); survivors are still counted.
    restarted = dump(
        "2026-12-03T10:03:00Z",
        [(1, "main", "app.main", None), *((i, "", "app.pollA", None) for i in (4, 7, 8))],
    )
    result = diff(parse_bytes(AFTER, "a"), parse_bytes(restarted, "r"))
    (note,) = result.warnings
    assert "highest fiber id went down (30 -> 8)" in note and "may have restarted" in note
    assert result.ids_comparable
    # The newest fibers ending, with nothing new, is no restart.
    quiet = dump("2026-12-03T10:03:00Z", [(1, "main", "app.main", None)])
    assert diff(parse_bytes(AFTER, "a"), parse_bytes(quiet, "q")).warnings == ()


@pytest.mark.parametrize("fmt", list(RENDERERS))
def test_every_report_format_speaks_of_fibers(toy: Runtime, fmt: str) -> None:
    before, after = parse_bytes(BEFORE, "b"), parse_bytes(AFTER, "a")
    renderer = RENDERERS[fmt]
    for report, result in (("diff", diff(before, after)), ("show", show(after))):
        render = renderer.function(report)
        if renderer.output == "console":
            buf = io.StringIO()
            render(result, Console(file=buf, width=120, color_system=None))
            out = buf.getvalue()
        else:
            data = render(result)
            out = data.decode() if isinstance(data, bytes) else data
        assert LEAK in out, (fmt, report)
        if renderer.output == "bytes":
            doc = orjson.loads(out)
            assert FIBER in {g["kind"] for g in doc["groups"]}
        else:
            assert "fibers" in out, (fmt, report)


def test_several_dumps_in_one_input_and_unread_headers_are_said_in_its_words(toy: Runtime) -> None:
    # What inputs and unwrap ask of a text format comes from its reader: where each dump of an
    # input begins, what to call them, and a loose header line to account for every task.
    both = parse_bytes(BEFORE + AFTER, "two.txt")
    assert both.total == parse_bytes(AFTER, "a").total
    (said,) = [w for w in both.warnings if "in one file" in w]
    assert said.startswith("two.txt: 2 fiber dumps in one file (starting on lines 1, ")
    first = parse_bytes(BEFORE + AFTER, "two.txt", dump=1)
    assert first.total == parse_bytes(BEFORE, "b").total
    odd = BEFORE.replace(b"fiber 3 [parked]", b"fiber 3 [parked] (odd)")
    snap = parse_bytes(odd, "odd.txt")
    (note,) = [w for w in snap.warnings if "headers" in w]
    assert note.startswith(f"odd.txt: read {snap.total} fibers of {snap.total + 1} headers")
    line = odd[: odd.index(b"fiber 3 [")].count(b"\n") + 1
    assert note.endswith(f"; 1 fiber headers not understood at lines {line}")
