/* Tests of storage/seal.c on real LMDB directories: chunks sized by the store fill the overflow
 * pages they take, hourly series keep segment tables, very compressible and sharply changing
 * catch-ups are cut into chunks a chunk may hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

/* In-order readings of sensor-like decimals: after the first chunk of a series (sealed whole,
 * to learn its size per reading), chunks fill the overflow pages they take (4,080 bytes of each
 * 4,096) to over 97%; predicting the size alone gave ~92%. Every reading reads back. */
static void test_fitted_chunk_fill(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, 0);
    test_batch b;
    tb_init(&b);
    rng_state = 977;
    double level[2] = {350, 1200};
    const int total = 400000;
    for (int start = 0; start < total; start += 1000) {
        st_batch_reset(&b.batch);
        for (int i = start; i < start + 1000; i++) {
            int s = i % 2;
            level[s] += (double)(int64_t)(next_random() % 41) - 20;
            if (level[s] < 0)
                level[s] = 0;
            uint32_t index = tb_series(&b, "pm10", stations[s]);
            tb_point(&b, index, 1700000000000 + 30000LL * i, level[s] / 10);
        }
        CHECK_INT(tb_write(store, &b), JL_OK);
    }
    /* A catch-up after an outage: one request with 20 chunks' worth of a known series (two
     * pages, ~10,000 readings each) is cut into fitted chunks at once, leaving less than a
     * chunk in the tail. */
    st_batch_reset(&b.batch);
    uint32_t backfill = tb_series(&b, "pm10", stations[0]);
    for (int i = 0; i < 200000; i++) {
        level[0] += (double)(int64_t)(next_random() % 41) - 20;
        if (level[0] < 0)
            level[0] = 0;
        tb_point(&b, backfill, 1700000000000 + 30000LL * (total + i), level[0] / 10);
    }
    jl_error err;
    st_stats before, stats;
    CHECK_INT(st_store_stats(store, 0, &before, &err), JL_OK);
    CHECK_INT(tb_write(store, &b), JL_OK);
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.readings, total + 200000);
    CHECK(stats.chunks - before.chunks >= 16);
    CHECK(stats.readings - stats.sealed_readings <
          before.readings - before.sealed_readings + 12000);
    static int64_t ms[210000];
    static double values[210000];
    CHECK_INT(read_all(store, "pm10", stations[1], INT64_MIN, INT64_MAX, ms, values, 210000),
              total / 2);
    static int64_t ms0[410000];
    static double values0[410000];
    CHECK_INT(read_all(store, "pm10", stations[0], INT64_MIN, INT64_MAX, ms0, values0, 410000),
              total / 2 + 200000);
    st_store_close(store);
    uint64_t pages = chunk_overflow_pages(dir);
    CHECK(stats.chunks > 45);
    printf("  %llu chunks in %llu overflow pages, %.0f bytes each on average\n",
           (unsigned long long)stats.chunks, (unsigned long long)pages,
           (double)stats.chunk_bytes / (double)stats.chunks);
    /* The first chunk of each series, sealed whole at 2,048 readings, sits in a leaf page; its
     * bytes count here as if filling an overflow page, an error of under 1% at this size. */
    CHECK((double)stats.chunk_bytes > 0.97 * 4080 * (double)pages);
    tb_destroy(&b);
    remove_dir(dir);
}

/* An hourly series (a river section) keeps chunks short enough for a segment table: 8,192
 * readings would span 341 days, past the 1,024 8-hour periods a table covers, so its chunks
 * stay at the fewest pages that hold 1,024 readings. Every sealed chunk spans at most 512
 * periods and has a table. */
static void test_hourly_series_keeps_tables(void)
{
    store_fixture f;
    sf_open(&f, 0, 0);
    rng_state = 8080;
    const int total = 30000;
    for (int start = 0; start < total; start += 100) {
        st_batch_reset(&f.b.batch);
        uint32_t index = tb_series(&f.b, "nh3n", "river1");
        for (int i = start; i < start + 100; i++)
            tb_point(&f.b, index, 1700006400000 + 3600000LL * i,
                     (double)(next_random() % 1001) / 10);
        CHECK_INT(tb_write(f.store, &f.b), JL_OK);
    }
    st_snapshot *snapshot = NULL;
    st_cursor *cursor = NULL;
    CHECK(open_series_cursor(f.store, "nh3n", "river1", INT64_MIN, INT64_MAX, &snapshot, &cursor));
    jl_error err;
    st_block block;
    int chunks = 0;
    while (st_cursor_next(cursor, &block, &err) == JL_OK) {
        if (block.decoded)
            continue; /* the unsealed tail */
        chunks++;
        CHECK(block.summary.last_ms - block.summary.first_ms <= 512 * 8 * 3600000LL);
        CHECK(block.summary.segment_count >= 2);
    }
    printf("  %d sealed chunks of an hourly series, each with a segment table\n", chunks);
    CHECK(chunks >= 5);
    st_cursor_close(cursor);
    st_snapshot_close(snapshot);
    sf_close(&f);
}

/* Writes series metric{station} as consecutive requests of sizes[r] readings each, 1 s apart
 * from 1700000000000, with the values value(r, i). */
static void write_requests(st_store *store, const char *metric, const char *station,
                           const int *sizes, int requests, double (*value)(int request, int i))
{
    test_batch b;
    tb_init(&b);
    int64_t ms = 1700000000000;
    for (int request = 0; request < requests; request++) {
        st_batch_reset(&b.batch);
        uint32_t index = tb_series(&b, metric, station);
        for (int i = 0; i < sizes[request]; i++, ms += 1000)
            tb_point(&b, index, ms, value(request, i));
        CHECK_INT(tb_write(store, &b), JL_OK);
    }
    tb_destroy(&b);
}

static double constant_value(int request, int i)
{
    (void)request;
    (void)i;
    return 1.0;
}

/* A constant series compresses to almost nothing; a long run of it must still be cut into
 * chunks a chunk may hold (at most 65,536 readings), not refused. */
static void test_constant_backfill(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, 0);
    const int sizes[] = {1000, 1000, 1000, 100000};
    write_requests(store, "flag", "c", sizes, 4, constant_value);
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.readings, 103000);
    CHECK(stats.chunks >= 103000 / 16384);
    st_store_close(store);
    remove_dir(dir);
}

/* Random doubles in [1, 2) at the start of the last request, 7.0 everywhere else. */
static double sharp_change_value(int request, int i)
{
    if (request < 2 || i >= 380)
        return 7.0;
    uint64_t bits = next_random() >> 12 | 0x3ff0000000000000u;
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* A catch-up whose size per reading changes sharply (a constant, then random doubles, then a
 * constant again, just below the seal threshold the constant taught) is sealed with less than
 * a chunk left in the tail, and reads back after a reopen. (The branch that seals whole what
 * cannot be fitted after a first fitted chunk is not reached by this data; review found it
 * with a 2^24-reading request.) */
static void test_sharp_change_catch_up(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, 0);
    rng_state = 31337;
    const int sizes[] = {3000, 16383, 183617};
    write_requests(store, "mixed", "m", sizes, 3, sharp_change_value);
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.readings, 203000);
    CHECK(stats.readings - stats.sealed_readings < 20000);
    st_store_close(store);
    store = open_store(dir, 0, 0);
    static int64_t got_ms[204000];
    static double got_values[204000];
    CHECK_INT(read_all(store, "mixed", "m", INT64_MIN, INT64_MAX, got_ms, got_values, 204000),
              203000);
    CHECK_DOUBLE_BITS(got_values[202999], 7.0);
    CHECK_INT(got_ms[202999] - got_ms[0], 202999 * 1000LL);
    st_store_close(store);
    remove_dir(dir);
}

int main(void)
{
    RUN(test_fitted_chunk_fill);
    RUN(test_hourly_series_keeps_tables);
    RUN(test_constant_backfill);
    RUN(test_sharp_change_catch_up);
    return CHECK_DONE();
}
