/* The rules file (query/rules.c): every kind parsed into the fields written by hand here, and bad
 * files refused with the rule (index and name) and the field in the message. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jialing/alarm.h"

static int parse(const char *text, al_rules *rules, jl_error *err)
{
    jl_error_clear(err);
    return al_rules_parse(text, strlen(text), JL_FLAG_MASK_N, rules, err);
}

static void test_every_kind(void)
{
    const char *text =
        "{\"rules\": ["
        "{\"name\": \"nh3n_high\", \"series\": \"nh3n{section=\\\"cp\\\"}\", \"op\": \"gt\","
        " \"value\": 1.5, \"for\": \"2h\", \"labels\": {\"severity\": \"warning\"},"
        " \"summary\": \"ammonia high\"},"
        "{\"name\": \"do_day\", \"series\": \"do\", \"op\": \"lt\", \"value\": 5, \"window\": "
        "\"1d\","
        " \"agg\": \"mean\", \"tz\": \"+08:00\"},"
        "{\"name\": \"offline\", \"series\": \"ph{station!=\\\"s9\\\"}\", \"absent\": \"15m\","
        " \"flags\": \"all\"},"
        "{\"name\": \"stuck\", \"series\": \"ph\", \"flatline\": 30, \"flags\": \"N,S\"},"
        "{\"name\": \"spike\", \"series\": \"cod\", \"rate\": 2.5}"
        "]}";
    al_rules rules;
    jl_error err;
    CHECK_INT(parse(text, &rules, &err), JL_OK);
    CHECK_INT(rules.count, 5);
    if (rules.count != 5)
        return;
    const al_rule *r = &rules.rules[0];
    CHECK_STR(r->name, "nh3n_high");
    CHECK_INT(r->kind, AL_THRESHOLD);
    CHECK_INT(r->op, AL_GT);
    CHECK(r->value == 1.5);
    CHECK_INT(r->for_ms, 7200000);
    CHECK_STR(r->series.metric, "nh3n");
    CHECK_INT(r->series.matcher_count, 1);
    CHECK_STR(r->series.matchers[0].key, "section");
    CHECK_STR(r->series.matchers[0].value, "cp");
    CHECK_INT(r->flags, JL_FLAG_MASK_N);
    CHECK_INT(r->label_count, 1);
    CHECK_STR(r->label_keys[0], "severity");
    CHECK_STR(r->label_values[0], "warning");
    CHECK_STR(r->summary, "ammonia high");
    r = &rules.rules[1];
    CHECK_INT(r->kind, AL_WINDOW);
    CHECK_INT(r->op, AL_LT);
    CHECK_INT(r->window.ms, 86400000);
    CHECK_INT(r->window.months, 0);
    CHECK_INT(r->agg, AL_AGG_MEAN);
    CHECK(r->zone != NULL);
    r = &rules.rules[2];
    CHECK_INT(r->kind, AL_ABSENT);
    CHECK_INT(r->absent_ms, 900000);
    CHECK_INT(r->flags, JL_FLAG_MASK_ALL);
    CHECK_INT(r->series.matchers[0].negate, 1);
    r = &rules.rules[3];
    CHECK_INT(r->kind, AL_FLATLINE);
    CHECK_INT(r->flatline, 30);
    CHECK_INT(r->flags, (1u << JL_FLAG_N) | (1u << JL_FLAG_S));
    r = &rules.rules[4];
    CHECK_INT(r->kind, AL_RATE);
    CHECK(r->rate == 2.5);
    CHECK_INT(r->for_ms, 0);
    al_rules_free(&rules);
    CHECK_INT(rules.count, 0);
}

/* Each bad file with the words its message must hold. */
static void test_bad_files(void)
{
    static const struct {
        const char *text;
        const char *words[3];
    } cases[] = {
        {"", {"rules file", NULL}},
        {"{\"rules\": {}}", {"\"rules\": [...]", NULL}},
        {"{\"rules\": [], \"more\": 1}", {"one field", NULL}},
        {"{\"rules\": [], \"rules\": []}", {"rules file", "duplicate", NULL}},
        {"{\"rules\": [{\"series\": \"x\", \"op\": \"gt\", \"value\": 1}]}",
         {"rules[0]", "\"name\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"op\": \"gt\", \"value\": 1},"
         " {\"name\": \"b\", \"series\": \"x\", \"op\": \"above\", \"value\": 1}]}",
         {"rules[1] (\"b\")", "field \"op\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"op\": \"gt\"}]}",
         {"rules[0] (\"a\")", "field \"value\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x{\", \"op\": \"gt\", \"value\": 1}]}",
         {"rules[0] (\"a\")", "field \"series\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"op\": \"gt\", \"value\": 1,"
         " \"for\": \"soon\"}]}",
         {"rules[0] (\"a\")", "field \"for\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"op\": \"gt\", \"value\": 1,"
         " \"fr\": \"2h\"}]}",
         {"rules[0] (\"a\")", "field \"fr\"", "unknown"}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"absent\": \"5m\", \"rate\": 1}]}",
         {"rules[0] (\"a\")", "at most one", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"flatline\": 1}]}",
         {"rules[0] (\"a\")", "field \"flatline\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"rate\": -1}]}",
         {"rules[0] (\"a\")", "field \"rate\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"absent\": \"1mo\"}]}",
         {"rules[0] (\"a\")", "field \"absent\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"op\": \"gt\", \"value\": 1,"
         " \"window\": \"1d\", \"tz\": \"Mars/Base\"}]}",
         {"rules[0] (\"a\")", "field \"tz\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"op\": \"gt\", \"value\": 1,"
         " \"window\": \"7h\"}]}",
         {"rules[0] (\"a\")", "field \"window\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"op\": \"gt\", \"value\": 1,"
         " \"agg\": \"mean\"}]}",
         {"rules[0] (\"a\")", "field \"agg\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"op\": \"gt\", \"value\": 1,"
         " \"flags\": \"Q\"}]}",
         {"rules[0] (\"a\")", "field \"flags\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"op\": \"gt\", \"value\": 1},"
         " {\"name\": \"a\", \"series\": \"y\", \"op\": \"gt\", \"value\": 2}]}",
         {"rules[1] (\"a\")", "another rule", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"absent\": \"5m\", \"op\": \"gt\"}]}",
         {"rules[0] (\"a\")", "field \"op\"", NULL}},
        {"{\"rules\": [{\"name\": \"a\", \"series\": \"x\", \"absent\": \"5m\","
         " \"labels\": {\"alertname\": \"b\"}}]}",
         {"rules[0] (\"a\")", "field \"labels\"", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        al_rules rules;
        jl_error err;
        int rc = parse(cases[i].text, &rules, &err);
        CHECK_INT(rc, JL_EINVAL);
        CHECK_INT(rules.count, 0);
        for (int w = 0; w < 3 && cases[i].words[w]; w++)
            if (strstr(err.message, cases[i].words[w]) == NULL) {
                fprintf(stderr, "  case %zu: \"%s\" lacks \"%s\"\n", i, err.message,
                        cases[i].words[w]);
                check_failed_in_test = 1;
            }
    }
}

static void test_missing_file(void)
{
    al_rules rules;
    jl_error err;
    CHECK_INT(al_rules_load("/nonexistent/rules.json", JL_FLAG_MASK_N, &rules, &err), JL_EIO);
    CHECK(strstr(err.message, "/nonexistent/rules.json") != NULL);
}

int main(void)
{
    RUN(test_every_kind);
    RUN(test_bad_files);
    RUN(test_missing_file);
    return CHECK_DONE();
}
