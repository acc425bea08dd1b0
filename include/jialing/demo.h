/* The built-in demo data set: air stations and two sections of the Jialing river over the last
 * weeks and months, and the sites that describe them, so a newcomer's first query (and the
 * README's aqi, water_quality and assessment examples) returns data. Deterministic for a given
 * end time. */
#ifndef JIALING_DEMO_H
#define JIALING_DEMO_H

#include "jialing/common.h"
#include "jialing/store.h"

/* Writes the demo readings ending at end_ms into store: 4 air stations with pm25 pm10 so2 no2 co
 * o3 every minute for 21 days (a few hours flagged M), 2 river sections with nh3n cod codmn tp do
 * ph hourly for 124 days (an ammonia incident downstream in the Beijing calendar month before
 * end_ms). Sets *readings to the number written. Returns JL_OK or the store's error. */
int dm_load(st_store *store, int64_t end_ms, uint64_t *readings, jl_error *err);

/* The demo's sites document (the --sites JSON format of jialing/sites.h): the 4 air stations
 * and the 2 river sections with their compensation agreements. Static, NUL-terminated; never
 * NULL. */
const char *dm_sites_json(void);

#endif
