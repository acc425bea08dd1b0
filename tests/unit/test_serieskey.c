/* Tests of storage/serieskey.c (name and value validation, canonical keys and their parsing) and
 * of storage/batch.c (series deduplication and points), which parsers use together. */
#include "check.h"

#include "jialing/serieskey.h"
#include "jialing/store.h"

#include <stdlib.h>

#define TEXT(s) ((sk_text){(s), sizeof(s) - 1})

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    /* xorshift64*: deterministic across platforms, seeded and printed by each test */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void test_name_valid(void)
{
    CHECK_INT(sk_name_valid("a", 1), 1);
    CHECK_INT(sk_name_valid("_", 1), 1);
    CHECK_INT(sk_name_valid("pm2.5", 5), 1);
    CHECK_INT(sk_name_valid("nh3-n_mg.L", 10), 1);
    CHECK_INT(sk_name_valid("Z9", 2), 1);
    CHECK_INT(sk_name_valid("", 0), 0);
    CHECK_INT(sk_name_valid("2pm", 3), 0);
    CHECK_INT(sk_name_valid(".a", 2), 0);
    CHECK_INT(sk_name_valid("-a", 2), 0);
    CHECK_INT(sk_name_valid("a b", 3), 0);
    CHECK_INT(sk_name_valid("a,b", 3), 0);
    CHECK_INT(sk_name_valid("a{", 2), 0);
    CHECK_INT(sk_name_valid("a\0", 2), 0);
    CHECK_INT(sk_name_valid("\xc3\xa9", 2), 0);
    /* only the first len bytes count */
    CHECK_INT(sk_name_valid("ab cd", 2), 1);

    char name[SK_MAX_NAME_BYTES + 1];
    memset(name, 'x', sizeof name);
    CHECK_INT(sk_name_valid(name, SK_MAX_NAME_BYTES), 1);
    CHECK_INT(sk_name_valid(name, SK_MAX_NAME_BYTES + 1), 0);

    /* every single byte, against the rule written out differently */
    for (int c = 0; c < 256; c++) {
        char s[2] = {'a', (char)c};
        int expect = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '.' || c == '-';
        CHECK_INT(sk_name_valid(s, 2), expect);
        int expect_first = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        CHECK_INT(sk_name_valid(s + 1, 1), expect_first);
    }
}

/* Reference: decode code points and apply the rules directly. */
static int ref_value_valid(const unsigned char *s, size_t n)
{
    if (n == 0 || n > SK_MAX_VALUE_BYTES)
        return 0;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

static void test_value_valid(void)
{
    CHECK_INT(sk_value_valid("x", 1), 1);
    CHECK_INT(sk_value_valid("jlp-01 \"north\" {a=b},\\", 22), 1);
    CHECK_INT(sk_value_valid("\xe6\xb1\x9f\xe5\x8c\x97", 6), 1); /* 江北 */
    CHECK_INT(sk_value_valid("\xf0\x9f\x98\x80", 4), 1);         /* U+1F600 */
    CHECK_INT(sk_value_valid("\xc2\x85", 2), 1); /* U+0085 is not in the refused ranges */
    CHECK_INT(sk_value_valid("\xef\xbf\xbf", 3), 1);
    CHECK_INT(sk_value_valid("\xf4\x8f\xbf\xbf", 4), 1);
    CHECK_INT(sk_value_valid("\xed\x9f\xbf", 3), 1);
    CHECK_INT(sk_value_valid("", 0), 0);
    CHECK_INT(sk_value_valid("\0", 1), 0);
    CHECK_INT(sk_value_valid("a\nb", 3), 0);
    CHECK_INT(sk_value_valid("a\tb", 3), 0);
    CHECK_INT(sk_value_valid("\x1f", 1), 0);
    CHECK_INT(sk_value_valid("\x7f", 1), 0);
    CHECK_INT(sk_value_valid("\xc0\x80", 2), 0);         /* overlong NUL */
    CHECK_INT(sk_value_valid("\xc1\xbf", 2), 0);         /* overlong */
    CHECK_INT(sk_value_valid("\xe0\x80\x80", 3), 0);     /* overlong */
    CHECK_INT(sk_value_valid("\xed\xa0\x80", 3), 0);     /* surrogate */
    CHECK_INT(sk_value_valid("\xf4\x90\x80\x80", 4), 0); /* above U+10FFFF */
    CHECK_INT(sk_value_valid("\xf5\x80\x80\x80", 4), 0);
    CHECK_INT(sk_value_valid("\xe6\xb1", 2), 0); /* truncated */
    CHECK_INT(sk_value_valid("\x80", 1), 0);
    CHECK_INT(sk_value_valid("\xff", 1), 0);

    char big[SK_MAX_VALUE_BYTES + 1];
    memset(big, 'v', sizeof big);
    CHECK_INT(sk_value_valid(big, SK_MAX_VALUE_BYTES), 1);
    CHECK_INT(sk_value_valid(big, SK_MAX_VALUE_BYTES + 1), 0);

    /* Every one-, two- and three-byte string against the reference. */
    long mismatches = 0;
    unsigned char s[4];
    for (uint32_t v = 0; v < (1u << 24); v++) {
        s[0] = (unsigned char)(v >> 16);
        s[1] = (unsigned char)(v >> 8);
        s[2] = (unsigned char)v;
        if (sk_value_valid((char *)s, 3) != ref_value_valid(s, 3))
            mismatches++;
        if (v < (1u << 16) && sk_value_valid((char *)s + 1, 2) != ref_value_valid(s + 1, 2))
            mismatches++;
    }
    CHECK_INT(mismatches, 0);

    rng_state = 0x5eed5eed12345ull;
    printf("  test_value_valid seed 0x5eed5eed12345\n");
    for (int i = 0; i < 2000000; i++) {
        uint64_t r = rng_next();
        size_t n = 1 + (r & 7);
        unsigned char buf[8];
        for (size_t k = 0; k < n; k++) {
            uint64_t x = rng_next();
            /* bias toward bytes that start or continue multibyte sequences */
            buf[k] = (unsigned char)((x & 3) == 0   ? x >> 8
                                     : (x & 3) == 1 ? 0x80 | ((x >> 8) & 0x3f)
                                     : (x & 3) == 2 ? 0xe0 | ((x >> 8) & 0x1f)
                                                    : 0x20 + ((x >> 8) % 95));
        }
        if (sk_value_valid((char *)buf, n) != ref_value_valid(buf, n))
            mismatches++;
    }
    CHECK_INT(mismatches, 0);
}

static void test_build_sorted_escaped(void)
{
    jl_buf out;
    jl_buf_init(&out);
    jl_error err;

    sk_tag tags[2] = {{TEXT("station"), TEXT("s01")}, {TEXT("district"), TEXT("jiulongpo")}};
    CHECK_INT(sk_build(TEXT("pm25"), tags, 2, &out, &err), JL_OK);
    CHECK_STR(out.data, "pm25{district=\"jiulongpo\",station=\"s01\"}");
    CHECK_INT(out.len, strlen("pm25{district=\"jiulongpo\",station=\"s01\"}"));
    /* the array was sorted in place */
    CHECK(tags[0].key.len == 8 && memcmp(tags[0].key.data, "district", 8) == 0);

    out.len = 0;
    CHECK_INT(sk_build(TEXT("m"), NULL, 0, &out, &err), JL_OK);
    CHECK_STR(out.data, "m");

    /* bytewise order: 'B' < '_' < 'a' < "a.b" < "ab" */
    sk_tag many[5] = {{TEXT("ab"), TEXT("5")},
                      {TEXT("a"), TEXT("3")},
                      {TEXT("_"), TEXT("2")},
                      {TEXT("a.b"), TEXT("4")},
                      {TEXT("B"), TEXT("1")}};
    out.len = 0;
    CHECK_INT(sk_build(TEXT("m"), many, 5, &out, &err), JL_OK);
    CHECK_STR(out.data, "m{B=\"1\",_=\"2\",a=\"3\",a.b=\"4\",ab=\"5\"}");

    /* only \ and " are escaped; braces, commas and equals signs are not */
    sk_tag odd[1] = {{TEXT("t"), TEXT("a\"b\\c{d},e=f \xe6\xb1\x9f")}};
    out.len = 0;
    CHECK_INT(sk_build(TEXT("m"), odd, 1, &out, &err), JL_OK);
    CHECK_STR(out.data, "m{t=\"a\\\"b\\\\c{d},e=f \xe6\xb1\x9f\"}");

    /* sk_build appends */
    jl_buf_destroy(&out);
    jl_buf_append_str(&out, "X");
    sk_tag one[1] = {{TEXT("k"), TEXT("v")}};
    CHECK_INT(sk_build(TEXT("m"), one, 1, &out, &err), JL_OK);
    CHECK_STR(out.data, "Xm{k=\"v\"}");
    jl_buf_destroy(&out);
}

static void test_build_errors(void)
{
    jl_buf out;
    jl_buf_init(&out);
    jl_buf_append_str(&out, "keep");
    jl_error err;

    CHECK_INT(sk_build(TEXT("2pm"), NULL, 0, &out, &err), JL_EINVAL);
    CHECK_STR(err.message, "metric name \"2pm\" is not valid; names start with a letter or '_' "
                           "and contain only letters, digits, '_', '.' and '-'");
    sk_tag bad_key[1] = {{TEXT("a b"), TEXT("v")}};
    CHECK_INT(sk_build(TEXT("m"), bad_key, 1, &out, &err), JL_EINVAL);
    CHECK_STR(err.message, "tag key \"a b\" is not valid; names start with a letter or '_' and "
                           "contain only letters, digits, '_', '.' and '-'");
    sk_tag empty[1] = {{TEXT("a"), TEXT("")}};
    CHECK_INT(sk_build(TEXT("m"), empty, 1, &out, &err), JL_EINVAL);
    CHECK_STR(err.message, "the value of tag \"a\" is empty");
    sk_tag ctl[1] = {{TEXT("a"), TEXT("x\ny")}};
    CHECK_INT(sk_build(TEXT("m"), ctl, 1, &out, &err), JL_EINVAL);
    CHECK_STR(err.message, "the value of tag \"a\" contains a control character");
    sk_tag utf[1] = {{TEXT("a"), TEXT("x\xff")}};
    CHECK_INT(sk_build(TEXT("m"), utf, 1, &out, &err), JL_EINVAL);
    CHECK_STR(err.message, "the value of tag \"a\" is not valid UTF-8");
    sk_tag dup[3] = {{TEXT("b"), TEXT("1")}, {TEXT("a"), TEXT("2")}, {TEXT("b"), TEXT("3")}};
    CHECK_INT(sk_build(TEXT("m"), dup, 3, &out, &err), JL_EINVAL);
    CHECK_STR(err.message, "tag key \"b\" appears more than once");

    sk_tag lots[SK_MAX_TAGS + 1];
    char names[SK_MAX_TAGS + 1][16];
    for (int i = 0; i <= SK_MAX_TAGS; i++) {
        snprintf(names[i], sizeof names[i], "t%02d", i);
        lots[i].key.data = names[i];
        lots[i].key.len = 3;
        lots[i].value.data = "v";
        lots[i].value.len = 1;
    }
    CHECK_INT(sk_build(TEXT("m"), lots, SK_MAX_TAGS + 1, &out, &err), JL_EINVAL);
    CHECK_STR(err.message, "a series has 65 tags; at most 64 are allowed");
    CHECK_INT(sk_build(TEXT("m"), lots, SK_MAX_TAGS, &out, &err), JL_OK);
    out.len = 4;

    /* 8 tags of 1000-byte values: 8 * (3 + 4 + 1000) + 1 + 1 = 8058 bytes, fits; 9 do not */
    static char value[1000];
    memset(value, 'v', sizeof value);
    for (int i = 0; i < 9; i++) {
        lots[i].value.data = value;
        lots[i].value.len = sizeof value;
    }
    CHECK_INT(sk_build(TEXT("m"), lots, 8, &out, &err), JL_OK);
    CHECK_INT(out.len, 4 + 8058);
    out.len = 4;
    CHECK_INT(sk_build(TEXT("m"), lots, 9, &out, &err), JL_EINVAL);
    CHECK_STR(err.message, "the series key would be 9065 bytes long; at most 8192 are allowed");
    /* failures leave out as it was */
    CHECK_INT(out.len, 4);
    CHECK(memcmp(out.data, "keep", 4) == 0);
    jl_buf_destroy(&out);
}

static const char *const pieces[] = {
    "a", "\"", "\\", "{", "}", ",", "=", " ", "\xe6\xb1\x9f", "\xf0\x9f\x98\x80", "\\\"", "z9"};

static void test_parse_roundtrip(void)
{
    rng_state = 0xc0ffee0042ull;
    printf("  test_parse_roundtrip seed 0xc0ffee0042\n");
    static const char *const keys[] = {"station", "district", "a", "B", "_x", "a.b", "a-b", "z"};
    jl_buf out;
    jl_buf_init(&out);
    jl_error err;
    for (int round = 0; round < 3000; round++) {
        sk_tag tags[8];
        char values[8][64];
        size_t n = rng_next() % 9;
        /* pick n distinct keys */
        int used[8] = {0};
        for (size_t i = 0; i < n; i++) {
            size_t k;
            do {
                k = rng_next() % 8;
            } while (used[k]);
            used[k] = 1;
            tags[i].key.data = keys[k];
            tags[i].key.len = strlen(keys[k]);
            size_t len = 0, parts = 1 + rng_next() % 6;
            for (size_t p = 0; p < parts; p++) {
                const char *piece = pieces[rng_next() % (sizeof pieces / sizeof pieces[0])];
                memcpy(values[i] + len, piece, strlen(piece));
                len += strlen(piece);
            }
            tags[i].value.data = values[i];
            tags[i].value.len = len;
        }
        out.len = 0;
        CHECK_INT(sk_build(TEXT("pm2.5"), tags, n, &out, &err), JL_OK);
        sk_parsed parsed;
        CHECK_INT(sk_parse(out.data, out.len, &parsed, &err), JL_OK);
        CHECK(parsed.metric.len == 5 && memcmp(parsed.metric.data, "pm2.5", 5) == 0);
        CHECK_INT(parsed.tag_count, n);
        for (size_t i = 0; i < n && i < parsed.tag_count; i++) {
            /* tags came back sorted (sk_build sorted `tags` in place) and unescaped */
            CHECK(parsed.tags[i].key.len == tags[i].key.len &&
                  memcmp(parsed.tags[i].key.data, tags[i].key.data, tags[i].key.len) == 0);
            CHECK(parsed.tags[i].value.len == tags[i].value.len &&
                  memcmp(parsed.tags[i].value.data, tags[i].value.data, tags[i].value.len) == 0);
            CHECK_INT(parsed.tags[i].value.data[parsed.tags[i].value.len], 0);
            if (i > 0)
                CHECK(strcmp(parsed.tags[i - 1].key.data, parsed.tags[i].key.data) < 0);
        }
        /* building from the parsed form gives the same key */
        jl_buf again;
        jl_buf_init(&again);
        CHECK_INT(sk_build(parsed.metric, parsed.tags, parsed.tag_count, &again, &err), JL_OK);
        CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
        jl_buf_destroy(&again);
        sk_parsed_destroy(&parsed);
    }
    jl_buf_destroy(&out);

    sk_parsed parsed;
    CHECK_INT(sk_parse("m", 1, &parsed, &err), JL_OK);
    CHECK_STR(parsed.metric.data, "m");
    CHECK_INT(parsed.tag_count, 0);
    sk_parsed_destroy(&parsed);
    const char *key = "m{a=\"x\\\"y\\\\\",b=\"{},=\"}";
    CHECK_INT(sk_parse(key, strlen(key), &parsed, &err), JL_OK);
    CHECK_INT(parsed.tag_count, 2);
    CHECK_STR(parsed.tags[0].key.data, "a");
    CHECK_STR(parsed.tags[0].value.data, "x\"y\\");
    CHECK_STR(parsed.tags[1].key.data, "b");
    CHECK_STR(parsed.tags[1].value.data, "{},=");
    sk_parsed_destroy(&parsed);
    sk_parsed_destroy(&parsed); /* harmless twice */
}

static void test_parse_corrupt(void)
{
    static const char *const bad[] = {
        "",
        "2m",
        "m{",
        "m{}",
        "m{a=\"x\"",
        "m{a=\"x\"}x",
        "m{a=x}",
        "m{a=\"x\",}",
        "m{a=\"x\"b=\"y\"}",
        "m{b=\"1\",a=\"2\"}",
        "m{a=\"1\",a=\"2\"}",
        "m{a=\"\\q\"}",
        "m{a=\"\"}",
        "m{a=\"\x01\"}",
        "m{2=\"x\"}",
        "m x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sk_parsed parsed;
        jl_error err;
        jl_error_clear(&err);
        int rc = sk_parse(bad[i], strlen(bad[i]), &parsed, &err);
        if (rc != JL_ECORRUPT)
            fprintf(stderr, "  case %zu: \"%s\" gave %d\n", i, bad[i], rc);
        CHECK_INT(rc, JL_ECORRUPT);
        CHECK(strncmp(err.message, "stored series key \"", 19) == 0);
        sk_parsed_destroy(&parsed);
    }
    sk_parsed parsed;
    jl_error err;
    CHECK_INT(sk_parse("m{b=\"1\",a=\"2\"}", 14, &parsed, &err), JL_ECORRUPT);
    CHECK_STR(err.message, "stored series key \"m{b=\\\"1\\\",a=\\\"2\\\"}\" is corrupt: its tags "
                           "are not sorted or repeat a key");
    sk_parsed_destroy(&parsed);
}

static const char *batch_key(const st_batch *b, uint32_t s)
{
    return st_batch_series_key(b, s, NULL);
}

static void test_batch_dedup(void)
{
    st_batch b;
    st_batch_init(&b);
    uint32_t i1 = 99, i2 = 99, i3 = 99;
    CHECK_INT(st_batch_series(&b, "m{a=\"1\"}", 8, &i1), JL_OK);
    CHECK_INT(st_batch_series(&b, "m{a=\"2\"}", 8, &i2), JL_OK);
    CHECK_INT(st_batch_series(&b, "m{a=\"1\"}", 8, &i3), JL_OK);
    CHECK_INT(i1, 0);
    CHECK_INT(i2, 1);
    CHECK_INT(i3, 0);
    /* a prefix of a key is a different key */
    CHECK_INT(st_batch_series(&b, "m{a=\"1\"", 7, &i3), JL_OK);
    CHECK_INT(i3, 2);
    CHECK_INT(st_batch_series_count(&b), 3);
    CHECK_STR(batch_key(&b, 0), "m{a=\"1\"}");
    CHECK_STR(batch_key(&b, 1), "m{a=\"2\"}");
    CHECK_STR(batch_key(&b, 2), "m{a=\"1\"");
    CHECK_INT(b.key_lengths[2], 7);
    /* keys are NUL-terminated and back to back */
    CHECK_INT(b.key_offsets[1], 9);
    CHECK_INT(b.key_offsets[2], 18);
    CHECK_INT(b.keys.len, 26);

    CHECK_INT(st_batch_point(&b, 1, -5, 2.5), JL_OK);
    CHECK_INT(st_batch_point(&b, 0, 7, -0.0), JL_OK);
    CHECK_INT(st_batch_point_count(&b), 2);
    CHECK_INT(st_batch_point_series(&b, 0), 1);
    CHECK_INT(st_batch_point_ms(&b, 0), -5);
    CHECK_DOUBLE_BITS(st_batch_point_value(&b, 0), 2.5);
    CHECK_INT(st_batch_point_series(&b, 1), 0);
    CHECK_DOUBLE_BITS(st_batch_point_value(&b, 1), -0.0);

    st_batch_reset(&b);
    CHECK_INT(st_batch_series_count(&b), 0);
    CHECK_INT(st_batch_point_count(&b), 0);
    CHECK_INT(b.keys.len, 0);
    CHECK_INT(st_batch_series(&b, "m{a=\"2\"}", 8, &i2), JL_OK);
    CHECK_INT(i2, 0);
    CHECK_STR(batch_key(&b, 0), "m{a=\"2\"}");
    st_batch_destroy(&b);
    st_batch_destroy(&b); /* harmless twice */
}

static void test_batch_many(void)
{
    enum { N = 100000 };
    st_batch b;
    st_batch_init(&b);
    char key[64];
    int bad = 0;
    for (int round = 0; round < 2; round++) {
        for (uint32_t i = 0; i < N; i++) {
            int len = snprintf(key, sizeof key, "pm25{station=\"s%u\"}", i);
            uint32_t index;
            if (st_batch_series(&b, key, (size_t)len, &index) != JL_OK || index != i)
                bad++;
            if (st_batch_point(&b, index, (int64_t)i * 60000, i * 0.5) != JL_OK)
                bad++;
        }
    }
    CHECK_INT(bad, 0);
    CHECK_INT(st_batch_series_count(&b), N);
    CHECK_INT(st_batch_point_count(&b), 2 * N);
    CHECK(b.hash_capacity >= 2 * N);
    CHECK_INT(b.hash_capacity & (b.hash_capacity - 1), 0);
    CHECK_STR(batch_key(&b, 12345), "pm25{station=\"s12345\"}");
    CHECK_INT(st_batch_point_series(&b, N + 777), 777);
    CHECK_INT(st_batch_point_ms(&b, N + 777), 777 * 60000);
    CHECK_DOUBLE_BITS(st_batch_point_value(&b, N + 777), 388.5);
    size_t used = 0;
    for (uint32_t s = 0; s < b.hash_capacity; s++)
        used += b.hash_slots[s] != 0;
    CHECK_INT(used, N);

    /* after a reset the table is empty but keeps its memory */
    uint32_t capacity = b.hash_capacity;
    st_batch_reset(&b);
    CHECK_INT(b.hash_capacity, capacity);
    uint32_t index;
    CHECK_INT(st_batch_series(&b, "pm25{station=\"s5\"}", 18, &index), JL_OK);
    CHECK_INT(index, 0);
    st_batch_destroy(&b);

    /* keys that differ only in one byte at every position (hash tail handling) */
    st_batch_init(&b);
    char base[40];
    memset(base, 'k', sizeof base);
    for (size_t len = 1; len <= sizeof base; len++) {
        for (size_t pos = 0; pos < len; pos++) {
            char k[40];
            memcpy(k, base, len);
            k[pos] = 'q';
            CHECK_INT(st_batch_series(&b, k, len, &index), JL_OK);
        }
        CHECK_INT(st_batch_series(&b, base, len, &index), JL_OK);
    }
    CHECK_INT(st_batch_series_count(&b), 40 * 41 / 2 + 40);
    st_batch_destroy(&b);
}

int main(void)
{
    RUN(test_name_valid);
    RUN(test_value_valid);
    RUN(test_build_sorted_escaped);
    RUN(test_build_errors);
    RUN(test_parse_roundtrip);
    RUN(test_parse_corrupt);
    RUN(test_batch_dedup);
    RUN(test_batch_many);
    return CHECK_DONE();
}
