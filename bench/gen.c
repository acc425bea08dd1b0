/* bench-gen: writes the reference workload of DESIGN §6 as line-protocol files plus the exact
 * truth the checker recomputes answers from. Stations report 5 metrics every 60 s; readings go
 * missing (0.5%), stations have multi-hour outages, a quarter of the stations stamp readings 0-5 s
 * late, and 0.01% of readings are re-sent a few minutes later (same time, same value). Values are
 * mean-reverting random walks around a daily and a yearly cycle, rounded to the metric's decimals.
 * Output for a seed is identical on every run (one xoshiro256** stream consumed in a fixed
 * order; the only libm call is cos() of the cycles, so other libm versions could differ in a
 * last digit now and then).
 *
 * Variety (none of these changes the output of a run that does not use it, so the reference year
 * of DESIGN §6 stays byte-identical):
 *   --cadence SECONDS    one reading per station every SECONDS (default 60; it must divide a day,
 *                        86400 s, or bench-gen refuses it); the per-minute step
 *                        noise and pull of each metric are rescaled to the step (noise by
 *                        sqrt(step/60 s), pull to 1-(1-pull)^(step/60 s)) so the curves keep their
 *                        shape, and outages keep their 2-10 h length
 *   --noise-scale F      multiplies every metric's step noise (default 1)
 *   --decimals-shift N   each metric keeps N more decimals (N < 0: fewer; at least 0, at most 6)
 *   --jitter-ms N        the late stations (every 4th) stamp readings 0..N ms late (default 5000;
 *                        a multiple of 1000 draws whole seconds, as the default does)
 *   --mix                each station draws its own cadence from {10,30,60,300,900,3600} s and its
 *                        own noise scale from {0.25,1,4} (times --noise-scale), from the seed;
 *                        the generator then steps in 10 s ticks and a station reports on the ticks
 *                        that fall on its cadence
 *   --no-truth           no truth/NNN.bin files (truth.json still has every series' count): the
 *                        city cases have 10^5 series, more files than a process may keep open
 * --stations goes up to 200000 (2*10^5 stations x 5 metrics = 10^6 series); station names get as
 * many digits as the largest number needs, at least 2.
 *
 * Output in --out DIR:
 *   lines-000.lp ...   line protocol, ms precision, in sending order, --lines-per-file each
 *   truth/NNN.bin      per series: its distinct readings in time order as little-endian int64
 *                      pairs (timestamp ms, value * 10^decimals)
 *   truth.json         series list (metric, tags, decimals, count, file) and totals */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define METRICS 5
#define DAY_MS 86400000LL
#define DEFAULT_START_MS 1735689600000LL /* 2025-01-01T00:00:00Z */
#define MISSING_PER_MILLION 5000         /* 0.5% of readings never sent */
#define DUPLICATE_PER_MILLION 100        /* 0.01% of readings re-sent */

typedef struct metric_def {
    const char *name;
    int decimals;
    double base;       /* long-run level */
    double daily_amp;  /* amplitude of the daily cycle */
    double peak_hour;  /* UTC hour of the daily maximum */
    double season_amp; /* amplitude of the yearly cycle (positive: winter high) */
    double noise;      /* step standard deviation per minute */
    double revert;     /* pull towards the cycle per minute */
    double floor;      /* values stay above this */
} metric_def;

static const metric_def metrics[METRICS] = {
    {"pm25", 1, 38.0, 12.0, 0.0, 18.0, 0.55, 0.010, 1.0},
    {"pm10", 1, 65.0, 18.0, 1.0, 26.0, 0.90, 0.010, 2.0},
    {"o3", 1, 55.0, 32.0, 7.0, -15.0, 0.70, 0.020, 1.0},
    {"nh3n", 3, 0.85, 0.12, 22.0, 0.25, 0.008, 0.004, 0.02},
    {"cod", 1, 16.0, 3.0, 4.0, 2.0, 0.12, 0.008, 2.0},
};

static uint64_t rng_state[4];

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    uint64_t result = rotl(rng_state[1] * 5, 7) * 9;
    uint64_t t = rng_state[1] << 17;
    rng_state[2] ^= rng_state[0];
    rng_state[3] ^= rng_state[1];
    rng_state[1] ^= rng_state[2];
    rng_state[0] ^= rng_state[3];
    rng_state[2] ^= t;
    rng_state[3] = rotl(rng_state[3], 45);
    return result;
}

static void rng_seed(uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        rng_state[i] = z ^ (z >> 31);
    }
}

/* Uniform integer in [0, n). The tiny modulo bias is irrelevant here. */
static uint64_t rng_below(uint64_t n)
{
    return rng_next() % n;
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0);
}

/* Approximately standard normal: sum of four uniforms, centred and scaled to unit variance. */
static double rng_gauss(void)
{
    double s = rng_unit() + rng_unit() + rng_unit() + rng_unit();
    return (s - 2.0) * 1.7320508075688772;
}

typedef struct series_state {
    double level;  /* current unrounded value */
    double scale;  /* station's multiplier of the metric's base */
    double noise;  /* step standard deviation at this series' cadence */
    double revert; /* pull towards the cycle per step of this series' cadence */
    int64_t cadence_ms;
    char prefix[96]; /* "pm25,district=d1,station=s01 value=" */
    size_t prefix_len;
    FILE *truth;    /* truth/NNN.bin */
    uint64_t count; /* distinct readings written */
} series_state;

typedef struct outage {
    int64_t from_tick; /* first missing tick */
    int64_t to_tick;   /* one past the last */
} outage;

typedef struct resend {
    int64_t due_tick;
    uint32_t series;
    int64_t ms;
    int64_t mantissa;
} resend;

typedef struct output {
    const char *dir;
    FILE *file;
    int file_index;
    uint64_t lines_in_file;
    uint64_t lines_per_file;
    uint64_t lines;
    unsigned flag_per_mille; /* --flag-hours-per-mille: share of series-hours flagged M */
    uint64_t flag_seed;      /* the seed, so another seed flags other hours */
    uint64_t flagged;        /* lines written with flag="M" */
} output;

/* Whether the hour of ms of the series whose line prefix is s->prefix is a maintenance hour (flag
 * M). A hash of the prefix, the hour and the seed, not the random stream, so the readings are the
 * same with and without flags and only the flag field differs. */
static int maintenance_hour(const output *out, const char *prefix, size_t len, int64_t ms)
{
    if (out->flag_per_mille == 0)
        return 0;
    uint64_t h = 1469598103934665603ULL ^ out->flag_seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)prefix[i]) * 1099511628211ULL;
    h ^= (uint64_t)(ms / 3600000);
    h *= 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    return h % 1000 < out->flag_per_mille;
}

static int decimals_shift; /* --decimals-shift, applied through metric_decimals() */

static int metric_decimals(int m)
{
    int d = metrics[m].decimals + decimals_shift;
    return d < 0 ? 0 : d > 6 ? 6 : d;
}

static int out_line(output *out, const series_state *s, int decimals, int64_t ms, int64_t mantissa)
{
    char buf[160];
    char *p = buf;
    if (out->file == NULL || out->lines_in_file == out->lines_per_file) {
        char path[4096];
        if (out->file != NULL && fclose(out->file) != 0)
            return -1;
        snprintf(path, sizeof path, "%s/lines-%03d.lp", out->dir, out->file_index++);
        out->file = fopen(path, "w");
        if (out->file == NULL) {
            fprintf(stderr, "bench-gen: cannot create %s: %s\n", path, strerror(errno));
            return -1;
        }
        setvbuf(out->file, NULL, _IOFBF, 1 << 20);
        out->lines_in_file = 0;
    }
    memcpy(p, s->prefix, s->prefix_len);
    p += s->prefix_len;
    /* Values are positive; print the mantissa with the decimal point inserted, exactly. */
    char digits[24];
    int n = 0;
    uint64_t m = (uint64_t)mantissa;
    do {
        digits[n++] = (char)('0' + m % 10);
        m /= 10;
    } while (m > 0 || n <= decimals);
    for (int i = n - 1; i >= 0; i--) {
        *p++ = digits[i];
        if (i == decimals && decimals > 0)
            *p++ = '.';
    }
    if (maintenance_hour(out, s->prefix, s->prefix_len, ms)) {
        memcpy(p, ",flag=\"M\"", 9);
        p += 9;
        out->flagged++;
    }
    p += sprintf(p, " %" PRId64 "\n", ms);
    if (fwrite(buf, 1, (size_t)(p - buf), out->file) != (size_t)(p - buf))
        return -1;
    out->lines_in_file++;
    out->lines++;
    return 0;
}

static int write_le64(FILE *f, int64_t v)
{
    unsigned char b[8];
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(u >> (8 * i));
    return fwrite(b, 1, 8, f) == 8 ? 0 : -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-gen [--stations N] [--days D] [--seed S] [--start MS] "
               "[--lines-per-file L] [--flag-hours-per-mille K]\n"
               "                 [--cadence SECONDS] [--noise-scale F] [--decimals-shift N] "
               "[--jitter-ms N] [--mix] [--no-truth] --out DIR\n"
               "  defaults: 20 stations (at most 200000), 365 days, seed 1, start 1735689600000 "
               "(2025-01-01Z), 5000000 lines per file, no flags (K: that many series-hours\n"
               "  in 1000 have every reading flagged M, as maintenance hours), cadence 60 s, "
               "noise scale 1, decimals shift 0, jitter 5000 ms\n");
}

int main(int argc, char **argv)
{
    long stations = 20, days = 365;
    uint64_t seed = 1;
    int64_t start_ms = DEFAULT_START_MS;
    output out = {0};
    out.lines_per_file = 5000000;
    int rc = 1;
    series_state *series = NULL;
    outage *outages = NULL;
    int *outage_counts = NULL;
    resend *pending = NULL;
    size_t pending_len = 0, pending_cap = 0;
    uint64_t missing = 0, outage_missing = 0, duplicates = 0, distinct = 0;
    char path[4096];
    long cadence_s = 60;
    double noise_scale = 1.0;
    long jitter_max_ms = 5000;
    int mix = 0, truth_files = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--mix") == 0) {
            mix = 1;
            continue;
        }
        if (strcmp(a, "--no-truth") == 0) {
            truth_files = 0;
            continue;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        int numeric = errno == 0 && *end == '\0' && end != v;
        if (strcmp(a, "--noise-scale") == 0) {
            double f = strtod(v, &end);
            if (*end != '\0' || end == v || !(f >= 0.0 && f <= 1000.0)) {
                fprintf(stderr, "bench-gen: bad option %s %s\n", a, v);
                return 2;
            }
            noise_scale = f;
            continue;
        }
        if (strcmp(a, "--stations") == 0 && numeric && n >= 1 && n <= 200000)
            stations = (long)n;
        else if (strcmp(a, "--days") == 0 && numeric && n >= 1 && n <= 3650)
            days = (long)n;
        else if (strcmp(a, "--seed") == 0 && numeric)
            seed = out.flag_seed = (uint64_t)n;
        else if (strcmp(a, "--start") == 0 && numeric)
            start_ms = (int64_t)n;
        else if (strcmp(a, "--flag-hours-per-mille") == 0 && numeric && n >= 0 && n <= 1000)
            out.flag_per_mille = (unsigned)n;
        else if (strcmp(a, "--cadence") == 0 && numeric && n >= 1 && n <= 86400)
            cadence_s = (long)n;
        else if (strcmp(a, "--decimals-shift") == 0 && numeric && n >= -3 && n <= 5)
            decimals_shift = (int)n;
        else if (strcmp(a, "--jitter-ms") == 0 && numeric && n >= 0 && n <= 3600000)
            jitter_max_ms = (long)n;
        else if (strcmp(a, "--lines-per-file") == 0 && numeric && n >= 1)
            out.lines_per_file = (uint64_t)n;
        else if (strcmp(a, "--out") == 0)
            out.dir = v;
        else {
            fprintf(stderr, "bench-gen: bad option %s %s\n", a, v);
            usage(stderr);
            return 2;
        }
    }
    if (out.dir == NULL) {
        usage(stderr);
        return 2;
    }
    /* The loop steps a whole number of ticks a day (ticks_per_day = DAY_MS / step): a cadence
     * that does not divide the day would drift against the daily and yearly cycles and leave
     * every day short of readings. */
    if (86400 % cadence_s != 0) {
        fprintf(stderr,
                "bench-gen: --cadence %ld does not divide a day (86400 s); use a divisor such as "
                "10, 30, 60, 300, 900 or 3600\n",
                cadence_s);
        return 2;
    }
    /* A reading must not be stamped past the station's next one, or the lines leave time order. */
    if (jitter_max_ms >= (mix ? 10000 : cadence_s * 1000)) {
        fprintf(stderr, "bench-gen: --jitter-ms must be below the shortest cadence\n");
        return 2;
    }
    if (mix && cadence_s != 60) {
        fprintf(stderr, "bench-gen: --mix draws each station's cadence; do not give --cadence\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/truth", out.dir);
    if ((mkdir(out.dir, 0777) != 0 && errno != EEXIST) ||
        (mkdir(path, 0777) != 0 && errno != EEXIST)) {
        fprintf(stderr, "bench-gen: cannot create %s: %s\n", path, strerror(errno));
        return 1;
    }

    rng_seed(seed);
    size_t series_count = (size_t)stations * METRICS;
    /* One tick is the step of the main loop: the cadence, or with --mix 10 s, the shortest one. */
    const int64_t tick_step_ms = mix ? 10000 : (int64_t)cadence_s * 1000;
    const int64_t ticks_per_day = DAY_MS / tick_step_ms;
    int64_t ticks = (int64_t)days * ticks_per_day;
    series = calloc(series_count, sizeof *series);
    outage_counts = calloc((size_t)stations, sizeof *outage_counts);
    int max_outages = 1 + (int)(days / 90);
    outages = calloc((size_t)stations * (size_t)max_outages, sizeof *outages);
    if (series == NULL || outages == NULL || outage_counts == NULL)
        goto oom;

    int digits = 2;
    for (long d = 100; d <= stations; d *= 10)
        digits++;
    static const int mix_cadences_s[6] = {10, 30, 60, 300, 900, 3600};
    static const double mix_noise[3] = {0.25, 1.0, 4.0};
    for (long s = 0; s < stations; s++) {
        double scale = 0.8 + 0.4 * rng_unit();
        long station_cadence_s = cadence_s;
        double station_noise = noise_scale;
        if (mix) {
            station_cadence_s = mix_cadences_s[rng_below(6)];
            station_noise *= mix_noise[rng_below(3)];
        }
        for (int m = 0; m < METRICS; m++) {
            series_state *st = &series[s * METRICS + m];
            st->scale = scale;
            st->level = metrics[m].base * scale;
            st->cadence_ms = (int64_t)station_cadence_s * 1000;
            /* At the default 60 s the metric's per-minute figures are used as they are: the
             * rescaling below would not give them back to the last bit. */
            if (station_cadence_s == 60) {
                st->noise = metrics[m].noise * station_noise;
                st->revert = metrics[m].revert;
            } else {
                double steps = (double)station_cadence_s / 60.0;
                st->noise = metrics[m].noise * station_noise * sqrt(steps);
                st->revert = 1.0 - pow(1.0 - metrics[m].revert, steps);
            }
            st->prefix_len =
                (size_t)snprintf(st->prefix, sizeof st->prefix,
                                 "%s,district=d%ld,station=s%0*ld value=", metrics[m].name,
                                 (s / 5) % 4 + 1, digits, s + 1);
            if (!truth_files)
                continue;
            snprintf(path, sizeof path, "%s/truth/%03ld.bin", out.dir, s * METRICS + m);
            st->truth = fopen(path, "w");
            if (st->truth == NULL) {
                fprintf(stderr, "bench-gen: cannot create %s: %s\n", path, strerror(errno));
                goto out;
            }
            setvbuf(st->truth, NULL, _IOFBF, 1 << 16);
        }
        /* Multi-hour outages (2-10 h) at random places; overlaps simply merge. */
        outage_counts[s] = max_outages;
        for (int k = 0; k < max_outages; k++) {
            outage *o = &outages[s * max_outages + k];
            int64_t length = (120 + (int64_t)rng_below(481)) * 60000 / tick_step_ms;
            o->from_tick = (int64_t)rng_below((uint64_t)ticks);
            o->to_tick = o->from_tick + length;
        }
    }

    for (int64_t tick = 0; tick < ticks; tick++) {
        int64_t tick_ms = start_ms + tick * tick_step_ms;
        double day_phase = (double)((tick_ms % DAY_MS + DAY_MS) % DAY_MS) / (double)DAY_MS;
        double year_phase =
            (double)(tick % (365 * ticks_per_day)) / (365.0 * (double)ticks_per_day);

        /* Re-sent readings due now go first, as a collector retrying an old batch would. */
        size_t keep = 0;
        for (size_t i = 0; i < pending_len; i++) {
            if (pending[i].due_tick <= tick) {
                const series_state *st = &series[pending[i].series];
                if (out_line(&out, st, metric_decimals((int)(pending[i].series % METRICS)),
                             pending[i].ms, pending[i].mantissa) != 0)
                    goto io_error;
                duplicates++;
            } else {
                pending[keep++] = pending[i];
            }
        }
        pending_len = keep;

        for (long s = 0; s < stations; s++) {
            if (mix && (tick * tick_step_ms) % series[s * METRICS].cadence_ms != 0)
                continue;
            int down = 0;
            for (int k = 0; k < outage_counts[s]; k++) {
                const outage *o = &outages[s * max_outages + k];
                if (tick >= o->from_tick && tick < o->to_tick)
                    down = 1;
            }
            /* Stations 4, 8, 12, ... stamp readings with their own clock: 0-5 s late. */
            int64_t jitter_ms = 0;
            if (s % 4 == 3 && jitter_max_ms > 0)
                jitter_ms = jitter_max_ms % 1000 == 0
                                ? (int64_t)rng_below((uint64_t)jitter_max_ms / 1000 + 1) * 1000
                                : (int64_t)rng_below((uint64_t)jitter_max_ms + 1);
            int64_t ms = tick_ms + jitter_ms;
            for (int m = 0; m < METRICS; m++) {
                const metric_def *md = &metrics[m];
                series_state *st = &series[s * METRICS + m];
                double target =
                    md->base * st->scale +
                    md->daily_amp * cos(2.0 * M_PI * (day_phase - md->peak_hour / 24.0)) +
                    md->season_amp * cos(2.0 * M_PI * year_phase);
                st->level += st->revert * (target - st->level) + st->noise * rng_gauss();
                if (st->level < md->floor)
                    st->level = 2.0 * md->floor - st->level; /* reflect, stays positive */
                int lost = rng_below(1000000) < MISSING_PER_MILLION;
                int resent = rng_below(1000000) < DUPLICATE_PER_MILLION;
                if (down) {
                    outage_missing++;
                    continue;
                }
                if (lost) {
                    missing++;
                    continue;
                }
                static const double pow10[7] = {1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e6};
                int decimals = metric_decimals(m);
                int64_t mantissa = llround(st->level * pow10[decimals]);
                if (mantissa < 1)
                    mantissa = 1;
                if (out_line(&out, st, decimals, ms, mantissa) != 0 ||
                    (st->truth != NULL &&
                     (write_le64(st->truth, ms) != 0 || write_le64(st->truth, mantissa) != 0)))
                    goto io_error;
                st->count++;
                distinct++;
                if (resent) {
                    if (pending_len == pending_cap) {
                        size_t cap = pending_cap ? pending_cap * 2 : 64;
                        resend *p = realloc(pending, cap * sizeof *p);
                        if (p == NULL)
                            goto oom;
                        pending = p;
                        pending_cap = cap;
                    }
                    pending[pending_len++] = (resend){tick + 1 + (int64_t)rng_below(10),
                                                      (uint32_t)(s * METRICS + m), ms, mantissa};
                }
            }
        }
    }
    /* Duplicates still pending at the end are sent after the last regular reading. */
    for (size_t i = 0; i < pending_len; i++) {
        if (out_line(&out, &series[pending[i].series],
                     metric_decimals((int)(pending[i].series % METRICS)), pending[i].ms,
                     pending[i].mantissa) != 0)
            goto io_error;
        duplicates++;
    }
    if (out.file != NULL && fclose(out.file) != 0)
        goto io_error;
    out.file = NULL;

    snprintf(path, sizeof path, "%s/truth.json", out.dir);
    FILE *index = fopen(path, "w");
    if (index == NULL)
        goto io_error;
    fprintf(index,
            "{\n  \"stations\": %ld,\n  \"days\": %ld,\n  \"seed\": %" PRIu64
            ",\n  \"start_ms\": %" PRId64 ",\n  \"end_ms\": %" PRId64
            ",\n  \"cadence_ms\": %lld,\n  \"lines\": %" PRIu64 ",\n  \"files\": %d,\n"
            "  \"distinct\": %" PRIu64 ",\n  \"duplicates\": %" PRIu64 ",\n  \"missing\": %" PRIu64
            ",\n  \"outage_missing\": %" PRIu64 ",\n  \"flagged_m\": %" PRIu64
            ",\n  \"series\": [\n",
            stations, days, seed, start_ms, (int64_t)(start_ms + ticks * tick_step_ms),
            (long long)tick_step_ms, out.lines, out.file_index, distinct, duplicates, missing,
            outage_missing, out.flagged);
    for (size_t i = 0; i < series_count; i++) {
        const metric_def *md = &metrics[i % METRICS];
        long s = (long)(i / METRICS);
        char file[64] = "null", cadence[48] = "";
        if (truth_files)
            snprintf(file, sizeof file, "\"truth/%03zu.bin\"", i);
        if (mix)
            snprintf(cadence, sizeof cadence, ", \"cadence_ms\": %lld",
                     (long long)series[i].cadence_ms);
        fprintf(index,
                "    {\"metric\": \"%s\", \"tags\": {\"district\": \"d%ld\", \"station\": "
                "\"s%0*ld\"}, \"decimals\": %d, \"count\": %" PRIu64 "%s, \"file\": %s}%s\n",
                md->name, (s / 5) % 4 + 1, digits, s + 1, metric_decimals((int)(i % METRICS)),
                series[i].count, cadence, file, i + 1 < series_count ? "," : "");
    }
    fprintf(index, "  ]\n}\n");
    if (fclose(index) != 0)
        goto io_error;
    for (size_t i = 0; i < series_count; i++) {
        if (series[i].truth == NULL)
            continue;
        int bad = fclose(series[i].truth) != 0;
        series[i].truth = NULL;
        if (bad)
            goto io_error;
    }
    printf("lines=%" PRIu64 " files=%d distinct=%" PRIu64 " duplicates=%" PRIu64 " missing=%" PRIu64
           " outage_missing=%" PRIu64 " flagged_m=%" PRIu64 "\n",
           out.lines, out.file_index, distinct, duplicates, missing, outage_missing, out.flagged);
    rc = 0;
    goto out;
oom:
    fprintf(stderr, "bench-gen: out of memory\n");
    goto out;
io_error:
    fprintf(stderr, "bench-gen: writing %s failed: %s\n", out.dir, strerror(errno));
out:
    if (out.file != NULL)
        fclose(out.file);
    for (size_t i = 0; series != NULL && i < series_count; i++)
        if (series[i].truth != NULL)
            fclose(series[i].truth);
    free(series);
    free(outages);
    free(outage_counts);
    free(pending);
    return rc;
}
