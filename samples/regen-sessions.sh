#!/usr/bin/env bash
# Regenerate samples/python/dumps/sessions/: py-spy dumps (text) of
# samples/python/session_threads.py (threads named per session and per connection, the session
# threads leaking) at T0 and T1 seconds after start (default 2 and 6), and captures.tsv.
#
# Usage (from the repo root):   samples/regen-sessions.sh
# Environment: PYTHON (default python3), PY_SPY (default py-spy on PATH, then .venv/bin/py-spy).
# py-spy needs ptrace permission on the target: run as root, or set kernel.yama.ptrace_scope=0.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
PYTHON="${PYTHON:-python3}"
PY_SPY="${PY_SPY:-$(command -v py-spy || echo "$root/.venv/bin/py-spy")}"
T0="${T0:-2}"; T1="${T1:-6}"
out="$here/python/dumps/sessions"
tmp="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$PYTHON" "$here/python/session_threads.py" >"$tmp/out.log" 2>&1 &
for _ in $(seq 100); do
    pid="$(head -n1 "$tmp/out.log" 2>/dev/null | grep -E '^[0-9]+$' || true)"
    [[ -n "$pid" ]] && break
    sleep 0.1
done
[[ -n "$pid" ]] || { echo "error: session_threads.py did not start" >&2; cat "$tmp/out.log" >&2; exit 1; }
start="$(date +%s.%N)"
printf 'file\tcaptured_at_utc\n' >"$tmp/captures.tsv"
for cap in "t0:$T0" "t1:$T1"; do
    name="${cap%%:*}"; at="${cap##*:}"
    sleep "$(awk -v s="$start" -v a="$at" -v n="$(date +%s.%N)" 'BEGIN { d = s + a - n; printf "%.3f", (d > 0 ? d : 0) }')"
    ts="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
    "$PY_SPY" dump --pid "$pid" >"$tmp/$name.txt"
    printf '%s\t%s\n' "$name.txt" "$ts" >>"$tmp/captures.tsv"
done
rm -rf "$out"; mkdir -p "$out"
cp "$tmp"/t?.txt "$tmp/captures.tsv" "$out/"
echo "wrote $out"
