/* Tests of query/aqi.c: HJ 633-2012 IAQI, AQI, levels, categories, colours and primary
 * pollutants. Every expected value is worked out by hand in the comments beside it, from the
 * standard's Table 1 copied here (not read from the code under test). */
#include "check.h"

#include "jialing/aqi.h"

/* One IAQI, expected AQ_OK. */
static int iaqi_of(aq_item item, double c)
{
    int v = -1;
    aq_status s = aq_iaqi(AQ_STANDARD_2012, item, c, &v);
    CHECK_INT(s, AQ_OK);
    return v;
}

static void test_aqi_worked_checks(void)
{
    /* The checks. PM2.5 80: between 75 (100) and 115 (150):
     * 50/40 * 5 + 100 = 106.25, rounded up 107. */
    CHECK_INT(iaqi_of(AQ_PM25_24H, 80), 107);
    /* PM10 130: between 50 (50) and 150 (100): 50/100 * 80 + 50 = 90 exactly. */
    CHECK_INT(iaqi_of(AQ_PM10_24H, 130), 90);
}

/* Each item's breakpoints as Table 1 of HJ 633-2012 prints them; at each one the IAQI is the
 * level of its column. */
static void test_aqi_every_breakpoint(void)
{
    static const int levels[8] = {0, 50, 100, 150, 200, 300, 400, 500};
    static const struct {
        aq_item item;
        double c[8];
        int count;
    } rows[] = {
        {AQ_SO2_24H, {0, 50, 150, 475, 800, 1600, 2100, 2620}, 8},
        {AQ_SO2_1H, {0, 150, 500, 650, 800}, 5},
        {AQ_NO2_24H, {0, 40, 80, 180, 280, 565, 750, 940}, 8},
        {AQ_NO2_1H, {0, 100, 200, 700, 1200, 2340, 3090, 3840}, 8},
        {AQ_PM10_24H, {0, 50, 150, 250, 350, 420, 500, 600}, 8},
        {AQ_CO_24H, {0, 2, 4, 14, 24, 36, 48, 60}, 8},
        {AQ_CO_1H, {0, 5, 10, 35, 60, 90, 120, 150}, 8},
        {AQ_O3_1H, {0, 160, 200, 300, 400, 800, 1000, 1200}, 8},
        {AQ_O3_8H, {0, 100, 160, 215, 265, 800}, 6},
        {AQ_PM25_24H, {0, 35, 75, 115, 150, 250, 350, 500}, 8},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        for (int k = 0; k < rows[r].count; k++) {
            int v = -1;
            CHECK_INT(aq_iaqi(AQ_STANDARD_2012, rows[r].item, rows[r].c[k], &v), AQ_OK);
            if (v != levels[k])
                fprintf(stderr, "  %s at %g\n", aq_item_name(rows[r].item), rows[r].c[k]);
            CHECK_INT(v, levels[k]);
        }
        const double *bp;
        size_t count;
        CHECK_INT(aq_breakpoints(AQ_STANDARD_2012, rows[r].item, &bp, &count), AQ_OK);
        CHECK_INT(count, rows[r].count);
    }
}

static void test_aqi_rounds_up(void)
{
    /* PM2.5 35.1: 50 + 50/40 * 0.1 = 50.125 -> 51. */
    CHECK_INT(iaqi_of(AQ_PM25_24H, 35.1), 51);
    /* PM2.5 0.1: 50/35 * 0.1 = 0.142... -> 1. */
    CHECK_INT(iaqi_of(AQ_PM25_24H, 0.1), 1);
    /* PM2.5 34.9: 50/35 * 34.9 = 49.857... -> 50. */
    CHECK_INT(iaqi_of(AQ_PM25_24H, 34.9), 50);
    /* CO 24-hour 2.1 mg/m³: 50 + 50/2 * 0.1 = 52.5 -> 53. */
    CHECK_INT(iaqi_of(AQ_CO_24H, 2.1), 53);
    /* O3 8-hour 101: 50 + 50/60 * 1 = 50.83 -> 51. */
    CHECK_INT(iaqi_of(AQ_O3_8H, 101), 51);
    /* SO2 24-hour 51: 50 + 50/100 * 1 = 50.5 -> 51. */
    CHECK_INT(iaqi_of(AQ_SO2_24H, 51), 51);
    /* NO2 1-hour 150: 50 + 50/100 * 50 = 75 exactly. */
    CHECK_INT(iaqi_of(AQ_NO2_1H, 150), 75);
    /* CO 1-hour 7.3: 50 + 50/5 * 2.3 = 73 (the double nearest 7.3 is a hair below it). */
    CHECK_INT(iaqi_of(AQ_CO_1H, 7.3), 73);
    /* CO 1-hour 1.1: 50/5 * 1.1 = 11 in decimal (the binary 1.1 is a hair above it, which
     * rounded up naively would give 12); 1.3 gives 13. */
    CHECK_INT(iaqi_of(AQ_CO_1H, 1.1), 11);
    CHECK_INT(iaqi_of(AQ_CO_1H, 1.3), 13);
    /* SO2 1-hour 0.7: 50/150 * 0.7 = 0.2333 -> 1; 0.1 + 0.2 (prints 0.30000000000000004) is
     * above 0.3: 50/150 * that = 0.1000...01 -> 1. */
    CHECK_INT(iaqi_of(AQ_SO2_1H, 0.7), 1);
    CHECK_INT(iaqi_of(AQ_SO2_1H, 0.1 + 0.2), 1);
    /* PM10 425: 300 + 100/80 * 5 = 306.25 -> 307. */
    CHECK_INT(iaqi_of(AQ_PM10_24H, 425), 307);
    /* O3 1-hour 900: 300 + 100/200 * 100 = 350 exactly. */
    CHECK_INT(iaqi_of(AQ_O3_1H, 900), 350);
    /* PM2.5 75.0000001: just above 100 -> 101. */
    CHECK_INT(iaqi_of(AQ_PM25_24H, 75.0000001), 101);
    /* NO2 24-hour 100: 100 + 50/100 * 20 = 110 exactly. */
    CHECK_INT(iaqi_of(AQ_NO2_24H, 100), 110);
}

static void test_aqi_special_cases(void)
{
    int v = -7;
    /* Table 1 note 2: SO2 1-hour above 800 gets no IAQI from its 1-hour value. */
    CHECK_INT(aq_iaqi(AQ_STANDARD_2012, AQ_SO2_1H, 800.5, &v), AQ_NOT_DEFINED);
    CHECK_INT(v, -7);
    CHECK_INT(iaqi_of(AQ_SO2_1H, 800), 200);
    /* Note 3: O3 8-hour above 800 likewise. */
    CHECK_INT(aq_iaqi(AQ_STANDARD_2012, AQ_O3_8H, 801, &v), AQ_NOT_DEFINED);
    CHECK_INT(v, -7);
    CHECK_INT(iaqi_of(AQ_O3_8H, 800), 300);
    /* Above the top breakpoint of a full row: 500, marked. */
    CHECK_INT(aq_iaqi(AQ_STANDARD_2012, AQ_PM25_24H, 501, &v), AQ_ABOVE_RANGE);
    CHECK_INT(v, 500);
    v = -7;
    CHECK_INT(aq_iaqi(AQ_STANDARD_2012, AQ_CO_1H, 150.01, &v), AQ_ABOVE_RANGE);
    CHECK_INT(v, 500);
    CHECK_INT(iaqi_of(AQ_PM25_24H, 500), 500);
    /* No IAQI from a negative or non-finite value. */
    v = -7;
    CHECK_INT(aq_iaqi(AQ_STANDARD_2012, AQ_PM10_24H, -0.5, &v), AQ_NEGATIVE);
    CHECK_INT(aq_iaqi(AQ_STANDARD_2012, AQ_PM10_24H, NAN, &v), AQ_NEGATIVE);
    CHECK_INT(v, -7);
    CHECK_INT(iaqi_of(AQ_PM10_24H, 0), 0);
    CHECK_INT(aq_iaqi(AQ_STANDARD_2012, AQ_ITEM_COUNT, 1, &v), AQ_BAD_ITEM);
}

static void test_aqi_2026_not_built_in(void)
{
    int v = -7;
    CHECK_INT(aq_iaqi(AQ_STANDARD_2026_TRANSITIONAL, AQ_PM25_24H, 80, &v), AQ_NOT_AVAILABLE);
    CHECK_INT(aq_iaqi(AQ_STANDARD_2026_FINAL, AQ_PM25_24H, 80, &v), AQ_NOT_AVAILABLE);
    CHECK_INT(v, -7);
    CHECK_INT(aq_standard_available(AQ_STANDARD_2012), 1);
    CHECK_INT(aq_standard_available(AQ_STANDARD_2026_TRANSITIONAL), 0);
    CHECK_INT(aq_standard_available(AQ_STANDARD_2026_FINAL), 0);
}

static void test_aqi_standard_by_date(void)
{
    /* 2026-03-01 is day 20513 after 1970-01-01, 2031-01-01 day 22280; midnight in Beijing is
     * 8 hours before midnight UTC. */
    int64_t start_2026 = 20513LL * 86400000 - 8LL * 3600000;
    int64_t start_2031 = 22280LL * 86400000 - 8LL * 3600000;
    CHECK_INT(AQ_2026_START_MS, start_2026);
    CHECK_INT(AQ_2031_START_MS, start_2031);
    CHECK_INT(aq_standard_for_time(start_2026 - 1), AQ_STANDARD_2012);
    CHECK_INT(aq_standard_for_time(start_2026), AQ_STANDARD_2026_TRANSITIONAL);
    CHECK_INT(aq_standard_for_time(start_2031 - 1), AQ_STANDARD_2026_TRANSITIONAL);
    CHECK_INT(aq_standard_for_time(start_2031), AQ_STANDARD_2026_FINAL);
    CHECK_INT(aq_standard_for_time(0), AQ_STANDARD_2012);
    CHECK_STR(aq_standard_name(AQ_STANDARD_2012), "HJ 633-2012");
}

static void test_aqi_levels_and_labels(void)
{
    static const int aqi[] = {0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500};
    static const int level[] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6};
    for (size_t i = 0; i < sizeof aqi / sizeof aqi[0]; i++)
        CHECK_INT(aq_level(aqi[i]), level[i]);
    CHECK_INT(aq_level(-1), 0);
    CHECK_STR(aq_category_zh(1), "优");
    CHECK_STR(aq_category_zh(2), "良");
    CHECK_STR(aq_category_zh(3), "轻度污染");
    CHECK_STR(aq_category_zh(4), "中度污染");
    CHECK_STR(aq_category_zh(5), "重度污染");
    CHECK_STR(aq_category_zh(6), "严重污染");
    CHECK_STR(aq_category_zh(7), "?");
    CHECK_STR(aq_category_en(1), "Excellent");
    CHECK_STR(aq_category_en(6), "Severely polluted");
    /* Appendix A, RGB: green 0,228,0; yellow 255,255,0; orange 255,126,0; red 255,0,0;
     * purple 153,0,76; maroon 126,0,35. */
    CHECK_STR(aq_color(1), "#00E400");
    CHECK_STR(aq_color(2), "#FFFF00");
    CHECK_STR(aq_color(3), "#FF7E00");
    CHECK_STR(aq_color(4), "#FF0000");
    CHECK_STR(aq_color(5), "#99004C");
    CHECK_STR(aq_color(6), "#7E0023");
    CHECK_STR(aq_color(0), "?");
}

static void test_aqi_primary_pollutants(void)
{
    unsigned char primary[4];
    int aqi = -1;
    /* A tie for the largest IAQI: both are primary. */
    int tie[] = {107, 90, 107, 12};
    CHECK_INT(aq_aqi(tie, 4, &aqi, primary), 2);
    CHECK_INT(aqi, 107);
    CHECK_INT(primary[0], 1);
    CHECK_INT(primary[1], 0);
    CHECK_INT(primary[2], 1);
    CHECK_INT(primary[3], 0);
    /* AQI 50: no primary pollutant. */
    int low[] = {50, 50, 3};
    CHECK_INT(aq_aqi(low, 3, &aqi, primary), 0);
    CHECK_INT(aqi, 50);
    CHECK_INT(primary[0] + primary[1] + primary[2], 0);
    /* AQI 51: one. */
    int one[] = {20, 51};
    CHECK_INT(aq_aqi(one, 2, &aqi, primary), 1);
    CHECK_INT(aqi, 51);
    CHECK_INT(primary[1], 1);
    CHECK_INT(aq_aqi(one, 0, &aqi, primary), -1);
}

int main(void)
{
    RUN(test_aqi_worked_checks);
    RUN(test_aqi_every_breakpoint);
    RUN(test_aqi_rounds_up);
    RUN(test_aqi_special_cases);
    RUN(test_aqi_2026_not_built_in);
    RUN(test_aqi_standard_by_date);
    RUN(test_aqi_levels_and_labels);
    RUN(test_aqi_primary_pollutants);
    return CHECK_DONE();
}
