# GET /api/v1/aqi against a reference of HJ 633-2012 written here (its own copy of Table 1, exact
# rounding up with fractions): three days of hourly readings for two stations (one pollutant of
# the second as minute readings), some flagged M (invalid), compared field by field for the daily
# and the hourly index. Also: a PM2.5 24-hour mean of 80 and a PM10 mean of 164 give IAQI 107
# both, so both are primary; a day with 19 valid PM2.5 hours is null with its reason; hours with
# 40 minutes of data are null; an SO2 hour above 800 reports by the 24-hour mean; O3 8-hour means
# above 800 leave ozone to its 1-hour IAQI; CSV carries the same rows; the same request gives the
# same bytes; bad parameters and HJ 633-2026 (not built in) answer 400 naming the parameter.

import csv
import datetime as dt
import io
import math
from fractions import Fraction

from harness import check, eq, error_message, near, rng, shared

MINUTE = 60000
HOUR = 3600000
DAY = 86400000
CST = dt.timezone(dt.timedelta(hours=8))
S1, S2 = "aqi-e2e-s1", "aqi-e2e-s2"
POLLUTANTS = ["pm25", "pm10", "so2", "no2", "co", "o3"]
COLUMNS = ["pm25", "pm10", "so2", "no2", "co", "o3_8h", "o3_1h"]

# HJ 633-2012 Table 1, typed in from the standard (CO mg/m3, others ug/m3).
IAQI_LEVELS = [0, 50, 100, 150, 200, 300, 400, 500]
TABLE = {
    "so2_24h": [0, 50, 150, 475, 800, 1600, 2100, 2620],
    "so2_1h": [0, 150, 500, 650, 800],
    "no2_24h": [0, 40, 80, 180, 280, 565, 750, 940],
    "no2_1h": [0, 100, 200, 700, 1200, 2340, 3090, 3840],
    "pm10_24h": [0, 50, 150, 250, 350, 420, 500, 600],
    "co_24h": [0, 2, 4, 14, 24, 36, 48, 60],
    "co_1h": [0, 5, 10, 35, 60, 90, 120, 150],
    "o3_1h": [0, 160, 200, 300, 400, 800, 1000, 1200],
    "o3_8h": [0, 100, 160, 215, 265, 800],
    "pm25_24h": [0, 35, 75, 115, 150, 250, 350, 500],
}
CATEGORY = [None, "优", "良", "轻度污染", "中度污染", "重度污染", "严重污染"]
CATEGORY_EN = [None, "Excellent", "Good", "Lightly polluted", "Moderately polluted",
               "Heavily polluted", "Severely polluted"]
COLOR = [None, "#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#99004C", "#7E0023"]

D0 = int(dt.datetime(2025, 6, 9, tzinfo=CST).timestamp() * 1000)  # a day of lookback
D1, D2, D3 = D0 + DAY, D0 + 2 * DAY, D0 + 3 * DAY

_state = {}


def iaqi(item, c):
    """(iaqi or None, status): formula (1) rounded up, exactly, on the concentration read as the
    decimal it prints as (1.3 mg/m3 of CO is IAQI 13, not 14 from the binary 1.3000...0444)."""
    bp = TABLE[item]
    if c < 0:
        return None, "negative"
    if c > bp[-1]:
        return (500, "above") if len(bp) == 8 else (None, "undefined")
    i = 0
    while i + 2 < len(bp) and c > bp[i + 1]:
        i += 1
    il, ih = IAQI_LEVELS[i], IAQI_LEVELS[i + 1]
    exact = il + Fraction(ih - il) * (Fraction(repr(c)) - bp[i]) / (bp[i + 1] - bp[i])
    return math.ceil(exact), "ok"


def level(aqi):
    for n, top in enumerate([50, 100, 150, 200, 300], start=1):
        if aqi <= top:
            return n
    return 6


# --- the data ---------------------------------------------------------------------------------


def _readings(r):
    """{(station, pollutant): [(ts, value, flag)]}: every reading written."""
    data = {}

    def hourly(station, p, day, value_of, flagged=()):
        out = data.setdefault((station, p), [])
        for h in range(24):
            out.append((day + h * HOUR, value_of(h), "M" if h in flagged else "N"))

    ranges = {"pm25": (10, 140), "pm10": (20, 240), "so2": (5, 60), "no2": (10, 110),
              "co": (0.3, 2.8), "o3": (20, 240)}

    def rand(p):
        lo, hi = ranges[p]
        return round(r.uniform(lo, hi), 1)

    for station in (S1, S2):
        for p in POLLUTANTS:
            hourly(station, p, D0, lambda h, p=p: rand(p))
    # Station 1, day 1: PM2.5 80 and PM10 164 every valid hour (IAQI 107 both: a tie); three
    # PM2.5 hours flagged M with a value that would show if they were counted; the rest low so
    # that the tie decides; one SO2 hour above 800.
    hourly(S1, "pm25", D1, lambda h: 500.0 if h in (2, 11, 19) else 80.0, flagged=(2, 11, 19))
    hourly(S1, "pm10", D1, lambda h: 164.0)
    hourly(S1, "so2", D1, lambda h: 900.0 if h == 14 else round(r.uniform(5, 40), 1),
           flagged=(3, 4))
    hourly(S1, "no2", D1, lambda h: round(r.uniform(10, 70), 1))
    hourly(S1, "co", D1, lambda h: round(r.uniform(0.2, 1.9), 1))
    hourly(S1, "o3", D1, lambda h: round(r.uniform(20, 95), 1))
    # Station 1, day 2: PM2.5 has five hours flagged M (19 valid: the day is null); O3 above 800
    # for ten hours (8-hour means above 800 from 15:00).
    hourly(S1, "pm25", D2, lambda h: rand("pm25"), flagged=(0, 5, 6, 7, 22))
    for p in ("pm10", "so2", "no2", "co"):
        hourly(S1, p, D2, lambda h, p=p: rand(p))
    hourly(S1, "o3", D2, lambda h: 850.0 + h if 8 <= h <= 17 else rand("o3"))
    # Station 2: hourly readings but PM2.5 of day 1 as minute readings: hours 3-5 with 40
    # minutes (invalid), hour 7 with 5 minutes flagged M (55 valid), hour 9 a single reading at
    # the hour's start (an hourly value), hour 10 a single reading at :30 (invalid).
    for day in (D1, D2):
        for p in POLLUTANTS:
            if not (p == "pm25" and day == D1):
                hourly(S2, p, day, lambda h, p=p: rand(p))
    out = data.setdefault((S2, "pm25"), [])
    for h in range(24):
        start = D1 + h * HOUR
        if h == 9:
            out.append((start, rand("pm25"), "N"))
            continue
        if h == 10:
            out.append((start + 30 * MINUTE, rand("pm25"), "N"))
            continue
        minutes = 40 if h in (3, 4, 5) else 60
        for m in range(minutes):
            flag = "M" if h == 7 and m in (1, 2, 3, 50, 51) else "N"
            out.append((start + m * MINUTE, rand("pm25"), flag))
    return data


def _setup():
    if _state:
        return _state
    srv = shared()
    r = rng("test_aqi")
    data = _readings(r)
    lines = []
    for (station, p), points in sorted(data.items()):
        for ts, value, flag in points:
            lines.append('%s,station=%s value=%r,flag="%s" %d' % (p, station, float(value), flag, ts))
    for k in range(0, len(lines), 5000):
        srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")
    _state.update(srv=srv, data=data)
    return _state


# --- the reference ------------------------------------------------------------------------------


def _hours(data, station, p):
    """{hour start: (valid, mean, minutes)} from the valid (N) readings."""
    by_hour = {}
    for ts, value, flag in data.get((station, p), []):
        if flag == "N":
            by_hour.setdefault(ts - (ts - D0) % HOUR, []).append((ts, value))
    out = {}
    for h, points in by_hour.items():
        minutes = len({ts // MINUTE for ts, _ in points})
        single = len(points) == 1 and points[0][0] - h < MINUTE
        out[h] = (minutes >= 45 or single, _mean([v for _, v in points]), minutes)
    return out


def _valid_values(hours, starts):
    return [hours[h][1] for h in starts if h in hours and hours[h][0]]


def _mean(values):
    # The exact mean of the doubles, rounded once: the decimal mean of decimal readings (24
    # times 0.2 is 0.2, where summing one by one gives 0.20000000000000007).
    return float(sum(Fraction(v) for v in values) / len(values))


def _row(cells, missing):
    """Fills aqi, level, category, color, primary from cells {col: (iaqi, value)}."""
    row = {"iaqi_" + c: None for c in COLUMNS}
    row.update({c: None for c in COLUMNS})
    for c, (i, v) in cells.items():
        row["iaqi_" + c] = i
        row[c] = v
    row.update(aqi=None, level=None, category=None, color=None, primary=None, category_en=None)
    if not missing:
        present = {c: i for c, (i, _) in cells.items() if i is not None}
        aqi = max(present.values())
        lv = level(aqi)
        row.update(aqi=aqi, level=lv, category=CATEGORY[lv], color=COLOR[lv],
                   category_en=CATEGORY_EN[lv])
        if aqi > 50:
            names = {"o3" if c.startswith("o3") else c for c, i in present.items() if i == aqi}
            row["primary"] = ",".join(p for p in POLLUTANTS if p in names)
    return row


def reference_daily(data, station, day):
    hours = {p: _hours(data, station, p) for p in POLLUTANTS}
    starts = [day + k * HOUR for k in range(24)]
    cells, missing = {}, 0
    for p in ("pm25", "pm10", "so2", "no2", "co"):
        values = _valid_values(hours[p], starts)
        if len(values) < 20:
            missing += 1
            continue
        c = _mean(values)
        cells[p] = (iaqi(p + "_24h", c)[0], c)
    means8 = []
    for end in range(8, 25):
        values = _valid_values(hours["o3"], starts[end - 8:end])
        if len(values) >= 6:
            means8.append(_mean(values))
    if len(means8) < 14:
        missing += 1
    else:
        c = max(means8)
        value, status = iaqi("o3_8h", c)
        cells["o3_8h"] = (value, c)
    values = _valid_values(hours["o3"], starts)
    if len(values) < 20:
        missing += 1
    else:
        cells["o3_1h"] = (iaqi("o3_1h", max(values))[0], max(values))
    return _row(cells, missing)


def reference_hourly(data, station, h):
    hours = {p: _hours(data, station, p) for p in POLLUTANTS}
    cells, missing = {}, 0
    for col, p, item in (("pm25", "pm25", "pm25_24h"), ("pm10", "pm10", "pm10_24h"),
                         ("no2", "no2", "no2_1h"), ("co", "co", "co_1h"),
                         ("o3_1h", "o3", "o3_1h")):
        hv = hours[p].get(h)
        if hv is None or not hv[0]:
            missing += 1
            continue
        cells[col] = (iaqi(item, hv[1])[0], hv[1])
    hv = hours["so2"].get(h)
    if hv is None or not hv[0]:
        missing += 1
    elif hv[1] <= 800:
        cells["so2"] = (iaqi("so2_1h", hv[1])[0], hv[1])
    else:
        values = _valid_values(hours["so2"], [h - k * HOUR for k in range(23, -1, -1)])
        if len(values) < 20:
            missing += 1
        else:
            c = _mean(values)
            cells["so2"] = (iaqi("so2_24h", c)[0], c)
    values = _valid_values(hours["o3"], [h - k * HOUR for k in range(7, -1, -1)])
    if len(values) < 6:
        missing += 1
    else:
        c = _mean(values)
        cells["o3_8h"] = (iaqi("o3_8h", c)[0], c)
    return _row(cells, missing)


# --- comparing ----------------------------------------------------------------------------------


def _rows(entry):
    return [dict(zip(entry["columns"], row)) for row in entry["values"]]


def _compare(got, expected, what):
    for key in ("aqi", "level", "category", "color", "primary", "category_en"):
        eq(got[key], expected[key], "%s %s" % (what, key))
    for c in COLUMNS:
        eq(got["iaqi_" + c], expected["iaqi_" + c], "%s iaqi_%s" % (what, c))
        if expected[c] is None:
            eq(got[c], None, "%s %s" % (what, c))
        else:
            near(got[c], expected[c], "%s %s" % (what, c), rel=1e-12)
    eq(got["standard"], "HJ 633-2012", "%s standard" % what)
    if expected["aqi"] is None:
        check(got["note"], "%s: a null AQI must say why (note)" % what)


def _aqi(srv, **params):
    status, doc = srv.get("aqi", **params)
    eq(status, 200, "GET /api/v1/aqi %r: status (%r)" % (params, doc))
    return doc


SELECT_BOTH = '{station="%s"},{station="%s"}' % (S1, S2)
EXPECTED_COLUMNS = (["time", "aqi", "level", "category", "color", "primary"]
                    + [n for c in COLUMNS for n in ("iaqi_" + c, c)]
                    + ["category_en", "standard", "note"])


def test_aqi_daily_against_reference():
    st = _setup()
    srv, data = st["srv"], st["data"]
    doc = _aqi(srv, select=SELECT_BOTH, from_="2025-06-10T00:00:00+08:00",
               to="2025-06-12T00:00:00+08:00", window="1d", tz="Asia/Shanghai")
    eq(len(doc["series"]), 2, "series (one per station)")
    for entry, station in zip(doc["series"], (S1, S2)):
        eq(entry["metric"], "aqi", "metric")
        eq(entry["tags"], {"station": station}, "tags")
        eq(entry["columns"], EXPECTED_COLUMNS, "columns")
        rows = _rows(entry)
        eq([r["time"] for r in rows], [D1, D2], "%s day starts" % station)
        for row, day in zip(rows, (D1, D2)):
            _compare(row, reference_daily(data, station, day), "%s day %d" % (station, day))
    s1 = _rows(doc["series"][0])
    # The worked checks and the tie.
    eq((s1[0]["pm25"], s1[0]["iaqi_pm25"]), (80.0, 107), "station 1 day 1 PM2.5")
    eq((s1[0]["pm10"], s1[0]["iaqi_pm10"]), (164.0, 107), "station 1 day 1 PM10")
    eq((s1[0]["aqi"], s1[0]["primary"], s1[0]["category"]), (107, "pm25,pm10", "轻度污染"),
       "station 1 day 1 AQI and primary pollutants")
    # Too few valid PM2.5 hours: null with the reason.
    eq(s1[1]["aqi"], None, "station 1 day 2 AQI")
    eq(s1[1]["pm25"], None, "station 1 day 2 PM2.5")
    check("pm25: 19 valid hourly values of 24 (20 needed)" in (s1[1]["note"] or ""),
          "station 1 day 2 note: %r" % s1[1]["note"])
    # The counts of readings used: station 1 PM2.5 read 48 hourly readings (days 1 and 2), 8 M.
    eq(doc["series"][0]["readings"]["pm25"], {"valid": 40, "invalid": 8}, "station 1 pm25 counts")
    eq(doc["series"][0]["review_marks"], [], "review marks")
    meta = doc["aqi"]
    eq((meta["standard"], meta["standards_used"], meta["window"], meta["tz"]),
       ("auto", ["HJ 633-2012"], "1d", "Asia/Shanghai"), "metadata")
    eq((meta["from"], meta["to"]), (D1, D3), "metadata range")


def test_aqi_hourly_against_reference():
    st = _setup()
    srv, data = st["srv"], st["data"]
    doc = _aqi(srv, select=SELECT_BOTH, from_=str(D1), to=str(D3), window="1h")
    for entry, station in zip(doc["series"], (S1, S2)):
        rows = _rows(entry)
        eq([r["time"] for r in rows], [D1 + k * HOUR for k in range(48)], "%s hours" % station)
        for row in rows:
            _compare(row, reference_hourly(data, station, row["time"]),
                     "%s hour %d" % (station, row["time"]))
    s1 = _rows(doc["series"][0])
    s2 = _rows(doc["series"][1])
    # SO2 above 800 at 14:00 of day 1: its 24-hour mean fed the IAQI.
    check("above 800, IAQI from the 24-hour mean" in (s1[14]["note"] or ""),
          "SO2 note: %r" % s1[14]["note"])
    check(s1[14]["so2"] < 800, "SO2 at 14:00 is the 24-hour mean, %r" % s1[14]["so2"])
    # O3 8-hour means above 800 on day 2 from 15:00: no 8-hour IAQI, ozone by its 1-hour IAQI.
    eq(s1[24 + 15]["iaqi_o3_8h"], None, "O3 8-hour IAQI above 800")
    check(s1[24 + 15]["aqi"] is not None and s1[24 + 15]["primary"] == "o3",
          "O3 decides by its 1-hour IAQI: %r" % (s1[24 + 15],))
    # Station 2: the 40-minute hours are null, the single hourly reading counts, the one at :30
    # does not.
    for h in (3, 4, 5, 10):
        eq(s2[h]["pm25"], None, "station 2 PM2.5 at hour %d" % h)
        eq(s2[h]["aqi"], None, "station 2 AQI at hour %d" % h)
    check("pm25: valid readings in 40 of 60 minutes (45 needed)" in s2[3]["note"],
          "note: %r" % s2[3]["note"])
    check(s2[9]["pm25"] is not None and s2[7]["pm25"] is not None, "hours 7 and 9 are valid")


def test_aqi_csv_and_same_bytes():
    st = _setup()
    srv = st["srv"]
    params = {"select": SELECT_BOTH, "from": str(D1), "to": str(D3), "window": "1d"}
    status, headers, body = srv.request("GET", "/api/v1/aqi", params=dict(params, format="csv"))
    eq(status, 200, "CSV status")
    check(headers.get("content-type", "").startswith("text/csv"), "CSV content type")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    eq(rows[0], ["metric", "tags"] + EXPECTED_COLUMNS, "CSV header")
    eq(len(rows), 5, "CSV lines (header and 4 rows)")
    doc = _aqi(srv, **{("from_" if k == "from" else k): v for k, v in params.items()})
    json_rows = [(e["tags"]["station"], row) for e in doc["series"] for row in _rows(e)]
    for line, (station, row) in zip(rows[1:], json_rows):
        eq(line[:2], ["aqi", "station=" + station], "CSV metric and tags")
        for name, cell in zip(EXPECTED_COLUMNS, line[2:]):
            want = row[name]
            if want is None:
                eq(cell, "", "CSV %s" % name)
            elif isinstance(want, float):
                near(float(cell), want, "CSV %s" % name, rel=0, abs_tol=0)
            else:
                eq(cell, str(want), "CSV %s" % name)
    # Same request, same data: same bytes (JSON and CSV).
    for fmt in ("json", "csv"):
        first = srv.request("GET", "/api/v1/aqi", params=dict(params, format=fmt))[2]
        again = srv.request("GET", "/api/v1/aqi", params=dict(params, format=fmt))[2]
        check(first == again, "the same %s request gave different bytes" % fmt)


def test_aqi_bad_parameters_and_2026():
    srv = _setup()["srv"]
    base = {"select": '{station="%s"}' % S1, "from_": str(D1), "to": str(D2)}
    cases = [
        (dict(base, window="2h"), "window"),
        (dict(base, standard="2013"), "standard"),
        (dict(base, tz="Mars/Base"), "tz"),
        (dict(base, select="station=s1"), "select"),
        (dict(base, select="{}"), "select"),
        ({k: v for k, v in base.items() if k != "from_"}, "from"),
        ({k: v for k, v in base.items() if k != "to"}, "to"),
        (dict(base, from_=str(D2), to=str(D1)), "from"),
        (dict(base, format="msgpack"), "format"),
        (dict(base, bogus="1"), "bogus"),
        (dict(base, standard="2026"), "standard"),
        (dict(base, from_="2026-03-01T00:00:00+08:00", to="2026-03-02T00:00:00+08:00"),
         "standard"),
    ]
    for params, name in cases:
        status, doc = srv.get("aqi", **params)
        eq(status, 400, "status for %r" % (params,))
        check(name in error_message(doc), "error for %r names %s: %r"
              % (params, name, error_message(doc)))
    status, doc = srv.get("aqi", **dict(base, standard="2026"))
    check("HJ 633-2026" in error_message(doc), "the 2026 error says why: %r" % error_message(doc))
    # The day before the switch is still HJ 633-2012 under auto; standard=2012 computes later days.
    ok = _aqi(srv, **dict(base, from_="2026-02-28T00:00:00+08:00", to="2026-03-01T00:00:00+08:00"))
    eq(ok["aqi"]["standards_used"], ["HJ 633-2012"], "auto before 2026-03-01")
    _aqi(srv, **dict(base, from_="2026-03-01T00:00:00+08:00", to="2026-03-02T00:00:00+08:00",
                     standard="2012"))


def test_aqi_sites():
    """site= and sites= through a sites file: a site's tag conditions and metric names pick its
    series (one series per site, tagged with the site id); water sites are not air sites."""
    import json
    import os
    import tempfile

    from harness import Server

    st = _setup()
    data = st["data"]
    sites = {"sites": [
        {"id": "air-1", "kind": "air", "name": "One", "district": "d-aqi",
         "select": {"station": S1}},
        # Station 1's readings again under another station tag, PM2.5 under another metric.
        {"id": "air-2", "kind": "air", "name": "Two", "district": "d-aqi",
         "select": {"station": "aqi-e2e-m"}, "metrics": {"pm25": "pm2_5"}},
        {"id": "air-3", "kind": "air", "name": "Three", "district": "d-other",
         "select": {"station": S2}},
        {"id": "river-1", "kind": "river", "name": "R", "district": "d-aqi",
         "select": {"station": "r1"}, "target": "III"},
    ]}
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(sites, f)
    srv = Server(args=["--sites", path], name="aqi-sites").start()
    try:
        lines = []
        for (station, p), points in sorted(data.items()):
            copies = [(station, p)]
            if station == S1:
                copies.append(("aqi-e2e-m", "pm2_5" if p == "pm25" else p))
            for tag, metric in copies:
                for ts, value, flag in points:
                    lines.append('%s,station=%s value=%r,flag="%s" %d'
                                 % (metric, tag, float(value), flag, ts))
        for k in range(0, len(lines), 5000):
            srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")
        span = {"from_": str(D1), "to": str(D3), "window": "1d"}
        one = _aqi(srv, site="air-1", **span)
        eq([e["tags"] for e in one["series"]], [{"site": "air-1", "station": S1}], "site= tags")
        district = _aqi(srv, sites="d-aqi", **span)
        eq([e["tags"] for e in district["series"]],
           [{"site": "air-1", "station": S1}, {"site": "air-2", "station": "aqi-e2e-m"}],
           "sites=d-aqi: its air sites in file order")
        for entry in district["series"]:
            for row, day in zip(_rows(entry), (D1, D2)):
                _compare(row, reference_daily(data, S1, day), "%s day %d" % (entry["tags"], day))
        every = _aqi(srv, sites="all", **span)
        eq([e["tags"]["site"] for e in every["series"]], ["air-1", "air-2", "air-3"], "sites=all")
        for params, name in ((dict(span, site="river-1"), "site"),
                             (dict(span, site="nope"), "site"),
                             (dict(span, sites="d-none"), "sites"),
                             (dict(span, site="air-1", select='{station="x"}'), "site")):
            status, doc = srv.get("aqi", **params)
            eq(status, 400, "status for %r" % (params,))
            check(name in error_message(doc), "error names %s: %r" % (name, error_message(doc)))
        # Without a sites file, site= says so.
        status, doc = st["srv"].get("aqi", site="air-1", **span)
        eq(status, 400, "site= without a sites file")
        check("sites file" in error_message(doc), "message: %r" % error_message(doc))
    finally:
        srv.stop()
        srv.cleanup()
        os.unlink(path)
