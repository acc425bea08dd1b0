/* Review marks (数据审核): a reviewer declares the readings of some series over a span of time
 * invalid ("valid": 0) or valid whatever their device flags say ("valid": 1), with a reason. Marks
 * are kept apart from the readings, which they never change, so withdrawing a mark restores every
 * answer exactly; a mark also covers readings that arrive in its span later. Queries see the marks
 * in force through st_snapshot_review_spans() (store.h): where marks overlap, the newest mark not
 * withdrawn wins.
 *
 * Marks live in the store's LMDB environment (database "review", disk_format.h section 4) and go
 * through the writer thread like st_write(): each call returns after its own durable commit (the
 * same group commit as readings), and a snapshot sees a mark from the first commit it is in.
 *
 * Errors: JL_OK (0) or a negative JL_* code (common.h), err filled as in store.h. */
#ifndef JIALING_REVIEW_H
#define JIALING_REVIEW_H

#include "jialing/store.h"

/* Limits on a mark's texts and series, checked by st_review_add(). */
#define ST_REVIEW_MAX_TEXT_BYTES 1024u  /* selector, reason, made_by, withdrawn_by each */
#define ST_REVIEW_MAX_SERIES (1u << 20) /* series one mark may name */

/* One review mark as stored. Pointers are owned by whoever filled the struct (see each function).
 */
typedef struct st_review_mark {
    uint64_t id;                /* 1, 2, ... in the order made; set by st_review_add() */
    int64_t made_ms;            /* when it was made (wall clock, ms since the epoch) */
    const char *made_by;        /* name of the token that made it ("" without tokens) */
    const char *selector;       /* the selector text as the reviewer gave it */
    const char *reason;         /* the reviewer's reason, UTF-8 */
    int64_t from_ms;            /* first instant covered */
    int64_t to_ms;              /* end, exclusive; from_ms < to_ms */
    int valid;                  /* 1: valid whatever the device flag; 0: invalid */
    uint64_t readings_affected; /* readings of those series in [from_ms, to_ms) when made */
    const uint64_t *series_ids; /* the series the selector matched when made, ascending */
    size_t series_count;        /* entries in series_ids, >= 1 */
    int withdrawn;              /* 1 once withdrawn: it no longer decides anything */
    int64_t withdrawn_ms;       /* when withdrawn (0 while in force) */
    const char *withdrawn_by;   /* token name of the withdrawal (NULL while in force) */
} st_review_mark;

/* Stores a new mark durably and puts it in force for every snapshot opened after the call
 * returns. Reads mark's fields except id, withdrawn, withdrawn_ms and withdrawn_by; copies what
 * it keeps (the caller's memory may go at once). Sets *id to the new mark's id. Returns JL_OK,
 * JL_EINVAL (from_ms >= to_ms, no series, series ids not ascending or unknown, a text longer than
 * ST_REVIEW_MAX_TEXT_BYTES or not NUL-terminated), JL_ETOOLARGE (more than ST_REVIEW_MAX_SERIES),
 * JL_EBUSY (read-only store, or shutting down), JL_EDISKFULL, JL_ENOMEM, JL_EIO or JL_ESTORE; on
 * error nothing is stored (and *id is untouched). A NULL made_by, selector or reason is stored
 * as ""; any non-zero valid as 1. Ids are never reused, a withdrawn mark's included. */
int st_review_add(st_store *store, const st_review_mark *mark, uint64_t *id, jl_error *err);

/* Withdraws mark `id` durably: the device flags decide again over its span from every snapshot
 * opened after the call returns; the entry stays in the history with when_ms and by (copied).
 * Returns JL_OK, JL_ENOTFOUND (no such mark), JL_ECONFLICT (already withdrawn; nothing changes),
 * JL_EINVAL (by too long), JL_EBUSY, JL_EDISKFULL, JL_ENOMEM, JL_EIO or JL_ESTORE. A NULL by
 * is stored as "" (listed as "", not NULL, once withdrawn). */
int st_review_withdraw(st_store *store, uint64_t id, int64_t when_ms, const char *by,
                       jl_error *err);

/* Which entries st_review_list_marks() returns; zero fields do not filter. */
typedef struct st_review_filter {
    uint64_t id;                /* only this mark (0: any) */
    const uint64_t *series_ids; /* only marks naming at least one of these (ascending) ... */
    size_t series_count;        /* ... when series_count > 0 */
    int64_t from_ms;            /* only marks whose span overlaps [from_ms, to_ms) ... */
    int64_t to_ms;              /* ... when from_ms < to_ms */
} st_review_filter;

typedef struct st_review_list st_review_list;

/* Lists the entries (withdrawn ones too) that pass filter (NULL: all), newest first, as of the
 * last commit. Sets *out to a list the caller frees with st_review_list_free(); NULL on error.
 * JL_OK (an empty list too), JL_EBUSY (no reader slot), JL_ECORRUPT (a stored entry failed
 * validation), JL_ENOMEM or JL_ESTORE. */
int st_review_list_marks(st_store *store, const st_review_filter *filter, st_review_list **out,
                         jl_error *err);

/* Entries in the list. */
size_t st_review_list_count(const st_review_list *list);

/* Entry i (< count), newest first; it and every pointer in it are owned by the list and valid
 * until st_review_list_free(). */
const st_review_mark *st_review_list_get(const st_review_list *list, size_t i);

/* Frees the list; NULL is ignored. */
void st_review_list_free(st_review_list *list);

#endif
