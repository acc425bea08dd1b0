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
for n in "$STATIONS" "$DAYS" "$SEED" "$CLIENTS" "$BATCH" "$RUNS"; do
    case "$n" in '' | *[!0-9]*) echo "run.sh: '$n' is not a whole number" >&2; exit 2 ;; esac
done
for b in "$JIALINGD" "$BIN/bench-gen" "$BIN/bench-load"; do
    if [ ! -x "$b" ]; then
        echo "run.sh: $b is missing; run 'make bench' (or make all first)" >&2
        exit 2
    fi
done

OUT=bench/out
mkdir -p "$OUT"
GEN="$OUT/gen-${STATIONS}x${DAYS}-seed${SEED}"
log() { echo "== $*" >&2; }

# ---- data (reused when already generated with the same settings: the generator is deterministic)
if [ ! -f "$GEN/truth.json" ]; then
    log "generating $STATIONS stations x $DAYS days (seed $SEED) into $GEN"
    rm -rf "$GEN" "$GEN.partial"
    "$BIN/bench-gen" --stations "$STATIONS" --days "$DAYS" --seed "$SEED" --out "$GEN.partial"
    mv "$GEN.partial" "$GEN"
else
    log "reusing $GEN"
fi
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$GEN/truth.json" "$1"; }
DISTINCT=$(json_field distinct)
LINES=$(json_field lines)
DUPLICATES=$(json_field duplicates)

# ---- server
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
DATA=$(mktemp -d "${TMPDIR:-/tmp}/jialing-bench.XXXXXX")
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$KEEP_DATA" = 1 ]; then
        echo "run.sh: data directory kept: $DATA" >&2
    else
        rm -rf "$DATA"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting $JIALINGD on $URL, data in $DATA"
"$JIALINGD" --data "$DATA" --listen "127.0.0.1:$PORT" --sync=full >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "run.sh: jialingd exited at start; its log:" >&2
        cat "$OUT/server.log" >&2
        SERVER_PID=""
        exit 1
    fi
    if curl -sf "$URL/health" >/dev/null 2>&1; then
        break
    fi
    sleep 0.1
done
curl -sf "$URL/health" >/dev/null || { echo "run.sh: jialingd did not answer /health within 30 s" >&2; exit 1; }

proc_field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || true; }
server_cpu_s() {
    # utime + stime (fields 14 and 15; the command name in field 2 has no spaces here)
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SERVER_PID/stat" 2>/dev/null ||
        echo 0
}
disk_bytes() { du -s -B1 "$DATA" | cut -f1; } # allocated blocks, so sparse files count as stored
apparent_bytes() { du -s -b "$DATA" | cut -f1; }

# ---- ingest
CPU_BEFORE=$(server_cpu_s)
log "loading $LINES lines ($DISTINCT distinct readings) with $CLIENTS clients, $BATCH lines per batch"
LOAD_STATUS=ok
"$BIN/bench-load" --url "$URL" --clients "$CLIENTS" --batch "$BATCH" "$GEN"/lines-*.lp | tee "$OUT/load.txt" ||
    LOAD_STATUS=failed
CPU_AFTER=$(server_cpu_s)
VMHWM_KB=$(proc_field VmHWM)
kv() { tail -n 1 "$OUT/load.txt" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
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
