/* The libmicrohttpd front end, and its only user: the daemon with a worker thread pool, explicit
 * connection limits and timeouts, per-request state created on the first callback, the body
 * consumed incrementally up to a limit, and the response queued once the upload has ended. The
 * request is then handed to sv_route() as a plain struct: inline for reads, and on a thread of
 * its own pool for requests with a body, whose connection is suspended meanwhile.
 *
 * Why the second pool: a write waits for its commit and fsync, and libmicrohttpd serves each
 * connection from one fixed worker. Run inline, a write stalled every other connection of its
 * worker, reads included, and two writers that happened to share a worker were serialised
 * (a reference ingest ran at 2.1 instead of 2.8 M readings/s when that happened). */
#include "jialing/server.h"

#include "jialing/format.h"

#include "body_decode.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct request_state;

struct sv_http {
    struct MHD_Daemon *daemon;
    sv_context *context;
    uint16_t port;
    atomic_uint open_connections; /* maintained by on_connection */

    /* The pool that runs requests with a body (see the file comment). */
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_cond;        /* a job was queued, or stopping was set */
    struct request_state *jobs_head; /* queued requests, oldest first */
    struct request_state *jobs_tail;
    int jobs_stopping; /* threads finish the queue, then exit */
    pthread_t *job_threads;
    unsigned job_thread_count;
};

/* Connections beyond --max-connections still get an answer (503) from this reserve; beyond it
 * libmicrohttpd refuses them outright. */
#define CONNECTION_RESERVE 64
/* Per-connection memory of libmicrohttpd (its default is 32 KiB). A write body is read in pieces
 * of the read buffer; with the default, a 300 KB batch took ~20 reads and as many wake-ups of the
 * sender, and the load client spent 8 s of CPU on a reference ingest instead of 3.6 s. The pool
 * is mapped lazily, so idle connections cost no more than before. */
#define CONNECTION_MEMORY (128 * 1024)
#define READ_INCREMENT (32 * 1024)

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)connection;
    (void)socket_context;
    sv_http *http = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&http->open_connections, 1);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        atomic_fetch_sub(&http->open_connections, 1);
}

/* State of one request, from its first callback to the completed callback. */
typedef struct request_state {
    jl_buf body;
    int too_large;
    sv_request request;
    int params_overflow;
    const char *nul_param;    /* a parameter holding a NUL byte, if any */
    sv_body_decoder *decoder; /* Content-Encoding gzip/deflate, else NULL */
    uint64_t encoded_bytes;   /* body bytes received before decoding */
    int decode_failed;        /* decoding failed: answer decode_code with decode_error */
    int decode_code;          /* JL_EINVAL (corrupt body) or JL_ENOMEM */
    char decode_error[JL_ERROR_MESSAGE_MAX];
    /* A request run by the job pool: its connection is suspended from queueing until answered
     * is set and the connection resumed, so no callback of libmicrohttpd can race the job. */
    struct MHD_Connection *connection;
    int queued;
    int answered;
    sv_response response;
    struct request_state *job_next;
} request_state;

static void *job_thread_main(void *argument)
{
    sv_http *http = argument;
    pthread_mutex_lock(&http->jobs_lock);
    for (;;) {
        while (http->jobs_head == NULL && !http->jobs_stopping)
            pthread_cond_wait(&http->jobs_cond, &http->jobs_lock);
        request_state *state = http->jobs_head;
        if (state == NULL)
            break;
        http->jobs_head = state->job_next;
        if (http->jobs_head == NULL)
            http->jobs_tail = NULL;
        pthread_mutex_unlock(&http->jobs_lock);
        sv_response_init(&state->response);
        sv_route(http->context, &state->request, &state->response);
        state->answered = 1;
        MHD_resume_connection(state->connection);
        pthread_mutex_lock(&http->jobs_lock);
    }
    pthread_mutex_unlock(&http->jobs_lock);
    return NULL;
}

/* Suspends the connection and queues its request for the job pool. Returns 0 once the pool
 * is stopping (the caller then runs the request itself): nothing would resume the connection,
 * and libmicrohttpd refuses to stop with a suspended one. */
static int queue_job(sv_http *http, struct MHD_Connection *connection, request_state *state)
{
    pthread_mutex_lock(&http->jobs_lock);
    if (http->jobs_stopping) {
        pthread_mutex_unlock(&http->jobs_lock);
        return 0;
    }
    state->connection = connection;
    state->queued = 1;
    MHD_suspend_connection(connection);
    if (http->jobs_tail)
        http->jobs_tail->job_next = state;
    else
        http->jobs_head = state;
    http->jobs_tail = state;
    pthread_cond_signal(&http->jobs_cond);
    pthread_mutex_unlock(&http->jobs_lock);
    return 1;
}

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    request_state *state = cls;
    /* A %00 would silently cut the parameter short where C strings are used. */
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
        state->nul_param = key;
        return MHD_NO;
    }
    if (state->request.param_count == SV_MAX_PARAMS) {
        state->params_overflow = 1;
        return MHD_NO;
    }
    sv_param *param = &state->request.params[state->request.param_count++];
    param->key = key;
    param->value = value ? value : "";
    return MHD_YES;
}

static enum MHD_Result send_response(struct MHD_Connection *connection, sv_response *response)
{
    size_t len = response->body.len;
    struct MHD_Response *reply;
    if (response->static_body) {
        /* Built-in assets live as long as the process: sent without a copy. */
        reply = MHD_create_response_from_buffer(
            response->static_body_bytes, (void *)response->static_body, MHD_RESPMEM_PERSISTENT);
    } else if (response->body_fd >= 0) {
        /* A spooled answer: libmicrohttpd sends the file and closes it. */
        reply = MHD_create_response_from_fd64(response->body_fd_bytes, response->body_fd);
        if (reply)
            response->body_fd = -1;
    } else {
        /* Ownership of the buffer passes to libmicrohttpd, which frees it after sending. */
        reply =
            MHD_create_response_from_buffer(len, len ? response->body.data : (void *)"",
                                            len ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (reply && len)
            jl_buf_init(&response->body);
    }
    sv_response_destroy(response);
    if (reply == NULL)
        return MHD_NO;
    if (response->content_type && response->status != JL_STATUS_NO_CONTENT &&
        response->status != JL_STATUS_NOT_MODIFIED)
        MHD_add_response_header(reply, MHD_HTTP_HEADER_CONTENT_TYPE, response->content_type);
    if (response->allow)
        MHD_add_response_header(reply, MHD_HTTP_HEADER_ALLOW, response->allow);
    if (response->cache_control)
        MHD_add_response_header(reply, MHD_HTTP_HEADER_CACHE_CONTROL, response->cache_control);
    if (response->etag[0])
        MHD_add_response_header(reply, MHD_HTTP_HEADER_ETAG, response->etag);
    if (response->status == sv_status_for(JL_EAUTH))
        MHD_add_response_header(reply, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    /* InfluxDB clients read the server version from every answer (node-influx's ping()). */
    MHD_add_response_header(reply, "X-Influxdb-Version", SV_INFLUXDB_VERSION);
    enum MHD_Result result = MHD_queue_response(connection, (unsigned)response->status, reply);
    MHD_destroy_response(reply);
    return result;
}

/* Answers with the status of code (a JL_* code) and {"error": message}. */
static enum MHD_Result send_error(struct MHD_Connection *connection, int code, const char *message)
{
    sv_response response;
    sv_response_init(&response);
    sv_respond_error(&response, code, message);
    return send_response(connection, &response);
}

/* Fills the parts of the request known from its headers. */
static void read_headers(struct MHD_Connection *connection, const char *url, const char *method,
                         sv_request *request)
{
    request->method = method;
    request->path = url;
    request->content_type =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    request->authorization =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    request->accept =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    request->if_none_match =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    const char *length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    request->content_length = -1;
    if (length) {
        char *end = NULL;
        long long declared = strtoll(length, &end, 10);
        /* A malformed or negative length is refused as too large rather than trusted. */
        request->content_length =
            (end == length || *end != '\0' || declared < 0) ? INT64_MAX : declared;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **request_cls)
{
    (void)version;
    sv_http *http = cls;
    const sv_config *config = http->context->config;
    request_state *state = *request_cls;
    if (state == NULL) {
        state = calloc(1, sizeof *state);
        if (state == NULL)
            return MHD_NO;
        jl_buf_init(&state->body);
        *request_cls = state;
        if (atomic_load(&http->open_connections) > config->max_connections) {
            char message[128];
            snprintf(message, sizeof message,
                     "too many open connections (the limit is %u); retry later",
                     config->max_connections);
            return send_error(connection, JL_EBUSY, message);
        }
        /* Refuse now what would be refused anyway (unknown route, bad token, body declared too
         * large), before reading a body. */
        read_headers(connection, url, method, &state->request);
        sv_response response;
        sv_response_init(&response);
        if (!sv_route_admit(http->context, &state->request, &response))
            return send_response(connection, &response);
        jl_error err;
        jl_error_clear(&err);
        const char *encoding = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                           MHD_HTTP_HEADER_CONTENT_ENCODING);
        int rc = sv_body_decoder_new(encoding, &state->decoder, &err);
        if (rc != JL_OK)
            return send_error(connection, rc, err.message);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        state->encoded_bytes += *upload_data_size;
        if (!state->too_large && state->encoded_bytes > config->max_body_bytes)
            state->too_large = 1;
        if (state->decoder && !state->too_large && !state->decode_failed) {
            /* The decompressed size is what counts against the limit. */
            jl_error err;
            jl_error_clear(&err);
            int rc = sv_body_decoder_feed(state->decoder, upload_data, *upload_data_size,
                                          &state->body, config->max_body_bytes, &err);
            if (rc == JL_ETOOLARGE)
                state->too_large = 1;
            else if (rc != JL_OK)
                state->decode_failed = 1, state->decode_code = rc;
            if (rc != JL_OK)
                snprintf(state->decode_error, sizeof state->decode_error, "%s", err.message);
            if (state->too_large || state->decode_failed)
                jl_buf_destroy(&state->body);
        } else if (!state->decoder && !state->too_large &&
                   jl_buf_append(&state->body, upload_data, *upload_data_size) != JL_OK) {
            state->too_large = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (state->queued)
        return send_response(connection, &state->response); /* resumed: the job answered */
    if (state->decoder && state->encoded_bytes > 0 && !state->too_large && !state->decode_failed) {
        jl_error err;
        jl_error_clear(&err);
        int rc = sv_body_decoder_finish(state->decoder, &err);
        if (rc != JL_OK) {
            state->decode_failed = 1;
            state->decode_code = rc;
            snprintf(state->decode_error, sizeof state->decode_error, "%s", err.message);
        }
    }
    if (state->decode_failed && !state->too_large)
        return send_error(connection, state->decode_code, state->decode_error);
    sv_request *request = &state->request;
    MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, collect_param, state);
    if (state->params_overflow)
        return send_error(connection, JL_EINVAL, "too many query parameters");
    if (state->nul_param) {
        char message[256];
        snprintf(message, sizeof message, "parameter %.200s contains a NUL byte (%%00)",
                 state->nul_param);
        return send_error(connection, JL_EINVAL, message);
    }
    request->body = state->body.data;
    request->body_len = state->body.len;
    request->body_too_large = state->too_large;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
        queue_job(http, connection, state))
        return MHD_YES;
    sv_response response;
    sv_response_init(&response);
    sv_route(http->context, request, &response);
    return send_response(connection, &response);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **request_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)connection;
    (void)code;
    request_state *state = *request_cls;
    if (state == NULL)
        return;
    if (state->answered)
        sv_response_destroy(&state->response); /* unsent when the connection went first */
    jl_buf_destroy(&state->body);
    sv_body_decoder_free(state->decoder);
    free(state);
    *request_cls = NULL;
}

static int start_jobs(sv_http *http, unsigned count)
{
    pthread_mutex_init(&http->jobs_lock, NULL);
    pthread_cond_init(&http->jobs_cond, NULL);
    http->job_threads = calloc(count, sizeof *http->job_threads);
    if (http->job_threads == NULL)
        return JL_ENOMEM;
    for (unsigned i = 0; i < count; i++) {
        if (pthread_create(&http->job_threads[i], NULL, job_thread_main, http) != 0)
            break;
        http->job_thread_count++;
    }
    return http->job_thread_count > 0 ? JL_OK : JL_ENOMEM;
}

/* Lets the job threads finish what is queued, then joins them. The lock stays: libmicrohttpd's
 * workers may still call queue_job() until the daemon is stopped (free_jobs). */
static void stop_jobs(sv_http *http)
{
    pthread_mutex_lock(&http->jobs_lock);
    http->jobs_stopping = 1;
    pthread_cond_broadcast(&http->jobs_cond);
    pthread_mutex_unlock(&http->jobs_lock);
    for (unsigned i = 0; i < http->job_thread_count; i++)
        pthread_join(http->job_threads[i], NULL);
    http->job_thread_count = 0;
}

static void free_jobs(sv_http *http)
{
    free(http->job_threads);
    pthread_cond_destroy(&http->jobs_cond);
    pthread_mutex_destroy(&http->jobs_lock);
}

int sv_http_start(sv_context *context, sv_http **out, jl_error *err)
{
    *out = NULL;
    const sv_config *config = context->config;
    struct addrinfo hints, *addresses = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port_text[16];
    snprintf(port_text, sizeof port_text, "%u", (unsigned)config->listen_port);
    int gai = getaddrinfo(config->listen_host, port_text, &hints, &addresses);
    if (gai != 0)
        return jl_error_set(err, JL_EINVAL, "cannot resolve listen address %s: %s",
                            config->listen_host, gai_strerror(gai));
    sv_http *http = calloc(1, sizeof *http);
    if (http == NULL) {
        freeaddrinfo(addresses);
        return jl_error_set(err, JL_ENOMEM, "out of memory starting the server");
    }
    http->context = context;
    atomic_init(&http->open_connections, 0);
    if (start_jobs(http, config->threads) != JL_OK) {
        stop_jobs(http);
        free_jobs(http);
        freeaddrinfo(addresses);
        free(http);
        return jl_error_set(err, JL_ENOMEM, "cannot start the request threads");
    }
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    if (addresses->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    http->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, http, MHD_OPTION_SOCK_ADDR, addresses->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)config->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)config->max_connections + CONNECTION_RESERVE, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, http, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)config->connection_timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY, MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (size_t)READ_INCREMENT,
        MHD_OPTION_END);
    freeaddrinfo(addresses);
    if (http->daemon == NULL) {
        stop_jobs(http);
        free_jobs(http);
        free(http);
        return jl_error_set(err, JL_EIO, "cannot listen on %s:%u (in use, or not allowed)",
                            config->listen_host, (unsigned)config->listen_port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(http->daemon, MHD_DAEMON_INFO_BIND_PORT);
    http->port = info ? info->port : config->listen_port;
    *out = http;
    return JL_OK;
}

void sv_http_stop(sv_http *http)
{
    if (http == NULL)
        return;
    /* Writes already queued are committed and their connections resumed; requests that arrive
     * meanwhile run inline (jobs_stopping), then MHD_stop_daemon closes every connection and the
     * listening socket. libmicrohttpd may close a resumed connection before its answer is sent,
     * but the write is on disk (a client's retry is harmless: the last write of a timestamp
     * wins). No MHD_quiesce_daemon: in 0.9.75 with a thread pool under epoll it races the
     * workers, which drop the listening socket from their epoll sets themselves once they see
     * the daemon quiesced, and the loser aborts the process ("Failed to remove listen FD from
     * epoll set"). */
    stop_jobs(http);
    MHD_stop_daemon(http->daemon);
    free_jobs(http);
    free(http);
}

uint16_t sv_http_port(const sv_http *http)
{
    return http->port;
}
