# Response formats and early refusals: CSV and msgpack chosen by format= or by the Accept header
# (format= wins), both carrying exactly what the JSON answer carries; and a write the server
# would refuse (no token) is answered at once, before its body arrives.

import os
import socket
import struct
import tempfile

from harness import HOST, Server, check, eq, line, shared

T0 = 1735689600000


def msgpack_decode(data):
    """Decodes one msgpack document (the subset the server emits) and checks nothing is left."""
    value, end = _mp_decode(data, 0)
    eq(end, len(data), "msgpack document length")
    return value


def _mp_decode(d, i):
    b = d[i]
    i += 1
    if b <= 0x7F:
        return b, i
    if b >= 0xE0:
        return b - 0x100, i
    if 0x80 <= b <= 0x8F:
        return _mp_map(d, i, b & 0x0F)
    if 0x90 <= b <= 0x9F:
        return _mp_array(d, i, b & 0x0F)
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        return d[i:i + n].decode("utf-8"), i + n
    fixed = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q",
             0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q", 0xCB: ">d", 0xCA: ">f"}
    if b in fixed:
        size = struct.calcsize(fixed[b])
        return struct.unpack(fixed[b], d[i:i + size])[0], i + size
    if b == 0xC0:
        return None, i
    if b in (0xC2, 0xC3):
        return b == 0xC3, i
    if b in (0xD9, 0xDA, 0xDB):
        size = {0xD9: 1, 0xDA: 2, 0xDB: 4}[b]
        n = int.from_bytes(d[i:i + size], "big")
        i += size
        return d[i:i + n].decode("utf-8"), i + n
    if b in (0xDC, 0xDD):
        size = 2 if b == 0xDC else 4
        return _mp_array(d, i + size, int.from_bytes(d[i:i + size], "big"))
    if b in (0xDE, 0xDF):
        size = 2 if b == 0xDE else 4
        return _mp_map(d, i + size, int.from_bytes(d[i:i + size], "big"))
    raise AssertionError("unexpected msgpack byte 0x%02x at %d" % (b, i - 1))


def _mp_array(d, i, n):
    out = []
    for _ in range(n):
        value, i = _mp_decode(d, i)
        out.append(value)
    return out, i


def _mp_map(d, i, n):
    out = {}
    for _ in range(n):
        key, i = _mp_decode(d, i)
        out[key], i = _mp_decode(d, i)
    return out, i


def _write_fixture(srv, metric):
    # The tag value "a,b" is escaped in line protocol as a\,b.
    text = "\n".join([
        "%s,site=a\\,b,district=d1 value=1.5 %d" % (metric, T0),
        "%s,site=a\\,b,district=d1 value=-2.25 %d" % (metric, T0 + 60000),
        line(metric, {"site": "c"}, 0.731, T0),
    ])
    srv.write_ok(text, precision="ms")


def test_csv_by_accept_and_format_param():
    srv = shared()
    _write_fixture(srv, "fmtcsv")
    params = {"series": "fmtcsv", "from": T0, "to": T0 + 120000}
    status, headers, body = srv.request("GET", "/api/v1/query", params=params,
                                        headers={"Accept": "text/csv"})
    eq(status, 200, "status of a CSV query")
    check(headers.get("content-type", "").startswith("text/csv"),
          "content type %r" % headers.get("content-type"))
    # Series in id order; tags sorted by key as k=v;k=v, quoted because of the comma.
    expected = ("metric,tags,time,value\r\n"
                "fmtcsv,\"district=d1;site=a,b\",%d,1.5\r\n"
                "fmtcsv,\"district=d1;site=a,b\",%d,-2.25\r\n"
                "fmtcsv,site=c,%d,0.731\r\n") % (T0, T0 + 60000, T0)
    eq(body.decode("utf-8"), expected, "CSV body")
    # An explicit format= wins over Accept.
    status, headers, body = srv.request("GET", "/api/v1/query",
                                        params=dict(params, format="json"),
                                        headers={"Accept": "text/csv"})
    eq(status, 200, "status of format=json with Accept: text/csv")
    check(body.startswith(b'{"series":'), "format=json answers JSON: %r" % body[:80])


def test_msgpack_equals_json():
    srv = shared()
    _write_fixture(srv, "fmtmp")
    params = {"series": "fmtmp", "from": T0, "to": T0 + 120000, "window": "1h",
              "agg": "count,mean,min"}
    doc = srv.ok("query", **params)
    status, headers, body = srv.request("GET", "/api/v1/query", params=dict(params, format="msgpack"))
    eq(status, 200, "status of a msgpack query")
    eq(headers.get("content-type"), "application/msgpack", "content type")
    eq(msgpack_decode(body), doc, "msgpack answer equals the JSON answer")
    status, headers, body = srv.request("GET", "/api/v1/latest", params={"series": "fmtmp"},
                                        headers={"Accept": "application/msgpack"})
    eq(status, 200, "status of latest with Accept: application/msgpack")
    eq(msgpack_decode(body), srv.ok("latest", series="fmtmp"), "latest in msgpack")


def test_refused_write_answered_before_body():
    fd, path = tempfile.mkstemp(prefix="jialing-tokens-")
    with os.fdopen(fd, "w") as f:
        f.write("w-secret write\n")
    srv = Server(sync="none", args=["--tokens", path], name="early").start()
    try:
        sock = socket.create_connection((HOST, srv.port), timeout=10)
        try:
            # Declares 50 MB but sends none of it: the 401 must come without waiting for it.
            sock.sendall(b"POST /api/v1/write HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: 50000000\r\n\r\n")
            reply = sock.recv(4096)
        finally:
            sock.close()
        check(reply.startswith(b"HTTP/1.1 401"), "early answer: %r" % reply[:120])
        srv.stop()
    finally:
        srv.cleanup()
        os.unlink(path)


def test_large_answer_spooled():
    # Over 1 MiB of JSON: the server moves the answer to a temporary file while building it.
    srv = shared()
    count = 60000
    text = "\n".join("fmtbig value=%d.25 %d" % (i % 1000, T0 + i * 1000) for i in range(count))
    srv.write_ok(text, precision="ms")
    params = {"series": "fmtbig", "from": T0, "to": T0 + count * 1000}
    status, headers, body = srv.request("GET", "/api/v1/query", params=params)
    eq(status, 200, "status of a large raw query")
    check(len(body) > (1 << 20), "answer is over 1 MiB (%d bytes)" % len(body))
    import json
    values = json.loads(body)["series"][0]["values"]
    eq(len(values), count, "rows in the large answer")
    eq(values[0], [T0, 0.25], "first row")
    eq(values[-1], [T0 + (count - 1) * 1000, (count - 1) % 1000 + 0.25], "last row")
    status, headers, body = srv.request("GET", "/api/v1/query", params=dict(params, format="csv"))
    eq(status, 200, "status of a large CSV query")
    lines = body.decode("utf-8").split("\r\n")
    eq(len(lines), count + 2, "CSV lines (header, rows, final empty)")
    eq(lines[-2], "fmtbig,,%d,%d.25" % (T0 + (count - 1) * 1000, (count - 1) % 1000),
       "last CSV row")


def test_large_msgpack_answer_spooled():
    # Over 1 MiB of msgpack across several series: spooled to a file, its series count patched
    # in afterwards; it must decode to exactly the JSON answer.
    srv = shared()
    count = 20000
    text = "\n".join("fmtbigmp,s=%d value=%d.75 %d" % (i % 4, i % 313, T0 + i * 1000)
                     for i in range(count * 4))
    srv.write_ok(text, precision="ms")
    params = {"series": "fmtbigmp", "from": T0, "to": T0 + count * 4000}
    status, headers, body = srv.request("GET", "/api/v1/query", params=dict(params,
                                                                            format="msgpack"))
    eq(status, 200, "status of a large msgpack query")
    check(len(body) > (1 << 20), "answer is over 1 MiB (%d bytes)" % len(body))
    doc = msgpack_decode(body)
    eq(len(doc["series"]), 4, "series count patched into the spooled header")
    eq(doc, srv.ok("query", **params), "msgpack answer equals the JSON answer")
