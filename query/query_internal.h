/* Internal to query/: what the files of the query engine share. A request is validated and
 * planned (engine.c, window.c, scan.c, listing.c), then runs as a chain of small stages over one
 * store snapshot (exec.c): for each matching series a block source (source.c: cursor + range
 * filter + time budget + chunk policy) hands batches to a stage that turns them into rows: raw
 * readings (engine.c), windowed aggregates on a window grid (grid.c, window.c, groupby.c) or a
 * threshold scan (scan.c). The chunk policy is where summaries replace decoding: a stage looks
 * at a sealed chunk's summary and says whether to skip it, use it whole, or decode it.
 *
 * Ownership in one line: everything here lives on the caller's stack for one request and borrows
 * the request, the snapshot and the sink; only qx_window states (percentile values) and group
 * tables own heap memory, as their comments say. */
#ifndef JIALING_QUERY_INTERNAL_H
#define JIALING_QUERY_INTERNAL_H

#include "aggregate.h"
#include "jialing/query.h"

#define QX_DAY_MS 86400000LL
#define QX_WEEK_MS (7 * QX_DAY_MS)

/* ---- window grid (grid.c) ----
 * Where windows start and end. Stages only call qx_grid_window(); the kinds differ in how a
 * boundary is found:
 * - FIXED: a fixed offset zone: width_ms windows aligned to the epoch in offset_ms.
 * - WALL: an IANA zone: boundaries at local wall-clock times anchor + k * width, each at the first
 *   instant whose local time reaches it (tz_local_to_utc), so that windows follow DST changes.
 * - UNIT: calendar months and years (and nothing else) through tz_unit_start/next.
 * shift_ms (offset=) moves every boundary by that much elapsed time. */

typedef enum qx_grid_kind { QX_GRID_FIXED = 0, QX_GRID_WALL, QX_GRID_UNIT } qx_grid_kind;

typedef struct qx_grid {
    qx_grid_kind kind;
    int64_t width_ms;    /* FIXED, WALL: window length */
    int64_t offset_ms;   /* FIXED: local time minus UTC */
    int64_t anchor_ms;   /* WALL: a local time that is a boundary (a Monday for weeks) */
    int64_t shift_ms;    /* boundaries move later by this */
    const tz_zone *zone; /* WALL, UNIT (borrowed from the request, or the plan's owned zone) */
    tz_unit unit;        /* UNIT */
    int64_t count;       /* UNIT: units per window */
} qx_grid;

/* Sets up *grid for windows of length window in zone (borrowed: it must outlive the grid), or
 * with zone NULL in the fixed offset offset_ms (east of UTC), every boundary moved by shift_ms.
 * *owned_zone receives a zone made here (calendar windows in a fixed offset need one), which the
 * caller frees with tz_zone_free() after the last use of the grid (left untouched when none was
 * made, so the caller sets it to NULL first). JL_OK, JL_EINVAL naming the bad parameter (window,
 * tz offset, offset), or tz_zone_load()'s error. Used by qx_grid_plan() and by the alarm rules
 * (rules.c), so that a window rule's windows are those of /query window=. */
int qx_grid_init(qx_grid *grid, const qp_duration *window, const tz_zone *zone, int64_t offset_ms,
                 int64_t shift_ms, tz_zone **owned_zone, jl_error *err);

/* The grid of a request: qx_grid_init() with its window, zone, offset_ms and shift_ms (the
 * zone borrowed; *owned_zone as there). Returns what qx_grid_init() returns. */
int qx_grid_plan(const qx_query_request *request, qx_grid *grid, tz_zone **owned_zone,
                 jl_error *err);

/* Sets [*start, *end) to the window holding t_ms. Inputs are bounded by validation, so nothing
 * overflows. */
void qx_grid_window(const qx_grid *grid, int64_t t_ms, int64_t *start, int64_t *end);

/* Returns the windows that intersect [from_ms, to_ms) (from_ms < to_ms), counted exactly for
 * FIXED grids, and for the others up to limit + 1 (more than limit: stop). */
uint64_t qx_grid_count(const qx_grid *grid, int64_t from_ms, int64_t to_ms, uint64_t limit);

/* Writes a window length into out the way a user would type it ("5m", "1d", "1500ms"). */
void qx_duration_format(const qp_duration *d, char *out, size_t size);

/* ---- execution context (exec.c) ---- */

typedef struct qx_exec {
    const qx_sink *sink;
    jl_error *err;
    qx_limits limits;   /* defaults applied */
    int64_t started_ns; /* jl_monotonic_ns() at the start of the call */
    uint64_t rows;      /* rows handed to the sink so far */
    qx_query_stats stats;
    const char *const *columns; /* of every series of this request */
    size_t column_count;
    st_snapshot *snapshot; /* owned between qx_exec_open() and qx_exec_close() */
    size_t series_index;   /* series being emitted */
    int series_begun;      /* series_begin was called for it */
    int grouped;           /* rows belong to a group: group_metric/group_tags name it */
    sk_text group_metric;
    const sk_tag *group_tags;
    size_t group_tag_count;
    const qp_selector *more_selectors; /* ORed with the selector qx_exec_open() is given (the
                                          request's, borrowed); NULL/0: that one alone */
    size_t more_selector_count;
    qx_flag_select flags; /* the request's: every source of it passes on only these readings */
} qx_exec;

/* A stage over one series of the snapshot: JL_OK to go on, or an error that ends the request. */
typedef int (*qx_series_fn)(qx_exec *exec, size_t index, const st_series_info *info, void *context);

/* Starts a request: limits (may be NULL) with defaults for zero fields, the clock, err cleared. */
void qx_exec_init(qx_exec *exec, const qx_limits *limits, const qx_sink *sink, jl_error *err);

/* qx_exec_init(), then zeroes *stats (when not NULL) and checks the request's range: JL_OK, or
 * JL_EINVAL when from_ms is not before to_ms. */
int qx_exec_start(qx_exec *exec, const qx_limits *limits, qx_query_stats *stats, int64_t from_ms,
                  int64_t to_ms, const qx_sink *sink, jl_error *err);

/* Reads series index of exec's snapshot into *info (borrowed from the snapshot); JL_OK or the
 * store's error, with a message naming the series. */
int qx_exec_series_info(qx_exec *exec, size_t index, st_series_info *info);

/* JL_OK, or JL_ETIMEOUT with a message once the request ran past limits.timeout_ms. */
int qx_exec_check_time(qx_exec *exec);

/* Gives a sink's refusal rc a message if the sink left none; returns rc. */
int qx_exec_sink_failed(qx_exec *exec, int rc);

/* Hands one row of column_count cells to the sink, beginning the current series (or group) at
 * the sink first. JL_OK, JL_ELIMIT past limits.max_rows, a key parse error, or the sink's code. */
int qx_exec_row(qx_exec *exec, const qx_cell *cells);

/* Resolves the selector (and exec->more_selectors: the union, sorted, each series once) and opens
 * one snapshot of the matching series into exec->snapshot (left NULL when none match). JL_OK,
 * JL_EINVAL for a selector without a metric or with too many tag conditions, JL_ELIMIT for too
 * many series (in the union), or a store error. */
int qx_exec_open(qx_exec *exec, st_store *store, const qp_selector *selector);

/* Closes exec->snapshot (if any). */
void qx_exec_close(qx_exec *exec);

/* qx_exec_open(), then fn for each series in id order, closing at the sink each series fn
 * began, then qx_exec_close(). Returns the first error of any of them, or JL_OK. */
int qx_exec_run(qx_exec *exec, st_store *store, const qp_selector *selector, qx_series_fn fn,
                void *context);

/* Cuts [*from_ms, *to_ms) to the times readings may have (JL_MIN_MS..JL_MAX_MS), which also
 * keeps window arithmetic far from int64 overflow. Returns 0 when nothing remains, else 1. */
int qx_clamp_range(int64_t *from_ms, int64_t *to_ms);

/* ---- block source (source.c) ----
 * Reads one series' blocks within [from, to) and yields batches: either a whole sealed chunk by
 * its summary (when the policy says so) or readings sliced to the range. */

/* QX_USE_SEGMENTS: ask again for each period of the chunk's segment table (those summaries
 * have segment_count 0); the chunk is decoded if any period says decode. */
typedef enum qx_use { QX_USE_DECODE = 0, QX_USE_SUMMARY, QX_USE_SKIP, QX_USE_SEGMENTS } qx_use;

/* Decides for a sealed chunk not yet decoded; NULL policy means always decode. */
typedef qx_use (*qx_chunk_policy)(const void *context, const ck_summary *summary);

/* One step of a source; every pointer belongs to the source and is valid until its next
 * qx_source_next() or qx_source_close(). */
typedef struct qx_batch {
    const ck_summary *summary;    /* non-NULL: the whole chunk, by summary, inside the range */
    int skipped;                  /* with summary: the policy skipped this chunk (reported only
                                     when the source's report_skips is set) */
    const int64_t *timestamps_ms; /* else: count readings within the range */
    const double *values;
    const uint8_t *flags; /* with timestamps_ms: each reading's flag code, NULL when all are N */
    size_t count;
} qx_batch;

/* The validity of one series' readings, for the valid column of with_flags=true: where a review
 * mark in force covers a reading its mark decides, else whether its device flag is in the
 * server's valid set (qx_limits.valid_flags, N when 0), whatever readings the request selects.
 * The block source holds one too, with the request's selection (qx_flag_select.mask) as the
 * set: which readings it yields is the same rule (qx_validity_at). */
typedef struct qx_validity {
    const st_review_span *spans; /* owned by exec's snapshot */
    size_t span_count, span_next;
    jl_flag_mask valid_mask;
} qx_validity;

typedef struct qx_source {
    qx_exec *exec;
    st_cursor *cursor; /* owned */
    int64_t from_ms, to_ms;
    qx_chunk_policy policy;
    const void *policy_context;
    st_block block;             /* current block; its arrays belong to the cursor */
    int report_skips;           /* yield skipped chunks too (batch.skipped) */
    int has_previous;           /* a batch was yielded */
    int64_t previous_ms;        /* last time of the previous batch */
    const ck_segment *segments; /* the current chunk's table, owned by the cursor, while
                                   periods of it remain to be yielded */
    size_t segment_count, segment_next;
    ck_summary segment;    /* the period last yielded */
    int filter;            /* exec->flags selects fewer than every reading */
    qx_validity selection; /* the readings exec->flags selects: its mask as the set, the
                              series' review spans when the selection heeds them (none
                              else); span_next: first span not ending before the last
                              reading */
    int64_t *kept_ms;      /* owned: the selected readings of the current block */
    double *kept_values;
    uint8_t *kept_flags;
    size_t kept_capacity;
} qx_source;

/* Opens a source over series index of exec's snapshot for [from_ms, to_ms); policy may be NULL.
 * JL_OK or the store's error; qx_source_close() is due either way. */
int qx_source_open(qx_source *source, qx_exec *exec, size_t index, int64_t from_ms, int64_t to_ms,
                   qx_chunk_policy policy, const void *policy_context);

/* Closes the source's cursor; safe after a failed open. */
void qx_source_close(qx_source *source);

/* JL_OK with *batch filled (batches in strictly increasing time), JL_ENOTFOUND at the end,
 * JL_ECORRUPT when the store yields blocks out of order, JL_ETIMEOUT, or a store error. */
int qx_source_next(qx_source *source, qx_batch *batch);

/* Where review spans decide: 1 (valid) or 0 (invalid) when a span of spans[0..count) (sorted,
 * not overlapping) covers t_ms, -1 when none does. Calls for one series come with t_ms
 * nondecreasing: *next (start at 0) moves forward past the spans that end before t_ms. */
int qx_review_at(const st_review_span *spans, size_t count, size_t *next, int64_t t_ms);

/* The review spans of series index of exec's snapshot (st_snapshot_review_spans), none for an
 * index out of range. JL_OK, or JL_ENOMEM with exec->err set. */
int qx_review_spans(qx_exec *exec, size_t index, const st_review_span **spans, size_t *count);

/* Starts the validity of series index of exec's snapshot. JL_OK or JL_ENOMEM (exec->err set). */
int qx_validity_open(qx_validity *validity, qx_exec *exec, size_t index);

/* 1 when the reading at t_ms (nondecreasing between calls) with flag code is valid, else 0. */
int qx_validity_at(qx_validity *validity, int64_t t_ms, uint8_t flag);

/* Hands the row of one reading to the sink (engine.c): time, value and, when validity is not NULL
 * (with_flags=true), its flag and whether it is valid. Errors as qx_exec_row(). */
int qx_reading_row(qx_exec *exec, qx_validity *validity, int64_t t_ms, double value, uint8_t flag);

/* Returns the first index in ts[0..n) (ascending) with ts[i] >= t, n when none. */
size_t qx_lower_bound(const int64_t *ts, size_t n, int64_t t);

/* ---- windowed aggregates (window.c) ---- */

typedef struct qx_window_plan {
    qx_grid grid;
    int64_t from_ms, to_ms;
    const qa_aggregator *aggregators[QX_MAX_AGGREGATES];
    double params[QX_MAX_AGGREGATES];
    char names[QX_MAX_AGGREGATES][24]; /* column names of percentiles ("p95") */
    size_t aggregate_count;
    size_t percentile_count; /* aggregates that keep every value */
    int use_summaries;       /* every aggregate can take a chunk summary */
    int use_segments;        /* ... and the summary of one period of a segment table */
    uint64_t min_count;      /* readings a valid window needs (>= 1) */
    qx_fill fill;
    double fill_value;
    int64_t first_start_ms;                    /* fill: start of the window holding from_ms */
    int64_t last_end_ms;                       /* fill: end of the window holding to_ms - 1 */
    const char *group_tags[QX_MAX_GROUP_TAGS]; /* sorted, distinct (borrowed from the request) */
    size_t group_tag_count;
    const qx_query_request *request;
} qx_window_plan;

/* One window's partial aggregates (states: aggregate_count entries, owned by whoever holds the
 * window: they must be destroyed). */
typedef struct qx_window {
    int64_t start_ms, end_ms;
    uint64_t count; /* readings */
    qa_state *states;
} qx_window;

/* Destroys the plan's aggregate_count states. */
void qx_window_states_destroy(const qx_window_plan *plan, qa_state *states);

/* Gives an aggregator's refusal rc its message; returns rc. */
int qx_window_add_failed(qx_exec *exec, int rc);

/* Producer: one series' batches to windows, in time order. */
typedef struct qx_producer {
    const qx_window_plan *plan;
    qx_exec *exec;
    qx_source source;
    int source_open;
    qx_batch batch;
    int has_batch; /* batch has readings (or a summary) not yet taken */
    size_t pos;    /* next reading of batch */
    int ended;     /* the source has no more batches */
    int has_last;  /* a reading of the range was taken: it carries into the next window */
    double last_value;
} qx_producer;

/* Opens a producer over series index; JL_OK or the store's error; qx_producer_close() is due
 * either way. */
int qx_producer_open(qx_producer *p, qx_exec *exec, const qx_window_plan *plan, size_t index);

void qx_producer_close(qx_producer *p);

/* Fills w (whose states array the caller provides, aggregate_count entries; the states are the
 * caller's to destroy after JL_OK) with the next window that has readings. JL_OK, JL_ENOTFOUND
 * after the last window, or an error (the states are then destroyed). */
int qx_producer_next(qx_producer *p, qx_window *w);

/* Emitter: min_count and fill, then rows. */
typedef struct qx_emitter {
    qx_exec *exec;
    const qx_window_plan *plan;
    int any;         /* a window with readings was given */
    int64_t next_ms; /* fill: start of the first window not yet written */
    int has_prev;    /* a valid window was written: prev_* hold it */
    int64_t prev_ms;
    qx_cell prev[QX_MAX_AGGREGATES];
} qx_emitter;

void qx_emitter_init(qx_emitter *em, qx_exec *exec, const qx_window_plan *plan);

/* Takes one window with readings, in start order (its states are finalized, not destroyed), and
 * writes it and the fill rows before it. JL_OK or qx_exec_row()'s error. */
int qx_emitter_window(qx_emitter *em, qx_window *w);

/* Ends the series: fill up to the end of the range (nothing when it had no readings). */
int qx_emitter_finish(qx_emitter *em);

/* Plans and runs a windowed query over the clamped range [from_ms, to_ms) (nonempty 0: the
 * clamped range is empty; only the request is validated). columns has room for
 * QX_MAX_AGGREGATES + 1 names and must outlive the run. Errors as qx_query(). */
int qx_run_windows(qx_exec *exec, st_store *store, const qx_query_request *request, int64_t from_ms,
                   int64_t to_ms, int nonempty, const char **columns);

/* ---- group by (groupby.c) ---- */

/* Runs a planned windowed query with group set: one result series per group. Errors as
 * qx_query(). */
int qx_group_query(qx_exec *exec, st_store *store, const qx_window_plan *plan);

#endif
