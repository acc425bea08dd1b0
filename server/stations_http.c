/* GET /api/v1/stations (server/stations_http.h): parameters in, hl_run(), and the answer written
 * by server/format.c's writer as /api/v1/query writes its results. */
#include "stations_http.h"

#include <string.h>

#include "jialing/format.h"
#include "jialing/health.h"
#include "jialing/params.h"
#include "jialing/serieskey.h"

static int bad(jl_error *err, const char *name, const char *detail)
{
    return jl_error_set(err, JL_EINVAL, "parameter %s: %s", name, detail);
}

static int tag_name(const char *name, const char *text, jl_error *err)
{
    if (text[0] == '\0' || !sk_name_valid(text, strlen(text)))
        return bad(err, name, "expected a tag name");
    return JL_OK;
}

static int parse_request(sv_context *context, const sv_request *request, hl_request *rq,
                         qp_selector *selector, fm_format *format, jl_error *err)
{
    static const char *const known[] = {"from",          "to",     "by",     "station_tag",
                                        "offline_after", "series", "format", NULL};
    int rc = rq_check_known(request->params, request->param_count, known, err);
    if (rc != JL_OK)
        return rc;
    rq_input in = sv_request_input(context, request);
    *format = (fm_format)in.format;
    jl_error detail;
    jl_error_clear(&detail);
    const char *format_text = sv_param_get(request, "format");
    if (format_text != NULL && fm_parse_format(format_text, format, &detail) != JL_OK)
        return bad(err, "format", detail.message);
    memset(rq, 0, sizeof *rq);
    const char *from = sv_param_get(request, "from");
    const char *to = sv_param_get(request, "to");
    rq->to_ms = in.now_ms + 1;
    if (to != NULL && qp_parse_time(to, &rq->to_ms, &detail) != JL_OK)
        return bad(err, "to", detail.message);
    /* Time that has not come yet is neither online nor offline: a report of this month so far
     * (to = the month's end) is over the time up to now. */
    if (rq->to_ms > in.now_ms + 1)
        rq->to_ms = in.now_ms + 1;
    rq->from_ms = rq->to_ms - 86400000;
    if (from != NULL && qp_parse_time(from, &rq->from_ms, &detail) != JL_OK)
        return bad(err, "from", detail.message);
    if (rq->from_ms >= rq->to_ms)
        return bad(err, "from", "must be before to, and before now");
    const char *by = sv_param_get(request, "by");
    const char *station_tag = sv_param_get(request, "station_tag");
    if (by != NULL && (rc = tag_name("by", by, err)) != JL_OK)
        return rc;
    if (station_tag != NULL && (rc = tag_name("station_tag", station_tag, err)) != JL_OK)
        return rc;
    rq->group_tag = "district";
    if (by != NULL && strcmp(by, "district") == 0) {
        rq->aggregate = 1;
        rq->station_tag = station_tag ? station_tag : "station";
        if (strcmp(rq->station_tag, "district") == 0)
            return bad(err, "station_tag", "must name another tag than district");
    } else {
        if (station_tag != NULL)
            return bad(err, "station_tag",
                       "applies with by=district only (otherwise by names the station tag)");
        rq->station_tag = by ? by : "station";
    }
    rq->offline_after_ms = context->config->offline_after_ms;
    const char *offline = sv_param_get(request, "offline_after");
    if (offline != NULL) {
        qp_duration duration = {0, 0};
        if (strcmp(offline, "0") != 0 &&
            (qp_parse_duration(offline, &duration, &detail) != JL_OK || duration.months != 0 ||
             duration.ms > HL_MAX_OFFLINE_AFTER_MS))
            return bad(err, "offline_after",
                       "expected 0 (three times each series' cadence) or a duration in ms, s, "
                       "m, h, d or w of at most 366 days");
        rq->offline_after_ms = duration.ms;
    }
    const char *series = sv_param_get(request, "series");
    if (series != NULL) {
        if (qp_parse_selector(series, selector, &detail) != JL_OK)
            return bad(err, "series", detail.message);
        rq->series = selector;
    }
    rq->limits = context->config->limits;
    return JL_OK;
}

static int emit_health(const void *result, const qx_sink *sink)
{
    return hl_emit(result, sink);
}

void sv_stations(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    qp_selector selector;
    memset(&selector, 0, sizeof selector);
    hl_request rq;
    fm_format format = FM_JSON;
    hl_result *result = NULL;
    int rc = parse_request(context, request, &rq, &selector, &format, &err);
    if (rc == JL_OK)
        rc = hl_run(context->store, &rq, &result, &err);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        goto out;
    }
    rc = sv_write_result(response, format, emit_health, result);
    if (rc != JL_OK) {
        sv_respond_error(response, rc, "could not write the answer");
        goto out;
    }
    sv_respond_ok(response, fm_content_type(format));
out:
    hl_result_free(result);
    qp_selector_destroy(&selector);
}
