/* Threshold scans, qx_scan(): matching points, per-series counts, episodes (maximal runs of
 * matching readings, cut by max_gap, filtered by min_duration) and their total duration. Chunks
 * whose min/max cannot match are skipped by their summary; chunks that match entirely are
 * counted (or extend an episode) by it, and counts add up segment-table periods. */
#include "query_internal.h"

#include <string.h>

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
    return qx_exec_row(e->exec, cells);
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
    int rc = qx_source_open(&source, exec, index, plan->from_ms, plan->to_ms, scan_policy, plan);
    source.report_skips = 1;
    while (rc == JL_OK && (rc = qx_source_next(&source, &batch)) == JL_OK) {
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
    qx_source_close(&source);
    if (rc == JL_ENOTFOUND && e.open)
        rc = episode_close(&e, e.last_ms);
    if (rc == JL_ENOTFOUND)
        rc = JL_OK;
    if (rc == JL_OK && plan->output == QX_SCAN_DURATION) {
        qx_cell cell = {.type = QX_CELL_INT, .as.i = e.total_ms};
        rc = qx_exec_row(exec, &cell);
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
            return qx_exec_row(exec, &cell);
        }
        return episodes_series(exec, index, plan);
    }
    if (info->count == 0)
        goto done;
    qx_validity validity;
    if ((rc = qx_validity_open(&validity, exec, index)) != JL_OK)
        return rc;
    qx_validity *with_flags = exec->column_count > 2 ? &validity : NULL;
    rc = qx_source_open(&source, exec, index, plan->from_ms, plan->to_ms, scan_policy, plan);
    while (rc == JL_OK && (rc = qx_source_next(&source, &batch)) == JL_OK) {
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
            rc = qx_reading_row(exec, with_flags, batch.timestamps_ms[i], batch.values[i],
                                batch.flags ? batch.flags[i] : JL_FLAG_N);
        }
    }
    qx_source_close(&source);
    if (rc != JL_ENOTFOUND)
        return rc;
done:
    if (count_only) {
        qx_cell cell = {.type = QX_CELL_INT, .as.i = (int64_t)matches};
        return qx_exec_row(exec, &cell);
    }
    return JL_OK;
}

int qx_scan(st_store *store, const qx_scan_request *request, const qx_sink *sink, jl_error *err)
{
    static const char *const point_columns[] = {"time", "value", "flag", "valid"};
    static const char *const count_columns[] = {"count"};
    static const char *const episode_columns[] = {"start", "end", "duration", "count", "peak"};
    static const char *const duration_columns[] = {"duration"};
    qx_exec exec;
    int rc = qx_exec_start(&exec, &request->limits, request->stats, request->from_ms,
                           request->to_ms, sink, err);
    if (rc != JL_OK)
        return rc;
    exec.flags = request->flags;
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
    if (!qx_clamp_range(&plan.from_ms, &plan.to_ms))
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
        exec.column_count = request->with_flags ? 4 : 2;
        break;
    }
    if (request->with_flags && plan.output != QX_SCAN_POINTS)
        return jl_error_set(err, JL_EINVAL, "with_flags applies to output=points only");
    rc = qx_exec_run(&exec, store, request->selector, scan_series, &plan);
    if (request->stats != NULL)
        *request->stats = exec.stats;
    return rc;
}
