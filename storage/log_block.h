/* The bytes of a write-log block (storage-internal): one write request's readings, grouped by
 * series, as the store keeps them in LMDB until they are sealed into chunks. Encodes format 4,
 * decodes formats 1 to 4; the layouts, their validation order and the reasons for formats 2 to
 * 4 are in storage/disk_format.h, section 3 (included here for WL_HEADER_BYTES and the
 * rest).
 *
 * A block is written in two steps so that the expensive part runs on the thread that parsed
 * the request: wl_encode() there, with the series ids left zero because only the writer knows
 * them, then wl_finish() on the writer thread. Functions keep no pointer to their arguments
 * and have no global state. */
#ifndef JIALING_STORAGE_LOG_BLOCK_H
#define JIALING_STORAGE_LOG_BLOCK_H

#include "jialing/store.h"

#include "disk_format.h"

/* A decoded block: one entry per reading, grouped by series, each group in request order. The
 * arrays are malloc'ed by wl_decode() and owned by the struct; zero it before the first use and
 * free them with wl_readings_destroy(). */
typedef struct wl_readings {
    uint64_t *ids;   /* series id of each reading */
    int64_t *ms;     /* timestamp of each reading */
    double *values;  /* value of each reading */
    uint8_t *flags;  /* data flag code (JL_FLAG_*) of each reading; JL_FLAG_N from formats 1, 2 */
    size_t count;    /* readings decoded */
    size_t capacity; /* allocated entries of each array */
} wl_readings;

/* Encodes the batch (1..ST_MAX_BATCH_POINTS readings, as st_write() accepts them, each flag
 * < JL_FLAG_COUNT) as a format-4 block into out, replacing its contents, without its id table,
 * which wl_finish() adds in the room kept for it. Returns JL_OK; JL_ENOMEM (out->len is then 0);
 * JL_EINVAL if LZ4 fails, which it does not on batches within ST_MAX_BATCH_POINTS. */
int wl_encode(const st_batch *batch, jl_buf *out, jl_error *err);

/* As wl_encode(), but writes format 2 (no flags), 3 or 4. The store writes format 4 only; the
 * older writers are kept so that the golden files of formats 2 and 3 can still be rebuilt byte
 * for byte from their readings (tests/unit/test_golden.c), proving that each format's reader and
 * writer agree. JL_EINVAL for another format. */
int wl_encode_format(const st_batch *batch, int format, jl_buf *out, jl_error *err);

/* Writes the id table of a block encoded by wl_encode() or wl_encode_format() (ids indexed like
 * the batch's series) and its checksum, in place: in format 4 out->len changes with the table's
 * bytes, within the capacity the encoder reserved. May be called again on the same block (a
 * retried commit), which replaces the table. Cannot fail; the block must come from the encoder,
 * changed by wl_finish() only. */
void wl_finish(jl_buf *out, const uint64_t *ids);

/* Validates and decodes the block at bytes[0..len), of format 1, 2 or 3, into out (its arrays are
 * reused and grown across calls; out->count is 0 on error). Returns JL_OK; JL_ECORRUPT with a
 * message when a check of disk_format.h fails; JL_ENOMEM. */
int wl_decode(const void *bytes, size_t len, wl_readings *out, jl_error *err);

/* Frees the arrays of a wl_readings and zeroes it; a zeroed one is fine. */
void wl_readings_destroy(wl_readings *readings);

#endif
