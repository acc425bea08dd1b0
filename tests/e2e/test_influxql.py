# InfluxQL at /query and /ping, as Grafana's InfluxDB data source and InfluxDB 1.x clients use
# them. Known readings are written; expected means, counts and raw rows are computed here in
# Python, and the query strings Grafana's backend builds (the forms of its query builder tests:
# `SELECT mean("value") FROM "rp"."m" WHERE ("tag" = 'v') AND time >= <ms>ms and time <= <ms>ms
# GROUP BY time(5m), "tag" fill(null)`, sent as GET or as a POST form with db and epoch=ms) are
# replayed and their answers compared with /api/v1/query's. WHERE clauses with OR and with the
# regex alternations Grafana writes for multi-value template variables (`"station" =~
# /^(a\.b|c)$/`) are checked against references computed here from the readings written, a
# series matched by two alternatives counted once.

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
        # An aggregate without GROUP BY time() and without an upper bound (a stat panel, or
        # node-influx): one row at the lower bound, over every reading up to now().
        q = ('SELECT mean("value"), count("value") FROM "pm25" WHERE "station" = \'a\' '
             'AND time >= %dms' % T0)
        got = results(server, q, epoch="ms")[0]["series"][0]
        values_a = [v for _, v in data["a"]]
        eq(got["columns"], ["time", "mean", "count"], "columns of an ungrouped aggregate")
        eq(len(got["values"]), 1, "one row")
        eq(got["values"][0][0], T0, "row time is the lower bound")
        check(abs(got["values"][0][1] - sum(values_a) / len(values_a)) < 1e-9, "mean of station a")
        eq(got["values"][0][2], len(values_a), "count of station a")
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
                              'time > now() - 1h; SELECT * FROM pm25; DROP MEASUREMENT pm25; '
                              'SELECT mode("value") FROM pm25; SHOW SERIES')
        for r, word in zip(res, ["OR time", "SELECT *", "DROP", "mode()", "SHOW SERIES"]):
            check("error" in r and "series" not in r, "%s is an error: %r" % (word, r))
        check("OR over time" in res[0]["error"] and "mode" in res[3]["error"],
              "names it: %r" % res)
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


# Extra series for the OR tests: a station whose name has a dot, and a decoy that an unescaped
# regex "x.y" would match but the literal does not.
EXTRA = {"x.y": "east", "xzy": "east"}


def extra_readings():
    return {s: [(T0 + i * STEP, 100.0 + k * 10 + i % 5) for i in range(0, 60, 2)]
            for k, s in enumerate(sorted(EXTRA))}


def start_with_extra():
    server = start()
    lines = ["pm25,district=%s,station=%s value=%r %d" % (EXTRA[s], s, v, t)
             for s, rows in extra_readings().items() for t, v in rows]
    server.write_ok("\n".join(lines), precision="ms")
    return server


def all_readings():
    data = readings()
    data.update(extra_readings())
    return data


DISTRICT = dict(STATIONS, **EXTRA)


def grouped_means(data, stations, width, frm, to):
    """Reference: [(tags, [[window, mean], ...])] per station, windows with readings only."""
    out = []
    for s in sorted(stations):
        w = windows(data[s], width, frm, to)
        out.append(({"station": s}, [[t, sum(v) / len(v)] for t, v in sorted(w.items())]))
    return out


def check_series(got, want, what):
    eq([g.get("tags") for g in got], [t for t, _ in want], "%s: series" % what)
    for g, (tags, rows) in zip(got, want):
        eq(len(g["values"]), len(rows), "%s: rows of %s" % (what, tags))
        for (gt, gv), (et, ev) in zip(g["values"], rows):
            eq(gt, et, "%s: time" % what)
            check(gv is not None and abs(gv - ev) < 1e-9,
                  "%s %s at %d: %r vs %r" % (what, tags, gt, gv, ev))


def test_where_or_and_grafana_regex_alternations():
    server = start_with_extra()
    try:
        data = all_readings()
        frm, to = T0, T0 + 59 * STEP
        width = 5 * STEP

        # Grafana's query builder ORing two values of a tag.
        q = ('SELECT mean("value") FROM "autogen"."pm25" WHERE ("station" = \'a\' OR '
             '"station" = \'c\') AND time >= %dms and time <= %dms GROUP BY time(5m), '
             '"station" fill(none)' % (frm, to))
        for method in ("GET", "POST"):
            got = results(server, q, method=method, db="mydb", epoch="ms")[0]["series"]
            check_series(got, grouped_means(data, ["a", "c"], width, frm, to + 1), "OR")

        # A multi-value template variable: Grafana escapes the dot in x.y.
        q = ('SELECT mean("value") FROM "autogen"."pm25" WHERE ("station" =~ /^(x\\.y|c)$/) '
             'AND time >= %dms and time <= %dms GROUP BY time(5m), "station" fill(none)'
             % (frm, to))
        got = results(server, q, db="mydb", epoch="ms")[0]["series"]
        check_series(got, grouped_means(data, ["c", "x.y"], width, frm, to + 1), "=~ alternation")
        # !~ of the same: every other station.
        q = q.replace("=~", "!~")
        got = results(server, q, db="mydb", epoch="ms")[0]["series"]
        check_series(got, grouped_means(data, ["a", "b", "xzy"], width, frm, to + 1),
                     "!~ alternation")

        # Station a matches both alternatives: it is counted once in the merged count.
        q = ('SELECT count("value"), sum("value") FROM "pm25" WHERE ("station" = \'a\' OR '
             '"district" = \'north\' OR "station" =~ /^(a|x\\.y)$/) AND time >= %dms and '
             'time <= %dms GROUP BY time(10m) fill(none)' % (frm, to))
        got = results(server, q, epoch="ms")[0]["series"]
        eq(len(got), 1, "one merged series")
        merged = {}
        for s in ("a", "b", "x.y"):
            for t, v in data[s]:
                if frm <= t <= to:
                    merged.setdefault(t - t % (10 * STEP), []).append(v)
        want = [[t, len(v), sum(v)] for t, v in sorted(merged.items())]
        eq([[t, c] for t, c, _ in got[0]["values"]], [[t, c] for t, c, _ in want],
           "counts over the union")
        for (_, _, gs), (_, _, es) in zip(got[0]["values"], want):
            check(abs(gs - es) < 1e-9, "sum %r vs %r" % (gs, es))

        # The same union by tag: one series per station, a once.
        q = ('SELECT count("value") FROM "pm25" WHERE ("station" = \'a\' OR "district" = '
             '\'north\') AND time >= %dms and time <= %dms GROUP BY "station"' % (frm, to))
        got = results(server, q, epoch="ms")[0]["series"]
        eq([(g["tags"], g["values"]) for g in got],
           [({"station": s}, [[frm, len(data[s])]]) for s in ("a", "b")], "count per station")

        # Raw rows over the union, newest first: a and b merged, each reading once.
        q = ('SELECT "value" FROM "pm25" WHERE ("station" = \'a\' OR "district" = \'north\') '
             'AND time >= %dms ORDER BY time DESC LIMIT 6' % frm)
        got = results(server, q, epoch="ms")[0]["series"]
        rows = sorted([(t, v) for s in ("a", "b") for t, v in data[s]], key=lambda r: r[0])
        eq(got[0]["values"], [list(r) for r in list(reversed(rows))[:6]], "raw rows over OR")

        # Refusals name what is not supported.
        too_many = "|".join("v%d" % i for i in range(33))
        res = results(server, 'SELECT "value" FROM pm25 WHERE ("station" = \'a\' OR time > '
                              'now() - 1h); SELECT "value" FROM pm25 WHERE "station" =~ /^a.*$/; '
                              'SELECT "value" FROM pm25 WHERE "station" =~ /^(%s)$/' % too_many)
        for r in res:
            check("error" in r and "series" not in r, "an error: %r" % r)
        check("OR over time" in res[0]["error"], "names OR over time: %r" % res[0])
        check("/^a.*$/" in res[1]["error"], "names the regex: %r" % res[1])
        check("at most 32" in res[2]["error"], "names the limit: %r" % res[2])
    finally:
        server.stop()
        server.cleanup()
