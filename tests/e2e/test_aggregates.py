# The aggregates beyond the basic seven over HTTP: stddev (population), spread (max - min), twa
# (time-weighted mean, piecewise constant, the previous reading carrying into a window) and
# percentiles (linear interpolation between closest ranks, numpy's default), each compared with a
# reference computed here from the readings written: statistics.pstdev, sorted lists, and a step
# function integrated reading by reading. Windows small enough to decode chunks and large enough
# to be answered from chunk summaries (stddev merges chunk partials with Chan's formula) are both
# checked, over ranges that cut windows.

import math
import statistics

from harness import (by_series, check, eq, error_message, line, near, rng, shared, skey,
                     window_start)

T0 = 1735689600000  # 2025-01-01T00:00:00Z
MINUTE = 60000
HOUR = 3600000
DAY = 86400000

_state = {}


def _load():
    """Two stations of ~60 s readings over 8 days (jitter, gaps, a 7 h outage) and one irregular
    series (gaps from 1 s to 3 h) for twa."""
    if "data" in _state:
        return _state["data"]
    srv = shared()
    r = rng("aggregates_data")
    data = {}
    for station in ("a", "b"):
        points = []
        t = T0 + r.randrange(0, MINUTE)
        while t < T0 + 8 * DAY:
            if not (T0 + 3 * DAY + 2 * HOUR <= t < T0 + 3 * DAY + 9 * HOUR) and r.random() > 0.02:
                points.append((t, round(20 + 15 * math.sin(t / 7e6) + r.uniform(-5, 5), 2)))
            t += MINUTE + r.randrange(-2000, 2001)
        data[skey("agg_pm25", station=station)] = points
    points = []
    t = T0 + 17
    while t < T0 + 8 * DAY:
        points.append((t, round(r.uniform(0, 10), 1)))
        t += r.choice((1000, 60000, 600000, 3600000, 3 * 3600000, 7 * 60000 + 13))
    data[skey("agg_flow", site="w")] = points
    for key, points in data.items():
        lines = [line(key[0], dict(key[1]), v, t) for t, v in points]
        for k in range(0, len(lines), 5000):
            srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")
    _state["data"] = data
    return data


def percentile(values, p):
    """numpy.percentile(values, p) with the default 'linear' method, in the same float steps."""
    xs = sorted(values)
    h = (len(xs) - 1) * p / 100.0
    lo = math.floor(h)
    if lo >= len(xs) - 1:
        return xs[-1]
    return xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])


def twa_rows(points, width, offset, from_ms, to_ms):
    """Time-weighted means per fixed window: each reading holds until the next one; the last
    reading before a window (within the range) carries in from the window start (cut to from);
    the last reading of a window holds until the window end (cut to to)."""
    pts = [(t, v) for t, v in sorted(points) if from_ms <= t < to_ms]
    windows = {}
    for i, (t, v) in enumerate(pts):
        windows.setdefault(window_start(t, width, offset), []).append(i)
    rows = []
    for start in sorted(windows):
        idx = windows[start]
        end = min(start + width, to_ms)
        first = idx[0]
        parts = []
        if first > 0:
            begin = max(start, from_ms)
            parts.append(pts[first - 1][1] * (pts[first][0] - begin))
        else:
            begin = pts[first][0]
        for k, i in enumerate(idx):
            t_next = pts[idx[k + 1]][0] if k + 1 < len(idx) else end
            parts.append(pts[i][1] * (t_next - pts[i][0]))
        rows.append([start, math.fsum(parts) / (end - begin)])
    return rows


def reference(points, width, offset, from_ms, to_ms, aggs):
    groups = {}
    for t, v in sorted(points):
        if from_ms <= t < to_ms:
            groups.setdefault(window_start(t, width, offset), []).append(v)
    twa = {r[0]: r[1] for r in twa_rows(points, width, offset, from_ms, to_ms)}
    rows = []
    for start in sorted(groups):
        values = groups[start]
        row = [start]
        for agg in aggs:
            if agg == "count":
                row.append(len(values))
            elif agg == "mean":
                row.append(math.fsum(values) / len(values))
            elif agg == "stddev":
                row.append(statistics.pstdev(values))
            elif agg == "spread":
                row.append(max(values) - min(values))
            elif agg == "twa":
                row.append(twa[start])
            elif agg.startswith("p"):
                row.append(percentile(values, float(agg[1:])))
            else:
                raise ValueError(agg)
        rows.append(row)
    return rows


def compare(got, expected, aggs, what):
    eq([r[0] for r in got], [r[0] for r in expected], "%s: window starts" % what)
    for g, e in zip(got, expected):
        for i, agg in enumerate(aggs, start=1):
            label = "%s: %s of window %d" % (what, agg, e[0])
            if agg in ("mean", "twa"):
                near(g[i], e[i], label, rel=1e-12, abs_tol=1e-12)
            elif agg == "stddev":
                near(g[i], e[i], label, rel=1e-9, abs_tol=1e-12)
            else:  # count, spread and percentiles are exact
                eq(g[i], e[i], label)


def _check(key, window, width, aggs, from_ms, to_ms, tz=None, offset=0):
    srv = shared()
    data = _load()
    doc = srv.ok("query", series="%s{%s=\"%s\"}" % (key[0], key[1][0][0], key[1][0][1]),
                 from_=from_ms, to=to_ms, window=window, agg=",".join(aggs), tz=tz)
    got = by_series(doc, ["time"] + aggs)
    eq(list(got), [key], "series")
    compare(got[key], reference(data[key], width, offset, from_ms, to_ms, aggs), aggs,
            "%r window=%s" % (key, window))


def test_stddev_spread_percentiles_decoded_windows():
    aggs = ["count", "stddev", "spread", "p0", "p50", "p95", "p99.9", "p100", "mean"]
    key = skey("agg_pm25", station="a")
    _check(key, "1h", HOUR, aggs, T0, T0 + 8 * DAY)
    _check(key, "17m", 17 * MINUTE, aggs, T0 + 5 * HOUR + 123, T0 + 2 * DAY + 7)
    _check(key, "1d", DAY, aggs, T0 + 7 * HOUR, T0 + 6 * DAY + 1, tz="+08:00", offset=8 * HOUR)


def test_stddev_spread_from_chunk_summaries():
    # Weekly and 30-day windows hold whole sealed chunks: their summaries serve stddev, spread,
    # mean and count; p50 in the same request makes them decode, and must agree.
    key = skey("agg_pm25", station="b")
    for aggs in (["count", "stddev", "spread", "mean"], ["count", "stddev", "spread", "p50"]):
        _check(key, "1w", 7 * DAY, aggs, T0 - 7 * DAY, T0 + 9 * DAY)
        _check(key, "30d", 30 * DAY, aggs, T0 - 30 * DAY, T0 + 30 * DAY)


def test_twa_irregular_readings():
    key = skey("agg_flow", site="w")
    aggs = ["count", "twa", "mean"]
    _check(key, "1h", HOUR, aggs, T0, T0 + 8 * DAY)
    _check(key, "6h", 6 * HOUR, aggs, T0 + 5 * HOUR + 1, T0 + 5 * DAY)
    _check(key, "1d", DAY, aggs, T0, T0 + 8 * DAY, tz="+08:00", offset=8 * HOUR)
    # A worked example: readings 2 at 00:00, 4 at 00:15, 10 at 00:45 and 6 at 01:30. Hour 0:
    # (2*15 + 4*30 + 10*15) / 60 = 5; hour 1 starts with 10 carried in: (10*30 + 6*30) / 60 = 8.
    srv = shared()
    base = T0 + 30 * DAY
    srv.write_ok("\n".join(line("agg_twa_example", {"s": "1"}, v, base + m * MINUTE)
                           for m, v in ((0, 2), (15, 4), (45, 10), (90, 6))), precision="ms")
    doc = srv.ok("query", series="agg_twa_example", from_=base, to=base + 2 * HOUR, window="1h",
                 agg="twa,mean")
    eq(by_series(doc)[skey("agg_twa_example", s="1")],
       [[base, 5.0, 16 / 3], [base + HOUR, 8.0, 6.0]],
       "twa worked example")
    # From 00:30 on, the 00:15 reading does not count: hour 0 covers 00:45-01:00 only.
    doc = srv.ok("query", series="agg_twa_example", from_=base + 30 * MINUTE, to=base + 2 * HOUR,
                 window="1h", agg="twa")
    eq(by_series(doc)[skey("agg_twa_example", s="1")], [[base, 10.0], [base + HOUR, 8.0]],
       "twa with a range starting mid-window")


def test_percentile_names_and_errors():
    srv = shared()
    _load()
    doc = srv.ok("query", series="agg_pm25", from_=T0, to=T0 + DAY, window="1d",
                 agg="p95,p99.9,p5.25")
    for entry in doc["series"]:
        eq(entry["columns"], ["time", "p95", "p99.9", "p5.25"], "percentile column names")
    for agg in ("p101", "p", "p-1", "p9.", "p1e2", "p99.1234567", "pp5", "median"):
        status, body = srv.query(series="agg_pm25", from_=T0, to=T0 + DAY, window="1d", agg=agg)
        eq(status, 400, "agg=%s status" % agg)
        check("agg" in error_message(body), "agg=%s: message names agg: %r" % (agg, body))
