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

/* ---- pollutant code overrides (query/ingest/hj212_map.c) -------------------------------- */

/* An immutable table of code-to-metric overrides read from a codes file (`--hj212-codes FILE`):
 * one `code metric` pair a line, '#' starting a comment, blank lines ignored. A code is 1 to
 * HJ_CODE_MAX printable ASCII bytes without ';' ',' '=' '&' (what a CP key can carry); a metric
 * is a valid metric name (jialing/serieskey.h) of at most HJ_METRIC_MAX bytes, so that the
 * _min/_max/_cou names derived from it stay valid. An override replaces the built-in name of a
 * code or names a code the built-in table lacks.
 *
 * Ownership and lifetime: hj_codes_load()/hj_codes_parse() allocate the table; the caller frees
 * it with hj_codes_free() after the last lookup. A NULL table means "built-in names only"
 * everywhere a table is taken.
 *
 * Thread-safety: the table is never modified after it is built, so any number of threads may
 * look codes up in it concurrently. To reload, build a new table and swap the pointer under the
 * caller's own synchronisation; free the old one once no thread can still use it. */
#define HJ_METRIC_MAX 64 /* longest metric name a codes file may give (bytes) */

typedef struct hj_code_table hj_code_table;

/* Parses a codes file's text[0..len) (need not be NUL-terminated) into a new table at *out.
 * Returns JL_OK; JL_EINVAL with err->line set and the message naming the line and the reason
 * ("line 3: metric \"2.5pm\" is not a valid metric name ...", "line 5: code a34004 given twice
 * (first on line 2)", "line 4: a code and a metric are needed"); JL_ENOMEM. *out is NULL on
 * error.
 * A repeated code is looked for once every line has parsed, and reported at the earliest line
 * that repeats one. */
int hj_codes_parse(const char *text, size_t len, hj_code_table **out, jl_error *err);

/* As hj_codes_parse() on the file at path. Also JL_EIO when the file cannot be read (the
 * message names the path). */
int hj_codes_load(const char *path, hj_code_table **out, jl_error *err);

/* Frees a table from hj_codes_parse()/hj_codes_load(); NULL is a no-op. */
void hj_codes_free(hj_code_table *table);

/* Returns the number of overrides in table (0 for NULL). */
size_t hj_codes_count(const hj_code_table *table);

/* Returns the metric for code (NUL-terminated): table's override, else the built-in name
 * (hj_metric_for_code()), else NULL. table may be NULL. The string lives as long as the table
 * (a built-in name forever). */
const char *hj_codes_metric(const hj_code_table *table, const char *code);

/* Writes the metric name readings of code get into out (cap bytes, NUL-terminated): as
 * hj_codes_metric(), else "hj212_<code>". Returns JL_OK, or JL_ELIMIT when cap is too small
 * (cap >= HJ_METRIC_MAX + 1 and >= HJ_CODE_MAX + 7 is always enough). */
int hj_codes_metric_name(const hj_code_table *table, const char *code, char *out, size_t cap);

/* ---- station table (query/ingest/hj212_stations.c) -------------------------------------- */

/* A tag a station adds to the series keys of its readings. Both strings NUL-terminated. */
typedef struct hj_tag {
    const char *key;
    const char *value;
} hj_tag;

#define HJ_STATION_TAGS_MAX 16 /* extra tags one station line may give */

/* One station: its MN, the PW its packets must carry, and its extra tags in the file's order.
 * Every pointer points into the table that returned it and lives as long as that table. */
typedef struct hj_station {
    const char *mn;
    const char *pw;
    const hj_tag *tags;
    size_t tag_count;
    long line; /* the line of the stations file that declared it */
} hj_station;

/* An immutable table of stations read from a stations file: one `MN PW [key=value ...]` line per
 * station, fields separated by spaces or tabs, '#' starting a comment (at the start of a line or
 * of a field), blank lines ignored. MN and PW are 1 to HJ_FIELD_MAX printable ASCII bytes
 * (0x21..0x7E) without ';' '=' '&' ','. Tag keys are valid tag keys (jialing/serieskey.h) other
 * than mn and cn (every reading has those already), tag values valid tag values without spaces
 * (UTF-8 allowed), no key twice on a line.
 *
 * Ownership and lifetime: hj_stations_load()/hj_stations_parse() allocate the table; the caller
 * frees it with hj_stations_free(), which invalidates every hj_station and string it returned.
 *
 * Thread-safety: never modified after it is built; concurrent lookups are safe. Reloading is
 * the caller's job: load a new table (the old one stays in use if that fails), swap the pointer
 * under the caller's own synchronisation, free the old table once no thread uses it. */
typedef struct hj_stations hj_stations;

/* Parses a stations file's text[0..len) (need not be NUL-terminated) into a new table at *out.
 * Returns JL_OK; JL_EINVAL with err->line set and the message naming the line and the reason
 * ("line 4: MN AIR0001 given twice (first on line 2)", "line 3: PW missing", "line 6: tag
 * district=: the value of tag \"district\" is empty", ...); JL_ENOMEM. *out is NULL on error.
 * An empty text gives an empty table. */
int hj_stations_parse(const char *text, size_t len, hj_stations **out, jl_error *err);

/* As hj_stations_parse() on the file at path. Also JL_EIO when the file cannot be read (the
 * message names the path). */
int hj_stations_load(const char *path, hj_stations **out, jl_error *err);

/* Frees a table from hj_stations_parse()/hj_stations_load(); NULL is a no-op. */
void hj_stations_free(hj_stations *table);

/* Returns the number of stations in table (0 for NULL). */
size_t hj_stations_count(const hj_stations *table);

/* Returns station i (i < hj_stations_count()) in bytewise MN order. */
const hj_station *hj_stations_at(const hj_stations *table, size_t i);

/* Returns the station whose MN is mn (NUL-terminated, compared bytewise), or NULL (also for a
 * NULL table). O(log n). The caller compares the packet's PW with ->pw itself. */
const hj_station *hj_stations_find(const hj_stations *table, const char *mn);

/* ---- mapping with codes and station tags (query/ingest/hj212_map.c) ----------------------- */

/* As hj_segment_to_batch() (which is this with codes NULL and no extra tags), with metric names
 * from hj_codes_metric_name(codes, ...) and extra_tags[0..extra_count) added to every reading's
 * series key besides mn and cn (the key's tags in canonical, bytewise order: the order given
 * does not matter). Also JL_EINVAL when an extra tag is not a valid tag, repeats a key, is mn or
 * cn, or when there are more than SK_MAX_TAGS - 2. extra_tags may be NULL when extra_count is 0;
 * nothing is retained after the call. */
int hj_segment_to_batch_tagged(const hj_segment *seg, int64_t utc_offset_ms,
                               const hj_code_table *codes, const hj_tag *extra_tags,
                               size_t extra_count, st_batch *batch, size_t *added, jl_error *err);

/* ---- split messages (query/ingest/hj212_assemble.c) ------------------------------------- */

/* HJ 212 may split one message over PNUM packets numbered PNO 1..PNUM, all with the message's
 * QN and MN (Flag bit 1, D, says PNUM and PNO are present; the assembler goes by the fields
 * themselves: a packet with PNUM/PNO is a part, one without is whole). The assembler holds the
 * parts of each message, keyed by MN and QN, until all have arrived, then hands back the whole
 * set in PNO order; a part repeating a held PNO replaces it. Incomplete messages are dropped
 * once older than the timeout (counted from the arrival of their first part).
 *
 * How a split message becomes readings (hj_message_to_batch()): every part carries its own CP
 * items and is mapped as a message of its own, with its own CN; a part without DataTime takes
 * the DataTime of the lowest-numbered part that has one.
 *
 * Bounds: at most max_pending incomplete messages and PNUM at most max_pnum; a part held keeps
 * its header and CP text (about 1.2 KB), so memory stays under max_pending * max_pnum parts.
 * Time is passed in (now_ms, any clock the caller keeps steadily); no clock is read.
 *
 * Thread-safety: an assembler is not thread-safe; one per listener under the caller's lock, or
 * one per connection. Messages it returns are independent of it. */
#define HJ_ASSEMBLE_PENDING_MAX 256 /* default max_pending */
#define HJ_ASSEMBLE_PNUM_MAX 64     /* default max_pnum */

typedef struct hj_assembler_counters {
    uint64_t completed;            /* split messages handed back whole */
    uint64_t expired;              /* incomplete messages dropped by the timeout */
    uint64_t replaced;             /* parts that replaced a held part with the same PNO */
    uint64_t refused_pending;      /* a new message while max_pending were held */
    uint64_t refused_pnum;         /* PNUM over max_pnum */
    uint64_t refused_pno;          /* PNO 0 or over PNUM */
    uint64_t refused_inconsistent; /* PNUM not that of the message's first part */
} hj_assembler_counters;

/* A whole message: count parts in PNO order (parts[i].pno == i + 1), or one part without
 * PNUM/PNO. Owned by the caller, freed with hj_message_free(). */
typedef struct hj_message {
    size_t count;
    hj_segment *parts;
} hj_message;

typedef struct hj_assembler hj_assembler;

/* Creates an assembler at *out that drops incomplete messages older than timeout_ms (> 0);
 * max_pending and max_pnum 0 take the defaults above. Returns JL_OK, JL_EINVAL (timeout_ms <= 0
 * or max_pnum over 9999) or JL_ENOMEM. Free with hj_assembler_free(). */
int hj_assembler_new(int64_t timeout_ms, size_t max_pending, unsigned max_pnum, hj_assembler **out,
                     jl_error *err);

/* Frees the assembler and every part it holds; NULL is a no-op. */
void hj_assembler_free(hj_assembler *a);

/* Takes one parsed packet that arrived at now_ms (seg is copied; nothing of it is retained).
 * First drops the messages expired at now_ms (as hj_assembler_expire()). Then:
 *  - a packet without PNUM/PNO: *out is a new one-part message (nothing held);
 *  - a part completing its message: *out is the whole message, removed from the assembler;
 *  - any other part: held, *out NULL.
 * seg must come from hj_segment_parse(): a part keeps its header and CP text, and the whole
 * message's pollutants are read again from that text (a segment filled in by other code whose CP
 * does not parse makes the completing call fail with JL_EINVAL and the message dropped).
 * Returns JL_OK; JL_ELIMIT when refused for PNUM over max_pnum or max_pending messages already
 * held; JL_EINVAL when refused for PNO out of 1..PNUM or a PNUM differing from the first part's
 * (the held parts stay); JL_ENOMEM. Each refusal is counted and err says why; *out is NULL. */
int hj_assembler_add(hj_assembler *a, const hj_segment *seg, int64_t now_ms, hj_message **out,
                     jl_error *err);

/* Drops every incomplete message whose first part arrived more than timeout_ms before now_ms
 * (now_ms - first > timeout_ms) and returns how many it dropped (also counted as expired). */
size_t hj_assembler_expire(hj_assembler *a, int64_t now_ms);

/* Returns the number of incomplete messages held. */
size_t hj_assembler_pending(const hj_assembler *a);

/* Returns a copy of the counters. */
hj_assembler_counters hj_assembler_counters_get(const hj_assembler *a);

/* Frees a message from hj_assembler_add(); NULL is a no-op. */
void hj_message_free(hj_message *m);

/* Adds the readings of a whole message to batch: hj_segment_to_batch_tagged() on each part in
 * order, a part without DataTime given the lowest-numbered part's DataTime that has one. Sets
 * *added to the readings added. Errors as hj_segment_to_batch_tagged() (the message names the
 * part, "PNO 2: CP: ..."); on error the batch may hold some readings: the caller discards it. */
int hj_message_to_batch(const hj_message *m, int64_t utc_offset_ms, const hj_code_table *codes,
                        const hj_tag *extra_tags, size_t extra_count, st_batch *batch,
                        size_t *added, jl_error *err);

/* ---- the line files (stations, codes) ---------------------------------------------------- */

/* Splits one line of a stations or codes file into fields separated by spaces and tabs, up to a
 * '#' that starts a field (a comment); a CR before the line's end is dropped (files written on
 * Windows). Points field[i] and flen[i] into line for the first max fields and returns how many
 * there are, counting at most max + 1 (so a caller can tell "too many"). No allocation. */
size_t hj_split_fields(const char *line, size_t len, const char **field, size_t *flen, size_t max);

#endif
