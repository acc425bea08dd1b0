/* qx_latest() and qx_series(): answered from the snapshot's series info alone (last reading;
 * first, last and count), touching no chunk. */
#include "query_internal.h"

static int latest_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    (void)index;
    (void)context;
    if (info->count == 0)
        return JL_OK;
    qx_cell cells[2] = {{.type = QX_CELL_INT, .as.i = info->last_ms},
                        {.type = QX_CELL_DOUBLE, .as.d = info->last_value}};
    return qx_exec_row(exec, cells);
}

int qx_latest(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_sink *sink, jl_error *err)
{
    static const char *const columns[] = {"time", "value"};
    qx_exec exec;
    qx_exec_init(&exec, limits, sink, err);
    exec.columns = columns;
    exec.column_count = 2;
    return qx_exec_run(&exec, store, selector, latest_series, NULL);
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
    return qx_exec_row(exec, cells);
}

int qx_series(st_store *store, const qp_selector *selector, const qx_limits *limits,
              const qx_sink *sink, jl_error *err)
{
    static const char *const columns[] = {"first", "last", "count"};
    qx_exec exec;
    qx_exec_init(&exec, limits, sink, err);
    exec.columns = columns;
    exec.column_count = 3;
    return qx_exec_run(&exec, store, selector, series_series, NULL);
}
