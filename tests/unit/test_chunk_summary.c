/* Tests of storage/chunk_summary.c: a hand-computed summary as the chunk header stores it, and
 * the compensated sum and squared deviations against long-double references. */
#include "chunk_testing.h"

static void test_hand_computed_summary(void)
{
    const int64_t ts[3] = {1735660800000, 1735660860000, 1735660920000};
    const double vs[3] = {1.5, 2.5, 3.0};
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    CHECK_INT(ck_encode(ts, vs, 3, &buf, &err), JL_OK);
    ck_summary s;
    CHECK_INT(ck_read_summary(buf.data, buf.len, &s, &err), JL_OK);
    CHECK_INT(s.count, 3);
    CHECK_INT(s.first_ms, 1735660800000);
    CHECK_INT(s.last_ms, 1735660920000);
    CHECK_DOUBLE_BITS(s.min, 1.5);
    CHECK_DOUBLE_BITS(s.max, 3.0);
    CHECK_DOUBLE_BITS(s.sum, 7.0);
    CHECK_DOUBLE_BITS(s.first_value, 1.5);
    CHECK_DOUBLE_BITS(s.last_value, 3.0);
    /* mean 7/3; deviations -5/6, 1/6, 2/3; squares 25/36 + 1/36 + 16/36 = 7/6. */
    CHECK_NEAR(s.sum_squares_dev, 7.0 / 6.0, 1e-15);
    CHECK_INT(s.codec, CK_CODEC_DECIMAL);
    CHECK_INT(s.decimal_exponent, 1);
    CHECK_INT(s.payload_bytes, buf.len - CK_HEADER_SIZE);
    /* The header bytes themselves: magic, version, codec, flags, exponent, count, scale. */
    const uint8_t *h = (const uint8_t *)buf.data;
    CHECK(memcmp(h, "JLCK", 4) == 0);
    CHECK_INT(h[CK_OFF_VERSION], 1);
    CHECK_INT(h[CK_OFF_FLAGS], 0); /* too small for LZ4; one delta-of-delta is cheapest */
    CHECK_INT(h[CK_OFF_CODEC], CK_CODEC_DECIMAL);
    CHECK_INT(h[CK_OFF_EXPONENT], 1);
    CHECK_INT(rd_u32(h + CK_OFF_COUNT), 3);
    CHECK_INT(rd_u32(h + CK_OFF_TS_SCALE), 60000);
    jl_buf_destroy(&buf);
}

static void test_summary_matches_reference(void)
{
    /* Sum of many values whose naive sum drifts: Neumaier must match a long double reference to
     * the last bit here, and the squared deviations must be close to the two-pass reference. */
    enum { N = 1000 };
    static int64_t ts[N];
    static double vs[N];
    for (int i = 0; i < N; i++) {
        ts[i] = i;
        vs[i] = (i % 2 == 0) ? 1e16 : 1.0;
    }
    vs[N - 1] = -1e16 * (N / 2 - 1); /* cancels the big terms but leaves the small ones */
    ck_summary s;
    ck_summarize(ts, vs, N, &s);
    long double ref = 0;
    for (int i = 0; i < N; i++)
        ref += (long double)vs[i];
    CHECK_DOUBLE_BITS(s.sum, (double)ref);
    /* 1e16 + 499 is a tie between two doubles; the reference rounds it to even. */
    CHECK_DOUBLE_BITS(s.sum, 1e16 + 500.0);
    long double mean = ref / N, ssd = 0;
    for (int i = 0; i < N; i++)
        ssd += ((long double)vs[i] - mean) * ((long double)vs[i] - mean);
    CHECK_NEAR(s.sum_squares_dev / (double)ssd, 1.0, 1e-12);
    CHECK_DOUBLE_BITS(s.min, -1e16 * (N / 2 - 1));
    CHECK_DOUBLE_BITS(s.max, 1e16);

    /* Constant values have exactly zero spread. */
    for (int i = 0; i < N; i++)
        vs[i] = 0.1;
    ck_summarize(ts, vs, N, &s);
    CHECK_DOUBLE_BITS(s.sum_squares_dev, 0.0);
    CHECK_NEAR(s.sum, 100.0, 1e-12);
    (void)roundtrip(ts, vs, N, NULL);
}

int main(void)
{
    RUN(test_hand_computed_summary);
    RUN(test_summary_matches_reference);
    return CHECK_DONE();
}
