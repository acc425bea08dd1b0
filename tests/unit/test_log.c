/* Tests of storage/log.c on real LMDB directories: remainders of fitted seals written back as
 * one block, old tails rewritten so the log stays short, rewriting bounded by its credit, and
 * recovery from rewritten blocks after a reopen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

/* Writes `requests` requests: each holds `slow_series` series with one reading (value
 * 0.5 * request) and, with `fast` set, a series of 100 random readings (value known from the
 * time); returns the points written. */
static uint64_t write_slow_and_fast(st_store *store, int requests, int slow_series, int fast)
{
    test_batch b;
    tb_init(&b);
    char station[16];
    uint64_t points = 0;
    for (int r = 0; r < requests; r++) {
        st_batch_reset(&b.batch);
        uint32_t index;
        for (int s = 0; s < slow_series; s++) {
            snprintf(station, sizeof station, "slow%03d", s);
            index = tb_series(&b, "o3", station);
            tb_point(&b, index, 1700000000000 + 3600000LL * r, 0.5 * r);
            points++;
        }
        if (fast) {
            index = tb_series(&b, "pm25", "fast");
            for (int i = 0; i < 100; i++) {
                int64_t ms = 1700000000000 + 36000LL * (100 * r + i);
                tb_point(&b, index, ms, (double)(ms / 36000 % 997) / 10);
                points++;
            }
        }
        CHECK_INT(tb_write(store, &b), JL_OK);
    }
    tb_destroy(&b);
    return points;
}

/* Checks that series slow<s> holds readings 0..requests-1 as write_slow_and_fast wrote them. */
static void check_slow_series(st_store *store, int s, int requests)
{
    static int64_t ms[1024];
    static double values[1024];
    char station[16];
    snprintf(station, sizeof station, "slow%03d", s);
    CHECK_INT(read_all(store, "o3", station, INT64_MIN, INT64_MAX, ms, values, 1024), requests);
    for (int r = 0; r < requests; r++) {
        CHECK_INT(ms[r], 1700000000000 + 3600000LL * r);
        CHECK(values[r] == 0.5 * r);
    }
}

/* The store's counters after write_slow_and_fast wrote `points`, with the log's printed. */
static st_stats log_stats(st_store *store, uint64_t points)
{
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    printf("  log: %llu blocks, %llu of %llu readings rewritten\n",
           (unsigned long long)stats.log_blocks, (unsigned long long)stats.log_rewritten_readings,
           (unsigned long long)points);
    return stats;
}

/* A slow series (one reading a request, far from a chunk's worth) beside a fast one that seals
 * often: the slow tail alone would keep every block since its first reading. It is written to
 * the log again once its oldest block is 128 sequence numbers old, so the log stays near 128
 * blocks instead of 400, and after a reopen (recovery from the rewritten blocks) every reading
 * of both series reads back. */
static void test_old_tails_rewritten(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, 0);
    const int requests = 400;
    uint64_t points = write_slow_and_fast(store, requests, 1, 1);
    st_stats stats = log_stats(store, points);
    jl_error err;
    CHECK(stats.chunks > 0);                    /* the fast series sealed */
    CHECK(stats.log_blocks <= 140);             /* 400 without rewriting */
    CHECK(stats.log_rewritten_readings >= 200); /* the slow tail, at least twice */
    CHECK(stats.log_rewritten_readings <= 2 * points);
    st_store_close(store);
    store = open_store(dir, 0, 0);
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.readings, points);
    check_slow_series(store, 0, requests);
    static int64_t ms[40000];
    static double values[40000];
    CHECK_INT(read_all(store, "pm25", "fast", INT64_MIN, INT64_MAX, ms, values, 40000),
              100 * requests);
    for (int i = 0; i < 100 * requests; i++) {
        CHECK_INT(ms[i], 1700000000000 + 36000LL * i);
        CHECK(values[i] == (double)(ms[i] / 36000 % 997) / 10);
    }
    st_store_close(store);
    remove_dir(dir);
}

/* Many slow series and nothing that seals: each time their tails are rewritten they are longer,
 * so rewriting them whenever they age wrote 3.6 times the readings here (measured); it is
 * paid for by the readings written instead, never more than twice their number, also when
 * transactions are retried after the map (64 KiB at first) grows. Every reading survives a
 * reopen. */
static void test_rewriting_bounded(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, 64 * 1024);
    const int requests = 1000, series = 100;
    uint64_t points = write_slow_and_fast(store, requests, series, 0);
    st_stats stats = log_stats(store, points);
    jl_error err;
    CHECK(stats.log_rewritten_readings > 0);
    CHECK(stats.log_rewritten_readings <= 2 * points);
    uint64_t rewritten = stats.log_rewritten_readings;
    st_store_close(store);
    store = open_store(dir, 0, 0);
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.readings, points);
    for (int s = 0; s < series; s += 37)
        check_slow_series(store, s, requests);
    st_store_close(store);
    remove_dir(dir);
    /* The same writes into a map that never grows rewrite exactly as much: a transaction
     * retried after growing the map does not earn its credit twice. */
    dir = make_temp_dir();
    store = open_store(dir, 0, 0);
    st_stats unretried = log_stats(store, write_slow_and_fast(store, requests, series, 0));
    CHECK_INT(unretried.log_rewritten_readings, rewritten);
    st_store_close(store);
    remove_dir(dir);
}

/* Fitted seals of many series in one transaction write their remainders back as one log
 * block: sequence numbers also measure the log against log_max_blocks, and a block per seal
 * made thousands of series sealing together look like a long log (and forced early seals). */
static void test_remainders_in_one_block(void)
{
    store_fixture f;
    sf_open(&f, 0, 0);
    char station[16];
    jl_error err;
    st_stats stats;
    rng_state = 4242;
    int64_t next_ms = 1700000000000;
    for (int phase = 0; phase < 2; phase++) {
        /* First 3,000 readings a series (its first chunk is sealed whole), then 24,000 (fitted
         * chunks of ~10,000 readings, and a remainder in the tail). */
        int per_series = phase == 0 ? 3000 : 24000;
        st_batch_reset(&f.b.batch);
        for (int s = 0; s < 50; s++) {
            snprintf(station, sizeof station, "r%02d", s);
            uint32_t index = tb_series(&f.b, "cod", station);
            for (int i = 0; i < per_series; i++)
                tb_point(&f.b, index, next_ms + 60000LL * i,
                         (double)(int64_t)(next_random() % 400) / 10);
        }
        next_ms += 60000LL * per_series;
        CHECK_INT(tb_write(f.store, &f.b), JL_OK);
        CHECK_INT(st_store_stats(f.store, 0, &stats, &err), JL_OK);
        /* A transaction never deletes its own request's block (the next one does). Phase 0:
         * that block alone. Phase 1: that block and one with the remainders of all 50 series
         * (a block per seal made it 51). */
        CHECK_INT(stats.log_blocks, phase + 1);
        CHECK_INT(stats.readings, 50 * (phase == 0 ? 3000 : 27000));
    }
    CHECK(stats.sealed_readings < stats.readings); /* there are remainders */
    st_store_close(f.store);
    f.store = open_store(f.dir, 0, 0);
    CHECK_INT(st_store_stats(f.store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.readings, 50 * 27000);
    static int64_t ms[28000];
    static double values[28000];
    CHECK_INT(read_all(f.store, "cod", "r49", INT64_MIN, INT64_MAX, ms, values, 28000), 27000);
    for (int i = 1; i < 27000; i++)
        CHECK_INT(ms[i] - ms[i - 1], 60000);
    sf_close(&f);
}

/* 64 slow series whose tails all start at the first request, with a log limit of 32 blocks:
 * unpaced, all 64 tails reached the limit together and were sealed in one transaction (64
 * chunks at request 33). Paced, past half the limit (16 blocks) each transaction seals
 * ceil(64 x 1 / 16) = 4 of the oldest tails, 8 past three quarters (24 blocks): no request
 * seals more than 8, the log never reaches the limit, and every tail is sealed by request 28
 * (8 x 4 at requests 17-24, then 8 x 4 at 25-28). Every reading reads back after a reopen. */
static void test_seals_paced(void)
{
    char *dir = make_temp_dir();
    log_max_blocks = 32;
    st_store *store = open_store(dir, 0, 0);
    const int requests = 120, series = 64;
    jl_error err;
    st_stats stats;
    uint64_t chunks_before = 0, most_sealed = 0, most_blocks = 0;
    for (int r = 0; r < requests; r++) {
        /* One request of one reading per series, at hour r (as write_slow_and_fast writes). */
        jl_buf key;
        jl_buf_init(&key);
        st_batch batch;
        st_batch_init(&batch);
        char station[16];
        for (int s = 0; s < series; s++) {
            uint32_t index;
            snprintf(station, sizeof station, "slow%03d", s);
            series_key(&key, "o3", station);
            CHECK_INT(st_batch_series(&batch, key.data, key.len, &index), JL_OK);
            CHECK_INT(st_batch_point(&batch, index, 1700000000000 + 3600000LL * r, 0.5 * r), JL_OK);
        }
        CHECK_INT(st_write(store, &batch, &err), JL_OK);
        st_batch_destroy(&batch);
        jl_buf_destroy(&key);
        CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
        if (stats.chunks - chunks_before > most_sealed)
            most_sealed = stats.chunks - chunks_before;
        if (stats.log_blocks > most_blocks)
            most_blocks = stats.log_blocks;
        chunks_before = stats.chunks;
        if (r + 1 == 16)
            CHECK_INT(stats.chunks, 0); /* at most half the limit: nothing sealed early */
        if (r + 1 == 28)
            CHECK_INT(stats.chunks, series);
    }
    printf("  most chunks made by one request %llu, most log blocks %llu\n",
           (unsigned long long)most_sealed, (unsigned long long)most_blocks);
    CHECK(most_sealed <= 8);
    CHECK(most_blocks < 32);
    st_store_close(store);
    store = open_store(dir, 0, 0);
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.readings, (uint64_t)requests * series);
    for (int s = 0; s < series; s += 21)
        check_slow_series(store, s, requests);
    st_store_close(store);
    log_max_blocks = 0;
    remove_dir(dir);
}

int main(void)
{
    RUN(test_remainders_in_one_block);
    RUN(test_old_tails_rewritten);
    RUN(test_rewriting_bounded);
    RUN(test_seals_paced);
    return CHECK_DONE();
}
