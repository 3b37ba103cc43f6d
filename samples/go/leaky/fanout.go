package main

import (
	"context"
	"math/rand"
	"sync/atomic"
	"time"
)

type result struct {
	id   int
	body string
}

var (
	fetches int64 // fan-out requests issued
	leaked  int64 // senders nobody will ever receive from
)

func fetchCount() int64  { return atomic.LoadInt64(&fetches) }
func leakedCount() int64 { return atomic.LoadInt64(&leaked) }

// fetchAll asks every backend for ids and returns the first answer.
//
// The bug: results is unbuffered and fetchAll stops reading after the first
// result (or the timeout), so every other fetchOne blocks forever in
// "chan send". Nothing else references results, so those goroutines can
// never be woken.
func fetchAll(ctx context.Context, ids []int) (result, bool) {
	atomic.AddInt64(&fetches, 1)
	results := make(chan result)
	for _, id := range ids {
		go fetchOne(id, results)
	}
	timeout := time.NewTimer(40 * time.Millisecond)
	defer timeout.Stop()
	select {
	case r := <-results:
		atomic.AddInt64(&leaked, int64(len(ids)-1))
		return r, true
	case <-timeout.C:
		atomic.AddInt64(&leaked, int64(len(ids)))
		return result{}, false
	case <-ctx.Done():
		atomic.AddInt64(&leaked, int64(len(ids)))
		return result{}, false
	}
}

// fetchOne simulates a backend call with 5-60ms latency.
func fetchOne(id int, results chan<- result) {
	time.Sleep(time.Duration(5+rand.Intn(56)) * time.Millisecond)
	results <- result{id: id, body: "item"}
}
