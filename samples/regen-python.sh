#!/usr/bin/env bash
# Regenerate the Python sample dumps in samples/python/dumps/<version>/.
#
# For every available CPython 3.11 / 3.12 / 3.13 this starts
# samples/python/leaky_threads.py, captures py-spy dumps at T0 (shortly after
# start) and T1 (after the leak has grown), and writes captures.tsv.
#
# Usage (from the repo root):   samples/regen-python.sh [3.11 3.12 ...]
#
# Environment:
#   PY_SPY          py-spy binary (default: py-spy on PATH, then $VIRTUAL_ENV/bin/py-spy)
#   T0, T1          capture times in seconds after start (default 3 and 35)
#   LEAK_RATE       seconds between leaking requests (default 0.3)
#   MAX_LEAK        upper bound on leaked threads (default 100; keeps the dumps small)
#
# py-spy needs ptrace permission on the target: run as root, or set
# kernel.yama.ptrace_scope=0, or grant CAP_SYS_PTRACE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
service="$here/python/leaky_threads.py"
outroot="$here/python/dumps"

T0="${T0:-3}"
T1="${T1:-35}"
LEAK_RATE="${LEAK_RATE:-0.3}"
MAX_LEAK="${MAX_LEAK:-100}"

if [[ $# -gt 0 ]]; then
    versions=("$@")
else
    versions=(3.11 3.12 3.13)
fi

find_py_spy() {
    if [[ -n "${PY_SPY:-}" ]]; then
        echo "$PY_SPY"
    elif command -v py-spy >/dev/null 2>&1; then
        command -v py-spy
    elif [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/py-spy" ]]; then
        echo "$VIRTUAL_ENV/bin/py-spy"
    else
        return 1
    fi
}

# Print the real interpreter path for a version, or fail.  pyenv shims exist
# for every installed version but only run when the version is selected, so
# each candidate is checked by actually running it.
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

if ! PY_SPY_BIN="$(find_py_spy)"; then
    echo "error: py-spy not found; install it or set PY_SPY=/path/to/py-spy" >&2
    exit 1
fi
echo "using $PY_SPY_BIN ($("$PY_SPY_BIN" --version))"

svc_pid=""
svc_out=""
cleanup() {
    if [[ -n "$svc_pid" ]] && kill -0 "$svc_pid" 2>/dev/null; then
        kill "$svc_pid" 2>/dev/null || true
        wait "$svc_pid" 2>/dev/null || true
    fi
    [[ -n "$svc_out" ]] && rm -f "$svc_out"
    svc_pid=""
    svc_out=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

captured=0

# capture <dir> <start> <file> <py-spy dump args...>
capture() {
    local dir="$1" start="$2" file="$3"
    shift 3
    local ts t err
    ts="$(utc_iso)"
    t="$(elapsed "$start" "$(now_s)")"
    err="$(mktemp)"
    if "$PY_SPY_BIN" dump --pid "$svc_pid" "$@" >"$dir/$file" 2>"$err"; then
        printf '%s\t%s\t%s\n' "$file" "$ts" "$t" >>"$dir/captures.tsv"
        printf '  %-22s t=%6ss  %s bytes\n' "$file" "$t" "$(wc -c <"$dir/$file")"
        rm -f "$err"
    else
        echo "  $file: py-spy dump $* failed:" >&2
        sed 's/^/    /' "$err" >&2
        rm -f "$dir/$file" "$err"
        return 1
    fi
}

for ver in "${versions[@]}"; do
    if ! py="$(find_python "$ver")"; then
        echo "python$ver not available, skipping"
        continue
    fi
    dir="$outroot/py$ver"
    rm -rf "$dir"
    mkdir -p "$dir"
    printf 'file\tcaptured_at_utc\tseconds_since_start\n' >"$dir/captures.tsv"
    echo "python$ver: $py"

    svc_out="$(mktemp)"
    start="$(now_s)"
    "$py" "$service" --leak-rate "$LEAK_RATE" --max-leak "$MAX_LEAK" >"$svc_out" &
    svc_pid=$!
    # The service prints its pid once it is up.
    for _ in $(seq 50); do
        [[ -s "$svc_out" ]] && break
        sleep 0.1
    done
    reported="$(head -n1 "$svc_out")"
    if [[ "$reported" != "$svc_pid" ]]; then
        echo "error: service reported pid '$reported', expected $svc_pid" >&2
        exit 1
    fi

    sleep_until "$start" "$T0"
    capture "$dir" "$start" t0.json --json
    capture "$dir" "$start" t0.txt

    sleep_until "$start" "$T1"
    capture "$dir" "$start" t1.json --json
    capture "$dir" "$start" t1.txt
    capture "$dir" "$start" t1.locals.json --json --locals
    capture "$dir" "$start" t1.locals.txt --locals
    capture "$dir" "$start" t1.native.txt --native ||
        echo "  (native text dump not supported here)"
    capture "$dir" "$start" t1.native.json --native --json ||
        echo "  (native json dump not supported here)"
    capture "$dir" "$start" t1.nonblocking.json --nonblocking --json

    cleanup
    captured=$((captured + 1))
done

if [[ $captured -eq 0 ]]; then
    echo "error: none of the requested Python versions (${versions[*]}) was found" >&2
    exit 1
fi
