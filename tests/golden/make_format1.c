/* Generator of tests/golden/format1/data.mdb and tests/golden/log_block_v1.bin, kept for the
 * record: it was built against the store of commit d481a42 (the last one whose store wrote
 * format 1: raw-record write-log blocks, chunks without segment tables) and is not built by the
 * Makefile. The readings are the ones tests/unit/test_golden.c writes down as literals:
 *   temp{station=a}:     250 readings, ms = 1700000000000 + 60000 i, value = (i % 40) * 0.25 - 3
 *                        (chunk_target 100: two sealed chunks of 100, 50 in the log)
 *   pressure{station=b}: 37 readings, ms = 1700000000000 + 1000 i * i, value = 1013.25 + i / 3.0
 *   count{station=c}:    5 readings, ms = 1700000000000 + 3600000 i, value = 7 * i
 * written as three requests (one per series). log_block_v1.bin is the log block of the last
 * request (count{station=c}), read straight from LMDB.
 * Build: cc -std=c11 -D_GNU_SOURCE -Iinclude make_format1.c build/release/libjialing.a
 *        -llmdb -llz4 -lmicrohttpd -lmsgpackc -lpthread -lm */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/serieskey.h"
#include "jialing/store.h"

static void write_series(st_store *store, const char *metric, const char *station, int n,
                         int64_t (*ms_of)(int), double (*value_of)(int))
{
    st_batch batch;
    st_batch_init(&batch);
    jl_buf key;
    jl_buf_init(&key);
    sk_tag tag = {{"station", 7}, {station, strlen(station)}};
    jl_error err;
    if (sk_build((sk_text){metric, strlen(metric)}, &tag, 1, &key, &err) != JL_OK)
        abort();
    uint32_t index;
    if (st_batch_series(&batch, key.data, key.len, &index) != JL_OK)
        abort();
    for (int i = 0; i < n; i++)
        if (st_batch_point(&batch, index, ms_of(i), value_of(i)) != JL_OK)
            abort();
    if (st_write(store, &batch, &err) != JL_OK) {
        fprintf(stderr, "write: %s\n", err.message);
        abort();
    }
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
}

static int64_t temp_ms(int i)
{
    return 1700000000000LL + 60000LL * i;
}
static double temp_value(int i)
{
    return (i % 40) * 0.25 - 3;
}
static int64_t pressure_ms(int i)
{
    return 1700000000000LL + 1000LL * i * i;
}
static double pressure_value(int i)
{
    return 1013.25 + i / 3.0;
}
static int64_t count_ms(int i)
{
    return 1700000000000LL + 3600000LL * i;
}
static double count_value(int i)
{
    return 7.0 * i;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make_format1 DIR LOG_BLOCK_FILE\n");
        return 2;
    }
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = argv[1];
    options.sync_full = 1;
    options.chunk_target = 100;
    options.initial_map_bytes = 256 * 1024;
    options.max_map_bytes = 1024 * 1024;
    st_store *store = NULL;
    jl_error err;
    if (st_store_open(&options, &store, &err) != JL_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    write_series(store, "temp", "a", 250, temp_ms, temp_value);
    write_series(store, "pressure", "b", 37, pressure_ms, pressure_value);
    write_series(store, "count", "c", 5, count_ms, count_value);
    st_store_close(store);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cursor;
    MDB_val k, v;
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
        mdb_env_open(env, argv[1], MDB_RDONLY, 0644) || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) ||
        mdb_dbi_open(txn, "log", 0, &dbi) || mdb_cursor_open(txn, dbi, &cursor) ||
        mdb_cursor_get(cursor, &k, &v, MDB_LAST))
        return 1;
    FILE *f = fopen(argv[2], "wb");
    if (f == NULL || fwrite(v.mv_data, 1, v.mv_size, f) != v.mv_size || fclose(f) != 0)
        return 1;
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return 0;
}
