/* Tests of query/ingest/hj212_frame.c: the HJ 212 CRC, the frame encoder and the streaming
 * framer. Frames are built by an encoder written here (its own CRC and framing), and the CRC is
 * pinned to a value worked out by hand and to the example frame printed in HJ 212-2017. */
#include "check.h"

#include "jialing/hj212.h"

#include <stdlib.h>

/* Reference CRC, written from the standard's description: register 0xFFFF, the byte xored into
 * the register's high byte moved down, then eight right shifts with 0xA001 on a carry out. */
static unsigned ref_crc(const char *s, size_t n)
{
    unsigned r = 0xFFFFu;
    for (size_t i = 0; i < n; i++) {
        r = (r >> 8) ^ (unsigned char)s[i];
        for (int k = 0; k < 8; k++) {
            unsigned carry = r & 1u;
            r >>= 1;
            if (carry)
                r ^= 0xA001u;
        }
    }
    return r & 0xFFFFu;
}

/* Reference framing into a static buffer; lower selects lower-case CRC digits, crlf how many
 * "\r\n" follow. Returns the frame length. */
static size_t ref_frame(char *out, size_t cap, const char *seg, int lower, int crlf)
{
    size_t n = strlen(seg);
    int len =
        snprintf(out, cap, lower ? "##%04zu%s%04x" : "##%04zu%s%04X", n, seg, ref_crc(seg, n));
    for (int i = 0; i < crlf; i++)
        len += snprintf(out + len, cap - (size_t)len, "\r\n");
    return (size_t)len;
}

/* Frames the callback received, each NUL-terminated. */
typedef struct got {
    int count;
    char seg[8][HJ_SEGMENT_MAX + 1];
} got;

static void on_frame(void *ctx, const char *segment, size_t len)
{
    got *g = ctx;
    if (g->count < 8) {
        memcpy(g->seg[g->count], segment, len);
        g->seg[g->count][len] = '\0';
    }
    g->count++;
}

static const char *seg_a = "QN=20250101120000000;ST=22;CN=2011;PW=123456;MN=ABC;Flag=5;"
                           "CP=&&DataTime=20250101120000;a34004-Rtd=35.2,a34004-Flag=N&&";
static const char *seg_b = "ST=32;CN=2011;PW=123456;MN=X1;CP=&&DataTime=20050101000000;B02-Rtd=1&&";
static const char *seg_c = "QN=20250101120001000;ST=91;CN=9014;PW=1;MN=M;Flag=4;CP=&&&&";

static void test_crc_known_values(void)
{
    /* Worked by hand: 0xFFFF -> (0xFF ^ 0x41) = 0x00BE, then shifts
     * 005F, A02E, 5017, 880A, 4405, 8203, E100, 7080. */
    CHECK_INT(hj_crc16("A", 1), 0x7080);
    CHECK_INT(ref_crc("A", 1), 0x7080);
    CHECK_INT(hj_crc16("", 0), 0xFFFF);
    /* The example frame of HJ 212-2017 (a 1062 request): length 0101, CRC 1C80. */
    const char *example =
        "QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
        "Flag=5;CP=&&RtdInterval=30&&";
    CHECK_INT(strlen(example), 101);
    CHECK_INT(hj_crc16(example, strlen(example)), 0x1C80);
    CHECK_INT(ref_crc(example, strlen(example)), 0x1C80);
    /* and the framer accepts the published frame as printed */
    const char *frame =
        "##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
        "Flag=5;CP=&&RtdInterval=30&&1C80\r\n";
    hj_framer f;
    hj_framer_init(&f);
    got g = {0};
    hj_framer_feed(&f, frame, strlen(frame), on_frame, &g);
    CHECK_INT(g.count, 1);
    CHECK_STR(g.seg[0], example);
    /* random segments agree with the reference */
    srand(212);
    char buf[300];
    for (int t = 0; t < 200; t++) {
        size_t n = (size_t)(rand() % 300);
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(rand() & 0xff);
        CHECK_INT(hj_crc16(buf, n), ref_crc(buf, n));
    }
}

static void test_encode(void)
{
    jl_buf out;
    jl_buf_init(&out);
    char want[2048];
    size_t wn = ref_frame(want, sizeof want, seg_a, 0, 1);
    CHECK_INT(hj_frame_encode(seg_a, strlen(seg_a), &out), JL_OK);
    CHECK_INT(out.len, wn);
    CHECK(out.len == wn && memcmp(out.data, want, wn) == 0);
    out.len = 0;
    CHECK_INT(hj_frame_encode("", 0, &out), JL_OK);
    CHECK_INT(out.len, 12);
    CHECK(memcmp(out.data, "##0000FFFF\r\n", 12) == 0);
    char big[HJ_SEGMENT_MAX + 1];
    memset(big, 'x', sizeof big);
    out.len = 0;
    CHECK_INT(hj_frame_encode(big, sizeof big, &out), JL_EINVAL);
    CHECK_INT(hj_frame_encode(big, HJ_SEGMENT_MAX, &out), JL_OK);
    CHECK_INT(out.len, HJ_SEGMENT_MAX + 12);
    jl_buf_destroy(&out);
}

static void test_sticky_and_split(void)
{
    char stream[4096];
    size_t n = 0;
    n += ref_frame(stream + n, sizeof stream - n, seg_a, 0, 1);
    n += ref_frame(stream + n, sizeof stream - n, seg_b, 0, 1);
    n += ref_frame(stream + n, sizeof stream - n, seg_c, 0, 1);
    /* all three in one read */
    hj_framer f;
    hj_framer_init(&f);
    got g = {0};
    hj_framer_feed(&f, stream, n, on_frame, &g);
    CHECK_INT(g.count, 3);
    CHECK_STR(g.seg[0], seg_a);
    CHECK_STR(g.seg[1], seg_b);
    CHECK_STR(g.seg[2], seg_c);
    CHECK_INT(f.counters.frames, 3);
    CHECK_INT(f.counters.garbage_bytes, 0);
    /* byte by byte */
    hj_framer_init(&f);
    memset(&g, 0, sizeof g);
    for (size_t i = 0; i < n; i++)
        hj_framer_feed(&f, stream + i, 1, on_frame, &g);
    CHECK_INT(g.count, 3);
    CHECK_STR(g.seg[0], seg_a);
    CHECK_STR(g.seg[1], seg_b);
    CHECK_STR(g.seg[2], seg_c);
    /* every chunk size from 2 to 40 */
    for (size_t chunk = 2; chunk <= 40; chunk++) {
        hj_framer_init(&f);
        memset(&g, 0, sizeof g);
        for (size_t i = 0; i < n; i += chunk)
            hj_framer_feed(&f, stream + i, n - i < chunk ? n - i : chunk, on_frame, &g);
        CHECK_INT(g.count, 3);
        CHECK_STR(g.seg[2], seg_c);
        CHECK_INT(f.counters.bad_length + f.counters.bad_crc + f.counters.too_long, 0);
    }
}

static void test_garbage_crlf_lowercase(void)
{
    char stream[4096];
    size_t n = 0;
    memcpy(stream, "xx#junk\r\n", 9);
    n = 9;
    n += ref_frame(stream + n, sizeof stream - n, seg_a, 1, 0); /* lower case, no CRLF */
    n += ref_frame(stream + n, sizeof stream - n, seg_b, 0, 2); /* doubled CRLF */
    memcpy(stream + n, "###", 3);                               /* extra '#' before the "##" */
    n += 1;
    n += ref_frame(stream + n, sizeof stream - n, seg_c, 1, 1);
    hj_framer f;
    hj_framer_init(&f);
    got g = {0};
    hj_framer_feed(&f, stream, n, on_frame, &g);
    CHECK_INT(g.count, 3);
    CHECK_STR(g.seg[0], seg_a);
    CHECK_STR(g.seg[1], seg_b);
    CHECK_STR(g.seg[2], seg_c);
    /* "xx", "#", "junk" and the extra '#': 8 bytes; CR/LF not counted */
    CHECK_INT(f.counters.garbage_bytes, 8);
    CHECK_INT(f.counters.bad_length + f.counters.bad_crc + f.counters.too_long, 0);
}

static void test_bad_crc_and_length(void)
{
    char stream[4096], one[2048];
    size_t n = 0;
    /* bad CRC: last CRC digit changed */
    size_t k = ref_frame(one, sizeof one, seg_a, 0, 1);
    one[k - 3] = one[k - 3] == '0' ? '1' : '0';
    memcpy(stream + n, one, k);
    n += k;
    n += ref_frame(stream + n, sizeof stream - n, seg_b, 0, 1);
    /* length one too small */
    k = ref_frame(one, sizeof one, seg_c, 0, 1);
    snprintf(one + 2, 5, "%04zu", strlen(seg_c) - 1);
    one[6] = 'Q'; /* snprintf's NUL overwrote the segment's first byte */
    memcpy(stream + n, one, k);
    n += k;
    n += ref_frame(stream + n, sizeof stream - n, seg_b, 0, 1);
    /* length one too large */
    k = ref_frame(one, sizeof one, seg_c, 0, 1);
    snprintf(one + 2, 5, "%04zu", strlen(seg_c) + 1);
    one[6] = 'Q';
    memcpy(stream + n, one, k);
    n += k;
    n += ref_frame(stream + n, sizeof stream - n, seg_b, 0, 1);
    /* length not digits */
    memcpy(stream + n, "##00a1", 6);
    n += 6;
    n += ref_frame(stream + n, sizeof stream - n, seg_c, 0, 1);

    for (int bytewise = 0; bytewise < 2; bytewise++) {
        hj_framer f;
        hj_framer_init(&f);
        got g = {0};
        if (bytewise)
            for (size_t i = 0; i < n; i++)
                hj_framer_feed(&f, stream + i, 1, on_frame, &g);
        else
            hj_framer_feed(&f, stream, n, on_frame, &g);
        CHECK_INT(g.count, 4);
        CHECK_STR(g.seg[0], seg_b);
        CHECK_STR(g.seg[1], seg_b);
        CHECK_STR(g.seg[2], seg_b);
        CHECK_STR(g.seg[3], seg_c);
        CHECK_INT(f.counters.frames, 4);
        CHECK_INT(f.counters.bad_crc, 1);
        CHECK_INT(f.counters.bad_length, 3);
        CHECK_INT(f.counters.too_long, 0);
    }
}

static void test_over_long(void)
{
    /* a 1025-byte segment with a correct CRC is refused; the next frame still comes through */
    static char big[HJ_SEGMENT_MAX + 2], stream[4096];
    memset(big, 'x', HJ_SEGMENT_MAX + 1);
    big[HJ_SEGMENT_MAX + 1] = '\0';
    size_t n = ref_frame(stream, sizeof stream, big, 0, 1);
    CHECK(memcmp(stream, "##1025", 6) == 0);
    n += ref_frame(stream + n, sizeof stream - n, seg_a, 0, 1);
    /* exactly HJ_SEGMENT_MAX is fine */
    big[HJ_SEGMENT_MAX] = '\0';
    n += ref_frame(stream + n, sizeof stream - n, big, 0, 1);
    hj_framer f;
    hj_framer_init(&f);
    got g = {0};
    hj_framer_feed(&f, stream, n, on_frame, &g);
    CHECK_INT(g.count, 2);
    CHECK_STR(g.seg[0], seg_a);
    CHECK_INT(strlen(g.seg[1]), HJ_SEGMENT_MAX);
    CHECK_INT(f.counters.too_long, 1);
    /* past its "##", the refused frame's length digits, 1025 bytes and 4 CRC digits were skipped
     * as garbage */
    CHECK_INT(f.counters.garbage_bytes, 4 + 1025 + 4);
    /* ##9999 with no body at all: refused at once, not waited for */
    hj_framer_init(&f);
    memset(&g, 0, sizeof g);
    hj_framer_feed(&f, "##9999", 6, on_frame, &g);
    CHECK_INT(f.counters.too_long, 1);
    CHECK_INT(f.len, 0);
}

static void test_hash_inside(void)
{
    /* a single '#' inside a segment is data, also when it arrives last in a read */
    const char *seg = "ST=22;CN=2011;PW=a#b;MN=#;CP=&&X=#&&";
    char stream[512];
    size_t n = ref_frame(stream, sizeof stream, seg, 0, 1);
    hj_framer f;
    hj_framer_init(&f);
    got g = {0};
    for (size_t i = 0; i < n; i++)
        hj_framer_feed(&f, stream + i, 1, on_frame, &g);
    CHECK_INT(g.count, 1);
    CHECK_STR(g.seg[0], seg);
    /* a length 50 bytes too large, the next frame glued on without CRLF: the "##" inside the
     * declared segment ends the bad candidate at once and the next frame comes through */
    n = ref_frame(stream, sizeof stream, seg_c, 0, 0);
    snprintf(stream + 2, 5, "%04zu", strlen(seg_c) + 50);
    stream[6] = 'Q';
    n += ref_frame(stream + n, sizeof stream - n, seg_b, 0, 0);
    hj_framer_init(&f);
    memset(&g, 0, sizeof g);
    hj_framer_feed(&f, stream, n, on_frame, &g);
    CHECK_INT(g.count, 1);
    CHECK_STR(g.seg[0], seg_b);
    CHECK_INT(f.counters.bad_length, 1);
    CHECK_INT(f.len, 0);
}

int main(void)
{
    RUN(test_crc_known_values);
    RUN(test_encode);
    RUN(test_sticky_and_split);
    RUN(test_garbage_crlf_lowercase);
    RUN(test_bad_crc_and_length);
    RUN(test_over_long);
    RUN(test_hash_inside);
    return CHECK_DONE();
}
