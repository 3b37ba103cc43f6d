"""Markdown for incident tickets (GitHub, GitLab; plain enough for others).

Everything from a dump is treated as hostile, and escaped only as much as it needs to be so the
report still reads well:

* prose and table cells (:func:`text`): backslash escapes for the Markdown punctuation that can
  start emphasis, code, links, tables or strikethrough; entities for ``<``, ``>`` and ``&`` so no
  HTML gets through; ``http://``, ``www.`` and ``@`` broken up so nothing becomes an autolink;
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

STACK_FRAMES = 40
SUSPECT_STACKS = 10
SHOW_STACKS = 3

_SPECIAL = re.compile(r"[\\`*_\[\]|~<>&@]|(?<=[Ww]{3})\.|(?<=[A-Za-z]):(?=//)")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_LINE_START = re.compile(r"^(\d*)([#+=.)-])")
_BACKTICKS = re.compile(r"`+")
_HTML_CHARS = re.compile(r"[<>&]")
_HTML_SPECIAL = re.compile(r"[&<>\"'\[\]@]|(?<=[Ww]{3})\.|(?<=[A-Za-z]):(?=//)")


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _ENTITIES.get(ch) or "\\" + ch


def text(value: str, limit: int = 500) -> str:
    """Untrusted text for prose or a table cell: shown as it is, never interpreted."""
    out = _SPECIAL.sub(_escape, clean(value, limit))
    # Harmless mid-line; at the start of a list item it would open a heading or a nested list.
    return _LINE_START.sub(r"\1\\\2", out)


def code(value: str, limit: int = 300, *, table: bool = True) -> str:
    """Untrusted text as an inline code span (inside a table cell unless ``table=False``).

    Text with ``<``, ``>`` or ``&`` (Python's ``<module>``, or HTML) is escaped prose instead:
    a code span cannot hold entities, and no tag from a dump appears raw outside a fence.
    """
    body = clean(value, limit)
    if not body:
        return ""
    if _HTML_CHARS.search(body):
        return text(value, limit)
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
    lines = []
    for f in frames[:STACK_FRAMES]:
        lines.append(clean(f.function, 500))
        if f.file:
            lines.append("    " + clean(f.location(), 500))
    if len(frames) > STACK_FRAMES:
        lines.append(f"... {len(frames) - STACK_FRAMES} more frames")
    if created_by is not None:
        lines.append("created by " + clean(created_by.function, 500))
        if created_by.file:
            lines.append("    " + clean(created_by.location(), 500))
    return "\n".join(lines) if lines else "(no frames)"


def _site_frame(g: GroupDiff | GroupSummary) -> Frame | None:
    return g.site if g.site is not None and common.created_at(g.key.kind) else None


def _group_name(
    g: GroupDiff | GroupSummary, *, prose: bool = False, mark_entry: bool = True
) -> str:
    """A group's name for a table cell, or (``prose``) for a sentence. ``mark_entry`` says
    "(entry)" after a group that fell back to its entry function."""
    key = g.key
    if common.is_resource(key.kind):  # type, role and endpoint: `tcp connected to 10.0.0.1:80`
        return code(key.label(), 400, table=not prose)
    name = code(key.function, table=not prose) if key.function else "(no stack)"
    loc = Frame(key.function, key.file, key.line).short_location()
    pattern = code(key.name_pattern, 100, table=not prose) if key.name_pattern else ""
    fallback = mark_entry and key.by == "entry" and g.site is None
    if prose:
        extra = [text(loc)] if loc else []
        if pattern:
            extra.append(f"{common.group_kind_plural(g, 2)} named {pattern}")
        elif common.label_words(g):
            extra.append(common.label_words(g))
        if fallback:
            extra.append("entry function")
        return name + (f" ({', '.join(extra)})" if extra else "")
    if loc:
        name += f" {text(loc)}"
    if pattern:
        name += f" {pattern}"
    if common.label_words(g):
        name += f" ({common.label_words(g)})"
    if fallback:
        name += " (entry)"
    return name


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


def _details(g: GroupDiff | GroupSummary, count: int, *, stuck: bool) -> list[str]:
    tasks = common.group_kind_plural(g, count)
    handle = common.is_resource(g.key.kind)
    name = g.key.label() if handle else (g.key.function or "(no stack)")
    where = common.where_stuck(g)
    if handle:
        summary = f"{name}: {count:,} {tasks}" + (
            f", {common.states(g.states)}" if g.states else ""
        )
    elif stuck:
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


def render_diff(result: DiffResult) -> str:
    kind = common.snapshot_kind(result.groups)
    suspects = result.suspects
    rates = result.elapsed_seconds is not None
    survivors = result.ids_comparable
    title = _plural(len(suspects), "suspect site") if suspects else "no suspect site"
    out = [f"### snapdiff: {title}", ""]

    summary = common.summary_head(result, "→")
    if suspects:
        top = suspects[0]
        summary += f" Suspect: {_group_name(top, prose=True)}{text(common.suspect_growth(result))}"
    else:
        summary += " No site looks like a leak."
    out += [summary, ""]
    if result.before.truncated or result.after.truncated:
        out.append(
            "> **Warning:** a snapshot is truncated; "
            "counts for the tasks after the cut are missing."
        )
        out.append("")

    heading = _key_words(result.group_by, result.groups)
    head = ["Verdict", heading[0].upper() + heading[1:], "Before", "After", "Δ"]
    align = ["---", "---", "--:", "--:", "--:"]
    if rates:
        head.append("Per min")
        align.append("--:")
    if survivors:
        head.append("Survivors")
        align.append("--:")
    # Columns no input fills (states of a profile, waits outside Go) are left out.
    states = any(_states(g) for g in result.groups)
    waits = any(g.max_wait_minutes is not None for g in result.groups)
    if states:
        head.append("States (after)")
        align.append("---")
    if waits:
        head.append("Longest wait")
        align.append("--:")
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(align) + "|")
    mark_entry = not common.entry_only(result.groups)
    for g in result.groups:
        verdict = text(common.verdict_text(g))
        row = [
            f"**{verdict}**" if g.suspect else verdict,
            _group_name(g, mark_entry=mark_entry),
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
        out.append("| " + " | ".join(row) + " |")
    out.append("")

    for g in suspects[:SUSPECT_STACKS]:
        out += _details(g, g.after, stuck=True)
    if len(suspects) > SUSPECT_STACKS:
        out += [f"Stacks of {len(suspects) - SUSPECT_STACKS} more suspect sites left out.", ""]

    out.append(f"Compared, {_grouped_by(result.group_by, result.groups)}:")
    out.append("")
    out.append(f"- before: {_origin(result.before)}: {text(_describe(result.before, kind))}")
    out.append(f"- after: {_origin(result.after)}: {text(_describe(result.after, kind))}")
    out.append(f"- {text(common.rate_note(result))}")
    if not survivors:
        out.append(
            f"- survivors unknown: the {common.kind_plural(kind, 2)} could not be matched by id "
            "between the snapshots"
        )
    notes = [*result.warnings, *result.before.warnings, *result.after.warnings]
    if notes:
        out += ["", "Notes:", ""]
        out.extend(f"- {text(n)}" for n in notes)
    return "\n".join(out) + "\n"


def _describe(meta: SnapshotMeta, kind: str) -> str:
    return common.describe_input(meta, kind)


def _name(origin: str) -> str:
    return origin.replace("\\", "/").rsplit("/", 1)[-1] or origin


def render_show(result: ShowResult) -> str:
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
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---", "--:"] + ["---"] * states + ["--:"] * waits) + "|")
    mark_entry = not common.entry_only(result.groups)
    for g in result.groups:
        row = [_group_name(g, mark_entry=mark_entry), f"{g.count:,}"]
        row += [_states(g)] * states + [common.wait(g.max_wait_minutes)] * waits
        out.append("| " + " | ".join(row) + " |")
    out.append("")
    for g in result.groups[:SHOW_STACKS]:
        out += _details(g, g.count, stuck=False)
    out.append(
        f"Read {_origin(snap)}: {text(_describe(snap, kind))}; "
        f"{_grouped_by(result.group_by, result.groups)}."
    )
    if snap.warnings:
        out += ["", "Notes:", ""]
        out.extend(f"- {text(n)}" for n in snap.warnings)
    return "\n".join(out) + "\n"


def render_formats(rows: list[tuple[str, str]]) -> str:
    lines = ["| Name | Reads |", "|---|---|"] + [f"| `{n}` | {d} |" for n, d in rows]
    return "\n".join(lines) + "\n"
