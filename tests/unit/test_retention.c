/* Tests of retention (storage/retention.c) on real LMDB directories, with a clock the tests set
 * by hand: which chunks a pass deletes (whole chunks wholly past the cut, the newest chunk of a
 * series kept), the series' counts and first reading after, queries before and after the cut,
 * per-metric overrides, writes already past the cut, reopening, snapshots across a pass, passes
 * of bounded work, jialingd's retention flags, and a store under a constant
 * write rate that stops growing. Expected values are worked out in the comments from the
 * layout the tests write (chunk_target 100: each batch of 100 readings seals one chunk). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/server.h"
#include "store_fixture.h"

#define MINUTE 60000LL
#define T0 1700000040000LL /* a whole minute */

static int64_t fake_now;

static int64_t fake_clock(void *context)
{
    return *(const int64_t *)context;
}

static st_store *open_retention_store(const char *dir, uint32_t chunk_target, int64_t retention_ms,
                                      const st_retention_rule *rules, size_t rule_count)
{
    st_options options = store_options(dir, chunk_target, 64ull << 20);
    options.retention_ms = retention_ms;
    options.retention_rules = rules;
    options.retention_rule_count = rule_count;
    options.retention_interval_ms = -1; /* passes only when the test asks */
    options.clock_ms = fake_clock;
    options.clock_context = &fake_now;
    return open_store_options(&options);
}

/* Writes readings first..first+count-1 of metric{station=...}: reading i at T0 + i minutes,
 * value i. */
static void write_minutes(st_store *store, const char *metric, const char *station, int64_t first,
                          int64_t count)
{
    test_batch b;
    tb_init(&b);
    uint32_t index = tb_series(&b, metric, station);
    for (int64_t i = first; i < first + count; i++)
        tb_point(&b, index, T0 + i * MINUTE, (double)i);
    CHECK_INT(tb_write(store, &b), JL_OK);
    tb_destroy(&b);
}

/* Writes readings [0, chunks * 100) as one batch per 100, i.e. one sealed chunk each. */
static void write_chunks(st_store *store, const char *metric, const char *station, int chunks)
{
    for (int c = 0; c < chunks; c++)
        write_minutes(store, metric, station, c * 100LL, 100);
}

/* What the store says of metric{station=...} without reading chunks. */
static st_series_info info_of(st_store *store, const char *metric, const char *station)
{
    st_series_info info;
    memset(&info, 0, sizeof info);
    st_matcher matchers[2] = {{"__name__", metric, 0}, {"station", station, 0}};
    uint64_t *ids = NULL;
    size_t count = 0;
    jl_error err;
    CHECK_INT(st_select(store, matchers, 2, 0, &ids, &count, &err), JL_OK);
    CHECK_INT(count, 1);
    if (count == 1) {
        st_snapshot *snapshot = NULL;
        CHECK_INT(st_snapshot_open(store, ids, 1, &snapshot, &err), JL_OK);
        CHECK_INT(st_snapshot_series_info(snapshot, 0, &info), JL_OK);
        st_snapshot_close(snapshot);
    }
    free(ids);
    return info;
}

/* Sealed chunks of the series, counted through a cursor (the tail block excluded). */
static size_t sealed_blocks(st_store *store, const char *metric, const char *station)
{
    st_snapshot *snapshot = NULL;
    st_cursor *cursor = NULL;
    if (!open_series_cursor(store, metric, station, JL_MIN_MS, JL_MAX_MS, &snapshot, &cursor))
        return 0;
    st_block block;
    jl_error err;
    size_t n = 0;
    while (st_cursor_next(cursor, &block, &err) == JL_OK)
        n += !block.decoded;
    st_cursor_close(cursor);
    st_snapshot_close(snapshot);
    return n;
}

static st_stats stats_of(st_store *store)
{
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    return stats;
}

static int64_t ms_buf[20000];
static double value_buf[20000];

/* 10 chunks of pm25 s1 (readings 0..999) plus a tail of 5 (1000..1004), retention 1 day (1440
 * minutes). At now = T0 + 1890 min the cut is T0 + 450 min: chunks 0..3 (last readings 99, 199,
 * 299, 399) are wholly before it and go; chunk 4 (400..499) straddles it and stays. */
static void check_after_first_cut(st_store *store)
{
    st_series_info info = info_of(store, "pm25", "s1");
    CHECK_INT(info.count, 605);
    CHECK_INT(info.first_ms, T0 + 400 * MINUTE);
    CHECK_INT(info.last_ms, T0 + 1004 * MINUTE);
    CHECK_DOUBLE_BITS(info.last_value, 1004.0);
    CHECK_INT(sealed_blocks(store, "pm25", "s1"), 6);
    st_stats stats = stats_of(store);
    CHECK_INT(stats.chunks, 6);
    CHECK_INT(stats.readings, 605);
    CHECK_INT(stats.sealed_readings, 600);
    /* Before the cut: nothing; from chunk 4 on, every reading. */
    CHECK_INT(read_all(store, "pm25", "s1", T0, T0 + 400 * MINUTE, ms_buf, value_buf, 20000), 0);
    size_t n = read_all(store, "pm25", "s1", JL_MIN_MS, JL_MAX_MS, ms_buf, value_buf, 20000);
    CHECK_INT(n, 605);
    for (size_t i = 0; i < n && i < 605; i++) {
        CHECK_INT(ms_buf[i], T0 + (400 + (int64_t)i) * MINUTE);
        CHECK_DOUBLE_BITS(value_buf[i], 400.0 + (double)i);
    }
}

static void test_whole_chunks_past_the_cut(void)
{
    char *dir = make_temp_dir_named("retention");
    fake_now = T0 + 1005 * MINUTE;
    st_store *store = open_retention_store(dir, 100, 1440 * MINUTE, NULL, 0);
    write_chunks(store, "pm25", "s1", 10);
    write_minutes(store, "pm25", "s1", 1000, 5);
    CHECK_INT(stats_of(store).chunks, 10);

    /* Not yet: at T0 + 1539 min the cut is T0 + 99 min, and chunk 0's last reading is at it. */
    fake_now = T0 + 1539 * MINUTE;
    st_retention_result result;
    jl_error err;
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.chunks_deleted, 0);
    CHECK_INT(result.series_examined, 1);
    CHECK_INT(result.passes, 1);
    /* A pass that changed nothing still lets snapshots open (they wait for the published
     * transaction, which must be the one readers see). */
    CHECK_INT(info_of(store, "pm25", "s1").count, 1005);
    /* One minute later chunk 0 is wholly past. */
    fake_now = T0 + 1540 * MINUTE;
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.chunks_deleted, 1);
    CHECK_INT(result.readings_deleted, 100);
    CHECK_INT(info_of(store, "pm25", "s1").first_ms, T0 + 100 * MINUTE);

    fake_now = T0 + 1890 * MINUTE;
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.chunks_deleted, 3);
    CHECK_INT(result.readings_deleted, 300);
    check_after_first_cut(store);
    st_stats stats = stats_of(store);
    CHECK_INT(stats.retention_chunks_deleted, 4);
    CHECK_INT(stats.retention_readings_deleted, 400);
    /* Again at the same time: nothing more goes. */
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.chunks_deleted, 0);
    st_store_close(store);
    remove_dir(dir);
}

/* Three chunks (0..299) all long past the cut: the newest stays, so the series keeps its sealed
 * end and its latest value. */
static void test_newest_chunk_kept(void)
{
    char *dir = make_temp_dir_named("retention");
    fake_now = T0;
    st_store *store = open_retention_store(dir, 100, 1440 * MINUTE, NULL, 0);
    write_chunks(store, "pm25", "s2", 3);
    fake_now = T0 + 100000 * MINUTE;
    st_retention_result result;
    jl_error err;
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.chunks_deleted, 2);
    CHECK_INT(result.readings_deleted, 200);
    st_series_info info = info_of(store, "pm25", "s2");
    CHECK_INT(info.count, 100);
    CHECK_INT(info.first_ms, T0 + 200 * MINUTE);
    CHECK_INT(info.last_ms, T0 + 299 * MINUTE);
    CHECK_DOUBLE_BITS(info.last_value, 299.0);
    CHECK_INT(sealed_blocks(store, "pm25", "s2"), 1);
    st_store_close(store);
    /* Reopened (without retention), the series is what the pass left. */
    store = open_retention_store(dir, 100, 0, NULL, 0);
    info = info_of(store, "pm25", "s2");
    CHECK_INT(info.count, 100);
    CHECK_INT(info.first_ms, T0 + 200 * MINUTE);
    CHECK_INT(info.last_ms, T0 + 299 * MINUTE);
    st_store_close(store);
    remove_dir(dir);
}

/* Default 1 day; pm25 kept forever; so2 2 hours. Each metric has 10 chunks (0..999) written at
 * now = T0 (nothing is past yet). At now = T0 + 2000 min: no2 (the default) cuts at T0 + 560
 * min, so chunks 0..4 go and chunk 5 (500..599) stays; so2 cuts at T0 + 1880 min, past
 * everything, so chunks 0..8 go and chunk 9 stays; pm25 keeps all 10. */
static void test_per_metric_overrides(void)
{
    char *dir = make_temp_dir_named("retention");
    const st_retention_rule rules[2] = {{"pm25", 0}, {"so2", 120 * MINUTE}};
    fake_now = T0;
    st_store *store = open_retention_store(dir, 100, 1440 * MINUTE, rules, 2);
    write_chunks(store, "pm25", "s1", 10);
    write_chunks(store, "no2", "s1", 10);
    write_chunks(store, "so2", "s1", 10);
    fake_now = T0 + 2000 * MINUTE;
    st_retention_result result;
    jl_error err;
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.series_examined, 2); /* pm25 has no retention */
    CHECK_INT(result.chunks_deleted, 14);
    CHECK_INT(result.readings_deleted, 1400);
    st_series_info pm25 = info_of(store, "pm25", "s1");
    CHECK_INT(pm25.count, 1000);
    CHECK_INT(pm25.first_ms, T0);
    st_series_info no2 = info_of(store, "no2", "s1");
    CHECK_INT(no2.count, 500);
    CHECK_INT(no2.first_ms, T0 + 500 * MINUTE);
    CHECK_INT(no2.last_ms, T0 + 999 * MINUTE);
    st_series_info so2 = info_of(store, "so2", "s1");
    CHECK_INT(so2.count, 100);
    CHECK_INT(so2.first_ms, T0 + 900 * MINUTE);
    CHECK_INT(so2.last_ms, T0 + 999 * MINUTE);
    CHECK_INT(stats_of(store).chunks, 10 + 5 + 1);
    CHECK_INT(read_all(store, "no2", "s1", T0, T0 + 500 * MINUTE, ms_buf, value_buf, 20000), 0);
    CHECK_INT(read_all(store, "no2", "s1", T0 + 500 * MINUTE, T0 + 600 * MINUTE, ms_buf, value_buf,
                       20000),
              100);
    CHECK_INT(ms_buf[0], T0 + 500 * MINUTE);
    CHECK_INT(read_all(store, "pm25", "s1", T0, T0 + 500 * MINUTE, ms_buf, value_buf, 20000), 500);
    st_store_close(store);
    remove_dir(dir);
}

/* At now = T0 + 2000 min with 1 day of retention the cut is T0 + 560 min: readings before it are
 * dropped when written (counted), readings at or after it stored. */
static void test_writes_past_the_cut(void)
{
    char *dir = make_temp_dir_named("retention");
    fake_now = T0 + 2000 * MINUTE;
    st_store *store = open_retention_store(dir, 100, 1440 * MINUTE, NULL, 0);
    test_batch b;
    tb_init(&b);
    uint32_t index = tb_series(&b, "pm25", "s1");
    tb_point(&b, index, T0 + 500 * MINUTE, 1.0);  /* dropped */
    tb_point(&b, index, T0 + 560 * MINUTE, 2.0);  /* kept */
    tb_point(&b, index, T0 + 559 * MINUTE, 3.0);  /* dropped */
    tb_point(&b, index, T0 + 1999 * MINUTE, 4.0); /* kept */
    CHECK_INT(tb_write(store, &b), JL_OK);
    st_series_info info = info_of(store, "pm25", "s1");
    CHECK_INT(info.count, 2);
    CHECK_INT(info.first_ms, T0 + 560 * MINUTE);
    CHECK_INT(info.last_ms, T0 + 1999 * MINUTE);
    CHECK_DOUBLE_BITS(info.last_value, 4.0);
    CHECK_INT(read_all(store, "pm25", "s1", JL_MIN_MS, JL_MAX_MS, ms_buf, value_buf, 20000), 2);
    CHECK_DOUBLE_BITS(value_buf[0], 2.0);
    CHECK_DOUBLE_BITS(value_buf[1], 4.0);
    st_stats stats = stats_of(store);
    CHECK_INT(stats.retention_dropped_readings, 2);
    CHECK_INT(stats.points_written, 2);

    /* A batch wholly past the cut stores nothing, not even its series. */
    st_batch_reset(&b.batch);
    index = tb_series(&b, "pm25", "s9");
    tb_point(&b, index, T0, 5.0);
    CHECK_INT(tb_write(store, &b), JL_OK);
    stats = stats_of(store);
    CHECK_INT(stats.series, 1);
    CHECK_INT(stats.retention_dropped_readings, 3);
    st_store_close(store);

    /* Nothing dropped reached the log: reopened without retention, the same two readings. */
    store = open_retention_store(dir, 100, 0, NULL, 0);
    CHECK_INT(read_all(store, "pm25", "s1", JL_MIN_MS, JL_MAX_MS, ms_buf, value_buf, 20000), 2);
    CHECK_INT(stats_of(store).series, 1);
    st_store_close(store);
    tb_destroy(&b);
    remove_dir(dir);
}

/* The state after a pass is what recovery rebuilds from the chunks and the log: reopen (as after
 * a kill, the pass being committed or not at all) and compare with the same hand-worked values;
 * then writing and cutting again goes on from there. */
static void test_reopen_consistent(void)
{
    char *dir = make_temp_dir_named("retention");
    fake_now = T0 + 1005 * MINUTE;
    st_store *store = open_retention_store(dir, 100, 1440 * MINUTE, NULL, 0);
    write_chunks(store, "pm25", "s1", 10);
    write_minutes(store, "pm25", "s1", 1000, 5);
    fake_now = T0 + 1890 * MINUTE;
    jl_error err;
    CHECK_INT(st_retention_run(store, NULL, &err), JL_OK);
    check_after_first_cut(store);
    st_store_close(store);

    store = open_retention_store(dir, 100, 1440 * MINUTE, NULL, 0);
    check_after_first_cut(store);
    /* 95 more readings (1005..1099) fill the tail to 100 and seal chunk 10; at T0 + 2040 min
     * the cut is T0 + 600 min: chunks 4 and 5 go (last readings 499, 599). */
    write_minutes(store, "pm25", "s1", 1005, 95);
    fake_now = T0 + 2040 * MINUTE;
    st_retention_result result;
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.chunks_deleted, 2);
    st_store_close(store);
    store = open_retention_store(dir, 100, 1440 * MINUTE, NULL, 0);
    st_series_info info = info_of(store, "pm25", "s1");
    CHECK_INT(info.count, 500);
    CHECK_INT(info.first_ms, T0 + 600 * MINUTE);
    CHECK_INT(info.last_ms, T0 + 1099 * MINUTE);
    CHECK_INT(stats_of(store).chunks, 5);
    CHECK_INT(stats_of(store).sealed_readings, 500);
    st_store_close(store);
    remove_dir(dir);
}

/* Writes one round: `minutes` readings of each of `series` stations from minute `start`, in
 * batches of an hour holding every station, with values of one decimal that wander. */
static void write_round(st_store *store, int series, int64_t start, int64_t minutes)
{
    test_batch b;
    tb_init(&b);
    for (int64_t hour = start; hour < start + minutes; hour += 60) {
        st_batch_reset(&b.batch);
        for (int s = 0; s < series; s++) {
            char station[16];
            snprintf(station, sizeof station, "s%d", s);
            uint32_t index = tb_series(&b, "pm25", station);
            for (int64_t m = hour; m < hour + 60; m++) {
                double value = (double)(200 + (int)(next_random() % 200)) / 10.0;
                tb_point(&b, index, T0 + m * MINUTE, value);
            }
        }
        CHECK_INT(tb_write(store, &b), JL_OK);
    }
    tb_destroy(&b);
}

/* A store written at a constant rate (50 series, a reading a minute each, in hourly batches,
 * chunks of 720 readings: half a day) with 3 days of retention, the clock following the writes
 * a day per round: once the first chunks pass the cut, deleting them frees as many pages as a
 * round takes, and the data file stops growing. The same writes without retention keep
 * growing. */
#define GROWTH_SERIES 50
#define GROWTH_ROUND_MINUTES 1440
#define GROWTH_ROUNDS 40
#define GROWTH_CHUNK 720
#define GROWTH_RETENTION_MINUTES (3 * 1440)
static void test_store_stops_growing(void)
{
    uint64_t retained_bytes[GROWTH_ROUNDS], kept_bytes = 0;
    for (int with_retention = 1; with_retention >= 0; with_retention--) {
        char *dir = make_temp_dir_named("retention");
        rng_state = 0x9e3779b97f4a7c15ull;
        fake_now = T0;
        st_store *store = open_retention_store(
            dir, GROWTH_CHUNK, with_retention ? GROWTH_RETENTION_MINUTES * MINUTE : 0, NULL, 0);
        for (int round = 0; round < GROWTH_ROUNDS; round++) {
            int64_t start = (int64_t)round * GROWTH_ROUND_MINUTES;
            write_round(store, GROWTH_SERIES, start, GROWTH_ROUND_MINUTES);
            fake_now = T0 + (start + GROWTH_ROUND_MINUTES) * MINUTE;
            jl_error err;
            CHECK_INT(st_retention_run(store, NULL, &err), JL_OK);
            st_stats stats = stats_of(store);
            if (with_retention)
                retained_bytes[round] = stats.file_bytes;
            else
                kept_bytes = stats.file_bytes;
            if (getenv("RETENTION_VERBOSE"))
                fprintf(stderr, "  round %d: file %llu B, %llu chunks (%llu B), %llu readings\n",
                        round, (unsigned long long)stats.file_bytes,
                        (unsigned long long)stats.chunks, (unsigned long long)stats.chunk_bytes,
                        (unsigned long long)stats.readings);
            /* From round 2 on, 3 days are kept: chunks end on half-day boundaries, the cut
             * falls on one, so 6 chunks of 720 per series, 50 * 3 * 1440 readings. */
            if (with_retention && round >= 2) {
                CHECK_INT(stats.chunks, GROWTH_SERIES * 6);
                CHECK_INT(stats.readings, GROWTH_SERIES * 3 * 1440);
            }
        }
        st_store_close(store);
        remove_dir(dir);
    }
    /* From round 4 on the file stays within 10% of its size after round 3. */
    for (int round = 4; round < GROWTH_ROUNDS; round++)
        CHECK(retained_bytes[round] <= retained_bytes[3] + retained_bytes[3] / 10);
    /* Without retention it holds 40 days instead of 3. */
    CHECK(kept_bytes > 3 * retained_bytes[GROWTH_ROUNDS - 1]);
}

/* A snapshot taken before a pass keeps seeing what it saw (its LMDB read transaction pins the
 * deleted chunks' pages, and its states were copied): all 1,005 readings; one taken after sees
 * the pass whole. */
static void test_snapshot_before_pass(void)
{
    char *dir = make_temp_dir_named("retention");
    fake_now = T0 + 1005 * MINUTE;
    st_store *store = open_retention_store(dir, 100, 1440 * MINUTE, NULL, 0);
    write_chunks(store, "pm25", "s1", 10);
    write_minutes(store, "pm25", "s1", 1000, 5);
    st_snapshot *snapshot = NULL;
    st_cursor *cursor = NULL;
    CHECK(open_series_cursor(store, "pm25", "s1", JL_MIN_MS, JL_MAX_MS, &snapshot, &cursor));
    fake_now = T0 + 1890 * MINUTE;
    st_retention_result result;
    jl_error err;
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.chunks_deleted, 4);
    st_series_info old_info;
    CHECK_INT(st_snapshot_series_info(snapshot, 0, &old_info), JL_OK);
    CHECK_INT(old_info.count, 1005);
    CHECK_INT(old_info.first_ms, T0);
    st_block block;
    size_t readings = 0;
    int64_t first = 0;
    while (st_cursor_next(cursor, &block, &err) == JL_OK) {
        CHECK_INT(st_cursor_decode(cursor, &block, &err), JL_OK);
        if (readings == 0)
            first = block.timestamps_ms[0];
        readings += block.count;
    }
    CHECK_INT(readings, 1005);
    CHECK_INT(first, T0);
    st_cursor_close(cursor);
    st_snapshot_close(snapshot);
    check_after_first_cut(store);
    st_store_close(store);
    remove_dir(dir);
}

/* 2,100 chunks of one series all past the cut: a pass deletes at most 2,048 chunks
 * (RETENTION_PASS_CHUNKS in retention.c), so the cycle takes two passes, 2,048 then 51 chunks,
 * the newest kept. */
static void test_bounded_passes(void)
{
    char *dir = make_temp_dir_named("retention");
    fake_now = T0;
    st_store *store = open_retention_store(dir, 100, 1440 * MINUTE, NULL, 0);
    write_chunks(store, "pm25", "s1", 2100);
    fake_now = T0 + 1000000 * MINUTE;
    st_retention_result result;
    jl_error err;
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.passes, 2);
    CHECK_INT(result.chunks_deleted, 2099);
    CHECK_INT(result.readings_deleted, 209900);
    st_series_info info = info_of(store, "pm25", "s1");
    CHECK_INT(info.count, 100);
    CHECK_INT(info.first_ms, T0 + 209900 * MINUTE);
    CHECK_INT(info.last_ms, T0 + 209999 * MINUTE);
    CHECK_INT(stats_of(store).chunks, 1);
    st_store_close(store);
    remove_dir(dir);
}

static void test_no_retention_no_pass(void)
{
    char *dir = make_temp_dir_named("retention");
    fake_now = T0 + 100000 * MINUTE;
    st_store *store = open_retention_store(dir, 100, 0, NULL, 0);
    write_chunks(store, "pm25", "s1", 3);
    st_retention_result result;
    jl_error err;
    CHECK_INT(st_retention_run(store, &result, &err), JL_OK);
    CHECK_INT(result.passes, 0);
    CHECK_INT(result.chunks_deleted, 0);
    CHECK_INT(info_of(store, "pm25", "s1").count, 300);
    st_store_close(store);
    remove_dir(dir);
}

/* jialingd's flags (server/config.c): durations in ms, a month the mean Gregorian month
 * (2,629,746,000 ms: 365.2425 days / 12), a metric named twice taking its last value. */
static void test_server_flags(void)
{
    char *argv[] = {"jialingd",           "--retention", "400d",
                    "--retention-metric", "pm25=3y",     "--retention-metric=wind=0",
                    "--retention-metric", "pm25=1y6mo",  "--retention-metric",
                    "so2=12h30m",         NULL};
    sv_config config;
    jl_error err;
    CHECK_INT(sv_config_parse(&config, 10, argv, &err), JL_OK);
    CHECK_INT(config.retention_ms, 400LL * 86400000);
    CHECK_INT(config.retention_rule_count, 3);
    CHECK_STR(config.retention_rules[0].metric, "pm25");
    CHECK_INT(config.retention_rules[0].ms, 18 * 2629746000LL); /* 1y6mo */
    CHECK_STR(config.retention_rules[1].metric, "wind");
    CHECK_INT(config.retention_rules[1].ms, 0);
    CHECK_STR(config.retention_rules[2].metric, "so2");
    CHECK_INT(config.retention_rules[2].ms, 45000000LL);
    char *three_years[] = {"jialingd", "--retention", "3y", NULL};
    CHECK_INT(sv_config_parse(&config, 3, three_years, &err), JL_OK);
    CHECK_INT(config.retention_ms, 94670856000LL); /* 3 * 365.2425 * 86,400,000 */
    CHECK_INT(config.retention_rule_count, 0);
    char *none[] = {"jialingd", NULL};
    CHECK_INT(sv_config_parse(&config, 1, none, &err), JL_OK);
    CHECK_INT(config.retention_ms, 0);
    char *bad[] = {"jialingd", "--retention-metric", "9pm=1d", NULL};
    CHECK_INT(sv_config_parse(&config, 3, bad, &err), JL_EINVAL);
    CHECK(strstr(err.message, "--retention-metric") != NULL);
}

int main(void)
{
    RUN(test_whole_chunks_past_the_cut);
    RUN(test_newest_chunk_kept);
    RUN(test_per_metric_overrides);
    RUN(test_writes_past_the_cut);
    RUN(test_reopen_consistent);
    RUN(test_snapshot_before_pass);
    RUN(test_bounded_passes);
    RUN(test_no_retention_no_pass);
    RUN(test_store_stops_growing);
    RUN(test_server_flags);
    return CHECK_DONE();
}
