/* Unit tests for query/influxql.c: Grafana's query strings parsed into the expected statement
 * fields, the planner's mapping onto qx_query_request (bounds, windows, fill, grouping, metric
 * names), and refusals that name what is not supported. Expected values are worked out by hand
 * from the query text (1596240000000 ms is 2020-08-01T00:00:00Z). */
#include "check.h"

#include "jialing/influxql.h"

#include <stdlib.h>
#include <string.h>

static iq_query parse(const char *text)
{
    iq_query q;
    jl_error err;
    CHECK_INT(iq_parse(text, strlen(text), 1700000000000LL, &q, &err), JL_OK);
    return q;
}

static void test_grafana_select(void)
{
    iq_query q = parse("SELECT mean(\"value\") FROM \"policy\".\"cpu\" WHERE (\"hostname\" = "
                       "'server1') AND time >= 1596240000000ms and time <= 1596240300000ms "
                       "GROUP BY time(10s), \"dc\" fill(null)");
    CHECK_INT(q.count, 1);
    const iq_statement *st = &q.statements[0];
    CHECK_INT(st->kind, IQ_SELECT);
    CHECK_STR(st->measurement, "cpu");
    CHECK_STR(st->field, "value");
    CHECK_INT(st->raw, 0);
    CHECK_INT(st->column_count, 1);
    CHECK_STR(st->columns[0], "mean");
    CHECK_INT(st->condition_count, 1);
    CHECK_STR(st->conditions[0].key, "hostname");
    CHECK_STR(st->conditions[0].value, "server1");
    CHECK_INT(st->from_ms, 1596240000000LL);
    CHECK_INT(st->to_ms, 1596240300001LL); /* <= is inclusive: [from, to + 1ms) */
    CHECK_INT(st->window_ms, 10000);
    CHECK_INT(st->group_tag_count, 1);
    CHECK_STR(st->group_tags[0], "dc");

    iq_plan plan;
    jl_error err;
    qx_limits limits = {0};
    CHECK_INT(iq_plan_select(st, 0, &limits, &plan, &err), JL_OK);
    CHECK_STR(plan.metric, "cpu");
    CHECK_INT(plan.request.has_window, 1);
    CHECK_INT(plan.request.window.ms, 10000);
    CHECK_INT(plan.request.fill, QX_FILL_NULL);
    CHECK_INT(plan.request.group, 1);
    CHECK_INT(plan.request.group_tag_count, 1);
    CHECK_INT(plan.request.aggregates[0], QX_AGG_MEAN);
    CHECK_INT(plan.selector.matcher_count, 1);
    iq_plan_destroy(&plan);
    iq_query_destroy(&q);
}

static void test_times_and_fields(void)
{
    /* now() is 1700000000000 here; 7d = 604800000 ms; > rounds up to the next millisecond. */
    iq_query q = parse("select MAX(temp) AS hi, percentile(\"temp\", 95) from weather where "
                       "time > now() - 7d and time < '2023-11-15T00:00:00Z' order by time desc "
                       "limit 3 offset 1 tz('Asia/Shanghai'); SHOW TAG VALUES FROM \"m\" WITH KEY "
                       "IN (\"a\", \"b\"); show databases");
    CHECK_INT(q.count, 3);
    const iq_statement *st = &q.statements[0];
    CHECK_INT(st->kind, IQ_SELECT);
    CHECK_STR(st->columns[0], "hi");
    CHECK_STR(st->columns[1], "percentile");
    CHECK_INT(st->aggregates[1], QX_AGG_PERCENTILE);
    CHECK(st->percentiles[1] == 95.0);
    CHECK_INT(st->from_ms, 1700000000000LL - 604800000LL + 1);
    CHECK_INT(st->to_ms, 1700006400000LL);
    CHECK_INT(st->order_desc, 1);
    CHECK_INT(st->limit, 3);
    CHECK_INT(st->offset, 1);
    CHECK_STR(st->tz, "Asia/Shanghai");
    char metric[64];
    jl_error err;
    CHECK_INT(iq_metric_name(st->measurement, st->field, metric, sizeof metric, &err), JL_OK);
    CHECK_STR(metric, "weather_temp");
    CHECK_INT(q.statements[1].kind, IQ_SHOW_TAG_VALUES);
    CHECK_INT(q.statements[1].key_count, 2);
    CHECK_STR(q.statements[1].keys[1], "b");
    CHECK_INT(q.statements[2].kind, IQ_SHOW_DATABASES);
    iq_query_destroy(&q);

    /* A bare integer is nanoseconds; 1500000 ns = 1.5 ms, so >= rounds up to 2 ms. */
    q = parse("SELECT \"value\" FROM m WHERE time >= 1500000 AND s =~ /^jlp\\-01$/");
    CHECK_INT(q.statements[0].from_ms, 2);
    CHECK_STR(q.statements[0].conditions[0].value, "jlp-01");
    iq_query_destroy(&q);
}

static void test_refusals(void)
{
    static const char *const bad[] = {
        "SELECT * FROM m",
        "SELECT mean(value) FROM m WHERE a = 'x' OR a = 'y'",
        "SELECT mode(value) FROM m",
        "SELECT mean(value), max(other) FROM m",
        "SELECT value FROM m GROUP BY time(5m)",
        "SELECT mean(value) FROM /re/",
        "SELECT mean(value) FROM m WHERE value > 3",
        "DELETE FROM m",
        "SHOW SERIES",
        "SELECT mean(value FROM m",
        "SELECT \"unterminated FROM m",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        iq_query q = parse(bad[i]);
        CHECK_INT(q.count, 1);
        CHECK_INT(q.statements[0].kind, IQ_ERROR);
        CHECK(q.statements[0].error[0] != '\0');
        iq_query_destroy(&q);
    }
    iq_query q;
    jl_error err;
    CHECK_INT(iq_parse(" ; ;", 4, 0, &q, &err), JL_EINVAL);
    iq_query_destroy(&q);
    /* GROUP BY time() without a lower bound cannot be planned. */
    q = parse("SELECT mean(value) FROM m GROUP BY time(1m)");
    iq_plan plan;
    qx_limits limits = {0};
    CHECK_INT(iq_plan_select(&q.statements[0], 0, &limits, &plan, &err), JL_EINVAL);
    iq_plan_destroy(&plan);
    iq_query_destroy(&q);
}

int main(void)
{
    RUN(test_grafana_select);
    RUN(test_times_and_fields);
    RUN(test_refusals);
    return CHECK_DONE();
}
