/* The demo data set, written through the normal write path and the same for a given end time:
 *
 * - 4 air stations in 2 districts with the six pollutants of HJ 633-2012 (pm25 pm10 so2 no2 co
 *   o3), one reading a minute for 21 days, daily cycles, a pollution episode on local days 12
 *   and 13, and at each station two spells of two maintenance hours (10:00-12:00 Beijing time)
 *   flagged M (span-check values that flags=valid leaves out).
 *   One minute, not five: an hourly value needs 45 distinct minutes of data (GB 3095-2012 table
 *   4), so 5-minute readings would give no AQI at all.
 * - 2 sections of the Jialing river (Hechuan upstream, Ciqikou in Shapingba downstream) with
 *   nh3n cod codmn tp do ph, hourly for 124 days (at least three whole calendar months before
 *   the current one, so the monthly assessment has months to judge), and an ammonia incident at
 *   the downstream section on days 10-14 of the previous calendar month (Beijing time) that
 *   brings its month to class IV.
 * - The sites of both (dm_sites_json()), with the compensation agreements of the sections. */
#include "jialing/demo.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jialing/calendar.h"
#include "jialing/serieskey.h"

#define AIR_DAYS 21
#define AIR_STEP_MS (60 * 1000LL)
#define WATER_DAYS 124
#define WATER_STEP_MS (3600 * 1000LL)
#define DAY_MS 86400000LL
#define HOUR_MS 3600000LL
#define BEIJING_MS (8 * HOUR_MS) /* UTC+8, no DST */

typedef struct demo_series {
    const char *metric;
    const char *site_key; /* "station" or "section" */
    const char *site;
    const char *district;
    double base;        /* typical level */
    double daily_swing; /* amplitude of the daily cycle */
    double peak_hour;   /* local hour of the cycle's top */
    int decimals;
} demo_series;

/* Air: µg/m³ except co (mg/m³). Levels of a Chongqing autumn: AQI mostly 2 (良), 3-4 in the
 * episode. */
static const demo_series air[] = {
    {"pm25", "station", "jlp-01", "jiulongpo", 38, 14, 19, 1},
    {"pm10", "station", "jlp-01", "jiulongpo", 62, 20, 19, 1},
    {"so2", "station", "jlp-01", "jiulongpo", 9, 3, 11, 1},
    {"no2", "station", "jlp-01", "jiulongpo", 40, 14, 20, 1},
    {"co", "station", "jlp-01", "jiulongpo", 0.8, 0.25, 20, 2},
    {"o3", "station", "jlp-01", "jiulongpo", 70, 35, 15, 1},
    {"pm25", "station", "jlp-02", "jiulongpo", 42, 15, 19, 1},
    {"pm10", "station", "jlp-02", "jiulongpo", 66, 22, 19, 1},
    {"so2", "station", "jlp-02", "jiulongpo", 10, 3, 11, 1},
    {"no2", "station", "jlp-02", "jiulongpo", 44, 15, 20, 1},
    {"co", "station", "jlp-02", "jiulongpo", 0.9, 0.3, 20, 2},
    {"o3", "station", "jlp-02", "jiulongpo", 64, 30, 15, 1},
    {"pm25", "station", "yz-01", "yuzhong", 35, 12, 19, 1},
    {"pm10", "station", "yz-01", "yuzhong", 58, 18, 19, 1},
    {"so2", "station", "yz-01", "yuzhong", 8, 2.5, 11, 1},
    {"no2", "station", "yz-01", "yuzhong", 46, 16, 20, 1},
    {"co", "station", "yz-01", "yuzhong", 0.85, 0.25, 20, 2},
    {"o3", "station", "yz-01", "yuzhong", 75, 38, 15, 1},
    {"pm25", "station", "yz-02", "yuzhong", 31, 11, 19, 1},
    {"pm10", "station", "yz-02", "yuzhong", 55, 17, 19, 1},
    {"so2", "station", "yz-02", "yuzhong", 7, 2, 11, 1},
    {"no2", "station", "yz-02", "yuzhong", 38, 13, 20, 1},
    {"co", "station", "yz-02", "yuzhong", 0.75, 0.2, 20, 2},
    {"o3", "station", "yz-02", "yuzhong", 72, 36, 15, 1},
};

/* Water: mg/L, ph unitless. Hechuan sits in class II, Ciqikou in class III (nh3n, tp); both
 * target III. DO peaks in the afternoon (photosynthesis), the rest swing little. */
static const demo_series water[] = {
    {"nh3n", "section", "jialing-hc", "hechuan", 0.40, 0.05, 8, 3},
    {"cod", "section", "jialing-hc", "hechuan", 11.0, 1.0, 8, 1},
    {"codmn", "section", "jialing-hc", "hechuan", 3.0, 0.3, 8, 2},
    {"tp", "section", "jialing-hc", "hechuan", 0.07, 0.01, 8, 3},
    {"do", "section", "jialing-hc", "hechuan", 8.2, 0.4, 15, 2},
    {"ph", "section", "jialing-hc", "hechuan", 7.8, 0.15, 15, 2},
    {"nh3n", "section", "jialing-cp", "shapingba", 0.62, 0.08, 8, 3},
    {"cod", "section", "jialing-cp", "shapingba", 14.0, 1.5, 8, 1},
    {"codmn", "section", "jialing-cp", "shapingba", 4.4, 0.4, 8, 2},
    {"tp", "section", "jialing-cp", "shapingba", 0.14, 0.015, 8, 3},
    {"do", "section", "jialing-cp", "shapingba", 7.0, 0.5, 15, 2},
    {"ph", "section", "jialing-cp", "shapingba", 7.6, 0.15, 15, 2},
};

static const char sites_json[] =
    "{\"sites\": [\n"
    "  {\"id\": \"jlp-01\", \"kind\": \"air\", \"name\": \"Jiulongpo Yangjiaping\",\n"
    "   \"district\": \"jiulongpo\", \"select\": {\"station\": \"jlp-01\"}},\n"
    "  {\"id\": \"jlp-02\", \"kind\": \"air\", \"name\": \"Jiulongpo Baishiyi\",\n"
    "   \"district\": \"jiulongpo\", \"select\": {\"station\": \"jlp-02\"}},\n"
    "  {\"id\": \"yz-01\", \"kind\": \"air\", \"name\": \"Yuzhong Jiefangbei\",\n"
    "   \"district\": \"yuzhong\", \"select\": {\"station\": \"yz-01\"}},\n"
    "  {\"id\": \"yz-02\", \"kind\": \"air\", \"name\": \"Yuzhong Lianglukou\",\n"
    "   \"district\": \"yuzhong\", \"select\": {\"station\": \"yz-02\"}},\n"
    "  {\"id\": \"jialing-hc\", \"kind\": \"river\", \"name\": \"Jialing at Hechuan\",\n"
    "   \"district\": \"hechuan\", \"select\": {\"section\": \"jialing-hc\"}, \"target\": "
    "\"III\",\n"
    "   \"upstream\": \"hechuan\", \"downstream\": \"beibei\",\n"
    "   \"agreement\": {\"baseline\": \"III\", \"indicators\": [\"class\"],\n"
    "                 \"amount\": {\"rule\": \"fixed\", \"per_month\": 500000},\n"
    "                 \"rule\": \"chongqing-2023\"}},\n"
    "  {\"id\": \"jialing-cp\", \"kind\": \"river\", \"name\": \"Jialing at Ciqikou\",\n"
    "   \"district\": \"shapingba\", \"select\": {\"section\": \"jialing-cp\"}, \"target\": "
    "\"III\",\n"
    "   \"upstream\": \"shapingba\", \"downstream\": \"yuzhong\",\n"
    "   \"agreement\": {\"baseline\": \"III\",\n"
    "                 \"indicators\": [\"class\", {\"param\": \"codmn\", \"baseline\": 6}],\n"
    "                 \"amount\": {\"rule\": \"multiple\", \"per_unit\": 1000000, \"cap\": "
    "3000000},\n"
    "                 \"rule\": \"chongqing-2023\"}}\n"
    "]}\n";

const char *dm_sites_json(void)
{
    return sites_json;
}

/* A small deterministic generator (xorshift) so the demo is the same every time. */
static double next_noise(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (double)(*state >> 11) / 9007199254740992.0 - 0.5;
}

static double local_hour(int64_t t)
{
    return (double)cal_floor_mod(t + BEIJING_MS, DAY_MS) / (double)HOUR_MS;
}

/* Start (UTC ms) of day `day` (1-based) of the Beijing calendar month before the one holding t. */
static int64_t previous_month_day(int64_t t, unsigned day)
{
    int64_t year;
    unsigned month, mday;
    cal_civil_from_days(cal_floor_div(t + BEIJING_MS, DAY_MS), &year, &month, &mday);
    if (month == 1) {
        year--;
        month = 12;
    } else {
        month--;
    }
    return cal_days_from_civil(year, month, day) * DAY_MS - BEIJING_MS;
}

/* The incident's extra ammonia (mg/L) at t: rises over 6 h from `start`, holds 4.5 mg/L, falls
 * over 12 h to nothing after 5 days. */
static double incident_nh3n(int64_t t, int64_t start)
{
    double h = (double)(t - start) / (double)HOUR_MS;
    if (h < 0 || h >= 5 * 24)
        return 0;
    if (h < 6)
        return 4.5 * h / 6;
    if (h > 5 * 24 - 12)
        return 4.5 * (5 * 24 - h) / 12;
    return 4.5;
}

/* Writes one table of series at step ms over [start, end). */
static int load_table(st_batch *batch, jl_buf *key, const demo_series *table, size_t count,
                      uint64_t seed, int64_t start, int64_t end, int64_t step, int64_t incident,
                      jl_error *err)
{
    int rc = JL_OK;
    /* The AR(1) drift keeps the same memory (about 4 hours) whatever the step. */
    double keep = exp(-(double)step / (4.0 * HOUR_MS));
    for (size_t i = 0; i < count && rc == JL_OK; i++) {
        const demo_series *d = &table[i];
        sk_tag tags[2] = {
            {{d->site_key, strlen(d->site_key)}, {d->site, strlen(d->site)}},
            {{"district", 8}, {d->district, strlen(d->district)}},
        };
        key->len = 0;
        rc = sk_build((sk_text){d->metric, strlen(d->metric)}, tags, 2, key, err);
        uint32_t index = 0;
        if (rc == JL_OK)
            rc = st_batch_series(batch, key->data, key->len, &index);
        uint64_t state = seed ^ (uint64_t)(i + 1) * 0x2545f4914f6cdd1dull;
        double drift = 0, scale = pow(10, d->decimals);
        double noise = d->daily_swing * 1.2 * sqrt(1 - keep * keep);
        int is_air = strcmp(d->site_key, "station") == 0;
        /* Each station's maintenance: 10:00-12:00 Beijing time on two days of its own. */
        size_t station = i / 6;
        int64_t first_local_day = cal_floor_div(start + BEIJING_MS, DAY_MS);
        for (int64_t t = start; t < end && rc == JL_OK; t += step) {
            double hour = local_hour(t);
            /* Local (Beijing) days since the first, partial one: 1..20 are whole days. */
            int64_t day = cal_floor_div(t + BEIJING_MS, DAY_MS) - first_local_day;
            drift = keep * drift + next_noise(&state) * noise;
            double cycle = cos((hour - d->peak_hour) / 24 * 2 * M_PI);
            double value = d->base + d->daily_swing * cycle + drift;
            uint8_t flag = JL_FLAG_N;
            if (is_air) {
                /* An inversion episode over local days 12 and 13 (a half sine over the 48 h)
                 * more than doubles the particles on average (AQI level 3, 轻度污染), raises
                 * the gases less; ozone falls under the haze. */
                if (day == 12 || day == 13) {
                    double envelope = sin(((double)(day - 12) + hour / 24) / 2 * M_PI);
                    int particles = strncmp(d->metric, "pm", 2) == 0;
                    value += envelope * (strcmp(d->metric, "o3") == 0 ? -0.6 * d->base
                                         : particles                  ? 2.0 * d->base
                                                                      : 1.0 * d->base);
                }
                if ((day == 3 + (int64_t)station * 4 || day == 16 + (int64_t)station) &&
                    hour >= 10 && hour < 12) {
                    value = d->base * 4; /* span gas while the analysers are checked */
                    flag = JL_FLAG_M;
                }
            } else if (strcmp(d->site, "jialing-cp") == 0) {
                double extra = incident_nh3n(t, incident);
                if (strcmp(d->metric, "nh3n") == 0)
                    value += extra;
                else if (strcmp(d->metric, "do") == 0)
                    value -= extra * 0.5; /* the sewage uses up oxygen */
            }
            if (value < 0)
                value = 0;
            value = round(value * scale) / scale;
            rc = st_batch_point_flagged(batch, index, t, value, flag);
        }
    }
    return rc;
}

int dm_load(st_store *store, int64_t end_ms, uint64_t *readings, jl_error *err)
{
    *readings = 0;
    int64_t air_end = end_ms - cal_floor_mod(end_ms, AIR_STEP_MS);
    int64_t water_end = end_ms - cal_floor_mod(end_ms, WATER_STEP_MS);
    st_batch batch;
    st_batch_init(&batch);
    jl_buf key;
    jl_buf_init(&key);
    int rc = load_table(&batch, &key, air, sizeof air / sizeof air[0], 0x9e3779b97f4a7c15ull,
                        air_end - AIR_DAYS * DAY_MS, air_end, AIR_STEP_MS, 0, err);
    if (rc == JL_OK)
        rc = load_table(&batch, &key, water, sizeof water / sizeof water[0], 0xd1b54a32d192ed03ull,
                        water_end - WATER_DAYS * DAY_MS, water_end, WATER_STEP_MS,
                        previous_month_day(end_ms, 10), err);
    if (rc == JL_OK)
        rc = st_write(store, &batch, err);
    if (rc == JL_OK)
        *readings = st_batch_point_count(&batch);
    jl_buf_destroy(&key);
    st_batch_destroy(&batch);
    return rc;
}
