/* The bit codec of chunk payloads: LSB-first bit streams and the frame-wise Rice code of
 * storage/disk_format.h (section 2, "Bit streams"), which the chunk encoder and decoder use for
 * timestamps and decimal mantissas. Encoding picks each frame's parameter near the optimum for
 * its numbers; decoding unpacks a whole frame with a handful of shifts and word-wide scans per
 * number, checking bounds once per frame against a padded buffer. */
#include "rice.h"

#include <string.h>

#include "bytes.h"

static unsigned bit_width(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 1u;
}

/* Appends the low n bits of v (n <= 32, higher bits of v zero). */
static inline void bw_put(rice_writer *w, uint64_t v, unsigned n)
{
    w->acc |= v << w->nbits;
    w->nbits += n;
    if (w->nbits >= 32) {
        bytes_put_le32(w->data + w->pos, (uint32_t)w->acc);
        w->pos += 4;
        w->acc >>= 32;
        w->nbits -= 32;
    }
}

/* Appends the low n bits of v, n <= 64. */
static void bw_put_long(rice_writer *w, uint64_t v, unsigned n)
{
    if (n > 32) {
        bw_put(w, v & 0xffffffffu, 32);
        bw_put(w, (v >> 32) & ((UINT64_C(1) << (n - 32)) - 1), n - 32);
    } else if (n > 0) {
        bw_put(w, n == 32 ? v & 0xffffffffu : v & ((UINT64_C(1) << n) - 1), n);
    }
}

/* Pads to a byte boundary and writes out the pending bits. */
void rice_flush(rice_writer *w)
{
    while (w->nbits > 0) {
        w->data[w->pos++] = (uint8_t)w->acc;
        w->acc >>= 8;
        w->nbits = w->nbits > 8 ? w->nbits - 8 : 0;
    }
    w->acc = 0;
}

/* Bits z takes with Rice parameter k. */
static inline uint64_t rice_cost(uint64_t z, unsigned k)
{
    uint64_t q = z >> k;
    if (q < CK_RICE_ESCAPE)
        return q + 1 + k;
    return k + CK_RICE_ESCAPE + 1 + CK_RICE_WIDTH_BITS + bit_width(q);
}

/* Picks k near the optimum for the mean (Rice's k ~ log2(mean * ln 2)) and refines it by exact
 * cost over a few neighbours; returns k and the frame's cost in bits through *bits. */
static unsigned rice_choose_k(const uint64_t *z, size_t n, uint64_t *bits)
{
    double total = 0.0;
    uint64_t bits_seen = 0; /* at least the largest z: bounds every q from above */
    for (size_t i = 0; i < n; i++) {
        total += (double)z[i];
        bits_seen |= z[i];
    }
    double target = total / (double)n * 0.69;
    unsigned guess = target >= 1.0 ? bit_width((uint64_t)target) : 0;
    if (guess > CK_RICE_MAX_K)
        guess = CK_RICE_MAX_K;
    unsigned lo = guess > 2 ? guess - 2 : 0;
    unsigned hi = guess + 2 < CK_RICE_MAX_K ? guess + 2 : CK_RICE_MAX_K;
    unsigned best_k = lo;
    uint64_t best_cost = UINT64_MAX;
    for (unsigned k = lo; k <= hi; k++) {
        uint64_t cost = 0;
        if ((bits_seen >> k) < CK_RICE_ESCAPE) {
            /* No escapes: a branch-free sum the compiler vectorises. */
            for (size_t i = 0; i < n; i++)
                cost += z[i] >> k;
            cost += (uint64_t)n * (k + 1);
        } else {
            for (size_t i = 0; i < n; i++)
                cost += rice_cost(z[i], k);
        }
        if (cost < best_cost) {
            best_cost = cost;
            best_k = k;
        }
    }
    if (bits)
        *bits = best_cost + CK_RICE_K_BITS;
    return best_k;
}

/* Bits rice_encode would write for these numbers; stores each frame's parameter in ks, for
 * rice_encode to reuse. */
uint64_t rice_stream_cost(const uint64_t *z, size_t n, uint8_t *ks)
{
    uint64_t total = 0;
    for (size_t start = 0; start < n; start += CK_FRAME_VALUES) {
        size_t frame = n - start < CK_FRAME_VALUES ? n - start : CK_FRAME_VALUES;
        uint64_t bits;
        ks[start / CK_FRAME_VALUES] = (uint8_t)rice_choose_k(z + start, frame, &bits);
        total += bits;
    }
    return total;
}

/* Writes n numbers as Rice-coded frames (format in disk_format.h), with the parameters in ks
 * (NULL: chosen here): per frame the parameter,
 * all low parts, all unary high parts, then the exceptions. Keeping the parts apart lets the
 * decoder unpack the low parts with independent loads and walk the unary parts a word at a time,
 * instead of one long chain of dependent bit reads. */
void rice_encode(rice_writer *w, const uint64_t *z, size_t n, const uint8_t *ks)
{
    for (size_t start = 0; start < n; start += CK_FRAME_VALUES) {
        size_t end = n - start < CK_FRAME_VALUES ? n : start + CK_FRAME_VALUES;
        unsigned k = ks ? ks[start / CK_FRAME_VALUES] : rice_choose_k(z + start, end - start, NULL);
        bw_put(w, k, CK_RICE_K_BITS);
        for (size_t i = start; i < end && k > 0; i++)
            bw_put_long(w, z[i], k);
        for (size_t i = start; i < end; i++) {
            uint64_t q = z[i] >> k;
            unsigned ones = q < CK_RICE_ESCAPE ? (unsigned)q : CK_RICE_ESCAPE;
            bw_put(w, (UINT64_C(1) << ones) - 1, ones + 1);
        }
        for (size_t i = start; i < end; i++) {
            uint64_t q = z[i] >> k;
            if (q >= CK_RICE_ESCAPE) {
                unsigned width = bit_width(q);
                bw_put(w, width - 1, CK_RICE_WIDTH_BITS);
                bw_put_long(w, q, width);
            }
        }
    }
}

/* Reads n bits (n <= 64) at bit pos. */
static inline uint64_t read_bits(const uint8_t *buf, uint64_t pos, unsigned n)
{
    uint64_t low = (bytes_get_le64(buf + (pos >> 3)) >> (pos & 7)) & 0xffffffffu;
    if (n <= 32)
        return low & ((UINT64_C(1) << n) - 1) & 0xffffffffu;
    uint64_t p2 = pos + 32;
    uint64_t high = (bytes_get_le64(buf + (p2 >> 3)) >> (p2 & 7)) & ((UINT64_C(1) << (n - 32)) - 1);
    return low | high << 32;
}

#define LOW56 ((UINT64_C(1) << 56) - 1)

/* Decodes one frame of n <= CK_FRAME_VALUES numbers starting at bit *pos of buf. buf must have
 * CK_MAX_FRAME_BYTES + 8 readable bytes past the frame's start; the caller checks *pos against
 * the real end afterwards. Returns 1 when every number is 0 (k == 0, no high parts), 0 for
 * other frames, or -1 when the frame cannot have been written by rice_encode (which also bounds
 * how far it reads). */
int rice_decode_frame(const uint8_t *buf, uint64_t *pos_io, size_t n, uint64_t *z)
{
    uint64_t pos = *pos_io;
    unsigned k = (unsigned)read_bits(buf, pos, CK_RICE_K_BITS);
    pos += CK_RICE_K_BITS;
    if (k > CK_RICE_MAX_K)
        return -1;
    const uint64_t mask = (UINT64_C(1) << k) - 1;
    if (k == 0) {
        memset(z, 0, n * sizeof *z);
    } else {
        for (size_t i = 0; i < n; i++) {
            uint64_t p = pos + i * k;
            z[i] = (bytes_get_le64(buf + (p >> 3)) >> (p & 7)) & mask;
        }
        pos += n * k;
    }
    /* Unary parts: every zero bit ends one number, so the zeros of a 56-bit window (as ones of
     * its complement) give several numbers with one load. */
    unsigned exceptions = 0;
    uint64_t any_high = 0;
    size_t i = 0;
    while (i < n) {
        uint64_t ends = ~(bytes_get_le64(buf + (pos >> 3)) >> (pos & 7)) & LOW56;
        if (ends == LOW56 && n - i >= 56) {
            i += 56; /* 56 numbers with no high part: a steady cadence or a constant value */
            pos += 56;
            continue;
        }
        if (ends == 0)
            return -1;
        unsigned last = 0;
        do {
            unsigned t = (unsigned)__builtin_ctzll(ends);
            uint64_t q = t - last;
            if (q > CK_RICE_ESCAPE)
                return -1;
            exceptions += q == CK_RICE_ESCAPE;
            any_high |= q;
            z[i++] |= q << k;
            last = t + 1;
            ends &= ends - 1;
        } while (ends != 0 && i < n);
        pos += last;
    }
    for (size_t j = 0; exceptions > 0 && j < n; j++) {
        if ((z[j] >> k) != CK_RICE_ESCAPE)
            continue;
        unsigned width = (unsigned)read_bits(buf, pos, CK_RICE_WIDTH_BITS) + 1;
        pos += CK_RICE_WIDTH_BITS;
        if (width > 64 - k)
            return -1;
        z[j] = (z[j] & mask) | read_bits(buf, pos, width) << k;
        pos += width;
        exceptions--;
    }
    *pos_io = pos;
    return k == 0 && any_high == 0;
}
