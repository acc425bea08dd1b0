/* The webhook notifier of webhook.h and the Alertmanager document builder.
 *
 * One thread drives every receiver at once: each receiver has at most one POST in flight on a
 * non-blocking socket, and one poll() waits on all of them plus a wake pipe (written by
 * wh_notifier_send() and wh_notifier_stop()), so a receiver that is down, slow or silent never
 * holds up another, and stop interrupts a POST in flight at once instead of waiting for its
 * timeout. (A condition variable cannot wait on sockets; the pipe is its equivalent here, and
 * every poll() is bounded so no wait is long.)
 *
 * Queue: documents in arrival order, a singly linked list. Each receiver delivers them in that
 * order and keeps a cursor on the first one it has not delivered, so what a receiver has
 * delivered is always a prefix of the queue; a document is done when every receiver is past it,
 * which makes the done documents a prefix too: they are popped from the head. A receiver that
 * fails waits its backoff (first_retry_ms doubling to max_retry_ms) and then retries the same
 * document; the others keep going. Keys are found by a chained hash table, for the dedup of
 * wh_notifier_send().
 *
 * The HTTP is the minimum a webhook needs: one connection per POST ("Connection: close"), the
 * status line decides (2xx = delivered), the rest of the response is read and dropped so the
 * receiver sees an orderly close. server/httpclient.c is not used: it belongs to the CLI side of
 * the Makefile, takes no path in its URLs, and connects blocking with its own 60 s limit. */
#include "webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "jialing/format.h"

#define WH_KEY_MAX 256
#define WH_HOST_MAX 256
#define WH_HEAD_MAX 16384   /* response status line and headers kept at most */
#define WH_POLL_MAX_MS 1000 /* longest single wait, whatever is pending */

typedef struct wh_doc {
    struct wh_doc *next;  /* queue order */
    struct wh_doc *hnext; /* hash chain */
    uint64_t hash;
    size_t remaining; /* receivers that have not answered it with a 2xx */
    char *key;
    char *body;
    size_t len;
} wh_doc;

enum { PHASE_IDLE, PHASE_CONNECTING, PHASE_SENDING, PHASE_READING };

typedef struct wh_receiver {
    char *url;              /* as given, for messages */
    char host[WH_HOST_MAX]; /* for getaddrinfo: brackets of an IPv6 literal removed */
    char port[8];
    char *authority; /* Host header: host[:port] as written in the URL */
    char *path;      /* request target, starts with '/' */
    /* Shared with wh_notifier_send() (under the lock): */
    wh_doc *cursor; /* first document not delivered here; NULL: all delivered */
    /* The thread's own: */
    int64_t next_attempt_ms; /* monotonic; no POST before */
    int64_t backoff_ms;      /* wait after the next failure */
    int phase;
    int fd;                 /* -1 when idle */
    int64_t deadline_ms;    /* monotonic end of the POST in flight */
    struct addrinfo *addrs; /* resolved for the POST in flight */
    struct addrinfo *addr;  /* the one being connected */
    wh_doc *doc;            /* the POST in flight's document (== cursor meanwhile) */
    jl_buf out;             /* request bytes */
    size_t out_done;
    jl_buf in;           /* response head bytes */
    int status;          /* > 0 once the status line and headers are in */
    long long body_left; /* Content-Length still to drain; -1: until close */
} wh_receiver;

struct wh_notifier {
    wh_options opt;
    wh_receiver *receivers;
    size_t receiver_count;
    pthread_mutex_t lock;
    pthread_t thread;
    int wake[2]; /* pipe: [0] polled by the thread, [1] written to wake it */
    int stopping;
    wh_doc *head, *tail;
    wh_doc **buckets;
    size_t bucket_mask;
    wh_stats stats;
    struct pollfd *fds; /* the thread's poll set: the pipe, then the POSTs in flight */
    size_t *who;        /* fds[j] is receivers[who[j]]'s socket */
};

static int64_t now_ms(void)
{
    return jl_monotonic_ns() / 1000000;
}

uint64_t wh_fnv1a(uint64_t h, const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- URLs ---------------------------------------------------------------------------------- */

/* Parses "http://host[:port][/path][?query]" into r. JL_OK, JL_EINVAL naming the URL, JL_ENOMEM. */
static int parse_url(const char *url, wh_receiver *r, jl_error *err)
{
    if (url == NULL)
        return jl_error_set(err, JL_EINVAL, "webhook URL missing");
    if (strncasecmp(url, "https://", 8) == 0)
        return jl_error_set(err, JL_EINVAL, "webhook URL '%s': https is not supported (no TLS)",
                            url);
    if (strncasecmp(url, "http://", 7) != 0)
        return jl_error_set(err, JL_EINVAL, "webhook URL '%s' does not start with http://", url);
    for (const char *c = url; *c != '\0'; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return jl_error_set(err, JL_EINVAL,
                                "webhook URL '%s' holds a space or control character", url);
    const char *auth = url + 7;
    size_t auth_len = strcspn(auth, "/?#");
    const char *rest = auth + auth_len;
    if (memchr(auth, '@', auth_len) != NULL)
        return jl_error_set(err, JL_EINVAL, "webhook URL '%s': user information is not supported",
                            url);
    const char *host = auth;
    size_t host_len;
    const char *after;
    if (auth_len > 0 && auth[0] == '[') {
        const char *close = memchr(auth, ']', auth_len);
        if (close == NULL)
            return jl_error_set(err, JL_EINVAL, "webhook URL '%s': unterminated IPv6 address", url);
        host = auth + 1;
        host_len = (size_t)(close - host);
        after = close + 1;
    } else {
        const char *colon = memchr(auth, ':', auth_len);
        host_len = colon != NULL ? (size_t)(colon - auth) : auth_len;
        after = auth + host_len;
    }
    if (host_len == 0)
        return jl_error_set(err, JL_EINVAL, "webhook URL '%s' has no host", url);
    if (host_len >= sizeof r->host)
        return jl_error_set(err, JL_EINVAL, "webhook URL '%s': host too long", url);
    memcpy(r->host, host, host_len);
    r->host[host_len] = '\0';
    long port = 80;
    if (after < rest) {
        if (*after != ':' || after + 1 == rest || rest - after > 6)
            return jl_error_set(err, JL_EINVAL, "webhook URL '%s': bad port", url);
        port = 0;
        for (const char *c = after + 1; c < rest; c++) {
            if (*c < '0' || *c > '9')
                return jl_error_set(err, JL_EINVAL, "webhook URL '%s': bad port", url);
            port = port * 10 + (*c - '0');
        }
        if (port < 1 || port > 65535)
            return jl_error_set(err, JL_EINVAL, "webhook URL '%s': bad port", url);
    }
    snprintf(r->port, sizeof r->port, "%ld", port);
    size_t path_len = strcspn(rest, "#"); /* a fragment is never sent */
    int slash = path_len == 0 || rest[0] != '/';
    r->url = strdup(url);
    r->authority = strndup(auth, auth_len);
    r->path = malloc(path_len + 2);
    if (r->url == NULL || r->authority == NULL || r->path == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    if (slash)
        r->path[0] = '/';
    memcpy(r->path + slash, rest, path_len);
    r->path[slash + path_len] = '\0';
    return JL_OK;
}

/* ---- one POST, driven by poll() ------------------------------------------------------------ */

static void post_close(wh_receiver *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    if (r->addrs != NULL)
        freeaddrinfo(r->addrs);
    r->addrs = NULL;
    r->addr = NULL;
    r->phase = PHASE_IDLE;
    r->doc = NULL;
    r->out.len = 0;
    r->out_done = 0;
    r->in.len = 0;
    r->status = 0;
    r->body_left = -1;
}

/* Starts connecting to r->addr and the ones after it. Returns 1 when a connect is under way or
 * done (phase set), 0 when every address failed at once. */
static int connect_next(wh_receiver *r)
{
    for (; r->addr != NULL; r->addr = r->addr->ai_next) {
        struct addrinfo *ai = r->addr;
        if (r->fd >= 0)
            close(r->fd);
        r->fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (r->fd < 0)
            continue;
        int one = 1;
        setsockopt(r->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(r->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            r->phase = PHASE_SENDING;
            return 1;
        }
        if (errno == EINPROGRESS) {
            r->phase = PHASE_CONNECTING;
            return 1;
        }
    }
    return 0;
}

/* Begins the POST of doc to r (request built from doc, which stays queued while in flight).
 * Returns 1 when under way, 0 when it failed already (resolution, no address connectable). */
static int post_begin(wh_notifier *n, wh_receiver *r, wh_doc *doc)
{
    post_close(r);
    r->doc = doc;
    r->deadline_ms = now_ms() + n->opt.timeout_ms;
    if (jl_buf_printf(&r->out,
                      "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: jialing\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                      "X-Jialing-Notification-Key: %s\r\nConnection: close\r\n\r\n",
                      r->path, r->authority, doc->len, doc->key) != JL_OK ||
        jl_buf_append(&r->out, doc->body, doc->len) != JL_OK)
        return 0;
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    /* Blocking, but only for names that need a resolver; receivers are usually addresses or
     * names in /etc/hosts. */
    if (getaddrinfo(r->host, r->port, &hints, &r->addrs) != 0) {
        r->addrs = NULL;
        return 0;
    }
    r->addr = r->addrs;
    return connect_next(r);
}

/* Parses the response head in r->in once complete: sets r->status and r->body_left and keeps
 * any body bytes already read counted. Returns 1 when the head is complete, 0 when more is
 * needed, -1 when malformed. */
static int parse_head(wh_receiver *r)
{
    char *data = r->in.data;
    char *end = memmem(data, r->in.len, "\r\n\r\n", 4);
    if (end == NULL)
        return r->in.len >= WH_HEAD_MAX ? -1 : 0;
    size_t head_len = (size_t)(end - data) + 4;
    if (head_len < 12 || strncmp(data, "HTTP/1.", 7) != 0 || data[8] != ' ' || data[9] < '1' ||
        data[9] > '5' || data[10] < '0' || data[10] > '9' || data[11] < '0' || data[11] > '9')
        return -1;
    int status = (data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0');
    long long length = -1;
    for (char *line = memchr(data, '\n', head_len); line != NULL && line < end;
         line = memchr(line, '\n', (size_t)(end - line))) {
        line++;
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            char *c = line + 15;
            while (*c == ' ' || *c == '\t')
                c++;
            length = 0;
            while (*c >= '0' && *c <= '9' && length < (1LL << 50))
                length = length * 10 + (*c++ - '0');
        }
    }
    if (status >= 100 && status < 200) {
        /* An interim response (100 Continue): the real one follows. */
        memmove(data, data + head_len, r->in.len - head_len);
        r->in.len -= head_len;
        return parse_head(r);
    }
    r->status = status;
    r->body_left = status == 204 || status == 304 ? 0 : length; /* these never carry a body */
    if (r->body_left >= 0) {
        long long extra = (long long)(r->in.len - head_len);
        r->body_left = extra >= r->body_left ? 0 : r->body_left - extra;
    }
    r->in.len = 0;
    return 1;
}

enum { STEP_MORE, STEP_DONE, STEP_FAILED };

/* Advances r's POST after poll() reported revents (0 when only checking the deadline). Returns
 * STEP_MORE (keep polling), STEP_DONE (r->status is the answer) or STEP_FAILED. */
static int post_step(wh_receiver *r, short revents, int64_t now)
{
    if (r->phase == PHASE_CONNECTING) {
        if (revents == 0)
            return now >= r->deadline_ms ? STEP_FAILED : STEP_MORE;
        int so_error = 0;
        socklen_t so_len = sizeof so_error;
        if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) != 0 || so_error != 0) {
            /* Refused on this address: the next one (IPv4 after IPv6 for "localhost"). */
            r->addr = r->addr->ai_next;
            if (!connect_next(r))
                return STEP_FAILED;
            return STEP_MORE;
        }
        r->phase = PHASE_SENDING;
        revents = POLLOUT;
    }
    if (r->phase == PHASE_SENDING) {
        while (r->out_done < r->out.len) {
            ssize_t sent =
                send(r->fd, r->out.data + r->out_done, r->out.len - r->out_done, MSG_NOSIGNAL);
            if (sent > 0) {
                r->out_done += (size_t)sent;
                continue;
            }
            if (sent < 0 && errno == EINTR)
                continue;
            if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return now >= r->deadline_ms ? STEP_FAILED : STEP_MORE;
            return STEP_FAILED;
        }
        r->phase = PHASE_READING;
    }
    /* PHASE_READING: the head, then the body drained until its length or the close. */
    for (;;) {
        char buf[4096];
        ssize_t got = recv(r->fd, buf, sizeof buf, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (now < r->deadline_ms)
                return STEP_MORE;
            /* Out of time: an answer already in counts, the unread body does not matter. */
            return r->status > 0 ? STEP_DONE : STEP_FAILED;
        }
        if (got <= 0)
            return r->status > 0 ? STEP_DONE : STEP_FAILED;
        if (r->status > 0) {
            if (r->body_left >= 0) {
                r->body_left -= got;
                if (r->body_left <= 0)
                    return STEP_DONE;
            }
            continue;
        }
        if (jl_buf_append(&r->in, buf, (size_t)got) != JL_OK)
            return STEP_FAILED;
        int head = parse_head(r);
        if (head < 0)
            return STEP_FAILED;
        if (head > 0 && r->body_left == 0)
            return STEP_DONE;
    }
}

/* ---- the thread ---------------------------------------------------------------------------- */

static void doc_free(wh_doc *doc)
{
    free(doc->key);
    free(doc->body);
    free(doc);
}

static void hash_remove(wh_notifier *n, wh_doc *doc)
{
    wh_doc **p = &n->buckets[doc->hash & n->bucket_mask];
    while (*p != doc)
        p = &(*p)->hnext;
    *p = doc->hnext;
}

/* Records the outcome of r's POST (under the lock). */
static void post_finish(wh_notifier *n, wh_receiver *r, int ok, int64_t now)
{
    if (ok) {
        n->stats.sent++;
        r->doc->remaining--;
        r->cursor = r->doc->next;
        r->backoff_ms = n->opt.first_retry_ms;
        r->next_attempt_ms = now;
    } else {
        n->stats.failed++;
        r->next_attempt_ms = now + r->backoff_ms;
        r->backoff_ms =
            r->backoff_ms > n->opt.max_retry_ms / 2 ? n->opt.max_retry_ms : r->backoff_ms * 2;
    }
    post_close(r);
}

static void *thread_main(void *arg)
{
    wh_notifier *n = arg;
    size_t count = n->receiver_count;
    struct pollfd *fds = n->fds;
    size_t *who = n->who;
    size_t rotate = 0; /* which receiver starts first, so none is always last */

    pthread_mutex_lock(&n->lock);
    while (!n->stopping) {
        int64_t now = now_ms();
        for (size_t k = 0; k < count; k++) {
            wh_receiver *r = &n->receivers[(rotate + k) % count];
            if (r->phase != PHASE_IDLE || r->cursor == NULL || now < r->next_attempt_ms)
                continue;
            /* Unlocked: resolving a name may block, and send() must not wait for it. The
             * document stays queued (r is not past it) and is not changed meanwhile. */
            wh_doc *doc = r->cursor;
            pthread_mutex_unlock(&n->lock);
            int begun = post_begin(n, r, doc);
            pthread_mutex_lock(&n->lock);
            if (!begun)
                post_finish(n, r, 0, now);
        }
        rotate++;

        /* The wait: until a socket moves, a deadline or retry comes, or the pipe wakes us. */
        int64_t until = now + WH_POLL_MAX_MS;
        nfds_t nfds = 0;
        fds[nfds].fd = n->wake[0];
        fds[nfds].events = POLLIN;
        nfds++;
        for (size_t i = 0; i < count; i++) {
            wh_receiver *r = &n->receivers[i];
            if (r->phase != PHASE_IDLE) {
                fds[nfds].fd = r->fd;
                fds[nfds].events = r->phase == PHASE_READING ? POLLIN : POLLOUT;
                fds[nfds].revents = 0;
                who[nfds] = i;
                nfds++;
                if (r->deadline_ms < until)
                    until = r->deadline_ms;
            } else if (r->cursor != NULL && r->next_attempt_ms < until) {
                until = r->next_attempt_ms;
            }
        }
        pthread_mutex_unlock(&n->lock);
        int wait = until > now ? (int)(until - now) : 0;
        fds[0].revents = 0;
        int ready = poll(fds, nfds, wait);
        if (ready > 0 && (fds[0].revents & POLLIN)) {
            char drain[64];
            while (read(n->wake[0], drain, sizeof drain) > 0)
                ;
        }
        pthread_mutex_lock(&n->lock);
        if (n->stopping)
            break;

        /* The sockets: progress, or past their deadline. */
        now = now_ms();
        for (nfds_t j = 1; j < nfds; j++) {
            wh_receiver *r = &n->receivers[who[j]];
            short revents = fds[j].revents;
            if (revents & (POLLERR | POLLHUP))
                revents |= r->phase == PHASE_READING ? POLLIN : POLLOUT;
            int step = post_step(r, revents, now);
            if (step == STEP_MORE)
                continue;
            post_finish(n, r, step == STEP_DONE && r->status >= 200 && r->status < 300, now);
        }

        /* Documents every receiver is past, oldest first; their callbacks outside the lock so
         * that on_delivered may call wh_notifier_send(). */
        wh_doc *done = NULL, **done_tail = &done;
        while (n->head != NULL && n->head->remaining == 0) {
            wh_doc *doc = n->head;
            n->head = doc->next;
            if (n->head == NULL)
                n->tail = NULL;
            hash_remove(n, doc);
            n->stats.delivered++;
            n->stats.pending--;
            doc->next = NULL;
            *done_tail = doc;
            done_tail = &doc->next;
        }
        if (done != NULL) {
            pthread_mutex_unlock(&n->lock);
            while (done != NULL) {
                wh_doc *doc = done;
                done = doc->next;
                if (n->opt.on_delivered != NULL)
                    n->opt.on_delivered(n->opt.ctx, doc->key);
                doc_free(doc);
            }
            pthread_mutex_lock(&n->lock);
        }
    }
    pthread_mutex_unlock(&n->lock);
    return NULL;
}

/* ---- the interface ------------------------------------------------------------------------- */

static void notifier_free(wh_notifier *n)
{
    for (size_t i = 0; i < n->receiver_count; i++) {
        wh_receiver *r = &n->receivers[i];
        post_close(r);
        jl_buf_destroy(&r->out);
        jl_buf_destroy(&r->in);
        free(r->url);
        free(r->authority);
        free(r->path);
    }
    free(n->receivers);
    for (wh_doc *doc = n->head; doc != NULL;) {
        wh_doc *next = doc->next;
        doc_free(doc);
        doc = next;
    }
    free(n->buckets);
    free(n->fds);
    free(n->who);
    if (n->wake[0] >= 0)
        close(n->wake[0]);
    if (n->wake[1] >= 0)
        close(n->wake[1]);
    pthread_mutex_destroy(&n->lock);
    free(n);
}

int wh_notifier_start(const wh_options *options, wh_notifier **out, jl_error *err)
{
    *out = NULL;
    if (options == NULL || options->urls == NULL || options->url_count == 0)
        return jl_error_set(err, JL_EINVAL, "no webhook URL given");
    wh_notifier *n = calloc(1, sizeof *n);
    if (n == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    n->opt = *options;
    n->wake[0] = n->wake[1] = -1;
    pthread_mutex_init(&n->lock, NULL);
    if (n->opt.first_retry_ms <= 0)
        n->opt.first_retry_ms = 1000;
    if (n->opt.max_retry_ms <= 0)
        n->opt.max_retry_ms = 30000;
    if (n->opt.max_retry_ms < n->opt.first_retry_ms)
        n->opt.max_retry_ms = n->opt.first_retry_ms;
    if (n->opt.timeout_ms <= 0)
        n->opt.timeout_ms = 5000;
    if (n->opt.timeout_ms > INT32_MAX / 2)
        n->opt.timeout_ms = INT32_MAX / 2;
    if (n->opt.max_pending == 0)
        n->opt.max_pending = 100000;
    n->opt.urls = NULL; /* the caller's array need not outlive this call */

    int rc = JL_OK;
    n->receivers = calloc(options->url_count, sizeof *n->receivers);
    if (n->receivers == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory");
        goto fail;
    }
    n->receiver_count = options->url_count;
    for (size_t i = 0; i < n->receiver_count; i++) {
        wh_receiver *r = &n->receivers[i];
        r->fd = -1;
        r->body_left = -1;
        r->backoff_ms = n->opt.first_retry_ms;
        jl_buf_init(&r->out);
        jl_buf_init(&r->in);
    }
    for (size_t i = 0; i < n->receiver_count; i++) {
        rc = parse_url(options->urls[i], &n->receivers[i], err);
        if (rc != JL_OK)
            goto fail;
    }
    /* About four documents per chain at max_pending, at most 2^16 chains. */
    size_t buckets = 64;
    while (buckets < n->opt.max_pending / 4 && buckets < 65536)
        buckets *= 2;
    n->buckets = calloc(buckets, sizeof *n->buckets);
    if (n->buckets == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory");
        goto fail;
    }
    n->bucket_mask = buckets - 1;
    n->fds = calloc(n->receiver_count + 1, sizeof *n->fds);
    n->who = calloc(n->receiver_count + 1, sizeof *n->who);
    if (n->fds == NULL || n->who == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory");
        goto fail;
    }
    if (pipe2(n->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        n->wake[0] = n->wake[1] = -1;
        rc = jl_error_set(err, JL_EIO, "cannot create the notifier's pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&n->thread, NULL, thread_main, n) != 0) {
        rc = jl_error_set(err, JL_ENOMEM, "cannot start the notifier's thread");
        goto fail;
    }
    *out = n;
    return JL_OK;
fail:
    notifier_free(n);
    return rc;
}

static void wake(wh_notifier *n)
{
    /* A full pipe already means a wake-up is pending. */
    ssize_t ignored = write(n->wake[1], "x", 1);
    (void)ignored;
}

int wh_notifier_send(wh_notifier *n, const char *key, const char *body, size_t len, jl_error *err)
{
    if (n == NULL || key == NULL || (body == NULL && len > 0))
        return jl_error_set(err, JL_EINVAL, "bad arguments to wh_notifier_send");
    size_t key_len = strlen(key);
    if (key_len == 0 || key_len > WH_KEY_MAX)
        return jl_error_set(err, JL_EINVAL, "notification key must have 1 to %d bytes", WH_KEY_MAX);
    /* It travels in a header: no control characters, and no spaces at its ends, which a
     * receiver would strip. */
    if (key[0] == ' ' || key[key_len - 1] == ' ')
        return jl_error_set(err, JL_EINVAL, "notification key starts or ends with a space");
    for (size_t i = 0; i < key_len; i++)
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
            return jl_error_set(err, JL_EINVAL, "notification key holds a control character");
    uint64_t hash = wh_fnv1a(WH_FNV_OFFSET, key, key_len);

    pthread_mutex_lock(&n->lock);
    for (wh_doc *d = n->buckets[hash & n->bucket_mask]; d != NULL; d = d->hnext)
        if (d->hash == hash && strcmp(d->key, key) == 0) {
            pthread_mutex_unlock(&n->lock);
            return JL_OK;
        }
    if (n->stats.pending >= n->opt.max_pending) {
        pthread_mutex_unlock(&n->lock);
        return jl_error_set(err, JL_ELIMIT, "%zu webhook notifications are already pending",
                            n->opt.max_pending);
    }
    pthread_mutex_unlock(&n->lock);

    /* Copies made outside the lock; the key is looked up again below. */
    wh_doc *doc = calloc(1, sizeof *doc);
    if (doc != NULL) {
        doc->key = strdup(key);
        doc->body = malloc(len + 1);
    }
    if (doc == NULL || doc->key == NULL || doc->body == NULL) {
        if (doc != NULL)
            doc_free(doc);
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    }
    if (len > 0)
        memcpy(doc->body, body, len);
    doc->body[len] = '\0';
    doc->len = len;
    doc->hash = hash;
    doc->remaining = n->receiver_count;

    pthread_mutex_lock(&n->lock);
    wh_doc **bucket = &n->buckets[hash & n->bucket_mask];
    for (wh_doc *d = *bucket; d != NULL; d = d->hnext)
        if (d->hash == hash && strcmp(d->key, key) == 0) {
            pthread_mutex_unlock(&n->lock);
            doc_free(doc);
            return JL_OK;
        }
    if (n->stats.pending >= n->opt.max_pending) {
        pthread_mutex_unlock(&n->lock);
        doc_free(doc);
        return jl_error_set(err, JL_ELIMIT, "%zu webhook notifications are already pending",
                            n->opt.max_pending);
    }
    doc->hnext = *bucket;
    *bucket = doc;
    if (n->tail != NULL)
        n->tail->next = doc;
    else
        n->head = doc;
    n->tail = doc;
    n->stats.pending++;
    for (size_t i = 0; i < n->receiver_count; i++)
        if (n->receivers[i].cursor == NULL)
            n->receivers[i].cursor = doc;
    pthread_mutex_unlock(&n->lock);
    wake(n);
    return JL_OK;
}

void wh_notifier_stats(wh_notifier *n, wh_stats *stats)
{
    pthread_mutex_lock(&n->lock);
    *stats = n->stats;
    pthread_mutex_unlock(&n->lock);
}

void wh_notifier_stop(wh_notifier *n)
{
    if (n == NULL)
        return;
    pthread_mutex_lock(&n->lock);
    n->stopping = 1;
    pthread_mutex_unlock(&n->lock);
    wake(n);
    pthread_join(n->thread, NULL);
    notifier_free(n);
}

/* ---- Alertmanager documents ---------------------------------------------------------------- */

static int cmp_pair_name(const void *a, const void *b)
{
    const wh_pair *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Fills sorted[0..n) with pointers to pairs[0..n) ordered by name. JL_OK, JL_EINVAL (NULL or
 * repeated name), JL_ENOMEM; *sorted is freed by the caller. */
static int sort_pairs(const wh_pair *pairs, size_t n, const wh_pair ***sorted, jl_error *err)
{
    *sorted = NULL;
    if (n == 0)
        return JL_OK;
    const wh_pair **s = malloc(n * sizeof *s);
    if (s == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (pairs[i].name == NULL) {
            free(s);
            return jl_error_set(err, JL_EINVAL, "label or annotation without a name");
        }
        s[i] = &pairs[i];
    }
    qsort(s, n, sizeof *s, cmp_pair_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(s[i - 1]->name, s[i]->name) == 0) {
            int rc =
                jl_error_set(err, JL_EINVAL, "label or annotation '%s' given twice", s[i]->name);
            free(s);
            return rc;
        }
    *sorted = s;
    return JL_OK;
}

void wh_fingerprint(const wh_pair *labels, size_t n, char text[17])
{
    const wh_pair **sorted = NULL;
    uint64_t h = WH_FNV_OFFSET;
    static const unsigned char sep = 0xff;
    if (sort_pairs(labels, n, &sorted, NULL) == JL_OK) {
        for (size_t i = 0; i < n; i++) {
            const char *value = sorted[i]->value != NULL ? sorted[i]->value : "";
            h = wh_fnv1a(h, sorted[i]->name, strlen(sorted[i]->name));
            h = wh_fnv1a(h, &sep, 1);
            h = wh_fnv1a(h, value, strlen(value));
            h = wh_fnv1a(h, &sep, 1);
        }
    }
    free(sorted);
    snprintf(text, 17, "%016" PRIx64, h);
}

static int json_str(jl_buf *out, const char *text)
{
    return fm_json_string(out, text != NULL ? text : "", text != NULL ? strlen(text) : 0);
}

/* Appends {"name":"value",...} of sorted[0..n). */
static int json_object(jl_buf *out, const wh_pair *const *sorted, size_t n)
{
    if (jl_buf_append(out, "{", 1) != JL_OK)
        return JL_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if ((i > 0 && jl_buf_append(out, ",", 1) != JL_OK) ||
            json_str(out, sorted[i]->name) != JL_OK || jl_buf_append(out, ":", 1) != JL_OK ||
            json_str(out, sorted[i]->value) != JL_OK)
            return JL_ENOMEM;
    return jl_buf_append(out, "}", 1);
}

/* Appends the time as Go's RFC3339Nano writes a UTC time (fraction without trailing zeros), or
 * Go's zero time for 0. */
static int json_time(jl_buf *out, int64_t ms)
{
    if (ms == 0)
        return jl_buf_append_str(out, "\"0001-01-01T00:00:00Z\"");
    int64_t sec = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return JL_EINVAL;
    char fraction[8] = "";
    if (frac != 0) {
        snprintf(fraction, sizeof fraction, ".%03d", (int)frac);
        size_t len = strlen(fraction);
        while (fraction[len - 1] == '0')
            fraction[--len] = '\0';
    }
    return jl_buf_printf(out, "\"%04d-%02d-%02dT%02d:%02d:%02d%sZ\"", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fraction);
}

/* The pairs of first[0..n) that every alert has with the same value (first is alert 0's). */
static size_t common_pairs(const wh_alert *alerts, size_t count, int labels,
                           const wh_pair *const *first, size_t n, const wh_pair **common)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const char *value = first[i]->value != NULL ? first[i]->value : "";
        int everywhere = 1;
        for (size_t a = 1; a < count && everywhere; a++) {
            const wh_pair *pairs = labels ? alerts[a].labels : alerts[a].annotations;
            size_t m = labels ? alerts[a].label_count : alerts[a].annotation_count;
            everywhere = 0;
            for (size_t j = 0; j < m; j++)
                if (strcmp(pairs[j].name, first[i]->name) == 0) {
                    everywhere = strcmp(pairs[j].value != NULL ? pairs[j].value : "", value) == 0;
                    break;
                }
        }
        if (everywhere)
            common[kept++] = first[i];
    }
    return kept;
}

int wh_alertmanager_json(const wh_alert *alerts, size_t n, const char *receiver,
                         const char *external_url, jl_buf *out, jl_error *err)
{
    if (alerts == NULL || n == 0)
        return jl_error_set(err, JL_EINVAL, "an Alertmanager document needs at least one alert");
    int firing = 0;
    for (size_t a = 0; a < n; a++) {
        const char *status = alerts[a].status;
        if (status == NULL || (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0))
            return jl_error_set(err, JL_EINVAL, "alert status must be firing or resolved");
        firing |= strcmp(status, "firing") == 0;
        if (alerts[a].starts_at_ms < JL_MIN_MS || alerts[a].starts_at_ms > JL_MAX_MS ||
            alerts[a].ends_at_ms < JL_MIN_MS || alerts[a].ends_at_ms > JL_MAX_MS)
            return jl_error_set(err, JL_EINVAL, "alert time out of range");
        for (size_t i = 0; i < alerts[a].label_count; i++)
            if (alerts[a].labels[i].name == NULL)
                return jl_error_set(err, JL_EINVAL, "label without a name");
        for (size_t i = 0; i < alerts[a].annotation_count; i++)
            if (alerts[a].annotations[i].name == NULL)
                return jl_error_set(err, JL_EINVAL, "annotation without a name");
    }

    int rc = JL_OK;
    const wh_pair **labels = NULL, **annotations = NULL;
    const wh_pair **common_l = NULL, **common_a = NULL;
    /* Alert 0's pairs, sorted, are the candidates for the common ones. */
    rc = sort_pairs(alerts[0].labels, alerts[0].label_count, &labels, err);
    if (rc == JL_OK)
        rc = sort_pairs(alerts[0].annotations, alerts[0].annotation_count, &annotations, err);
    if (rc != JL_OK)
        goto out;
    common_l = malloc((alerts[0].label_count + 1) * sizeof *common_l);
    common_a = malloc((alerts[0].annotation_count + 1) * sizeof *common_a);
    if (common_l == NULL || common_a == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory");
        goto out;
    }
    size_t ncl = common_pairs(alerts, n, 1, labels, alerts[0].label_count, common_l);
    size_t nca = common_pairs(alerts, n, 0, annotations, alerts[0].annotation_count, common_a);
    const wh_pair *group = NULL;
    for (size_t i = 0; i < ncl; i++)
        if (strcmp(common_l[i]->name, "alertname") == 0)
            group = common_l[i];

    rc = JL_ENOMEM;
    jl_buf key;
    jl_buf_init(&key);
    if (jl_buf_append_str(&key, "{}:{") != JL_OK)
        goto out_key;
    if (group != NULL) {
        /* Go's %q of the value: backslash before quote and backslash. */
        if (jl_buf_append_str(&key, "alertname=\"") != JL_OK)
            goto out_key;
        for (const char *c = group->value != NULL ? group->value : ""; *c != '\0'; c++)
            if (((*c == '"' || *c == '\\') && jl_buf_append(&key, "\\", 1) != JL_OK) ||
                jl_buf_append(&key, c, 1) != JL_OK)
                goto out_key;
        if (jl_buf_append_str(&key, "\"") != JL_OK)
            goto out_key;
    }
    if (jl_buf_append_str(&key, "}") != JL_OK)
        goto out_key;

    if (jl_buf_append_str(out, "{\"version\":\"4\",\"groupKey\":") != JL_OK ||
        fm_json_string(out, key.data, key.len) != JL_OK ||
        jl_buf_printf(out, ",\"truncatedAlerts\":0,\"status\":\"%s\",\"receiver\":",
                      firing ? "firing" : "resolved") != JL_OK ||
        json_str(out, receiver) != JL_OK || jl_buf_append_str(out, ",\"groupLabels\":") != JL_OK ||
        json_object(out, &group, group != NULL) != JL_OK ||
        jl_buf_append_str(out, ",\"commonLabels\":") != JL_OK ||
        json_object(out, common_l, ncl) != JL_OK ||
        jl_buf_append_str(out, ",\"commonAnnotations\":") != JL_OK ||
        json_object(out, common_a, nca) != JL_OK ||
        jl_buf_append_str(out, ",\"externalURL\":") != JL_OK ||
        json_str(out, external_url) != JL_OK || jl_buf_append_str(out, ",\"alerts\":[") != JL_OK)
        goto out_key;
    for (size_t a = 0; a < n; a++) {
        const wh_alert *alert = &alerts[a];
        const wh_pair **sl = NULL, **sa = NULL;
        int arc = sort_pairs(alert->labels, alert->label_count, &sl, err);
        if (arc == JL_OK)
            arc = sort_pairs(alert->annotations, alert->annotation_count, &sa, err);
        char fingerprint[17];
        if (arc == JL_OK && alert->fingerprint == NULL)
            wh_fingerprint(alert->labels, alert->label_count, fingerprint);
        if (arc == JL_OK && ((a > 0 && jl_buf_append(out, ",", 1) != JL_OK) ||
                             jl_buf_append_str(out, "{\"status\":") != JL_OK ||
                             json_str(out, alert->status) != JL_OK ||
                             jl_buf_append_str(out, ",\"labels\":") != JL_OK ||
                             json_object(out, sl, alert->label_count) != JL_OK ||
                             jl_buf_append_str(out, ",\"annotations\":") != JL_OK ||
                             json_object(out, sa, alert->annotation_count) != JL_OK ||
                             jl_buf_append_str(out, ",\"startsAt\":") != JL_OK ||
                             json_time(out, alert->starts_at_ms) != JL_OK ||
                             jl_buf_append_str(out, ",\"endsAt\":") != JL_OK ||
                             json_time(out, alert->ends_at_ms) != JL_OK ||
                             jl_buf_append_str(out, ",\"generatorURL\":") != JL_OK ||
                             json_str(out, alert->generator_url) != JL_OK ||
                             jl_buf_append_str(out, ",\"fingerprint\":") != JL_OK ||
                             json_str(out, alert->fingerprint != NULL ? alert->fingerprint
                                                                      : fingerprint) != JL_OK ||
                             jl_buf_append(out, "}", 1) != JL_OK))
            arc = jl_error_set(err, JL_ENOMEM, "out of memory");
        free(sl);
        free(sa);
        if (arc != JL_OK) {
            rc = arc;
            jl_buf_destroy(&key);
            goto out;
        }
    }
    if (jl_buf_append_str(out, "]}") != JL_OK)
        goto out_key;
    rc = JL_OK;
out_key:
    jl_buf_destroy(&key);
    if (rc == JL_ENOMEM)
        jl_error_set(err, JL_ENOMEM, "out of memory");
out:
    free(labels);
    free(annotations);
    free(common_l);
    free(common_a);
    return rc;
}
