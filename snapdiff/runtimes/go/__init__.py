"""Go: goroutine dumps (full stacks, debug=1 aggregates, pprof protobuf)."""
