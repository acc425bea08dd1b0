# Segment tables: sealed chunks keep per-8-hour summaries, so daily windows in UTC and in UTC+8
# and 30-day windows are answered without decoding a chunk (as /metrics counts), with the same
# exact answers as decoding; windows the periods do not fit (UTC+05:30), an aggregate the table
# cannot serve (first), a late reading rewriting a chunk and a restart all keep the answers.

import re

from harness import (Server, by_series, check, compare_windows, eq, line, reference_windows,
                     rng)

T0 = 1735689600000  # 2025-01-01T00:00:00Z
MINUTE = 60000
HOUR = 3600000
DAY = 86400000
N = 30000  # about 21 days: several sealed chunks, each spanning more than a day
AGGS = ["count", "sum", "mean", "min", "max"]


def _chunk_reads(srv):
    status, _, body = srv.request("GET", "/metrics")
    eq(status, 200, "/metrics status")
    found = dict(re.findall(r'jialing_query_chunks_total\{read="(\w+)"\} (\d+)', body.decode()))
    check(set(found) == {"summary", "segments", "decoded"}, "chunk read counters: %r" % found)
    return {k: int(v) for k, v in found.items()}


def _windows(srv, readings, window, window_ms, offset_ms, tz, aggs, what):
    """Runs one windowed query, checks it against the truth, returns the chunk reads it made."""
    before = _chunk_reads(srv)
    frm, to = T0, T0 + 30 * DAY
    params = dict(series="so2", from_=frm, to=to, window=window, agg=",".join(aggs))
    if tz:
        params["tz"] = tz
    doc = srv.ok("query", **params)
    got = by_series(doc, ["time"] + aggs)
    check(len(got) == 1, "%s: one series, got %r" % (what, sorted(got)))
    expected = reference_windows(readings, window_ms, offset_ms, frm, to, aggs)
    compare_windows(list(got.values())[0], expected, aggs, what)
    after = _chunk_reads(srv)
    return {k: after[k] - before[k] for k in after}


def test_windows_from_segment_tables():
    srv = Server().start()
    try:
        r = rng("segments")
        readings = {}
        lines = []
        for i in range(N):
            ts = T0 + i * MINUTE + r.randint(0, 5) * 1000
            value = round(r.uniform(0, 150), 1)
            readings[ts] = value
            lines.append(line("so2", {"station": "g1"}, value, ts))
        for k in range(0, N, 5000):
            srv.write_ok("\n".join(lines[k:k + 5000]), precision="ms")
        points = sorted(readings.items())

        # Days: every sealed chunk spans two or more. 30 days: only the chunk across the
        # window boundary needs its table, the others lie inside one window.
        for window, window_ms, offset_ms, tz, spanning in (("1d", DAY, 0, None, 2),
                                                           ("1d", DAY, 8 * HOUR, "+08:00", 2),
                                                           ("30d", 30 * DAY, 0, None, 1)):
            what = "window %s tz %s" % (window, tz)
            reads = _windows(srv, points, window, window_ms, offset_ms, tz, AGGS, what)
            check(reads["segments"] >= spanning, "%s: chunks read by segment: %r" % (what, reads))
            eq(reads["decoded"], 0, "%s: chunks decoded" % what)

        reads = _windows(srv, points, "1d", DAY, 5 * HOUR + 30 * MINUTE, "+05:30", AGGS,
                         "window 1d tz +05:30")
        eq(reads["segments"], 0, "1d in +05:30: chunks read by segment")
        check(reads["decoded"] >= 2, "1d in +05:30: chunks decoded: %r" % reads)
        reads = _windows(srv, points, "1d", DAY, 0, None, AGGS + ["first"], "1d with first")
        eq(reads["segments"], 0, "1d with first: chunks read by segment")

        # A count above a threshold no reading of the first two days reaches: those periods are
        # all "no", so the count comes from the tables where a chunk has no mixed period.
        doc = srv.ok("scan", series="so2", from_=T0, to=T0 + 30 * DAY, op="gt", value=149.5,
                     output="count")
        eq(list(by_series(doc, ["count"]).values()), [[[sum(1 for _, v in points if v > 149.5)]]],
           "count above 149.5")

        # A late reading into the first sealed chunk rewrites it, table included.
        late_ts = T0 + 5 * HOUR + 30 * 1000 + 1
        readings[late_ts] = 999.9
        srv.write_ok(line("so2", {"station": "g1"}, 999.9, late_ts), precision="ms")
        points = sorted(readings.items())
        reads = _windows(srv, points, "1d", DAY, 0, None, AGGS, "1d after a late reading")
        eq(reads["decoded"], 0, "1d after a late reading: chunks decoded")

        srv.restart()
        reads = _windows(srv, points, "1d", DAY, 8 * HOUR, "+08:00", AGGS, "1d +08:00 restarted")
        check(reads["segments"] >= 2, "after restart: chunks read by segment: %r" % reads)
    finally:
        srv.cleanup()
