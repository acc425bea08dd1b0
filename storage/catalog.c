/* The series catalog: dense series ids, the in-memory index by key (writer only) and by id (read
 * under state_lock), the series and postings databases written when a series is created and
 * loaded at open, and the read side of the postings: st_select resolving a selector to ids. */
#include "store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/serieskey.h"

static uint64_t hash_key(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)key[i];
        h *= 1099511628211ull;
    }
    return h;
}

uint64_t catalog_key_hash(const char *key, size_t len)
{
    return hash_key(key, len);
}

void catalog_prefetch_bucket(const st_store *store, uint64_t hash)
{
    __builtin_prefetch(&store->hash_buckets[hash & (store->hash_bucket_count - 1)]);
}

void catalog_prefetch_series(const st_store *store, uint64_t hash)
{
    const series *s = store->hash_buckets[hash & (store->hash_bucket_count - 1)];
    if (s)
        __builtin_prefetch(s);
}

void catalog_prefetch_key_and_tail(const st_store *store, uint64_t hash)
{
    const series *s = store->hash_buckets[hash & (store->hash_bucket_count - 1)];
    if (s) {
        __builtin_prefetch(s->key);
        if (s->live.tail)
            __builtin_prefetch(s->live.tail);
    }
}

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

int catalog_init(st_store *store)
{
    store->hash_bucket_count = 1024;
    store->hash_buckets = calloc(store->hash_bucket_count, sizeof(series *));
    return store->hash_buckets ? JL_OK : JL_ENOMEM;
}

void catalog_destroy(st_store *store)
{
    for (uint64_t id = 1; id <= store->series_count; id++)
        catalog_series_free(store->by_id[id]);
    free(store->by_id);
    free(store->hash_buckets);
    store->by_id = NULL;
    store->hash_buckets = NULL;
}

void catalog_unlink(st_store *store, series *target)
{
    series **link = &store->hash_buckets[target->hash & (store->hash_bucket_count - 1)];
    while (*link && *link != target)
        link = &(*link)->hash_next;
    if (*link)
        *link = target->hash_next;
}

void catalog_series_free(series *s)
{
    store_tail_release(s->live.tail);
    free(s->key);
    free(s);
}

int catalog_reserve_ids(st_store *store, uint64_t max_id)
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
    bytes_put_be64(id_be, id);
    MDB_val k = {len, posting}, v = {8, id_be};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_NODUPDATA);
    if (rc != 0 && rc != MDB_KEYEXIST)
        return store_lmdb_error(err, rc, "writing a posting");
    return JL_OK;
}

int catalog_series_for_key(st_store *store, writer_txn *wt, const char *key, size_t len,
                           uint64_t hash, series **out, jl_error *err)
{
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
    bytes_put_be64(id_be, id);
    MDB_val k = {8, id_be}, v = {len, (void *)key};
    int mrc = mdb_put(wt->txn, store->db_series, &k, &v, 0);
    if (mrc != 0)
        rc = store_lmdb_error(err, mrc, "writing the series catalog");
    if (rc == JL_OK)
        rc = series_state_create(store, wt->txn, id, err);
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

int catalog_load(st_store *store, MDB_txn *txn, jl_error *err)
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
        uint64_t id = k.mv_size == 8 ? bytes_get_be64(k.mv_data) : 0;
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

/* Reads every id of the posting with this exact key (see store_internal.h). */
int catalog_posting_ids(MDB_cursor *cursor, const char *key, size_t key_len, uint64_t **ids,
                        size_t *count, jl_error *err)
{
    MDB_val k = {key_len, (void *)key}, v;
    size_t capacity = 0;
    *count = 0;
    int mrc = mdb_cursor_get(cursor, &k, &v, MDB_SET_KEY);
    if (mrc == 0)
        mrc = mdb_cursor_get(cursor, &k, &v, MDB_GET_MULTIPLE);
    while (mrc == 0) {
        size_t n = v.mv_size / 8;
        uint64_t *grown = jl_array_grow(*ids, &capacity, *count + n, sizeof *grown, 64);
        if (grown == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory reading postings");
        *ids = grown;
        const uint8_t *p = v.mv_data;
        for (size_t i = 0; i < n; i++) {
            (*ids)[(*count)++] = bytes_get_be64(p + i * 8);
        }
        mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT_MULTIPLE);
    }
    if (mrc != MDB_NOTFOUND)
        return store_lmdb_error(err, mrc, "reading postings");
    return JL_OK;
}

/* The posting key of key = value in posting[POSTING_BUFFER_BYTES], its length, and whether the
 * value was hashed into it (store_posting_key). */
#define POSTING_BUFFER_BYTES (512 + 32)
static size_t posting_key_of(const char *key, const char *value, char *posting, int *hashed)
{
    size_t key_len = strlen(key), value_len = strlen(value);
    size_t len = store_posting_key(posting, POSTING_BUFFER_BYTES, key, key_len, value, value_len);
    *hashed = !(len == key_len + 1 + value_len && posting[key_len] == '=' &&
                memcmp(posting + key_len + 1, value, value_len) == 0);
    return len;
}

static int read_posting(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *value,
                        uint64_t **ids, size_t *count, int *hashed, jl_error *err)
{
    char posting[POSTING_BUFFER_BYTES];
    size_t len = posting_key_of(key, value, posting, hashed);
    *ids = NULL;
    *count = 0;
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(txn, dbi, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the postings");
    int rc = catalog_posting_ids(cursor, posting, len, ids, count, err);
    mdb_cursor_close(cursor);
    return rc;
}

/* Number of ids in the posting of matcher key=value (0 when absent or on error). */
static size_t posting_length(MDB_txn *txn, MDB_dbi dbi, const st_matcher *matcher)
{
    char posting[POSTING_BUFFER_BYTES];
    int hashed;
    size_t len = posting_key_of(matcher->key, matcher->value, posting, &hashed);
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

/* Whether series id has matcher's key = value by its canonical key: a hashed posting may hold
 * other values' series too. */
static int series_has_tag(st_store *store, uint64_t id, const st_matcher *matcher)
{
    pthread_rwlock_rdlock(&store->state_lock);
    series *s = id <= store->series_count ? store->by_id[id] : NULL;
    int has = s && key_has_tag(s->key, s->key_len, matcher->key, matcher->value);
    pthread_rwlock_unlock(&store->state_lock);
    return has;
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
        if (present && verify)
            present = series_has_tag(store, ids[i], verify);
        if (present == keep_present)
            ids[kept++] = ids[i];
    }
    *count = kept;
}

/* The non-negated matcher with the shortest posting list, and its length in *length: the
 * selection starts there (`pm25{district="x"}` reads the district's ids, not every pm25
 * series). Every matcher's posting length goes to lengths[] (filter_by_matchers decides by them
 * whether to probe or to read). */
static size_t shortest_matcher(MDB_txn *txn, MDB_dbi dbi, const st_matcher *matchers,
                               size_t matcher_count, size_t base, size_t *lengths, size_t *length)
{
    size_t shortest = SIZE_MAX;
    for (size_t i = 0; i < matcher_count; i++) {
        size_t n = lengths[i] = posting_length(txn, dbi, &matchers[i]);
        if (!matchers[i].negate && n < shortest) {
            shortest = n;
            base = i;
        }
    }
    *length = shortest;
    return base;
}

/* Reads the posting of matchers[base] into *ids, re-checking each id against its series key
 * when the posting key was hashed. */
static int read_base_posting(st_store *store, MDB_txn *txn, const st_matcher *base, uint64_t **ids,
                             size_t *count, jl_error *err)
{
    int hashed = 0;
    int rc =
        read_posting(txn, store->db_postings, base->key, base->value, ids, count, &hashed, err);
    if (rc != JL_OK || !hashed)
        return rc;
    uint64_t *copy = malloc((*count ? *count : 1) * sizeof *copy);
    if (copy == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    memcpy(copy, *ids, *count * sizeof *copy);
    filter_sorted(store, *ids, count, copy, *count, 1, base);
    free(copy);
    return JL_OK;
}

/* Keeps in ids[0..*count) those whose presence in the posting of matcher equals keep_present,
 * looking each id up in the posting (MDB_GET_BOTH) instead of reading it: for a few candidates
 * against a long posting (`pm25{station="x"}` at 10^6 series: 5 ids against 200,000). Hashed
 * posting keys are confirmed against the series key, as in filter_sorted. */
static int probe_posting(st_store *store, MDB_txn *txn, const st_matcher *matcher, uint64_t *ids,
                         size_t *count, int keep_present, jl_error *err)
{
    char posting[POSTING_BUFFER_BYTES];
    int hashed;
    size_t len = posting_key_of(matcher->key, matcher->value, posting, &hashed);
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(txn, store->db_postings, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the postings");
    size_t kept = 0;
    int rc = JL_OK;
    for (size_t i = 0; i < *count; i++) {
        uint8_t id_be[8];
        bytes_put_be64(id_be, ids[i]);
        MDB_val k = {len, posting}, v = {8, id_be};
        mrc = mdb_cursor_get(cursor, &k, &v, MDB_GET_BOTH);
        if (mrc != 0 && mrc != MDB_NOTFOUND) {
            rc = store_lmdb_error(err, mrc, "reading postings");
            break;
        }
        int present = mrc == 0;
        if (present && hashed)
            present = series_has_tag(store, ids[i], matcher);
        if (present == keep_present)
            ids[kept++] = ids[i];
    }
    mdb_cursor_close(cursor);
    if (rc == JL_OK)
        *count = kept;
    return rc;
}

/* A posting this many times longer than the candidates is probed id by id, not read: a probe
 * costs a B-tree descent (a few dozen comparisons), reading costs 8 bytes and a merge step per
 * id. */
#define PROBE_RATIO 64

/* Keeps in ids[0..*count) those every matcher but matchers[base] accepts. */
static int filter_by_matchers(st_store *store, MDB_txn *txn, const st_matcher *matchers,
                              const size_t *lengths, size_t matcher_count, size_t base,
                              uint64_t *ids, size_t *count, jl_error *err)
{
    for (size_t i = 0; i<matcher_count && * count> 0; i++) {
        if (i == base)
            continue;
        if (lengths[i] / PROBE_RATIO > *count) {
            int rc = probe_posting(store, txn, &matchers[i], ids, count, !matchers[i].negate, err);
            if (rc != JL_OK)
                return rc;
            continue;
        }
        uint64_t *other = NULL;
        size_t other_count = 0;
        int hashed = 0;
        int rc = read_posting(txn, store->db_postings, matchers[i].key, matchers[i].value, &other,
                              &other_count, &hashed, err);
        if (rc != JL_OK) {
            free(other);
            return rc;
        }
        filter_sorted(store, ids, count, other, other_count, !matchers[i].negate,
                      hashed ? &matchers[i] : NULL);
        free(other);
    }
    return JL_OK;
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
    uint64_t *ids = NULL;
    size_t count = 0;
    size_t *lengths = NULL; /* per matcher: its posting's length */
    int mrc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (mrc != 0) {
        rc = store_lmdb_error(err, mrc, "beginning a read transaction");
        goto out;
    }
    size_t shortest = 0;
    lengths = malloc(matcher_count * sizeof *lengths);
    if (lengths == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory selecting series");
        goto out;
    }
    base = shortest_matcher(txn, store->db_postings, matchers, matcher_count, base, lengths,
                            &shortest);
    if (shortest == 0)
        goto out; /* some condition matches nothing */
    rc = read_base_posting(store, txn, &matchers[base], &ids, &count, err);
    if (rc == JL_OK)
        rc = filter_by_matchers(store, txn, matchers, lengths, matcher_count, base, ids, &count,
                                err);
    if (rc != JL_OK)
        goto out;
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
    free(lengths);
    free(ids);
    return rc;
}
