/* Station health (query/health.c) on a real store: small hand-made series with outages, flagged
 * readings, a review mark, readings just before the range and a station silent over it; every
 * expected rate below is worked out by hand in the comments from the readings written.
 *
 * Range [T0, T0 + 10 h), T0 = 2025-01-01T00:00:00Z. Hours below are offsets from T0.
 * - a (district d1): pm25 at 0 1 2 8 9 h (an outage from 3 h to 8 h); pm10 at 0 0.5 1 1.5 h.
 * - b (district d1): pm25 at 0..9 h, those at 3 and 4 h flagged M, the one at 6 h marked invalid
 *   by a review mark.
 * - c (district d2): pm25 at -2 -1 (before the range) and 1 2 3 h, then silent.
 * - d (no district): pm25 at -5 and -4 h only.
 * - pm25{site="x"}: no station tag, belongs to no station.
 * chunk_target 4, so most readings come from sealed chunks. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tempdir.h"
#include "jialing/health.h"
#include "jialing/serieskey.h"

#define T0 1735689600000LL
#define HOUR 3600000LL
#define MIN 60000LL

static st_store *store;

static void write_series(const char *metric, const char *station, const char *district,
                         const int64_t *offsets, const uint8_t *flags, size_t n)
{
    sk_tag tags[2];
    size_t tag_count = 0;
    if (station)
        tags[tag_count++] = (sk_tag){{"station", 7}, {station, strlen(station)}};
    else
        tags[tag_count++] = (sk_tag){{"site", 4}, {"x", 1}};
    if (district)
        tags[tag_count++] = (sk_tag){{"district", 8}, {district, strlen(district)}};
    jl_buf key;
    jl_buf_init(&key);
    jl_error err;
    CHECK_INT(sk_build((sk_text){metric, strlen(metric)}, tags, tag_count, &key, &err), JL_OK);
    /* One reading per batch: every few readings seal a chunk. */
    for (size_t i = 0; i < n; i++) {
        st_batch batch;
        st_batch_init(&batch);
        uint32_t index;
        CHECK_INT(st_batch_series(&batch, key.data, key.len, &index), JL_OK);
        CHECK_INT(st_batch_point_flagged(&batch, index, T0 + offsets[i], 10.0 + (double)i,
                                         flags ? flags[i] : JL_FLAG_N),
                  JL_OK);
        CHECK_INT(st_write(store, &batch, &err), JL_OK);
        st_batch_destroy(&batch);
    }
    jl_buf_destroy(&key);
}

static void write_fixture(void)
{
    static const int64_t a25[] = {0, 1 * HOUR, 2 * HOUR, 8 * HOUR, 9 * HOUR};
    static const int64_t a10[] = {0, 30 * MIN, 60 * MIN, 90 * MIN};
    int64_t b25[10];
    uint8_t bflags[10];
    for (int i = 0; i < 10; i++) {
        b25[i] = i * HOUR;
        bflags[i] = (i == 3 || i == 4) ? JL_FLAG_M : JL_FLAG_N;
    }
    static const int64_t c25[] = {-2 * HOUR, -1 * HOUR, 1 * HOUR, 2 * HOUR, 3 * HOUR};
    static const int64_t d25[] = {-5 * HOUR, -4 * HOUR};
    static const int64_t x25[] = {0, HOUR, 2 * HOUR};
    write_series("pm25", "a", "d1", a25, NULL, 5);
    write_series("pm10", "a", "d1", a10, NULL, 4);
    write_series("pm25", "b", "d1", b25, bflags, 10);
    write_series("pm25", "c", "d2", c25, NULL, 5);
    write_series("pm25", "d", NULL, d25, NULL, 2);
    write_series("pm25", NULL, NULL, x25, NULL, 3);
    /* b's reading at 6 h is invalid by review, whatever its flag N says. */
    qp_selector selector;
    jl_error err;
    CHECK_INT(qp_parse_selector("pm25{station=\"b\"}", &selector, &err), JL_OK);
    qx_review_request mark = {.selector = &selector,
                              .selector_text = "pm25{station=\"b\"}",
                              .from_ms = T0 + 6 * HOUR,
                              .to_ms = T0 + 7 * HOUR,
                              .valid = 0,
                              .reason = "test",
                              .made_by = "",
                              .made_ms = T0};
    uint64_t id = 0;
    CHECK_INT(qx_review_add(store, &mark, &id, &err), JL_OK);
    qp_selector_destroy(&selector);
}

/* ---- a sink that keeps each series' tags and its one row ---- */

#define MAX_OUT 8
typedef struct out_series {
    char metric[32];
    char tags[128]; /* k=v;k=v */
    size_t column_count;
    qx_cell cells[12];
    size_t rows;
} out_series;

typedef struct out_rec {
    out_series series[MAX_OUT];
    size_t count;
} out_rec;

static int rec_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                     const char *const *columns, size_t column_count)
{
    (void)columns;
    out_rec *r = context;
    if (r->count == MAX_OUT || column_count > 12)
        return JL_EINVAL;
    out_series *s = &r->series[r->count++];
    memset(s, 0, sizeof *s);
    snprintf(s->metric, sizeof s->metric, "%.*s", (int)metric.len, metric.data);
    size_t len = 0;
    for (size_t i = 0; i < tag_count; i++)
        len += (size_t)snprintf(s->tags + len, sizeof s->tags - len, "%s%.*s=%.*s", i ? ";" : "",
                                (int)tags[i].key.len, tags[i].key.data, (int)tags[i].value.len,
                                tags[i].value.data);
    s->column_count = column_count;
    return JL_OK;
}

static int rec_row(void *context, const qx_cell *cells, size_t count)
{
    out_rec *r = context;
    out_series *s = &r->series[r->count - 1];
    if (count != s->column_count)
        return JL_EINVAL;
    memcpy(s->cells, cells, count * sizeof *cells);
    s->rows++;
    return JL_OK;
}

static int rec_end(void *context)
{
    (void)context;
    return JL_OK;
}

static void run(const hl_request *request, out_rec *out)
{
    memset(out, 0, sizeof *out);
    hl_result *result = NULL;
    jl_error err;
    jl_error_clear(&err);
    int rc = hl_run(store, request, &result, &err);
    if (rc != JL_OK)
        fprintf(stderr, "  hl_run: %s\n", err.message);
    CHECK_INT(rc, JL_OK);
    qx_sink sink = {out, rec_begin, rec_row, rec_end};
    if (result)
        CHECK_INT(hl_emit(result, &sink), JL_OK);
    hl_result_free(result);
}

static hl_request base_request(void)
{
    hl_request rq;
    memset(&rq, 0, sizeof rq);
    rq.from_ms = T0;
    rq.to_ms = T0 + 10 * HOUR;
    rq.limits.valid_flags = JL_FLAG_MASK_N;
    return rq;
}

#define CELL_NULL(c) CHECK_INT((c).type, QX_CELL_NULL)
#define CELL_INT(c, v)                                                                             \
    do {                                                                                           \
        CHECK_INT((c).type, QX_CELL_INT);                                                          \
        CHECK_INT((c).as.i, (v));                                                                  \
    } while (0)
#define CELL_BOOL(c, v)                                                                            \
    do {                                                                                           \
        CHECK_INT((c).type, QX_CELL_BOOL);                                                         \
        CHECK_INT((c).as.i, (v));                                                                  \
    } while (0)
#define CELL_DOUBLE(c, v)                                                                          \
    do {                                                                                           \
        CHECK_INT((c).type, QX_CELL_DOUBLE);                                                       \
        CHECK_NEAR((c).as.d, (v), 1e-12);                                                          \
    } while (0)

/* Columns: last online online_rate capture_rate valid_rate cadence_ms readings valid_readings
 * expected. */
static void test_cadence(void)
{
    static const int64_t a[] = {0, 10, 20, 50};  /* gaps 10 10 30 */
    static const int64_t b[] = {0, 10, 40, 100}; /* gaps 10 30 60 */
    static const int64_t c[] = {0, 10, 40};      /* gaps 10 30: the lower one */
    CHECK_INT(hl_cadence(a, 4), 10);
    CHECK_INT(hl_cadence(b, 4), 30);
    CHECK_INT(hl_cadence(c, 3), 10);
    CHECK_INT(hl_cadence(a, 1), 0);
    CHECK_INT(hl_cadence(a, 0), 0);
}

static void test_stations_default(void)
{
    hl_request rq = base_request();
    out_rec out;
    run(&rq, &out);
    CHECK_INT(out.count, 4);
    if (out.count != 4)
        return;
    for (size_t i = 0; i < 4; i++) {
        CHECK_STR(out.series[i].metric, "station_health");
        CHECK_INT(out.series[i].rows, 1);
    }
    /* a: pm25 gaps 1 1 6 1 h, cadence 1 h, up 3 h after each reading: [0,5) and [8,10) (cut at
     * to); pm10 gaps 30 min, cadence 30 min, up 90 min: [0,3). Union [0,5) [8,10): 7 h of 10.
     * Expected 10 h / 1 h + 10 h / 30 min = 30; 9 readings, all valid. Online at 10 h: 9 h + 3 h
     * is later. Station cadence: the shorter, 30 min. */
    out_series *a = &out.series[0];
    CHECK_STR(a->tags, "district=d1;station=a");
    CELL_INT(a->cells[0], T0 + 9 * HOUR);
    CELL_BOOL(a->cells[1], 1);
    CELL_DOUBLE(a->cells[2], 0.7);
    CELL_DOUBLE(a->cells[3], 9.0 / 30.0);
    CELL_DOUBLE(a->cells[4], 9.0 / 30.0);
    CELL_INT(a->cells[5], 30 * MIN);
    CELL_INT(a->cells[6], 9);
    CELL_INT(a->cells[7], 9);
    CELL_DOUBLE(a->cells[8], 30.0);
    /* b: hourly 0..9, always up; 10 of 10 expected; valid: not the two M readings nor the one
     * the review mark invalidates, 7. */
    out_series *b = &out.series[1];
    CHECK_STR(b->tags, "district=d1;station=b");
    CELL_INT(b->cells[0], T0 + 9 * HOUR);
    CELL_BOOL(b->cells[1], 1);
    CELL_DOUBLE(b->cells[2], 1.0);
    CELL_DOUBLE(b->cells[3], 1.0);
    CELL_DOUBLE(b->cells[4], 0.7);
    CELL_INT(b->cells[5], HOUR);
    CELL_INT(b->cells[6], 10);
    CELL_INT(b->cells[7], 7);
    CELL_DOUBLE(b->cells[8], 10.0);
    /* c: in range 1 2 3 h, cadence 1 h, up 3 h: [1,6); the reading at -1 h carries in: [0,2).
     * Online 6 h of 10; 3 of 10 expected; offline at 10 h (3 h + 3 h is earlier). */
    out_series *c = &out.series[2];
    CHECK_STR(c->tags, "district=d2;station=c");
    CELL_INT(c->cells[0], T0 + 3 * HOUR);
    CELL_BOOL(c->cells[1], 0);
    CELL_DOUBLE(c->cells[2], 0.6);
    CELL_DOUBLE(c->cells[3], 0.3);
    CELL_DOUBLE(c->cells[4], 0.3);
    CELL_INT(c->cells[5], HOUR);
    CELL_INT(c->cells[6], 3);
    CELL_INT(c->cells[7], 3);
    CELL_DOUBLE(c->cells[8], 10.0);
    /* d: nothing in the range, no cadence: never up, rates unknown; last reading -4 h. */
    out_series *d = &out.series[3];
    CHECK_STR(d->tags, "station=d");
    CELL_INT(d->cells[0], T0 - 4 * HOUR);
    CELL_BOOL(d->cells[1], 0);
    CELL_DOUBLE(d->cells[2], 0.0);
    CELL_NULL(d->cells[3]);
    CELL_NULL(d->cells[4]);
    CELL_NULL(d->cells[5]);
    CELL_INT(d->cells[6], 0);
    CELL_INT(d->cells[7], 0);
    CELL_DOUBLE(d->cells[8], 0.0);
}

static void test_stations_fixed_offline_after(void)
{
    hl_request rq = base_request();
    rq.offline_after_ms = 90 * MIN;
    out_rec out;
    run(&rq, &out);
    CHECK_INT(out.count, 4);
    if (out.count != 4)
        return;
    /* a: pm25 up [0,3.5) [8,10); pm10 [0,3): 5.5 h. Online at 10 h: 9 h + 1.5 h is later. */
    CELL_DOUBLE(out.series[0].cells[2], 0.55);
    CELL_BOOL(out.series[0].cells[1], 1);
    /* b: hourly, gaps under 90 min: always up. */
    CELL_DOUBLE(out.series[1].cells[2], 1.0);
    /* c: carried in [0,0.5), in range [1,4.5): 4 h. */
    CELL_DOUBLE(out.series[2].cells[2], 0.4);
    CELL_BOOL(out.series[2].cells[1], 0);
    /* d: -4 h + 1.5 h ends before the range. */
    CELL_DOUBLE(out.series[3].cells[2], 0.0);
    /* Capture does not depend on offline_after. */
    CELL_DOUBLE(out.series[0].cells[3], 9.0 / 30.0);
    /* An offline_after longer than c's silence: -1 h + 12 h covers the whole range, and c is
     * online at to (3 h + 12 h). */
    rq.offline_after_ms = 12 * HOUR;
    run(&rq, &out);
    CHECK_INT(out.count, 4);
    if (out.count == 4) {
        CELL_DOUBLE(out.series[2].cells[2], 1.0);
        CELL_BOOL(out.series[2].cells[1], 1);
        /* d: -4 h + 12 h = 8 h: 8 h of 10, and offline at 10 h. */
        CELL_DOUBLE(out.series[3].cells[2], 0.8);
        CELL_BOOL(out.series[3].cells[1], 0);
    }
}

static void test_districts(void)
{
    hl_request rq = base_request();
    rq.aggregate = 1;
    out_rec out;
    run(&rq, &out);
    CHECK_INT(out.count, 3);
    if (out.count != 3)
        return;
    /* Columns: last stations online offline online_rate capture_rate valid_rate readings
     * valid_readings expected. The group of stations without a district comes first. */
    out_series *none = &out.series[0];
    CHECK_STR(none->metric, "district_health");
    CHECK_STR(none->tags, "");
    CELL_INT(none->cells[0], T0 - 4 * HOUR);
    CELL_INT(none->cells[1], 1);
    CELL_INT(none->cells[2], 0);
    CELL_INT(none->cells[3], 1);
    CELL_DOUBLE(none->cells[4], 0.0);
    CELL_NULL(none->cells[5]);
    CELL_NULL(none->cells[6]);
    CELL_INT(none->cells[7], 0);
    /* d1: a and b, both online; means (0.7 + 1) / 2, (0.3 + 1) / 2, (0.3 + 0.7) / 2. */
    out_series *d1 = &out.series[1];
    CHECK_STR(d1->tags, "district=d1");
    CELL_INT(d1->cells[0], T0 + 9 * HOUR);
    CELL_INT(d1->cells[1], 2);
    CELL_INT(d1->cells[2], 2);
    CELL_INT(d1->cells[3], 0);
    CELL_DOUBLE(d1->cells[4], 0.85);
    CELL_DOUBLE(d1->cells[5], 0.65);
    CELL_DOUBLE(d1->cells[6], 0.5);
    CELL_INT(d1->cells[7], 19);
    CELL_INT(d1->cells[8], 16);
    CELL_DOUBLE(d1->cells[9], 40.0);
    out_series *d2 = &out.series[2];
    CHECK_STR(d2->tags, "district=d2");
    CELL_INT(d2->cells[1], 1);
    CELL_INT(d2->cells[2], 0);
    CELL_INT(d2->cells[3], 1);
    CELL_DOUBLE(d2->cells[4], 0.6);
    CELL_DOUBLE(d2->cells[5], 0.3);
}

static void test_series_selector(void)
{
    /* Only pm10: station a alone, cadence 30 min, up [0,3): 0.3; 4 of 20 expected. */
    hl_request rq = base_request();
    qp_selector selector;
    jl_error err;
    CHECK_INT(qp_parse_selector("pm10", &selector, &err), JL_OK);
    rq.series = &selector;
    out_rec out;
    run(&rq, &out);
    CHECK_INT(out.count, 1);
    if (out.count == 1) {
        CHECK_STR(out.series[0].tags, "district=d1;station=a");
        CELL_INT(out.series[0].cells[0], T0 + 90 * MIN);
        CELL_BOOL(out.series[0].cells[1], 0);
        CELL_DOUBLE(out.series[0].cells[2], 0.3);
        CELL_DOUBLE(out.series[0].cells[3], 0.2);
        CELL_INT(out.series[0].cells[5], 30 * MIN);
        CELL_DOUBLE(out.series[0].cells[8], 20.0);
    }
    qp_selector_destroy(&selector);
    /* A tag condition: pm25 of district d2 only. */
    CHECK_INT(qp_parse_selector("pm25{district=\"d2\"}", &selector, &err), JL_OK);
    rq.series = &selector;
    run(&rq, &out);
    CHECK_INT(out.count, 1);
    if (out.count == 1)
        CHECK_STR(out.series[0].tags, "district=d2;station=c");
    qp_selector_destroy(&selector);
}

static void test_station_tag(void)
{
    /* By another tag: "site" names x's series only; cadence 1 h over 0 1 2 h, up [0,5). */
    hl_request rq = base_request();
    rq.station_tag = "site";
    out_rec out;
    run(&rq, &out);
    CHECK_INT(out.count, 1);
    if (out.count == 1) {
        CHECK_STR(out.series[0].tags, "site=x");
        CELL_DOUBLE(out.series[0].cells[2], 0.5);
        CELL_DOUBLE(out.series[0].cells[3], 0.3);
    }
}

static void test_bad_requests(void)
{
    hl_result *result = (hl_result *)1;
    jl_error err;
    hl_request rq = base_request();
    rq.to_ms = rq.from_ms;
    CHECK_INT(hl_run(store, &rq, &result, &err), JL_EINVAL);
    CHECK(result == NULL);
    CHECK(strstr(err.message, "from") != NULL);
    rq = base_request();
    rq.offline_after_ms = -1;
    CHECK_INT(hl_run(store, &rq, &result, &err), JL_EINVAL);
    CHECK(strstr(err.message, "offline_after") != NULL);
    rq.offline_after_ms = HL_MAX_OFFLINE_AFTER_MS + 1;
    CHECK_INT(hl_run(store, &rq, &result, &err), JL_EINVAL);
    rq = base_request();
    rq.station_tag = "district";
    CHECK_INT(hl_run(store, &rq, &result, &err), JL_EINVAL);
    /* A range before any reading: no series had begun, so no station is listed. */
    rq = base_request();
    rq.from_ms = T0 - 100 * HOUR;
    rq.to_ms = T0 - 90 * HOUR;
    out_rec out;
    run(&rq, &out);
    CHECK_INT(out.count, 0);
}

int main(void)
{
    char *dir = make_temp_dir_named("health");
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.chunk_target = 4;
    options.initial_map_bytes = 64u << 20;
    jl_error err;
    if (st_store_open(&options, &store, &err) != JL_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    write_fixture();
    RUN(test_cadence);
    RUN(test_stations_default);
    RUN(test_stations_fixed_offline_after);
    RUN(test_districts);
    RUN(test_series_selector);
    RUN(test_station_tag);
    RUN(test_bad_requests);
    st_store_close(store);
    remove_dir(dir);
    return CHECK_DONE();
}
