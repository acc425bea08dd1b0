/* Tests for query/tz.c and query/calendar_window.c: zone loading and TZif parsing, offsets,
 * local-to-UTC resolution in DST gaps and overlaps, and calendar window boundaries.
 *
 * Expected instants were computed independently with Python's zoneinfo (CPython 3.11, reading the
 * same /usr/share/zoneinfo), e.g.
 *   int(datetime(2025, 3, 30, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()) * 1000
 * and spot-checked with GNU date, e.g. `TZ=Europe/Berlin date -d '2100-10-31 00:00' +%s`.
 * For gaps and overlaps Python's fold=0 is the documented choice of tz_local_to_utc().
 * Tests that need zone files FAIL (not skip) when tzdata is not installed. */
#include "check.h"
#include "jialing/calendar.h"
#include "jialing/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define H (3600 * 1000LL)
#define DAY (24 * H)

/* Loads a zone the tests cannot do without; a missing tzdata fails the test loudly. */
static tz_zone *need_zone(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", TZ_ZONEINFO_DIR, name);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "  %s is missing: install the tzdata package (make deps)\n", path);
        check_failed_in_test = 1;
        return NULL;
    }
    tz_zone *zone = NULL;
    jl_error err;
    int rc = tz_zone_load(name, &zone, &err);
    if (rc != JL_OK) {
        fprintf(stderr, "  loading %s failed: %s\n", name, err.message);
        check_failed_in_test = 1;
        return NULL;
    }
    return zone;
}

static tz_zone *need_fixed(const char *name)
{
    tz_zone *zone = NULL;
    jl_error err;
    CHECK_INT(tz_zone_load(name, &zone, &err), JL_OK);
    return zone;
}

/* ---- names and fixed offsets ---- */

static void test_fixed_offsets(void)
{
    static const struct {
        const char *name;
        int64_t offset_ms;
    } cases[] = {
        {"UTC", 0},
        {"Z", 0},
        {"utc", 0},
        {"+08:00", 8 * H},
        {"-05:30", -(5 * H + 30 * 60000)},
        {"+0800", 8 * H},
        {"+08", 8 * H},
        {" 05:45", 5 * H + 45 * 60000},
        {"-00:00", 0},
        {"+23:59", 23 * H + 59 * 60000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tz_zone *zone = need_fixed(cases[i].name);
        if (zone == NULL)
            continue;
        CHECK_STR(tz_zone_name(zone), cases[i].name);
        CHECK_INT(tz_offset_at(zone, 0), cases[i].offset_ms);
        CHECK_INT(tz_offset_at(zone, -1000000000000LL), cases[i].offset_ms);
        CHECK_INT(tz_local_to_utc(zone, 1735660800000LL), 1735660800000LL - cases[i].offset_ms);
        tz_zone_free(zone);
    }
    /* 2025-01-15T12:00Z is 20:00 in +08:00: the day started 2025-01-14T16:00Z. */
    tz_zone *east = need_fixed("+08:00");
    tz_zone *west = need_fixed("-05:30");
    if (east != NULL && west != NULL) {
        CHECK_INT(tz_unit_start(east, TZ_UNIT_DAY, 1, 1736942400000LL), 1736870400000LL);
        CHECK_INT(tz_unit_next(east, TZ_UNIT_DAY, 1, 1736870400000LL), 1736956800000LL);
        /* -05:30: 2025-01-01T03:00Z is 2024-12-31T21:30 local; the month began
         * 2024-12-01T05:30Z (1733031000000). */
        CHECK_INT(tz_unit_start(west, TZ_UNIT_MONTH, 1, 1735700400000LL), 1733031000000LL);
        CHECK_INT(tz_unit_next(west, TZ_UNIT_MONTH, 1, 1733031000000LL), 1735709400000LL);
    }
    tz_zone_free(east);
    tz_zone_free(west);
}

static void check_refused(const char *name, const char *message_part)
{
    tz_zone *zone = (tz_zone *)1;
    jl_error err;
    CHECK_INT(tz_zone_load(name, &zone, &err), JL_EINVAL);
    CHECK_INT(err.code, JL_EINVAL);
    CHECK(zone == NULL);
    if (strstr(err.message, message_part) == NULL) {
        fprintf(stderr, "  \"%s\": message \"%s\" lacks \"%s\"\n", name, err.message, message_part);
        check_failed_in_test = 1;
    }
}

static void test_bad_names(void)
{
    check_refused("Mars/Base", "unknown time zone \"Mars/Base\"");
    check_refused("", "unknown time zone");
    check_refused("../../etc/passwd", "unknown time zone");
    check_refused("Europe/../Europe/Berlin", "unknown time zone");
    check_refused("/etc/passwd", "unknown time zone");
    check_refused("Europe/Berlin ", "unknown time zone");
    check_refused("Europe\\Berlin", "unknown time zone");
    check_refused("zone.tab", "unknown time zone");
    check_refused("+24:00", "unknown time zone");
    check_refused("+08:60", "unknown time zone");
    check_refused("+8", "unknown time zone");
    check_refused("+08:0", "unknown time zone");
    check_refused("+08:", "unknown time zone");
    check_refused("GMT+8x", "unknown time zone");
    char long_name[300];
    memset(long_name, 'A', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    check_refused(long_name, "unknown time zone");
    /* A directory of the zoneinfo tree is not a zone. */
    if (access(TZ_ZONEINFO_DIR "/Europe", R_OK) != 0) {
        fprintf(stderr, "  %s/Europe is missing: install tzdata\n", TZ_ZONEINFO_DIR);
        check_failed_in_test = 1;
    }
    check_refused("Europe", "unknown time zone \"Europe\"");
}

/* ---- system zones ---- */

static void test_shanghai_months(void)
{
    tz_zone *sh = need_zone("Asia/Shanghai");
    if (sh == NULL)
        return;
    /* 2025-01-15T12:00+08:00 lies in January, which began 2025-01-01T00:00+08:00. */
    CHECK_INT(tz_offset_at(sh, 1736913600000LL), 8 * H);
    CHECK_INT(tz_unit_start(sh, TZ_UNIT_MONTH, 1, 1736913600000LL), 1735660800000LL);
    CHECK_INT(tz_unit_next(sh, TZ_UNIT_MONTH, 1, 1735660800000LL), 1738339200000LL);
    CHECK_INT(tz_unit_start(sh, TZ_UNIT_MONTH, 1, 1735660800000LL), 1735660800000LL);
    CHECK_INT(tz_unit_start(sh, TZ_UNIT_MONTH, 1, 1735660800000LL - 1), 1735660800000LL - 31 * DAY);
    /* China observed DST 1986-1991: 1990-07-01 was +09:00. */
    CHECK_INT(tz_offset_at(sh, 646761600000LL), 9 * H);
    tz_zone_free(sh);
}

static void test_berlin_dst_days(void)
{
    tz_zone *b = need_zone("Europe/Berlin");
    if (b == NULL)
        return;
    /* Spring forward 2025-03-30 at 01:00Z: the day is 23 hours long. */
    int64_t noon = 1743328800000LL; /* 2025-03-30T12:00+02:00 */
    int64_t start = tz_unit_start(b, TZ_UNIT_DAY, 1, noon);
    CHECK_INT(start, 1743289200000LL);
    CHECK_INT(tz_unit_next(b, TZ_UNIT_DAY, 1, start), 1743372000000LL);
    CHECK_INT(tz_unit_next(b, TZ_UNIT_DAY, 1, start) - start, 23 * H);
    CHECK_INT(tz_unit_start(b, TZ_UNIT_DAY, 1, start - 1), 1743202800000LL);
    /* The offset changes exactly at the transition instant. */
    CHECK_INT(tz_offset_at(b, 1743296400000LL - 1), 1 * H);
    CHECK_INT(tz_offset_at(b, 1743296400000LL), 2 * H);
    /* Fall back 2025-10-26: 25 hours. */
    start = tz_unit_start(b, TZ_UNIT_DAY, 1, 1761476400000LL);
    CHECK_INT(start, 1761429600000LL);
    CHECK_INT(tz_unit_next(b, TZ_UNIT_DAY, 1, start), 1761519600000LL);
    CHECK_INT(tz_unit_next(b, TZ_UNIT_DAY, 1, start) - start, 25 * H);
    tz_zone_free(b);
}

static void test_new_york_dst_days(void)
{
    tz_zone *ny = need_zone("America/New_York");
    if (ny == NULL)
        return;
    /* 2025-03-09: 23 hours, from 05:00Z to 04:00Z next day. */
    int64_t start = tz_unit_start(ny, TZ_UNIT_DAY, 1, 1741536000000LL);
    CHECK_INT(start, 1741496400000LL);
    CHECK_INT(tz_unit_next(ny, TZ_UNIT_DAY, 1, start), 1741579200000LL);
    CHECK_INT(tz_unit_next(ny, TZ_UNIT_DAY, 1, start) - start, 23 * H);
    /* 2025-11-02: 25 hours. */
    start = tz_unit_start(ny, TZ_UNIT_DAY, 1, 1762102800000LL);
    CHECK_INT(start, 1762056000000LL);
    CHECK_INT(tz_unit_next(ny, TZ_UNIT_DAY, 1, start), 1762146000000LL);
    CHECK_INT(tz_unit_next(ny, TZ_UNIT_DAY, 1, start) - start, 25 * H);
    tz_zone_free(ny);
}

static void test_local_to_utc_gap_and_overlap(void)
{
    tz_zone *b = need_zone("Europe/Berlin");
    tz_zone *ny = need_zone("America/New_York");
    if (b == NULL || ny == NULL)
        goto out;
    /* Berlin 2025-03-30 02:30 does not exist: moved forward by the 1 h gap to 03:30 CEST =
     * 01:30Z (Python fold=0). Local ms 1743301800000 is 2025-03-30T02:30 read as UTC. */
    CHECK_INT(tz_local_to_utc(b, 1743301800000LL), 1743298200000LL);
    /* 02:00 exactly, the first skipped wall time: 03:00 CEST, the transition instant. */
    CHECK_INT(tz_local_to_utc(b, 1743301800000LL - 30 * 60000), 1743296400000LL);
    /* Berlin 2025-10-26 02:30 occurs twice (00:30Z and 01:30Z): the earlier. */
    CHECK_INT(tz_local_to_utc(b, 1761445800000LL), 1761438600000LL);
    /* Ordinary times round-trip. */
    CHECK_INT(tz_local_to_utc(b, 1743328800000LL + 2 * H), 1743328800000LL);
    /* New York 2025-03-09 02:30 (gap) -> 03:30 EDT = 07:30Z; 2025-11-02 01:30 (overlap) -> EDT
     * 05:30Z rather than EST 06:30Z. */
    CHECK_INT(tz_local_to_utc(ny, 1741487400000LL), 1741505400000LL);
    CHECK_INT(tz_local_to_utc(ny, 1762047000000LL), 1762061400000LL);
out:
    tz_zone_free(b);
    tz_zone_free(ny);
}

static void test_weeks(void)
{
    tz_zone *utc = need_fixed("UTC");
    tz_zone *b = need_zone("Europe/Berlin");
    if (utc == NULL || b == NULL)
        goto out;
    /* Wednesday 2025-01-01T12:00Z: the week began Monday 2024-12-30, next Monday 2025-01-06. */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_WEEK, 1, 1735732800000LL), 1735516800000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_WEEK, 1, 1735516800000LL), 1736121600000LL);
    /* Two-week windows count from Monday 1969-12-29: 2025-01-01 is in week 2870 since then,
     * so the window is weeks 2870..2871, 2024-12-30 to 2025-01-13. */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_WEEK, 2, 1735732800000LL), 1735516800000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_WEEK, 2, 1735516800000LL), 1736726400000LL);
    /* The epoch (a Thursday) is in the week of Monday 1969-12-29. */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_WEEK, 1, 0), -3 * DAY);
    /* Berlin, Sunday 2025-03-30 10:00 CEST: the week from Monday 2025-03-24 00:00 CET to Monday
     * 2025-03-31 00:00 CEST is 167 hours. */
    int64_t start = tz_unit_start(b, TZ_UNIT_WEEK, 1, 1743321600000LL);
    CHECK_INT(start, 1742770800000LL);
    CHECK_INT(tz_unit_next(b, TZ_UNIT_WEEK, 1, start), 1743372000000LL);
    CHECK_INT(tz_unit_next(b, TZ_UNIT_WEEK, 1, start) - start, 167 * H);
out:
    tz_zone_free(utc);
    tz_zone_free(b);
}

static void test_multi_month_windows(void)
{
    tz_zone *ny = need_zone("America/New_York");
    tz_zone *utc = need_fixed("UTC");
    if (ny == NULL || utc == NULL)
        goto out;
    /* 3-month windows from 1970-01 are calendar quarters: 2025-05-15 00:00 EDT is in
     * 2025-04-01 00:00 EDT .. 2025-07-01 00:00 EDT. */
    int64_t start = tz_unit_start(ny, TZ_UNIT_MONTH, 3, 1747281600000LL);
    CHECK_INT(start, 1743480000000LL);
    CHECK_INT(tz_unit_next(ny, TZ_UNIT_MONTH, 3, start), 1751342400000LL);
    CHECK_INT(tz_unit_next(ny, TZ_UNIT_MONTH, 3, 1751342400000LL), 1759291200000LL);
    /* 5-month windows: 2025-05 is month 664 since 1970-01; 660 = 2025-01, 665 = 2025-06. */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_MONTH, 5, 1747267200000LL), 1735689600000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_MONTH, 5, 1735689600000LL), 1748736000000LL);
    /* Month lengths follow the leap rules: February 2024 and 2000 have 29 days, 2100 28. */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_MONTH, 1, 1707523200000LL), 1706745600000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_MONTH, 1, 1706745600000LL), 1709251200000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_MONTH, 1, 1706745600000LL) - 1706745600000LL, 29 * DAY);
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_MONTH, 1, 4105900800000LL), 4105123200000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_MONTH, 1, 4105123200000LL), 4107542400000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_MONTH, 1, 4105123200000LL) - 4105123200000LL, 28 * DAY);
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_MONTH, 1, 950140800000LL), 949363200000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_MONTH, 1, 949363200000LL), 951868800000LL);
    /* Year 2024 has 366 days. */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_YEAR, 1, 1707523200000LL), 1704067200000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_YEAR, 1, 1704067200000LL), 1735689600000LL);
    /* Counts below 1 act as 1. */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_YEAR, 0, 1707523200000LL), 1704067200000LL);
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_YEAR, -7, 1707523200000LL), 1704067200000LL);
out:
    tz_zone_free(ny);
    tz_zone_free(utc);
}

static void test_negative_times(void)
{
    tz_zone *utc = need_fixed("UTC");
    tz_zone *b = need_zone("Europe/Berlin");
    tz_zone *ny = need_zone("America/New_York");
    if (utc == NULL || b == NULL || ny == NULL)
        goto out;
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_DAY, 1, -1), -DAY);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_DAY, 1, -DAY), 0);
    /* 2-day windows from 1970-01-01: -1 ms is in 1969-12-30..1970-01-01. */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_DAY, 2, -1), -2 * DAY);
    /* 1969-06-01 is in the year 1969 (-31536000000 .. 0). */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_YEAR, 1, -18489600000LL), -31536000000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_YEAR, 1, -31536000000LL), 0);
    /* 1969-12-15 with 3-month windows: month index -1 belongs to -3..-1, 1969-10-01. */
    CHECK_INT(tz_unit_start(utc, TZ_UNIT_MONTH, 3, -1468800000LL), -7948800000LL);
    CHECK_INT(tz_unit_next(utc, TZ_UNIT_MONTH, 3, -7948800000LL), 0);
    /* Berlin 1969-07-20 12:00 (no DST in West Germany then: +01:00). */
    CHECK_INT(tz_offset_at(b, -14216400000LL), 1 * H);
    CHECK_INT(tz_unit_start(b, TZ_UNIT_DAY, 1, -14216400000LL), -14259600000LL);
    CHECK_INT(tz_unit_next(b, TZ_UNIT_DAY, 1, -14259600000LL), -14173200000LL);
    /* New York 1965-07-04 12:00 EDT (-04:00); the day began at 04:00Z. */
    CHECK_INT(tz_offset_at(ny, -141811200000LL), -4 * H);
    CHECK_INT(tz_unit_start(ny, TZ_UNIT_DAY, 1, -141811200000LL), -141854400000LL);
out:
    tz_zone_free(utc);
    tz_zone_free(b);
    tz_zone_free(ny);
}

static void test_footer_beyond_last_transition(void)
{
    tz_zone *b = need_zone("Europe/Berlin");
    if (b == NULL)
        return;
    /* zic writes explicit transitions only up to 2037; 2100 comes from "CET-1CEST,M3.5.0,
     * M10.5.0/3". 2100-07-01T00:00+02:00 and 2100-01-15T00:00+01:00: */
    CHECK_INT(tz_offset_at(b, 4118076000000LL), 2 * H);
    CHECK_INT(tz_offset_at(b, 4103650800000LL), 1 * H);
    /* Last Sunday of March 2100 is the 28th (23 h), of October the 31st (25 h). */
    CHECK_INT(tz_unit_start(b, TZ_UNIT_DAY, 1, 4109871600000LL + 12 * H), 4109871600000LL);
    CHECK_INT(tz_unit_next(b, TZ_UNIT_DAY, 1, 4109871600000LL), 4109954400000LL);
    CHECK_INT(tz_unit_start(b, TZ_UNIT_DAY, 1, 4128616800000LL + 12 * H), 4128616800000LL);
    CHECK_INT(tz_unit_next(b, TZ_UNIT_DAY, 1, 4128616800000LL), 4128706800000LL);
    tz_zone_free(b);
}

static void test_apia_skipped_day(void)
{
    /* Samoa moved across the date line: 2011-12-30 never happened in Pacific/Apia. The day
     * window of 2011-12-29 (-10:00) ends where 2011-12-31 (+14:00) begins, 24 h later. */
    tz_zone *apia = need_zone("Pacific/Apia");
    if (apia == NULL)
        return;
    int64_t start = tz_unit_start(apia, TZ_UNIT_DAY, 1, 1325196000000LL);
    CHECK_INT(start, 1325152800000LL);
    CHECK_INT(tz_unit_next(apia, TZ_UNIT_DAY, 1, start), 1325239200000LL);
    CHECK_INT(tz_offset_at(apia, 1325239200000LL - 1), -10 * H);
    CHECK_INT(tz_offset_at(apia, 1325239200000LL), 14 * H);
    /* A wall time on the skipped day moves forward by the 24 h gap. */
    CHECK_INT(tz_local_to_utc(apia, 1325246400000LL), 1325246400000LL + 10 * H);
    tz_zone_free(apia);
}

/* ---- TZif bytes built by hand ---- */

typedef struct built {
    uint8_t bytes[4096];
    size_t len;
} built;

static void put32(built *b, uint32_t v)
{
    for (int i = 3; i >= 0; i--)
        b->bytes[b->len++] = (uint8_t)(v >> (8 * i));
}

static void put64(built *b, int64_t v)
{
    put32(b, (uint32_t)((uint64_t)v >> 32));
    put32(b, (uint32_t)v);
}

static void put_header(built *b, char version, uint32_t leapcnt, uint32_t timecnt, uint32_t typecnt)
{
    memcpy(b->bytes + b->len, "TZif", 4);
    b->len += 4;
    b->bytes[b->len++] = (uint8_t)version;
    memset(b->bytes + b->len, 0, 15);
    b->len += 15;
    put32(b, 0);       /* isutcnt */
    put32(b, 0);       /* isstdcnt */
    put32(b, leapcnt); /* leapcnt */
    put32(b, timecnt);
    put32(b, typecnt);
    put32(b, 4); /* charcnt */
}

/* A TZif file: version '2' (or 0 for v1 only), the given types and transitions, a footer. */
static void build_tzif(built *b, char version, size_t ntypes, const int32_t *offsets_s,
                       size_t ntrans, const int64_t *times_s, const uint8_t *idx, uint32_t leapcnt,
                       const char *footer)
{
    b->len = 0;
    for (int pass = 0; pass < (version == 0 ? 1 : 2); pass++) {
        int wide = pass == 1;
        put_header(b, version, leapcnt, (uint32_t)ntrans, (uint32_t)ntypes);
        for (size_t i = 0; i < ntrans; i++) {
            if (wide)
                put64(b, times_s[i]);
            else
                put32(b, (uint32_t)(int32_t)times_s[i]);
        }
        for (size_t i = 0; i < ntrans; i++)
            b->bytes[b->len++] = idx[i];
        for (size_t i = 0; i < ntypes; i++) {
            put32(b, (uint32_t)offsets_s[i]);
            b->bytes[b->len++] = 0;
            b->bytes[b->len++] = 0;
        }
        memcpy(b->bytes + b->len, "XYZ", 4);
        b->len += 4;
        for (uint32_t i = 0; i < leapcnt; i++) {
            if (wide)
                put64(b, 78796800);
            else
                put32(b, 78796800);
            put32(b, 1);
        }
    }
    if (version != 0) {
        b->bytes[b->len++] = '\n';
        memcpy(b->bytes + b->len, footer, strlen(footer));
        b->len += strlen(footer);
        b->bytes[b->len++] = '\n';
    }
}

static tz_zone *parse_built(const built *b)
{
    tz_zone *zone = NULL;
    jl_error err;
    int rc = tz_zone_parse_bytes("built", b->bytes, b->len, &zone, &err);
    if (rc != JL_OK) {
        fprintf(stderr, "  parse failed: %s\n", err.message);
        check_failed_in_test = 1;
    }
    return zone;
}

static void test_footer_rules_from_bytes(void)
{
    built b;
    int32_t aest = 36000;
    /* Australia/Sydney's rule alone (southern hemisphere: DST spans the new year). Expected
     * values from Python zoneinfo "Australia/Sydney", whose 2030 comes from the same rule. */
    build_tzif(&b, '2', 1, &aest, 0, NULL, NULL, 0, "AEST-10AEDT,M10.1.0,M4.1.0/3");
    tz_zone *syd = parse_built(&b);
    if (syd != NULL) {
        CHECK_INT(tz_offset_at(syd, 1894626000000LL), 11 * H); /* 2030-01-15 */
        CHECK_INT(tz_offset_at(syd, 1909094400000LL), 10 * H); /* 2030-07-01T00:00Z */
        /* 2030-04-07 is 25 h long, 2030-10-06 23 h. */
        CHECK_INT(tz_unit_start(syd, TZ_UNIT_DAY, 1, 1901710800000LL + 12 * H), 1901710800000LL);
        CHECK_INT(tz_unit_next(syd, TZ_UNIT_DAY, 1, 1901710800000LL), 1901800800000LL);
        CHECK_INT(tz_unit_next(syd, TZ_UNIT_DAY, 1, 1917439200000LL), 1917522000000LL);
        /* Gap 2030-10-06 02:30 and overlap 2030-04-07 02:30. */
        CHECK_INT(tz_local_to_utc(syd, 1917484200000LL), 1917448200000LL);
        CHECK_INT(tz_local_to_utc(syd, 1901759400000LL), 1901719800000LL);
        tz_zone_free(syd);
    }
    /* Lord Howe Island: a 30-minute DST, quoted abbreviations. 2030-10-06 is 23.5 h,
     * 2030-04-07 24.5 h (Python zoneinfo "Australia/Lord_Howe"). */
    int32_t lhst = 37800;
    build_tzif(&b, '2', 1, &lhst, 0, NULL, NULL, 0, "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    tz_zone *lh = parse_built(&b);
    if (lh != NULL) {
        CHECK_INT(tz_unit_next(lh, TZ_UNIT_DAY, 1, 1917437400000LL), 1917522000000LL);
        CHECK_INT(tz_unit_next(lh, TZ_UNIT_DAY, 1, 1901710800000LL), 1901799000000LL);
        tz_zone_free(lh);
    }
    /* Daylight time all year (RFC 8536 section 3.3.1's example): -04:00 at every instant, and
     * days stay 24 h across the new year (2030-01-01 00:00 -04:00 = 1893470400000). */
    int32_t est = -18000;
    build_tzif(&b, '3', 1, &est, 0, NULL, NULL, 0, "EST5EDT,0/0,J365/25");
    tz_zone *edt = parse_built(&b);
    if (edt != NULL) {
        CHECK_INT(tz_offset_at(edt, 1893470400000LL), -4 * H);
        CHECK_INT(tz_offset_at(edt, 1893470400000LL - 1), -4 * H);
        CHECK_INT(tz_offset_at(edt, 1909094400000LL), -4 * H);
        CHECK_INT(tz_unit_start(edt, TZ_UNIT_DAY, 1, 1893470400000LL + H), 1893470400000LL);
        CHECK_INT(tz_unit_start(edt, TZ_UNIT_DAY, 1, 1893470400000LL - H), 1893470400000LL - DAY);
        tz_zone_free(edt);
    }
    /* A zero-length DST (J100 = 2030-04-10, starting 02:00 +01:00 and ending 03:00 +02:00, both
     * 01:00Z, 1902013200000) leaves standard time in force all year. */
    int32_t xst = 3600;
    build_tzif(&b, '2', 1, &xst, 0, NULL, NULL, 0, "XST-1XDT,J100/2,J100/3");
    tz_zone *zero = parse_built(&b);
    if (zero != NULL) {
        CHECK_INT(tz_offset_at(zero, 1902013200000LL - 1), 1 * H);
        CHECK_INT(tz_offset_at(zero, 1902013200000LL), 1 * H);
        CHECK_INT(tz_offset_at(zero, 1902013200000LL + H), 1 * H);
        tz_zone_free(zero);
    }
    /* Transitions, then the footer: before 1000000000 s +01:00, after it the rule. Type 0
     * governs before the first transition. */
    int32_t offs[2] = {3600, 7200};
    int64_t times[1] = {1000000000};
    uint8_t idx[1] = {1};
    build_tzif(&b, '2', 2, offs, 1, times, idx, 0, "<-03>3");
    tz_zone *mixed = parse_built(&b);
    if (mixed != NULL) {
        CHECK_INT(tz_offset_at(mixed, 999999999999LL), 1 * H);
        CHECK_INT(tz_offset_at(mixed, -999999999999LL), 1 * H);
        CHECK_INT(tz_offset_at(mixed, 1000000000000LL), -3 * H);
        tz_zone_free(mixed);
    }
    /* Without a footer rule the last transition's type stays in force; v1 files use 32-bit
     * times. */
    build_tzif(&b, 0, 2, offs, 1, times, idx, 0, "");
    tz_zone *v1 = parse_built(&b);
    if (v1 != NULL) {
        CHECK_INT(tz_offset_at(v1, 999999999999LL), 1 * H);
        CHECK_INT(tz_offset_at(v1, 4000000000000LL), 2 * H);
        tz_zone_free(v1);
    }
    build_tzif(&b, '2', 2, offs, 1, times, idx, 0, "");
    tz_zone *nofooter = parse_built(&b);
    if (nofooter != NULL) {
        CHECK_INT(tz_offset_at(nofooter, 4000000000000LL), 2 * H);
        tz_zone_free(nofooter);
    }
}

static void check_corrupt(const built *b, const char *message_part)
{
    tz_zone *zone = (tz_zone *)1;
    jl_error err;
    CHECK_INT(tz_zone_parse_bytes("bad", b->bytes, b->len, &zone, &err), JL_ECORRUPT);
    CHECK(zone == NULL);
    if (strstr(err.message, message_part) == NULL) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.message, message_part);
        check_failed_in_test = 1;
    }
}

static void test_tzif_bad_inputs(void)
{
    built b;
    int32_t offs[2] = {3600, 7200};
    int64_t times[2] = {1000, 1000};
    uint8_t idx[2] = {1, 1};
    build_tzif(&b, '2', 2, offs, 2, times, idx, 0, "");
    check_corrupt(&b, "not ascending");
    times[1] = 2000;
    idx[1] = 2;
    build_tzif(&b, '2', 2, offs, 2, times, idx, 0, "");
    check_corrupt(&b, "type index out of range");
    idx[1] = 0;
    build_tzif(&b, '2', 2, offs, 2, times, idx, 1, "");
    check_corrupt(&b, "leap seconds");
    build_tzif(&b, '2', 0, offs, 0, NULL, NULL, 0, "");
    check_corrupt(&b, "no local time types");
    int32_t huge = 27 * 3600;
    build_tzif(&b, '2', 1, &huge, 0, NULL, NULL, 0, "");
    check_corrupt(&b, "offset out of range");
    static const char *bad_footers[] = {"CET-1CEST",
                                        "CET-1CEST,M3.5.0",
                                        "CET-25",
                                        "CET-1CEST,M13.5.0,M10.5.0",
                                        "CET-1CEST,M3.6.0,M10.5.0",
                                        "CET-1CEST,J0,J365",
                                        "CET-1CEST,M3.5.0,M10.5.0/168",
                                        "<CET-1",
                                        "1",
                                        "CET-1 "};
    for (size_t i = 0; i < sizeof bad_footers / sizeof bad_footers[0]; i++) {
        build_tzif(&b, '2', 2, offs, 2, times, idx, 0, bad_footers[i]);
        check_corrupt(&b, "is not a POSIX TZ rule");
    }
    build_tzif(&b, '2', 2, offs, 2, times, idx, 0, "CET-1");
    b.bytes[b.len - 1] = 'x'; /* footer without its closing newline */
    check_corrupt(&b, "footer not terminated");
    build_tzif(&b, '2', 2, offs, 2, times, idx, 0, "CET-1");
    b.bytes[0] = 'X';
    check_corrupt(&b, "magic");
    build_tzif(&b, '2', 2, offs, 2, times, idx, 0, "CET-1");
    b.bytes[4] = '1';
    check_corrupt(&b, "unknown version");
    check_corrupt(&(built){.len = 0}, "header truncated");
}

/* Every proper prefix of a real zone file must be refused, except the one ending exactly
 * where the footer would start (read as a file without footer). */
static void test_tzif_truncated_real_file(void)
{
    const char *path = TZ_ZONEINFO_DIR "/Europe/Berlin";
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "  %s is missing: install the tzdata package (make deps)\n", path);
        check_failed_in_test = 1;
        return;
    }
    static uint8_t data[65536];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    CHECK(len > 100 && len < sizeof data);
    tz_zone *zone = NULL;
    jl_error err;
    CHECK_INT(tz_zone_parse_bytes("Europe/Berlin", data, len, &zone, &err), JL_OK);
    tz_zone_free(zone);
    size_t accepted = 0, footer_at = 0;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, data, cut);
        zone = NULL;
        int rc = tz_zone_parse_bytes("Europe/Berlin", copy, cut, &zone, &err);
        if (rc == JL_OK) {
            accepted++;
            footer_at = cut;
            tz_zone_free(zone);
        } else {
            CHECK_INT(rc, JL_ECORRUPT);
            CHECK(zone == NULL);
        }
        free(copy);
    }
    CHECK_INT(accepted, 1);
    /* "\nCET-1CEST,M3.5.0,M10.5.0/3\n" is 28 bytes. */
    CHECK_INT(footer_at, len - 28);
}

/* ---- invariants over many instants ---- */

static void test_window_invariants_random(void)
{
    static const char *zones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                                  "Pacific/Apia",  "America/Santiago", "Asia/Kolkata"};
    unsigned seed = 424242;
    printf("# test_window_invariants_random seed %u\n", seed);
    srand(seed);
    long bad = 0;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        tz_zone *zone = need_zone(zones[z]);
        if (zone == NULL)
            continue;
        for (int i = 0; i < 3000; i++) {
            /* Roughly 1900..2200. */
            int64_t t =
                ((int64_t)rand() * RAND_MAX + rand()) % (300LL * 365 * DAY) - 70LL * 365 * DAY;
            tz_unit unit = (tz_unit)(rand() % 4);
            int64_t count = 1 + rand() % 4;
            int64_t start = tz_unit_start(zone, unit, count, t);
            int64_t next = tz_unit_next(zone, unit, count, start);
            int64_t local = start + tz_offset_at(zone, start);
            int64_t y;
            unsigned m, d;
            cal_civil_from_days(local / DAY - (local % DAY < 0), &y, &m, &d);
            int ok = start <= t && t < next && tz_unit_start(zone, unit, count, next) == next &&
                     tz_unit_start(zone, unit, count, next - 1) == start;
            /* Outside gaps a window starts at local midnight of the right day. */
            if (tz_local_to_utc(zone, local) == start && ((local % DAY) + DAY) % DAY == 0) {
                if (unit == TZ_UNIT_MONTH || unit == TZ_UNIT_YEAR)
                    ok = ok && d == 1;
                if (unit == TZ_UNIT_YEAR)
                    ok = ok && m == 1;
                if (unit == TZ_UNIT_WEEK)
                    ok = ok && (cal_days_from_civil(y, m, d) % 7 + 7) % 7 == 4; /* Monday */
            }
            /* Round trip: an instant's wall time maps back to it unless it is in an overlap's
             * second pass, which maps to an earlier instant. */
            int64_t back = tz_local_to_utc(zone, t + tz_offset_at(zone, t));
            ok = ok && back <= t && back + tz_offset_at(zone, back) == t + tz_offset_at(zone, t);
            if (!ok && bad++ < 5)
                fprintf(stderr,
                        "  %s unit %d count %" PRId64 " t %" PRId64 ": start %" PRId64
                        " next %" PRId64 "\n",
                        zones[z], (int)unit, count, t, start, next);
        }
        tz_zone_free(zone);
    }
    CHECK_INT(bad, 0);
}

int main(void)
{
    RUN(test_fixed_offsets);
    RUN(test_bad_names);
    RUN(test_shanghai_months);
    RUN(test_berlin_dst_days);
    RUN(test_new_york_dst_days);
    RUN(test_local_to_utc_gap_and_overlap);
    RUN(test_weeks);
    RUN(test_multi_month_windows);
    RUN(test_negative_times);
    RUN(test_footer_beyond_last_transition);
    RUN(test_apia_skipped_day);
    RUN(test_footer_rules_from_bytes);
    RUN(test_tzif_bad_inputs);
    RUN(test_tzif_truncated_real_file);
    RUN(test_window_invariants_random);
    return CHECK_DONE();
}
