"""Node.js: diagnostic reports, and what snapdiff knows about their threads and libuv handles.

A libuv handle (a socket, a timer, a pipe) is a resource, not code: the reader puts its type
and stable endpoint in its one frame (``tcp connected to`` ``10.0.0.5:5432``), and that is its
group, so a socket leak reads as the endpoint it connects to. A handle's name holds its two
endpoints, worth showing as examples. JavaScript threads (the main thread, workers) are grouped
by their name pattern and outermost frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapdiff.model import LIBUV_HANDLE, THREAD, Frame, Task
from snapdiff.runtime import Runtime, TaskKind, name_pattern, reader
from snapdiff.runtimes.node import node_report


@dataclass(frozen=True)
class Node(Runtime):
    def file_key(self, task: Task, path: str) -> str:
        if task.kind == LIBUV_HANDLE:
            return path
        return path.replace("\\", "/").rsplit("/", 1)[-1]

    def pattern(self, task: Task) -> str:
        return name_pattern(task.name) if task.kind == THREAD and task.name else ""

    def is_app_frame(self, frame: Frame) -> bool:
        """A script of the application: not Node's own modules nor an installed package."""
        file = frame.file
        return (
            bool(file)
            and not file.startswith(("node:", "internal/"))
            and ("node_modules" not in file)
        )

    def resource_site(self, task: Task) -> tuple[str, str] | None:
        if task.kind == LIBUV_HANDLE and task.frames:
            return task.frames[0].function, task.frames[0].file
        return None


RUNTIME = Node(
    "node",
    "Node.js",
    readers=(reader(node_report),),
    kinds=(
        TaskKind(THREAD, "thread", "threads", example_names=True),
        TaskKind(LIBUV_HANDLE, "libuv handle", "libuv handles", resource=True, example_names=True),
    ),
)
