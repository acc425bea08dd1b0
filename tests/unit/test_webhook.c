/* Tests of server/webhook.c over real sockets on 127.0.0.1: each receiver is a small HTTP server
 * thread of this test that accepts, reads one request, records it and answers the status it was
 * told to; a dead receiver is a port nobody listens on (connection refused) until the test starts
 * a listener there. Every wait is for a condition with a generous limit, never for a time; the
 * backoffs are 10 ms so that retries come quickly. The Alertmanager documents are compared to
 * strings written out here (times and fingerprints worked out separately: the fingerprint
 * algorithm against Prometheus' own test value). */
#include "check.h"
#include "../../server/webhook.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQUESTS 32

/* One lock and condition for everything the tests wait on: requests received, callbacks. */
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;

/* A scripted answer: raw bytes, and whether to keep the connection open after them until the
 * client closes it. */
typedef struct answer {
    const char *text;
    int keep_open;
} answer;

typedef struct receiver {
    int listen_fd;
    int port;
    pthread_t thread;
    const int *statuses;   /* the k-th request is answered statuses[k] while k < status_count */
    size_t status_count;   /* ... and 200 after */
    const answer *answers; /* or, when set, answers[k] while k < answer_count */
    size_t answer_count;
    size_t count; /* requests received (under ev_lock) */
    char heads[MAX_REQUESTS][2048];
    char bodies[MAX_REQUESTS][4096];
    char keys[MAX_REQUESTS][300];
} receiver;

static void send_text(int fd, const char *text)
{
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = send(fd, text, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

/* Reads one request (head and Content-Length body) and records it; returns its index or -1. */
static int read_request(receiver *rc, int fd)
{
    static char buf[1 << 16];
    size_t have = 0;
    for (;;) {
        char *end = memmem(buf, have, "\r\n\r\n", 4);
        if (end != NULL) {
            size_t head_len = (size_t)(end - buf) + 4;
            size_t content_length = 0;
            char *cl = memmem(buf, head_len, "Content-Length: ", 16);
            if (cl != NULL)
                content_length = strtoul(cl + 16, NULL, 10);
            while (have < head_len + content_length) {
                ssize_t n = recv(fd, buf + have, sizeof buf - have, 0);
                if (n <= 0)
                    return -1;
                have += (size_t)n;
            }
            pthread_mutex_lock(&ev_lock);
            int k = (int)rc->count;
            if (k < MAX_REQUESTS) {
                size_t copy = head_len < sizeof rc->heads[k] - 1 ? head_len : 0;
                memcpy(rc->heads[k], buf, copy);
                rc->heads[k][copy] = '\0';
                copy = content_length < sizeof rc->bodies[k] - 1 ? content_length : 0;
                memcpy(rc->bodies[k], buf + head_len, copy);
                rc->bodies[k][copy] = '\0';
                rc->keys[k][0] = '\0';
                char *key = strstr(rc->heads[k], "\r\nX-Jialing-Notification-Key: ");
                if (key != NULL) {
                    key += 30;
                    size_t len = strcspn(key, "\r");
                    if (len < sizeof rc->keys[k]) {
                        memcpy(rc->keys[k], key, len);
                        rc->keys[k][len] = '\0';
                    }
                }
                rc->count++;
            }
            pthread_mutex_unlock(&ev_lock);
            return k;
        }
        ssize_t n = recv(fd, buf + have, sizeof buf - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
    }
}

static void *receiver_main(void *arg)
{
    receiver *rc = arg;
    for (;;) {
        int fd = accept(rc->listen_fd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL; /* the listener was shut down */
        }
        int k = read_request(rc, fd);
        if (k >= 0 && (size_t)k < rc->answer_count) {
            send_text(fd, rc->answers[k].text);
            if (rc->answers[k].keep_open) {
                char drain[256];
                while (recv(fd, drain, sizeof drain, 0) > 0)
                    ;
            }
        } else if (k >= 0) {
            int status = (size_t)k < rc->status_count ? rc->statuses[k] : 200;
            char text[128];
            snprintf(text, sizeof text,
                     "HTTP/1.1 %d Whatever\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                     status);
            send_text(fd, text);
        }
        if (k >= 0) {
            /* Signalled once the answer is out, so the notifier sees it soon after. */
            pthread_mutex_lock(&ev_lock);
            pthread_cond_broadcast(&ev_cond);
            pthread_mutex_unlock(&ev_lock);
        }
        close(fd);
    }
}

/* A listening socket on 127.0.0.1:port (0: any free port); its port in *port_out. */
static int listen_on(int port, int *port_out)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    *port_out = ntohs(addr.sin_port);
    return fd;
}

/* A port where nothing listens (connection refused), until receiver_start(rc, port). */
static int dead_port(void)
{
    int port = 0;
    int fd = listen_on(0, &port);
    close(fd);
    return port;
}

/* Starts a receiver answering statuses[] (then 200), or answers[] when answer_count > 0. */
static int receiver_start_scripted(receiver *rc, int port, const int *statuses, size_t status_count,
                                   const answer *answers, size_t answer_count)
{
    memset(rc, 0, sizeof *rc);
    rc->statuses = statuses;
    rc->status_count = status_count;
    rc->answers = answers;
    rc->answer_count = answer_count;
    rc->listen_fd = listen_on(port, &rc->port);
    if (rc->listen_fd < 0)
        return -1;
    pthread_create(&rc->thread, NULL, receiver_main, rc);
    return 0;
}

static int receiver_start(receiver *rc, int port, const int *statuses, size_t status_count)
{
    return receiver_start_scripted(rc, port, statuses, status_count, NULL, 0);
}

static void receiver_stop(receiver *rc)
{
    shutdown(rc->listen_fd, SHUT_RDWR); /* wakes the accept() */
    pthread_join(rc->thread, NULL);
    close(rc->listen_fd);
}

static void url_of(int port, const char *path, char *url, size_t size)
{
    snprintf(url, size, "http://127.0.0.1:%d%s", port, path);
}

/* The on_delivered callback's record. */
typedef struct delivered {
    size_t count;
    char keys[MAX_REQUESTS][300];
} delivered;

static void on_delivered(void *ctx, const char *key)
{
    delivered *d = ctx;
    pthread_mutex_lock(&ev_lock);
    if (d->count < MAX_REQUESTS)
        snprintf(d->keys[d->count], sizeof d->keys[d->count], "%s", key);
    d->count++;
    pthread_cond_broadcast(&ev_cond);
    pthread_mutex_unlock(&ev_lock);
}

/* Waits (ev_lock held by the caller) until *value >= at_least, at most 20 s; returns 1 if so. */
static int wait_count(const size_t *value, size_t at_least)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 20;
    while (*value < at_least) {
        /* Short slices too, since stats change without a signal. */
        struct timespec slice;
        clock_gettime(CLOCK_REALTIME, &slice);
        slice.tv_nsec += 20 * 1000000L;
        if (slice.tv_nsec >= 1000000000L) {
            slice.tv_sec++;
            slice.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ev_cond, &ev_lock, &slice);
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (now.tv_sec > deadline.tv_sec ||
            (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
            return *value >= at_least;
    }
    return 1;
}

/* Waits until the notifier's counter (an offset into wh_stats) reaches at_least. */
static int wait_stat(wh_notifier *n, size_t offset, uint64_t at_least)
{
    for (int i = 0; i < 1000; i++) {
        wh_stats s;
        wh_notifier_stats(n, &s);
        uint64_t value;
        memcpy(&value, (const char *)&s + offset, sizeof value);
        if (value >= at_least)
            return 1;
        pthread_mutex_lock(&ev_lock);
        struct timespec slice;
        clock_gettime(CLOCK_REALTIME, &slice);
        slice.tv_nsec += 20 * 1000000L;
        if (slice.tv_nsec >= 1000000000L) {
            slice.tv_sec++;
            slice.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ev_cond, &ev_lock, &slice);
        pthread_mutex_unlock(&ev_lock);
    }
    return 0;
}

static wh_options options_for(const char *const *urls, size_t count, delivered *d)
{
    wh_options o = {0};
    o.urls = urls;
    o.url_count = count;
    o.first_retry_ms = 10;
    o.max_retry_ms = 40;
    o.timeout_ms = 10000;
    o.on_delivered = on_delivered;
    o.ctx = d;
    return o;
}

static void test_delivery(void)
{
    receiver rc;
    CHECK_INT(receiver_start(&rc, 0, NULL, 0), 0);
    char url[128];
    url_of(rc.port, "/hooks/jialing?team=water", url, sizeof url);
    const char *urls[] = {url};
    static delivered d;
    wh_options o = options_for(urls, 1, &d);
    wh_notifier *n = NULL;
    jl_error err;
    CHECK_INT(wh_notifier_start(&o, &n, &err), JL_OK);
    const char *body = "{\"version\":\"4\",\"status\":\"firing\"}";
    CHECK_INT(wh_notifier_send(n, "nh3n_high/s1/1764763200250/firing", body, strlen(body), &err),
              JL_OK);

    pthread_mutex_lock(&ev_lock);
    CHECK(wait_count(&d.count, 1));
    CHECK_INT(d.count, 1);
    CHECK_STR(d.keys[0], "nh3n_high/s1/1764763200250/firing");
    CHECK_INT(rc.count, 1);
    char expected_head[512];
    snprintf(expected_head, sizeof expected_head,
             "POST /hooks/jialing?team=water HTTP/1.1\r\n"
             "Host: 127.0.0.1:%d\r\n"
             "User-Agent: jialing\r\n"
             "Content-Type: application/json\r\n"
             "Content-Length: 33\r\n"
             "X-Jialing-Notification-Key: nh3n_high/s1/1764763200250/firing\r\n"
             "Connection: close\r\n\r\n",
             rc.port);
    CHECK_STR(rc.heads[0], expected_head);
    CHECK_STR(rc.bodies[0], "{\"version\":\"4\",\"status\":\"firing\"}");
    CHECK_STR(rc.keys[0], "nh3n_high/s1/1764763200250/firing");
    pthread_mutex_unlock(&ev_lock);

    wh_stats s;
    wh_notifier_stats(n, &s);
    CHECK_INT(s.sent, 1);
    CHECK_INT(s.failed, 0);
    CHECK_INT(s.delivered, 1);
    CHECK_INT(s.pending, 0);
    wh_notifier_stop(n);
    receiver_stop(&rc);
}

/* 500 three times, then 200: four POSTs of the same document and key, one delivery. */
static void test_retry_until_2xx(void)
{
    static const int statuses[] = {500, 500, 500};
    receiver rc;
    CHECK_INT(receiver_start(&rc, 0, statuses, 3), 0);
    char url[128];
    url_of(rc.port, "", url, sizeof url);
    const char *urls[] = {url};
    static delivered d;
    wh_options o = options_for(urls, 1, &d);
    wh_notifier *n = NULL;
    jl_error err;
    CHECK_INT(wh_notifier_start(&o, &n, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "k-retry", "{}", 2, &err), JL_OK);

    pthread_mutex_lock(&ev_lock);
    CHECK(wait_count(&d.count, 1));
    pthread_mutex_unlock(&ev_lock);
    wh_notifier_stop(n); /* nothing more can arrive after this */

    pthread_mutex_lock(&ev_lock);
    CHECK_INT(d.count, 1);
    CHECK_STR(d.keys[0], "k-retry");
    CHECK_INT(rc.count, 4);
    for (int k = 0; k < 4; k++) {
        CHECK_STR(rc.keys[k], "k-retry");
        CHECK_STR(rc.bodies[k], "{}");
        CHECK(strncmp(rc.heads[k], "POST / HTTP/1.1\r\n", 17) == 0);
    }
    pthread_mutex_unlock(&ev_lock);
    receiver_stop(&rc);
}

static void test_retry_stats(void)
{
    static const int statuses[] = {503, 404, 302};
    receiver rc;
    CHECK_INT(receiver_start(&rc, 0, statuses, 3), 0);
    char url[128];
    url_of(rc.port, "/", url, sizeof url);
    const char *urls[] = {url};
    static delivered d;
    wh_options o = options_for(urls, 1, &d);
    wh_notifier *n = NULL;
    jl_error err;
    CHECK_INT(wh_notifier_start(&o, &n, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "k-stats", "[]", 2, &err), JL_OK);
    pthread_mutex_lock(&ev_lock);
    CHECK(wait_count(&d.count, 1));
    pthread_mutex_unlock(&ev_lock);
    wh_stats s;
    wh_notifier_stats(n, &s);
    CHECK_INT(s.sent, 1);
    CHECK_INT(s.failed, 3);
    CHECK_INT(s.delivered, 1);
    CHECK_INT(s.pending, 0);
    wh_notifier_stop(n);
    receiver_stop(&rc);
}

/* A live receiver gets every document while the other refuses connections; the other gets them
 * all, in order, once it listens. */
static void test_dead_receiver_does_not_block(void)
{
    receiver live, late;
    CHECK_INT(receiver_start(&live, 0, NULL, 0), 0);
    int port = dead_port();
    char url_live[128], url_dead[128];
    url_of(live.port, "/a", url_live, sizeof url_live);
    url_of(port, "/b", url_dead, sizeof url_dead);
    const char *urls[] = {url_dead, url_live};
    static delivered d;
    wh_options o = options_for(urls, 2, &d);
    wh_notifier *n = NULL;
    jl_error err;
    CHECK_INT(wh_notifier_start(&o, &n, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "k1", "1", 1, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "k2", "22", 2, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "k3", "333", 3, &err), JL_OK);

    pthread_mutex_lock(&ev_lock);
    CHECK(wait_count(&live.count, 3));
    CHECK_STR(live.keys[0], "k1");
    CHECK_STR(live.keys[1], "k2");
    CHECK_STR(live.keys[2], "k3");
    CHECK_STR(live.bodies[2], "333");
    CHECK_INT(d.count, 0); /* not delivered everywhere yet */
    pthread_mutex_unlock(&ev_lock);
    CHECK(wait_stat(n, offsetof(wh_stats, failed), 2)); /* the dead one was tried, and again */
    wh_stats s;
    wh_notifier_stats(n, &s);
    CHECK_INT(s.sent, 3);
    CHECK_INT(s.delivered, 0);
    CHECK_INT(s.pending, 3);

    CHECK_INT(receiver_start(&late, port, NULL, 0), 0);
    pthread_mutex_lock(&ev_lock);
    CHECK(wait_count(&d.count, 3));
    CHECK_INT(late.count, 3);
    CHECK_STR(late.keys[0], "k1");
    CHECK_STR(late.keys[1], "k2");
    CHECK_STR(late.keys[2], "k3");
    CHECK(strncmp(late.heads[0], "POST /b HTTP/1.1\r\n", 18) == 0);
    CHECK_STR(late.bodies[1], "22");
    CHECK_STR(d.keys[0], "k1");
    CHECK_STR(d.keys[1], "k2");
    CHECK_STR(d.keys[2], "k3");
    pthread_mutex_unlock(&ev_lock);
    wh_notifier_stop(n);
    CHECK_INT(live.count, 3); /* no repeats to the live one */
    receiver_stop(&live);
    receiver_stop(&late);
}

/* A receiver that accepts connections but never answers (timeout far away) does not hold up a
 * live one either. */
static void test_silent_receiver_does_not_block(void)
{
    receiver live;
    CHECK_INT(receiver_start(&live, 0, NULL, 0), 0);
    int silent_port = 0;
    int silent = listen_on(0, &silent_port);
    CHECK(silent >= 0);
    char url_live[128], url_silent[128];
    url_of(live.port, "/", url_live, sizeof url_live);
    url_of(silent_port, "/", url_silent, sizeof url_silent);
    const char *urls[] = {url_silent, url_live};
    static delivered d;
    wh_options o = options_for(urls, 2, &d);
    o.timeout_ms = 600000;
    wh_notifier *n = NULL;
    jl_error err;
    CHECK_INT(wh_notifier_start(&o, &n, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "s1", "1", 1, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "s2", "2", 1, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "s3", "3", 1, &err), JL_OK);
    pthread_mutex_lock(&ev_lock);
    CHECK(wait_count(&live.count, 3));
    CHECK_STR(live.keys[2], "s3");
    pthread_mutex_unlock(&ev_lock);
    CHECK(wait_stat(n, offsetof(wh_stats, sent), 3));
    wh_stats s;
    wh_notifier_stats(n, &s);
    CHECK_INT(s.sent, 3);
    CHECK_INT(s.failed, 0); /* the silent one's POST is still waiting */
    CHECK_INT(s.delivered, 0);
    CHECK_INT(s.pending, 3);
    wh_notifier_stop(n);
    pthread_mutex_lock(&ev_lock);
    CHECK_INT(d.count, 0);
    pthread_mutex_unlock(&ev_lock);
    close(silent);
    receiver_stop(&live);
}

/* Answers framed in other ways: a malformed one fails and is retried; an interim 100 then a
 * chunked 200, an HTTP/1.0 answer running to the close, and a Content-Length answer on a
 * connection the receiver keeps open (the notifier must not wait for its close: the timeout is
 * far away) all deliver. */
static void test_response_framing(void)
{
    static const answer answers[] = {
        {"garbage\r\n\r\n", 0},
        {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "2\r\nok\r\n0\r\n\r\n",
         0},
        {"HTTP/1.0 202 Accepted\r\n\r\nqueued, runs to the close", 0},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 1},
        {"HTTP/1.1 204 No Content\r\n\r\n", 1},
    };
    receiver rc;
    CHECK_INT(receiver_start_scripted(&rc, 0, NULL, 0, answers, 5), 0);
    char url[128];
    url_of(rc.port, "/", url, sizeof url);
    const char *urls[] = {url};
    static delivered d;
    wh_options o = options_for(urls, 1, &d);
    o.timeout_ms = 600000;
    wh_notifier *n = NULL;
    jl_error err;
    CHECK_INT(wh_notifier_start(&o, &n, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "f1", "1", 1, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "f2", "2", 1, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "f3", "3", 1, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "f4", "4", 1, &err), JL_OK);
    pthread_mutex_lock(&ev_lock);
    CHECK(wait_count(&d.count, 4));
    CHECK_INT(rc.count, 5);
    CHECK_STR(rc.keys[0], "f1");
    CHECK_STR(rc.keys[1], "f1");
    CHECK_STR(rc.keys[2], "f2");
    CHECK_STR(rc.keys[3], "f3");
    CHECK_STR(rc.keys[4], "f4");
    CHECK_STR(d.keys[3], "f4");
    pthread_mutex_unlock(&ev_lock);
    wh_stats s;
    wh_notifier_stats(n, &s);
    CHECK_INT(s.sent, 4);
    CHECK_INT(s.failed, 1);
    CHECK_INT(s.delivered, 4);
    wh_notifier_stop(n);
    receiver_stop(&rc);
}

/* A key already queued is not queued again; once delivered, it may be sent anew. */
static void test_key_dedup(void)
{
    int port = dead_port();
    char url[128];
    url_of(port, "/", url, sizeof url);
    const char *urls[] = {url};
    static delivered d;
    wh_options o = options_for(urls, 1, &d);
    wh_notifier *n = NULL;
    jl_error err;
    CHECK_INT(wh_notifier_start(&o, &n, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "a", "first", 5, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "a", "second", 6, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "b", "third", 5, &err), JL_OK);
    wh_stats s;
    wh_notifier_stats(n, &s);
    CHECK_INT(s.pending, 2);

    receiver rc;
    CHECK_INT(receiver_start(&rc, port, NULL, 0), 0);
    pthread_mutex_lock(&ev_lock);
    CHECK(wait_count(&d.count, 2));
    CHECK_INT(rc.count, 2);
    CHECK_STR(rc.keys[0], "a");
    CHECK_STR(rc.bodies[0], "first");
    CHECK_STR(rc.keys[1], "b");
    pthread_mutex_unlock(&ev_lock);

    CHECK_INT(wh_notifier_send(n, "a", "again", 5, &err), JL_OK);
    pthread_mutex_lock(&ev_lock);
    CHECK(wait_count(&d.count, 3));
    CHECK_INT(rc.count, 3);
    CHECK_STR(rc.keys[2], "a");
    CHECK_STR(rc.bodies[2], "again");
    pthread_mutex_unlock(&ev_lock);
    wh_notifier_stop(n);
    receiver_stop(&rc);
}

/* Stop with documents pending at a dead receiver, and with a POST in flight to one that never
 * answers (its timeout is long: stop must not wait for it). Nothing is reported delivered. */
static void test_stop_while_pending(void)
{
    int port = dead_port();
    int silent_port = 0;
    int silent = listen_on(0, &silent_port); /* connections queue in its backlog, unanswered */
    CHECK(silent >= 0);
    char url_dead[128], url_silent[128];
    url_of(port, "/", url_dead, sizeof url_dead);
    url_of(silent_port, "/", url_silent, sizeof url_silent);
    const char *urls[] = {url_dead, url_silent};
    static delivered d;
    wh_options o = options_for(urls, 2, &d);
    o.timeout_ms = 600000;
    wh_notifier *n = NULL;
    jl_error err;
    CHECK_INT(wh_notifier_start(&o, &n, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "p1", "x", 1, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "p2", "y", 1, &err), JL_OK);
    /* The silent receiver's connection is established once it can be accepted. */
    struct pollfd pfd = {.fd = silent, .events = POLLIN};
    CHECK_INT(poll(&pfd, 1, 20000), 1);
    CHECK(wait_stat(n, offsetof(wh_stats, failed), 1));
    wh_stats s;
    wh_notifier_stats(n, &s);
    CHECK_INT(s.pending, 2);
    CHECK_INT(s.sent, 0);
    wh_notifier_stop(n);
    pthread_mutex_lock(&ev_lock);
    CHECK_INT(d.count, 0);
    pthread_mutex_unlock(&ev_lock);
    close(silent);
    wh_notifier_stop(NULL);
}

static void test_bad_input(void)
{
    static const char *bad[] = {
        "https://127.0.0.1:9093/hook",
        "ftp://127.0.0.1/",
        "127.0.0.1:9093",
        "http://",
        "http://:80/x",
        "http://h:0/",
        "http://h:65536/",
        "http://h:8x/",
        "http://user:pw@h/",
        "http://h/a b",
        "http://[::1/",
    };
    jl_error err;
    wh_notifier *n = (wh_notifier *)&err; /* set to NULL on failure */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *urls[] = {"http://127.0.0.1:1/", bad[i]};
        wh_options o = options_for(urls, 2, NULL);
        CHECK_INT(wh_notifier_start(&o, &n, &err), JL_EINVAL);
        CHECK(n == NULL);
        CHECK(strstr(err.message, bad[i]) != NULL || bad[i][0] == '\0');
    }
    wh_options none = options_for(NULL, 0, NULL);
    CHECK_INT(wh_notifier_start(&none, &n, &err), JL_EINVAL);

    /* Accepted forms: no path, an IPv6 literal, a query without a path. */
    int port = dead_port();
    char good[3][128];
    snprintf(good[0], sizeof good[0], "http://localhost:%d", port);
    snprintf(good[1], sizeof good[1], "http://[::1]:%d/x", port);
    snprintf(good[2], sizeof good[2], "HTTP://127.0.0.1:%d?q=1", port);
    char url[128];
    url_of(port, "/", url, sizeof url);
    const char *urls[] = {good[0], good[1], good[2], url};
    static delivered d;
    wh_options o = options_for(urls, 4, &d);
    o.max_pending = 2;
    CHECK_INT(wh_notifier_start(&o, &n, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "", "{}", 2, &err), JL_EINVAL);
    CHECK_INT(wh_notifier_send(n, "a\r\nX: y", "{}", 2, &err), JL_EINVAL);
    CHECK_INT(wh_notifier_send(n, " a", "{}", 2, &err), JL_EINVAL);
    char long_key[258];
    memset(long_key, 'k', 257);
    long_key[257] = '\0';
    CHECK_INT(wh_notifier_send(n, long_key, "{}", 2, &err), JL_EINVAL);
    long_key[256] = '\0';
    CHECK_INT(wh_notifier_send(n, long_key, "{}", 2, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "站点/磁器口", "{}", 2, &err), JL_OK);
    CHECK_INT(wh_notifier_send(n, "third", "{}", 2, &err), JL_ELIMIT);
    CHECK_INT(wh_notifier_send(n, "站点/磁器口", "{}", 2, &err), JL_OK); /* already queued */
    wh_notifier_stop(n);
}

static void test_fingerprint(void)
{
    /* Prometheus' model/signature_test.go: LabelsToSignature and labelSetToFingerprint give
     * 5799056148416392346 = 0x507a62d79ee76c9a for these, 14695981039346656037 (the FNV offset)
     * for none. */
    const wh_pair labels[] = {{"name", "garland, briggs"}, {"fear", "love is not enough"}};
    char text[17];
    wh_fingerprint(labels, 2, text);
    CHECK_STR(text, "507a62d79ee76c9a");
    wh_fingerprint(NULL, 0, text);
    CHECK_STR(text, "cbf29ce484222325");
}

static void test_alertmanager_firing(void)
{
    const wh_pair labels[] = {
        {"severity", "warning"}, {"alertname", "nh3n_high"}, {"section", "磁器口"}};
    const wh_pair annotations[] = {{"summary", "NH3-N \"1.82\" > 1.5 mg/L for 2h"},
                                   {"peak", "1.82"}};
    wh_alert alert = {0};
    alert.status = "firing";
    alert.labels = labels;
    alert.label_count = 3;
    alert.annotations = annotations;
    alert.annotation_count = 2;
    alert.starts_at_ms = 1764763200250; /* 2025-12-03T12:00:00.250Z */
    alert.ends_at_ms = 0;
    alert.generator_url = "http://jialing:8086/api/v1/events?rule=nh3n_high";
    jl_buf out;
    jl_buf_init(&out);
    jl_error err;
    CHECK_INT(wh_alertmanager_json(&alert, 1, "jialing", "http://jialing:8086", &out, &err), JL_OK);
    CHECK_STR(out.data,
              "{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"nh3n_high\\\"}\","
              "\"truncatedAlerts\":0,\"status\":\"firing\",\"receiver\":\"jialing\","
              "\"groupLabels\":{\"alertname\":\"nh3n_high\"},"
              "\"commonLabels\":{\"alertname\":\"nh3n_high\",\"section\":\"磁器口\","
              "\"severity\":\"warning\"},"
              "\"commonAnnotations\":{\"peak\":\"1.82\","
              "\"summary\":\"NH3-N \\\"1.82\\\" > 1.5 mg/L for 2h\"},"
              "\"externalURL\":\"http://jialing:8086\","
              "\"alerts\":[{\"status\":\"firing\","
              "\"labels\":{\"alertname\":\"nh3n_high\",\"section\":\"磁器口\","
              "\"severity\":\"warning\"},"
              "\"annotations\":{\"peak\":\"1.82\","
              "\"summary\":\"NH3-N \\\"1.82\\\" > 1.5 mg/L for 2h\"},"
              "\"startsAt\":\"2025-12-03T12:00:00.25Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
              "\"generatorURL\":\"http://jialing:8086/api/v1/events?rule=nh3n_high\","
              "\"fingerprint\":\"aa41777a2483bdb2\"}]}");
    jl_buf_destroy(&out);
}

static void test_alertmanager_resolved(void)
{
    const wh_pair labels_a[] = {
        {"alertname", "nh3n_high"}, {"section", "磁器口"}, {"severity", "warning"}};
    const wh_pair labels_b[] = {
        {"alertname", "do_low"}, {"section", "jialing-cp"}, {"severity", "critical"}};
    const wh_pair notes_a[] = {{"runbook", "r1"}, {"peak", "1.82"}};
    const wh_pair notes_b[] = {{"runbook", "r1"}};
    wh_alert alerts[2] = {{0}, {0}};
    alerts[0].status = "resolved";
    alerts[0].labels = labels_a;
    alerts[0].label_count = 3;
    alerts[0].annotations = notes_a;
    alerts[0].annotation_count = 2;
    alerts[0].starts_at_ms = 1764766800100; /* 2025-12-03T13:00:00.100Z */
    alerts[0].ends_at_ms = 1764770400000;   /* 2025-12-03T14:00:00Z */
    alerts[0].fingerprint = "0123456789abcdef";
    alerts[1].status = "resolved";
    alerts[1].labels = labels_b;
    alerts[1].label_count = 3;
    alerts[1].annotations = notes_b;
    alerts[1].annotation_count = 1;
    alerts[1].starts_at_ms = 1764770400000;
    alerts[1].ends_at_ms = 1764774000999; /* 2025-12-03T15:00:00.999Z */
    jl_buf out;
    jl_buf_init(&out);
    jl_error err;
    CHECK_INT(wh_alertmanager_json(alerts, 2, NULL, NULL, &out, &err), JL_OK);
    CHECK_STR(out.data,
              "{\"version\":\"4\",\"groupKey\":\"{}:{}\",\"truncatedAlerts\":0,"
              "\"status\":\"resolved\",\"receiver\":\"\",\"groupLabels\":{},"
              "\"commonLabels\":{},\"commonAnnotations\":{\"runbook\":\"r1\"},"
              "\"externalURL\":\"\",\"alerts\":["
              "{\"status\":\"resolved\","
              "\"labels\":{\"alertname\":\"nh3n_high\",\"section\":\"磁器口\","
              "\"severity\":\"warning\"},"
              "\"annotations\":{\"peak\":\"1.82\",\"runbook\":\"r1\"},"
              "\"startsAt\":\"2025-12-03T13:00:00.1Z\",\"endsAt\":\"2025-12-03T14:00:00Z\","
              "\"generatorURL\":\"\",\"fingerprint\":\"0123456789abcdef\"},"
              "{\"status\":\"resolved\","
              "\"labels\":{\"alertname\":\"do_low\",\"section\":\"jialing-cp\","
              "\"severity\":\"critical\"},"
              "\"annotations\":{\"runbook\":\"r1\"},"
              "\"startsAt\":\"2025-12-03T14:00:00Z\",\"endsAt\":\"2025-12-03T15:00:00.999Z\","
              "\"generatorURL\":\"\",\"fingerprint\":\"39888e25735843cf\"}]}");

    /* One alert still firing makes the group firing; bad input is refused. */
    alerts[1].status = "firing";
    out.len = 0;
    CHECK_INT(wh_alertmanager_json(alerts, 2, NULL, NULL, &out, &err), JL_OK);
    CHECK(strstr(out.data, "\"truncatedAlerts\":0,\"status\":\"firing\",") != NULL);
    alerts[1].status = "pending";
    CHECK_INT(wh_alertmanager_json(alerts, 2, NULL, NULL, &out, &err), JL_EINVAL);
    alerts[1].status = "firing";
    CHECK_INT(wh_alertmanager_json(alerts, 0, NULL, NULL, &out, &err), JL_EINVAL);
    const wh_pair twice[] = {{"a", "1"}, {"a", "2"}};
    alerts[1].labels = twice;
    alerts[1].label_count = 2;
    CHECK_INT(wh_alertmanager_json(alerts, 2, NULL, NULL, &out, &err), JL_EINVAL);
    jl_buf_destroy(&out);
}

int main(void)
{
    RUN(test_delivery);
    RUN(test_retry_until_2xx);
    RUN(test_retry_stats);
    RUN(test_dead_receiver_does_not_block);
    RUN(test_silent_receiver_does_not_block);
    RUN(test_response_framing);
    RUN(test_key_dedup);
    RUN(test_stop_while_pending);
    RUN(test_bad_input);
    RUN(test_fingerprint);
    RUN(test_alertmanager_firing);
    RUN(test_alertmanager_resolved);
    return CHECK_DONE();
}
