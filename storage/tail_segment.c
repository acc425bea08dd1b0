/* Frozen tail segments: a run of a tail's older readings packed into bytes, so that an unsealed
 * reading costs a few bytes of memory instead of 17 (issue 12, item 2). Memory only: segments
 * are never written to disk (the write log holds the same readings), so their layout may change
 * from one build to the next and is not in disk_format.h.
 *
 * Layout of data[]: byte 0, the decimal exponent E of the values (0..DF_MAX_DECIMAL_EXPONENT)
 * or SEGMENT_RAW_VALUES; byte 1, 1 when a flag byte per reading ends the data, 0 when every
 * reading is N; then count-1 time varints: the first delta t1-t0, then zigzag(d_i - d_(i-1)),
 * deltas in uint64 arithmetic so that any increasing int64 times fit; then the values, with E the
 * zigzag varint of the first mantissa and then of each mantissa's difference from the one
 * before, or without one 8 little-endian bytes each; then the flags when byte 1 says so.
 * Varints and delta-of-delta because at a steady cadence a time costs one byte, and one-decimal
 * readings that move little cost one or two; the chunk codec's Rice frames would save a little
 * more but its 100-byte header is more than a whole segment. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "disk_format.h"

#define SEGMENT_RAW_VALUES 0xFFu
/* Bytes the encoding of n readings may take: two header bytes and, per reading, a time varint,
 * a value (a varint or 8 bytes) and a flag. */
#define SEGMENT_BOUND(n) (2 + (size_t)(n) * (2 * BYTES_VARINT_MAX + 1))

tail_segment *tail_segment_encode(const int64_t *ms, const double *values, const uint8_t *flags,
                                  uint32_t count)
{
    uint8_t buffer[SEGMENT_BOUND(TAIL_SEGMENT_MAX)];
    int64_t mantissas[TAIL_SEGMENT_MAX];
    if (count == 0 || count > TAIL_SEGMENT_MAX)
        return NULL;
    int exponent = df_decimal_exponent(values, NULL, count, mantissas);
    int flagged = 0;
    for (uint32_t i = 0; i < count && !flagged; i++)
        flagged = flags[i] != JL_FLAG_N;
    size_t n = 0;
    buffer[n++] = exponent < 0 ? SEGMENT_RAW_VALUES : (uint8_t)exponent;
    buffer[n++] = (uint8_t)flagged;
    uint64_t previous_delta = 0;
    for (uint32_t i = 1; i < count; i++) {
        uint64_t delta = (uint64_t)ms[i] - (uint64_t)ms[i - 1];
        n += bytes_put_varint(buffer + n, i == 1 ? delta : bytes_zigzag(delta - previous_delta));
        previous_delta = delta;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (exponent < 0) {
            bytes_put_f64(buffer + n, values[i]);
            n += 8;
        } else {
            uint64_t step = (uint64_t)mantissas[i] - (i ? (uint64_t)mantissas[i - 1] : 0);
            n += bytes_put_varint(buffer + n, bytes_zigzag(step));
        }
    }
    if (flagged) {
        memcpy(buffer + n, flags, count);
        n += count;
    }
    tail_segment *segment = malloc(sizeof *segment + n);
    if (segment == NULL)
        return NULL;
    atomic_init(&segment->references, 1);
    segment->older = NULL;
    segment->count = count;
    segment->bytes = (uint32_t)n;
    segment->first_ms = ms[0];
    segment->last_ms = ms[count - 1];
    memcpy(segment->data, buffer, n);
    return segment;
}

/* Reads one varint of our own encoding (never truncated: the bytes were made by encode). */
static uint64_t next_varint(const uint8_t **p, const uint8_t *end)
{
    uint64_t v = 0;
    (void)bytes_get_varint(p, end, &v);
    return v;
}

void tail_segment_decode(const tail_segment *segment, int64_t *ms, double *values, uint8_t *flags)
{
    const uint8_t *p = segment->data + 2, *end = segment->data + segment->bytes;
    uint32_t count = segment->count;
    uint8_t exponent = segment->data[0];
    ms[0] = segment->first_ms;
    uint64_t delta = 0;
    for (uint32_t i = 1; i < count; i++) {
        uint64_t v = next_varint(&p, end);
        delta = i == 1 ? v : delta + bytes_unzigzag(v);
        ms[i] = (int64_t)((uint64_t)ms[i - 1] + delta);
    }
    uint64_t mantissa = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (exponent == SEGMENT_RAW_VALUES) {
            values[i] = bytes_get_f64(p);
            p += 8;
        } else {
            mantissa += bytes_unzigzag(next_varint(&p, end));
            values[i] = (double)(int64_t)mantissa / df_pow10(exponent);
        }
    }
    if (segment->data[1])
        memcpy(flags, p, count);
    else
        memset(flags, JL_FLAG_N, count);
}

void tail_segment_release(tail_segment *segment)
{
    /* A loop, not recursion: a list may be thousands of segments long. */
    while (segment != NULL && atomic_fetch_sub(&segment->references, 1) == 1) {
        tail_segment *older = segment->older;
        free(segment);
        segment = older;
    }
}
