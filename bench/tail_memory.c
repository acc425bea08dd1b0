/* bench-tail-memory: what the in-memory tails (unsealed readings) cost per active series and per
 * unsealed reading. It opens a fresh store, writes --series N series x --readings K readings
 * each through st_write() (rounds of one reading per series, 60 s apart, 1-decimal random walk;
 * K below the seal threshold, so nothing is sealed) and reads VmRSS / VmHWM from
 * /proc/self/status: after open, after the series exist (first round) and after the last round.
 * Bytes per unsealed reading = (RSS after the last round - RSS after the first round) /
 * (N x (K - 1)); the first round's growth over open, per series, is the cost of an active
 * series (catalog, series struct, first tail buffer). The write log lives in LMDB's map, which
 * counts as RssFile: the anonymous part (RssAnon) is reported separately, as it is what the
 * tails take.
 *
 *   bench-tail-memory [--series 100000] [--readings 500] [--dir /tmp/jl-tail-memory]
 *                     [--batch 100000] [--seal-off 1]
 * --seal-off 1 (default) sets chunk_target above K and log_max_blocks high, so that every
 * reading stays in a tail. Output ends with one key=value line. */
#include "jialing/common.h"
#include "jialing/serieskey.h"
#include "jialing/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct rss {
    long rss_kb, hwm_kb, anon_kb, file_kb;
} rss;

static rss read_rss(void)
{
    rss r = {0, 0, 0, 0};
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return r;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", &r.rss_kb);
        sscanf(line, "VmHWM: %ld", &r.hwm_kb);
        sscanf(line, "RssAnon: %ld", &r.anon_kb);
        sscanf(line, "RssFile: %ld", &r.file_kb);
    }
    fclose(f);
    return r;
}

static void print_rss(const char *when, rss r)
{
    printf("%-12s VmRSS %8.1f MiB  VmHWM %8.1f MiB  RssAnon %8.1f MiB  RssFile %8.1f MiB\n", when,
           r.rss_kb / 1024.0, r.hwm_kb / 1024.0, r.anon_kb / 1024.0, r.file_kb / 1024.0);
}

int main(int argc, char **argv)
{
    uint32_t series = 100000, readings = 500, batch_points = 100000;
    int seal_off = 1;
    const char *dir = "/tmp/jl-tail-memory";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--series") == 0)
            series = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--readings") == 0)
            readings = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--batch") == 0)
            batch_points = (uint32_t)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--seal-off") == 0)
            seal_off = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (series == 0 || readings < 2 || batch_points == 0) {
        fprintf(stderr, "--series >= 1, --readings >= 2, --batch >= 1\n");
        return 2;
    }
    char command[512];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0)
        return 1;

    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.sync_full = 0; /* memory, not durability, is measured */
    if (seal_off) {
        options.chunk_target = readings + 1;
        options.log_max_blocks = 1u << 30;
    }
    st_store *store = NULL;
    jl_error err;
    if (st_store_open(&options, &store, &err) != JL_OK) {
        fprintf(stderr, "open: %s\n", err.message);
        return 1;
    }
    rss at_open = read_rss();
    print_rss("open", at_open);

    /* Keys built once: the batch interns them again each time. */
    jl_buf *keys = calloc(series, sizeof *keys);
    double *value = calloc(series, sizeof *value);
    if (keys == NULL || value == NULL)
        return 1;
    for (uint32_t s = 0; s < series; s++) {
        char station[32];
        snprintf(station, sizeof station, "s%06" PRIu32, s / 5);
        static const char *metrics[5] = {"pm25", "pm10", "no2", "so2", "o3"};
        const char *metric = metrics[s % 5];
        sk_tag tag = {{"station", 7}, {station, strlen(station)}};
        jl_buf_init(&keys[s]);
        if (sk_build((sk_text){metric, strlen(metric)}, &tag, 1, &keys[s], &err) != JL_OK)
            return 1;
        value[s] = 20.0 + (double)(s % 50);
    }
    uint64_t random_state = 88172645463325252ULL;
    rss after_first = at_open;
    st_batch batch;
    st_batch_init(&batch);
    const int64_t start_ms = 1767225600000LL; /* 2026-01-01 */
    for (uint32_t k = 0; k < readings; k++) {
        for (uint32_t s = 0; s < series; s++) {
            uint32_t index;
            if (st_batch_series(&batch, (const char *)keys[s].data, keys[s].len, &index) != JL_OK)
                return 1;
            random_state ^= random_state << 13;
            random_state ^= random_state >> 7;
            random_state ^= random_state << 17;
            value[s] += (double)((int)(random_state % 21) - 10) / 10.0;
            double v = (double)(int64_t)(value[s] * 10.0 + (value[s] < 0 ? -0.5 : 0.5)) / 10.0;
            if (st_batch_point(&batch, index, start_ms + 60000LL * k, v) != JL_OK)
                return 1;
            if (st_batch_point_count(&batch) >= batch_points || s + 1 == series) {
                if (st_write(store, &batch, &err) != JL_OK) {
                    fprintf(stderr, "write: %s\n", err.message);
                    return 1;
                }
                st_batch_reset(&batch);
            }
        }
        if (k == 0) {
            after_first = read_rss();
            print_rss("first round", after_first);
        }
    }
    rss after_last = read_rss();
    print_rss("last round", after_last);
    st_stats stats;
    if (st_store_stats(store, 0, &stats, &err) != JL_OK) {
        fprintf(stderr, "stats: %s\n", err.message);
        return 1;
    }
    uint64_t unsealed = stats.readings - stats.sealed_readings;
    double more = (double)series * (double)(readings - 1);
    double per_series = (after_first.anon_kb - at_open.anon_kb) * 1024.0 / series;
    double per_reading_anon = (after_last.anon_kb - after_first.anon_kb) * 1024.0 / more;
    double per_reading_rss = (after_last.rss_kb - after_first.rss_kb) * 1024.0 / more;
    printf("readings %" PRIu64 ", sealed %" PRIu64 ", unsealed %" PRIu64 ", log %" PRIu64
           " blocks / %" PRIu64 " bytes\n",
           stats.readings, stats.sealed_readings, unsealed, stats.log_blocks, stats.log_bytes);
    printf("series=%" PRIu32 " readings_per_series=%" PRIu32 " unsealed=%" PRIu64
           " active_series_anon_bytes=%.0f unsealed_reading_anon_bytes=%.2f"
           " unsealed_reading_rss_bytes=%.2f vmrss_mib=%.1f vmhwm_mib=%.1f rssanon_mib=%.1f\n",
           series, readings, unsealed, per_series, per_reading_anon, per_reading_rss,
           after_last.rss_kb / 1024.0, after_last.hwm_kb / 1024.0, after_last.anon_kb / 1024.0);
    st_batch_destroy(&batch);
    st_store_close(store);
    for (uint32_t s = 0; s < series; s++)
        jl_buf_destroy(&keys[s]);
    free(keys);
    free(value);
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    return system(command) == 0 ? 0 : 1;
}
