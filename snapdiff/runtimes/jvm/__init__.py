"""The JVM: jstack / jcmd ``Thread.print`` text, jcmd's JSON thread dump, Spring Boot's
actuator, and what snapdiff knows about JVM threads.

A JVM thread's creation site is its entry method: the outermost frame past the JVM's own
start-up frames (``Thread.run``, a virtual thread's continuation, a thread-per-task executor's
runner, a lambda's generated ``run``); for a pool worker, ``ThreadPoolExecutor$Worker.run``.
Its name pattern (``pool-N-thread-N`` against ``http-worker-N``) is part of its group: a pool
made per request and a server's pool have the same stack and differ only in their names.
Thread numbers (jstack's ``#N``, jcmd's and the actuator's ids) count up and are never reused:
an id clock, and a thread's identity even when it is renamed. The JVM's own threads carry no
number (the readers give them their negated OS thread id): those are their id and name.
"""

from __future__ import annotations

from dataclasses import dataclass

from snapdiff.model import THREAD, Frame, Task
from snapdiff.runtime import NamedThreads, TaskKind, reader
from snapdiff.runtimes.jvm import jvm_json, jvm_text, spring_threaddump

# The outermost frames of JVM threads: a stack that ends in one of these is a JVM thread's.
_JVM_ROOTS = frozenset(
    {
        "java.lang.Thread.run",
        "java.lang.Thread.runWith",
        "java.lang.VirtualThread.run",
        "jdk.internal.misc.InnocuousThread.run",
        "jdk.internal.vm.Continuation.enter",
        "jdk.internal.vm.Continuation.enter0",
        "jdk.internal.vm.Continuation.enterSpecial",
    }
)
# Frames that say nothing of what a JVM thread is for: how the JVM starts a thread, how a
# thread-per-task executor (virtual threads) runs its one task, a lambda's generated class.
_JVM_BOOTSTRAP = _JVM_ROOTS | {
    "java.lang.VirtualThread$VThreadContinuation$1.run",
    "jdk.internal.vm.Continuation.run",
    "java.util.concurrent.ThreadPerTaskExecutor$TaskRunner.run",
    "java.util.concurrent.ThreadPerTaskExecutor$ThreadBoundFuture.run",
    "java.util.concurrent.FutureTask.run",
    "java.util.concurrent.Executors$RunnableAdapter.call",
}
_JVM_FILES = (".java", ".kt", ".scala", ".groovy", ".clj")


def is_jvm_stack(frames: tuple[Frame, ...]) -> bool:
    """A JVM thread's stack: it starts in ``Thread.run`` (or the like) or in a JVM source file
    (the JVM's own threads, ``VM Thread`` and the like, have none)."""
    if not frames:
        return False
    outer = frames[-1]
    return outer.function in _JVM_ROOTS or outer.file.endswith(_JVM_FILES)


def jvm_entry(frames: tuple[Frame, ...]) -> Frame:
    """A JVM thread's entry method. ``frames`` must not be empty."""
    for frame in reversed(frames):
        function = frame.function
        if function in _JVM_BOOTSTRAP or "$$Lambda." in function:
            continue
        return frame
    return frames[0]


def _is_source(frame: Frame) -> bool:
    """A frame in a source file (not ``Native Method`` or an unknown source)."""
    return frame.file.endswith(_JVM_FILES) or frame.file.startswith("<")


# The platform's packages and widespread frameworks: not where an application's thread waits.
FRAMEWORKS = (
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "kotlin.",
    "kotlinx.",
    "scala.",
    "org.springframework.",
    "org.apache.catalina.",
    "org.apache.tomcat.",
    "org.apache.coyote.",
    "org.eclipse.jetty.",
    "io.netty.",
    "io.undertow.",
    "reactor.",
    "io.grpc.",
    "com.zaxxer.hikari.",
    "okhttp3.",
)
# Frames of waiting itself, which say nothing of what is awaited.
PRIMITIVES = (
    "jdk.internal.misc.Unsafe.",
    "sun.misc.Unsafe.",
    "java.lang.Object.wait",
    "java.lang.Thread.sleep",
    "java.util.concurrent.locks.",
    "java.util.concurrent.ForkJoinPool.managedBlock",
    "java.util.concurrent.ForkJoinPool.unmanagedBlock",
)


@dataclass(frozen=True)
class Jvm(NamedThreads):
    def implicit_site(self, task: Task) -> Frame | None:
        return jvm_entry(task.frames) if is_jvm_stack(task.frames) else None

    def entry_frame(self, task: Task) -> Frame | None:
        if is_jvm_stack(task.frames):
            return jvm_entry(task.frames)
        for frame in reversed(task.frames):
            if _is_source(frame):
                return frame
        return task.entry

    def is_app_frame(self, frame: Frame) -> bool:
        """Not the platform's packages nor a framework of :data:`FRAMEWORKS`, nor a lambda's
        generated class."""
        return not frame.function.startswith(FRAMEWORKS) and "$$Lambda" not in frame.function

    def blocking_frame(self, frames: tuple[Frame, ...]) -> Frame | None:
        """The innermost frame past the parking and monitor primitives (``Unsafe.park``,
        ``LockSupport``, ``Object.wait``): ``LinkedBlockingQueue.take`` says what is awaited."""
        for frame in frames:
            if not frame.function.startswith(PRIMITIVES):
                return frame
        return frames[0] if frames else None

    def identity(self, task: Task) -> tuple[object, ...]:
        if task.id is not None and task.id > 0 and is_jvm_stack(task.frames):
            return (task.id,)
        return (task.id, task.name)

    def origin(self, task: Task) -> object | None:
        """A numbered thread's entry method (its Runnable's ``run``, fixed for its life; a
        rename keeps it): thread numbers are never reused within one JVM. None for a thread
        caught in the JVM's start-up frames only, whose entry is not known yet."""
        if task.id is None or task.id <= 0 or not is_jvm_stack(task.frames):
            return None
        entry = jvm_entry(task.frames)
        if entry.function in _JVM_BOOTSTRAP or "$$Lambda." in entry.function:
            return None
        return (entry.function, entry.file)


_POOL_WORKER = "these are ThreadPoolExecutor worker threads, so the dump cannot show which code "

RUNTIME = Jvm(
    "jvm",
    "the JVM",
    readers=(reader(jvm_json), reader(spring_threaddump), reader(jvm_text)),
    kinds=(
        TaskKind(
            THREAD,
            "thread",
            "threads",
            example_names=True,
            label_words=((("virtual", "true"), "virtual thread", "virtual threads"),),
        ),
    ),
    id_clocks=frozenset(
        (fmt, THREAD) for fmt in (jvm_text.NAME, jvm_json.NAME, spring_threaddump.NAME)
    ),
    restart_by_max_id=True,
    site_hints={
        (THREAD, "java.util.concurrent.ThreadPoolExecutor$Worker.run", "ThreadPoolExecutor.java"): (
            _POOL_WORKER + "made the pools; the usual leak is an executor made per request and "
            "never shut down"
        ),
    },
    name_hints={
        (THREAD, "pool-N-thread-N"): (
            "pool-N-thread-N names come from Executors' default ThreadFactory, which numbers its "
            "pools: the first number counts the executors made so far. Give each executor a "
            "ThreadFactory that names its threads to tell them apart"
        ),
    },
)
