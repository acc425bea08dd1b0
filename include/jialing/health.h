/* Station health (GET /api/v1/stations): per station, its last reading, whether it is online, and
 * over [from, to) its online rate, data capture rate and valid-data rate; or the same aggregated
 * per district. The "device online rate" an environmental bureau reports.
 *
 * Definitions (README.md "Station health" says why):
 * - A station is a value of the station tag (request.station_tag, "station"); its series are all
 *   series carrying that tag value, of every metric or of the metric and tag conditions of
 *   request.series.
 * - A series' cadence is the lower median of the gaps between its consecutive readings in
 *   [from, to) (the k gaps sorted g[0..k-1]: g[(k-1)/2]); a series with fewer than two readings
 *   there has none.
 * - A series is up at instant t when it has a reading r with r <= t < r + offline_after, where
 *   offline_after is request.offline_after_ms, or when that is 0, three times the series' cadence
 *   (a series without a cadence is then never up). A station is online at t when any of its
 *   series is up. Readings before from count (the store is read back offline_after before from).
 * - online_rate: the measure of the instants of [from, to) at which the station is online,
 *   computed exactly from the reading times (a union of intervals), over to - from.
 * - online: the station is online at instant `to` (the server's default `to` is now).
 * - last: the station's last reading before `to`.
 * - expected: per series with a cadence (to - from) / cadence, summed over the station's series;
 *   capture_rate = readings / expected, valid_rate = valid_readings / expected, both over the
 *   series with a cadence and capped at 1; null when no series has a cadence. A reading is valid
 *   as flags=valid takes it: a review mark in force decides, else its device flag's being in
 *   limits.valid_flags (N when 0).
 * - cadence_ms of a station: the shortest cadence of its series.
 * - Per district (request.aggregate): stations grouped by the value of request.group_tag that
 *   their first series carries (stations without one form a group without tags); the rates are
 *   means over the group's stations (capture and valid over those that have one), online and
 *   offline are counts of stations, readings, valid_readings and expected are sums.
 *
 * Implemented in query/health.c over qx_series() (which series exist and their last readings),
 * qx_query() with with_flags (the readings of the range and their validity) and qx_query() again
 * for the readings just before from: no engine of its own. Metrics no station has a series of are
 * not read past qx_series(); where some series of a metric carry no station tag, the later passes
 * select the stations' series by tag value (more_selectors) instead of reading those. */
#ifndef JIALING_HEALTH_H
#define JIALING_HEALTH_H

#include "jialing/common.h"
#include "jialing/params.h"
#include "jialing/query.h"
#include "jialing/store.h"

/* offline_after at most (a year of 366 days): longer says nothing a report needs, and keeps
 * reading times plus offline_after far from overflow. */
#define HL_MAX_OFFLINE_AFTER_MS (366LL * 86400000)

/* A request; every pointer borrowed for the call. */
typedef struct hl_request {
    const char *station_tag;   /* the tag whose values are stations [NULL: "station"] */
    const char *group_tag;     /* the tag of districts [NULL: "district"]; per station it is
                                  shown beside the station tag when its series carry it */
    int aggregate;             /* 1: one series per group_tag value; 0: one per station */
    const qp_selector *series; /* NULL: every metric; else only its metric and conditions */
    int64_t from_ms, to_ms;    /* [from, to) */
    int64_t offline_after_ms;  /* 0: three times each series' cadence */
    qx_limits limits;          /* max_series per metric; timeout_ms for the whole call;
                                  valid_flags; max_rows does not apply (no row is kept) */
} hl_request;

/* Lower median of the gaps between consecutive times of times[0..n) (sorted ascending, distinct),
 * as the cadence above; 0 when n < 2. Pure; allocates a copy of the gaps (0 also when that
 * fails, which callers treat as no cadence). */
int64_t hl_cadence(const int64_t *times, size_t n);

typedef struct hl_result hl_result;

/* Computes the answer. On JL_OK *out is a result the caller frees with hl_result_free(); on error
 * *out is NULL and the code is JL_EINVAL (from not before to, offline_after negative or over
 * HL_MAX_OFFLINE_AFTER_MS, an empty
 * tag name, or station_tag equal to group_tag), JL_ELIMIT (a metric with more than
 * limits.max_series series: narrow it with series=), JL_ETIMEOUT, JL_ENOMEM, or a store error. */
int hl_run(st_store *store, const hl_request *request, hl_result **out, jl_error *err);

/* Sends the result to sink, stations (or groups) in bytewise order of their tag value.
 * Per station: metric "station_health", tags the station tag (and group_tag when known), columns
 * last (INT or null), online (BOOL), online_rate (DOUBLE), capture_rate, valid_rate (DOUBLE or
 * null), cadence_ms (INT or null), readings, valid_readings (INT), expected (DOUBLE).
 * Per group: metric "district_health", tags group_tag (none for the stations without it), columns
 * last, stations, online, offline (INT), online_rate, capture_rate, valid_rate (DOUBLE or null),
 * readings, valid_readings (INT), expected (DOUBLE). One row each. Returns JL_OK or the sink's
 * code. */
int hl_emit(const hl_result *result, const qx_sink *sink);

/* Frees a result; NULL is ignored. */
void hl_result_free(hl_result *result);

#endif
