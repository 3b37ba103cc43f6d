"""JVM thread dumps as text: ``jstack PID``, ``jstack -l``, ``jcmd PID Thread.print``, and the
dump a JVM prints on its stdout on ``kill -3`` (SIGQUIT), JDK 8 to 25.

::

    2026-11-27 22:48:26                                            -> jstack's local time
    Full thread dump OpenJDK 64-Bit Server VM (17.0.15+6 mixed mode, sharing):   -> the VM
    Threads class SMR info:                                        -> JDK 11+: a list of
    _java_thread_list=0x00007fe0e0074060, length=84, elements={       thread addresses
    0x00007fe170051d50, 0x00007fe170053160, ...
    }
    (blank)
    "pool-7-thread-1" #40 [12899] daemon prio=5 os_prio=0 cpu=0.56ms elapsed=0.45s
        tid=0x000055c5ba08b5f0 nid=12899 waiting on condition  [0x00007f6b48856000]   (one line)
       java.lang.Thread.State: WAITING (parking)                   -> the state
            at jdk.internal.misc.Unsafe.park(java.base@17.0.15/Native Method)        -> a frame
            - parking to wait for  <0x000000069ebda880> (a java.util.concurrent...)  -> a lock
            at java.util.concurrent.locks.LockSupport.park(java.base@17.0.15/LockSupport.java:341)
            at LeakyService$$Lambda$266/0x00007f7bc0162cc0.run(Unknown Source)
    (blank)
       Locked ownable synchronizers:                               -> jstack -l only
            - None
    (blank)
    "VM Thread" os_prio=0 cpu=8.23ms elapsed=9.57s tid=0x00007f7c3c0f2bd0 nid=0x1997 runnable
    (blank)
    JNI global refs: 12, weak refs: 0                              -> the end of the dump

The reader is a line state machine:

OUTSIDE  before the first thread and after ``JNI global refs``: ``12345:`` (the pid, which
         ``jcmd`` prints first), the date line, ``Full thread dump <VM> (<version> ...):`` (the
         producer), the SMR block; anything else is a skipped
         line (a service's log lines around a kill -3 dump, the ``Heap`` summary the VM prints
         after it, a deadlock report's repeated stacks). A header -> THREAD.
THREAD   ``"name" #N [ostid] daemon prio=P os_prio=P cpu=.. elapsed=.. tid=0x.. nid=.. text``.
         Only the quoted name, ``tid=`` and ``nid=`` are always there: JDK 8 has no ``cpu=`` or
         ``elapsed=``, JDK 7 no ``#N``, JDK 19+ prints the nid in decimal, JDK 21+ adds the OS
         thread id in brackets; ``jstack -e`` adds ``allocated=`` and ``defined_classes=``. The
         JVM prints the name raw, so it may hold quotes and newlines: a line that starts with
         a quote but is no header is joined with the next lines until they make one (at most
         :data:`_NAME_LINES` lines; a frame line ends the attempt). Then
         ``   java.lang.Thread.State: WAITING (parking)`` (the state), frame lines -> FRAMES.
FRAMES   ``\\tat pkg.Class.method(module@version/File.java:123)``; ``(Native Method)`` and
         ``(Unknown Source)`` give no file. Lock lines (``\\t- locked <0x..>``, ``- parking to
         wait for``, ``- waiting on``, ``- waiting to lock``, ``- eliminated``) are no frames.
         ``   Locked ownable synchronizers:`` and its ``- None`` or ``- <0x..>`` lines,
         ``   No compile task``, ``   Compiling: ...``, ``   Carrying virtual thread #N`` belong to
         the thread and are passed over. A header -> THREAD; ``JNI global refs`` -> OUTSIDE.

A task's id is the ``#N`` thread number: the JVM counts them up from 1 and never reuses one, so
they match threads across two dumps of one process and tell their age. Threads the VM keeps for
itself (``VM Thread``, ``GC Thread#0``, ``C2 CompilerThread0`` on JDK 8) have no ``#N`` and no
Java frames: their id is their OS thread id (``nid``) negated, which matches them across dumps
without mixing with the ``#N`` numbers or moving the highest one.

Frames are normalised so two captures (or a text and a JSON dump) group alike: the module
(``java.base@17.0.15/``) and class loader (``app//``) prefixes are dropped, and the generated
classes of lambdas and method handles lose their numbers and addresses
(``LeakyService$$Lambda$266/0x00007f7bc0162cc0.run`` -> ``LeakyService$$Lambda.run``).

A service's stdout may hold several kill -3 dumps one after another: only the last is read
(each thread would be counted once per dump), with a warning. A dump whose last line is cut,
or that has a ``Full thread dump`` line but no ``JNI global refs`` line, is truncated: its
last thread is flagged partial and a warning says so.
"""

from __future__ import annotations

import re

from snapdiff import bounds
from snapdiff.errors import ParseError
from snapdiff.model import (
    FLAG_DAEMON,
    FLAG_PARTIAL,
    THREAD,
    Frame,
    Snapshot,
    SourceInfo,
    Task,
    new_task,
)
from snapdiff.runtimes._lines import starts_by

NAME = "jvm-text"
DESCRIPTION = (
    "JVM thread dump text: jstack, jstack -l, jcmd Thread.print, kill -3 output (JDK 8-25)"
)

DUMPS_NOUN = "thread dumps"
# A dump begins at "Full thread dump", or at the date line or jcmd's pid line just before it.
dump_starts = starts_by(
    re.compile(r"Full thread dump "),
    re.compile(r"(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|\d{1,10}:)\s*$"),
)
LOOSE_HEADER = re.compile(
    rb'^"[^"\n]*"[^\n]*?(?:\btid=|\bnid=| - Thread t@\d|\b[Ii]d=\d+ )[^\n]*', re.M
)

_SNIFF_HEADER = re.compile(
    rb'^"[^\n]*" [^\n"]*?\btid=(?:0x)?[0-9a-fA-F]+ +nid=(?:0x[0-9a-fA-F]+|\d+)\b'
    rb'|^"[^\n]*" - Thread t@\d+\r?$'
    rb'|^"[^\n]*" (?:daemon )?(?:prio=\d+ )?[Ii]d=\d+ (?:in )?[A-Z_]+\b',
    re.M,
)
_SNIFF_FULL = re.compile(rb"^Full thread dump [^\n]*:?\r?$", re.M)
# jstack, jcmd and kill -3. JDK 5-7 (HP-UX, older HotSpot) print tid and nid without "0x"; a
# JDK 21+ carrier thread running a virtual thread has no nid and no state after the tid.
_HEADER = re.compile(
    r'"(?P<name>.*)" (?P<attrs>(?:[^ "]+ +)*?)tid=(?:0x)?[0-9a-fA-F]+'
    r"(?: +nid=(?P<nid>0x[0-9a-fA-F]+|\d+))?(?P<rest>(?: .*)?)$",
    re.S,
)
# VisualVM and Spring Boot's text/plain /actuator/threaddump: "name" - Thread t@42
_HEADER_TAT = re.compile(r'"(?P<name>.*)" - Thread t@(?P<id>\d{1,19})\s*$', re.S)
# ThreadInfo.toString() (JConsole, libraries that log ThreadMXBean dumps):
# "name" Id=42 WAITING on ..., "name" daemon prio=5 Id=42 RUNNABLE, older "name" id=42 in RUNNABLE
_HEADER_INFO = re.compile(
    r'"(?P<name>.*)" (?P<attrs>(?:daemon )?(?:prio=\d+ )?)[Ii]d=(?P<id>\d{1,19}) (?:in )?'
    r"(?P<state>[A-Z_]+)(?P<rest>.*)$",
    re.S,
)
_STATE = re.compile(r"\s+java\.lang\.Thread\.State: (.+?)\s*$")
_PID = re.compile(r"(\d{1,10}):$")
_DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
# The "Full thread dump VM (DETAIL):" line and a header's trailing "[0x...]" are cut with string
# methods (:func:`_full`, :func:`_without_address`): as patterns (lazy groups before an anchored
# end; a search for '\s*\[' at every space) a long line took quadratic time.
_HEX_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_NAME_LINES = 16
_VERSION_WORD = re.compile(r"\d+\.\d")

# Generated classes: lambdas (``$$Lambda$14/0x..`` before JDK 21, ``$$Lambda/0x..`` since) and
# other hidden classes (``LambdaForm$MH/0x..``) carry numbers and addresses that change from one
# run, or one capture, to the next.
_LAMBDA = re.compile(r"\$\$Lambda(?:\$\d+)?(?:/0x[0-9a-fA-F]+)?")
_HIDDEN = re.compile(r"/0x[0-9a-fA-F]+")
_FILE_LINE = re.compile(r"(.*?):(\d{1,9})$")


def sniff(head: bytes) -> bool:
    """A thread header (``"name" ... tid=0x.. nid=..``, ``"name" - Thread t@N``, ``"name"
    Id=N STATE``) or a ``Full thread dump ...:`` line."""
    return _SNIFF_HEADER.search(head) is not None or _SNIFF_FULL.search(head) is not None


def is_header(line: str) -> bool:
    """Whether the reader takes ``line`` as a thread header."""
    return any(p.match(line) for p in (_HEADER, _HEADER_TAT, _HEADER_INFO))


def clean_function(text: str) -> str:
    """``java.base/a.Foo$$Lambda$14/0x0000000800c0b448.run`` -> ``a.Foo$$Lambda.run``.

    Drops the class loader and module prefixes of ``StackTraceElement.toString()`` and the
    numbers and addresses of generated classes.
    """
    if "$$Lambda" in text:
        text = _LAMBDA.sub("$$Lambda", text)
    if "/0x" in text:
        text = _HIDDEN.sub("", text)
    if "/" in text:
        text = text.rsplit("/", 1)[1]
    return text


def parse_frame(text: str, interned: dict[str, Frame]) -> Frame:
    """One frame as the JVM prints it: ``pkg.Class.method(module@version/File.java:123)``."""
    frame = interned.get(text)
    if frame is not None:
        return frame
    function, paren, where = text.partition("(")
    file, line = "", 0
    if paren:
        where = where.rstrip()
        where = where[:-1] if where.endswith(")") else where
        where = where.rsplit("/", 1)[-1]  # java.base@17.0.15/Thread.java:840
        m = _FILE_LINE.match(where)
        if m:
            file, line = m.group(1), int(m.group(2))
        elif where not in ("Native Method", "Unknown Source"):
            file = where
    frame = interned[text] = Frame(clean_function(function.strip()), file, line)
    return frame


def _attrs(attrs: str) -> tuple[int | None, bool]:
    """(the ``#N`` thread number, daemon) from the header's words before ``tid=``."""
    number: int | None = None
    daemon = False
    for word in attrs.split():
        if word.startswith("#") and bounds.digits(word[1:]) is not None:
            number = bounds.digits(word[1:])
        elif word == "daemon":
            daemon = True
    return number, daemon


def _cut_tail(tail: str) -> bool:
    """Whether the input's last line (with no newline after it) stops half way."""
    body = tail.strip()
    if body.startswith("at ") or (body.startswith("- ") and "<" in body):
        return not body.endswith(")")
    if body.startswith('"'):
        return not is_header(body)
    return False


def _nid(text: str) -> int | None:
    if text.startswith("0x"):
        return int(text, 16) if len(text) <= 18 else None
    return bounds.digits(text)


class _Thread:
    """The thread being read."""

    __slots__ = ("daemon", "has_state", "name", "nid", "number", "state")

    def __init__(self, name: str, number: int | None, daemon: bool, nid: int | None, state: str):
        self.name = name
        self.number = number
        self.daemon = daemon
        self.nid = nid
        self.state = state
        self.has_state = False  # saw the "java.lang.Thread.State:" line


def parse(data: bytes, origin: str, *, keep_locals: bool = False) -> Snapshot:
    """Read a jstack / kill -3 dump. ``keep_locals`` is accepted for the common signature: JVM
    dumps hold no local variables."""
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    tasks: list[Task] = []
    warnings: list[str] = []
    interned: dict[str, Frame] = {}
    stacks: dict[tuple[Frame, ...], tuple[Frame, ...]] = {}
    skipped = 0
    vm = ""
    version = ""
    full_dump = False
    ended = False  # saw "JNI global refs": the end of a complete dump
    no_number = 0
    pid: int | None = None

    cur: _Thread | None = None
    frames: list[Frame] = []
    in_smr = False
    pending: list[str] = []  # the first lines of a name that holds newlines
    dumps: list[int] = []  # the line of each "Full thread dump" line
    style = ""  # the last header's shape: jstack, visualvm (t@N) or threadinfo (Id=N STATE)
    styles: set[str] = set()

    def finish(partial: bool = False) -> None:
        nonlocal cur, frames, no_number
        if cur is not None:
            flags: list[str] = []
            if cur.daemon:
                flags.append(FLAG_DAEMON)
            if partial:
                flags.append(FLAG_PARTIAL)
            if cur.number is None:
                no_number += 1
            tid = (
                cur.number
                if cur.number is not None
                else (-cur.nid if cur.nid is not None else None)
            )
            stack = tuple(frames)
            stack = stacks.setdefault(stack, stack)
            tasks.append(
                new_task(
                    THREAD,
                    stack,
                    tid,
                    cur.name,
                    cur.state,
                    None,
                    None,
                    None,
                    (),
                    tuple(flags),
                )
            )
        cur = None
        frames = []

    def header(line: str) -> bool:
        nonlocal cur, ended, style
        m = _HEADER.match(line)
        if m is not None:
            finish()
            number, daemon = _attrs(m.group("attrs"))
            rest = _without_address(m.group("rest")).strip()
            nid = m.group("nid")
            cur = _Thread(m.group("name"), number, daemon, _nid(nid) if nid else 0, rest)
            style = "jstack"
        else:
            m = _HEADER_TAT.match(line)
            if m is not None:
                finish()
                cur = _Thread(m.group("name"), bounds.digits(m.group("id")), False, 0, "")
                style = "visualvm"
            else:
                m = _HEADER_INFO.match(line)
                if m is None:
                    return False
                finish()
                daemon = "daemon" in m.group("attrs")
                cur = _Thread(
                    m.group("name"), bounds.digits(m.group("id")), daemon, 0, m.group("state")
                )
                cur.has_state = True
                style = "threadinfo"
        styles.add(style)
        ended = False
        return True

    for line_no, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if pending:
            if line.startswith(("\tat ", "   java.lang.Thread.State:")) or line.startswith('"'):
                skipped += len(pending)  # the quote never closed into a header
                pending = []
            else:
                pending.append(line)
                if header("\n".join(pending)):
                    pending = []
                    continue
                if len(pending) > _NAME_LINES:
                    skipped += len(pending)
                    pending = []
                continue
        if not line.strip():
            continue
        c = line[0]
        if c == '"':
            if header(line):
                continue
            if line.count('"') % 2 == 1 or "tid=" not in line:
                pending = [line]
                continue
            skipped += 1
            continue
        if cur is not None and (c == "\t" or c == " "):
            body = line.lstrip()
            if body.startswith("at "):
                frames.append(parse_frame(body[3:], interned))
                continue
            if body.startswith("- "):
                continue  # a lock, or a line of "Locked ownable synchronizers"
            sm = _STATE.match(line)
            if sm:
                if not cur.has_state:
                    cur.state = sm.group(1)
                    cur.has_state = True
                continue
            if body.startswith("Carrying virtual thread"):
                # JDK 21+: a carrier thread prints this instead of its state line.
                if not cur.has_state:
                    cur.state = body.lower()
                    cur.has_state = True
                continue
            if body.startswith(
                (
                    "Locked ownable synchronizers:",
                    "Number of locked synchronizers",
                    "No compile task",
                    "Compiling:",
                    "...",
                )
            ):
                continue
        if line.startswith("JNI global ref"):  # JDK 8: "JNI global references: N"
            finish()
            ended = True
            continue
        if in_smr:
            if line.startswith("}"):
                in_smr = False
            continue
        if line.startswith("Threads class SMR info:") or _DATE.match(line):
            continue
        if pid is None and not tasks and cur is None:
            pm = _PID.match(line)
            if pm:  # jcmd prints the pid it attached to first
                pid = int(pm.group(1))
                continue
        if line.startswith("_java_thread_list="):
            in_smr = not line.rstrip().endswith("}")
            continue
        if line.startswith("Full thread dump "):
            fm = _full(line)
            if fm:
                finish()
                dumps.append(line_no)
                if tasks:
                    # kill -3 twice: the service's stdout holds one dump after another. Only
                    # the last is read; counting them all would count each thread twice.
                    tasks.clear()
                    no_number = 0
                full_dump = True
                vm, vm_detail = fm
                version = vm_detail.split(" ", 1)[0]
                if vm.lstrip().startswith("["):
                    # JDK 5 on HP-UX: "Full thread dump [date] (<VM> <version> ...):"
                    words = vm_detail.split()
                    numbered = [i for i, w in enumerate(words) if _VERSION_WORD.match(w)]
                    vm = " ".join(words[: numbered[0]] if numbered else words)
                    version = words[numbered[0]] if numbered else ""
                continue
        # A line of another shape, even inside a thread's block: a kill -3 dump shares the
        # service's stdout, so its log lines can fall between a thread's frames.
        skipped += 1
    if pending:
        skipped += len(pending)
    # A cut is decided from the dump itself, not from a missing final newline (many saved and
    # pasted dumps have none): the last line is a frame or a header that stops half way, or
    # (jstack) the last thread has a stack but the VM's own threads, which come last and have
    # none, and the JNI refs line never came. JDK 5-7 print no JNI refs line: that alone is no
    # cut.
    tail = lines[-1].rstrip("\r") if lines else ""
    cut_line = bool(tail.strip()) and _cut_tail(tail)
    last = cur
    cut_block = (
        full_dump
        and not ended
        and last is not None
        and style == "jstack"
        and (bool(frames) or last.has_state)
        and last.number is not None
    )
    truncated = cut_line or cut_block
    finish(partial=truncated and last is not None)
    if not tasks:
        first = next((i for i, ln in enumerate(lines) if ln.strip()), 0)
        raise ParseError(
            origin,
            first + 1,
            lines[first].rstrip("\r") if lines else "",
            'no JVM thread header ("name" ... tid=0x... nid=...) in the input',
        )
    if truncated:
        cut = tasks[-1]
        warnings.append(
            f"{origin}:{len(lines)}: the dump is cut short ("
            + (
                "the input ends in the middle of a line"
                if cut_line
                else "the last thread has a stack, and no VM thread or JNI refs line follows"
            )
            + (
                f"); thread #{cut.id} {cut.name!r} may be missing frames"
                if last is not None
                else ")"
            )
        )
    if len(dumps) > 1:
        warnings.append(
            f"{origin}:{dumps[-1]}: {len(dumps)} thread dumps one after another (kill -3 more "
            "than once); read the last one"
        )
    detail = ["JVM thread dump"]
    if vm:
        detail.append(f"{vm} {version}".strip())
    if "visualvm" in styles:
        detail.append('VisualVM / actuator text ("name" - Thread t@N)')
    if "threadinfo" in styles:
        detail.append("ThreadInfo.toString (Id=N STATE)")
    if no_number == len(tasks):
        detail.append("no #N thread numbers (JDK 7 or older)")
    elif no_number:
        detail.append(f"{no_number} VM-internal threads")
    return Snapshot(
        source=SourceInfo(
            format=NAME,
            origin=origin,
            producer=f"java {version}" if version else "java",
            detail=", ".join(detail),
            pid=pid,
        ),
        tasks=tuple(tasks),
        warnings=tuple(warnings),
        truncated=truncated,
        skipped_lines=skipped,
    )


def _full(line: str) -> tuple[str, str] | None:
    """(VM, detail in parentheses or "") of a "Full thread dump VM (DETAIL):" line."""
    body = line[len("Full thread dump ") :].rstrip()
    if not line.startswith("Full thread dump ") or not body.endswith(":"):
        return None
    body = body[:-1]
    cut = body.find(" (")
    if cut >= 0 and body.endswith(")"):
        return body[:cut], body[cut + 2 : -1]
    return body, ""


def _without_address(text: str) -> str:
    """``text`` without a trailing "[0x...]" (and the blanks around it)."""
    body = text.rstrip()
    if body.endswith("]"):
        cut = body.rfind("[")
        if cut >= 0 and _HEX_ADDRESS.fullmatch(body, cut + 1, len(body) - 1):
            return body[:cut].rstrip()
    return text
