#!/usr/bin/env bash
# The benchmark (`make bench`): generates the reference workload (DESIGN §6) into bench/out/,
# starts bin/jialingd with --sync=full on a temporary data directory and a free port, loads the
# data with bin/bench-load, records ingest rate, peak RSS and bytes per reading, times the
# reference queries and checks every answer against the generator's truth (bench/check.py), then
# writes bench/out/REPORT-jialing.md (bench/REPORT.md is make bench-peers's). Builds nothing: make
# does that first.
#
#   bash bench/run.sh [--stations 20] [--days 365] [--seed 1] [--clients 2] [--batch 5000]
#                     [--runs 5] [--keep-data]
# The same settings may come from the environment: STATIONS DAYS SEED CLIENTS BATCH RUNS; BIN
# (directory of bench-gen and bench-load, default bin) and JIALINGD (server binary, default
# bin/jialingd) select other builds, e.g. BIN=bin/asan.
# Exit status: 0 when ingest succeeded and every answer was correct.
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh
STATIONS=${STATIONS:-20}
DAYS=${DAYS:-365}
SEED=${SEED:-1}
CLIENTS=${CLIENTS:-2}
BATCH=${BATCH:-5000}
RUNS=${RUNS:-5}
KEEP_DATA=0
BIN=${BIN:-bin}
JIALINGD=${JIALINGD:-$BIN/jialingd}

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
    case "$1" in
    --stations) STATIONS=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --keep-data) KEEP_DATA=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
bench_whole_numbers "$STATIONS" "$DAYS" "$SEED" "$CLIENTS" "$BATCH" "$RUNS"
bench_require "run 'make bench' (or make all first)" "$JIALINGD" "$BIN/bench-gen" "$BIN/bench-load"

OUT=bench/out
mkdir -p "$OUT"
GEN="$OUT/gen-${STATIONS}x${DAYS}-seed${SEED}"
log() { echo "== $*" >&2; }

# ---- data (reused when already generated with the same settings: the generator is deterministic)
bench_gen_cached "$GEN" "$STATIONS stations x $DAYS days (seed $SEED)" \
    --stations "$STATIONS" --days "$DAYS" --seed "$SEED"
json_field() { bench_json_field "$GEN/truth.json" "$1"; }
DISTINCT=$(json_field distinct)
LINES=$(json_field lines)
DUPLICATES=$(json_field duplicates)

# ---- server
PORT=$(bench_free_port)
URL="http://127.0.0.1:$PORT"
DATA=$(mktemp -d "${TMPDIR:-/tmp}/jialing-bench.XXXXXX")
cleanup() {
    bench_stop_server || true
    bench_remove_or_keep "$DATA" "$KEEP_DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting $JIALINGD on $URL, data in $DATA"
: >"$OUT/server.log"
bench_start_server "$OUT/server.log" "$JIALINGD" --data "$DATA" --listen "127.0.0.1:$PORT" --sync=full
bench_wait_http "$URL/health" 30 || exit 1

server_cpu_s() { bench_cpu_s "$SERVER_PID" || echo 0; }
disk_bytes() { bench_disk_bytes "$DATA"; }
apparent_bytes() { du -s -b "$DATA" | cut -f1; }

# ---- ingest
CPU_BEFORE=$(server_cpu_s)
log "loading $LINES lines ($DISTINCT distinct readings) with $CLIENTS clients, $BATCH lines per batch"
LOAD_STATUS=ok
"$BIN/bench-load" --url "$URL" --clients "$CLIENTS" --batch "$BATCH" "$GEN"/lines-*.lp | tee "$OUT/load.txt" ||
    LOAD_STATUS=failed
CPU_AFTER=$(server_cpu_s)
VMHWM_KB=$(bench_proc_kb "$SERVER_PID" VmHWM || true)
kv() { bench_load_kv "$OUT/load.txt" "$1"; }
READINGS_PER_S=$(kv readings_per_s)
SECONDS_INGEST=$(kv seconds)
CLIENT_CPU=$(kv cpu_s)
SERVER_CPU=$(awk -v a="$CPU_BEFORE" -v b="$CPU_AFTER" 'BEGIN { printf "%.2f", b - a }')
DISK_AFTER_INGEST=$(disk_bytes)
APPARENT_AFTER_INGEST=$(apparent_bytes)

# ---- queries
QUERY_STATUS=skipped
rm -f "$OUT/queries.json"
if [ "$LOAD_STATUS" = ok ]; then
    log "timing and checking queries (median of $RUNS runs)"
    if python3 bench/check.py queries --url "$URL" --truth "$GEN" --runs "$RUNS" --json "$OUT/queries.json"; then
        QUERY_STATUS=ok
    else
        QUERY_STATUS=failed
    fi
fi
DISK_SETTLED=$(disk_bytes)
APPARENT_SETTLED=$(apparent_bytes)

# ---- report
cat >"$OUT/ingest.json" <<EOF
{"stations": $STATIONS, "days": $DAYS, "seed": $SEED, "clients": $CLIENTS, "batch": $BATCH, "runs": $RUNS,
 "lines": $LINES, "distinct": $DISTINCT, "duplicates": $DUPLICATES,
 "readings_per_s": ${READINGS_PER_S:-null}, "seconds": ${SECONDS_INGEST:-null},
 "client_cpu_s": ${CLIENT_CPU:-null}, "server_cpu_s": ${SERVER_CPU:-null}, "vmhwm_kb": ${VMHWM_KB:-null},
 "disk_after_ingest": $DISK_AFTER_INGEST, "apparent_after_ingest": $APPARENT_AFTER_INGEST,
 "disk_settled": $DISK_SETTLED, "apparent_settled": $APPARENT_SETTLED,
 "load_status": "$LOAD_STATUS", "query_status": "$QUERY_STATUS"}
EOF
python3 bench/check.py report --ingest "$OUT/ingest.json" --queries "$OUT/queries.json" --out "$OUT/REPORT-jialing.md"

if [ "$LOAD_STATUS" != ok ] || [ "$QUERY_STATUS" != ok ]; then
    echo "run.sh: FAILED (ingest: $LOAD_STATUS, queries: $QUERY_STATUS)" >&2
    exit 1
fi
log "done: $OUT/REPORT-jialing.md"
