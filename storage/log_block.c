/* The bytes of a write-log block: encodes a request's readings grouped by series with
 * delta-coded timestamps, decimal mantissas, runs of data flags and of series ids (format 4),
 * and decodes blocks of formats 1 to 4 with every length, count, run and checksum validated
 * before use. The layouts, the validation order and the reasons for formats 2 to 4 are in
 * storage/disk_format.h, section 3. */
#include "log_block.h"

#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"
#include "disk_format.h"

/* Writes the flag runs of one group (format 3): the run count, then gap, length and code of
 * each maximal stretch of equal non-N codes. Returns the bytes written. */
static size_t put_flag_runs(uint8_t *p, const st_batch *batch, const uint32_t *group, size_t n)
{
    size_t runs = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t code = st_batch_point_flag(batch, group[i]);
        if (code != JL_FLAG_N && (i == 0 || st_batch_point_flag(batch, group[i - 1]) != code))
            runs++;
    }
    uint8_t *start = p;
    p += bytes_put_varint(p, runs);
    size_t end = 0; /* end of the previous run */
    for (size_t i = 0; i < n;) {
        uint8_t code = st_batch_point_flag(batch, group[i]);
        if (code == JL_FLAG_N) {
            i++;
            continue;
        }
        size_t length = 1;
        while (i + length < n && st_batch_point_flag(batch, group[i + length]) == code)
            length++;
        p += bytes_put_varint(p, i - end);
        p += bytes_put_varint(p, length);
        *p++ = code;
        i += length;
        end = i;
    }
    return (size_t)(p - start);
}

static int encode(const st_batch *batch, int format, jl_buf *out, jl_error *err)
{
    size_t count = batch->point_count;
    uint32_t series = batch->series_count;
    size_t raw_bound =
        format >= 3 ? WL3_RAW_PAYLOAD_MAX(count, series) : WL_RAW_PAYLOAD_MAX(count, series);
    uint32_t *starts = calloc((size_t)series + 1, sizeof *starts);
    uint32_t *order = malloc((count ? count : 1) * sizeof *order);
    int64_t *mantissas = malloc((count ? count : 1) * sizeof *mantissas);
    uint8_t *raw = malloc(raw_bound ? raw_bound : 1);
    int rc = JL_OK;
    if (starts == NULL || order == NULL || mantissas == NULL || raw == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory encoding a log block");
        goto out;
    }
    /* Group the readings by series, keeping request order within each (a later write of the
     * same timestamp must still win on replay). */
    for (size_t i = 0; i < count; i++)
        starts[batch->point_series[i] + 1]++;
    for (uint32_t s = 0; s < series; s++)
        starts[s + 1] += starts[s];
    for (size_t i = 0; i < count; i++)
        order[starts[batch->point_series[i]]++] = (uint32_t)i;
    for (uint32_t s = series; s > 0; s--) /* the fill moved each start to the next group's */
        starts[s] = starts[s - 1];
    starts[0] = 0;

    uint8_t *p = raw;
    uint64_t previous_first_ms = 0; /* format 4: first times are deltas between groups */
    for (uint32_t s = 0; s < series; s++) {
        const uint32_t *group = order + starts[s];
        size_t n = starts[s + 1] - starts[s];
        p += bytes_put_varint(p, n);
        if (n == 0)
            continue;
        uint64_t previous_ms = (uint64_t)batch->point_ms[group[0]], previous_delta = 0;
        p += bytes_put_varint(p, bytes_zigzag(previous_ms - previous_first_ms));
        if (format == 4)
            previous_first_ms = previous_ms;
        for (size_t i = 1; i < n; i++) {
            uint64_t ms = (uint64_t)batch->point_ms[group[i]];
            uint64_t delta = ms - previous_ms;
            p += bytes_put_varint(p, bytes_zigzag(delta - previous_delta));
            previous_ms = ms;
            previous_delta = delta;
        }
        int exponent = df_decimal_exponent(batch->point_values, group, n, mantissas);
        if (exponent < 0) {
            *p++ = WL_MODE_RAW;
            for (size_t i = 0; i < n; i++, p += 8)
                bytes_put_f64(p, batch->point_values[group[i]]);
        } else {
            *p++ = (uint8_t)exponent;
            uint64_t previous = 0;
            for (size_t i = 0; i < n; i++) {
                p += bytes_put_varint(p, bytes_zigzag((uint64_t)mantissas[i] - previous));
                previous = (uint64_t)mantissas[i];
            }
        }
        if (format >= 3)
            p += put_flag_runs(p, batch, group, n);
    }
    size_t raw_len = (size_t)(p - raw);
    int bound = LZ4_compressBound((int)raw_len);
    /* Format 4's table is made by wl_finish(), in front of the payload: room is kept for it. */
    size_t ids_bytes = format == 4 ? 0 : (size_t)series * 8;
    size_t room = format == 4 ? WL4_ID_TABLE_MAX(series) : ids_bytes;
    out->len = 0;
    if (bound <= 0 || jl_buf_reserve(out, WL_HEADER_BYTES + room + (size_t)bound) != JL_OK) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory encoding a log block");
        goto out;
    }
    uint8_t *block = (uint8_t *)out->data;
    int packed = LZ4_compress_default(
        (const char *)raw, (char *)block + WL_HEADER_BYTES + ids_bytes, (int)raw_len, bound);
    if (packed <= 0) {
        rc = jl_error_set(err, JL_EINVAL, "compressing a log block failed");
        goto out;
    }
    bytes_put_le32(block, format == 4 ? WL4_MAGIC : format == 3 ? WL3_MAGIC : WL_MAGIC);
    bytes_put_le32(block + WL_OFF_COUNT, (uint32_t)count);
    bytes_put_le32(block + WL_OFF_SERIES, series);
    bytes_put_le32(block + WL_OFF_RAW_LEN, (uint32_t)raw_len);
    bytes_put_le32(block + WL_OFF_STORED_LEN, (uint32_t)packed);
    memset(block + WL_OFF_CRC, 0, 4 + ids_bytes);
    out->len = WL_HEADER_BYTES + ids_bytes + (size_t)packed;
out:
    free(starts);
    free(order);
    free(mantissas);
    free(raw);
    return rc;
}

int wl_encode(const st_batch *batch, jl_buf *out, jl_error *err)
{
    return encode(batch, 4, out, err);
}

int wl_encode_format(const st_batch *batch, int format, jl_buf *out, jl_error *err)
{
    if (format < 2 || format > 4)
        return jl_error_set(err, JL_EINVAL, "no write-log block format %d to write", format);
    return encode(batch, format, out, err);
}

/* Writes the format-4 id table of ids[0..series) at p (NULL: only counts); returns its bytes. */
static size_t put_id_runs(uint8_t *p, const uint64_t *ids, uint32_t series)
{
    uint8_t scratch[BYTES_VARINT_MAX];
    size_t bytes = 0;
    uint64_t end = 0;
    for (uint32_t s = 0; s < series;) {
        uint32_t length = 1;
        while (s + length < series && ids[s + length] == ids[s] + length)
            length++;
        uint8_t *at = p ? p + bytes : scratch;
        bytes += bytes_put_varint(at, bytes_zigzag(ids[s] - end));
        at = p ? p + bytes : scratch;
        bytes += bytes_put_varint(at, length - 1);
        end = ids[s] + length;
        s += length;
    }
    return bytes;
}

void wl_finish(jl_buf *out, const uint64_t *ids)
{
    uint8_t *block = (uint8_t *)out->data;
    uint32_t series = bytes_get_le32(block + WL_OFF_SERIES);
    if (bytes_get_le32(block) == WL4_MAGIC) {
        /* wl_encode() kept WL4_ID_TABLE_MAX bytes of room: the payload moves in place, from
         * after the table of an earlier call (a commit retried after the map grew finishes the
         * same block again, perhaps with other ids), or none. */
        size_t packed = bytes_get_le32(block + WL_OFF_STORED_LEN);
        size_t old_table = out->len - WL_HEADER_BYTES - packed;
        size_t table = put_id_runs(NULL, ids, series);
        memmove(block + WL_HEADER_BYTES + table, block + WL_HEADER_BYTES + old_table, packed);
        put_id_runs(block + WL_HEADER_BYTES, ids, series);
        out->len = WL_HEADER_BYTES + table + packed;
    } else {
        for (uint32_t s = 0; s < series; s++)
            bytes_put_le64(block + WL_HEADER_BYTES + 8 * (size_t)s, ids[s]);
    }
    bytes_put_le32(block + WL_OFF_CRC,
                   ck_crc32c(0, block + WL_HEADER_BYTES, out->len - WL_HEADER_BYTES));
}

static int reserve(wl_readings *out, size_t count)
{
    if (count <= out->capacity)
        return JL_OK;
    uint64_t *ids = realloc(out->ids, count * sizeof *ids);
    if (ids != NULL)
        out->ids = ids;
    int64_t *ms = realloc(out->ms, count * sizeof *ms);
    if (ms != NULL)
        out->ms = ms;
    double *values = realloc(out->values, count * sizeof *values);
    if (values != NULL)
        out->values = values;
    uint8_t *flags = realloc(out->flags, count * sizeof *flags);
    if (flags != NULL)
        out->flags = flags;
    if (ids == NULL || ms == NULL || values == NULL || flags == NULL)
        return JL_ENOMEM;
    out->capacity = count;
    return JL_OK;
}

static int decode_v1(const uint8_t *block, size_t len, wl_readings *out, jl_error *err)
{
    uint32_t count = bytes_get_le32(block + WL_V1_OFF_COUNT),
             packed = bytes_get_le32(block + WL_V1_OFF_STORED_LEN);
    if (len < WL_V1_HEADER_BYTES || (size_t)packed != len - WL_V1_HEADER_BYTES ||
        count > ST_MAX_BATCH_POINTS)
        return jl_error_set(err, JL_ECORRUPT, "write log block has bad lengths");
    if (ck_crc32c(0, block + WL_V1_HEADER_BYTES, packed) != bytes_get_le32(block + WL_V1_OFF_CRC))
        return jl_error_set(err, JL_ECORRUPT, "write log block fails its checksum");
    size_t raw_len = (size_t)count * WL_V1_RECORD_BYTES;
    uint8_t *raw = malloc(raw_len ? raw_len : 1);
    if (raw == NULL || reserve(out, count) != JL_OK) {
        free(raw);
        return jl_error_set(err, JL_ENOMEM, "out of memory reading the write log");
    }
    int got = LZ4_decompress_safe((const char *)block + WL_V1_HEADER_BYTES, (char *)raw,
                                  (int)packed, (int)raw_len);
    if (got < 0 || (size_t)got != raw_len) {
        free(raw);
        return jl_error_set(err, JL_ECORRUPT, "write log block does not decompress");
    }
    for (size_t i = 0; i < count; i++) {
        const uint8_t *record = raw + i * WL_V1_RECORD_BYTES;
        out->ids[i] = bytes_get_le64(record);
        out->ms[i] = (int64_t)bytes_get_le64(record + 8);
        out->values[i] = bytes_get_f64(record + 16);
        out->flags[i] = JL_FLAG_N; /* format 1 kept no flags */
    }
    free(raw);
    out->count = count;
    return JL_OK;
}

/* Decodes the flag runs of a format-3 group of n readings into flags[0..n), already all N;
 * 0 when a run is out of its group, empty, of an unknown code, not maximal or cut short. Each
 * bound is checked as a difference so that no varint can wrap an index back into the group. */
static int decode_flag_runs(const uint8_t **pp, const uint8_t *end, size_t n, uint8_t *flags)
{
    const uint8_t *p = *pp;
    uint64_t runs;
    if (bytes_get_varint(&p, end, &runs) || runs > n)
        return 0;
    size_t at = 0;
    uint8_t previous = JL_FLAG_N;
    for (uint64_t r = 0; r < runs; r++) {
        uint64_t gap, length;
        if (bytes_get_varint(&p, end, &gap) || gap > n - at)
            return 0;
        at += (size_t)gap;
        if (bytes_get_varint(&p, end, &length) || length == 0 || length > n - at || p >= end)
            return 0;
        uint8_t code = *p++;
        if (code == JL_FLAG_N || code >= JL_FLAG_COUNT || (gap == 0 && code == previous))
            return 0;
        memset(flags + at, code, (size_t)length);
        at += (size_t)length;
        previous = code;
    }
    *pp = p;
    return 1;
}

/* Decodes a format-4 id table [p, end) into ids[0..series); 0 unless its runs are maximal and
 * add up to exactly series ids and to exactly the table. */
static int decode_id_runs(const uint8_t *p, const uint8_t *end, uint32_t series, uint64_t *ids)
{
    uint64_t run_end = 0;
    for (uint32_t s = 0; s < series;) {
        uint64_t start, more;
        if (bytes_get_varint(&p, end, &start) || (s > 0 && start == 0) ||
            bytes_get_varint(&p, end, &more) || more >= series - s)
            return 0;
        uint64_t id = run_end + bytes_unzigzag(start);
        for (uint64_t i = 0; i <= more; i++)
            ids[s++] = id + i;
        run_end = id + more + 1;
    }
    return p == end;
}

/* Decodes the groups of a format-2, 3 or 4 payload (ids[s]: the id of group s); 0 when they do
 * not add up. */
static int decode_groups(const uint8_t *p, const uint8_t *end, const uint64_t *ids, uint32_t series,
                         size_t count, int format, wl_readings *out)
{
    memset(out->flags, JL_FLAG_N, count); /* format 2 kept no flags */
    size_t at = 0;
    uint64_t previous_first_ms = 0;
    for (uint32_t s = 0; s < series; s++) {
        uint64_t n, first;
        if (bytes_get_varint(&p, end, &n) || n > count - at)
            return 0;
        if (n == 0)
            continue;
        uint64_t id = ids[s];
        if (bytes_get_varint(&p, end, &first))
            return 0;
        uint64_t ms = previous_first_ms + bytes_unzigzag(first), delta = 0;
        if (format == 4)
            previous_first_ms = ms;
        for (size_t i = 0; i < n; i++) {
            uint64_t dod;
            if (i > 0) {
                if (bytes_get_varint(&p, end, &dod))
                    return 0;
                delta += bytes_unzigzag(dod);
                ms += delta;
            }
            if ((int64_t)ms < JL_MIN_MS || (int64_t)ms > JL_MAX_MS)
                return 0;
            out->ids[at + i] = id;
            out->ms[at + i] = (int64_t)ms;
        }
        if (p >= end)
            return 0;
        uint8_t mode = *p++;
        if (mode == WL_MODE_RAW) {
            if ((size_t)(end - p) < n * 8)
                return 0;
            for (size_t i = 0; i < n; i++, p += 8) {
                out->values[at + i] = bytes_get_f64(p);
            }
        } else if (mode <= DF_MAX_DECIMAL_EXPONENT) {
            uint64_t mantissa = 0;
            for (size_t i = 0; i < n; i++) {
                uint64_t step;
                if (bytes_get_varint(&p, end, &step))
                    return 0;
                mantissa += bytes_unzigzag(step);
                out->values[at + i] = (double)(int64_t)mantissa / df_pow10(mode);
            }
        } else {
            return 0;
        }
        if (format >= 3 && !decode_flag_runs(&p, end, n, out->flags + at))
            return 0;
        at += n;
    }
    return at == count && p == end;
}

int wl_decode(const void *bytes, size_t len, wl_readings *out, jl_error *err)
{
    const uint8_t *block = bytes;
    out->count = 0;
    if (len >= WL_V1_HEADER_BYTES && bytes_get_le32(block) == WL_V1_MAGIC)
        return decode_v1(block, len, out, err);
    uint32_t magic = len >= WL_HEADER_BYTES ? bytes_get_le32(block) : 0;
    if (magic != WL_MAGIC && magic != WL3_MAGIC && magic != WL4_MAGIC)
        return jl_error_set(err, JL_ECORRUPT, "write log block has a bad header");
    int format = magic == WL4_MAGIC ? 4 : magic == WL3_MAGIC ? 3 : 2;
    uint32_t count = bytes_get_le32(block + WL_OFF_COUNT),
             series = bytes_get_le32(block + WL_OFF_SERIES);
    uint32_t raw_len = bytes_get_le32(block + WL_OFF_RAW_LEN),
             packed = bytes_get_le32(block + WL_OFF_STORED_LEN);
    /* Format 4's table takes what the payload leaves; 2 and 3 have 8 bytes a series. */
    size_t table = format == 4 ? len - WL_HEADER_BYTES - (size_t)packed : (size_t)series * 8;
    if (count == 0 || count > ST_MAX_BATCH_POINTS || series == 0 || series > ST_MAX_BATCH_POINTS ||
        (size_t)raw_len > (format >= 3 ? WL3_RAW_PAYLOAD_MAX(count, series)
                                       : WL_RAW_PAYLOAD_MAX(count, series)) ||
        (size_t)packed > len - WL_HEADER_BYTES ||
        (format != 4 &&
         ((len - WL_HEADER_BYTES) / 8 < series || (size_t)packed != len - WL_HEADER_BYTES - table)))
        return jl_error_set(err, JL_ECORRUPT, "write log block has bad lengths");
    if (ck_crc32c(0, block + WL_HEADER_BYTES, len - WL_HEADER_BYTES) !=
        bytes_get_le32(block + WL_OFF_CRC))
        return jl_error_set(err, JL_ECORRUPT, "write log block fails its checksum");
    uint8_t *raw = malloc(raw_len ? raw_len : 1);
    uint64_t *ids = malloc((size_t)series * sizeof *ids);
    if (raw == NULL || ids == NULL || reserve(out, count) != JL_OK) {
        free(raw);
        free(ids);
        return jl_error_set(err, JL_ENOMEM, "out of memory reading the write log");
    }
    const uint8_t *id_table = block + WL_HEADER_BYTES;
    int ok = 1;
    if (format == 4)
        ok = decode_id_runs(id_table, id_table + table, series, ids);
    else
        for (uint32_t s = 0; s < series; s++)
            ids[s] = bytes_get_le64(id_table + 8 * (size_t)s);
    int got = ok ? LZ4_decompress_safe((const char *)id_table + table, (char *)raw, (int)packed,
                                       (int)raw_len)
                 : -1;
    ok = got >= 0 && (uint32_t)got == raw_len &&
         decode_groups(raw, raw + raw_len, ids, series, count, format, out);
    free(raw);
    free(ids);
    if (!ok)
        return jl_error_set(err, JL_ECORRUPT, "write log block does not decode");
    out->count = count;
    return JL_OK;
}

void wl_readings_destroy(wl_readings *readings)
{
    free(readings->ids);
    free(readings->ms);
    free(readings->values);
    free(readings->flags);
    memset(readings, 0, sizeof *readings);
}
