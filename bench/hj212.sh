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
for n in $STATIONS_LIST "$MESSAGES" "$WINDOW" ${CONNECTIONS:+"$CONNECTIONS"}; do
    case "$n" in '' | *[!0-9]*) echo "hj212.sh: '$n' is not a whole number" >&2; exit 2 ;; esac
done
for b in "$BIN/jialingd" "$BIN/jialing"; do
    [ -x "$b" ] || { echo "hj212.sh: $b is missing; run 'make all' first" >&2; exit 2; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
log() { echo "== $*" >&2; }

SERVER_PID=""
DATA=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    [ -z "$DATA" ] || rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

server_cpu_s() {
    # utime + stime (fields 14 and 15; the command name in field 2 has no spaces here)
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat"
}

ROWS=()
STATUS=0
for N in $STATIONS_LIST; do
    COUNT=$(( (MESSAGES + N - 1) / N ))
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/jialing-hj212-bench.XXXXXX")
    HTTP_PORT=$(free_port)
    HJ_PORT=$(free_port)
    LOG="$DATA.log"
    "$BIN/jialingd" --data "$DATA" --listen "127.0.0.1:$HTTP_PORT" --hj212 "127.0.0.1:$HJ_PORT" \
        --sync="$SYNC" >"$LOG" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOG" >&2; echo "hj212.sh: jialingd exited" >&2; exit 1; }
        if curl -sf "http://127.0.0.1:$HTTP_PORT/health" >/dev/null 2>&1 &&
            python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
                "$HJ_PORT" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    log "$N stations x $COUNT messages (window $WINDOW, sync=$SYNC)"
    CPU_BEFORE=$(server_cpu_s)
    SEND_STATUS=0
    REPORT=$("$BIN/jialing" hj212-send --to "127.0.0.1:$HJ_PORT" --stations "$N" --count "$COUNT" \
        --start 2025-01-01T00:00:00Z --step 60 --interval 0 --window "$WINDOW" \
        ${CONNECTIONS:+--connections "$CONNECTIONS"} --timeout 30 --retries 3) || SEND_STATUS=$?
    CPU_AFTER=$(server_cpu_s)
    HWM_KB=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$SERVER_PID/status")
    echo "$REPORT" >&2
    kill "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=""
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
