/* The public page's data: GET /api/v1/public/latest, the latest reading of every public metric
 * (air: pm25 pm10 o3 no2 so2 co; water: nh3n cod codmn do tp tn ph) at every site, one fetch for
 * the whole page. A site is a value of the `station` tag (an air station) or of the `section` tag
 * (a river section), with its `district` when the series have one. Computed from the in-memory
 * latest values (no chunk is read), cacheable by clients and proxies for a minute, and built once
 * for all readers (pb_cache) until it is a minute old or a write commits.
 *
 * Answer shape (sites ordered air first, then by district and site; readings in the metric order
 * above):
 *   {"sites":[{"kind":"air","site":"jlp-01","district":"jiulongpo",
 *     "readings":[{"metric":"pm25","time":<ms>,"value":38.5},...],"aqi":null},...]}
 * `aqi` (air) and `water_class` (water) are null until the environmental-quality module computes
 * them; the page already has their place. */
#ifndef JIALING_PUBLIC_H
#define JIALING_PUBLIC_H

#include "jialing/server.h"

/* Appends the answer body for the store to out. The body depends on the readings alone (no clock),
 * so equal bodies mean equal data and its hash is a strong ETag. Returns JL_OK, or a query error
 * (JL_ELIMIT when a metric has more series than limits allow, JL_ENOMEM, a store error) with err
 * filled; out then holds a partial answer the caller must drop. */
int pb_latest_json(st_store *store, const qx_limits *limits, jl_buf *out, jl_error *err);

/* The answer shared by every HTTP worker: body and ETag, rebuilt only when it is max_age old or
 * the store has committed since it was built (st_store_commit_count), so many readers polling the
 * page cost one build a minute (or per new reading), not one each. Thread-safe. */
typedef struct pb_cache pb_cache;

/* The cache's max age in production: the answer's Cache-Control max-age. */
#define PB_CACHE_MAX_AGE_MS 60000

/* ETag bytes, quotes and NUL included (fits sv_response.etag). */
#define PB_ETAG_BYTES 19

/* Returns an empty cache whose answers are rebuilt once max_age_ms old (0: on every call), or NULL
 * when out of memory. Free with pb_cache_destroy(). */
pb_cache *pb_cache_create(int64_t max_age_ms);

/* Frees the cache and its answer; no call may be in flight. NULL is ignored. */
void pb_cache_destroy(pb_cache *cache);

/* Answers from the cache, rebuilding when stale. One caller rebuilds at a time; the others serve
 * the previous answer meanwhile (stale by at most that one build), and wait only when there is
 * none yet. Fills etag (PB_ETAG_BYTES) and sets *not_modified when if_none_match (NULL: absent)
 * holds it; otherwise appends the body to body. cache NULL builds the answer afresh. Returns JL_OK,
 * or pb_latest_json()'s error with err filled (a failed build drops the cached answer, so the next
 * caller tries again); body may then hold a partial answer the caller must drop. */
int pb_cache_latest(pb_cache *cache, st_store *store, const qx_limits *limits,
                    const char *if_none_match, jl_buf *body, char *etag, int *not_modified,
                    jl_error *err);

/* Returns how many times the cache has built its answer (successful or not), for tests. */
uint64_t pb_cache_builds(pb_cache *cache);

/* Answers GET /api/v1/public/latest from context->public_cache: 200 JSON with `Cache-Control:
 * public, max-age=60` and an ETag that is a hash of the body, or 304 when If-None-Match holds
 * it; an error status and JSON error otherwise. Takes no parameters (400 naming any). */
void pb_handle_latest(sv_context *context, const sv_request *request, sv_response *response);

#endif
