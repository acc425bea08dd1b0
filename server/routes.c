/* The route table: for each endpoint, turn the HTTP request into a plain request struct (parsing
 * and checking every parameter, naming the bad one in the error), call one function of query/ or
 * storage/, and turn the result or error into a status and body. Also the one place that maps
 * error codes to HTTP statuses. */
#include "jialing/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jialing/format.h"
#include "jialing/ingest.h"
#include "jialing/params.h"

#include "discovery_http.h"
#include "influx.h"

static const char *const json_type = "application/json";

int sv_status_for(int code)
{
    switch (code) {
    case JL_OK:
        return 200;
    case JL_EINVAL:
        return 400;
    case JL_EAUTH:
        return 401;
    case JL_EFORBIDDEN:
        return 403;
    case JL_ENOTFOUND:
        return 404;
    case JL_ETOOLARGE:
        return 413;
    case JL_ELIMIT:
        return 422;
    case JL_EFULL:
        return 507;
    case JL_EBUSY:
        return 503;
    case JL_ETIMEOUT:
        return 503;
    default:
        return 500;
    }
}

const char *sv_param_get(const sv_request *request, const char *key)
{
    for (size_t i = 0; i < request->param_count; i++)
        if (strcmp(request->params[i].key, key) == 0)
            return request->params[i].value;
    return NULL;
}

void sv_response_init(sv_response *response)
{
    response->status = 500;
    response->content_type = json_type;
    jl_buf_init(&response->body);
    response->body_fd = -1;
    response->body_fd_bytes = 0;
    response->allow = NULL;
}

void sv_response_destroy(sv_response *response)
{
    jl_buf_destroy(&response->body);
    if (response->body_fd >= 0)
        close(response->body_fd);
    response->body_fd = -1;
}

static void respond_error(sv_response *response, int status, const char *message)
{
    response->status = status;
    response->content_type = json_type;
    response->body.len = 0;
    if (response->body_fd >= 0)
        close(response->body_fd);
    response->body_fd = -1;
    fm_json_error(&response->body, message);
}

static void respond_code(sv_response *response, int code, const char *message)
{
    respond_error(response, sv_status_for(code), message);
}

/* Rejects a parameter given twice: which value was meant is not for the server to guess. */
static int check_repeated_param(const sv_request *request, const char *key, sv_response *response)
{
    int seen = 0;
    for (size_t i = 0; i < request->param_count; i++)
        seen += strcmp(request->params[i].key, key) == 0;
    if (seen > 1) {
        char message[JL_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof message, "parameter %.200s is given more than once", key);
        respond_error(response, 400, message);
        return JL_EINVAL;
    }
    return JL_OK;
}

/* Rejects parameters the endpoint does not know, so a misspelt one is not silently ignored, and
 * known ones given twice. */
static int check_known_params(const sv_request *request, const char *const *known,
                              sv_response *response)
{
    for (size_t k = 0; known[k]; k++)
        if (check_repeated_param(request, known[k], response) != JL_OK)
            return JL_EINVAL;
    for (size_t i = 0; i < request->param_count; i++) {
        int found = 0;
        for (size_t k = 0; known[k] && !found; k++)
            found = strcmp(request->params[i].key, known[k]) == 0;
        if (!found) {
            char message[JL_ERROR_MESSAGE_MAX];
            snprintf(message, sizeof message, "unknown parameter \"%.200s\"",
                     request->params[i].key);
            respond_error(response, 400, message);
            return JL_EINVAL;
        }
    }
    return JL_OK;
}

/* Prefixes a parser's message with the parameter name: `parameter from: ...`. */
static void respond_param_error(sv_response *response, const char *name, const jl_error *err)
{
    char message[JL_ERROR_MESSAGE_MAX + 64];
    snprintf(message, sizeof message, "parameter %s: %s", name, err->message);
    respond_error(response, 400, message);
}

/* ---------- writes ---------- */

static void handle_write(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    st_batch batch;
    st_batch_init(&batch);
    int rc;
    const char *content_type = request->content_type;
    if (content_type && (strncasecmp(content_type, "application/msgpack", 19) == 0 ||
                         strncasecmp(content_type, "application/x-msgpack", 21) == 0)) {
        rc = ig_parse_msgpack(request->body ? request->body : "", request->body_len, &batch, &err);
    } else {
        ig_precision precision = IG_PRECISION_NS;
        if (check_repeated_param(request, "precision", response) != JL_OK)
            goto out;
        const char *text = sv_param_get(request, "precision");
        rc = text ? ig_precision_parse(text, &precision, &err) : JL_OK;
        if (rc != JL_OK) {
            respond_param_error(response, "precision", &err);
            goto out;
        }
        rc = ig_parse_line_protocol(request->body ? request->body : "", request->body_len,
                                    precision, jl_now_ms(), &batch, &err);
    }
    if (rc == JL_OK && batch.point_count == 0) {
        respond_error(response, 400, "the request body holds no readings");
        atomic_fetch_add(&context->metrics.rejected_requests, 1);
        goto out;
    }
    if (rc == JL_OK)
        rc = st_write(context->store, &batch, &err);
    if (rc != JL_OK) {
        if (sv_status_for(rc) < 500)
            atomic_fetch_add(&context->metrics.rejected_requests, 1);
        respond_code(response, rc, err.message[0] ? err.message : jl_strerror(rc));
        goto out;
    }
    atomic_fetch_add(&context->metrics.points_ingested, batch.point_count);
    response->status = 204;
    response->content_type = NULL;
out:
    st_batch_destroy(&batch);
}

/* ---------- reads ---------- */

/* Parameters shared by the read endpoints. */
typedef struct read_params {
    qp_selector selector;
    int has_selector;
    int64_t from_ms, to_ms;
    fm_format format;
} read_params;

/* Checks the endpoint's known parameters (a NULL-terminated list), then parses those every read
 * endpoint shares into out (always cleared first, so it may be destroyed on any return). */
static int parse_read_params(const sv_request *request, const char *const *known, int needs_range,
                             read_params *out, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    memset(out, 0, sizeof *out);
    if (check_known_params(request, known, response) != JL_OK)
        return JL_EINVAL;
    const char *series = sv_param_get(request, "series");
    if (series == NULL || series[0] == '\0') {
        respond_error(response, 400,
                      "parameter series is required, e.g. series=pm25{station=\"s01\"}");
        return JL_EINVAL;
    }
    if (qp_parse_selector(series, &out->selector, &err) != JL_OK) {
        respond_param_error(response, "series", &err);
        return JL_EINVAL;
    }
    out->has_selector = 1;
    /* An explicit format= wins over the Accept header; JSON when neither says otherwise. */
    out->format = FM_JSON;
    fm_format_from_accept(request->accept, &out->format);
    const char *format = sv_param_get(request, "format");
    if (format && fm_parse_format(format, &out->format, &err) != JL_OK) {
        respond_param_error(response, "format", &err);
        return JL_EINVAL;
    }
    if (!needs_range)
        return JL_OK;
    /* Defaults as a dashboard expects: the last day up to now. */
    const char *to = sv_param_get(request, "to");
    const char *from = sv_param_get(request, "from");
    out->to_ms = jl_now_ms() + 1;
    if (to && qp_parse_time(to, &out->to_ms, &err) != JL_OK) {
        respond_param_error(response, "to", &err);
        return JL_EINVAL;
    }
    out->from_ms = out->to_ms - 86400000;
    if (from && qp_parse_time(from, &out->from_ms, &err) != JL_OK) {
        respond_param_error(response, "from", &err);
        return JL_EINVAL;
    }
    if (out->from_ms >= out->to_ms) {
        respond_error(response, 400, "parameter from must be before to (the range is [from, to))");
        return JL_EINVAL;
    }
    return JL_OK;
}

/* Runs one query function with a writer for the chosen format and fills the response. */
typedef int (*query_runner)(sv_context *context, const void *query, const qx_sink *sink,
                            jl_error *err);

/* Answers beyond this size are moved to an unlinked temporary file as they grow, so a large
 * answer costs disk, not memory, and the snapshot still ends before anything is sent. */
#define SPOOL_THRESHOLD_BYTES (1u << 20)

/* A sink in front of the format writer that moves its output to a spool file when it grows. */
typedef struct spool_sink {
    qx_sink inner;    /* the format writer's sink */
    jl_buf *out;      /* the writer's output buffer */
    FILE *file;       /* NULL until the first spill */
    uint64_t spilled; /* bytes moved to file */
} spool_sink;

static int spool_spill(spool_sink *spool)
{
    if (spool->file == NULL && (spool->file = tmpfile()) == NULL)
        return JL_EIO;
    if (spool->out->len &&
        fwrite(spool->out->data, 1, spool->out->len, spool->file) != spool->out->len)
        return JL_EIO;
    spool->spilled += spool->out->len;
    spool->out->len = 0;
    return JL_OK;
}

static int spool_after(spool_sink *spool, int rc)
{
    if (rc == JL_OK && spool->out->len >= SPOOL_THRESHOLD_BYTES)
        rc = spool_spill(spool);
    return rc;
}

static int spool_series_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                              const char *const *columns, size_t column_count)
{
    spool_sink *spool = context;
    return spool_after(spool, spool->inner.series_begin(spool->inner.context, metric, tags,
                                                        tag_count, columns, column_count));
}

static int spool_row(void *context, const qx_cell *cells, size_t cell_count)
{
    spool_sink *spool = context;
    return spool_after(spool, spool->inner.row(spool->inner.context, cells, cell_count));
}

static int spool_series_end(void *context)
{
    spool_sink *spool = context;
    return spool_after(spool, spool->inner.series_end(spool->inner.context));
}

static void run_into_response(sv_context *context, query_runner runner, const void *query,
                              fm_format format, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    fm_writer writer;
    int rc = fm_writer_init(&writer, format, &response->body);
    spool_sink spool = {fm_writer_sink(&writer), &response->body, NULL, 0};
    qx_sink sink = {&spool, spool_series_begin, spool_row, spool_series_end};
    if (rc == JL_OK)
        rc = runner(context, query, &sink, &err);
    if (rc == JL_OK)
        rc = fm_writer_finish(&writer);
    /* msgpack counts its series up front: the count goes into the spooled header afterwards. */
    uint64_t patch_offset;
    unsigned char patch[4];
    if (rc == JL_OK && spool.file && fm_writer_count_patch(&writer, &patch_offset, patch) &&
        (fflush(spool.file) != 0 || pwrite(fileno(spool.file), patch, 4, (off_t)patch_offset) != 4))
        rc = JL_EIO;
    fm_writer_destroy(&writer);
    if (rc == JL_OK && spool.file) {
        rc = spool_spill(&spool);
        if (rc == JL_OK && fflush(spool.file) != 0)
            rc = JL_EIO;
        if (rc == JL_OK && (response->body_fd = dup(fileno(spool.file))) < 0)
            rc = JL_EIO;
        response->body_fd_bytes = spool.spilled;
    }
    if (spool.file)
        fclose(spool.file);
    if (rc != JL_OK) {
        if (rc == JL_EIO && !err.message[0])
            jl_error_set(&err, rc, "could not spool the answer to a temporary file");
        respond_code(response, rc, err.message[0] ? err.message : jl_strerror(rc));
        return;
    }
    response->status = 200;
    response->content_type = fm_content_type(format);
}

/* Adds what one query read to the self-metrics. */
static void count_chunks(sv_context *context, const qx_query_stats *stats)
{
    sv_metrics *m = &context->metrics;
    atomic_fetch_add(&m->chunks_from_summary, stats->chunks_from_summary);
    atomic_fetch_add(&m->chunks_from_segments, stats->chunks_from_segments);
    atomic_fetch_add(&m->chunks_decoded, stats->chunks_decoded);
    atomic_fetch_add(&m->readings_decoded, stats->readings_decoded);
}

static int run_query(sv_context *context, const void *query, const qx_sink *sink, jl_error *err)
{
    qx_query_request request = *(const qx_query_request *)query;
    qx_query_stats stats = {0};
    request.stats = &stats;
    int rc = qx_query(context->store, &request, sink, err);
    count_chunks(context, &stats);
    return rc;
}

static int run_scan(sv_context *context, const void *query, const qx_sink *sink, jl_error *err)
{
    qx_scan_request request = *(const qx_scan_request *)query;
    qx_query_stats stats = {0};
    request.stats = &stats;
    int rc = qx_scan(context->store, &request, sink, err);
    count_chunks(context, &stats);
    return rc;
}

static int run_latest(sv_context *context, const void *query, const qx_sink *sink, jl_error *err)
{
    return qx_latest(context->store, query, &context->config->limits, sink, err);
}

static int run_series(sv_context *context, const void *query, const qx_sink *sink, jl_error *err)
{
    return qx_series(context->store, query, &context->config->limits, sink, err);
}

/* Parses tz: a fixed offset (+08:00, Z, UTC) sets *offset_ms; anything else must be an IANA zone
 * name, loaded into *zone (the caller frees it). Returns JL_OK or responds 400. */
static int parse_tz_param(const char *tz, int64_t *offset_ms, tz_zone **zone, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    *zone = NULL;
    if (qp_parse_utc_offset(tz, offset_ms, &err) == JL_OK)
        return JL_OK;
    /* Something shaped like an offset but wrong keeps the offset parser's message. */
    if (tz[0] == '+' || tz[0] == '-' || tz[0] == ' ' || (tz[0] >= '0' && tz[0] <= '9')) {
        respond_param_error(response, "tz", &err);
        return JL_EINVAL;
    }
    jl_error_clear(&err);
    int rc = tz_zone_load(tz, zone, &err);
    if (rc != JL_OK) {
        if (rc == JL_EINVAL)
            respond_param_error(response, "tz", &err);
        else
            respond_code(response, rc, err.message[0] ? err.message : jl_strerror(rc));
        return rc;
    }
    return JL_OK;
}

/* Parses a signed fixed duration ("6h", "-30m") for offset=; calendar units are refused. */
static int parse_signed_fixed_duration(const char *name, const char *text, int64_t *out_ms,
                                       sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    int negative = text[0] == '-';
    qp_duration d;
    if (qp_parse_duration(text + (negative || text[0] == '+' || text[0] == ' '), &d, &err) !=
        JL_OK) {
        respond_param_error(response, name, &err);
        return JL_EINVAL;
    }
    if (d.months != 0) {
        char message[160];
        snprintf(message, sizeof message,
                 "parameter %s: must be a fixed duration (ms, s, m, h, d, w), not mo or y", name);
        respond_error(response, 400, message);
        return JL_EINVAL;
    }
    *out_ms = negative ? -d.ms : d.ms;
    return JL_OK;
}

/* group_by=tag[,tag...] into query (names point into *copy, which the caller frees); an empty
 * value merges every matching series into one. */
static int parse_group_by(const char *text, qx_query_request *query, char **copy,
                          sv_response *response)
{
    query->group = 1;
    query->group_tag_count = 0;
    if (text[0] == '\0')
        return JL_OK;
    *copy = strdup(text);
    if (*copy == NULL) {
        respond_error(response, 500, "out of memory");
        return JL_ENOMEM;
    }
    for (char *p = *copy;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!sk_name_valid(p, strlen(p))) {
            char message[200];
            snprintf(message, sizeof message,
                     "parameter group_by: \"%.64s\" is not a tag name (comma-separated names, "
                     "or an empty value to merge every series)",
                     p);
            respond_error(response, 400, message);
            return JL_EINVAL;
        }
        if (query->group_tag_count == QX_MAX_GROUP_TAGS) {
            respond_error(response, 400, "parameter group_by: too many tags");
            return JL_EINVAL;
        }
        query->group_tags[query->group_tag_count++] = p;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return JL_OK;
}

static void handle_query(sv_context *context, const sv_request *request, sv_response *response)
{
    static const char *const known[] = {"series", "from",      "to",       "window",
                                        "agg",    "tz",        "fill",     "format",
                                        "offset", "min_count", "group_by", NULL};
    read_params params;
    tz_zone *zone = NULL;
    char *group_copy = NULL;
    if (parse_read_params(request, known, 1, &params, response) != JL_OK)
        goto out;
    jl_error err;
    jl_error_clear(&err);
    qx_query_request query;
    memset(&query, 0, sizeof query);
    query.selector = &params.selector;
    query.from_ms = params.from_ms;
    query.to_ms = params.to_ms;
    query.limits = context->config->limits;
    const char *window = sv_param_get(request, "window");
    const char *agg = sv_param_get(request, "agg");
    const char *tz = sv_param_get(request, "tz");
    const char *fill = sv_param_get(request, "fill");
    const char *offset = sv_param_get(request, "offset");
    const char *min_count = sv_param_get(request, "min_count");
    const char *group_by = sv_param_get(request, "group_by");
    if (window) {
        query.has_window = 1;
        if (qp_parse_duration(window, &query.window, &err) != JL_OK) {
            respond_param_error(response, "window", &err);
            goto out;
        }
        if (qx_parse_aggregates(agg ? agg : "mean", query.aggregates, query.percentiles,
                                &query.aggregate_count, &err) != JL_OK) {
            respond_param_error(response, "agg", &err);
            goto out;
        }
    } else if (agg || offset || min_count || group_by || (fill && strcmp(fill, "none") != 0)) {
        respond_error(response, 400,
                      "parameters agg, fill, offset, min_count and group_by need a window, e.g. "
                      "window=1h&agg=mean");
        goto out;
    }
    if (tz && parse_tz_param(tz, &query.offset_ms, &zone, response) != JL_OK)
        goto out;
    query.zone = zone;
    if (fill && qx_parse_fill(fill, &query.fill, &query.fill_value, &err) != JL_OK) {
        respond_param_error(response, "fill", &err);
        goto out;
    }
    if (offset && parse_signed_fixed_duration("offset", offset, &query.shift_ms, response) != JL_OK)
        goto out;
    if (min_count) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(min_count, &end, 10);
        if (min_count[0] < '0' || min_count[0] > '9' || *end != '\0' || errno != 0 ||
            n > 1000000000000ULL) {
            respond_error(response, 400,
                          "parameter min_count: expected a whole number of readings, e.g. 18");
            goto out;
        }
        query.min_count = n;
    }
    if (group_by && parse_group_by(group_by, &query, &group_copy, response) != JL_OK)
        goto out;
    run_into_response(context, run_query, &query, params.format, response);
out:
    free(group_copy);
    tz_zone_free(zone);
    qp_selector_destroy(&params.selector);
}

static void handle_scan(sv_context *context, const sv_request *request, sv_response *response)
{
    static const char *const known[] = {"series", "from",   "to",           "op",      "value",
                                        "output", "format", "min_duration", "max_gap", NULL};
    read_params params;
    if (parse_read_params(request, known, 1, &params, response) != JL_OK)
        goto out;
    jl_error err;
    jl_error_clear(&err);
    qx_scan_request scan;
    memset(&scan, 0, sizeof scan);
    scan.selector = &params.selector;
    scan.from_ms = params.from_ms;
    scan.to_ms = params.to_ms;
    scan.limits = context->config->limits;
    const char *op = sv_param_get(request, "op");
    const char *value = sv_param_get(request, "value");
    const char *output = sv_param_get(request, "output");
    const char *min_duration = sv_param_get(request, "min_duration");
    const char *max_gap = sv_param_get(request, "max_gap");
    if (op == NULL || value == NULL) {
        respond_error(response, 400, "parameters op (gt, ge, lt, le) and value are required");
        goto out;
    }
    if (qx_parse_compare(op, &scan.compare, &err) != JL_OK) {
        respond_param_error(response, "op", &err);
        goto out;
    }
    if (qp_parse_number(value, &scan.threshold, &err) != JL_OK) {
        respond_param_error(response, "value", &err);
        goto out;
    }
    if (output == NULL || strcmp(output, "points") == 0) {
        scan.output = QX_SCAN_POINTS;
    } else if (strcmp(output, "count") == 0) {
        scan.output = QX_SCAN_COUNT;
    } else if (strcmp(output, "episodes") == 0) {
        scan.output = QX_SCAN_EPISODES;
    } else if (strcmp(output, "duration") == 0) {
        scan.output = QX_SCAN_DURATION;
    } else {
        respond_error(response, 400,
                      "parameter output: expected points, count, episodes or duration");
        goto out;
    }
    if ((min_duration || max_gap) && scan.output != QX_SCAN_EPISODES &&
        scan.output != QX_SCAN_DURATION) {
        respond_error(response, 400,
                      "parameters min_duration and max_gap need output=episodes or "
                      "output=duration");
        goto out;
    }
    if (min_duration && (min_duration[0] == '-' ||
                         parse_signed_fixed_duration("min_duration", min_duration,
                                                     &scan.min_duration_ms, response) != JL_OK)) {
        if (min_duration[0] == '-')
            respond_error(response, 400, "parameter min_duration: must not be negative");
        goto out;
    }
    if (max_gap &&
        (max_gap[0] == '-' ||
         parse_signed_fixed_duration("max_gap", max_gap, &scan.max_gap_ms, response) != JL_OK)) {
        if (max_gap[0] == '-')
            respond_error(response, 400, "parameter max_gap: must not be negative");
        goto out;
    }
    run_into_response(context, run_scan, &scan, params.format, response);
out:
    qp_selector_destroy(&params.selector);
}

static void handle_listing(sv_context *context, const sv_request *request, sv_response *response,
                           query_runner runner)
{
    static const char *const known[] = {"series", "format", NULL};
    read_params params;
    if (parse_read_params(request, known, 0, &params, response) == JL_OK)
        run_into_response(context, runner, &params.selector, params.format, response);
    qp_selector_destroy(&params.selector);
}

static void handle_metrics(sv_context *context, sv_response *response)
{
    static const char *const names[SV_ROUTE_COUNT] = {"write",     "query",  "scan",    "latest",
                                                      "series",    "health", "metrics", "backup",
                                                      "discovery", "influx", "other"};
    jl_buf *out = &response->body;
    st_stats stats;
    jl_error err;
    if (st_store_stats(context->store, 0, &stats, &err) != JL_OK) {
        respond_code(response, err.code, err.message);
        return;
    }
    sv_metrics *m = &context->metrics;
    jl_buf_printf(out,
                  "# HELP jialing_points_ingested_total Readings acknowledged.\n"
                  "# TYPE jialing_points_ingested_total counter\n"
                  "jialing_points_ingested_total %llu\n",
                  (unsigned long long)atomic_load(&m->points_ingested));
    jl_buf_printf(out,
                  "# HELP jialing_write_rejected_total Write requests refused as bad.\n"
                  "# TYPE jialing_write_rejected_total counter\n"
                  "jialing_write_rejected_total %llu\n",
                  (unsigned long long)atomic_load(&m->rejected_requests));
    jl_buf_printf(
        out,
        "# HELP jialing_query_chunks_total Sealed chunks read by queries and scans: "
        "by header summary (used or skipped), period by period from the segment table, or "
        "decoded.\n"
        "# TYPE jialing_query_chunks_total counter\n"
        "jialing_query_chunks_total{read=\"summary\"} %llu\n"
        "jialing_query_chunks_total{read=\"segments\"} %llu\n"
        "jialing_query_chunks_total{read=\"decoded\"} %llu\n"
        "# HELP jialing_query_readings_decoded_total Readings in the chunks decoded.\n"
        "# TYPE jialing_query_readings_decoded_total counter\n"
        "jialing_query_readings_decoded_total %llu\n",
        (unsigned long long)atomic_load(&m->chunks_from_summary),
        (unsigned long long)atomic_load(&m->chunks_from_segments),
        (unsigned long long)atomic_load(&m->chunks_decoded),
        (unsigned long long)atomic_load(&m->readings_decoded));
    jl_buf_printf(out, "# HELP jialing_http_requests_total Requests answered, by route.\n"
                       "# TYPE jialing_http_requests_total counter\n");
    for (int r = 0; r < SV_ROUTE_COUNT; r++)
        jl_buf_printf(out, "jialing_http_requests_total{route=\"%s\"} %llu\n", names[r],
                      (unsigned long long)atomic_load(&m->requests[r]));
    jl_buf_printf(out, "# HELP jialing_http_errors_total Requests answered with status >= 400.\n"
                       "# TYPE jialing_http_errors_total counter\n");
    for (int r = 0; r < SV_ROUTE_COUNT; r++)
        jl_buf_printf(out, "jialing_http_errors_total{route=\"%s\"} %llu\n", names[r],
                      (unsigned long long)atomic_load(&m->errors[r]));
    jl_buf_printf(out, "# HELP jialing_http_request_seconds Time spent answering, by route.\n"
                       "# TYPE jialing_http_request_seconds summary\n");
    for (int r = 0; r < SV_ROUTE_COUNT; r++) {
        jl_buf_printf(out, "jialing_http_request_seconds_sum{route=\"%s\"} %.6f\n", names[r],
                      (double)atomic_load(&m->latency_us_sum[r]) / 1e6);
        jl_buf_printf(out, "jialing_http_request_seconds_count{route=\"%s\"} %llu\n", names[r],
                      (unsigned long long)atomic_load(&m->requests[r]));
    }
    jl_buf_printf(out,
                  "# HELP jialing_series Series in the catalog.\n# TYPE jialing_series gauge\n"
                  "jialing_series %llu\n"
                  "# HELP jialing_readings Distinct readings stored.\n"
                  "# TYPE jialing_readings gauge\njialing_readings %llu\n"
                  "# HELP jialing_chunks Sealed chunks.\n# TYPE jialing_chunks gauge\n"
                  "jialing_chunks %llu\n"
                  "# HELP jialing_store_bytes Size of the LMDB data file on disk.\n"
                  "# TYPE jialing_store_bytes gauge\njialing_store_bytes %llu\n"
                  "# HELP jialing_map_bytes Current LMDB map size.\n"
                  "# TYPE jialing_map_bytes gauge\njialing_map_bytes %llu\n"
                  "# HELP jialing_commits_total Write transactions committed.\n"
                  "# TYPE jialing_commits_total counter\njialing_commits_total %llu\n"
                  "# HELP jialing_log_blocks Write-log blocks kept for unsealed tails.\n"
                  "# TYPE jialing_log_blocks gauge\njialing_log_blocks %llu\n"
                  "# HELP jialing_log_bytes Bytes of those blocks.\n"
                  "# TYPE jialing_log_bytes gauge\njialing_log_bytes %llu\n"
                  "# HELP jialing_log_rewritten_readings_total Tail readings written to the log "
                  "again, so that older blocks could be dropped.\n"
                  "# TYPE jialing_log_rewritten_readings_total counter\n"
                  "jialing_log_rewritten_readings_total %llu\n",
                  (unsigned long long)stats.series, (unsigned long long)stats.readings,
                  (unsigned long long)stats.chunks, (unsigned long long)stats.file_bytes,
                  (unsigned long long)stats.map_bytes, (unsigned long long)stats.commits,
                  (unsigned long long)stats.log_blocks, (unsigned long long)stats.log_bytes,
                  (unsigned long long)stats.log_rewritten_readings);
    response->status = 200;
    response->content_type = "text/plain; version=0.0.4";
}

/* ---------- backup ---------- */

/* Copies the store into a new directory under --backup-dir, named by the UTC time. The path
 * never comes from the request: a client must not choose where the server writes. */
static void handle_backup(sv_context *context, const sv_request *request, sv_response *response)
{
    static const char *const known[] = {NULL};
    const char *parent = context->config->backup_directory;
    if (parent == NULL) {
        respond_error(response, 404,
                      "backups are not enabled; start jialingd with --backup-dir DIR");
        return;
    }
    if (check_known_params(request, known, response) != JL_OK)
        return;
    if (mkdir(parent, 0755) != 0 && errno != EEXIST) {
        char message[JL_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof message, "cannot create the backup directory %.300s: %s", parent,
                 strerror(errno));
        respond_error(response, 500, message);
        return;
    }
    time_t now = time(NULL);
    struct tm utc;
    char stamp[32], path[4096];
    gmtime_r(&now, &utc);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &utc);
    /* Two backups in the same second get -2, -3, ...: mkdir is the claim, so never shared. */
    int made = 0, error = EEXIST;
    for (int attempt = 1; attempt <= 100 && !made && error == EEXIST; attempt++) {
        if (attempt == 1)
            snprintf(path, sizeof path, "%s/backup-%s", parent, stamp);
        else
            snprintf(path, sizeof path, "%s/backup-%s-%d", parent, stamp, attempt);
        made = mkdir(path, 0755) == 0;
        error = made ? 0 : errno;
    }
    if (!made) {
        char message[JL_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof message, "cannot create a backup directory in %.300s: %s", parent,
                 strerror(error));
        respond_error(response, error == ENOSPC ? 507 : 500, message);
        return;
    }
    jl_error err;
    jl_error_clear(&err);
    if (st_store_backup(context->store, path, &err) != JL_OK) {
        rmdir(path); /* made above and left empty by the failed copy: no half backup to mistake */
        respond_code(response, err.code, err.message);
        return;
    }
    char data_path[4200];
    struct stat sb;
    snprintf(data_path, sizeof data_path, "%s/data.mdb", path);
    unsigned long long bytes = stat(data_path, &sb) == 0 ? (unsigned long long)sb.st_size : 0;
    jl_buf *out = &response->body;
    out->len = 0;
    jl_buf_append_str(out, "{\"backup\":");
    fm_json_string(out, path, strlen(path));
    jl_buf_printf(out, ",\"bytes\":%llu}", bytes);
    response->status = 200;
    response->content_type = json_type;
}

/* ---------- dispatch ---------- */

typedef enum access_kind { ACCESS_OPEN, ACCESS_READ, ACCESS_WRITE } access_kind;

typedef struct route {
    const char *path;
    const char *method;
    sv_route_id id;
    access_kind access;
} route;

static const route routes[] = {
    {"/api/v1/write", "POST", SV_ROUTE_WRITE, ACCESS_WRITE},
    {"/write", "POST", SV_ROUTE_WRITE, ACCESS_WRITE},
    {"/api/v2/write", "POST", SV_ROUTE_WRITE, ACCESS_WRITE},
    {"/api/v1/query", "GET", SV_ROUTE_QUERY, ACCESS_READ},
    {"/api/v1/scan", "GET", SV_ROUTE_SCAN, ACCESS_READ},
    {"/api/v1/latest", "GET", SV_ROUTE_LATEST, ACCESS_READ},
    {"/api/v1/series", "GET", SV_ROUTE_SERIES, ACCESS_READ},
    {"/health", "GET", SV_ROUTE_HEALTH, ACCESS_OPEN},
    {"/ping", "GET", SV_ROUTE_INFLUX, ACCESS_OPEN},
    {"/query", "GET", SV_ROUTE_INFLUX, ACCESS_READ},
    {"/query", "POST", SV_ROUTE_INFLUX, ACCESS_READ},
    {"/metrics", "GET", SV_ROUTE_METRICS, ACCESS_READ},
    {"/api/v1/backup", "POST", SV_ROUTE_BACKUP, ACCESS_WRITE},
    {"/api/v1/metrics", "GET", SV_ROUTE_DISCOVERY, ACCESS_READ},
    {"/api/v1/tags", "GET", SV_ROUTE_DISCOVERY, ACCESS_READ},
};

/* Returns JL_OK when the request may proceed, else fills a 401/403 response. */
static int authorize(sv_context *context, const sv_request *request, access_kind access,
                     sv_response *response)
{
    if (context->tokens == NULL || access == ACCESS_OPEN)
        return JL_OK;
    if (access == ACCESS_READ && !context->config->private_reads)
        return JL_OK;
    au_role role = au_tokens_check(context->tokens, request->authorization);
    if (role == AU_ROLE_NONE) {
        respond_error(response, 401,
                      "a valid token is required: send Authorization: Bearer <token>");
        return JL_EAUTH;
    }
    if (access == ACCESS_WRITE && role != AU_ROLE_WRITE) {
        respond_error(response, 403, "this token may read but not write");
        return JL_EFORBIDDEN;
    }
    return JL_OK;
}

/* Finds the route of the request and checks its token and declared body size. Returns the
 * route, or NULL with a 404/405/401/403/413 response filled. */
static const route *admit(sv_context *context, const sv_request *request, sv_response *response)
{
    const route *match = NULL;
    const char *allow = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && match == NULL; i++) {
        if (strcmp(routes[i].path, request->path) != 0)
            continue;
        if (strcmp(routes[i].method, request->method) == 0 ||
            (strcmp(request->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
            match = &routes[i];
        else
            allow = routes[i].method[0] == 'P' ? "POST" : "GET, HEAD";
    }
    char message[JL_ERROR_MESSAGE_MAX];
    if (match == NULL && allow) {
        snprintf(message, sizeof message, "method %.16s is not allowed on %.200s; use %s",
                 request->method, request->path, allow);
        respond_error(response, 405, message);
        response->allow = allow;
        return NULL;
    }
    if (match == NULL) {
        snprintf(message, sizeof message, "no such endpoint: %.200s", request->path);
        respond_error(response, 404, message);
        return NULL;
    }
    if (authorize(context, request, match->access, response) != JL_OK)
        return NULL;
    if (request->body_too_large ||
        (request->content_length >= 0 &&
         (uint64_t)request->content_length > context->config->max_body_bytes)) {
        snprintf(message, sizeof message, "request body exceeds the limit of %zu bytes",
                 context->config->max_body_bytes);
        respond_error(response, 413, message);
        return NULL;
    }
    return match;
}

/* Counts the answered request in the self-metrics. */
static void account(sv_context *context, sv_route_id id, int status, int64_t started_ns)
{
    atomic_fetch_add(&context->metrics.requests[id], 1);
    if (status >= 400)
        atomic_fetch_add(&context->metrics.errors[id], 1);
    atomic_fetch_add(&context->metrics.latency_us_sum[id],
                     (unsigned long long)((jl_monotonic_ns() - started_ns) / 1000));
}

int sv_route_admit(sv_context *context, const sv_request *request, sv_response *response)
{
    int64_t started = jl_monotonic_ns();
    const route *match = admit(context, request, response);
    if (match == NULL)
        account(context, SV_ROUTE_OTHER, response->status, started);
    return match != NULL;
}

void sv_route(sv_context *context, const sv_request *request, sv_response *response)
{
    int64_t started = jl_monotonic_ns();
    const route *match = admit(context, request, response);
    if (match) {
        switch (match->id) {
        case SV_ROUTE_WRITE:
            handle_write(context, request, response);
            break;
        case SV_ROUTE_QUERY:
            handle_query(context, request, response);
            break;
        case SV_ROUTE_SCAN:
            handle_scan(context, request, response);
            break;
        case SV_ROUTE_LATEST:
            handle_listing(context, request, response, run_latest);
            break;
        case SV_ROUTE_SERIES:
            if (sv_param_get(request, "series") == NULL)
                sv_discovery_all_series(context, request, response);
            else
                handle_listing(context, request, response, run_series);
            break;
        case SV_ROUTE_INFLUX:
            sv_influx_handle(context, request, response);
            break;
        case SV_ROUTE_DISCOVERY:
            if (strcmp(request->path, "/api/v1/metrics") == 0)
                sv_discovery_metrics(context, request, response);
            else
                sv_discovery_tags(context, request, response);
            break;
        case SV_ROUTE_METRICS:
            handle_metrics(context, response);
            break;
        case SV_ROUTE_BACKUP:
            handle_backup(context, request, response);
            break;
        case SV_ROUTE_HEALTH:
        default:
            response->status = 200;
            response->content_type = json_type;
            jl_buf_append_str(&response->body, "{\"status\":\"ok\"}");
            break;
        }
    }
    account(context, match ? match->id : SV_ROUTE_OTHER, response->status, started);
}
