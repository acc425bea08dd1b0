/* The air quality index of HJ 633-2012 (环境空气质量指数(AQI)技术规定(试行)).
 *
 * First part (query/aqi.c): its breakpoint table, the individual index (IAQI) of one
 * concentration, the AQI of a set of them, and the level, category, colour and primary pollutants
 * of an AQI. Pure functions over numbers, no store and no allocation; reentrant.
 *
 * Second part (query/aqi_query.c): aq_compute(), the hourly or daily index of a set of stations
 * computed from the store's valid readings (qx_query() underneath: 1-minute counts and sums, then
 * the hourly, 24-hour, 8-hour and daily-maximum rules of GB 3095-2012 table 4 and HJ 633-2012).
 *
 * README.md ("Air quality index") cites the clause behind each rule.
 *
 * Units are those of the standard: µg/m³ for every pollutant but CO, which is mg/m³.
 *
 * HJ 633-2026 (with the phases of GB 3095-2026) is named here so that requests can ask for it,
 * but its breakpoint tables are not built in: the standard's own text could not be obtained
 * (see the doc fragment for what was searched), and breakpoints are not to be guessed. Every
 * function given AQ_STANDARD_2026_* answers AQ_NOT_AVAILABLE. */
#ifndef JIALING_AQI_H
#define JIALING_AQI_H

#include <stddef.h>
#include <stdint.h>

#include "jialing/common.h"
#include "jialing/params.h"
#include "jialing/query.h"
#include "jialing/store.h"
#include "jialing/tz.h"

/* The rows of HJ 633-2012 Table 1, one per concentration kind. */
typedef enum aq_item {
    AQ_SO2_24H = 0, /* SO2 24-hour mean */
    AQ_SO2_1H,      /* SO2 1-hour mean (real-time report only; defined up to 800) */
    AQ_NO2_24H,
    AQ_NO2_1H,
    AQ_PM10_24H,
    AQ_CO_24H, /* mg/m³ */
    AQ_CO_1H,  /* mg/m³ */
    AQ_O3_1H,
    AQ_O3_8H, /* O3 8-hour mean (defined up to 800) */
    AQ_PM25_24H,
    AQ_ITEM_COUNT
} aq_item;

/* Which standard a window is computed under. */
typedef enum aq_standard {
    AQ_STANDARD_2012 = 0,          /* HJ 633-2012 with GB 3095-2012 */
    AQ_STANDARD_2026_TRANSITIONAL, /* HJ 633-2026, GB 3095-2026 phase 1 (2026-03-01..2030-12-31) */
    AQ_STANDARD_2026_FINAL         /* HJ 633-2026, GB 3095-2026 final limits (from 2031-01-01) */
} aq_standard;

/* Results of aq_iaqi(). */
typedef enum aq_status {
    AQ_OK = 0,
    AQ_ABOVE_RANGE,   /* above the top breakpoint (IAQI 500): *iaqi is set to 500 */
    AQ_NOT_DEFINED,   /* SO2 1-hour above 800, O3 8-hour above 800: Table 1 computes no IAQI from
                         it (notes 2 and 3); *iaqi untouched */
    AQ_NEGATIVE,      /* a negative (or non-finite) concentration: no IAQI; *iaqi untouched */
    AQ_NOT_AVAILABLE, /* the standard's table is not built in (HJ 633-2026); *iaqi untouched */
    AQ_BAD_ITEM       /* item outside the enum */
} aq_status;

/* Start instants (epoch ms, UTC) of the GB 3095-2026 phases, Beijing time (UTC+8) midnights:
 * 2026-03-01T00:00+08:00 and 2031-01-01T00:00+08:00. */
#define AQ_2026_START_MS 1772294400000LL
#define AQ_2031_START_MS 1924963200000LL

/* Returns the standard `auto` applies to a window starting at utc_ms: 2012 before
 * AQ_2026_START_MS, the 2026 transitional phase before AQ_2031_START_MS, the final phase after. */
aq_standard aq_standard_for_time(int64_t utc_ms);

/* Returns the standard's label ("HJ 633-2012", "HJ 633-2026 (GB 3095-2026 phase 1)", "HJ
 * 633-2026 (GB 3095-2026 final)"; "?" outside the enum), a static string. */
const char *aq_standard_name(aq_standard standard);

/* Returns 1 when the standard's breakpoint tables are built in (only AQ_STANDARD_2012), else 0. */
int aq_standard_available(aq_standard standard);

/* Returns the item's column-style name ("so2_24h", "so2_1h", ..., "pm25_24h"), "?" outside the
 * enum; static. */
const char *aq_item_name(aq_item item);

/* The breakpoints of an item: concentrations for IAQI 0, 50, 100, 150, 200, 300, 400, 500.
 * *count is how many are defined (8, or 5 for SO2 1-hour, 6 for O3 8-hour). Returns AQ_OK, or
 * AQ_NOT_AVAILABLE / AQ_BAD_ITEM (nothing set). The pointer is to static data. */
aq_status aq_breakpoints(aq_standard standard, aq_item item, const double **concentrations,
                         size_t *count);

/* The IAQI levels of Table 1: 0, 50, 100, 150, 200, 300, 400, 500. */
extern const int aq_iaqi_levels[8];

/* The individual index of concentration c for item: formula (1) of HJ 633-2012 (linear between
 * the two breakpoints around c), rounded up to the next integer (an exact integer stays). c is
 * taken as the shortest decimal that reads back to it (what the API prints), and the rounding is
 * decided in exact integer arithmetic on that decimal and the breakpoints (all integers), so a
 * whole result is never pushed up by binary rounding (PM10 130 gives 90, CO 1-hour 1.1 gives 11).
 * Returns AQ_OK with *iaqi set, or a status above. */
aq_status aq_iaqi(aq_standard standard, aq_item item, double c, int *iaqi);

/* Returns the level (1..6, Table 2 of HJ 633-2012) of an AQI: 0-50 1, 51-100 2, 101-150 3,
 * 151-200 4, 201-300 5, above 300 6; 0 for a negative AQI. */
int aq_level(int aqi);

/* Category of a level (1..6): "优", "良", "轻度污染", "中度污染", "重度污染", "严重污染" (UTF-8);
 * "?" otherwise; static. */
const char *aq_category_zh(int level);

/* English category of a level: "Excellent", "Good", "Lightly polluted", "Moderately polluted",
 * "Heavily polluted", "Severely polluted"; "?" otherwise; static. */
const char *aq_category_en(int level);

/* Colour of a level as "#RRGGBB" (HJ 633-2012 Appendix A, RGB): #00E400 green, #FFFF00 yellow,
 * #FF7E00 orange, #FF0000 red, #99004C purple, #7E0023 maroon; "?" otherwise; static. */
const char *aq_color(int level);

/* The AQI of count individual indices (count >= 1): their maximum. Sets *aqi and marks in
 * primary[i] (count entries, required) the indices equal to it when the AQI is above 50 (all of
 * them when tied); when the AQI is 50 or less no pollutant is primary and every entry is 0.
 * Returns the number of primary entries, or -1 when count is 0. */
int aq_aqi(const int *iaqi, size_t count, int *aqi, unsigned char *primary);

/* ---------- computing the index from the store (query/aqi_query.c) ---------- */

/* The six pollutants, in the order of the answer's columns. */
typedef enum aq_pollutant {
    AQ_P_PM25 = 0,
    AQ_P_PM10,
    AQ_P_SO2,
    AQ_P_NO2,
    AQ_P_CO,
    AQ_P_O3,
    AQ_POLLUTANT_COUNT
} aq_pollutant;

/* Returns the pollutant's default metric name ("pm25", "pm10", "so2", "no2", "co", "o3"), also
 * its name in the answer; "?" outside the enum; static. */
const char *aq_pollutant_name(aq_pollutant p);

/* The concentration columns of a row: one per pollutant, ozone twice (its 8-hour and 1-hour
 * values), in this order. */
typedef enum aq_column {
    AQ_C_PM25 = 0,
    AQ_C_PM10,
    AQ_C_SO2,
    AQ_C_NO2,
    AQ_C_CO,
    AQ_C_O3_8H,
    AQ_C_O3_1H,
    AQ_COLUMN_COUNT
} aq_column;

/* Returns the column's name ("pm25", "pm10", "so2", "no2", "co", "o3_8h", "o3_1h"); "?" outside
 * the enum; static. */
const char *aq_column_name(aq_column c);

/* One station: the tag conditions that select its series (with each pollutant's metric name). */
typedef struct aq_station {
    const qp_matcher *matchers; /* ANDed; at least one non-negated; borrowed for the call */
    size_t matcher_count;       /* <= QP_MAX_MATCHERS */
    const char *metrics[AQ_POLLUTANT_COUNT]; /* metric of each pollutant; NULL: its default name */
} aq_station;

typedef enum aq_window { AQ_WINDOW_HOUR = 0, AQ_WINDOW_DAY } aq_window;

/* standard=: auto follows the date (aq_standard_for_time() of each window's start). */
typedef enum aq_choice { AQ_CHOOSE_AUTO = 0, AQ_CHOOSE_2012, AQ_CHOOSE_2026 } aq_choice;

/* Longest range one request may cover. */
#define AQ_MAX_RANGE_MS (367LL * 86400000)

/* What aq_compute() computes; every pointer borrowed for the call. */
typedef struct aq_request {
    const aq_station *stations;
    size_t station_count; /* >= 1 */
    int64_t from_ms;      /* windows overlapping [from_ms, to_ms) are answered */
    int64_t to_ms;
    aq_window window;
    const tz_zone *zone; /* required: hours and days follow its local clock */
    aq_choice standard;
    qx_flag_select flags; /* the readings counted as valid (flags=valid: the server's set) */
    qx_limits limits;     /* handed to every qx_query() */
} aq_request;

/* One answered window. A value is present when its has_ flag is 1. */
typedef struct aq_row {
    int64_t time_ms;      /* window start */
    aq_standard standard; /* the standard it was computed under */
    int has_aqi;
    int aqi;
    int level;        /* 1..6 when has_aqi */
    unsigned primary; /* bit (1u << aq_pollutant): primary pollutants */
    unsigned char has_iaqi[AQ_COLUMN_COUNT];
    int iaqi[AQ_COLUMN_COUNT];
    unsigned char has_value[AQ_COLUMN_COUNT];
    double value[AQ_COLUMN_COUNT]; /* the concentration that fed the IAQI */
    char note[768];                /* "" or why values are missing or special */
} aq_row;

/* Per station, what the answer was computed from. */
typedef struct aq_station_stats {
    uint64_t valid[AQ_POLLUTANT_COUNT];   /* valid readings read (lookback included) */
    uint64_t invalid[AQ_POLLUTANT_COUNT]; /* readings in the same range left out as not valid */
    const uint64_t *review_marks;         /* ids of the review marks whose spans touch the range,
                                             ascending; borrowed for the callback */
    size_t review_mark_count;
    int64_t read_from_ms; /* the range read: [read_from_ms, read_to_ms) */
    int64_t read_to_ms;
} aq_station_stats;

/* Where aq_compute() puts its answer: per station, begin, rows in time order, end. Callbacks
 * return JL_OK to go on, or an error code that stops the computation and is returned. */
typedef struct aq_sink {
    void *context;
    int (*station_begin)(void *context, size_t station);
    int (*row)(void *context, const aq_row *row);
    int (*station_end)(void *context, size_t station, const aq_station_stats *stats);
} aq_sink;

/* Computes the index of every station over the windows (local hours or days of zone) that
 * overlap [from_ms, to_ms), each from whole windows of data (a moving mean reads up to 23 hours
 * before from_ms). Rules (README.md, "Air quality index"):
 * - an hourly value is valid when its hour holds valid readings in at least 45 distinct minutes,
 *   or holds exactly one reading, in its first minute (an hourly value written as one reading);
 * - hourly index: 1-hour values of every pollutant (PM2.5 and PM10 against their 24-hour rows,
 *   SO2 NO2 CO O3 against their 1-hour rows), and the O3 8-hour moving mean of that hour and the
 *   7 before (>= 6 valid); an SO2 1-hour value above 800 is replaced by the SO2 24-hour moving
 *   mean (that hour and the 23 before, >= 20 valid);
 * - daily index: 24-hour means of PM2.5 PM10 SO2 NO2 CO (>= 20 valid hourly values), the O3
 *   daily maximum 1-hour value (>= 20 valid hours) and the O3 daily maximum 8-hour mean (the 8-hour
 *   means ending at local 08:00..24:00, each needing >= 6 valid hours, >= 14 of them valid);
 * - an O3 8-hour value above 800 gets no IAQI: ozone counts by its 1-hour IAQI;
 * - the AQI needs every pollutant's IAQI; otherwise it is null and note says why.
 * Returns JL_OK; JL_EINVAL (no station, more than QP_MAX_MATCHERS conditions, from not before
 * to, a zone whose hours do not fall on its days, or a window under a standard whose tables are
 * not built in: HJ 633-2026, by standard=2026 or by auto from 2026-03-01); JL_ELIMIT (a range
 * longer than AQ_MAX_RANGE_MS, more rows than limits.max_rows [2,000,000], or qx_query's
 * limits); JL_ENOMEM; a store or query error; or a
 * sink's code. */
int aq_compute(st_store *store, const aq_request *request, const aq_sink *sink, jl_error *err);

#endif
