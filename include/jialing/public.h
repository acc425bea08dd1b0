/* The public page's data: GET /api/v1/public/latest, the latest reading of every public metric
 * (air: pm25 pm10 o3 no2 so2 co; water: nh3n cod codmn do tp tn ph) at every site, one fetch for
 * the whole page. A site is a value of the `station` tag (an air station) or of the `section` tag
 * (a river section), with its `district` when the series have one. Computed from the in-memory
 * latest values (no chunk is read), cacheable by clients and proxies for a minute.
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

/* Answers GET /api/v1/public/latest: 200 JSON with `Cache-Control: public, max-age=60` and an
 * ETag that is a hash of the body, or 304 when If-None-Match holds
 * it; an error status and JSON error otherwise. Takes no parameters (400 naming any). */
void pb_handle_latest(sv_context *context, const sv_request *request, sv_response *response);

#endif
