/* The route table: for each endpoint, authorize, turn the request's parameters into a plain
 * request struct (query/request.c parses and checks them), call one function of query/ or
 * storage/, and turn the result or error code into a status and body. Also the one place that
 * maps error codes to HTTP statuses, read from the table in jialing/errors.h. */
#include "jialing/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "jialing/assets.h"
#include "jialing/format.h"
#include "jialing/ingest.h"
#include "jialing/params.h"
#include "jialing/public.h"
#include "jialing/request.h"

#include "aqi_http.h"
#include "discovery_http.h"
#include "events_http.h"
#include "influx.h"
#include "review_http.h"
#include "stations_http.h"
#include "water_http.h"

static const char *const json_type = "application/json";

int sv_status_for(int code)
{
#define SV_STATUS_CASE(name, number, text, status)                                                 \
    case name:                                                                                     \
        return status;
    switch (code) {
    case JL_OK:
        return JL_STATUS_OK;
        JL_ERROR_TABLE(SV_STATUS_CASE)
    default:
        return JL_STATUS_UNKNOWN;
    }
#undef SV_STATUS_CASE
}

const char *sv_param_get(const sv_request *request, const char *key)
{
    return rq_param_get(request->params, request->param_count, key);
}

void sv_response_init(sv_response *response)
{
    response->status = JL_STATUS_UNKNOWN;
    response->content_type = json_type;
    jl_buf_init(&response->body);
    response->body_fd = -1;
    response->body_fd_bytes = 0;
    response->allow = NULL;
    response->static_body = NULL;
    response->static_body_bytes = 0;
    response->cache_control = NULL;
    response->etag[0] = '\0';
}

void sv_response_destroy(sv_response *response)
{
    jl_buf_destroy(&response->body);
    if (response->body_fd >= 0)
        close(response->body_fd);
    response->body_fd = -1;
}

void sv_respond_error(sv_response *response, int code, const char *message)
{
    response->status = sv_status_for(code);
    response->content_type = json_type;
    response->body.len = 0;
    if (response->body_fd >= 0)
        close(response->body_fd);
    response->body_fd = -1;
    fm_json_error(&response->body, message);
}

void sv_respond_failure(sv_response *response, int code, const jl_error *err)
{
    sv_respond_error(response, code, err->message[0] ? err->message : jl_strerror(code));
}

void sv_respond_ok(sv_response *response, const char *content_type)
{
    response->status = sv_status_for(JL_OK);
    response->content_type = content_type;
}

int sv_write_result(sv_response *response, int format,
                    int (*emit)(const void *result, const qx_sink *sink), const void *result)
{
    response->body.len = 0;
    fm_writer writer;
    int rc = fm_writer_init(&writer, (fm_format)format, &response->body);
    qx_sink sink = fm_writer_sink(&writer);
    if (rc == JL_OK)
        rc = emit(result, &sink);
    if (rc == JL_OK)
        rc = fm_writer_finish(&writer);
    fm_writer_destroy(&writer);
    return rc;
}

/* format= for the request parsers: the output formats are the server's. */
static int parse_format(const char *text, int *format, jl_error *err)
{
    fm_format parsed = FM_JSON;
    int rc = fm_parse_format(text, &parsed, err);
    *format = (int)parsed;
    return rc;
}

rq_input sv_request_input(sv_context *context, const sv_request *request)
{
    fm_format format = FM_JSON;
    /* An explicit format= wins over the Accept header; JSON when neither says otherwise. */
    fm_format_from_accept(request->accept, &format);
    rq_input in = {.params = request->params,
                   .param_count = request->param_count,
                   .now_ms = jl_now_ms(),
                   .format = (int)format,
                   .parse_format = parse_format,
                   .limits = context->config->limits};
    return in;
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
        rq_input in = sv_request_input(context, request);
        ig_precision precision;
        rc = rq_write_parse(&in, &precision, &err);
        if (rc != JL_OK) { /* a bad parameter, not a bad batch: not counted as rejected */
            sv_respond_failure(response, rc, &err);
            goto out;
        }
        rc = ig_parse_line_protocol(request->body ? request->body : "", request->body_len,
                                    precision, jl_now_ms(), &batch, &err);
    }
    if (rc == JL_OK && st_batch_point_count(&batch) == 0) {
        sv_respond_error(response, JL_EINVAL, "the request body holds no readings");
        atomic_fetch_add(&context->metrics.rejected_requests, 1);
        goto out;
    }
    if (rc == JL_OK)
        rc = st_write(context->store, &batch, &err);
    if (rc != JL_OK) {
        if (sv_status_for(rc) < JL_STATUS_SERVER_ERRORS)
            atomic_fetch_add(&context->metrics.rejected_requests, 1);
        sv_respond_failure(response, rc, &err);
        goto out;
    }
    atomic_fetch_add(&context->metrics.points_ingested, st_batch_point_count(&batch));
    response->status = JL_STATUS_NO_CONTENT;
    response->content_type = NULL;
out:
    st_batch_destroy(&batch);
}

/* ---------- reads ---------- */

/* Runs the one query function of a parsed read request into sink. */
typedef int (*query_runner)(sv_context *context, const rq_read *read, const qx_sink *sink,
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

/* Runs the request with a writer for its format and fills the response. */
static void run_into_response(sv_context *context, query_runner runner, const rq_read *read,
                              sv_response *response)
{
    fm_format format = (fm_format)read->format;
    jl_error err;
    jl_error_clear(&err);
    fm_writer writer;
    int rc = fm_writer_init(&writer, format, &response->body);
    spool_sink spool = {fm_writer_sink(&writer), &response->body, NULL, 0};
    qx_sink sink = {&spool, spool_series_begin, spool_row, spool_series_end};
    if (rc == JL_OK)
        rc = runner(context, read, &sink, &err);
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
        sv_respond_failure(response, rc, &err);
        return;
    }
    sv_respond_ok(response, fm_content_type(format));
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

static int run_query(sv_context *context, const rq_read *read, const qx_sink *sink, jl_error *err)
{
    qx_query_request request = read->query;
    qx_query_stats stats = {0};
    request.stats = &stats;
    int rc = qx_query(context->store, &request, sink, err);
    count_chunks(context, &stats);
    return rc;
}

static int run_scan(sv_context *context, const rq_read *read, const qx_sink *sink, jl_error *err)
{
    qx_scan_request request = read->scan;
    qx_query_stats stats = {0};
    request.stats = &stats;
    int rc = qx_scan(context->store, &request, sink, err);
    count_chunks(context, &stats);
    return rc;
}

static int run_latest(sv_context *context, const rq_read *read, const qx_sink *sink, jl_error *err)
{
    if (read->with_flags)
        return jl_error_set(err, JL_EINVAL,
                            "parameter with_flags applies to /api/v1/series, not /api/v1/latest");
    return qx_latest(context->store, &read->selector, &context->config->limits,
                     &read->listing_flags, sink, err);
}

static int run_series(sv_context *context, const rq_read *read, const qx_sink *sink, jl_error *err)
{
    if (read->listing_flags_given)
        return jl_error_set(err, JL_EINVAL,
                            "parameter flags applies to /api/v1/latest, not /api/v1/series (which "
                            "counts readings per flag with with_flags=true)");
    return qx_series(context->store, &read->selector, &context->config->limits, read->with_flags,
                     sink, err);
}

/* The read endpoints: parse the request for endpoint, run it with runner, answer. */
static void handle_read(sv_context *context, const sv_request *request, sv_response *response,
                        rq_endpoint endpoint, query_runner runner)
{
    jl_error err;
    jl_error_clear(&err);
    rq_input in = sv_request_input(context, request);
    rq_read read;
    int rc = rq_read_parse(endpoint, &in, &read, &err);
    if (rc == JL_OK)
        run_into_response(context, runner, &read, response);
    else
        sv_respond_failure(response, rc, &err);
    rq_read_destroy(&read);
}

static void handle_metrics(sv_context *context, sv_response *response)
{
    static const char *const names[SV_ROUTE_COUNT] = {
        "write",         "query",      "scan",   "latest",   "series", "health", "metrics",
        "backup",        "discovery",  "influx", "web",      "public", "review", "aqi",
        "water_quality", "assessment", "sites",  "stations", "events", "other"};
    jl_buf *out = &response->body;
    st_stats stats;
    jl_error err;
    if (st_store_stats(context->store, 0, &stats, &err) != JL_OK) {
        sv_respond_error(response, err.code, err.message);
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
    jl_buf_printf(
        out,
        "# HELP jialing_hj212_connections_open HJ 212 logger connections open.\n"
        "# TYPE jialing_hj212_connections_open gauge\n"
        "jialing_hj212_connections_open %llu\n"
        "# HELP jialing_hj212_connections_accepted_total HJ 212 connections accepted.\n"
        "# TYPE jialing_hj212_connections_accepted_total counter\n"
        "jialing_hj212_connections_accepted_total %llu\n"
        "# HELP jialing_hj212_connections_refused_total HJ 212 connections refused (limit).\n"
        "# TYPE jialing_hj212_connections_refused_total counter\n"
        "jialing_hj212_connections_refused_total %llu\n"
        "# HELP jialing_hj212_connections_closed_total HJ 212 connections closed by the server.\n"
        "# TYPE jialing_hj212_connections_closed_total counter\n"
        "jialing_hj212_connections_closed_total{reason=\"idle\"} %llu\n"
        "jialing_hj212_connections_closed_total{reason=\"write_failed\"} %llu\n"
        "jialing_hj212_connections_closed_total{reason=\"reply_overflow\"} %llu\n"
        "# HELP jialing_hj212_frames_total HJ 212 frames with a good CRC.\n"
        "# TYPE jialing_hj212_frames_total counter\n"
        "jialing_hj212_frames_total %llu\n"
        "# HELP jialing_hj212_frames_dropped_total HJ 212 frames dropped, by reason.\n"
        "# TYPE jialing_hj212_frames_dropped_total counter\n"
        "jialing_hj212_frames_dropped_total{reason=\"bad_length\"} %llu\n"
        "jialing_hj212_frames_dropped_total{reason=\"bad_crc\"} %llu\n"
        "jialing_hj212_frames_dropped_total{reason=\"too_long\"} %llu\n"
        "jialing_hj212_frames_dropped_total{reason=\"unparseable\"} %llu\n"
        "jialing_hj212_frames_dropped_total{reason=\"mapping\"} %llu\n"
        "# HELP jialing_hj212_garbage_bytes_total Bytes skipped outside any HJ 212 frame.\n"
        "# TYPE jialing_hj212_garbage_bytes_total counter\n"
        "jialing_hj212_garbage_bytes_total %llu\n"
        "# HELP jialing_hj212_messages_other_total HJ 212 messages of other CNs, accepted and "
        "not stored.\n"
        "# TYPE jialing_hj212_messages_other_total counter\n"
        "jialing_hj212_messages_other_total %llu\n"
        "# HELP jialing_hj212_messages_stored_total HJ 212 data messages committed.\n"
        "# TYPE jialing_hj212_messages_stored_total counter\n"
        "jialing_hj212_messages_stored_total %llu\n"
        "# HELP jialing_hj212_readings_stored_total Readings of HJ 212 messages committed.\n"
        "# TYPE jialing_hj212_readings_stored_total counter\n"
        "jialing_hj212_readings_stored_total %llu\n"
        "# HELP jialing_hj212_replies_sent_total 9014 replies queued after their commit.\n"
        "# TYPE jialing_hj212_replies_sent_total counter\n"
        "jialing_hj212_replies_sent_total %llu\n"
        "# HELP jialing_hj212_commit_failures_total HJ 212 data messages whose commit failed.\n"
        "# TYPE jialing_hj212_commit_failures_total counter\n"
        "jialing_hj212_commit_failures_total %llu\n"
        "# HELP jialing_hj212_messages_refused_total HJ 212 messages refused by the stations "
        "file.\n"
        "# TYPE jialing_hj212_messages_refused_total counter\n"
        "jialing_hj212_messages_refused_total{reason=\"unknown_station\"} %llu\n"
        "jialing_hj212_messages_refused_total{reason=\"wrong_password\"} %llu\n"
        "# HELP jialing_hj212_split_messages_total HJ 212 split messages (PNUM/PNO): assembled, "
        "dropped incomplete, parts refused.\n"
        "# TYPE jialing_hj212_split_messages_total counter\n"
        "jialing_hj212_split_messages_total{result=\"completed\"} %llu\n"
        "jialing_hj212_split_messages_total{result=\"expired\"} %llu\n"
        "jialing_hj212_split_messages_total{result=\"refused\"} %llu\n",
        (unsigned long long)atomic_load(&m->hj212_connections_open),
        (unsigned long long)atomic_load(&m->hj212_connections_accepted),
        (unsigned long long)atomic_load(&m->hj212_connections_refused),
        (unsigned long long)atomic_load(&m->hj212_closed_idle),
        (unsigned long long)atomic_load(&m->hj212_closed_write_failed),
        (unsigned long long)atomic_load(&m->hj212_closed_reply_overflow),
        (unsigned long long)atomic_load(&m->hj212_frames_good),
        (unsigned long long)atomic_load(&m->hj212_frames_bad_length),
        (unsigned long long)atomic_load(&m->hj212_frames_bad_crc),
        (unsigned long long)atomic_load(&m->hj212_frames_too_long),
        (unsigned long long)atomic_load(&m->hj212_unparseable),
        (unsigned long long)atomic_load(&m->hj212_unmapped),
        (unsigned long long)atomic_load(&m->hj212_garbage_bytes),
        (unsigned long long)atomic_load(&m->hj212_messages_other),
        (unsigned long long)atomic_load(&m->hj212_messages_stored),
        (unsigned long long)atomic_load(&m->hj212_readings_stored),
        (unsigned long long)atomic_load(&m->hj212_replies_sent),
        (unsigned long long)atomic_load(&m->hj212_commit_failures),
        (unsigned long long)atomic_load(&m->hj212_unknown_station),
        (unsigned long long)atomic_load(&m->hj212_wrong_password),
        (unsigned long long)atomic_load(&m->hj212_split_completed),
        (unsigned long long)atomic_load(&m->hj212_split_expired),
        (unsigned long long)atomic_load(&m->hj212_split_refused));
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
    jl_buf_printf(out,
                  "# HELP jialing_review_marks Review marks stored, withdrawn ones included.\n"
                  "# TYPE jialing_review_marks gauge\njialing_review_marks %llu\n"
                  "# HELP jialing_review_marks_withdrawn Review marks withdrawn.\n"
                  "# TYPE jialing_review_marks_withdrawn gauge\n"
                  "jialing_review_marks_withdrawn %llu\n"
                  "# HELP jialing_flagged_points_written_total Points accepted with a data flag "
                  "other than N.\n"
                  "# TYPE jialing_flagged_points_written_total counter\n"
                  "jialing_flagged_points_written_total %llu\n",
                  (unsigned long long)stats.review_marks,
                  (unsigned long long)stats.review_marks_withdrawn,
                  (unsigned long long)stats.flagged_points_written);
    jl_buf_printf(out,
                  "# HELP jialing_retention_chunks_deleted_total Sealed chunks deleted as wholly "
                  "past retention, since start.\n"
                  "# TYPE jialing_retention_chunks_deleted_total counter\n"
                  "jialing_retention_chunks_deleted_total %llu\n"
                  "# HELP jialing_retention_readings_deleted_total Readings those chunks held.\n"
                  "# TYPE jialing_retention_readings_deleted_total counter\n"
                  "jialing_retention_readings_deleted_total %llu\n"
                  "# HELP jialing_retention_dropped_readings_total Readings written already past "
                  "retention, not stored (the rest of their request was).\n"
                  "# TYPE jialing_retention_dropped_readings_total counter\n"
                  "jialing_retention_dropped_readings_total %llu\n",
                  (unsigned long long)stats.retention_chunks_deleted,
                  (unsigned long long)stats.retention_readings_deleted,
                  (unsigned long long)stats.retention_dropped_readings);
    sv_events_metrics(context, out); /* alarms and notifications */
    sv_respond_ok(response, "text/plain; version=0.0.4");
}

/* ---------- backup ---------- */

/* Copies the store into a new directory under --backup-dir, named by the UTC time. The path
 * never comes from the request: a client must not choose where the server writes. */
static void handle_backup(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    const char *parent = context->config->backup_directory;
    if (parent == NULL) {
        sv_respond_error(response, JL_ENOROUTE,
                         "backups are not enabled; start jialingd with --backup-dir DIR");
        return;
    }
    rq_input in = sv_request_input(context, request);
    int rc = rq_backup_parse(&in, &err);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        return;
    }
    if (mkdir(parent, 0755) != 0 && errno != EEXIST) {
        char message[JL_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof message, "cannot create the backup directory %.300s: %s", parent,
                 strerror(errno));
        sv_respond_error(response, JL_EIO, message);
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
        sv_respond_error(response, error == ENOSPC ? JL_EDISKFULL : JL_EIO, message);
        return;
    }
    if (st_store_backup(context->store, path, &err) != JL_OK) {
        rmdir(path); /* made above and left empty by the failed copy: no half backup to mistake */
        sv_respond_error(response, err.code, err.message);
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
    sv_respond_ok(response, json_type);
}

/* ---------- dispatch ---------- */

/* ACCESS_PUBLIC: a read that --public keeps open even with --private-reads. ACCESS_REVIEW: a
 * review mark made or withdrawn, which takes a token of role review (not write: the people who
 * judge data are not the devices that send it). */
typedef enum access_kind {
    ACCESS_OPEN,
    ACCESS_READ,
    ACCESS_WRITE,
    ACCESS_PUBLIC,
    ACCESS_REVIEW
} access_kind;

typedef struct route {
    const char *path;
    const char *method;
    sv_route_id id;
    access_kind access;
    int prefix; /* 1: path is a prefix; the rest (one non-empty segment) is the handler's */
} route;

static const route routes[] = {
    {"/api/v1/write", "POST", SV_ROUTE_WRITE, ACCESS_WRITE, 0},
    {"/write", "POST", SV_ROUTE_WRITE, ACCESS_WRITE, 0},
    {"/api/v2/write", "POST", SV_ROUTE_WRITE, ACCESS_WRITE, 0},
    {"/api/v1/query", "GET", SV_ROUTE_QUERY, ACCESS_READ, 0},
    {"/api/v1/aqi", "GET", SV_ROUTE_AQI, ACCESS_READ, 0},
    {"/api/v1/scan", "GET", SV_ROUTE_SCAN, ACCESS_READ, 0},
    {"/api/v1/latest", "GET", SV_ROUTE_LATEST, ACCESS_READ, 0},
    {"/api/v1/series", "GET", SV_ROUTE_SERIES, ACCESS_READ, 0},
    {"/health", "GET", SV_ROUTE_HEALTH, ACCESS_OPEN, 0},
    {"/ping", "GET", SV_ROUTE_INFLUX, ACCESS_OPEN, 0},
    {"/query", "GET", SV_ROUTE_INFLUX, ACCESS_READ, 0},
    {"/query", "POST", SV_ROUTE_INFLUX, ACCESS_READ, 0},
    {"/metrics", "GET", SV_ROUTE_METRICS, ACCESS_READ, 0},
    {"/api/v1/backup", "POST", SV_ROUTE_BACKUP, ACCESS_WRITE, 0},
    {"/api/v1/metrics", "GET", SV_ROUTE_DISCOVERY, ACCESS_READ, 0},
    {"/api/v1/tags", "GET", SV_ROUTE_DISCOVERY, ACCESS_READ, 0},
    {"/", "GET", SV_ROUTE_WEB, ACCESS_OPEN, 0}, /* the console's files hold no data */
    {"/assets/console.js", "GET", SV_ROUTE_WEB, ACCESS_OPEN, 0},
    {"/assets/style.css", "GET", SV_ROUTE_WEB, ACCESS_OPEN, 0},
    {"/assets/uPlot.iife.min.js", "GET", SV_ROUTE_WEB, ACCESS_OPEN, 0},
    {"/assets/uPlot.min.css", "GET", SV_ROUTE_WEB, ACCESS_OPEN, 0},
    {"/public", "GET", SV_ROUTE_WEB, ACCESS_PUBLIC, 0},
    {"/assets/public.js", "GET", SV_ROUTE_WEB, ACCESS_OPEN, 0},
    {"/api/v1/public/latest", "GET", SV_ROUTE_PUBLIC, ACCESS_PUBLIC, 0},
    {"/api/v1/sites", "GET", SV_ROUTE_SITES, ACCESS_READ, 0},
    {"/api/v1/water_quality", "GET", SV_ROUTE_WATER, ACCESS_READ, 0},
    {"/api/v1/assessment", "GET", SV_ROUTE_ASSESSMENT, ACCESS_READ, 0},
    {"/api/v1/stations", "GET", SV_ROUTE_STATIONS, ACCESS_READ, 0},
    {SV_REVIEW_PATH, "POST", SV_ROUTE_REVIEW, ACCESS_REVIEW, 0},
    {SV_REVIEW_PATH, "GET", SV_ROUTE_REVIEW, ACCESS_READ, 0},
    {SV_REVIEW_PATH "/", "GET", SV_ROUTE_REVIEW, ACCESS_READ, 1},
    {SV_REVIEW_PATH "/", "DELETE", SV_ROUTE_REVIEW, ACCESS_REVIEW, 1},
    {SV_EVENTS_PATH, "GET", SV_ROUTE_EVENTS, ACCESS_READ, 0},
};

/* Returns JL_OK when the request may proceed, else fills a 401/403 response. */
static int authorize(sv_context *context, const sv_request *request, access_kind access,
                     sv_response *response)
{
    if (context->tokens == NULL || access == ACCESS_OPEN)
        return JL_OK;
    if ((access == ACCESS_READ || access == ACCESS_PUBLIC) && !context->config->private_reads)
        return JL_OK;
    if (access == ACCESS_PUBLIC && context->config->public_page)
        return JL_OK;
    au_role role = au_tokens_check(context->tokens, request->authorization);
    if (role == AU_ROLE_NONE) {
        sv_respond_error(response, JL_EAUTH,
                         "a valid token is required: send Authorization: Bearer <token>");
        return JL_EAUTH;
    }
    if (access == ACCESS_WRITE && role != AU_ROLE_WRITE) {
        sv_respond_error(response, JL_EFORBIDDEN,
                         role == AU_ROLE_REVIEW
                             ? "this token may read and make review marks, but not write readings"
                             : "this token may read but not write");
        return JL_EFORBIDDEN;
    }
    if (access == ACCESS_REVIEW && role != AU_ROLE_REVIEW) {
        sv_respond_error(response, JL_EFORBIDDEN,
                         "this token may not make or withdraw review marks: that takes a token of "
                         "role review");
        return JL_EFORBIDDEN;
    }
    return JL_OK;
}

/* Finds the route of the request and checks its token and declared body size. Returns the
 * route, or NULL with a 404/405/401/403/413 response filled. */
static const route *admit(sv_context *context, const sv_request *request, sv_response *response)
{
    /* The Allow header of a 405 lists every method of the path: bit 1 GET (and HEAD), 2 POST,
     * 4 DELETE. */
    static const char *const allow_texts[8] = {
        NULL,     "GET, HEAD",         "POST",         "GET, HEAD, POST",
        "DELETE", "GET, HEAD, DELETE", "POST, DELETE", "GET, HEAD, POST, DELETE"};
    const route *match = NULL;
    unsigned methods = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && match == NULL; i++) {
        const route *r = &routes[i];
        if (r->prefix) {
            size_t len = strlen(r->path);
            const char *rest = request->path + len;
            if (strncmp(r->path, request->path, len) != 0 || rest[0] == '\0' ||
                strchr(rest, '/') != NULL)
                continue;
        } else if (strcmp(r->path, request->path) != 0) {
            continue;
        }
        if (strcmp(r->method, request->method) == 0 ||
            (strcmp(request->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            match = r;
        else
            methods |= r->method[0] == 'G' ? 1u : r->method[0] == 'P' ? 2u : 4u;
    }
    const char *allow = allow_texts[methods];
    char message[JL_ERROR_MESSAGE_MAX];
    if (match == NULL && allow) {
        snprintf(message, sizeof message, "method %.16s is not allowed on %.200s; use %s",
                 request->method, request->path, allow);
        sv_respond_error(response, JL_EMETHOD, message);
        response->allow = allow;
        return NULL;
    }
    if (match == NULL) {
        snprintf(message, sizeof message, "no such endpoint: %.200s", request->path);
        sv_respond_error(response, JL_ENOROUTE, message);
        return NULL;
    }
    if (authorize(context, request, match->access, response) != JL_OK)
        return NULL;
    if (request->body_too_large ||
        (request->content_length >= 0 &&
         (uint64_t)request->content_length > context->config->max_body_bytes)) {
        snprintf(message, sizeof message, "request body exceeds the limit of %zu bytes",
                 context->config->max_body_bytes);
        sv_respond_error(response, JL_ETOOLARGE, message);
        return NULL;
    }
    return match;
}

/* Counts the answered request in the self-metrics. */
static void account(sv_context *context, sv_route_id id, int status, int64_t started_ns)
{
    atomic_fetch_add(&context->metrics.requests[id], 1);
    if (status >= JL_STATUS_CLIENT_ERRORS)
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
        case SV_ROUTE_REVIEW:
            sv_review_handle(context, request, response);
            break;
        case SV_ROUTE_WRITE:
            handle_write(context, request, response);
            break;
        case SV_ROUTE_QUERY:
            handle_read(context, request, response, RQ_QUERY, run_query);
            break;
        case SV_ROUTE_AQI:
            sv_aqi_handle(context, request, response);
            break;
        case SV_ROUTE_WATER:
            sv_water_quality(context, request, response);
            break;
        case SV_ROUTE_ASSESSMENT:
            sv_assessment(context, request, response);
            break;
        case SV_ROUTE_SITES:
            sv_sites_list(context, request, response);
            break;
        case SV_ROUTE_STATIONS:
            sv_stations(context, request, response);
            break;
        case SV_ROUTE_EVENTS:
            sv_events_handle(context, request, response);
            break;
        case SV_ROUTE_SCAN:
            handle_read(context, request, response, RQ_SCAN, run_scan);
            break;
        case SV_ROUTE_LATEST:
            handle_read(context, request, response, RQ_LISTING, run_latest);
            break;
        case SV_ROUTE_SERIES:
            if (sv_param_get(request, "series") == NULL)
                sv_discovery_all_series(context, request, response);
            else
                handle_read(context, request, response, RQ_LISTING, run_series);
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
        case SV_ROUTE_WEB:
            as_serve(request, response);
            break;
        case SV_ROUTE_PUBLIC:
            pb_handle_latest(context, request, response);
            break;
        case SV_ROUTE_HEALTH:
        default:
            sv_respond_ok(response, json_type);
            jl_buf_append_str(&response->body, "{\"status\":\"ok\"}");
            break;
        }
    }
    account(context, match ? match->id : SV_ROUTE_OTHER, response->status, started);
}
