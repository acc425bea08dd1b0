/* Tests of query/ingest/hj212_map.c: data segments (parsed by hj212_segment.c from texts written
 * here) become readings with the README's metric names, tags mn and cn, UTC times computed here
 * by hand from Beijing time, and flag codes as jialing/flag.h numbers them (N 0 ... B 7). */
#include "check.h"
#include "tempdir.h"

#include "jialing/hj212.h"

static st_batch batch;
static jl_error err;
static hj_segment seg;

static int map(const char *text, int64_t offset_ms, size_t *added)
{
    st_batch_reset(&batch);
    jl_error_clear(&err);
    int rc = hj_segment_parse(text, strlen(text), &seg, &err);
    CHECK_INT(rc, JL_OK);
    if (rc != JL_OK)
        return rc;
    return hj_segment_to_batch(&seg, offset_ms, &batch, added, &err);
}

#define BEIJING (8LL * 3600 * 1000)

#define CHECK_READING(i, key, ms, value, flag)                                                     \
    do {                                                                                           \
        CHECK((size_t)(i) < st_batch_point_count(&batch));                                         \
        if ((size_t)(i) < st_batch_point_count(&batch)) {                                          \
            CHECK_STR(st_batch_series_key(&batch, st_batch_point_series(&batch, i), NULL), key);   \
            CHECK_INT(st_batch_point_ms(&batch, i), ms);                                           \
            CHECK_DOUBLE_BITS(st_batch_point_value(&batch, i), value);                             \
            CHECK_INT(st_batch_point_flag(&batch, i), flag);                                       \
        }                                                                                          \
    } while (0)

static void test_realtime(void)
{
    size_t added = 0;
    /* 2025-01-01 12:00:00 in Beijing is 04:00 UTC: 1735689600000 + 4 h. */
    CHECK_INT(map("QN=20250101120000123;ST=22;CN=2011;PW=123456;MN=AIR0001;Flag=5;CP=&&"
                  "DataTime=20250101120000;a34004-Rtd=35.2,a34004-Flag=N;"
                  "a21026-Rtd=12,a21026-Flag=M;a99999-Rtd=7.5&&",
                  BEIJING, &added),
              JL_OK);
    CHECK_INT(added, 3);
    CHECK_READING(0, "pm25{cn=\"2011\",mn=\"AIR0001\"}", 1735704000000LL, 35.2, 0);
    CHECK_READING(1, "so2{cn=\"2011\",mn=\"AIR0001\"}", 1735704000000LL, 12.0, 2);
    /* An unknown code is kept under a derived name, flag N when absent. */
    CHECK_READING(2, "hj212_a99999{cn=\"2011\",mn=\"AIR0001\"}", 1735704000000LL, 7.5, 0);

    /* Milliseconds and another offset: 2025-03-01 00:00:00.250 at UTC. */
    CHECK_INT(map("QN=20250301000000250;ST=32;CN=2011;PW=1;MN=W1;Flag=5;CP=&&"
                  "DataTime=20250301000000250;w21003-Rtd=0.731,w21003-Flag=C&&",
                  0, &added),
              JL_OK);
    /* 2025-03-01 is day 20148 since 1970-01-01 (2025-01-01 is 20089, + 31 + 28). */
    CHECK_READING(0, "nh3n{cn=\"2011\",mn=\"W1\"}", 20148LL * 86400000 + 250, 0.731, 5);
}

static void test_intervals(void)
{
    size_t added = 0;
    /* Hourly data: Avg is the metric, Min/Max/Cou go to suffixed metrics; 2005 codes. */
    CHECK_INT(map("ST=32;CN=2061;PW=123456;MN=RIVER01;CP=&&DataTime=20241231230000;"
                  "060-Avg=0.52,060-Min=0.40,060-Max=0.61,060-Cou=12.5,060-Flag=T;"
                  "011-Avg=18&&",
                  BEIJING, &added),
              JL_OK);
    CHECK_INT(added, 5);
    /* 2024-12-31 23:00 Beijing = 15:00 UTC = 1735689600000 - 9 h. */
    const int64_t t = 1735689600000LL - 9 * 3600000LL;
    CHECK_READING(0, "nh3n{cn=\"2061\",mn=\"RIVER01\"}", t, 0.52, 6);
    CHECK_READING(1, "nh3n_min{cn=\"2061\",mn=\"RIVER01\"}", t, 0.40, 6);
    CHECK_READING(2, "nh3n_max{cn=\"2061\",mn=\"RIVER01\"}", t, 0.61, 6);
    CHECK_READING(3, "nh3n_cou{cn=\"2061\",mn=\"RIVER01\"}", t, 12.5, 6);
    CHECK_READING(4, "cod{cn=\"2061\",mn=\"RIVER01\"}", t, 18.0, 0);

    /* Rtd in a minute message is not its value; 2005's P reads as a fault. */
    CHECK_INT(map("QN=20250101120000123;ST=22;CN=2051;PW=1;MN=A;Flag=5;CP=&&"
                  "DataTime=20250101120000;a34002-Rtd=99,a34002-Avg=80,a34002-Flag=P&&",
                  BEIJING, &added),
              JL_OK);
    CHECK_INT(added, 1);
    CHECK_READING(0, "pm10{cn=\"2051\",mn=\"A\"}", 1735704000000LL, 80.0, 4);

    /* Other CNs (a heartbeat-like status message) add nothing. */
    CHECK_INT(map("QN=20250101120000123;ST=22;CN=2021;PW=1;MN=A;Flag=5;CP=&&"
                  "DataTime=20250101120000;i12001-Info=1&&",
                  BEIJING, &added),
              JL_OK);
    CHECK_INT(added, 0);
}

static void test_refusals(void)
{
    size_t added = 0;
    CHECK_INT(map("QN=20250101120000123;ST=22;CN=2011;PW=1;MN=A;Flag=5;CP=&&a34004-Rtd=1&&",
                  BEIJING, &added),
              JL_EINVAL);
    CHECK_STR(err.message, "CP: CN 2011 data without DataTime");
    /* The parser refuses impossible dates itself; a segment filled by other code is checked
     * again here. */
    CHECK_INT(map("QN=20250101120000123;ST=22;CN=2011;PW=1;MN=A;Flag=5;CP=&&"
                  "DataTime=20240229120000;a34004-Rtd=1&&",
                  BEIJING, &added),
              JL_OK);
    seg.datatime.year = 2025; /* 2025 has no 29 February */
    st_batch_reset(&batch);
    CHECK_INT(hj_segment_to_batch(&seg, BEIJING, &batch, &added, &err), JL_EINVAL);
    CHECK_STR(err.message, "CP: DataTime 2025-02-29 12:00:00 is not a real date and time");
    CHECK_INT(map("QN=20250101120000123;ST=22;CN=2011;PW=1;MN=A;Flag=5;CP=&&"
                  "DataTime=20250101120000;a34004-Rtd=1,a34004-Flag=X&&",
                  BEIJING, &added),
              JL_EINVAL);
    CHECK_STR(err.message, "CP: a34004-Flag: \"X\" is not an HJ 212 data flag (N F M S D C T B, "
                           "or P from the 2005 edition)");
    /* Real dates the store cannot keep: 2262-04-12 08:00 Beijing time (00:00 UTC) is past
     * 9223372036854 ms (2262-04-11 23:47:16.854 UTC); 1677-09-21 00:00 Beijing time (09-20 16:00
     * UTC) is before -9223372036854 ms (1677-09-21 00:12:43.146 UTC). */
    CHECK_INT(map("QN=20250101120000123;ST=22;CN=2011;PW=1;MN=A;Flag=5;CP=&&"
                  "DataTime=22620412080000;a34004-Rtd=1&&",
                  BEIJING, &added),
              JL_EINVAL);
    CHECK_STR(err.message,
              "CP: DataTime 2262-04-12 is outside the times the store keeps (years 1677 to 2262)");
    CHECK_INT(map("QN=20250101120000123;ST=22;CN=2011;PW=1;MN=A;Flag=5;CP=&&"
                  "DataTime=16770921000000;a34004-Rtd=1&&",
                  BEIJING, &added),
              JL_EINVAL);
    CHECK_INT(map("QN=20250101120000123;ST=22;CN=2011;PW=1;MN=A;Flag=5;CP=&&"
                  "DataTime=22620411000000;a34004-Rtd=1&&",
                  BEIJING, &added),
              JL_OK);
}

static int codes(const char *text, hj_code_table **out)
{
    jl_error_clear(&err);
    return hj_codes_parse(text, strlen(text), out, &err);
}

static void test_codes(void)
{
    hj_code_table *t = NULL;
    CHECK_INT(codes("# local names\n"
                    "a34004 pm2_5   # replaces pm25\n"
                    "\n"
                    "a99001\tnoise.leq\r\n"
                    "w00000 flow_water",
                    &t),
              JL_OK);
    CHECK_INT(hj_codes_count(t), 3);
    CHECK_STR(hj_codes_metric(t, "a34004"), "pm2_5");
    CHECK_STR(hj_codes_metric(t, "a99001"), "noise.leq");
    CHECK_STR(hj_codes_metric(t, "w00000"), "flow_water");
    /* not overridden: the built-in name, else nothing */
    CHECK_STR(hj_codes_metric(t, "a21026"), "so2");
    CHECK(hj_codes_metric(t, "a99002") == NULL);
    CHECK_STR(hj_codes_metric(NULL, "a34004"), "pm25");
    CHECK_INT(hj_codes_count(NULL), 0);
    char name[HJ_METRIC_MAX + 1];
    CHECK_INT(hj_codes_metric_name(t, "a34004", name, sizeof name), JL_OK);
    CHECK_STR(name, "pm2_5");
    CHECK_INT(hj_codes_metric_name(t, "x1", name, sizeof name), JL_OK);
    CHECK_STR(name, "hj212_x1");
    CHECK_INT(hj_codes_metric_name(NULL, "a05024", name, sizeof name), JL_OK);
    CHECK_STR(name, "o3");
    CHECK_INT(hj_codes_metric_name(NULL, "a05024", name, 2), JL_ELIMIT);

    /* Mapping with the overrides and a station's tags, given out of order. */
    CHECK_INT(hj_segment_parse("QN=20250101120000123;ST=22;CN=2051;PW=1;MN=AIR0001;Flag=5;CP=&&"
                               "DataTime=20250101120000;a34004-Avg=30,a34004-Max=41;"
                               "a99001-Avg=55.5;a99002-Avg=1&&",
                               strlen("QN=20250101120000123;ST=22;CN=2051;PW=1;MN=AIR0001;Flag=5;"
                                      "CP=&&DataTime=20250101120000;a34004-Avg=30,a34004-Max=41;"
                                      "a99001-Avg=55.5;a99002-Avg=1&&"),
                               &seg, &err),
              JL_OK);
    hj_tag extra[2] = {{"station", "jlp-01"}, {"district", "jiulongpo"}};
    st_batch_reset(&batch);
    size_t added = 0;
    CHECK_INT(hj_segment_to_batch_tagged(&seg, BEIJING, t, extra, 2, &batch, &added, &err), JL_OK);
    CHECK_INT(added, 4);
    CHECK_READING(0, "pm2_5{cn=\"2051\",district=\"jiulongpo\",mn=\"AIR0001\",station=\"jlp-01\"}",
                  1735704000000LL, 30.0, 0);
    CHECK_READING(1,
                  "pm2_5_max{cn=\"2051\",district=\"jiulongpo\",mn=\"AIR0001\",station=\"jlp-01\"}",
                  1735704000000LL, 41.0, 0);
    CHECK_READING(2,
                  "noise.leq{cn=\"2051\",district=\"jiulongpo\",mn=\"AIR0001\",station=\"jlp-01\"}",
                  1735704000000LL, 55.5, 0);
    CHECK_READING(
        3, "hj212_a99002{cn=\"2051\",district=\"jiulongpo\",mn=\"AIR0001\",station=\"jlp-01\"}",
        1735704000000LL, 1.0, 0);
    /* the caller's array is not reordered */
    CHECK_STR(extra[0].key, "station");

    /* No table and no tags: exactly hj_segment_to_batch(). */
    st_batch_reset(&batch);
    CHECK_INT(hj_segment_to_batch_tagged(&seg, BEIJING, NULL, NULL, 0, &batch, &added, &err),
              JL_OK);
    CHECK_INT(added, 4);
    CHECK_READING(0, "pm25{cn=\"2051\",mn=\"AIR0001\"}", 1735704000000LL, 30.0, 0);
    CHECK_READING(2, "hj212_a99001{cn=\"2051\",mn=\"AIR0001\"}", 1735704000000LL, 55.5, 0);

    /* Extra tags that cannot be. */
    hj_tag bad_mn[1] = {{"mn", "X"}};
    CHECK_INT(hj_segment_to_batch_tagged(&seg, BEIJING, NULL, bad_mn, 1, &batch, &added, &err),
              JL_EINVAL);
    CHECK_STR(err.message, "extra tag mn: mn and cn come from the packet itself");
    hj_tag twice[2] = {{"k", "1"}, {"k", "2"}};
    CHECK_INT(hj_segment_to_batch_tagged(&seg, BEIJING, NULL, twice, 2, &batch, &added, &err),
              JL_EINVAL);
    CHECK_STR(err.message, "CP: pm25: tag key \"k\" appears more than once");
    hj_tag empty[1] = {{"k", ""}};
    CHECK_INT(hj_segment_to_batch_tagged(&seg, BEIJING, NULL, empty, 1, &batch, &added, &err),
              JL_EINVAL);
    CHECK_STR(err.message, "CP: pm25: the value of tag \"k\" is empty");
    hj_codes_free(t);
    hj_codes_free(NULL);
}

static void codes_refused(const char *text, const char *message, long line)
{
    hj_code_table *t = (hj_code_table *)&err; /* must be reset to NULL */
    CHECK_INT(codes(text, &t), JL_EINVAL);
    CHECK(t == NULL);
    CHECK_STR(err.message, message);
    CHECK_INT(err.line, line);
}

static void test_codes_refused(void)
{
    codes_refused("a34004 pm25\n\na34004\n", "line 3: a code and a metric are needed", 3);
    codes_refused("a34004 pm25 extra\n", "line 1: more than a code and a metric", 1);
    codes_refused("# x\na3=4 pm\n",
                  "line 2: code \"a3=4\" is not valid (1 to 24 printable ASCII bytes without ; , = "
                  "&)",
                  2);
    codes_refused("a1234567890123456789012345 pm\n",
                  "line 1: code \"a1234567890123456789012345\" is not valid (1 to 24 printable "
                  "ASCII bytes without ; , = &)",
                  1);
    codes_refused("a34004 2.5pm\n",
                  "line 1: metric \"2.5pm\" is not a valid metric name (a letter or '_', then "
                  "letters, digits, '_', '.' and '-')",
                  1);
    codes_refused("a34004 "
                  "m2345678901234567890123456789012345678901234567890123456789012345\n",
                  "line 1: metric \"m23456789012345678901234567890123456789012345678...\" is "
                  "longer than 64 bytes",
                  1);
    /* a repeat is reported at the line that repeats, the earliest such line */
    codes_refused("b1 x\na1 y\nb2 z\na1 w\nb1 v\n", "line 4: code a1 given twice (first on line 2)",
                  4);
}

static void test_codes_load(void)
{
    char *dir = make_temp_dir_named("hj212-codes");
    char path[512];
    snprintf(path, sizeof path, "%s/codes.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("a34004 pm2_5\nx9 bad name\n", f);
        fclose(f);
    }
    hj_code_table *t = NULL;
    char expected[700];
    snprintf(expected, sizeof expected, "%s: line 2: more than a code and a metric", path);
    CHECK_INT(hj_codes_load(path, &t, &err), JL_EINVAL);
    CHECK_STR(err.message, expected);
    CHECK_INT(err.line, 2);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs("a34004 pm2_5\n", f);
        fclose(f);
    }
    CHECK_INT(hj_codes_load(path, &t, &err), JL_OK);
    CHECK_STR(hj_codes_metric(t, "a34004"), "pm2_5");
    hj_codes_free(t);
    snprintf(path, sizeof path, "%s/none.txt", dir);
    snprintf(expected, sizeof expected,
             "cannot open HJ 212 codes file %s: No such file or directory", path);
    CHECK_INT(hj_codes_load(path, &t, &err), JL_EIO);
    CHECK_STR(err.message, expected);
    CHECK(t == NULL);
    remove_dir(dir);
}

int main(void)
{
    st_batch_init(&batch);
    RUN(test_realtime);
    RUN(test_intervals);
    RUN(test_refusals);
    RUN(test_codes);
    RUN(test_codes_refused);
    RUN(test_codes_load);
    st_batch_destroy(&batch);
    return CHECK_DONE();
}
