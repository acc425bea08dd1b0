/* Duration parsing for the HTTP API: an integer and a unit (ms s m h d w mo y), or several such
 * terms concatenated (`1h30m`). Owns the duration grammar; fixed units sum to milliseconds,
 * calendar units (mo, y) to months, kept apart because a month has no fixed length. */
#include "jialing/params.h"
#include "text_scan.h"

#include <stdint.h>
#include <string.h>

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
