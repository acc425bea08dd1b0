/* Tests server/public.c (the public page's JSON, exact bytes for readings written here) and
 * server/assets.c (If-None-Match matching, the built-in table). */
#include "check.h"
#include "tempdir.h"

#include "jialing/assets.h"
#include "jialing/public.h"
#include "jialing/serieskey.h"

static st_store *store;

/* Writes one reading of metric{tag_key=site,district=district} (district NULL: no such tag). */
static int put(const char *metric, const char *tag_key, const char *site, const char *district,
               int64_t t_ms, double value)
{
    sk_tag tags[2];
    size_t n = 0;
    tags[n++] = (sk_tag){{tag_key, strlen(tag_key)}, {site, strlen(site)}};
    if (district)
        tags[n++] = (sk_tag){{"district", 8}, {district, strlen(district)}};
    jl_buf key;
    jl_buf_init(&key);
    jl_error err;
    st_batch batch;
    st_batch_init(&batch);
    uint32_t index = 0;
    int rc = sk_build((sk_text){metric, strlen(metric)}, tags, n, &key, &err);
    if (rc == JL_OK)
        rc = st_batch_series(&batch, key.data, key.len, &index);
    if (rc == JL_OK)
        rc = st_batch_point(&batch, index, t_ms, value);
    if (rc == JL_OK)
        rc = st_write(store, &batch, &err);
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    return rc;
}

static void test_empty_store(void)
{
    jl_buf out;
    jl_buf_init(&out);
    jl_error err;
    jl_error_clear(&err);
    CHECK_INT(pb_latest_json(store, NULL, &out, &err), JL_OK);
    CHECK_STR(out.data, "{\"sites\":[]}");
    jl_buf_destroy(&out);
}

static void test_latest_per_site(void)
{
    /* Out of order on purpose: the answer is sorted air first, then district, site, metric. */
    CHECK_INT(put("o3", "station", "s2", "west", 2000, 81.5), JL_OK);
    CHECK_INT(put("pm25", "station", "s2", "west", 1000, 30), JL_OK);
    CHECK_INT(put("pm25", "station", "s2", "west", 3000, 31.25), JL_OK); /* the later one wins */
    CHECK_INT(put("pm25", "station", "s1", "east", 1000, 12.5), JL_OK);
    CHECK_INT(put("nh3n", "section", "r1", NULL, 5000, 0.512), JL_OK);
    CHECK_INT(put("pm25", "site", "x", NULL, 1000, 1), JL_OK);           /* no station/section */
    CHECK_INT(put("humidity", "station", "s1", "east", 1000, 7), JL_OK); /* not public */
    jl_buf out;
    jl_buf_init(&out);
    jl_error err;
    jl_error_clear(&err);
    CHECK_INT(pb_latest_json(store, NULL, &out, &err), JL_OK);
    CHECK_STR(out.data,
              "{\"sites\":["
              "{\"kind\":\"air\",\"site\":\"s1\",\"district\":\"east\",\"readings\":["
              "{\"metric\":\"pm25\",\"time\":1000,\"value\":12.5}],\"aqi\":null},"
              "{\"kind\":\"air\",\"site\":\"s2\",\"district\":\"west\",\"readings\":["
              "{\"metric\":\"pm25\",\"time\":3000,\"value\":31.25},"
              "{\"metric\":\"o3\",\"time\":2000,\"value\":81.5}],\"aqi\":null},"
              "{\"kind\":\"water\",\"site\":\"r1\",\"district\":\"\",\"readings\":["
              "{\"metric\":\"nh3n\",\"time\":5000,\"value\":0.512}],\"water_class\":null}]}");
    jl_buf_destroy(&out);
}

static void test_etag_matches(void)
{
    const char *tag = "\"abc\"";
    CHECK_INT(as_etag_matches(NULL, tag), 0);
    CHECK_INT(as_etag_matches("\"abc\"", tag), 1);
    CHECK_INT(as_etag_matches("W/\"abc\"", tag), 1);
    CHECK_INT(as_etag_matches("\"x\", \"abc\"", tag), 1);
    CHECK_INT(as_etag_matches("\"x\",W/\"abc\"", tag), 1);
    CHECK_INT(as_etag_matches("*", tag), 1);
    CHECK_INT(as_etag_matches("\"abcd\"", tag), 0);
    CHECK_INT(as_etag_matches("\"ab\"", tag), 0);
    CHECK_INT(as_etag_matches("\"abc", tag), 0);
    CHECK_INT(as_etag_matches("", tag), 0);
    CHECK_INT(as_etag_matches("\"abc\"", ""), 0);
}

static void test_built_in_table(void)
{
    static const char *const paths[] = {"/",
                                        "/public",
                                        "/assets/console.js",
                                        "/assets/public.js",
                                        "/assets/style.css",
                                        "/assets/uPlot.iife.min.js",
                                        "/assets/uPlot.min.css"};
    CHECK_INT(as_table_count, sizeof paths / sizeof paths[0]);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const as_asset *a = as_find(paths[i]);
        CHECK(a != NULL);
        if (a)
            CHECK(a->len_bytes > 0 && strlen(a->etag) == 22);
    }
    CHECK(as_find("/assets/") == NULL);
    CHECK(as_find("/index.html") == NULL);
}

int main(void)
{
    char *dir = make_temp_dir_named("public");
    jl_error err;
    st_options options = {.directory = dir, .sync_full = 0};
    if (st_store_open(&options, &store, &err) != JL_OK) {
        fprintf(stderr, "st_store_open: %s\n", err.message);
        remove_dir(dir);
        return 1;
    }
    RUN(test_empty_store);
    RUN(test_latest_per_site);
    RUN(test_etag_matches);
    RUN(test_built_in_table);
    st_store_close(store);
    remove_dir(dir);
    return CHECK_DONE();
}
