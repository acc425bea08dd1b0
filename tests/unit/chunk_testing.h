/* Helpers shared by the chunk codec's unit tests (test_chunk_*.c): a fixed-seed generator,
 * little-endian field edits with re-sealed checksums, and a bitwise encode-decode round trip.
 * Header-only, like check.h. */
#ifndef JIALING_TEST_CHUNK_TESTING_H
#define JIALING_TEST_CHUNK_TESTING_H

#include "check.h"

#include "jialing/chunk.h"

#include "../../storage/disk_format.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

/* splitmix64: small, fixed, reproducible. */
static uint64_t rng_state;

static inline uint64_t rng_next(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static inline double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

/* Approximately normal (sum of 4 uniforms, centred, unit variance). */
static inline double rng_normal(void)
{
    return (rng_unit() + rng_unit() + rng_unit() + rng_unit() - 2.0) * 1.7320508075688772;
}

static inline uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void wr_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wr_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Bytes of the segment table between header and payload (0 without one). */
static inline size_t table_bytes(const uint8_t *chunk, size_t len)
{
    return len - CK_HEADER_SIZE - rd_u32(chunk + CK_OFF_STORED_LEN);
}

/* Recomputes both checksums of a chunk after a test edited it on purpose. */
static inline void reseal(uint8_t *chunk, size_t len)
{
    size_t table = table_bytes(chunk, len);
    wr_u32(chunk + CK_OFF_PAYLOAD_CRC,
           ck_crc32c(0, chunk + CK_HEADER_SIZE + table, len - CK_HEADER_SIZE - table));
    wr_u32(chunk + CK_OFF_HEADER_CRC,
           ck_crc32c(ck_crc32c(0, chunk, CK_OFF_HEADER_CRC), chunk + CK_HEADER_SIZE, table));
}

static inline int bits_equal(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static inline void check_summary_equal(const ck_summary *a, const ck_summary *b)
{
    CHECK_INT(a->count, b->count);
    CHECK_INT(a->first_ms, b->first_ms);
    CHECK_INT(a->last_ms, b->last_ms);
    CHECK_DOUBLE_BITS(a->min, b->min);
    CHECK_DOUBLE_BITS(a->max, b->max);
    CHECK_DOUBLE_BITS(a->sum, b->sum);
    CHECK_DOUBLE_BITS(a->sum_squares_dev, b->sum_squares_dev);
    CHECK_DOUBLE_BITS(a->first_value, b->first_value);
    CHECK_DOUBLE_BITS(a->last_value, b->last_value);
}

/* Encodes, checks the stored summary against ck_summarize, decodes and compares bitwise.
 * Returns the codec used (0 on failure) and the chunk size through *bytes. */
static inline int roundtrip(const int64_t *ts, const double *vs, size_t n, size_t *bytes)
{
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    int codec = 0;
    int64_t *ts_out = malloc(n * sizeof *ts_out);
    double *vs_out = malloc(n * sizeof *vs_out);
    CHECK(ts_out != NULL && vs_out != NULL);
    int rc = ck_encode(ts, vs, n, &buf, &err);
    CHECK_INT(rc, JL_OK);
    if (rc != JL_OK) {
        fprintf(stderr, "  encode: %s\n", err.message);
        goto out;
    }
    ck_summary stored, computed;
    CHECK_INT(ck_read_summary(buf.data, buf.len, &stored, &err), JL_OK);
    ck_summarize(ts, vs, n, &computed);
    check_summary_equal(&stored, &computed);
    CHECK_INT(stored.payload_bytes, buf.len - CK_HEADER_SIZE);
    size_t got = 0;
    rc = ck_decode(buf.data, buf.len, ts_out, vs_out, n, &got, &err);
    CHECK_INT(rc, JL_OK);
    if (rc != JL_OK) {
        fprintf(stderr, "  decode: %s\n", err.message);
        goto out;
    }
    CHECK_INT(got, n);
    size_t mismatches = 0;
    for (size_t i = 0; i < n; i++) {
        if (ts_out[i] != ts[i] || !bits_equal(vs_out[i], vs[i])) {
            if (mismatches++ < 3)
                fprintf(stderr,
                        "  reading %zu: got (%" PRId64 ", %.17g), want (%" PRId64 ", %.17g)\n", i,
                        ts_out[i], vs_out[i], ts[i], vs[i]);
        }
    }
    CHECK_INT(mismatches, 0);
    codec = stored.codec;
    if (bytes)
        *bytes = buf.len;
out:
    free(ts_out);
    free(vs_out);
    jl_buf_destroy(&buf);
    return codec;
}

static inline void fill_cadence(int64_t *ts, size_t n, int64_t start, int64_t step)
{
    for (size_t i = 0; i < n; i++)
        ts[i] = start + (int64_t)i * step;
}

#endif
