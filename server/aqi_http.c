/* GET /api/v1/aqi: parameters -> aq_request -> aq_compute() -> JSON or CSV. The writer here is
 * its own (not format.c's) because the rows hold text cells (category, colour, primary
 * pollutants, standard, note), which the query cells of jialing/query.h cannot carry. Nothing in
 * the answer depends on the clock or on memory addresses, so the same request over the same data
 * gives the same bytes. */
#include "aqi_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/aqi.h"
#include "jialing/format.h"
#include "jialing/params.h"
#include "jialing/request.h"
#include "jialing/sites.h"

#define MAX_STATIONS 256 /* stations (sites) of one request */
#define DEFAULT_TZ "Asia/Shanghai"

/* A version of the method, bumped when a rule changes what the same data gives. */
#define AQI_METHOD_VERSION "jialing-aqi/1"

/* The columns, in order; the pollutant pairs come from aq_column_name(). */
static const char *const leading_columns[] = {"time",     "aqi",   "level",
                                              "category", "color", "primary"};
static const char *const trailing_columns[] = {"category_en", "standard", "note"};

/* The parsed request and what it owns. */
typedef struct aqi_params {
    qp_selector selectors[MAX_STATIONS]; /* owned: each station's conditions (metric unused) */
    aq_station stations[MAX_STATIONS];
    const char *site_ids[MAX_STATIONS]; /* site= / sites=: the site's id (borrowed from sites) */
    size_t station_count;
    si_set *sites; /* a reference taken for site= / sites=, else NULL */
    tz_zone *zone; /* owned */
    const char *tz_name;
    const char *window_text;
    const char *standard_text;
    aq_request request;
    fm_format format;
} aqi_params;

static void params_destroy(aqi_params *p)
{
    for (size_t i = 0; i < p->station_count; i++)
        qp_selector_destroy(&p->selectors[i]);
    tz_zone_free(p->zone);
    p->zone = NULL;
    p->station_count = 0;
    si_set_release(p->sites);
    p->sites = NULL;
}

/* One site of the sites file as a station: its tag conditions and metric names. */
static int add_site(aqi_params *p, const si_site *site, const char *parameter, jl_error *err)
{
    if (site->kind != SI_KIND_AIR)
        return jl_error_set(err, JL_EINVAL, "parameter %s: site \"%s\" is a %s site, not air",
                            parameter, site->id, si_kind_name(site->kind));
    if (p->station_count == MAX_STATIONS)
        return jl_error_set(err, JL_EINVAL, "parameter %s: more than %d sites", parameter,
                            MAX_STATIONS);
    qp_selector *sel = &p->selectors[p->station_count];
    jl_error detail;
    jl_error_clear(&detail);
    int rc = si_selector(site, "aqi", sel, &detail);
    if (rc != JL_OK) {
        qp_selector_destroy(sel);
        return jl_error_set(err, rc, "parameter %s: site \"%s\": %s", parameter, site->id,
                            detail.message);
    }
    aq_station *station = &p->stations[p->station_count];
    memset(station, 0, sizeof *station);
    station->matchers = sel->matchers;
    station->matcher_count = sel->matcher_count;
    for (int k = 0; k < AQ_POLLUTANT_COUNT; k++)
        station->metrics[k] = si_metric_for(site, aq_pollutant_name((aq_pollutant)k));
    p->site_ids[p->station_count++] = site->id;
    return JL_OK;
}

/* site=<id> or sites=<district>|all, from the server's sites file. */
static int parse_sites(aqi_params *p, si_registry *registry, const char *site, const char *district,
                       jl_error *err)
{
    const char *parameter = site ? "site" : "sites";
    if (registry == NULL || (p->sites = si_registry_acquire(registry)) == NULL)
        return jl_error_set(err, JL_EINVAL,
                            "parameter %s: no sites file is loaded (start jialingd with --sites "
                            "FILE), use select={tag=\"value\"}",
                            parameter);
    if (site) {
        const si_site *found = si_find(p->sites, site);
        if (found == NULL)
            return jl_error_set(err, JL_EINVAL, "parameter site: no site \"%.200s\"", site);
        return add_site(p, found, parameter, err);
    }
    size_t count = si_by_district(p->sites, district, NULL, 0);
    const si_site **list = calloc(count ? count : 1, sizeof *list);
    if (list == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    si_by_district(p->sites, district, list, count);
    int rc = JL_OK;
    for (size_t i = 0; i < count && rc == JL_OK; i++)
        if (list[i]->kind == SI_KIND_AIR)
            rc = add_site(p, list[i], parameter, err);
    free(list);
    if (rc == JL_OK && p->station_count == 0)
        rc = jl_error_set(err, JL_EINVAL, "parameter sites: no air site in \"%.200s\"", district);
    return rc;
}

/* select={k="v",...}[,{...}]: each brace group one station (a selector body without a metric). */
static int parse_select(aqi_params *p, const char *text, jl_error *err)
{
    if (text == NULL || text[0] == '\0')
        return jl_error_set(err, JL_EINVAL,
                            "parameter select: required (or site= or sites=), e.g. "
                            "select={station=\"s01\"}");
    const char *s = text;
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == '\0')
            break;
        if (*s != '{')
            return jl_error_set(err, JL_EINVAL,
                                "parameter select: expected '{' at column %d, e.g. "
                                "select={station=\"s01\"},{station=\"s02\"}",
                                (int)(s - text) + 1);
        const char *end = s + 1;
        int quoted = 0;
        while (*end && (quoted || *end != '}')) {
            if (quoted && *end == '\\' && end[1])
                end++;
            else if (*end == '"')
                quoted = !quoted;
            end++;
        }
        if (*end != '}')
            return jl_error_set(err, JL_EINVAL, "parameter select: unclosed '{'");
        if (p->station_count == MAX_STATIONS)
            return jl_error_set(err, JL_EINVAL, "parameter select: more than %d stations",
                                MAX_STATIONS);
        size_t len = (size_t)(end - s) + 1;
        char *selector = malloc(len + 2);
        if (selector == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory");
        selector[0] = 'x'; /* a metric for the selector grammar; aq_station has its own */
        memcpy(selector + 1, s, len);
        selector[len + 1] = '\0';
        jl_error detail;
        jl_error_clear(&detail);
        qp_selector *sel = &p->selectors[p->station_count];
        int rc = qp_parse_selector(selector, sel, &detail);
        free(selector);
        if (rc != JL_OK) {
            qp_selector_destroy(sel);
            return jl_error_set(err, rc, "parameter select: %s", detail.message);
        }
        p->station_count++;
        int positive = 0;
        for (size_t i = 0; i < sel->matcher_count; i++)
            positive |= !sel->matchers[i].negate;
        if (!positive)
            return jl_error_set(err, JL_EINVAL,
                                "parameter select: each {...} needs at least one tag=\"value\"");
        aq_station *station = &p->stations[p->station_count - 1];
        memset(station, 0, sizeof *station);
        station->matchers = sel->matchers;
        station->matcher_count = sel->matcher_count;
        s = end + 1;
    }
    if (p->station_count == 0)
        return jl_error_set(err, JL_EINVAL, "parameter select: no {...} station given");
    return JL_OK;
}

static int parse_params(const rq_input *in, si_registry *registry, aqi_params *p, jl_error *err)
{
    static const char *const known[] = {"select", "site",     "sites",  "from", "to",
                                        "window", "standard", "format", "tz",   NULL};
    int rc = rq_check_known(in->params, in->param_count, known, err);
    if (rc != JL_OK)
        return rc;
#define GET(key) rq_param_get(in->params, in->param_count, key)
    aq_request *r = &p->request;
    memset(r, 0, sizeof *r);
    const char *select = GET("select"), *site = GET("site"), *sites = GET("sites");
    if ((select != NULL) + (site != NULL) + (sites != NULL) > 1)
        return jl_error_set(err, JL_EINVAL, "parameter %s: give one of select, site and sites",
                            select ? (site ? "site" : "sites") : "sites");
    if (site || sites)
        rc = parse_sites(p, registry, site, sites, err);
    else
        rc = parse_select(p, select, err);
    if (rc != JL_OK)
        return rc;
    r->stations = p->stations;
    r->station_count = p->station_count;
    jl_error detail;
    jl_error_clear(&detail);
    const char *from = GET("from"), *to = GET("to");
    if (from == NULL)
        return jl_error_set(err, JL_EINVAL, "parameter from: required (RFC 3339 or epoch ms)");
    if (to == NULL)
        return jl_error_set(err, JL_EINVAL, "parameter to: required (RFC 3339 or epoch ms)");
    if (qp_parse_time(from, &r->from_ms, &detail) != JL_OK)
        return jl_error_set(err, JL_EINVAL, "parameter from: %s", detail.message);
    if (qp_parse_time(to, &r->to_ms, &detail) != JL_OK)
        return jl_error_set(err, JL_EINVAL, "parameter to: %s", detail.message);
    if (r->from_ms >= r->to_ms)
        return jl_error_set(err, JL_EINVAL, "parameter from: must be before to");
    p->window_text = GET("window") ? GET("window") : "1d";
    if (strcmp(p->window_text, "1h") == 0)
        r->window = AQ_WINDOW_HOUR;
    else if (strcmp(p->window_text, "1d") == 0)
        r->window = AQ_WINDOW_DAY;
    else
        return jl_error_set(err, JL_EINVAL, "parameter window: expected 1h or 1d");
    p->tz_name = GET("tz") ? GET("tz") : DEFAULT_TZ;
    rc = tz_zone_load(p->tz_name, &p->zone, &detail);
    if (rc != JL_OK)
        return jl_error_set(err, rc, "parameter tz: %s", detail.message);
    r->zone = p->zone;
    p->standard_text = GET("standard") ? GET("standard") : "auto";
    if (strcmp(p->standard_text, "auto") == 0)
        r->standard = AQ_CHOOSE_AUTO;
    else if (strcmp(p->standard_text, "2012") == 0)
        r->standard = AQ_CHOOSE_2012;
    else if (strcmp(p->standard_text, "2026") == 0)
        r->standard = AQ_CHOOSE_2026;
    else
        return jl_error_set(err, JL_EINVAL, "parameter standard: expected auto, 2012 or 2026");
    int format = in->format;
    const char *format_text = GET("format");
    if (format_text && (rc = in->parse_format(format_text, &format, &detail)) != JL_OK)
        return jl_error_set(err, rc, "parameter format: %s", detail.message);
    if (format != FM_JSON && format != FM_CSV)
        return jl_error_set(err, JL_EINVAL, "parameter format: the AQI is given as json or csv");
    p->format = (fm_format)format;
    /* flags=valid as every read takes it: the server's valid device flags, review marks first. */
    r->flags.mask = in->limits.valid_flags ? in->limits.valid_flags : JL_FLAG_MASK_N;
    r->flags.reviews = 1;
    r->limits = in->limits;
#undef GET
    return JL_OK;
}

/* ---------- writers ---------- */

typedef struct aqi_writer {
    jl_buf *out;
    const aqi_params *params;
    int status; /* first append error */
    size_t series;
    size_t rows;
} aqi_writer;

static void put_str(aqi_writer *w, const char *text)
{
    if (w->status == JL_OK)
        w->status = jl_buf_append_str(w->out, text);
}

static void put_json_string(aqi_writer *w, const char *text)
{
    if (w->status == JL_OK)
        w->status = fm_json_string(w->out, text, strlen(text));
}

/* CSV field: quoted when it holds a comma, quote, CR or LF (RFC 4180). */
static void put_csv_field(aqi_writer *w, const char *text)
{
    if (strpbrk(text, ",\"\r\n") == NULL) {
        put_str(w, text);
        return;
    }
    put_str(w, "\"");
    for (const char *c = text; *c && w->status == JL_OK; c++)
        w->status = *c == '"' ? jl_buf_append_str(w->out, "\"\"") : jl_buf_append(w->out, c, 1);
    put_str(w, "\"");
}

static void put_int(aqi_writer *w, long long v)
{
    if (w->status == JL_OK)
        w->status = jl_buf_printf(w->out, "%lld", v);
}

static void put_double(aqi_writer *w, double v)
{
    char text[FM_DOUBLE_MAX];
    if (fm_format_double(v, text) == 0)
        put_str(w, w->params->format == FM_JSON ? "null" : "");
    else
        put_str(w, text);
}

/* A text cell: JSON string, or CSV field; NULL is null / empty. */
static void put_text_cell(aqi_writer *w, const char *text)
{
    if (w->params->format == FM_JSON)
        text ? put_json_string(w, text) : put_str(w, "null");
    else if (text)
        put_csv_field(w, text);
}

static void put_null(aqi_writer *w)
{
    if (w->params->format == FM_JSON)
        put_str(w, "null");
}

/* The station's tags: site= / sites=: "site" and its id first; then its non-negated conditions,
 * in the order given. */
static void put_tags_json(aqi_writer *w, const aq_station *station, const char *site)
{
    put_str(w, "{");
    int first = 1;
    if (site) {
        put_str(w, "\"site\":");
        put_json_string(w, site);
        first = 0;
    }
    for (size_t i = 0; i < station->matcher_count; i++) {
        const qp_matcher *m = &station->matchers[i];
        if (m->negate)
            continue;
        if (!first)
            put_str(w, ",");
        first = 0;
        put_json_string(w, m->key);
        put_str(w, ":");
        put_json_string(w, m->value);
    }
    put_str(w, "}");
}

/* CSV tags as format.c writes them: k=v;k=v, with \ and ; in values escaped. */
static void put_tags_csv(aqi_writer *w, const aq_station *station, const char *site)
{
    jl_buf tags;
    jl_buf_init(&tags);
    int first = 1, rc = JL_OK;
    if (site) {
        rc = jl_buf_append_str(&tags, "site=");
        for (const char *c = site; *c && rc == JL_OK; c++)
            rc = (*c == '\\' || *c == ';') ? jl_buf_printf(&tags, "\\%c", *c)
                                           : jl_buf_append(&tags, c, 1);
        first = 0;
    }
    for (size_t i = 0; i < station->matcher_count && rc == JL_OK; i++) {
        const qp_matcher *m = &station->matchers[i];
        if (m->negate)
            continue;
        if (!first)
            rc = jl_buf_append_str(&tags, ";");
        first = 0;
        if (rc == JL_OK)
            rc = jl_buf_printf(&tags, "%s=", m->key);
        for (const char *c = m->value; *c && rc == JL_OK; c++)
            rc = (*c == '\\' || *c == ';') ? jl_buf_printf(&tags, "\\%c", *c)
                                           : jl_buf_append(&tags, c, 1);
    }
    if (rc == JL_OK)
        rc = jl_buf_append(&tags, "", 1);
    if (rc == JL_OK)
        put_csv_field(w, tags.data);
    else if (w->status == JL_OK)
        w->status = rc;
    jl_buf_destroy(&tags);
}

static void put_columns(aqi_writer *w, int json)
{
    int first = 1;
    for (size_t i = 0; i < sizeof leading_columns / sizeof leading_columns[0]; i++) {
        put_str(w, first ? "" : ",");
        first = 0;
        json ? put_json_string(w, leading_columns[i]) : put_str(w, leading_columns[i]);
    }
    for (int c = 0; c < AQ_COLUMN_COUNT; c++) {
        char name[32];
        snprintf(name, sizeof name, "iaqi_%s", aq_column_name((aq_column)c));
        put_str(w, ",");
        json ? put_json_string(w, name) : put_str(w, name);
        put_str(w, ",");
        json ? put_json_string(w, aq_column_name((aq_column)c)) : put_str(w, aq_column_name(c));
    }
    for (size_t i = 0; i < sizeof trailing_columns / sizeof trailing_columns[0]; i++) {
        put_str(w, ",");
        json ? put_json_string(w, trailing_columns[i]) : put_str(w, trailing_columns[i]);
    }
}

static int writer_station_begin(void *context, size_t station)
{
    aqi_writer *w = context;
    const aq_station *s = &w->params->stations[station];
    w->rows = 0;
    if (w->params->format == FM_JSON) {
        put_str(w, w->series ? ",{\"metric\":\"aqi\",\"tags\":" : "{\"metric\":\"aqi\",\"tags\":");
        put_tags_json(w, s, w->params->site_ids[station]);
        put_str(w, ",\"columns\":[");
        put_columns(w, 1);
        put_str(w, "],\"values\":[");
    } else if (w->series == 0) {
        put_str(w, "metric,tags,");
        put_columns(w, 0);
        put_str(w, "\r\n");
    }
    w->series++;
    return w->status;
}

static int writer_row(void *context, const aq_row *row)
{
    aqi_writer *w = context;
    int json = w->params->format == FM_JSON;
    const aq_station *s = &w->params->stations[w->series - 1];
    if (json) {
        put_str(w, w->rows ? ",[" : "[");
    } else {
        put_str(w, "aqi,");
        put_tags_csv(w, s, w->params->site_ids[w->series - 1]);
        put_str(w, ",");
    }
    w->rows++;
    put_int(w, row->time_ms);
    put_str(w, ",");
    if (row->has_aqi) {
        put_int(w, row->aqi);
        put_str(w, ",");
        put_int(w, row->level);
        put_str(w, ",");
        put_text_cell(w, aq_category_zh(row->level));
        put_str(w, ",");
        put_text_cell(w, aq_color(row->level));
        put_str(w, ",");
        char primary[64] = "";
        for (int p = 0; p < AQ_POLLUTANT_COUNT; p++)
            if (row->primary & (1u << p)) {
                if (primary[0])
                    strcat(primary, ",");
                strcat(primary, aq_pollutant_name((aq_pollutant)p));
            }
        put_text_cell(w, primary[0] ? primary : NULL);
    } else {
        for (int i = 0; i < 5; i++) {
            put_null(w);
            put_str(w, i < 4 ? "," : "");
        }
    }
    for (int c = 0; c < AQ_COLUMN_COUNT; c++) {
        put_str(w, ",");
        if (row->has_iaqi[c])
            put_int(w, row->iaqi[c]);
        else
            put_null(w);
        put_str(w, ",");
        if (row->has_value[c])
            put_double(w, row->value[c]);
        else
            put_null(w);
    }
    put_str(w, ",");
    put_text_cell(w, row->has_aqi ? aq_category_en(row->level) : NULL);
    put_str(w, ",");
    put_text_cell(w, aq_standard_name(row->standard));
    put_str(w, ",");
    put_text_cell(w, row->note[0] ? row->note : NULL);
    put_str(w, json ? "]" : "\r\n");
    return w->status;
}

static int writer_station_end(void *context, size_t station, const aq_station_stats *stats)
{
    aqi_writer *w = context;
    (void)station;
    if (w->params->format != FM_JSON)
        return w->status;
    put_str(w, "],\"readings\":{");
    for (int p = 0; p < AQ_POLLUTANT_COUNT; p++) {
        put_str(w, p ? "," : "");
        put_json_string(w, aq_pollutant_name((aq_pollutant)p));
        if (w->status == JL_OK)
            w->status = jl_buf_printf(w->out, ":{\"valid\":%llu,\"invalid\":%llu}",
                                      (unsigned long long)stats->valid[p],
                                      (unsigned long long)stats->invalid[p]);
    }
    put_str(w, "},\"review_marks\":[");
    for (size_t i = 0; i < stats->review_mark_count; i++) {
        put_str(w, i ? "," : "");
        if (w->status == JL_OK)
            w->status = jl_buf_printf(w->out, "%llu", (unsigned long long)stats->review_marks[i]);
    }
    put_str(w, "],\"read_from\":");
    put_int(w, stats->read_from_ms);
    put_str(w, ",\"read_to\":");
    put_int(w, stats->read_to_ms);
    put_str(w, "}");
    return w->status;
}

/* The JSON answer's "aqi" object: what every series was computed under. */
static void put_meta(aqi_writer *w, const aqi_params *p)
{
    char flags[16];
    jl_flag_format_list(p->request.flags.mask, flags);
    put_str(w, "],\"aqi\":{\"method\":\"" AQI_METHOD_VERSION "\",\"standard\":");
    put_json_string(w, p->standard_text);
    put_str(w, ",\"standards_used\":[");
    put_json_string(w, aq_standard_name(AQ_STANDARD_2012));
    put_str(w, "],\"window\":");
    put_json_string(w, p->window_text);
    put_str(w, ",\"tz\":");
    put_json_string(w, p->tz_name);
    put_str(w, ",\"from\":");
    put_int(w, p->request.from_ms);
    put_str(w, ",\"to\":");
    put_int(w, p->request.to_ms);
    put_str(w, ",\"flags\":\"valid\",\"valid_flags\":");
    put_json_string(w, flags);
    put_str(w, ",\"units\":{\"co\":\"mg/m3\",\"others\":\"ug/m3\"}}}");
}

void sv_aqi_handle(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    rq_input in = sv_request_input(context, request);
    /* Large (a selector per station): on the heap, not the worker's stack. */
    aqi_params *pp = calloc(1, sizeof *pp);
    if (pp == NULL) {
        sv_respond_error(response, JL_ENOMEM, "out of memory");
        return;
    }
    int rc = parse_params(&in, context->config->sites, pp, &err);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        params_destroy(pp);
        free(pp);
        return;
    }
    jl_buf *out = &response->body;
    out->len = 0;
    aqi_writer writer = {out, pp, JL_OK, 0, 0};
    if (pp->format == FM_JSON)
        put_str(&writer, "{\"series\":[");
    aq_sink sink = {&writer, writer_station_begin, writer_row, writer_station_end};
    rc = writer.status;
    if (rc == JL_OK)
        rc = aq_compute(context->store, &pp->request, &sink, &err);
    if (rc == JL_OK && pp->format == FM_JSON)
        put_meta(&writer, pp);
    if (rc == JL_OK)
        rc = writer.status;
    if (rc != JL_OK)
        sv_respond_failure(response, rc, &err);
    else
        sv_respond_ok(response, fm_content_type(pp->format));
    params_destroy(pp);
    free(pp);
}
