#!/usr/bin/env bash
# Regenerate the Node.js sample reports in samples/node/dumps/node<major>/.
#
# handles.json: samples/node/handle_zoo.js holds one libuv handle of each common kind (and a
# worker thread) and writes a report from a nested call, so it has a JavaScript stack.
# cluster.json: samples/node/cluster_worker.js, a cluster worker holding 3 accepted connections
# (and their client ends) whose listener is the primary's. stdout.log: a report written with
# --report-filename=stdout between log lines.
#
# Starts the peers of samples/node/leaky_sockets.js, then the service under
#   node --report-on-signal --report-signal=SIGUSR2 --report-directory=<tmp>
# and asks it for a diagnostic report with `kill -USR2` at T0 (shortly after start) and T1
# (after the leak has grown), as an on-call engineer would. Writes t0.json, t1.json and
# captures.tsv. Both processes run under `env -i` so the reports hold no variables of the
# environment the script runs in (a report lists every environment variable).
#
# Usage (from the repo root):   samples/regen-node.sh
#
# Environment:
#   NODE             node binary (default: node on PATH)
#   T0, T1           report times in seconds after start (default 3 and 13)
#   CLIENTS          keep-alive clients, each sending a request per INTERVAL_MS (default 3)
#   INTERVAL_MS      default 1000
#   MAX_LEAK         upper bound on leaked audit connections (default 100)
#   API_PORT, UPSTREAM_PORT, AUDIT_PORT, CLUSTER_PORT   default 18080-18083 (on 127.0.0.1)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
script="$here/node/leaky_sockets.js"

NODE="${NODE:-$(command -v node || true)}"
T0="${T0:-3}"
T1="${T1:-13}"
CLIENTS="${CLIENTS:-3}"
INTERVAL_MS="${INTERVAL_MS:-1000}"
MAX_LEAK="${MAX_LEAK:-100}"
API_PORT="${API_PORT:-18080}"
UPSTREAM_PORT="${UPSTREAM_PORT:-18081}"
AUDIT_PORT="${AUDIT_PORT:-18082}"
CLUSTER_PORT="${CLUSTER_PORT:-18083}"

if [[ -z "$NODE" ]]; then
    echo "error: node not found; install Node.js or set NODE=/path/to/node" >&2
    exit 1
fi
version="$("$NODE" --version)"
major="${version#v}"
major="${major%%.*}"
outdir="$here/node/dumps/node$major"
echo "using $NODE ($version)"

work="$(mktemp -d)"
peers_pid=""
svc_pid=""
cleanup() {
    for pid in "$svc_pid" "$peers_pid"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
sleep_until() {
    local start="$1" at="$2" left
    left="$(awk -v s="$start" -v a="$at" -v n="$(now_s)" 'BEGIN { d = s + a - n; printf "%.3f", (d > 0 ? d : 0) }')"
    sleep "$left"
}

# Copy the script so the reports name a neutral path, not the checkout's.
mkdir -p "$work/app" "$work/reports"
cp "$script" "$work/app/leaky_sockets.js"
cp "$here/node/handle_zoo.js" "$work/app/handle_zoo.js"

start="$(now_s)"
(cd "$work/app" && exec env -i "$NODE" --report-on-signal --report-signal=SIGUSR2 \
    --report-directory="$work/reports" leaky_sockets.js service \
    "$API_PORT" "$UPSTREAM_PORT" "$AUDIT_PORT" "$MAX_LEAK" \
    >"$work/service.out" 2>"$work/service.err") &
svc_pid=$!
for _ in $(seq 50); do
    [[ -s "$work/service.out" ]] && break
    sleep 0.1
done
reported="$(head -n1 "$work/service.out")"
if [[ "$reported" != "$svc_pid" ]]; then
    echo "error: service reported pid '$reported', expected $svc_pid" >&2
    cat "$work/service.err" >&2
    exit 1
fi
(cd "$work/app" && exec env -i "$NODE" leaky_sockets.js peers \
    "$API_PORT" "$UPSTREAM_PORT" "$AUDIT_PORT" "$CLIENTS" "$INTERVAL_MS" \
    >/dev/null 2>"$work/peers.err") &
peers_pid=$!

rm -rf "$outdir"
mkdir -p "$outdir"
printf 'file\tseconds_since_start\n' >"$outdir/captures.tsv"

# report <name>: kill -USR2, wait for the new report file, move it to $outdir/<name>.
report() {
    local name="$1" before f t
    before="$(ls "$work/reports" | wc -l)"
    t="$(elapsed "$start" "$(now_s)")"
    kill -USR2 "$svc_pid"
    for _ in $(seq 100); do
        [[ "$(ls "$work/reports" | wc -l)" -gt "$before" ]] && break
        sleep 0.05
    done
    f="$(ls -t "$work/reports" | head -n1)"
    sleep 0.2 # let node finish writing
    mv "$work/reports/$f" "$outdir/$name"
    printf '%s\t%s\n' "$name" "$t" >>"$outdir/captures.tsv"
    printf '  %-8s t=%6ss  %s bytes (was %s)\n' "$name" "$t" "$(wc -c <"$outdir/$name")" "$f"
}

(cd "$work/app" && env -i "$NODE" handle_zoo.js "$work/handles.json" >/dev/null 2>"$work/zoo.err")
mv "$work/handles.json" "$outdir/handles.json"
printf '  %-8s %s bytes\n' handles.json "$(wc -c <"$outdir/handles.json")"
# A report written among log lines, as --report-filename=stdout does in a container's log.
(cd "$work/app" && env -i "$NODE" --report-filename=stdout -e \
    "console.log('service starting'); process.report.writeReport(); console.log('service up')" \
    >"$outdir/stdout.log" 2>&1)
printf '  %-8s %s bytes\n' stdout.log "$(wc -c <"$outdir/stdout.log")"
cp "$here/node/cluster_worker.js" "$work/app/cluster_worker.js"
(cd "$work/app" && env -i "$NODE" cluster_worker.js "$CLUSTER_PORT" "$work/cluster.json" >/dev/null 2>"$work/cluster.err")
mv "$work/cluster.json" "$outdir/cluster.json"
printf '  %-8s %s bytes\n' cluster.json "$(wc -c <"$outdir/cluster.json")"

sleep_until "$start" "$T0"
report t0.json
sleep_until "$start" "$T1"
report t1.json
