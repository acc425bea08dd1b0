/* Tests query/selector.c: selectors (values, escapes, error columns and messages, UTF-8 of
 * values); and the store matchers a selector stands for (qx_selector_matchers, query/exec.c). */
#include "check.h"

#include "jialing/params.h"
#include "jialing/query.h"

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

/* The metric first as __name__, then each tag condition in the selector's order, borrowed. */
static void test_selector_store_matchers(void)
{
    qp_selector sel;
    jl_error err;
    st_matcher out[QP_MAX_MATCHERS + 1];
    CHECK_INT(qp_parse_selector("no2{station=\"s01\",district!=\"yuzhong\"}", &sel, &err), JL_OK);
    CHECK_INT(qx_selector_matchers(sel.metric, sel.matchers, sel.matcher_count, out), 3);
    CHECK_STR(out[0].key, "__name__");
    CHECK_STR(out[0].value, "no2");
    CHECK_INT(out[0].negate, 0);
    CHECK_STR(out[1].key, "station");
    CHECK_STR(out[1].value, "s01");
    CHECK_INT(out[1].negate, 0);
    CHECK_STR(out[2].key, "district");
    CHECK_STR(out[2].value, "yuzhong");
    CHECK_INT(out[2].negate, 1);
    CHECK(out[0].value == sel.metric); /* borrowed, not copied */
    CHECK(out[2].value == sel.matchers[1].value);
    qp_selector_destroy(&sel);

    /* A metric alone (AQI's station without tags), from plain arrays rather than a parse. */
    CHECK_INT(qx_selector_matchers("pm25", NULL, 0, out), 1);
    CHECK_STR(out[0].key, "__name__");
    CHECK_STR(out[0].value, "pm25");
    CHECK_INT(out[0].negate, 0);

    /* All 32 conditions fit beside the metric; a 33rd writes nothing. */
    qp_matcher many[QP_MAX_MATCHERS + 1];
    for (int i = 0; i < QP_MAX_MATCHERS + 1; i++)
        many[i] = (qp_matcher){"k", "v", i % 2};
    CHECK_INT(qx_selector_matchers("m", many, QP_MAX_MATCHERS, out), 33);
    CHECK_STR(out[32].key, "k");
    CHECK_INT(out[32].negate, 1); /* condition 31 (0-based), odd */
    out[0].key = "untouched";
    CHECK_INT(qx_selector_matchers("m", many, QP_MAX_MATCHERS + 1, out), 0);
    CHECK_STR(out[0].key, "untouched");
}

int main(void)
{
    RUN(test_selector_store_matchers);
    RUN(test_selector_value_not_utf8);
    RUN(test_selector_plain);
    RUN(test_selector_matchers);
    RUN(test_selector_limits);
    RUN(test_selector_errors);
    return CHECK_DONE();
}
