/* The events database (storage/events.c): put, rewrite, list with filters, ids across a reopen,
 * and the bytes of an entry as disk_format.h section 4 lays them out (written by hand here);
 * an event's notification key and Alertmanager document, and GET /api/v1/events?state=withdrawn
 * under the row limit (server/events_http.c). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store_fixture.h"
#include "jialing/alarm.h"
#include "../../server/events_http.h"

/* One reading (ms, 1.0) of x{station=...}. */
static void write_one(st_store *store, const char *station, int64_t ms)
{
    const double one = 1.0;
    write_readings(store, "x", station, &ms, &one, 1);
}

static st_event make(const char *rule, uint64_t series, int64_t start, int resolved, int64_t end)
{
    st_event e;
    memset(&e, 0, sizeof e);
    snprintf(e.rule, sizeof e.rule, "%s", rule);
    e.series_id = series;
    e.start_ms = start;
    e.fired_ms = start + 10;
    e.resolved = resolved;
    e.end_ms = end;
    e.peak = 2.5;
    e.count = 7;
    return e;
}

static void test_put_list_reopen(void)
{
    char *dir = make_temp_dir_named("events");
    st_store *store = open_store(dir, 0, 0);
    write_one(store, "a", 1);
    write_one(store, "b", 1);
    jl_error err;
    st_event events[3] = {make("hi", 1, 100, 0, 0), make("hi", 2, 200, 1, 300),
                          make("lo", 1, 400, 1, 500)};
    CHECK_INT(st_event_put(store, events, 3, &err), JL_OK);
    CHECK_INT(events[0].id, 1);
    CHECK_INT(events[1].id, 2);
    CHECK_INT(events[2].id, 3);
    /* Unknown series, unknown id, empty name: refused, nothing stored. */
    st_event bad = make("hi", 9, 0, 0, 0);
    CHECK_INT(st_event_put(store, &bad, 1, &err), JL_EINVAL);
    bad = make("hi", 1, 0, 0, 0);
    bad.id = 17;
    CHECK_INT(st_event_put(store, &bad, 1, &err), JL_EINVAL);
    bad = make("", 1, 0, 0, 0);
    CHECK_INT(st_event_put(store, &bad, 1, &err), JL_EINVAL);
    /* Resolving the first rewrites it. */
    events[0].resolved = 1;
    events[0].end_ms = 150;
    events[0].notified = ST_EVENT_NOTIFIED_FIRING;
    CHECK_INT(st_event_put(store, &events[0], 1, &err), JL_OK);
    CHECK_INT(events[0].id, 1);
    st_store_close(store);

    store = open_store(dir, 0, 0);
    st_event *list = NULL;
    size_t count = 0;
    CHECK_INT(st_event_list(store, NULL, &list, &count, &err), JL_OK);
    CHECK_INT(count, 3);
    if (count == 3) {
        CHECK_INT(list[0].id, 1);
        CHECK_INT(list[0].resolved, 1);
        CHECK_INT(list[0].end_ms, 150);
        CHECK_INT(list[0].notified, ST_EVENT_NOTIFIED_FIRING);
        CHECK_INT(list[0].fired_ms, 110);
        CHECK(list[0].peak == 2.5);
        CHECK_INT(list[0].count, 7);
        CHECK_STR(list[0].series_key, "x{station=\"a\"}");
        CHECK_STR(list[1].series_key, "x{station=\"b\"}");
        CHECK_STR(list[2].rule, "lo");
    }
    st_event_list_free(list, count);
    /* Filters: rule, state, series, range. */
    st_event_filter f;
    memset(&f, 0, sizeof f);
    f.rule = "hi";
    CHECK_INT(st_event_list(store, &f, &list, &count, &err), JL_OK);
    CHECK_INT(count, 2);
    st_event_list_free(list, count);
    uint64_t only[] = {2};
    memset(&f, 0, sizeof f);
    f.series_ids = only;
    f.series_count = 1;
    CHECK_INT(st_event_list(store, &f, &list, &count, &err), JL_OK);
    CHECK_INT(count, 1);
    st_event_list_free(list, count);
    /* [160, 400): event 1 ended at 150 (out), 2 spans 200..300 (in), 3 starts at 400 (out). */
    memset(&f, 0, sizeof f);
    f.has_range = 1;
    f.from_ms = 160;
    f.to_ms = 400;
    CHECK_INT(st_event_list(store, &f, &list, &count, &err), JL_OK);
    CHECK_INT(count, 1);
    if (count == 1)
        CHECK_INT(list[0].id, 2);
    st_event_list_free(list, count);
    f.max_events = 0;
    memset(&f, 0, sizeof f);
    f.max_events = 2;
    CHECK_INT(st_event_list(store, &f, &list, &count, &err), JL_ELIMIT);
    /* The next id follows the last stored one after a reopen. */
    st_event more = make("hi", 2, 600, 0, 0);
    CHECK_INT(st_event_put(store, &more, 1, &err), JL_OK);
    CHECK_INT(more.id, 4);
    st_store_close(store);
    remove_dir(dir);
}

/* The value of event 2 above, byte by byte (disk_format.h section 4). */
/* A put whose transaction fills the map is retried in a grown map: every event is stored once,
 * with ids 1..N in order. */
static void test_put_retried_after_map_full(void)
{
    char *dir = make_temp_dir_named("events-full");
    st_store *store = open_store(dir, 0, 1u << 20); /* 1 MiB: the events below need more */
    write_one(store, "a", 1);
    enum { N = 20000 };
    st_event *events = calloc(N, sizeof *events);
    CHECK(events != NULL);
    for (size_t i = 0; events && i < N; i++)
        events[i] = make("a_rule_name_long_enough_to_take_room", 1, (int64_t)i * 60000, 1,
                         (int64_t)i * 60000 + 30000);
    jl_error err;
    CHECK_INT(st_event_put(store, events, N, &err), JL_OK);
    for (size_t i = 0; events && i < N; i++)
        if (events[i].id != i + 1) {
            CHECK_INT(events[i].id, i + 1);
            break;
        }
    st_event *list = NULL;
    size_t count = 0;
    CHECK_INT(st_event_list(store, NULL, &list, &count, &err), JL_OK);
    CHECK_INT(count, N);
    if (count == N)
        CHECK_INT(list[N - 1].start_ms, (int64_t)(N - 1) * 60000);
    st_event_list_free(list, count);
    free(events);
    st_store_close(store);
    remove_dir(dir);
}

static void test_entry_bytes(void)
{
    char *dir = make_temp_dir_named("events");
    st_store *store = open_store(dir, 0, 0);
    write_one(store, "a", 1);
    jl_error err;
    st_event e = make("ab", 1, 200, 1, 300);
    e.late = 1;
    CHECK_INT(st_event_put(store, &e, 1, &err), JL_OK);
    st_store_close(store);
    MDB_env *env;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 8);
    CHECK_INT(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    MDB_txn *txn;
    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    MDB_dbi dbi;
    CHECK_INT(mdb_dbi_open(txn, "events", 0, &dbi), 0);
    uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    MDB_val k = {8, key}, v;
    CHECK_INT(mdb_get(txn, dbi, &k, &v), 0);
    CHECK_INT(v.mv_size, 54 + 2 + 4);
    const uint8_t *p = v.mv_data;
    CHECK_INT(p[0], 1);    /* version */
    CHECK_INT(p[1], 0x03); /* resolved | late */
    CHECK_INT(p[2], 1);    /* series id 1, little endian */
    CHECK_INT(p[10], 200); /* start_ms */
    CHECK_INT(p[18], 210); /* fired_ms */
    CHECK_INT(p[26], 300 & 0xff);
    CHECK_INT(p[27], 300 >> 8);
    /* 2.5 = 0x4004000000000000 */
    CHECK_INT(p[41], 0x40);
    CHECK_INT(p[40], 0x04);
    CHECK_INT(p[42], 7); /* count */
    CHECK_INT(p[50], 2); /* name length */
    CHECK(memcmp(p + 54, "ab", 2) == 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    remove_dir(dir);
}

/* The notification of an event: its key (FNV-1a 64 of x{station="a"} is 2cd0fb4bdd6877f7,
 * computed apart) and its Alertmanager document. */
static void test_notification(void)
{
    al_rules rules;
    jl_error err;
    const char *text = "{\"rules\": [{\"name\": \"hi\", \"series\": \"x\", \"op\": \"gt\","
                       " \"value\": 1, \"labels\": {\"severity\": \"warning\", \"station\": \"b\"},"
                       " \"summary\": \"x high\"}]}";
    CHECK_INT(al_rules_parse(text, strlen(text), JL_FLAG_MASK_N, &rules, &err), JL_OK);
    st_event e = make("hi", 1, 3600000, 1, 7200000);
    e.id = 12;
    e.series_key = (char *)"x{station=\"a\"}";
    char key[SV_ALARM_KEY_BYTES];
    sv_alarm_key(&e, ST_EVENT_NOTIFIED_FIRING, key);
    CHECK_STR(key, "hi:2cd0fb4bdd6877f7:3600000:firing#12");
    sv_alarm_key(&e, ST_EVENT_NOTIFIED_RESOLVED, key);
    CHECK_STR(key, "hi:2cd0fb4bdd6877f7:3600000:resolved#12");
    jl_buf doc;
    jl_buf_init(&doc);
    CHECK_INT(sv_alarm_document(&e, &rules.rules[0], ST_EVENT_NOTIFIED_RESOLVED, &doc, &err),
              JL_OK);
    json_error_t jerr;
    json_t *root = json_loadb(doc.data, doc.len, 0, &jerr);
    CHECK(root != NULL);
    if (root) {
        CHECK_STR(json_string_value(json_object_get(root, "version")), "4");
        CHECK_STR(json_string_value(json_object_get(root, "status")), "resolved");
        json_t *alert = json_array_get(json_object_get(root, "alerts"), 0);
        json_t *labels = json_object_get(alert, "labels");
        CHECK_INT(json_object_size(labels), 4);
        CHECK_STR(json_string_value(json_object_get(labels, "alertname")), "hi");
        CHECK_STR(json_string_value(json_object_get(labels, "__name__")), "x");
        /* The series' tag wins over the rule's label of the same name. */
        CHECK_STR(json_string_value(json_object_get(labels, "station")), "a");
        CHECK_STR(json_string_value(json_object_get(labels, "severity")), "warning");
        json_t *notes = json_object_get(alert, "annotations");
        CHECK_STR(json_string_value(json_object_get(notes, "summary")), "x high");
        CHECK_STR(json_string_value(json_object_get(notes, "peak")), "2.5");
        CHECK_STR(json_string_value(json_object_get(notes, "count")), "7");
        CHECK_STR(json_string_value(json_object_get(notes, "event_id")), "12");
        CHECK_STR(json_string_value(json_object_get(alert, "startsAt")), "1970-01-01T01:00:00Z");
        CHECK_STR(json_string_value(json_object_get(alert, "endsAt")), "1970-01-01T02:00:00Z");
        CHECK_INT(strlen(json_string_value(json_object_get(alert, "fingerprint"))), 16);
        json_decref(root);
    }
    jl_buf_destroy(&doc);
    al_rules_free(&rules);
}

/* GET /api/v1/events through its handler with --max-rows 2; returns the status, and the ids of
 * the rows in ids[0..*count) (up to 8, in the order answered). */
static int get_events(st_store *store, const char *state, const char *series, uint64_t *ids,
                      size_t *count)
{
    sv_config config;
    sv_config_defaults(&config);
    config.limits.max_rows = 2;
    sv_context context;
    memset(&context, 0, sizeof context);
    context.store = store;
    context.config = &config;
    sv_request request;
    memset(&request, 0, sizeof request);
    request.method = "GET";
    request.path = SV_EVENTS_PATH;
    request.content_length = -1;
    if (state)
        request.params[request.param_count++] = (sv_param){"state", state};
    if (series)
        request.params[request.param_count++] = (sv_param){"series", series};
    sv_response response;
    sv_response_init(&response);
    sv_events_handle(&context, &request, &response);
    *count = 0;
    json_error_t jerr;
    json_t *root = json_loadb(response.body.data, response.body.len, 0, &jerr);
    json_t *all = json_object_get(root, "series");
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *rows = json_object_get(json_array_get(all, i), "values");
        for (size_t k = 0; k < json_array_size(rows) && *count < 8; k++) {
            json_t *row = json_array_get(rows, k);
            CHECK(json_is_true(json_array_get(row, 7))); /* withdrawn */
            ids[(*count)++] = (uint64_t)json_integer_value(json_array_get(row, 1));
        }
    }
    json_decref(root);
    int status = response.status;
    sv_response_destroy(&response);
    return status;
}

/* state=withdrawn keeps the withdrawn events before the row limit applies: 5 events, 2 of them
 * withdrawn, fit a limit of 2 (before, the 5 listed went over it and the answer was 422). */
static void test_withdrawn_under_limit(void)
{
    char *dir = make_temp_dir_named("events_withdrawn");
    st_store *store = open_store(dir, 0, 0);
    write_one(store, "a", 1); /* series 1 */
    write_one(store, "b", 1); /* series 2 */
    jl_error err;
    /* Ids 1..3 on a (starts 100, 200, 300), 4 and 5 on b (1000, 2000); fired = start + 10. */
    st_event events[5] = {make("hi", 1, 100, 1, 150), make("hi", 1, 200, 1, 250),
                          make("hi", 1, 300, 1, 350), make("hi", 2, 1000, 1, 1050),
                          make("hi", 2, 2000, 1, 2050)};
    CHECK_INT(st_event_put(store, events, 5, &err), JL_OK);
    /* Invalid over [900, 2100) on both series: it covers [start, fired] of 4 and 5 only. */
    uint64_t both[] = {1, 2};
    st_review_mark mark;
    memset(&mark, 0, sizeof mark);
    mark.from_ms = 900;
    mark.to_ms = 2100;
    mark.series_ids = both;
    mark.series_count = 2;
    uint64_t mark_id = 0;
    CHECK_INT(st_review_add(store, &mark, &mark_id, &err), JL_OK);

    uint64_t ids[8];
    size_t count = 0;
    CHECK_INT(get_events(store, NULL, NULL, ids, &count), 422); /* 5 events, limit 2 */
    CHECK_INT(get_events(store, "withdrawn", NULL, ids, &count), 200);
    CHECK_INT(count, 2);
    if (count == 2) {
        CHECK_INT(ids[0], 4);
        CHECK_INT(ids[1], 5);
    }

    /* Invalid over [250, 400) on a: event 3 (300..310) is withdrawn too, 3 in all: over. */
    uint64_t a_only[] = {1};
    mark.from_ms = 250;
    mark.to_ms = 400;
    mark.series_ids = a_only;
    mark.series_count = 1;
    CHECK_INT(st_review_add(store, &mark, &mark_id, &err), JL_OK);
    CHECK_INT(get_events(store, "withdrawn", NULL, ids, &count), 422);
    /* Of a alone, 1 of its 3 events. */
    CHECK_INT(get_events(store, "withdrawn", "x{station=\"a\"}", ids, &count), 200);
    CHECK_INT(count, 1);
    if (count == 1)
        CHECK_INT(ids[0], 3);
    /* A series without events answers no rows. */
    CHECK_INT(get_events(store, "withdrawn", "x{station=\"zz\"}", ids, &count), 200);
    CHECK_INT(count, 0);
    st_store_close(store);
    remove_dir(dir);
}

int main(void)
{
    RUN(test_put_list_reopen);
    RUN(test_put_retried_after_map_full);
    RUN(test_entry_bytes);
    RUN(test_notification);
    RUN(test_withdrawn_under_limit);
    return CHECK_DONE();
}
