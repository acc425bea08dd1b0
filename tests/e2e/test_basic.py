# Basic HTTP contract: health, metrics, unknown paths and methods, the write aliases, write then
# raw read with exact values and times, timestamp precisions, lines without timestamps, the
# field-to-metric mapping, UTF-8 tag values and RFC 3339 time parameters.

import time

from harness import (Model, by_series, check, eq, error_message, line, rng, selector, shared,
                     skey)

T0 = 1735689600000  # 2025-01-01T00:00:00Z


def test_health_and_metrics():
    srv = shared()
    status, _, body = srv.request("GET", "/health")
    eq(status, 200, "GET /health status")
    status, hdrs, body = srv.request("GET", "/metrics")
    eq(status, 200, "GET /metrics status")
    text = body.decode("utf-8", "replace")
    check(any(l and not l.startswith("#") for l in text.splitlines()),
          "/metrics has no sample lines: %r" % text[:300])


def test_unknown_path_is_404():
    srv = shared()
    for path in ("/api/v1/nonexistent", "/nope", "/api/v1/query/extra"):
        status, doc = srv.get(path)
        eq(status, 404, "GET %s status" % path)
        error_message(doc)


def test_wrong_method_is_405():
    srv = shared()
    for method, path in (("GET", "/api/v1/write"), ("POST", "/api/v1/query"),
                         ("PUT", "/api/v1/series"), ("DELETE", "/health")):
        status, _, _ = srv.request(method, path, body=b"" if method != "GET" else None)
        eq(status, 405, "%s %s status" % (method, path))


def test_write_then_raw_exact():
    srv = shared()
    r = rng("write_then_raw_exact")
    model = Model()
    tags_a = {"station": "s01", "district": "a"}
    tags_b = {"station": "s02", "district": "a"}
    lines = []
    for tags in (tags_a, tags_b):
        times = r.sample(range(T0, T0 + 3600 * 1000), 300)  # ms resolution, distinct, unordered
        for ts in times:
            value = round(r.uniform(-50, 500), r.choice((0, 1, 3)))
            model.put("basic_pm25", tags, ts, value)
            lines.append(line("basic_pm25", tags, value, ts))
    r.shuffle(lines)
    srv.write_ok("\n".join(lines) + "\n", precision="ms")

    for tags in (tags_a, tags_b):
        key = skey("basic_pm25", **tags)
        doc = srv.ok("query", series=selector("basic_pm25", **tags), from_=T0, to=T0 + 3600 * 1000)
        got = by_series(doc, ["time", "value"])
        eq(list(got), [key], "series returned for %s" % selector("basic_pm25", **tags))
        eq(got[key], model.readings(key), "raw readings of %r" % (key,))

    # Both series by metric alone; the range is half-open [from, to).
    pts = model.readings(skey("basic_pm25", **tags_a))
    lo, hi = pts[10][0], pts[20][0]
    doc = srv.ok("query", series="basic_pm25", from_=lo, to=hi)
    got = by_series(doc, ["time", "value"])
    for tags in (tags_a, tags_b):
        key = skey("basic_pm25", **tags)
        expected = model.readings(key, lo, hi)
        if expected:
            eq(got.get(key), expected, "raw readings of %r in [%d,%d)" % (key, lo, hi))
        else:
            check(key not in got, "series %r without readings in range was returned" % (key,))
    eq(len(got[skey("basic_pm25", **tags_a)]), 10, "readings in [t10, t20)")


def test_precisions():
    srv = shared()
    r = rng("precisions")
    times = sorted(r.sample(range(T0 // 1000, T0 // 1000 + 86400), 20))  # whole seconds
    values = [round(r.uniform(0, 100), 1) for _ in times]
    scale = {"ns": 1000000, "us": 1000, "ms": 1, "s": None, None: 1000000}
    for precision, factor in scale.items():
        metric = "prec_%s" % (precision or "default")
        body = []
        for sec, value in zip(times, values):
            ms = sec * 1000 + (0 if precision == "s" else r.randrange(1000))
            stamp = sec if precision == "s" else ms * factor
            body.append((ms, value, line(metric, {"k": "v"}, value, stamp)))
        srv.write_ok("\n".join(b[2] for b in body), precision=precision)
        doc = srv.ok("query", series=metric, from_=T0 - 1000, to=T0 + 86400 * 1000 + 1000)
        got = by_series(doc, ["time", "value"])
        eq(got.get(skey(metric, k="v")), [[b[0], b[1]] for b in body],
           "readings written with precision=%s" % precision)


def test_line_without_timestamp_gets_server_time():
    srv = shared()
    before = int(time.time() * 1000)
    srv.write_ok("notime,station=s01 value=42.5\n")
    after = int(time.time() * 1000)
    doc = srv.ok("query", series="notime", from_=before - 600000, to=after + 600000)
    rows = by_series(doc, ["time", "value"]).get(skey("notime", station="s01"))
    check(rows is not None and len(rows) == 1, "expected one reading, got %r" % (rows,))
    ts, value = rows[0]
    eq(value, 42.5, "value")
    check(before - 5000 <= ts <= after + 5000,
          "timestamp %d not within 5 s of the request (%d..%d)" % (ts, before, after))


def test_field_mapping_and_integers():
    srv = shared()
    ts = T0 + 123456
    srv.write_ok("air,station=m1 pm25=12.5,pm10=30i,value=7 %d\n" % ts, precision="ms")
    for metric, value in (("air_pm25", 12.5), ("air_pm10", 30.0), ("air", 7.0)):
        doc = srv.ok("query", series=selector(metric, station="m1"), from_=T0, to=T0 + 86400000)
        eq(by_series(doc, ["time", "value"]), {skey(metric, station="m1"): [[ts, value]]},
           "result for %s" % metric)


def test_utf8_tags_and_escapes():
    srv = shared()
    ts = T0 + 5000
    # Line protocol escapes: a space and a comma inside tag values.
    body = ("utf8m,district=九龙坡,station=jlp\\ 01 value=1.5 %d\n"
            "utf8m,district=九龙坡,station=a\\,b value=2.5 %d\n" % (ts, ts))
    srv.write_ok(body, precision="ms")
    doc = srv.ok("query", series=selector("utf8m", district="九龙坡"), from_=T0, to=T0 + 10000)
    eq(by_series(doc, ["time", "value"]),
       {skey("utf8m", district="九龙坡", station="jlp 01"): [[ts, 1.5]],
        skey("utf8m", district="九龙坡", station="a,b"): [[ts, 2.5]]},
       "series with UTF-8 and escaped tag values")


def test_write_aliases():
    srv = shared()
    ts = T0 + 777
    for i, (path, params) in enumerate((("/write", {"db": "telemetry"}),
                                        ("/api/v2/write", {"org": "o", "bucket": "telemetry"}),
                                        ("/api/v1/write", {}))):
        status, body = srv.write_lines("alias,path=p%d value=%d %d\n" % (i, i, ts),
                                       precision="ms", path=path, params=params)
        eq(status, 204, "POST %s status (%s)" % (path, body[:200]))
    doc = srv.ok("query", series="alias", from_=T0, to=T0 + 1000)
    eq(by_series(doc, ["time", "value"]),
       {skey("alias", path="p%d" % i): [[ts, float(i)]] for i in range(3)},
       "readings written through the aliases")


def test_rfc3339_time_parameters():
    srv = shared()
    base = 1735660800000  # 2025-01-01T00:00:00+08:00
    hour = 3600000
    lines = [line("rfc", {"s": "1"}, i, base + i * hour) for i in range(-3, 4)]
    srv.write_ok("\n".join(lines), precision="ms")
    cases = ((base - hour, base + 2 * hour, base - hour, base + 2 * hour),
             ("2025-01-01T00:00:00+08:00", "2025-01-01T02:00:00+08:00", base, base + 2 * hour),
             ("2024-12-31T15:00:00Z", "2024-12-31T18:00:00Z", base - hour, base + 2 * hour),
             ("2024-12-31T15:00:00.000Z", "2025-01-01T01:00:00.5+08:00", base - hour,
              base + hour + 500),
             ("2024-12-31T10:00:00-05:00", str(base + 3 * hour), base - hour, base + 3 * hour))
    for frm, to, frm_ms, to_ms in cases:
        doc = srv.ok("query", series="rfc", from_=frm, to=to)
        expected = [[base + i * hour, float(i)] for i in range(-3, 4)
                    if frm_ms <= base + i * hour < to_ms]
        eq(by_series(doc).get(skey("rfc", s="1")), expected,
           "readings for from=%s to=%s" % (frm, to))
