#!/usr/bin/env bash
# Regenerate the snapshot series in samples/series/<name>/ (inputs of 'snapdiff trend').
#
# Every series is N snapshots (default 6) taken STEP seconds apart (default 10) from a live
# service, each saved with 'snapdiff convert --captured-at <time of the capture>' as
# 01.json.gz, 02.json.gz, ...  All services run side by side, on the same schedule:
#
#   go-leaky        samples/go/leaky, /debug/pprof/goroutine?debug=2.  Leak: main.fetchAll.
#                   At the 3rd capture BURST idle TCP connections are held open to the service
#                   (one net/http connection goroutine each) and closed right after it: a
#                   transient burst at net/http.(*Server).Serve.
#   go-leakprofile  a second instance of samples/go/leaky, /debug/pprof/goroutineleak?debug=2:
#                   the same leak, with Go's own "(leaked)" marks.
#   py-leaky        samples/python/leaky_threads.py (py-spy dump --json).  Leak: _worker
#                   (an executor per request, never shut down).
#   py-noisy        samples/python/noisy_threads.py --leak-every 4: a burst of 40 threads at the
#                   3rd capture (SIGUSR1), churn that ends several times higher than it started,
#                   a steady pool, a stuck watcher, and a slow leak (subscribe).
#   py-noleak       samples/python/noisy_threads.py without the leak: nothing is a leak.
#
# Usage (from the repo root):   samples/regen-series.sh
#
# Environment:
#   GO              the go binary (default: go on PATH, then $VIRTUAL_ENV/bin/go); Go 1.26+ is
#                   needed for go-leakprofile (skipped otherwise)
#   PY_SPY          py-spy binary (default: py-spy on PATH, then $VIRTUAL_ENV/bin/py-spy)
#   PYTHON          the Python that runs the samples and snapdiff (default: $VIRTUAL_ENV/bin/python,
#                   then python3)
#   N, STEP         number of snapshots and seconds between them (default 6 and 10)
#   BURST           connections held open at the 3rd Go capture (default 40)
#
# py-spy needs ptrace permission on the targets: root, kernel.yama.ptrace_scope=0 or
# CAP_SYS_PTRACE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
outroot="$here/series"
N="${N:-6}"
STEP="${STEP:-10}"
BURST="${BURST:-40}"

pick() {  # first executable among the arguments
    local c
    for c in "$@"; do
        [[ -n "$c" && -x "$c" ]] && { echo "$c"; return 0; }
    done
    return 1
}
GO="$(pick "${GO:-}" "$(command -v go || true)" "${VIRTUAL_ENV:-/nonexistent}/bin/go")" || {
    echo "error: go not found; set GO=/path/to/go" >&2; exit 1; }
PY_SPY="$(pick "${PY_SPY:-}" "$(command -v py-spy || true)" "${VIRTUAL_ENV:-/nonexistent}/bin/py-spy")" || {
    echo "error: py-spy not found; set PY_SPY=/path/to/py-spy" >&2; exit 1; }
PYTHON="$(pick "${PYTHON:-}" "${VIRTUAL_ENV:-/nonexistent}/bin/python" "$(command -v python3 || true)")"
echo "go: $GO ($(GOTOOLCHAIN=local "$GO" env GOVERSION)); py-spy: $PY_SPY; python: $PYTHON"

tmp="$(mktemp -d)"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "error: line $LINENO failed: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

now_s() { date +%s.%N; }
utc_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
sleep_until() {
    local left
    left="$(awk -v s="$1" -v a="$2" -v n="$(now_s)" 'BEGIN { d = s + a - n; printf "%.3f", (d > 0 ? d : 0) }')"
    sleep "$left"
}

# wait_line <file> <pid> <sed expression>: waits for the service's first output, prints it.
wait_line() {
    local file="$1" pid="$2" expr="$3" v
    for _ in $(seq 100); do
        v="$(sed -n "$expr" "$file" | head -n1)"
        [[ -n "$v" ]] && { echo "$v"; return 0; }
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "error: service did not start; its output:" >&2
    sed 's/^/    /' "$file" >&2
    return 1
}

# convert <raw file> <time> <out>
convert() {
    "$PYTHON" -m snapdiff convert "$1" --captured-at "$2" -o "$3" --force -q
}

# Build and start the Go service (twice).
(cd "$here/go/leaky" && GOTOOLCHAIN=local GOFLAGS= GOWORK=off GOPROXY=off CGO_ENABLED=0 \
    "$GO" build -trimpath -o "$tmp/leaky" .)
go_args=(-addr 127.0.0.1:0 -log-every 0)
"$tmp/leaky" "${go_args[@]}" 2>"$tmp/go-a.log" & pids+=($!); go_a=$!
"$tmp/leaky" "${go_args[@]}" 2>"$tmp/go-b.log" & pids+=($!); go_b=$!
addr_a="$(wait_line "$tmp/go-a.log" "$go_a" 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p')"
addr_b="$(wait_line "$tmp/go-b.log" "$go_b" 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p')"
leakprofile=1
code="$(curl -sS -o /dev/null -w '%{http_code}' "http://$addr_b/debug/pprof/goroutineleak?debug=0" || true)"
[[ "$code" == 200 ]] || { leakprofile=0; echo "no goroutineleak profile (HTTP $code): go-leakprofile skipped"; }
# That first request ran the leak detector once, before any capture; every later
# goroutineleak capture runs it again.

# Start the Python services.
"$PYTHON" "$here/python/leaky_threads.py" --leak-rate 0.5 --max-leak 0 >"$tmp/py-leaky.out" &
pids+=($!); py_leaky=$!
"$PYTHON" "$here/python/noisy_threads.py" --leak-every 4 >"$tmp/py-noisy.out" & pids+=($!); py_noisy=$!
"$PYTHON" "$here/python/noisy_threads.py" >"$tmp/py-noleak.out" & pids+=($!); py_noleak=$!
for s in py-leaky:$py_leaky py-noisy:$py_noisy py-noleak:$py_noleak; do
    wait_line "$tmp/${s%%:*}.out" "${s##*:}" '1p' >/dev/null
done

names=(go-leaky py-leaky py-noisy py-noleak)
[[ $leakprofile == 1 ]] && names+=(go-leakprofile)
for name in "${names[@]}"; do
    mkdir -p "$tmp/raw/$name"
done

# hold <addr> <count> <seconds>: open idle TCP connections and keep them for a while.
hold() {
    "$PYTHON" - "$1" "$2" "$3" <<'EOF' &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
socks = [socket.create_connection((host, int(port))) for _ in range(int(sys.argv[2]))]
time.sleep(float(sys.argv[3]))
for s in socks:
    s.close()
EOF
}

pyspy() {  # <pid> <name> <index>
    local ts
    ts="$(utc_iso)"
    "$PY_SPY" dump --pid "$1" --json >"$tmp/raw/$2/$3.json"
    echo "$ts" >"$tmp/raw/$2/$3.time"
}
fetch() {  # <url> <name> <index>
    local ts
    ts="$(utc_iso)"
    curl -fsS --max-time 30 -o "$tmp/raw/$2/$3.txt" "$1"
    echo "$ts" >"$tmp/raw/$2/$3.time"
}

start="$(now_s)"
for i in $(seq 1 "$N"); do
    at=$(( 5 + (i - 1) * STEP ))
    idx="$(printf '%02d' "$i")"
    if [[ $i == 3 ]]; then
        sleep_until "$start" "$((at - 1))"
        hold "$addr_a" "$BURST" 2
        holder=$!
        kill -USR1 "$py_noisy" "$py_noleak"
    fi
    sleep_until "$start" "$at"
    caps=()
    fetch "http://$addr_a/debug/pprof/goroutine?debug=2" go-leaky "$idx" & caps+=($!)
    if [[ $leakprofile == 1 ]]; then
        fetch "http://$addr_b/debug/pprof/goroutineleak?debug=2" go-leakprofile "$idx" & caps+=($!)
    fi
    pyspy "$py_leaky" py-leaky "$idx" & caps+=($!)
    pyspy "$py_noisy" py-noisy "$idx" & caps+=($!)
    pyspy "$py_noleak" py-noleak "$idx" & caps+=($!)
    for j in "${caps[@]}"; do
        wait "$j"
    done
    if [[ $i == 3 ]]; then
        wait "$holder"
    fi
    echo "capture $i/$N at t=${at}s"
done

# Convert everything first, then replace the old series: a failure leaves them as they were.
for name in "${names[@]}"; do
    dir="$tmp/series/$name"
    mkdir -p "$dir"
    printf 'file\tcaptured_at_utc\n' >"$dir/captures.tsv"
    for raw in "$tmp/raw/$name"/*.time; do
        idx="$(basename "$raw" .time)"
        src="$name/$idx.txt"
        [[ -f "$tmp/raw/$src" ]] || src="$name/$idx.json"
        ts="$(cat "$raw")"
        # From the raw folder, so that the snapshot's origin reads "go-leaky/01.txt".
        (cd "$tmp/raw" && convert "$src" "$ts" "$dir/$idx.json.gz")
        printf '%s\t%s\n' "$idx.json.gz" "$ts" >>"$dir/captures.tsv"
    done
done
for name in "${names[@]}"; do
    rm -rf "${outroot:?}/$name"
    mkdir -p "$outroot"
    cp -r "$tmp/series/$name" "$outroot/$name"
    echo "wrote $outroot/$name ($(du -sh "$outroot/$name" | cut -f1))"
done
