#!/usr/bin/env bash
# Regenerate samples/series/go-fleet/: one 'snapdiff capture' of a fleet of the Go sample
# service (samples/go/leaky), ROUNDS rounds STEP seconds apart, as a fleet capture writes them
# (snap-rNNN-<address>-<time>.json.gz, each recording its replica).
#
#   r001-r004  leaking as the sample does (main.fetchAll)
#   r005       -max-leak 2: leaks two goroutines at start, then holds (steady)
#   r006       leaking, killed and started again on the same port after the 2nd round
#   r007       a port that accepts connections and never answers: fails every round
#
# Usage (from the repo root):   samples/regen-fleet.sh
# Environment: GO (default: go on PATH, then $VIRTUAL_ENV/bin/go), PYTHON (the Python with
# snapdiff installed; default $VIRTUAL_ENV/bin/python, then python3), ROUNDS (4), STEP (10).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/series/go-fleet"
ROUNDS="${ROUNDS:-4}"
STEP="${STEP:-10}"
pick() {
    local c
    for c in "$@"; do [[ -n "$c" && -x "$c" ]] && { echo "$c"; return 0; }; done
    return 1
}
GO="$(pick "${GO:-}" "$(command -v go || true)" "${VIRTUAL_ENV:-/nonexistent}/bin/go")" || {
    echo "error: go not found; set GO=/path/to/go" >&2; exit 1; }
PYTHON="$(pick "${PYTHON:-}" "${VIRTUAL_ENV:-/nonexistent}/bin/python" "$(command -v python3 || true)")"

tmp="$(mktemp -d)"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$here/go/leaky" && GOTOOLCHAIN=local GOPROXY=off GOFLAGS= GOWORK=off CGO_ENABLED=0 \
    "$GO" build -trimpath -o "$tmp/leaky" .)

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
start() {  # start PORT ARGS...: the service on 127.0.0.1:PORT; its pid in $started
    local port=$1; shift
    "$tmp/leaky" -addr "127.0.0.1:$port" "$@" >/dev/null 2>>"$tmp/log" &
    started=$!
    pids+=("$started")
}
: >"$tmp/targets"
declare -a ports
for i in 1 2 3 4 5 6; do
    ports[$i]=$(free_port)
    echo "http://127.0.0.1:${ports[$i]}" >>"$tmp/targets"
done
for i in 1 2 3 4; do start "${ports[$i]}"; done
start "${ports[5]}" -max-leak 2
start "${ports[6]}"
restarted=$started
# r007: listens, never accepts, never answers.
"$PYTHON" -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(64)
print(s.getsockname()[1], flush=True); time.sleep(3600)' >"$tmp/mute" </dev/null &
pids+=($!)
sleep 1
echo "http://127.0.0.1:$(cat "$tmp/mute")" >>"$tmp/targets"
sleep 5  # let the services start leaking

rm -rf "$out"
mkdir -p "$out"
(
    sleep $((STEP + STEP / 2))
    kill "$restarted"
    sleep 1
    "$tmp/leaky" -addr "127.0.0.1:${ports[6]}" >/dev/null 2>>"$tmp/log" &
    echo $! >"$tmp/restarted.pid"
) &
watcher=$!
set +e
"$PYTHON" -m snapdiff capture --targets "$tmp/targets" --every "${STEP}s" --count "$ROUNDS" \
    --timeout 3s -o "$out/"
rc=$?
set -e
wait "$watcher"
pids+=("$(cat "$tmp/restarted.pid")")
echo "capture exit status $rc (4: r007 failed every round, as meant)"
ls "$out"
