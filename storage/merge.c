/* Late readings: readings at or before their series' sealed end, collected during a transaction
 * and merged at its end into the sealed chunks they fall into (decoded, merged, rewritten), and
 * the writer's merge buffers that sealing also uses. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

int merge_reserve(writer_txn *wt, size_t needed)
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
    uint8_t *flags = realloc(wt->merge_flags, capacity);
    if (flags == NULL)
        return JL_ENOMEM;
    wt->merge_flags = flags;
    wt->merge_capacity = capacity;
    return JL_OK;
}

/* Decodes the chunk at the cursor into merge buffers starting at offset; sets *count. */
int merge_decode_chunk(writer_txn *wt, const MDB_val *data, size_t offset, size_t *count,
                       jl_error *err)
{
    ck_summary summary;
    int rc = ck_read_summary(data->mv_data, data->mv_size, &summary, err);
    if (rc == JL_OK)
        rc = merge_reserve(wt, offset + summary.count);
    if (rc == JL_OK)
        rc = ck_decode(data->mv_data, data->mv_size, wt->merge_ms + offset,
                       wt->merge_values + offset, summary.count, count, err);
    if (rc == JL_OK)
        rc = ck_read_flags(data->mv_data, data->mv_size, wt->merge_flags + offset, summary.count,
                           err);
    return rc;
}

int merge_add_late(writer_txn *wt, series *s, int64_t ms, double value, uint8_t flag,
                   uint64_t order)
{
    late_reading *late =
        jl_array_grow(wt->late, &wt->late_capacity, wt->late_count + 1, sizeof *late, 1024);
    if (late == NULL)
        return JL_ENOMEM;
    wt->late = late;
    wt->late[wt->late_count++] =
        (late_reading){.owner = s, .ms = ms, .value = value, .flag = flag, .order = order};
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

/* The first timestamp of the chunk after the cursor's when it belongs to series id, else
 * INT64_MAX; moves the cursor. */
static int64_t next_chunk_start(MDB_cursor *cursor, uint64_t id)
{
    MDB_val nk, nv;
    if (mdb_cursor_get(cursor, &nk, &nv, MDB_NEXT) != 0)
        return INT64_MAX;
    uint64_t next_id;
    int64_t start;
    store_chunk_key_parse(nk.mv_data, &next_id, &start);
    return next_id == id ? start : INT64_MAX;
}

/* Merges the decoded chunk (merge buffers [0, old_count)) with late[0..n) into the merge buffers
 * from old_count on, counting the late readings in the next state of s; returns the readings
 * merged and sets *added to those of new timestamps. */
static size_t merge_sorted(writer_txn *wt, series *s, size_t old_count, const late_reading *late,
                           size_t n, size_t *added)
{
    int64_t *out_ms = wt->merge_ms + old_count;
    double *out_values = wt->merge_values + old_count;
    uint8_t *out_flags = wt->merge_flags + old_count;
    size_t a = 0, b = 0, out = 0;
    *added = 0;
    while (a < old_count || b < n) {
        if (b == n || (a < old_count && wt->merge_ms[a] < late[b].ms)) {
            out_ms[out] = wt->merge_ms[a];
            out_flags[out] = wt->merge_flags[a];
            out_values[out++] = wt->merge_values[a++];
            continue;
        }
        /* A late reading at a stored timestamp replaces the stored one. */
        int is_new = a == old_count || late[b].ms < wt->merge_ms[a];
        out_ms[out] = late[b].ms;
        out_flags[out] = late[b].flag;
        out_values[out++] = late[b].value;
        tail_note_reading(&s->next, late[b].ms, late[b].value, is_new);
        *added += (size_t)is_new;
        a += (size_t)!is_new;
        b++;
    }
    return out;
}

/* Deletes the chunk of s under chunk_key (old_bytes long) from the transaction's counters and
 * the chunks database. */
static int delete_chunk(st_store *store, writer_txn *wt, series *s, const uint8_t *chunk_key,
                        size_t old_bytes, jl_error *err)
{
    MDB_val old_key = {CHUNK_KEY_BYTES, (void *)chunk_key};
    int mrc = mdb_del(wt->txn, store->db_chunks, &old_key, NULL);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "replacing a chunk");
    wt->chunk_count_delta--;
    wt->chunk_bytes_delta -= (int64_t)old_bytes;
    return series_state_note_chunks(wt, s, -1, -(int64_t)old_bytes, err);
}

/* Merges the late readings of s from late[0..n) that fall into the chunk at or before
 * late[0].ms (or the series' first chunk) and rewrites it; sets *used to how many it took. */
static int merge_into_floor_chunk(st_store *store, writer_txn *wt, MDB_cursor *cursor, series *s,
                                  const late_reading *late, size_t n, size_t *used, jl_error *err)
{
    MDB_val k, v;
    int mrc = store_chunk_floor(cursor, s->id, late[0].ms, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return jl_error_set(err, JL_ECORRUPT,
                            "series %llu has a sealed end but no chunk covering %lld",
                            (unsigned long long)s->id, (long long)late[0].ms);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "finding a chunk");
    uint8_t chunk_key[CHUNK_KEY_BYTES];
    memcpy(chunk_key, k.mv_data, CHUNK_KEY_BYTES);
    MDB_val chunk = v; /* stays valid until this transaction writes */
    size_t old_count = 0;
    int rc = merge_decode_chunk(wt, &chunk, 0, &old_count, err);
    if (rc != JL_OK)
        return rc;
    /* The next chunk's start bounds which late readings go into this one. */
    int64_t next_start = next_chunk_start(cursor, s->id);
    size_t j = 0;
    while (j < n && late[j].ms < next_start)
        j++;
    rc = merge_reserve(wt, 2 * old_count + 2 * j);
    if (rc != JL_OK)
        return rc;
    size_t added = 0;
    size_t merged = merge_sorted(wt, s, old_count, late, j, &added);
    rc = delete_chunk(store, wt, s, chunk_key, chunk.mv_size, err);
    if (rc != JL_OK)
        return rc;
    rc = seal_put_chunks(store, wt, s, wt->merge_ms + old_count, wt->merge_values + old_count,
                         wt->merge_flags + old_count, merged, NULL, err);
    s->next.sealed_count += added;
    *used = j;
    return rc;
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
    for (size_t i = 0; i < n && rc == JL_OK;) {
        size_t used = 0;
        rc = merge_into_floor_chunk(store, wt, cursor, s, late + i, n - i, &used, err);
        i += used;
    }
    mdb_cursor_close(cursor);
    return rc;
}

int merge_late(st_store *store, writer_txn *wt, jl_error *err)
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
