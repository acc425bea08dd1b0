/* The alarm evaluator (query/alarm.c): each kind's machine fed readings by hand, its events'
 * starts, ends, peaks and counts worked out by hand in the comments; then the evaluator over a
 * real store: events as data arrives, late readings opening a past event, readings committed
 * while no evaluator ran found at start, and a restart that neither loses nor repeats one. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"
#include "jialing/alarm.h"
#include "../../query/query_internal.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL

static al_rule rule_of(const char *text)
{
    al_rules rules;
    jl_error err;
    if (al_rules_parse(text, strlen(text), JL_FLAG_MASK_N, &rules, &err) != JL_OK ||
        rules.count != 1) {
        fprintf(stderr, "rule: %s\n", err.message);
        abort();
    }
    al_rule r = rules.rules[0];
    free(rules.rules);
    return r;
}

static void free_rule(al_rule *r)
{
    al_rules one = {r, 1};
    al_rules copy = one;
    copy.rules = malloc(sizeof *r);
    *copy.rules = *r;
    al_rules_free(&copy);
}

/* Feeds (ms, value) pairs; returns the change of the last one, event in *e. */
static al_change feed(const al_rule *r, al_state *s, int64_t ms, double v, st_event *e)
{
    memset(e, 0, sizeof *e);
    return al_state_feed(r, s, ms, v, e);
}

static void test_threshold_for(void)
{
    al_rule r = rule_of("{\"rules\": [{\"name\": \"hi\", \"series\": \"x\", \"op\": \"gt\","
                        " \"value\": 1.5, \"for\": \"2h\"}]}");
    al_state s;
    al_state_init(&s);
    st_event e;
    /* 1H..3H match; at 3H the run has lasted 3H - 1H = 2H: fired. 4H ends it. */
    CHECK_INT(feed(&r, &s, 0, 1.0, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 1 * HOUR, 2.0, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 2 * HOUR, 3.0, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 3 * HOUR, 2.5, &e), AL_FIRED);
    CHECK_INT(e.start_ms, 1 * HOUR);
    CHECK_INT(e.fired_ms, 3 * HOUR);
    CHECK_INT(e.count, 3);
    CHECK(e.peak == 3.0);
    CHECK_STR(e.rule, "hi");
    CHECK_INT(feed(&r, &s, 4 * HOUR, 1.0, &e), AL_RESOLVED);
    CHECK_INT(e.start_ms, 1 * HOUR);
    CHECK_INT(e.end_ms, 4 * HOUR);
    CHECK_INT(e.resolved, 1);
    CHECK_INT(e.count, 3);
    CHECK(e.peak == 3.0);
    /* 5H..6H: the episode lasts 1H (< 2H): nothing. */
    CHECK_INT(feed(&r, &s, 5 * HOUR, 2.0, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 6 * HOUR, 1.0, &e), AL_NONE);
    /* 7H, 8H match, 9H (1.5, not > 1.5) ends it: the episode 7H..9H lasts 2H, as the episode
     * rule counts it (to the reading that ended it): fired and resolved at once. */
    CHECK_INT(feed(&r, &s, 7 * HOUR, 2.0, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 8 * HOUR, 2.0, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 9 * HOUR, 1.5, &e), AL_FIRED_RESOLVED);
    CHECK_INT(e.start_ms, 7 * HOUR);
    CHECK_INT(e.fired_ms, 9 * HOUR);
    CHECK_INT(e.end_ms, 9 * HOUR);
    CHECK_INT(e.count, 2);
    CHECK(e.peak == 2.0);
    free_rule(&r);

    /* Without for, a lt rule fires at its first matching reading; peak is the minimum. */
    r = rule_of("{\"rules\": [{\"name\": \"lo\", \"series\": \"x\", \"op\": \"lt\","
                " \"value\": 5}]}");
    al_state_init(&s);
    CHECK_INT(feed(&r, &s, 0, 4.0, &e), AL_FIRED);
    CHECK_INT(e.start_ms, 0);
    CHECK_INT(feed(&r, &s, MIN, 3.0, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 2 * MIN, 5.0, &e), AL_RESOLVED);
    CHECK_INT(e.end_ms, 2 * MIN);
    CHECK(e.peak == 3.0);
    CHECK_INT(e.count, 2);
    free_rule(&r);
}

static void test_flatline(void)
{
    al_rule r = rule_of("{\"rules\": [{\"name\": \"stuck\", \"series\": \"x\", \"flatline\": 3}]}");
    al_state s;
    al_state_init(&s);
    st_event e;
    /* 1, 2, 2, 2, 2, 3 at minutes 0..5: the run of 2 from 1m reaches 3 readings at 3m. */
    CHECK_INT(feed(&r, &s, 0, 1, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 1 * MIN, 2, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 2 * MIN, 2, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 3 * MIN, 2, &e), AL_FIRED);
    CHECK_INT(e.start_ms, 1 * MIN);
    CHECK_INT(e.fired_ms, 3 * MIN);
    CHECK_INT(e.count, 3);
    CHECK_INT(feed(&r, &s, 4 * MIN, 2, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 5 * MIN, 3, &e), AL_RESOLVED);
    CHECK_INT(e.start_ms, 1 * MIN);
    CHECK_INT(e.end_ms, 5 * MIN);
    CHECK_INT(e.count, 4);
    CHECK(e.peak == 2);
    free_rule(&r);
}

static void test_rate(void)
{
    al_rule r = rule_of("{\"rules\": [{\"name\": \"spike\", \"series\": \"x\", \"rate\": 1}]}");
    al_state s;
    al_state_init(&s);
    st_event e;
    /* Changes per minute: 0.5, 1.5, 1.5 (3 over 2 minutes), 0.5. */
    CHECK_INT(feed(&r, &s, 0, 10, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 1 * MIN, 10.5, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 2 * MIN, 12, &e), AL_FIRED);
    CHECK_INT(e.start_ms, 2 * MIN);
    CHECK(e.peak == 1.5);
    CHECK_INT(feed(&r, &s, 4 * MIN, 15, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 5 * MIN, 15.5, &e), AL_RESOLVED);
    CHECK_INT(e.start_ms, 2 * MIN);
    CHECK_INT(e.end_ms, 5 * MIN);
    CHECK_INT(e.count, 2);
    CHECK(e.peak == 1.5);
    free_rule(&r);
}

static void test_absent(void)
{
    al_rule r =
        rule_of("{\"rules\": [{\"name\": \"off\", \"series\": \"x\", \"absent\": \"15m\"}]}");
    al_state s;
    al_state_init(&s);
    st_event e;
    /* No reading yet: never absent. */
    CHECK_INT(al_state_tick(&r, &s, 100 * MIN, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 0, 1, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 10 * MIN, 1, &e), AL_NONE);
    /* 10m -> 30m: 20 minutes of silence, found when 30m arrives. */
    CHECK_INT(feed(&r, &s, 30 * MIN, 1, &e), AL_FIRED_RESOLVED);
    CHECK_INT(e.start_ms, 10 * MIN);
    CHECK_INT(e.fired_ms, 25 * MIN);
    CHECK_INT(e.end_ms, 30 * MIN);
    /* The timer: 10 minutes after 30m nothing, 16 minutes after it fires. */
    CHECK_INT(al_state_tick(&r, &s, 40 * MIN, &e), AL_NONE);
    CHECK_INT(al_state_tick(&r, &s, 45 * MIN, &e), AL_NONE);
    CHECK_INT(al_state_tick(&r, &s, 46 * MIN, &e), AL_FIRED);
    CHECK_INT(e.start_ms, 30 * MIN);
    CHECK_INT(e.fired_ms, 45 * MIN);
    CHECK_INT(al_state_tick(&r, &s, 47 * MIN, &e), AL_NONE); /* once */
    CHECK_INT(feed(&r, &s, 50 * MIN, 1, &e), AL_RESOLVED);
    CHECK_INT(e.start_ms, 30 * MIN);
    CHECK_INT(e.end_ms, 50 * MIN);
    free_rule(&r);
}

static void test_window(void)
{
    al_rule r = rule_of("{\"rules\": [{\"name\": \"day\", \"series\": \"x\", \"op\": \"gt\","
                        " \"value\": 5, \"window\": \"1d\", \"agg\": \"mean\"}]}");
    al_state s;
    al_state_init(&s);
    st_event e;
    /* Daily means (UTC): day 0 (4 + 8) / 2 = 6, day 1 7, day 2 3. */
    CHECK_INT(feed(&r, &s, 0, 4, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, 12 * HOUR, 8, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, DAY + HOUR, 7, &e), AL_FIRED); /* day 0 closed */
    CHECK_INT(e.start_ms, 0);
    CHECK_INT(e.fired_ms, DAY);
    CHECK(e.peak == 6);
    CHECK_INT(feed(&r, &s, 2 * DAY, 3, &e), AL_NONE);     /* day 1: 7, the run goes on */
    CHECK_INT(feed(&r, &s, 3 * DAY, 1, &e), AL_RESOLVED); /* day 2: 3 */
    CHECK_INT(e.start_ms, 0);
    CHECK_INT(e.end_ms, 2 * DAY);
    CHECK(e.peak == 7);
    CHECK_INT(e.count, 2);
    free_rule(&r);

    /* Days in UTC+8: 2025-01-01T00:00+08:00 is 16:00Z the day before. */
    r = rule_of("{\"rules\": [{\"name\": \"day8\", \"series\": \"x\", \"op\": \"ge\","
                " \"value\": 2, \"window\": \"1d\", \"agg\": \"max\", \"tz\": \"+08:00\"}]}");
    al_state_init(&s);
    int64_t local_midnight = 20089 * DAY - 8 * HOUR;               /* 2025-01-01T00:00+08:00 */
    CHECK_INT(feed(&r, &s, local_midnight - MIN, 3, &e), AL_NONE); /* day before: max 3 */
    CHECK_INT(feed(&r, &s, local_midnight, 1, &e), AL_FIRED);
    CHECK_INT(e.start_ms, local_midnight - DAY);
    CHECK_INT(e.fired_ms, local_midnight);
    free_rule(&r);
}

/* Checks that the rule's grid and the grid /query window= plans for the same window and tz
 * (qx_grid_plan over a request, as request.c fills it: a fixed offset as offset_ms, an IANA zone
 * as zone) both put t in [start, end). */
static void check_same_window(const al_rule *r, const qx_query_request *q, int64_t t, int64_t start,
                              int64_t end)
{
    qx_grid grid;
    tz_zone *owned = NULL;
    jl_error err;
    int64_t s, e;
    qx_grid_window(r->grid, t, &s, &e);
    CHECK_INT(s, start);
    CHECK_INT(e, end);
    CHECK_INT(qx_grid_plan(q, &grid, &owned, &err), JL_OK);
    qx_grid_window(&grid, t, &s, &e);
    CHECK_INT(s, start);
    CHECK_INT(e, end);
    tz_zone_free(owned);
}

/* Window rules use /query window='s grid: 2-day windows in +08:00 and in Berlin across both DST
 * changes of 2025, and an hourly window over Berlin's repeated hour. 2-day windows start at local
 * midnight of even local days since 1970-01-01 (qx_query_request's "aligned to the epoch");
 * instants below checked with Python's zoneinfo, e.g.
 *   int(datetime(2025, 3, 31, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()) * 1000. */
static void test_window_grid(void)
{
    qx_query_request q;
    memset(&q, 0, sizeof q);
    q.has_window = 1;
    q.window.ms = 2 * DAY;
    st_event e;
    al_state s;

    /* +08:00: local day 20089 is 2025-01-01, so 2024-12-31 (20088) starts a window:
     * [2024-12-31T00:00+08:00, 2025-01-02T00:00+08:00) = [20088 d - 8 h, 20090 d - 8 h). */
    al_rule r =
        rule_of("{\"rules\": [{\"name\": \"two8\", \"series\": \"x\", \"op\": \"gt\","
                " \"value\": 5, \"window\": \"2d\", \"agg\": \"max\", \"tz\": \"+08:00\"}]}");
    q.offset_ms = 8 * HOUR; /* tz=+08:00 */
    int64_t w0 = 20088 * DAY - 8 * HOUR, w1 = 20090 * DAY - 8 * HOUR, w2 = 20092 * DAY - 8 * HOUR;
    check_same_window(&r, &q, w0, w0, w1);
    check_same_window(&r, &q, 20089 * DAY - 8 * HOUR, w0, w1); /* 2025-01-01T00:00+08:00 */
    check_same_window(&r, &q, w1 - 1, w0, w1);
    check_same_window(&r, &q, w1, w1, w2);
    al_state_init(&s);
    CHECK_INT(feed(&r, &s, w0 + HOUR, 9, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, w1 - MIN, 1, &e), AL_NONE); /* same window: max 9 */
    CHECK_INT(feed(&r, &s, w1, 2, &e), AL_FIRED);      /* it closed above 5 */
    CHECK_INT(e.start_ms, w0);
    CHECK_INT(e.fired_ms, w1);
    CHECK(e.peak == 9);
    CHECK_INT(feed(&r, &s, w2 + MIN, 3, &e), AL_RESOLVED); /* [w1, w2) closed with max 2 */
    CHECK_INT(e.start_ms, w0);
    CHECK_INT(e.end_ms, w1);
    free_rule(&r);

    /* Berlin. Spring forward on 2025-03-30 (local day 20177) at 01:00Z: the window of local days
     * 20176-20177 is [2025-03-29T00:00+01:00, 2025-03-31T00:00+02:00)
     * = [1743202800000 (20176 d - 1 h), 1743372000000 (20178 d - 2 h)), 47 hours; the next ends
     * at 2025-04-02T00:00+02:00 = 1743544800000. Fall back on 2025-10-26 (day 20387) at 01:00Z:
     * [2025-10-25T00:00+02:00, 2025-10-27T00:00+01:00) = [1761343200000, 1761519600000), 49 h. */
    r = rule_of("{\"rules\": [{\"name\": \"two\", \"series\": \"x\", \"op\": \"ge\", \"value\": 1,"
                " \"window\": \"2d\", \"agg\": \"count\", \"tz\": \"Europe/Berlin\"}]}");
    tz_zone *berlin = NULL;
    jl_error err;
    CHECK_INT(tz_zone_load("Europe/Berlin", &berlin, &err), JL_OK);
    q.offset_ms = 0;
    q.zone = berlin; /* tz=Europe/Berlin */
    int64_t m0 = 1743202800000LL, m1 = 1743372000000LL, m2 = 1743544800000LL;
    CHECK_INT(m0, 20176 * DAY - HOUR);
    CHECK_INT(m1, 20178 * DAY - 2 * HOUR);
    check_same_window(&r, &q, m0, m0, m1);
    check_same_window(&r, &q, 20177 * DAY + HOUR, m0, m1); /* 2025-03-30T03:00+02:00, after */
    check_same_window(&r, &q, m1 - 1, m0, m1);
    check_same_window(&r, &q, m1, m1, m2);
    int64_t f0 = 1761343200000LL, f1 = 1761519600000LL;
    check_same_window(&r, &q, 20387 * DAY + HOUR, f0, f1); /* 2025-10-26T02:00+01:00 */
    check_same_window(&r, &q, f1 - 1, f0, f1);
    al_state_init(&s);
    CHECK_INT(feed(&r, &s, m0 + MIN, 1, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, m1 - MIN, 1, &e), AL_NONE); /* 47 h later: the same window */
    CHECK_INT(feed(&r, &s, m1, 1, &e), AL_FIRED);
    CHECK_INT(e.start_ms, m0);
    CHECK_INT(e.fired_ms, m1);
    CHECK_INT(e.count, 1);
    free_rule(&r);

    /* 1h over the repeated hour: local 02:00 is first reached at 00:00Z (CEST), local 03:00 at
     * 02:00Z (CET), so /query's window is [00:00Z, 02:00Z), two hours (qx_query_request: "repeated
     * wall times fall into the window open when the clock goes back"). Readings at 00:30Z and
     * 01:30Z (02:30 CEST, 02:30 CET) share it: count 2. (The alarm's own windows used to cut it
     * at 01:00Z by the offset of each reading, count 1 each, and never fired.) */
    r = rule_of("{\"rules\": [{\"name\": \"hour\", \"series\": \"x\", \"op\": \"gt\", \"value\": 1,"
                " \"window\": \"1h\", \"agg\": \"count\", \"tz\": \"Europe/Berlin\"}]}");
    q.window.ms = HOUR;
    int64_t h0 = 20387 * DAY; /* 2025-10-26T00:00Z = 02:00+02:00 */
    check_same_window(&r, &q, h0 + 30 * MIN, h0, h0 + 2 * HOUR);
    check_same_window(&r, &q, h0 + 90 * MIN, h0, h0 + 2 * HOUR);
    check_same_window(&r, &q, h0 + 150 * MIN, h0 + 2 * HOUR, h0 + 3 * HOUR);
    al_state_init(&s);
    CHECK_INT(feed(&r, &s, h0 + 30 * MIN, 1, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, h0 + 90 * MIN, 1, &e), AL_NONE);
    CHECK_INT(feed(&r, &s, h0 + 150 * MIN, 1, &e), AL_FIRED);
    CHECK_INT(e.start_ms, h0);
    CHECK_INT(e.fired_ms, h0 + 2 * HOUR);
    CHECK(e.peak == 2);
    free_rule(&r);
    tz_zone_free(berlin);
}

/* ---------- the evaluator over a store ---------- */

typedef struct announced {
    pthread_mutex_t lock;
    uint64_t ids[64];
    unsigned states[64];
    size_t count;
} announced;

static void on_notify(void *ctx, const st_event *e, const al_rule *rule, unsigned state)
{
    (void)rule;
    announced *a = ctx;
    pthread_mutex_lock(&a->lock);
    if (a->count < 64) {
        a->ids[a->count] = e->id;
        a->states[a->count] = state;
        a->count++;
    }
    pthread_mutex_unlock(&a->lock);
}

static const char *const threshold_rules =
    "{\"rules\": [{\"name\": \"hi\", \"series\": \"x{station=\\\"a\\\"}\", \"op\": \"gt\","
    " \"value\": 1.5, \"for\": \"2h\"}]}";

static al_evaluator *start_with(st_store *store, announced *a, const char *text)
{
    al_rules rules;
    jl_error err;
    CHECK_INT(al_rules_parse(text, strlen(text), JL_FLAG_MASK_N, &rules, &err), JL_OK);
    al_options options;
    memset(&options, 0, sizeof options);
    options.notify = on_notify;
    options.notify_ctx = a;
    al_evaluator *ev = NULL;
    CHECK_INT(al_evaluator_start(store, &rules, &options, &ev, &err), JL_OK);
    return ev;
}

static al_evaluator *start(st_store *store, announced *a)
{
    return start_with(store, a, threshold_rules);
}

static st_event *list(st_store *store, size_t *count)
{
    st_event *events = NULL;
    jl_error err;
    CHECK_INT(st_event_list(store, NULL, &events, count, &err), JL_OK);
    return events;
}

static void test_evaluator(void)
{
    char *dir = make_temp_dir_named("alarm");
    st_store *store = open_store(dir, 0, 0);
    announced a;
    memset(&a, 0, sizeof a);
    pthread_mutex_init(&a.lock, NULL);
    al_evaluator *ev = start(store, &a);
    /* The recompute at start (over an empty store) first, so that the writes below reach the
     * evaluator as commits, in their order, and 6H and 8H are late. */
    al_evaluator_flush(ev);
    /* Event A: 1H..4H (fired at 3H). A reading of station b never matches. */
    int64_t ms1[] = {0, 1 * HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR};
    double v1[] = {1.0, 2.0, 3.0, 2.5, 1.0};
    write_readings(store, "x", "a", ms1, v1, 5);
    write_readings(store, "x", "b", ms1, v1, 5);
    int64_t ms2[] = {10 * HOUR};
    double v2[] = {1.0};
    write_readings(store, "x", "a", ms2, v2, 1);
    /* Late: 6H and 8H match; with 10H (1.0) ending them the episode 6H..10H lasts 4H. */
    int64_t ms3[] = {6 * HOUR, 8 * HOUR};
    double v3[] = {2.0, 2.0};
    write_readings(store, "x", "a", ms3, v3, 2);
    al_evaluator_flush(ev);
    size_t count = 0;
    st_event *events = list(store, &count);
    CHECK_INT(count, 2);
    if (count == 2) {
        CHECK_INT(events[0].start_ms, 1 * HOUR);
        CHECK_INT(events[0].fired_ms, 3 * HOUR);
        CHECK_INT(events[0].end_ms, 4 * HOUR);
        CHECK_INT(events[0].resolved, 1);
        CHECK_INT(events[0].late, 0);
        CHECK_INT(events[0].count, 3);
        CHECK(events[0].peak == 3.0);
        CHECK_STR(events[0].series_key, "x{station=\"a\"}");
        CHECK_INT(events[1].start_ms, 6 * HOUR);
        CHECK_INT(events[1].end_ms, 10 * HOUR);
        CHECK_INT(events[1].resolved, 1);
        CHECK_INT(events[1].late, 1);
        CHECK_INT(events[1].count, 2);
    }
    st_event_list_free(events, count);
    /* Announced: A firing, A resolved, B firing, B resolved. */
    CHECK_INT(a.count, 4);
    CHECK_INT(a.states[0], ST_EVENT_NOTIFIED_FIRING);
    CHECK_INT(a.states[1], ST_EVENT_NOTIFIED_RESOLVED);
    /* A delivered (both states); B's not. */
    al_evaluator_notified(ev, 1, ST_EVENT_NOTIFIED_FIRING | ST_EVENT_NOTIFIED_RESOLVED);
    /* A run still firing: 20H and 23H match (3H >= 2H). */
    int64_t ms4[] = {20 * HOUR, 23 * HOUR};
    double v4[] = {2.0, 4.0};
    write_readings(store, "x", "a", ms4, v4, 2);
    al_evaluator_flush(ev);
    al_evaluator_stop(ev);

    /* Readings committed while no evaluator runs: 24H ends the run (resolved at 24H), and
     * 30H..33H is a new one, found at start. */
    int64_t ms5[] = {24 * HOUR, 30 * HOUR, 33 * HOUR};
    double v5[] = {1.0, 2.0, 2.0};
    write_readings(store, "x", "a", ms5, v5, 3);
    st_store_close(store);
    store = open_store(dir, 0, 0);
    a.count = 0;
    ev = start(store, &a);
    al_evaluator_flush(ev);
    events = list(store, &count);
    CHECK_INT(count, 4);
    if (count == 4) {
        CHECK_INT(events[0].notified, ST_EVENT_NOTIFIED_FIRING | ST_EVENT_NOTIFIED_RESOLVED);
        CHECK_INT(events[2].start_ms, 20 * HOUR);
        CHECK_INT(events[2].fired_ms, 23 * HOUR);
        CHECK_INT(events[2].end_ms, 24 * HOUR);
        CHECK_INT(events[2].resolved, 1);
        CHECK(events[2].peak == 4.0);
        CHECK_INT(events[3].start_ms, 30 * HOUR);
        CHECK_INT(events[3].fired_ms, 33 * HOUR);
        CHECK_INT(events[3].resolved, 0);
    }
    st_event_list_free(events, count);
    /* Offered again or anew: B firing and resolved; the third resolved (its firing was offered
     * before the stop and never reported delivered: again), the fourth firing. Not A. */
    int saw_a = 0;
    for (size_t i = 0; i < a.count; i++)
        saw_a |= a.ids[i] == 1;
    CHECK_INT(saw_a, 0);
    CHECK_INT(a.count, 5);
    al_evaluator_stop(ev);

    /* Restarting again repeats nothing. */
    ev = start(store, &a);
    al_evaluator_flush(ev);
    events = list(store, &count);
    CHECK_INT(count, 4);
    st_event_list_free(events, count);
    al_evaluator_stop(ev);
    st_store_close(store);
    pthread_mutex_destroy(&a.lock);
    remove_dir(dir);
}

/* A late reading that completes a flatline run: replayed from the last quiet reading before it
 * (1m, a value other than the one before), which gives the run 1m..4m of four 2s. */
static void test_late_flatline(void)
{
    char *dir = make_temp_dir_named("alarm");
    st_store *store = open_store(dir, 0, 0);
    announced a;
    memset(&a, 0, sizeof a);
    pthread_mutex_init(&a.lock, NULL);
    al_evaluator *ev = start_with(
        store, &a, "{\"rules\": [{\"name\": \"stuck\", \"series\": \"x\", \"flatline\": 4}]}");
    int64_t ms[] = {0, 1 * MIN, 2 * MIN, 4 * MIN, 5 * MIN, 6 * MIN};
    double v[] = {1, 2, 2, 2, 3, 4};
    write_readings(store, "x", "a", ms, v, 6);
    al_evaluator_flush(ev);
    size_t count = 0;
    st_event *events = list(store, &count);
    CHECK_INT(count, 0); /* three 2s in a row */
    st_event_list_free(events, count);
    int64_t late_ms[] = {3 * MIN};
    double late_v[] = {2};
    write_readings(store, "x", "a", late_ms, late_v, 1);
    al_evaluator_flush(ev);
    events = list(store, &count);
    CHECK_INT(count, 1);
    if (count == 1) {
        CHECK_INT(events[0].start_ms, 1 * MIN);
        CHECK_INT(events[0].fired_ms, 4 * MIN);
        CHECK_INT(events[0].end_ms, 5 * MIN);
        CHECK_INT(events[0].count, 4);
        CHECK_INT(events[0].late, 1);
    }
    st_event_list_free(events, count);
    al_evaluator_stop(ev);
    st_store_close(store);
    pthread_mutex_destroy(&a.lock);
    remove_dir(dir);
}

int main(void)
{
    RUN(test_threshold_for);
    RUN(test_flatline);
    RUN(test_rate);
    RUN(test_absent);
    RUN(test_window);
    RUN(test_window_grid);
    RUN(test_evaluator);
    RUN(test_late_flatline);
    return CHECK_DONE();
}
