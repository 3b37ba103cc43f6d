"""Markdown for incident tickets (GitHub, GitLab; plain enough for others).

Everything from a dump is escaped: table cells get backslash escapes for Markdown punctuation
and entities for ``<``, ``>`` and ``&``; stacks sit in code fences longer than any run of
backticks inside them; ``<summary>`` text is HTML-escaped. No raw HTML from a dump gets through.
"""

from __future__ import annotations

import re

from snapdiff.diff import DiffResult, GroupDiff, GroupSummary, ShowResult
from snapdiff.model import Frame
from snapdiff.render import common
from snapdiff.render.common import clean

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
STACK_FRAMES = 40
SUSPECT_STACKS = 10


def cell(text: str) -> str:
    """Untrusted text for a table cell or a line of prose."""
    text = clean(text, 500)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def html(text: str) -> str:
    return (
        clean(text, 300)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def fence(body: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
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
    return "\n".join(lines)


def _site_frame(g: GroupDiff | GroupSummary) -> Frame | None:
    return g.site if g.site is not None and g.key.kind == "goroutine" else None


def _group_name(g: GroupDiff | GroupSummary) -> str:
    key = g.key
    name = f"`{_code(key.function)}`" if key.function else "(no stack)"
    loc = Frame(key.function, key.file, key.line).short_location()
    if loc:
        name += f" {cell(loc)}"
    if key.name_pattern:
        name += f" `{_code(key.name_pattern)}`"
    if key.by == "entry" and g.site is None:
        name += " (entry)"
    return name


def _code(text: str) -> str:
    """Text for an inline code span: no backticks, no pipes (they end table cells)."""
    return clean(text, 300).replace("`", "'").replace("|", "\\|")


def render_diff(result: DiffResult) -> str:
    kind = common.snapshot_kind(result.groups)
    out: list[str] = []
    suspects = result.suspects
    title = f"{len(suspects)} suspect site(s)" if suspects else "no suspect site"
    out.append(f"### snapdiff: {title}")
    out.append("")
    out.append(cell(common.summary_sentence(result)))
    out.append("")
    if result.before.truncated or result.after.truncated:
        out.append(
            "> **Warning:** a snapshot is truncated; "
            "counts for the tasks after the cut are missing."
        )
        out.append("")
    out.append(
        f"| Verdict | {common.KEY_WORDS.get(result.group_by, result.group_by).capitalize()} "
        "| Before | After | Δ | Per min | Survivors | States (after) | Longest wait |"
    )
    out.append("|---|---|--:|--:|--:|--:|--:|---|--:|")
    for g in result.groups:
        survivors = f"{g.survivors:,}" if g.survivors is not None else "?"
        out.append(
            f"| {cell(common.verdict_text(g))} | {_group_name(g)} | {g.before:,} | {g.after:,} "
            f"| {common.signed(g.delta)} | {common.rate(g.rate_per_minute)} | {survivors} "
            f"| {cell(common.states(g.states))} | {common.wait(g.max_wait_minutes)} |"
        )
    out.append("")
    for g in suspects[:SUSPECT_STACKS]:
        stuck = g.states[0][0] if g.states else "?"
        summary = (
            f"{g.key.function or '(no stack)'}: where its {g.after:,} "
            f"{common.kind_plural(g.key.kind, g.after)} are stuck ({stuck})"
        )
        out.append(f"<details><summary>{html(summary)}</summary>")
        out.append("")
        if g.reasons:
            out.append("Why: " + cell("; ".join(g.reasons)) + ".")
            out.append("")
        if g.labels:
            out.append("Labels: " + ", ".join(f"`{_code(k)}={_code(v)}`" for k, v in g.labels))
            out.append("")
        out.append(fence(stack_text(g.stack, _site_frame(g))))
        out.append("")
        out.append("</details>")
        out.append("")
    out.append(
        f"Compared **{cell(_name(result.before.source.origin))}** "
        f"({cell(common.describe_input(result.before))}) with "
        f"**{cell(_name(result.after.source.origin))}** "
        f"({cell(common.describe_input(result.after))}); "
        f"grouped by {common.KEY_WORDS.get(result.group_by, result.group_by)}; "
        f"{cell(common.rate_note(result))}."
    )
    if not result.ids_comparable:
        out.append("")
        out.append(
            f"Survivors unknown: the {common.kind_plural(kind, 2)} could not be matched by id "
            "between the snapshots."
        )
    notes = [*result.warnings, *result.before.warnings, *result.after.warnings]
    if notes:
        out.append("")
        out.append("Notes:")
        out.extend(f"- {cell(n)}" for n in notes)
    return "\n".join(out) + "\n"


def _name(origin: str) -> str:
    return origin.replace("\\", "/").rsplit("/", 1)[-1] or origin


def render_show(result: ShowResult) -> str:
    snap = result.snapshot
    out = [f"### snapdiff: {snap.total:,} tasks in {cell(_name(snap.source.origin))}", ""]
    if snap.truncated:
        out.append("> **Warning:** the snapshot is truncated; tasks after the cut are missing.")
        out.append("")
    out.append(
        f"| {common.KEY_WORDS.get(result.group_by, result.group_by).capitalize()} | Count "
        "| States | Longest wait |"
    )
    out.append("|---|--:|---|--:|")
    for g in result.groups:
        out.append(
            f"| {_group_name(g)} | {g.count:,} | {cell(common.states(g.states))} "
            f"| {common.wait(g.max_wait_minutes)} |"
        )
    out.append("")
    out.append(f"Read {cell(common.describe_input(snap))}.")
    if snap.warnings:
        out.append("")
        out.append("Notes:")
        out.extend(f"- {cell(n)}" for n in snap.warnings)
    return "\n".join(out) + "\n"
