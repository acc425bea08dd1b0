#!/usr/bin/env bash
# HJ 212 ingest benchmark: for each station count, starts bin/jialingd with --hj212 on a fresh
# temporary data directory and free ports, runs `bin/jialing hj212-send` against it (one TCP
# connection per station unless --connections, stop-and-wait unless --window, CN 2011 messages of
# the six air pollutants with DataTime a minute apart from 2025-01-01), and reports what the
# simulator saw (messages/s and readings/s acknowledged) and what the server spent: CPU seconds
# (utime + stime from /proc/<pid>/stat) per 1000 messages and its peak RSS (VmHWM). Every run
# must end with nothing lost. Builds nothing: `make all` first.
#
#   bash bench/hj212.sh [--stations "1 100 1000"] [--messages 10000] [--connections C]
#                       [--window 1] [--sync full] [--markdown]
# --messages is the total per run (spread evenly over the stations); --markdown prints the table
# as Markdown. BIN (directory of jialing and jialingd, default bin) selects another build.
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh
STATIONS_LIST="1 100 1000"
MESSAGES=10000
CONNECTIONS=""
WINDOW=1
SYNC=full
MARKDOWN=0
BIN=${BIN:-bin}

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
    --stations) STATIONS_LIST=$2; shift 2 ;;
    --messages) MESSAGES=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --sync) SYNC=$2; shift 2 ;;
    --markdown) MARKDOWN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "hj212.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
bench_whole_numbers $STATIONS_LIST "$MESSAGES" "$WINDOW" ${CONNECTIONS:+"$CONNECTIONS"}
bench_require "run 'make all' first" "$BIN/jialingd" "$BIN/jialing"

log() { echo "== $*" >&2; }

DATA=""
cleanup() {
    bench_stop_server || true
    [ -z "$DATA" ] || rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ROWS=()
STATUS=0
for N in $STATIONS_LIST; do
    COUNT=$(( (MESSAGES + N - 1) / N ))
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/jialing-hj212-bench.XXXXXX")
    HTTP_PORT=$(bench_free_port)
    HJ_PORT=$(bench_free_port)
    LOG="$DATA.log"
    bench_start_server "$LOG" "$BIN/jialingd" --data "$DATA" --listen "127.0.0.1:$HTTP_PORT" \
        --hj212 "127.0.0.1:$HJ_PORT" --sync="$SYNC"
    bench_wait_http "http://127.0.0.1:$HTTP_PORT/health" 30 || exit 1
    bench_wait_tcp "$HJ_PORT" 30 || exit 1
    log "$N stations x $COUNT messages (window $WINDOW, sync=$SYNC)"
    CPU_BEFORE=$(bench_cpu_s "$SERVER_PID")
    SEND_STATUS=0
    REPORT=$("$BIN/jialing" hj212-send --to "127.0.0.1:$HJ_PORT" --stations "$N" --count "$COUNT" \
        --start 2025-01-01T00:00:00Z --step 60 --interval 0 --window "$WINDOW" \
        ${CONNECTIONS:+--connections "$CONNECTIONS"} --timeout 30 --retries 3) || SEND_STATUS=$?
    CPU_AFTER=$(bench_cpu_s "$SERVER_PID")
    HWM_KB=$(bench_proc_kb "$SERVER_PID" VmHWM)
    echo "$REPORT" >&2
    bench_stop_server
    rm -rf "$DATA" "$LOG"
    DATA=""
    [ "$SEND_STATUS" = 0 ] || { echo "hj212.sh: messages were lost with $N stations" >&2; STATUS=1; }
    # "sent S, acknowledged A, lost L, retried R, elapsed E s, M messages/s, R readings/s"
    ROW=$(echo "$REPORT" | awk -v n="$N" -v c="${CONNECTIONS:-$N}" -v cpu0="$CPU_BEFORE" \
        -v cpu1="$CPU_AFTER" -v hwm="$HWM_KB" '{
        gsub(",", ""); acked = $4; lost = $6; retried = $8; secs = $10; mps = $12; rps = $14
        if (c > n) c = n
        if (c > 1024 && n > 1024) c = 1024
        printf "%d|%d|%d|%d|%d|%.2f|%.0f|%.0f|%.3f|%.1f\n", n, c, acked, lost, retried, secs, mps, rps,
            (acked > 0 ? (cpu1 - cpu0) * 1000 / acked : 0), hwm / 1024 }')
    ROWS+=("$ROW")
done

if [ "$MARKDOWN" = 1 ]; then
    echo "| stations | connections | acknowledged | lost | re-sent | seconds | messages/s | readings/s | server CPU s / 1000 messages | server peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for r in "${ROWS[@]}"; do echo "| ${r//|/ | } |"; done
else
    printf '%-9s %-12s %-13s %-5s %-8s %-8s %-11s %-11s %-14s %s\n' stations connections acknowledged lost re-sent seconds messages/s readings/s cpu_s/1000msg rss_MiB
    for r in "${ROWS[@]}"; do
        IFS='|' read -r a b c d e f g h i j <<<"$r"
        printf '%-9s %-12s %-13s %-5s %-8s %-8s %-11s %-11s %-14s %s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h" "$i" "$j"
    done
fi
exit "$STATUS"
