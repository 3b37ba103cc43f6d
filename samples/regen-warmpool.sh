#!/usr/bin/env bash
# Regenerate samples/java/dumps/warmpool-jdk<N>/: jstack dumps of samples/java/WarmPool.java
# (a fixed pool of 20 warming up, a ForkJoin pool growing by one worker, a batch of
# short threads that ends) at T0, T1 and T2 seconds after start (default 5, 25 and 35), and
# captures.tsv (file, UTC time).
#
# Usage (from the repo root):   samples/regen-warmpool.sh [JAVA_HOME]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${1:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
T0="${T0:-5}"; T1="${T1:-25}"; T2="${T2:-35}"
major="$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/ *java.specification.version = //p')"
out="$here/java/dumps/warmpool-jdk$major"
tmp="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$home/bin/java" "$here/java/WarmPool.java" >"$tmp/out.log" 2>&1 &
for _ in $(seq 200); do
    pid="$(head -n1 "$tmp/out.log" 2>/dev/null | grep -E '^[0-9]+$' || true)"
    [[ -n "$pid" ]] && break
    sleep 0.1
done
[[ -n "$pid" ]] || { echo "error: WarmPool did not start" >&2; cat "$tmp/out.log" >&2; exit 1; }
start="$(date +%s.%N)"
printf 'file\tcaptured_at_utc\n' >"$tmp/captures.tsv"
for cap in "t0:$T0" "t1:$T1" "t2:$T2"; do
    name="${cap%%:*}"; at="${cap##*:}"
    sleep "$(awk -v s="$start" -v a="$at" -v n="$(date +%s.%N)" 'BEGIN { d = s + a - n; printf "%.3f", (d > 0 ? d : 0) }')"
    ts="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)"
    "$home/bin/jstack" "$pid" >"$tmp/$name.txt"
    printf '%s\t%s\n' "$name.txt" "$ts" >>"$tmp/captures.tsv"
done
rm -rf "$out"; mkdir -p "$out"
cp "$tmp"/t?.txt "$tmp/captures.tsv" "$out/"
echo "wrote $out"
