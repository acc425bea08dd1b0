/* HJ 212 data messages to readings: pollutant codes to metric names, the tags mn and cn, the
 * DataTime in the logger's time zone to UTC milliseconds, and -Flag letters to stored flag
 * codes (include/jialing/hj212.h). */
#include "jialing/calendar.h"
#include "jialing/flag.h"
#include "jialing/hj212.h"
#include "jialing/serieskey.h"

#include <stdio.h>
#include <string.h>

typedef struct hj_code_name {
    const char *code;
    const char *metric;
} hj_code_name;

/* HJ 212-2017 appendix B codes for the parameters environmental agencies assess (GB 3095 air,
 * GB 3838 surface water), and the 2005 edition's codes still sent by older loggers. */
static const hj_code_name HJ_CODE_NAMES[] = {
    {"a34004", "pm25"},
    {"a34002", "pm10"},
    {"a21026", "so2"},
    {"a21004", "no2"},
    {"a21005", "co"},
    {"a05024", "o3"},
    {"w21003", "nh3n"},
    {"w01018", "cod"},
    {"w01019", "codmn"},
    {"w21011", "tp"},
    {"w21001", "tn"},
    {"w01009", "do"},
    {"w01001", "ph"},
    {"w01010", "water_temp"},
    {"w01014", "conductivity"},
    {"w01003", "turbidity"},
    {"011", "cod"},
    {"060", "nh3n"},
    {"101", "tp"},
    {"065", "tn"},
    {"B01", "flow"},
};

const char *hj_metric_for_code(const char *code)
{
    for (size_t i = 0; i < sizeof HJ_CODE_NAMES / sizeof *HJ_CODE_NAMES; i++)
        if (strcmp(HJ_CODE_NAMES[i].code, code) == 0)
            return HJ_CODE_NAMES[i].metric;
    return NULL;
}

/* The UTC milliseconds of a civil DataTime read at utc_offset_ms east of UTC. */
static int hj_datatime_ms(const hj_datetime *t, int64_t utc_offset_ms, int64_t *ms, jl_error *err)
{
    if (t->month < 1 || t->month > 12 || t->day < 1 ||
        t->day > cal_days_in_month(t->year, t->month) || t->hour > 23 || t->minute > 59 ||
        t->second > 59 || t->ms < 0 || t->ms > 999 || t->hour < 0 || t->minute < 0 || t->second < 0)
        return jl_error_set(
            err, JL_EINVAL,
            "CP: DataTime %04d-%02d-%02d %02d:%02d:%02d is not a real date and time", t->year,
            t->month, t->day, t->hour, t->minute, t->second);
    int64_t days = cal_days_from_civil(t->year, (unsigned)t->month, (unsigned)t->day);
    *ms = days * 86400000 + t->hour * 3600000LL + t->minute * 60000LL + t->second * 1000LL + t->ms -
          utc_offset_ms;
    return JL_OK;
}

/* The stored flag code of a -Flag letter (0: absent). */
static int hj_flag_code(const hj_pollutant *p, uint8_t *code, jl_error *err)
{
    if (p->flag == 0) {
        *code = JL_FLAG_N;
        return JL_OK;
    }
    /* HJ 212-2005's P (power failure) is a fault of the station: its values are not valid. */
    int c = p->flag == 'P' ? JL_FLAG_D : jl_flag_from_letter(p->flag);
    if (c < 0)
        return jl_error_set(err, JL_EINVAL,
                            "CP: %s-Flag: \"%c\" is not an HJ 212 data flag (N F M S D C T B, or "
                            "P from the 2005 edition)",
                            p->code, p->flag);
    *code = (uint8_t)c;
    return JL_OK;
}

/* Adds one reading of metric base + suffix, tags mn and cn. */
static int hj_add(const hj_segment *seg, const char *base, const char *suffix, int64_t ms,
                  double value, uint8_t flag, st_batch *batch, jl_buf *key, jl_error *err)
{
    char metric[HJ_CODE_MAX + 32];
    snprintf(metric, sizeof metric, "%s%s", base, suffix);
    sk_tag tags[2] = {
        {{"cn", 2}, {seg->cn, strlen(seg->cn)}},
        {{"mn", 2}, {seg->mn, strlen(seg->mn)}},
    };
    key->len = 0;
    jl_error local;
    int rc = sk_build((sk_text){metric, strlen(metric)}, tags, 2, key, &local);
    if (rc != JL_OK)
        return jl_error_set(err, rc, "CP: %s: %s", metric, local.message);
    uint32_t index;
    if (st_batch_series(batch, key->data, key->len, &index) != JL_OK ||
        st_batch_point_flagged(batch, index, ms, value, flag) != JL_OK)
        return jl_error_set(err, JL_ENOMEM, "out of memory adding an HJ 212 reading");
    return JL_OK;
}

int hj_segment_to_batch(const hj_segment *seg, int64_t utc_offset_ms, st_batch *batch,
                        size_t *added, jl_error *err)
{
    *added = 0;
    int realtime = strcmp(seg->cn, "2011") == 0;
    int interval = strcmp(seg->cn, "2051") == 0 || strcmp(seg->cn, "2061") == 0 ||
                   strcmp(seg->cn, "2031") == 0;
    if (!realtime && !interval)
        return JL_OK;
    if (!seg->has_datatime)
        return jl_error_set(err, JL_EINVAL, "CP: CN %s data without DataTime", seg->cn);
    int64_t ms = 0;
    int rc = hj_datatime_ms(&seg->datatime, utc_offset_ms, &ms, err);
    if (rc != JL_OK)
        return rc;
    jl_buf key;
    jl_buf_init(&key);
    for (size_t i = 0; rc == JL_OK && i < seg->pollutant_count; i++) {
        const hj_pollutant *p = &seg->pollutants[i];
        uint8_t flag = JL_FLAG_N;
        rc = hj_flag_code(p, &flag, err);
        if (rc != JL_OK)
            break;
        char derived[HJ_CODE_MAX + 8];
        const char *metric = hj_metric_for_code(p->code);
        if (metric == NULL) {
            snprintf(derived, sizeof derived, "hj212_%s", p->code);
            metric = derived;
        }
        size_t before = st_batch_point_count(batch);
        if (realtime && (p->have & HJ_HAVE_RTD))
            rc = hj_add(seg, metric, "", ms, p->rtd, flag, batch, &key, err);
        if (interval && rc == JL_OK && (p->have & HJ_HAVE_AVG))
            rc = hj_add(seg, metric, "", ms, p->avg, flag, batch, &key, err);
        if (interval && rc == JL_OK && (p->have & HJ_HAVE_MIN))
            rc = hj_add(seg, metric, "_min", ms, p->min, flag, batch, &key, err);
        if (interval && rc == JL_OK && (p->have & HJ_HAVE_MAX))
            rc = hj_add(seg, metric, "_max", ms, p->max, flag, batch, &key, err);
        if (interval && rc == JL_OK && (p->have & HJ_HAVE_COU))
            rc = hj_add(seg, metric, "_cou", ms, p->cou, flag, batch, &key, err);
        *added += st_batch_point_count(batch) - before;
    }
    jl_buf_destroy(&key);
    return rc;
}
