/* Unit tests for query/influxql.c: Grafana's query strings parsed into the expected statement
 * fields, the planner's mapping onto qx_query_request (bounds, windows, fill, grouping, metric
 * names), and refusals that name what is not supported. Expected values are worked out by hand
 * from the query text (1596240000000 ms is 2020-08-01T00:00:00Z). WHERE clauses with OR and
 * regex alternations are checked as the disjuncts written out by hand, and the union they plan
 * to is run by the engine over query_fixture.h's store, against its reference readings. */
#include "query_fixture.h"

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
    CHECK_INT(st->disjunct_count, 1);
    CHECK_INT(st->disjuncts[0].condition_count, 1);
    CHECK_STR(st->disjuncts[0].conditions[0].key, "hostname");
    CHECK_STR(st->disjuncts[0].conditions[0].value, "server1");
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
    CHECK_INT(plan.selector_count, 1);
    CHECK_INT(plan.selectors[0].matcher_count, 1);
    CHECK(plan.request.selector == &plan.selectors[0]);
    CHECK_INT(plan.request.more_selector_count, 0);
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
    CHECK_STR(q.statements[0].disjuncts[0].conditions[0].value, "jlp-01");
    iq_query_destroy(&q);
}

static void test_refusals(void)
{
    static const char *const bad[] = {
        "SELECT * FROM m",
        "SELECT mean(value) FROM m WHERE a = 'x' OR time > now() - 1h",
        "SELECT mean(value) FROM m WHERE (a = 'x' AND time > 0ms) OR a = 'y'",
        "SELECT mean(value) FROM m WHERE a =~ /^x.*$/",
        "SELECT mean(value) FROM m WHERE a =~ /^(x|)$/",
        "SELECT mean(value) FROM m WHERE a =~ /^$/",
        "SELECT mean(value) FROM m WHERE a =~ /^x|y$/",
        "SELECT mean(value) FROM m WHERE a =~ /^(x|y$/",
        "SELECT mean(value) FROM m WHERE a =~ /^(x|\\d)$/",
        "SELECT mean(value) FROM m WHERE (a = 'x' OR a = 'y'",
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

/* One condition of a parsed disjunct, checked as text "key=value" or "key!=value". */
static void check_condition(const iq_conjunct *c, size_t i, const char *expected)
{
    char text[256];
    CHECK(i < c->condition_count);
    if (i >= c->condition_count)
        return;
    snprintf(text, sizeof text, "%s%s%s", c->conditions[i].key,
             c->conditions[i].negate ? "!=" : "=", c->conditions[i].value);
    CHECK_STR(text, expected);
}

static void test_or_and_alternations(void)
{
    /* Grafana ORing two tag values, ANDed with a third tag and the time range. */
    iq_query q = parse("SELECT mean(\"value\") FROM \"pm25\" WHERE (\"station\" = 'a' OR "
                       "\"station\" = 'b') AND \"district\" = 'd1' AND time >= 1596240000000ms "
                       "and time <= 1596240300000ms GROUP BY time(1m) fill(none)");
    const iq_statement *st = &q.statements[0];
    CHECK_INT(st->kind, IQ_SELECT);
    CHECK_INT(st->disjunct_count, 2);
    CHECK_INT(st->disjuncts[0].condition_count, 2);
    check_condition(&st->disjuncts[0], 0, "station=a");
    check_condition(&st->disjuncts[0], 1, "district=d1");
    CHECK_INT(st->disjuncts[1].condition_count, 2);
    check_condition(&st->disjuncts[1], 0, "station=b");
    check_condition(&st->disjuncts[1], 1, "district=d1");
    CHECK_INT(st->from_ms, 1596240000000LL);
    CHECK_INT(st->to_ms, 1596240300001LL);
    iq_plan plan;
    jl_error err;
    qx_limits limits = {0};
    CHECK_INT(iq_plan_select(st, 0, &limits, &plan, &err), JL_OK);
    CHECK_INT(plan.selector_count, 2);
    CHECK(plan.request.more_selectors == &plan.selectors[1]);
    CHECK_INT(plan.request.more_selector_count, 1);
    CHECK_STR(plan.selectors[1].metric, "pm25");
    CHECK_STR(plan.selectors[1].matchers[0].value, "b");
    iq_plan_destroy(&plan);
    iq_query_destroy(&q);

    /* Grafana's multi-value template variable, with an escaped dot and an escaped slash. */
    q = parse("SELECT last(\"value\") FROM \"m\" WHERE \"station\" =~ /^(a\\.b|c|d\\/e)$/ AND "
              "\"kind\" !~ /^(x|y)$/ AND time >= now() - 1h");
    st = &q.statements[0];
    CHECK_INT(st->kind, IQ_SELECT);
    CHECK_INT(st->disjunct_count, 3);
    static const char *const stations[] = {"station=a.b", "station=c", "station=d/e"};
    for (size_t i = 0; i < 3; i++) {
        CHECK_INT(st->disjuncts[i].condition_count, 3);
        check_condition(&st->disjuncts[i], 0, stations[i]);
        check_condition(&st->disjuncts[i], 1, "kind!=x");
        check_condition(&st->disjuncts[i], 2, "kind!=y");
    }
    CHECK_INT(st->from_ms, 1700000000000LL - 3600000LL);
    iq_query_destroy(&q);

    /* AND binds tighter than OR; (a OR b) AND (c OR d) multiplies out to four; a repeated
     * condition is kept once; a single-literal regex is one alternative. */
    q = parse("SELECT \"value\" FROM m WHERE s = '1' OR s = '2' AND k = 'x'; "
              "SELECT \"value\" FROM m WHERE (s = '1' OR s = '2') AND (k =~ /^x$/ OR k = 'y') "
              "AND s = '1'");
    st = &q.statements[0];
    CHECK_INT(st->disjunct_count, 2);
    CHECK_INT(st->disjuncts[0].condition_count, 1);
    check_condition(&st->disjuncts[0], 0, "s=1");
    CHECK_INT(st->disjuncts[1].condition_count, 2);
    check_condition(&st->disjuncts[1], 0, "s=2");
    check_condition(&st->disjuncts[1], 1, "k=x");
    st = &q.statements[1];
    CHECK_INT(st->disjunct_count, 4);
    static const char *const expected[4][3] = {
        {"s=1", "k=x", NULL}, {"s=1", "k=y", NULL}, {"s=2", "k=x", "s=1"}, {"s=2", "k=y", "s=1"}};
    for (size_t i = 0; i < 4; i++) {
        size_t n = expected[i][2] ? 3 : 2;
        CHECK_INT(st->disjuncts[i].condition_count, n);
        for (size_t j = 0; j < n; j++)
            check_condition(&st->disjuncts[i], j, expected[i][j]);
    }
    iq_query_destroy(&q);

    /* 32 alternatives are planned; 33 are refused, naming the limit. */
    char text[1024];
    for (int total = 32; total <= 33; total++) {
        int n = snprintf(text, sizeof text, "SELECT \"value\" FROM m WHERE s =~ /^(");
        for (int i = 0; i < total; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, "%sv%d", i ? "|" : "", i);
        snprintf(text + n, sizeof text - (size_t)n, ")$/");
        q = parse(text);
        if (total == 32) {
            CHECK_INT(q.statements[0].kind, IQ_SELECT);
            CHECK_INT(q.statements[0].disjunct_count, 32);
            check_condition(&q.statements[0].disjuncts[31], 0, "s=v31");
        } else {
            CHECK_INT(q.statements[0].kind, IQ_ERROR);
            CHECK(strstr(q.statements[0].error, "at most 32") != NULL);
        }
        iq_query_destroy(&q);
    }
    /* (6 alternatives) AND (6 alternatives) = 36 > 32. */
    q = parse("SELECT \"value\" FROM m WHERE a =~ /^(1|2|3|4|5|6)$/ AND b =~ /^(1|2|3|4|5|6)$/");
    CHECK_INT(q.statements[0].kind, IQ_ERROR);
    CHECK(strstr(q.statements[0].error, "36 alternatives") != NULL);
    iq_query_destroy(&q);
    q = parse("SELECT \"value\" FROM m WHERE a = 'x' OR time > now() - 1h");
    CHECK(strstr(q.statements[0].error, "OR over time") != NULL);
    iq_query_destroy(&q);
    q = parse("SELECT \"value\" FROM m WHERE a =~ /^x+$/");
    CHECK(strstr(q.statements[0].error, "/^x+$/ is not supported") != NULL);
    iq_query_destroy(&q);
}

/* The plan of a WHERE with OR, run by the engine over the fixture: station s1 (series a) and
 * district d1 (series a, b) overlap in a; the union is a and b, each once. */
static void test_union_query(void)
{
    if (fixture_open() != 0) {
        CHECK(0);
        return;
    }
    iq_query q = parse("SELECT count(\"value\") FROM \"pm25\" WHERE \"station\" = 's1' OR "
                       "\"district\" =~ /^(d1|d9)$/ GROUP BY \"station\"; "
                       "SELECT count(\"value\") FROM \"pm25\" WHERE \"station\" = 's1' OR "
                       "\"district\" = 'd1'; "
                       "SELECT \"value\" FROM \"pm25\" WHERE \"station\" = 's1' OR "
                       "\"station\" = 's1' OR \"station\" = 's3'");
    CHECK_INT(q.count, 3);
    qx_limits limits = {0};
    jl_error err;
    iq_plan plan;
    recorder r;
    qx_sink sink;

    /* Grouped by station: one group per series, the count of its readings. */
    CHECK_INT(q.statements[0].disjunct_count, 3);
    CHECK_INT(iq_plan_select(&q.statements[0], 0, &limits, &plan, &err), JL_OK);
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &plan.request, &sink, &err), JL_OK);
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, 2);
    if (r.series_count == 2) {
        CHECK_STR(r.series[0].tags, "station=s1");
        CHECK_INT(r.series[0].row_count, 1);
        CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, (int64_t)ref_a.n);
        CHECK_STR(r.series[1].tags, "station=s2");
        CHECK_INT(rec_cell(&r, 1, 0, 1)->as.i, (int64_t)ref_b.n);
    }
    rec_free(&r);
    iq_plan_destroy(&plan);

    /* One group over the union: a counted once. */
    CHECK_INT(iq_plan_select(&q.statements[1], 0, &limits, &plan, &err), JL_OK);
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &plan.request, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1)
        CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, (int64_t)(ref_a.n + ref_b.n));
    rec_free(&r);
    iq_plan_destroy(&plan);

    /* Raw readings: series a and d in id order, each once, all their readings. */
    CHECK_INT(iq_plan_select(&q.statements[2], 0, &limits, &plan, &err), JL_OK);
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &plan.request, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 2);
    if (r.series_count == 2) {
        CHECK_STR(r.series[0].tags, "district=d1;station=s1");
        CHECK_INT(r.series[0].row_count, ref_a.n);
        CHECK_STR(r.series[1].tags, "district=d2;station=s3");
        CHECK_INT(r.series[1].row_count, ref_d.n);
        CHECK_INT(rec_cell(&r, 1, 0, 0)->as.i, ref_d.ts[0]);
    }
    rec_free(&r);
    iq_plan_destroy(&plan);

    /* The union counts against max_series: two series, a limit of one. */
    limits.max_series = 1;
    CHECK_INT(iq_plan_select(&q.statements[1], 0, &limits, &plan, &err), JL_OK);
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &plan.request, &sink, &err), JL_ELIMIT);
    rec_free(&r);
    iq_plan_destroy(&plan);
    iq_query_destroy(&q);
    fixture_close();
}

/* Input that must be refused without harm: nesting past 32 levels (each level recurses), a quoted
 * time shorter than a date, and a sum of now() terms whose total would overflow int64. */
static void test_hostile_input(void)
{
    jl_buf text;
    jl_buf_init(&text);
    for (int depth = 32; depth <= 20000; depth = depth == 32 ? 33 : 20000) {
        text.len = 0;
        jl_buf_append_str(&text, "SELECT mean(value) FROM m WHERE ");
        for (int i = 0; i < depth; i++)
            jl_buf_append_str(&text, "(");
        jl_buf_append_str(&text, "a = 'x'");
        for (int i = 0; i < depth; i++)
            jl_buf_append_str(&text, ")");
        iq_query q = parse(text.data);
        CHECK_INT(q.count, 1);
        if (depth == 32) {
            CHECK_INT(q.statements[0].kind, IQ_SELECT);
        } else {
            CHECK_INT(q.statements[0].kind, IQ_ERROR);
            CHECK_STR(q.statements[0].error, "parentheses in WHERE nest deeper than 32 levels");
        }
        iq_query_destroy(&q);
        if (depth == 20000)
            break;
    }
    /* A quoted time is read as the API reads times: four digits are epoch milliseconds. */
    iq_query q = parse("SELECT mean(value) FROM m WHERE time >= '2026'");
    CHECK_INT(q.statements[0].kind, IQ_SELECT);
    CHECK_INT(q.statements[0].from_ms, 2026);
    iq_query_destroy(&q);
    /* 300,000 terms of +3,000,000 h (1.08e13 ms each): the first already leaves the range. */
    text.len = 0;
    jl_buf_append_str(&text, "SELECT mean(value) FROM m WHERE time >= now()");
    for (int i = 0; i < 300000; i++)
        jl_buf_append_str(&text, " + 3000000h");
    q = parse(text.data);
    CHECK_INT(q.statements[0].kind, IQ_ERROR);
    CHECK_STR(q.statements[0].error, "a time is out of range");
    iq_query_destroy(&q);
    jl_buf_destroy(&text);
}

int main(void)
{
    RUN(test_grafana_select);
    RUN(test_times_and_fields);
    RUN(test_refusals);
    RUN(test_or_and_alternations);
    RUN(test_union_query);
    RUN(test_hostile_input);
    return CHECK_DONE();
}
