/* HTTP handlers of the discovery endpoints (GET /api/v1/metrics, GET /api/v1/tags, and
 * GET /api/v1/series without a selector), called from the route table in server/routes.c. They
 * turn the request into a call of include/jialing/discovery.h and write the usual result shape
 * in JSON, CSV or msgpack. */
#ifndef JIALING_SERVER_DISCOVERY_HTTP_H
#define JIALING_SERVER_DISCOVERY_HTTP_H

#include "jialing/server.h"

/* GET /api/v1/metrics[?limit=N][&format=...]: one result series per metric name, tags {},
 * columns ["series"], one row [series count]. Never fails: errors become a status and JSON body. */
void sv_discovery_metrics(sv_context *context, const sv_request *request, sv_response *response);

/* GET /api/v1/tags[?metric=m][&key=k][&limit=N][&format=...]: one result series (metric m or
 * "") with columns ["key","series"], or with key= ["value","series"]. Never fails, as above. */
void sv_discovery_tags(sv_context *context, const sv_request *request, sv_response *response);

/* GET /api/v1/series without series=: every series of the catalog (ascending id) up to the
 * limit, each as /api/v1/series answers it (columns first, last, count; series without readings
 * left out). Never fails, as above. */
void sv_discovery_all_series(sv_context *context, const sv_request *request, sv_response *response);

#endif
