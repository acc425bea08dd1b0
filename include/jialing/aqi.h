/* The air quality index of HJ 633-2012 (环境空气质量指数(AQI)技术规定(试行)): its breakpoint
 * table, the individual index (IAQI) of one concentration, the AQI of a set of them, and the
 * level, category, colour and primary pollutants of an AQI. Pure functions over numbers, no store
 * and no allocation; reentrant. Implemented in query/aqi.c; docs/readme-parts/aqi.md cites the
 * clause behind each rule.
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
 * the two breakpoints around c), rounded up to the next integer (an exact integer stays). The
 * rounding is decided with exact arithmetic on the breakpoints (all integers), so a result that
 * is a whole number in decimal is never pushed up by binary rounding (PM10 130 gives 90).
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

#endif
