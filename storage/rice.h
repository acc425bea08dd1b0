/* Bit streams and the frame-wise Rice code of chunk payloads (storage-internal; the layout is
 * section 2 of storage/disk_format.h). Numbers are unsigned 64-bit, already zigzagged by the
 * caller; a stream is cut into frames of CK_FRAME_VALUES numbers, each with its own parameter.
 *
 * Caveats: nothing here allocates or checks the size of the caller's buffers, which must be
 * sized with the bounds of disk_format.h: CK_RAW_PAYLOAD_MAX for a writer's output (plus 8
 * bytes), and CK_MAX_FRAME_BYTES + 8 readable bytes past the start of every frame decoded. */
#ifndef JIALING_STORAGE_RICE_H
#define JIALING_STORAGE_RICE_H

#include <stddef.h>
#include <stdint.h>

#include "disk_format.h"

/* Frames in a stream of CK_MAX_READINGS numbers at most: the size of a parameter array. */
#define RICE_MAX_FRAMES ((CK_MAX_READINGS + CK_FRAME_VALUES - 1) / CK_FRAME_VALUES)

/* An LSB-first bit writer over a caller-owned buffer; start it as {.data = buffer}. Between
 * calls, pos counts whole bytes written and up to 31 bits wait in acc. */
typedef struct rice_writer {
    uint8_t *data;  /* output; large enough for the whole stream plus 8 bytes (caller's) */
    size_t pos;     /* bytes written */
    uint64_t acc;   /* pending bits, LSB first */
    unsigned nbits; /* pending bit count, < 32 between calls */
} rice_writer;

/* Pads the stream with zero bits to a byte boundary and writes out the pending bits; after it,
 * pos is the stream's length and the caller may append bytes at data + pos. */
void rice_flush(rice_writer *w);

/* Bits rice_encode() would write for z[0..n); stores each frame's chosen parameter in
 * ks[0..ceil(n / CK_FRAME_VALUES)) so that rice_encode() can reuse them. Cannot fail. */
uint64_t rice_stream_cost(const uint64_t *z, size_t n, uint8_t *ks);

/* Appends z[0..n) as Rice-coded frames, with the parameters ks from rice_stream_cost() (NULL:
 * chosen here, the same way). Cannot fail: the caller sized the buffer. */
void rice_encode(rice_writer *w, const uint64_t *z, size_t n, const uint8_t *ks);

/* Decodes one frame of n <= CK_FRAME_VALUES numbers starting at bit *pos of buf into
 * z[0..n) and advances *pos past it. buf must have CK_MAX_FRAME_BYTES + 8 readable bytes past
 * the frame's start (the decoder pads its buffer); the caller compares *pos with the stream's
 * real end afterwards. Returns 1 when every number is 0 (a steady cadence), 0 for other frames,
 * or -1 when the frame cannot have been written by rice_encode() (which also bounds how far it
 * reads); *pos is then unchanged. */
int rice_decode_frame(const uint8_t *buf, uint64_t *pos, size_t n, uint64_t *z);

#endif
