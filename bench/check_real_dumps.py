"""Read a folder of real dumps that other people wrote and check each against a count made apart.

    .venv/bin/python bench/check_real_dumps.py /path/to/realdumps [--verbose]

The folder holds one sub-folder per format family (``go``, ``jvm``, ``node``, ``pyspy``,
``faulthandler``, ``pystack``...) and a ``sources.tsv`` in each (or one at the top) with the
columns ``file``, ``source`` (URL, or repository, path and commit), ``licence``, ``expected``
(the task count the file holds, or ``auto`` for the independent count below, or ``refuse`` for a
file snapdiff should refuse), ``cut`` (``yes`` when the file really is cut short) and ``note``.

The independent count is a simple counter written here, not the reader's output: it counts the
lines that start a task in each format (``goroutine N [``, a quoted JVM thread header, ``Thread
0x..`` of faulthandler...) or, for JSON, the objects of the list that holds the tasks. When a
file holds several dumps, the count is that of the one snapdiff reads (the last).

Each file is read as ``snapdiff show`` reads it, and gets one of:

    ok        read, the independent count, and cut short exactly when the file is
    refused   a one-line error that says why (exit 3), where ``expected`` is ``refuse``
    WRONG     anything else: another count, a false cut, a traceback, an unexpected refusal

Prints a table, then totals per format; exits 1 when any file is WRONG.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from snapdiff import inputs
from snapdiff.errors import SnapdiffError


@dataclass
class Row:
    file: str
    family: str
    fmt: str
    expected: int | None
    count: int | None
    cut: bool | None
    expected_cut: bool
    result: str
    why: str


def _text(raw: bytes) -> str:
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return raw.decode("utf-16", errors="replace")
    if len(raw) > 16 and raw[1:64:2].count(0) > 20:
        return raw.decode("utf-16-le", errors="replace")
    if len(raw) > 16 and raw[0:64:2].count(0) > 20:
        return raw.decode("utf-16-be", errors="replace")
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n")


# --- independent counters: each counts task headers of its format, anywhere on a line ---------
_GO = re.compile(r"(?:^|\s)goroutine ([1-9][0-9]*) (?:gp=\S+ m=\S+ (?:mp=\S+ )?)?\[", re.M)
_GO_DUMP = re.compile(r"(?:SIGQUIT: quit|panic: |fatal error: )", re.M)
_JVM = re.compile(
    r'^(?:[^"\n]*?\s)?"[^"\n]*"\s'
    r"(?:[^\n]*\btid=|- Thread t@\d|(?:daemon )?(?:prio=\d+ )?[Ii]d=\d+ )",
    re.M,
)
_JVM_DUMP = re.compile(r"Full thread dump")
_FH = re.compile(
    r"(?:Current thread|Thread) 0x[0-9a-fA-F]+[^\n]*:\s*$|(?:Stack|Traceback) \(most recent call "
    r"first\):\s*$",
    re.M,
)
_PYSPY = re.compile(
    r"^(?:[^\n]*\s)?Thread (?:0x)?[0-9a-fA-F]+ \((?:idle|active|active\+gil|gil)\)", re.M
)
_PYSTACK = re.compile(r"Traceback for thread \d+")
_DEBUG1 = re.compile(r"^(\d+) @( 0x[0-9a-f]+)+\s*$", re.M)


def _last(text: str, marker: re.Pattern[str]) -> str:
    """The part of ``text`` from its last dump marker on (snapdiff reads the last dump)."""
    starts = [m.start() for m in marker.finditer(text)]
    return text[starts[-1] :] if len(starts) > 1 else text


def count_pprof(raw: bytes) -> int:
    """The goroutines of a protobuf profile: the sum of its samples' counts, decoded with the
    protobuf library from profile.proto (not snapdiff's reader)."""
    from snapdiff.runtimes.go.pprof import profile_pb2

    prof = profile_pb2.Profile()  # type: ignore[attr-defined]
    prof.ParseFromString(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)
    return sum(s.value[0] for s in prof.sample)


def count_go(text: str) -> int:
    if "goroutine profile: total" in text:
        return sum(int(m.group(1)) for m in _DEBUG1.finditer(text))
    part = _last(text, _GO_DUMP)
    return len({m.group(1) for m in _GO.finditer(part)})


def count_jvm(text: str) -> int:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        doc = json.loads(stripped[stripped.index("{") :])
        if "threadDump" in doc:
            return sum(len(c.get("threads", [])) for c in doc["threadDump"]["threadContainers"])
        return len(doc["threads"])
    return len(_JVM.findall(_last(text, _JVM_DUMP)))


def count_faulthandler(text: str) -> int:
    # The last dump: from the last fatal or timeout header, or the last "Current thread" when
    # there are several (one a dump).
    lines = text.split("\n")
    fatal = [
        i
        for i, ln in enumerate(lines)
        if ln.lstrip().startswith(("Fatal Python error", "Timeout ("))
    ]
    current = [i for i, ln in enumerate(lines) if "Current thread 0x" in ln]
    start = 0
    if len(fatal) > 1:
        start = fatal[-1]
    elif len(current) > 1:
        # back to the first header of the run of threads that holds the last Current thread
        i = current[-1]
        while i > current[-2] + 1 and (
            not lines[i - 1].strip()
            or _FH.search(lines[i - 1])
            or lines[i - 1].startswith((" ", "File "))
        ):
            i -= 1
        start = i
    return len(_FH.findall("\n".join(lines[start:])))


def count_pyspy(text: str) -> int:
    stripped = text.strip()
    if stripped.startswith("["):
        return len(json.loads(stripped))
    procs = [m.start() for m in re.finditer(r"^Process \d+: ", text, re.M)]
    if len(procs) > 1 and "Parent Process" not in text:
        text = text[procs[-1] :]
    return len(_PYSPY.findall(text))


def count_pystack(text: str) -> int:
    return len(_PYSTACK.findall(text))


def count_node(text: str) -> int:
    starts = [m.start() for m in re.finditer(r'^\{\s*\n?\s*"header"', text, re.M)]
    part = text[starts[-1] :] if starts else text[text.index("{") :]
    doc, _ = json.JSONDecoder().raw_decode(part)
    reports = [doc, *doc.get("workers", [])]
    handles = sum(sum(1 for h in r.get("libuv", []) if h.get("type") != "loop") for r in reports)
    return handles + len(reports)


COUNTERS = {
    "go": count_go,
    "jvm": count_jvm,
    "faulthandler": count_faulthandler,
    "pyspy": count_pyspy,
    "pystack": count_pystack,
    "node": count_node,
}


def _sources(root: Path) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for tsv in sorted(root.rglob("sources.tsv")):
        with tsv.open(newline="") as fh:
            for rec in csv.DictReader(fh, delimiter="\t"):
                rows[str((tsv.parent / rec["file"]).relative_to(root))] = rec
    return rows


def check(root: Path) -> list[Row]:
    meta = _sources(root)
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "sources.tsv"):
        rel = str(path.relative_to(root))
        family = rel.split("/", 1)[0]
        rec = meta.get(rel, {})
        want = (rec.get("expected") or "auto").strip()
        expected_cut = (rec.get("cut") or "").strip() == "yes"
        counter = COUNTERS.get(family)
        expected: int | None = None
        why = ""
        if want.isdigit():
            expected = int(want)
        elif want != "refuse" and counter is not None:
            try:
                raw = path.read_bytes()
                if family == "go" and path.name.endswith((".pb.gz", ".pb")):
                    expected = count_pprof(raw)
                else:
                    expected = counter(_text(raw))
            except Exception as exc:
                why = f"independent count failed: {exc}"
        try:
            snap = inputs.load(str(path))
        except SnapdiffError as exc:
            message = str(exc)
            ok = want == "refuse" and "\n" not in message
            rows.append(
                Row(
                    rel,
                    family,
                    "-",
                    expected,
                    None,
                    None,
                    expected_cut,
                    "refused" if ok else "WRONG",
                    message,
                )
            )
            continue
        except Exception as exc:
            rows.append(
                Row(
                    rel,
                    family,
                    "-",
                    expected,
                    None,
                    None,
                    expected_cut,
                    "WRONG",
                    f"{type(exc).__name__}: {exc}",
                )
            )
            continue
        count = snap.total
        good = want != "refuse" and count == expected and snap.truncated == expected_cut
        if not good and not why:
            why = "; ".join(snap.warnings[:2])
        rows.append(
            Row(
                rel,
                family,
                snap.source.format,
                expected,
                count,
                snap.truncated,
                expected_cut,
                "ok" if good else "WRONG",
                why,
            )
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--verbose", "-v", action="store_true", help="say why for every row")
    args = parser.parse_args()
    rows = check(args.folder)
    width = max((len(r.file) for r in rows), default=4)
    print(f"{'file':<{width}}  {'format':<19} {'indep':>6} {'snapdiff':>8}  cut  result")
    for r in rows:
        cut = "-" if r.cut is None else ("yes" if r.cut else "no")
        print(
            f"{r.file:<{width}}  {r.fmt:<19} {'-' if r.expected is None else r.expected:>6} "
            f"{'-' if r.count is None else r.count:>8}  {cut:<4} {r.result}"
            + (f"  ({r.why[:150]})" if r.why and (args.verbose or r.result != "ok") else "")
        )
    print()
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        totals[r.family][r.result] += 1
    print(f"{'format':<14} {'files':>5} {'read':>5} {'refused':>8} {'WRONG':>6}")
    for family, c in sorted(totals.items()):
        print(f"{family:<14} {sum(c.values()):>5} {c['ok']:>5} {c['refused']:>8} {c['WRONG']:>6}")
    all_ = sum(totals.values(), Counter())
    print(
        f"{'all':<14} {sum(all_.values()):>5} {all_['ok']:>5} {all_['refused']:>8} "
        f"{all_['WRONG']:>6}"
    )
    return 1 if all_["WRONG"] else 0


if __name__ == "__main__":
    sys.exit(main())
