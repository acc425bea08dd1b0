# Review marks over HTTP (POST/GET /api/v1/review, GET/DELETE /api/v1/review/<id>): hourly data
# over 3 days (station h) and minute data over the same days (station m, enough readings that
# sealed chunks hold most of it), some readings flagged M. Daily means and counts under the
# default flags=valid are compared with a reference computed here from the readings and the marks
# in force (the newest mark not withdrawn decides a reading it covers, else its flag must be N):
# a mark invalidating a span across a day boundary, one over the tail, a valid=true mark over M
# readings, one over all of m (its sealed chunk counted by summary); withdrawing them gives back
# the first answer byte for byte; a reading written
# later into a marked span is excluded; a mark answered just before kill -9 holds after the
# restart. Bad bodies are 400s naming the field and store nothing; roles: only review tokens make
# or withdraw marks, and they write no readings.

import datetime
import json
import os
import tempfile
import threading
import time

from harness import Server, body_error, check, eq, line, near, rng

T0 = 1735689600000  # 2025-01-01T00:00:00Z
MINUTE = 60000
HOUR = 3600000
DAY = 86400000
END = T0 + 3 * DAY
TOKENS = ("w-token write writer\n"
          "r-token read reader\n"
          "v-token review zhang\n"
          "v2-token review\n")  # no name: made_by is "token-4", its line
WRITER = {"Authorization": "Bearer w-token"}
READER = {"Authorization": "Bearer r-token"}
REVIEWER = {"Authorization": "Bearer v-token"}
REVIEWER2 = {"Authorization": "Bearer v2-token"}


def _rfc3339(ms):
    """Independent of the server's formatter: datetime from the epoch, milliseconds, Z."""
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(milliseconds=ms)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


class Model:
    """The readings written (station -> {ts: (value, flag)}) and the marks made, as the test
    expects the server to keep them."""

    def __init__(self):
        self.readings = {"h": {}, "m": {}}
        self.marks = {}  # id -> dict(stations, from, to, valid, withdrawn)

    def valid(self, station, ts, flag):
        deciding = None
        for mark_id in sorted(self.marks):
            mark = self.marks[mark_id]
            if (not mark["withdrawn"] and station in mark["stations"]
                    and mark["from"] <= ts < mark["to"]):
                deciding = mark  # later ids are newer: the last one found wins
        return deciding["valid"] if deciding is not None else flag == "N"

    def daily(self):
        """The expected answer of the daily query: per station rows [day, mean, count]."""
        out = {}
        for station, readings in self.readings.items():
            days = {}
            for ts, (value, flag) in sorted(readings.items()):
                if T0 <= ts < END and self.valid(station, ts, flag):
                    days.setdefault((ts - T0) // DAY * DAY + T0, []).append(value)
            rows = [[day, sum(v) / len(v), len(v)] for day, v in sorted(days.items())]
            if rows:
                out[station] = rows
        return out

    def in_span(self, stations, from_ms, to_ms):
        return sum(1 for s in stations for ts in self.readings[s] if from_ms <= ts < to_ms)


def _write_data(srv, model, r):
    lines = []
    for i in range(72):
        ts = T0 + i * HOUR
        value = round(r.uniform(0, 100), 1)
        flag = "M" if i % 7 == 3 else "N"
        model.readings["h"][ts] = (value, flag)
        lines.append(_lp("h", ts, value, flag))
    for i in range(3 * 24 * 60):
        ts = T0 + i * MINUTE
        value = round(r.uniform(0, 100), 1)
        flag = "M" if i % 97 == 5 else "N"
        model.readings["m"][ts] = (value, flag)
        lines.append(_lp("m", ts, value, flag))
    # In batches of 500, so m's tail is sealed soon after it reaches 2048 readings: m's first
    # day and a half end up in a sealed chunk, the rest in its tail.
    for k in range(0, len(lines), 500):
        srv.write_ok("\n".join(lines[k:k + 500]), precision="ms", headers=WRITER)


def _lp(station, ts, value, flag):
    text = line("rv", {"station": station}, value, ts)
    if flag != "N":
        text = text.replace(" %d" % ts, ',flag="%s" %d' % (flag, ts))
    return text


def _daily_raw(srv):
    status, _, body = srv.request("GET", "/api/v1/query", params={
        "series": "rv", "from": T0, "to": END, "window": "1d", "agg": "mean,count"})
    eq(status, 200, "daily query status (%r)" % body[:300])
    return body


def _check_daily(srv, model, what):
    body = _daily_raw(srv)
    doc = json.loads(body.decode())
    got = {}
    for s in doc["series"]:
        eq(s["columns"], ["time", "mean", "count"], "%s: columns" % what)
        got[s["tags"]["station"]] = s["values"]
    want = model.daily()
    eq(sorted(got), sorted(want), "%s: stations answered" % what)
    for station in want:
        eq([[r[0], r[2]] for r in got[station]], [[r[0], r[2]] for r in want[station]],
           "%s: days and counts of %s" % (what, station))
        for g, w in zip(got[station], want[station]):
            near(g[1], w[1], "%s: mean of %s on day %d" % (what, station, w[0]), rel=1e-12)
    return body


def _post(srv, body, headers=REVIEWER):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    if isinstance(data, str):
        data = data.encode("utf-8")
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    status, _, answer = srv.request("POST", "/api/v1/review", body=data, headers=hdrs)
    return status, answer


def _mark(srv, model, stations, selector, from_ms, to_ms, valid, reason, made_by="zhang",
          headers=REVIEWER):
    """Makes a mark, checks the answer against what was asked, records it in the model."""
    status, answer = _post(srv, {"series": selector, "from": from_ms, "to": _rfc3339(to_ms),
                                 "valid": valid, "reason": reason}, headers)
    eq(status, 200, "POST review %s (%r)" % (selector, answer[:300]))
    doc = json.loads(answer.decode())
    expected_id = len(model.marks) + 1
    want = {"id": expected_id, "made_by": made_by, "series": selector,
            "series_count": len(stations), "from": _rfc3339(from_ms), "from_ms": from_ms,
            "to": _rfc3339(to_ms), "to_ms": to_ms, "valid": valid, "reason": reason,
            "readings_affected": model.in_span(stations, from_ms, to_ms), "withdrawn": False,
            "withdrawn_at": None, "withdrawn_at_ms": None, "withdrawn_by": None}
    eq({k: doc.get(k) for k in want}, want, "answer of mark %d" % expected_id)
    eq(sorted(doc), sorted(list(want) + ["made_at", "made_at_ms"]), "fields of the answer")
    eq(doc["made_at"], _rfc3339(doc["made_at_ms"]), "made_at is made_at_ms in RFC 3339")
    model.marks[expected_id] = {"stations": set(stations), "from": from_ms, "to": to_ms,
                                "valid": valid, "withdrawn": False}
    return doc


def _listing(srv, **params):
    query = {("from" if k == "from_" else k): v for k, v in params.items()}
    status, _, body = srv.request("GET", "/api/v1/review", params=query)
    eq(status, 200, "GET /api/v1/review %r (%r)" % (query, body[:300]))
    return body


def _metric(srv, name):
    status, _, body = srv.request("GET", "/metrics")
    eq(status, 200, "/metrics status")
    for text in body.decode().splitlines():
        if text.startswith(name + " "):
            return int(float(text.split()[1]))
    raise AssertionError("no %s in /metrics" % name)


def test_review_marks_decide_validity():
    r = rng("review_marks_decide_validity")
    fd, tokens = tempfile.mkstemp(prefix="jialing-tokens-")
    with os.fdopen(fd, "w") as f:
        f.write(TOKENS)
    srv = Server(sync="full", args=["--tokens", tokens], name="review").start()
    model = Model()
    try:
        _write_data(srv, model, r)
        check(_metric(srv, "jialing_chunks") >= 1, "station m has a sealed chunk")
        flagged = sum(1 for s in model.readings.values() for v, f in s.values() if f != "N")
        eq(_metric(srv, "jialing_flagged_points_written_total"), flagged, "flagged points")
        first = _check_daily(srv, model, "before any mark")
        empty = _listing(srv)
        eq(json.loads(empty.decode()), {"marks": []}, "no marks at first")

        # Invalid across the boundary of days 0 and 1 on both stations; invalid over the last
        # 90 minutes of m (its unsealed tail); valid over day 0 of h, M readings included (and
        # over the first mark's 5 hours there, which it then decides, being newer).
        m1 = _mark(srv, model, ["h", "m"], "rv", T0 + DAY - 5 * HOUR, T0 + DAY + 7 * HOUR,
                   False, "analyser calibration drift")
        _check_daily(srv, model, "after mark 1")
        m2 = _mark(srv, model, ["m"], 'rv{station="m"}', END - 90 * MINUTE, END, False,
                   "power failure")
        _check_daily(srv, model, "after mark 2")
        m3 = _mark(srv, model, ["h"], 'rv{station="h"}', T0, T0 + DAY, True,
                   "maintenance flags set by mistake", made_by="token-4", headers=REVIEWER2)
        _check_daily(srv, model, "after mark 3")
        check(any(f == "M" for ts, (v, f) in model.readings["h"].items() if ts < T0 + DAY),
              "mark 3 covers M readings")

        # Listing: newest first; by id; filtered by series and by time.
        doc = json.loads(_listing(srv).decode())
        eq([m["id"] for m in doc["marks"]], [3, 2, 1], "listing, newest first")
        eq(doc["marks"][2], m1, "listed mark 1 is its answer")
        eq([m["id"] for m in json.loads(_listing(srv, series='rv{station="m"}').decode())
            ["marks"]], [2, 1], "marks naming station m")
        eq([m["id"] for m in json.loads(_listing(srv, from_=END - HOUR, to=END).decode())
            ["marks"]], [2], "marks over the last hour")
        eq(json.loads(_listing(srv, series="nothing").decode()), {"marks": []},
           "a selector matching nothing lists nothing")
        status, _, body = srv.request("GET", "/api/v1/review/2")
        eq((status, json.loads(body.decode())), (200, m2), "GET /api/v1/review/2")
        eq(srv.request("GET", "/api/v1/review/99")[0], 404, "GET an unknown id")
        eq(_metric(srv, "jialing_review_marks"), 3, "jialing_review_marks")

        # Withdrawn, newest first: each answer is the entry marked withdrawn, by whom.
        for mark in (m3, m2, m1):
            status, _, body = srv.request("DELETE", "/api/v1/review/%d" % mark["id"],
                                          headers=REVIEWER)
            eq(status, 200, "DELETE mark %d (%r)" % (mark["id"], body[:300]))
            doc = json.loads(body.decode())
            eq((doc["withdrawn"], doc["withdrawn_by"]), (True, "zhang"), "withdrawn entry")
            eq(doc["withdrawn_at"], _rfc3339(doc["withdrawn_at_ms"]), "withdrawn_at text")
            check(doc["withdrawn_at_ms"] >= mark["made_at_ms"], "withdrawn after made")
            rest = {k: v for k, v in doc.items() if not k.startswith("withdrawn")}
            eq(rest, {k: v for k, v in mark.items() if not k.startswith("withdrawn")},
               "the rest of the withdrawn entry")
            model.marks[mark["id"]]["withdrawn"] = True
        eq(_daily_raw(srv), first, "every mark withdrawn: the first answer, byte for byte")
        status, _, body = srv.request("DELETE", "/api/v1/review/1", headers=REVIEWER)
        eq(status, 409, "DELETE a withdrawn mark (%r)" % body[:200])
        eq(srv.request("DELETE", "/api/v1/review/99", headers=REVIEWER)[0], 404,
           "DELETE an unknown id")
        listed = json.loads(_listing(srv).decode())["marks"]
        eq([(m["id"], m["withdrawn"]) for m in listed], [(3, True), (2, True), (1, True)],
           "withdrawn entries stay in the history")
        eq(_metric(srv, "jialing_review_marks_withdrawn"), 3, "jialing_review_marks_withdrawn")

        # A mark over all of m counts the readings of its sealed chunk by the chunk's summary
        # (the chunk lies wholly inside) and those of its tail one by one.
        whole = _mark(srv, model, ["m"], 'rv{station="m"}', T0 - DAY, END + DAY, True,
                      "station m re-validated")
        eq(whole["readings_affected"], 3 * 24 * 60, "every reading of m")
        _check_daily(srv, model, "all of m valid")
        status, _, body = srv.request("DELETE", "/api/v1/review/4", headers=REVIEWER)
        eq(status, 200, "DELETE mark 4 (%r)" % body[:300])
        model.marks[4]["withdrawn"] = True
        eq(_daily_raw(srv), first, "mark 4 withdrawn: the first answer again")

        # A mark applies to readings that arrive in its span later, in the tail and in sealed
        # chunks (new timestamps between the existing ones).
        _mark(srv, model, ["h", "m"], "rv", T0 + DAY - 5 * HOUR, T0 + DAY + 7 * HOUR, False,
              "analyser calibration drift, again")
        late = [("h", T0 + DAY + 30 * MINUTE, 55.5), ("m", T0 + DAY + 30 * 1000, 66.5),
                ("h", END - 10 * MINUTE, 77.5)]
        srv.write_ok("\n".join(_lp(s, ts, v, "N") for s, ts, v in late), precision="ms",
                     headers=WRITER)
        for s, ts, v in late:
            model.readings[s][ts] = (v, "N")
        _check_daily(srv, model, "late readings")
        status, doc = srv.query(series='rv{station="h"}', from_=T0 + DAY, to=T0 + DAY + HOUR,
                                flags="all")
        eq(doc["series"][0]["values"], [[T0 + DAY, model.readings["h"][T0 + DAY][0]],
                                        [T0 + DAY + 30 * MINUTE, 55.5]],
           "the late reading is stored (flags=all)")

        # kill -9 right after a mark's answer: it is durable.
        _mark(srv, model, ["h"], 'rv{station="h"}', T0 + 2 * DAY, T0 + 2 * DAY + 6 * HOUR,
              False, "station audit")
        srv.kill9()
        srv.start()
        _check_daily(srv, model, "after kill -9 and a restart")
        eq([m["id"] for m in json.loads(_listing(srv).decode())["marks"]], [6, 5, 4, 3, 2, 1],
           "listing after the restart")
        srv.stop()
    finally:
        srv.cleanup()
        os.unlink(tokens)


def test_review_refusals_and_roles():
    fd, tokens = tempfile.mkstemp(prefix="jialing-tokens-")
    with os.fdopen(fd, "w") as f:
        f.write(TOKENS)
    srv = Server(sync="none", args=["--tokens", tokens], name="review-refusals").start()
    try:
        srv.write_ok("\n".join(_lp("h", T0 + i * HOUR, i, "N") for i in range(10)),
                     precision="ms", headers=WRITER)
        good = {"series": "rv", "from": T0, "to": T0 + HOUR, "valid": False, "reason": "r"}
        before = _listing(srv)
        bad = [
            ("not json", "body: not valid JSON"),
            ("", "body: not valid JSON"),
            ('["rv"]', "body: must be a JSON object"),
            ('{"series":"rv","series":"rv"}', "body: a field is given twice"),
            (dict(good, extra=1), "extra: unknown field"),
            ({k: v for k, v in good.items() if k != "series"}, "series: required"),
            (dict(good, series=5), "series: must be a string"),
            (dict(good, series="rv{"), "series: selector:"),
            (dict(good, series="nothing"), "series: selector matches no series"),
            (dict(good, series='rv{station="zz"}'), "series: selector matches no series"),
            ({k: v for k, v in good.items() if k != "from"}, "from: required"),
            (dict(good, **{"from": 1.5}), "from: must be epoch milliseconds"),
            (dict(good, **{"from": "yesterday"}), "from: "),
            (dict(good, to="2025-02-30T00:00:00Z"), "to: "),
            (dict(good, to=T0), "from: must be before to"),
            (dict(good, to=T0 - 1), "from: must be before to"),
            ({k: v for k, v in good.items() if k != "valid"}, "valid: required"),
            (dict(good, valid="false"), "valid: must be true or false"),
            (dict(good, valid=0), "valid: must be true or false"),
            ({k: v for k, v in good.items() if k != "reason"}, "reason: required"),
            (dict(good, reason=""), "reason: must not be empty"),
            (dict(good, reason="x" * 1025), "reason: 1025 bytes long"),
        ]
        for body, prefix in bad:
            status, answer = _post(srv, body)
            eq(status, 400, "POST %r (%r)" % (body, answer[:200]))
            message = body_error(answer.decode())
            check(message.startswith(prefix), "POST %r: message %r does not start with %r"
                  % (body, message, prefix))
        eq(_listing(srv), before, "refused bodies stored nothing")
        eq(srv.request("POST", "/api/v1/review", body=b"{}", headers=REVIEWER,
                       params={"dry": "1"})[0], 400, "POST with a query parameter")

        # Roles: write tokens and read tokens make no marks, review tokens write no readings;
        # no token at all is a 401.
        for headers, what in ((WRITER, "write"), (READER, "read")):
            status, answer = _post(srv, good, headers)
            eq(status, 403, "POST review with a %s token (%r)" % (what, answer[:200]))
            status, _, answer = srv.request("DELETE", "/api/v1/review/1", headers=headers)
            eq(status, 403, "DELETE review with a %s token (%r)" % (what, answer[:200]))
        eq(_post(srv, good, {})[0], 401, "POST review without a token")
        status, text = srv.write_lines(_lp("h", T0 + 20 * HOUR, 1.0, "N"), precision="ms",
                                       headers=REVIEWER)
        eq(status, 403, "a review token writes no readings (%s)" % text[:200])
        check("not write readings" in body_error(text), "403 says why: %r" % text)
        eq(_listing(srv), before, "refused roles stored nothing")
        status, answer = _post(srv, good, REVIEWER)
        eq(status, 200, "a review token makes the mark (%r)" % answer[:200])
        eq(json.loads(answer.decode())["readings_affected"], 1, "one reading in the hour")
        status, _, answer = srv.request("DELETE", "/api/v1/review/1", headers=REVIEWER2)
        eq(status, 200, "another review token withdraws it")
        eq(json.loads(answer.decode())["withdrawn_by"], "token-4", "withdrawn_by")
        status, _, answer = srv.request("PUT", "/api/v1/review/1", headers=REVIEWER)
        eq(status, 405, "PUT on a mark")
        srv.stop()
    finally:
        srv.cleanup()
        os.unlink(tokens)


def test_review_without_tokens():
    srv = Server(sync="none", name="review-open").start()
    try:
        srv.write_ok(_lp("h", T0, 1.0, "M"), precision="ms")
        status, answer = _post(srv, {"series": "rv", "from": "2025-01-01T00:00:00Z",
                                     "to": "2025-01-01T00:00:00.001Z", "valid": True,
                                     "reason": "open server"}, headers={})
        eq(status, 200, "POST review on an open server (%r)" % answer[:200])
        doc = json.loads(answer.decode())
        eq((doc["made_by"], doc["from_ms"], doc["to_ms"], doc["readings_affected"]),
           ("", T0, T0 + 1, 1), "an open server's mark")
        status, doc = srv.query(series="rv", from_=T0, to=T0 + 1)
        eq(doc["series"][0]["values"], [[T0, 1.0]], "the M reading counts as valid")
        srv.stop()
    finally:
        srv.cleanup()


def test_review_kill9_during_marking():
    """kill -9 while a reviewer makes marks as fast as answers come: after the restart every
    acknowledged mark is listed whole (its fields as sent), ids run 1..N without holes (at most
    one more than acknowledged: a mark committed whose answer was cut off), and the daily means
    follow exactly the marks listed."""
    r = rng("review_kill9_during_marking")
    srv = Server(sync="full", name="review_kill9").start()
    model = Model()
    try:
        _write_data(srv, model, r)
        sent, acked, stop = {}, {}, threading.Event()

        def reviewer():
            k = 0
            while not stop.is_set():
                k += 1
                station = "hm"[k % 2]
                from_ms = T0 + (k * 7 % 60) * HOUR
                body = {"series": 'rv{station="%s"}' % station, "from": from_ms,
                        "to": from_ms + (1 + k % 5) * HOUR, "valid": k % 3 == 0,
                        "reason": "sweep %d" % k}
                sent[k] = body
                try:
                    status, answer = _post(srv, body, headers=None)
                except Exception:  # the server went away mid-request
                    return
                if status != 200:
                    return
                acked[json.loads(answer.decode())["id"]] = body

        thread = threading.Thread(target=reviewer)
        thread.start()
        while len(acked) < 40 and thread.is_alive():
            time.sleep(0.005)
        srv.kill9()
        stop.set()
        thread.join()
        check(len(acked) >= 40, "40 marks were acknowledged before the kill (%d)" % len(acked))
        srv.start()
        marks = json.loads(_listing(srv).decode())["marks"]
        ids = [m["id"] for m in marks]
        eq(ids, list(range(len(ids), 0, -1)), "ids newest first, 1..N without holes")
        check(len(acked) <= len(ids) <= len(acked) + 1,
              "%d listed for %d acknowledged" % (len(ids), len(acked)))
        by_reason = {b["reason"]: b for b in sent.values()}
        for m in marks:
            body = acked.get(m["id"]) or by_reason.get(m["reason"])
            check(body is not None, "mark %d was sent" % m["id"])
            eq([m["series"], m["from_ms"], m["to_ms"], m["valid"], m["reason"]],
               [body["series"], body["from"], body["to"], body["valid"], body["reason"]],
               "mark %d listed whole, as sent" % m["id"])
            if m["id"] in acked:
                eq(m["reason"], acked[m["id"]]["reason"], "acknowledged mark %d" % m["id"])
            model.marks[m["id"]] = {"stations": {m["series"][len('rv{station="')]},
                                    "from": m["from_ms"], "to": m["to_ms"], "valid": m["valid"],
                                    "withdrawn": False}
        _check_daily(srv, model, "after kill -9 during marking")
        srv.stop()
    finally:
        srv.cleanup()
