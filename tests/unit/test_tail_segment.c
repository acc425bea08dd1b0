/* Tests of storage/tail_segment.c: the bytes of two hand-worked segments (a steady minute
 * cadence of one-decimal values; values no decimal exponent holds exactly, with flags), and
 * round trips of times at the ends of int64, mantissas near 2^53 and values stored raw. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "../../storage/store_internal.h"

static void check_round_trip(const int64_t *ms, const double *values, const uint8_t *flags,
                             uint32_t n)
{
    tail_segment *segment = tail_segment_encode(ms, values, flags, n);
    CHECK(segment != NULL);
    if (segment == NULL)
        return;
    int64_t got_ms[TAIL_SEGMENT_MAX];
    double got_values[TAIL_SEGMENT_MAX];
    uint8_t got_flags[TAIL_SEGMENT_MAX];
    tail_segment_decode(segment, got_ms, got_values, got_flags);
    CHECK_INT(segment->count, n);
    CHECK_INT(segment->first_ms, ms[0]);
    CHECK_INT(segment->last_ms, ms[n - 1]);
    int wrong = 0;
    for (uint32_t i = 0; i < n; i++)
        if (got_ms[i] != ms[i] || !bytes_same_f64(got_values[i], values[i]) ||
            got_flags[i] != flags[i])
            wrong++;
    CHECK_INT(wrong, 0);
    tail_segment_release(segment);
}

/* The segment of the n readings is exactly the bytes written out in the test, and reads back. */
static void check_bytes(const int64_t *ms, const double *values, const uint8_t *flags, uint32_t n,
                        const uint8_t *expected, size_t len)
{
    tail_segment *segment = tail_segment_encode(ms, values, flags, n);
    CHECK(segment != NULL);
    if (segment == NULL)
        return;
    CHECK_INT(segment->bytes, len);
    CHECK(memcmp(segment->data, expected, len) == 0);
    tail_segment_release(segment);
    check_round_trip(ms, values, flags, n);
}

/* 1.0, 1.1, 1.1, 1.3 a minute apart: exponent 1, no flags; the first delta 60,000 as the
 * varint E0 D4 03, two zero delta-of-deltas; mantissas 10, 11, 11, 13 as zigzag deltas 20, 2,
 * 0, 4. Eleven bytes where the head spends 68. */
static void test_steady_bytes(void)
{
    const int64_t ms[4] = {1735689600000, 1735689660000, 1735689720000, 1735689780000};
    const double values[4] = {1.0, 1.1, 1.1, 1.3};
    const uint8_t flags[4] = {0, 0, 0, 0};
    const uint8_t expected[11] = {0x01, 0x00, 0xE0, 0xD4, 0x03, 0x00, 0x00, 0x14, 0x02, 0x00, 0x04};
    check_bytes(ms, values, flags, 4, expected, sizeof expected);
}

/* 1/3 and -0.0 have no exact decimal exponent: FF, then flag byte 1, the delta 5, both values'
 * IEEE-754 bytes little endian, and the flags N, M. */
static void test_raw_bytes(void)
{
    const int64_t ms[2] = {0, 5};
    const double values[2] = {1.0 / 3.0, -0.0};
    const uint8_t flags[2] = {JL_FLAG_N, JL_FLAG_M};
    const uint8_t expected[21] = {0xFF, 0x01, 0x05, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0xD5, 0x3F,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x02};
    check_bytes(ms, values, flags, 2, expected, sizeof expected);
}

/* Times spanning all of int64 (deltas past INT64_MAX wrap in uint64 and come back), mantissas
 * next to 2^53 at exponent 0, a single reading, NaN and infinities, and a full segment. */
static void test_extremes(void)
{
    const int64_t ms[4] = {INT64_MIN, INT64_MIN + 1, INT64_MAX - 1, INT64_MAX};
    const double big[4] = {9007199254740991.0, -9007199254740991.0, 0.0, 1.0};
    const uint8_t flags[4] = {7, 0, 1, 7};
    check_round_trip(ms, big, flags, 4);
    const double odd[4] = {NAN, INFINITY, -INFINITY, 1e-300};
    check_round_trip(ms, odd, flags, 4);
    check_round_trip(ms + 3, big, flags, 1);
    int64_t many_ms[TAIL_SEGMENT_MAX];
    double many_values[TAIL_SEGMENT_MAX];
    uint8_t many_flags[TAIL_SEGMENT_MAX];
    for (int i = 0; i < TAIL_SEGMENT_MAX; i++) {
        many_ms[i] = 1000 * (int64_t)i * i; /* growing deltas */
        many_values[i] = (double)(i * 37 % 1000) / 1000.0 - 0.5;
        many_flags[i] = (uint8_t)(i % JL_FLAG_COUNT);
    }
    check_round_trip(many_ms, many_values, many_flags, TAIL_SEGMENT_MAX);
    CHECK(tail_segment_encode(many_ms, many_values, many_flags, 0) == NULL);
    CHECK(tail_segment_encode(many_ms, many_values, many_flags, TAIL_SEGMENT_MAX + 1) == NULL);
    tail_segment_release(NULL);
}

int main(void)
{
    RUN(test_steady_bytes);
    RUN(test_raw_bytes);
    RUN(test_extremes);
    return CHECK_DONE();
}
