/* The HJ 212 TCP listener: one epoll thread for every logger connection, one committer thread
 * that stores each round of messages with one st_write(), 9014 replies only after the commit
 * (server/hj212_listener.h). */
#include "hj212_listener.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jialing/hj212.h"

/* ---- pure pieces ------------------------------------------------------------------------ */

int hs_cn_is_data(const char *cn)
{
    return strcmp(cn, "2011") == 0 || strcmp(cn, "2051") == 0 || strcmp(cn, "2061") == 0 ||
           strcmp(cn, "2031") == 0;
}

void hs_outq_init(hs_outq *q, size_t cap)
{
    jl_buf_init(&q->buf);
    q->head = 0;
    q->cap = cap;
}

void hs_outq_destroy(hs_outq *q)
{
    jl_buf_destroy(&q->buf);
    q->head = 0;
}

int hs_outq_push(hs_outq *q, const void *data, size_t len)
{
    size_t pending = q->buf.len - q->head;
    if (len > q->cap || pending > q->cap - len)
        return JL_ELIMIT;
    /* Move the unsent tail to the front before growing, so a slow reader's queue stays within
     * about cap bytes of memory however long it lives. */
    if (q->head > 0 && q->buf.len + len >= q->buf.capacity) {
        memmove(q->buf.data, q->buf.data + q->head, pending);
        q->buf.len = pending;
        q->head = 0;
    }
    return jl_buf_append(&q->buf, data, len);
}

const char *hs_outq_peek(const hs_outq *q, size_t *len)
{
    *len = q->buf.len - q->head;
    return q->buf.data ? q->buf.data + q->head : "";
}

void hs_outq_consume(hs_outq *q, size_t n)
{
    q->head += n;
    if (q->head >= q->buf.len) {
        q->head = 0;
        q->buf.len = 0;
    }
}

int hs_log_allow(unsigned *logged, uint64_t *unlogged, unsigned limit)
{
    if (*logged < limit) {
        (*logged)++;
        return 1;
    }
    (*unlogged)++;
    return 0;
}

void hs_round_init(hs_round *r)
{
    memset(r, 0, sizeof *r);
    st_batch_init(&r->batch);
    jl_buf_init(&r->replies);
    jl_error_clear(&r->commit_err);
}

void hs_round_reset(hs_round *r)
{
    st_batch_reset(&r->batch);
    r->count = 0;
    r->replies.len = 0;
    r->commit_rc = JL_OK;
    jl_error_clear(&r->commit_err);
    r->next = NULL;
}

void hs_round_destroy(hs_round *r)
{
    st_batch_destroy(&r->batch);
    free(r->messages);
    jl_buf_destroy(&r->replies);
    memset(r, 0, sizeof *r);
}

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

int hs_round_add(hs_round *r, const st_batch *readings, uint32_t slot, uint32_t gen,
                 const char *peer, const char *mn, const char *qn, const void *reply,
                 size_t reply_len)
{
    if (r->count == r->capacity) {
        hs_message *grown =
            jl_array_grow(r->messages, &r->capacity, r->count + 1, sizeof *grown, 64);
        if (grown == NULL)
            return JL_ENOMEM;
        r->messages = grown;
    }
    size_t first = st_batch_point_count(&r->batch);
    size_t replies_before = r->replies.len;
    if (reply_len > 0 && jl_buf_append(&r->replies, reply, reply_len) != JL_OK)
        return JL_ENOMEM;
    size_t n = st_batch_point_count(readings);
    for (size_t i = 0; i < n; i++) {
        size_t key_len = 0;
        const char *key =
            st_batch_series_key(readings, st_batch_point_series(readings, i), &key_len);
        uint32_t index;
        if (st_batch_series(&r->batch, key, key_len, &index) != JL_OK ||
            st_batch_point_flagged(&r->batch, index, st_batch_point_ms(readings, i),
                                   st_batch_point_value(readings, i),
                                   st_batch_point_flag(readings, i)) != JL_OK) {
            /* Points of a message that is not added must not be stored with the next one. */
            r->batch.point_count = first;
            r->replies.len = replies_before;
            return JL_ENOMEM;
        }
    }
    hs_message *m = &r->messages[r->count++];
    memset(m, 0, sizeof *m);
    m->slot = slot;
    m->gen = gen;
    m->first = first;
    m->count = n;
    m->reply_off = replies_before;
    m->reply_len = reply_len;
    m->result = JL_OK;
    copy_text(m->peer, sizeof m->peer, peer);
    copy_text(m->mn, sizeof m->mn, mn);
    copy_text(m->qn, sizeof m->qn, qn);
    return JL_OK;
}

/* Copies message m's readings into scratch (reset first). JL_OK or JL_ENOMEM. */
static int message_batch(const hs_round *r, const hs_message *m, st_batch *scratch)
{
    st_batch_reset(scratch);
    for (size_t i = m->first; i < m->first + m->count; i++) {
        size_t key_len = 0;
        const char *key =
            st_batch_series_key(&r->batch, st_batch_point_series(&r->batch, i), &key_len);
        uint32_t index;
        if (st_batch_series(scratch, key, key_len, &index) != JL_OK ||
            st_batch_point_flagged(scratch, index, st_batch_point_ms(&r->batch, i),
                                   st_batch_point_value(&r->batch, i),
                                   st_batch_point_flag(&r->batch, i)) != JL_OK)
            return JL_ENOMEM;
    }
    return JL_OK;
}

size_t hs_round_commit(hs_round *r, hs_write_fn write, void *ctx, st_batch *scratch)
{
    jl_error_clear(&r->commit_err);
    r->commit_rc = write(ctx, &r->batch, &r->commit_err);
    if (r->commit_rc == JL_OK || r->commit_rc != JL_EINVAL || r->count <= 1) {
        for (size_t i = 0; i < r->count; i++)
            r->messages[i].result = r->commit_rc;
        return r->commit_rc == JL_OK ? r->count : 0;
    }
    /* A batch is all or nothing: find the messages at fault by writing each alone. */
    size_t stored = 0;
    for (size_t i = 0; i < r->count; i++) {
        hs_message *m = &r->messages[i];
        if (m->count == 0) {
            m->result = JL_OK;
        } else {
            jl_error err;
            jl_error_clear(&err);
            m->result = message_batch(r, m, scratch);
            if (m->result == JL_OK)
                m->result = write(ctx, scratch, &err);
        }
        stored += m->result == JL_OK;
    }
    return stored;
}

/* ---- the listener ----------------------------------------------------------------------- */

#define HL_READ_CHUNK 16384      /* bytes read from one connection per round (fairness) */
#define HL_ACCEPTS_PER_ROUND 256 /* so a connect storm cannot starve the loggers connected */
#define HL_EVENTS 256            /* epoll events taken per round */
#define HL_STOP_FLUSH_MS 5000    /* how long a stop waits for replies to go out */
#define HL_REFUSED_LOGGED 10     /* refusals logged one by one, then every 1000th */

typedef struct hs_conn {
    int fd;
    uint32_t slot, gen;
    struct hs_listener *listener;
    char peer[HL_PEER_MAX];
    hj_framer framer;
    hj_framer_counters seen; /* framer counters already added to the metrics */
    hs_outq out;
    int64_t last_ms;                       /* monotonic ms of accept or of the last good frame */
    struct hs_conn *idle_prev, *idle_next; /* ordered by last_ms, oldest first */
    unsigned inflight; /* messages in rounds not yet handed back (their replies to come) */
    int read_closed;   /* the peer ended its side; close once inflight and out are done */
    int watching_out;  /* EPOLLOUT is registered */
    unsigned logged;
    uint64_t unlogged;
} hs_conn;

/* epoll data: a connection's generation << 32 | its slot, so that an event of a connection closed
 * earlier in the same round is recognised (its slot is empty or has a newer generation) without
 * touching freed memory; the other descriptors have slots no connection has. */
#define HL_TOKEN(slot, gen) ((uint64_t)(gen) << 32 | (uint32_t)(slot))
#define HL_TAG_LISTEN HL_TOKEN(UINT32_MAX, UINT32_MAX)
#define HL_TAG_DONE HL_TOKEN(UINT32_MAX - 1, UINT32_MAX)
#define HL_TAG_STOP HL_TOKEN(UINT32_MAX - 2, UINT32_MAX)

struct hs_listener {
    sv_context *context;
    const sv_config *config;
    sv_metrics *metrics;
    int listen_fd, epoll_fd, done_fd, stop_fd, reserve_fd;
    uint16_t port;
    pthread_t loop_thread, commit_thread;
    /* connections: slots[i] or NULL; gens[i] bumps at every close so late replies are dropped */
    hs_conn **slots;
    uint32_t *gens;
    uint32_t *free_slots;
    size_t free_count, open, max;
    hs_conn *idle_head, *idle_tail;
    uint64_t refused;
    /* the epoll thread's scratch */
    hj_segment seg;
    st_batch scratch;
    jl_buf reply;
    hs_round *pending;     /* filled by this round */
    hs_round *free_rounds; /* recycled, epoll thread only */
    /* hand-over with the committer, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    hs_round *work;      /* handed over, not yet taken */
    int committing;      /* the committer holds a round */
    hs_round *done_head; /* committed, oldest first */
    hs_round *done_tail;
    int quit;
    st_batch commit_scratch; /* committer thread only */
    /* --hj212-stations and --hj212-codes, the epoll thread's (NULL: none) */
    hj_stations *stations;
    hj_code_table *codes;
    /* tables re-read on SIGHUP, waiting for the epoll thread to take them (under mu) */
    hj_stations *next_stations;
    hj_code_table *next_codes;
    int reload_ready;
    hj_assembler *assembler; /* split messages (PNUM/PNO) of every connection */
    int draining;            /* stopping: no more reading */
    hj_assembler_counters split_seen;
};

/* The open connection an epoll token names, or NULL when it was closed since. */
static hs_conn *conn_of(const hs_listener *l, uint64_t tag)
{
    uint32_t slot = (uint32_t)tag, gen = (uint32_t)(tag >> 32);
    if (slot >= l->max)
        return NULL;
    hs_conn *c = l->slots[slot];
    return c != NULL && c->gen == gen ? c : NULL;
}

static int64_t mono_ms(void)
{
    return jl_monotonic_ns() / 1000000;
}

static void conn_log(hs_conn *c, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Logs one problem of a connection, the first HL_LOG_PER_CONNECTION of them; the rest are
 * counted and summed up when the connection closes, so garbage cannot fill the disk. */
static void conn_log(hs_conn *c, const char *format, ...)
{
    if (!hs_log_allow(&c->logged, &c->unlogged, HL_LOG_PER_CONNECTION))
        return;
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    fprintf(stderr, "jialingd: hj212 %s: %s%s\n", c->peer, text,
            c->logged == HL_LOG_PER_CONNECTION
                ? " (further problems of this connection are counted, not logged)"
                : "");
}

static void idle_unlink(hs_listener *l, hs_conn *c)
{
    if (c->idle_prev)
        c->idle_prev->idle_next = c->idle_next;
    else
        l->idle_head = c->idle_next;
    if (c->idle_next)
        c->idle_next->idle_prev = c->idle_prev;
    else
        l->idle_tail = c->idle_prev;
    c->idle_prev = c->idle_next = NULL;
}

static void idle_append(hs_listener *l, hs_conn *c)
{
    c->idle_prev = l->idle_tail;
    c->idle_next = NULL;
    if (l->idle_tail)
        l->idle_tail->idle_next = c;
    else
        l->idle_head = c;
    l->idle_tail = c;
}

static void idle_touch(hs_listener *l, hs_conn *c)
{
    c->last_ms = mono_ms();
    if (l->idle_tail != c) {
        idle_unlink(l, c);
        idle_append(l, c);
    }
}

static void conn_close(hs_listener *l, hs_conn *c, const char *why)
{
    if (why != NULL || c->unlogged > 0)
        fprintf(stderr, "jialingd: hj212 %s: connection closed%s%s%s\n", c->peer, why ? " (" : "",
                why ? why : "", why ? ")" : "");
    if (c->unlogged > 0)
        fprintf(stderr, "jialingd: hj212 %s: %llu further problems were not logged\n", c->peer,
                (unsigned long long)c->unlogged);
    epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    /* The gauge first: a peer that sees its connection end and then reads /metrics must not
     * find it still open (seen in CI under load). */
    atomic_fetch_sub(&l->metrics->hj212_connections_open, 1);
    close(c->fd);
    idle_unlink(l, c);
    l->slots[c->slot] = NULL;
    l->gens[c->slot]++;
    l->free_slots[l->free_count++] = c->slot;
    l->open--;
    hs_outq_destroy(&c->out);
    free(c);
}

/* Registers the events the connection waits for: input unless its peer ended or the listener
 * stops reading, output while replies wait. */
static void conn_watch(hs_listener *l, hs_conn *c, int reading)
{
    size_t pending = 0;
    hs_outq_peek(&c->out, &pending);
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    reading = reading && !c->read_closed && !l->draining;
    ev.events = (reading ? EPOLLIN : 0) | (pending ? EPOLLOUT : 0);
    ev.data.u64 = HL_TOKEN(c->slot, c->gen);
    c->watching_out = pending > 0;
    epoll_ctl(l->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends what the connection has queued. Returns 0, or -1 when it failed (the caller closes). */
static int conn_flush(hs_conn *c)
{
    for (;;) {
        size_t len = 0;
        const char *data = hs_outq_peek(&c->out, &len);
        if (len == 0)
            return 0;
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            hs_outq_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return -1;
    }
}

/* Whether a connection whose peer ended is finished: nothing more to answer or send. */
static int conn_finished(const hs_conn *c)
{
    size_t pending = 0;
    hs_outq_peek(&c->out, &pending);
    return c->read_closed && c->inflight == 0 && pending == 0;
}

/* Adds the framer's new drop counts to the metrics and logs them. */
static void conn_account(hs_listener *l, hs_conn *c)
{
    hj_framer_counters *now = &c->framer.counters, *seen = &c->seen;
    sv_metrics *m = l->metrics;
    if (now->bad_length > seen->bad_length) {
        atomic_fetch_add(&m->hj212_frames_bad_length, now->bad_length - seen->bad_length);
        conn_log(c, "frame dropped: bad length field or segment end (%llu so far)",
                 (unsigned long long)now->bad_length);
    }
    if (now->bad_crc > seen->bad_crc) {
        atomic_fetch_add(&m->hj212_frames_bad_crc, now->bad_crc - seen->bad_crc);
        conn_log(c, "frame dropped: bad CRC (%llu so far)", (unsigned long long)now->bad_crc);
    }
    if (now->too_long > seen->too_long) {
        atomic_fetch_add(&m->hj212_frames_too_long, now->too_long - seen->too_long);
        conn_log(c, "frame dropped: declared length over %d bytes (%llu so far)", HJ_SEGMENT_MAX,
                 (unsigned long long)now->too_long);
    }
    if (now->garbage_bytes > seen->garbage_bytes) {
        atomic_fetch_add(&m->hj212_garbage_bytes, now->garbage_bytes - seen->garbage_bytes);
        conn_log(c, "skipped %llu bytes outside any frame",
                 (unsigned long long)(now->garbage_bytes - seen->garbage_bytes));
    }
    *seen = *now;
}

/* Hands the pending round to the committer when it is idle (rounds accumulate while it commits:
 * that is the group commit). Returns 1 when handed over. */
static int hand_over(hs_listener *l)
{
    if (l->pending->count == 0)
        return 0;
    pthread_mutex_lock(&l->mu);
    int idle = l->work == NULL && !l->committing;
    pthread_mutex_unlock(&l->mu);
    if (!idle)
        return 0;
    /* the next pending round first, so that running out of memory only delays the hand-over */
    hs_round *next = l->free_rounds;
    if (next) {
        l->free_rounds = next->next;
        hs_round_reset(next);
    } else {
        next = malloc(sizeof *next);
        if (next == NULL)
            return 0;
        hs_round_init(next);
    }
    pthread_mutex_lock(&l->mu);
    l->work = l->pending;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    l->pending = next;
    return 1;
}

/* Blocks until the committer is idle, then hands over: the pending round is full. */
static void hand_over_blocking(hs_listener *l)
{
    pthread_mutex_lock(&l->mu);
    while (l->work != NULL || l->committing)
        pthread_cond_wait(&l->cond, &l->mu);
    pthread_mutex_unlock(&l->mu);
    hand_over(l);
}

/* Compares a packet's PW with the station's in time independent of where they differ. */
static int pw_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
    return diff == 0;
}

/* With a stations file, only its stations may send, with their PW: returns the station (NULL
 * without a stations file) in *out and 1, or 0 when the message is dropped. */
static int check_station(hs_listener *l, hs_conn *c, const hj_segment *seg, const hj_station **out)
{
    *out = NULL;
    if (l->stations == NULL)
        return 1;
    const hj_station *station = hj_stations_find(l->stations, seg->mn);
    if (station == NULL) {
        atomic_fetch_add(&l->metrics->hj212_unknown_station, 1);
        conn_log(c, "MN %s is not in the stations file; CN %s dropped", seg->mn, seg->cn);
        return 0;
    }
    if (!pw_equal(station->pw, seg->pw)) {
        atomic_fetch_add(&l->metrics->hj212_wrong_password, 1);
        conn_log(c, "MN %s sent a wrong PW; CN %s dropped", seg->mn, seg->cn);
        return 0;
    }
    *out = station;
    return 1;
}

/* Adds the assembler's new counts to the metrics. */
static void split_account(hs_listener *l)
{
    hj_assembler_counters now = hj_assembler_counters_get(l->assembler);
    hj_assembler_counters *seen = &l->split_seen;
    sv_metrics *m = l->metrics;
    atomic_fetch_add(&m->hj212_split_completed, now.completed - seen->completed);
    if (now.expired > seen->expired) {
        atomic_fetch_add(&m->hj212_split_expired, now.expired - seen->expired);
        fprintf(stderr,
                "jialingd: hj212: %llu incomplete split messages dropped: their parts waited "
                "over --hj212-split-timeout (%llu so far)\n",
                (unsigned long long)(now.expired - seen->expired), (unsigned long long)now.expired);
    }
    uint64_t refused =
        now.refused_pending + now.refused_pnum + now.refused_pno + now.refused_inconsistent;
    uint64_t refused_seen =
        seen->refused_pending + seen->refused_pnum + seen->refused_pno + seen->refused_inconsistent;
    atomic_fetch_add(&m->hj212_split_refused, refused - refused_seen);
    *seen = now;
}

/* Maps a data message: whole (no PNUM/PNO), or the last part of a split message, which is then
 * mapped with its other parts. Fills l->scratch and l->reply (one 9014 per packet that asked).
 * Returns JL_OK, 1 when the part is held for the rest, 2 when the assembler refused the part, or
 * an error (err says why in both cases). */
static int map_message(hs_listener *l, const hj_segment *seg, const hj_station *station,
                       size_t *added, jl_error *err)
{
    const hj_tag *tags = station ? station->tags : NULL;
    size_t tag_count = station ? station->tag_count : 0;
    int64_t offset = l->config->hj212_utc_offset_ms;
    st_batch_reset(&l->scratch);
    l->reply.len = 0;
    *added = 0;
    if (!seg->has_pnum) {
        int rc = hj_segment_to_batch_tagged(seg, offset, l->codes, tags, tag_count, &l->scratch,
                                            added, err);
        if (rc == JL_OK && seg->has_flag && (seg->flag & 1u))
            rc = hj_reply_9014(seg, &l->reply);
        return rc;
    }
    hj_message *whole = NULL;
    int rc = hj_assembler_add(l->assembler, seg, mono_ms(), &whole, err);
    split_account(l);
    if (rc == JL_ENOMEM)
        return rc;
    if (rc != JL_OK)
        return 2; /* refused by the assembler, which counted it */
    if (whole == NULL)
        return 1;
    rc = hj_message_to_batch(whole, offset, l->codes, tags, tag_count, &l->scratch, added, err);
    for (size_t i = 0; rc == JL_OK && i < whole->count; i++)
        if (whole->parts[i].has_flag && (whole->parts[i].flag & 1u))
            rc = hj_reply_9014(&whole->parts[i], &l->reply);
    hj_message_free(whole);
    return rc;
}

static void on_frame(void *ctx, const char *segment, size_t len)
{
    hs_conn *c = ctx;
    hs_listener *l = c->listener;
    sv_metrics *m = l->metrics;
    atomic_fetch_add(&m->hj212_frames_good, 1);
    idle_touch(l, c);
    jl_error err;
    jl_error_clear(&err);
    hj_segment *seg = &l->seg;
    if (hj_segment_parse(segment, len, seg, &err) != JL_OK) {
        atomic_fetch_add(&m->hj212_unparseable, 1);
        conn_log(c, "data segment not understood: %s", err.message);
        return;
    }
    const hj_station *station = NULL;
    if (!check_station(l, c, seg, &station))
        return;
    if (!hs_cn_is_data(seg->cn)) {
        /* heartbeats, status (2021), boot time (2081), responses (9011 9012 9013 ...) */
        atomic_fetch_add(&m->hj212_messages_other, 1);
        return;
    }
    size_t added = 0;
    int rc = map_message(l, seg, station, &added, &err);
    if (rc == 1)
        return; /* a part of a split message, held for the rest */
    if (rc == 2) {
        conn_log(c, "part PNO %u/%u of MN %s (QN %s) refused: %s", seg->pno, seg->pnum, seg->mn,
                 seg->qn, err.message);
        return;
    }
    if (rc != JL_OK) {
        atomic_fetch_add(&m->hj212_unmapped, 1);
        conn_log(c, "CN %s from MN %s (QN %s) not stored: %s", seg->cn, seg->mn, seg->qn,
                 err.message[0] ? err.message : jl_strerror(rc));
        return;
    }
    if (hs_round_points(l->pending) + added > HL_ROUND_MAX_POINTS)
        hand_over_blocking(l);
    if (hs_round_add(l->pending, &l->scratch, c->slot, c->gen, c->peer, seg->mn, seg->qn,
                     l->reply.data, l->reply.len) != JL_OK) {
        conn_log(c, "out of memory queueing a message; dropped");
        return;
    }
    c->inflight++;
}

/* Reads what one connection sent (up to HL_READ_CHUNK). Returns 0, or -1 to close it. */
static int conn_read(hs_listener *l, hs_conn *c)
{
    char buf[HL_READ_CHUNK];
    ssize_t n = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        return -1;
    }
    if (n == 0) {
        c->read_closed = 1;
        conn_watch(l, c, 1);
        return 0;
    }
    hj_framer_feed(&c->framer, buf, (size_t)n, on_frame, c);
    conn_account(l, c);
    return 0;
}

static void peer_text(const struct sockaddr_storage *addr, char *out, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (addr->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(out, size, "%s:%u", host, port);
    } else if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, size, "[%s]:%u", host, port);
    } else {
        snprintf(out, size, "?");
    }
}

static void do_accept(hs_listener *l)
{
    for (int i = 0; i < HL_ACCEPTS_PER_ROUND; i++) {
        struct sockaddr_storage addr;
        socklen_t addr_len = sizeof addr;
        int fd = accept4(l->listen_fd, (struct sockaddr *)&addr, &addr_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if ((errno == EMFILE || errno == ENFILE) && l->reserve_fd >= 0) {
                /* Out of descriptors: free the reserve to take the connection off the queue
                 * and refuse it, or the level-triggered listener would wake us forever. */
                close(l->reserve_fd);
                fd = accept(l->listen_fd, NULL, NULL);
                if (fd >= 0)
                    close(fd);
                l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                l->refused++;
                atomic_fetch_add(&l->metrics->hj212_connections_refused, 1);
                fprintf(stderr, "jialingd: hj212: connection refused: out of file descriptors\n");
                continue;
            }
            return; /* EAGAIN, or an error the next round retries */
        }
        char peer[HL_PEER_MAX];
        peer_text(&addr, peer, sizeof peer);
        if (l->open >= l->max) {
            close(fd);
            l->refused++;
            atomic_fetch_add(&l->metrics->hj212_connections_refused, 1);
            if (l->refused <= HL_REFUSED_LOGGED || l->refused % 1000 == 0)
                fprintf(stderr,
                        "jialingd: hj212 %s: connection refused: %zu connections open "
                        "(--hj212-max-connections); %llu refused so far\n",
                        peer, l->open, (unsigned long long)l->refused);
            continue;
        }
        hs_conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            atomic_fetch_add(&l->metrics->hj212_connections_refused, 1);
            fprintf(stderr, "jialingd: hj212 %s: connection refused: out of memory\n", peer);
            continue;
        }
        c->fd = fd;
        c->listener = l;
        c->slot = l->free_slots[--l->free_count];
        c->gen = l->gens[c->slot];
        snprintf(c->peer, sizeof c->peer, "%s", peer);
        hj_framer_init(&c->framer);
        hs_outq_init(&c->out, l->config->hj212_max_reply_bytes);
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN;
        ev.data.u64 = HL_TOKEN(c->slot, c->gen);
        if (epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            l->free_slots[l->free_count++] = c->slot;
            close(fd);
            free(c);
            atomic_fetch_add(&l->metrics->hj212_connections_refused, 1);
            continue;
        }
        l->slots[c->slot] = c;
        l->open++;
        c->last_ms = mono_ms();
        idle_append(l, c);
        atomic_fetch_add(&l->metrics->hj212_connections_accepted, 1);
        atomic_fetch_add(&l->metrics->hj212_connections_open, 1);
    }
}

/* Takes the committed rounds and queues their replies. */
static void take_done(hs_listener *l)
{
    uint64_t ticks;
    while (read(l->done_fd, &ticks, sizeof ticks) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&l->mu);
    hs_round *list = l->done_head;
    l->done_head = l->done_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    sv_metrics *m = l->metrics;
    while (list) {
        hs_round *r = list;
        list = r->next;
        if (r->commit_rc != JL_OK)
            fprintf(stderr, "jialingd: hj212: commit of %zu messages failed: %s%s\n", r->count,
                    r->commit_err.message[0] ? r->commit_err.message : jl_strerror(r->commit_rc),
                    r->commit_rc == JL_EINVAL && r->count > 1 ? " (retried one by one)" : "");
        for (size_t i = 0; i < r->count; i++) {
            hs_message *msg = &r->messages[i];
            hs_conn *c = l->slots[msg->slot];
            if (c != NULL && l->gens[msg->slot] != msg->gen)
                c = NULL;
            if (c)
                c->inflight--;
            if (msg->result != JL_OK) {
                atomic_fetch_add(&m->hj212_commit_failures, 1);
                if (c)
                    conn_log(c, "message QN %s of MN %s not stored, no reply: %s", msg->qn, msg->mn,
                             jl_strerror(msg->result));
                continue;
            }
            atomic_fetch_add(&m->hj212_messages_stored, 1);
            atomic_fetch_add(&m->hj212_readings_stored, msg->count);
            if (c == NULL || msg->reply_len == 0)
                continue;
            if (hs_outq_push(&c->out, r->replies.data + msg->reply_off, msg->reply_len) != JL_OK) {
                atomic_fetch_add(&m->hj212_closed_reply_overflow, 1);
                conn_close(l, c, "replies not read: the reply queue is full");
                continue;
            }
            atomic_fetch_add(&m->hj212_replies_sent, 1);
        }
        /* Send once per round and connection: every reply of this round is queued now. */
        for (size_t i = 0; i < r->count; i++) {
            hs_message *msg = &r->messages[i];
            hs_conn *c = l->slots[msg->slot];
            if (c == NULL || l->gens[msg->slot] != msg->gen)
                continue;
            if (conn_flush(c) != 0) {
                atomic_fetch_add(&m->hj212_closed_write_failed, 1);
                conn_close(l, c, "sending a reply failed");
                continue;
            }
            if (conn_finished(c)) {
                conn_close(l, c, NULL);
                continue;
            }
            size_t pending = 0;
            hs_outq_peek(&c->out, &pending);
            if ((pending > 0) != c->watching_out)
                conn_watch(l, c, 1);
        }
        r->next = l->free_rounds;
        l->free_rounds = r;
    }
}

static void close_idle(hs_listener *l)
{
    int64_t limit = (int64_t)l->config->hj212_idle_timeout_s * 1000;
    int64_t now = mono_ms();
    while (l->idle_head && now - l->idle_head->last_ms >= limit) {
        atomic_fetch_add(&l->metrics->hj212_closed_idle, 1);
        conn_close(l, l->idle_head, "idle: no frame within --hj212-idle-timeout");
    }
}

static int idle_wait_ms(const hs_listener *l)
{
    if (l->idle_head == NULL)
        return 1000;
    int64_t due = l->idle_head->last_ms + (int64_t)l->config->hj212_idle_timeout_s * 1000;
    int64_t wait = due - mono_ms();
    return wait < 0 ? 0 : wait > 1000 ? 1000 : (int)wait + 1;
}

static void handle_conn_event(hs_listener *l, hs_conn *c, uint32_t events)
{
    if (events & EPOLLERR) {
        conn_close(l, c, NULL);
        return;
    }
    if (events & EPOLLOUT) {
        if (conn_flush(c) != 0) {
            atomic_fetch_add(&l->metrics->hj212_closed_write_failed, 1);
            conn_close(l, c, "sending a reply failed");
            return;
        }
        size_t pending = 0;
        hs_outq_peek(&c->out, &pending);
        if (pending == 0)
            conn_watch(l, c, 1);
    }
    if (events & EPOLLIN) {
        if (conn_read(l, c) != 0) {
            conn_close(l, c, NULL);
            return;
        }
    } else if (events & EPOLLHUP) {
        /* both directions ended: nothing can be answered any more */
        conn_close(l, c, NULL);
        return;
    }
    if (conn_finished(c))
        conn_close(l, c, NULL);
}

static int committer_busy(hs_listener *l)
{
    pthread_mutex_lock(&l->mu);
    int busy = l->work != NULL || l->committing || l->done_head != NULL;
    pthread_mutex_unlock(&l->mu);
    return busy;
}

/* The stop: no more accepting or reading; the commits in flight finish and their replies go
 * out for at most HL_STOP_FLUSH_MS; then every connection is closed. */
static void drain(hs_listener *l)
{
    l->draining = 1;
    epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->stop_fd, NULL);
    epoll_ctl(l->epoll_fd, EPOLL_CTL_DEL, l->listen_fd, NULL);
    close(l->listen_fd);
    l->listen_fd = -1;
    for (size_t i = 0; i < l->max; i++)
        if (l->slots[i])
            conn_watch(l, l->slots[i], 0);
    struct epoll_event events[HL_EVENTS];
    int64_t deadline = mono_ms() + HL_STOP_FLUSH_MS;
    for (;;) {
        hand_over(l);
        int waiting_out = 0;
        for (size_t i = 0; i < l->max && !waiting_out; i++)
            waiting_out = l->slots[i] && l->slots[i]->watching_out;
        if (l->pending->count == 0 && !committer_busy(l) && !waiting_out)
            break;
        /* commits always finish; replies only wait until the deadline */
        if (l->pending->count == 0 && !committer_busy(l) && mono_ms() >= deadline)
            break;
        int n = epoll_wait(l->epoll_fd, events, HL_EVENTS, 100);
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == HL_TAG_DONE) {
                take_done(l);
            } else if (tag != HL_TAG_STOP && tag != HL_TAG_LISTEN) {
                hs_conn *c = conn_of(l, tag);
                if (c == NULL)
                    continue;
                if (events[i].events & (EPOLLERR | EPOLLHUP)) {
                    conn_close(l, c, NULL);
                } else if (conn_flush(c) != 0) {
                    conn_close(l, c, NULL);
                } else {
                    conn_watch(l, c, 0);
                }
            }
        }
    }
    for (size_t i = 0; i < l->max; i++)
        if (l->slots[i])
            conn_close(l, l->slots[i], NULL);
}

/* Takes the tables a SIGHUP re-read, between two rounds: nothing refers to the old ones then
 * (a held split part keeps copies, not pointers into the stations). */
static void adopt_reload(hs_listener *l)
{
    pthread_mutex_lock(&l->mu);
    int ready = l->reload_ready;
    hj_stations *stations = l->next_stations;
    hj_code_table *codes = l->next_codes;
    l->reload_ready = 0;
    l->next_stations = NULL;
    l->next_codes = NULL;
    pthread_mutex_unlock(&l->mu);
    if (!ready)
        return;
    if (l->config->hj212_stations_path) {
        hj_stations_free(l->stations);
        l->stations = stations;
    }
    if (l->config->hj212_codes_path) {
        hj_codes_free(l->codes);
        l->codes = codes;
    }
}

static void *loop_main(void *arg)
{
    hs_listener *l = arg;
    struct epoll_event events[HL_EVENTS];
    for (;;) {
        int n = epoll_wait(l->epoll_fd, events, HL_EVENTS, idle_wait_ms(l));
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "jialingd: hj212: epoll_wait failed: %s\n", strerror(errno));
            break;
        }
        adopt_reload(l);
        int stop = 0;
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == HL_TAG_LISTEN)
                do_accept(l);
            else if (tag == HL_TAG_DONE)
                take_done(l);
            else if (tag == HL_TAG_STOP)
                stop = 1;
        }
        /* Connection events after the others: a done round may have closed a connection that
         * also has an event here, so each is looked up again by slot and generation. */
        for (int i = 0; i < n; i++) {
            uint64_t tag = events[i].data.u64;
            if (tag == HL_TAG_LISTEN || tag == HL_TAG_DONE || tag == HL_TAG_STOP)
                continue;
            hs_conn *c = conn_of(l, tag);
            if (c == NULL)
                continue;
            handle_conn_event(l, c, events[i].events);
        }
        hand_over(l);
        close_idle(l);
        if (hj_assembler_expire(l->assembler, mono_ms()) > 0)
            split_account(l);
        if (stop)
            break;
    }
    drain(l);
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int store_write(void *ctx, const st_batch *batch, jl_error *err)
{
    return st_write(ctx, batch, err);
}

static void *commit_main(void *arg)
{
    hs_listener *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (l->work == NULL && !l->quit)
            pthread_cond_wait(&l->cond, &l->mu);
        if (l->work == NULL)
            break;
        hs_round *r = l->work;
        l->work = NULL;
        l->committing = 1;
        pthread_mutex_unlock(&l->mu);
        hs_round_commit(r, store_write, l->context->store, &l->commit_scratch);
        pthread_mutex_lock(&l->mu);
        l->committing = 0;
        r->next = NULL;
        if (l->done_tail)
            l->done_tail->next = r;
        else
            l->done_head = r;
        l->done_tail = r;
        pthread_cond_broadcast(&l->cond);
        uint64_t one = 1;
        ssize_t w = write(l->done_fd, &one, sizeof one);
        (void)w; /* an eventfd write only fails at 2^64 - 1 pending ticks */
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void free_rounds(hs_round *list)
{
    while (list) {
        hs_round *next = list->next;
        hs_round_destroy(list);
        free(list);
        list = next;
    }
}

static void listener_free(hs_listener *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; l->slots && i < l->max; i++)
        if (l->slots[i])
            conn_close(l, l->slots[i], NULL);
    if (l->listen_fd >= 0)
        close(l->listen_fd);
    if (l->epoll_fd >= 0)
        close(l->epoll_fd);
    if (l->done_fd >= 0)
        close(l->done_fd);
    if (l->stop_fd >= 0)
        close(l->stop_fd);
    if (l->reserve_fd >= 0)
        close(l->reserve_fd);
    if (l->pending) {
        hs_round_destroy(l->pending);
        free(l->pending);
    }
    free_rounds(l->free_rounds);
    free_rounds(l->done_head);
    st_batch_destroy(&l->scratch);
    st_batch_destroy(&l->commit_scratch);
    hj_stations_free(l->stations);
    hj_stations_free(l->next_stations);
    hj_codes_free(l->codes);
    hj_codes_free(l->next_codes);
    hj_assembler_free(l->assembler);
    jl_buf_destroy(&l->reply);
    free(l->slots);
    free(l->gens);
    free(l->free_slots);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cond);
    free(l);
}

static int bind_listener(hs_listener *l, jl_error *err)
{
    const sv_config *config = l->config;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)config->hj212_port);
    struct addrinfo hints, *found = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(config->hj212_host[0] ? config->hj212_host : NULL, port, &hints, &found);
    if (gai != 0)
        return jl_error_set(err, JL_EIO, "--hj212 %s:%s: %s", config->hj212_host, port,
                            gai_strerror(gai));
    int saved = 0;
    for (struct addrinfo *a = found; a; a = a->ai_next) {
        int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
            struct sockaddr_storage bound;
            socklen_t bound_len = sizeof bound;
            getsockname(fd, (struct sockaddr *)&bound, &bound_len);
            l->port = bound.ss_family == AF_INET6
                          ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
            l->listen_fd = fd;
            freeaddrinfo(found);
            return JL_OK;
        }
        saved = errno;
        close(fd);
    }
    freeaddrinfo(found);
    return jl_error_set(err, JL_EIO, "--hj212 %s:%s: cannot listen: %s", config->hj212_host, port,
                        strerror(saved));
}

static int epoll_add(hs_listener *l, int fd, uint64_t tag)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    return epoll_ctl(l->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* Reads the stations and codes files the flags name (NULL for a flag not given). */
static int load_tables(const sv_config *config, hj_stations **stations, hj_code_table **codes,
                       jl_error *err)
{
    *stations = NULL;
    *codes = NULL;
    jl_error detail;
    jl_error_clear(&detail);
    int rc = JL_OK;
    if (config->hj212_stations_path &&
        (rc = hj_stations_load(config->hj212_stations_path, stations, &detail)) != JL_OK)
        return jl_error_set(err, rc, "--hj212-stations %s", detail.message); /* names the path */
    if (config->hj212_codes_path &&
        (rc = hj_codes_load(config->hj212_codes_path, codes, &detail)) != JL_OK) {
        hj_stations_free(*stations);
        *stations = NULL;
        return jl_error_set(err, rc, "--hj212-codes %s", detail.message); /* names the path */
    }
    return JL_OK;
}

int hs_reload(hs_listener *l, size_t *stations, size_t *codes, jl_error *err)
{
    hj_stations *new_stations = NULL;
    hj_code_table *new_codes = NULL;
    int rc = load_tables(l->config, &new_stations, &new_codes, err);
    if (rc != JL_OK)
        return rc;
    *stations = hj_stations_count(new_stations);
    *codes = hj_codes_count(new_codes);
    pthread_mutex_lock(&l->mu);
    hj_stations *old_stations = l->next_stations;
    hj_code_table *old_codes = l->next_codes;
    l->next_stations = new_stations;
    l->next_codes = new_codes;
    l->reload_ready = 1;
    pthread_mutex_unlock(&l->mu);
    hj_stations_free(old_stations); /* re-read twice before the loop took the first */
    hj_codes_free(old_codes);
    uint64_t one = 1;
    ssize_t w = write(l->done_fd, &one, sizeof one); /* wakes the loop */
    (void)w;
    return JL_OK;
}

size_t hs_station_count(const hs_listener *l)
{
    return hj_stations_count(l->stations);
}

int hs_start(sv_context *context, hs_listener **out, jl_error *err)
{
    *out = NULL;
    hs_listener *l = calloc(1, sizeof *l);
    if (l == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory starting the HJ 212 listener");
    l->context = context;
    l->config = context->config;
    l->metrics = &context->metrics;
    l->listen_fd = l->epoll_fd = l->done_fd = l->stop_fd = l->reserve_fd = -1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    st_batch_init(&l->scratch);
    st_batch_init(&l->commit_scratch);
    jl_buf_init(&l->reply);
    l->max = l->config->hj212_max_connections;
    l->slots = calloc(l->max, sizeof *l->slots);
    l->gens = calloc(l->max, sizeof *l->gens);
    l->free_slots = malloc(l->max * sizeof *l->free_slots);
    l->pending = malloc(sizeof *l->pending);
    if (l->slots == NULL || l->gens == NULL || l->free_slots == NULL || l->pending == NULL) {
        free(l->pending);
        l->pending = NULL;
        listener_free(l);
        return jl_error_set(err, JL_ENOMEM, "out of memory starting the HJ 212 listener");
    }
    hs_round_init(l->pending);
    /* slot 0 is taken first */
    for (size_t i = 0; i < l->max; i++)
        l->free_slots[i] = (uint32_t)(l->max - 1 - i);
    l->free_count = l->max;
    int rc = load_tables(l->config, &l->stations, &l->codes, err);
    if (rc == JL_OK)
        rc = hj_assembler_new((int64_t)l->config->hj212_split_timeout_s * 1000, 0, 0, &l->assembler,
                              err);
    if (rc == JL_OK)
        rc = bind_listener(l, err);
    if (rc != JL_OK) {
        listener_free(l);
        return rc;
    }
    l->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    l->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (l->epoll_fd < 0 || l->done_fd < 0 || l->stop_fd < 0 ||
        epoll_add(l, l->listen_fd, HL_TAG_LISTEN) != 0 ||
        epoll_add(l, l->done_fd, HL_TAG_DONE) != 0 || epoll_add(l, l->stop_fd, HL_TAG_STOP) != 0) {
        rc = jl_error_set(err, JL_EIO, "HJ 212 listener: epoll/eventfd: %s", strerror(errno));
        listener_free(l);
        return rc;
    }
    if (pthread_create(&l->commit_thread, NULL, commit_main, l) != 0) {
        listener_free(l);
        return jl_error_set(err, JL_ENOMEM, "HJ 212 listener: cannot start a thread");
    }
    if (pthread_create(&l->loop_thread, NULL, loop_main, l) != 0) {
        pthread_mutex_lock(&l->mu);
        l->quit = 1;
        pthread_cond_broadcast(&l->cond);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->commit_thread, NULL);
        listener_free(l);
        return jl_error_set(err, JL_ENOMEM, "HJ 212 listener: cannot start a thread");
    }
    *out = l;
    return JL_OK;
}

uint16_t hs_port(const hs_listener *listener)
{
    return listener->port;
}

void hs_stop(hs_listener *listener)
{
    if (listener == NULL)
        return;
    uint64_t one = 1;
    ssize_t w = write(listener->stop_fd, &one, sizeof one);
    (void)w;
    pthread_join(listener->loop_thread, NULL);
    pthread_join(listener->commit_thread, NULL);
    listener_free(listener);
}
