/* Golden files of every on-disk format (tests/golden/, described in tests/golden/README.md):
 * a segmented chunk (without and with data flags), a format-1 and a format-2 write-log block, a
 * sealed series-state record, a format-1 data directory written by the store of commit
 * d481a42, and a format-4 data directory written by the store of commit 17dc7a6. Each is read and
 * its readings compared with the literals below (the readings that were written, not values read
 * back from this build); the chunk and both blocks are also encoded again from those readings and
 * must come out byte for byte identical, which proves the bytes on disk did not change.
 *
 * Run from the repository root (tests/run.sh does). `test_golden --write` rewrites the chunk and
 * the format-2 block from this build: only for a deliberate format change, never to make the
 * test pass. */
#include "check.h"
#include "tempdir.h"

#include "jialing/chunk.h"
#include "jialing/serieskey.h"
#include "jialing/store.h"

#include "../../storage/disk_format.h"
#include "../../storage/log_block.h"
#include "../../storage/store_internal.h"

#include <lmdb.h>
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_DIR "tests/golden/"

/* Reads a whole golden file into a malloc'ed buffer; NULL (and a failed check) when missing. */
static uint8_t *read_golden(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, GOLDEN_DIR "%s", name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "  cannot open %s (run from the repository root)\n", path);
        CHECK(0);
        return NULL;
    }
    uint8_t *data = malloc(1 << 20);
    *len = data ? fread(data, 1, 1 << 20, f) : 0;
    fclose(f);
    return data;
}

static void write_golden(const char *name, const void *data, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, GOLDEN_DIR "%s", name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    CHECK_INT(fwrite(data, 1, len, f), len);
    CHECK_INT(fclose(f), 0);
}

/* Compares an encoding with its golden bytes, printing the first difference. */
static void check_same_bytes(const char *what, const uint8_t *got, size_t got_len,
                             const uint8_t *golden, size_t golden_len)
{
    CHECK_INT(got_len, golden_len);
    for (size_t i = 0; i < got_len && i < golden_len; i++) {
        if (got[i] != golden[i]) {
            fprintf(stderr, "  %s: byte %zu is 0x%02x, golden 0x%02x\n", what, i, got[i],
                    golden[i]);
            CHECK(0);
            return;
        }
    }
}

/* ---------- (a) a segmented chunk ---------- */

/* 40 readings every 7.5 minutes from 2025-01-01T00:00Z, with 1-hour segments: 8 readings per
 * hour, values (200 + (7 i) mod 23) / 10. */
#define SEG_COUNT 40
#define SEG_FIRST_MS INT64_C(1735689600000)
#define SEG_STEP_MS INT64_C(450000)
#define SEG_PERIOD_MS INT64_C(3600000)

static int seg_tenths(int i)
{
    return 200 + (7 * i) % 23;
}

static void seg_readings(int64_t *ms, double *values)
{
    for (int i = 0; i < SEG_COUNT; i++) {
        ms[i] = SEG_FIRST_MS + SEG_STEP_MS * i;
        values[i] = seg_tenths(i) / 10.0;
    }
}

static void test_segmented_chunk(void)
{
    size_t len = 0;
    uint8_t *golden = read_golden("chunk_segmented.bin", &len);
    if (golden == NULL)
        return;
    jl_error err;
    ck_summary s;
    CHECK_INT(ck_read_summary(golden, len, &s, &err), JL_OK);
    CHECK_INT(s.count, 40);
    CHECK_INT(s.first_ms, INT64_C(1735689600000));
    CHECK_INT(s.last_ms, INT64_C(1735707150000)); /* + 39 * 450000 */
    CHECK_DOUBLE_BITS(s.min, 20.0);
    CHECK_DOUBLE_BITS(s.max, 22.2);
    CHECK_DOUBLE_BITS(s.first_value, 20.0);
    CHECK_DOUBLE_BITS(s.last_value, 22.0); /* 7 * 39 = 273 = 11 * 23 + 20 */
    CHECK_INT(s.codec, CK_CODEC_DECIMAL);
    CHECK_INT(s.decimal_exponent, 1);
    CHECK_INT(s.segment_count, 5);
    CHECK_INT(s.segment_period_ms, 3600000);

    int64_t ms[SEG_COUNT], want_ms[SEG_COUNT];
    double values[SEG_COUNT], want_values[SEG_COUNT];
    seg_readings(want_ms, want_values);
    size_t got = 0;
    CHECK_INT(ck_decode(golden, len, ms, values, SEG_COUNT, &got, &err), JL_OK);
    CHECK_INT(got, SEG_COUNT);
    for (size_t i = 0; i < got; i++) {
        CHECK_INT(ms[i], want_ms[i]);
        CHECK_DOUBLE_BITS(values[i], want_values[i]);
    }

    /* Per hour, in tenths, worked out from the sequence 200 + (7 i) mod 23 (eight a period). */
    static const int sum_tenths[5] = {1681, 1692, 1680, 1691, 1702};
    static const int min_tenths[5] = {200, 201, 200, 203, 201};
    static const int max_tenths[5] = {221, 222, 220, 221, 222};
    ck_segment segments[8];
    size_t n = 0;
    CHECK_INT(ck_read_segments(golden, len, segments, 8, &n, &err), JL_OK);
    CHECK_INT(n, 5);
    for (size_t i = 0; i < n && i < 5; i++) {
        CHECK_INT(segments[i].start_ms, SEG_FIRST_MS + SEG_PERIOD_MS * (int64_t)i);
        CHECK_INT(segments[i].count, 8);
        CHECK_DOUBLE_BITS(segments[i].sum, sum_tenths[i] / 10.0);
        CHECK_DOUBLE_BITS(segments[i].min, min_tenths[i] / 10.0);
        CHECK_DOUBLE_BITS(segments[i].max, max_tenths[i] / 10.0);
    }

    jl_buf again;
    jl_buf_init(&again);
    CHECK_INT(ck_encode_segmented(want_ms, want_values, SEG_COUNT, SEG_PERIOD_MS, &again, &err),
              JL_OK);
    check_same_bytes("segmented chunk", (const uint8_t *)again.data, again.len, golden, len);
    jl_buf_destroy(&again);
    free(golden);
}

/* ---------- (a2) a segmented chunk with data flags ---------- */

/* The readings of (a) with HJ 212 flags: the second hour's first half (readings 8..11) M,
 * reading 20 D, reading 21 C, the last half hour (36..39) B, the rest N. */
static void flagged_flags(uint8_t *flags)
{
    memset(flags, JL_FLAG_N, SEG_COUNT);
    memset(flags + 8, JL_FLAG_M, 4);
    flags[20] = JL_FLAG_D;
    flags[21] = JL_FLAG_C;
    memset(flags + 36, JL_FLAG_B, 4);
}

static void test_flagged_chunk(void)
{
    size_t len = 0, plain_len = 0;
    uint8_t *golden = read_golden("chunk_flagged.bin", &len);
    uint8_t *plain = read_golden("chunk_segmented.bin", &plain_len);
    if (golden == NULL || plain == NULL) {
        free(golden);
        free(plain);
        return;
    }
    jl_error err;
    ck_summary s;
    CHECK_INT(ck_read_summary(golden, len, &s, &err), JL_OK);
    CHECK_INT(s.count, 40);
    CHECK_INT(s.first_ms, INT64_C(1735689600000));
    CHECK_INT(s.last_ms, INT64_C(1735707150000));
    CHECK_DOUBLE_BITS(s.min, 20.0);
    CHECK_DOUBLE_BITS(s.max, 22.2);
    CHECK_INT(s.segment_count, 5);
    CHECK_INT(s.flag_mask, (1u << JL_FLAG_N) | (1u << JL_FLAG_M) | (1u << JL_FLAG_D) |
                               (1u << JL_FLAG_C) | (1u << JL_FLAG_B));

    /* The flag byte of (a) plus the run bit (0x08); then the table's length, the
     * table of (a), and the runs: 4 runs; (8, 4, M), (8, 1, D), (0, 1, C), (14, 4, B). */
    CHECK_INT(golden[CK_OFF_FLAGS], plain[CK_OFF_FLAGS] | 0x08);
    size_t table = plain_len - CK_HEADER_SIZE - bytes_get_le32(plain + CK_OFF_STORED_LEN);
    static const uint8_t runs[13] = {0x04, 0x08, 0x04, 0x02, 0x08, 0x01, 0x04,
                                     0x00, 0x01, 0x05, 0x0e, 0x04, 0x07};
    CHECK_INT(len, plain_len + 1 + sizeof runs);
    CHECK_INT(golden[CK_HEADER_SIZE], table);
    CHECK(memcmp(golden + CK_HEADER_SIZE + 1, plain + CK_HEADER_SIZE, table) == 0);
    CHECK(memcmp(golden + CK_HEADER_SIZE + 1 + table, runs, sizeof runs) == 0);

    uint8_t flags[SEG_COUNT], want_flags[SEG_COUNT];
    static const char letters[SEG_COUNT + 1] = "NNNNNNNNMMMMNNNNNNNNDCNNNNNNNNNNNNNNBBBB";
    for (int i = 0; i < SEG_COUNT; i++)
        want_flags[i] = (uint8_t)jl_flag_from_letter(letters[i]);
    CHECK_INT(ck_read_flags(golden, len, flags, SEG_COUNT, &err), JL_OK);
    CHECK(memcmp(flags, want_flags, SEG_COUNT) == 0);

    int64_t ms[SEG_COUNT], want_ms[SEG_COUNT];
    double values[SEG_COUNT], want_values[SEG_COUNT];
    seg_readings(want_ms, want_values);
    size_t got = 0;
    CHECK_INT(ck_decode(golden, len, ms, values, SEG_COUNT, &got, &err), JL_OK);
    CHECK_INT(got, SEG_COUNT);
    for (size_t i = 0; i < got; i++) {
        CHECK_INT(ms[i], want_ms[i]);
        CHECK_DOUBLE_BITS(values[i], want_values[i]);
    }
    /* The segment table still covers every reading, flagged or not (as in (a)). */
    static const int sum_tenths[5] = {1681, 1692, 1680, 1691, 1702};
    ck_segment segments[8];
    size_t n = 0;
    CHECK_INT(ck_read_segments(golden, len, segments, 8, &n, &err), JL_OK);
    CHECK_INT(n, 5);
    for (size_t i = 0; i < n && i < 5; i++) {
        CHECK_INT(segments[i].count, 8);
        CHECK_DOUBLE_BITS(segments[i].sum, sum_tenths[i] / 10.0);
    }

    uint8_t gen_flags[SEG_COUNT];
    flagged_flags(gen_flags);
    CHECK(memcmp(gen_flags, want_flags, SEG_COUNT) == 0);
    jl_buf again;
    jl_buf_init(&again);
    CHECK_INT(
        ck_encode_flagged(want_ms, want_values, gen_flags, SEG_COUNT, SEG_PERIOD_MS, &again, &err),
        JL_OK);
    check_same_bytes("flagged chunk", (const uint8_t *)again.data, again.len, golden, len);
    jl_buf_destroy(&again);
    free(golden);
    free(plain);
}

/* ---------- (b) a format-1 write-log block ---------- */

/* The block of the last request of tests/golden/make_format1.c: series 3 (count{station=c}),
 * 5 readings an hour apart from 1700000000000 ms, values 0, 7, 14, 21, 28. */
static void test_log_block_v1(void)
{
    size_t len = 0;
    uint8_t *golden = read_golden("log_block_v1.bin", &len);
    if (golden == NULL)
        return;
    wl_readings r;
    memset(&r, 0, sizeof r);
    jl_error err;
    CHECK_INT(wl_decode(golden, len, &r, &err), JL_OK);
    CHECK_INT(r.count, 5);
    for (size_t i = 0; i < r.count; i++) {
        CHECK_INT(r.ids[i], 3);
        CHECK_INT(r.ms[i], INT64_C(1700000000000) + INT64_C(3600000) * (int64_t)i);
        CHECK_DOUBLE_BITS(r.values[i], 7.0 * (double)i);
    }
    wl_readings_destroy(&r);

    /* This build writes only format 2, so the block is rebuilt here from the layout in
     * disk_format.h: the records, LZ4 over them, then the header. */
    uint8_t raw[5 * WL_V1_RECORD_BYTES];
    for (int i = 0; i < 5; i++) {
        uint8_t *record = raw + i * WL_V1_RECORD_BYTES;
        double value = 7.0 * i;
        uint64_t bits;
        memcpy(&bits, &value, sizeof bits);
        for (int b = 0; b < 8; b++) {
            record[b] = (uint8_t)(UINT64_C(3) >> (8 * b));
            record[8 + b] =
                (uint8_t)((uint64_t)(INT64_C(1700000000000) + INT64_C(3600000) * i) >> (8 * b));
            record[16 + b] = (uint8_t)(bits >> (8 * b));
        }
    }
    uint8_t block[WL_V1_HEADER_BYTES + 256];
    int packed = LZ4_compress_default((const char *)raw, (char *)block + WL_V1_HEADER_BYTES,
                                      (int)sizeof raw, 256);
    CHECK(packed > 0);
    uint32_t header[4] = {WL_V1_MAGIC, 5, (uint32_t)packed,
                          ck_crc32c(0, block + WL_V1_HEADER_BYTES, (size_t)packed)};
    for (int f = 0; f < 4; f++)
        for (int b = 0; b < 4; b++)
            block[4 * f + b] = (uint8_t)(header[f] >> (8 * b));
    check_same_bytes("format-1 block", block, WL_V1_HEADER_BYTES + (size_t)packed, golden, len);
    free(golden);
}

/* ---------- (c) a format-2 write-log block ---------- */

/* Two series interleaved in one request: series 0 (id 1001) six decimal readings, series 1
 * (id 42) three readings of thirds, which no decimal exponent writes exactly (raw mode). */
#define V2_COUNT 9
static const uint32_t v2_series[V2_COUNT] = {0, 1, 0, 0, 1, 0, 0, 1, 0};
static const int64_t v2_ms[V2_COUNT] = {1700000000000, 1700000000500, 1700000010000,
                                        1700000020000, 1700000001500, 1700000030000,
                                        1700000045000, 1700000002500, 1700000060000};
static const double v2_values[V2_COUNT] = {21.5,       1.0 / 3.0, 21.75,      -0.25, 2.0 / 3.0,
                                           1234.56789, 0.0,       -4.0 / 3.0, 1e-7};
static const uint64_t v2_ids[2] = {1001, 42};

static void v2_batch(st_batch *batch)
{
    st_batch_init(batch);
    uint32_t index;
    CHECK_INT(st_batch_series(batch, "a{k=\"1\"}", 8, &index), JL_OK);
    CHECK_INT(index, 0);
    CHECK_INT(st_batch_series(batch, "b{k=\"2\"}", 8, &index), JL_OK);
    CHECK_INT(index, 1);
    for (int i = 0; i < V2_COUNT; i++)
        CHECK_INT(st_batch_point(batch, v2_series[i], v2_ms[i], v2_values[i]), JL_OK);
}

static void encode_v2(jl_buf *out)
{
    st_batch batch;
    v2_batch(&batch);
    jl_error err;
    CHECK_INT(wl_encode_format(&batch, 2, out, &err), JL_OK);
    wl_finish(out, v2_ids);
    st_batch_destroy(&batch);
}

static void test_log_block_v2(void)
{
    size_t len = 0;
    uint8_t *golden = read_golden("log_block_v2.bin", &len);
    if (golden == NULL)
        return;
    wl_readings r;
    memset(&r, 0, sizeof r);
    jl_error err;
    CHECK_INT(wl_decode(golden, len, &r, &err), JL_OK);
    CHECK_INT(r.count, 9);
    /* Grouped by series, each group in request order. */
    static const size_t order[V2_COUNT] = {0, 2, 3, 5, 6, 8, 1, 4, 7};
    for (size_t i = 0; i < r.count && i < V2_COUNT; i++) {
        CHECK_INT(r.ids[i], v2_ids[v2_series[order[i]]]);
        CHECK_INT(r.ms[i], v2_ms[order[i]]);
        CHECK_DOUBLE_BITS(r.values[i], v2_values[order[i]]);
    }
    wl_readings_destroy(&r);
    jl_buf again;
    jl_buf_init(&again);
    encode_v2(&again);
    check_same_bytes("format-2 block", (const uint8_t *)again.data, again.len, golden, len);
    jl_buf_destroy(&again);
    free(golden);
}

/* ---------- (c2) a format-3 write-log block ---------- */

/* Three series interleaved in one request with data flags: series 0 (id 7) five decimal
 * readings with a repeated timestamp and runs of M and B, series 1 (id 1001) a run of C at the
 * start, series 2 (id 65536) a raw value flagged D at the end. */
#define V3_COUNT 10
static const uint32_t v3_series[V3_COUNT] = {0, 1, 0, 0, 2, 1, 0, 2, 1, 0};
static const int64_t v3_ms[V3_COUNT] = {1700000000000, 1700000000000, 1700000060000, 1700000060000,
                                        1700000000000, 1700000060000, 1700000120000, 1700000060000,
                                        1700000120000, 1700000180000};
static const double v3_values[V3_COUNT] = {12.5, 0.125, 13.0,      13.5,  7.01,
                                           0.25, 12.75, 1.0 / 3.0, 0.375, -1.5};
static const uint8_t v3_flags[V3_COUNT] = {JL_FLAG_N, JL_FLAG_C, JL_FLAG_M, JL_FLAG_M, JL_FLAG_N,
                                           JL_FLAG_C, JL_FLAG_N, JL_FLAG_D, JL_FLAG_N, JL_FLAG_B};
static const uint64_t v3_ids[3] = {7, 1001, 65536};

static void encode_v3(jl_buf *out)
{
    st_batch batch;
    st_batch_init(&batch);
    uint32_t index;
    CHECK_INT(st_batch_series(&batch, "so2{s=\"1\"}", 10, &index), JL_OK);
    CHECK_INT(st_batch_series(&batch, "flow{s=\"1\"}", 11, &index), JL_OK);
    CHECK_INT(st_batch_series(&batch, "ph{s=\"1\"}", 9, &index), JL_OK);
    CHECK_INT(index, 2);
    for (int i = 0; i < V3_COUNT; i++)
        CHECK_INT(st_batch_point_flagged(&batch, v3_series[i], v3_ms[i], v3_values[i], v3_flags[i]),
                  JL_OK);
    jl_error err;
    CHECK_INT(wl_encode_format(&batch, 3, out, &err), JL_OK);
    wl_finish(out, v3_ids);
    st_batch_destroy(&batch);
}

/* The format-3 golden block decodes to its readings and flags and is what format 3 writes;
 * the format-1 and format-2 golden blocks, which kept no flags, decode as all N. */
static void test_log_block_v3(void)
{
    size_t len = 0;
    uint8_t *golden = read_golden("log_block_v3.bin", &len);
    if (golden == NULL)
        return;
    wl_readings r;
    memset(&r, 0, sizeof r);
    jl_error err;
    CHECK_INT(wl_decode(golden, len, &r, &err), JL_OK);
    CHECK_INT(r.count, V3_COUNT);
    /* Grouped by series, each group in request order; flags N M M N B, C C N, N D. */
    static const size_t order[V3_COUNT] = {0, 2, 3, 6, 9, 1, 5, 8, 4, 7};
    static const uint8_t flags[V3_COUNT] = {0, 2, 2, 0, 7, 5, 5, 0, 0, 4};
    for (size_t i = 0; i < r.count && i < V3_COUNT; i++) {
        CHECK_INT(r.ids[i], v3_ids[v3_series[order[i]]]);
        CHECK_INT(r.ms[i], v3_ms[order[i]]);
        CHECK_DOUBLE_BITS(r.values[i], v3_values[order[i]]);
        CHECK_INT(r.flags[i], flags[i]);
    }
    jl_buf again;
    jl_buf_init(&again);
    encode_v3(&again);
    check_same_bytes("format-3 block", (const uint8_t *)again.data, again.len, golden, len);
    jl_buf_destroy(&again);
    free(golden);

    static const char *const older[2] = {"log_block_v1.bin", "log_block_v2.bin"};
    static const size_t older_count[2] = {5, V2_COUNT};
    for (int f = 0; f < 2; f++) {
        golden = read_golden(older[f], &len);
        if (golden == NULL)
            continue;
        CHECK_INT(wl_decode(golden, len, &r, &err), JL_OK);
        CHECK_INT(r.count, older_count[f]);
        for (size_t i = 0; i < r.count; i++)
            CHECK_INT(r.flags[i], JL_FLAG_N);
        free(golden);
    }
    wl_readings_destroy(&r);
}

/* ---------- (c2b) a format-4 write-log block ---------- */

/* The readings and flags of the format-3 block under ids 41, 42 and 1000: the first two one run,
 * the third a run of its own. The id table, worked by hand from disk_format.h section 3:
 * zigzag(41 - 0) = 82 = 0x52 and length - 1 = 1; zigzag(1000 - 43) = 1914 = varint FA 0E and
 * length - 1 = 0. */
static const uint64_t v4_ids[3] = {41, 42, 1000};
static const uint8_t v4_table[5] = {0x52, 0x01, 0xFA, 0x0E, 0x00};

static void encode_v4(jl_buf *out)
{
    st_batch batch;
    st_batch_init(&batch);
    uint32_t index;
    CHECK_INT(st_batch_series(&batch, "so2{s=\"1\"}", 10, &index), JL_OK);
    CHECK_INT(st_batch_series(&batch, "flow{s=\"1\"}", 11, &index), JL_OK);
    CHECK_INT(st_batch_series(&batch, "ph{s=\"1\"}", 9, &index), JL_OK);
    for (int i = 0; i < V3_COUNT; i++)
        CHECK_INT(st_batch_point_flagged(&batch, v3_series[i], v3_ms[i], v3_values[i], v3_flags[i]),
                  JL_OK);
    jl_error err;
    CHECK_INT(wl_encode(&batch, out, &err), JL_OK);
    wl_finish(out, v4_ids);
    st_batch_destroy(&batch);
}

/* The format-4 golden block has the hand-worked id table, decodes to the format-3 block's
 * readings and flags under its ids, and is what this build writes. */
static void test_log_block_v4(void)
{
    size_t len = 0;
    uint8_t *golden = read_golden("log_block_v4.bin", &len);
    if (golden == NULL)
        return;
    CHECK_INT(bytes_get_le32(golden), 0x34474c4au); /* "JLG4" */
    CHECK(len > WL_HEADER_BYTES + sizeof v4_table);
    CHECK(memcmp(golden + WL_HEADER_BYTES, v4_table, sizeof v4_table) == 0);
    /* The table is what the stored payload leaves: exactly those 5 bytes. */
    CHECK_INT(bytes_get_le32(golden + WL_OFF_STORED_LEN), len - WL_HEADER_BYTES - sizeof v4_table);
    wl_readings r;
    memset(&r, 0, sizeof r);
    jl_error err;
    CHECK_INT(wl_decode(golden, len, &r, &err), JL_OK);
    CHECK_INT(r.count, V3_COUNT);
    static const size_t order[V3_COUNT] = {0, 2, 3, 6, 9, 1, 5, 8, 4, 7};
    static const uint8_t flags[V3_COUNT] = {0, 2, 2, 0, 7, 5, 5, 0, 0, 4};
    for (size_t i = 0; i < r.count && i < V3_COUNT; i++) {
        CHECK_INT(r.ids[i], v4_ids[v3_series[order[i]]]);
        CHECK_INT(r.ms[i], v3_ms[order[i]]);
        CHECK_DOUBLE_BITS(r.values[i], v3_values[order[i]]);
        CHECK_INT(r.flags[i], flags[i]);
    }
    wl_readings_destroy(&r);
    jl_buf again;
    jl_buf_init(&again);
    encode_v4(&again);
    check_same_bytes("format-4 block", (const uint8_t *)again.data, again.len, golden, len);
    jl_buf_destroy(&again);
    free(golden);
}

/* ---------- (c3) a sealed series-state record ---------- */

/* The record of tests/golden/series_state_v1.bin, written by a Python script from the layout of
 * disk_format.h section 4 (not by this build): three chunks of 12,345 bytes holding 30,000
 * readings from 2025-01-01T00:00Z to 2025-01-02T00:00Z, the last 21.5 flagged M, the last
 * chunk 10,000 readings in 4,080 bytes from 2025-01-01T16:00Z. */
static series_record golden_record(void)
{
    series_record r;
    memset(&r, 0, sizeof r);
    r.last_flag = JL_FLAG_M;
    r.chunks = 3;
    r.chunk_bytes = 12345;
    r.sealed_count = 30000;
    r.first_ms = INT64_C(1735689600000);
    r.last_ms = INT64_C(1735776000000);
    r.last_value = 21.5;
    r.last_chunk_count = 10000;
    r.last_chunk_bytes = 4080;
    r.last_chunk_first_ms = INT64_C(1735747200000);
    return r;
}

static void test_series_state_record(void)
{
    size_t len = 0;
    uint8_t *golden = read_golden("series_state_v1.bin", &len);
    if (golden == NULL)
        return;
    CHECK_INT(len, SERIES_STATE_VALUE_BYTES);
    CHECK_INT(len, 70);
    /* A few bytes written out: version, flag, the chunk count's low byte, the checksum. */
    CHECK_INT(golden[0], 1);
    CHECK_INT(golden[1], 2);
    CHECK_INT(golden[2], 3);
    CHECK_INT(golden[66], 0x0c);
    CHECK_INT(golden[69], 0x51);
    series_record want = golden_record(), got;
    jl_error err;
    CHECK_INT(series_state_decode(golden, len, &got, &err), JL_OK);
    CHECK_INT(got.last_flag, want.last_flag);
    CHECK_INT(got.chunks, want.chunks);
    CHECK_INT(got.chunk_bytes, want.chunk_bytes);
    CHECK_INT(got.sealed_count, want.sealed_count);
    CHECK_INT(got.first_ms, want.first_ms);
    CHECK_INT(got.last_ms, want.last_ms);
    CHECK_DOUBLE_BITS(got.last_value, want.last_value);
    CHECK_INT(got.last_chunk_count, want.last_chunk_count);
    CHECK_INT(got.last_chunk_bytes, want.last_chunk_bytes);
    CHECK_INT(got.last_chunk_first_ms, want.last_chunk_first_ms);
    uint8_t again[SERIES_STATE_VALUE_BYTES];
    series_state_encode(&want, again);
    check_same_bytes("series state", again, sizeof again, golden, len);
    /* Any changed byte is refused: the checksum, or the version before it. */
    for (size_t i = 0; i < len; i++) {
        golden[i] ^= 0x01;
        CHECK_INT(series_state_decode(golden, len, &got, NULL), JL_ECORRUPT);
        golden[i] ^= 0x01;
    }
    free(golden);
}

/* The empty record of a series without chunks: read as chunks 0, written byte for byte by the
 * encoder from an all-zero record; any changed byte is refused, and so is a record with chunks
 * 0 and another field set under a valid checksum. */
static void test_series_state_empty_record(void)
{
    size_t len = 0;
    uint8_t *golden = read_golden("series_state_empty_v1.bin", &len);
    if (golden == NULL)
        return;
    CHECK_INT(len, 70);
    CHECK_INT(golden[0], 1);
    CHECK_INT(golden[66], 0xa6);
    CHECK_INT(golden[69], 0xeb);
    series_record empty, got;
    memset(&empty, 0, sizeof empty);
    memset(&got, 0xff, sizeof got);
    jl_error err;
    CHECK_INT(series_state_decode(golden, len, &got, &err), JL_OK);
    CHECK_INT(got.chunks, 0);
    CHECK_INT(got.sealed_count, 0);
    CHECK_INT(got.last_chunk_count, 0);
    uint8_t again[SERIES_STATE_VALUE_BYTES];
    series_state_encode(&empty, again);
    check_same_bytes("empty series state", again, sizeof again, golden, len);
    for (size_t i = 0; i < len; i++) {
        golden[i] ^= 0x01;
        CHECK_INT(series_state_decode(golden, len, &got, NULL), JL_ECORRUPT);
        golden[i] ^= 0x01;
    }
    series_record odd = empty;
    odd.sealed_count = 7;
    series_state_encode(&odd, again);
    CHECK_INT(series_state_decode(again, sizeof again, &got, NULL), JL_ECORRUPT);
    odd = empty;
    odd.last_flag = JL_FLAG_M;
    series_state_encode(&odd, again);
    CHECK_INT(series_state_decode(again, sizeof again, &got, NULL), JL_ECORRUPT);
    free(golden);
}

/* ---------- (d) a format-1 data directory ---------- */

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int ok = in != NULL && out != NULL;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = 0;
    return ok;
}

static uint32_t stored_format(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {6, "format"}, v = {0, NULL};
    uint32_t version = 0;
    CHECK_INT(mdb_env_create(&env), 0);
    CHECK_INT(mdb_env_set_maxdbs(env, 16), 0);
    CHECK_INT(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    CHECK_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    CHECK_INT(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 4) {
        const uint8_t *p = v.mv_data;
        version =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return version;
}

/* Every reading of metric{station=...} in time order; returns how many (capacity at most). */
static size_t read_series(st_store *store, const char *metric, const char *station, int64_t *ms,
                          double *values, size_t capacity)
{
    st_matcher matchers[2] = {{"__name__", metric, 0}, {"station", station, 0}};
    uint64_t *ids = NULL;
    size_t count = 0, n = 0;
    jl_error err;
    CHECK_INT(st_select(store, matchers, 2, 0, &ids, &count, &err), JL_OK);
    CHECK_INT(count, 1);
    if (count != 1) {
        free(ids);
        return 0;
    }
    st_snapshot *snapshot = NULL;
    st_cursor *cursor = NULL;
    CHECK_INT(st_snapshot_open(store, ids, 1, &snapshot, &err), JL_OK);
    free(ids);
    CHECK_INT(st_cursor_open(snapshot, 0, INT64_MIN, INT64_MAX, &cursor, &err), JL_OK);
    st_block block;
    int rc;
    while ((rc = st_cursor_next(cursor, &block, &err)) == JL_OK) {
        CHECK_INT(st_cursor_decode(cursor, &block, &err), JL_OK);
        for (size_t i = 0; i < block.count && n < capacity; i++, n++) {
            ms[n] = block.timestamps_ms[i];
            values[n] = block.values[i];
        }
    }
    CHECK_INT(rc, JL_ENOTFOUND);
    st_cursor_close(cursor);
    st_snapshot_close(snapshot);
    return n;
}

/* The readings of tests/golden/make_format1.c, every one of them. */
static void check_format1_readings(st_store *store)
{
    int64_t ms[300];
    double values[300];
    size_t n = read_series(store, "temp", "a", ms, values, 300);
    CHECK_INT(n, 250);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(ms[i], INT64_C(1700000000000) + INT64_C(60000) * (int64_t)i);
        CHECK_DOUBLE_BITS(values[i], (double)(i % 40) * 0.25 - 3);
    }
    n = read_series(store, "pressure", "b", ms, values, 300);
    CHECK_INT(n, 37);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(ms[i], INT64_C(1700000000000) + INT64_C(1000) * (int64_t)(i * i));
        CHECK_DOUBLE_BITS(values[i], 1013.25 + (double)i / 3.0);
    }
    n = read_series(store, "count", "c", ms, values, 300);
    CHECK_INT(n, 5);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(ms[i], INT64_C(1700000000000) + INT64_C(3600000) * (int64_t)i);
        CHECK_DOUBLE_BITS(values[i], 7.0 * (double)i);
    }
    /* Spot checks written out in full. */
    n = read_series(store, "temp", "a", ms, values, 300);
    CHECK_INT(ms[249], INT64_C(1700014940000));
    CHECK_DOUBLE_BITS(values[249], -0.75); /* 249 % 40 = 9: 9 * 0.25 - 3 */
}

/* After the upgrade, a record per series, in id order (the walk writes them all): the two
 * series without chunks (ids 2 and 3) have the empty record, and temp{station=a} (id 1), the
 * only series with chunks, has: all 250
 * readings sealed (chunk_target 100 seals the 250-reading tail whole, split at chunk_max 200 into
 * two chunks of 125: the count field of both chunk headers in the golden file is 0x7d), the last
 * reading i = 249 (249 % 40 = 9: 9 * 0.25 - 3), the last chunk from i = 125. */
static void check_format1_state(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK_INT(mdb_env_create(&env), 0);
    CHECK_INT(mdb_env_set_maxdbs(env, 16), 0);
    CHECK_INT(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    CHECK_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    CHECK_INT(mdb_dbi_open(txn, "series_state", 0, &dbi), 0);
    MDB_stat stat;
    CHECK_INT(mdb_stat(txn, dbi, &stat), 0);
    CHECK_INT(stat.ms_entries, 3);
    uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    MDB_val k = {8, key}, v = {0, NULL};
    series_record r;
    memset(&r, 0, sizeof r);
    jl_error err;
    for (uint8_t id = 2; id <= 3; id++) {
        key[7] = id;
        CHECK_INT(mdb_get(txn, dbi, &k, &v), 0);
        CHECK_INT(v.mv_size, 70);
        CHECK_INT(series_state_decode(v.mv_data, v.mv_size, &r, &err), JL_OK);
        CHECK_INT(r.chunks, 0);
        CHECK_INT(r.sealed_count, 0);
    }
    key[7] = 1;
    CHECK_INT(mdb_get(txn, dbi, &k, &v), 0);
    CHECK_INT(series_state_decode(v.mv_data, v.mv_size, &r, &err), JL_OK);
    CHECK_INT(r.chunks, 2);
    CHECK_INT(r.sealed_count, 250);
    CHECK_INT(r.first_ms, INT64_C(1700000000000));
    CHECK_INT(r.last_ms, INT64_C(1700014940000)); /* + 249 * 60000 */
    CHECK_DOUBLE_BITS(r.last_value, -0.75);
    CHECK_INT(r.last_flag, JL_FLAG_N);
    CHECK_INT(r.last_chunk_count, 125);
    CHECK_INT(r.last_chunk_first_ms, INT64_C(1700007500000)); /* + 125 * 60000 */
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

static void test_format1_directory(void)
{
    char *dir = make_temp_dir_named("golden");
    char path[512];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    CHECK(copy_file(GOLDEN_DIR "format1/data.mdb", path));
    CHECK_INT(stored_format(dir), 1);

    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.read_only = 1;
    st_store *store = NULL;
    jl_error err;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    if (store != NULL) {
        check_format1_readings(store);
        st_store_close(store);
    }
    CHECK_INT(stored_format(dir), 1); /* reading leaves the directory as it was */

    /* Opened for writing, it is marked with this build's format and keeps every reading. */
    options.read_only = 0;
    options.initial_map_bytes = 1 << 20;
    store = NULL;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    if (store != NULL) {
        check_format1_readings(store);
        st_store_close(store);
    }
    CHECK_INT(stored_format(dir), 6);
    check_format1_state(dir);
    remove_dir(dir);
}

/* ---------- (e) a format-4 data directory ---------- */

/* The readings of tests/golden/make_format4.c (T0 = 1700000000000). */
static void check_format4_readings(st_store *store)
{
    int64_t ms[400];
    double values[400];
    size_t n = read_series(store, "temp", "a", ms, values, 400);
    CHECK_INT(n, 340);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(ms[i], INT64_C(1700000000000) + INT64_C(60000) * (int64_t)i);
        CHECK_DOUBLE_BITS(values[i], i == 10 ? 99.5 : (double)(i % 50) * 0.5 - 5);
    }
    n = read_series(store, "pressure", "b", ms, values, 400);
    CHECK_INT(n, 120);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(ms[i], INT64_C(1700000000000) + INT64_C(1000) * (int64_t)i);
        CHECK_DOUBLE_BITS(values[i], 1000.0 + (double)i);
    }
    n = read_series(store, "count", "c", ms, values, 400);
    CHECK_INT(n, 5);
    for (size_t i = 0; i < n; i++)
        CHECK_DOUBLE_BITS(values[i], 7.0 * (double)i);
}

/* Reads the record of series id from a closed directory; 0 when it has none. */
static int read_state_record(const char *dir, uint64_t id, series_record *r, size_t *entries)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    CHECK_INT(mdb_env_create(&env), 0);
    CHECK_INT(mdb_env_set_maxdbs(env, 16), 0);
    CHECK_INT(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    CHECK_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    int found = 0;
    *entries = 0;
    if (mdb_dbi_open(txn, "series_state", 0, &dbi) == 0) {
        MDB_stat stat;
        CHECK_INT(mdb_stat(txn, dbi, &stat), 0);
        *entries = stat.ms_entries;
        uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, (uint8_t)id};
        MDB_val k = {8, key}, v = {0, NULL};
        jl_error err;
        if (mdb_get(txn, dbi, &k, &v) == 0) {
            CHECK_INT(series_state_decode(v.mv_data, v.mv_size, r, &err), JL_OK);
            found = 1;
        }
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return found;
}

/* Read-only, a format-4 directory opens by walking its chunks and is left as it was (no
 * records); for writing it is walked once, marked 5 and given a record per series with chunks:
 * temp{station=a} (id 1): chunks of i = 0..149 and 150..299 (the re-sent i = 10 merged into the
 * first), last sealed i = 299, 49 * 0.5 - 5 = 19.5, N; pressure{station=b} (id 2): one chunk of
 * 120, the last 1119 flagged D; count{station=c} (id 3) has only log readings and the empty
 * record. */
static void test_format4_directory(void)
{
    char *dir = make_temp_dir_named("golden");
    char path[512];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    CHECK(copy_file(GOLDEN_DIR "format4/data.mdb", path));
    CHECK_INT(stored_format(dir), 4);
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.read_only = 1;
    st_store *store = NULL;
    jl_error err;
    series_record r;
    size_t entries = 0;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    if (store != NULL) {
        check_format4_readings(store);
        st_store_close(store);
    }
    CHECK_INT(stored_format(dir), 4);
    CHECK_INT(read_state_record(dir, 1, &r, &entries), 0);
    CHECK_INT(entries, 0);

    options.read_only = 0;
    options.initial_map_bytes = 1 << 20;
    for (int open = 0; open < 2; open++) { /* the upgrade, then an open from the records */
        store = NULL;
        CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
        if (store != NULL) {
            check_format4_readings(store);
            st_store_close(store);
        }
        CHECK_INT(stored_format(dir), 6);
        memset(&r, 0, sizeof r);
        CHECK_INT(read_state_record(dir, 1, &r, &entries), 1);
        CHECK_INT(entries, 3);
        CHECK_INT(r.chunks, 2);
        CHECK_INT(r.sealed_count, 300);
        CHECK_INT(r.first_ms, INT64_C(1700000000000));
        CHECK_INT(r.last_ms, INT64_C(1700017940000)); /* + 299 * 60000 */
        CHECK_DOUBLE_BITS(r.last_value, 19.5);
        CHECK_INT(r.last_flag, JL_FLAG_N);
        CHECK_INT(r.last_chunk_count, 150);
        CHECK_INT(r.last_chunk_first_ms, INT64_C(1700009000000)); /* + 150 * 60000 */
        memset(&r, 0, sizeof r);
        CHECK_INT(read_state_record(dir, 2, &r, &entries), 1);
        CHECK_INT(r.chunks, 1);
        CHECK_INT(r.sealed_count, 120);
        CHECK_INT(r.first_ms, INT64_C(1700000000000));
        CHECK_INT(r.last_ms, INT64_C(1700000119000));
        CHECK_DOUBLE_BITS(r.last_value, 1119.0);
        CHECK_INT(r.last_flag, JL_FLAG_D);
        CHECK_INT(r.last_chunk_count, 120);
        CHECK_INT(r.last_chunk_first_ms, INT64_C(1700000000000));
        memset(&r, 0xff, sizeof r);
        CHECK_INT(read_state_record(dir, 3, &r, &entries), 1); /* the empty record */
        CHECK_INT(r.chunks, 0);
        CHECK_INT(r.chunk_bytes, 0);
        CHECK_INT(r.sealed_count, 0);
        CHECK_INT(r.last_chunk_count, 0);
    }
    remove_dir(dir);
}

/* ---------- (f) a format-5 data directory ---------- */

/* tests/golden/format5/data.mdb: the readings of make_format4.c written by the store of commit
 * 6f28d8b (format 5: "series_state" records, write-log blocks of format 3). Read-only it reads
 * as written and stays 5; opened for writing it is marked 6, its records are the ones it had,
 * byte for byte, and its format-3 log blocks still give the unsealed readings. */
static uint8_t *state_value(const char *dir, uint64_t id, size_t *len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t key[8];
    for (int b = 0; b < 8; b++)
        key[b] = (uint8_t)(id >> (56 - 8 * b));
    MDB_val k = {8, key}, v = {0, NULL};
    uint8_t *copy = NULL;
    *len = 0;
    CHECK_INT(mdb_env_create(&env), 0);
    CHECK_INT(mdb_env_set_maxdbs(env, 16), 0);
    CHECK_INT(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    CHECK_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    CHECK_INT(mdb_dbi_open(txn, "series_state", 0, &dbi), 0);
    if (mdb_get(txn, dbi, &k, &v) == 0 && (copy = malloc(v.mv_size)) != NULL) {
        memcpy(copy, v.mv_data, v.mv_size);
        *len = v.mv_size;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return copy;
}

static void test_format5_directory(void)
{
    char *dir = make_temp_dir_named("golden");
    char path[512];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    CHECK(copy_file(GOLDEN_DIR "format5/data.mdb", path));
    CHECK_INT(stored_format(dir), 5);
    size_t before_len = 0, after_len = 0;
    uint8_t *before = state_value(dir, 1, &before_len);
    CHECK(before != NULL);
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.read_only = 1;
    st_store *store = NULL;
    jl_error err;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    if (store != NULL) {
        check_format4_readings(store);
        st_store_close(store);
    }
    CHECK_INT(stored_format(dir), 5);
    options.read_only = 0;
    options.initial_map_bytes = 1 << 20;
    store = NULL;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    if (store != NULL) {
        check_format4_readings(store);
        st_store_close(store);
    }
    CHECK_INT(stored_format(dir), 6);
    uint8_t *after = state_value(dir, 1, &after_len);
    CHECK(after != NULL && after_len == before_len && memcmp(after, before, before_len) == 0);
    free(before);
    free(after);
    remove_dir(dir);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--write") == 0) {
        int64_t ms[SEG_COUNT];
        double values[SEG_COUNT];
        seg_readings(ms, values);
        jl_buf buf;
        jl_buf_init(&buf);
        jl_error err;
        CHECK_INT(ck_encode_segmented(ms, values, SEG_COUNT, SEG_PERIOD_MS, &buf, &err), JL_OK);
        write_golden("chunk_segmented.bin", buf.data, buf.len);
        uint8_t flags[SEG_COUNT];
        flagged_flags(flags);
        buf.len = 0;
        CHECK_INT(ck_encode_flagged(ms, values, flags, SEG_COUNT, SEG_PERIOD_MS, &buf, &err),
                  JL_OK);
        write_golden("chunk_flagged.bin", buf.data, buf.len);
        encode_v2(&buf);
        write_golden("log_block_v2.bin", buf.data, buf.len);
        encode_v4(&buf);
        write_golden("log_block_v4.bin", buf.data, buf.len);
        jl_buf_destroy(&buf);
        return check_failed_in_test;
    }
    RUN(test_segmented_chunk);
    RUN(test_flagged_chunk);
    RUN(test_log_block_v1);
    RUN(test_log_block_v2);
    RUN(test_log_block_v3);
    RUN(test_log_block_v4);
    RUN(test_series_state_record);
    RUN(test_series_state_empty_record);
    RUN(test_format1_directory);
    RUN(test_format4_directory);
    RUN(test_format5_directory);
    return CHECK_DONE();
}
