/* The HJ 212 TCP listener (server/hj212_listener.c), internal to server/ and its unit tests.
 *
 * One epoll thread serves every logger connection (nonblocking sockets, level triggered): it
 * accepts, feeds each connection's bytes to its own hj_framer, parses and maps data messages, and
 * collects the messages of one event-loop round into one hs_round (one st_batch). A committer
 * thread stores each round with one st_write() and hands it back through an eventfd; only then
 * does the epoll thread queue the 9014 replies, so a reply always means "committed".
 *
 * The pure pieces (the capped reply queue, the round and its commit with a per-message retry, the
 * log limiter, the CN classes) are declared here so tests/unit/test_hj212_listener.c can test
 * them without sockets or threads. */
#ifndef JIALING_SERVER_HJ212_LISTENER_H
#define JIALING_SERVER_HJ212_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "jialing/common.h"
#include "jialing/server.h"
#include "jialing/store.h"

#define HL_PEER_MAX 64 /* "address:port" of a peer, NUL-terminated */
/* Readings one round (one commit) carries at most: a message brings at most
 * HJ_POLLUTANTS_MAX * 5, so a round is handed over before this is reached. */
#define HL_ROUND_MAX_POINTS 500000u
#define HL_LOG_PER_CONNECTION 5 /* problems logged per connection before it goes quiet */

/* ---- the listener ----------------------------------------------------------------------- */

typedef struct hs_listener hs_listener;

/* Binds config->hj212_host:hj212_port and starts the epoll and committer threads, which write
 * into context->store and count into context->metrics (context must outlive the listener).
 * Returns JL_OK and *out, or JL_EIO (bind/listen/epoll failed; err names the address) or
 * JL_ENOMEM, with *out NULL. */
int hs_start(sv_context *context, hs_listener **out, jl_error *err);

/* Returns the port actually bound (useful with port 0). */
uint16_t hs_port(const hs_listener *listener);

/* Re-reads the files of --hj212-stations and --hj212-codes (SIGHUP; call from any one thread)
 * and hands the new tables to the epoll thread, which takes them before its next round. Returns
 * JL_OK with the stations and code overrides now read in *stations and *codes, or the load's
 * error (JL_EINVAL naming the file and line, JL_EIO, JL_ENOMEM): the old tables stay. */
int hs_reload(hs_listener *listener, size_t *stations, size_t *codes, jl_error *err);

/* Returns the stations read at start (call before any reload; 0 without --hj212-stations). */
size_t hs_station_count(const hs_listener *listener);

/* Stops accepting and reading, lets the commits in flight finish and their replies go out (for a
 * few seconds at most), closes every connection and frees the listener. Call before
 * st_store_close(). NULL is ignored. */
void hs_stop(hs_listener *listener);

/* ---- pure pieces ------------------------------------------------------------------------ */

/* Returns 1 for the CNs whose readings are stored and answered with 9014 (2011 real-time, 2051
 * minute, 2061 hour, 2031 day data), 0 for any other CN. */
int hs_cn_is_data(const char *cn);

/* Bytes waiting to be sent on one connection, at most cap of them. */
typedef struct hs_outq {
    jl_buf buf;  /* owned */
    size_t head; /* bytes of buf already sent */
    size_t cap;  /* pending bytes allowed */
} hs_outq;

/* Initialises an empty queue holding at most cap pending bytes (no allocation). */
void hs_outq_init(hs_outq *q, size_t cap);

/* Frees what the queue owns. */
void hs_outq_destroy(hs_outq *q);

/* Appends len bytes. Returns JL_OK, JL_ELIMIT when the pending bytes would exceed the cap
 * (nothing appended: the connection is not reading its replies), or JL_ENOMEM. */
int hs_outq_push(hs_outq *q, const void *data, size_t len);

/* Returns the pending bytes and their count in *len (borrowed until the next push or consume). */
const char *hs_outq_peek(const hs_outq *q, size_t *len);

/* Marks n pending bytes sent (n <= pending); memory is reused once everything is sent. */
void hs_outq_consume(hs_outq *q, size_t n);

/* Returns 1 when a connection's problem should be logged (the first limit of them), 0 when it
 * should only be counted, in which case *unlogged is incremented. *logged counts those logged. */
int hs_log_allow(unsigned *logged, uint64_t *unlogged, unsigned limit);

/* One message of a round: where its readings are in the round's batch, who gets the reply. */
typedef struct hs_message {
    uint32_t slot, gen;     /* the connection (slot and its generation when the message came) */
    size_t first, count;    /* its readings: points first .. first + count - 1 of the batch */
    size_t reply_off;       /* its framed 9014 reply in the round's replies buffer ... */
    size_t reply_len;       /* ... of this many bytes; 0: no reply wanted */
    int result;             /* after hs_round_commit: JL_OK, or the code of the failed write */
    char peer[HL_PEER_MAX]; /* for logs */
    char mn[40], qn[40];    /* for logs */
} hs_message;

/* The messages decoded in one or more event-loop rounds, stored by one commit. */
typedef struct hs_round {
    st_batch batch;       /* every message's readings, message after message */
    hs_message *messages; /* owned */
    size_t count, capacity;
    jl_buf replies; /* framed replies back to back */
    int commit_rc;  /* the combined write's code (JL_OK until committed) */
    jl_error commit_err;
    struct hs_round *next; /* list link for the listener's queues */
} hs_round;

/* Initialises an empty round (no allocation). */
void hs_round_init(hs_round *r);

/* Empties the round, keeping its memory. */
void hs_round_reset(hs_round *r);

/* Frees what the round owns. */
void hs_round_destroy(hs_round *r);

/* Returns the readings in the round. */
static inline size_t hs_round_points(const hs_round *r)
{
    return st_batch_point_count(&r->batch);
}

/* Adds a message: its readings (copied from readings), its connection, peer, MN and QN (copied,
 * for logs; NULL as ""), and its framed reply (copied; NULL or 0 bytes: none). Returns JL_OK or
 * JL_ENOMEM (the message is not added; series keys already copied may stay, with no readings). */
int hs_round_add(hs_round *r, const st_batch *readings, uint32_t slot, uint32_t gen,
                 const char *peer, const char *mn, const char *qn, const void *reply,
                 size_t reply_len);

/* Stores a batch; st_write()'s contract. */
typedef int (*hs_write_fn)(void *ctx, const st_batch *batch, jl_error *err);

/* Stores the round with one write(ctx, batch) and sets every message's result to its code. When
 * that write fails with JL_EINVAL and the round holds more than one message, each message is
 * written alone (through scratch, reset first) so that one bad message does not keep the others
 * out; a message without readings then succeeds without a write. Sets commit_rc and commit_err
 * from the combined write. Returns the messages stored. */
size_t hs_round_commit(hs_round *r, hs_write_fn write, void *ctx, st_batch *scratch);

#endif
