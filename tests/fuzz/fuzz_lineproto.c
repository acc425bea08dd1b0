/* Fuzz target for the line-protocol parser (query/ingest/lineproto.c): any input must either be
 * refused with a located message or give a batch whose every key parses back to itself, whose
 * timestamps are in range and whose values are finite. Each input is parsed at every
 * precision. */
#include "jialing/ingest.h"
#include "jialing/serieskey.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_batch(const st_batch *batch)
{
    jl_buf again;
    jl_buf_init(&again);
    for (uint32_t s = 0; s < batch->series_count; s++) {
        const char *key = batch->keys.data + batch->key_offsets[s];
        size_t len = batch->key_lengths[s];
        if (key[len] != '\0')
            abort();
        sk_parsed parsed;
        jl_error err;
        if (sk_parse(key, len, &parsed, &err) != JL_OK)
            abort();
        again.len = 0;
        if (sk_build(parsed.metric, parsed.tags, parsed.tag_count, &again, &err) != JL_OK)
            abort();
        if (again.len != len || memcmp(again.data, key, len) != 0)
            abort();
        sk_parsed_destroy(&parsed);
    }
    jl_buf_destroy(&again);
    for (size_t p = 0; p < batch->point_count; p++) {
        if (batch->point_series[p] >= batch->series_count)
            abort();
        if (batch->point_ms[p] < JL_MIN_MS || batch->point_ms[p] > JL_MAX_MS)
            abort();
        if (!isfinite(batch->point_values[p]))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_batch batch;
    st_batch_init(&batch);
    for (int precision = IG_PRECISION_NS; precision <= IG_PRECISION_S; precision++) {
        jl_error err;
        st_batch_reset(&batch);
        int rc = ig_parse_line_protocol((const char *)data, size, (ig_precision)precision,
                                        1700000000000LL, &batch, &err);
        if (rc == JL_OK) {
            check_batch(&batch);
        } else {
            /* a refusal names a line and column inside the body */
            if (rc != JL_EINVAL || err.code != JL_EINVAL || err.line < 1 || err.column < 1)
                abort();
            if (strncmp(err.message, "line ", 5) != 0)
                abort();
            if ((size_t)err.line > size + 1 || (size_t)err.column > size + 1)
                abort();
        }
    }
    st_batch_destroy(&batch);
    return 0;
}
