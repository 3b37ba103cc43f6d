import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;

/**
 * A service whose thread counts grow without leaking: the shapes one pair of dumps cannot tell
 * from a leak. No dependencies; JDK 11 or later. Prints its pid, then runs until killed.
 *
 * <ul>
 *   <li>A fixed pool of 20 ({@code Executors.newFixedThreadPool(20)}, threads
 *       {@code pool-1-thread-N}) warming up: a fixed pool starts a new thread for every task
 *       until it has 20, so one job a second takes it from 5 threads at 5s to 20 at 20s, then
 *       it holds.
 *   <li>A ForkJoin pool of parallelism 4 growing lazily ({@code ForkJoinPool-1-worker-N}): one
 *       worker at start, a second when two tasks first run at once (at 10s).
 *   <li>A batch of five short-lived threads ({@code report-N}) at 24s that end 3s later: the
 *       newest threads end, so the highest thread number goes down in one running JVM.
 * </ul>
 */
public final class WarmPool {
    public static void main(String[] args) throws Exception {
        System.out.println(ProcessHandle.current().pid());
        System.out.flush();
        ExecutorService pool = Executors.newFixedThreadPool(20);
        ForkJoinPool forkJoin = new ForkJoinPool(4);
        forkJoin.submit(() -> sleep(200)).get();
        long start = System.currentTimeMillis();
        boolean grew = false;
        boolean reported = false;
        while (true) {
            pool.submit(() -> sleep(50));
            long t = (System.currentTimeMillis() - start) / 1000;
            if (!grew && t >= 10) {
                grew = true;
                for (int i = 0; i < 2; i++) {
                    forkJoin.submit(() -> sleep(500));
                }
            }
            if (!reported && t >= 24) {
                reported = true;
                List<Thread> batch = new ArrayList<>();
                for (int i = 1; i <= 5; i++) {
                    Thread th = new Thread(() -> sleep(3000), "report-" + i);
                    th.start();
                    batch.add(th);
                }
            }
            sleep(1000);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
