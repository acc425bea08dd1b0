/* Tests server/public.c (the public page's JSON, exact bytes for readings written here; its shared
 * cache: rebuilt after a commit or at max age, 304s, readers on many threads) and
 * server/assets.c (If-None-Match matching, the built-in table). */
#include <pthread.h>

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

/* The answer once test_latest_per_site has written its readings, and after test_cache_commits
 * writes a later pm25 reading at s1 (time 4000, 13.75). */
#define SITES_S1(reading)                                                                          \
    "{\"sites\":["                                                                                 \
    "{\"kind\":\"air\",\"site\":\"s1\",\"district\":\"east\",\"readings\":[" reading               \
    "],\"aqi\":null},"                                                                             \
    "{\"kind\":\"air\",\"site\":\"s2\",\"district\":\"west\",\"readings\":["                       \
    "{\"metric\":\"pm25\",\"time\":3000,\"value\":31.25},"                                         \
    "{\"metric\":\"o3\",\"time\":2000,\"value\":81.5}],\"aqi\":null},"                             \
    "{\"kind\":\"water\",\"site\":\"r1\",\"district\":\"\",\"readings\":["                         \
    "{\"metric\":\"nh3n\",\"time\":5000,\"value\":0.512}],\"water_class\":null}]}"
#define SITES_BEFORE SITES_S1("{\"metric\":\"pm25\",\"time\":1000,\"value\":12.5}")
#define SITES_AFTER SITES_S1("{\"metric\":\"pm25\",\"time\":4000,\"value\":13.75}")

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
    CHECK_STR(out.data, SITES_BEFORE);
    jl_buf_destroy(&out);
}

/* The ETag the answer must carry, computed here: FNV-1a 64 of the body (offset basis
 * 14695981039346656037, prime 1099511628211), as 16 hex digits in quotes. */
static void reference_etag(const char *body, char out[PB_ETAG_BYTES])
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)body; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    snprintf(out, PB_ETAG_BYTES, "\"%016llx\"", (unsigned long long)h);
}

/* One answer from the cache: body (NUL-terminated, "" on 304), etag, 304 flag. */
typedef struct answer {
    int rc, not_modified;
    char etag[PB_ETAG_BYTES];
    jl_buf body;
} answer;

static answer ask(pb_cache *cache, const char *if_none_match)
{
    answer a;
    jl_buf_init(&a.body);
    jl_error err;
    jl_error_clear(&err);
    a.rc =
        pb_cache_latest(cache, store, NULL, if_none_match, &a.body, a.etag, &a.not_modified, &err);
    jl_buf_append(&a.body, "", 1);
    return a;
}

/* The cache is rebuilt after a commit (new reading shown), not before; 304 from the cache. */
static void test_cache_commits(void)
{
    char etag_before[PB_ETAG_BYTES], etag_after[PB_ETAG_BYTES];
    reference_etag(SITES_BEFORE, etag_before);
    reference_etag(SITES_AFTER, etag_after);
    pb_cache *cache = pb_cache_create(PB_CACHE_MAX_AGE_MS);
    CHECK(cache != NULL);
    CHECK_INT(pb_cache_builds(cache), 0);
    answer a = ask(cache, NULL), b = ask(cache, NULL);
    CHECK_INT(a.rc, JL_OK);
    CHECK_STR(a.body.data, SITES_BEFORE);
    CHECK_STR(a.etag, etag_before);
    CHECK_INT(a.not_modified, 0);
    CHECK_INT(b.rc, JL_OK);
    CHECK_STR(b.body.data, SITES_BEFORE);
    CHECK_STR(b.etag, etag_before);
    CHECK_INT(pb_cache_builds(cache), 1); /* no write in between: the same answer */
    answer c = ask(cache, etag_before);
    CHECK_INT(c.not_modified, 1);
    CHECK_STR(c.body.data, "");
    CHECK_STR(c.etag, etag_before);
    CHECK_INT(pb_cache_builds(cache), 1);

    CHECK_INT(put("pm25", "station", "s1", "east", 4000, 13.75), JL_OK);
    answer d = ask(cache, etag_before); /* the client's copy is out of date now */
    CHECK_INT(d.rc, JL_OK);
    CHECK_INT(d.not_modified, 0);
    CHECK_STR(d.body.data, SITES_AFTER);
    CHECK_STR(d.etag, etag_after);
    CHECK_INT(pb_cache_builds(cache), 2);
    answer e = ask(cache, etag_after);
    CHECK_INT(e.not_modified, 1);
    CHECK_STR(e.body.data, "");
    CHECK_INT(pb_cache_builds(cache), 2);
    answer *all[] = {&a, &b, &c, &d, &e};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        jl_buf_destroy(&all[i]->body);
    pb_cache_destroy(cache);
}

/* Max age 0: every call rebuilds (the age rule), and equal data gives equal ETags. */
static void test_cache_max_age(void)
{
    char etag[PB_ETAG_BYTES];
    reference_etag(SITES_AFTER, etag);
    pb_cache *cache = pb_cache_create(0);
    answer a = ask(cache, NULL), b = ask(cache, NULL);
    CHECK_STR(a.body.data, SITES_AFTER);
    CHECK_STR(b.body.data, SITES_AFTER);
    CHECK_STR(a.etag, etag);
    CHECK_STR(b.etag, etag);
    CHECK_INT(pb_cache_builds(cache), 2);
    jl_buf_destroy(&a.body);
    jl_buf_destroy(&b.body);
    pb_cache_destroy(cache);
    answer c = ask(NULL, etag); /* no cache: built afresh, same answer */
    CHECK_INT(c.rc, JL_OK);
    CHECK_INT(c.not_modified, 1);
    CHECK_STR(c.etag, etag);
    jl_buf_destroy(&c.body);
}

/* Through the route: headers, the cached body, then 304 with the ETag it gave. */
static void test_handler(void)
{
    char etag[PB_ETAG_BYTES];
    reference_etag(SITES_AFTER, etag);
    sv_config config;
    sv_config_defaults(&config);
    sv_context context;
    memset(&context, 0, sizeof context);
    context.store = store;
    context.config = &config;
    context.public_cache = pb_cache_create(PB_CACHE_MAX_AGE_MS);
    sv_request request;
    memset(&request, 0, sizeof request);
    request.method = "GET";
    request.path = "/api/v1/public/latest";
    request.content_length = -1;
    sv_response response;
    sv_response_init(&response);
    sv_route(&context, &request, &response);
    CHECK_INT(response.status, 200);
    CHECK_STR(response.content_type, "application/json");
    CHECK_STR(response.cache_control, "public, max-age=60");
    CHECK_STR(response.etag, etag);
    jl_buf_append(&response.body, "", 1);
    CHECK_STR(response.body.data, SITES_AFTER);
    sv_response_destroy(&response);
    request.if_none_match = etag;
    sv_response_init(&response);
    sv_route(&context, &request, &response);
    CHECK_INT(response.status, 304);
    CHECK_INT(response.body.len, 0);
    CHECK_STR(response.etag, etag);
    CHECK_STR(response.cache_control, "public, max-age=60");
    sv_response_destroy(&response);
    CHECK_INT(pb_cache_builds(context.public_cache), 1);
    pb_cache_destroy(context.public_cache);
}

/* Readers on several threads while a writer commits: every answer is whole (its ETag is the hash
 * of its body) and one of the bodies the store passed through. Run under ASan (and TSan by hand:
 * make VARIANT=tsan bin/tsan/tests/test_public). */
#define READERS 4
#define READS 150
#define WRITES 20

typedef struct reader_args {
    pb_cache *cache;
    int bad;
} reader_args;

static void *reader_main(void *argument)
{
    reader_args *args = argument;
    for (int i = 0; i < READS; i++) {
        answer a = ask(args->cache, NULL);
        char etag[PB_ETAG_BYTES];
        reference_etag(a.body.data, etag);
        if (a.rc != JL_OK || strcmp(a.etag, etag) != 0 ||
            strstr(a.body.data, "\"site\":\"s1\"") == NULL)
            args->bad++;
        jl_buf_destroy(&a.body);
    }
    return NULL;
}

static void test_cache_threads(void)
{
    pb_cache *cache = pb_cache_create(PB_CACHE_MAX_AGE_MS);
    pthread_t threads[READERS];
    reader_args args[READERS];
    for (int i = 0; i < READERS; i++) {
        args[i] = (reader_args){cache, 0};
        CHECK_INT(pthread_create(&threads[i], NULL, reader_main, &args[i]), 0);
    }
    for (int w = 0; w < WRITES; w++)
        CHECK_INT(put("pm25", "station", "s1", "east", 5000 + w, 14 + w), JL_OK);
    for (int i = 0; i < READERS; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT(args[i].bad, 0);
    }
    /* Once the writes are done the next answer shows the last of them. */
    answer a = ask(cache, NULL);
    CHECK(strstr(a.body.data, "{\"metric\":\"pm25\",\"time\":5019,\"value\":33}") != NULL);
    jl_buf_destroy(&a.body);
    pb_cache_destroy(cache);
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
    RUN(test_cache_commits);
    RUN(test_cache_max_age);
    RUN(test_handler);
    RUN(test_cache_threads);
    RUN(test_etag_matches);
    RUN(test_built_in_table);
    st_store_close(store);
    remove_dir(dir);
    return CHECK_DONE();
}
