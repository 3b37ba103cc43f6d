package main

import "log"

// configReload would be signalled by an admin endpoint that was never
// written. It is a package-level variable, so it stays reachable.
var configReload = make(chan string)

func startConfigWatcher(path string) {
	go watchConfig(path)
}

// watchConfig blocks forever in "chan receive": one constant stuck
// goroutine that is not a leak.
func watchConfig(path string) {
	log.Printf("config: watching %s", path)
	for p := range configReload {
		log.Printf("config: reloading %s", p)
	}
}
