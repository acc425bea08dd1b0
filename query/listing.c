/* qx_latest() and qx_series(): answered from the snapshot's series info alone (last reading;
 * first, last and count), touching no chunk; qx_series() with flag counts also walks the series'
 * blocks, by their summaries where a chunk's readings are all N. */
#include "query_internal.h"

typedef enum listing_kind { LISTING_LATEST, LISTING_SERIES, LISTING_SERIES_FLAGS } listing_kind;

/* The columns of /api/v1/series?with_flags=true: first, last, count, reviewed, then one count per
 * flag in code order (jialing/flag.h). */
#define FLAG_COLUMNS (4 + JL_FLAG_COUNT)

/* Counts the readings of series `index` per device flag: a block whose summary says all N counts
 * whole; any other is decoded (rare: most chunks hold no flag but N). */
static int count_flags(qx_exec *exec, size_t index, uint64_t counts[JL_FLAG_COUNT])
{
    st_cursor *cursor = NULL;
    int rc = st_cursor_open(exec->snapshot, index, INT64_MIN, INT64_MAX, &cursor, exec->err);
    if (rc != JL_OK)
        return rc;
    st_block block;
    while ((rc = st_cursor_next(cursor, &block, exec->err)) == JL_OK) {
        if (block.summary.flag_mask == JL_FLAG_MASK_N) {
            counts[JL_FLAG_N] += block.summary.count;
            continue;
        }
        if (!block.decoded && (rc = st_cursor_decode(cursor, &block, exec->err)) != JL_OK)
            break;
        if (block.flags == NULL) {
            counts[JL_FLAG_N] += block.count;
            continue;
        }
        for (size_t i = 0; i < block.count; i++)
            counts[block.flags[i] < JL_FLAG_COUNT ? block.flags[i] : JL_FLAG_N]++;
        if ((rc = qx_exec_check_time(exec)) != JL_OK)
            break;
    }
    st_cursor_close(cursor);
    return rc == JL_ENOTFOUND ? JL_OK : rc;
}

/* Whether the series' last reading (in the snapshot's state) is among those exec->flags selects,
 * known without decoding: the block holding it carries only selected flags and no review span
 * covers it (or a span declares it valid). *known is 0 when that cannot be told without readings.
 */
static int last_reading_selected(qx_exec *exec, size_t index, const st_series_info *info,
                                 int *known, int *selected)
{
    *known = 0;
    const st_review_span *spans = NULL;
    size_t span_count = 0, next = 0;
    int rc = exec->flags.reviews ? qx_review_spans(exec, index, &spans, &span_count) : JL_OK;
    if (rc != JL_OK)
        return rc;
    int review = qx_review_at(spans, span_count, &next, info->last_ms);
    if (review >= 0) {
        *known = 1;
        *selected = review;
        return JL_OK;
    }
    st_cursor *cursor = NULL;
    st_block block;
    rc =
        st_cursor_open(exec->snapshot, index, info->last_ms, info->last_ms + 1, &cursor, exec->err);
    if (rc == JL_OK)
        rc = st_cursor_next(cursor, &block, exec->err);
    if (rc == JL_OK && (block.summary.flag_mask & (jl_flag_mask)~exec->flags.mask) == 0) {
        *known = 1;
        *selected = 1;
    }
    st_cursor_close(cursor);
    return rc == JL_ENOTFOUND ? JL_OK : rc;
}

/* The latest reading of series index that exec->flags selects, into *t_ms and *value (*found 1),
 * or *found 0 when it has none. Looks back from the last reading over spans growing fourfold
 * from an hour, each reading looked at once, so a series whose last readings are flagged costs
 * little more than those readings. */
static int latest_selected(qx_exec *exec, size_t index, const st_series_info *info, int64_t *t_ms,
                           double *value, int *found)
{
    int known = 0, selected = 0;
    int rc = last_reading_selected(exec, index, info, &known, &selected);
    if (rc != JL_OK || (known && selected)) {
        *found = rc == JL_OK;
        return rc;
    }
    *found = 0;
    int64_t to_ms = info->last_ms + 1, span_ms = 3600 * 1000;
    for (;;) {
        int64_t from_ms = to_ms - info->first_ms <= span_ms ? info->first_ms : to_ms - span_ms;
        qx_source source;
        qx_batch batch;
        rc = qx_source_open(&source, exec, index, from_ms, to_ms, NULL, NULL);
        while (rc == JL_OK && (rc = qx_source_next(&source, &batch)) == JL_OK) {
            if (batch.count > 0) {
                *found = 1;
                *t_ms = batch.timestamps_ms[batch.count - 1];
                *value = batch.values[batch.count - 1];
            }
        }
        qx_source_close(&source);
        if (rc != JL_ENOTFOUND)
            return rc;
        if (*found || from_ms <= info->first_ms)
            return JL_OK;
        to_ms = from_ms;
        if (span_ms < INT64_MAX / 4)
            span_ms *= 4;
    }
}

/* One row per series with readings; context points to its listing_kind. */
static int listing_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    if (info->count == 0)
        return JL_OK;
    qx_cell cells[FLAG_COLUMNS];
    listing_kind kind = *(const listing_kind *)context;
    if (kind == LISTING_LATEST) {
        int64_t t_ms = info->last_ms;
        double value = info->last_value;
        if (exec->flags.mask != 0) {
            int found = 0, rc = latest_selected(exec, index, info, &t_ms, &value, &found);
            if (rc != JL_OK || !found)
                return rc;
        }
        cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = t_ms};
        cells[1] = (qx_cell){.type = QX_CELL_DOUBLE, .as.d = value};
    } else {
        cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = info->first_ms};
        cells[1] = (qx_cell){.type = QX_CELL_INT, .as.i = info->last_ms};
        cells[2] = (qx_cell){.type = QX_CELL_INT, .as.i = (int64_t)info->count};
    }
    if (kind == LISTING_SERIES_FLAGS) {
        const st_review_span *spans = NULL;
        size_t span_count = 0;
        uint64_t counts[JL_FLAG_COUNT] = {0};
        int rc = qx_review_spans(exec, index, &spans, &span_count);
        if (rc == JL_OK)
            rc = count_flags(exec, index, counts);
        if (rc != JL_OK)
            return rc;
        cells[3] = (qx_cell){.type = QX_CELL_INT, .as.i = span_count > 0};
        for (unsigned f = 0; f < JL_FLAG_COUNT; f++)
            cells[4 + f] = (qx_cell){.type = QX_CELL_INT, .as.i = (int64_t)counts[f]};
    }
    return qx_exec_row(exec, cells);
}

static int listing_run(st_store *store, const qp_selector *selector, const qx_limits *limits,
                       const qx_flag_select *flags, const qx_sink *sink, jl_error *err,
                       listing_kind kind)
{
    static const char *const latest_columns[] = {"time", "value"};
    static const char *const series_columns[FLAG_COLUMNS] = {
        "first",   "last",    "count",   "reviewed", "count_N", "count_F",
        "count_M", "count_S", "count_D", "count_C",  "count_T", "count_B"};
    qx_exec exec;
    qx_exec_init(&exec, limits, sink, err);
    exec.columns = kind == LISTING_LATEST ? latest_columns : series_columns;
    exec.column_count = kind == LISTING_LATEST ? 2 : kind == LISTING_SERIES ? 3 : FLAG_COLUMNS;
    /* Every reading (the zero mask) is what the series state's last reading answers at once. */
    if (flags != NULL && (flags->mask != JL_FLAG_MASK_ALL || flags->reviews))
        exec.flags = *flags;
    return qx_exec_run(&exec, store, selector, listing_series, &kind);
}

int qx_latest(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_flag_select *flags, const qx_sink *sink, jl_error *err)
{
    return listing_run(store, selector, limits, flags, sink, err, LISTING_LATEST);
}

int qx_series(st_store *store, const qp_selector *selector, const qx_limits *limits, int with_flags,
              const qx_sink *sink, jl_error *err)
{
    return listing_run(store, selector, limits, NULL, sink, err,
                       with_flags ? LISTING_SERIES_FLAGS : LISTING_SERIES);
}
