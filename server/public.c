/* GET /api/v1/public/latest: the public page's one fetch. For each public metric the latest value
 * of every series (qx_latest, answered from the in-memory latest values) is collected with its
 * site, then sorted by site and written as one JSON document; its hash is the ETag, so a reader
 * that polls gets a 304 until a new reading arrives. The document and its ETag are kept in a
 * cache every worker shares (pb_cache) and rebuilt once a minute or after a commit. */
#include "jialing/public.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/assets.h"
#include "jialing/format.h"

/* Shown in this order on the page; the first PB_AIR_METRICS belong to air stations. */
static const char *const public_metrics[] = {"pm25", "pm10",  "o3", "no2", "so2", "co", "nh3n",
                                             "cod",  "codmn", "do", "tp",  "tn",  "ph"};
#define PB_METRIC_COUNT (sizeof public_metrics / sizeof public_metrics[0])

/* One latest reading with the site it belongs to; texts are offsets into the collector's arena
 * because the sink's tags are borrowed only for the call. */
typedef struct pb_entry {
    int water;            /* 0: station (air), 1: section (water) */
    size_t site_at;       /* arena offset of the site name (NUL-terminated) */
    size_t district_at;   /* arena offset of the district ("" when untagged) */
    const char *site;     /* site_at resolved once the arena stops growing (for sorting) */
    const char *district; /* district_at resolved likewise */
    unsigned metric;      /* index into public_metrics */
    int64_t time_ms;      /* time of the latest reading */
    double value;         /* its value */
} pb_entry;

typedef struct pb_collector {
    jl_buf arena;      /* site and district names */
    pb_entry *entries; /* owned */
    size_t count, capacity;
    unsigned metric;  /* metric being collected */
    int have_site;    /* the current series has a station or section tag */
    pb_entry pending; /* site of the current series */
} pb_collector;

static int arena_add(jl_buf *arena, const char *text, size_t len, size_t *at)
{
    *at = arena->len;
    int rc = jl_buf_append(arena, text, len);
    if (rc == JL_OK)
        rc = jl_buf_append(arena, "", 1);
    return rc;
}

static int collect_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                         const char *const *columns, size_t column_count)
{
    (void)metric;
    (void)columns;
    (void)column_count;
    pb_collector *c = context;
    const sk_tag *site = NULL, *district = NULL;
    int water = 0;
    for (size_t i = 0; i < tag_count; i++) {
        const sk_text *k = &tags[i].key;
        if (k->len == 7 && memcmp(k->data, "station", 7) == 0 && site == NULL) {
            site = &tags[i];
            water = 0;
        } else if (k->len == 7 && memcmp(k->data, "section", 7) == 0 && site == NULL) {
            site = &tags[i];
            water = 1;
        } else if (k->len == 8 && memcmp(k->data, "district", 8) == 0) {
            district = &tags[i];
        }
    }
    c->have_site = site != NULL;
    if (site == NULL)
        return JL_OK; /* not a site's series: not for the public page */
    c->pending.water = water;
    c->pending.metric = c->metric;
    int rc = arena_add(&c->arena, site->value.data, site->value.len, &c->pending.site_at);
    if (rc == JL_OK)
        rc = district ? arena_add(&c->arena, district->value.data, district->value.len,
                                  &c->pending.district_at)
                      : arena_add(&c->arena, "", 0, &c->pending.district_at);
    return rc;
}

static int collect_row(void *context, const qx_cell *cells, size_t cell_count)
{
    pb_collector *c = context;
    if (!c->have_site || cell_count != 2)
        return JL_OK;
    pb_entry *grown = jl_array_grow(c->entries, &c->capacity, c->count + 1, sizeof *c->entries, 64);
    if (grown == NULL)
        return JL_ENOMEM;
    c->entries = grown;
    pb_entry *e = &c->entries[c->count++];
    *e = c->pending;
    e->time_ms = cells[0].as.i;
    e->value = cells[1].as.d;
    return JL_OK;
}

static int collect_end(void *context)
{
    (void)context;
    return JL_OK;
}

static int entry_compare(const void *a, const void *b)
{
    const pb_entry *x = a, *y = b;
    if (x->water != y->water)
        return x->water - y->water;
    int d = strcmp(x->district, y->district);
    if (d == 0)
        d = strcmp(x->site, y->site);
    if (d == 0)
        d = (int)x->metric - (int)y->metric;
    return d;
}

static int same_site(const pb_entry *x, const pb_entry *y)
{
    return x->water == y->water && strcmp(x->site, y->site) == 0 &&
           strcmp(x->district, y->district) == 0;
}

static int write_sites(const pb_collector *c, jl_buf *out)
{
    int rc = jl_buf_append_str(out, "{\"sites\":[");
    for (size_t i = 0; i < c->count && rc == JL_OK;) {
        const pb_entry *first = &c->entries[i];
        rc = jl_buf_printf(out, "%s{\"kind\":\"%s\",\"site\":", i ? "," : "",
                           first->water ? "water" : "air");
        const char *site = first->site, *district = first->district;
        if (rc == JL_OK)
            rc = fm_json_string(out, site, strlen(site));
        if (rc == JL_OK)
            rc = jl_buf_append_str(out, ",\"district\":");
        if (rc == JL_OK)
            rc = fm_json_string(out, district, strlen(district));
        if (rc == JL_OK)
            rc = jl_buf_append_str(out, ",\"readings\":[");
        size_t j = i;
        for (; j < c->count && rc == JL_OK && same_site(first, &c->entries[j]); j++) {
            char number[FM_DOUBLE_MAX];
            fm_format_double(c->entries[j].value, number);
            rc = jl_buf_printf(out, "%s{\"metric\":\"%s\",\"time\":%lld,\"value\":%s}",
                               j > i ? "," : "", public_metrics[c->entries[j].metric],
                               (long long)c->entries[j].time_ms, number);
        }
        if (rc == JL_OK)
            rc = jl_buf_printf(out, "],\"%s\":null}", first->water ? "water_class" : "aqi");
        i = j;
    }
    if (rc == JL_OK)
        rc = jl_buf_append_str(out, "]}");
    return rc;
}

int pb_latest_json(st_store *store, const qx_limits *limits, jl_buf *out, jl_error *err)
{
    pb_collector c;
    memset(&c, 0, sizeof c);
    jl_buf_init(&c.arena);
    qx_sink sink = {&c, collect_begin, collect_row, collect_end};
    int rc = JL_OK;
    /* The public see valid readings only, as flags=valid gives them. */
    qx_flag_select valid = {
        .mask = limits && limits->valid_flags ? limits->valid_flags : JL_FLAG_MASK_N, .reviews = 1};
    for (unsigned m = 0; m < PB_METRIC_COUNT && rc == JL_OK; m++) {
        qp_selector selector;
        rc = qp_parse_selector(public_metrics[m], &selector, err);
        c.metric = m;
        c.have_site = 0;
        if (rc == JL_OK)
            rc = qx_latest(store, &selector, limits, &valid, &sink, err);
        qp_selector_destroy(&selector);
    }
    if (rc == JL_ENOMEM && err->message[0] == '\0')
        jl_error_set(err, rc, "out of memory collecting the latest readings");
    if (rc == JL_OK && c.count > 0) {
        for (size_t i = 0; i < c.count; i++) {
            c.entries[i].site = c.arena.data + c.entries[i].site_at;
            c.entries[i].district = c.arena.data + c.entries[i].district_at;
        }
        qsort(c.entries, c.count, sizeof *c.entries, entry_compare);
    }
    if (rc == JL_OK)
        rc = write_sites(&c, out);
    if (rc == JL_ENOMEM && err->message[0] == '\0')
        jl_error_set(err, rc, "out of memory writing the public page's answer");
    free(c.entries);
    jl_buf_destroy(&c.arena);
    return rc;
}

/* FNV-1a, 64 bits: enough to tell two answers apart; not a security boundary. */
static uint64_t fnv1a64(const char *data, size_t len)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char)data[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

/* One built answer, immutable once published: readers hold a reference while they copy it, so
 * the lock covers only taking the reference, never the copy. */
typedef struct pb_answer {
    atomic_uint refs;         /* the cache's own reference plus readers' */
    jl_buf body;              /* owned */
    char etag[PB_ETAG_BYTES]; /* hash of body, quoted */
} pb_answer;

_Static_assert(PB_ETAG_BYTES <= sizeof((sv_response *)0)->etag, "an ETag fits the response");

struct pb_cache {
    pthread_mutex_t lock;   /* guards the fields below */
    pthread_cond_t built;   /* broadcast when a build ends, for callers with no answer to serve */
    int64_t max_age_ns;     /* an answer this old is rebuilt */
    pb_answer *answer;      /* NULL before the first build and after a failed one */
    int64_t built_ns;       /* monotonic time the answer's build began */
    uint64_t built_commits; /* store commit count read before that build began */
    int building;           /* a caller is building (outside the lock) */
    uint64_t builds;        /* builds begun, for tests */
};

static void answer_release(pb_answer *answer)
{
    if (answer && atomic_fetch_sub(&answer->refs, 1) == 1) {
        jl_buf_destroy(&answer->body);
        free(answer);
    }
}

/* Builds a fresh answer with one reference (the caller's). */
static int answer_build(st_store *store, const qx_limits *limits, pb_answer **out, jl_error *err)
{
    *out = NULL;
    pb_answer *answer = malloc(sizeof *answer);
    if (answer == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory building the public page's answer");
    atomic_init(&answer->refs, 1);
    jl_buf_init(&answer->body);
    int rc = pb_latest_json(store, limits, &answer->body, err);
    if (rc != JL_OK) {
        answer_release(answer);
        return rc;
    }
    snprintf(answer->etag, sizeof answer->etag, "\"%016llx\"",
             (unsigned long long)fnv1a64(answer->body.data, answer->body.len));
    *out = answer;
    return JL_OK;
}

pb_cache *pb_cache_create(int64_t max_age_ms)
{
    pb_cache *cache = calloc(1, sizeof *cache);
    if (cache == NULL)
        return NULL;
    if (pthread_mutex_init(&cache->lock, NULL) != 0) {
        free(cache);
        return NULL;
    }
    if (pthread_cond_init(&cache->built, NULL) != 0) {
        pthread_mutex_destroy(&cache->lock);
        free(cache);
        return NULL;
    }
    cache->max_age_ns = max_age_ms * 1000000;
    return cache;
}

void pb_cache_destroy(pb_cache *cache)
{
    if (cache == NULL)
        return;
    answer_release(cache->answer);
    pthread_cond_destroy(&cache->built);
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

uint64_t pb_cache_builds(pb_cache *cache)
{
    pthread_mutex_lock(&cache->lock);
    uint64_t builds = cache->builds;
    pthread_mutex_unlock(&cache->lock);
    return builds;
}

/* Returns a referenced answer: the cached one when fresh, else one this caller builds, else
 * (another caller building) the previous one, else after waiting for that build. */
static int cache_acquire(pb_cache *cache, st_store *store, const qx_limits *limits, pb_answer **out,
                         jl_error *err)
{
    pthread_mutex_lock(&cache->lock);
    for (;;) {
        /* Read before building: the counter grows only after a commit is visible, so the build
         * reflects at least this many commits and a later one makes the answer stale. */
        uint64_t commits = st_store_commit_count(store);
        int64_t now_ns = jl_monotonic_ns();
        pb_answer *answer = cache->answer;
        if (answer && cache->built_commits == commits &&
            now_ns - cache->built_ns < cache->max_age_ns) {
            atomic_fetch_add(&answer->refs, 1);
            pthread_mutex_unlock(&cache->lock);
            *out = answer;
            return JL_OK;
        }
        if (!cache->building) {
            cache->building = 1;
            cache->builds++;
            pthread_mutex_unlock(&cache->lock);
            pb_answer *fresh = NULL;
            int rc = answer_build(store, limits, &fresh, err);
            pthread_mutex_lock(&cache->lock);
            answer_release(cache->answer);
            cache->answer = fresh;
            if (fresh) {
                atomic_fetch_add(&fresh->refs, 1); /* the cache's reference */
                cache->built_ns = now_ns;
                cache->built_commits = commits;
            }
            cache->building = 0;
            pthread_cond_broadcast(&cache->built);
            pthread_mutex_unlock(&cache->lock);
            *out = fresh;
            return rc;
        }
        if (answer) {
            /* Serve the previous answer rather than queue behind the build: it was current
             * moments ago, and clients may cache it for a minute anyway. */
            atomic_fetch_add(&answer->refs, 1);
            pthread_mutex_unlock(&cache->lock);
            *out = answer;
            return JL_OK;
        }
        pthread_cond_wait(&cache->built, &cache->lock);
    }
}

int pb_cache_latest(pb_cache *cache, st_store *store, const qx_limits *limits,
                    const char *if_none_match, jl_buf *body, char *etag, int *not_modified,
                    jl_error *err)
{
    *not_modified = 0;
    etag[0] = '\0';
    pb_answer *answer = NULL;
    int rc = cache ? cache_acquire(cache, store, limits, &answer, err)
                   : answer_build(store, limits, &answer, err);
    if (rc != JL_OK)
        return rc;
    memcpy(etag, answer->etag, PB_ETAG_BYTES);
    if (as_etag_matches(if_none_match, answer->etag))
        *not_modified = 1;
    else
        rc = jl_buf_append(body, answer->body.data, answer->body.len);
    answer_release(answer);
    if (rc != JL_OK)
        jl_error_set(err, rc, "out of memory copying the public page's answer");
    return rc;
}

void pb_handle_latest(sv_context *context, const sv_request *request, sv_response *response)
{
    jl_error err;
    jl_error_clear(&err);
    rq_input in = sv_request_input(context, request);
    if (rq_public_latest_parse(&in, &err) != JL_OK) {
        sv_respond_failure(response, err.code, &err);
        return;
    }
    response->body.len = 0;
    int not_modified = 0;
    int rc = pb_cache_latest(context->public_cache, context->store, &context->config->limits,
                             request->if_none_match, &response->body, response->etag, &not_modified,
                             &err);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        return;
    }
    response->cache_control = "public, max-age=60";
    sv_respond_ok(response, "application/json");
    if (not_modified) {
        response->status = JL_STATUS_NOT_MODIFIED;
        response->body.len = 0;
    }
}
