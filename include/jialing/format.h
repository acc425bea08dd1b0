/* Output encoders for query results: a writer turns the calls of a qx_sink into one response
 * document, JSON or CSV, appended to a jl_buf.
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
 * Caveats: the writer only ever appends to `out` and keeps no pointer into it, so the caller may
 * take bytes out of `out` between callbacks (send them, then set out->len = 0) to stream a large
 * response. The first failing call makes the writer fail every later call with the same code;
 * the document is then incomplete and must not be sent as a whole answer. A writer is used by
 * one thread at a time. Always call fm_writer_destroy(), also after errors. */
#ifndef JIALING_FORMAT_H
#define JIALING_FORMAT_H

#include "jialing/common.h"
#include "jialing/query.h"

/* Response formats. */
typedef enum fm_format { FM_JSON = 0, FM_CSV } fm_format;

/* Parses the `format` parameter: "json" or "csv" (any case); NULL or "" means json. JL_OK, or
 * JL_EINVAL naming the value (msgpack is not implemented yet). */
int fm_parse_format(const char *text, fm_format *out, jl_error *err);

/* Returns the HTTP Content-Type of a format (static string). */
const char *fm_content_type(fm_format format);

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
    jl_buf prefix;         /* CSV: "metric,tags," of the current series; owned */
} fm_writer;

/* Starts a document in format, to be appended to out (borrowed; it must outlive the writer).
 * JSON appends its opening bytes now. JL_OK, JL_EINVAL (unknown format) or JL_ENOMEM. */
int fm_writer_init(fm_writer *w, fm_format format, jl_buf *out);

/* Returns a sink whose callbacks append to the writer's buffer; its context is w. The callbacks
 * return JL_OK, JL_ENOMEM, or JL_EINVAL when called out of order (a row outside a series, a
 * series inside another or after finish). */
qx_sink fm_writer_sink(fm_writer *w);

/* Closes the document (closing an open series first). JL_OK, the writer's earlier error,
 * JL_EINVAL when called twice, or JL_ENOMEM. */
int fm_writer_finish(fm_writer *w);

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
