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
 * Implemented in query/: engine.c (qx_query, raw readings), window.c, grid.c and groupby.c
 * (windows), scan.c, listing.c, aggregate.c (the aggregator table), over exec.c and source.c
 * (query_internal.h).
 *
 * Ownership: a request, its selector, zone and strings are borrowed for the call only; nothing
 * is retained after a query function returns. Everything a sink callback receives (metric, tags,
 * column names, cells) is borrowed for that callback only: a sink copies what it keeps.
 *
 * Caveats: when a query function returns an error, the rows already given to the sink are a
 * partial answer and must be dropped (the server buffers them and sends only the error); the last
 * series_begin may then have no series_end. All the work runs inside one store snapshot, so a
 * sink should only copy rows, not block. */
#ifndef JIALING_QUERY_H
#define JIALING_QUERY_H

#include "jialing/common.h"
#include "jialing/flag.h"
#include "jialing/params.h"
#include "jialing/review.h"
#include "jialing/serieskey.h"
#include "jialing/store.h"
#include "jialing/tz.h"

/* The store matchers (st_select) that a selector's metric and tag conditions stand for: out[0]
 * is {"__name__", metric, 0}, then one per matchers[0..count), in order, with their key, value
 * and negate. out has room for QP_MAX_MATCHERS + 1 entries; its strings are borrowed from metric
 * and matchers. Returns the entries written (count + 1), or 0 (nothing written) when count is
 * over QP_MAX_MATCHERS. Implemented in query/exec.c. */
size_t qx_selector_matchers(const char *metric, const qp_matcher *matchers, size_t count,
                            st_matcher *out);

/* Aggregate functions. Every one but percentile and twa can be answered from a chunk's summary
 * when the chunk lies inside one window; percentile and twa decode it.
 * - stddev: population standard deviation, sqrt(sum((x - mean)^2) / n); partial results merge
 *   with Chan's parallel formula.
 * - spread: max - min.
 * - twa: time-weighted mean, piecewise constant: a reading's value holds from its time until the
 *   next reading of the series in the query range; the last reading before a window (within the
 *   range) carries into it, and the last reading holds until the window's end (or `to`). twa =
 *   integral of that step function over the window's covered time / covered time, where the
 *   covered time starts at the window start (cut to `from`) when a reading carries in, else at the
 *   window's first reading. Merged across series it is total integral / total covered time.
 * - percentile (p<NN>, NN in 0..100, decimals allowed: p99.9): exact, by linear interpolation
 *   between closest ranks (numpy's default "linear"): with the window's n values sorted as
 *   x[0..n-1], h = (n-1)*NN/100, result x[floor(h)] + (h-floor(h))*(x[floor(h)+1]-x[floor(h)]).
 *   p0 is the min and p100 the max. */
typedef enum qx_aggregate {
    QX_AGG_COUNT = 0,
    QX_AGG_SUM,
    QX_AGG_MEAN,
    QX_AGG_MIN,
    QX_AGG_MAX,
    QX_AGG_FIRST,
    QX_AGG_LAST,
    QX_AGG_STDDEV,
    QX_AGG_SPREAD,
    QX_AGG_TWA,
    QX_AGG_PERCENTILE, /* its p is given beside it (qx_query_request.percentiles) */
} qx_aggregate;

#define QX_MAX_AGGREGATES 16

/* Parses a comma-separated list such as "mean,max,p95" into aggs (QX_MAX_AGGREGATES entries) and
 * sets *count; duplicates are kept. percentiles (QX_MAX_AGGREGATES entries, required) receives,
 * for each QX_AGG_PERCENTILE entry, its p (0..100); other entries get 0. JL_OK or JL_EINVAL naming
 * the bad name (or an empty list). */
int qx_parse_aggregates(const char *text, qx_aggregate *aggs, double *percentiles, size_t *count,
                        jl_error *err);

/* Returns the column name of an aggregate ("mean", ...; "p<NN>" for percentile), "?" for a value
 * outside the enum. */
const char *qx_aggregate_name(qx_aggregate agg);

/* How windows without a valid value are written. */
typedef enum qx_fill {
    QX_FILL_NONE = 0, /* left out */
    QX_FILL_NULL,     /* a row of nulls */
    QX_FILL_PREVIOUS, /* the previous valid window's values (nulls before the first) */
    QX_FILL_LINEAR,   /* per column, linear in window start time between the valid windows
                         before and after (nulls where either is missing); DOUBLE cells */
    QX_FILL_VALUE     /* every aggregate cell is fill_value (count: INT when it is integral) */
} qx_fill;

/* Parses "none", "null", "previous", "linear" or a finite number (QX_FILL_VALUE, *value set).
 * JL_OK or JL_EINVAL. */
int qx_parse_fill(const char *text, qx_fill *fill, double *value, jl_error *err);

#define QX_MAX_GROUP_TAGS 16

/* One output cell. A QX_CELL_FLAG holds a data flag code (JL_FLAG_*, jialing/flag.h) in as.i;
 * writers show it as its letter, a string. A QX_CELL_BOOL holds 0 or 1 in as.i; writers show
 * false or true. */
typedef enum qx_cell_type {
    QX_CELL_NULL = 0,
    QX_CELL_INT,
    QX_CELL_DOUBLE,
    QX_CELL_FLAG,
    QX_CELL_BOOL
} qx_cell_type;
typedef struct qx_cell {
    qx_cell_type type;
    union {
        int64_t i; /* QX_CELL_INT; QX_CELL_FLAG: the flag code; QX_CELL_BOOL: 0 or 1 */
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
/* Rows in one response when qx_limits.max_rows is 0. */
#define QX_DEFAULT_MAX_ROWS 2000000ULL

typedef struct qx_limits {
    size_t max_series;        /* series a selector may match [10,000] */
    uint64_t max_rows;        /* rows in one response [2,000,000] */
    uint64_t max_windows;     /* windows per series [1,000,000] */
    int64_t timeout_ms;       /* wall-clock budget [30,000] */
    jl_flag_mask valid_flags; /* device flags flags=valid takes as valid [N] (a server setting
                                 handed to requests like the limits) */
} qx_limits;

/* Which readings a query or scan looks at, by data flag (HJ 212, jialing/flag.h). Every stage
 * (raw readings, windows, group-by, scans) sees only the selected readings; a sealed chunk whose
 * flags all lie in mask and that no review span touches is still answered from its summary. */
typedef struct qx_flag_select {
    jl_flag_mask mask; /* readings whose device flag is in it; 0 (the zero value): every reading */
    int reviews;       /* 1: where a review span (st_snapshot_review_spans) covers a reading, its
                          valid mark decides instead of the device flag (flags=valid) */
} qx_flag_select;

/* How a query was answered, for tests and self-metrics: chunks whose summary answered them (or,
 * in a scan, proved they could not match) versus chunks decoded. Tail readings count as neither. */
typedef struct qx_query_stats {
    uint64_t chunks_from_summary;  /* sealed chunks used or skipped by their summary alone */
    uint64_t chunks_decoded;       /* sealed chunks decoded */
    uint64_t readings_decoded;     /* readings in those decoded chunks */
    uint64_t chunks_from_segments; /* sealed chunks used period by period from their segment
                                      tables, not decoded */
} qx_query_stats;

/* GET /api/v1/query. Without window: raw readings, columns time,value (INT, DOUBLE), and with
 * with_flags two more columns: flag (FLAG: the reading's stored device flag) and valid (BOOL:
 * whether it is valid, qx_validity in query_internal.h: a review mark in force decides, else the
 * device flag's being in limits.valid_flags; whatever the request's flags select). With a
 * window: columns time (INT, window start) then one per aggregate (count INT, others DOUBLE).
 *
 * Window grid. With zone NULL (a fixed offset, or UTC): a window of fixed length (ms s m h d w) is
 * aligned to the epoch in offset_ms (so 1d starts at local midnight), multiples of 1w to local
 * Mondays (from Monday 1969-12-29); mo and y start at local midnight of the 1st
 * (months counted from 1970-01, years from 1970). With an IANA zone (which may have DST): fixed
 * windows follow the local wall clock, aligned to the local epoch: a boundary is the first instant
 * at or after local time k*window (1d: local midnight; a day has 23 or 25 hours across DST
 * changes; at a fall-back a boundary is the first time its wall time is reached, so repeated
 * wall times fall into the window open when the clock goes back);
 * multiples of 1w start at local midnight on Mondays; mo and y as above. shift_ms then moves every
 * boundary later by that much elapsed time (negative: earlier), as InfluxDB's time(1d, 6h).
 *
 * Validity and fill: a window is valid when it has at least max(1, min_count) readings (in a
 * group, counted over all its series). fill=none leaves other windows out; any other fill writes
 * every window of the range, from the one holding from_ms to the one holding to_ms - 1, filling
 * the invalid or empty ones. A series (or group) without readings in the range is left out
 * whatever the fill.
 *
 * Group by: with group set, series that share the values of group_tags (a missing tag counts as
 * its own value) are merged into one result series per group: metric = the selector's metric,
 * tags = those group tags the group has; each series' windows are aggregated on their own and the
 * partial results merged (qa merge), as a sharded query would. group_tag_count 0 merges every
 * matching series into one (no tags). Groups come in order of their tag values. */
typedef struct qx_query_request {
    const qp_selector *selector;
    /* Optional further selectors of the same metric (NULL/0 for one selector): the query runs
     * over the union of the series that selector or any of these match, each series once, so a
     * series matched twice is neither read nor grouped twice. max_series bounds the union. */
    const qp_selector *more_selectors;
    size_t more_selector_count;
    int64_t from_ms;      /* inclusive */
    int64_t to_ms;        /* exclusive */
    int has_window;       /* 0: raw readings */
    int with_flags;       /* raw readings only: add the flag and valid columns */
    qx_flag_select flags; /* the readings looked at (zero: all) */
    qp_duration window;   /* fixed (ms) or calendar (months) length, not both */
    int64_t offset_ms;    /* tz offset east of UTC when zone is NULL */
    const tz_zone *zone;  /* IANA zone (borrowed for the call), NULL: fixed offset_ms */
    int64_t shift_ms;     /* boundaries move by this (offset=), within +-QX_MAX_SHIFT_MS */
    qx_aggregate aggregates[QX_MAX_AGGREGATES];
    double percentiles[QX_MAX_AGGREGATES]; /* p for QX_AGG_PERCENTILE entries */
    size_t aggregate_count;                /* >= 1 when has_window */
    uint64_t min_count; /* windows with fewer readings are invalid (0, 1: none) */
    qx_fill fill;
    double fill_value;                         /* QX_FILL_VALUE */
    int group;                                 /* 1: merge series by group_tags */
    const char *group_tags[QX_MAX_GROUP_TAGS]; /* borrowed for the call */
    size_t group_tag_count;
    qx_limits limits;
    qx_query_stats *stats; /* optional (NULL = not wanted): zeroed, then filled */
} qx_query_request;

/* Bound on shift_ms: a little over a year. */
#define QX_MAX_SHIFT_MS (400LL * 86400000)

/* Runs a query into sink. JL_OK, JL_EINVAL (bad request: from not before to, a window that is not
 * positive or mixes fixed and calendar units, no aggregates, group or fill options without a
 * window, with_flags with a window), JL_ELIMIT (too many series, rows, windows per series, windows
 * held for a group, or values held for a percentile; the message says which limit and how to narrow
 * the query), JL_ENOMEM, JL_ETIMEOUT, JL_EBUSY, a store error, or the code a sink callback
 * returned. */
int qx_query(st_store *store, const qx_query_request *request, const qx_sink *sink, jl_error *err);

/* Threshold comparison. */
typedef enum qx_compare { QX_GT = 0, QX_GE, QX_LT, QX_LE } qx_compare;

/* Parses "gt", "ge", "lt", "le" into *out; JL_OK, or JL_EINVAL (NULL or any other text) with a
 * message listing them. */
int qx_parse_compare(const char *text, qx_compare *out, jl_error *err);

/* Scan output. */
typedef enum qx_scan_output {
    QX_SCAN_POINTS = 0,
    QX_SCAN_COUNT,
    QX_SCAN_EPISODES, /* one row per episode: start, end, duration, count, peak */
    QX_SCAN_DURATION  /* one row per matching series: total duration of its episodes */
} qx_scan_output;

/* GET /api/v1/scan. */
typedef struct qx_scan_request {
    const qp_selector *selector;
    int64_t from_ms;
    int64_t to_ms;
    qx_compare compare;
    double threshold;
    qx_scan_output output;
    int64_t min_duration_ms; /* episodes, duration: shorter episodes are dropped (0: none) */
    int64_t max_gap_ms;      /* episodes, duration: a longer gap between readings ends a run
                                (0: no limit) */
    qx_flag_select flags;    /* the readings looked at (zero: all) */
    int with_flags;          /* output points only: add the flag and valid columns, as qx_query */
    qx_limits limits;
    qx_query_stats *stats; /* optional (NULL = not wanted): zeroed, then filled */
} qx_scan_request;

/* Runs a threshold scan over [from_ms, to_ms): points (columns time,value: each matching
 * reading; with with_flags also flag and valid, as qx_query()), count (column count, INT: one row
 * per matching series), episodes or duration.
 *
 * Episodes: only readings in the range are looked at, in time order. An episode is a maximal run
 * of consecutive matching readings in which no gap between neighbours exceeds max_gap_ms. start
 * is its first reading's time; end is the time of the reading that ended it (the first following
 * reading that does not match) when that reading follows within max_gap_ms, otherwise (a longer
 * gap, or no more readings in the range) its last matching reading's time; duration = end -
 * start; count = matching readings in it; peak = their max (gt, ge) or min (lt, le). Columns
 * start, end, duration, count (INT) and peak (DOUBLE). Episodes shorter than min_duration_ms are
 * dropped. Duration: column duration (INT ms), the sum of the kept episodes' durations, one row
 * per matching series (zeros included).
 *
 * Chunks whose min/max cannot match are skipped undecoded (for episodes the chunk's first reading
 * ends an open run); chunks inside the range that match entirely add their summary (count; and
 * episodes or duration without max_gap). Errors as qx_query(), and JL_EINVAL for a compare or
 * output outside its enum or a negative min_duration_ms or max_gap_ms. */
int qx_scan(st_store *store, const qx_scan_request *request, const qx_sink *sink, jl_error *err);

/* GET /api/v1/latest: one row (time INT, value DOUBLE) per series that has readings, from the
 * snapshot's in-memory series state (no chunk is read); limits may be NULL (defaults). With flags
 * not NULL and selecting fewer than every reading (flags=valid, or a list), the row is the latest
 * reading the selection keeps: the last one when the block holding it carries only selected
 * flags and no review span decides it (one cursor step, no decoding), else found by reading back
 * from the end; a series with no selected reading has no row. JL_OK, JL_EINVAL (a selector
 * without a metric or with more than QP_MAX_MATCHERS conditions), JL_ELIMIT (series or rows),
 * JL_ETIMEOUT, JL_ENOMEM, a store error, or a sink's code. */
int qx_latest(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_flag_select *flags, const qx_sink *sink, jl_error *err);

/* GET /api/v1/series: one row (first, last, count; all INT) per matching series that has
 * readings, from the same in-memory state; limits may be NULL (defaults). With with_flags the row
 * goes on with reviewed (1 when a review mark in force touches the series, else 0) and count_N,
 * count_F, ... count_B (readings stored per device flag, in code order, jialing/flag.h), which
 * reads every block's summary and decodes the chunks holding a flag other than N. Errors as
 * qx_latest(), and with with_flags a store error reading a chunk (JL_ECORRUPT ...). */
int qx_series(st_store *store, const qp_selector *selector, const qx_limits *limits, int with_flags,
              const qx_sink *sink, jl_error *err);

/* ---------- review marks (jialing/review.h) ----------
 * The query side of POST and GET /api/v1/review, in query/review.c: a mark names the series its
 * selector matches when it is made, and records how many of their readings it covered then. */

/* What a new mark says; every pointer borrowed for the call. */
typedef struct qx_review_request {
    const qp_selector *selector; /* the series to mark */
    const char *selector_text;   /* the selector as the reviewer wrote it, kept with the mark */
    int64_t from_ms;             /* first instant covered */
    int64_t to_ms;               /* end, exclusive */
    int valid;                   /* 1: valid whatever the device flag; 0: invalid */
    const char *reason;          /* the reviewer's reason */
    const char *made_by;         /* the token's name, "" without tokens */
    int64_t made_ms;             /* when (wall clock) */
} qx_review_request;

/* Resolves the selector to series ids (as of the last commit), counts their readings in
 * [from_ms, to_ms) in one snapshot (a sealed chunk wholly inside by its summary, one that
 * straddles an end decoded), then stores the mark with st_review_add() and sets *id. A reading
 * committed between the count and the mark's commit is covered but not counted. Returns JL_OK;
 * JL_EINVAL "series: selector matches no series", or a selector without a metric; JL_ELIMIT
 * (more than ST_REVIEW_MAX_SERIES series); the errors of st_select(), st_snapshot_open(), the
 * cursor calls and st_review_add() (nothing is stored on any error). */
int qx_review_add(st_store *store, const qx_review_request *request, uint64_t *id, jl_error *err);

/* Counts the distinct readings of the series ids[0..count) (ascending; unknown ids are skipped)
 * in [from_ms, to_ms) in one snapshot, into *readings, as qx_review_add() does. Returns JL_OK,
 * or the errors of st_snapshot_open() and the cursor calls. */
int qx_review_count(st_store *store, const uint64_t *ids, size_t count, int64_t from_ms,
                    int64_t to_ms, uint64_t *readings, jl_error *err);

/* A set of review mark ids, ascending and unique; starts zeroed ({0}). ids is malloc'd and owned
 * by the set (qx_mark_set_free()); cap is the set's own bookkeeping. */
typedef struct qx_mark_set {
    uint64_t *ids;
    size_t count;
    size_t cap;
} qx_mark_set;

/* Adds to *marks the ids of the review marks in force (as of the last commit) whose resolved spans
 * (st_snapshot_review_spans) touch [from_ms, to_ms), in any series matchers[0..matcher_count)
 * select (st_select, at most max_series; 0: no limit); *marks stays ascending and unique. When not
 * NULL, *any_series is set to 1 when some series matched, else 0, and *any_mark to 1 when some
 * mark touched the range in them (even one already in *marks), else 0. Returns JL_OK, JL_ENOMEM,
 * or the errors of st_select() (JL_ELIMIT over max_series ...) and st_snapshot_open(); on error
 * *marks keeps what it held, perhaps with some of the new ids (still ascending and unique). */
int qx_review_marks(st_store *store, const st_matcher *matchers, size_t matcher_count,
                    size_t max_series, int64_t from_ms, int64_t to_ms, qx_mark_set *marks,
                    int *any_series, int *any_mark, jl_error *err);

/* Frees the ids of the set and zeroes it; NULL is a no-op. */
void qx_mark_set_free(qx_mark_set *marks);

/* Lists the marks, withdrawn ones too, newest first, into *out (freed with
 * st_review_list_free(); NULL on error): only mark id when id is not 0; only those naming a
 * series selector matches now, when selector is not NULL (none when it matches nothing); only
 * those overlapping [from_ms, to_ms) when from_ms < to_ms. Returns JL_OK, JL_EINVAL (a selector
 * without a metric), JL_ELIMIT (more than ST_REVIEW_MAX_SERIES series), or the errors of
 * st_select() and st_review_list_marks(). */
int qx_review_list(st_store *store, const qp_selector *selector, int64_t from_ms, int64_t to_ms,
                   uint64_t id, st_review_list **out, jl_error *err);

#endif
