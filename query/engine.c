/* Query planning and execution for qx_query(), qx_scan(), qx_latest() and qx_series().
 *
 * Every request is validated and planned first (range, window grid, limits), then runs as a small
 * chain over one store snapshot: the selector resolves to series ids, and for each series a
 * block source (cursor + range filter + time budget + chunk policy) hands batches to a stage
 * that turns them into rows: raw readings, windowed aggregates or a threshold scan. The chunk
 * policy is where summaries replace decoding: a stage looks at a sealed chunk's summary and says
 * whether to skip it, use the summary whole, or decode it.
 *
 * Windowed queries are three stages: a producer per series turns batches into windows of partial
 * aggregates; for group_by, the windows of a group's series are merged by start time (the
 * aggregators' merge, as results from shards would be); an emitter applies min_count and fill
 * and writes rows. */
#include "aggregate.h"
#include "jialing/query.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QX_DEFAULT_MAX_SERIES 10000
#define QX_DEFAULT_MAX_ROWS 2000000ULL
#define QX_DEFAULT_MAX_WINDOWS 1000000ULL
#define QX_DEFAULT_TIMEOUT_MS 30000
#define QX_MAX_OFFSET_MS (24LL * 3600 * 1000)
#define QX_MAX_WINDOW_MS (JL_MAX_MS - JL_MIN_MS + 1)
#define QX_DAY_MS 86400000LL
#define QX_WEEK_MS (7 * QX_DAY_MS)
/* Partial aggregates a group may hold at once (windows x aggregates), and percentile values. */
#define QX_MAX_GROUP_STATES (2u * 1024 * 1024)
#define QX_MAX_GROUP_VALUES (64ULL * 1024 * 1024)

/* ---- window grid ----
 * Where windows start and end. Stages only call grid_window(); the kinds differ in how a
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
    const tz_zone *zone; /* WALL, UNIT */
    tz_unit unit;        /* UNIT */
    int64_t count;       /* UNIT: units per window */
} qx_grid;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* The j-th wall-clock boundary: the first instant whose local time is at or after local time
 * j * width + anchor. Local times beyond what tz handles are clamped (tz clamps too), so the
 * product cannot overflow for any j the search below reaches. A local time that falls in a DST
 * gap does not exist: tz_local_to_utc() then gives an instant past the gap's end (the time moved
 * forward by the gap), which would put boundaries out of order; the boundary is the gap's end,
 * found by bisecting for the first instant whose local time reaches it. */
static int64_t wall_boundary(const qx_grid *grid, int64_t j)
{
    const int64_t limit = 4 * TZ_LIMIT_MS;
    int64_t local;
    if (j > limit / grid->width_ms)
        local = limit;
    else if (j < -limit / grid->width_ms)
        local = -limit;
    else
        local = j * grid->width_ms + grid->anchor_ms;
    int64_t u = tz_local_to_utc(grid->zone, local);
    int64_t gap = u + tz_offset_at(grid->zone, u) - local;
    if (gap <= 0)
        return u;
    /* Before the transition, local time is below `local`; from it on, at or above. */
    int64_t lo = u - gap, hi = u;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (mid + tz_offset_at(grid->zone, mid) >= local)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* Boundaries b(j) never decrease with j; the window holding u is [b(j), b(j+1)) for the largest j
 * with b(j) <= u. The local time of u gives a j with b(j) <= u (an exact hit, or the earlier
 * occurrence of a repeated wall time); past a fall-back, later boundaries may still lie at or
 * before u, found by galloping then bisecting. Empty windows (several boundaries at one instant,
 * the end of a DST gap) are thus never returned. */
static void wall_window(const qx_grid *grid, int64_t u, int64_t *start, int64_t *end)
{
    int64_t wall = u + tz_offset_at(grid->zone, u);
    int64_t lo = floor_div(wall - grid->anchor_ms, grid->width_ms);
    int64_t step = 1;
    while (wall_boundary(grid, lo) > u && step < ((int64_t)1 << 40)) { /* defensive only */
        lo -= step;
        step *= 2;
    }
    int64_t hi = lo + 1;
    int64_t b_hi = wall_boundary(grid, hi);
    step = 1;
    while (b_hi <= u && step < ((int64_t)1 << 40)) {
        lo = hi;
        step *= 2;
        hi = lo + step;
        b_hi = wall_boundary(grid, hi);
    }
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        int64_t b = wall_boundary(grid, mid);
        if (b <= u) {
            lo = mid;
        } else {
            hi = mid;
            b_hi = b;
        }
    }
    *start = wall_boundary(grid, lo);
    *end = b_hi;
}

/* The window [*start, *end) holding t. Inputs are bounded by validation, so nothing overflows. */
static void grid_window(const qx_grid *grid, int64_t t_ms, int64_t *start, int64_t *end)
{
    int64_t u = t_ms - grid->shift_ms, s, e;
    switch (grid->kind) {
    case QX_GRID_WALL:
        wall_window(grid, u, &s, &e);
        break;
    case QX_GRID_UNIT:
        s = tz_unit_start(grid->zone, grid->unit, grid->count, u);
        e = tz_unit_next(grid->zone, grid->unit, grid->count, s);
        break;
    default:
        s = floor_div(u + grid->offset_ms, grid->width_ms) * grid->width_ms - grid->offset_ms;
        e = s + grid->width_ms;
        break;
    }
    *start = s + grid->shift_ms;
    *end = e + grid->shift_ms;
}

/* Windows that intersect [from, to) (from < to), counted up to limit + 1. */
static uint64_t grid_count(const qx_grid *grid, int64_t from_ms, int64_t to_ms, uint64_t limit)
{
    int64_t first, last, end;
    if (grid->kind == QX_GRID_FIXED) {
        grid_window(grid, from_ms, &first, &end);
        grid_window(grid, to_ms - 1, &last, &end);
        return (uint64_t)((last - first) / grid->width_ms) + 1;
    }
    /* No window is longer than its nominal length plus a day of DST or zone changes (31 days a
     * month): that bounds the count from below without walking the windows. */
    int64_t longest =
        grid->kind == QX_GRID_WALL
            ? grid->width_ms + QX_DAY_MS
            : grid->count * (grid->unit == TZ_UNIT_YEAR ? 366 * QX_DAY_MS : 31 * QX_DAY_MS) +
                  QX_DAY_MS;
    if ((uint64_t)((to_ms - from_ms) / longest) > limit)
        return limit + 1;
    uint64_t n = 0;
    int64_t t = from_ms;
    while (t < to_ms && n <= limit) {
        grid_window(grid, t, &first, &end);
        t = end;
        n++;
    }
    return n;
}

/* Writes a window length the way a user would type it ("5m", "1d", "1500ms"). */
static void format_duration(const qp_duration *d, char *out, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"w", 604800000}, {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    if (d->months != 0) {
        if (d->months % 12 == 0)
            snprintf(out, size, "%dy", (int)(d->months / 12));
        else
            snprintf(out, size, "%dmo", (int)d->months);
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (d->ms % units[i].ms == 0) {
            snprintf(out, size, "%" PRId64 "%s", d->ms / units[i].ms, units[i].unit);
            return;
        }
    }
    snprintf(out, size, "%" PRId64 "ms", d->ms);
}

/* ---- execution context ---- */

typedef struct qx_exec {
    const qx_sink *sink;
    jl_error *err;
    qx_limits limits;   /* defaults applied */
    int64_t started_ns; /* jl_monotonic_ns() at the start of the call */
    uint64_t rows;      /* rows handed to the sink so far */
    qx_query_stats stats;
    const char *const *columns; /* of every series of this request */
    size_t column_count;
    st_snapshot *snapshot;
    size_t series_index; /* series being emitted */
    int series_begun;    /* series_begin was called for it */
    int grouped;         /* rows belong to a group: group_metric/group_tags name it */
    sk_text group_metric;
    const sk_tag *group_tags;
    size_t group_tag_count;
} qx_exec;

static void exec_init(qx_exec *exec, const qx_limits *limits, const qx_sink *sink, jl_error *err)
{
    memset(exec, 0, sizeof *exec);
    exec->sink = sink;
    exec->err = err;
    if (limits != NULL)
        exec->limits = *limits;
    if (exec->limits.max_series == 0)
        exec->limits.max_series = QX_DEFAULT_MAX_SERIES;
    if (exec->limits.max_rows == 0)
        exec->limits.max_rows = QX_DEFAULT_MAX_ROWS;
    if (exec->limits.max_windows == 0)
        exec->limits.max_windows = QX_DEFAULT_MAX_WINDOWS;
    if (exec->limits.timeout_ms <= 0)
        exec->limits.timeout_ms = QX_DEFAULT_TIMEOUT_MS;
    exec->started_ns = jl_monotonic_ns();
    jl_error_clear(err);
}

static int exec_check_time(qx_exec *exec)
{
    int64_t limit_ms = exec->limits.timeout_ms;
    if (limit_ms > INT64_MAX / 1000000)
        return JL_OK;
    if (jl_monotonic_ns() - exec->started_ns <= limit_ms * 1000000)
        return JL_OK;
    return jl_error_set(exec->err, JL_ETIMEOUT,
                        "the query ran longer than its limit of %" PRId64
                        " ms; narrow the time range or select fewer series",
                        limit_ms);
}

/* Gives a sink's refusal a message if the sink left none. */
static int exec_sink_failed(qx_exec *exec, int rc)
{
    if (exec->err != NULL && exec->err->code == JL_OK)
        jl_error_set(exec->err, rc, "writing the result failed: %s", jl_strerror(rc));
    return rc;
}

/* Starts the current series at the sink: its key is parsed only for series that have rows. */
static int exec_begin_series(qx_exec *exec)
{
    st_series_info info;
    sk_parsed parsed;
    int rc;
    if (exec->grouped) {
        rc = exec->sink->series_begin(exec->sink->context, exec->group_metric, exec->group_tags,
                                      exec->group_tag_count, exec->columns, exec->column_count);
        if (rc != JL_OK)
            return exec_sink_failed(exec, rc);
        exec->series_begun = 1;
        return JL_OK;
    }
    rc = st_snapshot_series_info(exec->snapshot, exec->series_index, &info);
    if (rc != JL_OK)
        return jl_error_set(exec->err, rc, "reading series %zu of the snapshot failed: %s",
                            exec->series_index, jl_strerror(rc));
    rc = sk_parse(info.key, info.key_len, &parsed, exec->err);
    if (rc != JL_OK)
        return rc;
    rc = exec->sink->series_begin(exec->sink->context, parsed.metric, parsed.tags, parsed.tag_count,
                                  exec->columns, exec->column_count);
    sk_parsed_destroy(&parsed);
    if (rc != JL_OK)
        return exec_sink_failed(exec, rc);
    exec->series_begun = 1;
    return JL_OK;
}

static int exec_row(qx_exec *exec, const qx_cell *cells)
{
    int rc;
    if (exec->rows >= exec->limits.max_rows)
        return jl_error_set(exec->err, JL_ELIMIT,
                            "the answer has more than %" PRIu64
                            " rows, the limit; narrow the time range, select fewer series, or "
                            "aggregate (a longer window, or output=count for a scan)",
                            exec->limits.max_rows);
    if (!exec->series_begun && (rc = exec_begin_series(exec)) != JL_OK)
        return rc;
    exec->rows++;
    rc = exec->sink->row(exec->sink->context, cells, exec->column_count);
    return rc == JL_OK ? JL_OK : exec_sink_failed(exec, rc);
}

typedef int (*qx_series_fn)(qx_exec *exec, size_t index, const st_series_info *info, void *context);

/* Resolves the selector and opens one snapshot of the matching series (exec->snapshot stays NULL
 * when none match). */
static int exec_open(qx_exec *exec, st_store *store, const qp_selector *selector)
{
    st_matcher matchers[QP_MAX_MATCHERS + 1];
    size_t matcher_count = 0;
    uint64_t *ids = NULL;
    size_t id_count = 0;
    int rc;

    if (selector == NULL || selector->metric == NULL || selector->metric[0] == '\0') {
        rc = jl_error_set(exec->err, JL_EINVAL, "series: a selector needs a metric name");
        goto out;
    }
    if (selector->matcher_count > QP_MAX_MATCHERS) {
        rc = jl_error_set(exec->err, JL_EINVAL, "series: more than %d tag conditions",
                          QP_MAX_MATCHERS);
        goto out;
    }
    matchers[matcher_count++] = (st_matcher){"__name__", selector->metric, 0};
    for (size_t i = 0; i < selector->matcher_count; i++) {
        const qp_matcher *m = &selector->matchers[i];
        matchers[matcher_count++] = (st_matcher){m->key, m->value, m->negate};
    }
    rc = st_select(store, matchers, matcher_count, exec->limits.max_series, &ids, &id_count,
                   exec->err);
    if (rc != JL_OK || id_count == 0)
        goto out;
    rc = st_snapshot_open(store, ids, id_count, &exec->snapshot, exec->err);
out:
    free(ids);
    return rc;
}

static void exec_close(qx_exec *exec)
{
    st_snapshot_close(exec->snapshot);
    exec->snapshot = NULL;
}

/* Resolves the selector, opens one snapshot, and runs fn for each series in id order, closing
 * each series at the sink that fn started. */
static int exec_run(qx_exec *exec, st_store *store, const qp_selector *selector, qx_series_fn fn,
                    void *context)
{
    int rc = exec_open(exec, store, selector);
    if (rc != JL_OK || exec->snapshot == NULL)
        goto out;
    size_t series_count = st_snapshot_series_count(exec->snapshot);
    for (size_t i = 0; i < series_count; i++) {
        st_series_info info;
        if ((rc = exec_check_time(exec)) != JL_OK)
            goto out;
        rc = st_snapshot_series_info(exec->snapshot, i, &info);
        if (rc != JL_OK) {
            jl_error_set(exec->err, rc, "reading series %zu of the snapshot failed: %s", i,
                         jl_strerror(rc));
            goto out;
        }
        exec->series_index = i;
        exec->series_begun = 0;
        if ((rc = fn(exec, i, &info, context)) != JL_OK)
            goto out;
        if (exec->series_begun) {
            rc = exec->sink->series_end(exec->sink->context);
            if (rc != JL_OK) {
                exec_sink_failed(exec, rc);
                goto out;
            }
        }
    }
out:
    exec_close(exec);
    return rc;
}

/* ---- block source ----
 * Reads one series' blocks within [from, to) and yields batches: either a whole sealed chunk by
 * its summary (when the policy says so) or readings sliced to the range. */

/* QX_USE_SEGMENTS: ask again for each period of the chunk's segment table (those summaries
 * have segment_count 0); the chunk is decoded if any period says decode. */
typedef enum qx_use { QX_USE_DECODE = 0, QX_USE_SUMMARY, QX_USE_SKIP, QX_USE_SEGMENTS } qx_use;

/* Decides for a sealed chunk not yet decoded; NULL policy means always decode. */
typedef qx_use (*qx_chunk_policy)(const void *context, const ck_summary *summary);

typedef struct qx_batch {
    const ck_summary *summary;    /* non-NULL: the whole chunk, by summary, inside the range */
    int skipped;                  /* with summary: the policy skipped this chunk (reported only
                                     when the source's report_skips is set) */
    const int64_t *timestamps_ms; /* else: count readings within the range */
    const double *values;
    size_t count;
} qx_batch;

typedef struct qx_source {
    qx_exec *exec;
    st_cursor *cursor;
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
    ck_summary segment; /* the period last yielded */
} qx_source;

static int source_open(qx_source *source, qx_exec *exec, size_t index, int64_t from_ms,
                       int64_t to_ms, qx_chunk_policy policy, const void *policy_context)
{
    memset(source, 0, sizeof *source);
    source->exec = exec;
    source->from_ms = from_ms;
    source->to_ms = to_ms;
    source->policy = policy;
    source->policy_context = policy_context;
    return st_cursor_open(exec->snapshot, index, from_ms, to_ms, &source->cursor, exec->err);
}

static void source_close(qx_source *source)
{
    st_cursor_close(source->cursor);
    source->cursor = NULL;
}

/* The summary of one period of the current chunk's table: the period clipped to the chunk
 * gives bounds for windows, not times of readings, and it has no first/last values. */
static ck_summary segment_summary(const ck_summary *chunk, const ck_segment *g)
{
    const int64_t period = chunk->segment_period_ms;
    return (ck_summary){
        .count = g->count,
        .first_ms = g->start_ms > chunk->first_ms ? g->start_ms : chunk->first_ms,
        /* Unsigned: the distance may exceed INT64_MAX (the period is in range, see
         * ck_read_segments, so start + period - 1 is). */
        .last_ms = (uint64_t)chunk->last_ms - (uint64_t)g->start_ms < (uint64_t)period
                       ? chunk->last_ms
                       : g->start_ms + (period - 1),
        .min = g->min,
        .max = g->max,
        .sum = g->sum,
        .sum_squares_dev = NAN,
        .first_value = NAN,
        .last_value = NAN,
        .codec = chunk->codec,
        .decimal_exponent = chunk->decimal_exponent,
    };
}

/* Reads the current chunk's segment table and asks the policy about each period. Sets *taken
 * to 1 when every period is taken or skipped (source_next then yields them), 0 when the chunk
 * must be decoded instead; returns JL_OK or an error. */
static int source_take_segments(qx_source *source, const ck_summary *chunk, int *taken)
{
    const ck_segment *table;
    size_t n;
    *taken = 0;
    int rc = st_cursor_segments(source->cursor, &table, &n, source->exec->err);
    if (rc != JL_OK || n == 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        ck_summary period = segment_summary(chunk, &table[i]);
        qx_use use = source->policy(source->policy_context, &period);
        if (use == QX_USE_DECODE || (use == QX_USE_SKIP && source->report_skips))
            return JL_OK;
    }
    source->segments = table;
    source->segment_count = n;
    source->segment_next = 0;
    *taken = 1;
    return JL_OK;
}

/* First index in ts[0..n) with ts[i] >= t. */
static size_t lower_bound(const int64_t *ts, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ts[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* JL_OK with *batch filled, JL_ENOTFOUND at the end, or an error. */
static int source_next(qx_source *source, qx_batch *batch)
{
    qx_exec *exec = source->exec;
    st_block *block = &source->block;
    int rc;
    for (;;) {
        /* Periods of a chunk taken by its table; the policy accepted each, skips excepted. */
        while (source->segment_next < source->segment_count) {
            source->segment =
                segment_summary(&block->summary, &source->segments[source->segment_next++]);
            if (source->policy(source->policy_context, &source->segment) == QX_USE_SUMMARY) {
                *batch = (qx_batch){.summary = &source->segment};
                return JL_OK;
            }
        }
        rc = st_cursor_next(source->cursor, block, exec->err);
        if (rc == JL_ENOTFOUND) {
            jl_error_clear(exec->err);
            return JL_ENOTFOUND;
        }
        if (rc != JL_OK)
            return rc;
        if ((rc = exec_check_time(exec)) != JL_OK)
            return rc;
        const ck_summary *s = &block->summary;
        if (s->count == 0 || s->last_ms < source->from_ms || s->first_ms >= source->to_ms)
            continue;
        /* Stages rely on batches in strictly increasing time; a store that broke this would
         * give silently wrong windows, so refuse instead. */
        if (source->has_previous && s->first_ms <= source->previous_ms)
            return jl_error_set(exec->err, JL_ECORRUPT,
                                "the store returned blocks out of time order (%" PRId64
                                " after %" PRId64 ")",
                                s->first_ms, source->previous_ms);
        if (!block->decoded) {
            qx_use use = source->policy ? source->policy(source->policy_context, s) : QX_USE_DECODE;
            if (use == QX_USE_SEGMENTS) {
                int taken;
                if ((rc = source_take_segments(source, s, &taken)) != JL_OK)
                    return rc;
                if (taken) {
                    exec->stats.chunks_from_segments++;
                    source->has_previous = 1;
                    source->previous_ms = s->last_ms;
                    continue;
                }
                use = QX_USE_DECODE;
            }
            if (use != QX_USE_DECODE) {
                exec->stats.chunks_from_summary++;
                source->has_previous = 1;
                source->previous_ms = s->last_ms;
                if (use == QX_USE_SKIP && !source->report_skips)
                    continue;
                *batch = (qx_batch){.summary = s, .skipped = use == QX_USE_SKIP};
                return JL_OK;
            }
            if ((rc = st_cursor_decode(source->cursor, block, exec->err)) != JL_OK)
                return rc;
            exec->stats.chunks_decoded++;
            exec->stats.readings_decoded += block->count;
        }
        if (block->count == 0)
            continue;
        source->has_previous = 1;
        source->previous_ms = block->timestamps_ms[block->count - 1];
        size_t begin = lower_bound(block->timestamps_ms, block->count, source->from_ms);
        size_t end = lower_bound(block->timestamps_ms, block->count, source->to_ms);
        if (begin >= end)
            continue;
        *batch = (qx_batch){.timestamps_ms = block->timestamps_ms + begin,
                            .values = block->values + begin,
                            .count = end - begin};
        return JL_OK;
    }
}

/* ---- validation ---- */

static int check_range(int64_t from_ms, int64_t to_ms, jl_error *err)
{
    if (from_ms >= to_ms)
        return jl_error_set(err, JL_EINVAL,
                            "from must be before to (from %" PRId64 " ms, to %" PRId64 " ms)",
                            from_ms, to_ms);
    return JL_OK;
}

/* Readings exist only within JL_MIN_MS..JL_MAX_MS, so a wider range is cut to that; this also
 * keeps window arithmetic far from int64 overflow. Returns 0 when nothing remains. */
static int clamp_range(int64_t *from_ms, int64_t *to_ms)
{
    if (*from_ms < JL_MIN_MS)
        *from_ms = JL_MIN_MS;
    if (*to_ms > JL_MAX_MS + 1)
        *to_ms = JL_MAX_MS + 1;
    return *from_ms < *to_ms;
}

/* ---- raw readings ---- */

typedef struct qx_range {
    int64_t from_ms, to_ms;
} qx_range;

static int raw_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    const qx_range *range = context;
    qx_source source;
    qx_batch batch;
    int rc;
    if (info->count == 0)
        return JL_OK;
    rc = source_open(&source, exec, index, range->from_ms, range->to_ms, NULL, NULL);
    while (rc == JL_OK && (rc = source_next(&source, &batch)) == JL_OK) {
        for (size_t i = 0; i < batch.count && rc == JL_OK; i++) {
            qx_cell cells[2] = {{.type = QX_CELL_INT, .as.i = batch.timestamps_ms[i]},
                                {.type = QX_CELL_DOUBLE, .as.d = batch.values[i]}};
            rc = exec_row(exec, cells);
        }
    }
    source_close(&source);
    return rc == JL_ENOTFOUND ? JL_OK : rc;
}

/* ---- windowed aggregates ---- */

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

static void window_states_destroy(const qx_window_plan *plan, qa_state *states)
{
    for (size_t a = 0; a < plan->aggregate_count; a++)
        qa_state_destroy(&states[a]);
}

/* Gives an aggregator's refusal its message. */
static int window_add_failed(qx_exec *exec, int rc)
{
    if (rc == JL_ELIMIT)
        return jl_error_set(exec->err, rc,
                            "a percentile would hold more than %u values of one window or group; "
                            "use a shorter window or range, or fewer series",
                            (unsigned)QA_MAX_PERCENTILE_VALUES);
    return jl_error_set(exec->err, rc, "aggregating a window failed: %s", jl_strerror(rc));
}

/* A sealed chunk is taken whole when every aggregate can use its summary and all of it lies in
 * the range and in one window; else, period by period from its segment table when each period
 * lies in one window (a day of 8-hour periods, say). */
static qx_use window_policy(const void *context, const ck_summary *summary)
{
    const qx_window_plan *plan = context;
    int64_t start, end;
    if (!plan->use_summaries || summary->first_ms < plan->from_ms ||
        summary->last_ms >= plan->to_ms)
        return QX_USE_DECODE;
    grid_window(&plan->grid, summary->first_ms, &start, &end);
    if (summary->last_ms < end)
        return QX_USE_SUMMARY;
    /* A window shorter than a period cannot hold one whole: skip reading the table. */
    return plan->use_segments && summary->segment_count > 0 &&
                   end - start >= summary->segment_period_ms
               ? QX_USE_SEGMENTS
               : QX_USE_DECODE;
}

/* -- producer: one series' batches to windows, in time order -- */

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

static int producer_open(qx_producer *p, qx_exec *exec, const qx_window_plan *plan, size_t index)
{
    memset(p, 0, sizeof *p);
    p->plan = plan;
    p->exec = exec;
    int rc = source_open(&p->source, exec, index, plan->from_ms, plan->to_ms, window_policy, plan);
    p->source_open = 1;
    return rc;
}

static void producer_close(qx_producer *p)
{
    if (p->source_open)
        source_close(&p->source);
    p->source_open = 0;
}

static void producer_start_window(qx_producer *p, qx_window *w, int64_t t_ms)
{
    const qx_window_plan *plan = p->plan;
    grid_window(&plan->grid, t_ms, &w->start_ms, &w->end_ms);
    w->count = 0;
    int64_t covered = w->start_ms > plan->from_ms ? w->start_ms : plan->from_ms;
    for (size_t a = 0; a < plan->aggregate_count; a++) {
        plan->aggregators[a]->init(&w->states[a], plan->params[a]);
        if (plan->aggregators[a]->open != NULL)
            plan->aggregators[a]->open(&w->states[a], covered, p->has_last, p->last_value);
    }
}

static void producer_finish_window(qx_producer *p, qx_window *w)
{
    const qx_window_plan *plan = p->plan;
    int64_t covered = w->end_ms < plan->to_ms ? w->end_ms : plan->to_ms;
    for (size_t a = 0; a < plan->aggregate_count; a++)
        if (plan->aggregators[a]->close != NULL)
            plan->aggregators[a]->close(&w->states[a], covered);
}

/* Fills w (whose states array the caller provides, aggregate_count entries; the states are the
 * caller's to destroy after JL_OK) with the next window that has readings. JL_OK, JL_ENOTFOUND
 * after the last window, or an error (the states are then destroyed). */
static int producer_next(qx_producer *p, qx_window *w)
{
    const qx_window_plan *plan = p->plan;
    int open = 0, rc = JL_OK;
    for (;;) {
        if (!p->has_batch) {
            rc = p->ended ? JL_ENOTFOUND : source_next(&p->source, &p->batch);
            if (rc == JL_ENOTFOUND)
                p->ended = 1;
            if (rc == JL_ENOTFOUND && open)
                break;
            if (rc != JL_OK)
                goto fail;
            p->has_batch = 1;
            p->pos = 0;
        }
        if (p->batch.summary != NULL) {
            const ck_summary *s = p->batch.summary;
            if (open && s->first_ms >= w->end_ms)
                break;
            if (!open) {
                producer_start_window(p, w, s->first_ms);
                open = 1;
            }
            for (size_t a = 0; a < plan->aggregate_count; a++)
                plan->aggregators[a]->add_summary(&w->states[a], s);
            w->count += s->count;
            p->has_last = 1;
            p->last_value = s->last_value;
            p->has_batch = 0;
            continue;
        }
        const int64_t *ts = p->batch.timestamps_ms;
        while (p->pos < p->batch.count) {
            size_t i = p->pos;
            if (open && ts[i] >= w->end_ms)
                goto done;
            if (!open) {
                producer_start_window(p, w, ts[i]);
                open = 1;
            }
            size_t j = i + lower_bound(ts + i, p->batch.count - i, w->end_ms);
            /* Every percentile aggregate keeps its own copy of the window's values: bound the
             * window's total before any copy grows. */
            if (plan->percentile_count &&
                (w->count + (j - i)) * plan->percentile_count > QA_MAX_PERCENTILE_VALUES) {
                rc = window_add_failed(p->exec, JL_ELIMIT);
                goto fail;
            }
            for (size_t a = 0; a < plan->aggregate_count; a++) {
                rc = plan->aggregators[a]->add(&w->states[a], ts + i, p->batch.values + i, j - i);
                if (rc != JL_OK) {
                    window_add_failed(p->exec, rc);
                    goto fail;
                }
            }
            w->count += j - i;
            p->has_last = 1;
            p->last_value = p->batch.values[j - 1];
            p->pos = j;
        }
        p->has_batch = 0;
    }
done:
    producer_finish_window(p, w);
    return JL_OK;
fail:
    if (open)
        window_states_destroy(plan, w->states);
    return rc;
}

/* -- emitter: min_count and fill, then rows -- */

typedef struct qx_emitter {
    qx_exec *exec;
    const qx_window_plan *plan;
    int any;         /* a window with readings was given */
    int64_t next_ms; /* fill: start of the first window not yet written */
    int has_prev;    /* a valid window was written: prev_* hold it */
    int64_t prev_ms;
    qx_cell prev[QX_MAX_AGGREGATES];
} qx_emitter;

static void emitter_init(qx_emitter *em, qx_exec *exec, const qx_window_plan *plan)
{
    memset(em, 0, sizeof *em);
    em->exec = exec;
    em->plan = plan;
}

static double cell_number(const qx_cell *cell)
{
    return cell->type == QX_CELL_INT ? (double)cell->as.i : cell->as.d;
}

/* Writes the windows from next_ms up to (not including) until_ms as fill rows; right, when not
 * NULL, is the valid window at until_ms (linear interpolates towards it). */
static int emitter_fill_to(qx_emitter *em, int64_t until_ms, const qx_cell *right)
{
    const qx_window_plan *plan = em->plan;
    qx_cell cells[QX_MAX_AGGREGATES + 1];
    int rc;
    while (em->next_ms < until_ms) {
        int64_t start, end;
        grid_window(&plan->grid, em->next_ms, &start, &end);
        cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = start};
        for (size_t a = 0; a < plan->aggregate_count; a++) {
            qx_cell *c = &cells[a + 1];
            *c = (qx_cell){.type = QX_CELL_NULL};
            switch (plan->fill) {
            case QX_FILL_PREVIOUS:
                if (em->has_prev)
                    *c = em->prev[a];
                break;
            case QX_FILL_LINEAR:
                if (em->has_prev && right != NULL && em->prev[a].type != QX_CELL_NULL &&
                    right[a].type != QX_CELL_NULL) {
                    double y0 = cell_number(&em->prev[a]), y1 = cell_number(&right[a]);
                    double x = (double)(start - em->prev_ms) / (double)(until_ms - em->prev_ms);
                    c->type = QX_CELL_DOUBLE;
                    c->as.d = y0 + (y1 - y0) * x;
                }
                break;
            case QX_FILL_VALUE:
                if (plan->aggregators[a]->type == QX_CELL_INT && plan->fill_value >= -9e15 &&
                    plan->fill_value <= 9e15 &&
                    plan->fill_value == (double)(int64_t)plan->fill_value) {
                    c->type = QX_CELL_INT;
                    c->as.i = (int64_t)plan->fill_value;
                } else {
                    c->type = QX_CELL_DOUBLE;
                    c->as.d = plan->fill_value;
                }
                break;
            default:
                break;
            }
        }
        if ((rc = exec_row(em->exec, cells)) != JL_OK)
            return rc;
        em->next_ms = end;
    }
    return JL_OK;
}

/* Takes one window with readings (in start order; its states are finalized, not destroyed). */
static int emitter_window(qx_emitter *em, qx_window *w)
{
    const qx_window_plan *plan = em->plan;
    qx_cell cells[QX_MAX_AGGREGATES + 1];
    int rc;
    int valid = w->count >= plan->min_count;
    if (plan->fill != QX_FILL_NONE && !em->any)
        em->next_ms = plan->first_start_ms;
    em->any = 1;
    if (!valid)
        return JL_OK;
    cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = w->start_ms};
    for (size_t a = 0; a < plan->aggregate_count; a++)
        plan->aggregators[a]->final(&w->states[a], &cells[a + 1]);
    if (plan->fill != QX_FILL_NONE) {
        if ((rc = emitter_fill_to(em, w->start_ms, cells + 1)) != JL_OK)
            return rc;
        em->next_ms = w->end_ms;
    }
    if ((rc = exec_row(em->exec, cells)) != JL_OK)
        return rc;
    em->has_prev = 1;
    em->prev_ms = w->start_ms;
    memcpy(em->prev, cells + 1, plan->aggregate_count * sizeof cells[0]);
    return JL_OK;
}

/* Ends the series: fill up to the end of the range (nothing when it had no readings). */
static int emitter_finish(qx_emitter *em)
{
    if (em->plan->fill == QX_FILL_NONE || !em->any)
        return JL_OK;
    return emitter_fill_to(em, em->plan->last_end_ms, NULL);
}

/* -- one result per series -- */

static int window_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    const qx_window_plan *plan = context;
    qa_state states[QX_MAX_AGGREGATES];
    qx_window w = {.states = states};
    qx_producer producer;
    qx_emitter em;
    int rc;
    if (info->count == 0)
        return JL_OK;
    emitter_init(&em, exec, plan);
    rc = producer_open(&producer, exec, plan, index);
    while (rc == JL_OK && (rc = producer_next(&producer, &w)) == JL_OK) {
        rc = emitter_window(&em, &w);
        window_states_destroy(plan, states);
    }
    producer_close(&producer);
    if (rc == JL_ENOTFOUND)
        rc = emitter_finish(&em);
    return rc;
}

/* -- group by: windows of several series merged by start time -- */

/* Windows of one group (or one series), sorted by start; states n * aggregate_count, owned. */
typedef struct qx_table {
    size_t n, cap;
    qx_window *windows;
    qa_state *states;
} qx_table;

static void table_destroy(const qx_window_plan *plan, qx_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        window_states_destroy(plan, t->windows[i].states);
    free(t->windows);
    free(t->states);
    memset(t, 0, sizeof *t);
}

/* Room for one more window; its states pointer is set when the table's arrays settle. */
static int table_grow(const qx_window_plan *plan, qx_table *t, size_t need)
{
    if (need <= t->cap)
        return JL_OK;
    size_t cap = t->cap ? t->cap * 2 : 64;
    while (cap < need)
        cap *= 2;
    qx_window *windows = realloc(t->windows, cap * sizeof *windows);
    if (windows == NULL)
        return JL_ENOMEM;
    t->windows = windows;
    qa_state *states = realloc(t->states, cap * plan->aggregate_count * sizeof *states);
    if (states == NULL)
        return JL_ENOMEM;
    t->states = states;
    t->cap = cap;
    for (size_t i = 0; i < t->n; i++)
        t->windows[i].states = t->states + i * plan->aggregate_count;
    return JL_OK;
}

typedef struct qx_group_run {
    const qx_window_plan *plan;
    uint64_t held_values; /* percentile values held by the group */
} qx_group_run;

/* Refuses a group table that would pass QX_MAX_GROUP_STATES, before it grows. */
static int group_states_check(qx_exec *exec, const qx_window_plan *plan, size_t windows)
{
    if ((uint64_t)windows * plan->aggregate_count <= QX_MAX_GROUP_STATES)
        return JL_OK;
    return jl_error_set(exec->err, JL_ELIMIT,
                        "a group holds more than %u windows x aggregates or %llu percentile "
                        "values; use a longer window, a shorter range or fewer series per group",
                        (unsigned)QX_MAX_GROUP_STATES, (unsigned long long)QX_MAX_GROUP_VALUES);
}

/* Reads one series' windows into a new table. */
static int series_table(qx_exec *exec, qx_group_run *run, size_t index, qx_table *out)
{
    const qx_window_plan *plan = run->plan;
    qa_state states[QX_MAX_AGGREGATES];
    qx_window w = {.states = states};
    qx_producer producer;
    int rc = producer_open(&producer, exec, plan, index);
    memset(out, 0, sizeof *out);
    while (rc == JL_OK && (rc = producer_next(&producer, &w)) == JL_OK) {
        run->held_values += w.count * plan->percentile_count;
        if ((out->n & 4095) == 4095 && (rc = exec_check_time(exec)) != JL_OK) {
            window_states_destroy(plan, states);
            break;
        }
        if ((rc = group_states_check(exec, plan, out->n + 1)) != JL_OK) {
            window_states_destroy(plan, states);
            break;
        }
        if ((rc = table_grow(plan, out, out->n + 1)) != JL_OK) {
            window_states_destroy(plan, states);
            jl_error_set(exec->err, rc, "out of memory merging a group");
            break;
        }
        qx_window *slot = &out->windows[out->n];
        *slot = w;
        slot->states = out->states + out->n * plan->aggregate_count;
        memcpy(slot->states, states, plan->aggregate_count * sizeof *states);
        out->n++;
    }
    producer_close(&producer);
    return rc == JL_ENOTFOUND ? JL_OK : rc;
}

/* Merges b into a (both sorted by start; b is emptied). */
static int table_merge(qx_exec *exec, const qx_window_plan *plan, qx_table *a, qx_table *b)
{
    qx_table out = {0};
    int rc = JL_OK, merge_failed = 0;
    size_t i = 0, j = 0, k = plan->aggregate_count;
    while (i < a->n || j < b->n) {
        /* Grown as merged windows come, so the limit refuses before memory is taken. */
        if ((rc = group_states_check(exec, plan, out.n + 1)) != JL_OK)
            break;
        if ((rc = table_grow(plan, &out, out.n + 1)) != JL_OK) {
            jl_error_set(exec->err, rc, "out of memory merging a group");
            break;
        }
        qx_window *slot = &out.windows[out.n];
        slot->states = out.states + out.n * k;
        if (j == b->n || (i < a->n && a->windows[i].start_ms < b->windows[j].start_ms)) {
            *slot = a->windows[i];
            slot->states = out.states + out.n * k;
            memcpy(slot->states, a->windows[i].states, k * sizeof(qa_state));
            i++;
        } else if (i == a->n || b->windows[j].start_ms < a->windows[i].start_ms) {
            *slot = b->windows[j];
            slot->states = out.states + out.n * k;
            memcpy(slot->states, b->windows[j].states, k * sizeof(qa_state));
            j++;
        } else {
            *slot = a->windows[i];
            slot->states = out.states + out.n * k;
            memcpy(slot->states, a->windows[i].states, k * sizeof(qa_state));
            slot->count += b->windows[j].count;
            for (size_t x = 0; x < k && rc == JL_OK; x++)
                rc = plan->aggregators[x]->merge(&slot->states[x], &b->windows[j].states[x]);
            merge_failed = rc != JL_OK;
            window_states_destroy(plan, b->windows[j].states);
            i++;
            j++;
        }
        out.n++;
        if (rc != JL_OK)
            break;
    }
    if (rc != JL_OK) {
        /* What is left unmoved in a and b is destroyed with them; out owns the rest. */
        memmove(a->windows, a->windows + i, (a->n - i) * sizeof *a->windows);
        a->n -= i;
        memmove(b->windows, b->windows + j, (b->n - j) * sizeof *b->windows);
        b->n -= j;
        table_destroy(plan, &out);
        return merge_failed ? window_add_failed(exec, rc) : rc;
    }
    free(a->windows);
    free(a->states);
    free(b->windows);
    free(b->states);
    memset(b, 0, sizeof *b);
    *a = out;
    return JL_OK;
}

/* A series' place in the grouping: its group key (for each group tag, '1' and the value or '0',
 * each ending in NUL) and its snapshot index. */
typedef struct qx_member {
    char *key; /* owned */
    size_t key_len;
    size_t index;
} qx_member;

static int member_compare(const void *pa, const void *pb)
{
    const qx_member *a = pa, *b = pb;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    if (c != 0)
        return c;
    if (a->key_len != b->key_len)
        return a->key_len < b->key_len ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int member_key(const qx_window_plan *plan, const st_series_info *info, qx_member *m,
                      jl_error *err)
{
    sk_parsed parsed;
    jl_buf key;
    int rc = sk_parse(info->key, info->key_len, &parsed, err);
    if (rc != JL_OK)
        return rc;
    jl_buf_init(&key);
    for (size_t g = 0; g < plan->group_tag_count && rc == JL_OK; g++) {
        const char *name = plan->group_tags[g];
        size_t len = strlen(name);
        const sk_tag *found = NULL;
        for (size_t t = 0; t < parsed.tag_count && found == NULL; t++)
            if (parsed.tags[t].key.len == len && memcmp(parsed.tags[t].key.data, name, len) == 0)
                found = &parsed.tags[t];
        rc = jl_buf_append(&key, found ? "1" : "0", 1);
        if (rc == JL_OK && found)
            rc = jl_buf_append(&key, found->value.data, found->value.len);
        if (rc == JL_OK)
            rc = jl_buf_append(&key, "", 1);
    }
    sk_parsed_destroy(&parsed);
    if (rc != JL_OK) {
        jl_buf_destroy(&key);
        return jl_error_set(err, JL_ENOMEM, "out of memory grouping series");
    }
    m->key = (char *)key.data; /* the buffer's memory now belongs to the member */
    m->key_len = key.len;
    if (m->key == NULL) {
        m->key = malloc(1);
        if (m->key == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory grouping series");
    }
    return JL_OK;
}

/* Writes one group: its tags come from the key of its first member. */
static int group_emit(qx_exec *exec, const qx_window_plan *plan, const qx_member *m,
                      qx_table *table)
{
    const qx_query_request *request = plan->request;
    sk_tag tags[QX_MAX_GROUP_TAGS];
    size_t tag_count = 0;
    const char *p = m->key;
    for (size_t g = 0; g < plan->group_tag_count; g++) {
        int present = *p++ == '1';
        size_t len = strlen(p);
        if (present)
            tags[tag_count++] =
                (sk_tag){{plan->group_tags[g], strlen(plan->group_tags[g])}, {p, len}};
        p += len + 1;
    }
    exec->grouped = 1;
    exec->group_metric = (sk_text){request->selector->metric, strlen(request->selector->metric)};
    exec->group_tags = tags;
    exec->group_tag_count = tag_count;
    exec->series_begun = 0;
    qx_emitter em;
    int rc = JL_OK;
    emitter_init(&em, exec, plan);
    for (size_t i = 0; i < table->n && rc == JL_OK; i++)
        rc = emitter_window(&em, &table->windows[i]);
    if (rc == JL_OK)
        rc = emitter_finish(&em);
    if (rc == JL_OK && exec->series_begun) {
        rc = exec->sink->series_end(exec->sink->context);
        if (rc != JL_OK)
            exec_sink_failed(exec, rc);
    }
    exec->grouped = 0;
    exec->group_tags = NULL;
    return rc;
}

static int group_run(qx_exec *exec, st_store *store, const qx_window_plan *plan)
{
    qx_member *members = NULL;
    size_t member_count = 0;
    qx_table table = {0}, one = {0};
    int rc = exec_open(exec, store, plan->request->selector);
    if (rc != JL_OK || exec->snapshot == NULL)
        goto out;
    size_t series_count = st_snapshot_series_count(exec->snapshot);
    members = calloc(series_count ? series_count : 1, sizeof *members);
    if (members == NULL) {
        rc = jl_error_set(exec->err, JL_ENOMEM, "out of memory grouping series");
        goto out;
    }
    for (size_t i = 0; i < series_count; i++) {
        st_series_info info;
        rc = st_snapshot_series_info(exec->snapshot, i, &info);
        if (rc != JL_OK) {
            jl_error_set(exec->err, rc, "reading series %zu of the snapshot failed: %s", i,
                         jl_strerror(rc));
            goto out;
        }
        if (info.count == 0)
            continue;
        members[member_count].index = i;
        if ((rc = member_key(plan, &info, &members[member_count], exec->err)) != JL_OK)
            goto out;
        member_count++;
    }
    qsort(members, member_count, sizeof *members, member_compare);
    for (size_t first = 0; first < member_count;) {
        size_t end = first + 1;
        while (end < member_count && members[end].key_len == members[first].key_len &&
               memcmp(members[end].key, members[first].key, members[first].key_len) == 0)
            end++;
        qx_group_run run = {.plan = plan};
        for (size_t m = first; m < end; m++) {
            if ((rc = exec_check_time(exec)) != JL_OK)
                goto out;
            exec->series_index = members[m].index;
            if ((rc = series_table(exec, &run, members[m].index, &one)) != JL_OK)
                goto out;
            if ((rc = table_merge(exec, plan, &table, &one)) != JL_OK)
                goto out;
            if (run.held_values > QX_MAX_GROUP_VALUES) {
                rc = group_states_check(exec, plan, SIZE_MAX / 2);
                goto out;
            }
        }
        rc = group_emit(exec, plan, &members[first], &table);
        table_destroy(plan, &table);
        if (rc != JL_OK)
            goto out;
        first = end;
    }
out:
    table_destroy(plan, &table);
    table_destroy(plan, &one);
    for (size_t i = 0; i < member_count; i++)
        free(members[i].key);
    free(members);
    exec_close(exec);
    return rc;
}

/* -- planning -- */

/* Sets up plan->grid from the request; *owned_zone receives a zone made here (a fixed offset
 * that calendar windows need), which the caller frees. */
static int plan_grid(const qx_query_request *request, qx_window_plan *plan, tz_zone **owned_zone,
                     jl_error *err)
{
    qx_grid *grid = &plan->grid;
    const qp_duration *window = &request->window;
    memset(grid, 0, sizeof *grid);
    grid->shift_ms = request->shift_ms;
    if (window->months != 0 && window->ms != 0)
        return jl_error_set(err, JL_EINVAL,
                            "window must be either fixed (ms, s, m, h, d, w) or calendar (mo, y), "
                            "not a mix of both");
    if (window->months < 0 || window->ms < 0 || (window->months == 0 && window->ms == 0))
        return jl_error_set(err, JL_EINVAL, "window must be a positive duration");
    if (window->ms > QX_MAX_WINDOW_MS)
        return jl_error_set(err, JL_EINVAL,
                            "window is longer than the whole time range a reading may have");
    if (window->months > 12 * 10000)
        return jl_error_set(err, JL_EINVAL, "window is longer than 10000 years");
    if (request->zone == NULL &&
        (request->offset_ms < -QX_MAX_OFFSET_MS || request->offset_ms > QX_MAX_OFFSET_MS))
        return jl_error_set(err, JL_EINVAL, "tz offset must lie within -24:00 and +24:00");
    if (request->shift_ms < -QX_MAX_SHIFT_MS || request->shift_ms > QX_MAX_SHIFT_MS)
        return jl_error_set(err, JL_EINVAL, "offset must lie within -400d and 400d");
    if (window->months != 0) {
        grid->kind = QX_GRID_UNIT;
        grid->unit = window->months % 12 == 0 ? TZ_UNIT_YEAR : TZ_UNIT_MONTH;
        grid->count = window->months % 12 == 0 ? window->months / 12 : window->months;
        grid->zone = request->zone;
        if (grid->zone == NULL) {
            char name[16];
            int64_t minutes = request->offset_ms / 60000;
            if (request->offset_ms % 60000 != 0)
                return jl_error_set(err, JL_EINVAL, "tz offset must be whole minutes");
            int64_t m = minutes < 0 ? -minutes : minutes;
            snprintf(name, sizeof name, "%c%02d:%02d", minutes < 0 ? '-' : '+', (int)(m / 60),
                     (int)(m % 60));
            int rc = tz_zone_load(name, owned_zone, err);
            if (rc != JL_OK)
                return rc;
            grid->zone = *owned_zone;
        }
        return JL_OK;
    }
    grid->width_ms = window->ms;
    /* Weeks start on local Mondays (1970-01-01 was a Thursday, so the epoch grid would start
     * them on Thursdays): a boundary at local k * width - 3 days. */
    int weeks = window->ms % QX_WEEK_MS == 0;
    if (request->zone == NULL) {
        grid->kind = QX_GRID_FIXED;
        grid->offset_ms = request->offset_ms + (weeks ? 3 * QX_DAY_MS : 0);
        return JL_OK;
    }
    grid->kind = QX_GRID_WALL;
    grid->zone = request->zone;
    grid->anchor_ms = weeks ? -3 * QX_DAY_MS : 0; /* 1969-12-29, a Monday, local */
    return JL_OK;
}

static int run_windows(qx_exec *exec, st_store *store, const qx_query_request *request,
                       int64_t from_ms, int64_t to_ms, int nonempty, const char **columns)
{
    qx_window_plan plan;
    tz_zone *owned_zone = NULL;
    jl_error *err = exec->err;
    int rc;
    memset(&plan, 0, sizeof plan);
    plan.from_ms = from_ms;
    plan.to_ms = to_ms;
    plan.request = request;
    plan.aggregate_count = request->aggregate_count;
    plan.min_count = request->min_count > 1 ? request->min_count : 1;
    plan.fill = request->fill;
    plan.fill_value = request->fill_value;
    plan.use_summaries = 1;
    plan.use_segments = 1;
    if ((rc = plan_grid(request, &plan, &owned_zone, err)) != JL_OK)
        goto out;
    if (request->aggregate_count == 0 || request->aggregate_count > QX_MAX_AGGREGATES) {
        rc = jl_error_set(err, JL_EINVAL, "agg must name 1 to %d aggregates", QX_MAX_AGGREGATES);
        goto out;
    }
    if ((unsigned)request->fill > QX_FILL_VALUE) {
        rc = jl_error_set(err, JL_EINVAL, "fill is not one of none, null, previous, linear, value");
        goto out;
    }
    if (request->group && request->group_tag_count > QX_MAX_GROUP_TAGS) {
        rc = jl_error_set(err, JL_EINVAL, "group_by names more than %d tags", QX_MAX_GROUP_TAGS);
        goto out;
    }
    for (size_t g = 0; request->group && g < request->group_tag_count; g++) {
        const char *name = request->group_tags[g];
        if (name == NULL || name[0] == '\0') {
            rc = jl_error_set(err, JL_EINVAL, "group_by has an empty tag name");
            goto out;
        }
        /* Sorted and distinct, so that the output's tags are in canonical order. */
        size_t at = 0;
        while (at < plan.group_tag_count && strcmp(plan.group_tags[at], name) < 0)
            at++;
        if (at < plan.group_tag_count && strcmp(plan.group_tags[at], name) == 0)
            continue;
        memmove(plan.group_tags + at + 1, plan.group_tags + at,
                (plan.group_tag_count - at) * sizeof plan.group_tags[0]);
        plan.group_tags[at] = name;
        plan.group_tag_count++;
    }
    columns[0] = "time";
    for (size_t i = 0; i < request->aggregate_count; i++) {
        const qa_aggregator *agg = qa_lookup(request->aggregates[i]);
        if (agg == NULL) {
            rc = jl_error_set(err, JL_EINVAL, "aggregate number %d is unknown",
                              (int)request->aggregates[i]);
            goto out;
        }
        plan.aggregators[i] = agg;
        columns[i + 1] = agg->name;
        if (agg->add_summary == NULL)
            plan.use_summaries = 0;
        if (!agg->takes_segments)
            plan.use_segments = 0;
        if (request->aggregates[i] == QX_AGG_PERCENTILE) {
            double p = request->percentiles[i];
            if (!(p >= 0 && p <= 100)) {
                rc = jl_error_set(err, JL_EINVAL, "a percentile must lie within 0 and 100");
                goto out;
            }
            plan.params[i] = p;
            snprintf(plan.names[i], sizeof plan.names[i], "p%.10g", p);
            columns[i + 1] = plan.names[i];
            plan.percentile_count++;
        }
    }
    exec->columns = columns;
    exec->column_count = request->aggregate_count + 1;
    if (!nonempty)
        goto out;
    uint64_t windows = grid_count(&plan.grid, from_ms, to_ms, exec->limits.max_windows);
    if (windows > exec->limits.max_windows) {
        char text[32];
        format_duration(&request->window, text, sizeof text);
        /* Fixed grids count exactly; the others stop counting past the limit. */
        int exact = plan.grid.kind == QX_GRID_FIXED;
        rc = jl_error_set(err, JL_ELIMIT,
                          "window %s over this range gives %s%" PRIu64
                          " windows per series; the limit is %" PRIu64
                          "; use a longer window or a shorter range",
                          text, exact ? "" : "more than ", exact ? windows : windows - 1,
                          exec->limits.max_windows);
        goto out;
    }
    int64_t unused;
    grid_window(&plan.grid, from_ms, &plan.first_start_ms, &unused);
    grid_window(&plan.grid, to_ms - 1, &unused, &plan.last_end_ms);
    if (request->group)
        rc = group_run(exec, store, &plan);
    else
        rc = exec_run(exec, store, request->selector, window_series, &plan);
out:
    tz_zone_free(owned_zone);
    return rc;
}

int qx_query(st_store *store, const qx_query_request *request, const qx_sink *sink, jl_error *err)
{
    static const char *const raw_columns[] = {"time", "value"};
    const char *columns[QX_MAX_AGGREGATES + 1];
    qx_exec exec;
    int rc;

    exec_init(&exec, &request->limits, sink, err);
    if (request->stats != NULL)
        memset(request->stats, 0, sizeof *request->stats);
    if ((rc = check_range(request->from_ms, request->to_ms, err)) != JL_OK)
        return rc;
    int64_t from_ms = request->from_ms, to_ms = request->to_ms;
    int nonempty = clamp_range(&from_ms, &to_ms);

    if (!request->has_window) {
        if (request->group || request->fill != QX_FILL_NONE || request->min_count > 1 ||
            request->shift_ms != 0)
            return jl_error_set(err, JL_EINVAL,
                                "group_by, fill, min_count and offset need a window");
        qx_range range = {from_ms, to_ms};
        exec.columns = raw_columns;
        exec.column_count = 2;
        if (!nonempty)
            return JL_OK;
        rc = exec_run(&exec, store, request->selector, raw_series, &range);
    } else {
        rc = run_windows(&exec, store, request, from_ms, to_ms, nonempty, columns);
    }
    if (request->stats != NULL)
        *request->stats = exec.stats;
    return rc;
}

/* ---- threshold scans ---- */

typedef struct qx_scan_plan {
    qx_compare op;
    double threshold;
    int64_t from_ms, to_ms;
    qx_scan_output output;
    int64_t min_duration_ms;
    int64_t max_gap_ms; /* 0: no limit */
} qx_scan_plan;

/* Matching values among count, one comparison per value and no branch on it, so the compiler
 * can vectorise the loop: counting is the only per-reading work of output=count. */
static uint64_t scan_count_matches(const qx_scan_plan *plan, const double *values, size_t count)
{
    const double x = plan->threshold;
    uint64_t n = 0;
    switch (plan->op) {
    case QX_GT:
        for (size_t i = 0; i < count; i++)
            n += values[i] > x;
        break;
    case QX_GE:
        for (size_t i = 0; i < count; i++)
            n += values[i] >= x;
        break;
    case QX_LT:
        for (size_t i = 0; i < count; i++)
            n += values[i] < x;
        break;
    case QX_LE:
        for (size_t i = 0; i < count; i++)
            n += values[i] <= x;
        break;
    }
    return n;
}

static int scan_match(const qx_scan_plan *plan, double v)
{
    switch (plan->op) {
    case QX_GT:
        return v > plan->threshold;
    case QX_GE:
        return v >= plan->threshold;
    case QX_LT:
        return v < plan->threshold;
    case QX_LE:
        return v <= plan->threshold;
    }
    return 0;
}

/* Every value lies in [min, max]: if the extreme nearest the threshold fails, none matches; if
 * the farthest one passes, all do. A chunk where all match is taken by its summary when it lies
 * inside the range and the output needs no reading one by one: count always; episodes and
 * duration only without max_gap (the gaps inside the chunk are unknown). */
static qx_use scan_policy(const void *context, const ck_summary *summary)
{
    const qx_scan_plan *plan = context;
    int above = plan->op == QX_GT || plan->op == QX_GE;
    double best = above ? summary->max : summary->min;
    double worst = above ? summary->min : summary->max;
    if (!scan_match(plan, best))
        return QX_USE_SKIP;
    int whole = plan->output == QX_SCAN_COUNT ||
                ((plan->output == QX_SCAN_EPISODES || plan->output == QX_SCAN_DURATION) &&
                 plan->max_gap_ms <= 0);
    int inside = summary->first_ms >= plan->from_ms && summary->last_ms < plan->to_ms;
    if (whole && scan_match(plan, worst) && inside)
        return QX_USE_SUMMARY;
    /* A count can also add up the periods of the segment table, if none is mixed. */
    if (plan->output == QX_SCAN_COUNT && inside && summary->segment_count > 0)
        return QX_USE_SEGMENTS;
    return QX_USE_DECODE;
}

/* The run being built while scanning for episodes. */
typedef struct qx_episodes {
    const qx_scan_plan *plan;
    qx_exec *exec;
    int open;
    int64_t start_ms, last_ms; /* first and last matching reading of the run */
    uint64_t count;
    double peak;
    int64_t total_ms; /* duration: sum over kept episodes */
} qx_episodes;

static int episode_close(qx_episodes *e, int64_t end_ms)
{
    e->open = 0;
    int64_t duration = end_ms - e->start_ms;
    if (duration < e->plan->min_duration_ms)
        return JL_OK;
    if (e->plan->output == QX_SCAN_DURATION) {
        e->total_ms += duration;
        return JL_OK;
    }
    qx_cell cells[5] = {{.type = QX_CELL_INT, .as.i = e->start_ms},
                        {.type = QX_CELL_INT, .as.i = end_ms},
                        {.type = QX_CELL_INT, .as.i = duration},
                        {.type = QX_CELL_INT, .as.i = (int64_t)e->count},
                        {.type = QX_CELL_DOUBLE, .as.d = e->peak}};
    return exec_row(e->exec, cells);
}

/* Ends the open run if the gap before a reading at t_ms is too long. */
static int episode_gap(qx_episodes *e, int64_t t_ms)
{
    if (e->open && e->plan->max_gap_ms > 0 && t_ms - e->last_ms > e->plan->max_gap_ms)
        return episode_close(e, e->last_ms);
    return JL_OK;
}

/* count matching readings from first_ms to last_ms with extreme peak. */
static void episode_extend(qx_episodes *e, int64_t first_ms, int64_t last_ms, uint64_t count,
                           double peak)
{
    int above = e->plan->op == QX_GT || e->plan->op == QX_GE;
    if (!e->open) {
        e->open = 1;
        e->start_ms = first_ms;
        e->count = 0;
        e->peak = peak;
    } else if (above ? peak > e->peak : peak < e->peak) {
        e->peak = peak;
    }
    e->count += count;
    e->last_ms = last_ms;
}

static int episode_reading(qx_episodes *e, int64_t t_ms, double v)
{
    int rc = episode_gap(e, t_ms);
    if (rc != JL_OK)
        return rc;
    if (scan_match(e->plan, v)) {
        episode_extend(e, t_ms, t_ms, 1, v);
        return JL_OK;
    }
    return e->open ? episode_close(e, t_ms) : JL_OK;
}

static int episodes_series(qx_exec *exec, size_t index, const qx_scan_plan *plan)
{
    qx_source source;
    qx_batch batch;
    qx_episodes e = {.plan = plan, .exec = exec};
    int above = plan->op == QX_GT || plan->op == QX_GE;
    int rc = source_open(&source, exec, index, plan->from_ms, plan->to_ms, scan_policy, plan);
    source.report_skips = 1;
    while (rc == JL_OK && (rc = source_next(&source, &batch)) == JL_OK) {
        const ck_summary *s = batch.summary;
        if (s != NULL && batch.skipped) {
            /* No reading matches: the chunk's first one ends an open run. A run is open only
             * after a reading in the range, so that first reading lies in the range too. */
            if (e.open && (rc = episode_gap(&e, s->first_ms)) == JL_OK && e.open)
                rc = episode_close(&e, s->first_ms);
            continue;
        }
        if (s != NULL) { /* inside the range, every reading matches */
            episode_extend(&e, s->first_ms, s->last_ms, s->count, above ? s->max : s->min);
            continue;
        }
        for (size_t i = 0; i < batch.count && rc == JL_OK; i++)
            rc = episode_reading(&e, batch.timestamps_ms[i], batch.values[i]);
    }
    source_close(&source);
    if (rc == JL_ENOTFOUND && e.open)
        rc = episode_close(&e, e.last_ms);
    if (rc == JL_ENOTFOUND)
        rc = JL_OK;
    if (rc == JL_OK && plan->output == QX_SCAN_DURATION) {
        qx_cell cell = {.type = QX_CELL_INT, .as.i = e.total_ms};
        rc = exec_row(exec, &cell);
    }
    return rc;
}

static int scan_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    const qx_scan_plan *plan = context;
    qx_source source;
    qx_batch batch;
    uint64_t matches = 0;
    int rc = JL_OK;
    int count_only = plan->output == QX_SCAN_COUNT;
    if (plan->output == QX_SCAN_EPISODES || plan->output == QX_SCAN_DURATION) {
        if (info->count == 0) {
            if (plan->output == QX_SCAN_EPISODES)
                return JL_OK;
            qx_cell cell = {.type = QX_CELL_INT, .as.i = 0};
            return exec_row(exec, &cell);
        }
        return episodes_series(exec, index, plan);
    }
    if (info->count == 0)
        goto done;
    rc = source_open(&source, exec, index, plan->from_ms, plan->to_ms, scan_policy, plan);
    while (rc == JL_OK && (rc = source_next(&source, &batch)) == JL_OK) {
        if (batch.summary != NULL) {
            matches += batch.summary->count;
            continue;
        }
        if (count_only) {
            matches += scan_count_matches(plan, batch.values, batch.count);
            continue;
        }
        for (size_t i = 0; i < batch.count && rc == JL_OK; i++) {
            if (!scan_match(plan, batch.values[i]))
                continue;
            matches++;
            qx_cell cells[2] = {{.type = QX_CELL_INT, .as.i = batch.timestamps_ms[i]},
                                {.type = QX_CELL_DOUBLE, .as.d = batch.values[i]}};
            rc = exec_row(exec, cells);
        }
    }
    source_close(&source);
    if (rc != JL_ENOTFOUND)
        return rc;
done:
    if (count_only) {
        qx_cell cell = {.type = QX_CELL_INT, .as.i = (int64_t)matches};
        return exec_row(exec, &cell);
    }
    return JL_OK;
}

int qx_scan(st_store *store, const qx_scan_request *request, const qx_sink *sink, jl_error *err)
{
    static const char *const point_columns[] = {"time", "value"};
    static const char *const count_columns[] = {"count"};
    static const char *const episode_columns[] = {"start", "end", "duration", "count", "peak"};
    static const char *const duration_columns[] = {"duration"};
    qx_exec exec;
    int rc;

    exec_init(&exec, &request->limits, sink, err);
    if (request->stats != NULL)
        memset(request->stats, 0, sizeof *request->stats);
    if ((rc = check_range(request->from_ms, request->to_ms, err)) != JL_OK)
        return rc;
    if ((unsigned)request->compare > QX_LE)
        return jl_error_set(err, JL_EINVAL, "op is not one of gt, ge, lt, le");
    if ((unsigned)request->output > QX_SCAN_DURATION)
        return jl_error_set(err, JL_EINVAL, "output must be points, count, episodes or duration");
    if (request->min_duration_ms < 0 || request->max_gap_ms < 0)
        return jl_error_set(err, JL_EINVAL, "min_duration and max_gap must not be negative");
    qx_scan_plan plan = {.op = request->compare,
                         .threshold = request->threshold,
                         .from_ms = request->from_ms,
                         .to_ms = request->to_ms,
                         .output = request->output,
                         .min_duration_ms = request->min_duration_ms,
                         .max_gap_ms = request->max_gap_ms};
    /* An empty clamped range still runs, so that count gives its zero per series. */
    if (!clamp_range(&plan.from_ms, &plan.to_ms))
        plan.to_ms = plan.from_ms;
    switch (plan.output) {
    case QX_SCAN_COUNT:
        exec.columns = count_columns;
        exec.column_count = 1;
        break;
    case QX_SCAN_EPISODES:
        exec.columns = episode_columns;
        exec.column_count = 5;
        break;
    case QX_SCAN_DURATION:
        exec.columns = duration_columns;
        exec.column_count = 1;
        break;
    default:
        exec.columns = point_columns;
        exec.column_count = 2;
        break;
    }
    rc = exec_run(&exec, store, request->selector, scan_series, &plan);
    if (request->stats != NULL)
        *request->stats = exec.stats;
    return rc;
}

/* ---- latest and series: answered from the snapshot's series info alone ---- */

static int latest_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    (void)index;
    (void)context;
    if (info->count == 0)
        return JL_OK;
    qx_cell cells[2] = {{.type = QX_CELL_INT, .as.i = info->last_ms},
                        {.type = QX_CELL_DOUBLE, .as.d = info->last_value}};
    return exec_row(exec, cells);
}

int qx_latest(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_sink *sink, jl_error *err)
{
    static const char *const columns[] = {"time", "value"};
    qx_exec exec;
    exec_init(&exec, limits, sink, err);
    exec.columns = columns;
    exec.column_count = 2;
    return exec_run(&exec, store, selector, latest_series, NULL);
}

static int series_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    (void)index;
    (void)context;
    if (info->count == 0)
        return JL_OK;
    qx_cell cells[3] = {{.type = QX_CELL_INT, .as.i = info->first_ms},
                        {.type = QX_CELL_INT, .as.i = info->last_ms},
                        {.type = QX_CELL_INT, .as.i = (int64_t)info->count}};
    return exec_row(exec, cells);
}

int qx_series(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_sink *sink, jl_error *err)
{
    static const char *const columns[] = {"first", "last", "count"};
    qx_exec exec;
    exec_init(&exec, limits, sink, err);
    exec.columns = columns;
    exec.column_count = 3;
    return exec_run(&exec, store, selector, series_series, NULL);
}
