"""Go aggregated goroutine profiles: ``/debug/pprof/goroutine?debug=1``.

::

    goroutine profile: total 10                      (``goroutineleak profile:`` on Go 1.26+)
    2 @ 0x103b125 0x106cd1f 0x13ac44a 0x106fd81      N goroutines share this stack
    # labels: {"test_label":"test_value"}           optional
    #	0x106cd1e	time.Sleep+0xbe	/usr/local/go/src/runtime/time.go:188
    #	0x13ac449	main.shortSleepLoop+0x29	/src/main.go:165
    (blank line)

No goroutine ids, states or creation sites: tasks group by entry function or whole stack, and
survivors cannot be told. One record becomes one :class:`Task` with ``count = N``.
"""

from __future__ import annotations

import re

import orjson

from snapdiff.model import FLAG_LEAKED, FLAG_PARTIAL, GOROUTINE, Frame, Snapshot, SourceInfo, Task

NAME = "go-goroutine-debug1"
DESCRIPTION = "Go aggregated goroutine profile: pprof goroutine?debug=1 (counts per stack, no ids)"

_TOTAL = re.compile(rb"^(\w+) profile: total (\d+)\s*$", re.M)
_RECORD = re.compile(r"(\d+) @(?: 0x[0-9a-fA-F]+)*\s*$")
_FRAME = re.compile(r"#\s+0x[0-9a-fA-F]+\s+(\S.*?)(?:\+0x[0-9a-fA-F]+)?\s+(\S.*?):(\d+)\s*$")


def sniff(head: bytes) -> bool:
    return _TOTAL.search(head) is not None


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    warnings: list[str] = []
    tasks: list[Task] = []
    profile = "goroutine"
    declared: int | None = None
    skipped = 0
    interned: dict[tuple[str, str, int], Frame] = {}

    count = 0
    frames: list[Frame] = []
    labels: tuple[tuple[str, str], ...] = ()
    in_record = False

    def finish() -> None:
        nonlocal in_record, frames, labels
        if in_record:
            flags = (FLAG_LEAKED,) if profile == "goroutineleak" else ()
            tasks.append(
                Task(kind=GOROUTINE, frames=tuple(frames), count=count, labels=labels, flags=flags)
            )
        in_record = False
        frames = []
        labels = ()

    for index, raw in enumerate(lines):
        line = raw.rstrip("\r")
        if not line.strip():
            finish()
            continue
        if declared is None and " profile: total " in line:
            m = _TOTAL.match(line.encode())
            if m:
                profile = m.group(1).decode()
                declared = int(m.group(2))
                continue
        rm = _RECORD.match(line)
        if rm:
            finish()
            in_record = True
            count = int(rm.group(1))
            continue
        if in_record and line.startswith("# labels: "):
            labels = _labels(line[len("# labels: ") :])
            continue
        if in_record and line.startswith("#"):
            fm = _FRAME.match(line)
            if fm:
                key = (fm.group(1), fm.group(2), int(fm.group(3)))
                frame = interned.get(key)
                if frame is None:
                    frame = interned[key] = Frame(*key)
                frames.append(frame)
                continue
            if index == len(lines) - 1:
                continue  # cut mid-line at the end
        skipped += 1
    finish()

    truncated = False
    total = sum(t.count for t in tasks)
    if declared is not None and total != declared:
        truncated = total < declared
        warnings.append(
            f"{origin}: the profile says total {declared} but its records add up to {total}"
            + (" (cut short?)" if truncated else "")
        )
    if text and not text.endswith("\n"):
        truncated = True
        warnings.append(f"{origin}:{len(lines)}: the input ends in the middle of a line")
        if tasks:
            last = tasks[-1]
            tasks[-1] = Task(
                kind=last.kind,
                frames=last.frames,
                count=last.count,
                labels=last.labels,
                flags=(*last.flags, FLAG_PARTIAL),
            )
    warnings.append(
        f"{origin}: debug=1 profiles have no goroutine ids, states or creation sites: grouped "
        "by entry function, survivors unknown"
    )
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer="go",
            detail=f"{profile} profile, aggregated",
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        skipped_lines=skipped,
    )


def _labels(text: str) -> tuple[tuple[str, str], ...]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return (("", text),)
    if not isinstance(value, dict):
        return (("", text),)
    return tuple((str(k), str(v)) for k, v in value.items())
