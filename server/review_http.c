/* The review-mark endpoints over HTTP. Every answer that carries marks is JSON:
 *
 *   one mark (POST, GET /api/v1/review/<id>, DELETE):
 *     {"id":1,"made_at":"2025-01-02T03:04:05.678Z","made_at_ms":1735787045678,"made_by":"zhang",
 *      "series":"pm25{station=\"s01\"}","series_count":1,"from":"...","from_ms":...,"to":"...",
 *      "to_ms":...,"valid":false,"reason":"...","readings_affected":12,"withdrawn":false,
 *      "withdrawn_at":null,"withdrawn_at_ms":null,"withdrawn_by":null}
 *   a listing (GET /api/v1/review): {"marks":[mark, ...]}, newest first.
 *
 * Every instant is given twice, as NAME (RFC 3339 in UTC with milliseconds and "Z") and NAME_ms
 * (epoch milliseconds), both null when there is none; a client reads whichever it likes. "series"
 * is the selector as the reviewer wrote it, "series_count" how many series it matched when the
 * mark was made (the mark keeps covering exactly those). made_by and withdrawn_by are token
 * names ("" on a server without tokens).
 *
 * A mark is stored durably (the store's group commit) before its answer is sent; an answer is
 * the entry as stored, read back. */
#include "review_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jialing/calendar.h"
#include "jialing/format.h"
#include "jialing/review.h"

static const char *const json_type = "application/json";

/* The put_* writers return JL_OK or JL_ENOMEM (some append ran out of memory). */

/* Appends ,"NAME":"<RFC 3339 UTC>","NAME_ms":<ms>. */
static int put_time(jl_buf *out, const char *name, int64_t ms)
{
    int64_t days = cal_floor_div(ms, 86400000);
    int64_t in_day = cal_floor_mod(ms, 86400000);
    int64_t year;
    unsigned month, day;
    cal_civil_from_days(days, &year, &month, &day);
    return jl_buf_printf(
        out, ",\"%s\":\"%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%03dZ\",\"%s_ms\":%" PRId64, name,
        year, month, day, (int)(in_day / 3600000), (int)(in_day / 60000 % 60),
        (int)(in_day / 1000 % 60), (int)(in_day % 1000), name, ms);
}

/* Appends ,"NAME":"<text>" (null for NULL). */
static int put_text(jl_buf *out, const char *name, const char *text)
{
    int rc = jl_buf_printf(out, ",\"%s\":", name);
    if (rc == JL_OK)
        rc = text ? fm_json_string(out, text, strlen(text)) : jl_buf_append_str(out, "null");
    return rc;
}

static int put_mark(jl_buf *out, const st_review_mark *mark)
{
    int rc = jl_buf_printf(out, "{\"id\":%" PRIu64, mark->id);
    if (rc == JL_OK)
        rc = put_time(out, "made_at", mark->made_ms);
    if (rc == JL_OK)
        rc = put_text(out, "made_by", mark->made_by);
    if (rc == JL_OK)
        rc = put_text(out, "series", mark->selector);
    if (rc == JL_OK)
        rc = jl_buf_printf(out, ",\"series_count\":%zu", mark->series_count);
    if (rc == JL_OK)
        rc = put_time(out, "from", mark->from_ms);
    if (rc == JL_OK)
        rc = put_time(out, "to", mark->to_ms);
    if (rc == JL_OK)
        rc = jl_buf_printf(out, ",\"valid\":%s", mark->valid ? "true" : "false");
    if (rc == JL_OK)
        rc = put_text(out, "reason", mark->reason);
    if (rc == JL_OK)
        rc = jl_buf_printf(out, ",\"readings_affected\":%" PRIu64 ",\"withdrawn\":%s",
                           mark->readings_affected, mark->withdrawn ? "true" : "false");
    if (rc == JL_OK && mark->withdrawn) {
        rc = put_time(out, "withdrawn_at", mark->withdrawn_ms);
        if (rc == JL_OK)
            rc = put_text(out, "withdrawn_by", mark->withdrawn_by ? mark->withdrawn_by : "");
    } else if (rc == JL_OK) {
        rc = jl_buf_append_str(
            out, ",\"withdrawn_at\":null,\"withdrawn_at_ms\":null,\"withdrawn_by\":null");
    }
    if (rc == JL_OK)
        rc = jl_buf_append_str(out, "}");
    return rc;
}

/* The token's name for made_by/withdrawn_by: "" on a server without tokens. */
static void caller_name(sv_context *context, const sv_request *request,
                        char name[AU_MAX_NAME_BYTES + 1])
{
    name[0] = '\0';
    if (context->tokens)
        au_tokens_identify(context->tokens, request->authorization, name);
}

/* Refuses any query parameter (POST and the /<id> routes take none). */
static int refuse_params(const sv_request *request, sv_response *response)
{
    static const char *const none[] = {NULL};
    jl_error err;
    jl_error_clear(&err);
    if (rq_check_known(request->params, request->param_count, none, &err) == JL_OK)
        return JL_OK;
    sv_respond_failure(response, JL_EINVAL, &err);
    return JL_EINVAL;
}

/* Answers mark `id` read back from the store, or what went wrong (after_change: the mark was
 * just made or withdrawn, which the message then says, so that a client does not repeat it). */
static void answer_mark(sv_context *context, uint64_t id, int after_change, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    st_review_list *list = NULL;
    int rc = qx_review_list(context->store, NULL, 0, 0, id, &list, &err);
    if (rc == JL_OK && st_review_list_count(list) == 0)
        rc = jl_error_set(&err, JL_ENOTFOUND, "there is no review mark %" PRIu64, id);
    if (rc != JL_OK) {
        if (after_change) {
            char message[JL_ERROR_MESSAGE_MAX];
            snprintf(message, sizeof message,
                     "review mark %" PRIu64 " is stored, but reading it back failed: %.300s", id,
                     err.message[0] ? err.message : jl_strerror(rc));
            sv_respond_error(response, rc == JL_ENOTFOUND ? JL_ESTORE : rc, message);
        } else {
            sv_respond_failure(response, rc, &err);
        }
        st_review_list_free(list);
        return;
    }
    response->body.len = 0;
    rc = put_mark(&response->body, st_review_list_get(list, 0));
    st_review_list_free(list);
    if (rc != JL_OK)
        sv_respond_error(response, rc, "out of memory writing the review mark");
    else
        sv_respond_ok(response, json_type);
}

static void handle_post(sv_context *context, const sv_request *request, sv_response *response)
{
    if (refuse_params(request, response) != JL_OK)
        return;
    jl_error err;
    jl_error_clear(&err);
    rq_review review;
    int rc = rq_review_parse(request->body, request->body_len, &review, &err);
    uint64_t id = 0;
    if (rc == JL_OK) {
        char name[AU_MAX_NAME_BYTES + 1];
        caller_name(context, request, name);
        qx_review_request mark = {.selector = &review.selector,
                                  .selector_text = review.selector_text,
                                  .from_ms = review.from_ms,
                                  .to_ms = review.to_ms,
                                  .valid = review.valid,
                                  .reason = review.reason,
                                  .made_by = name,
                                  .made_ms = jl_now_ms()};
        rc = qx_review_add(context->store, &mark, &id, &err);
    }
    rq_review_destroy(&review);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        return;
    }
    answer_mark(context, id, 1, response);
}

static void handle_list(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    rq_input in = sv_request_input(context, request);
    rq_review_listing listing;
    int rc = rq_review_listing_parse(&in, &listing, &err);
    st_review_list *list = NULL;
    if (rc == JL_OK)
        rc = qx_review_list(context->store, listing.has_selector ? &listing.selector : NULL,
                            listing.from_ms, listing.to_ms, 0, &list, &err);
    rq_review_listing_destroy(&listing);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        return;
    }
    jl_buf *out = &response->body;
    out->len = 0;
    rc = jl_buf_append_str(out, "{\"marks\":[");
    size_t count = st_review_list_count(list);
    for (size_t i = 0; i < count && rc == JL_OK; i++) {
        if (i)
            rc = jl_buf_append_str(out, ",");
        if (rc == JL_OK)
            rc = put_mark(out, st_review_list_get(list, i));
    }
    if (rc == JL_OK)
        rc = jl_buf_append_str(out, "]}");
    st_review_list_free(list);
    if (rc != JL_OK)
        sv_respond_error(response, rc, "out of memory writing the review marks");
    else
        sv_respond_ok(response, json_type);
}

static void handle_one(sv_context *context, const sv_request *request, sv_response *response,
                       const char *id_text)
{
    if (refuse_params(request, response) != JL_OK)
        return;
    uint64_t id;
    if (!rq_review_parse_id(id_text, &id)) {
        char message[JL_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof message,
                 "there is no review mark \"%.64s\" (ids are whole numbers: 1, 2, ...)", id_text);
        sv_respond_error(response, JL_ENOTFOUND, message);
        return;
    }
    if (strcmp(request->method, "DELETE") != 0) {
        answer_mark(context, id, 0, response);
        return;
    }
    jl_error err;
    jl_error_clear(&err);
    char name[AU_MAX_NAME_BYTES + 1];
    caller_name(context, request, name);
    int rc = st_review_withdraw(context->store, id, jl_now_ms(), name, &err);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        return;
    }
    answer_mark(context, id, 1, response);
}

void sv_review_handle(sv_context *context, const sv_request *request, sv_response *response)
{
    const char *rest = request->path + strlen(SV_REVIEW_PATH);
    if (rest[0] == '/')
        handle_one(context, request, response, rest + 1);
    else if (strcmp(request->method, "POST") == 0)
        handle_post(context, request, response);
    else
        handle_list(context, request, response);
}
