# Enough readings per series that chunks get sealed (the default seal size is 2048), so queries
# read sealed chunks and the unsealed tail together; duplicates counted once and last write wins;
# late readings into sealed chunks (new timestamps between existing ones, and overwrites) show up
# in raw reads, aggregates and the series listing.

from harness import (Model, by_series, compare_windows, eq, line, reference_windows, rng,
                     selector, shared, skey)

T0 = 1735689600000  # 2025-01-01T00:00:00Z
MINUTE = 60000
HOUR = 3600000
DAY = 86400000
N = 10000
STATIONS = ("c01", "c02", "c03")
AGGS = ["count", "sum", "mean", "min", "max", "first", "last"]


def _write(srv, lines, batch=5000):
    for k in range(0, len(lines), batch):
        srv.write_ok("\n".join(lines[k:k + batch]), precision="ms")


def _verify_all(srv, model, metric, what):
    keys = model.keys(metric)
    end = T0 + N * MINUTE + DAY
    doc = srv.ok("query", series=metric, from_=T0 - DAY, to=end)
    got = by_series(doc, ["time", "value"])
    eq(sorted(got), keys, "%s: series" % what)
    for key in keys:
        expected = model.readings(key)
        if got[key] != expected:
            diff = [(g, e) for g, e in zip(got[key], expected) if g != e][:5]
            eq(len(got[key]), len(expected), "%s: raw reading count of %r" % (what, key))
            eq(diff, [], "%s: first differing raw readings of %r" % (what, key))
    doc = srv.ok("series", series=metric)
    got = by_series(doc, ["first", "last", "count"])
    eq(sorted(got), keys, "%s: series listing" % what)
    for key in keys:
        times = [p[0] for p in model.readings(key)]
        eq(got[key], [[times[0], times[-1], len(times)]], "%s: first/last/count of %r" % (what, key))
    # Windows smaller than a chunk (decoded) and larger (answered from chunk summaries).
    for window, window_ms, tz, offset in (("1d", DAY, "+08:00", 8 * HOUR), ("1h", HOUR, None, 0),
                                          ("17m", 17 * MINUTE, None, 0),
                                          ("1w", 7 * DAY, "+08:00", 8 * HOUR),
                                          ("30d", 30 * DAY, None, 0)):
        doc = srv.ok("query", series=metric, from_=T0 - DAY, to=end, window=window,
                     agg=",".join(AGGS), tz=tz)
        got = by_series(doc, ["time"] + AGGS)
        eq(sorted(got), keys, "%s: series of window=%s" % (what, window))
        for key in keys:
            compare_windows(got[key], reference_windows(model.readings(key), window_ms, offset,
                                                        T0 - DAY, end, AGGS),
                            AGGS, "%s: %r window=%s" % (what, key, window))
    # A range that starts and ends inside chunks.
    frm, to = T0 + 1000 * MINUTE + 1, T0 + 7777 * MINUTE
    doc = srv.ok("query", series=metric, from_=frm, to=to, window="1d", agg="count,sum,min,max")
    got = by_series(doc, ["time", "count", "sum", "min", "max"])
    for key in keys:
        compare_windows(got[key], reference_windows(model.readings(key), DAY, 0, frm, to,
                                                    ["count", "sum", "min", "max"]),
                        ["count", "sum", "min", "max"], "%s: %r partial range" % (what, key))


def test_sealed_chunks_and_late_readings():
    srv = shared()
    r = rng("sealed_chunks_and_late_readings")
    model = Model()
    metric = "chunky"
    lines = []
    for i in range(N):
        for station in STATIONS:
            ts = T0 + i * MINUTE
            value = round(20 + 15 * r.random() + (i % 300) / 10.0, 1)
            model.put(metric, {"station": station}, ts, value)
            lines.append(line(metric, {"station": station}, value, ts))
    tail = lines[-3000:]  # the last batch arrives out of order
    r.shuffle(tail)
    _write(srv, lines[:-3000] + tail)
    _verify_all(srv, model, metric, "after 3 x %d readings" % N)

    # Late readings: new timestamps between existing ones and overwrites, mostly inside the
    # sealed part (the first chunks), some in the tail; all in one shuffled batch per station.
    late = []
    for station in STATIONS:
        tags = {"station": station}
        for i in r.sample(range(0, 6000), 300):
            ts = T0 + i * MINUTE + 30000
            value = round(r.uniform(100, 200), 1)
            model.put(metric, tags, ts, value)
            late.append(line(metric, tags, value, ts))
        for i in r.sample(range(0, 6000), 300) + r.sample(range(9000, N), 50):
            ts = T0 + i * MINUTE
            value = round(r.uniform(-100, -1), 1)  # new minima, so min/first/last change
            model.put(metric, tags, ts, value)
            late.append(line(metric, tags, value, ts))
        # Before the first reading: a new first.
        ts = T0 - 5 * MINUTE
        model.put(metric, tags, ts, 1.5)
        late.append(line(metric, tags, 1.5, ts))
    r.shuffle(late)
    _write(srv, late, batch=700)
    _verify_all(srv, model, metric, "after late readings")

    # The latest reading is the one with the greatest time, not the last written.
    doc = srv.ok("latest", series=metric)
    got = by_series(doc, ["time", "value"])
    for key in model.keys(metric):
        eq(got.get(key), [model.readings(key)[-1]], "latest of %r" % (key,))


def test_duplicates_last_write_wins():
    srv = shared()
    r = rng("duplicates_last_write_wins")
    model = Model()
    metric = "dupes"
    tags = {"station": "d1"}
    key = skey(metric, **tags)
    lines = []
    for i in range(3000):
        ts = T0 + i * MINUTE
        value = round(r.uniform(0, 50), 1)
        model.put(metric, tags, ts, value)
        lines.append(line(metric, tags, value, ts))
    body = "\n".join(lines)
    srv.write_ok(body, precision="ms")
    srv.write_ok(body, precision="ms")  # re-sending a batch is idempotent
    doc = srv.ok("series", series=metric)
    eq(by_series(doc)[key], [[T0, T0 + 2999 * MINUTE, 3000]], "first/last/count after resend")

    # Rewrite 500 timestamps with new values, and inside one batch write a timestamp twice: the
    # later line wins.
    rewrite = []
    for i in r.sample(range(3000), 500):
        ts = T0 + i * MINUTE
        value = round(r.uniform(60, 90), 1)
        model.put(metric, tags, ts, value)
        rewrite.append(line(metric, tags, value, ts))
    for i in r.sample(range(3000), 20):
        ts = T0 + i * MINUTE
        rewrite.append(line(metric, tags, 999.0, ts))
        rewrite.append(line(metric, tags, 111.0 + i, ts))
        model.put(metric, tags, ts, 111.0 + i)
    srv.write_ok("\n".join(rewrite), precision="ms")

    doc = srv.ok("query", series=selector(metric, **tags), from_=T0, to=T0 + 3000 * MINUTE)
    eq(by_series(doc, ["time", "value"])[key], model.readings(key), "raw after rewrites")
    doc = srv.ok("series", series=metric)
    eq(by_series(doc)[key], [[T0, T0 + 2999 * MINUTE, 3000]], "first/last/count after rewrites")
    doc = srv.ok("query", series=metric, from_=T0, to=T0 + 3000 * MINUTE, window="1h",
                 agg=",".join(AGGS))
    compare_windows(by_series(doc, ["time"] + AGGS)[key],
                    reference_windows(model.readings(key), HOUR, 0, T0, T0 + 3000 * MINUTE, AGGS),
                    AGGS, "hourly aggregates after rewrites")
