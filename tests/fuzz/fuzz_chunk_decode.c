/* Fuzz target: arbitrary bytes as a chunk. ck_read_summary, ck_read_flags, ck_read_segments and
 * ck_decode must refuse or accept without crashing, reading out of bounds or writing past the
 * output arrays; accepted flags are codes below JL_FLAG_COUNT whose set is the summary's
 * flag_mask. A second pass recomputes both checksums first (keeping the bytes between header and
 * payload when a table or flag runs are flagged), so the decoders themselves see the mutated
 * bytes instead of stopping at the checksum. */
#include "jialing/chunk.h"

#include "../../storage/disk_format.h"

#include <stdlib.h>
#include <string.h>

/* Small on purpose: most inputs claim more readings, which must give JL_ELIMIT, not overflow. */
#define FUZZ_CAPACITY 4096

static int64_t fuzz_ts[FUZZ_CAPACITY];
static double fuzz_values[FUZZ_CAPACITY];
static ck_segment fuzz_segments[CK_MAX_SEGMENTS];
static uint8_t fuzz_flags[FUZZ_CAPACITY + 1];

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void check_one(const uint8_t *data, size_t size)
{
    ck_summary summary;
    jl_error err;
    int summary_rc = ck_read_summary(data, size, &summary, &err);
    size_t count = 0;
    int rc = ck_decode(data, size, fuzz_ts, fuzz_values, FUZZ_CAPACITY, &count, &err);
    if (rc == JL_OK) {
        /* A decoded chunk always agrees with its own header. */
        if (summary_rc != JL_OK || count != summary.count || count == 0 ||
            fuzz_ts[0] != summary.first_ms || fuzz_ts[count - 1] != summary.last_ms)
            abort();
        for (size_t i = 1; i < count; i++) {
            if (fuzz_ts[i] <= fuzz_ts[i - 1])
                abort();
        }
    } else if (rc != JL_ECORRUPT && rc != JL_ELIMIT) {
        abort();
    }
    /* Flags: accepted exactly when the summary is (given room), one code per reading. */
    fuzz_flags[FUZZ_CAPACITY] = 0xee;
    rc = ck_read_flags(data, size, fuzz_flags, FUZZ_CAPACITY, &err);
    if (fuzz_flags[FUZZ_CAPACITY] != 0xee)
        abort();
    if (rc == JL_OK) {
        jl_flag_mask mask = 0;
        if (summary_rc != JL_OK || summary.count > FUZZ_CAPACITY)
            abort();
        for (size_t i = 0; i < summary.count; i++) {
            if (fuzz_flags[i] >= JL_FLAG_COUNT)
                abort();
            mask |= (jl_flag_mask)(1u << fuzz_flags[i]);
        }
        if (mask != summary.flag_mask)
            abort();
    } else if (rc == JL_ELIMIT) {
        if (summary_rc != JL_OK || summary.count <= FUZZ_CAPACITY)
            abort();
    } else if (rc != JL_ECORRUPT || summary_rc == JL_OK) {
        abort();
    }
    size_t segments = 0;
    rc = ck_read_segments(data, size, fuzz_segments, CK_MAX_SEGMENTS, &segments, &err);
    if (rc == JL_OK) {
        /* An accepted table covers the chunk's readings, in time order, within its bounds. */
        uint64_t total = 0;
        for (size_t i = 0; i < segments; i++) {
            const ck_segment *g = &fuzz_segments[i];
            if (g->count == 0 || (i > 0 && g->start_ms <= fuzz_segments[i - 1].start_ms) ||
                !(g->min <= g->max) || g->min < summary.min || g->max > summary.max)
                abort();
            total += g->count;
        }
        if (summary_rc != JL_OK || (segments > 0 && total != summary.count))
            abort();
    } else if (rc != JL_ECORRUPT) {
        abort();
    }
}

/* The entry point libFuzzer (or tests/fuzz/replay.c) calls. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(data, size);
    if (size >= CK_HEADER_SIZE) {
        uint8_t *copy = malloc(size);
        if (copy == NULL)
            return 0;
        memcpy(copy, data, size);
        /* A flagged table or flag runs keep the length the header leaves them; else the payload
         * is the rest. */
        uint32_t stored = (uint32_t)copy[CK_OFF_STORED_LEN] |
                          (uint32_t)copy[CK_OFF_STORED_LEN + 1] << 8 |
                          (uint32_t)copy[CK_OFF_STORED_LEN + 2] << 16 |
                          (uint32_t)copy[CK_OFF_STORED_LEN + 3] << 24;
        size_t table = (copy[CK_OFF_FLAGS] & (CK_FLAG_SEGMENTS | CK_FLAG_FLAG_RUNS)) &&
                               stored < size - CK_HEADER_SIZE
                           ? size - CK_HEADER_SIZE - stored
                           : 0;
        put_le32(copy + CK_OFF_STORED_LEN, (uint32_t)(size - CK_HEADER_SIZE - table));
        put_le32(copy + CK_OFF_PAYLOAD_CRC,
                 ck_crc32c(0, copy + CK_HEADER_SIZE + table, size - CK_HEADER_SIZE - table));
        put_le32(copy + CK_OFF_HEADER_CRC,
                 ck_crc32c(ck_crc32c(0, copy, CK_OFF_HEADER_CRC), copy + CK_HEADER_SIZE, table));
        check_one(copy, size);
        free(copy);
    }
    return 0;
}
