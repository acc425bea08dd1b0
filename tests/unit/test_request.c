/* Tests query/request.c: every endpoint's parameters into its request struct, with the parsed
 * values and the exact messages a client reads. Expected times come from `date -u -d TEXT +%s%3N`
 * (2025-01-01T00:00:00Z = 1735689600000); messages are the ones the e2e suite and DESIGN hold
 * fixed, written out here in full. */
#include "check.h"

#include "jialing/request.h"
#include "jialing/flag.h"

#include <stdlib.h>
#include <string.h>

#define NOW_MS 1735689600000LL /* 2025-01-01T00:00:00Z */
#define MAX_TEST_PARAMS 32

/* A query string split at '&' and '=' (values already decoded, as the server hands them). */
typedef struct params {
    char text[1024];
    rq_param items[MAX_TEST_PARAMS];
    size_t count;
} params;

/* The test's format= parser: "json" 0, "csv" 1, "msgpack" 2. */
static int test_format(const char *text, int *format, jl_error *err)
{
    static const char *const names[] = {"json", "csv", "msgpack"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) {
            *format = i;
            return JL_OK;
        }
    return jl_error_set(err, JL_EINVAL, "format \"%s\" is not known", text);
}

static rq_input input(params *p, const char *query)
{
    snprintf(p->text, sizeof p->text, "%s", query);
    p->count = 0;
    char *save = NULL;
    for (char *part = strtok_r(p->text, "&", &save); part && p->count < MAX_TEST_PARAMS;
         part = strtok_r(NULL, "&", &save)) {
        char *equals = strchr(part, '=');
        if (equals)
            *equals = '\0';
        p->items[p->count].key = part;
        p->items[p->count++].value = equals ? equals + 1 : "";
    }
    rq_input in = {.params = p->items,
                   .param_count = p->count,
                   .now_ms = NOW_MS,
                   .format = 0,
                   .parse_format = test_format,
                   .limits = {.max_series = 7, .max_rows = 8, .max_windows = 9, .timeout_ms = 10}};
    return in;
}

/* Parses query for endpoint expecting JL_EINVAL and the exact message. */
static void read_fails(rq_endpoint endpoint, const char *query, const char *message)
{
    params p;
    rq_input in = input(&p, query);
    rq_read r;
    jl_error err;
    jl_error_clear(&err);
    CHECK_INT(rq_read_parse(endpoint, &in, &r, &err), JL_EINVAL);
    CHECK_INT(err.code, JL_EINVAL);
    if (strcmp(err.message, message) != 0)
        fprintf(stderr, "  request %s\n", query);
    CHECK_STR(err.message, message);
    rq_read_destroy(&r);
}

static void query_fails(const char *query, const char *message)
{
    read_fails(RQ_QUERY, query, message);
}

static void scan_fails(const char *query, const char *message)
{
    read_fails(RQ_SCAN, query, message);
}

static void test_param_lists(void)
{
    params p;
    rq_input in = input(&p, "a=1&b&a=2");
    jl_error err;
    CHECK_STR(rq_param_get(in.params, in.param_count, "a"), "1");
    CHECK_STR(rq_param_get(in.params, in.param_count, "b"), "");
    CHECK(rq_param_get(in.params, in.param_count, "c") == NULL);
    CHECK_INT(rq_check_repeated(in.params, in.param_count, "b", &err), JL_OK);
    CHECK_INT(rq_check_repeated(in.params, in.param_count, "a", &err), JL_EINVAL);
    CHECK_STR(err.message, "parameter a is given more than once");
    static const char *const ab[] = {"a", "b", NULL};
    static const char *const b_only[] = {"b", NULL};
    CHECK_INT(rq_check_known(in.params, in.param_count, ab, &err), JL_EINVAL);
    CHECK_STR(err.message, "parameter a is given more than once");
    CHECK_INT(rq_check_known(in.params, in.param_count, b_only, &err), JL_EINVAL);
    CHECK_STR(err.message, "unknown parameter \"a\"");
    in = input(&p, "b=1&a=1");
    CHECK_INT(rq_check_known(in.params, in.param_count, ab, &err), JL_OK);
}

static void test_query_defaults(void)
{
    params p;
    rq_input in = input(&p, "series=pm25");
    rq_read q;
    jl_error err;
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK(q.query.selector == &q.selector);
    CHECK_STR(q.selector.metric, "pm25");
    CHECK_INT(q.query.to_ms, NOW_MS + 1);
    CHECK_INT(q.query.from_ms, NOW_MS + 1 - 86400000);
    CHECK_INT(q.query.has_window, 0);
    CHECK_INT(q.query.fill, QX_FILL_NONE);
    CHECK_INT(q.query.offset_ms, 0);
    CHECK(q.query.zone == NULL);
    CHECK_INT(q.query.group, 0);
    CHECK_INT(q.query.limits.max_series, 7);
    CHECK_INT(q.query.limits.max_rows, 8);
    CHECK_INT(q.query.limits.max_windows, 9);
    CHECK_INT(q.query.limits.timeout_ms, 10);
    CHECK(q.query.stats == NULL);
    CHECK_INT(q.format, 0);
    rq_read_destroy(&q);
    /* A window alone means agg=mean; fill=none needs no window. */
    in = input(&p, "series=pm25&window=1mo&fill=none&format=csv");
    in.format = 2; /* the server's pick from Accept; format= wins */
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.query.has_window, 1);
    CHECK_INT(q.query.window.ms, 0);
    CHECK_INT(q.query.window.months, 1);
    CHECK_INT(q.query.aggregate_count, 1);
    CHECK_INT(q.query.aggregates[0], QX_AGG_MEAN);
    CHECK_INT(q.format, 1);
    rq_read_destroy(&q);
    in = input(&p, "series=pm25");
    in.format = 2;
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.format, 2);
    rq_read_destroy(&q);
}

static void test_query_every_parameter(void)
{
    params p;
    rq_input in = input(&p, "series=pm25{station=\"s01\"}&from=2025-01-01T00:00:00+08:00"
                            "&to=2025-01-02T00:00:00Z&window=1h&agg=mean,p95,count&tz=+08:00"
                            "&fill=-2.5&offset=-30m&min_count=18&group_by=station,district");
    rq_read q;
    jl_error err;
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_STR(q.selector.metric, "pm25");
    CHECK_INT(q.selector.matcher_count, 1);
    CHECK_STR(q.selector.matchers[0].key, "station");
    CHECK_STR(q.selector.matchers[0].value, "s01");
    CHECK_INT(q.query.from_ms, 1735660800000LL);
    CHECK_INT(q.query.to_ms, 1735776000000LL);
    CHECK_INT(q.query.window.ms, 3600000);
    CHECK_INT(q.query.aggregate_count, 3);
    CHECK_INT(q.query.aggregates[0], QX_AGG_MEAN);
    CHECK_INT(q.query.aggregates[1], QX_AGG_PERCENTILE);
    CHECK_INT(q.query.aggregates[2], QX_AGG_COUNT);
    CHECK_DOUBLE_BITS(q.query.percentiles[0], 0.0);
    CHECK_DOUBLE_BITS(q.query.percentiles[1], 95.0);
    CHECK_INT(q.query.offset_ms, 28800000);
    CHECK(q.query.zone == NULL);
    CHECK_INT(q.query.fill, QX_FILL_VALUE);
    CHECK_DOUBLE_BITS(q.query.fill_value, -2.5);
    CHECK_INT(q.query.shift_ms, -1800000);
    CHECK_INT(q.query.min_count, 18);
    CHECK_INT(q.query.group, 1);
    CHECK_INT(q.query.group_tag_count, 2);
    CHECK_STR(q.query.group_tags[0], "station");
    CHECK_STR(q.query.group_tags[1], "district");
    rq_read_destroy(&q);
    /* An IANA zone is loaded and owned by the request; "+6h" and " 6h" (a '+' decoded as a
     * space) are the same shift; an empty group_by merges every series. */
    in = input(&p, "series=pm25&window=1d&tz=Asia/Shanghai&offset= 6h&group_by=&min_count="
                   "1000000000000");
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK(q.zone != NULL);
    CHECK(q.query.zone == q.zone);
    CHECK_INT(q.query.offset_ms, 0);
    CHECK_INT(q.query.shift_ms, 21600000);
    CHECK_INT(q.query.group, 1);
    CHECK_INT(q.query.group_tag_count, 0);
    CHECK_INT(q.query.min_count, 1000000000000ULL);
    rq_read_destroy(&q);
    CHECK(q.zone == NULL);
    rq_read_destroy(&q); /* twice is harmless */
    in = input(&p, "series=pm25&window=1d&offset=+6h&fill=linear");
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.query.shift_ms, 21600000);
    CHECK_INT(q.query.fill, QX_FILL_LINEAR);
    rq_read_destroy(&q);
}

static void test_query_errors(void)
{
    query_fails("from=1", "parameter series is required, e.g. series=pm25{station=\"s01\"}");
    query_fails("series=", "parameter series is required, e.g. series=pm25{station=\"s01\"}");
    query_fails("series=pm25&windw=1h", "unknown parameter \"windw\"");
    query_fails("series=pm25&from=1&from=2", "parameter from is given more than once");
    query_fails("series=pm25{station=s01}",
                "parameter series: selector: column 14: expected '\"' to start the value of tag "
                "\"station\", found 's'");
    query_fails("series=pm25&format=xml", "parameter format: format \"xml\" is not known");
    query_fails("series=pm25&to=yesterday",
                "parameter to: time \"yesterday\" is neither epoch milliseconds nor an RFC 3339 "
                "date-time such as 2025-01-01T00:00:00Z or 2025-01-01T08:00:00+08:00");
    query_fails("series=pm25&from=yesterday",
                "parameter from: time \"yesterday\" is neither epoch milliseconds nor an RFC 3339 "
                "date-time such as 2025-01-01T00:00:00Z or 2025-01-01T08:00:00+08:00");
    query_fails("series=pm25&from=2000&to=2000",
                "parameter from must be before to (the range is [from, to))");
    /* Without to, from is checked against now + 1 ms. */
    query_fails("series=pm25&from=1735689600001",
                "parameter from must be before to (the range is [from, to))");
    query_fails("series=pm25&window=0s", "parameter window: duration \"0s\" must be positive");
    query_fails("series=pm25&window=1h&agg=foo",
                "parameter agg: unknown aggregate \"foo\"; known: count, sum, mean, min, max, "
                "first, last, stddev, spread, twa, p<NN> (NN from 0 to 100, e.g. p95 or p99.9)");
    query_fails("series=pm25&window=1h&agg=",
                "parameter agg: agg is empty; known aggregates: count, sum, mean, min, max, first, "
                "last, stddev, spread, twa, p<NN>");
    static const char *const need_window[] = {"agg=mean", "fill=null", "offset=1h", "min_count=2",
                                              "group_by=station"};
    for (size_t i = 0; i < sizeof need_window / sizeof need_window[0]; i++) {
        char query[64];
        snprintf(query, sizeof query, "series=pm25&%s", need_window[i]);
        query_fails(query,
                    "parameters agg, fill, offset, min_count and group_by need a window, e.g. "
                    "window=1h&agg=mean");
    }
    query_fails("series=pm25&window=1h&tz=+25:00",
                "parameter tz: UTC offset \"+25:00\" is out of range; hours go up to 23 and "
                "minutes up to 59");
    query_fails("series=pm25&window=1h&tz=Nowhere/City",
                "parameter tz: unknown time zone \"Nowhere/City\"; expected UTC, an offset such as "
                "+08:00 or -05:30, or an IANA name such as Europe/Berlin");
    query_fails("series=pm25&window=1h&fill=Previous",
                "parameter fill: fill \"Previous\" is not one of none, null, previous, linear or a "
                "number");
    query_fails("series=pm25&window=1h&offset=1mo",
                "parameter offset: must be a fixed duration (ms, s, m, h, d, w), not mo or y");
    query_fails("series=pm25&window=1h&offset=-x",
                "parameter offset: duration \"x\": expected a number at position 1 (units: ms s m "
                "h d w mo y)");
    static const char *const bad_counts[] = {
        "18x", "-1", "+1", " 1", "", "1000000000001", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        char query[96];
        snprintf(query, sizeof query, "series=pm25&window=1h&min_count=%s", bad_counts[i]);
        query_fails(query, "parameter min_count: expected a whole number of readings, e.g. 18");
    }
    query_fails("series=pm25&window=1h&group_by=station,1bad",
                "parameter group_by: \"1bad\" is not a tag name (comma-separated names, or an "
                "empty value to merge every series)");
    query_fails("series=pm25&window=1h&group_by=station,",
                "parameter group_by: \"\" is not a tag name (comma-separated names, or an empty "
                "value to merge every series)");
    query_fails("series=pm25&window=1h&group_by=a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q",
                "parameter group_by: too many tags");
}

/* with_flags: true or false only, default false, and only for raw readings. */
static void test_query_with_flags(void)
{
    params p;
    rq_input in = input(&p, "series=pm25");
    rq_read q;
    jl_error err;
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.query.with_flags, 0);
    rq_read_destroy(&q);
    in = input(&p, "series=pm25&with_flags=true&format=csv");
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.query.with_flags, 1);
    CHECK_INT(q.query.has_window, 0);
    CHECK_INT(q.format, 1);
    rq_read_destroy(&q);
    in = input(&p, "series=pm25&op=gt&value=1&with_flags=true");
    CHECK_INT(rq_read_parse(RQ_SCAN, &in, &q, &err), JL_OK);
    CHECK_INT(q.scan.with_flags, 1);
    CHECK_INT(q.scan.output, QX_SCAN_POINTS);
    rq_read_destroy(&q);
    in = input(&p, "series=pm25&with_flags=true");
    CHECK_INT(rq_read_parse(RQ_LISTING, &in, &q, &err), JL_OK);
    CHECK_INT(q.with_flags, 1);
    rq_read_destroy(&q);
    /* false is accepted with a window: it asks for nothing. */
    in = input(&p, "series=pm25&with_flags=false&window=1h");
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.query.with_flags, 0);
    CHECK_INT(q.query.has_window, 1);
    rq_read_destroy(&q);
    static const char *const bad[] = {"True", "1", "yes", "", "truex"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char query[64], message[128];
        snprintf(query, sizeof query, "series=pm25&with_flags=%s", bad[i]);
        snprintf(message, sizeof message,
                 "parameter with_flags: expected true or false, not \"%s\"", bad[i]);
        query_fails(query, message);
    }
    query_fails("series=pm25&with_flags=true&with_flags=false",
                "parameter with_flags is given more than once");
    query_fails("series=pm25&with_flags=true&window=1h",
                "parameter with_flags applies to raw readings only, not with window or agg");
    query_fails("series=pm25&with_flags=true&window=1h&agg=max",
                "parameter with_flags applies to raw readings only, not with window or agg");
    query_fails("series=pm25&agg=max&with_flags=true",
                "parameter with_flags applies to raw readings only, not with window or agg");
    /* Scans and listings do not know it. */
    /* Scans take it for their readings (output=points) only; the listings as a boolean too. */
    scan_fails("series=pm25&op=gt&value=1&output=count&with_flags=true",
               "parameter with_flags applies to output=points, the readings");
    scan_fails("series=pm25&op=gt&value=1&with_flags=yes",
               "parameter with_flags: expected true or false, not \"yes\"");
    read_fails(RQ_LISTING, "series=pm25&with_flags=on",
               "parameter with_flags: expected true or false, not \"on\"");
}

/* flags: valid by default (the input's valid set, N when it sets none, review marks heeded), all,
 * or a list of letters; on queries (raw and windowed) and scans, not on listings. */
static void test_flags(void)
{
    params p;
    rq_read q;
    jl_error err;
    rq_input in = input(&p, "series=pm25");
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.query.flags.mask, 0x01);
    CHECK_INT(q.query.flags.reviews, 1);
    rq_read_destroy(&q);
    in = input(&p, "series=pm25&flags=valid&window=1h");
    in.limits.valid_flags = (1u << JL_FLAG_N) | (1u << JL_FLAG_S); /* --valid-flags N,S */
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.query.flags.mask, 0x09);
    CHECK_INT(q.query.flags.reviews, 1);
    rq_read_destroy(&q);
    in = input(&p, "series=pm25&flags=all&window=1h&group_by=station");
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.query.flags.mask, 0xff);
    CHECK_INT(q.query.flags.reviews, 0);
    rq_read_destroy(&q);
    in = input(&p, "series=pm25&flags=M,C");
    CHECK_INT(rq_read_parse(RQ_QUERY, &in, &q, &err), JL_OK);
    CHECK_INT(q.query.flags.mask, 0x24); /* bits 2 (M) and 5 (C) */
    CHECK_INT(q.query.flags.reviews, 0);
    rq_read_destroy(&q);
    in = input(&p, "series=pm25&op=gt&value=1&flags=D");
    CHECK_INT(rq_read_parse(RQ_SCAN, &in, &q, &err), JL_OK);
    CHECK_INT(q.scan.flags.mask, 0x10);
    CHECK_INT(q.scan.flags.reviews, 0);
    rq_read_destroy(&q);
    in = input(&p, "series=pm25&op=gt&value=1&output=episodes");
    CHECK_INT(rq_read_parse(RQ_SCAN, &in, &q, &err), JL_OK);
    CHECK_INT(q.scan.flags.mask, 0x01);
    CHECK_INT(q.scan.flags.reviews, 1);
    rq_read_destroy(&q);
    query_fails("series=pm25&flags=X",
                "parameter flags: flag list: item at column 1 is not one of the flag letters N F "
                "M S D C T B");
    query_fails("series=pm25&flags=M,c",
                "parameter flags: flag list: item at column 3 is not one of the flag letters N F "
                "M S D C T B");
    scan_fails("series=pm25&op=gt&value=1&flags=Valid",
               "parameter flags: flag list: item at column 1 is not one of the flag letters N F "
               "M S D C T B");
    query_fails("series=pm25&flags=all&flags=M", "parameter flags is given more than once");
    /* The listings take flags too (latest uses them): valid when absent, as for queries. */
    rq_read r;
    in = input(&p, "series=pm25&flags=M,C");
    CHECK_INT(rq_read_parse(RQ_LISTING, &in, &r, &err), JL_OK);
    CHECK_INT(r.listing_flags_given, 1);
    CHECK_INT(r.listing_flags.mask, (1u << JL_FLAG_M) | (1u << JL_FLAG_C));
    CHECK_INT(r.listing_flags.reviews, 0);
    rq_read_destroy(&r);
    in = input(&p, "series=pm25");
    CHECK_INT(rq_read_parse(RQ_LISTING, &in, &r, &err), JL_OK);
    CHECK_INT(r.listing_flags_given, 0);
    CHECK_INT(r.listing_flags.mask, JL_FLAG_MASK_N);
    CHECK_INT(r.listing_flags.reviews, 1);
    rq_read_destroy(&r);
    read_fails(RQ_LISTING, "series=pm25&flags=X",
               "parameter flags: flag list: item at column 1 is not one of the flag letters N F "
               "M S D C T B");
}

static void test_scan(void)
{
    params p;
    rq_input in = input(&p, "series=nh3n&from=0&to=1000&op=ge&value=1.5&output=episodes"
                            "&min_duration=2h&max_gap=10m&format=msgpack");
    rq_read s;
    jl_error err;
    CHECK_INT(rq_read_parse(RQ_SCAN, &in, &s, &err), JL_OK);
    CHECK(s.scan.selector == &s.selector);
    CHECK_STR(s.selector.metric, "nh3n");
    CHECK_INT(s.scan.from_ms, 0);
    CHECK_INT(s.scan.to_ms, 1000);
    CHECK_INT(s.scan.compare, QX_GE);
    CHECK_DOUBLE_BITS(s.scan.threshold, 1.5);
    CHECK_INT(s.scan.output, QX_SCAN_EPISODES);
    CHECK_INT(s.scan.min_duration_ms, 7200000);
    CHECK_INT(s.scan.max_gap_ms, 600000);
    CHECK_INT(s.scan.limits.max_series, 7);
    CHECK_INT(s.format, 2);
    rq_read_destroy(&s);
    static const struct {
        const char *word;
        qx_scan_output output;
    } outputs[] = {
        {"points", QX_SCAN_POINTS}, {"count", QX_SCAN_COUNT}, {"duration", QX_SCAN_DURATION}};
    for (size_t i = 0; i < 3; i++) {
        char query[96];
        snprintf(query, sizeof query, "series=nh3n&op=lt&value=-2&output=%s", outputs[i].word);
        in = input(&p, query);
        CHECK_INT(rq_read_parse(RQ_SCAN, &in, &s, &err), JL_OK);
        CHECK_INT(s.scan.output, outputs[i].output);
        CHECK_INT(s.scan.compare, QX_LT);
        CHECK_DOUBLE_BITS(s.scan.threshold, -2.0);
        CHECK_INT(s.scan.to_ms, NOW_MS + 1);
        CHECK_INT(s.scan.min_duration_ms, 0);
        rq_read_destroy(&s);
    }
    in = input(&p, "series=nh3n&op=gt&value=0");
    CHECK_INT(rq_read_parse(RQ_SCAN, &in, &s, &err), JL_OK);
    CHECK_INT(s.scan.output, QX_SCAN_POINTS);
    rq_read_destroy(&s);

    scan_fails("series=nh3n&op=gt", "parameters op (gt, ge, lt, le) and value are required");
    scan_fails("series=nh3n&value=1", "parameters op (gt, ge, lt, le) and value are required");
    scan_fails("series=nh3n&op=eq&value=1",
               "parameter op: unknown op \"eq\"; known: gt, ge, lt, le");
    scan_fails("series=nh3n&op=gt&value=12abc", "parameter value: \"12abc\" is not a number");
    scan_fails("series=nh3n&op=gt&value=1e400", "parameter value: number \"1e400\" is not finite");
    scan_fails("series=nh3n&op=gt&value=1&output=bogus",
               "parameter output: expected points, count, episodes or duration");
    scan_fails("series=nh3n&op=gt&value=1&min_duration=1h",
               "parameters min_duration and max_gap need output=episodes or output=duration");
    scan_fails("series=nh3n&op=gt&value=1&output=count&max_gap=1h",
               "parameters min_duration and max_gap need output=episodes or output=duration");
    scan_fails("series=nh3n&op=gt&value=1&output=episodes&min_duration=-5m",
               "parameter min_duration: must not be negative");
    scan_fails("series=nh3n&op=gt&value=1&output=duration&max_gap=-1s",
               "parameter max_gap: must not be negative");
    scan_fails("series=nh3n&op=gt&value=1&output=episodes&max_gap=1y",
               "parameter max_gap: must be a fixed duration (ms, s, m, h, d, w), not mo or y");
    scan_fails("series=nh3n&op=gt&value=1&output=episodes&min_duration=5",
               "parameter min_duration: duration \"5\": missing unit after the number 5 (units: "
               "ms s m h d w mo y)");
    scan_fails("series=nh3n&op=gt&value=1&window=1h", "unknown parameter \"window\"");
}

static void test_listing(void)
{
    params p;
    rq_input in = input(&p, "format=csv&series=pm25{district!=\"d1\"}");
    rq_read l;
    jl_error err;
    CHECK_INT(rq_read_parse(RQ_LISTING, &in, &l, &err), JL_OK);
    CHECK_STR(l.selector.metric, "pm25");
    CHECK_INT(l.selector.matcher_count, 1);
    CHECK_INT(l.selector.matchers[0].negate, 1);
    CHECK_INT(l.format, 1);
    rq_read_destroy(&l);
    read_fails(RQ_LISTING, "series=pm25&from=0", "unknown parameter \"from\"");
    read_fails(RQ_LISTING, "series=pm25&format=csv&format=json",
               "parameter format is given more than once");
    read_fails(RQ_LISTING, "format=csv",
               "parameter series is required, e.g. series=pm25{station=\"s01\"}");
    read_fails((rq_endpoint)7, "series=pm25", "no such read endpoint (7)");
}

static void test_write_and_backup(void)
{
    params p;
    jl_error err;
    ig_precision precision = IG_PRECISION_S;
    rq_input in = input(&p, "db=telegraf&org=x");
    CHECK_INT(rq_write_parse(&in, &precision, &err), JL_OK);
    CHECK_INT(precision, IG_PRECISION_NS);
    in = input(&p, "precision=ms&bucket=b");
    CHECK_INT(rq_write_parse(&in, &precision, &err), JL_OK);
    CHECK_INT(precision, IG_PRECISION_MS);
    in = input(&p, "precision=ms&precision=s");
    CHECK_INT(rq_write_parse(&in, &precision, &err), JL_EINVAL);
    CHECK_STR(err.message, "parameter precision is given more than once");
    in = input(&p, "precision=ps");
    CHECK_INT(rq_write_parse(&in, &precision, &err), JL_EINVAL);
    CHECK_STR(err.message,
              "parameter precision: precision \"ps\" is not supported; use ns, us, ms, s, m or h");

    in = input(&p, "");
    CHECK_INT(rq_backup_parse(&in, &err), JL_OK);
    in = input(&p, "path=/tmp/elsewhere");
    CHECK_INT(rq_backup_parse(&in, &err), JL_EINVAL);
    CHECK_STR(err.message, "unknown parameter \"path\"");
}

/* The word parsers moved here from aggregate.c and engine.c: the exact messages. */
static void test_word_parsers(void)
{
    jl_error err;
    qx_compare op;
    CHECK_INT(qx_parse_compare("le", &op, &err), JL_OK);
    CHECK_INT(op, QX_LE);
    CHECK_INT(qx_parse_compare(NULL, &op, &err), JL_EINVAL);
    CHECK_STR(err.message, "unknown op \"\"; known: gt, ge, lt, le");
    qx_fill fill;
    double value = 1;
    CHECK_INT(qx_parse_fill("null", &fill, &value, &err), JL_OK);
    CHECK_INT(fill, QX_FILL_NULL);
    CHECK_DOUBLE_BITS(value, 0.0);
    CHECK_INT(qx_parse_fill("previous", &fill, &value, &err), JL_OK);
    CHECK_INT(fill, QX_FILL_PREVIOUS);
    CHECK_INT(qx_parse_fill("1e3", &fill, &value, &err), JL_OK);
    CHECK_INT(fill, QX_FILL_VALUE);
    CHECK_DOUBLE_BITS(value, 1000.0);
    qx_aggregate aggs[QX_MAX_AGGREGATES];
    double ps[QX_MAX_AGGREGATES];
    size_t n = 99;
    CHECK_INT(qx_parse_aggregates("p0,p100,p99.999999,twa,spread", aggs, ps, &n, &err), JL_OK);
    CHECK_INT(n, 5);
    CHECK_INT(aggs[0], QX_AGG_PERCENTILE);
    CHECK_DOUBLE_BITS(ps[0], 0.0);
    CHECK_DOUBLE_BITS(ps[1], 100.0);
    CHECK_DOUBLE_BITS(ps[2], 99.999999);
    CHECK_INT(aggs[3], QX_AGG_TWA);
    CHECK_INT(aggs[4], QX_AGG_SPREAD);
    CHECK_INT(qx_parse_aggregates("p<NN>", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_INT(n, 0);
    CHECK_INT(qx_parse_aggregates("mean,,max", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_STR(err.message, "agg \"mean,,max\" has an empty name; known: count, sum, mean, min, "
                           "max, first, last, stddev, spread, twa, p<NN>");
    CHECK_INT(qx_parse_aggregates("count,count,count,count,count,count,count,count,count,count,"
                                  "count,count,count,count,count,count,count",
                                  aggs, ps, &n, &err),
              JL_EINVAL);
    CHECK_STR(err.message, "agg lists more than 16 aggregates");
}

/* Parses query as a discovery request of kind expecting JL_EINVAL and the exact message. */
static void discovery_fails(rq_discovery_kind kind, const char *query, const char *message)
{
    params p;
    rq_input in = input(&p, query);
    rq_discovery d;
    jl_error err;
    jl_error_clear(&err);
    CHECK_INT(rq_discovery_parse(kind, &in, &d, &err), JL_EINVAL);
    CHECK_INT(err.code, JL_EINVAL);
    CHECK_STR(err.message, message);
}

static void test_discovery(void)
{
    params p;
    rq_discovery d;
    jl_error err;
    /* No parameters: the Accept format, the cap of the limits (7 in input()), no metric/key. */
    rq_input in = input(&p, "");
    in.format = 2;
    CHECK_INT(rq_discovery_parse(RQ_DISCOVER_METRICS, &in, &d, &err), JL_OK);
    CHECK_INT(d.format, 2);
    CHECK_INT(d.limit, 7);
    CHECK_INT(d.explicit_limit, 0);
    CHECK(d.metric == NULL && d.key == NULL);
    /* Without a configured cap the default is 10000. */
    in.limits.max_series = 0;
    CHECK_INT(rq_discovery_parse(RQ_DISCOVER_SERIES, &in, &d, &err), JL_OK);
    CHECK_INT(d.limit, 10000);
    in = input(&p, "limit=3&format=csv");
    CHECK_INT(rq_discovery_parse(RQ_DISCOVER_SERIES, &in, &d, &err), JL_OK);
    CHECK_INT(d.format, 1);
    CHECK_INT(d.limit, 3);
    CHECK_INT(d.explicit_limit, 1);
    in = input(&p, "metric=pm2.5&key=station&limit=7");
    CHECK_INT(rq_discovery_parse(RQ_DISCOVER_TAGS, &in, &d, &err), JL_OK);
    CHECK_STR(d.metric, "pm2.5");
    CHECK_STR(d.key, "station");
    CHECK_INT(d.limit, 7);
    CHECK_INT(d.format, 0);

    discovery_fails(RQ_DISCOVER_METRICS, "metric=pm25", "unknown parameter \"metric\"");
    discovery_fails(RQ_DISCOVER_SERIES, "key=station", "unknown parameter \"key\"");
    discovery_fails(RQ_DISCOVER_TAGS, "key=a&key=b", "parameter key is given more than once");
    discovery_fails(RQ_DISCOVER_TAGS, "format=xml",
                    "parameter format: format \"xml\" is not known");
    static const char *const bad_limits[] = {
        "0", "8", "-1", "+3", " 3", "3x", "", "1e2", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++) {
        char query[64];
        snprintf(query, sizeof query, "limit=%s", bad_limits[i]);
        discovery_fails(RQ_DISCOVER_METRICS, query,
                        "parameter limit: must be a whole number from 1 to 7 (--max-series)");
    }
    discovery_fails(RQ_DISCOVER_TAGS, "metric=2pm",
                    "parameter metric: not a metric name ([A-Za-z_][A-Za-z0-9_.-]*)");
    discovery_fails(RQ_DISCOVER_TAGS, "metric=pm25&key=a b",
                    "parameter key: not a tag key ([A-Za-z_][A-Za-z0-9_.-]*)");
}

static void test_public_latest(void)
{
    params p;
    jl_error err;
    rq_input in = input(&p, "");
    CHECK_INT(rq_public_latest_parse(&in, &err), JL_OK);
    in = input(&p, "site=s01&format=csv");
    CHECK_INT(rq_public_latest_parse(&in, &err), JL_EINVAL);
    CHECK_STR(err.message, "unknown parameter \"site\"");
}

/* Parses an InfluxDB /query expecting JL_EINVAL and the exact message. */
static void influx_fails(const char *query, const char *message)
{
    params p;
    rq_input in = input(&p, query);
    rq_influx_query q;
    jl_error err;
    jl_error_clear(&err);
    CHECK_INT(rq_influx_query_parse(&in, NULL, 0, &q, &err), JL_EINVAL);
    CHECK_STR(err.message, message);
}

static void test_influx_query(void)
{
    params p;
    rq_influx_query q;
    jl_error err;
    rq_input in = input(&p, "q=SHOW DATABASES");
    CHECK_INT(rq_influx_query_parse(&in, NULL, 0, &q, &err), JL_OK);
    CHECK_STR(q.q, "SHOW DATABASES");
    CHECK(q.db == NULL);
    CHECK_INT(q.epoch_divisor_ns, 0);
    /* What clients send besides is tolerated, a repeated parameter too (the first counts). */
    in = input(&p, "db=env&q=SELECT 1&epoch=ms&u=me&p=pw&rp=autogen&params={}&chunked=true"
                   "&pretty=true&chunk_size=100&db=other");
    CHECK_INT(rq_influx_query_parse(&in, NULL, 0, &q, &err), JL_OK);
    CHECK_STR(q.q, "SELECT 1");
    CHECK_STR(q.db, "env");
    CHECK_INT(q.epoch_divisor_ns, 1000000);
    static const struct {
        const char *epoch;
        int64_t ns;
    } units[] = {{"ns", 1},
                 {"n", 1},
                 {"u", 1000},
                 {"\xc2\xb5", 1000},
                 {"us", 1000},
                 {"ms", 1000000},
                 {"s", 1000000000LL},
                 {"m", 60000000000LL},
                 {"h", 3600000000000LL},
                 {"", 0}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        char query[64];
        snprintf(query, sizeof query, "q=x&epoch=%s", units[i].epoch);
        in = input(&p, query);
        CHECK_INT(rq_influx_query_parse(&in, NULL, 0, &q, &err), JL_OK);
        CHECK_INT(q.epoch_divisor_ns, units[i].ns);
    }
    /* A form body: its q wins over the query string's; the query string's db and epoch win. */
    static const rq_param form[] = {{"q", "SHOW MEASUREMENTS"}, {"db", "body"}, {"epoch", "s"}};
    in = input(&p, "q=ignored&epoch=h");
    CHECK_INT(rq_influx_query_parse(&in, form, 3, &q, &err), JL_OK);
    CHECK_STR(q.q, "SHOW MEASUREMENTS");
    CHECK_STR(q.db, "body");
    CHECK_INT(q.epoch_divisor_ns, 3600000000000LL);
    in = input(&p, "db=query");
    CHECK_INT(rq_influx_query_parse(&in, form, 3, &q, &err), JL_OK);
    CHECK_STR(q.db, "query");
    CHECK_INT(q.epoch_divisor_ns, 1000000000LL);
    static const rq_param empty_q[] = {{"q", ""}};
    in = input(&p, "q=SHOW DATABASES");
    CHECK_INT(rq_influx_query_parse(&in, empty_q, 1, &q, &err), JL_EINVAL);
    CHECK_STR(err.message, "missing required parameter \"q\"");

    influx_fails("db=env", "missing required parameter \"q\"");
    influx_fails("q=", "missing required parameter \"q\"");
    influx_fails("q=x&org=acme", "unknown parameter \"org\"");
    influx_fails("q=x&epoch=d", "parameter epoch: use ns, u, ms, s, m or h");
    influx_fails("q=x&epoch=MS", "parameter epoch: use ns, u, ms, s, m or h");
}

int main(void)
{
    RUN(test_param_lists);
    RUN(test_query_defaults);
    RUN(test_query_every_parameter);
    RUN(test_query_errors);
    RUN(test_query_with_flags);
    RUN(test_flags);
    RUN(test_scan);
    RUN(test_listing);
    RUN(test_write_and_backup);
    RUN(test_word_parsers);
    RUN(test_discovery);
    RUN(test_public_latest);
    RUN(test_influx_query);
    return CHECK_DONE();
}
