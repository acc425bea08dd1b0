/* GET /api/v1/sites and GET /api/v1/water_quality (server/water_http.h): parameters in, the sites
 * registry's current set held for the request, wq_run(), and the answer written by
 * server/format.c's writer as /api/v1/query writes its results. */
#include "water_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/format.h"
#include "jialing/params.h"
#include "jialing/sites.h"
#include "jialing/tz.h"
#include "jialing/water.h"

static const char *const json_type = "application/json";

void sv_sites_list(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    static const char *const known[] = {NULL};
    int rc = rq_check_known(request->params, request->param_count, known, &err);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        return;
    }
    si_set *set = context->config->sites ? si_registry_acquire(context->config->sites) : NULL;
    response->body.len = 0;
    rc = si_write_json(set, &response->body);
    si_set_release(set);
    if (rc != JL_OK) {
        sv_respond_error(response, rc, "out of memory listing the sites");
        return;
    }
    sv_respond_ok(response, json_type);
}

/* Everything one water-quality request owns. */
typedef struct wq_http {
    si_set *set;           /* held for the request, or NULL */
    const si_site **sites; /* the sites asked for */
    size_t site_count;
    si_site pseudo; /* select=: a site built from the selector */
    si_tag pseudo_tags[QP_MAX_MATCHERS];
    qp_selector selector; /* select= parsed */
    char *select_text;    /* "_" + select's value, parsed into selector */
    tz_zone *zone;
    wq_param params[WQ_PARAM_COUNT];
    size_t param_count;
} wq_http;

static void wq_http_destroy(wq_http *h)
{
    si_set_release(h->set);
    free(h->sites);
    qp_selector_destroy(&h->selector);
    free(h->select_text);
    tz_zone_free(h->zone);
}

static int bad(jl_error *err, const char *name, const char *detail)
{
    return jl_error_set(err, JL_EINVAL, "parameter %s: %s", name, detail);
}

static int parse_unsigned(const sv_request *request, const char *name, unsigned fallback,
                          unsigned *out, jl_error *err)
{
    const char *text = sv_param_get(request, name);
    *out = fallback;
    if (text == NULL)
        return JL_OK;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || n > 100000)
        return bad(err, name, "expected a whole number from 0 to 100000");
    *out = (unsigned)n;
    return JL_OK;
}

static int parse_params(const sv_request *request, wq_http *h, jl_error *err)
{
    const char *text = sv_param_get(request, "params");
    if (text == NULL)
        text = "nh3n,cod,codmn,tp,tn,do,ph,bod5";
    const char *p = text;
    while (1) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[32];
        if (len == 0 || len >= sizeof name)
            return bad(err, "params", "expected a comma-separated list of water parameters");
        memcpy(name, p, len);
        name[len] = '\0';
        int param = wq_param_from_name(name);
        if (param < 0)
            return jl_error_set(err, JL_EINVAL,
                                "parameter params: unknown water parameter \"%.31s\" (GB 3838-2002 "
                                "table 1: nh3n cod codmn tp tn do ph bod5 cu zn f se as hg cd "
                                "cr6 pb cn phenol petroleum las sulfide fcoli)",
                                name);
        for (size_t i = 0; i < h->param_count; i++)
            if ((int)h->params[i] == param)
                return jl_error_set(err, JL_EINVAL, "parameter params: \"%s\" is listed twice",
                                    name);
        h->params[h->param_count++] = (wq_param)param;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return JL_OK;
}

/* The sites: exactly one of site=, sites=, select=. */
static int parse_sites(sv_context *context, const sv_request *request, wq_http *h, jl_error *err)
{
    const char *site = sv_param_get(request, "site");
    const char *sites = sv_param_get(request, "sites");
    const char *select = sv_param_get(request, "select");
    const char *kind = sv_param_get(request, "kind");
    const char *target = sv_param_get(request, "target");
    int given = (site != NULL) + (sites != NULL) + (select != NULL);
    if (given != 1)
        return bad(err, given ? "site" : "select",
                   "give exactly one of site=<id>, sites=<district>|all or select={tag=\"v\"}");
    if (select == NULL) {
        if (kind != NULL)
            return bad(err, "kind", "applies with select= only (a site has its own kind)");
        if (target != NULL)
            return bad(err, "target", "applies with select= only (a site has its own target)");
        const char *name = site ? "site" : "sites";
        if (context->config->sites == NULL)
            return bad(err, name, "no sites file is loaded (start jialingd with --sites FILE)");
        h->set = si_registry_acquire(context->config->sites);
        size_t n = si_count(h->set);
        h->sites = calloc(n ? n : 1, sizeof *h->sites);
        if (h->sites == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory");
        if (site != NULL) {
            const si_site *s = si_find(h->set, site);
            if (s == NULL) {
                char q[56];
                sk_quote(site, strlen(site), q, sizeof q);
                return jl_error_set(err, JL_EINVAL,
                                    "parameter site: no site \"%s\" in the sites "
                                    "file",
                                    q);
            }
            if (!si_kind_is_water(s->kind))
                return bad(err, "site", "is an air site; water_quality takes water sites");
            h->sites[h->site_count++] = s;
        } else {
            size_t total = si_by_district(h->set, sites, h->sites, n);
            for (size_t i = 0; i < total && i < n; i++)
                if (si_kind_is_water(h->sites[i]->kind))
                    h->sites[h->site_count++] = h->sites[i];
        }
        return JL_OK;
    }
    /* select={...}: parsed as a selector's braces with a placeholder metric. */
    size_t len = strlen(select);
    h->select_text = malloc(len + 2);
    if (h->select_text == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    h->select_text[0] = '_';
    memcpy(h->select_text + 1, select, len + 1);
    jl_error detail;
    jl_error_clear(&detail);
    if (select[0] != '{' || qp_parse_selector(h->select_text, &h->selector, &detail) != JL_OK)
        return jl_error_set(err, JL_EINVAL, "parameter select: %s",
                            select[0] != '{' ? "expected {tag=\"value\",...}" : detail.message);
    if (h->selector.matcher_count == 0)
        return bad(err, "select", "needs at least one tag=\"value\" condition");
    si_site *ps = &h->pseudo;
    memset(ps, 0, sizeof *ps);
    for (size_t i = 0; i < h->selector.matcher_count; i++) {
        if (h->selector.matchers[i].negate)
            return bad(err, "select", "takes tag=\"value\" conditions only, not !=");
        h->pseudo_tags[i].key = h->selector.matchers[i].key;
        h->pseudo_tags[i].value = h->selector.matchers[i].value;
    }
    /* Sorted by key, as the series tags of the answer are. */
    for (size_t i = 1; i < h->selector.matcher_count; i++)
        for (size_t j = i; j > 0 && strcmp(h->pseudo_tags[j - 1].key, h->pseudo_tags[j].key) > 0;
             j--) {
            si_tag t = h->pseudo_tags[j];
            h->pseudo_tags[j] = h->pseudo_tags[j - 1];
            h->pseudo_tags[j - 1] = t;
        }
    for (size_t i = 1; i < h->selector.matcher_count; i++)
        if (strcmp(h->pseudo_tags[i - 1].key, h->pseudo_tags[i].key) == 0)
            return bad(err, "select", "names a tag twice");
    ps->tags = h->pseudo_tags;
    ps->tag_count = h->selector.matcher_count;
    ps->kind = SI_KIND_RIVER;
    ps->name = "select";
    ps->district = "";
    if (kind != NULL &&
        (si_parse_kind(kind, &ps->kind, NULL) != JL_OK || !si_kind_is_water(ps->kind)))
        return bad(err, "kind", "expected river, lake, reservoir or drinking");
    if (target != NULL && si_parse_class(target, &ps->target, NULL) != JL_OK)
        return bad(err, "target", "expected I, II, III, IV or V");
    h->sites = calloc(1, sizeof *h->sites);
    if (h->sites == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    h->sites[0] = ps;
    h->site_count = 1;
    return JL_OK;
}

static int parse_request(sv_context *context, const sv_request *request, wq_http *h, wq_request *rq,
                         fm_format *format, jl_error *err)
{
    static const char *const known[] = {
        "site", "sites",  "select",       "kind",     "target",     "from",   "to", "window",
        "tz",   "params", "min_readings", "min_days", "min_months", "format", NULL};
    int rc = rq_check_known(request->params, request->param_count, known, err);
    if (rc != JL_OK)
        return rc;
    rq_input in = sv_request_input(context, request);
    *format = (fm_format)in.format;
    const char *format_text = sv_param_get(request, "format");
    jl_error detail;
    jl_error_clear(&detail);
    if (format_text != NULL && fm_parse_format(format_text, format, &detail) != JL_OK)
        return bad(err, "format", detail.message);
    memset(rq, 0, sizeof *rq);
    static const char *const times[] = {"from", "to"};
    int64_t *dst[] = {&rq->from_ms, &rq->to_ms};
    for (int i = 0; i < 2; i++) {
        const char *text = sv_param_get(request, times[i]);
        if (text == NULL)
            return bad(err, times[i], "is required (RFC 3339 or epoch milliseconds)");
        if (qp_parse_time(text, dst[i], &detail) != JL_OK)
            return bad(err, times[i], detail.message);
    }
    if (rq->from_ms >= rq->to_ms)
        return bad(err, "from", "must be before to");
    const char *window = sv_param_get(request, "window");
    if (window == NULL || strcmp(window, "1d") == 0)
        rq->window = WQ_WINDOW_DAY;
    else if (strcmp(window, "1mo") == 0)
        rq->window = WQ_WINDOW_MONTH;
    else if (strcmp(window, "1y") == 0)
        rq->window = WQ_WINDOW_YEAR;
    else
        return bad(err, "window", "expected 1d, 1mo or 1y");
    const char *tz = sv_param_get(request, "tz");
    rc = tz_zone_load(tz ? tz : "Asia/Shanghai", &h->zone, &detail);
    if (rc != JL_OK)
        return rc == JL_EINVAL ? bad(err, "tz", detail.message)
                               : jl_error_set(err, rc, "parameter tz: %s", detail.message);
    rq->zone = h->zone;
    if ((rc = parse_unsigned(request, "min_readings", WQ_DEFAULT_MIN_READINGS, &rq->min_readings,
                             err)) != JL_OK ||
        (rc = parse_unsigned(request, "min_days", WQ_DEFAULT_MIN_DAYS, &rq->min_days, err)) !=
            JL_OK ||
        (rc = parse_unsigned(request, "min_months", WQ_DEFAULT_MIN_MONTHS, &rq->min_months, err)) !=
            JL_OK)
        return rc;
    if ((rc = parse_params(request, h, err)) != JL_OK)
        return rc;
    if ((rc = parse_sites(context, request, h, err)) != JL_OK)
        return rc;
    rq->sites = h->sites;
    rq->site_count = h->site_count;
    rq->params = h->params;
    rq->param_count = h->param_count;
    rq->limits = context->config->limits;
    rq->flags.mask = rq->limits.valid_flags ? rq->limits.valid_flags : JL_FLAG_MASK_N;
    rq->flags.reviews = 1;
    return JL_OK;
}

static int emit_water(const void *result, const qx_sink *sink)
{
    return wq_emit(result, sink);
}

void sv_water_quality(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    wq_http h;
    memset(&h, 0, sizeof h);
    wq_request rq;
    fm_format format = FM_JSON;
    wq_result *result = NULL;
    int rc = parse_request(context, request, &h, &rq, &format, &err);
    if (rc == JL_OK)
        rc = wq_run(context->store, &rq, &result, &err);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        goto out;
    }
    rc = sv_write_result(response, format, emit_water, result);
    /* JSON: the metadata goes beside "series", in place of the document's closing brace. */
    if (rc == JL_OK && format == FM_JSON && response->body.len > 0 &&
        response->body.data[response->body.len - 1] == '}') {
        response->body.len--;
        rc = jl_buf_append_str(&response->body, ",\"meta\":");
        if (rc == JL_OK)
            rc = wq_meta_json(result, &response->body);
        if (rc == JL_OK)
            rc = jl_buf_append_str(&response->body, "}");
    }
    if (rc != JL_OK) {
        sv_respond_error(response, rc, "could not write the answer");
        goto out;
    }
    sv_respond_ok(response, fm_content_type(format));
out:
    wq_result_free(result);
    wq_http_destroy(&h);
}

void sv_assessment(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    wq_http h;
    memset(&h, 0, sizeof h);
    wq_request rq;
    memset(&rq, 0, sizeof rq);
    static const char *const known[] = {"site",         "sites",    "from",   "to", "tz",
                                        "min_readings", "min_days", "format", NULL};
    int rc = rq_check_known(request->params, request->param_count, known, &err);
    jl_error detail;
    jl_error_clear(&detail);
    int csv = 0;
    const char *format = sv_param_get(request, "format");
    if (rc == JL_OK && format == NULL) {
        fm_format negotiated = FM_JSON;
        fm_format_from_accept(request->accept, &negotiated);
        csv = negotiated == FM_CSV;
    } else if (rc == JL_OK) {
        if (strcmp(format, "csv") == 0)
            csv = 1;
        else if (strcmp(format, "json") != 0)
            rc = bad(&err, "format", "expected json or csv");
    }
    static const char *const times[] = {"from", "to"};
    int64_t *dst[] = {&rq.from_ms, &rq.to_ms};
    for (int i = 0; i < 2 && rc == JL_OK; i++) {
        const char *text = sv_param_get(request, times[i]);
        if (text == NULL)
            rc = bad(&err, times[i], "is required (RFC 3339 or epoch milliseconds)");
        else if (qp_parse_time(text, dst[i], &detail) != JL_OK)
            rc = bad(&err, times[i], detail.message);
    }
    if (rc == JL_OK && rq.from_ms >= rq.to_ms)
        rc = bad(&err, "from", "must be before to");
    if (rc == JL_OK) {
        const char *tz = sv_param_get(request, "tz");
        rc = tz_zone_load(tz ? tz : "Asia/Shanghai", &h.zone, &detail);
        if (rc != JL_OK)
            rc = rc == JL_EINVAL ? bad(&err, "tz", detail.message)
                                 : jl_error_set(&err, rc, "parameter tz: %s", detail.message);
        rq.zone = h.zone;
    }
    if (rc == JL_OK)
        rc = parse_unsigned(request, "min_readings", WQ_DEFAULT_MIN_READINGS, &rq.min_readings,
                            &err);
    if (rc == JL_OK)
        rc = parse_unsigned(request, "min_days", WQ_DEFAULT_MIN_DAYS, &rq.min_days, &err);
    const char *site = sv_param_get(request, "site");
    const char *sites = sv_param_get(request, "sites");
    if (rc == JL_OK && site != NULL && sites != NULL)
        rc = bad(&err, "site", "give site=<id> or sites=<district>|all, not both");
    if (rc == JL_OK && context->config->sites == NULL)
        rc = bad(&err, site ? "site" : "sites",
                 "no sites file is loaded (start jialingd with --sites FILE)");
    if (rc == JL_OK) {
        h.set = si_registry_acquire(context->config->sites);
        size_t n = si_count(h.set);
        h.sites = calloc(n ? n : 1, sizeof *h.sites);
        if (h.sites == NULL) {
            rc = jl_error_set(&err, JL_ENOMEM, "out of memory");
        } else if (site != NULL) {
            const si_site *s = si_find(h.set, site);
            if (s == NULL || s->kind != SI_KIND_RIVER || !s->agreement.present)
                rc =
                    bad(&err, "site", "is not a river section with an agreement in the sites file");
            else
                h.sites[h.site_count++] = s;
        } else {
            h.site_count = si_by_district(h.set, sites ? sites : "all", h.sites, n);
        }
    }
    rq.sites = h.sites;
    rq.site_count = h.site_count;
    rq.limits = context->config->limits;
    rq.flags.mask = rq.limits.valid_flags ? rq.limits.valid_flags : JL_FLAG_MASK_N;
    rq.flags.reviews = 1;
    rq.min_months = 1;
    response->body.len = 0;
    if (rc == JL_OK)
        rc = wq_assess(context->store, &rq, csv, &response->body, &err);
    if (rc != JL_OK)
        sv_respond_failure(response, rc, &err);
    else
        sv_respond_ok(response, csv ? "text/csv; charset=utf-8" : json_type);
    wq_http_destroy(&h);
}
