"""Go: goroutine dumps (full stacks, ``debug=1`` aggregates, the pprof protobuf), and what
snapdiff knows about goroutines.

A goroutine's creation site is its ``created by`` line (the ``go`` statement), which the full
dump gives; its id is never reused within a run and counts up with every creation (the id
clock); it waits in the innermost frame outside the ``runtime`` package, whose ``gopark`` and
``selectgo`` frames (shown under ``GOTRACEBACK=system``) say nothing of the caller.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter

from snapdiff.model import GOROUTINE, Frame, Task
from snapdiff.runtime import Runtime, TaskKind, reader
from snapdiff.runtimes.go import _scanned, go_debug1, go_pprof, go_text  # noqa: F401 (_scanned: go_text's compiled reader)

_ID = attrgetter("id")
_KIND = attrgetter("kind")


# Modules whose frames say less of where a goroutine waits than their caller's.
FRAMEWORKS = (
    "google.golang.org/grpc",
    "github.com/gin-gonic/",
    "github.com/labstack/echo",
    "github.com/gorilla/",
    "go.opentelemetry.io/",
    "golang.org/x/",
    "github.com/valyala/fasthttp",
)
# Frames of the pprof handler writing a goroutine dump.
CAPTURE_FUNCTIONS = (
    "runtime/pprof.writeGoroutine",
    "net/http/pprof.",
    "runtime.goroutineProfileWithLabels",
)


@dataclass(frozen=True)
class Go(Runtime):
    def blocking_frame(self, frames: tuple[Frame, ...]) -> Frame | None:
        for frame in frames:
            if not frame.function.startswith("runtime."):
                return frame
        return frames[0] if frames else None

    def is_app_frame(self, frame: Frame) -> bool:
        """Package ``main``, or a module whose path starts with a domain, other than the well-known
        frameworks of :data:`FRAMEWORKS`: a first path element without a dot (``runtime``,
        ``sync``, ``net/http``, ``internal/poll``) is the standard library."""
        function = frame.function
        if function.startswith("main."):
            return True
        first = function.split("/", 1)[0] if "/" in function else function.split(".", 1)[0]
        return "." in first and not function.startswith(FRAMEWORKS)

    def is_capture_own(self, frames: tuple[Frame, ...]) -> bool:
        """``net/http/pprof`` answering the dump request: its goroutine writes the dump."""
        return any(f.function.startswith(CAPTURE_FUNCTIONS) for f in frames)

    def is_internal(self, function: str) -> bool:
        return not function or function.startswith("runtime.")

    def identity(self, task: Task) -> tuple[object, ...]:
        """A goroutine id alone: never reused within a run."""
        if task.kind == GOROUTINE:
            return (task.id,)
        return (task.id, task.name)

    def identities(self, tasks: Sequence[Task]) -> Iterator[tuple[object, ...]]:
        if set(map(_KIND, tasks)) <= {GOROUTINE}:
            return zip(map(_ID, tasks))
        return map(self.identity, tasks)


RUNTIME = Go(
    "go",
    "Go",
    readers=(reader(go_pprof), reader(go_debug1), reader(go_text)),
    kinds=(
        TaskKind(
            GOROUTINE, "goroutine", "goroutines", example_ids=True, created_at=True, marked_by="Go"
        ),
    ),
    id_clocks=frozenset({(go_text.NAME, GOROUTINE)}),
    restart_by_max_id=True,
    no_ids_hint="a full dump, such as Go's debug=2, can confirm",
)
