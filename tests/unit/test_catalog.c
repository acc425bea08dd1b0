/* Tests of storage/catalog.c on real LMDB directories: series created with their postings and
 * selectors resolved through them (=, !=, hashed long values, limits). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

/* Selectors: =, != (which also matches series without the tag), and long values that the
 * postings store hashed. */
static void test_select(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, 0);
    st_batch batch;
    st_batch_init(&batch);
    jl_buf key;
    jl_buf_init(&key);
    char long_value[700];
    memset(long_value, 'v', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
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
        key.len = 0;
        jl_error err;
        CHECK_INT(sk_build((sk_text){defs[i].metric, strlen(defs[i].metric)}, tags, tag_count, &key,
                           &err),
                  JL_OK);
        uint32_t index;
        CHECK_INT(st_batch_series(&batch, key.data, key.len, &index), JL_OK);
        CHECK_INT(st_batch_point(&batch, index, 1000, 1.0), JL_OK);
    }
    jl_error err;
    CHECK_INT(st_write(store, &batch, &err), JL_OK);
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
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    st_store_close(store);
    remove_dir(dir);
}

int main(void)
{
    RUN(test_select);
    return CHECK_DONE();
}
