/* Generator of tests/golden/format4/data.mdb, kept for the record: built against the store of
 * commit 17dc7a6 (the last one whose store wrote format 4, without the "series_state" records)
 * and not built by the Makefile. The readings are the ones tests/unit/test_golden.c writes down
 * as literals (T0 = 1700000000000):
 *   temp{station=a}:     300 readings, ms = T0 + 60000 i, value = (i % 50) * 0.5 - 5, one request
 *                        (chunk_target 100 seals them whole, split at chunk_max 200 into two
 *                        chunks of 150); then i = 300..339 the same way, left in the log; then
 *                        i = 10 again with 99.5 flagged M, merged into the first chunk
 *   pressure{station=b}: 120 readings, ms = T0 + 1000 i, value = 1000 + i, the last one flagged D,
 *                        one request (one chunk of 120)
 *   count{station=c}:    5 readings, ms = T0 + 3600000 i, value = 7 i, left in the log
 * Build (in a tree of commit 17dc7a6, after make):
 *   cc -std=c11 -D_GNU_SOURCE -Iinclude make_format4.c build/release/libjialing.a -llmdb -llz4
 *      -lpthread -lm
 * Run: ./a.out DIR (a new directory); then copy DIR/data.mdb. Built unchanged against the store
 * of commit 6f28d8b (format 5, log blocks of format 3), it wrote tests/golden/format5/data.mdb. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/flag.h"
#include "jialing/serieskey.h"
#include "jialing/store.h"

#define T0 1700000000000LL

static void write_readings(st_store *store, const char *metric, const char *station, int from,
                           int to, int64_t (*ms_of)(int), double (*value_of)(int),
                           int flagged_index, uint8_t flag)
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
    for (int i = from; i < to; i++)
        if (st_batch_point_flagged(&batch, index, ms_of(i), value_of(i),
                                   i == flagged_index ? flag : JL_FLAG_N) != JL_OK)
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
    return T0 + 60000LL * i;
}
static double temp_value(int i)
{
    return (i % 50) * 0.5 - 5;
}
static double late_value(int i)
{
    (void)i;
    return 99.5;
}
static int64_t pressure_ms(int i)
{
    return T0 + 1000LL * i;
}
static double pressure_value(int i)
{
    return 1000.0 + i;
}
static int64_t count_ms(int i)
{
    return T0 + 3600000LL * i;
}
static double count_value(int i)
{
    return 7.0 * i;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_format4 DIR\n");
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
    write_readings(store, "temp", "a", 0, 300, temp_ms, temp_value, -1, JL_FLAG_N);
    write_readings(store, "pressure", "b", 0, 120, pressure_ms, pressure_value, 119, JL_FLAG_D);
    write_readings(store, "temp", "a", 300, 340, temp_ms, temp_value, -1, JL_FLAG_N);
    write_readings(store, "count", "c", 0, 5, count_ms, count_value, -1, JL_FLAG_N);
    write_readings(store, "temp", "a", 10, 11, temp_ms, late_value, 10, JL_FLAG_M);
    st_store_close(store);
    return 0;
}
