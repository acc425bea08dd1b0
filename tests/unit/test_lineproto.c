/* Tests of query/ingest/lineproto.c: exact series keys, millisecond timestamps and values (bitwise)
 * for the line-protocol syntax, and exact line/column/message for refused input. */
#include "check.h"

#include "jialing/ingest.h"
#include "jialing/serieskey.h"

#include <stdlib.h>

#define NOW 1700000000123LL

static st_batch batch;
static jl_error err;

static int parse_prec(const char *text, ig_precision precision)
{
    st_batch_reset(&batch);
    jl_error_clear(&err);
    return ig_parse_line_protocol(text, strlen(text), precision, NOW, &batch, &err);
}

static int parse(const char *text)
{
    return parse_prec(text, IG_PRECISION_NS);
}

static const char *key_of(size_t point)
{
    if (point >= st_batch_point_count(&batch))
        return "(no such point)";
    uint32_t s = st_batch_point_series(&batch, point);
    return st_batch_series_key(&batch, s, NULL);
}

/* Checks point i: series key, ms and value bits. */
#define CHECK_POINT(i, key, ms, value)                                                             \
    do {                                                                                           \
        CHECK_STR(key_of(i), key);                                                                 \
        if ((size_t)(i) < st_batch_point_count(&batch)) {                                          \
            CHECK_INT(st_batch_point_ms(&batch, i), ms);                                           \
            CHECK_DOUBLE_BITS(st_batch_point_value(&batch, i), value);                             \
        }                                                                                          \
    } while (0)

/* Checks a refusal: JL_EINVAL, line, column and the whole message. */
#define CHECK_FAIL(text, line_no, column_no, expected_message)                                     \
    do {                                                                                           \
        CHECK_INT(parse(text), JL_EINVAL);                                                         \
        CHECK_INT(err.code, JL_EINVAL);                                                            \
        CHECK_INT(err.line, line_no);                                                              \
        CHECK_INT(err.column, column_no);                                                          \
        CHECK_STR(err.message, expected_message);                                                  \
    } while (0)

static void test_simple(void)
{
    CHECK_INT(parse("pm25,station=s01,district=jlp value=35.2 1700000000000000000\n"), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 1);
    CHECK_INT(st_batch_series_count(&batch), 1);
    CHECK_POINT(0, "pm25{district=\"jlp\",station=\"s01\"}", 1700000000000LL, 35.2);
    CHECK_INT(err.code, JL_OK);

    /* no tags, no timestamp, no final newline */
    CHECK_INT(parse("cpu value=1"), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 1);
    CHECK_POINT(0, "cpu", NOW, 1.0);

    CHECK_INT(parse(""), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 0);
    CHECK_INT(parse("\n\n   \n# only a comment\n\t# indented comment\r\n"), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 0);
}

static void test_fields_mapping(void)
{
    CHECK_INT(parse("weather,station=a temp=21.5,humidity=60i,value=3,values=4,Value=5 1000000\n"),
              JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 5);
    CHECK_INT(st_batch_series_count(&batch), 5);
    CHECK_POINT(0, "weather_temp{station=\"a\"}", 1, 21.5);
    CHECK_POINT(1, "weather_humidity{station=\"a\"}", 1, 60.0);
    CHECK_POINT(2, "weather{station=\"a\"}", 1, 3.0);
    CHECK_POINT(3, "weather_values{station=\"a\"}", 1, 4.0);
    CHECK_POINT(4, "weather_Value{station=\"a\"}", 1, 5.0);

    /* a field name may start with a digit: it follows "m_" */
    CHECK_INT(parse("pm2.5 2x=1,a.b-c=2"), JL_OK);
    CHECK_POINT(0, "pm2.5_2x", NOW, 1.0);
    CHECK_POINT(1, "pm2.5_a.b-c", NOW, 2.0);

    /* many fields (more than the initial field buffer) */
    char line[2048];
    size_t n = (size_t)snprintf(line, sizeof line, "m ");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%sf%d=%di", i ? "," : "", i, i * 3);
    snprintf(line + n, sizeof line - n, " 5000000");
    CHECK_INT(parse(line), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 40);
    CHECK_POINT(0, "m_f0", 5, 0.0);
    CHECK_POINT(39, "m_f39", 5, 117.0);

    /* the same series on several lines is one series */
    CHECK_INT(parse("m,t=1 v=1 1000000\nm,t=1 v=2 2000000\nm,t=2 v=3 3000000\nm,t=1 v=4 4000000"),
              JL_OK);
    CHECK_INT(st_batch_series_count(&batch), 2);
    CHECK_INT(st_batch_point_count(&batch), 4);
    CHECK_INT(st_batch_point_series(&batch, 0), 0);
    CHECK_INT(st_batch_point_series(&batch, 1), 0);
    CHECK_INT(st_batch_point_series(&batch, 2), 1);
    CHECK_INT(st_batch_point_series(&batch, 3), 0);
    CHECK_POINT(3, "m_v{t=\"1\"}", 4, 4.0);
}

static void test_whitespace_comments_crlf(void)
{
    const char *body = "# header comment\r\n"
                       "\r\n"
                       "  m,t=a f=1 1000000  \r\n"
                       "\tm,t=b\tf=2\t2000000\t\n"
                       "   # another\n"
                       "m,t=c  f=3   3000000\n"
                       "m,t=d f=4\r\n"
                       "\n";
    CHECK_INT(parse(body), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 4);
    CHECK_POINT(0, "m_f{t=\"a\"}", 1, 1.0);
    CHECK_POINT(1, "m_f{t=\"b\"}", 2, 2.0);
    CHECK_POINT(2, "m_f{t=\"c\"}", 3, 3.0);
    CHECK_POINT(3, "m_f{t=\"d\"}", NOW, 4.0);

    /* an error after such lines names the right line */
    CHECK_FAIL("# c\r\n\r\nm f=1\r\nm f=true\r\n", 4, 5,
               "line 4, column 5: field \"f\" is a boolean; only numeric fields are stored");
}

static void test_tags_sorted_and_escaped(void)
{
    CHECK_INT(parse("m,z=1,a=2,M=3,_=4 f=1 0"), JL_OK);
    CHECK_POINT(0, "m_f{M=\"3\",_=\"4\",a=\"2\",z=\"1\"}", 0, 1.0);

    /* escaped comma, equals sign, space and backslash in a tag value */
    CHECK_INT(parse("m,t=a\\,b\\=c\\ d\\\\e f=1 0"), JL_OK);
    CHECK_POINT(0, "m_f{t=\"a,b=c d\\\\e\"}", 0, 1.0);
    /* a backslash before another byte is literal; quotes are literal in tag values */
    CHECK_INT(parse("m,t=a\\b,u=say\"hi\" f=1 0"), JL_OK);
    CHECK_POINT(0, "m_f{t=\"a\\\\b\",u=\"say\\\"hi\\\"\"}", 0, 1.0);
    /* a trailing escaped backslash, then the next tag */
    CHECK_INT(parse("m,t=x\\\\,u=y f=1 0"), JL_OK);
    CHECK_POINT(0, "m_f{t=\"x\\\\\",u=\"y\"}", 0, 1.0);
    /* UTF-8 tag values pass through */
    CHECK_INT(parse("pm25,district=\xe6\xb1\x9f\xe5\x8c\x97 value=12.5 0"), JL_OK);
    CHECK_POINT(0, "pm25{district=\"\xe6\xb1\x9f\xe5\x8c\x97\"}", 0, 12.5);
    /* braces and other punctuation are fine in values */
    CHECK_INT(parse("m,t={}[]:;'@#$%^&*()!~`|/<>? f=1 0"), JL_OK);
    CHECK_POINT(0, "m_f{t=\"{}[]:;'@#$%^&*()!~`|/<>?\"}", 0, 1.0);

    /* 64 tags are allowed, 65 are not */
    char line[1024];
    size_t n = (size_t)snprintf(line, sizeof line, "m");
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, ",t%02d=v", i);
    snprintf(line + n, sizeof line - n, " f=1 0");
    CHECK_INT(parse(line), JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 1);
    snprintf(line + n, sizeof line - n, ",t64=v f=1 0");
    /* "m" + 64 * ",tNN=v" is 385 bytes; the 65th tag starts at column 387 */
    CHECK_FAIL(line, 1, 387, "line 1, column 387: the line has more than 64 tags");
}

/* The key the parser builds must equal sk_build's: random tag sets with every escape. */
static void test_keys_match_sk_build(void)
{
    uint64_t state = 0x1234abcd9876ull;
    printf("  test_keys_match_sk_build seed 0x1234abcd9876\n");
    static const char *const pieces[] = {"a", ",", "=", " ", "\\", "\"", "\xc3\xa9", "{", "}", "9"};
    static const char *const keys[] = {"station", "a", "Z", "_k", "a.b", "x-y"};
    jl_buf line, expect;
    jl_buf_init(&line);
    jl_buf_init(&expect);
    for (int round = 0; round < 2000; round++) {
        sk_tag tags[6];
        char values[6][64];
        int used[6] = {0};
        line.len = 0;
        jl_buf_append_str(&line, "env");
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = (state >> 33) % 7;
        for (size_t i = 0; i < n; i++) {
            size_t k;
            do {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                k = (state >> 33) % 6;
            } while (used[k]);
            used[k] = 1;
            tags[i].key.data = keys[k];
            tags[i].key.len = strlen(keys[k]);
            jl_buf_printf(&line, ",%s=", keys[k]);
            size_t len = 0;
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            size_t parts = 1 + (state >> 33) % 5;
            for (size_t p = 0; p < parts; p++) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                const char *piece = pieces[(state >> 33) % 10];
                memcpy(values[i] + len, piece, strlen(piece));
                len += strlen(piece);
                /* escape what line protocol requires; a backslash always as \\ */
                if (strchr(",= \\", piece[0]) && piece[0] != '\0')
                    jl_buf_append(&line, "\\", 1);
                jl_buf_append_str(&line, piece);
            }
            tags[i].value.data = values[i];
            tags[i].value.len = len;
        }
        jl_buf_append_str(&line, " value=1 0");
        expect.len = 0;
        CHECK_INT(sk_build((sk_text){"env", 3}, tags, n, &expect, &err), JL_OK);
        int rc = parse(line.data);
        CHECK_INT(rc, JL_OK);
        if (rc != JL_OK) {
            fprintf(stderr, "  line: %s\n  error: %s\n", line.data, err.message);
            break;
        }
        CHECK_STR(key_of(0), expect.data);
    }
    jl_buf_destroy(&line);
    jl_buf_destroy(&expect);
}

static double reference_strtod(const char *text)
{
    return strtod(text, NULL);
}

static void test_numbers(void)
{
    static const char *const floats[] = {
        "1",
        "1.5",
        "-2e3",
        ".5",
        "1.",
        "-0",
        "-0.0",
        "0",
        "1E2",
        "1e-2",
        "1e+2",
        "-.25",
        "35.2",
        "0.1",
        "3.14159",
        "007",
        "1e22",
        "1e23",
        "9007199254740993",
        "123456789012345678901234567890",
        "1.7976931348623157e308",
        "5e-324",
        "4.9e-324",
        "1e-400",
        "-1e-400",
        "0.000000000000000000000000001",
        "2.2250738585072014e-308",
        "12345678901234567.5",
        "99999999999999999999e-5",
        "1.00000000000000011102230246251565",
    };
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "m v=%s 0", floats[i]);
        int rc = parse(line);
        CHECK_INT(rc, JL_OK);
        if (rc != JL_OK || st_batch_point_count(&batch) != 1) {
            fprintf(stderr, "  %s: %s\n", floats[i], err.message);
            continue;
        }
        CHECK_DOUBLE_BITS(st_batch_point_value(&batch, 0), reference_strtod(floats[i]));
    }

    CHECK_INT(parse("m a=12i,b=-12i,c=0i,d=-0i,e=12u,f=0u 0"), JL_OK);
    CHECK_POINT(0, "m_a", 0, 12.0);
    CHECK_POINT(1, "m_b", 0, -12.0);
    CHECK_POINT(2, "m_c", 0, 0.0);
    CHECK_POINT(3, "m_d", 0, 0.0); /* integers have no negative zero */
    CHECK_POINT(4, "m_e", 0, 12.0);
    CHECK_POINT(5, "m_f", 0, 0.0);
    CHECK_INT(parse("m a=9223372036854775807i,b=-9223372036854775808i,c=18446744073709551615u 0"),
              JL_OK);
    CHECK_POINT(0, "m_a", 0, 9223372036854775808.0);
    CHECK_POINT(1, "m_b", 0, -9223372036854775808.0);
    CHECK_POINT(2, "m_c", 0, 18446744073709551616.0);

    /* random decimals: the fast path must agree bit for bit with strtod */
    uint64_t state = 0xfeedfacecafeull;
    printf("  test_numbers seed 0xfeedfacecafe\n");
    char text[64], line[96];
    long mismatches = 0;
    for (int i = 0; i < 300000; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        uint64_t r = state;
        int int_digits = (int)(r % 12), frac_digits = (int)((r >> 8) % 12);
        size_t n = 0;
        if ((r >> 16) & 1)
            text[n++] = '-';
        uint64_t d = r >> 20;
        for (int k = 0; k < int_digits; k++, d /= 10)
            text[n++] = (char)('0' + d % 10);
        if (frac_digits || int_digits == 0) {
            text[n++] = '.';
            if (int_digits == 0 && frac_digits == 0)
                frac_digits = 1;
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            d = state;
            for (int k = 0; k < frac_digits; k++, d /= 10)
                text[n++] = (char)('0' + d % 10);
        }
        if (((r >> 17) & 7) == 0)
            n += (size_t)snprintf(text + n, sizeof text - n, "e%d", (int)((r >> 24) % 61) - 30);
        text[n] = '\0';
        snprintf(line, sizeof line, "m v=%s 0", text);
        if (parse(line) != JL_OK || st_batch_point_count(&batch) != 1) {
            mismatches++;
            continue;
        }
        double want = strtod(text, NULL);
        if (memcmp(&want, &batch.point_values[0], sizeof want) != 0) {
            if (mismatches < 5)
                fprintf(stderr, "  %s: got %.17g want %.17g\n", text,
                        st_batch_point_value(&batch, 0), want);
            mismatches++;
        }
    }
    CHECK_INT(mismatches, 0);
}

static void test_number_errors(void)
{
    CHECK_FAIL(
        "m v=9223372036854775808i", 1, 5,
        "line 1, column 5: field \"v\" has the value \"9223372036854775808i\", which does not "
        "fit in a 64-bit signed integer");
    CHECK_FAIL("m v=-9223372036854775809i", 1, 5,
               "line 1, column 5: field \"v\" has the value \"-9223372036854775809i\", which does "
               "not fit in a 64-bit signed integer");
    CHECK_FAIL("m v=18446744073709551616u", 1, 5,
               "line 1, column 5: field \"v\" has the value \"18446744073709551616u\", which does "
               "not fit in a 64-bit unsigned integer");
    CHECK_FAIL("m v=-1u", 1, 5,
               "line 1, column 5: field \"v\" has the negative unsigned value \"-1u\"");
    static const char *const not_numbers[] = {"1.5i",  "1e3i", "abc",  "1x",   "-",
                                              ".",     "1e",   "1e+",  "--1",  "+1",
                                              "1.2.3", "0x10", "12ii", "1_000"};
    for (size_t i = 0; i < sizeof not_numbers / sizeof not_numbers[0]; i++) {
        char line[64], message[256];
        snprintf(line, sizeof line, "m v=%s 0", not_numbers[i]);
        snprintf(message, sizeof message,
                 "line 1, column 5: field \"v\" has the value \"%s\", which is not a number; write "
                 "floats as 1.5 or -2e3, integers as 12i and unsigned integers as 12u",
                 not_numbers[i]);
        CHECK_FAIL(line, 1, 5, message);
    }
    static const char *const nans[] = {"nan", "NaN", "-nan", "NAN"};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "m,t=x level=%s", nans[i]);
        CHECK_FAIL(line, 1, 13,
                   "line 1, column 13: field \"level\" is NaN; only finite numbers are stored");
    }
    static const char *const infs[] = {"inf", "-inf", "+Inf", "Infinity", "-INFINITY"};
    for (size_t i = 0; i < sizeof infs / sizeof infs[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, "m level=%s 0", infs[i]);
        CHECK_FAIL(line, 1, 9,
                   "line 1, column 9: field \"level\" is infinite; only finite numbers are stored");
    }
    CHECK_FAIL("m a=1,big=1e999 0", 1, 11,
               "line 1, column 11: field \"big\" has the value 1e999, which is too large for a "
               "double; only finite numbers are stored");
    CHECK_FAIL("m big=-1.5e309", 1, 7,
               "line 1, column 7: field \"big\" has the value -1.5e309, which is too large for a "
               "double; only finite numbers are stored");
}

static void test_booleans_and_strings(void)
{
    static const char *const booleans[] = {"t", "T", "true",  "True",  "TRUE",
                                           "f", "F", "false", "False", "FALSE"};
    for (size_t i = 0; i < sizeof booleans / sizeof booleans[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "# c\nok v=1\nws,station=s01 status=%s 0", booleans[i]);
        CHECK_FAIL(line, 3, 23,
                   "line 3, column 23: field \"status\" is a boolean; only numeric fields are "
                   "stored");
    }
    /* not booleans: other spellings */
    CHECK_FAIL("m v=tRUE", 1, 5,
               "line 1, column 5: field \"v\" has the value \"tRUE\", which is not a number; write "
               "floats as 1.5 or -2e3, integers as 12i and unsigned integers as 12u");

    /* strings: spaces, commas, equals signs and escaped quotes inside must not confuse the lexer */
    CHECK_FAIL("m s=\"hello, world\",x=1 0", 1, 5,
               "line 1, column 5: field \"s\" is a string; only numeric fields are stored");
    CHECK_FAIL("m x=1,msg=\"a \\\"quoted\\\" value, with=spaces\" 0", 1, 11,
               "line 1, column 11: field \"msg\" is a string; only numeric fields are stored");
    CHECK_FAIL("m x=1,s=\"ends in backslash\\\\\" 0", 1, 9,
               "line 1, column 9: field \"s\" is a string; only numeric fields are stored");
    CHECK_FAIL("m x=1,s=\"never closed \\\" 0", 1, 9,
               "line 1, column 9: field \"s\" is a string with no closing quote; only numeric "
               "fields are stored");
    CHECK_FAIL("m s=\"\"", 1, 5,
               "line 1, column 5: field \"s\" is a string; only numeric fields are stored");
}

static void test_timestamps(void)
{
    struct {
        const char *ts;
        ig_precision precision;
        int64_t ms;
    } cases[] = {
        {"0", IG_PRECISION_NS, 0},
        {"1", IG_PRECISION_NS, 0},
        {"999999", IG_PRECISION_NS, 0},
        {"1000000", IG_PRECISION_NS, 1},
        {"-1", IG_PRECISION_NS, -1},
        {"-999999", IG_PRECISION_NS, -1},
        {"-1000000", IG_PRECISION_NS, -1},
        {"-1000001", IG_PRECISION_NS, -2},
        {"9223372036854775807", IG_PRECISION_NS, 9223372036854LL},
        {"-9223372036854000000", IG_PRECISION_NS, -9223372036854LL},
        {"1700000000123456789", IG_PRECISION_NS, 1700000000123LL},
        {"1500", IG_PRECISION_US, 1},
        {"-1", IG_PRECISION_US, -1},
        {"-1000", IG_PRECISION_US, -1},
        {"-1001", IG_PRECISION_US, -2},
        {"1700000000123456", IG_PRECISION_US, 1700000000123LL},
        {"-9223372036854", IG_PRECISION_MS, -9223372036854LL},
        {"9223372036854", IG_PRECISION_MS, 9223372036854LL},
        {"-5", IG_PRECISION_MS, -5},
        {"1700000000", IG_PRECISION_S, 1700000000000LL},
        {"-1", IG_PRECISION_S, -1000},
        {"9223372036", IG_PRECISION_S, 9223372036000LL},
        {"-9223372036", IG_PRECISION_S, -9223372036000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[96];
        snprintf(line, sizeof line, "m v=1 %s", cases[i].ts);
        int rc = parse_prec(line, cases[i].precision);
        CHECK_INT(rc, JL_OK);
        if (rc == JL_OK && st_batch_point_count(&batch) == 1) {
            if (st_batch_point_ms(&batch, 0) != cases[i].ms)
                fprintf(stderr, "  case %zu (%s)\n", i, cases[i].ts);
            CHECK_INT(st_batch_point_ms(&batch, 0), cases[i].ms);
        }
    }

    struct {
        const char *ts;
        ig_precision precision;
        const char *message;
    } bad[] = {
        {"-9223372036854775808", IG_PRECISION_NS,
         "line 1, column 7: timestamp out of range: -9223372036854775808 nanoseconds is not "
         "between 1677-09-21 and 2262-04-11"},
        {"9223372036854775808", IG_PRECISION_NS,
         "line 1, column 7: timestamp out of range: 9223372036854775808 does not fit in a 64-bit "
         "integer"},
        {"-99999999999999999999", IG_PRECISION_US,
         "line 1, column 7: timestamp out of range: -99999999999999999999 does not fit in a 64-bit "
         "integer"},
        {"9223372036855", IG_PRECISION_MS,
         "line 1, column 7: timestamp out of range: 9223372036855 milliseconds is not between "
         "1677-09-21 and 2262-04-11"},
        {"9223372037", IG_PRECISION_S,
         "line 1, column 7: timestamp out of range: 9223372037 seconds is not between 1677-09-21 "
         "and 2262-04-11"},
        {"9223372036854776", IG_PRECISION_S,
         "line 1, column 7: timestamp out of range: 9223372036854776 seconds is not between "
         "1677-09-21 and 2262-04-11"},
        {"-9223372036854776", IG_PRECISION_S,
         "line 1, column 7: timestamp out of range: -9223372036854776 seconds is not between "
         "1677-09-21 and 2262-04-11"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char line[96];
        snprintf(line, sizeof line, "m v=1 %s", bad[i].ts);
        CHECK_INT(parse_prec(line, bad[i].precision), JL_EINVAL);
        CHECK_INT(err.line, 1);
        CHECK_INT(err.column, 7);
        CHECK_STR(err.message, bad[i].message);
    }

    CHECK_FAIL("m v=1 abc", 1, 7, "line 1, column 7: the timestamp \"abc\" is not an integer");
    CHECK_FAIL("m v=1 1.5", 1, 7, "line 1, column 7: the timestamp \"1.5\" is not an integer");
    CHECK_FAIL("m v=1 -", 1, 7, "line 1, column 7: the timestamp \"-\" is not an integer");
    CHECK_FAIL("m v=1 w=2 3", 1, 7,
               "line 1, column 7: the timestamp \"w=2\" is not an integer; fields are separated "
               "by commas, not spaces");
    CHECK_FAIL("m v=1 1 2", 1, 9, "line 1, column 9: unexpected text \"2\" after the timestamp");

    /* the timestamp applies to every field of the line */
    CHECK_INT(parse_prec("m a=1,b=2 7", IG_PRECISION_S), JL_OK);
    CHECK_POINT(0, "m_a", 7000, 1.0);
    CHECK_POINT(1, "m_b", 7000, 2.0);

    ig_precision p = IG_PRECISION_S;
    CHECK_INT(ig_precision_parse("ns", &p, &err), JL_OK);
    CHECK_INT(p, IG_PRECISION_NS);
    CHECK_INT(ig_precision_parse("n", &p, &err), JL_OK);
    CHECK_INT(p, IG_PRECISION_NS);
    CHECK_INT(ig_precision_parse("us", &p, &err), JL_OK);
    CHECK_INT(p, IG_PRECISION_US);
    CHECK_INT(ig_precision_parse("u", &p, &err), JL_OK);
    CHECK_INT(p, IG_PRECISION_US);
    CHECK_INT(ig_precision_parse("ms", &p, &err), JL_OK);
    CHECK_INT(p, IG_PRECISION_MS);
    CHECK_INT(ig_precision_parse("s", &p, &err), JL_OK);
    CHECK_INT(p, IG_PRECISION_S);
    CHECK_INT(ig_precision_parse(NULL, &p, &err), JL_OK);
    CHECK_INT(p, IG_PRECISION_NS);
    CHECK_INT(ig_precision_parse("m", &p, &err), JL_OK);
    CHECK_INT(p, IG_PRECISION_M);
    CHECK_INT(ig_precision_parse("h", &p, &err), JL_OK);
    CHECK_INT(p, IG_PRECISION_H);
    CHECK_INT(ig_precision_parse("d", &p, &err), JL_EINVAL);
    CHECK_STR(err.message, "precision \"d\" is not supported; use ns, us, ms, s, m or h");
    CHECK_INT(ig_precision_parse("", &p, &err), JL_EINVAL);
    CHECK_INT(ig_precision_parse("NS", &p, &err), JL_EINVAL);
}

/* Minute and hour timestamps (InfluxDB 1.x) become milliseconds; overflow is refused. */
static void test_minute_hour_precision(void)
{
    st_batch parsed;
    st_batch_init(&parsed);
    jl_error error;
    const char *minutes = "a value=1 28928160\nb value=2 -1\n";
    CHECK_INT(ig_parse_line_protocol(minutes, strlen(minutes), IG_PRECISION_M, 0, &parsed, &error),
              JL_OK);
    CHECK_INT(st_batch_point_count(&parsed), 2);
    if (st_batch_point_count(&parsed) == 2) {
        CHECK_INT(st_batch_point_ms(&parsed, 0), 28928160LL * 60000); /* 2025-01-01T00:00Z */
        CHECK_INT(st_batch_point_ms(&parsed, 1), -60000);
    }
    st_batch_reset(&parsed);
    CHECK_INT(ig_parse_line_protocol("a value=1 482136\n", 17, IG_PRECISION_H, 0, &parsed, &error),
              JL_OK);
    if (st_batch_point_count(&parsed) == 1)
        CHECK_INT(st_batch_point_ms(&parsed, 0), 482136LL * 3600000);
    st_batch_reset(&parsed);
    CHECK_INT(
        ig_parse_line_protocol("a value=1 3000000000\n", 21, IG_PRECISION_H, 0, &parsed, &error),
        JL_EINVAL);
    CHECK(strstr(error.message, "hours is not between") != NULL);
    st_batch_destroy(&parsed);
}

static void test_name_errors(void)
{
    CHECK_FAIL("2pm v=1", 1, 1,
               "line 1, column 1: measurement \"2pm\" is not a valid metric name; names start with "
               "a letter or '_' and contain only letters, digits, '_', '.' and '-'");
    CHECK_FAIL("ok v=1\n  my\\ meas,t=a v=1", 2, 3,
               "line 2, column 3: measurement \"my\\\\ meas\" is not a valid metric name; names "
               "start with a letter or '_' and contain only letters, digits, '_', '.' and '-'");
    CHECK_FAIL("cpu\\,x v=1", 1, 1,
               "line 1, column 1: measurement \"cpu\\\\,x\" is not a valid metric name; names "
               "start with a letter or '_' and contain only letters, digits, '_', '.' and '-'");
    CHECK_FAIL("caf\xc3\xa9 v=1", 1, 1,
               "line 1, column 1: measurement \"caf\xc3\xa9\" is not a valid metric name; names "
               "start with a letter or '_' and contain only letters, digits, '_', '.' and '-'");
    CHECK_FAIL(",t=a v=1", 1, 1,
               "line 1, column 1: the measurement name is missing at the start of the line");
    CHECK_FAIL("m,2t=a v=1", 1, 3,
               "line 1, column 3: tag key \"2t\" is not valid; names start with a letter or '_' "
               "and contain only letters, digits, '_', '.' and '-'");
    CHECK_FAIL("m,a\\ b=x v=1", 1, 3,
               "line 1, column 3: tag key \"a\\\\ b\" is not valid; names start with a letter or "
               "'_' and contain only letters, digits, '_', '.' and '-'");
    CHECK_FAIL("m,a\\=b=x v=1", 1, 3,
               "line 1, column 3: tag key \"a\\\\=b\" is not valid; names start with a letter or "
               "'_' and contain only letters, digits, '_', '.' and '-'");
    CHECK_FAIL("m,=x v=1", 1, 3, "line 1, column 3: a tag key is missing before '='");
    CHECK_FAIL("m,t v=1", 1, 3, "line 1, column 3: tag \"t\" has no '=' and value");
    CHECK_FAIL("m, v=1", 1, 3, "line 1, column 3: a tag is missing after ','; expected key=value");
    CHECK_FAIL("m,t=a, v=1", 1, 7,
               "line 1, column 7: a tag is missing after ','; expected key=value");
    CHECK_FAIL("m,t= v=1", 1, 5, "line 1, column 5: tag \"t\" has no value");
    CHECK_FAIL("m,t=a,u=,w=1 v=1", 1, 9, "line 1, column 9: tag \"u\" has no value");
    CHECK_FAIL("m,t=a=b v=1", 1, 6,
               "line 1, column 6: tag \"t\" has an unescaped '=' in its value; write it as \\=");
    CHECK_FAIL("m,t=a\x01 v=1", 1, 5,
               "line 1, column 5: the value of tag \"t\" contains the control character 0x01");
    const char nul_line[] = "m,t=a\0b v=1";
    CHECK_INT(
        ig_parse_line_protocol(nul_line, sizeof nul_line - 1, IG_PRECISION_NS, NOW, &batch, &err),
        JL_EINVAL);
    CHECK_STR(err.message,
              "line 1, column 5: the value of tag \"t\" contains the control character 0x00");
    CHECK_FAIL("m,t=a\xff v=1", 1, 5,
               "line 1, column 5: the value of tag \"t\" is not valid UTF-8");
    CHECK_FAIL("m,t=\xe6\xb1 v=1", 1, 5,
               "line 1, column 5: the value of tag \"t\" is not valid UTF-8");
    CHECK_FAIL("m,a=1,b=2,a=3 v=1", 1, 11,
               "line 1, column 11: tag \"a\" appears more than once in the line");
    CHECK_FAIL("m,b=1,a=2,b=3 v=1", 1, 11,
               "line 1, column 11: tag \"b\" appears more than once in the line");

    CHECK_FAIL("m", 1, 2,
               "line 1, column 2: the line has no fields; expected a space and then name=value "
               "after the measurement and tags");
    CHECK_FAIL("m,t=a   \r\n", 1, 6,
               "line 1, column 6: the line has no fields; expected a space and then name=value "
               "after the measurement and tags");
    /* an escaped space belongs to the tag value, so the fields are missing */
    CHECK_FAIL("m,t=a\\ b", 1, 9,
               "line 1, column 9: the line has no fields; expected a space and then name=value "
               "after the measurement and tags");
    CHECK_FAIL("m,t=a\\ v=1", 1, 9,
               "line 1, column 9: tag \"t\" has an unescaped '=' in its value; write it as \\=");
    CHECK_FAIL("m v", 1, 3, "line 1, column 3: field \"v\" has no '=' and value");
    CHECK_FAIL("m v=", 1, 5, "line 1, column 5: field \"v\" has no value after '='");
    CHECK_FAIL("m v= 1", 1, 5, "line 1, column 5: field \"v\" has no value after '='");
    CHECK_FAIL("m v=1,", 1, 7, "line 1, column 7: a field is missing here; expected name=value");
    CHECK_FAIL("m v=1,,w=2", 1, 7,
               "line 1, column 7: a field is missing here; expected name=value");
    CHECK_FAIL("m =1", 1, 3, "line 1, column 3: a field name is missing before '='");
    CHECK_FAIL("m a\\ b=1", 1, 3,
               "line 1, column 3: field name \"a\\\\ b\" cannot be part of a metric name; field "
               "names contain only letters, digits, '_', '.' and '-'");
    CHECK_FAIL("m a\\,b=1", 1, 3,
               "line 1, column 3: field name \"a\\\\,b\" cannot be part of a metric name; field "
               "names contain only letters, digits, '_', '.' and '-'");
    CHECK_FAIL("m \xc3\xa9t\xc3\xa9=1", 1, 3,
               "line 1, column 3: field name \"\xc3\xa9t\xc3\xa9\" cannot be part of a metric "
               "name; field names contain only letters, digits, '_', '.' and '-'");

    /* long names: measurement 200 + '_' + field 56 = 257 bytes; messages show 48 bytes */
    char line[600], message[512];
    memset(line, 'm', 200);
    line[200] = ' ';
    memset(line + 201, 'f', 56);
    snprintf(line + 257, sizeof line - 257, "=1 0");
    snprintf(message, sizeof message,
             "line 1, column 202: the metric name made of the measurement and field \"%.48s...\" "
             "would be 257 bytes long; at most 256 are allowed",
             line + 201);
    CHECK_FAIL(line, 1, 202, message);
    memcpy(line + 201, "value=1 0", 10);
    CHECK_INT(parse(line), JL_OK);
    memset(line, 'm', 257);
    snprintf(line + 257, sizeof line - 257, " value=1");
    snprintf(message, sizeof message,
             "line 1, column 1: measurement \"%.48s...\" is longer than 256 bytes", line);
    CHECK_FAIL(line, 1, 1, message);
}

static void test_long_keys_and_lines(void)
{
    /* tag values: 1024 bytes fine, 1025 refused */
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    memcpy(line, "m,t=", 4);
    memset(line + 4, 'v', 1024);
    snprintf(line + 1028, cap - 1028, " f=1 0");
    CHECK_INT(parse(line), JL_OK);
    memset(line + 4, 'v', 1025);
    snprintf(line + 1029, cap - 1029, " f=1 0");
    CHECK_FAIL(line, 1, 5, "line 1, column 5: the value of tag \"t\" is longer than 1024 bytes");

    /* key too long: 8 tags of 1000 bytes is 8058 key bytes with metric "m_f": 8060, 9 refused */
    size_t n = 1;
    line[0] = 'm';
    for (int i = 0; i < 9; i++) {
        n += (size_t)snprintf(line + n, cap - n, ",t%02d=", i);
        memset(line + n, 'v', 1000);
        n += 1000;
    }
    /* n = 1 + 9 * 1005 = 9046, so the field starts at column 9048; the key is "m_f" plus
     * 9 * (1 + 3 + 2 + 1000 + 1) + 1 = 9067 bytes */
    CHECK_INT(n, 9046);
    snprintf(line + n, cap - n, " f=1 0");
    CHECK_FAIL(line, 1, 9048,
               "line 1, column 9048: the series key for field \"f\" would be 9067 bytes long; at "
               "most 8192 are allowed");

    /* a long body of many lines: linear work, exact count */
    jl_buf body;
    jl_buf_init(&body);
    for (int i = 0; i < 200000; i++)
        jl_buf_printf(&body, "pm25,station=s%03d value=%d.%d %d000000\n", i % 500, i % 97, i % 10,
                      i);
    int64_t t0 = jl_monotonic_ns();
    CHECK_INT(ig_parse_line_protocol(body.data, body.len, IG_PRECISION_NS, NOW, &batch, &err),
              JL_OK);
    int64_t t1 = jl_monotonic_ns();
    printf("  200000 lines parsed in %.1f ms\n", (double)(t1 - t0) / 1e6);
    CHECK_INT(st_batch_series_count(&batch), 500);
    CHECK_INT(st_batch_point_count(&batch), 200000);
    CHECK_POINT(199999, "pm25{station=\"s499\"}", 199999, 82.9); /* 199999 % 97 = 82 */
    jl_buf_destroy(&body);
    free(line);
}

/* A line whose start (`measurement,tags value=`) was seen earlier in the body takes a shortcut
 * past the tags. Every line of a mixed body, parsed as part of the body, must give the same
 * key, time and value as the same line parsed alone (which never takes the shortcut), and a
 * refused line the same message and column. */
static void test_repeated_line_starts(void)
{
    static const char *const starts[] = {
        "pm25,station=s01,district=d1 value=",
        "pm25,district=d1,station=s01 value=",
        "pm25,station=s02 value=",
        "pm25,station=s01,district=d1 value=",
        "nh3n value=",
        "cod,station=a\\ b value=",
        "o3,station=s01\tvalue=",
        "o3,station=s01 value=",
    };
    static const char *const values[] = {"35.2", "-0.0", "7i", "1e3", "0.125", "12u", ".5"};
    static const char *const tails[] = {
        " 1700000000000000000",         "",   " 1700000000123456789",
        ",other=4 1700000000000000000", "\r", " 1700000000000000001  "};
    const unsigned seed = 4409;
    printf("test_repeated_line_starts seed %u\n", seed);
    srand(seed);
    char body[64 * 1024];
    size_t used = 0;
    const char *line_at[600];
    size_t line_len[600];
    int lines = 0;
    while (lines < 600) {
        char line[128];
        int n;
        if (rand() % 25 == 0)
            n = snprintf(line, sizeof line, "# a comment");
        else
            n = snprintf(line, sizeof line, "%s%s%s", starts[rand() % 8], values[rand() % 7],
                         tails[rand() % 6]);
        line_at[lines] = body + used;
        line_len[lines] = (size_t)n;
        memcpy(body + used, line, (size_t)n);
        used += (size_t)n;
        body[used++] = '\n';
        lines++;
    }
    body[used] = '\0';
    CHECK_INT(parse(body), JL_OK);
    size_t whole_count = st_batch_point_count(&batch);
    int64_t *whole_ms = malloc(whole_count * sizeof *whole_ms);
    double *whole_values = malloc(whole_count * sizeof *whole_values);
    char **whole_keys = malloc(whole_count * sizeof *whole_keys);
    for (size_t i = 0; i < whole_count; i++) {
        whole_ms[i] = st_batch_point_ms(&batch, i);
        whole_values[i] = st_batch_point_value(&batch, i);
        whole_keys[i] = strdup(key_of(i));
    }
    size_t at = 0;
    for (int l = 0; l < lines; l++) {
        char alone[128];
        memcpy(alone, line_at[l], line_len[l]);
        alone[line_len[l]] = '\0';
        CHECK_INT(parse(alone), JL_OK);
        for (size_t i = 0; i < st_batch_point_count(&batch) && at < whole_count; i++, at++)
            CHECK_POINT(i, whole_keys[at], whole_ms[at], whole_values[at]);
    }
    CHECK_INT(at, whole_count);
    CHECK(whole_count > 500);
    for (size_t i = 0; i < whole_count; i++)
        free(whole_keys[i]);
    free(whole_keys);
    free(whole_ms);
    free(whole_values);
    /* Refusals on a line whose start is known: same column and message as the first time. */
    const char *not_a_number = "field \"value\" has the value \"x\", which is not a number; write "
                               "floats as 1.5 or -2e3, integers as 12i and unsigned integers as "
                               "12u";
    char expected[256];
    snprintf(expected, sizeof expected, "line 2, column 24: %s", not_a_number);
    CHECK_FAIL("pm25,station=s01 value=1 1000\npm25,station=s01 value=x 2000", 2, 24, expected);
    snprintf(expected, sizeof expected, "line 1, column 24: %s", not_a_number);
    CHECK_FAIL("pm25,station=s01 value=x 2000", 1, 24, expected);
    CHECK_FAIL("pm25,station=s01 value=1 1000\npm25,station=s01 value=2 12a", 2, 26,
               "line 2, column 26: the timestamp \"12a\" is not an integer");
}

/* The `flag` string field: the HJ 212 letter of every reading on its line, in any field position;
 * codes as jialing/flag.h numbers them (N 0, F 1, M 2, S 3, D 4, C 5, T 6, B 7). */
static void test_flag_field(void)
{
    CHECK_INT(parse("pm25,station=s1 value=35.2,flag=\"M\" 1735689600000000000\n"
                    "pm25,station=s1 flag=\"C\",value=36 1735689660000000000\n"
                    "pm25,station=s1 value=37 1735689720000000000\n"
                    "air,station=s1 pm10=80,flag=\"B\",o3=12i 1735689780000000000\n"),
              JL_OK);
    CHECK_INT(st_batch_point_count(&batch), 5);
    CHECK_POINT(0, "pm25{station=\"s1\"}", 1735689600000LL, 35.2);
    CHECK_INT(st_batch_point_flag(&batch, 0), 2);
    CHECK_POINT(1, "pm25{station=\"s1\"}", 1735689660000LL, 36.0);
    CHECK_INT(st_batch_point_flag(&batch, 1), 5);
    CHECK_POINT(2, "pm25{station=\"s1\"}", 1735689720000LL, 37.0);
    CHECK_INT(st_batch_point_flag(&batch, 2), 0);
    CHECK_POINT(3, "air_pm10{station=\"s1\"}", 1735689780000LL, 80.0);
    CHECK_INT(st_batch_point_flag(&batch, 3), 7);
    CHECK_POINT(4, "air_o3{station=\"s1\"}", 1735689780000LL, 12.0);
    CHECK_INT(st_batch_point_flag(&batch, 4), 7);
    /* No series is made of the flag field itself. */
    CHECK_INT(st_batch_series_count(&batch), 3);

    /* A repeated line start after a flagged line still takes its own (absent) flag. */
    CHECK_INT(parse("m value=1,flag=\"D\" 0\nm value=2 1000000\n"), JL_OK);
    CHECK_INT(st_batch_point_flag(&batch, 0), 4);
    CHECK_INT(st_batch_point_flag(&batch, 1), 0);

    /* A numeric field named flag stays an ordinary field. */
    CHECK_INT(parse("m flag=3 0"), JL_OK);
    CHECK_POINT(0, "m_flag", 0, 3.0);
    CHECK_INT(st_batch_point_flag(&batch, 0), 0);

    CHECK_FAIL("m value=1,flag=\"X\" 0", 1, 17,
               "line 1, column 17: field \"flag\" has the value \"X\"; a flag is one of "
               "the HJ 212 letters N F M S D C T B, e.g. flag=\"M\"");
    CHECK_FAIL("m value=1,flag=\"n\" 0", 1, 17,
               "line 1, column 17: field \"flag\" has the value \"n\"; a flag is one of "
               "the HJ 212 letters N F M S D C T B, e.g. flag=\"M\"");
    CHECK_FAIL("ok v=1\nm value=1,flag=\"MM\" 0", 2, 17,
               "line 2, column 17: field \"flag\" has the value \"MM\"; a flag is one "
               "of the HJ 212 letters N F M S D C T B, e.g. flag=\"M\"");
    CHECK_FAIL("m value=1,flag=\"M\",flag=\"C\" 0", 1, 25,
               "line 1, column 25: the line has more than one flag field");
    CHECK_FAIL("m flag=\"M\" 0", 1, 1,
               "line 1, column 1: the line has only the flag field; it needs a numeric field "
               "such as value=1.5 for the flag to apply to");
    CHECK_FAIL("m value=1,flag=\"M\"x 0", 1, 19,
               "line 1, column 19: field \"flag\" must be followed by ',' or a space");
    CHECK_FAIL("m value=1,flag=\"M", 1, 17,
               "line 1, column 17: field \"flag\" has the value \"M\"; a flag is one of "
               "the HJ 212 letters N F M S D C T B, e.g. flag=\"M\"");
    /* Other string fields keep their refusal. */
    CHECK_FAIL("m value=1,note=\"M\" 0", 1, 16,
               "line 1, column 16: field \"note\" is a string; only numeric fields are stored");
}

int main(void)
{
    st_batch_init(&batch);
    RUN(test_simple);
    RUN(test_fields_mapping);
    RUN(test_whitespace_comments_crlf);
    RUN(test_tags_sorted_and_escaped);
    RUN(test_keys_match_sk_build);
    RUN(test_numbers);
    RUN(test_number_errors);
    RUN(test_booleans_and_strings);
    RUN(test_flag_field);
    RUN(test_timestamps);
    RUN(test_minute_hour_precision);
    RUN(test_name_errors);
    RUN(test_long_keys_and_lines);
    RUN(test_repeated_line_starts);
    st_batch_destroy(&batch);
    return CHECK_DONE();
}
