/* HTTP handler of GET /api/v1/stations, called from the route table in server/routes.c: station
 * health (jialing/health.h) in the usual result shape (JSON, CSV, msgpack), one series per station
 * (metric station_health) or per district (district_health).
 * Parameters: from and to [to: now + 1 ms, from: to - 1 day, as /api/v1/query; a later to is cut
 * to now + 1 ms]; by=<tag> [station]:
 * the tag whose values are stations, or by=district: the stations (named by station_tag=<tag>
 * [station], which is allowed with by=district only) aggregated per district; series=<selector>
 * (optional: only that metric and its tag conditions; default every metric); offline_after=0 or a
 * duration [the server's --offline-after]; format. Any other parameter, one given twice, or a bad
 * value is a 400 naming it. Never fails: errors become a status and a JSON {"error": ...} body. */
#ifndef JIALING_SERVER_STATIONS_HTTP_H
#define JIALING_SERVER_STATIONS_HTTP_H

#include "jialing/server.h"

void sv_stations(sv_context *context, const sv_request *request, sv_response *response);

#endif
