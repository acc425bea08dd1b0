/* Fuzz target for query/tz.c. The same bytes go three ways: as a TZif file to
 * tz_zone_parse_bytes(), as a zone name or offset to tz_zone_load(), and as the POSIX TZ footer
 * of an otherwise valid TZif file. A parse may fail but must not crash, read out of bounds or
 * leak; a zone that loads must give bounded offsets and windows that contain their instant. */
#include "jialing/tz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Offsets are limited to 26 h by the parser (TZif) and to 24:59:59 (POSIX rules). */
#define MAX_OFFSET_MS (26 * 3600 * 1000LL)

static void check_instant(const tz_zone *zone, int64_t t)
{
    int64_t offset = tz_offset_at(zone, t);
    if (offset < -MAX_OFFSET_MS || offset > MAX_OFFSET_MS)
        abort();
    int in_range = t >= JL_MIN_MS && t <= JL_MAX_MS;
    /* The earliest instant with t's wall time cannot be after t. */
    if (in_range && tz_local_to_utc(zone, t + offset) > t)
        abort();
    if (!in_range)
        (void)tz_local_to_utc(zone, t);
    for (int unit = TZ_UNIT_DAY; unit <= TZ_UNIT_YEAR; unit++) {
        for (int64_t count = 1; count <= 3; count++) {
            int64_t start = tz_unit_start(zone, (tz_unit)unit, count, t);
            int64_t next = tz_unit_next(zone, (tz_unit)unit, count, start);
            if (in_range && !(start <= t && t < next))
                abort();
        }
    }
}

static void exercise(const tz_zone *zone, const uint8_t *data, size_t size)
{
    static const int64_t fixed[] = {0,         -1,        1735660800000LL, -2208988800000LL,
                                    JL_MIN_MS, JL_MAX_MS, INT64_MIN,       INT64_MAX};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        check_instant(zone, fixed[i]);
    /* A few instants taken from the input, folded into the supported range. */
    for (size_t at = 0; at + 8 <= size && at < 64; at += 8) {
        uint64_t raw = 0;
        for (int i = 0; i < 8; i++)
            raw = raw << 8 | data[at + i];
        int64_t t = (int64_t)(raw % (uint64_t)(2 * JL_MAX_MS + 1)) - JL_MAX_MS;
        check_instant(zone, t);
    }
    (void)tz_zone_name(zone);
}

static void as_tzif(const uint8_t *data, size_t size)
{
    tz_zone *zone = NULL;
    jl_error err;
    int rc = tz_zone_parse_bytes("fuzz", data, size, &zone, &err);
    if (rc == JL_OK) {
        exercise(zone, data, size);
    } else if ((rc != JL_ECORRUPT && rc != JL_ENOMEM) || zone != NULL || err.code != rc) {
        abort();
    }
    tz_zone_free(zone);
}

static void as_name(const uint8_t *data, size_t size)
{
    if (size > 256)
        return;
    char name[257];
    memcpy(name, data, size);
    name[size] = '\0';
    tz_zone *zone = NULL;
    jl_error err;
    int rc = tz_zone_load(name, &zone, &err);
    if (rc == JL_OK)
        exercise(zone, data, size);
    else if (zone != NULL || err.code != rc || err.message[0] == '\0')
        abort();
    tz_zone_free(zone);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A version 2 file with one type (+01:00) and no transitions: only the footer varies. */
static void as_footer(const uint8_t *data, size_t size)
{
    if (size > 300 || memchr(data, '\n', size) != NULL)
        return;
    enum { HEADER = 44, BLOCK = 6 + 1 };
    uint8_t file[2 * (HEADER + BLOCK) + 302];
    size_t len = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint8_t *h = file + len;
        memset(h, 0, HEADER);
        memcpy(h, "TZif2", 5);
        put32(h + 36, 1); /* typecnt */
        put32(h + 40, 1); /* charcnt */
        len += HEADER;
        put32(file + len, 3600);
        file[len + 4] = 0;
        file[len + 5] = 0;
        file[len + 6] = 0; /* the abbreviation: "" */
        len += BLOCK;
    }
    file[len++] = '\n';
    memcpy(file + len, data, size);
    len += size;
    file[len++] = '\n';
    as_tzif(file, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_tzif(data, size);
    as_name(data, size);
    as_footer(data, size);
    return 0;
}
