/* Fuzz target: bytes become readings (any int64 timestamps, strictly increasing; finite doubles,
 * often exact decimals), which must encode, read back the same summary as ck_summarize, decode
 * bitwise equal, and (with a segment period) give per-period counts, minima, maxima and sums
 * equal to a brute-force computation; anything else aborts. */
#include "jialing/chunk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_READINGS 5000

static int64_t in_ts[FUZZ_MAX_READINGS], out_ts[FUZZ_MAX_READINGS];
static double in_values[FUZZ_MAX_READINGS], out_values[FUZZ_MAX_READINGS];

typedef struct byte_source {
    const uint8_t *data;
    size_t size;
    size_t pos;
} byte_source;

/* Next n bytes (n <= 8) as a little-endian integer; zeros once the input is used up. */
static uint64_t take(byte_source *src, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t b = src->pos < src->size ? src->data[src->pos++] : 0;
        v |= b << (8 * i);
    }
    return v;
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static ck_segment segments[CK_MAX_SEGMENTS];

static int64_t floor_period(int64_t t, int64_t period)
{
    int64_t q = t / period;
    return (t % period != 0 && t < 0) ? q - 1 : q;
}

/* Checks the chunk's segment table, if it has one, against the readings. */
static void check_segments(const jl_buf *buf, size_t n, int decimal)
{
    jl_error err;
    size_t count = 0;
    if (ck_read_segments(buf->data, buf->len, segments, CK_MAX_SEGMENTS, &count, &err) != JL_OK)
        abort();
    size_t i = 0;
    for (size_t g = 0; g < count; g++) {
        const ck_segment *s = &segments[g];
        int64_t period = 0;
        ck_summary summary;
        if (ck_read_summary(buf->data, buf->len, &summary, &err) != JL_OK)
            abort();
        period = summary.segment_period_ms;
        if (i >= n || floor_period(in_ts[i], period) * period != s->start_ms)
            abort();
        size_t begin = i;
        double lo = in_values[i], hi = in_values[i];
        long double sum = 0, magnitude = 0;
        while (i < n && floor_period(in_ts[i], period) * period == s->start_ms) {
            lo = in_values[i] < lo ? in_values[i] : lo;
            hi = in_values[i] > hi ? in_values[i] : hi;
            sum += in_values[i];
            magnitude += fabsl((long double)in_values[i]);
            i++;
        }
        if (s->count != i - begin || !same_bits(s->min, lo) || !same_bits(s->max, hi))
            abort();
        if (decimal) {
            if (fabsl((long double)s->sum - sum) > 1e-12L * magnitude)
                abort();
        } else {
            ck_summary part;
            ck_summarize(in_ts + begin, in_values + begin, i - begin, &part);
            if (!same_bits(s->sum, part.sum))
                abort();
        }
    }
    if (count > 0 && i != n)
        abort();
}

/* The entry point libFuzzer (or tests/fuzz/replay.c) calls. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    byte_source src = {data, size, 0};
    if (size < 10)
        return 0;
    int64_t ts = (int64_t)take(&src, 8);
    unsigned exponent = (unsigned)take(&src, 1) % 8;
    double divisor = 1.0;
    for (unsigned e = 0; e < exponent; e++)
        divisor *= 10.0;
    unsigned step_style = (unsigned)take(&src, 1);
    size_t n = 0;
    while (n < FUZZ_MAX_READINGS && src.pos < src.size) {
        uint8_t mode = (uint8_t)take(&src, 1);
        /* Timestamp: a steady step, a small jitter, or a wild jump. */
        uint64_t step;
        switch ((mode >> 4) & 3) {
        case 0:
            step = 1000u * (1u + (step_style & 0x3f));
            break;
        case 1:
            step = 1u + take(&src, 1) * 1000u;
            break;
        case 2:
            step = 1u + take(&src, 2);
            break;
        default:
            step = take(&src, 8);
            break;
        }
        if (step == 0)
            step = 1;
        if (n > 0) {
            uint64_t room = (uint64_t)INT64_MAX - (uint64_t)ts;
            if (step > room)
                break;
            ts = (int64_t)((uint64_t)ts + step);
        }
        /* Value: a small decimal, a larger decimal, a repeat, or raw bits. */
        double v;
        switch (mode & 3) {
        case 0:
            v = (double)(int8_t)take(&src, 1) / divisor;
            break;
        case 1:
            v = (double)(int32_t)take(&src, 4) / divisor;
            break;
        case 2:
            v = n > 0 ? in_values[n - 1] : 0.0;
            break;
        default: {
            uint64_t bits = take(&src, 8);
            memcpy(&v, &bits, sizeof v);
            if (!isfinite(v))
                v = -0.0;
            break;
        }
        }
        in_ts[n] = ts;
        in_values[n] = v;
        n++;
    }
    if (n == 0)
        return 0;

    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    static const int64_t periods[4] = {0, 60000, 3600000, 28800000};
    if (ck_encode_segmented(in_ts, in_values, n, periods[step_style >> 6], &buf, &err) != JL_OK)
        abort();
    ck_summary stored, computed;
    if (ck_read_summary(buf.data, buf.len, &stored, &err) != JL_OK)
        abort();
    ck_summarize(in_ts, in_values, n, &computed);
    if (stored.count != computed.count || stored.first_ms != computed.first_ms ||
        stored.last_ms != computed.last_ms || !same_bits(stored.min, computed.min) ||
        !same_bits(stored.max, computed.max) || !same_bits(stored.sum, computed.sum) ||
        !same_bits(stored.sum_squares_dev, computed.sum_squares_dev) ||
        !same_bits(stored.first_value, computed.first_value) ||
        !same_bits(stored.last_value, computed.last_value))
        abort();
    size_t count = 0;
    if (ck_decode(buf.data, buf.len, out_ts, out_values, n, &count, &err) != JL_OK || count != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (out_ts[i] != in_ts[i] || !same_bits(out_values[i], in_values[i]))
            abort();
    }
    if (n > 1 && ck_decode(buf.data, buf.len, out_ts, out_values, n - 1, &count, &err) != JL_ELIMIT)
        abort();
    check_segments(&buf, n, stored.codec == CK_CODEC_DECIMAL);
    jl_buf_destroy(&buf);
    return 0;
}
