/* Tests of storage/chunk_segments.c: segment tables compared with summaries computed here from
 * the readings, when a chunk gets no table, and refusal of tables edited and re-sealed. */
#include "chunk_testing.h"

/* Segment summaries computed here from the readings, independently of the encoder. */
typedef struct expected_segment {
    int64_t start_ms;
    uint32_t count;
    double min, max;
    long double sum;
} expected_segment;

static size_t expect_segments(const int64_t *ts, const double *vs, size_t n, int64_t period,
                              expected_segment *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t start = (ts[i] >= 0 ? ts[i] / period : -((-ts[i] + period - 1) / period)) * period;
        if (m == 0 || out[m - 1].start_ms != start)
            out[m++] = (expected_segment){start, 0, vs[i], vs[i], 0};
        expected_segment *e = &out[m - 1];
        e->count++;
        e->min = vs[i] < e->min ? vs[i] : e->min;
        e->max = vs[i] > e->max ? vs[i] : e->max;
        e->sum += vs[i];
    }
    return m;
}

static void check_segments(const int64_t *ts, const double *vs, size_t n, int64_t period,
                           size_t want_periods, int want_codec)
{
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    CHECK_INT(ck_encode_segmented(ts, vs, n, period, &buf, &err), JL_OK);
    ck_summary s;
    CHECK_INT(ck_read_summary(buf.data, buf.len, &s, &err), JL_OK);
    CHECK_INT(s.codec, want_codec);
    CHECK_INT(s.segment_count, want_periods);
    CHECK_INT(s.segment_period_ms, period);
    static ck_segment got[CK_MAX_SEGMENTS];
    static expected_segment want[CK_MAX_SEGMENTS];
    size_t count = 0, expected = expect_segments(ts, vs, n, period, want);
    CHECK_INT(ck_read_segments(buf.data, buf.len, got, CK_MAX_SEGMENTS, &count, &err), JL_OK);
    CHECK_INT(count, expected);
    for (size_t i = 0; i < count && i < expected; i++) {
        CHECK_INT(got[i].start_ms, want[i].start_ms);
        CHECK_INT(got[i].count, want[i].count);
        CHECK_DOUBLE_BITS(got[i].min, want[i].min);
        CHECK_DOUBLE_BITS(got[i].max, want[i].max);
        CHECK(fabsl((long double)got[i].sum - want[i].sum) <= 1e-13L * fabsl(want[i].sum) + 1e-12L);
    }
    /* Too little room is an error, not a short answer. */
    if (expected > 1)
        CHECK_INT(ck_read_segments(buf.data, buf.len, got, expected - 1, &count, &err), JL_ELIMIT);
    /* The readings still decode as before. */
    static int64_t ts_out[4096];
    static double vs_out[4096];
    size_t decoded = 0;
    CHECK_INT(ck_decode(buf.data, buf.len, ts_out, vs_out, 4096, &decoded, &err), JL_OK);
    CHECK_INT(decoded, n);
    for (size_t i = 0; i < n && i < decoded; i++) {
        CHECK_INT(ts_out[i], ts[i]);
        CHECK_DOUBLE_BITS(vs_out[i], vs[i]);
    }
    jl_buf_destroy(&buf);
}

static void test_segment_tables(void)
{
    static int64_t ts[4000];
    static double vs[4000];
    /* Three days of minute readings from 05:00 UTC, with a 20-hour outage: 8-hour periods,
     * two of them empty. Values with one decimal, as pm25. */
    size_t n = 0;
    for (int64_t t = 1735707600000; n < 4000; t += 60000) {
        if (t >= 1735750800000 && t < 1735822800000)
            continue;
        ts[n] = t;
        vs[n] = (double)(int)((n * 7919) % 1201) / 10.0;
        n++;
    }
    const int64_t hours8 = 8 * 3600000;
    size_t periods = (size_t)((ts[n - 1] / hours8) - (ts[0] / hours8) + 1);
    check_segments(ts, vs, n, hours8, periods, CK_CODEC_DECIMAL);
    /* Float codec: the same times, values that are no short decimals. */
    for (size_t i = 0; i < n; i++)
        vs[i] = sqrt((double)i + 0.5) * 1e-3;
    check_segments(ts, vs, n, hours8, periods, CK_CODEC_FLOAT);
    /* Negative timestamps: periods are floored, not truncated toward zero. */
    const int64_t neg_ts[5] = {-7000, -5001, -5000, -1, 0};
    const double neg_vs[5] = {1.5, -2.25, 3.0, 4.5, 5.0};
    check_segments(neg_ts, neg_vs, 5, 5000, 3, CK_CODEC_DECIMAL);

    /* No table: one period, no period, more periods than allowed. */
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    ck_summary s;
    CHECK_INT(ck_encode_segmented(ts, vs, 100, hours8 * 30, &buf, &err), JL_OK);
    CHECK_INT(ck_read_summary(buf.data, buf.len, &s, &err), JL_OK);
    CHECK_INT(s.segment_count, 0);
    CHECK_INT(((uint8_t *)buf.data)[CK_OFF_FLAGS] & CK_FLAG_SEGMENTS, 0);
    buf.len = 0;
    CHECK_INT(ck_encode(ts, vs, n, &buf, &err), JL_OK);
    CHECK_INT(ck_read_summary(buf.data, buf.len, &s, &err), JL_OK);
    CHECK_INT(s.segment_count, 0);
    size_t count = 7;
    ck_segment one;
    CHECK_INT(ck_read_segments(buf.data, buf.len, &one, 1, &count, &err), JL_OK);
    CHECK_INT(count, 0);
    buf.len = 0;
    CHECK_INT(ck_encode_segmented(ts, vs, n, 60000, &buf, &err), JL_OK); /* ~4,000 minutes */
    CHECK_INT(ck_read_summary(buf.data, buf.len, &s, &err), JL_OK);
    CHECK_INT(s.segment_count, 0);
    jl_buf_destroy(&buf);
}

/* Tables whose checksum was recomputed after an edit must still be refused when their numbers
 * disagree with each other or with the header. */
static void test_segment_table_checks(void)
{
    int64_t ts[3] = {0, 10, 20};
    double vs[3] = {1.0, 2.0, 3.0};
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    CHECK_INT(ck_encode_segmented(ts, vs, 3, 10, &buf, &err), JL_OK);
    uint8_t *chunk = (uint8_t *)buf.data;
    size_t len = buf.len;
    /* Period 10, then per period: zigzag count delta, zigzag min delta, range, sum above min. */
    static const uint8_t expected[] = {10, 2, 2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0};
    CHECK_INT(table_bytes(chunk, len), sizeof expected);
    CHECK(memcmp(chunk + CK_HEADER_SIZE, expected, sizeof expected) == 0);
    ck_segment got[3];
    size_t count;
    CHECK_INT(ck_read_segments(chunk, len, got, 3, &count, &err), JL_OK);
    CHECK_INT(count, 3);
    /* Each edit sets up to two table bytes (offset, value; a second offset of 0 is unused). */
    static const struct {
        size_t offset;
        uint8_t value;
        size_t offset2;
        uint8_t value2;
    } edits[] = {
        {0, 0, 0, 0},     /* period 0 */
        {0, 30, 0, 0},    /* period 30: a single period */
        {1, 4, 0, 0},     /* first count 2: counts add up to more than the chunk's */
        {5, 1, 0, 0},     /* second count 0: the rest no longer parses to the chunk's count */
        {2, 1, 0, 0},     /* first min -1, below the header's min */
        {3, 6, 0, 0},     /* first max 7, above the header's max */
        {4, 1, 0, 0},     /* sum above min 1 while every value equals the min */
        {3, 2, 4, 1},     /* one reading with min 1, max 3, sum 2 */
        {2, 4, 6, 0},     /* mins 2, 2, 3: the header's min 1 is in no period */
        {12, 0x80, 0, 0}, /* a varint running past the table */
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        uint8_t saved = chunk[CK_HEADER_SIZE + edits[e].offset];
        uint8_t saved2 = chunk[CK_HEADER_SIZE + edits[e].offset2];
        chunk[CK_HEADER_SIZE + edits[e].offset] = edits[e].value;
        if (edits[e].offset2)
            chunk[CK_HEADER_SIZE + edits[e].offset2] = edits[e].value2;
        reseal(chunk, len);
        int rc = ck_read_segments(chunk, len, got, 3, &count, &err);
        if (rc != JL_ECORRUPT)
            fprintf(stderr, "  edit %zu accepted (rc %d)\n", e, rc);
        CHECK_INT(rc, JL_ECORRUPT);
        chunk[CK_HEADER_SIZE + edits[e].offset2] = saved2;
        chunk[CK_HEADER_SIZE + edits[e].offset] = saved;
    }
    reseal(chunk, len);
    CHECK_INT(ck_read_segments(chunk, len, got, 3, &count, &err), JL_OK);

    /* Float codec: period 10, then per period a count delta and min, max, sum as doubles. A sum
     * far outside count * [min, max] is refused. */
    const double thirds[3] = {1.0 / 3, 2.0 / 3, 1.0 / 7};
    buf.len = 0;
    CHECK_INT(ck_encode_segmented(ts, thirds, 3, 10, &buf, &err), JL_OK);
    chunk = (uint8_t *)buf.data;
    len = buf.len;
    CHECK_INT(table_bytes(chunk, len), 1 + 3 * 25);
    CHECK_INT(ck_read_segments(chunk, len, got, 3, &count, &err), JL_OK);
    CHECK_DOUBLE_BITS(got[0].sum, 1.0 / 3);
    wr_u64(chunk + CK_HEADER_SIZE + 2 + 16, 0x7e37e43c8800759cull); /* 1e300 */
    reseal(chunk, len);
    CHECK_INT(ck_read_segments(chunk, len, got, 3, &count, &err), JL_ECORRUPT);
    jl_buf_destroy(&buf);
}

int main(void)
{
    RUN(test_segment_tables);
    RUN(test_segment_table_checks);
    return CHECK_DONE();
}
