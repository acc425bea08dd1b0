/* The block source: one series' blocks within [from, to) from a store cursor, as batches in
 * strictly increasing time: a sealed chunk whole by its summary, the periods of its segment table,
 * or decoded readings sliced to the range, as the stage's chunk policy decides. Counts what was
 * answered from summaries and what was decoded (qx_query_stats) and checks the time budget. */
#include "query_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int qx_source_open(qx_source *source, qx_exec *exec, size_t index, int64_t from_ms, int64_t to_ms,
                   qx_chunk_policy policy, const void *policy_context)
{
    memset(source, 0, sizeof *source);
    source->exec = exec;
    source->from_ms = from_ms;
    source->to_ms = to_ms;
    source->policy = policy;
    source->policy_context = policy_context;
    const qx_flag_select *sel = &exec->flags;
    if (sel->mask != 0 && (sel->mask != JL_FLAG_MASK_ALL || sel->reviews)) {
        source->filter = 1;
        /* JL_ENOTFOUND only for an index out of range, which the cursor reports below. */
        source->selection.valid_mask = sel->mask;
        int rc = sel->reviews ? qx_review_spans(exec, index, &source->selection.spans,
                                                &source->selection.span_count)
                              : JL_OK;
        if (rc != JL_OK)
            return rc;
    }
    return st_cursor_open(exec->snapshot, index, from_ms, to_ms, &source->cursor, exec->err);
}

void qx_source_close(qx_source *source)
{
    st_cursor_close(source->cursor);
    source->cursor = NULL;
    free(source->kept_ms);
    free(source->kept_values);
    free(source->kept_flags);
    source->kept_ms = NULL;
    source->kept_values = NULL;
    source->kept_flags = NULL;
    source->kept_capacity = 0;
}

/* Whether a review span overlaps [first_ms, last_ms] (spans sorted, not overlapping). */
static int spans_touch(const qx_source *source, int64_t first_ms, int64_t last_ms)
{
    const qx_validity *v = &source->selection;
    for (size_t i = v->span_next; i < v->span_count; i++) {
        const st_review_span *sp = &v->spans[i];
        if (sp->from_ms > last_ms)
            return 0;
        if (sp->to_ms > first_ms)
            return 1;
    }
    return 0;
}

/* Whether a chunk must be decoded to pick its selected readings: it carries a flag outside the
 * selection, or review marks decide part of it. */
static int block_needs_filter(const qx_source *source, const ck_summary *s)
{
    if (!source->filter)
        return 0;
    if ((s->flag_mask & (jl_flag_mask)~source->exec->flags.mask) != 0)
        return 1;
    return spans_touch(source, s->first_ms, s->last_ms);
}

int qx_review_at(const st_review_span *spans, size_t count, size_t *next, int64_t t_ms)
{
    while (*next < count && spans[*next].to_ms <= t_ms)
        (*next)++;
    if (*next < count && spans[*next].from_ms <= t_ms)
        return spans[*next].valid != 0;
    return -1;
}

int qx_review_spans(qx_exec *exec, size_t index, const st_review_span **spans, size_t *count)
{
    int rc = st_snapshot_review_spans(exec->snapshot, index, spans, count);
    if (rc == JL_ENOMEM)
        return jl_error_set(exec->err, rc, "out of memory resolving the review marks of a series");
    /* JL_ENOTFOUND: an index out of range, which has no spans (and no readings). */
    return JL_OK;
}

int qx_validity_open(qx_validity *validity, qx_exec *exec, size_t index)
{
    memset(validity, 0, sizeof *validity);
    validity->valid_mask = exec->limits.valid_flags ? exec->limits.valid_flags : JL_FLAG_MASK_N;
    return qx_review_spans(exec, index, &validity->spans, &validity->span_count);
}

int qx_validity_at(qx_validity *validity, int64_t t_ms, uint8_t flag)
{
    int review = qx_review_at(validity->spans, validity->span_count, &validity->span_next, t_ms);
    if (review >= 0)
        return review;
    return flag < JL_FLAG_COUNT && (validity->valid_mask & (1u << flag)) != 0;
}

/* Cuts batch (readings) down to the selected ones (qx_validity_at with the selection; times come
 * in increasing order, so its span cursor only moves forward), copying them into the source's
 * buffers when some are dropped. JL_OK or JL_ENOMEM. */
static int source_select(qx_source *source, qx_batch *batch)
{
    size_t n = batch->count, i = 0;
    while (i < n && qx_validity_at(&source->selection, batch->timestamps_ms[i],
                                   batch->flags ? batch->flags[i] : JL_FLAG_N))
        i++;
    if (i == n)
        return JL_OK;
    if (source->kept_capacity < n) {
        int64_t *ms = realloc(source->kept_ms, n * sizeof *ms);
        if (ms != NULL)
            source->kept_ms = ms;
        double *v = realloc(source->kept_values, n * sizeof *v);
        if (v != NULL)
            source->kept_values = v;
        uint8_t *f = realloc(source->kept_flags, n);
        if (f != NULL)
            source->kept_flags = f;
        if (ms == NULL || v == NULL || f == NULL)
            return jl_error_set(source->exec->err, JL_ENOMEM,
                                "out of memory selecting readings by flag");
        source->kept_capacity = n;
    }
    size_t k = i;
    memcpy(source->kept_ms, batch->timestamps_ms, i * sizeof *source->kept_ms);
    memcpy(source->kept_values, batch->values, i * sizeof *source->kept_values);
    if (batch->flags)
        memcpy(source->kept_flags, batch->flags, i);
    else
        memset(source->kept_flags, JL_FLAG_N, i);
    for (i++; i < n; i++) {
        uint8_t flag = batch->flags ? batch->flags[i] : JL_FLAG_N;
        if (!qx_validity_at(&source->selection, batch->timestamps_ms[i], flag))
            continue;
        source->kept_ms[k] = batch->timestamps_ms[i];
        source->kept_values[k] = batch->values[i];
        source->kept_flags[k] = flag;
        k++;
    }
    batch->timestamps_ms = source->kept_ms;
    batch->values = source->kept_values;
    batch->flags = source->kept_flags;
    batch->count = k;
    return JL_OK;
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
size_t qx_lower_bound(const int64_t *ts, size_t n, int64_t t)
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
int qx_source_next(qx_source *source, qx_batch *batch)
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
        if ((rc = qx_exec_check_time(exec)) != JL_OK)
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
            /* A chunk holding unselected readings cannot stand for them by its summary; only a
             * silent skip stays right (nothing in it is wanted by the stage anyway). A reported
             * skip is not: its unselected readings would count as readings that did not match. */
            if (use != QX_USE_DECODE && block_needs_filter(source, s) &&
                !(use == QX_USE_SKIP && !source->report_skips))
                use = QX_USE_DECODE;
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
        size_t begin = qx_lower_bound(block->timestamps_ms, block->count, source->from_ms);
        size_t end = qx_lower_bound(block->timestamps_ms, block->count, source->to_ms);
        if (begin >= end)
            continue;
        *batch = (qx_batch){.timestamps_ms = block->timestamps_ms + begin,
                            .values = block->values + begin,
                            .flags = block->flags ? block->flags + begin : NULL,
                            .count = end - begin};
        /* A block whose flags are all selected and that no review span touches passes whole:
         * the default (flags=valid over all-N data) costs no per-reading test. */
        if (block_needs_filter(source, s)) {
            if ((rc = source_select(source, batch)) != JL_OK)
                return rc;
            if (batch->count == 0)
                continue;
        }
        return JL_OK;
    }
}
