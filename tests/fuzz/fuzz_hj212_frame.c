/* Fuzz target for the HJ 212 framer (query/ingest/hj212_frame.c): whatever the bytes, the
 * framer must hand out the same segments and count the same drops whether the input arrives in
 * one piece or in chunks (sizes taken from the input), every segment must fit the limit, carry
 * no CR/LF, and come back unchanged through hj_frame_encode and a fresh framer. */
#include "jialing/hj212.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct record {
    jl_buf all; /* segments, each preceded by its length as 2 bytes */
    size_t count;
} record;

static void on_frame(void *ctx, const char *segment, size_t len)
{
    record *r = ctx;
    if (len > HJ_SEGMENT_MAX || memchr(segment, '\r', len) || memchr(segment, '\n', len))
        abort();
    unsigned char head[2] = {(unsigned char)(len >> 8), (unsigned char)len};
    if (jl_buf_append(&r->all, head, 2) != JL_OK || jl_buf_append(&r->all, segment, len) != JL_OK)
        abort();
    r->count++;
}

static void check_roundtrip(const char *segment, size_t len)
{
    jl_buf frame;
    jl_buf_init(&frame);
    if (hj_frame_encode(segment, len, &frame) != JL_OK)
        abort();
    static hj_framer again;
    hj_framer_init(&again);
    record r = {{0}, 0};
    hj_framer_feed(&again, frame.data, frame.len, on_frame, &r);
    if (r.count != 1 || r.all.len != len + 2 || memcmp(r.all.data + 2, segment, len) != 0)
        abort();
    jl_buf_destroy(&r.all);
    jl_buf_destroy(&frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hj_framer whole, chunked;
    record a = {{0}, 0}, b = {{0}, 0};
    hj_framer_init(&whole);
    hj_framer_feed(&whole, data, size, on_frame, &a);

    hj_framer_init(&chunked);
    size_t step = size ? (size_t)(data[0] % 17) + 1 : 1;
    for (size_t i = 0; i < size;) {
        size_t n = size - i < step ? size - i : step;
        hj_framer_feed(&chunked, data + i, n, on_frame, &b);
        step = (size_t)(data[i] % 23) + 1;
        i += n;
    }
    if (a.count != b.count || a.all.len != b.all.len ||
        (a.all.len && memcmp(a.all.data, b.all.data, a.all.len) != 0))
        abort();
    if (memcmp(&whole.counters, &chunked.counters, sizeof whole.counters) != 0)
        abort();
    if (whole.counters.frames != a.count || whole.len >= HJ_FRAME_MAX)
        abort();
    for (size_t off = 0; off < a.all.len;) {
        size_t len =
            (size_t)((unsigned char)a.all.data[off] << 8 | (unsigned char)a.all.data[off + 1]);
        check_roundtrip(a.all.data + off + 2, len);
        off += 2 + len;
    }
    jl_buf_destroy(&a.all);
    jl_buf_destroy(&b.all);
    return 0;
}
