/* Tests of query/sites.c: a valid sites file parses into the sites written here, lookups by id and
 * district, the metric map and selectors; every kind of bad file is refused naming the site and
 * field (or jansson's line and column); the registry keeps the old set when a reload fails. */
#include "check.h"
#include "tempdir.h"

#include "jialing/sites.h"

#include <stdlib.h>
#include <string.h>

static const char good[] =
    "{\"sites\": [\n"
    " {\"id\": \"jialing-cp\", \"kind\": \"river\", \"name\": \"Jialing at Caojiaxiang\",\n"
    "  \"district\": \"jiulongpo\", \"select\": {\"station\": \"jlp-01\", \"basin\": \"jl\"},\n"
    "  \"metrics\": {\"nh3n\": \"ammonia\", \"codmn\": \"permanganate\"}, \"target\": \"III\",\n"
    "  \"upstream\": \"beibei\", \"downstream\": \"yuzhong\",\n"
    "  \"agreement\": {\"indicators\": [\"class\", {\"param\": \"codmn\", \"baseline\": 4}],\n"
    "                \"amount\": {\"rule\": \"multiple\", \"per_unit\": 500000, \"cap\": "
    "2000000}}},\n"
    " {\"id\": \"lake-1\", \"kind\": \"lake\", \"name\": \"Lake One\", \"district\": \"yubei\",\n"
    "  \"select\": {\"mn\": \"88888880000001\"}, \"target\": \"II\"},\n"
    " {\"id\": \"air.jlp\", \"kind\": \"air\", \"name\": \"Jiulongpo air\", \"district\": "
    "\"jiulongpo\",\n"
    "  \"select\": {\"station\": \"jlp-air\"}, \"metrics\": {\"pm25\": \"pm2_5\"}}\n"
    "]}\n";

static si_set *parse_ok(const char *text)
{
    si_set *set = NULL;
    jl_error err;
    int rc = si_parse(text, strlen(text), NULL, &set, &err);
    if (rc != JL_OK)
        fprintf(stderr, "  unexpected: %s\n", err.message);
    CHECK_INT(rc, JL_OK);
    return set;
}

static void test_sites_good(void)
{
    si_set *set = parse_ok(good);
    CHECK_INT(si_count(set), 3);
    const si_site *r = si_find(set, "jialing-cp");
    CHECK(r != NULL && r == si_at(set, 0));
    if (r == NULL)
        return;
    CHECK_INT(r->kind, SI_KIND_RIVER);
    CHECK_STR(r->name, "Jialing at Caojiaxiang");
    CHECK_STR(r->district, "jiulongpo");
    CHECK_INT(r->tag_count, 2);
    CHECK_STR(r->tags[0].key, "basin"); /* sorted by key */
    CHECK_STR(r->tags[0].value, "jl");
    CHECK_STR(r->tags[1].key, "station");
    CHECK_STR(r->tags[1].value, "jlp-01");
    CHECK_INT(r->target, 3);
    CHECK_STR(r->upstream, "beibei");
    CHECK_STR(r->downstream, "yuzhong");
    CHECK_STR(si_metric_for(r, "nh3n"), "ammonia");
    CHECK_STR(si_metric_for(r, "codmn"), "permanganate");
    CHECK_STR(si_metric_for(r, "tp"), "tp");
    CHECK_INT(r->agreement.present, 1);
    CHECK_INT(r->agreement.baseline_class, 3); /* from the target */
    CHECK_INT(r->agreement.indicator_count, 2);
    CHECK(r->agreement.indicators[0].param == NULL);
    CHECK_STR(r->agreement.indicators[1].param, "codmn");
    CHECK_DOUBLE_BITS(r->agreement.indicators[1].baseline, 4.0);
    CHECK_INT(r->agreement.amount_rule, SI_AMOUNT_MULTIPLE);
    CHECK_DOUBLE_BITS(r->agreement.amount, 500000.0);
    CHECK_DOUBLE_BITS(r->agreement.cap, 2000000.0);
    CHECK_STR(r->agreement.rule, "chongqing-2023");

    const si_site *l = si_find(set, "lake-1");
    CHECK(l != NULL && l->kind == SI_KIND_LAKE && l->target == 2 && l->upstream == NULL &&
          !l->agreement.present);
    const si_site *a = si_find(set, "air.jlp");
    CHECK(a != NULL && a->kind == SI_KIND_AIR && a->target == 0);
    CHECK_STR(si_metric_for(a, "pm25"), "pm2_5");
    CHECK_STR(si_metric_for(a, "o3"), "o3");
    CHECK(si_find(set, "nope") == NULL);
    CHECK(si_at(set, 3) == NULL);

    const si_site *found[4];
    CHECK_INT(si_by_district(set, "jiulongpo", found, 4), 2);
    CHECK(found[0] == r && found[1] == a);
    CHECK_INT(si_by_district(set, "all", found, 1), 3);
    CHECK(found[0] == r);
    CHECK_INT(si_by_district(set, "nowhere", found, 4), 0);

    qp_selector sel;
    jl_error err;
    CHECK_INT(si_selector(r, "ammonia", &sel, &err), JL_OK);
    CHECK_STR(sel.metric, "ammonia");
    CHECK_INT(sel.matcher_count, 2);
    CHECK_STR(sel.matchers[0].key, "basin");
    CHECK_STR(sel.matchers[0].value, "jl");
    CHECK_INT(sel.matchers[0].negate, 0);
    CHECK_STR(sel.matchers[1].key, "station");
    qp_selector_destroy(&sel);

    /* A reference outlives the parse's one. */
    si_set *again = si_set_retain(set);
    si_set_release(set);
    CHECK_STR(si_at(again, 1)->id, "lake-1");
    si_set_release(again);
}

static void test_sites_listing(void)
{
    const char *text = "{\"sites\":[{\"id\":\"l\",\"kind\":\"reservoir\",\"name\":\"R\","
                       "\"district\":\"d\",\"select\":{\"mn\":\"1\"},\"metrics\":{\"do\":\"dox\"}},"
                       "{\"id\":\"a\",\"kind\":\"air\",\"name\":\"A\",\"district\":\"d\","
                       "\"select\":{\"s\":\"x\"}},"
                       "{\"id\":\"r\",\"kind\":\"river\",\"name\":\"N\",\"district\":\"d\","
                       "\"select\":{\"s\":\"y\"},\"target\":\"IV\",\"upstream\":\"u\","
                       "\"downstream\":\"w\",\"agreement\":{\"amount\":{\"rule\":\"fixed\","
                       "\"per_month\":1000000}}}]}";
    si_set *set = parse_ok(text);
    jl_buf out;
    jl_buf_init(&out);
    CHECK_INT(si_write_json(set, &out), JL_OK);
    const char *water_metrics =
        "\"nh3n\":\"nh3n\",\"cod\":\"cod\",\"codmn\":\"codmn\",\"tp\":\"tp\",\"tn\":\"tn\","
        "\"do\":\"%s\",\"ph\":\"ph\",\"bod5\":\"bod5\",\"cu\":\"cu\",\"zn\":\"zn\",\"f\":\"f\","
        "\"se\":\"se\",\"as\":\"as\",\"hg\":\"hg\",\"cd\":\"cd\",\"cr6\":\"cr6\",\"pb\":\"pb\","
        "\"cn\":\"cn\",\"phenol\":\"phenol\",\"petroleum\":\"petroleum\",\"las\":\"las\","
        "\"sulfide\":\"sulfide\",\"fcoli\":\"fcoli\"";
    char m1[1024], m2[1024], expected[4096];
    snprintf(m1, sizeof m1, water_metrics, "dox");
    snprintf(m2, sizeof m2, water_metrics, "do");
    snprintf(expected, sizeof expected,
             "{\"sites\":[{\"id\":\"l\",\"kind\":\"reservoir\",\"name\":\"R\",\"district\":\"d\","
             "\"select\":{\"mn\":\"1\"},\"metrics\":{%s},\"target\":null},"
             "{\"id\":\"a\",\"kind\":\"air\",\"name\":\"A\",\"district\":\"d\","
             "\"select\":{\"s\":\"x\"},\"metrics\":{\"pm25\":\"pm25\",\"pm10\":\"pm10\","
             "\"so2\":\"so2\",\"no2\":\"no2\",\"co\":\"co\",\"o3\":\"o3\"}},"
             "{\"id\":\"r\",\"kind\":\"river\",\"name\":\"N\",\"district\":\"d\","
             "\"select\":{\"s\":\"y\"},\"metrics\":{%s},\"target\":\"IV\",\"upstream\":\"u\","
             "\"downstream\":\"w\",\"agreement\":{\"baseline\":\"IV\",\"indicators\":[\"class\"],"
             "\"amount\":{\"rule\":\"fixed\",\"per_month\":1000000.0},"
             "\"rule\":\"chongqing-2023\"}}]}",
             m1, m2);
    CHECK_STR(out.data, expected);
    jl_buf_destroy(&out);
    si_set_release(set);

    jl_buf_init(&out);
    CHECK_INT(si_write_json(NULL, &out), JL_OK);
    CHECK_STR(out.data, "{\"sites\":[]}");
    jl_buf_destroy(&out);
}

/* A site with one field replaced: `extra` is spliced into an otherwise valid river site. */
static void expect_bad(const char *site_members, const char *message_part)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"sites\":[{\"id\":\"ok\",\"kind\":\"air\",\"name\":\"n\","
             "\"district\":\"d\",\"select\":{\"s\":\"1\"}},{%s}]}",
             site_members);
    si_set *set = (si_set *)1;
    jl_error err;
    CHECK_INT(si_parse(text, strlen(text), "f.json", &set, &err), JL_EINVAL);
    CHECK(set == NULL);
    if (strstr(err.message, message_part) == NULL) {
        fprintf(stderr, "  message \"%s\" lacks \"%s\"\n", err.message, message_part);
        check_failed_in_test = 1;
    }
}

#define RIVER "\"kind\":\"river\",\"name\":\"n\",\"district\":\"d\",\"select\":{\"s\":\"2\"}"

static void test_sites_bad_values(void)
{
    expect_bad("\"id\":\"x\",\"kind\":\"sea\",\"name\":\"n\",\"district\":\"d\","
               "\"select\":{\"s\":\"2\"}",
               "f.json: sites[1] (\"x\").kind: must be one of air, river");
    expect_bad("\"kind\":\"river\"", "sites[1].id: is missing");
    expect_bad("\"id\":\"a b\"," RIVER, "sites[1].id: must be 1 to 64");
    expect_bad("\"id\":\"ok\"," RIVER, "sites[1] (\"ok\").id: duplicates the id of sites[0]");
    expect_bad("\"id\":\"x\"," RIVER ",\"colour\":1", "sites[1] (\"x\").\"colour\": unknown field");
    expect_bad("\"id\":\"x\"," RIVER ",\"target\":\"VI\"", "(\"x\").target: must be one of");
    expect_bad("\"id\":\"x\"," RIVER ",\"target\":3", "(\"x\").target: must be one of");
    expect_bad("\"id\":\"x\",\"kind\":\"river\",\"name\":\"n\",\"district\":\"d\","
               "\"select\":{\"1st\":\"2\"}",
               "(\"x\").select.\"1st\": is not a valid tag name");
    expect_bad("\"id\":\"x\",\"kind\":\"river\",\"name\":\"n\",\"district\":\"d\","
               "\"select\":{\"s\":\"\"}",
               "(\"x\").select.\"s\": is empty");
    expect_bad("\"id\":\"x\",\"kind\":\"river\",\"name\":\"n\",\"district\":\"d\","
               "\"select\":{}",
               "(\"x\").select: needs at least one tag condition");
    expect_bad("\"id\":\"x\",\"kind\":\"river\",\"name\":\"n\",\"district\":\"d\"",
               "(\"x\").select: is missing");
    expect_bad("\"id\":\"x\",\"kind\":\"river\",\"name\":\"n\",\"district\":\"all\","
               "\"select\":{\"s\":\"2\"}",
               "(\"x\").district: may not be \"all\"");
    expect_bad("\"id\":\"x\",\"kind\":\"river\",\"district\":\"d\",\"select\":{\"s\":\"2\"}",
               "(\"x\").name: is missing");
    expect_bad("\"id\":\"x\"," RIVER ",\"metrics\":{\"pm25\":\"p\"}",
               "(\"x\").metrics.\"pm25\": is not a parameter of a river site");
    expect_bad("\"id\":\"x\"," RIVER ",\"metrics\":{\"tp\":\"9p\"}",
               "(\"x\").metrics.\"tp\": is not a valid metric name");
    expect_bad("\"id\":\"x\",\"kind\":\"air\",\"name\":\"n\",\"district\":\"d\","
               "\"select\":{\"s\":\"2\"},\"target\":\"II\"",
               "(\"x\").target: is for water sites only");
    expect_bad("\"id\":\"x\",\"kind\":\"lake\",\"name\":\"n\",\"district\":\"d\","
               "\"select\":{\"s\":\"2\"},\"upstream\":\"u\"",
               "(\"x\").upstream: is for river sections only");
    expect_bad("\"id\":\"x\"," RIVER ",\"target\":\"III\",\"agreement\":{\"amount\":"
               "{\"rule\":\"fixed\",\"per_month\":1}}",
               "(\"x\").agreement: needs the site's upstream and downstream");
    expect_bad("\"id\":\"x\"," RIVER ",\"upstream\":\"u\",\"downstream\":\"w\","
               "\"agreement\":{\"amount\":{\"rule\":\"fixed\",\"per_month\":1}}",
               "(\"x\").agreement.baseline: is needed for the class indicator");
    expect_bad("\"id\":\"x\"," RIVER ",\"target\":\"III\",\"upstream\":\"u\",\"downstream\":\"w\","
               "\"agreement\":{}",
               "(\"x\").agreement.amount: is missing");
    expect_bad("\"id\":\"x\"," RIVER ",\"target\":\"III\",\"upstream\":\"u\",\"downstream\":\"w\","
               "\"agreement\":{\"amount\":{\"rule\":\"fixed\",\"per_month\":-1}}",
               "(\"x\").agreement.amount.per_month: is required");
    expect_bad("\"id\":\"x\"," RIVER ",\"target\":\"III\",\"upstream\":\"u\",\"downstream\":\"w\","
               "\"agreement\":{\"amount\":{\"rule\":\"fixed\",\"per_month\":1,\"cap\":2}}",
               "(\"x\").agreement.amount.\"cap\": unknown field");
    expect_bad("\"id\":\"x\"," RIVER ",\"target\":\"III\",\"upstream\":\"u\",\"downstream\":\"w\","
               "\"agreement\":{\"indicators\":[{\"param\":\"pm25\",\"baseline\":1}],"
               "\"amount\":{\"rule\":\"fixed\",\"per_month\":1}}",
               "(\"x\").agreement.indicators[0]: param must name a water parameter");
    expect_bad("\"id\":\"x\"," RIVER ",\"target\":\"III\",\"upstream\":\"u\",\"downstream\":\"w\","
               "\"agreement\":{\"rule\":\"other\",\"amount\":{\"rule\":\"fixed\",\"per_month\":1}}",
               "(\"x\").agreement.rule: must be \"chongqing-2023\"");
}

static void test_sites_bad_documents(void)
{
    si_set *set;
    jl_error err;
    /* jansson's positions: line 2, column 12 is where the duplicate key ends. */
    const char *dup = "{\"sites\": [\n {\"id\": \"a\", \"id\": \"b\"}]}";
    CHECK_INT(si_parse(dup, strlen(dup), "f.json", &set, &err), JL_EINVAL);
    CHECK_INT(err.line, 2);
    CHECK(strstr(err.message, "f.json: line 2, column") != NULL);
    CHECK(strstr(err.message, "duplicate object key") != NULL);

    const char *syntax = "{\"sites\": [\n\n  {\"id\": }]}";
    CHECK_INT(si_parse(syntax, strlen(syntax), "f.json", &set, &err), JL_EINVAL);
    CHECK_INT(err.line, 3);
    CHECK_INT(err.column, 10);

    CHECK_INT(si_parse("[]", 2, NULL, &set, &err), JL_EINVAL);
    CHECK(strstr(err.message, "sites file: the document must be an object") != NULL);
    CHECK_INT(si_parse("{\"site\":[]}", 11, NULL, &set, &err), JL_EINVAL);
    CHECK(strstr(err.message, "unknown top-level field \"site\"") != NULL);
    CHECK_INT(si_parse("{\"sites\":{}}", 12, NULL, &set, &err), JL_EINVAL);
    CHECK_INT(si_parse("", 0, NULL, &set, &err), JL_EINVAL);
    CHECK_INT(si_parse("{\"sites\":[]}", 12, NULL, &set, &err), JL_OK);
    CHECK_INT(si_count(set), 0);
    si_set_release(set);
    CHECK_INT(si_load_file("/nonexistent/sites.json", &set, &err), JL_EIO);
    CHECK(strstr(err.message, "No such file") != NULL);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs(text, f);
    fclose(f);
}

static void test_sites_registry(void)
{
    char *dir = make_temp_dir_named("sites");
    char path[256];
    snprintf(path, sizeof path, "%s/sites.json", dir);
    write_file(path, good);
    si_registry reg;
    jl_error err;
    CHECK_INT(si_registry_init(&reg, path), JL_OK);
    CHECK(si_registry_acquire(&reg) == NULL);
    CHECK_INT(si_registry_reload(&reg, &err), JL_OK);
    si_set *held = si_registry_acquire(&reg);
    CHECK_INT(si_count(held), 3);

    write_file(path, "{\"sites\":[{\"id\":\"x\"}]}");
    CHECK_INT(si_registry_reload(&reg, &err), JL_EINVAL);
    si_set *now = si_registry_acquire(&reg);
    CHECK(now == held); /* the old set stays */
    si_set_release(now);

    write_file(path, "{\"sites\":[]}");
    CHECK_INT(si_registry_reload(&reg, &err), JL_OK);
    now = si_registry_acquire(&reg);
    CHECK_INT(si_count(now), 0);
    si_set_release(now);
    /* The reader that acquired the first set still has it. */
    CHECK_STR(si_at(held, 0)->id, "jialing-cp");
    si_set_release(held);
    si_registry_destroy(&reg);
    remove_dir(dir);
}

static void test_sites_names(void)
{
    si_kind k;
    CHECK_INT(si_parse_kind("reservoir", &k, NULL), JL_OK);
    CHECK_INT(k, SI_KIND_RESERVOIR);
    CHECK_INT(si_parse_kind("River", &k, NULL), JL_EINVAL);
    CHECK_STR(si_kind_name(SI_KIND_DRINKING), "drinking");
    CHECK_STR(si_kind_name(SI_KIND_COUNT), "?");
    int c;
    CHECK_INT(si_parse_class("IV", &c, NULL), JL_OK);
    CHECK_INT(c, 4);
    CHECK_INT(si_parse_class("iv", &c, NULL), JL_EINVAL);
    CHECK_INT(si_parse_class("VI", &c, NULL), JL_EINVAL);
    CHECK_STR(si_class_name(6), "worse than V");
    CHECK_STR(si_class_name(0), "?");
    CHECK_INT(si_param_known(SI_KIND_LAKE, "tn"), 1);
    CHECK_INT(si_param_known(SI_KIND_AIR, "tn"), 0);
    CHECK_INT(si_param_known(SI_KIND_AIR, "o3"), 1);
    CHECK_INT(si_kind_is_water(SI_KIND_AIR), 0);
    CHECK_INT(si_kind_is_water(SI_KIND_DRINKING), 1);
}

int main(void)
{
    RUN(test_sites_good);
    RUN(test_sites_listing);
    RUN(test_sites_bad_values);
    RUN(test_sites_bad_documents);
    RUN(test_sites_registry);
    RUN(test_sites_names);
    return CHECK_DONE();
}
