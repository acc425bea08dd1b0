/* Tests of query/ingest/hj212_assemble.c: split messages (PNUM/PNO parts parsed from texts
 * written here) come back whole in PNO order when the last part arrives, duplicates replace,
 * incomplete ones expire at exact times, every refusal is counted, and a whole message maps to
 * the readings written out by hand (a part without DataTime taking the first part's). */
#include "check.h"

#include "jialing/hj212.h"

#include <stdio.h>

static jl_error err;
static hj_segment seg;

/* Parses a 2011 part "QN=<qn>;...;MN=<mn>;Flag=7;PNUM=<pnum>;PNO=<pno>;CP=&&<cp>&&" into seg
 * (Flag 7: reply wanted, D set, version 2017). */
static const hj_segment *part(const char *qn, const char *mn, unsigned pnum, unsigned pno,
                              const char *cp)
{
    char text[HJ_SEGMENT_MAX + 1];
    int n = snprintf(text, sizeof text,
                     "QN=%s;ST=22;CN=2011;PW=123456;MN=%s;Flag=7;PNUM=%u;PNO=%u;CP=&&%s&&", qn, mn,
                     pnum, pno, cp);
    CHECK(n > 0 && (size_t)n < sizeof text);
    CHECK_INT(hj_segment_parse(text, (size_t)n, &seg, &err), JL_OK);
    return &seg;
}

#define QN1 "20250101120000123"
#define QN2 "20250101120000456"
#define T0 "DataTime=20250101120000;"
/* 2025-01-01 12:00:00 Beijing = 04:00 UTC = 1735689600000 + 4 h */
#define T0_MS 1735704000000LL
#define BEIJING (8LL * 3600 * 1000)

static hj_assembler *new_assembler(int64_t timeout_ms, size_t max_pending, unsigned max_pnum)
{
    hj_assembler *a = NULL;
    CHECK_INT(hj_assembler_new(timeout_ms, max_pending, max_pnum, &a, &err), JL_OK);
    return a;
}

static void test_out_of_order(void)
{
    hj_assembler *a = new_assembler(30000, 0, 0);
    hj_message *m = NULL;
    CHECK_INT(hj_assembler_add(a, part(QN1, "AIR0001", 3, 2, "a21026-Rtd=12"), 1000, &m, &err),
              JL_OK);
    CHECK(m == NULL);
    CHECK_INT(hj_assembler_add(a, part(QN1, "AIR0001", 3, 3, "a05024-Rtd=80,a05024-Flag=M"), 1500,
                               &m, &err),
              JL_OK);
    CHECK(m == NULL);
    CHECK_INT(hj_assembler_pending(a), 1);
    CHECK_INT(hj_assembler_add(a, part(QN1, "AIR0001", 3, 1, T0 "a34004-Rtd=35.2"), 2000, &m, &err),
              JL_OK);
    CHECK(m != NULL);
    CHECK_INT(hj_assembler_pending(a), 0);
    hj_assembler_counters c = hj_assembler_counters_get(a);
    CHECK_INT(c.completed, 1);
    CHECK_INT(c.expired + c.replaced + c.refused_pending + c.refused_pnum + c.refused_pno +
                  c.refused_inconsistent,
              0);
    if (m != NULL) {
        CHECK_INT(m->count, 3);
        for (size_t i = 0; i < m->count && i < 3; i++) {
            CHECK_INT(m->parts[i].pno, i + 1);
            CHECK_INT(m->parts[i].pnum, 3);
            CHECK_INT(m->parts[i].has_pnum, 1);
            CHECK_STR(m->parts[i].mn, "AIR0001");
            CHECK_STR(m->parts[i].qn, QN1);
            CHECK_STR(m->parts[i].pw, "123456");
            CHECK_STR(m->parts[i].cn, "2011");
            CHECK_STR(m->parts[i].st, "22");
            CHECK_INT(m->parts[i].flag, 7);
            CHECK_INT(m->parts[i].pollutant_count, 1);
        }
        CHECK_INT(m->parts[0].has_datatime, 1);
        CHECK_INT(m->parts[0].datatime.hour, 12);
        CHECK_STR(m->parts[0].pollutants[0].code, "a34004");
        CHECK_DOUBLE_BITS(m->parts[0].pollutants[0].rtd, 35.2);
        CHECK_INT(m->parts[1].has_datatime, 0);
        CHECK_STR(m->parts[1].pollutants[0].code, "a21026");
        CHECK_DOUBLE_BITS(m->parts[1].pollutants[0].rtd, 12.0);
        CHECK_STR(m->parts[2].pollutants[0].code, "a05024");
        CHECK_INT(m->parts[2].pollutants[0].flag, 'M');
        CHECK_STR(m->parts[2].cp, "a05024-Rtd=80,a05024-Flag=M");

        /* Each part's items, at the first part's DataTime, with a station tag and an override. */
        hj_code_table *codes = NULL;
        CHECK_INT(hj_codes_parse("a21026 sulphur_dioxide\n", 23, &codes, &err), JL_OK);
        hj_tag extra[1] = {{"station", "jlp-01"}};
        st_batch batch;
        st_batch_init(&batch);
        size_t added = 0;
        CHECK_INT(hj_message_to_batch(m, BEIJING, codes, extra, 1, &batch, &added, &err), JL_OK);
        CHECK_INT(added, 3);
        CHECK_INT(st_batch_point_count(&batch), 3);
        static const char *keys[3] = {
            "pm25{cn=\"2011\",mn=\"AIR0001\",station=\"jlp-01\"}",
            "sulphur_dioxide{cn=\"2011\",mn=\"AIR0001\",station=\"jlp-01\"}",
            "o3{cn=\"2011\",mn=\"AIR0001\",station=\"jlp-01\"}",
        };
        static const double values[3] = {35.2, 12.0, 80.0};
        static const int flags[3] = {0, 0, 2}; /* N N M */
        for (size_t i = 0; i < 3 && i < st_batch_point_count(&batch); i++) {
            CHECK_STR(st_batch_series_key(&batch, st_batch_point_series(&batch, i), NULL), keys[i]);
            CHECK_INT(st_batch_point_ms(&batch, i), T0_MS);
            CHECK_DOUBLE_BITS(st_batch_point_value(&batch, i), values[i]);
            CHECK_INT(st_batch_point_flag(&batch, i), flags[i]);
        }
        /* the message itself is left as sent */
        CHECK_INT(m->parts[1].has_datatime, 0);
        st_batch_destroy(&batch);
        hj_codes_free(codes);
    }
    hj_message_free(m);
    hj_assembler_free(a);
}

static void test_whole_and_keys(void)
{
    hj_assembler *a = new_assembler(30000, 0, 0);
    hj_message *m = NULL;
    /* A packet without PNUM/PNO is a whole message by itself; nothing is held or counted. */
    const char *text = "QN=" QN1 ";ST=22;CN=2011;PW=1;MN=A;Flag=5;CP=&&" T0 "a34004-Rtd=1&&";
    CHECK_INT(hj_segment_parse(text, strlen(text), &seg, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, &seg, 0, &m, &err), JL_OK);
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_INT(m->count, 1);
        CHECK_INT(m->parts[0].has_pnum, 0);
        CHECK_DOUBLE_BITS(m->parts[0].pollutants[0].rtd, 1.0);
        st_batch batch;
        st_batch_init(&batch);
        size_t added = 0;
        CHECK_INT(hj_message_to_batch(m, BEIJING, NULL, NULL, 0, &batch, &added, &err), JL_OK);
        CHECK_INT(added, 1);
        CHECK_STR(st_batch_series_key(&batch, 0, NULL), "pm25{cn=\"2011\",mn=\"A\"}");
        st_batch_destroy(&batch);
    }
    hj_message_free(m);
    CHECK_INT(hj_assembler_pending(a), 0);
    CHECK_INT(hj_assembler_counters_get(a).completed, 0);

    /* PNUM 1 completes at once. */
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 1, 1, T0 "a34004-Rtd=2"), 0, &m, &err), JL_OK);
    CHECK(m != NULL && m->count == 1 && m->parts[0].pno == 1);
    hj_message_free(m);
    CHECK_INT(hj_assembler_counters_get(a).completed, 1);

    /* Same QN, other MN; same MN, other QN: three messages pending. */
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 2, 1, T0 "a34004-Rtd=1"), 0, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, part(QN1, "B", 2, 1, T0 "a34004-Rtd=2"), 0, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, part(QN2, "A", 2, 1, T0 "a34004-Rtd=3"), 0, &m, &err), JL_OK);
    CHECK(m == NULL);
    CHECK_INT(hj_assembler_pending(a), 3);
    CHECK_INT(hj_assembler_add(a, part(QN1, "B", 2, 2, "a21026-Rtd=20"), 0, &m, &err), JL_OK);
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_STR(m->parts[0].mn, "B");
        CHECK_DOUBLE_BITS(m->parts[0].pollutants[0].rtd, 2.0);
        CHECK_DOUBLE_BITS(m->parts[1].pollutants[0].rtd, 20.0);
    }
    hj_message_free(m);
    CHECK_INT(hj_assembler_pending(a), 2);
    hj_assembler_free(a); /* frees the two still held */
}

static void test_duplicates_replace(void)
{
    hj_assembler *a = new_assembler(30000, 0, 0);
    hj_message *m = NULL;
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 2, 1, T0 "a34004-Rtd=1"), 0, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 2, 1, T0 "a34004-Rtd=7"), 10, &m, &err), JL_OK);
    CHECK(m == NULL);
    CHECK_INT(hj_assembler_counters_get(a).replaced, 1);
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 2, 2, "a21026-Rtd=5"), 20, &m, &err), JL_OK);
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK_INT(m->count, 2);
        CHECK_DOUBLE_BITS(m->parts[0].pollutants[0].rtd, 7.0);
        CHECK_DOUBLE_BITS(m->parts[1].pollutants[0].rtd, 5.0);
    }
    hj_message_free(m);
    /* A late repeat after completion starts a new message (which will expire). */
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 2, 2, "a21026-Rtd=5"), 30, &m, &err), JL_OK);
    CHECK(m == NULL);
    CHECK_INT(hj_assembler_pending(a), 1);
    hj_assembler_counters c = hj_assembler_counters_get(a);
    CHECK_INT(c.completed, 1);
    CHECK_INT(c.replaced, 1);
    hj_assembler_free(a);
}

static void test_expiry(void)
{
    hj_assembler *a = new_assembler(30000, 0, 0);
    hj_message *m = NULL;
    /* First part at 1000, second at 20000: the age counts from the first. */
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 3, 1, T0 "a34004-Rtd=1"), 1000, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 3, 2, "a21026-Rtd=1"), 20000, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, part(QN2, "A", 3, 1, T0 "a34004-Rtd=1"), 5000, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_expire(a, 999), 0);   /* a clock before the first arrival */
    CHECK_INT(hj_assembler_expire(a, 31000), 0); /* exactly 30000 old: kept */
    CHECK_INT(hj_assembler_expire(a, 31001), 1); /* QN1 dropped */
    CHECK_INT(hj_assembler_pending(a), 1);
    CHECK_INT(hj_assembler_counters_get(a).expired, 1);
    CHECK_INT(hj_assembler_expire(a, 35000), 0);
    /* add() expires first: QN2 (first at 5000) is gone at 35001, so its part 2 starts anew. */
    CHECK_INT(hj_assembler_add(a, part(QN2, "A", 3, 2, "a21026-Rtd=1"), 35001, &m, &err), JL_OK);
    CHECK(m == NULL);
    CHECK_INT(hj_assembler_pending(a), 1);
    CHECK_INT(hj_assembler_counters_get(a).expired, 2);
    CHECK_INT(hj_assembler_add(a, part(QN2, "A", 3, 1, T0 "a34004-Rtd=1"), 35002, &m, &err), JL_OK);
    CHECK(m == NULL); /* part 3 still missing */
    CHECK_INT(hj_assembler_expire(a, 65001), 0);
    CHECK_INT(hj_assembler_expire(a, 65002), 1);
    CHECK_INT(hj_assembler_pending(a), 0);
    CHECK_INT(hj_assembler_counters_get(a).expired, 3);
    CHECK_INT(hj_assembler_counters_get(a).completed, 0);
    hj_assembler_free(a);
}

static void test_refusals(void)
{
    hj_assembler *a = new_assembler(30000, 2, 0);
    hj_message *m = (hj_message *)&err; /* reset to NULL on every call */
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 65, 1, T0 "a34004-Rtd=1"), 0, &m, &err),
              JL_ELIMIT);
    CHECK(m == NULL);
    CHECK_STR(err.message, "MN A QN " QN1 ": PNUM 65 is over the limit of 64 parts a message");
    CHECK_INT(hj_assembler_counters_get(a).refused_pnum, 1);
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 64, 64, "a34004-Rtd=1"), 0, &m, &err), JL_OK);

    /* The parser refuses PNO > PNUM itself; a segment filled by other code is checked again. */
    hj_segment *s = (hj_segment *)part(QN1, "A", 4, 4, "a34004-Rtd=1");
    s->pno = 5;
    CHECK_INT(hj_assembler_add(a, s, 0, &m, &err), JL_EINVAL);
    CHECK_STR(err.message, "MN A QN " QN1 ": PNO 5 is not in 1..4");
    s->pno = 0;
    CHECK_INT(hj_assembler_add(a, s, 0, &m, &err), JL_EINVAL);
    CHECK_STR(err.message, "MN A QN " QN1 ": PNO 0 is not in 1..4");
    CHECK_INT(hj_assembler_counters_get(a).refused_pno, 2);

    /* PNUM differing from the first part's: refused, the held parts stay. */
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 3, 2, "a34004-Rtd=1"), 0, &m, &err), JL_EINVAL);
    CHECK_STR(err.message,
              "MN A QN " QN1 ": PNUM 3 differs from the 64 of the message's first part");
    CHECK_INT(hj_assembler_counters_get(a).refused_inconsistent, 1);
    CHECK_INT(hj_assembler_pending(a), 1);

    /* max_pending 2: a third message is refused until one completes or expires. */
    CHECK_INT(hj_assembler_add(a, part(QN2, "A", 2, 1, T0 "a34004-Rtd=1"), 0, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, part(QN2, "B", 2, 1, T0 "a34004-Rtd=1"), 0, &m, &err), JL_ELIMIT);
    CHECK_STR(err.message, "MN B QN " QN2 ": 2 split messages are already incomplete");
    CHECK_INT(hj_assembler_counters_get(a).refused_pending, 1);
    CHECK_INT(hj_assembler_add(a, part(QN2, "A", 2, 2, "a21026-Rtd=1"), 0, &m, &err), JL_OK);
    CHECK(m != NULL);
    hj_message_free(m);
    CHECK_INT(hj_assembler_add(a, part(QN2, "B", 2, 1, T0 "a34004-Rtd=1"), 0, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_pending(a), 2);

    /* A 2005 part without QN is keyed by MN alone, and said so. */
    const char *text = "ST=32;CN=2011;PW=1;MN=C;PNUM=70;PNO=1;CP=&&" T0 "011-Rtd=1&&";
    CHECK_INT(hj_segment_parse(text, strlen(text), &seg, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, &seg, 0, &m, &err), JL_ELIMIT);
    CHECK_STR(err.message, "MN C QN (none): PNUM 70 is over the limit of 64 parts a message");

    hj_assembler_counters c = hj_assembler_counters_get(a);
    CHECK_INT(c.refused_pnum, 2);
    CHECK_INT(c.refused_pno, 2);
    CHECK_INT(c.refused_inconsistent, 1);
    CHECK_INT(c.refused_pending, 1);
    CHECK_INT(c.completed, 1);
    hj_assembler_free(a);

    CHECK_INT(hj_assembler_new(0, 0, 0, &a, &err), JL_EINVAL);
    CHECK(a == NULL);
    CHECK_STR(err.message, "HJ 212 split-message timeout must be positive");
    CHECK_INT(hj_assembler_new(1, 0, 10000, &a, &err), JL_EINVAL);
    CHECK_STR(err.message, "HJ 212 PNUM is at most 9999 (asked for 10000)");
    hj_assembler_free(NULL);
    hj_message_free(NULL);
}

static void test_mapping_errors(void)
{
    hj_assembler *a = new_assembler(30000, 0, 0);
    hj_message *m = NULL;
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 2, 1, "a34004-Rtd=1"), 0, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, part(QN1, "A", 2, 2, "a34004-Rtd=1"), 0, &m, &err), JL_OK);
    CHECK(m != NULL);
    st_batch batch;
    st_batch_init(&batch);
    size_t added = 0;
    if (m != NULL) {
        /* no part has a DataTime */
        CHECK_INT(hj_message_to_batch(m, BEIJING, NULL, NULL, 0, &batch, &added, &err), JL_EINVAL);
        CHECK_STR(err.message, "PNO 1: CP: CN 2011 data without DataTime");
    }
    hj_message_free(m);
    /* The DataTime of the lowest-numbered part that has one; a bad flag names its part. */
    CHECK_INT(hj_assembler_add(a, part(QN2, "A", 3, 1, "a34004-Rtd=1"), 0, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_add(a, part(QN2, "A", 3, 2, T0 "a21026-Rtd=2"), 0, &m, &err), JL_OK);
    CHECK_INT(hj_assembler_add(
                  a, part(QN2, "A", 3, 3, "DataTime=20250101130000;a05024-Rtd=3,a05024-Flag=X"), 0,
                  &m, &err),
              JL_OK);
    CHECK(m != NULL);
    if (m != NULL) {
        st_batch_reset(&batch);
        CHECK_INT(hj_message_to_batch(m, BEIJING, NULL, NULL, 0, &batch, &added, &err), JL_EINVAL);
        CHECK_STR(err.message, "PNO 3: CP: a05024-Flag: \"X\" is not an HJ 212 data flag (N F M S "
                               "D C T B, or P from the 2005 edition)");
        CHECK_INT(added, 2); /* parts 1 and 2 were added before part 3 failed */
        CHECK_INT(st_batch_point_ms(&batch, 0), T0_MS);
        CHECK_INT(st_batch_point_ms(&batch, 1), T0_MS);
    }
    hj_message_free(m);
    st_batch_destroy(&batch);
    hj_assembler_free(a);
}

int main(void)
{
    RUN(test_out_of_order);
    RUN(test_whole_and_keys);
    RUN(test_duplicates_replace);
    RUN(test_expiry);
    RUN(test_refusals);
    RUN(test_mapping_errors);
    return CHECK_DONE();
}
