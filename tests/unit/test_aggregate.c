/* Tests for query/aggregate.c: parsing aggregate lists and fill, each aggregator's exact value
 * (percentiles, stddev, spread, twa) and the compensated sum. The fixture and the references are
 * query_fixture.h's. */
#include "query_fixture.h"

static void test_parse_aggregates(void)
{
    qx_aggregate aggs[QX_MAX_AGGREGATES];
    double ps[QX_MAX_AGGREGATES];
    size_t n = 99;
    jl_error err;
    CHECK_INT(qx_parse_aggregates("mean,max", aggs, ps, &n, &err), JL_OK);
    CHECK_INT(n, 2);
    CHECK_INT(aggs[0], QX_AGG_MEAN);
    CHECK_INT(aggs[1], QX_AGG_MAX);
    CHECK_INT(qx_parse_aggregates("count,sum,mean,min,max,first,last,count", aggs, ps, &n, &err),
              JL_OK);
    CHECK_INT(n, 8);
    CHECK_INT(aggs[6], QX_AGG_LAST);
    CHECK_INT(aggs[7], QX_AGG_COUNT);
    CHECK_INT(qx_parse_aggregates("mean,foo", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_STR(err.message, "unknown aggregate \"foo\"; known: count, sum, mean, min, max, first, "
                           "last, stddev, spread, twa, p<NN> (NN from 0 to 100, e.g. p95 or "
                           "p99.9)");
    CHECK_INT(n, 0);
    CHECK_INT(qx_parse_aggregates("", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_INT(qx_parse_aggregates("mean,", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_INT(qx_parse_aggregates(",mean", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_INT(qx_parse_aggregates("MEAN", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_INT(qx_parse_aggregates(
                  "count,count,count,count,count,count,count,count,count,count,count,count,count,"
                  "count,count,count,count",
                  aggs, ps, &n, &err),
              JL_EINVAL);
    CHECK_STR(qx_aggregate_name(QX_AGG_COUNT), "count");
    CHECK_STR(qx_aggregate_name(QX_AGG_LAST), "last");
    CHECK_STR(qx_aggregate_name((qx_aggregate)99), "?");
}

static void test_compensated_sum(void)
{
    check_windows(&ref_f, T0, T0 + HOUR, HOUR, 0, NULL);
    qp_selector sel = select_ref(&ref_f);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0,
                            .to_ms = T0 + HOUR,
                            .has_window = 1,
                            .window = {HOUR, 0},
                            .aggregates = {QX_AGG_SUM, QX_AGG_MEAN},
                            .aggregate_count = 2};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1 && r.series[0].row_count == 1) {
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 1)->as.d, 10.0);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 2)->as.d, 10.0 / 12.0);
    }
    rec_free(&r);
}

static void test_new_aggregates_exact(void)
{
    /* ref_a over [from, to) in windows of w: stddev, spread, p0, p50, p90, p100, twa. */
    const int64_t froms[] = {T0, T0 + 7 * MINUTE + 1};
    const int64_t widths[] = {HOUR, 17 * MINUTE, DAY};
    static double vals[MAX_READINGS];
    for (size_t f = 0; f < 2; f++) {
        for (size_t wi = 0; wi < 3; wi++) {
            int64_t from = froms[f], to = T0 + 4 * HOUR + 13 * MINUTE, w = widths[wi];
            qp_selector sel = select_ref(&ref_a);
            recorder r;
            qx_sink sink = rec_sink(&r);
            jl_error err;
            qx_query_request req = {.selector = &sel,
                                    .from_ms = from,
                                    .to_ms = to,
                                    .has_window = 1,
                                    .window = {w, 0},
                                    .aggregates = {QX_AGG_STDDEV, QX_AGG_SPREAD, QX_AGG_PERCENTILE,
                                                   QX_AGG_PERCENTILE, QX_AGG_PERCENTILE,
                                                   QX_AGG_PERCENTILE, QX_AGG_TWA},
                                    .percentiles = {0, 0, 0, 50, 90, 100, 0},
                                    .aggregate_count = 7};
            CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
            CHECK_INT(r.series_count, 1);
            CHECK_STR(r.series[0].columns, "time,stddev,spread,p0,p50,p90,p100,twa");
            size_t row = 0, prev = SIZE_MAX;
            for (size_t i = 0; i < ref_a.n;) {
                if (ref_a.ts[i] < from || ref_a.ts[i] >= to) {
                    if (ref_a.ts[i] < from)
                        i++;
                    else
                        break;
                    continue;
                }
                int64_t start = ref_window_start(ref_a.ts[i], w, 0), end = start + w;
                size_t j = i, n = 0;
                while (j < ref_a.n && ref_a.ts[j] < end && ref_a.ts[j] < to)
                    vals[n++] = ref_a.vs[j++];
                /* twa: the previous reading in the range carries in; the last holds to the end. */
                int64_t cover_end = end < to ? end : to, cover_start = ref_a.ts[i];
                long double integral = 0;
                if (prev != SIZE_MAX) {
                    cover_start = start > from ? start : from;
                    integral += (long double)ref_a.vs[prev] * (ref_a.ts[i] - cover_start);
                }
                for (size_t k = i; k < j; k++)
                    integral += (long double)ref_a.vs[k] *
                                ((k + 1 < j ? ref_a.ts[k + 1] : cover_end) - ref_a.ts[k]);
                double lo = vals[0], hi = vals[0];
                for (size_t k = 0; k < n; k++) {
                    lo = vals[k] < lo ? vals[k] : lo;
                    hi = vals[k] > hi ? vals[k] : hi;
                }
                if (row < r.series[0].row_count) {
                    CHECK_INT(rec_cell(&r, 0, row, 0)->as.i, start);
                    CHECK_NEAR(rec_cell(&r, 0, row, 1)->as.d, ref_stddev(vals, n), 1e-9);
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 2)->as.d, hi - lo);
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 3)->as.d, lo);
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 4)->as.d, ref_percentile(vals, n, 50));
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 5)->as.d, ref_percentile(vals, n, 90));
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 6)->as.d, hi);
                    CHECK_NEAR(rec_cell(&r, 0, row, 7)->as.d,
                               (double)(integral / (cover_end - cover_start)), 1e-9);
                }
                row++;
                prev = j - 1;
                i = j;
            }
            CHECK_INT(r.series[0].row_count, row);
            rec_free(&r);
        }
    }
}

static void test_parse_new_aggregates_and_fill(void)
{
    qx_aggregate aggs[QX_MAX_AGGREGATES];
    double ps[QX_MAX_AGGREGATES];
    size_t n = 0;
    jl_error err;
    CHECK_INT(qx_parse_aggregates("stddev,p95,spread,p99.9,twa,p0,p100", aggs, ps, &n, &err),
              JL_OK);
    CHECK_INT(n, 7);
    CHECK_INT(aggs[0], QX_AGG_STDDEV);
    CHECK_INT(aggs[1], QX_AGG_PERCENTILE);
    CHECK_DOUBLE_BITS(ps[1], 95.0);
    CHECK_INT(aggs[2], QX_AGG_SPREAD);
    CHECK_DOUBLE_BITS(ps[3], 99.9);
    CHECK_INT(aggs[4], QX_AGG_TWA);
    CHECK_DOUBLE_BITS(ps[5], 0.0);
    CHECK_DOUBLE_BITS(ps[6], 100.0);
    const char *bad[] = {"p101", "p",           "p-1",   "p9.", "p.5",
                         "p1e2", "p99.1234567", "p1000", "P50", "p<NN>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(qx_parse_aggregates(bad[i], aggs, ps, &n, &err), JL_EINVAL);
    qx_fill fill;
    double value;
    CHECK_INT(qx_parse_fill("none", &fill, &value, &err), JL_OK);
    CHECK_INT(fill, QX_FILL_NONE);
    CHECK_INT(qx_parse_fill("linear", &fill, &value, &err), JL_OK);
    CHECK_INT(fill, QX_FILL_LINEAR);
    CHECK_INT(qx_parse_fill("-2.5", &fill, &value, &err), JL_OK);
    CHECK_INT(fill, QX_FILL_VALUE);
    CHECK_DOUBLE_BITS(value, -2.5);
    CHECK_INT(qx_parse_fill("nan", &fill, &value, &err), JL_EINVAL);
    CHECK_INT(qx_parse_fill("Previous", &fill, &value, &err), JL_EINVAL);
    CHECK_INT(qx_parse_fill("", &fill, &value, &err), JL_EINVAL);
}

int main(void)
{
    if (fixture_open() != 0)
        return 1;
    RUN(test_parse_aggregates);
    RUN(test_compensated_sum);
    RUN(test_new_aggregates_exact);
    RUN(test_parse_new_aggregates_and_fill);
    fixture_close();
    return CHECK_DONE();
}
