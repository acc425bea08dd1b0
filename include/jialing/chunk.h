/* Chunk codec: turns a run of readings of one series (strictly increasing timestamps, finite
 * doubles) into one self-validating byte string, and back. The bytes (magic, version, codec
 * ids, header fields, segment table, flag runs, payload, checksums) are laid out in section 2 of
 * storage/disk_format.h; this header is the codec's public face. Implemented by
 * storage/chunk_encode.c, chunk_decode.c, chunk_segments.c, chunk_summary.c, with the bit codec
 * in storage/rice.c and the checksum in storage/crc32c.c.
 *
 * An encoded chunk is a fixed little-endian header holding the summary below and a header
 * checksum, an optional table of per-period summaries, optional runs of readings whose data
 * flag is not N, and a payload (timestamps delta-coded,
 * values as decimal mantissas or raw doubles, bit-packed, then LZ4 when that shrinks it) with
 * its own checksum. ck_read_summary() and ck_read_segments() validate only the header (and the
 * table), so queries can use summaries without touching the payload.
 *
 * Ownership: every function only reads the chunk bytes it is given and keeps no pointer to them
 * or to any output after it returns; output arrays are the caller's. Nothing here allocates
 * memory the caller must free, except that ck_encode*() grow the caller's jl_buf. All functions
 * are reentrant (no global state) and may run on any thread.
 *
 * Caveats: ck_decode() writes at most `capacity` readings; call ck_read_summary() first to learn
 * the count (at most CK_MAX_READINGS). A chunk that passes ck_read_summary() may still fail
 * ck_decode(): only decoding checks the payload. */
#ifndef JIALING_CHUNK_H
#define JIALING_CHUNK_H

#include "jialing/common.h"
#include "jialing/flag.h"

/* Readings per chunk at most; a decoder refuses larger counts before allocating. */
#define CK_MAX_READINGS 65536u

/* Bytes of every chunk before its segment table and payload (storage/disk_format.h). */
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
    jl_flag_mask flag_mask;  /* the flags its readings carry (jialing/flag.h): JL_FLAG_MASK_N
                                when all are normal; min, max, sum and the segment table cover
                                all readings, whatever their flags */
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
 * and appends the chunk to out, which stays the caller's (on error out->len is unchanged, its
 * capacity may have grown). Returns JL_OK; JL_EINVAL when an argument is NULL, the count is out
 * of range, a value is not finite or the timestamps do not increase (err says which reading);
 * JL_ENOMEM. The same readings always give the same bytes. */
int ck_encode(const int64_t *timestamps_ms, const double *values, size_t count, jl_buf *out,
              jl_error *err);

/* As ck_encode(), and when the readings span 2 to CK_MAX_SEGMENTS periods of segment_period_ms
 * (> 0; aligned to the epoch; <= 0 means none) adds a table of per-period summaries
 * (ck_read_segments). Returns as ck_encode(). */
int ck_encode_segmented(const int64_t *timestamps_ms, const double *values, size_t count,
                        int64_t segment_period_ms, jl_buf *out, jl_error *err);

/* As ck_encode_segmented(), and keeps each reading's HJ 212 data flag (flags[i], a code of
 * jialing/flag.h) as runs of the readings not flagged N, for ck_read_flags() and
 * summary.flag_mask. flags NULL or all JL_FLAG_N gives exactly the bytes of
 * ck_encode_segmented(); each run of non-N readings costs a few bytes. Flags do not change what
 * the summary and segment table cover: all readings. Returns as ck_encode(), and JL_EINVAL when
 * a flag is not below JL_FLAG_COUNT (err names the reading). */
int ck_encode_flagged(const int64_t *timestamps_ms, const double *values, const uint8_t *flags,
                      size_t count, int64_t segment_period_ms, jl_buf *out, jl_error *err);

/* Reads the data flag of every reading of the chunk at data[0..len) into the caller's
 * flags[0..count) (all JL_FLAG_N when the chunk has no flag runs), validating the header, the
 * segment table's period and the flag runs, not the payload. Returns JL_OK; JL_ECORRUPT when
 * data is NULL or a check fails (err says which; nothing written); JL_ELIMIT when capacity is
 * smaller than the chunk's count (nothing written); JL_EINVAL when flags is NULL. */
int ck_read_flags(const void *data, size_t len, uint8_t *flags, size_t capacity, jl_error *err);

/* Reads the segment table of the chunk at data[0..len) (validating header and table, not the
 * payload) into the caller's segments[0..capacity), in time order, one entry per period with
 * readings, and sets *count (0 when the chunk has no table; summary.segment_count says how many
 * periods it spans, so capacity segment_count always suffices). Returns JL_OK; JL_ECORRUPT when
 * data is NULL or header or table fail a check (err says which); JL_ELIMIT when more periods
 * hold readings than capacity (the first capacity entries are then filled, *count is 0). */
int ck_read_segments(const void *data, size_t len, ck_segment *segments, size_t capacity,
                     size_t *count, jl_error *err);

/* Validates the header of the chunk at data[0..len) (size, magic, version, codec, flags, count,
 * lengths, header checksum, cross-field sanity, the segment table's period, the flag runs) and
 * fills the caller's *summary, flag_mask included. Returns JL_OK, or JL_ECORRUPT when data is NULL
 * or a check fails (err says which; *summary is then unspecified). */
int ck_read_summary(const void *data, size_t len, ck_summary *summary, jl_error *err);

/* Fully validates the chunk at data[0..len) (header, payload checksum, decompressed size,
 * strictly increasing timestamps, values matching the header) and decodes it into the caller's
 * arrays of `capacity` entries; sets *count (when not NULL; 0 on any error). Returns JL_OK;
 * JL_ECORRUPT when data is NULL or a check fails (the arrays may then hold partial output);
 * JL_ELIMIT when capacity is smaller than the chunk's count (nothing written); JL_EINVAL when an
 * output array is NULL; JL_ENOMEM for the decoder's scratch buffer, which it frees before
 * returning. */
int ck_decode(const void *data, size_t len, int64_t *timestamps_ms, double *values, size_t capacity,
              size_t *count, jl_error *err);

/* Computes the summary of count readings exactly as ck_encode() stores it into the caller's
 * *summary (all zero for count 0), so that tails merge into query answers the same way as
 * sealed chunks. Cannot fail; the readings are not checked. */
void ck_summarize(const int64_t *timestamps_ms, const double *values, size_t count,
                  ck_summary *summary);

/* CRC-32C (Castagnoli) of data[0..len), continuing from crc (start with 0); the checksum of
 * every chunk and write-log block, for tools and tests that check stored bytes. Cannot fail.
 * Implemented by storage/crc32c.c (also declared in storage/crc32c.h for storage itself). */
uint32_t ck_crc32c(uint32_t crc, const void *data, size_t len);

#endif
