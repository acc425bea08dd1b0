#!/usr/bin/env bash
# Restart benchmark (issue 12, item 3): builds a store with many series and many chunks (bench/
# restart_gen.c, straight through st_write, with the library of the build BEFORE the series-state
# records so that it is a format-4 directory), then times `jialingd` from start until its first
# /health answer and until a query (/api/v1/latest of one series) answers, and its peak RSS
# (VmHWM): first with the old binary, then the new binary's first start (which walks the chunks
# once and writes the records: the upgrade), then the new binary again (records only). Each
# start is timed warm (the data file in the page cache) and cold (the file's pages dropped from
# the cache with posix_fadvise, for this file only). Prints a Markdown table and writes it to
# bench/out/restart/REPORT-restart.md. Builds the current tree's library first (make).
#
#   bash bench/restart.sh [--series 100000] [--chunks 100] [--target 64] [--tail 32] [--runs 3]
#                         [--values walk|noise] [--before REV] [--keep-data]
# --chunks: chunks per series; --target: readings per chunk (the store's chunk_target); --tail:
# readings per series left unsealed in the write log (replayed at every start; default target/2);
# --values: a random walk in tenths (~2 B a reading) or noise (random doubles, 8 B a reading: with
# --target 480 every chunk fills one 4 KiB overflow page, as chunks the store sizes itself do);
# --before: the commit of the old binary (default: the parent of the commit that made store
# format 5). The environment may set SERIES CHUNKS TARGET TAIL VALUES RUNS BEFORE the same way,
# and START_TIMEOUT (seconds a start may take before the run fails, default 600).
# Disk: about 45 bytes per reading plus 60 per chunk at the defaults (4.3 GB for 10^5 x 100 x 64).
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh
SERIES=${SERIES:-100000}
CHUNKS=${CHUNKS:-100}
TARGET=${TARGET:-64}
TAIL=${TAIL:-}
VALUES=${VALUES:-walk}
RUNS=${RUNS:-3}
BEFORE=${BEFORE:-}
START_TIMEOUT=${START_TIMEOUT:-600}
KEEP_DATA=0
while [ $# -gt 0 ]; do
    case "$1" in
    --series) SERIES=$2; shift 2 ;;
    --chunks) CHUNKS=$2; shift 2 ;;
    --target) TARGET=$2; shift 2 ;;
    --tail) TAIL=$2; shift 2 ;;
    --values) VALUES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --before) BEFORE=$2; shift 2 ;;
    --keep-data) KEEP_DATA=1; shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "restart.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
TAIL=${TAIL:-$((TARGET / 2))}
if [ -z "$BEFORE" ]; then
    intro=$(git log -1 --format=%H -S'#define FORMAT_VERSION 5u' -- storage/disk_format.h)
    BEFORE=$(git rev-parse "$intro^")
fi
log() { echo "== $*" >&2; }
trap 'bench_stop_server || true' EXIT
trap 'exit 130' INT TERM

OUT=bench/out/restart
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
OLD_TREE="$OUT/before-$(git rev-parse --short "$BEFORE")"
if [ ! -x "$OLD_TREE/bin/jialingd" ]; then
    log "building the old binary ($BEFORE) in $OLD_TREE"
    rm -rf "$OLD_TREE" && mkdir -p "$OLD_TREE"
    git archive "$BEFORE" | tar -x -C "$OLD_TREE"
    make -C "$OLD_TREE" -j2 bin/jialingd >/dev/null
fi
make -j2 bin/jialingd >/dev/null
CFLAGS_GEN="-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror"
cc $CFLAGS_GEN -I"$OLD_TREE/include" -o "$OUT/restart_gen_old" bench/restart_gen.c \
    "$OLD_TREE/build/release/libjialing.a" -llmdb -llz4 -lpthread -lm

DATA="$OUT/data-${SERIES}x${CHUNKS}x${TARGET}+${TAIL}-${VALUES}"
rm -rf "$DATA"
log "generating $SERIES series x $CHUNKS chunks of $TARGET readings + $TAIL in the log into $DATA (old format)"
gen_start=$(date +%s.%N)
"$OUT/restart_gen_old" "$DATA" "$SERIES" "$CHUNKS" "$TARGET" "$TAIL" "$VALUES" 2> >(tee "$OUT/gen.log" >&2)
gen_end=$(date +%s.%N)
FILE_BYTES=$(stat -c %s "$DATA/data.mdb")

drop_cache() {
    python3 - "$DATA/data.mdb" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fsync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
EOF
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

QUERY='series=pm25%7Bstation%3D%22s0000007%22%7D'
# time_start BINARY: sets START_RESULT to "health_ms query_ms hwm_kib" for one start on $DATA.
# Runs in this shell (not in $(...)), so that the EXIT trap knows the server's PID.
START_RESULT=""
time_start() {
    local bin=$1 port t0 t1 t2 hwm
    port=$(bench_free_port)
    : >"$OUT/server.log"
    t0=$(now_ms)
    bench_start_server "$OUT/server.log" "$bin" --data "$DATA" --listen "127.0.0.1:$port"
    bench_wait_http "http://127.0.0.1:$port/health" "$START_TIMEOUT" 0.005 || exit 1
    t1=$(now_ms)
    curl -sf -o "$OUT/latest.json" "http://127.0.0.1:$port/api/v1/latest?$QUERY"
    t2=$(now_ms)
    hwm=$(bench_proc_kb "$SERVER_PID" VmHWM)
    bench_stop_server
    START_RESULT="$((t1 - t0)) $((t2 - t0)) $hwm"
}

ROWS=()
# measure LABEL BINARY CACHE RUNS
measure() {
    local label=$1 bin=$2 cache=$3 runs=$4 r out best_h=0 best_q=0 hwm=0 all=""
    for r in $(seq 1 "$runs"); do
        [ "$cache" = cold ] && drop_cache
        [ "$cache" = warm ] && cat "$DATA/data.mdb" >/dev/null
        time_start "$bin"
        out=$START_RESULT
        set -- $out
        all="$all $1/$2"
        if [ "$best_h" = 0 ] || [ "$1" -lt "$best_h" ]; then best_h=$1; best_q=$2; hwm=$3; fi
    done
    log "$label ($cache): health/query ms per run:$all; VmHWM $hwm KiB"
    ROWS+=("| $label | $cache | $best_h | $best_q | $((hwm / 1024)) | $all |")
}

measure "before ($(git rev-parse --short "$BEFORE"), walks every chunk)" "$OLD_TREE/bin/jialingd" warm "$RUNS"
measure "before ($(git rev-parse --short "$BEFORE"), walks every chunk)" "$OLD_TREE/bin/jialingd" cold "$RUNS"
measure "after, first start: walks once, writes the records (upgrade 4 -> 5)" bin/jialingd cold 1
measure "after (records)" bin/jialingd warm "$RUNS"
measure "after (records)" bin/jialingd cold "$RUNS"

CHUNK_LINE=$(grep 'restart_gen: .* series' "$OUT/gen.log" | tail -1)
{
    echo "Restart of a store of $SERIES series x $CHUNKS chunks of $TARGET readings (chunk_target $TARGET, values $VALUES), plus $TAIL readings per series in the write log"
    echo "($CHUNK_LINE; data.mdb $FILE_BYTES bytes; generated in $(awk -v a="$gen_start" -v b="$gen_end" 'BEGIN {printf "%.0f", b - a}') s)."
    echo "Best of the runs (ms from exec to the answer); every run as health/query ms. VmHWM includes the LMDB pages the open touched."
    echo
    echo "| binary | page cache | first /health, ms | first query, ms | peak RSS, MiB | runs (health/query ms) |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/REPORT-restart.md"

if [ "$KEEP_DATA" = 0 ]; then
    rm -rf "$DATA"
fi
