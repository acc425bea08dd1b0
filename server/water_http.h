/* HTTP handlers of the sites and water-quality endpoints, called from the route table in
 * server/routes.c:
 * - GET /api/v1/sites: the loaded sites file as JSON (si_write_json), {"sites":[]} without one.
 * - GET /api/v1/water_quality: GB 3838-2002 classes per site and window (jialing/water.h), in the
 *   usual result shape (JSON, CSV, msgpack); JSON adds a top-level "meta" object beside "series"
 *   (wq_meta_json). Parameters: exactly one of site=<id>, sites=<district>|all (the water sites of
 *   the sites file) or select={tag="v",...} (with kind=river|lake|reservoir|drinking [river] and
 *   target=I..V, no sites file needed); from and to (required); window=1d|1mo|1y [1d];
 *   tz [Asia/Shanghai]; params=a,b,... [nh3n,cod,codmn,tp,tn,do,ph,bod5]; min_readings,
 *   min_days, min_months (validity, jialing/water.h defaults); format. Any other parameter, or
 *   one given twice, is a 400 naming it.
 * Both never fail: errors become a status and a JSON {"error": ...} body. */
#ifndef JIALING_SERVER_WATER_HTTP_H
#define JIALING_SERVER_WATER_HTTP_H

#include "jialing/server.h"

void sv_sites_list(sv_context *context, const sv_request *request, sv_response *response);

void sv_water_quality(sv_context *context, const sv_request *request, sv_response *response);

/* GET /api/v1/assessment: the monthly section assessment (wq_assess) of the river sections with
 * an agreement: site=<id> or sites=<district>|all [all]; from and to (required); tz
 * [Asia/Shanghai]; min_readings, min_days; format=json|csv (or Accept: text/csv). */
void sv_assessment(sv_context *context, const sv_request *request, sv_response *response);

#endif
