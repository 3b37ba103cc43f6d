"""One self-contained HTML page to attach to a ticket.

Nothing is fetched when the page is viewed: the style, the script and the charts (SVG) are in
the page, and its Content-Security-Policy allows no other source (``default-src 'none'``; the
one script and the one style sheet are allowed by their SHA-256 hash, so no other script could
run even if one got in). Without JavaScript the page reads the same: tables, and the stacks in
``<details>`` blocks a click opens. With it, the tables sort by any column.

Every string from a dump goes through :func:`esc` (``html.escape`` with quotes) and into
element content or a quoted attribute; links are made only from the user's
``--link-template`` (:class:`~snapdiff.render.options.Links`), escaped too.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape

from snapdiff.compare import GroupSummary, SnapshotMeta
from snapdiff.diff import DiffResult, GroupDiff, ShowResult
from snapdiff.model import Frame
from snapdiff.render import common
from snapdiff.render.common import clean
from snapdiff.render.options import DEFAULT, Links, ReportOptions
from snapdiff.waits import Waiting

STACK_FRAMES = 60
SUSPECT_STACKS = 10

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;
background:#fff}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
h1{font-size:1.4em;margin:.4em 0}h2{font-size:1.15em;margin:1.2em 0 .4em}
code,pre{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
code{background:#f3f4f6;padding:0 .25em;border-radius:3px;overflow-wrap:break-word}
td code{overflow-wrap:anywhere}
pre{background:#f6f8fa;padding:10px;overflow-x:auto;border-radius:4px}
.summary{font-size:1.08em}
table{border-collapse:collapse;margin:.6em 0;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;white-space:nowrap}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.suspect td{background:#fff1f0}tr.suspect td.v{color:#b42318;font-weight:700}
th[aria-sort]{cursor:pointer}th[aria-sort]::after{content:" \\2195";color:#8c959f}
th[aria-sort=ascending]::after{content:" \\2191"}th[aria-sort=descending]::after{content:" \\2193"}
.warn{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;border-radius:4px}
.muted{color:#59636e}.spark{vertical-align:middle}.scroll{overflow-x:auto}
details{margin:.4em 0}summary{cursor:pointer}
svg text{font:11px system-ui,sans-serif;fill:#59636e}
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.setAttribute("aria-sort", "none");
    th.tabIndex = 0;
    function sort() {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        var nx = parseFloat(x), ny = parseFloat(y), r;
        if (!isNaN(nx) && !isNaN(ny)) { r = nx - ny; }
        else { r = a.cells[col].textContent.localeCompare(b.cells[col].textContent); }
        return asc ? r : -r;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
  });
});
"""


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return "'sha256-" + base64.b64encode(digest).decode() + "'"


CSP = (
    f"default-src 'none'; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def esc(value: str, limit: int = 500) -> str:
    """Untrusted text for element content or a quoted attribute."""
    return escape(clean(value, limit), quote=True)


def code(value: str, limit: int = 300) -> str:
    """Untrusted text in ``<code>`` (in a table cell, a long name may wrap anywhere rather
    than push the table past the window: see :data:`STYLE`)."""
    body = esc(value, limit)
    return f"<code>{body}</code>" if body else ""


def link(inner: str, url: str | None) -> str:
    return f'<a href="{escape(url, quote=True)}">{inner}</a>' if url else inner


def place(frame: Frame | None, links: Links | None) -> str:
    if frame is None:
        return ""
    loc = frame.short_location() or frame.function
    return link(code(loc), links.url(frame) if links else None)


def scroll(table: list[str]) -> list[str]:
    """A table in a box that scrolls sideways when the window is narrower than the table."""
    return ['<div class="scroll">', *table, "</div>"]


def page(title: str, body: list[str]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + f"\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def waiting_clause(w: Waiting | None, links: Links | None) -> str:
    words, where = common.waiting_words(w)
    if not words or w is None:
        return ""
    at = place(w.frame, links)
    if w.frame is not None and not w.app and w.frame.short_location():  # a library's frame
        at = f"{code(w.frame.function)} ({at})"
    return f"; {esc(words)}" + (f" at {at}" if where else "")


def group_name(g: GroupDiff | GroupSummary, links: Links | None, *, mark_entry: bool = True) -> str:
    key = g.key
    if common.is_resource(key.kind):
        return code(key.label(), 400)
    name = code(key.function) if key.function else "(no stack)"
    frame = Frame(key.function, key.file, key.line)
    if frame.short_location():
        name += " " + place(frame, links)
    if key.name_pattern:
        name += f' <span class="muted">named</span> {code(key.name_pattern, 100)}'
    if common.label_words(g):
        name += f' <span class="muted">({esc(common.label_words(g))})</span>'
    if mark_entry and key.by == "entry" and g.site is None:
        name += ' <span class="muted">(entry function)</span>'
    return name


def num(value: int | float | None, shown: str) -> str:
    """A numeric cell: its value for sorting, its text for reading."""
    v = "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)
    return f'<td class="n" data-v="{v}">{esc(shown)}</td>'


def sparkline(series: Sequence[int], width: int = 120, height: int = 22) -> str:
    """An inline SVG polyline of a series, scaled to its own range."""
    if len(series) < 2:
        return ""
    lo, hi = min(series), max(series)
    span = (hi - lo) or 1
    step = (width - 4) / (len(series) - 1)
    points = " ".join(
        f"{2 + i * step:.1f},{height - 2 - (v - lo) * (height - 4) / span:.1f}"
        for i, v in enumerate(series)
    )
    label = " ".join(str(v) for v in series)
    return (
        f'<svg class="spark" width="{width}" height="{height}" role="img" '
        f'aria-label="{esc(label)}"><title>{esc(label)}</title>'
        f'<polyline fill="none" stroke="#cf222e" stroke-width="1.5" points="{points}"/></svg>'
    )


def stack_text(frames: tuple[Frame, ...], created_by: Frame | None) -> str:
    return escape(common.stack_text(frames, created_by, STACK_FRAMES), quote=True)


def details(
    g: GroupDiff | GroupSummary,
    count: int,
    links: Links | None,
    reasons: Sequence[str] = (),
    ages: str = "",
    series: str = "",
) -> list[str]:
    """A suspect's section: where its tasks wait, why, ages, labels, examples, and its stack
    in a ``<details>`` block."""
    handle = common.is_resource(g.key.kind)
    out = ['<section class="site">', f"<h2>Suspect {group_name(g, links)}</h2>"]
    words = waiting_clause(g.waiting, links).removeprefix("; ")
    kinds = common.group_kind_plural(g, count)
    out.append(f"<p>{count:,} {esc(kinds)}{series}" + (f"; {words}" if words else "") + ".</p>")
    if reasons:
        out.append(f"<p>Why: {esc('; '.join(reasons))}.</p>")
    if ages:
        out.append(f"<p>Ages: {esc(ages)}.</p>")
    if g.labels:
        labels = ", ".join(code(f"{k}={v}") for k, v in g.labels)
        out.append(f"<p>Labels: {labels}</p>")
    if g.example_ids and common.shows_ids(g.key.kind):
        out.append("<p>Example ids: " + ", ".join(str(i) for i in g.example_ids) + "</p>")
    examples = common.handle_examples(g)
    if examples:
        out.append("<p>Examples: " + ", ".join(code(e) for e in examples) + "</p>")
    elif g.example_names and not handle:
        names = common.example_list(g.example_names, count, 100)
        out.append("<p>Example names: " + ", ".join(code(n) for n in names) + "</p>")
    if not handle:
        site = g.site if g.site is not None and common.created_at(g.key.kind) else None
        out.append(
            "<details><summary>Stack (the most common in the group)</summary>"
            f"<pre>{stack_text(g.stack, site)}</pre></details>"
        )
    out.append("</section>")
    return out


def describe(meta: SnapshotMeta, kind: str) -> str:
    return ", ".join(
        code(part) if untrusted else esc(part)
        for part, untrusted in common.describe_parts(meta, kind)
    )


def notes(items: Sequence[str]) -> list[str]:
    if not items:
        return []
    return ["<h2>Notes</h2>", "<ul>", *(f"<li>{esc(n)}</li>" for n in items), "</ul>"]


def _heading(result_group_by: str, groups: tuple[GroupDiff, ...] | tuple[GroupSummary, ...]) -> str:
    words = common.key_heading(result_group_by, groups)
    return esc(words[0].upper() + words[1:])


def render_diff(result: DiffResult, options: ReportOptions = DEFAULT) -> str:
    links = options.links
    kind = common.snapshot_kind(result.groups)
    suspects = result.suspects
    n = len(suspects)
    title = f"snapdiff: {n:,} suspect site{'' if n == 1 else 's'}" if n else "snapdiff: no suspect"
    body = [f"<h1>{esc(title)}</h1>"]
    summary = esc(common.summary_head(result, "→"))
    if suspects:
        top = suspects[0]
        summary += (
            f" Suspect: {group_name(top, links)}{esc(common.suspect_growth(result))}"
            f"{waiting_clause(top.waiting, links)}{esc(common.more_suspects(n))}."
        )
    else:
        summary += " No site looks like a leak."
    body.append(f'<p class="summary">{summary}</p>')
    if result.before.truncated or result.after.truncated:
        body.append('<p class="warn">A snapshot is truncated; tasks after the cut are missing.</p>')
    rates = result.elapsed_seconds is not None
    head = ["Verdict", _heading(result.group_by, result.groups), "Before", "After", "Δ"]
    numeric = [False, False, True, True, True]
    if rates:
        head.append("Per min")
        numeric.append(True)
    if result.ids_comparable:
        head.append("Survivors")
        numeric.append(True)
    waits = any(g.max_wait_minutes is not None for g in result.groups)
    head += ["Where they wait"] + ["Longest wait"] * waits
    numeric += [False] + [True] * waits
    shown, folded = common.split_noise(result, options.all_groups)
    mark_entry = not common.entry_only(result.groups)

    def rows(groups: list[GroupDiff]) -> list[str]:
        out = []
        for g in groups:
            cls = ' class="suspect"' if g.suspect else ""
            cells = [
                f'<td class="v">{esc(common.verdict_text(g))}</td>',
                f"<td>{group_name(g, links, mark_entry=mark_entry)}</td>",
                num(g.before, f"{g.before:,}"),
                num(g.after, f"{g.after:,}"),
                num(g.delta, common.signed(g.delta)),
            ]
            if rates:
                cells.append(num(g.rate_per_minute, common.rate(g.rate_per_minute)))
            if result.ids_comparable:
                shown_s = f"{g.survivors:,}" if g.survivors is not None else "?"
                cells.append(num(g.survivors, shown_s))
            where = waiting_clause(g.waiting, links).removeprefix("; ")
            cells.append(f"<td>{where}</td>")
            if waits:
                cells.append(num(g.max_wait_minutes, common.wait(g.max_wait_minutes)))
            out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
        return out

    def table(groups: list[GroupDiff], ident: str) -> list[str]:
        ths = "".join(
            f'<th class="n" scope="col">{h}</th>' if isnum else f'<th scope="col">{h}</th>'
            for h, isnum in zip(head, numeric, strict=True)
        )
        return [
            f'<table class="sortable" id="{ident}"><thead><tr>{ths}</tr></thead><tbody>',
            *rows(groups),
            "</tbody></table>",
        ]

    body += scroll(table(shown, "groups"))
    if folded:
        line = common.fold_line(len(folded), sum(g.after for g in folded), kind, hint=False)
        body += [f"<details><summary>{esc(line)}</summary>"]
        body += [*table(folded, "folded"), "</details>"]
    for g in suspects[:SUSPECT_STACKS]:
        alive = result.elapsed_seconds if result.ids_comparable else None
        ages = common.ages_text(g.waiting, g.survivors, alive)
        body += details(g, g.after, links, g.reasons, ages)
    if n > SUSPECT_STACKS:
        body.append(f"<p>Stacks of {n - SUSPECT_STACKS} more suspect sites left out.</p>")
    body += [
        f"<h2>Compared, grouped by {esc(common.key_heading(result.group_by, result.groups))}</h2>",
        "<ul>",
        f"<li>before: {code(result.before.source.origin)}: {describe(result.before, kind)}</li>",
        f"<li>after: {code(result.after.source.origin)}: {describe(result.after, kind)}</li>",
        f"<li>{esc(common.rate_note(result))}</li>",
        "</ul>",
    ]
    body += notes(
        common.unique(
            [*result.warnings, *result.before.warnings, *result.after.warnings],
            (result.before.source.origin, result.after.source.origin),
        )
    )
    return page(title, body)


def render_show(result: ShowResult, options: ReportOptions = DEFAULT) -> str:
    links = options.links
    snap = result.snapshot
    kind = common.snapshot_kind(result.groups)
    things = common.kind_plural(kind, snap.total)
    n = len(result.groups)
    title = f"snapdiff: {snap.total:,} {things} in {n:,} group{'' if n == 1 else 's'}"
    body = [f"<h1>{esc(title)}</h1>"]
    if snap.truncated:
        body.append(
            '<p class="warn">The snapshot is truncated; tasks after the cut are missing.</p>'
        )
    ths = (
        f'<th scope="col">{_heading(result.group_by, result.groups)}</th>'
        '<th class="n" scope="col">Count</th><th scope="col">Where they wait</th>'
        '<th class="n" scope="col">Longest wait</th>'
    )
    body.append(f'<table class="sortable" id="groups"><thead><tr>{ths}</tr></thead><tbody>')
    mark_entry = not common.entry_only(result.groups)
    for g in result.groups:
        where = waiting_clause(g.waiting, links).removeprefix("; ")
        body.append(
            f"<tr><td>{group_name(g, links, mark_entry=mark_entry)}</td>"
            f"{num(g.count, f'{g.count:,}')}<td>{where}</td>"
            f"{num(g.max_wait_minutes, common.wait(g.max_wait_minutes))}</tr>"
        )
    body.append("</tbody></table>")
    for g in result.groups[:3]:
        body += details(g, g.count, links, (), common.ages_text(g.waiting, None, None))
    body.append(f"<p>Read {code(snap.source.origin)}: {describe(snap, kind)}.</p>")
    body += notes(common.unique(snap.warnings))
    return page(title, body)
