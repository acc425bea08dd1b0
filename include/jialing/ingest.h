/* Ingest parsers: InfluxDB line protocol and the msgpack columnar batch, each turning a request
 * body into an st_batch. A body is accepted whole or refused whole: on any error the batch is
 * left partly filled and must be discarded (st_batch_reset) by the caller.
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

/* Parses "ns", "us", "ms", "s", "m" or "h" (also "n", "u" as InfluxDB 1.x accepts); JL_OK or
 * JL_EINVAL. */
int ig_precision_parse(const char *text, ig_precision *out, jl_error *err);

/* Parses a line-protocol body of len bytes into batch. Lines without a timestamp take now_ms.
 * Comments (#...), blank lines and CRLF endings are accepted. On error returns JL_EINVAL with
 * err->line/column set and a message saying what was wrong, or JL_ENOMEM. */
int ig_parse_line_protocol(const char *body, size_t len, ig_precision precision, int64_t now_ms,
                           st_batch *batch, jl_error *err);

/* Decodes a msgpack batch {"series":[{"metric":s,"tags":{s:s},"t":[int ms],"v":[float]}]} into
 * batch. Returns JL_EINVAL with a message naming the series index and field on bad input. */
int ig_parse_msgpack(const char *body, size_t len, st_batch *batch, jl_error *err);

#endif
