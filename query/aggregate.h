/* Internal to query/: the aggregator table. Each aggregate is one entry of function pointers over
 * a small state, fed batches of readings (parallel arrays), whole chunk summaries, or another state
 * (merge: partial aggregates of disjoint readings, as group-by uses now and shards will later).
 *
 * Lifecycle of a state: init, then any mix of add/add_summary/merge (and, for aggregates that
 * need the window's bounds, open first and close last), then final, then qa_state_destroy().
 * A state owns the value array a percentile collects; every other aggregate allocates nothing. */
#ifndef JIALING_QUERY_AGGREGATE_H
#define JIALING_QUERY_AGGREGATE_H

#include "jialing/chunk.h"
#include "jialing/query.h"

/* Values one percentile state may collect (64 M doubles, 512 MiB); more is JL_ELIMIT. */
#define QA_MAX_PERCENTILE_VALUES (64u * 1024 * 1024)

/* One aggregate's running state; which fields mean something depends on the aggregate. */
typedef struct qa_state {
    uint64_t count;      /* readings seen */
    double sum;          /* running sum (Neumaier); twa: integral of value over time (value*ms) */
    double compensation; /* low-order part lost from sum */
    double value;        /* min, max, first or last value so far; stddev: mean; spread: min */
    double value2;       /* stddev: sum of squared deviations; spread: max; twa: held value */
    int64_t time_ms;     /* time of first/last value; twa: start of the covered span */
    int64_t time2_ms;    /* twa: since when value2 holds */
    int64_t span_ms;     /* twa: covered time, set by close (and summed by merge) */
    int holding;         /* twa: value2 holds from time2_ms on */
    double param;        /* percentile: p in 0..100 */
    double *values;      /* percentile: collected values (owned), len used of cap */
    size_t len, cap;
} qa_state;

typedef struct qa_aggregator {
    const char *name;  /* column name and the word qx_parse_aggregates() accepts */
    qx_cell_type type; /* type of the final cell */
    /* Makes an empty state; param is the percentile (ignored by the others). */
    void (*init)(qa_state *state, double param);
    /* Adds count readings in time order; JL_OK, JL_ENOMEM or JL_ELIMIT (percentile). */
    int (*add)(qa_state *state, const int64_t *timestamps_ms, const double *values, size_t count);
    /* Adds a whole chunk, known by its summary only; NULL: the summary cannot serve this
     * aggregate, so the chunk must be decoded. */
    void (*add_summary)(qa_state *state, const ck_summary *summary);
    /* Folds other (built over disjoint readings, and closed) into state; JL_OK or JL_ENOMEM. */
    int (*merge)(qa_state *state, const qa_state *other);
    /* Writes the result; only called when count > 0. May reorder the state (percentile sorts). */
    void (*final)(qa_state *state, qx_cell *out);
    /* Optional (NULL for most): the window covers [start_ms, ...); when has_carry, the reading
     * before the window had carry_value, which holds at start_ms. Called right after init. */
    void (*open)(qa_state *state, int64_t start_ms, int has_carry, double carry_value);
    /* Optional: the window's covered time ends at end_ms. Called once, before merge/final. */
    void (*close)(qa_state *state, int64_t end_ms);
    /* 1: add_summary reads only count, min, max and sum, so it also takes the summary of one
     * period of a chunk's segment table (whose times are the period's, not readings'). */
    int takes_segments;
} qa_aggregator;

/* Returns the entry for agg, or NULL when agg is outside the enum. */
const qa_aggregator *qa_lookup(qx_aggregate agg);

/* Frees what a state owns (the percentile's values); the state may be reused after init. */
void qa_state_destroy(qa_state *state);

#endif
