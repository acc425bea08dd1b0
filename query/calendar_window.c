/* Calendar windows in local time: where the windows of `count` days, Monday weeks, months or
 * years of a zone start (tz_unit_start(), tz_unit_next(), declared in jialing/tz.h). Owns the
 * window numbering from the local epoch and the search for the window holding an instant; the
 * local/UTC mapping under it is tz.c's, the Gregorian arithmetic calendar.c's. */
#include "jialing/tz.h"
#include "jialing/calendar.h"

#include <stdint.h>

#define MS_PER_DAY 86400000LL

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Window k of `count` units starts at this local time (ms since the local epoch). */
static int64_t window_local_start(tz_unit unit, int64_t count, int64_t k)
{
    int64_t index = k * count;
    switch (unit) {
    case TZ_UNIT_WEEK:
        return (index * 7 - 3) * MS_PER_DAY; /* Monday 1969-12-29 is day -3 */
    case TZ_UNIT_MONTH:
        return cal_days_from_civil(1970 + cal_floor_div(index, 12),
                                   (unsigned)cal_floor_mod(index, 12) + 1, 1) *
               MS_PER_DAY;
    case TZ_UNIT_YEAR:
        return cal_days_from_civil(1970 + index, 1, 1) * MS_PER_DAY;
    case TZ_UNIT_DAY:
    default:
        return index * MS_PER_DAY;
    }
}

/* Index of the window whose local span contains local time local_ms. */
static int64_t window_index(tz_unit unit, int64_t count, int64_t local_ms)
{
    int64_t days = cal_floor_div(local_ms, MS_PER_DAY);
    int64_t year;
    unsigned month, day;
    switch (unit) {
    case TZ_UNIT_WEEK:
        return cal_floor_div(cal_floor_div(days + 3, 7), count);
    case TZ_UNIT_MONTH:
        cal_civil_from_days(days, &year, &month, &day);
        return cal_floor_div((year - 1970) * 12 + (int64_t)month - 1, count);
    case TZ_UNIT_YEAR:
        cal_civil_from_days(days, &year, &month, &day);
        return cal_floor_div(year - 1970, count);
    case TZ_UNIT_DAY:
    default:
        return cal_floor_div(days, count);
    }
}

static int64_t window_boundary(const tz_zone *zone, tz_unit unit, int64_t count, int64_t k)
{
    return tz_local_to_utc_at_or_after(zone, window_local_start(unit, count, k));
}

/* Index k with boundary(k) <= t < boundary(k+1). The local date of t gives it directly except
 * where a backward change crosses a boundary (t's wall time is before a boundary that has
 * already passed once); the loops settle that within three windows, since every boundary is
 * within 26 hours (tz.c's largest offset) of its local time and windows are at least a day long. */
static int64_t window_containing(const tz_zone *zone, tz_unit unit, int64_t count, int64_t t)
{
    t = clamp64(t, -TZ_LIMIT_MS, TZ_LIMIT_MS);
    int64_t k = window_index(unit, count, t + tz_offset_at(zone, t));
    for (int i = 0; i < 8 && window_boundary(zone, unit, count, k) > t; i++)
        k--;
    for (int i = 0; i < 8 && window_boundary(zone, unit, count, k + 1) <= t; i++)
        k++;
    return k;
}

int64_t tz_unit_start(const tz_zone *zone, tz_unit unit, int64_t count, int64_t utc_ms)
{
    count = clamp64(count, 1, TZ_MAX_UNIT_COUNT);
    return window_boundary(zone, unit, count, window_containing(zone, unit, count, utc_ms));
}

int64_t tz_unit_next(const tz_zone *zone, tz_unit unit, int64_t count, int64_t window_start_utc_ms)
{
    count = clamp64(count, 1, TZ_MAX_UNIT_COUNT);
    return window_boundary(zone, unit, count,
                           window_containing(zone, unit, count, window_start_utc_ms) + 1);
}
