/* Fuzz target for the msgpack batch decoder (query/ingest/msgbatch.c): any input must either be
 * refused with a message or give a batch whose keys parse back, whose timestamps are in range and
 * whose values are finite. */
#include "jialing/ingest.h"
#include "jialing/serieskey.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_batch batch;
    st_batch_init(&batch);
    jl_error err;
    int rc = ig_parse_msgpack((const char *)data, size, &batch, &err);
    if (rc == JL_OK) {
        for (uint32_t s = 0; s < batch.series_count; s++) {
            sk_parsed parsed;
            if (sk_parse(batch.keys.data + batch.key_offsets[s], batch.key_lengths[s], &parsed,
                         &err) != JL_OK)
                abort();
            sk_parsed_destroy(&parsed);
        }
        for (size_t p = 0; p < batch.point_count; p++) {
            if (batch.point_series[p] >= batch.series_count)
                abort();
            if (batch.point_ms[p] < JL_MIN_MS || batch.point_ms[p] > JL_MAX_MS)
                abort();
            if (!isfinite(batch.point_values[p]))
                abort();
        }
    } else if (rc != JL_EINVAL || err.code != JL_EINVAL || err.message[0] == '\0') {
        abort();
    }
    st_batch_destroy(&batch);
    return 0;
}
