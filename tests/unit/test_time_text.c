/* Tests query/time_text.c: RFC 3339 and epoch times (expected values computed with GNU date and
 * Python's datetime, plus a day-by-day reference count over random dates) and UTC offsets. */
#include "check.h"

#include "jialing/params.h"

#include <stdint.h>
#include <stdlib.h>

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

int main(void)
{
    RUN(test_time_rfc3339);
    RUN(test_time_epoch);
    RUN(test_time_errors);
    RUN(test_time_random);
    RUN(test_utc_offset);
    RUN(test_scan_utc_offset);
    return CHECK_DONE();
}
