"""What every renderer shares: making untrusted text safe to show, and numbers readable."""

from __future__ import annotations

import unicodedata

from snapdiff.compare import GroupSummary, SnapshotMeta
from snapdiff.diff import DiffResult, GroupDiff
from snapdiff.group import GroupKey
from snapdiff.model import Frame
from snapdiff.runtimes import task_kind

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
    """`` grew by 261, +224/min`` and how many other suspects: the tail of the summary."""
    suspects = result.suspects
    top = suspects[0]
    per_min = f", {rate(top.rate_per_minute)}/min" if top.rate_per_minute is not None else ""
    more = f" and {len(suspects) - 1} more suspect site(s)" if len(suspects) > 1 else ""
    return f" grew by {top.delta:,}{per_min}{more}."


def summary_sentence(result: DiffResult, arrow: str = "->") -> str:
    head = summary_head(result, arrow)
    if not result.suspects:
        return head + " No site looks like a leak."
    return f"{head} Suspect: {site_text(result.suspects[0])}{suspect_growth(result)}"


def describe_input(meta: SnapshotMeta, kind: str = "task") -> str:
    src = meta.source
    parts = [clean(src.format, 80)]
    if src.detail:
        parts.append(clean(src.detail, 120))
    parts.append(f"{meta.total:,} {kind_plural(kind, meta.total)}")
    if src.captured_at:
        parts.append(f"captured {clean(src.captured_at, 40)}")
    else:
        parts.append("capture time unknown")
    if src.pid:
        parts.append(f"pid {src.pid}")
    if src.host:
        parts.append(f"host {clean(src.host, 100)}")
    if meta.truncated:
        parts.append("TRUNCATED")
    return ", ".join(parts)


def rate_note(result: DiffResult) -> str:
    if result.elapsed_seconds is not None:
        span = duration(result.elapsed_seconds)
        return f"time between snapshots: {span} (from {result.elapsed_source})"
    return (
        "rate unknown: the inputs carry no capture time (raw dumps); "
        "pass --elapsed, or capture with 'snapdiff convert --captured-at'"
    )
