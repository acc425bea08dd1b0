/* Every byte storage writes to disk, in one place (after Netdata's rrddiskprotocol.h): magics,
 * format versions, codec ids, header layouts with the offset of every field, the order in which
 * readers validate, and the checksum. Code that reads or writes these bytes includes this file;
 * so do the tests and fuzz targets that craft, patch and keep golden copies of them
 * (tests/golden/, one file per format, read by tests/unit/test_golden.c). Changing any layout
 * here means a new format version and a new golden file, never an edited one.
 *
 * Sections:
 *   1. conventions shared by all formats: byte order, checksum, decimal values
 *   2. sealed chunks (storage/chunk_*.c, storage/rice.c)
 *   3. write-log blocks, formats 1, 2 and 3 (storage/log_block.c)
 *   4. the store: format version, database names, key layouts (keys.c, catalog.c, store.c),
 *      review marks (review.c), alarm events (events.c) */
#ifndef JIALING_STORAGE_DISK_FORMAT_H
#define JIALING_STORAGE_DISK_FORMAT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "jialing/chunk.h"

#include "bytes.h"

/* ==== 1. Conventions shared by all formats ====
 *
 * Byte order: every multi-byte integer is little endian except in keys that must sort, which
 * are big endian; doubles are the little-endian bytes of their IEEE-754 bit pattern; all of it
 * written field by field through storage/bytes.h. Varints are LEB128 (at most 10 bytes), signed
 * numbers go through zigzag first.
 *
 * Checksum: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, initial value and final xor
 * ~0), ck_crc32c() of storage/crc32c.c; "crc32c over X" below is ck_crc32c(0, X).
 *
 * Decimal values: a value v is stored as an integer mantissa m with a decimal exponent E in
 * 0..DF_MAX_DECIMAL_EXPONENT when v == (double)m / 10^E bitwise (the quotient as the decoder
 * computes it, so -0.0, which reads back as +0.0, never is) and |m| < DF_MAX_MANTISSA, so that
 * m converts to double exactly. */

/* Largest decimal exponent; 10^15 is exact as a double and leaves mantissas < 2^53. */
#define DF_MAX_DECIMAL_EXPONENT 15
/* Mantissas stay below this in magnitude so that they convert to double exactly. */
#define DF_MAX_MANTISSA (1LL << 53)

/* 10^e for e in 0..DF_MAX_DECIMAL_EXPONENT; each is exact as a double. */
static inline double df_pow10(int e)
{
    static const double table[DF_MAX_DECIMAL_EXPONENT + 1] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    };
    return table[e];
}

/* True when v is exactly m / 10^e as above for m = llround(v * 10^e); then stores m in
 * *mantissa (untouched otherwise). */
static inline int df_decimal_exact(double v, int e, int64_t *mantissa)
{
    double scaled = v * df_pow10(e);
    if (!(fabs(scaled) < (double)DF_MAX_MANTISSA))
        return 0;
    int64_t m = llround(scaled);
    if (!bytes_same_f64((double)m / df_pow10(e), v))
        return 0;
    *mantissa = m;
    return 1;
}

/* The smallest exponent at which every value is exact as above, filling mantissas[0..count);
 * -1 when there is none and the values must be stored as doubles. Both encoders (chunks and
 * log blocks) choose the same way. Value i is values[order[i]], or values[i] when order is
 * NULL. A value exact at E is exact at every larger E whose mantissa stays in range, so each
 * value starts at the exponent found so far; the second pass, which computes the mantissas of
 * the values checked before the last raise, checks that. */
static inline int df_decimal_exponent(const double *values, const uint32_t *order, size_t count,
                                      int64_t *mantissas)
{
    int e = 0;
    for (size_t i = 0; i < count; i++) {
        while (!df_decimal_exact(values[order ? order[i] : i], e, &mantissas[i])) {
            if (++e > DF_MAX_DECIMAL_EXPONENT)
                return -1;
        }
    }
    for (size_t i = 0; i < count; i++) {
        if (!df_decimal_exact(values[order ? order[i] : i], e, &mantissas[i]))
            return -1;
    }
    return e;
}

/* ==== 2. Sealed chunks ====
 *
 * Magic, format version, codec ids, the packed little-endian header with the offset of every
 * field, the checksums, and the payload's bit layout. storage/chunk_encode.c writes these bytes,
 * storage/chunk_decode.c and storage/chunk_segments.c read them, storage/rice.c owns the bit
 * streams of the payload.
 *
 * A chunk is CK_HEADER_SIZE header bytes, then the extension (the bytes between header and
 * payload), then `stored payload length` payload bytes; the extension's length is what remains
 * (total - header - stored). The extension is, by the flags:
 *   neither CK_FLAG_SEGMENTS nor CK_FLAG_FLAG_RUNS: empty;
 *   CK_FLAG_SEGMENTS only: the segment table, the whole extension (chunks written before flag
 *     runs existed, and every chunk whose readings are all N, look exactly like this);
 *   CK_FLAG_FLAG_RUNS only: the flag-run section, the whole extension;
 *   both: a varint L (the table's length, 2..ck_segment_table_bound(CK_MAX_SEGMENTS)), the L
 *     bytes of the segment table, then the flag-run section, the rest of the extension. The
 *     table itself cannot say where it ends without being parsed, hence L.
 * Every multi-byte field is little endian and written byte by byte (never a struct memcpy), so
 * the layout does not depend on the compiler's padding or the host's byte order. Doubles are
 * stored as the little-endian bytes of their IEEE-754 bit pattern.
 *
 * Header (CK_HEADER_SIZE = 100 bytes):
 *   off size field
 *     0   4  magic "JLCK"
 *     4   1  format version (CK_FORMAT_VERSION)
 *     5   1  value codec id (CK_CODEC_DECIMAL or CK_CODEC_FLOAT, see jialing/chunk.h)
 *     6   1  flags (CK_FLAG_LZ4, CK_FLAG_TS_BASE, CK_FLAG_SEGMENTS, CK_FLAG_FLAG_RUNS;
 *            others must be 0)
 *     7   1  decimal exponent E, signed (0..CK_MAX_DECIMAL_EXPONENT for decimal, 0 for float)
 *     8   4  count of readings (1..CK_MAX_READINGS)
 *    12   4  raw payload length: bytes of the packed payload before LZ4
 *    16   4  stored payload length: bytes following the header (== raw length unless LZ4)
 *    20   4  payload crc32c over the stored payload bytes
 *    24   8  first_ms (int64)
 *    32   8  last_ms (int64)
 *    40   8  timestamp scale (uint64, >= 1): every (ts - first_ms) is a multiple of it
 *    48   8  min      (double)
 *    56   8  max      (double)
 *    64   8  sum      (double, Neumaier-compensated, in timestamp order)
 *    72   8  sum of squared deviations from the mean (double)
 *    80   8  first value (double)
 *    88   8  last value (double)
 *    96   4  header crc32c over bytes 0..95, continued over the whole extension (length
 *            prefix, segment table and flag runs, whichever are present)
 *
 * Segment table (CK_FLAG_SEGMENTS): per-period summaries, so that windows made of whole periods
 * (a day of 8-hour periods, say) need no decoding. Numbers are LEB128 varints. First the period
 * P in ms (>= 1); the table covers the periods floor(first_ms / P) .. floor(last_ms / P), 2 to
 * CK_MAX_SEGMENTS of them, each in order with: its reading count as zigzag(count - previous
 * count) (the count before the first taken as 0); then, when the count is not 0,
 *   decimal codec: zigzag(m_min - previous m_min) (previous non-empty period; 0 before the
 *     first), m_max - m_min, and sum(m) - count * m_min, all in mantissas of the chunk's
 *     exponent (min = m_min / 10^E as the decoder computes values; sum = the exact sum / 10^E);
 *   float codec: min, max and the Neumaier sum as 8-byte doubles.
 * The first and last periods hold readings, counts add up to the chunk's, every min/max lies
 * within the header's and the smallest min and largest max are the header's, each sum is one
 * its count, min and max allow, and the table ends exactly where the payload starts. The
 * encoder writes no table when the readings lie in one period, when a period bound falls
 * outside int64, or when the sums do not fit 64 bits.
 *
 * Flag runs (CK_FLAG_FLAG_RUNS): the HJ 212 data flag of every reading (jialing/flag.h, codes
 * 0..7 = N F M S D C T B). A chunk without the bit has all readings N. With it, varints: the
 * number of runs R (1..count), then per run, in reading order: the readings since the previous
 * run's end (since reading 0 for the first run; these readings are N), the run's length (>= 1)
 * and its code (1..7, one byte as a varint). Runs do not overlap and end within the count;
 * readings after the last run are N. Two runs that touch (gap 0) never have the same code: the
 * encoder merges them, and readers refuse such a section (so runs are canonical; varints, as
 * everywhere, are read in any LEB128 spelling, the encoder writing the shortest). The
 * section ends exactly at the payload. Its length is CK_FLAG_RUNS_MIN..CK_FLAG_RUNS_BOUND(count).
 * Example: 10 readings, readings 3 and 4 flagged M (2), the rest N: 01 03 02 02, four bytes.
 * The encoder sets the bit only when some reading is not N, so all-N chunks cost nothing. The
 * format version stays 1: readers built before this bit refuse it as an unknown flag (corrupt,
 * never misread), and every chunk they could read reads the same here.
 * Min, max, sum, the other header fields and the segment table cover all readings whatever
 * their flags.
 *
 * Readers validate in this order and stop at the first failure: total size >= header size,
 * magic, version, codec, flags, count, lengths (stored <= total - header; the extension empty
 * without CK_FLAG_SEGMENTS and CK_FLAG_FLAG_RUNS; with both, the prefix L a well-formed varint
 * within the extension, L within the table's bound and at most the extension minus the prefix;
 * the table within its bound (2..ck_segment_table_bound(CK_MAX_SEGMENTS)) and the flag-run
 * section within CK_FLAG_RUNS_MIN..CK_FLAG_RUNS_BOUND(count) when present; raw bounded by
 * CK_RAW_PAYLOAD_MAX(count), stored == raw without LZ4 and stored < raw with it), header
 * checksum (over the extension too), then the cross-field sanity checks the checksum cannot
 * vouch for when the bytes were crafted (first_ms <= last_ms, scale >= 1, exponent range, the
 * table's period and span), then the flag runs (R in 1..count, each gap and length within the
 * readings left, length >= 1, code 1..7, no touching runs of one code, the section ending
 * exactly at the payload). ck_read_summary and ck_read_flags stop there. ck_read_segments then
 * checks the table's contents as above; decoding ignores them and checks the payload
 * checksum, decompresses with LZ4_decompress_safe into a buffer of exactly the raw length, and
 * requires the decoded payload to fill it exactly, timestamps to increase strictly from first_ms
 * to last_ms, and the first/last values to equal the header's.
 *
 * Raw payload (before LZ4):
 *   1. timestamps, from the scaled offsets o_i = (ts_i - first_ms) / scale (arithmetic modulo
 *      2^64, so any int64 timestamps work) and their deltas d_i = o_i - o_(i-1), d_0 = 0:
 *      without CK_FLAG_TS_BASE, count-1 numbers zigzag(d_i - d_(i-1)) (delta-of-delta);
 *      with CK_FLAG_TS_BASE, count numbers: a base delta B, then zigzag(d_i - B) for i >= 1.
 *      Rice-coded in frames (below), then zero bits up to a byte boundary. Empty when
 *      count is 1 (and CK_FLAG_TS_BASE must then be clear). The encoder keeps whichever of the
 *      two is smaller.
 *   2. values, decimal codec: count zigzagged deltas of the mantissas m = value * 10^E (the
 *      mantissa before the first taken as 0), Rice-coded in frames; zero bits up to a byte
 *      boundary. Value = (double)m / 10^E, which the encoder has checked is bitwise exact.
 *      values, float codec: count doubles, 8 little-endian bytes each.
 *   The payload must end exactly where the value section ends.
 *
 * Bit streams are LSB-first: bit i of the stream is bit (i % 8) of byte i / 8. A frame holds
 * CK_FRAME_VALUES numbers z_1..z_n (the last frame fewer), Rice-coded with parameter k in four
 * parts, each number's high part being q = z >> k:
 *   a. 6 bits: k (0..CK_RICE_MAX_K);
 *   b. low parts: for each number, its low k bits;
 *   c. unary parts: for each number, min(q, CK_RICE_ESCAPE) one-bits and one zero-bit;
 *   d. exceptions: for each number with q >= CK_RICE_ESCAPE, in order: 6 bits of (width - 1),
 *      then the `width` bits of q, where width is q's bit length (width <= 64 - k).
 * A regular cadence therefore costs one bit per reading before LZ4 (a run of zero bits, which
 * LZ4 then shrinks further). */
#define CK_MAGIC_0 'J'
#define CK_MAGIC_1 'L'
#define CK_MAGIC_2 'C'
#define CK_MAGIC_3 'K'
#define CK_FORMAT_VERSION 1u

#define CK_FLAG_LZ4 0x01u      /* stored payload is the LZ4 block of the raw payload */
#define CK_FLAG_TS_BASE 0x02u  /* timestamps coded against a base delta, not delta-of-delta */
#define CK_FLAG_SEGMENTS 0x04u  /* a segment table lies between header and payload */
#define CK_FLAG_FLAG_RUNS 0x08u /* flag runs follow the table (or the header), before payload */
#define CK_FLAGS_KNOWN 0x0fu    /* any other flag bit set makes a chunk corrupt */

/* Bytes of a flag-run section: at least one run of three one-byte varints after the count;
 * at most count runs (merged runs need a reading each) of two 3-byte varints (numbers <=
 * CK_MAX_READINGS = 2^16 take 3 bytes) and a code byte, after a 3-byte count. */
#define CK_FLAG_RUNS_MIN 4u
#define CK_FLAG_RUNS_BOUND(count) (3u + 7u * (size_t)(count))

/* Header field offsets. */
#define CK_OFF_MAGIC 0
#define CK_OFF_VERSION 4
#define CK_OFF_CODEC 5
#define CK_OFF_FLAGS 6
#define CK_OFF_EXPONENT 7
#define CK_OFF_COUNT 8
#define CK_OFF_RAW_LEN 12
#define CK_OFF_STORED_LEN 16
#define CK_OFF_PAYLOAD_CRC 20
#define CK_OFF_FIRST_MS 24
#define CK_OFF_LAST_MS 32
#define CK_OFF_TS_SCALE 40
#define CK_OFF_MIN 48
#define CK_OFF_MAX 56
#define CK_OFF_SUM 64
#define CK_OFF_SUM_SQUARES_DEV 72
#define CK_OFF_FIRST_VALUE 80
#define CK_OFF_LAST_VALUE 88
#define CK_OFF_HEADER_CRC 96
#define CK_HEADER_SIZE CK_HEADER_BYTES

/* Decimal values of the chunk codec follow section 1. */
#define CK_MAX_DECIMAL_EXPONENT DF_MAX_DECIMAL_EXPONENT
#define CK_MAX_MANTISSA DF_MAX_MANTISSA

/* Bit-stream framing (see above). */
#define CK_FRAME_VALUES 64
#define CK_RICE_K_BITS 6
#define CK_RICE_MAX_K 56
#define CK_RICE_ESCAPE 24
#define CK_RICE_WIDTH_BITS 6

/* Most bits one number can take, and the most a frame can: the decoder pads its buffer by more
 * than a frame so it checks bounds once per frame, not per number. */
#define CK_MAX_BITS_PER_NUMBER (CK_RICE_ESCAPE + 1 + CK_RICE_WIDTH_BITS + 64)
#define CK_MAX_FRAME_BYTES ((CK_RICE_K_BITS + CK_FRAME_VALUES * CK_MAX_BITS_PER_NUMBER + 7) / 8)

/* Upper bound of the raw payload length for `count` readings: two numbers per reading at most
 * CK_MAX_BITS_PER_NUMBER bits (23.75 bytes), plus a base delta, frame headers and alignment. */
#define CK_RAW_PAYLOAD_MAX(count) (24u * (uint32_t)(count) + 16u)

/* ==== 3. Write-log blocks ====
 *
 * A block holds the readings of one write request; storage/log_block.c encodes and decodes it,
 * the store keeps it in LMDB until every series in it has sealed those readings. The four
 * formats are told apart by their magic; the store writes format 4 only and reads all four
 * (readings of formats 1 and 2 have flag JL_FLAG_N).
 *
 * Format 4 ("JLG4", WL4_MAGIC): format 3 with two changes.
 * - The id table after the header is not 8 bytes a series but runs of consecutive ids, as long
 *   as it needs to be: its length is the block's size - WL_HEADER_BYTES - the stored payload
 *   length. Each run is varint zigzag(first id - end of the previous run), the end of a run
 *   being its last id + 1 and 0 before the first run, then varint (run length - 1); the runs'
 *   ids, in order, are the series ids of the payload's groups. The checksum covers the table
 *   and the stored payload, as in format 2.
 * - In the payload, a group's first timestamp is varint zigzag(first timestamp - the previous
 *   group's first timestamp), 0 before the first group with readings (groups with n = 0 are
 *   skipped), instead of zigzag(first timestamp).
 * Readers validate as for format 3, and the table: the runs add up to exactly the series count
 * without running past the table, the table ends exactly after the last run, and no run but
 * the first starts where the previous one ended (runs are maximal, so that re-encoding a golden
 * block gives the same bytes). Integers wrap modulo 2^64.
 * Why format 4: with many series a request (10^5 series, a reading each a minute, 5,000-line
 * requests), a block has a reading a series: its 8-byte ids, kept outside LZ4, were two thirds
 * of the block, and the absolute first timestamps a sixth, some 12 bytes a reading in all. Ids
 * of one collector's series are mostly consecutive (they were created in the order it sends
 * them), and a request's readings mostly share a time: runs and deltas make both nearly free.
 *
 * Format 3 ("JLG3", WL3_MAGIC): format 2 below, with the raw length bounded by
 * WL3_RAW_PAYLOAD_MAX(readings, series) instead, and in the payload each group with n > 0
 * followed, after its values, by the data flags of its readings (include/jialing/flag.h codes,
 * in the group's order) as runs of non-N readings: varint run count R (0 when all are N), then
 * per run varint gap (readings of code N since the end of the previous run, or since the group's
 * first reading for the first run), varint length >= 1 and one byte code 1..JL_FLAG_COUNT-1.
 * Readings not in a run are N. Runs are maximal: two runs with gap 0 have different codes.
 * Readers validate as for format 2, and for each group's flags, in this order: R <= n; per run
 * gap <= readings left in the group, then length 1..readings left after the gap, then the code
 * byte present, not N and below JL_FLAG_COUNT, and not equal to the previous run's code when
 * the gap is 0. Why this order: each bound is checked before the index it moves is used, and as
 * a difference from what is left (never as a sum that a 64-bit varint could wrap back into an
 * earlier run); the code is checked because callers index tables by it; maximal runs keep the
 * encoding unique, so that re-encoding a golden block gives the same bytes. Why format 3: HJ 212
 * sends a flag with every value and replay after a crash must restore it; almost every reading
 * is N, so a group of all-N readings costs one byte and a stretch of maintenance a few bytes,
 * where a byte per reading would be about as much as all the rest of a steady series' reading
 * takes (some 1.1 bytes after LZ4 in test_compact, tests/unit/test_log_block.c).
 *
 * Format 2 (all integers little endian):
 *   off size field
 *     0   4  magic "JLG2" (WL_MAGIC)
 *     4   4  readings in the block (1..ST_MAX_BATCH_POINTS)
 *     8   4  series in the block (1..ST_MAX_BATCH_POINTS)
 *    12   4  raw payload length (before LZ4), at most WL_RAW_PAYLOAD_MAX(readings, series)
 *    16   4  stored payload length (the LZ4 bytes after the id table)
 *    20   4  crc32c over the id table and the stored payload
 *    24  8*S series ids, in the order of the payload's groups
 *    ..      LZ4 block of the payload
 * Payload, one group per series: varint count n (0 allowed); when n > 0, varint zigzag first
 * timestamp; n-1 varint zigzag delta-of-deltas (the first delta's is the delta itself); one
 * byte value mode: 0..DF_MAX_DECIMAL_EXPONENT = decimal exponent E, then varint zigzag first
 * mantissa and n-1 varint zigzag mantissa deltas (section 1); or WL_MODE_RAW, n doubles of 8
 * bytes. Integers wrap modulo 2^64. Within a group readings keep request order (a later write
 * of the same timestamp wins on replay).
 * Readers validate in this order: size >= header, magic, counts, raw length bound, stored
 * length == size - header - id table, checksum, then decompress with LZ4_decompress_safe into a
 * buffer of exactly the raw length and require the groups to add up to the count, every
 * timestamp to lie in JL_MIN_MS..JL_MAX_MS, every mode to be known and the payload to end
 * exactly after the last group.
 *
 * Format 1 (read only):
 *   off size field
 *     0   4  magic "JLOG" (WL_V1_MAGIC)
 *     4   4  readings n (0..ST_MAX_BATCH_POINTS)
 *     8   4  stored payload length (== size - 16)
 *    12   4  crc32c over the stored payload
 *    16      LZ4 block of n records of 24 bytes: u64 series id, i64 ms, f64 value
 * Readers validate size, magic, lengths, count, checksum, then require the payload to
 * decompress (LZ4_decompress_safe) to exactly n records.
 *
 * Why format 2: a block stays until every series in it has sealed its tail, so the log holds
 * about one chunk period of all readings; at 24 bytes a record before LZ4 it was a sixth of the
 * data file. Grouped and delta coded, the same block is about a quarter of that, and it is
 * encoded by the thread that parsed the request instead of by the single writer. */

#define WL_MAGIC 0x32474c4au /* "JLG2" little endian */
#define WL_HEADER_BYTES 24   /* format 2 header; the id table follows */
#define WL_OFF_COUNT 4
#define WL_OFF_SERIES 8
#define WL_OFF_RAW_LEN 12
#define WL_OFF_STORED_LEN 16
#define WL_OFF_CRC 20
#define WL_MODE_RAW 255 /* value mode of a group of raw doubles */

/* Bytes a format-2 group can take before LZ4 at most: count, first time, mode and first
 * mantissa, then a time and a value of at most one varint each per reading. */
#define WL_GROUP_BYTES (4 * BYTES_VARINT_MAX)
#define WL_READING_BYTES (2 * BYTES_VARINT_MAX)
#define WL_RAW_PAYLOAD_MAX(readings, series)                                                       \
    ((size_t)(readings)*WL_READING_BYTES + (size_t)(series)*WL_GROUP_BYTES)

#define WL3_MAGIC 0x33474c4au /* "JLG3" little endian; header layout as format 2 */
/* Bytes the flags of a format-3 group can add before LZ4 at most: the run count, and at most 3
 * bytes per reading: a run costs varint(gap) + varint(length) + 1 <= (1 + gap) + length + 1
 * bytes (a varint of x takes at most 1 + x bytes, and at most x when x >= 1), which is at most
 * 3 (gap + length), and the runs cover gap + length <= n readings in all. */
#define WL3_FLAG_READING_BYTES 3
#define WL3_RAW_PAYLOAD_MAX(readings, series)                                                      \
    (WL_RAW_PAYLOAD_MAX(readings, series) + (size_t)(readings)*WL3_FLAG_READING_BYTES +            \
     (size_t)(series)*BYTES_VARINT_MAX)

#define WL4_MAGIC 0x34474c4au /* "JLG4" little endian; header layout as format 2 */
/* Bytes a format-4 id table can take at most: a run a series, each of a 64-bit varint and a
 * run length below ST_MAX_BATCH_POINTS (a varint of at most 5 bytes). */
#define WL4_ID_TABLE_MAX(series) ((size_t)(series) * (BYTES_VARINT_MAX + 5))

#define WL_V1_MAGIC 0x474f4c4au /* "JLOG" little endian */
#define WL_V1_HEADER_BYTES 16
#define WL_V1_OFF_COUNT 4
#define WL_V1_OFF_STORED_LEN 8
#define WL_V1_OFF_CRC 12
#define WL_V1_RECORD_BYTES 24 /* u64 id, i64 ms, f64 value */

/* ==== 4. The store ====
 *
 * The store's format version (the "format" key of the meta database), its database names and
 * their key layouts (big-endian series ids and timestamps so that keys sort; storage/keys.c and
 * storage/catalog.c write them). */

/* LMDB databases:
 *   meta      "format" -> u32 LE format version
 *   series    u64 BE id -> canonical series key (the catalog; the key -> id index is in memory)
 *   postings  "key=value" (metric as "__name__=m") -> u64 BE ids (DUPSORT, DUPFIXED)
 *   chunks    u64 BE id + flipped-sign BE first_ms -> encoded chunk (see chunk.h)
 *   log       u64 BE sequence -> one write request's readings (section 3)
 *   review    u64 BE mark id -> one review mark (below; storage/review.c)
 *   series_state  u64 BE id -> the series' sealed state (below; storage/series_state.c)
 *   events    u64 BE event id -> one alarm event (below; storage/events.c) */

/* 2: write-log blocks grouped by series (section 3). 3: chunks may carry a segment table
 * (CK_FLAG_SEGMENTS), which an older build would take for corruption. 4: readings carry data
 * flags, in chunks (CK_FLAG_FLAG_RUNS) and in write-log blocks of format 3, neither of which an
 * older build can read. Older directories are still read (their readings all flagged N), and
 * marked with the current version when opened for writing: their old blocks and chunks stay
 * readable. */
/* 5: the "series_state" database (below) holds each series' sealed state, and the writer keeps
 * it in step with the chunks in the same transaction; a build of format 4 would ignore it and
 * leave it stale once it seals or merges, so it must refuse the directory. A directory of format
 * 4 or older opened for writing is walked once, chunk by chunk, to write every record, in the
 * transaction that marks it 5 (read-only, it is walked in memory and left as it was); so is a
 * directory marked 5 whose "series_state" database is missing altogether. */
/* 6: the write log is in blocks of format 4 (section 3), which a build of format 5 would take
 * for corruption. Nothing else changed: a directory of format 5 is marked 6 when opened for
 * writing, its format-3 blocks still read. */
#define FORMAT_VERSION 6u
#define FORMAT_VERSION_OLDEST 1u
#define FORMAT_VERSION_SERIES_STATE 5u /* the first with "series_state" records */

#define STORE_DB_META "meta"
#define STORE_DB_SERIES "series"
#define STORE_DB_POSTINGS "postings"
#define STORE_DB_CHUNKS "chunks"
#define STORE_DB_LOG "log"
#define STORE_META_FORMAT_KEY "format" /* key of the format version in meta */

/* Review marks (include/jialing/review.h), database "review", storage/review.c.
 *
 * Key: REVIEW_KEY_BYTES = 8, the mark id (1, 2, ... in the order made) big endian, so that the
 * database lists marks in the order made and its last key gives the next id.
 *
 * Value (every integer little endian, written field by field through bytes.h):
 *   off size field
 *     0   1  value version (REVIEW_VALUE_VERSION)
 *     1   1  flags: REVIEW_FLAG_VALID (the mark declares readings valid; clear: invalid),
 *            REVIEW_FLAG_WITHDRAWN; other bits must be 0
 *     2   8  made_ms (int64)
 *    10   8  from_ms (int64), first instant covered
 *    18   8  to_ms (int64), end, exclusive
 *    26   8  readings_affected (uint64)
 *    34   8  withdrawn_ms (int64; 0 while in force)
 *    42   4  series count S (1..ST_REVIEW_MAX_SERIES)
 *    46      four texts, each a u32 length (0..ST_REVIEW_MAX_TEXT_BYTES) then that many bytes
 *            of UTF-8 without NUL, in this order: made_by, selector, reason, withdrawn_by
 *            (length 0 while in force)
 *    ..  8*S the series ids (uint64), strictly ascending, each >= 1
 *    ..   4  crc32c over every byte before it
 * A withdrawal rewrites the value under the same key with REVIEW_FLAG_WITHDRAWN, withdrawn_ms
 * and withdrawn_by set; nothing else changes and no entry is ever deleted.
 * Readers validate in this order and stop at the first failure: key size, id >= 1, value size
 * >= REVIEW_VALUE_MIN_BYTES, version, checksum, flags, then the fields the checksum cannot
 * vouch for when the bytes were crafted: from_ms < to_ms, S in range, each text length within
 * its bound and the bytes left, no NUL in a text, withdrawn_ms 0 and withdrawn_by empty unless
 * withdrawn, exactly 8*S + 4 bytes left for the ids and the checksum, ids ascending from 1
 * (and, at open, each a series of the catalog).
 * Why a version byte and a checksum: the value is read back at every open and by every listing,
 * so a torn or foreign value must be refused (JL_ECORRUPT), never misread; the version lets a
 * later layout live beside this one.
 * The store's FORMAT_VERSION stays 4: a directory without the "review" database has no marks
 * (a read-only open of one does not create it); a writable open creates it; and a build older
 * than review marks opens only the databases it knows, so it ignores this one (its readings
 * then answer by their device flags alone). */
#define STORE_DB_REVIEW "review"
#define REVIEW_KEY_BYTES 8
#define REVIEW_VALUE_VERSION 1u
#define REVIEW_OFF_VERSION 0
#define REVIEW_OFF_FLAGS 1
#define REVIEW_OFF_MADE_MS 2
#define REVIEW_OFF_FROM_MS 10
#define REVIEW_OFF_TO_MS 18
#define REVIEW_OFF_READINGS 26
#define REVIEW_OFF_WITHDRAWN_MS 34
#define REVIEW_OFF_SERIES_COUNT 42
#define REVIEW_OFF_TEXTS 46 /* the first text's length */
#define REVIEW_FLAG_VALID 0x01u
#define REVIEW_FLAG_WITHDRAWN 0x02u
#define REVIEW_FLAGS_KNOWN 0x03u
#define REVIEW_TEXT_COUNT 4 /* made_by, selector, reason, withdrawn_by */
#define REVIEW_CRC_BYTES 4
/* Fixed fields, four empty texts, one series id and the checksum. */
#define REVIEW_VALUE_MIN_BYTES (REVIEW_OFF_TEXTS + 4 * REVIEW_TEXT_COUNT + 8 + REVIEW_CRC_BYTES)

/* Sealed series states, database "series_state", storage/series_state.c.
 *
 * Why: opening a store must not read every chunk (years of chunks of 10^6 series are tens of
 * millions of headers, each on its own page); one record per series with chunks gives the open
 * what the chunk walk gave, in O(series). The writer rewrites a series' record in the same
 * transaction as every change to its chunks (seal, merge of late readings, absorbing a small
 * last chunk, and anything else that puts or deletes chunks), so a record is never older or
 * newer than the chunks it describes. A series without chunks has no record or an empty one:
 * chunks 0 and every field from offset 1 to 65 zero (version and checksum as always). The
 * writer puts the empty record when it creates the series, in id order, so that records fill
 * their pages (see series_state_create); a series whose chunks are all gone (retention) gets
 * the empty record back rather than losing its record. Earlier builds of format 6 refuse an
 * empty record (they required chunks >= 1) and rebuild it from the series' chunks, finding
 * none: nothing is misread, so the store format stays 6.
 *
 * Key: SERIES_STATE_KEY_BYTES = 8, the series id big endian.
 * Value (SERIES_STATE_VALUE_BYTES = 70; integers little endian, written field by field through
 * bytes.h, doubles as their IEEE-754 bits):
 *   off size field
 *     0   1  record version (SERIES_STATE_VERSION)
 *     1   1  data flag code of the last sealed reading (jialing/flag.h, 0..JL_FLAG_COUNT-1)
 *     2   8  chunks of the series (u64, >= 1)
 *    10   8  bytes of those chunks' values (u64)
 *    18   8  sealed readings: sum of the chunks' counts (u64, >= 1)
 *    26   8  first sealed ms: first_ms of the series' first chunk (i64)
 *    34   8  last sealed ms (the series' sealed end): last_ms of its last chunk (i64)
 *    42   8  value of the last sealed reading (double)
 *    50   4  readings of the last chunk (u32, 1..CK_MAX_READINGS)
 *    54   4  bytes of the last chunk (u32)
 *    58   8  first_ms of the last chunk (i64): with the two fields before it, what the seal
 *            planner learns from the last chunk (seal_plan), so that it plans as after a walk
 *    66   4  crc32c over bytes 0..65
 * Readers validate in this order: key size, id >= 1 and in the catalog, value size, version,
 * checksum, then the empty record (chunks 0: bytes 1..65 all zero), else the fields the
 * checksum cannot vouch for: flag code known,
 * readings >= chunks, last-chunk readings 1..CK_MAX_READINGS and <= sealed readings, first
 * sealed ms <= last chunk's first_ms <= last sealed ms. A record that fails after the key is
 * rebuilt from the series' chunks at open (and rewritten when writable), never trusted. */
#define STORE_DB_SERIES_STATE "series_state"
#define SERIES_STATE_KEY_BYTES 8
#define SERIES_STATE_VERSION 1u
#define SERIES_STATE_OFF_VERSION 0
#define SERIES_STATE_OFF_LAST_FLAG 1
#define SERIES_STATE_OFF_CHUNKS 2
#define SERIES_STATE_OFF_CHUNK_BYTES 10
#define SERIES_STATE_OFF_SEALED_COUNT 18
#define SERIES_STATE_OFF_FIRST_MS 26
#define SERIES_STATE_OFF_LAST_MS 34
#define SERIES_STATE_OFF_LAST_VALUE 42
#define SERIES_STATE_OFF_LAST_CHUNK_COUNT 50
#define SERIES_STATE_OFF_LAST_CHUNK_BYTES 54
#define SERIES_STATE_OFF_LAST_CHUNK_FIRST_MS 58
#define SERIES_STATE_OFF_CRC 66
#define SERIES_STATE_VALUE_BYTES 70

/* Alarm events (include/jialing/alarm.h), database "events", storage/events.c.
 *
 * Key: EVENT_KEY_BYTES = 8, the event id (1, 2, ... in the order made) big endian, so that the
 * last key gives the next id and a listing comes in the order made.
 *
 * Value (every integer little endian, written field by field through bytes.h):
 *   off size field
 *     0   1  value version (EVENT_VALUE_VERSION)
 *     1   1  flags: EVENT_FLAG_RESOLVED, EVENT_FLAG_LATE, EVENT_FLAG_NOTIFIED_FIRING,
 *            EVENT_FLAG_NOTIFIED_RESOLVED; other bits must be 0
 *     2   8  series id (uint64, >= 1)
 *    10   8  start_ms (int64)
 *    18   8  fired_ms (int64)
 *    26   8  end_ms (int64; 0 unless resolved)
 *    34   8  peak (IEEE 754 double, bits as uint64)
 *    42   8  count (uint64)
 *    50   4  rule name length R (1..ST_EVENT_MAX_RULE_BYTES)
 *    54   R  rule name, UTF-8 without NUL
 *  54+R   4  crc32c over every byte before it
 * An event is rewritten whole under its key when it resolves or is notified; none is deleted.
 * Readers validate in this order and stop at the first failure: key size, id >= 1, value size
 * >= EVENT_VALUE_MIN_BYTES, version, checksum, flags, series id >= 1, R in range and exactly
 * R + 4 bytes left, no NUL in the name, end_ms 0 unless resolved and >= start_ms when resolved.
 * Why a version byte and a checksum: as for review marks, a torn or foreign value is refused
 * (JL_ECORRUPT), never misread. The database needs no new FORMAT_VERSION: it is created by a
 * writable open, and an older build ignores a database it does not open. */
#define STORE_DB_EVENTS "events"
#define EVENT_KEY_BYTES 8
#define EVENT_VALUE_VERSION 1u
#define EVENT_OFF_VERSION 0
#define EVENT_OFF_FLAGS 1
#define EVENT_OFF_SERIES 2
#define EVENT_OFF_START_MS 10
#define EVENT_OFF_FIRED_MS 18
#define EVENT_OFF_END_MS 26
#define EVENT_OFF_PEAK 34
#define EVENT_OFF_COUNT 42
#define EVENT_OFF_RULE_LEN 50
#define EVENT_OFF_RULE 54
#define EVENT_FLAG_RESOLVED 0x01u
#define EVENT_FLAG_LATE 0x02u
#define EVENT_FLAG_NOTIFIED_FIRING 0x04u
#define EVENT_FLAG_NOTIFIED_RESOLVED 0x08u
#define EVENT_FLAGS_KNOWN 0x0fu
#define EVENT_CRC_BYTES 4
/* Fixed fields, a one-byte name and the checksum. */
#define EVENT_VALUE_MIN_BYTES (EVENT_OFF_RULE + 1 + EVENT_CRC_BYTES)

/* LMDB keys are at most 511 bytes; longer postings are hashed (store_posting_key). */
#define POSTING_KEY_MAX 480

/* 16-byte chunk key: big-endian series id, then the first timestamp with its sign bit flipped
 * so that signed times sort as unsigned bytes (keys.c). */
#define CHUNK_KEY_BYTES 16
void store_chunk_key(uint8_t key[CHUNK_KEY_BYTES], uint64_t id, int64_t first_ms);
void store_chunk_key_parse(const uint8_t *key, uint64_t *id, int64_t *first_ms);

/* Writes the postings key for tag key=value into out and returns its length. Pairs too long for
 * an LMDB key are replaced by the tag key and a hash of the value; st_select then re-checks
 * matches against the series key (catalog.c). */
size_t store_posting_key(char *out, size_t out_size, const char *key, size_t key_len,
                         const char *value, size_t value_len);

#endif
