"""A terminal report with rich. Dump text goes into ``Text`` objects, never into markup.

The report fits the console's width (80 columns when piped): names and paths that do not fit
fold at ``/``, ``.`` and similar boundaries onto indented continuation lines, so nothing is cut.
Lines carry no trailing spaces, so a report saved to a file or pasted stays clean.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rich import box
from rich.cells import cell_len, get_character_cell_size
from rich.console import Console, ConsoleOptions, RenderableType
from rich.measure import Measurement
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

from snapdiff.compare import GroupSummary, SnapshotMeta
from snapdiff.diff import DiffResult, GroupDiff, ShowResult
from snapdiff.model import Frame
from snapdiff.render import common
from snapdiff.render.common import clean
from snapdiff.render.options import DEFAULT, ReportOptions

STACK_FRAMES = 12
SUSPECT_STACKS = 5
# The narrowest a folding column gets before rich squeezes it further.
MIN_FOLD_WIDTH = 16

# Where a long line may fold, best first: after a space, after a path separator, then after
# (or before) punctuation that separates the parts of a name. Never inside ``file:line``.
_BREAKS = (frozenset(" "), frozenset("/\\"), frozenset(".,;)]>-_$"))
_BREAK_BEFORE = frozenset("([<")


def fold(line: str, width: int, hang: int = 2) -> list[str]:
    """``line`` cut into pieces of at most ``width`` cells, at a space or a name boundary.

    Continuation pieces are indented ``hang`` cells past the line's own indent.
    """
    if width <= 0 or cell_len(line) <= width:
        return [line]
    indent = len(line) - len(line.lstrip(" ")) + hang
    cont = " " * indent if indent < width // 2 else ""
    pieces: list[str] = []
    rest, prefix = line, ""
    while True:
        room = width - cell_len(prefix)
        if cell_len(rest) <= room:
            pieces.append(prefix + rest)
            return pieces
        # The longest prefix of rest that fits in room (at least one character).
        used, limit = 0, 0
        for ch in rest:
            size = get_character_cell_size(ch)
            if used + size > room:
                break
            used += size
            limit += 1
        limit = max(limit, 1)
        cut = _best_cut(rest, limit)
        piece, rest = rest[:cut].rstrip(" "), rest[cut:].lstrip(" ")
        pieces.append(prefix + piece)
        prefix = cont
        if not rest:
            return pieces


def _best_cut(text: str, limit: int) -> int:
    """Where to cut ``text`` within its first ``limit`` characters (see ``_BREAKS``)."""
    for n, chars in enumerate(_BREAKS):
        floor = max(1, limit // 3 if n < 2 else limit // 4)
        for i in range(limit, floor - 1, -1):
            if text[i - 1] in chars:
                return i
    for i in range(limit, max(1, limit // 2) - 1, -1):
        if i < len(text) and text[i] in _BREAK_BEFORE:
            return i
    return limit


class Folded:
    """Styled lines that fold at name boundaries to fit whatever width they are given."""

    def __init__(
        self, lines: Iterable[tuple[str, str]], min_width: int = MIN_FOLD_WIDTH, hang: int = 2
    ) -> None:
        self.lines = [(line, style) for line, style in lines]
        self.min_width = min_width
        self.hang = hang

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((cell_len(line) for line, _ in self.lines), default=1)
        return Measurement(min(self.min_width, longest), longest).clamp(max_width=options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        text = Text(no_wrap=True, overflow="fold", end="")
        for i, (line, style) in enumerate(self.lines):
            for j, piece in enumerate(fold(line, options.max_width, self.hang)):
                if i or j:
                    text.append("\n")
                text.append(piece, style=style)
        yield text


class ReportConsole(Console):
    """A console for the report on standard output.

    rich answers a closed pipe (``snapdiff show ... | head -1``) with ``SystemExit(1)``; here it
    reaches the caller as :class:`BrokenPipeError`, which the CLI treats as the reader being done.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(32, "Broken pipe")


def _print(console: Console, renderable: RenderableType = "") -> None:
    """Print without the trailing spaces rich pads table cells and lines with."""
    if isinstance(renderable, str):
        renderable = Text(renderable)
    lines = console.render_lines(renderable, console.options, pad=False, new_lines=False)
    segments: list[Segment] = []
    for line in lines:
        segments.extend(_rstrip(line))
        segments.append(Segment.line())
    if not lines:
        segments.append(Segment.line())
    console.print(Segments(segments), end="")


def _rstrip(line: list[Segment]) -> list[Segment]:
    out = list(line)
    while out:
        seg = out[-1]
        if seg.control:
            break
        stripped = seg.text.rstrip(" ")
        if stripped:
            out[-1] = Segment(stripped, seg.style, seg.control)
            break
        out.pop()
    return out


def _site(g: GroupDiff | GroupSummary, *, mark_entry: bool = True) -> Folded:
    """A group's table cell: its name, thread-name pattern, location, states. ``mark_entry``
    says "(entry function)" after a group that fell back to it (not needed when the column
    heading says every group did)."""
    key = g.key
    if common.is_resource(key.kind):
        lines = [(common.key_text(key), "bold")]
        examples = common.handle_examples(g)
        if examples:
            lines.append(("e.g. " + examples[0], "dim"))
        detail = common.detail(g)
        if detail:
            lines.append((detail, "italic"))
        return Folded(lines)
    name = clean(key.function, 300) or "(no stack)"
    lines = [(name, "bold")]
    if key.name_pattern:
        lines.append((f"named {clean(key.name_pattern, 100)}", "cyan"))
    if common.label_words(g):
        lines.append((common.label_words(g), "cyan"))
    loc = Frame(key.function, key.file, key.line).short_location()
    fallback = " (entry function)" if mark_entry and key.by == "entry" and g.site is None else ""
    if loc or fallback:
        lines.append((clean(loc, 300) + fallback if loc else fallback.strip(), "dim"))
    detail = common.detail(g)
    if detail:
        lines.append((detail, "italic"))
    return Folded(lines)


def _verdict(g: GroupDiff) -> Text:
    word = common.verdict_text(g)
    style = "bold red" if g.suspect else ("yellow" if g.verdict in ("growing", "turnover") else "")
    return Text(word, style=style)


def _stack(g: GroupDiff | GroupSummary, indent: str = "  ") -> Folded:
    lines: list[tuple[str, str]] = []
    for f in g.stack[:STACK_FRAMES]:
        lines.append((indent + clean(f.function, 300), ""))
        if f.file:
            lines.append((indent + "    " + clean(f.location(), 300), "dim"))
    if len(g.stack) > STACK_FRAMES:
        lines.append((f"{indent}... {len(g.stack) - STACK_FRAMES} more frames", "dim"))
    if g.site is not None and common.created_at(g.key.kind):
        lines.append((indent + "created by " + clean(g.site.function, 300), ""))
        if g.site.file:
            lines.append((indent + "    " + clean(g.site.location(), 300), "dim"))
    return Folded(lines or [(indent + "(no frames)", "dim")])


def _table() -> Table:
    return Table(
        box=box.SIMPLE_HEAD,
        header_style="bold",
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
        expand=False,
    )


def render_diff(
    result: DiffResult,
    console: Console,
    *,
    stacks: int = SUSPECT_STACKS,
    options: ReportOptions = DEFAULT,
) -> None:
    kind = common.snapshot_kind(result.groups)
    _print(console, Folded([(common.summary_sentence(result), "bold")], 1, hang=0))
    if result.before.truncated or result.after.truncated:
        _print(
            console,
            Text(
                "warning: a snapshot is truncated; tasks after the cut are missing",
                style="bold yellow",
            ),
        )
    _print(console)
    rates = result.elapsed_seconds is not None
    table = _table()
    table.add_column("verdict", min_width=7)
    table.add_column(
        common.key_heading(result.group_by, result.groups), min_width=MIN_FOLD_WIDTH, ratio=1
    )
    table.add_column("before", justify="right", no_wrap=True)
    table.add_column("after", justify="right", no_wrap=True)
    table.add_column("Δ", justify="right", no_wrap=True)
    if rates:
        table.add_column("/min", justify="right", no_wrap=True)
    if result.ids_comparable:
        table.add_column("surv.", justify="right", no_wrap=True)
    mark_entry = not common.entry_only(result.groups)
    shown, folded = common.split_noise(result, options.all_groups)
    for g in shown:
        row: list[RenderableType] = [
            _verdict(g),
            _site(g, mark_entry=mark_entry),
            f"{g.before:,}",
            f"{g.after:,}",
            Text(common.signed(g.delta), style="red" if g.suspect else ""),
        ]
        if rates:
            row.append(common.rate(g.rate_per_minute))
        if result.ids_comparable:
            row.append(f"{g.survivors:,}" if g.survivors is not None else "?")
        table.add_row(*row)
    _print(console, table)
    if folded:
        line = common.fold_line(len(folded), sum(g.after for g in folded), kind)
        _print(console, Folded([(line, "dim")], 1))
    for g in result.suspects[:stacks]:
        _print(console)
        _print(console, Folded([(_suspect_line(g), "bold")], 1))
        lines: list[tuple[str, str]] = []
        if g.reasons:
            lines.append(("why: " + "; ".join(clean(r, 300) for r in g.reasons), "dim"))
        alive = result.elapsed_seconds if result.ids_comparable else None
        ages = common.ages_text(g.waiting, g.survivors, alive)
        if ages:
            lines.append(("ages: " + ages, ""))
        if g.labels:
            labels = ", ".join(f"{clean(k, 100)}={clean(v, 200)}" for k, v in g.labels)
            lines.append(("labels: " + labels, ""))
        lines += _examples(g)
        if lines:
            _print(console, Folded(lines, 1))
        if not common.is_resource(g.key.kind):  # a handle's one frame is its key, already shown
            _print(console, _stack(g))
    if len(result.suspects) > stacks:
        _print(console, Text(f"(stacks of {len(result.suspects) - stacks} more suspects left out)"))
    _print(console)
    _print(console, Folded([("before: " + _input_line(result.before, kind), "")], 1, hang=8))
    _print(console, Folded([("after:  " + _input_line(result.after, kind), "")], 1, hang=8))
    _print(console, Folded([(common.rate_note(result), "dim")], 1, hang=0))
    for note in common.unique(
        [*result.warnings, *result.before.warnings, *result.after.warnings],
        (result.before.source.origin, result.after.source.origin),
    ):
        _print(console, Folded([("note: " + clean(note, 500), "yellow")], 1, hang=6))


def _suspect_line(g: GroupDiff | GroupSummary, counts: str = "") -> str:
    """``suspect main.fetchAll: 279 goroutines, mostly in chan send``; ``counts`` in place of
    the count (a trend's series)."""
    if common.is_resource(g.key.kind):
        name = common.key_text(g.key)
    else:
        name = clean(g.key.function, 300) or "(no stack)"
    n = common.group_count(g)
    line = f"suspect {name}: {counts or f'{n:,}'} {common.group_kind_plural(g, 2 if counts else n)}"
    if common.is_resource(g.key.kind):
        return line + (f", {common.states(g.states)}" if g.states else "")
    words, place = common.waiting_words(g.waiting)
    if words:
        return line + f"; {words}" + (f" at {place}" if place else "")
    stuck = common.where_stuck(g)
    return line + (f", mostly in {stuck}" if stuck else "")


def _examples(g: GroupDiff | GroupSummary) -> list[tuple[str, str]]:
    """Example ids of goroutines (to find them in the dump), example connections or names of
    libuv handles, example names of threads whose names carry counters."""
    if common.shows_ids(g.key.kind) and g.example_ids:
        return [("example ids: " + ", ".join(str(i) for i in g.example_ids), "dim")]
    examples = common.handle_examples(g)
    if examples:
        return [("examples: " + ", ".join(examples), "dim")]
    if common.shows_plain_names(g.key.kind) and any(
        n != g.key.name_pattern for n in g.example_names
    ):
        names = ", ".join(common.example_list(g.example_names, common.group_count(g), 100))
        return [("example names: " + names, "dim")]
    return []


def _input_line(meta: SnapshotMeta, kind: str) -> str:
    return f"{clean(meta.source.origin, 300)} ({common.describe_input(meta, kind)})"


def render_show(result: ShowResult, console: Console, *, options: ReportOptions = DEFAULT) -> None:
    snap = result.snapshot
    kind = common.snapshot_kind(result.groups)
    groups = len(result.groups)
    _print(
        console,
        Folded(
            [
                (
                    f"{snap.total:,} {common.kind_plural(kind, snap.total)} in {groups:,} "
                    f"group{'' if groups == 1 else 's'}",
                    "bold",
                ),
                (_input_line(snap, kind), ""),
            ],
            1,
        ),
    )
    if snap.truncated:
        _print(console, Text("warning: the snapshot is truncated", style="bold yellow"))
    _print(console)
    table = _table()
    table.add_column(
        common.key_heading(result.group_by, result.groups) + " / states",
        min_width=MIN_FOLD_WIDTH,
        ratio=1,
    )
    table.add_column("count", justify="right", no_wrap=True)
    mark_entry = not common.entry_only(result.groups)
    for g in result.groups:
        table.add_row(_site(g, mark_entry=mark_entry), f"{g.count:,}")
    _print(console, table)
    for note in common.unique(snap.warnings):
        _print(console, Folded([("note: " + clean(note, 500), "yellow")], 1, hang=6))


def render_formats(rows: list[tuple[str, str]], console: Console) -> None:
    for name, description in rows:
        console.print(Text(f"{name:22} {description}"), soft_wrap=True)
    console.print(Text("\nAll of them may be gzip-compressed; '-' reads standard input."))
