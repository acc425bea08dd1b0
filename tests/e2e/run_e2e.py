#!/usr/bin/env python3
# End-to-end test runner: imports every tests/e2e/test_*.py, runs each function named test_* in
# file order, prints "ok NAME" or "FAIL NAME: message" per test, and ends with the line
# "e2e: N passed, N failed" that tests/run.sh adds to its totals. The server under test is
# $JIALINGD (default bin/jialingd). Usage: run_e2e.py [-k SUBSTRING] [--seed N]

import argparse
import importlib
import inspect
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def collect(pattern):
    tests = []
    for filename in sorted(os.listdir(HERE)):
        if not (filename.startswith("test_") and filename.endswith(".py")):
            continue
        module = importlib.import_module(filename[:-3])
        funcs = [f for name, f in vars(module).items()
                 if name.startswith("test_") and inspect.isfunction(f)
                 and f.__module__ == module.__name__]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        for f in funcs:
            name = "%s.%s" % (module.__name__, f.__name__)
            if pattern is None or pattern in name:
                tests.append((name, f))
    return tests


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-k", dest="pattern", help="run only tests whose name contains this")
    parser.add_argument("--seed", type=int, help="random seed for every test (default: fixed)")
    options = parser.parse_args()
    if options.seed is not None:
        os.environ["E2E_SEED"] = str(options.seed)

    binary = harness.server_binary()
    print("e2e: server %s" % binary)
    sys.stdout.flush()
    passed = failed = 0
    if not os.access(binary, os.X_OK):
        print("FAIL e2e.server_binary: %s is missing or not executable" % binary)
        print("e2e: 0 passed, 1 failed")
        return 1

    started = time.monotonic()
    for name, func in collect(options.pattern):
        t0 = time.monotonic()
        message = None
        try:
            func()
        except harness.TestFailure as e:
            message = str(e)
        except Exception:  # an unexpected error (connection refused, bad JSON ...) fails the test
            message = traceback.format_exc(limit=4).rstrip()
        shared = harness._shared
        if shared is not None and not shared.running():
            message = (message or "") + "\nshared server died\n" + shared.log_tail()
            harness._shared = None
            shared.cleanup()
        harness.stop_all_servers_except(shared if shared is not None and shared.running() else None)
        elapsed = time.monotonic() - t0
        if message is None:
            passed += 1
            print("ok %s (%.1fs)" % (name, elapsed))
        else:
            failed += 1
            print("FAIL %s (%.1fs): %s" % (name, elapsed, message))
        sys.stdout.flush()

    # The shared server must stop cleanly on SIGTERM (under ASan this is where leaks show).
    try:
        harness.shared_shutdown()
        passed += 1
        print("ok e2e.shared_server_clean_exit")
    except harness.TestFailure as e:
        failed += 1
        print("FAIL e2e.shared_server_clean_exit: %s" % e)
    harness.stop_all_servers()
    print("e2e: %.1fs" % (time.monotonic() - started))
    print("e2e: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
