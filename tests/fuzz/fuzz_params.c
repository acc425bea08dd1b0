/* Fuzz target for query/params.c and the query parameter parsers of query/: the same bytes, as a
 * NUL-terminated string, go to every parameter parser (selectors, durations with calendar units,
 * times, offsets, numbers, aggregate lists with percentiles, compare ops, fill values, and the
 * comma-separated tag lists of group_by, read as the server splits them). A parse may fail but must
 * not crash, read out of bounds or leak; what parses must be well-formed. */
#include "jialing/params.h"
#include "jialing/query.h"
#include "jialing/serieskey.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    jl_error err;
    qp_selector sel;
    if (qp_parse_selector(text, &sel, &err) == JL_OK) {
        if (sel.metric == NULL || sel.matcher_count > QP_MAX_MATCHERS)
            abort();
        for (size_t i = 0; i < sel.matcher_count; i++) {
            if (sel.matchers[i].key == NULL || sel.matchers[i].value == NULL)
                abort();
        }
    } else if (err.code != JL_EINVAL && err.code != JL_ENOMEM) {
        abort();
    }
    qp_selector_destroy(&sel);

    qp_duration duration;
    if (qp_parse_duration(text, &duration, &err) == JL_OK &&
        (duration.ms < 0 || duration.months < 0 || (duration.ms == 0 && duration.months == 0)))
        abort();

    int64_t ms;
    if (qp_parse_time(text, &ms, &err) == JL_OK && (ms < JL_MIN_MS || ms > JL_MAX_MS))
        abort();

    int64_t offset_ms;
    if (qp_parse_utc_offset(text, &offset_ms, &err) == JL_OK &&
        (offset_ms < -86400000 || offset_ms > 86400000))
        abort();

    double number;
    if (qp_parse_number(text, &number, &err) == JL_OK && !isfinite(number))
        abort();

    qx_aggregate aggs[QX_MAX_AGGREGATES];
    double percentiles[QX_MAX_AGGREGATES];
    size_t agg_count = 0;
    if (qx_parse_aggregates(text, aggs, percentiles, &agg_count, &err) == JL_OK) {
        if (agg_count == 0 || agg_count > QX_MAX_AGGREGATES)
            abort();
        for (size_t i = 0; i < agg_count; i++) {
            if ((unsigned)aggs[i] > QX_AGG_PERCENTILE)
                abort();
            if (aggs[i] == QX_AGG_PERCENTILE && !(percentiles[i] >= 0 && percentiles[i] <= 100))
                abort();
            if (strcmp(qx_aggregate_name(aggs[i]), "?") == 0)
                abort();
        }
    } else if (err.code != JL_EINVAL) {
        abort();
    }

    qx_compare op;
    if (qx_parse_compare(text, &op, &err) == JL_OK && (unsigned)op > QX_LE)
        abort();

    qx_fill fill;
    double fill_value;
    if (qx_parse_fill(text, &fill, &fill_value, &err) == JL_OK &&
        ((unsigned)fill > QX_FILL_VALUE || !isfinite(fill_value)))
        abort();

    /* group_by: comma-separated tag names, as server/routes.c splits and checks them. */
    size_t names = 0;
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (sk_name_valid(p, len) && (len == 0 || memchr(p, '\0', len) != NULL))
            abort();
        names++;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    if (names == 0)
        abort();

    free(text);
    return 0;
}
