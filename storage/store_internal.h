/* Internal structures of the store shared by storage/store.c (environment, writer, recovery) and
 * storage/snapshot.c (read views and cursors). Not a public interface.
 *
 * Concurrency model:
 * - One writer thread mutates the catalog and the series states. It prepares each group of
 *   batches in a "next" state per touched series, commits the LMDB transaction, and only then,
 *   under state_lock held for writing, publishes next -> live. A failed commit drops "next".
 * - A snapshot takes state_lock for reading while it begins its LMDB read transaction and copies
 *   the live states of its series (tail buffers are shared by reference count), so chunks and
 *   tails it sees belong to the same commit.
 * - map_lock is held for reading by every open read transaction and for writing while the
 *   writer grows the LMDB map (LMDB requires that no transaction is active then). */
#ifndef JIALING_STORE_INTERNAL_H
#define JIALING_STORE_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "jialing/store.h"

/* Unsealed readings of one series, sorted by time, shared by reference count with snapshots.
 * The writer only ever writes at indexes beyond every published count, or into a private copy,
 * so readers of [0, their count) never see a change. */
typedef struct tail_buffer {
    atomic_int references; /* owners: the live state, each snapshot, the writer's next state */
    uint32_t capacity;     /* entries allocated */
    int64_t *timestamps_ms;
    double *values;
} tail_buffer;

/* The mutable state of a series; copied whole from live to next and back. */
typedef struct series_state {
    tail_buffer *tail;     /* NULL when the tail is empty */
    uint32_t tail_count;   /* readings in tail */
    uint64_t tail_min_seq; /* oldest log block still holding a reading of this tail */
    int64_t sealed_max_ms; /* last timestamp in sealed chunks; INT64_MIN when none */
    uint64_t sealed_count; /* readings in sealed chunks */
    uint64_t count;        /* distinct readings in total */
    int64_t first_ms;      /* earliest reading (valid when count > 0) */
    int64_t last_ms;       /* latest reading (valid when count > 0) */
    double last_value;     /* value at last_ms */
} series_state;

typedef struct series {
    uint64_t id;                 /* dense, from 1 */
    char *key;                   /* canonical key, NUL-terminated, immutable */
    uint32_t key_len;            /* bytes in key */
    uint64_t hash;               /* hash of key */
    struct series *hash_next;    /* catalog hash chain (writer only) */
    series_state live;           /* published state, read under state_lock */
    series_state next;           /* writer's state for the transaction being built */
    uint32_t seal_threshold;     /* seal the tail at this many readings (writer only) */
    uint32_t seal_budget;        /* bytes a sealed chunk may take, 0: seal whole (writer only) */
    double bytes_per_reading;    /* of the last chunk, header aside (writer only) */
    int touched;                 /* 1 while next differs from live */
    int relog_queued;            /* 1 while listed to have its tail written again to the log */
    int tail_private;            /* 1 when next.tail is a buffer no reader can see */
    struct series *touched_next; /* list of touched series in this transaction */
    struct series *pending_prev; /* pending list: series with a non-empty live tail, */
    struct series *pending_next; /* in tail_min_seq order (writer only) */
} series;

struct st_store {
    MDB_env *env;
    MDB_dbi db_meta, db_series, db_postings, db_chunks, db_log;
    st_options options;
    uint32_t chunk_max;  /* readings per chunk at most */
    uint32_t page_bytes; /* LMDB page size */
    pthread_rwlock_t state_lock;
    pthread_rwlock_t map_lock;
    uint64_t map_bytes; /* current map size */

    /* Catalog: hash by key (writer only) and array by id (read under state_lock). */
    series **hash_buckets;
    uint64_t hash_bucket_count; /* power of two */
    series **by_id;             /* index = id; entry 0 unused */
    uint64_t by_id_capacity;
    uint64_t series_count; /* published series; ids 1..series_count */

    uint64_t published_txn_id; /* LMDB transaction whose state is published (under state_lock) */
    series *pending_head, *pending_tail; /* see series.pending_next */
    uint64_t chunk_count, chunk_bytes;   /* published with the states, under state_lock */
    uint64_t log_blocks, log_bytes;
    uint64_t log_rewritten_readings; /* tail readings written again to the log since open */
    uint64_t relog_credit; /* readings relog_old_tails may still rewrite (writer only) */
    uint64_t next_log_seq;   /* sequence number for the next log block */
    uint64_t oldest_log_seq; /* smallest log key present (next_log_seq when empty) */

    /* Writer queue. */
    pthread_mutex_t queue_mutex;
    pthread_cond_t queue_cond; /* signalled when work arrives or stopping */
    pthread_cond_t done_cond;  /* broadcast when requests complete */
    struct write_request *queue_head, *queue_tail;
    int stopping;
    int writer_started;
    pthread_t writer;

    atomic_ullong points_written;
    atomic_ullong commits;
};

/* 16-byte chunk key: big-endian series id, then the first timestamp with its sign bit flipped
 * so that signed times sort as unsigned bytes. */
#define CHUNK_KEY_BYTES 16
void store_chunk_key(uint8_t key[CHUNK_KEY_BYTES], uint64_t id, int64_t first_ms);
void store_chunk_key_parse(const uint8_t *key, uint64_t *id, int64_t *first_ms);

/* Positions cursor on the last chunk of series id starting at or before ms, or when there is
 * none on the series' first chunk; fills key and value. Returns 0, MDB_NOTFOUND when the series
 * has no chunk, or another MDB code. */
int store_chunk_floor(MDB_cursor *cursor, uint64_t id, int64_t ms, MDB_val *key, MDB_val *value);

/* Releases one reference to a tail buffer (NULL ignored); frees it at zero. */
void store_tail_release(tail_buffer *tail);

/* Writes the postings key for tag key=value into out and returns its length. Pairs too long for
 * an LMDB key are replaced by the tag key and a hash of the value; st_select then re-checks
 * matches against the series key. */
size_t store_posting_key(char *out, size_t out_size, const char *key, size_t key_len,
                         const char *value, size_t value_len);

/* Translates an LMDB or errno code into a JL_* code with a message that keeps LMDB's text. */
int store_lmdb_error(jl_error *err, int rc, const char *what);

#endif
