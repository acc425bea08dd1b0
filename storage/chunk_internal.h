/* What the chunk files share with one another and with nobody else (storage-internal): the
 * header check of storage/chunk_decode.c, which storage/chunk_segments.c reuses, and the
 * segment-table writer and period arithmetic of storage/chunk_segments.c, which the encoder and
 * the header check use. The layout struct says where table, flag runs and payload lie. The
 * public face of the codec is jialing/chunk.h. */
#ifndef JIALING_STORAGE_CHUNK_INTERNAL_H
#define JIALING_STORAGE_CHUNK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "jialing/chunk.h"

/* Where the parts between header and payload lie, as offsets from the chunk's start. */
typedef struct ck_layout {
    size_t table_off, table_len; /* segment table; table_len 0 without one */
    size_t runs_off, runs_len;   /* flag-run section; runs_len 0 without one (all N) */
    size_t payload_off;          /* the stored payload */
} ck_layout;

/* Checks the header of the chunk at p[0..len) in the order of storage/disk_format.h, up to and
 * including the segment table's period and span and the flag runs (not the table's contents,
 * not the payload). On success fills *summary (flag_mask included) and, each when not NULL, the
 * timestamp scale, the raw payload length, the flags and the layout, and returns JL_OK; else
 * JL_ECORRUPT with a message naming the first check that failed. Reads only p[0..len). */
int ck_header_read(const uint8_t *p, size_t len, ck_summary *summary, uint64_t *scale,
                   uint32_t *raw_len, uint8_t *flags, ck_layout *layout, jl_error *err);

/* Periods of `period` ms (>= 1, aligned to the epoch) from the one holding first_ms to the one
 * holding last_ms, both included; 0 when a bound of those periods does not fit in int64. */
uint64_t ck_period_span(int64_t first_ms, int64_t last_ms, int64_t period);

/* Most bytes the segment table of `span` periods can take. */
size_t ck_segment_table_bound(uint64_t span);

/* Writes the segment table of count readings (mantissas: their decimal mantissas, or NULL for
 * the float codec), which span `span` periods (2..CK_MAX_SEGMENTS), to out, which holds
 * ck_segment_table_bound(span) bytes; returns its length, or 0 when a decimal sum is out of the
 * format's range and the chunk gets no table. Cannot fail otherwise. */
size_t ck_segments_encode(const int64_t *timestamps_ms, const double *values,
                          const int64_t *mantissas, size_t count, int64_t period, uint64_t span,
                          uint8_t *out);

#endif
