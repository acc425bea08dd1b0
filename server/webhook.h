/* Webhook notifications (server/webhook.c, prefix wh_): delivers JSON documents to every
 * configured receiver URL (--webhook URL, several allowed) by HTTP POST from a background thread,
 * retrying with exponential backoff while a receiver is down, so that each document reaches each
 * receiver at least once. The notifier keeps nothing on disk: the caller (the alarm evaluator)
 * stores which notifications are pending and offers them again after a restart; on_delivered
 * tells it when a document has reached every receiver.
 *
 * The documents are the caller's: for alarms, Alertmanager's webhook format (version "4",
 * status, alerts[] with labels, annotations, startsAt, endsAt, fingerprint), so existing
 * receivers work; key is the stable identity a receiver can drop repeats by (it is also sent in
 * the header X-Jialing-Notification-Key).
 *
 * Thread-safety: wh_notifier_send() may be called from any thread; callbacks run on the
 * notifier's thread. Errors: JL_OK or a negative JL_* code (common.h), err filled. */
#ifndef JIALING_SERVER_WEBHOOK_H
#define JIALING_SERVER_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "jialing/common.h"

typedef struct wh_notifier wh_notifier;

/* Called once per document when every receiver has answered it with a 2xx; key as given to
 * wh_notifier_send(), valid during the call only. */
typedef void (*wh_delivered_fn)(void *ctx, const char *key);

typedef struct wh_options {
    const char *const *urls;      /* http://host:port/path receivers (https is refused: no TLS) */
    size_t url_count;             /* >= 1 */
    int64_t first_retry_ms;       /* first backoff [1000]; doubles per failure ... */
    int64_t max_retry_ms;         /* ... up to this [30000] */
    int64_t timeout_ms;           /* per POST [5000] */
    size_t max_pending;           /* documents queued at most [100000]; beyond, send refuses */
    wh_delivered_fn on_delivered; /* may be NULL */
    void *ctx;                    /* passed to on_delivered */
} wh_options;

/* Counters for /metrics. */
typedef struct wh_stats {
    uint64_t sent;      /* POSTs answered 2xx */
    uint64_t failed;    /* POSTs that failed (connection, timeout, non-2xx), each retried */
    uint64_t delivered; /* documents delivered to every receiver */
    uint64_t pending;   /* documents not yet delivered everywhere */
} wh_stats;

/* Checks the URLs and starts the notifier's thread; *out is freed with wh_notifier_stop().
 * JL_EINVAL naming a bad URL, JL_ENOMEM. */
int wh_notifier_start(const wh_options *options, wh_notifier **out, jl_error *err);

/* Queues body[0..len) (copied) for every receiver under key (copied, NUL-terminated, at most 256
 * bytes). A key already queued is not queued twice. JL_OK, JL_ELIMIT (max_pending reached),
 * JL_EINVAL (key), JL_ENOMEM. */
int wh_notifier_send(wh_notifier *notifier, const char *key, const char *body, size_t len,
                     jl_error *err);

/* Fills stats; thread-safe. */
void wh_notifier_stats(wh_notifier *notifier, wh_stats *stats);

/* Stops the thread (a POST in flight is given up to its timeout) and frees everything; documents
 * not delivered are dropped (the caller offers them again after a restart). NULL is ignored.
 * (The implementation does not even wait for that timeout: the thread's poll() also watches a
 * pipe that stop writes to, so a POST in flight is abandoned at once.) Must not be called from
 * on_delivered, which runs on the thread it joins. */
void wh_notifier_stop(wh_notifier *notifier);

/* --- Alertmanager documents ---------------------------------------------------------------- */

/* One name/value pair of an alert's labels or annotations; both NUL-terminated UTF-8. */
typedef struct wh_pair {
    const char *name;
    const char *value;
} wh_pair;

/* One alert of an Alertmanager webhook document. Nothing is owned: every pointer is the
 * caller's and only read during wh_alertmanager_json(). */
typedef struct wh_alert {
    const char *status;    /* "firing" or "resolved" */
    const wh_pair *labels; /* names unique (the alert's identity: alertname, series ...) */
    size_t label_count;
    const wh_pair *annotations; /* names unique (summary, description, peak ...) */
    size_t annotation_count;
    int64_t starts_at_ms;      /* epoch ms; 0 = none */
    int64_t ends_at_ms;        /* epoch ms; 0 = none ("0001-01-01T00:00:00Z", as Alertmanager
                                  sends for an alert still firing) */
    const char *generator_url; /* NULL = "" */
    const char *fingerprint;   /* NULL = computed from the labels as Alertmanager does (FNV-1a
                                  64 of the sorted labels, 16 hex digits) */
} wh_alert;

/* Appends to out (not reset first) the Alertmanager webhook document (version "4") of
 * alerts[0..n): groupKey "{}:{alertname=\"...\"}" (the route part is "{}", the root route;
 * the group labels are alertname when every alert has the same one, else none), truncatedAlerts
 * 0, status "firing" when any alert fires else "resolved", receiver (NULL = ""), groupLabels,
 * commonLabels and commonAnnotations (the pairs every alert has with the same value),
 * externalURL (NULL = ""), then alerts[] with status, labels, annotations, startsAt, endsAt
 * (RFC 3339 UTC, milliseconds when not zero), generatorURL and fingerprint. Object members
 * come sorted by name, as Alertmanager (Go) writes maps, so equal input gives equal bytes.
 * JL_OK, JL_EINVAL (n == 0, a status other than firing/resolved, a NULL or repeated name, a
 * time outside JL_MIN_MS..JL_MAX_MS), JL_ENOMEM; out may then hold part of a document. */
int wh_alertmanager_json(const wh_alert *alerts, size_t n, const char *receiver,
                         const char *external_url, jl_buf *out, jl_error *err);

/* Writes the fingerprint Alertmanager gives labels[0..n) (Prometheus' LabelSet.Fingerprint:
 * FNV-1a 64 over the labels sorted by name, each name and value followed by the byte 0xff) as 16
 * lowercase hex digits and a NUL into text[17]. */
void wh_fingerprint(const wh_pair *labels, size_t n, char text[17]);

/* The FNV-1a 64 offset basis, and one step of FNV-1a 64 over len bytes from hash h (start with
 * WH_FNV_OFFSET): the fingerprints here and the notification keys of server/events_http.c. */
#define WH_FNV_OFFSET 14695981039346656037ULL
uint64_t wh_fnv1a(uint64_t h, const void *bytes, size_t len);

#endif
