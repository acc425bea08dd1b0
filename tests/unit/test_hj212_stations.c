/* Tests of query/ingest/hj212_stations.c: stations files written here parse into the stations,
 * PWs and tags written out by hand; lookups by MN; every refusal names its line and reason; a
 * file on disk loads like its text; station tags reach the series keys in canonical order. */
#include "check.h"
#include "tempdir.h"

#include "jialing/hj212.h"

static jl_error err;

static int parse(const char *text, hj_stations **out)
{
    jl_error_clear(&err);
    return hj_stations_parse(text, strlen(text), out, &err);
}

static void test_parse_and_find(void)
{
    hj_stations *t = NULL;
    CHECK_INT(parse("# Chongqing air stations\n"
                    "\n"
                    "AIR0002 123456 station=jlp-02\n"
                    "   \t\n"
                    "AIR0001\t654321  station=jlp-01 district=jiulongpo   # the first one\r\n"
                    "W1 pw#1\n" /* '#' inside a field is part of it */
                    "river-9 x district=\xe4\xb9\x9d\xe9\xbe\x99\xe5\x9d\xa1",
                    &t),
              JL_OK);
    CHECK_INT(hj_stations_count(t), 4);
    /* bytewise MN order: 'A' < 'W' < 'r' */
    CHECK_STR(hj_stations_at(t, 0)->mn, "AIR0001");
    CHECK_STR(hj_stations_at(t, 1)->mn, "AIR0002");
    CHECK_STR(hj_stations_at(t, 2)->mn, "W1");
    CHECK_STR(hj_stations_at(t, 3)->mn, "river-9");

    const hj_station *s = hj_stations_find(t, "AIR0001");
    CHECK(s != NULL);
    if (s != NULL) {
        CHECK_STR(s->pw, "654321");
        CHECK_INT(s->line, 5);
        CHECK_INT(s->tag_count, 2);
        if (s->tag_count == 2) {
            CHECK_STR(s->tags[0].key, "station");
            CHECK_STR(s->tags[0].value, "jlp-01");
            CHECK_STR(s->tags[1].key, "district");
            CHECK_STR(s->tags[1].value, "jiulongpo");
        }
    }
    s = hj_stations_find(t, "AIR0002");
    CHECK(s != NULL);
    if (s != NULL) {
        CHECK_STR(s->pw, "123456");
        CHECK_INT(s->line, 3);
        CHECK_INT(s->tag_count, 1);
        CHECK_STR(s->tags[0].value, "jlp-02");
    }
    s = hj_stations_find(t, "W1");
    CHECK(s != NULL);
    if (s != NULL) {
        CHECK_STR(s->pw, "pw#1");
        CHECK_INT(s->tag_count, 0);
    }
    s = hj_stations_find(t, "river-9");
    CHECK(s != NULL);
    if (s != NULL && s->tag_count == 1)
        CHECK_STR(s->tags[0].value, "九龙坡");
    CHECK(hj_stations_find(t, "AIR000") == NULL);
    CHECK(hj_stations_find(t, "AIR00011") == NULL);
    CHECK(hj_stations_find(t, "air0001") == NULL);
    CHECK(hj_stations_find(NULL, "AIR0001") == NULL);
    CHECK_INT(hj_stations_count(NULL), 0);
    hj_stations_free(t);

    /* An empty file and a file of comments are empty tables. */
    CHECK_INT(parse("", &t), JL_OK);
    CHECK_INT(hj_stations_count(t), 0);
    CHECK(hj_stations_find(t, "A") == NULL);
    hj_stations_free(t);
    CHECK_INT(parse("# none yet\n\n", &t), JL_OK);
    CHECK_INT(hj_stations_count(t), 0);
    hj_stations_free(t);
    hj_stations_free(NULL);
}

/* One refusal: the code, the message and the line. */
static void refused(const char *text, const char *message, long line)
{
    hj_stations *t = (hj_stations *)&err; /* must be reset to NULL */
    CHECK_INT(parse(text, &t), JL_EINVAL);
    CHECK(t == NULL);
    CHECK_STR(err.message, message);
    CHECK_INT(err.line, line);
}

static void test_refusals(void)
{
    refused("A 1\nB 2\n# c\nA 3\n", "line 4: MN A given twice (first on line 1)", 4);
    refused("A 1\nB\n", "line 2: PW missing", 2);
    refused("A station=x\n", "line 1: PW missing (\"station=x\" is a tag; the PW comes second)", 1);
    refused("A;1 x\n",
            "line 1: MN \"A;1\" is not valid (1 to 32 printable ASCII bytes without ; = "
            "& ,)",
            1);
    refused("A 1,2\n",
            "line 1: PW \"1,2\" is not valid (1 to 32 printable ASCII bytes without ; = "
            "& ,)",
            1);
    refused("\n\nA&B 1\n",
            "line 3: MN \"A&B\" is not valid (1 to 32 printable ASCII bytes without "
            "; = & ,)",
            3);
    /* 33 bytes: one over HJ_FIELD_MAX */
    refused("A23456789012345678901234567890123 1\n",
            "line 1: MN \"A23456789012345678901234567890123\" is not valid (1 to 32 printable "
            "ASCII bytes without ; = & ,)",
            1);
    refused("A 1 station\n", "line 1: \"station\" is not a key=value tag", 1);
    refused("A 1 district=\n", "line 1: tag district=: the value of tag \"district\" is empty", 1);
    refused("A 1 1st=x\n",
            "line 1: tag 1st=x: tag key \"1st\" is not valid; names start with a letter or '_' "
            "and contain only letters, digits, '_', '.' and '-'",
            1);
    refused("A 1 =x\n",
            "line 1: tag =x: tag key \"\" is not valid; names start with a letter or '_' and "
            "contain only letters, digits, '_', '.' and '-'",
            1);
    refused("A 1 name=\xff\n",
            "line 1: tag name=\\xff: the value of tag \"name\" is not valid UTF-8", 1);
    refused("A 1 mn=B\n", "line 1: tag mn=B: mn and cn come from the packet itself", 1);
    refused("A 1 cn=2011\n", "line 1: tag cn=2011: mn and cn come from the packet itself", 1);
    refused("A 1 k=1 k=2\n", "line 1: tag k=2: key given twice", 1);
    refused("A 1 a=1 b=1 c=1 d=1 e=1 f=1 g=1 h=1 i=1 j=1 k=1 l=1 m=1 n=1 o=1 p=1 q=1\n",
            "line 1: more than 16 tags", 1);
    /* A control character inside a field is no separator. */
    refused("A 1\x0b x=1\n",
            "line 1: PW \"1\\x0b\" is not valid (1 to 32 printable ASCII bytes "
            "without ; = & ,)",
            1);
}

static void test_load(void)
{
    char *dir = make_temp_dir_named("hj212-stations");
    char path[512];
    snprintf(path, sizeof path, "%s/stations.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("AIR0001 123456 station=jlp-01\nAIR0002 654321\n", f);
        fclose(f);
    }
    hj_stations *t = NULL;
    jl_error_clear(&err);
    CHECK_INT(hj_stations_load(path, &t, &err), JL_OK);
    CHECK_INT(hj_stations_count(t), 2);
    const hj_station *s = hj_stations_find(t, "AIR0002");
    CHECK(s != NULL);
    if (s != NULL)
        CHECK_STR(s->pw, "654321");
    hj_stations_free(t);

    f = fopen(path, "w");
    if (f != NULL) {
        fputs("AIR0001 123456\nAIR0001 654321\n", f);
        fclose(f);
    }
    char expected[700];
    snprintf(expected, sizeof expected, "%s: line 2: MN AIR0001 given twice (first on line 1)",
             path);
    CHECK_INT(hj_stations_load(path, &t, &err), JL_EINVAL);
    CHECK(t == NULL);
    CHECK_STR(err.message, expected);
    CHECK_INT(err.line, 2);

    snprintf(path, sizeof path, "%s/missing.txt", dir);
    snprintf(expected, sizeof expected,
             "cannot open HJ 212 stations file %s: No such file or directory", path);
    CHECK_INT(hj_stations_load(path, &t, &err), JL_EIO);
    CHECK_STR(err.message, expected);
    remove_dir(dir);
}

/* A station's tags go into the series keys of its readings, sorted with cn and mn. */
static void test_tags_in_keys(void)
{
    hj_stations *t = NULL;
    CHECK_INT(parse("AIR0001 123456 station=jlp-01 district=jiulongpo a_first=1\n", &t), JL_OK);
    const hj_station *s = hj_stations_find(t, "AIR0001");
    CHECK(s != NULL);
    if (s == NULL) {
        hj_stations_free(t);
        return;
    }
    const char *text = "QN=20250101120000123;ST=22;CN=2011;PW=123456;MN=AIR0001;Flag=5;CP=&&"
                       "DataTime=20250101120000;a34004-Rtd=35.2&&";
    static hj_segment seg;
    CHECK_INT(hj_segment_parse(text, strlen(text), &seg, &err), JL_OK);
    st_batch batch;
    st_batch_init(&batch);
    size_t added = 0;
    CHECK_INT(hj_segment_to_batch_tagged(&seg, 8LL * 3600 * 1000, NULL, s->tags, s->tag_count,
                                         &batch, &added, &err),
              JL_OK);
    CHECK_INT(added, 1);
    if (added == 1) {
        CHECK_STR(st_batch_series_key(&batch, st_batch_point_series(&batch, 0), NULL),
                  "pm25{a_first=\"1\",cn=\"2011\",district=\"jiulongpo\",mn=\"AIR0001\","
                  "station=\"jlp-01\"}");
        /* 2025-01-01 12:00 Beijing = 04:00 UTC */
        CHECK_INT(st_batch_point_ms(&batch, 0), 1735704000000LL);
    }
    /* The station's own tag array is left as the file gave it. */
    CHECK_STR(s->tags[0].key, "station");
    CHECK_STR(s->tags[2].key, "a_first");
    st_batch_destroy(&batch);
    hj_stations_free(t);
}

int main(void)
{
    RUN(test_parse_and_find);
    RUN(test_refusals);
    RUN(test_load);
    RUN(test_tags_in_keys);
    return CHECK_DONE();
}
