/* The read side of the store: resolving selectors through the postings, consistent snapshots
 * (one LMDB read transaction plus the tails and states of the chosen series taken under the same
 * lock as the writer's publish), cursors that yield sealed chunks (summary first, decoded on
 * demand) and then the tail, and store statistics. */
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

struct st_snapshot {
    st_store *store;
    MDB_txn *txn;
    snapshot_series *series;
    size_t count;
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
    size_t decoded_capacity;
    ck_segment *segments; /* the current chunk's segment table, CK_MAX_SEGMENTS entries */
};

/* ---------- selection ---------- */

static int read_posting(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *value,
                        uint64_t **ids, size_t *count, int *hashed, jl_error *err)
{
    char posting[512 + 32];
    size_t key_len = strlen(key), value_len = strlen(value);
    size_t len = store_posting_key(posting, sizeof posting, key, key_len, value, value_len);
    *hashed = !(len == key_len + 1 + value_len && posting[key_len] == '=' &&
                memcmp(posting + key_len + 1, value, value_len) == 0);
    *ids = NULL;
    *count = 0;
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(txn, dbi, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the postings");
    MDB_val k = {len, posting}, v;
    size_t capacity = 0;
    int rc = JL_OK;
    mrc = mdb_cursor_get(cursor, &k, &v, MDB_SET_KEY);
    if (mrc == 0)
        mrc = mdb_cursor_get(cursor, &k, &v, MDB_GET_MULTIPLE);
    while (mrc == 0) {
        size_t n = v.mv_size / 8;
        if (*count + n > capacity) {
            capacity = (*count + n) * 2;
            uint64_t *grown = realloc(*ids, capacity * sizeof *grown);
            if (grown == NULL) {
                rc = jl_error_set(err, JL_ENOMEM, "out of memory reading postings");
                break;
            }
            *ids = grown;
        }
        const uint8_t *p = v.mv_data;
        for (size_t i = 0; i < n; i++) {
            uint64_t id = 0;
            for (int b = 0; b < 8; b++)
                id = (id << 8) | p[i * 8 + b];
            (*ids)[(*count)++] = id;
        }
        mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT_MULTIPLE);
    }
    if (rc == JL_OK && mrc != MDB_NOTFOUND)
        rc = store_lmdb_error(err, mrc, "reading postings");
    mdb_cursor_close(cursor);
    return rc;
}

/* Number of ids in the posting of matcher key=value (0 when absent or on error). */
static size_t posting_length(MDB_txn *txn, MDB_dbi dbi, const st_matcher *matcher)
{
    char posting[512 + 32];
    size_t len = store_posting_key(posting, sizeof posting, matcher->key, strlen(matcher->key),
                                   matcher->value, strlen(matcher->value));
    MDB_cursor *cursor;
    if (mdb_cursor_open(txn, dbi, &cursor) != 0)
        return 0;
    MDB_val k = {len, posting}, v;
    size_t count = 0;
    if (mdb_cursor_get(cursor, &k, &v, MDB_SET_KEY) == 0 && mdb_cursor_count(cursor, &count) != 0)
        count = 0;
    mdb_cursor_close(cursor);
    return count;
}

/* Whether the series' canonical key has tag key = value (used when postings were hashed). */
static int key_has_tag(const char *series_key, size_t len, const char *key, const char *value)
{
    sk_parsed parsed;
    if (sk_parse(series_key, len, &parsed, NULL) != JL_OK)
        return 0;
    int found = 0;
    if (strcmp(key, "__name__") == 0) {
        found = parsed.metric.len == strlen(value) &&
                memcmp(parsed.metric.data, value, parsed.metric.len) == 0;
    }
    for (size_t i = 0; i < parsed.tag_count && !found; i++)
        found = parsed.tags[i].key.len == strlen(key) &&
                memcmp(parsed.tags[i].key.data, key, parsed.tags[i].key.len) == 0 &&
                parsed.tags[i].value.len == strlen(value) &&
                memcmp(parsed.tags[i].value.data, value, parsed.tags[i].value.len) == 0;
    sk_parsed_destroy(&parsed);
    return found;
}

/* Keeps in ids[0..*count) those whose presence in other[] equals keep_present (both sorted);
 * when `verify` is set, membership is confirmed against the series key. */
static void filter_sorted(st_store *store, uint64_t *ids, size_t *count, const uint64_t *other,
                          size_t other_count, int keep_present, const st_matcher *verify)
{
    size_t kept = 0, j = 0;
    for (size_t i = 0; i < *count; i++) {
        while (j < other_count && other[j] < ids[i])
            j++;
        int present = j < other_count && other[j] == ids[i];
        if (present && verify) {
            pthread_rwlock_rdlock(&store->state_lock);
            series *s = ids[i] <= store->series_count ? store->by_id[ids[i]] : NULL;
            present = s && key_has_tag(s->key, s->key_len, verify->key, verify->value);
            pthread_rwlock_unlock(&store->state_lock);
        }
        if (present == keep_present)
            ids[kept++] = ids[i];
    }
    *count = kept;
}

int st_select(st_store *store, const st_matcher *matchers, size_t matcher_count, size_t max_series,
              uint64_t **ids_out, size_t *count_out, jl_error *err)
{
    *ids_out = NULL;
    *count_out = 0;
    size_t base = matcher_count;
    for (size_t i = 0; i < matcher_count && base == matcher_count; i++)
        if (!matchers[i].negate)
            base = i;
    if (base == matcher_count)
        return jl_error_set(err, JL_EINVAL, "a selector needs at least one = condition");
    pthread_rwlock_rdlock(&store->map_lock);
    MDB_txn *txn = NULL;
    int rc = JL_OK;
    uint64_t *ids = NULL, *other = NULL;
    size_t count = 0, other_count = 0;
    int mrc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0) {
        rc = store_lmdb_error(err, mrc, "beginning a read transaction");
        goto out;
    }
    /* Start from the shortest posting list: `pm25{district="x"}` reads the district's ids,
     * not every pm25 series. */
    size_t shortest = SIZE_MAX;
    for (size_t i = 0; i < matcher_count; i++) {
        if (matchers[i].negate)
            continue;
        size_t length = posting_length(txn, store->db_postings, &matchers[i]);
        if (length < shortest) {
            shortest = length;
            base = i;
        }
    }
    if (shortest == 0)
        goto out; /* some condition matches nothing */
    int hashed = 0;
    rc = read_posting(txn, store->db_postings, matchers[base].key, matchers[base].value, &ids,
                      &count, &hashed, err);
    if (rc != JL_OK)
        goto out;
    if (hashed) {
        uint64_t *copy = malloc((count ? count : 1) * sizeof *copy);
        if (copy == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(copy, ids, count * sizeof *copy);
        filter_sorted(store, ids, &count, copy, count, 1, &matchers[base]);
        free(copy);
    }
    for (size_t i = 0; i < matcher_count && count > 0; i++) {
        if (i == base)
            continue;
        rc = read_posting(txn, store->db_postings, matchers[i].key, matchers[i].value, &other,
                          &other_count, &hashed, err);
        if (rc != JL_OK)
            goto out;
        filter_sorted(store, ids, &count, other, other_count, !matchers[i].negate,
                      hashed ? &matchers[i] : NULL);
        free(other);
        other = NULL;
    }
    if (max_series && count > max_series) {
        rc = jl_error_set(err, JL_ELIMIT,
                          "the selector matches %zu series; the limit is %zu (narrow it with "
                          "tag conditions)",
                          count, max_series);
        goto out;
    }
    *ids_out = ids;
    *count_out = count;
    ids = NULL;
out:
    if (txn)
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&store->map_lock);
    free(ids);
    free(other);
    return rc;
}

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
    free(snapshot->series);
    free(snapshot);
}

size_t st_snapshot_series_count(const st_snapshot *snapshot)
{
    return snapshot->count;
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
        block->count = 0;
        return JL_OK;
    }
    if (mrc != MDB_NOTFOUND)
        return store_lmdb_error(err, mrc, "reading chunks");
    return JL_ENOTFOUND;
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
        const int64_t *ms = st->tail->timestamps_ms;
        /* The part of the tail inside [from, to). */
        uint32_t lo = 0, hi = st->tail_count;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (ms[mid] < cursor->from_ms)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint32_t begin = lo;
        hi = st->tail_count;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (ms[mid] < cursor->to_ms)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == begin)
            return JL_ENOTFOUND;
        block->decoded = 1;
        block->timestamps_ms = ms + begin;
        block->values = st->tail->values + begin;
        block->count = lo - begin;
        ck_summarize(block->timestamps_ms, block->values, block->count, &block->summary);
        return JL_OK;
    }
    return JL_ENOTFOUND;
}

int st_cursor_decode(st_cursor *cursor, st_block *block, jl_error *err)
{
    if (block->decoded)
        return JL_OK;
    size_t needed = block->summary.count;
    if (needed > cursor->decoded_capacity) {
        int64_t *ms = realloc(cursor->decoded_ms, needed * sizeof *ms);
        if (ms == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory decoding a chunk");
        cursor->decoded_ms = ms;
        double *values = realloc(cursor->decoded_values, needed * sizeof *values);
        if (values == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory decoding a chunk");
        cursor->decoded_values = values;
        cursor->decoded_capacity = needed;
    }
    size_t count = 0;
    int rc = ck_decode(cursor->chunk.mv_data, cursor->chunk.mv_size, cursor->decoded_ms,
                       cursor->decoded_values, cursor->decoded_capacity, &count, err);
    if (rc != JL_OK)
        return rc;
    block->decoded = 1;
    block->timestamps_ms = cursor->decoded_ms;
    block->values = cursor->decoded_values;
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

/* ---------- statistics ---------- */

int st_store_stats(st_store *store, int count_codecs, st_stats *stats, jl_error *err)
{
    memset(stats, 0, sizeof *stats);
    pthread_rwlock_rdlock(&store->state_lock);
    stats->series = store->series_count;
    for (uint64_t id = 1; id <= store->series_count; id++) {
        stats->readings += store->by_id[id]->live.count;
        stats->sealed_readings += store->by_id[id]->live.sealed_count;
    }
    stats->chunks = store->chunk_count;
    stats->chunk_bytes = store->chunk_bytes;
    stats->log_blocks = store->log_blocks;
    stats->log_bytes = store->log_bytes;
    stats->log_rewritten_readings = store->log_rewritten_readings;
    pthread_rwlock_unlock(&store->state_lock);
    MDB_envinfo info;
    mdb_env_info(store->env, &info);
    stats->map_bytes = info.me_mapsize;
    const char *path = NULL;
    struct stat file;
    char data_path[4096];
    if (mdb_env_get_path(store->env, &path) == 0 && path) {
        snprintf(data_path, sizeof data_path, "%s/data.mdb", path);
        if (stat(data_path, &file) == 0)
            stats->file_bytes = (uint64_t)file.st_blocks * 512;
    }
    stats->points_written = atomic_load(&store->points_written);
    stats->commits = atomic_load(&store->commits);
    if (!count_codecs)
        return JL_OK;
    pthread_rwlock_rdlock(&store->map_lock);
    MDB_txn *txn = NULL;
    MDB_cursor *cursor = NULL;
    int rc = JL_OK;
    int mrc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (mrc == 0)
        mrc = mdb_cursor_open(txn, store->db_chunks, &cursor);
    if (mrc != 0) {
        rc = store_lmdb_error(err, mrc, "reading the chunks");
    } else {
        MDB_val k, v;
        for (mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
            ck_summary summary;
            if (ck_read_summary(v.mv_data, v.mv_size, &summary, NULL) == JL_OK &&
                summary.codec == CK_CODEC_DECIMAL)
                stats->decimal_chunks++;
        }
        mdb_cursor_close(cursor);
    }
    if (txn)
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&store->map_lock);
    return rc;
}
