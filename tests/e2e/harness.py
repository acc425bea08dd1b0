# End-to-end harness: starts the real jialingd (path in $JIALINGD) on 127.0.0.1 with a free port
# and a temporary data directory, talks HTTP to it, stops it (SIGTERM, or kill -9 on request) and
# restarts it on the same directory. Also a tiny msgpack encoder (the stdlib has none), reference
# helpers for windows, and the assertion helpers the tests use. Python 3 standard library only.

import http.client
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.parse

HOST = "127.0.0.1"
AGGS_ALL = ["count", "sum", "mean", "min", "max", "first", "last"]
REQUEST_TIMEOUT_S = 60.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


class TestFailure(AssertionError):
    pass


# ---------------------------------------------------------------------------------------------
# Assertions: each raises TestFailure with a message saying what differed.


def check(cond, message):
    if not cond:
        raise TestFailure(message)


def eq(actual, expected, what):
    if actual != expected:
        raise TestFailure("%s: got %s, expected %s" % (what, _short(actual), _short(expected)))


def near(actual, expected, what, rel=1e-9, abs_tol=1e-9):
    if actual is None or not math.isclose(actual, expected, rel_tol=rel, abs_tol=abs_tol):
        raise TestFailure("%s: got %r, expected %r" % (what, actual, expected))


def _short(value, limit=600):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


def free_port():
    # The port is released before the server binds it; another process could take it in between,
    # which start() handles by retrying on a new port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def server_binary():
    path = os.environ.get("JIALINGD")
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "bin", "jialingd")
    return os.path.abspath(path)


# Every server started in this process, so the runner can stop leftovers after a failed test.
_live_servers = []


class Server:
    """One jialingd process on its own data directory."""

    def __init__(self, sync="none", args=(), data_dir=None, name="server"):
        self.sync = sync
        self.args = list(args)
        self.name = name
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="jialing-e2e-")
        self.log_path = os.path.join(tempfile.gettempdir(),
                                     "jialing-e2e-%d-%s-%d.log" % (os.getpid(), name, id(self)))
        self.proc = None
        self.port = None
        self.exit_codes = []  # exit status of every SIGTERM stop, for the clean-exit check

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self):
        last_error = None
        for _attempt in range(3):
            self.port = free_port()
            cmd = [server_binary(), "--data", self.data_dir, "--listen",
                   "%s:%d" % (HOST, self.port), "--sync=" + self.sync] + self.args
            log = open(self.log_path, "ab")
            log.write(("\n=== start: %s\n" % " ".join(cmd)).encode())
            log.flush()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            if self not in _live_servers:
                _live_servers.append(self)
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    last_error = "jialingd exited with status %d while starting" % self.proc.returncode
                    break
                try:
                    status, _, _ = self.request("GET", "/health", timeout=2.0)
                    if status == 200:
                        return self
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.02)
            else:
                self.kill9()
                raise TestFailure("jialingd did not answer /health within %ds\n%s"
                                  % (START_TIMEOUT_S, self.log_tail()))
        raise TestFailure("%s\n%s" % (last_error, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, then wait. Returns the exit status; a hang or a non-zero status fails."""
        if self.proc is None:
            return 0
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise TestFailure("jialingd did not stop within %ds of SIGTERM\n%s"
                                  % (STOP_TIMEOUT_S, self.log_tail()))
        self.exit_codes.append(proc.returncode)
        if proc.returncode != 0:
            raise TestFailure("jialingd exited with status %d after SIGTERM\n%s"
                              % (proc.returncode, self.log_tail()))
        return proc.returncode

    def kill9(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        """Stops (kill -9 if still running) and removes the data directory and log."""
        self.kill9()
        if self in _live_servers:
            _live_servers.remove(self)
        if os.environ.get("E2E_KEEP"):
            print("  kept %s and %s" % (self.data_dir, self.log_path))
            return
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        try:
            os.unlink(self.log_path)
        except OSError:
            pass

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no server log)"
        tail = text.splitlines()[-lines:]
        return "  --- server log (last %d lines) ---\n" % len(tail) + "\n".join(
            "  | " + line for line in tail)

    # -- HTTP ---------------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, params=None, timeout=None):
        """One request on a fresh connection; returns (status, headers dict lowercased, bytes)."""
        if params:
            path = path + "?" + urllib.parse.urlencode(params)
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout or REQUEST_TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def write_lines(self, text, precision=None, path="/api/v1/write", headers=None, params=None):
        """POSTs a line-protocol body; returns (status, body text)."""
        query = dict(params or {})
        if precision is not None:
            query["precision"] = precision
        if isinstance(text, str):
            text = text.encode("utf-8")
        hdrs = {"Content-Type": "text/plain; charset=utf-8"}
        hdrs.update(headers or {})
        status, _, data = self.request("POST", path, body=text, headers=hdrs, params=query)
        return status, data.decode("utf-8", "replace")

    def write_msgpack(self, obj, path="/api/v1/write", headers=None):
        hdrs = {"Content-Type": "application/msgpack"}
        hdrs.update(headers or {})
        body = obj if isinstance(obj, (bytes, bytearray)) else msgpack_encode(obj)
        status, _, data = self.request("POST", path, body=bytes(body), headers=hdrs)
        return status, data.decode("utf-8", "replace")

    def get(self, endpoint, **params):
        """GET /api/v1/<endpoint> with params (from_ stands for from); returns (status, json).
        A body that is not JSON fails the test."""
        query = {}
        for key, value in params.items():
            if value is None:
                continue
            query["from" if key == "from_" else key] = value
        path = endpoint if endpoint.startswith("/") else "/api/v1/" + endpoint
        status, hdrs, data = self.request("GET", path, params=query)
        try:
            doc = json.loads(data.decode("utf-8")) if data else None
        except ValueError:
            raise TestFailure("GET %s?%s: status %d, body is not JSON: %r"
                              % (path, urllib.parse.urlencode(query), status, data[:300]))
        return status, doc

    def query(self, **params):
        return self.get("query", **params)

    def ok(self, endpoint, **params):
        """GET that must answer 200 with a {"series": [...]} document; returns the document."""
        status, doc = self.get(endpoint, **params)
        if status != 200:
            raise TestFailure("GET %s %r: status %d, %r" % (endpoint, params, status, doc))
        check(isinstance(doc, dict) and isinstance(doc.get("series"), list),
              "GET %s %r: result has no series list: %s" % (endpoint, params, _short(doc)))
        return doc

    def write_ok(self, text, precision=None, **kw):
        status, body = self.write_lines(text, precision=precision, **kw)
        if status != 204:
            raise TestFailure("write: status %d, %s" % (status, body[:500]))


def stop_all_servers():
    """Kills whatever a failed test left running (their data dirs are removed)."""
    stop_all_servers_except(None)


def stop_all_servers_except(keep):
    for server in list(_live_servers):
        if server is not keep:
            server.cleanup()


DEFAULT_SEED = 20250101


def rng(test_name):
    """A random.Random seeded from $E2E_SEED (or a fixed default) and the test name; prints the
    seed so a failure can be replayed with run_e2e.py --seed N."""
    import random
    import zlib
    base = int(os.environ.get("E2E_SEED", DEFAULT_SEED))
    seed = base ^ zlib.crc32(test_name.encode())
    print("  %s: seed %d (base %d)" % (test_name, seed, base))
    return random.Random(seed)


# ---------------------------------------------------------------------------------------------
# Result helpers.


def series_key(entry):
    """A hashable key for one result series: (metric, sorted tag items)."""
    return (entry.get("metric"), tuple(sorted((entry.get("tags") or {}).items())))


def by_series(doc, columns=None):
    """Maps series_key -> list of rows; checks the shape and, if given, the column names."""
    out = {}
    for entry in doc["series"]:
        key = series_key(entry)
        check(key not in out, "series %r appears twice in the result" % (key,))
        if columns is not None:
            eq(entry.get("columns"), columns, "columns of %r" % (key,))
        rows = entry.get("values")
        check(isinstance(rows, list), "series %r has no values list" % (key,))
        out[key] = rows
    return out


def skey(metric, **tags):
    return (metric, tuple(sorted(tags.items())))


def line(metric, tags, value, ts=None, field="value"):
    """One line-protocol line; tags is a dict; value a float or int (written as a float)."""
    parts = [metric] + ["%s=%s" % (k, v) for k, v in sorted(tags.items())]
    text = ",".join(parts) + " %s=%s" % (field, fmt_value(value))
    if ts is not None:
        text += " %d" % ts
    return text


def fmt_value(value):
    # repr of a float is the shortest text that reads back as the same double.
    return repr(float(value))


WEEK_MS = 7 * 86400000


def window_start(ts_ms, window_ms, offset_ms):
    """Start (epoch ms) of the fixed window holding ts_ms, aligned to the epoch in offset_ms;
    windows of whole weeks start on local Mondays (the epoch, 1970-01-01, was a Thursday)."""
    if window_ms % WEEK_MS == 0:
        offset_ms += 3 * 86400000
    return (ts_ms + offset_ms) // window_ms * window_ms - offset_ms


def reference_windows(readings, window_ms, offset_ms, from_ms, to_ms, aggs):
    """Brute-force windowed aggregates over readings [(ts, value)] (already deduplicated, any
    order): rows [start, agg...] for non-empty windows, in time order."""
    groups = {}
    for ts, value in sorted(readings):
        if from_ms <= ts < to_ms:
            groups.setdefault(window_start(ts, window_ms, offset_ms), []).append(value)
    rows = []
    for start in sorted(groups):
        values = groups[start]
        row = [start]
        for agg in aggs:
            if agg == "count":
                row.append(len(values))
            elif agg == "sum":
                row.append(math.fsum(values))
            elif agg == "mean":
                row.append(math.fsum(values) / len(values))
            elif agg == "min":
                row.append(min(values))
            elif agg == "max":
                row.append(max(values))
            elif agg == "first":
                row.append(values[0])
            elif agg == "last":
                row.append(values[-1])
            else:
                raise ValueError(agg)
        rows.append(row)
    return rows


def compare_windows(got, expected, aggs, what):
    """Exact for time, count, min, max, first, last; relative 1e-9 for sum and mean (the server
    may add in another order)."""
    if len(got) != len(expected):
        missing = sorted(set(r[0] for r in expected) - set(r[0] for r in got))[:5]
        extra = sorted(set(r[0] for r in got) - set(r[0] for r in expected))[:5]
        raise TestFailure("%s: %d windows, expected %d (missing starts %s, unexpected %s)"
                          % (what, len(got), len(expected), missing, extra))
    for g, e in zip(got, expected):
        check(len(g) == len(e), "%s: row %r has %d cells, expected %d" % (what, g, len(g), len(e)))
        eq(g[0], e[0], "%s: window start" % what)
        for i, agg in enumerate(aggs, start=1):
            label = "%s: %s of window %d" % (what, agg, e[0])
            if agg in ("sum", "mean"):
                near(g[i], e[i], label)
            else:
                eq(g[i], e[i], label)


def error_message(doc):
    check(isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"],
          "error body is not {\"error\": \"...\"}: %r" % (doc,))
    return doc["error"]


def body_error(body):
    try:
        doc = json.loads(body)
    except ValueError:
        raise TestFailure("error body is not JSON: %r" % body[:300])
    return error_message(doc)


# ---------------------------------------------------------------------------------------------
# A minimal msgpack encoder: maps, arrays, str, int (as int64 forms), float64, bool, nil.


def msgpack_encode(obj):
    out = bytearray()
    _mp(obj, out)
    return bytes(out)


def _mp(obj, out):
    if obj is None:
        out.append(0xC0)
    elif obj is True:
        out.append(0xC3)
    elif obj is False:
        out.append(0xC2)
    elif isinstance(obj, int):
        if 0 <= obj <= 0x7F:
            out.append(obj)
        elif -32 <= obj < 0:
            out.append(obj & 0xFF)
        elif obj > 0:  # the smallest form, as msgpack encoders write them
            for tag, fmt, limit in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16),
                                    (0xCE, ">I", 1 << 32), (0xCF, ">Q", 1 << 64)):
                if obj < limit:
                    out.append(tag)
                    out += struct.pack(fmt, obj)
                    break
        else:
            for tag, fmt, limit in ((0xD0, ">b", 1 << 7), (0xD1, ">h", 1 << 15),
                                    (0xD2, ">i", 1 << 31), (0xD3, ">q", 1 << 63)):
                if -limit <= obj:
                    out.append(tag)
                    out += struct.pack(fmt, obj)
                    break
    elif isinstance(obj, float):
        out.append(0xCB)
        out += struct.pack(">d", obj)
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        n = len(data)
        if n < 32:
            out.append(0xA0 | n)
        elif n < 256:
            out += bytes((0xD9, n))
        elif n < 65536:
            out.append(0xDA)
            out += struct.pack(">H", n)
        else:
            out.append(0xDB)
            out += struct.pack(">I", n)
        out += data
    elif isinstance(obj, (list, tuple)):
        n = len(obj)
        if n < 16:
            out.append(0x90 | n)
        elif n < 65536:
            out.append(0xDC)
            out += struct.pack(">H", n)
        else:
            out.append(0xDD)
            out += struct.pack(">I", n)
        for item in obj:
            _mp(item, out)
    elif isinstance(obj, dict):
        n = len(obj)
        if n < 16:
            out.append(0x80 | n)
        elif n < 65536:
            out.append(0xDE)
            out += struct.pack(">H", n)
        else:
            out.append(0xDF)
            out += struct.pack(">I", n)
        for key, value in obj.items():
            _mp(key, out)
            _mp(value, out)
    else:
        raise TypeError("cannot msgpack-encode %r" % type(obj))


# ---------------------------------------------------------------------------------------------
# Shared server: one sync=none server for the tests that need no restart; each test uses its own
# metric names so they do not see each other's data.

_shared = None


def shared():
    global _shared
    if _shared is None or not _shared.running():
        if _shared is not None:
            _shared.cleanup()
        _shared = Server(sync="none", name="shared").start()
    return _shared


def shared_shutdown():
    """Stops the shared server with SIGTERM; raises TestFailure on an unclean exit."""
    global _shared
    server, _shared = _shared, None
    if server is None:
        return
    try:
        server.stop()
    finally:
        server.cleanup()


# ---------------------------------------------------------------------------------------------
# A reference model of what the store should hold: series key -> {ts: value}, last write wins.


class Model:
    def __init__(self):
        self.data = {}

    def put(self, metric, tags, ts, value):
        self.data.setdefault(skey(metric, **tags), {})[ts] = float(value)

    def readings(self, key, from_ms=None, to_ms=None):
        points = self.data.get(key, {})
        return [[ts, points[ts]] for ts in sorted(points)
                if (from_ms is None or ts >= from_ms) and (to_ms is None or ts < to_ms)]

    def keys(self, metric=None):
        return sorted(k for k in self.data if metric is None or k[0] == metric)


def selector(metric, **tags):
    """Selector text metric{k="v",...}; a value given as ("!=", v) negates."""
    if not tags:
        return metric
    parts = []
    for key, value in sorted(tags.items()):
        op = "="
        if isinstance(value, tuple):
            op, value = value
        parts.append('%s%s"%s"' % (key, op, value.replace("\\", "\\\\").replace('"', '\\"')))
    return "%s{%s}" % (metric, ",".join(parts))
