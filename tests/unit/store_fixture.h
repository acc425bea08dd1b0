/* Shared fixture of the unit tests that write to a real store (test_store.c, test_catalog.c,
 * test_seal.c, test_log.c, test_writer.c, test_snapshot.c, test_series_state.c, test_alarm.c,
 * test_events.c, test_retention.c, test_aqi_query.c, ...): temporary stores on real LMDB
 * directories, requests built series by series (test_batch) and a store with its directory and
 * one request (store_fixture), canonical keys metric{station=...}, reading a series back through
 * a snapshot cursor, a fixed-seed generator, and direct LMDB access to a closed store.
 * Header-only, like check.h; every function is static inline so that each test file takes what
 * it uses. */
#ifndef JIALING_STORE_FIXTURE_H
#define JIALING_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "check.h"
#include "tempdir.h"
#include "jialing/serieskey.h"
#include "jialing/store.h"

/* Stations of the model series (and of a few other tests). */
#define MODEL_SERIES 3
__attribute__((unused)) static const char *const stations[MODEL_SERIES] = {"s1", "s2", "s3"};

static inline char *make_temp_dir(void)
{
    return make_temp_dir_named("store");
}

__attribute__((unused)) static uint32_t log_max_blocks; /* 0: the store's default */

/* The options open_store() opens with (map_bytes 0: the store's default), for a test that sets
 * more of them before open_store_options(). */
static inline st_options store_options(const char *dir, uint32_t chunk_target, uint64_t map_bytes)
{
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.sync_full = 0;
    options.chunk_target = chunk_target;
    options.initial_map_bytes = map_bytes;
    options.log_max_blocks = log_max_blocks;
    return options;
}

/* Opens a store; a test cannot go on without it, so a failure aborts with the reason. */
static inline st_store *open_store_options(const st_options *options)
{
    st_store *store = NULL;
    jl_error err;
    int rc = st_store_open(options, &store, &err);
    if (rc != JL_OK) {
        fprintf(stderr, "open of %s failed: %s\n", options->directory, err.message);
        abort();
    }
    return store;
}

static inline st_store *open_store(const char *dir, uint32_t chunk_target, uint64_t map_bytes)
{
    st_options options = store_options(dir, chunk_target, map_bytes);
    return open_store_options(&options);
}

static inline void series_key(jl_buf *out, const char *metric, const char *station)
{
    sk_tag tag = {{"station", 7}, {station, strlen(station)}};
    out->len = 0;
    jl_error err;
    if (sk_build((sk_text){metric, strlen(metric)}, &tag, 1, out, &err) != JL_OK)
        abort();
}

/* A request being built: the batch and the buffer its series keys are built in. Every call
 * CHECKs that the store accepted what it was given (JL_OK); tb_write returns st_write's code,
 * for the test to check, with the error in err. */
typedef struct test_batch {
    st_batch batch;
    jl_buf key;
    jl_error err;
} test_batch;

static inline void tb_init(test_batch *b)
{
    st_batch_init(&b->batch);
    jl_buf_init(&b->key);
    memset(&b->err, 0, sizeof b->err);
}

static inline void tb_destroy(test_batch *b)
{
    st_batch_destroy(&b->batch);
    jl_buf_destroy(&b->key);
}

/* Adds the series metric{station=...} to the batch (or finds it there); returns its index. */
static inline uint32_t tb_series(test_batch *b, const char *metric, const char *station)
{
    series_key(&b->key, metric, station);
    uint32_t index = 0;
    CHECK_INT(st_batch_series(&b->batch, b->key.data, b->key.len, &index), JL_OK);
    return index;
}

/* As tb_series, for the series of metric with any tags (sk_build sorts tags in place). */
static inline uint32_t tb_series_tags(test_batch *b, const char *metric, sk_tag *tags,
                                      size_t tag_count)
{
    b->key.len = 0;
    jl_error err;
    CHECK_INT(sk_build((sk_text){metric, strlen(metric)}, tags, tag_count, &b->key, &err), JL_OK);
    uint32_t index = 0;
    CHECK_INT(st_batch_series(&b->batch, b->key.data, b->key.len, &index), JL_OK);
    return index;
}

static inline void tb_point(test_batch *b, uint32_t index, int64_t ms, double value)
{
    CHECK_INT(st_batch_point(&b->batch, index, ms, value), JL_OK);
}

static inline void tb_point_flagged(test_batch *b, uint32_t index, int64_t ms, double value,
                                    uint8_t flag)
{
    CHECK_INT(st_batch_point_flagged(&b->batch, index, ms, value, flag), JL_OK);
}

/* Writes the batch as one request (the batch is left as it is: st_batch_reset to reuse it). */
static inline int tb_write(st_store *store, test_batch *b)
{
    return st_write(store, &b->batch, &b->err);
}

/* Writes n readings (ms[i], values[i]) of metric{station=...} as one request, CHECKed to
 * succeed. */
static inline void write_readings(st_store *store, const char *metric, const char *station,
                                  const int64_t *ms, const double *values, size_t n)
{
    test_batch b;
    tb_init(&b);
    uint32_t index = tb_series(&b, metric, station);
    for (size_t i = 0; i < n; i++)
        tb_point(&b, index, ms[i], values[i]);
    CHECK_INT(tb_write(store, &b), JL_OK);
    tb_destroy(&b);
}

/* A store in a new temporary directory with a request for it: sf_open, tb_series(&f.b, ...),
 * tb_write(f.store, &f.b), and sf_close removes it all. A test that closes the store itself sets
 * f.store to NULL (or to the store it opens again); sf_close closes one left open. */
typedef struct store_fixture {
    char *dir;
    st_store *store;
    test_batch b;
} store_fixture;

static inline void sf_open(store_fixture *f, uint32_t chunk_target, uint64_t map_bytes)
{
    f->dir = make_temp_dir();
    f->store = open_store(f->dir, chunk_target, map_bytes);
    tb_init(&f->b);
}

static inline void sf_close(store_fixture *f)
{
    tb_destroy(&f->b);
    if (f->store != NULL)
        st_store_close(f->store);
    f->store = NULL;
    remove_dir(f->dir);
    f->dir = NULL;
}

/* Opens a snapshot and a cursor over [from, to) of the one series metric{station=...}; returns
 * 0 (and opens nothing) when no single series matches. */
static inline int open_series_cursor(st_store *store, const char *metric, const char *station,
                                     int64_t from, int64_t to, st_snapshot **snapshot,
                                     st_cursor **cursor)
{
    st_matcher matchers[2] = {{"__name__", metric, 0}, {"station", station, 0}};
    uint64_t *ids = NULL;
    size_t count = 0;
    jl_error err;
    CHECK_INT(st_select(store, matchers, 2, 0, &ids, &count, &err), JL_OK);
    if (count != 1) {
        free(ids);
        return 0;
    }
    CHECK_INT(st_snapshot_open(store, ids, count, snapshot, &err), JL_OK);
    free(ids);
    CHECK_INT(st_cursor_open(*snapshot, 0, from, to, cursor, &err), JL_OK);
    return 1;
}

static inline size_t read_all(st_store *store, const char *metric, const char *station,
                              int64_t from, int64_t to, int64_t *ms, double *values,
                              size_t capacity)
{
    st_snapshot *snapshot = NULL;
    st_cursor *cursor = NULL;
    if (!open_series_cursor(store, metric, station, from, to, &snapshot, &cursor))
        return 0;
    jl_error err;
    size_t n = 0;
    st_block block;
    int rc;
    int64_t previous_end = INT64_MIN;
    while ((rc = st_cursor_next(cursor, &block, &err)) == JL_OK) {
        CHECK(block.summary.first_ms > previous_end); /* blocks do not overlap, in order */
        previous_end = block.summary.last_ms;
        CHECK_INT(st_cursor_decode(cursor, &block, &err), JL_OK);
        for (size_t i = 0; i < block.count; i++) {
            if (block.timestamps_ms[i] < from || block.timestamps_ms[i] >= to)
                continue;
            if (n < capacity) {
                ms[n] = block.timestamps_ms[i];
                values[n] = block.values[i];
            }
            n++;
        }
    }
    CHECK_INT(rc, JL_ENOTFOUND);
    st_cursor_close(cursor);
    st_snapshot_close(snapshot);
    return n;
}

__attribute__((unused)) static uint64_t rng_state;
static inline uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Opens the LMDB environment of a closed store directly (flags: 0 or MDB_RDONLY) and one of
 * its databases in a transaction; the caller ends the transaction and closes env. */
static inline void open_lmdb(const char *dir, unsigned flags, const char *db, MDB_env **env,
                             MDB_txn **txn, MDB_dbi *dbi)
{
    CHECK_INT(mdb_env_create(env), 0);
    CHECK_INT(mdb_env_set_maxdbs(*env, 8), 0);
    CHECK_INT(mdb_env_open(*env, dir, flags, 0644), 0);
    CHECK_INT(mdb_txn_begin(*env, NULL, flags, txn), 0);
    CHECK_INT(mdb_dbi_open(*txn, db, 0, dbi), 0);
}

/* Overflow pages of the chunks database of a closed store. */
static inline uint64_t chunk_overflow_pages(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat stat;
    memset(&stat, 0, sizeof stat);
    open_lmdb(dir, MDB_RDONLY, "chunks", &env, &txn, &dbi);
    CHECK_INT(mdb_stat(txn, dbi, &stat), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return stat.ms_overflow_pages;
}

#endif
