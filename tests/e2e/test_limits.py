# Server flags: --max-body-bytes refuses larger bodies with 413 and stores nothing of them;
# --tokens requires a write token for writes (Bearer or Token scheme; 401 without or with an
# unknown token, 403 with a read token) while reads stay open.

import os
import tempfile

from harness import Server, body_error, by_series, eq, line, msgpack_encode, skey

T0 = 1735689600000


def test_max_body_bytes():
    srv = Server(sync="none", args=["--max-body-bytes", "4096"], name="maxbody").start()
    try:
        small = "\n".join(line("lim", {"s": "1"}, i, T0 + i) for i in range(20))
        big = "\n".join(line("lim", {"s": "2"}, i, T0 + i) for i in range(400))
        assert len(small) < 4096 < len(big)
        status, body = srv.write_lines(big, precision="ms")
        eq(status, 413, "status for a %d-byte body over a 4096-byte limit" % len(big))
        body_error(body)
        status, body = srv.write_msgpack(msgpack_encode({"series": [
            {"metric": "lim", "tags": {"s": "3"}, "t": list(range(T0, T0 + 600)),
             "v": [1.0] * 600}]}))
        eq(status, 413, "status for a msgpack body over the limit")
        status, body = srv.write_lines(small, precision="ms")
        eq(status, 204, "status for a %d-byte body (%s)" % (len(small), body[:200]))
        doc = srv.ok("series", series="lim")
        eq(by_series(doc), {skey("lim", s="1"): [[T0, T0 + 19, 20]]},
           "only the small body was stored")
        srv.stop()
    finally:
        srv.cleanup()


def test_tokens():
    fd, path = tempfile.mkstemp(prefix="jialing-tokens-")
    with os.fdopen(fd, "w") as f:
        f.write("w-secret-1 write\nr-secret-2 read\n")
    srv = Server(sync="none", args=["--tokens", path], name="tokens").start()
    try:
        text = line("auth", {"s": "1"}, 1.0, T0)
        for headers, expected, what in (
                ({}, 401, "no token"),
                ({"Authorization": "Bearer nope"}, 401, "unknown token"),
                ({"Authorization": "Bearer r-secret-2"}, 403, "read token")):
            status, body = srv.write_lines(text, precision="ms", headers=headers)
            eq(status, expected, "write with %s" % what)
            body_error(body)
        status, body = srv.write_msgpack(msgpack_encode({"series": [
            {"metric": "auth", "tags": {"s": "1"}, "t": [T0], "v": [1.0]}]}))
        eq(status, 401, "msgpack write without a token")
        eq(srv.ok("series", series="auth"), {"series": []}, "nothing stored by refused writes")

        status, body = srv.write_lines(text, precision="ms",
                                       headers={"Authorization": "Bearer w-secret-1"})
        eq(status, 204, "write with Bearer write token (%s)" % body[:200])
        status, body = srv.write_lines(line("auth", {"s": "1"}, 2.0, T0 + 1), precision="ms",
                                       path="/api/v2/write",
                                       headers={"Authorization": "Token w-secret-1"})
        eq(status, 204, "write with Token scheme (%s)" % body[:200])
        doc = srv.ok("query", series="auth", from_=T0, to=T0 + 10)
        eq(by_series(doc), {skey("auth", s="1"): [[T0, 1.0], [T0 + 1, 2.0]]},
           "readings of accepted writes (reads need no token)")
        srv.stop()
    finally:
        srv.cleanup()
        os.unlink(path)
