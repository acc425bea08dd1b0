/* Tests of the store as a whole (storage/store.c: open, recovery, statistics) on real LMDB
 * directories: a randomized model check (random in-order, out-of-order, late and duplicate
 * writes compared after every step and after reopening with an independent reference model),
 * with sealing, forced seals and fitted seals, and the format versions a directory may carry.
 * Tests of each part are in test_catalog.c, test_seal.c, test_log.c,
 * test_writer.c and test_snapshot.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

/* ---------- reference model: per series a sorted array, last write wins ---------- */

#define MODEL_MAX 60000

typedef struct model {
    int64_t ms[MODEL_SERIES][MODEL_MAX];
    double values[MODEL_SERIES][MODEL_MAX];
    size_t count[MODEL_SERIES];
} model;

static void model_put(model *m, int s, int64_t ms, double value)
{
    size_t lo = 0, hi = m->count[s];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->ms[s][mid] < ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->count[s] && m->ms[s][lo] == ms) {
        m->values[s][lo] = value;
        return;
    }
    memmove(&m->ms[s][lo + 1], &m->ms[s][lo], (m->count[s] - lo) * sizeof(int64_t));
    memmove(&m->values[s][lo + 1], &m->values[s][lo], (m->count[s] - lo) * sizeof(double));
    m->ms[s][lo] = ms;
    m->values[s][lo] = value;
    m->count[s]++;
}

static void compare_with_model(st_store *store, const model *m, const char *when)
{
    static int64_t ms[MODEL_MAX];
    static double values[MODEL_MAX];
    for (int s = 0; s < MODEL_SERIES; s++) {
        size_t n =
            read_all(store, "pm25", stations[s], JL_MIN_MS, JL_MAX_MS, ms, values, MODEL_MAX);
        if (n != m->count[s]) {
            fprintf(stderr, "  %s: series %d has %zu readings, model %zu\n", when, s, n,
                    m->count[s]);
            CHECK_INT(n, m->count[s]);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (ms[i] != m->ms[s][i] || values[i] != m->values[s][i]) {
                fprintf(stderr, "  %s: series %d reading %zu is (%lld, %g), model (%lld, %g)\n",
                        when, s, i, (long long)ms[i], values[i], (long long)m->ms[s][i],
                        m->values[s][i]);
                CHECK(0);
                break;
            }
        }
        /* The snapshot's per-series figures agree too. */
        st_matcher matcher = {"station", stations[s], 0};
        uint64_t *ids = NULL;
        size_t count = 0;
        jl_error err;
        CHECK_INT(st_select(store, &matcher, 1, 0, &ids, &count, &err), JL_OK);
        st_snapshot *snapshot = NULL;
        CHECK_INT(st_snapshot_open(store, ids, count, &snapshot, &err), JL_OK);
        st_series_info info;
        CHECK_INT(st_snapshot_series_info(snapshot, 0, &info), JL_OK);
        CHECK_INT(info.count, m->count[s]);
        if (m->count[s] > 0) {
            CHECK_INT(info.first_ms, m->ms[s][0]);
            CHECK_INT(info.last_ms, m->ms[s][m->count[s] - 1]);
            CHECK_DOUBLE_BITS(info.last_value, m->values[s][m->count[s] - 1]);
        }
        st_snapshot_close(snapshot);
        free(ids);
    }
}

/* Random batches: mostly in order at a 60 s cadence, some late (into sealed chunks), some
 * re-sent duplicates with new values, some out of order within the tail. */
static void random_model(int one_slow_series, uint32_t chunk_target, int rounds)
{
    static model m;
    memset(&m, 0, sizeof m);
    uint64_t seed = 20261123;
    rng_state = seed;
    printf("  test_random_model seed %llu\n", (unsigned long long)seed);
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, chunk_target, 0);
    int64_t clock[MODEL_SERIES] = {1700000000000, 1700000000000, 1700000000000};
    test_batch b;
    tb_init(&b);
    for (int round = 0; round < rounds; round++) {
        st_batch_reset(&b.batch);
        int points = 1 + (int)(next_random() % 200);
        for (int p = 0; p < points; p++) {
            int s = (int)(next_random() % MODEL_SERIES);
            if (one_slow_series && s == 2 && next_random() % 20 != 0)
                s = (int)(next_random() % 2);
            int64_t ms;
            uint64_t kind = next_random() % 100;
            if (kind < 80 || m.count[s] == 0) {
                clock[s] += 60000;
                ms = clock[s];
            } else if (kind < 90) {
                ms = clock[s] - (int64_t)(next_random() % 200) * 60000; /* may be late */
            } else if (kind < 97) {
                ms = m.ms[s][next_random() % m.count[s]]; /* re-sent, new value */
            } else {
                ms = clock[s] - (int64_t)(next_random() % 50000000) - 1; /* between readings */
            }
            double value = (double)(int64_t)(next_random() % 100000) / 10.0 - 2000.0;
            if (m.count[s] + 1 >= MODEL_MAX)
                continue;
            uint32_t index = tb_series(&b, "pm25", stations[s]);
            tb_point(&b, index, ms, value);
            model_put(&m, s, ms, value);
        }
        int rc = tb_write(store, &b);
        CHECK_INT(rc, JL_OK);
        if (rc != JL_OK)
            fprintf(stderr, "  write failed: %s\n", b.err.message);
        jl_error err;
        if (round % 50 == 49) {
            compare_with_model(store, &m, "before reopen");
            /* Counters kept up to date by each commit equal those recomputed at open. */
            st_stats before, after;
            CHECK_INT(st_store_stats(store, 0, &before, &err), JL_OK);
            st_store_close(store);
            store = open_store(dir, chunk_target, 0);
            compare_with_model(store, &m, "after reopen");
            CHECK_INT(st_store_stats(store, 0, &after, &err), JL_OK);
            CHECK_INT(before.chunks, after.chunks);
            CHECK_INT(before.chunk_bytes, after.chunk_bytes);
            CHECK_INT(before.log_blocks, after.log_blocks);
            CHECK_INT(before.log_bytes, after.log_bytes);
            CHECK_INT(before.readings, after.readings);
        }
    }
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(store, 1, &stats, &err), JL_OK);
    CHECK(stats.chunks > 10);                       /* sealing happened */
    CHECK(stats.log_blocks < (uint64_t)rounds / 2); /* the log was truncated */

    if (log_max_blocks)
        CHECK(stats.log_blocks <= log_max_blocks + 1);
    CHECK_INT(stats.readings, m.count[0] + m.count[1] + m.count[2]);
    tb_destroy(&b);
    st_store_close(store);
    remove_dir(dir);
}

static void test_random_model(void)
{
    log_max_blocks = 0;
    random_model(0, 64, 300);
}

/* With a tiny log limit, the slow series' tail is sealed early again and again; its small
 * chunks are merged into the previous one. Answers must not change. */
static void test_random_model_forced_seals(void)
{
    log_max_blocks = 8;
    random_model(1, 64, 300);
    log_max_blocks = 0;
}

/* Chunks sized by the store (no chunk_target): tails are sealed as the longest prefix that fits
 * whole pages and the rest is written back to the log; answers must not change, across
 * reopens too. */
static void test_random_model_fitted_seals(void)
{
    log_max_blocks = 0;
    random_model(0, 0, 1500);
}

/* Sets the "format" entry of the meta database of a closed store, as an older or newer
 * jialingd would have left it; returns the value found before. */
static uint32_t set_format_version(const char *dir, uint32_t version)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint32_t before = 0;
    open_lmdb(dir, 0, "meta", &env, &txn, &dbi);
    uint8_t bytes[4] = {(uint8_t)version, (uint8_t)(version >> 8), (uint8_t)(version >> 16),
                        (uint8_t)(version >> 24)};
    MDB_val k = {6, "format"}, v;
    if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 4) {
        const uint8_t *old = v.mv_data;
        before = (uint32_t)old[0] | (uint32_t)old[1] << 8 | (uint32_t)old[2] << 16 |
                 (uint32_t)old[3] << 24;
    }
    v.mv_size = 4;
    v.mv_data = bytes;
    CHECK_INT(mdb_put(txn, dbi, &k, &v, 0), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    return before;
}

/* A directory marked format 1 (raw-record log blocks) opens, keeps every reading and is marked
 * 3 on opening for writing; a format newer than this build is refused with a message. */
static void test_format_versions(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, 0);
    test_batch b;
    tb_init(&b);
    uint32_t index = tb_series(&b, "nh3n", "v");
    for (int i = 0; i < 100; i++) /* far below a seal: all of them live in the log */
        tb_point(&b, index, 60000LL * i, i * 0.125);
    CHECK_INT(tb_write(store, &b), JL_OK);
    st_store_close(store);
    CHECK_INT(set_format_version(dir, 1), 6);
    store = open_store(dir, 0, 0);
    int64_t ms[128];
    double values[128];
    size_t n = read_all(store, "nh3n", "v", INT64_MIN, INT64_MAX, ms, values, 128);
    CHECK_INT(n, 100);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(ms[i], 60000LL * (int64_t)i);
        CHECK_DOUBLE_BITS(values[i], (double)i * 0.125);
    }
    st_store_close(store);
    CHECK_INT(set_format_version(dir, 7), 6);
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    st_store *refused = NULL;
    jl_error err;
    CHECK_INT(st_store_open(&options, &refused, &err), JL_ECORRUPT);
    CHECK(strstr(err.message, "unknown format version") != NULL);
    CHECK(refused == NULL);
    tb_destroy(&b);
    remove_dir(dir);
}

/* Reads every reading of metric{station=...} with its flag code (N where a block has none). */
static size_t read_flagged(st_store *store, const char *metric, const char *station, int64_t *ms,
                           double *values, uint8_t *flags, size_t capacity)
{
    st_snapshot *snapshot = NULL;
    st_cursor *cursor = NULL;
    if (!open_series_cursor(store, metric, station, INT64_MIN, INT64_MAX, &snapshot, &cursor))
        return 0;
    jl_error err;
    st_block block;
    size_t n = 0;
    while (st_cursor_next(cursor, &block, &err) == JL_OK) {
        CHECK_INT(st_cursor_decode(cursor, &block, &err), JL_OK);
        jl_flag_mask mask = 0;
        for (size_t i = 0; i < block.count && n < capacity; i++, n++) {
            ms[n] = block.timestamps_ms[i];
            values[n] = block.values[i];
            flags[n] = block.flags ? block.flags[i] : JL_FLAG_N;
            mask |= (jl_flag_mask)(1u << flags[n]);
        }
        CHECK_INT(block.summary.flag_mask, mask); /* the summary knows the block's flags */
    }
    st_cursor_close(cursor);
    st_snapshot_close(snapshot);
    return n;
}

/* The flag the test writes first at reading i: maintenance for 10..19, calibration at 57, fault
 * for 240..249, else normal. */
static uint8_t first_flag(int i)
{
    if (i >= 10 && i < 20)
        return JL_FLAG_M;
    if (i == 57)
        return JL_FLAG_C;
    if (i >= 240 && i < 250)
        return JL_FLAG_D;
    return JL_FLAG_N;
}

/* Flags survive the tail, sealing into chunks (chunks of 100 readings here), a late re-send
 * merged into a sealed chunk (value and flag replaced together), and a restart that replays the
 * write log. */
static void test_flags_round_trip(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 100, 0);
    test_batch b;
    tb_init(&b);
    uint32_t index = tb_series(&b, "nh3n", "f1");
    for (int i = 0; i < 250; i++)
        tb_point_flagged(&b, index, 60000LL * i, i * 0.5, first_flag(i));
    CHECK_INT(tb_write(store, &b), JL_OK);

    /* Re-sends: 15 (sealed, maintenance) becomes normal 99.5, 57 becomes a communication fault;
     * 250..259 are new, entered by hand. */
    st_batch_reset(&b.batch);
    index = tb_series(&b, "nh3n", "f1");
    tb_point_flagged(&b, index, 60000LL * 15, 99.5, JL_FLAG_N);
    tb_point_flagged(&b, index, 60000LL * 57, 57.25, JL_FLAG_B);
    for (int i = 250; i < 260; i++)
        tb_point_flagged(&b, index, 60000LL * i, i * 0.5, JL_FLAG_S);
    CHECK_INT(tb_write(store, &b), JL_OK);
    jl_error err;

    static int64_t ms[300];
    static double values[300];
    static uint8_t flags[300];
    for (int round = 0; round < 2; round++) {
        size_t n = read_flagged(store, "nh3n", "f1", ms, values, flags, 300);
        CHECK_INT(n, 260);
        for (int i = 0; i < 260 && (size_t)i < n; i++) {
            double value = i == 15 ? 99.5 : i == 57 ? 57.25 : i * 0.5;
            uint8_t flag = i == 15    ? JL_FLAG_N
                           : i == 57  ? JL_FLAG_B
                           : i >= 250 ? JL_FLAG_S
                                      : first_flag(i);
            CHECK_INT(ms[i], 60000LL * i);
            CHECK_DOUBLE_BITS(values[i], value);
            CHECK_INT(flags[i], flag);
        }
        st_stats stats;
        CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
        CHECK(stats.sealed_readings > 0 && stats.sealed_readings < 260); /* chunks and tail */
        st_store_close(store);
        store = open_store(dir, 100, 0); /* the second round reads after log replay */
    }
    st_store_close(store);
    tb_destroy(&b);
    remove_dir(dir);
}

int main(void)
{
    RUN(test_format_versions);
    RUN(test_flags_round_trip);
    RUN(test_random_model);
    RUN(test_random_model_forced_seals);
    RUN(test_random_model_fitted_seals);
    return CHECK_DONE();
}
