# Refused input: a bad line among good ones (malformed, no field, bad timestamp, boolean, string,
# NaN, overflowing number), a bad precision, bad msgpack — each a 400 whose message names the
# line (and column) or the parameter, with the store unchanged afterwards. And bad query
# parameters: selectors, missing parameters, from >= to, bad times, windows, aggregates, tz, op.

import re

from harness import (Model, body_error, by_series, check, eq, error_message, line, rng,
                     shared, skey)

T0 = 1735689600000
MINUTE = 60000


def _snapshot(srv):
    docs = []
    for metric in ("errs", "errs_new"):
        docs.append(srv.ok("query", series=metric, from_=T0 - 86400000, to=T0 + 86400000))
        docs.append(srv.ok("series", series=metric))
        docs.append(srv.ok("latest", series=metric))
        docs.append(srv.ok("query", series=metric, from_=T0 - 86400000, to=T0 + 86400000,
                           window="1h", agg="count,sum,max"))
    return docs


def _names_line(message, number):
    return re.search(r"\bline\D{0,3}%d\b" % number, message, re.I) is not None


def _names_column(message, number):
    return (re.search(r"\bcol(umn)?\D{0,3}\d+", message, re.I) is not None
            or re.search(r"\b%d:\d+" % number, message) is not None)


_model = {}


def _setup(srv):
    if "m" in _model:
        return _model["m"]
    r = rng("errors_setup")
    model = Model()
    lines = []
    for i in range(500):
        ts = T0 + i * MINUTE
        value = round(r.uniform(0, 100), 1)
        model.put("errs", {"station": "e1"}, ts, value)
        lines.append(line("errs", {"station": "e1"}, value, ts))
    srv.write_ok("\n".join(lines), precision="ms")
    _model["m"] = model
    return model


BAD_LINES = [
    ("malformed number", "errs,station=e1 value=12x3 %d" % (T0 + 1)),
    ("no field", "errs,station=e1 %d" % (T0 + 2)),
    ("bad timestamp", "errs,station=e1 value=1.5 12ab34"),
    ("boolean field", "errs,station=e1 value=true %d" % (T0 + 3)),
    ("boolean field t", "errs,station=e1 value=t %d" % (T0 + 3)),
    ("string field", 'errs,station=e1 value="high" %d' % (T0 + 4)),
    ("NaN", "errs,station=e1 value=NaN %d" % (T0 + 5)),
    ("infinite", "errs,station=e1 value=1e999 %d" % (T0 + 6)),
    ("bad metric name", "9errs,station=e1 value=1 %d" % (T0 + 7)),
    ("unterminated tag", "errs,station value=1 %d" % (T0 + 8)),
]


def test_bad_line_refused_whole_batch():
    srv = shared()
    _setup(srv)
    before = _snapshot(srv)
    for bad_line_no, (what, bad) in enumerate(BAD_LINES, start=0):
        # Good lines overwrite existing readings and create a new series; none may be stored.
        good = [line("errs", {"station": "e1"}, 555.5, T0 + 7 * MINUTE),
                line("errs", {"station": "e1"}, 1.25, T0 + 7 * MINUTE + 30000),
                line("errs_new", {"station": "n1"}, 3.0, T0)]
        position = bad_line_no % 3 + 1  # the bad line is line 2, 3 or 4
        body_lines = ["# a comment line counts as a line"] + good
        body_lines.insert(position, bad)
        status, body = srv.write_lines("\n".join(body_lines) + "\n", precision="ms")
        eq(status, 400, "status for a batch with a %s (%s)" % (what, body[:200]))
        message = body_error(body)
        check(_names_line(message, position + 1),
              "message for a %s does not name line %d: %r" % (what, position + 1, message))
        check(_names_column(message, position + 1),
              "message for a %s does not name the column: %r" % (what, message))
    eq(_snapshot(srv), before, "store after refused batches")


def test_bad_precision_refused():
    srv = shared()
    _setup(srv)
    before = _snapshot(srv)
    status, body = srv.write_lines(line("errs_new", {"station": "n1"}, 1.0, T0), precision="xs")
    eq(status, 400, "status for precision=xs")
    check("precision" in body_error(body).lower(),
          "message for precision=xs does not name the parameter: %r" % body)
    eq(_snapshot(srv), before, "store after a refused precision")


def test_bad_msgpack_refused():
    srv = shared()
    _setup(srv)
    before = _snapshot(srv)
    good = {"metric": "errs_new", "tags": {"station": "n1"}, "t": [T0, T0 + 1], "v": [1.0, 2.0]}
    cases = [
        ("NaN value", {"metric": "errs_new", "tags": {"station": "n1"}, "t": [T0],
                       "v": [float("nan")]}),
        ("infinite value", {"metric": "errs_new", "tags": {"station": "n1"}, "t": [T0],
                            "v": [float("inf")]}),
        ("t and v of different lengths", {"metric": "errs_new", "tags": {"station": "n1"},
                                          "t": [T0, T0 + 1], "v": [1.0]}),
        ("missing metric", {"tags": {"station": "n1"}, "t": [T0], "v": [1.0]}),
        ("string value", {"metric": "errs_new", "tags": {"station": "n1"}, "t": [T0],
                          "v": ["1.0"]}),
    ]
    for what, bad in cases:
        status, body = srv.write_msgpack({"series": [good, bad]})
        eq(status, 400, "msgpack with a %s: status (%s)" % (what, body[:200]))
        body_error(body)
    status, body = srv.write_msgpack(b"\x81\xa6series\x91\x84")  # truncated
    eq(status, 400, "truncated msgpack: status (%s)" % body[:200])
    body_error(body)
    eq(_snapshot(srv), before, "store after refused msgpack batches")


def _bad_param(srv, endpoint, names, **params):
    status, doc = srv.get(endpoint, **params)
    eq(status, 400, "GET %s %r status (%r)" % (endpoint, params, doc))
    message = error_message(doc).lower()
    check(any(n in message for n in names),
          "GET %s %r: message does not name %s: %r" % (endpoint, params, " or ".join(names),
                                                        message))


def test_bad_query_parameters():
    srv = shared()
    _setup(srv)
    f, t = T0, T0 + 3600000
    for bad in ('errs{station="e1"', "errs{station=e1}", "{station=\"e1\"}", "9errs",
                'errs{station~"e1"}', ""):
        _bad_param(srv, "query", ["series", "selector"], series=bad, from_=f, to=t)
        _bad_param(srv, "latest", ["series", "selector"], series=bad)
        _bad_param(srv, "series", ["series", "selector"], series=bad)
        _bad_param(srv, "scan", ["series", "selector"], series=bad, from_=f, to=t, op="gt",
                   value=1)
    _bad_param(srv, "query", ["series"], from_=f, to=t)
    _bad_param(srv, "query", ["from"], series="errs", from_=t, to=f)
    _bad_param(srv, "query", ["from"], series="errs", from_=f, to=f)
    _bad_param(srv, "scan", ["from"], series="errs", from_=t, to=f, op="gt", value=1)
    _bad_param(srv, "query", ["from"], series="errs", from_="yesterday", to=t)
    _bad_param(srv, "query", ["to"], series="errs", from_=f, to="2025-13-45T00:00:00Z")
    _bad_param(srv, "query", ["window"], series="errs", from_=f, to=t, window="abc", agg="mean")
    _bad_param(srv, "query", ["window"], series="errs", from_=f, to=t, window="0s", agg="mean")
    _bad_param(srv, "query", ["agg", "median"], series="errs", from_=f, to=t, window="1h",
               agg="mean,median")
    _bad_param(srv, "query", ["tz"], series="errs", from_=f, to=t, window="1h", agg="mean",
               tz="Mars/Olympus")
    _bad_param(srv, "query", ["fill"], series="errs", from_=f, to=t, window="1h", agg="mean",
               fill="sometimes")
    _bad_param(srv, "scan", ["op"], series="errs", from_=f, to=t, op="eq", value=1)
    _bad_param(srv, "scan", ["value"], series="errs", from_=f, to=t, op="gt", value="abc")
    _bad_param(srv, "scan", ["value"], series="errs", from_=f, to=t, op="gt", value="nan")
    _bad_param(srv, "scan", ["value"], series="errs", from_=f, to=t, op="gt")
    _bad_param(srv, "scan", ["output"], series="errs", from_=f, to=t, op="gt", value=1,
               output="everything")
    # The refused queries left the data alone and a good query still answers.
    doc = srv.ok("query", series="errs", from_=f, to=t)
    eq(len(by_series(doc)[skey("errs", station="e1")]), 60, "readings in the first hour")
