/* Tests query/duration.c: durations (fixed and calendar units, sums, range, messages). */
#include "check.h"

#include "jialing/params.h"

#include <stdint.h>
#include <stdlib.h>

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

int main(void)
{
    RUN(test_duration);
    return CHECK_DONE();
}
