/* Tests for query/engine.c and query/exec.c: the fixture itself, raw readings, selectors,
 * qx_parse_compare, and the limits and errors every entry point checks. The fixture and the
 * references are query_fixture.h's. */
#include "query_fixture.h"

#include "jialing/flag.h"
#include "jialing/serieskey.h"

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
        CHECK_INT(qx_series(store, &sel, NULL, 0, &sink, &err), JL_OK);
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

/* Writes readings of the series "flagged{station=<station>}" with their flag codes, in batches of
 * batch_size, through st_batch_point_flagged. */
static int write_flagged(const char *station, const int64_t *ts, const double *vs,
                         const uint8_t *flags, size_t n, size_t batch_size)
{
    sk_tag tag = {{"station", 7}, {station, strlen(station)}};
    jl_buf key;
    jl_error err;
    st_batch batch;
    jl_buf_init(&key);
    st_batch_init(&batch);
    int rc = sk_build((sk_text){"flagged", 7}, &tag, 1, &key, &err);
    for (size_t start = 0; rc == JL_OK && start < n; start += batch_size) {
        uint32_t index;
        st_batch_reset(&batch);
        rc = st_batch_series(&batch, key.data, key.len, &index);
        for (size_t i = start; rc == JL_OK && i < n && i < start + batch_size; i++)
            rc = st_batch_point_flagged(&batch, index, ts[i], vs[i], flags[i]);
        if (rc == JL_OK)
            rc = st_write(store, &batch, &err);
    }
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    return rc;
}

/* The rows of a with_flags query over [from, to) of station, against expected (time, value,
 * flag letter) rows. */
typedef struct flag_row {
    int64_t t;
    double v;
    char flag;
} flag_row;

static void check_flag_rows(const char *station, int64_t from_ms, int64_t to_ms,
                            const flag_row *expected, size_t n)
{
    qp_selector sel = selector("flagged", "station", station, 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &sel, .from_ms = from_ms, .to_ms = to_ms, .with_flags = 1};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1) {
        CHECK_STR(r.series[0].columns, "time,value,flag");
        CHECK_INT(r.series[0].row_count, n);
        for (size_t i = 0; i < n && i < r.series[0].row_count; i++) {
            const qx_cell *c = r.series[0].cells + 3 * i;
            CHECK_INT(c[0].type, QX_CELL_INT);
            CHECK_INT(c[0].as.i, expected[i].t);
            CHECK_INT(c[1].type, QX_CELL_DOUBLE);
            CHECK(c[1].as.d == expected[i].v);
            CHECK_INT(c[2].type, QX_CELL_FLAG);
            CHECK_INT(jl_flag_letter((unsigned)c[2].as.i), expected[i].flag);
        }
    }
    rec_free(&r);
}

/* with_flags: every raw reading's stored flag as a third column, from sealed chunks (chunk_target
 * 16) and the tail alike, cut to the range; a re-sent reading replaces value and flag together. */
static void test_raw_with_flags(void)
{
    /* 45 readings a minute apart, value i + 0.5, flags cycling through the eight letters:
     * N F M S D C T B N F ... (codes 0..7); the first 40 in batches of 10 (sealed), the last 5
     * in one small write (left in the tail). */
    enum { N_READINGS = 45 };
    static const char letters[] = "NFMSDCTB";
    int64_t ts[N_READINGS];
    double vs[N_READINGS];
    uint8_t flags[N_READINGS];
    flag_row expected[N_READINGS];
    for (size_t i = 0; i < N_READINGS; i++) {
        ts[i] = T0 + (int64_t)i * MINUTE;
        vs[i] = (double)i + 0.5;
        flags[i] = (uint8_t)(i % 8);
        expected[i] = (flag_row){ts[i], vs[i], letters[i % 8]};
    }
    CHECK_INT(write_flagged("f1", ts, vs, flags, 40, 10), JL_OK);
    CHECK_INT(write_flagged("f1", ts + 40, vs + 40, flags + 40, 5, 5), JL_OK);
    /* Re-sent: reading 3 (S, in a sealed chunk) as 100.25 N; reading 42 (M, in the tail) as
     * 200.5 B. */
    int64_t again_ts[2] = {T0 + 3 * MINUTE, T0 + 42 * MINUTE};
    double again_vs[2] = {100.25, 200.5};
    uint8_t again_flags[2] = {JL_FLAG_N, JL_FLAG_B};
    CHECK_INT(write_flagged("f1", again_ts, again_vs, again_flags, 2, 2), JL_OK);
    expected[3] = (flag_row){T0 + 3 * MINUTE, 100.25, 'N'};
    expected[42] = (flag_row){T0 + 42 * MINUTE, 200.5, 'B'};

    /* The series has sealed chunks and a tail, so both paths are read. */
    static ref_series f1 = {"flagged", {"station"}, {"f1"}, 1, {0}, {0}, 0, 0};
    static chunk_span spans[MAX_CHUNKS];
    size_t tail;
    CHECK(list_chunks(&f1, spans, &tail) >= 2);
    CHECK(tail > 0);

    check_flag_rows("f1", T0, T0 + HOUR, expected, N_READINGS);
    /* Cut inside chunks at both ends: minutes 5..33; and inside the tail: minutes 41..43. */
    check_flag_rows("f1", T0 + 5 * MINUTE, T0 + 33 * MINUTE + 1, expected + 5, 29);
    check_flag_rows("f1", T0 + 41 * MINUTE, T0 + 44 * MINUTE, expected + 41, 3);

    /* A series written without flags: every reading is N. */
    int64_t plain_ts[20];
    double plain_vs[20];
    uint8_t plain_flags[20] = {0};
    flag_row plain[20];
    for (size_t i = 0; i < 20; i++) {
        plain_ts[i] = T0 + (int64_t)i * MINUTE;
        plain_vs[i] = -(double)i;
        plain[i] = (flag_row){plain_ts[i], plain_vs[i], 'N'};
    }
    CHECK_INT(write_flagged("f2", plain_ts, plain_vs, plain_flags, 20, 20), JL_OK);
    check_flag_rows("f2", T0, T0 + HOUR, plain, 20);

    /* Without with_flags: the two columns of before. */
    qp_selector sel = selector("flagged", "station", "f1", 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &sel, .from_ms = T0, .to_ms = T0 + HOUR};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1) {
        CHECK_STR(r.series[0].columns, "time,value");
        CHECK_INT(r.series[0].column_count, 2);
        CHECK_INT(r.series[0].row_count, N_READINGS);
    }
    rec_free(&r);

    /* with_flags with a window: refused. */
    sink = rec_sink(&r);
    req = (qx_query_request){.selector = &sel,
                             .from_ms = T0,
                             .to_ms = T0 + HOUR,
                             .has_window = 1,
                             .window = {HOUR, 0},
                             .aggregates = {QX_AGG_MEAN},
                             .aggregate_count = 1,
                             .with_flags = 1};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    CHECK_STR(err.message, "with_flags applies to raw readings only");
    CHECK_INT(r.series_count, 0);
    rec_free(&r);
}

/* One hourly window row expected from a flag selection: count, mean, max (count 0: no row). */
typedef struct flag_hour {
    int64_t start;
    uint64_t count;
    double mean, max;
} flag_hour;

/* agg=count,mean,max&window=1h over [T0, T0 + 3h) of station f3 with selection sel, against
 * expected (hours with readings only). *stats receives the query's figures. */
static void check_flag_hours(qx_flag_select sel, const flag_hour *expected, size_t n,
                             qx_query_stats *stats)
{
    qp_selector q = selector("flagged", "station", "f3", 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &q,
                            .from_ms = T0,
                            .to_ms = T0 + 3 * HOUR,
                            .has_window = 1,
                            .window = {HOUR, 0},
                            .aggregates = {QX_AGG_COUNT, QX_AGG_MEAN, QX_AGG_MAX},
                            .aggregate_count = 3,
                            .flags = sel,
                            .stats = stats};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, n > 0 ? 1 : 0);
    if (r.series_count == 1) {
        CHECK_STR(r.series[0].columns, "time,count,mean,max");
        CHECK_INT(r.series[0].row_count, n);
        for (size_t i = 0; i < n && i < r.series[0].row_count; i++) {
            CHECK_INT(rec_cell(&r, 0, i, 0)->as.i, expected[i].start);
            CHECK_INT(rec_cell(&r, 0, i, 1)->as.i, (int64_t)expected[i].count);
            CHECK(rec_cell(&r, 0, i, 2)->as.d == expected[i].mean);
            CHECK(rec_cell(&r, 0, i, 3)->as.d == expected[i].max);
        }
    }
    rec_free(&r);
}

/* The figures of agg=count&window=3h over [T0, T0 + 3h) of f3 with selection sel. */
static qx_query_stats flag_stats_3h(qx_flag_select sel)
{
    qp_selector q = selector("flagged", "station", "f3", 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_stats stats;
    qx_query_request req = {.selector = &q,
                            .from_ms = T0,
                            .to_ms = T0 + 3 * HOUR,
                            .has_window = 1,
                            .window = {3 * HOUR, 0},
                            .aggregates = {QX_AGG_COUNT},
                            .aggregate_count = 1,
                            .flags = sel,
                            .stats = &stats};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    rec_free(&r);
    return stats;
}

/* A threshold scan (value > 20, output=count) of f3 with selection sel: the count, or -1 when no
 * row came. */
static int64_t flag_scan_count(qx_flag_select sel)
{
    qp_selector q = selector("flagged", "station", "f3", 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_scan_request req = {.selector = &q,
                           .from_ms = T0,
                           .to_ms = T0 + 3 * HOUR,
                           .compare = QX_GT,
                           .threshold = 20,
                           .output = QX_SCAN_COUNT,
                           .flags = sel};
    jl_error err;
    int64_t count = -1;
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    if (r.series_count == 1 && r.series[0].row_count == 1)
        count = rec_cell(&r, 0, 0, 0)->as.i;
    rec_free(&r);
    return count;
}

/* flags selection: 36 readings 5 minutes apart from T0, value i; 0..15 flagged N (the first
 * sealed chunk, all N), then N M C D repeating (16 N, 17 M, 18 C, 19 D, 20 N ...). 0..31 in
 * batches of 8 (sealed chunks of 16), 32..35 in the tail. Hours: 0..11, 12..23, 24..35. */
static void test_flag_selection(void)
{
    enum { N_READINGS = 36 };
    static const uint8_t cycle[4] = {JL_FLAG_N, JL_FLAG_M, JL_FLAG_C, JL_FLAG_D};
    int64_t ts[N_READINGS];
    double vs[N_READINGS];
    uint8_t flags[N_READINGS];
    for (size_t i = 0; i < N_READINGS; i++) {
        ts[i] = T0 + (int64_t)i * 5 * MINUTE;
        vs[i] = (double)i;
        flags[i] = i < 16 ? JL_FLAG_N : cycle[i % 4];
    }
    CHECK_INT(write_flagged("f3", ts, vs, flags, 32, 8), JL_OK);
    CHECK_INT(write_flagged("f3", ts + 32, vs + 32, flags + 32, 4, 4), JL_OK);
    static ref_series f3 = {"flagged", {"station"}, {"f3"}, 1, {0}, {0}, 0, 0};
    static chunk_span spans[MAX_CHUNKS];
    size_t tail;
    size_t chunks = list_chunks(&f3, spans, &tail);
    CHECK_INT(chunks, 2);
    CHECK_INT(tail, 4);
    CHECK_INT(spans[0].first, T0);
    CHECK_INT(spans[0].count, 16);

    const qx_flag_select all = {JL_FLAG_MASK_ALL, 0}, none_set = {0, 0};
    const qx_flag_select valid = {JL_FLAG_MASK_N, 1};
    const qx_flag_select m = {1u << JL_FLAG_M, 0};
    const qx_flag_select mc = {(1u << JL_FLAG_M) | (1u << JL_FLAG_C), 0};
    /* all: hour 0 = 0..11 (sum 66), hour 1 = 12..23 (sum 210), hour 2 = 24..35 (sum 354). */
    const flag_hour h_all[] = {
        {T0, 12, 5.5, 11}, {T0 + HOUR, 12, 17.5, 23}, {T0 + 2 * HOUR, 12, 29.5, 35}};
    /* valid (N): hour 1 = 12 13 14 15 16 20 (sum 90), hour 2 = 24 28 32 (sum 84). */
    const flag_hour h_valid[] = {
        {T0, 12, 5.5, 11}, {T0 + HOUR, 6, 15, 20}, {T0 + 2 * HOUR, 3, 28, 32}};
    /* M: hour 1 = 17 21, hour 2 = 25 29 33. */
    const flag_hour h_m[] = {{T0 + HOUR, 2, 19, 21}, {T0 + 2 * HOUR, 3, 29, 33}};
    /* M,C: hour 1 = 17 18 21 22 (sum 78), hour 2 = 25 26 29 30 33 34 (sum 177). */
    const flag_hour h_mc[] = {{T0 + HOUR, 4, 19.5, 22}, {T0 + 2 * HOUR, 6, 29.5, 34}};
    qx_query_stats stats;
    check_flag_hours(all, h_all, 3, &stats);
    check_flag_hours(none_set, h_all, 3, &stats);
    check_flag_hours(valid, h_valid, 3, &stats);
    check_flag_hours(m, h_m, 2, &stats);
    check_flag_hours(mc, h_mc, 2, &stats);

    /* One 3h window [00:00, 03:00) holds the first chunk (01:00..02:15) whole; the second
     * (02:20..03:35) straddles its end. With every flag of the first chunk selected (all, valid)
     * it is still answered by its summary; with M it must be decoded. */
    CHECK_INT(flag_stats_3h(all).chunks_from_summary, 1);
    CHECK_INT(flag_stats_3h(all).chunks_decoded, 1);
    CHECK_INT(flag_stats_3h(valid).chunks_from_summary, 1);
    CHECK_INT(flag_stats_3h(valid).chunks_decoded, 1);
    CHECK_INT(flag_stats_3h(m).chunks_from_summary, 0);
    CHECK_INT(flag_stats_3h(m).chunks_decoded, 2);

    /* Scans count only selected readings above 20: all 21..35 (15); valid 24 28 32 (3); M 21 25
     * 29 33 (4). */
    CHECK_INT(flag_scan_count(all), 15);
    CHECK_INT(flag_scan_count(valid), 3);
    CHECK_INT(flag_scan_count(m), 4);
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
    RUN(test_raw_with_flags); /* last: they add the flagged series to the store */
    RUN(test_flag_selection);
    fixture_close();
    return CHECK_DONE();
}
