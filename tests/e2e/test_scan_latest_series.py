# Threshold scans (gt/ge/lt/le, points and count, over sealed chunks that all match, none match,
# or partly match), latest values and the series listing with tag selectors (= and !=), and
# selectors or ranges that match nothing giving {"series": []}.

from harness import Model, by_series, check, eq, line, rng, selector, shared, skey

T0 = 1735689600000
MINUTE = 60000
DAY = 86400000
N = 5000
STATIONS = {"s1": "a", "s2": "a", "s3": "b", "s4": "b"}

_state = {}


def _load():
    if "model" in _state:
        return _state["model"]
    srv = shared()
    r = rng("scan_data")
    model = Model()
    lines = []
    for station, district in sorted(STATIONS.items()):
        tags = {"station": station, "district": district}
        n = N - 100 * int(station[1])  # different counts and last times per series
        for i in range(n):
            ts = T0 + i * MINUTE
            if station == "s1" and i < 2048:
                value = round(r.uniform(60, 90), 1)  # a first chunk entirely above 50
            elif station == "s2" and i < 2048:
                value = round(r.uniform(0, 40), 1)  # a first chunk entirely below 50
            elif r.random() < 0.05:
                value = 50.0  # exactly on the threshold: ge/le match, gt/lt do not
            else:
                value = round(r.uniform(0, 100), 1)
            model.put("sc", tags, ts, value)
            lines.append(line("sc", tags, value, ts))
    for k in range(0, len(lines), 5000):
        srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")
    _state["model"] = model
    return model


OPS = {"gt": lambda v, x: v > x, "ge": lambda v, x: v >= x, "lt": lambda v, x: v < x,
       "le": lambda v, x: v <= x}


def test_scan_points_and_count():
    srv = shared()
    model = _load()
    ranges = [(T0 - DAY, T0 + 10 * DAY), (T0 + 1000 * MINUTE + 1, T0 + 3333 * MINUTE)]
    for op, pred in OPS.items():
        for threshold in (50.0, 75.3):
            for frm, to in ranges:
                what = "scan op=%s value=%s [%d,%d)" % (op, threshold, frm, to)
                doc = srv.ok("scan", series="sc", from_=frm, to=to, op=op, value=threshold,
                             output="points")
                got = by_series(doc, ["time", "value"])
                expected = {}
                for key in model.keys("sc"):
                    pts = [p for p in model.readings(key, frm, to) if pred(p[1], threshold)]
                    if pts:
                        expected[key] = pts
                eq(sorted(got), sorted(expected), what + ": series")
                for key in expected:
                    eq(got[key], expected[key], "%s: points of %r" % (what, key))
                doc = srv.ok("scan", series="sc", from_=frm, to=to, op=op, value=threshold,
                             output="count")
                got = by_series(doc, ["count"])
                for key in model.keys("sc"):
                    n = len(expected.get(key, []))
                    if n == 0:
                        check(got.get(key, [[0]]) == [[0]],
                              "%s: count of %r is %r, expected 0 or omitted"
                              % (what, key, got.get(key)))
                    else:
                        eq(got.get(key), [[n]], "%s: count of %r" % (what, key))


def test_scan_default_output_and_tag_selector():
    srv = shared()
    model = _load()
    key = skey("sc", station="s3", district="b")
    doc = srv.ok("scan", series=selector("sc", station="s3"), from_=T0, to=T0 + 10 * DAY,
                 op="ge", value=99.5)
    expected = [p for p in model.readings(key) if p[1] >= 99.5]
    eq(by_series(doc, ["time", "value"]), {key: expected} if expected else {},
       "scan with default output (points)")


def test_latest_with_selectors():
    srv = shared()
    model = _load()
    cases = [("sc", list(STATIONS)),
             (selector("sc", district="a"), ["s1", "s2"]),
             (selector("sc", district=("!=", "a")), ["s3", "s4"]),
             (selector("sc", district="a", station=("!=", "s1")), ["s2"]),
             (selector("sc", district="b", station="s4"), ["s4"])]
    for sel, stations in cases:
        doc = srv.ok("latest", series=sel)
        got = by_series(doc, ["time", "value"])
        expected = {skey("sc", station=s, district=STATIONS[s]):
                    [model.readings(skey("sc", station=s, district=STATIONS[s]))[-1]]
                    for s in stations}
        eq(got, expected, "latest for %s" % sel)


def test_series_listing():
    srv = shared()
    model = _load()
    cases = [("sc", list(STATIONS)), (selector("sc", district=("!=", "b")), ["s1", "s2"]),
             (selector("sc", station="s3"), ["s3"])]
    for sel, stations in cases:
        doc = srv.ok("series", series=sel)
        got = by_series(doc, ["first", "last", "count"])
        expected = {}
        for s in stations:
            key = skey("sc", station=s, district=STATIONS[s])
            times = [p[0] for p in model.readings(key)]
            expected[key] = [[times[0], times[-1], len(times)]]
        eq(got, expected, "series listing for %s" % sel)


def test_no_match_is_empty_result():
    srv = shared()
    _load()
    empty = {"series": []}
    for sel in ("no_such_metric", selector("sc", station="s9"),
                selector("sc", district="a", station="s3"),
                selector("sc", station=("!=", "s1"), district="zz")):
        eq(srv.ok("query", series=sel, from_=T0, to=T0 + DAY), empty, "query %s" % sel)
        eq(srv.ok("query", series=sel, from_=T0, to=T0 + DAY, window="1h", agg="mean"), empty,
           "windowed query %s" % sel)
        eq(srv.ok("scan", series=sel, from_=T0, to=T0 + DAY, op="gt", value=0), empty,
           "scan %s" % sel)
        eq(srv.ok("latest", series=sel), empty, "latest %s" % sel)
        eq(srv.ok("series", series=sel), empty, "series %s" % sel)
    # A range with no readings: every series is omitted.
    far = T0 + 400 * DAY
    eq(srv.ok("query", series="sc", from_=far, to=far + DAY), empty, "query of an empty range")
    eq(srv.ok("query", series="sc", from_=far, to=far + DAY, window="1d", agg="count,max"), empty,
       "windowed query of an empty range")
    eq(srv.ok("scan", series="sc", from_=far, to=far + DAY, op="ge", value=0, output="points"),
       empty, "scan of an empty range")
