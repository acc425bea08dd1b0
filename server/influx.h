/* The InfluxDB 1.x query API over HTTP: GET /ping and GET/POST /query (InfluxQL, parsed and
 * planned by query/influxql.c and answered by the one query engine), with the InfluxDB JSON
 * writer. Called from the route table in server/routes.c. */
#ifndef JIALING_SERVER_INFLUX_H
#define JIALING_SERVER_INFLUX_H

#include "jialing/server.h"

/* Answers /ping (204; ?verbose=true: 200 {"version": ...}) and /query: params q (or a form body
 * q=... with POST), db (any name: one store), epoch (ns u µ ms s m h; without it RFC 3339
 * strings), and u p rp params chunked pretty accepted and ignored. Never fails: a request-level
 * problem is a 400 {"error": ...}; a statement's problem is its {"statement_id":i,"error":...}. */
void sv_influx_handle(sv_context *context, const sv_request *request, sv_response *response);

#endif
