/* Query planning and execution for qx_query(), qx_scan(), qx_latest() and qx_series().
 *
 * Every request is validated and planned first (range, window grid, limits), then runs as a small
 * chain over one store snapshot: the selector resolves to series ids, and for each series a
 * block source (cursor + range filter + time budget + chunk policy) hands batches to a stage
 * that turns them into rows: raw readings, windowed aggregates or a threshold scan. The chunk
 * policy is where summaries replace decoding: a stage looks at a sealed chunk's summary and says
 * whether to skip it, use the summary whole, or decode it. */
#include "aggregate.h"
#include "jialing/query.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QX_DEFAULT_MAX_SERIES 10000
#define QX_DEFAULT_MAX_ROWS 2000000ULL
#define QX_DEFAULT_MAX_WINDOWS 1000000ULL
#define QX_DEFAULT_TIMEOUT_MS 30000
#define QX_MAX_OFFSET_MS (24LL * 3600 * 1000)
#define QX_MAX_WINDOW_MS (JL_MAX_MS - JL_MIN_MS + 1)

/* ---- window grid ----
 * Windows of fixed width aligned to the epoch in local time. Calendar windows (months) will add a
 * kind here with their own start/next/count; stages only use these three functions. */

typedef struct qx_grid {
    int64_t width_ms;  /* window length */
    int64_t offset_ms; /* local time minus UTC */
} qx_grid;

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* Start of the window holding t. Inputs are bounded by validation, so nothing overflows. */
static int64_t grid_start(const qx_grid *grid, int64_t t_ms)
{
    return floor_div(t_ms + grid->offset_ms, grid->width_ms) * grid->width_ms - grid->offset_ms;
}

static int64_t grid_next(const qx_grid *grid, int64_t start_ms)
{
    return start_ms + grid->width_ms;
}

/* Windows that intersect [from, to); from < to. */
static uint64_t grid_count(const qx_grid *grid, int64_t from_ms, int64_t to_ms)
{
    int64_t first = grid_start(grid, from_ms);
    int64_t last = grid_start(grid, to_ms - 1);
    return (uint64_t)((last - first) / grid->width_ms) + 1;
}

/* Writes a window length the way a user would type it ("5m", "1d", "1500ms"). */
static void format_duration(int64_t ms, char *out, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"w", 604800000}, {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms % units[i].ms == 0) {
            snprintf(out, size, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            return;
        }
    }
    snprintf(out, size, "%" PRId64 "ms", ms);
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
    int rc = st_snapshot_series_info(exec->snapshot, exec->series_index, &info);
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

/* Resolves the selector, opens one snapshot, and runs fn for each series in id order, closing
 * each series at the sink that fn started. */
static int exec_run(qx_exec *exec, st_store *store, const qp_selector *selector, qx_series_fn fn,
                    void *context)
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
    if (rc != JL_OK)
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
    st_snapshot_close(exec->snapshot);
    exec->snapshot = NULL;
    free(ids);
    return rc;
}

/* ---- block source ----
 * Reads one series' blocks within [from, to) and yields batches: either a whole sealed chunk by
 * its summary (when the policy says so) or readings sliced to the range. */

typedef enum qx_use { QX_USE_DECODE = 0, QX_USE_SUMMARY, QX_USE_SKIP } qx_use;

/* Decides for a sealed chunk not yet decoded; NULL policy means always decode. */
typedef qx_use (*qx_chunk_policy)(const void *context, const ck_summary *summary);

typedef struct qx_batch {
    const ck_summary *summary;    /* non-NULL: the whole chunk, by summary, inside the range */
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
    st_block block;      /* current block; its arrays belong to the cursor */
    int has_previous;    /* a batch was yielded */
    int64_t previous_ms; /* last time of the previous batch */
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
            if (use != QX_USE_DECODE) {
                exec->stats.chunks_from_summary++;
                source->has_previous = 1;
                source->previous_ms = s->last_ms;
                if (use == QX_USE_SKIP)
                    continue;
                *batch = (qx_batch){.summary = s};
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
    size_t aggregate_count;
} qx_window_plan;

/* A sealed chunk is taken whole when all of it lies in the range and in one window. */
static qx_use window_policy(const void *context, const ck_summary *summary)
{
    const qx_window_plan *plan = context;
    if (summary->first_ms >= plan->from_ms && summary->last_ms < plan->to_ms &&
        grid_start(&plan->grid, summary->first_ms) == grid_start(&plan->grid, summary->last_ms))
        return QX_USE_SUMMARY;
    return QX_USE_DECODE;
}

typedef struct qx_window_state {
    const qx_window_plan *plan;
    int open;         /* a window is current */
    int64_t start_ms; /* current window [start, end) */
    int64_t end_ms;
    int has_data; /* the current window received readings */
    qa_state states[QX_MAX_AGGREGATES];
} qx_window_state;

/* Emits the current window if it has readings (fill=none), then makes no window current. */
static int window_flush(qx_exec *exec, qx_window_state *w)
{
    int rc = JL_OK;
    if (w->open && w->has_data) {
        qx_cell cells[QX_MAX_AGGREGATES + 1];
        cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = w->start_ms};
        for (size_t i = 0; i < w->plan->aggregate_count; i++)
            w->plan->aggregators[i]->final(&w->states[i], &cells[i + 1]);
        rc = exec_row(exec, cells);
    }
    w->open = 0;
    w->has_data = 0;
    return rc;
}

/* Makes the window holding t current, flushing the previous one if it differs. */
static int window_move(qx_exec *exec, qx_window_state *w, int64_t t_ms)
{
    if (w->open && t_ms >= w->start_ms && t_ms < w->end_ms)
        return JL_OK;
    int rc = window_flush(exec, w);
    if (rc != JL_OK)
        return rc;
    w->open = 1;
    w->start_ms = grid_start(&w->plan->grid, t_ms);
    w->end_ms = grid_next(&w->plan->grid, w->start_ms);
    for (size_t i = 0; i < w->plan->aggregate_count; i++)
        w->plan->aggregators[i]->init(&w->states[i]);
    return JL_OK;
}

static int window_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    const qx_window_plan *plan = context;
    qx_window_state w = {.plan = plan};
    qx_source source;
    qx_batch batch;
    int rc;
    if (info->count == 0)
        return JL_OK;
    rc = source_open(&source, exec, index, plan->from_ms, plan->to_ms, window_policy, plan);
    while (rc == JL_OK && (rc = source_next(&source, &batch)) == JL_OK) {
        if (batch.summary != NULL) {
            if ((rc = window_move(exec, &w, batch.summary->first_ms)) != JL_OK)
                break;
            for (size_t a = 0; a < plan->aggregate_count; a++)
                plan->aggregators[a]->add_summary(&w.states[a], batch.summary);
            w.has_data = 1;
            continue;
        }
        size_t i = 0;
        while (i < batch.count) {
            if ((rc = window_move(exec, &w, batch.timestamps_ms[i])) != JL_OK)
                break;
            size_t j = i + 1;
            while (j < batch.count && batch.timestamps_ms[j] < w.end_ms)
                j++;
            for (size_t a = 0; a < plan->aggregate_count; a++)
                plan->aggregators[a]->add(&w.states[a], batch.timestamps_ms + i, batch.values + i,
                                          j - i);
            w.has_data = 1;
            i = j;
        }
    }
    source_close(&source);
    if (rc == JL_ENOTFOUND)
        rc = window_flush(exec, &w);
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
        qx_range range = {from_ms, to_ms};
        exec.columns = raw_columns;
        exec.column_count = 2;
        if (!nonempty)
            return JL_OK;
        rc = exec_run(&exec, store, request->selector, raw_series, &range);
        goto out;
    }

    if (request->window.months != 0)
        return jl_error_set(err, JL_EINVAL, "calendar windows (mo, y) are not supported yet");
    if (request->window.ms <= 0)
        return jl_error_set(err, JL_EINVAL, "window must be a positive duration");
    if (request->window.ms > QX_MAX_WINDOW_MS)
        return jl_error_set(err, JL_EINVAL,
                            "window is longer than the whole time range a reading may have");
    if (request->offset_ms < -QX_MAX_OFFSET_MS || request->offset_ms > QX_MAX_OFFSET_MS)
        return jl_error_set(err, JL_EINVAL, "tz offset must lie within -24:00 and +24:00");
    if (request->aggregate_count == 0 || request->aggregate_count > QX_MAX_AGGREGATES)
        return jl_error_set(err, JL_EINVAL, "agg must name 1 to %d aggregates", QX_MAX_AGGREGATES);

    qx_window_plan plan = {.grid = {request->window.ms, request->offset_ms},
                           .from_ms = from_ms,
                           .to_ms = to_ms,
                           .aggregate_count = request->aggregate_count};
    columns[0] = "time";
    for (size_t i = 0; i < request->aggregate_count; i++) {
        plan.aggregators[i] = qa_lookup(request->aggregates[i]);
        if (plan.aggregators[i] == NULL)
            return jl_error_set(err, JL_EINVAL, "aggregate number %d is unknown",
                                (int)request->aggregates[i]);
        columns[i + 1] = plan.aggregators[i]->name;
    }
    exec.columns = columns;
    exec.column_count = request->aggregate_count + 1;
    if (!nonempty)
        return JL_OK;
    uint64_t windows = grid_count(&plan.grid, from_ms, to_ms);
    if (windows > exec.limits.max_windows) {
        char text[32];
        format_duration(request->window.ms, text, sizeof text);
        return jl_error_set(err, JL_ELIMIT,
                            "window %s over this range gives %" PRIu64
                            " windows per series; the limit is %" PRIu64
                            "; use a longer window or a shorter range",
                            text, windows, exec.limits.max_windows);
    }
    rc = exec_run(&exec, store, request->selector, window_series, &plan);
out:
    if (request->stats != NULL)
        *request->stats = exec.stats;
    return rc;
}

/* ---- threshold scans ---- */

int qx_parse_compare(const char *text, qx_compare *out, jl_error *err)
{
    static const struct {
        const char *name;
        qx_compare op;
    } ops[] = {{"gt", QX_GT}, {"ge", QX_GE}, {"lt", QX_LT}, {"le", QX_LE}};
    for (size_t i = 0; text != NULL && i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(text, ops[i].name) == 0) {
            *out = ops[i].op;
            return JL_OK;
        }
    }
    return jl_error_set(err, JL_EINVAL, "unknown op \"%.32s\"; known: gt, ge, lt, le",
                        text ? text : "");
}

typedef struct qx_scan_plan {
    qx_compare op;
    double threshold;
    int64_t from_ms, to_ms;
    int count_only; /* QX_SCAN_COUNT */
} qx_scan_plan;

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
 * the farthest one passes, all do. */
static qx_use scan_policy(const void *context, const ck_summary *summary)
{
    const qx_scan_plan *plan = context;
    int above = plan->op == QX_GT || plan->op == QX_GE;
    double best = above ? summary->max : summary->min;
    double worst = above ? summary->min : summary->max;
    if (!scan_match(plan, best))
        return QX_USE_SKIP;
    if (plan->count_only && scan_match(plan, worst) && summary->first_ms >= plan->from_ms &&
        summary->last_ms < plan->to_ms)
        return QX_USE_SUMMARY;
    return QX_USE_DECODE;
}

static int scan_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    const qx_scan_plan *plan = context;
    qx_source source;
    qx_batch batch;
    uint64_t matches = 0;
    int rc = JL_OK;
    if (info->count == 0)
        goto done;
    rc = source_open(&source, exec, index, plan->from_ms, plan->to_ms, scan_policy, plan);
    while (rc == JL_OK && (rc = source_next(&source, &batch)) == JL_OK) {
        if (batch.summary != NULL) {
            matches += batch.summary->count;
            continue;
        }
        for (size_t i = 0; i < batch.count && rc == JL_OK; i++) {
            if (!scan_match(plan, batch.values[i]))
                continue;
            matches++;
            if (!plan->count_only) {
                qx_cell cells[2] = {{.type = QX_CELL_INT, .as.i = batch.timestamps_ms[i]},
                                    {.type = QX_CELL_DOUBLE, .as.d = batch.values[i]}};
                rc = exec_row(exec, cells);
            }
        }
    }
    source_close(&source);
    if (rc != JL_ENOTFOUND)
        return rc;
done:
    if (plan->count_only) {
        qx_cell cell = {.type = QX_CELL_INT, .as.i = (int64_t)matches};
        return exec_row(exec, &cell);
    }
    return JL_OK;
}

int qx_scan(st_store *store, const qx_scan_request *request, const qx_sink *sink, jl_error *err)
{
    static const char *const point_columns[] = {"time", "value"};
    static const char *const count_columns[] = {"count"};
    qx_exec exec;
    int rc;

    exec_init(&exec, &request->limits, sink, err);
    if (request->stats != NULL)
        memset(request->stats, 0, sizeof *request->stats);
    if ((rc = check_range(request->from_ms, request->to_ms, err)) != JL_OK)
        return rc;
    if ((unsigned)request->compare > QX_LE)
        return jl_error_set(err, JL_EINVAL, "op is not one of gt, ge, lt, le");
    if (request->output != QX_SCAN_POINTS && request->output != QX_SCAN_COUNT)
        return jl_error_set(err, JL_EINVAL, "output must be points or count");
    qx_scan_plan plan = {.op = request->compare,
                         .threshold = request->threshold,
                         .from_ms = request->from_ms,
                         .to_ms = request->to_ms,
                         .count_only = request->output == QX_SCAN_COUNT};
    /* An empty clamped range still runs, so that count gives its zero per series. */
    if (!clamp_range(&plan.from_ms, &plan.to_ms))
        plan.to_ms = plan.from_ms;
    exec.columns = plan.count_only ? count_columns : point_columns;
    exec.column_count = plan.count_only ? 1 : 2;
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
