/* The execution context of one request: limits and their defaults, the time budget, the sink
 * (rows, series begun and ended, the row limit), resolving the selector into one snapshot and
 * running a stage over each of its series in id order; and the range checks every entry point
 * shares. */
#include "query_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define QX_DEFAULT_MAX_SERIES 10000
#define QX_DEFAULT_MAX_WINDOWS 1000000ULL
#define QX_DEFAULT_TIMEOUT_MS 30000

void qx_exec_init(qx_exec *exec, const qx_limits *limits, const qx_sink *sink, jl_error *err)
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

int qx_exec_check_time(qx_exec *exec)
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
int qx_exec_sink_failed(qx_exec *exec, int rc)
{
    if (exec->err != NULL && exec->err->code == JL_OK)
        jl_error_set(exec->err, rc, "writing the result failed: %s", jl_strerror(rc));
    return rc;
}

static int check_range(int64_t from_ms, int64_t to_ms, jl_error *err)
{
    if (from_ms >= to_ms)
        return jl_error_set(err, JL_EINVAL,
                            "from must be before to (from %" PRId64 " ms, to %" PRId64 " ms)",
                            from_ms, to_ms);
    return JL_OK;
}

int qx_exec_start(qx_exec *exec, const qx_limits *limits, qx_query_stats *stats, int64_t from_ms,
                  int64_t to_ms, const qx_sink *sink, jl_error *err)
{
    qx_exec_init(exec, limits, sink, err);
    if (stats != NULL)
        memset(stats, 0, sizeof *stats);
    return check_range(from_ms, to_ms, err);
}

int qx_exec_series_info(qx_exec *exec, size_t index, st_series_info *info)
{
    int rc = st_snapshot_series_info(exec->snapshot, index, info);
    if (rc != JL_OK)
        return jl_error_set(exec->err, rc, "reading series %zu of the snapshot failed: %s", index,
                            jl_strerror(rc));
    return JL_OK;
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
            return qx_exec_sink_failed(exec, rc);
        exec->series_begun = 1;
        return JL_OK;
    }
    if ((rc = qx_exec_series_info(exec, exec->series_index, &info)) != JL_OK)
        return rc;
    rc = sk_parse(info.key, info.key_len, &parsed, exec->err);
    if (rc != JL_OK)
        return rc;
    rc = exec->sink->series_begin(exec->sink->context, parsed.metric, parsed.tags, parsed.tag_count,
                                  exec->columns, exec->column_count);
    sk_parsed_destroy(&parsed);
    if (rc != JL_OK)
        return qx_exec_sink_failed(exec, rc);
    exec->series_begun = 1;
    return JL_OK;
}

int qx_exec_row(qx_exec *exec, const qx_cell *cells)
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
    return rc == JL_OK ? JL_OK : qx_exec_sink_failed(exec, rc);
}

size_t qx_selector_matchers(const char *metric, const qp_matcher *matchers, size_t count,
                            st_matcher *out)
{
    if (count > QP_MAX_MATCHERS)
        return 0;
    out[0] = (st_matcher){"__name__", metric, 0};
    for (size_t i = 0; i < count; i++)
        out[i + 1] = (st_matcher){matchers[i].key, matchers[i].value, matchers[i].negate};
    return count + 1;
}

/* The series one selector matches, sorted by id, into *ids (malloc'd) and *count. */
static int select_one(qx_exec *exec, st_store *store, const qp_selector *selector, uint64_t **ids,
                      size_t *count)
{
    st_matcher matchers[QP_MAX_MATCHERS + 1];
    size_t matcher_count = 0;

    *ids = NULL;
    *count = 0;
    if (selector == NULL || selector->metric == NULL || selector->metric[0] == '\0')
        return jl_error_set(exec->err, JL_EINVAL, "series: a selector needs a metric name");
    if (selector->matcher_count > QP_MAX_MATCHERS)
        return jl_error_set(exec->err, JL_EINVAL, "series: more than %d tag conditions",
                            QP_MAX_MATCHERS);
    matcher_count = qx_selector_matchers(selector->metric, selector->matchers,
                                         selector->matcher_count, matchers);
    return st_select(store, matchers, matcher_count, exec->limits.max_series, ids, count,
                     exec->err);
}

static int compare_ids(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Adds the series of exec->more_selectors to ids[0..*count) (reallocated), sorted, each once. */
static int select_more(qx_exec *exec, st_store *store, uint64_t **ids, size_t *count)
{
    for (size_t s = 0; s < exec->more_selector_count; s++) {
        uint64_t *more = NULL;
        size_t more_count = 0;
        int rc = select_one(exec, store, &exec->more_selectors[s], &more, &more_count);
        if (rc == JL_OK && more_count > 0) {
            uint64_t *all = realloc(*ids, (*count + more_count) * sizeof *all);
            if (all == NULL) {
                rc = jl_error_set(exec->err, JL_ENOMEM, "series: out of memory");
            } else {
                memcpy(all + *count, more, more_count * sizeof *more);
                *ids = all;
                *count += more_count;
            }
        }
        free(more);
        if (rc != JL_OK)
            return rc;
    }
    qsort(*ids, *count, sizeof **ids, compare_ids);
    size_t unique = 0;
    for (size_t i = 0; i < *count; i++)
        if (unique == 0 || (*ids)[unique - 1] != (*ids)[i])
            (*ids)[unique++] = (*ids)[i];
    *count = unique;
    if (exec->limits.max_series && unique > exec->limits.max_series)
        return jl_error_set(exec->err, JL_ELIMIT,
                            "the selectors match %zu series together; the limit is %zu (narrow "
                            "them with tag conditions)",
                            unique, exec->limits.max_series);
    return JL_OK;
}

/* Resolves the selector (and exec->more_selectors) and opens one snapshot of the matching series
 * (exec->snapshot stays NULL when none match). */
int qx_exec_open(qx_exec *exec, st_store *store, const qp_selector *selector)
{
    uint64_t *ids = NULL;
    size_t id_count = 0;
    int rc = select_one(exec, store, selector, &ids, &id_count);
    if (rc == JL_OK && exec->more_selector_count > 0)
        rc = select_more(exec, store, &ids, &id_count);
    if (rc == JL_OK && id_count > 0)
        rc = st_snapshot_open(store, ids, id_count, &exec->snapshot, exec->err);
    free(ids);
    return rc;
}

void qx_exec_close(qx_exec *exec)
{
    st_snapshot_close(exec->snapshot);
    exec->snapshot = NULL;
}

/* Resolves the selector, opens one snapshot, and runs fn for each series in id order, closing
 * each series at the sink that fn started. */
int qx_exec_run(qx_exec *exec, st_store *store, const qp_selector *selector, qx_series_fn fn,
                void *context)
{
    int rc = qx_exec_open(exec, store, selector);
    if (rc != JL_OK || exec->snapshot == NULL)
        goto out;
    size_t series_count = st_snapshot_series_count(exec->snapshot);
    for (size_t i = 0; i < series_count; i++) {
        st_series_info info;
        if ((rc = qx_exec_check_time(exec)) != JL_OK)
            goto out;
        if ((rc = qx_exec_series_info(exec, i, &info)) != JL_OK)
            goto out;
        exec->series_index = i;
        exec->series_begun = 0;
        if ((rc = fn(exec, i, &info, context)) != JL_OK)
            goto out;
        if (exec->series_begun) {
            rc = exec->sink->series_end(exec->sink->context);
            if (rc != JL_OK) {
                qx_exec_sink_failed(exec, rc);
                goto out;
            }
        }
    }
out:
    qx_exec_close(exec);
    return rc;
}

/* Readings exist only within JL_MIN_MS..JL_MAX_MS, so a wider range is cut to that; this also
 * keeps window arithmetic far from int64 overflow. Returns 0 when nothing remains. */
int qx_clamp_range(int64_t *from_ms, int64_t *to_ms)
{
    if (*from_ms < JL_MIN_MS)
        *from_ms = JL_MIN_MS;
    if (*to_ms > JL_MAX_MS + 1)
        *to_ms = JL_MAX_MS + 1;
    return *from_ms < *to_ms;
}
