#!/usr/bin/env python3
"""Benchmark checker for Jialing (used by bench/run.sh).

  check.py verify-gen DIR
      Re-reads the line files bench-gen wrote and checks them against its truth files: every
      distinct (series, time) appears in the truth with the same value, re-sent duplicates carry
      the same value, counts agree. Prints value ranges per metric.

  check.py queries --url URL --truth DIR [--runs 5] [--json OUT]
      Runs the reference queries against a server, times each (median of RUNS warm runs, after one
      warm-up), and checks every answer against expected values computed here from the truth
      files alone: means within 1e-9 relative, counts, min, max, times and raw values exact.

  check.py queries ... --system jialing|vm|influx
      The same questions asked of VictoriaMetrics or InfluxDB in their own query languages (the
      forms are recorded in the JSON), checked against the same truth.

  check.py wait-queryable --system S --url URL --truth DIR [--timeout 600]
      Polls the `latest` question until it returns the last readings sent; prints seconds waited.

  check.py report --ingest ingest.json [--queries queries.json] --out REPORT.md
      Writes the benchmark report (figures, machine, date) from run.sh's measurements.

  check.py report-peers --dir DIR --out REPORT.md
      Writes the side-by-side report from peers.sh's measurements (DIR/run.json,
      DIR/<system>-ingest.json, DIR/<system>-queries.json).

The truth is bench-gen's: per series, little-endian int64 pairs (time ms, value * 10^decimals),
distinct and in time order. Values are compared as mantissa / 10^decimals, which Python rounds
correctly, so they equal what a server parsing the decimal text stores.
"""
import argparse
import array
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse

MEAN_RTOL = 1e-9


def load_index(truth_dir):
    with open(os.path.join(truth_dir, "truth.json")) as f:
        return json.load(f)


def load_series(truth_dir, entry):
    """Returns (times, mantissas) as arrays of int64."""
    data = array.array("q")
    with open(os.path.join(truth_dir, entry["file"]), "rb") as f:
        data.frombytes(f.read())
    if sys.byteorder != "little":
        data.byteswap()
    return data[0::2], data[1::2]


def series_name(metric, tags):
    return metric + "{" + ",".join('%s="%s"' % (k, tags[k]) for k in sorted(tags)) + "}"


# ---------------------------------------------------------------- verify-gen

def verify_gen(directory):
    index = load_index(directory)
    seen = {}  # series name -> {ms: value text}
    lines = 0
    dup_lines = 0
    problems = 0
    names = sorted(f for f in os.listdir(directory) if f.startswith("lines-") and f.endswith(".lp"))
    for name in names:
        with open(os.path.join(directory, name)) as f:
            for line in f:
                lines += 1
                head, field, ts = line.rstrip("\n").split(" ")
                assert field.startswith("value="), line
                ms = int(ts)
                if ms % 1000 != 0:
                    problems += 1
                per = seen.setdefault(head, {})
                value = field[6:]
                if ms in per:
                    dup_lines += 1
                    if per[ms] != value:
                        print("duplicate with another value:", line.strip())
                        problems += 1
                else:
                    per[ms] = value
    distinct = 0
    ranges = {}
    for entry in index["series"]:
        tags = entry["tags"]
        head = "%s,district=%s,station=%s" % (entry["metric"], tags["district"], tags["station"])
        per = seen.get(head, {})
        times, mantissas = load_series(directory, entry)
        scale = 10 ** entry["decimals"]
        if len(times) != len(per) or len(times) != entry["count"]:
            print("count mismatch for", head, len(times), len(per), entry["count"])
            problems += 1
        if list(times) != sorted(set(times)):
            print("truth not strictly increasing for", head)
            problems += 1
        for t, m in zip(times, mantissas):
            text = per.get(t)
            if text is None or float(text) != m / scale:
                problems += 1
                if problems < 10:
                    print("truth mismatch", head, t, text, m)
        distinct += len(times)
        lo, hi = ranges.get(entry["metric"], (float("inf"), float("-inf")))
        if len(mantissas):
            ranges[entry["metric"]] = (min(lo, min(mantissas) / scale), max(hi, max(mantissas) / scale))
        # jitter: only stations 4, 8, 12, ... have readings off the minute
        station = int(tags["station"][1:])
        off_minute = sum(1 for t in times if t % 60000 != 0)
        if (station % 4 == 0) != (off_minute > 0):
            print("unexpected jitter pattern for", head, off_minute)
            problems += 1
    print("lines=%d distinct=%d duplicates=%d (truth: lines=%d distinct=%d duplicates=%d)"
          % (lines, distinct, dup_lines, index["lines"], index["distinct"], index["duplicates"]))
    if lines != index["lines"] or distinct != index["distinct"] or dup_lines != index["duplicates"]:
        problems += 1
    for metric, (lo, hi) in sorted(ranges.items()):
        print("  %-5s min %-8g max %g" % (metric, lo, hi))
    print("verify-gen:", "OK" if problems == 0 else "%d problems" % problems)
    return 0 if problems == 0 else 1


# ---------------------------------------------------------------- queries
#
# The reference questions are defined once (Workload) with their expected answers computed from
# the truth files; each system (Jialing, VictoriaMetrics, InfluxDB) says how it asks each
# question (route) and turns its answer into the common shape {station: rows}. Rows are
# [time ms, value] for readings and windows (time = window start), [count] for counts.

class Client:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def request(self, method, path, params, body=None):
        query = urllib.parse.urlencode(params)
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=900)
            try:
                start = time.perf_counter()
                self.conn.request(method, path + ("?" + query if query else ""), body=body)
                resp = self.conn.getresponse()
                data = resp.read()
                elapsed = time.perf_counter() - start
                return resp.status, data, elapsed
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def get(self, path, params):
        return self.request("GET", path, params)


def windows(times, mantissas, width_ms, start, end, offset=0):
    """Groups readings in [start, end) by window of width_ms whose starts are offset + k * width_ms;
    returns {window_start: [mantissas]}."""
    out = {}
    for t, m in zip(times, mantissas):
        if start <= t < end:
            out.setdefault(t - (t - offset) % width_ms, []).append(m)
    return out


def close(a, b):
    return a == b or abs(a - b) <= MEAN_RTOL * max(abs(a), abs(b))


def compare_rows(label, got_rows, want_rows, exact_cols, mean_cols, problems):
    """Rows are lists; columns listed in exact_cols compare exactly, mean_cols with tolerance."""
    if len(got_rows) != len(want_rows):
        problems.append("%s: %d rows, expected %d" % (label, len(got_rows), len(want_rows)))
        return
    for i, (g, w) in enumerate(zip(got_rows, want_rows)):
        if len(g) != len(w):
            problems.append("%s: row %d has %d columns, expected %d" % (label, i, len(g), len(w)))
            return
        for c in exact_cols:
            if g[c] != w[c]:
                problems.append("%s: row %d column %d is %r, expected %r" % (label, i, c, g[c], w[c]))
                return
        for c in mean_cols:
            if g[c] is None or not close(float(g[c]), w[c]):
                problems.append("%s: row %d column %d is %r, expected %r" % (label, i, c, g[c], w[c]))
                return


HOUR_MS = 3600000
DAY_MS = 86400000
MONTH_MS = 30 * DAY_MS  # InfluxQL has no calendar month: every system is asked for 30-day windows

# qid -> (label with {n} for the number of stations, exact columns, tolerance columns)
TIMED = [
    ("hourly_mean", "hourly mean, 1 series, whole range", [0], [1]),
    ("daily_max", "daily max, 1 series, whole range", [0, 1], []),
    ("raw_day", "raw readings, 1 series, 1 day", [0, 1], []),
    ("scan_points", "every reading above threshold, 1 series, whole range (exact)", [0, 1], []),
    ("scan_count", "count above threshold per series, {n} series, whole range", [0], []),
    ("month_means", "30-day means, {n} series", [0], [1]),
    ("latest", "latest, {n} series", [0, 1], []),
]


class Workload:
    """The reference questions and their answers computed from bench-gen's truth alone."""

    def __init__(self, truth_dir):
        self.dir = truth_dir
        self.index = load_index(truth_dir)
        self.start, self.end = self.index["start_ms"], self.index["end_ms"]
        self.metric = "pm25"
        entries = [e for e in self.index["series"] if e["metric"] == self.metric]
        self.station = entries[0]["tags"]["station"]
        self.scale = 10 ** entries[0]["decimals"]
        self.data = {e["tags"]["station"]: load_series(truth_dir, e) for e in entries}
        self.n = len(entries)
        times, mantissas = self.data[self.station]
        # A threshold a few percent of readings exceed, chosen from the truth so it is deterministic.
        ordered = sorted(mantissas)
        self.threshold_m = ordered[int(len(ordered) * 0.97)]
        self.threshold = self.threshold_m / self.scale
        self.day_from = self.start + ((self.end - self.start) // DAY_MS // 2) * DAY_MS
        self.day_to = self.day_from + DAY_MS
        self.metrics = sorted({e["metric"] for e in self.index["series"]})
        self.cache = {}

    def queries(self):
        """[(qid, label, timed, exact_cols, mean_cols)]: timed questions, then correctness-only ones."""
        out = [(q, label.format(n=self.n), True, ex, mc) for q, label, ex, mc in TIMED]
        for m in self.metrics:
            out.append(("count:" + m, "stored readings per series, %s" % m, False, [0], []))
        return out

    def expect(self, qid, offset=0):
        """Expected {station: rows}; window starts are offset + k * width (the system's alignment)."""
        key = (qid, offset)
        if key not in self.cache:
            self.cache[key] = self._expect(qid, offset)
        return self.cache[key]

    def _expect(self, qid, offset):
        st, scale = self.station, self.scale
        times, mantissas = self.data[st]
        if qid == "hourly_mean":
            w = windows(times, mantissas, HOUR_MS, self.start, self.end, offset)
            return {st: [[k, sum(v) / (len(v) * scale)] for k, v in sorted(w.items())]}
        if qid == "daily_max":
            w = windows(times, mantissas, DAY_MS, self.start, self.end, offset)
            return {st: [[k, max(v) / scale] for k, v in sorted(w.items())]}
        if qid == "raw_day":
            return {st: [[t, m / scale] for t, m in zip(times, mantissas) if self.day_from <= t < self.day_to]}
        if qid == "scan_points":
            return {st: [[t, m / scale] for t, m in zip(times, mantissas) if m > self.threshold_m]}
        if qid == "scan_count":
            return {s: [[sum(1 for m in ms if m > self.threshold_m)]] for s, (ts, ms) in self.data.items()}
        if qid == "month_means":
            out = {}
            for s, (ts, ms) in self.data.items():
                w = windows(ts, ms, MONTH_MS, self.start, self.end, offset)
                out[s] = [[k, sum(v) / (len(v) * scale)] for k, v in sorted(w.items())]
            return out
        if qid == "latest":
            return {s: [[ts[-1], ms[-1] / scale]] for s, (ts, ms) in self.data.items() if len(ts)}
        if qid.startswith("count:"):
            m = qid[6:]
            return {e["tags"]["station"]: [[e["count"]]] for e in self.index["series"] if e["metric"] == m}
        raise KeyError(qid)


def fail_status(status, body):
    if status not in (200, 204):
        raise RuntimeError("status %d: %s" % (status, body[:300].decode("utf-8", "replace")))


def readable(path, params):
    return path + "?" + "&".join("%s=%s" % (k, v) for k, v in params.items())


class JialingSystem:
    key, name = "jialing", "Jialing"
    offset = 0
    alignment = "windows aligned to the epoch (UTC), half-open [from, to)"
    notes = []

    def route(self, qid, w):
        sel_one = '%s{station="%s"}' % (w.metric, w.station)
        whole = {"from": w.start, "to": w.end}
        thr = repr(w.threshold)
        if qid == "hourly_mean":
            path, params, cols = "/api/v1/query", dict(series=sel_one, **whole, window="1h", agg="mean"), ["time", "mean"]
        elif qid == "daily_max":
            path, params, cols = "/api/v1/query", dict(series=sel_one, **whole, window="1d", agg="max"), ["time", "max"]
        elif qid == "raw_day":
            path, params, cols = "/api/v1/query", {"series": sel_one, "from": w.day_from, "to": w.day_to}, ["time", "value"]
        elif qid == "scan_points":
            path, params, cols = "/api/v1/scan", dict(series=sel_one, **whole, op="gt", value=thr, output="points"), ["time", "value"]
        elif qid == "scan_count":
            path, params, cols = "/api/v1/scan", dict(series=w.metric, **whole, op="gt", value=thr, output="count"), ["count"]
        elif qid == "month_means":
            path, params, cols = "/api/v1/query", dict(series=w.metric, **whole, window="30d", agg="mean"), ["time", "mean"]
        elif qid == "latest":
            path, params, cols = "/api/v1/latest", {"series": w.metric}, ["time", "value"]
        else:
            path, params, cols = "/api/v1/scan", dict(series=qid[6:], **whole, op="gt", value="-1e300", output="count"), ["count"]

        def fetch(client):
            status, body, elapsed = client.get(path, params)
            fail_status(status, body)
            answer = {}
            for s in json.loads(body)["series"]:
                if s["columns"] != cols:
                    raise ValueError("columns %r, expected %r" % (s["columns"], cols))
                answer[s["tags"]["station"]] = s["values"]
            return elapsed, len(body), answer
        return readable(path, params), fetch


def ms_to_s(ms):
    return "%d.%03d" % divmod(ms, 1000)


class VMSystem:
    key, name = "vm", "VictoriaMetrics"
    offset = 0
    alignment = ("a rollup at time T covers (T-w, T]; the range query starts at T = first epoch-aligned "
                 "window start + w - 1 ms, so each point covers [T-w+1ms, T] = one epoch-aligned half-open "
                 "window [start, start+w), reported here by its start")
    notes = [
        "Line protocol `pm25 value=...` becomes metric `pm25_value` (VictoriaMetrics' default mapping).",
        "Started with -dedup.minScrapeInterval=1ms so a re-sent reading (same series and timestamp) is "
        "counted once, as in the other systems.",
        "Every query carries nocache=1 (no rollup result cache).",
        "Exact threshold scan: MetricsQL has no exact 'every raw sample above x' over a range "
        "(query_range resamples at the step), so the series is exported with /api/v1/export and filtered "
        "in the client; the time includes parsing the export and filtering (Python).",
        "Latest: last_over_time and tlast_over_time over a 1-day lookback (exact here because every station "
        "reported in the last day; a longer lookback costs more).",
    ]

    def route(self, qid, w):
        sel = w.metric + "_value"
        sel_one = '%s{station="%s"}' % (sel, w.station)
        span_s = "%ds" % ((w.end - w.start) // 1000)
        at_end = ms_to_s(w.end - 1)
        thr = repr(w.threshold)

        def rollup_range(expr, width):
            first = w.start - (w.start - self.offset) % width
            last = (w.end - 1) - (w.end - 1 - self.offset) % width
            params = {"query": expr, "start": ms_to_s(first + width - 1), "end": ms_to_s(last + width - 1),
                      "step": "%ds" % (width // 1000), "nocache": 1}

            def fetch(client):
                status, body, elapsed = client.get("/api/v1/query_range", params)
                fail_status(status, body)
                answer = {}
                for r in json.loads(body)["data"]["result"]:
                    answer[r["metric"]["station"]] = [[round(float(t) * 1000) + 1 - width, float(v)]
                                                      for t, v in r["values"]]
                return elapsed, len(body), answer
            return readable("/api/v1/query_range", params), fetch

        def instant(expr, convert):
            params = {"query": expr, "time": at_end, "nocache": 1}

            def fetch(client):
                status, body, elapsed = client.get("/api/v1/query", params)
                fail_status(status, body)
                return elapsed, len(body), convert(json.loads(body)["data"]["result"])
            return readable("/api/v1/query", params), fetch

        def counts(result):
            return {r["metric"]["station"]: [[int(float(r["value"][1]))]] for r in result}

        def export(frm, to, keep):
            params = {"match[]": sel_one, "start": ms_to_s(frm), "end": ms_to_s(to - 1)}

            def fetch(client):
                status, body, elapsed = client.get("/api/v1/export", params)
                fail_status(status, body)
                t0 = time.perf_counter()
                rows = {}
                for line in body.splitlines():
                    if line.strip():
                        obj = json.loads(line)
                        rows.setdefault(obj["metric"]["station"], []).extend(
                            [t, v] for t, v in zip(obj["timestamps"], obj["values"]) if keep(v))
                for r in rows.values():
                    r.sort()
                return elapsed + (time.perf_counter() - t0), len(body), rows
            return readable("/api/v1/export", params), fetch

        if qid == "hourly_mean":
            return rollup_range("avg_over_time(%s[1h])" % sel_one, HOUR_MS)
        if qid == "daily_max":
            return rollup_range("max_over_time(%s[1d])" % sel_one, DAY_MS)
        if qid == "raw_day":
            return export(w.day_from, w.day_to, lambda v: True)
        if qid == "scan_points":
            form, fetch = export(w.start, w.end, lambda v: v > w.threshold)
            return form + "  (then keep value > %s in the client)" % thr, fetch
        if qid == "scan_count":
            return instant("count_gt_over_time(%s[%s], %s)" % (sel, span_s, thr), counts)
        if qid == "month_means":
            return rollup_range("avg_over_time(%s[30d])" % sel, MONTH_MS)
        if qid == "latest":
            def latest(result):
                got = {}
                for r in result:
                    row = got.setdefault(r["metric"]["station"], [None, None])
                    if r["metric"].get("kind") == "t":
                        row[0] = round(float(r["value"][1]) * 1000)
                    else:
                        row[1] = float(r["value"][1])
                return {s: [row] for s, row in got.items()}
            return instant('last_over_time(%s[1d]) or label_set(tlast_over_time(%s[1d]), "kind", "t")'
                           % (sel, sel), latest)
        return instant("count_over_time(%s_value[%s])" % (qid[6:], span_s), counts)


class InfluxSystem:
    key, name = "influx", "InfluxDB"
    offset = 0
    alignment = "GROUP BY time() buckets are aligned to the epoch (InfluxDB's preset boundaries), half-open"
    notes = [
        "Database `bench`, default retention policy (infinite, 7-day shard groups), inmem index, WAL "
        "fsync on every write (wal-fsync-delay 0, durable acks like Jialing's --sync=full).",
        "InfluxQL has no calendar month window: monthly means are asked as GROUP BY time(30d), "
        "and every system is checked against 30-day epoch-aligned windows.",
        "To let it settle within the run: cache-snapshot-write-cold-duration 10s, "
        "compact-full-write-cold-duration 30s (defaults 10m and 4h).",
        "Latest: last(value) over a 1-day lookback, GROUP BY station (as for VictoriaMetrics).",
    ]

    def route(self, qid, w):
        whole = "time >= %dms AND time < %dms" % (w.start, w.end)
        one = "station='%s'" % w.station
        m = w.metric
        thr = repr(w.threshold)
        drop_time = False
        if qid == "hourly_mean":
            q = "SELECT mean(value) FROM %s WHERE %s AND %s GROUP BY time(1h) fill(none)" % (m, one, whole)
        elif qid == "daily_max":
            q = "SELECT max(value) FROM %s WHERE %s AND %s GROUP BY time(1d) fill(none)" % (m, one, whole)
        elif qid == "raw_day":
            q = "SELECT value FROM %s WHERE %s AND time >= %dms AND time < %dms" % (m, one, w.day_from, w.day_to)
        elif qid == "scan_points":
            q = "SELECT value FROM %s WHERE %s AND value > %s AND %s" % (m, one, thr, whole)
        elif qid == "scan_count":
            q = "SELECT count(value) FROM %s WHERE value > %s AND %s GROUP BY station" % (m, thr, whole)
            drop_time = True
        elif qid == "month_means":
            q = "SELECT mean(value) FROM %s WHERE %s GROUP BY time(30d), station fill(none)" % (m, whole)
        elif qid == "latest":
            q = "SELECT last(value) FROM %s WHERE time >= %dms AND time < %dms GROUP BY station" % (
                m, w.end - DAY_MS, w.end)
        else:
            q = "SELECT count(value) FROM %s WHERE %s GROUP BY station" % (qid[6:], whole)
            drop_time = True
        params = {"db": "bench", "epoch": "ms", "q": q}

        def fetch(client):
            status, body, elapsed = client.get("/query", params)
            fail_status(status, body)
            answer = {}
            for result in json.loads(body)["results"]:
                if "error" in result:
                    raise RuntimeError(result["error"])
                for s in result.get("series", []):
                    station = s.get("tags", {}).get("station", w.station)
                    rows = [r[1:] if drop_time else r for r in s["values"]]
                    answer.setdefault(station, []).extend(rows)
            return elapsed, len(body), answer
        return q, fetch


SYSTEMS = {s.key: s for s in (JialingSystem(), VMSystem(), InfluxSystem())}


def check_answer(label, got, expect, exact_cols, mean_cols, is_count):
    problems = []
    if is_count:  # a system may leave out a series that has nothing to count
        got = {s: r for s, r in got.items() if r != [[0]]}
        expect = {s: r for s, r in expect.items() if r != [[0]]}
    if sorted(got) != sorted(k for k, v in expect.items() if v):
        problems.append("stations %s, expected %s" % (sorted(got), sorted(expect)))
    for s, rows in sorted(expect.items()):
        if s in got:
            compare_rows("%s %s" % (label, s), got[s], rows, exact_cols, mean_cols, problems)
            if len(problems) > 5:
                break
    return problems


def run_queries(args):
    system = SYSTEMS[args.system]
    w = Workload(args.truth)
    client = Client(args.url)
    results = []
    failed = 0
    for qid, label, timed, exact_cols, mean_cols in w.queries():
        form, fetch = system.route(qid, w)
        runs = args.runs if timed else 1
        problems = []
        times_s = []
        nbytes = 0
        try:
            if timed:
                fetch(client)  # warm-up
            answer = None
            for _ in range(runs):
                elapsed, nbytes, answer = fetch(client)
                times_s.append(elapsed)
            is_count = qid == "scan_count" or qid.startswith("count:")
            problems = check_answer(label, answer, w.expect(qid, system.offset), exact_cols, mean_cols, is_count)
        except Exception as e:  # a crash of the server or a malformed answer is a failure
            problems.append("%s: %s" % (type(e).__name__, e))
        ok = not problems
        failed += not ok
        rows = sum(len(v) for v in w.expect(qid, system.offset).values())
        median_ms = statistics.median(times_s) * 1000 if times_s else None
        results.append({"qid": qid, "query": label, "timed": timed, "median_ms": median_ms,
                        "runs_ms": [t * 1000 for t in times_s], "rows": rows, "bytes": nbytes, "ok": ok,
                        "problems": problems[:5], "form": form})
        print("%-16s %-62s %10s ms  %8d rows  %s" % (
            system.name, label, "%.3f" % median_ms if median_ms is not None else "-", rows,
            "pass" if ok else "FAIL: " + "; ".join(problems[:3])), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"system": system.key, "name": system.name, "threshold": w.threshold,
                       "day_from": w.day_from, "alignment": system.alignment, "notes": system.notes,
                       "results": results}, f, indent=1)
    return 1 if failed else 0


def wait_queryable(args):
    """Polls the system's `latest` question until its answer equals the truth (the last readings
    sent are visible); prints the seconds since the last acknowledgement. With --go-file the truth
    is loaded first, FILE.ready is created, and polling starts once FILE holds the wall-clock time
    (epoch seconds) of the last acknowledgement, so loading the truth is not counted; else polling
    starts at once and --since (default now) is the reference. Exit status 1 at the timeout."""
    system = SYSTEMS[args.system]
    w = Workload(args.truth)
    _, fetch = system.route("latest", w)
    expect = w.expect("latest", system.offset)
    client = Client(args.url)
    since = args.since if args.since is not None else time.time()
    if args.go_file:
        open(args.go_file + ".ready", "w").close()
        while True:
            try:
                with open(args.go_file) as f:
                    text = f.read().strip()
                if text:
                    since = float(text)
                    break
            except OSError:
                pass
            time.sleep(0.005)
    t0 = time.monotonic()
    last = ""
    while True:
        try:
            _, _, answer = fetch(client)
            problems = check_answer("latest", answer, expect, [0, 1], [], False)
            if not problems:
                print("%.3f" % (time.time() - since))
                return 0
            last = problems[0]
        except Exception as e:
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() - t0 > args.timeout:
            print("wait-queryable: not queryable after %d s: %s" % (args.timeout, last), file=sys.stderr)
            return 1
        time.sleep(0.1)


# ---------------------------------------------------------------- report

def read_file(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def machine_info():
    mem_kb = 0
    for line in read_file("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    model = "unknown"
    for line in read_file("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {"cpus": os.cpu_count(), "cpu model": model, "memory": "%.1f GiB" % (mem_kb / 1048576),
            "kernel": os.uname().release}


def fmt(value, digits=0):
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        return value
    return ("{:,.%df}" % digits).format(value)


def write_report(args):
    with open(args.ingest) as f:
        ing = json.load(f)
    queries = None
    if args.queries and os.path.exists(args.queries):
        with open(args.queries) as f:
            queries = json.load(f)
    distinct = ing.get("distinct") or 0
    lines = []
    add = lines.append
    add("# Jialing benchmark report")
    add("")
    add("Generated by `bench/run.sh` on %s UTC. Reference workload of DESIGN §6: %s stations x 5 metrics x %s days "
        "at 60 s (seed %s): %s lines sent, %s distinct readings (%s re-sent duplicates), "
        "line protocol in %s-line batches from %s concurrent clients, `--sync=full`."
        % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), ing.get("stations"), ing.get("days"), ing.get("seed"),
           fmt(ing.get("lines")), fmt(distinct), fmt(ing.get("duplicates")), ing.get("batch"), ing.get("clients")))
    add("")
    add("## Ingest and size")
    add("")
    add("| measure | value |")
    add("|---|---|")
    add("| ingest, readings/s (first byte to last durable ack) | %s |" % fmt(ing.get("readings_per_s")))
    add("| ingest wall time, s | %s |" % fmt(ing.get("seconds"), 2))
    add("| load client CPU, s | %s |" % fmt(ing.get("client_cpu_s"), 2))
    add("| server CPU during ingest, s | %s |" % fmt(ing.get("server_cpu_s"), 2))
    add("| peak server RSS (VmHWM), MiB | %s |" % fmt((ing.get("vmhwm_kb") or 0) / 1024, 1))
    for key, label in (("after_ingest", "after ingest"), ("settled", "settled (after queries)")):
        du = ing.get("disk_" + key)
        if du:
            add("| data dir on disk %s, bytes per distinct reading | %s (%s bytes; apparent size %s) |"
                % (label, fmt(du / distinct if distinct else None, 3), fmt(du), fmt(ing.get("apparent_" + key))))
    add("| load result | %s |" % ing.get("load_status", "-"))
    add("")
    add("## Queries")
    add("")
    if queries is None:
        add("Not run (ingest failed or was skipped).")
    else:
        add("Median of %s warm runs after one warm-up, over one keep-alive HTTP connection from Python "
            "(request sent to body read; includes client overhead of a fraction of a millisecond). Threshold "
            "for scans: value > %s; raw day starts at %s ms." % (ing.get("runs"), queries["threshold"],
                                                                   queries["day_from"]))
        add("")
        add("| query | median ms | rows | response bytes | answer |")
        add("|---|---|---|---|---|")
        for r in queries["results"]:
            answer = "correct" if r["ok"] else "WRONG: " + "; ".join(r["problems"])[:300].replace("|", "/")
            add("| %s | %s | %s | %s | %s |" % (r["query"], fmt(r["median_ms"], 3) if r["timed"] else "(check only)",
                                                fmt(r["rows"]), fmt(r["bytes"]), answer))
    add("")
    add("## Machine")
    add("")
    for k, v in machine_info().items():
        add("- %s: %s" % (k, v))
    add("")
    add("Peers (VictoriaMetrics, InfluxDB) are measured side by side by `bench/peers.sh` (`make bench-peers`); "
        "the DESIGN targets are ratios against them.")
    add("")
    text = "\n".join(lines)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


# ---------------------------------------------------------------- report-peers

PEER_ORDER = ["jialing", "vm", "influx"]
# qid -> (target ratio Jialing / best peer, "le"), compared with the fastest peer that answered right
QUERY_TARGETS = {
    "hourly_mean": (1 / 5, ">= 5x faster than the fastest peer"),
    "daily_max": (1 / 20, ">= 20x faster"),
    "month_means": (1 / 20, ">= 20x faster"),
    "scan_count": (1 / 20, ">= 20x faster"),
    "raw_day": (1 / 3, ">= 3x faster"),
    "latest": (1 / 3, ">= 3x faster"),
    "scan_points": (1 / 10, ">= 10x faster than the fastest exact peer route"),
}


def load_json(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def write_peers_report(args):
    run = load_json(os.path.join(args.dir, "run.json"), {})
    systems = [k for k in PEER_ORDER if os.path.exists(os.path.join(args.dir, k + "-ingest.json"))]
    ing = {k: load_json(os.path.join(args.dir, k + "-ingest.json"), {}) for k in systems}
    qry = {k: load_json(os.path.join(args.dir, k + "-queries.json"), {"results": []}) for k in systems}
    names = {k: SYSTEMS[k].name for k in systems}
    peers = [k for k in systems if k != "jialing"]
    distinct = run.get("distinct") or 0
    lines = []
    add = lines.append

    def ratio(j, best):
        if j is None or best is None or best == 0:
            return "-"
        r = j / best
        return "%.3g" % r

    add("# Jialing and its peers: benchmark report")
    add("")
    add("Generated by `bench/peers.sh` on %s UTC, one run, the systems one after another on this machine. "
        "Workload (DESIGN §6): %s stations x 5 metrics x %s days at 60 s (seed %s): %s lines sent, "
        "%s distinct readings (%s re-sent duplicates), InfluxDB line protocol at ms precision, %s-line "
        "batches from %s concurrent keep-alive connections of one C client (`bin/bench-load`)."
        % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), run.get("stations"), run.get("days"),
           run.get("seed"), fmt(run.get("lines")), fmt(distinct), fmt(run.get("duplicates")),
           run.get("batch"), run.get("clients")))
    add("")
    add("## Figures")
    add("")
    add("Jialing ÷ best peer: for the ingest rate above 1 is better; for every time, size and memory "
        "figure below 1 is better. A figure marked ✗ comes with a wrong answer and is not counted as "
        "a peer's best. Query times: median of %s warm runs after one warm-up, request sent to last "
        "byte read, one keep-alive connection from Python." % run.get("runs"))
    add("")
    add("| measure | " + " | ".join(names[k] for k in systems) + " | Jialing ÷ best peer | target (DESIGN §6) | met |")
    add("|---|" + "---|" * len(systems) + "---|---|---|")

    def row(label, values, higher_better, digits, target=None, target_peer=None, bad=None):
        bad = bad or {}
        cells = []
        for k in systems:
            v = values.get(k)
            cell = fmt(v, digits) if v is not None else "-"
            if bad.get(k):
                cell += " ✗"
            cells.append(cell)
        pv = [values[k] for k in peers if values.get(k) is not None and not bad.get(k)]
        best = (max(pv) if higher_better else min(pv)) if pv else None
        j = values.get("jialing")
        met = "-"
        target_text = "-"
        if target is not None:
            limit, text, cmp_peer = target
            target_text = text
            ref = values.get(cmp_peer) if cmp_peer else best
            if cmp_peer and bad.get(cmp_peer):
                ref = None
            if j is not None and ref and not bad.get("jialing"):
                r = j / ref
                met = "yes" if (r >= limit if higher_better else r <= limit) else "no"
        add("| %s | %s | %s | %s | %s |" % (label, " | ".join(cells), ratio(j, best), target_text, met))

    def col(key, scale=1.0):
        return {k: (ing[k].get(key) * scale if ing[k].get(key) is not None else None) for k in systems}

    capped = {k: bool(ing[k].get("capped")) for k in systems}
    load_bad = {k: ing[k].get("load_status") != "ok" for k in systems}
    row("ingest, readings/s (first byte to last ack)", col("readings_per_s"), True, 0,
        (2.0, ">= 2x VictoriaMetrics", "vm"), bad=load_bad)
    row("ingest wall time, s", col("seconds"), False, 1, bad=load_bad)
    row("time until all queryable, s (from first byte)", col("queryable_s"), False, 1, bad=load_bad)
    row("server CPU during ingest, s", col("server_cpu_s"), False, 1)
    per_cpu = {k: (ing[k]["acked"] / ing[k]["server_cpu_s"] if ing[k].get("server_cpu_s") and ing[k].get("acked")
                   else None) for k in systems}
    row("readings per server CPU second (steadier than wall time on a shared machine)", per_cpu, True, 0,
        bad=load_bad)
    row("load client CPU during ingest, s", col("client_cpu_s"), False, 1)
    row("peak server RSS (VmHWM) after ingest, MiB", col("vmhwm_kb", 1 / 1024), False, 1,
        (0.25, "<= 0.25x VictoriaMetrics", "vm"))
    bpr = {k: (ing[k]["disk_settled"] / distinct if ing[k].get("disk_settled") and distinct else None) for k in systems}
    row("bytes per distinct reading on disk, settled", bpr, False, 3, (1.0, "<= VictoriaMetrics", "vm"), bad=load_bad)
    bpi = {k: (ing[k]["disk_after_ingest"] / distinct if ing[k].get("disk_after_ingest") and distinct else None)
           for k in systems}
    row("bytes per distinct reading on disk, right after ingest", bpi, False, 3)
    row("settle time (flush/merge/compaction), s", col("settle_s"), False, 1)
    labels = []
    for k in systems:
        for r in qry[k]["results"]:
            if r["timed"] and r["qid"] not in [q for q, _ in labels]:
                labels.append((r["qid"], r["query"]))
    by = {k: {r["qid"]: r for r in qry[k]["results"]} for k in systems}
    for qid, label in labels:
        vals = {k: by[k].get(qid, {}).get("median_ms") for k in systems}
        bad = {k: not by[k].get(qid, {}).get("ok", False) for k in systems}
        t = QUERY_TARGETS.get(qid)
        row("query ms: " + label, vals, False, 2, (t[0], t[1], None) if t else None, bad=bad)
    add("")
    if any(capped.values()):
        add("Ingest cap of %s s hit by: %s (its later figures are for the part it took)."
            % (run.get("max_ingest_s"), ", ".join(names[k] for k in systems if capped[k])))
        add("")
    add("![ingest rate and query latency per system](%s)" % args.png)
    add("")
    add("## Answers checked against the truth")
    add("")
    add("Every answer is compared with one computed from bench-gen's own record of what it wrote "
        "(duplicates counted once): times, counts, maxima and raw values exactly, means to 1e-9 "
        "relative; window starts as each system aligns them (all three align to the epoch here). "
        "Threshold for the scans: value > %s; the raw day starts at %s ms."
        % (qry[systems[0]].get("threshold") if systems else "-", qry[systems[0]].get("day_from") if systems else "-"))
    add("")
    add("| question | " + " | ".join(names[k] for k in systems) + " |")
    add("|---|" + "---|" * len(systems))
    all_q = []
    for k in systems:
        for r in qry[k]["results"]:
            if r["qid"] not in [q for q, _ in all_q]:
                all_q.append((r["qid"], r["query"]))
    problems = []
    for qid, label in all_q:
        cells = []
        for k in systems:
            r = by[k].get(qid)
            if r is None:
                cells.append("-")
            elif r["ok"]:
                cells.append("pass")
            else:
                cells.append("FAIL")
                problems.append("- %s, %s: %s" % (names[k], label, "; ".join(r["problems"])[:400].replace("|", "/")))
        add("| %s | %s |" % (label, " | ".join(cells)))
    if problems:
        add("")
        add("Failures:")
        add("")
        lines.extend(problems)
    add("")
    add("## Every timed run, ms")
    add("")
    add("The figures above are medians; on a shared machine the spread says how far to trust them.")
    add("")
    add("| question | " + " | ".join(names[k] for k in systems) + " |")
    add("|---|" + "---|" * len(systems))
    for qid, label in labels:
        cells = []
        for k in systems:
            runs_ms = by[k].get(qid, {}).get("runs_ms") or []
            cells.append(" ".join("%.2f" % t for t in runs_ms) or "-")
        add("| %s | %s |" % (label, " | ".join(cells)))
    add("")
    add("## How each system was asked")
    for k in systems:
        add("")
        add("### %s" % names[k])
        add("")
        info = ing[k]
        if info.get("command"):
            add("- started as: `%s`" % info["command"])
        if info.get("write_path"):
            add("- writes: `POST %s`" % info["write_path"])
        add("- windows: %s" % qry[k].get("alignment", "-"))
        for n in qry[k].get("notes", []):
            add("- %s" % n)
        add("")
        add("| question | form |")
        add("|---|---|")
        for r in qry[k]["results"]:
            add("| %s | `%s` |" % (r["query"], r["form"].replace("|", "\\|")))
    add("")
    add("## Machine and run")
    add("")
    for key, v in machine_info().items():
        add("- %s: %s" % (key, v))
    for k in systems:
        add("- %s version: %s" % (names[k], ing[k].get("version", "-")))
    add("- load average (1, 5, 15 min) before / after each system's ingest: " + "; ".join(
        "%s %s / %s" % (names[k], ing[k].get("loadavg_before", "-"), ing[k].get("loadavg_after", "-")) for k in systems))
    add("- load average at the start and end of the run: %s / %s" % (run.get("loadavg_start", "-"),
                                                                     run.get("loadavg_end", "-")))
    add("- The machine is shared with other engineers' tests and fuzzers on the same 2 cores, so absolute "
        "figures are noisy; ratios come from one run. Ingest cap per system: %s s." % run.get("max_ingest_s"))
    add("- Disk figures are allocated blocks (`du -B1`) of the whole data directory (for InfluxDB: "
        "meta, data and WAL; for VictoriaMetrics: data, indexdb and caches).")
    add("- 'Time until all queryable': from the first byte sent until the `latest` question answers "
        "the last readings sent, polled every 0.1 s after the last acknowledgement (VictoriaMetrics: "
        "after GET /internal/force_flush; the checker has loaded the truth before the load starts). That every reading is stored is checked by the per-series "
        "counts above.")
    add("")
    text = "\n".join(lines)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("verify-gen")
    p.add_argument("dir")
    p = sub.add_parser("queries")
    p.add_argument("--url", required=True)
    p.add_argument("--truth", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--json")
    p.add_argument("--system", choices=sorted(SYSTEMS), default="jialing")
    p = sub.add_parser("wait-queryable")
    p.add_argument("--url", required=True)
    p.add_argument("--truth", required=True)
    p.add_argument("--system", choices=sorted(SYSTEMS), default="jialing")
    p.add_argument("--timeout", type=int, default=600)
    p.add_argument("--since", type=float)
    p.add_argument("--go-file")
    p = sub.add_parser("report-peers")
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--png", default="REPORT.png")
    p = sub.add_parser("report")
    p.add_argument("--ingest", required=True)
    p.add_argument("--queries")
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.cmd == "report":
        return write_report(args)
    if args.cmd == "report-peers":
        return write_peers_report(args)
    if args.cmd == "verify-gen":
        return verify_gen(args.dir)
    if args.cmd == "wait-queryable":
        return wait_queryable(args)
    return run_queries(args)


if __name__ == "__main__":
    sys.exit(main())
