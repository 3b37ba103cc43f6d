#!/usr/bin/env bash
# Regenerate the Go sample dumps in samples/go/dumps/go<version>/.
#
# For every available Go toolchain (1.27 and 1.19 by default) this builds
# samples/go/leaky, runs it twice side by side and captures:
#
#   instance A (HTTP, net/http/pprof):
#     t0.debug2.txt, t0.debug1.txt      /debug/pprof/goroutine?debug=2 / ?debug=1 at T0
#     t0.debug0.pb.gz                   /debug/pprof/goroutine?debug=0 at T0 (gzipped protobuf)
#     t1.debug2.txt, t1.debug1.txt,     the same at T1
#       t1.debug0.pb.gz
#     t1.goroutineleak.debug2.txt       /debug/pprof/goroutineleak?debug=2 at T1 (if the runtime has it)
#     t1.goroutineleak.debug1.txt       /debug/pprof/goroutineleak?debug=1 at T1 (if the runtime has it)
#     t1.goroutineleak.debug0.pb.gz     /debug/pprof/goroutineleak?debug=0 at T1 (if the runtime has it)
#     t1.heap.pprof, t1.cpu.pprof       /debug/pprof/heap and /debug/pprof/profile?seconds=1 after
#                                       those: profiles of other types, which snapdiff refuses
#                                       (gzipped protobuf too; not named .gz, so that tests
#                                       which read every dump here leave them out)
#   instance B (GOTRACEBACK=all, stderr to a file):
#     sigquit.txt                       log lines + the crash dump written on SIGQUIT at T1
#
# and captures.tsv (file, UTC capture time, seconds since that instance
# started).  T1 must be more than 60s after start: the runtime only prints
# ", N minutes" in a goroutine header once it has been blocked for a minute.
#
# The goroutine leak profile:
#   * Go 1.26 added /debug/pprof/goroutineleak behind
#     GOEXPERIMENT=goroutineleakprofile.  In Go 1.27 the experiment flag is
#     gone and the profile is always registered, so no special build is
#     needed.  Go 1.19 answers 404 and is skipped.
#   * Requesting it runs a GC cycle that marks goroutines blocked on
#     unreachable channels/locks as leaked.  ?debug=1 lists only those;
#     ?debug=2 is a full dump of *all* goroutines in which the leaked ones
#     read "[chan send (leaked)]".  Leaked goroutines never show ", N
#     minutes" (the runtime only prints the wait time for waiting goroutines)
#     and they stay marked until the next leak-detection cycle, so every
#     later dump of that process shows them as leaked too.  That is why the
#     SIGQUIT dump comes from a separate instance that never ran the
#     detector.
#   * The fan-out senders in main.fetchOne are found (their channel is only
#     referenced by the blocked senders).  watchConfig is not: it waits on a
#     package-level channel, which stays reachable.
#
# Since Go 1.27 (GODEBUG tracebacklabels=1, set in main.go with //go:debug)
# the debug=2 and SIGQUIT headers also carry pprof labels, e.g.
#   goroutine 42 [chan send, 1 minutes] {handler: /api/v1/items, tenant: acme}:
#
# Usage (from the repo root):   samples/regen-go.sh [1.27 1.19]
#                                DEBUG0_ONLY=1 samples/regen-go.sh [1.27 1.19]
#
# Environment:
#   GO127, GO119    go binaries to use (default: searched on PATH,
#                   $VIRTUAL_ENV/bin and /usr/lib/go-<version>/bin)
#   T0, T1          capture times in seconds after start (default 5 and 75)
#   LEAK_RATE       interval between leaking fan-out requests (default 300ms)
#   MAX_LEAK        upper bound on leaked goroutines (default 400)
#   BUILDFLAGS      extra go build flags (default -trimpath, which keeps
#                   file paths in the dumps independent of the checkout)
#   DEBUG0_ONLY     1: run instance A only, capture only the protobuf profiles
#                   (*.pb.gz, *.pprof) and add them (and their captures.tsv rows) to the
#                   existing dumps/go<version>/, leaving every other file as it
#                   is (tests pin figures read from those files)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$here/go/leaky"
outroot="$here/go/dumps"

T0="${T0:-5}"
T1="${T1:-75}"
LEAK_RATE="${LEAK_RATE:-300ms}"
MAX_LEAK="${MAX_LEAK:-400}"
BUILDFLAGS="${BUILDFLAGS:--trimpath}"
DEBUG0_ONLY="${DEBUG0_ONLY:-0}"

if [[ $# -gt 0 ]]; then
    versions=("$@")
else
    versions=(1.27 1.19)
fi

# go_version <go binary>: prints e.g. "go1.27.3", fails if it does not run.
go_version() {
    local out
    out="$(GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null)" || return 1
    [[ -n "$out" ]] && echo "$out"
}

# find_go <version>: prints a go binary whose version is go<version>[.x].
find_go() {
    local ver="$1" var cand v
    local -a cands=()
    var="GO${ver//./}"
    if [[ -n "${!var:-}" ]]; then
        cands+=("${!var}")
    fi
    command -v "go$ver" >/dev/null 2>&1 && cands+=("$(command -v "go$ver")")
    command -v go >/dev/null 2>&1 && cands+=("$(command -v go)")
    [[ -n "${VIRTUAL_ENV:-}" ]] && cands+=("$VIRTUAL_ENV/bin/go")
    cands+=("/usr/lib/go-$ver/bin/go" "/usr/local/go/bin/go")
    for cand in "${cands[@]}"; do
        [[ -x "$cand" ]] || continue
        v="$(go_version "$cand")" || continue
        if [[ "$v" == "go$ver" || "$v" == "go$ver."* ]]; then
            echo "$cand"
            return 0
        fi
    done
    return 1
}

now_s() { date +%s.%N; }
utc_iso() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
sleep_until() {
    local start="$1" at="$2" left
    left="$(awk -v s="$start" -v a="$at" -v n="$(now_s)" 'BEGIN { d = s + a - n; printf "%.3f", (d > 0 ? d : 0) }')"
    sleep "$left"
}

tmp=""
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    pids=()
    [[ -n "$tmp" ]] && rm -rf "$tmp"
    tmp=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_addr <log file> <pid>: waits for the "listening on" line, prints host:port.
wait_addr() {
    local log="$1" pid="$2" addr
    for _ in $(seq 100); do
        addr="$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -n1)"
        if [[ -n "$addr" ]]; then
            echo "$addr"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "error: service did not start; its log:" >&2
    sed 's/^/    /' "$log" >&2
    return 1
}

# fetch <dir> <start> <file> <url>: saves url as dir/file and logs it in captures.tsv.
fetch() {
    local dir="$1" start="$2" file="$3" url="$4" ts t
    ts="$(utc_iso)"
    t="$(elapsed "$start" "$(now_s)")"
    curl -fsS --max-time 30 -o "$dir/$file" "$url"
    printf '%s\t%s\t%s\n' "$file" "$ts" "$t" >>"$dir/captures.tsv"
    printf '  %-30s t=%6ss\n' "$file" "$t"
}

# summary <dir>: size and goroutine count of every dump.  debug=2 and SIGQUIT
# dumps are counted by "goroutine N [" headers; debug=1 profiles have no such
# headers, so their "profile: total N" line is shown instead.
summary() {
    local dir="$1" f n
    printf '  %-30s %10s %11s\n' file bytes goroutines
    for f in "$dir"/*.txt; do
        if grep -q '^goroutine[a-z]* profile: total ' "$f"; then
            n="total=$(sed -n 's/^goroutine[a-z]* profile: total \([0-9]*\).*/\1/p' "$f" | head -n1)"
        else
            n="$(grep -c '^goroutine [0-9]' "$f" || true)"
        fi
        printf '  %-30s %10s %11s\n' "$(basename "$f")" "$(wc -c <"$f")" "$n"
    done
    for f in "$dir"/*.pb.gz "$dir"/*.pprof; do
        [[ -e "$f" ]] || continue
        printf '  %-30s %10s %11s\n' "$(basename "$f")" "$(wc -c <"$f")" "(protobuf)"
    done
}

only() { [[ "$DEBUG0_ONLY" == 1 ]]; }

for ver in "${versions[@]}"; do
    if ! gobin="$(find_go "$ver")"; then
        echo "go$ver not found (set GO${ver//./}=/path/to/go), skipping"
        continue
    fi
    gover="$(go_version "$gobin")"
    echo "go$ver: $gobin ($gover)"

    tmp="$(mktemp -d)"
    out="$tmp/out"
    mkdir -p "$out"
    bin="$tmp/leaky"
    # shellcheck disable=SC2086 # BUILDFLAGS is a list of flags
    (cd "$src" && GOTOOLCHAIN=local GOFLAGS= GOWORK=off GOPROXY=off CGO_ENABLED=0 \
        "$gobin" build $BUILDFLAGS -o "$bin" .)

    printf 'file\tcaptured_at_utc\tseconds_since_start\n' >"$out/captures.tsv"
    args=(-addr 127.0.0.1:0 -leak-rate "$LEAK_RATE" -max-leak "$MAX_LEAK")

    # Instance A: HTTP captures.
    start_a="$(now_s)"
    "$bin" "${args[@]}" 2>"$tmp/a.log" &
    pid_a=$!
    pids+=("$pid_a")
    # Instance B: SIGQUIT dump.  Started right after A, so both follow the
    # same schedule.
    if ! only; then
        start_b="$(now_s)"
        GOTRACEBACK=all "$bin" "${args[@]}" 2>"$tmp/sigquit.txt" &
        pid_b=$!
        pids+=("$pid_b")
    fi

    addr="$(wait_addr "$tmp/a.log" "$pid_a")"
    only || wait_addr "$tmp/sigquit.txt" "$pid_b" >/dev/null
    base="http://$addr/debug/pprof"

    # The protobuf profiles (no debug parameter = debug=0) are gzipped by the
    # runtime itself: they are saved as they come.
    sleep_until "$start_a" "$T0"
    if ! only; then
        fetch "$out" "$start_a" t0.debug2.txt "$base/goroutine?debug=2"
        fetch "$out" "$start_a" t0.debug1.txt "$base/goroutine?debug=1"
    fi
    fetch "$out" "$start_a" t0.debug0.pb.gz "$base/goroutine?debug=0"

    sleep_until "$start_a" "$T1"
    if ! only; then
        fetch "$out" "$start_a" t1.debug2.txt "$base/goroutine?debug=2"
        fetch "$out" "$start_a" t1.debug1.txt "$base/goroutine?debug=1"
    fi
    fetch "$out" "$start_a" t1.debug0.pb.gz "$base/goroutine?debug=0"

    # The leak profile last: it marks goroutines as leaked for good.
    code="$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' "$base/goroutineleak?debug=1" || true)"
    if [[ "$code" == 200 ]]; then
        if ! only; then
            fetch "$out" "$start_a" t1.goroutineleak.debug2.txt "$base/goroutineleak?debug=2"
            fetch "$out" "$start_a" t1.goroutineleak.debug1.txt "$base/goroutineleak?debug=1"
            if ! grep -q '(leaked)' "$out/t1.goroutineleak.debug2.txt"; then
                echo "  warning: no '(leaked)' goroutines in t1.goroutineleak.debug2.txt" >&2
            fi
        fi
        fetch "$out" "$start_a" t1.goroutineleak.debug0.pb.gz "$base/goroutineleak?debug=0"
    else
        echo "  goroutineleak profile not available in $gover (HTTP $code), skipped"
    fi
    fetch "$out" "$start_a" t1.heap.pprof "$base/heap"
    fetch "$out" "$start_a" t1.cpu.pprof "$base/profile?seconds=1"

    dir="$outroot/go$ver"
    if only; then
        # Add the new profiles to the existing directory; keep every other file.
        mkdir -p "$dir"
        cp "$out"/*.pb.gz "$out"/*.pprof "$dir"/
        if [[ -f "$dir/captures.tsv" ]]; then
            grep -Ev '\.(pb\.gz|pprof)	' "$dir/captures.tsv" >"$tmp/captures.tsv" || true
        else
            printf 'file\tcaptured_at_utc\tseconds_since_start\n' >"$tmp/captures.tsv"
        fi
        grep -E '\.(pb\.gz|pprof)	' "$out/captures.tsv" >>"$tmp/captures.tsv"
        cp "$tmp/captures.tsv" "$dir/captures.tsv"
        cleanup
        echo "wrote the protobuf profiles in $dir"
        summary "$dir"
        continue
    fi

    # Instance B: let the log show a few status lines, then SIGQUIT.
    sleep_until "$start_b" "$T1"
    ts="$(utc_iso)"
    t="$(elapsed "$start_b" "$(now_s)")"
    kill -QUIT "$pid_b"
    rc=0
    wait "$pid_b" || rc=$?
    if [[ $rc -ne 2 ]]; then
        echo "  warning: SIGQUIT'd service exited with status $rc (expected 2)" >&2
    fi
    cp "$tmp/sigquit.txt" "$out/sigquit.txt"
    printf '%s\t%s\t%s\n' sigquit.txt "$ts" "$t" >>"$out/captures.tsv"
    printf '  %-30s t=%6ss\n' sigquit.txt "$t"

    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$out"/* "$dir"/
    cleanup
    echo "wrote $dir"
    summary "$dir"
done
