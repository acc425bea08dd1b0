/* Chunk codec: turns a run of readings of one series (strictly increasing timestamps, finite
 * doubles) into one self-validating byte string, and back. The on-disk layout (magic, version,
 * codec ids, header fields, checksums) is owned by storage/chunk_format.h; this header is the
 * codec's public face.
 *
 * Layout of an encoded chunk: a fixed little-endian header holding the summary below, a header
 * checksum, and a payload (timestamps delta-of-delta, values as decimal mantissas or raw doubles,
 * bit-packed, then LZ4 when that shrinks it) with its own checksum. ck_read_summary() validates
 * only the header, so queries can use a summary without touching the payload.
 *
 * Caveats: ck_decode() writes at most `capacity` readings; call ck_read_summary() first to learn
 * the count. Buffers passed in are borrowed; nothing here allocates memory the caller must free
 * except through jl_buf. */
#ifndef JIALING_CHUNK_H
#define JIALING_CHUNK_H

#include "jialing/common.h"

/* Readings per chunk at most; a decoder refuses larger counts before allocating. */
#define CK_MAX_READINGS 65536u

/* Bytes of every chunk before its payload (the header of storage/chunk_format.h). */
#define CK_HEADER_BYTES 100u

/* Periods a chunk's segment table covers at most; a chunk spanning more gets no table. */
#define CK_MAX_SEGMENTS 1024u

/* What a chunk header tells without decoding the payload. */
typedef struct ck_summary {
    uint32_t count;          /* readings in the chunk, >= 1 */
    int64_t first_ms;        /* timestamp of the first reading */
    int64_t last_ms;         /* timestamp of the last reading */
    double min;              /* smallest value */
    double max;              /* largest value */
    double sum;              /* sum of values (compensated summation, in timestamp order) */
    double sum_squares_dev;  /* sum of squared deviations from the chunk mean (for stddev) */
    double first_value;      /* value at first_ms */
    double last_value;       /* value at last_ms */
    uint8_t codec;           /* value codec id (CK_CODEC_*) */
    int8_t decimal_exponent; /* values = mantissa / 10^exponent when codec is decimal */
    uint32_t payload_bytes;  /* stored payload size */
    /* Segment table (ck_read_segments): 0 when the chunk has none, else the periods it spans
     * (empty ones included) and their length. */
    uint32_t segment_count;
    int64_t segment_period_ms;
} ck_summary;

/* What a chunk's segment table says of the readings in one period [start_ms, start_ms +
 * period): enough for count, sum, mean, min and max without decoding. Periods are aligned to
 * the Unix epoch. */
typedef struct ck_segment {
    int64_t start_ms; /* start of the period */
    uint32_t count;   /* readings in it, >= 1 */
    double min, max;  /* smallest and largest value */
    double sum;       /* sum of values: exact for decimal chunks, then rounded once or twice */
} ck_segment;

/* Value codec ids, as stored. */
enum {
    CK_CODEC_DECIMAL = 1, /* integer mantissas with one decimal exponent, delta + zigzag */
    CK_CODEC_FLOAT = 2    /* raw IEEE-754 doubles */
};

/* Encodes count readings (1..CK_MAX_READINGS, timestamps strictly increasing, values finite)
 * and appends the chunk to out; returns JL_OK, JL_EINVAL (bad input, message says why) or
 * JL_ENOMEM. */
int ck_encode(const int64_t *timestamps_ms, const double *values, size_t count, jl_buf *out,
              jl_error *err);

/* As ck_encode(), and when the readings span 2 to CK_MAX_SEGMENTS periods of segment_period_ms
 * (> 0; aligned to the epoch) adds a table of per-period summaries (ck_read_segments). */
int ck_encode_segmented(const int64_t *timestamps_ms, const double *values, size_t count,
                        int64_t segment_period_ms, jl_buf *out, jl_error *err);

/* Reads the segment table of a chunk (validating header and table, not the payload) into
 * segments[0..capacity), in time order, one entry per period with readings; sets *count (0 when
 * the chunk has no table). Returns JL_OK, JL_ECORRUPT or JL_ELIMIT. */
int ck_read_segments(const void *data, size_t len, ck_segment *segments, size_t capacity,
                     size_t *count, jl_error *err);

/* Validates the header of the chunk at data[0..len) (size, magic, version, codec, count, lengths,
 * header checksum) and fills summary; returns JL_OK or JL_ECORRUPT. */
int ck_read_summary(const void *data, size_t len, ck_summary *summary, jl_error *err);

/* Fully validates the chunk (header, payload checksum, decompressed size) and decodes it into
 * caller-owned arrays of `capacity` entries; sets *count. Returns JL_OK, JL_ECORRUPT, or
 * JL_ELIMIT when capacity is too small. */
int ck_decode(const void *data, size_t len, int64_t *timestamps_ms, double *values, size_t capacity,
              size_t *count, jl_error *err);

/* Computes the summary of count readings exactly as ck_encode() stores it (used to merge tails
 * into query answers the same way as sealed chunks). */
void ck_summarize(const int64_t *timestamps_ms, const double *values, size_t count,
                  ck_summary *summary);

/* CRC-32C (Castagnoli) of len bytes, continuing from crc (start with 0). */
uint32_t ck_crc32c(uint32_t crc, const void *data, size_t len);

#endif
