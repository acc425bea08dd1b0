/* Chunk codec: packs a run of readings into the self-validating byte string described in
 * storage/chunk_format.h and unpacks it again; also the chunk summary (shared with the query
 * path through ck_summarize) and CRC-32C. Timestamps and decimal mantissas are Rice-coded in
 * frames, which decodes with a handful of shifts per number; the whole payload then goes
 * through LZ4, which mostly eats the long zero runs of a regular cadence. */
#include "jialing/chunk.h"

#include "disk_format.h"

#include <inttypes.h>
#include <lz4.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) &&                            \
    !defined(CK_CRC32C_SOFTWARE_ONLY)
#define CK_HAVE_HW_CRC 1
#include <nmmintrin.h>
#endif

/* CRC-32C table, byte at a time, reflected polynomial 0x82F63B78. */
static const uint32_t crc32c_table[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu, 0x26a1e7e8u,
    0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu, 0x4d43cfd0u, 0xbf284cd3u,
    0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu, 0xd7c45070u,
    0x25afd373u, 0x36ff2087u, 0xc494a384u, 0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u,
    0x5d1d08bfu, 0xaf768bbcu, 0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u,
    0x33ed7d2au, 0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau, 0x30e349b1u,
    0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu, 0x1642ae59u, 0xe4292d5au,
    0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au, 0x7da08661u, 0x8fcb0562u, 0x9c9bf696u,
    0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu, 0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u,
    0x67dafa54u, 0x95b17957u, 0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu,
    0xfe53516fu, 0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu, 0x3ac7f2ebu,
    0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u, 0x61c69362u, 0x93ad1061u,
    0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u, 0xeb1fcbadu,
    0x197448aeu, 0x0a24bb5au, 0xf84f3859u, 0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u,
    0x7198540du, 0x83f3d70eu, 0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u,
    0xa55230e6u, 0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu, 0x456cac67u,
    0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u,
    0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu, 0x92a8fc17u, 0x60c37f14u, 0x73938ce0u,
    0x81f80fe3u, 0x55326b08u, 0xa759e80bu, 0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu,
    0xf94ad42fu, 0x0b21572cu, 0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u,
    0x502036a5u, 0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u, 0x0e330a81u,
    0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du, 0x758fe5d6u, 0x87e466d5u,
    0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u,
    0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu, 0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u,
    0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu,
    0x5a048dffu, 0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u, 0x590ab964u,
    0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu,
    0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu, 0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u,
    0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u,
    0x4f48173du, 0xbd23943eu, 0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au,
    0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

static uint32_t crc32c_software(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len--)
        crc = crc32c_table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return crc;
}

#ifdef CK_HAVE_HW_CRC
__attribute__((target("sse4.2"))) static uint32_t crc32c_hardware(uint32_t crc, const uint8_t *p,
                                                                  size_t len)
{
    uint64_t wide = crc;
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        wide = _mm_crc32_u64(wide, word);
        p += 8;
        len -= 8;
    }
    uint32_t narrow = (uint32_t)wide;
    while (len--)
        narrow = _mm_crc32_u8(narrow, *p++);
    return narrow;
}
#endif

uint32_t ck_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
#ifdef CK_HAVE_HW_CRC
    if (__builtin_cpu_supports("sse4.2"))
        return ~crc32c_hardware(crc, p, len);
#endif
    return ~crc32c_software(crc, p, len);
}

/* ---- little-endian field access ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static void put_f64(uint8_t *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_u64(p, bits);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static double get_f64(const uint8_t *p)
{
    uint64_t bits = get_u64(p);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static int same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Unaligned little-endian 8-byte load; the hot path of the bit reader. */
static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint64_t zigzag(uint64_t v)
{
    return (v << 1) ^ (0 - (v >> 63));
}

static inline uint64_t unzigzag(uint64_t z)
{
    return (z >> 1) ^ (0 - (z & 1));
}

static unsigned bit_width(uint64_t v)
{
    return v ? 64u - (unsigned)__builtin_clzll(v) : 1u;
}

/* Exact powers of ten as doubles (all below 2^53, so each is exact). */
static const double pow10_table[CK_MAX_DECIMAL_EXPONENT + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
};

/* ---- segment table helpers ---- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads one LEB128 number of at most 10 bytes; -1 when it runs past end or overflows. */
static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
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

/* floor(t / period) for period >= 1. */
static int64_t period_index(int64_t t, int64_t period)
{
    int64_t q = t / period;
    return (t % period != 0 && t < 0) ? q - 1 : q;
}

/* Periods from the one holding first_ms to the one holding last_ms, both included; 0 when
 * their bounds do not fit in int64 (timestamps within a period of either end of the range),
 * which gets no table, so that readers compute every bound without overflow. */
static uint64_t period_span(int64_t first_ms, int64_t last_ms, int64_t period)
{
    int64_t first = period_index(first_ms, period), last = period_index(last_ms, period);
    if ((__int128)first * period < INT64_MIN || ((__int128)last + 1) * period - 1 > INT64_MAX)
        return 0;
    return (uint64_t)last - (uint64_t)first + 1;
}

/* ---- summary ---- */

void ck_summarize(const int64_t *timestamps_ms, const double *values, size_t count,
                  ck_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    if (count == 0)
        return;
    summary->count = (uint32_t)count;
    summary->first_ms = timestamps_ms[0];
    summary->last_ms = timestamps_ms[count - 1];
    summary->first_value = values[0];
    summary->last_value = values[count - 1];
    double min = values[0], max = values[0];
    /* Neumaier summation: the running compensation also catches the terms that are larger than
     * the running sum, which plain Kahan loses. */
    double sum = 0.0, compensation = 0.0;
    for (size_t i = 0; i < count; i++) {
        double v = values[i];
        if (v < min)
            min = v;
        if (v > max)
            max = v;
        double t = sum + v;
        if (fabs(sum) >= fabs(v))
            compensation += (sum - t) + v;
        else
            compensation += (v - t) + sum;
        sum = t;
    }
    /* Once the sum overflowed the compensation is NaN; the infinite sum is the better answer. */
    summary->sum = isfinite(sum) ? sum + compensation : sum;
    summary->min = min;
    summary->max = max;
    /* Corrected two-pass: sum of squares of deviations, minus the square of their (ideally zero)
     * sum over n, which removes most of the error of the mean itself. */
    double mean = summary->sum / (double)count;
    double squares = 0.0, deviations = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = values[i] - mean;
        squares += d * d;
        deviations += d;
    }
    double ssd = squares - deviations * deviations / (double)count;
    summary->sum_squares_dev = ssd > 0.0 ? ssd : (ssd == ssd ? 0.0 : ssd);
}

/* ---- bit writer ---- */

typedef struct bit_writer {
    uint8_t *data;  /* output; large enough for the whole stream plus 8 bytes */
    size_t pos;     /* bytes written */
    uint64_t acc;   /* pending bits, LSB first */
    unsigned nbits; /* pending bit count, < 32 between calls */
} bit_writer;

/* Appends the low n bits of v (n <= 32, higher bits of v zero). */
static inline void bw_put(bit_writer *w, uint64_t v, unsigned n)
{
    w->acc |= v << w->nbits;
    w->nbits += n;
    if (w->nbits >= 32) {
        put_u32(w->data + w->pos, (uint32_t)w->acc);
        w->pos += 4;
        w->acc >>= 32;
        w->nbits -= 32;
    }
}

/* Appends the low n bits of v, n <= 64. */
static void bw_put_long(bit_writer *w, uint64_t v, unsigned n)
{
    if (n > 32) {
        bw_put(w, v & 0xffffffffu, 32);
        bw_put(w, (v >> 32) & ((UINT64_C(1) << (n - 32)) - 1), n - 32);
    } else if (n > 0) {
        bw_put(w, n == 32 ? v & 0xffffffffu : v & ((UINT64_C(1) << n) - 1), n);
    }
}

/* Pads to a byte boundary and writes out the pending bits. */
static void bw_flush(bit_writer *w)
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

/* Frames in a stream of CK_MAX_READINGS numbers at most. */
#define CK_MAX_FRAMES ((CK_MAX_READINGS + CK_FRAME_VALUES - 1) / CK_FRAME_VALUES)

/* Bits rice_encode would write for these numbers; stores each frame's parameter in ks, for
 * rice_encode to reuse. */
static uint64_t rice_stream_cost(const uint64_t *z, size_t n, uint8_t *ks)
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

/* Writes n numbers as Rice-coded frames (format in chunk_format.h), with the parameters in ks
 * (NULL: chosen here): per frame the parameter,
 * all low parts, all unary high parts, then the exceptions. Keeping the parts apart lets the
 * decoder unpack the low parts with independent loads and walk the unary parts a word at a time,
 * instead of one long chain of dependent bit reads. */
static void rice_encode(bit_writer *w, const uint64_t *z, size_t n, const uint8_t *ks)
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
    uint64_t low = (load_le64(buf + (pos >> 3)) >> (pos & 7)) & 0xffffffffu;
    if (n <= 32)
        return low & ((UINT64_C(1) << n) - 1) & 0xffffffffu;
    uint64_t p2 = pos + 32;
    uint64_t high = (load_le64(buf + (p2 >> 3)) >> (p2 & 7)) & ((UINT64_C(1) << (n - 32)) - 1);
    return low | high << 32;
}

#define LOW56 ((UINT64_C(1) << 56) - 1)

/* Decodes one frame of n <= CK_FRAME_VALUES numbers starting at bit *pos of buf. buf must have
 * CK_MAX_FRAME_BYTES + 8 readable bytes past the frame's start; the caller checks *pos against
 * the real end afterwards. Returns 1 when every number is 0 (k == 0, no high parts), 0 for
 * other frames, or -1 when the frame cannot have been written by rice_encode (which also bounds
 * how far it reads). */
static int rice_decode_frame(const uint8_t *buf, uint64_t *pos_io, size_t n, uint64_t *z)
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
            z[i] = (load_le64(buf + (p >> 3)) >> (p & 7)) & mask;
        }
        pos += n * k;
    }
    /* Unary parts: every zero bit ends one number, so the zeros of a 56-bit window (as ones of
     * its complement) give several numbers with one load. */
    unsigned exceptions = 0;
    uint64_t any_high = 0;
    size_t i = 0;
    while (i < n) {
        uint64_t ends = ~(load_le64(buf + (pos >> 3)) >> (pos & 7)) & LOW56;
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

/* ---- encoder ---- */

/* The median of up to 63 deltas spread over the chunk: the cadence, robust to gaps. */
static uint64_t typical_delta(const uint64_t *deltas, size_t n)
{
    uint64_t sample[63];
    size_t m = n < 63 ? n : 63;
    for (size_t i = 0; i < m; i++) {
        uint64_t v = deltas[i * n / m];
        size_t j = i;
        for (; j > 0 && sample[j - 1] > v; j--)
            sample[j] = sample[j - 1];
        sample[j] = v;
    }
    return sample[m / 2];
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Division by d of numbers d divides, and the test whether it divides one, without a division
 * instruction (64-bit divides were a third of the encoder's own time on timestamps): with
 * d = 2^shift * m, m odd, x / d = (x >> shift) * m^-1 modulo 2^64 when d divides x, and m divides
 * y exactly when y * m^-1 modulo 2^64 is at most (2^64 - 1) / m. */
typedef struct exact_divisor {
    unsigned shift;
    uint64_t inverse; /* of the odd part, modulo 2^64 */
    uint64_t limit;   /* (2^64 - 1) / the odd part */
} exact_divisor;

static exact_divisor exact_divisor_of(uint64_t d)
{
    exact_divisor e = {.shift = (unsigned)__builtin_ctzll(d)};
    uint64_t odd = d >> e.shift, inverse = odd; /* right to 3 bits; each step doubles that */
    for (int i = 0; i < 5; i++)
        inverse *= 2 - odd * inverse;
    e.inverse = inverse;
    e.limit = UINT64_MAX / odd;
    return e;
}

static inline uint64_t exact_divide(const exact_divisor *e, uint64_t x)
{
    return (x >> e->shift) * e->inverse;
}

static inline int exact_divides(const exact_divisor *e, uint64_t x)
{
    return (x & ((UINT64_C(1) << e->shift) - 1)) == 0 && exact_divide(e, x) <= e->limit;
}

/* True when v == m / 10^e bitwise for m = llround(v * 10^e), |m| < 2^53; stores m. */
static int decimal_exact(double v, int e, int64_t *mantissa)
{
    double scaled = v * pow10_table[e];
    if (!(fabs(scaled) < (double)CK_MAX_MANTISSA))
        return 0;
    int64_t m = llround(scaled);
    if (!same_bits((double)m / pow10_table[e], v))
        return 0;
    *mantissa = m;
    return 1;
}

/* Finds the smallest exponent at which every value is an exact decimal and fills mantissas;
 * returns the exponent, or -1 when the float codec must be used. */
static int choose_decimal(const double *values, size_t count, int64_t *mantissas)
{
    int e = 0;
    for (size_t i = 0; i < count; i++) {
        while (!decimal_exact(values[i], e, &mantissas[i])) {
            if (++e > CK_MAX_DECIMAL_EXPONENT)
                return -1;
        }
    }
    /* Values before the last raise of e were checked at a smaller exponent: redo them. */
    for (size_t i = 0; i < count; i++) {
        if (!decimal_exact(values[i], e, &mantissas[i]))
            return -1;
    }
    return e;
}

/* Most bytes the segment table of span periods can take: the period, then per period a count
 * and at most three more numbers of 10 bytes (decimal) or three doubles (float). */
static size_t segment_table_bound(uint64_t span)
{
    return 10 + (size_t)span * 40;
}

/* Writes the segment table of the readings, which span `span` periods (2..CK_MAX_SEGMENTS),
 * to out, which holds segment_table_bound(span) bytes (layout in chunk_format.h); returns its
 * length, or 0 when a decimal sum is out of the format's range and the chunk gets no table. */
static size_t encode_segments(const int64_t *timestamps_ms, const double *values,
                              const int64_t *mantissas, size_t count, int64_t period, uint64_t span,
                              uint8_t *out)
{
    size_t len = put_varint(out, (uint64_t)period);
    __int128 end_ms = ((__int128)period_index(timestamps_ms[0], period) + 1) * period;
    uint64_t previous_count = 0, previous_min = 0;
    size_t i = 0;
    for (uint64_t segment = 0; segment < span; segment++, end_ms += period) {
        size_t begin = i;
        while (i < count && timestamps_ms[i] < end_ms)
            i++;
        uint64_t n = i - begin;
        len += put_varint(out + len, zigzag(n - previous_count));
        previous_count = n;
        if (n == 0)
            continue;
        if (mantissas == NULL) {
            ck_summary part;
            ck_summarize(timestamps_ms + begin, values + begin, n, &part);
            put_f64(out + len, part.min);
            put_f64(out + len + 8, part.max);
            put_f64(out + len + 16, part.sum);
            len += 24;
            continue;
        }
        int64_t lo = mantissas[begin], hi = lo;
        __int128 sum = 0;
        for (size_t j = begin; j < i; j++) {
            lo = mantissas[j] < lo ? mantissas[j] : lo;
            hi = mantissas[j] > hi ? mantissas[j] : hi;
            sum += mantissas[j];
        }
        __int128 above_min = sum - (__int128)lo * (__int128)n;
        if (above_min > (__int128)UINT64_MAX)
            return 0;
        len += put_varint(out + len, zigzag((uint64_t)lo - previous_min));
        previous_min = (uint64_t)lo;
        len += put_varint(out + len, (uint64_t)(hi - lo));
        len += put_varint(out + len, (uint64_t)above_min);
    }
    return len;
}

int ck_encode(const int64_t *timestamps_ms, const double *values, size_t count, jl_buf *out,
              jl_error *err)
{
    return ck_encode_segmented(timestamps_ms, values, count, 0, out, err);
}

int ck_encode_segmented(const int64_t *timestamps_ms, const double *values, size_t count,
                        int64_t segment_period_ms, jl_buf *out, jl_error *err)
{
    int rc = JL_OK;
    uint64_t *numbers = NULL;
    int64_t *mantissas = NULL;
    uint8_t *raw = NULL;
    uint8_t *table = NULL;

    if (timestamps_ms == NULL || values == NULL || out == NULL)
        return jl_error_set(err, JL_EINVAL, "chunk encoder called without readings or output");
    if (count == 0 || count > CK_MAX_READINGS)
        return jl_error_set(err, JL_EINVAL, "a chunk holds 1 to %u readings, not %zu",
                            CK_MAX_READINGS, count);
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(values[i]))
            return jl_error_set(err, JL_EINVAL,
                                "reading %zu at %" PRId64 " ms has a non-finite value", i,
                                timestamps_ms[i]);
        if (i > 0 && timestamps_ms[i] <= timestamps_ms[i - 1])
            return jl_error_set(err, JL_EINVAL,
                                "timestamps must increase strictly: reading %zu at %" PRId64
                                " ms follows %" PRId64 " ms",
                                i, timestamps_ms[i], timestamps_ms[i - 1]);
    }

    size_t raw_cap = CK_RAW_PAYLOAD_MAX(count) + 8;
    numbers = malloc(2 * count * sizeof *numbers);
    mantissas = malloc(count * sizeof *mantissas);
    raw = malloc(raw_cap);
    if (numbers == NULL || mantissas == NULL || raw == NULL) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory encoding a chunk of %zu readings", count);
        goto out;
    }

    /* Offsets from the first timestamp, in unsigned arithmetic: they span up to 2^64 - 1 for
     * arbitrary int64 input, and every later step wraps modulo 2^64 consistently with the
     * decoder, so no input overflows. */
    const uint64_t first = (uint64_t)timestamps_ms[0];
    uint64_t scale = 0;
    exact_divisor by_scale = exact_divisor_of(1);
    for (size_t i = 1; i < count && scale != 1; i++) {
        uint64_t delta = (uint64_t)timestamps_ms[i] - (uint64_t)timestamps_ms[i - 1];
        if (scale != 0 && exact_divides(&by_scale, delta))
            continue;
        scale = gcd_u64(delta, scale);
        by_scale = exact_divisor_of(scale);
    }
    if (scale == 0)
        scale = 1;
    /* Two predictors for the scaled deltas; the cheaper one is kept. Delta-of-delta is free on
     * a steady or slowly drifting cadence; "delta minus a typical delta" costs one outlier per
     * gap instead of two, and on timestamps jittered around a grid its residuals are about a
     * bit narrower. */
    uint64_t *dods = numbers, *residuals = numbers + count;
    uint64_t prev_delta = 0, prev_offset = 0;
    for (size_t i = 1; i < count; i++) {
        uint64_t offset = exact_divide(&by_scale, (uint64_t)timestamps_ms[i] - first);
        uint64_t delta = offset - prev_offset;
        dods[i - 1] = zigzag(delta - prev_delta);
        residuals[i] = delta;
        prev_delta = delta;
        prev_offset = offset;
    }
    uint8_t flags = 0;
    bit_writer writer = {.data = raw, .pos = 0, .acc = 0, .nbits = 0};
    if (count > 1) {
        uint64_t base = typical_delta(residuals + 1, count - 1);
        residuals[0] = base;
        for (size_t i = 1; i < count; i++)
            residuals[i] = zigzag(residuals[i] - base);
        uint8_t residual_ks[CK_MAX_FRAMES], dod_ks[CK_MAX_FRAMES];
        if (rice_stream_cost(residuals, count, residual_ks) <
            rice_stream_cost(dods, count - 1, dod_ks)) {
            flags |= CK_FLAG_TS_BASE;
            rice_encode(&writer, residuals, count, residual_ks);
        } else {
            rice_encode(&writer, dods, count - 1, dod_ks);
        }
        bw_flush(&writer);
    }

    int exponent = choose_decimal(values, count, mantissas);
    uint8_t codec = exponent >= 0 ? CK_CODEC_DECIMAL : CK_CODEC_FLOAT;
    if (codec == CK_CODEC_DECIMAL) {
        uint64_t prev = 0;
        for (size_t i = 0; i < count; i++) {
            numbers[i] = zigzag((uint64_t)mantissas[i] - prev);
            prev = (uint64_t)mantissas[i];
        }
        rice_encode(&writer, numbers, count, NULL);
        bw_flush(&writer);
    } else {
        exponent = 0;
        for (size_t i = 0; i < count; i++) {
            put_f64(raw + writer.pos, values[i]);
            writer.pos += 8;
        }
    }
    size_t raw_len = writer.pos;

    /* A table only when the readings span several periods (one is what the header says) and
     * not too many; period_span gives 0 when a period bound would leave int64. */
    size_t table_len = 0;
    uint64_t span = segment_period_ms > 0
                        ? period_span(timestamps_ms[0], timestamps_ms[count - 1], segment_period_ms)
                        : 0;
    if (span >= 2 && span <= CK_MAX_SEGMENTS) {
        table = malloc(segment_table_bound(span));
        if (table == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory encoding a chunk of %zu readings",
                              count);
            goto out;
        }
        table_len =
            encode_segments(timestamps_ms, values, codec == CK_CODEC_DECIMAL ? mantissas : NULL,
                            count, segment_period_ms, span, table);
    }

    int bound = LZ4_compressBound((int)raw_len);
    if (jl_buf_reserve(out, CK_HEADER_SIZE + table_len + (size_t)bound) != JL_OK) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory encoding a chunk of %zu readings", count);
        goto out;
    }
    uint8_t *header = (uint8_t *)out->data + out->len;
    uint8_t *payload = header + CK_HEADER_SIZE + table_len;
    if (table_len > 0) {
        memcpy(header + CK_HEADER_SIZE, table, table_len);
        flags |= CK_FLAG_SEGMENTS;
    }
    int packed = LZ4_compress_default((const char *)raw, (char *)payload, (int)raw_len, bound);
    size_t stored_len;
    if (packed > 0 && (size_t)packed < raw_len) {
        flags |= CK_FLAG_LZ4;
        stored_len = (size_t)packed;
    } else {
        memcpy(payload, raw, raw_len);
        stored_len = raw_len;
    }

    ck_summary summary;
    ck_summarize(timestamps_ms, values, count, &summary);
    memset(header, 0, CK_HEADER_SIZE);
    header[CK_OFF_MAGIC + 0] = CK_MAGIC_0;
    header[CK_OFF_MAGIC + 1] = CK_MAGIC_1;
    header[CK_OFF_MAGIC + 2] = CK_MAGIC_2;
    header[CK_OFF_MAGIC + 3] = CK_MAGIC_3;
    header[CK_OFF_VERSION] = CK_FORMAT_VERSION;
    header[CK_OFF_CODEC] = codec;
    header[CK_OFF_FLAGS] = flags;
    header[CK_OFF_EXPONENT] = (uint8_t)exponent;
    put_u32(header + CK_OFF_COUNT, (uint32_t)count);
    put_u32(header + CK_OFF_RAW_LEN, (uint32_t)raw_len);
    put_u32(header + CK_OFF_STORED_LEN, (uint32_t)stored_len);
    put_u32(header + CK_OFF_PAYLOAD_CRC, ck_crc32c(0, payload, stored_len));
    put_u64(header + CK_OFF_FIRST_MS, first);
    put_u64(header + CK_OFF_LAST_MS, (uint64_t)timestamps_ms[count - 1]);
    put_u64(header + CK_OFF_TS_SCALE, scale);
    put_f64(header + CK_OFF_MIN, summary.min);
    put_f64(header + CK_OFF_MAX, summary.max);
    put_f64(header + CK_OFF_SUM, summary.sum);
    put_f64(header + CK_OFF_SUM_SQUARES_DEV, summary.sum_squares_dev);
    put_f64(header + CK_OFF_FIRST_VALUE, summary.first_value);
    put_f64(header + CK_OFF_LAST_VALUE, summary.last_value);
    put_u32(header + CK_OFF_HEADER_CRC,
            ck_crc32c(ck_crc32c(0, header, CK_OFF_HEADER_CRC), header + CK_HEADER_SIZE, table_len));
    out->len += CK_HEADER_SIZE + table_len + stored_len;
    out->data[out->len] = '\0';

out:
    free(numbers);
    free(mantissas);
    free(raw);
    free(table);
    return rc;
}

/* ---- decoder ---- */

/* Header checks shared by ck_read_summary and ck_decode, in the order of chunk_format.h. On
 * success fills summary and, when wanted, the fields only the decoder needs. */
static int read_header(const uint8_t *p, size_t len, ck_summary *summary, uint64_t *scale,
                       uint32_t *raw_len, uint8_t *flags, size_t *table_len, jl_error *err)
{
    if (len < CK_HEADER_SIZE)
        return jl_error_set(err, JL_ECORRUPT,
                            "chunk of %zu bytes is shorter than its %d-byte header", len,
                            CK_HEADER_SIZE);
    if (p[0] != CK_MAGIC_0 || p[1] != CK_MAGIC_1 || p[2] != CK_MAGIC_2 || p[3] != CK_MAGIC_3)
        return jl_error_set(err, JL_ECORRUPT, "chunk has a bad magic number");
    if (p[CK_OFF_VERSION] != CK_FORMAT_VERSION)
        return jl_error_set(err, JL_ECORRUPT, "chunk has format version %u, this build reads %u",
                            p[CK_OFF_VERSION], CK_FORMAT_VERSION);
    uint8_t codec = p[CK_OFF_CODEC];
    if (codec != CK_CODEC_DECIMAL && codec != CK_CODEC_FLOAT)
        return jl_error_set(err, JL_ECORRUPT, "chunk has unknown value codec %u", codec);
    uint8_t chunk_flags = p[CK_OFF_FLAGS];
    if (chunk_flags & ~CK_FLAGS_KNOWN)
        return jl_error_set(err, JL_ECORRUPT, "chunk has unknown flags 0x%02x", chunk_flags);
    uint32_t count = get_u32(p + CK_OFF_COUNT);
    if (count < 1 || count > CK_MAX_READINGS)
        return jl_error_set(err, JL_ECORRUPT, "chunk claims %u readings (1 to %u allowed)", count,
                            CK_MAX_READINGS);
    uint32_t raw = get_u32(p + CK_OFF_RAW_LEN);
    uint32_t stored = get_u32(p + CK_OFF_STORED_LEN);
    /* The segment table, when flagged, fills the bytes between header and payload. */
    size_t table = (chunk_flags & CK_FLAG_SEGMENTS) ? len - CK_HEADER_SIZE - stored : 0;
    if (stored > len - CK_HEADER_SIZE || table != len - CK_HEADER_SIZE - stored ||
        ((chunk_flags & CK_FLAG_SEGMENTS) &&
         (table < 2 || table > segment_table_bound(CK_MAX_SEGMENTS))))
        return jl_error_set(err, JL_ECORRUPT,
                            "chunk payload length %u does not match the %zu bytes after the header",
                            stored, len - CK_HEADER_SIZE);
    if (raw > CK_RAW_PAYLOAD_MAX(count) ||
        ((chunk_flags & CK_FLAG_LZ4) ? stored >= raw : stored != raw))
        return jl_error_set(
            err, JL_ECORRUPT,
            "chunk payload lengths are inconsistent (raw %u, stored %u, %u readings)", raw, stored,
            count);
    if (get_u32(p + CK_OFF_HEADER_CRC) !=
        ck_crc32c(ck_crc32c(0, p, CK_OFF_HEADER_CRC), p + CK_HEADER_SIZE, table))
        return jl_error_set(err, JL_ECORRUPT, "chunk header checksum mismatch");
    int64_t first_ms = (int64_t)get_u64(p + CK_OFF_FIRST_MS);
    int64_t last_ms = (int64_t)get_u64(p + CK_OFF_LAST_MS);
    uint64_t ts_scale = get_u64(p + CK_OFF_TS_SCALE);
    int8_t exponent = (int8_t)p[CK_OFF_EXPONENT];
    if (first_ms > last_ms || (count == 1) != (first_ms == last_ms) || ts_scale == 0 ||
        (count == 1 && (chunk_flags & CK_FLAG_TS_BASE)) || exponent < 0 ||
        exponent > (codec == CK_CODEC_DECIMAL ? CK_MAX_DECIMAL_EXPONENT : 0))
        return jl_error_set(err, JL_ECORRUPT, "chunk header fields are inconsistent");
    uint64_t period = 0, span = 0;
    if (table > 0) {
        const uint8_t *at = p + CK_HEADER_SIZE;
        if (get_varint(&at, at + table, &period) != 0 || period < 1 || period > INT64_MAX ||
            (span = period_span(first_ms, last_ms, (int64_t)period)) < 2 || span > CK_MAX_SEGMENTS)
            return jl_error_set(err, JL_ECORRUPT, "chunk segment table has a bad period");
    }

    summary->count = count;
    summary->first_ms = first_ms;
    summary->last_ms = last_ms;
    summary->min = get_f64(p + CK_OFF_MIN);
    summary->max = get_f64(p + CK_OFF_MAX);
    summary->sum = get_f64(p + CK_OFF_SUM);
    summary->sum_squares_dev = get_f64(p + CK_OFF_SUM_SQUARES_DEV);
    summary->first_value = get_f64(p + CK_OFF_FIRST_VALUE);
    summary->last_value = get_f64(p + CK_OFF_LAST_VALUE);
    summary->codec = codec;
    summary->decimal_exponent = exponent;
    summary->payload_bytes = stored;
    summary->segment_period_ms = (int64_t)period;
    summary->segment_count = (uint32_t)span;
    if (table_len)
        *table_len = table;
    if (scale)
        *scale = ts_scale;
    if (raw_len)
        *raw_len = raw;
    if (flags)
        *flags = chunk_flags;
    return JL_OK;
}

int ck_read_summary(const void *data, size_t len, ck_summary *summary, jl_error *err)
{
    if (data == NULL)
        return jl_error_set(err, JL_ECORRUPT, "chunk is missing");
    return read_header(data, len, summary, NULL, NULL, NULL, NULL, err);
}

int ck_read_segments(const void *data, size_t len, ck_segment *segments, size_t capacity,
                     size_t *count, jl_error *err)
{
    ck_summary s;
    size_t table_len = 0;
    *count = 0;
    if (data == NULL)
        return jl_error_set(err, JL_ECORRUPT, "chunk is missing");
    int rc = read_header(data, len, &s, NULL, NULL, NULL, &table_len, err);
    if (rc != JL_OK)
        return rc;
    if (s.segment_count == 0)
        return JL_OK;
    const uint8_t *at = (const uint8_t *)data + CK_HEADER_SIZE;
    const uint8_t *end = at + table_len;
    uint64_t period;
    get_varint(&at, end, &period); /* checked by read_header */
    const int64_t step = s.segment_period_ms;
    /* In range (period_span); unsigned because the end of the last period may be 2^63. */
    uint64_t start = (uint64_t)(period_index(s.first_ms, step) * step);
    uint64_t previous_count = 0, previous_min = 0, total = 0;
    double lowest = 0, highest = 0;
    size_t filled = 0;
    for (uint32_t segment = 0; segment < s.segment_count; segment++, start += (uint64_t)step) {
        uint64_t coded, n;
        if (get_varint(&at, end, &coded) != 0)
            goto corrupt;
        n = previous_count + unzigzag(coded);
        previous_count = n;
        if (n > s.count - total || (n == 0 && (segment == 0 || segment + 1 == s.segment_count)))
            goto corrupt;
        total += n;
        if (n == 0)
            continue;
        ck_segment g = {.start_ms = (int64_t)start, .count = (uint32_t)n};
        if (s.codec == CK_CODEC_FLOAT) {
            if (end - at < 24)
                goto corrupt;
            g.min = get_f64(at);
            g.max = get_f64(at + 8);
            g.sum = get_f64(at + 16);
            at += 24;
        } else {
            uint64_t delta, range, above_min;
            if (get_varint(&at, end, &delta) != 0 || get_varint(&at, end, &range) != 0 ||
                get_varint(&at, end, &above_min) != 0)
                goto corrupt;
            int64_t lo = (int64_t)(previous_min + unzigzag(delta));
            previous_min = (uint64_t)lo;
            /* Some reading is the min and some the max: the sum above the min is at least the
             * range and at most range * (n - 1); one reading has neither range nor sum. */
            if (lo <= -CK_MAX_MANTISSA || lo >= CK_MAX_MANTISSA ||
                range >= (uint64_t)(CK_MAX_MANTISSA - lo) || above_min < range ||
                (unsigned __int128)above_min > (unsigned __int128)range * (n - 1))
                goto corrupt;
            const double divisor = pow10_table[s.decimal_exponent];
            g.min = (double)lo / divisor;
            g.max = (double)(lo + (int64_t)range) / divisor;
            g.sum = (double)((__int128)lo * (__int128)n + (__int128)above_min) / divisor;
        }
        if (!(g.min >= s.min && g.max <= s.max && g.min <= g.max) || isnan(g.sum) ||
            (n == 1 && !(g.min == g.max && g.sum == g.min)))
            goto corrupt;
        /* A float sum lies within n * min .. n * max, give or take rounding (and may overflow
         * only where those bounds do). */
        const double slack = 1e-9 * (fabs(g.min) + fabs(g.max)) * (double)n;
        if (s.codec == CK_CODEC_FLOAT && isfinite((double)n * g.min) &&
            isfinite((double)n * g.max) &&
            !(g.sum >= (double)n * g.min - slack && g.sum <= (double)n * g.max + slack))
            goto corrupt;
        lowest = filled == 0 || g.min < lowest ? g.min : lowest;
        highest = filled == 0 || g.max > highest ? g.max : highest;
        if (filled == capacity)
            return jl_error_set(err, JL_ELIMIT, "chunk has more segments than room for %zu",
                                capacity);
        segments[filled++] = g;
    }
    /* The header's extremes are some period's. */
    if (total != s.count || at != end || lowest != s.min || highest != s.max)
        goto corrupt;
    *count = filled;
    return JL_OK;
corrupt:
    return jl_error_set(err, JL_ECORRUPT, "chunk segment table is malformed");
}

/* Bytes of zero padding after the raw payload: one frame's worst case plus a load's width, so
 * the frame decoder checks bounds per frame only. */
#define DECODE_PADDING (CK_MAX_FRAME_BYTES + 16)

int ck_decode(const void *data, size_t len, int64_t *timestamps_ms, double *values, size_t capacity,
              size_t *count, jl_error *err)
{
    int rc = JL_OK;
    uint8_t *scratch = NULL;
    ck_summary s;
    uint64_t scale;
    uint32_t raw_len;
    uint8_t flags;

    if (count)
        *count = 0;
    if (data == NULL)
        return jl_error_set(err, JL_ECORRUPT, "chunk is missing");
    size_t table_len = 0;
    rc = read_header(data, len, &s, &scale, &raw_len, &flags, &table_len, err);
    if (rc != JL_OK)
        return rc;
    const uint8_t *stored = (const uint8_t *)data + CK_HEADER_SIZE + table_len;
    if (get_u32((const uint8_t *)data + CK_OFF_PAYLOAD_CRC) !=
        ck_crc32c(0, stored, s.payload_bytes))
        return jl_error_set(err, JL_ECORRUPT, "chunk payload checksum mismatch");
    if (s.count > capacity)
        return jl_error_set(err, JL_ELIMIT, "chunk holds %u readings, room for only %zu", s.count,
                            capacity);
    if (timestamps_ms == NULL || values == NULL)
        return jl_error_set(err, JL_EINVAL, "chunk decoder called without output arrays");

    scratch = malloc((size_t)raw_len + DECODE_PADDING);
    if (scratch == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory decoding a chunk");
    if (flags & CK_FLAG_LZ4) {
        int got = LZ4_decompress_safe((const char *)stored, (char *)scratch, (int)s.payload_bytes,
                                      (int)raw_len);
        if (got != (int)raw_len) {
            rc = jl_error_set(err, JL_ECORRUPT,
                              "chunk payload does not decompress to its %u raw bytes", raw_len);
            goto out;
        }
    } else {
        memcpy(scratch, stored, raw_len);
    }
    memset(scratch + raw_len, 0, DECODE_PADDING);

    const uint64_t end_bits = (uint64_t)raw_len * 8;
    const size_t n = s.count;
    uint64_t z[CK_FRAME_VALUES];
    uint64_t pos = 0;
    int bad = 0;

    /* Timestamps: delta = previous delta + number (delta-of-delta), or base + number when the
     * stream starts with a base delta; both as one branch-free update. */
    const uint64_t first = (uint64_t)s.first_ms;
    const int with_base = (flags & CK_FLAG_TS_BASE) != 0;
    const uint64_t keep = with_base ? 0 : ~(uint64_t)0;
    const size_t ts_numbers = n - 1 + (size_t)with_base;
    uint64_t base = 0, delta = 0, offset = 0;
    int64_t prev_ts = s.first_ms;
    size_t out_i = 1;
    timestamps_ms[0] = s.first_ms;
    for (size_t start = 0; start < ts_numbers; start += CK_FRAME_VALUES) {
        size_t frame = ts_numbers - start < CK_FRAME_VALUES ? ts_numbers - start : CK_FRAME_VALUES;
        int zeros = rice_decode_frame(scratch, &pos, frame, z);
        if (zeros < 0 || pos > end_bits) {
            rc = jl_error_set(err, JL_ECORRUPT, "chunk timestamp stream is malformed");
            goto out;
        }
        if (zeros && !(start == 0 && with_base)) {
            /* A steady cadence: an arithmetic sequence, increasing iff the step is positive
             * and the last one does not pass INT64_MAX. */
            delta = (delta & keep) + base;
            uint64_t step = delta * scale;
            bad |= (int64_t)step <= 0 ||
                   step > ((uint64_t)INT64_MAX - (uint64_t)prev_ts) / (uint64_t)frame;
            for (size_t j = 0; j < frame; j++)
                timestamps_ms[out_i + j] = (int64_t)((uint64_t)prev_ts + step * (j + 1));
            out_i += frame;
            offset += delta * frame;
            prev_ts = timestamps_ms[out_i - 1];
            continue;
        }
        size_t j = 0;
        if (start == 0 && with_base)
            base = z[j++];
        for (; j < frame; j++) {
            delta = (delta & keep) + base + unzigzag(z[j]);
            offset += delta;
            int64_t ts = (int64_t)(first + offset * scale);
            bad |= ts <= prev_ts;
            timestamps_ms[out_i++] = ts;
            prev_ts = ts;
        }
    }
    if (bad || prev_ts != s.last_ms) {
        rc = jl_error_set(err, JL_ECORRUPT,
                          "chunk timestamps do not increase strictly to the header's last_ms");
        goto out;
    }

    /* Values. */
    pos = (pos + 7) & ~(uint64_t)7;
    if (s.codec == CK_CODEC_DECIMAL) {
        const double divisor = pow10_table[s.decimal_exponent];
        uint64_t mantissa = 0;
        for (size_t start = 0; start < n; start += CK_FRAME_VALUES) {
            size_t frame = n - start < CK_FRAME_VALUES ? n - start : CK_FRAME_VALUES;
            if (rice_decode_frame(scratch, &pos, frame, z) < 0 || pos > end_bits) {
                rc = jl_error_set(err, JL_ECORRUPT, "chunk value stream is malformed");
                goto out;
            }
            for (size_t j = 0; j < frame; j++) {
                mantissa += unzigzag(z[j]);
                values[start + j] = (double)(int64_t)mantissa / divisor;
            }
        }
        pos = (pos + 7) & ~(uint64_t)7;
    } else {
        if (pos > end_bits || end_bits - pos < (uint64_t)n * 64) {
            rc = jl_error_set(err, JL_ECORRUPT, "chunk value section is truncated");
            goto out;
        }
        const uint8_t *p = scratch + (pos >> 3);
        for (size_t i = 0; i < n; i++) {
            double v;
            uint64_t bits = load_le64(p + 8 * i);
            memcpy(&v, &bits, sizeof v);
            bad |= !isfinite(v);
            values[i] = v;
        }
        pos += (uint64_t)n * 64;
    }
    if (pos != end_bits) {
        rc = jl_error_set(err, JL_ECORRUPT, "chunk payload has %" PRIu64 " bytes, decoded %" PRIu64,
                          end_bits / 8, pos / 8);
        goto out;
    }
    if (bad || !same_bits(values[0], s.first_value) || !same_bits(values[n - 1], s.last_value)) {
        rc = jl_error_set(err, JL_ECORRUPT, "chunk values do not match the header");
        goto out;
    }
    if (count)
        *count = n;

out:
    free(scratch);
    return rc;
}
