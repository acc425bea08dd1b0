# min_count, fill and group_by over HTTP against references computed here from the readings
# written. Fill covers every window of the requested range (including a first window that starts
# before `from`), treats windows below min_count as empty, and fills every aggregate column
# (count included). Group by pools the readings of a group's series in each window (first/last by
# time, twa as total integral over total covered time); the server gets there by merging
# per-series partial aggregates.

import math
import statistics

from harness import by_series, check, eq, error_message, line, near, rng, shared, skey

T0 = 1735689600000  # 2025-01-01T00:00:00Z
MINUTE = 60000
HOUR = 3600000
DAY = 86400000

_state = {}


def _write(srv, metric, tags, points):
    lines = [line(metric, tags, v, t) for t, v in points]
    for k in range(0, len(lines), 5000):
        srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")


# ---- fill and min_count ----------------------------------------------------------------------

SPARSE_HOURS = {2: 4, 3: 1, 7: 5, 8: 2, 9: 3, 15: 6, 22: 1}  # hour -> readings in it


def _sparse():
    if "sparse" in _state:
        return _state["sparse"]
    srv = shared()
    r = rng("fill_sparse")
    points = []
    for hour, n in sorted(SPARSE_HOURS.items()):
        for k in range(n):
            points.append((T0 + hour * HOUR + 5 * MINUTE + k * 7 * MINUTE,
                           round(r.uniform(10, 90), 1)))
    _write(srv, "fill_sparse", {"s": "1"}, points)
    _state["sparse"] = points
    return points


def _cells(values):
    return [len(values), math.fsum(values) / len(values), max(values)]


def _fill_reference(points, from_ms, to_ms, fill, min_count):
    """Rows [start, count, mean, max] over every hourly window of [from, to)."""
    first = from_ms // HOUR * HOUR
    last = (to_ms - 1) // HOUR * HOUR
    groups = {}
    for t, v in points:
        if from_ms <= t < to_ms:
            groups.setdefault(t // HOUR * HOUR, []).append(v)
    valid = {s: _cells(vs) for s, vs in groups.items() if len(vs) >= max(1, min_count)}
    if fill == "none":
        return [[s] + valid[s] for s in sorted(valid)]
    if not groups:
        return []
    rows = []
    starts = list(range(first, last + 1, HOUR))
    for s in starts:
        if s in valid:
            rows.append([s] + valid[s])
            continue
        before = [b for b in valid if b < s]
        after = [a for a in valid if a > s]
        if fill == "null":
            rows.append([s, None, None, None])
        elif fill == "previous":
            rows.append([s] + (valid[max(before)] if before else [None] * 3))
        elif fill == "linear":
            if before and after:
                b, a = max(before), min(after)
                x = (s - b) / (a - b)
                rows.append([s] + [y0 + (y1 - y0) * x for y0, y1 in zip(valid[b], valid[a])])
            else:
                rows.append([s, None, None, None])
        else:
            number = float(fill)
            rows.append([s, int(number) if number == int(number) else number, number, number])
    return rows


def _same_rows(got, expected, what):
    eq(len(got), len(expected), "%s: rows (got starts %s)" % (what, [r[0] for r in got][:30]))
    for g, e in zip(got, expected):
        eq(g[0], e[0], "%s: window start" % what)
        for i in range(1, len(e)):
            label = "%s: column %d of window %d" % (what, i, e[0])
            if e[i] is None or g[i] is None or isinstance(e[i], int):
                eq(g[i], e[i], label)
            else:
                near(g[i], e[i], label, rel=1e-12, abs_tol=1e-12)


def test_fill_modes_and_min_count():
    srv = shared()
    points = _sparse()
    key = skey("fill_sparse", s="1")
    # from mid-window (00:30) to 23:10: 24 hourly windows, the first starting at 00:00.
    frm, to = T0 + 30 * MINUTE, T0 + 23 * HOUR + 10 * MINUTE
    for fill in ("none", "null", "previous", "linear", "0", "-1.5"):
        for min_count in (0, 1, 3):
            params = dict(series="fill_sparse", from_=frm, to=to, window="1h",
                          agg="count,mean,max", fill=fill)
            if min_count:
                params["min_count"] = min_count
            doc = srv.ok("query", **params)
            got = by_series(doc, ["time", "count", "mean", "max"])
            expected = _fill_reference(points, frm, to, fill, min_count)
            eq(list(got), [key] if expected else [], "series for fill=%s" % fill)
            _same_rows(got.get(key, []), expected, "fill=%s min_count=%d" % (fill, min_count))
            if fill != "none":
                eq(len(got[key]), 24, "fill=%s writes all 24 windows" % fill)
    # The types of filled count cells: an integral number stays an integer, linear is a double.
    doc = srv.ok("query", series="fill_sparse", from_=T0, to=T0 + 6 * HOUR, window="1h",
                 agg="count", fill="7")
    eq(by_series(doc)[key], [[T0, 7], [T0 + HOUR, 7], [T0 + 2 * HOUR, 4], [T0 + 3 * HOUR, 1],
                             [T0 + 4 * HOUR, 7], [T0 + 5 * HOUR, 7]], "fill=7")
    doc = srv.ok("query", series="fill_sparse", from_=T0, to=T0 + 8 * HOUR, window="1h",
                 agg="count", fill="linear")
    eq(by_series(doc)[key][3:], [[T0 + 3 * HOUR, 1], [T0 + 4 * HOUR, 2.0],
                                 [T0 + 5 * HOUR, 3.0], [T0 + 6 * HOUR, 4.0], [T0 + 7 * HOUR, 5]],
       "linear count between 1 and 5")
    # A range with no reading at all gives no series, whatever the fill.
    doc = srv.ok("query", series="fill_sparse", from_=T0 + 10 * HOUR, to=T0 + 15 * HOUR,
                 window="1h", agg="count", fill="null")
    eq(doc["series"], [], "no readings in range: no series")


def test_fill_limits():
    srv = shared()
    _sparse()
    # fill=null over a long range writes every window; max_windows is checked first (1s over 30
    # days = 2.6 M windows > 1 M).
    status, doc = srv.query(series="fill_sparse", from_=T0, to=T0 + 30 * DAY, window="1s",
                            agg="count", fill="null")
    eq(status, 422, "too many windows with fill: %r" % (doc,))
    check("windows per series" in error_message(doc), "message: %r" % (doc,))
    for params, needle in ((dict(fill="sometimes"), "fill"), (dict(min_count="-1"), "min_count"),
                           (dict(min_count="3x"), "min_count"), (dict(fill="nan"), "fill")):
        status, doc = srv.query(series="fill_sparse", from_=T0, to=T0 + DAY, window="1h",
                                **params)
        eq(status, 400, "status for %r" % params)
        check(needle in error_message(doc), "message for %r: %r" % (params, doc))
    status, doc = srv.query(series="fill_sparse", from_=T0, to=T0 + DAY, fill="null")
    eq(status, 400, "fill without a window")


# ---- group by --------------------------------------------------------------------------------

STATIONS = {  # station -> (district or None, cadence ms, phase ms)
    "s1": ("d1", 10 * MINUTE, 0),
    "s2": ("d1", 15 * MINUTE, 7000),
    "s3": ("d1", 37 * MINUTE, 11000),
    "s4": ("d2", 5 * MINUTE, 13000),
    "s5": ("d2", 60 * MINUTE, 17000),
    "s6": (None, 20 * MINUTE, 19000),
}


def _stations():
    if "stations" in _state:
        return _state["stations"]
    srv = shared()
    r = rng("group_stations")
    data = {}
    for station, (district, cadence, phase) in sorted(STATIONS.items()):
        tags = {"station": station}
        if district:
            tags["district"] = district
        points = []
        t = T0 + phase
        while t < T0 + 3 * DAY:
            if r.random() > 0.1 and not (station == "s4" and T0 + DAY <= t < T0 + DAY + 8 * HOUR):
                points.append((t, round(r.uniform(0, 150), 1)))
            t += cadence
        _write(srv, "grp_pm25", tags, points)
        data[station] = (tags, points)
    _state["stations"] = data
    return data


def _twa_parts(points, width, from_ms, to_ms):
    """Per window: (integral, covered time) of the step function (as in test_aggregates)."""
    pts = [(t, v) for t, v in points if from_ms <= t < to_ms]
    windows = {}
    for i, (t, _) in enumerate(pts):
        windows.setdefault(t // width * width, []).append(i)
    out = {}
    for start, idx in windows.items():
        end = min(start + width, to_ms)
        parts = []
        if idx[0] > 0:
            begin = max(start, from_ms)
            parts.append(pts[idx[0] - 1][1] * (pts[idx[0]][0] - begin))
        else:
            begin = pts[idx[0]][0]
        for k, i in enumerate(idx):
            t_next = pts[idx[k + 1]][0] if k + 1 < len(idx) else end
            parts.append(pts[i][1] * (t_next - pts[i][0]))
        out[start] = (parts, end - begin)
    return out


def _percentile(values, p):
    xs = sorted(values)
    h = (len(xs) - 1) * p / 100.0
    lo = math.floor(h)
    if lo >= len(xs) - 1:
        return xs[-1]
    return xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])


GROUP_AGGS = ["count", "sum", "mean", "min", "max", "first", "last", "stddev", "spread", "p50",
              "p90", "twa"]


def _group_reference(members, width, from_ms, to_ms, min_count=0):
    pooled, twa = {}, {}
    for points in members:
        for t, v in points:
            if from_ms <= t < to_ms:
                pooled.setdefault(t // width * width, []).append((t, v))
        for start, (parts, span) in _twa_parts(points, width, from_ms, to_ms).items():
            acc = twa.setdefault(start, [[], 0])
            acc[0] += parts
            acc[1] += span
    rows = []
    for start in sorted(pooled):
        tv = sorted(pooled[start])
        values = [v for _, v in tv]
        if len(values) < max(1, min_count):
            continue
        rows.append([start, len(values), math.fsum(values), math.fsum(values) / len(values),
                     min(values), max(values), tv[0][1], tv[-1][1], statistics.pstdev(values),
                     max(values) - min(values), _percentile(values, 50), _percentile(values, 90),
                     math.fsum(twa[start][0]) / twa[start][1]])
    return rows


def _compare_group(got, expected, what):
    eq([r[0] for r in got], [r[0] for r in expected], "%s: window starts" % what)
    for g, e in zip(got, expected):
        for i, agg in enumerate(GROUP_AGGS, start=1):
            label = "%s: %s of window %d" % (what, agg, e[0])
            if agg in ("sum", "mean", "twa"):
                near(g[i], e[i], label, rel=1e-12, abs_tol=1e-9)
            elif agg == "stddev":
                near(g[i], e[i], label, rel=1e-9, abs_tol=1e-9)
            else:
                eq(g[i], e[i], label)


def test_group_by_district():
    srv = shared()
    data = _stations()
    frm, to = T0 + 90 * MINUTE + 1, T0 + 3 * DAY - 5 * HOUR
    for window, width in (("1h", HOUR), ("6h", 6 * HOUR), ("1d", DAY)):
        doc = srv.ok("query", series="grp_pm25", from_=frm, to=to, window=window,
                     agg=",".join(GROUP_AGGS), group_by="district")
        got = by_series(doc, ["time"] + GROUP_AGGS)
        eq(sorted(got), [skey("grp_pm25"), skey("grp_pm25", district="d1"),
                         skey("grp_pm25", district="d2")], "groups (s6 has no district)")
        for district in ("d1", "d2", None):
            members = [p for tags, p in data.values() if tags.get("district") == district]
            key = skey("grp_pm25", district=district) if district else skey("grp_pm25")
            _compare_group(got[key], _group_reference(members, width, frm, to),
                           "group_by=district %s window=%s" % (district, window))
    # Groups come in order of their tag values: the group without the tag first.
    doc = srv.ok("query", series="grp_pm25", from_=frm, to=to, window="1d", agg="count",
                 group_by="district")
    eq([e.get("tags") for e in doc["series"]], [{}, {"district": "d1"}, {"district": "d2"}],
       "group order and tags")


def test_group_by_all_and_several_tags():
    srv = shared()
    data = _stations()
    frm, to = T0, T0 + 3 * DAY
    everything = [p for _, p in data.values()]
    doc = srv.ok("query", series="grp_pm25", from_=frm, to=to, window="2h",
                 agg=",".join(GROUP_AGGS), group_by="")
    got = by_series(doc, ["time"] + GROUP_AGGS)
    eq(list(got), [skey("grp_pm25")], "group_by= merges every series into one")
    _compare_group(got[skey("grp_pm25")], _group_reference(everything, 2 * HOUR, frm, to),
                   "group_by= (all)")
    # A selector narrows what is merged.
    doc = srv.ok("query", series='grp_pm25{district="d2"}', from_=frm, to=to, window="2h",
                 agg=",".join(GROUP_AGGS), group_by="")
    d2 = [p for tags, p in data.values() if tags.get("district") == "d2"]
    _compare_group(by_series(doc)[skey("grp_pm25")], _group_reference(d2, 2 * HOUR, frm, to),
                   "group_by= over district d2")
    # Grouping by every tag gives one series per station, tags limited to those named (and
    # sorted, duplicates ignored).
    doc = srv.ok("query", series="grp_pm25", from_=frm, to=to, window="3h",
                 agg=",".join(GROUP_AGGS), group_by="station,district,station")
    got = by_series(doc, ["time"] + GROUP_AGGS)
    eq(len(got), 6, "one group per station")
    for station, (tags, points) in data.items():
        _compare_group(got[skey("grp_pm25", **tags)],
                       _group_reference([points], 3 * HOUR, frm, to),
                       "group_by=station,district %s" % station)
    doc = srv.ok("query", series="grp_pm25", from_=frm, to=to, window="1d", agg="count",
                 group_by="station")
    eq(sorted(e["tags"]["station"] for e in doc["series"]), sorted(STATIONS),
       "group_by=station keeps only the station tag")
    check(all(list(e["tags"]) == ["station"] for e in doc["series"]), "tags are station only")


def test_group_by_with_min_count_and_fill():
    srv = shared()
    data = _stations()
    frm, to = T0 + DAY - 2 * HOUR, T0 + DAY + 10 * HOUR
    d2 = [p for tags, p in data.values() if tags.get("district") == "d2"]
    # s4 is out from T0+1d for 8 h; with min_count=5 the hours where only s5 reports are invalid.
    expected = _group_reference(d2, HOUR, frm, to, min_count=5)
    doc = srv.ok("query", series="grp_pm25", from_=frm, to=to, window="1h",
                 agg=",".join(GROUP_AGGS), group_by="district", min_count=5)
    _compare_group(by_series(doc)[skey("grp_pm25", district="d2")], expected,
                   "d2 min_count=5")
    check(len(expected) < 12, "some hours of d2 are invalid")
    doc = srv.ok("query", series="grp_pm25", from_=frm, to=to, window="1h", agg="count,max",
                 group_by="district", min_count=5, fill="previous")
    rows = by_series(doc)[skey("grp_pm25", district="d2")]
    eq(len(rows), 12, "fill=previous with group_by writes every hour")
    valid = {r[0]: [r[1], r[5]] for r in expected}
    last = None
    for row in rows:
        if row[0] in valid:
            last = valid[row[0]]
        eq(row[1:], last if last is not None else [None, None],
           "d2 window %d with fill=previous" % row[0])


def test_group_by_errors():
    srv = shared()
    _stations()
    for params, status_expected, needle in (
            (dict(group_by="bad tag"), 400, "group_by"),
            (dict(group_by="a,,b"), 400, "group_by"),
            (dict(group_by="district", window=None), 400, "need a window")):
        query = dict(series="grp_pm25", from_=T0, to=T0 + DAY, window="1h", agg="count")
        query.update(params)
        status, doc = srv.query(**query)
        eq(status, status_expected, "status for %r (%r)" % (params, doc))
        check(needle in error_message(doc), "message for %r: %r" % (params, doc))
