# Calendar windows in a time zone over HTTP, against references computed here with Python's
# datetime and zoneinfo (the system tzdata): months and years in +08:00 and Asia/Shanghai across
# month ends and the 2024 leap day, a range that starts mid-window, a DST zone's days, weeks,
# months and hours across both transitions (Europe/Berlin, America/New_York), offset= shifting
# the grid (positive and negative), and the errors for windows and offsets that make no sense.

import bisect
import datetime as dt
import math
import zoneinfo

from harness import by_series, check, eq, error_message, line, near, rng, shared, skey

MINUTE = 60000
HOUR = 3600000
DAY = 86400000
CST = dt.timezone(dt.timedelta(hours=8))

_state = {}


def _ms(d):
    return int(round(d.timestamp() * 1000))


def _local(ts, tz):
    return dt.datetime.fromtimestamp(ts / 1000, tz=tz)


def _write(srv, metric, tags, points):
    lines = [line(metric, tags, v, t) for t, v in points]
    for k in range(0, len(lines), 5000):
        srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")


def _aggregate(groups, aggs):
    rows = []
    for start in sorted(groups):
        values = groups[start]
        row = [start]
        for agg in aggs:
            if agg == "count":
                row.append(len(values))
            elif agg == "mean":
                row.append(math.fsum(values) / len(values))
            elif agg == "sum":
                row.append(math.fsum(values))
            elif agg == "min":
                row.append(min(values))
            elif agg == "max":
                row.append(max(values))
            else:
                raise ValueError(agg)
        rows.append(row)
    return rows


def _compare(got, expected, aggs, what):
    eq([r[0] for r in got], [r[0] for r in expected], "%s: window starts" % what)
    for g, e in zip(got, expected):
        for i, agg in enumerate(aggs, start=1):
            label = "%s: %s of window %d" % (what, agg, e[0])
            if agg in ("mean", "sum"):
                near(g[i], e[i], label)
            else:
                eq(g[i], e[i], label)


def _reference(points, start_of, from_ms, to_ms, aggs):
    groups = {}
    for t, v in points:
        if from_ms <= t < to_ms:
            groups.setdefault(start_of(t), []).append(v)
    return _aggregate(groups, aggs)


def _query_rows(srv, metric, aggs, **params):
    doc = srv.ok("query", series=metric, agg=",".join(aggs), **params)
    got = by_series(doc, ["time"] + aggs)
    check(len(got) == 1, "one series expected, got %r" % sorted(got))
    return list(got.values())[0]


def _hourly_data():
    """About one reading an hour (random jitter and gaps) from 2023-12-15 to 2025-02-10 UTC."""
    if "hourly" in _state:
        return _state["hourly"]
    srv = shared()
    r = rng("calendar_hourly")
    points = []
    t = _ms(dt.datetime(2023, 12, 15, tzinfo=dt.timezone.utc))
    end = _ms(dt.datetime(2025, 2, 10, tzinfo=dt.timezone.utc))
    while t < end:
        if r.random() > 0.03:
            points.append((t, round(r.uniform(0.1, 3.0), 3)))
        t += HOUR + r.randrange(-600000, 600001)
    # Readings right at local month boundaries (+08:00) and 1 ms before them.
    for y, m in ((2024, 2), (2024, 3), (2025, 1)):
        b = _ms(dt.datetime(y, m, 1, tzinfo=CST))
        points = [p for p in points if p[0] not in (b, b - 1)]
        points += [(b - 1, 9.5), (b, 7.25)]
    points.sort()
    _write(srv, "cal_nh3n", {"section": "cp"}, points)
    _state["hourly"] = points
    return points


def _month_start(t, tz, months=1):
    d = _local(t, tz)
    index = (d.year - 1970) * 12 + d.month - 1
    index -= index % months
    return _ms(dt.datetime(1970 + index // 12, index % 12 + 1, 1, tzinfo=tz))


def _year_start(t, tz):
    return _ms(dt.datetime(_local(t, tz).year, 1, 1, tzinfo=tz))


def test_monthly_windows_fixed_offset_and_leap_february():
    srv = shared()
    points = _hourly_data()
    aggs = ["count", "mean", "min", "max"]
    # The range starts mid-month (2023-12-20 05:00 local): December's row still carries the
    # window start (Dec 1 local) but counts only readings from `from` on.
    frm = _ms(dt.datetime(2023, 12, 20, 5, 0, tzinfo=CST))
    to = _ms(dt.datetime(2025, 2, 3, 0, 0, tzinfo=CST))
    got = _query_rows(srv, "cal_nh3n", aggs, from_=frm, to=to, window="1mo", tz="+08:00")
    expected = _reference(points, lambda t: _month_start(t, CST), frm, to, aggs)
    _compare(got, expected, aggs, "1mo in +08:00")
    eq(len(got), 15, "months from 2023-12 to 2025-02")
    eq(got[0][0], _ms(dt.datetime(2023, 12, 1, tzinfo=CST)), "first window starts Dec 1 local")
    # February 2024 has 29 days: its window ends at March 1 local, where the 7.25 reading is.
    feb = [r for r in got if r[0] == _ms(dt.datetime(2024, 2, 1, tzinfo=CST))][0]
    mar = [r for r in got if r[0] == _ms(dt.datetime(2024, 3, 1, tzinfo=CST))][0]
    eq(feb[4], 9.5, "the reading 1 ms before March 1 local is February's max")
    eq(mar[4] >= 7.25, True, "the reading at March 1 local belongs to March")
    # The same through the IANA name (no DST in 2024) and through the URL-decoded ' 08:00'.
    for tz in ("Asia/Shanghai", " 08:00"):
        again = _query_rows(srv, "cal_nh3n", aggs, from_=frm, to=to, window="1mo", tz=tz)
        eq(again, got, "1mo with tz=%r equals +08:00" % tz)


def test_quarter_and_year_windows():
    srv = shared()
    points = _hourly_data()
    aggs = ["count", "sum", "max"]
    frm = _ms(dt.datetime(2023, 12, 15, tzinfo=dt.timezone.utc))
    to = _ms(dt.datetime(2025, 2, 10, tzinfo=dt.timezone.utc))
    got = _query_rows(srv, "cal_nh3n", aggs, from_=frm, to=to, window="3mo", tz="+08:00")
    _compare(got, _reference(points, lambda t: _month_start(t, CST, 3), frm, to, aggs), aggs,
             "3mo in +08:00")
    eq([_local(r[0], CST).month for r in got], [10, 1, 4, 7, 10, 1], "quarters start Jan/Apr/...")
    got = _query_rows(srv, "cal_nh3n", aggs, from_=frm, to=to, window="1y", tz="+08:00")
    _compare(got, _reference(points, lambda t: _year_start(t, CST), frm, to, aggs), aggs,
             "1y in +08:00")
    eq(len(got), 3, "years 2023, 2024, 2025")
    # In UTC (no tz) the boundaries move by 8 hours.
    got = _query_rows(srv, "cal_nh3n", aggs, from_=frm, to=to, window="1mo")
    _compare(got, _reference(points, lambda t: _month_start(t, dt.timezone.utc), frm, to, aggs),
             aggs, "1mo in UTC")


def _dst_data(metric, zone_name, days):
    """A reading every 10 minutes over the given local dates (+-1 day) in the zone."""
    key = (metric, zone_name)
    if key in _state:
        return _state[key]
    srv = shared()
    r = rng("calendar_" + metric)
    zone = zoneinfo.ZoneInfo(zone_name)
    points = []
    for first, last in days:
        t = _ms(dt.datetime(*first, tzinfo=zone)) - DAY
        end = _ms(dt.datetime(*last, tzinfo=zone)) + DAY
        while t < end:
            points.append((t, round(r.uniform(0, 100), 2)))
            t += 10 * MINUTE
    points.sort()
    _write(srv, metric, {"site": "x"}, points)
    _state[key] = points
    return points


def _first_at_or_after(wall, zone):
    """The first instant (UTC ms) whose local time in zone is at or after the naive wall time:
    the wall time itself when it exists (its first occurrence when repeated), else the end of
    the DST gap it falls in."""
    candidate = _ms(wall.replace(tzinfo=zone, fold=0))
    if _local(candidate, zone).replace(tzinfo=None) == wall:
        earlier = _ms(wall.replace(tzinfo=zone, fold=0))
        return earlier
    lo, hi = candidate - 4 * HOUR, candidate
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _local(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return hi


def _wall_boundaries(zone, width_ms, from_ms, to_ms, anchor_ms=0):
    """UTC instants of local wall times anchor + k * width (see _first_at_or_after)."""
    epoch = dt.datetime(1970, 1, 1)
    lo = (from_ms - 2 * DAY - anchor_ms) // width_ms
    hi = (to_ms + 2 * DAY - anchor_ms) // width_ms
    out = []
    for k in range(lo, hi + 1):
        wall = epoch + dt.timedelta(milliseconds=k * width_ms + anchor_ms)
        out.append(_first_at_or_after(wall, zone))
    return sorted(set(out))


def _start_in(bounds):
    def start_of(t):
        i = bisect.bisect_right(bounds, t) - 1
        return bounds[i]
    return start_of


def test_dst_days_weeks_months_europe_berlin():
    srv = shared()
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    points = _dst_data("cal_berlin", "Europe/Berlin",
                       [((2024, 3, 27), (2024, 4, 3)), ((2024, 10, 23), (2024, 10, 30))])
    aggs = ["count", "mean"]
    frm, to = points[0][0], points[-1][0] + 1
    bounds = _wall_boundaries(zone, DAY, frm - 2 * DAY, to + 2 * DAY)
    got = _query_rows(srv, "cal_berlin", aggs, from_=frm, to=to, window="1d",
                      tz="Europe/Berlin")
    _compare(got, _reference(points, _start_in(bounds), frm, to, aggs), aggs, "1d Berlin")
    by_start = {r[0]: r for r in got}
    spring = _ms(dt.datetime(2024, 3, 31, tzinfo=zone))
    autumn = _ms(dt.datetime(2024, 10, 27, tzinfo=zone))
    eq(by_start[spring][1], 23 * 6, "readings on the 23-hour day 2024-03-31")
    eq(by_start[autumn][1], 25 * 6, "readings on the 25-hour day 2024-10-27")
    eq(spring, _ms(dt.datetime(2024, 3, 30, 23, tzinfo=dt.timezone.utc)), "local midnight CET")
    # Weeks start on Monday at local midnight.
    got = _query_rows(srv, "cal_berlin", aggs, from_=frm, to=to, window="1w",
                      tz="Europe/Berlin")
    wbounds = _wall_boundaries(zone, 7 * DAY, frm - 14 * DAY, to + 14 * DAY, anchor_ms=-3 * DAY)
    _compare(got, _reference(points, _start_in(wbounds), frm, to, aggs), aggs, "1w Berlin")
    for row in got:
        d = _local(row[0], zone)
        eq((d.weekday(), d.hour, d.minute), (0, 0, 0), "week start %d is a local Monday" % row[0])
    # Months: March 2024 starts at 23:00Z (CET), April at 22:00Z (CEST).
    got = _query_rows(srv, "cal_berlin", aggs, from_=frm, to=to, window="1mo",
                      tz="Europe/Berlin")
    _compare(got, _reference(points, lambda t: _month_start(t, zone), frm, to, aggs), aggs,
             "1mo Berlin")
    check(_ms(dt.datetime(2024, 3, 31, 22, tzinfo=dt.timezone.utc)) in [r[0] for r in got],
          "April 2024 starts at 2024-03-31T22:00Z in Berlin")


def test_dst_sub_day_windows():
    srv = shared()
    aggs = ["count", "max"]
    for metric, zone_name, days in (
            ("cal_berlin", "Europe/Berlin",
             [((2024, 3, 27), (2024, 4, 3)), ((2024, 10, 23), (2024, 10, 30))]),
            ("cal_newyork", "America/New_York",
             [((2024, 3, 8), (2024, 3, 12)), ((2024, 11, 1), (2024, 11, 5))])):
        zone = zoneinfo.ZoneInfo(zone_name)
        points = _dst_data(metric, zone_name, days)
        frm, to = points[0][0], points[-1][0] + 1
        for window, width in (("1h", HOUR), ("3h", 3 * HOUR), ("15m", 15 * MINUTE),
                              ("2d", 2 * DAY), ("7m", 7 * MINUTE)):
            got = _query_rows(srv, metric, aggs, from_=frm, to=to, window=window, tz=zone_name)
            bounds = _wall_boundaries(zone, width, frm - 3 * DAY, to + 3 * DAY)
            _compare(got, _reference(points, _start_in(bounds), frm, to, aggs), aggs,
                     "%s in %s" % (window, zone_name))
    # The repeated hour of 2024-10-27 in Berlin (02:00-03:00 twice) is one 2-hour window.
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    start = _ms(dt.datetime(2024, 10, 27, 2, 0, tzinfo=zone, fold=0))
    got = _query_rows(srv, "cal_berlin", ["count"], from_=start - HOUR, to=start + 3 * HOUR,
                      window="1h", tz="Europe/Berlin")
    eq(got, [[start - HOUR, 6], [start, 12], [start + 2 * HOUR, 6]],
       "hourly windows across the Berlin fall-back")


def test_offset_shifts_the_grid():
    srv = shared()
    points = _hourly_data()
    aggs = ["count", "sum"]
    frm = _ms(dt.datetime(2024, 5, 3, 13, 0, tzinfo=CST))
    to = _ms(dt.datetime(2024, 5, 20, 0, 0, tzinfo=CST))
    for offset, shift in (("6h", 6 * HOUR), ("-2h30m", -(2 * HOUR + 30 * MINUTE)),
                          ("1d", DAY), ("4d", 4 * DAY)):
        for window, width in (("1d", DAY), ("1w", 7 * DAY), ("5h", 5 * HOUR)):
            got = _query_rows(srv, "cal_nh3n", aggs, from_=frm, to=to, window=window,
                              tz="+08:00", offset=offset)
            # Whole weeks start on local Mondays: 3 days after the epoch's Thursday grid.
            monday = 3 * DAY if width % (7 * DAY) == 0 else 0
            expected = _reference(
                points,
                lambda t: (t + 8 * HOUR + monday - shift) // width * width - 8 * HOUR - monday
                + shift, frm, to, aggs)
            _compare(got, expected, aggs, "window=%s offset=%s" % (window, offset))
    # A shifted month: the audit month that starts at 08:00 local on the 1st.
    got = _query_rows(srv, "cal_nh3n", aggs, from_=frm, to=to, window="1mo", tz="+08:00",
                      offset="8h")
    expected = _reference(points, lambda t: _month_start(t - 8 * HOUR, CST) + 8 * HOUR, frm, to,
                          aggs)
    _compare(got, expected, aggs, "1mo offset=8h")
    # 1w windows start on local Mondays in a fixed offset too, and offset=1d moves them to Tuesday.
    got = _query_rows(srv, "cal_nh3n", aggs, from_=frm, to=to, window="1w", tz="+08:00")
    for row in got:
        eq(_local(row[0], CST).weekday(), 0, "1w starts on Monday")
        eq(_local(row[0], CST).hour, 0, "1w starts at local midnight")
    got = _query_rows(srv, "cal_nh3n", aggs, from_=frm, to=to, window="1w", tz="+08:00",
                      offset="1d")
    for row in got:
        eq(_local(row[0], CST).weekday(), 1, "1w offset=1d starts on Tuesday")


def test_calendar_parameter_errors():
    srv = shared()
    _hourly_data()
    base = dict(series="cal_nh3n", from_=0, to=86400000 * 400)
    for params, needle in (
            (dict(window="1mo1d"), "not a mix"),
            (dict(window="1d", offset="1mo"), "offset"),
            (dict(window="1d", offset="abc"), "offset"),
            (dict(window="1d", offset="500d"), "offset"),
            (dict(window="1d", tz="Mars/Base"), "tz"),
            (dict(window="1d", tz="../etc/passwd"), "tz"),
            (dict(window="1d", tz="+25:00"), "tz"),
            (dict(offset="1h"), "need a window"),
            (dict(window="1mo", agg="mean,median"), "agg")):
        status, doc = srv.query(**dict(base, **params))
        eq(status, 400, "status of %r (%r)" % (params, doc))
        check(needle in error_message(doc), "message for %r names %r: %r" % (params, needle, doc))
    # Zone-following windows obey max_windows like fixed ones (1M by default): 1h over 500 years
    # is refused; monthly windows over the same range answer.
    status, doc = srv.query(series="cal_nh3n", from_=-8000000000000, to=8000000000000,
                            window="1h", tz="Asia/Shanghai", agg="count")
    eq(status, 422, "1h windows over 500 years: status (%r)" % (doc,))
    check("the limit is 1000000" in error_message(doc), "limit message: %r" % (doc,))
    doc = srv.ok("query", series="cal_nh3n", from_=-8000000000000, to=8000000000000,
                 window="1mo", tz="Asia/Shanghai", agg="count")
    total = sum(r[1] for r in by_series(doc)[skey("cal_nh3n", section="cp")])
    eq(total, len(_hourly_data()), "monthly counts over 500 years add up to every reading")
