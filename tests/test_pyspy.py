"""The py-spy readers on the real dumps of samples/python/leaky_threads.py.

Expected numbers come from the raw files, never from the readers: the tables below were counted
with grep (``grep -c '"thread_name": "short-[0-9]*"' t1.json``,
``grep -cE '^Thread .*: "short-[0-9]+"$' t1.txt``, and the same for the other names), and the
tests that check ids, names, states and frames read the raw files with the standard library.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from snapdiff import store
from snapdiff.cli import app
from snapdiff.diff import diff
from snapdiff.group import entry_frame, site_key
from snapdiff.inputs import load, parse_bytes
from snapdiff.model import FLAG_ACTIVE, FLAG_OWNS_GIL, Snapshot
from snapdiff.runtimes import detect
from snapdiff.runtimes.python import RUNTIME as PY
from snapdiff.runtimes.python import is_native, pyspy_json, pyspy_text
from tests.conftest import PY_DUMPS

VERSIONS = ("py3.9", "py3.11", "py3.12", "py3.13")
FILES = (
    "t0.json",
    "t0.txt",
    "t1.json",
    "t1.txt",
    "t1.locals.json",
    "t1.locals.txt",
    "t1.native.json",
    "t1.native.txt",
    "t1.nonblocking.json",
)
SAMPLES = [(v, f) for v in VERSIONS for f in FILES]

SECRETS = ("sk-test-not-a-real-secret", "hunter2-not-a-real-password")

# short-N threads (the churn) alive in each file: they come and go, so each capture differs.
SHORT = {
    "py3.9": dict(zip(FILES, (2, 3, 2, 2, 3, 5, 5, 4, 4), strict=True)),
    "py3.11": dict(zip(FILES, (3, 3, 2, 2, 3, 2, 3, 3, 3), strict=True)),
    "py3.12": dict(zip(FILES, (3, 3, 3, 2, 3, 3, 2, 2, 2), strict=True)),
    "py3.13": dict(zip(FILES, (2, 3, 3, 3, 3, 1, 3, 3, 1), strict=True)),
}
# Leaked executor workers at t0 and t1 (py3.9 was captured with MAX_LEAK=40, T1=16).
EXECUTORS = {"py3.9": (10, 40), "py3.11": (10, 100), "py3.12": (10, 100), "py3.13": (10, 100)}

# Behaviour -> (target function, thread name pattern).
BEHAVIOURS = {
    "executor": ("_worker", "ThreadPoolExecutor-N_N"),
    "pool": ("pool_worker", "pool-N"),
    "churn-task": ("short_task", "short-N"),
    "watcher": ("watch_config", "config-watcher"),
    "requests": ("request_loop", "requests"),
    "churn": ("churn_loop", "churn"),
    "feeder": ("feed_loop", "feeder"),
}


def expected_sites(version: str, name: str) -> Counter[str]:
    workers = EXECUTORS[version][0 if name.startswith("t0") else 1]
    return Counter(
        {
            "_worker": workers,
            "pool_worker": 4,
            "short_task": SHORT[version][name],
            "watch_config": 1,
            "request_loop": 1,
            "churn_loop": 1,
            "feed_loop": 1,
            "<module>": 1,
        }
    )


def path(version: str, name: str) -> Path:
    return PY_DUMPS / version / name


def read(version: str, name: str, **kw: bool) -> Snapshot:
    return load(str(path(version, name)), **kw)


def sites(snap: Snapshot) -> Counter[str]:
    return Counter(site_key(t, PY).function for t in snap.tasks)


def raw_threads(version: str, name: str) -> list[dict[str, object]]:
    """The JSON file's thread objects, read with the standard library."""
    doc = json.loads(path(version, name).read_text(encoding="utf-8"))
    assert isinstance(doc, list)
    return doc


_RAW_HEADER = re.compile(r'^Thread (\d+) \(([a-z+]+)\): "(.*)"$')


def raw_text_threads(version: str, name: str) -> list[tuple[int, str, str, list[str]]]:
    """(id, state, name, frame lines) per thread of a text file, by splitting its lines."""
    out: list[tuple[int, str, str, list[str]]] = []
    for line in path(version, name).read_text(encoding="utf-8").splitlines():
        m = _RAW_HEADER.match(line)
        if m:
            out.append((int(m.group(1)), m.group(2), m.group(3), []))
        elif out and line.startswith("    ") and not line.startswith("     "):
            out[-1][3].append(line[4:])
    return out


# --- groups and counts -----------------------------------------------------------------------


@pytest.mark.parametrize(("version", "name"), SAMPLES, ids=lambda x: str(x))
def test_thread_counts_per_target(version, name):
    snap = read(version, name)
    assert sites(snap) == expected_sites(version, name)
    assert snap.total == sum(expected_sites(version, name).values())
    assert not snap.truncated
    assert snap.skipped_lines == 0
    if (version, name) != ("py3.9", "t1.nonblocking.json"):  # its warning: see below
        assert snap.warnings == ()


@pytest.mark.parametrize(("version", "name"), SAMPLES, ids=lambda x: str(x))
def test_each_behaviour_has_its_creation_site(version, name):
    snap = read(version, name)
    seen = set()
    for task in snap.tasks:
        key = site_key(task, PY)
        if task.name == "MainThread":
            # Not started by threading: falls back to its entry, the script's <module>.
            assert (key.by, key.function) == ("entry", "<module>")
            assert key.file == "leaky_threads.py"
            continue
        pattern = re.sub(r"\d+", "N", task.name)
        behaviour = next(b for b, (_, p) in BEHAVIOURS.items() if p == pattern)
        assert (key.by, key.function, key.name_pattern) == ("site", *BEHAVIOURS[behaviour])
        if behaviour == "executor":
            assert key.file == "thread.py"  # keyed by file name: text dumps have no paths
        else:
            assert key.file == "leaky_threads.py"
        seen.add(behaviour)
    assert seen == set(BEHAVIOURS)


@pytest.mark.parametrize("version", VERSIONS)
def test_json_counts_agree_with_the_thread_names_in_the_raw_file(version):
    for name in FILES:
        if not name.endswith(".json"):
            continue
        names = Counter(
            re.sub(r"\d+", "N", str(t["thread_name"])) for t in raw_threads(version, name)
        )
        by_site = sites(read(version, name))
        for target, pattern in BEHAVIOURS.values():
            assert by_site[target] == names[pattern], (name, target)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("stem", ["t0", "t1", "t1.locals", "t1.native"])
def test_json_and_text_of_one_capture_give_the_same_groups(version, stem):
    """Text has short file names only: compare functions, name patterns, counts and ids.

    Each py-spy call is a separate capture a few ms apart, so only the churn differs."""
    js = read(version, f"{stem}.json")
    tx = read(version, f"{stem}.txt")

    def groups(snap: Snapshot) -> dict[tuple[str, str], set[tuple[int | None, str]]]:
        out: dict[tuple[str, str], set[tuple[int | None, str]]] = {}
        for t in snap.tasks:
            k = site_key(t, PY)
            if k.function != "short_task":
                out.setdefault((k.function, k.name_pattern), set()).add((t.id, t.name))
        return out

    assert groups(js) == groups(tx)
    assert sites(js)["short_task"] == SHORT[version][f"{stem}.json"]
    assert sites(tx)["short_task"] == SHORT[version][f"{stem}.txt"]


# --- ids, names, states, frames -----------------------------------------------------------------


@pytest.mark.parametrize(("version", "name"), [s for s in SAMPLES if s[1].endswith(".json")])
def test_json_threads_field_by_field(version, name):
    raw = raw_threads(version, name)
    snap = read(version, name)
    assert len(snap.tasks) == len(raw)
    assert snap.source.format == "pyspy-json"
    assert snap.source.pid == raw[0]["pid"]
    missing = sum(1 for obj in raw if obj["os_thread_id"] is None)
    if missing:
        # Python 3.9 with --nonblocking: py-spy found no OS thread ids.
        assert (version, name) == ("py3.9", "t1.nonblocking.json")
        assert snap.warnings == (
            f"{path(version, name)}: {missing} of {len(raw)} threads have no OS thread id "
            "(py-spy --nonblocking on Python < 3.11 gives none); their ids are pthread "
            "handles, which do not match the OS ids of a dump that has them",
        )
    for task, obj in zip(snap.tasks, raw, strict=True):
        assert task.kind == "thread"
        # The id the text dump prints: the OS thread id, or the pthread handle without one.
        os_tid = obj["os_thread_id"]
        assert task.id == (os_tid if os_tid is not None else obj["thread_id"])
        assert task.name == obj["thread_name"]
        assert task.state == ("active" if obj["active"] else "idle")
        assert (FLAG_ACTIVE in task.flags) is obj["active"]
        assert (FLAG_OWNS_GIL in task.flags) is obj["owns_gil"]
        frames = obj["frames"]
        assert isinstance(frames, list)
        assert [(f.function, f.file, f.line) for f in task.frames] == [
            (f["name"], f["filename"], f["line"]) for f in frames
        ]
        assert task.locals == ()


@pytest.mark.parametrize(("version", "name"), [s for s in SAMPLES if s[1].endswith(".txt")])
def test_text_threads_field_by_field(version, name):
    raw = raw_text_threads(version, name)
    snap = read(version, name)
    assert snap.source.format == "pyspy-text"
    first = path(version, name).read_text(encoding="utf-8").split("\n", 1)[0]
    assert snap.source.pid == int(first.split()[1].rstrip(":"))
    assert [(t.id, t.state, t.name) for t in snap.tasks] == [(i, s, n) for i, s, n, _ in raw]
    for task, (_, state, _, lines) in zip(snap.tasks, raw, strict=True):
        shown = [
            f"{f.function} ({f.file}:{f.line})" if f.line else f"{f.function} ({f.file})"
            for f in task.frames
        ]
        assert shown == lines
        assert (FLAG_ACTIVE in task.flags) is state.startswith("active")
        assert task.locals == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_thread_order_json_newest_first_text_main_thread_first(version):
    js = read(version, "t1.json")
    tx = read(version, "t1.txt")
    assert js.tasks[-1].name == "MainThread"
    assert tx.tasks[0].name == "MainThread"
    assert tx.tasks[0].id == tx.source.pid


def test_pool_worker_stack_qualified_and_bare_names():
    py311 = next(t for t in read("py3.11", "t1.txt").tasks if t.name == "pool-0")
    assert [f.function for f in py311.frames] == [
        "Condition.wait",
        "Queue.get",
        "pool_worker",
        "Thread.run",
        "Thread._bootstrap_inner",
        "Thread._bootstrap",
    ]
    assert py311.frames[2].location() == "leaky_threads.py:54"
    for name in ("t1.txt", "t1.json"):
        py39 = next(t for t in read("py3.9", name).tasks if t.name == "pool-0")
        assert [f.function for f in py39.frames] == [
            "wait",
            "get",
            "pool_worker",
            "run",
            "_bootstrap_inner",
            "_bootstrap",
        ]
        assert py39.frames[-1].file.endswith("threading.py")
        assert site_key(py39, PY).function == "pool_worker"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["t1.native.json", "t1.native.txt"])
def test_native_frames_are_kept_and_skipped_for_the_target(version, name):
    snap = read(version, name)
    native = [f for t in snap.tasks for f in t.frames if is_native(f)]
    assert native, "a --native dump has C frames"
    assert any(f.function.startswith("0x") for f in native)  # unresolved libc addresses
    for task in snap.tasks:
        entry = entry_frame(task, PY)
        assert entry is not None
        assert not is_native(entry)
        if task.name == "MainThread":
            assert task.frames[-1].function.startswith("0x")  # libc below <module>
            assert entry.function == "<module>"
    assert snap.source.detail.endswith("native frames")


@pytest.mark.parametrize("version", ["py3.9", "py3.11", "py3.12", "py3.13"])
@pytest.mark.parametrize("ext", ["json", "txt"])
def test_diff_of_real_pair_flags_only_the_executor(version, ext):
    result = diff(read(version, f"t0.{ext}"), read(version, f"t1.{ext}"))
    assert [(g.key.function, g.key.name_pattern) for g in result.suspects] == [
        ("_worker", "ThreadPoolExecutor-N_N")
    ]
    by_fn = {g.key.function: g for g in result.groups}
    before, after = EXECUTORS[version]
    leak = by_fn["_worker"]
    assert (leak.before, leak.after, leak.survivors) == (before, after, before)
    assert by_fn["pool_worker"].verdict == "steady"
    assert by_fn["watch_config"].verdict == "steady"
    assert not by_fn["short_task"].suspect
    assert result.ids_comparable


def test_json_ids_are_os_thread_ids_not_reused_pthread_handles():
    """pthread handles come back for the next thread at once; the OS ids do not.

    In these captures a churn thread's handle at t0 belongs to an executor worker at t1."""
    for version in VERSIONS:
        t0 = {t["thread_id"]: t["os_thread_id"] for t in raw_threads(version, "t0.json")}
        t1 = {t["thread_id"]: t["os_thread_id"] for t in raw_threads(version, "t1.json")}
        reused = [h for h in t0 if h in t1 and t0[h] != t1[h]]
        ids0 = {t.id for t in read(version, "t0.json").tasks}
        ids1 = {t.id for t in read(version, "t1.json").tasks}
        for handle in reused:
            assert handle not in ids0 | ids1
            assert t0[handle] in ids0
            assert t1[handle] in ids1


@pytest.mark.parametrize(("version", "name"), SAMPLES, ids=lambda x: str(x))
def test_detected_by_content(version, name):
    data = path(version, name).read_bytes()
    source = detect(data[:4096])
    assert source is not None
    assert source.name == ("pyspy-json" if name.endswith(".json") else "pyspy-text")


# --- locals ------------------------------------------------------------------------------------


LOCALS_FILES = [(v, f"t1.locals.{e}") for v in VERSIONS for e in ("json", "txt")]


def everything_said(snap: Snapshot) -> str:
    return repr(snap) + store.dumps(snap).decode("utf-8")


@pytest.mark.parametrize(("version", "name"), LOCALS_FILES)
def test_locals_are_dropped_by_default(version, name):
    raw = path(version, name).read_bytes()
    for secret in SECRETS:
        assert secret.encode() in raw  # the dump does hold them
    snap = read(version, name)
    said = everything_said(snap)
    for secret in SECRETS:
        assert secret not in said
    assert all(t.locals == () for t in snap.tasks)
    assert "locals dropped" in snap.source.detail
    assert store.dumps(snap).find(b'"locals"') == -1


@pytest.mark.parametrize(("version", "name"), LOCALS_FILES)
def test_locals_do_not_change_the_threads(version, name):
    data = path(version, name).read_bytes()
    if name.endswith(".txt"):
        plain = b"\n".join(line for line in data.split(b"\n") if not line.startswith(b"        "))
    else:
        doc = json.loads(data)
        for t in doc:
            for f in t["frames"]:
                f["locals"] = None
        plain = json.dumps(doc).encode()
    assert plain != data
    assert read(version, name).tasks == parse_bytes(plain, "no locals").tasks


@pytest.mark.parametrize(("version", "name"), LOCALS_FILES)
def test_locals_kept_on_request(version, name):
    snap = read(version, name, keep_locals=True)
    pool = [t for t in snap.tasks if t.name.startswith("pool-")]
    assert len(pool) == 4
    for task in pool:
        values = {n: (fi, v) for fi, n, v in task.locals}
        fi, token = values["api_token"]
        assert token == f'"{SECRETS[0]}"'
        assert values["db_password"][1] == f'"{SECRETS[1]}"'
        assert task.frames[fi].function == "pool_worker"
        assert values["worker_id"][1] == task.name.removeprefix("pool-")
    assert "locals kept" in snap.source.detail
    said = store.dumps(snap).decode()
    assert SECRETS[0] in said
    assert SECRETS[1] in said


@pytest.mark.parametrize(("version", "name"), LOCALS_FILES)
def test_convert_writes_no_secret_unless_asked(version, name, tmp_path):
    runner = CliRunner()
    out = tmp_path / "snap.json"
    result = runner.invoke(
        app, ["convert", str(path(version, name)), "-o", str(out)], prog_name="snapdiff"
    )
    assert result.exit_code == 0, result.output
    written = out.read_text(encoding="utf-8")
    for secret in SECRETS:
        assert secret not in written
        assert secret not in result.stdout
        assert secret not in result.stderr
    kept = tmp_path / "kept.json.gz"
    result = runner.invoke(
        app,
        ["convert", str(path(version, name)), "-o", str(kept), "--keep-locals"],
        prog_name="snapdiff",
    )
    assert result.exit_code == 0, result.output
    reloaded = load(str(kept))
    assert any(v == f'"{SECRETS[1]}"' for t in reloaded.tasks for _, _, v in t.locals)


def test_locals_blocks_of_old_py_spy_are_recognised():
    """Older py-spy printed ``Arguments::`` and ``Locals::`` (a stray colon)."""
    data = path("py3.12", "t1.locals.txt").read_bytes()
    old = data.replace(b"        Arguments:\n", b"        Arguments::\n").replace(
        b"        Locals:\n", b"        Locals::\n"
    )
    assert old != data
    new_snap = pyspy_text.parse(data, "new", keep_locals=True)
    old_snap = pyspy_text.parse(old, "old", keep_locals=True)
    assert old_snap.tasks == new_snap.tasks
    assert old_snap.skipped_lines == 0
    dropped = pyspy_text.parse(old, "old")
    for secret in SECRETS:
        assert secret not in everything_said(dropped)


def test_json_locals_are_not_read_unless_kept():
    """Odd values in ``locals`` cannot fail a dump whose locals are dropped anyway."""
    doc = raw_threads("py3.11", "t1.locals.json")
    for t in doc:
        for f in t["frames"]:  # type: ignore[union-attr]
            f["locals"] = [{"name": 1, "repr": {"x": [SECRETS[0]]}}, None, SECRETS[1]]
    snap = pyspy_json.parse(json.dumps(doc).encode(), "odd")
    for secret in SECRETS:
        assert secret not in everything_said(snap)
    kept = pyspy_json.parse(json.dumps(doc).encode(), "odd", keep_locals=True)
    assert all(t.locals == () for t in kept.tasks)


def test_unreadable_local_value_shows_as_question_mark():
    doc = [
        {
            "thread_id": 1,
            "os_thread_id": 2,
            "thread_name": "x",
            "frames": [
                {
                    "name": "f",
                    "filename": "a.py",
                    "line": 1,
                    "locals": [{"name": "v", "arg": False, "repr": None}],
                }
            ],
        }
    ]
    snap = pyspy_json.parse(json.dumps(doc).encode(), "x", keep_locals=True)
    assert snap.tasks[0].locals == ((0, "v", "?"),)
