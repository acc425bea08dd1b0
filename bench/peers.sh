#!/usr/bin/env bash
# The side-by-side benchmark (`make bench-peers`): the reference workload of DESIGN §6 loaded into
# Jialing, VictoriaMetrics and InfluxDB one after another in one run, with the same load client
# (bin/bench-load) and the same questions (bench/check.py), every answer checked against the
# generator's truth. Installs the peers from Debian when missing (with a policy-rc.d that keeps
# their packaged services from starting), starts each server on 127.0.0.1 with its data in a
# temporary directory, stops it by its PID, and writes bench/REPORT.md and bench/REPORT.png.
#
#   bash bench/peers.sh [--scale K | --stations N] [--days 365] [--seed 1] [--clients 2]
#                       [--batch 5000] [--runs 5] [--max-ingest-seconds 1200]
#                       [--systems jialing,vm,influx] [--no-install] [--keep-data]
#                       [--results bench/out/peers] [--report bench/REPORT.md]
# --scale K loads K times the reference (20*K stations: --scale 10 is ~521 M readings).
# The plot goes next to the report (REPORT.png for REPORT.md); --results holds the raw figures.
# Exit status: 0 when every system ingested everything and every answer was correct.
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh
STATIONS=20
DAYS=365
SEED=1
CLIENTS=2
BATCH=5000
RUNS=5
MAX_INGEST_S=1200
SYSTEMS="jialing,vm,influx"
INSTALL=1
KEEP_DATA=0
RES=bench/out/peers
REPORT=bench/REPORT.md
BIN=${BIN:-bin}
JIALINGD=${JIALINGD:-$BIN/jialingd}

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
    --scale) STATIONS=$((20 * $2)); shift 2 ;;
    --stations) STATIONS=$2; shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --max-ingest-seconds) MAX_INGEST_S=$2; shift 2 ;;
    --systems) SYSTEMS=$2; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --keep-data) KEEP_DATA=1; shift ;;
    --results) RES=$2; shift 2 ;;
    --report) REPORT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "peers.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done
bench_whole_numbers "$STATIONS" "$DAYS" "$SEED" "$CLIENTS" "$BATCH" "$RUNS" "$MAX_INGEST_S"
bench_require "run 'make all' first" "$JIALINGD" "$BIN/bench-gen" "$BIN/bench-load"
log() { echo "== $(date -u +%H:%M:%S) $*" >&2; }
loadavg() { bench_loadavg; }
now() { bench_now; }
OUT=bench/out
PNG=${REPORT%.md}.png
mkdir -p "$RES"
rm -f "$RES"/*.json "$RES"/*.txt "$RES"/*.log
LOADAVG_START=$(loadavg)

# ---- peers from Debian. Packaged services must not start on their own: the sandbox has no
# systemd (systemctl mask is useless), so a policy-rc.d answering 101 ("action forbidden") is put
# in place for the install when there is none, and any daemon that started anyway is stopped by
# the PID it got.
install_peers() {
    local need=()
    command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
    command -v influxd >/dev/null || need+=(influxdb)
    /usr/bin/python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
    [ ${#need[@]} -gt 0 ] || return 0
    log "installing ${need[*]} from Debian"
    local created=0 before after pid
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# bench/peers.sh: no service starts during the install\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created=1
    fi
    before=$(pgrep -x 'victoria-metric|influxd' || true)
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
    [ "$created" = 0 ] || rm -f /usr/sbin/policy-rc.d
    after=$(pgrep -x 'victoria-metric|influxd' || true)
    for pid in $after; do
        if ! grep -qx "$pid" <<<"$before"; then
            log "stopping packaged daemon $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null))"
            kill "$pid" 2>/dev/null || true
        fi
    done
}
case ",$SYSTEMS," in *,vm,* | *,influx,*) [ "$INSTALL" = 0 ] || install_peers ;; esac

# ---- data (shared with bench/run.sh; the generator is deterministic)
GEN="$OUT/gen-${STATIONS}x${DAYS}-seed${SEED}"
bench_gen_cached "$GEN" "$STATIONS stations x $DAYS days (seed $SEED)" \
    --stations "$STATIONS" --days "$DAYS" --seed "$SEED" >&2
json_field() { bench_json_field "$GEN/truth.json" "$1"; }
DISTINCT=$(json_field distinct)
LINES=$(json_field lines)
DUPLICATES=$(json_field duplicates)

TMPROOT=$(mktemp -d "${TMPDIR:-/tmp}/jialing-peers.XXXXXX")
# A server gets 30 s to stop after SIGTERM, then it is killed.
stop_server() { bench_stop_server 30 || true; }
cleanup() {
    stop_server
    bench_remove_or_keep "$TMPROOT" "$KEEP_DATA"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { bench_free_port; }
proc_kb() { bench_proc_kb "$SERVER_PID" "$1" || true; }
# utime + stime of the server and its reaped children
server_cpu_s() { bench_cpu_s "$SERVER_PID" children || echo 0; }
disk_bytes() { bench_disk_bytes "$1"; }
vm_merges_active() {
    curl -sf "$URL/metrics" | awk '/^vm_active_merges/ { n += $2 } END { print n + 0 }'
}
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }

# ---- one system: start, load, wait until queryable, settle, measure, ask, stop
run_system() {
    local key=$1 dir="$TMPROOT/$1" port port2 write_path health version cmd=()
    mkdir -p "$dir/data"
    port=$(free_port)
    URL="http://127.0.0.1:$port"
    case "$key" in
    jialing)
        cmd=("$JIALINGD" --data "$dir/data" --listen "127.0.0.1:$port" --sync=full)
        write_path="/api/v1/write?precision=ms"
        health=/health
        version="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- storage query server 2>/dev/null || echo ' + uncommitted changes')"
        ;;
    vm)
        cmd=(victoria-metrics -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port"
            -retentionPeriod=100y -dedup.minScrapeInterval=1ms)
        write_path="/write?precision=ms"
        health=/health
        version="Debian victoria-metrics $(dpkg-query -W -f '${Version}' victoria-metrics)"
        ;;
    influx)
        port2=$(free_port)
        cat >"$dir/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$port2"
[meta]
  dir = "$dir/data/meta"
[data]
  dir = "$dir/data/data"
  wal-dir = "$dir/data/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
  compact-full-write-cold-duration = "30s"
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  auth-enabled = false
  log-enabled = false
  max-row-limit = 0
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
EOF
        cmd=(influxd -config "$dir/influxdb.conf")
        write_path="/write?db=bench&precision=ms"
        health=/ping
        version="Debian influxdb $(dpkg-query -W -f '${Version}' influxdb) ($(influxd version 2>/dev/null | head -n 1))"
        ;;
    *) echo "peers.sh: unknown system $key" >&2; return 2 ;;
    esac

    log "$key: starting ${cmd[*]}"
    : >"$RES/$key-server.log"
    bench_start_server "$RES/$key-server.log" "${cmd[@]}"
    bench_wait_http "$URL$health" 60 || { echo "peers.sh: $key did not come up" >&2; stop_server; return 1; }
    if [ "$key" = influx ]; then
        curl -sf -XPOST "$URL/query" --data-urlencode 'q=CREATE DATABASE bench' >/dev/null
    fi

    local la_before la_after cpu0 cpu1 t_end load_status=ok capped=0 q_wait=None queryable=None vmhwm wait_pid
    # The checker that waits for the data to be queryable loads the truth before the load starts,
    # then starts polling the moment it is told the time of the last acknowledgement.
    rm -f "$dir/go" "$dir/go.ready"
    python3 bench/check.py wait-queryable --system "$key" --url "$URL" --truth "$GEN" \
        --go-file "$dir/go" --timeout 600 >"$RES/$key-queryable.txt" &
    wait_pid=$!
    checker_ready() { [ -e "$dir/go.ready" ] || ! kill -0 "$wait_pid" 2>/dev/null; }
    bench_wait_until 600 0.05 "check.py wait-queryable to load the truth" checker_ready || {
        kill "$wait_pid" 2>/dev/null || true
        wait "$wait_pid" 2>/dev/null || true
        stop_server
        return 1
    }
    # Read the line files once, so that every system's load starts with them in the page cache
    # (at --scale 4 they are 14 GB, and the first system otherwise paid for reading them).
    cat "$GEN"/lines-*.lp >/dev/null
    la_before=$(loadavg)
    cpu0=$(server_cpu_s)
    log "$key: loading $LINES lines, $CLIENTS clients x $BATCH lines, cap $MAX_INGEST_S s"
    "$BIN/bench-load" --url "$URL" --path "$write_path" --clients "$CLIENTS" --batch "$BATCH" \
        --max-seconds "$MAX_INGEST_S" "$GEN"/lines-*.lp >"$RES/$key-load.txt" || {
        rc=$?
        if [ "$rc" = 3 ]; then capped=1; load_status=capped; else load_status=failed; fi
    }
    t_end=$(now)
    cpu1=$(server_cpu_s)
    la_after=$(loadavg)
    cat "$RES/$key-load.txt" >&2
    kv() { tail -n 1 "$RES/$key-load.txt" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

    # Queryable: VictoriaMetrics buffers recent rows in memory for about a second; ask it to flush.
    if [ "$load_status" = ok ]; then
        [ "$key" != vm ] || curl -sf "$URL/internal/force_flush" >/dev/null || true
        echo "$t_end" >"$dir/go.tmp" && mv "$dir/go.tmp" "$dir/go"
        if wait "$wait_pid"; then
            q_wait=$(cat "$RES/$key-queryable.txt")
            queryable=$(awk -v a="$(kv seconds)" -v b="$q_wait" 'BEGIN { printf "%.3f", a + b }')
        fi
    else
        kill "$wait_pid" 2>/dev/null || true
        wait "$wait_pid" 2>/dev/null || true
    fi
    vmhwm=$(proc_kb VmHWM)
    local disk_ingest settle_start settle_s disk_settled
    disk_ingest=$(disk_bytes "$dir/data")

    # Settle: VictoriaMetrics force-merges; InfluxDB snapshots its cache and fully compacts its
    # shards once cold (30 s here); both are waited for until the directory size stops changing.
    settle_start=$(now)
    log "$key: settling"
    case "$key" in
    vm)
        curl -sf "$URL/internal/force_merge" >/dev/null || true
        local prev=-1 same=0 cur
        for _ in $(seq 1 450); do
            sleep 2
            cur=$(disk_bytes "$dir/data")
            if [ "$(vm_merges_active)" = 0 ] && [ "$cur" = "$prev" ]; then same=$((same + 1)); else same=0; fi
            prev=$cur
            [ "$same" -lt 3 ] || break
        done
        ;;
    influx)
        local prev=-1 same=0 cur waited=0
        for _ in $(seq 1 180); do
            sleep 5
            waited=$((waited + 5))
            cur=$(disk_bytes "$dir/data")
            if [ "$cur" = "$prev" ]; then same=$((same + 1)); else same=0; fi
            prev=$cur
            [ "$same" -lt 12 ] || [ "$waited" -lt 90 ] || break
        done
        ;;
    esac
    settle_s=$(fsub "$(now)" "$settle_start")
    disk_settled=$(disk_bytes "$dir/data")

    local query_status=skipped
    if [ "$load_status" != failed ]; then
        log "$key: asking the questions (median of $RUNS runs)"
        if python3 bench/check.py queries --system "$key" --url "$URL" --truth "$GEN" --runs "$RUNS" \
            --json "$RES/$key-queries.json"; then
            query_status=ok
        else
            query_status=failed
        fi
    fi
    local vmhwm_end
    vmhwm_end=$(proc_kb VmHWM)
    stop_server
    python3 - "$RES/$key-ingest.json" <<EOF
import json, sys
json.dump({"system": "$key", "version": """$version""", "command": """${cmd[*]}""",
           "write_path": "$write_path", "readings": ${LINES}, "acked": int("$(kv readings)" or 0),
           "readings_per_s": float("$(kv readings_per_s)" or 0) or None,
           "seconds": float("$(kv seconds)" or 0) or None, "client_cpu_s": float("$(kv cpu_s)" or 0),
           "server_cpu_s": round($cpu1 - $cpu0, 2), "vmhwm_kb": int("$vmhwm" or 0) or None,
           "vmhwm_end_kb": int("${vmhwm_end}" or 0) or None, "queryable_s": $queryable,
           "disk_after_ingest": $disk_ingest, "disk_settled": $disk_settled, "settle_s": $settle_s,
           "capped": $capped, "load_status": "$load_status", "query_status": "$query_status",
           "loadavg_before": "$la_before", "loadavg_after": "$la_after"}, open(sys.argv[1], "w"), indent=1)
EOF
    [ "$KEEP_DATA" = 1 ] || rm -rf "$dir"
    [ "$load_status" = ok ] && [ "$query_status" = ok ]
}

FAILED=""
for key in ${SYSTEMS//,/ }; do
    run_system "$key" || FAILED="$FAILED $key"
done

cat >"$RES/run.json" <<EOF
{"stations": $STATIONS, "days": $DAYS, "seed": $SEED, "clients": $CLIENTS, "batch": $BATCH, "runs": $RUNS,
 "lines": $LINES, "distinct": $DISTINCT, "duplicates": $DUPLICATES, "max_ingest_s": $MAX_INGEST_S,
 "loadavg_start": "$LOADAVG_START", "loadavg_end": "$(loadavg)"}
EOF
python3 bench/check.py report-peers --dir "$RES" --out "$REPORT" --png "$(basename "$PNG")" >/dev/null
# Debian's python3 is the one with Debian's matplotlib (another python3 may come first in PATH).
/usr/bin/python3 bench/plot.py --dir "$RES" --out "$PNG" || echo "peers.sh: no plot (matplotlib missing?)" >&2
if [ -n "$FAILED" ]; then
    echo "peers.sh: FAILED for:$FAILED (see $REPORT)" >&2
    exit 1
fi
log "done: $REPORT, $PNG"
