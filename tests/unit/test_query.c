/* Tests for query/engine.c and query/exec.c: the fixture itself, raw readings, selectors,
 * qx_parse_compare, and the limits and errors every entry point checks. The fixture and the
 * references are query_fixture.h's. */
#include "query_fixture.h"

static void test_fixture_has_chunks_and_tails(void)
{
    static chunk_span spans[MAX_CHUNKS];
    const ref_series *all[] = {&ref_a, &ref_b, &ref_c, &ref_d, &ref_e, &ref_f};
    for (size_t i = 0; i < 6; i++) {
        size_t tail, sealed = list_chunks(all[i], spans, &tail), in_chunks = 0;
        for (size_t c = 0; c < sealed; c++)
            in_chunks += spans[c].count;
        char tags[128];
        ref_tags(all[i], tags, sizeof tags);
        printf("  %s{%s}: %zu readings, %zu sealed chunks, %zu tail readings\n", all[i]->metric,
               tags, all[i]->n, sealed, tail);
        CHECK_INT(in_chunks + tail, all[i]->n);
    }
    size_t tail;
    CHECK_INT(ref_a.n, 210);
    CHECK(list_chunks(&ref_a, spans, &tail) >= 8);
    CHECK(tail > 0);
    CHECK(list_chunks(&ref_e, spans, &tail) >= 5);
    CHECK(tail > 0);
}

static void test_parse_compare(void)
{
    qx_compare op = QX_LE;
    jl_error err;
    CHECK_INT(qx_parse_compare("gt", &op, &err), JL_OK);
    CHECK_INT(op, QX_GT);
    CHECK_INT(qx_parse_compare("ge", &op, &err), JL_OK);
    CHECK_INT(op, QX_GE);
    CHECK_INT(qx_parse_compare("lt", &op, &err), JL_OK);
    CHECK_INT(op, QX_LT);
    CHECK_INT(qx_parse_compare("le", &op, &err), JL_OK);
    CHECK_INT(op, QX_LE);
    CHECK_INT(qx_parse_compare("eq", &op, &err), JL_EINVAL);
    CHECK(strstr(err.message, "\"eq\"") != NULL);
    CHECK_INT(qx_parse_compare("", &op, &err), JL_EINVAL);
}

static void test_raw(void)
{
    check_raw(&ref_a, T0, T0 + 5 * HOUR);                      /* everything */
    check_raw(&ref_a, T0 + 7 * MINUTE + 1, T0 + 203 * MINUTE); /* cuts chunks at both ends */
    check_raw(&ref_a, T0 + 10 * MINUTE, T0 + 10 * MINUTE + 1); /* one reading */
    check_raw(&ref_a, T0 + 101 * MINUTE, T0 + 129 * MINUTE);   /* inside the outage */
    check_raw(&ref_a, T0 + 230 * MINUTE, T0 + 300 * MINUTE);   /* the tail */
    check_raw(&ref_b, JL_MIN_MS, JL_MAX_MS);
    check_raw(&ref_d, T0, T0 + 2 * HOUR); /* late reading and overwrite included */
    CHECK_INT(ref_d.n, 41);

    /* Several series: ascending id order, metric and tags handed over, empty series omitted. */
    qp_selector sel = selector("pm25", NULL, NULL, 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &sel, .from_ms = T0, .to_ms = T0 + 60 * MINUTE};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, 3);
    if (r.series_count == 3) {
        CHECK_STR(r.series[0].metric, "pm25");
        CHECK_STR(r.series[0].tags, "district=d1;station=s1");
        CHECK_INT(r.series[0].row_count, 60);
        CHECK_STR(r.series[1].tags, "district=d1;station=s2");
        CHECK_INT(r.series[1].row_count, 50);
        CHECK_STR(r.series[2].tags, "district=d2;station=s3");
        CHECK_INT(r.series[2].row_count, 31); /* every 2 min, plus the late one at 5 min */
    }
    rec_free(&r);

    /* A range with no readings of pm10 between its hourly readings: no series at all. */
    sel = selector("pm10", NULL, NULL, 0);
    sink = rec_sink(&r);
    req = (qx_query_request){.selector = &sel, .from_ms = T0 + 1, .to_ms = T0 + HOUR};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 0);
    rec_free(&r);
}

static void test_selectors(void)
{
    static const struct {
        const char *metric, *key, *value;
        int negate;
        const char *expected; /* tags of the series, | separated */
    } cases[] = {
        {"pm25", NULL, NULL, 0,
         "district=d1;station=s1|district=d1;station=s2|"
         "district=d2;station=s3"},
        {"pm25", "district", "d1", 0, "district=d1;station=s1|district=d1;station=s2"},
        {"pm25", "station", "s1", 1, "district=d1;station=s2|district=d2;station=s3"},
        {"pm25", "district", "d1", 1, "district=d2;station=s3"},
        {"pm10", "station", "s1", 0, "station=s1"},
        {"pm25", "station", "nowhere", 0, ""},
        {"so2", NULL, NULL, 0, ""},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        qp_selector sel = selector(cases[c].metric, cases[c].key, cases[c].value, cases[c].negate);
        recorder r;
        qx_sink sink = rec_sink(&r);
        char got[512] = "";
        jl_error err;
        CHECK_INT(qx_series(store, &sel, NULL, &sink, &err), JL_OK);
        for (size_t i = 0; i < r.series_count; i++) {
            size_t used = strlen(got);
            snprintf(got + used, sizeof got - used, "%s%s", i ? "|" : "", r.series[i].tags);
        }
        CHECK_STR(got, cases[c].expected);
        rec_free(&r);
    }
}

static void test_limits_and_errors(void)
{
    qp_selector sel = select_ref(&ref_a);
    recorder r;
    qx_sink sink = rec_sink(&r);
    jl_error err;
    qx_query_request req = {.selector = &sel, .from_ms = T0, .to_ms = T0 + 5 * HOUR};

    /* Raw rows beyond max_rows: an error, never a cut answer. */
    req.limits.max_rows = 10;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    CHECK_INT(err.code, JL_ELIMIT);
    CHECK(strstr(err.message, "more than 10 rows") != NULL);
    CHECK(strstr(err.message, "narrow") != NULL);
    rec_free(&r);
    req.limits.max_rows = 210; /* exactly enough */
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    rec_free(&r);

    /* Windows beyond max_windows, counted over the range whether or not they hold readings. */
    req = (qx_query_request){.selector = &sel,
                             .from_ms = T0 - HOUR, /* 00:00Z */
                             .to_ms = T0 - HOUR + DAY,
                             .has_window = 1,
                             .window = {1000, 0},
                             .aggregates = {QX_AGG_MEAN},
                             .aggregate_count = 1,
                             .limits = {.max_windows = 1000}};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    CHECK(strncmp(err.message,
                  "window 1s over this range gives 86400 windows per series; the limit is 1000",
                  75) == 0);
    CHECK_INT(r.series_count, 0);
    req.window.ms = 90 * MINUTE;
    req.limits.max_windows = 16; /* the day has 16 windows of 90 minutes */
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    rec_free(&r);
    req.window.ms = 89 * MINUTE;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    CHECK(strncmp(err.message, "window 89m over this range gives 17 windows", 43) == 0);
    /* Windows rows count against max_rows too. */
    req.window.ms = MINUTE;
    req.limits = (qx_limits){.max_rows = 100};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    rec_free(&r);

    /* Bad requests. */
    req.limits = (qx_limits){0};
    req.from_ms = req.to_ms;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    CHECK(strncmp(err.message, "from must be before to", 22) == 0);
    req.from_ms = req.to_ms + 1;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    req.from_ms = T0;
    req.window = (qp_duration){DAY, 1};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    CHECK(strstr(err.message, "not a mix of both") != NULL);
    req.window = (qp_duration){0, 0};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    req.window = (qp_duration){HOUR, 0};
    req.aggregate_count = 0;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    CHECK_INT(r.series_count, 0);

    qx_scan_request scan = {.selector = &sel, .from_ms = T0, .to_ms = T0, .compare = QX_GT};
    CHECK_INT(qx_scan(store, &scan, &sink, &err), JL_EINVAL);
    CHECK(strncmp(err.message, "from must be before to", 22) == 0);
    scan.to_ms = T0 + 5 * HOUR;
    scan.limits.max_rows = 3;
    rec_free(&r);
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &scan, &sink, &err), JL_ELIMIT);
    CHECK(strstr(err.message, "more than 3 rows") != NULL);
    CHECK_INT(r.series[0].row_count, 3);
    rec_free(&r);

    /* max_series is the store's refusal, passed on. */
    qp_selector all = selector("pm25", NULL, NULL, 0);
    qx_limits one = {.max_series = 1};
    sink = rec_sink(&r);
    CHECK_INT(qx_latest(store, &all, &one, &sink, &err), JL_ELIMIT);
    CHECK_INT(r.series_count, 0);
    rec_free(&r);

    /* The time budget is checked per block: a stall in the first block ends the query. */
    sink = rec_sink(&r);
    r.stall_ms = 20;
    req = (qx_query_request){
        .selector = &sel, .from_ms = T0, .to_ms = T0 + 5 * HOUR, .limits = {.timeout_ms = 5}};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ETIMEOUT);
    CHECK(strstr(err.message, "5 ms") != NULL);
    CHECK(r.series_count == 1 && r.series[0].row_count < ref_a.n);
    rec_free(&r);

    /* A sink's error stops the query and is returned. */
    sink = rec_sink(&r);
    r.fail_at_row = 3;
    req = (qx_query_request){.selector = &sel, .from_ms = T0, .to_ms = T0 + 5 * HOUR};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ENOMEM);
    CHECK_INT(err.code, JL_ENOMEM);
    CHECK_INT(r.total_rows, 3);
    rec_free(&r);
}

int main(void)
{
    if (fixture_open() != 0)
        return 1;
    RUN(test_fixture_has_chunks_and_tails);
    RUN(test_parse_compare);
    RUN(test_raw);
    RUN(test_selectors);
    RUN(test_limits_and_errors);
    fixture_close();
    return CHECK_DONE();
}
