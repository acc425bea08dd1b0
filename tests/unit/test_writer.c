/* Tests of storage/writer.c on real LMDB directories: group commit with one bad request among
 * good ones, refusal of invalid batches, map growth, a store that cannot grow refusing writes
 * without losing acknowledged ones. */
#include <math.h>
#include <pthread.h>
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
    st_batch big, good, bad;
    st_batch_init(&big);
    st_batch_init(&good);
    st_batch_init(&bad);
    jl_buf key;
    jl_buf_init(&key);
    uint32_t index;
    for (int s = 0; s < 200; s++) {
        char station[16];
        snprintf(station, sizeof station, "b%d", s);
        series_key(&key, "pm10", station);
        CHECK_INT(st_batch_series(&big, key.data, key.len, &index), JL_OK);
        for (int i = 0; i < 5000; i++)
            CHECK_INT(st_batch_point(&big, index, i * 1000, i * 0.5), JL_OK);
    }
    series_key(&key, "pm10", "good");
    CHECK_INT(st_batch_series(&good, key.data, key.len, &index), JL_OK);
    CHECK_INT(st_batch_point(&good, index, 1000, 1.5), JL_OK);
    CHECK_INT(st_batch_series(&bad, "bad name{", 9, &index), JL_OK);
    CHECK_INT(st_batch_point(&bad, index, 1000, 2.5), JL_OK);
    writer_job jobs[3] = {{store, &big, -1}, {store, &good, -1}, {store, &bad, -1}};
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
    st_batch_destroy(&big);
    st_batch_destroy(&good);
    st_batch_destroy(&bad);
    jl_buf_destroy(&key);
    st_store_close(store);
    remove_dir(dir);
}

/* A batch with one invalid point is refused whole; nothing of it is stored. */
static void test_invalid_batch_refused(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, 0);
    st_batch batch;
    st_batch_init(&batch);
    jl_buf key;
    jl_buf_init(&key);
    series_key(&key, "o3", "z");
    uint32_t index;
    CHECK_INT(st_batch_series(&batch, key.data, key.len, &index), JL_OK);
    CHECK_INT(st_batch_point(&batch, index, 1000, 1.0), JL_OK);
    CHECK_INT(st_batch_point(&batch, index, 2000, NAN), JL_OK);
    jl_error err;
    CHECK_INT(st_write(store, &batch, &err), JL_EINVAL);
    st_stats stats;
    CHECK_INT(st_store_stats(store, 1, &stats, &err), JL_OK);
    CHECK_INT(stats.series, 0);
    CHECK_INT(stats.readings, 0);
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    st_store_close(store);
    remove_dir(dir);
}

/* A store opened with a 1 MiB map takes far more than that without a restart. */
static void test_map_growth(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 2048, 1 << 20);
    jl_buf key;
    jl_buf_init(&key);
    st_batch batch;
    st_batch_init(&batch);
    char station[32];
    uint64_t seed = 7;
    rng_state = seed;
    size_t total = 0;
    for (int round = 0; round < 20; round++) {
        st_batch_reset(&batch);
        for (int s = 0; s < 50; s++) {
            snprintf(station, sizeof station, "m%d", s);
            series_key(&key, "cod", station);
            uint32_t index;
            CHECK_INT(st_batch_series(&batch, key.data, key.len, &index), JL_OK);
            for (int i = 0; i < 500; i++) {
                /* random doubles compress badly: the map must grow */
                double value = (double)(next_random() >> 11) / 9007199254740992.0;
                CHECK_INT(st_batch_point(&batch, index, (int64_t)(round * 500 + i) * 1000, value),
                          JL_OK);
            }
        }
        jl_error err;
        int rc = st_write(store, &batch, &err);
        CHECK_INT(rc, JL_OK);
        if (rc != JL_OK) {
            fprintf(stderr, "  write failed: %s\n", err.message);
            break;
        }
        total += st_batch_point_count(&batch);
    }
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(store, 1, &stats, &err), JL_OK);
    CHECK(stats.map_bytes > (1u << 20));
    CHECK_INT(stats.readings, total);
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    st_store_close(store);
    remove_dir(dir);
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
    jl_buf key;
    jl_buf_init(&key);
    st_batch batch;
    st_batch_init(&batch);
    rng_state = 99;
    uint64_t acknowledged = 0;
    int rc = JL_OK;
    int round = 0;
    for (; round < 400 && rc == JL_OK; round++) {
        st_batch_reset(&batch);
        series_key(&key, "cod", "full");
        uint32_t index;
        CHECK_INT(st_batch_series(&batch, key.data, key.len, &index), JL_OK);
        for (int i = 0; i < 2000; i++) {
            double value = (double)(next_random() >> 11) / 9007199254740992.0;
            CHECK_INT(st_batch_point(&batch, index, (int64_t)(round * 2000 + i), value), JL_OK);
        }
        rc = st_write(store, &batch, &err);
        if (rc == JL_OK)
            acknowledged += st_batch_point_count(&batch);
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
    CHECK_INT(st_write(store, &batch, &err), JL_OK);
    free(ms);
    free(values);
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    st_store_close(store);
    remove_dir(dir);
}

int main(void)
{
    RUN(test_invalid_batch_refused);
    RUN(test_group_isolation);
    RUN(test_map_growth);
    RUN(test_store_full);
    return CHECK_DONE();
}
