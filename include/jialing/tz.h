/* Jialing time zones: UTC, fixed offsets and IANA zones read from the system tzdata (TZif files
 * under /usr/share/zoneinfo, including the POSIX TZ rule in their footer), and the local-calendar
 * window boundaries (day, Monday week, month, year) that `window=1d|1w|1mo|1y` with `tz=` needs.
 * Implemented in query/tz.c (zones, local/UTC mapping) and query/calendar_window.c (windows); the
 * date arithmetic under them is jialing/calendar.h's.
 *
 * Caveats: times are epoch milliseconds. Inputs outside +-TZ_LIMIT_MS (about 31,700 years around
 * 1970) are clamped to it, so no input can make the arithmetic overflow; results for such inputs
 * are meaningless but defined. A local wall-clock time may not exist (a spring-forward gap) or
 * exist twice (a fall-back overlap); tz_local_to_utc() documents which instant it picks. Zones
 * with leap seconds (zoneinfo's "right/" tree) are refused: Jialing timestamps are POSIX time. */
#ifndef JIALING_TZ_H
#define JIALING_TZ_H

#include "jialing/common.h"

#include <stddef.h>
#include <stdint.h>

/* Directory the IANA zone files are read from (Debian package tzdata). */
#define TZ_ZONEINFO_DIR "/usr/share/zoneinfo"

/* Times beyond +-TZ_LIMIT_MS are clamped to it (see Caveats). */
#define TZ_LIMIT_MS 1000000000000000LL

/* Window counts are clamped to 1..TZ_MAX_UNIT_COUNT. */
#define TZ_MAX_UNIT_COUNT 1000000

/* A loaded zone: opaque, immutable after load, safe to share between threads without locking. */
typedef struct tz_zone tz_zone;

/* Loads zone `name` into a new *out, owned by the caller (free with tz_zone_free()). Accepted
 * names: "UTC", "utc", "Z", "z"; fixed offsets "+08:00", "-05:30", "+0800", "+08" (hours up to
 * 23, minutes up to 59; a leading space stands for '+', as an unencoded '+' in a query string
 * becomes one); and IANA names such as "Asia/Shanghai", read from TZ_ZONEINFO_DIR/NAME. IANA names
 * may hold only [A-Za-z0-9_+-/], may not start with '/' nor contain "..". Returns JL_OK; JL_EINVAL
 * for a malformed or unknown name or a file that is not a usable TZif file ("unknown time zone
 * \"Mars/Base\""); JL_EIO if the file exists but cannot be read; JL_ENOMEM. *out is NULL on
 * error. */
int tz_zone_load(const char *name, tz_zone **out, jl_error *err);

/* Parses a TZif file (versions 1 to 4; for 2 and later the 64-bit section and the POSIX TZ footer)
 * from len bytes at data, into a new *out owned by the caller; `name` (copied, may be NULL) only
 * labels the zone and its error messages. Every count, length and index is validated before use.
 * Returns JL_OK; JL_ECORRUPT for bytes that are not a valid TZif file, with the reason and the
 * byte offset in err; JL_ENOMEM. *out is NULL on error. */
int tz_zone_parse_bytes(const char *name, const void *data, size_t len, tz_zone **out,
                        jl_error *err);

/* Frees a zone from tz_zone_load()/tz_zone_parse_bytes(); NULL is ignored. */
void tz_zone_free(tz_zone *zone);

/* Returns the zone's name as given at load (owned by the zone, valid until tz_zone_free()). */
const char *tz_zone_name(const tz_zone *zone);

/* Returns the offset in milliseconds east of UTC in force at instant utc_ms. Before a zone's
 * first transition its first local time type applies; after its last, the footer's TZ rule (or,
 * without one, the last transition's type). */
int64_t tz_offset_at(const tz_zone *zone, int64_t utc_ms);

/* Returns the UTC instant at which local wall-clock time local_ms (epoch ms as if local time were
 * UTC) occurs. In a spring-forward gap the wall time does not exist: the result is the instant it
 * would be with the offset from before the gap, i.e. the wall time moved forward by the length of
 * the gap (Berlin 2025-03-30 02:30 gives 03:30 CEST = 01:30Z). In a fall-back overlap the wall time
 * occurs twice: the result is the earlier instant (Berlin 2025-10-26 02:30 gives 02:30 CEST =
 * 00:30Z). This matches Python's zoneinfo with fold=0. */
int64_t tz_local_to_utc(const tz_zone *zone, int64_t local_ms);

/* Returns the earliest UTC instant whose local wall-clock time is at or after local_ms: the same
 * as tz_local_to_utc() except in a spring-forward gap, where it is the end of the gap (Berlin
 * 2025-03-30 02:30 gives 03:00 CEST = 01:00Z). Never decreases as local_ms grows, which is what
 * keeps calendar window boundaries ordered. */
int64_t tz_local_to_utc_at_or_after(const tz_zone *zone, int64_t local_ms);

/* Calendar units of a window in local time. */
typedef enum tz_unit {
    TZ_UNIT_DAY,   /* local midnight to local midnight (23 or 25 hours across DST changes) */
    TZ_UNIT_WEEK,  /* weeks start on Monday at local midnight */
    TZ_UNIT_MONTH, /* local midnight of the 1st */
    TZ_UNIT_YEAR   /* local midnight of January 1st */
} tz_unit;

/* Returns the start (UTC ms) of the window of `count` units (clamped to 1..TZ_MAX_UNIT_COUNT)
 * that contains utc_ms. Windows are aligned to multiples of count units counted in local time
 * from the epoch: local days since 1970-01-01, weeks since Monday 1969-12-29, months since
 * 1970-01, years since 1970. A window starts at the first instant whose local time is at or after
 * its first local midnight: when that midnight falls in a DST gap, at the end of the gap; when it
 * occurs twice, at the earlier one. Always tz_unit_start(t) <= t < tz_unit_next(tz_unit_start(t))
 * for t within +-TZ_LIMIT_MS minus a few years. */
int64_t tz_unit_start(const tz_zone *zone, tz_unit unit, int64_t count, int64_t utc_ms);

/* Returns the start (UTC ms) of the window after the one containing window_start_utc_ms (which is
 * normally a result of tz_unit_start() with the same zone, unit and count). */
int64_t tz_unit_next(const tz_zone *zone, tz_unit unit, int64_t count, int64_t window_start_utc_ms);

#endif
