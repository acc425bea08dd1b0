/* Query parameter parsing for the HTTP API: selectors, durations, time points, UTC offsets and
 * numbers. Owns the text grammar of these parameters: the one RFC 3339 parser (the API's and the
 * CLI's) and the one UTC-offset grammar (also used by tz.c's fixed zones). Dates become days
 * through calendar.c rather than timegm()/mktime(), so a result never depends on the process's
 * time zone, locale or libc. */
#include "jialing/params.h"
#include "jialing/serieskey.h"
#include "jialing/calendar.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Messages quote the user's text; beyond this many bytes it is cut, so a huge parameter cannot
 * push the explanation out of the fixed-size message. */
#define QUOTE_MAX 64

/* Character classes by hand: <ctype.h> answers depend on the locale. */
static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_name_start(char c)
{
    return is_alpha(c) || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || is_digit(c) || c == '.' || c == '-';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Length of text to quote in a message, and the suffix that says it was cut. */
static int quote_len(const char *text)
{
    size_t len = strlen(text);
    return len > QUOTE_MAX ? QUOTE_MAX : (int)len;
}

static const char *quote_suffix(const char *text)
{
    return strlen(text) > QUOTE_MAX ? "..." : "";
}

/* ------------------------------------------------------------------------------------------ */
/* Selectors */

typedef struct sel_parser {
    const char *text; /* whole selector, NUL-terminated */
    size_t pos;       /* byte offset of the next character */
    jl_error *err;
} sel_parser;

/* Fills err with "selector: column N: <message>" for the byte at offset at; returns JL_EINVAL. */
static int sel_fail(sel_parser *p, size_t at, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int sel_fail(sel_parser *p, size_t at, const char *format, ...)
{
    char detail[JL_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(detail, sizeof detail, format, args);
    va_end(args);
    jl_error_set(p->err, JL_EINVAL, "selector: column %zu: %s", at + 1, detail);
    if (p->err != NULL)
        p->err->column = (long)(at + 1);
    return JL_EINVAL;
}

/* Describes the character at offset at for a message: 'x', a byte in hex, or the end. */
static void sel_describe(const sel_parser *p, size_t at, char *out, size_t cap)
{
    unsigned char c = (unsigned char)p->text[at];
    if (c == '\0')
        snprintf(out, cap, "the end of the selector");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(out, cap, "'%c'", c);
    else
        snprintf(out, cap, "byte 0x%02X", c);
}

static void sel_skip_space(sel_parser *p)
{
    while (is_space(p->text[p->pos]))
        p->pos++;
}

/* Copies text[start, start+len) into a new NUL-terminated string. */
static char *copy_text(const char *start, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, start, len);
    copy[len] = '\0';
    return copy;
}

/* Reads a name at the current position into *out (allocated); what names the name in messages.
 * The caller has checked that a name starts here. */
static int sel_name(sel_parser *p, const char *what, char **out)
{
    size_t start = p->pos;
    while (is_name_char(p->text[p->pos]))
        p->pos++;
    size_t len = p->pos - start;
    if (len > SK_MAX_NAME_BYTES)
        return sel_fail(p, start, "%s is %zu bytes long; at most %d are allowed", what, len,
                        SK_MAX_NAME_BYTES);
    *out = copy_text(p->text + start, len);
    if (*out == NULL)
        return jl_error_set(p->err, JL_ENOMEM, "selector: out of memory");
    return JL_OK;
}

/* Reads a double-quoted value (the cursor is on the opening quote) into *out, unescaped. */
static int sel_value(sel_parser *p, const char *key, char **out)
{
    size_t open = p->pos;
    p->pos++;
    /* The unescaped value is never longer than the raw text up to the closing quote. */
    size_t end = p->pos;
    while (p->text[end] != '\0' && p->text[end] != '"') {
        if (p->text[end] == '\\' && p->text[end + 1] != '\0')
            end++;
        end++;
    }
    if (p->text[end] == '\0')
        return sel_fail(p, open, "the value of tag \"%s\" has no closing '\"'", key);
    char *value = malloc(end - p->pos + 1);
    if (value == NULL)
        return jl_error_set(p->err, JL_ENOMEM, "selector: out of memory");
    size_t len = 0;
    int rc = JL_OK;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c == '\\') {
            char next = p->text[p->pos + 1];
            if (next != '"' && next != '\\') {
                char found[32];
                sel_describe(p, p->pos + 1, found, sizeof found);
                rc = sel_fail(p, p->pos,
                              "unsupported escape of %s in the value of tag \"%s\" (only \\\" "
                              "and \\\\ are allowed)",
                              found, key);
                goto out;
            }
            value[len++] = next;
            p->pos += 2;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            rc = sel_fail(p, p->pos,
                          "control character (byte 0x%02X) in the value of tag \"%s\"; tag "
                          "values cannot contain control characters",
                          c, key);
            goto out;
        }
        value[len++] = (char)c;
        p->pos++;
    }
    p->pos++; /* closing quote */
    if (len > SK_MAX_VALUE_BYTES) {
        rc = sel_fail(p, open, "the value of tag \"%s\" is %zu bytes long; at most %d are allowed",
                      key, len, SK_MAX_VALUE_BYTES);
        goto out;
    }
    value[len] = '\0';
    /* The same rule as for written tag values: a value no series can have is a mistake. */
    if (rc == JL_OK && len > 0 && !sk_value_valid(value, len)) {
        rc = sel_fail(p, open, "the value of tag \"%s\" is not valid UTF-8", key);
        goto out;
    }
    *out = value;
    value = NULL;
out:
    free(value);
    return rc;
}

/* Parses one `key op "value"` condition into the next matcher slot. */
static int sel_matcher(sel_parser *p, qp_selector *out)
{
    char found[32];
    size_t start = p->pos;
    if (!is_name_start(p->text[p->pos])) {
        sel_describe(p, p->pos, found, sizeof found);
        return sel_fail(p, p->pos, "expected a tag name, found %s", found);
    }
    if (out->matcher_count == QP_MAX_MATCHERS)
        return sel_fail(p, start, "too many tag conditions; at most %d are allowed",
                        QP_MAX_MATCHERS);
    qp_matcher *m = &out->matchers[out->matcher_count];
    int rc = sel_name(p, "tag name", &m->key);
    if (rc != JL_OK)
        return rc;
    /* Counted now so qp_selector_destroy() frees the key even if the rest fails. */
    out->matcher_count++;
    sel_skip_space(p);
    size_t op = p->pos;
    if (p->text[p->pos] == '=') {
        m->negate = 0;
        p->pos++;
    } else if (p->text[p->pos] == '!' && p->text[p->pos + 1] == '=') {
        m->negate = 1;
        p->pos += 2;
    } else if (p->text[p->pos] == '!' && p->text[p->pos + 1] == '~') {
        return sel_fail(p, op, "regular-expression matchers (!~) are not supported; use = or !=");
    } else {
        sel_describe(p, p->pos, found, sizeof found);
        return sel_fail(p, op, "expected '=' or '!=' after tag \"%s\", found %s", m->key, found);
    }
    if (p->text[p->pos] == '~')
        return sel_fail(p, op, "regular-expression matchers (=~) are not supported; use = or !=");
    sel_skip_space(p);
    if (p->text[p->pos] != '"') {
        sel_describe(p, p->pos, found, sizeof found);
        return sel_fail(p, p->pos, "expected '\"' to start the value of tag \"%s\", found %s",
                        m->key, found);
    }
    return sel_value(p, m->key, &m->value);
}

/* Parses the braces of a selector; the cursor is on '{'. A trailing comma is accepted, as
 * Prometheus accepts it. */
static int sel_braces(sel_parser *p, qp_selector *out)
{
    char found[32];
    p->pos++;
    sel_skip_space(p);
    if (p->text[p->pos] == '}') {
        p->pos++;
        return JL_OK;
    }
    for (;;) {
        int rc = sel_matcher(p, out);
        if (rc != JL_OK)
            return rc;
        sel_skip_space(p);
        if (p->text[p->pos] == '}') {
            p->pos++;
            return JL_OK;
        }
        if (p->text[p->pos] != ',') {
            sel_describe(p, p->pos, found, sizeof found);
            return sel_fail(p, p->pos,
                            "expected ',' or '}' after the value of tag \"%s\", found %s",
                            out->matchers[out->matcher_count - 1].key, found);
        }
        p->pos++;
        sel_skip_space(p);
        if (p->text[p->pos] == '}') {
            p->pos++;
            return JL_OK;
        }
    }
}

int qp_parse_selector(const char *text, qp_selector *out, jl_error *err)
{
    memset(out, 0, sizeof *out);
    jl_error_clear(err);
    if (text == NULL)
        text = "";
    sel_parser p = {.text = text, .pos = 0, .err = err};
    char found[32];
    int rc;
    sel_skip_space(&p);
    if (text[p.pos] == '\0') {
        rc = sel_fail(&p, p.pos,
                      "the selector is empty; expected a metric name such as pm25 or "
                      "pm25{station=\"s01\"}");
        goto out;
    }
    if (!is_name_start(text[p.pos])) {
        sel_describe(&p, p.pos, found, sizeof found);
        rc = sel_fail(&p, p.pos, "expected a metric name, found %s", found);
        goto out;
    }
    rc = sel_name(&p, "metric name", &out->metric);
    if (rc != JL_OK)
        goto out;
    sel_skip_space(&p);
    if (text[p.pos] == '{') {
        rc = sel_braces(&p, out);
        if (rc != JL_OK)
            goto out;
        sel_skip_space(&p);
    }
    if (text[p.pos] != '\0') {
        sel_describe(&p, p.pos, found, sizeof found);
        rc = sel_fail(&p, p.pos, "unexpected %s after the end of the selector", found);
        goto out;
    }
out:
    if (rc != JL_OK)
        qp_selector_destroy(out);
    return rc;
}

void qp_selector_destroy(qp_selector *selector)
{
    if (selector == NULL)
        return;
    free(selector->metric);
    for (size_t i = 0; i < selector->matcher_count && i < QP_MAX_MATCHERS; i++) {
        free(selector->matchers[i].key);
        free(selector->matchers[i].value);
    }
    memset(selector, 0, sizeof *selector);
}

/* ------------------------------------------------------------------------------------------ */
/* Durations */

typedef struct duration_unit {
    const char *name;
    int64_t ms;     /* milliseconds per unit, 0 for calendar units */
    int32_t months; /* months per unit, 0 for fixed units */
} duration_unit;

static const duration_unit duration_units[] = {
    {"ms", 1, 0},
    {"s", 1000, 0},
    {"m", 60 * 1000, 0},
    {"h", 3600 * 1000, 0},
    {"d", 86400LL * 1000, 0},
    {"w", 7 * 86400LL * 1000, 0},
    {"mo", 0, 1},
    {"y", 0, 12},
};

int qp_parse_duration(const char *text, qp_duration *out, jl_error *err)
{
    memset(out, 0, sizeof *out);
    jl_error_clear(err);
    if (text == NULL || text[0] == '\0')
        return jl_error_set(err, JL_EINVAL,
                            "duration is empty; expected a number and a unit such as 5m or 1h30m");
    const int qlen = quote_len(text);
    const char *qsuf = quote_suffix(text);
    if (text[0] == '-')
        return jl_error_set(err, JL_EINVAL, "duration \"%.*s%s\" must be positive", qlen, text,
                            qsuf);
    int64_t ms = 0;
    int32_t months = 0;
    const char *p = text;
    while (*p != '\0') {
        if (!is_digit(*p))
            return jl_error_set(err, JL_EINVAL,
                                "duration \"%.*s%s\": expected a number at position %zu "
                                "(units: ms s m h d w mo y)",
                                qlen, text, qsuf, (size_t)(p - text) + 1);
        uint64_t count = 0;
        while (is_digit(*p)) {
            count = count * 10 + (uint64_t)(*p - '0');
            if (count > (uint64_t)INT64_MAX)
                return jl_error_set(err, JL_EINVAL, "duration \"%.*s%s\" is too large", qlen, text,
                                    qsuf);
            p++;
        }
        const char *unit = p;
        while (is_alpha(*p))
            p++;
        size_t unit_len = (size_t)(p - unit);
        if (unit_len == 0)
            return jl_error_set(err, JL_EINVAL,
                                "duration \"%.*s%s\": missing unit after the number %llu "
                                "(units: ms s m h d w mo y)",
                                qlen, text, qsuf, (unsigned long long)count);
        const duration_unit *found = NULL;
        for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
            if (strlen(duration_units[i].name) == unit_len &&
                memcmp(duration_units[i].name, unit, unit_len) == 0)
                found = &duration_units[i];
        }
        if (found == NULL)
            return jl_error_set(err, JL_EINVAL,
                                "duration \"%.*s%s\": unknown unit \"%.*s\" (units: ms s m h d w "
                                "mo y)",
                                qlen, text, qsuf,
                                (int)(unit_len > QUOTE_MAX ? QUOTE_MAX : unit_len), unit);
        if (found->ms != 0) {
            if (count > (uint64_t)(INT64_MAX / found->ms) ||
                (int64_t)count * found->ms > INT64_MAX - ms)
                return jl_error_set(err, JL_EINVAL, "duration \"%.*s%s\" is too large", qlen, text,
                                    qsuf);
            ms += (int64_t)count * found->ms;
        } else {
            if (count > (uint64_t)(INT32_MAX / found->months) ||
                (int32_t)count * found->months > INT32_MAX - months)
                return jl_error_set(err, JL_EINVAL, "duration \"%.*s%s\" is too large", qlen, text,
                                    qsuf);
            months += (int32_t)count * found->months;
        }
    }
    if (ms == 0 && months == 0)
        return jl_error_set(err, JL_EINVAL, "duration \"%.*s%s\" must be positive", qlen, text,
                            qsuf);
    out->ms = ms;
    out->months = months;
    return JL_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Time points and offsets */

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

/* ------------------------------------------------------------------------------------------ */
/* Numbers */

int qp_parse_number(const char *text, double *out, jl_error *err)
{
    *out = 0;
    jl_error_clear(err);
    if (text == NULL || text[0] == '\0')
        return jl_error_set(err, JL_EINVAL, "number is empty");
    /* strtod skips leading white space; the whole text must be the number. */
    if (is_space(text[0]) || text[0] == '\f' || text[0] == '\v')
        return jl_error_set(err, JL_EINVAL, "number \"%.*s%s\" starts with white space",
                            quote_len(text), text, quote_suffix(text));
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || *end != '\0')
        return jl_error_set(err, JL_EINVAL, "\"%.*s%s\" is not a number", quote_len(text), text,
                            quote_suffix(text));
    if (!isfinite(value))
        return jl_error_set(err, JL_EINVAL, "number \"%.*s%s\" is not finite", quote_len(text),
                            text, quote_suffix(text));
    *out = value;
    return JL_OK;
}
