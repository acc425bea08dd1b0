/* The HTTP server: configuration, the route table that turns a request into a call of query/ or
 * storage/, and the libmicrohttpd front end. Routing works on plain structs (sv_request,
 * sv_response) so it is tested without sockets; only server/http.c knows libmicrohttpd.
 *
 * Caveats: sv_route() may block while a write commits; call it from a worker thread. */
#ifndef JIALING_SERVER_H
#define JIALING_SERVER_H

#include <stdatomic.h>

#include "jialing/auth.h"
#include "jialing/common.h"
#include "jialing/query.h"
#include "jialing/request.h"
#include "jialing/serieskey.h"
#include "jialing/store.h"

/* The InfluxDB version the server reports (X-Influxdb-Version, /ping), for InfluxDB clients: the
 * 1.x HTTP API that /write, /query and /ping follow. */
#define SV_INFLUXDB_VERSION "1.8.10-jialing"

/* --retention-metric rules at most. */
#define SV_MAX_RETENTION_RULES 64

/* Server settings; sv_config_defaults() fills every field. */
typedef struct sv_config {
    const char *data_directory;    /* --data [./data] */
    char listen_host[256];         /* --listen host part [127.0.0.1] */
    uint16_t listen_port;          /* --listen port part [8470] */
    const char *tokens_path;       /* --tokens FILE [none] */
    int private_reads;             /* --private-reads: reads need a token too */
    int public_page;               /* --public: /public and its JSON stay open with private reads */
    int sync_full;                 /* --sync=full (1, default) or none (0) */
    int load_demo;                 /* --demo: load the demo data set when the store is empty */
    size_t max_body_bytes;         /* --max-body-bytes [64 MiB] */
    unsigned threads;              /* --threads: HTTP worker threads [8] */
    unsigned max_connections;      /* --max-connections [512] */
    unsigned connection_timeout_s; /* --connection-timeout seconds [30] */
    qx_limits limits;              /* --max-series, --max-rows, --max-windows, --query-timeout */
    uint64_t initial_map_bytes;    /* --map-size [1 GiB] */
    const char *backup_directory;  /* --backup-dir DIR for POST /api/v1/backup [none: disabled] */
    /* sites (jialing/sites.h): the file, and the set main loads from it at start and re-reads on
     * SIGHUP; handlers take the current set with si_registry_acquire(). */
    const char *sites_path;    /* --sites FILE [none] */
    struct si_registry *sites; /* set by main when sites_path is given, else NULL */
    /* retention (README.md "Retention"): handed to st_options by main. A month is the
     * mean Gregorian month (30.436875 days), so 1y is 365.2425 days. */
    int64_t retention_ms; /* --retention DUR; 0: keep forever [0] */
    st_retention_rule retention_rules[SV_MAX_RETENTION_RULES]; /* --retention-metric NAME=DUR,
                                                                  repeated; NAME=0 keeps forever */
    char retention_metrics[SV_MAX_RETENTION_RULES][SK_MAX_NAME_BYTES + 1]; /* their names */
    size_t retention_rule_count;
    /* station health (GET /api/v1/stations, jialing/health.h) */
    int64_t offline_after_ms; /* --offline-after DURATION [0: three times each series' cadence] */
    /* HJ 212 listener (server/hj212_listener.c); off unless --hj212 is given */
    int hj212_enabled;               /* --hj212 HOST:PORT given */
    char hj212_host[256];            /* --hj212 host part */
    uint16_t hj212_port;             /* --hj212 port part (0: any free port) */
    unsigned hj212_max_connections;  /* --hj212-max-connections [4096] */
    unsigned hj212_idle_timeout_s;   /* --hj212-idle-timeout seconds without a good frame [600] */
    size_t hj212_max_reply_bytes;    /* --hj212-max-reply-bytes queued per connection [65536] */
    int64_t hj212_utc_offset_ms;     /* --hj212-tz: the loggers' DataTime zone [+08:00] */
    const char *hj212_stations_path; /* --hj212-stations FILE: MN PW [tag=value ...] [none] */
    const char *hj212_codes_path;    /* --hj212-codes FILE: code metric overrides [none] */
    unsigned hj212_split_timeout_s;  /* --hj212-split-timeout: PNUM/PNO parts wait at most [120] */
    /* alarms (jialing/alarm.h, server/events_http.h): the rules file (re-read on SIGHUP), the
     * webhook receivers, and what main starts from them; GET /api/v1/events reads the store. */
    const char *rules_path;       /* --rules FILE [none: no evaluation] */
    const char *webhook_urls[16]; /* --webhook URL, up to 16 */
    size_t webhook_count;
    struct al_evaluator *alarms;  /* set by main when rules_path is given, else NULL */
    struct wh_notifier *notifier; /* set by main when webhook_count > 0, else NULL */
} sv_config;

/* Returns the usage text listing every flag (static). */
const char *sv_config_usage(void);

/* Fills config with the defaults. */
void sv_config_defaults(sv_config *config);

/* Parses command-line flags into config (defaults first). Returns JL_OK, JL_EINVAL with a
 * message naming the flag, or JL_ENOTFOUND when --help was asked. */
int sv_config_parse(sv_config *config, int argc, char **argv, jl_error *err);

/* Routes, for self-metrics. */
typedef enum sv_route_id {
    SV_ROUTE_WRITE = 0,
    SV_ROUTE_QUERY,
    SV_ROUTE_SCAN,
    SV_ROUTE_LATEST,
    SV_ROUTE_SERIES,
    SV_ROUTE_HEALTH,
    SV_ROUTE_METRICS,
    SV_ROUTE_BACKUP,
    SV_ROUTE_DISCOVERY,  /* /api/v1/metrics, /api/v1/tags */
    SV_ROUTE_INFLUX,     /* /query, /ping (server/influx.c) */
    SV_ROUTE_WEB,        /* the console's and public page's built-in assets */
    SV_ROUTE_PUBLIC,     /* GET /api/v1/public/latest */
    SV_ROUTE_REVIEW,     /* /api/v1/review: review marks (server/review_http.c) */
    SV_ROUTE_AQI,        /* GET /api/v1/aqi (server/aqi_http.c) */
    SV_ROUTE_WATER,      /* GET /api/v1/water_quality (server/water_http.c) */
    SV_ROUTE_ASSESSMENT, /* GET /api/v1/assessment (server/water_http.c) */
    SV_ROUTE_SITES,      /* GET /api/v1/sites (server/water_http.c) */
    SV_ROUTE_STATIONS,   /* GET /api/v1/stations: station health (server/stations_http.c) */
    SV_ROUTE_EVENTS,     /* GET /api/v1/events: alarm events (server/events_http.c) */
    SV_ROUTE_OTHER,
    SV_ROUTE_COUNT
} sv_route_id;

/* Self-metrics exported at /metrics; updated with atomics from every worker thread. */
typedef struct sv_metrics {
    atomic_ullong requests[SV_ROUTE_COUNT];       /* requests answered */
    atomic_ullong errors[SV_ROUTE_COUNT];         /* of which with status >= 400 */
    atomic_ullong latency_us_sum[SV_ROUTE_COUNT]; /* total handling time, microseconds */
    atomic_ullong points_ingested;                /* points acknowledged */
    atomic_ullong rejected_requests;              /* writes refused with 4xx */
    /* Sealed chunks read by queries and scans, by how (qx_query_stats). */
    atomic_ullong chunks_from_summary, chunks_from_segments, chunks_decoded, readings_decoded;
    /* HJ 212 listener (server/hj212_listener.c), exported as jialing_hj212_* */
    atomic_ullong hj212_connections_open;      /* gauge */
    atomic_ullong hj212_connections_accepted;  /* connections taken */
    atomic_ullong hj212_connections_refused;   /* over --hj212-max-connections, or no memory/fd */
    atomic_ullong hj212_closed_idle;           /* no good frame within --hj212-idle-timeout */
    atomic_ullong hj212_closed_write_failed;   /* sending a reply failed */
    atomic_ullong hj212_closed_reply_overflow; /* replies queued over --hj212-max-reply-bytes */
    atomic_ullong hj212_frames_good;           /* frames with a good CRC */
    atomic_ullong hj212_frames_bad_length, hj212_frames_bad_crc, hj212_frames_too_long;
    atomic_ullong hj212_garbage_bytes;  /* bytes outside any frame */
    atomic_ullong hj212_unparseable;    /* good frames whose data segment does not parse */
    atomic_ullong hj212_unmapped;       /* data messages hj_segment_to_batch refused */
    atomic_ullong hj212_messages_other; /* non-data CNs accepted and not stored */
    atomic_ullong hj212_messages_stored, hj212_readings_stored; /* committed */
    atomic_ullong hj212_replies_sent;    /* 9014 replies queued to their connection */
    atomic_ullong hj212_commit_failures; /* data messages whose commit failed (no reply) */
    atomic_ullong hj212_unknown_station, hj212_wrong_password; /* with --hj212-stations */
    atomic_ullong hj212_split_completed, hj212_split_expired, hj212_split_refused; /* PNUM/PNO */
} sv_metrics;

/* Everything a request handler needs; owned by main. */
typedef struct sv_context {
    st_store *store;
    const sv_config *config;
    au_tokens *tokens;  /* NULL when no token file is configured */
    sv_metrics metrics; /* self-metrics */
    /* The public page's shared answer (jialing/public.h); NULL: built afresh for every request. */
    struct pb_cache *public_cache;
} sv_context;

/* One query-string parameter, decoded: the request parsers' own type, so a request's parameters
 * are handed to them as they are. */
typedef rq_param sv_param;

#define SV_MAX_PARAMS 64

/* An HTTP request as the router sees it; all pointers borrowed for the call. */
typedef struct sv_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* without the query string */
    sv_param params[SV_MAX_PARAMS];
    size_t param_count;
    const char *content_type;  /* NULL if absent */
    const char *authorization; /* NULL if absent */
    const char *accept;        /* NULL if absent */
    const char *if_none_match; /* NULL if absent */
    int64_t content_length;    /* declared Content-Length, -1 when absent */
    const char *body;          /* request body (may be NULL when empty) */
    size_t body_len;
    int body_too_large; /* the body exceeded max_body_bytes and was dropped */
} sv_request;

/* The answer: status, content type and a body the router filled. */
typedef struct sv_response {
    int status;
    const char *content_type;  /* static string */
    jl_buf body;               /* owned; jl_buf_destroy() after sending */
    int body_fd;               /* -1, or an unlinked temporary file holding the whole body (owned:
                                  close after sending); large answers are spooled there */
    uint64_t body_fd_bytes;    /* bytes in body_fd */
    const char *allow;         /* Allow header for 405, static string or NULL */
    const void *static_body;   /* when set, sent instead of body: static data, never freed */
    size_t static_body_bytes;  /* bytes at static_body */
    const char *cache_control; /* Cache-Control header, static string or NULL */
    char etag[40];             /* ETag header with its quotes, "" for none */
} sv_response;

/* Prepares an empty response (status 500 until routed, no body). */
void sv_response_init(sv_response *response);

/* Frees what the response owns (buffer, spool file). */
void sv_response_destroy(sv_response *response);

/* Routes the request and fills response (prepared with sv_response_init). Never fails: every
 * error becomes a status and a JSON {"error": "..."} body. */
void sv_route(sv_context *context, const sv_request *request, sv_response *response);

/* Checks, from the request line and headers alone, that the request may go on (known route and
 * method, token, declared body size). Returns 1, or 0 with a 4xx response filled: the server
 * answers before reading a body it would refuse. */
int sv_route_admit(sv_context *context, const sv_request *request, sv_response *response);

/* Returns the HTTP status a client gets for a JL_* code: JL_STATUS_OK for JL_OK, the status of
 * the code's row in JL_ERROR_TABLE (jialing/errors.h), JL_STATUS_UNKNOWN (500) for any other. */
int sv_status_for(int code);

/* Answers with the status of code (sv_status_for) and the JSON body {"error": message}, dropping
 * any body written or spooled so far; message is copied. The one way every handler refuses. */
void sv_respond_error(sv_response *response, int code, const char *message);

/* Answers with a failed call's error: sv_respond_error() with err's message, or code's text
 * (jl_strerror) when the call left none. */
void sv_respond_failure(sv_response *response, int code, const jl_error *err);

/* Marks response a success (JL_STATUS_OK) with content_type (static string); the body is the
 * caller's. */
void sv_respond_ok(sv_response *response, const char *content_type);

/* Hands the rows of a computed result to emit(result, sink), whose sink writes them into
 * response->body (emptied first) in format (an fm_format, jialing/format.h), for endpoints that
 * compute their whole answer before writing it (water_quality, stations, events). The sink is
 * fm_writer_sink()'s, its context the fm_writer, so emit may also write fm_writer_text_row()
 * rows (events: the rule's name). (The AQI writes its own document: text cells amid its rows and
 * keys beside each series' values.) Returns JL_OK
 * with the body complete (the caller may still append to a JSON document, then calls
 * sv_respond_ok()), or the code of emit or of the writer, the body then partial. */
int sv_write_result(sv_response *response, int format,
                    int (*emit)(const void *result, const qx_sink *sink), const void *result);

/* The parameters every request parser reads (jialing/request.h): the request's parameters, the
 * current time, the format of the Accept header (JSON when it names none), the server's format=
 * parser and the configured limits. Borrows request for as long as the result is used. */
rq_input sv_request_input(sv_context *context, const sv_request *request);

/* Returns the first value of parameter key, or NULL (borrowed from request). */
const char *sv_param_get(const sv_request *request, const char *key);

typedef struct sv_http sv_http;

/* Starts the libmicrohttpd daemon serving context; JL_OK or JL_EIO with a message. */
int sv_http_start(sv_context *context, sv_http **out, jl_error *err);

/* Stops accepting, waits for requests in flight, frees the daemon. NULL is ignored. */
void sv_http_stop(sv_http *http);

/* Returns the port actually bound (useful with port 0). */
uint16_t sv_http_port(const sv_http *http);

#endif
