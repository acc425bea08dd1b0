/* The demo data set: 4 air stations in 2 districts (pm25, pm10, o3) and 2 river sections
 * (nh3n, cod), every 5 minutes for 21 days, with daily cycles and a pollution episode, written
 * through the normal write path. */
#include "jialing/demo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jialing/serieskey.h"

#define DEMO_DAYS 21
#define DEMO_STEP_MS (5 * 60 * 1000LL)

typedef struct demo_series {
    const char *metric;
    const char *site_key; /* "station" or "section" */
    const char *site;
    const char *district;
    double base;        /* typical level */
    double daily_swing; /* amplitude of the daily cycle */
    int decimals;
} demo_series;

static const demo_series demo[] = {
    {"pm25", "station", "jlp-01", "jiulongpo", 38, 14, 1},
    {"pm10", "station", "jlp-01", "jiulongpo", 62, 20, 1},
    {"o3", "station", "jlp-01", "jiulongpo", 70, 35, 1},
    {"pm25", "station", "jlp-02", "jiulongpo", 42, 15, 1},
    {"pm10", "station", "jlp-02", "jiulongpo", 66, 22, 1},
    {"o3", "station", "jlp-02", "jiulongpo", 64, 30, 1},
    {"pm25", "station", "yz-01", "yuzhong", 35, 12, 1},
    {"pm10", "station", "yz-01", "yuzhong", 58, 18, 1},
    {"o3", "station", "yz-01", "yuzhong", 75, 38, 1},
    {"pm25", "station", "yz-02", "yuzhong", 31, 11, 1},
    {"pm10", "station", "yz-02", "yuzhong", 55, 17, 1},
    {"o3", "station", "yz-02", "yuzhong", 72, 36, 1},
    {"nh3n", "section", "jialing-cp", "shapingba", 0.62, 0.18, 3},
    {"cod", "section", "jialing-cp", "shapingba", 14.5, 2.5, 1},
    {"nh3n", "section", "jialing-hc", "hechuan", 0.48, 0.15, 3},
    {"cod", "section", "jialing-hc", "hechuan", 12.0, 2.0, 1},
};

/* A small deterministic generator (xorshift) so the demo is the same every time. */
static double next_noise(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (double)(*state >> 11) / 9007199254740992.0 - 0.5;
}

int dm_load(st_store *store, int64_t end_ms, uint64_t *readings, jl_error *err)
{
    *readings = 0;
    int64_t end = end_ms - end_ms % DEMO_STEP_MS;
    int64_t start = end - DEMO_DAYS * 86400000LL;
    st_batch batch;
    st_batch_init(&batch);
    jl_buf key;
    jl_buf_init(&key);
    int rc = JL_OK;
    for (size_t i = 0; i < sizeof demo / sizeof demo[0] && rc == JL_OK; i++) {
        const demo_series *d = &demo[i];
        sk_tag tags[2] = {
            {{d->site_key, strlen(d->site_key)}, {d->site, strlen(d->site)}},
            {{"district", 8}, {d->district, strlen(d->district)}},
        };
        key.len = 0;
        rc = sk_build((sk_text){d->metric, strlen(d->metric)}, tags, 2, &key, err);
        uint32_t index = 0;
        if (rc == JL_OK)
            rc = st_batch_series(&batch, key.data, key.len, &index);
        uint64_t state = 0x9e3779b97f4a7c15ull ^ (uint64_t)(i + 1) * 0x2545f4914f6cdd1dull;
        double drift = 0, scale = pow(10, d->decimals);
        for (int64_t t = start; t < end && rc == JL_OK; t += DEMO_STEP_MS) {
            double hour = (double)((t + 8 * 3600000LL) % 86400000LL) / 3600000.0; /* UTC+8 */
            double day = (double)(t - start) / 86400000.0;
            drift = 0.98 * drift + next_noise(&state) * d->daily_swing * 0.2;
            /* Air peaks in the evening, ozone in the afternoon; day 12-14 is an episode. */
            double cycle = sin((hour - (strcmp(d->metric, "o3") == 0 ? 9 : 13)) / 24 * 2 * M_PI);
            double episode = (day > 12 && day < 14) ? d->base * 0.9 : 0;
            double value = d->base + d->daily_swing * cycle + drift + episode;
            if (value < 0)
                value = 0;
            value = round(value * scale) / scale;
            rc = st_batch_point(&batch, index, t, value);
        }
    }
    if (rc == JL_OK)
        rc = st_write(store, &batch, err);
    if (rc == JL_OK)
        *readings = st_batch_point_count(&batch);
    jl_buf_destroy(&key);
    st_batch_destroy(&batch);
    return rc;
}
