#!/usr/bin/env bash
# Regenerate the faulthandler and pystack dumps of samples/python/leaky_threads.py in
# samples/python/dumps/faulthandler/py<version>/ and samples/python/dumps/pystack/py<version>/.
#
# For every available CPython (3.9, 3.11, 3.12, 3.13 by default) this starts the service with
# LEAKY_FAULTHANDLER=1 (faulthandler on SIGUSR1 and on fatal signals, writing to stderr among
# the service's log lines), then at T0 and T1:
#   - sends SIGUSR1: the dump lands in stderr; the bytes stderr grew by are saved as t0.txt /
#     t1.txt (a log line may come with them, as it would in a real log),
#   - runs `pystack remote PID` (and at T1 also --locals and --native), when pystack is there.
# At the end it sends SIGABRT: faulthandler writes "Fatal Python error: Aborted" and every
# thread. The whole stderr (log lines, both SIGUSR1 dumps, the fatal dump) is kept as
# stderr.log, the fatal dump alone as fatal.txt. One more short run on the last version leaks
# past 100 threads, where faulthandler stops listing threads ("..."): cut.txt.
#
# Usage (from the repo root):   samples/regen-pyfmt.sh [3.9 3.11 ...]
#
# Environment:
#   PYSTACK         pystack binary (default: pystack on PATH, then $VIRTUAL_ENV/bin/pystack)
#   T0, T1          capture times in seconds after start (default 3 and 25)
#   LEAK_RATE       seconds between leaking requests (default 0.3)
#   MAX_LEAK        upper bound on leaked threads (default 60: below faulthandler's 100 threads)
#
# pystack needs ptrace permission on the target: run as root, or set
# kernel.yama.ptrace_scope=0, or grant CAP_SYS_PTRACE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
service="$here/python/leaky_threads.py"
fh_root="$here/python/dumps/faulthandler"
ps_root="$here/python/dumps/pystack"

T0="${T0:-3}"
T1="${T1:-25}"
LEAK_RATE="${LEAK_RATE:-0.3}"
MAX_LEAK="${MAX_LEAK:-60}"

if [[ $# -gt 0 ]]; then
    versions=("$@")
else
    versions=(3.9 3.11 3.12 3.13)
fi

find_pystack() {
    if [[ -n "${PYSTACK:-}" ]]; then
        echo "$PYSTACK"
    elif command -v pystack >/dev/null 2>&1; then
        command -v pystack
    elif [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/pystack" ]]; then
        echo "$VIRTUAL_ENV/bin/pystack"
    else
        return 1
    fi
}

# The real interpreter path for a version (pyenv shims only run when selected).
find_python() {
    local ver="$1" cand exe
    local -a cands=("python$ver")
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    for d in "$pyenv_root"/versions/"$ver".*/bin/python"$ver"; do
        [[ -x "$d" ]] && cands+=("$d")
    done
    for cand in "${cands[@]}"; do
        if exe="$("$cand" -c 'import sys; print(sys.executable)' 2>/dev/null)" && [[ -n "$exe" ]]; then
            echo "$exe"
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
size_of() { wc -c <"$1" | tr -d ' '; }

PYSTACK_BIN=""
if PYSTACK_BIN="$(find_pystack)"; then
    echo "using $PYSTACK_BIN ($("$PYSTACK_BIN" --version 2>&1 | head -n1))"
else
    echo "pystack not found: faulthandler dumps only"
    PYSTACK_BIN=""
fi

svc_pid=""
svc_out=""
cleanup() {
    if [[ -n "$svc_pid" ]] && kill -0 "$svc_pid" 2>/dev/null; then
        kill -KILL "$svc_pid" 2>/dev/null || true
    fi
    [[ -n "$svc_pid" ]] && { wait "$svc_pid" 2>/dev/null || true; }
    [[ -n "$svc_out" ]] && rm -f "$svc_out"
    svc_pid=""
    svc_out=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start <python> <stderr file> <service args...>: starts the service, sets svc_pid.
start_service() {
    local py="$1" err="$2"
    shift 2
    svc_out="$(mktemp)"
    LEAKY_FAULTHANDLER=1 "$py" "$service" "$@" >"$svc_out" 2>"$err" &
    svc_pid=$!
    for _ in $(seq 50); do
        [[ -s "$svc_out" ]] && break
        sleep 0.1
    done
    local reported
    reported="$(head -n1 "$svc_out")"
    if [[ "$reported" != "$svc_pid" ]]; then
        echo "error: service reported pid '$reported', expected $svc_pid" >&2
        exit 1
    fi
}

# sigusr1 <stderr file> <out file>: dump once, save what stderr grew by.
sigusr1() {
    local err="$1" out="$2" before
    before="$(size_of "$err")"
    kill -USR1 "$svc_pid"
    sleep 0.5
    tail -c +"$((before + 1))" "$err" >"$out"
}

# pystack_capture <dir> <start> <file> <args...>
pystack_capture() {
    local dir="$1" start="$2" file="$3"
    shift 3
    [[ -n "$PYSTACK_BIN" ]] || return 0
    local ts t errf
    ts="$(utc_iso)"
    t="$(elapsed "$start" "$(now_s)")"
    errf="$(mktemp)"
    if "$PYSTACK_BIN" remote --no-color "$@" "$svc_pid" >"$dir/$file" 2>"$errf"; then
        printf '%s\t%s\t%s\n' "$file" "$ts" "$t" >>"$dir/captures.tsv"
        printf '  pystack %-18s t=%6ss  %s bytes\n' "$file" "$t" "$(size_of "$dir/$file")"
    else
        echo "  pystack $file ($*) failed:" >&2
        sed 's/^/    /' "$errf" >&2
        rm -f "$dir/$file"
    fi
    rm -f "$errf"
}

captured=0
last_py=""
last_ver=""
for ver in "${versions[@]}"; do
    if ! py="$(find_python "$ver")"; then
        echo "python$ver not available, skipping"
        continue
    fi
    fh="$fh_root/py$ver"
    ps="$ps_root/py$ver"
    rm -rf "$fh" "$ps"
    mkdir -p "$fh"
    [[ -n "$PYSTACK_BIN" ]] && mkdir -p "$ps" &&
        printf 'file\tcaptured_at_utc\tseconds_since_start\n' >"$ps/captures.tsv"
    printf 'file\tcaptured_at_utc\tseconds_since_start\n' >"$fh/captures.tsv"
    echo "python$ver: $py"

    start="$(now_s)"
    start_service "$py" "$fh/stderr.log" --leak-rate "$LEAK_RATE" --max-leak "$MAX_LEAK"

    for at in "$T0:t0" "$T1:t1"; do
        sleep_until "$start" "${at%%:*}"
        name="${at##*:}"
        printf '%s\t%s\t%s\n' "$name.txt" "$(utc_iso)" "$(elapsed "$start" "$(now_s)")" \
            >>"$fh/captures.tsv"
        sigusr1 "$fh/stderr.log" "$fh/$name.txt"
        printf '  faulthandler %-13s %s bytes\n' "$name.txt" "$(size_of "$fh/$name.txt")"
        pystack_capture "$ps" "$start" "$name.txt"
    done
    pystack_capture "$ps" "$start" t1.locals.txt --locals
    pystack_capture "$ps" "$start" t1.native.txt --native

    printf '%s\t%s\t%s\n' "fatal.txt" "$(utc_iso)" "$(elapsed "$start" "$(now_s)")" \
        >>"$fh/captures.tsv"
    before="$(size_of "$fh/stderr.log")"
    kill -ABRT "$svc_pid"
    wait "$svc_pid" 2>/dev/null || true
    svc_pid=""
    tail -c +"$((before + 1))" "$fh/stderr.log" >"$fh/fatal.txt"
    printf '  faulthandler %-13s %s bytes\n' fatal.txt "$(size_of "$fh/fatal.txt")"
    cleanup
    # Large text compresses well and snapdiff reads gzip: keep the repository small.
    for f in "$fh/stderr.log" "$ps/t1.locals.txt" "$ps/t1.native.txt"; do
        [[ -f "$f" ]] && gzip -9n "$f"
    done
    captured=$((captured + 1))
    last_py="$py"
    last_ver="$ver"
done

if [[ $captured -eq 0 ]]; then
    echo "error: none of the requested Python versions (${versions[*]}) was found" >&2
    exit 1
fi

# Past 100 threads faulthandler prints "..." and stops.
fh="$fh_root/py$last_ver"
err="$(mktemp)"
start_service "$last_py" "$err" --leak-rate 0.05 --max-leak 110
sleep 8
sigusr1 "$err" "$fh/cut.txt"
printf '  faulthandler %-13s %s bytes (python%s)\n' cut.txt "$(size_of "$fh/cut.txt")" "$last_ver"
cleanup
rm -f "$err"
