#!/usr/bin/env python3
# Crash-safety test (issue "Reliability"): writer threads send numbered line-protocol batches to
# jialingd (--sync=full) over keep-alive HTTP while the server is killed with SIGKILL at random
# moments, many times in a row. After each kill the store is opened read-only (`jialing inspect`),
# the server is restarted on the same directory (sometimes killed again while it recovers), and
# every series is read back in full and compared with a model of what was written:
#   - every acknowledged (series, ts) is present with its exact value, or the value of a later
#     write whose outcome is unknown (the connection died in the kill);
#   - nothing appears that was never sent; series counts, first/last, latest, day windows
#     (from chunk summaries) and the server's reading count agree with the model;
#   - a batch whose outcome is unknown is stored whole or not at all.
# The data makes series tails seal often and sends late readings, gap fills and re-sends that
# rewrite sealed chunks, so kills land in sealing and chunk rewrites too.
#
# Every value encodes where it came from: code = ((batch * writers) + writer) * 10000 + index,
# value = code / 10 (an exact one-decimal number, like sensor data), so a wrong stored value is
# reported as "written by writer W, batch B, reading I".
#
# Usage: crash_test.py [--kills N] [--seed S] [--jialingd PATH] [--short] [--keep-going]
# Ends with "crash: N passed, M failed" (one test per kill round); exit status 1 on any failure.
# Python 3 standard library only; uses tests/e2e/harness.py to start and stop the server.

import argparse
import http.client
import json
import math
import os
import random
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import harness  # noqa: E402
from harness import HOST, Server, TestFailure, selector, skey  # noqa: E402

DEFAULT_SEED = 20250117
T0 = 1735689600000  # 2025-01-01T00:00:00Z; position p is T0 + p * STEP
STEP = 1000
TMAX = 4102444800000  # 2100-01-01: every query covers far more than was written
METRIC = "crash"
SERIES_PER_WRITER = 4
INDEX_LIMIT = 10000  # readings of one batch at most (the index part of a value's code)
SEALED_BEHIND = 6000  # late readings go this many positions behind the head (sealed by then)
DAY_MS = 86400000
WINDOW_AGGS = ["count", "sum", "min", "max", "first", "last"]
# Words that must not appear in the server's output while it starts after a kill.
SUSPECT_WORDS = re.compile(r"repair|corrupt|damag|invalid|checksum|crc|error|warn|truncat|"
                           r"skipp|discard|lost|salvag", re.IGNORECASE)
SANITIZER = re.compile(r"Sanitizer|runtime error:|LeakSanitizer")


def day_windows(points):
    """Reference rows [day start, count, sum, min, max, first, last] of {ts: value}."""
    days = {}
    for ts in sorted(points):
        days.setdefault(ts // DAY_MS, []).append(points[ts])
    return [[d * DAY_MS, len(v), math.fsum(v), min(v), max(v), v[0], v[-1]]
            for d, v in sorted(days.items())]


def encode(writers, w, b, i):
    return (((b * writers) + w) * INDEX_LIMIT + i) / 10.0


def origin(writers, value):
    """(writer, batch, index) a stored value was written as, or None if no write made it."""
    if not isinstance(value, (int, float)):
        return None
    code = round(value * 10)
    if code < 0 or code / 10.0 != value:
        return None
    rest, i = divmod(code, INDEX_LIMIT)
    b, w = divmod(rest, writers)
    return (w, b, i)


class Writer:
    """One writer thread's series, history and model. Series (s=0..3, w=W) belong to this writer
    alone, so its batches are totally ordered for every (series, ts) they touch."""

    def __init__(self, w, writers, seed):
        self.w = w
        self.writers = writers
        self.rng = random.Random(seed * 1000003 + w)
        self.next_batch = 0
        self.head = [0] * SERIES_PER_WRITER  # next in-order position per series
        # Positions appends skipped, not yet re-sent: a list to pick from at random, and a set
        # re-sends discard from (the list is pruned lazily).
        self.gap_list = [[] for _ in range(SERIES_PER_WRITER)]
        self.gaps = [set() for _ in range(SERIES_PER_WRITER)]
        self.appended = []  # (batch, {series: (first position, end position)}) for re-sends
        self.model = [dict() for _ in range(SERIES_PER_WRITER)]  # resolved: ts -> value
        self.status = {}  # batch -> "acked"; unknown outcome: "landed", "lost" or "partial"
        self.pending = None  # (batch, kind, effects) whose outcome is unknown
        self.kinds = {}  # kind -> batches made
        self.acked_batches = 0
        self.acked_readings = 0
        self.latency = {}  # kind -> (acknowledged batches, seconds to their 204s)
        self.problems = []  # failures seen while writing

    def key(self, j):
        return skey(METRIC, s=str(j), w=str(self.w))

    # -- batches ----------------------------------------------------------------------------

    def make_batch(self):
        """Returns (batch number, kind, readings [(series, ts, value)] in body order)."""
        b = self.next_batch
        self.next_batch += 1
        r = self.rng
        readings = []

        def emit(j, ts):
            readings.append((j, ts, encode(self.writers, self.w, b, len(readings))))

        roll = r.random()
        have_history = any(h > SEALED_BEHIND // 2 for h in self.head)
        if roll < 0.55 or not have_history:
            kind = "append"
            self._append(r.randint(500, 2000), b, emit)
        elif roll < 0.8:
            kind = "late"
            self._late(r.randint(100, 1000), emit, readings)
            if r.random() < 0.4:  # late readings and new ones in one request
                kind = "late+append"
                self._append(r.randint(200, 800), b, emit)
        else:
            kind = "resend"
            _, ranges = r.choice(self.appended[-60:])
            for j, (first, end) in sorted(ranges.items()):
                for pos in range(first, min(end, first + 600)):
                    self.gaps[j].discard(pos)
                    emit(j, T0 + pos * STEP)
        assert len(readings) < INDEX_LIMIT
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        return b, kind, readings

    def _append(self, n, b, emit):
        r = self.rng
        if r.random() < 0.7:
            chosen = list(range(SERIES_PER_WRITER))
        else:
            chosen = r.sample(range(SERIES_PER_WRITER), r.randint(1, SERIES_PER_WRITER - 1))
        ranges = {}
        for j in chosen:
            first = self.head[j]
            for _ in range(n // len(chosen)):
                pos = self.head[j]
                self.head[j] += 1
                if r.random() < 0.02:  # a gap a later batch may fill
                    self.gaps[j].add(pos)
                    self.gap_list[j].append(pos)
                    pos = self.head[j]
                    self.head[j] += 1
                emit(j, T0 + pos * STEP)
            ranges[j] = (first, self.head[j])
        self.appended.append((b, ranges))

    def _late(self, n, emit, readings):
        r = self.rng
        for _ in range(n):
            j = r.randrange(SERIES_PER_WRITER)
            limit = self.head[j] - SEALED_BEHIND
            if limit <= 0:
                limit = self.head[j] // 2
            if limit <= 0:
                continue
            roll = r.random()
            if roll < 0.45:  # overwrite an old reading (or a hole nobody wrote)
                ts = T0 + r.randrange(limit) * STEP
            elif roll < 0.65:  # fill a gap left by an append
                pos = self._take_gap(j, limit)
                ts = T0 + (pos if pos is not None else r.randrange(limit)) * STEP
            elif roll < 0.9:  # a new timestamp between two old ones, inside a sealed chunk
                ts = T0 + r.randrange(limit) * STEP + r.randrange(1, STEP)
            elif roll < 0.95:  # before T0, where every series began
                ts = T0 - r.randrange(1, 7200) * STEP
            elif readings:  # the same (series, ts) again later in the body: the later one wins
                j, ts, _ = r.choice(readings)
            else:
                continue
            emit(j, ts)
        # Out of order within the request too. Where a (series, ts) repeats, the later line of
        # the body wins, and effects() follows body order, so the shuffle keeps the model right.
        r.shuffle(readings)

    def _take_gap(self, j, limit):
        """A random still-open gap below limit, removed from the gaps; None if none found."""
        gaps = self.gap_list[j]
        for _ in range(8):
            if not gaps:
                return None
            k = self.rng.randrange(len(gaps))
            pos = gaps[k]
            if pos not in self.gaps[j]:  # filled by a re-send: drop it
                gaps[k] = gaps[-1]
                gaps.pop()
            elif pos < limit:
                gaps[k] = gaps[-1]
                gaps.pop()
                self.gaps[j].discard(pos)
                return pos
        return None

    @staticmethod
    def effects(readings):
        """{series: {ts: value}} a batch leaves behind (the last of duplicates wins)."""
        out = {}
        for j, ts, v in readings:
            out.setdefault(j, {})[ts] = v
        return out

    def apply(self, effects):
        for j, points in effects.items():
            self.model[j].update(points)

    def describe(self, value):
        o = origin(self.writers, value)
        if o is None:
            return "%r (not a value this test writes)" % value
        w, b, i = o
        status = self.status.get(b, "?") if w == self.w else "another writer's"
        return "%r (writer %d batch %d reading %d, %s)" % (value, w, b, i, status)


def line_text(w, j, ts, v):
    return "%s,s=%d,w=%d value=%r %d" % (METRIC, j, w, v, ts)


def write_loop(state, port, killed):
    """Sends batches until the kill; the batch in flight when the server dies stays pending."""
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        while not killed.is_set():
            b, kind, readings = state.make_batch()
            body = "\n".join(line_text(state.w, j, ts, v) for j, ts, v in readings).encode()
            effects = Writer.effects(readings)
            sent = time.monotonic()
            try:
                conn.request("POST", "/api/v1/write?precision=ms", body=body,
                             headers={"Content-Type": "text/plain; charset=utf-8"})
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                state.pending = (b, kind, effects)
                if not killed.is_set():
                    state.problems.append("writer %d batch %d (%s): connection failed while the "
                                          "server was not being killed: %r" % (state.w, b, kind, e))
                return
            if resp.status == 204:
                state.apply(effects)
                state.status[b] = "acked"
                state.acked_batches += 1
                state.acked_readings += len(readings)
                n, secs = state.latency.get(kind, (0, 0.0))
                state.latency[kind] = (n + 1, secs + time.monotonic() - sent)
            else:
                # Nothing this test sends is invalid; the outcome is treated as unknown.
                state.pending = (b, kind, effects)
                state.problems.append("writer %d batch %d (%s): status %d %s" % (
                    state.w, b, kind, resp.status, data[:300].decode("utf-8", "replace")))
                return
    finally:
        conn.close()


class Round:
    """Discrepancies of one kill round; the first ones are printed."""

    def __init__(self, number):
        self.number = number
        self.failures = []

    def fail(self, message):
        self.failures.append(message)


class CrashTest:
    def __init__(self, options):
        self.o = options
        self.rng = random.Random(options.seed)
        self.writers = [Writer(w, options.writers, options.seed) for w in range(options.writers)]
        args = []
        if options.map_size:
            args += ["--map-size", str(options.map_size)]
        self.srv = Server(sync="full", args=args, name="crash")
        self.log_offset = 0
        self.readings_verified = 0
        self.unknown = {"landed": 0, "lost": 0, "partial": 0}
        self.unknown_kinds = {}
        self.startup_kills = 0
        self.startup_kills_listening = 0
        self.restart_seconds = []
        self.chunks = 0
        self.inspect_runs = 0
        self.windows_checked = 0
        jialing = options.jialing or os.path.join(os.path.dirname(options.jialingd), "jialing")
        self.jialing = jialing if os.access(jialing, os.X_OK) else None

    # -- server output ----------------------------------------------------------------------

    def new_log(self):
        try:
            with open(self.srv.log_path, "rb") as f:
                f.seek(self.log_offset)
                data = f.read()
        except OSError:
            return ""
        self.log_offset += len(data)
        return data.decode("utf-8", "replace")

    def check_log(self, rnd, what):
        text = self.new_log()
        for log_line in text.splitlines():
            if SANITIZER.search(log_line):
                rnd.fail("%s: sanitizer report in the server log: %s\n%s"
                         % (what, log_line, self.srv.log_tail(60)))
                return text
        for log_line in text.splitlines():
            if log_line.startswith("=== start"):
                continue
            if SUSPECT_WORDS.search(log_line):
                rnd.fail("%s: the server said: %s" % (what, log_line))
        return text

    # -- one round --------------------------------------------------------------------------

    def kill_round(self, rnd, final):
        killed = threading.Event()
        threads = [threading.Thread(target=write_loop, args=(st, self.srv.port, killed))
                   for st in self.writers]
        for t in threads:
            t.start()
        delay = self.rng.uniform(self.o.min_delay, self.o.max_delay)
        time.sleep(delay)
        if not self.srv.running():
            rnd.fail("the server exited by itself before the kill (status %s)\n%s"
                     % (self.srv.proc.returncode, self.srv.log_tail()))
        killed.set()
        self.srv.kill9()
        for t in threads:
            t.join(timeout=180)
            if t.is_alive():
                raise TestFailure("a writer thread did not finish after the kill")
        for st in self.writers:
            for problem in st.problems:
                rnd.fail(problem)
            st.problems = []
        self.check_log(rnd, "before the kill")

        inspect_readings = None
        if self.jialing:
            inspect_readings = self.inspect(rnd)
        if self.rng.random() < self.o.startup_kill_rate:
            self.kill_while_starting(rnd)
        t0 = time.monotonic()
        self.srv.start()
        self.restart_seconds.append(time.monotonic() - t0)
        # The server may answer /health a moment before its "listening on" line is written.
        text = self.check_log(rnd, "restart")
        deadline = time.monotonic() + 10
        while "listening on" not in text and time.monotonic() < deadline:
            time.sleep(0.01)
            text += self.check_log(rnd, "restart")
        if "listening on" not in text:
            rnd.fail("restart: the server answers /health but printed no 'listening on' line "
                     "within 10 s")
        self.verify(rnd, inspect_readings, final)
        return delay

    def inspect(self, rnd):
        """Opens the killed store read-only; it must open as it is and count its readings."""
        self.inspect_runs += 1
        proc = subprocess.run([self.jialing, "inspect", self.srv.data_dir], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120)
        out = proc.stdout.decode("utf-8", "replace")
        if proc.returncode != 0:
            rnd.fail("jialing inspect of the killed store: exit status %d\n%s"
                     % (proc.returncode, out))
            return None
        if SANITIZER.search(out) or SUSPECT_WORDS.search(out):
            rnd.fail("jialing inspect of the killed store said:\n%s" % out)
        m = re.search(r"^readings\s+(\d+)", out, re.MULTILINE)
        if not m:
            rnd.fail("jialing inspect printed no readings line:\n%s" % out)
            return None
        return int(m.group(1))

    def kill_while_starting(self, rnd):
        """Starts the server and kills it again while it recovers (or just after)."""
        # Within the last start's time to answer /health, so most kills land in recovery.
        last = self.restart_seconds[-1] if self.restart_seconds else 0.05
        delay = self.rng.uniform(0.0, last)
        port = harness.free_port()
        cmd = [harness.server_binary(), "--data", self.srv.data_dir, "--listen",
               "%s:%d" % (HOST, port), "--sync=full"] + self.srv.args
        with open(self.srv.log_path, "ab") as log:
            log.write(("\n=== start, to be killed after %.3f s: %s\n"
                       % (delay, " ".join(cmd))).encode())
            log.flush()
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        time.sleep(delay)
        exited = proc.poll()
        proc.kill()
        proc.wait()
        self.startup_kills += 1
        text = self.check_log(rnd, "start killed after %.3f s" % delay)
        if "listening on" in text:
            self.startup_kills_listening += 1
        if exited is not None:
            rnd.fail("a start killed after %.3f s had exited by itself with status %d:\n%s"
                     % (delay, exited, text[-2000:]))

    # -- verification -----------------------------------------------------------------------

    def ok(self, endpoint, **params):
        """GET that must answer 200 with {"series": [...]} (harness.Server.ok formats its whole
        answer for a message it may not need, too slow for millions of readings)."""
        query = dict(params)
        if "from_" in query:
            query["from"] = query.pop("from_")
        status, _, data = self.srv.request("GET", "/api/v1/" + endpoint, params=query)
        what = "GET /api/v1/%s %r" % (endpoint, query)
        if status != 200:
            raise TestFailure("%s: status %d, %r" % (what, status, data[:500]))
        try:
            doc = json.loads(data.decode("utf-8"))
        except ValueError:
            raise TestFailure("%s: body is not JSON: %r" % (what, data[:300]))
        if not isinstance(doc, dict) or not isinstance(doc.get("series"), list):
            raise TestFailure("%s: no series list: %r" % (what, data[:300]))
        return doc

    def raw(self, st, j):
        """Every stored reading of series s=j of writer st as [[ts, value], ...]."""
        doc = self.ok("query", series=selector(METRIC, s=str(j), w=str(st.w)), from_=0, to=TMAX)
        if not doc["series"]:
            return []
        if len(doc["series"]) != 1:
            raise TestFailure("the query of one series answered %d" % len(doc["series"]))
        entry = doc["series"][0]
        if entry.get("columns") != ["time", "value"]:
            raise TestFailure("raw query columns %r" % (entry.get("columns"),))
        return entry.get("values") or []

    def verify(self, rnd, inspect_readings, final):
        srv = self.srv
        max_listed = 20

        def note(message):
            if len(rnd.failures) < max_listed:
                rnd.fail(message)
            else:
                rnd.failures.append(None)  # counted, not printed

        stored_all = {}
        for st in self.writers:
            stored = []
            for j in range(SERIES_PER_WRITER):
                rows = self.raw(st, j)
                points = dict(rows)
                times = [row[0] for row in rows]
                if len(points) != len(rows) or times != sorted(times):
                    bad = next(k for k in range(1, len(times)) if times[k] <= times[k - 1])
                    note("w=%d s=%d: timestamps not strictly increasing: %d after %d"
                         % (st.w, j, times[bad], times[bad - 1]))
                stored.append(points)
            stored_all[st.w] = stored

            # Resolve the batch whose outcome is unknown: all of it, or none of it.
            if st.pending is not None:
                b, kind, effects = st.pending
                st.pending = None
                total = sum(len(p) for p in effects.values())
                found = [(j, ts) for j, p in effects.items() for ts, v in p.items()
                         if stored[j].get(ts) == v]
                self.unknown_kinds[kind] = self.unknown_kinds.get(kind, 0) + 1
                if len(found) == total:
                    st.status[b] = "landed"
                    self.unknown["landed"] += 1
                    st.apply(effects)
                elif not found:
                    st.status[b] = "lost"
                    self.unknown["lost"] += 1
                else:
                    st.status[b] = "partial"
                    self.unknown["partial"] += 1
                    missing = [(j, ts) for j, p in effects.items() for ts, v in p.items()
                               if stored[j].get(ts) != v]
                    note("writer %d batch %d (%s, outcome unknown) is stored in part: %d of %d "
                         "readings; e.g. present w=%d s=%d ts=%d, absent w=%d s=%d ts=%d (stored "
                         "there: %s)" % (st.w, b, kind, len(found), total, st.w, found[0][0],
                                         found[0][1], st.w, missing[0][0], missing[0][1],
                                         st.describe(stored[missing[0][0]].get(missing[0][1]))))
                    st.apply(effects)  # compare the rest against the batch having landed

            for j in range(SERIES_PER_WRITER):
                expected, got = st.model[j], stored[j]
                self.readings_verified += len(expected)
                if got == expected:
                    continue
                for ts in sorted(expected):
                    want = expected[ts]
                    have = got.get(ts)
                    if have is None:
                        note("w=%d s=%d ts=%d: missing; expected %s"
                             % (st.w, j, ts, st.describe(want)))
                    elif have != want:
                        note("w=%d s=%d ts=%d: stored %s, expected %s"
                             % (st.w, j, ts, st.describe(have), st.describe(want)))
                for ts in sorted(set(got) - set(expected)):
                    note("w=%d s=%d ts=%d: stored %s, but no acknowledged or landed write has "
                         "this (series, ts)" % (st.w, j, ts, st.describe(got[ts])))

        # Series list: counts, first/last; latest; day windows from chunk summaries.
        expected_series = {}
        for st in self.writers:
            for j in range(SERIES_PER_WRITER):
                if st.model[j]:
                    m = st.model[j]
                    expected_series[st.key(j)] = (st, j, min(m), max(m), len(m))
        got_series = harness.by_series(self.ok("series", series=METRIC))
        for key in sorted(set(got_series) | set(expected_series)):
            if key not in expected_series:
                note("series %r is listed but nothing written to it landed: %r"
                     % (key, got_series[key]))
                continue
            st, j, first, last, count = expected_series[key]
            want = [[first, last, count]]
            if got_series.get(key) != want:
                note("series %r: first/last/count %r, expected %r"
                     % (key, got_series.get(key), want))
        got_latest = harness.by_series(self.ok("latest", series=METRIC))
        for key, (st, j, first, last, count) in sorted(expected_series.items()):
            want = [[last, st.model[j][last]]]
            if got_latest.get(key) != want:
                note("latest of %r: %r, expected %r" % (key, got_latest.get(key), want))
        if set(got_latest) - set(expected_series):
            note("latest lists series never written: %r" % sorted(set(got_latest) -
                                                                 set(expected_series)))
        # Day windows (answered from chunk summaries where a chunk lies inside a day): a few
        # series a round, every series in the last round; the reference is slow in Python.
        keys = sorted(expected_series)
        if not final and len(keys) > self.o.windows_per_round:
            keys = sorted(self.rng.sample(keys, self.o.windows_per_round))
        for key in keys:
            st, j = expected_series[key][:2]
            doc = self.ok("query", series=selector(METRIC, s=str(j), w=str(st.w)), from_=0,
                          to=TMAX, window="1d", agg=",".join(WINDOW_AGGS))
            got = harness.by_series(doc).get(key, [])
            ref = day_windows(st.model[j])
            self.windows_checked += 1
            try:
                harness.compare_windows(got, ref, WINDOW_AGGS, "day windows of %r" % (key,))
            except TestFailure as e:
                note(str(e))

        total = sum(c for (_, _, _, _, c) in expected_series.values())
        metrics = self.metrics()
        if "jialing_readings" in metrics and metrics["jialing_readings"] != total:
            note("/metrics jialing_readings %d, expected %d" % (metrics["jialing_readings"], total))
        if "jialing_series" in metrics and metrics["jialing_series"] != len(expected_series):
            note("/metrics jialing_series %d, expected %d"
                 % (metrics["jialing_series"], len(expected_series)))
        self.chunks = metrics.get("jialing_chunks", self.chunks)
        if inspect_readings is not None and inspect_readings != total:
            note("jialing inspect of the killed store counted %d readings, expected %d"
                 % (inspect_readings, total))
        return total

    def metrics(self):
        status, _, data = self.srv.request("GET", "/metrics")
        out = {}
        if status != 200:
            return out
        for text in data.decode("utf-8", "replace").splitlines():
            parts = text.split()
            if len(parts) == 2 and not text.startswith("#"):
                try:
                    out[parts[0]] = int(float(parts[1]))
                except ValueError:
                    pass
        return out

    # -- the run ----------------------------------------------------------------------------

    def run(self):
        o = self.o
        print("crash: server %s, seed %d, %d kills, %d writers x %d series, kill %.2f-%.2f s "
              "after writing starts%s" % (o.jialingd, o.seed, o.kills, o.writers,
                                          SERIES_PER_WRITER, o.min_delay, o.max_delay,
                                          ", map %d bytes" % o.map_size if o.map_size else ""))
        if not self.jialing:
            print("crash: no jialing CLI beside the server; the read-only open after each kill "
                  "is skipped")
        sys.stdout.flush()
        started = time.monotonic()
        passed = failed = 0
        try:
            self.srv.start()
            self.new_log()
            for number in range(1, o.kills + 1):
                rnd = Round(number)
                t0 = time.monotonic()
                try:
                    delay = self.kill_round(rnd, number == o.kills)
                except (TestFailure, OSError, http.client.HTTPException) as e:
                    rnd.fail("%s: %s" % (type(e).__name__, e))
                    delay = None
                if number == o.kills and not rnd.failures:
                    try:  # the store goes on working and stops cleanly after all that
                        self.srv.stop()
                    except TestFailure as e:
                        rnd.fail(str(e))
                    self.check_log(rnd, "clean stop")
                    if self.chunks == 0:
                        rnd.fail("no sealed chunks at the end (jialing_chunks 0): the test did "
                                 "not exercise sealing or chunk rewrites")
                acked = sum(st.acked_batches for st in self.writers)
                summary = ("kill %d at %s s: %d batches acknowledged so far, %d readings held, "
                           "%d chunks, round %.1f s" % (
                               number, "%.3f" % delay if delay is not None else "?", acked,
                               sum(len(m) for st in self.writers for m in st.model),
                               self.chunks, time.monotonic() - t0))
                if rnd.failures:
                    failed += 1
                    print("FAIL crash.kill_%d: %s" % (number, summary))
                    shown = [f for f in rnd.failures if f is not None]
                    for f in shown:
                        print("  " + f.replace("\n", "\n  "))
                    if len(rnd.failures) > len(shown):
                        print("  ... and %d more discrepancies" % (len(rnd.failures) -
                                                                   len(shown)))
                    print("  reproduce: python3 tests/crash/crash_test.py --jialingd %s "
                          "--seed %d --kills %d (kill timing varies from run to run)"
                          % (o.jialingd, o.seed, number))
                    os.environ["E2E_KEEP"] = "1"  # keep the data directory and log to look at
                    if not o.keep_going or not self.srv.running():
                        break
                    self.resync()
                else:
                    passed += 1
                    print("ok crash.kill_%d: %s" % (number, summary))
                sys.stdout.flush()
        except TestFailure as e:
            failed += 1
            print("FAIL crash.start: %s" % e)
        finally:
            self.srv.cleanup()
        seconds = time.monotonic() - started
        self.report(passed, failed, seconds)
        return 0 if failed == 0 and passed == o.kills else 1

    def resync(self):
        """After a failed round with --keep-going: take what the server holds as the model."""
        for st in self.writers:
            for j in range(SERIES_PER_WRITER):
                st.model[j] = dict(self.raw(st, j))

    def report(self, passed, failed, seconds):
        kinds = {}
        for st in self.writers:
            for k, n in st.kinds.items():
                kinds[k] = kinds.get(k, 0) + n
        acked_b = sum(st.acked_batches for st in self.writers)
        acked_r = sum(st.acked_readings for st in self.writers)
        print("crash: %d kills survived of %d run; seed %d"
              % (passed, passed + failed, self.o.seed))
        print("crash: %d batches acknowledged (%d readings); batches made by kind: %s"
              % (acked_b, acked_r, ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))
        latency = {}
        for st in self.writers:
            for k, (n, secs) in st.latency.items():
                m, t = latency.get(k, (0, 0.0))
                latency[k] = (m + n, t + secs)
        print("crash: mean time to acknowledge, by kind: %s" % ", ".join(
            "%s %.1f ms" % (k, 1000.0 * t / n) for k, (n, t) in sorted(latency.items())))
        print("crash: %d readings verified in total (every reading of the store, every round)"
              % self.readings_verified)
        print("crash: %d batches with unknown outcome: %d landed whole, %d lost whole, %d in part"
              " (by kind: %s)" % (sum(self.unknown.values()), self.unknown["landed"],
                                  self.unknown["lost"], self.unknown["partial"],
                                  ", ".join("%s %d" % kv for kv in
                                            sorted(self.unknown_kinds.items()))))
        if self.restart_seconds:
            print("crash: restarts %d, answering /health after %.3f s on average, %.3f s at most; "
                  "%d more starts killed while recovering (%d of them already listening); "
                  "%d read-only opens of a killed store; %d series' day windows checked; %d chunks "
                  "at the end"
                  % (len(self.restart_seconds),
                     sum(self.restart_seconds) / len(self.restart_seconds),
                     max(self.restart_seconds), self.startup_kills, self.startup_kills_listening,
                     self.inspect_runs, self.windows_checked, self.chunks))
        print("crash: %.1f s" % seconds)
        print("crash: %d passed, %d failed" % (passed, failed))


def main():
    parser = argparse.ArgumentParser(description="SIGKILL crash-safety test of jialingd")
    parser.add_argument("--kills", type=int, help="kill rounds (default 50, or 5 with --short)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--jialingd", default=None, help="server binary (default bin/jialingd, "
                        "or $JIALINGD)")
    parser.add_argument("--jialing", default=None, help="CLI for the read-only open after each "
                        "kill (default: jialing beside the server)")
    parser.add_argument("--short", action="store_true", help="5 kills, for tests/run.sh")
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--min-delay", type=float, default=0.05)
    parser.add_argument("--max-delay", type=float, default=1.5)
    parser.add_argument("--startup-kill-rate", type=float, default=0.15,
                        help="share of restarts preceded by a start killed while recovering")
    parser.add_argument("--map-size", type=int, default=1 << 20,
                        help="initial LMDB map size, small so the map grows under the kills "
                        "(0: the server's default)")
    parser.add_argument("--windows-per-round", type=int, default=3,
                        help="series whose day windows are checked each round (all in the last)")
    parser.add_argument("--keep-going", action="store_true",
                        help="after a failed round, take the stored data as the model and go on")
    o = parser.parse_args()
    if o.kills is None:
        o.kills = 5 if o.short else 50
    if o.short:
        o.max_delay = min(o.max_delay, 1.0)
    if o.writers < 1 or o.writers > 9 or o.kills < 1:
        parser.error("--writers must be 1-9 and --kills at least 1")
    if o.jialingd:
        os.environ["JIALINGD"] = o.jialingd
    o.jialingd = harness.server_binary()
    if not os.access(o.jialingd, os.X_OK):
        print("FAIL crash.server_binary: %s is missing or not executable" % o.jialingd)
        print("crash: 0 passed, 1 failed")
        return 1
    return CrashTest(o).run()


if __name__ == "__main__":
    sys.exit(main())
