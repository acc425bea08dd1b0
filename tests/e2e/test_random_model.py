# A randomized model test: many batches mixing in-order readings, late readings anywhere in the
# past (into sealed chunks), re-sent timestamps with new values and out-of-order tails, written
# to a server and compared after every few batches (raw readings, series listing, latest), then
# aggregated, restarted and compared again.

from harness import (AGGS_ALL, Model, Server, by_series, compare_windows, eq, line,
                     reference_windows, rng, skey)

T0 = 1735689600000
MINUTE = 60000
HOUR = 3600000
STATIONS = ("q1", "q2", "q3")


def _compare(srv, model, what):
    end = T0 + 400 * 86400000
    doc = srv.ok("query", series="rnd", from_=T0 - 86400000, to=end)
    got = by_series(doc, ["time", "value"])
    eq(sorted(got), model.keys("rnd"), "%s: series" % what)
    for key in model.keys("rnd"):
        expected = model.readings(key)
        if got[key] != expected:
            eq(len(got[key]), len(expected), "%s: reading count of %r" % (what, key))
            diff = [(g, e) for g, e in zip(got[key], expected) if g != e][:3]
            eq(diff, [], "%s: first differing readings (got, expected) of %r" % (what, key))
    doc = srv.ok("series", series="rnd")
    expected = {k: [[model.readings(k)[0][0], model.readings(k)[-1][0], len(model.readings(k))]]
                for k in model.keys("rnd")}
    eq(by_series(doc, ["first", "last", "count"]), expected, "%s: series listing" % what)
    doc = srv.ok("latest", series="rnd")
    eq(by_series(doc, ["time", "value"]), {k: [model.readings(k)[-1]] for k in model.keys("rnd")},
       "%s: latest" % what)


def test_random_batches_against_model():
    r = rng("random_batches_against_model")
    srv = Server(sync="none", name="random").start()
    try:
        model = Model()
        next_i = {s: 0 for s in STATIONS}
        for batch_no in range(30):
            lines = []
            for _ in range(r.choice((50, 300, 900))):
                station = r.choice(STATIONS)
                tags = {"station": station}
                kind = r.random()
                if kind < 0.70 or next_i[station] < 10:
                    ts = T0 + next_i[station] * MINUTE + r.randrange(0, 3000)
                    next_i[station] += 1
                elif kind < 0.85:  # late: anywhere in the past, new or overwriting
                    ts = T0 + r.randrange(0, next_i[station] * MINUTE)
                elif kind < 0.95:  # re-sent timestamp with a new value
                    existing = model.data.get(skey("rnd", **tags))
                    ts = r.choice(list(existing)) if existing else T0
                else:  # out of order near the end
                    ts = T0 + max(0, next_i[station] - r.randrange(1, 40)) * MINUTE
                value = round(r.uniform(-20, 200), r.choice((1, 3)))
                model.put("rnd", tags, ts, value)
                lines.append(line("rnd", tags, value, ts))
            srv.write_ok("\n".join(lines), precision="ms")
            if batch_no % 6 == 5:
                _compare(srv, model, "after batch %d" % batch_no)
        _compare(srv, model, "at the end")
        end = T0 + (max(next_i.values()) + 1) * MINUTE
        for window, window_ms in (("1h", HOUR), ("1d", 86400000), ("1w", 7 * 86400000)):
            doc = srv.ok("query", series="rnd", from_=T0, to=end, window=window,
                         agg=",".join(AGGS_ALL), tz="+08:00")
            got = by_series(doc, ["time"] + AGGS_ALL)
            for key in model.keys("rnd"):
                compare_windows(got[key], reference_windows(model.readings(key), window_ms,
                                                            8 * HOUR, T0, end, AGGS_ALL),
                                AGGS_ALL, "%r window=%s" % (key, window))
        srv.restart()
        _compare(srv, model, "after restart")
        srv.stop()
    finally:
        srv.cleanup()
