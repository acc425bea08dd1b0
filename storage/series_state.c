/* Sealed series states in LMDB (the "series_state" database, disk_format.h section 4): what
 * opening a store used to learn by reading every chunk header (sealed end and count, first and
 * last sealed reading, the chunk totals, what the seal planner learns from the last chunk), kept
 * per series by the writer in the same transaction as the chunk changes, so that open reads one
 * record per series instead of one header per chunk. The write log is replayed after this as
 * before: a record says where a series' sealed readings end, and the log's later readings
 * rebuild the tail on top.
 *
 * Why the writer reads the first and last chunk back instead of deriving the record from the
 * in-memory state: the chunks are the truth, and seal, merge and absorb each change them in
 * their own way (a merge may rewrite the last chunk without moving the sealed end; a seal may
 * absorb the last chunk); two B-tree lookups per changed series per transaction are cheap beside
 * the chunk writes that caused them, and the record then equals what a walk would find. */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

void series_state_encode(const series_record *r, uint8_t *out)
{
    out[SERIES_STATE_OFF_VERSION] = SERIES_STATE_VERSION;
    out[SERIES_STATE_OFF_LAST_FLAG] = r->last_flag;
    bytes_put_le64(out + SERIES_STATE_OFF_CHUNKS, r->chunks);
    bytes_put_le64(out + SERIES_STATE_OFF_CHUNK_BYTES, r->chunk_bytes);
    bytes_put_le64(out + SERIES_STATE_OFF_SEALED_COUNT, r->sealed_count);
    bytes_put_le64(out + SERIES_STATE_OFF_FIRST_MS, (uint64_t)r->first_ms);
    bytes_put_le64(out + SERIES_STATE_OFF_LAST_MS, (uint64_t)r->last_ms);
    bytes_put_f64(out + SERIES_STATE_OFF_LAST_VALUE, r->last_value);
    bytes_put_le32(out + SERIES_STATE_OFF_LAST_CHUNK_COUNT, r->last_chunk_count);
    bytes_put_le32(out + SERIES_STATE_OFF_LAST_CHUNK_BYTES, r->last_chunk_bytes);
    bytes_put_le64(out + SERIES_STATE_OFF_LAST_CHUNK_FIRST_MS, (uint64_t)r->last_chunk_first_ms);
    bytes_put_le32(out + SERIES_STATE_OFF_CRC, ck_crc32c(0, out, SERIES_STATE_OFF_CRC));
}

int series_state_decode(const void *data, size_t len, series_record *r, jl_error *err)
{
    const uint8_t *p = data;
    if (len != SERIES_STATE_VALUE_BYTES)
        return jl_error_set(err, JL_ECORRUPT, "a series state has %zu bytes", len);
    if (p[SERIES_STATE_OFF_VERSION] != SERIES_STATE_VERSION)
        return jl_error_set(err, JL_ECORRUPT, "a series state has version %u",
                            p[SERIES_STATE_OFF_VERSION]);
    if (bytes_get_le32(p + SERIES_STATE_OFF_CRC) != ck_crc32c(0, p, SERIES_STATE_OFF_CRC))
        return jl_error_set(err, JL_ECORRUPT, "a series state fails its checksum");
    r->last_flag = p[SERIES_STATE_OFF_LAST_FLAG];
    r->chunks = bytes_get_le64(p + SERIES_STATE_OFF_CHUNKS);
    r->chunk_bytes = bytes_get_le64(p + SERIES_STATE_OFF_CHUNK_BYTES);
    r->sealed_count = bytes_get_le64(p + SERIES_STATE_OFF_SEALED_COUNT);
    r->first_ms = (int64_t)bytes_get_le64(p + SERIES_STATE_OFF_FIRST_MS);
    r->last_ms = (int64_t)bytes_get_le64(p + SERIES_STATE_OFF_LAST_MS);
    r->last_value = bytes_get_f64(p + SERIES_STATE_OFF_LAST_VALUE);
    r->last_chunk_count = bytes_get_le32(p + SERIES_STATE_OFF_LAST_CHUNK_COUNT);
    r->last_chunk_bytes = bytes_get_le32(p + SERIES_STATE_OFF_LAST_CHUNK_BYTES);
    r->last_chunk_first_ms = (int64_t)bytes_get_le64(p + SERIES_STATE_OFF_LAST_CHUNK_FIRST_MS);
    if (r->chunks == 0) {
        /* The empty record of a series without chunks: every other field 0. */
        static const uint8_t zeros[SERIES_STATE_OFF_CRC - SERIES_STATE_OFF_LAST_FLAG];
        if (memcmp(p + SERIES_STATE_OFF_LAST_FLAG, zeros, sizeof zeros) != 0)
            return jl_error_set(err, JL_ECORRUPT, "an empty series state has fields set");
        return JL_OK;
    }
    if (r->last_flag >= JL_FLAG_COUNT || r->sealed_count < r->chunks || r->last_chunk_count == 0 ||
        r->last_chunk_count > CK_MAX_READINGS || r->last_chunk_count > r->sealed_count ||
        r->first_ms > r->last_chunk_first_ms || r->last_chunk_first_ms > r->last_ms)
        return jl_error_set(err, JL_ECORRUPT, "a series state has inconsistent fields");
    return JL_OK;
}

/* Fills the last-chunk fields of r from the last chunk (value v, summary sum); flags is scratch
 * of at least sum->count bytes, read only when some reading of the chunk is flagged. */
static int take_last_chunk(series_record *r, const MDB_val *v, const ck_summary *sum,
                           uint8_t *flags, jl_error *err)
{
    r->last_ms = sum->last_ms;
    r->last_value = sum->last_value;
    r->last_chunk_count = sum->count;
    r->last_chunk_bytes = (uint32_t)v->mv_size;
    r->last_chunk_first_ms = sum->first_ms;
    r->last_flag = JL_FLAG_N;
    if (sum->flag_mask == JL_FLAG_MASK_N)
        return JL_OK;
    int rc = ck_read_flags(v->mv_data, v->mv_size, flags, sum->count, err);
    if (rc == JL_OK)
        r->last_flag = flags[sum->count - 1];
    return rc;
}

/* Computes the record of series id from all its chunks, as opening did before records existed;
 * *found is 0 when the series has no chunk. flags: scratch of CK_MAX_READINGS bytes. */
static int walk_series(MDB_cursor *cursor, uint64_t id, series_record *r, int *found,
                       uint8_t *flags, jl_error *err)
{
    uint8_t key[CHUNK_KEY_BYTES];
    store_chunk_key(key, id, INT64_MIN);
    MDB_val k = {CHUNK_KEY_BYTES, key}, v, last = {0, NULL};
    ck_summary summary, last_summary;
    memset(&last_summary, 0, sizeof last_summary);
    memset(r, 0, sizeof *r);
    *found = 0;
    int mrc;
    for (mrc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        uint64_t chunk_id;
        int64_t first;
        if (k.mv_size != CHUNK_KEY_BYTES)
            return jl_error_set(err, JL_ECORRUPT, "a chunk key has %zu bytes", k.mv_size);
        store_chunk_key_parse(k.mv_data, &chunk_id, &first);
        if (chunk_id != id)
            break;
        int rc = ck_read_summary(v.mv_data, v.mv_size, &summary, err);
        if (rc != JL_OK)
            return rc;
        if (summary.first_ms != first)
            return jl_error_set(err, JL_ECORRUPT, "a chunk of series %llu is under another key",
                                (unsigned long long)id);
        if (r->chunks == 0)
            r->first_ms = first;
        r->chunks++;
        r->chunk_bytes += v.mv_size;
        r->sealed_count += summary.count;
        last = v;
        last_summary = summary;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return store_lmdb_error(err, mrc, "reading the chunks");
    if (r->chunks == 0)
        return JL_OK;
    *found = 1;
    return take_last_chunk(r, &last, &last_summary, flags, err);
}

/* Sets the live state of s as reading its chunks would, and adds its chunks to the totals. */
static void apply_record(st_store *store, series *s, const series_record *r)
{
    if (r->chunks == 0)
        return; /* an empty record: the series has no chunks */
    series_state *st = &s->live;
    st->first_ms = r->first_ms;
    st->count = r->sealed_count; /* the log replay adds the tail */
    st->sealed_count = r->sealed_count;
    st->sealed_max_ms = r->last_ms;
    st->last_ms = r->last_ms;
    st->last_value = r->last_value;
    seal_plan(store, s, r->last_chunk_count, r->last_chunk_bytes,
              (double)r->last_ms - (double)r->last_chunk_first_ms);
    store->chunk_count += r->chunks;
    store->chunk_bytes += r->chunk_bytes;
}

static int put_record(st_store *store, MDB_txn *txn, uint64_t id, const series_record *r,
                      jl_error *err)
{
    uint8_t key[SERIES_STATE_KEY_BYTES], value[SERIES_STATE_VALUE_BYTES];
    bytes_put_be64(key, id);
    series_state_encode(r, value);
    MDB_val k = {sizeof key, key}, v = {sizeof value, value};
    int mrc = mdb_put(txn, store->db_series_state, &k, &v, 0);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "writing a series state");
    return JL_OK;
}

/* Also where a series loses its last chunk, or a rebuild finds none: the series keeps its
 * empty record rather than none, and rewriting it in place keeps the page it was packed into,
 * where deleting it and putting it back on the next seal would split a page. */
int series_state_create(st_store *store, MDB_txn *txn, uint64_t id, jl_error *err)
{
    series_record empty;
    memset(&empty, 0, sizeof empty);
    return put_record(store, txn, id, &empty, err);
}

/* Walks the chunks of series id and applies what it finds, writing the record unless read-only
 * (an empty one when the series has no chunk). */
static int rebuild_series(st_store *store, MDB_txn *txn, MDB_cursor *chunks, uint64_t id,
                          uint8_t *flags, jl_error *err)
{
    series_record r;
    int found = 0;
    int rc = walk_series(chunks, id, &r, &found, flags, err);
    if (rc != JL_OK)
        return rc;
    if (found)
        apply_record(store, store->by_id[id], &r);
    if (store->options.read_only || !store->has_series_state_db)
        return JL_OK;
    return found ? put_record(store, txn, id, &r, err) : series_state_create(store, txn, id, err);
}

/* Reads every record; ids whose record fails validation go to *bad (malloc'ed, *bad_count). */
static int read_records(st_store *store, MDB_txn *txn, uint64_t **bad, size_t *bad_count,
                        jl_error *err)
{
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(txn, store->db_series_state, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the series states");
    size_t capacity = 0;
    MDB_val k, v;
    int rc = JL_OK;
    for (mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); mrc == 0 && rc == JL_OK;
         mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        uint64_t id = k.mv_size == SERIES_STATE_KEY_BYTES ? bytes_get_be64(k.mv_data) : 0;
        if (id == 0 || id > store->series_count) {
            rc = jl_error_set(err, JL_ECORRUPT, "a series state names unknown series %llu",
                              (unsigned long long)id);
            break;
        }
        series_record r;
        if (series_state_decode(v.mv_data, v.mv_size, &r, NULL) == JL_OK) {
            apply_record(store, store->by_id[id], &r);
            continue;
        }
        uint64_t *grown = jl_array_grow(*bad, &capacity, *bad_count + 1, sizeof *grown, 16);
        if (grown == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory reading the series states");
            break;
        }
        *bad = grown;
        (*bad)[(*bad_count)++] = id;
    }
    if (rc == JL_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_lmdb_error(err, mrc, "reading the series states");
    mdb_cursor_close(cursor);
    return rc;
}

int series_state_load(st_store *store, MDB_txn *txn, uint32_t stored_version, jl_error *err)
{
    int walk_all = stored_version < FORMAT_VERSION_SERIES_STATE || !store->has_series_state_db;
    uint8_t *flags = malloc(CK_MAX_READINGS);
    if (flags == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory opening the store");
    MDB_cursor *chunks = NULL;
    uint64_t *bad = NULL;
    size_t bad_count = 0;
    int rc = JL_OK;
    int mrc = mdb_cursor_open(txn, store->db_chunks, &chunks);
    if (mrc != 0)
        rc = store_lmdb_error(err, mrc, "opening the chunks");
    if (rc == JL_OK && walk_all && store->has_series_state_db && !store->options.read_only) {
        /* Records a format-4 build cannot have kept are dropped, then written anew. */
        mrc = mdb_drop(txn, store->db_series_state, 0);
        if (mrc != 0)
            rc = store_lmdb_error(err, mrc, "emptying the series states");
    }
    if (rc == JL_OK && walk_all) {
        for (uint64_t id = 1; id <= store->series_count && rc == JL_OK; id++)
            rc = rebuild_series(store, txn, chunks, id, flags, err);
    } else if (rc == JL_OK) {
        rc = read_records(store, txn, &bad, &bad_count, err);
        for (size_t i = 0; i < bad_count && rc == JL_OK; i++)
            rc = rebuild_series(store, txn, chunks, bad[i], flags, err);
        store->states_rebuilt = bad_count;
        if (rc == JL_OK && bad_count > 0)
            fprintf(stderr,
                    "jialing: %zu series state record(s) failed validation and were rebuilt from "
                    "their chunks (first: series %llu)\n",
                    bad_count, (unsigned long long)bad[0]);
    }
    if (chunks)
        mdb_cursor_close(chunks);
    free(bad);
    free(flags);
    return rc;
}

int series_state_note_chunks(writer_txn *wt, series *s, int64_t chunks, int64_t bytes,
                             jl_error *err)
{
    if (s->state_change == 0) {
        state_change *grown = jl_array_grow(wt->state_changes, &wt->state_change_capacity,
                                            wt->state_change_count + 1, sizeof *grown, 64);
        if (grown == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory noting a chunk change");
        wt->state_changes = grown;
        wt->state_changes[wt->state_change_count] = (state_change){s, 0, 0};
        s->state_change = (int)++wt->state_change_count;
    }
    state_change *change = &wt->state_changes[s->state_change - 1];
    change->chunks += chunks;
    change->bytes += bytes;
    return JL_OK;
}

void series_state_forget(writer_txn *wt)
{
    for (size_t i = 0; i < wt->state_change_count; i++)
        wt->state_changes[i].owner->state_change = 0;
    wt->state_change_count = 0;
}

/* The first and last chunk of s in the transaction: sets r's first_ms and last-chunk fields;
 * *found 0 when s has no chunk left. */
static int read_ends(writer_txn *wt, MDB_cursor *cursor, series *s, series_record *r, int *found,
                     jl_error *err)
{
    MDB_val k, v;
    *found = 0;
    int mrc = store_chunk_floor(cursor, s->id, INT64_MAX, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return JL_OK;
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "finding a chunk");
    ck_summary summary;
    int rc = ck_read_summary(v.mv_data, v.mv_size, &summary, err);
    if (rc == JL_OK)
        rc = merge_reserve(wt, summary.count) == JL_OK
                 ? take_last_chunk(r, &v, &summary, wt->merge_flags, err)
                 : jl_error_set(err, JL_ENOMEM, "out of memory reading a chunk's flags");
    if (rc != JL_OK)
        return rc;
    uint8_t key[CHUNK_KEY_BYTES];
    store_chunk_key(key, s->id, INT64_MIN);
    k = (MDB_val){CHUNK_KEY_BYTES, key};
    mrc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "finding a chunk");
    uint64_t id;
    store_chunk_key_parse(k.mv_data, &id, &r->first_ms);
    *found = 1;
    return JL_OK;
}

/* Rewrites the record of one changed series. */
static int write_one(st_store *store, writer_txn *wt, MDB_cursor *cursor, const state_change *c,
                     uint8_t **walk_flags, jl_error *err)
{
    series *s = c->owner;
    uint8_t key[SERIES_STATE_KEY_BYTES];
    bytes_put_be64(key, s->id);
    MDB_val k = {sizeof key, key}, v;
    series_record old, r;
    memset(&old, 0, sizeof old);
    int mrc = mdb_get(wt->txn, store->db_series_state, &k, &v);
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return store_lmdb_error(err, mrc, "reading a series state");
    if (mrc == 0 && series_state_decode(v.mv_data, v.mv_size, &old, NULL) != JL_OK) {
        /* The counts cannot be carried forward: read them from every chunk instead. */
        if (*walk_flags == NULL && (*walk_flags = malloc(CK_MAX_READINGS)) == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory rebuilding a series state");
        int found = 0;
        int rc = walk_series(cursor, s->id, &r, &found, *walk_flags, err);
        if (rc != JL_OK)
            return rc;
        return found ? put_record(store, wt->txn, s->id, &r, err)
                     : series_state_create(store, wt->txn, s->id, err);
    }
    int64_t chunks = (int64_t)old.chunks + c->chunks;
    if (chunks <= 0)
        return series_state_create(store, wt->txn, s->id, err);
    int found = 0;
    memset(&r, 0, sizeof r);
    int rc = read_ends(wt, cursor, s, &r, &found, err);
    if (rc != JL_OK)
        return rc;
    if (!found)
        return series_state_create(store, wt->txn, s->id, err);
    r.chunks = (uint64_t)chunks;
    r.chunk_bytes = (uint64_t)((int64_t)old.chunk_bytes + c->bytes);
    r.sealed_count = s->next.sealed_count;
    return put_record(store, wt->txn, s->id, &r, err);
}

int series_state_write(st_store *store, writer_txn *wt, jl_error *err)
{
    if (wt->state_change_count == 0)
        return JL_OK;
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(wt->txn, store->db_chunks, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening a chunk cursor");
    uint8_t *walk_flags = NULL;
    int rc = JL_OK;
    for (size_t i = 0; i < wt->state_change_count && rc == JL_OK; i++)
        rc = write_one(store, wt, cursor, &wt->state_changes[i], &walk_flags, err);
    mdb_cursor_close(cursor);
    free(walk_flags);
    series_state_forget(wt);
    return rc;
}
