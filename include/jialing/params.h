/* Query parameter parsing: selectors, durations and time points, as the HTTP API accepts them.
 * Pure functions over text; no storage access.
 *
 * Selector: `metric` or `metric{tag="v",tag2!="w"}` (values in double quotes with \" and \\
 * escapes; whitespace allowed around tokens). Duration: an integer followed by a unit, ms s m h d
 * w mo y, or several such terms concatenated (`1h30m`). Time: RFC 3339 (`2025-01-01T00:00:00Z`,
 * `...+08:00`, fractional seconds allowed) or integer epoch milliseconds. */
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

/* Parses an RFC 3339 time or integer epoch milliseconds into *ms (within JL_MIN_MS..JL_MAX_MS).
 * JL_OK or JL_EINVAL. */
int qp_parse_time(const char *text, int64_t *ms, jl_error *err);

/* Parses a fixed UTC offset "+08:00", "-05:30", "Z" or "UTC" into milliseconds east of UTC.
 * JL_OK or JL_EINVAL. */
int qp_parse_utc_offset(const char *text, int64_t *offset_ms, jl_error *err);

/* Parses a finite decimal number (strtod syntax, no NaN/Inf). JL_OK or JL_EINVAL. */
int qp_parse_number(const char *text, double *out, jl_error *err);

#endif
