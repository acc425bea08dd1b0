/* Fuzz target for query/params.c: the same bytes, as a NUL-terminated string, go to every
 * parameter parser. A parse may fail but must not crash, read out of bounds or leak; a selector
 * that parses must have well-formed matchers. */
#include "jialing/params.h"

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

    free(text);
    return 0;
}
