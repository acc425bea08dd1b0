#!/usr/bin/env bash
# Re-sent data (issue 12: "a reading arrives ... often late or re-sent after an outage"): both
# systems get a day of line protocol, then the very same lines again, as a data logger re-sends
# its buffer after a network outage. Reported per pass: wall-clock rate and server CPU seconds,
# then bytes on disk once settled and a count of one series over the day, which must equal the
# distinct readings the generator wrote for it (a re-send adds nothing). Jialing at --sync=full,
# VictoriaMetrics with -dedup.minScrapeInterval=1ms, as in bench/city.sh.
#
#   bash bench/resend.sh [--stations 400] [--days 1] [--cadence 60] [--out bench/out/resend.md]
#
# 400 stations x 5 metrics at 60 s keep every reading of the day in Jialing's tails (nothing is
# sealed before the re-send), the case where a re-sent reading lands in a compressed tail.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BIN=${BIN:-bin}
STATIONS=400 DAYS=1 CADENCE=60 OUTFILE=bench/out/resend.md
while [ $# -gt 0 ]; do
    case "$1" in
    --stations) STATIONS=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --cadence) CADENCE=$2; shift 2 ;;
    --out) OUTFILE=$2; shift 2 ;;
    *) echo "resend.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
bench_whole_numbers "$STATIONS" "$DAYS" "$CADENCE"
bench_require "run 'make all' first" "$BIN/jialingd" "$BIN/bench-gen" "$BIN/bench-load"
command -v victoria-metrics >/dev/null || { echo "resend.sh: victoria-metrics is missing (apt-get install victoria-metrics)" >&2; exit 2; }
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
mkdir -p "$(dirname "$OUTFILE")"
TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/jialing-resend.XXXXXX")
trap 'bench_stop_server 60 || true; rm -rf "$TMPROOT"' EXIT
trap 'exit 130' INT TERM

GEN=$TMPROOT/gen
log "generating: --stations $STATIONS --days $DAYS --cadence $CADENCE"
bench_gen "$GEN" --stations "$STATIONS" --days "$DAYS" --cadence "$CADENCE"
FROM=$(bench_json_field "$GEN/truth.json" start_ms)
TO=$(bench_json_field "$GEN/truth.json" end_ms)
read -r STATION WANT < <(python3 -c 'import json,sys
s = json.load(open(sys.argv[1]))["series"]
pm = [x for x in s if x["metric"] == "pm25"][0]
print(pm["tags"]["station"], pm["count"])' "$GEN/truth.json")

declare -A R
run_system() {
    local key=$1 dir=$TMPROOT/$1 port url write count
    mkdir -p "$dir/data"
    port=$(bench_free_port)
    url="http://127.0.0.1:$port"
    case "$key" in
    jialing)
        bench_start_server "$dir/server.log" "$BIN/jialingd" --data "$dir/data" \
            --listen "127.0.0.1:$port" --sync=full
        write="/api/v1/write?precision=ms" ;;
    vm)
        bench_start_server "$dir/server.log" victoria-metrics -storageDataPath="$dir/data" \
            -httpListenAddr="127.0.0.1:$port" -retentionPeriod=100y -dedup.minScrapeInterval=1ms
        write="/write?precision=ms" ;;
    esac
    bench_wait_http "$url/health" 60 || exit 1
    for pass in first resend; do
        local c0 c1
        c0=$(bench_cpu_s "$SERVER_PID" children)
        "$BIN/bench-load" --url "$url" --path "$write" --clients 2 --batch 5000 \
            "$GEN"/lines-*.lp >"$dir/$pass.txt"
        c1=$(bench_cpu_s "$SERVER_PID" children)
        R[$key.$pass.rate]=$(bench_load_kv "$dir/$pass.txt" readings_per_s)
        R[$key.$pass.cpu]=$(awk -v a="$c1" -v b="$c0" 'BEGIN { printf "%.2f", a - b }')
        log "$key $pass: $(tail -n 1 "$dir/$pass.txt")"
    done
    if [ "$key" = vm ]; then
        curl -sf "$url/internal/force_flush" >/dev/null || true
        curl -sf "$url/internal/force_merge" >/dev/null || true
    fi
    R[$key.disk]=$(bench_settle_disk "$dir/data")
    case "$key" in
    jialing)
        count=$(curl -sfg "$url/api/v1/query?series=pm25%7Bstation%3D%22$STATION%22%7D&from=$FROM&to=$TO&agg=count&window=${DAYS}d&flags=all" |
            python3 -c 'import json,sys; print(int(sum(v[1] for s in json.load(sys.stdin)["series"] for v in s["values"])))') ;;
    vm)
        count=$(curl -sf "$url/api/v1/export?match%5B%5D=pm25_value%7Bstation%3D%22$STATION%22%7D" |
            python3 -c 'import json,sys; print(sum(len(json.loads(l)["values"]) for l in sys.stdin if l.strip()))') ;;
    esac
    R[$key.count]=$count
    bench_stop_server 60 || true
}

run_system jialing
run_system vm
DISTINCT=$(bench_json_field "$GEN/truth.json" distinct)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
mega() { awk -v r="$1" 'BEGIN { printf "%.2f M", r / 1e6 }'; }
{
    echo "| measure | Jialing | VictoriaMetrics | Jialing / VM |"
    echo "|---|---|---|---|"
    for pass in first resend; do
        echo "| $pass pass: readings/s (server CPU s) | $(mega "${R[jialing.$pass.rate]}") (${R[jialing.$pass.cpu]}) | $(mega "${R[vm.$pass.rate]}") (${R[vm.$pass.cpu]}) | CPU $(ratio "${R[jialing.$pass.cpu]}" "${R[vm.$pass.cpu]}") |"
    done
    echo "| bytes per distinct reading, settled | $(awk -v a="${R[jialing.disk]}" -v n="$DISTINCT" 'BEGIN { printf "%.3f", a / n }') | $(awk -v a="${R[vm.disk]}" -v n="$DISTINCT" 'BEGIN { printf "%.3f", a / n }') | $(ratio "${R[jialing.disk]}" "${R[vm.disk]}") |"
    echo "| readings of pm25{station=\"$STATION\"} (generator: $WANT) | ${R[jialing.count]} | ${R[vm.count]} | |"
    echo
    echo "--stations $STATIONS --days $DAYS --cadence $CADENCE: $DISTINCT distinct readings, sent twice."
} >"$OUTFILE"
cat "$OUTFILE"
if [ "${R[jialing.count]}" != "$WANT" ]; then
    echo "resend.sh: Jialing counts ${R[jialing.count]} readings of $STATION, the generator wrote $WANT" >&2
    exit 1
fi
