/* Tests of query/ingest/hj212_segment.c: header fields, CP items of the data CNs (2011, 2051,
 * 2061, 2031) with flags, DataTime with and without milliseconds, 2005 packets without QN and
 * Flag, split messages (PNUM/PNO), the other CNs, refusals naming the field, and the 9014 reply
 * compared with a frame built here (own CRC, own framing). */
#include "check.h"

#include "jialing/hj212.h"

static unsigned ref_crc(const char *s, size_t n)
{
    unsigned r = 0xFFFFu;
    for (size_t i = 0; i < n; i++) {
        r = (r >> 8) ^ (unsigned char)s[i];
        for (int k = 0; k < 8; k++)
            r = (r & 1u) ? (r >> 1) ^ 0xA001u : r >> 1;
    }
    return r;
}

static hj_segment seg; /* large: static */

static int parse(const char *text, jl_error *err)
{
    return hj_segment_parse(text, strlen(text), &seg, err);
}

static void test_2011_realtime(void)
{
    jl_error err;
    const char *text = "QN=20250101120000123;ST=22;CN=2011;PW=123456;MN=010000A8900016F000169DC0;"
                       "Flag=5;CP=&&DataTime=20250101120000;a34004-Rtd=35.2,a34004-Flag=N;"
                       "a21026-Rtd=12,a21026-Flag=N;a01012-Rtd=-3.50,a01012-Flag=D&&";
    CHECK_INT(parse(text, &err), JL_OK);
    CHECK_STR(seg.qn, "20250101120000123");
    CHECK_INT(seg.has_qn, 1);
    CHECK_STR(seg.st, "22");
    CHECK_STR(seg.cn, "2011");
    CHECK_STR(seg.pw, "123456");
    CHECK_STR(seg.mn, "010000A8900016F000169DC0");
    CHECK_INT(seg.has_flag, 1);
    CHECK_INT(seg.flag, 5);
    CHECK_INT(seg.has_pnum, 0);
    CHECK_INT(seg.has_datatime, 1);
    CHECK_INT(seg.datatime.year, 2025);
    CHECK_INT(seg.datatime.month, 1);
    CHECK_INT(seg.datatime.day, 1);
    CHECK_INT(seg.datatime.hour, 12);
    CHECK_INT(seg.datatime.minute, 0);
    CHECK_INT(seg.datatime.second, 0);
    CHECK_INT(seg.datatime.ms, 0);
    CHECK_INT(seg.pollutant_count, 3);
    CHECK_STR(seg.pollutants[0].code, "a34004");
    CHECK_INT(seg.pollutants[0].have, HJ_HAVE_RTD);
    CHECK_DOUBLE_BITS(seg.pollutants[0].rtd, 35.2);
    CHECK_INT(seg.pollutants[0].flag, 'N');
    CHECK_STR(seg.pollutants[1].code, "a21026");
    CHECK_DOUBLE_BITS(seg.pollutants[1].rtd, 12.0);
    const hj_pollutant *p = hj_segment_pollutant(&seg, "a01012");
    CHECK(p != NULL);
    if (p) {
        CHECK_DOUBLE_BITS(p->rtd, -3.5);
        CHECK_INT(p->flag, 'D');
    }
    CHECK(hj_segment_pollutant(&seg, "a99999") == NULL);
    CHECK_STR(seg.cp, "DataTime=20250101120000;a34004-Rtd=35.2,a34004-Flag=N;"
                      "a21026-Rtd=12,a21026-Flag=N;a01012-Rtd=-3.50,a01012-Flag=D");
}

static void test_2051_2061_2031_values(void)
{
    jl_error err;
    const char *cns[] = {"2051", "2061", "2031"};
    for (int c = 0; c < 3; c++) {
        char text[600];
        snprintf(text, sizeof text,
                 "QN=20250102000000000;ST=22;CN=%s;PW=123456;MN=M1;Flag=4;CP=&&"
                 "DataTime=20250101230000;a34004-Cou=0.71,a34004-Min=21.0,a34004-Avg=35.25,"
                 "a34004-Max=+52.125,a34004-Flag=T;w01018-Avg=.5,w01018-Flag=C;"
                 "a21026-Avg=7.&&",
                 cns[c]);
        CHECK_INT(parse(text, &err), JL_OK);
        CHECK_STR(seg.cn, cns[c]);
        CHECK_INT(seg.flag, 4);
        CHECK_INT(seg.datatime.hour, 23);
        CHECK_INT(seg.pollutant_count, 3);
        const hj_pollutant *p = &seg.pollutants[0];
        CHECK_STR(p->code, "a34004");
        CHECK_INT(p->have, HJ_HAVE_AVG | HJ_HAVE_MIN | HJ_HAVE_MAX | HJ_HAVE_COU);
        CHECK_DOUBLE_BITS(p->cou, 0.71);
        CHECK_DOUBLE_BITS(p->min, 21.0);
        CHECK_DOUBLE_BITS(p->avg, 35.25);
        CHECK_DOUBLE_BITS(p->max, 52.125);
        CHECK_DOUBLE_BITS(p->rtd, 0.0);
        CHECK_INT(p->flag, 'T');
        p = &seg.pollutants[1];
        CHECK_STR(p->code, "w01018");
        CHECK_INT(p->have, HJ_HAVE_AVG);
        CHECK_DOUBLE_BITS(p->avg, 0.5);
        CHECK_INT(p->flag, 'C');
        p = &seg.pollutants[2];
        CHECK_STR(p->code, "a21026");
        CHECK_DOUBLE_BITS(p->avg, 7.0);
        CHECK_INT(p->flag, 0); /* no -Flag: none */
    }
}

static void test_datatime_ms(void)
{
    jl_error err;
    CHECK_INT(parse("QN=20240229235959999;ST=22;CN=2011;PW=1;MN=M;Flag=4;"
                    "CP=&&DataTime=20240229235959987;a34004-Rtd=1&&",
                    &err),
              JL_OK);
    CHECK_INT(seg.datatime.year, 2024);
    CHECK_INT(seg.datatime.month, 2);
    CHECK_INT(seg.datatime.day, 29);
    CHECK_INT(seg.datatime.hour, 23);
    CHECK_INT(seg.datatime.minute, 59);
    CHECK_INT(seg.datatime.second, 59);
    CHECK_INT(seg.datatime.ms, 987);
}

static void test_2005_packet(void)
{
    jl_error err;
    CHECK_INT(parse("ST=32;CN=2011;PW=123456;MN=88888880000001;"
                    "CP=&&DataTime=20050810120000;B02-Rtd=0.00,B02-Flag=P;01-Rtd=60.3,01-Flag=N&&",
                    &err),
              JL_OK);
    CHECK_INT(seg.has_qn, 0);
    CHECK_STR(seg.qn, "");
    CHECK_INT(seg.has_flag, 0);
    CHECK_STR(seg.st, "32");
    CHECK_STR(seg.mn, "88888880000001");
    CHECK_INT(seg.datatime.year, 2005);
    CHECK_INT(seg.pollutant_count, 2);
    CHECK_STR(seg.pollutants[0].code, "B02");
    CHECK_DOUBLE_BITS(seg.pollutants[0].rtd, 0.0);
    CHECK_INT(seg.pollutants[0].flag, 'P'); /* 2005's power-failure flag */
    CHECK_STR(seg.pollutants[1].code, "01");
    CHECK_DOUBLE_BITS(seg.pollutants[1].rtd, 60.3);
    CHECK_INT(seg.pollutants[1].flag, 'N');
}

static void test_split_message(void)
{
    jl_error err;
    CHECK_INT(parse("QN=20250101120000000;ST=22;CN=2051;PW=1;MN=M;Flag=7;PNUM=3;PNO=2;"
                    "CP=&&DataTime=20250101115000;a34004-Avg=1&&",
                    &err),
              JL_OK);
    CHECK_INT(seg.flag, 7);
    CHECK_INT(seg.has_pnum, 1);
    CHECK_INT(seg.pnum, 3);
    CHECK_INT(seg.pno, 2);
    CHECK_INT(parse("QN=20250101120000000;ST=22;CN=2051;PW=1;MN=M;Flag=7;PNUM=3;CP=&&&&", &err),
              JL_EINVAL);
    CHECK_STR(err.message, "PNO: missing");
    CHECK_INT(
        parse("QN=20250101120000000;ST=22;CN=2051;PW=1;MN=M;Flag=7;PNUM=2;PNO=3;CP=&&&&", &err),
        JL_EINVAL);
    CHECK_STR(err.message, "PNO: greater than PNUM");
}

static void test_other_cns(void)
{
    jl_error err;
    const char *texts[] = {
        /* 9011 / 9012 replies, 9013 notice reply, heartbeat-style empty CP */
        "QN=20250101120000000;ST=91;CN=9011;PW=1;MN=M;Flag=4;CP=&&QnRtn=1&&",
        "QN=20250101120000000;ST=91;CN=9012;PW=1;MN=M;Flag=4;CP=&&ExeRtn=1&&",
        "QN=20250101120000000;ST=91;CN=9013;PW=1;MN=M;Flag=4;CP=&&&&",
        /* 2021 status with -Info items, 2081 restart time, an unknown CN */
        "QN=20250101120000000;ST=22;CN=2021;PW=1;MN=M;Flag=5;"
        "CP=&&DataTime=20250101120000;PolId=a34004,i12001-Info=1;i12003-Info=2.5&&",
        "QN=20250101120000000;ST=22;CN=2081;PW=1;MN=M;Flag=4;"
        "CP=&&DataTime=20250101120000;RestartTime=20250101115500&&",
        "QN=20250101120000000;ST=22;CN=4242;PW=1;MN=M;Flag=4;CP=&&Foo=bar;;Baz=&&",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        CHECK_INT(parse(texts[i], &err), JL_OK);
        CHECK_INT(seg.pollutant_count, 0);
    }
    CHECK_STR(seg.cn, "4242");
    CHECK_STR(seg.cp, "Foo=bar;;Baz=");
}

static void test_refusals(void)
{
    static const struct {
        const char *text;
        int code;
        const char *message;
    } cases[] = {
        {"QN=1;ST=22;CN=2011;PW=1;MN=M;CP=&&&&", JL_EINVAL, "QN: not 17 digits"},
        {"ST=22;PW=1;MN=M;CP=&&&&", JL_EINVAL, "CN: missing"},
        {"ST=22;CN=2011;MN=M;CP=&&&&", JL_EINVAL, "PW: missing"},
        {"ST=22;CN=2011;PW=1;CP=&&&&", JL_EINVAL, "MN: missing"},
        {"ST=22;CN=20x1;PW=1;MN=M;CP=&&&&", JL_EINVAL, "CN: not digits"},
        {"ST=22;CN=2011;CN=2011;PW=1;MN=M;CP=&&&&", JL_EINVAL, "CN: given twice"},
        {"ST=22;CN=2011;PW=1;MN=M;Flag=256;CP=&&&&", JL_EINVAL, "Flag: not a number 0..255"},
        {"ST=22;CN=2011;PW=1;MN=M;", JL_EINVAL, "CP: missing"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a=1", JL_EINVAL,
         "CP: not closed by && at the end of the segment"},
        {"ST=22;CN=2011;PW=;MN=M;CP=&&&&", JL_EINVAL, "PW: empty"},
        {"ST=22;CN=2011;PW=1;MN=M;Bogus=1;CP=&&&&", JL_EINVAL, "header: unknown field Bogus"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Rtd=35.2x&&", JL_EINVAL,
         "CP: a34004-Rtd: not a number"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Rtd=&&", JL_EINVAL, "CP: a34004-Rtd: not a number"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Avg=1e5&&", JL_EINVAL,
         "CP: a34004-Avg: not a number"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Max=nan&&", JL_EINVAL,
         "CP: a34004-Max: not a number"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Min=.&&", JL_EINVAL, "CP: a34004-Min: not a number"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Cou= 1&&", JL_EINVAL, "CP: a34004-Cou: not a number"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Flag=n&&", JL_EINVAL,
         "CP: a34004-Flag: not a flag letter"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Flag=1&&", JL_EINVAL,
         "CP: a34004-Flag: not a flag letter"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Flag=&&", JL_EINVAL,
         "CP: a34004-Flag: not a flag letter"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Flag=NN&&", JL_EINVAL,
         "CP: a34004-Flag: not a flag letter"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&a34004-Rtd=1,a34004-Rtd=2&&", JL_EINVAL,
         "CP: a34004-Rtd: given twice"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&-Rtd=1&&", JL_EINVAL, "CP: -Rtd: empty pollutant code"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&DataTime=20250230120000&&", JL_EINVAL,
         "CP: DataTime: day out of range"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&DataTime=20251301120000&&", JL_EINVAL,
         "CP: DataTime: month out of range"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&DataTime=20250101240000&&", JL_EINVAL,
         "CP: DataTime: time of day out of range"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&DataTime=202501011200&&", JL_EINVAL,
         "CP: DataTime: not 14 or 17 digits"},
        {"ST=22;CN=2011;PW=1;MN=M;CP=&&DataTime=20250101120000;a34004-Rtd=1;garbage&&", JL_EINVAL,
         "CP: garbage: no '='"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        jl_error err;
        jl_error_clear(&err);
        CHECK_INT(parse(cases[i].text, &err), cases[i].code);
        CHECK_INT(err.code, cases[i].code);
        CHECK_STR(err.message, cases[i].message);
    }
}

static void test_limits(void)
{
    jl_error err;
    /* 64 pollutants fit, the 65th is refused */
    static char text[4096];
    for (int count = 64; count <= 65; count++) {
        int n = snprintf(text, sizeof text, "ST=22;CN=2011;PW=1;MN=M;CP=&&");
        for (int i = 0; i < count; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, "%sp%d-Rtd=%d", i ? ";" : "", i, i);
        snprintf(text + n, sizeof text - (size_t)n, "&&");
        CHECK_INT(parse(text, &err), count == 64 ? JL_OK : JL_ELIMIT);
        if (count == 64) {
            CHECK_INT(seg.pollutant_count, 64);
            CHECK_STR(seg.pollutants[63].code, "p63");
            CHECK_DOUBLE_BITS(seg.pollutants[63].rtd, 63.0);
        } else {
            CHECK_STR(err.message, "CP: more than 64 pollutant codes");
        }
    }
    /* CP of exactly 950 bytes passes, 951 is refused */
    for (int cp_len = 950; cp_len <= 951; cp_len++) {
        int n = snprintf(text, sizeof text, "ST=22;CN=2011;PW=1;MN=M;CP=&&X=");
        memset(text + n, '7', (size_t)cp_len - 2);
        n += cp_len - 2;
        snprintf(text + n, sizeof text - (size_t)n, "&&");
        CHECK_INT(parse(text, &err), cp_len == 950 ? JL_OK : JL_EINVAL);
        if (cp_len == 950)
            CHECK_INT(seg.cp_len, 950);
        else
            CHECK_STR(err.message, "CP: longer than 950 bytes");
    }
}

static void test_reply_9014(void)
{
    jl_error err;
    CHECK_INT(parse("QN=20250101120000123;ST=22;CN=2011;PW=123456;MN=010000A8900016F000169DC0;"
                    "Flag=5;CP=&&DataTime=20250101120000;a34004-Rtd=35.2&&",
                    &err),
              JL_OK);
    jl_buf out;
    jl_buf_init(&out);
    CHECK_INT(hj_reply_9014(&seg, &out), JL_OK);
    const char *body = "QN=20250101120000123;ST=91;CN=9014;PW=123456;MN=010000A8900016F000169DC0;"
                       "Flag=4;CP=&&&&";
    char want[256];
    int wn = snprintf(want, sizeof want, "##%04zu%s%04X\r\n", strlen(body), body,
                      ref_crc(body, strlen(body)));
    CHECK_INT(out.len, wn);
    CHECK(out.len == (size_t)wn && memcmp(out.data, want, out.len) == 0);
    /* the reply parses back as a 9014 */
    if (out.len > 12) {
        CHECK_INT(hj_segment_parse(out.data + 6, out.len - 12, &seg, &err), JL_OK);
        CHECK_STR(seg.cn, "9014");
        CHECK_STR(seg.qn, "20250101120000123");
    }
    jl_buf_destroy(&out);
}

int main(void)
{
    RUN(test_2011_realtime);
    RUN(test_2051_2061_2031_values);
    RUN(test_datatime_ms);
    RUN(test_2005_packet);
    RUN(test_split_message);
    RUN(test_other_cns);
    RUN(test_refusals);
    RUN(test_limits);
    RUN(test_reply_9014);
    return CHECK_DONE();
}
