/* The store's environment, catalog and write path: opening LMDB and recovering the in-memory
 * state (catalog, tails from the write log, latest values), the single writer thread with group
 * commit, sealing tails into chunks, merging late readings into sealed chunks, truncating the
 * write log, and growing the map. Reads live in storage/snapshot.c.
 *
 * LMDB databases:
 *   meta      "format" -> u32 format version
 *   series    u64 BE id -> canonical series key (the catalog; the key -> id index is in memory)
 *   postings  "key=value" (metric as "__name__=m") -> u64 BE ids (DUPSORT, DUPFIXED)
 *   chunks    u64 BE id + flipped-sign BE first_ms -> encoded chunk (see chunk.h)
 *   log       u64 BE sequence -> one write request's readings (the unsealed tail on disk)
 *
 * Why a log: one LMDB put per request instead of one per reading keeps durable ingest fast.
 * The readings of a request stay in the log until every series tail holding one was sealed;
 * recovery replays the log, skipping readings at or before a series' sealed end, which are in
 * chunks already (they were sealed, or merged into a chunk in the same transaction). A seal that
 * keeps part of the tail writes that part to the log again as a newer block; replaying the older
 * copies first and this one last gives the same tail, as a later write of a timestamp wins.
 * Tails that alone keep old blocks alive are written again the same way (relog_old_tails), so
 * that a few slow series do not keep everyone's readings of many chunk periods in the file. */
#include "store_internal.h"

#include <errno.h>
#include <lz4.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "jialing/serieskey.h"
#include "writelog.h"

/* 2: write-log blocks grouped by series (writelog.h). 3: chunks may carry a segment table
 * (CK_FLAG_SEGMENTS), which an older build would take for corruption. Older directories are
 * still read, and marked with the current version when opened for writing: their old blocks
 * and chunks stay readable. */
#define FORMAT_VERSION 3u
#define FORMAT_VERSION_OLDEST 1u
#define POSTING_KEY_MAX 480 /* LMDB keys are at most 511 bytes; longer postings are hashed */

typedef struct write_request {
    const st_batch *batch;
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
    uint64_t order; /* arrival order, so the last write of a timestamp wins */
} late_reading;

/* Per-transaction state of the writer. */
typedef struct writer_txn {
    MDB_txn *txn;
    series *touched;  /* list through touched_next */
    series **created; /* series created in this transaction */
    size_t created_count, created_capacity;
    uint64_t first_new_id; /* id of the first created series */
    late_reading *late;
    size_t late_count, late_capacity;
    jl_buf scratch;    /* encoding buffer */
    int64_t *merge_ms; /* decode/merge buffers */
    double *merge_values;
    size_t merge_capacity;
    uint64_t points;
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
} writer_txn;

/* ---------- small helpers ---------- */

static void put_u64_be(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_u64_be(const uint8_t *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

static void put_u32_le(uint8_t *out, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32_le(const uint8_t *in)
{
    return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

void store_chunk_key(uint8_t key[CHUNK_KEY_BYTES], uint64_t id, int64_t first_ms)
{
    put_u64_be(key, id);
    put_u64_be(key + 8, (uint64_t)first_ms ^ 0x8000000000000000ull);
}

void store_chunk_key_parse(const uint8_t *key, uint64_t *id, int64_t *first_ms)
{
    *id = get_u64_be(key);
    *first_ms = (int64_t)(get_u64_be(key + 8) ^ 0x8000000000000000ull);
}

/* The LMDB code behind the last error on this thread: the writer must tell a full map (grow it
 * and retry) from a full disk (refuse), which the JL_EFULL code alone does not say. */
static _Thread_local int last_lmdb_code;

int store_chunk_floor(MDB_cursor *cursor, uint64_t id, int64_t ms, MDB_val *key, MDB_val *value)
{
    uint8_t probe[CHUNK_KEY_BYTES];
    uint64_t found_id;
    int64_t start;
    /* The floor is the entry before the first key past (id, ms). */
    if (ms == INT64_MAX)
        store_chunk_key(probe, id + 1, INT64_MIN);
    else
        store_chunk_key(probe, id, ms + 1);
    key->mv_size = CHUNK_KEY_BYTES;
    key->mv_data = probe;
    int rc = mdb_cursor_get(cursor, key, value, MDB_SET_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get(cursor, key, value, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cursor, key, value, MDB_LAST);
    if (rc == 0) {
        store_chunk_key_parse(key->mv_data, &found_id, &start);
        if (found_id == id)
            return 0;
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    /* No chunk of the series starts at or before ms: its first chunk, if any. */
    store_chunk_key(probe, id, ms);
    key->mv_size = CHUNK_KEY_BYTES;
    key->mv_data = probe;
    rc = mdb_cursor_get(cursor, key, value, MDB_SET_RANGE);
    if (rc != 0)
        return rc;
    store_chunk_key_parse(key->mv_data, &found_id, &start);
    return found_id == id ? 0 : MDB_NOTFOUND;
}

int store_lmdb_error(jl_error *err, int rc, const char *what)
{
    last_lmdb_code = rc;
    int code = JL_ESTORE;
    if (rc == MDB_MAP_FULL || rc == ENOSPC || rc == EDQUOT)
        code = JL_EFULL;
    else if (rc == MDB_READERS_FULL)
        code = JL_EBUSY;
    else if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_INVALID)
        code = JL_ECORRUPT;
    else if (rc == EIO)
        code = JL_EIO;
    else if (rc == ENOMEM)
        code = JL_ENOMEM;
    return jl_error_set(err, code, "%s: %s", what, mdb_strerror(rc));
}

static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

void store_tail_release(tail_buffer *tail)
{
    if (tail == NULL)
        return;
    if (atomic_fetch_sub(&tail->references, 1) == 1) {
        free(tail->timestamps_ms);
        free(tail->values);
        free(tail);
    }
}

static tail_buffer *tail_new(uint32_t capacity)
{
    tail_buffer *tail = calloc(1, sizeof *tail);
    if (tail == NULL)
        return NULL;
    tail->timestamps_ms = malloc(sizeof(int64_t) * capacity);
    tail->values = malloc(sizeof(double) * capacity);
    if (tail->timestamps_ms == NULL || tail->values == NULL) {
        free(tail->timestamps_ms);
        free(tail->values);
        free(tail);
        return NULL;
    }
    atomic_init(&tail->references, 1);
    tail->capacity = capacity;
    return tail;
}

/* ---------- catalog ---------- */

static series *catalog_find(st_store *store, const char *key, size_t len, uint64_t hash)
{
    series *s = store->hash_buckets[hash & (store->hash_bucket_count - 1)];
    for (; s; s = s->hash_next)
        if (s->hash == hash && s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
    return NULL;
}

static int catalog_grow_hash(st_store *store)
{
    uint64_t count = store->hash_bucket_count * 2;
    series **buckets = calloc(count, sizeof *buckets);
    if (buckets == NULL)
        return JL_ENOMEM;
    for (uint64_t b = 0; b < store->hash_bucket_count; b++) {
        series *s = store->hash_buckets[b];
        while (s) {
            series *next = s->hash_next;
            s->hash_next = buckets[s->hash & (count - 1)];
            buckets[s->hash & (count - 1)] = s;
            s = next;
        }
    }
    free(store->hash_buckets);
    store->hash_buckets = buckets;
    store->hash_bucket_count = count;
    return JL_OK;
}

/* Creates a series struct and links it into the hash (not yet into by_id). */
static series *catalog_insert(st_store *store, uint64_t id, const char *key, size_t len,
                              uint64_t hash, uint64_t total_series)
{
    if (total_series * 2 > store->hash_bucket_count && catalog_grow_hash(store) != JL_OK)
        return NULL;
    series *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->key = malloc(len + 1);
    if (s->key == NULL) {
        free(s);
        return NULL;
    }
    memcpy(s->key, key, len);
    s->key[len] = '\0';
    s->key_len = (uint32_t)len;
    s->id = id;
    s->hash = hash;
    s->live.sealed_max_ms = INT64_MIN;
    s->seal_threshold = store->options.chunk_target ? store->options.chunk_target : 2048;
    s->seal_budget = 0; /* the first chunk is sealed whole, and teaches the size per reading */
    uint64_t bucket = hash & (store->hash_bucket_count - 1);
    s->hash_next = store->hash_buckets[bucket];
    store->hash_buckets[bucket] = s;
    return s;
}

static void catalog_unlink(st_store *store, series *target)
{
    series **link = &store->hash_buckets[target->hash & (store->hash_bucket_count - 1)];
    while (*link && *link != target)
        link = &(*link)->hash_next;
    if (*link)
        *link = target->hash_next;
}

static void series_free(series *s)
{
    store_tail_release(s->live.tail);
    free(s->key);
    free(s);
}

/* Makes by_id large enough for ids up to max_id; called under state_lock (write) or at open. */
static int catalog_reserve_ids(st_store *store, uint64_t max_id)
{
    if (max_id < store->by_id_capacity)
        return JL_OK;
    uint64_t capacity = store->by_id_capacity ? store->by_id_capacity : 1024;
    while (capacity <= max_id)
        capacity *= 2;
    series **grown = realloc(store->by_id, capacity * sizeof *grown);
    if (grown == NULL)
        return JL_ENOMEM;
    memset(grown + store->by_id_capacity, 0, (capacity - store->by_id_capacity) * sizeof *grown);
    store->by_id = grown;
    store->by_id_capacity = capacity;
    return JL_OK;
}

size_t store_posting_key(char *out, size_t out_size, const char *key, size_t key_len,
                         const char *value, size_t value_len)
{
    if (key_len + 1 + value_len <= POSTING_KEY_MAX && key_len + 1 + value_len < out_size) {
        memcpy(out, key, key_len);
        out[key_len] = '=';
        memcpy(out + key_len + 1, value, value_len);
        return key_len + 1 + value_len;
    }
    uint64_t h = hash_key(value, value_len);
    size_t keep = key_len < 256 ? key_len : 256;
    return (size_t)snprintf(out, out_size, "%.*s=#%016llx", (int)keep, key, (unsigned long long)h);
}

static int put_posting(MDB_txn *txn, MDB_dbi dbi, const char *key, size_t key_len,
                       const char *value, size_t value_len, uint64_t id, jl_error *err)
{
    char posting[POSTING_KEY_MAX + 32];
    size_t len = store_posting_key(posting, sizeof posting, key, key_len, value, value_len);
    uint8_t id_be[8];
    put_u64_be(id_be, id);
    MDB_val k = {len, posting}, v = {8, id_be};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_NODUPDATA);
    if (rc != 0 && rc != MDB_KEYEXIST)
        return store_lmdb_error(err, rc, "writing a posting");
    return JL_OK;
}

/* Finds or creates the series for a canonical key within the writer's transaction. */
static int writer_series(st_store *store, writer_txn *wt, const char *key, size_t len, series **out,
                         jl_error *err)
{
    uint64_t hash = hash_key(key, len);
    series *s = catalog_find(store, key, len, hash);
    if (s) {
        *out = s;
        return JL_OK;
    }
    sk_parsed parsed;
    jl_error parse_error;
    int rc = sk_parse(key, len, &parsed, &parse_error);
    if (rc != JL_OK)
        return jl_error_set(err, JL_EINVAL, "invalid series key: %s", parse_error.message);
    uint64_t id = wt->first_new_id + wt->created_count;
    series **created = jl_array_grow(wt->created, &wt->created_capacity, wt->created_count + 1,
                                     sizeof *created, 64);
    if (created == NULL) {
        sk_parsed_destroy(&parsed);
        return jl_error_set(err, JL_ENOMEM, "out of memory creating a series");
    }
    wt->created = created;
    s = catalog_insert(store, id, key, len, hash, id);
    if (s == NULL) {
        sk_parsed_destroy(&parsed);
        return jl_error_set(err, JL_ENOMEM, "out of memory creating a series");
    }
    wt->created[wt->created_count++] = s;
    uint8_t id_be[8];
    put_u64_be(id_be, id);
    MDB_val k = {8, id_be}, v = {len, (void *)key};
    int mrc = mdb_put(wt->txn, store->db_series, &k, &v, 0);
    if (mrc != 0)
        rc = store_lmdb_error(err, mrc, "writing the series catalog");
    if (rc == JL_OK)
        rc = put_posting(wt->txn, store->db_postings, "__name__", 8, parsed.metric.data,
                         parsed.metric.len, id, err);
    for (size_t i = 0; rc == JL_OK && i < parsed.tag_count; i++)
        rc = put_posting(wt->txn, store->db_postings, parsed.tags[i].key.data,
                         parsed.tags[i].key.len, parsed.tags[i].value.data,
                         parsed.tags[i].value.len, id, err);
    sk_parsed_destroy(&parsed);
    *out = s;
    return rc;
}

/* ---------- per-transaction series state ---------- */

static void touch(writer_txn *wt, series *s)
{
    if (s->touched)
        return;
    s->touched = 1;
    s->next = s->live;
    s->tail_private = 0;
    s->touched_next = wt->touched;
    wt->touched = s;
    wt->touched_count++;
}

/* Gives next.tail room for `needed` readings, copying into a private buffer when the shared
 * one is too small. */
static int tail_reserve(series *s, uint32_t needed)
{
    tail_buffer *tail = s->next.tail;
    if (tail && needed <= tail->capacity)
        return JL_OK;
    uint32_t capacity = tail ? tail->capacity * 2 : 64;
    while (capacity < needed)
        capacity *= 2;
    if (tail && s->tail_private) {
        int64_t *ms = realloc(tail->timestamps_ms, sizeof(int64_t) * capacity);
        if (ms == NULL)
            return JL_ENOMEM;
        tail->timestamps_ms = ms;
        double *values = realloc(tail->values, sizeof(double) * capacity);
        if (values == NULL)
            return JL_ENOMEM;
        tail->values = values;
        tail->capacity = capacity;
        return JL_OK;
    }
    tail_buffer *fresh = tail_new(capacity);
    if (fresh == NULL)
        return JL_ENOMEM;
    if (tail && s->next.tail_count) {
        memcpy(fresh->timestamps_ms, tail->timestamps_ms, sizeof(int64_t) * s->next.tail_count);
        memcpy(fresh->values, tail->values, sizeof(double) * s->next.tail_count);
    }
    s->next.tail = fresh;
    s->tail_private = 1;
    return JL_OK;
}

/* Makes next.tail a private copy so that readings below the published count may change. */
static int tail_make_private(series *s)
{
    if (s->tail_private)
        return JL_OK;
    tail_buffer *shared = s->next.tail;
    tail_buffer *fresh = tail_new(shared->capacity);
    if (fresh == NULL)
        return JL_ENOMEM;
    memcpy(fresh->timestamps_ms, shared->timestamps_ms, sizeof(int64_t) * s->next.tail_count);
    memcpy(fresh->values, shared->values, sizeof(double) * s->next.tail_count);
    s->next.tail = fresh;
    s->tail_private = 1;
    return JL_OK;
}

static void note_reading(series_state *st, int64_t ms, double value, int is_new)
{
    if (is_new) {
        if (st->count == 0 || ms < st->first_ms)
            st->first_ms = ms;
        if (st->count == 0 || ms > st->last_ms) {
            st->last_ms = ms;
            st->last_value = value;
        }
        st->count++;
    } else if (ms == st->last_ms) {
        st->last_value = value;
    }
}

/* Adds a reading newer than the sealed end to the tail (last write of a timestamp wins). */
static int tail_add(series *s, int64_t ms, double value, uint64_t seq)
{
    series_state *st = &s->next;
    uint32_t n = st->tail_count;
    if (n == 0 || ms > st->tail->timestamps_ms[n - 1]) {
        int rc = tail_reserve(s, n + 1);
        if (rc != JL_OK)
            return rc;
        st->tail->timestamps_ms[n] = ms;
        st->tail->values[n] = value;
        if (n == 0)
            st->tail_min_seq = seq;
        st->tail_count = n + 1;
        note_reading(st, ms, value, 1);
        return JL_OK;
    }
    /* Out of order within the tail: find the position (binary search). */
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (st->tail->timestamps_ms[mid] < ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    int rc = tail_make_private(s);
    if (rc == JL_OK && st->tail->timestamps_ms[lo] != ms)
        rc = tail_reserve(s, n + 1);
    if (rc != JL_OK)
        return rc;
    tail_buffer *tail = st->tail;
    if (tail->timestamps_ms[lo] == ms) {
        tail->values[lo] = value;
        note_reading(st, ms, value, 0);
        return JL_OK;
    }
    memmove(tail->timestamps_ms + lo + 1, tail->timestamps_ms + lo, sizeof(int64_t) * (n - lo));
    memmove(tail->values + lo + 1, tail->values + lo, sizeof(double) * (n - lo));
    tail->timestamps_ms[lo] = ms;
    tail->values[lo] = value;
    st->tail_count = n + 1;
    note_reading(st, ms, value, 1);
    return JL_OK;
}

/* ---------- chunks ---------- */

static int merge_reserve(writer_txn *wt, size_t needed)
{
    if (needed <= wt->merge_capacity)
        return JL_OK;
    size_t capacity = wt->merge_capacity ? wt->merge_capacity : 4096;
    while (capacity < needed)
        capacity *= 2;
    int64_t *ms = realloc(wt->merge_ms, sizeof(int64_t) * capacity);
    if (ms == NULL)
        return JL_ENOMEM;
    wt->merge_ms = ms;
    double *values = realloc(wt->merge_values, sizeof(double) * capacity);
    if (values == NULL)
        return JL_ENOMEM;
    wt->merge_values = values;
    wt->merge_capacity = capacity;
    return JL_OK;
}

/* Puts the chunk encoded in wt->scratch under (id, first_ms). */
static int put_scratch_chunk(st_store *store, writer_txn *wt, uint64_t id, int64_t first_ms,
                             jl_error *err)
{
    uint8_t key[CHUNK_KEY_BYTES];
    store_chunk_key(key, id, first_ms);
    MDB_val k = {CHUNK_KEY_BYTES, key}, v = {wt->scratch.len, wt->scratch.data};
    int mrc = mdb_put(wt->txn, store->db_chunks, &k, &v, 0);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "writing a chunk");
    wt->chunk_count_delta++;
    wt->chunk_bytes_delta += (int64_t)wt->scratch.len;
    return JL_OK;
}

/* Encodes readings into chunks of at most chunk_max readings each, split evenly, and puts them;
 * adds the encoded size to *bytes when bytes is not NULL. */
static int put_chunks(st_store *store, writer_txn *wt, uint64_t id, const int64_t *ms,
                      const double *values, size_t count, uint64_t *bytes, jl_error *err)
{
    size_t pieces = (count + store->chunk_max - 1) / store->chunk_max;
    size_t start = 0;
    for (size_t p = 0; p < pieces; p++) {
        size_t end = count * (p + 1) / pieces;
        wt->scratch.len = 0;
        int rc = ck_encode_segmented(ms + start, values + start, end - start,
                                     store->options.segment_period_ms, &wt->scratch, err);
        if (rc == JL_OK)
            rc = put_scratch_chunk(store, wt, id, ms[start], err);
        if (rc != JL_OK)
            return rc;
        if (bytes)
            *bytes += wt->scratch.len;
        start = end;
    }
    return JL_OK;
}

/* Chooses when the series' next tail is sealed and how many bytes its chunk may take. With a
 * fixed chunk_target that is it, and tails are sealed whole. Otherwise the last chunk's size
 * per reading predicts how many readings fill a whole number of LMDB overflow pages (small
 * chunks would sit inline in leaf pages that per-series appends leave half empty, and a chunk
 * just over a page boundary would waste most of a page). The tail is let grow a little past
 * that, and sealing keeps the longest prefix that fits (seal_fitted): chunks filled to ~99%
 * instead of the 92% a prediction alone allowed, 0.85 -> 0.79 bytes per reading on the
 * reference year. */
/* Past the fewest pages that hold SEAL_FEWEST_READINGS, pages are added until a chunk holds
 * SEAL_MIN_READINGS (8 pages at most): each chunk costs a header, a B-tree entry (about 80 bytes
 * at the leaf fill per-series appends give) and a segment period cut in two, so two-page chunks
 * of ~10,000 readings are 2.9% fewer pages than one-page chunks on the reference year, while a
 * query still decodes at most two chunks per window. Those extra pages are not taken when the
 * chunk would then span more than half the periods a segment table covers: an hourly series
 * would otherwise seal a tail once a year, into chunks too long for a table. */
#define SEAL_FEWEST_READINGS 1024
#define SEAL_MIN_READINGS 8192
static void plan_seal(const st_store *store, series *s, uint64_t count, uint64_t bytes,
                      double span_ms)
{
    s->seal_budget = 0;
    if (store->options.chunk_target) {
        s->seal_threshold = store->options.chunk_target;
        return;
    }
    const double page_payload = store->page_bytes - 16.0;
    double per_reading = count ? ((double)bytes - (double)CK_HEADER_BYTES) / (double)count : 1.0;
    if (per_reading < 0.05)
        per_reading = 0.05;
    double ms_per_reading = count > 1 ? span_ms / (double)(count - 1) : 0.0;
    int64_t period = store->options.segment_period_ms > 0 ? store->options.segment_period_ms
                                                          : ST_DEFAULT_SEGMENT_PERIOD_MS;
    double longest_span = (double)period * (CK_MAX_SEGMENTS / 2);
    /* readings_in[p]: what a chunk of p pages holds at this size per reading. */
    double readings_in[9];
    for (int p = 1; p <= 8; p++)
        readings_in[p] = (p * page_payload - (double)CK_HEADER_BYTES) / per_reading;
    int pages = 1;
    while (pages < 8 && readings_in[pages] < SEAL_FEWEST_READINGS)
        pages++;
    while (pages < 8 && readings_in[pages] < SEAL_MIN_READINGS &&
           readings_in[pages + 1] * ms_per_reading <= longest_span)
        pages++;
    double readings = (pages * page_payload * 1.03 - (double)CK_HEADER_BYTES) / per_reading;
    if (readings > store->chunk_max)
        readings = store->chunk_max;
    s->seal_threshold = readings < 64 ? 64 : (uint32_t)readings;
    s->seal_budget = (uint32_t)(pages * page_payload);
    s->bytes_per_reading = per_reading;
}

/* Readings expected to fill the series' budget to 99.5% (the first guess of seal_fitted), at
 * most chunk_max: very compressible data (a constant) would otherwise ask for more readings
 * than a chunk may hold. */
static size_t fitting_count(const st_store *store, const series *s)
{
    double count = (s->seal_budget * 0.995 - (double)CK_HEADER_BYTES) / s->bytes_per_reading;
    return count < (double)store->chunk_max ? (size_t)count : store->chunk_max;
}

/* Decodes the chunk at the cursor into merge buffers starting at offset; sets *count. */
static int decode_into_merge(writer_txn *wt, const MDB_val *data, size_t offset, size_t *count,
                             jl_error *err)
{
    ck_summary summary;
    int rc = ck_read_summary(data->mv_data, data->mv_size, &summary, err);
    if (rc == JL_OK)
        rc = merge_reserve(wt, offset + summary.count);
    if (rc == JL_OK)
        rc = ck_decode(data->mv_data, data->mv_size, wt->merge_ms + offset,
                       wt->merge_values + offset, summary.count, count, err);
    return rc;
}

static int put_log_block(st_store *store, writer_txn *wt, uint64_t seq, const uint64_t *ids,
                         jl_buf *block, jl_error *err);

/* Encodes into wt->scratch the longest run of the tail from `from` (n readings at most) that
 * fits the series' budget, found from the predicted size per reading and corrected by the
 * measured size; sets *fitted to its length, or to 0 when no run of a useful length fits. */
static int encode_fitting_prefix(const st_store *store, writer_txn *wt, const series *s,
                                 size_t from, size_t n, size_t *fitted, jl_error *err)
{
    const int64_t *ms = s->next.tail->timestamps_ms + from;
    const double *values = s->next.tail->values + from;
    const double target = s->seal_budget * 0.995 - (double)CK_HEADER_BYTES;
    size_t count = fitting_count(store, s);
    *fitted = 0;
    if (count > n)
        count = n;
    for (int attempt = 0; attempt < 6 && count >= 64; attempt++) {
        wt->scratch.len = 0;
        int rc = ck_encode_segmented(ms, values, count, store->options.segment_period_ms,
                                     &wt->scratch, err);
        if (rc != JL_OK)
            return rc;
        if (wt->scratch.len <= s->seal_budget) {
            *fitted = count;
            return JL_OK;
        }
        size_t smaller =
            (size_t)((double)count * target / ((double)wt->scratch.len - (double)CK_HEADER_BYTES));
        count = smaller < count ? smaller : count - 1;
    }
    return JL_OK;
}

/* Notes that the tail of s (its readings after a fitted seal, or an old tail) goes back to the
 * log when write_relogged() runs, after all the seals of the transaction; once per series. */
static int relog_tail(writer_txn *wt, series *s, jl_error *err)
{
    if (s->relog_queued)
        return JL_OK;
    series **relogged = jl_array_grow(wt->relogged, &wt->relogged_capacity, wt->relogged_count + 1,
                                      sizeof *relogged, 64);
    if (relogged == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory writing a tail back to the log");
    wt->relogged = relogged;
    wt->relogged[wt->relogged_count++] = s;
    s->relog_queued = 1;
    return JL_OK;
}

/* Readings in one block of remainders at most: far below what a log block may hold
 * (ST_MAX_BATCH_POINTS), so that many series, or one huge remainder, never make a block that
 * recovery would refuse. */
#define RELOG_BLOCK_READINGS (1u << 20)

/* Writes the tails listed by relog_tail() to the log, so that the older blocks
 * holding them need not be kept for these series: as few blocks as RELOG_BLOCK_READINGS allows,
 * usually one, each series' tail_min_seq moving to the first block holding its readings. Few
 * blocks, not one per seal: sequence numbers also measure the log against log_max_blocks, and
 * thousands of series sealing together must not look like a long log. */
static int write_relogged(st_store *store, writer_txn *wt, jl_error *err)
{
    if (wt->relogged_count == 0)
        return JL_OK;
    uint64_t *ids = malloc(wt->relogged_count * sizeof *ids);
    if (ids == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory writing tails back to the log");
    int rc = JL_OK;
    size_t next = 0;    /* series being written */
    uint32_t taken = 0; /* of its tail, readings in earlier blocks */
    while (rc == JL_OK && next < wt->relogged_count) {
        uint64_t seq = wt->next_seq;
        size_t points = 0, block_series = 0;
        st_batch_reset(&wt->relog_batch);
        while (rc == JL_OK && next < wt->relogged_count && points < RELOG_BLOCK_READINGS) {
            series *s = wt->relogged[next];
            const series_state *st = &s->next;
            uint32_t take = st->tail_count - taken;
            if (take > RELOG_BLOCK_READINGS - points)
                take = (uint32_t)(RELOG_BLOCK_READINGS - points);
            uint32_t index = 0;
            rc = st_batch_series(&wt->relog_batch, s->key, s->key_len, &index);
            for (uint32_t i = taken; rc == JL_OK && i < taken + take; i++)
                rc = st_batch_point(&wt->relog_batch, index, st->tail->timestamps_ms[i],
                                    st->tail->values[i]);
            if (rc != JL_OK) {
                rc = jl_error_set(err, rc, "out of memory writing tails back to the log");
                break;
            }
            ids[block_series++] = s->id;
            if (taken == 0)
                s->next.tail_min_seq = seq;
            points += take;
            taken += take;
            if (taken == st->tail_count) {
                next++;
                taken = 0;
            }
        }
        if (rc == JL_OK)
            rc = wl_encode(&wt->relog_batch, &wt->relog_block, err);
        if (rc == JL_OK)
            rc = put_log_block(store, wt, seq, ids, &wt->relog_block, err);
        if (rc == JL_OK) {
            wt->next_seq++;
            wt->relogged_readings += points;
        }
    }
    free(ids);
    for (size_t i = 0; i < wt->relogged_count; i++)
        wt->relogged[i]->relog_queued = 0;
    return rc;
}

/* A tail is written again once the block holding its oldest reading is this many sequence
 * numbers old (requests and rewritten tails both take one), so that one tail is rewritten at most
 * once per that many blocks. */
#define RELOG_MIN_AGE_BLOCKS 128
/* Readings a tail may rewrite per reading written: bounds the log's write amplification. */
#define RELOG_CREDIT_PER_READING 2
/* Readings of rewriting credit kept at most: what a long quiet spell can save up for a burst. */
#define RELOG_MAX_CREDIT (1u << 20)

/* Writes again to the log the tails whose oldest reading is in a block RELOG_MIN_AGE_BLOCKS old,
 * oldest first, so that truncate_log can drop those blocks. A block holds a request's readings
 * of every series and stays until the last of them seals, so without this the slowest series
 * (smooth data, whose chunks hold three times the readings) keep about three chunk periods of
 * every series' readings in the file: 4.4% of it on the reference year of DESIGN §6. Rewriting
 * is paid for by credit earned by the readings written, so it never writes more than twice the
 * readings requests do: with many slow series (thousands of sensors reporting hourly) the log is
 * then bounded by log_max_blocks as before, at most tripling what goes to it. Tails are rewritten
 * one after another as they age, not in bunches, because a large block needs that many
 * contiguous free pages and would grow the file instead of reusing the freed ones. */
static int relog_old_tails(st_store *store, writer_txn *wt, jl_error *err)
{
    store->relog_credit += RELOG_CREDIT_PER_READING * wt->points;
    if (store->relog_credit > RELOG_MAX_CREDIT)
        store->relog_credit = RELOG_MAX_CREDIT;
    if (wt->next_seq - store->oldest_log_seq <= RELOG_MIN_AGE_BLOCKS)
        return JL_OK;
    uint64_t cut = wt->next_seq - RELOG_MIN_AGE_BLOCKS;
    for (series *s = store->pending_head; s; s = s->pending_next) {
        /* The list is in published tail_min_seq order, and a transaction only moves tails
         * later: no entry past this one pins a block below cut. */
        if (s->live.tail_min_seq >= cut)
            break;
        const series_state *st = s->touched ? &s->next : &s->live;
        if (st->tail_count == 0 || st->tail_min_seq >= cut || s->relog_queued)
            continue;
        if (st->tail_count > store->relog_credit)
            break;
        store->relog_credit -= st->tail_count;
        touch(wt, s);
        int rc = relog_tail(wt, s, err);
        if (rc != JL_OK)
            return rc;
    }
    return JL_OK;
}

/* Seals the tail of s as chunks that each fill the series' pages, while it holds at least a
 * seal threshold's worth; the rest stays in a new tail, written back to the log. Sets *sealed
 * to the readings sealed: 0 when not even the first chunk fits (the caller seals it whole). A
 * tail many chunks long (a backfill) is cut in one go, not one chunk per transaction. */
static int seal_fitted(st_store *store, writer_txn *wt, series *s, size_t *sealed, jl_error *err)
{
    series_state *st = &s->next;
    const int64_t *ms = st->tail->timestamps_ms;
    size_t n = st->tail_count, done = 0;
    *sealed = 0;
    while (n - done >= s->seal_threshold) {
        size_t fitted = 0;
        int rc = encode_fitting_prefix(store, wt, s, done, n - done, &fitted, err);
        if (rc == JL_OK && fitted > 0)
            rc = put_scratch_chunk(store, wt, s->id, ms[done], err);
        if (rc == JL_OK && fitted == 0 && done > 0) {
            /* The size per reading changed too much to find a fitting run: the rest is sealed
             * whole rather than kept (a backfill could leave millions in the tail). */
            uint64_t bytes = 0;
            rc = put_chunks(store, wt, s->id, ms + done, st->tail->values + done, n - done, &bytes,
                            err);
            if (rc == JL_OK)
                plan_seal(store, s, n - done, bytes, (double)ms[n - 1] - (double)ms[done]);
            done = n;
        }
        if (rc != JL_OK)
            return rc;
        if (fitted == 0)
            break;
        plan_seal(store, s, fitted, wt->scratch.len,
                  (double)ms[done + fitted - 1] - (double)ms[done]);
        done += fitted;
    }
    if (done == 0)
        return JL_OK;
    uint32_t rest = (uint32_t)(n - done);
    tail_buffer *remainder = NULL;
    if (rest > 0) {
        uint32_t capacity = 64;
        while (capacity < rest * 2)
            capacity *= 2;
        remainder = tail_new(capacity);
        if (remainder == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory sealing a tail");
        memcpy(remainder->timestamps_ms, ms + done, sizeof(int64_t) * rest);
        memcpy(remainder->values, st->tail->values + done, sizeof(double) * rest);
    }
    st->sealed_max_ms = ms[done - 1];
    st->sealed_count += done;
    if (s->tail_private)
        store_tail_release(st->tail);
    st->tail = remainder;
    st->tail_count = rest;
    s->tail_private = remainder != NULL;
    *sealed = done;
    return rest > 0 ? relog_tail(wt, s, err) : JL_OK;
}

/* Seals the next tail of s into chunks: with `fit` and a budget, the longest prefix that fills
 * the series' pages; otherwise all of it, a small previous chunk merged in, so that early seals
 * (forced by log truncation) do not leave many tiny chunks behind. */
static int seal_tail(st_store *store, writer_txn *wt, series *s, int fit, jl_error *err)
{
    series_state *st = &s->next;
    uint32_t n = st->tail_count;
    if (n == 0)
        return JL_OK;
    if (fit && s->seal_budget > 0 && n >= s->seal_threshold) {
        size_t sealed = 0;
        int rc = seal_fitted(store, wt, s, &sealed, err);
        if (rc != JL_OK || sealed > 0)
            return rc;
    }
    const int64_t *ms = st->tail->timestamps_ms;
    const double *values = st->tail->values;
    size_t total = n;
    int rc = JL_OK;
    size_t merge_limit = s->seal_budget > 0 ? fitting_count(store, s) : s->seal_threshold;
    if (st->sealed_count > 0 && n < merge_limit) {
        MDB_cursor *cursor = NULL;
        int mrc = mdb_cursor_open(wt->txn, store->db_chunks, &cursor);
        if (mrc != 0)
            return store_lmdb_error(err, mrc, "opening a chunk cursor");
        MDB_val k, v;
        mrc = store_chunk_floor(cursor, s->id, INT64_MAX, &k, &v); /* the last chunk */
        if (mrc == 0) {
            ck_summary summary;
            if (ck_read_summary(v.mv_data, v.mv_size, &summary, NULL) == JL_OK &&
                summary.count + n <= merge_limit) {
                size_t old_count = 0;
                rc = decode_into_merge(wt, &v, 0, &old_count, err);
                if (rc == JL_OK)
                    rc = merge_reserve(wt, old_count + n);
                if (rc == JL_OK) {
                    memcpy(wt->merge_ms + old_count, ms, sizeof(int64_t) * n);
                    memcpy(wt->merge_values + old_count, values, sizeof(double) * n);
                    size_t old_bytes = v.mv_size;
                    mrc = mdb_cursor_del(cursor, 0);
                    if (mrc != 0)
                        rc = store_lmdb_error(err, mrc, "replacing a chunk");
                    wt->chunk_count_delta--;
                    wt->chunk_bytes_delta -= (int64_t)old_bytes;
                    ms = wt->merge_ms;
                    values = wt->merge_values;
                    total = old_count + n;
                }
            }
        }
        mdb_cursor_close(cursor);
        if (rc != JL_OK)
            return rc;
    }
    uint64_t bytes = 0;
    rc = put_chunks(store, wt, s->id, ms, values, total, &bytes, err);
    if (rc != JL_OK)
        return rc;
    plan_seal(store, s, total, bytes, (double)ms[total - 1] - (double)ms[0]);
    st->sealed_max_ms = st->tail->timestamps_ms[n - 1];
    st->sealed_count += n;
    if (s->tail_private)
        store_tail_release(st->tail);
    st->tail = NULL;
    st->tail_count = 0;
    s->tail_private = 0;
    return JL_OK;
}

static int compare_late(const void *a, const void *b)
{
    const late_reading *x = a, *y = b;
    if (x->owner->id != y->owner->id)
        return x->owner->id < y->owner->id ? -1 : 1;
    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    return x->order < y->order ? -1 : (x->order > y->order);
}

/* Merges late readings[0..n) (one series, sorted by time, one per timestamp) into the chunks
 * they fall into: a reading belongs to the last chunk starting at or before it, or to the first
 * chunk when it is older than all. Each affected chunk is decoded, merged and rewritten. */
static int merge_late_series(st_store *store, writer_txn *wt, series *s, const late_reading *late,
                             size_t n, jl_error *err)
{
    MDB_cursor *cursor = NULL;
    int mrc = mdb_cursor_open(wt->txn, store->db_chunks, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening a chunk cursor");
    int rc = JL_OK;
    size_t i = 0;
    while (i < n && rc == JL_OK) {
        MDB_val k, v;
        mrc = store_chunk_floor(cursor, s->id, late[i].ms, &k, &v);
        if (mrc != 0) {
            rc = mrc == MDB_NOTFOUND
                     ? jl_error_set(err, JL_ECORRUPT,
                                    "series %llu has a sealed end but no chunk covering %lld",
                                    (unsigned long long)s->id, (long long)late[i].ms)
                     : store_lmdb_error(err, mrc, "finding a chunk");
            break;
        }
        uint8_t chunk_key[CHUNK_KEY_BYTES];
        memcpy(chunk_key, k.mv_data, CHUNK_KEY_BYTES);
        MDB_val chunk = v; /* stays valid until this transaction writes */
        size_t old_count = 0;
        rc = decode_into_merge(wt, &chunk, 0, &old_count, err);
        if (rc != JL_OK)
            break;
        /* The next chunk's start bounds which late readings go into this one. */
        int64_t next_start = INT64_MAX;
        MDB_val nk, nv;
        if (mdb_cursor_get(cursor, &nk, &nv, MDB_NEXT) == 0) {
            uint64_t next_id;
            int64_t start;
            store_chunk_key_parse(nk.mv_data, &next_id, &start);
            if (next_id == s->id)
                next_start = start;
        }
        size_t j = i;
        while (j < n && late[j].ms < next_start)
            j++;
        rc = merge_reserve(wt, 2 * old_count + 2 * (j - i));
        if (rc != JL_OK)
            break;
        /* Merge old (merge buffers [0, old_count)) with late[i..j) into [old_count+..). */
        int64_t *out_ms = wt->merge_ms + old_count;
        double *out_values = wt->merge_values + old_count;
        size_t a = 0, b = i, out = 0, added = 0;
        while (a < old_count || b < j) {
            if (b == j || (a < old_count && wt->merge_ms[a] < late[b].ms)) {
                out_ms[out] = wt->merge_ms[a];
                out_values[out++] = wt->merge_values[a++];
            } else if (a == old_count || late[b].ms < wt->merge_ms[a]) {
                out_ms[out] = late[b].ms;
                out_values[out++] = late[b].value;
                note_reading(&s->next, late[b].ms, late[b].value, 1);
                added++;
                b++;
            } else { /* same timestamp: the late write replaces */
                out_ms[out] = late[b].ms;
                out_values[out++] = late[b].value;
                note_reading(&s->next, late[b].ms, late[b].value, 0);
                a++;
                b++;
            }
        }
        MDB_val old_key = {CHUNK_KEY_BYTES, chunk_key};
        size_t old_bytes = chunk.mv_size;
        mrc = mdb_del(wt->txn, store->db_chunks, &old_key, NULL);
        if (mrc != 0) {
            rc = store_lmdb_error(err, mrc, "replacing a chunk");
            break;
        }
        wt->chunk_count_delta--;
        wt->chunk_bytes_delta -= (int64_t)old_bytes;
        rc = put_chunks(store, wt, s->id, out_ms, out_values, out, NULL, err);
        s->next.sealed_count += added;
        i = j;
    }
    mdb_cursor_close(cursor);
    return rc;
}

static int merge_late(st_store *store, writer_txn *wt, jl_error *err)
{
    if (wt->late_count == 0)
        return JL_OK;
    qsort(wt->late, wt->late_count, sizeof *wt->late, compare_late);
    /* Keep only the last write of each (series, timestamp). */
    size_t kept = 0;
    for (size_t i = 0; i < wt->late_count; i++) {
        if (kept > 0 && wt->late[kept - 1].owner == wt->late[i].owner &&
            wt->late[kept - 1].ms == wt->late[i].ms)
            wt->late[kept - 1] = wt->late[i];
        else
            wt->late[kept++] = wt->late[i];
    }
    int rc = JL_OK;
    for (size_t i = 0; i < kept && rc == JL_OK;) {
        size_t j = i;
        while (j < kept && wt->late[j].owner == wt->late[i].owner)
            j++;
        rc = merge_late_series(store, wt, wt->late[i].owner, wt->late + i, j - i, err);
        i = j;
    }
    return rc;
}

/* ---------- the write log ---------- */

/* Appends the request's log block, with its series ids filled in. */
static int put_log_block(st_store *store, writer_txn *wt, uint64_t seq, const uint64_t *ids,
                         jl_buf *block, jl_error *err)
{
    wl_finish((uint8_t *)block->data, block->len, ids);
    uint8_t key[8];
    put_u64_be(key, seq);
    MDB_val k = {8, key}, v = {block->len, block->data};
    int mrc = mdb_put(wt->txn, store->db_log, &k, &v, MDB_APPEND);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "writing the write log");
    wt->log_blocks_delta++;
    wt->log_bytes_delta += (int64_t)v.mv_size;
    return JL_OK;
}

/* Deletes log blocks no tail needs any more; seals tails that pin a log grown too long. The
 * pending list holds the series with non-empty published tails in tail_min_seq order, so only
 * its head is looked at: entries touched by this transaction can only have moved later (their
 * tail was sealed, or sealed and restarted), and tails started by this transaction need no block
 * older than the transaction's first. */
static int truncate_log(st_store *store, writer_txn *wt, jl_error *err)
{
    uint64_t oldest_needed = wt->first_seq;
    uint64_t force_below = 0;
    /* Past the limit, tails pinning the oldest blocks are sealed early (as smaller chunks), so
     * slow series cannot make the log grow without bound. */
    uint32_t limit = store->options.log_max_blocks;
    if (store->next_log_seq - store->oldest_log_seq > limit)
        force_below = store->next_log_seq - limit / 2;
    for (series *s = store->pending_head; s; s = s->pending_next) {
        const series_state *st = s->touched ? &s->next : &s->live;
        if (st->tail_count > 0 && st->tail_min_seq < force_below) {
            touch(wt, s);
            int rc = seal_tail(store, wt, s, 0, err);
            if (rc != JL_OK)
                return rc;
            continue;
        }
        if (st->tail_count > 0 && st->tail_min_seq < oldest_needed)
            oldest_needed = st->tail_min_seq;
        if (!s->touched)
            break; /* every later entry needs no older block than this one */
    }
    wt->log_cut_below = oldest_needed;
    if (oldest_needed <= store->oldest_log_seq)
        return JL_OK;
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(wt->txn, store->db_log, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the write log");
    MDB_val k, v;
    int rc = JL_OK;
    while ((mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)) == 0) {
        if (get_u64_be(k.mv_data) >= oldest_needed)
            break;
        size_t bytes = v.mv_size;
        mrc = mdb_cursor_del(cursor, 0);
        if (mrc != 0) {
            rc = store_lmdb_error(err, mrc, "truncating the write log");
            break;
        }
        wt->log_blocks_delta--;
        wt->log_bytes_delta -= (int64_t)bytes;
    }
    mdb_cursor_close(cursor);
    return rc;
}

static void pending_unlink(st_store *store, series *s)
{
    if (s->pending_prev)
        s->pending_prev->pending_next = s->pending_next;
    else
        store->pending_head = s->pending_next;
    if (s->pending_next)
        s->pending_next->pending_prev = s->pending_prev;
    else
        store->pending_tail = s->pending_prev;
    s->pending_prev = s->pending_next = NULL;
}

static void pending_append(st_store *store, series *s)
{
    s->pending_next = NULL;
    s->pending_prev = store->pending_tail;
    if (store->pending_tail)
        store->pending_tail->pending_next = s;
    else
        store->pending_head = s;
    store->pending_tail = s;
}

/* Orders series by the tail_min_seq of the given state (next when publishing). */
static int compare_next_min_seq(const void *a, const void *b)
{
    const series *x = *(series *const *)a, *y = *(series *const *)b;
    return x->next.tail_min_seq < y->next.tail_min_seq
               ? -1
               : x->next.tail_min_seq > y->next.tail_min_seq;
}

/* ---------- the writer ---------- */

static int grow_late(writer_txn *wt)
{
    late_reading *late =
        jl_array_grow(wt->late, &wt->late_capacity, wt->late_count + 1, sizeof *late, 1024);
    if (late == NULL)
        return JL_ENOMEM;
    wt->late = late;
    return JL_OK;
}

/* Adds one request to the transaction being built. */
static int apply_request(st_store *store, writer_txn *wt, write_request *request, uint64_t seq,
                         jl_error *err)
{
    const st_batch *batch = request->batch;
    uint64_t *ids = malloc(sizeof(uint64_t) * (batch->series_count ? batch->series_count : 1));
    series **owners = malloc(sizeof(series *) * (batch->series_count ? batch->series_count : 1));
    int rc = (ids && owners) ? JL_OK : jl_error_set(err, JL_ENOMEM, "out of memory");
    for (uint32_t i = 0; rc == JL_OK && i < batch->series_count; i++) {
        rc = writer_series(store, wt, batch->keys.data + batch->key_offsets[i],
                           batch->key_lengths[i], &owners[i], err);
        if (rc == JL_OK) {
            ids[i] = owners[i]->id;
            touch(wt, owners[i]);
        }
    }
    if (rc == JL_OK)
        rc = put_log_block(store, wt, seq, ids, &request->log_block, err);
    for (size_t i = 0; rc == JL_OK && i < batch->point_count; i++) {
        series *s = owners[batch->point_series[i]];
        int64_t ms = batch->point_ms[i];
        double value = batch->point_values[i];
        if (ms > s->next.sealed_max_ms) {
            rc = tail_add(s, ms, value, seq);
            if (rc != JL_OK)
                jl_error_set(err, rc, "out of memory adding to a series tail");
        } else {
            rc = grow_late(wt);
            if (rc != JL_OK) {
                jl_error_set(err, rc, "out of memory");
                break;
            }
            wt->late[wt->late_count++] =
                (late_reading){.owner = s, .ms = ms, .value = value, .order = wt->points + i};
        }
    }
    wt->points += batch->point_count;
    free(ids);
    free(owners);
    return rc;
}

/* Drops everything the failed transaction prepared, the rewriting credit it earned and spent
 * included (a retry after growing the map, or request by request, earns it again). */
static void rollback(st_store *store, writer_txn *wt)
{
    store->relog_credit = wt->relog_credit_before;
    for (series *s = wt->touched; s; s = s->touched_next) {
        if (s->tail_private)
            store_tail_release(s->next.tail);
        s->touched = 0;
        s->tail_private = 0;
        s->relog_queued = 0;
    }
    for (size_t i = 0; i < wt->created_count; i++) {
        catalog_unlink(store, wt->created[i]);
        series_free(wt->created[i]);
    }
}

/* Publishes the prepared states; called with state_lock held for writing, after the commit.
 * Cannot fail: everything it needs was reserved before the commit. */
static void publish(st_store *store, writer_txn *wt)
{
    for (size_t i = 0; i < wt->created_count; i++)
        store->by_id[wt->created[i]->id] = wt->created[i];
    store->series_count += wt->created_count;
    size_t joining = 0;
    for (series *s = wt->touched; s; s = s->touched_next) {
        int was_pending = s->live.tail_count > 0, now_pending = s->next.tail_count > 0;
        int moved = s->next.tail_min_seq != s->live.tail_min_seq;
        if (was_pending && (!now_pending || moved))
            pending_unlink(store, s);
        if (now_pending && (!was_pending || moved))
            wt->joining[joining++] = s;
        if (s->live.tail != s->next.tail)
            store_tail_release(s->live.tail);
        s->live = s->next;
        s->touched = 0;
        s->tail_private = 0;
    }
    /* Tails (re)started by this transaction are newer than every pending one. */
    qsort(wt->joining, joining, sizeof *wt->joining, compare_next_min_seq);
    for (size_t i = 0; i < joining; i++)
        pending_append(store, wt->joining[i]);
    store->chunk_count += wt->chunk_count_delta;
    store->chunk_bytes += wt->chunk_bytes_delta;
    store->log_blocks += wt->log_blocks_delta;
    store->log_bytes += wt->log_bytes_delta;
    store->log_rewritten_readings += wt->relogged_readings;
}

static int grow_map(st_store *store, jl_error *err)
{
    uint64_t max = store->options.max_map_bytes;
    if (store->map_bytes >= max)
        return jl_error_set(err, JL_EFULL, "the store reached its maximum map size (%llu bytes)",
                            (unsigned long long)max);
    uint64_t grown = store->map_bytes * 2;
    if (grown > max)
        grown = max;
    pthread_rwlock_wrlock(&store->map_lock);
    int rc = mdb_env_set_mapsize(store->env, grown);
    pthread_rwlock_unlock(&store->map_lock);
    if (rc != 0)
        return store_lmdb_error(err, rc, "growing the map");
    store->map_bytes = grown;
    return JL_OK;
}

/* LMDB reports a short write, as a full disk gives, as EIO; a nearly full filesystem under the
 * data directory makes that JL_EFULL (507: free space and retry) rather than an I/O error. */
static int commit_error(const st_store *store, int rc, jl_error *err)
{
    struct statvfs disk;
    if ((rc == EIO || rc == ENOSPC) && statvfs(store->options.directory, &disk) == 0) {
        uint64_t free_bytes = (uint64_t)disk.f_bavail * disk.f_frsize;
        if (free_bytes < (64u << 20))
            return jl_error_set(err, JL_EFULL,
                                "the disk holding the data directory is full (%llu bytes free); "
                                "nothing of this request was stored",
                                (unsigned long long)free_bytes);
    }
    return store_lmdb_error(err, rc, "committing");
}

/* Builds and commits one transaction holding the requests [first, after_last). */
static int commit_group(st_store *store, writer_txn *wt, write_request *first,
                        write_request *after_last, jl_error *err)
{
    wt->touched = NULL;
    wt->touched_count = 0;
    wt->created_count = 0;
    wt->late_count = 0;
    wt->points = 0;
    wt->log_cut_below = 0;
    wt->chunk_count_delta = wt->chunk_bytes_delta = 0;
    wt->log_blocks_delta = wt->log_bytes_delta = 0;
    wt->first_new_id = store->series_count + 1;
    wt->first_seq = store->next_log_seq;
    wt->next_seq = store->next_log_seq;
    st_batch_reset(&wt->relog_batch);
    wt->relogged_count = 0;
    wt->relogged_readings = 0;
    wt->relog_credit_before = store->relog_credit;
    int mrc = mdb_txn_begin(store->env, NULL, 0, &wt->txn);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "beginning a write transaction");
    int rc = JL_OK;
    for (write_request *r = first; r != after_last && rc == JL_OK; r = r->next)
        rc = apply_request(store, wt, r, wt->next_seq++, err);
    if (rc == JL_OK)
        rc = merge_late(store, wt, err);
    for (series *s = wt->touched; s && rc == JL_OK; s = s->touched_next)
        if (s->next.tail_count >= s->seal_threshold)
            rc = seal_tail(store, wt, s, 1, err);
    if (rc == JL_OK)
        rc = relog_old_tails(store, wt, err);
    if (rc == JL_OK)
        rc = write_relogged(store, wt, err);
    uint64_t saved_next_seq = store->next_log_seq;
    store->next_log_seq = wt->next_seq;
    if (rc == JL_OK)
        rc = truncate_log(store, wt, err);
    /* Reserve what publishing needs before committing, so that it cannot fail after. */
    if (rc == JL_OK && wt->touched_count > wt->joining_capacity) {
        series **grown = realloc(wt->joining, wt->touched_count * sizeof *grown);
        if (grown == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory preparing a commit");
        } else {
            wt->joining = grown;
            wt->joining_capacity = wt->touched_count;
        }
    }
    if (rc == JL_OK && wt->created_count) {
        pthread_rwlock_wrlock(&store->state_lock);
        if (catalog_reserve_ids(store, store->series_count + wt->created_count) != JL_OK)
            rc = jl_error_set(err, JL_ENOMEM, "out of memory preparing a commit");
        pthread_rwlock_unlock(&store->state_lock);
    }
    if (rc != JL_OK) {
        mdb_txn_abort(wt->txn);
        store->next_log_seq = saved_next_seq;
        rollback(store, wt);
        return rc;
    }
    /* The commit (and its fsync) runs without state_lock; a snapshot that begins in between
     * sees a transaction newer than published_txn_id and waits for the publish below. */
    uint64_t txn_id = mdb_txn_id(wt->txn);
    mrc = mdb_txn_commit(wt->txn);
    if (mrc != 0) {
        store->next_log_seq = saved_next_seq;
        rollback(store, wt);
        return commit_error(store, mrc, err);
    }
    pthread_rwlock_wrlock(&store->state_lock);
    publish(store, wt);
    store->published_txn_id = txn_id;
    pthread_rwlock_unlock(&store->state_lock);

    /* Log sequence numbers are dense and truncation only cuts the front. */
    if (wt->log_cut_below > store->oldest_log_seq)
        store->oldest_log_seq = wt->log_cut_below;
    atomic_fetch_add(&store->points_written, wt->points);
    atomic_fetch_add(&store->commits, 1);
    return rc;
}

/* Commits the requests [first, after), growing the map and retrying while it is full. */
static int commit_growing(st_store *store, writer_txn *wt, write_request *first,
                          write_request *after, jl_error *err)
{
    for (;;) {
        last_lmdb_code = 0;
        int rc = commit_group(store, wt, first, after, err);
        if (rc != JL_EFULL || last_lmdb_code != MDB_MAP_FULL)
            return rc;
        rc = grow_map(store, err);
        if (rc != JL_OK)
            return rc;
    }
}

static void *writer_main(void *argument)
{
    st_store *store = argument;
    writer_txn wt;
    memset(&wt, 0, sizeof wt);
    jl_buf_init(&wt.scratch);
    st_batch_init(&wt.relog_batch);
    jl_buf_init(&wt.relog_block);
    pthread_mutex_lock(&store->queue_mutex);
    for (;;) {
        while (store->queue_head == NULL && !store->stopping)
            pthread_cond_wait(&store->queue_cond, &store->queue_mutex);
        if (store->queue_head == NULL && store->stopping)
            break;
        /* Take as many queued requests as fit one transaction. */
        write_request *first = store->queue_head, *last = first;
        size_t points = first->batch->point_count;
        while (last->next &&
               points + last->next->batch->point_count <= store->options.group_commit_max_points) {
            last = last->next;
            points += last->batch->point_count;
        }
        write_request *after = last->next;
        store->queue_head = after;
        if (after == NULL)
            store->queue_tail = NULL;
        pthread_mutex_unlock(&store->queue_mutex);

        jl_error err;
        jl_error_clear(&err);
        int rc = commit_growing(store, &wt, first, after, &err);
        if (rc != JL_OK && rc != JL_EFULL && first->next != after) {
            /* One bad request must not fail the others of its group: commit them one by one. */
            for (write_request *r = first; r != after; r = r->next) {
                jl_error_clear(&r->error);
                r->result = commit_growing(store, &wt, r, r->next, &r->error);
            }
        } else {
            for (write_request *r = first; r != after; r = r->next) {
                r->result = rc;
                r->error = err;
            }
        }
        pthread_mutex_lock(&store->queue_mutex);
        for (write_request *r = first; r != after; r = r->next)
            r->done = 1;
        pthread_cond_broadcast(&store->done_cond);
    }
    pthread_mutex_unlock(&store->queue_mutex);
    jl_buf_destroy(&wt.scratch);
    st_batch_destroy(&wt.relog_batch);
    free(wt.relogged);
    jl_buf_destroy(&wt.relog_block);
    free(wt.created);
    free(wt.joining);
    free(wt.late);
    free(wt.merge_ms);
    free(wt.merge_values);
    return NULL;
}

int st_write(st_store *store, const st_batch *batch, jl_error *err)
{
    for (size_t i = 0; i < batch->point_count; i++) {
        if (!isfinite(batch->point_values[i]) || batch->point_ms[i] < JL_MIN_MS ||
            batch->point_ms[i] > JL_MAX_MS || batch->point_series[i] >= batch->series_count)
            return jl_error_set(err, JL_EINVAL, "point %zu is invalid", i);
    }
    if (batch->point_count == 0)
        return JL_OK;
    if (batch->point_count > ST_MAX_BATCH_POINTS)
        return jl_error_set(err, JL_ETOOLARGE,
                            "a request may hold at most %u readings; this one holds %zu",
                            ST_MAX_BATCH_POINTS, batch->point_count);
    if (store->options.read_only)
        return jl_error_set(err, JL_EBUSY, "the store was opened read-only");
    write_request request;
    memset(&request, 0, sizeof request);
    request.batch = batch;
    /* Encoded here, in the caller's thread, so the single writer only fills in the ids. */
    jl_buf_init(&request.log_block);
    int rc = wl_encode(batch, &request.log_block, err);
    if (rc != JL_OK) {
        jl_buf_destroy(&request.log_block);
        return rc;
    }
    pthread_mutex_lock(&store->queue_mutex);
    if (store->stopping) {
        pthread_mutex_unlock(&store->queue_mutex);
        jl_buf_destroy(&request.log_block);
        return jl_error_set(err, JL_EBUSY, "the store is shutting down");
    }
    if (store->queue_tail)
        store->queue_tail->next = &request;
    else
        store->queue_head = &request;
    store->queue_tail = &request;
    pthread_cond_signal(&store->queue_cond);
    while (!request.done)
        pthread_cond_wait(&store->done_cond, &store->queue_mutex);
    pthread_mutex_unlock(&store->queue_mutex);
    jl_buf_destroy(&request.log_block);
    if (request.result != JL_OK && err)
        *err = request.error;
    return request.result;
}

/* ---------- opening and recovery ---------- */

static int load_catalog(st_store *store, MDB_txn *txn, jl_error *err)
{
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(txn, store->db_series, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the catalog");
    MDB_val k, v;
    int rc = JL_OK;
    uint64_t expected = 1;
    for (mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        uint64_t id = k.mv_size == 8 ? get_u64_be(k.mv_data) : 0;
        if (id != expected) {
            rc = jl_error_set(err, JL_ECORRUPT, "series catalog is not dense at id %llu",
                              (unsigned long long)expected);
            break;
        }
        series *s =
            catalog_insert(store, id, v.mv_data, v.mv_size, hash_key(v.mv_data, v.mv_size), id);
        if (s == NULL || catalog_reserve_ids(store, id) != JL_OK) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory loading the catalog");
            break;
        }
        store->by_id[id] = s;
        store->series_count = id;
        expected++;
    }
    mdb_cursor_close(cursor);
    return rc;
}

/* Reads every chunk header once: sealed counts, time span and latest value per series. */
static int load_chunk_summaries(st_store *store, MDB_txn *txn, jl_error *err)
{
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(txn, store->db_chunks, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the chunks");
    MDB_val k, v;
    int rc = JL_OK;
    for (mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); mrc == 0 && rc == JL_OK;
         mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        uint64_t id;
        int64_t first;
        if (k.mv_size != CHUNK_KEY_BYTES) {
            rc = jl_error_set(err, JL_ECORRUPT, "a chunk key has %zu bytes", k.mv_size);
            break;
        }
        store_chunk_key_parse(k.mv_data, &id, &first);
        ck_summary summary;
        rc = ck_read_summary(v.mv_data, v.mv_size, &summary, err);
        if (rc != JL_OK)
            break;
        if (id == 0 || id > store->series_count || summary.first_ms != first) {
            rc = jl_error_set(err, JL_ECORRUPT, "chunk of unknown series %llu",
                              (unsigned long long)id);
            break;
        }
        store->chunk_count++;
        store->chunk_bytes += v.mv_size;
        series_state *st = &store->by_id[id]->live;
        if (st->count == 0)
            st->first_ms = summary.first_ms;
        st->count += summary.count;
        st->sealed_count += summary.count;
        st->sealed_max_ms = summary.last_ms;
        plan_seal(store, store->by_id[id], summary.count, v.mv_size,
                  (double)summary.last_ms - (double)summary.first_ms);
        st->last_ms = summary.last_ms;
        st->last_value = summary.last_value;
    }
    mdb_cursor_close(cursor);
    return rc;
}

/* Rebuilds the tails from the write log (see the file comment for why this is exact). */
static int replay_log(st_store *store, MDB_txn *txn, jl_error *err)
{
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(txn, store->db_log, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the write log");
    wl_readings readings;
    memset(&readings, 0, sizeof readings);
    MDB_val k, v;
    int rc = JL_OK;
    store->next_log_seq = 1;
    store->oldest_log_seq = 0;
    for (mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); mrc == 0 && rc == JL_OK;
         mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        uint64_t seq = get_u64_be(k.mv_data);
        if (store->oldest_log_seq == 0)
            store->oldest_log_seq = seq;
        store->log_blocks++;
        store->log_bytes += v.mv_size;
        rc = wl_decode(v.mv_data, v.mv_size, &readings, err);
        for (size_t i = 0; rc == JL_OK && i < readings.count; i++) {
            uint64_t id = readings.ids[i];
            int64_t ms = readings.ms[i];
            if (id == 0 || id > store->series_count) {
                rc = jl_error_set(err, JL_ECORRUPT, "write log names unknown series %llu",
                                  (unsigned long long)id);
                break;
            }
            series *s = store->by_id[id];
            if (ms <= s->live.sealed_max_ms)
                continue;
            /* Replay works on next and publishes at the end, like a transaction. */
            if (!s->touched) {
                s->touched = 1;
                s->next = s->live;
                s->tail_private = 1; /* nobody reads during recovery */
            }
            if (tail_add(s, ms, readings.values[i], seq) != JL_OK)
                rc = jl_error_set(err, JL_ENOMEM, "out of memory replaying the write log");
        }
        store->next_log_seq = seq + 1;
    }
    if (store->oldest_log_seq == 0)
        store->oldest_log_seq = store->next_log_seq;
    size_t pending = 0;
    series **order = malloc((store->series_count ? store->series_count : 1) * sizeof *order);
    if (order == NULL && rc == JL_OK)
        rc = jl_error_set(err, JL_ENOMEM, "out of memory replaying the write log");
    for (uint64_t id = 1; id <= store->series_count; id++) {
        series *s = store->by_id[id];
        if (s->touched) {
            s->live = s->next;
            s->touched = 0;
            s->tail_private = 0;
        }
        if (order && s->live.tail_count > 0)
            order[pending++] = s;
    }
    /* The pending list is ordered by tail_min_seq (compare_next_min_seq reads next, a copy). */
    if (order) {
        qsort(order, pending, sizeof *order, compare_next_min_seq);
        for (size_t i = 0; i < pending; i++)
            pending_append(store, order[i]);
        free(order);
    }
    wl_readings_destroy(&readings);
    mdb_cursor_close(cursor);
    return rc;
}

static int open_databases(st_store *store, jl_error *err)
{
    MDB_txn *txn;
    int read_only = store->options.read_only;
    int mrc = mdb_txn_begin(store->env, NULL, read_only ? MDB_RDONLY : 0, &txn);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "beginning the opening transaction");
    int rc = JL_OK;
    struct {
        const char *name;
        unsigned flags;
        MDB_dbi *dbi;
    } dbs[] = {
        {"meta", 0, &store->db_meta},
        {"series", 0, &store->db_series},
        {"postings", MDB_DUPSORT | MDB_DUPFIXED, &store->db_postings},
        {"chunks", 0, &store->db_chunks},
        {"log", 0, &store->db_log},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0] && rc == JL_OK; i++) {
        mrc =
            mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | (read_only ? 0 : MDB_CREATE), dbs[i].dbi);
        if (mrc == MDB_NOTFOUND)
            rc = jl_error_set(err, JL_ENOTFOUND, "%s holds no Jialing store",
                              store->options.directory);
        else if (mrc != 0)
            rc = store_lmdb_error(err, mrc, "opening a database");
    }
    if (rc == JL_OK) {
        MDB_val k = {6, "format"}, v;
        mrc = mdb_get(txn, store->db_meta, &k, &v);
        if (mrc == MDB_NOTFOUND && !read_only) {
            uint8_t version[4];
            put_u32_le(version, FORMAT_VERSION);
            v.mv_size = 4;
            v.mv_data = version;
            mrc = mdb_put(txn, store->db_meta, &k, &v, 0);
            if (mrc != 0)
                rc = store_lmdb_error(err, mrc, "writing the format version");
        } else if (mrc != 0) {
            rc = store_lmdb_error(err, mrc, "reading the format version");
        } else if (v.mv_size != 4 || get_u32_le(v.mv_data) < FORMAT_VERSION_OLDEST ||
                   get_u32_le(v.mv_data) > FORMAT_VERSION) {
            rc = jl_error_set(err, JL_ECORRUPT,
                              "the data directory has an unknown format version (expected %u to "
                              "%u)",
                              FORMAT_VERSION_OLDEST, FORMAT_VERSION);
        } else if (get_u32_le(v.mv_data) < FORMAT_VERSION && !read_only) {
            /* Marked before any new block is written, so an older jialingd refuses the
             * directory instead of misreading it. */
            uint8_t version[4];
            put_u32_le(version, FORMAT_VERSION);
            MDB_val upgraded = {4, version};
            mrc = mdb_put(txn, store->db_meta, &k, &upgraded, 0);
            if (mrc != 0)
                rc = store_lmdb_error(err, mrc, "writing the format version");
        }
    }
    if (rc == JL_OK)
        rc = load_catalog(store, txn, err);
    if (rc == JL_OK)
        rc = load_chunk_summaries(store, txn, err);
    if (rc == JL_OK)
        rc = replay_log(store, txn, err);
    if (rc != JL_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    mrc = mdb_txn_commit(txn);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "committing the opening transaction");
    MDB_envinfo info;
    mdb_env_info(store->env, &info);
    store->published_txn_id = info.me_last_txnid;
    return JL_OK;
}

int st_store_open(const st_options *options, st_store **out, jl_error *err)
{
    *out = NULL;
    if (options == NULL || options->directory == NULL)
        return jl_error_set(err, JL_EINVAL, "no data directory given");
    st_store *store = calloc(1, sizeof *store);
    if (store == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory opening the store");
    store->options = *options;
    st_options *o = &store->options;
    /* A map only reserves address space (the file grows as pages are used), so start large and
     * rarely pay for growth, which must wait for every open snapshot. */
    if (o->initial_map_bytes == 0)
        o->initial_map_bytes = 64ull << 30;
    if (o->max_map_bytes == 0)
        o->max_map_bytes = 1ull << 40;
    if (o->max_map_bytes < o->initial_map_bytes)
        o->max_map_bytes = o->initial_map_bytes;
    if (o->chunk_target > CK_MAX_READINGS / 2)
        o->chunk_target = CK_MAX_READINGS / 2;
    if (o->max_readers == 0)
        o->max_readers = 1024;
    if (o->log_max_blocks < 2)
        o->log_max_blocks = 2048;
    if (o->group_commit_max_points == 0)
        o->group_commit_max_points = 1000000;
    if (o->segment_period_ms == 0)
        o->segment_period_ms = ST_DEFAULT_SEGMENT_PERIOD_MS;
    if (o->segment_period_ms > ST_MAX_SEGMENT_PERIOD_MS)
        o->segment_period_ms = ST_MAX_SEGMENT_PERIOD_MS;
    /* Late readings may grow a chunk up to twice the usual size before it is split. */
    store->chunk_max = o->chunk_target ? o->chunk_target * 2 : 16384;
    store->hash_bucket_count = 1024;
    store->hash_buckets = calloc(store->hash_bucket_count, sizeof(series *));
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&store->state_lock, &attr);
    pthread_rwlock_init(&store->map_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&store->queue_mutex, NULL);
    pthread_cond_init(&store->queue_cond, NULL);
    pthread_cond_init(&store->done_cond, NULL);
    int rc = JL_OK;
    if (store->hash_buckets == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory opening the store");
        goto out;
    }
    if (!o->read_only && mkdir(o->directory, 0755) != 0 && errno != EEXIST) {
        rc = jl_error_set(err, JL_EIO, "cannot create data directory %s: %s", o->directory,
                          strerror(errno));
        goto out;
    }
    int mrc = mdb_env_create(&store->env);
    if (mrc == 0)
        mrc = mdb_env_set_maxdbs(store->env, 8);
    if (mrc == 0)
        mrc = mdb_env_set_maxreaders(store->env, o->max_readers);
    if (mrc == 0)
        mrc = mdb_env_set_mapsize(store->env, o->initial_map_bytes);
    if (mrc == 0)
        mrc = mdb_env_open(store->env, o->directory, MDB_NOTLS | (o->sync_full ? 0 : MDB_NOSYNC),
                           0644);
    if (mrc != 0) {
        rc = store_lmdb_error(err, mrc, "opening the LMDB environment");
        goto out;
    }
    MDB_envinfo info;
    mdb_env_info(store->env, &info);
    store->map_bytes = info.me_mapsize;
    MDB_stat env_stat;
    mdb_env_stat(store->env, &env_stat);
    store->page_bytes = env_stat.ms_psize;
    rc = open_databases(store, err);
    if (rc != JL_OK || o->read_only)
        goto out;
    if (pthread_create(&store->writer, NULL, writer_main, store) != 0) {
        rc = jl_error_set(err, JL_ENOMEM, "cannot start the writer thread");
        goto out;
    }
    store->writer_started = 1;
out:
    if (rc != JL_OK) {
        st_store_close(store);
        return rc;
    }
    *out = store;
    return JL_OK;
}

void st_store_close(st_store *store)
{
    if (store == NULL)
        return;
    if (store->writer_started) {
        pthread_mutex_lock(&store->queue_mutex);
        store->stopping = 1;
        pthread_cond_signal(&store->queue_cond);
        pthread_mutex_unlock(&store->queue_mutex);
        pthread_join(store->writer, NULL);
    }
    if (store->env) {
        if (store->options.sync_full == 0 && !store->options.read_only)
            mdb_env_sync(store->env, 1);
        mdb_env_close(store->env);
    }
    for (uint64_t id = 1; id <= store->series_count; id++)
        series_free(store->by_id[id]);
    free(store->by_id);
    free(store->hash_buckets);
    pthread_rwlock_destroy(&store->state_lock);
    pthread_rwlock_destroy(&store->map_lock);
    pthread_mutex_destroy(&store->queue_mutex);
    pthread_cond_destroy(&store->queue_cond);
    pthread_cond_destroy(&store->done_cond);
    free(store);
}
