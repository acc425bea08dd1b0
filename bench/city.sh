#!/usr/bin/env bash
# City scale and varied data, Jialing beside VictoriaMetrics (`make bench-city CASE=city`; issue
# 12 item 7 a and d). For one case, generates the data into a temporary directory (deleted at the
# end), loads it into Jialing (--sync=full) and then into VictoriaMetrics
# (-dedup.minScrapeInterval=1ms) with the same client (bin/bench-load), and measures for each:
# ingest readings/s and server CPU seconds, bytes per reading of the data directory after a
# settle, peak RSS (VmHWM), restart until the first answer to a query, and two queries (hourly
# mean of one series over the whole span; hourly mean of one metric over every station, grouped
# by district), each the median of --runs timed with curl. Prints a Markdown table with the ratios
# (and writes it to --out).
#
#   bash bench/city.sh --case city|million|long|mixed|slow|fine|smoke [--clients 2] [--batch 5000] [--runs 5]
#                      [--out bench/out/city-CASE.md] [--keep-data]
# Cases (bench-gen options):
#   city   --stations 20000 --days 1                 10^5 series at 60 s
#   million --stations 200000 --days 1 --cadence 3600 10^6 series, hourly (memory and restart)
#   long   --stations 2000 --days 30 --cadence 300    10^4 series, a month at 5 min (chunks of
#          a long history: ~8,600 readings a series, sealed and absorbed over the month)
#   mixed  --stations 200 --days 30 --mix            cadences 10 s-1 h, noise x0.25-x4
#   slow   --stations 2000 --days 30 --cadence 900 --decimals-shift 2 --noise-scale 4
#   fine   --stations 100 --days 7 --cadence 10 --decimals-shift -1 --noise-scale 0.25 --jitter-ms 2500
# Answers are not checked here (bench/peers.sh checks them on the reference data); the script
# checks that every line was acknowledged and that both systems return the same number of windows.
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh
CASE=city
CLIENTS=2
BATCH=5000
RUNS=5
OUTFILE=""
KEEP_DATA=0
BIN=${BIN:-bin}
while [ $# -gt 0 ]; do
    case "$1" in
    --case) CASE=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --out) OUTFILE=$2; shift 2 ;;
    --keep-data) KEEP_DATA=1; shift ;;
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "city.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$CASE" in
city) GEN_ARGS=(--stations 20000 --days 1) ;;
million) GEN_ARGS=(--stations 200000 --days 1 --cadence 3600) ;;
long) GEN_ARGS=(--stations 2000 --days 30 --cadence 300) ;;
mixed) GEN_ARGS=(--stations 200 --days 30 --mix) ;;
slow) GEN_ARGS=(--stations 2000 --days 30 --cadence 900 --decimals-shift 2 --noise-scale 4) ;;
smoke) GEN_ARGS=(--stations 20 --days 1) ;;
fine) GEN_ARGS=(--stations 100 --days 7 --cadence 10 --decimals-shift -1 --noise-scale 0.25 --jitter-ms 2500) ;;
*) echo "city.sh: unknown case $CASE" >&2; exit 2 ;;
esac
OUTFILE=${OUTFILE:-bench/out/city-$CASE.md}
bench_require "run 'make all' first" "$BIN/jialingd" "$BIN/bench-gen" "$BIN/bench-load"
command -v victoria-metrics >/dev/null || { echo "city.sh: victoria-metrics is missing (apt-get install victoria-metrics)" >&2; exit 2; }
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
now() { bench_now; }
loadavg() { bench_loadavg; }
mkdir -p "$(dirname "$OUTFILE")"
TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/jialing-city.XXXXXX")
# A server gets 60 s to stop after SIGTERM, then it is killed.
stop_server() { bench_stop_server 60 || true; }
cleanup() {
    stop_server
    bench_remove_or_keep "$TMPROOT" "$KEEP_DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

GEN=$TMPROOT/gen
log "generating: bench-gen ${GEN_ARGS[*]} --no-truth"
t0=$(now)
"$BIN/bench-gen" "${GEN_ARGS[@]}" --no-truth --out "$GEN" >&2
GEN_S=$(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }')
jf() { bench_json_field "$GEN/truth.json" "$1"; }
LINES=$(jf lines)
DISTINCT=$(jf distinct)
DUPS=$(jf duplicates)
FROM=$(jf start_ms)
TO=$(jf end_ms)
STATION=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["series"][0]["tags"]["station"])' "$GEN/truth.json")
LP_BYTES=$(du -s -B1 "$GEN" | cut -f1)
log "$LINES lines ($DISTINCT distinct, $DUPS re-sent), $LP_BYTES bytes of line protocol"

free_port() { bench_free_port; }
proc_kb() { bench_proc_kb "$SERVER_PID" "$1" || true; }
# utime + stime of the server and its reaped children
server_cpu_s() { bench_cpu_s "$SERVER_PID" children || echo 0; }
ms_to_s() { awk -v m="$1" 'BEGIN { printf "%d.%03d", int(m / 1000), m % 1000 }'; }
HOUR=3600000
# VictoriaMetrics' rollup at T covers (T-1h, T]: T = window start + 1h - 1 ms gives the same
# epoch-aligned half-open windows as Jialing's (as bench/check.py does).
VM_START=$(ms_to_s $((FROM - FROM % HOUR + HOUR - 1)))
VM_END=$(ms_to_s $(((TO - 1) - (TO - 1) % HOUR + HOUR - 1)))

# query_url SYSTEM WHICH: the URL path and query string of one question
query_url() {
    local sys=$1 which=$2
    case "$sys:$which" in
    jialing:one) echo "/api/v1/query?series=pm25%7Bstation%3D%22$STATION%22%7D&from=$FROM&to=$TO&window=1h&agg=mean" ;;
    jialing:group) echo "/api/v1/query?series=pm25&from=$FROM&to=$TO&window=1h&agg=mean&group_by=district" ;;
    vm:one) echo "/api/v1/query_range?nocache=1&start=$VM_START&end=$VM_END&step=3600s&query=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "avg_over_time(pm25_value{station=\"$STATION\"}[1h])")" ;;
    vm:group) echo "/api/v1/query_range?nocache=1&start=$VM_START&end=$VM_END&step=3600s&query=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' 'sum by (district) (sum_over_time(pm25_value[1h])) / sum by (district) (count_over_time(pm25_value[1h]))')" ;;
    esac
}
# windows SYSTEM FILE: number of (group, window) values in an answer
windows() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[2]))
if sys.argv[1] == "vm":
    print(sum(len(r["values"]) for r in d["data"]["result"]))
else:
    print(sum(len(s["values"]) for s in d["series"]))
EOF
}
# time_query URL: median seconds of RUNS runs (after one warm-up), answer kept in $TMPROOT/answer
time_query() {
    local t=() i
    # An error answer must stop the run, not be timed (set -e does not reach into $(...)).
    curl -sf -o "$TMPROOT/answer" "$URL$1" || { echo "city.sh: $KEY failed: $URL$1" >&2; curl -s "$URL$1" | head -c 400 >&2; kill $$; exit 1; }
    for i in $(seq 1 "$RUNS"); do
        t+=("$(curl -sf -o "$TMPROOT/answer" -w '%{time_total}' "$URL$1" || kill $$)")
    done
    printf '%s\n' "${t[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

declare -A R
start_server() { bench_start_server "$TMPROOT/$KEY-server.log" "${CMD[@]}"; }
# answers_one URL: whether the one-series question has an answer with windows (after a restart)
answers_one() {
    curl -sf -o "$TMPROOT/answer" "$1" 2>/dev/null && [ "$(windows "$KEY" "$TMPROOT/answer")" -gt 0 ]
}
run_system() {
    KEY=$1
    local dir="$TMPROOT/$KEY" port
    mkdir -p "$dir/data"
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    case "$KEY" in
    jialing)
        # --max-series: the grouped question touches 20,000 series, over the default 10,000.
        CMD=("$BIN/jialingd" --data "$dir/data" --listen "127.0.0.1:$port" --sync=full
            --max-series 1000000)
        WRITE="/api/v1/write?precision=ms" ;;
    vm)
        CMD=(victoria-metrics -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port"
            -retentionPeriod=100y -dedup.minScrapeInterval=1ms)
        WRITE="/write?precision=ms" ;;
    esac
    R[$KEY.cmd]="${CMD[*]}"
    log "$KEY: starting ${CMD[*]}"
    start_server
    bench_wait_http "$URL/health" 60 || exit 1
    cat "$GEN"/lines-*.lp >/dev/null
    local cpu0 cpu1 la
    la=$(loadavg)
    cpu0=$(server_cpu_s)
    log "$KEY: loading ($CLIENTS clients x $BATCH lines)"
    "$BIN/bench-load" --url "$URL" --path "$WRITE" --clients "$CLIENTS" --batch "$BATCH" \
        "$GEN"/lines-*.lp >"$dir/load.txt"
    cpu1=$(server_cpu_s)
    tail -n 1 "$dir/load.txt" >&2
    kv() { bench_load_kv "$dir/load.txt" "$1"; }
    R[$KEY.rate]=$(kv readings_per_s)
    R[$KEY.secs]=$(kv seconds)
    R[$KEY.acked]=$(kv readings)
    R[$KEY.cpu]=$(awk -v a="$cpu1" -v b="$cpu0" 'BEGIN { printf "%.1f", a - b }')
    R[$KEY.load]="$la -> $(loadavg)"
    # Settle: VictoriaMetrics flushes and force-merges; for both, wait until the directory stops
    # changing (three equal sizes 2 s apart, at most 5 minutes).
    if [ "$KEY" = vm ]; then
        curl -sf "$URL/internal/force_flush" >/dev/null || true
        curl -sf "$URL/internal/force_merge" >/dev/null || true
    fi
    R[$KEY.disk]=$(bench_settle_disk "$dir/data")
    log "$KEY: asking the questions"
    R[$KEY.q1]=$(time_query "$(query_url "$KEY" one)")
    R[$KEY.q1n]=$(windows "$KEY" "$TMPROOT/answer")
    R[$KEY.q2]=$(time_query "$(query_url "$KEY" group)")
    R[$KEY.q2n]=$(windows "$KEY" "$TMPROOT/answer")
    R[$KEY.hwm]=$(proc_kb VmHWM)
    log "$KEY: restarting"
    stop_server
    local t_start
    t_start=$(now)
    start_server
    local q
    q=$(query_url "$KEY" one)
    bench_wait_until 600 0.02 "$KEY to answer $q after the restart" answers_one "$URL$q" || exit 1
    R[$KEY.restart]=$(awk -v a="$(now)" -v b="$t_start" 'BEGIN { printf "%.2f", a - b }')
    stop_server
    [ "$KEEP_DATA" = 1 ] || rm -rf "$dir/data"
}
LOAD_START=$(loadavg)
run_system jialing
run_system vm

python3 - "$OUTFILE" <<EOF
import sys
r = {$(for k in "${!R[@]}"; do printf '"%s": """%s""",\n' "$k" "${R[$k]}"; done)}
lines, distinct = $LINES, $DISTINCT
def f(k): return float(r[k])
rows = []
def row(label, j, v, jtxt, vtxt, lower_better):
    ratio = j / v if v else float("nan")
    if lower_better:
        note = "%.2fx (%s)" % (ratio, "Jialing better" if ratio < 1 else "VictoriaMetrics better")
    else:
        note = "%.2fx (%s)" % (ratio, "Jialing better" if ratio > 1 else "VictoriaMetrics better")
    rows.append("| %s | %s | %s | %s |" % (label, jtxt, vtxt, note))
jr, vr = f("jialing.rate"), f("vm.rate")
row("ingest, readings/s (server CPU s)", jr, vr, "%.2f M (%.1f s)" % (jr / 1e6, f("jialing.cpu")),
    "%.2f M (%.1f s)" % (vr / 1e6, f("vm.cpu")), False)
jc, vc = f("jialing.cpu"), f("vm.cpu")
row("server CPU seconds for the load", jc, vc, "%.1f" % jc, "%.1f" % vc, True)
jb, vb = f("jialing.disk") / distinct, f("vm.disk") / distinct
row("bytes per reading on disk (settled)", jb, vb, "%.3f" % jb, "%.3f" % vb, True)
jh, vh = f("jialing.hwm") / 1024, f("vm.hwm") / 1024
row("peak RSS (VmHWM)", jh, vh, "%.0f MiB" % jh, "%.0f MiB" % vh, True)
js, vs = f("jialing.restart"), f("vm.restart")
row("restart until the first answer", js, vs, "%.2f s" % js, "%.2f s" % vs, True)
for q, label in (("q1", "hourly mean of one series, whole span"), ("q2", "hourly mean of pm25 grouped by district, all stations")):
    j, v = f("jialing." + q) * 1000, f("vm." + q) * 1000
    row("%s (%s / %s windows)" % (label, r["jialing." + q + "n"], r["vm." + q + "n"]), j, v, "%.2f ms" % j, "%.2f ms" % v, True)
out = ["| measure | Jialing | VictoriaMetrics | Jialing / VM |", "|---|---|---|---|"] + rows
out.append("")
out.append("Readings sent %d (%d distinct; acknowledged: Jialing %s, VictoriaMetrics %s). Load average: Jialing's load %s; VictoriaMetrics' load %s." %
           (lines, distinct, r["jialing.acked"], r["vm.acked"], r["jialing.load"], r["vm.load"]))
out.append("")
out.append("- Jialing: \`%s\`" % r["jialing.cmd"])
out.append("- VictoriaMetrics: \`%s\`" % r["vm.cmd"])
text = "\n".join(out) + "\n"
open(sys.argv[1], "w").write(text)
print(text)
EOF
log "generation took $GEN_S s, $LP_BYTES bytes; loadavg at start $LOAD_START, at end $(loadavg); table in $OUTFILE"
