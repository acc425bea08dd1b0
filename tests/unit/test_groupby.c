/* Tests for query/groupby.c: group_by merging the windows of several series (partial aggregates
 * merged). The fixture and the references are query_fixture.h's. */
#include "query_fixture.h"

static void test_group_by_merges_partials(void)
{
    /* pm25 has d1/s1 (A), d1/s2 (B), d2/s3 (D). group_by district: d1 = A + B pooled. */
    qp_selector sel = selector("pm25", NULL, NULL, 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    jl_error err;
    qx_query_request req = {
        .selector = &sel,
        .from_ms = T0,
        .to_ms = T0 + 5 * HOUR,
        .has_window = 1,
        .window = {HOUR, 0},
        .aggregates = {QX_AGG_COUNT, QX_AGG_MAX, QX_AGG_FIRST, QX_AGG_PERCENTILE},
        .percentiles = {0, 0, 0, 50},
        .aggregate_count = 4,
        .group = 1,
        .group_tags = {"district"},
        .group_tag_count = 1};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 2);
    CHECK_STR(r.series[0].tags, "district=d1");
    CHECK_STR(r.series[1].tags, "district=d2");
    CHECK_STR(r.series[0].metric, "pm25");
    static double vals[2 * MAX_READINGS];
    for (size_t row = 0; row < r.series[0].row_count; row++) {
        int64_t start = rec_cell(&r, 0, row, 0)->as.i;
        size_t n = 0;
        double mx = -1e300, first = 0;
        int64_t first_t = INT64_MAX;
        const ref_series *members[] = {&ref_a, &ref_b};
        for (size_t m = 0; m < 2; m++) {
            for (size_t i = 0; i < members[m]->n; i++) {
                int64_t t = members[m]->ts[i];
                if (t < start || t >= start + HOUR || t >= T0 + 5 * HOUR)
                    continue;
                vals[n++] = members[m]->vs[i];
                mx = members[m]->vs[i] > mx ? members[m]->vs[i] : mx;
                if (t < first_t) {
                    first_t = t;
                    first = members[m]->vs[i];
                }
            }
        }
        CHECK_INT(rec_cell(&r, 0, row, 1)->as.i, (int64_t)n);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 2)->as.d, mx);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 3)->as.d, first);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 4)->as.d, ref_percentile(vals, n, 50));
    }
    CHECK_INT(r.series[0].row_count, 4);
    rec_free(&r);
    /* Every series merged into one, no tags: counts add up to all pm25 readings in range. */
    req.group_tag_count = 0;
    req.aggregates[0] = QX_AGG_COUNT;
    req.aggregate_count = 1;
    req.window = (qp_duration){DAY, 0};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 1);
    CHECK_STR(r.series[0].tags, "");
    size_t total = 0;
    const ref_series *pm25[] = {&ref_a, &ref_b, &ref_d};
    for (size_t m = 0; m < 3; m++)
        for (size_t i = 0; i < pm25[m]->n; i++)
            total += pm25[m]->ts[i] >= T0 && pm25[m]->ts[i] < T0 + 5 * HOUR;
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, (int64_t)total);
    rec_free(&r);
}

int main(void)
{
    if (fixture_open() != 0)
        return 1;
    RUN(test_group_by_merges_partials);
    fixture_close();
    return CHECK_DONE();
}
