/* bench-codec: a micro-benchmark of the chunk codec alone (ck_encode / ck_decode), so a change
 * to the codec shows its effect in seconds, without a server or a full benchmark run. For each
 * data set it cuts every series into chunks of --chunk readings, encodes them all, decodes them
 * all, checks that every timestamp and every value (bit for bit) comes back, and prints readings
 * per second encoded and decoded (per CPU second of this thread, steadier than wall time on a
 * shared machine; wall-clock rates are printed too) and bytes per reading (whole chunks, headers
 * included).
 *
 * It also measures what HJ 212 data flags cost on disk: every data set is encoded once more in
 * the same chunks with the store's segment table (ST_DEFAULT_SEGMENT_PERIOD_MS) three ways, with
 * ck_encode_flagged(): no flags (NULL), every reading flagged N explicitly, and maintenance hours
 * flagged M (each clock hour of each series is, with probability 1 in --m-hours, flagged M
 * throughout: about 1% of readings in runs of an hour, one such hour every few days per series,
 * as real stations have them). Flags are read back with ck_read_flags() and compared.
 *
 * Data sets:
 *   reference  the truth files of bench-gen (--truth DIR, default the reference workload in
 *              bench/out/gen-20x365-seed1; --series N of its series), or, when there are none,
 *              a synthetic stand-in (1-decimal random walk at 60 s)
 *   random     random finite doubles (any bit pattern except NaN and infinities), 60 s cadence
 *   constant   one value repeated, 60 s cadence
 *   jitter     the synthetic random walk with timestamps 60 s apart plus 0-999 ms of jitter
 *
 *   bench-codec [--truth DIR] [--series 10] [--chunk 4096] [--readings 2000000] [--seed 1]
 *               [--min-seconds 0.5] [--m-hours 100]
 * Output ends with one key=value line per data set. Exit status 0 when every round trip was
 * exact. */
#include "jialing/chunk.h"
#include "jialing/common.h"
#include "jialing/flag.h"
#include "jialing/store.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define START_MS 1735689600000LL

typedef struct dataset {
    const char *name;
    int64_t *ms;
    double *values;
    size_t count;
    size_t *series_ends; /* end index of each series in ms/values */
    size_t series_count;
} dataset;

typedef struct options {
    const char *truth;
    long series;
    size_t chunk;
    size_t readings;
    uint64_t seed;
    double min_seconds;
    long m_hours; /* one hour in this many is a maintenance hour (flag M) */
} options;

static uint64_t rng_state;

/* splitmix64: enough for test data, reproducible from --seed. */
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void dataset_free(dataset *d)
{
    free(d->ms);
    free(d->values);
    free(d->series_ends);
    memset(d, 0, sizeof *d);
}

static int dataset_alloc(dataset *d, const char *name, size_t count, size_t series)
{
    d->name = name;
    d->count = count;
    d->series_count = series;
    d->ms = malloc(count * sizeof *d->ms);
    d->values = malloc(count * sizeof *d->values);
    d->series_ends = malloc(series * sizeof *d->series_ends);
    if (d->ms == NULL || d->values == NULL || d->series_ends == NULL) {
        dataset_free(d);
        return JL_ENOMEM;
    }
    return JL_OK;
}

/* Synthetic data of one series; kind picks the values and timestamps. */
enum { SYN_WALK, SYN_RANDOM, SYN_CONSTANT, SYN_JITTER };

static int synthesize(dataset *d, const char *name, int kind, size_t count)
{
    if (dataset_alloc(d, name, count, 1) != JL_OK)
        return JL_ENOMEM;
    d->series_ends[0] = count;
    double level = 380;
    for (size_t i = 0; i < count; i++) {
        int64_t t = START_MS + (int64_t)i * 60000;
        double v;
        if (kind == SYN_JITTER)
            t += (int64_t)(rng_next() % 1000);
        if (kind == SYN_RANDOM) {
            uint64_t bits;
            do {
                bits = rng_next();
                memcpy(&v, &bits, sizeof v);
            } while (!isfinite(v));
        } else if (kind == SYN_CONSTANT) {
            v = 42.5;
        } else {
            /* Integer tenths, as a sensor reports them: a mean-reverting random walk. */
            level += (rng_unit() - 0.5) * 12.0 + (380 - level) * 0.01;
            if (level < 10)
                level = 10;
            v = (double)llround(level) / 10.0;
        }
        d->ms[i] = t;
        d->values[i] = v;
    }
    return JL_OK;
}

/* Loads the first opts->series series of bench-gen's truth (truth/NNN.bin: little-endian int64
 * pairs of time ms and value * 10^decimals; decimals from the metric: nh3n has 3, others 1).
 * Returns JL_OK, JL_ENOTFOUND when the directory has no truth, or another error. */
static int load_truth(dataset *d, const options *opts, jl_error *err)
{
    static const int decimals[5] = {1, 1, 1, 3, 1}; /* pm25 pm10 o3 nh3n cod, bench-gen's order */
    char path[4096];
    size_t total = 0;
    long n = 0;
    for (; n < opts->series; n++) {
        snprintf(path, sizeof path, "%s/truth/%03ld.bin", opts->truth, n);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            break;
        fseek(f, 0, SEEK_END);
        total += (size_t)ftell(f) / 16;
        fclose(f);
    }
    if (n == 0 || total == 0)
        return jl_error_set(err, JL_ENOTFOUND, "no truth files in %s", opts->truth);
    if (dataset_alloc(d, "reference", total, (size_t)n) != JL_OK)
        return jl_error_set(err, JL_ENOMEM, "out of memory for %zu readings", total);
    size_t at = 0;
    for (long s = 0; s < n; s++) {
        snprintf(path, sizeof path, "%s/truth/%03ld.bin", opts->truth, s);
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            dataset_free(d);
            return jl_error_set(err, JL_EIO, "cannot open %s: %s", path, strerror(errno));
        }
        unsigned char b[16];
        double scale = decimals[s % 5] == 3 ? 1000.0 : 10.0;
        while (at < total && fread(b, 1, 16, f) == 16) {
            uint64_t t = 0, m = 0;
            for (int i = 7; i >= 0; i--) {
                t = t << 8 | b[i];
                m = m << 8 | b[8 + i];
            }
            d->ms[at] = (int64_t)t;
            /* Division by the power of ten gives the double nearest the decimal text, as the
             * server's parser does. */
            d->values[at] = (double)(int64_t)m / scale;
            at++;
        }
        fclose(f);
        d->series_ends[s] = at;
    }
    d->count = at;
    return JL_OK;
}

typedef struct result {
    double encode_cpu_s, decode_cpu_s, encode_wall_s, decode_wall_s;
    size_t bytes, chunks, rounds;
    int exact;
} result;

/* Encodes d in chunks into chunks/offsets (one buffer), once; returns JL_OK or an error. */
static int encode_all(const dataset *d, size_t chunk, jl_buf *out, size_t *offsets, size_t *nchunks,
                      jl_error *err)
{
    size_t start = 0, k = 0;
    out->len = 0;
    for (size_t s = 0; s < d->series_count; s++) {
        size_t end = d->series_ends[s];
        while (start < end) {
            size_t n = end - start < chunk ? end - start : chunk;
            offsets[k++] = out->len;
            int rc = ck_encode(d->ms + start, d->values + start, n, out, err);
            if (rc != JL_OK)
                return rc;
            start += n;
        }
    }
    offsets[k] = out->len;
    *nchunks = k;
    return JL_OK;
}

static int run(const dataset *d, const options *opts, result *r, jl_error *err)
{
    size_t max_chunks = d->count / opts->chunk + d->series_count + 1;
    size_t *offsets = malloc((max_chunks + 1) * sizeof *offsets);
    int64_t *ms = malloc(CK_MAX_READINGS * sizeof *ms);
    double *values = malloc(CK_MAX_READINGS * sizeof *values);
    jl_buf out;
    int rc = JL_OK;
    jl_buf_init(&out);
    memset(r, 0, sizeof *r);
    if (offsets == NULL || ms == NULL || values == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory");
        goto out;
    }
    /* Encode: repeated until min_seconds of CPU time so small sets time reliably. */
    double c0 = cpu_seconds();
    int64_t w0 = jl_monotonic_ns();
    do {
        rc = encode_all(d, opts->chunk, &out, offsets, &r->chunks, err);
        if (rc != JL_OK)
            goto out;
        r->rounds++;
    } while (cpu_seconds() - c0 < opts->min_seconds);
    r->encode_cpu_s = (cpu_seconds() - c0) / (double)r->rounds;
    r->encode_wall_s = (double)(jl_monotonic_ns() - w0) / 1e9 / (double)r->rounds;
    r->bytes = out.len;

    /* Decode every chunk and compare with the input, then time decoding alone. */
    r->exact = 1;
    size_t at = 0;
    for (size_t k = 0; k < r->chunks; k++) {
        size_t n = 0;
        rc = ck_decode(out.data + offsets[k], offsets[k + 1] - offsets[k], ms, values,
                       CK_MAX_READINGS, &n, err);
        if (rc != JL_OK)
            goto out;
        for (size_t i = 0; i < n; i++, at++)
            if (ms[i] != d->ms[at] || memcmp(&values[i], &d->values[at], sizeof(double)) != 0)
                r->exact = 0;
    }
    if (at != d->count)
        r->exact = 0;
    size_t rounds = 0;
    c0 = cpu_seconds();
    w0 = jl_monotonic_ns();
    do {
        for (size_t k = 0; k < r->chunks; k++) {
            size_t n = 0;
            rc = ck_decode(out.data + offsets[k], offsets[k + 1] - offsets[k], ms, values,
                           CK_MAX_READINGS, &n, err);
            if (rc != JL_OK)
                goto out;
        }
        rounds++;
    } while (cpu_seconds() - c0 < opts->min_seconds);
    r->decode_cpu_s = (cpu_seconds() - c0) / (double)rounds;
    r->decode_wall_s = (double)(jl_monotonic_ns() - w0) / 1e9 / (double)rounds;
out:
    free(offsets);
    free(ms);
    free(values);
    jl_buf_destroy(&out);
    return rc;
}

/* Whether hour `hour` (ms / 3600000) of series `series` is a maintenance hour: a hash of both
 * and the seed, not the shared stream, so the choice does not depend on the order data sets are
 * made in and the same hour of the same series is M in every encoding. */
static int maintenance_hour(uint64_t seed, size_t series, int64_t hour, long m_hours)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ULL ^ (uint64_t)series * 0xBF58476D1CE4E5B9ULL ^
                 (uint64_t)hour * 0x94D049BB133111EBULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return z % (uint64_t)m_hours == 0;
}

typedef struct flag_result {
    size_t bytes[3]; /* no flags, all N explicit, maintenance hours M */
    size_t m_readings, m_runs;
    int exact; /* all-N bytes equal no-flag bytes, and every flag read back */
} flag_result;

/* Encodes d three ways (see the header comment) in the chunks of encode_all(). */
static int flag_sizes(const dataset *d, const options *opts, flag_result *r, jl_error *err)
{
    uint8_t *flags = calloc(d->count ? d->count : 1, 1);
    uint8_t *back = malloc(CK_MAX_READINGS);
    jl_buf out[3];
    int rc = JL_OK;
    memset(r, 0, sizeof *r);
    for (int m = 0; m < 3; m++)
        jl_buf_init(&out[m]);
    if (flags == NULL || back == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory");
        goto out;
    }
    size_t start = 0;
    for (size_t s = 0; s < d->series_count; s++) {
        for (size_t i = start; i < d->series_ends[s]; i++) {
            if (maintenance_hour(opts->seed, s, d->ms[i] / 3600000, opts->m_hours)) {
                flags[i] = JL_FLAG_M;
                r->m_readings++;
                if (i == start || flags[i - 1] != JL_FLAG_M)
                    r->m_runs++;
            }
        }
        start = d->series_ends[s];
    }
    static const uint8_t all_n[CK_MAX_READINGS]; /* zero: JL_FLAG_N */
    r->exact = 1;
    start = 0;
    for (size_t s = 0; s < d->series_count; s++) {
        size_t end = d->series_ends[s];
        while (start < end) {
            size_t n = end - start < opts->chunk ? end - start : opts->chunk;
            const uint8_t *which[3] = {NULL, all_n, flags + start};
            size_t before[3];
            for (int m = 0; m < 3; m++) {
                before[m] = out[m].len;
                rc = ck_encode_flagged(d->ms + start, d->values + start, which[m], n,
                                       ST_DEFAULT_SEGMENT_PERIOD_MS, &out[m], err);
                if (rc != JL_OK)
                    goto out;
            }
            if (out[0].len - before[0] != out[1].len - before[1] ||
                memcmp(out[0].data + before[0], out[1].data + before[1],
                       out[0].len - before[0]) != 0)
                r->exact = 0;
            rc = ck_read_flags(out[2].data + before[2], out[2].len - before[2], back,
                               CK_MAX_READINGS, err);
            if (rc != JL_OK)
                goto out;
            if (memcmp(back, flags + start, n) != 0)
                r->exact = 0;
            start += n;
        }
    }
    for (int m = 0; m < 3; m++)
        r->bytes[m] = out[m].len;
out:
    free(flags);
    free(back);
    for (int m = 0; m < 3; m++)
        jl_buf_destroy(&out[m]);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench-codec [--truth DIR] [--series 10] [--chunk 4096] [--readings 2000000]\n"
            "                   [--seed 1] [--min-seconds 0.5] [--m-hours 100]\n");
}

static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return -1;
        }
        const char *v = argv[++i];
        char *end;
        double x = strtod(v, &end);
        int number = *end == '\0' && end != v && x >= 0;
        if (strcmp(a, "--truth") == 0)
            o->truth = v;
        else if (strcmp(a, "--series") == 0 && number && x >= 1)
            o->series = (long)x;
        else if (strcmp(a, "--chunk") == 0 && number && x >= 1 && x <= CK_MAX_READINGS)
            o->chunk = (size_t)x;
        else if (strcmp(a, "--readings") == 0 && number && x >= 1 && x <= 1e9)
            o->readings = (size_t)x;
        else if (strcmp(a, "--seed") == 0 && number)
            o->seed = (uint64_t)x;
        else if (strcmp(a, "--min-seconds") == 0 && number)
            o->min_seconds = x;
        else if (strcmp(a, "--m-hours") == 0 && number && x >= 1)
            o->m_hours = (long)x;
        else {
            fprintf(stderr, "bench-codec: bad option %s %s\n", a, v);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    options opts = {"bench/out/gen-20x365-seed1", 10, 4096, 2000000, 1, 0.5, 100};
    dataset sets[4];
    size_t nsets = 0;
    jl_error err;
    int failed = 0;

    if (parse_args(argc, argv, &opts) != 0)
        return 2;
    rng_state = opts.seed;
    memset(sets, 0, sizeof sets);
    int rc = load_truth(&sets[0], &opts, &err);
    const char *source = opts.truth;
    if (rc == JL_ENOTFOUND) {
        rc = synthesize(&sets[0], "reference", SYN_WALK, opts.readings);
        source = "synthetic 1-decimal random walk (no truth files found)";
    }
    if (rc != JL_OK) {
        fprintf(stderr, "bench-codec: %s\n", rc == JL_ENOMEM ? "out of memory" : err.message);
        return 1;
    }
    nsets = 1;
    static const struct {
        const char *name;
        int kind;
    } synthetic[] = {{"random", SYN_RANDOM}, {"constant", SYN_CONSTANT}, {"jitter", SYN_JITTER}};
    for (size_t i = 0; i < sizeof synthetic / sizeof synthetic[0]; i++) {
        if (synthesize(&sets[nsets], synthetic[i].name, synthetic[i].kind, opts.readings) !=
            JL_OK) {
            fprintf(stderr, "bench-codec: out of memory\n");
            failed = 1;
            goto out;
        }
        nsets++;
    }

    printf("chunk codec, %zu readings per chunk, seed %" PRIu64 "; reference: %s (%ld series)\n",
           opts.chunk, opts.seed, source, (long)sets[0].series_count);
    printf("%-10s %11s %8s %10s %14s %14s %12s %12s %6s\n", "data", "readings", "chunks",
           "B/reading", "enc M/cpu-s", "dec M/cpu-s", "enc M/wall-s", "dec M/wall-s", "exact");
    result results[4];
    int done[4] = {0};
    for (size_t i = 0; i < nsets; i++) {
        result *r = &results[i];
        if (run(&sets[i], &opts, r, &err) != JL_OK) {
            fprintf(stderr, "bench-codec: %s: %s\n", sets[i].name, err.message);
            failed = 1;
            continue;
        }
        done[i] = 1;
        double n = (double)sets[i].count;
        printf("%-10s %11zu %8zu %10.3f %14.1f %14.1f %12.1f %12.1f %6s\n", sets[i].name,
               sets[i].count, r->chunks, (double)r->bytes / n, n / r->encode_cpu_s / 1e6,
               n / r->decode_cpu_s / 1e6, n / r->encode_wall_s / 1e6, n / r->decode_wall_s / 1e6,
               r->exact ? "yes" : "NO");
        if (!r->exact)
            failed = 1;
    }
    for (size_t i = 0; i < nsets; i++) {
        if (!done[i])
            continue;
        double n = (double)sets[i].count;
        printf("codec data=%s readings=%zu bytes=%zu bytes_per_reading=%.4f "
               "encode_per_cpu_s=%.0f decode_per_cpu_s=%.0f exact=%d\n",
               sets[i].name, sets[i].count, results[i].bytes, (double)results[i].bytes / n,
               n / results[i].encode_cpu_s, n / results[i].decode_cpu_s, results[i].exact);
    }

    printf("\ndata flags, segment period %lld ms, M: 1 clock hour in %ld per series\n",
           (long long)ST_DEFAULT_SEGMENT_PERIOD_MS, opts.m_hours);
    printf("%-10s %11s %8s %8s %11s %11s %11s %8s %8s %6s\n", "data", "readings", "M %",
           "M runs", "B/r none", "B/r all N", "B/r 1% M", "N grow", "M grow", "exact");
    for (size_t i = 0; i < nsets; i++) {
        flag_result fr;
        if (flag_sizes(&sets[i], &opts, &fr, &err) != JL_OK) {
            fprintf(stderr, "bench-codec: %s: %s\n", sets[i].name, err.message);
            failed = 1;
            continue;
        }
        double n = (double)sets[i].count, b0 = (double)fr.bytes[0];
        printf("%-10s %11zu %8.3f %8zu %11.4f %11.4f %11.4f %7.3f%% %7.3f%% %6s\n",
               sets[i].name, sets[i].count, 100.0 * (double)fr.m_readings / n, fr.m_runs, b0 / n,
               (double)fr.bytes[1] / n, (double)fr.bytes[2] / n,
               100.0 * ((double)fr.bytes[1] - b0) / b0, 100.0 * ((double)fr.bytes[2] - b0) / b0,
               fr.exact ? "yes" : "NO");
        printf("flags data=%s readings=%zu m_readings=%zu m_runs=%zu bytes_none=%zu "
               "bytes_all_n=%zu bytes_m=%zu exact=%d\n",
               sets[i].name, sets[i].count, fr.m_readings, fr.m_runs, fr.bytes[0], fr.bytes[1],
               fr.bytes[2], fr.exact);
        if (!fr.exact)
            failed = 1;
    }
out:
    for (size_t i = 0; i < nsets; i++)
        dataset_free(&sets[i]);
    return failed;
}
