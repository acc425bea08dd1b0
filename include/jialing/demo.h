/* The built-in demo data set: a few air stations and river sections over the last weeks, so a
 * newcomer's first query returns data. Deterministic for a given end time. */
#ifndef JIALING_DEMO_H
#define JIALING_DEMO_H

#include "jialing/common.h"
#include "jialing/store.h"

/* Writes the demo readings ending at end_ms (5-minute cadence, 21 days) into store; sets
 * *readings to the number written. Returns JL_OK or the store's error. */
int dm_load(st_store *store, int64_t end_ms, uint64_t *readings, jl_error *err);

#endif
