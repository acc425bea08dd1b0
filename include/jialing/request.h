/* Request parsing: turns the parameters of an API request (a plain list of decoded key/value
 * strings) into the plain request structs of query/ (qx_query_request, qx_scan_request, a
 * selector for the listings, a write precision), checking every parameter. An error names the
 * bad parameter (`parameter from: ...`), the message a client gets verbatim. Nothing here knows
 * HTTP or the server: the server hands over its parameters, the current time, its limits and a
 * parser for format= (output formats are the server's business), and maps the error code to a
 * status itself.
 *
 * Every endpoint refuses parameters it does not know (a misspelt one must not be silently
 * ignored) and known ones given twice (which value was meant is not for the server to guess).
 *
 * The word parsers qx_parse_aggregates(), qx_parse_fill() and qx_parse_compare() are declared in
 * jialing/query.h beside the types they fill, and defined with the rest in query/request.c.
 *
 * Caveats: the parsed structs point into themselves (query.selector at selector, query.zone at
 * zone, group tags into group_copy) and borrow nothing from the input once parsed, except that
 * rq_input's strings must outlive the parse call. Use them in place, never copy them, and destroy
 * them on every return, failed parses included. */
#ifndef JIALING_REQUEST_H
#define JIALING_REQUEST_H

#include "jialing/common.h"
#include "jialing/ingest.h"
#include "jialing/params.h"
#include "jialing/query.h"
#include "jialing/tz.h"

/* One request parameter, already decoded. */
typedef struct rq_param {
    const char *key;
    const char *value; /* "" for a key without '=' */
} rq_param;

/* Parses the text of format= into *format (a value the caller interprets). Returns JL_OK, or
 * JL_EINVAL with a message about the value (without the parameter's name, which the request
 * parser adds). */
typedef int (*rq_format_parser)(const char *text, int *format, jl_error *err);

/* What a request parser reads; every pointer borrowed for the call. */
typedef struct rq_input {
    const rq_param *params; /* the request's parameters, in request order */
    size_t param_count;
    int64_t now_ms;                /* the default range is the day before now_ms */
    int format;                    /* the answer's format when format= is absent */
    rq_format_parser parse_format; /* parses format=; required by the read endpoints */
    qx_limits limits;              /* copied into the query and scan requests */
} rq_input;

/* Returns the first value of key among params, or NULL (borrowed from params). */
const char *rq_param_get(const rq_param *params, size_t count, const char *key);

/* Refuses key given more than once: JL_OK, or JL_EINVAL "parameter KEY is given more than once". */
int rq_check_repeated(const rq_param *params, size_t count, const char *key, jl_error *err);

/* Refuses a known key (known: NULL-terminated) given twice, then any key not in known
 * ("unknown parameter \"KEY\""): JL_OK or JL_EINVAL. */
int rq_check_known(const rq_param *params, size_t count, const char *const *known, jl_error *err);

/* GET /api/v1/query: series, from, to, window, agg, tz, fill, format, offset, min_count and
 * group_by. Defaults: to = now_ms + 1, from = to - 1 day, agg=mean with a window, fill=none, tz
 * UTC. agg, fill (other than none), offset, min_count and group_by need a window. tz is a fixed
 * offset or an IANA zone name (loaded here). The result's query is ready for qx_query(). */
typedef struct rq_query {
    qx_query_request query; /* selector, zone and group_tags point into this struct */
    qp_selector selector;   /* owned */
    tz_zone *zone;          /* owned, NULL for a fixed offset */
    char *group_copy;       /* owned: the group_by value the group tag names point into */
    int format;             /* the answer's format */
} rq_query;

/* Parses in into out (cleared first, so it may be destroyed on any return). Returns JL_OK;
 * JL_EINVAL naming the parameter; JL_ENOMEM; or the code of a time zone that could not be read
 * (JL_EIO ...). */
int rq_query_parse(const rq_input *in, rq_query *out, jl_error *err);

/* Frees what rq_query_parse() put in query; safe on a cleared or destroyed one. */
void rq_query_destroy(rq_query *query);

/* GET /api/v1/scan: series, from, to (defaults as for a query), op and value (required), output
 * (points by default, count, episodes, duration), format, and for episodes and duration
 * min_duration and max_gap (fixed, non-negative durations). */
typedef struct rq_scan {
    qx_scan_request scan; /* selector points at the selector below */
    qp_selector selector; /* owned */
    int format;           /* the answer's format */
} rq_scan;

/* Parses in into out (cleared first). Returns JL_OK or JL_EINVAL naming the parameter. */
int rq_scan_parse(const rq_input *in, rq_scan *out, jl_error *err);

/* Frees the scan's selector; safe on a cleared or destroyed one. */
void rq_scan_destroy(rq_scan *scan);

/* GET /api/v1/latest and /api/v1/series: series and format only. */
typedef struct rq_listing {
    qp_selector selector; /* owned */
    int format;           /* the answer's format */
} rq_listing;

/* Parses in into out (cleared first). Returns JL_OK or JL_EINVAL naming the parameter. */
int rq_listing_parse(const rq_input *in, rq_listing *out, jl_error *err);

/* Frees the listing's selector; safe on a cleared or destroyed one. */
void rq_listing_destroy(rq_listing *listing);

/* POST /api/v1/write with a line-protocol body: precision (ns by default; us ms s m h). Other
 * parameters are ignored, as InfluxDB clients send their own (db, org, bucket ...). Returns JL_OK
 * or JL_EINVAL naming the parameter. */
int rq_write_parse(const rq_input *in, ig_precision *precision, jl_error *err);

/* POST /api/v1/backup: takes no parameters. Returns JL_OK or JL_EINVAL naming the first one. */
int rq_backup_parse(const rq_input *in, jl_error *err);

#endif
