/* HJ 212-2017 (and 2005) data-logger protocol: the streaming frame splitter, the CRC and frame
 * encoder (query/ingest/hj212_frame.c), and the data-segment parser with the 9014 reply builder
 * (query/ingest/hj212_segment.c). Pure parsers: no sockets, no storage, no clock.
 *
 * A frame is "##" + 4 decimal digits (the data segment's length in bytes, at most 1024) + the
 * data segment + its CRC-16 as 4 hex digits + "\r\n". The CRC is HJ 212's own (not Modbus's):
 * crc = 0xFFFF; per byte crc = (crc >> 8) ^ b, then 8 shifts right xoring 0xA001 on a carry.
 *
 * Ownership: a framer is a fixed-size struct owned by the caller (no allocation). A segment
 * handed to a frame callback points into the framer and is valid only during the call. A parsed
 * hj_segment holds copies of everything; the parser never allocates.
 *
 * Caveats: a framer is not thread-safe; use one per connection. */
#ifndef JIALING_HJ212_H
#define JIALING_HJ212_H

#include <stddef.h>
#include <stdint.h>

#include "jialing/common.h"
#include "jialing/store.h"

#define HJ_SEGMENT_MAX 1024 /* data segment bytes a frame may declare */
#define HJ_CP_MAX 950       /* bytes between CP=&& and the closing && */
/* "##" + 4 length digits + segment + 4 CRC digits; the CRLF is never buffered. */
#define HJ_FRAME_MAX (2 + 4 + HJ_SEGMENT_MAX + 4)
#define HJ_POLLUTANTS_MAX 64 /* pollutant codes one data segment may carry */
#define HJ_FIELD_MAX 32      /* longest QN, ST, CN, PW or MN value kept (bytes) */
#define HJ_CODE_MAX 24       /* longest pollutant code kept (bytes) */

/* ---- framing ---------------------------------------------------------------------------- */

/* Why bytes were dropped, counted by the framer; the stream always continues after a drop. */
typedef struct hj_framer_counters {
    uint64_t frames;        /* good frames handed to the callback */
    uint64_t bad_length;    /* length field not 4 digits, or the segment's end not where it said */
    uint64_t bad_crc;       /* CRC digits well placed but not the segment's CRC */
    uint64_t too_long;      /* declared length over HJ_SEGMENT_MAX (frame skipped) */
    uint64_t garbage_bytes; /* bytes skipped outside any frame, CR and LF not counted */
} hj_framer_counters;

/* Called once per good frame with its data segment (not NUL-terminated; valid during the call
 * only). */
typedef void (*hj_frame_fn)(void *ctx, const char *segment, size_t len);

typedef struct hj_framer {
    char buf[HJ_FRAME_MAX]; /* the frame being assembled, starting at "##" (or garbage) */
    size_t len;             /* bytes in buf */
    size_t checked;         /* segment bytes of the candidate already found free of CR/LF/"##" */
    hj_framer_counters counters;
} hj_framer;

/* Initialises an empty framer with zero counters. */
void hj_framer_init(hj_framer *framer);

/* Feeds len bytes of the stream (any chunking: several frames in one call, one frame over many
 * calls) and calls fn(ctx, segment, len) for each good frame completed, in order. Garbage before
 * "##", missing or doubled CRLF and lower-case CRC digits are tolerated; frames with a bad
 * length, a bad CRC or a declared length over HJ_SEGMENT_MAX are dropped and counted, and
 * scanning resumes at the next "##". Never fails; buffers at most HJ_FRAME_MAX bytes. */
void hj_framer_feed(hj_framer *framer, const void *data, size_t len, hj_frame_fn fn, void *ctx);

/* Returns HJ 212's CRC-16 of len bytes at data. */
uint16_t hj_crc16(const void *data, size_t len);

/* Appends the frame of segment[0..len) ("##" length, segment, upper-case CRC, "\r\n") to out.
 * Returns JL_OK, JL_EINVAL when len > HJ_SEGMENT_MAX, or JL_ENOMEM (out then holds a partial
 * frame to discard). */
int hj_frame_encode(const char *segment, size_t len, jl_buf *out);

/* ---- data segment ----------------------------------------------------------------------- */

/* Bits of hj_pollutant.have: which values the segment gave for the code. */
enum {
    HJ_HAVE_RTD = 1u << 0,
    HJ_HAVE_AVG = 1u << 1,
    HJ_HAVE_MIN = 1u << 2,
    HJ_HAVE_MAX = 1u << 3,
    HJ_HAVE_COU = 1u << 4
};

/* One pollutant code's values from CP (e.g. a34004-Rtd=35.2,a34004-Flag=N). */
typedef struct hj_pollutant {
    char code[HJ_CODE_MAX + 1]; /* NUL-terminated, e.g. "a34004" */
    unsigned have;              /* HJ_HAVE_* bits; a value whose bit is clear is 0 */
    double rtd, avg, min, max, cou;
    char flag; /* the -Flag letter ('A'..'Z'; 2017 defines "NFMSDCTB", 2005 also 'P'), or 0
                * when absent; jl_flag_from_letter() maps it to a stored code */
} hj_pollutant;

/* A civil date-time as sent (no time zone applied). */
typedef struct hj_datetime {
    int year, month, day, hour, minute, second, ms; /* ms 0 when only 14 digits were sent */
} hj_datetime;

typedef struct hj_segment {
    /* header fields, NUL-terminated; qn is "" when absent (2005 packets may omit it) */
    char qn[HJ_FIELD_MAX + 1], st[HJ_FIELD_MAX + 1], cn[HJ_FIELD_MAX + 1];
    char pw[HJ_FIELD_MAX + 1], mn[HJ_FIELD_MAX + 1];
    int has_qn;
    int has_flag;  /* 2005 packets may omit Flag */
    unsigned flag; /* bit0 reply wanted, bit1 split message (PNUM/PNO), higher bits version */
    int has_pnum;  /* PNUM and PNO both present */
    unsigned pnum, pno;
    /* CP: the raw text between && and && (NUL-terminated), and what was understood of it */
    char cp[HJ_CP_MAX + 1];
    size_t cp_len;
    int has_datatime;
    hj_datetime datatime;
    size_t pollutant_count; /* entries in pollutants, in order of first appearance */
    hj_pollutant pollutants[HJ_POLLUTANTS_MAX];
} hj_segment;

/* Parses the data segment text[0..len) (as a frame callback receives it) into *out. Header
 * fields: QN (17 digits, optional), ST, CN (digits), PW, MN, Flag (0..255, optional),
 * PNUM/PNO (optional, together), CP=&&...&& last. CP items are separated by ';' or ',', each
 * key=value; DataTime (14 or 17 digits) and code-Rtd/-Avg/-Min/-Max/-Cou (decimal numbers) and
 * code-Flag (one upper-case letter) are understood, other keys (QnRtn, ExeRtn, -Info, ...) are kept
 * only in cp, so every CN parses. Returns JL_OK, or JL_EINVAL with err naming the field (e.g. "CP:
 * a34004-Rtd: not a number"), or JL_ELIMIT over HJ_POLLUTANTS_MAX codes; *out is then
 * unspecified. */
int hj_segment_parse(const char *text, size_t len, hj_segment *out, jl_error *err);

/* Returns the pollutant entry for code (NUL-terminated) in seg, or NULL. */
const hj_pollutant *hj_segment_pollutant(const hj_segment *seg, const char *code);

/* Appends the framed 9014 data reply to seg: "QN=<qn>;ST=91;CN=9014;PW=<pw>;MN=<mn>;Flag=4;
 * CP=&&&&" (QN= left out when seg had none). Returns JL_OK or JL_ENOMEM. */
int hj_reply_9014(const hj_segment *seg, jl_buf *out);

/* ---- mapping to readings (query/ingest/hj212_map.c) ------------------------------------- */

/* Returns the metric name of pollutant code (NUL-terminated) in the built-in table (2017 air
 * a34004 pm25, a34002 pm10, a21026 so2, a21004 no2, a21005 co, a05024 o3; water w21003 nh3n,
 * w01018 cod, w01019 codmn, w21011 tp, w21001 tn, w01009 do, w01001 ph, w01010 water_temp,
 * w01014 conductivity, w01003 turbidity; 2005 011 cod, 060 nh3n, 101 tp, 065 tn, B01 flow), or
 * NULL for a code the table does not hold. A static string. */
const char *hj_metric_for_code(const char *code);

/* Adds the readings of a data message to batch: for CN 2011 each code's Rtd, for CN 2051, 2061
 * and 2031 its Avg, and Min/Max/Cou as <metric>_min, _max, _cou; the metric from
 * hj_metric_for_code(), or "hj212_<code>" for codes it does not know (never dropped); tags mn
 * (the MN) and cn (the CN); the time DataTime read at utc_offset_ms east of UTC (Beijing:
 * +8 h); the flag the value's -Flag letter (absent: N; 2005's P, power failure, as D, fault).
 * Other CNs add nothing. Sets *added to the readings added. Returns JL_OK; JL_EINVAL (err names
 * the field: a data CN without DataTime, a DataTime that is not a real instant, a flag letter
 * HJ 212 does not define, a code that cannot make a metric name); JL_ENOMEM. On error the batch
 * may hold some of the message's readings: the caller discards it. */
int hj_segment_to_batch(const hj_segment *seg, int64_t utc_offset_ms, st_batch *batch,
                        size_t *added, jl_error *err);

#endif
