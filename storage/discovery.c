/* Discovery listings (include/jialing/discovery.h): metric names, tag keys and tag values with
 * series counts, read from the postings (one LMDB read transaction) or, for one metric, from the
 * catalog keys of that metric's series. No chunk is ever read. */
#include "store_internal.h"

#include "jialing/discovery.h"
#include "jialing/serieskey.h"

#include <stdlib.h>
#include <string.h>

#define NAME_KEY "__name__"

void st_name_list_destroy(st_name_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i].name);
    free(list->items);
    memset(list, 0, sizeof *list);
}

/* Appends name[0..len) with n series; when it equals the last entry the counts add up instead,
 * which keeps runs of one name (postings come grouped) to one entry before sorting. */
static int list_add(st_name_list *list, const char *name, size_t len, uint64_t n, jl_error *err)
{
    if (list->count > 0) {
        st_name_count *last = &list->items[list->count - 1];
        if (strlen(last->name) == len && memcmp(last->name, name, len) == 0) {
            last->series += n;
            return JL_OK;
        }
    }
    st_name_count *items =
        jl_array_grow(list->items, &list->capacity, list->count + 1, sizeof *items, 64);
    char *copy = malloc(len + 1);
    if (items == NULL || copy == NULL) {
        free(copy);
        return jl_error_set(err, JL_ENOMEM, "out of memory listing names");
    }
    list->items = items;
    memcpy(copy, name, len);
    copy[len] = '\0';
    list->items[list->count].name = copy;
    list->items[list->count].series = n;
    list->count++;
    return JL_OK;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(((const st_name_count *)a)->name, ((const st_name_count *)b)->name);
}

/* Sorts, merges equal names (adding their counts) and applies the limit. */
static void list_finish(st_name_list *list, size_t limit)
{
    if (list->count > 1)
        qsort(list->items, list->count, sizeof *list->items, compare_names);
    size_t kept = 0;
    for (size_t i = 0; i < list->count; i++) {
        if (kept > 0 && strcmp(list->items[kept - 1].name, list->items[i].name) == 0) {
            list->items[kept - 1].series += list->items[i].series;
            free(list->items[i].name);
        } else {
            list->items[kept++] = list->items[i];
        }
    }
    list->count = kept;
    if (limit && list->count > limit) {
        for (size_t i = limit; i < list->count; i++)
            free(list->items[i].name);
        list->count = limit;
        list->truncated = 1;
    }
}

/* The series with this id, or NULL; its key is immutable, so it may be read after the lock. */
static const series *catalog_series(st_store *store, uint64_t id)
{
    pthread_rwlock_rdlock(&store->state_lock);
    const series *s = id >= 1 && id <= store->series_count ? store->by_id[id] : NULL;
    pthread_rwlock_unlock(&store->state_lock);
    return s;
}

/* Adds, for each series id, the value of tag `key` (the metric name for NAME_KEY) it has; series
 * without the tag are skipped. */
static int add_values_of_ids(st_store *store, const uint64_t *ids, size_t count, const char *key,
                             st_name_list *list, jl_error *err)
{
    size_t key_len = strlen(key);
    int by_name = strcmp(key, NAME_KEY) == 0;
    for (size_t i = 0; i < count; i++) {
        const series *s = catalog_series(store, ids[i]);
        if (s == NULL)
            continue;
        sk_parsed parsed;
        int rc = sk_parse(s->key, s->key_len, &parsed, err);
        if (rc != JL_OK)
            return rc;
        if (by_name)
            rc = list_add(list, parsed.metric.data, parsed.metric.len, 1, err);
        for (size_t t = 0; t < parsed.tag_count && rc == JL_OK && !by_name; t++)
            if (parsed.tags[t].key.len == key_len &&
                memcmp(parsed.tags[t].key.data, key, key_len) == 0)
                rc = list_add(list, parsed.tags[t].value.data, parsed.tags[t].value.len, 1, err);
        sk_parsed_destroy(&parsed);
        if (rc != JL_OK)
            return rc;
    }
    return JL_OK;
}

/* Whether a posting value is shaped like the hash store_posting_key() writes for values too long
 * for an LMDB key: '#' and 16 hex digits. A real value of that shape resolves to itself. */
static int looks_hashed(const char *value, size_t len)
{
    if (len != 17 || value[0] != '#')
        return 0;
    for (size_t i = 1; i < len; i++)
        if (!((value[i] >= '0' && value[i] <= '9') || (value[i] >= 'a' && value[i] <= 'f')))
            return 0;
    return 1;
}

/* What a postings walk collects. */
typedef enum walk_kind {
    WALK_VALUES, /* the values after one "key=" prefix */
    WALK_KEYS    /* every key but the metric name, with the ids of all its values */
} walk_kind;

static int walk_postings(st_store *store, walk_kind kind, const char *key, st_name_list *list,
                         jl_error *err)
{
    char prefix[SK_MAX_NAME_BYTES + 2];
    size_t prefix_len = 0;
    if (kind == WALK_VALUES) {
        size_t key_len = strlen(key);
        if (key_len > SK_MAX_NAME_BYTES)
            return JL_OK; /* no such key can exist */
        memcpy(prefix, key, key_len);
        prefix[key_len] = '=';
        prefix_len = key_len + 1;
    }
    pthread_rwlock_rdlock(&store->map_lock);
    MDB_txn *txn = NULL;
    MDB_cursor *cursor = NULL;
    uint64_t *ids = NULL;
    int rc = JL_OK;
    int mrc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, &txn);
    if (mrc == 0)
        mrc = mdb_cursor_open(txn, store->db_postings, &cursor);
    if (mrc != 0) {
        rc = store_lmdb_error(err, mrc, "opening the postings");
        goto out;
    }
    MDB_val k = {prefix_len, prefix}, v;
    mrc = mdb_cursor_get(cursor, &k, &v, prefix_len ? MDB_SET_RANGE : MDB_FIRST);
    for (; mrc == 0 && rc == JL_OK; mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT_NODUP)) {
        const char *text = k.mv_data;
        size_t len = k.mv_size;
        if (prefix_len && (len < prefix_len || memcmp(text, prefix, prefix_len) != 0))
            break; /* past the prefix: postings sort bytewise */
        size_t dups = 0;
        if ((mrc = mdb_cursor_count(cursor, &dups)) != 0)
            break;
        if (kind == WALK_KEYS) {
            const char *equals = memchr(text, '=', len);
            size_t name_len = equals ? (size_t)(equals - text) : len;
            if (!(name_len == strlen(NAME_KEY) && memcmp(text, NAME_KEY, name_len) == 0))
                rc = list_add(list, text, name_len, dups, err);
            continue;
        }
        const char *value = text + prefix_len;
        size_t value_len = len - prefix_len;
        if (!looks_hashed(value, value_len)) {
            rc = list_add(list, value, value_len, dups, err);
            continue;
        }
        /* A hashed posting: name each of its series' real values from the catalog, then stand
         * on the same key again (reading duplicates moved the cursor) to step past it. */
        char saved[SK_MAX_NAME_BYTES + 32];
        size_t saved_len = len < sizeof saved ? len : sizeof saved;
        memcpy(saved, text, saved_len);
        size_t id_count = 0;
        rc = catalog_posting_ids(cursor, saved, saved_len, &ids, &id_count, err);
        if (rc == JL_OK)
            rc = add_values_of_ids(store, ids, id_count, key, list, err);
        MDB_val again = {saved_len, saved};
        if (rc == JL_OK && (mrc = mdb_cursor_get(cursor, &again, &v, MDB_SET_KEY)) != 0)
            break;
    }
    if (rc == JL_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = store_lmdb_error(err, mrc, "reading postings");
out:
    free(ids);
    if (cursor)
        mdb_cursor_close(cursor);
    if (txn)
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&store->map_lock);
    return rc;
}

/* The ids of the series of metric (none when it has none). */
static int metric_ids(st_store *store, const char *metric, uint64_t **ids, size_t *count,
                      jl_error *err)
{
    st_matcher matcher = {NAME_KEY, metric, 0};
    return st_select(store, &matcher, 1, 0, ids, count, err);
}

int st_discover_metrics(st_store *store, size_t limit, st_name_list *out, jl_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = walk_postings(store, WALK_VALUES, NAME_KEY, out, err);
    if (rc == JL_OK)
        list_finish(out, limit);
    return rc;
}

int st_discover_tag_keys(st_store *store, const char *metric, size_t limit, st_name_list *out,
                         jl_error *err)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (metric == NULL) {
        rc = walk_postings(store, WALK_KEYS, NULL, out, err);
    } else {
        uint64_t *ids = NULL;
        size_t count = 0;
        rc = metric_ids(store, metric, &ids, &count, err);
        for (size_t i = 0; i < count && rc == JL_OK; i++) {
            const series *s = catalog_series(store, ids[i]);
            if (s == NULL)
                continue;
            sk_parsed parsed;
            rc = sk_parse(s->key, s->key_len, &parsed, err);
            if (rc != JL_OK)
                break;
            for (size_t t = 0; t < parsed.tag_count && rc == JL_OK; t++)
                rc = list_add(out, parsed.tags[t].key.data, parsed.tags[t].key.len, 1, err);
            sk_parsed_destroy(&parsed);
        }
        free(ids);
    }
    if (rc == JL_OK)
        list_finish(out, limit);
    return rc;
}

int st_discover_tag_values(st_store *store, const char *key, const char *metric, size_t limit,
                           st_name_list *out, jl_error *err)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (metric == NULL) {
        rc = walk_postings(store, WALK_VALUES, key, out, err);
    } else {
        uint64_t *ids = NULL;
        size_t count = 0;
        rc = metric_ids(store, metric, &ids, &count, err);
        if (rc == JL_OK)
            rc = add_values_of_ids(store, ids, count, key, out, err);
        free(ids);
    }
    if (rc == JL_OK)
        list_finish(out, limit);
    return rc;
}

int st_discover_series_ids(st_store *store, size_t limit, uint64_t **ids, size_t *count,
                           int *truncated, jl_error *err)
{
    *ids = NULL;
    *count = 0;
    *truncated = 0;
    pthread_rwlock_rdlock(&store->state_lock);
    uint64_t total = store->series_count;
    pthread_rwlock_unlock(&store->state_lock);
    uint64_t n = total;
    if (limit && n > limit) {
        n = limit;
        *truncated = 1;
    }
    *ids = malloc((n ? n : 1) * sizeof **ids);
    if (*ids == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory listing series");
    for (uint64_t i = 0; i < n; i++)
        (*ids)[i] = i + 1; /* ids are dense from 1 */
    *count = (size_t)n;
    return JL_OK;
}
