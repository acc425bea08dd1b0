/* Tests of the chunk codec's data flags (storage/chunk_encode.c, chunk_decode.c; "Flag runs" in
 * storage/disk_format.h): round trips of flag patterns, the exact bytes a few runs cost, all-N
 * chunks identical to unflagged ones, and refusal of crafted run sections. Expected flags and
 * masks are computed here from the input, expected bytes written out by hand. */
#include "chunk_testing.h"

#define MAX_N 4096

static int64_t g_ts[MAX_N];
static double g_vs[MAX_N];
static uint8_t g_flags[MAX_N];

/* Readings every second from 2025-01-01T00:00Z, values in tenths with some spread. */
static void fill_readings(size_t n)
{
    fill_cadence(g_ts, n, INT64_C(1735689600000), 1000);
    for (size_t i = 0; i < n; i++)
        g_vs[i] = (double)(200 + (int)((i * 37) % 101)) / 10.0;
}

static jl_flag_mask mask_of(const uint8_t *flags, size_t n)
{
    jl_flag_mask m = 0;
    for (size_t i = 0; i < n; i++)
        m |= (jl_flag_mask)(1u << (flags ? flags[i] : 0));
    return m;
}

/* Encodes with flags (and a 1-minute segment period), then checks: flags and mask read back,
 * readings decode, summary and segment table are those of the same readings without flags,
 * and the payload bytes are the unflagged chunk's. */
static void check_flags_roundtrip(const uint8_t *flags, size_t n, int64_t period)
{
    jl_buf buf, plain;
    jl_buf_init(&buf);
    jl_buf_init(&plain);
    jl_error err;
    CHECK_INT(ck_encode_flagged(g_ts, g_vs, flags, n, period, &buf, &err), JL_OK);
    CHECK_INT(ck_encode_segmented(g_ts, g_vs, n, period, &plain, &err), JL_OK);
    const uint8_t *p = (const uint8_t *)buf.data, *q = (const uint8_t *)plain.data;
    ck_summary s, want;
    CHECK_INT(ck_read_summary(buf.data, buf.len, &s, &err), JL_OK);
    CHECK_INT(ck_read_summary(plain.data, plain.len, &want, &err), JL_OK);
    check_summary_equal(&s, &want);
    CHECK_INT(s.segment_count, want.segment_count);
    CHECK_INT(s.flag_mask, mask_of(flags, n));
    int any = mask_of(flags, n) != JL_FLAG_MASK_N;
    CHECK_INT((p[CK_OFF_FLAGS] & CK_FLAG_FLAG_RUNS) != 0, any);
    CHECK_INT(p[CK_OFF_FLAGS] & ~CK_FLAG_FLAG_RUNS, q[CK_OFF_FLAGS]);
    /* Payload unchanged. */
    uint32_t stored = rd_u32(p + CK_OFF_STORED_LEN);
    CHECK_INT(stored, rd_u32(q + CK_OFF_STORED_LEN));
    CHECK(memcmp(p + buf.len - stored, q + plain.len - stored, stored) == 0);

    static uint8_t got_flags[MAX_N];
    memset(got_flags, 0xee, sizeof got_flags);
    CHECK_INT(ck_read_flags(buf.data, buf.len, got_flags, n, &err), JL_OK);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += got_flags[i] != (flags ? flags[i] : JL_FLAG_N);
    CHECK_INT(bad, 0);
    CHECK_INT(got_flags[n], 0xee); /* nothing past the count */
    if (n > 1)
        CHECK_INT(ck_read_flags(buf.data, buf.len, got_flags, n - 1, &err), JL_ELIMIT);

    static int64_t ts_out[MAX_N];
    static double vs_out[MAX_N];
    size_t got = 0;
    CHECK_INT(ck_decode(buf.data, buf.len, ts_out, vs_out, n, &got, &err), JL_OK);
    CHECK_INT(got, n);
    bad = 0;
    for (size_t i = 0; i < got; i++)
        bad += ts_out[i] != g_ts[i] || !bits_equal(vs_out[i], g_vs[i]);
    CHECK_INT(bad, 0);

    static ck_segment a[CK_MAX_SEGMENTS], b[CK_MAX_SEGMENTS];
    size_t na = 0, nb = 0;
    CHECK_INT(ck_read_segments(buf.data, buf.len, a, CK_MAX_SEGMENTS, &na, &err), JL_OK);
    CHECK_INT(ck_read_segments(plain.data, plain.len, b, CK_MAX_SEGMENTS, &nb, &err), JL_OK);
    CHECK_INT(na, nb);
    for (size_t i = 0; i < na && i < nb; i++) {
        CHECK_INT(a[i].start_ms, b[i].start_ms);
        CHECK_INT(a[i].count, b[i].count);
        CHECK_DOUBLE_BITS(a[i].min, b[i].min);
        CHECK_DOUBLE_BITS(a[i].max, b[i].max);
        CHECK_DOUBLE_BITS(a[i].sum, b[i].sum);
    }
    jl_buf_destroy(&buf);
    jl_buf_destroy(&plain);
}

static void check_both_periods(const uint8_t *flags, size_t n)
{
    check_flags_roundtrip(flags, n, 0);     /* no table: runs right after the header */
    check_flags_roundtrip(flags, n, 60000); /* a table, then the runs */
}

static void test_roundtrip_patterns(void)
{
    const size_t n = 300;
    fill_readings(n);
    check_both_periods(NULL, n);
    memset(g_flags, JL_FLAG_N, n);
    check_both_periods(g_flags, n);
    /* One run at the start, in the middle, at the end. */
    memset(g_flags, JL_FLAG_N, n);
    memset(g_flags, JL_FLAG_M, 5);
    check_both_periods(g_flags, n);
    memset(g_flags, JL_FLAG_N, n);
    memset(g_flags + 140, JL_FLAG_C, 20);
    check_both_periods(g_flags, n);
    memset(g_flags, JL_FLAG_N, n);
    memset(g_flags + n - 1, JL_FLAG_B, 1);
    check_both_periods(g_flags, n);
    /* Alternating N and F, then F and M with no N at all. */
    for (size_t i = 0; i < n; i++)
        g_flags[i] = i % 2 ? JL_FLAG_F : JL_FLAG_N;
    check_both_periods(g_flags, n);
    for (size_t i = 0; i < n; i++)
        g_flags[i] = i % 2 ? JL_FLAG_F : JL_FLAG_M;
    check_both_periods(g_flags, n);
    /* All one code, and every code in turn (each reading its own run). */
    memset(g_flags, JL_FLAG_D, n);
    check_both_periods(g_flags, n);
    for (size_t i = 0; i < n; i++)
        g_flags[i] = (uint8_t)(i % JL_FLAG_COUNT);
    check_both_periods(g_flags, n);
    /* Many random runs, seed printed. */
    rng_state = 20261203;
    printf("  seed %d\n", 20261203);
    for (int round = 0; round < 20; round++) {
        size_t m = 1 + rng_next() % MAX_N;
        fill_readings(m);
        uint8_t code = 0;
        for (size_t i = 0; i < m; i++) {
            if (rng_next() % 16 == 0)
                code = (uint8_t)(rng_next() % 4 == 0 ? rng_next() % JL_FLAG_COUNT : 0);
            g_flags[i] = code;
        }
        check_both_periods(g_flags, m);
    }
    /* A single reading, flagged. */
    fill_readings(1);
    g_flags[0] = JL_FLAG_T;
    check_flags_roundtrip(g_flags, 1, 0);
}

/* 10 readings with readings 3 and 4 flagged M: runs 01 03 02 02 after the header, four bytes;
 * with a table, one more for its length prefix. */
static void test_exact_cost(void)
{
    jl_buf plain, flagged;
    jl_buf_init(&plain);
    jl_buf_init(&flagged);
    jl_error err;
    fill_readings(10);
    memset(g_flags, JL_FLAG_N, 10);
    g_flags[3] = g_flags[4] = JL_FLAG_M;
    CHECK_INT(ck_encode_segmented(g_ts, g_vs, 10, 0, &plain, &err), JL_OK);
    CHECK_INT(ck_encode_flagged(g_ts, g_vs, g_flags, 10, 0, &flagged, &err), JL_OK);
    const uint8_t *p = (const uint8_t *)plain.data, *f = (const uint8_t *)flagged.data;
    CHECK_INT(flagged.len, plain.len + 4);
    static const uint8_t runs[4] = {0x01, 0x03, 0x02, 0x02};
    CHECK(memcmp(f + CK_HEADER_SIZE, runs, 4) == 0);
    CHECK_INT(f[CK_OFF_FLAGS], p[CK_OFF_FLAGS] | 0x08);
    CHECK(memcmp(f, p, CK_OFF_FLAGS) == 0);
    CHECK(memcmp(f + CK_OFF_FLAGS + 1, p + CK_OFF_FLAGS + 1, CK_OFF_HEADER_CRC - 7) == 0);
    CHECK(memcmp(f + CK_HEADER_SIZE + 4, p + CK_HEADER_SIZE, plain.len - CK_HEADER_SIZE) == 0);
    CHECK_INT(rd_u32(f + CK_OFF_HEADER_CRC),
              ck_crc32c(ck_crc32c(0, f, CK_OFF_HEADER_CRC), runs, 4));

    /* 200 readings, 150 and 151 flagged B: the gap 150 takes two varint bytes (0x96 0x01). */
    plain.len = flagged.len = 0;
    fill_readings(200);
    memset(g_flags, JL_FLAG_N, 200);
    g_flags[150] = g_flags[151] = JL_FLAG_B;
    CHECK_INT(ck_encode_segmented(g_ts, g_vs, 200, 0, &plain, &err), JL_OK);
    CHECK_INT(ck_encode_flagged(g_ts, g_vs, g_flags, 200, 0, &flagged, &err), JL_OK);
    static const uint8_t runs2[5] = {0x01, 0x96, 0x01, 0x02, 0x07};
    CHECK_INT(flagged.len, plain.len + 5);
    CHECK(memcmp((const uint8_t *)flagged.data + CK_HEADER_SIZE, runs2, 5) == 0);

    /* With a segment table (200 s over 1-minute periods: 4 of them): prefix, table, runs. */
    plain.len = flagged.len = 0;
    CHECK_INT(ck_encode_segmented(g_ts, g_vs, 200, 60000, &plain, &err), JL_OK);
    CHECK_INT(ck_encode_flagged(g_ts, g_vs, g_flags, 200, 60000, &flagged, &err), JL_OK);
    p = (const uint8_t *)plain.data;
    f = (const uint8_t *)flagged.data;
    size_t table = table_bytes(p, plain.len);
    CHECK(table >= 2 && table < 128);
    CHECK_INT(flagged.len, plain.len + 1 + 5);
    CHECK_INT(f[CK_OFF_FLAGS], p[CK_OFF_FLAGS] | 0x08);
    CHECK_INT(f[CK_HEADER_SIZE], table);
    CHECK(memcmp(f + CK_HEADER_SIZE + 1, p + CK_HEADER_SIZE, table) == 0);
    CHECK(memcmp(f + CK_HEADER_SIZE + 1 + table, runs2, 5) == 0);
    jl_buf_destroy(&plain);
    jl_buf_destroy(&flagged);
}

static void test_all_n_is_unflagged(void)
{
    jl_buf a, b;
    jl_buf_init(&a);
    jl_buf_init(&b);
    jl_error err;
    const int64_t periods[3] = {0, 60000, 3600000};
    for (int k = 0; k < 3; k++) {
        for (size_t n = 1; n <= 2000; n = n * 3 + 1) {
            fill_readings(n);
            memset(g_flags, JL_FLAG_N, n);
            a.len = b.len = 0;
            CHECK_INT(ck_encode_segmented(g_ts, g_vs, n, periods[k], &a, &err), JL_OK);
            CHECK_INT(ck_encode_flagged(g_ts, g_vs, g_flags, n, periods[k], &b, &err), JL_OK);
            CHECK_INT(b.len, a.len);
            CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
            b.len = 0;
            CHECK_INT(ck_encode_flagged(g_ts, g_vs, NULL, n, periods[k], &b, &err), JL_OK);
            CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        }
    }
    jl_buf_destroy(&a);
    jl_buf_destroy(&b);
}

static void test_bad_flag_refused(void)
{
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    fill_readings(10);
    memset(g_flags, JL_FLAG_N, 10);
    g_flags[5] = JL_FLAG_COUNT;
    CHECK_INT(ck_encode_flagged(g_ts, g_vs, g_flags, 10, 0, &buf, &err), JL_EINVAL);
    CHECK(strstr(err.message, "reading 5 ") != NULL);
    CHECK_INT(buf.len, 0);
    g_flags[5] = 0xff;
    CHECK_INT(ck_encode_flagged(g_ts, g_vs, g_flags, 10, 0, &buf, &err), JL_EINVAL);
    g_flags[5] = JL_FLAG_B; /* the largest code is fine */
    CHECK_INT(ck_encode_flagged(g_ts, g_vs, g_flags, 10, 0, &buf, &err), JL_OK);
    jl_buf_destroy(&buf);
}

/* The chunk of fill_readings(10) with no table, and `runs` put after its header with the
 * flag-run bit set and both checksums recomputed; into out (room for 512 bytes). */
static size_t craft(const uint8_t *runs, size_t runs_len, uint8_t *out)
{
    jl_buf plain;
    jl_buf_init(&plain);
    jl_error err;
    fill_readings(10);
    CHECK_INT(ck_encode_segmented(g_ts, g_vs, 10, 0, &plain, &err), JL_OK);
    memcpy(out, plain.data, CK_HEADER_SIZE);
    memcpy(out + CK_HEADER_SIZE, runs, runs_len);
    memcpy(out + CK_HEADER_SIZE + runs_len, plain.data + CK_HEADER_SIZE,
           plain.len - CK_HEADER_SIZE);
    out[CK_OFF_FLAGS] |= CK_FLAG_FLAG_RUNS;
    size_t len = plain.len + runs_len;
    reseal(out, len);
    jl_buf_destroy(&plain);
    return len;
}

static void check_runs_refused(const uint8_t *runs, size_t runs_len, int line)
{
    uint8_t chunk[512];
    size_t len = craft(runs, runs_len, chunk);
    jl_error err;
    ck_summary s;
    uint8_t flags[16];
    int64_t ts[16];
    double vs[16];
    size_t got = 7;
    int a = ck_read_summary(chunk, len, &s, &err), b = ck_read_flags(chunk, len, flags, 16, &err),
        c = ck_decode(chunk, len, ts, vs, 16, &got, &err);
    if (a != JL_ECORRUPT || b != JL_ECORRUPT || c != JL_ECORRUPT)
        fprintf(stderr, "  runs of line %d accepted\n", line);
    CHECK_INT(a, JL_ECORRUPT);
    CHECK_INT(b, JL_ECORRUPT);
    CHECK_INT(c, JL_ECORRUPT);
    CHECK_INT(got, 0);
}

#define REFUSED(...)                                                                               \
    do {                                                                                           \
        static const uint8_t runs_[] = {__VA_ARGS__};                                              \
        check_runs_refused(runs_, sizeof runs_, __LINE__);                                         \
    } while (0)

static void test_corrupt_runs_refused(void)
{
    /* The helper itself makes a valid chunk: readings 3, 4 M as the encoder writes it. */
    uint8_t chunk[512];
    static const uint8_t good[] = {0x01, 0x03, 0x02, 0x02};
    size_t len = craft(good, sizeof good, chunk);
    jl_buf enc;
    jl_buf_init(&enc);
    jl_error err;
    memset(g_flags, JL_FLAG_N, 10);
    g_flags[3] = g_flags[4] = JL_FLAG_M;
    CHECK_INT(ck_encode_flagged(g_ts, g_vs, g_flags, 10, 0, &enc, &err), JL_OK);
    CHECK(enc.len == len && memcmp(enc.data, chunk, len) == 0);
    jl_buf_destroy(&enc);
    ck_summary s;
    CHECK_INT(ck_read_summary(chunk, len, &s, &err), JL_OK);
    CHECK_INT(s.flag_mask, (1u << JL_FLAG_N) | (1u << JL_FLAG_M));
    /* Runs covering all ten readings: the mask has no N. */
    static const uint8_t full[] = {0x02, 0x00, 0x04, 0x01, 0x00, 0x06, 0x07};
    len = craft(full, sizeof full, chunk);
    CHECK_INT(ck_read_summary(chunk, len, &s, &err), JL_OK);
    CHECK_INT(s.flag_mask, (1u << JL_FLAG_F) | (1u << JL_FLAG_B));
    uint8_t flags[10];
    CHECK_INT(ck_read_flags(chunk, len, flags, 10, &err), JL_OK);
    static const uint8_t want[10] = {1, 1, 1, 1, 7, 7, 7, 7, 7, 7};
    CHECK(memcmp(flags, want, 10) == 0);
    CHECK_INT(ck_read_flags(NULL, len, flags, 10, &err), JL_ECORRUPT);
    CHECK_INT(ck_read_flags(chunk, len, NULL, 10, &err), JL_EINVAL);

    REFUSED(0x01, 0x09, 0x02, 0x02);                   /* past the count: readings 9..10 of 10 */
    REFUSED(0x01, 0x0b, 0x01, 0x02);                   /* starts past the count */
    REFUSED(0x01, 0x00, 0x0b, 0x02);                   /* longer than the count */
    REFUSED(0x02, 0x00, 0x06, 0x02, 0x00, 0x05, 0x03); /* second run ends at 11 */
    REFUSED(0x01, 0x03, 0x02, 0x00);                   /* code 0 (N is no run) */
    REFUSED(0x01, 0x03, 0x02, 0x08);                   /* code 8 */
    REFUSED(0x01, 0x03, 0x02, 0x80, 0x00);             /* code 0 spelt in two bytes */
    REFUSED(0x01, 0x03, 0x00, 0x02);                   /* a run of no readings */
    REFUSED(0x00, 0x00, 0x00, 0x00);                   /* no runs */
    REFUSED(0x0b, 0x00, 0x01, 0x02);                   /* more runs than readings */
    REFUSED(0x02, 0x00, 0x02, 0x02, 0x00, 0x03, 0x02); /* unmerged: touching runs of M */
    REFUSED(0x02, 0x03, 0x02, 0x02);                   /* truncated: one of two runs */
    REFUSED(0x01, 0x03, 0x02, 0x02, 0x00);             /* a byte after the runs */
    REFUSED(0x01, 0x03, 0x82);                         /* too short, varint cut */
    REFUSED(0x01, 0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x02); /* bad
                                                                                  varint */
    /* A flagged chunk with its run bit cleared: the runs are then bytes where none belong. */
    len = craft(good, sizeof good, chunk);
    chunk[CK_OFF_FLAGS] &= (uint8_t)~CK_FLAG_FLAG_RUNS;
    reseal(chunk, len);
    CHECK_INT(ck_read_summary(chunk, len, &s, &err), JL_ECORRUPT);
    /* Unknown flag bits stay refused. */
    len = craft(good, sizeof good, chunk);
    chunk[CK_OFF_FLAGS] |= 0x10;
    reseal(chunk, len);
    CHECK_INT(ck_read_summary(chunk, len, &s, &err), JL_ECORRUPT);
    /* A flipped run byte fails the header checksum. */
    len = craft(good, sizeof good, chunk);
    chunk[CK_HEADER_SIZE + 3] = JL_FLAG_C;
    CHECK_INT(ck_read_summary(chunk, len, &s, &err), JL_ECORRUPT);
    CHECK(strstr(err.message, "checksum") != NULL);
}

/* With a table, the length prefix must hold the table and leave room for the runs. */
static void test_bad_table_prefix(void)
{
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    fill_readings(200);
    memset(g_flags, JL_FLAG_N, 200);
    g_flags[150] = JL_FLAG_S;
    CHECK_INT(ck_encode_flagged(g_ts, g_vs, g_flags, 200, 60000, &buf, &err), JL_OK);
    uint8_t *p = (uint8_t *)buf.data;
    ck_summary s;
    CHECK_INT(ck_read_summary(p, buf.len, &s, &err), JL_OK);
    CHECK_INT(s.flag_mask, (1u << JL_FLAG_N) | (1u << JL_FLAG_S));
    CHECK_INT(s.segment_count, 4);
    uint8_t table = p[CK_HEADER_SIZE];
    const uint8_t bad[4] = {(uint8_t)(table + 1), (uint8_t)(table - 1), 0x7f, 0x00};
    for (int i = 0; i < 4; i++) {
        p[CK_HEADER_SIZE] = bad[i];
        reseal(p, buf.len);
        CHECK_INT(ck_read_summary(p, buf.len, &s, &err), JL_ECORRUPT);
    }
    p[CK_HEADER_SIZE] = table;
    reseal(p, buf.len);
    CHECK_INT(ck_read_summary(p, buf.len, &s, &err), JL_OK);
    jl_buf_destroy(&buf);
}

int main(void)
{
    RUN(test_roundtrip_patterns);
    RUN(test_exact_cost);
    RUN(test_all_n_is_unflagged);
    RUN(test_bad_flag_refused);
    RUN(test_corrupt_runs_refused);
    RUN(test_bad_table_prefix);
    return CHECK_DONE();
}
