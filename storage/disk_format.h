/* On-disk format of a sealed chunk, in one place: magic, format version, codec ids, the packed
 * little-endian header with the offset of every field, the checksums, and the payload's bit
 * layout. storage/chunk.c is the only code that reads or writes these bytes; tests and fuzz
 * targets include this file to craft and patch chunks.
 *
 * A chunk is CK_HEADER_SIZE header bytes, then (with CK_FLAG_SEGMENTS only) a segment table,
 * then `stored payload length` payload bytes; the table's length is what remains.
 * Every multi-byte field is little endian and written byte by byte (never a struct memcpy), so
 * the layout does not depend on the compiler's padding or the host's byte order. Doubles are
 * stored as the little-endian bytes of their IEEE-754 bit pattern.
 *
 * Header (CK_HEADER_SIZE = 100 bytes):
 *   off size field
 *     0   4  magic "JLCK"
 *     4   1  format version (CK_FORMAT_VERSION)
 *     5   1  value codec id (CK_CODEC_DECIMAL or CK_CODEC_FLOAT, see jialing/chunk.h)
 *     6   1  flags (CK_FLAG_LZ4, CK_FLAG_TS_BASE, CK_FLAG_SEGMENTS; others must be 0)
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
 *    96   4  header crc32c over bytes 0..95, continued over the segment table if any
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
 * Readers validate in this order and stop at the first failure: total size >= header size,
 * magic, version, codec, flags, count, lengths (stored == total - header without a table,
 * stored < total - header with one, the table within its bound; raw bounded by
 * CK_RAW_PAYLOAD_MAX(count), stored == raw without LZ4 and stored < raw with it), header
 * checksum (over the table too), then the cross-field sanity checks the checksum cannot vouch
 * for when the bytes were crafted (first_ms <= last_ms, scale >= 1, exponent range, the table's
 * period and span). ck_read_segments then checks the table's contents as above; decoding
 * ignores them and checks the payload
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
#ifndef JIALING_CHUNK_FORMAT_H
#define JIALING_CHUNK_FORMAT_H

#include <stdint.h>

#include "jialing/chunk.h"

#define CK_MAGIC_0 'J'
#define CK_MAGIC_1 'L'
#define CK_MAGIC_2 'C'
#define CK_MAGIC_3 'K'
#define CK_FORMAT_VERSION 1u

#define CK_FLAG_LZ4 0x01u     /* stored payload is the LZ4 block of the raw payload */
#define CK_FLAG_TS_BASE 0x02u /* timestamps coded against a base delta, not delta-of-delta */
#define CK_FLAG_SEGMENTS 0x04u /* a segment table lies between header and payload */
#define CK_FLAGS_KNOWN 0x07u   /* any other flag bit set makes a chunk corrupt */

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

/* Largest decimal exponent tried; 10^15 is exact as a double and leaves mantissas < 2^53. */
#define CK_MAX_DECIMAL_EXPONENT 15
/* Mantissas must stay below this in magnitude so that they convert to double exactly. */
#define CK_MAX_MANTISSA (1LL << 53)

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

#endif
