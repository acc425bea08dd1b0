/* qx_latest() and qx_series(): answered from the snapshot's series info alone (last reading;
 * first, last and count), touching no chunk. */
#include "query_internal.h"

typedef enum listing_kind { LISTING_LATEST, LISTING_SERIES } listing_kind;

/* One row per series with readings; context points to its listing_kind. */
static int listing_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    (void)index;
    if (info->count == 0)
        return JL_OK;
    qx_cell cells[3];
    if (*(const listing_kind *)context == LISTING_LATEST) {
        cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = info->last_ms};
        cells[1] = (qx_cell){.type = QX_CELL_DOUBLE, .as.d = info->last_value};
    } else {
        cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = info->first_ms};
        cells[1] = (qx_cell){.type = QX_CELL_INT, .as.i = info->last_ms};
        cells[2] = (qx_cell){.type = QX_CELL_INT, .as.i = (int64_t)info->count};
    }
    return qx_exec_row(exec, cells);
}

static int listing_run(st_store *store, const qp_selector *selector, const qx_limits *limits,
                       const qx_sink *sink, jl_error *err, listing_kind kind)
{
    static const char *const latest_columns[] = {"time", "value"};
    static const char *const series_columns[] = {"first", "last", "count"};
    qx_exec exec;
    qx_exec_init(&exec, limits, sink, err);
    exec.columns = kind == LISTING_LATEST ? latest_columns : series_columns;
    exec.column_count = kind == LISTING_LATEST ? 2 : 3;
    return qx_exec_run(&exec, store, selector, listing_series, &kind);
}

int qx_latest(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_sink *sink, jl_error *err)
{
    return listing_run(store, selector, limits, sink, err, LISTING_LATEST);
}

int qx_series(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_sink *sink, jl_error *err)
{
    return listing_run(store, selector, limits, sink, err, LISTING_SERIES);
}
