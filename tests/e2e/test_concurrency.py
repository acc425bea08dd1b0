# Concurrent writers and readers: 4 writer threads each write their own series in batches while 4
# reader threads query at the same time. Every write answers 204, every read 200; a reader never
# sees part of a request (counts move in whole batches and never go back); the final data is exact.

import threading

from harness import Model, by_series, check, eq, line, rng, selector, shared, skey

T0 = 1735689600000
MINUTE = 60000
WRITERS = 4
READERS = 4
BATCHES = 25
BATCH = 400


def test_concurrent_writers_and_readers():
    srv = shared()
    r = rng("concurrent_writers_and_readers")
    model = Model()
    bodies = {}
    for w in range(WRITERS):
        tags = {"writer": "w%d" % w}
        batches = []
        for b in range(BATCHES):
            lines = []
            for i in range(BATCH):
                ts = T0 + (b * BATCH + i) * MINUTE
                value = round(r.uniform(0, 100), 1)
                model.put("conc", tags, ts, value)
                lines.append(line("conc", tags, value, ts))
            batches.append("\n".join(lines))
        bodies[w] = batches

    errors = []
    done = threading.Event()
    lock = threading.Lock()

    def fail(message):
        with lock:
            errors.append(message)

    def writer(w):
        try:
            for b, body in enumerate(bodies[w]):
                status, text = srv.write_lines(body, precision="ms")
                if status != 204:
                    fail("writer %d batch %d: status %d %s" % (w, b, status, text[:200]))
                    return
        except Exception as e:  # noqa: BLE001 - reported as a failure
            fail("writer %d: %r" % (w, e))

    reads = [0] * READERS

    def reader(n):
        seen = {}
        end = T0 + BATCHES * BATCH * MINUTE
        try:
            while not done.is_set() or reads[n] < 3:
                kind = reads[n] % 3
                if kind == 0:
                    status, doc = srv.get("series", series="conc")
                elif kind == 1:
                    status, doc = srv.get("query", series=selector("conc", writer="w%d" % n),
                                          from_=T0, to=end, window="1h", agg="count,mean")
                else:
                    status, doc = srv.get("query", series=selector("conc", writer="w%d" % n),
                                          from_=T0, to=end)
                reads[n] += 1
                if status != 200:
                    fail("reader %d: status %d %r" % (n, status, doc))
                    return
                if kind == 0:
                    for key, rows in by_series(doc, ["first", "last", "count"]).items():
                        count = rows[0][2]
                        if count % BATCH != 0 or count < seen.get(key, 0):
                            fail("reader %d: %r count %d (before %d), not a whole number of "
                                 "batches of %d or went back" % (n, key, count,
                                                                 seen.get(key, 0), BATCH))
                            return
                        seen[key] = count
                elif kind == 2:
                    rows = by_series(doc).get(skey("conc", writer="w%d" % n), [])
                    if len(rows) % BATCH != 0:
                        fail("reader %d: raw read of w%d saw %d readings, not whole batches"
                             % (n, n, len(rows)))
                        return
        except Exception as e:  # noqa: BLE001 - reported as a failure
            fail("reader %d: %r" % (n, e))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    readers = [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
    for t in readers + threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in readers:
        t.join()
    eq(errors, [], "errors seen by writers and readers")
    check(min(reads) >= 3, "readers made too few requests: %r" % reads)

    doc = srv.ok("series", series="conc")
    expected = {k: [[T0, T0 + (BATCHES * BATCH - 1) * MINUTE, BATCHES * BATCH]]
                for k in model.keys("conc")}
    eq(by_series(doc, ["first", "last", "count"]), expected, "final series listing")
    doc = srv.ok("query", series="conc", from_=T0, to=T0 + BATCHES * BATCH * MINUTE)
    got = by_series(doc, ["time", "value"])
    for key in model.keys("conc"):
        eq(got.get(key), model.readings(key), "final readings of %r" % (key,))
