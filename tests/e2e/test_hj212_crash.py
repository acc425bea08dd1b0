# HJ 212 ingest survives kill -9: 100 simulated loggers (`jialing hj212-send --replay` of a file
# written here, 100 stations over 4 connections, stop-and-wait, a message every 0.2 s each) send to `jialingd --hj212
# --sync=full`; the server is killed with SIGKILL once some hundreds of messages are
# acknowledged and started again on the same data directory and port; the simulator reconnects
# and re-sends what was unanswered. Every message the simulator logged as acknowledged
# (--acked-log) must then be stored with its values and flags, and since nothing was lost in the
# end, the store must hold exactly the file's readings.

import datetime
import os
import shutil
import subprocess
import tempfile
import time

from harness import HOST, TestFailure, check, eq, rng
from test_hj212_send import (REPORT_RE, TZ8, _sample_rows, cli_binary, expected_store, hj_server,
                             stored, utc_ms, wait_accepting, write_csv)

STATIONS = 100
TIMES = 40  # messages per station
KILL_AFTER = 600  # acknowledged messages before the kill
RUN_TIMEOUT_S = 300


def _acked_lines(path):
    try:
        with open(path) as f:
            return [line for line in f.read().split("\n")[:-1]]  # complete lines only
    except OSError:
        return []


def test_kill9_keeps_acknowledged_messages():
    r = rng("hj212_crash.kill9")
    srv = hj_server(sync="full", name="hj212-crash")
    tmp = tempfile.mkdtemp(prefix="jialing-hjcrash-")
    sender = None
    try:
        start = datetime.datetime(2025, 3, 1, 0, 0, 0, tzinfo=TZ8)
        mns, rows = _sample_rows(r, STATIONS, TIMES, start, 60)
        csv_path = os.path.join(tmp, "replay.csv")
        acked_path = os.path.join(tmp, "acked.txt")
        write_csv(csv_path, rows)
        total = STATIONS * TIMES
        # Each logger sends every 0.2 s (so the run lasts some seconds and the kill falls inside
        # it); a re-send waits 2 s for its reply; 60 re-sends outlast any restart here.
        sender = subprocess.Popen(
            [cli_binary(), "hj212-send", "--to", "%s:%d" % (HOST, srv.hj_port), "--replay",
             csv_path, "--connections", "4", "--interval", "0.2", "--timeout", "2", "--retries", "60",
             "--acked-log", acked_path],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while len(_acked_lines(acked_path)) < KILL_AFTER:
            if sender.poll() is not None:
                raise TestFailure("hj212-send ended before the kill: %r" % (sender.communicate(),))
            if time.monotonic() > deadline:
                raise TestFailure("%d messages acknowledged in %d s\n%s" % (
                    len(_acked_lines(acked_path)), RUN_TIMEOUT_S, srv.log_tail()))
            time.sleep(0.01)
        srv.kill9()
        at_kill = len(_acked_lines(acked_path))
        print("  kill -9 after %d of %d messages acknowledged" % (at_kill, total))
        check(at_kill < total, "the kill came after the last message (%d)" % at_kill)
        srv.start()  # same data directory, same --hj212 port
        wait_accepting(srv)
        out, err = sender.communicate(timeout=RUN_TIMEOUT_S)
        lines = out.decode().strip().splitlines()
        check(len(lines) == 1 and REPORT_RE.match(lines[0]), "report %r (stderr %r)" % (out, err))
        m = REPORT_RE.match(lines[0])
        sent, acked, lost, retried = (int(x) for x in m.groups())
        print("  " + lines[0])
        eq(sender.returncode, 0, "hj212-send exit status (stderr %r)" % err)
        eq((sent, acked, lost), (total, total, 0), "sent, acknowledged, lost")

        acked_lines = _acked_lines(acked_path)
        eq(len(acked_lines), total, "acked log lines")
        eq(len(set(acked_lines)), total, "distinct acknowledged messages")
        want = expected_store(rows)
        got = stored(srv, sorted(want), utc_ms("20250228000000"), utc_ms("20250302000000"))
        # Every acknowledged message: all of its readings, with their values and flags.
        by_message = {}
        for mn, dt, code, value, flag in rows:
            by_message.setdefault((mn, dt), []).append((code, float(value), flag))
        missing = []
        for line in acked_lines:
            mn, dt = line.split(",")
            for code, value, flag in by_message[(mn, dt)]:
                metric = next(m for c, m in (("a34004", "pm25"), ("a34002", "pm10"),
                                             ("a21026", "so2"), ("a21004", "no2"),
                                             ("a21005", "co"), ("a05024", "o3")) if c == code)
                stored_rows = got.get(metric, {}).get((mn, "2011"), [])
                if [utc_ms(dt), value, flag] not in stored_rows:
                    missing.append((mn, dt, code, value, flag))
        eq(missing[:5], [], "acknowledged readings missing after kill -9 (%d)" % len(missing))
        eq(got, want, "stored readings after kill -9 and restart")
        srv.stop()
    finally:
        if sender is not None and sender.poll() is None:
            sender.kill()
            sender.wait()
        srv.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
