/* Review marks, the query side: resolving a mark's selector to the series it names, counting the
 * readings it covers when made, storing it (st_review_add, jialing/review.h), and the listing.
 * The marks themselves take effect in every read through the snapshot's review spans
 * (source.c); nothing here changes a reading. The marks touching a set of series over a range
 * (qx_review_marks) are gathered here once for the AQI and water-quality answers. */
#include "jialing/query.h"

#include <stdlib.h>
#include <string.h>

/* The selector as store matchers, into ids (malloc'd, ascending) and *count: the same
 * translation as a query's (exec.c), bounded by what one mark may name. */
static int select_series(st_store *store, const qp_selector *selector, uint64_t **ids,
                         size_t *count, jl_error *err)
{
    *ids = NULL;
    *count = 0;
    if (selector == NULL || selector->metric == NULL || selector->metric[0] == '\0')
        return jl_error_set(err, JL_EINVAL, "series: a selector needs a metric name");
    if (selector->matcher_count > QP_MAX_MATCHERS)
        return jl_error_set(err, JL_EINVAL, "series: more than %d tag conditions", QP_MAX_MATCHERS);
    st_matcher matchers[QP_MAX_MATCHERS + 1];
    size_t matcher_count = qx_selector_matchers(selector->metric, selector->matchers,
                                                selector->matcher_count, matchers);
    int rc = st_select(store, matchers, matcher_count, ST_REVIEW_MAX_SERIES, ids, count, err);
    if (rc == JL_ELIMIT)
        rc = jl_error_set(err, JL_ELIMIT,
                          "series: the selector matches more than %u series, more than one mark "
                          "may name; narrow it with tag conditions",
                          ST_REVIEW_MAX_SERIES);
    return rc;
}

/* Readings of one series in [from_ms, to_ms): chunks wholly inside by their summary, chunks
 * straddling an end decoded, tails counted reading by reading (they are decoded anyway). The
 * store keeps a series' blocks disjoint (late readings are merged into their chunk), so adding
 * block counts counts each reading once. */
static int count_series(st_snapshot *snapshot, size_t index, int64_t from_ms, int64_t to_ms,
                        uint64_t *readings, jl_error *err)
{
    st_cursor *cursor = NULL;
    int rc = st_cursor_open(snapshot, index, from_ms, to_ms, &cursor, err);
    st_block block;
    while (rc == JL_OK && (rc = st_cursor_next(cursor, &block, err)) == JL_OK) {
        const ck_summary *s = &block.summary;
        if (s->last_ms < from_ms || s->first_ms >= to_ms)
            continue;
        if (!block.decoded && s->first_ms >= from_ms && s->last_ms < to_ms) {
            *readings += s->count;
            continue;
        }
        if (!block.decoded && (rc = st_cursor_decode(cursor, &block, err)) != JL_OK)
            break;
        for (size_t i = 0; i < block.count; i++)
            *readings += block.timestamps_ms[i] >= from_ms && block.timestamps_ms[i] < to_ms;
    }
    if (rc == JL_ENOTFOUND)
        rc = JL_OK;
    st_cursor_close(cursor);
    return rc;
}

int qx_review_count(st_store *store, const uint64_t *ids, size_t count, int64_t from_ms,
                    int64_t to_ms, uint64_t *readings, jl_error *err)
{
    *readings = 0;
    st_snapshot *snapshot = NULL;
    int rc = st_snapshot_open(store, ids, count, &snapshot, err);
    size_t series = rc == JL_OK ? st_snapshot_series_count(snapshot) : 0;
    for (size_t i = 0; i < series && rc == JL_OK; i++) {
        st_series_info info;
        /* A series without readings in the range (or at all) needs no cursor. */
        if (st_snapshot_series_info(snapshot, i, &info) != JL_OK || info.count == 0 ||
            info.last_ms < from_ms || info.first_ms >= to_ms)
            continue;
        rc = count_series(snapshot, i, from_ms, to_ms, readings, err);
    }
    st_snapshot_close(snapshot);
    return rc;
}

int qx_review_add(st_store *store, const qx_review_request *request, uint64_t *id, jl_error *err)
{
    *id = 0;
    if (request->from_ms >= request->to_ms)
        return jl_error_set(err, JL_EINVAL, "from: must be before to (the span is [from, to))");
    uint64_t *ids = NULL;
    size_t count = 0;
    int rc = select_series(store, request->selector, &ids, &count, err);
    if (rc == JL_OK && count == 0)
        rc = jl_error_set(err, JL_EINVAL, "series: selector matches no series");
    uint64_t readings = 0;
    if (rc == JL_OK)
        rc = qx_review_count(store, ids, count, request->from_ms, request->to_ms, &readings, err);
    if (rc == JL_OK) {
        st_review_mark mark = {.made_ms = request->made_ms,
                               .made_by = request->made_by ? request->made_by : "",
                               .selector = request->selector_text,
                               .reason = request->reason,
                               .from_ms = request->from_ms,
                               .to_ms = request->to_ms,
                               .valid = request->valid ? 1 : 0,
                               .readings_affected = readings,
                               .series_ids = ids,
                               .series_count = count};
        rc = st_review_add(store, &mark, id, err);
    }
    free(ids);
    return rc;
}

/* A mark id never made (ids count up from 1): the filter that lists nothing, for a selector that
 * matches no series (a series filter of zero ids would list every mark instead). */
#define NO_MARK_ID UINT64_MAX

int qx_review_list(st_store *store, const qp_selector *selector, int64_t from_ms, int64_t to_ms,
                   uint64_t id, st_review_list **out, jl_error *err)
{
    *out = NULL;
    st_review_filter filter = {.id = id, .from_ms = from_ms, .to_ms = to_ms};
    uint64_t *ids = NULL;
    if (selector) {
        size_t count = 0;
        int rc = select_series(store, selector, &ids, &count, err);
        if (rc != JL_OK)
            return rc;
        if (count == 0)
            filter.id = NO_MARK_ID;
        filter.series_ids = ids;
        filter.series_count = count;
    }
    int rc = st_review_list_marks(store, &filter, out, err);
    free(ids);
    return rc;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int mark_set_push(qx_mark_set *marks, uint64_t id)
{
    if (marks->count == marks->cap) {
        size_t cap = marks->cap ? marks->cap * 2 : 16;
        uint64_t *grown = realloc(marks->ids, cap * sizeof *grown);
        if (grown == NULL)
            return JL_ENOMEM;
        marks->ids = grown;
        marks->cap = cap;
    }
    marks->ids[marks->count++] = id;
    return JL_OK;
}

/* Back to ascending and unique after pushes (one sort per call, not an insertion per span). */
static void mark_set_settle(qx_mark_set *marks)
{
    if (marks->count > 1)
        qsort(marks->ids, marks->count, sizeof *marks->ids, compare_u64);
    size_t unique = 0;
    for (size_t i = 0; i < marks->count; i++)
        if (unique == 0 || marks->ids[unique - 1] != marks->ids[i])
            marks->ids[unique++] = marks->ids[i];
    marks->count = unique;
}

int qx_review_marks(st_store *store, const st_matcher *matchers, size_t matcher_count,
                    size_t max_series, int64_t from_ms, int64_t to_ms, qx_mark_set *marks,
                    int *any_series, int *any_mark, jl_error *err)
{
    if (any_series)
        *any_series = 0;
    if (any_mark)
        *any_mark = 0;
    uint64_t *ids = NULL;
    size_t count = 0;
    int rc = st_select(store, matchers, matcher_count, max_series, &ids, &count, err);
    if (rc != JL_OK || count == 0) {
        free(ids);
        return rc;
    }
    if (any_series)
        *any_series = 1;
    st_snapshot *snapshot = NULL;
    rc = st_snapshot_open(store, ids, count, &snapshot, err);
    free(ids);
    if (rc != JL_OK)
        return rc;
    size_t series = st_snapshot_series_count(snapshot);
    for (size_t i = 0; i < series && rc == JL_OK; i++) {
        const st_review_span *spans = NULL;
        size_t span_count = 0;
        if (st_snapshot_review_spans(snapshot, i, &spans, &span_count) != JL_OK) {
            rc = JL_ENOMEM; /* its only failure: an answer without the marks would be wrong */
            break;
        }
        for (size_t s = 0; s < span_count && rc == JL_OK; s++)
            if (spans[s].from_ms < to_ms && spans[s].to_ms > from_ms) {
                if (any_mark)
                    *any_mark = 1;
                rc = mark_set_push(marks, spans[s].mark_id);
            }
    }
    st_snapshot_close(snapshot);
    mark_set_settle(marks);
    if (rc == JL_ENOMEM)
        jl_error_set(err, rc, "out of memory listing review marks");
    return rc;
}

void qx_mark_set_free(qx_mark_set *marks)
{
    if (marks == NULL)
        return;
    free(marks->ids);
    memset(marks, 0, sizeof *marks);
}
