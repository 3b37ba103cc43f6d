package main

import (
	"context"
	"log"
	"runtime/pprof"
	"sync/atomic"
	"time"
)

type job struct {
	n int
}

var jobsDone int64

func jobCount() int64 { return atomic.LoadInt64(&jobsDone) }

// startPool starts n long-lived workers. They are labelled so that they are
// easy to tell apart from the request goroutines.
func startPool(ctx context.Context, n int, jobs <-chan job) {
	// Like pprof.Do, but without a closure, so that the workers report
	// "created by main.startPool".
	pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("pool", "workers")))
	defer pprof.SetGoroutineLabels(ctx)
	for i := 0; i < n; i++ {
		go worker(i, jobs)
	}
	log.Printf("pool: started %d workers", n)
}

// worker waits in "chan receive" for jobs; it never exits.
func worker(i int, jobs <-chan job) {
	for j := range jobs {
		time.Sleep(20 * time.Millisecond)
		atomic.AddInt64(&jobsDone, 1)
		_ = j
	}
}

// feedJobs hands the pool a job now and then.
func feedJobs(jobs chan<- job, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	n := 0
	for range t.C {
		n++
		jobs <- job{n: n}
	}
}
