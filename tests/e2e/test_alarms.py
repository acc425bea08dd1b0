# Alarms end to end: a rules file (--rules) with every kind, readings written over HTTP, and the
# events of /api/v1/events compared with an independent computation here (the episode rule for
# thresholds, calendar days for the window rule, gaps for absent, runs of equal values for
# flatline, changes per minute for rate). Also: late readings open an event in the past (marked
# late); kill -9 while events are firing, then a restart, lists every event exactly once; a
# review mark withdraws an event; bad rule files are refused at start naming the rule and the
# field, and on SIGHUP keep the old rules; a good SIGHUP adds a rule, evaluated over the stored
# readings. A small HTTP receiver (--webhook) collects the Alertmanager documents: every state of
# every event arrives at least once, under one key per state, also when the receiver was down
# through the events and a kill -9 and comes up only after the restart.

import http.server
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

from harness import Server, check, eq, free_port, line, server_binary

T0 = 1735689600000  # 2025-01-01T00:00:00Z
MINUTE = 60000
HOUR = 3600000
DAY = 86400000
WAIT_S = 30.0

RULES = {"rules": [
    {"name": "hi", "series": "th{station=\"a\"}", "op": "gt", "value": 1.5, "for": "2h",
     "labels": {"severity": "warning"}, "summary": "th above 1.5 for 2h"},
    {"name": "daymean", "series": "wd", "op": "gt", "value": 5, "window": "1d", "agg": "mean"},
    {"name": "gap", "series": "ab", "absent": "15m"},
    {"name": "stuck", "series": "fl", "flatline": 3},
    {"name": "spike", "series": "rt", "rate": 1},
]}


# ---------------------------------------------------------------------------------------------
# Independent references: each returns [(start, end or None, fired)] in time order.

def ref_threshold(readings, above, for_ms):
    """The episode rule of scan?output=episodes: a maximal run of readings > above; its end is
    the reading that ended it; kept when end - start >= for (an open run: last - start)."""
    out, run = [], None
    for t, v in readings:
        if v > above:
            if run is None:
                run = [t, t, None]
            run[1] = t
            if run[2] is None and t - run[0] >= for_ms:
                run[2] = t
        elif run is not None:
            if run[2] is not None or t - run[0] >= for_ms:
                out.append((run[0], t, run[2] if run[2] is not None else t))
            run = None
    if run is not None and run[2] is not None:
        out.append((run[0], None, run[2]))
    return out


def ref_window(readings, above):
    """UTC days; a day is judged once a later day has a reading; runs of days with mean > above
    start at the first day, fire at its end, end at the first judged day not above."""
    days = {}
    for t, v in readings:
        days.setdefault(t // DAY * DAY, []).append(v)
    judged = sorted(days)[:-1]  # the last day is still open
    out, run = [], None
    for d in judged:
        mean = sum(days[d]) / len(days[d])
        if mean > above:
            if run is None:
                run = d
        elif run is not None:
            out.append((run, d, run + DAY))
            run = None
    if run is not None:
        out.append((run, None, run + DAY))
    return out


def ref_gaps(readings, absent_ms):
    out = []
    for (t0, _), (t1, _) in zip(readings, readings[1:]):
        if t1 - t0 > absent_ms:
            out.append((t0, t1, t0 + absent_ms))
    return out


def ref_flatline(readings, n):
    out, start, count, last = [], None, 0, None
    fired = None
    for t, v in readings:
        if count and v == last:
            count += 1
        else:
            if fired is not None:
                out.append((start, t, fired))
            start, count, fired = t, 1, None
        if fired is None and count >= n:
            fired = t
        last = v
    if fired is not None:
        out.append((start, None, fired))
    return out


def ref_rate(readings, per_minute):
    out, run = [], None
    for (t0, v0), (t1, v1) in zip(readings, readings[1:]):
        high = abs(v1 - v0) / ((t1 - t0) / MINUTE) > per_minute
        if high and run is None:
            run = t1
        elif not high and run is not None:
            out.append((run, t1, run))
            run = None
    if run is not None:
        out.append((run, None, run))
    return out


# ---------------------------------------------------------------------------------------------

class Receiver:
    """An Alertmanager-style receiver: keeps every document and its key header."""

    def __init__(self, port=0):
        self.documents = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.documents.append(
                        (self.headers.get("X-Jialing-Notification-Key"), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self):
        return "http://127.0.0.1:%d/hook" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def states(self):
        """{(rule, startsAt, status): set of keys}."""
        out = {}
        with self.lock:
            for key, doc in self.documents:
                for alert in doc["alerts"]:
                    k = (alert["labels"]["alertname"], alert["startsAt"], alert["status"])
                    out.setdefault(k, set()).add(key)
        return out


def write_rules(path, rules):
    with open(path, "w") as f:
        json.dump(rules, f)


def events(srv, **params):
    """[(rule, series key, start, end, fired, resolved, late, withdrawn)] from /api/v1/events."""
    status, doc = srv.get("events", **params)
    eq(status, 200, "GET /api/v1/events %r: %r" % (params, doc))
    out = []
    for s in doc["series"]:
        key = s["metric"] + "".join("%s=%s" % kv for kv in sorted(s["tags"].items()))
        cols = s["columns"]
        for row in s["values"]:
            r = dict(zip(cols, row))
            out.append((r["rule"], key, r["start"], r["end"], r["fired"], r["resolved"], r["late"],
                        r["withdrawn"]))
    return sorted(out, key=lambda e: (e[0], e[1], e[2]))


def wait_for(what, predicate):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("waited %ds for %s" % (WAIT_S, what))


def write(srv, metric, tags, readings):
    srv.write_ok("\n".join(line(metric, tags, v, t) for t, v in readings), precision="ms")


def expected_rows(rule, key, refs, late=False):
    return [(rule, key, s, e, f, e is not None, late, False) for s, e, f in refs]


def _data():
    th = [(T0 + h * HOUR, v) for h, v in enumerate([1.0, 2.0, 3.0, 2.5, 1.0, 2.0, 1.0, 2.0, 2.0,
                                                    1.5, 1.0, 1.6, 1.7, 1.8, 1.9])]
    wd = [(T0 + h * 6 * HOUR, v) for h, v in enumerate([4, 8, 6, 6, 7, 7, 7, 7, 3, 3, 1, 1, 9])]
    ab = [(T0 + m * MINUTE, 1.0) for m in [0, 10, 30, 40, 41, 70, 80]]
    fl = [(T0 + m * MINUTE, v) for m, v in enumerate([1, 2, 2, 2, 2, 3, 3, 3, 3])]
    rt = [(T0 + m * MINUTE, v) for m, v in [(0, 10), (1, 10.5), (2, 12), (4, 15), (5, 15.5),
                                            (6, 20), (7, 20)]]
    return th, wd, ab, fl, rt


def _expected(th, wd, ab, fl, rt):
    return sorted(
        expected_rows("hi", "thstation=a", ref_threshold(th, 1.5, 2 * HOUR)) +
        expected_rows("daymean", "wdstation=a", ref_window(wd, 5)) +
        expected_rows("gap", "abstation=a", ref_gaps(ab, 15 * MINUTE)) +
        expected_rows("stuck", "flstation=a", ref_flatline(fl, 3)) +
        expected_rows("spike", "rtstation=a", ref_rate(rt, 1)),
        key=lambda e: (e[0], e[1], e[2]))


def test_alarms_every_kind_and_webhook():
    tmp = tempfile.mkdtemp(prefix="jialing-alarms-")
    rules = os.path.join(tmp, "rules.json")
    write_rules(rules, RULES)
    receiver = Receiver()
    srv = Server(args=["--rules", rules, "--webhook", receiver.url()], name="alarms").start()
    try:
        th, wd, ab, fl, rt = _data()
        # In a few batches, in time order, each series in its own commits.
        for metric, readings in [("th", th), ("wd", wd), ("ab", ab), ("fl", fl), ("rt", rt)]:
            half = len(readings) // 2
            write(srv, metric, {"station": "a"}, readings[:half])
            write(srv, metric, {"station": "a"}, readings[half:])
        expected = _expected(th, wd, ab, fl, rt)
        check(len(expected) >= 10, "the data raises events of every kind (%d)" % len(expected))
        got = wait_for("the events", lambda: (lambda e: e if e == expected else None)(
            events(srv)))
        eq(got, expected, "events")
        # The readings arrived just now, so the station is not silent by the wall clock although
        # its last reading is from 2025. After a restart nothing has arrived: the silence since
        # the last reading is longer than 15m, and the timer fires it from that reading.
        srv.restart()
        silence = ("gap", "abstation=a", ab[-1][0], None, ab[-1][0] + 15 * MINUTE, False, False,
                   False)
        expected = sorted(expected + [silence], key=lambda e: (e[0], e[1], e[2]))
        got = wait_for("the silence", lambda: (lambda e: e if e == expected else None)(
            events(srv)))
        # A reading ends the silence the timer found.
        write(srv, "ab", {"station": "a"}, [(ab[-1][0] + 2 * HOUR, 1.0)])
        i = expected.index(("gap", "abstation=a", ab[-1][0], None, ab[-1][0] + 15 * MINUTE, False,
                            False, False))
        expected[i] = ("gap", "abstation=a", ab[-1][0], ab[-1][0] + 2 * HOUR,
                       ab[-1][0] + 15 * MINUTE, True, False, False)
        got = wait_for("the silence resolved", lambda: (lambda e: e if e == expected else None)(
            events(srv)))
        # Filters.
        eq([e[2] for e in events(srv, rule="hi")], [e[2] for e in expected if e[0] == "hi"],
           "rule=hi")
        eq(len(events(srv, state="firing")), len([e for e in expected if not e[5]]), "firing")
        eq(len(events(srv, series="fl")), len([e for e in expected if e[0] == "stuck"]),
           "series=fl")
        status, _, body = srv.request("GET", "/api/v1/events", params={"format": "csv"})
        eq(status, 200, "csv")
        check(body.decode().startswith("metric,tags,rule,id,start,fired,end,resolved"),
              "csv header: %r" % body[:80])
        # Every state of every event reached the receiver, each under one key.
        def delivered():
            states = receiver.states()
            want = set()
            for rule, _, start, end, _, resolved, _, _ in expected:
                want.add((rule, start, "firing"))
                if resolved:
                    want.add((rule, start, "resolved"))
            got_states = {(r, _ms(s), st) for (r, s, st) in states}
            return want <= got_states and states
        states = wait_for("every notification", delivered)
        for k, keys in states.items():
            eq(len(keys), 1, "one key for %r" % (k,))
        doc = receiver.documents[0][1]
        eq(doc["version"], "4", "Alertmanager version")
        alert = doc["alerts"][0]
        check("fingerprint" in alert and "severity" in alert["labels"] or
              alert["labels"]["alertname"] != "hi", "labels and fingerprint: %r" % alert)
        # /metrics counts them.
        status, _, body = srv.request("GET", "/metrics")
        text = body.decode()
        # Since the restart: the silence fired and resolved (the others were stored before).
        check("jialing_alarm_events_total{state=\"fired\"} 1\n" in text, "fired in /metrics")
        check("jialing_alarm_events_total{state=\"resolved\"} 1\n" in text,
              "resolved in /metrics")
        check("jialing_notifications_total{outcome=\"failed\"} 0" in text, "no failures")
        srv.stop()
    finally:
        srv.cleanup()
        receiver.close()


def _ms(text):
    """RFC 3339 with milliseconds and Z -> epoch ms (independent of the server)."""
    import datetime
    form = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ"
    t = datetime.datetime.strptime(text, form)
    delta = t - datetime.datetime(1970, 1, 1)
    return delta.days * DAY + delta.seconds * 1000 + delta.microseconds // 1000


def test_alarms_late_kill9_withdrawn():
    tmp = tempfile.mkdtemp(prefix="jialing-alarms-")
    rules = os.path.join(tmp, "rules.json")
    write_rules(rules, RULES)
    # The receiver is down until after the restart: everything reaches it once it is up.
    port = free_port()
    srv = Server(sync="full", args=["--rules", rules, "--webhook",
                                    "http://127.0.0.1:%d/hook" % port], name="alarms-late").start()
    receiver = None
    try:
        key = "thstation=a"
        first = [(T0, 1.0), (T0 + HOUR, 2.0), (T0 + 2 * HOUR, 3.0), (T0 + 3 * HOUR, 2.5),
                 (T0 + 4 * HOUR, 1.0), (T0 + 10 * HOUR, 1.0)]
        write(srv, "th", {"station": "a"}, first)
        wait_for("event 1", lambda: len(events(srv)) == 1)
        # Late: 6H and 8H above, before the 10H reading that ends them: a past event.
        late = [(T0 + 6 * HOUR, 2.0), (T0 + 8 * HOUR, 2.0)]
        write(srv, "th", {"station": "a"}, late)
        got = wait_for("the late event", lambda: (lambda e: e if len(e) == 2 else None)(
            events(srv)))
        # It fired at 8H, when the run had lasted 2H.
        eq(got[1], ("hi", key, T0 + 6 * HOUR, T0 + 10 * HOUR, T0 + 8 * HOUR, True, True, False),
           "late event")
        eq(got[0][:6], ("hi", key, T0 + HOUR, T0 + 4 * HOUR, T0 + 3 * HOUR, True), "first")
        # Firing at the kill: 20H .. 23H above.
        write(srv, "th", {"station": "a"}, [(T0 + 20 * HOUR, 2.0), (T0 + 23 * HOUR, 4.0)])
        wait_for("firing", lambda: len(events(srv, state="firing")) == 1)
        srv.kill9()
        srv.start()
        # The restart's recompute runs behind the server's start: wait until it is done.
        wait_for("the recompute", lambda: b"jialing_alarm_ready 1\n" in
                 srv.request("GET", "/metrics")[2])
        after = events(srv)
        eq(len(after), 3, "every event exactly once after kill -9: %r" % (after,))
        eq(after[2][2:6], (T0 + 20 * HOUR, None, T0 + 23 * HOUR, False), "still firing")
        write(srv, "th", {"station": "a"}, [(T0 + 24 * HOUR, 1.0)])
        wait_for("resolved", lambda: not events(srv, state="firing"))
        eq(events(srv)[2][2:6], (T0 + 20 * HOUR, T0 + 24 * HOUR, T0 + 23 * HOUR, True),
           "resolved after the restart")
        # A review mark invalidating 1H..3H withdraws the first event.
        status, _, body = srv.request("POST", "/api/v1/review", body=json.dumps(
            {"series": "th{station=\"a\"}", "from": T0 + HOUR, "to": T0 + 3 * HOUR + 1,
             "valid": False, "reason": "calibration drift"}).encode(),
            headers={"Content-Type": "application/json"})
        check(status in (200, 201), "review mark: %d %r" % (status, body))
        withdrawn = events(srv, state="withdrawn")
        eq([e[2] for e in withdrawn], [T0 + HOUR], "withdrawn")
        receiver = Receiver(port)
        final = events(srv)
        want = set()
        for rule, _, start, end, _, resolved, _, _ in final:
            want.add((rule, start, "firing"))
            if resolved:
                want.add((rule, start, "resolved"))

        def delivered():
            states = receiver.states()
            return want <= {(r, _ms(t), st) for (r, t, st) in states} and states
        states = wait_for("every notification after the receiver came up", delivered)
        for k, keys in states.items():
            eq(len(keys), 1, "one key for %r" % (k,))
        srv.stop()
    finally:
        srv.cleanup()
        if receiver:
            receiver.close()


def test_alarms_bad_rules_and_sighup():
    tmp = tempfile.mkdtemp(prefix="jialing-alarms-")
    rules = os.path.join(tmp, "rules.json")
    bad = {"rules": [{"name": "ok", "series": "x", "op": "gt", "value": 1},
                     {"name": "oops", "series": "x", "op": "gt", "value": 1, "for": "soon"}]}
    write_rules(rules, bad)
    data = tempfile.mkdtemp(prefix="jialing-alarms-data-")
    proc = subprocess.run([server_binary(), "--data", data, "--listen", "127.0.0.1:0",
                           "--rules", rules], capture_output=True, timeout=60)
    check(proc.returncode != 0, "a bad rules file is refused at start")
    message = proc.stderr.decode()
    check("rules[1] (\"oops\")" in message and "\"for\"" in message,
          "the message names the rule and the field: %r" % message)

    write_rules(rules, {"rules": [RULES["rules"][0]]})
    srv = Server(args=["--rules", rules], name="alarms-hup").start()
    try:
        fl = [(T0 + m * MINUTE, v) for m, v in enumerate([1, 2, 2, 2, 2, 3])]
        write(srv, "fl", {"station": "a"}, fl)
        write(srv, "th", {"station": "a"}, [(T0, 2.0), (T0 + 3 * HOUR, 2.0)])
        wait_for("th event", lambda: len(events(srv)) == 1)
        # A bad file on SIGHUP: the old rules stay (the th series still evaluated).
        write_rules(rules, bad)
        srv.proc.send_signal(signal.SIGHUP)
        wait_for("the refusal in the log", lambda: "old rules kept" in srv.log_tail(5))
        # A good one adds the flatline rule, evaluated over the stored readings.
        write_rules(rules, {"rules": [RULES["rules"][0], RULES["rules"][3]]})
        srv.proc.send_signal(signal.SIGHUP)
        got = wait_for("the new rule's event", lambda: (lambda e: e if len(e) == 2 else None)(
            events(srv)))
        eq(got[1][:6], ("stuck", "flstation=a", T0 + MINUTE, T0 + 5 * MINUTE, T0 + 3 * MINUTE,
                        True), "flatline from the stored readings")
        eq(len([e for e in got if e[0] == "hi"]), 1, "the th event not repeated")
        srv.stop()
    finally:
        srv.cleanup()
