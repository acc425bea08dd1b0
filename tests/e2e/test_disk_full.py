# Disk full and map growth: a store on an 8 MiB tmpfs, started with a 4 MiB map, takes writes
# until the filesystem is full. The map must grow past its initial size on the way (no restart);
# the write that finds no space gets 507 with a message saying so; every acknowledged reading is
# still there and reads keep working; once space is freed (a filler file created at the start is
# deleted) writes succeed again; after a restart everything acknowledged is there.
#
# Needs root to mount the tmpfs (CI runs as root). Without root, or if the mount fails, the test
# FAILS: it must not pass without having filled a disk.

import os
import re
import shutil
import subprocess
import tempfile

from harness import Model, Server, TestFailure, body_error, by_series, check, eq, rng, skey

T0 = 1735689600000
SECOND = 1000
TMPFS_BYTES = 8 << 20
FILLER_BYTES = 2 << 20
MAP_BYTES = 4 << 20
SERIES = 16
LINES_PER_BATCH = 4000
MAX_BATCHES = 2000  # about 25 times what fills the free space


def _metric(srv, name):
    status, _, data = srv.request("GET", "/metrics")
    eq(status, 200, "GET /metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), data.decode(), re.M)
    check(m is not None, "/metrics has no %s line" % name)
    return int(m.group(1))


def _mount_tmpfs():
    if os.geteuid() != 0:
        raise TestFailure("test_disk_full needs root to mount a small tmpfs (run the e2e tests "
                          "as root, as CI does); it cannot pass without filling a disk")
    mount_point = tempfile.mkdtemp(prefix="jialing-e2e-full-")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % TMPFS_BYTES, "tmpfs",
                           mount_point], capture_output=True, text=True)
    if proc.returncode != 0:
        os.rmdir(mount_point)
        raise TestFailure("cannot mount a %d MiB tmpfs on %s (status %d: %s); test_disk_full "
                          "needs it" % (TMPFS_BYTES >> 20, mount_point, proc.returncode,
                                        proc.stderr.strip()))
    return mount_point


def _unmount(mount_point):
    proc = subprocess.run(["umount", mount_point], capture_output=True, text=True)
    if proc.returncode != 0:
        subprocess.run(["umount", "-l", mount_point], capture_output=True)
    shutil.rmtree(mount_point, ignore_errors=True)


class _Feed:
    """Batches of badly compressible readings (random doubles) over SERIES series, time moving
    forward one second per line of a series. Lines are formatted by hand: this loop is most of
    the test's time."""

    def __init__(self, r):
        self.r = r
        self.clock = 0
        self.model = Model()
        self.prefixes = ["full,disk=d%d value=" % s for s in range(SERIES)]
        self.keys = [skey("full", disk="d%d" % s) for s in range(SERIES)]

    def batch(self):
        lines, points = [], []
        uniform = self.r.uniform
        for i in range(LINES_PER_BATCH):
            s = i % SERIES
            ts = T0 + (self.clock + i // SERIES) * SECOND
            value = uniform(-1e6, 1e6)
            points.append((s, ts, value))
            lines.append("%s%r %d" % (self.prefixes[s], value, ts))
        self.clock += LINES_PER_BATCH // SERIES
        return "\n".join(lines), points

    def acknowledge(self, points):
        data = self.model.data
        for s, ts, value in points:
            data.setdefault(self.keys[s], {})[ts] = value


def _check_all(srv, model, what):
    doc = srv.ok("query", series="full", from_=T0, to=T0 + 10 ** 12)
    got = by_series(doc, ["time", "value"])
    eq(sorted(got), model.keys("full"), "%s: series" % what)
    total = 0
    for key in model.keys("full"):
        expected = model.readings(key)
        eq(len(got[key]), len(expected), "%s: count of %r" % (what, key))
        eq(got[key], expected, "%s: readings of %r" % (what, key))
        total += len(expected)
    return total


def test_disk_full_and_map_growth():
    mount_point = _mount_tmpfs()
    srv = None
    try:
        filler = os.path.join(mount_point, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * FILLER_BYTES)
            f.flush()
            os.fsync(f.fileno())
        data_dir = os.path.join(mount_point, "data")
        srv = Server(sync="full", data_dir=data_dir, name="diskfull",
                     args=["--map-size", str(MAP_BYTES)]).start()
        eq(_metric(srv, "jialing_map_bytes"), MAP_BYTES, "initial map size")
        feed = _Feed(rng("disk_full_and_map_growth"))

        # Fill the disk.
        # A wrong status is checked only at the end, so that one run also shows whether
        # anything else (acknowledged data, reads, recovery) went wrong.
        refusal = refusal_status = None
        for attempt in range(MAX_BATCHES):
            body, points = feed.batch()
            status, text = srv.write_lines(body, precision="ms")
            if status == 204:
                feed.acknowledge(points)
                continue
            check(status in (500, 507), "a write on a full disk: status %d (%s)"
                  % (status, text[:300]))
            refusal, refusal_status = body_error(text), status
            break
        check(refusal is not None, "the %d MiB tmpfs never filled up after %d batches"
              % (TMPFS_BYTES >> 20, MAX_BATCHES))
        grown = _metric(srv, "jialing_map_bytes")
        check(grown > MAP_BYTES, "the map grew past its initial %d bytes (now %d)"
              % (MAP_BYTES, grown))
        acknowledged = _check_all(srv, feed.model, "after the disk filled")
        print("  disk full after %d readings acknowledged; map %d -> %d bytes; refusal: %s"
              % (acknowledged, MAP_BYTES, grown, refusal))

        # Reads keep working, and the full disk keeps refusing without losing anything.
        for endpoint in ("series", "latest"):
            doc = srv.ok(endpoint, series="full")
            eq(len(doc["series"]), SERIES, "%s answers while the disk is full" % endpoint)
        doc = srv.ok("query", series="full", from_=T0, to=T0 + 10 ** 12, window="1h",
                     agg="count")
        eq(sum(row[1] for entry in doc["series"] for row in entry["values"]), acknowledged,
           "windowed count while the disk is full")
        body, points = feed.batch()
        status, text = srv.write_lines(body, precision="ms")
        if status == 204:  # pages freed by the failed transaction may fit one more batch
            feed.acknowledge(points)
        else:
            check(status in (500, 507), "a second write on the full disk: status %d (%s)"
                  % (status, text[:300]))
        check(srv.running(), "jialingd still running on the full disk")

        # Free space: writes succeed again.
        os.unlink(filler)
        for _ in range(5):
            body, points = feed.batch()
            status, text = srv.write_lines(body, precision="ms")
            eq(status, 204, "a write after space was freed (%s)" % text[:300])
            feed.acknowledge(points)
        _check_all(srv, feed.model, "after space was freed")

        # And it all survives a restart.
        srv.restart()
        _check_all(srv, feed.model, "after a restart")
        srv.stop()
        eq(refusal_status, 507, "status of the write that found the disk full (%r)" % refusal)
        check(re.search(r"space|full", refusal, re.I) is not None,
              "the 507 message says the disk is full: %r" % refusal)
    finally:
        if srv is not None:
            srv.cleanup()
        _unmount(mount_point)
