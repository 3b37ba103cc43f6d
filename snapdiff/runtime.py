"""What the generic core asks of a runtime: the small description each runtime package gives.

Grouping, diffing, trends and reports name no runtime and no format. Where they need to know
something that differs between runtimes (which frames are start-up frames, where a task was
created, how a task is known across two dumps, which ids count up like a clock, what to call a
task), they ask the :class:`Runtime` of the snapshot (:func:`snapdiff.runtimes.of`).

A runtime package (``snapdiff/runtimes/NAME/``) holds its readers and a subclass of
:class:`Runtime` that overrides only what differs from the defaults here. The defaults are
what holds for a runtime snapdiff knows nothing about: a task's creation site is its
``created_by`` frame when the reader found one, else its outermost frame; it waits in its
innermost frame; ids name a task together with its name (an OS may reuse ids).

The core asks a runtime once per distinct (kind, stack, creator, name), as :func:`group` caches
its keys, so a method here may take its time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from snapdiff.model import Frame, Snapshot, Task


@dataclass(frozen=True, slots=True)
class Reader:
    """One input format: what :mod:`snapdiff.inputs` calls.

    ``parse_buffer`` and ``parse_stream`` are optional fast entry points (``None`` when the
    reader has none): a file mapped in memory, and the decompressed pieces of a gzip stream.
    Without them the reader is given the whole input as bytes.
    """

    name: str
    description: str
    sniff: Callable[[bytes], bool]
    parse: Callable[..., Snapshot]
    parse_buffer: Callable[[Any, str], Snapshot] | None = None
    parse_stream: Callable[[Iterable[bytes], str], Snapshot] | None = None
    # The reader's own test of a task header line, for formats with one: a line that looks
    # like a header but fails it is named in a warning (see snapdiff.unwrap.account).
    is_header: Callable[[str], bool] | None = None
    # --- what snapdiff.inputs and snapdiff.unwrap ask of a text format (module attributes of
    # the same names in capitals, or the function dump_starts) ---
    # A binary format: never unwrapped (log prefixes, fences and the like are only on text).
    binary: bool = False
    # Several dumps in one input: the first line (1-based) of each; one or none is one dump.
    dump_starts: Callable[[str], list[int]] | None = None
    # What several of them are called in a message: "thread dumps".
    dumps_noun: str = "dumps"
    # Starts of lines that may begin another dump in the same input (a crash header): a mapped
    # input with fewer than two of them is read as one dump, a window at a time, and never
    # split. Empty: every input of the format may hold several.
    another_dump_marks: tuple[bytes, ...] = ()
    # A loose pattern (bytes, multi-line) of a line that looks like a task header, written
    # apart from the reader's own strict one: more such lines than tasks read means the reader
    # passed over some, and a warning says so.
    loose_header: re.Pattern[bytes] | None = None
    # The loose header's first group is the task id, and a task printed twice counts once.
    distinct_header_ids: bool = False
    # A quick count of headers, a window at a time without a regex: lines starting with the
    # first bytes, less those starting with the second. Not more than the tasks read: nothing
    # to account for.
    quick_header: tuple[bytes, bytes] | None = None


def reader(module: ModuleType) -> Reader:
    """The reader a format's module defines: ``NAME``, ``DESCRIPTION``, ``sniff``, ``parse``
    and, optionally, ``parse_buffer``, ``parse_stream``, ``is_header``, ``dump_starts`` and the
    capitalised attributes named after the other fields of :class:`Reader`."""
    return Reader(
        module.NAME,
        module.DESCRIPTION,
        module.sniff,
        module.parse,
        getattr(module, "parse_buffer", None),
        getattr(module, "parse_stream", None),
        getattr(module, "is_header", None),
        binary=getattr(module, "BINARY", False),
        dump_starts=getattr(module, "dump_starts", None),
        dumps_noun=getattr(module, "DUMPS_NOUN", "dumps"),
        another_dump_marks=getattr(module, "ANOTHER_DUMP_MARKS", ()),
        loose_header=getattr(module, "LOOSE_HEADER", None),
        distinct_header_ids=getattr(module, "DISTINCT_HEADER_IDS", False),
        quick_header=getattr(module, "QUICK_HEADER", None),
    )


@dataclass(frozen=True, slots=True)
class TaskKind:
    """A kind of task (``Task.kind``) and how reports speak of it."""

    name: str
    singular: str
    plural: str
    # A group key that is a resource (a socket's type and endpoint), not code: its one frame is
    # the key, and reports show it as such rather than as a function at file:line.
    resource: bool = False
    # Ids that find a task in the dump (``goroutine 42``): reports list a few.
    example_ids: bool = False
    # Names worth showing as examples (thread names, a socket's endpoints).
    example_names: bool = False
    # The creation site is a statement in the code (Go's ``go`` statement): reports say
    # "created at".
    created_at: bool = False
    # Who marks tasks of this kind leaked (``FLAG_LEAKED``), in reports: "marked leaked by Go".
    marked_by: str = ""
    # (label, value) -> (singular, plural): ``("virtual", "true")`` -> virtual thread(s).
    label_words: tuple[tuple[tuple[str, str], str, str], ...] = ()

    def words(self, n: int, labels: Sequence[tuple[str, str]] = ()) -> str:
        for label, singular, plural in self.label_words:
            if label in labels:
                return singular if n == 1 else plural
        return self.singular if n == 1 else self.plural


def default_kind(name: str) -> TaskKind:
    """A kind no runtime declares: its name, and an ``s`` for more than one."""
    return TaskKind(name, name, name + "s")


_DIGITS = re.compile(r"\d+")
# What in a name or a path is one instance's own, each taken out in one pass (so that what one
# leaves, such as the 0 of "0x…", is not taken again): a UUID; a hex address; a hex id of six
# or more with a digit and a letter (a hash, a UUID without dashes, an address without 0x); a
# number.
_INSTANCE = re.compile(
    r"(?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<addr>0[xX][0-9a-fA-F]+)"
    r"|(?P<hex>(?<![0-9A-Za-z])(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{6,}"
    r"(?![0-9A-Za-z]))"
    r"|\d+"
)
_INSTANCE_WORDS = {"uuid": "<uuid>", "addr": "0x…", "hex": "<hex>"}


def _instance_word(match: re.Match[str]) -> str:
    return _INSTANCE_WORDS.get(match.lastgroup or "", "N")


def name_pattern(name: str) -> str:
    """A task's name with what is one instance's own taken out, the pattern its group is known
    by: counters are clocks (``ThreadPoolExecutor-45_0`` -> ``ThreadPoolExecutor-N_N``), and
    ids name one task (``session-9f0c…`` -> ``session-<uuid>``, ``conn-7f3a9c10`` ->
    ``conn-<hex>``, ``req 0x7f3a`` -> ``req 0x…``). Threads of one site named per session or
    per connection are one group, not one group each."""
    return _INSTANCE.sub(_instance_word, name)


def instance_pattern(text: str) -> str:
    """What stays of a per-instance key when its instance is taken out, as :func:`name_pattern`
    (``tenants/tenant-17.json`` -> ``tenants/tenant-N.json``)."""
    return _INSTANCE.sub(_instance_word, text)


def one_pool(names: Iterable[str]) -> str:
    """``pool-1-thread-N`` when the names differ only in their last number (``pool-1-thread-1``
    ... ``pool-1-thread-20``): the threads of one pool, numbered by it. "" when they are of
    several pools (``pool-1-thread-1``, ``pool-2-thread-1``), have a single number (a
    ``worker-N`` has no pool number to tell), or are fewer than two."""
    patterns = set()
    n = 0
    for name in names:
        runs = list(_DIGITS.finditer(name))
        if len(runs) < 2:
            return ""
        last = runs[-1]
        patterns.add(name[: last.start()] + "N" + name[last.end() :])
        n += 1
        if len(patterns) > 1:
            return ""
    return patterns.pop() if n >= 2 and patterns else ""


@dataclass(frozen=True)
class Runtime:
    """A runtime: its readers and what snapdiff knows about its tasks. Subclass and override.

    ``site_hints`` ((kind, function, file) of a site) and ``name_hints`` ((kind, name pattern))
    say what to look for when a suspect site is a library's, not the code that leaks.
    ``id_clocks`` lists (format, kind) whose ids count up with every creation and are never
    reused: a task's id then says when it was born.
    """

    name: str
    title: str
    readers: tuple[Reader, ...] = ()
    kinds: tuple[TaskKind, ...] = ()
    id_clocks: frozenset[tuple[str, str]] = frozenset()
    site_hints: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    name_hints: Mapping[tuple[str, str], str] = field(default_factory=dict)
    # Formats that read one process alike (a tool's text and JSON output): their sites match.
    same_formats: tuple[frozenset[str], ...] = ()
    # Whether the highest id going down between two dumps may say the process restarted (weak
    # evidence: the highest id also goes down when the newest tasks end).
    restart_by_max_id: bool = False
    # Formats whose task ids grow with time within one process (an id clock, or the kernel's
    # thread ids): tasks born later have higher ids, which tells two dumps given in the wrong
    # order. The formats of ``id_clocks`` are such formats too.
    growing_ids: frozenset[str] = frozenset()
    # Ids handed out in batches (Go gives each P 16 goroutine ids at a time, ids 16k+1 to 16k+16,
    # each P numbering its goroutines in order within its batch): a task born later can have a
    # lower id than one born earlier, so a handful of tasks says nothing of order. (A Go program
    # whose C threads call into Go takes single ids for them, which shifts later batches: the
    # order within a batch is then judged on aligned blocks, a weak "possible restart" at worst.)
    id_batch: int = 0
    # Where a dump with task ids can be had, said when growth without ids may be a leak.
    no_ids_hint: str = ""

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.readers)

    # --- where a task comes from --------------------------------------------------------------

    def file_key(self, task: Task, path: str) -> str:
        """A frame's file as a group key: the path as the dump gives it."""
        return path

    def pattern(self, task: Task) -> str:
        """The part of the task's name that is a pattern of its group (``pool-N-thread-N``)."""
        return ""

    def resource_site(self, task: Task) -> tuple[str, str] | None:
        """For a task that is a resource, (type, endpoint): its key, before any frame."""
        return None

    def implicit_site(self, task: Task) -> Frame | None:
        """The creation site of a task whose reader found no ``created_by``: None by default
        (the task is then grouped by its entry frame, and the report says so)."""
        return None

    def entry_frame(self, task: Task) -> Frame | None:
        """Where the task started running: its outermost frame."""
        return task.entry

    def blocking_frame(self, frames: tuple[Frame, ...]) -> Frame | None:
        """Where a task with this stack (innermost first) waits: its innermost frame."""
        return frames[0] if frames else None

    def is_app_frame(self, frame: Frame) -> bool:
        """The frame is the application's own code, not the runtime's, the standard library's
        or a well-known framework's. By default nothing is known, and no frame is."""
        return False

    def app_frame(self, frames: tuple[Frame, ...]) -> Frame | None:
        """The innermost frame of the application's own code in a stack (innermost first): where
        a report says its tasks wait. None when no frame is (then :meth:`blocking_frame`)."""
        for frame in frames:
            if frame.function and self.is_app_frame(frame):
                return frame
        return None

    def is_capture_own(self, frames: tuple[Frame, ...]) -> bool:
        """The task is the capture's own (a debug endpoint writing the very dump being read)."""
        return False

    def is_internal(self, function: str) -> bool:
        """A group keyed by this function is the runtime's own tasks (a VM's threads with no
        stack, which have no function)."""
        return not function

    # --- who a task is across two dumps -------------------------------------------------------

    def identity(self, task: Task) -> tuple[object, ...]:
        """What names a task across snapshots of one process: its id and name by default (an
        operating system reuses thread ids)."""
        return (task.id, task.name)

    def identities(self, tasks: Sequence[Task]) -> Iterator[tuple[object, ...]]:
        """:meth:`identity` of each task (a runtime may make this a C-level pass)."""
        return map(self.identity, tasks)

    def origin(self, task: Task) -> object | None:
        """What the task was created as, which never changes while it lives, for a task whose id
        is never reused within one run of the process: the same id with another origin in a
        later dump proves the process restarted in between. None (the default) makes no such
        claim: an operating system reuses thread ids."""
        return None

    def instance_pattern(self, kind: str, place: str) -> str | None:
        """The place of a resource group's key (its endpoint, its file) with its per-instance
        part patterned (a tenant's path, a port), or None when it has none. Groups whose keys
        share a pattern are merged when they look like instances
        (:func:`snapdiff.group.merge_instances`). None by default: code sites are not
        instances."""
        return None

    def one_pool(self, tasks: Sequence[Task]) -> str:
        """The pool the tasks' names show they all belong to (:func:`one_pool`), or "": only
        runtimes whose pools number their threads say so."""
        return ""

    def in_every_run(self, task: Task) -> bool:
        """Whether every run of a process has this task under this id (Go's goroutine 1): its
        being in two dumps says nothing of their being one run."""
        return False

    def ids_grow(self, fmt: str) -> bool:
        """Whether ids of dumps of ``fmt`` grow with time within one process."""
        return fmt in self.growing_ids or any(f == fmt for f, _ in self.id_clocks)

    # --- words --------------------------------------------------------------------------------

    def kind(self, name: str) -> TaskKind:
        for k in self.kinds:
            if k.name == name:
                return k
        return default_kind(name)

    def same_format(self, a: str, b: str) -> bool:
        return a == b or any(a in fs and b in fs for fs in self.same_formats)

    def format_family(self, fmt: str) -> str:
        """One name for the formats that read a process alike (the first in sorted order)."""
        for fs in self.same_formats:
            if fmt in fs:
                return min(fs)
        return fmt


# What a format no runtime claims is read with (a snapshot file from a later snapdiff).
GENERIC = Runtime("generic", "tasks")


@dataclass(frozen=True)
class NamedThreads(Runtime):
    """A runtime whose threads carry names that say their pool (``pool-1-thread-3``) and whose
    tools print a frame's file as a path or a name alone: group by file name and name pattern."""

    def file_key(self, task: Task, path: str) -> str:
        return path.replace("\\", "/").rsplit("/", 1)[-1]

    def pattern(self, task: Task) -> str:
        return name_pattern(task.name) if task.kind == self.thread_kind and task.name else ""

    def one_pool(self, tasks: Sequence[Task]) -> str:
        """Threads of one pool: ``pool-1-thread-N`` (Executors), ``ThreadPoolExecutor-0_N``."""
        return one_pool({t.name for t in tasks if t.name})

    @property
    def thread_kind(self) -> str:
        """The kind whose names carry the pool (the runtime's first kind)."""
        return self.kinds[0].name if self.kinds else ""
