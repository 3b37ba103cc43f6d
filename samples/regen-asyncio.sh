#!/usr/bin/env bash
# Recapture the asyncio task dumps of samples/python/leaky_asyncio.py taken by other tools:
#
#   samples/python/dumps/aiomonitor/        POST /api/live-tasks of aiomonitor's web UI
#                                           (leaky_asyncio_aiomonitor.py: the service under
#                                           aiomonitor.start_monitor(hook_task_factory=True))
#   samples/python/dumps/py-spy-asyncio/    py-spy-asyncio dump --asyncio --json (the service
#                                           with PYTHONASYNCIODEBUG=1, so that CPython records
#                                           each task's creation traceback)
#
# Each gets t0.json at T0 and t1.json at T1 seconds after the service started, and captures.tsv.
#
# Usage (from anywhere):   samples/regen-asyncio.sh [aiomonitor] [py-spy-asyncio]
#
# Environment:
#   AIOMONITOR_PYTHON   a Python 3.11+ with aiomonitor installed (default: python3, when it
#                       imports aiomonitor); e.g. python3.11 -m venv /tmp/aiomon &&
#                       /tmp/aiomon/bin/pip install aiomonitor
#   PY_SPY_ASYNCIO      the py-spy-asyncio binary (default: py-spy-asyncio on PATH);
#                       pip install py-spy-asyncio, in a venv of its own
#   TARGET_PYTHON       the interpreter py-spy-asyncio inspects (default: python3.12, then pyenv's
#                       3.12.*); py-spy-asyncio 0.4.4 finds no asyncio tasks in CPython 3.11
#   T0, T1              capture times in seconds after start (default 3 and 9)
#   RATE                orders (and leaked tasks) per second (default 3; keeps the files small)
#
# py-spy-asyncio needs ptrace permission on the target: run as root, or set
# kernel.yama.ptrace_scope=0, or grant CAP_SYS_PTRACE.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
outroot="$here/python/dumps"
T0="${T0:-3}"
T1="${T1:-9}"
RATE="${RATE:-3}"

if [[ $# -gt 0 ]]; then
    tools=("$@")
else
    tools=(aiomonitor py-spy-asyncio)
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

# start_service <python> <script>: runs it in the background, waits for its "orders" line.
start_service() {
    svc_out="$(mktemp)"
    start="$(now_s)"
    "$1" "$2" --rate "$RATE" >"$svc_out" 2>&1 &
    svc_pid=$!
    for _ in $(seq 100); do
        grep -q '^orders ' "$svc_out" && return 0
        kill -0 "$svc_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "error: the service did not start:" >&2
    sed 's/^/    /' "$svc_out" >&2
    exit 1
}

# record <dir> <file>: a line of captures.tsv for a file just written.
record() {
    printf '%s\t%s\t%s\n' "$2" "$3" "$4" >>"$1/captures.tsv"
    printf '  %-8s t=%6ss  %s bytes\n' "$2" "$4" "$(wc -c <"$1/$2")"
}

capture_aiomonitor() {
    local py="${AIOMONITOR_PYTHON:-python3}" dir="$outroot/aiomonitor" url file at ts t
    if ! "$py" -c 'import aiomonitor' 2>/dev/null; then
        echo "error: $py cannot import aiomonitor; set AIOMONITOR_PYTHON" >&2
        exit 1
    fi
    echo "aiomonitor $("$py" -c 'from importlib.metadata import version; print(version("aiomonitor"))') on $("$py" -V)"
    rm -rf "$dir"
    mkdir -p "$dir"
    printf 'file\tcaptured_at_utc\tseconds_since_start\n' >"$dir/captures.tsv"
    start_service "$py" "$here/python/leaky_asyncio_aiomonitor.py"
    url="$(sed -n 's/^aiomonitor \(http:[^ ]*\)$/\1/p' "$svc_out")"
    for file in t0.json t1.json; do
        at="$T0"
        [[ "$file" == t1.json ]] && at="$T1"
        sleep_until "$start" "$at"
        ts="$(utc_iso)"
        t="$(elapsed "$start" "$(now_s)")"
        curl -sS --fail -X POST -d filter= -d persistent=false "$url/api/live-tasks" >"$dir/$file"
        record "$dir" "$file" "$ts" "$t"
    done
    cleanup
}

find_target_python() {
    local cand exe
    local -a cands=()
    [[ -n "${TARGET_PYTHON:-}" ]] && cands+=("$TARGET_PYTHON")
    cands+=(python3.12)
    for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12.*/bin/python3.12; do
        [[ -x "$cand" ]] && cands+=("$cand")
    done
    for cand in "${cands[@]}"; do
        if exe="$("$cand" -c 'import sys; print(sys.executable)' 2>/dev/null)" && [[ -n "$exe" ]]; then
            echo "$exe"
            return 0
        fi
    done
    return 1
}

capture_py_spy_asyncio() {
    local spy="${PY_SPY_ASYNCIO:-}" dir="$outroot/py-spy-asyncio" py file at ts t
    if [[ -z "$spy" ]]; then
        spy="$(command -v py-spy-asyncio)" || {
            echo "error: py-spy-asyncio not found; set PY_SPY_ASYNCIO" >&2
            exit 1
        }
    fi
    py="$(find_target_python)" || {
        echo "error: no Python 3.12 found; set TARGET_PYTHON" >&2
        exit 1
    }
    echo "$("$spy" --version) on $("$py" -V)"
    rm -rf "$dir"
    mkdir -p "$dir"
    printf 'file\tcaptured_at_utc\tseconds_since_start\n' >"$dir/captures.tsv"
    PYTHONASYNCIODEBUG=1 start_service "$py" "$here/python/leaky_asyncio.py"
    for file in t0.json t1.json; do
        at="$T0"
        [[ "$file" == t1.json ]] && at="$T1"
        sleep_until "$start" "$at"
        ts="$(utc_iso)"
        t="$(elapsed "$start" "$(now_s)")"
        "$spy" dump --pid "$svc_pid" --asyncio --json >"$dir/$file"
        record "$dir" "$file" "$ts" "$t"
    done
    cleanup
}

for tool in "${tools[@]}"; do
    case "$tool" in
        aiomonitor) capture_aiomonitor ;;
        py-spy-asyncio) capture_py_spy_asyncio ;;
        *)
            echo "error: unknown tool $tool (aiomonitor or py-spy-asyncio)" >&2
            exit 2
            ;;
    esac
done
