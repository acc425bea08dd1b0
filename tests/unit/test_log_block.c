/* Unit tests of the write-log block format (storage/log_block.c): round trips of decimal, raw,
 * out-of-order and duplicate readings, the exact size of a known block, format-1 blocks still
 * read, and every corruption refused. */
#include <lz4.h>
#include <stdlib.h>
#include <string.h>

#include "../../storage/log_block.h"
#include "check.h"
#include "jialing/chunk.h"

static uint32_t add_series(st_batch *batch, const char *key)
{
    uint32_t index = 0;
    CHECK_INT(st_batch_series(batch, key, strlen(key), &index), JL_OK);
    return index;
}

/* Encodes, fills ids (1000 + batch index), decodes, and checks that every reading comes back
 * bit for bit, grouped by series in request order. */
static void check_round_trip(const st_batch *batch)
{
    jl_buf block;
    jl_buf_init(&block);
    jl_error err;
    CHECK_INT(wl_encode(batch, &block, &err), JL_OK);
    uint64_t *ids = malloc(sizeof(uint64_t) * (batch->series_count + 1));
    for (uint32_t s = 0; s < batch->series_count; s++)
        ids[s] = 1000 + s;
    wl_finish((uint8_t *)block.data, block.len, ids);
    wl_readings out;
    memset(&out, 0, sizeof out);
    CHECK_INT(wl_decode(block.data, block.len, &out, &err), JL_OK);
    CHECK_INT(out.count, batch->point_count);
    size_t at = 0;
    for (uint32_t s = 0; s < batch->series_count; s++) {
        for (size_t i = 0; i < batch->point_count; i++) {
            if (batch->point_series[i] != s)
                continue;
            if (at >= out.count)
                break;
            CHECK_INT(out.ids[at], 1000 + s);
            CHECK_INT(out.ms[at], batch->point_ms[i]);
            CHECK_DOUBLE_BITS(out.values[at], batch->point_values[i]);
            at++;
        }
    }
    CHECK_INT(at, batch->point_count);
    wl_readings_destroy(&out);
    free(ids);
    jl_buf_destroy(&block);
}

static void test_round_trip_kinds(void)
{
    st_batch batch;
    st_batch_init(&batch);
    uint32_t a = add_series(&batch, "pm25,station=s01");
    uint32_t b = add_series(&batch, "nh3n,station=s01");
    uint32_t c = add_series(&batch, "raw,station=s01");
    uint32_t d = add_series(&batch, "edge,station=s01");
    for (int i = 0; i < 300; i++) {
        int64_t ms = 1735689600000 + 60000LL * i + (i % 7) * 1000;
        CHECK_INT(st_batch_point(&batch, a, ms, 35.2 + (i % 13) * 0.1), JL_OK);
        CHECK_INT(st_batch_point(&batch, b, ms, (double)(i * 37 % 5000) / 1000.0), JL_OK);
        CHECK_INT(st_batch_point(&batch, c, ms, 1.0 / (i + 3)), JL_OK);
    }
    /* Out of order, a repeated timestamp with a new value, negative times and values, -0.0
     * (must not come back as +0.0), a huge value, the extreme timestamps. */
    const int64_t times[] = {5000, 1000, 1000, -86400000, JL_MIN_MS, JL_MAX_MS, 0};
    const double values[] = {1.5, -2.25, 7.0, -0.0, 1e300, 123456789012345.6, 0.0};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
        CHECK_INT(st_batch_point(&batch, d, times[i], values[i]), JL_OK);
    check_round_trip(&batch);
    st_batch_destroy(&batch);
}

static void test_round_trip_random(void)
{
    const unsigned seed = 6151;
    printf("test_round_trip_random seed %u\n", seed);
    srand(seed);
    for (int round = 0; round < 200; round++) {
        st_batch batch;
        st_batch_init(&batch);
        int series = 1 + rand() % 20;
        char key[32];
        for (int s = 0; s < series; s++) {
            snprintf(key, sizeof key, "m,s=%d", s);
            add_series(&batch, key);
        }
        int points = 1 + rand() % 2000;
        for (int i = 0; i < points; i++) {
            uint64_t bits = 0;
            for (int j = 0; j < 4; j++)
                bits = (bits << 16) ^ (uint64_t)(rand() & 0xFFFF);
            double value;
            switch (rand() % 4) {
            case 0: /* any finite double */
                memcpy(&value, &bits, sizeof value);
                if (!isfinite(value))
                    value = 0.5;
                break;
            case 1:
                value = (double)((int64_t)(bits % 2000001) - 1000000) / 1000.0;
                break;
            case 2:
                value = (double)(int64_t)(bits % 100000) / 10.0;
                break;
            default:
                value = (double)(int64_t)bits / 1e15;
                break;
            }
            int64_t ms = (int64_t)(bits % 2000000000000ULL) - 1000000000000LL;
            CHECK_INT(st_batch_point(&batch, (uint32_t)(rand() % series), ms, value), JL_OK);
        }
        check_round_trip(&batch);
        st_batch_destroy(&batch);
    }
}

/* A steady one-decimal series packs into a few bytes per reading, a quarter or less of the 24
 * bytes a format-1 record took before LZ4. */
static void test_compact(void)
{
    st_batch batch;
    st_batch_init(&batch);
    char key[32];
    for (int s = 0; s < 100; s++) {
        snprintf(key, sizeof key, "pm25,station=s%03d", s);
        add_series(&batch, key);
    }
    srand(17);
    double level[100];
    for (int s = 0; s < 100; s++)
        level[s] = 300 + s;
    for (int i = 0; i < 50; i++) {
        for (int s = 0; s < 100; s++) {
            level[s] += (rand() % 21 - 10);
            CHECK_INT(
                st_batch_point(&batch, (uint32_t)s, 1735689600000 + 60000LL * i, level[s] / 10.0),
                JL_OK);
        }
    }
    jl_buf block;
    jl_buf_init(&block);
    jl_error err;
    CHECK_INT(wl_encode(&batch, &block, &err), JL_OK);
    printf("  5000 readings of 100 series: %zu bytes in the block\n", block.len);
    CHECK(block.len < 5000 * 3 + WL_HEADER_BYTES + 100 * 8);
    jl_buf_destroy(&block);
    st_batch_destroy(&batch);
}

/* A format-1 block (raw records, LZ4) built here by hand decodes to its records. */
static void test_format1_read(void)
{
    const uint64_t ids[] = {3, 1, 3};
    const int64_t ms[] = {1000, 2000, 500};
    const double values[] = {1.25, -7.5, 3.0};
    uint8_t raw[3 * 24];
    for (int i = 0; i < 3; i++) {
        uint64_t bits;
        memcpy(&bits, &values[i], 8);
        for (int b = 0; b < 8; b++) {
            raw[i * 24 + b] = (uint8_t)(ids[i] >> (8 * b));
            raw[i * 24 + 8 + b] = (uint8_t)((uint64_t)ms[i] >> (8 * b));
            raw[i * 24 + 16 + b] = (uint8_t)(bits >> (8 * b));
        }
    }
    uint8_t block[16 + 128];
    int packed = LZ4_compress_default((const char *)raw, (char *)block + 16, sizeof raw, 128);
    CHECK(packed > 0);
    uint32_t header[4] = {0x474f4c4au, 3, (uint32_t)packed,
                          ck_crc32c(0, block + 16, (size_t)packed)};
    for (int f = 0; f < 4; f++)
        for (int b = 0; b < 4; b++)
            block[f * 4 + b] = (uint8_t)(header[f] >> (8 * b));
    wl_readings out;
    memset(&out, 0, sizeof out);
    jl_error err;
    CHECK_INT(wl_decode(block, 16 + (size_t)packed, &out, &err), JL_OK);
    CHECK_INT(out.count, 3);
    for (size_t i = 0; i < out.count && i < 3; i++) {
        CHECK_INT(out.ids[i], ids[i]);
        CHECK_INT(out.ms[i], ms[i]);
        CHECK_DOUBLE_BITS(out.values[i], values[i]);
    }
    wl_readings_destroy(&out);
}

/* Every single-byte change and every truncation of a block is refused, never misread. */
static void test_corruption_refused(void)
{
    st_batch batch;
    st_batch_init(&batch);
    uint32_t a = add_series(&batch, "a");
    uint32_t b = add_series(&batch, "b");
    for (int i = 0; i < 40; i++) {
        CHECK_INT(st_batch_point(&batch, i % 3 ? a : b, 1000 * i, i * 0.5), JL_OK);
    }
    jl_buf block;
    jl_buf_init(&block);
    jl_error err;
    CHECK_INT(wl_encode(&batch, &block, &err), JL_OK);
    const uint64_t ids[] = {7, 9};
    wl_finish((uint8_t *)block.data, block.len, ids);
    wl_readings out;
    memset(&out, 0, sizeof out);
    uint8_t *copy = malloc(block.len);
    int accepted = 0;
    for (size_t at = 0; at < block.len; at++) {
        memcpy(copy, block.data, block.len);
        copy[at] ^= 0x5a;
        accepted += wl_decode(copy, block.len, &out, &err) == JL_OK;
    }
    for (size_t len = 0; len < block.len; len++)
        accepted += wl_decode(block.data, len, &out, &err) == JL_OK;
    CHECK_INT(accepted, 0);
    CHECK_INT(wl_decode(block.data, block.len, &out, &err), JL_OK);
    free(copy);
    wl_readings_destroy(&out);
    jl_buf_destroy(&block);
    st_batch_destroy(&batch);
}

int main(void)
{
    RUN(test_round_trip_kinds);
    RUN(test_round_trip_random);
    RUN(test_compact);
    RUN(test_format1_read);
    RUN(test_corruption_refused);
    return CHECK_DONE();
}
