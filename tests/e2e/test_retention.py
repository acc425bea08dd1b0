# Retention over HTTP: a server started with --retention 1h, --retention-metric keep=0 (forever)
# and --retention-metric short=10m, written with timestamps near now. Readings already past their
# metric's retention are dropped when written (the request still answers 204, as
# VictoriaMetrics does) and counted in jialing_retention_dropped_readings_total; the others are
# stored and read back exactly, also after kill -9 and a restart. Bad retention flags stop the
# server at start with a message naming the flag. A store written without retention and
# restarted with --retention 1d loses, in the writer's first pass, every sealed chunk of its old
# series but the newest (polled on /metrics with a deadline; deleting chunks as the clock passes
# them is tested with an injected clock in tests/unit/test_retention.c).

import subprocess
import time

from harness import Server, by_series, check, eq, server_binary, skey

MINUTE = 60000
HOUR = 3600000
DAY = 86400000
FLAGS = ["--retention", "1h", "--retention-metric", "keep=0", "--retention-metric=short=10m"]


def _metric(srv, name):
    status, _, body = srv.request("GET", "/metrics")
    eq(status, 200, "GET /metrics status")
    for text in body.decode("utf-8", "replace").splitlines():
        if text.startswith(name + " "):
            return int(text.split()[1])
    raise AssertionError("%s not in /metrics" % name)


def _raw(srv, metric, lo, hi):
    doc = srv.ok("query", series=metric, from_=lo, to=hi)
    return by_series(doc, ["time", "value"]).get(skey(metric, station="a"), [])


def test_writes_past_retention_dropped_and_counted():
    now = int(time.time() * 1000)
    srv = Server(sync="full", args=FLAGS, name="retention").start()
    try:
        eq(_metric(srv, "jialing_retention_dropped_readings_total"), 0, "dropped at start")
        eq(_metric(srv, "jialing_retention_chunks_deleted_total"), 0, "chunks deleted at start")
        lines = [
            "ret,station=a value=1 %d" % (now - 2 * HOUR),     # past 1h: dropped
            "ret,station=a value=2 %d" % (now - 61 * MINUTE),  # past 1h: dropped
            "ret,station=a value=3 %d" % (now - 30 * MINUTE),
            "ret,station=a value=4 %d" % (now - MINUTE),
            "keep,station=a value=5 %d" % (now - 2 * DAY),     # kept forever
            "short,station=a value=6 %d" % (now - 30 * MINUTE),  # past 10m: dropped
            "short,station=a value=7 %d" % (now - MINUTE),
        ]
        srv.write_ok("\n".join(lines) + "\n", precision="ms")
        # A request holding only readings past retention stores nothing and still succeeds.
        srv.write_ok("gone,station=a value=8 %d\n" % (now - 3 * HOUR), precision="ms")

        def check_readings(when):
            eq(_raw(srv, "ret", now - 3 * HOUR, now + HOUR),
               [[now - 30 * MINUTE, 3.0], [now - MINUTE, 4.0]], "ret readings " + when)
            eq(_raw(srv, "keep", now - 3 * DAY, now + HOUR), [[now - 2 * DAY, 5.0]],
               "keep readings " + when)
            eq(_raw(srv, "short", now - 3 * HOUR, now + HOUR), [[now - MINUTE, 7.0]],
               "short readings " + when)
            doc = srv.ok("series", series="gone")
            eq(doc["series"], [], "series of a request wholly past retention " + when)

        check_readings("after writing")
        eq(_metric(srv, "jialing_retention_dropped_readings_total"), 4, "readings dropped")
        eq(_metric(srv, "jialing_points_ingested_total"), 8, "points acknowledged")
        srv.kill9()
        srv.start()
        check_readings("after kill -9 and a restart")
    finally:
        srv.cleanup()


def test_bad_retention_flags_refused():
    cases = [
        (["--retention", "soon"], "--retention"),
        (["--retention", "-1d"], "--retention"),
        (["--retention-metric", "pm25"], "--retention-metric"),
        (["--retention-metric", "=3y"], "--retention-metric"),
        (["--retention-metric", "pm25=3q"], "--retention-metric"),
    ]
    for args, flag in cases:
        proc = subprocess.run([server_binary(), "--data", "/nonexistent/never-created"] + args,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        check(proc.returncode != 0, "%r: the server started" % (args,))
        message = proc.stderr.decode("utf-8", "replace")
        check(flag in message, "%r: message %r does not name %s" % (args, message, flag))


def test_restart_with_retention_deletes_old_chunks():
    now = int(time.time() * 1000)
    start = now - 30 * DAY
    count = 40000  # a reading a minute, all before now - 1d: several sealed chunks and a tail
    readings = [[start + i * MINUTE, float(i % 977) / 10] for i in range(count)]
    srv = Server(name="retention_restart").start()
    try:
        lines = ["old,station=a value=%r %d" % (v, ts) for ts, v in readings]
        for k in range(0, count, 3000):
            srv.write_ok("\n".join(lines[k:k + 3000]) + "\n", precision="ms")
        chunks = _metric(srv, "jialing_chunks")
        check(chunks >= 3, "40000 readings sealed into %d chunks, expected several" % chunks)
        srv.args = ["--retention", "1d"]
        srv.restart()
        deadline = time.monotonic() + 30
        while _metric(srv, "jialing_retention_chunks_deleted_total") == 0:
            check(time.monotonic() < deadline, "no chunk deleted 30 s after the restart")
            time.sleep(0.05)
        eq(_metric(srv, "jialing_retention_chunks_deleted_total"), chunks - 1, "chunks deleted")
        eq(_metric(srv, "jialing_chunks"), 1, "chunks left")
        deleted = _metric(srv, "jialing_retention_readings_deleted_total")
        check(0 < deleted < count, "readings deleted: %d" % deleted)
        eq(_raw(srv, "old", start - DAY, now + HOUR), readings[deleted:],
           "readings left: the newest chunk and the tail")
        doc = srv.ok("latest", series="old")
        eq(doc["series"][0]["values"], [readings[-1]], "latest reading")
    finally:
        srv.cleanup()
