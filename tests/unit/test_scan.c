/* Tests for query/scan.c: threshold scans (points, count, chunk skipping), episodes and duration.
 * The fixture and the references are query_fixture.h's. */
#include "query_fixture.h"

static void test_scan(void)
{
    qx_query_stats ps, cs;

    /* E is the ramp i/4: above 20.0 means i > 80. Chunks of i < 80 cannot match; chunks of
     * i > 80 wholly inside the range all match and are counted from their summaries. Exact
     * figures are checked against the chunk spans inside check_scan. */
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_GT, 20.0, &ps, &cs);
    printf("  scan gt: points %" PRIu64 "/%" PRIu64 ", count %" PRIu64 "/%" PRIu64
           " (summary/decoded)\n",
           ps.chunks_from_summary, ps.chunks_decoded, cs.chunks_from_summary, cs.chunks_decoded);
    CHECK(ps.chunks_from_summary > 0);
    CHECK(cs.chunks_from_summary > ps.chunks_from_summary);
    CHECK(cs.chunks_decoded <= 1);
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_GE, 20.0, &ps, &cs);
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_LT, 5.0, &ps, &cs);
    CHECK(ps.chunks_from_summary > 0);
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_LE, 5.0, &ps, &cs);
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_GT, 1000.0, &ps, &cs);
    CHECK_INT(ps.chunks_decoded, 0);

    /* A range cutting chunks: all-matching chunks that stick out must be decoded to count. */
    check_scan(&ref_e, T0 + 100 * MINUTE + 30000, T0 + 150 * MINUTE + 1, QX_GT, 1.0, &ps, &cs);
    CHECK(cs.chunks_decoded >= 1);

    /* No chunk skipping possible: values all over the range in every chunk. */
    check_scan(&ref_a, T0, T0 + 5 * HOUR, QX_GE, 0.0, &ps, &cs);
    CHECK_INT(ps.chunks_from_summary, 0);
    check_scan(&ref_a, T0 + 17 * MINUTE, T0 + 237 * MINUTE, QX_LT, 3.5, &ps, &cs);
    check_scan(&ref_b, T0, T0 + 5 * HOUR, QX_GT, 5.0, &ps, &cs);
    check_scan(&ref_d, T0, T0 + 5 * HOUR, QX_GE, 30.0, &ps, &cs);
    check_scan(&ref_d, T0, T0 + 5 * HOUR, QX_LT, 0.0, &ps, &cs); /* only the overwrite -3.0 */

    /* Count gives a row for every series, zeros included. */
    qp_selector sel = selector("pm25", NULL, NULL, 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_scan_request req = {.selector = &sel,
                           .from_ms = T0,
                           .to_ms = T0 + 5 * HOUR,
                           .compare = QX_GT,
                           .threshold = 500.0,
                           .output = QX_SCAN_COUNT};
    jl_error err;
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 3);
    if (r.series_count == 3) {
        CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 0);
        CHECK_INT(rec_cell(&r, 1, 0, 0)->as.i, 0);
        CHECK_INT(rec_cell(&r, 2, 0, 0)->as.i, 1); /* D's late 1000.0 */
    }
    rec_free(&r);
}

/* Episodes by the definition in query.h, for ref_e (a ramp 0, 0.25, ...). */
static void test_episodes_and_duration(void)
{
    qp_selector sel = select_ref(&ref_e);
    recorder r;
    qx_sink sink = rec_sink(&r);
    jl_error err;
    qx_query_stats stats;
    /* Above 30 from minute 121 (30.25) to the last reading (169): one run ending at its last. */
    qx_scan_request req = {.selector = &sel,
                           .from_ms = T0,
                           .to_ms = T0 + DAY,
                           .compare = QX_GT,
                           .threshold = 30.0,
                           .output = QX_SCAN_EPISODES,
                           .stats = &stats};
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_STR(r.series[0].columns, "start,end,duration,count,peak");
    CHECK_INT(r.series[0].row_count, 1);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 + 121 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, T0 + 169 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 2)->as.i, 48 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 3)->as.i, 49);
    CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 4)->as.d, 169 * 0.25);
    CHECK(stats.chunks_from_summary >= 5); /* chunks below 30 skipped, those above taken whole */
    rec_free(&r);
    /* Below 10 (le): minutes 0..40 (value 10 at 40), ended by minute 41. A range from minute 20:
     * the run starts at 20. */
    req.compare = QX_LE;
    req.threshold = 10.0;
    req.from_ms = T0 + 20 * MINUTE;
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 1);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 + 20 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, T0 + 41 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 3)->as.i, 21);
    CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 4)->as.d, 5.0);
    rec_free(&r);
    /* min_duration longer than the run drops it; duration then reports 0 for the series. */
    req.min_duration_ms = 22 * MINUTE;
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 0);
    rec_free(&r);
    req.output = QX_SCAN_DURATION;
    req.min_duration_ms = 21 * MINUTE;
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_STR(r.series[0].columns, "duration");
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 21 * MINUTE);
    rec_free(&r);
    req.max_gap_ms = -1;
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_EINVAL);
    rec_free(&r);
}

int main(void)
{
    if (fixture_open() != 0)
        return 1;
    RUN(test_scan);
    RUN(test_episodes_and_duration);
    fixture_close();
    return CHECK_DONE();
}
