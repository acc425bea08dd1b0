/* Output encoders for query results: a writer turns the calls of a qx_sink into one response
 * document, JSON, CSV or msgpack, appended to a jl_buf.
 *
 * JSON (DESIGN §3): {"series":[{"metric":"pm25","tags":{"station":"s01"},"columns":["time",
 * "mean"],"values":[[1735660800000,35.2]]}]}; an empty result is {"series":[]}. Strings are
 * escaped per RFC 8259 (", \ and control characters as \u00XX); invalid UTF-8 bytes become
 * U+FFFD so the document is always valid JSON. Doubles print in the shortest of %.15g, %.16g,
 * %.17g that reads back to the same bits; a non-finite double (never stored) prints as null.
 *
 * CSV (RFC 4180, CRLF line ends): a header `metric,tags,<columns>` before the first series, then
 * one line per row `metric,tags,<cells>`. Tags are `k=v;k=v`, with `\` and `;` in a value
 * escaped as `\\` and `\;`. A field containing a comma, quote, CR or LF is quoted, inner quotes
 * doubled. A null cell is an empty field. An empty result is an empty body (no header, since the
 * columns are unknown). Every series of one response is assumed to have the same columns.
 *
 * msgpack: the JSON structure, map keys in the same order: a map {"series": [series...]}, each
 * series a map of "metric" (str), "tags" (map str -> str), "columns" (array of str) and "values"
 * (array of rows, each an array of cells). An INT cell is a msgpack int in its smallest form, a
 * DOUBLE a float64 with the exact bits (non-finite values too), a NULL nil, a FLAG the str of its
 * letter (in JSON a string "M", in CSV the bare letter). Strings are str with
 * invalid UTF-8 bytes replaced by U+FFFD, as in JSON, since msgpack str must be UTF-8. The outer
 * "series" array header is always array32 (0xdd); the others are in their smallest form.
 *
 * Caveats: the writer only ever appends to `out` and keeps no pointer into it, so for JSON and
 * CSV the caller may take bytes out of `out` between callbacks (send them, then set out->len = 0)
 * to stream or spool a large response. msgpack has no open-ended arrays and the number of series
 * is only known at the end, so the writer puts an array32 header with a placeholder count at the
 * start of the document and fm_writer_finish() patches it in `out` when it is still there; when
 * bytes were taken out, fm_writer_count_patch() gives the 4 bytes and their offset from the
 * document's start, for the caller to write where it put them (a spool file). (Each series' rows
 * are buffered in the writer until the series ends, so series arrive in `out` whole.) Between
 * init and finish only the writer may append to `out`.
 * The first failing call makes the writer fail every later call with the same code;
 * the document is then incomplete and must not be sent as a whole answer. A writer is used by
 * one thread at a time. Always call fm_writer_destroy(), also after errors. */
#ifndef JIALING_FORMAT_H
#define JIALING_FORMAT_H

#include "jialing/common.h"
#include "jialing/query.h"

/* Response formats. */
typedef enum fm_format { FM_JSON = 0, FM_CSV, FM_MSGPACK } fm_format;

/* Parses the `format` parameter: "json", "csv" or "msgpack" (any case); NULL or "" means json.
 * JL_OK, or JL_EINVAL naming the value. */
int fm_parse_format(const char *text, fm_format *out, jl_error *err);

/* Content negotiation from an HTTP Accept header (RFC 9110 §12.5.1; NULL means absent). Returns 1
 * and sets *out to FM_CSV or FM_MSGPACK when the header prefers text/csv, application/msgpack or
 * application/x-msgpack strictly over application/json (a range "text/" + "*" counts for CSV,
 * "application/" + "*" for JSON and msgpack alike). Otherwise sets *out to FM_JSON and returns
 * 0: header absent or empty, only the any-type range, a tie with JSON, nothing we produce. A
 * format's preference is the q of the most specific range matching it (q defaults to 1; q=0
 * means not acceptable); a format matched only by the any-type range is never chosen over JSON.
 * Types and "q" are case-insensitive; malformed list elements are ignored; a tie between CSV and
 * msgpack goes to the one listed first. An explicit format= parameter wins over Accept: the
 * server consults this only when the request has no format parameter. */
int fm_format_from_accept(const char *accept, fm_format *out);

/* Returns the HTTP Content-Type of a format (static string). */
const char *fm_content_type(fm_format format);

/* Returns 1 when bytes taken out of the writer's buffer before fm_writer_finish() are final
 * (JSON, CSV), 0 when a count must be patched into them afterwards (msgpack; see Caveats). */
int fm_format_streamable(fm_format format);

/* A writer for one response; the caller owns the struct, fields are private. */
typedef struct fm_writer {
    fm_format format;
    jl_buf *out;           /* borrowed: where the document is appended */
    int status;            /* first error of any call, then sticky */
    int in_series;         /* between series_begin and series_end */
    uint64_t series_count; /* series begun so far */
    uint64_t row_count;    /* rows of the current series */
    int finished;          /* fm_writer_finish() succeeded */
    int header_written;    /* CSV: header line emitted */
    jl_buf prefix;         /* CSV: "metric,tags," of the current series; msgpack: scratch for
                              repaired strings; owned */
    jl_buf rows;           /* msgpack: the encoded rows of the current series; owned */
    size_t doc_start;      /* msgpack: offset in out where the document (its header) starts */
    uint64_t out_bytes;    /* msgpack: bytes appended to out so far, to detect a drained header */
    int count_pending;     /* msgpack: finish found the header taken out; see count_patch */
    unsigned char count_bytes[4]; /* msgpack: the series count, big endian */
} fm_writer;

/* Starts a document in format, to be appended to out (borrowed; it must outlive the writer).
 * JSON and msgpack append their opening bytes now. JL_OK, JL_EINVAL (unknown format) or JL_ENOMEM.
 */
int fm_writer_init(fm_writer *w, fm_format format, jl_buf *out);

/* Returns a sink whose callbacks append to the writer's buffer; its context is w. The callbacks
 * return JL_OK, JL_ENOMEM, JL_EINVAL when called out of order (a row outside a series, a
 * series inside another or after finish), or JL_ELIMIT (msgpack) past 2^32 - 1 series, rows or
 * string bytes, the most a msgpack header can count. */
qx_sink fm_writer_sink(fm_writer *w);

/* Appends a row whose first cell is the string text (copied), then cells: the rows of a name
 * listing (a tag key or value and its series count), which query results never have. Written
 * as a JSON string, a CSV field, a msgpack str (invalid UTF-8 repaired as for tags). Returns as
 * the sink's row callback does. */
int fm_writer_text_row(fm_writer *w, sk_text text, const qx_cell *cells, size_t cell_count);

/* Closes the document (closing an open series first). JL_OK, the writer's earlier error,
 * JL_EINVAL when called twice, JL_ELIMIT (msgpack) past 2^32 - 1 series, rows or string bytes,
 * or JL_ENOMEM. */
int fm_writer_finish(fm_writer *w);

/* After a successful finish of a msgpack document whose start was taken out of `out`: returns 1
 * and fills the 4 bytes to write at *offset bytes from the document's first byte; else 0. */
int fm_writer_count_patch(const fm_writer *w, uint64_t *offset, unsigned char bytes[4]);

/* Frees what the writer owns (not out); safe after init failed and more than once. */
void fm_writer_destroy(fm_writer *w);

/* Appends {"error":"<message>"} with message escaped; NULL means "unknown error". JL_OK or
 * JL_ENOMEM. */
int fm_json_error(jl_buf *out, const char *message);

/* Appends text[0..len) as a JSON string literal with quotes. JL_OK or JL_ENOMEM. */
int fm_json_string(jl_buf *out, const char *text, size_t len);

#define FM_DOUBLE_MAX 32 /* bytes fm_format_double() may write, NUL included */

/* Writes the shortest of %.15g/%.16g/%.17g that reads back to exactly value into
 * text[FM_DOUBLE_MAX]; returns its length. A non-finite value writes "" and returns 0. */
size_t fm_format_double(double value, char *text);

#endif
