/* Byte access for everything storage writes to disk (storage-internal, header only): fixed-width
 * little- and big-endian integers, doubles as the little-endian bytes of their IEEE-754 bit
 * pattern, zigzag and LEB128 varints. Fields are read and written through these, never through
 * a struct memcpy, so layouts do not depend on padding or on the host's byte order. Callers own
 * every buffer and check its length first: nothing here checks bounds except
 * bytes_get_varint, which is given the end. */
#ifndef JIALING_STORAGE_BYTES_H
#define JIALING_STORAGE_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Bytes a LEB128 varint of a 64-bit number takes at most. */
#define BYTES_VARINT_MAX 10

static inline void bytes_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void bytes_put_le64(uint8_t *p, uint64_t v)
{
    bytes_put_le32(p, (uint32_t)v);
    bytes_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t bytes_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An unaligned 8-byte load: one instruction on little-endian hosts, which matters because the
 * bit reader of storage/rice.c calls it for every few numbers it decodes. */
static inline uint64_t bytes_get_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Big endian, for keys that must sort as numbers do. */
static inline void bytes_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void bytes_put_be64(uint8_t *p, uint64_t v)
{
    bytes_put_be32(p, (uint32_t)(v >> 32));
    bytes_put_be32(p + 4, (uint32_t)v);
}

static inline uint32_t bytes_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t bytes_get_be64(const uint8_t *p)
{
    return (uint64_t)bytes_get_be32(p) << 32 | bytes_get_be32(p + 4);
}

static inline void bytes_put_f64(uint8_t *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bytes_put_le64(p, bits);
}

static inline double bytes_get_f64(const uint8_t *p)
{
    uint64_t bits = bytes_get_le64(p);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* Bitwise equality of doubles: what a decoder must give back (-0.0 is not 0.0). */
static inline int bytes_same_f64(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Zigzag maps a two's-complement difference to a small unsigned number: 0, -1, 1, -2, ... to
 * 0, 1, 2, 3, ... Both directions work modulo 2^64. */
static inline uint64_t bytes_zigzag(uint64_t v)
{
    return (v << 1) ^ (0 - (v >> 63));
}

static inline uint64_t bytes_unzigzag(uint64_t z)
{
    return (z >> 1) ^ (0 - (z & 1));
}

/* Writes v as a LEB128 varint (7 bits a byte, low first, high bit set on all but the last) to
 * p, which has BYTES_VARINT_MAX bytes; returns the bytes written. */
static inline size_t bytes_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads one varint from [*p, end) and advances *p past it; returns 0, or -1 when it runs past
 * end, is longer than BYTES_VARINT_MAX bytes or overflows 64 bits (*v is then unchanged). */
static inline int bytes_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t value = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t byte = *(*p)++;
        if (shift == 63 && byte > 1)
            return -1;
        value |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *v = value;
            return 0;
        }
    }
    return -1;
}

#endif
