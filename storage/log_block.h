/* The bytes of a write-log block (storage-internal; store.c writes and replays them).
 *
 * A block holds one write request's readings, grouped by series. Format 2 (all integers little
 * endian):
 *   off size field
 *     0   4  magic "JLG2"
 *     4   4  readings in the block (1..ST_MAX_BATCH_POINTS)
 *     8   4  series in the block (1..readings)
 *    12   4  raw payload length (before LZ4)
 *    16   4  stored payload length (the LZ4 bytes after the id table)
 *    20   4  crc32c over the id table and the stored payload
 *    24  8*S series ids, in the order of the payload's groups
 *    ..      LZ4 block of the payload
 * Payload, one group per series: varint count n; varint zigzag first timestamp; n-1 varint zigzag
 * delta-of-deltas (the first delta's is the delta itself); one byte value mode, 0..15 = decimal
 * exponent E, then varint zigzag first mantissa and n-1 varint zigzag mantissa deltas, each value
 * being exactly mantissa / 10^E; or 255 = raw, n doubles of 8 bytes. Integers wrap modulo 2^64.
 *
 * Why not the raw records of format 1 (u64 id, i64 ms, f64 value, LZ4 over all): a block stays
 * until every series in it has sealed its tail, so the log holds about one chunk period of all
 * readings; at 24 bytes a record before LZ4 it was a sixth of the data file. Grouped and delta
 * coded, the same block is about a quarter of that, and it is encoded by the thread that parsed
 * the request instead of by the single writer. Format 1 blocks are still read. */
#ifndef JIALING_STORAGE_LOG_BLOCK_H
#define JIALING_STORAGE_LOG_BLOCK_H

#include "jialing/store.h"

#define WL_HEADER_BYTES 24

/* A decoded block: one entry per reading, grouped by series, each group in request order. */
typedef struct wl_readings {
    uint64_t *ids;     /* series id of each reading */
    int64_t *ms;       /* timestamp of each reading */
    double *values;    /* value of each reading */
    size_t count;      /* readings decoded */
    size_t capacity;   /* allocated entries of each array */
} wl_readings;

/* Encodes batch as a format-2 block into out (replacing its contents), ids left zero for
 * wl_finish; JL_OK or JL_ENOMEM. */
int wl_encode(const st_batch *batch, jl_buf *out, jl_error *err);

/* Fills the id table of an encoded block (ids indexed like the batch's series) and its crc. */
void wl_finish(uint8_t *block, size_t len, const uint64_t *ids);

/* Validates and decodes a block of format 1 or 2 into out (reused across calls); JL_OK,
 * JL_ECORRUPT with a message, or JL_ENOMEM. */
int wl_decode(const void *block, size_t len, wl_readings *out, jl_error *err);

/* Frees the arrays of a wl_readings. */
void wl_readings_destroy(wl_readings *readings);

#endif
