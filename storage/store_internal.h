/* Internal interface of the store, shared by its files (not a public interface):
 *   keys.c      chunk keys and the floor lookup in the chunks database
 *   catalog.c   series ids, the in-memory catalog, postings (written and read: st_select)
 *   tail.c      tail buffers, the per-transaction series state, the pending list
 *   tail_segment.c  frozen tail segments: a tail's older readings packed in memory
 *   seal.c      planning seals and sealing tails into chunks
 *   merge.c     late readings merged into sealed chunks
 *   log.c       the write log: blocks, truncation, rewriting old tails, replay at open
 *   writer.c    the writer thread: group commit, publish, map growth; st_write
 *   store.c     opening (databases, format version, recovery driving), closing, statistics
 *   snapshot.c  read views and cursors;  backup.c  st_store_backup;  batch.c  st_batch
 *   review.c    review marks: the "review" database, the in-memory set in force, spans
 *   retention.c retention: chunks past the cut deleted by passes in the writer, late writes
 *               past it dropped
 *   series_state.c  the sealed state of each series in LMDB: kept by the writer, read at open
 *   events.c    alarm events: the "events" database (st_event_put, st_event_list)
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

#include "jialing/alarm.h"
#include "jialing/review.h"
#include "jialing/store.h"
#include "bytes.h"
#include "disk_format.h"

/* The store's on-disk constants and key layouts are in disk_format.h, section 4. */

/* Readings a tail's head holds before they are frozen into a segment, and the most a segment
 * holds (late readings inserted into one may grow it that far before it is split). 32: a head
 * costs up to 32 x 17 bytes per series whatever the tail's length, and a segment's fixed part
 * (its struct, its allocation and its pointer, ~56 bytes) is under 2 bytes per reading. */
#define TAIL_SEGMENT_READINGS 32
#define TAIL_SEGMENT_MAX 64

/* An entry of a tail buffer's segment index: the segment's last time beside it, so that a
 * binary search reads the index alone. */
typedef struct tail_segment_ref {
    int64_t last_ms;
    struct tail_segment *segment;
} tail_segment_ref;

/* A run of a tail's older readings, encoded (storage/tail_segment.c); immutable once made and
 * shared by reference count. A tail's segments are a list from the newest to the oldest, so
 * that freezing adds one in O(1) to a list other buffers share; a late reading copies only the
 * segments newer than the one it goes into. */
typedef struct tail_segment {
    atomic_int references;      /* owners: tail buffers whose newest it is, newer segments */
    struct tail_segment *older; /* the segment before it, holding a reference; NULL: oldest */
    uint32_t count;             /* readings, 1..TAIL_SEGMENT_MAX */
    int64_t first_ms, last_ms;
    uint32_t bytes; /* of data */
    uint8_t data[];
} tail_segment;

/* Unsealed readings of one series, sorted by time, shared by reference count with snapshots:
 * frozen segments (the oldest readings, a few bytes each) and then the head, the newest
 * readings in plain arrays. A state's tail_count readings are the frozen_count of the segments
 * and then head entries [0, tail_count - frozen_count). The writer only ever writes head
 * entries beyond every published count, or into a private copy; segments and frozen_count of a
 * buffer a reader can see never change (freezing makes a new buffer), so readers of
 * [0, their count) never see a change. */
typedef struct tail_buffer {
    atomic_int references;  /* owners: the live state, each snapshot, the writer's next state */
    uint32_t capacity;      /* head entries allocated */
    uint32_t frozen_count;  /* readings in the segments */
    uint32_t segment_count; /* segments in the list from newest */
    tail_segment *newest;   /* the newest segment, holding a reference; NULL: none */
    /* Writer only: the segments newest first, built by the first lookup of a time in a long
     * list (segment_for in tail.c) and dropped whenever the list changes; NULL until then. */
    tail_segment_ref *segment_index;
    uint32_t segment_index_count;
    int64_t *timestamps_ms; /* the head, in one allocation with values and flags */
    double *values;
    uint8_t *flags; /* data flag code of each reading (JL_FLAG_*) */
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

/* The review marks in force (not withdrawn) as of one commit: immutable once published, shared
 * by reference count between the store (store->reviews) and the snapshots taken from it; every
 * change builds a new set. */
typedef struct review_entry {
    uint64_t id;
    int64_t from_ms, to_ms;
    int valid;
} review_entry;

/* One series a mark in force names: mark is an index into review_set.marks. */
typedef struct review_pair {
    uint64_t series_id;
    uint64_t mark;
} review_pair;

typedef struct review_set {
    atomic_int references; /* owners: the store's published pointer, each snapshot, the writer */
    review_entry *marks;   /* marks in force, ascending id */
    size_t count;
    review_pair *pairs; /* sorted by series_id, then mark (so by id): a series' marks are one
                           run found by binary search, not a walk over every mark */
    size_t pair_count;
    uint64_t stored;    /* marks stored, withdrawn ones included (st_stats) */
    uint64_t withdrawn; /* of which withdrawn */
} review_set;

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
    int state_change;            /* 1 + its index in wt->state_changes while the transaction
                                    changed its chunks, else 0 (writer only) */
    struct series *touched_next; /* list of touched series in this transaction */
    struct series *pending_prev; /* pending list: series with a non-empty live tail, */
    struct series *pending_next; /* in tail_min_seq order (writer only) */
} series;

struct st_store {
    MDB_env *env;
    MDB_dbi db_meta, db_series, db_postings, db_chunks, db_log, db_review, db_series_state,
        db_events;
    int has_review_db;       /* 0: a read-only open of a store without the "review" database */
    int has_series_state_db; /* 0: a read-only open of a store without "series_state" */
    uint64_t states_rebuilt; /* series whose sealed state open rebuilt from their chunks */
    int has_events_db;       /* 0: a read-only open of a store without the "events" database */
    uint64_t event_next_id;  /* id of the next event (writer only; loaded at open) */
    /* The commit hook (st_store_set_commit_hook), under queue_mutex; the writer copies it when
     * it takes a group. */
    st_commit_hook commit_hook;
    void *commit_hook_ctx;
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
    uint64_t pending_count;              /* series in the pending list (writer only) */
    uint64_t chunk_count, chunk_bytes;   /* published with the states, under state_lock */
    uint64_t log_blocks, log_bytes;
    uint64_t log_rewritten_readings; /* tail readings written again to the log since open */
    uint64_t relog_credit;           /* readings relog_old_tails may still rewrite (writer only) */
    uint64_t next_log_seq;           /* sequence number for the next log block */
    uint64_t oldest_log_seq;         /* smallest log key present (next_log_seq when empty) */
    review_set *reviews;             /* marks in force, published with the states (state_lock) */
    uint64_t review_next_id;         /* id of the next mark (writer only) */

    /* Writer queue. */
    pthread_mutex_t queue_mutex;
    pthread_cond_t queue_cond; /* signalled when work arrives or stopping */
    pthread_cond_t done_cond;  /* broadcast when requests complete */
    struct write_request *queue_head, *queue_tail;
    int stopping;
    int writer_started;
    pthread_t writer;

    atomic_ullong points_written;
    atomic_ullong flagged_points_written; /* of which with a flag other than N */
    atomic_ullong commits;
    atomic_ullong retention_chunks_deleted;   /* since open (retention.c) */
    atomic_ullong retention_readings_deleted; /* readings those chunks held */
    atomic_ullong retention_dropped_readings; /* written past the cut, not stored */
};

/* ---------- writer state (writer.c; used by the files it calls) ---------- */

/* A review operation carried to the writer (st_review_add, st_review_withdraw). */
enum { REVIEW_OP_ADD = 1, REVIEW_OP_WITHDRAW = 2 };
typedef struct review_op {
    int kind;                   /* REVIEW_OP_* */
    const st_review_mark *mark; /* add: the mark as given (validated by the caller) */
    uint64_t id;                /* withdraw: the mark; add: set by the writer to the new id */
    int64_t when_ms;            /* withdraw: when */
    const char *by;             /* withdraw: by whom (never NULL) */
} review_op;

/* One retention pass carried to the writer (retention.c): from a series id on, bounded work. */
typedef struct retention_op {
    int64_t now_ms;   /* the clock of the pass, set by whoever queues it */
    uint64_t from_id; /* first series id of the pass (0 taken as 1) */
    uint64_t next_id; /* out: where the next pass starts; 0 when this one ended the cycle */
    uint64_t series_examined, chunks_deleted, readings_deleted; /* out: this pass's work */
    void *keys; /* room for the keys of the chunks a pass deletes (retention.c owns it) */
} retention_op;

/* Events to store in one request (st_event_put). */
typedef struct event_op {
    st_event *events;      /* new ones get their id written back */
    const uint8_t *is_new; /* per event: 1 when it is new (its id was 0 when put). Decided once,
                              not from the id: a transaction retried (map grown, or a group
                              replayed request by request) would find the ids the rolled-back
                              attempt wrote back */
    size_t count;
} event_op;

/* What a request carries: readings (st_write), one review operation, one retention pass or
 * events. */
/* WRITE_SYNC carries nothing: its completion says that every group taken before it has been
 * committed and handed to the commit hook (st_store_sync_hook). */
enum { WRITE_BATCH = 0, WRITE_REVIEW = 1, WRITE_RETENTION = 2, WRITE_EVENTS = 3, WRITE_SYNC = 4 };

typedef struct write_request {
    int kind; /* WRITE_BATCH, WRITE_REVIEW, WRITE_RETENTION, WRITE_EVENTS or WRITE_SYNC */
    const st_batch *batch;   /* WRITE_BATCH */
    uint64_t *series_ids;    /* WRITE_BATCH: the id of each batch series, set by the writer
                                (malloc'ed; freed by st_write) for the commit hook */
    review_op *review;       /* WRITE_REVIEW */
    retention_op *retention; /* WRITE_RETENTION */
    event_op *events;        /* WRITE_EVENTS */
    jl_buf log_block; /* the batch as a log block, encoded by the caller; ids filled in later */
    int done;
    int result;
    jl_error error;
    struct write_request *next;
} write_request;

/* A reading that falls at or before its series' sealed end, to merge into a chunk. */
typedef struct late_reading {
    series *owner;
    int64_t ms;
    double value;
    uint8_t flag;   /* data flag code, replaced with the value */
    uint64_t order; /* arrival order, so the last write of a timestamp wins */
} late_reading;

/* A series whose chunks the transaction changed, with the change in its chunk count and bytes:
 * its sealed-state record is rewritten before the commit (series_state_write). */
typedef struct state_change {
    series *owner;
    int64_t chunks, bytes;
} state_change;

/* Per-transaction state of the writer. */
typedef struct writer_txn {
    MDB_txn *txn;
    series *touched;  /* list through touched_next */
    series **created; /* series created in this transaction */
    size_t created_count, created_capacity;
    uint64_t first_new_id; /* id of the first created series */
    late_reading *late;
    size_t late_count, late_capacity;
    jl_buf scratch;   /* encoding buffer */
    int64_t *tail_ms; /* tail_unpack(): the readings of one tail */
    double *tail_values;
    uint8_t *tail_flags;
    size_t tail_capacity;
    int64_t *merge_ms; /* decode/merge buffers */
    double *merge_values;
    uint8_t *merge_flags;
    size_t merge_capacity;
    uint64_t points;
    uint64_t flagged_points;        /* of points, those with a flag other than N */
    review_set *review_next;        /* the new set of marks in force, NULL while unchanged */
    review_set *review_old;         /* publish(): the set it replaced, released after state_lock */
    uint64_t review_next_id_before; /* store->review_next_id when the transaction began */
    uint64_t log_cut_below; /* log blocks below this sequence are deleted by this transaction */
    uint64_t first_seq;     /* log sequence of the transaction's first request */
    uint64_t next_seq;      /* log sequence for the next block this transaction writes */
    st_batch relog_batch;   /* tails written again to the log: remainders of fitted seals, */
    series **relogged;      /* and old tails (relog_old_tails); their series, in order */
    size_t relogged_count, relogged_capacity;
    uint64_t relogged_readings;   /* readings write_relogged() wrote */
    uint64_t relog_credit_before; /* store->relog_credit when the transaction began */
    jl_buf relog_block;
    size_t touched_count; /* series in the touched list */
    series **joining;     /* publish(): series whose tail joins the pending list */
    size_t joining_capacity;
    int64_t chunk_count_delta, chunk_bytes_delta; /* counters published with the states */
    int64_t log_blocks_delta, log_bytes_delta;
    state_change *state_changes; /* series whose chunks changed, see state_change */
    size_t state_change_count, state_change_capacity;
    uint64_t event_next_id_before; /* store->event_next_id when the transaction began */
    st_commit_hook hook;           /* copied from the store when the group was taken */
    void *hook_ctx;
    st_commit_batch *hook_batches; /* reused array handed to the hook */
    size_t hook_capacity;
} writer_txn;

/* ---------- store.c ---------- */

/* Translates an LMDB or errno code into a JL_* code with a message that keeps LMDB's text: a full
 * map is JL_EFULL (the writer grows it and retries), a full disk or quota JL_EDISKFULL. */
int store_lmdb_error(jl_error *err, int rc, const char *what);

/* Opens a read-only transaction and a cursor on db, for a listing that walks one database (the
 * review marks', the events'); the caller holds store->map_lock for reading until
 * store_read_cursor_close(). Sets *txn and *cursor (owned by the caller). JL_OK, or the LMDB
 * error translated by store_lmdb_error() with what ("reading the events"), *txn and *cursor then
 * NULL. */
int store_read_cursor(st_store *store, MDB_dbi db, const char *what, MDB_txn **txn,
                      MDB_cursor **cursor, jl_error *err);

/* Closes the cursor and aborts the transaction of store_read_cursor(); either may be NULL. */
void store_read_cursor_close(MDB_txn *txn, MDB_cursor *cursor);

/* The first of the count elements at base (stride bytes apart, ascending by the uint64_t at
 * offset in each) whose key is >= key, count when none: the searches of sorted ids and records
 * (review marks by id, review pairs by series id, event ids). */
size_t store_lower_bound_u64(const void *base, size_t count, size_t stride, size_t offset,
                             uint64_t key);

/* Checks the envelope shared by the records of the review and events databases (disk_format.h
 * section 4): an 8-byte big-endian id key (not 0); a value of at least min_bytes whose byte 0 is
 * version, byte 1 flags within known_flags, and whose last 4 bytes are the CRC-32C of the rest.
 * what names a record in messages ("review mark", "event"). Sets *id and *flags. JL_OK, or
 * JL_ECORRUPT naming the record and what is wrong. */
int store_record_check(const MDB_val *key, const MDB_val *value, size_t min_bytes, uint8_t version,
                       uint8_t known_flags, const char *what, uint64_t *id, uint8_t *flags,
                       jl_error *err);

/* ---------- keys.c ---------- */

/* Positions cursor on the last chunk of series id starting at or before ms, or when there is
 * none on the series' first chunk; fills key and value. Returns 0, MDB_NOTFOUND when the series
 * has no chunk, or another MDB code. */
int store_chunk_floor(MDB_cursor *cursor, uint64_t id, int64_t ms, MDB_val *key, MDB_val *value);

/* ---------- catalog.c ---------- */

/* Reads every id of the posting with this exact (already encoded) key into *ids, grown as
 * needed (*ids may hold an earlier buffer; the caller frees it, also on error), *count ids,
 * leaving the cursor inside the posting. JL_OK (0 ids when there is no such posting),
 * JL_ENOMEM, or a translated LMDB error. */
int catalog_posting_ids(MDB_cursor *cursor, const char *key, size_t key_len, uint64_t **ids,
                        size_t *count, jl_error *err);

/* Allocates the empty hash of the catalog; JL_OK or JL_ENOMEM. */
int catalog_init(st_store *store);

/* Frees every series, the hash and by_id. */
void catalog_destroy(st_store *store);

/* Unlinks a series created by a failed transaction from the hash (by_id never held it). */
void catalog_unlink(st_store *store, series *target);

/* Frees a series and its reference to its live tail. */
void catalog_series_free(series *s);

/* Makes by_id large enough for ids up to max_id; called under state_lock (write) or at open.
 * JL_OK or JL_ENOMEM. */
int catalog_reserve_ids(st_store *store, uint64_t max_id);

/* Finds or creates the series for a canonical key within the writer's transaction; a created
 * series is written to the catalog and the postings and listed in wt->created. JL_OK, JL_EINVAL
 * (not a canonical key), JL_ENOMEM or an LMDB error. */
int catalog_series_for_key(st_store *store, writer_txn *wt, const char *key, size_t len,
                           uint64_t hash, series **out, jl_error *err);

/* The catalog's hash of a canonical key, for catalog_series_for_key and the prefetches. */
uint64_t catalog_key_hash(const char *key, size_t len);

/* Prefetch hints for a lookup of hash some keys later (they read nothing that may be stale and
 * change nothing): the bucket, then the first series in it and that series' key and tail.
 * Why: at 10^5 series each lookup missed the cache twice in a row (bucket, then series) and
 * the reading that followed a third time (the tail's head), a fifth of the writer's CPU. */
void catalog_prefetch_bucket(const st_store *store, uint64_t hash);
void catalog_prefetch_series(const st_store *store, uint64_t hash);
void catalog_prefetch_key_and_tail(const st_store *store, uint64_t hash);

/* Loads the series database into the catalog at open: JL_OK, JL_ECORRUPT (ids not dense),
 * JL_ENOMEM or an LMDB error. */
int catalog_load(st_store *store, MDB_txn *txn, jl_error *err);

/* ---------- tail_segment.c ---------- */

/* A segment of the count readings given (1..TAIL_SEGMENT_MAX, times strictly increasing) with
 * one reference; NULL when out of memory. */
tail_segment *tail_segment_encode(const int64_t *ms, const double *values, const uint8_t *flags,
                                  uint32_t count);

/* Writes the segment's count readings to ms/values/flags; values are bitwise the ones encoded. */
void tail_segment_decode(const tail_segment *segment, int64_t *ms, double *values, uint8_t *flags);

/* Releases one reference (NULL ignored); frees the segment at zero, and so on down the list. */
void tail_segment_release(tail_segment *segment);

/* ---------- tail.c ---------- */

/* A new tail buffer holding the n readings given (n >= 1), older ones frozen into segments,
 * with one reference; NULL when out of memory. */
tail_buffer *tail_from_readings(const int64_t *ms, const double *values, const uint8_t *flags,
                                uint32_t n);

/* Copies into ms/values/flags (room for `count` each) the readings of a tail of `count`
 * readings whose times lie in [from_ms, last_ms]; returns how many. Segments out of the range
 * are not decoded. */
uint32_t tail_read(const tail_buffer *tail, uint32_t count, int64_t from_ms, int64_t last_ms,
                   int64_t *ms, double *values, uint8_t *flags);

/* Fills wt->tail_ms, tail_values and tail_flags with every reading of the next tail of s (the
 * writer's view for sealing and rewriting to the log). JL_OK or JL_ENOMEM. */
int tail_unpack(writer_txn *wt, const series *s);

/* Releases one reference to a tail buffer (NULL ignored); frees it and releases its segments at
 * zero. */
void store_tail_release(tail_buffer *tail);

/* Prefetch hints for tail_add on a series whose state is st (its next state once touched),
 * some readings ahead (nothing read that may be stale, nothing changed): the tail buffer, then
 * the head slot where the next reading goes. */
void tail_prefetch_buffer(const series_state *st);
void tail_prefetch_append(const series_state *st);

/* Lists s as touched by the transaction, its next state a copy of live (once per transaction). */
void tail_touch(writer_txn *wt, series *s);

/* Adds a reading newer than the sealed end to the next tail of s (last write of a timestamp
 * wins); seq is the log block holding it. JL_OK or JL_ENOMEM. */
int tail_add(series *s, int64_t ms, double value, uint8_t flag, uint64_t seq);

/* Adds n readings newer than the sealed end to the next tail of s at once, as n tail_add calls
 * in order would (of equal times the later wins), by decoding the tail, merging and encoding it
 * again: for runs that land inside the tail, such as a tail written again to the log and
 * replayed over its older copies, where tail_add re-encodes a segment and copies every newer
 * one per reading. JL_OK or JL_ENOMEM (s unchanged). */
int tail_merge_run(series *s, const int64_t *ms, const double *values, const uint8_t *flags,
                   uint32_t n, uint64_t seq);

/* Counts a reading in the state: is_new when its timestamp was not stored before. */
void tail_note_reading(series_state *st, int64_t ms, double value, int is_new);

/* The pending list: series with a non-empty live tail, in tail_min_seq order. */
void tail_pending_unlink(st_store *store, series *s);
void tail_pending_append(st_store *store, series *s);

/* qsort order of series pointers by next.tail_min_seq. */
int tail_compare_next_min_seq(const void *a, const void *b);

/* ---------- seal.c ---------- */

/* Chooses when the series' next tail is sealed and how many bytes its chunk may take, from a
 * chunk of count readings taking bytes over span_ms. */
void seal_plan(const st_store *store, series *s, uint64_t count, uint64_t bytes, double span_ms);

/* Seals the next tail of s into chunks: with `fit` and a budget, the longest prefix that fills
 * the series' pages; otherwise all of it. JL_OK, JL_ENOMEM, JL_ECORRUPT or an LMDB error. */
int seal_tail(st_store *store, writer_txn *wt, series *s, int fit, jl_error *err);

/* Encodes readings of s into chunks of at most chunk_max readings each, split evenly, and puts
 * them; adds the encoded size to *bytes when bytes is not NULL. */
int seal_put_chunks(st_store *store, writer_txn *wt, series *s, const int64_t *ms,
                    const double *values, const uint8_t *flags, size_t count, uint64_t *bytes,
                    jl_error *err);

/* ---------- merge.c ---------- */

/* Gives the merge buffers room for `needed` readings; JL_OK or JL_ENOMEM. */
int merge_reserve(writer_txn *wt, size_t needed);

/* Decodes the chunk in data into the merge buffers starting at offset; sets *count. */
int merge_decode_chunk(writer_txn *wt, const MDB_val *data, size_t offset, size_t *count,
                       jl_error *err);

/* Notes a reading at or before the sealed end of s, to merge at the end of the transaction;
 * order is its arrival order. JL_OK or JL_ENOMEM. */
int merge_add_late(writer_txn *wt, series *s, int64_t ms, double value, uint8_t flag,
                   uint64_t order);

/* Merges the late readings of the transaction into the chunks they fall into. */
int merge_late(st_store *store, writer_txn *wt, jl_error *err);

/* ---------- log.c ---------- */

/* Fills the series ids into an encoded block and appends it to the log under seq. */
int log_put_block(st_store *store, writer_txn *wt, uint64_t seq, const uint64_t *ids, jl_buf *block,
                  jl_error *err);

/* Notes that the tail of s goes back to the log when log_write_relogged() runs; once per
 * series. JL_OK or JL_ENOMEM. */
int log_relog_tail(writer_txn *wt, series *s, jl_error *err);

/* Lists for rewriting the tails that alone keep old log blocks, within the credit. */
int log_relog_old_tails(st_store *store, writer_txn *wt, jl_error *err);

/* Writes the tails listed by log_relog_tail() to the log as a few new blocks. */
int log_write_relogged(st_store *store, writer_txn *wt, jl_error *err);

/* Deletes log blocks no tail needs any more; seals tails that pin a log grown too long. */
int log_truncate(st_store *store, writer_txn *wt, jl_error *err);

/* Rebuilds the tails and the pending list from the write log at open: JL_OK, JL_ECORRUPT,
 * JL_ENOMEM or an LMDB error. */
int log_replay(st_store *store, MDB_txn *txn, jl_error *err);

/* ---------- writer.c ---------- */

/* Starts the writer thread; JL_OK or JL_ENOMEM. */
int writer_start(st_store *store, jl_error *err);

/* Stops the writer after the requests already queued (no-op when it was not started). */
void writer_stop(st_store *store);

/* Queues a prepared request (its kind and payload set, the rest zero) and blocks until the
 * writer has committed or failed it; returns its result, copying its error into err. JL_EBUSY
 * when the store is shutting down (nothing queued). */
int writer_submit(st_store *store, write_request *request, jl_error *err);

/* ---------- series_state.c ---------- */

/* One record of the "series_state" database (disk_format.h, section 4), decoded. */
typedef struct series_record {
    uint8_t last_flag;            /* data flag code of the last sealed reading */
    uint64_t chunks, chunk_bytes; /* the series' chunks and the bytes of their values */
    uint64_t sealed_count;        /* readings in them */
    int64_t first_ms, last_ms;    /* first and last sealed reading */
    double last_value;            /* value at last_ms */
    uint32_t last_chunk_count, last_chunk_bytes; /* of the last chunk, for seal_plan */
    int64_t last_chunk_first_ms;
} series_record;

/* Writes the record's SERIES_STATE_VALUE_BYTES bytes, checksum included. */
void series_state_encode(const series_record *record, uint8_t *out);

/* Decodes and validates a record (the order of disk_format.h): JL_OK or JL_ECORRUPT. */
int series_state_decode(const void *data, size_t len, series_record *record, jl_error *err);

/* Puts the empty record (chunks 0, every field 0) of series id in txn: when the series is
 * created, and (series_state.c) when it has no chunk left.
 * Ids only grow, so these puts append to the database and fill its pages, and every later
 * rewrite of the record is in place: records first put at a series' first seal, in seal order,
 * land in the middle of the tree and left its pages about half full (141 MB for 857,896 records
 * of 88 bytes at 10^6 series). JL_OK or an LMDB error (err set). */
int series_state_create(st_store *store, MDB_txn *txn, uint64_t id, jl_error *err);

/* Notes that the transaction put (chunks > 0) or deleted (chunks < 0) chunks of s taking bytes;
 * every put or delete in the chunks database must be noted, so that the series' record is
 * rewritten in the same transaction. JL_OK or JL_ENOMEM (err set). */
int series_state_note_chunks(writer_txn *wt, series *s, int64_t chunks, int64_t bytes,
                             jl_error *err);

/* Rewrites the records of the series noted in this transaction from their new chunks (first
 * and last chunk read back, counts from the old record and the noted changes; a record that
 * fails validation is rebuilt from all the series' chunks), then forgets the notes. Called
 * after the last change to chunks, before the commit. JL_OK, JL_ENOMEM, JL_ECORRUPT or an LMDB
 * error. */
int series_state_write(st_store *store, writer_txn *wt, jl_error *err);

/* Forgets the notes of a transaction that is rolled back (idempotent). */
void series_state_forget(writer_txn *wt);

/* Sets the sealed state of every series at open (after catalog_load, before log_replay) and the
 * store's chunk totals: from the records when the directory is of format 5 and has them, else
 * (stored_version < 5) by walking every chunk once, writing the records unless read-only. A
 * record that fails validation is rebuilt from its series' chunks (counted in states_rebuilt,
 * and said on stderr). JL_OK, JL_ECORRUPT (a key or a chunk that cannot be read), JL_ENOMEM or
 * an LMDB error. */
int series_state_load(st_store *store, MDB_txn *txn, uint32_t stored_version, jl_error *err);

/* ---------- review.c ---------- */

/* Loads every stored mark at open: the set in force (store->reviews, an empty set when there
 * is none or no database) and the next id. JL_OK, JL_ECORRUPT (an entry failed validation or
 * names an unknown series), JL_ENOMEM or an LMDB error. */
int review_load(st_store *store, MDB_txn *txn, jl_error *err);

/* Applies one review operation inside the writer's transaction: puts the entry and builds
 * wt->review_next. JL_OK, JL_ENOTFOUND / JL_ECONFLICT (withdraw), JL_ECORRUPT, JL_ENOMEM or an
 * LMDB error (JL_EFULL included); on error the caller rolls the transaction back. */
int review_apply(st_store *store, writer_txn *wt, review_op *op, jl_error *err);

/* Releases one reference to a set (NULL ignored); frees it at zero. */
void review_set_release(review_set *set);

/* ---------- events.c ---------- */

/* Finds the next event id at open (the last key + 1). JL_OK or an LMDB error. */
int events_load(st_store *store, MDB_txn *txn, jl_error *err);

/* Puts the events of op inside the writer's transaction. JL_OK, JL_EINVAL, JL_ENOMEM or an
 * LMDB error; on error the caller rolls the transaction back (and the next id with it). */
int events_apply(st_store *store, writer_txn *wt, event_op *op, jl_error *err);

/* Takes one more reference to a set (NULL ignored); returns set. */
review_set *review_set_retain(review_set *set);

/* Computes the resolved spans of one series from a set: among its marks, the newest wins where
 * they overlap; sorted, not overlapping, adjacent pieces of one mark merged. *spans is
 * malloc'ed (the caller frees it), NULL with *count 0 when no mark names the series. JL_OK or
 * JL_ENOMEM. */
int review_series_spans(const review_set *set, uint64_t series_id, st_review_span **spans,
                        size_t *count);

/* ---------- retention.c ---------- */

/* 1 when some metric has a retention (st_options.retention_ms or a rule > 0). */
int retention_enabled(const st_store *store);

/* Applies one retention pass inside the writer's transaction: from op->from_id, for series of a
 * metric with retention, deletes the sealed chunks whose last reading is before now - retention
 * (the newest chunk of each series kept) and sets their next first_ms, count and sealed_count
 * from the chunk headers; stops after a bounded amount of work, setting op->next_id. JL_OK,
 * JL_ECORRUPT, JL_ENOMEM or an LMDB error (JL_EFULL included); on error the caller rolls back. */
int retention_apply(st_store *store, writer_txn *wt, retention_op *op, jl_error *err);

/* Adds a committed pass's deletions to the store's counters. */
void retention_count(st_store *store, const retention_op *op);

/* Fills the retention counters of stats. */
void retention_stats(st_store *store, st_stats *stats);

/* The cycle the writer runs by itself (writer thread only). */
typedef struct retention_auto {
    retention_op op;
    int in_cycle;          /* 1 while a cycle has series left */
    int ran_since_group;   /* 1 when the last thing the writer did was a pass */
    int64_t next_cycle_ns; /* monotonic time the next cycle may start */
} retention_auto;

/* Milliseconds until the writer should run a pass: 0 now, -1 never (no retention, disabled by
 * a negative interval, read-only, or a pass just ran and writes are waiting). */
int64_t retention_auto_wait_ms(const st_store *store, const retention_auto *a, int queue_empty);

/* Prepares a->op for the next pass (clock, start of a cycle). */
void retention_auto_begin(st_store *store, retention_auto *a);

/* Notes how the pass ended (rc) and where the next starts. */
void retention_auto_end(st_store *store, retention_auto *a, int rc);

/* Frees what the cycle holds. */
void retention_auto_destroy(retention_auto *a);

/* Sets *kept to the readings of batch not already past the retention of their metric and
 * *dropped to how many are (0: *kept stays empty and batch is to be written as it is). *kept is
 * initialised in every case; the caller destroys it. JL_OK or JL_ENOMEM. */
int retention_filter(st_store *store, const st_batch *batch, st_batch *kept, uint64_t *dropped,
                     jl_error *err);

#endif
