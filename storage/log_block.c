/* Write-log blocks: encodes a request's readings grouped by series with delta-coded timestamps
 * and decimal mantissas, and decodes blocks of both log formats with every length, count and
 * checksum validated before use. The layout and the reasons for it are in writelog.h. */
#include "log_block.h"

#include <lz4.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/chunk.h"

#define WL_MAGIC 0x32474c4au    /* "JLG2" little endian */
#define WL_V1_MAGIC 0x474f4c4au /* "JLOG": format 1, raw 24-byte records */
#define WL_V1_HEADER_BYTES 16
#define WL_V1_RECORD_BYTES 24
#define WL_MODE_RAW 255
#define WL_MAX_EXPONENT 15
#define WL_MAX_VARINT 10
/* Bytes a group can take before LZ4 at most: count, first time, mode and first mantissa, then
 * a time and a value of at most 10 bytes per reading. */
#define WL_GROUP_BYTES (4 * WL_MAX_VARINT)
#define WL_READING_BYTES (2 * WL_MAX_VARINT)

static const double powers_of_ten[WL_MAX_EXPONENT + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static void put_u32(uint8_t *out, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *in)
{
    return (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
}

static void put_u64(uint8_t *out, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *in)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | in[i];
    return v;
}

static uint64_t zigzag(uint64_t v)
{
    return (v << 1) ^ (uint64_t) - (int64_t)(v >> 63);
}

static uint64_t unzigzag(uint64_t z)
{
    return (z >> 1) ^ (uint64_t) - (int64_t)(z & 1);
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Reads a varint from [*p, end); returns 0 when it is cut short or longer than 10 bytes. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t byte = *(*p)++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Sets *mantissa when value is exactly mantissa / 10^exponent, as the decoder computes it (so
 * -0.0, which would read back as +0.0, is not). */
static int exact_at(double value, int exponent, int64_t *mantissa)
{
    double scaled = value * powers_of_ten[exponent];
    if (!(fabs(scaled) < 9007199254740992.0))
        return 0;
    *mantissa = (int64_t)rint(scaled);
    return same_double((double)*mantissa / powers_of_ten[exponent], value);
}

/* The decimal exponent that writes every value of the group exactly as mantissa / 10^E, with
 * the mantissas in mantissas[0..count), or -1. Starts each value at the exponent found so far:
 * a value exact at E is exact at every larger E whose mantissa stays below 2^53, and the final
 * pass, which computes the mantissas, checks that. */
static int group_exponent(const double *values, const uint32_t *order, size_t count,
                          int64_t *mantissas)
{
    int exponent = 0;
    int64_t mantissa;
    for (size_t i = 0; i < count; i++) {
        while (exponent <= WL_MAX_EXPONENT && !exact_at(values[order[i]], exponent, &mantissa))
            exponent++;
        if (exponent > WL_MAX_EXPONENT)
            return -1;
    }
    for (size_t i = 0; i < count; i++)
        if (!exact_at(values[order[i]], exponent, &mantissas[i]))
            return -1;
    return exponent;
}

int wl_encode(const st_batch *batch, jl_buf *out, jl_error *err)
{
    size_t count = batch->point_count;
    uint32_t series = batch->series_count;
    size_t raw_bound = count * WL_READING_BYTES + (size_t)series * WL_GROUP_BYTES;
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
    for (uint32_t s = 0; s < series; s++) {
        const uint32_t *group = order + starts[s];
        size_t n = starts[s + 1] - starts[s];
        p = put_varint(p, n);
        if (n == 0)
            continue;
        uint64_t previous_ms = (uint64_t)batch->point_ms[group[0]], previous_delta = 0;
        p = put_varint(p, zigzag(previous_ms));
        for (size_t i = 1; i < n; i++) {
            uint64_t ms = (uint64_t)batch->point_ms[group[i]];
            uint64_t delta = ms - previous_ms;
            p = put_varint(p, zigzag(delta - previous_delta));
            previous_ms = ms;
            previous_delta = delta;
        }
        int exponent = group_exponent(batch->point_values, group, n, mantissas);
        if (exponent < 0) {
            *p++ = WL_MODE_RAW;
            for (size_t i = 0; i < n; i++) {
                uint64_t bits;
                memcpy(&bits, &batch->point_values[group[i]], sizeof bits);
                put_u64(p, bits);
                p += 8;
            }
            continue;
        }
        *p++ = (uint8_t)exponent;
        uint64_t previous = 0;
        for (size_t i = 0; i < n; i++) {
            p = put_varint(p, zigzag((uint64_t)mantissas[i] - previous));
            previous = (uint64_t)mantissas[i];
        }
    }
    size_t raw_len = (size_t)(p - raw);
    int bound = LZ4_compressBound((int)raw_len);
    size_t ids_bytes = (size_t)series * 8;
    out->len = 0;
    if (bound <= 0 || jl_buf_reserve(out, WL_HEADER_BYTES + ids_bytes + (size_t)bound) != JL_OK) {
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
    put_u32(block, WL_MAGIC);
    put_u32(block + 4, (uint32_t)count);
    put_u32(block + 8, series);
    put_u32(block + 12, (uint32_t)raw_len);
    put_u32(block + 16, (uint32_t)packed);
    memset(block + 20, 0, 4 + ids_bytes);
    out->len = WL_HEADER_BYTES + ids_bytes + (size_t)packed;
out:
    free(starts);
    free(order);
    free(mantissas);
    free(raw);
    return rc;
}

void wl_finish(uint8_t *block, size_t len, const uint64_t *ids)
{
    uint32_t series = get_u32(block + 8);
    for (uint32_t s = 0; s < series; s++)
        put_u64(block + WL_HEADER_BYTES + 8 * (size_t)s, ids[s]);
    put_u32(block + 20, ck_crc32c(0, block + WL_HEADER_BYTES, len - WL_HEADER_BYTES));
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
    if (ids == NULL || ms == NULL || values == NULL)
        return JL_ENOMEM;
    out->capacity = count;
    return JL_OK;
}

static int decode_v1(const uint8_t *block, size_t len, wl_readings *out, jl_error *err)
{
    uint32_t count = get_u32(block + 4), packed = get_u32(block + 8);
    if (len < WL_V1_HEADER_BYTES || (size_t)packed != len - WL_V1_HEADER_BYTES ||
        count > ST_MAX_BATCH_POINTS)
        return jl_error_set(err, JL_ECORRUPT, "write log block has bad lengths");
    if (ck_crc32c(0, block + WL_V1_HEADER_BYTES, packed) != get_u32(block + 12))
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
        uint64_t bits = get_u64(record + 16);
        out->ids[i] = get_u64(record);
        out->ms[i] = (int64_t)get_u64(record + 8);
        memcpy(&out->values[i], &bits, sizeof bits);
    }
    free(raw);
    out->count = count;
    return JL_OK;
}

/* Decodes the groups of a format-2 payload; 0 when they do not add up. */
static int decode_groups(const uint8_t *p, const uint8_t *end, const uint8_t *id_table,
                         uint32_t series, size_t count, wl_readings *out)
{
    size_t at = 0;
    for (uint32_t s = 0; s < series; s++) {
        uint64_t n, first;
        if (!get_varint(&p, end, &n) || n > count - at)
            return 0;
        if (n == 0)
            continue;
        uint64_t id = get_u64(id_table + 8 * (size_t)s);
        if (!get_varint(&p, end, &first))
            return 0;
        uint64_t ms = unzigzag(first), delta = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t dod;
            if (i > 0) {
                if (!get_varint(&p, end, &dod))
                    return 0;
                delta += unzigzag(dod);
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
                uint64_t bits = get_u64(p);
                memcpy(&out->values[at + i], &bits, sizeof bits);
            }
        } else if (mode <= WL_MAX_EXPONENT) {
            uint64_t mantissa = 0;
            for (size_t i = 0; i < n; i++) {
                uint64_t step;
                if (!get_varint(&p, end, &step))
                    return 0;
                mantissa += unzigzag(step);
                out->values[at + i] = (double)(int64_t)mantissa / powers_of_ten[mode];
            }
        } else {
            return 0;
        }
        at += n;
    }
    return at == count && p == end;
}

int wl_decode(const void *bytes, size_t len, wl_readings *out, jl_error *err)
{
    const uint8_t *block = bytes;
    out->count = 0;
    if (len >= WL_V1_HEADER_BYTES && get_u32(block) == WL_V1_MAGIC)
        return decode_v1(block, len, out, err);
    if (len < WL_HEADER_BYTES || get_u32(block) != WL_MAGIC)
        return jl_error_set(err, JL_ECORRUPT, "write log block has a bad header");
    uint32_t count = get_u32(block + 4), series = get_u32(block + 8);
    uint32_t raw_len = get_u32(block + 12), packed = get_u32(block + 16);
    if (count == 0 || count > ST_MAX_BATCH_POINTS || series == 0 || series > ST_MAX_BATCH_POINTS ||
        (size_t)raw_len > (size_t)count * WL_READING_BYTES + (size_t)series * WL_GROUP_BYTES ||
        (len - WL_HEADER_BYTES) / 8 < series ||
        (size_t)packed != len - WL_HEADER_BYTES - (size_t)series * 8)
        return jl_error_set(err, JL_ECORRUPT, "write log block has bad lengths");
    if (ck_crc32c(0, block + WL_HEADER_BYTES, len - WL_HEADER_BYTES) != get_u32(block + 20))
        return jl_error_set(err, JL_ECORRUPT, "write log block fails its checksum");
    uint8_t *raw = malloc(raw_len ? raw_len : 1);
    if (raw == NULL || reserve(out, count) != JL_OK) {
        free(raw);
        return jl_error_set(err, JL_ENOMEM, "out of memory reading the write log");
    }
    const uint8_t *id_table = block + WL_HEADER_BYTES;
    int got = LZ4_decompress_safe((const char *)id_table + (size_t)series * 8, (char *)raw,
                                  (int)packed, (int)raw_len);
    int ok = got >= 0 && (uint32_t)got == raw_len &&
             decode_groups(raw, raw + raw_len, id_table, series, count, out);
    free(raw);
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
    memset(readings, 0, sizeof *readings);
}
