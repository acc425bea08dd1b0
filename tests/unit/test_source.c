/* Tests for query/source.c: the block source taking chunks period by period from segment tables,
 * in a store of its own with hourly segment periods and 64-reading chunks. The fixture and the
 * references are query_fixture.h's. */
#include "query_fixture.h"

static ref_series ref_g = {"so2", {"station"}, {"g1"}, 1, {0}, {0}, 0, 0};

/* Population standard deviation of ref_g's readings in [from, to), in long double. */
static double ref_g_stddev(int64_t from, int64_t to)
{
    long double sum = 0, squares = 0;
    size_t n = 0;
    for (size_t i = 0; i < ref_g.n; i++)
        if (ref_g.ts[i] >= from && ref_g.ts[i] < to) {
            sum += ref_g.vs[i];
            n++;
        }
    long double mean = sum / (long double)n;
    for (size_t i = 0; i < ref_g.n; i++)
        if (ref_g.ts[i] >= from && ref_g.ts[i] < to)
            squares += (ref_g.vs[i] - mean) * (ref_g.vs[i] - mean);
    return (double)sqrtl(squares / (long double)n);
}

/* Windowed count, sum, mean, min, max (the aggregates segment tables serve) of ref_g, plus
 * optionally one they cannot serve (with_extra first, last or stddev; QX_AGG_COUNT for none),
 * compared with the brute-force reference. */
static void check_segment_windows(int64_t from, int64_t to, int64_t w, int64_t offset,
                                  qx_aggregate with_extra, qx_query_stats *stats)
{
    static ref_window expected[MAX_READINGS];
    qx_aggregate aggs[6] = {QX_AGG_COUNT, QX_AGG_SUM, QX_AGG_MEAN,
                            QX_AGG_MIN,   QX_AGG_MAX, with_extra};
    const int has_extra = with_extra != QX_AGG_COUNT; /* QX_AGG_COUNT: no extra aggregate */
    qp_selector sel = select_ref(&ref_g);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req =
        window_request(&sel, from, to, w, offset, aggs, has_extra ? 6 : 5, stats);
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    size_t n = ref_windows(&ref_g, from, to, w, offset, expected);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1)
        CHECK_INT(r.series[0].row_count, n);
    for (size_t i = 0; r.series_count == 1 && i < n && i < r.series[0].row_count; i++) {
        const ref_window *e = &expected[i];
        CHECK_INT(rec_cell(&r, 0, i, 0)->as.i, e->start);
        CHECK_INT(rec_cell(&r, 0, i, 1)->as.i, e->count);
        /* Values are multiples of 0.5: every sum is exact, whichever way it was added. */
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 2)->as.d, (double)e->sum);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 3)->as.d, (double)e->sum / (double)e->count);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 4)->as.d, e->min);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 5)->as.d, e->max);
        if (with_extra == QX_AGG_FIRST)
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 6)->as.d, e->first);
        if (with_extra == QX_AGG_LAST)
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 6)->as.d, e->last);
        if (with_extra == QX_AGG_STDDEV) {
            int64_t window_end = e->start + w < to ? e->start + w : to;
            double want = ref_g_stddev(e->start > from ? e->start : from, window_end);
            CHECK(fabs(rec_cell(&r, 0, i, 6)->as.d - want) <= 1e-12 * want + 1e-12);
        }
    }
    rec_free(&r);
}

static void check_segment_count(double threshold, qx_query_stats *stats)
{
    qp_selector sel = select_ref(&ref_g);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_scan_request req = {.selector = &sel,
                           .from_ms = T0,
                           .to_ms = T0 + DAY,
                           .compare = QX_GT,
                           .threshold = threshold,
                           .output = QX_SCAN_COUNT,
                           .stats = stats};
    jl_error err;
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    int64_t expected = 0;
    for (size_t i = 0; i < ref_g.n; i++)
        expected += ref_g.vs[i] > threshold;
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1 && r.series[0].row_count == 1)
        CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, expected);
    rec_free(&r);
}

/* A store with hourly segment tables and 64-reading chunks: each chunk spans an hour boundary,
 * so hourly (or coarser, aligned) windows take it period by period, and anything else decodes. */

/* A store with hourly segment tables and 64-reading chunks: each chunk spans an hour boundary,
 * so hourly (or coarser, aligned) windows take it period by period, and anything else decodes. */
static void test_segment_tables(void)
{
    char *dir = make_temp_dir_named("segments");
    st_options options = {
        .directory = dir, .sync_full = 0, .chunk_target = 64, .segment_period_ms = HOUR};
    st_store *main_store = store;
    jl_error err;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    /* 400 minutes from 01:00Z; hour h holds values in [10h, 10h + 5], in steps of 0.5. */
    static int64_t ts[400];
    static double vs[400];
    for (int i = 0; i < 400; i++) {
        ts[i] = T0 + i * MINUTE;
        vs[i] = 10.0 * (i / 60) + (double)((i * 7) % 11) * 0.5;
    }
    CHECK_INT(write_readings(&ref_g, ts, vs, 400, 64), JL_OK);
    static chunk_span spans[MAX_CHUNKS];
    size_t tail, sealed = list_chunks(&ref_g, spans, &tail);
    CHECK_INT(sealed, 6);
    CHECK_INT(tail, 16);
    qx_query_stats stats;

    /* Every chunk crosses an hour: hourly windows read their two periods. */
    check_segment_windows(T0, T0 + DAY, HOUR, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments, 6);
    CHECK_INT(stats.chunks_decoded, 0);
    CHECK_INT(stats.chunks_from_summary, 0);
    /* Two-hour windows: chunks inside one window by summary, the others by period. */
    check_segment_windows(T0, T0 + DAY, 2 * HOUR, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments + stats.chunks_from_summary, 6);
    CHECK(stats.chunks_from_segments > 0);
    CHECK_INT(stats.chunks_decoded, 0);
    /* A range that cuts the first chunk decodes it alone. */
    check_segment_windows(T0 + 30 * MINUTE, T0 + DAY, HOUR, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_decoded, 1);
    CHECK_INT(stats.chunks_from_segments, 5);
    /* Periods that do not fit the windows (half hours; hours shifted by 30 minutes), or an
     * aggregate the table cannot serve: decoded, with the same answers. */
    check_segment_windows(T0, T0 + DAY, 30 * MINUTE, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments, 0);
    CHECK_INT(stats.chunks_decoded, 6);
    check_segment_windows(T0, T0 + DAY, HOUR, 30 * MINUTE, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments, 0);
    CHECK_INT(stats.chunks_decoded, 6);
    const qx_aggregate needs_readings[] = {QX_AGG_FIRST, QX_AGG_LAST, QX_AGG_STDDEV};
    for (size_t a = 0; a < 3; a++) {
        check_segment_windows(T0, T0 + DAY, HOUR, 0, needs_readings[a], &stats);
        CHECK_INT(stats.chunks_from_segments, 0);
        CHECK_INT(stats.chunks_decoded, 6);
    }

    /* Counting above 37 splits at the 04:00 boundary: the chunk across it is counted by period;
     * above 42 the hour 05:00-05:59 is mixed, so the chunks holding it are decoded. */
    check_segment_count(37.0, &stats);
    CHECK_INT(stats.chunks_from_segments, 1);
    CHECK_INT(stats.chunks_decoded, 0);
    check_segment_count(42.0, &stats);
    CHECK(stats.chunks_decoded > 0);

    /* The tables are on disk: a reopened store answers the same way. */
    st_store_close(store);
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    check_segment_windows(T0, T0 + DAY, HOUR, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments, 6);
    st_store_close(store);
    store = main_store;
    remove_dir(dir);
}

int main(void)
{
    if (fixture_open() != 0)
        return 1;
    RUN(test_segment_tables);
    fixture_close();
    return CHECK_DONE();
}
