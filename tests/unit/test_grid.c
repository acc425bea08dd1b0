/* Tests for query/grid.c: window grids: offset= shifts, calendar months and years, IANA zones with
 * DST. The fixture and the references are query_fixture.h's. */
#include "query_fixture.h"

static void test_windows_offset(void)
{
    static chunk_span spans[MAX_CHUNKS];
    size_t tail, sealed = list_chunks(&ref_a, spans, &tail);
    qx_query_stats stats;
    ref_window w[8];

    /* tz +08:00, 1d: the window starts at local midnight, 16:00Z the day before. The whole
     * series lies in one local day: every sealed chunk is taken from its summary. */
    check_windows(&ref_a, T0 - DAY, T0 + DAY, DAY, 8 * HOUR, &stats);
    CHECK_INT(ref_windows(&ref_a, T0 - DAY, T0 + DAY, DAY, 8 * HOUR, w), 1);
    CHECK_INT(w[0].start, 1735660800000LL); /* 2024-12-31T16:00:00Z */
    CHECK_INT(stats.chunks_decoded, 0);
    CHECK_INT(stats.readings_decoded, 0);
    CHECK_INT(stats.chunks_from_summary, sealed);

    /* tz -02:00: local midnight at 02:00Z splits the series in two windows. */
    check_windows(&ref_a, T0 - DAY, T0 + DAY, DAY, -2 * HOUR, &stats);
    CHECK_INT(ref_windows(&ref_a, T0 - DAY, T0 + DAY, DAY, -2 * HOUR, w), 2);
    CHECK_INT(w[0].start, T0 - DAY + HOUR);
    CHECK_INT(w[1].start, T0 + HOUR);
    CHECK(stats.chunks_decoded <= 1);
    CHECK(stats.chunks_from_summary >= sealed - 1);

    /* tz +05:30 with hourly windows: windows start at hh:30Z. */
    check_windows(&ref_a, T0, T0 + 5 * HOUR, HOUR, 5 * HOUR + 30 * MINUTE, &stats);
    CHECK(ref_windows(&ref_a, T0, T0 + 5 * HOUR, HOUR, 5 * HOUR + 30 * MINUTE, w) > 0);
    CHECK_INT(w[0].start, T0 - 30 * MINUTE);
    check_windows(&ref_b, T0, T0 + 5 * HOUR, HOUR, -5 * HOUR - 30 * MINUTE, &stats);
    check_windows(&ref_e, T0, T0 + 5 * HOUR, 3 * HOUR, 5 * HOUR + 45 * MINUTE, &stats);
}

static void test_calendar_and_zone_grids(void)
{
    qp_selector sel = select_ref(&ref_a);
    recorder r;
    qx_sink sink;
    jl_error err;
    tz_zone *berlin = NULL;
    CHECK_INT(tz_zone_load("Europe/Berlin", &berlin, &err), JL_OK);
    /* In January Berlin is +01:00 all along: hourly and 7-minute windows equal the fixed grid. */
    const int64_t widths[] = {HOUR, 7 * MINUTE, DAY};
    for (size_t i = 0; i < 3 && berlin != NULL; i++) {
        recorder fixed;
        qx_query_request req = {.selector = &sel,
                                .from_ms = T0 + 3 * MINUTE,
                                .to_ms = T0 + 5 * HOUR,
                                .has_window = 1,
                                .window = {widths[i], 0},
                                .offset_ms = HOUR,
                                .aggregates = {QX_AGG_COUNT, QX_AGG_SUM},
                                .aggregate_count = 2};
        sink = rec_sink(&fixed);
        CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
        req.zone = berlin;
        req.offset_ms = 0;
        sink = rec_sink(&r);
        CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
        CHECK_INT(r.series[0].row_count, fixed.series[0].row_count);
        CHECK(r.series[0].row_count > 0);
        for (size_t row = 0; row < r.series[0].row_count && row < fixed.series[0].row_count;
             row++) {
            CHECK_INT(rec_cell(&r, 0, row, 0)->as.i, rec_cell(&fixed, 0, row, 0)->as.i);
            CHECK_INT(rec_cell(&r, 0, row, 1)->as.i, rec_cell(&fixed, 0, row, 1)->as.i);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 2)->as.d, rec_cell(&fixed, 0, row, 2)->as.d);
        }
        rec_free(&r);
        rec_free(&fixed);
    }
    /* A month in +08:00 (zone NULL: the engine makes the fixed zone) starts 2024-12-31T16:00Z;
     * shifted by 6 h it starts at 22:00Z; a year window in Berlin at 2024-12-31T23:00Z. */
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0,
                            .to_ms = T0 + 5 * HOUR,
                            .has_window = 1,
                            .window = {0, 1},
                            .offset_ms = 8 * HOUR,
                            .aggregates = {QX_AGG_COUNT},
                            .aggregate_count = 1};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 1);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 1735660800000LL);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, (int64_t)ref_a.n);
    rec_free(&r);
    req.shift_ms = 6 * HOUR;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 1735660800000LL + 6 * HOUR);
    rec_free(&r);
    req.shift_ms = 0;
    req.window = (qp_duration){0, 12};
    req.zone = berlin;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 1735686000000LL);
    rec_free(&r);
    /* Shift bounds. */
    req.shift_ms = QX_MAX_SHIFT_MS + 1;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    rec_free(&r);
    tz_zone_free(berlin);
}

int main(void)
{
    if (fixture_open() != 0)
        return 1;
    RUN(test_windows_offset);
    RUN(test_calendar_and_zone_grids);
    fixture_close();
    return CHECK_DONE();
}
