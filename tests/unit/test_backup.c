/* Tests of storage/backup.c: a backup of a quiet store reads back exactly (sealed chunks, late
 * rewrites and unsealed tails), destinations that are not new or empty are refused without
 * touching them, and a backup taken while a writer thread keeps writing holds one consistent
 * commit: every series has the same whole prefix of the write sequence, between what was
 * acknowledged before the backup and what was submitted by its end. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_fixture.h"

#define T0_MS 1735689600000LL
#define STEP_MS 60000LL

/* ---------- helpers ---------- */

/* Adds series s, bk{station="b<s>"}, to the batch; returns its index. */
static uint32_t add_station(test_batch *b, int s)
{
    char station[16];
    snprintf(station, sizeof station, "b%d", s);
    return tb_series(b, "bk", station);
}

/* The k-th reading of series s: a scrambled value with two decimals, so chunks use the decimal
 * codec but do not compress to nothing. */
static double reading_value(int s, int64_t k)
{
    uint64_t x = (uint64_t)s * 0x9e3779b97f4a7c15ull + (uint64_t)k * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 29;
    return (double)(int64_t)(x % 2000000) / 100.0 - 5000.0;
}

/* Adds readings k in [from_k, to_k) of series [0, series) to batch. */
static void add_readings(test_batch *b, int series, int64_t from_k, int64_t to_k)
{
    for (int s = 0; s < series; s++) {
        uint32_t index = add_station(b, s);
        for (int64_t k = from_k; k < to_k; k++)
            tb_point(b, index, T0_MS + k * STEP_MS, reading_value(s, k));
    }
}

/* Reads every reading of series s into ms/values (up to capacity); returns how many there are,
 * or -1 when the series does not exist. */
static long read_series(st_store *store, int s, int64_t *ms, double *values, size_t capacity)
{
    char station[16];
    snprintf(station, sizeof station, "b%d", s);
    st_snapshot *snapshot = NULL;
    st_cursor *cursor = NULL;
    if (!open_series_cursor(store, "bk", station, JL_MIN_MS, JL_MAX_MS, &snapshot, &cursor))
        return -1;
    jl_error err;
    size_t n = 0;
    st_block block;
    int rc;
    while ((rc = st_cursor_next(cursor, &block, &err)) == JL_OK) {
        CHECK_INT(st_cursor_decode(cursor, &block, &err), JL_OK);
        for (size_t i = 0; i < block.count; i++, n++) {
            if (n < capacity) {
                ms[n] = block.timestamps_ms[i];
                values[n] = block.values[i];
            }
        }
    }
    CHECK_INT(rc, JL_ENOTFOUND);
    st_cursor_close(cursor);
    st_snapshot_close(snapshot);
    return (long)n;
}

/* Checks that series s holds exactly readings 0..count-1 as written by add_readings(), except
 * that reading `rewritten` (if >= 0) holds rewritten_value. Returns 1 when it does. */
static int series_is_prefix(const int64_t *ms, const double *values, long count, int s,
                            long rewritten, double rewritten_value)
{
    for (long k = 0; k < count; k++) {
        double expected = k == rewritten ? rewritten_value : reading_value(s, k);
        if (ms[k] != T0_MS + k * STEP_MS || values[k] != expected) {
            fprintf(stderr, "  series b%d reading %ld: (%lld, %.17g), expected (%lld, %.17g)\n", s,
                    k, (long long)ms[k], values[k], (long long)(T0_MS + k * STEP_MS), expected);
            return 0;
        }
    }
    return 1;
}

static int file_exists(const char *directory, const char *name)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---------- a quiet store ---------- */

#define QUIET_SERIES 5
#define QUIET_MAX 4000

/* Series s gets 1000 + 337 s readings (chunks of 64 plus a tail of 1000 + 337 s mod 64 up to
 * the learned threshold), then reading 5 of every series is rewritten: a late write merged into
 * a sealed chunk. */
static void test_backup_quiet_store(void)
{
    char *dir = make_temp_dir_named("backup");
    st_store *store = open_store(dir, 64, 64u << 20);
    test_batch b;
    tb_init(&b);
    jl_error err;
    for (int s = 0; s < QUIET_SERIES; s++) {
        int64_t n = 1000 + 337 * s;
        for (int64_t k = 0; k < n; k += 100) {
            st_batch_reset(&b.batch);
            uint32_t index = add_station(&b, s);
            for (int64_t j = k; j < k + 100 && j < n; j++)
                tb_point(&b, index, T0_MS + j * STEP_MS, reading_value(s, j));
            CHECK_INT(tb_write(store, &b), JL_OK);
        }
    }
    st_batch_reset(&b.batch);
    for (int s = 0; s < QUIET_SERIES; s++)
        tb_point(&b, add_station(&b, s), T0_MS + 5 * STEP_MS, -1.0 - s);
    CHECK_INT(tb_write(store, &b), JL_OK);
    st_stats original;
    CHECK_INT(st_store_stats(store, 0, &original, &err), JL_OK);
    CHECK(original.chunks > 50);                         /* sealed chunks exist */
    CHECK(original.sealed_readings < original.readings); /* and unsealed tails */
    CHECK_INT(original.readings, 5 * 1000 + 337 * 10);   /* 1000 + 1337 + ... + 2348 */

    char copy[512], empty[512], occupied[512], orphan[512];
    snprintf(copy, sizeof copy, "%s-copy", dir);
    snprintf(empty, sizeof empty, "%s-empty", dir);
    snprintf(occupied, sizeof occupied, "%s/data-again", dir);
    snprintf(orphan, sizeof orphan, "%s-missing/sub", dir);
    CHECK_INT(st_store_backup(store, copy, &err), JL_OK);
    CHECK(file_exists(copy, "data.mdb"));
    /* A second backup into the same, now non-empty, directory is refused and leaves it alone. */
    struct stat before, after;
    char copy_file[600];
    snprintf(copy_file, sizeof copy_file, "%s/data.mdb", copy);
    CHECK_INT(stat(copy_file, &before), 0);
    CHECK_INT(st_store_backup(store, copy, &err), JL_EINVAL);
    CHECK(strstr(err.message, "not empty") != NULL);
    CHECK_INT(stat(copy_file, &after), 0);
    CHECK_INT(after.st_size, before.st_size);
    CHECK_INT(after.st_mtime, before.st_mtime);
    /* The live data directory itself is never a valid destination. */
    CHECK_INT(st_store_backup(store, dir, &err), JL_EINVAL);
    /* An existing empty directory is accepted; a missing parent is an error. */
    CHECK_INT(mkdir(empty, 0755), 0);
    CHECK_INT(st_store_backup(store, empty, &err), JL_OK);
    CHECK(st_store_backup(store, orphan, &err) != JL_OK);
    CHECK_INT(mkdir(occupied, 0755), 0); /* inside the data directory: fine, it is empty */
    CHECK_INT(st_store_backup(store, occupied, &err), JL_OK);

    static int64_t ms[QUIET_MAX], copy_ms[QUIET_MAX];
    static double values[QUIET_MAX], copy_values[QUIET_MAX];
    const char *copies[2] = {copy, empty};
    for (int c = 0; c < 2; c++) {
        st_store *restored = open_store(copies[c], 64, 64u << 20);
        st_stats stats;
        CHECK_INT(st_store_stats(restored, 0, &stats, &err), JL_OK);
        CHECK_INT(stats.series, QUIET_SERIES);
        CHECK_INT(stats.readings, original.readings);
        CHECK_INT(stats.sealed_readings, original.sealed_readings);
        CHECK_INT(stats.chunks, original.chunks);
        CHECK(stats.file_bytes <= original.file_bytes); /* compacted */
        for (int s = 0; s < QUIET_SERIES; s++) {
            long n = read_series(store, s, ms, values, QUIET_MAX);
            long m = read_series(restored, s, copy_ms, copy_values, QUIET_MAX);
            CHECK_INT(n, 1000 + 337 * s);
            CHECK_INT(m, n);
            if (m == n && n > 0) {
                CHECK(series_is_prefix(copy_ms, copy_values, m, s, 5, -1.0 - s));
                CHECK(memcmp(ms, copy_ms, (size_t)n * sizeof *ms) == 0);
                CHECK(memcmp(values, copy_values, (size_t)n * sizeof *values) == 0);
            }
        }
        st_store_close(restored);
    }
    tb_destroy(&b);
    st_store_close(store);
    remove_dir(strdup(copy));
    remove_dir(strdup(empty));
    remove_dir(dir);
}

/* ---------- a backup while a writer keeps writing ---------- */

#define BUSY_SERIES 40
#define BUSY_PREFILL 20000 /* readings per series before the writer starts */
#define BUSY_STEP 7        /* readings per series in each of the writer's batches */
#define BUSY_MAX 400000

typedef struct busy_writer {
    st_store *store;
    atomic_int stop;
    atomic_llong acknowledged; /* readings per series whose st_write returned JL_OK */
    atomic_llong submitted;    /* readings per series handed to st_write so far */
    int failures;
} busy_writer;

static void *busy_writer_main(void *argument)
{
    busy_writer *w = argument;
    test_batch b;
    tb_init(&b);
    int64_t k = atomic_load(&w->acknowledged);
    while (!atomic_load(&w->stop) && k + BUSY_STEP <= BUSY_MAX) {
        st_batch_reset(&b.batch);
        add_readings(&b, BUSY_SERIES, k, k + BUSY_STEP);
        atomic_store(&w->submitted, k + BUSY_STEP);
        if (tb_write(w->store, &b) != JL_OK) {
            fprintf(stderr, "  writer: %s\n", b.err.message);
            w->failures++;
            break;
        }
        k += BUSY_STEP;
        atomic_store(&w->acknowledged, k);
    }
    tb_destroy(&b);
    return NULL;
}

/* Reads every series of the copy and checks they all hold the same prefix, of a length in
 * [low, high]; returns that length (or -1). */
static long check_copy(const char *copy, long low, long high, int64_t *ms, double *values)
{
    st_store *restored = open_store(copy, 64, 64u << 20);
    long common = -1;
    for (int s = 0; s < BUSY_SERIES; s++) {
        long n = read_series(restored, s, ms, values, BUSY_MAX);
        CHECK(n >= low && n <= high);
        if (s == 0)
            common = n;
        CHECK_INT(n, common); /* one commit: every batch is in for all series or for none */
        if (n > 0 && n <= BUSY_MAX)
            CHECK(series_is_prefix(ms, values, n, s, -1, 0));
    }
    st_stats stats;
    jl_error err;
    CHECK_INT(st_store_stats(restored, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.series, BUSY_SERIES);
    CHECK_INT(stats.readings, (uint64_t)common * BUSY_SERIES);
    st_store_close(restored);
    return common;
}

static void test_backup_while_writing(void)
{
    char *dir = make_temp_dir_named("backup");
    st_store *store = open_store(dir, 64, 64u << 20);
    test_batch b;
    tb_init(&b);
    jl_error err;
    for (int64_t k = 0; k < BUSY_PREFILL; k += 1000) {
        st_batch_reset(&b.batch);
        add_readings(&b, BUSY_SERIES, k, k + 1000);
        CHECK_INT(tb_write(store, &b), JL_OK);
    }
    busy_writer w;
    memset(&w, 0, sizeof w);
    w.store = store;
    atomic_store(&w.acknowledged, BUSY_PREFILL);
    atomic_store(&w.submitted, BUSY_PREFILL);
    pthread_t thread;
    CHECK_INT(pthread_create(&thread, NULL, busy_writer_main, &w), 0);
    while (atomic_load(&w.acknowledged) < BUSY_PREFILL + 20 * BUSY_STEP)
        usleep(1000); /* the writer is running */

    static int64_t ms[BUSY_MAX];
    static double values[BUSY_MAX];
    char copy[512], final_copy[512];
    snprintf(copy, sizeof copy, "%s-live", dir);
    snprintf(final_copy, sizeof final_copy, "%s-final", dir);
    long low = (long)atomic_load(&w.acknowledged);
    CHECK_INT(st_store_backup(store, copy, &err), JL_OK);
    long high = (long)atomic_load(&w.submitted);
    long during = (long)atomic_load(&w.acknowledged) - low;
    usleep(20000); /* the writer goes on after the backup */
    atomic_store(&w.stop, 1);
    pthread_join(thread, NULL);
    CHECK_INT(w.failures, 0);
    long final_count = (long)atomic_load(&w.acknowledged);
    long got = check_copy(copy, low, high, ms, values);
    printf("  backup while writing: copy holds %ld readings per series (acknowledged "
           "%ld before, submitted %ld after, %ld acknowledged during; %ld at the end)\n",
           got, low, high, during, final_count);
    CHECK(final_count > high); /* writes went on after the backup */

    /* With the writer stopped, a backup equals the store exactly. */
    CHECK_INT(st_store_backup(store, final_copy, &err), JL_OK);
    CHECK_INT(check_copy(final_copy, final_count, final_count, ms, values), final_count);
    tb_destroy(&b);
    st_store_close(store);
    remove_dir(strdup(copy));
    remove_dir(strdup(final_copy));
    remove_dir(dir);
}

int main(void)
{
    RUN(test_backup_quiet_store);
    RUN(test_backup_while_writing);
    return CHECK_DONE();
}
