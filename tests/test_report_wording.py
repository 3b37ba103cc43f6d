"""What an on-call engineer reads in the reports of the formats with no creation sites, no
states or no stacks: Node.js libuv handles, Go protobuf profiles, faulthandler and pystack
dumps, JVM pools and virtual threads. Each test runs the CLI on the committed real dumps and
checks the words that name the leak and say where its tasks are, in text, Markdown and JSON.
"""

from __future__ import annotations

import json
import re
import shlex

import pytest
from typer.testing import CliRunner

from snapdiff.cli import app
from tests.conftest import GO_DUMPS, PY_DUMPS, ROOT, SAMPLES

ENV = {"COLUMNS": "100", "LINES": "50", "NO_COLOR": None, "FORCE_COLOR": None, "TERM": "xterm"}
NODE = SAMPLES / "node" / "dumps" / "node20"
JDK25 = SAMPLES / "java" / "dumps" / "jdk25"
GO127 = GO_DUMPS / "go1.27"
LEAK = "tcp connected to 127.0.0.1:18082"
CONNECTION = re.compile(r"127\.0\.0\.1:\d{4,5} -> 127\.0\.0\.1:18082")


def run(*args: str) -> str:
    result = CliRunner(env=ENV).invoke(app, [*args, "-q", "--color", "never"], prog_name="snapdiff")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def unfold(text: str) -> str:
    """A text report with its folded lines joined back."""
    return re.sub(r"\n +", " ", text)


# --- Node.js: libuv handles -------------------------------------------------------------------


def node_diff(fmt: str) -> str:
    return run("diff", str(NODE / "t0.json"), str(NODE / "t1.json"), "-f", fmt)


def test_node_text_names_the_handle_and_shows_connections() -> None:
    out = node_diff("text")
    head, table = out.split("\n\n")[:2]
    assert f"Suspect: {LEAK} grew by 30" in unfold(head)
    assert table.splitlines()[0].split() == (
        ["verdict", "handle", "(type,", "endpoint)", "before", "after", "Δ", "/min", "surv."]
    )
    assert "creation site" not in out
    # The row names the whole key on one line and gives one connection of the group.
    row = re.search(rf"SUSPECT +{re.escape(LEAK)} +6 +36 +\+30 .*\n +e\.g\. (.*)\n", out)
    assert row is not None and CONNECTION.fullmatch(row.group(1).strip())
    assert f"suspect {LEAK}: 36 libuv handles, active 36\n" in out
    examples = re.search(r"^examples: (.*)$", unfold(out), re.M)
    assert examples is not None
    shown = examples.group(1).split(", ")
    assert len(shown) == 4 and shown[2] == "..."
    assert all(CONNECTION.fullmatch(c) for c in shown[:2] + shown[3:])
    # A handle's one frame is its key: no stack repeats it.
    assert not re.search(r"^ +tcp connected to$", out, re.M)


def test_node_markdown_names_the_handle_in_one_code_span() -> None:
    out = node_diff("markdown")
    assert f"Suspect: `{LEAK}` grew by 30, +180/min." in out
    assert "| Verdict | Handle (type, endpoint) | Before | After |" in out
    assert f"| **SUSPECT** | `{LEAK}` | 6 | 36 | +30 |" in out
    assert "`tcp connected to` " not in out and "127\\.0" not in out
    assert "| States (after) |" in out and "Longest wait" not in out
    assert f"<details><summary>{LEAK}: 36 libuv handles, active 36</summary>" in out
    fence = re.search(r"Examples:\n\n```text\n(.*?)\n```", out, re.S)
    assert fence is not None
    lines = fence.group(1).splitlines()
    assert len(lines) == 4 and lines[2] == "..."
    assert all(CONNECTION.fullmatch(c) for c in lines[:2] + lines[3:])
    assert "Compared, grouped by handle (type, endpoint):" in out
    # Groups of handles with nothing more to say get no empty <details> (the other one is the
    # block of steady sites).
    assert out.count("<details>") == 2
    assert out.count("<details><summary>+ ") == 1


def test_node_json_keeps_example_connections() -> None:
    doc = json.loads(node_diff("json"))
    leak = next(g for g in doc["groups"] if g["label"] == LEAK)
    assert leak["suspect"] and leak["after"] == 36
    names = leak["example_names"]
    assert len(names) == 3 and all(CONNECTION.fullmatch(n) for n in names)
    ports = [int(n.split(" ")[0].rsplit(":", 1)[1]) for n in names]
    assert ports == sorted(ports)  # the lowest two and the highest
    listener = next(g for g in doc["groups"] if g["label"] == "tcp listening on 127.0.0.1:18080")
    assert listener["example_names"] == ["127.0.0.1:18080"]


def test_node_show_gives_an_example_per_connection_group() -> None:
    out = run("show", str(NODE / "t1.json"))
    assert "handle (type, endpoint) / states" in out
    assert re.search(
        rf"^{re.escape(LEAK)} +36\ne\.g\. 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:18082\n", out, re.M
    )
    # A listener's name is its key's endpoint: no example repeats it.
    assert re.search(r"^tcp listening on 127\.0\.0\.1:18080 +1\nactive 1\n", out, re.M)


# --- Go protobuf profiles: grouped by entry function ----------------------------------------


def pprof_diff(fmt: str) -> str:
    return run("diff", str(GO127 / "t0.debug0.pb.gz"), str(GO127 / "t1.debug0.pb.gz"), "-f", fmt)


def test_pprof_text_heading_says_entry_function() -> None:
    out = pprof_diff("text")
    assert out.split("\n\n")[1].splitlines()[0].split()[:3] == ["verdict", "entry", "function"]
    table = out.split("\n\n")[1]
    assert "creation site" not in table and "(entry function)" not in table
    assert re.search(r"SUSPECT \(unconfirmed\) +main\.fetchOne +17 +286 +\+269", out)
    # No states in the profile: the frame where they wait instead of "mostly in ?".
    assert "suspect main.fetchOne: 286 goroutines; 285 of 286 wait at leaky/fanout.go:53" in unfold(
        out
    )
    assert "?" not in out.split("suspect ", 1)[1].splitlines()[0]
    assert "grouped by entry function" in unfold(out)  # the reader's note says why


def test_pprof_markdown_says_why_it_is_grouped_by_entry_function() -> None:
    out = pprof_diff("markdown")
    assert "| Verdict | Entry function | Before |" in out
    assert "| **SUSPECT (unconfirmed)** | `main.fetchOne` `leaky/fanout.go` | 17 | 286 |" in out
    assert "(entry)" not in out
    # No states in a profile, no waits outside Go's text dumps: no empty columns.
    assert "States" not in out and "Longest wait" not in out
    assert "Compared, grouped by entry function (the input records no creation sites):" in out
    assert (
        "<details><summary>main.fetchOne: 286 goroutines; 285 of 286 wait at "
        "leaky/fanout.go:53</summary>"
    ) in out


def test_pprof_show_of_the_leak_profile_reads_cleanly() -> None:
    out = run("show", str(GO127 / "t1.goroutineleak.debug0.pb.gz"))
    assert "entry function / states" in out
    assert re.search(
        r"^main\.fetchOne +286\nleaky/fanout\.go\n286 marked leaked by Go\n", out, re.M
    )
    md = run("show", str(GO127 / "t1.goroutineleak.debug0.pb.gz"), "-f", "markdown")
    assert "grouped by entry function (the input records no creation sites)." in md


def test_a_full_go_dump_still_says_creation_site() -> None:
    out = run("diff", str(GO127 / "t0.debug2.txt"), str(GO127 / "t1.debug2.txt"), "--all")
    assert out.split("\n\n")[1].splitlines()[0].split()[1:3] == ["creation", "site"]
    assert re.search(r"main\.main .*\n +leaky/main\.go \(entry function\)\n", out)  # goroutine 1


# --- faulthandler and pystack: no names, no states ------------------------------------------


@pytest.mark.parametrize("fmt", ["faulthandler", "pystack"])
@pytest.mark.parametrize("version", ["py3.11", "py3.13"])
def test_python_dumps_without_states_say_where_threads_wait(fmt: str, version: str) -> None:
    folder = PY_DUMPS / fmt / version
    line = 81 if version == "py3.11" else 89
    out = run("diff", str(folder / "t0.txt"), str(folder / "t1.txt"))
    assert (
        f"suspect _worker: 60 threads; all 60 wait at _worker (futures/thread.py:{line})\n" in out
    )
    assert "mostly in ?" not in out
    md = run("diff", str(folder / "t0.txt"), str(folder / "t1.txt"), "-f", "markdown")
    assert (
        "<details><summary>_worker: 60 threads; all 60 wait at _worker "
        f"(futures/thread.py:{line})</summary>"
    ) in md
    # No thread names before 3.14: no name pattern, no example names.
    assert "named" not in out and "example names" not in out
    doc = json.loads(run("diff", str(folder / "t0.txt"), str(folder / "t1.txt"), "-f", "json"))
    assert {g["name_pattern"] for g in doc["groups"]} == {None}
    assert all(g["example_names"] == [] for g in doc["groups"])


# --- JVM: pools and virtual threads ---------------------------------------------------------


def jvm_diff(fmt: str) -> str:
    return run("diff", str(JDK25 / "t0.json"), str(JDK25 / "t1.json.gz"), "-f", fmt)


def test_jvm_pool_names_count_the_executors() -> None:
    out = unfold(jvm_diff("text"))
    assert "example names: pool-1-thread-1, pool-2-thread-1, ..., pool-60-thread-1" in out
    why = re.search(
        r"^why: (.*)\nages: 13 alive for at least 20s\n"
        r"labels: container=java\.util\.concurrent\.ThreadPoolExecutor\n",
        out,
        re.M,
    )
    assert why is not None
    assert "executor made per request and never shut down" in why.group(1)
    assert "the first number counts the executors made so far" in why.group(1)
    md = jvm_diff("markdown")
    assert "Example names: `pool-1-thread-1`, `pool-2-thread-1`, ..., `pool-60-thread-1`" in md


def test_jvm_virtual_threads_are_called_so() -> None:
    out = jvm_diff("text")
    assert re.search(r"SUSPECT +LeakyService\.awaitReply +13 +60 .*\n +virtual threads\n", out)
    assert (
        "suspect LeakyService.awaitReply: 60 virtual threads; all 60 wait in WAITING at "
        "LeakyService.java:121\n"
    ) in unfold(out)
    md = jvm_diff("markdown")
    assert "| **SUSPECT** | `LeakyService.awaitReply` `LeakyService.java` (virtual threads) |" in md
    assert "LeakyService.awaitReply: 60 virtual threads; all 60 wait in WAITING at" in md
    doc = json.loads(jvm_diff("json"))
    virtual = next(g for g in doc["groups"] if g["key_function"] == "LeakyService.awaitReply")
    # The pool hint is for pool-N-thread-N names only, not for every suspect.
    assert not any("ThreadFactory" in r for r in virtual["reasons"])
    assert virtual["example_names"] == []  # virtual threads have no names


# --- the guide's examples -------------------------------------------------------------------

GUIDE = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
EXAMPLES = [
    (m.group(1), m.group(2))
    for m in re.finditer(r"```text\n\$ snapdiff (.*?)\n(.*?)```", GUIDE, re.S)
    if all((ROOT / a).exists() for a in shlex.split(m.group(1)) if a.startswith("samples/"))
    and "samples/" in m.group(1)
]


@pytest.mark.parametrize(("command", "shown"), EXAMPLES, ids=[c for c, _ in EXAMPLES])
def test_the_guide_shows_what_snapdiff_prints(
    command: str, shown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every line of a sample report in docs/guide.md is a line snapdiff prints (the examples
    are cut with "..."; they were made 88 columns wide, the JVM one 80)."""
    monkeypatch.chdir(ROOT)
    lines = [line for line in shown.splitlines() if line != "..."]
    for width in ("88", "80"):
        result = CliRunner(env={**ENV, "COLUMNS": width}).invoke(
            app, [*shlex.split(command), "-q", "--color", "never"], prog_name="snapdiff"
        )
        assert result.exit_code == 0, result.stderr
        printed = result.stdout.splitlines()
        if all(line in printed for line in lines):
            return
    missing = [line for line in lines if line not in printed]
    raise AssertionError(f"not printed: {missing[:5]}")


def test_trend_reports_use_the_same_words() -> None:
    node = [str(NODE / "t0.json"), str(NODE / "t1.json")]
    out = run("trend", *node)
    assert out.split("\n\n")[1].splitlines()[0].split()[:4] == [
        "verdict",
        "handle",
        "(type,",
        "endpoint)",
    ]
    assert f"suspect {LEAK}: 6 36 libuv handles, active 36\n" in out
    assert re.search(r"^examples: 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:18082, ", out, re.M)
    md = run("trend", *node, "-f", "markdown")
    assert f"<details><summary>{LEAK}: 36 libuv handles, active 36</summary>" in md
    assert "Snapshots, grouped by handle (type, endpoint):" in md
    pprof = [str(GO127 / "t0.debug0.pb.gz"), str(GO127 / "t1.debug0.pb.gz")]
    out = run("trend", *pprof)
    assert out.split("\n\n")[1].splitlines()[0].split()[1:3] == ["entry", "function"]
    assert "suspect main.fetchOne: 17 286 goroutines; 285 of 286 wait at leaky/fanout.go:53" in out
    md = run("trend", *pprof, "-f", "markdown")
    assert "Snapshots, grouped by entry function (the input records no creation sites):" in md


def test_handle_examples_only_where_they_say_more_than_the_key() -> None:
    out = run("show", str(NODE / "handles.json"))
    assert "handle (type, endpoint) or entry function / states" in out  # and the JS thread
    assert re.search(r"^process +1\ne\.g\. pid \d+\n", out, re.M)
    assert re.search(r"^udp bound to 127\.0\.0\.1:\* +1\ne\.g\. 127\.0\.0\.1:\d+\n", out, re.M)
    # A unix socket's accepted end has no path of its own: "? -> PATH" would only repeat it.
    assert re.search(r"^pipe accepted on /tmp/zoo-\w+/zoo\.sock +1\nactive 1\n", out, re.M)
    assert "? ->" not in out


def test_handles_keep_their_heading_under_any_grouping() -> None:
    for by in ("entry", "leaf"):
        out = run("diff", str(NODE / "t0.json"), str(NODE / "t1.json"), "--group-by", by)
        assert out.split("\n\n")[1].splitlines()[0].split()[1:4] == [
            "handle",
            "(type,",
            "endpoint)",
        ]
        assert f"suspect {LEAK}: 36 libuv handles" in out
