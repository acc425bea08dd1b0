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

  check.py report --ingest ingest.json [--queries queries.json] --out REPORT.md
      Writes the benchmark report (figures, machine, date) from run.sh's measurements.

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

class Client:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def get(self, path, params):
        query = urllib.parse.urlencode(params)
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                start = time.perf_counter()
                self.conn.request("GET", path + "?" + query)
                resp = self.conn.getresponse()
                body = resp.read()
                elapsed = time.perf_counter() - start
                return resp.status, body, elapsed
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def windows(times, mantissas, width_ms, start, end):
    """Groups readings in [start, end) by epoch-aligned window; returns {window_start: [mantissas]}."""
    out = {}
    for t, m in zip(times, mantissas):
        if start <= t < end:
            out.setdefault(t - t % width_ms, []).append(m)
    return out


def by_station(answer):
    """Maps station -> (columns, rows) from a JSON result; raises on a malformed shape."""
    result = {}
    for s in answer["series"]:
        result[s["tags"]["station"]] = (s["columns"], s["values"])
    return result


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


def run_queries(args):
    truth = args.truth
    index = load_index(truth)
    start, end = index["start_ms"], index["end_ms"]
    metric = "pm25"
    entries = [e for e in index["series"] if e["metric"] == metric]
    one = entries[0]
    station = one["tags"]["station"]
    scale = 10 ** one["decimals"]
    data = {e["tags"]["station"]: load_series(truth, e) for e in entries}
    times, mantissas = data[station]

    # A threshold a few percent of readings exceed, chosen from the truth so it is deterministic.
    ordered = sorted(mantissas)
    threshold_m = ordered[int(len(ordered) * 0.97)]
    threshold = threshold_m / scale
    day_from = start + ((end - start) // 86400000 // 2) * 86400000
    day_to = day_from + 86400000
    sel_one = '%s{station="%s"}' % (metric, station)
    r = lambda m: m / scale  # noqa: E731

    queries = []

    # 1. hourly mean of one series over the whole range
    w = windows(times, mantissas, 3600000, start, end)
    queries.append(("hourly mean, 1 series, whole range", "/api/v1/query",
                    {"series": sel_one, "from": start, "to": end, "window": "1h", "agg": "mean"},
                    {station: [[k, sum(v) / (len(v) * scale)] for k, v in sorted(w.items())]},
                    ["time", "mean"], [0], [1]))
    # 2. daily max of one series
    w = windows(times, mantissas, 86400000, start, end)
    queries.append(("daily max, 1 series, whole range", "/api/v1/query",
                    {"series": sel_one, "from": start, "to": end, "window": "1d", "agg": "max"},
                    {station: [[k, r(max(v))] for k, v in sorted(w.items())]},
                    ["time", "max"], [0, 1], []))
    # 3. raw readings of one day
    queries.append(("raw readings, 1 series, 1 day", "/api/v1/query",
                    {"series": sel_one, "from": day_from, "to": day_to},
                    {station: [[t, r(m)] for t, m in zip(times, mantissas) if day_from <= t < day_to]},
                    ["time", "value"], [0, 1], []))
    # 4. every reading above a threshold, one series, whole range
    queries.append(("scan gt points, 1 series, whole range", "/api/v1/scan",
                    {"series": sel_one, "from": start, "to": end, "op": "gt", "value": repr(threshold),
                     "output": "points"},
                    {station: [[t, r(m)] for t, m in zip(times, mantissas) if m > threshold_m]},
                    ["time", "value"], [0, 1], []))
    # 5. count above the threshold per series, all stations
    queries.append(("scan gt count, %d series, whole range" % len(entries), "/api/v1/scan",
                    {"series": metric, "from": start, "to": end, "op": "gt", "value": repr(threshold),
                     "output": "count"},
                    {s: [[sum(1 for m in ms if m > threshold_m)]] for s, (ts, ms) in data.items()},
                    ["count"], [0], []))
    # 6. 30-day means of all stations
    expect = {}
    for s, (ts, ms) in data.items():
        w = windows(ts, ms, 30 * 86400000, start, end)
        expect[s] = [[k, sum(v) / (len(v) * scale)] for k, v in sorted(w.items())]
    queries.append(("30-day means, %d series" % len(entries), "/api/v1/query",
                    {"series": metric, "from": start, "to": end, "window": "30d", "agg": "mean"},
                    expect, ["time", "mean"], [0], [1]))
    # 7. latest of all stations
    queries.append(("latest, %d series" % len(entries), "/api/v1/latest", {"series": metric},
                    {s: [[ts[-1], r(ms[-1])]] for s, (ts, ms) in data.items() if len(ts)},
                    ["time", "value"], [0, 1], []))
    # Correctness only (not timed in the report): readings stored per series of every metric,
    # duplicates counted once.
    count_checks = []
    for m in sorted({e["metric"] for e in index["series"]}):
        count_checks.append(("stored readings per series, %s" % m, "/api/v1/scan",
                             {"series": m, "from": start, "to": end, "op": "gt", "value": "-1e300",
                              "output": "count"},
                             {e["tags"]["station"]: [[e["count"]]] for e in index["series"]
                              if e["metric"] == m},
                             ["count"], [0], []))

    client = Client(args.url)
    results = []
    failed = 0
    for timed, group in ((True, queries), (False, count_checks)):
        for label, path, params, expect, columns, exact_cols, mean_cols in group:
            runs = args.runs if timed else 1
            problems = []
            times_s = []
            body = b""
            status = 0
            try:
                if timed:
                    client.get(path, params)  # warm-up
                for _ in range(runs):
                    status, body, elapsed = client.get(path, params)
                    times_s.append(elapsed)
                if status != 200:
                    problems.append("status %d: %s" % (status, body[:300].decode("utf-8", "replace")))
                else:
                    got = by_station(json.loads(body))
                    if sorted(got) != sorted(k for k, v in expect.items() if v):
                        problems.append("stations %s, expected %s" % (sorted(got), sorted(expect)))
                    for s, rows in sorted(expect.items()):
                        if s not in got:
                            continue
                        cols, got_rows = got[s]
                        if cols != columns:
                            problems.append("columns %r, expected %r" % (cols, columns))
                            break
                        compare_rows("%s %s" % (label, s), got_rows, rows, exact_cols, mean_cols,
                                     problems)
                        if len(problems) > 5:
                            break
            except Exception as e:  # a crash of the server or a malformed answer is a failure
                problems.append("%s: %s" % (type(e).__name__, e))
            ok = not problems
            failed += not ok
            rows = sum(len(v) for v in expect.values())
            median_ms = statistics.median(times_s) * 1000 if times_s else None
            results.append({"query": label, "timed": timed, "median_ms": median_ms,
                            "rows": rows, "bytes": len(body), "ok": ok, "problems": problems[:5]})
            print("%-42s %10s ms  %8d rows  %s" % (
                label, "%.3f" % median_ms if median_ms is not None else "-", rows,
                "OK" if ok else "FAIL: " + "; ".join(problems[:3])), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threshold": threshold, "day_from": day_from, "results": results}, f, indent=1)
    return 1 if failed else 0


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
    add("Peers (VictoriaMetrics, InfluxDB) are not measured yet; the DESIGN targets are ratios against them.")
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
    p = sub.add_parser("report")
    p.add_argument("--ingest", required=True)
    p.add_argument("--queries")
    p.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.cmd == "report":
        return write_report(args)
    if args.cmd == "verify-gen":
        return verify_gen(args.dir)
    return run_queries(args)


if __name__ == "__main__":
    sys.exit(main())
