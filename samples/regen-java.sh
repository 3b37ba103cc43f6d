#!/usr/bin/env bash
# Regenerate the JVM sample dumps in samples/java/dumps/jdk<N>/.
#
# Starts samples/java/LeakyService.java on each JDK, sends it requests at a steady rate
# (each GET /work leaks one fixed thread pool; on JDK 21+ each GET /vwork leaks one virtual
# thread in its own executor), and captures at T0 (early) and T1 (later):
#
#   t0.txt, t1.txt                 jstack PID
#   t0.l.txt, t1.l.txt             jstack -l PID (JDK 17)
#   sigquit.txt                    the service's stdout around a kill -3 at T1 (JDK 17)
#   t0.json, t1.json               jcmd PID Thread.dump_to_file -format=json (JDK 21+)
#   t0.actuator.json, t1.actuator.json
#                                  GET /threaddump: ThreadMXBean.dumpAllThreads as Spring Boot's
#                                  /actuator/threaddump writes it (no Spring Boot involved)
#
# and captures.tsv (file, UTC time, seconds since the service was up). Dumps over 100 KB are gzipped.
#
# Usage (from the repo root):   samples/regen-java.sh [JAVA_HOME ...]
# Default JDKs: the java on PATH and /usr/lib/jvm/temurin-25-jdk-amd64 when present.
#
# Environment:
#   T0, T1          capture times in seconds after start (default 5 and 25)
#   RATE            seconds between requests (default 0.4)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
service="$here/java/LeakyService.java"
outroot="$here/java/dumps"

T0="${T0:-5}"
T1="${T1:-25}"
RATE="${RATE:-0.4}"

if [[ $# -gt 0 ]]; then
    homes=("$@")
else
    homes=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
    [[ -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ]] && homes+=(/usr/lib/jvm/temurin-25-jdk-amd64)
fi

now_s() { date +%s.%N; }
utc_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
sleep_until() {
    local start="$1" at="$2" left
    left="$(awk -v s="$start" -v a="$at" -v n="$(now_s)" 'BEGIN { d = s + a - n; printf "%.3f", (d > 0 ? d : 0) }')"
    sleep "$left"
}

svc_pid=""
driver_pid=""
svc_out=""
cleanup() {
    for p in "$driver_pid" "$svc_pid"; do
        if [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    [[ -n "$svc_out" ]] && rm -f "$svc_out"
    svc_pid="" driver_pid="" svc_out=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# record <dir> <start> <file>: note the capture in captures.tsv and print its size.
record() {
    local dir="$1" start="$2" file="$3" ts="$4" t
    t="$(elapsed "$start" "$ts")"
    printf '%s\t%s\t%s\n' "$file" "$(date -u -d "@$ts" +%Y-%m-%dT%H:%M:%S.%3NZ)" "$t" >>"$dir/captures.tsv"
    printf '  %-20s t=%6ss  %s bytes\n' "$file" "$t" "$(wc -c <"$dir/$file")"
}

# capture <dir> <start> <tag> <feature...>: every dump this JDK can give at this moment.
capture() {
    local dir="$1" start="$2" tag="$3" ts
    ts="$(now_s)"
    "$jhome/bin/jstack" "$svc_pid" >"$dir/$tag.txt"
    record "$dir" "$start" "$tag.txt" "$ts"
    if [[ $major -lt 21 ]]; then
        ts="$(now_s)"
        "$jhome/bin/jstack" -l "$svc_pid" >"$dir/$tag.l.txt"
        record "$dir" "$start" "$tag.l.txt" "$ts"
    else
        ts="$(now_s)"
        "$jhome/bin/jcmd" "$svc_pid" Thread.dump_to_file -format=json "$dir/$tag.json" >/dev/null
        record "$dir" "$start" "$tag.json" "$ts"
    fi
    ts="$(now_s)"
    curl -sf "http://127.0.0.1:$port/threaddump" >"$dir/$tag.actuator.json"
    record "$dir" "$start" "$tag.actuator.json" "$ts"
}

for jhome in "${homes[@]}"; do
    major="$("$jhome/bin/java" -XshowSettings:properties -version 2>&1 |
        awk -F'= ' '/java.specification.version/ { print $2 }')"
    dir="$outroot/jdk$major"
    rm -rf "$dir"
    mkdir -p "$dir"
    printf 'file\tcaptured_at_utc\tseconds_since_start\n' >"$dir/captures.tsv"
    echo "jdk$major: $jhome ($("$jhome/bin/java" -version 2>&1 | head -n1))"

    svc_out="$(mktemp)"
    "$jhome/bin/java" -XX:+UseSerialGC "$service" >"$svc_out" 2>&1 &
    svc_pid=$!
    # The service prints "<pid> <port>" once it serves (JDK 25 takes seconds to compile it);
    # capture times count from then.
    for _ in $(seq 300); do
        [[ -s "$svc_out" ]] && break
        sleep 0.1
    done
    start="$(now_s)"
    read -r reported port <"$svc_out"
    if [[ "$reported" != "$svc_pid" ]]; then
        echo "error: service reported pid '$reported', expected $svc_pid" >&2
        exit 1
    fi

    # The driver: one leaking request every $RATE seconds (and a virtual one on JDK 21+).
    (
        while true; do
            curl -sf "http://127.0.0.1:$port/work" >/dev/null || true
            [[ $major -ge 21 ]] && { curl -sf "http://127.0.0.1:$port/vwork" >/dev/null || true; }
            sleep "$RATE"
        done
    ) &
    driver_pid=$!

    sleep_until "$start" "$T0"
    capture "$dir" "$start" t0
    sleep_until "$start" "$T1"
    capture "$dir" "$start" t1
    if [[ $major -lt 21 ]]; then
        # kill -3: the JVM prints the dump on its own stdout, between the service's log lines.
        lines="$(wc -l <"$svc_out")"
        ts="$(now_s)"
        kill -QUIT "$svc_pid"
        sleep 1.5
        tail -n +"$((lines > 5 ? lines - 5 : 1))" "$svc_out" >"$dir/sigquit.txt"
        record "$dir" "$start" sigquit.txt "$ts"
    fi
    cleanup

    for f in "$dir"/*.txt "$dir"/*.json; do
        if [[ $(wc -c <"$f") -gt 100000 ]]; then
            gzip -9n "$f"
            sed -i "s|^$(basename "$f")\t|$(basename "$f").gz\t|" "$dir/captures.tsv"
        fi
    done
done
