/* Query execution: raw readings, windowed aggregates, threshold scans, latest values and the
 * series listing, each read from one store snapshot and handed row by row to a sink, which the
 * server turns into JSON (and other formats). Windows that cover a whole sealed chunk take the
 * chunk's summary instead of decoding it; scans skip chunks whose min/max cannot match.
 *
 * Results keep DESIGN's shape: per series a metric, its tags, column names, then rows.
 *
 * Sinks see series one at a time in ascending series id order, each as series_begin, its rows,
 * series_end. A raw, windowed or points-scan query emits a series only when it has at least one
 * row (as InfluxDB does); a count scan emits one row for every matching series, zeros included;
 * latest and series skip series without readings. Windowed rows carry the window's start time,
 * even when the first window starts before from_ms (only readings at or after from_ms count).
 *
 * Caveats: when a query function returns an error, the rows already given to the sink are a
 * partial answer and must be dropped (the server buffers them and sends only the error); the last
 * series_begin may then have no series_end. All the work runs inside one store snapshot, so a
 * sink should only copy rows, not block. */
#ifndef JIALING_QUERY_H
#define JIALING_QUERY_H

#include "jialing/common.h"
#include "jialing/params.h"
#include "jialing/serieskey.h"
#include "jialing/store.h"

/* Aggregate functions. */
typedef enum qx_aggregate {
    QX_AGG_COUNT = 0,
    QX_AGG_SUM,
    QX_AGG_MEAN,
    QX_AGG_MIN,
    QX_AGG_MAX,
    QX_AGG_FIRST,
    QX_AGG_LAST,
} qx_aggregate;

#define QX_MAX_AGGREGATES 16

/* Parses a comma-separated list such as "mean,max" into aggs (QX_MAX_AGGREGATES entries) and
 * sets *count; duplicates are kept. JL_OK or JL_EINVAL naming the bad name (or an empty list). */
int qx_parse_aggregates(const char *text, qx_aggregate *aggs, size_t *count, jl_error *err);

/* Returns the column name of an aggregate ("mean", ...), "?" for a value outside the enum. */
const char *qx_aggregate_name(qx_aggregate agg);

/* One output cell. */
typedef enum qx_cell_type { QX_CELL_NULL = 0, QX_CELL_INT, QX_CELL_DOUBLE } qx_cell_type;
typedef struct qx_cell {
    qx_cell_type type;
    union {
        int64_t i; /* QX_CELL_INT */
        double d;  /* QX_CELL_DOUBLE */
    } as;
} qx_cell;

/* Where results go. Each callback returns JL_OK to go on or an error code to stop the query. */
typedef struct qx_sink {
    void *context; /* passed to every callback */
    /* A series starts: its metric, tags (borrowed for the call) and column names. */
    int (*series_begin)(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                        const char *const *columns, size_t column_count);
    /* One row of column_count cells. */
    int (*row)(void *context, const qx_cell *cells, size_t cell_count);
    /* The series ends. */
    int (*series_end)(void *context);
} qx_sink;

/* Limits every query obeys; zero means the default in brackets. */
typedef struct qx_limits {
    size_t max_series;    /* series a selector may match [10,000] */
    uint64_t max_rows;    /* rows in one response [2,000,000] */
    uint64_t max_windows; /* windows per series [1,000,000] */
    int64_t timeout_ms;   /* wall-clock budget [30,000] */
} qx_limits;

/* How a query was answered, for tests and self-metrics: chunks whose summary answered them (or,
 * in a scan, proved they could not match) versus chunks decoded. Tail readings count as neither. */
typedef struct qx_query_stats {
    uint64_t chunks_from_summary; /* sealed chunks used or skipped by their summary alone */
    uint64_t chunks_decoded;      /* sealed chunks decoded */
    uint64_t readings_decoded;    /* readings in those decoded chunks */
} qx_query_stats;

/* GET /api/v1/query. Without window: raw readings, columns time,value (INT, DOUBLE). With a
 * window: columns time (INT, window start) then one per aggregate (count INT, others DOUBLE);
 * empty windows are omitted (fill=none). */
typedef struct qx_query_request {
    const qp_selector *selector;
    int64_t from_ms;    /* inclusive */
    int64_t to_ms;      /* exclusive */
    int has_window;     /* 0: raw readings */
    qp_duration window; /* fixed (ms) windows, aligned to the epoch in offset_ms */
    int64_t offset_ms;  /* tz offset east of UTC */
    qx_aggregate aggregates[QX_MAX_AGGREGATES];
    size_t aggregate_count; /* >= 1 when has_window */
    qx_limits limits;
    qx_query_stats *stats; /* optional (NULL = not wanted): zeroed, then filled */
} qx_query_request;

/* Runs a query into sink. JL_OK, JL_EINVAL (bad request: from not before to, a window that is not
 * positive or is calendar-based (mo, y: not supported yet), no aggregates), JL_ELIMIT (too many
 * series, rows or windows per series; the message says which limit and how to narrow the
 * query), JL_ETIMEOUT, JL_EBUSY, a store error, or the code a sink callback returned. */
int qx_query(st_store *store, const qx_query_request *request, const qx_sink *sink, jl_error *err);

/* Threshold comparison. */
typedef enum qx_compare { QX_GT = 0, QX_GE, QX_LT, QX_LE } qx_compare;

/* Parses "gt", "ge", "lt", "le"; JL_OK or JL_EINVAL. */
int qx_parse_compare(const char *text, qx_compare *out, jl_error *err);

/* Scan output. */
typedef enum qx_scan_output { QX_SCAN_POINTS = 0, QX_SCAN_COUNT } qx_scan_output;

/* GET /api/v1/scan. */
typedef struct qx_scan_request {
    const qp_selector *selector;
    int64_t from_ms;
    int64_t to_ms;
    qx_compare compare;
    double threshold;
    qx_scan_output output;
    qx_limits limits;
    qx_query_stats *stats; /* optional (NULL = not wanted): zeroed, then filled */
} qx_scan_request;

/* Runs a threshold scan over [from_ms, to_ms): points (columns time,value: each matching
 * reading) or count (column count, INT: one row per matching series). Chunks whose min/max
 * cannot match are skipped undecoded; for count, chunks inside the range that match entirely
 * add their summary count. Errors as qx_query(). */
int qx_scan(st_store *store, const qx_scan_request *request, const qx_sink *sink, jl_error *err);

/* GET /api/v1/latest: one row (time INT, value DOUBLE) per series that has readings; limits may be
 * NULL (defaults). Errors as qx_query(). */
int qx_latest(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_sink *sink, jl_error *err);

/* GET /api/v1/series: one row (first, last, count; all INT) per matching series that has
 * readings; limits may be NULL (defaults). Errors as qx_query(). */
int qx_series(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_sink *sink, jl_error *err);

#endif
