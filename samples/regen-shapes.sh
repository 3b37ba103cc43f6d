#!/usr/bin/env bash
# Regenerate the Go dumps of samples/go/shapes: the shapes that fool a leak verdict.
#
#   samples/go/dumps/shapes-go<version>/t0.debug2.txt, t1.debug2.txt, captures.tsv
#       one instance, /debug/pprof/goroutine?debug=2 at T0 and T1 (default 10s and 75s after
#       start). Between them: the late leak (main.lateLeak) starts at 2/3 of the interval
#       (LATE_AFTER, default 53s); a burst of 40 short-lived goroutines (main.burstAfter) starts
#       3s before T1; the capped leak (main.cappedLeak) is full from 3s on; the lazy pool
#       (main.startLazyPool) adds its second worker at 40s. T1 is past a minute, so the capped
#       leak's goroutines show their wait minutes.
#   samples/series/go-restart/01..06.json.gz, captures.tsv
#       a series of one service that is killed and started again: three snapshots of the first
#       run (5s, 15s, 25s after start), kill -9, three of the second run (5s, 15s, 25s after
#       it starts). The late leak starts at once (-late-after 0) in both runs.
#   samples/go/dumps/shapes-go<version>/live/NN.debug2.txt
#       twelve dumps of one running instance, half a second apart (restart detection must not
#       fire on any pair of them).
#
# Usage (from the repo root):   samples/regen-shapes.sh [1.27]
# Environment: GO (go binary; default: go on PATH or in .venv/bin), PYTHON (default .venv/bin/python)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
GO="${GO:-$(command -v go || echo "$root/.venv/bin/go")}"
PYTHON="${PYTHON:-$root/.venv/bin/python}"
T0="${T0:-10}"
T1="${T1:-75}"
LATE_AFTER="${LATE_AFTER:-53}"
ver="$(GOTOOLCHAIN=local "$GO" env GOVERSION)"
short="${ver#go}"; short="${short%.*}"
out="$here/go/dumps/shapes-go$short"
series="$here/series/go-restart"

tmp="$(mktemp -d)"
cleanup() {
    for f in "$tmp"/*.pid; do
        [[ -f "$f" ]] && kill "$(cat "$f")" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

now_s() { date +%s.%N; }
utc_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
sleep_until() {
    sleep "$(awk -v s="$1" -v a="$2" -v n="$(now_s)" 'BEGIN { d = s + a - n; printf "%.3f", (d > 0 ? d : 0) }')"
}
start_svc() {  # <log> <args...>: starts the service, prints its address
    local log="$1"; shift
    # stdout elsewhere: the caller reads this function's output to its end.
    "$tmp/shapes" -addr 127.0.0.1:0 "$@" >/dev/null 2>"$log" &
    echo "$!" >"$log.pid"
    for _ in $(seq 100); do
        a="$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -n1)"
        [[ -n "$a" ]] && { echo "$a"; return 0; }
        sleep 0.1
    done
    echo "error: service did not start" >&2; cat "$log" >&2; return 1
}
fetch() {  # <addr> <out> <tsv> : capture and record the time
    local ts; ts="$(utc_iso)"
    curl -fsS --max-time 30 -o "$2" "http://$1/debug/pprof/goroutine?debug=2"
    printf '%s\t%s\n' "$(basename "$2")" "$ts" >>"$3"
}

(cd "$here/go/shapes" && GOTOOLCHAIN=local GOFLAGS= GOWORK=off GOPROXY=off CGO_ENABLED=0 \
    "$GO" build -trimpath -o "$tmp/shapes" .)
mkdir -p "$tmp/pair/live" "$tmp/raw"
printf 'file\tcaptured_at_utc\n' >"$tmp/pair/captures.tsv"
printf 'file\tcaptured_at_utc\n' >"$tmp/raw/captures.tsv"

# The pair, in the background of the restart series.
(
    addr="$(start_svc "$tmp/a.log" -late-after "${LATE_AFTER}s" -burst-at "$((T1 - 3))s" -lazy-at 40s)"
    s="$(now_s)"
    sleep_until "$s" "$T0"; fetch "$addr" "$tmp/pair/t0.debug2.txt" "$tmp/pair/captures.tsv"
    for i in $(seq -w 1 12); do
        sleep 0.5
        curl -fsS -o "$tmp/pair/live/$i.debug2.txt" "http://$addr/debug/pprof/goroutine?debug=2"
    done
    sleep_until "$s" "$T1"; fetch "$addr" "$tmp/pair/t1.debug2.txt" "$tmp/pair/captures.tsv"
    kill "$(cat "$tmp/a.log.pid")"
) & pair=$!

n=0
for run in 1 2; do
    addr="$(start_svc "$tmp/run$run.log" -late-after 0s -lazy-at 12s)"
    s="$(now_s)"
    for at in 5 15 25; do
        n=$((n + 1))
        sleep_until "$s" "$at"
        fetch "$addr" "$tmp/raw/0$n.txt" "$tmp/raw/captures.tsv"
    done
    kill -9 "$(cat "$tmp/run$run.log.pid")"
done
wait "$pair"

mkdir -p "$tmp/series"
printf 'file\tcaptured_at_utc\n' >"$tmp/series/captures.tsv"
tail -n +2 "$tmp/raw/captures.tsv" | while IFS=$'\t' read -r f ts; do
    idx="${f%.txt}"
    (cd "$tmp/raw" && "$PYTHON" -m snapdiff convert "$f" --captured-at "$ts" -o "$tmp/series/$idx.json.gz" --force -q)
    printf '%s\t%s\n' "$idx.json.gz" "$ts" >>"$tmp/series/captures.tsv"
done
rm -rf "$out" "$series"
mkdir -p "$(dirname "$out")" "$(dirname "$series")"
cp -r "$tmp/pair" "$out"
cp -r "$tmp/series" "$series"
echo "wrote $out and $series"
