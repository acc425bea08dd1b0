/* The discovery endpoints over HTTP: parameters in, a call of storage/discovery.c, and the answer
 * in the usual result shape, written by server/format.c's writer (name listings with its string
 * cell rows, fm_writer_text_row). Parameters are parsed by rq_discovery_parse (query/request.c).
 *
 * Limits: without limit= a listing may hold up to --max-series entries and a longer one is a 422
 * saying so (never a cut answer presented as whole); with limit=N the first N (by name, or by
 * series id) are the answer the client asked for. */
#include "discovery_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/discovery.h"
#include "jialing/format.h"

static int refuse_truncated(const rq_discovery *params, const char *what, sv_response *response)
{
    char message[300];
    snprintf(message, sizeof message,
             "there are more than %zu %s; the limit is %zu (--max-series): pass limit= for the "
             "first ones, or narrow the listing with metric=",
             params->limit, what, params->limit);
    sv_respond_error(response, JL_ELIMIT, message);
    return JL_ELIMIT;
}

/* ---------- name tables ---------- */

/* Metrics: one series per name with one row [count]. Tags: one series `metric` with rows
 * [name, count]; with no names that series is still there in JSON and msgpack, while CSV, whose
 * header needs a first series, keeps an empty answer an empty body as format.c does. */
static int encode_list(fm_format format, const st_name_list *list, int one_series_per_name,
                       const char *metric, const char *name_column, jl_buf *out)
{
    fm_writer writer;
    int rc = fm_writer_init(&writer, format, out);
    qx_sink sink = fm_writer_sink(&writer);
    const char *columns[2] = {name_column, "series"};
    if (one_series_per_name) {
        for (size_t s = 0; s < list->count && rc == JL_OK; s++) {
            const char *name = list->items[s].name;
            qx_cell count = {.type = QX_CELL_INT, .as.i = (int64_t)list->items[s].series};
            rc = sink.series_begin(&writer, (sk_text){name, strlen(name)}, NULL, 0, columns + 1, 1);
            if (rc == JL_OK)
                rc = sink.row(&writer, &count, 1);
            if (rc == JL_OK)
                rc = sink.series_end(&writer);
        }
    } else if (rc == JL_OK && (list->count > 0 || format != FM_CSV)) {
        rc = sink.series_begin(&writer, (sk_text){metric, strlen(metric)}, NULL, 0, columns, 2);
        for (size_t i = 0; i < list->count && rc == JL_OK; i++) {
            const char *name = list->items[i].name;
            qx_cell count = {.type = QX_CELL_INT, .as.i = (int64_t)list->items[i].series};
            rc = fm_writer_text_row(&writer, (sk_text){name, strlen(name)}, &count, 1);
        }
        if (rc == JL_OK)
            rc = sink.series_end(&writer);
    }
    if (rc == JL_OK)
        rc = fm_writer_finish(&writer);
    fm_writer_destroy(&writer);
    return rc;
}

/* Answers a name listing's call: its error (rc, err), the refusal of a cut listing no limit= asked
 * to cut, or the table. metric NULL: one series per name (the metrics listing); else one series
 * metric whose rows are [name_column, series]. */
static void answer_list(int rc, const jl_error *err, const st_name_list *list,
                        const rq_discovery *params, const char *what, const char *metric,
                        const char *name_column, sv_response *response)
{
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, err);
        return;
    }
    if (list->truncated && !params->explicit_limit) {
        refuse_truncated(params, what, response);
        return;
    }
    response->body.len = 0;
    if (encode_list((fm_format)params->format, list, metric == NULL, metric, name_column,
                    &response->body) != JL_OK) {
        sv_respond_error(response, JL_ENOMEM, "out of memory writing the answer");
        return;
    }
    sv_respond_ok(response, fm_content_type((fm_format)params->format));
}

/* Parses the request as a listing of kind; returns 1, or 0 with the refusal answered. */
static int parse_listing(sv_context *context, const sv_request *request, rq_discovery_kind kind,
                         rq_discovery *params, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    rq_input in = sv_request_input(context, request);
    if (rq_discovery_parse(kind, &in, params, &err) == JL_OK)
        return 1;
    sv_respond_failure(response, err.code, &err);
    return 0;
}

/* ---------- handlers ---------- */

void sv_discovery_metrics(sv_context *context, const sv_request *request, sv_response *response)
{
    rq_discovery params;
    if (!parse_listing(context, request, RQ_DISCOVER_METRICS, &params, response))
        return;
    jl_error err;
    jl_error_clear(&err);
    st_name_list list;
    int rc = st_discover_metrics(context->store, params.limit, &list, &err);
    answer_list(rc, &err, &list, &params, "metrics", NULL, NULL, response);
    st_name_list_destroy(&list);
}

void sv_discovery_tags(sv_context *context, const sv_request *request, sv_response *response)
{
    rq_discovery params;
    if (!parse_listing(context, request, RQ_DISCOVER_TAGS, &params, response))
        return;
    jl_error err;
    jl_error_clear(&err);
    const char *metric = params.metric;
    const char *key = params.key;
    st_name_list list;
    int rc = key ? st_discover_tag_values(context->store, key, metric, params.limit, &list, &err)
                 : st_discover_tag_keys(context->store, metric, params.limit, &list, &err);
    answer_list(rc, &err, &list, &params, key ? "tag values" : "tag keys", metric ? metric : "",
                key ? "value" : "key", response);
    st_name_list_destroy(&list);
}

void sv_discovery_all_series(sv_context *context, const sv_request *request, sv_response *response)
{
    rq_discovery params;
    if (!parse_listing(context, request, RQ_DISCOVER_SERIES, &params, response))
        return;
    jl_error err;
    jl_error_clear(&err);
    uint64_t *ids = NULL;
    size_t count = 0;
    int truncated = 0;
    st_snapshot *snapshot = NULL;
    fm_writer writer;
    int writer_ready = 0;
    int rc = st_discover_series_ids(context->store, params.limit, &ids, &count, &truncated, &err);
    if (rc == JL_OK && truncated && !params.explicit_limit) {
        refuse_truncated(&params, "series", response);
        goto out;
    }
    if (rc == JL_OK)
        rc = st_snapshot_open(context->store, ids, count, &snapshot, &err);
    response->body.len = 0;
    if (rc == JL_OK) {
        rc = fm_writer_init(&writer, (fm_format)params.format, &response->body);
        writer_ready = 1;
    }
    qx_sink sink = {0};
    if (rc == JL_OK)
        sink = fm_writer_sink(&writer);
    static const char *const columns[] = {"first", "last", "count"};
    size_t n = snapshot ? st_snapshot_series_count(snapshot) : 0;
    for (size_t i = 0; i < n && rc == JL_OK; i++) {
        st_series_info info;
        if (st_snapshot_series_info(snapshot, i, &info) != JL_OK || info.count == 0)
            continue;
        sk_parsed parsed;
        rc = sk_parse(info.key, info.key_len, &parsed, &err);
        if (rc != JL_OK)
            break;
        qx_cell cells[3] = {{.type = QX_CELL_INT, .as.i = info.first_ms},
                            {.type = QX_CELL_INT, .as.i = info.last_ms},
                            {.type = QX_CELL_INT, .as.i = (int64_t)info.count}};
        rc = sink.series_begin(sink.context, parsed.metric, parsed.tags, parsed.tag_count, columns,
                               3);
        if (rc == JL_OK)
            rc = sink.row(sink.context, cells, 3);
        if (rc == JL_OK)
            rc = sink.series_end(sink.context);
        sk_parsed_destroy(&parsed);
    }
    st_snapshot_close(snapshot); /* before anything is sent */
    if (rc == JL_OK)
        rc = fm_writer_finish(&writer);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        goto out;
    }
    sv_respond_ok(response, fm_content_type((fm_format)params.format));
out:
    if (writer_ready)
        fm_writer_destroy(&writer);
    free(ids);
}
