/* Tests of storage/chunk_encode.c through encode-decode round trips: bitwise round trips on edge
 * values and extreme timestamps, codec and timestamp-scale choice, the encoder's input checks,
 * a golden chunk of format version 1, and printed (not asserted) size and speed figures for
 * realistic sensor series. */
#include "chunk_testing.h"

static void test_edge_values(void)
{
    const double edge[] = {-1.0,    -273.15, 1e300,     -1e300, DBL_MAX, -DBL_MAX,
                           -0.0,    0.0,     0.1 + 0.2, 0.731,  DBL_MIN, 5e-324,
                           -5e-324, 1e-310,  123456.7,  0.1,    -0.1,    9007199254740993.0,
                           1e22,    42.0};
    size_t n = sizeof edge / sizeof edge[0];
    int64_t ts[32];
    fill_cadence(ts, n, 1735660800000, 60000);
    CHECK_INT(roundtrip(ts, edge, n, NULL), CK_CODEC_FLOAT);
    /* Each edge value alone, and as a constant run of 100. */
    double run[100];
    int64_t run_ts[100];
    fill_cadence(run_ts, 100, -5000, 1000);
    for (size_t i = 0; i < n; i++) {
        (void)roundtrip(ts, &edge[i], 1, NULL);
        for (int j = 0; j < 100; j++)
            run[j] = edge[i];
        (void)roundtrip(run_ts, run, 100, NULL);
    }
}

static void test_codec_choice(void)
{
    int64_t ts[6];
    fill_cadence(ts, 6, 0, 60000);
    const double three_decimals[6] = {0.731, 0.729, 1.002, 0.0, -0.5, 12.125};
    const double integers[6] = {3, -4, 1000000, 0, 7, 2};
    const double with_negative_zero[6] = {1.0, -0.0, 2.0, 3.0, 4.0, 5.0};
    const double seventeen_digits[6] = {0.1 + 0.2, 0.3, 0.1, 0.2, 0.3, 0.4};
    const double huge[6] = {1e300, 1e300, 1e300, 1e300, 1e300, 1e300};
    jl_buf buf;
    jl_buf_init(&buf);
    ck_summary s;
    struct {
        const double *values;
        int codec;
        int exponent;
    } cases[] = {
        {three_decimals, CK_CODEC_DECIMAL, 3},
        {integers, CK_CODEC_DECIMAL, 0},
        {with_negative_zero, CK_CODEC_FLOAT, 0},
        {seventeen_digits, CK_CODEC_FLOAT, 0},
        {huge, CK_CODEC_FLOAT, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf.len = 0;
        CHECK_INT(ck_encode(ts, cases[i].values, 6, &buf, NULL), JL_OK);
        CHECK_INT(ck_read_summary(buf.data, buf.len, &s, NULL), JL_OK);
        CHECK_INT(s.codec, cases[i].codec);
        CHECK_INT(s.decimal_exponent, cases[i].exponent);
        CHECK_INT(roundtrip(ts, cases[i].values, 6, NULL), cases[i].codec);
    }
    jl_buf_destroy(&buf);
}

static void test_extreme_timestamps(void)
{
    const int64_t jl_range[5] = {JL_MIN_MS, JL_MIN_MS + 1, 0, JL_MAX_MS - 1, JL_MAX_MS};
    const int64_t int_range[4] = {INT64_MIN, INT64_MIN + 1, INT64_MAX - 1, INT64_MAX};
    const int64_t wide[3] = {INT64_MIN, 0, INT64_MAX};
    const int64_t two[2] = {INT64_MIN, INT64_MAX};
    const double vs[5] = {1.0, 2.0, 3.0, 4.0, 5.0};
    (void)roundtrip(jl_range, vs, 5, NULL);
    (void)roundtrip(int_range, vs, 4, NULL);
    (void)roundtrip(wide, vs, 3, NULL);
    (void)roundtrip(two, vs, 2, NULL);
    (void)roundtrip(two, vs, 1, NULL);
    (void)roundtrip(two + 1, vs, 1, NULL);
    /* A regular cadence ending at the top of the range. */
    int64_t top[300];
    double top_vs[300];
    for (int i = 0; i < 300; i++) {
        top[i] = JL_MAX_MS - (299 - i) * 1000;
        top_vs[i] = i * 0.5;
    }
    (void)roundtrip(top, top_vs, 300, NULL);
}

/* The timestamp scale is the greatest common divisor of the deltas, found as it shrinks (6d,
 * then 10d, then 15d gives d) for odd, even, prime and huge d, from negative and positive
 * starts; offsets are divided by it exactly (the encoder divides by a modular inverse). */
static void test_timestamp_scales(void)
{
    const uint64_t divisors[] = {1, 2, 7, 1000, 60000, 3u << 20, 999999937, UINT64_C(1) << 40};
    const int64_t starts[] = {-1700000000000, 0, 1700000000123};
    enum { N = 200 };
    int64_t ts[N];
    double vs[N];
    for (size_t d = 0; d < sizeof divisors / sizeof divisors[0]; d++) {
        for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
            const uint64_t multiples[] = {6, 10, 15, 6, 1000, 6};
            uint64_t t = (uint64_t)starts[s];
            for (int i = 0; i < N; i++) {
                ts[i] = (int64_t)t;
                vs[i] = i % 7;
                t += divisors[d] * multiples[i % 6 < 3 ? i % 6 : 3 + i % 3];
            }
            /* Large divisors overflow int64 after a few steps: keep the increasing prefix. */
            int n = 1;
            while (n < N && ts[n] > ts[n - 1])
                n++;
            jl_buf buf;
            jl_buf_init(&buf);
            jl_error err;
            CHECK_INT(ck_encode(ts, vs, (size_t)n, &buf, &err), JL_OK);
            uint64_t scale = 0;
            for (int b = 7; b >= 0; b--)
                scale = scale << 8 | ((const uint8_t *)buf.data)[CK_OFF_TS_SCALE + b];
            /* Fewer than four readings leave the gcd at 6d or 2d. */
            uint64_t expected = n >= 4 ? divisors[d] : n == 3 ? 2 * divisors[d] : 6 * divisors[d];
            if (n == 1)
                expected = 1;
            CHECK(scale == expected);
            jl_buf_destroy(&buf);
            (void)roundtrip(ts, vs, (size_t)n, NULL);
        }
    }
}

static void test_irregular_timestamps(void)
{
    rng_state = 20250101;
    printf("  seed %d\n", 20250101);
    enum { N = 3000 };
    static int64_t ts[N];
    static double vs[N];
    int64_t t = 1700000000123;
    for (int i = 0; i < N; i++) {
        uint64_t r = rng_next();
        switch (r % 5) {
        case 0:
            t += 1;
            break;
        case 1:
            t += 60000;
            break;
        case 2:
            t += 1 + (int64_t)(rng_next() % 100000);
            break;
        case 3:
            t += 3600000 * (int64_t)(1 + rng_next() % 48);
            break;
        default:
            t += 59000 + (int64_t)(rng_next() % 2000);
            break;
        }
        ts[i] = t;
        vs[i] = (double)((int64_t)(rng_next() % 20001) - 10000) / 10.0;
    }
    CHECK_INT(roundtrip(ts, vs, N, NULL), CK_CODEC_DECIMAL);
}

static void test_sizes_of_chunks(void)
{
    enum { N = CK_MAX_READINGS };
    static int64_t ts[N];
    static double vs[N];
    fill_cadence(ts, N, 1735660800000, 1000);
    for (size_t i = 0; i < N; i++)
        vs[i] = (double)(i % 977) * 0.25;
    CHECK_INT(roundtrip(ts, vs, N, NULL), CK_CODEC_DECIMAL);
    for (size_t i = 0; i < N; i++)
        vs[i] = (double)i + 1.0 / 3.0; /* not a decimal at <= 15 digits */
    CHECK_INT(roundtrip(ts, vs, N, NULL), CK_CODEC_FLOAT);
    CHECK_INT(roundtrip(ts, vs, 1, NULL), CK_CODEC_FLOAT);
    CHECK_INT(roundtrip(ts, vs, 2, NULL), CK_CODEC_FLOAT);

    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    CHECK_INT(ck_encode(ts, vs, 0, &buf, &err), JL_EINVAL);
    CHECK_INT(buf.len, 0);
    /* One more than allowed (the arrays are only N long, but the count is refused first). */
    CHECK_INT(ck_encode(ts, vs, (size_t)N + 1, &buf, &err), JL_EINVAL);
    CHECK_INT(buf.len, 0);
    jl_buf_destroy(&buf);
}

static void test_random_data(void)
{
    const uint64_t seed = 0xC0FFEE1234ULL;
    printf("  seed 0x%" PRIx64 "\n", seed);
    rng_state = seed;
    static int64_t ts[5000];
    static double vs[5000];
    for (int round = 0; round < 300; round++) {
        size_t n = 1 + (size_t)(rng_next() % 5000);
        int64_t t = (int64_t)(rng_next() % 4000000000000ULL) - 2000000000000LL;
        int64_t step = 1 + (int64_t)(rng_next() % 100000);
        int style = (int)(rng_next() % 6);
        int exponent = (int)(rng_next() % 8);
        double scale = 1.0;
        for (int e = 0; e < exponent; e++)
            scale *= 10.0;
        double level = (double)(int64_t)(rng_next() % 2000000) - 1000000.0;
        for (size_t i = 0; i < n; i++) {
            t += (rng_next() % 4 == 0) ? 1 + (int64_t)(rng_next() % (uint64_t)(3 * step)) : step;
            ts[i] = t;
            switch (style) {
            case 0: /* random decimal */
                vs[i] = (double)((int64_t)(rng_next() % 2000001) - 1000000) / scale;
                break;
            case 1: { /* random finite bit patterns */
                uint64_t bits;
                double v;
                do {
                    bits = rng_next();
                    memcpy(&v, &bits, sizeof v);
                } while (!isfinite(v));
                vs[i] = v;
                break;
            }
            case 2: /* random walk in decimals */
                level += (double)(int64_t)(rng_next() % 21) - 10.0;
                vs[i] = level / scale;
                break;
            case 3: /* long constant runs */
                if (rng_next() % 50 == 0)
                    level = (double)(int64_t)(rng_next() % 1000);
                vs[i] = level / scale;
                break;
            case 4: /* wild mantissas near 2^53 */
                vs[i] = (double)((int64_t)(rng_next() >> 11) - (INT64_C(1) << 52));
                break;
            default: /* plain doubles */
                vs[i] = rng_normal() * 1e3;
                break;
            }
        }
        CHECK(roundtrip(ts, vs, n, NULL) != 0);
        if (check_failed_in_test) {
            fprintf(stderr, "  failed in round %d (n %zu, style %d)\n", round, n, style);
            break;
        }
    }
}

static void test_encoder_rejects_bad_input(void)
{
    jl_buf buf;
    jl_buf_init(&buf);
    jl_buf_append(&buf, "xyz", 3);
    jl_error err;
    const int64_t equal_ts[3] = {1000, 2000, 2000};
    const int64_t falling_ts[3] = {1000, 3000, 2000};
    const int64_t good_ts[3] = {1000, 2000, 3000};
    const double good[3] = {1, 2, 3};
    const double with_nan[3] = {1, NAN, 3};
    const double with_inf[3] = {1, 2, INFINITY};
    const double with_ninf[3] = {-INFINITY, 2, 3};
    CHECK_INT(ck_encode(equal_ts, good, 3, &buf, &err), JL_EINVAL);
    CHECK(strstr(err.message, "increase") != NULL);
    CHECK_INT(ck_encode(falling_ts, good, 3, &buf, &err), JL_EINVAL);
    CHECK_INT(ck_encode(good_ts, with_nan, 3, &buf, &err), JL_EINVAL);
    CHECK(strstr(err.message, "non-finite") != NULL);
    CHECK_INT(ck_encode(good_ts, with_inf, 3, &buf, &err), JL_EINVAL);
    CHECK_INT(ck_encode(good_ts, with_ninf, 3, &buf, &err), JL_EINVAL);
    CHECK_INT(ck_encode(NULL, good, 3, &buf, &err), JL_EINVAL);
    CHECK_INT(buf.len, 3);
    /* Appends after existing content and leaves it alone. */
    CHECK_INT(ck_encode(good_ts, good, 3, &buf, &err), JL_OK);
    CHECK(memcmp(buf.data, "xyz", 3) == 0);
    ck_summary s;
    CHECK_INT(ck_read_summary(buf.data + 3, buf.len - 3, &s, &err), JL_OK);
    CHECK_INT(s.count, 3);
    jl_buf_destroy(&buf);
}

/* A chunk of format version 1, written by this codec: readings (1735660800000 + 60000 i,
 * 30.0 + 0.1 * {0, 1, 3, -2, 5}[i]). It must keep decoding, and the encoder must keep producing
 * these bytes, unless the format version changes. */
static const uint8_t golden_v1[] = {
    0x4a, 0x4c, 0x43, 0x4b, 0x01, 0x01, 0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00,
    0x09, 0x00, 0x00, 0x00, 0x04, 0x62, 0x91, 0x4c, 0x00, 0x08, 0x72, 0x1d, 0x94, 0x01, 0x00, 0x00,
    0x80, 0xb1, 0x75, 0x1d, 0x94, 0x01, 0x00, 0x00, 0x60, 0xea, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xcd, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0x3d, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3e, 0x40,
    0x66, 0x66, 0x66, 0x66, 0x66, 0xd6, 0x62, 0x40, 0xdd, 0xa5, 0x9b, 0xc4, 0x20, 0xb0, 0xd2, 0x3f,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3e, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x3e, 0x40,
    0x69, 0x60, 0xe2, 0x00, 0xc0, 0x00, 0x06, 0x26, 0x10, 0x89, 0xf3, 0x1f, 0x00,
};

static void test_golden_chunk(void)
{
    int64_t ts[5];
    double vs[5];
    const int steps[5] = {0, 1, 3, -2, 5};
    for (int i = 0; i < 5; i++) {
        ts[i] = 1735660800000 + 60000 * (int64_t)i;
        vs[i] = (300.0 + steps[i]) / 10.0;
    }
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    CHECK_INT(ck_encode(ts, vs, 5, &buf, &err), JL_OK);
    CHECK_INT(buf.len, sizeof golden_v1);
    if (buf.len != sizeof golden_v1 || memcmp(buf.data, golden_v1, buf.len) != 0) {
        fprintf(stderr, "  encoder output differs from the golden chunk:\n ");
        for (size_t i = 0; i < buf.len; i++)
            fprintf(stderr, " 0x%02x,", (uint8_t)buf.data[i]);
        fprintf(stderr, "\n");
        CHECK(0);
    }
    int64_t ts_out[5];
    double vs_out[5];
    size_t got;
    CHECK_INT(ck_decode(golden_v1, sizeof golden_v1, ts_out, vs_out, 5, &got, &err), JL_OK);
    CHECK_INT(got, 5);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(ts_out[i], ts[i]);
        CHECK_DOUBLE_BITS(vs_out[i], vs[i]);
    }
    jl_buf_destroy(&buf);
}

/* A PM2.5-like series: one decimal, slow random walk that stays positive. */
static void make_pm25(int64_t *ts, double *vs, size_t n, int jitter_s)
{
    int64_t t = 1735660800000;
    long tenths = 352;
    for (size_t i = 0; i < n; i++) {
        int64_t jitter = jitter_s ? 1000 * (int64_t)(rng_next() % (uint64_t)(jitter_s + 1)) : 0;
        ts[i] = t + jitter;
        t += 60000;
        /* Mostly small steps, sometimes a bigger move. */
        long step = (long)lround(rng_normal() * 2.0);
        if (rng_next() % 50 == 0)
            step *= 8;
        tenths += step;
        if (tenths < 0)
            tenths = -tenths;
        vs[i] = (double)tenths / 10.0;
    }
}

static void test_print_sizes(void)
{
    enum { N = 2048, CHUNKS = 200 };
    static int64_t ts[N], ts_out[N];
    static double vs[N], vs_out[N];
    const uint64_t seed = 42;
    printf("  seed %" PRIu64 "\n", seed);
    rng_state = seed;
    jl_buf buf;
    jl_buf_init(&buf);
    jl_error err;
    const int jitters[2] = {0, 5};
    for (int j = 0; j < 2; j++) {
        size_t total = 0;
        size_t lz4_chunks = 0;
        for (int c = 0; c < 20; c++) {
            make_pm25(ts, vs, N, jitters[j]);
            buf.len = 0;
            CHECK_INT(ck_encode(ts, vs, N, &buf, &err), JL_OK);
            total += buf.len;
            lz4_chunks += (buf.data[CK_OFF_FLAGS] & CK_FLAG_LZ4) != 0;
        }
        printf("  pm25-like, 60 s cadence, 0-%d s whole-second jitter: %.3f bytes/reading "
               "(header %d of %.0f bytes/chunk, %zu/20 chunks LZ4)\n",
               jitters[j], (double)total / (20.0 * N), CK_HEADER_SIZE, (double)total / 20.0,
               lz4_chunks);
    }
    /* Value cost alone: same series, timestamps perfectly regular, header excluded. */
    make_pm25(ts, vs, N, 0);
    buf.len = 0;
    CHECK_INT(ck_encode(ts, vs, N, &buf, &err), JL_OK);
    /* Speed is measured by bench/codec_bench.c (make bench-codec), not here: a unit test holds
     * no timing. */
    size_t got = 0;
    CHECK_INT(ck_decode(buf.data, buf.len, ts_out, vs_out, N, &got, &err), JL_OK);
    CHECK_INT((long long)got, N);
    jl_buf_destroy(&buf);
}

int main(void)
{
    RUN(test_edge_values);
    RUN(test_codec_choice);
    RUN(test_extreme_timestamps);
    RUN(test_irregular_timestamps);
    RUN(test_timestamp_scales);
    RUN(test_sizes_of_chunks);
    RUN(test_random_data);
    RUN(test_encoder_rejects_bad_input);
    RUN(test_golden_chunk);
    RUN(test_print_sizes);
    return CHECK_DONE();
}
