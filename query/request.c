/* Request parsing (jialing/request.h): every endpoint's parameters, checked one by one into the
 * plain request structs of query/, and the word parsers of aggregates, fill and comparison. The
 * messages here are what a client reads in the error body; the e2e suite holds them fixed.
 *
 * Messages stay short of JL_ERROR_MESSAGE_MAX even with the parameter's name in front: every
 * parser quotes the value it refuses with a bounded width. */
#include "jialing/request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "jialing/serieskey.h"

/* The default range of a read: the day up to now, as a dashboard expects. */
#define DEFAULT_RANGE_MS 86400000LL
/* min_count is a count of readings: anything larger is a typo, not a request. */
#define MAX_MIN_COUNT 1000000000000ULL

/* ---------- word parsers ---------- */

/* Appends the known aggregate names, comma-separated, for error messages. */
static void known_aggregates(char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; qa_lookup((qx_aggregate)i) != NULL && used < size; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "",
                         qa_lookup((qx_aggregate)i)->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* "p" then a number 0..100 with at most 3 integer digits and 6 decimals: "p95", "p99.9". The
 * syntax is checked here; strtod then gives the correctly rounded value (as Python's float() or
 * numpy would read it). Returns 1 and sets *p. */
static int parse_percentile(const char *text, size_t len, double *p)
{
    char digits[16];
    size_t i = 1, whole = 0, decimals = 0;
    if (len < 2 || len >= sizeof digits || text[0] != 'p')
        return 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++)
        whole++;
    if (whole == 0 || whole > 3)
        return 0;
    if (i < len) {
        if (text[i++] != '.')
            return 0;
        for (; i < len && text[i] >= '0' && text[i] <= '9'; i++)
            decimals++;
        if (decimals == 0 || decimals > 6 || i != len)
            return 0;
    }
    memcpy(digits, text + 1, len - 1);
    digits[len - 1] = '\0';
    *p = strtod(digits, NULL);
    return *p >= 0.0 && *p <= 100.0;
}

/* Returns the aggregate named by the len bytes at name (percentile excluded: its name is a
 * pattern), or -1. */
static int find_aggregate(const char *name, size_t len)
{
    for (int i = 0; qa_lookup((qx_aggregate)i) != NULL; i++) {
        const char *known = qa_lookup((qx_aggregate)i)->name;
        if (i != QX_AGG_PERCENTILE && strlen(known) == len && memcmp(known, name, len) == 0)
            return i;
    }
    return -1;
}

int qx_parse_aggregates(const char *text, qx_aggregate *aggs, double *percentiles, size_t *count,
                        jl_error *err)
{
    char known[192];
    known_aggregates(known, sizeof known);
    size_t n = 0;
    *count = 0;
    if (text == NULL || *text == '\0')
        return jl_error_set(err, JL_EINVAL, "agg is empty; known aggregates: %s", known);
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return jl_error_set(err, JL_EINVAL, "agg \"%.64s\" has an empty name; known: %s", text,
                                known);
        double param = 0;
        int found = find_aggregate(p, len);
        if (found < 0 && parse_percentile(p, len, &param))
            found = QX_AGG_PERCENTILE;
        if (found < 0)
            return jl_error_set(err, JL_EINVAL,
                                "unknown aggregate \"%.*s\"; known: %s (NN from 0 to 100, e.g. "
                                "p95 or p99.9)",
                                len > 64 ? 64 : (int)len, p, known);
        if (n == QX_MAX_AGGREGATES)
            return jl_error_set(err, JL_EINVAL, "agg lists more than %d aggregates",
                                QX_MAX_AGGREGATES);
        percentiles[n] = param;
        aggs[n++] = (qx_aggregate)found;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *count = n;
    return JL_OK;
}

int qx_parse_fill(const char *text, qx_fill *fill, double *value, jl_error *err)
{
    static const struct {
        const char *name;
        qx_fill fill;
    } names[] = {{"none", QX_FILL_NONE},
                 {"null", QX_FILL_NULL},
                 {"previous", QX_FILL_PREVIOUS},
                 {"linear", QX_FILL_LINEAR}};
    *value = 0;
    for (size_t i = 0; text != NULL && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i].name) == 0) {
            *fill = names[i].fill;
            return JL_OK;
        }
    }
    if (text != NULL && qp_parse_number(text, value, err) == JL_OK) {
        *fill = QX_FILL_VALUE;
        return JL_OK;
    }
    return jl_error_set(err, JL_EINVAL,
                        "fill \"%.32s\" is not one of none, null, previous, linear or a number",
                        text ? text : "");
}

int qx_parse_compare(const char *text, qx_compare *out, jl_error *err)
{
    static const struct {
        const char *name;
        qx_compare op;
    } ops[] = {{"gt", QX_GT}, {"ge", QX_GE}, {"lt", QX_LT}, {"le", QX_LE}};
    for (size_t i = 0; text != NULL && i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(text, ops[i].name) == 0) {
            *out = ops[i].op;
            return JL_OK;
        }
    }
    return jl_error_set(err, JL_EINVAL, "unknown op \"%.32s\"; known: gt, ge, lt, le",
                        text ? text : "");
}

/* ---------- parameter lists ---------- */

const char *rq_param_get(const rq_param *params, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(params[i].key, key) == 0)
            return params[i].value;
    return NULL;
}

int rq_check_repeated(const rq_param *params, size_t count, const char *key, jl_error *err)
{
    int seen = 0;
    for (size_t i = 0; i < count; i++)
        seen += strcmp(params[i].key, key) == 0;
    if (seen > 1)
        return jl_error_set(err, JL_EINVAL, "parameter %.200s is given more than once", key);
    return JL_OK;
}

/* Refuses the first key not in known (NULL-terminated). */
static int check_unknown(const rq_param *params, size_t count, const char *const *known,
                         jl_error *err)
{
    for (size_t i = 0; i < count; i++) {
        int found = 0;
        for (size_t k = 0; known[k] && !found; k++)
            found = strcmp(params[i].key, known[k]) == 0;
        if (!found)
            return jl_error_set(err, JL_EINVAL, "unknown parameter \"%.200s\"", params[i].key);
    }
    return JL_OK;
}

int rq_check_known(const rq_param *params, size_t count, const char *const *known, jl_error *err)
{
    for (size_t k = 0; known[k]; k++)
        if (rq_check_repeated(params, count, known[k], err) != JL_OK)
            return JL_EINVAL;
    return check_unknown(params, count, known, err);
}

static const char *get(const rq_input *in, const char *key)
{
    return rq_param_get(in->params, in->param_count, key);
}

/* A value parser's refusal, prefixed with the parameter's name: `parameter from: ...`. Always
 * JL_EINVAL: a value the client sent is what was wrong. */
static int param_error(jl_error *err, const char *name, const jl_error *detail)
{
    return jl_error_set(err, JL_EINVAL, "parameter %s: %s", name, detail->message);
}

/* ---------- what every read shares ---------- */

/* Checks the endpoint's known parameters, then parses series into *selector and format= into
 * *format, and, when from_ms is not NULL, the from/to pair (JL_EINVAL naming the parameter). */
static int parse_read(const rq_input *in, const char *const *known, qp_selector *selector,
                      int *format, int64_t *from_ms, int64_t *to_ms, jl_error *err)
{
    jl_error detail;
    jl_error_clear(&detail);
    if (rq_check_known(in->params, in->param_count, known, err) != JL_OK)
        return JL_EINVAL;
    const char *series = get(in, "series");
    if (series == NULL || series[0] == '\0')
        return jl_error_set(err, JL_EINVAL,
                            "parameter series is required, e.g. series=pm25{station=\"s01\"}");
    if (qp_parse_selector(series, selector, &detail) != JL_OK)
        return param_error(err, "series", &detail);
    *format = in->format;
    const char *format_text = get(in, "format");
    if (format_text && in->parse_format(format_text, format, &detail) != JL_OK)
        return param_error(err, "format", &detail);
    if (from_ms == NULL)
        return JL_OK;
    const char *to = get(in, "to");
    const char *from = get(in, "from");
    *to_ms = in->now_ms + 1;
    if (to && qp_parse_time(to, to_ms, &detail) != JL_OK)
        return param_error(err, "to", &detail);
    *from_ms = *to_ms - DEFAULT_RANGE_MS;
    if (from && qp_parse_time(from, from_ms, &detail) != JL_OK)
        return param_error(err, "from", &detail);
    if (*from_ms >= *to_ms)
        return jl_error_set(err, JL_EINVAL,
                            "parameter from must be before to (the range is [from, to))");
    return JL_OK;
}

/* Parses tz: a fixed offset (+08:00, Z, UTC) sets *offset_ms; anything else must be an IANA zone
 * name, loaded into *zone (the caller frees it). */
static int parse_tz(const char *tz, int64_t *offset_ms, tz_zone **zone, jl_error *err)
{
    jl_error detail;
    jl_error_clear(&detail);
    *zone = NULL;
    if (qp_parse_utc_offset(tz, offset_ms, &detail) == JL_OK)
        return JL_OK;
    /* Something shaped like an offset but wrong keeps the offset parser's message. */
    if (tz[0] == '+' || tz[0] == '-' || tz[0] == ' ' || (tz[0] >= '0' && tz[0] <= '9'))
        return param_error(err, "tz", &detail);
    jl_error_clear(&detail);
    int rc = tz_zone_load(tz, zone, &detail);
    if (rc == JL_EINVAL)
        return param_error(err, "tz", &detail);
    if (rc != JL_OK) /* the zone exists but could not be read: not the client's fault */
        return jl_error_set(err, rc, "%s", detail.message[0] ? detail.message : jl_strerror(rc));
    return JL_OK;
}

/* Parses a fixed duration for name into *out_ms; calendar units are refused. With sign, a
 * leading '-' (or '+', or the ' ' a '+' decodes to) is taken; without it, '-' is refused. */
static int parse_fixed_duration(const char *name, const char *text, int sign, int64_t *out_ms,
                                jl_error *err)
{
    jl_error detail;
    jl_error_clear(&detail);
    int negative = text[0] == '-';
    if (negative && !sign)
        return jl_error_set(err, JL_EINVAL, "parameter %s: must not be negative", name);
    qp_duration d;
    if (qp_parse_duration(text + (negative || text[0] == '+' || text[0] == ' '), &d, &detail) !=
        JL_OK)
        return param_error(err, name, &detail);
    if (d.months != 0)
        return jl_error_set(
            err, JL_EINVAL,
            "parameter %s: must be a fixed duration (ms, s, m, h, d, w), not mo or y", name);
    *out_ms = negative ? -d.ms : d.ms;
    return JL_OK;
}

/* ---------- GET /api/v1/query and /api/v1/scan ---------- */

/* group_by=tag[,tag...] into query (names point into *copy, which the caller frees); an empty
 * value merges every matching series into one. */
static int parse_group_by(const char *text, qx_query_request *query, char **copy, jl_error *err)
{
    query->group = 1;
    query->group_tag_count = 0;
    if (text[0] == '\0')
        return JL_OK;
    *copy = strdup(text);
    if (*copy == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    for (char *p = *copy;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!sk_name_valid(p, strlen(p)))
            return jl_error_set(err, JL_EINVAL,
                                "parameter group_by: \"%.64s\" is not a tag name (comma-separated "
                                "names, or an empty value to merge every series)",
                                p);
        if (query->group_tag_count == QX_MAX_GROUP_TAGS)
            return jl_error_set(err, JL_EINVAL, "parameter group_by: too many tags");
        query->group_tags[query->group_tag_count++] = p;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return JL_OK;
}

/* min_count=N: a whole number of readings, digits only. */
static int parse_min_count(const char *text, uint64_t *out, jl_error *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || n > MAX_MIN_COUNT)
        return jl_error_set(err, JL_EINVAL,
                            "parameter min_count: expected a whole number of readings, e.g. 18");
    *out = n;
    return JL_OK;
}

/* flags=all|valid|<letters>, valid when absent: the selection of readings. */
static int parse_flags(const rq_input *in, qx_flag_select *out, jl_error *err)
{
    const char *text = get(in, "flags");
    if (text == NULL || strcmp(text, "valid") == 0) {
        out->mask = in->limits.valid_flags ? in->limits.valid_flags : JL_FLAG_MASK_N;
        out->reviews = 1;
        return JL_OK;
    }
    out->reviews = 0;
    if (strcmp(text, "all") == 0) {
        out->mask = JL_FLAG_MASK_ALL;
        return JL_OK;
    }
    jl_error detail;
    jl_error_clear(&detail);
    if (jl_flag_parse_list(text, strlen(text), &out->mask, &detail) != JL_OK)
        return param_error(err, "flags", &detail);
    return JL_OK;
}

/* The query's own parameters, after parse_read. */
/* with_flags=true|false (absent: false) into *out. */
static int parse_with_flags(const char *text, int *out, jl_error *err)
{
    *out = 0;
    if (text == NULL || strcmp(text, "false") == 0)
        return JL_OK;
    if (strcmp(text, "true") == 0) {
        *out = 1;
        return JL_OK;
    }
    return jl_error_set(err, JL_EINVAL,
                        "parameter with_flags: expected true or false, not \"%.32s\"", text);
}

static int parse_query(const rq_input *in, rq_read *out, jl_error *err)
{
    qx_query_request *query = &out->query;
    jl_error detail;
    jl_error_clear(&detail);
    const char *window = get(in, "window");
    const char *agg = get(in, "agg");
    const char *tz = get(in, "tz");
    const char *fill = get(in, "fill");
    const char *offset = get(in, "offset");
    const char *min_count = get(in, "min_count");
    const char *group_by = get(in, "group_by");
    const char *with_flags = get(in, "with_flags");
    if (parse_flags(in, &query->flags, err) != JL_OK)
        return JL_EINVAL;
    if (parse_with_flags(with_flags, &query->with_flags, err) != JL_OK)
        return JL_EINVAL;
    /* Flags belong to readings; an aggregate of several readings has none. */
    if ((window || agg) && query->with_flags)
        return jl_error_set(err, JL_EINVAL,
                            "parameter with_flags applies to raw readings only, not with window "
                            "or agg");
    if (window) {
        query->has_window = 1;
        if (qp_parse_duration(window, &query->window, &detail) != JL_OK)
            return param_error(err, "window", &detail);
        if (qx_parse_aggregates(agg ? agg : "mean", query->aggregates, query->percentiles,
                                &query->aggregate_count, &detail) != JL_OK)
            return param_error(err, "agg", &detail);
    } else if (agg || offset || min_count || group_by || (fill && strcmp(fill, "none") != 0)) {
        return jl_error_set(err, JL_EINVAL,
                            "parameters agg, fill, offset, min_count and group_by need a window, "
                            "e.g. window=1h&agg=mean");
    }
    int rc;
    if (tz && (rc = parse_tz(tz, &query->offset_ms, &out->zone, err)) != JL_OK)
        return rc;
    query->zone = out->zone;
    if (fill && qx_parse_fill(fill, &query->fill, &query->fill_value, &detail) != JL_OK)
        return param_error(err, "fill", &detail);
    if (offset && parse_fixed_duration("offset", offset, 1, &query->shift_ms, err) != JL_OK)
        return JL_EINVAL;
    if (min_count && parse_min_count(min_count, &query->min_count, err) != JL_OK)
        return JL_EINVAL;
    if (group_by && (rc = parse_group_by(group_by, query, &out->group_copy, err)) != JL_OK)
        return rc;
    return JL_OK;
}

/* output=points|count|episodes|duration (points when absent). */
static int parse_scan_output(const char *text, qx_scan_output *out, jl_error *err)
{
    if (text == NULL || strcmp(text, "points") == 0)
        *out = QX_SCAN_POINTS;
    else if (strcmp(text, "count") == 0)
        *out = QX_SCAN_COUNT;
    else if (strcmp(text, "episodes") == 0)
        *out = QX_SCAN_EPISODES;
    else if (strcmp(text, "duration") == 0)
        *out = QX_SCAN_DURATION;
    else
        return jl_error_set(err, JL_EINVAL,
                            "parameter output: expected points, count, episodes or duration");
    return JL_OK;
}

/* The scan's own parameters, after parse_read. */
static int parse_scan(const rq_input *in, qx_scan_request *scan, jl_error *err)
{
    jl_error detail;
    jl_error_clear(&detail);
    const char *op = get(in, "op");
    const char *value = get(in, "value");
    const char *min_duration = get(in, "min_duration");
    const char *max_gap = get(in, "max_gap");
    if (op == NULL || value == NULL)
        return jl_error_set(err, JL_EINVAL,
                            "parameters op (gt, ge, lt, le) and value are required");
    if (parse_flags(in, &scan->flags, err) != JL_OK)
        return JL_EINVAL;
    if (qx_parse_compare(op, &scan->compare, &detail) != JL_OK)
        return param_error(err, "op", &detail);
    if (qp_parse_number(value, &scan->threshold, &detail) != JL_OK)
        return param_error(err, "value", &detail);
    if (parse_scan_output(get(in, "output"), &scan->output, err) != JL_OK)
        return JL_EINVAL;
    if ((min_duration || max_gap) && scan->output != QX_SCAN_EPISODES &&
        scan->output != QX_SCAN_DURATION)
        return jl_error_set(err, JL_EINVAL,
                            "parameters min_duration and max_gap need output=episodes or "
                            "output=duration");
    if (min_duration &&
        parse_fixed_duration("min_duration", min_duration, 0, &scan->min_duration_ms, err) != JL_OK)
        return JL_EINVAL;
    if (max_gap && parse_fixed_duration("max_gap", max_gap, 0, &scan->max_gap_ms, err) != JL_OK)
        return JL_EINVAL;
    return JL_OK;
}

/* ---------- the read endpoints ---------- */

int rq_read_parse(rq_endpoint endpoint, const rq_input *in, rq_read *out, jl_error *err)
{
    static const char *const query_known[] = {
        "series", "from",   "to",        "window",   "agg",        "tz",    "fill",
        "format", "offset", "min_count", "group_by", "with_flags", "flags", NULL};
    static const char *const scan_known[] = {"series",  "from",   "to",     "op",
                                             "value",   "output", "format", "min_duration",
                                             "max_gap", "flags",  NULL};
    static const char *const listing_known[] = {"series", "format", "with_flags", NULL};
    static const char *const *const known[] = {query_known, scan_known, listing_known};
    memset(out, 0, sizeof *out);
    out->endpoint = endpoint;
    out->query.selector = &out->selector;
    out->query.limits = in->limits;
    out->scan.selector = &out->selector;
    out->scan.limits = in->limits;
    if ((unsigned)endpoint > RQ_LISTING)
        return jl_error_set(err, JL_EINVAL, "no such read endpoint (%d)", (int)endpoint);
    /* The listings take no range. */
    int64_t *from_ms = endpoint == RQ_QUERY  ? &out->query.from_ms
                       : endpoint == RQ_SCAN ? &out->scan.from_ms
                                             : NULL;
    int64_t *to_ms = endpoint == RQ_QUERY ? &out->query.to_ms : &out->scan.to_ms;
    if (parse_read(in, known[endpoint], &out->selector, &out->format, from_ms, to_ms, err) != JL_OK)
        return JL_EINVAL;
    if (endpoint == RQ_QUERY)
        return parse_query(in, out, err);
    if (endpoint == RQ_SCAN)
        return parse_scan(in, &out->scan, err);
    return parse_with_flags(get(in, "with_flags"), &out->with_flags, err);
}

void rq_read_destroy(rq_read *read)
{
    free(read->group_copy);
    read->group_copy = NULL;
    tz_zone_free(read->zone);
    read->zone = NULL;
    read->query.zone = NULL;
    qp_selector_destroy(&read->selector);
}

/* ---------- writes, backups ---------- */

int rq_write_parse(const rq_input *in, ig_precision *precision, jl_error *err)
{
    jl_error detail;
    jl_error_clear(&detail);
    *precision = IG_PRECISION_NS;
    if (rq_check_repeated(in->params, in->param_count, "precision", err) != JL_OK)
        return JL_EINVAL;
    const char *text = get(in, "precision");
    if (text && ig_precision_parse(text, precision, &detail) != JL_OK)
        return param_error(err, "precision", &detail);
    return JL_OK;
}

static int parse_no_params(const rq_input *in, jl_error *err)
{
    static const char *const known[] = {NULL};
    return rq_check_known(in->params, in->param_count, known, err);
}

int rq_backup_parse(const rq_input *in, jl_error *err)
{
    return parse_no_params(in, err);
}

int rq_public_latest_parse(const rq_input *in, jl_error *err)
{
    return parse_no_params(in, err);
}

/* ---------- discovery ---------- */

int rq_discovery_parse(rq_discovery_kind kind, const rq_input *in, rq_discovery *out, jl_error *err)
{
    static const char *const listing_known[] = {"limit", "format", NULL};
    static const char *const tags_known[] = {"metric", "key", "limit", "format", NULL};
    jl_error detail;
    jl_error_clear(&detail);
    memset(out, 0, sizeof *out);
    if (rq_check_known(in->params, in->param_count,
                       kind == RQ_DISCOVER_TAGS ? tags_known : listing_known, err) != JL_OK)
        return JL_EINVAL;
    out->format = in->format;
    const char *format = get(in, "format");
    if (format && in->parse_format(format, &out->format, &detail) != JL_OK)
        return param_error(err, "format", &detail);
    size_t cap = in->limits.max_series ? in->limits.max_series : RQ_DEFAULT_MAX_SERIES;
    out->limit = cap;
    const char *limit = get(in, "limit");
    if (limit) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(limit, &end, 10);
        if (limit[0] < '0' || limit[0] > '9' || *end != '\0' || errno || n == 0 || n > cap)
            return jl_error_set(err, JL_EINVAL,
                                "parameter limit: must be a whole number from 1 to %zu "
                                "(--max-series)",
                                cap);
        out->limit = (size_t)n;
        out->explicit_limit = 1;
    }
    if (kind != RQ_DISCOVER_TAGS)
        return JL_OK;
    out->metric = get(in, "metric");
    out->key = get(in, "key");
    if (out->metric && !sk_name_valid(out->metric, strlen(out->metric)))
        return jl_error_set(err, JL_EINVAL,
                            "parameter metric: not a metric name ([A-Za-z_][A-Za-z0-9_.-]*)");
    if (out->key && !sk_name_valid(out->key, strlen(out->key)))
        return jl_error_set(err, JL_EINVAL,
                            "parameter key: not a tag key ([A-Za-z_][A-Za-z0-9_.-]*)");
    return JL_OK;
}

/* ---------- InfluxDB /query ---------- */

/* epoch= of InfluxDB 1.x: the unit of integer times, as nanoseconds. */
static int parse_epoch(const char *text, int64_t *divisor_ns)
{
    static const struct {
        const char *name;
        int64_t ns;
    } units[] = {{"ns", 1},
                 {"n", 1},
                 {"u", 1000},
                 {"\xc2\xb5", 1000},
                 {"us", 1000},
                 {"ms", 1000000},
                 {"s", 1000000000LL},
                 {"m", 60000000000LL},
                 {"h", 3600000000000LL}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(text, units[i].name) == 0) {
            *divisor_ns = units[i].ns;
            return JL_OK;
        }
    return JL_EINVAL;
}

int rq_influx_query_parse(const rq_input *in, const rq_param *form, size_t form_count,
                          rq_influx_query *out, jl_error *err)
{
    static const char *const known[] = {"q",      "db",      "epoch",  "u",          "p", "rp",
                                        "params", "chunked", "pretty", "chunk_size", NULL};
    memset(out, 0, sizeof *out);
    if (check_unknown(in->params, in->param_count, known, err) != JL_OK)
        return JL_EINVAL;
    const char *q = rq_param_get(form, form_count, "q");
    out->q = q ? q : get(in, "q");
    const char *db = get(in, "db");
    out->db = db ? db : rq_param_get(form, form_count, "db");
    const char *epoch = get(in, "epoch");
    if (epoch == NULL)
        epoch = rq_param_get(form, form_count, "epoch");
    if (out->q == NULL || out->q[0] == '\0')
        return jl_error_set(err, JL_EINVAL, "missing required parameter \"q\"");
    if (epoch && epoch[0] && parse_epoch(epoch, &out->epoch_divisor_ns) != JL_OK)
        return jl_error_set(err, JL_EINVAL, "parameter epoch: use ns, u, ms, s, m or h");
    return JL_OK;
}
