# Discovery: /api/v1/metrics, /api/v1/tags (keys, and values of one key, optionally of one
# metric) and /api/v1/series without a selector, on a server of its own so that every count is
# known: the expected answers are computed here from the series the test writes.

import collections

from harness import Server, check, eq, error_message, line
from test_formats import msgpack_decode

T0 = 1735689600000

# (metric, tags) of every series written; counts below are computed from this list.
SERIES = [
    ("pm25", {"district": "jiulongpo", "station": "jlp-01"}),
    ("pm25", {"district": "jiulongpo", "station": "jlp-02"}),
    ("pm25", {"district": "yuzhong", "station": "yz-01"}),
    ("pm25", {"district": "yuzhong", "station": "yz-02"}),
    ("nh3n", {"district": "jiulongpo", "section": "s-1"}),
    ("nh3n", {"district": "yuzhong", "section": "s-2"}),
    ("cod", {}),
    # A value too long for an LMDB key: its posting holds a hash the listing must resolve.
    ("o3", {"district": "x" * 600, "station": "long-1"}),
    # A real value shaped like such a hash: it must be listed as itself.
    ("o3", {"district": "#0123456789abcdef", "station": "hash-shaped"}),
]


def expected_metrics():
    counts = collections.Counter(metric for metric, _ in SERIES)
    return sorted(counts.items())


def expected_keys(metric=None):
    counts = collections.Counter(k for m, tags in SERIES if metric in (None, m) for k in tags)
    return sorted([k, n] for k, n in counts.items())


def expected_values(key, metric=None):
    counts = collections.Counter(tags[key] for m, tags in SERIES
                                 if metric in (None, m) and key in tags)
    return sorted([v, n] for v, n in counts.items())


def start_server(args=()):
    server = Server(sync="none", args=list(args), name="discovery").start()
    body = "\n".join(line(metric, tags, 1.0 + i, (T0 + i * 1000) * 1000000)
                     for i, (metric, tags) in enumerate(SERIES))
    server.write_ok(body)
    return server


def test_discovery_listings_exact():
    server = start_server()
    try:
        doc = server.ok("metrics")
        eq(doc["series"], [{"metric": m, "tags": {}, "columns": ["series"], "values": [[n]]}
                           for m, n in expected_metrics()], "GET /api/v1/metrics")

        doc = server.ok("tags")
        eq(doc["series"], [{"metric": "", "tags": {}, "columns": ["key", "series"],
                            "values": expected_keys()}], "GET /api/v1/tags")
        for metric in ("pm25", "nh3n", "cod", "o3", "nosuch"):
            doc = server.ok("tags", metric=metric)
            eq(doc["series"], [{"metric": metric, "tags": {}, "columns": ["key", "series"],
                                "values": expected_keys(metric)}], "tags of %s" % metric)
        for key in ("district", "station", "section", "nosuch"):
            doc = server.ok("tags", key=key)
            eq(doc["series"], [{"metric": "", "tags": {}, "columns": ["value", "series"],
                                "values": expected_values(key)}], "values of %s" % key)
            for metric in ("pm25", "o3"):
                doc = server.ok("tags", key=key, metric=metric)
                eq(doc["series"][0]["values"], expected_values(key, metric),
                   "values of %s in %s" % (key, metric))
        # The hashed posting resolves to the real long value, and the hash-shaped one to itself.
        values = [v for v, _ in server.ok("tags", key="district")["series"][0]["values"]]
        check("x" * 600 in values and "#0123456789abcdef" in values,
              "long and hash-shaped values listed as themselves: %r" % values)
    finally:
        server.stop()
        server.cleanup()


def test_discovery_limits_and_errors():
    server = start_server(["--max-series", "3"])
    try:
        # More metrics (4) than --max-series (3) without limit=: a 422 naming the limit.
        status, doc = server.get("metrics")
        eq(status, 422, "metrics beyond --max-series")
        check("limit is 3" in error_message(doc), "names the limit: %r" % doc)
        doc = server.ok("metrics", limit="2")
        eq([s["metric"] for s in doc["series"]], [m for m, _ in expected_metrics()][:2],
           "limit=2 gives the first two names")
        eq(server.get("metrics", limit="0")[0], 400, "limit=0")
        eq(server.get("metrics", limit="4")[0], 400, "limit above --max-series")
        eq(server.get("tags", bogus="1")[0], 400, "unknown parameter")
        eq(server.get("tags", key="not valid")[0], 400, "bad key")
        # All series without a selector: 9 > 3 is refused, limit= gives the first (by id).
        status, doc = server.get("series")
        eq(status, 422, "all series beyond --max-series")
        doc = server.ok("series", limit="3")
        got = [(s["metric"], s["tags"], s["values"]) for s in doc["series"]]
        want = [(m, t, [[(T0 + i * 1000), (T0 + i * 1000), 1]])
                for i, (m, t) in enumerate(SERIES[:3])]
        eq(got, want, "first three series with first, last, count")
    finally:
        server.stop()
        server.cleanup()


def test_discovery_formats():
    server = start_server()
    try:
        status, hdrs, data = server.request("GET", "/api/v1/tags",
                                            params={"key": "station", "metric": "pm25",
                                                    "format": "csv"})
        eq(status, 200, "csv status")
        check(hdrs["content-type"].startswith("text/csv"), "csv type %r" % hdrs)
        want = "metric,tags,value,series\r\n" + "".join(
            "pm25,,%s,%d\r\n" % (v, n) for v, n in expected_values("station", "pm25"))
        eq(data.decode(), want, "csv tag values")
        status, hdrs, data = server.request("GET", "/api/v1/metrics",
                                            params={"format": "msgpack"})
        eq(status, 200, "msgpack status")
        eq(msgpack_decode(data),
           {"series": [{"metric": m, "tags": {}, "columns": ["series"], "values": [[n]]}
                       for m, n in expected_metrics()]}, "msgpack metrics")
        status, doc = server.get("series", format="json")
        eq(status, 200, "all series")
        eq(len(doc["series"]), len(SERIES), "every series listed")
    finally:
        server.stop()
        server.cleanup()
