/* Discovery: which metrics, tag keys and tag values exist, each with the number of series that
 * have it, answered from the tag postings and the in-memory series catalog only (never a chunk),
 * so the cost grows with the number of names or series listed, not with readings.
 *
 * Without a metric, metric names, tag keys and the values of one key come from the postings: one
 * LMDB read transaction walking the `__name__=...` or `key=...` entries and counting the ids of
 * each (a posting whose value was too long for an LMDB key holds a hash; its ids are resolved
 * through the catalog). With a metric, the metric's series are selected and their catalog keys
 * parsed, so the cost is that metric's series count.
 *
 * Caveats: a listing is a consistent view of the postings, but series created while it runs may
 * or may not be counted. Lists are sorted bytewise by name; `limit` cuts them after sorting and
 * says so in `truncated`, so a caller can refuse or label a cut answer. */
#ifndef JIALING_DISCOVERY_H
#define JIALING_DISCOVERY_H

#include "jialing/common.h"
#include "jialing/store.h"

/* One listed name and how many series have it. */
typedef struct st_name_count {
    char *name;      /* NUL-terminated, owned by the list */
    uint64_t series; /* series that have this metric name, tag key or tag value */
} st_name_count;

/* The result of a discovery call; zero it (or let the call do so) and st_name_list_destroy(). */
typedef struct st_name_list {
    st_name_count *items; /* count entries, sorted by name (bytewise), owned */
    size_t count;         /* entries in items */
    size_t capacity;      /* allocated entries */
    int truncated;        /* 1 when more names existed than the limit let through */
} st_name_list;

/* Frees every name and the array; the list is left empty. Safe on a zeroed list, twice too. */
void st_name_list_destroy(st_name_list *list);

/* Lists the metric names with their series counts, at most limit entries (0: no cap). *out is
 * zeroed first and owned by the caller (st_name_list_destroy(), also after an error). Returns
 * JL_OK, JL_ENOMEM, JL_EBUSY (no LMDB reader slot) or a store error. */
int st_discover_metrics(st_store *store, size_t limit, st_name_list *out, jl_error *err);

/* Lists the tag keys (the metric name aside) with the number of series having each, over every
 * series, or over the series of `metric` when it is not NULL (a metric without series gives an
 * empty list). limit, ownership and errors as st_discover_metrics(). */
int st_discover_tag_keys(st_store *store, const char *metric, size_t limit, st_name_list *out,
                         jl_error *err);

/* Lists the values of tag `key` with the number of series having each, over every series or
 * those of `metric` (NULL: all). A key nobody has gives an empty list. limit, ownership and
 * errors as st_discover_metrics(). */
int st_discover_tag_values(st_store *store, const char *key, const char *metric, size_t limit,
                           st_name_list *out, jl_error *err);

/* Returns in *ids (malloc'ed, the caller frees it) the ids of the first series of the catalog,
 * in ascending order, at most limit of them (0: all), and sets *truncated when there were more.
 * For st_snapshot_open(). JL_OK or JL_ENOMEM. */
int st_discover_series_ids(st_store *store, size_t limit, uint64_t **ids, size_t *count,
                           int *truncated, jl_error *err);

#endif
