/* Tests of storage/catalog.c on real LMDB directories: series created with their postings and
 * selectors resolved through them (=, !=, hashed long values, limits). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

/* A tag value of 699 bytes: longer than the postings keep whole, so they store it hashed. */
#define LONG_VALUE 700
static void fill_long_value(char value[LONG_VALUE], char c)
{
    memset(value, c, LONG_VALUE - 1);
    value[LONG_VALUE - 1] = '\0';
}

/* Selectors: =, != (which also matches series without the tag), and long values that the
 * postings store hashed. */
static void test_select(void)
{
    store_fixture f;
    sf_open(&f, 0, 0);
    st_store *store = f.store;
    char long_value[LONG_VALUE];
    fill_long_value(long_value, 'v');
    struct {
        const char *metric, *k1, *v1, *k2, *v2;
    } defs[] = {
        {"pm25", "station", "a", "district", "north"},
        {"pm25", "station", "b", "district", "south"},
        {"pm25", "station", "c", NULL, NULL},
        {"pm10", "station", "a", "district", "north"},
        {"pm25", "station", long_value, "district", "north"},
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        sk_tag tags[2] = {{{defs[i].k1, strlen(defs[i].k1)}, {defs[i].v1, strlen(defs[i].v1)}},
                          {{"", 0}, {"", 0}}};
        size_t tag_count = 1;
        if (defs[i].k2) {
            tags[1] = (sk_tag){{defs[i].k2, strlen(defs[i].k2)}, {defs[i].v2, strlen(defs[i].v2)}};
            tag_count = 2;
        }
        uint32_t index = tb_series_tags(&f.b, defs[i].metric, tags, tag_count);
        tb_point(&f.b, index, 1000, 1.0);
    }
    CHECK_INT(tb_write(store, &f.b), JL_OK);
    jl_error err;
    uint64_t *ids = NULL;
    size_t count = 0;
    st_matcher pm25[] = {{"__name__", "pm25", 0}};
    CHECK_INT(st_select(store, pm25, 1, 0, &ids, &count, &err), JL_OK);
    CHECK_INT(count, 4);
    free(ids);
    st_matcher not_north[] = {{"__name__", "pm25", 0}, {"district", "north", 1}};
    CHECK_INT(st_select(store, not_north, 2, 0, &ids, &count, &err), JL_OK);
    CHECK_INT(count, 2); /* b (south) and c (no district) */
    if (count == 2) {
        CHECK_INT(ids[0], 2);
        CHECK_INT(ids[1], 3);
    }
    free(ids);
    st_matcher by_long[] = {{"station", long_value, 0}};
    CHECK_INT(st_select(store, by_long, 1, 0, &ids, &count, &err), JL_OK);
    CHECK_INT(count, 1);
    if (count == 1)
        CHECK_INT(ids[0], 5);
    free(ids);
    st_matcher none[] = {{"__name__", "o3", 0}};
    CHECK_INT(st_select(store, none, 1, 0, &ids, &count, &err), JL_OK);
    CHECK_INT(count, 0);
    free(ids);
    CHECK_INT(st_select(store, pm25, 1, 3, &ids, &count, &err), JL_ELIMIT);
    st_matcher only_negated[] = {{"station", "a", 1}};
    CHECK_INT(st_select(store, only_negated, 1, 0, &ids, &count, &err), JL_EINVAL);
    sf_close(&f);
}

/* A few candidates against long postings, which st_select probes id by id instead of reading:
 * 1,000 pm25 series (station s000..s999 with ids 1..1000 in creation order; district d1 when
 * i % 3 == 1, d2 when 2, a long value stored hashed when 0) and one pm10 series of station s007
 * (id 1001, no district). */
static void test_select_probes(void)
{
    store_fixture f;
    sf_open(&f, 0, 0);
    st_store *store = f.store;
    char long_value[LONG_VALUE];
    fill_long_value(long_value, 'w');
    for (int i = 0; i <= 1000; i++) {
        char station[16];
        snprintf(station, sizeof station, "s%03d", i == 1000 ? 7 : i);
        const char *district = i % 3 == 0 ? long_value : i % 3 == 1 ? "d1" : "d2";
        sk_tag tags[2] = {{{"district", 8}, {district, strlen(district)}},
                          {{"station", 7}, {station, strlen(station)}}};
        const char *metric = i == 1000 ? "pm10" : "pm25";
        uint32_t index =
            tb_series_tags(&f.b, metric, i == 1000 ? tags + 1 : tags, i == 1000 ? 1 : 2);
        tb_point(&f.b, index, 1000, 1.0);
    }
    CHECK_INT(tb_write(store, &f.b), JL_OK);
    jl_error err;
    struct {
        st_matcher matchers[2];
        size_t expected_count;
        uint64_t expected[2];
    } cases[] = {
        {{{"__name__", "pm25", 0}, {"station", "s007", 0}}, 1, {8}},
        {{{"station", "s008", 0}, {"district", "d1", 1}}, 1, {9}},
        {{{"station", "s007", 0}, {"district", "d1", 1}}, 1, {1001}},
        {{{"station", "s006", 0}, {"district", long_value, 0}}, 1, {7}},
        {{{"station", "s007", 0}, {"district", long_value, 0}}, 0, {0}},
        {{{"station", "s006", 0}, {"district", long_value, 1}}, 0, {0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t *ids = NULL;
        size_t count = 0;
        CHECK_INT(st_select(store, cases[c].matchers, 2, 0, &ids, &count, &err), JL_OK);
        CHECK_INT(count, cases[c].expected_count);
        for (size_t i = 0; i < count && i < cases[c].expected_count; i++)
            CHECK_INT(ids[i], cases[c].expected[i]);
        free(ids);
    }
    sf_close(&f);
}

int main(void)
{
    RUN(test_select);
    RUN(test_select_probes);
    return CHECK_DONE();
}
