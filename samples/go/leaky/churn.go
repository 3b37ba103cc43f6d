package main

import (
	"math/rand"
	"sync/atomic"
	"time"
)

var (
	handled      int64
	lastResponse atomic.Value // keeps the GC busy, like a real handler would
)

func shortCount() int64 { return atomic.LoadInt64(&handled) }

// churnLoop starts a burst of 0..max short-lived handlers every tick.
// At any instant a handful to a few dozen are alive.
func churnLoop(tick time.Duration, max int) {
	t := time.NewTicker(tick)
	defer t.Stop()
	seq := 0
	for range t.C {
		for n := rand.Intn(max + 1); n > 0; n-- {
			seq++
			go handleShort(seq)
		}
	}
}

// handleShort builds a response (allocating, so the GC runs regularly),
// sleeps 5-50ms and exits.
func handleShort(seq int) {
	resp := make([]byte, 16<<10)
	resp[0] = byte(seq)
	lastResponse.Store(resp)
	time.Sleep(time.Duration(5+rand.Intn(46)) * time.Millisecond)
	atomic.AddInt64(&handled, 1)
}
