/* Fuzz target: the write-log block format. The bytes are decoded as a block (wl_decode must
 * refuse or accept without crashing or reading out of bounds, and every flag it gives back must
 * be a known code), then again with its checksum recomputed so the payload decoder, flag runs
 * included, sees the mutated bytes; and they are read as readings (series, flag, time, value)
 * that wl_encode must write and wl_decode give back bit for bit. */
#include "../../storage/log_block.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/chunk.h"

static void check_decode(const uint8_t *data, size_t size)
{
    wl_readings out;
    memset(&out, 0, sizeof out);
    jl_error err;
    int rc = wl_decode(data, size, &out, &err);
    if (rc == JL_OK) {
        for (size_t i = 0; i < out.count; i++) {
            if (out.ms[i] < JL_MIN_MS || out.ms[i] > JL_MAX_MS)
                abort(); /* format-2 to 4 times are checked; format 1 is covered by its checksum */
            if (out.flags[i] >= JL_FLAG_COUNT)
                abort();
        }
    } else if (rc != JL_ECORRUPT && rc != JL_ENOMEM) {
        abort();
    }
    wl_readings_destroy(&out);
}

/* Every 17 bytes: series (low 3 bits) and flag (bits 3..5, so that runs, edges and adjacent
 * codes all occur), time, value; non-finite values are replaced, as st_write refuses them. */
static void check_round_trip(const uint8_t *data, size_t size)
{
    st_batch batch;
    st_batch_init(&batch);
    for (uint32_t s = 0; s < 8; s++) {
        char key[8] = {'m', ',', 's', '=', (char)('0' + s), 0};
        uint32_t index;
        if (st_batch_series(&batch, key, strlen(key), &index) != JL_OK)
            abort();
    }
    for (size_t at = 0; at + 17 <= size; at += 17) {
        uint64_t time_bits = 0, value_bits = 0;
        memcpy(&time_bits, data + at + 1, 8);
        memcpy(&value_bits, data + at + 9, 8);
        int64_t ms = (int64_t)(time_bits % (uint64_t)(2 * JL_MAX_MS + 1)) - JL_MAX_MS;
        double value;
        memcpy(&value, &value_bits, sizeof value);
        if (!isfinite(value))
            value = (double)(int64_t)(value_bits >> 12) / 1000.0;
        uint8_t flag = (uint8_t)((data[at] >> 3) % JL_FLAG_COUNT);
        if (st_batch_point_flagged(&batch, data[at] % 8u, ms, value, flag) != JL_OK)
            abort();
    }
    if (batch.point_count > 0) {
        jl_buf block;
        jl_buf_init(&block);
        jl_error err;
        if (wl_encode(&batch, &block, &err) != JL_OK)
            abort();
        /* Ids in steps of 1 to 3 (one run, or a run each), some wrapping past 2^64; the block
         * is finished first with other ids, as a retried commit does. */
        uint64_t ids[8], other[8];
        uint64_t step = 1 + size % 3, base = (size & 1) ? UINT64_MAX - 9 : 11;
        for (uint32_t s = 0; s < 8; s++) {
            ids[s] = base + s * step;
            other[s] = 1000 * (uint64_t)s;
        }
        wl_finish(&block, other);
        wl_finish(&block, ids);
        wl_readings out;
        memset(&out, 0, sizeof out);
        if (wl_decode(block.data, block.len, &out, &err) != JL_OK || out.count != batch.point_count)
            abort();
        size_t next = 0;
        for (uint32_t s = 0; s < 8; s++) {
            for (size_t i = 0; i < batch.point_count; i++) {
                if (batch.point_series[i] != s)
                    continue;
                if (out.ids[next] != ids[s] || out.ms[next] != batch.point_ms[i] ||
                    memcmp(&out.values[next], &batch.point_values[i], sizeof(double)) != 0 ||
                    out.flags[next] != st_batch_point_flag(&batch, i))
                    abort();
                next++;
            }
        }
        wl_readings_destroy(&out);
        jl_buf_destroy(&block);
    }
    st_batch_destroy(&batch);
}

/* The entry point libFuzzer (or tests/fuzz/replay.c) calls. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_decode(data, size);
    if (size >= WL_HEADER_BYTES) {
        uint8_t *copy = malloc(size);
        if (copy == NULL)
            return 0;
        memcpy(copy, data, size);
        uint32_t crc = ck_crc32c(0, copy + WL_HEADER_BYTES, size - WL_HEADER_BYTES);
        for (int i = 0; i < 4; i++)
            copy[20 + i] = (uint8_t)(crc >> (8 * i));
        check_decode(copy, size);
        free(copy);
    }
    check_round_trip(data, size);
    return 0;
}
