/* Tests of storage/rice.c, the bit codec of chunk payloads: frames worked out bit by bit from
 * the layout in storage/disk_format.h (section 2, "Bit streams"), the decoder's refusal of frames
 * the encoder cannot write, and random streams whose predicted cost is the bits written. */
#include "check.h"

#include "../../storage/rice.h"

#include <stdint.h>
#include <string.h>

/* Room for a few frames plus the padding rice_decode_frame() may read past a frame. */
#define BUF_BYTES (4 * CK_MAX_FRAME_BYTES + 64)

static uint8_t buf[BUF_BYTES];

static size_t encode_with_k(const uint64_t *z, size_t n, uint8_t k)
{
    memset(buf, 0, sizeof buf);
    rice_writer w = {.data = buf};
    uint8_t ks[1] = {k};
    rice_encode(&w, z, n, ks);
    rice_flush(&w);
    return w.pos;
}

/* z = {5, 1, 30}, k = 2: 6 bits of k (010000), low parts 10 10 01, unary parts 10, 0,
 * 11111110; 23 bits, LSB first: 0x42 0x99 0x3f. */
static void test_worked_frame(void)
{
    const uint64_t z[3] = {5, 1, 30};
    CHECK_INT(encode_with_k(z, 3, 2), 3);
    CHECK_INT(buf[0], 0x42);
    CHECK_INT(buf[1], 0x99);
    CHECK_INT(buf[2], 0x3f);
    uint64_t out[3] = {0}, pos = 0;
    CHECK_INT(rice_decode_frame(buf, &pos, 3, out), 0);
    CHECK_INT(pos, 23);
    CHECK_INT(out[0], 5);
    CHECK_INT(out[1], 1);
    CHECK_INT(out[2], 30);
}

/* z = {100}, k = 0: q = 100 >= CK_RICE_ESCAPE, so 24 one-bits and a zero, then the exception:
 * 6 bits of width - 1 = 6 and the 7 bits of 100; 44 bits: c0 ff ff 3f 83 0c. */
static void test_worked_exception(void)
{
    const uint64_t z[1] = {100};
    CHECK_INT(encode_with_k(z, 1, 0), 6);
    static const uint8_t want[6] = {0xc0, 0xff, 0xff, 0x3f, 0x83, 0x0c};
    CHECK(memcmp(buf, want, 6) == 0);
    uint64_t out[1] = {0}, pos = 0;
    CHECK_INT(rice_decode_frame(buf, &pos, 1, out), 0);
    CHECK_INT(pos, 44);
    CHECK_INT(out[0], 100);
}

/* All zeros with k = 0: one zero bit each after the 6-bit k, and the frame reports it. */
static void test_zero_frame(void)
{
    uint64_t z[CK_FRAME_VALUES] = {0};
    CHECK_INT(encode_with_k(z, CK_FRAME_VALUES, 0), (6 + CK_FRAME_VALUES + 7) / 8);
    for (size_t i = 0; i < (6 + CK_FRAME_VALUES + 7) / 8; i++)
        CHECK_INT(buf[i], 0);
    uint64_t out[CK_FRAME_VALUES], pos = 0;
    memset(out, 0xff, sizeof out);
    CHECK_INT(rice_decode_frame(buf, &pos, CK_FRAME_VALUES, out), 1);
    CHECK_INT(pos, 6 + CK_FRAME_VALUES);
    for (size_t i = 0; i < CK_FRAME_VALUES; i++)
        CHECK_INT(out[i], 0);
}

/* Frames the encoder never writes: k above CK_RICE_MAX_K, a unary run longer than the escape,
 * an exception wider than 64 - k bits. */
static void test_refused_frames(void)
{
    uint64_t out[1], pos = 0;
    memset(buf, 0, sizeof buf);
    buf[0] = CK_RICE_MAX_K + 1; /* 6-bit k = 57 */
    CHECK_INT(rice_decode_frame(buf, &pos, 1, out), -1);
    CHECK_INT(pos, 0);
    memset(buf, 0xff, 8); /* k = 0, then 58 one-bits: a unary part beyond the escape */
    buf[0] = 0xc0;
    CHECK_INT(rice_decode_frame(buf, &pos, 1, out), -1);
    /* k = 56 with an escaped q of width 8 (the most 64 - k allows), then widened. */
    memset(buf, 0, sizeof buf);
    const uint64_t z[1] = {UINT64_C(1) << 63};
    encode_with_k(z, 1, 56); /* q = 128, width 8: valid */
    pos = 0;
    CHECK_INT(rice_decode_frame(buf, &pos, 1, out), 0);
    CHECK_INT(out[0], UINT64_C(1) << 63);
    /* The width field (width - 1 = 7) sits after 6 + 56 + 25 bits; make it 14 (width 15). */
    size_t at = 6 + 56 + 25;
    buf[at / 8] ^= (uint8_t)(1u << (at % 8));             /* width - 1: 7 -> 6 */
    buf[(at + 3) / 8] ^= (uint8_t)(1u << ((at + 3) % 8)); /* 6 -> 14: width 15 > 8 */
    pos = 0;
    CHECK_INT(rice_decode_frame(buf, &pos, 1, out), -1);
}

/* Random streams of several frames and spreads: rice_stream_cost() predicts exactly the bits
 * rice_encode() writes, and every frame decodes back. */
static void test_random_streams(void)
{
    static uint64_t z[3 * CK_FRAME_VALUES + 5], out[CK_FRAME_VALUES];
    static uint8_t stream[3 * CK_FRAME_VALUES * 12 + 4 * CK_MAX_FRAME_BYTES];
    uint64_t state = 0x5eed;
    printf("  seed 0x5eed\n");
    const size_t n = sizeof z / sizeof z[0];
    for (unsigned spread = 0; spread < 64; spread += 7) {
        for (size_t i = 0; i < n; i++) {
            state = state * 6364136223846793005u + 1442695040888963407u;
            uint64_t r = state >> 1;
            z[i] = spread == 0 ? 0 : (r >> (64 - spread)) * ((i % 17) == 3 ? 1000 : 1);
        }
        uint8_t ks[RICE_MAX_FRAMES];
        uint64_t cost = rice_stream_cost(z, n, ks);
        memset(stream, 0, sizeof stream);
        rice_writer w = {.data = stream};
        rice_encode(&w, z, n, ks);
        CHECK_INT(w.pos * 8 + w.nbits, cost);
        rice_flush(&w);
        uint64_t pos = 0;
        for (size_t start = 0; start < n; start += CK_FRAME_VALUES) {
            size_t frame = n - start < CK_FRAME_VALUES ? n - start : CK_FRAME_VALUES;
            CHECK(rice_decode_frame(stream, &pos, frame, out) >= 0);
            for (size_t j = 0; j < frame; j++)
                CHECK_INT(out[j], z[start + j]);
        }
        CHECK_INT(pos, cost);
    }
}

int main(void)
{
    RUN(test_worked_frame);
    RUN(test_worked_exception);
    RUN(test_zero_frame);
    RUN(test_refused_frames);
    RUN(test_random_streams);
    return CHECK_DONE();
}
