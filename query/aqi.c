/* HJ 633-2012 in numbers: Table 1 (breakpoints), formula (1) (IAQI), the AQI as the largest
 * IAQI, Table 2 (levels and categories) and Appendix A (colours). See jialing/aqi.h. */
#include "jialing/aqi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const int aq_iaqi_levels[8] = {0, 50, 100, 150, 200, 300, 400, 500};

/* HJ 633-2012 Table 1, one row per item, concentrations for IAQI 0..500; rows shorter than 8
 * (SO2 1-hour, O3 8-hour) stop where the table stops (notes 2 and 3: above that no IAQI is
 * computed from them). CO in mg/m³, the rest µg/m³. Every breakpoint is an integer, which is
 * what lets aq_iaqi() round up exactly. */
typedef struct row {
    double c[8];
    size_t count;
} row;

static const row table_2012[AQ_ITEM_COUNT] = {
    [AQ_SO2_24H] = {{0, 50, 150, 475, 800, 1600, 2100, 2620}, 8},
    [AQ_SO2_1H] = {{0, 150, 500, 650, 800}, 5},
    [AQ_NO2_24H] = {{0, 40, 80, 180, 280, 565, 750, 940}, 8},
    [AQ_NO2_1H] = {{0, 100, 200, 700, 1200, 2340, 3090, 3840}, 8},
    [AQ_PM10_24H] = {{0, 50, 150, 250, 350, 420, 500, 600}, 8},
    [AQ_CO_24H] = {{0, 2, 4, 14, 24, 36, 48, 60}, 8},
    [AQ_CO_1H] = {{0, 5, 10, 35, 60, 90, 120, 150}, 8},
    [AQ_O3_1H] = {{0, 160, 200, 300, 400, 800, 1000, 1200}, 8},
    [AQ_O3_8H] = {{0, 100, 160, 215, 265, 800}, 6},
    [AQ_PM25_24H] = {{0, 35, 75, 115, 150, 250, 350, 500}, 8},
};

/* ceil(span * (c - low) / den) for low <= c <= low + den (low, den integers, den > 0), with c
 * taken as the shortest decimal that reads back to it (what it prints as): in binary 1.1 is a
 * little above 1.1, and 10 * 1.1 rounded up would give 12 where the standard's arithmetic on the
 * decimal 1.1 gives 11. c = n / 10^k exactly, then integer arithmetic in 128 bits. */
static int round_up_part(double c, long long low, long long den, int span)
{
    char text[40];
    int precision = 15;
    for (; precision < 17; precision++) {
        snprintf(text, sizeof text, "%.*e", precision - 1, c);
        if (strtod(text, NULL) == c)
            break;
    }
    snprintf(text, sizeof text, "%.*e", precision - 1, c);
    /* text is "d.ddd...e[+-]XX": digits, then the decimal exponent. */
    long long digits = 0;
    int count = 0;
    const char *p = text;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') {
            digits = digits * 10 + (*p - '0');
            count++;
        }
    int exponent = *p == 'e' ? atoi(p + 1) : 0;
    int scale = exponent - (count - 1); /* c = digits * 10^scale */
    while (scale < 0 && digits % 10 == 0) {
        digits /= 10;
        scale++;
    }
    if (scale < -25) {
        /* Below 1e-8 or so: too small for the integers; the double formula cannot be wrong by
         * a whole unit here. */
        double part = ceil((double)span * (c - (double)low) / (double)den);
        return (int)part;
    }
    __int128 n = digits, ten_k = 1;
    for (int k = 0; k < scale; k++)
        n *= 10;
    for (int k = 0; k < -scale; k++)
        ten_k *= 10;
    __int128 num = (__int128)span * (n - (__int128)low * ten_k);
    __int128 d = (__int128)den * ten_k;
    if (num <= 0)
        return 0;
    return (int)((num + d - 1) / d);
}

aq_standard aq_standard_for_time(int64_t utc_ms)
{
    if (utc_ms < AQ_2026_START_MS)
        return AQ_STANDARD_2012;
    if (utc_ms < AQ_2031_START_MS)
        return AQ_STANDARD_2026_TRANSITIONAL;
    return AQ_STANDARD_2026_FINAL;
}

const char *aq_standard_name(aq_standard standard)
{
    switch (standard) {
    case AQ_STANDARD_2012:
        return "HJ 633-2012";
    case AQ_STANDARD_2026_TRANSITIONAL:
        return "HJ 633-2026 (GB 3095-2026 phase 1)";
    case AQ_STANDARD_2026_FINAL:
        return "HJ 633-2026 (GB 3095-2026 final)";
    }
    return "?";
}

int aq_standard_available(aq_standard standard)
{
    return standard == AQ_STANDARD_2012;
}

const char *aq_item_name(aq_item item)
{
    static const char *const names[AQ_ITEM_COUNT] = {"so2_24h",  "so2_1h",  "no2_24h", "no2_1h",
                                                     "pm10_24h", "co_24h",  "co_1h",   "o3_1h",
                                                     "o3_8h",    "pm25_24h"};
    return (unsigned)item < AQ_ITEM_COUNT ? names[item] : "?";
}

aq_status aq_breakpoints(aq_standard standard, aq_item item, const double **concentrations,
                         size_t *count)
{
    if ((unsigned)item >= AQ_ITEM_COUNT)
        return AQ_BAD_ITEM;
    if (!aq_standard_available(standard))
        return AQ_NOT_AVAILABLE;
    *concentrations = table_2012[item].c;
    *count = table_2012[item].count;
    return AQ_OK;
}

aq_status aq_iaqi(aq_standard standard, aq_item item, double c, int *iaqi)
{
    const double *bp;
    size_t count;
    aq_status status = aq_breakpoints(standard, item, &bp, &count);
    if (status != AQ_OK)
        return status;
    if (!isfinite(c) || c < 0)
        return AQ_NEGATIVE;
    if (c > bp[count - 1]) {
        if (count < 8)
            return AQ_NOT_DEFINED;
        *iaqi = aq_iaqi_levels[7];
        return AQ_ABOVE_RANGE;
    }
    size_t i = 0;
    while (i + 2 < count && c > bp[i + 1])
        i++;
    /* Formula (1): IAQI = (IH - IL) / (BH - BL) * (c - BL) + IL, rounded up. */
    int il = aq_iaqi_levels[i], ih = aq_iaqi_levels[i + 1];
    *iaqi = il + round_up_part(c, (long long)bp[i], (long long)(bp[i + 1] - bp[i]), ih - il);
    return AQ_OK;
}

int aq_level(int aqi)
{
    if (aqi < 0)
        return 0;
    if (aqi <= 50)
        return 1;
    if (aqi <= 100)
        return 2;
    if (aqi <= 150)
        return 3;
    if (aqi <= 200)
        return 4;
    if (aqi <= 300)
        return 5;
    return 6;
}

const char *aq_category_zh(int level)
{
    static const char *const names[6] = {"优",       "良",       "轻度污染",
                                         "中度污染", "重度污染", "严重污染"};
    return level >= 1 && level <= 6 ? names[level - 1] : "?";
}

const char *aq_category_en(int level)
{
    static const char *const names[6] = {"Excellent",        "Good",
                                         "Lightly polluted", "Moderately polluted",
                                         "Heavily polluted", "Severely polluted"};
    return level >= 1 && level <= 6 ? names[level - 1] : "?";
}

const char *aq_color(int level)
{
    static const char *const colors[6] = {"#00E400", "#FFFF00", "#FF7E00",
                                          "#FF0000", "#99004C", "#7E0023"};
    return level >= 1 && level <= 6 ? colors[level - 1] : "?";
}

int aq_aqi(const int *iaqi, size_t count, int *aqi, unsigned char *primary)
{
    if (count == 0)
        return -1;
    int best = iaqi[0];
    for (size_t i = 1; i < count; i++)
        if (iaqi[i] > best)
            best = iaqi[i];
    *aqi = best;
    int primaries = 0;
    for (size_t i = 0; i < count; i++) {
        primary[i] = best > 50 && iaqi[i] == best;
        primaries += primary[i];
    }
    return primaries;
}
