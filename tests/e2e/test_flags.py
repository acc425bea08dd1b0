# Data flags read back: readings written with HJ 212 flags over line protocol (flag="M") and
# msgpack ("f":["M"]), some re-sent with another value and flag (both replaced together), come
# back from GET /api/v1/query?with_flags=true as a third column flag in JSON, CSV and msgpack,
# exactly as the test wrote them, from sealed chunks (12000 readings on one series; a tail is
# sealed from about 2048 readings) and from tails; again after kill -9 and a restart on the same data directory. Without
# with_flags the answer keeps its two columns; with a window or agg, or a value other than true
# or false, with_flags is refused.

import json

from harness import Server, check, eq, error_message, msgpack_encode, rng
from test_formats import msgpack_decode

T0 = 1735689600000  # 2025-01-01T00:00:00Z
MINUTE = 60000
DAY = 86400000
LETTERS = "NFMSDCTB"
FROM, TO = T0 - DAY, T0 + 10 * DAY


def _lp_line(station, ts, value, flag):
    """A line of metric fl; a flag of None writes no flag field (stored as N)."""
    text = "fl,station=%s value=%r" % (station, float(value))
    if flag is not None:
        text += ',flag="%s"' % flag
    return text + " %d" % ts


def _write(srv, r, expected):
    """Writes the test's readings, recording in expected[station][ts] = (value, letter)."""
    # lp: 12000 readings by line protocol (sealed chunks, then a tail), every letter used; an N
    # is sometimes written as no flag at all.
    lines = []
    lp = expected.setdefault("lp", {})
    for i in range(12000):
        ts = T0 + i * MINUTE
        value = round(r.uniform(0, 500), 1)
        flag = LETTERS[i % 8] if i % 3 else r.choice(LETTERS)
        lp[ts] = (value, flag)
        lines.append(_lp_line("lp", ts, value, None if flag == "N" and i % 2 else flag))
    for k in range(0, len(lines), 3000):
        srv.write_ok("\n".join(lines[k:k + 3000]), precision="ms")
    # mp: 300 readings by msgpack.
    mp = expected.setdefault("mp", {})
    t, v, f = [], [], []
    for i in range(300):
        ts = T0 + i * MINUTE + 500
        value = round(r.uniform(-50, 50), 2)
        flag = r.choice(LETTERS)
        mp[ts] = (value, flag)
        t.append(ts)
        v.append(value)
        f.append(flag)
    status, text = srv.write_msgpack(msgpack_encode(
        {"series": [{"metric": "fl", "tags": {"station": "mp"}, "t": t, "v": v, "f": f}]}))
    eq(status, 204, "msgpack write (%s)" % text[:200])

    # Re-sent with a different value and flag, in the sealed part and the tail of lp (by line
    # protocol and by msgpack), and in mp (by line protocol): value and flag replaced together.
    again = []
    for i in r.sample(range(0, 4000), 40) + r.sample(range(11900, 12000), 10):
        ts = T0 + i * MINUTE
        old = lp[ts][1]
        flag = r.choice([c for c in LETTERS if c != old])
        value = round(lp[ts][0] + 1000.5, 1)
        lp[ts] = (value, flag)
        again.append(_lp_line("lp", ts, value, flag))
    for i in r.sample(range(300), 20):
        ts = T0 + i * MINUTE + 500
        old = mp[ts][1]
        flag = r.choice([c for c in LETTERS if c != old])
        value = -mp[ts][0] - 0.25
        mp[ts] = (value, flag)
        again.append(_lp_line("mp", ts, value, flag))
    srv.write_ok("\n".join(again), precision="ms")
    t, v, f = [], [], []
    for i in r.sample(range(4000, 11000), 20):
        ts = T0 + i * MINUTE
        old = lp[ts][1]
        flag = r.choice([c for c in LETTERS if c != old])
        value = round(r.uniform(600, 700), 2)
        lp[ts] = (value, flag)
        t.append(ts)
        v.append(value)
        f.append(flag)
    status, text = srv.write_msgpack(msgpack_encode(
        {"series": [{"metric": "fl", "tags": {"station": "lp"}, "t": t, "v": v, "f": f}]}))
    eq(status, 204, "msgpack re-send (%s)" % text[:200])


def _rows(expected, station):
    return [[ts, value, flag] for ts, (value, flag) in sorted(expected[station].items())]


def _check(srv, expected, what):
    # flags=all: every reading (the default, flags=valid, would keep the N ones only).
    params = {"series": "fl", "from": FROM, "to": TO, "with_flags": "true", "flags": "all"}
    # JSON
    doc = srv.ok("query", series="fl", from_=FROM, to=TO, with_flags="true", flags="all")
    eq([s["tags"] for s in doc["series"]], [{"station": "lp"}, {"station": "mp"}],
       "%s: series" % what)
    for s in doc["series"]:
        station = s["tags"]["station"]
        eq(s["columns"], ["time", "value", "flag"], "%s: JSON columns of %s" % (what, station))
        want = _rows(expected, station)
        eq(len(s["values"]), len(want), "%s: JSON row count of %s" % (what, station))
        diff = [(g, w) for g, w in zip(s["values"], want) if g != w][:5]
        eq(diff, [], "%s: first differing JSON rows of %s" % (what, station))
    # CSV
    status, _, body = srv.request("GET", "/api/v1/query", params=dict(params, format="csv"))
    eq(status, 200, "%s: CSV status" % what)
    lines = body.decode("utf-8").split("\r\n")
    eq(lines[0], "metric,tags,time,value,flag", "%s: CSV header" % what)
    eq(lines[-1], "", "%s: CSV ends with CRLF" % what)
    got = {"lp": [], "mp": []}
    for text in lines[1:-1]:
        metric, tags, ts, value, flag = text.split(",")
        eq(metric, "fl", "%s: CSV metric" % what)
        got[tags[len("station="):]].append([int(ts), float(value), flag])
    for station in ("lp", "mp"):
        want = _rows(expected, station)
        eq(len(got[station]), len(want), "%s: CSV row count of %s" % (what, station))
        diff = [(g, w) for g, w in zip(got[station], want) if g != w][:5]
        eq(diff, [], "%s: first differing CSV rows of %s" % (what, station))
    # msgpack: the same document as JSON, flags as strings.
    status, _, body = srv.request("GET", "/api/v1/query", params=dict(params, format="msgpack"))
    eq(status, 200, "%s: msgpack status" % what)
    mp_doc = msgpack_decode(body)
    for s in mp_doc["series"]:
        station = s["tags"]["station"]
        eq(s["columns"], ["time", "value", "flag"], "%s: msgpack columns of %s" % (what, station))
        want = _rows(expected, station)
        eq(len(s["values"]), len(want), "%s: msgpack row count of %s" % (what, station))
        diff = [(g, w) for g, w in zip(s["values"], want) if g != w][:5]
        eq(diff, [], "%s: first differing msgpack rows of %s" % (what, station))
    eq(len(mp_doc["series"]), 2, "%s: msgpack series" % what)
    # A range cut inside the sealed part: the flags of exactly those readings.
    frm, to = T0 + 1234 * MINUTE + 1, T0 + 3210 * MINUTE + 1
    doc = srv.ok("query", series="fl{station=\"lp\"}", from_=frm, to=to, with_flags="true",
                 flags="all")
    eq(doc["series"][0]["values"], [row for row in _rows(expected, "lp") if frm <= row[0] < to],
       "%s: a range inside the chunks" % what)
    # /api/v1/series?with_flags=true: per series the readings per device flag, counted here from
    # what the test wrote (no review mark touches them: reviewed 0); without it, the 3 columns.
    doc = srv.ok("series", series="fl", with_flags="true")
    for s in doc["series"]:
        station = s["tags"]["station"]
        eq(s["columns"], ["first", "last", "count", "reviewed"] + ["count_" + c for c in LETTERS],
           "%s: series columns with flags" % what)
        letters = [flag for _, flag in expected[station].values()]
        times = sorted(expected[station])
        eq(s["values"], [[times[0], times[-1], len(times), 0] + [letters.count(c) for c in LETTERS]],
           "%s: series flag counts of %s" % (what, station))
    doc = srv.ok("series", series="fl")
    eq(doc["series"][0]["columns"], ["first", "last", "count"], "%s: series columns" % what)
    # Without with_flags (and with false): the two columns of before, the same readings.
    for extra in ({"flags": "all"}, {"with_flags": "false", "flags": "all"}):
        doc = srv.ok("query", series="fl{station=\"mp\"}", from_=FROM, to=TO, **extra)
        eq(doc["series"][0]["columns"], ["time", "value"], "%s: columns with %r" % (what, extra))
        eq(doc["series"][0]["values"], [row[:2] for row in _rows(expected, "mp")],
           "%s: rows with %r" % (what, extra))


def test_flags_read_back_in_every_format_and_after_kill9():
    r = rng("flags_read_back")
    srv = Server(sync="full", name="flags").start()
    try:
        expected = {}
        _write(srv, r, expected)
        _check(srv, expected, "after writing")
        # Sealed chunks, where the server reports their count (not a contract; skipped if not).
        status, _, text = srv.request("GET", "/metrics")
        for metric_line in text.decode("utf-8", "replace").splitlines():
            if metric_line.startswith("jialing_chunks "):
                check(float(metric_line.split()[1]) >= 2, "no sealed chunks: %r" % metric_line)
        srv.kill9()
        srv.start()
        _check(srv, expected, "after kill -9 and a restart")
        srv.stop()
    finally:
        srv.cleanup()


def test_flags_refused_where_they_do_not_apply():
    srv = Server(name="flags_refused").start()
    try:
        srv.write_ok('fl,station=x value=1.5,flag="M" %d' % T0, precision="ms")
        cases = [
            ({"with_flags": "yes"}, 'parameter with_flags: expected true or false, not "yes"'),
            ({"with_flags": "TRUE"}, 'parameter with_flags: expected true or false, not "TRUE"'),
            ({"with_flags": "true", "window": "1h"},
             "parameter with_flags applies to raw readings only, not with window or agg"),
            ({"with_flags": "true", "window": "1h", "agg": "max"},
             "parameter with_flags applies to raw readings only, not with window or agg"),
        ]
        for extra, message in cases:
            status, doc = srv.query(series="fl", from_=T0, to=T0 + 1, **extra)
            eq(status, 400, "status with %r" % extra)
            eq(error_message(doc), message, "message with %r" % extra)
        status, doc = srv.get("scan", series="fl", from_=T0, to=T0 + 1, op="gt", value=0,
                              with_flags="true")
        eq(status, 400, "scan with with_flags")
        eq(error_message(doc), 'unknown parameter "with_flags"', "scan message")
        status, doc = srv.get("latest", series="fl", with_flags="true")
        eq(status, 400, "latest with with_flags")
        eq(error_message(doc),
           "parameter with_flags applies to /api/v1/series, not /api/v1/latest", "latest message")
        status, doc = srv.get("series", series="fl", with_flags="1")
        eq(status, 400, "series with with_flags=1")
        eq(error_message(doc), 'parameter with_flags: expected true or false, not "1"',
           "series message")
        doc = srv.ok("query", series="fl", from_=T0, to=T0 + 1, with_flags="true", flags="all")
        eq(doc["series"][0]["values"], [[T0, 1.5, "M"]], "the one flagged reading")
        # By default (flags=valid, valid set N) the M reading is not looked at.
        doc = srv.ok("query", series="fl", from_=T0, to=T0 + 1, with_flags="true")
        eq(doc["series"], [], "the default leaves out the M reading")
        for bad, message in (
                ("X", "parameter flags: flag list: item at column 1 is not one of the flag "
                      "letters N F M S D C T B"),
                ("", "parameter flags: flag list: item at column 1 is not one of the flag "
                     "letters N F M S D C T B")):
            status, doc = srv.query(series="fl", from_=T0, to=T0 + 1, flags=bad)
            eq(status, 400, "status with flags=%r" % bad)
            eq(error_message(doc), message, "message with flags=%r" % bad)
        srv.stop()
    finally:
        srv.cleanup()


def _ref_hours(readings, keep):
    """Python reference: [window start, mean, count] of each hour with kept readings, in order.
    readings: (ts, value, letter); keep: a letter -> bool."""
    hours = {}
    for ts, value, letter in readings:
        if keep(letter):
            hours.setdefault(ts - ts % 3600000, []).append(value)
    return [[start, sum(vs) / len(vs), len(vs)] for start, vs in sorted(hours.items())]


def test_flags_select_readings_for_windows():
    """agg=mean,count&window=1h counts only the selected readings: flags=all, valid (the
    default, valid set N), M; flagged readings in sealed chunks and in the tail."""
    r = rng("flags_select")
    srv = Server(name="flags_select").start()
    try:
        readings = []
        lines = []
        for i in range(6000):  # about 100 hours a minute apart: sealed chunks and a tail
            ts = T0 + i * MINUTE
            value = float(r.randint(0, 1000)) / 4  # quarters: sums exact in binary
            letter = "N" if r.random() < 0.6 else r.choice("MCDF")
            readings.append((ts, value, letter))
            lines.append(_lp_line("sel", ts, value, None if letter == "N" and i % 2 else letter))
        for k in range(0, len(lines), 2000):
            srv.write_ok("\n".join(lines[k:k + 2000]), precision="ms")
        cases = [
            ({"flags": "all"}, lambda c: True),
            ({"flags": "valid"}, lambda c: c == "N"),
            ({}, lambda c: c == "N"),
            ({"flags": "M"}, lambda c: c == "M"),
            ({"flags": "M,C"}, lambda c: c in "MC"),
        ]
        for extra, keep in cases:
            doc = srv.ok("query", series="fl{station=\"sel\"}", from_=FROM, to=TO,
                         agg="mean,count", window="1h", **extra)
            eq(doc["series"][0]["columns"], ["time", "mean", "count"], "columns with %r" % extra)
            got = doc["series"][0]["values"]
            want = _ref_hours(readings, keep)
            eq(len(got), len(want), "window count with %r" % extra)
            diff = [(g, w) for g, w in zip(got, want)
                    if g[0] != w[0] or g[2] != w[2] or abs(g[1] - w[1]) > 1e-9 * max(1, abs(w[1]))]
            eq(diff[:5], [], "first differing windows with %r" % extra)
        # A scan counts only the selected readings too.
        for extra, keep in cases:
            doc = srv.ok("scan", series="fl{station=\"sel\"}", from_=FROM, to=TO, op="gt",
                         value=200, output="count", **extra)
            want = sum(1 for _, v, c in readings if v > 200 and keep(c))
            eq(doc["series"][0]["values"], [[want]], "scan count with %r" % extra)
        srv.stop()
    finally:
        srv.cleanup()


def test_valid_flags_setting():
    """--valid-flags N,M: flags=valid (and the default) also keeps M readings."""
    srv = Server(name="flags_valid_set", args=["--valid-flags", "N,M"]).start()
    try:
        srv.write_ok("\n".join(_lp_line("v", T0 + i * MINUTE, value, flag) for i, (value, flag)
                               in enumerate([(1.0, "N"), (2.0, "M"), (4.0, "C"), (8.0, None)])),
                     precision="ms")
        for extra in ({}, {"flags": "valid"}):
            doc = srv.ok("query", series="fl", from_=T0, to=T0 + 3600000, agg="sum,count",
                         window="1h", **extra)
            eq(doc["series"][0]["values"], [[T0, 11.0, 3]], "N, M and unflagged with %r" % extra)
        doc = srv.ok("query", series="fl", from_=T0, to=T0 + 3600000, agg="sum,count",
                     window="1h", flags="all")
        eq(doc["series"][0]["values"], [[T0, 15.0, 4]], "every reading with flags=all")
        # InfluxQL (Grafana) cannot ask for flags: it gets the valid readings, 1 + 2 + 8.
        q = ("SELECT sum(\"value\"), count(\"value\") FROM \"fl\" WHERE time >= %dms AND "
             "time < %dms GROUP BY time(1h)" % (T0, T0 + 3600000))
        status, _, body = srv.request("GET", "/query", params={"q": q, "epoch": "ms"})
        eq(status, 200, "InfluxQL status")
        rows = json.loads(body.decode())["results"][0]["series"][0]["values"]
        eq(rows, [[T0, 11.0, 3]], "InfluxQL sum and count of the valid readings")
        srv.stop()
    finally:
        srv.cleanup()


def test_flags_select_readings_for_group_by():
    """group_by over two flagged series: each group's hourly mean and count take only the
    selected readings of its members."""
    r = rng("flags_group")
    srv = Server(name="flags_group").start()
    try:
        readings = []
        lines = []
        for station in ("g1", "g2"):
            for i in range(3000):
                ts = T0 + i * MINUTE + (7 if station == "g2" else 0)
                value = float(r.randint(0, 400)) / 8
                letter = "N" if r.random() < 0.5 else r.choice("MCT")
                readings.append((ts, value, letter))
                lines.append('fg,district=d,station=%s value=%r,flag="%s" %d'
                             % (station, value, letter, ts))
        for k in range(0, len(lines), 1500):
            srv.write_ok("\n".join(lines[k:k + 1500]), precision="ms")
        for extra, keep in (({"flags": "all"}, lambda c: True), ({}, lambda c: c == "N"),
                            ({"flags": "C,T"}, lambda c: c in "CT")):
            doc = srv.ok("query", series="fg", from_=FROM, to=TO, agg="mean,count", window="1h",
                         group_by="district", **extra)
            eq([s["tags"] for s in doc["series"]], [{"district": "d"}], "groups with %r" % extra)
            got = doc["series"][0]["values"]
            want = _ref_hours(readings, keep)
            eq(len(got), len(want), "window count with %r" % extra)
            diff = [(g, w) for g, w in zip(got, want)
                    if g[0] != w[0] or g[2] != w[2] or abs(g[1] - w[1]) > 1e-9 * max(1, abs(w[1]))]
            eq(diff[:5], [], "first differing group windows with %r" % extra)
        srv.stop()
    finally:
        srv.cleanup()
