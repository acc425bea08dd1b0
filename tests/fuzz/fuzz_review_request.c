/* Fuzz target for query/review_request.c. The first byte picks what the input is fed to: 0 mod
 * 4, the rest as the parameters of GET /api/v1/review split at '&' (seeds start with 'L'); 1 mod
 * 4, the rest as the id of /api/v1/review/<id> ('I'); else the whole input as the JSON body of
 * POST /api/v1/review ('{' and '[' are 3 mod 4, so JSON seeds are plain JSON). A parse may fail,
 * with JL_EINVAL (or JL_ENOMEM) and a message that names the field, but must not crash, read out
 * of bounds or leak; what parses must be a mark whose shape the store takes. */
#include "jialing/request.h"
#include "split_params.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FUZZ_PARAMS 64

static void check_refusal(int rc, const jl_error *err)
{
    if (rc == JL_OK)
        return;
    if ((rc != JL_EINVAL && rc != JL_ENOMEM) || err->code != rc || err->message[0] == '\0' ||
        memchr(err->message, '\0', sizeof err->message) == NULL)
        abort();
}

static void fuzz_body(const uint8_t *data, size_t size)
{
    rq_review review;
    jl_error err;
    jl_error_clear(&err);
    int rc = rq_review_parse((const char *)data, size, &review, &err);
    check_refusal(rc, &err);
    /* Every refusal of a body names the field (or the body) before a colon. */
    if (rc == JL_EINVAL && strchr(err.message, ':') == NULL)
        abort();
    if (rc == JL_OK) {
        size_t selector_len = strlen(review.selector_text);
        size_t reason_len = strlen(review.reason);
        if (review.from_ms >= review.to_ms || review.from_ms < JL_MIN_MS ||
            review.to_ms > JL_MAX_MS || (review.valid != 0 && review.valid != 1) ||
            selector_len == 0 || selector_len > ST_REVIEW_MAX_TEXT_BYTES || reason_len == 0 ||
            reason_len > ST_REVIEW_MAX_TEXT_BYTES || review.selector.metric == NULL ||
            review.selector.matcher_count > QP_MAX_MATCHERS)
            abort();
    }
    rq_review_destroy(&review);
}

static void fuzz_listing(const uint8_t *data, size_t size)
{
    char *text = fuzz_text_after_selector(data, size);
    if (text == NULL)
        return;
    rq_param params[MAX_FUZZ_PARAMS];
    size_t count = fuzz_split_params(text, params, MAX_FUZZ_PARAMS);
    rq_input in = {.params = params, .param_count = count, .now_ms = 1735689600000LL};
    rq_review_listing listing;
    jl_error err;
    jl_error_clear(&err);
    int rc = rq_review_listing_parse(&in, &listing, &err);
    check_refusal(rc, &err);
    if (rc == JL_OK && (listing.from_ms > listing.to_ms ||
                        (listing.from_ms == listing.to_ms && listing.from_ms != 0) ||
                        (listing.has_selector && listing.selector.metric == NULL)))
        abort();
    rq_review_listing_destroy(&listing);
    free(text);
}

static void fuzz_id(const uint8_t *data, size_t size)
{
    char *text = fuzz_text_after_selector(data, size);
    if (text == NULL)
        return;
    uint64_t id = 1;
    int ok = rq_review_parse_id(text, &id);
    if ((ok && id == 0) || (!ok && id != 0) || (ok && (text[0] == '0' || strlen(text) > 20)))
        abort();
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 4) {
    case 0:
        fuzz_listing(data, size);
        break;
    case 1:
        fuzz_id(data, size);
        break;
    default:
        fuzz_body(data, size);
        break;
    }
    return 0;
}
