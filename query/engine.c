/* qx_query(), the entry point of GET /api/v1/query: checks and clamps the range, then answers
 * raw readings here (a stage that writes every reading of the range) or hands a windowed query to
 * window.c. The files of the engine are listed in query_internal.h. */
#include "query_internal.h"

#include <string.h>

#include "jialing/flag.h"

typedef struct qx_range {
    int64_t from_ms, to_ms;
} qx_range;

/* The cells of one reading: time and value, then with flags its flag and whether it is valid
 * (validity NULL: the request did not ask for flags, and the two cells are not written). */
int qx_reading_row(qx_exec *exec, qx_validity *validity, int64_t t_ms, double value, uint8_t flag)
{
    qx_cell cells[4] = {{.type = QX_CELL_INT, .as.i = t_ms},
                        {.type = QX_CELL_DOUBLE, .as.d = value},
                        {.type = QX_CELL_FLAG, .as.i = flag},
                        {.type = QX_CELL_BOOL}};
    if (validity != NULL)
        cells[3].as.i = qx_validity_at(validity, t_ms, flag);
    return qx_exec_row(exec, cells);
}

static int raw_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    const qx_range *range = context;
    qx_source source;
    qx_batch batch;
    qx_validity validity;
    int rc;
    if (info->count == 0)
        return JL_OK;
    if ((rc = qx_validity_open(&validity, exec, index)) != JL_OK)
        return rc;
    qx_validity *with_flags = exec->column_count > 2 ? &validity : NULL;
    rc = qx_source_open(&source, exec, index, range->from_ms, range->to_ms, NULL, NULL);
    while (rc == JL_OK && (rc = qx_source_next(&source, &batch)) == JL_OK) {
        for (size_t i = 0; i < batch.count && rc == JL_OK; i++)
            rc = qx_reading_row(exec, with_flags, batch.timestamps_ms[i], batch.values[i],
                                batch.flags ? batch.flags[i] : JL_FLAG_N);
    }
    qx_source_close(&source);
    return rc == JL_ENOTFOUND ? JL_OK : rc;
}

int qx_query(st_store *store, const qx_query_request *request, const qx_sink *sink, jl_error *err)
{
    qx_exec exec;
    int rc = qx_exec_start(&exec, &request->limits, request->stats, request->from_ms,
                           request->to_ms, sink, err);
    if (rc != JL_OK)
        return rc;
    exec.flags = request->flags;
    exec.more_selectors = request->more_selectors;
    exec.more_selector_count = request->more_selector_count;
    int64_t from_ms = request->from_ms, to_ms = request->to_ms;
    int nonempty = qx_clamp_range(&from_ms, &to_ms);
    static const char *const raw_columns[] = {"time", "value", "flag", "valid"};
    const char *columns[QX_MAX_AGGREGATES + 1];

    if (!request->has_window) {
        if (request->group || request->fill != QX_FILL_NONE || request->min_count > 1 ||
            request->shift_ms != 0)
            return jl_error_set(err, JL_EINVAL,
                                "group_by, fill, min_count and offset need a window");
        qx_range range = {from_ms, to_ms};
        exec.columns = raw_columns;
        exec.column_count = request->with_flags ? 4 : 2;
        if (!nonempty)
            return JL_OK;
        rc = qx_exec_run(&exec, store, request->selector, raw_series, &range);
    } else if (request->with_flags) {
        return jl_error_set(err, JL_EINVAL, "with_flags applies to raw readings only");
    } else {
        rc = qx_run_windows(&exec, store, request, from_ms, to_ms, nonempty, columns);
    }
    if (request->stats != NULL)
        *request->stats = exec.stats;
    return rc;
}
