/* The store as a whole: st_store_open (options and their defaults, the LMDB environment, the
 * databases and the format version, then recovery: catalog, review marks, sealed series states
 * (series_state.c), write-log replay, and the writer thread), st_store_close, st_store_stats, and
 * the translation of LMDB errors into JL_* codes at the storage boundary. The on-disk layout is in
 * disk_format.h; each concept of the store lives in its own file, listed in store_internal.h. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int store_record_check(const MDB_val *key, const MDB_val *value, size_t min_bytes, uint8_t version,
                       uint8_t known_flags, const char *what, uint64_t *id, uint8_t *flags,
                       jl_error *err)
{
    if (key->mv_size != 8)
        return jl_error_set(err, JL_ECORRUPT, "a %s key has %zu bytes", what, key->mv_size);
    *id = bytes_get_be64(key->mv_data);
    unsigned long long shown = (unsigned long long)*id;
    if (*id == 0)
        return jl_error_set(err, JL_ECORRUPT, "a %s has id 0", what);
    const uint8_t *p = value->mv_data;
    size_t size = value->mv_size;
    if (size < min_bytes || size < 6)
        return jl_error_set(err, JL_ECORRUPT, "%s %llu is truncated", what, shown);
    if (p[0] != version)
        return jl_error_set(err, JL_ECORRUPT, "%s %llu has unknown version %u", what, shown, p[0]);
    size_t body = size - 4;
    if (ck_crc32c(0, p, body) != bytes_get_le32(p + body))
        return jl_error_set(err, JL_ECORRUPT, "%s %llu fails its checksum", what, shown);
    *flags = p[1];
    if (*flags & ~known_flags)
        return jl_error_set(err, JL_ECORRUPT, "%s %llu has unknown flags", what, shown);
    return JL_OK;
}

int store_read_cursor(st_store *store, MDB_dbi db, const char *what, MDB_txn **txn,
                      MDB_cursor **cursor, jl_error *err)
{
    *txn = NULL;
    *cursor = NULL;
    int mrc = mdb_txn_begin(store->env, NULL, MDB_RDONLY, txn);
    if (mrc == 0)
        mrc = mdb_cursor_open(*txn, db, cursor);
    if (mrc == 0)
        return JL_OK;
    store_read_cursor_close(*txn, NULL);
    *txn = NULL;
    *cursor = NULL;
    return store_lmdb_error(err, mrc, what);
}

void store_read_cursor_close(MDB_txn *txn, MDB_cursor *cursor)
{
    if (cursor)
        mdb_cursor_close(cursor);
    if (txn)
        mdb_txn_abort(txn);
}

int store_lmdb_error(jl_error *err, int rc, const char *what)
{
    int code = JL_ESTORE;
    if (rc == MDB_MAP_FULL)
        code = JL_EFULL; /* the writer grows the map and retries */
    else if (rc == ENOSPC || rc == EDQUOT)
        code = JL_EDISKFULL;
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

/* Opens the five databases of readings (creating them unless read-only), then the review
 * marks' and the alarm events' databases: created when writable; a read-only open of a store
 * without one (one no build with them has written to) has no marks or events; then the series
 * states' database, likewise (a read-only open of a store without it walks the chunks;
 * *states_created is set when this open created it). JL_OK, JL_ENOTFOUND (a read-only open of
 * a directory without a store) or an LMDB error. */
static int open_dbis(st_store *store, MDB_txn *txn, int *states_created, jl_error *err)
{
    int read_only = store->options.read_only;
    struct {
        const char *name;
        unsigned flags;
        MDB_dbi *dbi;
    } dbs[] = {
        {STORE_DB_META, 0, &store->db_meta},
        {STORE_DB_SERIES, 0, &store->db_series},
        {STORE_DB_POSTINGS, MDB_DUPSORT | MDB_DUPFIXED, &store->db_postings},
        {STORE_DB_CHUNKS, 0, &store->db_chunks},
        {STORE_DB_LOG, 0, &store->db_log},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int mrc =
            mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | (read_only ? 0 : MDB_CREATE), dbs[i].dbi);
        if (mrc == MDB_NOTFOUND)
            return jl_error_set(err, JL_ENOTFOUND, "%s holds no Jialing store",
                                store->options.directory);
        if (mrc != 0)
            return store_lmdb_error(err, mrc, "opening a database");
    }
    int mrc = mdb_dbi_open(txn, STORE_DB_REVIEW, read_only ? 0 : MDB_CREATE, &store->db_review);
    if (mrc != 0 && !(mrc == MDB_NOTFOUND && read_only))
        return store_lmdb_error(err, mrc, "opening the review database");
    store->has_review_db = mrc == 0;
    /* The alarm events, likewise (disk_format.h section 4). */
    mrc = mdb_dbi_open(txn, STORE_DB_EVENTS, read_only ? 0 : MDB_CREATE, &store->db_events);
    if (mrc != 0 && !(mrc == MDB_NOTFOUND && read_only))
        return store_lmdb_error(err, mrc, "opening the events database");
    store->has_events_db = mrc == 0;
    mrc = mdb_dbi_open(txn, STORE_DB_SERIES_STATE, 0, &store->db_series_state);
    if (mrc == MDB_NOTFOUND && !read_only) {
        mrc = mdb_dbi_open(txn, STORE_DB_SERIES_STATE, MDB_CREATE, &store->db_series_state);
        *states_created = mrc == 0;
    }
    if (mrc != 0 && !(mrc == MDB_NOTFOUND && read_only))
        return store_lmdb_error(err, mrc, "opening the series states");
    store->has_series_state_db = mrc == 0;
    return JL_OK;
}

static int put_format_version(st_store *store, MDB_txn *txn, jl_error *err)
{
    uint8_t version[4];
    bytes_put_le32(version, FORMAT_VERSION);
    MDB_val k = {sizeof STORE_META_FORMAT_KEY - 1, STORE_META_FORMAT_KEY}, v = {4, version};
    int mrc = mdb_put(txn, store->db_meta, &k, &v, 0);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "writing the format version");
    return JL_OK;
}

/* Checks the format version, writing it into a new store and marking an older one with the
 * current version when opened for writing; sets *stored to the version found (this build's for
 * a new store). JL_OK, JL_ECORRUPT (unknown version) or an LMDB error. */
static int check_format_version(st_store *store, MDB_txn *txn, uint32_t *stored, jl_error *err)
{
    int read_only = store->options.read_only;
    MDB_val k = {sizeof STORE_META_FORMAT_KEY - 1, STORE_META_FORMAT_KEY}, v;
    *stored = FORMAT_VERSION;
    int mrc = mdb_get(txn, store->db_meta, &k, &v);
    if (mrc == MDB_NOTFOUND && !read_only)
        return put_format_version(store, txn, err);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "reading the format version");
    uint32_t version = v.mv_size == 4 ? bytes_get_le32(v.mv_data) : 0;
    *stored = version;
    if (version < FORMAT_VERSION_OLDEST || version > FORMAT_VERSION)
        return jl_error_set(err, JL_ECORRUPT,
                            "the data directory has an unknown format version (expected %u to "
                            "%u)",
                            FORMAT_VERSION_OLDEST, FORMAT_VERSION);
    /* Marked before any new block is written, so an older jialingd refuses the directory
     * instead of misreading it. */
    if (version < FORMAT_VERSION && !read_only)
        return put_format_version(store, txn, err);
    return JL_OK;
}

/* Opens the databases and recovers the in-memory state in one transaction. */
static int open_databases(st_store *store, jl_error *err)
{
    MDB_txn *txn;
    int mrc = mdb_txn_begin(store->env, NULL, store->options.read_only ? MDB_RDONLY : 0, &txn);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "beginning the opening transaction");
    uint32_t stored_version = 0;
    int states_created = 0;
    int rc = open_dbis(store, txn, &states_created, err);
    if (rc == JL_OK)
        rc = check_format_version(store, txn, &stored_version, err);
    /* A directory marked 5 whose records are missing altogether is walked like an older one,
     * rather than opened as if no series had chunks. */
    if (states_created && stored_version >= FORMAT_VERSION_SERIES_STATE)
        stored_version = FORMAT_VERSION_SERIES_STATE - 1;
    if (rc == JL_OK)
        rc = catalog_load(store, txn, err);
    if (rc == JL_OK)
        rc = review_load(store, txn, err);
    if (rc == JL_OK)
        rc = events_load(store, txn, err);
    /* The sealed state of every series from its record (O(series)); an older directory is
     * walked chunk by chunk once, its records written in this transaction. */
    if (rc == JL_OK)
        rc = series_state_load(store, txn, stored_version, err);
    if (rc == JL_OK)
        rc = log_replay(store, txn, err);
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

/* Fills in the defaults of zero options and clamps the others. */
static void apply_defaults(st_options *o)
{
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
}

static void init_locks(st_store *store)
{
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&store->state_lock, &attr);
    pthread_rwlock_init(&store->map_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    pthread_mutex_init(&store->queue_mutex, NULL);
    pthread_cond_init(&store->queue_cond, NULL);
    pthread_cond_init(&store->done_cond, NULL);
}

/* Creates and opens the LMDB environment in the data directory (created unless read-only), and
 * notes its map and page sizes. JL_OK, JL_EIO or an LMDB error. */
static int open_environment(st_store *store, jl_error *err)
{
    const st_options *o = &store->options;
    if (!o->read_only && mkdir(o->directory, 0755) != 0 && errno != EEXIST)
        return jl_error_set(err, JL_EIO, "cannot create data directory %s: %s", o->directory,
                            strerror(errno));
    int mrc = mdb_env_create(&store->env);
    if (mrc == 0)
        mrc = mdb_env_set_maxdbs(store->env, 16); /* 8 named databases, room to grow */
    if (mrc == 0)
        mrc = mdb_env_set_maxreaders(store->env, o->max_readers);
    if (mrc == 0)
        mrc = mdb_env_set_mapsize(store->env, o->initial_map_bytes);
    if (mrc == 0)
        mrc = mdb_env_open(store->env, o->directory, MDB_NOTLS | (o->sync_full ? 0 : MDB_NOSYNC),
                           0644);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the LMDB environment");
    MDB_envinfo info;
    mdb_env_info(store->env, &info);
    store->map_bytes = info.me_mapsize;
    MDB_stat env_stat;
    mdb_env_stat(store->env, &env_stat);
    store->page_bytes = env_stat.ms_psize;
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
    apply_defaults(&store->options);
    /* Late readings may grow a chunk up to twice the usual size before it is split. */
    uint32_t target = store->options.chunk_target;
    store->chunk_max = target ? target * 2 : 16384;
    int rc = catalog_init(store);
    init_locks(store);
    if (rc != JL_OK)
        rc = jl_error_set(err, JL_ENOMEM, "out of memory opening the store");
    if (rc == JL_OK)
        rc = open_environment(store, err);
    if (rc == JL_OK)
        rc = open_databases(store, err);
    if (rc == JL_OK && !store->options.read_only)
        rc = writer_start(store, err);
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
    writer_stop(store);
    if (store->env) {
        if (store->options.sync_full == 0 && !store->options.read_only)
            mdb_env_sync(store->env, 1);
        mdb_env_close(store->env);
    }
    catalog_destroy(store);
    review_set_release(store->reviews);
    pthread_rwlock_destroy(&store->state_lock);
    pthread_rwlock_destroy(&store->map_lock);
    pthread_mutex_destroy(&store->queue_mutex);
    pthread_cond_destroy(&store->queue_cond);
    pthread_cond_destroy(&store->done_cond);
    free(store);
}

uint64_t st_store_commit_count(st_store *store)
{
    return atomic_load(&store->commits);
}

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
    if (store->reviews) {
        stats->review_marks = store->reviews->stored;
        stats->review_marks_withdrawn = store->reviews->withdrawn;
    }
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
    stats->flagged_points_written = atomic_load(&store->flagged_points_written);
    stats->commits = atomic_load(&store->commits);
    retention_stats(store, stats);
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

/* The first of the count elements at base (stride bytes apart, ascending by the uint64_t at
 * offset in each) whose key is >= key, count when none (store_internal.h). */
size_t store_lower_bound_u64(const void *base, size_t count, size_t stride, size_t offset,
                             uint64_t key)
{
    const unsigned char *bytes = base;
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t at;
        memcpy(&at, bytes + mid * stride + offset, sizeof at);
        if (at < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
