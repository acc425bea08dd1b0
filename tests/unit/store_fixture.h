/* Shared fixture of the store's unit tests (test_store.c, test_catalog.c,
 * test_seal.c, test_log.c, test_writer.c, test_snapshot.c): temporary stores on real LMDB
 * directories, canonical keys metric{station=...}, reading a series back through a snapshot
 * cursor, a fixed-seed generator, and direct LMDB access to a closed store. Header-only, like
 * check.h; every function is static inline so that each test file takes what it uses. */
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

static inline st_store *open_store(const char *dir, uint32_t chunk_target, uint64_t map_bytes)
{
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.sync_full = 0;
    options.chunk_target = chunk_target;
    options.initial_map_bytes = map_bytes;
    options.log_max_blocks = log_max_blocks;
    st_store *store = NULL;
    jl_error err;
    int rc = st_store_open(&options, &store, &err);
    if (rc != JL_OK) {
        fprintf(stderr, "open failed: %s\n", err.message);
        abort();
    }
    return store;
}

static inline void series_key(jl_buf *out, const char *metric, const char *station)
{
    sk_tag tag = {{"station", 7}, {station, strlen(station)}};
    out->len = 0;
    jl_error err;
    if (sk_build((sk_text){metric, strlen(metric)}, &tag, 1, out, &err) != JL_OK)
        abort();
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
