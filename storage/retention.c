/* Retention: readings older than now - the retention of their metric are not kept
 * (README.md "Retention"). This file owns
 *   - the retention of a series (st_options.retention_ms, overridden per metric by rules),
 *   - the pass: inside one writer transaction, for a bounded run of series ids, deleting the
 *     sealed chunks whose last reading is past the cut and setting the series' first_ms, count
 *     and sealed_count from the chunk headers (retention_apply, a WRITE_RETENTION request),
 *   - the cycle the writer runs by itself between groups (retention_auto_*) and the one
 *     st_retention_run() drives through the writer queue,
 *   - dropping written readings that are already past the cut (retention_filter, st_write).
 *
 * Why whole chunks only: a chunk straddling the cut would have to be decoded and rewritten,
 * costing as much as writing it did; it goes once its last reading is past the cut. Why the
 * newest chunk of a series stays even when wholly past: recovery (store.c) learns a series'
 * sealed end from its chunk headers, and log replay skips only readings at or before that end,
 * so deleting the last chunk could bring back readings of old log blocks. A series that stopped
 * reporting therefore keeps one chunk; its latest value stays answerable. Readings in tails and
 * in the write log are not touched: they become chunks when sealed, and go from there. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

/* Work of one pass, so that it holds the writer no longer than about a commit: series looked at
 * in memory, series whose chunks are read, chunks deleted (freeing a chunk's pages writes only
 * its leaf and the freelist). */
#define RETENTION_PASS_SERIES 65536
#define RETENTION_PASS_SEEKS 4096
#define RETENTION_PASS_CHUNKS 2048

static int64_t retention_now(const st_store *store)
{
    return store->options.clock_ms ? store->options.clock_ms(store->options.clock_context)
                                   : jl_now_ms();
}

int retention_enabled(const st_store *store)
{
    if (store->options.retention_ms > 0)
        return 1;
    for (size_t i = 0; i < store->options.retention_rule_count; i++)
        if (store->options.retention_rules[i].ms > 0)
            return 1;
    return 0;
}

/* The retention of the metric of a canonical key (the name before '{'): its rule's, else the
 * default; 0 (or less) keeps it forever. */
static int64_t retention_of_key(const st_store *store, const char *key, size_t len)
{
    size_t name_len = 0;
    while (name_len < len && key[name_len] != '{')
        name_len++;
    const st_options *o = &store->options;
    for (size_t i = 0; i < o->retention_rule_count; i++) {
        const char *metric = o->retention_rules[i].metric;
        if (metric && strlen(metric) == name_len && memcmp(metric, key, name_len) == 0)
            return o->retention_rules[i].ms;
    }
    return o->retention_ms;
}

/* The cut for a retention at now: readings before it are past retention; JL_MIN_MS when
 * nothing can be (keep forever, or a retention longer than all time). */
static int64_t retention_cut(int64_t now_ms, int64_t retention_ms)
{
    if (retention_ms <= 0 || now_ms - JL_MIN_MS <= retention_ms)
        return JL_MIN_MS;
    return now_ms - retention_ms;
}

/* Deletes the chunks of s wholly before cut, its newest chunk excepted, at most `budget`;
 * *stopped is 1 when the budget ended before the series did. */
static int retention_series(st_store *store, writer_txn *wt, MDB_cursor *cursor, series *s,
                            int64_t cut, retention_op *op, uint64_t budget, int *stopped,
                            jl_error *err)
{
    uint8_t(*keys)[CHUNK_KEY_BYTES] = op->keys;
    uint8_t probe[CHUNK_KEY_BYTES];
    store_chunk_key(probe, s->id, INT64_MIN);
    MDB_val k = {CHUNK_KEY_BYTES, probe}, v;
    uint64_t doomed = 0, readings = 0, bytes = 0;
    int64_t remaining_first = 0;
    *stopped = 0;
    int mrc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (mrc == 0) {
        uint64_t id;
        int64_t first;
        if (k.mv_size != CHUNK_KEY_BYTES)
            return jl_error_set(err, JL_ECORRUPT, "a chunk key has %zu bytes", k.mv_size);
        store_chunk_key_parse(k.mv_data, &id, &first);
        if (id != s->id)
            break;
        ck_summary summary;
        int rc = ck_read_summary(v.mv_data, v.mv_size, &summary, err);
        if (rc != JL_OK)
            return rc;
        if (summary.last_ms >= cut || doomed == budget) {
            *stopped = summary.last_ms < cut;
            remaining_first = first;
            break;
        }
        /* Past the cut: it goes if a newer chunk of the series follows. */
        uint8_t candidate[CHUNK_KEY_BYTES];
        memcpy(candidate, k.mv_data, CHUNK_KEY_BYTES);
        size_t candidate_bytes = v.mv_size;
        mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
        uint64_t next_id = 0;
        int64_t next_first;
        if (mrc == 0 && k.mv_size == CHUNK_KEY_BYTES)
            store_chunk_key_parse(k.mv_data, &next_id, &next_first);
        if (mrc != 0 || next_id != s->id) {
            remaining_first = first; /* the newest chunk stays */
            if (mrc == MDB_NOTFOUND)
                mrc = 0;
            break;
        }
        memcpy(keys[doomed++], candidate, CHUNK_KEY_BYTES);
        readings += summary.count;
        bytes += candidate_bytes;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        return store_lmdb_error(err, mrc, "reading the chunks");
    for (uint64_t i = 0; i < doomed; i++) {
        MDB_val key = {CHUNK_KEY_BYTES, keys[i]};
        mrc = mdb_del(wt->txn, store->db_chunks, &key, NULL);
        if (mrc != 0)
            return store_lmdb_error(err, mrc, "deleting a chunk past retention");
    }
    if (doomed == 0)
        return JL_OK;
    /* The series' sealed-state record is rewritten from its chunks before this commit. */
    int rc = series_state_note_chunks(wt, s, -(int64_t)doomed, -(int64_t)bytes, err);
    if (rc != JL_OK)
        return rc;
    tail_touch(wt, s);
    s->next.count -= readings;
    s->next.sealed_count -= readings;
    s->next.first_ms = remaining_first;
    wt->chunk_count_delta -= (int64_t)doomed;
    wt->chunk_bytes_delta -= (int64_t)bytes;
    op->chunks_deleted += doomed;
    op->readings_deleted += readings;
    return JL_OK;
}

int retention_apply(st_store *store, writer_txn *wt, retention_op *op, jl_error *err)
{
    op->series_examined = op->chunks_deleted = op->readings_deleted = 0;
    op->next_id = 0;
    if (!retention_enabled(store))
        return JL_OK;
    if (op->keys == NULL) {
        op->keys = malloc((size_t)RETENTION_PASS_CHUNKS * CHUNK_KEY_BYTES);
        if (op->keys == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory for a retention pass");
    }
    MDB_cursor *cursor = NULL;
    int mrc = mdb_cursor_open(wt->txn, store->db_chunks, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening a chunk cursor");
    int rc = JL_OK;
    uint64_t id = op->from_id ? op->from_id : 1, looked = 0, seeks = 0;
    while (rc == JL_OK && id <= store->series_count) {
        if (looked == RETENTION_PASS_SERIES || seeks == RETENTION_PASS_SEEKS ||
            op->chunks_deleted == RETENTION_PASS_CHUNKS)
            break;
        series *s = store->by_id[id];
        looked++;
        const series_state *st = s->touched ? &s->next : &s->live;
        int64_t cut = retention_cut(op->now_ms, retention_of_key(store, s->key, s->key_len));
        if (cut > JL_MIN_MS)
            op->series_examined++;
        /* first_ms is the first chunk's first reading: nothing of the series is past the cut
         * unless it is, which is known without reading a chunk. */
        if (cut > JL_MIN_MS && st->sealed_count > 0 && st->first_ms < cut) {
            int stopped = 0;
            seeks++;
            rc = retention_series(store, wt, cursor, s, cut, op,
                                  RETENTION_PASS_CHUNKS - op->chunks_deleted, &stopped, err);
            if (stopped)
                break; /* the next pass goes on with this series */
        }
        id++;
    }
    mdb_cursor_close(cursor);
    op->next_id = id <= store->series_count ? id : 0;
    return rc;
}

void retention_count(st_store *store, const retention_op *op)
{
    atomic_fetch_add(&store->retention_chunks_deleted, op->chunks_deleted);
    atomic_fetch_add(&store->retention_readings_deleted, op->readings_deleted);
}

void retention_stats(st_store *store, st_stats *stats)
{
    stats->retention_chunks_deleted = atomic_load(&store->retention_chunks_deleted);
    stats->retention_readings_deleted = atomic_load(&store->retention_readings_deleted);
    stats->retention_dropped_readings = atomic_load(&store->retention_dropped_readings);
}

/* ---------- the writer's own cycle ---------- */

static int64_t retention_interval_ms(const st_store *store)
{
    int64_t interval = store->options.retention_interval_ms;
    return interval == 0 ? ST_DEFAULT_RETENTION_INTERVAL_MS : interval;
}

int64_t retention_auto_wait_ms(const st_store *store, const retention_auto *a, int queue_empty)
{
    if (store->options.read_only || !retention_enabled(store) || retention_interval_ms(store) < 0)
        return -1;
    /* Within a cycle, passes alternate with groups of writes, never two passes in a row while
     * writes wait. */
    if (a->in_cycle)
        return (queue_empty || !a->ran_since_group) ? 0 : -1;
    int64_t left_ns = a->next_cycle_ns - jl_monotonic_ns();
    if (left_ns <= 0)
        return 0;
    return left_ns / 1000000 + 1;
}

void retention_auto_begin(st_store *store, retention_auto *a)
{
    if (!a->in_cycle) {
        a->in_cycle = 1;
        a->op.from_id = 1;
        a->next_cycle_ns = jl_monotonic_ns() + retention_interval_ms(store) * 1000000;
    }
    a->op.now_ms = retention_now(store);
}

void retention_auto_end(st_store *store, retention_auto *a, int rc)
{
    a->ran_since_group = 1;
    if (rc == JL_OK) {
        retention_count(store, &a->op);
        a->op.from_id = a->op.next_id;
    }
    /* Done, or failed (a full disk, say): the next cycle starts after the interval. */
    if (rc != JL_OK || a->op.next_id == 0)
        a->in_cycle = 0;
}

void retention_auto_destroy(retention_auto *a)
{
    free(a->op.keys);
    a->op.keys = NULL;
}

/* ---------- st_retention_run ---------- */

int st_retention_run(st_store *store, st_retention_result *result, jl_error *err)
{
    st_retention_result local;
    if (result == NULL)
        result = &local;
    memset(result, 0, sizeof *result);
    if (store->options.read_only)
        return jl_error_set(err, JL_EBUSY, "the store was opened read-only");
    if (!retention_enabled(store))
        return JL_OK;
    retention_op op;
    memset(&op, 0, sizeof op);
    op.now_ms = retention_now(store);
    op.from_id = 1;
    int rc = JL_OK;
    do {
        write_request request;
        memset(&request, 0, sizeof request);
        request.kind = WRITE_RETENTION;
        request.retention = &op;
        rc = writer_submit(store, &request, err);
        if (rc != JL_OK)
            break;
        retention_count(store, &op);
        result->series_examined += op.series_examined;
        result->chunks_deleted += op.chunks_deleted;
        result->readings_deleted += op.readings_deleted;
        result->passes++;
        op.from_id = op.next_id;
    } while (op.next_id != 0);
    free(op.keys);
    return rc;
}

/* ---------- writes past the cut ---------- */

int retention_filter(st_store *store, const st_batch *batch, st_batch *kept, uint64_t *dropped,
                     jl_error *err)
{
    st_batch_init(kept);
    *dropped = 0;
    if (!retention_enabled(store) || batch->point_count == 0)
        return JL_OK;
    int64_t now = retention_now(store);
    int64_t *cuts = malloc(sizeof(int64_t) * batch->series_count);
    uint32_t *index = malloc(sizeof(uint32_t) * batch->series_count);
    if (cuts == NULL || index == NULL) {
        free(cuts);
        free(index);
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < batch->series_count; i++) {
        size_t len;
        const char *key = st_batch_series_key(batch, i, &len);
        cuts[i] = retention_cut(now, retention_of_key(store, key, len));
        index[i] = UINT32_MAX;
    }
    uint64_t past = 0;
    for (size_t i = 0; i < batch->point_count; i++)
        past += batch->point_ms[i] < cuts[batch->point_series[i]];
    int rc = JL_OK;
    /* Only a batch with readings past the cut is copied; the others go as they are. */
    for (size_t i = 0; past > 0 && rc == JL_OK && i < batch->point_count; i++) {
        uint32_t s = batch->point_series[i];
        if (batch->point_ms[i] < cuts[s])
            continue;
        if (index[s] == UINT32_MAX) {
            size_t len;
            const char *key = st_batch_series_key(batch, s, &len);
            rc = st_batch_series(kept, key, len, &index[s]);
        }
        if (rc == JL_OK)
            rc = st_batch_point_flagged(kept, index[s], batch->point_ms[i], batch->point_values[i],
                                        batch->point_flags[i]);
    }
    free(cuts);
    free(index);
    if (rc != JL_OK) {
        st_batch_destroy(kept);
        st_batch_init(kept);
        return jl_error_set(err, rc, "out of memory");
    }
    *dropped = past;
    return JL_OK;
}
