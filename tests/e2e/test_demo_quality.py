# The demo data set (--demo) for the environmental endpoints: every curl request of the README's
# sections "Air quality index", "Sites", "Water quality" and "Section assessment" is parsed out of
# README.md and sent as curl would send it (its shell dates computed here, from the demo's own
# last reading, in Beijing time); each answers 200 with the documented shape. Then values against
# references written here: the daily IAQIs of a station recomputed from its raw minute readings
# (HJ 633-2012 Table 1 24-hour rows, GB 3095-2012 table 4 validity), the maintenance hours the
# demo flags M (2 x 2 hours a station, left out), the monthly GB 3838-2002 classes of both river
# sections recomputed from their raw hourly readings, the incident's days worse than V and its
# month's class IV downstream against class II upstream, and the months' verdicts and amounts by
# each section's agreement (chongqing-2023: who pays whom). Also: --sites beside --demo replaces
# the demo's sites, and the four endpoints are counted under their own routes in /metrics.

import csv
import datetime as dt
import io
import math
import os
import re
import shlex
import tempfile
import urllib.parse
from fractions import Fraction

from harness import Server, TestFailure, check, eq, near

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "..", "..", "README.md")
CST = dt.timezone(dt.timedelta(hours=8))
MINUTE, HOUR, DAY = 60000, 3600000, 86400000

# --- what the demo is made of (server/demo.c, written out here) ------------------------------
AIR_SITES = {"jlp-01": "jiulongpo", "jlp-02": "jiulongpo", "yz-01": "yuzhong", "yz-02": "yuzhong"}
POLLUTANTS = ["pm25", "pm10", "so2", "no2", "co", "o3"]
SECTIONS = {  # id: (district, upstream, downstream)
    "jialing-hc": ("hechuan", "hechuan", "beibei"),
    "jialing-cp": ("shapingba", "shapingba", "yuzhong"),
}
WATER_PARAMS = ["nh3n", "cod", "codmn", "tp", "do", "ph"]
MAINTENANCE_MINUTES = 2 * 2 * 60  # two maintenance spells of two hours, one reading a minute

# --- references -------------------------------------------------------------------------------
# HJ 633-2012 Table 1, 24-hour rows (CO in mg/m3), IAQI levels 0..500.
IAQI_LEVELS = [0, 50, 100, 150, 200, 300, 400, 500]
TABLE_24H = {
    "pm25": [0, 35, 75, 115, 150, 250, 350, 500],
    "pm10": [0, 50, 150, 250, 350, 420, 500, 600],
    "so2": [0, 50, 150, 475, 800, 1600, 2100, 2620],
    "no2": [0, 40, 80, 180, 280, 565, 750, 940],
    "co": [0, 2, 4, 14, 24, 36, 48, 60],
}
CATEGORY = [None, "优", "良", "轻度污染", "中度污染", "重度污染", "严重污染"]
COLOR = [None, "#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#99004C", "#7E0023"]
AQI_COLUMNS = ["time", "aqi", "level", "category", "color", "primary",
               "iaqi_pm25", "pm25", "iaqi_pm10", "pm10", "iaqi_so2", "so2", "iaqi_no2", "no2",
               "iaqi_co", "co", "iaqi_o3_8h", "o3_8h", "iaqi_o3_1h", "o3_1h",
               "category_en", "standard", "note"]

# GB 3838-2002 table 1, classes I..V (mg/L); DO a floor; pH 6-9 for every class.
GB3838 = {
    "nh3n": [0.15, 0.5, 1.0, 1.5, 2.0],
    "cod": [15, 15, 20, 30, 40],
    "codmn": [2, 4, 6, 10, 15],
    "tp": [0.02, 0.1, 0.2, 0.3, 0.4],  # rivers
    "do": [7.5, 6, 5, 3, 2],
}
DEFAULT_WATER_PARAMS = ["nh3n", "cod", "codmn", "tp", "tn", "do", "ph", "bod5"]
WATER_COLUMNS = ["time", "class", "meets_target"] + [
    c for p in DEFAULT_WATER_PARAMS for c in (p, p + "_class", p + "_multiple")]
ASSESSMENT_CSV = ["site", "month", "time", "class", "target", "baseline", "indicators", "verdict",
                  "payer", "payee", "amount", "reason"]
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "worse than V"}


def iaqi(item, c):
    """Formula (1) rounded up, on the concentration as the decimal it prints as."""
    bp = TABLE_24H[item]
    if c > bp[-1]:
        return 500
    i = 0
    while i + 2 < len(bp) and c > bp[i + 1]:
        i += 1
    il, ih = IAQI_LEVELS[i], IAQI_LEVELS[i + 1]
    return math.ceil(il + Fraction(ih - il) * (Fraction(repr(c)) - bp[i]) / (bp[i + 1] - bp[i]))


def aqi_level(aqi):
    for n, top in enumerate([50, 100, 150, 200, 300], start=1):
        if aqi <= top:
            return n
    return 6


def water_class(p, c):
    if p == "ph":
        return 1 if 6 <= c <= 9 else 6
    for k, limit in enumerate(GB3838[p], start=1):
        if (c >= limit) if p == "do" else (c <= limit):
            return k
    return 6


def multiple_over(p, c, cls):
    """Exceedance multiple over class cls's limit (0 when met); DO mirrored; None for pH."""
    if p == "ph":
        return None
    limit = GB3838[p][cls - 1]
    if p == "do":
        return (limit - c) / limit if c < limit else 0
    return (c - limit) / limit if c > limit else 0


# --- dates, as the README's shell lines compute them ------------------------------------------


def _beijing(ms):
    return dt.datetime.fromtimestamp(ms / 1000, CST)


def _month_back(first, months):
    y, m = first.year, first.month - months
    while m < 1:
        y, m = y - 1, m + 12
    return dt.date(y, m, 1)


def readme_dates(now_ms):
    today = _beijing(now_ms).date()
    this_month = today.replace(day=1)
    return {
        "TODAY": today.isoformat(),
        "YESTERDAY": (today - dt.timedelta(days=1)).isoformat(),
        "WEEK_AGO": (today - dt.timedelta(days=7)).isoformat(),
        "THIS_MONTH": this_month.isoformat(),
        "LAST_MONTH": _month_back(this_month, 1).isoformat(),
        "THREE_MONTHS_AGO": _month_back(this_month, 3).isoformat(),
    }


def _ms(date_text):
    d = dt.date.fromisoformat(date_text)
    return int(dt.datetime(d.year, d.month, d.day, tzinfo=CST).timestamp() * 1000)


# --- the README's requests --------------------------------------------------------------------


def readme_requests():
    """[(endpoint, [(key, value)], text)] of the curl lines in the four sections."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start = text.index("\n## Air quality index\n")
    end = text.index("\n## ", text.index("\n## Section assessment\n") + 1)
    blocks = re.findall(r"```sh\n(.*?)```", text[start:end], re.S)
    requests = []
    for block in blocks:
        for command in block.replace("\\\n", " ").splitlines():
            command = command.strip()
            if not command.startswith("curl "):
                continue
            args = shlex.split(command)
            url, params, i = None, [], 1
            while i < len(args):
                a = args[i]
                if a in ("-d", "--data-urlencode"):
                    key, _, value = args[i + 1].partition("=")
                    params.append((key, value))
                    i += 2
                    continue
                if a.startswith("http"):
                    url = a
                else:
                    check(a in ("-G", "-s", "-sS"), "README curl option %r not understood" % a)
                i += 1
            check(url is not None, "README curl without a URL: %s" % command)
            parsed = urllib.parse.urlsplit(url)
            params = urllib.parse.parse_qsl(parsed.query) + params
            requests.append((parsed.path, params, command))
    return requests


def _substitute(value, dates):
    def repl(m):
        check(m.group(1) in dates, "README uses an unknown shell variable %s" % m.group(1))
        return dates[m.group(1)]
    return re.sub(r"\$\{(\w+)\}", repl, value)


def _get(srv, path, params):
    status, headers, data = srv.request("GET", path + "?" + urllib.parse.urlencode(params))
    return status, headers, data.decode("utf-8")


def _json(srv, path, params):
    status, _, text = _get(srv, path, params)
    import json
    check(status == 200, "GET %s %r: status %d %s" % (path, params, status, text[:400]))
    return json.loads(text)


def _start(name, args=()):
    srv = Server(name=name, args=["--demo"] + list(args)).start()
    import json
    status, _, data = srv.request("GET", "/api/v1/series?series=pm25")
    check(status == 200, "series: status %d" % status)
    doc = json.loads(data)
    lasts = {row[1] for s in doc["series"] for row in s["values"]}
    eq(len(lasts), 1, "the demo's air stations end at one minute")
    # The demo ends at the server's start minute: its last reading is the minute before.
    return srv, lasts.pop() + MINUTE


def _series(doc, metric=None):
    out = {}
    for s in doc["series"]:
        if metric is None or s["metric"] == metric:
            out[s["tags"].get("site") or s["tags"].get("station") or s["tags"].get("section")] = s
    return out


def _rows(s):
    return [dict(zip(s["columns"], v)) for v in s["values"]]


def _check_aqi_row(row, what):
    check(row["standard"] == "HJ 633-2012", "%s: standard %r" % (what, row["standard"]))
    if row["aqi"] is None:
        check(row["note"], "%s: a null AQI says why" % what)
        return
    aqi = row["aqi"]
    check(0 <= aqi <= 500, "%s: aqi %r" % (what, aqi))
    eq(row["level"], aqi_level(aqi), what + " level")
    eq(row["category"], CATEGORY[row["level"]], what + " category")
    eq(row["color"], COLOR[row["level"]], what + " color")
    iaqis = {p: row["iaqi_" + p] for p in ["pm25", "pm10", "so2", "no2", "co", "o3_8h", "o3_1h"]}
    eq(aqi, max(v for v in iaqis.values() if v is not None), what + " aqi = max iaqi")
    if aqi <= 50:
        eq(row["primary"], None, what + " primary")
    else:
        check(row["primary"], "%s: primary pollutant named" % what)
    check(5 <= row["pm25"] <= 250 and 10 <= row["pm10"] <= 400, "%s: PM %r %r plausible"
          % (what, row["pm25"], row["pm10"]))
    check(0 < row["co"] < 5, "%s: co %r mg/m3 plausible" % (what, row["co"]))


def _check_readme_answer(path, params, status, headers, text, what):
    import json
    eq(status, 200, what + ": status (%s)" % text[:300])
    fmt = dict(params).get("format", "json")
    if fmt == "csv":
        check(headers.get("content-type", "").startswith("text/csv"), what + ": CSV type")
        rows = list(csv.reader(io.StringIO(text)))
        check(len(rows) >= 2, what + ": CSV has rows")
        if path == "/api/v1/aqi":
            eq(rows[0], ["metric", "tags"] + AQI_COLUMNS, what + " header")
        elif path == "/api/v1/water_quality":
            eq(rows[0], ["metric", "tags"] + WATER_COLUMNS, what + " header")
        elif path == "/api/v1/assessment":
            eq(rows[0], ASSESSMENT_CSV, what + " header")
        return
    doc = json.loads(text)
    if path == "/api/v1/sites":
        eq(sorted(s["id"] for s in doc["sites"]), sorted(list(AIR_SITES) + list(SECTIONS)),
           what + " ids")
    elif path == "/api/v1/aqi":
        check(doc["series"], what + ": series")
        for s in doc["series"]:
            eq(s["columns"], AQI_COLUMNS, what + " columns")
            check(s["values"], what + ": rows")
            for row in _rows(s):
                _check_aqi_row(row, what)
    elif path == "/api/v1/water_quality":
        check(doc["series"] and "meta" in doc, what + ": series and meta")
        for s in doc["series"]:
            eq(s["columns"], WATER_COLUMNS, what + " columns")
            for row in _rows(s):
                check(row["class"] in range(1, 7), what + ": class %r" % row["class"])
                check(6 <= row["ph"] <= 9 and row["ph_class"] == 1, what + ": pH in 6-9")
    elif path == "/api/v1/assessment":
        check(doc["assessment"], what + ": sections")
        for a in doc["assessment"]:
            for m in a["months"]:
                check(m["verdict"] in ("met", "short"), what + ": verdict %r" % m["verdict"])
                check(m["payer"] in (a["upstream"], a["downstream"]), what + ": payer")
    else:
        raise TestFailure("%s: unexpected endpoint %s" % (what, path))


def test_demo_readme_requests_answer():
    srv, now = _start("demo_readme")
    try:
        dates = readme_dates(now)
        requests = readme_requests()
        endpoints = sorted({p for p, _, _ in requests})
        eq(endpoints, ["/api/v1/aqi", "/api/v1/assessment", "/api/v1/sites",
                       "/api/v1/water_quality"], "README endpoints")
        check(len(requests) >= 10, "README requests: %d" % len(requests))
        for path, params, command in requests:
            params = [(k, _substitute(v, dates)) for k, v in params]
            if path == "/api/v1/aqi":
                eq(dict(params).get("standard"), "2012", "README aqi request says standard=2012")
            status, headers, text = _get(srv, path, params)
            _check_readme_answer(path, params, status, headers, text, command[:120])
        # Without standard=2012 the same request is refused, as the README says.
        aqi = [p for p in requests if p[0] == "/api/v1/aqi"][0]
        params = [(k, _substitute(v, dates)) for k, v in aqi[1] if k != "standard"]
        status, _, text = _get(srv, "/api/v1/aqi", params)
        eq(status, 400, "aqi with standard=auto after 2026-03-01")
        check("standard=2012" in text, "the refusal says what to do: " + text[:200])
    finally:
        srv.stop()
        srv.cleanup()


def _raw(srv, selector, from_ms, to_ms):
    doc = _json(srv, "/api/v1/query", {"series": selector, "from": from_ms, "to": to_ms,
                                       "flags": "all", "with_flags": "true"})
    eq(len(doc["series"]), 1, "one series for " + selector)
    return doc["series"][0]["values"]  # [time, value, flag, valid]


def test_demo_aqi_daily_against_reference():
    srv, now = _start("demo_aqi")
    try:
        dates = readme_dates(now)
        first_day = _beijing(now - 21 * DAY).date() + dt.timedelta(days=1)  # first whole day
        day0 = _ms(first_day.isoformat())
        end_day = _ms(dates["TODAY"])
        doc = _json(srv, "/api/v1/aqi", {"sites": "all", "standard": "2012",
                                         "from": day0, "to": end_day})
        got = _series(doc)
        eq(sorted(got), sorted(AIR_SITES), "stations")
        levels = set()
        for site, s in got.items():
            eq(s["tags"]["site"], site, "site tag")
            rows = _rows(s)
            eq([r["time"] for r in rows], list(range(day0, end_day, DAY)), site + " days")
            for row in rows:
                _check_aqi_row(row, "%s %d" % (site, row["time"]))
                check(row["aqi"] is not None, "%s %d: every whole demo day has an AQI: %s"
                      % (site, row["time"], row["note"]))
                levels.add(row["level"])
            # Each station's two maintenance spells (readings flagged M) are left out.
            for p in POLLUTANTS:
                eq(s["readings"][p]["invalid"], MAINTENANCE_MINUTES, "%s %s invalid" % (site, p))
        check(2 in levels and 3 in levels, "days of 良 and an episode of 轻度污染: %r" % levels)

        # Yesterday's daily IAQIs of jlp-01, from its raw minute readings.
        y0 = _ms(dates["YESTERDAY"])
        doc = _json(srv, "/api/v1/aqi", {"site": "jlp-01", "standard": "2012",
                                         "from": y0, "to": y0 + DAY})
        row = _rows(doc["series"][0])[0]
        for p in TABLE_24H:
            values = _raw(srv, '%s{station="jlp-01"}' % p, y0, y0 + DAY)
            hourly = []
            for h in range(24):
                v = [x[1] for x in values if y0 + h * HOUR <= x[0] < y0 + (h + 1) * HOUR
                     and x[2] == "N"]
                if len(v) >= 45:  # one reading a minute: 45 distinct minutes
                    hourly.append(math.fsum(v) / len(v))
            check(len(hourly) >= 20, "yesterday has 20 valid hours of %s" % p)
            mean = math.fsum(hourly) / len(hourly)
            near(row[p], mean, "jlp-01 yesterday %s" % p, rel=1e-12)
            eq(row["iaqi_" + p], iaqi(p, row[p]), "jlp-01 yesterday iaqi_%s" % p)

        # The hours flagged M have no hourly index: find one from the flags stored.
        values = _raw(srv, 'pm25{station="jlp-01"}', day0, end_day)
        maintenance = sorted({x[0] - x[0] % HOUR for x in values if x[2] == "M"})
        eq(len(maintenance), 4, "jlp-01 maintenance hours")
        doc = _json(srv, "/api/v1/aqi", {"site": "jlp-01", "standard": "2012", "window": "1h",
                                         "from": maintenance[0], "to": maintenance[0] + HOUR})
        row = _rows(doc["series"][0])[0]
        eq((row["aqi"], row["iaqi_pm25"], row["pm25"]), (None, None, None), "maintenance hour")
        check("pm25" in (row["note"] or ""), "the note names pm25: %r" % row["note"])
    finally:
        srv.stop()
        srv.cleanup()


def _monthly_reference(srv, section, m0, m1):
    """{param: monthly mean of the Beijing days' means} from the raw hourly readings."""
    out = {}
    for p in WATER_PARAMS:
        values = _raw(srv, '%s{section="%s"}' % (p, section), m0, m1)
        days = {}
        for t, v, flag, _valid in values:
            check(flag == "N", "demo water readings are all N")
            days.setdefault((t - m0) // DAY, []).append(v)
        check(len(days) >= 28 and all(len(v) == 24 for v in days.values()),
              "%s %s: whole hourly days" % (section, p))
        out[p] = math.fsum(math.fsum(v) / len(v) for v in days.values()) / len(days)
    return out


def test_demo_water_quality_and_assessment():
    srv, now = _start("demo_water")
    try:
        dates = readme_dates(now)
        m0, m1 = _ms(dates["LAST_MONTH"]), _ms(dates["THIS_MONTH"])
        # The incident: days 10-14 of last month are worse than V downstream, no other day is.
        doc = _json(srv, "/api/v1/water_quality", {"site": "jialing-cp", "from": m0, "to": m1})
        rows = _rows(doc["series"][0])
        worse = [(r["time"] - m0) // DAY + 1 for r in rows if r["class"] == 6]
        eq(worse, [10, 11, 12, 13, 14], "days worse than V at jialing-cp last month")
        check(all(r["nh3n_class"] == 6 for r in rows if r["class"] == 6), "ammonia decides")

        # Monthly classes of both sections over the last three whole months.
        f0 = _ms(dates["THREE_MONTHS_AGO"])
        doc = _json(srv, "/api/v1/water_quality", {"sites": "all", "window": "1mo",
                                                   "from": f0, "to": m1})
        got = _series(doc)
        eq(sorted(got), sorted(SECTIONS), "water sites")
        month_starts = [_ms(_month_back(dt.date.fromisoformat(dates["THIS_MONTH"]), k)
                            .isoformat()) for k in (3, 2, 1)]
        classes = {}
        references = {}
        for section, s in got.items():
            rows = _rows(s)
            eq([r["time"] for r in rows], month_starts, section + " months")
            for k, row in enumerate(rows):
                end = month_starts[k + 1] if k + 1 < 3 else m1
                ref = _monthly_reference(srv, section, month_starts[k], end)
                references[(section, k)] = ref
                for p in WATER_PARAMS:
                    near(row[p], ref[p], "%s month %d %s" % (section, k, p), rel=1e-9)
                    eq(row[p + "_class"], water_class(p, ref[p]), "%s %d %s_class" % (section, k, p))
                cls = max(water_class(p, ref[p]) for p in WATER_PARAMS)
                eq(row["class"], cls, "%s month %d class" % (section, k))
                eq(row["meets_target"], 1 if cls <= 3 else 0, "%s month %d meets III" % (section, k))
                classes[(section, k)] = cls
        # By design: upstream class II throughout, downstream III, and IV in the incident month.
        eq([classes[("jialing-hc", k)] for k in range(3)], [2, 2, 2], "jialing-hc classes")
        eq([classes[("jialing-cp", k)] for k in range(3)], [3, 3, 4], "jialing-cp classes")
        check(classes[("jialing-cp", 2)] > classes[("jialing-hc", 2)],
              "the incident month is worse downstream than upstream")

        # The assessment, as the audit CSV, judged here by each section's agreement.
        status, _, text = _get(srv, "/api/v1/assessment", {"format": "csv", "from": f0, "to": m1})
        eq(status, 200, "assessment csv")
        lines = list(csv.DictReader(io.StringIO(text)))
        eq([(r["site"], int(r["time"])) for r in lines],
           [(s, t) for s in ["jialing-hc", "jialing-cp"] for t in month_starts], "CSV lines")
        for r in lines:
            k = month_starts.index(int(r["time"]))
            cls = classes[(r["site"], k)]
            _district, up, down = SECTIONS[r["site"]]
            eq((r["class"], r["target"], r["baseline"]), (ROMAN[cls], "III", "III"),
               r["site"] + " classes")
            met = cls <= 3
            if r["site"] == "jialing-cp":
                met = met and references[(r["site"], k)]["codmn"] <= 6
            eq(r["verdict"], "met" if met else "short", "%s %s verdict" % (r["site"], r["month"]))
            payer, payee = (down, up) if met else (up, down)
            eq((r["payer"], r["payee"]), (payer, payee), "%s %s who pays" % (r["site"], r["month"]))
            if r["site"] == "jialing-hc":
                near(float(r["amount"]), 500000, "hc fixed amount")
            elif met:
                near(float(r["amount"]), 1000000, "cp met: per_unit once")
            else:
                ref = references[(r["site"], k)]
                worst = max(multiple_over(p, ref[p], 3) or 0 for p in WATER_PARAMS)
                near(float(r["amount"]), min(1000000 * worst, 3000000), "cp short amount",
                     rel=1e-9)
        # The incident month names the paying district in JSON too.
        doc = _json(srv, "/api/v1/assessment", {"site": "jialing-cp", "from": m0, "to": m1})
        month = doc["assessment"][0]["months"][0]
        eq((month["verdict"], month["payer"], month["payee"]), ("short", "shapingba", "yuzhong"),
           "incident month verdict")
    finally:
        srv.stop()
        srv.cleanup()


def test_demo_sites_replaced_by_file_and_routes_counted():
    import json
    fd, path = tempfile.mkstemp(prefix="jialing-sites-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"sites": [{"id": "only", "kind": "air", "name": "Only", "district": "d",
                              "select": {"station": "jlp-01"}}]}, f)
    srv = None
    try:
        srv, now = _start("demo_sites_file", ["--sites", path])
        doc = _json(srv, "/api/v1/sites", {})
        eq([s["id"] for s in doc["sites"]], ["only"], "--sites replaces the demo's sites")
        status, _, _ = _get(srv, "/api/v1/aqi", {"site": "jlp-01", "from": now - DAY, "to": now,
                                                 "standard": "2012"})
        eq(status, 400, "a demo site not in the file")
        _json(srv, "/api/v1/aqi", {"site": "only", "from": now - DAY, "to": now,
                                   "standard": "2012"})
        _json(srv, "/api/v1/water_quality", {"select": '{section="jialing-cp"}',
                                             "from": now - DAY, "to": now})
        _json(srv, "/api/v1/assessment", {"from": now - DAY, "to": now})
        status, _, text = _get(srv, "/metrics", {})
        eq(status, 200, "metrics")
        counts = dict(re.findall(r'^jialing_http_requests_total\{route="(\w+)"\} (\d+)$', text,
                                 re.M))
        eq({r: counts.get(r) for r in ["aqi", "water_quality", "assessment", "sites"]},
           {"aqi": "2", "water_quality": "1", "assessment": "1", "sites": "1"},
           "requests per route")
        eq(counts.get("query"), "0", "no /api/v1/query request counted")
    finally:
        if srv is not None:
            srv.stop()
            srv.cleanup()
        os.unlink(path)
