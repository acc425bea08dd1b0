# Write bodies with Content-Encoding gzip or deflate, as InfluxDB clients send them: decoded and
# stored exactly; the decompressed size counts against --max-body-bytes (a gzip bomb is a 413
# naming the limit, and the server's memory stays far below the bomb's size); a corrupt stream is
# a 400 saying so; an unknown coding a 415. Also the InfluxDB write paths and their extra
# parameters (v2 org/bucket, v1 db/u/p/rp).

import gzip
import json
import zlib

from harness import Server, check, eq, line, shared

T0 = 1735689600000


def lines_body(metric, count, start_ms=T0):
    """count readings of one series at 1 s steps, values i * 0.5; returns (body, readings)."""
    readings = [[start_ms + i * 1000, i * 0.5] for i in range(count)]
    text = "\n".join(line(metric, {"s": "1"}, v, t) for t, v in readings)
    return text.encode(), readings


def raw_values(server, metric, from_ms, to_ms):
    doc = server.ok("query", series=metric, from_=from_ms, to=to_ms)
    return doc["series"][0]["values"] if doc["series"] else []


def post(server, body, encoding, path="/api/v1/write", params=None):
    headers = {"Content-Type": "text/plain"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    status, _, data = server.request("POST", path, body=body, headers=headers,
                                     params=params or {"precision": "ms"})
    return status, data.decode("utf-8", "replace")


def deflate_raw(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def test_gzip_and_deflate_bodies_are_stored_exactly():
    server = shared()
    cases = [
        ("gz_gzip", "gzip", gzip.compress),
        ("gz_xgzip", "x-gzip", gzip.compress),
        ("gz_upper", " GZIP ", gzip.compress),
        ("gz_deflate", "deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 defines it
        ("gz_rawdeflate", "deflate", deflate_raw),  # what some clients send instead
        ("gz_members", "gzip", lambda b: gzip.compress(b[:len(b) // 2]) +
         gzip.compress(b[len(b) // 2:])),  # two gzip members back to back
        ("gz_identity", "identity", lambda b: b),
    ]
    for metric, encoding, encode in cases:
        body, readings = lines_body(metric, 3000)
        status, text = post(server, encode(body), encoding)
        eq(status, 204, "%s write: %s" % (metric, text))
        eq(raw_values(server, metric, T0, T0 + 3000 * 1000), readings, "%s stored" % metric)


def test_corrupt_and_unknown_codings():
    server = shared()
    body, _ = lines_body("gz_bad", 100)
    packed = gzip.compress(body)
    status, text = post(server, packed[:len(packed) // 2], "gzip")
    eq(status, 400, "truncated gzip")
    check("not valid gzip" in text and "truncated" in text, "says truncated: %s" % text)
    broken = bytearray(packed)
    for i in range(20, 40):
        broken[i] ^= 0x5A
    status, text = post(server, bytes(broken), "gzip")
    eq(status, 400, "corrupt gzip")
    check("not valid gzip" in text, "says corrupt: %s" % text)
    status, text = post(server, body, "gzip")  # not compressed at all
    eq(status, 400, "plain body labelled gzip")
    status, text = post(server, zlib.compress(body) + b"junk", "deflate")
    eq(status, 400, "bytes after the deflate stream")
    status, text = post(server, body, "br")
    eq(status, 415, "unknown coding")
    check('"br" is not supported' in json.loads(text)["error"], "names the coding: %s" % text)
    status, text = post(server, body, "gzip, gzip")
    eq(status, 415, "stacked codings")
    eq(raw_values(server, "gz_bad", T0, T0 + 10**6), [], "nothing stored by refused writes")


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for text in f:
            if text.startswith("VmHWM:"):
                return int(text.split()[1])
    raise AssertionError("no VmHWM")


def test_gzip_bomb_is_413_and_bounded():
    limit = 1000000
    server = Server(sync="none", args=["--max-body-bytes", str(limit)], name="gzbomb").start()
    try:
        # 256 MiB of one repeated line inflates from about 250 KB.
        bomb_plain = b"gz_bomb,s=1 value=1 1735689600000\n" * (256 * 1024 * 1024 // 34)
        bomb = gzip.compress(bomb_plain, compresslevel=9)
        del bomb_plain
        check(len(bomb) < limit, "the bomb itself is under the limit (%d bytes)" % len(bomb))
        before = vm_hwm_kib(server.proc.pid)
        status, text = post(server, bomb, "gzip")
        eq(status, 413, "gzip bomb")
        check("limit of %d bytes" % limit in text, "names the limit: %s" % text)
        grown = vm_hwm_kib(server.proc.pid) - before
        check(grown < 64 * 1024, "peak memory grew by %d KiB for a 256 MiB bomb" % grown)
        # Just under the limit decompressed is fine; just over is a 413.
        body, readings = lines_body("gz_edge", 100)
        status, text = post(server, gzip.compress(body + b"\n" * (limit - len(body))), "gzip")
        eq(status, 204, "exactly at the limit: %s" % text)
        status, text = post(server, gzip.compress(body + b"\n" * (limit - len(body) + 1)), "gzip")
        eq(status, 413, "one byte over the limit")
        eq(raw_values(server, "gz_edge", T0, T0 + 10**6), readings, "the write at the limit")
        eq(raw_values(server, "gz_bomb", T0 - 1, T0 + 1), [], "nothing of the bomb stored")
    finally:
        server.stop()
        server.cleanup()


def test_influxdb_write_paths_and_parameters():
    server = shared()
    body, readings = lines_body("gz_v2", 50)
    # The v2 client: org and bucket are accepted and ignored (one store); precision as v1.
    status, text = post(server, gzip.compress(body), "gzip", path="/api/v2/write",
                        params={"org": "my-org", "bucket": "my-bucket", "precision": "ms"})
    eq(status, 204, "v2 write: %s" % text)
    eq(raw_values(server, "gz_v2", T0, T0 + 50000), readings, "v2 write stored")
    # node-influx: db, u, p, rp beside precision.
    body, readings = lines_body("gz_v1", 50)
    status, text = post(server, body, None, path="/write",
                        params={"db": "anything", "u": "", "p": "", "rp": "", "precision": "ms"})
    eq(status, 204, "v1 write: %s" % text)
    eq(raw_values(server, "gz_v1", T0, T0 + 50000), readings, "v1 write stored")
    # Every answer names the InfluxDB API version, as InfluxDB does.
    status, hdrs, _ = server.request("GET", "/health")
    check(hdrs.get("x-influxdb-version", "").startswith("1.8"), "version header: %r" % hdrs)
    status, doc = server.get("query", series="gz_v1")
    eq(status, 200, "plain read still fine: %r" % (doc,))
