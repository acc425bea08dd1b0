/* Chunk decoder: validates a chunk's header in the order storage/disk_format.h (section 2)
 * fixes, for ck_read_summary() (header only, so queries use a summary without the payload) and
 * for ck_decode(), which then checks the payload checksum, decompresses into a padded buffer of
 * exactly the raw length and unpacks timestamps and values, refusing any payload the encoder
 * could not have written, and for ck_read_flags(), which expands the flag runs the header check
 * has validated. The header check is shared with storage/chunk_segments.c. */
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

/* Walks the flag-run section at[0..len) of a chunk of count readings (disk_format.h, "Flag
 * runs"): returns 0 when it is well formed, after setting *mask to the codes present (N
 * included when some reading is not in a run) and, when out is not NULL, writing the code of
 * each reading in a run to out (the caller has set out[0..count) to N); -1 otherwise. */
static int flag_runs_walk(const uint8_t *at, size_t len, uint32_t count, uint8_t *out,
                          jl_flag_mask *mask)
{
    const uint8_t *end = at + len;
    uint64_t runs, gap, run, code, previous_code = 0, flagged = 0;
    size_t pos = 0; /* the previous run's end */
    jl_flag_mask codes = 0;
    if (bytes_get_varint(&at, end, &runs) != 0 || runs < 1 || runs > count)
        return -1;
    for (uint64_t r = 0; r < runs; r++) {
        if (bytes_get_varint(&at, end, &gap) != 0 || bytes_get_varint(&at, end, &run) != 0 ||
            bytes_get_varint(&at, end, &code) != 0 || gap > count - pos || run < 1 ||
            run > count - pos - gap || code < 1 || code >= JL_FLAG_COUNT ||
            (r > 0 && gap == 0 && code == previous_code))
            return -1;
        pos += (size_t)gap;
        if (out != NULL)
            memset(out + pos, (int)code, (size_t)run);
        pos += (size_t)run;
        flagged += run;
        codes |= (jl_flag_mask)(1u << code);
        previous_code = code;
    }
    if (at != end)
        return -1;
    *mask = codes | (flagged < count ? JL_FLAG_MASK_N : 0);
    return 0;
}

int ck_header_read(const uint8_t *p, size_t len, ck_summary *summary, uint64_t *scale,
                   uint32_t *raw_len, uint8_t *flags, ck_layout *layout, jl_error *err)
{
    if (len < CK_HEADER_SIZE)
        return jl_error_set(err, JL_ECORRUPT,
                            "chunk of %zu bytes is shorter than its %d-byte header", len,
                            CK_HEADER_SIZE);
    if (p[0] != CK_MAGIC_0 || p[1] != CK_MAGIC_1 || p[2] != CK_MAGIC_2 || p[3] != CK_MAGIC_3)
        return jl_error_set(err, JL_ECORRUPT, "chunk has a bad magic number");
    if (p[CK_OFF_VERSION] != CK_FORMAT_VERSION)
        return jl_error_set(err, JL_ECORRUPT, "chunk has format version %u, this build reads %u",
                            p[CK_OFF_VERSION], CK_FORMAT_VERSION);
    uint8_t codec = p[CK_OFF_CODEC];
    if (codec != CK_CODEC_DECIMAL && codec != CK_CODEC_FLOAT)
        return jl_error_set(err, JL_ECORRUPT, "chunk has unknown value codec %u", codec);
    uint8_t chunk_flags = p[CK_OFF_FLAGS];
    if (chunk_flags & ~CK_FLAGS_KNOWN)
        return jl_error_set(err, JL_ECORRUPT, "chunk has unknown flags 0x%02x", chunk_flags);
    uint32_t count = bytes_get_le32(p + CK_OFF_COUNT);
    if (count < 1 || count > CK_MAX_READINGS)
        return jl_error_set(err, JL_ECORRUPT, "chunk claims %u readings (1 to %u allowed)", count,
                            CK_MAX_READINGS);
    uint32_t raw = bytes_get_le32(p + CK_OFF_RAW_LEN);
    uint32_t stored = bytes_get_le32(p + CK_OFF_STORED_LEN);
    const int with_table = (chunk_flags & CK_FLAG_SEGMENTS) != 0;
    const int with_runs = (chunk_flags & CK_FLAG_FLAG_RUNS) != 0;
    if (stored > len - CK_HEADER_SIZE)
        return jl_error_set(err, JL_ECORRUPT,
                            "chunk payload length %u does not match the %zu bytes after the header",
                            stored, len - CK_HEADER_SIZE);
    /* The extension (table and runs, when flagged) fills the bytes between header and payload;
     * with both, a length prefix says where the table ends. */
    const size_t ext = len - CK_HEADER_SIZE - stored;
    size_t table_off = CK_HEADER_SIZE, table = 0, runs = 0;
    if (with_table && with_runs) {
        const uint8_t *at = p + CK_HEADER_SIZE;
        uint64_t prefixed;
        if (bytes_get_varint(&at, at + ext, &prefixed) != 0 ||
            prefixed > ck_segment_table_bound(CK_MAX_SEGMENTS) ||
            prefixed > ext - (size_t)(at - (p + CK_HEADER_SIZE)))
            return jl_error_set(err, JL_ECORRUPT, "chunk segment table length prefix is bad");
        table_off = (size_t)(at - p);
        table = (size_t)prefixed;
        runs = ext - (table_off - CK_HEADER_SIZE) - table;
    } else if (with_table) {
        table = ext;
    } else if (with_runs) {
        runs = ext;
    }
    if ((!with_table && !with_runs && ext != 0) ||
        (with_table && (table < 2 || table > ck_segment_table_bound(CK_MAX_SEGMENTS))) ||
        (with_runs && (runs < CK_FLAG_RUNS_MIN || runs > CK_FLAG_RUNS_BOUND(count))))
        return jl_error_set(err, JL_ECORRUPT,
                            "chunk has %zu bytes between header and payload (table %zu, flag runs "
                            "%zu), which its flags 0x%02x do not allow",
                            ext, table, runs, chunk_flags);
    if (raw > CK_RAW_PAYLOAD_MAX(count) ||
        ((chunk_flags & CK_FLAG_LZ4) ? stored >= raw : stored != raw))
        return jl_error_set(
            err, JL_ECORRUPT,
            "chunk payload lengths are inconsistent (raw %u, stored %u, %u readings)", raw, stored,
            count);
    if (bytes_get_le32(p + CK_OFF_HEADER_CRC) !=
        ck_crc32c(ck_crc32c(0, p, CK_OFF_HEADER_CRC), p + CK_HEADER_SIZE, ext))
        return jl_error_set(err, JL_ECORRUPT, "chunk header checksum mismatch");
    int64_t first_ms = (int64_t)bytes_get_le64(p + CK_OFF_FIRST_MS);
    int64_t last_ms = (int64_t)bytes_get_le64(p + CK_OFF_LAST_MS);
    uint64_t ts_scale = bytes_get_le64(p + CK_OFF_TS_SCALE);
    int8_t exponent = (int8_t)p[CK_OFF_EXPONENT];
    if (first_ms > last_ms || (count == 1) != (first_ms == last_ms) || ts_scale == 0 ||
        (count == 1 && (chunk_flags & CK_FLAG_TS_BASE)) || exponent < 0 ||
        exponent > (codec == CK_CODEC_DECIMAL ? CK_MAX_DECIMAL_EXPONENT : 0))
        return jl_error_set(err, JL_ECORRUPT, "chunk header fields are inconsistent");
    uint64_t period = 0, span = 0;
    if (table > 0) {
        const uint8_t *at = p + table_off;
        if (bytes_get_varint(&at, at + table, &period) != 0 || period < 1 || period > INT64_MAX ||
            (span = ck_period_span(first_ms, last_ms, (int64_t)period)) < 2 ||
            span > CK_MAX_SEGMENTS)
            return jl_error_set(err, JL_ECORRUPT, "chunk segment table has a bad period");
    }
    const size_t runs_off = table_off + table;
    jl_flag_mask mask = JL_FLAG_MASK_N;
    if (runs > 0 && flag_runs_walk(p + runs_off, runs, count, NULL, &mask) != 0)
        return jl_error_set(err, JL_ECORRUPT, "chunk flag runs are malformed");

    summary->count = count;
    summary->first_ms = first_ms;
    summary->last_ms = last_ms;
    summary->min = bytes_get_f64(p + CK_OFF_MIN);
    summary->max = bytes_get_f64(p + CK_OFF_MAX);
    summary->sum = bytes_get_f64(p + CK_OFF_SUM);
    summary->sum_squares_dev = bytes_get_f64(p + CK_OFF_SUM_SQUARES_DEV);
    summary->first_value = bytes_get_f64(p + CK_OFF_FIRST_VALUE);
    summary->last_value = bytes_get_f64(p + CK_OFF_LAST_VALUE);
    summary->codec = codec;
    summary->decimal_exponent = exponent;
    summary->payload_bytes = stored;
    summary->flag_mask = mask;
    summary->segment_period_ms = (int64_t)period;
    summary->segment_count = (uint32_t)span;
    if (layout) {
        layout->table_off = table_off;
        layout->table_len = table;
        layout->runs_off = runs_off;
        layout->runs_len = runs;
        layout->payload_off = CK_HEADER_SIZE + ext;
    }
    if (scale)
        *scale = ts_scale;
    if (raw_len)
        *raw_len = raw;
    if (flags)
        *flags = chunk_flags;
    return JL_OK;
}

int ck_read_summary(const void *data, size_t len, ck_summary *summary, jl_error *err)
{
    if (data == NULL)
        return jl_error_set(err, JL_ECORRUPT, "chunk is missing");
    return ck_header_read(data, len, summary, NULL, NULL, NULL, NULL, err);
}

int ck_read_flags(const void *data, size_t len, uint8_t *flags, size_t capacity, jl_error *err)
{
    ck_summary s;
    ck_layout layout;
    if (data == NULL)
        return jl_error_set(err, JL_ECORRUPT, "chunk is missing");
    int rc = ck_header_read(data, len, &s, NULL, NULL, NULL, &layout, err);
    if (rc != JL_OK)
        return rc;
    if (s.count > capacity)
        return jl_error_set(err, JL_ELIMIT, "chunk holds %u readings, room for only %zu flags",
                            s.count, capacity);
    if (flags == NULL)
        return jl_error_set(err, JL_EINVAL, "chunk flag reader called without an output array");
    memset(flags, JL_FLAG_N, s.count);
    jl_flag_mask mask;
    if (layout.runs_len > 0)
        flag_runs_walk((const uint8_t *)data + layout.runs_off, layout.runs_len, s.count, flags,
                       &mask); /* checked by ck_header_read */
    return JL_OK;
}

/* Bytes of zero padding after the raw payload: one frame's worst case plus a load's width, so
 * the frame decoder checks bounds per frame only. */
#define DECODE_PADDING (CK_MAX_FRAME_BYTES + 16)

int ck_decode(const void *data, size_t len, int64_t *timestamps_ms, double *values, size_t capacity,
              size_t *count, jl_error *err)
{
    int rc = JL_OK;
    uint8_t *scratch = NULL;
    ck_summary s;
    uint64_t scale;
    uint32_t raw_len;
    uint8_t flags;

    if (count)
        *count = 0;
    if (data == NULL)
        return jl_error_set(err, JL_ECORRUPT, "chunk is missing");
    ck_layout layout;
    rc = ck_header_read(data, len, &s, &scale, &raw_len, &flags, &layout, err);
    if (rc != JL_OK)
        return rc;
    const uint8_t *stored = (const uint8_t *)data + layout.payload_off;
    if (bytes_get_le32((const uint8_t *)data + CK_OFF_PAYLOAD_CRC) !=
        ck_crc32c(0, stored, s.payload_bytes))
        return jl_error_set(err, JL_ECORRUPT, "chunk payload checksum mismatch");
    if (s.count > capacity)
        return jl_error_set(err, JL_ELIMIT, "chunk holds %u readings, room for only %zu", s.count,
                            capacity);
    if (timestamps_ms == NULL || values == NULL)
        return jl_error_set(err, JL_EINVAL, "chunk decoder called without output arrays");

    scratch = malloc((size_t)raw_len + DECODE_PADDING);
    if (scratch == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory decoding a chunk");
    if (flags & CK_FLAG_LZ4) {
        int got = LZ4_decompress_safe((const char *)stored, (char *)scratch, (int)s.payload_bytes,
                                      (int)raw_len);
        if (got != (int)raw_len) {
            rc = jl_error_set(err, JL_ECORRUPT,
                              "chunk payload does not decompress to its %u raw bytes", raw_len);
            goto out;
        }
    } else {
        memcpy(scratch, stored, raw_len);
    }
    memset(scratch + raw_len, 0, DECODE_PADDING);

    const uint64_t end_bits = (uint64_t)raw_len * 8;
    const size_t n = s.count;
    uint64_t z[CK_FRAME_VALUES];
    uint64_t pos = 0;
    int bad = 0;

    /* Timestamps: delta = previous delta + number (delta-of-delta), or base + number when the
     * stream starts with a base delta; both as one branch-free update. */
    const uint64_t first = (uint64_t)s.first_ms;
    const int with_base = (flags & CK_FLAG_TS_BASE) != 0;
    const uint64_t keep = with_base ? 0 : ~(uint64_t)0;
    const size_t ts_numbers = n - 1 + (size_t)with_base;
    uint64_t base = 0, delta = 0, offset = 0;
    int64_t prev_ts = s.first_ms;
    size_t out_i = 1;
    timestamps_ms[0] = s.first_ms;
    for (size_t start = 0; start < ts_numbers; start += CK_FRAME_VALUES) {
        size_t frame = ts_numbers - start < CK_FRAME_VALUES ? ts_numbers - start : CK_FRAME_VALUES;
        int zeros = rice_decode_frame(scratch, &pos, frame, z);
        if (zeros < 0 || pos > end_bits) {
            rc = jl_error_set(err, JL_ECORRUPT, "chunk timestamp stream is malformed");
            goto out;
        }
        if (zeros && !(start == 0 && with_base)) {
            /* A steady cadence: an arithmetic sequence, increasing iff the step is positive
             * and the last one does not pass INT64_MAX. */
            delta = (delta & keep) + base;
            uint64_t step = delta * scale;
            bad |= (int64_t)step <= 0 ||
                   step > ((uint64_t)INT64_MAX - (uint64_t)prev_ts) / (uint64_t)frame;
            for (size_t j = 0; j < frame; j++)
                timestamps_ms[out_i + j] = (int64_t)((uint64_t)prev_ts + step * (j + 1));
            out_i += frame;
            offset += delta * frame;
            prev_ts = timestamps_ms[out_i - 1];
            continue;
        }
        size_t j = 0;
        if (start == 0 && with_base)
            base = z[j++];
        for (; j < frame; j++) {
            delta = (delta & keep) + base + bytes_unzigzag(z[j]);
            offset += delta;
            int64_t ts = (int64_t)(first + offset * scale);
            bad |= ts <= prev_ts;
            timestamps_ms[out_i++] = ts;
            prev_ts = ts;
        }
    }
    if (bad || prev_ts != s.last_ms) {
        rc = jl_error_set(err, JL_ECORRUPT,
                          "chunk timestamps do not increase strictly to the header's last_ms");
        goto out;
    }

    /* Values. */
    pos = (pos + 7) & ~(uint64_t)7;
    if (s.codec == CK_CODEC_DECIMAL) {
        const double divisor = df_pow10(s.decimal_exponent);
        uint64_t mantissa = 0;
        for (size_t start = 0; start < n; start += CK_FRAME_VALUES) {
            size_t frame = n - start < CK_FRAME_VALUES ? n - start : CK_FRAME_VALUES;
            if (rice_decode_frame(scratch, &pos, frame, z) < 0 || pos > end_bits) {
                rc = jl_error_set(err, JL_ECORRUPT, "chunk value stream is malformed");
                goto out;
            }
            for (size_t j = 0; j < frame; j++) {
                mantissa += bytes_unzigzag(z[j]);
                values[start + j] = (double)(int64_t)mantissa / divisor;
            }
        }
        pos = (pos + 7) & ~(uint64_t)7;
    } else {
        if (pos > end_bits || end_bits - pos < (uint64_t)n * 64) {
            rc = jl_error_set(err, JL_ECORRUPT, "chunk value section is truncated");
            goto out;
        }
        const uint8_t *p = scratch + (pos >> 3);
        for (size_t i = 0; i < n; i++) {
            double v;
            uint64_t bits = bytes_get_le64(p + 8 * i);
            memcpy(&v, &bits, sizeof v);
            bad |= !isfinite(v);
            values[i] = v;
        }
        pos += (uint64_t)n * 64;
    }
    if (pos != end_bits) {
        rc = jl_error_set(err, JL_ECORRUPT, "chunk payload has %" PRIu64 " bytes, decoded %" PRIu64,
                          end_bits / 8, pos / 8);
        goto out;
    }
    if (bad || !bytes_same_f64(values[0], s.first_value) ||
        !bytes_same_f64(values[n - 1], s.last_value)) {
        rc = jl_error_set(err, JL_ECORRUPT, "chunk values do not match the header");
        goto out;
    }
    if (count)
        *count = n;

out:
    free(scratch);
    return rc;
}
