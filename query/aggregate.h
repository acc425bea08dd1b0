/* Internal to query/: the aggregator table. Each aggregate is one entry of function pointers over
 * a small fixed-size state, fed batches of readings (parallel arrays), whole chunk summaries, or
 * another state (merge, for partial aggregates from shards or group-by later). */
#ifndef JIALING_QUERY_AGGREGATE_H
#define JIALING_QUERY_AGGREGATE_H

#include "jialing/chunk.h"
#include "jialing/query.h"

/* One aggregate's running state; which fields mean something depends on the aggregate. */
typedef struct qa_state {
    uint64_t count;      /* readings seen */
    double sum;          /* running sum (Neumaier) */
    double compensation; /* low-order part lost from sum */
    double value;        /* min, max, first or last value so far */
    int64_t time_ms;     /* time of first/last value */
} qa_state;

typedef struct qa_aggregator {
    const char *name;  /* column name and the word qx_parse_aggregates() accepts */
    qx_cell_type type; /* type of the final cell */
    void (*init)(qa_state *state);
    /* Adds count readings in time order. */
    void (*add)(qa_state *state, const int64_t *timestamps_ms, const double *values, size_t count);
    /* Adds a whole chunk, known by its summary only. */
    void (*add_summary)(qa_state *state, const ck_summary *summary);
    /* Folds other (built over disjoint readings) into state. */
    void (*merge)(qa_state *state, const qa_state *other);
    /* Writes the result; only called when count > 0. */
    void (*final)(const qa_state *state, qx_cell *out);
} qa_aggregator;

/* Returns the entry for agg, or NULL when agg is outside the enum. */
const qa_aggregator *qa_lookup(qx_aggregate agg);

#endif
