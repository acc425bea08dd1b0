# The msgpack columnar write body (Content-Type: application/msgpack): several series in one
# batch, large arrays (array16/array32 forms), timestamps in every integer width, a negative
# timestamp, duplicates within the batch, and the readings read back exactly.

from harness import Model, by_series, eq, msgpack_encode, rng, selector, shared, skey

T0 = 1735689600000
MINUTE = 60000


def test_msgpack_write_reads_back():
    srv = shared()
    r = rng("msgpack_write")
    model = Model()
    batch = []
    for station, n in (("m1", 5), ("m2", 3000), ("m3", 70000)):
        tags = {"station": station, "district": "mp"}
        t, v = [], []
        for i in range(n):
            ts = T0 + i * MINUTE + r.randrange(0, 1000)
            value = round(r.uniform(-10, 300), 2)
            t.append(ts)
            v.append(value)
            model.put("mp_pm10", tags, ts, value)
        batch.append({"metric": "mp_pm10", "tags": tags, "t": t, "v": v})
    # Small timestamps (fixint, uint8/16/32 forms), a negative one, and a duplicate: last wins.
    tags = {"station": "m4", "district": "mp"}
    t = [0, 200, 60000, 4000000000, -86400000, T0, T0]
    v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    for ts, value in zip(t, v):
        model.put("mp_pm10", tags, ts, value)
    batch.append({"metric": "mp_pm10", "tags": tags, "t": t, "v": v})
    body = msgpack_encode({"series": batch})
    status, text = srv.write_msgpack(body)
    eq(status, 204, "msgpack write status (%s)" % text[:300])

    frm, to = -10 * 86400000, T0 + 80000 * MINUTE
    doc = srv.ok("query", series=selector("mp_pm10", district="mp"), from_=frm, to=to)
    got = by_series(doc, ["time", "value"])
    eq(sorted(got), model.keys("mp_pm10"), "series written by msgpack")
    for key in model.keys("mp_pm10"):
        eq(got[key], model.readings(key), "readings of %r" % (key,))
    doc = srv.ok("series", series="mp_pm10")
    eq(by_series(doc)[skey("mp_pm10", station="m4", district="mp")],
       [[-86400000, T0, 6]], "first/last/count of the series with odd timestamps")


def test_msgpack_and_line_protocol_same_series():
    srv = shared()
    srv.write_ok("mix,station=x value=1.5 %d\nmix,station=x value=2.5 %d" % (T0, T0 + 1000),
                 precision="ms")
    status, text = srv.write_msgpack({"series": [{"metric": "mix", "tags": {"station": "x"},
                                                  "t": [T0 + 1000, T0 + 2000],
                                                  "v": [3.5, 4.5]}]})
    eq(status, 204, "msgpack write status (%s)" % text[:300])
    doc = srv.ok("query", series="mix", from_=T0, to=T0 + 3000)
    eq(by_series(doc), {skey("mix", station="x"): [[T0, 1.5], [T0 + 1000, 3.5],
                                                   [T0 + 2000, 4.5]]},
       "readings written by both encodings")
