# Windowed aggregates over a few days of 60 s data with missing readings, outages and timestamp
# jitter, compared to a brute-force computation in Python: every aggregate, daily windows in
# +08:00 and -05:30, hourly and odd-sized windows over ranges that cut windows in half, and
# series without rows in the range left out.

from harness import (Model, by_series, check, compare_windows, eq, line, reference_windows, rng,
                     selector, shared, skey)

T0 = 1735689600000  # 2025-01-01T00:00:00Z
START = T0 + (7 * 60 + 13) * 60000  # not aligned to any window
DAYS = 4.5
MINUTE = 60000
HOUR = 3600000
DAY = 86400000
ALL_AGGS = ["count", "sum", "mean", "min", "max", "first", "last"]

_state = {}


def _load():
    """Writes the data set once (to the shared server) and returns the model."""
    if "model" in _state:
        return _state["model"]
    srv = shared()
    r = rng("windows_data")
    model = Model()
    lines = []
    n = int(DAYS * 1440)
    # s01: exact 60 s cadence, 1% missing, a 5 h outage.
    # s02: 0-5 s jitter, 1% missing, an outage longer than a local day (whole daily windows empty).
    outages = {"s01": (START + 30 * HOUR, START + 35 * HOUR),
               "s02": (START + 40 * HOUR, START + 82 * HOUR)}
    for station in ("s01", "s02"):
        lo, hi = outages[station]
        for i in range(n):
            ts = START + i * MINUTE + (r.randrange(0, 5001) if station == "s02" else 0)
            if lo <= ts < hi or r.random() < 0.01:
                continue
            value = round(35 + 20 * r.random() + (i % 1440) / 100.0, 1)
            model.put("win_pm25", {"station": station}, ts, value)
            lines.append(line("win_pm25", {"station": station}, value, ts))
    for i in range(n):
        ts = START + i * MINUTE
        if r.random() < 0.005:
            continue
        value = round(r.uniform(0.2, 2.0), 3)
        model.put("win_nh3n", {"section": "r1"}, ts, value)
        lines.append(line("win_nh3n", {"section": "r1"}, value, ts))
    for k in range(0, len(lines), 5000):
        srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")
    _state["model"] = model
    return model


def _check_windows(metric, window, window_ms, offset_ms, tz, aggs, from_ms, to_ms, fill=None):
    srv = shared()
    model = _load()
    doc = srv.ok("query", series=metric, from_=from_ms, to=to_ms, window=window,
                 agg=",".join(aggs), tz=tz, fill=fill)
    got = by_series(doc, ["time"] + aggs)
    expected_keys = [k for k in model.keys(metric) if model.readings(k, from_ms, to_ms)]
    eq(sorted(got), expected_keys, "series of %s window=%s" % (metric, window))
    for key in expected_keys:
        expected = _reference(model, key, window_ms, offset_ms, from_ms, to_ms, aggs)
        compare_windows(got[key], expected, aggs,
                        "%r window=%s tz=%s [%d,%d)" % (key, window, tz, from_ms, to_ms))
    return got


def _reference(model, key, window_ms, offset_ms, from_ms, to_ms, aggs):
    return reference_windows(model.readings(key), window_ms, offset_ms, from_ms, to_ms, aggs)


def test_daily_windows_utc8_all_aggregates():
    got = _check_windows("win_pm25", "1d", DAY, 8 * HOUR, "+08:00", ALL_AGGS, T0 - DAY,
                         T0 + 7 * DAY)
    # Local midnight in +08:00 is 16:00 UTC; the outage of s02 empties at least one local day.
    for rows in got.values():
        for row in rows:
            eq((row[0] + 8 * HOUR) % DAY, 0, "daily window start at local midnight")
    check(len(got[skey("win_pm25", station="s02")]) < len(got[skey("win_pm25", station="s01")]),
          "the empty local day of s02 should be omitted with fill=none")


def test_daily_windows_negative_offset_fill_none():
    _check_windows("win_pm25", "1d", DAY, -(5 * HOUR + 30 * MINUTE), "-05:30",
                   ["min", "max", "count"], T0, T0 + 6 * DAY, fill="none")


def test_hourly_windows_partial_range():
    frm = START + 10 * HOUR + 17 * MINUTE + 123
    to = START + 3 * DAY + 5 * HOUR + 3 * MINUTE
    _check_windows("win_pm25", "1h", HOUR, 0, None, ["mean", "max", "count", "first"], frm, to)
    _check_windows("win_nh3n", "1h", HOUR, 0, "+08:00", ["sum", "min", "last"], frm, to)


def test_odd_and_small_windows():
    _check_windows("win_nh3n", "7h", 7 * HOUR, 8 * HOUR, "+08:00", ["sum", "count", "mean"],
                   T0, T0 + 6 * DAY)
    _check_windows("win_pm25", "5m", 5 * MINUTE, 0, None, ["first", "last", "count"],
                   START + DAY, START + DAY + 6 * HOUR)
    _check_windows("win_pm25", "90s", 90000, 0, None, ["count", "min"], START + 2 * DAY,
                   START + 2 * DAY + 2 * HOUR)


def test_weekly_window_and_selector_by_tag():
    srv = shared()
    model = _load()
    key = skey("win_pm25", station="s01")
    doc = srv.ok("query", series=selector("win_pm25", station="s01"), from_=T0 - 7 * DAY,
                 to=T0 + 14 * DAY, window="1w", agg="count,mean,max", tz="+08:00")
    got = by_series(doc, ["time", "count", "mean", "max"])
    eq(list(got), [key], "series matched by station=s01")
    compare_windows(got[key], _reference(model, key, 7 * DAY, 8 * HOUR, T0 - 7 * DAY,
                                         T0 + 14 * DAY, ["count", "mean", "max"]),
                    ["count", "mean", "max"], "weekly windows of s01")


def test_series_without_rows_in_range_omitted():
    srv = shared()
    model = _load()
    # Inside s02's outage only s01 has readings (s02's jitter stays within 5 s of the grid).
    frm, to = START + 45 * HOUR, START + 50 * HOUR
    doc = srv.ok("query", series="win_pm25", from_=frm, to=to, window="1h", agg="count")
    got = by_series(doc)
    eq(sorted(got), [skey("win_pm25", station="s01")], "series with readings in the outage")
    doc = srv.ok("query", series="win_pm25", from_=frm, to=to)
    got = by_series(doc)
    eq(sorted(got), [skey("win_pm25", station="s01")], "raw series with readings in the outage")
    eq(got[skey("win_pm25", station="s01")], model.readings(skey("win_pm25", station="s01"),
                                                            frm, to), "raw readings")
