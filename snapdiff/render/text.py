"""A terminal report with rich. Dump text goes into ``Text`` objects, never into markup."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from snapdiff.diff import DiffResult, GroupDiff, GroupSummary, ShowResult, SnapshotMeta
from snapdiff.model import Frame
from snapdiff.render import common
from snapdiff.render.common import clean

STACK_FRAMES = 12
SUSPECT_STACKS = 5


def _site(g: GroupDiff | GroupSummary) -> Text:
    key = g.key
    text = Text(clean(key.function, 300) or "(no stack)", style="bold")
    if key.name_pattern:
        text.append(f" [{clean(key.name_pattern, 100)}]", style="cyan")
    loc = Frame(key.function, key.file, key.line).short_location()
    if loc:
        text.append("\n" + clean(loc, 300), style="dim")
    detail = common.states(g.states)
    if g.max_wait_minutes:
        detail += f"; waiting up to {common.wait(g.max_wait_minutes)}"
    if g.leaked:
        detail += f"; {g.leaked:,} marked leaked by Go"
    if detail:
        text.append("\n" + detail, style="italic")
    return text


def _verdict(g: GroupDiff) -> Text:
    word = common.verdict_text(g)
    style = "bold red" if g.suspect else ("yellow" if g.verdict in ("growing", "turnover") else "")
    return Text(word, style=style)


def _stack(g: GroupDiff) -> Text:
    text = Text()
    for f in g.stack[:STACK_FRAMES]:
        text.append(clean(f.function, 300))
        if f.file:
            text.append("\n    " + clean(f.location(), 300), style="dim")
        text.append("\n")
    if len(g.stack) > STACK_FRAMES:
        text.append(f"... {len(g.stack) - STACK_FRAMES} more frames\n", style="dim")
    if g.site is not None and g.key.kind == "goroutine":
        text.append("created by " + clean(g.site.function, 300))
        if g.site.file:
            text.append("\n    " + clean(g.site.location(), 300), style="dim")
    text.rstrip()
    return text if text.plain else Text("(no frames)")


def render_diff(result: DiffResult, console: Console, *, stacks: int = SUSPECT_STACKS) -> None:
    console.print(Text(common.summary_sentence(result), style="bold"))
    if result.before.truncated or result.after.truncated:
        console.print(
            Text(
                "warning: a snapshot is truncated; tasks after the cut are missing",
                style="bold yellow",
            )
        )
    rates = result.elapsed_seconds is not None
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, expand=False)
    table.add_column("verdict", no_wrap=True)
    table.add_column(
        common.KEY_WORDS.get(result.group_by, result.group_by),
        overflow="fold",
        min_width=20,
        ratio=1,
    )
    table.add_column("before", justify="right", no_wrap=True)
    table.add_column("after", justify="right", no_wrap=True)
    table.add_column("Δ", justify="right", no_wrap=True)
    if rates:
        table.add_column("/min", justify="right", no_wrap=True)
    if result.ids_comparable:
        table.add_column("surv.", justify="right", no_wrap=True)
    for g in result.groups:
        row: list[str | Text] = [
            _verdict(g),
            _site(g),
            f"{g.before:,}",
            f"{g.after:,}",
            Text(common.signed(g.delta), style="red" if g.suspect else ""),
        ]
        if rates:
            row.append(common.rate(g.rate_per_minute))
        if result.ids_comparable:
            row.append(f"{g.survivors:,}" if g.survivors is not None else "?")
        table.add_row(*row)
    console.print(table)
    for g in result.suspects[:stacks]:
        stuck = clean(g.states[0][0], 60) if g.states else "?"
        head = Text.assemble(
            ("suspect ", "bold red"),
            (clean(g.key.function, 300) or "(no stack)", "bold"),
            f": {g.after:,} {common.kind_plural(g.key.kind, g.after)}, mostly in {stuck}",
        )
        body: list[RenderableType] = [head]
        if g.reasons:
            body.append(Text("why: " + "; ".join(clean(r, 300) for r in g.reasons), style="dim"))
        if g.labels:
            body.append(
                Text(
                    "labels: " + ", ".join(f"{clean(k, 100)}={clean(v, 200)}" for k, v in g.labels)
                )
            )
        body.append(Padding(_stack(g), (0, 0, 0, 2)))
        console.print()
        console.print(Group(*body))
    console.print()
    console.print(Text("before: ", style="bold") + Text(_input_line(result.before)))
    console.print(Text("after:  ", style="bold") + Text(_input_line(result.after)))
    console.print(Text(common.rate_note(result), style="dim"))
    for note in [*result.warnings, *result.before.warnings, *result.after.warnings]:
        console.print(Text("note: " + clean(note, 500), style="yellow"))


def _input_line(meta: SnapshotMeta) -> str:
    return f"{clean(meta.source.origin, 300)} ({common.describe_input(meta)})"


def render_show(result: ShowResult, console: Console) -> None:
    snap = result.snapshot
    console.print(
        Text(f"{snap.total:,} tasks in {len(result.groups):,} groups", style="bold")
        + Text(f"  {clean(snap.source.origin, 300)} ({common.describe_input(snap)})")
    )
    if snap.truncated:
        console.print(Text("warning: the snapshot is truncated", style="bold yellow"))
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    table.add_column(
        common.KEY_WORDS.get(result.group_by, result.group_by) + " / states",
        overflow="fold",
        min_width=20,
        ratio=1,
    )
    table.add_column("count", justify="right", no_wrap=True)
    for g in result.groups:
        table.add_row(_site(g), f"{g.count:,}")
    console.print(table)
    for note in snap.warnings:
        console.print(Text("note: " + clean(note, 500), style="yellow"))
