# Threshold episodes over HTTP (/api/v1/scan?output=episodes|duration) against a reference
# computed here: readings of the range are cut into segments wherever a gap exceeds max_gap; in a
# segment each maximal run of matching readings is an episode from its first reading to the next
# reading of the segment (the one that does not match), or to its own last reading when the
# segment ends. Long data with stretches entirely below and above the threshold makes the server
# skip or take whole chunks by their summaries; the answers must not change.

from harness import by_series, check, eq, error_message, line, rng, shared, skey

T0 = 1735689600000  # 2025-01-01T00:00:00Z
MINUTE = 60000
HOUR = 3600000
DAY = 86400000

_state = {}

MATCH = {"gt": lambda v, x: v > x, "ge": lambda v, x: v >= x, "lt": lambda v, x: v < x,
         "le": lambda v, x: v <= x}


def reference_episodes(points, op, threshold, from_ms, to_ms, min_duration=0, max_gap=0):
    pts = [(t, v) for t, v in sorted(points) if from_ms <= t < to_ms]
    segments, current = [], []
    for t, v in pts:
        if current and max_gap and t - current[-1][0] > max_gap:
            segments.append(current)
            current = []
        current.append((t, v))
    if current:
        segments.append(current)
    match = MATCH[op]
    pick = max if op in ("gt", "ge") else min
    rows = []
    for seg in segments:
        i = 0
        while i < len(seg):
            if not match(seg[i][1], threshold):
                i += 1
                continue
            j = i
            while j + 1 < len(seg) and match(seg[j + 1][1], threshold):
                j += 1
            end = seg[j + 1][0] if j + 1 < len(seg) else seg[j][0]
            run = seg[i:j + 1]
            if end - seg[i][0] >= min_duration:
                rows.append([seg[i][0], end, end - seg[i][0], len(run), pick(v for _, v in run)])
            i = j + 1
    return rows


def _write(srv, metric, tags, points):
    lines = [line(metric, tags, v, t) for t, v in points]
    for k in range(0, len(lines), 5000):
        srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")


def _load():
    """21 days of 60 s NH3-N readings: days entirely below 1.5 (whole chunks skipped), days
    entirely above (whole chunks taken by summary), and days oscillating around 1.5 with values
    exactly at it; gaps of 5 min, 30 min and 3 h. A second section that never exceeds."""
    if "data" in _state:
        return _state["data"]
    srv = shared()
    r = rng("episodes_data")
    points = []
    for i in range(21 * 1440):
        t = T0 + i * MINUTE
        day = i // 1440
        if (i % 997) < 5 or (i % 4001) < 30 or 15 * 1440 + 100 <= i < 15 * 1440 + 280:
            continue  # gaps
        if day in (2, 3, 4, 5):
            v = round(r.uniform(0.2, 1.2), 3)
        elif day in (8, 9, 10, 11):
            v = round(r.uniform(1.6, 4.0), 3)
        else:
            v = r.choice((1.5, round(r.uniform(0.3, 1.49), 3), round(r.uniform(1.51, 2.5), 3),
                          round(1.5 + r.uniform(-0.2, 0.2), 3)))
            if r.random() < 0.97 and points:
                v = points[-1][1] if r.random() < 0.9 else v  # runs of a few readings
        points.append((t, v))
    data = {skey("ep_nh3n", section="cp"): points,
            skey("ep_nh3n", section="quiet"): [(T0 + i * 10 * MINUTE, 0.4) for i in range(500)]}
    for key, pts in data.items():
        _write(srv, key[0], dict(key[1]), pts)
    _state["data"] = data
    return data


COLUMNS = ["start", "end", "duration", "count", "peak"]


def test_episodes_match_reference():
    srv = shared()
    data = _load()
    key = skey("ep_nh3n", section="cp")
    ranges = ((T0, T0 + 21 * DAY), (T0 + 8 * DAY + 7 * HOUR + 1, T0 + 13 * DAY + 5),
              (T0 + 3 * DAY, T0 + 9 * DAY))
    total = 0
    for op, threshold in (("gt", 1.5), ("ge", 1.5), ("lt", 0.8), ("le", 1.5)):
        for min_duration, min_text in ((0, None), (2 * HOUR, "2h")):
            for max_gap, gap_text in ((0, None), (10 * MINUTE, "10m"), (HOUR, "1h")):
                for frm, to in ranges:
                    doc = srv.ok("scan", series='ep_nh3n{section="cp"}', from_=frm, to=to,
                                 op=op, value=threshold, output="episodes",
                                 min_duration=min_text, max_gap=gap_text)
                    got = by_series(doc, COLUMNS)
                    expected = reference_episodes(data[key], op, threshold, frm, to,
                                                  min_duration, max_gap)
                    what = "op=%s min_duration=%s max_gap=%s range=%d..%d" % (
                        op, min_text, gap_text, frm, to)
                    eq(got.get(key, []), expected, what)
                    total += len(expected)
                    doc = srv.ok("scan", series="ep_nh3n", from_=frm, to=to, op=op,
                                 value=threshold, output="duration", min_duration=min_text,
                                 max_gap=gap_text)
                    got = by_series(doc, ["duration"])
                    quiet = reference_episodes(data[skey("ep_nh3n", section="quiet")], op,
                                               threshold, frm, to, min_duration, max_gap)
                    eq(got, {key: [[sum(e[2] for e in expected)]],
                             skey("ep_nh3n", section="quiet"): [[sum(e[2] for e in quiet)]]},
                       "duration " + what)
    check(total > 500, "the data makes many episodes (%d)" % total)


def test_episode_definition_worked_example():
    # Readings (minute: value): 0:1.0 1:2.0 2:2.5 3:1.0 | 4:2.0 5:3.0 then nothing until 50:2.0,
    # 51:0.5, 52:1.6, 53:1.7 (last reading). Above 1.5:
    #   [1, 3]: ended by the reading at 3 -> 2 minutes, 2 readings, peak 2.5
    #   [4, 50]: without max_gap one run ended by 0.5 at 51: 47 min, 3 readings, peak 3
    #   with max_gap=10m the 45-minute gap ends it at its last reading (5): 1 min; then [50, 51]
    #   [52, 53]: the data ends: 1 minute, peak 1.7
    srv = shared()
    base = T0 + 40 * DAY
    values = {0: 1.0, 1: 2.0, 2: 2.5, 3: 1.0, 4: 2.0, 5: 3.0, 50: 2.0, 51: 0.5, 52: 1.6, 53: 1.7}
    _write(srv, "ep_example", {"s": "1"}, [(base + m * MINUTE, v) for m, v in values.items()])
    key = skey("ep_example", s="1")

    def rows(**params):
        doc = srv.ok("scan", series="ep_example", from_=base, to=base + HOUR, op="gt", value=1.5,
                     output="episodes", **params)
        return by_series(doc, COLUMNS)[key]

    m = MINUTE
    eq(rows(), [[base + m, base + 3 * m, 2 * m, 2, 2.5],
                [base + 4 * m, base + 51 * m, 47 * m, 3, 3.0],
                [base + 52 * m, base + 53 * m, m, 2, 1.7]], "no max_gap")
    eq(rows(max_gap="10m"),
       [[base + m, base + 3 * m, 2 * m, 2, 2.5], [base + 4 * m, base + 5 * m, m, 2, 3.0],
        [base + 50 * m, base + 51 * m, m, 1, 2.0], [base + 52 * m, base + 53 * m, m, 2, 1.7]],
       "max_gap=10m")
    eq(rows(max_gap="10m", min_duration="2m"), [[base + m, base + 3 * m, 2 * m, 2, 2.5]],
       "min_duration=2m")
    doc = srv.ok("scan", series="ep_example", from_=base, to=base + HOUR, op="gt", value=1.5,
                 output="duration", max_gap="10m")
    eq(by_series(doc)[key], [[5 * m]], "duration with max_gap=10m")
    # "How long was NH3-N above 1.5 mg/L" as CSV.
    status, headers, body = srv.request("GET", "/api/v1/scan?series=ep_example&from=%d&to=%d&op=gt"
                                        "&value=1.5&output=duration&format=csv"
                                        % (base, base + HOUR))
    eq(status, 200, "csv status")
    lines = body.decode().splitlines()
    eq(len(lines), 2, "csv: a header and one row: %r" % lines)
    check(lines[0].endswith("duration") and lines[1].endswith(",%d" % (50 * m)),
          "csv holds the duration (2 + 47 + 1 minutes): %r" % lines)


def test_episode_parameter_errors():
    srv = shared()
    _load()
    base = dict(series="ep_nh3n", from_=T0, to=T0 + DAY, op="gt", value=1.5)
    for params, needle in ((dict(output="count", min_duration="1h"), "min_duration"),
                           (dict(output="points", max_gap="1h"), "max_gap"),
                           (dict(output="episodes", max_gap="-5m"), "max_gap"),
                           (dict(output="episodes", min_duration="1mo"), "min_duration"),
                           (dict(output="episodes", min_duration="soon"), "min_duration"),
                           (dict(output="runs"), "output")):
        status, doc = srv.get("scan", **dict(base, **params))
        eq(status, 400, "status for %r (%r)" % (params, doc))
        check(needle in error_message(doc), "message for %r names %s: %r" % (params, needle, doc))
