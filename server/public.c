/* GET /api/v1/public/latest: the public page's one fetch. For each public metric the latest value
 * of every series (qx_latest, answered from the in-memory latest values) is collected with its
 * site, then sorted by site and written as one JSON document; its hash is the ETag, so a reader
 * that polls gets a 304 until a new reading arrives. */
#include "jialing/public.h"

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
    for (unsigned m = 0; m < PB_METRIC_COUNT && rc == JL_OK; m++) {
        qp_selector selector;
        rc = qp_parse_selector(public_metrics[m], &selector, err);
        c.metric = m;
        c.have_site = 0;
        if (rc == JL_OK)
            rc = qx_latest(store, &selector, limits, &sink, err);
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
    int rc = pb_latest_json(context->store, &context->config->limits, &response->body, &err);
    if (rc != JL_OK) {
        sv_respond_failure(response, rc, &err);
        return;
    }
    snprintf(response->etag, sizeof response->etag, "\"%016llx\"",
             (unsigned long long)fnv1a64(response->body.data, response->body.len));
    response->cache_control = "public, max-age=60";
    sv_respond_ok(response, "application/json");
    if (as_etag_matches(request->if_none_match, response->etag)) {
        response->status = JL_STATUS_NOT_MODIFIED;
        response->body.len = 0;
    }
}
