/* HTTP handler of GET /api/v1/aqi (HJ 633-2012 air quality index from the store), called from
 * the route table in server/routes.c. Parses the parameters, runs aq_compute() (jialing/aqi.h)
 * and writes the usual result shape, one series per station, in JSON or CSV; the JSON answer also
 * carries what it was computed from. README.md ("Air quality index") describes every field. */
#ifndef JIALING_SERVER_AQI_HTTP_H
#define JIALING_SERVER_AQI_HTTP_H

#include "jialing/server.h"

/* GET /api/v1/aqi?select={tag="v",...}[,{...}]&from&to[&window=1h|1d][&tz][&standard=auto|2012|2026]
 * [&format=json|csv]. from and to are required (an answer must not depend on the clock). Never
 * fails: errors become a status (400 naming the parameter) and a JSON body. */
void sv_aqi_handle(sv_context *context, const sv_request *request, sv_response *response);

#endif
