# Shared pieces of the benchmark scripts (bench/*.sh): free ports, one server started in the
# background with its PID kept for the cleanup trap, readiness waits that give up, the server's
# CPU seconds and peak RSS from /proc, and small readers of bench-gen's truth.json and
# bench-load's summary line. Sourced, not run: `. "$(dirname "$0")/lib.sh"` after `set -euo
# pipefail`; every function works under it. Messages name the calling script (${0##*/}).
#
# The one server: bench_start_server sets SERVER_PID (and BENCH_SERVER_LOG); bench_stop_server
# stops it and clears SERVER_PID, so a script's EXIT trap calls bench_stop_server and stops what
# is still running, and nothing else. A server must be started in the script's own shell, never
# inside $(...) or <(...): a subshell's SERVER_PID is lost to the trap, and a failure there would
# leave the server running.

SERVER_PID=""
BENCH_SERVER_LOG=""

# bench_free_port: prints a TCP port on 127.0.0.1 that nothing listens on now.
bench_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_start_server LOG COMMAND...: starts COMMAND in the background with stdout and stderr
# appended to LOG, and keeps its PID in SERVER_PID.
bench_start_server() {
    BENCH_SERVER_LOG=$1
    shift
    "$@" >>"$BENCH_SERVER_LOG" 2>&1 &
    SERVER_PID=$!
}

# bench_stop_server [GRACE_S]: sends SIGTERM to SERVER_PID, waits up to GRACE_S seconds
# (default 600) for it to end, then SIGKILLs it; clears SERVER_PID. Returns 1 (with a message)
# when it had to be killed: its store was not closed cleanly. Nothing to stop returns 0.
bench_stop_server() {
    local grace=${1:-600} pid=$SERVER_PID deadline rc=0
    [ -n "$pid" ] || return 0
    SERVER_PID=""
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "${0##*/}: server $pid did not stop within $grace s of SIGTERM; killed" >&2
        kill -KILL "$pid" 2>/dev/null || true
        rc=1
    fi
    wait "$pid" 2>/dev/null || true
    return "$rc"
}

# bench_wait_until TIMEOUT_S INTERVAL_S WHAT COMMAND...: runs COMMAND (a program or a function)
# every INTERVAL_S seconds until it succeeds. Returns 1 with a message naming WHAT when
# TIMEOUT_S seconds pass first, or when SERVER_PID (if set) has exited meanwhile; then the tail
# of BENCH_SERVER_LOG follows the message.
bench_wait_until() {
    local timeout=$1 interval=$2 what=$3 deadline
    shift 3
    deadline=$((SECONDS + timeout))
    while true; do
        "$@" && return 0
        if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "${0##*/}: the server exited while waiting for $what" >&2
            bench_server_log_tail
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "${0##*/}: gave up after $timeout s waiting for $what" >&2
            bench_server_log_tail
            return 1
        fi
        sleep "$interval"
    done
}

# bench_wait_http URL [TIMEOUT_S] [INTERVAL_S]: bench_wait_until URL answers 2xx (curl -f);
# 30 s and 0.1 s by default. One request may take TIMEOUT_S too (a server that accepts and never
# answers must not hold the wait forever), so the wait ends within twice TIMEOUT_S.
bench_wait_http() {
    bench_wait_until "${2:-30}" "${3:-0.1}" "$1 to answer" \
        curl -sf -o /dev/null --max-time "${2:-30}" "$1"
}

# bench_wait_tcp PORT [TIMEOUT_S]: bench_wait_until 127.0.0.1:PORT accepts a connection.
bench_wait_tcp() {
    bench_wait_until "${2:-30}" 0.1 "127.0.0.1:$1 to accept a connection" bench_tcp_open "$1"
}
bench_tcp_open() {
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
        "$1" 2>/dev/null
}

bench_server_log_tail() {
    if [ -n "$BENCH_SERVER_LOG" ] && [ -s "$BENCH_SERVER_LOG" ]; then
        echo "--- last lines of $BENCH_SERVER_LOG:" >&2
        tail -n 20 "$BENCH_SERVER_LOG" >&2
    fi
}

# bench_cpu_s PID [children]: prints the CPU seconds of PID, utime + stime (fields 14 and 15 of
# /proc/PID/stat), with "children" plus those of its reaped children (cutime + cstime, 16 and
# 17), to 3 decimals. The command name (field 2) is cut off first: it may hold spaces. Fails
# (prints nothing) when PID has gone.
bench_cpu_s() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    # Fields 14-17 of the whole line are 12-15 after "pid (comm) ".
    awk -v hz="$(getconf CLK_TCK)" -v children="${2:-}" '{
        t = $12 + $13
        if (children == "children") t += $14 + $15
        printf "%.3f\n", t / hz }' <<<"${stat##*) }"
}

# bench_proc_kb PID FIELD: prints a kB figure of /proc/PID/status, e.g. VmHWM (peak RSS).
# Fails when PID has gone.
bench_proc_kb() {
    local status
    status=$(cat "/proc/$1/status" 2>/dev/null) || return 1
    awk -v k="$2:" '$1 == k { print $2 }' <<<"$status"
}

# bench_require SCRIPT_HINT FILE...: exits 2 with "NAME: FILE is missing; SCRIPT_HINT" unless
# every FILE is executable.
bench_require() {
    local hint=$1 b
    shift
    for b in "$@"; do
        [ -x "$b" ] || { echo "${0##*/}: $b is missing; $hint" >&2; exit 2; }
    done
}

# bench_whole_numbers VALUE...: exits 2 naming the first VALUE that is not a whole number.
bench_whole_numbers() {
    local n
    for n in "$@"; do
        case "$n" in '' | *[!0-9]*) echo "${0##*/}: '$n' is not a whole number" >&2; exit 2 ;; esac
    done
}

# bench_gen DIR ARGS...: writes DIR with $BIN/bench-gen ARGS, through DIR.partial so that an
# interrupted run leaves no DIR that looks complete (a complete one has DIR/truth.json).
bench_gen() {
    local dir=$1
    shift
    rm -rf "$dir" "$dir.partial"
    "$BIN/bench-gen" "$@" --out "$dir.partial"
    mv "$dir.partial" "$dir"
}

# bench_gen_cached DIR WHAT ARGS...: bench_gen DIR ARGS unless a complete DIR (with
# truth.json) is there already: the generator is deterministic, so the same ARGS give the same
# files. Logs "generating WHAT into DIR" or "reusing DIR" through the script's log function.
bench_gen_cached() {
    local dir=$1 what=$2
    shift 2
    if [ ! -f "$dir/truth.json" ]; then
        log "generating $what into $dir"
        bench_gen "$dir" "$@"
    else
        log "reusing $dir"
    fi
}

# bench_remove_or_keep DIR KEEP: removes DIR, or with KEEP=1 leaves it and says where it is
# (for the scripts' --keep-data).
bench_remove_or_keep() {
    if [ "$2" = 1 ]; then echo "${0##*/}: data kept in $1" >&2; else rm -rf "$1"; fi
}

# bench_json_field FILE KEY [DEFAULT]: prints one top-level field of a JSON file (truth.json);
# with DEFAULT, a missing field prints DEFAULT.
bench_json_field() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(d.get(sys.argv[2], sys.argv[3]) if len(sys.argv) > 3 else d[sys.argv[2]])' "$@"
}

# bench_load_kv FILE KEY: prints KEY's value in bench-load's summary (the last line of FILE,
# "key=value key=value ...").
bench_load_kv() {
    tail -n 1 "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'
}

# bench_disk_bytes DIR: bytes allocated under DIR (sparse files count as what they store).
bench_disk_bytes() { du -s -B1 "$1" | cut -f1; }

# bench_settle_disk DIR: waits until DIR stops changing (three equal sizes 2 s apart, at most
# 5 minutes) and prints its bytes then.
bench_settle_disk() {
    local prev=-1 same=0 cur
    for _ in $(seq 1 150); do
        sleep 2
        cur=$(bench_disk_bytes "$1")
        if [ "$cur" = "$prev" ]; then same=$((same + 1)); else same=0; fi
        prev=$cur
        [ "$same" -lt 3 ] || break
    done
    echo "$cur"
}

bench_loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
bench_now() { date +%s.%N; }
