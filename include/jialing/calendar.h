/* Jialing calendar arithmetic: floor division, and the proleptic Gregorian calendar (leap years,
 * month lengths, weekdays, days since 1970-01-01 and back) that time zones (tz.c,
 * calendar_window.c), time parsing (time_text.c) and the CLI's converter share. Implemented in
 * query/calendar.c.
 *
 * Pure functions of their arguments: no state, no locale, no libc time functions, safe from any
 * thread. Days are counted from 1970-01-01 (day 0, a Thursday); years are astronomical (year 0
 * is 1 BC). Nothing here fails: out-of-range inputs are clamped as each function says, so no
 * input overflows. */
#ifndef JIALING_CALENDAR_H
#define JIALING_CALENDAR_H

#include <stdint.h>

/* Years beyond +-CAL_YEAR_LIMIT, and day counts beyond +-CAL_DAYS_LIMIT (about as many years),
 * are clamped to them. */
#define CAL_YEAR_LIMIT 1000000000000LL
#define CAL_DAYS_LIMIT 365242500000000LL

/* Returns a / b rounded toward negative infinity (C's / rounds toward zero). b must not be 0,
 * and a / b must not overflow (INT64_MIN / -1). */
int64_t cal_floor_div(int64_t a, int64_t b);

/* Returns a - cal_floor_div(a, b) * b: for b > 0 always in 0..b-1. Same preconditions. */
int64_t cal_floor_mod(int64_t a, int64_t b);

/* Returns 1 when year is a Gregorian leap year (divisible by 4, and not by 100 unless by 400),
 * else 0. */
int cal_is_leap_year(int64_t year);

/* Returns the days of month (1..12) in year: 28 to 31. month outside 1..12 is clamped. */
int cal_days_in_month(int64_t year, int month);

/* Returns the weekday of the day `days` days after 1970-01-01: 0 Sunday .. 6 Saturday, as POSIX
 * TZ rules count them. */
int cal_weekday(int64_t days);

/* Returns the days since 1970-01-01 of the date year-month-day (negative before it). month is
 * clamped to 1..12, day to 1..31 (a day past the month's end counts on into the next month),
 * year to +-CAL_YEAR_LIMIT. */
int64_t cal_days_from_civil(int64_t year, unsigned month, unsigned day);

/* Sets *year, *month (1..12) and *day (1..31) to the date `days` days after 1970-01-01 (negative:
 * before); days is clamped to +-CAL_DAYS_LIMIT. Output pointers must be non-NULL. */
void cal_civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day);

#endif
