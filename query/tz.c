/* Time zones for calendar windows in local time. Owns the TZif reader (RFC 8536/9636: versions 1
 * to 4, the 64-bit section of v2+ files and the POSIX TZ rule in their footer), the mapping
 * between UTC instants and local wall-clock time (the calendar windows built on them are
 * calendar_window.c's, the Gregorian arithmetic calendar.c's, the offset grammar of fixed zones
 * time_text.c's). Nothing here
 * consults the process's TZ, locale or libc time functions, so results depend only on the zone
 * data. Everything is computed in milliseconds with inputs clamped to +-TZ_LIMIT_MS, which keeps
 * every sum and product far from int64 overflow. */
#include "jialing/tz.h"
#include "jialing/calendar.h"
#include "jialing/params.h"
#include "text_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MS_PER_S 1000LL
#define MS_PER_DAY 86400000LL
/* No offset may exceed this; it bounds the search window of local_resolve(). RFC 9636 allows
 * -25:00 + 1s to +26:00 - 1s. */
#define MAX_OFFSET_S (26 * 3600)
#define MAX_OFFSET_MS (MAX_OFFSET_S * MS_PER_S)
/* Period bounds beyond every clamped input: "since forever" and "until forever". */
#define PERIOD_MIN_MS (-4 * TZ_LIMIT_MS)
#define PERIOD_MAX_MS (4 * TZ_LIMIT_MS)
/* Transition times from a file are clamped here (still outside every clamped query). */
#define TRANSITION_LIMIT_S (2 * TZ_LIMIT_MS / MS_PER_S)
/* The largest real zone file is a few kB; this refuses anything absurd before reading it. */
#define MAX_FILE_BYTES (1 << 20)
#define MAX_NAME_BYTES 200
#define MAX_FOOTER_BYTES 255

typedef struct tz_type {
    int64_t offset_ms; /* east of UTC */
} tz_type;

/* One date of a POSIX TZ rule: "Jn", "n" or "Mm.w.d", and the local time of the change. */
typedef struct tz_rule_date {
    char kind;       /* 'J': day 1..365 never counting Feb 29; 'D': day 0..365; 'M': month rule */
    int day;         /* for 'J' and 'D' */
    int month;       /* for 'M': 1..12 */
    int week;        /* for 'M': 1..5, 5 meaning the last such weekday of the month */
    int weekday;     /* for 'M': 0 (Sunday) .. 6 */
    int64_t time_ms; /* local time of day of the change, -167 h .. +167 h */
} tz_rule_date;

typedef struct tz_rule {
    int has_dst;        /* 0: standard time all year */
    int64_t std_ms;     /* standard offset east of UTC */
    int64_t dst_ms;     /* daylight offset east of UTC */
    tz_rule_date start; /* change to daylight time, in standard local time */
    tz_rule_date end;   /* change back, in daylight local time */
} tz_rule;

struct tz_zone {
    char *name;                /* owned, NUL-terminated */
    size_t transition_count;   /* entries of transitions_ms and transition_types */
    int64_t *transitions_ms;   /* owned; strictly ascending before clamping, never descending */
    uint8_t *transition_types; /* owned; each < type_count */
    size_t type_count;         /* >= 1 */
    tz_type *types;            /* owned */
    int has_rule;              /* the footer's rule governs after the last transition */
    tz_rule rule;
};

/* A stretch of time with one offset: [begin_ms, end_ms). */
typedef struct tz_period {
    int64_t offset_ms;
    int64_t begin_ms;
    int64_t end_ms;
} tz_period;

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- POSIX TZ rule (the TZif footer) ------------------------------------------------------ */

/* An abbreviation: letters, or "<...>" quoting letters, digits, '+' and '-'. Its text is not
 * kept: windows need offsets only. */
static int rule_skip_name(const char **p)
{
    const char *s = *p;
    size_t n = 0;
    if (*s == '<') {
        s++;
        while (is_alpha(*s) || is_digit(*s) || *s == '+' || *s == '-') {
            s++;
            n++;
        }
        if (*s != '>' || n == 0)
            return 0;
        s++;
    } else {
        while (is_alpha(*s)) {
            s++;
            n++;
        }
        if (n == 0)
            return 0;
    }
    *p = s;
    return 1;
}

/* Up to max_digits digits into *value; returns 0 if there is none. */
static int rule_number(const char **p, int max_digits, int *value)
{
    const char *s = *p;
    int v = 0, n = 0;
    while (n < max_digits && is_digit(*s)) {
        v = v * 10 + (*s - '0');
        s++;
        n++;
    }
    if (n == 0)
        return 0;
    *p = s;
    *value = v;
    return 1;
}

/* [+-]hh[:mm[:ss]] with hh up to max_hours, as signed milliseconds (sign as written). */
static int rule_hms(const char **p, int max_hours, int64_t *ms)
{
    const char *s = *p;
    int sign = 1, h, m = 0, sec = 0;
    if (*s == '+' || *s == '-') {
        sign = *s == '-' ? -1 : 1;
        s++;
    }
    if (!rule_number(&s, 3, &h) || h > max_hours)
        return 0;
    if (*s == ':') {
        s++;
        if (!rule_number(&s, 2, &m) || m > 59)
            return 0;
        if (*s == ':') {
            s++;
            if (!rule_number(&s, 2, &sec) || sec > 59)
                return 0;
        }
    }
    *p = s;
    *ms = sign * (((int64_t)h * 3600 + m * 60 + sec) * MS_PER_S);
    return 1;
}

static int rule_date(const char **p, tz_rule_date *date)
{
    const char *s = *p;
    memset(date, 0, sizeof *date);
    if (*s == 'J') {
        s++;
        date->kind = 'J';
        if (!rule_number(&s, 3, &date->day) || date->day < 1 || date->day > 365)
            return 0;
    } else if (*s == 'M') {
        s++;
        date->kind = 'M';
        if (!rule_number(&s, 2, &date->month) || date->month < 1 || date->month > 12 ||
            *s++ != '.' || !rule_number(&s, 1, &date->week) || date->week < 1 || date->week > 5 ||
            *s++ != '.' || !rule_number(&s, 1, &date->weekday) || date->weekday > 6)
            return 0;
    } else {
        date->kind = 'D';
        if (!rule_number(&s, 3, &date->day) || date->day > 365)
            return 0;
    }
    date->time_ms = 2 * 3600 * MS_PER_S; /* POSIX default 02:00 */
    if (*s == '/') {
        s++;
        /* RFC 8536 extends the hour range to -167..167 so rules can reach a neighbouring week. */
        if (!rule_hms(&s, 167, &date->time_ms))
            return 0;
    }
    *p = s;
    return 1;
}

/* Parses a whole POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3". POSIX offsets count
 * west of UTC; they are stored east. Returns 1 on success. */
static int rule_parse(const char *text, tz_rule *rule)
{
    const char *s = text;
    memset(rule, 0, sizeof *rule);
    int64_t west_ms;
    if (!rule_skip_name(&s) || !rule_hms(&s, 24, &west_ms))
        return 0;
    rule->std_ms = -west_ms;
    if (*s == '\0')
        return 1;
    if (!rule_skip_name(&s))
        return 0;
    rule->has_dst = 1;
    rule->dst_ms = rule->std_ms + 3600 * MS_PER_S;
    if (*s != ',' && *s != '\0') {
        if (!rule_hms(&s, 24, &west_ms))
            return 0;
        rule->dst_ms = -west_ms;
    }
    /* POSIX leaves a missing rule to the implementation; zic always writes one, so a footer
     * without it is treated as damaged rather than guessed at. */
    if (*s++ != ',' || !rule_date(&s, &rule->start) || *s++ != ',' || !rule_date(&s, &rule->end))
        return 0;
    return *s == '\0';
}

/* Local midnight (as days since the epoch) of a rule date in a given year. */
static int64_t rule_date_days(const tz_rule_date *date, int64_t year)
{
    int64_t jan1 = cal_days_from_civil(year, 1, 1);
    if (date->kind == 'J')
        return jan1 + date->day - 1 + (cal_is_leap_year(year) && date->day >= 60 ? 1 : 0);
    if (date->kind == 'D')
        return jan1 + date->day;
    int64_t first = cal_days_from_civil(year, (unsigned)date->month, 1);
    int64_t offset = cal_floor_mod(date->weekday - cal_weekday(first), 7) + (date->week - 1) * 7;
    while (offset >= cal_days_in_month(year, date->month))
        offset -= 7;
    return first + offset;
}

typedef struct rule_event {
    int64_t at_ms; /* UTC instant of the change */
    int64_t year;  /* the rule year it belongs to, for ordering ties */
    int to_dst;    /* 1: the change starts daylight time */
} rule_event;

/* The period of the rule that contains t. Changes of five rule years around t's year are laid out
 * in order: with rule times of up to +-167 h, a year's changes can land in the next or previous
 * year, and one on each side is enough. */
static void rule_period(const tz_rule *rule, int64_t t, tz_period *out)
{
    if (!rule->has_dst) {
        out->offset_ms = rule->std_ms;
        out->begin_ms = PERIOD_MIN_MS;
        out->end_ms = PERIOD_MAX_MS;
        return;
    }
    int64_t year;
    unsigned month, day;
    cal_civil_from_days(cal_floor_div(t + rule->std_ms, MS_PER_DAY), &year, &month, &day);
    rule_event events[10];
    size_t n = 0;
    for (int64_t y = year - 2; y <= year + 2; y++) {
        events[n].at_ms =
            rule_date_days(&rule->start, y) * MS_PER_DAY + rule->start.time_ms - rule->std_ms;
        events[n].year = y;
        events[n++].to_dst = 1;
        events[n].at_ms =
            rule_date_days(&rule->end, y) * MS_PER_DAY + rule->end.time_ms - rule->dst_ms;
        events[n].year = y;
        events[n++].to_dst = 0;
    }
    /* Ties: the later rule year wins (a year-long DST ends exactly when the next one starts);
     * within a year the end wins, so a zero-length DST stays standard time. */
    for (size_t i = 1; i < n; i++) {
        rule_event e = events[i];
        size_t j = i;
        while (j > 0 && (events[j - 1].at_ms > e.at_ms ||
                         (events[j - 1].at_ms == e.at_ms &&
                          (events[j - 1].year > e.year ||
                           (events[j - 1].year == e.year && events[j - 1].to_dst < e.to_dst))))) {
            events[j] = events[j - 1];
            j--;
        }
        events[j] = e;
    }
    size_t last = n;
    for (size_t i = 0; i < n && events[i].at_ms <= t; i++)
        last = i;
    if (last == n) { /* cannot happen with the years above; stay defined anyway */
        out->offset_ms = rule->std_ms;
        out->begin_ms = PERIOD_MIN_MS;
        out->end_ms = events[0].at_ms;
        return;
    }
    out->offset_ms = events[last].to_dst ? rule->dst_ms : rule->std_ms;
    out->begin_ms = events[last].at_ms;
    out->end_ms = last + 1 < n ? events[last + 1].at_ms : PERIOD_MAX_MS;
}

/* ---- Periods and conversions -------------------------------------------------------------- */

/* The period containing instant t (already clamped). */
static void zone_period(const tz_zone *zone, int64_t t, tz_period *out)
{
    size_t n = zone->transition_count;
    /* i = number of transitions at or before t */
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (zone->transitions_ms[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i = lo;
    if (i == n && zone->has_rule) {
        rule_period(&zone->rule, t, out);
        if (n > 0 && out->begin_ms < zone->transitions_ms[n - 1])
            out->begin_ms = zone->transitions_ms[n - 1];
        return;
    }
    if (i == 0) {
        out->offset_ms = zone->types[0].offset_ms;
        out->begin_ms = PERIOD_MIN_MS;
    } else {
        out->offset_ms = zone->types[zone->transition_types[i - 1]].offset_ms;
        out->begin_ms = zone->transitions_ms[i - 1];
    }
    out->end_ms = i < n ? zone->transitions_ms[i] : PERIOD_MAX_MS;
}

int64_t tz_offset_at(const tz_zone *zone, int64_t utc_ms)
{
    tz_period p;
    zone_period(zone, clamp64(utc_ms, -TZ_LIMIT_MS, TZ_LIMIT_MS), &p);
    return p.offset_ms;
}

enum gap_mode {
    GAP_SHIFT, /* a wall time in a gap moves forward by the gap's length */
    GAP_END    /* a wall time in a gap maps to the end of the gap */
};

/* Finds the earliest instant whose wall time is local_ms. Any solution lies within MAX_OFFSET_MS
 * of local_ms, so the periods overlapping that span are walked in order: the first whose offset
 * maps local_ms inside it holds the earliest solution; a period whose mapping falls before its
 * beginning means local_ms was skipped by the change into it (a gap). With GAP_END the result is
 * the earliest instant whose wall time is at or after local_ms, which never decreases as local_ms
 * grows: that is what makes window boundaries ordered. */
static int64_t local_resolve(const tz_zone *zone, int64_t local_ms, enum gap_mode mode)
{
    local_ms = clamp64(local_ms, -TZ_LIMIT_MS, TZ_LIMIT_MS);
    int64_t t = local_ms - MAX_OFFSET_MS;
    int64_t prev_offset_ms = 0;
    /* Ends: every period ends after t, and a period is left only when local_ms maps past its end,
     * which is at most local_ms + MAX_OFFSET_MS. Real zones take one to three rounds; a crafted
     * file takes at most one per transition it holds in that span. */
    for (int first = 1;; first = 0) {
        tz_period p;
        zone_period(zone, t, &p);
        int64_t u = local_ms - p.offset_ms;
        if (u < p.begin_ms) {
            if (first) /* impossible while offsets stay within MAX_OFFSET_MS */
                return p.begin_ms;
            return mode == GAP_SHIFT ? local_ms - prev_offset_ms : p.begin_ms;
        }
        if (u < p.end_ms)
            return u;
        prev_offset_ms = p.offset_ms;
        t = p.end_ms;
    }
}

int64_t tz_local_to_utc(const tz_zone *zone, int64_t local_ms)
{
    return local_resolve(zone, local_ms, GAP_SHIFT);
}

int64_t tz_local_to_utc_at_or_after(const tz_zone *zone, int64_t local_ms)
{
    return local_resolve(zone, local_ms, GAP_END);
}

/* ---- Construction ------------------------------------------------------------------------- */

void tz_zone_free(tz_zone *zone)
{
    if (zone == NULL)
        return;
    free(zone->name);
    free(zone->transitions_ms);
    free(zone->transition_types);
    free(zone->types);
    free(zone);
}

const char *tz_zone_name(const tz_zone *zone)
{
    return zone->name;
}

static tz_zone *zone_new(const char *name, size_t type_count)
{
    tz_zone *zone = calloc(1, sizeof *zone);
    if (zone == NULL)
        return NULL;
    zone->name = strdup(name != NULL ? name : "");
    zone->types = calloc(type_count, sizeof *zone->types);
    zone->type_count = type_count;
    if (zone->name == NULL || zone->types == NULL) {
        tz_zone_free(zone);
        return NULL;
    }
    return zone;
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t read_be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)read_be32(p) << 32 | read_be32(p + 4));
}

#define TZIF_HEADER_BYTES 44

typedef struct tzif_header {
    char version;      /* 0, or '2' and later */
    uint32_t isutcnt;  /* UT/local indicators: 0 or typecnt */
    uint32_t isstdcnt; /* standard/wall indicators: 0 or typecnt */
    uint32_t leapcnt;  /* leap-second records */
    uint32_t timecnt;  /* transitions */
    uint32_t typecnt;  /* local time types, >= 1 */
    uint32_t charcnt;  /* abbreviation bytes */
} tzif_header;

/* Messages name the zone and the byte offset where the file went wrong. */
static int tzif_fail(jl_error *err, const char *name, size_t at, const char *what)
{
    return jl_error_set(err, JL_ECORRUPT,
                        "time zone data \"%.*s\" is not a valid TZif file: %s at byte %zu",
                        MAX_NAME_BYTES, name != NULL ? name : "", what, at);
}

static int tzif_header_read(const uint8_t *data, size_t len, size_t at, const char *name,
                            tzif_header *h, jl_error *err)
{
    if (len - at < TZIF_HEADER_BYTES)
        return tzif_fail(err, name, at, "header truncated");
    const uint8_t *p = data + at;
    if (memcmp(p, "TZif", 4) != 0)
        return tzif_fail(err, name, at, "no \"TZif\" magic");
    h->version = (char)p[4];
    /* Later versions only add meaning to the same layout, so they are read as version 2+. */
    if (h->version != 0 && (h->version < '2' || h->version > '9'))
        return tzif_fail(err, name, at + 4, "unknown version");
    h->isutcnt = read_be32(p + 20);
    h->isstdcnt = read_be32(p + 24);
    h->leapcnt = read_be32(p + 28);
    h->timecnt = read_be32(p + 32);
    h->typecnt = read_be32(p + 36);
    h->charcnt = read_be32(p + 40);
    if (h->typecnt == 0)
        return tzif_fail(err, name, at + 36, "no local time types");
    if (h->isutcnt != 0 && h->isutcnt != h->typecnt)
        return tzif_fail(err, name, at + 20, "UT indicator count differs from type count");
    if (h->isstdcnt != 0 && h->isstdcnt != h->typecnt)
        return tzif_fail(err, name, at + 24, "standard indicator count differs from type count");
    return JL_OK;
}

/* Bytes of the data block that follows a header; counts are 32-bit, so this cannot wrap. */
static uint64_t tzif_block_bytes(const tzif_header *h, unsigned time_bytes)
{
    return (uint64_t)h->timecnt * (time_bytes + 1) + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (time_bytes + 4) + h->isstdcnt + h->isutcnt;
}

/* Reads the data block at `at` (already known to fit) into zone. */
static int tzif_block_read(const uint8_t *data, size_t at, const tzif_header *h,
                           unsigned time_bytes, const char *name, tz_zone *zone, jl_error *err)
{
    const uint8_t *times = data + at;
    const uint8_t *indices = times + (size_t)h->timecnt * time_bytes;
    const uint8_t *types = indices + h->timecnt;
    size_t types_at = at + (size_t)h->timecnt * (time_bytes + 1);
    if (h->leapcnt != 0)
        return jl_error_set(err, JL_ECORRUPT,
                            "time zone data \"%.*s\" counts leap seconds (a \"right/\" zone); "
                            "only zones in POSIX time are supported",
                            MAX_NAME_BYTES, name != NULL ? name : "");
    for (uint32_t i = 0; i < h->typecnt; i++) {
        const uint8_t *rec = types + (size_t)i * 6;
        int32_t utoff = (int32_t)read_be32(rec);
        if (utoff < -MAX_OFFSET_S || utoff > MAX_OFFSET_S)
            return tzif_fail(err, name, types_at + (size_t)i * 6, "UTC offset out of range");
        if (rec[4] > 1)
            return tzif_fail(err, name, types_at + (size_t)i * 6 + 4, "DST flag not 0 or 1");
        zone->types[i].offset_ms = (int64_t)utoff * MS_PER_S;
    }
    if (h->timecnt > 0) {
        zone->transitions_ms = malloc((size_t)h->timecnt * sizeof *zone->transitions_ms);
        zone->transition_types = malloc(h->timecnt);
        if (zone->transitions_ms == NULL || zone->transition_types == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory loading time zone \"%.*s\"",
                                MAX_NAME_BYTES, name != NULL ? name : "");
    }
    int64_t prev = 0;
    for (uint32_t i = 0; i < h->timecnt; i++) {
        const uint8_t *tp = times + (size_t)i * time_bytes;
        int64_t s = time_bytes == 8 ? read_be64(tp) : (int64_t)(int32_t)read_be32(tp);
        if (i > 0 && s <= prev)
            return tzif_fail(err, name, at + (size_t)i * time_bytes,
                             "transition times not ascending");
        prev = s;
        zone->transitions_ms[i] = clamp64(s, -TRANSITION_LIMIT_S, TRANSITION_LIMIT_S) * MS_PER_S;
        if (indices[i] >= h->typecnt)
            return tzif_fail(err, name, at + (size_t)h->timecnt * time_bytes + i,
                             "transition type index out of range");
        zone->transition_types[i] = indices[i];
    }
    zone->transition_count = h->timecnt;
    return JL_OK;
}

int tz_zone_parse_bytes(const char *name, const void *data_arg, size_t len, tz_zone **out,
                        jl_error *err)
{
    const uint8_t *data = data_arg;
    tz_zone *zone = NULL;
    tzif_header h = {0}; /* gcc -O3 cannot see that a failed read returns early */
    size_t at = 0;
    unsigned time_bytes = 4;
    char footer[MAX_FOOTER_BYTES + 1];
    int rc;
    *out = NULL;
    jl_error_clear(err);
    if (data == NULL)
        len = 0;

    if ((rc = tzif_header_read(data, len, at, name, &h, err)) != JL_OK)
        goto out;
    at += TZIF_HEADER_BYTES;
    if (tzif_block_bytes(&h, 4) > len - at) {
        rc = tzif_fail(err, name, at, "data block truncated");
        goto out;
    }
    if (h.version != 0) {
        /* The version 1 block only serves old readers: skip to the 64-bit one. */
        at += (size_t)tzif_block_bytes(&h, 4);
        char version = h.version;
        if ((rc = tzif_header_read(data, len, at, name, &h, err)) != JL_OK)
            goto out;
        if (h.version != version) {
            rc = tzif_fail(err, name, at + 4, "second header's version differs");
            goto out;
        }
        at += TZIF_HEADER_BYTES;
        time_bytes = 8;
        if (tzif_block_bytes(&h, 8) > len - at) {
            rc = tzif_fail(err, name, at, "64-bit data block truncated");
            goto out;
        }
    }
    zone = zone_new(name, h.typecnt);
    if (zone == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory loading time zone \"%.*s\"",
                          MAX_NAME_BYTES, name != NULL ? name : "");
        goto out;
    }
    if ((rc = tzif_block_read(data, at, &h, time_bytes, name, zone, err)) != JL_OK)
        goto out;
    at += (size_t)tzif_block_bytes(&h, time_bytes);

    /* The footer "\nTZ\n"; bytes after it are left to future versions. A missing footer is
     * read as an empty one, as old zic versions wrote none. */
    if (h.version != 0 && at < len) {
        if (data[at] != '\n') {
            rc = tzif_fail(err, name, at, "footer does not start with a newline");
            goto out;
        }
        const uint8_t *start = data + at + 1;
        const uint8_t *nl = memchr(start, '\n', len - at - 1);
        if (nl == NULL) {
            rc = tzif_fail(err, name, at, "footer not terminated by a newline");
            goto out;
        }
        size_t footer_len = (size_t)(nl - start);
        if (footer_len > MAX_FOOTER_BYTES || memchr(start, '\0', footer_len) != NULL) {
            rc = tzif_fail(err, name, at + 1, "footer too long or holding a NUL byte");
            goto out;
        }
        memcpy(footer, start, footer_len);
        footer[footer_len] = '\0';
        if (footer_len > 0) {
            if (!rule_parse(footer, &zone->rule)) {
                rc = jl_error_set(err, JL_ECORRUPT,
                                  "time zone data \"%.*s\" is not a valid TZif file: footer "
                                  "\"%s\" is not a POSIX TZ rule, at byte %zu",
                                  MAX_NAME_BYTES, name != NULL ? name : "", footer, at + 1);
                goto out;
            }
            zone->has_rule = 1;
        }
    }
    *out = zone;
    zone = NULL;
    rc = JL_OK;
out:
    tz_zone_free(zone);
    return rc;
}

static int valid_zone_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > MAX_NAME_BYTES || name[0] == '/' || strstr(name, "..") != NULL)
        return 0;
    for (const char *p = name; *p != '\0'; p++) {
        if (!is_alpha(*p) && !is_digit(*p) && *p != '_' && *p != '+' && *p != '-' && *p != '/')
            return 0;
    }
    return 1;
}

/* Reads a whole regular file of at most MAX_FILE_BYTES into *data (owned by the caller).
 * Returns JL_OK, JL_ENOTFOUND (no such file, or not a regular file) or JL_EIO with errno set. */
static int read_zone_file(const char *path, uint8_t **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR ? JL_ENOTFOUND : JL_EIO;
    int rc = JL_OK;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = JL_EIO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = JL_ENOTFOUND;
        goto out;
    }
    if (st.st_size > MAX_FILE_BYTES) {
        errno = EFBIG;
        rc = JL_EIO;
        goto out;
    }
    *data = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (*data == NULL) {
        rc = JL_ENOMEM;
        goto out;
    }
    while (*len < (size_t)st.st_size) {
        ssize_t got = read(fd, *data + *len, (size_t)st.st_size - *len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = JL_EIO;
            goto out;
        }
        if (got == 0)
            break; /* the file shrank; the parser will see a truncated file */
        *len += (size_t)got;
    }
out:
    if (rc != JL_OK) {
        int saved = errno;
        free(*data);
        *data = NULL;
        errno = saved;
    }
    close(fd);
    return rc;
}

int tz_zone_load(const char *name, tz_zone **out, jl_error *err)
{
    *out = NULL;
    jl_error_clear(err);
    if (name == NULL)
        name = "";
    int64_t offset_ms = 0;
    if (strcmp(name, "UTC") == 0 || strcmp(name, "utc") == 0 || strcmp(name, "Z") == 0 ||
        strcmp(name, "z") == 0 || qp_scan_utc_offset(name, strlen(name), 1, &offset_ms) == 1) {
        tz_zone *zone = zone_new(name, 1);
        if (zone == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory loading time zone");
        zone->types[0].offset_ms = offset_ms;
        *out = zone;
        return JL_OK;
    }
    if (!valid_zone_name(name))
        return jl_error_set(err, JL_EINVAL,
                            "unknown time zone \"%.*s\"; expected UTC, an offset such as +08:00 "
                            "or -05:30, or an IANA name such as Europe/Berlin",
                            64, name);

    char path[sizeof TZ_ZONEINFO_DIR + MAX_NAME_BYTES + 2];
    snprintf(path, sizeof path, "%s/%s", TZ_ZONEINFO_DIR, name);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_zone_file(path, &data, &len);
    if (rc == JL_ENOTFOUND) {
        struct stat st;
        if (stat(TZ_ZONEINFO_DIR, &st) != 0)
            rc = jl_error_set(err, JL_EINVAL,
                              "unknown time zone \"%s\": %s does not exist (is the tzdata "
                              "package installed?)",
                              name, TZ_ZONEINFO_DIR);
        else
            rc = jl_error_set(err, JL_EINVAL,
                              "unknown time zone \"%s\"; expected UTC, an offset such as "
                              "+08:00 or -05:30, or an IANA name such as Europe/Berlin",
                              name);
        goto out;
    }
    if (rc == JL_EIO) {
        rc = jl_error_set(err, JL_EIO, "cannot read time zone file %s: %s", path, strerror(errno));
        goto out;
    }
    if (rc != JL_OK) {
        rc = jl_error_set(err, rc, "out of memory reading time zone file %s", path);
        goto out;
    }
    rc = tz_zone_parse_bytes(name, data, len, out, err);
    /* The user picked the name, so an unusable file (leapseconds, a right/ zone) is bad input. */
    if (rc == JL_ECORRUPT) {
        rc = JL_EINVAL;
        if (err != NULL)
            err->code = rc;
    }
out:
    free(data);
    return rc;
}
