#!/usr/bin/env bash
# Test runner behind `make test` and CI. For each build variant present (bin/ and bin/asan/): runs
# every unit test binary (counting its "ok NAME"/"FAIL NAME" lines), replays each fuzz target's
# corpus (one test per target), then runs the end-to-end suite against that variant's jialingd.
# Ends with exactly one summary line "N passed, N failed" and exits 1 if anything failed.
# Last, it builds (make tsan-tests) and runs the store's concurrency tests under ThreadSanitizer.
#
# Usage: bash tests/run.sh [--unit-only | --tsan-only]
#   --unit-only: unit test binaries only (the TSan ones included); --tsan-only: the TSan ones
# A unit binary that crashes, times out, or exits non-zero without printing a FAIL line counts as
# one failure; so does one that runs no tests at all.

set -u
cd "$(dirname "$0")/.." || exit 1

UNIT_ONLY=0
TSAN_ONLY=0
for arg in "$@"; do
    case "$arg" in
    --unit-only) UNIT_ONLY=1 ;;
    --tsan-only) TSAN_ONLY=1 ;;
    *)
        echo "usage: bash tests/run.sh [--unit-only | --tsan-only]" >&2
        exit 2
        ;;
    esac
done

UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-120}
E2E_TIMEOUT=${E2E_TIMEOUT:-400}
PASSED=0
FAILED=0
RUNNER=() # command prefix for unit test binaries (setarch for TSan)
LOG=$(mktemp /tmp/jialing-run.XXXXXX)
trap 'rm -f "$LOG"' EXIT

note_failure() { # name, reason
    FAILED=$((FAILED + 1))
    echo "FAIL $1: $2"
}

run_unit_tests() { # variant-bin-dir
    local dir=$1 bin rc ok fail
    shopt -s nullglob
    local bins=("$dir"/tests/test_*)
    shopt -u nullglob
    if [ ${#bins[@]} -eq 0 ]; then
        echo "  (no unit test binaries in $dir/tests)"
        return
    fi
    for bin in "${bins[@]}"; do
        if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then continue; fi
        timeout --kill-after=10 "$UNIT_TIMEOUT" "${RUNNER[@]}" "$bin" >"$LOG" 2>&1
        rc=$?
        ok=$(grep -c '^ok ' "$LOG")
        fail=$(grep -c '^FAIL ' "$LOG")
        PASSED=$((PASSED + ok))
        FAILED=$((FAILED + fail))
        if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ] || [ "$ok" -eq 0 ]; then
            sed 's/^/    /' "$LOG" | tail -n 200
            if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
                note_failure "$bin" "timed out after ${UNIT_TIMEOUT}s"
            elif [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
                note_failure "$bin" "exited with status $rc without a FAIL line (crash?)"
            elif [ "$ok" -eq 0 ] && [ "$fail" -eq 0 ]; then
                note_failure "$bin" "ran no tests"
            fi
        fi
        echo "  $(basename "$bin"): $ok passed, $fail failed (exit $rc)"
    done
}

run_fuzz_replay() { # variant-bin-dir
    local dir=$1 bin name corpus rc files
    shopt -s nullglob
    local bins=("$dir"/fuzz-replay/fuzz_*)
    shopt -u nullglob
    if [ ${#bins[@]} -eq 0 ]; then
        echo "  (no fuzz replay binaries in $dir/fuzz-replay)"
        return
    fi
    for bin in "${bins[@]}"; do
        if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then continue; fi
        name=$(basename "$bin")
        name=${name#fuzz_}
        corpus=tests/fuzz/corpus/$name
        files=$(find "$corpus" -type f 2>/dev/null | wc -l)
        if [ "$files" -eq 0 ]; then
            note_failure "$bin" "no corpus files in $corpus/"
            continue
        fi
        timeout --kill-after=10 "$FUZZ_TIMEOUT" "$bin" "$corpus/" >"$LOG" 2>&1
        rc=$?
        if [ "$rc" -eq 0 ]; then
            PASSED=$((PASSED + 1))
            echo "ok fuzz replay $name ($files files)"
        else
            tail -n 60 "$LOG" | sed 's/^/    /'
            note_failure "fuzz replay $name" "exit status $rc over $files corpus files"
        fi
    done
}

# Runs a suite that ends with "WORD: N passed, N failed" and adds its counts.
run_counted() { # label word command...
    local label=$1 word=$2 rc summary p f
    shift 2
    timeout --kill-after=10 "$E2E_TIMEOUT" "$@" 2>&1 | tee "$LOG"
    rc=${PIPESTATUS[0]}
    summary=$(grep -E "^$word: [0-9]+ passed, [0-9]+ failed\$" "$LOG" | tail -n 1)
    if [ -z "$summary" ]; then
        note_failure "$label" "the suite ended without its summary line (exit status $rc)"
        return
    fi
    p=$(echo "$summary" | sed -E 's/^[a-z0-9]+: ([0-9]+) passed, ([0-9]+) failed$/\1/')
    f=$(echo "$summary" | sed -E 's/^[a-z0-9]+: ([0-9]+) passed, ([0-9]+) failed$/\2/')
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        note_failure "$label" "exit status $rc"
    fi
}

# The end-to-end suite, then the short crash test (5 SIGKILLs during writes), on a variant.
run_e2e() { # variant-bin-dir
    local dir=$1
    if [ ! -x "$dir/jialingd" ]; then
        note_failure "e2e ($dir)" "$dir/jialingd is missing"
        return
    fi
    run_counted "e2e ($dir)" e2e env JIALINGD="$dir/jialingd" python3 tests/e2e/run_e2e.py
    run_counted "crash ($dir)" crash python3 tests/crash/crash_test.py --short \
        --jialingd "$dir/jialingd"
    # Real InfluxDB clients from npm (tests/clients, installed by tools/deps-clients.sh).
    if [ -d tests/clients/node_modules ]; then
        run_counted "clients ($dir)" clients env JIALINGD="$dir/jialingd" node tests/clients/run.js
    else
        note_failure "clients ($dir)" "tests/clients/node_modules is missing: bash tools/deps-clients.sh"
    fi
}

run_variant() { # variant-bin-dir label
    local dir=$1 label=$2 start=$SECONDS
    echo "=== $label ($dir)"
    echo "--- unit tests"
    run_unit_tests "$dir"
    if [ "$UNIT_ONLY" -eq 0 ]; then
        echo "--- fuzz corpus replay"
        run_fuzz_replay "$dir"
        echo "--- end-to-end"
        run_e2e "$dir"
    fi
    echo "=== $label done in $((SECONDS - start))s"
}

# ThreadSanitizer maps its shadow memory at fixed addresses, which the address randomization of
# newer kernels (vm.mmap_rnd_bits above 28) can collide with: run without randomization when
# setarch allows it here.
run_tsan() {
    local start=$SECONDS
    echo "=== tsan (bin/tsan)"
    if ! make -s tsan-tests >"$LOG" 2>&1; then
        tail -n 60 "$LOG" | sed 's/^/    /'
        note_failure "tsan build" "make tsan-tests failed"
        return
    fi
    RUNNER=()
    if setarch "$(uname -m)" -R true 2>/dev/null; then
        RUNNER=(setarch "$(uname -m)" -R)
    fi
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    echo "--- unit tests (store concurrency)"
    run_unit_tests bin/tsan
    unset TSAN_OPTIONS
    RUNNER=()
    echo "=== tsan done in $((SECONDS - start))s"
}

variants=0
if [ "$TSAN_ONLY" -eq 0 ] && { [ -e bin/jialingd ] || [ -d bin/tests ]; }; then
    variants=$((variants + 1))
    unset ASAN_OPTIONS UBSAN_OPTIONS
    run_variant bin release
fi
if [ "$TSAN_ONLY" -eq 0 ] && [ -d bin/asan ]; then
    variants=$((variants + 1))
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_variant bin/asan asan+ubsan
    unset ASAN_OPTIONS UBSAN_OPTIONS
fi
# The browser tests (tests/browser: console and public page in headless chromium), once, on the
# release build.
if [ "$TSAN_ONLY" -eq 0 ] && [ "$UNIT_ONLY" -eq 0 ] && [ -x bin/jialingd ]; then
    echo "=== browser (bin)"
    if [ -d tests/browser/node_modules/playwright-core ] && [ -x /usr/bin/chromium ]; then
        run_counted "browser" browser env JIALINGD=bin/jialingd node tests/browser/run.js
    else
        note_failure "browser" "chromium or playwright-core is missing: run bash tools/deps.sh"
    fi
fi
if [ "$TSAN_ONLY" -eq 0 ] && [ "$variants" -eq 0 ]; then
    note_failure "build" "no build found (bin/jialingd, bin/tests, bin/asan); run make all first"
fi
run_tsan

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
