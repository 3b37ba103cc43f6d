"""Whatever a reader accepts, the rest of the pipeline (group, diff, trend, render) must
handle."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from snapdiff import store
from snapdiff.diff import diff, show
from snapdiff.errors import InputError
from snapdiff.group import GroupBy
from snapdiff.inputs import load, parse_bytes
from snapdiff.render import json as json_render
from snapdiff.render import markdown as md_render
from snapdiff.render import text as text_render
from snapdiff.render import trend_json, trend_markdown, trend_text
from snapdiff.trend import trend
from tests.conftest import GO_DUMPS

REAL = load(str(GO_DUMPS / "go1.27" / "t0.debug2.txt"))

hostile = st.sampled_from(
    [
        "[bold red]x[/]",
        "\x1b[31mred\x1b[0m",
        "\x1b]8;;http://evil\x07link",
        "a|b",
        "```",
        "<script>alert(1)</script>",
        "\u202egnp.exe",
        "\x00",
        "\r",
        "ü€😀",
        "",
    ]
)
names = st.builds(lambda a, b: a + b, st.text(max_size=20), hostile)

go_header = st.builds(
    lambda gid, state, mins, labels: f"goroutine {gid} [{state}{mins}]{labels}:",
    st.integers(min_value=0, max_value=10**12),
    names,
    st.sampled_from(["", ", 3 minutes", ", locked to thread", ", x minutes"]),
    st.one_of(st.just(""), st.builds(lambda k, v: f" {{{k}: {v}}}", names, names)),
)
go_frame = st.builds(
    lambda f, p, n: f"{f}(0x1, ...)\n\t{p}:{n} +0x1f", names, names, st.integers(0, 10**6)
)
go_created = st.builds(
    lambda f, g: f"created by {f} in goroutine {g}\n\t/x.go:1 +0x1", names, st.integers(0, 99)
)
go_block = st.builds(
    lambda h, frames, c: "\n".join([h, *frames, *c]),
    go_header,
    st.lists(go_frame, max_size=4),
    st.lists(go_created, max_size=1),
)
go_dump = st.lists(go_block, min_size=1, max_size=6).map(lambda bs: "\n\n".join(bs) + "\n")

pyspy_thread = st.fixed_dictionaries(
    {
        "pid": st.integers(1, 10**6),
        "thread_id": st.integers(0, 2**64 - 1),
        "thread_name": st.one_of(st.none(), names),
        "active": st.booleans(),
        "frames": st.lists(
            st.fixed_dictionaries(
                {"name": names, "filename": names, "line": st.integers(-5, 10**6)}
            ),
            max_size=5,
        ),
    }
)


def _render_all(data: bytes) -> None:
    try:
        snap = parse_bytes(data, "gen")
    except InputError:
        return
    for by in GroupBy:
        result = diff(REAL, snap, by)
        md_render.render_diff(result)
        json_render.render_diff(result)
        text_render.render_diff(result, Console(file=io.StringIO(), width=80))
        shown = show(snap, by)
        md_render.render_show(shown)
        json_render.render_show(shown)
        text_render.render_show(shown, Console(file=io.StringIO(), width=80))
    series = trend([REAL, snap, snap])
    trend_markdown.render_trend(series)
    trend_json.render_trend(series)
    trend_text.render_trend(series, Console(file=io.StringIO(), width=80))
    again = store.loads(store.dumps(snap), "gen")
    assert again.tasks == snap.tasks


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(go_dump)
def test_generated_go_dumps_go_through_every_renderer(text):
    _render_all(text.encode("utf-8", errors="surrogatepass"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(pyspy_thread, min_size=1, max_size=5))
def test_generated_pyspy_json_goes_through_every_renderer(threads):
    import orjson

    _render_all(orjson.dumps(threads))
