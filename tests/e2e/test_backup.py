# Backups: POST /api/v1/backup on a server started with --backup-dir copies the store into a new
# directory while another thread keeps writing; a second server started on the copy answers
# exactly like the original for the readings written before the backup (sealed chunks, late
# rewrites and unsealed tails) and holds one whole prefix of the concurrent writes. The same for
# `jialing backup DIR OUT` run beside the live server. Without --backup-dir the endpoint is 404;
# with --tokens it needs a write token.

import json
import os
import shutil
import subprocess
import tempfile
import threading

from harness import (Model, Server, TestFailure, body_error, by_series, check, eq, line, rng,
                     server_binary, skey)

T0 = 1735689600000
MINUTE = 60000
LIVE_SERIES = 6
LIVE_STEP = 5  # readings per series in each concurrent write


def _cli_binary():
    return os.path.join(os.path.dirname(server_binary()), "jialing")


def _fill_stable(srv, r):
    """Writes the stable series: 12 stations with 50..3000 readings (chunks and tails), then
    late rewrites into the sealed part. Returns the model."""
    model = Model()
    lines = []
    for s in range(12):
        tags = {"station": "st%d" % s}
        for i in range(50 + 270 * s):
            ts = T0 + i * MINUTE
            value = round(r.uniform(-50, 150), 2)
            model.put("bstable", tags, ts, value)
            lines.append(line("bstable", tags, value, ts))
    for k in range(0, len(lines), 4000):
        srv.write_ok("\n".join(lines[k:k + 4000]), precision="ms")
    late = []
    for s in range(0, 12, 2):
        tags = {"station": "st%d" % s}
        for i in r.sample(range(50), 5):
            ts = T0 + i * MINUTE
            value = round(r.uniform(1000, 2000), 2)
            model.put("bstable", tags, ts, value)
            late.append(line("bstable", tags, value, ts))
    srv.write_ok("\n".join(late), precision="ms")
    return model


def _live_value(s, k):
    return float((s * 7919 + k * 104729) % 100003) / 8.0


class _Writer(threading.Thread):
    """Writes readings k.. of every live series in one request each, counting what was
    submitted and acknowledged (per series)."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv = srv
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.submitted = 0
        self.acknowledged = 0
        self.error = None

    def run(self):
        k = 0
        try:
            while not self.stop.is_set():
                body = "\n".join(line("blive", {"w": "w%d" % s}, _live_value(s, j), T0 + j * MINUTE)
                                 for s in range(LIVE_SERIES) for j in range(k, k + LIVE_STEP))
                with self.lock:
                    self.submitted = k + LIVE_STEP
                status, text = self.srv.write_lines(body, precision="ms")
                if status != 204:
                    raise TestFailure("concurrent write: status %d, %s" % (status, text[:300]))
                k += LIVE_STEP
                with self.lock:
                    self.acknowledged = k
        except Exception as e:  # reported by the test thread
            self.error = e

    def counts(self):
        with self.lock:
            return self.acknowledged, self.submitted


def _check_stable(copy, model, what):
    doc = copy.ok("query", series="bstable", from_=T0 - MINUTE, to=T0 + 10 ** 9)
    got = by_series(doc, ["time", "value"])
    eq(sorted(got), model.keys("bstable"), "%s: stable series" % what)
    for key in model.keys("bstable"):
        eq(got[key], model.readings(key), "%s: readings of %r" % (what, key))


def _check_live(copy, low, high, what):
    """Every live series holds readings 0..c-1, the same c for all, low <= c <= high."""
    doc = copy.ok("query", series="blive", from_=T0 - MINUTE, to=T0 + 10 ** 10)
    got = by_series(doc, ["time", "value"])
    eq(sorted(got), sorted(skey("blive", w="w%d" % s) for s in range(LIVE_SERIES)),
       "%s: live series" % what)
    counts = set(len(rows) for rows in got.values())
    eq(len(counts), 1, "%s: every live series has the same count (one commit)" % what)
    c = counts.pop()
    check(low <= c <= high, "%s: copy holds %d readings per live series, expected %d..%d"
          % (what, c, low, high))
    for s in range(LIVE_SERIES):
        expected = [[T0 + j * MINUTE, _live_value(s, j)] for j in range(c)]
        eq(got[skey("blive", w="w%d" % s)], expected, "%s: live readings of w%d" % (what, s))
    return c


def _check_listing(original, copy, what):
    """The series listing (first, last, count) of the stable series is identical."""
    for endpoint in ("series", "latest"):
        eq(copy.ok(endpoint, series="bstable"), original.ok(endpoint, series="bstable"),
           "%s: %s of the stable series" % (what, endpoint))


def test_backup_endpoint_while_writing():
    r = rng("backup_endpoint_while_writing")
    backups = tempfile.mkdtemp(prefix="jialing-e2e-backups-")
    srv = Server(sync="full", args=["--backup-dir", backups], name="backup-src").start()
    copies = []
    try:
        model = _fill_stable(srv, r)
        writer = _Writer(srv)
        writer.start()
        try:
            while writer.counts()[0] < 20 * LIVE_STEP and writer.error is None \
                    and writer.is_alive():
                threading.Event().wait(0.01)
            low = writer.counts()[0]
            status, _, data = srv.request("POST", "/api/v1/backup")
            eq(status, 200, "POST /api/v1/backup (%s)" % data[:300])
            high = writer.counts()[1]
            doc = json.loads(data.decode())
            path = doc.get("backup")
            check(isinstance(path, str) and os.path.dirname(path) == backups
                  and os.path.basename(path).startswith("backup-"),
                  "backup path %r is a new directory in %s" % (path, backups))
            check(isinstance(doc.get("bytes"), int) and doc["bytes"] > 0
                  and doc["bytes"] == os.path.getsize(os.path.join(path, "data.mdb")),
                  "bytes %r is the size of the copy" % doc.get("bytes"))
            # A second backup gets its own directory, never the first one's.
            status, _, data2 = srv.request("POST", "/api/v1/backup")
            eq(status, 200, "second POST /api/v1/backup (%s)" % data2[:300])
            check(json.loads(data2.decode())["backup"] != path, "second backup, new directory")
            # The request cannot choose the destination.
            status, _, data3 = srv.request("POST", "/api/v1/backup?dir=/tmp/elsewhere")
            eq(status, 400, "backup with a dir parameter")
            body_error(data3.decode())
            # `jialing backup` beside the running server, writes still going on.
            cli_out = os.path.join(backups, "cli-copy")
            cli_low = writer.counts()[0]
            proc = subprocess.run([_cli_binary(), "backup", srv.data_dir, cli_out],
                                  capture_output=True, text=True, timeout=120)
            cli_high = writer.counts()[1]
            eq(proc.returncode, 0, "jialing backup exit status (%s)" % proc.stderr.strip())
            proc = subprocess.run([_cli_binary(), "backup", srv.data_dir, cli_out],
                                  capture_output=True, text=True, timeout=120)
            eq(proc.returncode, 1, "jialing backup into a non-empty directory")
            check("not empty" in proc.stderr, "refusal names the reason: %r" % proc.stderr)
            threading.Event().wait(0.2)
        finally:
            writer.stop.set()
            writer.join(60)
        if writer.error is not None:
            raise writer.error
        check(writer.counts()[0] > high, "writes went on after the backup")

        for copy_dir, lo, hi, what in ((path, low, high, "endpoint copy"),
                                       (cli_out, cli_low, cli_high, "cli copy")):
            copy = Server(sync="full", data_dir=copy_dir, name="backup-copy").start()
            copies.append(copy)
            _check_stable(copy, model, what)
            _check_listing(srv, copy, what)
            c = _check_live(copy, lo, hi, what)
            print("  %s: %d live readings per series (acknowledged %d before, submitted %d "
                  "after)" % (what, c, lo, hi))
            # The copy is a working store: it takes writes.
            copy.write_ok(line("bstable", {"station": "new"}, 1.5, T0), precision="ms")
            copy.stop()
        srv.stop()
    finally:
        for copy in copies:
            copy.cleanup()
        srv.cleanup()
        shutil.rmtree(backups, ignore_errors=True)


def test_backup_disabled_and_tokens():
    srv = Server(sync="none", name="backup-off").start()
    try:
        status, _, data = srv.request("POST", "/api/v1/backup")
        eq(status, 404, "backup without --backup-dir")
        check("--backup-dir" in body_error(data.decode()), "404 message names --backup-dir")
        status, _, _ = srv.request("GET", "/api/v1/backup")
        eq(status, 405, "GET /api/v1/backup")
        srv.stop()
    finally:
        srv.cleanup()

    fd, tokens = tempfile.mkstemp(prefix="jialing-tokens-")
    with os.fdopen(fd, "w") as f:
        f.write("w-backup-1 write\nr-backup-2 read\n")
    backups = tempfile.mkdtemp(prefix="jialing-e2e-backups-")
    srv = Server(sync="none", args=["--tokens", tokens, "--backup-dir", backups],
                 name="backup-tokens").start()
    try:
        for headers, expected, what in (
                ({}, 401, "no token"),
                ({"Authorization": "Bearer r-backup-2"}, 403, "read token"),
                ({"Authorization": "Bearer w-backup-1"}, 200, "write token")):
            status, _, data = srv.request("POST", "/api/v1/backup", headers=headers)
            eq(status, expected, "backup with %s (%s)" % (what, data[:200]))
        eq(len(os.listdir(backups)), 1, "only the authorised request made a backup")
        srv.stop()
    finally:
        srv.cleanup()
        os.unlink(tokens)
        shutil.rmtree(backups, ignore_errors=True)
