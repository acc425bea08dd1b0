/* HJ 212 framing: the streaming splitter, the CRC-16 and the frame encoder (jialing/hj212.h).
 *
 * The framer keeps the bytes from a candidate "##" on in a fixed buffer and decides as early as
 * it can: a length field that is not digits, a declared length over the maximum, or a CR, LF or
 * "##" inside the declared segment end the candidate at once, so a corrupt frame never holds
 * back the good one after it. A frame is accepted as soon as its 4 CRC digits are in: the CRLF
 * is not waited for (it may be missing), and CR/LF between frames are skipped silently. */
#include "jialing/hj212.h"

#include <string.h>

uint16_t hj_crc16(const void *data, size_t len)
{
    const unsigned char *p = data;
    unsigned crc = 0xFFFF;
    for (size_t i = 0; i < len; i++) {
        crc = (crc >> 8) ^ p[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1;
    }
    return (uint16_t)crc;
}

int hj_frame_encode(const char *segment, size_t len, jl_buf *out)
{
    if (len > HJ_SEGMENT_MAX)
        return JL_EINVAL;
    int rc = jl_buf_printf(out, "##%04u", (unsigned)len);
    if (rc == JL_OK)
        rc = jl_buf_append(out, segment, len);
    if (rc == JL_OK)
        rc = jl_buf_printf(out, "%04X\r\n", (unsigned)hj_crc16(segment, len));
    return rc;
}

void hj_framer_init(hj_framer *framer)
{
    memset(framer, 0, sizeof *framer);
}

static void consume(hj_framer *f, size_t n)
{
    memmove(f->buf, f->buf + n, f->len - n);
    f->len -= n;
    f->checked = 0; /* a new candidate starts */
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Takes every decision the buffered bytes allow; returns when more input is needed. */
static void process(hj_framer *f, hj_frame_fn fn, void *ctx)
{
    for (;;) {
        size_t i = 0;
        while (i < f->len && f->buf[i] != '#') {
            if (f->buf[i] != '\r' && f->buf[i] != '\n')
                f->counters.garbage_bytes++;
            i++;
        }
        if (i > 0) {
            consume(f, i);
            continue;
        }
        if (f->len < 2)
            return;
        /* a lone '#', or the first of "###": the frame starts at the last '#' of a run */
        if (f->buf[1] != '#' || (f->len >= 3 && f->buf[2] == '#')) {
            f->counters.garbage_bytes++;
            consume(f, 1);
            continue;
        }
        /* the length digits seen so far */
        size_t have_digits = f->len < 6 ? f->len - 2 : 4;
        int digits_ok = 1;
        for (size_t d = 0; d < have_digits; d++)
            digits_ok &= is_digit(f->buf[2 + d]);
        if (!digits_ok) {
            f->counters.bad_length++;
            consume(f, 2);
            continue;
        }
        if (have_digits < 4)
            return;
        size_t seg_len = (size_t)((f->buf[2] - '0') * 1000 + (f->buf[3] - '0') * 100 +
                                  (f->buf[4] - '0') * 10 + (f->buf[5] - '0'));
        if (seg_len > HJ_SEGMENT_MAX) {
            f->counters.too_long++;
            consume(f, 2);
            continue;
        }
        /* a segment never holds CR, LF or "##": seeing one means the length was wrong. Bytes
         * checked on an earlier call are not scanned again (byte-by-byte feeding stays linear);
         * a '#' whose successor has not arrived yet stays unchecked. */
        size_t seg_end = 6 + seg_len;
        size_t scan_end = f->len < seg_end ? f->len : seg_end;
        size_t p = f->checked > 6 ? f->checked : 6;
        int broken = 0;
        for (; p < scan_end; p++) {
            char c = f->buf[p];
            if (c == '#' && p + 1 >= f->len)
                break;
            if (c == '\r' || c == '\n' || (c == '#' && f->buf[p + 1] == '#')) {
                broken = 1;
                break;
            }
        }
        f->checked = p;
        if (broken) {
            f->counters.bad_length++;
            consume(f, 2);
            continue;
        }
        size_t need = seg_end + 4;
        size_t have_crc = f->len < seg_end ? 0 : (f->len < need ? f->len - seg_end : 4);
        unsigned crc = 0;
        int crc_ok = 1;
        for (size_t d = 0; d < have_crc; d++) {
            int v = hex_value(f->buf[seg_end + d]);
            crc_ok &= v >= 0;
            crc = crc << 4 | (unsigned)(v < 0 ? 0 : v);
        }
        if (!crc_ok) {
            f->counters.bad_length++;
            consume(f, 2);
            continue;
        }
        if (f->len < need)
            return;
        if (crc != hj_crc16(f->buf + 6, seg_len)) {
            f->counters.bad_crc++;
            consume(f, need);
            continue;
        }
        f->counters.frames++;
        fn(ctx, f->buf + 6, seg_len);
        consume(f, need);
    }
}

void hj_framer_feed(hj_framer *framer, const void *data, size_t len, hj_frame_fn fn, void *ctx)
{
    const char *p = data;
    while (len > 0) {
        /* process() leaves fewer than HJ_FRAME_MAX bytes behind, so there is always room */
        size_t room = sizeof framer->buf - framer->len;
        size_t n = len < room ? len : room;
        memcpy(framer->buf + framer->len, p, n);
        framer->len += n;
        p += n;
        len -= n;
        process(framer, fn, ctx);
    }
}
