/* The events database (storage/events.c): put, rewrite, list with filters, ids across a reopen,
 * and the bytes of an entry as disk_format.h section 4 lays them out (written by hand here);
 * an event's notification key and Alertmanager document (server/events_http.c). */
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

int main(void)
{
    RUN(test_put_list_reopen);
    RUN(test_put_retried_after_map_full);
    RUN(test_entry_bytes);
    RUN(test_notification);
    return CHECK_DONE();
}
