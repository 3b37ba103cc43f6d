"""Node.js diagnostic reports: ``process.report.writeReport()``, ``node --report-on-signal``,
``--report-uncaught-exception``, ``--report-on-fatalerror`` (report version 1 and later).

::

    {"header": {"reportVersion": 4, "event": "SIGUSR2", "trigger": "Signal",
                "dumpEventTime": "2026-11-27T22:46:06Z", "dumpEventTimeStamp": "1795819566123",
                "processId": 6213, "threadId": 0, "nodejsVersion": "v20.20.2", "host": "web-1",
                "commandLine": [...], ...},
     "javascriptStack": {"message": "Error [ERR_SYNTHETIC]: JavaScript Callstack",
                         "stack": ["at Object.writeReport (node:internal/process/report:27:13)",
                                   "at deep (/srv/app.js:9:44)", ...]},
     "javascriptHeap": {...}, "nativeStack": [...], "resourceUsage": {...},
     "libuv": [{"type": "tcp", "is_active": true, "is_referenced": true,
                "address": "0x00000000156dbda0",
                "localEndpoint": {"host": "localhost", "ip4": "127.0.0.1", "port": 43288},
                "remoteEndpoint": {"host": "localhost", "ip4": "127.0.0.1", "port": 8080},
                "fd": 20, "readable": true, "writable": true, ...},
               {"type": "timer", "repeat": 0, "firesInMsFromNow": 17035, "expired": false, ...},
               ...,
               {"type": "loop", "is_active": true, "address": "0x...", ...}],
     "workers": [{"header": {..., "threadId": 1}, "javascriptStack": {...}, "libuv": [...]}],
     "environmentVariables": {...}, "userLimits": {...}, "sharedObjects": [...]}

Tasks made from a report:

* One ``thread`` task per JavaScript thread: the main thread (named ``main``) and each worker
  thread (``worker N``, N its ``threadId``), with the frames of ``javascriptStack.stack``
  (innermost first, as printed). A report triggered by a signal is written when the event loop
  is idle, so its stack is empty; a worker's reads ``"No stack."`` / ``"Unavailable."``, also
  empty here. A stack line is ``at fn (file:line:col)``, ``at file:line:col`` or ``at fn
  (native)``; any other line becomes a frame with that text as its function.
* One ``libuv-handle`` task per entry of ``libuv`` (the main thread's and every worker's), but
  not the trailing ``loop`` entry, which is the event loop itself. Its one frame is the group
  key: ``function`` says the handle type and its role, ``file`` its stable endpoint:

  ======================  ==================================  ==================================
  handle                  frame (function, file)              recognised by
  ======================  ==================================  ==================================
  tcp listening socket    ``tcp listening on``, local         no remote, neither readable nor
                                                              writable
  tcp accepted            ``tcp accepted on``, local          the local port is one a tcp
                                                              listener of the loop listens on,
                                                              or the remote port is ephemeral
                                                              and the local one is not (a
                                                              cluster worker has no listener)
  tcp outgoing            ``tcp connected to``, remote        any other connected socket
  tcp not connected       ``tcp not connected, from``,        no remote, readable or writable
                          local address without port          (a connect in progress)
  udp                     ``udp connected to``, remote;
                          ``udp bound to``, local (an
                          ephemeral port, 32768-60999,
                          reads ``*``)
  pipe                    ``pipe listening on`` /             as for tcp, with paths
                          ``accepted on`` / ``connected
                          to``, path; ``pipe`` and no path
                          for anonymous pipes (child stdio)
  signal                  ``signal``, its name
  fs_event, fs_poll       the type, the watched file name
  timer                   ``timer``; ``timer (unref)`` when
                          it does not keep the loop alive
  any other               the type, no file
  ======================  ==================================  ==================================

  The remote port of an accepted connection and the local port of an outgoing one are ephemeral:
  the endpoint kept is the one every connection of the group shares. The task's name is the
  whole connection (``127.0.0.1:39001 -> 127.0.0.1:8080``), the child's pid, the signal or the
  file; its state is ``active`` or ``inactive``, with ``(unref)`` when the handle does not keep
  the loop alive. Hosts are the ``ip4``/``ip6`` addresses (IPv6 in brackets), not ``host``,
  which is a name looked up by the report.

Ids: a handle's id is its ``address``, a JavaScript thread's its ``threadId``. Addresses are
reused once a handle is freed and are no clock; survivors are matched by id and name, and the
name of a socket holds both of its ports, so the pair names one connection for as long as it
lives. Handles of other types with no name to tell them apart can match a newer handle that took
a freed one's address.

Timers: Node runs every JavaScript timer (``setTimeout``, ``setInterval``) on one libuv timer
handle per thread, so a leak of JavaScript timers does not show in a report at all: the libuv
list keeps one ``timer`` handle (and at times an unref'd one of Node's own) however many
intervals are pending.

Never read: ``environmentVariables`` (secrets), ``commandLine``, ``javascriptHeap``,
``nativeStack``, ``resourceUsage``, ``userLimits``, ``sharedObjects``. ``keep_locals`` has
nothing to keep: a report holds no locals.

A report may be written to standard output or standard error (``--report-filename=stdout``)
between log lines: the report is found by a line starting with ``{`` and ``"header"`` followed
by ``"reportVersion"``, and lines around it are skipped and counted. A report cut short keeps
every complete handle and section before the cut, with a warning; one cut before its ``libuv``
list is an error. Unknown keys are ignored; a field of the wrong type reads as missing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from snapdiff import bounds
from snapdiff.errors import InputError
from snapdiff.model import FLAG_ACTIVE, LIBUV_HANDLE, THREAD, Frame, Snapshot, SourceInfo, Task
from snapdiff.runtimes import _json
from snapdiff.runtimes._lines import starts_by

NAME = "node-report"
DESCRIPTION = (
    "Node.js diagnostic report (process.report, --report-on-signal): JavaScript threads and "
    "libuv handles by type and endpoint"
)

DUMPS_NOUN = "Node.js reports"
# A report's "{" is at the start of its line; a worker's report inside it is indented.
_OPENING = starts_by(re.compile(r"\{\s*$|\{\s*\"header\""))


def dump_starts(text: str) -> list[int]:
    """The first line of each report: a ``{`` whose next non-blank text is its ``"header"``."""
    lines = text.split("\n")
    kept = []
    for n in _OPENING(text):
        rest = lines[n - 1].strip()[1:].strip()
        k = n
        while not rest and k < len(lines):
            rest = lines[k].strip()
            k += 1
        if rest.startswith('"header"'):
            kept.append(n)
    return kept


# The start of a report: `{` at the start of a line, the "header" object first, its first key
# "reportVersion" (as Node writes it since v11.10 / v12). Node 11.8 and 11.9 wrote no
# reportVersion: their header starts with "event" (then "trigger" or "location", "filename",
# "dumpEventTime"). Log lines may come before it.
_START = re.compile(
    rb'(?m)^[ \t]*\{\s*"header"\s*:\s*\{\s*"(?:reportVersion|nodejsVersion|event)"\s*:'
)
# "at FUNCTION (FILE:LINE:COLUMN)" or "at FILE:LINE:COLUMN" is cut with string methods
# (:func:`_located`): as the pattern '^at (?:(.+?) \()?(.+?):(\d+):\d+\)?$' a long line of
# " (" without a final ":LINE:COLUMN" took quadratic time (52 KB: 8 s).
_NATIVE = re.compile(r"^at (?P<fn>.+?) \((?P<file>native|<anonymous>|[^():]*)\)$", re.S)
# Linux's default net.ipv4.ip_local_port_range: ports the kernel picks for an unbound socket.
EPHEMERAL_PORTS = range(32768, 61000)


def sniff(head: bytes) -> bool:
    return _START.search(head) is not None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


_WORD = re.compile(r"[\w .:+-]{1,80}")


def _word(value: Any) -> str | None:
    """A header field shown in the reader's one-line detail (``SIGUSR2``, ``v20.20.2``), or None
    when it is not a short plain word: the detail is printed as it is."""
    return value if isinstance(value, str) and _WORD.fullmatch(value) else None


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    """``keep_locals`` has nothing to keep: a report holds no locals."""
    m = _START.search(data)
    if m is None:
        raise InputError(f'{origin}: not a Node.js diagnostic report (no "header" object)')
    start = m.start()
    warnings: list[str] = []
    truncated = False
    skipped = sum(1 for line in data[:start].splitlines() if line.strip())
    doc, after = _load(data, start)
    if doc is None:
        doc, cut = _salvage(data, start)
        if doc is None or not isinstance(doc.get("libuv"), list):
            raise InputError(
                f"{origin}: Node.js report cut short before its libuv handle list "
                f"({len(data) - start} bytes)"
            )
        truncated = True
        warnings.append(f"{origin}: report cut short {cut}; kept what came before the cut")
    skipped += after
    if skipped:
        warnings.append(f"{origin}: skipped {skipped} lines of other text around the report")
    if not isinstance(doc, dict):
        raise InputError(f"{origin}: a Node.js report should be a JSON object")
    if not isinstance(doc.get("libuv"), list):
        raise InputError(f'{origin}: Node.js report without a "libuv" handle list')

    header = doc.get("header")
    if not isinstance(header, dict):
        header = {}
    tasks: list[Task] = []
    interned: dict[tuple[str, str, int], Frame] = {}
    counts = {"handles": 0, "workers": 0, "bad": 0, "bad_workers": 0}
    _thread_tasks(doc, "main", tasks, interned, counts)
    workers = doc.get("workers")
    for worker in workers if isinstance(workers, list) else ():
        if not isinstance(worker, dict):
            counts["bad_workers"] += 1
            continue
        wh = worker.get("header")
        tid = _int(wh.get("threadId")) if isinstance(wh, dict) else None
        counts["workers"] += 1
        _thread_tasks(worker, f"worker {tid if tid is not None else '?'}", tasks, interned, counts)
    if counts["bad"]:
        warnings.append(f"{origin}: {counts['bad']} entries are not libuv handle objects; skipped")
    if counts["bad_workers"]:
        warnings.append(
            f"{origin}: {counts['bad_workers']} entries of workers are not reports; skipped"
        )

    version = _int(header.get("reportVersion"))
    node = _word(header.get("nodejsVersion"))
    event = _word(header.get("event"))
    trigger = _word(header.get("trigger"))
    detail = [
        f"Node.js report v{version}"
        if version is not None
        else "Node.js report without reportVersion (Node.js 11)"
    ]
    if event or trigger:
        detail.append(f"event {event or '?'}" + (f" ({trigger})" if trigger else ""))
    detail.append(f"{counts['handles']} libuv handles")
    if counts["workers"]:
        detail.append(f"{counts['workers']} worker thread{'s' if counts['workers'] != 1 else ''}")
    extra = tuple(
        (key, value)
        for key, value in (("event", event), ("trigger", trigger), ("nodejsVersion", node))
        if value
    )
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            captured_at=_captured_at(header),
            producer=f"node {node}" if node else "node",
            detail=", ".join(detail),
            pid=_int(header.get("processId")),
            host=_str(header.get("host")),
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        skipped_lines=skipped,
        extra=extra,
    )


def _load(data: bytes, start: int) -> tuple[Any, int]:
    """The report at ``start`` and the number of non-blank lines after it, or (None, 0) when
    it is not complete JSON."""
    body = data[start:]
    try:
        return orjson.loads(body), 0
    except orjson.JSONDecodeError:
        pass
    # Text after the report (log lines), or strings orjson refuses (lone surrogates).
    # NaN after a log line, lone surrogates: the standard library's reader, its result made
    # writable (NaN to null, surrogates replaced).
    text = body.decode("utf-8", "replace")
    try:
        doc, end = _json.raw_decode(text)
    except ValueError:
        return None, 0
    return doc, sum(1 for line in text[end:].splitlines() if line.strip())


def _captured_at(header: dict[str, Any]) -> str | None:
    """``dumpEventTimeStamp`` (milliseconds since the epoch, a string): ``dumpEventTime`` is
    the local time of the process, written with a ``Z`` whatever the time zone."""
    stamp = header.get("dumpEventTimeStamp")
    if isinstance(stamp, str):
        stamp = bounds.digits(stamp)
    if isinstance(stamp, int) and not isinstance(stamp, bool) and 0 < stamp < 10**14:
        when = datetime.fromtimestamp(stamp / 1000, UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    return None


def _thread_tasks(
    report: dict[str, Any],
    name: str,
    tasks: list[Task],
    interned: dict[tuple[str, str, int], Frame],
    counts: dict[str, int],
) -> None:
    """The JavaScript thread of one report (main or worker) and its libuv handles."""
    header = report.get("header")
    tid = _int(header.get("threadId")) if isinstance(header, dict) else None
    js = report.get("javascriptStack")
    lines = js.get("stack") if isinstance(js, dict) else None
    frames = tuple(
        _frame(line, interned)
        for line in (lines if isinstance(lines, list) else ())
        if _is_frame(line)
    )
    tasks.append(
        Task(kind=THREAD, frames=frames, id=tid, name=name, state="running" if frames else "idle")
    )
    handles = report.get("libuv")
    if not isinstance(handles, list):
        return
    listening = _listening(handles)
    for item in handles:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            counts["bad"] += 1
            continue
        if item["type"] == "loop":
            continue
        tasks.append(_handle(item, listening, interned))
        counts["handles"] += 1


def _is_frame(line: Any) -> bool:
    return isinstance(line, str) and line.startswith("at ")


def _frame(line: str, interned: dict[tuple[str, str, int], Frame]) -> Frame:
    key = _located(line)
    if key is None:
        m = _NATIVE.match(line)
        key = (m["fn"], m["file"], 0) if m is not None else (line[3:], "", 0)
    frame = interned.get(key)
    if frame is None:
        frame = interned[key] = Frame(*key)
    return frame


def _endpoint(value: Any, *, wildcard_ephemeral: bool = False) -> str:
    """``127.0.0.1:8080``, ``[::1]:8080``, a pipe's path, or "" when there is none."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        return ""
    ip6 = _str(value.get("ip6"))
    host = _str(value.get("ip4")) or (f"[{ip6}]" if ip6 else None) or _str(value.get("host")) or "?"
    port = _int(value.get("port"))
    if port is None:
        return host
    if wildcard_ephemeral and port in EPHEMERAL_PORTS:
        return f"{host}:*"
    return f"{host}:{port}"


def _host(value: Any) -> str:
    if not isinstance(value, dict):
        return ""
    ip6 = _str(value.get("ip6"))
    return _str(value.get("ip4")) or (f"[{ip6}]" if ip6 else "") or _str(value.get("host")) or ""


def _is_listener(item: dict[str, Any]) -> bool:
    return (
        item.get("type") in ("tcp", "pipe")
        and item.get("remoteEndpoint") is None
        and item.get("localEndpoint") is not None
        and item.get("readable") is False
        and item.get("writable") is False
    )


def _listening(handles: list[Any]) -> set[tuple[str, int | str]]:
    """(type, port or path) of every listening tcp socket and pipe of one thread's loop."""
    out: set[tuple[str, int | str]] = set()
    for item in handles:
        if isinstance(item, dict) and _is_listener(item):
            local = item["localEndpoint"]
            port = _int(local.get("port")) if isinstance(local, dict) else _str(local)
            if port is not None:
                out.add((item["type"], port))
    return out


def _accepted_by_ports(local: Any, remote: Any) -> bool:
    """A tcp connection whose peer's port is ephemeral and whose own port is not: accepted,
    though no listener of this loop owns the port (a cluster worker's listener is the
    primary's, and its accepted connections come over IPC)."""
    if not isinstance(local, dict) or not isinstance(remote, dict):
        return False
    mine, theirs = _int(local.get("port")), _int(remote.get("port"))
    return (
        mine is not None
        and theirs is not None
        and theirs in EPHEMERAL_PORTS
        and mine not in EPHEMERAL_PORTS
    )


def _handle(
    item: dict[str, Any],
    listening: set[tuple[str, int | str]],
    interned: dict[tuple[str, str, int], Frame],
) -> Task:
    kind: str = item["type"]
    function, place, name = kind, "", ""
    local, remote = item.get("localEndpoint"), item.get("remoteEndpoint")
    if kind in ("tcp", "pipe"):
        here, there = _endpoint(local), _endpoint(remote)
        mine = _int(local.get("port")) if isinstance(local, dict) else _str(local)
        if _is_listener(item):
            function, place, name = f"{kind} listening on", here, here
        elif (mine is not None and (kind, mine) in listening) or _accepted_by_ports(local, remote):
            # A unix socket's accepted end has no remote path.
            function, place, name = f"{kind} accepted on", here, f"{there or '?'} -> {here}"
        elif there:
            function, place, name = f"{kind} connected to", there, f"{here or '?'} -> {there}"
        elif kind == "tcp" and here:
            function, place, name = "tcp not connected, from", _host(local), here
        else:
            name = here
    elif kind == "udp":
        if remote is not None and _endpoint(remote):
            there = _endpoint(remote)
            function, place = "udp connected to", there
            name = f"{_endpoint(local) or '?'} -> {there}"
        else:
            function, place = "udp bound to", _endpoint(local, wildcard_ephemeral=True)
            name = _endpoint(local)
    elif kind == "signal":
        place = name = _str(item.get("signal")) or str(_int(item.get("signum")) or "")
    elif kind in ("fs_event", "fs_poll"):
        place = name = _str(item.get("filename")) or ""
    elif kind == "process":
        pid = _int(item.get("pid"))
        name = f"pid {pid}" if pid is not None else ""
    elif kind == "timer" and item.get("is_referenced") is False:
        # Node's timer handle that runs the unref'd JavaScript timers: apart from the main one.
        function = "timer (unref)"
    key = (function, place, 0)
    frame = interned.get(key)
    if frame is None:
        frame = interned[key] = Frame(*key)
    active = item.get("is_active") is True
    state = "active" if active else "inactive"
    if item.get("is_referenced") is False:
        state += " (unref)"
    return Task(
        kind=LIBUV_HANDLE,
        frames=(frame,),
        id=_address(item.get("address")),
        name=name,
        state=state,
        flags=(FLAG_ACTIVE,) if active else (),
    )


def _address(value: Any) -> int | None:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            return None
    return None


# A JSON string (with its escapes; one cut short runs to the end) or one bracket.
_TOKEN = _json.TOKEN


def _salvage(data: bytes, start: int) -> tuple[dict[str, Any] | None, str]:
    """A report cut short: what it holds up to the last complete section member or handle.

    A value closed at nesting depth 2 or less (a top-level section, one element of ``libuv`` or
    ``workers``, one member of ``header``), or a section's list just opened, can be followed by
    the closing brackets of the containers still open, which makes valid JSON of everything
    before it. Values closed
    deeper (a handle's ``localEndpoint``) are not cut points: a handle without its remote
    endpoint would read as another kind of handle.
    """
    stack: list[int] = []
    last_end = -1
    last_stack: list[int] = []
    for m in _TOKEN.finditer(data, start):
        c = data[m.start()]
        if c == 0x22:
            continue
        if c in (0x7B, 0x5B):
            stack.append(c)
            if c == 0x5B and len(stack) <= 2:  # a section's list opens: empty is valid
                last_end = m.end()
                last_stack = list(stack)
            continue
        if not stack:
            break
        stack.pop()
        if not stack:
            return None, ""  # complete: not cut (the caller could not parse it for another reason)
        if len(stack) <= 2:
            last_end = m.end()
            last_stack = list(stack)
    if last_end < 0:
        return None, ""
    closers = bytes(0x5D if c == 0x5B else 0x7D for c in reversed(last_stack))
    doc, _ = _load(data[start:last_end] + closers, 0)
    if not isinstance(doc, dict):
        return None, ""
    sections = [k for k in doc if isinstance(k, str)]
    return doc, f"in its {sections[-1]!r} section" if sections else ""


def _located(line: str) -> tuple[str, str, int] | None:
    """(function or "<anonymous>", file, line) of a frame with a location, else None."""
    body = line[3:-1] if line.endswith("\n") else line[3:]
    if not line.startswith("at "):
        return None
    body = body.removesuffix(")")
    rest, colon, column = body.rpartition(":")
    if not colon or not _digits(column):
        return None
    where, colon, number = rest.rpartition(":")
    if not colon or not _digits(number) or not where:
        return None
    cut = where.find(" (", 1)
    if cut > 0 and cut + 2 < len(where):
        return where[:cut], where[cut + 2 :], bounds.digits(number) or 0
    return "<anonymous>", where, bounds.digits(number) or 0


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()
