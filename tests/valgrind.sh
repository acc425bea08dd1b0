#!/usr/bin/env bash
# Leak check of a server run (`make test-valgrind`): starts bin/jialingd under valgrind
# --leak-check=full on a temporary data directory, writes over HTTP with curl (line protocol and
# msgpack, enough to seal chunks, late rewrites, a refused batch), queries every endpoint (raw,
# windows, scan, latest, series, CSV, errors, metrics, a backup), stops it with SIGTERM and fails
# unless valgrind reports no errors and "definitely lost: 0" / "indirectly lost: 0" (or that all
# heap blocks were freed) and the server exited with status 0. The map starts at 1 MiB (valgrind
# cannot reserve the default 64 GiB), so it also grows during the run.
#
#   bash tests/valgrind.sh            BIN=bin/other bash tests/valgrind.sh
set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
JIALINGD="$BIN/jialingd"
[ -x "$JIALINGD" ] || { echo "valgrind.sh: $JIALINGD is missing; run make all first" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 2; }

WORK=$(mktemp -d /tmp/jialing-valgrind-XXXXXX)
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "== $*" >&2; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
log "valgrind jialingd on port $PORT"
valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=1 --log-file="$WORK/valgrind.log" \
    "$JIALINGD" --data "$WORK/data" --listen "127.0.0.1:$PORT" --sync=full --threads 4 --map-size 1048576 \
    --backup-dir "$WORK/backups" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 600); do
    curl -sf "$URL/health" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
done
curl -sf "$URL/health" >/dev/null || { cat "$WORK/server.log" "$WORK/valgrind.log" >&2; echo "valgrind.sh: jialingd did not start" >&2; exit 1; }

failures=0
expect() { # expected-status method path [curl args...]
    local want=$1 method=$2 path=$3
    shift 3
    local got
    got=$(curl -s -o "$WORK/body" -w '%{http_code}' -X "$method" "$@" "$URL$path")
    if [ "$got" != "$want" ]; then
        echo "valgrind.sh: $method $path: status $got, expected $want: $(head -c 300 "$WORK/body")" >&2
        failures=$((failures + 1))
    fi
}

# Writes: 3 stations x 6000 one-minute readings (sealed chunks and tails), late rewrites, a bad
# batch, and a msgpack body.
T0=1735689600000
python3 - "$WORK" "$T0" <<'EOF'
import sys
work, t0 = sys.argv[1], int(sys.argv[2])
for part in range(6):
    with open("%s/batch-%d.lp" % (work, part), "w") as f:
        for s in range(3):
            for i in range(part * 1000, part * 1000 + 1000):
                f.write("vg,station=s%d value=%.1f %d\n" % (s, (i * 7 + s) % 500 / 10.0, t0 + i * 60000))
with open("%s/late.lp" % work, "w") as f:
    for i in range(0, 6000, 97):
        f.write("vg,station=s1 value=-1.5 %d\n" % (t0 + i * 60000))
sys.path.insert(0, "tests/e2e")
import harness
with open("%s/batch.msgpack" % work, "wb") as f:
    f.write(harness.msgpack_encode({"series": [
        {"metric": "vgm", "tags": {"k": "v"}, "t": [t0 + i * 1000 for i in range(500)],
         "v": [float(i) for i in range(500)]}]}))
EOF
for part in 0 1 2 3 4 5; do
    expect 204 POST "/api/v1/write?precision=ms" --data-binary "@$WORK/batch-$part.lp"
done
expect 204 POST "/api/v1/write?precision=ms" --data-binary "@$WORK/late.lp"
expect 400 POST "/api/v1/write?precision=ms" --data-binary $'vg,station=s1 value=1 1\nvg,station=s1 value=oops 2'
expect 204 POST "/api/v1/write" -H 'Content-Type: application/msgpack' --data-binary "@$WORK/batch.msgpack"

# Reads.
TO=$((T0 + 6000 * 60000))
expect 200 GET "/api/v1/query?series=vg&from=$T0&to=$TO"
expect 200 GET "/api/v1/query?series=vg&from=$T0&to=$TO&window=1h&agg=count,sum,mean,min,max,first,last"
expect 200 GET "/api/v1/query?series=vg&from=$T0&to=$TO&window=1d&agg=mean&tz=%2B08:00&format=csv"
expect 200 GET "/api/v1/scan?series=vg&from=$T0&to=$TO&op=gt&value=40"
expect 200 GET "/api/v1/scan?series=vg&from=$T0&to=$TO&op=le&value=1&output=count"
expect 200 GET "/api/v1/latest?series=vg"
expect 200 GET "/api/v1/series?series=vgm"
expect 200 GET "/metrics"
expect 400 GET "/api/v1/query?series=vg&from=nonsense"
expect 400 GET "/api/v1/query?series=vg&bogus=1"
expect 404 GET "/no/such/endpoint"
expect 405 GET "/api/v1/write"
expect 200 POST "/api/v1/backup"

kill -TERM "$SERVER_PID"
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=""

summary=$(sed -n '/HEAP SUMMARY/,$p' "$WORK/valgrind.log" | sed 's/^==[0-9]*== //')
echo "$summary"
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$WORK/valgrind.log" | tail -1)
leak_free=0
if grep -q "All heap blocks were freed" "$WORK/valgrind.log" ||
    { grep -q "definitely lost: 0 bytes" "$WORK/valgrind.log" &&
        grep -q "indirectly lost: 0 bytes" "$WORK/valgrind.log"; }; then
    leak_free=1
fi
if [ "$status" != 0 ] || [ "${errors:-x}" != 0 ] || [ "$leak_free" != 1 ] || [ "$failures" != 0 ]; then
    echo "valgrind: FAIL (exit status $status, ${errors:-?} errors, leak free: $leak_free, $failures unexpected answers)"
    grep -v "^==[0-9]*== *$" "$WORK/valgrind.log" | sed -n '1,200p' >&2
    exit 1
fi
echo "valgrind: PASS (exit status 0, 0 errors, no definite or indirect leaks)"
