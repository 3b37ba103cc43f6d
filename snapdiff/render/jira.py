"""Jira wiki markup, for incident tickets in Jira (its text fields read wiki markup, not
Markdown: a Markdown table, backticks or ``<details>`` show there as they are typed).

The same rules as the Markdown report, in Jira's syntax:

* prose (:func:`text`): every character Jira's renderer reads as markup (``* _ - + ^ ~ ? { } [ ]
  | ! # \\``) escaped with a backslash; ``://`` and ``@`` as character references so nothing
  becomes a link or a mention;
* names, paths, states (:func:`code`): ``{{monospace}}``, escaped the same way (Jira reads
  markup inside it);
* stacks: ``{noformat}`` blocks, inside an ``{expand}`` block per suspect; a dump line that holds
  ``{noformat}`` itself gets a space after its brace, so it cannot end the block;
* tables: ``||heading||`` rows and ``|cell|`` rows; ``|`` in a cell is escaped.

Text from a dump never starts a line and holds no newline (:func:`clean`), so it cannot open a
heading, list or quote.
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

_SPECIAL = re.compile(r"[\\*_\-+^~?{}\[\]|!#]|:(?=//)|@|&")
_REFS = {":": "&#58;", "@": "&#64;", "&": "&amp;"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _REFS.get(ch) or "\\" + ch


def text(value: str, limit: int = 500) -> str:
    """Untrusted (or our own) text for prose or a table cell: never read as markup."""
    return _SPECIAL.sub(_escape, clean(value, limit))


def code(value: str, limit: int = 300) -> str:
    """Untrusted text in ``{{monospace}}``."""
    body = text(value, limit)
    return "{{" + body + "}}" if body else ""


def link(label: str, url: str | None) -> str:
    """``[label|url]`` when there is a link (our own URL, made from the user's template)."""
    if not url:
        return label
    safe = url.replace("|", "%7C").replace("]", "%5D").replace("[", "%5B").replace(" ", "%20")
    return f"[{label}|{safe}]"


def noformat(body: str) -> str:
    return "{noformat}\n" + body.replace("{noformat", "{ noformat") + "\n{noformat}"


def _place(frame: Frame | None, links: Links | None) -> str:
    """A frame's short location in monospace, linked when a template is given."""
    if frame is None:
        return ""
    loc = frame.short_location() or frame.function
    return link(code(loc), links.url(frame) if links else None)


def waiting_clause(w: Waiting | None, links: Links | None) -> str:
    words, place = common.waiting_words(w)
    if not words:
        return ""
    where = _place(w.frame if w else None, links) if place else ""
    if where and w is not None and w.frame is not None and not w.app and w.frame.short_location():
        where = f"{code(w.frame.function)} ({where})"  # a library's frame: which function
    return f"; {text(words)}" + (f" at {where}" if where else "")


def group_name(g: GroupDiff | GroupSummary, links: Links | None, *, mark_entry: bool = True) -> str:
    key = g.key
    if common.is_resource(key.kind):
        return code(key.label(), 400)
    name = code(key.function) if key.function else "(no stack)"
    frame = Frame(key.function, key.file, key.line)
    if frame.short_location():
        name += " " + _place(frame, links)
    if key.name_pattern:
        name += " " + code(key.name_pattern, 100)
    if common.label_words(g):
        name += f" ({common.label_words(g)})"
    if mark_entry and key.by == "entry" and g.site is None:
        name += " (entry)"
    return name


def stack_text(frames: tuple[Frame, ...], created_by: Frame | None) -> str:
    return common.stack_text(frames, created_by, STACK_FRAMES)


def details(
    g: GroupDiff | GroupSummary,
    count: int,
    links: Links | None,
    reasons: tuple[str, ...] = (),
    ages: str = "",
) -> list[str]:
    """An ``{expand}`` block: where they wait, why, ages, labels, examples, the stack."""
    handle = common.is_resource(g.key.kind)
    # A macro's title is not escaped by Jira as text is: only our own words go in it, the
    # group's name (from the dump) on the block's first line.
    tasks = common.group_kind_plural(g, count)
    out = ["{expand:" + f"{count:,} {tasks}: where they wait, why, the stack" + "}"]
    out.append(f"*{group_name(g, links)}*{waiting_clause(g.waiting, links)}")
    if reasons:
        out.append("Why: " + text("; ".join(reasons)) + ".")
    if ages:
        out.append("Ages: " + text(ages) + ".")
    if g.labels:
        out.append("Labels: " + ", ".join(code(f"{k}={v}") for k, v in g.labels))
    if g.example_ids and common.shows_ids(g.key.kind):
        out.append("Example ids: " + ", ".join(str(i) for i in g.example_ids))
    examples = common.handle_examples(g)
    if examples:
        out.append("Examples: " + ", ".join(code(e) for e in examples))
    if not handle:
        site = g.site if g.site is not None and common.created_at(g.key.kind) else None
        out.append(noformat(stack_text(g.stack, site)))
    out += ["{expand}", ""]
    return out


def _describe(meta: SnapshotMeta, kind: str) -> str:
    return ", ".join(
        code(part) if untrusted else text(part)
        for part, untrusted in common.describe_parts(meta, kind)
    )


def _origin(meta: SnapshotMeta) -> str:
    return code(meta.source.origin, 300)


def _row(cells: list[str]) -> str:
    return "|" + "|".join(c or " " for c in cells) + "|"


def render_diff(result: DiffResult, options: ReportOptions = DEFAULT) -> str:
    links = options.links
    kind = common.snapshot_kind(result.groups)
    suspects = result.suspects
    title = f"{len(suspects):,} suspect site{'' if len(suspects) == 1 else 's'}"
    out = [f"h3. snapdiff: {title if suspects else 'no suspect site'}", ""]
    summary = text(common.summary_head(result))
    if suspects:
        top = suspects[0]
        summary += (
            f" Suspect: {group_name(top, links)}{text(common.suspect_growth(result))}"
            f"{waiting_clause(top.waiting, links)}{text(common.more_suspects(len(suspects)))}."
        )
    else:
        summary += " No site looks like a leak."
    out += [summary, ""]
    if result.before.truncated or result.after.truncated:
        out += ["{warning}A snapshot is truncated; tasks after the cut are missing.{warning}", ""]
    heading = common.key_heading(result.group_by, result.groups)
    head = ["Verdict", heading[0].upper() + heading[1:], "Before", "After", "Δ"]
    rates = result.elapsed_seconds is not None
    head += ["Per min"] * rates + ["Survivors"] * result.ids_comparable + ["Where they wait"]
    out.append("||" + "||".join(head) + "||")
    shown, folded = common.split_noise(result, options.all_groups)
    mark_entry = not common.entry_only(result.groups)
    for g in shown:
        verdict = text(common.verdict_text(g))
        row = [
            f"*{verdict}*" if g.suspect else verdict,
            group_name(g, links, mark_entry=mark_entry),
            f"{g.before:,}",
            f"{g.after:,}",
            text(common.signed(g.delta)),
        ]
        if rates:
            row.append(text(common.rate(g.rate_per_minute)))
        if result.ids_comparable:
            row.append(f"{g.survivors:,}" if g.survivors is not None else "?")
        row.append(waiting_clause(g.waiting, links).removeprefix("; "))
        out.append(_row(row))
    out.append("")
    if folded:
        tasks = sum(g.after for g in folded)
        out.append(text(common.fold_line(len(folded), tasks, kind, hint=False)))
        out.append("{expand:" + f"{len(folded):,} steady or internal sites" + "}")
        out.append("||" + "||".join(head[:5]) + "||")
        for g in folded:
            row = [text(common.verdict_text(g)), group_name(g, links), f"{g.before:,}"]
            row += [f"{g.after:,}", text(common.signed(g.delta))]
            out.append(_row(row))
        out += ["{expand}", ""]
    for g in suspects[:SUSPECT_STACKS]:
        alive = result.elapsed_seconds if result.ids_comparable else None
        ages = common.ages_text(g.waiting, g.survivors, alive)
        out += details(g, g.after, links, g.reasons, ages)
    if len(suspects) > SUSPECT_STACKS:
        out += [f"Stacks of {len(suspects) - SUSPECT_STACKS} more suspect sites left out.", ""]
    out += [f"Compared, grouped by {text(heading)}:", ""]
    out.append(f"* before: {_origin(result.before)}: {_describe(result.before, kind)}")
    out.append(f"* after: {_origin(result.after)}: {_describe(result.after, kind)}")
    out.append(f"* {text(common.rate_note(result))}")
    notes = common.unique(
        [*result.warnings, *result.before.warnings, *result.after.warnings],
        (result.before.source.origin, result.after.source.origin),
    )
    if notes:
        out += ["", "Notes:", ""]
        out.extend(f"* {text(n)}" for n in notes)
    return "\n".join(out) + "\n"


def render_show(result: ShowResult, options: ReportOptions = DEFAULT) -> str:
    links = options.links
    snap = result.snapshot
    kind = common.snapshot_kind(result.groups)
    n = len(result.groups)
    things = common.kind_plural(kind, snap.total)
    out = [f"h3. snapdiff: {snap.total:,} {things} in {n:,} group{'' if n == 1 else 's'}", ""]
    if snap.truncated:
        out += ["{warning}The snapshot is truncated; tasks after the cut are missing.{warning}", ""]
    heading = common.key_heading(result.group_by, result.groups)
    out.append(f"||{heading[0].upper() + heading[1:]}||Count||Where they wait||")
    mark_entry = not common.entry_only(result.groups)
    for g in result.groups:
        row = [group_name(g, links, mark_entry=mark_entry), f"{g.count:,}"]
        row.append(waiting_clause(g.waiting, links).removeprefix("; "))
        out.append(_row(row))
    out.append("")
    for g in result.groups[:SHOW_STACKS]:
        out += details(g, g.count, links, (), common.ages_text(g.waiting, None, None))
    out.append(f"Read {_origin(snap)}: {_describe(snap, kind)}; grouped by {text(heading)}.")
    if snap.warnings:
        out += ["", "Notes:", ""]
        out.extend(f"* {text(w)}" for w in common.unique(snap.warnings))
    return "\n".join(out) + "\n"
