//go:debug tracebacklabels=1

// Command leaky is a tiny HTTP service that leaks goroutines on purpose.
//
// It exists to produce realistic goroutine dumps for snapdiff's tests and
// examples. It drives itself; no client is needed. Four behaviours run side
// by side, each started from its own function so that every group of
// goroutines has a distinct "created by" site:
//
//	fetchAll          fan-out leak: one goroutine per id sends on an
//	                  unbuffered channel; the caller stops reading after the
//	                  first result, so the late senders block forever.
//	startPool         fixed pool of workers waiting for jobs (steady).
//	churnLoop         short-lived handlers that sleep 5-50ms and exit.
//	startConfigWatcher one goroutine that waits forever for a config reload.
//
// net/http/pprof is served on -addr (loopback only), e.g.
//
//	curl 'http://127.0.0.1:6060/debug/pprof/goroutine?debug=2'
//
// The //go:debug line above turns on goroutine labels in tracebacks for
// toolchains that support it (Go 1.27 does by default for modules that
// declare go >= 1.27; this module declares go 1.19 so it can be built by old
// toolchains too). Older toolchains ignore the line.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

type config struct {
	addr      string
	leakRate  time.Duration
	fanout    int
	maxLeak   int64
	workers   int
	jobEvery  time.Duration
	churnTick time.Duration
	churnMax  int
	logEvery  time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:6060", "listen address for net/http/pprof (loopback only; port 0 picks a free port)")
	flag.DurationVar(&cfg.leakRate, "leak-rate", 300*time.Millisecond, "interval between fan-out requests (each leaks about one goroutine)")
	flag.IntVar(&cfg.fanout, "fanout", 2, "goroutines started per fan-out request")
	flag.Int64Var(&cfg.maxLeak, "max-leak", 0, "stop issuing fan-out requests after this many leaked goroutines (0 = unlimited)")
	flag.IntVar(&cfg.workers, "workers", 8, "size of the worker pool")
	flag.DurationVar(&cfg.jobEvery, "job-every", 10*time.Second, "interval between jobs handed to the worker pool")
	flag.DurationVar(&cfg.churnTick, "churn-tick", 10*time.Millisecond, "interval between bursts of short-lived handlers")
	flag.IntVar(&cfg.churnMax, "churn-max", 6, "maximum handlers started per burst")
	flag.DurationVar(&cfg.logEvery, "log-every", 5*time.Second, "interval between status log lines (0 = off)")
	flag.Parse()

	log.SetFlags(log.LstdFlags | log.Lmicroseconds | log.LUTC)
	log.SetPrefix("leaky: ")

	ln, err := listenLoopback(cfg.addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s (pid %d, %s)", ln.Addr(), os.Getpid(), runtime.Version())

	ctx := context.Background()

	startConfigWatcher("/etc/leaky/config.yaml")

	jobs := make(chan job)
	startPool(ctx, cfg.workers, jobs)
	go feedJobs(jobs, cfg.jobEvery)

	go churnLoop(cfg.churnTick, cfg.churnMax)
	go leakLoop(ctx, cfg.leakRate, cfg.fanout, cfg.maxLeak)

	if cfg.logEvery > 0 {
		go logStats(cfg.logEvery)
	}

	log.Fatal(http.Serve(ln, nil))
}

// listenLoopback refuses anything but a loopback address.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("-addr %q: only loopback addresses are allowed", addr)
	}
	return net.Listen("tcp", addr)
}

func logStats(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		log.Printf("status: goroutines=%d leaked=%d fetches=%d jobs=%d handled=%d",
			runtime.NumGoroutine(), leakedCount(), fetchCount(), jobCount(), shortCount())
	}
}

// leakLoop issues a fan-out request every rate. The whole loop runs under
// pprof labels, which every goroutine it starts inherits.
func leakLoop(ctx context.Context, rate time.Duration, fanout int, maxLeak int64) {
	labels := pprof.Labels("handler", "/api/v1/items", "tenant", "acme")
	pprof.Do(ctx, labels, func(ctx context.Context) {
		t := time.NewTicker(rate)
		defer t.Stop()
		next := 1
		for range t.C {
			if maxLeak > 0 && leakedCount() >= maxLeak {
				log.Printf("fan-out: reached -max-leak=%d, no more requests", maxLeak)
				return
			}
			ids := make([]int, fanout)
			for i := range ids {
				ids[i] = next
				next++
			}
			fetchAll(ctx, ids)
		}
	})
}
