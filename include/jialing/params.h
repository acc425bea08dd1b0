/* Query parameter parsing: selectors, durations and time points, as the HTTP API accepts them.
 * Pure functions over text; no storage access.
 *
 * Selector: `metric` or `metric{tag="v",tag2!="w"}` (values in double quotes with \" and \\
 * escapes; whitespace allowed around tokens). Duration: an integer followed by a unit, ms s m h d
 * w mo y, or several such terms concatenated (`1h30m`). Time: RFC 3339 (`2025-01-01T00:00:00Z`,
 * `...+08:00`, fractional seconds allowed) or integer epoch milliseconds.
 *
 * Implemented one grammar per file: query/selector.c (selectors), query/duration.c (durations),
 * query/time_text.c (time points and UTC offsets) and query/number.c (numbers); the character
 * classes they share are in query/text_scan.h. */
#ifndef JIALING_PARAMS_H
#define JIALING_PARAMS_H

#include "jialing/common.h"

#define QP_MAX_MATCHERS 32

/* One tag condition of a selector. */
typedef struct qp_matcher {
    char *key;   /* owned by the selector, NUL-terminated */
    char *value; /* owned by the selector, NUL-terminated, unescaped */
    int negate;  /* 1 for != */
} qp_matcher;

/* A parsed selector; destroy with qp_selector_destroy(). */
typedef struct qp_selector {
    char *metric;                         /* owned, NUL-terminated */
    qp_matcher matchers[QP_MAX_MATCHERS]; /* tag conditions, ANDed */
    size_t matcher_count;                 /* used entries */
} qp_selector;

/* Parses text into out (zeroed first). JL_OK, or JL_EINVAL with err->column set. */
int qp_parse_selector(const char *text, qp_selector *out, jl_error *err);

/* Frees what qp_parse_selector() allocated; safe on a zeroed or destroyed selector. */
void qp_selector_destroy(qp_selector *selector);

/* A duration: fixed milliseconds plus calendar months (a year is 12 months). */
typedef struct qp_duration {
    int64_t ms;     /* fixed part: ms s m h d w */
    int32_t months; /* calendar part: mo y */
} qp_duration;

/* Parses a positive duration such as "5m", "1h30m", "1mo", "1y". JL_OK or JL_EINVAL. */
int qp_parse_duration(const char *text, qp_duration *out, jl_error *err);

/* Options of qp_parse_time_text() beyond RFC 3339 as the API takes it (the CLI's import sets all
 * three, as it always accepted them). */
#define QP_TIME_FOLD_LEAP_SECOND 1u /* second 60 is taken as second 59 of its minute */
#define QP_TIME_COMMA_FRACTION 2u   /* ',' may start the fraction, as ISO 8601 allows */
#define QP_TIME_PLUS_EPOCH 4u       /* epoch milliseconds may carry a '+' sign */

/* Parses exactly len bytes at text (no NUL needed; NULL with len 0 is allowed): integer epoch
 * milliseconds ("1735689600000", "-5") or an RFC 3339 date-time: YYYY-MM-DD, 'T', 't' or a space,
 * hh:mm:ss, optional '.' and fraction digits (truncated to milliseconds, toward the past), then
 * 'Z', 'z' or an offset as qp_scan_utc_offset() with allow_short 0 reads it. flags: QP_TIME_*.
 * Returns JL_OK with *ms within JL_MIN_MS..JL_MAX_MS, or JL_EINVAL (*ms set to 0) with a message
 * quoting up to 64 bytes of the text: empty, bad shape, no offset, a date that does not exist,
 * a time of day out of range, or a time outside the millisecond range. Nothing is retained. */
int qp_parse_time_text(const char *text, size_t len, unsigned flags, int64_t *ms, jl_error *err);

/* qp_parse_time_text() over the NUL-terminated text (NULL counts as empty), flags 0. */
int qp_parse_time(const char *text, int64_t *ms, jl_error *err);

/* The one UTC-offset grammar (time zone names, tz=, RFC 3339 offsets): reads exactly len bytes
 * at text as "+HH:MM" or "-HH:MM" (a space standing for '+', which is what an unencoded '+' in a
 * query string becomes), and when allow_short also "+HHMM" and "+HH". Returns 1 and sets
 * *offset_ms (east of UTC) for such an offset with hours 0..23 and minutes 0..59; -1 for one of
 * that shape out of range; 0 for any other text (*offset_ms untouched in both cases). */
int qp_scan_utc_offset(const char *text, size_t len, int allow_short, int64_t *offset_ms);

/* Parses a fixed UTC offset into milliseconds east of UTC: "Z", "z", "UTC", "utc", or what
 * qp_scan_utc_offset() accepts with allow_short ("+08:00", "-05:30", "+0800", "+08"). JL_OK, or
 * JL_EINVAL (*offset_ms 0) for NULL, empty, another shape, or an offset out of range. */
int qp_parse_utc_offset(const char *text, int64_t *offset_ms, jl_error *err);

/* Parses a finite decimal number (strtod syntax, no NaN/Inf). JL_OK or JL_EINVAL. */
int qp_parse_number(const char *text, double *out, jl_error *err);

#endif
