#!/usr/bin/env bash
# What evaluating alarm rules costs at ingest: the same bench-gen workload is loaded twice into a
# fresh bin/jialingd --sync=full, once without rules and once with 20 rules (--rules) over every
# series: 4 rules of each kind (threshold held for a duration, daily-mean window, absent,
# flatline, rate) spread over the 5 metrics, so that every reading is evaluated by 4 rules.
# Reports wall time, server CPU seconds (utime + stime of the jialingd process, from /proc),
# readings per second, and the evaluator's own figures from /metrics.
#
#   bash bench/alarms.sh [--stations 20] [--days 30] [--seed 1] [--clients 2]
#
# With several clients, batches of one series commit out of time order now and then, and each
# such reading is late for the rules (replayed from the store): --clients 1 measures in-order
# ingest alone.
#
# Prints a Markdown table; bench/REPORT.md ("Alarm evaluation") keeps a run's.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

STATIONS=20 DAYS=30 SEED=1 CLIENTS=2
while [ $# -gt 0 ]; do
    case "$1" in
    --stations) STATIONS=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "alarms.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
BIN=bin
bench_require "run make first" "$BIN/jialingd" "$BIN/bench-gen" "$BIN/bench-load"
OUT=bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jialing-alarms.XXXXXX")
cleanup() {
    bench_stop_server || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The data ends at the start of today (UTC), so that `absent` rules, judged by the wall clock,
# see live stations rather than a silence since the data's end.
START=$(( ($(date +%s) / 86400 - DAYS) * 86400000 ))
GEN="$WORK/gen"
# No truth files: at 10^5 series they would be more files than a process may hold open.
"$BIN/bench-gen" --stations "$STATIONS" --days "$DAYS" --seed "$SEED" --start "$START" \
    --no-truth --out "$GEN" >&2

# 20 rules: for each metric m (5) four rules of different kinds; thresholds near each metric's
# base level, so that events do happen.
python3 - "$WORK/rules.json" <<'PY'
import json, sys
levels = {"pm25": 38.0, "pm10": 65.0, "o3": 55.0, "nh3n": 0.85, "cod": 16.0}
kinds = [
    lambda m, b: {"op": "gt", "value": b * 1.5, "for": "2h"},
    lambda m, b: {"op": "gt", "value": b * 1.2, "window": "1d", "agg": "mean", "tz": "+08:00"},
    lambda m, b: {"absent": "15m"},
    lambda m, b: {"flatline": 10},
    lambda m, b: {"rate": b / 10},
]
rules = []
for i, (m, b) in enumerate(levels.items()):
    for k in range(4):
        kind = kinds[(i + k) % len(kinds)]
        rule = {"name": "%s_%d" % (m, k), "series": m}
        rule.update(kind(m, b))
        rules.append(rule)
json.dump({"rules": rules}, open(sys.argv[1], "w"), indent=1)
PY

# evaluated_all URL WANT: whether the evaluator has seen WANT readings (/metrics).
evaluated_all() {
    local done_readings
    done_readings=$(curl -sf "$1/metrics" | awk '$1 == "jialing_alarm_readings_total" {print $2}')
    [ "${done_readings:-0}" -ge "$2" ]
}

# load_one NAME ARGS...: writes "wall_s cpu_s readings events eval_s" to stdout. Run in this
# shell (not in $(...) or <(...)), so that the cleanup trap knows the server's PID.
load_one() {
    local name=$1; shift
    local data="$WORK/data-$name" port url
    port=$(bench_free_port)
    url="http://127.0.0.1:$port"
    bench_start_server "$WORK/server-$name.log" \
        "$BIN/jialingd" --data "$data" --listen "127.0.0.1:$port" --sync=full "$@"
    bench_wait_http "$url/health" 30 || exit 1
    local cpu0 cpu1 t0 t1
    cpu0=$(bench_cpu_s "$SERVER_PID")
    t0=$(date +%s.%N)
    "$BIN/bench-load" --url "$url" --clients "$CLIENTS" --batch 5000 "$GEN"/lines-*.lp >&2
    # The evaluator works behind the writes: wait until it has seen every reading.
    local want metrics
    want=$(bench_json_field "$GEN/truth.json" lines)
    if [ "$#" -gt 0 ]; then
        bench_wait_until 600 0.05 "the evaluator to see all $want readings" evaluated_all "$url" "$want" ||
            exit 1
    fi
    t1=$(date +%s.%N)
    cpu1=$(bench_cpu_s "$SERVER_PID")
    metrics=$(curl -sf "$url/metrics")
    echo "$metrics" | grep -E "^jialing_alarm_(replay|readings)" >&2 || true
    bench_stop_server
    echo "$metrics" | awk -v t0="$t0" -v t1="$t1" -v c0="$cpu0" -v c1="$cpu1" '
        $1 == "jialing_points_ingested_total" { readings = $2 }
        $1 == "jialing_alarm_events_total{state=\"fired\"}" { events = $2 }
        $1 == "jialing_alarm_evaluation_seconds_total" { eval = $2 }
        END { printf "%.2f %.2f %d %d %.2f\n", t1 - t0, c1 - c0, readings, events, eval }'
    rm -rf "$data"
}

load_one plain >"$WORK/plain.txt"
load_one rules --rules "$WORK/rules.json" >"$WORK/rules.txt"
read -r W0 C0 R0 E0 V0 <"$WORK/plain.txt"
read -r W1 C1 R1 E1 V1 <"$WORK/rules.txt"
echo "| run | readings | wall s | server CPU s | readings/s | events fired | evaluation s |"
echo "|---|---|---|---|---|---|---|"
awk -v r="$R0" -v w="$W0" -v c="$C0" 'BEGIN { printf "| no rules | %d | %.2f | %.2f | %.0f | | |\n", r, w, c, r / w }'
awk -v r="$R1" -v w="$W1" -v c="$C1" -v e="$E1" -v v="$V1" 'BEGIN {
    printf "| 20 rules | %d | %.2f | %.2f | %.0f | %d | %.2f |\n", r, w, c, r / w, e, v }'
awk -v w0="$W0" -v w1="$W1" -v c0="$C0" -v c1="$C1" -v r="$R1" -v v="$V1" 'BEGIN {
    printf "| 20 rules ÷ no rules | | %.3f | %.3f | | | %.0f ns per reading |\n", w1 / w0, c1 / c0, v * 1e9 / r }'
