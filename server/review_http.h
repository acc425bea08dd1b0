/* HTTP handlers of the review marks (数据审核), called from the route table in server/routes.c:
 * POST /api/v1/review makes a mark, GET /api/v1/review lists them, GET and DELETE
 * /api/v1/review/<id> show and withdraw one. The body is parsed by rq_review_parse
 * (query/review_request.c), the mark made by qx_review_add (query/review.c) and stored by
 * storage/review.c; the answers are JSON (shape in server/review_http.c). Who may call which is
 * the route table's business (role review for POST and DELETE). */
#ifndef JIALING_SERVER_REVIEW_HTTP_H
#define JIALING_SERVER_REVIEW_HTTP_H

#include "jialing/server.h"

/* The path every review route starts with; /api/v1/review/<id> continues with '/' and the id. */
#define SV_REVIEW_PATH "/api/v1/review"

/* Answers a request routed to one of the review routes (method POST, GET, HEAD or DELETE; path
 * SV_REVIEW_PATH or SV_REVIEW_PATH/<id>). Never fails: errors become a status and a JSON
 * {"error": "..."} body. */
void sv_review_handle(sv_context *context, const sv_request *request, sv_response *response);

#endif
