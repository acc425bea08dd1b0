# GET /api/v1/water_quality and GET /api/v1/sites end to end: a sites file with a river section and
# a lake; January 2025 (Beijing time) of 4-hourly readings of the eight default parameters, some
# flagged M (not valid); every cell compared with a reference of GB 3838-2002 table 1 written here:
# classes with boundaries to the better class, TP lake limits, TN for the lake only, pH outside
# 6-9 as worse than V, DO as a floor, a day with too few valid readings null, a worse-than-V day,
# monthly means of valid days; CSV; same request, same bytes; 400s naming the parameter; SIGHUP
# with a bad file keeps the old sites; a bad file at start is refused with the reason; and a year
# of monthly assessment verdicts for two sections with opposite outcomes, JSON and CSV.

import csv
import io
import json
import os
import subprocess
import tempfile
import time

from harness import Server, TestFailure, check, eq, near, rng, server_binary

# ---- reference: GB 3838-2002 table 1, limits of classes I..V (mg/L) -------------------------
TABLE = {
    "nh3n": [0.15, 0.5, 1.0, 1.5, 2.0],
    "cod": [15, 15, 20, 30, 40],
    "codmn": [2, 4, 6, 10, 15],
    "tp": [0.02, 0.1, 0.2, 0.3, 0.4],
    "tn": [0.2, 0.5, 1.0, 1.5, 2.0],  # lakes and reservoirs only
    "do": [7.5, 6, 5, 3, 2],  # floors (>=)
    "bod5": [3, 3, 4, 6, 10],
}
TP_LAKE = [0.01, 0.025, 0.05, 0.1, 0.2]
PARAMS = ["nh3n", "cod", "codmn", "tp", "tn", "do", "ph", "bod5"]
ASSESSED = [p for p in PARAMS if p != "tn"]


def limits(p, lake):
    if p == "tp" and lake:
        return TP_LAKE
    if p == "tn" and not lake:
        return None
    return TABLE[p]


def ref_class(p, lake, c):
    if p == "ph":
        return 1 if 6 <= c <= 9 else 6
    lim = limits(p, lake)
    if lim is None:
        return None
    for k, limit in enumerate(lim, start=1):
        if (c >= limit) if p == "do" else (c <= limit):
            return k
    return 6


def ref_multiple(p, lake, ref, c):
    if p == "ph":
        return None
    lim = limits(p, lake)
    if lim is None:
        return None
    limit = lim[ref - 1]
    if p == "do":
        return (limit - c) / limit if c < limit else 0.0
    return (c - limit) / limit if c > limit else 0.0


# ---- data -----------------------------------------------------------------------------------
BEIJING = 8 * 3600 * 1000
DAY = 86400 * 1000
JAN1 = 1735660800000  # 2025-01-01T00:00:00+08:00
FEB1 = JAN1 + 31 * DAY
METRIC = {"nh3n": "ammonia"}  # the river maps nh3n to another metric name

SITES = {"sites": [
    {"id": "jl-cp", "kind": "river", "name": "Jialing at Caojiaxiang", "district": "jiulongpo",
     "select": {"station": "jlp-01"}, "metrics": {"nh3n": "ammonia"}, "target": "III",
     "upstream": "beibei", "downstream": "yuzhong",
     "agreement": {"amount": {"rule": "fixed", "per_month": 1000000}}},
    {"id": "lk", "kind": "lake", "name": "Longjing lake", "district": "yubei",
     "select": {"station": "lk-01"}, "target": "II"},
]}

# Typical values per parameter (dyadic fractions, so sums are exact), and the special days.
BASE = {"nh3n": 0.625, "cod": 17.5, "codmn": 3.5, "tp": 0.0625, "tn": 0.75, "do": 6.5,
        "ph": 7.25, "bod5": 3.5}
FEW_VALID_DAY = 9    # day index: 3 of 6 readings flagged M for every parameter -> null
WORSE_DAY = 14       # river nh3n 2.5 -> worse than V
PH_DAY = 20          # river pH 9.5 -> outside 6-9
BOUNDARY_DAY = 25    # nh3n exactly 0.5 all day (class II), DO exactly 5 (class III)
SPECIAL_DAYS = (FEW_VALID_DAY, WORSE_DAY, PH_DAY, BOUNDARY_DAY)


def make_readings(r, station):
    """{param: [(ts, value, flag)]} for January 2025, every 4 hours."""
    out = {p: [] for p in PARAMS}
    for d in range(31):
        for h in range(6):
            ts = JAN1 + d * DAY + h * 4 * 3600 * 1000
            for p in PARAMS:
                value = BASE[p] + r.randrange(-4, 5) / 64.0
                if station == "jlp-01" and d == WORSE_DAY and p == "nh3n":
                    value = 2.5
                if station == "jlp-01" and d == PH_DAY and p == "ph":
                    value = 9.5
                if d == BOUNDARY_DAY and p == "nh3n":
                    value = 0.5
                if d == BOUNDARY_DAY and p == "do":
                    value = 5.0
                flag = "N"
                if d == FEW_VALID_DAY and h < 3:
                    flag = "M"
                elif d not in SPECIAL_DAYS and h == 5 and r.random() < 0.3:
                    flag = "M"  # at most one a day: every other day keeps >= 5 valid readings
                out[p].append((ts, value, flag))
    return out


def write(srv, station, readings):
    lines = []
    for p, rows in readings.items():
        metric = METRIC.get(p, p) if station == "jlp-01" else p
        for ts, value, flag in rows:
            lines.append('%s,station=%s value=%r,flag="%s" %d' % (metric, station, value, flag, ts))
    srv.write_ok("\n".join(lines), precision="ms")


def ref_days(readings, lake, target):
    """Per day: (class, meets, {p: (mean, class, multiple, valid, invalid)}) as the reference."""
    days = []
    for d in range(31):
        start, end = JAN1 + d * DAY, JAN1 + (d + 1) * DAY
        cells = {}
        for p in PARAMS:
            rows = [x for x in readings[p] if start <= x[0] < end]
            valid = [v for _, v, f in rows if f == "N"]
            mean = None
            if len(valid) >= 4:
                mean = 0.0
                for v in valid:
                    mean += v
                mean /= len(valid)
            cells[p] = (mean, len(valid), len(rows) - len(valid))
        days.append(cells)
    return days


def judge(cells, lake, target):
    out = {}
    for p in PARAMS:
        mean = cells[p][0]
        if mean is None:
            out[p] = (None, None, None)
        else:
            out[p] = (mean, ref_class(p, lake, mean), ref_multiple(p, lake, target or 3, mean))
    classes = [out[p][1] for p in ASSESSED if out[p][1] is not None]
    cls = max(classes) if classes else None
    meets = None if cls is None or target is None else int(cls <= target)
    return cls, meets, out


def compare_series(series, expected_rows, what):
    columns = ["time", "class", "meets_target"]
    for p in PARAMS:
        columns += [p, p + "_class", p + "_multiple"]
    eq(series["columns"], columns, what + " columns")
    eq(len(series["values"]), len(expected_rows), what + " rows")
    for row, (t, cls, meets, cells) in zip(series["values"], expected_rows):
        w = "%s at %d" % (what, t)
        eq(row[0], t, w + " time")
        eq(row[1], cls, w + " class")
        eq(row[2], meets, w + " meets_target")
        for i, p in enumerate(PARAMS):
            mean, pc, mult = cells[p]
            got = row[3 + 3 * i: 6 + 3 * i]
            if mean is None:
                eq(got, [None, None, None], w + " " + p)
                continue
            near(got[0], mean, w + " " + p, rel=1e-12)
            eq(got[1], pc, w + " " + p + "_class")
            if mult is None:
                eq(got[2], None, w + " " + p + "_multiple")
            else:
                near(got[2], mult, w + " " + p + "_multiple", rel=1e-9, abs_tol=1e-12)


def _sites_file(doc):
    fd, path = tempfile.mkstemp(prefix="jialing-sites-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=1))
    return path


def _setup(name):
    path = _sites_file(SITES)
    srv = Server(name=name, args=["--sites", path]).start()
    r = rng(name)
    river = make_readings(r, "jlp-01")
    lake = make_readings(r, "lk-01")
    write(srv, "jlp-01", river)
    write(srv, "lk-01", lake)
    return srv, path, river, lake


def _expected_days(readings, lake, target):
    rows = []
    for d, cells in enumerate(ref_days(readings, lake, target)):
        cls, meets, out = judge(cells, lake, target)
        rows.append((JAN1 + d * DAY, cls, meets, out))
    return rows


def test_water_quality_days_and_month():
    srv, path, river, lake = _setup("wq_days")
    try:
        params = {"sites": "all", "from_": "2025-01-01T00:00:00+08:00",
                  "to": "2025-02-01T00:00:00+08:00"}
        doc = srv.ok("water_quality", **params)
        eq(len(doc["series"]), 2, "series (river, lake)")
        eq(doc["series"][0]["tags"], {"district": "jiulongpo", "kind": "river", "site": "jl-cp"},
           "river tags")
        eq(doc["series"][1]["tags"], {"district": "yubei", "kind": "lake", "site": "lk"},
           "lake tags")
        river_rows = _expected_days(river, 0, 3)
        lake_rows = _expected_days(lake, 1, 2)
        compare_series(doc["series"][0], river_rows, "river")
        compare_series(doc["series"][1], lake_rows, "lake")
        # The special days, stated outright as well.
        v = doc["series"][0]["values"]
        eq(v[WORSE_DAY][1], 6, "worse-than-V day class")
        eq(v[WORSE_DAY][3 + 1], 6, "worse-than-V day nh3n_class")
        near(v[WORSE_DAY][3 + 2], 1.5, "nh3n 2.5 multiple over III")
        eq(v[PH_DAY][1], 6, "pH 9.5 day class")
        eq(v[PH_DAY][3 + 3 * 6 + 1], 6, "pH 9.5 ph_class")
        eq(v[PH_DAY][3 + 3 * 6 + 2], None, "ph_multiple")
        eq(v[FEW_VALID_DAY][1], None, "few-valid day class")
        eq(v[BOUNDARY_DAY][3], 0.5, "boundary nh3n")
        eq(v[BOUNDARY_DAY][4], 2, "nh3n 0.5 is class II")
        eq(v[BOUNDARY_DAY][3 + 3 * 5 + 1], 3, "DO 5 is class III")
        eq(v[0][3 + 3 * 4 + 1], None, "river tn_class")
        meta = doc["meta"]
        eq(meta["standard"], "GB 3838-2002", "meta standard")
        eq(meta["grid"], {"window": "1d", "tz": "Asia/Shanghai", "from": JAN1, "to": FEB1,
                          "windows": 31}, "meta grid")
        cells = ref_days(river, 0, 3)
        for d in range(31):
            mw = meta["series"][0]["windows"][d]
            for p in PARAMS:
                eq(mw["valid_readings"][p], cells[d][p][1], "valid readings day %d %s" % (d, p))
                eq(mw["invalid_readings"][p], cells[d][p][2], "invalid day %d %s" % (d, p))
        eq(meta["series"][0]["windows"][FEW_VALID_DAY]["null_reasons"]["nh3n"],
           "3 valid readings, fewer than 4", "null reason")
        eq(meta["series"][0]["windows"][WORSE_DAY]["decisive"], ["nh3n"], "decisive")
        # No review mark is in force here: the device flags alone decide validity.
        eq((meta["series"][0]["review_marks"], meta["series"][0]["reviewed"]), ([], []),
           "review marks")
        eq(meta["series"][0]["no_series"], [], "every parameter has a series")
        eq(meta["series"][0]["metrics"]["nh3n"], "ammonia", "mapped metric in meta")

        # Month: mean of the valid days' means, 20 valid days needed (30 here).
        month = srv.ok("water_quality", window="1mo", **params)
        for s, readings, lake_flag, target in ((0, river, 0, 3), (1, lake, 1, 2)):
            days = ref_days(readings, lake_flag, target)
            cells = {}
            for p in PARAMS:
                means = [days[d][p][0] for d in range(31) if days[d][p][0] is not None]
                total = 0.0
                for m in means:
                    total += m
                cells[p] = (total / len(means) if len(means) >= 20 else None, 0, 0)
            cls, meets, out = judge(cells, lake_flag, target)
            compare_series(month["series"][s], [(JAN1, cls, meets, out)], "month %d" % s)
            eq(month["meta"]["series"][s]["windows"][0]["valid_days"]["nh3n"], 30,
               "valid days")
        # A month needing more valid days than it has: null with the reason.
        strict = srv.ok("water_quality", window="1mo", min_days=31, **params)
        eq(strict["series"][0]["values"][0][1], None, "month with 30 of 31 days")
        eq(strict["meta"]["series"][0]["windows"][0]["null_reasons"]["cod"],
           "30 valid days, fewer than 31", "month null reason")

        # CSV: the same cells; same request, same bytes.
        st, _, body = srv.request("GET", "/api/v1/water_quality?" + _qs(params, format="csv"))
        eq(st, 200, "csv status")
        rows = list(csv.reader(io.StringIO(body.decode())))
        eq(rows[0][:5], ["metric", "tags", "time", "class", "meets_target"], "csv header")
        eq(len(rows), 1 + 62, "csv rows")
        for i, row in enumerate(rows[1:32]):
            got = doc["series"][0]["values"][i]
            eq(row[2], str(got[0]), "csv time")
            eq(row[3], "" if got[1] is None else str(got[1]), "csv class")
            for j, cell in enumerate(got[3:]):
                if cell is None:
                    eq(row[5 + j], "", "csv null cell")
                else:
                    near(float(row[5 + j]), cell, "csv cell %d" % j, rel=1e-15)
        st2, _, body2 = srv.request("GET", "/api/v1/water_quality?" + _qs(params, format="csv"))
        eq(body2, body, "same CSV request, same bytes")
        _, _, j1 = srv.request("GET", "/api/v1/water_quality?" + _qs(params))
        _, _, j2 = srv.request("GET", "/api/v1/water_quality?" + _qs(params))
        eq(j1, j2, "same JSON request, same bytes")

        # Without a sites file's site: select= with kind and target gives the lake's answer.
        sel = srv.ok("water_quality", select='{station="lk-01"}', kind="lake", target="II",
                     from_=params["from_"], to=params["to"])
        eq(sel["series"][0]["tags"], {"station": "lk-01"}, "select tags")
        eq(sel["series"][0]["values"], doc["series"][1]["values"], "select = site values")
    finally:
        srv.cleanup()
        os.unlink(path)


def _qs(params, **more):
    import urllib.parse
    q = {("from" if k == "from_" else k): v for k, v in params.items()}
    q.update(more)
    return urllib.parse.urlencode(q)


def test_water_quality_bad_parameters():
    path = _sites_file(SITES)
    srv = Server(name="wq_bad", args=["--sites", path]).start()
    try:
        base = {"from_": "2025-01-01T00:00:00+08:00", "to": "2025-01-02T00:00:00+08:00"}
        cases = [
            ({"site": "jl-cp", "window": "2d"}, "parameter window"),
            ({"site": "nope"}, "parameter site: no site \"nope\""),
            ({"site": "jl-cp", "params": "nh3n,xx"}, "parameter params"),
            ({"site": "jl-cp", "target": "II"}, "parameter target"),
            ({"select": '{station="x"}', "target": "VI"}, "parameter target"),
            ({"select": '{station="x"}', "kind": "air"}, "parameter kind"),
            ({"select": "station"}, "parameter select"),
            ({}, "parameter select"),
            ({"site": "jl-cp", "sites": "all"}, "parameter site"),
            ({"site": "jl-cp", "tz": "Mars/Base"}, "parameter tz"),
            ({"site": "jl-cp", "min_days": "-1"}, "parameter min_days"),
            ({"site": "jl-cp", "colour": "red"}, "unknown parameter \"colour\""),
        ]
        for extra, needle in cases:
            status, doc = srv.get("water_quality", **dict(base, **extra))
            eq(status, 400, "status for %r" % extra)
            check(needle in doc.get("error", ""), "%r: error %r lacks %r" % (extra, doc, needle))
        status, doc = srv.get("water_quality", site="jl-cp", from_="2025-01-02T00:00:00Z",
                              to="2025-01-01T00:00:00Z")
        eq(status, 400, "from after to")
        check("parameter from" in doc["error"], "from after to names from: %r" % doc)
        status, doc = srv.get("water_quality", site="jl-cp", to="2025-01-01T00:00:00Z")
        eq(status, 400, "from missing")
        check("parameter from" in doc["error"], "missing from named: %r" % doc)
    finally:
        srv.cleanup()
        os.unlink(path)


def test_sites_listing_sighup_and_bad_file_at_start():
    path = _sites_file(SITES)
    srv = Server(name="wq_sighup", args=["--sites", path]).start()
    try:
        status, doc = srv.get("sites")
        eq(status, 200, "sites status")
        eq([s["id"] for s in doc["sites"]], ["jl-cp", "lk"], "site ids")
        river = doc["sites"][0]
        eq(river["metrics"]["nh3n"], "ammonia", "mapped metric")
        eq(river["metrics"]["cod"], "cod", "default metric")
        eq(river["target"], "III", "target")
        eq(river["agreement"]["amount"], {"rule": "fixed", "per_month": 1000000.0}, "amount")
        eq(river["agreement"]["baseline"], "III", "baseline from the target")
        eq(doc["sites"][1]["target"], "II", "lake target")
        # A bad file on SIGHUP: the old sites stay, and the log says why.
        with open(path, "w") as f:
            f.write('{"sites":[{"id":"jl-cp","kind":"sea"}]}')
        srv.proc.send_signal(1)  # SIGHUP
        _wait_for_log(srv, "sites file not re-read, old sites kept")
        check('sites[0] ("jl-cp").kind: must be one of' in srv.log_tail(), "reason logged")
        status, again = srv.get("sites")
        eq(again, doc, "sites after a bad SIGHUP")
        # A good file on SIGHUP replaces them.
        with open(path, "w") as f:
            json.dump({"sites": [SITES["sites"][1]]}, f)
        srv.proc.send_signal(1)
        _wait_for_log(srv, "sites file re-read (1 sites)")
        status, now = srv.get("sites")
        eq([s["id"] for s in now["sites"]], ["lk"], "sites after a good SIGHUP")
    finally:
        srv.cleanup()
        os.unlink(path)
    # A bad file at start: refused, naming the line or the site and field.
    for text, needle in (('{"sites":[{"id":"a","kind":"river","name":"n","district":"d",'
                          '"select":{"station":"s"},"target":"VI"}]}',
                          'sites[0] ("a").target: must be one of'),
                         ('{"sites": [\n  {"id": }\n]}', "line 2, column 10")):
        bad = _sites_file(text)
        data = tempfile.mkdtemp(prefix="jialing-e2e-sites-")
        try:
            proc = subprocess.run([server_binary(), "--data", data, "--listen", "127.0.0.1:0",
                                   "--sites", bad], capture_output=True, timeout=60)
            eq(proc.returncode, 1, "exit status with a bad sites file")
            check(needle in proc.stderr.decode(), "stderr %r lacks %r" % (proc.stderr, needle))
        finally:
            os.unlink(bad)
            subprocess.run(["rm", "-rf", data])


def _wait_for_log(srv, needle):
    # Waits for the server to have handled the signal (the log line is its answer), not for time.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(srv.log_path, "rb") as f:
            if needle in f.read().decode("utf-8", "replace"):
                return
        time.sleep(0.05)
    raise TestFailure("no log line %r\n%s" % (needle, srv.log_tail()))


# ---- monthly assessment: a year of verdicts for two sections with opposite outcomes ----------
ASSESS_SITES = {"sites": [
    {"id": "sec-a", "kind": "river", "name": "Section A", "district": "beibei",
     "select": {"station": "a"}, "target": "III", "upstream": "hechuan",
     "downstream": "beibei", "agreement": {"amount": {"rule": "fixed", "per_month": 1000000}}},
    {"id": "sec-b", "kind": "river", "name": "Section B", "district": "yuzhong",
     "select": {"station": "b"}, "target": "III", "upstream": "shapingba",
     "downstream": "yuzhong",
     "agreement": {"indicators": ["class", {"param": "codmn", "baseline": 4}],
                   "amount": {"rule": "multiple", "per_unit": 100000, "cap": 100000}}},
]}
MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
GAP_MONTH = 5  # June: section A's readings are all flagged M


def _assess_values(station, m):
    if station == "a":
        return {"nh3n": 0.5, "codmn": 3.0}  # class II: at or better than III
    return {"nh3n": 1.125 + m * 0.125, "codmn": 4.5}  # class IV or V, codmn above 4


def test_assessment_year_two_sections():
    path = _sites_file(ASSESS_SITES)
    srv = Server(name="wq_assess", args=["--sites", path]).start()
    try:
        lines = []
        start = JAN1
        for m, days in enumerate(MONTH_DAYS):
            for d in range(days):
                for h in range(6):
                    ts = start + d * DAY + h * 4 * 3600 * 1000
                    for station in ("a", "b"):
                        flag = "M" if station == "a" and m == GAP_MONTH else "N"
                        for p, v in _assess_values(station, m).items():
                            lines.append('%s,station=%s value=%r,flag="%s" %d'
                                         % (p, station, v, flag, ts))
            start += days * DAY
        for k in range(0, len(lines), 20000):
            srv.write_ok("\n".join(lines[k:k + 20000]), precision="ms")
        status, doc = srv.get("assessment", from_="2025-01-01T00:00:00+08:00",
                              to="2026-01-01T00:00:00+08:00")
        eq(status, 200, "assessment status %r" % (doc,))
        eq([s["site"] for s in doc["assessment"]], ["sec-a", "sec-b"], "sections")
        a, b = doc["assessment"]
        start = JAN1
        for m, days in enumerate(MONTH_DAYS):
            label = "2025-%02d" % (m + 1)
            ma, mb = a["months"][m], b["months"][m]
            eq((ma["month"], ma["time"]), (label, start), "month A %d" % m)
            if m == GAP_MONTH:
                eq(ma["verdict"], "insufficient data", "A gap month verdict")
                eq(ma["payer"], None, "A gap month payer")
                eq(ma["amount"], None, "A gap month amount")
                check("class" in ma["reason"], "A gap month reason %r" % ma["reason"])
            else:
                eq(ma["class"], 2, "A class %s" % label)
                eq(ma["verdict"], "met", "A verdict %s" % label)
                eq((ma["payer"], ma["payee"]), ("beibei", "hechuan"), "A direction %s" % label)
                eq(ma["amount"], 1000000.0, "A amount %s" % label)
            nh3n = _assess_values("b", m)["nh3n"]
            cls = ref_class("nh3n", 0, nh3n)
            eq(mb["class"], cls, "B class %s" % label)
            eq(mb["verdict"], "short", "B verdict %s" % label)
            eq((mb["payer"], mb["payee"]), ("shapingba", "yuzhong"), "B direction %s" % label)
            units = max(ref_multiple("nh3n", 0, 3, nh3n), (4.5 - 4) / 4)
            near(mb["amount"], min(100000 * units, 100000), "B amount %s" % label)
            eq(mb["indicators"][1]["value"], 4.5, "B codmn %s" % label)
            eq(mb["indicators"][1]["met"], False, "B codmn met %s" % label)
            start += days * DAY
        st, hdrs, body = srv.request("GET", "/api/v1/assessment?from=2025-01-01T00:00:00%2B08:00"
                                     "&to=2026-01-01T00:00:00%2B08:00&format=csv")
        eq(st, 200, "csv status")
        rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
        eq(rows[0], ["site", "month", "time", "class", "target", "baseline", "indicators",
                     "verdict", "payer", "payee", "amount", "reason"], "csv header")
        eq(len(rows), 1 + 24, "csv rows")
        eq(rows[1][:6], ["sec-a", "2025-01", str(JAN1), "II", "III", "III"], "csv first row")
        eq(rows[1][6:11], ["class=II<=III", "met", "beibei", "hechuan", "1000000"], "csv verdict")
        eq(rows[13][0:2], ["sec-b", "2025-01"], "csv section B")
        eq(rows[13][6], "class=IV>III; codmn=4.5>4", "csv B indicators")
        # January: nh3n 1.125 over 1.0 and codmn 4.5 over 4 are both 0.125: 100000 x 0.125
        eq(rows[13][7:11], ["short", "shapingba", "yuzhong", "12500"], "csv B verdict")
        eq(rows[1 + GAP_MONTH][7], "insufficient data", "csv gap month")
    finally:
        srv.cleanup()
        os.unlink(path)
