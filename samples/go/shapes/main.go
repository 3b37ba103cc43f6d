// Command shapes is a small HTTP service whose goroutines take the shapes that fool a leak
// verdict. It exists to produce real goroutine dumps for snapdiff's tests. Each behaviour is
// started from its own function, so every group has its own "created by" site:
//
//	lateLeak      from -late-after on, one goroutine every -late-every subscribes to a feed
//	              and waits forever (nobody cancels it): a leak that starts late, born
//	              steadily from then on.
//	burstAt       at -burst-at, -burst goroutines start at once and live -burst-for: a burst.
//	cappedLeak    requests take a slot of a semaphore of -cap slots and never give it back;
//	              once the slots are gone, new requests are turned away: a leak that hit its
//	              cap, flat at -cap goroutines, all of them old.
//	lazyPool      a pool that starts with one worker and adds one more at -lazy-at: a site
//	              that grows by one.
//	churn         short-lived handlers (a few ms): churn.
//
// net/http/pprof is served on -addr (loopback only).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

var (
	feed     = make(chan int) // never written: subscribers wait forever
	slots    chan struct{}
	held     = make(chan struct{})
	jobs     = make(chan int)
	rejected int64
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6061", "listen address (loopback only; port 0 picks one)")
	lateAfter := flag.Duration("late-after", 20*time.Second, "when the late leak starts")
	lateEvery := flag.Duration("late-every", 200*time.Millisecond, "interval between leaked subscribers")
	burstAt := flag.Duration("burst-at", 0, "when the burst happens (0: never)")
	burst := flag.Int("burst", 40, "goroutines in the burst")
	burstFor := flag.Duration("burst-for", 5*time.Second, "how long the burst's goroutines live")
	capN := flag.Int("cap", 60, "slots of the capped leak")
	capEvery := flag.Duration("cap-every", 50*time.Millisecond, "interval between requests that take a slot")
	lazyAt := flag.Duration("lazy-at", 15*time.Second, "when the lazy pool adds its second worker")
	churnEvery := flag.Duration("churn-every", 20*time.Millisecond, "interval between bursts of three short handlers (0: no churn)")
	flag.Parse()

	ln, err := listenLoopback(*addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s (pid %d, %s)", ln.Addr(), os.Getpid(), runtime.Version())

	slots = make(chan struct{}, *capN)
	go cappedLeak(*capEvery)
	startLazyPool(*lazyAt)
	if *churnEvery > 0 {
		go churn(*churnEvery)
	}
	go lateLeak(*lateAfter, *lateEvery)
	if *burstAt > 0 {
		go burstAfter(*burstAt, *burst, *burstFor)
	}
	log.Fatal(http.Serve(ln, nil))
}

func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("-addr %q: only loopback addresses are allowed", addr)
	}
	return net.Listen("tcp", addr)
}

// lateLeak: after a while, every request subscribes and is never unsubscribed.
func lateLeak(after, every time.Duration) {
	time.Sleep(after)
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		go subscribe()
	}
}

func subscribe() {
	<-feed
}

// burstAfter starts n goroutines at once that live a few seconds.
func burstAfter(at time.Duration, n int, life time.Duration) {
	time.Sleep(at)
	for i := 0; i < n; i++ {
		go func() { time.Sleep(life) }()
	}
}

// cappedLeak: each request takes a slot and never gives it back; when none is left it is
// turned away.
func cappedLeak(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		select {
		case slots <- struct{}{}:
			go holdSlot()
		default:
			atomic.AddInt64(&rejected, 1)
		}
	}
}

func holdSlot() {
	<-held // the slot is released on a reply that never comes
	<-slots
}

// startLazyPool: one worker at once, a second one when the load first rises. Both are
// started by addWorker, so they are one site that grows by one.
func startLazyPool(at time.Duration) {
	addWorker(1)
	go func() {
		time.Sleep(at)
		addWorker(2)
	}()
}

func addWorker(n int) {
	go lazyWorker(n)
}

func lazyWorker(n int) {
	for j := range jobs {
		_ = j * n
	}
}

// churn: short-lived handlers.
func churn(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		for i := 0; i < 3; i++ {
			go handle()
		}
	}
}

func handle() {
	time.Sleep(5 * time.Millisecond)
}
