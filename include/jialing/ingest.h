/* Ingest parsers: InfluxDB line protocol and the msgpack columnar batch, each turning a request
 * body into an st_batch. Implemented in query/ingest/ (lineproto.c, msgbatch.c), one file per
 * wire format.
 *
 * Ownership: a body is only read during the call and may be freed after it; everything the batch
 * keeps (series keys, readings) is copied into the caller's batch, which owns it.
 *
 * Caveats: a body is accepted whole or refused whole: on any error the batch is left partly
 * filled and must be discarded (st_batch_reset) by the caller, never written. The parsers keep
 * no state between calls and are safe from any thread on distinct batches.
 *
 * Line protocol mapping (as VictoriaMetrics does): measurement m, field f -> metric "m_f", or
 * just "m" when the field is named "value". Float and integer (12i, 12u) fields become doubles;
 * boolean and string fields, NaN and infinities are refused naming the line and column. */
#ifndef JIALING_INGEST_H
#define JIALING_INGEST_H

#include "jialing/common.h"
#include "jialing/store.h"

/* Timestamp precision of line-protocol timestamps. */
typedef enum ig_precision {
    IG_PRECISION_NS = 0, /* default, as InfluxDB */
    IG_PRECISION_US,
    IG_PRECISION_MS,
    IG_PRECISION_S,
    IG_PRECISION_M, /* minutes, as InfluxDB 1.x accepts */
    IG_PRECISION_H  /* hours */
} ig_precision;

/* Parses "ns", "us", "ms", "s", "m" or "h" (also "n", "u" as InfluxDB 1.x accepts) into *out.
 * JL_OK, or JL_EINVAL (any other text) with a message listing the accepted ones. */
int ig_precision_parse(const char *text, ig_precision *out, jl_error *err);

/* Parses a line-protocol body of len bytes (no NUL needed) into batch. Lines without a timestamp
 * take now_ms. Comments (#...), blank lines and CRLF endings are accepted. Returns JL_OK;
 * JL_EINVAL with err->line/column (1-based) set and a message saying what was wrong (bad syntax,
 * a name or tag outside the key rules, a boolean or string field, a value that is not finite, a
 * timestamp outside JL_MIN_MS..JL_MAX_MS after scaling by precision); or JL_ENOMEM. */
int ig_parse_line_protocol(const char *body, size_t len, ig_precision precision, int64_t now_ms,
                           st_batch *batch, jl_error *err);

/* Decodes a msgpack batch {"series":[{"metric":s,"tags":{s:s},"t":[int ms],"v":[float]}]} of len
 * bytes into batch. Returns JL_OK; JL_EINVAL with a message naming the series index and field on
 * bad input (not msgpack, wrong types or shapes, t and v of different lengths, invalid names,
 * non-finite values, times out of range, trailing bytes); or JL_ENOMEM. */
int ig_parse_msgpack(const char *body, size_t len, st_batch *batch, jl_error *err);

#endif
