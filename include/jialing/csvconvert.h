/* Text conversions of the `jialing import` command, kept apart from its main() so they can be
 * unit-tested: recognising the CSV header, turning a CSV row `time,metric,tags,value` into a
 * line-protocol line in millisecond precision, counting the fields of a line-protocol line, and
 * turning the server's error answer for a batch into a message that names the line of the input
 * file. Pure functions; no I/O. */
#ifndef JIALING_CSVCONVERT_H
#define JIALING_CSVCONVERT_H

#include "jialing/common.h"

/* Returns 1 when line[0..len) is the CSV header "time,metric,tags,value" (surrounding blanks and
 * a trailing CR allowed), else 0. */
int cv_is_csv_header(const char *line, size_t len);

/* Parses text[0..len), surrounding blanks, CR and LF ignored, as integer epoch milliseconds
 * ("1735689600000", "-5", "+5") or an RFC 3339 time ("2025-01-01T08:00:00+08:00",
 * "2025-01-01 00:00:00.250Z", "...00,250Z"; fractions below a millisecond are truncated toward
 * the past; second 60 counts as 59) into *ms within JL_MIN_MS..JL_MAX_MS: qp_parse_time_text()
 * with QP_TIME_FOLD_LEAP_SECOND, QP_TIME_COMMA_FRACTION and QP_TIME_PLUS_EPOCH. Returns JL_OK, or
 * JL_EINVAL with a message quoting the time. */
int cv_parse_time_ms(const char *text, size_t len, int64_t *ms, jl_error *err);

/* Converts one CSV row `time,metric,tags,value` (fields may be double-quoted with "" for a quote;
 * tags are `k=v;k=v` or empty) into the line `metric,k=v,k=v value=<value> <ms>\n` appended to
 * out, with commas, equals signs, spaces and backslashes in tag values escaped. On bad input
 * returns JL_EINVAL with err->column (1-based, within the row) and a message; out is then
 * unchanged. JL_ENOMEM when out cannot grow. */
int cv_csv_row_to_lp(const char *row, size_t len, jl_buf *out, jl_error *err);

/* Returns the number of fields of a line-protocol line (the readings it carries), 0 for a blank
 * or comment line. Counts commas of the field set outside quoted strings; does not validate. */
size_t cv_lp_field_count(const char *line, size_t len);

/* Appends to out the "error" string of a JSON error body {"error": "..."}, unescaped; when the
 * body is not such an object, appends the body itself (at most 512 bytes, trimmed). Returns
 * JL_OK or JL_ENOMEM. */
int cv_error_message(const char *body, size_t len, jl_buf *out);

/* Appends message to out with its first "line N" (case-insensitive, N the 1-based line within
 * the batch) rewritten as "line M" where M = file_lines[N - 1], the line of the input file the
 * batch line came from. A message without such a reference, or with N outside 1..count, is
 * copied unchanged. Returns JL_OK or JL_ENOMEM. */
int cv_translate_line(const char *message, const long *file_lines, size_t count, jl_buf *out);

#endif
