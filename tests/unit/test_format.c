/* Tests server/format.c: exact JSON and CSV documents for a small two-series result, escaping of
 * awkward strings (quotes, backslash, UTF-8, control and invalid bytes), double printing (exact
 * strings for known values, round trip and JSON number grammar for random bit patterns), large
 * integers, error bodies, format names and out-of-order sink calls. */
#include "check.h"

#include "jialing/format.h"

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
    CHECK_INT(fm_parse_format("msgpack", &f, &err), JL_EINVAL);
    CHECK_STR(err.message, "format \"msgpack\" is not supported yet; use json or csv");
    CHECK_INT(fm_parse_format("xml", &f, &err), JL_EINVAL);
    CHECK_STR(err.message, "format \"xml\" is not known; use json or csv");
    CHECK_INT(err.code, JL_EINVAL);
    CHECK_STR(fm_content_type(FM_JSON), "application/json");
    CHECK_STR(fm_content_type(FM_CSV), "text/csv; charset=utf-8");
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

int main(void)
{
    RUN(test_json_two_series);
    RUN(test_csv_two_series);
    RUN(test_empty_results);
    RUN(test_json_escaping);
    RUN(test_csv_escaping);
    RUN(test_double_known);
    RUN(test_double_round_trip);
    RUN(test_large_ints);
    RUN(test_json_error);
    RUN(test_parse_format);
    RUN(test_call_order);
    RUN(test_streaming);
    return CHECK_DONE();
}
