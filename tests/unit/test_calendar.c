/* Tests for query/calendar.c: floor division, leap years, month lengths, weekdays, and days from
 * civil dates and back. Expected values are facts written as literals, not computed by the code
 * under test: day numbers are Python's date.toordinal() - 719163 (date(1970, 1, 1).toordinal()
 * is 719163) and Julian day numbers minus 2440588 (JDN of 1970-01-01); weekdays from the
 * calendar (1970-01-01 a Thursday, 2000-01-01 a Saturday, 2025-01-01 a Wednesday), and the
 * references below count days one by one with a month-length table. */
#include "check.h"
#include "jialing/calendar.h"

#include <stdio.h>
#include <stdlib.h>

static void test_floor_div_mod(void)
{
    CHECK_INT(cal_floor_div(7, 2), 3);
    CHECK_INT(cal_floor_div(-7, 2), -4);
    CHECK_INT(cal_floor_div(-8, 2), -4);
    CHECK_INT(cal_floor_div(7, -2), -4);
    CHECK_INT(cal_floor_div(-7, -2), 3);
    CHECK_INT(cal_floor_div(0, 5), 0);
    CHECK_INT(cal_floor_div(-1, 86400000), -1);
    CHECK_INT(cal_floor_div(INT64_MIN, 1), INT64_MIN);
    CHECK_INT(cal_floor_mod(7, 3), 1);
    CHECK_INT(cal_floor_mod(-7, 3), 2);
    CHECK_INT(cal_floor_mod(-6, 3), 0);
    CHECK_INT(cal_floor_mod(-1, 7), 6);
    CHECK_INT(cal_floor_mod(7, -3), -2);
}

static void test_leap_and_month_lengths(void)
{
    CHECK_INT(cal_is_leap_year(2024), 1);
    CHECK_INT(cal_is_leap_year(2023), 0);
    CHECK_INT(cal_is_leap_year(2000), 1);
    CHECK_INT(cal_is_leap_year(1900), 0);
    CHECK_INT(cal_is_leap_year(2100), 0);
    CHECK_INT(cal_is_leap_year(1600), 1);
    CHECK_INT(cal_is_leap_year(0), 1);
    CHECK_INT(cal_is_leap_year(-4), 1);
    CHECK_INT(cal_is_leap_year(-100), 0);
    CHECK_INT(cal_days_in_month(2025, 1), 31);
    CHECK_INT(cal_days_in_month(2025, 2), 28);
    CHECK_INT(cal_days_in_month(2024, 2), 29);
    CHECK_INT(cal_days_in_month(1900, 2), 28);
    CHECK_INT(cal_days_in_month(2000, 2), 29);
    CHECK_INT(cal_days_in_month(2025, 4), 30);
    CHECK_INT(cal_days_in_month(2025, 6), 30);
    CHECK_INT(cal_days_in_month(2025, 9), 30);
    CHECK_INT(cal_days_in_month(2025, 11), 30);
    CHECK_INT(cal_days_in_month(2025, 12), 31);
    /* Clamped months. */
    CHECK_INT(cal_days_in_month(2025, 0), 31);
    CHECK_INT(cal_days_in_month(2025, 13), 31);
}

static void test_weekdays(void)
{
    CHECK_INT(cal_weekday(0), 4);       /* 1970-01-01 Thursday */
    CHECK_INT(cal_weekday(-1), 3);      /* 1969-12-31 Wednesday */
    CHECK_INT(cal_weekday(-3), 1);      /* 1969-12-29 Monday */
    CHECK_INT(cal_weekday(10957), 6);   /* 2000-01-01 Saturday */
    CHECK_INT(cal_weekday(20089), 3);   /* 2025-01-01 Wednesday */
    CHECK_INT(cal_weekday(19782), 4);   /* 2024-02-29 Thursday */
    CHECK_INT(cal_weekday(-141427), 5); /* 1582-10-15 (first Gregorian day) Friday */
}

/* Julian day numbers (astronomical tables) minus 2440588, the JDN of 1970-01-01. */
static void test_julian_day_numbers(void)
{
    CHECK_INT(cal_days_from_civil(2000, 1, 1), 2451545 - 2440588);
    CHECK_INT(cal_days_from_civil(1858, 11, 17), 2400001 - 2440588); /* MJD 0 */
    CHECK_INT(cal_days_from_civil(1582, 10, 15), 2299161 - 2440588);
    CHECK_INT(cal_days_from_civil(2025, 1, 1), 2460677 - 2440588);
    CHECK_INT(cal_days_from_civil(-4713, 11, 24), 0 - 2440588); /* JDN 0, proleptic Gregorian */
    int64_t y;
    unsigned m, d;
    cal_civil_from_days(2451545 - 2440588, &y, &m, &d);
    CHECK_INT(y, 2000);
    CHECK_INT(m, 1);
    CHECK_INT(d, 1);
    cal_civil_from_days(-2440588, &y, &m, &d);
    CHECK_INT(y, -4713);
    CHECK_INT(m, 11);
    CHECK_INT(d, 24);
}

/* ---- civil calendar ---- */

static void test_civil_known_dates(void)
{
    /* Differences of Python datetime.date values from date(1970, 1, 1). */
    CHECK_INT(cal_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(cal_days_from_civil(1969, 12, 31), -1);
    CHECK_INT(cal_days_from_civil(2024, 2, 29), 19782);
    CHECK_INT(cal_days_from_civil(2000, 3, 1), 11017);
    CHECK_INT(cal_days_from_civil(1, 1, 1), -719162);
    CHECK_INT(cal_days_from_civil(9999, 12, 31), 2932896);
    CHECK_INT(cal_days_from_civil(1600, 2, 29), -135081);
    /* Leap rules: 2024 and 2000 have Feb 29, 2100 has not. */
    CHECK_INT(cal_days_from_civil(2024, 3, 1) - cal_days_from_civil(2024, 2, 28), 2);
    CHECK_INT(cal_days_from_civil(2000, 3, 1) - cal_days_from_civil(2000, 2, 28), 2);
    CHECK_INT(cal_days_from_civil(2100, 3, 1) - cal_days_from_civil(2100, 2, 28), 1);
    CHECK_INT(cal_days_from_civil(2101, 1, 1) - cal_days_from_civil(2100, 1, 1), 365);
    CHECK_INT(cal_days_from_civil(2001, 1, 1) - cal_days_from_civil(2000, 1, 1), 366);
    int64_t y;
    unsigned m, d;
    cal_civil_from_days(19782, &y, &m, &d);
    CHECK_INT(y, 2024);
    CHECK_INT(m, 2);
    CHECK_INT(d, 29);
    cal_civil_from_days(-1, &y, &m, &d);
    CHECK_INT(y, 1969);
    CHECK_INT(m, 12);
    CHECK_INT(d, 31);
    /* 2100-02-28 + 1 day is March 1st. */
    cal_civil_from_days(cal_days_from_civil(2100, 2, 28) + 1, &y, &m, &d);
    CHECK_INT(y, 2100);
    CHECK_INT(m, 3);
    CHECK_INT(d, 1);
    /* Out-of-range arguments are clamped, not undefined. */
    CHECK_INT(cal_days_from_civil(2025, 0, 0), cal_days_from_civil(2025, 1, 1));
    CHECK_INT(cal_days_from_civil(2025, 13, 40), cal_days_from_civil(2025, 12, 31));
    cal_civil_from_days(INT64_MIN, &y, &m, &d);
    CHECK(m >= 1 && m <= 12 && d >= 1 && d <= 31);
    cal_civil_from_days(INT64_MAX, &y, &m, &d);
    CHECK(m >= 1 && m <= 12 && d >= 1 && d <= 31);
}

static int ref_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned ref_month_days(int64_t y, unsigned m)
{
    static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return len[m - 1] + (m == 2 && ref_leap(y));
}

/* Walks every day of years 1..9999 with a month-length table and compares both directions. */
static void test_civil_walk_reference(void)
{
    int64_t y = 1;
    unsigned m = 1, d = 1;
    long bad = 0;
    for (int64_t days = -719162; days <= 2932896; days++) {
        int64_t gy;
        unsigned gm, gd;
        cal_civil_from_days(days, &gy, &gm, &gd);
        if (cal_days_from_civil(y, m, d) != days || gy != y || gm != m || gd != d) {
            if (bad++ < 5)
                fprintf(stderr, "  day %" PRId64 ": expected %" PRId64 "-%u-%u\n", days, y, m, d);
        }
        if (++d > ref_month_days(y, m)) {
            d = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(y, 10000);
}

/* Reference for far dates: whole years counted one by one from 1970. */
static void ref_civil(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    int64_t y = 1970;
    while (days < 0) {
        y--;
        days += 365 + ref_leap(y);
    }
    while (days >= 365 + ref_leap(y)) {
        days -= 365 + ref_leap(y);
        y++;
    }
    unsigned m = 1;
    while (days >= ref_month_days(y, m)) {
        days -= ref_month_days(y, m);
        m++;
    }
    *year = y;
    *month = m;
    *day = (unsigned)days + 1;
}

static void test_civil_random_reference(void)
{
    unsigned seed = 20250101;
    printf("# test_civil_random_reference seed %u\n", seed);
    srand(seed);
    long bad = 0;
    for (int i = 0; i < 2000; i++) {
        int64_t days = ((int64_t)rand() * RAND_MAX + rand()) % 20000001 - 10000000;
        int64_t ry, gy;
        unsigned rm, rd, gm, gd;
        ref_civil(days, &ry, &rm, &rd);
        cal_civil_from_days(days, &gy, &gm, &gd);
        if (gy != ry || gm != rm || gd != rd || cal_days_from_civil(ry, rm, rd) != days) {
            if (bad++ < 5)
                fprintf(stderr,
                        "  days %" PRId64 ": expected %" PRId64 "-%u-%u got %" PRId64 "-%u-%u\n",
                        days, ry, rm, rd, gy, gm, gd);
        }
    }
    CHECK_INT(bad, 0);
}

int main(void)
{
    RUN(test_floor_div_mod);
    RUN(test_leap_and_month_lengths);
    RUN(test_weekdays);
    RUN(test_julian_day_numbers);
    RUN(test_civil_known_dates);
    RUN(test_civil_walk_reference);
    RUN(test_civil_random_reference);
    return CHECK_DONE();
}
