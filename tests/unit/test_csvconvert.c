/* Tests of server/csvconvert.c: CSV header detection, time parsing (expected epoch values computed
 * independently with Python's datetime), CSV row to line protocol, field counting, error-body
 * decoding and batch-to-file line translation; converted rows are also fed to the server's
 * line-protocol parser to show they mean what the CSV said. */
#include "check.h"
#include "jialing/csvconvert.h"
#include "jialing/ingest.h"

static int64_t parse_ok(const char *text)
{
    int64_t ms = 123456789;
    jl_error err;
    int rc = cv_parse_time_ms(text, strlen(text), &ms, &err);
    if (rc != JL_OK)
        fprintf(stderr, "  parse of '%s' failed: %s\n", text, err.message);
    return rc == JL_OK ? ms : 123456789;
}

static int parse_rc(const char *text)
{
    int64_t ms;
    jl_error err;
    return cv_parse_time_ms(text, strlen(text), &ms, &err);
}

static void test_header(void)
{
    CHECK_INT(cv_is_csv_header("time,metric,tags,value", 22), 1);
    CHECK_INT(cv_is_csv_header("time,metric,tags,value\r\n", 24), 1);
    CHECK_INT(cv_is_csv_header(" time,metric,tags,value ", 24), 1);
    CHECK_INT(cv_is_csv_header("time,metric,tags,values", 23), 0);
    CHECK_INT(cv_is_csv_header("pm25,station=s01 value=1 1", 26), 0);
    CHECK_INT(cv_is_csv_header("", 0), 0);
}

static void test_time(void)
{
    CHECK_INT(parse_ok("1735689600000"), 1735689600000LL);
    CHECK_INT(parse_ok("-5"), -5);
    CHECK_INT(parse_ok("0"), 0);
    CHECK_INT(parse_ok("2025-01-01T00:00:00Z"), 1735689600000LL);
    CHECK_INT(parse_ok("2025-01-01T08:00:00+08:00"), 1735689600000LL);
    CHECK_INT(parse_ok("2025-01-01 00:00:00z"), 1735689600000LL);
    CHECK_INT(parse_ok("2024-02-29T12:34:56.789Z"), 1709210096789LL);
    CHECK_INT(parse_ok("2024-02-29T12:34:56.7899999Z"), 1709210096789LL);
    CHECK_INT(parse_ok("2024-02-29T12:34:56.7Z"), 1709210096700LL);
    CHECK_INT(parse_ok("2000-03-01T00:00:00-05:30"), 951888600000LL);
    CHECK_INT(parse_ok("1900-01-01T00:00:00Z"), -2208988800000LL);
    CHECK_INT(parse_ok("1969-12-31T23:59:59.999Z"), -1);
    CHECK_INT(parse_rc("2025-02-29T00:00:00Z"), JL_EINVAL);
    CHECK_INT(parse_rc("2025-01-01T00:00:00"), JL_EINVAL);
    CHECK_INT(parse_rc("2025-01-01T24:00:00Z"), JL_EINVAL);
    CHECK_INT(parse_rc("2025-01-01T00:00:00Zx"), JL_EINVAL);
    CHECK_INT(parse_rc("2025-01-01T00:00:00.Z"), JL_EINVAL);
    CHECK_INT(parse_rc("2025-13-01T00:00:00Z"), JL_EINVAL);
    CHECK_INT(parse_rc("12.5"), JL_EINVAL);
    CHECK_INT(parse_rc(""), JL_EINVAL);
    CHECK_INT(parse_rc("9223372036855"), JL_EINVAL); /* one past JL_MAX_MS */
    CHECK_INT(parse_ok("9223372036854"), 9223372036854LL);
    /* What import accepted before it called qp_parse_time_text(), and still does: a '+' on epoch
     * ms, surrounding blanks, ',' before the fraction, second 60 folded into second 59. */
    CHECK_INT(parse_ok("+1000"), 1000);
    CHECK_INT(parse_ok(" \t2025-01-01T00:00:00Z\r\n"), 1735689600000LL);
    CHECK_INT(parse_ok("2024-02-29T12:34:56,789Z"), 1709210096789LL);
    CHECK_INT(parse_ok("2016-12-31T23:59:60Z"), 1483228799000LL);
    CHECK_INT(parse_rc("2016-12-31T23:59:61Z"), JL_EINVAL);
}

static const char *convert(const char *row, jl_buf *out, jl_error *err)
{
    out->len = 0;
    if (out->data != NULL)
        out->data[0] = '\0';
    int rc = cv_csv_row_to_lp(row, strlen(row), out, err);
    return rc == JL_OK ? out->data : "(error)";
}

static void test_row(void)
{
    jl_buf out;
    jl_error err;
    jl_buf_init(&out);
    CHECK_STR(convert("1735689600000,pm25,station=s01;district=d1,35.2", &out, &err),
              "pm25,station=s01,district=d1 value=35.2 1735689600000\n");
    CHECK_STR(convert("2025-01-01T08:00:00+08:00,nh3n,,0.125\r\n", &out, &err),
              "nh3n value=0.125 1735689600000\n");
    CHECK_STR(convert(" 1000 , cod , site=a b;x=1=2 , +.5 ", &out, &err),
              "cod,site=a\\ b,x=1\\=2 value=0.5 1000\n");
    CHECK_STR(convert("1000,o3,\"name=a,b;q=\"\"x\"\"\",-.5e3", &out, &err),
              "o3,name=a\\,b,q=\"x\" value=-0.5e3 1000\n");
    CHECK_STR(convert("1000,o3,path=c:\\dir;end=x\\,7", &out, &err),
              "o3,path=c:\\\\dir,end=x\\\\ value=7 1000\n");

    /* Failures leave out unchanged and name the column. */
    out.len = 0;
    CHECK_INT(jl_buf_append_str(&out, "keep"), JL_OK);
    CHECK_INT(cv_csv_row_to_lp("1000,pm25,a=1,abc", 17, &out, &err), JL_EINVAL);
    CHECK_INT(err.column, 15);
    CHECK_INT(out.len, 4);
    CHECK_STR(out.data, "keep");
    CHECK_INT(cv_csv_row_to_lp("1000,pm25,a=1,1e999", 19, &out, &err), JL_EINVAL);
    CHECK_INT(cv_csv_row_to_lp("1000,pm25,a=1,nan", 17, &out, &err), JL_EINVAL);
    CHECK_INT(cv_csv_row_to_lp("x,pm25,a=1,1", 12, &out, &err), JL_EINVAL);
    CHECK_INT(err.column, 1);
    CHECK_INT(cv_csv_row_to_lp("1,2pm,a=1,1", 11, &out, &err), JL_EINVAL);
    CHECK_INT(err.column, 3);
    CHECK_INT(cv_csv_row_to_lp("1,pm,a,1", 8, &out, &err), JL_EINVAL);
    CHECK_INT(err.column, 6);
    CHECK_INT(cv_csv_row_to_lp("1,pm,=1,1", 9, &out, &err), JL_EINVAL);
    CHECK_INT(cv_csv_row_to_lp("1,pm,a=,1", 9, &out, &err), JL_EINVAL);
    CHECK_INT(cv_csv_row_to_lp("1,pm,a=1", 8, &out, &err), JL_EINVAL);
    CHECK_INT(cv_csv_row_to_lp("1,pm,a=1,1,2", 12, &out, &err), JL_EINVAL);
    CHECK_INT(err.column, 12);
    CHECK_INT(cv_csv_row_to_lp("1,pm,\"a=1,1", 11, &out, &err), JL_EINVAL);
    CHECK_INT(cv_csv_row_to_lp("1,pm,\"a\tb=1\",1", 15, &out, &err), JL_EINVAL);
    CHECK_INT(cv_csv_row_to_lp("1,pm,\"a=b\tc\",1", 15, &out, &err), JL_EINVAL);
    CHECK_INT(out.len, 4);
    jl_buf_destroy(&out);
}

static void test_field_count(void)
{
    const char *a = "pm25,station=s01 value=35.2 1735689600000";
    const char *b = "weather,loc=a\\ b temp=1,hum=2i,note=\"a, b\" 17";
    const char *c = "m f=1";
    CHECK_INT(cv_lp_field_count(a, strlen(a)), 1);
    CHECK_INT(cv_lp_field_count(b, strlen(b)), 3);
    CHECK_INT(cv_lp_field_count(c, strlen(c)), 1);
    CHECK_INT(cv_lp_field_count("# comment", 9), 0);
    CHECK_INT(cv_lp_field_count("  \r", 3), 0);
    CHECK_INT(cv_lp_field_count("", 0), 0);
}

static void test_error_message(void)
{
    jl_buf out;
    jl_buf_init(&out);
    const char *json = "{\"error\": \"line 3, column 7: bad \\\"x\\\" \\u00e9\\ud83d\\ude00\"}";
    CHECK_INT(cv_error_message(json, strlen(json), &out), JL_OK);
    CHECK_STR(out.data, "line 3, column 7: bad \"x\" \xc3\xa9\xf0\x9f\x98\x80");
    out.len = 0;
    CHECK_INT(cv_error_message("  Bad Gateway\n", 14, &out), JL_OK);
    CHECK_STR(out.data, "Bad Gateway");
    out.len = 0;
    CHECK_INT(cv_error_message("{\"error\": \"unterminated", 23, &out), JL_OK);
    CHECK_STR(out.data, "{\"error\": \"unterminated");
    out.len = 0;
    CHECK_INT(cv_error_message("", 0, &out), JL_OK);
    CHECK_STR(out.data, "(empty answer)");
    jl_buf_destroy(&out);
}

static void test_translate(void)
{
    const long map[3] = {10, 12, 15};
    jl_buf out;
    jl_buf_init(&out);
    CHECK_INT(cv_translate_line("line 3, column 7: bad value", map, 3, &out), JL_OK);
    CHECK_STR(out.data, "line 15, column 7: bad value");
    out.len = 0;
    CHECK_INT(cv_translate_line("bad field on Line 1: x", map, 3, &out), JL_OK);
    CHECK_STR(out.data, "bad field on Line 10: x");
    out.len = 0;
    CHECK_INT(cv_translate_line("line 4: out of range", map, 3, &out), JL_OK);
    CHECK_STR(out.data, "line 4: out of range");
    out.len = 0;
    CHECK_INT(cv_translate_line("pipeline 2 broke", map, 3, &out), JL_OK);
    CHECK_STR(out.data, "pipeline 2 broke");
    out.len = 0;
    CHECK_INT(cv_translate_line("no line here", map, 3, &out), JL_OK);
    CHECK_STR(out.data, "no line here");
    jl_buf_destroy(&out);
}

/* The converted lines, parsed by the server's parser, give the series keys and values of the CSV
 * (expected keys written by hand in the canonical form of serieskey.h). */
static void test_round_trip_through_parser(void)
{
    const char *rows[] = {
        "1735689600000,pm25,station=s01;district=d1,35.2",
        "\"2025-01-01T08:00:01.5+08:00\",cod,\"site=a b,c=d\\e\\;q=\"\"x\"\"\",-.5",
        "1735689660000,nh3n,station=\xe5\x98\x89\xe9\x99\xb5=1,0.125",
    };
    const char *keys[] = {
        "pm25{district=\"d1\",station=\"s01\"}",
        "cod{q=\"\\\"x\\\"\",site=\"a b,c=d\\\\e\\\\\"}",
        "nh3n{station=\"\xe5\x98\x89\xe9\x99\xb5=1\"}",
    };
    const int64_t times[] = {1735689600000LL, 1735689601500LL, 1735689660000LL};
    const double values[] = {35.2, -0.5, 0.125};
    jl_buf body;
    jl_error err;
    st_batch batch;
    jl_buf_init(&body);
    st_batch_init(&batch);
    for (size_t i = 0; i < 3; i++)
        CHECK_INT(cv_csv_row_to_lp(rows[i], strlen(rows[i]), &body, &err), JL_OK);
    int rc = ig_parse_line_protocol(body.data, body.len, IG_PRECISION_MS, 0, &batch, &err);
    CHECK_INT(rc, JL_OK);
    if (rc != JL_OK)
        fprintf(stderr, "  parser: %s\n  body: %s", err.message, body.data);
    CHECK_INT(st_batch_point_count(&batch), 3);
    CHECK_INT(st_batch_series_count(&batch), 3);
    for (size_t i = 0; i < 3 && rc == JL_OK && st_batch_point_count(&batch) == 3; i++) {
        uint32_t s = st_batch_point_series(&batch, i);
        CHECK_STR(st_batch_series_key(&batch, s, NULL), keys[i]);
        CHECK_INT(st_batch_point_ms(&batch, i), times[i]);
        CHECK_DOUBLE_BITS(st_batch_point_value(&batch, i), values[i]);
    }
    st_batch_destroy(&batch);
    jl_buf_destroy(&body);
}

int main(void)
{
    RUN(test_header);
    RUN(test_time);
    RUN(test_row);
    RUN(test_field_count);
    RUN(test_error_message);
    RUN(test_translate);
    RUN(test_round_trip_through_parser);
    return CHECK_DONE();
}
