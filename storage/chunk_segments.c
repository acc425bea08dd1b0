/* Chunk segment tables: the per-period summaries (count, min, max, sum) a chunk may carry between
 * header and payload, so that windows made of whole periods need no decoding. Writes the table
 * for the encoder and reads and checks it for ck_read_segments(); the layout and every rule a
 * reader checks are in storage/disk_format.h (section 2, "Segment table"). */
#include "jialing/chunk.h"

#include <math.h>

#include "bytes.h"
#include "chunk_internal.h"
#include "disk_format.h"

/* floor(t / period) for period >= 1. */
static int64_t period_index(int64_t t, int64_t period)
{
    int64_t q = t / period;
    return (t % period != 0 && t < 0) ? q - 1 : q;
}

/* Periods from the one holding first_ms to the one holding last_ms, both included; 0 when
 * their bounds do not fit in int64 (timestamps within a period of either end of the range),
 * which gets no table, so that readers compute every bound without overflow. */
uint64_t ck_period_span(int64_t first_ms, int64_t last_ms, int64_t period)
{
    int64_t first = period_index(first_ms, period), last = period_index(last_ms, period);
    if ((__int128)first * period < INT64_MIN || ((__int128)last + 1) * period - 1 > INT64_MAX)
        return 0;
    return (uint64_t)last - (uint64_t)first + 1;
}

/* Most bytes the segment table of span periods can take: the period, then per period a count
 * and at most three more numbers of 10 bytes (decimal) or three doubles (float). */
size_t ck_segment_table_bound(uint64_t span)
{
    return 10 + (size_t)span * 40;
}

/* Writes the segment table of the readings, which span `span` periods (2..CK_MAX_SEGMENTS),
 * to out, which holds ck_segment_table_bound(span) bytes (layout in disk_format.h); returns its
 * length, or 0 when a decimal sum is out of the format's range and the chunk gets no table. */
size_t ck_segments_encode(const int64_t *timestamps_ms, const double *values,
                          const int64_t *mantissas, size_t count, int64_t period, uint64_t span,
                          uint8_t *out)
{
    size_t len = bytes_put_varint(out, (uint64_t)period);
    __int128 end_ms = ((__int128)period_index(timestamps_ms[0], period) + 1) * period;
    uint64_t previous_count = 0, previous_min = 0;
    size_t i = 0;
    for (uint64_t segment = 0; segment < span; segment++, end_ms += period) {
        size_t begin = i;
        while (i < count && timestamps_ms[i] < end_ms)
            i++;
        uint64_t n = i - begin;
        len += bytes_put_varint(out + len, bytes_zigzag(n - previous_count));
        previous_count = n;
        if (n == 0)
            continue;
        if (mantissas == NULL) {
            ck_summary part;
            ck_summarize(timestamps_ms + begin, values + begin, n, &part);
            bytes_put_f64(out + len, part.min);
            bytes_put_f64(out + len + 8, part.max);
            bytes_put_f64(out + len + 16, part.sum);
            len += 24;
            continue;
        }
        int64_t lo = mantissas[begin], hi = lo;
        __int128 sum = 0;
        for (size_t j = begin; j < i; j++) {
            lo = mantissas[j] < lo ? mantissas[j] : lo;
            hi = mantissas[j] > hi ? mantissas[j] : hi;
            sum += mantissas[j];
        }
        __int128 above_min = sum - (__int128)lo * (__int128)n;
        if (above_min > (__int128)UINT64_MAX)
            return 0;
        len += bytes_put_varint(out + len, bytes_zigzag((uint64_t)lo - previous_min));
        previous_min = (uint64_t)lo;
        len += bytes_put_varint(out + len, (uint64_t)(hi - lo));
        len += bytes_put_varint(out + len, (uint64_t)above_min);
    }
    return len;
}

int ck_read_segments(const void *data, size_t len, ck_segment *segments, size_t capacity,
                     size_t *count, jl_error *err)
{
    ck_summary s;
    ck_layout layout;
    *count = 0;
    if (data == NULL)
        return jl_error_set(err, JL_ECORRUPT, "chunk is missing");
    int rc = ck_header_read(data, len, &s, NULL, NULL, NULL, &layout, err);
    if (rc != JL_OK)
        return rc;
    if (s.segment_count == 0)
        return JL_OK;
    const uint8_t *at = (const uint8_t *)data + layout.table_off;
    const uint8_t *end = at + layout.table_len;
    uint64_t period;
    bytes_get_varint(&at, end, &period); /* checked by read_header */
    const int64_t step = s.segment_period_ms;
    /* In range (period_span); unsigned because the end of the last period may be 2^63. */
    uint64_t start = (uint64_t)(period_index(s.first_ms, step) * step);
    uint64_t previous_count = 0, previous_min = 0, total = 0;
    double lowest = 0, highest = 0;
    size_t filled = 0;
    for (uint32_t segment = 0; segment < s.segment_count; segment++, start += (uint64_t)step) {
        uint64_t coded, n;
        if (bytes_get_varint(&at, end, &coded) != 0)
            goto corrupt;
        n = previous_count + bytes_unzigzag(coded);
        previous_count = n;
        if (n > s.count - total || (n == 0 && (segment == 0 || segment + 1 == s.segment_count)))
            goto corrupt;
        total += n;
        if (n == 0)
            continue;
        ck_segment g = {.start_ms = (int64_t)start, .count = (uint32_t)n};
        if (s.codec == CK_CODEC_FLOAT) {
            if (end - at < 24)
                goto corrupt;
            g.min = bytes_get_f64(at);
            g.max = bytes_get_f64(at + 8);
            g.sum = bytes_get_f64(at + 16);
            at += 24;
        } else {
            uint64_t delta, range, above_min;
            if (bytes_get_varint(&at, end, &delta) != 0 ||
                bytes_get_varint(&at, end, &range) != 0 ||
                bytes_get_varint(&at, end, &above_min) != 0)
                goto corrupt;
            int64_t lo = (int64_t)(previous_min + bytes_unzigzag(delta));
            previous_min = (uint64_t)lo;
            /* Some reading is the min and some the max: the sum above the min is at least the
             * range and at most range * (n - 1); one reading has neither range nor sum. */
            if (lo <= -CK_MAX_MANTISSA || lo >= CK_MAX_MANTISSA ||
                range >= (uint64_t)(CK_MAX_MANTISSA - lo) || above_min < range ||
                (unsigned __int128)above_min > (unsigned __int128)range * (n - 1))
                goto corrupt;
            const double divisor = df_pow10(s.decimal_exponent);
            g.min = (double)lo / divisor;
            g.max = (double)(lo + (int64_t)range) / divisor;
            g.sum = (double)((__int128)lo * (__int128)n + (__int128)above_min) / divisor;
        }
        if (!(g.min >= s.min && g.max <= s.max && g.min <= g.max) || isnan(g.sum) ||
            (n == 1 && !(g.min == g.max && g.sum == g.min)))
            goto corrupt;
        /* A float sum lies within n * min .. n * max, give or take rounding (and may overflow
         * only where those bounds do). */
        const double slack = 1e-9 * (fabs(g.min) + fabs(g.max)) * (double)n;
        if (s.codec == CK_CODEC_FLOAT && isfinite((double)n * g.min) &&
            isfinite((double)n * g.max) &&
            !(g.sum >= (double)n * g.min - slack && g.sum <= (double)n * g.max + slack))
            goto corrupt;
        lowest = filled == 0 || g.min < lowest ? g.min : lowest;
        highest = filled == 0 || g.max > highest ? g.max : highest;
        if (filled == capacity)
            return jl_error_set(err, JL_ELIMIT, "chunk has more segments than room for %zu",
                                capacity);
        segments[filled++] = g;
    }
    /* The header's extremes are some period's. */
    if (total != s.count || at != end || lowest != s.min || highest != s.max)
        goto corrupt;
    *count = filled;
    return JL_OK;
corrupt:
    return jl_error_set(err, JL_ECORRUPT, "chunk segment table is malformed");
}
