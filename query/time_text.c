/* Time-point and UTC-offset parsing: the one RFC 3339 parser (the API's and the CLI's), integer
 * epoch milliseconds, and the one UTC-offset grammar (also used by tz.c's fixed zones). Dates
 * become days through calendar.c rather than timegm()/mktime(), so a result never depends on the
 * process's time zone, locale or libc. */
#include "jialing/params.h"
#include "jialing/calendar.h"
#include "text_scan.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Reads exactly n digits at text[*pos..len) into *value and advances *pos; returns 1 when they
 * are all there and all digits, else 0. */
static int read_digits(const char *text, size_t len, size_t *pos, int n, int *value)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*pos >= len || !is_digit(text[*pos]))
            return 0;
        v = v * 10 + (text[(*pos)++] - '0');
    }
    *value = v;
    return 1;
}

int qp_scan_utc_offset(const char *text, size_t len, int allow_short, int64_t *offset_ms)
{
    int sign;
    if (len == 0)
        return 0;
    if (text[0] == '+' || text[0] == ' ')
        sign = 1;
    else if (text[0] == '-')
        sign = -1;
    else
        return 0;
    size_t pos = 1;
    int hours, minutes = 0;
    if (!read_digits(text, len, &pos, 2, &hours))
        return 0;
    if (pos < len && text[pos] == ':') {
        pos++;
        if (!read_digits(text, len, &pos, 2, &minutes) || pos != len)
            return 0;
    } else if (!allow_short) {
        return 0;
    } else if (pos < len) {
        if (!read_digits(text, len, &pos, 2, &minutes) || pos != len)
            return 0;
    }
    if (hours > 23 || minutes > 59)
        return -1;
    *offset_ms = sign * ((int64_t)hours * 3600 + (int64_t)minutes * 60) * 1000;
    return 1;
}

int qp_parse_utc_offset(const char *text, int64_t *offset_ms, jl_error *err)
{
    *offset_ms = 0;
    jl_error_clear(err);
    if (text == NULL || text[0] == '\0')
        return jl_error_set(err, JL_EINVAL,
                            "UTC offset is empty; expected an offset such as +08:00, -05:30, Z "
                            "or UTC");
    if (strcmp(text, "Z") == 0 || strcmp(text, "z") == 0 || strcmp(text, "UTC") == 0 ||
        strcmp(text, "utc") == 0)
        return JL_OK;
    int64_t value = 0;
    int rc = qp_scan_utc_offset(text, strlen(text), 1, &value);
    if (rc < 0)
        return jl_error_set(err, JL_EINVAL,
                            "UTC offset \"%.*s%s\" is out of range; hours go up to 23 and minutes "
                            "up to 59",
                            quote_len(text), text, quote_suffix(text));
    if (rc == 0)
        return jl_error_set(err, JL_EINVAL,
                            "UTC offset \"%.*s%s\" is not valid; expected an offset such as "
                            "+08:00, -05:30, +0800, Z or UTC",
                            quote_len(text), text, quote_suffix(text));
    *offset_ms = value;
    return JL_OK;
}

/* Integer epoch milliseconds: an optional '-' (or '+' with QP_TIME_PLUS_EPOCH) and digits only.
 * Returns the length of the sign (0 or 1) when text has that shape (whatever its range), else
 * -1. */
static int epoch_sign_len(const char *text, size_t len, unsigned flags)
{
    size_t at = len > 0 && (text[0] == '-' || (text[0] == '+' && (flags & QP_TIME_PLUS_EPOCH)));
    if (at == len)
        return -1;
    for (size_t i = at; i < len; i++) {
        if (!is_digit(text[i]))
            return -1;
    }
    return (int)at;
}

/* Fails with a message about a time: "time "<text>" <detail>", the text cut at QUOTE_MAX. */
static int time_fail(jl_error *err, const char *text, size_t len, const char *detail)
{
    return jl_error_set(err, JL_EINVAL, "time \"%.*s%s\" %s",
                        (int)(len > QUOTE_MAX ? QUOTE_MAX : len), text,
                        len > QUOTE_MAX ? "..." : "", detail);
}

static int parse_epoch(const char *text, size_t len, size_t digits_at, int64_t *ms, jl_error *err)
{
    int negative = text[0] == '-';
    uint64_t magnitude = 0;
    for (size_t i = digits_at; i < len; i++) {
        magnitude = magnitude * 10 + (uint64_t)(text[i] - '0');
        /* Far past either limit; stop before the multiplication can wrap. */
        if (magnitude > (uint64_t)JL_MAX_MS * 10)
            break;
    }
    if (magnitude > (uint64_t)(negative ? -JL_MIN_MS : JL_MAX_MS)) {
        char detail[128];
        snprintf(detail, sizeof detail,
                 "is outside the supported range of epoch milliseconds, %lld to %lld",
                 (long long)JL_MIN_MS, (long long)JL_MAX_MS);
        return time_fail(err, text, len, detail);
    }
    *ms = negative ? -(int64_t)magnitude : (int64_t)magnitude;
    return JL_OK;
}

int qp_parse_time_text(const char *text, size_t len, unsigned flags, int64_t *ms, jl_error *err)
{
    static const char shape[] = "is neither epoch milliseconds nor an RFC 3339 date-time such "
                                "as 2025-01-01T00:00:00Z or 2025-01-01T08:00:00+08:00";
    static const char range[] = "is outside the supported range, 1677-09-21T00:12:43.146Z to "
                                "2262-04-11T23:47:16.854Z";
    *ms = 0;
    jl_error_clear(err);
    if (text == NULL || len == 0)
        return jl_error_set(err, JL_EINVAL,
                            "time is empty; expected epoch milliseconds or an RFC 3339 date-time "
                            "such as 2025-01-01T00:00:00Z");
    int sign_len = epoch_sign_len(text, len, flags);
    if (sign_len >= 0)
        return parse_epoch(text, len, (size_t)sign_len, ms, err);

    /* YYYY-MM-DD */
    size_t pos = 0;
    int year, month, day, hour, minute, second;
    if (!read_digits(text, len, &pos, 4, &year) || pos >= len || text[pos++] != '-' ||
        !read_digits(text, len, &pos, 2, &month) || pos >= len || text[pos++] != '-' ||
        !read_digits(text, len, &pos, 2, &day))
        return time_fail(err, text, len, shape);
    if (pos == len)
        return time_fail(err, text, len, "has no time of day; write e.g. 2025-01-01T00:00:00Z");
    /* T, t or a space, then hh:mm:ss */
    char sep = text[pos++];
    if ((sep != 'T' && sep != 't' && sep != ' ') || !read_digits(text, len, &pos, 2, &hour) ||
        pos >= len || text[pos++] != ':' || !read_digits(text, len, &pos, 2, &minute) ||
        pos >= len || text[pos++] != ':' || !read_digits(text, len, &pos, 2, &second))
        return time_fail(err, text, len, shape);
    int64_t fraction_ms = 0;
    if (pos < len && (text[pos] == '.' || (text[pos] == ',' && (flags & QP_TIME_COMMA_FRACTION)))) {
        pos++;
        if (pos >= len || !is_digit(text[pos]))
            return time_fail(err, text, len, "has a '.' without digits of a fraction of a second");
        /* Digits past milliseconds are truncated, not rounded, so a time never moves forward
         * into the next millisecond. */
        int taken = 0;
        for (; pos < len && is_digit(text[pos]); pos++) {
            if (taken < 3) {
                fraction_ms = fraction_ms * 10 + (text[pos] - '0');
                taken++;
            }
        }
        for (; taken < 3; taken++)
            fraction_ms *= 10;
    }
    int64_t offset_ms = 0;
    if (pos == len)
        return time_fail(err, text, len, "has no UTC offset; add Z or an offset such as +08:00");
    if ((text[pos] == 'Z' || text[pos] == 'z') && pos + 1 == len) {
        offset_ms = 0;
    } else {
        int rc = qp_scan_utc_offset(text + pos, len - pos, 0, &offset_ms);
        if (rc < 0)
            return time_fail(err, text, len,
                             "has an out-of-range UTC offset; hours go up to 23, minutes to 59");
        if (rc == 0)
            return time_fail(err, text, len,
                             "ends in something other than a UTC offset; expected Z or an "
                             "offset such as +08:00");
    }

    char detail[128];
    if (month < 1 || month > 12) {
        snprintf(detail, sizeof detail, "has month %02d; months go from 01 to 12", month);
        return time_fail(err, text, len, detail);
    }
    if (day < 1 || day > cal_days_in_month(year, month)) {
        snprintf(detail, sizeof detail, "has day %02d, but %04d-%02d has %d days", day, year, month,
                 cal_days_in_month(year, month));
        return time_fail(err, text, len, detail);
    }
    if (second == 60 && (flags & QP_TIME_FOLD_LEAP_SECOND))
        second = 59;
    if (hour > 23 || minute > 59 || second > 59)
        return time_fail(err, text, len,
                         "has an invalid time of day; hours go up to 23, minutes and seconds to "
                         "59 (leap seconds are not accepted)");
    /* The millisecond range covers years 1677 to 2262; other years cannot be in range, and
     * rejecting them here keeps the arithmetic below far from overflow and from year 0. */
    if (year < 1600 || year > 2300)
        return time_fail(err, text, len, range);
    int64_t seconds = cal_days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 +
                      (int64_t)hour * 3600 + (int64_t)minute * 60 + second;
    int64_t result = seconds * 1000 + fraction_ms - offset_ms;
    if (result < JL_MIN_MS || result > JL_MAX_MS)
        return time_fail(err, text, len, range);
    *ms = result;
    return JL_OK;
}

int qp_parse_time(const char *text, int64_t *ms, jl_error *err)
{
    return qp_parse_time_text(text, text != NULL ? strlen(text) : 0, 0, ms, err);
}
