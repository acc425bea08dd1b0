/* Tests of storage/writer.c on real LMDB directories: group commit with one bad request among
 * good ones, refusal of invalid batches, map growth, a store that cannot grow refusing writes
 * without losing acknowledged ones, and writers racing readers (snapshots and cursors from several
 * threads) with exact expected results. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_fixture.h"

typedef struct writer_job {
    st_store *store;
    st_batch *batch;
    int result;
} writer_job;

static void *write_job(void *argument)
{
    writer_job *job = argument;
    jl_error err;
    job->result = st_write(job->store, job->batch, &err);
    return NULL;
}

/* Requests queued while the writer is busy are committed together; one that fails must not
 * fail the others. A large batch keeps the writer busy while a valid and an invalid batch (a
 * series key the catalog cannot parse) queue up behind it. */
static void test_group_isolation(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, 0);
    test_batch big, good, bad;
    tb_init(&big);
    tb_init(&good);
    tb_init(&bad);
    uint32_t index;
    for (int s = 0; s < 200; s++) {
        char station[16];
        snprintf(station, sizeof station, "b%d", s);
        index = tb_series(&big, "pm10", station);
        for (int i = 0; i < 5000; i++)
            tb_point(&big, index, i * 1000, i * 0.5);
    }
    index = tb_series(&good, "pm10", "good");
    tb_point(&good, index, 1000, 1.5);
    CHECK_INT(st_batch_series(&bad.batch, "bad name{", 9, &index), JL_OK);
    tb_point(&bad, index, 1000, 2.5);
    writer_job jobs[3] = {
        {store, &big.batch, -1}, {store, &good.batch, -1}, {store, &bad.batch, -1}};
    pthread_t threads[3];
    pthread_create(&threads[0], NULL, write_job, &jobs[0]);
    usleep(2000);
    pthread_create(&threads[1], NULL, write_job, &jobs[1]);
    pthread_create(&threads[2], NULL, write_job, &jobs[2]);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    CHECK_INT(jobs[0].result, JL_OK);
    CHECK_INT(jobs[1].result, JL_OK);
    CHECK_INT(jobs[2].result, JL_EINVAL);
    int64_t ms[4];
    double values[4];
    CHECK_INT(read_all(store, "pm10", "good", JL_MIN_MS, JL_MAX_MS, ms, values, 4), 1);
    CHECK_DOUBLE_BITS(values[0], 1.5);
    tb_destroy(&big);
    tb_destroy(&good);
    tb_destroy(&bad);
    st_store_close(store);
    remove_dir(dir);
}

/* A batch with one invalid point is refused whole; nothing of it is stored. */
static void test_invalid_batch_refused(void)
{
    store_fixture f;
    sf_open(&f, 0, 0);
    uint32_t index = tb_series(&f.b, "o3", "z");
    tb_point(&f.b, index, 1000, 1.0);
    tb_point(&f.b, index, 2000, NAN);
    CHECK_INT(tb_write(f.store, &f.b), JL_EINVAL);
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(f.store, 1, &stats, &err), JL_OK);
    CHECK_INT(stats.series, 0);
    CHECK_INT(stats.readings, 0);
    sf_close(&f);
}

/* A store opened with a 1 MiB map takes far more than that without a restart. */
static void test_map_growth(void)
{
    store_fixture f;
    sf_open(&f, 2048, 1 << 20);
    char station[32];
    uint64_t seed = 7;
    rng_state = seed;
    size_t total = 0;
    for (int round = 0; round < 20; round++) {
        st_batch_reset(&f.b.batch);
        for (int s = 0; s < 50; s++) {
            snprintf(station, sizeof station, "m%d", s);
            uint32_t index = tb_series(&f.b, "cod", station);
            for (int i = 0; i < 500; i++) {
                /* random doubles compress badly: the map must grow */
                double value = (double)(next_random() >> 11) / 9007199254740992.0;
                tb_point(&f.b, index, (int64_t)(round * 500 + i) * 1000, value);
            }
        }
        int rc = tb_write(f.store, &f.b);
        CHECK_INT(rc, JL_OK);
        if (rc != JL_OK) {
            fprintf(stderr, "  write failed: %s\n", f.b.err.message);
            break;
        }
        total += st_batch_point_count(&f.b.batch);
    }
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(f.store, 1, &stats, &err), JL_OK);
    CHECK(stats.map_bytes > (1u << 20));
    CHECK_INT(stats.readings, total);
    sf_close(&f);
}

/* A store that cannot grow any more refuses writes with JL_EFULL, stores nothing of the refused
 * batch, keeps everything acknowledged, and still answers reads. */
static void test_store_full(void)
{
    char *dir = make_temp_dir();
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.initial_map_bytes = 1 << 20;
    options.max_map_bytes = 4 << 20;
    st_store *store = NULL;
    jl_error err;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    test_batch b;
    tb_init(&b);
    rng_state = 99;
    uint64_t acknowledged = 0;
    int rc = JL_OK;
    int round = 0;
    for (; round < 400 && rc == JL_OK; round++) {
        st_batch_reset(&b.batch);
        uint32_t index = tb_series(&b, "cod", "full");
        for (int i = 0; i < 2000; i++) {
            double value = (double)(next_random() >> 11) / 9007199254740992.0;
            tb_point(&b, index, (int64_t)(round * 2000 + i), value);
        }
        rc = tb_write(store, &b);
        if (rc == JL_OK)
            acknowledged += st_batch_point_count(&b.batch);
    }
    CHECK_INT(rc, JL_EFULL);
    CHECK(acknowledged > 0);
    int64_t *ms = malloc(sizeof(int64_t) * 900000);
    double *values = malloc(sizeof(double) * 900000);
    size_t n = read_all(store, "cod", "full", JL_MIN_MS, JL_MAX_MS, ms, values, 900000);
    CHECK_INT(n, acknowledged);
    if (n > 0)
        CHECK_INT(ms[n - 1], (int64_t)acknowledged - 1);
    /* After a restart (with room to grow) the same readings are there and writes work again. */
    st_store_close(store);
    options.max_map_bytes = 64 << 20;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    CHECK_INT(read_all(store, "cod", "full", JL_MIN_MS, JL_MAX_MS, ms, values, 900000),
              acknowledged);
    CHECK_INT(tb_write(store, &b), JL_OK);
    free(ms);
    free(values);
    tb_destroy(&b);
    st_store_close(store);
    remove_dir(dir);
}

/* ---------- concurrent writers and readers (also built with ThreadSanitizer: make test-tsan) */

#define CONC_WRITERS 3
#define CONC_READERS 3
#define CONC_REQUESTS 60
#define CONC_PER_REQUEST 500
#define CONC_TOTAL (CONC_REQUESTS * CONC_PER_REQUEST)
#define CONC_BASE_MS 1700000000000LL

/* The value of reading j of writer k's series: a random-looking double (so chunks compress
 * badly and the 1 MiB map must grow while readers hold snapshots), computed from (k, j) alone
 * so that readers know every expected value. */
static double conc_value(int k, int64_t j)
{
    uint64_t x = (uint64_t)k * 0x9e3779b97f4a7c15ull + (uint64_t)j * 0xbf58476d1ce4e5b9ull + 1;
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    return (double)(x >> 11) / 9007199254740992.0;
}

typedef struct conc_shared {
    st_store *store;
    atomic_int writers_running;
} conc_shared;

typedef struct conc_writer {
    conc_shared *shared;
    int k;
    int failures; /* st_write calls that did not return JL_OK */
} conc_writer;

/* Writes CONC_REQUESTS requests of CONC_PER_REQUEST consecutive readings (1 s apart) of series
 * conc{station="w<k>"}; each request after the first also re-sends, unchanged, the first reading
 * of the previous one (late once it is sealed, so merges run beside readers too). */
static void *conc_writer_main(void *argument)
{
    conc_writer *w = argument;
    jl_buf key;
    jl_buf_init(&key);
    char station[8];
    snprintf(station, sizeof station, "w%d", w->k);
    series_key(&key, "conc", station);
    st_batch batch;
    st_batch_init(&batch);
    for (int r = 0; r < CONC_REQUESTS; r++) {
        st_batch_reset(&batch);
        uint32_t index;
        int rc = st_batch_series(&batch, key.data, key.len, &index);
        for (int64_t j = (int64_t)r * CONC_PER_REQUEST;
             rc == JL_OK && j < (r + 1) * CONC_PER_REQUEST; j++)
            rc = st_batch_point(&batch, index, CONC_BASE_MS + 1000 * j, conc_value(w->k, j));
        if (rc == JL_OK && r > 0) {
            int64_t j = (int64_t)(r - 1) * CONC_PER_REQUEST;
            rc = st_batch_point(&batch, index, CONC_BASE_MS + 1000 * j, conc_value(w->k, j));
        }
        jl_error err;
        if (rc != JL_OK || st_write(w->shared->store, &batch, &err) != JL_OK)
            w->failures++;
    }
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    atomic_fetch_sub(&w->shared->writers_running, 1);
    return NULL;
}

typedef struct conc_reader {
    conc_shared *shared;
    int passes;     /* snapshots read */
    int failures;   /* calls that failed or readings that differ from the expected ones */
    int not_atomic; /* series whose count was not a whole number of requests */
    size_t last_count[CONC_WRITERS]; /* readings seen per writer in the previous pass */
    int went_back;                   /* a later snapshot saw fewer readings than an earlier one */
} conc_reader;

/* Reads series `index` of the snapshot (writer k) whole and checks every reading against
 * conc_value; then reads a range [from, to) of it and checks its count. Returns the readings. */
static size_t conc_read_series(conc_reader *r, st_snapshot *snapshot, size_t index, int k)
{
    st_series_info info;
    if (st_snapshot_series_info(snapshot, index, &info) != JL_OK) {
        r->failures++;
        return 0;
    }
    st_cursor *cursor = NULL;
    jl_error err;
    if (st_cursor_open(snapshot, index, INT64_MIN, INT64_MAX, &cursor, &err) != JL_OK) {
        r->failures++;
        return 0;
    }
    size_t n = 0;
    st_block block;
    int rc;
    while ((rc = st_cursor_next(cursor, &block, &err)) == JL_OK) {
        if (st_cursor_decode(cursor, &block, &err) != JL_OK) {
            r->failures++;
            break;
        }
        for (size_t i = 0; i < block.count; i++, n++)
            if (block.timestamps_ms[i] != CONC_BASE_MS + 1000 * (int64_t)n ||
                block.values[i] != conc_value(k, (int64_t)n))
                r->failures++;
    }
    if (rc != JL_ENOTFOUND && rc != JL_OK)
        r->failures++;
    st_cursor_close(cursor);
    if (n != info.count)
        r->failures++;
    /* Readings [1000, 3000) of the series, those of them the snapshot holds. */
    size_t expected = n <= 1000 ? 0 : (n < 3000 ? n - 1000 : 2000), in_range = 0;
    if (st_cursor_open(snapshot, index, CONC_BASE_MS + 1000 * 1000, CONC_BASE_MS + 1000 * 3000,
                       &cursor, &err) != JL_OK) {
        r->failures++;
        return n;
    }
    while (st_cursor_next(cursor, &block, &err) == JL_OK &&
           st_cursor_decode(cursor, &block, &err) == JL_OK)
        for (size_t i = 0; i < block.count; i++)
            in_range += block.timestamps_ms[i] >= CONC_BASE_MS + 1000 * 1000 &&
                        block.timestamps_ms[i] < CONC_BASE_MS + 1000 * 3000;
    st_cursor_close(cursor);
    if (in_range != expected)
        r->failures++;
    return n;
}

/* Until the writers are done (and once more after), selects the writers' series, opens a
 * snapshot and reads every series whole. */
static void *conc_reader_main(void *argument)
{
    conc_reader *r = argument;
    st_matcher matcher = {"__name__", "conc", 0};
    for (int last = 0; !last;) {
        last = atomic_load(&r->shared->writers_running) == 0;
        uint64_t *ids = NULL;
        size_t count = 0;
        jl_error err;
        st_snapshot *snapshot = NULL;
        if (st_select(r->shared->store, &matcher, 1, 0, &ids, &count, &err) != JL_OK ||
            st_snapshot_open(r->shared->store, ids, count, &snapshot, &err) != JL_OK) {
            r->failures++;
            free(ids);
            continue;
        }
        for (size_t i = 0; i < st_snapshot_series_count(snapshot); i++) {
            st_series_info info;
            if (st_snapshot_series_info(snapshot, i, &info) != JL_OK) {
                r->failures++;
                continue;
            }
            int k = info.key[info.key_len - 3] - '0'; /* conc{station="w<k>"} */
            if (k < 0 || k >= CONC_WRITERS) {
                r->failures++;
                continue;
            }
            size_t n = conc_read_series(r, snapshot, i, k);
            /* A batch is atomic: a count is a whole number of requests, plus nothing (the
             * re-sent reading was stored before). */
            r->not_atomic += n % CONC_PER_REQUEST != 0;
            r->went_back += n < r->last_count[k];
            r->last_count[k] = n;
        }
        st_snapshot_close(snapshot);
        free(ids);
        r->passes++;
    }
    return NULL;
}

/* Three writer threads and three reader threads on one store with a 1 MiB map and chunks of 64
 * readings: every snapshot a reader takes holds, for each series, a whole number of requests
 * whose every reading is exactly the one written, never fewer than an earlier snapshot showed;
 * at the end each series holds its 30,000 readings and the map grew. */
static void test_concurrent_writes_and_reads(void)
{
    char *dir = make_temp_dir();
    conc_shared shared;
    shared.store = open_store(dir, 64, 1 << 20);
    atomic_init(&shared.writers_running, CONC_WRITERS);
    conc_writer writers[CONC_WRITERS];
    conc_reader readers[CONC_READERS];
    pthread_t writer_threads[CONC_WRITERS], reader_threads[CONC_READERS];
    memset(readers, 0, sizeof readers);
    for (int i = 0; i < CONC_READERS; i++) {
        readers[i].shared = &shared;
        CHECK_INT(pthread_create(&reader_threads[i], NULL, conc_reader_main, &readers[i]), 0);
    }
    for (int k = 0; k < CONC_WRITERS; k++) {
        writers[k] = (conc_writer){.shared = &shared, .k = k, .failures = 0};
        CHECK_INT(pthread_create(&writer_threads[k], NULL, conc_writer_main, &writers[k]), 0);
    }
    for (int k = 0; k < CONC_WRITERS; k++) {
        pthread_join(writer_threads[k], NULL);
        CHECK_INT(writers[k].failures, 0);
    }
    int passes = 0;
    for (int i = 0; i < CONC_READERS; i++) {
        pthread_join(reader_threads[i], NULL);
        CHECK_INT(readers[i].failures, 0);
        CHECK_INT(readers[i].not_atomic, 0);
        CHECK_INT(readers[i].went_back, 0);
        /* The last pass began after every write returned: it saw everything. */
        for (int k = 0; k < CONC_WRITERS; k++)
            CHECK_INT(readers[i].last_count[k], CONC_TOTAL);
        passes += readers[i].passes;
    }
    printf("  %d snapshots read while writing\n", passes);
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(shared.store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.series, CONC_WRITERS);
    CHECK_INT(stats.readings, CONC_WRITERS * CONC_TOTAL);
    CHECK(stats.map_bytes > (1u << 20));
    st_store_close(shared.store);
    remove_dir(dir);
}

int main(void)
{
    RUN(test_invalid_batch_refused);
    RUN(test_group_isolation);
    RUN(test_map_growth);
    RUN(test_store_full);
    RUN(test_concurrent_writes_and_reads);
    return CHECK_DONE();
}
