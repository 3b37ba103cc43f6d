"""Markdown for incident tickets (GitHub, GitLab; plain enough for others).

Everything from a dump is treated as hostile, and escaped only as much as it needs to be so the
report still reads well:

* prose and table cells (:func:`text`): backslash escapes for the Markdown punctuation that can
  start emphasis, code, links, tables or strikethrough; entities for ``<``, ``>`` and ``&`` so no
  HTML gets through; ``http://`` and ``www.`` broken up so nothing becomes an autolink, and
  ``@`` put in a code span of its own (GitHub autolinks an e-mail address despite escapes);
* names (:func:`code`): inline code spans delimited by more backticks than any run inside, with
  ``|`` escaped in tables;
* stacks (:func:`fence`): code fences longer than any run of backticks inside them;
* ``<summary>`` text (:func:`html`): HTML-escaped, as it sits in an HTML block.

Text from a dump never starts a line, and dump text cannot contain a newline (:func:`clean`
makes control characters visible), so it cannot open a heading, list, quote or fence.
"""

from __future__ import annotations

import re

from snapdiff.compare import GroupSummary, SnapshotMeta
from snapdiff.diff import DiffResult, GroupDiff, ShowResult
from snapdiff.model import Frame
from snapdiff.render import common
from snapdiff.render.common import clean
from snapdiff.render.options import DEFAULT, Links, ReportOptions
from snapdiff.waits import Waiting

STACK_FRAMES = 40
SUSPECT_STACKS = 10
SHOW_STACKS = 3

_SPECIAL = re.compile(r"[\\`*_\[\]|~<>&@]|(?<=[Ww]{3})\.|(?<=[A-Za-z]):(?=//)")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_LINE_START = re.compile(r"^(\d*)([#+=.)-])")
_BACKTICKS = re.compile(r"`+")
_HTML_SPECIAL = re.compile(r"[&<>\"'\[\]@]|(?<=[Ww]{3})\.|(?<=[A-Za-z]):(?=//)")


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch == "@":
        # GitHub's autolinker makes user@host.example a mailto: link whatever escapes it: an
        # "@" in a code span of its own splits the text it would link.
        return "`@`"
    return _ENTITIES.get(ch) or "\\" + ch


def text(value: str, limit: int = 500) -> str:
    """Untrusted text for prose or a table cell: shown as it is, never interpreted."""
    out = _SPECIAL.sub(_escape, clean(value, limit))
    # Harmless mid-line; at the start of a list item it would open a heading or a nested list.
    return _LINE_START.sub(r"\1\\\2", out)


def code(value: str, limit: int = 300, *, table: bool = True) -> str:
    """Untrusted text as an inline code span (inside a table cell unless ``table=False``).

    Text with ``<``, ``>`` or ``&`` (Python's ``<module>``, or HTML) stays in the span as it
    is: a code span shows its content literally, never as a tag or an entity.
    """
    body = clean(value, limit)
    if not body:
        return ""
    longest = max((len(m) for m in _BACKTICKS.findall(body)), default=0)
    ticks = "`" * (longest + 1)
    if body.startswith("`") or body.endswith("`") or (body[0] == body[-1] == " "):
        body = f" {body} "
    if table:
        # GFM splits table rows at every "|" not preceded by a backslash, even in code spans.
        body = body.replace("|", "\\|")
    return f"{ticks}{body}{ticks}"


def html(value: str, limit: int = 300) -> str:
    """Untrusted text inside an HTML block (``<summary>``): all of it character references.

    Markdown is not read inside an HTML block, but renderers differ: with brackets, ``@`` and
    URL starts as references too, nothing in it can become a tag, a link or an autolink.
    """
    return _HTML_SPECIAL.sub(lambda m: f"&#{ord(m.group(0))};", clean(value, limit))


def fence(body: str) -> str:
    longest = max((len(m) for m in _BACKTICKS.findall(body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}text\n{body}\n{ticks}"


def stack_text(frames: tuple[Frame, ...], created_by: Frame | None = None) -> str:
    return common.stack_text(frames, created_by, STACK_FRAMES)


def _site_frame(g: GroupDiff | GroupSummary) -> Frame | None:
    return g.site if g.site is not None and common.created_at(g.key.kind) else None


def link(label: str, url: str | None) -> str:
    """``[label](url)`` when there is a URL (made from the user's template, never from a dump:
    :class:`~snapdiff.render.options.Links` percent-encodes the path)."""
    if not url:
        return label
    return f"[{label}]({url.replace('(', '%28').replace(')', '%29').replace(' ', '%20')})"


def place(frame: Frame | None, links: Links | None, *, table: bool = True) -> str:
    """A frame's short location (its function when it has no file) as a code span, linked to
    the code when ``links`` make a URL for it."""
    if frame is None:
        return ""
    loc = frame.short_location() or frame.function
    return link(code(loc, table=table), links.url(frame) if links else None)


def _group_name(
    g: GroupDiff | GroupSummary,
    *,
    prose: bool = False,
    mark_entry: bool = True,
    links: Links | None = None,
) -> str:
    """A group's name for a table cell, or (``prose``) for a sentence. ``mark_entry`` says
    "(entry)" after a group that fell back to its entry function."""
    key = g.key
    if common.is_resource(key.kind):  # type, role and endpoint: `tcp connected to 10.0.0.1:80`
        return code(key.label(), 400, table=not prose)
    name = code(key.function, table=not prose) if key.function else "(no stack)"
    frame = Frame(key.function, key.file, key.line)
    loc = place(frame, links, table=not prose) if frame.short_location() else ""
    pattern = code(key.name_pattern, 100, table=not prose) if key.name_pattern else ""
    fallback = mark_entry and key.by == "entry" and g.site is None
    if prose:
        extra = [loc] if loc else []
        if pattern:
            extra.append(f"{common.group_kind_plural(g, 2)} named {pattern}")
        elif common.label_words(g):
            extra.append(common.label_words(g))
        if fallback:
            extra.append("entry function")
        return name + (f" ({', '.join(extra)})" if extra else "")
    if loc:
        name += f" {loc}"
    if pattern:
        name += f" {pattern}"
    if common.label_words(g):
        name += f" ({common.label_words(g)})"
    if fallback:
        name += " (entry)"
    return name


def waiting_clause(w: Waiting | None, links: Links | None = None, *, table: bool = False) -> str:
    """``; 278 of 279 wait in chan send at `leaky/fanout.go:53```: the place in a code span."""
    words, where = common.waiting_words(w)
    if not words or w is None:
        return ""
    at = place(w.frame, links, table=table)
    if w.frame is not None and not w.app and w.frame.short_location():  # a library's frame
        at = f"{code(w.frame.function, table=table)} ({at})"
    return f"; {text(words)}" + (f" at {at}" if where else "")


def _states(g: GroupDiff | GroupSummary) -> str:
    words = common.states(g.states)
    if g.leaked:
        words += f"; {g.leaked:,} marked leaked by {common.marker(g.key.kind)}"
    return text(words)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _key_words(group_by: str, groups: tuple[GroupDiff, ...] | tuple[GroupSummary, ...] = ()) -> str:
    return common.key_heading(group_by, groups)


def _grouped_by(group_by: str, groups: tuple[GroupDiff, ...] | tuple[GroupSummary, ...]) -> str:
    """``grouped by creation site``; says why when every group fell back to its entry."""
    words = f"grouped by {_key_words(group_by, groups)}"
    if group_by == "site" and common.entry_only(groups):
        words += " (the input records no creation sites)"
    return words


def _origin(meta: SnapshotMeta) -> str:
    return code(_name(meta.source.origin), 200, table=False)


def _details(g: GroupDiff | GroupSummary, count: int, *, stuck: bool, ages: str = "") -> list[str]:
    tasks = common.group_kind_plural(g, count)
    handle = common.is_resource(g.key.kind)
    name = g.key.label() if handle else (g.key.function or "(no stack)")
    where = common.where_stuck(g)
    if handle:
        summary = f"{name}: {count:,} {tasks}" + (
            f", {common.states(g.states)}" if g.states else ""
        )
    elif stuck:
        words, at = common.waiting_words(g.waiting)
        if words:
            summary = f"{name}: {count:,} {tasks}; {words}" + (f" at {at}" if at else "")
        else:
            summary = f"{name}: where its {count:,} {tasks} are stuck" + (
                f" ({where})" if where else ""
            )
    else:
        summary = f"{name}: {count:,} {tasks}" + (f", mostly in {where}" if where else "")
    reasons = getattr(g, "reasons", ())
    examples = common.handle_examples(g)
    if handle and not stuck and not (reasons or g.labels or examples):
        return []  # nothing to show beyond the table's row
    out = [f"<details><summary>{html(summary, 400)}</summary>", ""]
    if reasons:
        out += ["Why: " + text("; ".join(reasons)) + ".", ""]
    if ages:
        out += ["Ages: " + text(ages) + ".", ""]
    if g.labels:
        shown = ", ".join(code(f"{k}={v}", 300, table=False) for k, v in g.labels)
        out += ["Labels: " + shown, ""]
    if g.example_ids and common.shows_ids(g.key.kind):
        ids = ", ".join(str(i) for i in g.example_ids)
        out += [f"Example ids: {ids}", ""]
    elif examples:  # in a fence: a connection's "->" would be escaped in prose
        out += ["Examples:", "", fence("\n".join(examples)), ""]
    elif common.shows_plain_names(g.key.kind) and any(
        n != g.key.name_pattern for n in g.example_names
    ):
        names = common.example_list(g.example_names, count, 100)
        shown = ", ".join(n if n == "..." else code(n, 100, table=False) for n in names)
        out += [f"Example names: {shown}", ""]
    if not handle:  # a handle's one frame is its key, already shown
        out += [fence(stack_text(g.stack, _site_frame(g))), ""]
    out += ["</details>", ""]
    return out


# A table whose rows hold more characters of cells than this overflows GitHub's content column
# and its last columns are cut off: the per-group detail columns go under the table instead.
TABLE_CELLS = 100


def table(
    head: list[str], align: list[str], rows: list[list[str]], fixed: int, name_col: int = 1
) -> list[str]:
    """A table of ``rows``; the columns after the first ``fixed`` are moved under the table, a
    line per row (``- name: heading value; heading value``), when a row would hold more than
    :data:`TABLE_CELLS` characters of cells. Nothing is cut."""
    wide = max((sum(map(_visible, row)) for row in rows), default=0) > TABLE_CELLS
    keep = fixed if wide and len(head) > fixed else len(head)
    out = ["| " + " | ".join(head[:keep]) + " |", "|" + "|".join(align[:keep]) + "|"]
    out += ["| " + " | ".join(row[:keep]) + " |" for row in rows]
    out.append("")
    if keep < len(head):
        for row in rows:
            pairs = zip(head[keep:], row[keep:], strict=True)
            extra = [f"{h} {c}" for h, c in pairs if c and c != "-"]
            if extra:
                # The group's name again, outside a table: "\|" is needed only in cells.
                name = row[name_col].replace("\\|", "|")
                out.append(f"- {name}: " + "; ".join(extra))
        out.append("")
    return out


_LINK_TARGET = re.compile(r"\]\([^)\s]*\)")


def _visible(cell: str) -> int:
    """About how many characters a cell shows: a link shows its label, not its URL."""
    return len(_LINK_TARGET.sub("", cell))


def render_diff(result: DiffResult, options: ReportOptions = DEFAULT) -> str:
    links = options.links
    kind = common.snapshot_kind(result.groups)
    suspects = result.suspects
    rates = result.elapsed_seconds is not None
    survivors = result.ids_comparable
    title = _plural(len(suspects), "suspect site") if suspects else "no suspect site"
    out = [f"### snapdiff: {title}", ""]

    summary = common.summary_head(result, "→")
    if suspects:
        top = suspects[0]
        summary += (
            f" Suspect: {_group_name(top, prose=True, links=links)}"
            f"{text(common.suspect_growth(result))}"
            f"{waiting_clause(top.waiting, links)}{text(common.more_suspects(len(suspects)))}."
        )
    else:
        summary += " No site looks like a leak."
    out += [summary, ""]
    if result.before.truncated or result.after.truncated:
        out.append(
            "> **Warning:** a snapshot is truncated; "
            "counts for the tasks after the cut are missing."
        )
        out.append("")

    shown, folded = common.split_noise(result, options.all_groups)
    heading = _key_words(result.group_by, result.groups)
    head = ["Verdict", heading[0].upper() + heading[1:], "Before", "After", "Δ"]
    align = ["---", "---", "--:", "--:", "--:"]
    if rates:
        head.append("Per min")
        align.append("--:")
    if survivors:
        head.append("Survivors")
        align.append("--:")
    fixed = len(head)
    # Columns no input fills (states of a profile, waits outside Go) are left out.
    states = any(_states(g) for g in result.groups)
    waits = any(g.max_wait_minutes is not None for g in result.groups)
    if states:
        head.append("States (after)")
        align.append("---")
    if waits:
        head.append("Longest wait")
        align.append("--:")
    mark_entry = not common.entry_only(result.groups)
    rows = []
    for g in shown:
        verdict = text(common.verdict_text(g))
        row = [
            f"**{verdict}**" if g.suspect else verdict,
            _group_name(g, mark_entry=mark_entry, links=links),
            f"{g.before:,}",
            f"{g.after:,}",
            common.signed(g.delta),
        ]
        if rates:
            row.append(common.rate(g.rate_per_minute))
        if survivors:
            row.append(f"{g.survivors:,}" if g.survivors is not None else "?")
        if states:
            row.append(_states(g))
        if waits:
            row.append(common.wait(g.max_wait_minutes))
        rows.append(row)
    out += table(head, align, rows, fixed)
    if folded:
        out += _folded(folded, kind, mark_entry, links)

    for g in suspects[:SUSPECT_STACKS]:
        alive = result.elapsed_seconds if survivors else None
        ages = common.ages_text(g.waiting, g.survivors, alive)
        out += _details(g, g.after, stuck=True, ages=ages)
    if len(suspects) > SUSPECT_STACKS:
        out += [f"Stacks of {len(suspects) - SUSPECT_STACKS} more suspect sites left out.", ""]

    out.append(f"Compared, {_grouped_by(result.group_by, result.groups)}:")
    out.append("")
    out.append(f"- before: {_origin(result.before)}: {_describe(result.before, kind)}")
    out.append(f"- after: {_origin(result.after)}: {_describe(result.after, kind)}")
    out.append(f"- {text(common.rate_note(result))}")
    if not survivors:
        out.append(
            f"- survivors unknown: the {common.kind_plural(kind, 2)} could not be matched by id "
            "between the snapshots"
        )
    notes = common.unique(
        [*result.warnings, *result.before.warnings, *result.after.warnings],
        (result.before.source.origin, result.after.source.origin),
    )
    if notes:
        out += ["", "Notes:", ""]
        out.extend(f"- {text(n)}" for n in notes)
    return "\n".join(out) + "\n"


def _folded(folded: list[GroupDiff], kind: str, mark_entry: bool, links: Links | None) -> list[str]:
    """The steady and internal groups in a collapsed block, one line each."""
    tasks = sum(g.after for g in folded)
    line = common.fold_line(len(folded), tasks, kind, hint=False)
    out = [f"<details><summary>{html(line)}</summary>", ""]
    for g in folded:
        name = _group_name(g, prose=True, mark_entry=mark_entry, links=links)
        out.append(f"- {name}: {g.before:,} → {g.after:,}, {text(common.verdict_text(g))}")
    out += ["", "</details>", ""]
    return out


def _describe(meta: SnapshotMeta, kind: str) -> str:
    """The input described, its own words (format, reader's detail, host) in code spans."""
    return ", ".join(
        code(part, table=False) if untrusted else text(part)
        for part, untrusted in common.describe_parts(meta, kind)
    )


def _name(origin: str) -> str:
    return origin.replace("\\", "/").rsplit("/", 1)[-1] or origin


def render_show(result: ShowResult, options: ReportOptions = DEFAULT) -> str:
    snap = result.snapshot
    kind = common.snapshot_kind(result.groups)
    things = common.kind_plural(kind, snap.total)
    groups = _plural(len(result.groups), "group")
    out = [f"### snapdiff: {snap.total:,} {things} in {groups}", ""]
    if snap.truncated:
        out.append("> **Warning:** the snapshot is truncated; tasks after the cut are missing.")
        out.append("")
    heading = _key_words(result.group_by, result.groups)
    states = any(_states(g) for g in result.groups)
    waits = any(g.max_wait_minutes is not None for g in result.groups)
    head = (
        [heading[0].upper() + heading[1:], "Count"] + ["States"] * states + ["Longest wait"] * waits
    )
    align = ["---", "--:"] + ["---"] * states + ["--:"] * waits
    mark_entry = not common.entry_only(result.groups)
    rows = []
    for g in result.groups:
        row = [_group_name(g, mark_entry=mark_entry, links=options.links), f"{g.count:,}"]
        row += [_states(g)] * states + [common.wait(g.max_wait_minutes)] * waits
        rows.append(row)
    out += table(head, align, rows, 2, name_col=0)
    for g in result.groups[:SHOW_STACKS]:
        out += _details(g, g.count, stuck=False, ages=common.ages_text(g.waiting, None, None))
    out.append(
        f"Read {_origin(snap)}: {_describe(snap, kind)}; "
        f"{_grouped_by(result.group_by, result.groups)}."
    )
    if snap.warnings:
        out += ["", "Notes:", ""]
        out.extend(f"- {text(n)}" for n in common.unique(snap.warnings))
    return "\n".join(out) + "\n"


def render_formats(rows: list[tuple[str, str]]) -> str:
    lines = ["| Name | Reads |", "|---|---|"] + [f"| `{n}` | {d} |" for n, d in rows]
    return "\n".join(lines) + "\n"
