"""What every renderer shares: making untrusted text safe to show, and numbers readable."""

from __future__ import annotations

import unicodedata

from snapdiff.compare import GroupSummary, SnapshotMeta
from snapdiff.diff import DiffResult, GroupDiff
from snapdiff.group import GroupKey
from snapdiff.model import Frame
from snapdiff.runtimes import task_kind
from snapdiff.waits import Waiting

MAX_TEXT = 2000


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """Untrusted dump text with control and format characters made visible and inert.

    Terminal escapes (ESC, CSI), carriage returns, bidi overrides (U+202E) and zero-width
    characters become ``\\x1b``-style escapes; over-long text is cut with a marker.
    """
    if text.isprintable() and len(text) <= limit:
        return text
    out = []
    for ch in text[:limit]:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif unicodedata.category(ch) in ("Zs",):
            out.append(" ")
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    if len(text) > limit:
        out.append(f"...({len(text) - limit} more characters)")
    return "".join(out)


def kind_plural(kind: str, n: int) -> str:
    """``goroutines``, ``asyncio task``: a kind of task in words, as its runtime says."""
    return task_kind(kind).words(n)


def is_resource(kind: str) -> bool:
    """Tasks of this kind are resources (a socket): the group key is the resource itself."""
    return task_kind(kind).resource


def shows_ids(kind: str) -> bool:
    """Ids of this kind find a task in the dump (``goroutine 42``): worth listing."""
    return task_kind(kind).example_ids


def shows_names(kind: str) -> bool:
    """Names of this kind say which pool a task is of: worth listing."""
    return task_kind(kind).example_names


def created_at(kind: str) -> bool:
    """The creation site of this kind is a statement in the code (Go's ``go`` statement)."""
    return task_kind(kind).created_at


def snapshot_kind(groups: tuple[GroupDiff, ...] | tuple[GroupSummary, ...]) -> str:
    kinds = {g.key.kind for g in groups}
    return kinds.pop() if len(kinds) == 1 else "task"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {sec:02d}s" if sec else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def rate(value: float | None) -> str:
    if value is None:
        return "?"
    if value == 0:
        return "0"
    if abs(value) >= 10:
        return f"{value:+.0f}"
    return f"{value:+.1f}"


def signed(n: int) -> str:
    return f"{n:+,}" if n else "0"


def wait(minutes: int | None) -> str:
    if minutes is None:
        return "-"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def states(pairs: tuple[tuple[str, int], ...], limit: int = 3) -> str:
    shown = [f"{clean(s, 60)} {n:,}" for s, n in pairs[:limit]]
    if len(pairs) > limit:
        shown.append(f"+{len(pairs) - limit} more")
    return ", ".join(shown)


def detail(g: GroupDiff | GroupSummary) -> str:
    """States, the longest wait and Go's leak marks of a group, in words."""
    parts = [states(g.states)] if g.states else []
    if g.max_wait_minutes:
        parts.append(f"waiting up to {wait(g.max_wait_minutes)}")
    if g.leaked:
        parts.append(f"{g.leaked:,} marked leaked by {marker(g.key.kind)}")
    return "; ".join(parts)


def marker(kind: str) -> str:
    """Who marks tasks of this kind leaked: ``Go``."""
    return task_kind(kind).marked_by or "the runtime"


def label_words(g: GroupDiff | GroupSummary) -> str:
    """What the group's labels make its tasks, in the plural (``virtual threads``); ""."""
    plain = task_kind(g.key.kind)
    words = plain.words(2, g.labels)
    return words if words != plain.plural else ""


def shows_plain_names(kind: str) -> bool:
    """Names of tasks (not resources, whose names are their connections) worth listing."""
    return shows_names(kind) and not is_resource(kind)


def group_kind_plural(g: GroupDiff | GroupSummary, n: int) -> str:
    """``threads``, or what the group's labels make them (``virtual threads``)."""
    return task_kind(g.key.kind).words(n, g.labels)


def where_stuck(g: GroupDiff | GroupSummary) -> str:
    """Where most of a group's tasks wait, in a few words: the most common state (``chan send``,
    ``WAITING (parking)``); for a dump without states, the frame the group's most common stack
    waits in, as its runtime sees it (``_worker at futures/thread.py:89``); "" if neither.
    Either reads after "mostly in"."""
    if g.states:
        return clean(g.states[0][0], 60)
    frame = g.blocking
    if frame is None or not frame.function:
        return ""
    loc = frame.short_location()
    return clean(frame.function, 300) + (f" at {clean(loc, 200)}" if loc else "")


def example_list(names: tuple[str, ...], count: int, limit: int = 200) -> list[str]:
    """Example names, cleaned, with ``...`` before the last when the group has more tasks than
    examples (the examples are the first names and the last, in natural order)."""
    shown = [clean(n, limit) for n in names]
    if len(shown) >= 3 and count > len(shown):
        shown.insert(-1, "...")
    return shown


def group_count(g: GroupDiff | GroupSummary) -> int:
    return g.after if isinstance(g, GroupDiff) else g.count


def handle_examples(g: GroupDiff | GroupSummary) -> tuple[str, ...]:
    """Example names of a libuv handle group that say more than its key (the connections of a
    ``tcp connected to`` group, each with its own ephemeral port), cleaned."""
    if not is_resource(g.key.kind):
        return ()
    # A name that only repeats the endpoint (a listener's; a unix socket's end with no path of
    # its own, "? -> /run/app.sock") says nothing more.
    same = (g.key.file, f"? -> {g.key.file}")
    names = tuple(n for n in g.example_names if n not in same)
    return tuple(example_list(names, group_count(g))) if names else ()


def site_text(g: GroupDiff) -> str:
    """The group's name: its site (or fallback) function and short location."""
    return key_text(g.key)


def key_text(key: GroupKey) -> str:
    """A group key as one line of plain text: function, short location, name pattern."""
    if is_resource(key.kind):  # a handle's role and endpoint: "tcp connected to 10.0.0.1:80"
        return clean(key.label(), 400)
    text = clean(key.function, 300) or "(no stack)"
    loc = Frame(key.function, key.file, key.line).short_location()
    if loc:
        text += f" ({clean(loc, 200)})"
    if key.name_pattern:
        text += f" [{clean(key.name_pattern, 100)}]"
    return text


KEY_WORDS = {
    "site": "creation site",
    "entry": "entry function",
    "leaf": "blocking frame",
    "stack": "whole stack",
    "none": "no stack",
}
HANDLE_KEY = "handle (type, endpoint)"


def entry_only(groups: tuple[GroupDiff, ...] | tuple[GroupSummary, ...]) -> bool:
    """Grouped by creation site, but no task had one: every group fell back to its entry
    function (Go's protobuf and ``debug=1`` profiles). Groups of handles and of tasks with no
    stack do not count; nor does a report with none of the other groups."""
    keyed = [g.key.by for g in groups if not is_resource(g.key.kind) and g.key.by != "none"]
    return bool(keyed) and all(by == "entry" for by in keyed)


def key_heading(group_by: str, groups: tuple[GroupDiff, ...] | tuple[GroupSummary, ...]) -> str:
    """What the groups' keys are, for a column heading: the grouping asked for, or what the
    groups were really keyed by (``entry function`` when no task had a creation site; a libuv
    handle's type and endpoint, for handles, under any grouping)."""
    handles = any(is_resource(g.key.kind) for g in groups)
    others = any(not is_resource(g.key.kind) and g.key.by != "none" for g in groups)
    if group_by == "site" and entry_only(groups):
        words = KEY_WORDS["entry"]
    else:
        words = KEY_WORDS.get(group_by, group_by)
    # A handle has one frame, its type and endpoint, whatever the grouping.
    if handles:
        return f"{HANDLE_KEY} or {words}" if others else HANDLE_KEY
    return words


def verdict_text(g: GroupDiff) -> str:
    if g.suspect and g.confidence == "low":
        return "SUSPECT (unconfirmed)"
    if g.suspect:
        return "SUSPECT"
    return g.verdict


def summary_head(result: DiffResult, arrow: str = "->") -> str:
    """``36 -> 308 goroutines (+272) in 1m 10s.``: our own words and numbers only."""
    kind = snapshot_kind(result.groups)
    delta = result.after.total - result.before.total
    when = f" in {duration(result.elapsed_seconds)}" if result.elapsed_seconds is not None else ""
    return (
        f"{result.before.total:,} {arrow} {result.after.total:,} {kind_plural(kind, 2)} "
        f"({signed(delta)}){when}."
    )


def suspect_growth(result: DiffResult) -> str:
    """`` grew by 261, +224/min``: the growth of the first suspect, for the summary."""
    top = result.suspects[0]
    per_min = f", {rate(top.rate_per_minute)}/min" if top.rate_per_minute is not None else ""
    return f" grew by {top.delta:,}{per_min}"


def more_suspects(n: int) -> str:
    """``; and 2 more suspect sites`` after the first suspect's clauses."""
    if n <= 1:
        return ""
    return f"; and {n - 1} more suspect site{'' if n == 2 else 's'}"


_STATE_VERBS = {"idle": "are idle", "active": "run", "running": "run", "runnable": "run"}


def waiting_words(w: Waiting | None) -> tuple[str, str]:
    """``("278 of 279 wait in chan send", "leaky/fanout.go:53")``: how many of a group's tasks
    wait in its most common state at its most common application frame, and that frame's
    short location (its function when the dump gives no file). ("", "") when unknown."""
    if w is None or (not w.state and w.frame is None):
        return "", ""
    share = (
        f"all {w.total:,}" if w.count == w.total and w.total > 1 else f"{w.count:,} of {w.total:,}"
    )
    if w.total == 1:
        share = "it"
    state = clean(w.state, 60)
    verb = _STATE_VERBS.get(state.lower())
    if verb is None:
        verb = (
            f"wait{'s' if w.total == 1 else ''} in {state}"
            if state
            else ("waits" if w.total == 1 else "wait")
        )
    elif w.total == 1:
        verb = {"are idle": "is idle", "run": "runs"}[verb]
    place = ""
    if w.frame is not None:
        place = w.frame.short_location() or w.frame.function
        if not w.app and w.frame.short_location():  # a library's frame: say which function
            place = f"{w.frame.function} ({place})"
    return f"{share} {verb}", clean(place, 300)


def waiting_clause(w: Waiting | None) -> str:
    words, place = waiting_words(w)
    if not words:
        return ""
    return f"; {words}" + (f" at {place}" if place else "")


def ages_text(w: Waiting | None, survivors: int | None, alive_for: float | None) -> str:
    """``oldest waiting 12 min, median 3 min; 18 alive for at least 1m 10s``: the ages a dump
    records of a group's tasks (Go's wait times; survivors are as old as the interval)."""
    parts = []
    if w is not None and w.oldest_wait_minutes is not None and w.median_wait_minutes is not None:
        median = w.median_wait_minutes
        parts.append(
            f"oldest waiting {wait(w.oldest_wait_minutes)}"
            + (f", median {wait(median)}" if median else ", median under 1 min")
        )
    if survivors and alive_for:
        parts.append(f"{survivors:,} alive for at least {duration(alive_for)}")
    return "; ".join(parts)


def summary_sentence(result: DiffResult, arrow: str = "->") -> str:
    head = summary_head(result, arrow)
    if not result.suspects:
        return head + " No site looks like a leak."
    top = result.suspects[0]
    return (
        f"{head} Suspect: {site_text(top)}{suspect_growth(result)}"
        f"{waiting_clause(top.waiting)}{more_suspects(len(result.suspects))}."
    )


def describe_parts(meta: SnapshotMeta, kind: str = "task") -> list[tuple[str, bool]]:
    """What :func:`describe_input` says, part by part, each with whether it is text from the
    input (a format name, a reader's detail, a host), which a renderer puts in a code span."""
    src = meta.source
    parts = [(clean(src.format, 80), True)]
    if src.detail:
        parts.append((clean(src.detail, 120), True))
    parts.append((f"{meta.total:,} {kind_plural(kind, meta.total)}", False))
    if src.captured_at:
        parts.append((f"captured {clean(src.captured_at, 40)}", False))
    else:
        parts.append(("capture time unknown", False))
    if src.pid:
        parts.append((f"pid {src.pid}", False))
    if src.host:
        parts.append((f"host {clean(src.host, 100)}", False))
    if meta.truncated:
        parts.append(("TRUNCATED", False))
    return parts


def describe_input(meta: SnapshotMeta, kind: str = "task") -> str:
    return ", ".join(part for part, _ in describe_parts(meta, kind))


def rate_note(result: DiffResult) -> str:
    if result.elapsed_seconds is not None:
        span = duration(result.elapsed_seconds)
        return f"time between snapshots: {span} (from {result.elapsed_source})"
    return (
        "rate unknown: the inputs carry no capture time (raw dumps); pass --elapsed 5m (the "
        "time between them), or take them with 'snapdiff capture', which records it"
    )


def is_noise(g: GroupDiff | GroupSummary, *, suspect: bool, delta: int) -> bool:
    """A group a reader of an incident report need not see row by row: not suspect, and
    steady (no change), the runtime's own, or the capture's own."""
    if suspect:
        return False
    return delta == 0 or bool(g.summary.owner if isinstance(g, GroupDiff) else g.owner)


def fold_line(n: int, tasks: int, kind: str, *, hint: bool = True) -> str:
    """``+ 14 steady or internal sites, 31 goroutines (--all lists them)``; without ``hint`` for
    a report that lists them in a block a reader opens."""
    return (
        f"+ {n:,} steady or internal site{'' if n == 1 else 's'}, {tasks:,} "
        f"{kind_plural(kind, tasks)}" + (" (--all lists them)" if hint else "")
    )


def split_noise(result: DiffResult, all_groups: bool) -> tuple[list[GroupDiff], list[GroupDiff]]:
    """The groups to list and the ones folded into one line (none with ``all_groups``). A
    group that ``held`` (all of many tasks alive through the interval: maybe a capped leak) is
    always listed."""
    if all_groups:
        return list(result.groups), []
    shown: list[GroupDiff] = []
    folded: list[GroupDiff] = []
    for g in result.groups:
        noise = is_noise(g, suspect=g.suspect, delta=g.delta) and g.verdict != "held"
        (folded if noise else shown).append(g)
    return shown, folded


def unique(notes: list[str] | tuple[str, ...], origins: tuple[str, ...] = ()) -> list[str]:
    """Notes in order, each said once: the same note of a reader on several inputs
    (``t0.txt: debug=1 profiles have ...``, ``t1.txt: debug=1 ...``) becomes one, saying
    which inputs (``debug=1 profiles have ... (t0.txt, t1.txt)``)."""
    said: dict[str, list[str]] = {}
    for note in notes:
        origin = next((o for o in origins if o and note.startswith(o + ": ")), "")
        rest = note[len(origin) + 2 :] if origin else note
        names = said.setdefault(rest, [])
        if origin and origin not in names:
            names.append(origin)
    out = []
    for rest, names in said.items():
        if len(names) > 1:
            out.append(f"{rest} ({', '.join(names)})")
        else:
            out.append(f"{names[0]}: {rest}" if names else rest)
    return out


def stack_text(frames: tuple[Frame, ...], created_by: Frame | None, limit: int) -> str:
    """A stack as plain lines, cleaned: each function, its location indented under it, at most
    ``limit`` frames, then the creator; for a format to escape or fence as it must."""
    lines = []
    for f in frames[:limit]:
        lines.append(clean(f.function, 500))
        if f.file:
            lines.append("    " + clean(f.location(), 500))
    if len(frames) > limit:
        lines.append(f"... {len(frames) - limit} more frames")
    if created_by is not None:
        lines.append("created by " + clean(created_by.function, 500))
        if created_by.file:
            lines.append("    " + clean(created_by.location(), 500))
    return "\n".join(lines) if lines else "(no frames)"
