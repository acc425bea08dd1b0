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

/* One row per series with readings; context points to its listing_kind. */
static int listing_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    if (info->count == 0)
        return JL_OK;
    qx_cell cells[FLAG_COLUMNS];
    listing_kind kind = *(const listing_kind *)context;
    if (kind == LISTING_LATEST) {
        cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = info->last_ms};
        cells[1] = (qx_cell){.type = QX_CELL_DOUBLE, .as.d = info->last_value};
    } else {
        cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = info->first_ms};
        cells[1] = (qx_cell){.type = QX_CELL_INT, .as.i = info->last_ms};
        cells[2] = (qx_cell){.type = QX_CELL_INT, .as.i = (int64_t)info->count};
    }
    if (kind == LISTING_SERIES_FLAGS) {
        const st_review_span *spans = NULL;
        size_t span_count = 0;
        if (st_snapshot_review_spans(exec->snapshot, index, &spans, &span_count) != JL_OK)
            span_count = 0;
        uint64_t counts[JL_FLAG_COUNT] = {0};
        int rc = count_flags(exec, index, counts);
        if (rc != JL_OK)
            return rc;
        cells[3] = (qx_cell){.type = QX_CELL_INT, .as.i = span_count > 0};
        for (unsigned f = 0; f < JL_FLAG_COUNT; f++)
            cells[4 + f] = (qx_cell){.type = QX_CELL_INT, .as.i = (int64_t)counts[f]};
    }
    return qx_exec_row(exec, cells);
}

static int listing_run(st_store *store, const qp_selector *selector, const qx_limits *limits,
                       const qx_sink *sink, jl_error *err, listing_kind kind)
{
    static const char *const latest_columns[] = {"time", "value"};
    static const char *const series_columns[FLAG_COLUMNS] = {
        "first",   "last",    "count",   "reviewed", "count_N", "count_F",
        "count_M", "count_S", "count_D", "count_C",  "count_T", "count_B"};
    qx_exec exec;
    qx_exec_init(&exec, limits, sink, err);
    exec.columns = kind == LISTING_LATEST ? latest_columns : series_columns;
    exec.column_count = kind == LISTING_LATEST ? 2 : kind == LISTING_SERIES ? 3 : FLAG_COLUMNS;
    return qx_exec_run(&exec, store, selector, listing_series, &kind);
}

int qx_latest(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_sink *sink, jl_error *err)
{
    return listing_run(store, selector, limits, sink, err, LISTING_LATEST);
}

int qx_series(st_store *store, const qp_selector *selector, const qx_limits *limits, int with_flags,
              const qx_sink *sink, jl_error *err)
{
    return listing_run(store, selector, limits, sink, err,
                       with_flags ? LISTING_SERIES_FLAGS : LISTING_SERIES);
}
