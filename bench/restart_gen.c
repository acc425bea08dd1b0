/* Store generator of bench/restart.sh: writes a data directory with many series and many chunks
 * straight through st_write (no HTTP, no files of line protocol), so that restart can be timed
 * on stores whose chunk count is far above their series count. Uses the public API only, so the
 * same source builds against the library of an older commit (the "before" figure).
 *
 *   restart_gen DIR SERIES CHUNKS_PER_SERIES CHUNK_TARGET [TAIL [walk|noise]]
 *
 * Series pm25{station=sNNNNNNN}, a reading every 60 s from 2025-01-01Z, values a random walk in
 * tenths (walk, the default: ~2 bytes a reading) or random doubles (noise: the float codec, 8
 * bytes a reading, so that 480 readings fill one 4 KiB overflow page as full-size chunks do); each round gives every series CHUNK_TARGET readings, which the store seals as one chunk
 * (chunk_target = CHUNK_TARGET), and a last round of TAIL readings per series (default
 * CHUNK_TARGET / 2, below the seal threshold) stays in the write log (tails to replay).
 * Prints readings, chunks expected and seconds to stderr. Exit status 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jialing/serieskey.h"
#include "jialing/store.h"

#define BATCH_READINGS 200000u

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 7) {
        fprintf(stderr,
                "usage: restart_gen DIR SERIES CHUNKS_PER_SERIES CHUNK_TARGET [TAIL [walk|noise]]\n");
        return 2;
    }
    uint32_t series = (uint32_t)strtoul(argv[2], NULL, 10);
    uint32_t rounds = (uint32_t)strtoul(argv[3], NULL, 10);
    uint32_t target = (uint32_t)strtoul(argv[4], NULL, 10);
    uint32_t tail = argc >= 6 ? (uint32_t)strtoul(argv[5], NULL, 10) : target / 2;
    int noise = argc == 7 && strcmp(argv[6], "noise") == 0;
    if (series == 0 || target == 0 || target > BATCH_READINGS || tail >= target) {
        fprintf(stderr, "restart_gen: bad arguments\n");
        return 2;
    }
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = argv[1];
    options.chunk_target = target;
    options.log_max_blocks = 1u << 30; /* seals come from chunk_target alone */
    st_store *store = NULL;
    jl_error err;
    if (st_store_open(&options, &store, &err) != JL_OK) {
        fprintf(stderr, "restart_gen: %s\n", err.message);
        return 1;
    }
    double *level = calloc(series, sizeof *level);
    char **keys = calloc(series, sizeof *keys);
    size_t *key_lengths = calloc(series, sizeof *key_lengths);
    jl_buf key;
    jl_buf_init(&key);
    for (uint32_t s = 0; s < series; s++) {
        char station[32];
        snprintf(station, sizeof station, "s%07u", s);
        sk_tag tag = {{"station", 7}, {station, strlen(station)}};
        key.len = 0;
        if (sk_build((sk_text){"pm25", 4}, &tag, 1, &key, &err) != JL_OK)
            return 1;
        keys[s] = malloc(key.len);
        memcpy(keys[s], key.data, key.len);
        key_lengths[s] = key.len;
        level[s] = 300 + (double)(next_random() % 400);
    }
    st_batch batch;
    st_batch_init(&batch);
    double start = now_seconds();
    uint64_t written = 0;
    const int64_t t0 = 1735689600000LL, step = 60000;
    /* rounds full rounds (one chunk each), then a round of tail readings left in the log. */
    for (uint32_t round = 0; round <= rounds; round++) {
        uint32_t per_series = round < rounds ? target : tail;
        if (per_series == 0)
            break;
        uint32_t per_batch = BATCH_READINGS / per_series;
        for (uint32_t first = 0; first < series; first += per_batch) {
            st_batch_reset(&batch);
            uint32_t last = first + per_batch < series ? first + per_batch : series;
            for (uint32_t s = first; s < last; s++) {
                uint32_t index;
                if (st_batch_series(&batch, keys[s], key_lengths[s], &index) != JL_OK)
                    return 1;
                for (uint32_t i = 0; i < per_series; i++) {
                    int64_t n = (int64_t)round * target + i;
                    level[s] += (double)((int64_t)(next_random() % 7) - 3);
                    double value = noise ? (double)(next_random() >> 11) / 9007199254740992.0
                                         : level[s] / 10.0;
                    if (st_batch_point(&batch, index, t0 + step * n, value) != JL_OK)
                        return 1;
                }
            }
            if (st_write(store, &batch, &err) != JL_OK) {
                fprintf(stderr, "restart_gen: %s\n", err.message);
                return 1;
            }
            written += st_batch_point_count(&batch);
        }
        if (round % 8 == 0 || round == rounds)
            fprintf(stderr, "restart_gen: round %u of %u, %llu readings, %.0f s\n", round, rounds,
                    (unsigned long long)written, now_seconds() - start);
    }
    st_stats stats;
    if (st_store_stats(store, 0, &stats, &err) == JL_OK)
        fprintf(stderr,
                "restart_gen: %llu series, %llu readings, %llu chunks (%llu bytes), %llu log "
                "blocks, file %llu bytes, %.1f s\n",
                (unsigned long long)stats.series, (unsigned long long)stats.readings,
                (unsigned long long)stats.chunks, (unsigned long long)stats.chunk_bytes,
                (unsigned long long)stats.log_blocks, (unsigned long long)stats.file_bytes,
                now_seconds() - start);
    st_store_close(store);
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    for (uint32_t s = 0; s < series; s++)
        free(keys[s]);
    free(keys);
    free(key_lengths);
    free(level);
    return 0;
}
