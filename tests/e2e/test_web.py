# The web console and public page as HTTP: built-in files with their Content-Type, ETag and
# Cache-Control, 304 on If-None-Match, no file read at run time; GET /api/v1/public/latest with
# exact latest readings per site (computed here from what is written), a minute's cache and a
# strong ETag that changes when a reading arrives; access with --private-reads and --public.

import json
import os
import re
import tempfile

from harness import Server, check, eq, shared

T0 = 1735689600000  # 2025-01-01T00:00:00Z


def test_console_files_are_built_in():
    srv = shared()
    status, hdrs, body = srv.request("GET", "/")
    eq(status, 200, "GET /")
    eq(hdrs.get("content-type"), "text/html; charset=utf-8", "content type of /")
    eq(hdrs.get("cache-control"), "no-cache", "the page is revalidated")
    check(re.fullmatch(r'"[0-9a-f]{20}"', hdrs.get("etag", "")), "strong ETag on /: %r" % hdrs.get("etag"))
    page = body.decode()
    check("@@v:" not in page, "every asset version is filled in")
    # Every file the page names is served, with the type its extension says, cacheable for a year.
    names = re.findall(r'/assets/([A-Za-z0-9_.-]+)\?v=([0-9a-f]{20})', page)
    eq(sorted(n for n, _ in names),
       ["console.js", "style.css", "uPlot.iife.min.js", "uPlot.min.css"], "assets named by /")
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    for name, version in names:
        status, h, data = srv.request("GET", "/assets/%s?v=%s" % (name, version))
        eq(status, 200, "GET /assets/" + name)
        eq(h.get("content-type"), types[os.path.splitext(name)[1]], "content type of " + name)
        eq(h.get("cache-control"), "public, max-age=31536000, immutable", "caching of " + name)
        eq(h.get("etag"), '"%s"' % version, "the ?v= of %s is its ETag" % name)
        check(len(data) > 100, name + " has content")
    status, _, data = srv.request("GET", "/assets/uPlot.iife.min.js")
    check(b"uPlot" in data, "uPlot is the bundled library")


def test_conditional_get_and_head():
    srv = shared()
    status, hdrs, _ = srv.request("GET", "/public")
    eq(status, 200, "GET /public")
    etag = hdrs["etag"]
    status, h, data = srv.request("GET", "/public", headers={"If-None-Match": etag})
    eq(status, 304, "If-None-Match with the ETag")
    eq(data, b"", "a 304 has no body")
    eq(h.get("etag"), etag, "a 304 repeats the ETag")
    status, _, _ = srv.request("GET", "/public", headers={"If-None-Match": '"x", W/%s' % etag})
    eq(status, 304, "the ETag in a list, weak form")
    status, _, _ = srv.request("GET", "/public", headers={"If-None-Match": '"0000"'})
    eq(status, 200, "another ETag")
    status, h, data = srv.request("HEAD", "/")
    eq(status, 200, "HEAD /")
    eq(data, b"", "HEAD has no body")
    status, _, _ = srv.request("POST", "/", body=b"x")
    eq(status, 405, "POST /")
    status, _, _ = srv.request("GET", "/assets/nothing.js")
    eq(status, 404, "an asset that does not exist")


def site_lines():
    """Readings of two stations and a section; returns (line protocol, expected sites)."""
    lines, latest = [], {}
    for station, district, base in (("b-02", "east", 40), ("a-01", "west", 30)):
        for metric, offset in (("pm25", 0.0), ("o3", 50.5), ("pm10", 20.25)):
            for i in range(5):
                t, v = T0 + i * 60000, base + offset + i
                lines.append("%s,district=%s,station=%s value=%r %d" % (metric, district, station, v, t))
            latest[(station, metric)] = (T0 + 4 * 60000, base + offset + 4)
    lines.append("nh3n,district=north,section=river-1 value=0.512 %d" % T0)
    lines.append("nh3n,district=north,section=river-1 value=0.733 %d" % (T0 + 3600000))
    lines.append("cod,section=river-1,district=north value=12.5 %d" % T0)
    lines.append("pm25,site=no-site value=1 %d" % T0)  # no station or section: not public
    lines.append("humidity,station=a-01,district=west value=50 %d" % T0)  # not a public metric

    def air(station, district):
        return {"kind": "air", "site": station, "district": district,
                "readings": [{"metric": m, "time": latest[(station, m)][0],
                              "value": latest[(station, m)][1]} for m in ("pm25", "pm10", "o3")],
                "aqi": None}
    expected = {"sites": [
        air("b-02", "east"), air("a-01", "west"),  # ordered by district, then site
        {"kind": "water", "site": "river-1", "district": "north",
         "readings": [{"metric": "nh3n", "time": T0 + 3600000, "value": 0.733},
                      {"metric": "cod", "time": T0, "value": 12.5}],
         "water_class": None}]}
    return "\n".join(lines) + "\n", expected


def fnv1a64_etag(body):
    """The ETag jialingd must send for body: FNV-1a 64 (offset basis, prime), 16 hex digits."""
    h = 0xcbf29ce484222325
    for byte in body:
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return '"%016x"' % h


def test_public_latest_per_site():
    srv = Server(sync="none", name="public").start()
    try:
        status, hdrs, data = srv.request("GET", "/api/v1/public/latest")
        eq((status, json.loads(data)), (200, {"sites": []}), "an empty store")
        text, expected = site_lines()
        srv.write_ok(text, precision="ms")
        status, hdrs, data = srv.request("GET", "/api/v1/public/latest")
        eq(status, 200, "GET /api/v1/public/latest")
        eq(json.loads(data), expected, "latest readings per site")
        eq(hdrs.get("content-type"), "application/json", "content type")
        eq(hdrs.get("cache-control"), "public, max-age=60", "cacheable for a minute")
        etag, body = hdrs["etag"], data
        eq(etag, fnv1a64_etag(body), "the ETag is the FNV-1a hash of the body")
        status, hdrs, data = srv.request("GET", "/api/v1/public/latest")
        eq((status, hdrs.get("etag"), data), (200, etag, body), "no write: the same answer, same ETag")
        status, _, data = srv.request("GET", "/api/v1/public/latest", headers={"If-None-Match": etag})
        eq((status, data), (304, b""), "unchanged readings: 304")
        srv.write_ok("pm25,district=west,station=a-01 value=99.5 %d\n" % (T0 + 3600000), precision="ms")
        status, hdrs, data = srv.request("GET", "/api/v1/public/latest", headers={"If-None-Match": etag})
        eq(status, 200, "a new reading: a new answer")
        check(hdrs["etag"] != etag, "and a new ETag")
        a01 = [s for s in json.loads(data)["sites"] if s["site"] == "a-01"][0]
        eq(a01["readings"][0], {"metric": "pm25", "time": T0 + 3600000, "value": 99.5}, "new pm25")
        eq(hdrs["etag"], fnv1a64_etag(data), "the new ETag is the hash of the new body")
        status, _, data = srv.request("GET", "/api/v1/public/latest",
                                      headers={"If-None-Match": hdrs["etag"]})
        eq((status, data), (304, b""), "the new ETag: 304")
        status, _, data = srv.request("GET", "/api/v1/public/latest", params={"x": "1"})
        eq(status, 400, "an unknown parameter")
        check('"x"' in json.loads(data)["error"], "the error names it: %r" % data)
        srv.stop()
    finally:
        srv.cleanup()


def test_private_reads_and_public_flag():
    fd, tokens = tempfile.mkstemp(prefix="jialing-tokens-")
    with os.fdopen(fd, "w") as f:
        f.write("w-web-1 write\nr-web-2 read\n")
    try:
        for extra, public_open in (([], False), (["--public"], True)):
            srv = Server(sync="none", args=["--tokens", tokens, "--private-reads"] + extra,
                         name="web-private").start()
            try:
                what = "with --private-reads%s" % (" --public" if extra else "")
                for path in ("/public", "/api/v1/public/latest"):
                    status, _, _ = srv.request("GET", path)
                    eq(status, 200 if public_open else 401, "%s without a token %s" % (path, what))
                    status, _, _ = srv.request("GET", path, headers={"Authorization": "Bearer r-web-2"})
                    eq(status, 200, "%s with a read token %s" % (path, what))
                # The console's files hold no data and stay open; its queries need the token.
                status, _, _ = srv.request("GET", "/")
                eq(status, 200, "/ %s" % what)
                status, _, _ = srv.request("GET", "/api/v1/latest", params={"series": "pm25"})
                eq(status, 401, "/api/v1/latest without a token %s" % what)
                srv.stop()
            finally:
                srv.cleanup()
    finally:
        os.unlink(tokens)
