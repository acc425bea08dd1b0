# Limits and misuse: --max-rows, --max-series, --max-windows and --query-timeout each refuse a
# query that goes past them with the documented status (422, or 503 for time) and a message that
# names the limit, answer a query exactly at the limit in full, and never send a cut-off answer in
# any format; a chunked body with no Content-Length over --max-body-bytes gets 413 and stores
# nothing. Tokens: malformed or near-miss Authorization headers get 401 and store nothing; with
# --private-reads every read endpoint needs a token (401 without), a read token reads but cannot
# write (403), /health stays open; SIGHUP re-reads the token file (old token refused, new one
# accepted) and a broken file on SIGHUP keeps the old tokens.

import http.client
import json
import os
import signal
import struct
import tempfile
import time

from harness import (HOST, Server, TestFailure, body_error, by_series, check, eq, error_message,
                     line, msgpack_encode, selector, skey)

T0 = 1735689600000  # 2025-01-01T00:00:00Z
SECOND = 1000


def _refused(srv, endpoint, status, needles, **params):
    """GET that must answer `status` with a JSON error containing every needle."""
    got, doc = srv.get(endpoint, **params)
    eq(got, status, "GET %s %r: status (%r)" % (endpoint, params, doc))
    message = error_message(doc)
    for needle in needles:
        check(needle in message, "GET %s %r: message %r does not say %r"
              % (endpoint, params, message, needle))
    return message


def _raw_get(srv, endpoint, headers=None, **params):
    query = {("from" if k == "from_" else k): v for k, v in params.items()}
    return srv.request("GET", "/api/v1/" + endpoint, params=query, headers=headers)


# ---------------------------------------------------------------------------------------------
# Query limits.


def test_max_rows():
    srv = Server(sync="none", args=["--max-rows", "100"], name="maxrows").start()
    try:
        lines = [line("rows", {"s": str(s)}, i, T0 + i * SECOND)
                 for s in range(3) for i in range(150)]
        srv.write_ok("\n".join(lines), precision="ms")
        one = selector("rows", s="0")
        # Exactly at the limit: the whole answer.
        doc = srv.ok("query", series=one, from_=T0, to=T0 + 100 * SECOND)
        eq(by_series(doc, ["time", "value"]),
           {skey("rows", s="0"): [[T0 + i * SECOND, float(i)] for i in range(100)]},
           "100 readings with --max-rows 100")
        needles = ["more than 100 rows", "limit"]
        _refused(srv, "query", 422, needles, series=one, from_=T0, to=T0 + 101 * SECOND)
        # Over several series, windowed, and a scan listing points: all count rows.
        _refused(srv, "query", 422, needles, series="rows", from_=T0, to=T0 + 40 * SECOND)
        _refused(srv, "query", 422, needles, series=one, from_=T0, to=T0 + 150 * SECOND,
                 window="1s", agg="count")
        _refused(srv, "scan", 422, needles, series=one, from_=T0, to=T0 + 150 * SECOND, op="ge",
                 value=0)
        doc = srv.ok("scan", series=one, from_=T0, to=T0 + 150 * SECOND, op="ge", value=0,
                     output="count")
        eq(by_series(doc), {skey("rows", s="0"): [[150]]}, "scan count is one row")
        # CSV and msgpack answers are refused whole too, with a JSON error, not a cut-off body.
        for fmt in ("csv", "msgpack"):
            status, hdrs, data = _raw_get(srv, "query", series=one, from_=T0,
                                          to=T0 + 101 * SECOND, format=fmt)
            eq(status, 422, "format=%s over --max-rows: status (%r)" % (fmt, data[:200]))
            check("json" in hdrs.get("content-type", ""),
                  "format=%s refusal has content type %r" % (fmt, hdrs.get("content-type")))
            check("100 rows" in body_error(data.decode("utf-8", "replace")),
                  "format=%s refusal does not name the limit: %r" % (fmt, data[:200]))
        srv.stop()
    finally:
        srv.cleanup()


def test_max_series():
    srv = Server(sync="none", args=["--max-series", "5"], name="maxseries").start()
    try:
        srv.write_ok("\n".join(line("many", {"n": str(n), "grp": "a" if n < 5 else "b"}, n, T0)
                               for n in range(10)), precision="ms")
        doc = srv.ok("series", series=selector("many", grp="a"))
        eq(sorted(by_series(doc)), sorted(skey("many", n=str(n), grp="a") for n in range(5)),
           "5 series with --max-series 5")
        needles = ["matches 10 series", "the limit is 5"]
        span = {"from_": T0, "to": T0 + 1}
        _refused(srv, "query", 422, needles, series="many", **span)
        _refused(srv, "query", 422, needles, series="many", window="1s", agg="count", **span)
        _refused(srv, "scan", 422, needles, series="many", op="ge", value=0, **span)
        _refused(srv, "latest", 422, needles, series="many")
        _refused(srv, "series", 422, needles, series="many")
        # A negative condition that still matches 9 series is over the limit as well.
        _refused(srv, "series", 422, ["matches 9 series"], series=selector("many", n=("!=", "0")))
        srv.stop()
    finally:
        srv.cleanup()


def test_max_windows():
    srv = Server(sync="none", args=["--max-windows", "10"], name="maxwindows").start()
    try:
        srv.write_ok("\n".join(line("win", {"s": "1"}, i, T0 + i * SECOND) for i in range(20)),
                     precision="ms")
        doc = srv.ok("query", series="win", from_=T0, to=T0 + 10 * SECOND, window="1s",
                     agg="count")
        eq(by_series(doc), {skey("win", s="1"): [[T0 + i * SECOND, 1] for i in range(10)]},
           "10 windows with --max-windows 10")
        # One millisecond more touches an 11th window; the count is of windows, not of rows.
        _refused(srv, "query", 422, ["11 windows per series", "the limit is 10"], series="win",
                 from_=T0, to=T0 + 10 * SECOND + 1, window="1s", agg="count")
        _refused(srv, "query", 422, ["the limit is 10"], series="win", from_=T0,
                 to=T0 + 86400 * SECOND, window="1s", agg="mean")
        srv.stop()
    finally:
        srv.cleanup()


def _msgpack_series(metric, tags, times, values):
    """msgpack of one series map with int64 and float64 arrays, packed in one struct call each
    (harness.msgpack_encode is too slow for a million readings)."""
    head = msgpack_encode({"metric": metric, "tags": tags})
    n = len(times)
    # Reopen the 2-key map as a 4-key map and append "t" and "v".
    out = bytearray(b"\x84") + head[1:]
    out += msgpack_encode("t") + b"\xdd" + struct.pack(">I", n)
    out += struct.pack(">" + "Bq" * n, *[x for t in times for x in (0xD3, t)])
    out += msgpack_encode("v") + b"\xdd" + struct.pack(">I", n)
    out += struct.pack(">" + "Bd" * n, *[x for v in values for x in (0xCB, v)])
    return bytes(out)


def test_query_timeout():
    # 1 ms is the smallest limit; a scan that decodes 800,000 readings takes ten times
    # that even on a fast machine (and is checked against the answer without the limit).
    series_count, per_series = 8, 100000
    srv = Server(sync="none", args=["--query-timeout", "1ms"], name="timeout").start()
    try:
        times = [T0 + i * SECOND for i in range(per_series)]
        values = [float(i * 7919 % 1000) / 10 for i in range(per_series)]
        expected = sum(1 for v in values if v >= 50.0)
        body = bytearray(b"\x81") + b"\xa6series" + bytes((0x90 | series_count,))
        for s in range(series_count):
            body += _msgpack_series("slow", {"s": str(s)}, times, values)
        status, text = srv.write_msgpack(bytes(body))
        eq(status, 204, "writing %d readings (%s)" % (series_count * per_series, text[:200]))
        params = dict(series="slow", from_=T0, to=T0 + per_series * SECOND, op="ge", value=50,
                      output="count")
        refused = 0
        for _attempt in range(3):
            got, doc = srv.get("scan", **params)
            if got == 200:  # allowed only when whole and right
                eq(by_series(doc), {skey("slow", s=str(s)): [[expected]]
                                    for s in range(series_count)}, "answer within 1 ms")
                continue
            eq(got, 503, "scan over --query-timeout 1ms: status (%r)" % (doc,))
            message = error_message(doc)
            check("limit of 1 ms" in message, "timeout message does not name the limit: %r"
                  % message)
            refused += 1
        check(refused > 0, "a scan of %d readings always finished within 1 ms"
              % (series_count * per_series))
        # The server is fine afterwards, and without the limit the same scan answers in full.
        srv.args = []
        srv.restart()
        doc = srv.ok("scan", **params)
        eq(by_series(doc), {skey("slow", s=str(s)): [[expected]] for s in range(series_count)},
           "the scan without a time limit")
        srv.stop()
    finally:
        srv.cleanup()


def test_max_body_bytes_chunked():
    srv = Server(sync="none", args=["--max-body-bytes", "4096"], name="chunked").start()
    try:
        def chunks(count):
            for i in range(count):
                yield (line("chunked", {"s": str(count)}, i, T0 + i) + "\n").encode()

        def post(count):
            conn = http.client.HTTPConnection(HOST, srv.port, timeout=30)
            try:
                conn.request("POST", "/api/v1/write?precision=ms", body=chunks(count),
                             headers={"Content-Type": "text/plain"}, encode_chunked=True)
                resp = conn.getresponse()
                return resp.status, resp.read().decode("utf-8", "replace")
            except (BrokenPipeError, ConnectionResetError) as e:
                # The server may answer and close before the whole body is sent.
                raise TestFailure("chunked write of %d lines: %r (no 413 read)" % (count, e))
            finally:
                conn.close()

        status, text = post(400)  # about 17 KB, no Content-Length
        eq(status, 413, "chunked body over --max-body-bytes 4096 (%s)" % text[:200])
        check("4096" in body_error(text), "413 message does not name the limit: %r" % text)
        status, text = post(20)
        eq(status, 204, "chunked body under the limit (%s)" % text[:200])
        eq(by_series(srv.ok("series", series="chunked")),
           {skey("chunked", s="20"): [[T0, T0 + 19, 20]]}, "only the small body was stored")
        srv.stop()
    finally:
        srv.cleanup()


# ---------------------------------------------------------------------------------------------
# Tokens.


def _token_file(text):
    fd, path = tempfile.mkstemp(prefix="jialing-tokens-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def _rewrite(path, text):
    # Written aside and renamed, as an operator's tooling would, so the server never reads half.
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _write(srv, token, ts, value=1.0, scheme="Bearer"):
    headers = {} if token is None else {"Authorization": "%s %s" % (scheme, token)}
    return srv.write_lines(line("tok", {"s": "1"}, value, ts), precision="ms", headers=headers)


def _readings(srv, headers=None):
    status, _, data = _raw_get(srv, "query", headers=headers, series="tok", from_=T0,
                               to=T0 + 3600 * SECOND)
    eq(status, 200, "reading back tok (%r)" % data[:200])
    return by_series(json.loads(data.decode()))


def test_token_near_misses():
    path = _token_file("# comment\nw-secret-1 write\nr-secret-2 read\n")
    srv = Server(sync="none", args=["--tokens", path], name="tokens").start()
    try:
        for header in ("Basic dy1zZWNyZXQtMQ==", "Bearer", "Bearer ", "Bearer w-secret-",
                       "Bearer w-secret-1x", "Bearer W-SECRET-1", "w-secret-1",
                       "Bearer w-secret-1 write", "Bearer # comment"):
            status, text = srv.write_lines(line("tok", {"s": "1"}, 1.0, T0), precision="ms",
                                           headers={"Authorization": header})
            eq(status, 401, "write with Authorization %r (%s)" % (header, text[:200]))
            check("token" in body_error(text).lower(), "401 message does not say token: %r"
                  % text)
        eq(srv.ok("series", series="tok"), {"series": []}, "nothing stored by refused writes")
        status, text = _write(srv, "w-secret-1", T0, scheme="bearer")
        eq(status, 204, "the scheme name is case-insensitive (%s)" % text[:200])
        srv.stop()
    finally:
        srv.cleanup()
        os.unlink(path)


def test_private_reads():
    path = _token_file("w-secret-1 write\nr-secret-2 read\n")
    srv = Server(sync="none", args=["--tokens", path, "--private-reads"], name="private").start()
    try:
        read = {"Authorization": "Bearer r-secret-2"}
        write = {"Authorization": "Bearer w-secret-1"}
        status, text = _write(srv, "w-secret-1", T0, 1.5)
        eq(status, 204, "write with the write token (%s)" % text[:200])
        status, text = _write(srv, "r-secret-2", T0 + 1, 2.5)
        eq(status, 403, "write with the read token (%s)" % text[:200])
        check("read but not write" in body_error(text), "403 message: %r" % text)
        span = {"from_": T0, "to": T0 + 60 * SECOND}
        reads = [("query", dict(series="tok", **span)),
                 ("query", dict(series="tok", window="1m", agg="count", **span)),
                 ("scan", dict(series="tok", op="gt", value=0, **span)),
                 ("latest", dict(series="tok")),
                 ("series", dict(series="tok"))]
        for endpoint, params in reads:
            for headers, what in ((None, "no token"),
                                  ({"Authorization": "Bearer nope"}, "an unknown token")):
                status, _, data = _raw_get(srv, endpoint, headers=headers, **params)
                eq(status, 401, "GET %s with %s and --private-reads (%r)"
                   % (endpoint, what, data[:200]))
                body_error(data.decode("utf-8", "replace"))
            for headers, what in ((read, "the read token"), (write, "the write token")):
                status, _, data = _raw_get(srv, endpoint, headers=headers, **params)
                eq(status, 200, "GET %s with %s (%r)" % (endpoint, what, data[:200]))
        status, _, _ = srv.request("GET", "/metrics")
        eq(status, 401, "/metrics without a token and --private-reads")
        status, _, _ = srv.request("GET", "/metrics", headers=read)
        eq(status, 200, "/metrics with the read token")
        status, _, _ = srv.request("GET", "/health")
        eq(status, 200, "/health stays open")
        eq(_readings(srv, read), {skey("tok", s="1"): [[T0, 1.5]]},
           "only the write token's reading is stored")
        srv.stop()
    finally:
        srv.cleanup()
        os.unlink(path)


def _wait_for_log(srv, text, count, what):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(srv.log_path, "rb") as f:
            if f.read().decode("utf-8", "replace").count(text) >= count:
                return
        time.sleep(0.02)
    raise TestFailure("%s: the log never said %r\n%s" % (what, text, srv.log_tail()))


def test_sighup_reloads_tokens():
    path = _token_file("old-writer write\n")
    srv = Server(sync="none", args=["--tokens", path], name="sighup").start()
    try:
        status, text = _write(srv, "old-writer", T0, 1.0)
        eq(status, 204, "write with the first token (%s)" % text[:200])

        _rewrite(path, "new-writer write\nnew-reader read\n")
        srv.proc.send_signal(signal.SIGHUP)
        _wait_for_log(srv, "token file re-read", 1, "first SIGHUP")
        status, text = _write(srv, "old-writer", T0 + 1, 2.0)
        eq(status, 401, "the removed token after SIGHUP (%s)" % text[:200])
        status, text = _write(srv, "new-writer", T0 + 2, 3.0)
        eq(status, 204, "the new write token after SIGHUP (%s)" % text[:200])
        status, text = _write(srv, "new-reader", T0 + 3, 4.0)
        eq(status, 403, "the new read token after SIGHUP (%s)" % text[:200])

        # A broken file is refused as a whole: the tokens loaded before stay in force.
        _rewrite(path, "newest-writer write\nthis line has no role at all\n")
        srv.proc.send_signal(signal.SIGHUP)
        _wait_for_log(srv, "old tokens kept", 1, "SIGHUP with a broken file")
        status, text = _write(srv, "newest-writer", T0 + 4, 5.0)
        eq(status, 401, "a token from a refused file (%s)" % text[:200])
        status, text = _write(srv, "new-writer", T0 + 5, 6.0)
        eq(status, 204, "the kept token after a refused reload (%s)" % text[:200])

        eq(_readings(srv), {skey("tok", s="1"): [[T0, 1.0], [T0 + 2, 3.0], [T0 + 5, 6.0]]},
           "readings of the accepted writes only")
        srv.stop()
    finally:
        srv.cleanup()
        for p in (path, path + ".new"):
            if os.path.exists(p):
                os.unlink(p)
