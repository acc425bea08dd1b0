# GET /api/v1/stations end to end: three stations over two days, written by line protocol:
# - s1 (north): pm25 every 5 min and pm10 every 10 min, both with a 7-hour outage, and pm25
#   readings in the hour before the range (they carry into it);
# - s2 (north): pm25 hourly, a run of readings flagged M and one hour invalidated by a review mark;
# - s3 (south): pm25 every 15 min, silent for the last 18 hours;
# and a series without a station tag. Every cell is compared with a reference written here from
# the definitions (README.md, "Station health"), computed differently from the server (the exact
# union of every reading's up-interval, readings before the range included), with
# the server's --offline-after 2h and with offline_after=0 (three times the cadence); per station
# and by=district; CSV holds the same cells; bad parameters are 400s naming the parameter.

import csv
import io
import json

from harness import Server, check, eq, near

T0 = 1740787200000  # 2025-03-01T00:00:00Z
MINUTE = 60000
HOUR = 60 * MINUTE
FROM, TO = T0, T0 + 48 * HOUR
REVIEW = (T0 + 30 * HOUR, T0 + 33 * HOUR)  # s2's readings here are invalid by review

COLUMNS = ["last", "online", "online_rate", "capture_rate", "valid_rate", "cadence_ms",
           "readings", "valid_readings", "expected"]
GROUP_COLUMNS = ["last", "stations", "online", "offline", "online_rate", "capture_rate",
                 "valid_rate", "readings", "valid_readings", "expected"]


def _data():
    """{(metric, station, district): [(ts, flag)]}; station None: no station tag."""
    data = {}
    s1 = []
    for t in range(T0 - HOUR, TO, 5 * MINUTE):
        if T0 + 10 * HOUR <= t < T0 + 17 * HOUR:
            continue  # the outage
        s1.append((t, "N"))
    data[("pm25", "s1", "north")] = s1
    data[("pm10", "s1", "north")] = [(t, "N") for t in range(T0, TO, 10 * MINUTE)
                                     if not T0 + 10 * HOUR <= t < T0 + 17 * HOUR]
    data[("pm25", "s2", "north")] = [
        (t, "M" if T0 + 5 * HOUR <= t < T0 + 9 * HOUR else "N") for t in range(T0, TO, HOUR)]
    data[("pm25", "s3", "south")] = [(t, "N") for t in range(T0, T0 + 30 * HOUR, 15 * MINUTE)]
    data[("pm25", None, None)] = [(t, "N") for t in range(T0, TO, HOUR)]
    return data


def _lines(data):
    out = []
    for (metric, station, district), readings in data.items():
        tags = "site=x" if station is None else "district=%s,station=%s" % (district, station)
        for i, (t, flag) in enumerate(readings):
            out.append('%s,%s value=%d,flag="%s" %d' % (metric, tags, i % 50, flag, t))
    return out


# ---- reference ---------------------------------------------------------------------------


def _cadence(times):
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    return gaps[(len(gaps) - 1) // 2] if gaps else None


def _union_length(intervals):
    total, end = 0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def _valid(station, t, flag):
    if station == "s2" and REVIEW[0] <= t < REVIEW[1]:
        return False
    return flag == "N"


def _reference(data, offline_after):
    stations = {}
    for (metric, station, district), readings in data.items():
        if station is None:
            continue
        st = stations.setdefault(station, {"district": district, "intervals": [], "last": None,
                                           "online": False, "readings": 0, "valid": 0,
                                           "cad_readings": 0, "cad_valid": 0, "expected": 0.0,
                                           "cadences": []})
        inside = [(t, f) for t, f in readings if FROM <= t < TO]
        before_to = [t for t, _ in readings if t < TO]
        cad = _cadence([t for t, _ in inside])
        off = offline_after if offline_after else (3 * cad if cad else 0)
        valid = sum(1 for t, f in inside if _valid(station, t, f))
        st["readings"] += len(inside)
        st["valid"] += valid
        if cad:
            st["cadences"].append(cad)
            st["cad_readings"] += len(inside)
            st["cad_valid"] += valid
            st["expected"] += (TO - FROM) / cad
        if before_to:
            last = max(before_to)
            st["last"] = last if st["last"] is None else max(st["last"], last)
            if off and last + off > TO:
                st["online"] = True
        for t in before_to:
            a, b = max(t, FROM), min(t + off, TO)
            if off and a < b:
                st["intervals"].append((a, b))
    rows = {}
    for name, st in stations.items():
        has = bool(st["cadences"])
        rows[name] = {
            "district": st["district"],
            "last": st["last"],
            "online": st["online"],
            "online_rate": _union_length(st["intervals"]) / (TO - FROM),
            "capture_rate": min(1.0, st["cad_readings"] / st["expected"]) if has else None,
            "valid_rate": min(1.0, st["cad_valid"] / st["expected"]) if has else None,
            "cadence_ms": min(st["cadences"]) if has else None,
            "readings": st["readings"],
            "valid_readings": st["valid"],
            "expected": st["expected"],
        }
    return rows


def _group_reference(rows):
    groups = {}
    for row in rows.values():
        groups.setdefault(row["district"], []).append(row)
    out = {}
    for district, members in groups.items():
        caps = [m["capture_rate"] for m in members if m["capture_rate"] is not None]
        vals = [m["valid_rate"] for m in members if m["valid_rate"] is not None]
        online = sum(1 for m in members if m["online"])
        out[district] = {
            "last": max(m["last"] for m in members if m["last"] is not None),
            "stations": len(members), "online": online, "offline": len(members) - online,
            "online_rate": sum(m["online_rate"] for m in members) / len(members),
            "capture_rate": sum(caps) / len(caps) if caps else None,
            "valid_rate": sum(vals) / len(vals) if vals else None,
            "readings": sum(m["readings"] for m in members),
            "valid_readings": sum(m["valid_readings"] for m in members),
            "expected": sum(m["expected"] for m in members),
        }
    return out


def _compare(doc, want, columns, metric, key, what):
    got = {}
    for s in doc["series"]:
        eq(s["metric"], metric, what + ": metric")
        eq(s["columns"], columns, what + ": columns")
        eq(len(s["values"]), 1, what + ": rows of %r" % s["tags"])
        got[s["tags"].get(key)] = (s["tags"], dict(zip(columns, s["values"][0])))
    eq(sorted(got), sorted(want), what + ": which " + key)
    for name, expected in want.items():
        tags, cells = got[name]
        for column in columns:
            g, w = cells[column], expected[column]
            label = "%s: %s of %s" % (what, column, name)
            if isinstance(w, float):
                near(g, w, label, rel=1e-12, abs_tol=1e-12)
            else:
                eq(g, w, label)
    return got


def test_stations():
    data = _data()
    srv = Server(args=["--offline-after", "2h"], name="stations")
    srv.start()
    try:
        lines = _lines(data)
        for k in range(0, len(lines), 2000):
            srv.write_ok("\n".join(lines[k:k + 2000]), precision="ms")
        body = json.dumps({"series": 'pm25{station="s2"}', "from": REVIEW[0], "to": REVIEW[1],
                           "valid": False, "reason": "analyser drift"}).encode()
        status, _, answer = srv.request("POST", "/api/v1/review", body=body,
                                        headers={"Content-Type": "application/json"})
        check(status in (200, 201), "review mark: %d %r" % (status, answer[:200]))

        # The server's --offline-after 2h.
        want = _reference(data, 2 * HOUR)
        check(want["s1"]["online_rate"] < 1 and want["s3"]["online"] is False
              and want["s1"]["online"] is True, "the data has an outage and a silent station")
        check(want["s2"]["valid_rate"] < want["s2"]["capture_rate"], "s2 has invalid readings")
        doc = srv.ok("stations", from_=FROM, to=TO)
        got = _compare(doc, want, COLUMNS, "station_health", "station", "offline_after 2h")
        eq(got["s1"][0], {"district": "north", "station": "s1"}, "tags of s1")

        # Three times each series' cadence.
        want0 = _reference(data, 0)
        doc0 = srv.ok("stations", from_=FROM, to=TO, offline_after="0")
        _compare(doc0, want0, COLUMNS, "station_health", "station", "offline_after 0")
        check(want0["s1"]["online_rate"] != want["s1"]["online_rate"],
              "offline_after changes the online rate")

        # Per district.
        doc_d = srv.ok("stations", from_=FROM, to=TO, by="district", offline_after="0")
        _compare(doc_d, _group_reference(want0), GROUP_COLUMNS, "district_health", "district",
                 "by=district")

        # One metric: pm10 only, station s1 alone.
        doc_m = srv.ok("stations", from_=FROM, to=TO, series="pm10", offline_after="0")
        eq([s["tags"]["station"] for s in doc_m["series"]], ["s1"], "series=pm10")
        eq(doc_m["series"][0]["values"][0][5], 10 * MINUTE, "pm10 cadence")

        # CSV: the same cells.
        status, hdrs, raw = srv.request(
            "GET", "/api/v1/stations", params={"from": FROM, "to": TO, "format": "csv"})
        eq(status, 200, "CSV status")
        check(hdrs.get("content-type", "").startswith("text/csv"), "CSV content type")
        rows = list(csv.reader(io.StringIO(raw.decode())))
        eq(rows[0], ["metric", "tags"] + COLUMNS, "CSV header")
        eq(len(rows), 1 + len(doc["series"]), "CSV rows")
        for row, series in zip(rows[1:], doc["series"]):
            eq(row[0], "station_health", "CSV metric")
            eq(row[1], ";".join("%s=%s" % kv for kv in sorted(series["tags"].items())),
               "CSV tags")
            for text, cell in zip(row[2:], series["values"][0]):
                if cell is None:
                    eq(text, "", "CSV null")
                elif isinstance(cell, bool):
                    eq(text, "true" if cell else "false", "CSV bool")
                else:
                    near(float(text), float(cell), "CSV cell", rel=1e-15, abs_tol=0)

        # A to in the future is cut to now: over 2025-03-01 to now, every station is offline at
        # the end and was online only a small share of the time.
        doc_f = srv.ok("stations", from_=FROM, to="2100-01-01T00:00:00Z")
        for s in doc_f["series"]:
            cells = dict(zip(COLUMNS, s["values"][0]))
            eq(cells["online"], False, "online now of %r" % s["tags"])
            check(cells["online_rate"] < 0.2, "online rate up to now of %r" % s["tags"])
        status, doc_bad = srv.get("stations", from_="2100-01-01T00:00:00Z")
        eq(status, 400, "from in the future")

        # Bad parameters: 400 naming the parameter.
        bad = [
            ({"from": "yesterday"}, "from"),
            ({"to": "soon"}, "to"),
            ({"from": TO, "to": FROM}, "from"),
            ({"by": ""}, "by"),
            ({"by": "bad key!"}, "by"),
            ({"station_tag": "site"}, "station_tag"),
            ({"by": "district", "station_tag": "district"}, "station_tag"),
            ({"offline_after": "-5m"}, "offline_after"),
            ({"offline_after": "1mo"}, "offline_after"),
            ({"offline_after": "367d"}, "offline_after"),
            ({"series": "pm25{station="}, "series"),
            ({"format": "xml"}, "format"),
            ({"window": "1h"}, "window"),
        ]
        for params, name in bad:
            status, doc_bad = srv.get("stations", **params)
            eq(status, 400, "status of %r" % params)
            check(name in doc_bad.get("error", ""),
                  "error of %r names %s: %r" % (params, name, doc_bad))
        eq(srv.ok("stations", from_=FROM, to=TO, by="station"), doc, "by=station is the default")
    finally:
        srv.cleanup()
