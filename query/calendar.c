/* Calendar arithmetic (include/jialing/calendar.h): floor division and the proleptic Gregorian
 * calendar as day counts from 1970-01-01. The one place that knows leap years and month lengths;
 * time zones, the time parsers and window grids call it. Owns no state. */
#include "jialing/calendar.h"

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

int64_t cal_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t cal_floor_mod(int64_t a, int64_t b)
{
    return a - cal_floor_div(a, b) * b;
}

int cal_is_leap_year(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int cal_days_in_month(int64_t year, int month)
{
    static const int lengths[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int m = month < 1 ? 1 : month > 12 ? 12 : month;
    return lengths[m - 1] + (m == 2 && cal_is_leap_year(year) ? 1 : 0);
}

/* 1970-01-01 was a Thursday (4). */
int cal_weekday(int64_t days)
{
    return (int)cal_floor_mod(days + 4, 7);
}

/* Counting years from March makes February the last month, so its leap day never moves the
 * day-of-year of any other month; 400-year eras of 146097 days repeat exactly. */
int64_t cal_days_from_civil(int64_t year, unsigned month, unsigned day)
{
    year = clamp64(year, -CAL_YEAR_LIMIT, CAL_YEAR_LIMIT);
    int64_t m = month < 1 ? 1 : month > 12 ? 12 : (int64_t)month;
    int64_t d = day < 1 ? 1 : day > 31 ? 31 : (int64_t)day;
    int64_t y = m <= 2 ? year - 1 : year;
    int64_t era = cal_floor_div(y, 400);
    int64_t year_of_era = y - era * 400;              /* 0..399 */
    int64_t month_from_march = m > 2 ? m - 3 : m + 9; /* 0..11 */
    int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468; /* 719468: days from 0000-03-01 to 1970-01-01 */
}

void cal_civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    int64_t z = clamp64(days, -CAL_DAYS_LIMIT, CAL_DAYS_LIMIT) + 719468;
    int64_t era = cal_floor_div(z, 146097);
    int64_t day_of_era = z - era * 146097; /* 0..146096 */
    /* Leap days before day_of_era within the era, removed so that year = days / 365. */
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153;
    int64_t m = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
    *day = (unsigned)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    *month = (unsigned)m;
    *year = year_of_era + era * 400 + (m <= 2 ? 1 : 0);
}
