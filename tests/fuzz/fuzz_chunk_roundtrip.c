/* Fuzz target: bytes become readings (any int64 timestamps, strictly increasing; finite doubles,
 * often exact decimals), which must encode, read back the same summary as ck_summarize, decode
 * bitwise equal, and (with a segment period) give per-period counts, minima, maxima and sums
 * equal to a brute-force computation; anything else aborts. Each reading also gets a data flag
 * (mostly runs of one code), which must read back exactly, give the summary's flag_mask, leave
 * summary, table and payload as without flags, and cost nothing when all are N. */
#include "jialing/chunk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_READINGS 5000

static int64_t in_ts[FUZZ_MAX_READINGS], out_ts[FUZZ_MAX_READINGS];
static double in_values[FUZZ_MAX_READINGS], out_values[FUZZ_MAX_READINGS];
static uint8_t in_flags[FUZZ_MAX_READINGS], out_flags[FUZZ_MAX_READINGS];

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

/* Encodes the readings again with their flags and checks them against the unflagged chunk
 * `plain` (summary `*want`). */
static void check_flags(const jl_buf *plain, size_t n, int64_t period, const ck_summary *want)
{
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    if (ck_encode_flagged(in_ts, in_values, in_flags, n, period, &buf, &err) != JL_OK)
        abort();
    jl_flag_mask mask = 0;
    for (size_t i = 0; i < n; i++)
        mask |= (jl_flag_mask)(1u << in_flags[i]);
    if (mask == JL_FLAG_MASK_N &&
        (buf.len != plain->len || memcmp(buf.data, plain->data, buf.len) != 0))
        abort();
    ck_summary s;
    if (ck_read_summary(buf.data, buf.len, &s, &err) != JL_OK || s.flag_mask != mask ||
        s.count != want->count || !same_bits(s.min, want->min) || !same_bits(s.max, want->max) ||
        !same_bits(s.sum, want->sum) || s.segment_count != want->segment_count ||
        s.payload_bytes != want->payload_bytes ||
        memcmp(buf.data + buf.len - s.payload_bytes, plain->data + plain->len - s.payload_bytes,
               s.payload_bytes) != 0)
        abort();
    if (ck_read_flags(buf.data, buf.len, out_flags, n, &err) != JL_OK ||
        memcmp(out_flags, in_flags, n) != 0)
        abort();
    if (n > 1 && ck_read_flags(buf.data, buf.len, out_flags, n - 1, &err) != JL_ELIMIT)
        abort();
    size_t count = 0;
    if (ck_decode(buf.data, buf.len, out_ts, out_values, n, &count, &err) != JL_OK || count != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (out_ts[i] != in_ts[i] || !same_bits(out_values[i], in_values[i]))
            abort();
    }
    check_segments(&buf, n, s.codec == CK_CODEC_DECIMAL);
    jl_buf_destroy(&buf);
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
        /* Flag: mostly the previous one (runs), sometimes back to N, sometimes any code. */
        uint8_t flag = n > 0 ? in_flags[n - 1] : JL_FLAG_N;
        if (((mode >> 2) & 3) == 2)
            flag = JL_FLAG_N;
        else if (((mode >> 2) & 3) == 3)
            flag = (uint8_t)((mode >> 5) & 7);
        in_ts[n] = ts;
        in_values[n] = v;
        in_flags[n] = flag;
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
    check_flags(&buf, n, periods[step_style >> 6], &stored);
    jl_buf_destroy(&buf);
    return 0;
}
