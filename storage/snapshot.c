/* The read side of the store: consistent snapshots (one LMDB read transaction plus the tails and
 * states of the chosen series taken under the same lock as the writer's publish) and cursors
 * that yield sealed chunks (summary first, decoded on demand) and then the tail. Selection
 * (st_select) is in catalog.c, statistics in store.c. */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "jialing/serieskey.h"

typedef struct snapshot_series {
    uint64_t id;
    const char *key; /* the catalog's immutable key */
    size_t key_len;
    series_state state; /* copy; state.tail holds a reference */
} snapshot_series;

/* The review spans of one series, computed on first use. */
typedef struct snapshot_spans {
    int computed;
    st_review_span *spans;
    size_t count;
} snapshot_spans;

struct st_snapshot {
    st_store *store;
    MDB_txn *txn;
    snapshot_series *series;
    size_t count;
    review_set *reviews;          /* the marks in force as of the view (a reference) */
    snapshot_spans *review_cache; /* per series position, allocated on first use */
};

struct st_cursor {
    st_snapshot *snapshot;
    snapshot_series *series;
    int64_t from_ms, to_ms;
    MDB_cursor *chunks;
    int phase;           /* 0: not started, 1: in chunks, 2: tail next, 3: done */
    MDB_val chunk;       /* current chunk bytes (valid for the snapshot's life) */
    int64_t *decoded_ms; /* decode buffers owned by the cursor */
    double *decoded_values;
    uint8_t *decoded_flags;
    size_t decoded_capacity;
    ck_segment *segments; /* the current chunk's segment table, CK_MAX_SEGMENTS entries */
};

/* ---------- snapshots ---------- */

int st_snapshot_open(st_store *store, const uint64_t *ids, size_t count, st_snapshot **out,
                     jl_error *err)
{
    *out = NULL;
    st_snapshot *snapshot = calloc(1, sizeof *snapshot);
    if (snapshot == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory opening a snapshot");
    snapshot->store = store;
    snapshot->series = malloc((count ? count : 1) * sizeof *snapshot->series);
    if (snapshot->series == NULL) {
        free(snapshot);
        return jl_error_set(err, JL_ENOMEM, "out of memory opening a snapshot");
    }
    pthread_rwlock_rdlock(&store->map_lock);
    int mrc;
    for (;;) {
        pthread_rwlock_rdlock(&store->state_lock);
        mrc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &snapshot->txn);
        /* A commit that is not yet published would pair its chunks with older tails: wait for
         * the writer to publish it (it does so right after the commit) and take the view again. */
        if (mrc != 0 || store->options.read_only ||
            mdb_txn_id(snapshot->txn) == store->published_txn_id)
            break;
        pthread_rwlock_unlock(&store->state_lock);
        mdb_txn_abort(snapshot->txn);
        snapshot->txn = NULL;
        struct timespec pause = {0, 50000};
        nanosleep(&pause, NULL);
    }
    if (mrc == 0) {
        /* Taken with the states: the marks belong to the same commit as the readings. */
        snapshot->reviews = review_set_retain(store->reviews);
        for (size_t i = 0; i < count; i++) {
            if (ids[i] == 0 || ids[i] > store->series_count)
                continue;
            series *s = store->by_id[ids[i]];
            snapshot_series *entry = &snapshot->series[snapshot->count++];
            entry->id = s->id;
            entry->key = s->key;
            entry->key_len = s->key_len;
            entry->state = s->live;
            if (entry->state.tail)
                atomic_fetch_add(&entry->state.tail->references, 1);
        }
    }
    pthread_rwlock_unlock(&store->state_lock);
    if (mrc != 0) {
        pthread_rwlock_unlock(&store->map_lock);
        free(snapshot->series);
        free(snapshot);
        return store_lmdb_error(err, mrc, "beginning a read transaction");
    }
    *out = snapshot;
    return JL_OK;
}

void st_snapshot_close(st_snapshot *snapshot)
{
    if (snapshot == NULL)
        return;
    mdb_txn_abort(snapshot->txn);
    pthread_rwlock_unlock(&snapshot->store->map_lock);
    for (size_t i = 0; i < snapshot->count; i++)
        store_tail_release(snapshot->series[i].state.tail);
    if (snapshot->review_cache)
        for (size_t i = 0; i < snapshot->count; i++)
            free(snapshot->review_cache[i].spans);
    free(snapshot->review_cache);
    review_set_release(snapshot->reviews);
    free(snapshot->series);
    free(snapshot);
}

size_t st_snapshot_series_count(const st_snapshot *snapshot)
{
    return snapshot->count;
}

int st_snapshot_review_spans(st_snapshot *snapshot, size_t index, const st_review_span **spans,
                             size_t *count)
{
    *spans = NULL;
    *count = 0;
    if (index >= snapshot->count)
        return JL_ENOTFOUND;
    const review_set *set = snapshot->reviews;
    if (set == NULL || set->count == 0)
        return JL_OK;
    /* Out of memory is JL_ENOMEM (store.h does not list it, as any allocating call may). */
    if (snapshot->review_cache == NULL) {
        snapshot->review_cache = calloc(snapshot->count, sizeof *snapshot->review_cache);
        if (snapshot->review_cache == NULL)
            return JL_ENOMEM;
    }
    snapshot_spans *cached = &snapshot->review_cache[index];
    if (!cached->computed) {
        int rc =
            review_series_spans(set, snapshot->series[index].id, &cached->spans, &cached->count);
        if (rc != JL_OK)
            return rc;
        cached->computed = 1;
    }
    *spans = cached->spans;
    *count = cached->count;
    return JL_OK;
}

int st_snapshot_series_info(st_snapshot *snapshot, size_t index, st_series_info *info)
{
    if (index >= snapshot->count)
        return JL_ENOTFOUND;
    const snapshot_series *entry = &snapshot->series[index];
    info->id = entry->id;
    info->key = entry->key;
    info->key_len = entry->key_len;
    info->count = entry->state.count;
    info->first_ms = entry->state.first_ms;
    info->last_ms = entry->state.last_ms;
    info->last_value = entry->state.last_value;
    return JL_OK;
}

/* ---------- cursors ---------- */

int st_cursor_open(st_snapshot *snapshot, size_t index, int64_t from_ms, int64_t to_ms,
                   st_cursor **out, jl_error *err)
{
    *out = NULL;
    if (index >= snapshot->count)
        return jl_error_set(err, JL_ENOTFOUND, "no series at position %zu", index);
    st_cursor *cursor = calloc(1, sizeof *cursor);
    if (cursor == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory opening a cursor");
    cursor->snapshot = snapshot;
    cursor->series = &snapshot->series[index];
    cursor->from_ms = from_ms;
    cursor->to_ms = to_ms;
    int mrc = mdb_cursor_open(snapshot->txn, snapshot->store->db_chunks, &cursor->chunks);
    if (mrc != 0) {
        free(cursor);
        return store_lmdb_error(err, mrc, "opening a chunk cursor");
    }
    *out = cursor;
    return JL_OK;
}

void st_cursor_close(st_cursor *cursor)
{
    if (cursor == NULL)
        return;
    mdb_cursor_close(cursor->chunks);
    free(cursor->decoded_ms);
    free(cursor->decoded_values);
    free(cursor->decoded_flags);
    free(cursor->segments);
    free(cursor);
}

static int next_chunk(st_cursor *cursor, st_block *block, jl_error *err)
{
    MDB_val k, v;
    int mrc;
    if (cursor->phase == 0) {
        cursor->phase = 1;
        /* The chunk starting at or before from_ms may overlap it; later ones follow. */
        mrc = cursor->series->state.sealed_count
                  ? store_chunk_floor(cursor->chunks, cursor->series->id, cursor->from_ms, &k, &v)
                  : MDB_NOTFOUND;
    } else {
        mrc = mdb_cursor_get(cursor->chunks, &k, &v, MDB_NEXT);
    }
    for (; mrc == 0; mrc = mdb_cursor_get(cursor->chunks, &k, &v, MDB_NEXT)) {
        uint64_t id;
        int64_t start;
        store_chunk_key_parse(k.mv_data, &id, &start);
        if (id != cursor->series->id || start >= cursor->to_ms)
            return JL_ENOTFOUND;
        int rc = ck_read_summary(v.mv_data, v.mv_size, &block->summary, err);
        if (rc != JL_OK)
            return rc;
        if (block->summary.last_ms < cursor->from_ms)
            continue;
        cursor->chunk = v;
        block->decoded = 0;
        block->timestamps_ms = NULL;
        block->values = NULL;
        block->flags = NULL;
        block->count = 0;
        return JL_OK;
    }
    if (mrc != MDB_NOTFOUND)
        return store_lmdb_error(err, mrc, "reading chunks");
    return JL_ENOTFOUND;
}

/* Gives the cursor's decode buffers room for `needed` readings. JL_OK or JL_ENOMEM. */
static int cursor_reserve(st_cursor *cursor, size_t needed, jl_error *err)
{
    if (needed <= cursor->decoded_capacity)
        return JL_OK;
    int64_t *ms = realloc(cursor->decoded_ms, needed * sizeof *ms);
    if (ms == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory decoding readings");
    cursor->decoded_ms = ms;
    double *values = realloc(cursor->decoded_values, needed * sizeof *values);
    if (values == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory decoding readings");
    cursor->decoded_values = values;
    uint8_t *flags = realloc(cursor->decoded_flags, needed);
    if (flags == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory decoding readings");
    cursor->decoded_flags = flags;
    cursor->decoded_capacity = needed;
    return JL_OK;
}

int st_cursor_next(st_cursor *cursor, st_block *block, jl_error *err)
{
    if (cursor->phase <= 1) {
        int rc = next_chunk(cursor, block, err);
        if (rc != JL_ENOTFOUND)
            return rc;
        cursor->phase = 2;
    }
    if (cursor->phase == 2) {
        cursor->phase = 3;
        const series_state *st = &cursor->series->state;
        if (st->tail_count == 0)
            return JL_ENOTFOUND;
        /* The part of the tail inside [from, to), decoded into the cursor's buffers. */
        int rc = cursor_reserve(cursor, st->tail_count, err);
        if (rc != JL_OK)
            return rc;
        uint32_t count =
            tail_read(st->tail, st->tail_count, cursor->from_ms, cursor->to_ms - 1,
                      cursor->decoded_ms, cursor->decoded_values, cursor->decoded_flags);
        if (count == 0)
            return JL_ENOTFOUND;
        block->decoded = 1;
        block->timestamps_ms = cursor->decoded_ms;
        block->values = cursor->decoded_values;
        block->count = count;
        ck_summarize(block->timestamps_ms, block->values, block->count, &block->summary);
        const uint8_t *flags = cursor->decoded_flags;
        jl_flag_mask mask = 0;
        for (size_t i = 0; i < block->count; i++)
            mask |= (jl_flag_mask)(1u << flags[i]);
        block->summary.flag_mask = mask;
        block->flags = mask == JL_FLAG_MASK_N ? NULL : flags;
        return JL_OK;
    }
    return JL_ENOTFOUND;
}

int st_cursor_decode(st_cursor *cursor, st_block *block, jl_error *err)
{
    if (block->decoded)
        return JL_OK;
    int rc = cursor_reserve(cursor, block->summary.count, err);
    if (rc != JL_OK)
        return rc;
    size_t count = 0;
    rc = ck_decode(cursor->chunk.mv_data, cursor->chunk.mv_size, cursor->decoded_ms,
                   cursor->decoded_values, cursor->decoded_capacity, &count, err);
    if (rc == JL_OK && block->summary.flag_mask != JL_FLAG_MASK_N)
        rc = ck_read_flags(cursor->chunk.mv_data, cursor->chunk.mv_size, cursor->decoded_flags,
                           cursor->decoded_capacity, err);
    if (rc != JL_OK)
        return rc;
    block->decoded = 1;
    block->timestamps_ms = cursor->decoded_ms;
    block->values = cursor->decoded_values;
    block->flags = block->summary.flag_mask == JL_FLAG_MASK_N ? NULL : cursor->decoded_flags;
    block->count = count;
    return JL_OK;
}

int st_cursor_segments(st_cursor *cursor, const ck_segment **segments, size_t *count, jl_error *err)
{
    *segments = NULL;
    *count = 0;
    if (cursor->phase != 1)
        return JL_OK; /* a tail has no table */
    if (cursor->segments == NULL) {
        cursor->segments = malloc(CK_MAX_SEGMENTS * sizeof *cursor->segments);
        if (cursor->segments == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory reading a segment table");
    }
    int rc = ck_read_segments(cursor->chunk.mv_data, cursor->chunk.mv_size, cursor->segments,
                              CK_MAX_SEGMENTS, count, err);
    if (rc == JL_OK)
        *segments = cursor->segments;
    return rc;
}
