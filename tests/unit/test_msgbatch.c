/* Tests of query/ingest/msgbatch.c: msgpack batches built here with msgpack-c's packer, exact
 * results, exact error messages, and clean refusal of every truncation and of hostile length
 * headers. */
#include "check.h"

#include "jialing/ingest.h"

#include <msgpack.h>
#include <stdlib.h>

static st_batch batch;
static jl_error err;
static msgpack_sbuffer sbuf;
static msgpack_packer pk;

static void begin(void)
{
    msgpack_sbuffer_clear(&sbuf);
}

static void pack_str(const char *s)
{
    msgpack_pack_str(&pk, strlen(s));
    msgpack_pack_str_body(&pk, s, strlen(s));
}

static int decode(void)
{
    st_batch_reset(&batch);
    jl_error_clear(&err);
    return ig_parse_msgpack(sbuf.data, sbuf.size, &batch, &err);
}

static const char *key_of(size_t point)
{
    if (point >= st_batch_point_count(&batch))
        return "(no such point)";
    return st_batch_series_key(&batch, st_batch_point_series(&batch, point), NULL);
}

#define CHECK_POINT(i, key, ms, value)                                                             \
    do {                                                                                           \
        CHECK_STR(key_of(i), key);                                                                 \
        if ((size_t)(i) < st_batch_point_count(&batch)) {                                          \
            CHECK_INT(st_batch_point_ms(&batch, i), ms);                                           \
            CHECK_DOUBLE_BITS(st_batch_point_value(&batch, i), value);                             \
        }                                                                                          \
    } while (0)

#define CHECK_REFUSED(expected_message)                                                            \
    do {                                                                                           \
        CHECK_INT(decode(), JL_EINVAL);                                                            \
        CHECK_INT(err.code, JL_EINVAL);                                                            \
        CHECK_STR(err.message, expected_message);                                                  \
    } while (0)

/* {"series": [ ...count series follow... ]} */
static void begin_series(uint32_t count)
{
    begin();
    msgpack_pack_map(&pk, 1);
    pack_str("series");
    msgpack_pack_array(&pk, count);
}

/* One well-formed series with one tag and n points t = i*1000, v = i + 0.5. */
static void pack_simple_series(const char *metric, const char *tag_value, uint32_t n)
{
    msgpack_pack_map(&pk, 4);
    pack_str("metric");
    pack_str(metric);
    pack_str("tags");
    msgpack_pack_map(&pk, 1);
    pack_str("station");
    pack_str(tag_value);
    pack_str("t");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_int64(&pk, (int64_t)i * 1000);
    pack_str("v");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_double(&pk, i + 0.5);
}

static void test_valid_batch(void)
{
    begin();
    msgpack_pack_map(&pk, 2);
    pack_str("version"); /* unknown keys are ignored */
    msgpack_pack_int(&pk, 3);
    pack_str("series");
    msgpack_pack_array(&pk, 4);

    /* series 0: tags out of order, mixed value types, negative and boundary timestamps */
    msgpack_pack_map(&pk, 5);
    pack_str("metric");
    pack_str("pm25");
    pack_str("tags");
    msgpack_pack_map(&pk, 2);
    pack_str("station");
    pack_str("s01");
    pack_str("district");
    pack_str("jiulongpo \"north\"");
    pack_str("comment"); /* ignored */
    msgpack_pack_array(&pk, 1);
    msgpack_pack_nil(&pk);
    pack_str("t");
    msgpack_pack_array(&pk, 5);
    msgpack_pack_int64(&pk, 1700000000000LL);
    msgpack_pack_int64(&pk, -5);
    msgpack_pack_int64(&pk, 9223372036854LL);
    msgpack_pack_int64(&pk, -9223372036854LL);
    msgpack_pack_uint64(&pk, 0);
    pack_str("v");
    msgpack_pack_array(&pk, 5);
    msgpack_pack_double(&pk, 35.2);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_int64(&pk, -7);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_double(&pk, -0.0);

    /* series 1: no tags at all */
    msgpack_pack_map(&pk, 3);
    pack_str("metric");
    pack_str("nh3n");
    pack_str("t");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int64(&pk, 60000);
    pack_str("v");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_double(&pk, 0.125);

    /* series 2: the same series as 0 again (same key, tags in the other order) */
    msgpack_pack_map(&pk, 4);
    pack_str("v");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_double(&pk, 2.0);
    pack_str("t");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int64(&pk, 1);
    pack_str("tags");
    msgpack_pack_map(&pk, 2);
    pack_str("district");
    pack_str("jiulongpo \"north\"");
    pack_str("station");
    pack_str("s01");
    pack_str("metric");
    pack_str("pm25");

    /* series 3: empty arrays and nil tags: nothing to add */
    msgpack_pack_map(&pk, 4);
    pack_str("metric");
    pack_str("cod");
    pack_str("tags");
    msgpack_pack_nil(&pk);
    pack_str("t");
    msgpack_pack_array(&pk, 0);
    pack_str("v");
    msgpack_pack_array(&pk, 0);

    CHECK_INT(decode(), JL_OK);
    CHECK_INT(err.code, JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 7);
    CHECK_INT(st_batch_series_count(&batch), 2);
    const char *k0 = "pm25{district=\"jiulongpo \\\"north\\\"\",station=\"s01\"}";
    CHECK_POINT(0, k0, 1700000000000LL, 35.2);
    CHECK_POINT(1, k0, -5, 1.5);
    CHECK_POINT(2, k0, 9223372036854LL, -7.0);
    CHECK_POINT(3, k0, -9223372036854LL, 18446744073709551616.0);
    CHECK_POINT(4, k0, 0, -0.0);
    CHECK_POINT(5, "nh3n", 60000, 0.125);
    CHECK_POINT(6, k0, 1, 2.0);
    CHECK_INT(st_batch_point_series(&batch, 6), 0);

    /* an empty series array is a valid empty batch */
    begin_series(0);
    CHECK_INT(decode(), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 0);
}

static void test_large_batch(void)
{
    begin_series(3);
    pack_simple_series("pm10", "a", 10000);
    pack_simple_series("pm10", "b", 1);
    pack_simple_series("o3", "\xe6\xb1\x9f\xe5\x8c\x97", 70000); /* array32 of 70000 */
    CHECK_INT(decode(), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 80001);
    CHECK_INT(st_batch_series_count(&batch), 3);
    CHECK_POINT(9999, "pm10{station=\"a\"}", 9999000, 9999.5);
    CHECK_POINT(10000, "pm10{station=\"b\"}", 0, 0.5);
    CHECK_POINT(80000, "o3{station=\"\xe6\xb1\x9f\xe5\x8c\x97\"}", 69999000LL, 69999.5);
}

static void test_schema_errors(void)
{
    begin();
    msgpack_pack_array(&pk, 0);
    CHECK_REFUSED("the msgpack body is an array; expected a map {\"series\": [...]}");

    begin();
    msgpack_pack_map(&pk, 1);
    pack_str("serie");
    msgpack_pack_array(&pk, 0);
    CHECK_REFUSED("the msgpack map has no \"series\" key");

    begin();
    msgpack_pack_map(&pk, 2);
    pack_str("series");
    msgpack_pack_array(&pk, 0);
    pack_str("series");
    msgpack_pack_array(&pk, 0);
    CHECK_REFUSED("the msgpack map has the key \"series\" twice");

    begin();
    msgpack_pack_map(&pk, 1);
    pack_str("series");
    msgpack_pack_map(&pk, 0);
    CHECK_REFUSED("\"series\" is a map, not an array");

    begin_series(2);
    pack_simple_series("ok", "x", 1);
    msgpack_pack_int(&pk, 5);
    CHECK_REFUSED("series[1] is an integer, not a map");

    begin_series(1);
    msgpack_pack_map(&pk, 0);
    CHECK_REFUSED("series[0] has no \"metric\"");

    begin_series(1);
    msgpack_pack_map(&pk, 1);
    pack_str("metric");
    msgpack_pack_double(&pk, 1.0);
    CHECK_REFUSED("series[0].metric is a float, not a string");

    begin_series(1);
    msgpack_pack_map(&pk, 2);
    pack_str("metric");
    pack_str("a");
    pack_str("metric");
    pack_str("b");
    CHECK_REFUSED("series[0] has the key \"metric\" more than once");

    begin_series(3);
    pack_simple_series("ok", "x", 1);
    pack_simple_series("ok", "y", 1);
    pack_simple_series("2pm", "x", 1);
    CHECK_REFUSED("series[2].metric \"2pm\" is not a valid metric name; names start with a letter "
                  "or '_' and contain only letters, digits, '_', '.' and '-'");

    begin_series(1);
    pack_simple_series("bad\"name\n", "x", 1);
    CHECK_REFUSED("series[0].metric \"bad\\\"name\\x0a\" is not a valid metric name; names start "
                  "with a letter or '_' and contain only letters, digits, '_', '.' and '-'");

    begin_series(1);
    msgpack_pack_map(&pk, 2);
    pack_str("metric");
    pack_str("m");
    pack_str("tags");
    msgpack_pack_array(&pk, 0);
    CHECK_REFUSED("series[0].tags is an array, not a map");

    begin_series(1);
    msgpack_pack_map(&pk, 2);
    pack_str("metric");
    pack_str("m");
    pack_str("tags");
    msgpack_pack_map(&pk, 1);
    msgpack_pack_int(&pk, 1);
    pack_str("v");
    CHECK_REFUSED("series[0].tags has a key that is an integer, not a string");

    begin_series(1);
    msgpack_pack_map(&pk, 2);
    pack_str("metric");
    pack_str("m");
    pack_str("tags");
    msgpack_pack_map(&pk, 1);
    pack_str("a b");
    pack_str("v");
    CHECK_REFUSED("series[0].tags key \"a b\" is not a valid tag key; names start with a letter or "
                  "'_' and contain only letters, digits, '_', '.' and '-'");

    begin_series(1);
    msgpack_pack_map(&pk, 2);
    pack_str("metric");
    pack_str("m");
    pack_str("tags");
    msgpack_pack_map(&pk, 1);
    pack_str("station");
    msgpack_pack_int(&pk, 7);
    CHECK_REFUSED("series[0].tags[\"station\"] is an integer, not a string");

    begin_series(1);
    pack_simple_series("m", "", 1);
    CHECK_REFUSED("series[0].tags[\"station\"] is empty");
    begin_series(1);
    pack_simple_series("m", "a\tb", 1);
    CHECK_REFUSED("series[0].tags[\"station\"] contains a control character");
    begin_series(1);
    pack_simple_series("m", "\xc3", 1);
    CHECK_REFUSED("series[0].tags[\"station\"] is not valid UTF-8");

    begin_series(1);
    msgpack_pack_map(&pk, 2);
    pack_str("metric");
    pack_str("m");
    pack_str("tags");
    msgpack_pack_map(&pk, 2);
    pack_str("a");
    pack_str("1");
    pack_str("a");
    pack_str("2");
    CHECK_REFUSED("series[0]: tag key \"a\" appears more than once");

    begin_series(1);
    msgpack_pack_map(&pk, 2);
    pack_str("metric");
    pack_str("m");
    pack_str("t");
    msgpack_pack_array(&pk, 0);
    CHECK_REFUSED("series[0] has no \"v\" array");

    begin_series(1);
    msgpack_pack_map(&pk, 3);
    pack_str("metric");
    pack_str("m");
    pack_str("t");
    msgpack_pack_int(&pk, 1);
    pack_str("v");
    msgpack_pack_array(&pk, 0);
    CHECK_REFUSED("series[0].t is an integer, not an array");

    begin_series(1);
    msgpack_pack_map(&pk, 3);
    pack_str("metric");
    pack_str("m");
    pack_str("t");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    pack_str("v");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_double(&pk, 1);
    CHECK_REFUSED("series[0] has 2 timestamps in \"t\" but 1 values in \"v\"; they must pair up");
}

/* A series whose t and v are given, one element patched by the caller through `bad_index`. */
static void pack_points_with(uint32_t n, uint32_t bad_index, int bad_in_t, void (*pack_bad)(void))
{
    msgpack_pack_map(&pk, 3);
    pack_str("metric");
    pack_str("m");
    pack_str("t");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        if (bad_in_t && i == bad_index)
            pack_bad();
        else
            msgpack_pack_int64(&pk, i);
    }
    pack_str("v");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        if (!bad_in_t && i == bad_index)
            pack_bad();
        else
            msgpack_pack_double(&pk, i);
    }
}

static void bad_nan(void)
{
    msgpack_pack_double(&pk, NAN);
}
static void bad_inf(void)
{
    msgpack_pack_double(&pk, -INFINITY);
}
static void bad_float32_inf(void)
{
    msgpack_pack_float(&pk, INFINITY);
}
static void bad_string(void)
{
    pack_str("12");
}
static void bad_nil(void)
{
    msgpack_pack_nil(&pk);
}
static void bad_bool(void)
{
    msgpack_pack_true(&pk);
}
static void bad_float_time(void)
{
    msgpack_pack_double(&pk, 1.7e12);
}
static void bad_late(void)
{
    msgpack_pack_int64(&pk, 9223372036855LL);
}
static void bad_early(void)
{
    msgpack_pack_int64(&pk, -9223372036855LL);
}
static void bad_huge(void)
{
    msgpack_pack_uint64(&pk, UINT64_MAX);
}

static void test_point_errors(void)
{
    struct {
        int in_t;
        void (*pack_bad)(void);
        const char *message;
    } cases[] = {
        {0, bad_nan, "series[2].v[17] is NaN"},
        {0, bad_inf, "series[2].v[17] is infinite"},
        {0, bad_float32_inf, "series[2].v[17] is infinite"},
        {0, bad_string, "series[2].v[17] is a string, not a number"},
        {0, bad_nil, "series[2].v[17] is nil, not a number"},
        {0, bad_bool, "series[2].v[17] is a boolean, not a number"},
        {1, bad_float_time, "series[2].t[17] is a float, not an integer (milliseconds)"},
        {1, bad_string, "series[2].t[17] is a string, not an integer (milliseconds)"},
        {1, bad_late,
         "series[2].t[17] is 9223372036855, out of range; timestamps are milliseconds between "
         "-9223372036854 and 9223372036854"},
        {1, bad_early,
         "series[2].t[17] is -9223372036855, out of range; timestamps are milliseconds between "
         "-9223372036854 and 9223372036854"},
        {1, bad_huge,
         "series[2].t[17] is 18446744073709551615, out of range; timestamps are milliseconds "
         "between -9223372036854 and 9223372036854"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        begin_series(3);
        pack_simple_series("a", "x", 3);
        pack_simple_series("b", "y", 30);
        pack_points_with(20, 17, cases[i].in_t, cases[i].pack_bad);
        CHECK_REFUSED(cases[i].message);
    }
}

static void test_framing_errors(void)
{
    /* a valid body, then every proper prefix of it */
    begin_series(2);
    pack_simple_series("pm25", "s01", 3);
    msgpack_pack_map(&pk, 4);
    pack_str("metric");
    pack_str("pm10");
    pack_str("tags");
    msgpack_pack_map(&pk, 0);
    pack_str("t");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int64(&pk, 1700000000000LL);
    msgpack_pack_int64(&pk, -300);
    pack_str("v");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_float(&pk, 2.5f);
    msgpack_pack_uint64(&pk, 1u << 20);
    CHECK_INT(decode(), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 5);
    size_t full = sbuf.size;
    char *copy = malloc(full + 1);
    memcpy(copy, sbuf.data, full);
    int bad = 0;
    for (size_t n = 0; n < full; n++) {
        /* a fresh allocation of exactly n bytes lets ASan catch any read past the end */
        char *prefix = malloc(n ? n : 1);
        memcpy(prefix, copy, n);
        st_batch_reset(&batch);
        int rc = ig_parse_msgpack(prefix, n, &batch, &err);
        if (rc != JL_EINVAL || err.message[0] == '\0' || st_batch_point_count(&batch) != 0)
            bad++;
        free(prefix);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(ig_parse_msgpack(copy, 0, &batch, &err), JL_EINVAL);
    CHECK_STR(err.message, "the msgpack body is empty");
    CHECK_INT(ig_parse_msgpack(copy, full - 1, &batch, &err), JL_EINVAL);
    char expected[128];
    snprintf(expected, sizeof expected,
             "the msgpack body is truncated: it ends in the middle of a value (%zu bytes)",
             full - 1);
    CHECK_STR(err.message, expected);
    copy[full] = (char)0xc0; /* one nil too many */
    CHECK_INT(ig_parse_msgpack(copy, full + 1, &batch, &err), JL_EINVAL);
    CHECK_STR(err.message, "the msgpack body has 1 extra bytes after its first value");
    free(copy);

    /* length headers that promise far more than the body holds must not allocate it */
    static const unsigned char huge_array[] = {0x81, 0xa6, 's',  'e',  'r',  'i', 'e',
                                               's',  0xdd, 0xff, 0xff, 0xff, 0xff};
    CHECK_INT(ig_parse_msgpack((const char *)huge_array, sizeof huge_array, &batch, &err),
              JL_EINVAL);
    CHECK_STR(err.message, "the msgpack body is truncated: it ends in the middle of a value (13 "
                           "bytes)");
    static const unsigned char huge_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0, 0xc0};
    CHECK_INT(ig_parse_msgpack((const char *)huge_map, sizeof huge_map, &batch, &err), JL_EINVAL);
    static const unsigned char huge_str[] = {0x81, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'a'};
    CHECK_INT(ig_parse_msgpack((const char *)huge_str, sizeof huge_str, &batch, &err), JL_EINVAL);
    static const unsigned char reserved[] = {0x91, 0xc1};
    CHECK_INT(ig_parse_msgpack((const char *)reserved, sizeof reserved, &batch, &err), JL_EINVAL);
    CHECK_STR(err.message, "the body is not valid msgpack: byte 0xc1 at offset 1 starts no value");

    /* deep nesting is refused before msgpack-c sees it */
    unsigned char deep[200];
    memset(deep, 0x91, sizeof deep); /* [[[[...]]]] */
    deep[sizeof deep - 1] = 0x01;
    CHECK_INT(ig_parse_msgpack((const char *)deep, sizeof deep, &batch, &err), JL_EINVAL);
    CHECK_STR(err.message, "the msgpack body nests containers more than 24 levels deep");
    /* 20 levels are fine as msgpack (and then refused as not a map) */
    CHECK_INT(ig_parse_msgpack((const char *)deep + sizeof deep - 21, 21, &batch, &err), JL_EINVAL);
    CHECK_STR(err.message, "the msgpack body is an array; expected a map {\"series\": [...]}");
}

static void test_random_bytes(void)
{
    uint64_t state = 0xabad1deaull;
    printf("  test_random_bytes seed 0xabad1dea\n");
    unsigned char buf[64];
    int bad = 0;
    for (int round = 0; round < 200000; round++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = (state >> 33) % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (unsigned char)(state >> 40);
        }
        /* make some inputs start like a batch */
        if (n > 9 && (round & 1)) {
            memcpy(buf, "\x81\xa6series", 8);
        }
        st_batch_reset(&batch);
        int rc = ig_parse_msgpack((const char *)buf, n, &batch, &err);
        if (rc != JL_OK && (rc != JL_EINVAL || err.message[0] == '\0'))
            bad++;
    }
    CHECK_INT(bad, 0);
}

/* A series of three points t = 0, 1000, 2000, v = 1, 2, 3, with "f" packed by pack_f. */
static void pack_flagged(void (*pack_f)(void))
{
    begin_series(1);
    msgpack_pack_map(&pk, 4);
    pack_str("metric");
    pack_str("nh3n");
    pack_str("t");
    msgpack_pack_array(&pk, 3);
    for (int i = 0; i < 3; i++)
        msgpack_pack_int64(&pk, i * 1000);
    pack_str("f");
    pack_f();
    pack_str("v");
    msgpack_pack_array(&pk, 3);
    for (int i = 0; i < 3; i++)
        msgpack_pack_double(&pk, i + 1.0);
}

static void f_good(void)
{
    msgpack_pack_array(&pk, 3);
    pack_str("N");
    pack_str("M");
    pack_str("T");
}

static void f_bad_letter(void)
{
    msgpack_pack_array(&pk, 3);
    pack_str("N");
    pack_str("N");
    pack_str("x");
}

static void f_two_letters(void)
{
    msgpack_pack_array(&pk, 3);
    pack_str("MC");
    pack_str("N");
    pack_str("N");
}

static void f_integer(void)
{
    msgpack_pack_array(&pk, 3);
    pack_str("N");
    msgpack_pack_int(&pk, 2);
    pack_str("N");
}

static void f_short(void)
{
    msgpack_pack_array(&pk, 2);
    pack_str("N");
    pack_str("N");
}

static void f_not_array(void)
{
    pack_str("M");
}

/* The optional "f" array: one HJ 212 letter per reading, codes as jialing/flag.h numbers them. */
static void test_flags(void)
{
    pack_flagged(f_good);
    CHECK_INT(decode(), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 3);
    CHECK_POINT(0, "nh3n", 0, 1.0);
    CHECK_POINT(2, "nh3n", 2000, 3.0);
    CHECK_INT(st_batch_point_flag(&batch, 0), 0);
    CHECK_INT(st_batch_point_flag(&batch, 1), 2);
    CHECK_INT(st_batch_point_flag(&batch, 2), 6);

    pack_flagged(f_bad_letter);
    CHECK_REFUSED("series[0].f[2] is \"x\"; a flag is one of the HJ 212 letters N F M S D C T B");
    pack_flagged(f_two_letters);
    CHECK_REFUSED("series[0].f[0] is \"MC\"; a flag is one of the HJ 212 letters N F M S D C T B");
    pack_flagged(f_integer);
    CHECK_REFUSED("series[0].f[1] is an integer, not a string");
    pack_flagged(f_short);
    CHECK_REFUSED("series[0] has 3 timestamps in \"t\" but 2 flags in \"f\"; they must pair up");
    pack_flagged(f_not_array);
    CHECK_REFUSED("series[0].f is a string, not an array");
    CHECK_INT(st_batch_point_count(&batch), 0);

    /* Without "f" every reading is N. */
    begin_series(1);
    pack_simple_series("pm25", "s1", 2);
    CHECK_INT(decode(), JL_OK);
    CHECK_INT(st_batch_point_flag(&batch, 0), 0);
    CHECK_INT(st_batch_point_flag(&batch, 1), 0);
}

int main(void)
{
    st_batch_init(&batch);
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    RUN(test_valid_batch);
    RUN(test_large_batch);
    RUN(test_schema_errors);
    RUN(test_point_errors);
    RUN(test_flags);
    RUN(test_framing_errors);
    RUN(test_random_bytes);
    msgpack_sbuffer_destroy(&sbuf);
    st_batch_destroy(&batch);
    return CHECK_DONE();
}
