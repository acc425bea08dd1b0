/* Alarm events over HTTP, the alarm lines of /metrics, and the notifier glue (events_http.h).
 *
 * GET /api/v1/events?from&to&state&rule&series&format: the stored events in the usual result
 * shape (format.h), one series per series the events are about, one row per event in the order
 * made, columns
 *   rule (text), id, start, fired, end (null while firing), resolved, late, withdrawn, notified,
 *   peak, count
 * (times epoch ms). from/to (epoch ms or RFC 3339) keep the events whose [start, end) meets
 * [from, to) (a firing one never ended); absent: every event. state is firing, resolved or
 * withdrawn; rule an exact rule name; series a selector. format json (default) or csv.
 *
 * Withdrawn: review marks that declare invalid every instant from an event's start to the
 * reading that fired it (the readings that raised it) withdraw it; decided when listed, from
 * the marks in force then, so a mark made or withdrawn later changes the answer without
 * re-evaluating. The row limit (--max-rows, JL_ELIMIT beyond it) counts the events answered:
 * with state=withdrawn, the withdrawn ones, found among the events of the series an invalid mark
 * in force names before the limit applies. */
#include "events_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/format.h"
#include "jialing/serieskey.h"

static const char *const event_params[] = {"from", "to", "state", "rule", "series", "format", NULL};

static const char *const event_columns[] = {"rule",     "id",       "start", "fired",
                                            "end",      "resolved", "late",  "withdrawn",
                                            "notified", "peak",     "count"};

typedef struct event_query {
    st_event_filter filter;
    int withdrawn_only; /* state=withdrawn */
    int has_selector;
    qp_selector selector;
    uint64_t *ids;
    size_t id_count;
    int format;
} event_query;

static int parse_time_param(const sv_request *request, const char *key, int64_t *ms, jl_error *err)
{
    const char *text = sv_param_get(request, key);
    if (text == NULL)
        return 0;
    jl_error detail;
    jl_error_clear(&detail);
    if (qp_parse_time(text, ms, &detail) != JL_OK) {
        jl_error_set(err, JL_EINVAL, "parameter %s: %s", key, detail.message);
        return -1;
    }
    return 1;
}

static int parse_query(sv_context *context, const sv_request *request, event_query *q,
                       jl_error *err)
{
    memset(q, 0, sizeof *q);
    rq_input in = sv_request_input(context, request);
    int rc = rq_check_known(request->params, request->param_count, event_params, err);
    if (rc != JL_OK)
        return rc;
    q->format = in.format;
    const char *format_text = sv_param_get(request, "format");
    jl_error detail;
    jl_error_clear(&detail);
    if (format_text && in.parse_format(format_text, &q->format, &detail) != JL_OK)
        return jl_error_set(err, JL_EINVAL, "parameter format: %s", detail.message);
    if (q->format != FM_JSON && q->format != FM_CSV)
        return jl_error_set(err, JL_EINVAL, "parameter format: events are given as json or csv");
    int64_t from = JL_MIN_MS, to = JL_MAX_MS;
    int has_from = parse_time_param(request, "from", &from, err);
    int has_to = parse_time_param(request, "to", &to, err);
    if (has_from < 0 || has_to < 0)
        return JL_EINVAL;
    if (from >= to)
        return jl_error_set(err, JL_EINVAL, "parameter from: must be before to");
    q->filter.has_range = has_from || has_to;
    q->filter.from_ms = from;
    q->filter.to_ms = to;
    const char *state = sv_param_get(request, "state");
    if (state) {
        if (strcmp(state, "firing") == 0)
            q->filter.state = 1;
        else if (strcmp(state, "resolved") == 0)
            q->filter.state = 2;
        else if (strcmp(state, "withdrawn") == 0)
            q->withdrawn_only = 1;
        else
            return jl_error_set(err, JL_EINVAL,
                                "parameter state: expected firing, resolved or withdrawn");
    }
    q->filter.rule = sv_param_get(request, "rule");
    q->filter.max_events =
        in.limits.max_rows ? (size_t)in.limits.max_rows : (size_t)QX_DEFAULT_MAX_ROWS;
    const char *series = sv_param_get(request, "series");
    if (series) {
        if (qp_parse_selector(series, &q->selector, &detail) != JL_OK)
            return jl_error_set(err, JL_EINVAL, "parameter series: %s", detail.message);
        q->has_selector = 1;
        st_matcher matchers[QP_MAX_MATCHERS + 1];
        size_t m = qx_selector_matchers(q->selector.metric, q->selector.matchers,
                                        q->selector.matcher_count, matchers);
        rc = st_select(context->store, matchers, m, 0, &q->ids, &q->id_count, err);
        if (rc != JL_OK)
            return rc;
        q->filter.series_ids = q->ids;
        q->filter.series_count = q->id_count;
        if (q->id_count == 0) {
            static const uint64_t none = 0; /* no series: no event passes */
            q->filter.series_ids = &none;
            q->filter.series_count = 1;
        }
    }
    return JL_OK;
}

static void query_destroy(event_query *q)
{
    if (q->has_selector)
        qp_selector_destroy(&q->selector);
    free(q->ids);
}

static int by_series_then_id(const void *a, const void *b)
{
    const st_event *x = a, *y = b;
    if (x->series_id != y->series_id)
        return x->series_id < y->series_id ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Whether the spans (sorted, not overlapping) declare invalid all of [from, to]. */
static int invalid_over(const st_review_span *spans, size_t n, int64_t from, int64_t to)
{
    int64_t at = from;
    for (size_t i = 0; i < n; i++) {
        if (spans[i].to_ms <= at)
            continue;
        if (spans[i].from_ms > at || spans[i].valid)
            return 0;
        at = spans[i].to_ms;
        if (at > to)
            return 1;
    }
    return 0;
}

/* Marks events[i] withdrawn (withdrawn[i] = 1) from the review spans in force. */
static int find_withdrawn(st_store *store, const st_event *events, size_t count,
                          unsigned char *withdrawn, jl_error *err)
{
    uint64_t *ids = malloc((count ? count : 1) * sizeof *ids);
    if (ids == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory listing events");
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        if (n == 0 || ids[n - 1] != events[i].series_id)
            ids[n++] = events[i].series_id;
    st_snapshot *snap = NULL;
    int rc = st_snapshot_open(store, ids, n, &snap, err);
    free(ids);
    if (rc != JL_OK)
        return rc;
    size_t series_count = st_snapshot_series_count(snap);
    size_t at = 0;
    for (size_t s = 0; s < series_count && rc == JL_OK; s++) {
        st_series_info info;
        st_snapshot_series_info(snap, s, &info);
        const st_review_span *spans = NULL;
        size_t span_count = 0;
        if (st_snapshot_review_spans(snap, s, &spans, &span_count) != JL_OK) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory reading review marks");
            break;
        }
        while (at < count && events[at].series_id < info.id)
            at++;
        for (; at < count && events[at].series_id == info.id; at++) {
            int64_t to = events[at].fired_ms > events[at].start_ms ? events[at].fired_ms
                                                                   : events[at].start_ms;
            withdrawn[at] = span_count && invalid_over(spans, span_count, events[at].start_ms, to);
        }
    }
    st_snapshot_close(snap);
    return rc;
}

/* A list of events built here (state=withdrawn): events and their series_key strings owned. */
typedef struct event_set {
    st_event *events;
    size_t count, capacity;
} event_set;

static void event_set_free(event_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        free(set->events[i].series_key);
    free(set->events);
    memset(set, 0, sizeof *set);
}

static int by_id(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The series an event of which can be withdrawn: those an invalid review mark in force names
 * (a withdrawing span is invalid, and only a mark in force makes spans), and among them only
 * those of filter's series_ids when it has some; ascending and unique, into *ids (malloc'd). */
static int withdrawable_series(st_store *store, const st_event_filter *filter, uint64_t **ids,
                               size_t *count, jl_error *err)
{
    *ids = NULL;
    *count = 0;
    st_review_list *marks = NULL;
    int rc = st_review_list_marks(store, NULL, &marks, err);
    if (rc != JL_OK)
        return rc;
    size_t n = 0, capacity = 0;
    uint64_t *all = NULL;
    for (size_t i = 0; i < st_review_list_count(marks) && rc == JL_OK; i++) {
        const st_review_mark *m = st_review_list_get(marks, i);
        if (m->withdrawn || m->valid)
            continue;
        for (size_t k = 0; k < m->series_count; k++) {
            if (filter->series_ids &&
                bsearch(&m->series_ids[k], filter->series_ids, filter->series_count,
                        sizeof *filter->series_ids, by_id) == NULL)
                continue;
            uint64_t *grown = jl_array_grow(all, &capacity, n + 1, sizeof *all, 64);
            if (grown == NULL) {
                rc = jl_error_set(err, JL_ENOMEM, "out of memory listing events");
                break;
            }
            all = grown;
            all[n++] = m->series_ids[k];
        }
    }
    st_review_list_free(marks);
    if (rc != JL_OK) {
        free(all);
        return rc;
    }
    if (n)
        qsort(all, n, sizeof *all, by_id);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++)
        if (unique == 0 || all[unique - 1] != all[i])
            all[unique++] = all[i];
    *ids = all;
    *count = unique;
    return JL_OK;
}

/* Adds to *out the withdrawn events of the series ids[0..n) (ascending) that filter passes
 * (its own series_ids replaced), so that the row limit (filter->max_events) bounds the withdrawn
 * events answered, not the events listed to find them: a listing over the limit is split into
 * halves of the series, down to one series, listed whole. JL_OK, JL_ELIMIT (more withdrawn
 * events than the limit), JL_ENOMEM, or the errors of st_event_list() and find_withdrawn(). */
static int list_withdrawn(st_store *store, const st_event_filter *filter, const uint64_t *ids,
                          size_t n, event_set *out, jl_error *err)
{
    st_event_filter part = *filter;
    part.series_ids = ids;
    part.series_count = n;
    st_event *events = NULL;
    size_t count = 0;
    int rc = st_event_list(store, &part, &events, &count, err);
    if (rc == JL_ELIMIT && n > 1) {
        jl_error_clear(err);
        rc = list_withdrawn(store, filter, ids, n / 2, out, err);
        return rc == JL_OK ? list_withdrawn(store, filter, ids + n / 2, n - n / 2, out, err) : rc;
    }
    if (rc == JL_ELIMIT) {
        jl_error_clear(err);
        part.max_events = 0; /* one series: its events are listed whole to be filtered */
        rc = st_event_list(store, &part, &events, &count, err);
    }
    if (rc != JL_OK)
        return rc;
    if (count)
        qsort(events, count, sizeof *events, by_series_then_id);
    unsigned char *withdrawn = calloc(count ? count : 1, 1);
    rc = withdrawn ? find_withdrawn(store, events, count, withdrawn, err)
                   : jl_error_set(err, JL_ENOMEM, "out of memory listing events");
    for (size_t i = 0; i < count && rc == JL_OK; i++) {
        if (!withdrawn[i])
            continue;
        if (filter->max_events && out->count >= filter->max_events) {
            rc = jl_error_set(err, JL_ELIMIT, "more than %zu events match", filter->max_events);
            break;
        }
        st_event *grown =
            jl_array_grow(out->events, &out->capacity, out->count + 1, sizeof *grown, 64);
        if (grown == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory listing events");
            break;
        }
        out->events = grown;
        out->events[out->count] = events[i];
        events[i].series_key = NULL; /* moved: the set frees it */
        out->count++;
    }
    free(withdrawn);
    st_event_list_free(events, count);
    return rc;
}

/* What emit_events writes: the sorted events and which of them are withdrawn. */
typedef struct event_answer {
    const event_query *q;
    const st_event *events;
    size_t count;
    const unsigned char *withdrawn;
} event_answer;

/* sv_write_result's emit: a series per series the events are about, a row per event. The rule
 * is a text cell, which the sink's rows cannot carry: the row goes through the writer the sink
 * belongs to (fm_writer_sink's context is the writer, jialing/format.h). */
static int emit_events(const void *result, const qx_sink *sink)
{
    const event_answer *a = result;
    const event_query *q = a->q;
    const st_event *events = a->events;
    const unsigned char *withdrawn = a->withdrawn;
    size_t count = a->count;
    fm_writer *w = sink->context;
    int rc = JL_OK;
    size_t i = 0;
    while (rc == JL_OK && i < count) {
        size_t end = i;
        while (end < count && events[end].series_id == events[i].series_id)
            end++;
        int any = 0;
        for (size_t k = i; k < end; k++)
            any |= !q->withdrawn_only || withdrawn[k];
        if (!any || events[i].series_key == NULL) {
            i = end;
            continue;
        }
        sk_parsed parsed;
        rc = sk_parse(events[i].series_key, strlen(events[i].series_key), &parsed, NULL);
        if (rc != JL_OK)
            break;
        rc = sink->series_begin(sink->context, parsed.metric, parsed.tags, parsed.tag_count,
                                event_columns, sizeof event_columns / sizeof event_columns[0]);
        for (size_t k = i; k < end && rc == JL_OK; k++) {
            const st_event *e = &events[k];
            if (q->withdrawn_only && !withdrawn[k])
                continue;
            qx_cell cells[10] = {
                {QX_CELL_INT, {.i = (int64_t)e->id}},
                {QX_CELL_INT, {.i = e->start_ms}},
                {QX_CELL_INT, {.i = e->fired_ms}},
                {e->resolved ? QX_CELL_INT : QX_CELL_NULL, {.i = e->end_ms}},
                {QX_CELL_BOOL, {.i = e->resolved}},
                {QX_CELL_BOOL, {.i = e->late}},
                {QX_CELL_BOOL, {.i = withdrawn[k]}},
                {QX_CELL_BOOL,
                 {.i = (e->notified & ST_EVENT_NOTIFIED_FIRING) &&
                       (!e->resolved || (e->notified & ST_EVENT_NOTIFIED_RESOLVED))}},
                {QX_CELL_DOUBLE, {.d = e->peak}},
                {QX_CELL_INT, {.i = (int64_t)e->count}},
            };
            rc = fm_writer_text_row(w, (sk_text){e->rule, strlen(e->rule)}, cells, 10);
        }
        if (rc == JL_OK)
            rc = sink->series_end(sink->context);
        sk_parsed_destroy(&parsed);
        i = end;
    }
    return rc;
}

void sv_events_handle(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    event_query q;
    int rc = parse_query(context, request, &q, &err);
    st_event *events = NULL;
    size_t count = 0;
    event_set set = {0};
    unsigned char *withdrawn = NULL;
    if (rc == JL_OK && q.withdrawn_only) {
        /* Filtered before the row limit: the limit counts the withdrawn events answered. */
        uint64_t *ids = NULL;
        size_t id_count = 0;
        rc = withdrawable_series(context->store, &q.filter, &ids, &id_count, &err);
        if (rc == JL_OK && id_count)
            rc = list_withdrawn(context->store, &q.filter, ids, id_count, &set, &err);
        free(ids);
        if (rc == JL_OK && set.count)
            qsort(set.events, set.count, sizeof *set.events, by_series_then_id);
        if (rc == JL_OK && (withdrawn = malloc(set.count ? set.count : 1)) == NULL)
            rc = jl_error_set(&err, JL_ENOMEM, "out of memory listing events");
        if (rc == JL_OK)
            memset(withdrawn, 1, set.count);
        events = set.events;
        count = set.count;
    } else if (rc == JL_OK) {
        rc = st_event_list(context->store, &q.filter, &events, &count, &err);
        if (rc == JL_OK) {
            if (count)
                qsort(events, count, sizeof *events, by_series_then_id);
            withdrawn = calloc(count ? count : 1, 1);
            rc = withdrawn ? find_withdrawn(context->store, events, count, withdrawn, &err)
                           : jl_error_set(&err, JL_ENOMEM, "out of memory listing events");
        }
    }
    if (rc == JL_OK) {
        event_answer answer = {&q, events, count, withdrawn};
        rc = sv_write_result(response, q.format, emit_events, &answer);
        if (rc != JL_OK)
            jl_error_set(&err, rc, "cannot write the events");
    }
    if (rc == JL_OK)
        sv_respond_ok(response, fm_content_type((fm_format)q.format));
    else
        sv_respond_failure(response, rc, &err);
    free(withdrawn);
    if (q.withdrawn_only)
        event_set_free(&set);
    else
        st_event_list_free(events, count);
    query_destroy(&q);
}

int sv_events_metrics(const sv_context *context, jl_buf *out)
{
    const sv_config *config = context->config;
    int rc = JL_OK;
    if (config->alarms) {
        al_stats s;
        al_evaluator_stats(config->alarms, &s);
        rc = jl_buf_printf(
            out,
            "# HELP jialing_alarm_events_total Alarm events, by what happened to them.\n"
            "# TYPE jialing_alarm_events_total counter\n"
            "jialing_alarm_events_total{state=\"fired\"} %llu\n"
            "jialing_alarm_events_total{state=\"resolved\"} %llu\n"
            "jialing_alarm_events_total{state=\"late\"} %llu\n"
            "# HELP jialing_alarm_readings_total Readings the alarm rules evaluated.\n"
            "# TYPE jialing_alarm_readings_total counter\n"
            "jialing_alarm_readings_total %llu\n"
            "# HELP jialing_alarm_evaluation_seconds_total Time spent evaluating rules.\n"
            "# TYPE jialing_alarm_evaluation_seconds_total counter\n"
            "jialing_alarm_evaluation_seconds_total %.6f\n"
            "# HELP jialing_alarm_errors_total Events that could not be stored, and commits "
            "recomputed from the store instead of queued.\n"
            "# TYPE jialing_alarm_errors_total counter\n"
            "jialing_alarm_errors_total{kind=\"store\"} %llu\n"
            "jialing_alarm_errors_total{kind=\"queue\"} %llu\n"
            "# HELP jialing_alarm_replays_total Rule and series pairs replayed from the store "
            "(late readings, start, SIGHUP), and the readings they read back.\n"
            "# TYPE jialing_alarm_replays_total counter\n"
            "jialing_alarm_replays_total %llu\n"
            "jialing_alarm_replayed_readings_total %llu\n"
            "# HELP jialing_alarm_ready 1 once the evaluator has recomputed every rule and "
            "series from the store after the start.\n"
            "# TYPE jialing_alarm_ready gauge\n"
            "jialing_alarm_ready %llu\n",
            (unsigned long long)s.fired, (unsigned long long)s.resolved, (unsigned long long)s.late,
            (unsigned long long)s.readings, (double)s.eval_ns / 1e9, (unsigned long long)s.errors,
            (unsigned long long)s.queue_drops, (unsigned long long)s.replays,
            (unsigned long long)s.replayed, (unsigned long long)s.ready);
    }
    if (rc == JL_OK && config->notifier) {
        wh_stats w;
        wh_notifier_stats(config->notifier, &w);
        rc = jl_buf_printf(out,
                           "# HELP jialing_notifications_total Webhook POSTs, by outcome (each "
                           "failure is retried).\n"
                           "# TYPE jialing_notifications_total counter\n"
                           "jialing_notifications_total{outcome=\"sent\"} %llu\n"
                           "jialing_notifications_total{outcome=\"failed\"} %llu\n"
                           "# HELP jialing_notifications_delivered_total Notifications that "
                           "reached every receiver.\n"
                           "# TYPE jialing_notifications_delivered_total counter\n"
                           "jialing_notifications_delivered_total %llu\n"
                           "# HELP jialing_notifications_pending Notifications not yet "
                           "delivered everywhere.\n"
                           "# TYPE jialing_notifications_pending gauge\n"
                           "jialing_notifications_pending %llu\n",
                           (unsigned long long)w.sent, (unsigned long long)w.failed,
                           (unsigned long long)w.delivered, (unsigned long long)w.pending);
    }
    return rc;
}

/* ---------- notifications ---------- */

static uint64_t series_hash(const char *key)
{
    return wh_fnv1a(WH_FNV_OFFSET, key, strlen(key));
}

void sv_alarm_key(const st_event *event, unsigned state, char out[SV_ALARM_KEY_BYTES])
{
    snprintf(out, SV_ALARM_KEY_BYTES, "%s:%016" PRIx64 ":%" PRId64 ":%s#%" PRIu64, event->rule,
             series_hash(event->series_key ? event->series_key : ""), event->start_ms,
             state == ST_EVENT_NOTIFIED_RESOLVED ? "resolved" : "firing", event->id);
}

static int has_name(const wh_pair *pairs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pairs[i].name, name) == 0)
            return 1;
    return 0;
}

int sv_alarm_document(const st_event *event, const al_rule *rule, unsigned state, jl_buf *out,
                      jl_error *err)
{
    sk_parsed parsed;
    memset(&parsed, 0, sizeof parsed);
    const char *key = event->series_key ? event->series_key : "";
    int rc = sk_parse(key, strlen(key), &parsed, err);
    if (rc != JL_OK)
        return rc;
    /* Labels: alertname, the series (metric and tags), the rule's. Texts are NUL-terminated
     * copies in one buffer, since the parsed slices are not. */
    wh_pair labels[2 + SK_MAX_TAGS + AL_MAX_LABELS];
    size_t n = 0;
    char *texts = malloc(2 * (strlen(key) + SK_MAX_TAGS + 4));
    if (texts == NULL) {
        sk_parsed_destroy(&parsed);
        return jl_error_set(err, JL_ENOMEM, "out of memory building a notification");
    }
    size_t at = 0;
    labels[n++] = (wh_pair){"alertname", rule->name};
    memcpy(texts + at, parsed.metric.data, parsed.metric.len);
    texts[at + parsed.metric.len] = '\0';
    labels[n++] = (wh_pair){"__name__", texts + at};
    at += parsed.metric.len + 1;
    for (size_t t = 0; t < parsed.tag_count; t++) {
        char *name = texts + at;
        memcpy(name, parsed.tags[t].key.data, parsed.tags[t].key.len);
        name[parsed.tags[t].key.len] = '\0';
        at += parsed.tags[t].key.len + 1;
        char *value = texts + at;
        memcpy(value, parsed.tags[t].value.data, parsed.tags[t].value.len);
        value[parsed.tags[t].value.len] = '\0';
        at += parsed.tags[t].value.len + 1;
        if (!has_name(labels, n, name))
            labels[n++] = (wh_pair){name, value};
    }
    for (size_t l = 0; l < rule->label_count; l++)
        if (!has_name(labels, n, rule->label_keys[l]))
            labels[n++] = (wh_pair){rule->label_keys[l], rule->label_values[l]};
    char peak[32], count[32], id[32];
    if (fm_format_double(event->peak, peak) == 0)
        snprintf(peak, sizeof peak, "null");
    snprintf(count, sizeof count, "%" PRIu64, event->count);
    snprintf(id, sizeof id, "%" PRIu64, event->id);
    wh_pair annotations[7];
    size_t a = 0;
    annotations[a++] = (wh_pair){"count", count};
    annotations[a++] = (wh_pair){"event_id", id};
    annotations[a++] = (wh_pair){"late", event->late ? "true" : "false"};
    annotations[a++] = (wh_pair){"peak", peak};
    annotations[a++] = (wh_pair){"rule_kind", al_kind_name(rule->kind)};
    annotations[a++] = (wh_pair){"series", key};
    if (rule->summary)
        annotations[a++] = (wh_pair){"summary", rule->summary};
    int resolved = state == ST_EVENT_NOTIFIED_RESOLVED;
    wh_alert alert = {
        resolved ? "resolved" : "firing", labels, n,   annotations, a, event->start_ms,
        resolved ? event->end_ms : 0,     NULL,   NULL};
    rc = wh_alertmanager_json(&alert, 1, "jialing", NULL, out, err);
    free(texts);
    sk_parsed_destroy(&parsed);
    return rc;
}

void sv_alarm_notify(void *ctx, const st_event *event, const al_rule *rule, unsigned state)
{
    sv_config *config = ctx;
    if (config->notifier == NULL)
        return;
    char key[SV_ALARM_KEY_BYTES];
    sv_alarm_key(event, state, key);
    jl_buf body;
    jl_buf_init(&body);
    jl_error err;
    jl_error_clear(&err);
    /* A document refused (queue full) is offered again at the next start: it stays
     * un-notified in the store. */
    if (sv_alarm_document(event, rule, state, &body, &err) == JL_OK)
        wh_notifier_send(config->notifier, key, body.data, body.len, &err);
    jl_buf_destroy(&body);
}

void sv_alarm_delivered(void *ctx, const char *key)
{
    sv_config *config = ctx;
    const char *hash = strrchr(key, '#');
    /* Read atomically: main clears it while stopping (server/main.c). */
    al_evaluator *alarms = __atomic_load_n(&config->alarms, __ATOMIC_SEQ_CST);
    if (alarms == NULL || hash == NULL)
        return;
    uint64_t id = strtoull(hash + 1, NULL, 10);
    size_t len = (size_t)(hash - key);
    unsigned bits = len >= 9 && strncmp(hash - 9, ":resolved", 9) == 0 ? ST_EVENT_NOTIFIED_RESOLVED
                                                                       : ST_EVENT_NOTIFIED_FIRING;
    al_evaluator_notified(alarms, id, bits);
}
