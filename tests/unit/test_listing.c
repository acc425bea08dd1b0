/* Tests for query/listing.c: latest and series listings. The fixture and the references are
 * query_fixture.h's. */
#include "query_fixture.h"

static void test_latest_and_series(void)
{
    qp_selector sel = selector("pm25", NULL, NULL, 0);
    const ref_series *expected[] = {&ref_a, &ref_b, &ref_d};
    recorder r;
    qx_sink sink = rec_sink(&r);
    jl_error err;
    CHECK_INT(qx_latest(store, &sel, NULL, &sink, &err), JL_OK);
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, 3);
    for (size_t i = 0; i < r.series_count && i < 3; i++) {
        char tags[128];
        ref_tags(expected[i], tags, sizeof tags);
        CHECK_STR(r.series[i].tags, tags);
        CHECK_STR(r.series[i].columns, "time,value");
        CHECK_INT(r.series[i].row_count, 1);
        CHECK_INT(rec_cell(&r, i, 0, 0)->as.i, expected[i]->ts[expected[i]->n - 1]);
        CHECK_DOUBLE_BITS(rec_cell(&r, i, 0, 1)->as.d, expected[i]->vs[expected[i]->n - 1]);
    }
    rec_free(&r);

    sink = rec_sink(&r);
    CHECK_INT(qx_series(store, &sel, NULL, 0, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 3);
    for (size_t i = 0; i < r.series_count && i < 3; i++) {
        CHECK_STR(r.series[i].metric, "pm25");
        CHECK_STR(r.series[i].columns, "first,last,count");
        CHECK_INT(r.series[i].row_count, 1);
        for (size_t c = 0; c < 3; c++)
            CHECK_INT(rec_cell(&r, i, 0, c)->type, QX_CELL_INT);
        CHECK_INT(rec_cell(&r, i, 0, 0)->as.i, expected[i]->ts[0]);
        CHECK_INT(rec_cell(&r, i, 0, 1)->as.i, expected[i]->ts[expected[i]->n - 1]);
        CHECK_INT(rec_cell(&r, i, 0, 2)->as.i, expected[i]->n);
    }
    rec_free(&r);
}

/* With flags: the fixture writes every reading without a flag, so each is counted as N, no other
 * count is set, and no review mark touches any series. */
static void test_series_with_flag_counts(void)
{
    qp_selector sel = selector("pm25", NULL, NULL, 0);
    const ref_series *expected[] = {&ref_a, &ref_b, &ref_d};
    recorder r;
    qx_sink sink = rec_sink(&r);
    jl_error err;
    CHECK_INT(qx_series(store, &sel, NULL, 1, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 3);
    for (size_t i = 0; i < r.series_count && i < 3; i++) {
        CHECK_STR(r.series[i].columns, "first,last,count,reviewed,count_N,count_F,count_M,"
                                       "count_S,count_D,count_C,count_T,count_B");
        CHECK_INT(r.series[i].row_count, 1);
        CHECK_INT(rec_cell(&r, i, 0, 2)->as.i, expected[i]->n);
        CHECK_INT(rec_cell(&r, i, 0, 3)->as.i, 0);
        CHECK_INT(rec_cell(&r, i, 0, 4)->as.i, expected[i]->n);
        for (size_t c = 5; c < 12; c++)
            CHECK_INT(rec_cell(&r, i, 0, c)->as.i, 0);
    }
    rec_free(&r);
}

int main(void)
{
    if (fixture_open() != 0)
        return 1;
    RUN(test_latest_and_series);
    RUN(test_series_with_flag_counts);
    fixture_close();
    return CHECK_DONE();
}
