/* Tests query/review_request.c: the JSON body of POST /api/v1/review (every field, both time
 * forms, each refusal's exact message, which names the field), the GET listing's parameters and
 * the id of /api/v1/review/<id>. */
#include "check.h"

#include "jialing/request.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 2025-01-01T00:00:00Z in epoch milliseconds, worked out by hand: 20089 days * 86400000. */
#define T2025 1735689600000LL

static int parse(const char *body, rq_review *out, jl_error *err)
{
    jl_error_clear(err);
    return rq_review_parse(body, strlen(body), out, err);
}

/* Parses body expecting JL_EINVAL with exactly message; a failed parse leaves nothing behind
 * that destroy would not free. */
static void refused(const char *body, const char *message)
{
    rq_review review;
    jl_error err;
    CHECK_INT(parse(body, &review, &err), JL_EINVAL);
    CHECK_INT(err.code, JL_EINVAL);
    CHECK_STR(err.message, message);
    rq_review_destroy(&review);
    rq_review_destroy(&review); /* safe twice */
}

static void test_review_parse_ok(void)
{
    rq_review review;
    jl_error err;
    const char *body = "{\"series\": \"pm25{station=\\\"s01\\\",kind!=\\\"x\\\"}\", \"from\": "
                       "\"2025-01-01T08:00:00+08:00\", \"to\": 1735693200000, \"valid\": false, "
                       "\"reason\": \"校准 calibration\"}";
    CHECK_INT(parse(body, &review, &err), JL_OK);
    CHECK_STR(review.selector_text, "pm25{station=\"s01\",kind!=\"x\"}");
    CHECK_STR(review.selector.metric, "pm25");
    CHECK_INT(review.selector.matcher_count, 2);
    CHECK_STR(review.selector.matchers[0].key, "station");
    CHECK_STR(review.selector.matchers[0].value, "s01");
    CHECK_INT(review.selector.matchers[0].negate, 0);
    CHECK_STR(review.selector.matchers[1].key, "kind");
    CHECK_STR(review.selector.matchers[1].value, "x");
    CHECK_INT(review.selector.matchers[1].negate, 1);
    CHECK_INT(review.from_ms, T2025);         /* 08:00 at +08:00 is midnight UTC */
    CHECK_INT(review.to_ms, T2025 + 3600000); /* an hour later */
    CHECK_INT(review.valid, 0);
    CHECK_STR(review.reason, "\xe6\xa0\xa1\xe5\x87\x86 calibration");
    rq_review_destroy(&review);
    CHECK(review.selector_text == NULL && review.reason == NULL && review.selector.metric == NULL);

    /* Fields in any order, valid true, negative and fractional-second times. */
    body = "{\"reason\":\"r\",\"valid\":true,\"to\":\"1970-01-01T00:00:00.0019Z\",\"from\":-5,"
           "\"series\":\"m\"}";
    CHECK_INT(parse(body, &review, &err), JL_OK);
    CHECK_STR(review.selector_text, "m");
    CHECK_INT(review.selector.matcher_count, 0);
    CHECK_INT(review.from_ms, -5);
    CHECK_INT(review.to_ms, 1); /* fractions are cut to milliseconds, toward the past */
    CHECK_INT(review.valid, 1);
    CHECK_STR(review.reason, "r");
    rq_review_destroy(&review);

    /* A reason and a selector of exactly 1024 bytes are taken. */
    char text[1200];
    char reason[ST_REVIEW_MAX_TEXT_BYTES + 1];
    memset(reason, 'a', ST_REVIEW_MAX_TEXT_BYTES);
    reason[ST_REVIEW_MAX_TEXT_BYTES] = '\0';
    snprintf(text, sizeof text,
             "{\"series\":\"m\",\"from\":0,\"to\":1,\"valid\":true,\"reason\":\"%s\"}", reason);
    CHECK_INT(parse(text, &review, &err), JL_OK);
    CHECK_INT(strlen(review.reason), 1024);
    rq_review_destroy(&review);
    /* m{k="<1017 a>"} is 1024 bytes (a tag value may be that long, a metric name not). */
    reason[1017] = '\0';
    snprintf(text, sizeof text,
             "{\"series\":\"m{k=\\\"%s\\\"}\",\"from\":0,\"to\":1,\"valid\":true,\"reason\":\"x\"}",
             reason);
    CHECK_INT(parse(text, &review, &err), JL_OK);
    CHECK_INT(strlen(review.selector_text), 1024);
    rq_review_destroy(&review);

    /* NULL with length 0 is an empty body. */
    jl_error_clear(&err);
    CHECK_INT(rq_review_parse(NULL, 0, &review, &err), JL_EINVAL);
    CHECK_STR(err.message,
              "body: not valid JSON: '[' or '{' expected near end of file (line 1, column 0)");
    rq_review_destroy(&review);
}

static void test_review_parse_body_errors(void)
{
    refused("", "body: not valid JSON: '[' or '{' expected near end of file (line 1, column 0)");
    refused("not json", "body: not valid JSON: '[' or '{' expected near 'not' (line 1, column 3)");
    refused("{\"series\":\"m\",", "body: not valid JSON: string or '}' expected near end of file "
                                  "(line 1, column 14)");
    refused("[1]", "body: must be a JSON object with the fields series, from, to, valid and "
                   "reason");
    refused("{\"series\":\"a\",\"series\":\"b\"}",
            "body: a field is given twice (duplicate object key near '\"series\"')");
    refused("{\"series\":\"m\",\"from\":0,\"to\":1,\"valid\":true,\"reason\":\"x\",\"extra\":1}",
            "extra: unknown field (the fields are series, from, to, valid and reason)");
    /* The unknown field is refused before any known one is looked at. */
    refused("{\"Series\":\"m\"}",
            "Series: unknown field (the fields are series, from, to, valid and reason)");
}

static void test_review_parse_field_errors(void)
{
    refused("{}", "series: required, a selector such as pm25{station=\"s01\"}");
    refused("{\"series\":5}", "series: must be a string, a selector such as pm25{station=\"s01\"}");
    refused("{\"series\":\"\"}", "series: must not be empty");
    refused("{\"series\":\"pm25{\"}",
            "series: selector: column 6: expected a tag name, found the end of the selector");
    refused("{\"series\":\"m\"}", "from: required, epoch milliseconds (an integer) or an RFC 3339 "
                                  "time such as \"2025-01-01T00:00:00Z\"");
    refused("{\"series\":\"m\",\"from\":1.5}",
            "from: must be epoch milliseconds (an integer) or an RFC 3339 string");
    refused("{\"series\":\"m\",\"from\":null}",
            "from: must be epoch milliseconds (an integer) or an RFC 3339 string");
    refused("{\"series\":\"m\",\"from\":\"2025-13-01T00:00:00Z\"}",
            "from: time \"2025-13-01T00:00:00Z\" has month 13; months go from 01 to 12");
    refused("{\"series\":\"m\",\"from\":9223372036855}",
            "from: time \"9223372036855\" is outside the supported range of epoch milliseconds, "
            "-9223372036854 to 9223372036854");
    refused("{\"series\":\"m\",\"from\":0}", "to: required, epoch milliseconds (an integer) or an "
                                             "RFC 3339 time such as \"2025-01-01T00:00:00Z\"");
    refused("{\"series\":\"m\",\"from\":0,\"to\":true}",
            "to: must be epoch milliseconds (an integer) or an RFC 3339 string");
    refused("{\"series\":\"m\",\"from\":5,\"to\":5}",
            "from: must be before to (the span is [from, to))");
    refused("{\"series\":\"m\",\"from\":\"2025-01-01T00:00:01Z\",\"to\":1735689600000}",
            "from: must be before to (the span is [from, to))");
    refused("{\"series\":\"m\",\"from\":0,\"to\":1}",
            "valid: required, false (the readings are invalid) or true (valid whatever their "
            "device flags say)");
    refused("{\"series\":\"m\",\"from\":0,\"to\":1,\"valid\":1}", "valid: must be true or false");
    refused("{\"series\":\"m\",\"from\":0,\"to\":1,\"valid\":\"false\"}",
            "valid: must be true or false");
    refused("{\"series\":\"m\",\"from\":0,\"to\":1,\"valid\":true}",
            "reason: required, why the readings are marked");
    refused("{\"series\":\"m\",\"from\":0,\"to\":1,\"valid\":true,\"reason\":[\"x\"]}",
            "reason: must be a string, why the readings are marked");
    refused("{\"series\":\"m\",\"from\":0,\"to\":1,\"valid\":true,\"reason\":\"\"}",
            "reason: must not be empty");

    char text[1200], reason[ST_REVIEW_MAX_TEXT_BYTES + 2];
    memset(reason, 'a', ST_REVIEW_MAX_TEXT_BYTES + 1);
    reason[ST_REVIEW_MAX_TEXT_BYTES + 1] = '\0';
    snprintf(text, sizeof text,
             "{\"series\":\"m\",\"from\":0,\"to\":1,\"valid\":true,\"reason\":\"%s\"}", reason);
    refused(text, "reason: 1025 bytes long; at most 1024 are allowed");
    snprintf(text, sizeof text, "{\"series\":\"%s\"}", reason);
    refused(text, "series: 1025 bytes long; at most 1024 are allowed");
}

static rq_input listing_input(const rq_param *params, size_t count)
{
    rq_input in = {.params = params, .param_count = count, .now_ms = T2025};
    return in;
}

static void test_review_listing(void)
{
    rq_review_listing listing;
    jl_error err;
    rq_input in = listing_input(NULL, 0);
    CHECK_INT(rq_review_listing_parse(&in, &listing, &err), JL_OK);
    CHECK_INT(listing.has_selector, 0);
    CHECK_INT(listing.from_ms, 0);
    CHECK_INT(listing.to_ms, 0);
    rq_review_listing_destroy(&listing);

    rq_param all[] = {{"series", "pm25{station=\"s01\"}"},
                      {"from", "2025-01-01T00:00:00Z"},
                      {"to", "1735776000000"}};
    in = listing_input(all, 3);
    CHECK_INT(rq_review_listing_parse(&in, &listing, &err), JL_OK);
    CHECK_INT(listing.has_selector, 1);
    CHECK_STR(listing.selector.metric, "pm25");
    CHECK_INT(listing.selector.matcher_count, 1);
    CHECK_INT(listing.from_ms, T2025);
    CHECK_INT(listing.to_ms, T2025 + 86400000);
    rq_review_listing_destroy(&listing);
    CHECK(listing.selector.metric == NULL);

    rq_param from_only[] = {{"from", "0"}};
    in = listing_input(from_only, 1);
    CHECK_INT(rq_review_listing_parse(&in, &listing, &err), JL_OK);
    CHECK_INT(listing.from_ms, 0);
    CHECK_INT(listing.to_ms, 9223372036855LL);
    rq_review_listing_destroy(&listing);
    rq_param to_only[] = {{"to", "0"}};
    in = listing_input(to_only, 1);
    CHECK_INT(rq_review_listing_parse(&in, &listing, &err), JL_OK);
    CHECK_INT(listing.from_ms, -9223372036854LL);
    CHECK_INT(listing.to_ms, 0);
    rq_review_listing_destroy(&listing);

    struct {
        rq_param params[2];
        size_t count;
        const char *message;
    } bad[] = {
        {{{"limit", "5"}}, 1, "unknown parameter \"limit\""},
        {{{"from", "1"}, {"from", "2"}}, 2, "parameter from is given more than once"},
        {{{"series", ""}},
         1,
         "parameter series: selector: column 1: the selector is empty; expected a metric name such "
         "as "
         "pm25 or pm25{station=\"s01\"}"},
        {{{"from", "x"}}, 1, NULL},
        {{{"from", "5"}, {"to", "5"}},
         2,
         "parameter from must be before to (the range is [from, to))"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        in = listing_input(bad[i].params, bad[i].count);
        jl_error_clear(&err);
        CHECK_INT(rq_review_listing_parse(&in, &listing, &err), JL_EINVAL);
        if (bad[i].message)
            CHECK_STR(err.message, bad[i].message);
        else
            CHECK(strncmp(err.message, "parameter from: ", 16) == 0);
        rq_review_listing_destroy(&listing);
    }
}

static void test_review_id(void)
{
    uint64_t id = 99;
    CHECK_INT(rq_review_parse_id("1", &id), 1);
    CHECK(id == 1);
    CHECK_INT(rq_review_parse_id("18446744073709551615", &id), 1);
    CHECK(id == UINT64_MAX);
    const char *bad[] = {NULL,
                         "",
                         "0",
                         "01",
                         "-1",
                         "+1",
                         "1a",
                         " 1",
                         "1 ",
                         "18446744073709551616",
                         "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        id = 7;
        CHECK_INT(rq_review_parse_id(bad[i], &id), 0);
        CHECK(id == 0);
    }
}

int main(void)
{
    RUN(test_review_parse_ok);
    RUN(test_review_parse_body_errors);
    RUN(test_review_parse_field_errors);
    RUN(test_review_listing);
    RUN(test_review_id);
    return CHECK_DONE();
}
