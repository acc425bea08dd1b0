/* Tests query/number.c: numbers (whole-text, finite, messages). */
#include "check.h"

#include "jialing/params.h"

#include <stdint.h>
#include <stdlib.h>

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

int main(void)
{
    RUN(test_number);
    return CHECK_DONE();
}
