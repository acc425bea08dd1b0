#!/usr/bin/env bash
# libFuzzer runner: builds every tests/fuzz/fuzz_*.c with clang (-fsanitize=fuzzer,address,
# undefined) against the library sources, then fuzzes each for $1 seconds (default 60), starting
# from its seed corpus tests/fuzz/corpus/<name without fuzz_>/. New inputs go to a scratch corpus
# under build/fuzz/ so the checked-in seeds stay small; crashes are written there too.
# Usage: bash tests/fuzz/run.sh [seconds]
set -euo pipefail

cd "$(dirname "$0")/../.."
seconds="${1:-60}"
out=build/fuzz
mkdir -p "$out"

CC_FUZZ="${CC_FUZZ:-clang}"
LIBS=(-llmdb -llz4 -lmicrohttpd -lmsgpackc -ljansson -lz -lpthread -lm)
shopt -s nullglob
# Library sources plus the server modules a target may route through (no main()s, no sockets).
# (the route table reaches every handler, so every server module but the entry points and the
# CLI's; the embedded web assets come from `make`).
make -s build/gen/web_assets.c
lib_src=(storage/*.c query/*.c query/ingest/*.c build/gen/web_assets.c)
for f in server/*.c; do
    case "$f" in server/main.c | server/cli.c | server/httpclient.c | server/csvconvert.c) ;;
    *) lib_src+=("$f") ;; esac
done

status=0
summary=()
for target_src in tests/fuzz/fuzz_*.c; do
    target="$(basename "$target_src" .c)"
    name="${target#fuzz_}"
    bin="$out/$target"
    echo "== building $target"
    if ! "$CC_FUZZ" -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Iinclude \
        -o "$bin" "$target_src" "${lib_src[@]}" "${LIBS[@]}"; then
        echo "!! $target: build failed"
        summary+=("$target: build failed")
        status=1
        continue
    fi
    seeds="tests/fuzz/corpus/$name"
    work="$out/corpus/$name"
    artifacts="$out/artifacts/$name/"
    mkdir -p "$work" "$artifacts" "$seeds"
    log="$out/$target.log"
    echo "== fuzzing $target for ${seconds}s (seeds: $seeds)"
    if "$bin" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts" \
        "$work" "$seeds" >"$log" 2>&1; then
        runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || true)"
        summary+=("$target: ${runs:-?} executions in ${seconds}s, corpus $(ls "$work" | wc -l) files")
    else
        echo "!! $target failed; last lines of $log:"
        tail -n 40 "$log"
        summary+=("$target: FAILED (see $log and $artifacts)")
        status=1
    fi
done

echo "== fuzz summary"
for line in "${summary[@]}"; do
    echo "  $line"
done
exit "$status"
