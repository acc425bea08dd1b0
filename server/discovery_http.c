/* The discovery endpoints over HTTP: parameters in, a call of storage/discovery.c, and the answer
 * in the usual result shape. Name listings carry string cells, which the format writers of
 * server/format.c do not have, so the three encodings of a name table are written here; the
 * all-series listing has only integer cells and goes through the format writer.
 *
 * Limits: without limit= a listing may hold up to --max-series entries and a longer one is a 422
 * saying so (never a cut answer presented as whole); with limit=N the first N (by name, or by
 * series id) are the answer the client asked for. */
#include "discovery_http.h"

#include <msgpack.h>
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

/* ---------- the three encodings of a name table ---------- */

static int msgpack_to_buf(void *data, const char *bytes, size_t len)
{
    return jl_buf_append(data, bytes, len) == JL_OK ? 0 : -1;
}

static int pack_str(msgpack_packer *pk, const char *text)
{
    size_t len = strlen(text);
    return msgpack_pack_str(pk, len) == 0 && msgpack_pack_str_body(pk, text, len) == 0 ? JL_OK
                                                                                       : JL_ENOMEM;
}

/* An array32 header, as format.c writes the outer series array. */
static int pack_array32(jl_buf *out, uint32_t n)
{
    unsigned char head[5] = {0xdd, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                             (unsigned char)(n >> 8), (unsigned char)n};
    return jl_buf_append(out, head, sizeof head);
}

static int csv_field(jl_buf *out, const char *text)
{
    if (strpbrk(text, ",\"\r\n") == NULL)
        return jl_buf_append_str(out, text);
    int rc = jl_buf_append(out, "\"", 1);
    for (const char *p = text; *p && rc == JL_OK; p++)
        rc = *p == '"' ? jl_buf_append(out, "\"\"", 2) : jl_buf_append(out, p, 1);
    return rc == JL_OK ? jl_buf_append(out, "\"", 1) : rc;
}

/* Series begin of one document series with tags {} and the given columns (JSON/msgpack). */
static int begin_series(fm_format format, jl_buf *out, msgpack_packer *pk, const char *metric,
                        const char *const *columns, size_t column_count, size_t row_count)
{
    int rc = JL_OK;
    if (format == FM_JSON) {
        rc = jl_buf_append_str(out, "{\"metric\":");
        if (rc == JL_OK)
            rc = fm_json_string(out, metric, strlen(metric));
        if (rc == JL_OK)
            rc = jl_buf_append_str(out, ",\"tags\":{},\"columns\":[");
        for (size_t c = 0; c < column_count && rc == JL_OK; c++) {
            if (c)
                rc = jl_buf_append(out, ",", 1);
            if (rc == JL_OK)
                rc = fm_json_string(out, columns[c], strlen(columns[c]));
        }
        if (rc == JL_OK)
            rc = jl_buf_append_str(out, "],\"values\":[");
    } else if (format == FM_MSGPACK) {
        rc = msgpack_pack_map(pk, 4) == 0 ? JL_OK : JL_ENOMEM;
        if (rc == JL_OK && (rc = pack_str(pk, "metric")) == JL_OK &&
            (rc = pack_str(pk, metric)) == JL_OK && (rc = pack_str(pk, "tags")) == JL_OK)
            rc = msgpack_pack_map(pk, 0) == 0 ? JL_OK : JL_ENOMEM;
        if (rc == JL_OK && (rc = pack_str(pk, "columns")) == JL_OK)
            rc = msgpack_pack_array(pk, column_count) == 0 ? JL_OK : JL_ENOMEM;
        for (size_t c = 0; c < column_count && rc == JL_OK; c++)
            rc = pack_str(pk, columns[c]);
        if (rc == JL_OK && (rc = pack_str(pk, "values")) == JL_OK)
            rc = msgpack_pack_array(pk, row_count) == 0 ? JL_OK : JL_ENOMEM;
    }
    return rc;
}

/* One row: an optional name cell, then a count cell. */
static int write_row(fm_format format, jl_buf *out, msgpack_packer *pk, const char *metric,
                     const char *name, uint64_t count, int first_row)
{
    int rc = JL_OK;
    if (format == FM_JSON) {
        rc = jl_buf_append_str(out, first_row ? "[" : ",[");
        if (rc == JL_OK && name) {
            rc = fm_json_string(out, name, strlen(name));
            if (rc == JL_OK)
                rc = jl_buf_append(out, ",", 1);
        }
        if (rc == JL_OK)
            rc = jl_buf_printf(out, "%llu]", (unsigned long long)count);
    } else if (format == FM_MSGPACK) {
        rc = msgpack_pack_array(pk, name ? 2 : 1) == 0 ? JL_OK : JL_ENOMEM;
        if (rc == JL_OK && name)
            rc = pack_str(pk, name);
        if (rc == JL_OK)
            rc = msgpack_pack_uint64(pk, count) == 0 ? JL_OK : JL_ENOMEM;
    } else {
        rc = csv_field(out, metric);
        if (rc == JL_OK)
            rc = jl_buf_append(out, ",,", 2); /* no tags */
        if (rc == JL_OK && name) {
            rc = csv_field(out, name);
            if (rc == JL_OK)
                rc = jl_buf_append(out, ",", 1);
        }
        if (rc == JL_OK)
            rc = jl_buf_printf(out, "%llu\r\n", (unsigned long long)count);
    }
    return rc;
}

static int write_csv_header(jl_buf *out, const char *const *columns, size_t column_count)
{
    int rc = jl_buf_append_str(out, "metric,tags");
    for (size_t c = 0; c < column_count && rc == JL_OK; c++) {
        rc = jl_buf_append(out, ",", 1);
        if (rc == JL_OK)
            rc = csv_field(out, columns[c]);
    }
    return rc == JL_OK ? jl_buf_append(out, "\r\n", 2) : rc;
}

/* Metrics: one series per name with one row [count]. Tags: one series `metric` with rows
 * [name, count]. */
static int encode_list(fm_format format, const st_name_list *list, int one_series_per_name,
                       const char *metric, const char *name_column, jl_buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_to_buf);
    const char *columns[2] = {name_column, "series"};
    const char *const *cols = one_series_per_name ? columns + 1 : columns;
    size_t col_count = one_series_per_name ? 1 : 2;
    size_t series_count = one_series_per_name ? list->count : 1;
    int rc = JL_OK;
    if (format == FM_JSON)
        rc = jl_buf_append_str(out, "{\"series\":[");
    else if (format == FM_MSGPACK) {
        rc = msgpack_pack_map(&pk, 1) == 0 ? pack_str(&pk, "series") : JL_ENOMEM;
        if (rc == JL_OK)
            rc = pack_array32(out, (uint32_t)series_count);
    } else if (list->count > 0) {
        rc = write_csv_header(out, cols, col_count); /* an empty CSV answer is an empty body */
    }
    for (size_t s = 0; s < series_count && rc == JL_OK; s++) {
        const char *series_metric = one_series_per_name ? list->items[s].name : metric;
        if (format == FM_JSON && s)
            rc = jl_buf_append(out, ",", 1);
        if (rc == JL_OK)
            rc = begin_series(format, out, &pk, series_metric, cols, col_count,
                              one_series_per_name ? 1 : list->count);
        if (one_series_per_name) {
            if (rc == JL_OK)
                rc = write_row(format, out, &pk, series_metric, NULL, list->items[s].series, 1);
        } else {
            for (size_t i = 0; i < list->count && rc == JL_OK; i++)
                rc = write_row(format, out, &pk, series_metric, list->items[i].name,
                               list->items[i].series, i == 0);
        }
        if (rc == JL_OK && format == FM_JSON)
            rc = jl_buf_append_str(out, "]}");
    }
    if (rc == JL_OK && format == FM_JSON)
        rc = jl_buf_append_str(out, "]}");
    return rc;
}

static void respond_list(const rq_discovery *params, const st_name_list *list,
                         int one_series_per_name, const char *metric, const char *name_column,
                         sv_response *response)
{
    response->body.len = 0;
    if (encode_list((fm_format)params->format, list, one_series_per_name, metric, name_column,
                    &response->body) != JL_OK) {
        sv_respond_error(response, JL_ENOMEM, "out of memory writing the answer");
        return;
    }
    sv_respond_ok(response, fm_content_type((fm_format)params->format));
}

/* ---------- handlers ---------- */

void sv_discovery_metrics(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    rq_discovery params;
    rq_input in = sv_request_input(context, request);
    if (rq_discovery_parse(RQ_DISCOVER_METRICS, &in, &params, &err) != JL_OK) {
        sv_respond_failure(response, err.code, &err);
        return;
    }
    st_name_list list;
    int rc = st_discover_metrics(context->store, params.limit, &list, &err);
    if (rc != JL_OK)
        sv_respond_failure(response, rc, &err);
    else if (list.truncated && !params.explicit_limit)
        refuse_truncated(&params, "metrics", response);
    else
        respond_list(&params, &list, 1, NULL, NULL, response);
    st_name_list_destroy(&list);
}

void sv_discovery_tags(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    rq_discovery params;
    rq_input in = sv_request_input(context, request);
    if (rq_discovery_parse(RQ_DISCOVER_TAGS, &in, &params, &err) != JL_OK) {
        sv_respond_failure(response, err.code, &err);
        return;
    }
    const char *metric = params.metric;
    const char *key = params.key;
    st_name_list list;
    int rc = key ? st_discover_tag_values(context->store, key, metric, params.limit, &list, &err)
                 : st_discover_tag_keys(context->store, metric, params.limit, &list, &err);
    if (rc != JL_OK)
        sv_respond_failure(response, rc, &err);
    else if (list.truncated && !params.explicit_limit)
        refuse_truncated(&params, key ? "tag values" : "tag keys", response);
    else
        respond_list(&params, &list, 0, metric ? metric : "", key ? "value" : "key", response);
    st_name_list_destroy(&list);
}

void sv_discovery_all_series(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    rq_discovery params;
    rq_input in = sv_request_input(context, request);
    if (rq_discovery_parse(RQ_DISCOVER_SERIES, &in, &params, &err) != JL_OK) {
        sv_respond_failure(response, err.code, &err);
        return;
    }
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
