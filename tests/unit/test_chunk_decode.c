/* Tests of storage/chunk_decode.c: refusal of every corrupted byte and truncation, checks that
 * hold beyond the checksums when an edit re-sealed them, and the capacity limit. */
#include "chunk_testing.h"

/* Every flipped byte and every truncation is refused; with period > 0 the chunk carries a
 * segment table, which is checked as part of the header. */
static void check_all_corruptions(const int64_t *ts, const double *vs, size_t n, int want_lz4,
                                  int64_t period)
{
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    CHECK_INT(ck_encode_segmented(ts, vs, n, period, &buf, &err), JL_OK);
    uint8_t *chunk = (uint8_t *)buf.data;
    size_t len = buf.len;
    CHECK_INT(chunk[CK_OFF_FLAGS] & CK_FLAG_LZ4, want_lz4 ? CK_FLAG_LZ4 : 0);
    const size_t header = CK_HEADER_SIZE + table_bytes(chunk, len);
    CHECK_INT(header > CK_HEADER_SIZE, period > 0);
    ck_segment segments[CK_MAX_SEGMENTS];
    size_t segment_count;
    int64_t ts_out[256];
    double vs_out[256];
    size_t got;
    ck_summary s;
    CHECK_INT(ck_decode(chunk, len, ts_out, vs_out, 256, &got, &err), JL_OK);
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
    size_t accepted = 0, summary_accepted = 0;
    for (size_t i = 0; i < len; i++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            chunk[i] ^= masks[m];
            int rc = ck_decode(chunk, len, ts_out, vs_out, 256, &got, &err);
            if (rc != JL_ECORRUPT) {
                if (accepted++ < 3)
                    fprintf(stderr, "  byte %zu ^ 0x%02x: rc %d\n", i, masks[m], rc);
            }
            rc = ck_read_summary(chunk, len, &s, &err);
            if (i < header && rc != JL_ECORRUPT)
                summary_accepted++;
            if (i >= header && rc != JL_OK)
                summary_accepted++;
            rc = ck_read_segments(chunk, len, segments, CK_MAX_SEGMENTS, &segment_count, &err);
            if ((i < header && rc != JL_ECORRUPT) || (i >= header && rc != JL_OK))
                summary_accepted++;
            chunk[i] ^= masks[m];
        }
    }
    CHECK_INT(accepted, 0);
    CHECK_INT(summary_accepted, 0);
    for (size_t cut = 0; cut < len; cut++) {
        CHECK_INT(ck_decode(chunk, cut, ts_out, vs_out, 256, &got, &err), JL_ECORRUPT);
        CHECK_INT(ck_read_summary(chunk, cut, &s, &err), JL_ECORRUPT);
        CHECK_INT(ck_read_segments(chunk, cut, segments, CK_MAX_SEGMENTS, &segment_count, &err),
                  JL_ECORRUPT);
    }
    /* A trailing extra byte is refused too. */
    jl_buf_append(&buf, "", 1);
    CHECK_INT(ck_decode(buf.data, buf.len, ts_out, vs_out, 256, &got, &err), JL_ECORRUPT);
    CHECK_INT(got, 0);
    jl_buf_destroy(&buf);
}

static void test_decoder_rejects_corruption(void)
{
    int64_t ts[200];
    double vs[200];
    fill_cadence(ts, 200, 1735660800000, 60000);
    for (int i = 0; i < 200; i++)
        vs[i] = 35.2 + (i % 7) * 0.1;
    check_all_corruptions(ts, vs, 200, 1, 0);
    check_all_corruptions(ts, vs, 200, 1, 3600000); /* 200 minutes: 4 hourly periods */
    /* Small and noisy: stays raw. */
    const int64_t few_ts[4] = {5, 17, 19, 1000};
    const double few[4] = {0.731, -12.5, 1e300, 3.0};
    check_all_corruptions(few_ts, few, 4, 0, 0);
    check_all_corruptions(few_ts, few, 4, 0, 10); /* float codec table, an empty period */
    const double dec[4] = {0.731, -12.5, 7.0, 3.0};
    check_all_corruptions(few_ts, dec, 4, 0, 0);
    check_all_corruptions(few_ts, dec, 4, 0, 10);
    check_all_corruptions(few_ts, dec, 1, 0, 0);
}

/* Chunks whose checksums were recomputed after an edit (as an attacker or a buggy writer
 * would) must still fail the decoder's own consistency checks. */
static void test_decoder_checks_beyond_checksums(void)
{
    int64_t ts[100];
    double vs[100];
    fill_cadence(ts, 100, 1000, 1000);
    for (int i = 0; i < 100; i++)
        vs[i] = i * 0.5;
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    CHECK_INT(ck_encode(ts, vs, 100, &buf, &err), JL_OK);
    uint8_t *copy = malloc(buf.len);
    int64_t ts_out[100];
    double vs_out[100];
    size_t got;
    struct {
        size_t offset;
        uint64_t value;
        int width;
    } edits[] = {
        {CK_OFF_LAST_MS, 99001, 8}, /* last_ms disagrees with the payload */
        {CK_OFF_LAST_MS, 500, 8},   /* last_ms before first_ms */
        {CK_OFF_FIRST_MS, 1001, 8}, /* shifts all timestamps */
        {CK_OFF_TS_SCALE, 0, 8},    /* zero scale */
        {CK_OFF_TS_SCALE, 2000, 8}, /* doubles the offsets */
        {CK_OFF_EXPONENT, 16, 1},   /* exponent out of range */
        {CK_OFF_EXPONENT, 2, 1},    /* wrong exponent: first value no longer matches */
        {CK_OFF_FIRST_VALUE, 0x3ff0000000000000ULL, 8}, /* 1.0 */
        {CK_OFF_COUNT, 99, 4},                          /* fewer readings than the payload holds */
        {CK_OFF_CODEC, CK_CODEC_FLOAT, 1},              /* wrong codec */
        {CK_OFF_RAW_LEN, 0, 4},                         /* impossible raw length */
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        memcpy(copy, buf.data, buf.len);
        if (edits[e].width == 8)
            wr_u64(copy + edits[e].offset, edits[e].value);
        else if (edits[e].width == 4)
            wr_u32(copy + edits[e].offset, (uint32_t)edits[e].value);
        else
            copy[edits[e].offset] = (uint8_t)edits[e].value;
        reseal(copy, buf.len);
        int rc = ck_decode(copy, buf.len, ts_out, vs_out, 100, &got, &err);
        if (rc != JL_ECORRUPT)
            fprintf(stderr, "  edit %zu accepted (rc %d)\n", e, rc);
        CHECK_INT(rc, JL_ECORRUPT);
    }
    /* Payload bytes changed with a fresh checksum: flip every bit of an uncompressed payload. */
    const int64_t few_ts[4] = {5, 17, 19, 1000};
    const double few[4] = {0.731, -12.5, 7.0, 3.0};
    buf.len = 0;
    CHECK_INT(ck_encode(few_ts, few, 4, &buf, &err), JL_OK);
    CHECK_INT(buf.data[CK_OFF_FLAGS], 0);
    size_t wrong = 0;
    for (size_t i = CK_HEADER_SIZE; i < buf.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(copy, buf.data, buf.len);
            copy[i] ^= (uint8_t)(1u << bit);
            reseal(copy, buf.len);
            int rc = ck_decode(copy, buf.len, ts_out, vs_out, 4, &got, &err);
            /* Either refused, or decodes to readings that are still strictly increasing and
             * agree with the header; a silently different middle value cannot be excluded
             * without a checksum, which is why the checksum exists. */
            if (rc == JL_OK) {
                for (size_t j = 1; j < got; j++)
                    wrong += ts_out[j] <= ts_out[j - 1];
                wrong += ts_out[0] != 5 || ts_out[got - 1] != 1000;
            } else {
                wrong += rc != JL_ECORRUPT;
            }
        }
    }
    CHECK_INT(wrong, 0);
    free(copy);
    jl_buf_destroy(&buf);
}

static void test_capacity_limit(void)
{
    int64_t ts[10];
    double vs[10];
    fill_cadence(ts, 10, 0, 10);
    for (int i = 0; i < 10; i++)
        vs[i] = i;
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    CHECK_INT(ck_encode(ts, vs, 10, &buf, &err), JL_OK);
    int64_t ts_out[10];
    double vs_out[10];
    size_t got = 123;
    CHECK_INT(ck_decode(buf.data, buf.len, ts_out, vs_out, 9, &got, &err), JL_ELIMIT);
    CHECK_INT(got, 0);
    CHECK_INT(ck_decode(buf.data, buf.len, ts_out, vs_out, 0, &got, &err), JL_ELIMIT);
    CHECK_INT(ck_decode(buf.data, buf.len, ts_out, vs_out, 10, &got, &err), JL_OK);
    CHECK_INT(got, 10);
    CHECK_INT(ts_out[9], 90);
    CHECK_DOUBLE_BITS(vs_out[9], 9.0);
    jl_buf_destroy(&buf);
}

int main(void)
{
    RUN(test_decoder_rejects_corruption);
    RUN(test_decoder_checks_beyond_checksums);
    RUN(test_capacity_limit);
    return CHECK_DONE();
}
