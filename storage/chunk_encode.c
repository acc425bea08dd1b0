/* Chunk encoder: packs a run of readings of one series into the self-validating byte string of
 * storage/disk_format.h (section 2). Timestamps become scaled offsets coded delta-of-delta or
 * against a typical delta, whichever Rice-codes smaller; values become decimal mantissas when
 * some exponent writes all of them exactly, else raw doubles; the payload then goes through
 * LZ4 when that shrinks it (it mostly eats the long zero runs of a regular cadence). The
 * optional segment table comes from storage/chunk_segments.c; the optional flag runs, which
 * only chunks with readings not flagged N carry, are written here. */
#include "jialing/chunk.h"

#include <inttypes.h>
#include <lz4.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "chunk_internal.h"
#include "crc32c.h"
#include "disk_format.h"
#include "rice.h"

/* The median of up to 63 deltas spread over the chunk: the cadence, robust to gaps. */
static uint64_t typical_delta(const uint64_t *deltas, size_t n)
{
    uint64_t sample[63];
    size_t m = n < 63 ? n : 63;
    for (size_t i = 0; i < m; i++) {
        uint64_t v = deltas[i * n / m];
        size_t j = i;
        for (; j > 0 && sample[j - 1] > v; j--)
            sample[j] = sample[j - 1];
        sample[j] = v;
    }
    return sample[m / 2];
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Division by d of numbers d divides, and the test whether it divides one, without a division
 * instruction (64-bit divides were a third of the encoder's own time on timestamps): with
 * d = 2^shift * m, m odd, x / d = (x >> shift) * m^-1 modulo 2^64 when d divides x, and m divides
 * y exactly when y * m^-1 modulo 2^64 is at most (2^64 - 1) / m. */
typedef struct exact_divisor {
    unsigned shift;
    uint64_t inverse; /* of the odd part, modulo 2^64 */
    uint64_t limit;   /* (2^64 - 1) / the odd part */
} exact_divisor;

static exact_divisor exact_divisor_of(uint64_t d)
{
    exact_divisor e = {.shift = (unsigned)__builtin_ctzll(d)};
    uint64_t odd = d >> e.shift, inverse = odd; /* right to 3 bits; each step doubles that */
    for (int i = 0; i < 5; i++)
        inverse *= 2 - odd * inverse;
    e.inverse = inverse;
    e.limit = UINT64_MAX / odd;
    return e;
}

static inline uint64_t exact_divide(const exact_divisor *e, uint64_t x)
{
    return (x >> e->shift) * e->inverse;
}

static inline int exact_divides(const exact_divisor *e, uint64_t x)
{
    return (x & ((UINT64_C(1) << e->shift) - 1)) == 0 && exact_divide(e, x) <= e->limit;
}

int ck_encode(const int64_t *timestamps_ms, const double *values, size_t count, jl_buf *out,
              jl_error *err)
{
    return ck_encode_segmented(timestamps_ms, values, count, 0, out, err);
}

int ck_encode_segmented(const int64_t *timestamps_ms, const double *values, size_t count,
                        int64_t segment_period_ms, jl_buf *out, jl_error *err)
{
    return ck_encode_flagged(timestamps_ms, values, NULL, count, segment_period_ms, out, err);
}

/* Writes the flag-run section of flags[0..count) (disk_format.h, "Flag runs") to out, which
 * holds CK_FLAG_RUNS_BOUND(count) bytes; returns its length, 0 when every reading is N. Runs of
 * one code that touch are written as one, so the section is canonical. */
static size_t flag_runs_encode(const uint8_t *flags, size_t count, uint8_t *out)
{
    if (flags == NULL)
        return 0;
    size_t runs = 0;
    for (size_t i = 0; i < count; i++)
        runs += flags[i] != JL_FLAG_N && (i == 0 || flags[i - 1] != flags[i]);
    if (runs == 0)
        return 0;
    size_t len = bytes_put_varint(out, runs), previous_end = 0;
    for (size_t i = 0; i < count;) {
        if (flags[i] == JL_FLAG_N) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < count && flags[i] == flags[start])
            i++;
        len += bytes_put_varint(out + len, start - previous_end);
        len += bytes_put_varint(out + len, i - start);
        len += bytes_put_varint(out + len, flags[start]);
        previous_end = i;
    }
    return len;
}

int ck_encode_flagged(const int64_t *timestamps_ms, const double *values, const uint8_t *flags,
                      size_t count, int64_t segment_period_ms, jl_buf *out, jl_error *err)
{
    int rc = JL_OK;
    uint8_t *runs = NULL;
    uint64_t *numbers = NULL;
    int64_t *mantissas = NULL;
    uint8_t *raw = NULL;
    uint8_t *table = NULL;

    if (timestamps_ms == NULL || values == NULL || out == NULL)
        return jl_error_set(err, JL_EINVAL, "chunk encoder called without readings or output");
    if (count == 0 || count > CK_MAX_READINGS)
        return jl_error_set(err, JL_EINVAL, "a chunk holds 1 to %u readings, not %zu",
                            CK_MAX_READINGS, count);
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(values[i]))
            return jl_error_set(err, JL_EINVAL,
                                "reading %zu at %" PRId64 " ms has a non-finite value", i,
                                timestamps_ms[i]);
        if (i > 0 && timestamps_ms[i] <= timestamps_ms[i - 1])
            return jl_error_set(err, JL_EINVAL,
                                "timestamps must increase strictly: reading %zu at %" PRId64
                                " ms follows %" PRId64 " ms",
                                i, timestamps_ms[i], timestamps_ms[i - 1]);
        if (flags != NULL && flags[i] >= JL_FLAG_COUNT)
            return jl_error_set(err, JL_EINVAL,
                                "reading %zu at %" PRId64 " ms has flag code %u (0 to %d allowed)",
                                i, timestamps_ms[i], flags[i], JL_FLAG_COUNT - 1);
    }

    size_t raw_cap = CK_RAW_PAYLOAD_MAX(count) + 8;
    numbers = malloc(2 * count * sizeof *numbers);
    mantissas = malloc(count * sizeof *mantissas);
    raw = malloc(raw_cap);
    runs = flags != NULL ? malloc(CK_FLAG_RUNS_BOUND(count)) : NULL;
    if (numbers == NULL || mantissas == NULL || raw == NULL || (flags != NULL && runs == NULL)) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory encoding a chunk of %zu readings", count);
        goto out;
    }

    /* Offsets from the first timestamp, in unsigned arithmetic: they span up to 2^64 - 1 for
     * arbitrary int64 input, and every later step wraps modulo 2^64 consistently with the
     * decoder, so no input overflows. */
    const uint64_t first = (uint64_t)timestamps_ms[0];
    uint64_t scale = 0;
    exact_divisor by_scale = exact_divisor_of(1);
    for (size_t i = 1; i < count && scale != 1; i++) {
        uint64_t delta = (uint64_t)timestamps_ms[i] - (uint64_t)timestamps_ms[i - 1];
        if (scale != 0 && exact_divides(&by_scale, delta))
            continue;
        scale = gcd_u64(delta, scale);
        by_scale = exact_divisor_of(scale);
    }
    if (scale == 0)
        scale = 1;
    /* Two predictors for the scaled deltas; the cheaper one is kept. Delta-of-delta is free on
     * a steady or slowly drifting cadence; "delta minus a typical delta" costs one outlier per
     * gap instead of two, and on timestamps jittered around a grid its residuals are about a
     * bit narrower. */
    uint64_t *dods = numbers, *residuals = numbers + count;
    uint64_t prev_delta = 0, prev_offset = 0;
    for (size_t i = 1; i < count; i++) {
        uint64_t offset = exact_divide(&by_scale, (uint64_t)timestamps_ms[i] - first);
        uint64_t delta = offset - prev_offset;
        dods[i - 1] = bytes_zigzag(delta - prev_delta);
        residuals[i] = delta;
        prev_delta = delta;
        prev_offset = offset;
    }
    uint8_t chunk_flags = 0;
    rice_writer writer = {.data = raw, .pos = 0, .acc = 0, .nbits = 0};
    if (count > 1) {
        uint64_t base = typical_delta(residuals + 1, count - 1);
        residuals[0] = base;
        for (size_t i = 1; i < count; i++)
            residuals[i] = bytes_zigzag(residuals[i] - base);
        uint8_t residual_ks[RICE_MAX_FRAMES], dod_ks[RICE_MAX_FRAMES];
        if (rice_stream_cost(residuals, count, residual_ks) <
            rice_stream_cost(dods, count - 1, dod_ks)) {
            chunk_flags |= CK_FLAG_TS_BASE;
            rice_encode(&writer, residuals, count, residual_ks);
        } else {
            rice_encode(&writer, dods, count - 1, dod_ks);
        }
        rice_flush(&writer);
    }

    int exponent = df_decimal_exponent(values, NULL, count, mantissas);
    uint8_t codec = exponent >= 0 ? CK_CODEC_DECIMAL : CK_CODEC_FLOAT;
    if (codec == CK_CODEC_DECIMAL) {
        uint64_t prev = 0;
        for (size_t i = 0; i < count; i++) {
            numbers[i] = bytes_zigzag((uint64_t)mantissas[i] - prev);
            prev = (uint64_t)mantissas[i];
        }
        rice_encode(&writer, numbers, count, NULL);
        rice_flush(&writer);
    } else {
        exponent = 0;
        for (size_t i = 0; i < count; i++) {
            bytes_put_f64(raw + writer.pos, values[i]);
            writer.pos += 8;
        }
    }
    size_t raw_len = writer.pos;

    /* A table only when the readings span several periods (one is what the header says) and
     * not too many; period_span gives 0 when a period bound would leave int64. */
    size_t table_len = 0;
    uint64_t span =
        segment_period_ms > 0
            ? ck_period_span(timestamps_ms[0], timestamps_ms[count - 1], segment_period_ms)
            : 0;
    if (span >= 2 && span <= CK_MAX_SEGMENTS) {
        table = malloc(ck_segment_table_bound(span));
        if (table == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory encoding a chunk of %zu readings",
                              count);
            goto out;
        }
        table_len =
            ck_segments_encode(timestamps_ms, values, codec == CK_CODEC_DECIMAL ? mantissas : NULL,
                               count, segment_period_ms, span, table);
    }

    /* Between header and payload: with flag runs and a table, the table's length first (the
     * runs follow it, so a reader must know where it ends); then the table; then the runs. All
     * N writes nothing, so such a chunk is byte for byte a chunk without flags. */
    size_t runs_len = flag_runs_encode(flags, count, runs);
    uint8_t table_prefix[10];
    size_t prefix_len =
        runs_len > 0 && table_len > 0 ? bytes_put_varint(table_prefix, table_len) : 0;
    size_t ext_len = prefix_len + table_len + runs_len;
    int bound = LZ4_compressBound((int)raw_len);
    if (jl_buf_reserve(out, CK_HEADER_SIZE + ext_len + (size_t)bound) != JL_OK) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory encoding a chunk of %zu readings", count);
        goto out;
    }
    uint8_t *header = (uint8_t *)out->data + out->len;
    uint8_t *payload = header + CK_HEADER_SIZE + ext_len;
    memcpy(header + CK_HEADER_SIZE, table_prefix, prefix_len);
    if (table_len > 0) {
        memcpy(header + CK_HEADER_SIZE + prefix_len, table, table_len);
        chunk_flags |= CK_FLAG_SEGMENTS;
    }
    if (runs_len > 0) {
        memcpy(header + CK_HEADER_SIZE + prefix_len + table_len, runs, runs_len);
        chunk_flags |= CK_FLAG_FLAG_RUNS;
    }
    int packed = LZ4_compress_default((const char *)raw, (char *)payload, (int)raw_len, bound);
    size_t stored_len;
    if (packed > 0 && (size_t)packed < raw_len) {
        chunk_flags |= CK_FLAG_LZ4;
        stored_len = (size_t)packed;
    } else {
        memcpy(payload, raw, raw_len);
        stored_len = raw_len;
    }

    ck_summary summary;
    ck_summarize(timestamps_ms, values, count, &summary);
    memset(header, 0, CK_HEADER_SIZE);
    header[CK_OFF_MAGIC + 0] = CK_MAGIC_0;
    header[CK_OFF_MAGIC + 1] = CK_MAGIC_1;
    header[CK_OFF_MAGIC + 2] = CK_MAGIC_2;
    header[CK_OFF_MAGIC + 3] = CK_MAGIC_3;
    header[CK_OFF_VERSION] = CK_FORMAT_VERSION;
    header[CK_OFF_CODEC] = codec;
    header[CK_OFF_FLAGS] = chunk_flags;
    header[CK_OFF_EXPONENT] = (uint8_t)exponent;
    bytes_put_le32(header + CK_OFF_COUNT, (uint32_t)count);
    bytes_put_le32(header + CK_OFF_RAW_LEN, (uint32_t)raw_len);
    bytes_put_le32(header + CK_OFF_STORED_LEN, (uint32_t)stored_len);
    bytes_put_le32(header + CK_OFF_PAYLOAD_CRC, ck_crc32c(0, payload, stored_len));
    bytes_put_le64(header + CK_OFF_FIRST_MS, first);
    bytes_put_le64(header + CK_OFF_LAST_MS, (uint64_t)timestamps_ms[count - 1]);
    bytes_put_le64(header + CK_OFF_TS_SCALE, scale);
    bytes_put_f64(header + CK_OFF_MIN, summary.min);
    bytes_put_f64(header + CK_OFF_MAX, summary.max);
    bytes_put_f64(header + CK_OFF_SUM, summary.sum);
    bytes_put_f64(header + CK_OFF_SUM_SQUARES_DEV, summary.sum_squares_dev);
    bytes_put_f64(header + CK_OFF_FIRST_VALUE, summary.first_value);
    bytes_put_f64(header + CK_OFF_LAST_VALUE, summary.last_value);
    bytes_put_le32(header + CK_OFF_HEADER_CRC, ck_crc32c(ck_crc32c(0, header, CK_OFF_HEADER_CRC),
                                                         header + CK_HEADER_SIZE, ext_len));
    out->len += CK_HEADER_SIZE + ext_len + stored_len;
    out->data[out->len] = '\0';

out:
    free(numbers);
    free(mantissas);
    free(raw);
    free(table);
    free(runs);
    return rc;
}
