// A small HTTP service that leaks threads on purpose: one fixed thread pool per request,
// never shut down. Single file, no dependencies: `java LeakyService.java` on JDK 11 or later.
//
// What runs (see README.md for the verdicts a diff should give):
//   http-worker-N      the server's request pool: 4 threads of a fixed pool (steady)
//   pool-K-thread-1    one per GET /work: Executors.newFixedThreadPool(1), never shut down (leak)
//   short-N            started every 50 ms by "churn", each lives 10-100 ms (churn)
//   config-watcher     one thread waiting forever on a latch (steady), and one more with a
//                      hostile name (quotes, a newline, markup)
//   virtual threads    JDK 21+: GET /vwork starts one virtual thread per request in its own
//                      newVirtualThreadPerTaskExecutor, never closed, waiting forever (leak);
//                      a long-lived virtual-thread executor keeps 4 consumers (steady)
//
// GET /threaddump answers ThreadMXBean.dumpAllThreads(true, true) as JSON with the property
// names Spring Boot's /actuator/threaddump uses (the Jackson serialisation of ThreadInfo).
//
// The first line on stdout is "<pid> <port>"; the service runs until killed.

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.LockInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.MonitorInfo;
import java.lang.management.ThreadInfo;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

public class LeakyService {
    static final int MAX_LEAK = Integer.getInteger("maxLeak", 200);
    static final CountDownLatch NEVER = new CountDownLatch(1);
    // The leaked executors, kept so nothing could ever shut them down.
    static final List<ExecutorService> LEAKED = new ArrayList<>();
    static final BlockingQueue<String> JOBS = new LinkedBlockingQueue<>();
    static final AtomicInteger WORKERS = new AtomicInteger();
    static Method newVirtualExecutor;

    public static void main(String[] args) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        ThreadFactory named = r -> new Thread(r, "http-worker-" + WORKERS.incrementAndGet());
        ExecutorService pool = Executors.newFixedThreadPool(4, named);
        pool.invokeAll(List.of(() -> 1, () -> 2, () -> 3, () -> 4)); // start all four now
        server.setExecutor(pool);
        server.createContext("/work", LeakyService::work);
        server.createContext("/vwork", LeakyService::virtualWork);
        server.createContext("/threaddump", LeakyService::threadDump);
        server.start();

        Thread watcher = new Thread(LeakyService::watchConfig, "config-watcher");
        watcher.setDaemon(true);
        watcher.start();
        // A name as hostile as any a tenant or a library might set: quotes, a newline, markup.
        Thread odd = new Thread(LeakyService::watchConfig, "tenant \"acme\"\n[bold]audit[/bold] <x>");
        odd.setDaemon(true);
        odd.start();
        Thread churn = new Thread(LeakyService::churn, "churn");
        churn.setDaemon(true);
        churn.start();
        startVirtualConsumers();

        System.out.println(ProcessHandle.current().pid() + " " + server.getAddress().getPort());
        System.out.flush();
    }

    /** The leak: an executor per request, used once and never shut down. */
    static void work(HttpExchange exchange) throws IOException {
        String body;
        synchronized (LEAKED) {
            if (LEAKED.size() >= MAX_LEAK) {
                reply(exchange, 200, "enough\n", "text/plain");
                return;
            }
        }
        ExecutorService executor = Executors.newFixedThreadPool(1);
        try {
            Future<String> result = executor.submit(() -> "done by " + Thread.currentThread().getName());
            body = result.get() + "\n";
        } catch (Exception e) {
            body = "failed: " + e + "\n";
        }
        synchronized (LEAKED) {
            LEAKED.add(executor);
        }
        log("GET /work: " + body.trim());
        reply(exchange, 200, body, "text/plain");
    }

    /** The virtual-thread leak (JDK 21+): a task per request that waits for ever. */
    static void virtualWork(HttpExchange exchange) throws IOException {
        if (newVirtualExecutor == null) {
            reply(exchange, 404, "no virtual threads before JDK 21\n", "text/plain");
            return;
        }
        try {
            ExecutorService executor = (ExecutorService) newVirtualExecutor.invoke(null);
            executor.submit(LeakyService::awaitReply);
            synchronized (LEAKED) {
                LEAKED.add(executor);
            }
            log("GET /vwork: started a virtual thread");
            reply(exchange, 200, "started\n", "text/plain");
        } catch (ReflectiveOperationException e) {
            reply(exchange, 500, e + "\n", "text/plain");
        }
    }

    static Void awaitReply() throws InterruptedException {
        NEVER.await(); // the reply it waits for never comes
        return null;
    }

    static void startVirtualConsumers() {
        try {
            newVirtualExecutor = Executors.class.getMethod("newVirtualThreadPerTaskExecutor");
        } catch (NoSuchMethodException e) {
            return;
        }
        try {
            ExecutorService consumers = (ExecutorService) newVirtualExecutor.invoke(null);
            for (int i = 0; i < 4; i++) {
                consumers.submit(LeakyService::consume);
            }
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    static Void consume() throws InterruptedException {
        while (true) {
            JOBS.take();
        }
    }

    static void watchConfig() {
        try {
            NEVER.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void churn() {
        int n = 0;
        while (true) {
            Thread t = new Thread(() -> {
                try {
                    Thread.sleep(ThreadLocalRandom.current().nextInt(10, 100));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "short-" + (++n));
            t.start();
            try {
                Thread.sleep(50);
                JOBS.offer("job-" + n);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    static void log(String message) {
        System.out.println(java.time.Instant.now() + " INFO [" + Thread.currentThread().getName() + "] " + message);
    }

    static void reply(HttpExchange exchange, int status, String body, String type) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    // ---- /threaddump: ThreadInfo as Jackson writes it for Spring Boot's actuator ----

    static void threadDump(HttpExchange exchange) throws IOException {
        ThreadInfo[] infos = ManagementFactory.getThreadMXBean().dumpAllThreads(true, true);
        StringBuilder out = new StringBuilder("{\"threads\":[");
        for (int i = 0; i < infos.length; i++) {
            if (i > 0) out.append(',');
            thread(out, infos[i]);
        }
        out.append("]}");
        reply(exchange, 200, out.toString(), "application/json");
    }

    static void thread(StringBuilder out, ThreadInfo t) {
        out.append('{');
        field(out, "threadName", t.getThreadName());
        out.append(",\"threadId\":").append(t.getThreadId());
        out.append(",\"blockedTime\":").append(t.getBlockedTime());
        out.append(",\"blockedCount\":").append(t.getBlockedCount());
        out.append(",\"waitedTime\":").append(t.getWaitedTime());
        out.append(",\"waitedCount\":").append(t.getWaitedCount());
        if (t.getLockName() != null) {
            out.append(',');
            field(out, "lockName", t.getLockName());
        }
        out.append(",\"lockOwnerId\":").append(t.getLockOwnerId());
        if (t.getLockOwnerName() != null) {
            out.append(',');
            field(out, "lockOwnerName", t.getLockOwnerName());
        }
        out.append(",\"daemon\":").append(t.isDaemon());
        out.append(",\"inNative\":").append(t.isInNative());
        out.append(",\"suspended\":").append(t.isSuspended());
        out.append(",\"threadState\":\"").append(t.getThreadState()).append('"');
        out.append(",\"priority\":").append(t.getPriority());
        out.append(",\"stackTrace\":[");
        StackTraceElement[] stack = t.getStackTrace();
        for (int i = 0; i < stack.length; i++) {
            if (i > 0) out.append(',');
            frame(out, stack[i]);
        }
        out.append("],\"lockedMonitors\":[");
        MonitorInfo[] monitors = t.getLockedMonitors();
        for (int i = 0; i < monitors.length; i++) {
            if (i > 0) out.append(',');
            out.append('{');
            lock(out, monitors[i]);
            out.append(",\"lockedStackDepth\":").append(monitors[i].getLockedStackDepth());
            if (monitors[i].getLockedStackFrame() != null) {
                out.append(",\"lockedStackFrame\":");
                frame(out, monitors[i].getLockedStackFrame());
            }
            out.append('}');
        }
        out.append("],\"lockedSynchronizers\":[");
        LockInfo[] syncs = t.getLockedSynchronizers();
        for (int i = 0; i < syncs.length; i++) {
            if (i > 0) out.append(',');
            out.append('{');
            lock(out, syncs[i]);
            out.append('}');
        }
        out.append(']');
        if (t.getLockInfo() != null) {
            out.append(",\"lockInfo\":{");
            lock(out, t.getLockInfo());
            out.append('}');
        }
        out.append('}');
    }

    static void lock(StringBuilder out, LockInfo lock) {
        field(out, "className", lock.getClassName());
        out.append(",\"identityHashCode\":").append(lock.getIdentityHashCode());
    }

    static void frame(StringBuilder out, StackTraceElement f) {
        out.append('{');
        if (f.getClassLoaderName() != null) {
            field(out, "classLoaderName", f.getClassLoaderName());
            out.append(',');
        }
        if (f.getModuleName() != null) {
            field(out, "moduleName", f.getModuleName());
            out.append(',');
        }
        if (f.getModuleVersion() != null) {
            field(out, "moduleVersion", f.getModuleVersion());
            out.append(',');
        }
        field(out, "methodName", f.getMethodName());
        if (f.getFileName() != null) {
            out.append(',');
            field(out, "fileName", f.getFileName());
        }
        out.append(",\"lineNumber\":").append(f.getLineNumber());
        out.append(",\"nativeMethod\":").append(f.isNativeMethod());
        out.append(',');
        field(out, "className", f.getClassName());
        out.append('}');
    }

    static void field(StringBuilder out, String name, String value) {
        out.append('"').append(name).append("\":\"");
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '"' || c == '\\') {
                out.append('\\').append(c);
            } else if (c < 0x20) {
                out.append(String.format("\\u%04x", (int) c));
            } else {
                out.append(c);
            }
        }
        out.append('"');
    }
}
