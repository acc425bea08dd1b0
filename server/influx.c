/* /ping and /query for InfluxDB clients and Grafana: the request's parameters (or form body), one
 * InfluxQL parse, and per statement either a discovery listing or one engine query whose rows a
 * collecting sink gathers into InfluxDB's result series (merging the raw rows of every series
 * that shares the GROUP BY tags, as InfluxDB does), then the InfluxDB JSON document. */
#include "influx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "jialing/calendar.h"
#include "jialing/discovery.h"
#include "jialing/format.h"
#include "jialing/influxql.h"

/* ---------- collecting sink ---------- */

typedef struct out_row {
    int64_t time_ms;
    uint64_t seq;   /* arrival order, for a stable time sort */
    qx_cell *cells; /* column_count cells (after time), owned */
} out_row;

typedef struct out_series {
    char *tag_text;    /* group tag values "k\x01v\x02...", owned (for identity and order) */
    char **tag_keys;   /* owned */
    char **tag_values; /* owned */
    size_t tag_count;
    out_row *rows;
    size_t row_count, row_capacity;
    int merged; /* raw rows of several engine series: sort by time */
} out_series;

typedef struct collector {
    const iq_statement *st;
    out_series *series;
    size_t count, capacity;
    out_series *current;
    size_t cells_per_row;
    uint64_t seq;
} collector;

static void collector_destroy(collector *c)
{
    for (size_t i = 0; i < c->count; i++) {
        out_series *s = &c->series[i];
        for (size_t t = 0; t < s->tag_count; t++) {
            free(s->tag_keys[t]);
            free(s->tag_values[t]);
        }
        free(s->tag_keys);
        free(s->tag_values);
        free(s->tag_text);
        for (size_t r = 0; r < s->row_count; r++)
            free(s->rows[r].cells);
        free(s->rows);
    }
    free(c->series);
}

static char *slice_dup(const char *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, data, len);
        copy[len] = '\0';
    }
    return copy;
}

static int collect_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                         const char *const *columns, size_t column_count)
{
    (void)metric;
    (void)columns;
    collector *c = context;
    c->cells_per_row = column_count - 1;
    /* The output series is named by the GROUP BY tags this engine series has. */
    jl_buf key;
    jl_buf_init(&key);
    const sk_tag *picked[QX_MAX_GROUP_TAGS];
    size_t picked_count = 0;
    for (size_t g = 0; g < c->st->group_tag_count; g++) {
        const char *want = c->st->group_tags[g];
        for (size_t t = 0; t < tag_count; t++)
            if (tags[t].key.len == strlen(want) &&
                memcmp(tags[t].key.data, want, tags[t].key.len) == 0) {
                picked[picked_count++] = &tags[t];
                jl_buf_append(&key, tags[t].key.data, tags[t].key.len);
                jl_buf_append(&key, "\x01", 1);
                jl_buf_append(&key, tags[t].value.data, tags[t].value.len);
                jl_buf_append(&key, "\x02", 1);
            }
    }
    jl_buf_append(&key, "", 0);
    const char *text = key.data ? key.data : "";
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->series[i].tag_text, text) == 0) {
            c->current = &c->series[i];
            c->current->merged = 1;
            jl_buf_destroy(&key);
            return JL_OK;
        }
    out_series *grown = jl_array_grow(c->series, &c->capacity, c->count + 1, sizeof *grown, 8);
    if (grown == NULL) {
        jl_buf_destroy(&key);
        return JL_ENOMEM;
    }
    c->series = grown;
    out_series *s = &c->series[c->count++];
    memset(s, 0, sizeof *s);
    s->tag_text = strdup(text);
    jl_buf_destroy(&key);
    s->tag_keys = calloc(picked_count ? picked_count : 1, sizeof *s->tag_keys);
    s->tag_values = calloc(picked_count ? picked_count : 1, sizeof *s->tag_values);
    if (s->tag_text == NULL || s->tag_keys == NULL || s->tag_values == NULL)
        return JL_ENOMEM;
    for (size_t t = 0; t < picked_count; t++) {
        s->tag_keys[t] = slice_dup(picked[t]->key.data, picked[t]->key.len);
        s->tag_values[t] = slice_dup(picked[t]->value.data, picked[t]->value.len);
        s->tag_count++;
        if (s->tag_keys[t] == NULL || s->tag_values[t] == NULL)
            return JL_ENOMEM;
    }
    c->current = s;
    return JL_OK;
}

static int collect_row(void *context, const qx_cell *cells, size_t cell_count)
{
    collector *c = context;
    out_series *s = c->current;
    if (s == NULL || cell_count < 1)
        return JL_EINVAL;
    out_row *rows = jl_array_grow(s->rows, &s->row_capacity, s->row_count + 1, sizeof *rows, 64);
    if (rows == NULL)
        return JL_ENOMEM;
    s->rows = rows;
    out_row *r = &s->rows[s->row_count];
    r->time_ms = cells[0].as.i;
    r->seq = c->seq++;
    r->cells = malloc((cell_count - 1 ? cell_count - 1 : 1) * sizeof *r->cells);
    if (r->cells == NULL)
        return JL_ENOMEM;
    memcpy(r->cells, cells + 1, (cell_count - 1) * sizeof *r->cells);
    s->row_count++;
    return JL_OK;
}

static int collect_end(void *context)
{
    ((collector *)context)->current = NULL;
    return JL_OK;
}

static int compare_rows(const void *a, const void *b)
{
    const out_row *x = a, *y = b;
    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int compare_series(const void *a, const void *b)
{
    return strcmp(((const out_series *)a)->tag_text, ((const out_series *)b)->tag_text);
}

/* ---------- the InfluxDB JSON document ---------- */

typedef struct time_format {
    int64_t divisor_ns;  /* epoch unit in ns; 0: RFC 3339 strings */
    const tz_zone *zone; /* offset for RFC 3339 (NULL: UTC) */
} time_format;

static void write_time(jl_buf *out, const time_format *tf, int64_t ms)
{
    if (tf->divisor_ns) {
        /* ns and u are exact multiples; coarser units truncate toward the past like InfluxDB. */
        if (tf->divisor_ns <= 1000000) {
            jl_buf_printf(out, "%lld", (long long)(ms * (1000000 / tf->divisor_ns)));
        } else {
            int64_t unit_ms = tf->divisor_ns / 1000000;
            int64_t q = cal_floor_div(ms, unit_ms);
            jl_buf_printf(out, "%lld", (long long)q);
        }
        return;
    }
    int64_t offset = tf->zone ? tz_offset_at(tf->zone, ms) : 0;
    int64_t local = ms + offset;
    int64_t days = cal_floor_div(local, 86400000);
    int64_t in_day = local - days * 86400000;
    int64_t year;
    unsigned month, day;
    cal_civil_from_days(days, &year, &month, &day);
    char frac[8] = "";
    int millis = (int)(in_day % 1000);
    if (millis) {
        snprintf(frac, sizeof frac, ".%03d", millis);
        size_t n = strlen(frac);
        while (frac[n - 1] == '0')
            frac[--n] = '\0';
    }
    char zone_text[8] = "Z";
    if (offset) {
        int64_t minutes = (offset < 0 ? -offset : offset) / 60000;
        snprintf(zone_text, sizeof zone_text, "%c%02d:%02d", offset < 0 ? '-' : '+',
                 (int)(minutes / 60), (int)(minutes % 60));
    }
    jl_buf_printf(out, "\"%04lld-%02u-%02uT%02d:%02d:%02d%s%s\"", (long long)year, month, day,
                  (int)(in_day / 3600000), (int)(in_day / 60000 % 60), (int)(in_day / 1000 % 60),
                  frac, zone_text);
}

static void write_cell(jl_buf *out, const qx_cell *cell)
{
    char text[FM_DOUBLE_MAX];
    if (cell->type == QX_CELL_INT)
        jl_buf_printf(out, "%lld", (long long)cell->as.i);
    else if (cell->type == QX_CELL_DOUBLE && fm_format_double(cell->as.d, text) > 0)
        jl_buf_append_str(out, text);
    else
        jl_buf_append_str(out, "null");
}

static void write_string(jl_buf *out, const char *text)
{
    fm_json_string(out, text, strlen(text));
}

/* {"name":..,[tags],"columns":[..],"values":[ */
static void begin_result_series(jl_buf *out, const char *name, char **keys, char **values,
                                size_t tag_count, const char *const *columns, size_t column_count)
{
    jl_buf_append_str(out, "{\"name\":");
    write_string(out, name);
    if (tag_count) {
        jl_buf_append_str(out, ",\"tags\":{");
        for (size_t t = 0; t < tag_count; t++) {
            if (t)
                jl_buf_append(out, ",", 1);
            write_string(out, keys[t]);
            jl_buf_append(out, ":", 1);
            write_string(out, values[t]);
        }
        jl_buf_append(out, "}", 1);
    }
    jl_buf_append_str(out, ",\"columns\":[");
    for (size_t c = 0; c < column_count; c++) {
        if (c)
            jl_buf_append(out, ",", 1);
        write_string(out, columns[c]);
    }
    jl_buf_append_str(out, "],\"values\":[");
}

/* ---------- statements ---------- */

typedef struct statement_out {
    jl_buf *out;
    int series_written; /* "series":[ opened */
} statement_out;

static void open_series_list(statement_out *so)
{
    jl_buf_append_str(so->out, so->series_written ? "," : ",\"series\":[");
    so->series_written = 1;
}

static int run_select(sv_context *context, const iq_statement *st, const time_format *base_tf,
                      statement_out *so, jl_error *err)
{
    iq_plan plan;
    int rc = iq_plan_select(st, jl_now_ms(), &context->config->limits, &plan, err);
    collector c = {.st = st};
    if (rc == JL_OK) {
        qx_sink sink = {&c, collect_begin, collect_row, collect_end};
        rc = qx_query(context->store, &plan.request, &sink, err);
    }
    if (rc != JL_OK)
        goto out;
    if (c.count > 1)
        qsort(c.series, c.count, sizeof *c.series, compare_series);
    const char *columns[QX_MAX_AGGREGATES + 1];
    columns[0] = "time";
    for (size_t i = 0; i < st->column_count; i++)
        columns[i + 1] = st->columns[i];
    time_format tf = *base_tf;
    tf.zone = st->tz ? plan.zone : NULL;
    for (size_t i = 0; i < c.count; i++) {
        out_series *s = &c.series[i];
        if (s->merged && st->raw)
            qsort(s->rows, s->row_count, sizeof *s->rows, compare_rows);
        size_t begin = 0, end = s->row_count;
        /* OFFSET and LIMIT count from the first row in the asked order. */
        uint64_t skip = st->offset < s->row_count ? st->offset : s->row_count;
        size_t n = s->row_count - (size_t)skip;
        if (st->limit && st->limit < n)
            n = (size_t)st->limit;
        if (st->order_desc) {
            end = s->row_count - (size_t)skip;
            begin = end - n;
        } else {
            begin = (size_t)skip;
            end = begin + n;
        }
        if (n == 0)
            continue;
        open_series_list(so);
        begin_result_series(so->out, st->measurement, s->tag_keys, s->tag_values, s->tag_count,
                            columns, st->column_count + 1);
        for (size_t k = 0; k < n; k++) {
            const out_row *r = &s->rows[st->order_desc ? end - 1 - k : begin + k];
            jl_buf_append_str(so->out, k ? ",[" : "[");
            write_time(so->out, &tf, plan.row_time_ms != INT64_MIN ? plan.row_time_ms : r->time_ms);
            for (size_t cell = 0; cell < st->column_count; cell++) {
                jl_buf_append(so->out, ",", 1);
                write_cell(so->out, &r->cells[cell]);
            }
            jl_buf_append(so->out, "]", 1);
        }
        jl_buf_append_str(so->out, "]}");
    }
out:
    collector_destroy(&c);
    iq_plan_destroy(&plan);
    return rc;
}

/* A one-column name table as one result series, with OFFSET and LIMIT. */
static void write_names(statement_out *so, const char *name, const char *column,
                        const char *key_cell, const st_name_list *list, const iq_statement *st)
{
    size_t begin = st->offset < list->count ? (size_t)st->offset : list->count;
    size_t n = list->count - begin;
    if (st->limit && st->limit < n)
        n = (size_t)st->limit;
    if (n == 0)
        return;
    const char *columns[2] = {key_cell ? "key" : column, "value"};
    open_series_list(so);
    begin_result_series(so->out, name, NULL, NULL, 0, columns, key_cell ? 2 : 1);
    for (size_t i = 0; i < n; i++) {
        jl_buf_append_str(so->out, i ? ",[" : "[");
        if (key_cell) {
            write_string(so->out, key_cell);
            jl_buf_append(so->out, ",", 1);
        }
        write_string(so->out, list->items[begin + i].name);
        jl_buf_append(so->out, "]", 1);
    }
    jl_buf_append_str(so->out, "]}");
}

/* The measurements a SHOW statement covers: the one of FROM, or every metric. */
static int show_targets(sv_context *context, const iq_statement *st, st_name_list *out,
                        jl_error *err)
{
    if (st->measurement == NULL)
        return st_discover_metrics(context->store, 0, out, err);
    memset(out, 0, sizeof *out);
    out->items = calloc(1, sizeof *out->items);
    if (out->items == NULL || (out->items[0].name = strdup(st->measurement)) == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    out->count = out->capacity = 1;
    return JL_OK;
}

static int run_show(sv_context *context, const iq_statement *st, const char *db, statement_out *so,
                    jl_error *err)
{
    st_name_list targets = {0}, list = {0};
    int rc = JL_OK;
    switch (st->kind) {
    case IQ_SHOW_MEASUREMENTS:
        rc = st_discover_metrics(context->store, 0, &list, err);
        if (rc == JL_OK)
            write_names(so, "measurements", "name", NULL, &list, st);
        break;
    case IQ_SHOW_TAG_KEYS:
    case IQ_SHOW_TAG_VALUES:
    case IQ_SHOW_FIELD_KEYS:
        rc = show_targets(context, st, &targets, err);
        for (size_t m = 0; m < targets.count && rc == JL_OK; m++) {
            const char *metric = targets.items[m].name;
            if (st->kind == IQ_SHOW_TAG_KEYS) {
                rc = st_discover_tag_keys(context->store, metric, 0, &list, err);
                if (rc == JL_OK)
                    write_names(so, metric, "tagKey", NULL, &list, st);
            } else if (st->kind == IQ_SHOW_FIELD_KEYS) {
                /* Every metric is one field "value" of its own measurement (DESIGN §2). */
                static const char *const columns[] = {"fieldKey", "fieldType"};
                open_series_list(so);
                begin_result_series(so->out, metric, NULL, NULL, 0, columns, 2);
                jl_buf_append_str(so->out, "[\"value\",\"float\"]]}");
            } else {
                for (size_t k = 0; k < st->key_count && rc == JL_OK; k++) {
                    st_name_list_destroy(&list);
                    rc = st_discover_tag_values(context->store, st->keys[k], metric, 0, &list, err);
                    if (rc == JL_OK)
                        write_names(so, metric, "value", st->keys[k], &list, st);
                }
            }
            st_name_list_destroy(&list);
        }
        break;
    case IQ_SHOW_DATABASES: {
        static const char *const columns[] = {"name"};
        open_series_list(so);
        begin_result_series(so->out, "databases", NULL, NULL, 0, columns, 1);
        jl_buf_append_str(so->out, "[\"jialing\"]");
        if (db && db[0] && strcmp(db, "jialing") != 0) {
            jl_buf_append_str(so->out, ",[");
            write_string(so->out, db);
            jl_buf_append_str(so->out, "]");
        }
        jl_buf_append_str(so->out, "]}");
        break;
    }
    case IQ_SHOW_RETENTION_POLICIES: {
        static const char *const columns[] = {"name", "duration", "shardGroupDuration", "replicaN",
                                              "default"};
        open_series_list(so);
        begin_result_series(so->out, "", NULL, NULL, 0, columns, 5);
        jl_buf_append_str(so->out, "[\"autogen\",\"0s\",\"168h0m0s\",1,true]]}");
        break;
    }
    default:
        break;
    }
    st_name_list_destroy(&targets);
    st_name_list_destroy(&list);
    return rc;
}

/* ---------- request ---------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Finds key in an application/x-www-form-urlencoded body and decodes its value into out. */
static int form_value(const char *body, size_t len, const char *key, jl_buf *out)
{
    size_t key_len = strlen(key), i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end - i > key_len && memcmp(body + i, key, key_len) == 0 && body[i + key_len] == '=') {
            out->len = 0;
            for (size_t j = i + key_len + 1; j < end; j++) {
                char c = body[j];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && j + 2 < end + 1 && hex_value(body[j + 1]) >= 0 &&
                           hex_value(body[j + 2]) >= 0) {
                    c = (char)(hex_value(body[j + 1]) * 16 + hex_value(body[j + 2]));
                    j += 2;
                }
                if (jl_buf_append(out, &c, 1) != JL_OK)
                    return JL_ENOMEM;
            }
            jl_buf_append(out, "", 0);
            return JL_OK;
        }
        i = end + 1;
    }
    return JL_ENOTFOUND;
}

static void handle_query(sv_context *context, const sv_request *request, sv_response *response)
{
    /* The q, db and epoch of a form-encoded POST body, for the request parser. */
    static const char *const form_keys[] = {"q", "db", "epoch"};
    jl_buf form_text[3];
    rq_param form[3];
    size_t form_count = 0;
    for (size_t k = 0; k < 3; k++)
        jl_buf_init(&form_text[k]);
    time_format tf = {0, NULL};
    iq_query query = {0};
    jl_error err;
    jl_error_clear(&err);
    rq_input in = sv_request_input(context, request);
    int from_body = strcmp(request->method, "POST") == 0 && request->body_len > 0;
    for (size_t k = 0; k < 3 && from_body; k++)
        if (form_value(request->body, request->body_len, form_keys[k], &form_text[k]) == JL_OK &&
            (form_text[k].data || k == 0))
            form[form_count++] =
                (rq_param){form_keys[k], form_text[k].data ? form_text[k].data : ""};
    rq_influx_query parsed;
    if (rq_influx_query_parse(&in, form, form_count, &parsed, &err) != JL_OK) {
        sv_respond_failure(response, err.code, &err);
        goto out;
    }
    const char *q = parsed.q;
    const char *db = parsed.db;
    tf.divisor_ns = parsed.epoch_divisor_ns;
    if (iq_parse(q, strlen(q), jl_now_ms(), &query, &err) != JL_OK) {
        char message[JL_ERROR_MESSAGE_MAX + 32];
        snprintf(message, sizeof message, "error parsing query: %s", err.message);
        sv_respond_error(response, JL_EINVAL, message);
        goto out;
    }
    jl_buf *body = &response->body;
    body->len = 0;
    jl_buf_append_str(body, "{\"results\":[");
    for (size_t i = 0; i < query.count; i++) {
        const iq_statement *st = &query.statements[i];
        size_t mark = body->len;
        jl_buf_printf(body, "%s{\"statement_id\":%zu", i ? "," : "", i);
        statement_out so = {body, 0};
        jl_error_clear(&err);
        int rc = JL_OK;
        if (st->kind == IQ_ERROR)
            rc = jl_error_set(&err, JL_EINVAL, "%s", st->error);
        else if (st->kind == IQ_SELECT)
            rc = run_select(context, st, &tf, &so, &err);
        else if (st->kind != IQ_NOOP)
            rc = run_show(context, st, db, &so, &err);
        if (rc != JL_OK) {
            /* Drop what the statement wrote before failing; keep only its error. */
            body->len = mark;
            jl_buf_printf(body, "%s{\"statement_id\":%zu,\"error\":", i ? "," : "", i);
            const char *message = err.message[0] ? err.message : jl_strerror(rc);
            fm_json_string(body, message, strlen(message));
        } else if (so.series_written) {
            jl_buf_append(body, "]", 1);
        }
        jl_buf_append(body, "}", 1);
    }
    if (jl_buf_append_str(body, "]}\n") != JL_OK) {
        sv_respond_error(response, JL_ENOMEM, "out of memory writing the answer");
        goto out;
    }
    sv_respond_ok(response, "application/json");
out:
    iq_query_destroy(&query);
    for (size_t k = 0; k < 3; k++)
        jl_buf_destroy(&form_text[k]);
}

void sv_influx_handle(sv_context *context, const sv_request *request, sv_response *response)
{
    if (strcmp(request->path, "/ping") == 0) {
        const char *verbose = sv_param_get(request, "verbose");
        if (verbose && strcmp(verbose, "true") == 0) {
            sv_respond_ok(response, "application/json");
            jl_buf_printf(&response->body, "{\"version\":\"%s\"}", SV_INFLUXDB_VERSION);
        } else {
            response->status = JL_STATUS_NO_CONTENT;
            response->content_type = NULL;
        }
        return;
    }
    handle_query(context, request, response);
}
