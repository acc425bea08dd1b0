/* Window grids: where the windows of a windowed query start and end, for fixed offsets (epoch-
 * aligned widths), IANA zones (boundaries at local wall-clock times, following DST) and calendar
 * months and years; how many windows a range holds; and the grid a request's window, tz and
 * offset describe. Pure arithmetic over the zone; no store access. */
#include "query_internal.h"

#include "jialing/calendar.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define QX_MAX_OFFSET_MS (24LL * 3600 * 1000)
#define QX_MAX_WINDOW_MS (JL_MAX_MS - JL_MIN_MS + 1)

/* The j-th wall-clock boundary: the first instant whose local time is at or after local time
 * j * width + anchor. Local times beyond what tz handles are clamped (tz clamps too), so the
 * product cannot overflow for any j the search below reaches. A local time that falls in a DST
 * gap does not exist: tz_local_to_utc() then gives an instant past the gap's end (the time moved
 * forward by the gap), which would put boundaries out of order; the boundary is the gap's end,
 * found by bisecting for the first instant whose local time reaches it. */
static int64_t wall_boundary(const qx_grid *grid, int64_t j)
{
    const int64_t limit = 4 * TZ_LIMIT_MS;
    int64_t local;
    if (j > limit / grid->width_ms)
        local = limit;
    else if (j < -limit / grid->width_ms)
        local = -limit;
    else
        local = j * grid->width_ms + grid->anchor_ms;
    int64_t u = tz_local_to_utc(grid->zone, local);
    int64_t gap = u + tz_offset_at(grid->zone, u) - local;
    if (gap <= 0)
        return u;
    /* Before the transition, local time is below `local`; from it on, at or above. */
    int64_t lo = u - gap, hi = u;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (mid + tz_offset_at(grid->zone, mid) >= local)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* Boundaries b(j) never decrease with j; the window holding u is [b(j), b(j+1)) for the largest j
 * with b(j) <= u. The local time of u gives a j with b(j) <= u (an exact hit, or the earlier
 * occurrence of a repeated wall time); past a fall-back, later boundaries may still lie at or
 * before u, found by galloping then bisecting. Empty windows (several boundaries at one instant,
 * the end of a DST gap) are thus never returned. */
static void wall_window(const qx_grid *grid, int64_t u, int64_t *start, int64_t *end)
{
    int64_t wall = u + tz_offset_at(grid->zone, u);
    int64_t lo = cal_floor_div(wall - grid->anchor_ms, grid->width_ms);
    int64_t step = 1;
    while (wall_boundary(grid, lo) > u && step < ((int64_t)1 << 40)) { /* defensive only */
        lo -= step;
        step *= 2;
    }
    int64_t hi = lo + 1;
    int64_t b_hi = wall_boundary(grid, hi);
    step = 1;
    while (b_hi <= u && step < ((int64_t)1 << 40)) {
        lo = hi;
        step *= 2;
        hi = lo + step;
        b_hi = wall_boundary(grid, hi);
    }
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        int64_t b = wall_boundary(grid, mid);
        if (b <= u) {
            lo = mid;
        } else {
            hi = mid;
            b_hi = b;
        }
    }
    *start = wall_boundary(grid, lo);
    *end = b_hi;
}

/* The window [*start, *end) holding t. Inputs are bounded by validation, so nothing overflows. */
void qx_grid_window(const qx_grid *grid, int64_t t_ms, int64_t *start, int64_t *end)
{
    int64_t u = t_ms - grid->shift_ms, s, e;
    switch (grid->kind) {
    case QX_GRID_WALL:
        wall_window(grid, u, &s, &e);
        break;
    case QX_GRID_UNIT:
        s = tz_unit_start(grid->zone, grid->unit, grid->count, u);
        e = tz_unit_next(grid->zone, grid->unit, grid->count, s);
        break;
    default:
        s = cal_floor_div(u + grid->offset_ms, grid->width_ms) * grid->width_ms - grid->offset_ms;
        e = s + grid->width_ms;
        break;
    }
    *start = s + grid->shift_ms;
    *end = e + grid->shift_ms;
}

/* Windows that intersect [from, to) (from < to), counted up to limit + 1. */
uint64_t qx_grid_count(const qx_grid *grid, int64_t from_ms, int64_t to_ms, uint64_t limit)
{
    int64_t first, last, end;
    if (grid->kind == QX_GRID_FIXED) {
        qx_grid_window(grid, from_ms, &first, &end);
        qx_grid_window(grid, to_ms - 1, &last, &end);
        return (uint64_t)((last - first) / grid->width_ms) + 1;
    }
    /* No window is longer than its nominal length plus a day of DST or zone changes (31 days a
     * month): that bounds the count from below without walking the windows. */
    int64_t longest =
        grid->kind == QX_GRID_WALL
            ? grid->width_ms + QX_DAY_MS
            : grid->count * (grid->unit == TZ_UNIT_YEAR ? 366 * QX_DAY_MS : 31 * QX_DAY_MS) +
                  QX_DAY_MS;
    if ((uint64_t)((to_ms - from_ms) / longest) > limit)
        return limit + 1;
    uint64_t n = 0;
    int64_t t = from_ms;
    while (t < to_ms && n <= limit) {
        qx_grid_window(grid, t, &first, &end);
        t = end;
        n++;
    }
    return n;
}

/* Writes a window length the way a user would type it ("5m", "1d", "1500ms"). */
void qx_duration_format(const qp_duration *d, char *out, size_t size)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"w", 604800000}, {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    if (d->months != 0) {
        if (d->months % 12 == 0)
            snprintf(out, size, "%dy", (int)(d->months / 12));
        else
            snprintf(out, size, "%dmo", (int)d->months);
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (d->ms % units[i].ms == 0) {
            snprintf(out, size, "%" PRId64 "%s", d->ms / units[i].ms, units[i].unit);
            return;
        }
    }
    snprintf(out, size, "%" PRId64 "ms", d->ms);
}

int qx_grid_init(qx_grid *grid, const qp_duration *window, const tz_zone *zone, int64_t offset_ms,
                 int64_t shift_ms, tz_zone **owned_zone, jl_error *err)
{
    memset(grid, 0, sizeof *grid);
    grid->shift_ms = shift_ms;
    if (window->months != 0 && window->ms != 0)
        return jl_error_set(err, JL_EINVAL,
                            "window must be either fixed (ms, s, m, h, d, w) or calendar (mo, y), "
                            "not a mix of both");
    if (window->months < 0 || window->ms < 0 || (window->months == 0 && window->ms == 0))
        return jl_error_set(err, JL_EINVAL, "window must be a positive duration");
    if (window->ms > QX_MAX_WINDOW_MS)
        return jl_error_set(err, JL_EINVAL,
                            "window is longer than the whole time range a reading may have");
    if (window->months > 12 * 10000)
        return jl_error_set(err, JL_EINVAL, "window is longer than 10000 years");
    if (zone == NULL && (offset_ms < -QX_MAX_OFFSET_MS || offset_ms > QX_MAX_OFFSET_MS))
        return jl_error_set(err, JL_EINVAL, "tz offset must lie within -24:00 and +24:00");
    if (shift_ms < -QX_MAX_SHIFT_MS || shift_ms > QX_MAX_SHIFT_MS)
        return jl_error_set(err, JL_EINVAL, "offset must lie within -400d and 400d");
    if (window->months != 0) {
        grid->kind = QX_GRID_UNIT;
        grid->unit = window->months % 12 == 0 ? TZ_UNIT_YEAR : TZ_UNIT_MONTH;
        grid->count = window->months % 12 == 0 ? window->months / 12 : window->months;
        grid->zone = zone;
        if (grid->zone == NULL) {
            char name[16];
            int64_t minutes = offset_ms / 60000;
            if (offset_ms % 60000 != 0)
                return jl_error_set(err, JL_EINVAL, "tz offset must be whole minutes");
            int64_t m = minutes < 0 ? -minutes : minutes;
            snprintf(name, sizeof name, "%c%02d:%02d", minutes < 0 ? '-' : '+', (int)(m / 60),
                     (int)(m % 60));
            int rc = tz_zone_load(name, owned_zone, err);
            if (rc != JL_OK)
                return rc;
            grid->zone = *owned_zone;
        }
        return JL_OK;
    }
    grid->width_ms = window->ms;
    /* Weeks start on local Mondays (1970-01-01 was a Thursday, so the epoch grid would start
     * them on Thursdays): a boundary at local k * width - 3 days. */
    int weeks = window->ms % QX_WEEK_MS == 0;
    if (zone == NULL) {
        grid->kind = QX_GRID_FIXED;
        grid->offset_ms = offset_ms + (weeks ? 3 * QX_DAY_MS : 0);
        return JL_OK;
    }
    grid->kind = QX_GRID_WALL;
    grid->zone = zone;
    grid->anchor_ms = weeks ? -3 * QX_DAY_MS : 0; /* 1969-12-29, a Monday, local */
    return JL_OK;
}

int qx_grid_plan(const qx_query_request *request, qx_grid *grid, tz_zone **owned_zone,
                 jl_error *err)
{
    return qx_grid_init(grid, &request->window, request->zone, request->offset_ms,
                        request->shift_ms, owned_zone, err);
}
