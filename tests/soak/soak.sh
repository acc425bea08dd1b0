#!/usr/bin/env bash
# Soak test (`make test-soak`): starts jialingd --sync=full on a temporary data directory and a
# free port, then for --minutes keeps writing and querying at the same time:
#   - writes: one day of bench-gen data per round (--stations stations x 5 metrics, one reading a
#     minute; each round the next day, so time only moves forward), sent by bench-load, one round
#     every --round-seconds;
#   - reads: wrk with --connections connections cycling through latest, a windowed query and a
#     scan over the first day (whose answers never change);
#   - every 10 s: the server's RSS and anonymous RSS (RssAnon: the heap, without LMDB's mapped
#     file pages, which grow with the data and are the kernel's to reclaim).
# At the end it stops the server with SIGTERM and reports total writes, errors, wrk's latency
# percentiles and RSS first/min/max/last. It fails on any bench-load or wrk error (socket error or
# non-2xx answer), a crash or unclean exit, a reading count that differs from what was sent, or
# anonymous RSS that grows after warm-up (the first fifth of the run) by more than 20% + 16 MiB.
#
#   bash tests/soak/soak.sh [--minutes 10] [--stations 20] [--round-seconds 3]
#                           [--connections 32] [--nice] [--keep]
# BIN (directory of jialingd, bench-gen, bench-load; default bin) selects another build.
# Installs Debian's wrk with apt-get when it is missing (as root). Exit status 0 = pass.
set -euo pipefail

cd "$(dirname "$0")/../.."
MINUTES=10
STATIONS=20
ROUND_SECONDS=3
CONNECTIONS=32
NICE=""
KEEP=0
BIN=${BIN:-bin}

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
    --minutes) MINUTES=$2; shift 2 ;;
    --stations) STATIONS=$2; shift 2 ;;
    --round-seconds) ROUND_SECONDS=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --nice) NICE="nice -n 10"; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "soak.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
for n in "$MINUTES" "$STATIONS" "$ROUND_SECONDS" "$CONNECTIONS"; do
    case "$n" in '' | *[!0-9]* | 0) echo "soak.sh: '$n' is not a positive whole number" >&2; exit 2 ;; esac
done
for b in "$BIN/jialingd" "$BIN/bench-gen" "$BIN/bench-load"; do
    [ -x "$b" ] || { echo "soak.sh: $b is missing; run make all first" >&2; exit 2; }
done
if ! command -v wrk >/dev/null; then
    echo "== wrk is missing; installing Debian's wrk" >&2
    apt-get install -y wrk >/dev/null || { echo "soak.sh: cannot install wrk" >&2; exit 2; }
fi

log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
WORK=$(mktemp -d /tmp/jialing-soak-XXXXXX)
SERVER_PID=""
WRK_PID=""
cleanup() {
    [ -n "$WRK_PID" ] && kill "$WRK_PID" 2>/dev/null || true
    [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null || true
    if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
START_MS=1735689600000
DAY_MS=86400000
DURATION_S=$((MINUTES * 60))
WARMUP_S=$((DURATION_S / 5))

log "jialingd --sync=full on $WORK/data, port $PORT; $MINUTES min; $STATIONS stations; $CONNECTIONS wrk connections"
$NICE "$BIN/jialingd" --data "$WORK/data" --listen "127.0.0.1:$PORT" --sync=full \
    --max-connections 512 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -sf "$URL/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "$URL/health" >/dev/null || { echo "soak.sh: jialingd did not start" >&2; cat "$WORK/server.log" >&2; exit 1; }

# The first day is written before the readers start, so their answers are fixed from then on.
write_round() { # round number -> appends "readings distinct" to rounds.txt, or fails
    local r=$1 gen="$WORK/gen-$1"
    "$BIN/bench-gen" --stations "$STATIONS" --days 1 --seed $((r + 1)) \
        --start $((START_MS + r * DAY_MS)) --out "$gen" >/dev/null
    local out
    if ! out=$($NICE "$BIN/bench-load" --url "$URL" --clients 2 --batch 5000 "$gen"/lines-*.lp 2>&1); then
        echo "$out" >"$WORK/bench-load-failure.txt"
        return 1
    fi
    local readings distinct
    readings=$(echo "$out" | sed -n 's/.*readings=\([0-9]*\).*/\1/p' | tail -1)
    distinct=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["distinct"])' "$gen/truth.json")
    echo "$readings $distinct" >>"$WORK/rounds.txt"
    rm -rf "$gen"
}
: >"$WORK/rounds.txt"
write_round 0 || { echo "soak.sh: first round failed" >&2; cat "$WORK/bench-load-failure.txt" >&2; exit 1; }

DAY1_TO=$((START_MS + DAY_MS))
cat >"$WORK/paths.lua" <<EOF
local paths = {
  "/api/v1/latest?series=pm25",
  "/api/v1/query?series=pm25&from=$START_MS&to=$DAY1_TO&window=1h&agg=mean,max,count",
  "/api/v1/scan?series=pm10&from=$START_MS&to=$DAY1_TO&op=gt&value=80&output=count",
  "/api/v1/query?series=o3%7Bstation%3D%22s01%22%7D&from=$START_MS&to=$((START_MS + 3600000))",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
EOF
# Reference answers of the fixed queries, compared again at the end.
for i in 2 3 4; do
    path=$(sed -n "$((i + 1))p" "$WORK/paths.lua" | sed 's/^ *"\(.*\)",$/\1/')
    curl -sf "$URL$path" >"$WORK/answer-$i.before"
done

log "wrk for ${DURATION_S}s; writer rounds every ${ROUND_SECONDS}s; RSS every 10 s"
$NICE wrk -t2 -c"$CONNECTIONS" -d"${DURATION_S}s" --timeout 10s --latency -s "$WORK/paths.lua" \
    "$URL" >"$WORK/wrk.txt" 2>&1 &
WRK_PID=$!

echo "seconds rss_kib rss_anon_kib" >"$WORK/rss.txt"
started=$(date +%s)
next_sample=$started
round=1
failed=""
while :; do
    now=$(date +%s)
    elapsed=$((now - started))
    [ "$elapsed" -ge "$DURATION_S" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then failed="jialingd died"; break; fi
    if [ "$now" -ge "$next_sample" ]; then
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
        anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$SERVER_PID/status")
        echo "$elapsed $rss $anon" >>"$WORK/rss.txt"
        next_sample=$((next_sample + 10))
    fi
    round_started=$(date +%s)
    if ! write_round "$round"; then failed="bench-load failed in round $round: $(tail -2 "$WORK/bench-load-failure.txt")"; break; fi
    round=$((round + 1))
    spent=$(($(date +%s) - round_started))
    [ "$spent" -lt "$ROUND_SECONDS" ] && sleep $((ROUND_SECONDS - spent))
done
wait "$WRK_PID" || failed="${failed:+$failed; }wrk exited with an error"
WRK_PID=""

# ---- checks after the load
stored=$(curl -sf "$URL/metrics" | awk '/^jialing_readings / {print $2}')
for i in 2 3 4; do
    path=$(sed -n "$((i + 1))p" "$WORK/paths.lua" | sed 's/^ *"\(.*\)",$/\1/')
    curl -sf "$URL$path" >"$WORK/answer-$i.after" || failed="${failed:+$failed; }query $i failed after the soak"
    cmp -s "$WORK/answer-$i.before" "$WORK/answer-$i.after" ||
        failed="${failed:+$failed; }the answer of $path changed during the soak"
done
if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    status=0
    wait "$SERVER_PID" || status=$?
    SERVER_PID=""
    [ "$status" = 0 ] || failed="${failed:+$failed; }jialingd exited with status $status after SIGTERM"
else
    failed="${failed:+$failed; }jialingd died"
fi

read -r sent distinct <<<"$(awk '{s += $1; d += $2} END {print s + 0, d + 0}' "$WORK/rounds.txt")"
[ "${stored:-x}" = "$distinct" ] ||
    failed="${failed:+$failed; }the store holds ${stored:-?} readings; $distinct distinct were sent"
requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
socket_errors=$(awk '/Socket errors/ {s = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) s += $i; print s}' "$WORK/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.txt")
p50=$(awk '/Latency Distribution/ {d = 1} d && $1 == "50%" {print $2}' "$WORK/wrk.txt")
p90=$(awk '/Latency Distribution/ {d = 1} d && $1 == "90%" {print $2}' "$WORK/wrk.txt")
p99=$(awk '/Latency Distribution/ {d = 1} d && $1 == "99%" {print $2}' "$WORK/wrk.txt")
[ -n "$requests" ] || failed="${failed:+$failed; }wrk printed no totals"
[ "${socket_errors:-0}" = 0 ] || failed="${failed:+$failed; }wrk socket errors: $socket_errors"
[ "${non2xx:-0}" = 0 ] || failed="${failed:+$failed; }wrk non-2xx answers: $non2xx"

rss_report=$(awk -v warm="$WARMUP_S" 'NR > 1 {
        n++; if (n == 1) {f = $2; fa = $3; mn = $2; mna = $3}
        if ($2 < mn) mn = $2; if ($2 > mx) mx = $2; if ($3 < mna) mna = $3; if ($3 > mxa) mxa = $3
        l = $2; la = $3; if ($1 >= warm && base == "") base = $3
    } END {
        if (base == "") base = la
        limit = base * 1.2 + 16384
        printf "rss MiB first %.1f min %.1f max %.1f last %.1f; anon MiB first %.1f min %.1f max %.1f last %.1f; anon after warm-up %.1f, limit %.1f; %s\n",
            f/1024, mn/1024, mx/1024, l/1024, fa/1024, mna/1024, mxa/1024, la/1024, base/1024, limit/1024,
            (la > limit) ? "GROWING" : "flat"
    }' "$WORK/rss.txt")
case "$rss_report" in *GROWING*) failed="${failed:+$failed; }anonymous RSS grew after warm-up" ;; esac

echo "soak: $MINUTES min, $((round)) write rounds, $sent readings sent ($distinct distinct), store holds ${stored:-?}"
echo "soak: wrk $CONNECTIONS connections: ${requests:-?} requests, latency p50 ${p50:-?} p90 ${p90:-?} p99 ${p99:-?}, socket errors ${socket_errors:-0}, non-2xx ${non2xx:-0}"
echo "soak: $rss_report"
if [ -n "$failed" ]; then
    echo "soak: FAIL: $failed"
    KEEP=1
    exit 1
fi
echo "soak: PASS"
