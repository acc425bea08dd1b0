# InfluxQL at /query and /ping, as Grafana's InfluxDB data source and InfluxDB 1.x clients use
# them. Known readings are written; expected means, counts and raw rows are computed here in
# Python, and the query strings Grafana's backend builds (the forms of its query builder tests:
# `SELECT mean("value") FROM "rp"."m" WHERE ("tag" = 'v') AND time >= <ms>ms and time <= <ms>ms
# GROUP BY time(5m), "tag" fill(null)`, sent as GET or as a POST form with db and epoch=ms) are
# replayed and their answers compared with /api/v1/query's.

import json
import urllib.parse

from harness import Server, check, eq

T0 = 1735689600000  # 2025-01-01T00:00:00Z
STEP = 60000
STATIONS = {"a": "north", "b": "north", "c": "south"}


def value_of(station, i):
    return round({"a": 10.0, "b": 20.0, "c": 40.0}[station] + (i % 7) * 0.5, 1)


def readings():
    """station -> [(t, v)] for 60 readings a station at 1-minute steps (c skips every third)."""
    out = {}
    for s in STATIONS:
        out[s] = [(T0 + i * STEP, value_of(s, i)) for i in range(60) if not (s == "c" and i % 3 == 0)]
    return out


def start():
    server = Server(sync="none", name="influxql").start()
    lines = []
    for s, rows in readings().items():
        for t, v in rows:
            lines.append("pm25,district=%s,station=%s value=%r %d" % (STATIONS[s], s, v, t))
            lines.append("weather,station=%s temp=%r %d" % (s, v / 2, t))
    server.write_ok("\n".join(lines), precision="ms")
    return server


def influx(server, q, method="GET", **params):
    params = dict(params)
    if method == "GET":
        params["q"] = q
        status, hdrs, data = server.request("GET", "/query", params=params)
    else:
        body = urllib.parse.urlencode({"q": q}).encode()
        status, hdrs, data = server.request(
            "POST", "/query", body=body, params=params,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    return status, hdrs, json.loads(data.decode())


def results(server, q, **params):
    status, _, doc = influx(server, q, **params)
    eq(status, 200, "status of %s" % q)
    return doc["results"]


def windows(rows, width, from_ms, to_ms):
    """Reference: (window start -> list of values) for readings in [from, to)."""
    out = {}
    for t, v in rows:
        if from_ms <= t < to_ms:
            out.setdefault(t - t % width, []).append(v)
    return out


def test_grafana_time_series_queries():
    server = start()
    try:
        data = readings()
        frm, to = T0, T0 + 59 * STEP  # Grafana's "time <= to" is inclusive
        width = 5 * STEP
        for method in ("GET", "POST"):
            q = ('SELECT mean("value") FROM "autogen"."pm25" WHERE ("station" = \'a\') AND '
                 'time >= %dms and time <= %dms GROUP BY time(5m) fill(null)' % (frm, to))
            res = results(server, q, method=method, db="mydb", epoch="ms")
            want = windows(data["a"], width, frm, to + 1)
            expect = [[w, sum(v) / len(v)] for w, v in sorted(want.items())]
            got = res[0]["series"]
            eq([s["name"] for s in got], ["pm25"], "one series named by the measurement")
            eq(got[0]["columns"], ["time", "mean"], "columns")
            eq(len(got[0]["values"]), len(expect), "windows")
            for (gt, gv), (et, ev) in zip(got[0]["values"], expect):
                eq(gt, et, "window start")
                check(abs(gv - ev) < 1e-9, "mean at %d: %r vs %r" % (gt, gv, ev))
            # The same numbers as /api/v1/query with the equivalent parameters.
            doc = server.ok("query", series='pm25{station="a"}', from_=frm, to=to + 1,
                            window="5m", agg="mean", fill="null")
            eq(got[0]["values"], doc["series"][0]["values"], "matches /api/v1/query")

        # GROUP BY a tag: one series per station, merged over districts; count is an integer.
        q = ('SELECT mean("value"), count("value") FROM "pm25" WHERE time >= %dms and '
             'time <= %dms GROUP BY time(10m), "station" fill(none)' % (frm, to))
        got = results(server, q, epoch="ms")[0]["series"]
        eq([s["tags"] for s in got], [{"station": s} for s in sorted(STATIONS)], "tag series")
        for s in got:
            want = windows(data[s["tags"]["station"]], 10 * STEP, frm, to + 1)
            eq([[t, c] for t, _, c in s["values"]],
               [[w, len(v)] for w, v in sorted(want.items())], "counts of %s" % s["tags"])
        doc = server.ok("query", series="pm25", from_=frm, to=to + 1, window="10m",
                        agg="mean,count", group_by="station")
        eq([s["values"] for s in got], [s["values"] for s in doc["series"]],
           "GROUP BY tag matches /api/v1/query group_by")

        # Without a tag in GROUP BY every series merges into one (north: a and b).
        q = ('SELECT max("value"), min("value") FROM "pm25" WHERE "district" = \'north\' AND '
             'time >= %dms and time < %dms' % (frm, frm + 30 * STEP))
        got = results(server, q, epoch="ms")[0]["series"][0]
        vals = [v for s in ("a", "b") for t, v in data[s] if t < frm + 30 * STEP]
        eq(got["values"], [[frm, max(vals), min(vals)]], "aggregate over the whole range")
        # Field other than "value": measurement weather, field temp is metric weather_temp.
        q = ('SELECT last("temp") FROM "weather" WHERE "station" = \'c\' AND time >= %dms '
             'and time <= %dms' % (frm, to))
        got = results(server, q, epoch="ms")[0]["series"][0]
        eq(got["values"], [[frm, data["c"][-1][1] / 2]], "weather temp last")
    finally:
        server.stop()
        server.cleanup()


def test_raw_queries_order_limit_and_time_formats():
    server = start()
    try:
        data = readings()
        merged = sorted([(t, v) for s in ("a", "b") for t, v in data[s]], key=lambda r: r[0])
        q = ('SELECT "value" FROM "pm25" WHERE "district" = \'north\' AND time >= %dms '
             'ORDER BY time DESC LIMIT 5' % T0)
        got = results(server, q, epoch="ms")[0]["series"][0]
        # Equal times keep series order (a before b); DESC reverses that order too.
        eq(got["values"], [list(r) for r in list(reversed(merged))[:5]], "raw DESC LIMIT 5")
        q = ("SELECT \"value\" FROM pm25 WHERE station = 'a' AND time >= '2025-01-01T00:00:00Z'"
             " AND time < '2025-01-01T00:02:00Z'")
        got = results(server, q)[0]["series"][0]
        eq(got["values"], [["2025-01-01T00:00:00Z", data["a"][0][1]],
                           ["2025-01-01T00:01:00Z", data["a"][1][1]]], "RFC 3339 times")
        got = results(server, q + " tz('Asia/Shanghai')")[0]["series"][0]
        eq(got["values"][0][0], "2025-01-01T08:00:00+08:00", "tz() renders local times")
        got = results(server, q, epoch="s")[0]["series"][0]
        eq(got["values"][1][0], (T0 + STEP) // 1000, "epoch=s")
        got = results(server, q, epoch="ns")[0]["series"][0]
        eq(got["values"][1][0], (T0 + STEP) * 1000000, "epoch=ns")
        # tz() windows: a day in Shanghai starts at 16:00 UTC the day before.
        q = ('SELECT count("value") FROM "pm25" WHERE "station" = \'a\' AND time >= %dms and '
             'time <= %dms GROUP BY time(1d) tz(\'Asia/Shanghai\')' % (T0, T0 + 59 * STEP))
        got = results(server, q, epoch="ms")[0]["series"][0]
        eq(got["values"], [[T0 - 8 * 3600000, 60]], "tz day window")
        # now() - 7d bounds: the data (2025) is older than a week ago, so nothing.
        q = 'SELECT mean("value") FROM "pm25" WHERE time > now() - 7d GROUP BY time(1h)'
        eq(results(server, q)[0], {"statement_id": 0}, "empty result has no series")
    finally:
        server.stop()
        server.cleanup()


def test_show_statements_and_errors():
    server = start()
    try:
        res = results(server, 'SHOW MEASUREMENTS; SHOW TAG KEYS FROM "pm25"; '
                              'SHOW TAG VALUES FROM "pm25" WITH KEY = "station"; '
                              'SHOW TAG VALUES WITH KEY IN ("district"); SHOW FIELD KEYS FROM '
                              '"pm25"; SHOW DATABASES; SHOW RETENTION POLICIES ON "mydb"',
                      db="mydb")
        eq([r["statement_id"] for r in res], list(range(7)), "statement ids")
        eq(res[0]["series"], [{"name": "measurements", "columns": ["name"],
                               "values": [["pm25"], ["weather_temp"]]}], "measurements")
        eq(res[1]["series"][0]["values"], [["district"], ["station"]], "tag keys")
        eq(res[2]["series"][0], {"name": "pm25", "columns": ["key", "value"],
                                 "values": [["station", s] for s in sorted(STATIONS)]},
           "tag values")
        eq(res[3]["series"][0]["values"], [["district", "north"], ["district", "south"]],
           "KEY IN over every measurement having it")
        eq(res[4]["series"][0]["values"], [["value", "float"]], "field keys")
        eq(res[5]["series"][0]["values"], [["jialing"], ["mydb"]], "databases")
        eq(res[6]["series"][0]["values"][0][0], "autogen", "retention policy")
        res = results(server, 'SELECT mean("value") FROM "pm25" WHERE "station" = \'a\' OR '
                              '"station" = \'b\'; SELECT * FROM pm25; DROP MEASUREMENT pm25; '
                              'SELECT mode("value") FROM pm25; SHOW SERIES')
        for r, word in zip(res, ["OR", "SELECT *", "DROP", "mode()", "SHOW SERIES"]):
            check("error" in r and "series" not in r, "%s is an error: %r" % (word, r))
        check("OR" in res[0]["error"] and "mode" in res[3]["error"], "names it: %r" % res)
        status, _, doc = influx(server, "")
        eq(status, 400, "missing q")
        status, _, doc = influx(server, "SHOW DATABASES", epoch="week")
        eq(status, 400, "bad epoch")
        # node-influx sends these beside q.
        status, _, doc = influx(server, "SHOW DATABASES", u="", p="", rp="", params="{}")
        eq(status, 200, "node-influx parameters accepted")
        status, hdrs, _ = server.request("GET", "/ping")
        eq(status, 204, "/ping")
        check(hdrs.get("x-influxdb-version", "").startswith("1."), "version header %r" % hdrs)
        status, _, data = server.request("GET", "/ping", params={"verbose": "true"})
        eq((status, "version" in json.loads(data)), (200, True), "/ping?verbose=true")
    finally:
        server.stop()
        server.cleanup()
