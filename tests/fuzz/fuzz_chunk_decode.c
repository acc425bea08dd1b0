/* Fuzz target: arbitrary bytes as a chunk. ck_read_summary and ck_decode must refuse or accept
 * without crashing, reading out of bounds or writing past the output arrays. A second pass
 * recomputes both checksums first, so the payload decoder itself sees the mutated bytes instead
 * of stopping at the checksum. */
#include "jialing/chunk.h"

#include "../../storage/chunk_format.h"

#include <stdlib.h>
#include <string.h>

/* Small on purpose: most inputs claim more readings, which must give JL_ELIMIT, not overflow. */
#define FUZZ_CAPACITY 4096

static int64_t fuzz_ts[FUZZ_CAPACITY];
static double fuzz_values[FUZZ_CAPACITY];

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
        put_le32(copy + CK_OFF_STORED_LEN, (uint32_t)(size - CK_HEADER_SIZE));
        put_le32(copy + CK_OFF_PAYLOAD_CRC,
                 ck_crc32c(0, copy + CK_HEADER_SIZE, size - CK_HEADER_SIZE));
        put_le32(copy + CK_OFF_HEADER_CRC, ck_crc32c(0, copy, CK_OFF_HEADER_CRC));
        check_one(copy, size);
        free(copy);
    }
    return 0;
}
