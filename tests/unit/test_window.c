/* Tests for query/window.c: windowed aggregation over the grid: exact windows, windows from chunk
 * summaries, random ranges, aggregate subsets, fill and min_count. The fixture and the references
 * are query_fixture.h's. */
#include "query_fixture.h"

static void test_windows_exact(void)
{
    static const int64_t widths[] = {MINUTE, 10 * MINUTE, 7000, HOUR, DAY, 7 * DAY};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        check_windows(&ref_a, T0, T0 + 5 * HOUR, widths[i], 0, NULL);
        check_windows(&ref_a, T0 + 3 * MINUTE + 17, T0 + 211 * MINUTE, widths[i], 0, NULL);
        check_windows(&ref_b, T0, T0 + 5 * HOUR, widths[i], 0, NULL);
        check_windows(&ref_d, T0, T0 + 5 * HOUR, widths[i], 0, NULL);
        check_windows(&ref_e, T0, T0 + 5 * HOUR, widths[i], 0, NULL);
    }

    /* 10-minute windows: the outage (minutes 100..129) leaves windows out (fill=none). */
    check_windows(&ref_a, T0, T0 + 5 * HOUR, 10 * MINUTE, 0, NULL);
    ref_window w[64];
    size_t n = ref_windows(&ref_a, T0, T0 + 5 * HOUR, 10 * MINUTE, 0, w);
    CHECK_INT(n, 21); /* 24 windows less 3 empty ones */
    CHECK_INT(w[10].start, T0 + 130 * MINUTE);

    /* The first window starts before from; it reports its start and counts readings >= from. */
    n = ref_windows(&ref_a, T0 + 5 * MINUTE + 1, T0 + 5 * HOUR, HOUR, 0, w);
    CHECK_INT(w[0].start, T0);
    CHECK_INT(w[0].count, 54);
    check_windows(&ref_a, T0 + 5 * MINUTE + 1, T0 + 5 * HOUR, HOUR, 0, NULL);
}

static void test_windows_from_summaries(void)
{
    static chunk_span spans[MAX_CHUNKS];
    size_t tail, sealed = list_chunks(&ref_a, spans, &tail);
    qx_query_stats stats;

    /* Hourly windows: chunks within one hour are not decoded, those across an hour are; the
     * figures are checked against the chunk spans inside check_windows. */
    check_windows(&ref_a, T0, T0 + 5 * HOUR, HOUR, 0, &stats);
    printf("  hourly: %" PRIu64 " chunks from summaries, %" PRIu64 " decoded of %zu\n",
           stats.chunks_from_summary, stats.chunks_decoded, sealed);
    CHECK(stats.chunks_from_summary > 0);
    CHECK_INT(stats.chunks_from_summary + stats.chunks_decoded, sealed);

    /* One window over everything, but a range that cuts the first chunk: only it is decoded. */
    check_windows(&ref_a, T0 + 1, T0 + 5 * HOUR, DAY, 0, &stats);
    CHECK_INT(stats.chunks_decoded, 1);
    CHECK_INT(stats.chunks_from_summary, sealed - 1);
    CHECK_INT(stats.readings_decoded, spans[0].count);

    /* Minute windows: a chunk spans several minutes, so everything is decoded. */
    check_windows(&ref_a, T0, T0 + 5 * HOUR, MINUTE, 0, &stats);
    CHECK_INT(stats.chunks_from_summary, 0);
    CHECK_INT(stats.chunks_decoded, sealed);

    /* Raw queries never use summaries. */
    qp_selector sel = select_ref(&ref_a);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {
        .selector = &sel, .from_ms = T0, .to_ms = T0 + 5 * HOUR, .stats = &stats};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(stats.chunks_from_summary, 0);
    CHECK_INT(stats.chunks_decoded, sealed);
    CHECK_INT(stats.readings_decoded, ref_a.n - tail);
    rec_free(&r);
}

static void test_windows_random(void)
{
    static const int64_t widths[] = {1000, 7000,     MINUTE, 5 * MINUTE, 10 * MINUTE,
                                     HOUR, 3 * HOUR, DAY,    7 * DAY,    123457};
    static const int64_t offsets[] = {0, 8 * HOUR, -2 * HOUR, -5 * HOUR - 30 * MINUTE,
                                      3 * HOUR + 17 * MINUTE};
    unsigned seed = 20250101u;
    printf("  seed %u\n", seed);
    srand(seed);
    uint64_t from_summary = 0;
    const ref_series *all[] = {&ref_a, &ref_b, &ref_d, &ref_e};
    for (int iter = 0; iter < 200; iter++) {
        int64_t w = widths[rand() % 10];
        int64_t offset = offsets[rand() % 5];
        int64_t from = T0 - 30 * MINUTE + (int64_t)(rand() % 300) * MINUTE + rand() % 60000;
        int64_t to = from + 1 + (int64_t)(rand() % 300) * MINUTE + rand() % 60000;
        qx_query_stats stats;
        check_windows(all[iter % 4], from, to, w, offset, &stats);
        from_summary += stats.chunks_from_summary;
    }
    CHECK(from_summary > 0);
}

static void test_windows_aggregate_subset(void)
{
    /* Columns follow the request, duplicates included. */
    qp_selector sel = select_ref(&ref_c);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0,
                            .to_ms = T0 + 5 * HOUR,
                            .has_window = 1,
                            .window = {2 * HOUR, 0},
                            .aggregates = {QX_AGG_MAX, QX_AGG_COUNT, QX_AGG_MAX},
                            .aggregate_count = 3};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1) {
        CHECK_STR(r.series[0].metric, "pm10");
        CHECK_STR(r.series[0].columns, "time,max,count,max");
        /* readings at 01,02,03,04,05Z: windows [00,02) [02,04) [04,06) */
        CHECK_INT(r.series[0].row_count, 3);
        if (r.series[0].row_count == 3) {
            CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 - HOUR);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 1)->as.d, 100.0);
            CHECK_INT(rec_cell(&r, 0, 0, 2)->as.i, 1);
            CHECK_INT(rec_cell(&r, 0, 1, 0)->as.i, T0 + HOUR);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, 1, 1)->as.d, 102.0);
            CHECK_INT(rec_cell(&r, 0, 1, 2)->as.i, 2);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, 2, 3)->as.d, 104.0);
        }
    }
    rec_free(&r);
}

static void test_new_aggregates_use_summaries(void)
{
    /* One day-long window over ref_a: stddev and spread come from the chunk summaries (chunks
     * inside the range), and agree with the decoded answer that p50 forces. */
    qp_selector sel = select_ref(&ref_a);
    recorder r1, r2;
    qx_sink sink = rec_sink(&r1);
    jl_error err;
    qx_query_stats stats1, stats2;
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0 - HOUR,
                            .to_ms = T0 + DAY,
                            .has_window = 1,
                            .window = {DAY, 0},
                            .aggregates = {QX_AGG_STDDEV, QX_AGG_SPREAD, QX_AGG_COUNT},
                            .aggregate_count = 3,
                            .stats = &stats1};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK(stats1.chunks_from_summary >= 8);
    req.aggregates[3] = QX_AGG_PERCENTILE;
    req.percentiles[3] = 50;
    req.aggregate_count = 4;
    req.stats = &stats2;
    sink = rec_sink(&r2);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(stats2.chunks_from_summary, 0);
    CHECK(stats2.chunks_decoded >= 8);
    CHECK_INT(r1.series[0].row_count, 1);
    CHECK_INT(r2.series[0].row_count, 1);
    CHECK_NEAR(rec_cell(&r1, 0, 0, 1)->as.d, rec_cell(&r2, 0, 0, 1)->as.d, 1e-12);
    CHECK_NEAR(rec_cell(&r1, 0, 0, 1)->as.d, ref_stddev(ref_a.vs, ref_a.n), 1e-12);
    CHECK_DOUBLE_BITS(rec_cell(&r1, 0, 0, 2)->as.d, rec_cell(&r2, 0, 0, 2)->as.d);
    CHECK_INT(rec_cell(&r1, 0, 0, 3)->as.i, (int64_t)ref_a.n);
    rec_free(&r1);
    rec_free(&r2);
}

static void test_fill_and_min_count(void)
{
    /* ref_a has a 30-minute outage (02:40Z-03:10Z): 10-minute windows over 02:00Z-04:00Z. */
    qp_selector sel = select_ref(&ref_a);
    recorder r;
    qx_sink sink;
    jl_error err;
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0 + HOUR + 5 * MINUTE,
                            .to_ms = T0 + 3 * HOUR,
                            .has_window = 1,
                            .window = {10 * MINUTE, 0},
                            .aggregates = {QX_AGG_COUNT, QX_AGG_MAX},
                            .aggregate_count = 2,
                            .fill = QX_FILL_NULL};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 12); /* 02:00 .. 03:50, the first one starting before from */
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 + HOUR);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, 5); /* 02:05 .. 02:09 */
    for (size_t row = 0; row < 12; row++) {
        int64_t start = T0 + HOUR + (int64_t)row * 10 * MINUTE;
        int empty = start >= T0 + 100 * MINUTE && start < T0 + 130 * MINUTE;
        CHECK_INT(rec_cell(&r, 0, row, 0)->as.i, start);
        CHECK_INT(rec_cell(&r, 0, row, 1)->type, empty ? QX_CELL_NULL : QX_CELL_INT);
        CHECK_INT(rec_cell(&r, 0, row, 2)->type, empty ? QX_CELL_NULL : QX_CELL_DOUBLE);
    }
    rec_free(&r);
    /* min_count=6 makes the first (5 readings) invalid: left out with none, filled with linear. */
    req.min_count = 6;
    req.fill = QX_FILL_NONE;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 8);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 + HOUR + 10 * MINUTE);
    rec_free(&r);
    req.fill = QX_FILL_LINEAR;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 12);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->type, QX_CELL_NULL); /* nothing before it */
    /* 03:00Z-03:10Z lies between 02:30Z (10 readings) and 03:10Z (10): linear gives 10. */
    CHECK_INT(rec_cell(&r, 0, 6, 1)->type, QX_CELL_DOUBLE);
    CHECK_DOUBLE_BITS(rec_cell(&r, 0, 6, 1)->as.d, 10.0);
    rec_free(&r);
    /* fill over too many windows is refused by max_windows before any row. */
    req.limits.max_windows = 11;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    CHECK_INT(r.series_count, 0);
    rec_free(&r);
    /* Options that need a window. */
    req = (qx_query_request){
        .selector = &sel, .from_ms = T0, .to_ms = T0 + HOUR, .fill = QX_FILL_PREVIOUS};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    rec_free(&r);
}

int main(void)
{
    if (fixture_open() != 0)
        return 1;
    RUN(test_windows_exact);
    RUN(test_windows_from_summaries);
    RUN(test_windows_random);
    RUN(test_windows_aggregate_subset);
    RUN(test_new_aggregates_use_summaries);
    RUN(test_fill_and_min_count);
    fixture_close();
    return CHECK_DONE();
}
