#!/usr/bin/env bash
# Regenerate samples/node/dumps/tenants-node<major>/: diagnostic reports of
# samples/node/tenant_watch.js (a file watcher leaked per tenant, one fs_poll handle per
# tenant path) taken with kill -USR2 at T0 and T1 seconds after start (default 3 and 13), and
# captures.tsv. The service runs under env -i in an empty folder, so the report holds neither
# the caller's environment nor its paths.
#
# Usage (from the repo root):   samples/regen-tenants.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="${NODE:-$(command -v node)}"
T0="${T0:-3}"; T1="${T1:-13}"
major="$("$NODE" --version)"; major="${major#v}"; major="${major%%.*}"
out="$here/node/dumps/tenants-node$major"
tmp="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/svc" "$tmp/reports"
cp "$here/node/tenant_watch.js" "$tmp/svc/"
(cd "$tmp/svc" && exec env -i "$NODE" --report-on-signal --report-signal=SIGUSR2 \
    --report-directory="$tmp/reports" tenant_watch.js 200 400 >"$tmp/out.log" 2>&1) &
for _ in $(seq 100); do
    pid="$(head -n1 "$tmp/out.log" 2>/dev/null | grep -E '^[0-9]+$' || true)"
    [[ -n "$pid" ]] && break
    sleep 0.1
done
[[ -n "$pid" ]] || { echo "error: tenant_watch.js did not start" >&2; exit 1; }
start="$(date +%s.%N)"
printf 'file\tcaptured_at_utc\n' >"$tmp/captures.tsv"
for cap in "t0:$T0" "t1:$T1"; do
    name="${cap%%:*}"; at="${cap##*:}"
    sleep "$(awk -v s="$start" -v a="$at" -v n="$(date +%s.%N)" 'BEGIN { d = s + a - n; printf "%.3f", (d > 0 ? d : 0) }')"
    before="$(ls "$tmp/reports" | wc -l)"
    ts="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
    kill -USR2 "$pid"
    for _ in $(seq 100); do
        [[ "$(ls "$tmp/reports" | wc -l)" -gt "$before" ]] && break
        sleep 0.1
    done
    sleep 0.5
    f="$(ls -t "$tmp/reports" | head -n1)"
    mv "$tmp/reports/$f" "$tmp/$name.json"
    printf '%s\t%s\n' "$name.json" "$ts" >>"$tmp/captures.tsv"
done
rm -rf "$out"; mkdir -p "$out"
cp "$tmp"/t?.json "$tmp/captures.tsv" "$out/"
echo "wrote $out"
