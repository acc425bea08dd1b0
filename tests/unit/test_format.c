/* Tests server/format.c: exact JSON and CSV documents for a small two-series result, escaping of
 * awkward strings (quotes, backslash, UTF-8, control and invalid bytes), double printing (exact
 * strings for known values, round trip and JSON number grammar for random bit patterns), large
 * integers, error bodies, format names and out-of-order sink calls. msgpack documents are decoded
 * with msgpack-c's unpacker and compared with the expected structure (ints, double bits, nil,
 * strings), plus exact bytes for small hand-encoded documents; Accept header negotiation. */
#include "check.h"

#include "jialing/format.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>

static sk_text text_of(const char *s)
{
    sk_text t = {s, strlen(s)};
    return t;
}

static sk_tag tag_of(const char *key, const char *value)
{
    sk_tag t = {text_of(key), text_of(value)};
    return t;
}

static qx_cell int_cell(int64_t v)
{
    qx_cell c = {.type = QX_CELL_INT, .as.i = v};
    return c;
}

static qx_cell double_cell(double v)
{
    qx_cell c = {.type = QX_CELL_DOUBLE, .as.d = v};
    return c;
}

static qx_cell null_cell(void)
{
    qx_cell c = {.type = QX_CELL_NULL};
    return c;
}

/* Feeds the same small result to a writer: two pm25 series, the first with three rows (one
 * null), the second with one. */
static void write_two_series(fm_format format, jl_buf *out)
{
    fm_writer w;
    CHECK_INT(fm_writer_init(&w, format, out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    const char *columns[] = {"time", "mean"};
    sk_tag tags1[] = {tag_of("district", "jlp"), tag_of("station", "s01")};
    CHECK_INT(sink.series_begin(sink.context, text_of("pm25"), tags1, 2, columns, 2), JL_OK);
    qx_cell r1[] = {int_cell(1735660800000), double_cell(35.2)};
    qx_cell r2[] = {int_cell(1735664400000), null_cell()};
    qx_cell r3[] = {int_cell(1735668000000), double_cell(36.0)};
    CHECK_INT(sink.row(sink.context, r1, 2), JL_OK);
    CHECK_INT(sink.row(sink.context, r2, 2), JL_OK);
    CHECK_INT(sink.row(sink.context, r3, 2), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    sk_tag tags2[] = {tag_of("station", "s02")};
    CHECK_INT(sink.series_begin(sink.context, text_of("pm25"), tags2, 1, columns, 2), JL_OK);
    qx_cell r4[] = {int_cell(1735660800000), double_cell(0.1)};
    CHECK_INT(sink.row(sink.context, r4, 2), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    fm_writer_destroy(&w);
}

static void test_json_two_series(void)
{
    jl_buf out;
    jl_buf_init(&out);
    write_two_series(FM_JSON, &out);
    CHECK_STR(out.data, "{\"series\":["
                        "{\"metric\":\"pm25\",\"tags\":{\"district\":\"jlp\",\"station\":\"s01\"},"
                        "\"columns\":[\"time\",\"mean\"],\"values\":[[1735660800000,35.2],"
                        "[1735664400000,null],[1735668000000,36]]},"
                        "{\"metric\":\"pm25\",\"tags\":{\"station\":\"s02\"},"
                        "\"columns\":[\"time\",\"mean\"],\"values\":[[1735660800000,0.1]]}]}");
    jl_buf_destroy(&out);
}

static void test_csv_two_series(void)
{
    jl_buf out;
    jl_buf_init(&out);
    write_two_series(FM_CSV, &out);
    CHECK_STR(out.data, "metric,tags,time,mean\r\n"
                        "pm25,district=jlp;station=s01,1735660800000,35.2\r\n"
                        "pm25,district=jlp;station=s01,1735664400000,\r\n"
                        "pm25,district=jlp;station=s01,1735668000000,36\r\n"
                        "pm25,station=s02,1735660800000,0.1\r\n");
    jl_buf_destroy(&out);
}

static void test_empty_results(void)
{
    jl_buf out;
    jl_buf_init(&out);
    fm_writer w;
    CHECK_INT(fm_writer_init(&w, FM_JSON, &out), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    CHECK_STR(out.data, "{\"series\":[]}");
    CHECK_INT(fm_writer_finish(&w), JL_EINVAL); /* only once */
    fm_writer_destroy(&w);

    /* A series without tags or rows. */
    out.len = 0;
    CHECK_INT(fm_writer_init(&w, FM_JSON, &out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    const char *columns[] = {"count"};
    CHECK_INT(sink.series_begin(sink.context, text_of("o3"), NULL, 0, columns, 1), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    CHECK_STR(out.data, "{\"series\":[{\"metric\":\"o3\",\"tags\":{},\"columns\":[\"count\"],"
                        "\"values\":[]}]}");
    fm_writer_destroy(&w);

    out.len = 0;
    CHECK_INT(fm_writer_init(&w, FM_CSV, &out), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    CHECK_INT(out.len, 0);
    fm_writer_destroy(&w);

    out.len = 0;
    CHECK_INT(fm_writer_init(&w, FM_CSV, &out), JL_OK);
    sink = fm_writer_sink(&w);
    CHECK_INT(sink.series_begin(sink.context, text_of("o3"), NULL, 0, columns, 1), JL_OK);
    qx_cell row[] = {int_cell(42)};
    CHECK_INT(sink.row(sink.context, row, 1), JL_OK);
    CHECK_INT(sink.row(sink.context, NULL, 0), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    CHECK_STR(out.data, "metric,tags,count\r\no3,,42\r\no3,\r\n");
    fm_writer_destroy(&w);
    jl_buf_destroy(&out);
}

/* A tag value with a quote, a backslash, a semicolon, a comma, UTF-8 (é and 嘉陵), a control
 * character and DEL. */
static const char awkward[] = "a\"b\\c;d,\xc3\xa9\xe5\x98\x89\xe9\x99\xb5\x01\x7f";

static void test_json_escaping(void)
{
    jl_buf out;
    jl_buf_init(&out);
    fm_writer w;
    CHECK_INT(fm_writer_init(&w, FM_JSON, &out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    const char *columns[] = {"time", "value"};
    sk_tag tags[] = {tag_of("k", awkward), tag_of("nl", "x\ny\t\x1f")};
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), tags, 2, columns, 2), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    CHECK_STR(out.data, "{\"series\":[{\"metric\":\"m\",\"tags\":{\"k\":\"a\\\"b\\\\c;d,"
                        "\xc3\xa9\xe5\x98\x89\xe9\x99\xb5\\u0001\x7f\",\"nl\":\"x\\u000ay\\u0009"
                        "\\u001f\"},\"columns\":[\"time\",\"value\"],\"values\":[]}]}");
    fm_writer_destroy(&w);

    /* Invalid UTF-8 becomes U+FFFD, one per bad byte; valid 4-byte sequences pass. */
    struct {
        const char *in;
        const char *json;
    } cases[] = {
        {"\xff", "\"\\ufffd\""},
        {"a\xc0\xaf", "\"a\\ufffd\\ufffd\""},                     /* overlong '/' */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},            /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* past U+10FFFF */
        {"\xe5\x98", "\"\\ufffd\\ufffd\""},                       /* cut short */
        {"\xe5\x98z", "\"\\ufffd\\ufffdz\""},
        {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""}, /* U+10FFFF */
        {"\xed\x9f\xbf", "\"\xed\x9f\xbf\""},         /* U+D7FF */
        {"", "\"\""},
        {"/<>", "\"/<>\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        out.len = 0;
        CHECK_INT(fm_json_string(&out, cases[i].in, strlen(cases[i].in)), JL_OK);
        CHECK_STR(out.data, cases[i].json);
    }
    /* An embedded NUL is a control character like any other. */
    out.len = 0;
    CHECK_INT(fm_json_string(&out, "a\0b", 3), JL_OK);
    CHECK_STR(out.data, "\"a\\u0000b\"");
    jl_buf_destroy(&out);
}

static void test_csv_escaping(void)
{
    jl_buf out;
    jl_buf_init(&out);
    fm_writer w;
    CHECK_INT(fm_writer_init(&w, FM_CSV, &out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    const char *columns[] = {"time", "va\"l,ue"};
    sk_tag tags[] = {tag_of("k", awkward), tag_of("z", "x\r\ny")};
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), tags, 2, columns, 2), JL_OK);
    qx_cell row[] = {int_cell(-5), double_cell(-0.0)};
    CHECK_INT(sink.row(sink.context, row, 2), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    /* Plain tag values stay unquoted. */
    sk_tag plain[] = {tag_of("k", "\xe5\x98\x89 x\\y")};
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), plain, 1, columns, 2), JL_OK);
    CHECK_INT(sink.row(sink.context, row, 2), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK); /* closes the open series */
    CHECK_STR(out.data, "metric,tags,time,\"va\"\"l,ue\"\r\n"
                        "m,\"k=a\"\"b\\\\c\\;d,\xc3\xa9\xe5\x98\x89\xe9\x99\xb5\x01\x7f;z=x\r\ny\","
                        "-5,-0\r\n"
                        "m,k=\xe5\x98\x89 x\\\\y,-5,-0\r\n");
    fm_writer_destroy(&w);
    jl_buf_destroy(&out);
}

static void double_is(double value, const char *expected)
{
    char text[FM_DOUBLE_MAX];
    size_t len = fm_format_double(value, text);
    CHECK_STR(text, expected);
    CHECK_INT(len, strlen(expected));
}

static void test_double_known(void)
{
    double_is(0.1, "0.1");
    double_is(35.2, "35.2");
    double_is(35.0, "35");
    double_is(1e-300, "1e-300");
    double_is(123456789012.5, "123456789012.5");
    double_is(-0.0, "-0");
    double_is(0.0, "0");
    double_is(1.0 / 3.0, "0.3333333333333333");
    double_is(0.1 + 0.2, "0.30000000000000004");
    double_is(2.0 / 3.0, "0.6666666666666666");
    double_is(1e21, "1e+21");
    double_is(1.7976931348623157e308, "1.7976931348623157e+308");
    double_is(2.2250738585072014e-308, "2.2250738585072014e-308");
    double_is(4.9406564584124654e-324, "4.94065645841247e-324");
    double_is(9007199254740993.0, "9007199254740992"); /* 2^53 + 1 rounds to 2^53 */
    double_is(1.005, "1.005");
    double_is(0.001, "0.001");
    double_is(0.0001, "0.0001");
    double_is(0.00001, "1e-05");
    double_is(NAN, "");
    double_is(INFINITY, "");
    double_is(-INFINITY, "");
}

/* Returns 1 when s is a JSON number (RFC 8259 grammar). */
static int json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return 0;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

/* The policy written the plain way: the first of %.15g, %.16g, %.17g that reads back. */
static void reference_format(double value, char *text, size_t cap)
{
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, cap, "%.*g", precision, value);
        if (strtod(text, NULL) == value)
            return;
    }
}

static void test_double_round_trip(void)
{
    const unsigned seed = 7919;
    printf("test_double_round_trip seed %u\n", seed);
    srand(seed);
    int bad = 0, tested = 0;
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = 0;
        for (int j = 0; j < 4; j++)
            bits = (bits << 16) ^ (uint64_t)(rand() & 0xFFFF);
        double value;
        if (i % 2 == 0) {
            memcpy(&value, &bits, sizeof value);
        } else {
            /* Sensor-like decimals and their means: an integer over a power of ten, some
             * divided again by a small count. */
            static const double divisors[] = {1, 10, 1000, 1e6, 1e7, 1e-3};
            value = (double)((int64_t)(bits % 2000000001) - 1000000000) / divisors[(i / 2) % 6];
            if (i % 3 == 0)
                value /= (double)(1 + (bits >> 40) % 60);
        }
        if (!isfinite(value))
            continue;
        tested++;
        char text[FM_DOUBLE_MAX], expected[64];
        fm_format_double(value, text);
        reference_format(value, expected, sizeof expected);
        double back = strtod(text, NULL);
        if (memcmp(&back, &value, sizeof value) != 0 || !json_number(text) ||
            strcmp(text, expected) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "  %.17g printed as %s\n", value, text);
        }
    }
    CHECK_INT(bad, 0);
    CHECK(tested > 150000);
    CHECK(json_number("-0") && json_number("1e-300") && !json_number("01") && !json_number("1.") &&
          !json_number("inf"));
}

/* The integer path for 1e-4 <= |x| < 1e15 against the printf policy: random mantissas over the
 * whole range, every neighbour of each power of ten and of the range ends, values just below
 * a power of ten that round up into it, binade bottoms (narrower gap below), and means of
 * sensor decimals, which need 16 or 17 digits. */
static void check_same_as_printf(double value, int *bad)
{
    char text[FM_DOUBLE_MAX], expected[64];
    size_t len = fm_format_double(value, text);
    reference_format(value, expected, sizeof expected);
    if (strcmp(text, expected) != 0 || len != strlen(expected)) {
        if ((*bad)++ < 5)
            fprintf(stderr, "  %.17g printed as %s, printf policy %s\n", value, text, expected);
    }
}

static void test_double_fixed_range(void)
{
    const unsigned seed = 104729;
    printf("test_double_fixed_range seed %u\n", seed);
    srand(seed);
    int bad = 0;
    for (int i = 0; i < 300000; i++) {
        uint64_t bits = 0;
        for (int j = 0; j < 4; j++)
            bits = (bits << 16) ^ (uint64_t)(rand() & 0xFFFF);
        double unit = (double)(bits >> 11) / 9007199254740992.0; /* [0, 1) */
        double value = pow(10.0, -4.0 + 19.0 * unit);
        if (i % 4 == 1)
            value = (double)(int64_t)(bits % 100000000) / 1000.0 / (double)(3 + bits % 97);
        if (i % 2 == 0)
            value = -value;
        check_same_as_printf(value, &bad);
    }
    for (int exponent = -5; exponent <= 15; exponent++) {
        double power = pow(10.0, exponent);
        double value = power;
        for (int step = 0; step < 40; step++) {
            check_same_as_printf(value, &bad);
            value = nextafter(value, 0.0);
        }
        value = power;
        for (int step = 0; step < 40; step++) {
            check_same_as_printf(value, &bad);
            value = nextafter(value, INFINITY);
        }
        check_same_as_printf(power * 0.99999999999999999, &bad);
        check_same_as_printf(power * 0.9999999999999995, &bad);
        check_same_as_printf(power * 0.999999999999999, &bad);
    }
    for (int exponent = -14; exponent <= 50; exponent++) {
        double power = ldexp(1.0, exponent);
        check_same_as_printf(power, &bad);
        check_same_as_printf(nextafter(power, 0.0), &bad);
        check_same_as_printf(nextafter(power, INFINITY), &bad);
    }
    CHECK_INT(bad, 0);
}

static void test_large_ints(void)
{
    jl_buf out;
    jl_buf_init(&out);
    fm_writer w;
    const char *columns[] = {"a", "b", "c", "d"};
    qx_cell row[] = {int_cell(INT64_MIN), int_cell(INT64_MAX), int_cell(0), int_cell(-1)};
    CHECK_INT(fm_writer_init(&w, FM_JSON, &out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 4), JL_OK);
    CHECK_INT(sink.row(sink.context, row, 4), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    CHECK_STR(out.data, "{\"series\":[{\"metric\":\"m\",\"tags\":{},\"columns\":[\"a\",\"b\",\"c\","
                        "\"d\"],\"values\":[[-9223372036854775808,9223372036854775807,0,-1]]}]}");
    fm_writer_destroy(&w);

    out.len = 0;
    CHECK_INT(fm_writer_init(&w, FM_CSV, &out), JL_OK);
    sink = fm_writer_sink(&w);
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 4), JL_OK);
    CHECK_INT(sink.row(sink.context, row, 4), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    CHECK_STR(out.data,
              "metric,tags,a,b,c,d\r\nm,,-9223372036854775808,9223372036854775807,0,-1\r\n");
    fm_writer_destroy(&w);
    jl_buf_destroy(&out);
}

static void test_json_error(void)
{
    jl_buf out;
    jl_buf_init(&out);
    CHECK_INT(fm_json_error(&out, "selector: column 5: bad \"x\"\nnext\\"), JL_OK);
    CHECK_STR(out.data, "{\"error\":\"selector: column 5: bad \\\"x\\\"\\u000anext\\\\\"}");
    out.len = 0;
    CHECK_INT(fm_json_error(&out, NULL), JL_OK);
    CHECK_STR(out.data, "{\"error\":\"unknown error\"}");
    jl_buf_destroy(&out);
}

static void test_parse_format(void)
{
    fm_format f = FM_CSV;
    jl_error err;
    CHECK_INT(fm_parse_format("json", &f, &err), JL_OK);
    CHECK_INT(f, FM_JSON);
    CHECK_INT(fm_parse_format("CSV", &f, &err), JL_OK);
    CHECK_INT(f, FM_CSV);
    CHECK_INT(fm_parse_format(NULL, &f, &err), JL_OK);
    CHECK_INT(f, FM_JSON);
    CHECK_INT(fm_parse_format("", &f, &err), JL_OK);
    CHECK_INT(f, FM_JSON);
    CHECK_INT(fm_parse_format("msgpack", &f, &err), JL_OK);
    CHECK_INT(f, FM_MSGPACK);
    CHECK_INT(fm_parse_format("MsgPack", &f, &err), JL_OK);
    CHECK_INT(f, FM_MSGPACK);
    CHECK_INT(fm_parse_format("xml", &f, &err), JL_EINVAL);
    CHECK_STR(err.message, "format \"xml\" is not known; use json, csv or msgpack");
    CHECK_INT(err.code, JL_EINVAL);
    CHECK_INT(fm_parse_format("msgpack ", &f, &err), JL_EINVAL);
    CHECK_STR(fm_content_type(FM_JSON), "application/json");
    CHECK_STR(fm_content_type(FM_CSV), "text/csv; charset=utf-8");
    CHECK_STR(fm_content_type(FM_MSGPACK), "application/msgpack");
    CHECK_INT(fm_format_streamable(FM_JSON), 1);
    CHECK_INT(fm_format_streamable(FM_CSV), 1);
    CHECK_INT(fm_format_streamable(FM_MSGPACK), 0);
}

static void test_call_order(void)
{
    jl_buf out;
    jl_buf_init(&out);
    fm_writer w;
    const char *columns[] = {"time"};
    qx_cell row[] = {int_cell(1)};
    CHECK_INT(fm_writer_init(&w, FM_JSON, &out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    CHECK_INT(sink.row(sink.context, row, 1), JL_EINVAL);
    /* Sticky: later calls fail with the same code. */
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 1), JL_EINVAL);
    CHECK_INT(fm_writer_finish(&w), JL_EINVAL);
    fm_writer_destroy(&w);

    CHECK_INT(fm_writer_init(&w, FM_CSV, &out), JL_OK);
    sink = fm_writer_sink(&w);
    CHECK_INT(sink.series_end(sink.context), JL_EINVAL);
    fm_writer_destroy(&w);

    CHECK_INT(fm_writer_init(&w, FM_CSV, &out), JL_OK);
    sink = fm_writer_sink(&w);
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 1), JL_OK);
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 1), JL_EINVAL);
    fm_writer_destroy(&w);

    CHECK_INT(fm_writer_init(&w, (fm_format)7, &out), JL_EINVAL);
    fm_writer_destroy(&w);
    jl_buf_destroy(&out);
}

/* The caller may drain the buffer between callbacks; the pieces add up to the whole. */
static void test_streaming(void)
{
    for (int format = FM_JSON; format <= FM_CSV; format++) {
        jl_buf whole, out, collected;
        jl_buf_init(&whole);
        jl_buf_init(&out);
        jl_buf_init(&collected);
        write_two_series((fm_format)format, &whole);

        fm_writer w;
        CHECK_INT(fm_writer_init(&w, (fm_format)format, &out), JL_OK);
        qx_sink sink = fm_writer_sink(&w);
        const char *columns[] = {"time", "mean"};
        sk_tag tags1[] = {tag_of("district", "jlp"), tag_of("station", "s01")};
        sk_tag tags2[] = {tag_of("station", "s02")};
        qx_cell rows[4][2] = {{int_cell(1735660800000), double_cell(35.2)},
                              {int_cell(1735664400000), null_cell()},
                              {int_cell(1735668000000), double_cell(36.0)},
                              {int_cell(1735660800000), double_cell(0.1)}};
#define DRAIN()                                                                                    \
    do {                                                                                           \
        jl_buf_append(&collected, out.data, out.len);                                              \
        out.len = 0;                                                                               \
    } while (0)
        DRAIN();
        sink.series_begin(sink.context, text_of("pm25"), tags1, 2, columns, 2);
        for (int i = 0; i < 3; i++) {
            DRAIN();
            sink.row(sink.context, rows[i], 2);
        }
        sink.series_end(sink.context);
        DRAIN();
        sink.series_begin(sink.context, text_of("pm25"), tags2, 1, columns, 2);
        DRAIN();
        sink.row(sink.context, rows[3], 2);
        sink.series_end(sink.context);
        DRAIN();
        CHECK_INT(fm_writer_finish(&w), JL_OK);
        DRAIN();
#undef DRAIN
        CHECK_INT(collected.len, whole.len);
        CHECK_STR(collected.data, whole.data);
        fm_writer_destroy(&w);
        jl_buf_destroy(&whole);
        jl_buf_destroy(&out);
        jl_buf_destroy(&collected);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* msgpack */

/* What a series should decode to. */
typedef struct want_series {
    const char *metric;
    size_t metric_len;
    const char *const *tags; /* key, value, key, value, ... */
    size_t tag_count;
    const char *const *columns;
    size_t column_count;
    const qx_cell *cells; /* row_count * column_count, row by row */
    size_t row_count;
} want_series;

static int obj_is_str(const msgpack_object *o, const char *s, size_t len)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
           memcmp(o->via.str.ptr, s, len) == 0;
}

/* Compares one decoded cell with what was written: ints by value in either msgpack int family,
 * doubles as float64 with the same bits, nulls as nil. */
static int obj_is_cell(const msgpack_object *o, qx_cell c)
{
    switch (c.type) {
    case QX_CELL_INT:
        if (c.as.i >= 0)
            return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 == (uint64_t)c.as.i;
        return o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 == c.as.i;
    case QX_CELL_DOUBLE:
        return o->type == MSGPACK_OBJECT_FLOAT64 && memcmp(&o->via.f64, &c.as.d, 8) == 0;
    default:
        return o->type == MSGPACK_OBJECT_NIL;
    }
}

/* Decodes doc as exactly one msgpack object and checks it is {"series": want[0..count)}. */
static void check_msgpack_doc(const jl_buf *doc, const want_series *want, size_t count)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    msgpack_object root;
    size_t offset = 0;
    int rc = msgpack_unpack(doc->data, doc->len, &offset, &zone, &root);
    CHECK_INT(rc, MSGPACK_UNPACK_SUCCESS);
    CHECK_INT(offset, doc->len);
    if (rc != MSGPACK_UNPACK_SUCCESS)
        goto out;
    CHECK(root.type == MSGPACK_OBJECT_MAP && root.via.map.size == 1);
    if (root.type != MSGPACK_OBJECT_MAP || root.via.map.size != 1)
        goto out;
    CHECK(obj_is_str(&root.via.map.ptr[0].key, "series", 6));
    const msgpack_object *list = &root.via.map.ptr[0].val;
    CHECK(list->type == MSGPACK_OBJECT_ARRAY);
    if (list->type != MSGPACK_OBJECT_ARRAY)
        goto out;
    CHECK_INT(list->via.array.size, count);
    int bad = 0; /* one failure report per series is enough */
    for (size_t s = 0; s < count && s < list->via.array.size && !bad; s++) {
        const want_series *w = &want[s];
        const msgpack_object *o = &list->via.array.ptr[s];
        if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 4) {
            bad = 1;
            break;
        }
        const msgpack_object_kv *kv = o->via.map.ptr;
        if (!obj_is_str(&kv[0].key, "metric", 6) || !obj_is_str(&kv[1].key, "tags", 4) ||
            !obj_is_str(&kv[2].key, "columns", 7) || !obj_is_str(&kv[3].key, "values", 6) ||
            !obj_is_str(&kv[0].val, w->metric, w->metric_len)) {
            bad = 1;
            break;
        }
        const msgpack_object *tags = &kv[1].val, *columns = &kv[2].val, *values = &kv[3].val;
        if (tags->type != MSGPACK_OBJECT_MAP || tags->via.map.size != w->tag_count ||
            columns->type != MSGPACK_OBJECT_ARRAY || columns->via.array.size != w->column_count ||
            values->type != MSGPACK_OBJECT_ARRAY || values->via.array.size != w->row_count) {
            bad = 1;
            break;
        }
        for (size_t i = 0; i < w->tag_count; i++) {
            const char *k = w->tags[2 * i], *v = w->tags[2 * i + 1];
            bad |= !obj_is_str(&tags->via.map.ptr[i].key, k, strlen(k)) ||
                   !obj_is_str(&tags->via.map.ptr[i].val, v, strlen(v));
        }
        for (size_t i = 0; i < w->column_count; i++)
            bad |= !obj_is_str(&columns->via.array.ptr[i], w->columns[i], strlen(w->columns[i]));
        for (size_t r = 0; r < w->row_count && !bad; r++) {
            const msgpack_object *row = &values->via.array.ptr[r];
            if (row->type != MSGPACK_OBJECT_ARRAY || row->via.array.size != w->column_count) {
                bad = 1;
                break;
            }
            for (size_t c = 0; c < w->column_count; c++)
                bad |= !obj_is_cell(&row->via.array.ptr[c], w->cells[r * w->column_count + c]);
        }
        if (bad)
            fprintf(stderr, "  series %zu decodes differently\n", s);
    }
    CHECK_INT(bad, 0);
out:
    msgpack_zone_destroy(&zone);
}

static void test_msgpack_two_series(void)
{
    jl_buf out;
    jl_buf_init(&out);
    write_two_series(FM_MSGPACK, &out);
    const char *columns[] = {"time", "mean"};
    const char *tags1[] = {"district", "jlp", "station", "s01"};
    const char *tags2[] = {"station", "s02"};
    qx_cell cells1[] = {int_cell(1735660800000), double_cell(35.2),
                        int_cell(1735664400000), null_cell(),
                        int_cell(1735668000000), double_cell(36.0)};
    qx_cell cells2[] = {int_cell(1735660800000), double_cell(0.1)};
    want_series want[] = {{"pm25", 4, tags1, 2, columns, 2, cells1, 3},
                          {"pm25", 4, tags2, 1, columns, 2, cells2, 1}};
    check_msgpack_doc(&out, want, 2);
    /* 36.0 stays a float64 (0xcb) although it is integral, and times take the uint64 form. */
    CHECK(memmem(out.data, out.len, "\xcb\x40\x42\x00\x00\x00\x00\x00\x00", 9) != NULL);
    CHECK(memmem(out.data, out.len, "\xcf\x00\x00\x01\x94\x1d\x72\x08\x00", 9) != NULL);
    jl_buf_destroy(&out);
}

/* Exact bytes, encoded by hand from the msgpack spec. */
static void test_msgpack_bytes(void)
{
    jl_buf out;
    jl_buf_init(&out);
    fm_writer w;
    /* An empty result: {"series": []} with the array32 header. Content already in out stays. */
    CHECK_INT(jl_buf_append_str(&out, "xy"), JL_OK);
    CHECK_INT(fm_writer_init(&w, FM_MSGPACK, &out), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    static const char empty[] = "xy\x81\xa6series\xdd\x00\x00\x00\x00";
    CHECK_INT(out.len, sizeof empty - 1);
    CHECK(memcmp(out.data, empty, sizeof empty - 1) == 0);
    CHECK_INT(fm_writer_finish(&w), JL_EINVAL); /* only once */
    fm_writer_destroy(&w);

    /* {"series":[{"metric":"m","tags":{"k":"v"},"columns":["t","x"],
     *             "values":[[1,-1.5],[-33,nil],[]]}, {"metric":"n", "tags":{}, "columns":[],
     *             "values":[]}]} */
    out.len = 0;
    CHECK_INT(fm_writer_init(&w, FM_MSGPACK, &out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    const char *columns[] = {"t", "x"};
    sk_tag tags[] = {tag_of("k", "v")};
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), tags, 1, columns, 2), JL_OK);
    qx_cell r1[] = {int_cell(1), double_cell(-1.5)};
    qx_cell r2[] = {int_cell(-33), null_cell()};
    CHECK_INT(sink.row(sink.context, r1, 2), JL_OK);
    CHECK_INT(sink.row(sink.context, r2, 2), JL_OK);
    CHECK_INT(sink.row(sink.context, NULL, 0), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(sink.series_begin(sink.context, text_of("n"), NULL, 0, NULL, 0), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK); /* closes the open series */
    static const char doc[] = "\x81\xa6series\xdd\x00\x00\x00\x02"
                              "\x84\xa6metric\xa1m\xa4tags\x81\xa1k\xa1v\xa7"
                              "columns\x92\xa1t\xa1x"
                              "\xa6values\x93"
                              "\x92\x01\xcb\xbf\xf8\x00\x00\x00\x00\x00\x00"
                              "\x92\xd0\xdf\xc0"
                              "\x90"
                              "\x84\xa6metric\xa1n\xa4tags\x80\xa7"
                              "columns\x90\xa6values\x90";
    CHECK_INT(out.len, sizeof doc - 1);
    CHECK(memcmp(out.data, doc, sizeof doc - 1) == 0);
    fm_writer_destroy(&w);
    jl_buf_destroy(&out);
}

/* Raw readings with their flags: a FLAG cell is the letter of its code, a JSON string, a bare CSV
 * field, a msgpack fixstr; a BOOL cell (valid) is true or false in JSON and CSV, msgpack's
 * true (0xc3) or false (0xc2). */
static void write_flag_rows(fm_format format, jl_buf *out)
{
    fm_writer w;
    CHECK_INT(fm_writer_init(&w, format, out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    const char *columns[] = {"time", "value", "flag", "valid"};
    sk_tag tags[] = {tag_of("station", "s1")};
    CHECK_INT(sink.series_begin(sink.context, text_of("pm25"), tags, 1, columns, 4), JL_OK);
    qx_cell r1[] = {int_cell(1),
                    double_cell(35.2),
                    {.type = QX_CELL_FLAG, .as.i = 2},
                    {.type = QX_CELL_BOOL, .as.i = 0}};
    qx_cell r2[] = {int_cell(2),
                    double_cell(-1.5),
                    {.type = QX_CELL_FLAG, .as.i = 0},
                    {.type = QX_CELL_BOOL, .as.i = 1}};
    qx_cell r3[] = {int_cell(3),
                    double_cell(0),
                    {.type = QX_CELL_FLAG, .as.i = 7},
                    {.type = QX_CELL_BOOL, .as.i = 1}};
    CHECK_INT(sink.row(sink.context, r1, 4), JL_OK);
    CHECK_INT(sink.row(sink.context, r2, 4), JL_OK);
    CHECK_INT(sink.row(sink.context, r3, 4), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    fm_writer_destroy(&w);
}

static void test_flag_cells(void)
{
    jl_buf out;
    jl_buf_init(&out);
    write_flag_rows(FM_JSON, &out);
    CHECK_STR(out.data, "{\"series\":[{\"metric\":\"pm25\",\"tags\":{\"station\":\"s1\"},"
                        "\"columns\":[\"time\",\"value\",\"flag\",\"valid\"],\"values\":"
                        "[[1,35.2,\"M\",false],[2,-1.5,\"N\",true],[3,0,\"B\",true]]}]}");
    out.len = 0;
    write_flag_rows(FM_CSV, &out);
    CHECK_STR(out.data, "metric,tags,time,value,flag,valid\r\n"
                        "pm25,station=s1,1,35.2,M,false\r\n"
                        "pm25,station=s1,2,-1.5,N,true\r\n"
                        "pm25,station=s1,3,0,B,true\r\n");
    out.len = 0;
    write_flag_rows(FM_MSGPACK, &out);
    static const char doc[] = "\x81\xa6series\xdd\x00\x00\x00\x01"
                              "\x84\xa6metric\xa4pm25\xa4tags\x81\xa7station\xa2s1\xa7"
                              "columns\x94\xa4time\xa5value\xa4"
                              "flag\xa5valid"
                              "\xa6values\x93"
                              "\x94\x01\xcb\x40\x41\x99\x99\x99\x99\x99\x9a\xa1M\xc2"
                              "\x94\x02\xcb\xbf\xf8\x00\x00\x00\x00\x00\x00\xa1N\xc3"
                              "\x94\x03\xcb\x00\x00\x00\x00\x00\x00\x00\x00\xa1"
                              "B\xc3";
    CHECK_INT(out.len, sizeof doc - 1);
    CHECK(out.len == sizeof doc - 1 && memcmp(out.data, doc, sizeof doc - 1) == 0);
    jl_buf_destroy(&out);
}

/* Series with 0, 1, 3 and 70000 rows (past array16), unicode and invalid UTF-8 in strings,
 * integer and double extremes. */
static void test_msgpack_shapes(void)
{
    jl_buf out;
    jl_buf_init(&out);
    fm_writer w;
    CHECK_INT(fm_writer_init(&w, FM_MSGPACK, &out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);

    /* 1: no rows, unicode metric, tags and column (嘉陵, é, U+1F600), awkward bytes. */
    const char *uni_columns[] = {"\xe6\x97\xb6\xe9\x97\xb4"}; /* 时间 */
    sk_tag uni_tags[] = {tag_of("river", "\xe5\x98\x89\xe9\x99\xb5"), tag_of("k", awkward),
                         tag_of("e", "\xf0\x9f\x98\x80")};
    const char *want_uni_tags[] = {"river", "\xe5\x98\x89\xe9\x99\xb5", "k", awkward,
                                   "e",     "\xf0\x9f\x98\x80"};
    CHECK_INT(sink.series_begin(sink.context, text_of("caf\xc3\xa9"), uni_tags, 3, uni_columns, 1),
              JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);

    /* 2: one row of extremes. */
    const char *ext_columns[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"};
    qx_cell ext[] = {int_cell(INT64_MIN),
                     int_cell(INT64_MAX),
                     int_cell(0),
                     int_cell(-1),
                     int_cell(127),
                     int_cell(-32),
                     double_cell(-0.0),
                     double_cell(4.9406564584124654e-324),
                     double_cell(1.7976931348623157e308),
                     double_cell(NAN),
                     double_cell(-INFINITY),
                     null_cell()};
    CHECK_INT(sink.series_begin(sink.context, text_of("ext"), NULL, 0, ext_columns, 12), JL_OK);
    CHECK_INT(sink.row(sink.context, ext, 12), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);

    /* 3: invalid UTF-8 is repaired as in JSON, one U+FFFD per bad byte; an embedded NUL stays. */
    const char bad_metric[] = "a\xff\xc0\xaf"
                              "b\0c";
    sk_text bad_text = {bad_metric, sizeof bad_metric - 1};
    sk_tag bad_tags[] = {{text_of("k"), text_of("\xe5\x98")}};
    const char want_bad_metric[] = "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                   "b\0c";
    const char *want_bad_tags[] = {"k", "\xef\xbf\xbd\xef\xbf\xbd"};
    const char *one_column[] = {"v"};
    qx_cell three[] = {int_cell(128), int_cell(-33), double_cell(0.1)};
    CHECK_INT(sink.series_begin(sink.context, bad_text, bad_tags, 1, one_column, 1), JL_OK);
    for (int i = 0; i < 3; i++)
        CHECK_INT(sink.row(sink.context, &three[i], 1), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);

    /* 4: 70000 rows, more than an array16 header can count. */
    enum { BIG = 70000 };
    qx_cell *big = malloc(2 * BIG * sizeof *big);
    CHECK(big != NULL);
    if (big == NULL)
        return;
    const char *big_columns[] = {"time", "value"};
    CHECK_INT(sink.series_begin(sink.context, text_of("big"), NULL, 0, big_columns, 2), JL_OK);
    for (int i = 0; i < BIG; i++) {
        big[2 * i] = int_cell(1735660800000 + 1000LL * i);
        big[2 * i + 1] = i % 7 == 0 ? null_cell() : double_cell(i * 0.25 - 100);
        CHECK_INT(sink.row(sink.context, &big[2 * i], 2), JL_OK);
    }
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_OK);

    want_series want[] = {
        {"caf\xc3\xa9", 5, want_uni_tags, 3, uni_columns, 1, NULL, 0},
        {"ext", 3, NULL, 0, ext_columns, 12, ext, 1},
        {want_bad_metric, sizeof want_bad_metric - 1, want_bad_tags, 1, one_column, 1, three, 3},
        {"big", 3, NULL, 0, big_columns, 2, big, BIG},
    };
    check_msgpack_doc(&out, want, 4);
    /* The big series' values header is array32 with 70000 = 0x00011170. */
    CHECK(memmem(out.data, out.len, "\xa6values\xdd\x00\x01\x11\x70", 11) != NULL);
    free(big);
    fm_writer_destroy(&w);
    jl_buf_destroy(&out);
}

/* Random documents: a fixed seed, 0 to 12 series of 0 to 200 rows of random cells. */
static void test_msgpack_random(void)
{
    const unsigned seed = 4243;
    printf("test_msgpack_random seed %u\n", seed);
    srand(seed);
    enum { MAX_SERIES = 12, MAX_ROWS = 200, COLUMNS = 3 };
    static qx_cell cells[MAX_SERIES][MAX_ROWS * COLUMNS];
    static char metrics[MAX_SERIES][24];
    const char *columns[COLUMNS] = {"time", "min", "max"};
    for (int round = 0; round < 40; round++) {
        jl_buf out;
        jl_buf_init(&out);
        fm_writer w;
        CHECK_INT(fm_writer_init(&w, FM_MSGPACK, &out), JL_OK);
        qx_sink sink = fm_writer_sink(&w);
        want_series want[MAX_SERIES];
        size_t series = (size_t)(rand() % (MAX_SERIES + 1));
        for (size_t s = 0; s < series; s++) {
            size_t rows = (size_t)(rand() % 4 == 0 ? 0 : rand() % (MAX_ROWS + 1));
            snprintf(metrics[s], sizeof metrics[s], "m%zu", s);
            CHECK_INT(
                sink.series_begin(sink.context, text_of(metrics[s]), NULL, 0, columns, COLUMNS),
                JL_OK);
            for (size_t r = 0; r < rows; r++) {
                qx_cell *row = &cells[s][r * COLUMNS];
                for (int c = 0; c < COLUMNS; c++) {
                    uint64_t bits = 0;
                    for (int j = 0; j < 4; j++)
                        bits = (bits << 16) ^ (uint64_t)(rand() & 0xFFFF);
                    int kind = rand() % 4;
                    if (kind == 0) {
                        row[c] = null_cell();
                    } else if (kind == 1) {
                        double d;
                        memcpy(&d, &bits, sizeof d);
                        row[c] = double_cell(d);
                    } else {
                        /* Every int width: shift the bits down by a random amount. */
                        row[c] = int_cell((int64_t)bits >> (rand() % 64));
                    }
                }
                CHECK_INT(sink.row(sink.context, row, COLUMNS), JL_OK);
            }
            CHECK_INT(sink.series_end(sink.context), JL_OK);
            want[s] = (want_series){metrics[s], strlen(metrics[s]), NULL, 0, columns,
                                    COLUMNS,    cells[s],           rows};
        }
        CHECK_INT(fm_writer_finish(&w), JL_OK);
        check_msgpack_doc(&out, want, series);
        fm_writer_destroy(&w);
        jl_buf_destroy(&out);
    }
}

/* Bytes taken out before finish (a spooled answer): finish leaves the count to the caller, whose
 * patch turns the pieces into exactly the document an undrained writer makes. Bytes appended by
 * someone else are still refused. */
static void test_msgpack_drained(void)
{
    const char *columns[] = {"time"};
    qx_cell row[] = {int_cell(1)};
    jl_buf whole, out, sent;
    jl_buf_init(&whole);
    jl_buf_init(&out);
    jl_buf_init(&sent);
    fm_writer w;
    for (int drained = 0; drained <= 1; drained++) {
        jl_buf *target = drained ? &out : &whole;
        CHECK_INT(fm_writer_init(&w, FM_MSGPACK, target), JL_OK);
        qx_sink sink = fm_writer_sink(&w);
        for (int s = 0; s < 3; s++) {
            CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 1), JL_OK);
            CHECK_INT(sink.row(sink.context, row, 1), JL_OK);
            CHECK_INT(sink.series_end(sink.context), JL_OK);
            if (drained) { /* "send" what is there */
                CHECK_INT(jl_buf_append(&sent, out.data, out.len), JL_OK);
                out.len = 0;
            }
        }
        CHECK_INT(fm_writer_finish(&w), JL_OK);
        uint64_t offset = 0;
        unsigned char bytes[4];
        CHECK_INT(fm_writer_count_patch(&w, &offset, bytes), drained);
        if (drained) {
            CHECK_INT(jl_buf_append(&sent, out.data, out.len), JL_OK);
            CHECK_INT(offset, 9);
            CHECK(offset + 4 <= sent.len);
            if (offset + 4 <= sent.len)
                memcpy(sent.data + offset, bytes, 4);
        }
        fm_writer_destroy(&w);
    }
    CHECK_INT(sent.len, whole.len);
    CHECK(sent.len == whole.len && memcmp(sent.data, whole.data, whole.len) == 0);

    /* Someone else appended to out. */
    out.len = 0;
    CHECK_INT(fm_writer_init(&w, FM_MSGPACK, &out), JL_OK);
    CHECK_INT(jl_buf_append_str(&out, "x"), JL_OK);
    CHECK_INT(fm_writer_finish(&w), JL_EINVAL);
    fm_writer_destroy(&w);
    jl_buf_destroy(&whole);
    jl_buf_destroy(&sent);
    jl_buf_destroy(&out);
}

static void test_msgpack_call_order(void)
{
    jl_buf out;
    jl_buf_init(&out);
    fm_writer w;
    const char *columns[] = {"time"};
    qx_cell row[] = {int_cell(1)};
    CHECK_INT(fm_writer_init(&w, FM_MSGPACK, &out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    CHECK_INT(sink.row(sink.context, row, 1), JL_EINVAL);
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 1), JL_EINVAL);
    CHECK_INT(fm_writer_finish(&w), JL_EINVAL);
    fm_writer_destroy(&w);

    out.len = 0;
    CHECK_INT(fm_writer_init(&w, FM_MSGPACK, &out), JL_OK);
    sink = fm_writer_sink(&w);
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 1), JL_OK);
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 1), JL_EINVAL);
    fm_writer_destroy(&w);

    out.len = 0;
    CHECK_INT(fm_writer_init(&w, FM_MSGPACK, &out), JL_OK);
    sink = fm_writer_sink(&w);
    CHECK_INT(fm_writer_finish(&w), JL_OK);
    CHECK_INT(sink.series_begin(sink.context, text_of("m"), NULL, 0, columns, 1), JL_EINVAL);
    fm_writer_destroy(&w);
    fm_writer_destroy(&w); /* twice is harmless */
    jl_buf_destroy(&out);
}

/* ------------------------------------------------------------------------------------------ */
/* Accept */

static void accept_is(const char *accept, int expected_rc, fm_format expected)
{
    fm_format f = (fm_format)99;
    int rc = fm_format_from_accept(accept, &f);
    if (rc != expected_rc || f != expected)
        fprintf(stderr, "  Accept: %s\n", accept ? accept : "(absent)");
    CHECK_INT(rc, expected_rc);
    CHECK_INT(f, expected);
}

/* A tag-value listing through fm_writer_text_row: rows [name, count] in one series. */
static void write_text_rows(fm_format format, const char *second_name, jl_buf *out)
{
    fm_writer w;
    CHECK_INT(fm_writer_init(&w, format, out), JL_OK);
    qx_sink sink = fm_writer_sink(&w);
    const char *columns[] = {"value", "series"};
    CHECK_INT(sink.series_begin(sink.context, text_of("pm25"), NULL, 0, columns, 2), JL_OK);
    qx_cell three = int_cell(3), one = int_cell(1);
    CHECK_INT(fm_writer_text_row(&w, text_of("s,01"), &three, 1), JL_OK);
    CHECK_INT(fm_writer_text_row(&w, text_of(second_name), &one, 1), JL_OK);
    CHECK_INT(fm_writer_text_row(&w, text_of("x"), NULL, 0), JL_OK);
    CHECK_INT(sink.series_end(sink.context), JL_OK);
    CHECK_INT(fm_writer_text_row(&w, text_of("late"), &one, 1), JL_EINVAL); /* outside a series */
    fm_writer_destroy(&w);
}

static void test_text_rows(void)
{
    jl_buf out;
    jl_buf_init(&out);
    write_text_rows(FM_JSON, "s\"2", &out);
    CHECK_STR(out.data, "{\"series\":[{\"metric\":\"pm25\",\"tags\":{},"
                        "\"columns\":[\"value\",\"series\"],"
                        "\"values\":[[\"s,01\",3],[\"s\\\"2\",1],[\"x\"]]}");
    out.len = 0;
    write_text_rows(FM_CSV, "s\"2", &out);
    CHECK_STR(out.data, "metric,tags,value,series\r\n"
                        "pm25,,\"s,01\",3\r\n"
                        "pm25,,\"s\"\"2\",1\r\n"
                        "pm25,,x\r\n");
    /* msgpack: str cells, an invalid byte repaired to U+FFFD (EF BF BD). The series count is
     * still the placeholder 0: the writer was not finished. */
    out.len = 0;
    write_text_rows(FM_MSGPACK, "\xff", &out);
    static const char doc[] = "\x81\xa6series\xdd\x00\x00\x00\x00"
                              "\x84\xa6metric\xa4pm25\xa4tags\x80"
                              "\xa7"
                              "columns\x92\xa5value\xa6series"
                              "\xa6values\x93"
                              "\x92\xa4s,01\x03"
                              "\x92\xa3\xef\xbf\xbd\x01"
                              "\x91\xa1x";
    CHECK_INT(out.len, sizeof doc - 1);
    CHECK(out.len == sizeof doc - 1 && memcmp(out.data, doc, sizeof doc - 1) == 0);
    jl_buf_destroy(&out);
}

static void test_accept(void)
{
    /* Nothing specific: JSON. */
    accept_is(NULL, 0, FM_JSON);
    accept_is("", 0, FM_JSON);
    accept_is("*/*", 0, FM_JSON);
    accept_is("application/json", 0, FM_JSON);
    accept_is("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 0, FM_JSON);
    accept_is("image/png", 0, FM_JSON);
    accept_is(" , ,, ", 0, FM_JSON);

    /* Named formats. */
    accept_is("application/msgpack", 1, FM_MSGPACK);
    accept_is("application/x-msgpack", 1, FM_MSGPACK);
    accept_is("text/csv", 1, FM_CSV);
    accept_is("APPLICATION/MsgPack", 1, FM_MSGPACK);
    accept_is("Text/CSV; charset=utf-8", 1, FM_CSV);
    accept_is("text/csv;header=present;q=0.5", 1, FM_CSV);

    /* Preference against JSON: strictly higher wins, a tie stays JSON. */
    accept_is("application/msgpack, application/json", 0, FM_JSON);
    accept_is("application/json, application/msgpack", 0, FM_JSON);
    accept_is("application/msgpack, application/json;q=0.9", 1, FM_MSGPACK);
    accept_is("application/json;q=0.9,application/msgpack", 1, FM_MSGPACK);
    accept_is("application/json;q=0.999, text/csv", 1, FM_CSV);
    accept_is("application/json, text/csv;q=0.5", 0, FM_JSON);
    accept_is("text/csv;q=0.5, */*", 0, FM_JSON);          /* JSON via star/star, q=1 */
    accept_is("text/csv;q=0.5, */*;q=0.4", 1, FM_CSV);     /* JSON via star/star, q=0.4 */
    accept_is("application/msgpack;q=0, */*", 0, FM_JSON); /* refused outright */
    accept_is("application/msgpack;q=0", 0, FM_JSON);
    accept_is("application/json;q=0, */*", 0, FM_JSON); /* only star/star for the others */
    accept_is("application/json;q=0, text/csv;q=0.1", 1, FM_CSV);

    /* Whitespace, tabs, case of q, empty elements and parameters. */
    accept_is("  application/json ; q=0.5 ,\ttext/csv ;  Q=0.6  ", 1, FM_CSV);
    accept_is(",,application/msgpack;,", 1, FM_MSGPACK);
    accept_is("application/json;q=0.5;q=1, text/csv;q=0.7", 1, FM_CSV); /* first q counts */

    /* Wildcards of a type: text/star covers CSV only; application/star JSON and msgpack alike. */
    accept_is("text/*", 1, FM_CSV);
    accept_is("text/*;q=0.5, application/json;q=0.4", 1, FM_CSV);
    accept_is("application/*", 0, FM_JSON);
    accept_is("application/*, application/json;q=0.5", 1, FM_MSGPACK);
    accept_is("application/*;q=0.5, application/msgpack", 1, FM_MSGPACK);
    accept_is("text/*, text/csv;q=0", 0, FM_JSON); /* the exact range overrides the wildcard */
    accept_is("*/csv", 0, FM_JSON);

    /* CSV against msgpack: higher q, then listed first. */
    accept_is("text/csv;q=0.8, application/msgpack;q=0.9", 1, FM_MSGPACK);
    accept_is("text/csv, application/msgpack", 1, FM_CSV);
    accept_is("application/x-msgpack, text/csv", 1, FM_MSGPACK);
    /* Aliases: the better of the two counts. */
    accept_is("application/msgpack;q=0.2, application/x-msgpack;q=0.9, text/csv;q=0.5", 1,
              FM_MSGPACK);

    accept_is("application/x-msgpack;q=0.9, application/msgpack;q=0.2, text/csv;q=0.5", 1,
              FM_MSGPACK);
    /* Malformed elements are skipped, the rest still counts. */
    accept_is("text/csv;q=2", 0, FM_JSON);
    accept_is("text/csv;q=0.1234", 0, FM_JSON);
    accept_is("text/csv;q=1.001", 0, FM_JSON);
    accept_is("text/csv;q=", 0, FM_JSON);
    accept_is("text/csv;q=.5", 0, FM_JSON);
    accept_is("text/csv;q=1.000", 1, FM_CSV);
    accept_is("text/csv;q=0.", 0, FM_JSON); /* "0." is q=0: refused */
    accept_is("csv, text/, /csv, text/csv junk, application/msgpack", 1, FM_MSGPACK);
    accept_is("text/csv;x=\"a,b;q=0\", application/json;q=0.9", 1, FM_CSV);
    accept_is("text/csv;x=\"a,b, application/msgpack", 0, FM_JSON); /* unclosed quote */
    accept_is("text/csv;x=\"a\\\"b\";q=0.3, application/json;q=0.2", 1, FM_CSV);
}

/* Random bytes from the characters that matter must neither crash nor set an unknown format. */
static void test_accept_random(void)
{
    const unsigned seed = 99991;
    printf("test_accept_random seed %u\n", seed);
    srand(seed);
    static const char *pieces[] = {"text", "csv", "application", "msgpack",   "json", "*", "/",
                                   ";",    ",",   "q=",          "0.5",       "1",    " ", "\t",
                                   "\"",   "\\",  "=",           "x-msgpack", "Q",    "0"};
    char header[256];
    for (int i = 0; i < 20000; i++) {
        size_t len = 0;
        int count = rand() % 20;
        for (int j = 0; j < count; j++) {
            const char *p = pieces[rand() % (int)(sizeof pieces / sizeof pieces[0])];
            size_t n = strlen(p);
            if (len + n >= sizeof header)
                break;
            memcpy(header + len, p, n);
            len += n;
        }
        header[len] = '\0';
        fm_format f = (fm_format)99;
        int rc = fm_format_from_accept(header, &f);
        CHECK((rc == 0 && f == FM_JSON) || (rc == 1 && (f == FM_CSV || f == FM_MSGPACK)));
    }
}

int main(void)
{
    RUN(test_json_two_series);
    RUN(test_csv_two_series);
    RUN(test_empty_results);
    RUN(test_json_escaping);
    RUN(test_csv_escaping);
    RUN(test_double_known);
    RUN(test_double_round_trip);
    RUN(test_double_fixed_range);
    RUN(test_large_ints);
    RUN(test_json_error);
    RUN(test_parse_format);
    RUN(test_call_order);
    RUN(test_streaming);
    RUN(test_msgpack_two_series);
    RUN(test_msgpack_bytes);
    RUN(test_msgpack_shapes);
    RUN(test_flag_cells);
    RUN(test_msgpack_random);
    RUN(test_msgpack_drained);
    RUN(test_msgpack_call_order);
    RUN(test_text_rows);
    RUN(test_accept);
    RUN(test_accept_random);
    return CHECK_DONE();
}
