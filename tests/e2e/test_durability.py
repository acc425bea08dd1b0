# Durability: a clean restart (SIGTERM, start again on the same directory) answers every query
# exactly as before, sealed chunks, unsealed tails and late rewrites included; after kill -9 in
# the middle of a stream of acknowledged writes (sync=full) every acknowledged reading is there
# and every unacknowledged request is there whole or not at all.

import threading
import time

from harness import (Model, Server, by_series, check, eq, line, msgpack_encode, rng,
                     selector, skey)

T0 = 1735689600000
MINUTE = 60000
DAY = 86400000


def _views(srv):
    """Every kind of answer over the test's data, as parsed JSON, for before/after comparison."""
    frm, to = T0 - DAY, T0 + 30 * DAY
    views = {}
    views["raw"] = srv.ok("query", series="dur", from_=frm, to=to)
    views["series"] = srv.ok("series", series="dur")
    views["latest"] = srv.ok("latest", series="dur")
    views["daily"] = srv.ok("query", series="dur", from_=frm, to=to, window="1d",
                            agg="count,sum,mean,min,max,first,last", tz="+08:00")
    views["hourly"] = srv.ok("query", series=selector("dur", station="r1"), from_=frm, to=to,
                             window="1h", agg="mean,count")
    views["scan"] = srv.ok("scan", series="dur", from_=frm, to=to, op="gt", value=80,
                           output="count")
    views["scan_points"] = srv.ok("scan", series="dur", from_=frm, to=to, op="le", value=1.0)
    return views


def _check_model(srv, model, what):
    doc = srv.ok("query", series="dur", from_=T0 - DAY, to=T0 + 30 * DAY)
    got = by_series(doc, ["time", "value"])
    eq(sorted(got), model.keys("dur"), "%s: series" % what)
    for key in model.keys("dur"):
        eq(len(got[key]), len(model.readings(key)), "%s: count of %r" % (what, key))
        eq(got[key], model.readings(key), "%s: readings of %r" % (what, key))


def test_restart_reads_identically():
    r = rng("restart_reads_identically")
    srv = Server(sync="full", name="restart").start()
    try:
        model = Model()
        lines = []
        for station, n in (("r1", 5000), ("r2", 2500), ("r3", 100)):
            tags = {"station": station}
            for i in range(n):
                ts = T0 + i * MINUTE
                value = round(r.uniform(0, 100), 1)
                model.put("dur", tags, ts, value)
                lines.append(line("dur", tags, value, ts))
        for k in range(0, len(lines), 5000):
            srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")
        # Late readings into the sealed part and overwrites, by both encodings.
        late = []
        for i in r.sample(range(2000), 100):
            ts = T0 + i * MINUTE + 15000
            model.put("dur", {"station": "r1"}, ts, 0.5)
            late.append(line("dur", {"station": "r1"}, 0.5, ts))
        srv.write_ok("\n".join(late), precision="ms")
        t = [T0 + i * MINUTE for i in r.sample(range(2500), 50)]
        v = [round(r.uniform(90, 99), 1) for _ in t]
        for ts, value in zip(t, v):
            model.put("dur", {"station": "r2"}, ts, value)
        status, text = srv.write_msgpack(msgpack_encode(
            {"series": [{"metric": "dur", "tags": {"station": "r2"}, "t": t, "v": v}]}))
        eq(status, 204, "msgpack write (%s)" % text[:200])

        before = _views(srv)
        _check_model(srv, model, "before restart")
        # The test means to read sealed chunks: where the server reports its chunk count (not a
        # contract; skipped if absent), 5000 readings of r1 must have sealed some.
        status, _, text = srv.request("GET", "/metrics")
        for metric_line in text.decode("utf-8", "replace").splitlines():
            if metric_line.startswith("jialing_chunks "):
                check(float(metric_line.split()[1]) >= 2, "no sealed chunks: %r" % metric_line)
        srv.restart()
        eq(_views(srv), before, "answers after a restart")

        # More writes after the restart (new data, overwrites of sealed readings), restart again.
        more = []
        for i in list(range(5000, 5600)) + r.sample(range(3000), 100):
            ts = T0 + i * MINUTE
            value = round(r.uniform(0, 100), 1)
            model.put("dur", {"station": "r1"}, ts, value)
            more.append(line("dur", {"station": "r1"}, value, ts))
        srv.write_ok("\n".join(more), precision="ms")
        before = _views(srv)
        _check_model(srv, model, "after more writes")
        srv.restart()
        eq(_views(srv), before, "answers after a second restart")
        _check_model(srv, model, "after a second restart")
        srv.stop()
    finally:
        srv.cleanup()


def test_kill9_keeps_acknowledged_writes():
    r = rng("kill9_keeps_acknowledged_writes")
    srv = Server(sync="full", name="kill9").start()
    try:
        writers = 3
        per_batch = 60
        acked = {w: [] for w in range(writers)}   # batch numbers answered 204
        sent = {w: [] for w in range(writers)}    # batch numbers whose request was started
        bodies = {}
        seed = r.randrange(1 << 30)
        stop = threading.Event()
        problems = []

        def batch_readings(w, b):
            if (w, b) not in bodies:
                rr = rng_for(w, b)
                bodies[(w, b)] = [(T0 + (b * per_batch + i) * MINUTE, round(rr.uniform(0, 100), 1))
                                  for i in range(per_batch)]
            return bodies[(w, b)]

        def rng_for(w, b):
            import random
            return random.Random(seed * 1000003 + w * 10007 + b)

        next_batch = {w: 0 for w in range(writers)}

        def writer(w):
            b = next_batch[w]
            while not stop.is_set():
                text = "\n".join(line("dur", {"station": "k%d" % w}, v, ts)
                                  for ts, v in batch_readings(w, b))
                sent[w].append(b)
                next_batch[w] = b + 1
                try:
                    status, body = srv.write_lines(text, precision="ms")
                except Exception:  # the server was killed mid-request
                    return
                if status == 204:
                    acked[w].append(b)
                else:
                    problems.append("writer %d batch %d: status %d %s" % (w, b, status, body[:200]))
                    return
                b += 1

        # Three rounds: write from several threads, kill -9 at a random moment, restart, check.
        for round_no in range(3):
            stop.clear()
            target = sum(len(a) for a in acked.values()) + 40
            threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and sum(len(a) for a in acked.values()) < target:
                time.sleep(0.005)
            time.sleep(r.uniform(0, 0.05))
            srv.kill9()
            stop.set()
            for t in threads:
                t.join()
            eq(problems, [], "round %d: write failures before the kill" % round_no)
            total = sum(len(a) for a in acked.values())
            check(total >= target - 30, "round %d: only %d batches were acknowledged before the "
                  "kill" % (round_no, total))
            print("  kill9 round %d: %d acknowledged batches, %d started"
                  % (round_no, total, sum(len(x) for x in sent.values())))

            srv.start()
            doc = srv.ok("query", series="dur", from_=T0 - DAY, to=T0 + 365 * DAY)
            got = by_series(doc, ["time", "value"])
            for w in range(writers):
                key = skey("dur", station="k%d" % w)
                stored = {ts: v for ts, v in got.get(key, [])}
                for b in sent[w]:
                    readings = batch_readings(w, b)
                    present = [ts in stored and stored[ts] == v for ts, v in readings]
                    if b in acked[w]:
                        check(all(present), "round %d: writer %d: acknowledged batch %d lost %d "
                              "of %d readings" % (round_no, w, b, present.count(False),
                                                  len(present)))
                    else:
                        check(all(present) or not any(present),
                              "round %d: writer %d: unacknowledged batch %d stored in part "
                              "(%d of %d)" % (round_no, w, b, present.count(True), len(present)))
                expected_times = set()
                for b in sent[w]:
                    expected_times.update(ts for ts, _ in batch_readings(w, b))
                check(set(stored) <= expected_times,
                      "round %d: writer %d: readings that were never sent" % (round_no, w))
        # The store goes on working after recovery and stops cleanly.
        srv.write_ok(line("dur", {"station": "after"}, 1.0, T0), precision="ms")
        doc = srv.ok("latest", series=selector("dur", station="after"))
        eq(by_series(doc), {skey("dur", station="after"): [[T0, 1.0]]}, "write after recovery")
        srv.stop()
    finally:
        srv.cleanup()


def _metric(srv, name):
    status, _, text = srv.request("GET", "/metrics")
    eq(status, 200, "/metrics status")
    for metric_line in text.decode("utf-8", "replace").splitlines():
        if metric_line.startswith(name + " "):
            return float(metric_line.split()[1])
    raise AssertionError("/metrics has no %s" % name)


def test_rewritten_tails_survive_kill9():
    """A slow series (one reading a request) beside a fast one that seals: once the slow tail's
    oldest log block is 128 blocks old the tail is written to the log again and the old blocks
    go (as /metrics shows); after kill -9 and a restart, recovery from the rewritten blocks
    answers every reading of both series exactly."""
    r = rng("rewritten_tails_survive_kill9")
    srv = Server(sync="full", name="relog").start()
    try:
        model = Model()
        for k in range(300):
            lines = []
            ts = T0 + k * 3600000
            value = round(r.uniform(0, 300), 1)
            model.put("dur", {"station": "slow"}, ts, value)
            lines.append(line("dur", {"station": "slow"}, value, ts))
            for i in range(100):
                ts = T0 + (100 * k + i) * 36000
                value = round(r.uniform(0, 100), 1)
                model.put("dur", {"station": "fast"}, ts, value)
                lines.append(line("dur", {"station": "fast"}, value, ts))
            srv.write_ok("\n".join(lines), precision="ms")
        blocks = _metric(srv, "jialing_log_blocks")
        check(blocks <= 140, "the log kept %d blocks (300 when the slow tail pins them)" % blocks)
        check(_metric(srv, "jialing_log_rewritten_readings_total") >= 128,
              "the slow tail was not rewritten")
        check(_metric(srv, "jialing_chunks") >= 1, "the fast series did not seal")
        srv.kill9()
        srv.start()
        _check_model(srv, model, "after kill -9")
        srv.stop()
    finally:
        srv.cleanup()


def test_sigterm_during_writes_exits_cleanly():
    """SIGTERM while 24 keep-alive connections keep writing: jialingd exits with status 0 (a write
    that arrived after the write threads stopped used to leave a suspended connection, and
    libmicrohttpd aborted the process), and every acknowledged reading is there afterwards."""
    import http.client

    for round_no in range(4):
        srv = Server(sync="none", name="sigterm%d" % round_no).start()
        try:
            stop = threading.Event()
            acked = {}  # writer -> number of readings answered 204 (written in order)

            def writer(w):
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
                n = 0
                try:
                    while not stop.is_set():
                        body = line("term", {"station": "w%d" % w}, n, T0 + n * MINUTE)
                        conn.request("POST", "/api/v1/write?precision=ms", body=body)
                        resp = conn.getresponse()
                        resp.read()
                        if resp.status != 204:
                            return
                        n += 1
                        acked[w] = n
                except (OSError, http.client.HTTPException):
                    return  # the server went away mid-request
                finally:
                    conn.close()

            threads = [threading.Thread(target=writer, args=(w,)) for w in range(24)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and sum(acked.values()) < 200 * (round_no + 1):
                time.sleep(0.005)
            srv.stop()  # fails the test on a non-zero exit status
            stop.set()
            for t in threads:
                t.join()
            srv.start()
            doc = srv.ok("series", series="term")
            counts = {s["tags"]["station"]: s["values"][0][s["columns"].index("count")]
                      for s in doc["series"]}
            for w, n in acked.items():
                check(counts.get("w%d" % w, 0) >= n,
                      "round %d: writer %d had %d readings acknowledged, %d stored"
                      % (round_no, w, n, counts.get("w%d" % w, 0)))
        finally:
            srv.cleanup()
