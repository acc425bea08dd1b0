/* Review-mark requests: the JSON body of POST /api/v1/review (read with jansson), the parameters
 * of GET /api/v1/review and the id in /api/v1/review/<id>. Like the rest of request parsing this
 * knows no HTTP: every refusal is JL_EINVAL with a message that starts with the field it is
 * about, which the server sends to the client verbatim. */
#include "jialing/request.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields of a mark's body, in the order they are checked and listed in messages. */
static const char *const review_fields[] = {"series", "from", "to", "valid", "reason", NULL};

static const char *const selector_example = "a selector such as pm25{station=\"s01\"}";

/* A time field: integer epoch milliseconds or an RFC 3339 string, read by the same parser as the
 * from= and to= query parameters (an integer is turned into its decimal text first, so both
 * forms are refused with the same words). */
static int parse_time_field(const json_t *value, const char *name, int64_t *ms, jl_error *err)
{
    jl_error detail;
    jl_error_clear(&detail);
    if (value == NULL)
        return jl_error_set(err, JL_EINVAL,
                            "%s: required, epoch milliseconds (an integer) or an RFC 3339 time "
                            "such as \"2025-01-01T00:00:00Z\"",
                            name);
    int rc;
    if (json_is_integer(value)) {
        char text[32];
        snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
        rc = qp_parse_time(text, ms, &detail);
    } else if (json_is_string(value)) {
        rc =
            qp_parse_time_text(json_string_value(value), json_string_length(value), 0, ms, &detail);
    } else {
        return jl_error_set(err, JL_EINVAL,
                            "%s: must be epoch milliseconds (an integer) or an RFC 3339 string",
                            name);
    }
    if (rc != JL_OK)
        return jl_error_set(err, JL_EINVAL, "%s: %s", name, detail.message);
    return JL_OK;
}

/* Copies a JSON string field that must be non-empty and at most ST_REVIEW_MAX_TEXT_BYTES. */
static int copy_text_field(const json_t *value, const char *name, const char *what, char **out,
                           jl_error *err)
{
    if (value == NULL)
        return jl_error_set(err, JL_EINVAL, "%s: required, %s", name, what);
    if (!json_is_string(value))
        return jl_error_set(err, JL_EINVAL, "%s: must be a string, %s", name, what);
    size_t len = json_string_length(value);
    if (len == 0)
        return jl_error_set(err, JL_EINVAL, "%s: must not be empty", name);
    if (len > ST_REVIEW_MAX_TEXT_BYTES)
        return jl_error_set(err, JL_EINVAL, "%s: %zu bytes long; at most %u are allowed", name, len,
                            ST_REVIEW_MAX_TEXT_BYTES);
    /* Without JSON_ALLOW_NUL jansson refuses \u0000, so the text has no NUL inside. */
    if ((*out = strdup(json_string_value(value))) == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory reading the review mark");
    return JL_OK;
}

static int parse_object(const json_t *root, rq_review *out, jl_error *err)
{
    if (!json_is_object(root))
        return jl_error_set(err, JL_EINVAL,
                            "body: must be a JSON object with the fields series, from, to, valid "
                            "and reason");
    /* jansson keeps the document's order, so the first unknown key is the one refused. */
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)root, key, value)
    {
        int known = 0;
        for (size_t i = 0; review_fields[i] && !known; i++)
            known = strcmp(key, review_fields[i]) == 0;
        if (!known)
            return jl_error_set(err, JL_EINVAL,
                                "%.64s: unknown field (the fields are series, from, to, valid and "
                                "reason)",
                                key);
    }
    int rc = copy_text_field(json_object_get(root, "series"), "series", selector_example,
                             &out->selector_text, err);
    if (rc != JL_OK)
        return rc;
    jl_error detail;
    jl_error_clear(&detail);
    if (qp_parse_selector(out->selector_text, &out->selector, &detail) != JL_OK)
        return jl_error_set(err, detail.code == JL_ENOMEM ? JL_ENOMEM : JL_EINVAL, "series: %s",
                            detail.message);
    if ((rc = parse_time_field(json_object_get(root, "from"), "from", &out->from_ms, err)) !=
            JL_OK ||
        (rc = parse_time_field(json_object_get(root, "to"), "to", &out->to_ms, err)) != JL_OK)
        return rc;
    if (out->from_ms >= out->to_ms)
        return jl_error_set(err, JL_EINVAL, "from: must be before to (the span is [from, to))");
    const json_t *valid = json_object_get(root, "valid");
    if (valid == NULL)
        return jl_error_set(err, JL_EINVAL,
                            "valid: required, false (the readings are invalid) or true (valid "
                            "whatever their device flags say)");
    if (!json_is_boolean(valid))
        return jl_error_set(err, JL_EINVAL, "valid: must be true or false");
    out->valid = json_is_true(valid);
    return copy_text_field(json_object_get(root, "reason"), "reason", "why the readings are marked",
                           &out->reason, err);
}

int rq_review_parse(const char *body, size_t len, rq_review *out, jl_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t error;
    json_t *root = json_loadb(body ? body : "", body ? len : 0, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL) {
        if (json_error_code(&error) == json_error_out_of_memory)
            return jl_error_set(err, JL_ENOMEM, "out of memory reading the review mark");
        if (json_error_code(&error) == json_error_duplicate_key)
            return jl_error_set(err, JL_EINVAL, "body: a field is given twice (%s)", error.text);
        return jl_error_set(err, JL_EINVAL, "body: not valid JSON: %s (line %d, column %d)",
                            error.text, error.line, error.column);
    }
    int rc = parse_object(root, out, err);
    json_decref(root);
    return rc;
}

void rq_review_destroy(rq_review *review)
{
    free(review->selector_text);
    review->selector_text = NULL;
    qp_selector_destroy(&review->selector);
    free(review->reason);
    review->reason = NULL;
}

int rq_review_listing_parse(const rq_input *in, rq_review_listing *out, jl_error *err)
{
    static const char *const known[] = {"series", "from", "to", NULL};
    memset(out, 0, sizeof *out);
    if (rq_check_known(in->params, in->param_count, known, err) != JL_OK)
        return JL_EINVAL;
    jl_error detail;
    jl_error_clear(&detail);
    const char *series = rq_param_get(in->params, in->param_count, "series");
    if (series) {
        out->has_selector = 1;
        if (qp_parse_selector(series, &out->selector, &detail) != JL_OK)
            return jl_error_set(err, detail.code == JL_ENOMEM ? JL_ENOMEM : JL_EINVAL,
                                "parameter series: %s", detail.message);
    }
    const char *from = rq_param_get(in->params, in->param_count, "from");
    const char *to = rq_param_get(in->params, in->param_count, "to");
    if (from == NULL && to == NULL)
        return JL_OK;
    out->from_ms = JL_MIN_MS;
    out->to_ms = JL_MAX_MS + 1;
    if (from && qp_parse_time(from, &out->from_ms, &detail) != JL_OK)
        return jl_error_set(err, JL_EINVAL, "parameter from: %s", detail.message);
    if (to && qp_parse_time(to, &out->to_ms, &detail) != JL_OK)
        return jl_error_set(err, JL_EINVAL, "parameter to: %s", detail.message);
    if (out->from_ms >= out->to_ms)
        return jl_error_set(err, JL_EINVAL,
                            "parameter from must be before to (the range is [from, to))");
    return JL_OK;
}

void rq_review_listing_destroy(rq_review_listing *listing)
{
    qp_selector_destroy(&listing->selector);
    listing->has_selector = 0;
}

int rq_review_parse_id(const char *text, uint64_t *id)
{
    *id = 0;
    if (text == NULL || text[0] < '1' || text[0] > '9')
        return 0;
    uint64_t value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        unsigned digit = (unsigned)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return 0;
        value = value * 10 + digit;
    }
    *id = value;
    return 1;
}
