#!/usr/bin/env bash
# What data flags cost on disk through the whole write path (line protocol, write log, seals,
# chunks), not only in the codec: the same workload is stored twice by bin/jialingd --sync=full,
# once with no flag fields and once with K series-hours in 1000 flagged M (bench-gen
# --flag-hours-per-mille; the readings are the same, only the flag field differs), and
# `jialing inspect` reports each store after a clean stop.
#
#   bash bench/flags_size.sh [--stations 20] [--days 365] [--seed 1] [--per-mille 10]
#
# Prints a Markdown table of readings, flagged readings, chunk bytes per sealed reading and data
# file bytes per reading, with the ratio of the flagged store to the unflagged one.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

STATIONS=20 DAYS=365 SEED=1 PER_MILLE=10
while [ $# -gt 0 ]; do
    case "$1" in
    --stations) STATIONS=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --per-mille) PER_MILLE=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "flags_size.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
BIN=bin
bench_require "run make first" "$BIN/jialingd" "$BIN/jialing" "$BIN/bench-gen" "$BIN/bench-load"
OUT=bench/out
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/jialing-flags.XXXXXX")
cleanup() {
    bench_stop_server || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# store_one PER_MILLE: generates (or reuses) the data, stores it, prints "readings flagged
# chunk_bpr file_bpr". Run in this shell (not in $(...) or <(...)), so that the cleanup trap
# knows the server's PID.
store_one() {
    local k=$1 gen="$OUT/gen-${STATIONS}x${DAYS}-seed${SEED}"
    [ "$k" -gt 0 ] && gen="$gen-m$k"
    if [ ! -f "$gen/truth.json" ]; then
        bench_gen "$gen" --stations "$STATIONS" --days "$DAYS" --seed "$SEED" \
            --flag-hours-per-mille "$k" >&2
    fi
    local flagged
    flagged=$(bench_json_field "$gen/truth.json" flagged_m 0)
    local data="$WORK/data-$k" port
    port=$(bench_free_port)
    bench_start_server "$WORK/server-$k.log" \
        "$BIN/jialingd" --data "$data" --listen "127.0.0.1:$port" --sync=full
    bench_wait_http "http://127.0.0.1:$port/health" 30 || exit 1
    "$BIN/bench-load" --url "http://127.0.0.1:$port" --clients 2 --batch 5000 "$gen"/lines-*.lp >&2
    # inspect wants the store closed cleanly: a server that had to be killed fails the run.
    bench_stop_server
    "$BIN/jialing" inspect "$data" >"$WORK/inspect-$k.txt"
    awk -v flagged="$flagged" '
        /^readings / { readings = $2 }
        /^  in sealed chunks/ { sealed = $NF }
        $1 == "chunk" && $2 == "bytes" && $3 != "per" { chunk = $3 }
        /^data file bytes/ { file = $NF }
        END { printf "%d %d %.5f %.5f\n", readings, flagged, chunk / sealed, file / readings }' "$WORK/inspect-$k.txt"
    rm -rf "$data"
}

store_one 0 >"$WORK/store-0.txt"
store_one "$PER_MILLE" >"$WORK/store-$PER_MILLE.txt"
read -r R0 F0 C0 B0 <"$WORK/store-0.txt"
read -r R1 F1 C1 B1 <"$WORK/store-$PER_MILLE.txt"
echo "| store | readings | flagged M | chunk bytes per sealed reading | file bytes per reading |"
echo "|---|---|---|---|---|"
echo "| no flags | $R0 | $F0 | $C0 | $B0 |"
echo "| $PER_MILLE series-hours in 1000 flagged M | $R1 | $F1 | $C1 | $B1 |"
awk -v c0="$C0" -v c1="$C1" -v b0="$B0" -v b1="$B1" 'BEGIN {
    printf "| flagged ÷ no flags | | | %.4f | %.4f |\n", c1 / c0, b1 / b0 }'
