/* Tests query/params.c: selectors (values, escapes, error columns and messages), durations,
 * RFC 3339 and epoch times (expected values computed with GNU date and Python's datetime, plus a
 * day-by-day reference count over random dates), UTC offsets and numbers. */
#include "check.h"

#include "jialing/params.h"

#include <stdint.h>
#include <stdlib.h>

/* Parses text expecting failure; checks the column (when col > 0) and the exact message (when
 * message is not NULL). */
static void selector_fails(const char *text, long column, const char *message)
{
    qp_selector sel;
    jl_error err;
    int rc = qp_parse_selector(text, &sel, &err);
    CHECK_INT(rc, JL_EINVAL);
    CHECK_INT(err.code, JL_EINVAL);
    if (column > 0)
        CHECK_INT(err.column, column);
    if (message != NULL)
        CHECK_STR(err.message, message);
    /* A failed parse leaves nothing to free. */
    CHECK(sel.metric == NULL);
    CHECK_INT(sel.matcher_count, 0);
    qp_selector_destroy(&sel);
}

static void test_selector_plain(void)
{
    qp_selector sel;
    jl_error err;
    CHECK_INT(qp_parse_selector("pm25", &sel, &err), JL_OK);
    CHECK_STR(sel.metric, "pm25");
    CHECK_INT(sel.matcher_count, 0);
    qp_selector_destroy(&sel);
    CHECK(sel.metric == NULL);
    qp_selector_destroy(&sel); /* safe twice */

    CHECK_INT(qp_parse_selector("  _a.b-c9 \t\n", &sel, &err), JL_OK);
    CHECK_STR(sel.metric, "_a.b-c9");
    qp_selector_destroy(&sel);

    CHECK_INT(qp_parse_selector("m{}", &sel, &err), JL_OK);
    CHECK_STR(sel.metric, "m");
    CHECK_INT(sel.matcher_count, 0);
    qp_selector_destroy(&sel);

    CHECK_INT(qp_parse_selector("m { } ", &sel, &err), JL_OK);
    CHECK_INT(sel.matcher_count, 0);
    qp_selector_destroy(&sel);
}

static void test_selector_matchers(void)
{
    qp_selector sel;
    jl_error err;
    const char *text = " pm25 { station = \"s01\" , district!=\"jiu\\\"long\\\\po\" } ";
    CHECK_INT(qp_parse_selector(text, &sel, &err), JL_OK);
    CHECK_STR(sel.metric, "pm25");
    CHECK_INT(sel.matcher_count, 2);
    CHECK_STR(sel.matchers[0].key, "station");
    CHECK_STR(sel.matchers[0].value, "s01");
    CHECK_INT(sel.matchers[0].negate, 0);
    CHECK_STR(sel.matchers[1].key, "district");
    CHECK_STR(sel.matchers[1].value, "jiu\"long\\po");
    CHECK_INT(sel.matchers[1].negate, 1);
    qp_selector_destroy(&sel);

    /* Trailing comma, empty value, UTF-8 and braces/commas inside a value. */
    CHECK_INT(qp_parse_selector("m{a=\"\",b=\"\xe5\x98\x89\xe9\x99\xb5,}{\",}", &sel, &err), JL_OK);
    CHECK_INT(sel.matcher_count, 2);
    CHECK_STR(sel.matchers[0].value, "");
    CHECK_STR(sel.matchers[1].value, "\xe5\x98\x89\xe9\x99\xb5,}{");
    qp_selector_destroy(&sel);
}

static void test_selector_limits(void)
{
    char text[4096];
    size_t len = (size_t)snprintf(text, sizeof text, "m{");
    for (int i = 0; i < QP_MAX_MATCHERS; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%sk%d=\"v%d\"", i ? "," : "", i, i);
    snprintf(text + len, sizeof text - len, "}");
    qp_selector sel;
    jl_error err;
    CHECK_INT(qp_parse_selector(text, &sel, &err), JL_OK);
    CHECK_INT(sel.matcher_count, QP_MAX_MATCHERS);
    CHECK_STR(sel.matchers[31].key, "k31");
    CHECK_STR(sel.matchers[31].value, "v31");
    qp_selector_destroy(&sel);

    /* One more: the 33rd condition starts right after the 32nd's comma. */
    snprintf(text + len, sizeof text - len, ",extra=\"x\"}");
    selector_fails(text, (long)len + 2,
                   NULL); /* column of 'e' in ",extra": len is the offset of ',' */
    CHECK_INT(qp_parse_selector(text, &sel, &err), JL_EINVAL);
    CHECK(strstr(err.message, "too many tag conditions; at most 32") != NULL);

    /* Names up to 256 bytes, values up to 1024. */
    char name[300];
    memset(name, 'a', 257);
    name[257] = '\0';
    selector_fails(name, 1,
                   "selector: column 1: metric name is 257 bytes long; at most 256 are "
                   "allowed");
    name[256] = '\0';
    CHECK_INT(qp_parse_selector(name, &sel, &err), JL_OK);
    qp_selector_destroy(&sel);

    char value[1200];
    snprintf(value, sizeof value, "m{k=\"%01025d\"}", 0);
    selector_fails(value, 5,
                   "selector: column 5: the value of tag \"k\" is 1025 bytes long; at "
                   "most 1024 are allowed");
    snprintf(value, sizeof value, "m{k=\"%01024d\"}", 0);
    CHECK_INT(qp_parse_selector(value, &sel, &err), JL_OK);
    CHECK_INT(strlen(sel.matchers[0].value), 1024);
    qp_selector_destroy(&sel);
}

static void test_selector_errors(void)
{
    selector_fails("pm25{station=s01}", 14,
                   "selector: column 14: expected '\"' to start the value of tag \"station\", "
                   "found 's'");
    selector_fails("", 1,
                   "selector: column 1: the selector is empty; expected a metric name such as "
                   "pm25 or pm25{station=\"s01\"}");
    selector_fails("   ", 4, NULL);
    selector_fails(NULL, 1, NULL);
    selector_fails("pm25}", 5, "selector: column 5: unexpected '}' after the end of the selector");
    selector_fails("pm25 x", 6, "selector: column 6: unexpected 'x' after the end of the selector");
    selector_fails("pm25{a=\"1\"} x", 13, NULL);
    selector_fails("1pm25", 1, "selector: column 1: expected a metric name, found '1'");
    selector_fails("{a=\"1\"}", 1, NULL);
    selector_fails("m{a=\"x", 5, "selector: column 5: the value of tag \"a\" has no closing '\"'");
    selector_fails("m{a=\"x\\", 5, NULL);
    selector_fails("m{a=\"\\n\"}", 6,
                   "selector: column 6: unsupported escape of 'n' in the value of tag \"a\" (only "
                   "\\\" and \\\\ are allowed)");
    selector_fails("m{a=~\"x\"}", 4,
                   "selector: column 4: regular-expression matchers (=~) are not supported; use "
                   "= or !=");
    selector_fails("m{a!~\"x\"}", 4, NULL);
    selector_fails("m{a<\"x\"}", 4,
                   "selector: column 4: expected '=' or '!=' after tag \"a\", found '<'");
    selector_fails("m{a=\"1\"", 8,
                   "selector: column 8: expected ',' or '}' after the value of tag \"a\", found "
                   "the end of the selector");
    selector_fails("m{a=\"1\" b=\"2\"}", 9, NULL);
    selector_fails("m{,}", 3, "selector: column 3: expected a tag name, found ','");
    selector_fails("m{a=\"1\",,}", 9, NULL);
    selector_fails("m{\xc3\xa9=\"1\"}", 3,
                   "selector: column 3: expected a tag name, found byte "
                   "0xC3");
    selector_fails("m{a=\"x\ty\"}", 7,
                   "selector: column 7: control character (byte 0x09) in the value of tag \"a\"; "
                   "tag values cannot contain control characters");
    selector_fails("m{a=\"1\"}{", 9, NULL);
}

static void duration_is(const char *text, int64_t ms, int32_t months)
{
    qp_duration d = {-1, -1};
    jl_error err;
    int rc = qp_parse_duration(text, &d, &err);
    if (rc != JL_OK)
        fprintf(stderr, "  duration %s: %s\n", text, err.message);
    CHECK_INT(rc, JL_OK);
    CHECK_INT(d.ms, ms);
    CHECK_INT(d.months, months);
}

static void duration_fails(const char *text, const char *message)
{
    qp_duration d;
    jl_error err;
    CHECK_INT(qp_parse_duration(text, &d, &err), JL_EINVAL);
    CHECK_INT(err.code, JL_EINVAL);
    if (message != NULL)
        CHECK_STR(err.message, message);
}

static void test_duration(void)
{
    duration_is("1ms", 1, 0);
    duration_is("5m", 300000, 0);
    duration_is("30s", 30000, 0);
    duration_is("1h30m", 5400000, 0);
    duration_is("1h0m", 3600000, 0);
    duration_is("1d", 86400000, 0);
    duration_is("2w", 1209600000, 0);
    duration_is("1w2d3h4m5s6ms", 788645006, 0); /* (9*86400 + 3*3600 + 4*60 + 5)*1000 + 6 */
    duration_is("1mo", 0, 1);
    duration_is("1y", 0, 12);
    duration_is("1y2mo", 0, 14);
    duration_is("1mo2d", 172800000, 1);
    duration_is("007s", 7000, 0);
    duration_is("9223372036854775807ms", INT64_MAX, 0);
    duration_is("178956970y", 0, 2147483640);
    duration_is("2147483647mo", 0, INT32_MAX);

    duration_fails("", "duration is empty; expected a number and a unit such as 5m or 1h30m");
    duration_fails(NULL, NULL);
    duration_fails("0s", "duration \"0s\" must be positive");
    duration_fails("0h0m", "duration \"0h0m\" must be positive");
    duration_fails("-5m", "duration \"-5m\" must be positive");
    duration_fails("5", "duration \"5\": missing unit after the number 5 (units: ms s m h d w mo "
                        "y)");
    duration_fails("m", "duration \"m\": expected a number at position 1 (units: ms s m h d w mo "
                        "y)");
    duration_fails("5x", "duration \"5x\": unknown unit \"x\" (units: ms s m h d w mo y)");
    duration_fails("5M", NULL);
    duration_fails("1mos", NULL);
    duration_fails("1.5h", NULL);
    duration_fails("1h ", NULL);
    duration_fails(" 1h", NULL);
    duration_fails("+1h", NULL);
    duration_fails("9223372036854775808ms", "duration \"9223372036854775808ms\" is too large");
    duration_fails("9223372036854776s", NULL);
    duration_fails("9223372036854775807ms1ms", NULL);
    duration_fails("178956971y", NULL);
    duration_fails("2147483647mo1mo", NULL);
    duration_fails("99999999999999999999999999h", NULL);
}

static void time_is(const char *text, int64_t expected)
{
    int64_t ms = 12345;
    jl_error err;
    int rc = qp_parse_time(text, &ms, &err);
    if (rc != JL_OK)
        fprintf(stderr, "  time %s: %s\n", text, err.message);
    CHECK_INT(rc, JL_OK);
    CHECK_INT(ms, expected);
}

static void time_fails(const char *text, const char *message)
{
    int64_t ms;
    jl_error err;
    CHECK_INT(qp_parse_time(text, &ms, &err), JL_EINVAL);
    CHECK_INT(err.code, JL_EINVAL);
    if (message != NULL)
        CHECK_STR(err.message, message);
}

/* Expected values from `date -u -d TEXT +%s%3N` (non-negative) or Python's
 * datetime.fromisoformat (negative). */
static void test_time_rfc3339(void)
{
    time_is("2024-02-29T12:34:56.789+08:00", 1709181296789);
    time_is("2025-01-01T00:00:00Z", 1735689600000);
    time_is("2025-01-01T00:00:00+08:00", 1735660800000);
    time_is("2025-01-01t00:00:00z", 1735689600000);
    time_is("2025-01-01 00:00:00Z", 1735689600000);
    time_is("2000-02-29T23:59:59-05:30", 951888599000);
    time_is("1900-03-01T00:00:00Z", -2203891200000);
    time_is("2100-12-31T23:59:59.5+23:59", 4133894459500);
    time_is("1970-01-01T00:00:00-00:01", 60000);
    time_is("1970-01-01T00:00:00+00:00", 0);
    time_is("1970-01-01T00:00:00-00:00", 0);
    time_is("2023-03-01T00:00:00Z", 1677628800000);
    time_is("1969-12-31T23:59:59.999Z", -1);
    time_is("1960-02-29T23:59:59.123-05:30", -310415400877);
    /* Fractions: any number of digits, truncated to milliseconds. */
    time_is("2025-01-01T00:00:00.1Z", 1735689600100);
    time_is("2025-01-01T00:00:00.12Z", 1735689600120);
    time_is("2025-01-01T00:00:00.1239Z", 1735689600123);
    time_is("2025-01-01T00:00:00.999999999999999999999Z", 1735689600999);
    time_is("1969-12-31T23:59:59.9999Z", -1);
    /* An unencoded '+' in a query string arrives as a space. */
    time_is("2025-01-01T08:00:00 08:00", 1735689600000);
    /* The ends of the range. */
    time_is("1677-09-21T00:12:43.146Z", JL_MIN_MS);
    time_is("1677-09-21T08:12:43.146+08:00", JL_MIN_MS);
    time_is("2262-04-11T23:47:16.854Z", JL_MAX_MS);
    time_is("2262-04-12T07:47:16.854+08:00", JL_MAX_MS);
}

static void test_time_epoch(void)
{
    time_is("0", 0);
    time_is("-0", 0);
    time_is("1735660800000", 1735660800000);
    time_is("-1", -1);
    time_is("000123", 123);
    time_is("9223372036854", JL_MAX_MS);
    time_is("-9223372036854", JL_MIN_MS);
    time_fails("9223372036855", "time \"9223372036855\" is outside the supported range of epoch "
                                "milliseconds, -9223372036854 to 9223372036854");
    time_fails("-9223372036855", NULL);
    time_fails("99999999999999999999999999999999", NULL);
    time_fails("-", NULL);
    time_fails("+5", NULL);
    time_fails("1.5", NULL);
    time_fails("1e12", NULL);
    time_fails(" 5", NULL);
}

static void test_time_errors(void)
{
    time_fails("", "time is empty; expected epoch milliseconds or an RFC 3339 date-time such as "
                   "2025-01-01T00:00:00Z");
    time_fails(NULL, NULL);
    time_fails("yesterday", "time \"yesterday\" is neither epoch milliseconds nor an RFC 3339 "
                            "date-time such as 2025-01-01T00:00:00Z or "
                            "2025-01-01T08:00:00+08:00");
    time_fails("2025-01-01", "time \"2025-01-01\" has no time of day; write e.g. "
                             "2025-01-01T00:00:00Z");
    time_fails("2025-01-01T00:00:00", "time \"2025-01-01T00:00:00\" has no UTC offset; add Z or "
                                      "an offset such as +08:00");
    time_fails("2023-02-29T00:00:00Z", "time \"2023-02-29T00:00:00Z\" has day 29, but 2023-02 "
                                       "has 28 days");
    time_fails("1900-02-29T00:00:00Z", NULL);
    time_is("2000-02-29T00:00:00Z", 951782400000);
    time_fails("2025-04-31T00:00:00Z", NULL);
    time_fails("2025-01-00T00:00:00Z", NULL);
    time_fails("2025-13-01T00:00:00Z", "time \"2025-13-01T00:00:00Z\" has month 13; months go "
                                       "from 01 to 12");
    time_fails("2025-00-01T00:00:00Z", NULL);
    time_fails("2025-01-01T24:00:00Z", NULL);
    time_fails("2025-01-01T23:60:00Z", NULL);
    time_fails("2016-12-31T23:59:60Z", NULL);
    time_fails("2025-01-01T00:00:00+24:00", "time \"2025-01-01T00:00:00+24:00\" has an "
                                            "out-of-range UTC offset; hours go up to 23, minutes "
                                            "to 59");
    time_fails("2025-01-01T00:00:00+08:60", NULL);
    time_fails("2025-01-01T00:00:00+0800", NULL);
    time_fails("2025-01-01T00:00:00+08", NULL);
    time_fails("2025-01-01T00:00:00ZZ", NULL);
    time_fails("2025-01-01T00:00:00Z ", NULL);
    time_fails("2025-01-01T00:00:00.Z", "time \"2025-01-01T00:00:00.Z\" has a '.' without digits "
                                        "of a fraction of a second");
    time_fails("2025-1-01T00:00:00Z", NULL);
    time_fails("2025-01-01T0:00:00Z", NULL);
    time_fails("2025-01-01X00:00:00Z", NULL);
    time_fails("2025-01-01T00:00Z", NULL);
    time_fails("1677-09-21T00:12:43.145Z", "time \"1677-09-21T00:12:43.145Z\" is outside the "
                                           "supported range, 1677-09-21T00:12:43.146Z to "
                                           "2262-04-11T23:47:16.854Z");
    time_fails("2262-04-11T23:47:16.855Z", NULL);
    time_fails("0001-01-01T00:00:00Z", NULL);
    time_fails("9999-12-31T23:59:59Z", NULL);
    /* Long text is cut in the message. */
    char long_text[200];
    memset(long_text, 'x', 150);
    long_text[150] = '\0';
    int64_t ms;
    jl_error err;
    CHECK_INT(qp_parse_time(long_text, &ms, &err), JL_EINVAL);
    CHECK(strstr(err.message, "xxx...\" is neither") != NULL);
}

/* Reference for the random test: counts days one year and one month at a time. */
static int64_t reference_days(int year, int month, int day)
{
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t days = 0;
    for (int y = 1970; y < year; y++)
        days += ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 366 : 365;
    for (int y = year; y < 1970; y++)
        days -= ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 366 : 365;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    for (int m = 1; m < month; m++)
        days += month_days[m - 1] + (m == 2 && leap);
    return days + day - 1;
}

static void test_time_random(void)
{
    const unsigned seed = 20250101;
    printf("test_time_random seed %u\n", seed);
    srand(seed);
    int mismatches = 0;
    for (int i = 0; i < 20000; i++) {
        int year = 1678 + rand() % (2261 - 1678 + 1);
        int month = 1 + rand() % 12;
        int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        int max_day = month == 2                                                ? 28 + leap
                      : (month == 4 || month == 6 || month == 9 || month == 11) ? 30
                                                                                : 31;
        int day = 1 + rand() % max_day;
        int hour = rand() % 24, minute = rand() % 60, second = rand() % 60;
        int frac = rand() % 1000;
        int off_h = rand() % 24, off_m = rand() % 60, off_sign = rand() % 2 ? 1 : -1;
        char text[64];
        snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02d:%02d", year, month,
                 day, hour, minute, second, frac, off_sign > 0 ? '+' : '-', off_h, off_m);
        int64_t expected = ((reference_days(year, month, day) * 24 + hour) * 60 + minute) * 60000 +
                           second * 1000LL + frac -
                           off_sign * (off_h * 3600000LL + off_m * 60000LL);
        int64_t ms = 0;
        jl_error err;
        if (qp_parse_time(text, &ms, &err) != JL_OK || ms != expected) {
            if (mismatches++ < 5)
                fprintf(stderr, "  %s: got %lld expected %lld (%s)\n", text, (long long)ms,
                        (long long)expected, err.message);
        }
    }
    CHECK_INT(mismatches, 0);
}

static void offset_is(const char *text, int64_t expected)
{
    int64_t ms = 12345;
    jl_error err;
    CHECK_INT(qp_parse_utc_offset(text, &ms, &err), JL_OK);
    CHECK_INT(ms, expected);
}

static void offset_fails(const char *text)
{
    int64_t ms;
    jl_error err;
    CHECK_INT(qp_parse_utc_offset(text, &ms, &err), JL_EINVAL);
    CHECK_INT(err.code, JL_EINVAL);
}

static void test_utc_offset(void)
{
    offset_is("+08:00", 28800000);
    offset_is("-05:30", -19800000);
    offset_is("+0800", 28800000);
    offset_is("-0530", -19800000);
    offset_is("+08", 28800000);
    offset_is(" 08:00", 28800000);
    offset_is("+23:59", 86340000);
    offset_is("-00:00", 0);
    offset_is("Z", 0);
    offset_is("z", 0);
    offset_is("UTC", 0);
    offset_is("utc", 0);
    offset_fails("");
    offset_fails(NULL);
    offset_fails("+24:00");
    offset_fails("+08:60");
    offset_fails("08:00");
    offset_fails("+8:00");
    offset_fails("+08:00x");
    offset_fails("+08:0");
    offset_fails("+080");
    offset_fails("GMT");
    offset_fails("Asia/Shanghai");
    int64_t ms;
    jl_error err;
    qp_parse_utc_offset("+25:00", &ms, &err);
    CHECK_STR(err.message, "UTC offset \"+25:00\" is out of range; hours go up to 23 and minutes "
                           "up to 59");
    qp_parse_utc_offset("CST", &ms, &err);
    CHECK_STR(err.message, "UTC offset \"CST\" is not valid; expected an offset such as +08:00, "
                           "-05:30, +0800, Z or UTC");
}

/* The grammar on its own, over exactly len bytes (no NUL needed). */
static void test_scan_utc_offset(void)
{
    int64_t ms = 777;
    CHECK_INT(qp_scan_utc_offset("+08:00", 6, 0, &ms), 1);
    CHECK_INT(ms, 28800000);
    CHECK_INT(qp_scan_utc_offset("-05:30xyz", 6, 0, &ms), 1);
    CHECK_INT(ms, -19800000);
    ms = 777;
    CHECK_INT(qp_scan_utc_offset("+0800", 5, 0, &ms), 0);
    CHECK_INT(qp_scan_utc_offset("+08", 3, 0, &ms), 0);
    CHECK_INT(ms, 777);
    CHECK_INT(qp_scan_utc_offset("+0800", 5, 1, &ms), 1);
    CHECK_INT(ms, 28800000);
    CHECK_INT(qp_scan_utc_offset("+08", 3, 1, &ms), 1);
    CHECK_INT(ms, 28800000);
    CHECK_INT(qp_scan_utc_offset(" 01:00", 6, 0, &ms), 1);
    CHECK_INT(ms, 3600000);
    ms = 777;
    CHECK_INT(qp_scan_utc_offset("+24:00", 6, 1, &ms), -1);
    CHECK_INT(qp_scan_utc_offset("+23:60", 6, 1, &ms), -1);
    CHECK_INT(qp_scan_utc_offset("+08:", 4, 1, &ms), 0);
    CHECK_INT(qp_scan_utc_offset("+08:00", 5, 1, &ms), 0);
    CHECK_INT(qp_scan_utc_offset("", 0, 1, &ms), 0);
    CHECK_INT(ms, 777);
}

static void test_number(void)
{
    double v = 1;
    jl_error err;
    CHECK_INT(qp_parse_number("35.2", &v, &err), JL_OK);
    CHECK_DOUBLE_BITS(v, 35.2);
    CHECK_INT(qp_parse_number("-1e-300", &v, &err), JL_OK);
    CHECK_DOUBLE_BITS(v, -1e-300);
    CHECK_INT(qp_parse_number("-0", &v, &err), JL_OK);
    CHECK_DOUBLE_BITS(v, -0.0);
    CHECK_INT(qp_parse_number("1.5E3", &v, &err), JL_OK);
    CHECK_DOUBLE_BITS(v, 1500.0);
    CHECK_INT(qp_parse_number("+.5", &v, &err), JL_OK);
    CHECK_DOUBLE_BITS(v, 0.5);
    CHECK_INT(qp_parse_number("0x10", &v, &err), JL_OK);
    CHECK_DOUBLE_BITS(v, 16.0);
    CHECK_INT(qp_parse_number("1e-400", &v, &err), JL_OK); /* underflow is finite */
    CHECK(v == 0.0);

    const char *bad[] = {"",   "1e400", "-1e400", "nan", "NaN", "inf", "-Infinity",
                         " 1", "1 ",    "abc",    "1,5", "--1", "."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        CHECK_INT(qp_parse_number(bad[i], &v, &err), JL_EINVAL);
        CHECK_INT(err.code, JL_EINVAL);
    }
    CHECK_INT(qp_parse_number(NULL, &v, &err), JL_EINVAL);
    qp_parse_number("1e400", &v, &err);
    CHECK_STR(err.message, "number \"1e400\" is not finite");
    qp_parse_number("12abc", &v, &err);
    CHECK_STR(err.message, "\"12abc\" is not a number");
}

/* A selector value that is not UTF-8 can match no series: it is refused like a written one. */
static void test_selector_value_not_utf8(void)
{
    qp_selector selector;
    jl_error err;
    CHECK_INT(qp_parse_selector("pm25{station=\"a\xff\"}", &selector, &err), JL_EINVAL);
    CHECK(strstr(err.message, "not valid UTF-8") != NULL);
    CHECK_INT(err.column, 14);
    CHECK_INT(qp_parse_selector("pm25{station=\"\xe5\x98\x89\xe9\x99\xb5\"}", &selector, &err),
              JL_OK);
    CHECK_STR(selector.matchers[0].value, "\xe5\x98\x89\xe9\x99\xb5");
    qp_selector_destroy(&selector);
}

int main(void)
{
    RUN(test_selector_value_not_utf8);
    RUN(test_selector_plain);
    RUN(test_selector_matchers);
    RUN(test_selector_limits);
    RUN(test_selector_errors);
    RUN(test_duration);
    RUN(test_time_rfc3339);
    RUN(test_time_epoch);
    RUN(test_time_errors);
    RUN(test_time_random);
    RUN(test_utc_offset);
    RUN(test_scan_utc_offset);
    RUN(test_number);
    return CHECK_DONE();
}
