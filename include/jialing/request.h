/* Request parsing: turns the parameters of an API request (a plain list of decoded key/value
 * strings) into the plain request structs of query/ (qx_query_request, qx_scan_request, a
 * selector for the listings, a write precision) or small structs of their own (the discovery
 * listings, an InfluxDB /query), checking every parameter. An error names the
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
 * Caveats: a parsed rq_read points into itself (query.selector at selector, query.zone at zone,
 * group tags into group_copy) and borrow nothing from the input once parsed, except that
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

/* The read endpoints. Each refuses parameters it does not know and takes:
 * - RQ_QUERY (GET /api/v1/query): series, from, to, window, agg, tz, fill, format, offset,
 *   min_count, group_by, with_flags and flags. Defaults: to = now_ms + 1, from = to - 1 day,
 *   agg=mean with a window, fill=none, tz UTC, with_flags=false, flags=valid. flags is all
 *   (every reading), valid (review marks decide where they cover a reading, else its device flag
 *   must be in rq_input.limits.valid_flags, N when 0) or a list of flag letters such as M,C
 *   (device flags only); it fills query.flags (scan.flags for a scan). agg, fill (other than none),
 * offset, min_count and group_by need a window; with_flags (true or false) is refused with one. tz
 * is a fixed offset or an IANA zone name (loaded here). Fills query, ready for qx_query().
 * - RQ_SCAN (GET /api/v1/scan): series, from, to (defaults as for a query), op and value
 *   (required), output (points by default, count, episodes, duration), format, and for episodes
 *   and duration min_duration and max_gap (fixed, non-negative durations), flags as for a
 *   query. Fills scan, ready for
 *   qx_scan().
 * - RQ_LISTING (GET /api/v1/latest and /api/v1/series): series, format and with_flags (true or
 *   false; /api/v1/series only); selector is what qx_latest() and qx_series() take. */
typedef enum rq_endpoint { RQ_QUERY = 0, RQ_SCAN, RQ_LISTING } rq_endpoint;

/* A parsed read request. */
typedef struct rq_read {
    rq_endpoint endpoint;
    qx_query_request query; /* RQ_QUERY; selector, zone and group_tags point into this struct */
    qx_scan_request scan;   /* RQ_SCAN; selector points at the selector below */
    qp_selector selector;   /* owned: the series= selector of every endpoint */
    tz_zone *zone;          /* owned, RQ_QUERY with an IANA tz, else NULL */
    char *group_copy;       /* owned: the group_by value the group tag names point into */
    int format;             /* the answer's format: format=, else rq_input.format */
    int with_flags;         /* RQ_LISTING: with_flags=true (for /api/v1/series only) */
} rq_read;

/* Parses in as a request to endpoint into out (cleared first, so it may be destroyed on any
 * return). Returns JL_OK; JL_EINVAL naming the parameter; JL_ENOMEM; or, for a time zone that
 * exists but could not be read, its code (JL_EIO ...). */
int rq_read_parse(rq_endpoint endpoint, const rq_input *in, rq_read *out, jl_error *err);

/* Frees what rq_read_parse() put in read; safe on a cleared or destroyed one. */
void rq_read_destroy(rq_read *read);

/* POST /api/v1/write with a line-protocol body: precision (ns by default; us ms s m h). Other
 * parameters are ignored, as InfluxDB clients send their own (db, org, bucket ...). Returns JL_OK
 * or JL_EINVAL naming the parameter. */
int rq_write_parse(const rq_input *in, ig_precision *precision, jl_error *err);

/* POST /api/v1/backup: takes no parameters. Returns JL_OK or JL_EINVAL naming the first one. */
int rq_backup_parse(const rq_input *in, jl_error *err);

/* GET /api/v1/public/latest: takes no parameters either (the page's answer is the same for
 * everyone, which is what lets it be cached). Returns JL_OK or JL_EINVAL naming the first one. */
int rq_public_latest_parse(const rq_input *in, jl_error *err);

/* The cap on a discovery listing when the limits set none (qx_limits.max_series 0). */
#define RQ_DEFAULT_MAX_SERIES 10000

/* The discovery listings:
 * - RQ_DISCOVER_METRICS (GET /api/v1/metrics): limit and format.
 * - RQ_DISCOVER_TAGS (GET /api/v1/tags): metric and key (names, both optional), limit, format.
 * - RQ_DISCOVER_SERIES (GET /api/v1/series without series=): limit and format. */
typedef enum rq_discovery_kind {
    RQ_DISCOVER_METRICS = 0,
    RQ_DISCOVER_TAGS,
    RQ_DISCOVER_SERIES
} rq_discovery_kind;

/* A parsed discovery request; the strings are borrowed from the rq_input's parameters. */
typedef struct rq_discovery {
    int format;         /* format=, else rq_input.format */
    size_t limit;       /* limit=, else the cap (max_series, or RQ_DEFAULT_MAX_SERIES) */
    int explicit_limit; /* limit= was given: a longer listing is cut, not refused */
    const char *metric; /* RQ_DISCOVER_TAGS: metric=, or NULL */
    const char *key;    /* RQ_DISCOVER_TAGS: key= (list its values, not the keys), or NULL */
} rq_discovery;

/* Parses in as a discovery request of kind into out. limit= must be a whole number from 1 to the
 * cap. Returns JL_OK or JL_EINVAL naming the parameter. */
int rq_discovery_parse(rq_discovery_kind kind, const rq_input *in, rq_discovery *out,
                       jl_error *err);

/* An InfluxDB 1.x /query request: q, db and epoch, each taken from the query string or from a
 * form-encoded POST body; the strings are borrowed from the parameter lists. */
typedef struct rq_influx_query {
    const char *q;            /* the InfluxQL text, never empty */
    const char *db;           /* db=, or NULL */
    int64_t epoch_divisor_ns; /* epoch=: times as integers in this unit; 0 for RFC 3339 texts */
} rq_influx_query;

/* Parses an InfluxDB /query request. in's parameters may be q, db, epoch and what InfluxDB
 * clients send besides (u, p, rp, params, chunked, pretty, chunk_size: accepted and ignored);
 * any other is refused. A repeated one is not: InfluxDB takes the first. form (form_count
 * entries, may be NULL when 0) holds the q, db and epoch of a form-encoded body: the body's q
 * wins over the query string's, the query string's db and epoch over the body's. epoch is ns
 * (or n), u (or µ, us), ms, s, m or h; empty means RFC 3339. Returns JL_OK or JL_EINVAL with the
 * client's message. */
int rq_influx_query_parse(const rq_input *in, const rq_param *form, size_t form_count,
                          rq_influx_query *out, jl_error *err);

#endif
