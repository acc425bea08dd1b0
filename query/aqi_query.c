/* aq_compute(): the HJ 633-2012 index of a set of stations from the store. For each pollutant of
 * a station one qx_query() gives the valid readings' count and sum per minute (series of the
 * station merged, as group_by with no tags does); from those come the hourly values and their
 * validity, and from the hourly values the 1-hour, 8-hour and 24-hour figures each window needs.
 * A second query counts every reading (flags=all) so the answer can say how many were left out.
 * See jialing/aqi.h for the rules and README.md ("Air quality index") for the clauses behind them.
 */
#include "jialing/aqi.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

/* GB 3095-2012 table 4 (and HJ 663 for the daily 8-hour maximum): the least data per figure. */
#define MIN_MINUTES_PER_HOUR 45
#define MIN_HOURS_PER_DAY 20
#define MIN_HOURS_PER_8H 6
#define MIN_8H_PER_DAY 14
#define SO2_LOOKBACK_HOURS 23 /* the 24-hour moving mean ending with an hour */
#define O3_8H_HOURS 8

const char *aq_pollutant_name(aq_pollutant p)
{
    static const char *const names[AQ_POLLUTANT_COUNT] = {"pm25", "pm10", "so2", "no2", "co", "o3"};
    return (unsigned)p < AQ_POLLUTANT_COUNT ? names[p] : "?";
}

const char *aq_column_name(aq_column c)
{
    static const char *const names[AQ_COLUMN_COUNT] = {"pm25", "pm10",  "so2",  "no2",
                                                       "co",   "o3_8h", "o3_1h"};
    return (unsigned)c < AQ_COLUMN_COUNT ? names[c] : "?";
}

/* What one local hour of one pollutant holds. */
typedef struct hour_acc {
    uint32_t minutes; /* distinct minutes with valid readings */
    int single;       /* exactly one reading, in the hour's first minute */
    uint64_t count;   /* valid readings */
    double sum;       /* their sum, with comp its Neumaier compensation */
    double comp;
} hour_acc;

/* Neumaier's compensated sum: a mean of decimal readings (24 times 0.6) comes out as the decimal
 * mean (0.6), not a neighbour of it (0.5999999999999998), which matters to an index that is
 * rounded up. */
static void neumaier_add(double *sum, double *comp, double v)
{
    double t = *sum + v;
    if (fabs(*sum) >= fabs(v))
        *comp += (*sum - t) + v;
    else
        *comp += (v - t) + *sum;
    *sum = t;
}

/* (sum + comp) / n, correct to the last bit in practice: the quotient of the high part, then
 * the remainder (exact by fma) and the compensation divided in as a correction. A plain
 * (sum + comp) / n would round twice (24 times 0.2 gives 0.20000000000000004). */
static double compensated_mean(double sum, double comp, double n)
{
    double m = sum / n;
    double residual = fma(-m, n, sum) + comp;
    return m + residual / n;
}

static int hour_valid(const hour_acc *h)
{
    return h->minutes >= MIN_MINUTES_PER_HOUR || h->single;
}

static double hour_mean(const hour_acc *h)
{
    return compensated_mean(h->sum, h->comp, (double)h->count);
}

/* Sink of the 1-minute query: adds each minute window to its hour. */
typedef struct minute_sink {
    hour_acc *hours;
    size_t hour_count;
    int64_t first_hour_ms;
    uint64_t readings;
} minute_sink;

static int minute_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                        const char *const *columns, size_t column_count)
{
    (void)context, (void)metric, (void)tags, (void)tag_count, (void)columns, (void)column_count;
    return JL_OK;
}

static int minute_end(void *context)
{
    (void)context;
    return JL_OK;
}

static int minute_row(void *context, const qx_cell *cells, size_t cell_count)
{
    minute_sink *sink = context;
    if (cell_count < 3 || cells[0].type != QX_CELL_INT || cells[1].type != QX_CELL_INT ||
        cells[2].type != QX_CELL_DOUBLE)
        return JL_OK; /* fill=none: every row has all three */
    int64_t t = cells[0].as.i;
    if (t < sink->first_hour_ms)
        return JL_OK;
    uint64_t index = (uint64_t)(t - sink->first_hour_ms) / HOUR_MS;
    if (index >= sink->hour_count)
        return JL_OK;
    hour_acc *h = &sink->hours[index];
    uint64_t n = (uint64_t)cells[1].as.i;
    int64_t hour_start = sink->first_hour_ms + (int64_t)index * HOUR_MS;
    h->minutes++;
    h->single = h->minutes == 1 && n == 1 && t == hour_start;
    h->count += n;
    neumaier_add(&h->sum, &h->comp, cells[2].as.d);
    sink->readings += n;
    return JL_OK;
}

/* Sink of the flags=all count query. */
static int count_row(void *context, const qx_cell *cells, size_t cell_count)
{
    uint64_t *total = context;
    if (cell_count >= 2 && cells[1].type == QX_CELL_INT)
        *total += (uint64_t)cells[1].as.i;
    return JL_OK;
}

/* Start of the local hour holding t. */
static int64_t hour_start(const tz_zone *zone, int64_t t)
{
    int64_t local = t + tz_offset_at(zone, t);
    int64_t into = local % HOUR_MS;
    if (into < 0)
        into += HOUR_MS;
    return t - into;
}

/* Adds to marks the review marks whose spans touch [from, to) in the series selector picks. */
static int collect_marks(st_store *store, const char *metric, const aq_station *station,
                         int64_t from, int64_t to, size_t max_series, qx_mark_set *marks,
                         jl_error *err)
{
    st_matcher matchers[QP_MAX_MATCHERS + 1];
    size_t n = qx_selector_matchers(metric, station->matchers, station->matcher_count, matchers);
    return qx_review_marks(store, matchers, n, max_series, from, to, marks, NULL, NULL, err);
}

/* Reads one pollutant of a station: hours[0..hour_count) from first_hour_ms, and the counts. */
static int read_pollutant(st_store *store, const aq_request *request, const aq_station *station,
                          const char *metric, int64_t from, int64_t to, hour_acc *hours,
                          size_t hour_count, uint64_t *valid, uint64_t *all, jl_error *err)
{
    qp_selector selector;
    memset(&selector, 0, sizeof selector);
    selector.metric = (char *)metric; /* borrowed for the call; never destroyed */
    for (size_t i = 0; i < station->matcher_count; i++)
        selector.matchers[i] = station->matchers[i];
    selector.matcher_count = station->matcher_count;

    qx_query_request q;
    memset(&q, 0, sizeof q);
    q.selector = &selector;
    q.from_ms = from;
    q.to_ms = to;
    q.has_window = 1;
    q.flags = request->flags;
    q.window.ms = MINUTE_MS;
    q.aggregates[0] = QX_AGG_COUNT;
    q.aggregates[1] = QX_AGG_SUM;
    q.aggregate_count = 2;
    q.fill = QX_FILL_NONE;
    q.group = 1; /* every series of the station's pollutant merged into one */
    q.limits = request->limits;
    minute_sink minutes = {hours, hour_count, from, 0};
    qx_sink sink = {&minutes, minute_begin, minute_row, minute_end};
    int rc = qx_query(store, &q, &sink, err);
    if (rc != JL_OK)
        return rc;
    *valid = minutes.readings;

    /* Every reading, whatever its flag, to report how many were left out. */
    q.flags = (qx_flag_select){JL_FLAG_MASK_ALL, 0};
    q.window.ms = DAY_MS;
    q.aggregate_count = 1;
    uint64_t total = 0;
    qx_sink counter = {&total, minute_begin, count_row, minute_end};
    rc = qx_query(store, &q, &counter, err);
    *all = total;
    return rc;
}

/* Appends a clause to the row's note ("; " between clauses; cut, never overrun). */
static void note(aq_row *row, const char *format, ...)
{
    size_t used = strlen(row->note);
    if (used + 3 >= sizeof row->note)
        return;
    if (used) {
        memcpy(row->note + used, "; ", 3);
        used += 2;
    }
    va_list args;
    va_start(args, format);
    vsnprintf(row->note + used, sizeof row->note - used, format, args);
    va_end(args);
}

/* Sets column col from concentration c by item; returns the status (AQ_NOT_DEFINED is left to
 * the caller). *missing counts columns without an IAQI that the AQI needs. */
static aq_status put(aq_row *row, aq_column col, aq_item item, double c, int *missing)
{
    int v = 0;
    aq_status status = aq_iaqi(AQ_STANDARD_2012, item, c, &v);
    row->has_value[col] = 1;
    row->value[col] = c;
    switch (status) {
    case AQ_OK:
        break;
    case AQ_ABOVE_RANGE:
        note(row, "%s: %.6g is above the top breakpoint of %s, IAQI 500", aq_column_name(col), c,
             aq_item_name(item));
        break;
    case AQ_NOT_DEFINED:
        return status;
    default:
        note(row, "%s: %.6g is negative, no IAQI", aq_column_name(col), c);
        (*missing)++;
        return status;
    }
    row->has_iaqi[col] = 1;
    row->iaqi[col] = v;
    return status;
}

/* Notes why an hourly value is not valid. */
static void note_hour(aq_row *row, aq_column col, const hour_acc *h)
{
    if (h->minutes == 0)
        note(row, "%s: no valid readings in the hour", aq_column_name(col));
    else
        note(row, "%s: valid readings in %u of 60 minutes (%d needed)", aq_column_name(col),
             (unsigned)h->minutes, MIN_MINUTES_PER_HOUR);
}

/* Mean of the valid hourly values of hours[a..b); returns how many there were. */
static size_t hours_mean(const hour_acc *hours, size_t a, size_t b, double *mean, double *max)
{
    size_t n = 0;
    double sum = 0, comp = 0, top = 0;
    for (size_t i = a; i < b; i++) {
        if (!hour_valid(&hours[i]))
            continue;
        double v = hour_mean(&hours[i]);
        neumaier_add(&sum, &comp, v);
        if (n == 0 || v > top)
            top = v;
        n++;
    }
    if (n) {
        *mean = compensated_mean(sum, comp, (double)n);
        *max = top;
    }
    return n;
}

/* The AQI, level and primary pollutants of a row from its IAQIs, unless some are missing. */
static void finish_row(aq_row *row, int missing)
{
    if (missing)
        return;
    int iaqi[AQ_COLUMN_COUNT];
    aq_column cols[AQ_COLUMN_COUNT];
    unsigned char primary[AQ_COLUMN_COUNT];
    size_t n = 0;
    for (int c = 0; c < AQ_COLUMN_COUNT; c++)
        if (row->has_iaqi[c]) {
            iaqi[n] = row->iaqi[c];
            cols[n++] = (aq_column)c;
        }
    if (n == 0 || aq_aqi(iaqi, n, &row->aqi, primary) < 0)
        return;
    row->has_aqi = 1;
    row->level = aq_level(row->aqi);
    for (size_t i = 0; i < n; i++)
        if (primary[i])
            row->primary |= 1u << (cols[i] >= AQ_C_O3_8H ? AQ_P_O3 : (unsigned)cols[i]);
}

/* The hourly index of hour i (i >= 23: the lookback is read). */
static void hourly_row(hour_acc *const *hours, size_t i, aq_row *row)
{
    int missing = 0;
    static const struct {
        aq_column col;
        aq_pollutant p;
        aq_item item;
    } plain[] = {{AQ_C_PM25, AQ_P_PM25, AQ_PM25_24H},
                 {AQ_C_PM10, AQ_P_PM10, AQ_PM10_24H},
                 {AQ_C_NO2, AQ_P_NO2, AQ_NO2_1H},
                 {AQ_C_CO, AQ_P_CO, AQ_CO_1H},
                 {AQ_C_O3_1H, AQ_P_O3, AQ_O3_1H}};
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++) {
        const hour_acc *h = &hours[plain[k].p][i];
        if (!hour_valid(h)) {
            note_hour(row, plain[k].col, h);
            missing++;
            continue;
        }
        put(row, plain[k].col, plain[k].item, hour_mean(h), &missing);
    }

    /* SO2: its 1-hour value, or above 800 its 24-hour moving mean (Table 1 note 2). */
    const hour_acc *so2 = &hours[AQ_P_SO2][i];
    if (!hour_valid(so2)) {
        note_hour(row, AQ_C_SO2, so2);
        missing++;
    } else {
        double c = hour_mean(so2);
        int v = 0;
        if (aq_iaqi(AQ_STANDARD_2012, AQ_SO2_1H, c, &v) != AQ_NOT_DEFINED) {
            put(row, AQ_C_SO2, AQ_SO2_1H, c, &missing);
        } else {
            double mean = 0, max = 0;
            size_t n = hours_mean(hours[AQ_P_SO2], i - SO2_LOOKBACK_HOURS, i + 1, &mean, &max);
            if (n >= MIN_HOURS_PER_DAY) {
                note(row, "so2: 1-hour value %.6g is above 800, IAQI from the 24-hour mean", c);
                put(row, AQ_C_SO2, AQ_SO2_24H, mean, &missing);
            } else {
                note(row,
                     "so2: 1-hour value %.6g is above 800 and the 24-hour mean has %zu valid "
                     "hourly values (%d needed)",
                     c, n, MIN_HOURS_PER_DAY);
                missing++;
            }
        }
    }

    /* O3 8-hour moving mean: this hour and the 7 before. */
    double mean = 0, max = 0;
    size_t n = hours_mean(hours[AQ_P_O3], i + 1 - O3_8H_HOURS, i + 1, &mean, &max);
    if (n < MIN_HOURS_PER_8H) {
        note(row, "o3_8h: %zu valid hourly values in 8 (%d needed)", n, MIN_HOURS_PER_8H);
        missing++;
    } else if (put(row, AQ_C_O3_8H, AQ_O3_8H, mean, &missing) == AQ_NOT_DEFINED) {
        note(row, "o3_8h: %.6g is above 800, ozone counts by its 1-hour IAQI", mean);
    }
    finish_row(row, missing);
}

/* The daily index of the day made of hours [a, b). */
static void daily_row(hour_acc *const *hours, size_t a, size_t b, aq_row *row)
{
    int missing = 0;
    static const struct {
        aq_column col;
        aq_pollutant p;
        aq_item item;
    } means[] = {{AQ_C_PM25, AQ_P_PM25, AQ_PM25_24H},
                 {AQ_C_PM10, AQ_P_PM10, AQ_PM10_24H},
                 {AQ_C_SO2, AQ_P_SO2, AQ_SO2_24H},
                 {AQ_C_NO2, AQ_P_NO2, AQ_NO2_24H},
                 {AQ_C_CO, AQ_P_CO, AQ_CO_24H}};
    for (size_t k = 0; k < sizeof means / sizeof means[0]; k++) {
        double mean = 0, max = 0;
        size_t n = hours_mean(hours[means[k].p], a, b, &mean, &max);
        if (n < MIN_HOURS_PER_DAY) {
            note(row, "%s: %zu valid hourly values of %zu (%d needed)",
                 aq_column_name(means[k].col), n, b - a, MIN_HOURS_PER_DAY);
            missing++;
            continue;
        }
        put(row, means[k].col, means[k].item, mean, &missing);
    }

    /* O3 daily maximum 8-hour mean: the 8-hour means ending at local 08:00 .. 24:00. */
    size_t valid8 = 0, windows8 = 0;
    double best = 0;
    for (size_t end = a + O3_8H_HOURS; end <= b; end++) {
        double mean = 0, max = 0;
        windows8++;
        if (hours_mean(hours[AQ_P_O3], end - O3_8H_HOURS, end, &mean, &max) < MIN_HOURS_PER_8H)
            continue;
        if (valid8 == 0 || mean > best)
            best = mean;
        valid8++;
    }
    if (valid8 < MIN_8H_PER_DAY) {
        note(row, "o3_8h: %zu valid 8-hour means of %zu (%d needed)", valid8, windows8,
             MIN_8H_PER_DAY);
        missing++;
    } else if (put(row, AQ_C_O3_8H, AQ_O3_8H, best, &missing) == AQ_NOT_DEFINED) {
        note(row, "o3_8h: %.6g is above 800, ozone counts by its 1-hour IAQI", best);
    }

    /* O3 daily maximum 1-hour value. */
    double mean = 0, max = 0;
    size_t n = hours_mean(hours[AQ_P_O3], a, b, &mean, &max);
    if (n < MIN_HOURS_PER_DAY) {
        note(row, "o3_1h: %zu valid hourly values of %zu (%d needed)", n, b - a, MIN_HOURS_PER_DAY);
        missing++;
    } else {
        put(row, AQ_C_O3_1H, AQ_O3_1H, max, &missing);
    }
    finish_row(row, missing);
}

/* One station: read, then emit its rows. */
static int compute_station(st_store *store, const aq_request *request, size_t index,
                           const int64_t *starts, size_t window_count, int64_t read_from,
                           int64_t read_to, hour_acc **hours, size_t hour_count, qx_mark_set *marks,
                           const aq_sink *sink, jl_error *err)
{
    const aq_station *station = &request->stations[index];
    aq_station_stats stats;
    memset(&stats, 0, sizeof stats);
    marks->count = 0; /* this station's marks; the buffer is reused across stations */
    int rc = JL_OK;
    for (int p = 0; p < AQ_POLLUTANT_COUNT && rc == JL_OK; p++) {
        const char *metric =
            station->metrics[p] ? station->metrics[p] : aq_pollutant_name((aq_pollutant)p);
        memset(hours[p], 0, hour_count * sizeof *hours[p]);
        uint64_t all = 0;
        rc = read_pollutant(store, request, station, metric, read_from, read_to, hours[p],
                            hour_count, &stats.valid[p], &all, err);
        stats.invalid[p] = all > stats.valid[p] ? all - stats.valid[p] : 0;
        if (rc == JL_OK)
            rc = collect_marks(store, metric, station, read_from, read_to,
                               request->limits.max_series, marks, err);
    }
    if (rc != JL_OK)
        return rc;
    if ((rc = sink->station_begin(sink->context, index)) != JL_OK)
        return rc;
    for (size_t w = 0; w < window_count && rc == JL_OK; w++) {
        aq_row row;
        memset(&row, 0, sizeof row);
        row.time_ms = starts[w];
        row.standard = AQ_STANDARD_2012;
        size_t a = (size_t)((starts[w] - read_from) / HOUR_MS);
        if (request->window == AQ_WINDOW_HOUR) {
            hourly_row(hours, a, &row);
        } else {
            size_t b = (size_t)((starts[w + 1] - read_from) / HOUR_MS);
            daily_row(hours, a, b, &row);
        }
        rc = sink->row(sink->context, &row);
    }
    if (rc != JL_OK)
        return rc;
    stats.review_marks = marks->ids;
    stats.review_mark_count = marks->count;
    stats.read_from_ms = read_from;
    stats.read_to_ms = read_to;
    return sink->station_end(sink->context, index, &stats);
}

/* The windows overlapping [from, to): starts[0..*count] (one more: the end of the last), and
 * the range of hours to read. */
static int window_grid(const aq_request *request, int64_t **starts, size_t *count,
                       int64_t *read_from, int64_t *read_to, jl_error *err)
{
    const tz_zone *zone = request->zone;
    int64_t first, step_guess;
    if (request->window == AQ_WINDOW_HOUR) {
        first = hour_start(zone, request->from_ms);
        step_guess = HOUR_MS;
    } else {
        first = tz_unit_start(zone, TZ_UNIT_DAY, 1, request->from_ms);
        step_guess = 23 * HOUR_MS;
    }
    size_t cap = (size_t)((request->to_ms - first) / step_guess) + 3;
    int64_t *list = malloc(cap * sizeof *list);
    if (list == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory for the window grid");
    size_t n = 0;
    int64_t t = first;
    while (t < request->to_ms && n + 1 < cap) {
        list[n++] = t;
        t = request->window == AQ_WINDOW_HOUR ? t + HOUR_MS : tz_unit_next(zone, TZ_UNIT_DAY, 1, t);
    }
    list[n] = t;
    *starts = list;
    *count = n;
    *read_from = request->window == AQ_WINDOW_HOUR ? first - SO2_LOOKBACK_HOURS * HOUR_MS : first;
    *read_to = t;
    if (request->window == AQ_WINDOW_DAY) {
        /* Each day must be whole hours of the grid (true of every zone whose offsets are whole
         * or half hours that do not change by a fraction of an hour). */
        for (size_t i = 0; i <= n; i++)
            if ((list[i] - first) % HOUR_MS != 0)
                return jl_error_set(err, JL_EINVAL,
                                    "parameter tz: the days of this zone do not start on its "
                                    "hours, which the daily index is built from");
    }
    return JL_OK;
}

int aq_compute(st_store *store, const aq_request *request, const aq_sink *sink, jl_error *err)
{
    if (request->station_count == 0)
        return jl_error_set(err, JL_EINVAL, "parameter select: no station to compute");
    for (size_t s = 0; s < request->station_count; s++)
        if (request->stations[s].matcher_count > QP_MAX_MATCHERS)
            return jl_error_set(err, JL_EINVAL, "parameter select: more than %d tag conditions",
                                QP_MAX_MATCHERS);
    if (request->zone == NULL)
        return jl_error_set(err, JL_EINVAL, "parameter tz: a time zone is required");
    if (request->from_ms >= request->to_ms)
        return jl_error_set(err, JL_EINVAL, "parameter from: must be before to");
    if (request->to_ms - request->from_ms > AQ_MAX_RANGE_MS)
        return jl_error_set(err, JL_ELIMIT,
                            "parameter to: the range is longer than %lld days; ask for less",
                            (long long)(AQ_MAX_RANGE_MS / DAY_MS));
    int64_t *starts = NULL;
    size_t window_count = 0;
    int64_t read_from = 0, read_to = 0;
    int rc = window_grid(request, &starts, &window_count, &read_from, &read_to, err);
    if (rc == JL_OK && window_count > 0) {
        aq_standard last = aq_standard_for_time(starts[window_count - 1]);
        if (request->standard == AQ_CHOOSE_2026 ||
            (request->standard == AQ_CHOOSE_AUTO && !aq_standard_available(last)))
            rc = jl_error_set(
                err, JL_EINVAL,
                "parameter standard: %s applies HJ 633-2026 (GB 3095-2026) %s, but its "
                "breakpoint tables are not available in this build (the standard's text could "
                "not be obtained, and breakpoints are not guessed); use standard=2012 to compute "
                "under HJ 633-2012, or a range before 2026-03-01 (Beijing time)",
                request->standard == AQ_CHOOSE_2026 ? "standard=2026" : "auto",
                request->standard == AQ_CHOOSE_2026 ? "to every window"
                                                    : "from 2026-03-01 (Beijing time)");
    }
    uint64_t max_rows = request->limits.max_rows ? request->limits.max_rows : QX_DEFAULT_MAX_ROWS;
    if (rc == JL_OK && (uint64_t)window_count * request->station_count > max_rows)
        rc = jl_error_set(err, JL_ELIMIT,
                          "the answer would hold %llu rows, more than the limit of %llu; ask for "
                          "fewer stations or a shorter range",
                          (unsigned long long)window_count * request->station_count,
                          (unsigned long long)max_rows);
    size_t hour_count = (size_t)((read_to - read_from) / HOUR_MS);
    hour_acc *hours[AQ_POLLUTANT_COUNT] = {0};
    qx_mark_set marks = {0};
    for (int p = 0; p < AQ_POLLUTANT_COUNT && rc == JL_OK; p++)
        if ((hours[p] = calloc(hour_count ? hour_count : 1, sizeof *hours[p])) == NULL)
            rc = jl_error_set(err, JL_ENOMEM, "out of memory for the hourly values");
    for (size_t s = 0; s < request->station_count && rc == JL_OK; s++)
        rc = compute_station(store, request, s, starts, window_count, read_from, read_to, hours,
                             hour_count, &marks, sink, err);
    for (int p = 0; p < AQ_POLLUTANT_COUNT; p++)
        free(hours[p]);
    qx_mark_set_free(&marks);
    free(starts);
    return rc;
}
