/* Response encoders: turns the sink calls of a query into a JSON, CSV or msgpack document in a
 * jl_buf. Owns the exact bytes of those formats: string escaping, number printing, CSV quoting,
 * the tag notation of CSV and the msgpack framing. Also reads the Accept header into a format.
 * Knows nothing else of HTTP; the server picks the format and sends the bytes. */
#include "jialing/format.h"
#include "jialing/flag.h"
#include "jialing/serieskey.h"

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------ */
/* Scalars */

/* Fast path for values that are short decimals, as sensor readings almost always are: finds
 * the fewest fraction digits k <= 6 with value == m / 10^k for an integer m of at most 15 digits,
 * and prints m with the point put in. The double division is correctly rounded, so the decimal
 * m/10^k reads back as value; having at most 15 digits, it is also exactly what %.15g prints
 * (the error of value is far below half a unit in the 15th digit), so both paths agree. Limited
 * to 1e-4 <= |value| < 1e15, where %g uses fixed notation. Returns the length, or 0 when the
 * value is not such a decimal. */
static size_t format_short_decimal(double value, char *text)
{
    static const double powers[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
    double magnitude = fabs(value);
    if (!(magnitude >= 1e-4 && magnitude < 1e15))
        return 0;
    for (int k = 0; k < 7; k++) {
        double scaled = rint(value * powers[k]);
        if (fabs(scaled) >= 1e15)
            return 0;
        if (scaled / powers[k] != value)
            continue;
        uint64_t m = (uint64_t)fabs(scaled);
        char digits[24];
        size_t pos = sizeof digits;
        for (int i = 0; i < k; i++) {
            digits[--pos] = (char)('0' + m % 10);
            m /= 10;
        }
        if (k > 0)
            digits[--pos] = '.';
        do {
            digits[--pos] = (char)('0' + m % 10);
            m /= 10;
        } while (m != 0);
        if (value < 0)
            digits[--pos] = '-';
        size_t len = sizeof digits - pos;
        memcpy(text, digits + pos, len);
        text[len] = '\0';
        return len;
    }
    return 0;
}

typedef unsigned __int128 fm_uint128;

/* 10^k for 0 <= k <= 21 (from 10^20 on, more than 64 bits). */
static fm_uint128 power_of_ten(int k)
{
    static const uint64_t powers[20] = {1u,
                                        10u,
                                        100u,
                                        1000u,
                                        10000u,
                                        100000u,
                                        1000000u,
                                        10000000u,
                                        100000000u,
                                        1000000000u,
                                        10000000000u,
                                        100000000000u,
                                        1000000000000u,
                                        10000000000000u,
                                        100000000000000u,
                                        1000000000000000u,
                                        10000000000000000u,
                                        100000000000000000u,
                                        1000000000000000000u,
                                        10000000000000000000u};
    return k < 20 ? powers[k] : (fm_uint128)powers[19] * (k == 20 ? 10 : 100);
}

/* The same answer as the %.15g/%.16g/%.17g loop below, for 1e-4 <= |value| < 1e15, without
 * printf and strtod: means and other computed values have 16-17 digits, and glibc's exact but
 * multi-precision printing of those was half the CPU time of a year of hourly means. value is
 * mantissa / 2^shift exactly; mantissa * 10^k fits in 128 bits in this range, so the digits
 * at each precision and the check that they read back are exact integer arithmetic. Reading
 * back means lying within half a unit in the last place of value (a tie counts when mantissa
 * is even, as strtod rounds ties to even; the gap below a power of two is half as wide).
 * Returns the length, or 0 outside the range or when rounding would carry into the exponent
 * notation %g switches to, which the caller then prints the slow way. */
static size_t format_exact_fixed(double value, char *text)
{
    double magnitude = fabs(value);
    if (!(magnitude >= 1e-4 && magnitude < 1e15))
        return 0;
    uint64_t bits;
    memcpy(&bits, &magnitude, sizeof bits);
    const uint64_t hidden_bit = (uint64_t)1 << 52;
    uint64_t mantissa = (bits & (hidden_bit - 1)) | hidden_bit;
    int shift = 1075 - (int)(bits >> 52); /* 3..66 in this range */
    /* Decimal exponent of the leading digit: from the binary exponent (log10(2) per bit) it is
     * exact or one too small, which the 17-digit quotient tells. */
    int exponent = (int)floor((double)(52 - shift) * 0.30102999566398120);
    if (((fm_uint128)mantissa * power_of_ten(16 - exponent)) >> shift >= power_of_ten(17))
        exponent++;
    if (exponent < -4 || exponent > 14)
        return 0;
    for (int precision = 15; precision <= 17; precision++) {
        int k = precision - 1 - exponent; /* fraction digits before trailing zeros go */
        fm_uint128 scaled = (fm_uint128)mantissa * power_of_ten(k);
        fm_uint128 digits = scaled >> shift;
        fm_uint128 rest = scaled - (digits << shift);
        fm_uint128 half = (fm_uint128)1 << (shift - 1);
        if (rest > half || (rest == half && (digits & 1) != 0))
            digits++;
        if (digits == power_of_ten(precision) && exponent + 1 >= precision)
            return 0; /* %g would print this in exponent notation */
        fm_uint128 printed = digits << (shift + 2), exact = scaled << 2;
        fm_uint128 above = 2 * power_of_ten(k),
                   below = mantissa == hidden_bit ? power_of_ten(k) : above;
        int even = (mantissa & 1) == 0;
        int reads_back = printed >= exact
                             ? (printed - exact < above || (printed - exact == above && even))
                             : (exact - printed < below || (exact - printed == below && even));
        if (!reads_back)
            continue;
        char reversed[40];
        size_t count = 0;
        uint64_t remaining = (uint64_t)digits; /* at most 10^17 */
        while (k > 0 && remaining % 10 == 0) { /* %g drops trailing zeros of the fraction */
            remaining /= 10;
            k--;
        }
        for (int i = 0; i < k || remaining != 0 || i == k; i++) {
            if (i == k && k > 0)
                reversed[count++] = '.';
            reversed[count++] = (char)('0' + remaining % 10);
            remaining /= 10;
            if (i >= k && remaining == 0)
                break;
        }
        size_t len = 0;
        if (value < 0)
            text[len++] = '-';
        while (count > 0)
            text[len++] = reversed[--count];
        text[len] = '\0';
        return len;
    }
    return 0;
}

size_t fm_format_double(double value, char *text)
{
    text[0] = '\0';
    if (!isfinite(value))
        return 0;
    size_t short_len = format_short_decimal(value, text);
    if (short_len > 0)
        return short_len;
    short_len = format_exact_fixed(value, text);
    if (short_len > 0)
        return short_len;
    /* 17 significant digits always read back exactly; fewer usually do and read better. */
    int len = 0;
    for (int precision = 15; precision <= 17; precision++) {
        len = snprintf(text, FM_DOUBLE_MAX, "%.*g", precision, value);
        if (precision == 17 || strtod(text, NULL) == value)
            break;
    }
    /* %g never yields "inf"/"nan" for finite values, and its forms (-0, 1e-300, 1e+300, 35.2)
     * are all valid JSON numbers as long as the locale's decimal point is '.'. Guard that. */
    for (char *p = text; *p != '\0'; p++) {
        if (*p == ',')
            *p = '.';
    }
    return (size_t)len;
}

/* Appends an int64 in decimal without going through printf. */
static int append_int(jl_buf *out, int64_t value)
{
    char digits[24];
    size_t pos = sizeof digits;
    /* Work on the magnitude as unsigned so INT64_MIN needs no special case. */
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[--pos] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (value < 0)
        digits[--pos] = '-';
    return jl_buf_append(out, digits + pos, sizeof digits - pos);
}

int fm_json_string(jl_buf *out, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (text == NULL)
        text = ""; /* an empty slice may carry no pointer */
    const unsigned char *s = (const unsigned char *)text;
    if (jl_buf_append(out, "\"", 1) != JL_OK)
        return JL_ENOMEM;
    size_t run = 0; /* start of the bytes that need no escaping, appended in one go */
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t seq = 1;
        char escape[8];
        size_t escape_len = 0;
        if (c == '"' || c == '\\') {
            escape[0] = '\\';
            escape[1] = (char)c;
            escape_len = 2;
        } else if (c < 0x20) {
            memcpy(escape, "\\u00", 4);
            escape[4] = hex[c >> 4];
            escape[5] = hex[c & 0xF];
            escape_len = 6;
        } else if (c >= 0x80) {
            seq = sk_utf8_sequence(s + i, len - i);
            if (seq == 0) {
                memcpy(escape, "\\ufffd", 6);
                escape_len = 6;
                seq = 1;
            }
        }
        if (escape_len != 0) {
            if (jl_buf_append(out, s + run, i - run) != JL_OK ||
                jl_buf_append(out, escape, escape_len) != JL_OK)
                return JL_ENOMEM;
            run = i + seq;
        }
        i += seq;
    }
    if (jl_buf_append(out, s + run, len - run) != JL_OK || jl_buf_append(out, "\"", 1) != JL_OK)
        return JL_ENOMEM;
    return JL_OK;
}

int fm_json_error(jl_buf *out, const char *message)
{
    if (message == NULL)
        message = "unknown error";
    if (jl_buf_append_str(out, "{\"error\":") != JL_OK ||
        fm_json_string(out, message, strlen(message)) != JL_OK ||
        jl_buf_append(out, "}", 1) != JL_OK)
        return JL_ENOMEM;
    return JL_OK;
}

/* Appends one CSV field, quoted when RFC 4180 requires it. */
static int csv_field(jl_buf *out, const char *text, size_t len)
{
    if (text == NULL)
        text = ""; /* an empty slice may carry no pointer */
    int quote = 0;
    for (size_t i = 0; i < len && !quote; i++) {
        char c = text[i];
        quote = c == ',' || c == '"' || c == '\r' || c == '\n';
    }
    if (!quote)
        return jl_buf_append(out, text, len);
    if (jl_buf_append(out, "\"", 1) != JL_OK)
        return JL_ENOMEM;
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"') {
            /* Append through this quote, then the quote again. */
            if (jl_buf_append(out, text + run, i + 1 - run) != JL_OK ||
                jl_buf_append(out, "\"", 1) != JL_OK)
                return JL_ENOMEM;
            run = i + 1;
        }
    }
    if (jl_buf_append(out, text + run, len - run) != JL_OK || jl_buf_append(out, "\"", 1) != JL_OK)
        return JL_ENOMEM;
    return JL_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Formats */

int fm_parse_format(const char *text, fm_format *out, jl_error *err)
{
    *out = FM_JSON;
    jl_error_clear(err);
    if (text == NULL || text[0] == '\0' || strcasecmp(text, "json") == 0)
        return JL_OK;
    if (strcasecmp(text, "csv") == 0) {
        *out = FM_CSV;
        return JL_OK;
    }
    if (strcasecmp(text, "msgpack") == 0) {
        *out = FM_MSGPACK;
        return JL_OK;
    }
    return jl_error_set(err, JL_EINVAL, "format \"%.64s\" is not known; use json, csv or msgpack",
                        text);
}

const char *fm_content_type(fm_format format)
{
    switch (format) {
    case FM_CSV:
        return "text/csv; charset=utf-8";
    case FM_MSGPACK:
        return "application/msgpack";
    default:
        return "application/json";
    }
}

int fm_format_streamable(fm_format format)
{
    return format != FM_MSGPACK;
}

/* ------------------------------------------------------------------------------------------ */
/* Accept header */

/* RFC 9110 token characters. */
static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static const char *skip_token(const char *p)
{
    while (is_tchar(*p))
        p++;
    return p;
}

/* Skips to the comma ending the current list element (or the end), stepping over quoted strings
 * so a comma inside a parameter value does not split the element. */
static const char *skip_element(const char *p)
{
    while (*p != '\0' && *p != ',') {
        if (*p == '"') {
            p++;
            while (*p != '\0' && *p != '"') {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                p++;
            }
            if (*p == '\0')
                break;
        }
        p++;
    }
    return p;
}

/* Parses a qvalue (RFC 9110 §12.4.2: 0[.ddd] or 1[.000]) from p[0..len) in thousandths;
 * returns -1 when malformed. */
static int parse_qvalue(const char *p, size_t len)
{
    if (len == 0 || (p[0] != '0' && p[0] != '1'))
        return -1;
    int q = (p[0] - '0') * 1000;
    if (len == 1)
        return q;
    if (p[1] != '.' || len > 5)
        return -1;
    int scale = 100;
    for (size_t i = 2; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        q += (p[i] - '0') * scale;
        scale /= 10;
    }
    return q <= 1000 ? q : -1;
}

static int text_is(const char *p, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(p, word, len) == 0;
}

/* What the header says of one format: the most specific range matching it. */
typedef struct accept_match {
    int specificity; /* -1 no range matched, 0 any type, 1 type wildcard, 2 exact */
    int q;           /* thousandths */
    size_t position; /* index of the list element that set q */
} accept_match;

#define FM_FORMAT_COUNT 3

static void accept_note(accept_match *m, int specificity, int q, size_t position)
{
    /* A more specific range overrides; of equal ones (a repeated or aliased type) the most
     * favourable counts, since a header naming a type twice gives no clearer rule. */
    if (specificity > m->specificity || (specificity == m->specificity && q > m->q)) {
        m->specificity = specificity;
        m->q = q;
        m->position = position;
    }
}

/* Records one media range type/subtype with weight q against every format it matches. */
static void accept_range(accept_match *matches, const char *type, size_t type_len,
                         const char *subtype, size_t subtype_len, int q, size_t position)
{
    int star_sub = text_is(subtype, subtype_len, "*");
    if (text_is(type, type_len, "*")) {
        if (!star_sub)
            return; /* "* / json" is no media range */
        for (int f = 0; f < FM_FORMAT_COUNT; f++)
            accept_note(&matches[f], 0, q, position);
    } else if (text_is(type, type_len, "application")) {
        if (star_sub) {
            accept_note(&matches[FM_JSON], 1, q, position);
            accept_note(&matches[FM_MSGPACK], 1, q, position);
        } else if (text_is(subtype, subtype_len, "json")) {
            accept_note(&matches[FM_JSON], 2, q, position);
        } else if (text_is(subtype, subtype_len, "msgpack") ||
                   text_is(subtype, subtype_len, "x-msgpack")) {
            accept_note(&matches[FM_MSGPACK], 2, q, position);
        }
    } else if (text_is(type, type_len, "text")) {
        if (star_sub)
            accept_note(&matches[FM_CSV], 1, q, position);
        else if (text_is(subtype, subtype_len, "csv"))
            accept_note(&matches[FM_CSV], 2, q, position);
    }
}

/* Parses one list element at p: media-range *( OWS ";" OWS parameter ). Returns 1 and fills the
 * range and q when it is well formed up to the next comma or the end; *end is where it stopped. */
static int accept_element(const char *p, const char **end, const char **type, size_t *type_len,
                          const char **subtype, size_t *subtype_len, int *q)
{
    *q = 1000;
    *type = p;
    p = skip_token(p);
    *type_len = (size_t)(p - *type);
    if (*type_len == 0 || *p != '/')
        goto bad;
    *subtype = ++p;
    p = skip_token(p);
    *subtype_len = (size_t)(p - *subtype);
    if (*subtype_len == 0)
        goto bad;
    int seen_q = 0;
    for (;;) {
        p = skip_ows(p);
        if (*p == '\0' || *p == ',')
            break;
        if (*p != ';')
            goto bad;
        p = skip_ows(p + 1);
        if (*p == '\0' || *p == ',' || *p == ';')
            continue; /* an empty parameter, as some clients send "a/b;" */
        const char *name = p;
        p = skip_token(p);
        size_t name_len = (size_t)(p - name);
        if (name_len == 0 || *p != '=')
            goto bad;
        const char *value = ++p;
        if (*p == '"') {
            p = value + 1;
            while (*p != '\0' && *p != '"') {
                if (*p == '\\' && p[1] != '\0')
                    p++;
                p++;
            }
            if (*p != '"')
                goto bad;
            p++;
        } else {
            p = skip_token(p);
        }
        /* Parameters after q are accept extensions and do not change the weight. */
        if (!seen_q && text_is(name, name_len, "q")) {
            *q = parse_qvalue(value, (size_t)(p - value));
            if (*q < 0)
                goto bad;
            seen_q = 1;
        }
    }
    *end = p;
    return 1;
bad:
    *end = skip_element(p);
    return 0;
}

int fm_format_from_accept(const char *accept, fm_format *out)
{
    *out = FM_JSON;
    if (accept == NULL)
        return 0;
    accept_match matches[FM_FORMAT_COUNT];
    for (int f = 0; f < FM_FORMAT_COUNT; f++)
        matches[f] = (accept_match){.specificity = -1, .q = 0, .position = 0};
    const char *p = accept;
    for (size_t position = 0;; position++) {
        p = skip_ows(p);
        if (*p != ',' && *p != '\0') {
            const char *type, *subtype;
            size_t type_len, subtype_len;
            int q;
            if (accept_element(p, &p, &type, &type_len, &subtype, &subtype_len, &q))
                accept_range(matches, type, type_len, subtype, subtype_len, q, position);
        }
        if (*p == '\0')
            break;
        p++; /* the comma */
    }
    int json_q = matches[FM_JSON].specificity >= 0 ? matches[FM_JSON].q : 0;
    const accept_match *best = NULL;
    for (int f = FM_CSV; f <= FM_MSGPACK; f++) {
        const accept_match *m = &matches[f];
        if (m->specificity < 1 || m->q <= json_q)
            continue;
        if (best == NULL || m->q > best->q || (m->q == best->q && m->position < best->position)) {
            best = m;
            *out = (fm_format)f;
        }
    }
    return best != NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* JSON writer */

static int json_series_begin(fm_writer *w, sk_text metric, const sk_tag *tags, size_t tag_count,
                             const char *const *columns, size_t column_count)
{
    jl_buf *out = w->out;
    if (w->series_count > 0 && jl_buf_append(out, ",", 1) != JL_OK)
        return JL_ENOMEM;
    if (jl_buf_append_str(out, "{\"metric\":") != JL_OK ||
        fm_json_string(out, metric.data, metric.len) != JL_OK ||
        jl_buf_append_str(out, ",\"tags\":{") != JL_OK)
        return JL_ENOMEM;
    for (size_t i = 0; i < tag_count; i++) {
        if ((i > 0 && jl_buf_append(out, ",", 1) != JL_OK) ||
            fm_json_string(out, tags[i].key.data, tags[i].key.len) != JL_OK ||
            jl_buf_append(out, ":", 1) != JL_OK ||
            fm_json_string(out, tags[i].value.data, tags[i].value.len) != JL_OK)
            return JL_ENOMEM;
    }
    if (jl_buf_append_str(out, "},\"columns\":[") != JL_OK)
        return JL_ENOMEM;
    for (size_t i = 0; i < column_count; i++) {
        if ((i > 0 && jl_buf_append(out, ",", 1) != JL_OK) ||
            fm_json_string(out, columns[i], strlen(columns[i])) != JL_OK)
            return JL_ENOMEM;
    }
    if (jl_buf_append_str(out, "],\"values\":[") != JL_OK)
        return JL_ENOMEM;
    return JL_OK;
}

/* The cells of a JSON or CSV row, comma-separated: text first when not NULL (a string cell of
 * fm_writer_text_row: a JSON string, a CSV field), then the numbers. A null or non-finite cell is
 * null in JSON and an empty field in CSV. */
static int append_cells(jl_buf *out, int json, const sk_text *text, const qx_cell *cells,
                        size_t cell_count)
{
    if (text && (json ? fm_json_string(out, text->data, text->len)
                      : csv_field(out, text->data, text->len)) != JL_OK)
        return JL_ENOMEM;
    for (size_t i = 0; i < cell_count; i++) {
        if ((i > 0 || text) && jl_buf_append(out, ",", 1) != JL_OK)
            return JL_ENOMEM;
        int rc = JL_OK;
        char number[FM_DOUBLE_MAX];
        size_t len = 0;
        if (cells[i].type == QX_CELL_INT) {
            rc = append_int(out, cells[i].as.i);
        } else if (cells[i].type == QX_CELL_FLAG) {
            /* A letter never needs CSV quoting. */
            char letter = jl_flag_letter((unsigned)cells[i].as.i);
            rc = json ? fm_json_string(out, &letter, 1) : jl_buf_append(out, &letter, 1);
        } else if (cells[i].type == QX_CELL_BOOL) {
            /* JSON's literals, and the same words in CSV. */
            rc = cells[i].as.i ? jl_buf_append(out, "true", 4) : jl_buf_append(out, "false", 5);
        } else {
            if (cells[i].type == QX_CELL_DOUBLE)
                len = fm_format_double(cells[i].as.d, number);
            if (len > 0)
                rc = jl_buf_append(out, number, len);
            else if (json)
                rc = jl_buf_append(out, "null", 4);
        }
        if (rc != JL_OK)
            return JL_ENOMEM;
    }
    return JL_OK;
}

static int json_row(fm_writer *w, const sk_text *text, const qx_cell *cells, size_t cell_count)
{
    jl_buf *out = w->out;
    if (jl_buf_append_str(out, w->row_count > 0 ? ",[" : "[") != JL_OK ||
        append_cells(out, 1, text, cells, cell_count) != JL_OK)
        return JL_ENOMEM;
    return jl_buf_append(out, "]", 1);
}

/* ------------------------------------------------------------------------------------------ */
/* CSV writer */

/* Builds "metric,tags," for the rows of a series into w->prefix. */
static int csv_prefix(fm_writer *w, sk_text metric, const sk_tag *tags, size_t tag_count)
{
    jl_buf tag_text;
    jl_buf_init(&tag_text);
    int rc = JL_ENOMEM;
    w->prefix.len = 0;
    for (size_t i = 0; i < tag_count; i++) {
        if ((i > 0 && jl_buf_append(&tag_text, ";", 1) != JL_OK) ||
            jl_buf_append(&tag_text, tags[i].key.data, tags[i].key.len) != JL_OK ||
            jl_buf_append(&tag_text, "=", 1) != JL_OK)
            goto out;
        /* Keys are names and cannot hold '=' or ';'; values can, so ';' and the escape
         * character itself are escaped to keep the list splittable. */
        const char *v = tags[i].value.data;
        size_t run = 0;
        for (size_t j = 0; j < tags[i].value.len; j++) {
            if (v[j] == ';' || v[j] == '\\') {
                if (jl_buf_append(&tag_text, v + run, j - run) != JL_OK ||
                    jl_buf_append(&tag_text, "\\", 1) != JL_OK)
                    goto out;
                run = j;
            }
        }
        if (jl_buf_append(&tag_text, v + run, tags[i].value.len - run) != JL_OK)
            goto out;
    }
    if (csv_field(&w->prefix, metric.data, metric.len) != JL_OK ||
        jl_buf_append(&w->prefix, ",", 1) != JL_OK ||
        csv_field(&w->prefix, tag_text.data, tag_text.len) != JL_OK ||
        jl_buf_append(&w->prefix, ",", 1) != JL_OK)
        goto out;
    rc = JL_OK;
out:
    jl_buf_destroy(&tag_text);
    return rc;
}

static int csv_series_begin(fm_writer *w, sk_text metric, const sk_tag *tags, size_t tag_count,
                            const char *const *columns, size_t column_count)
{
    if (!w->header_written) {
        if (jl_buf_append_str(w->out, "metric,tags") != JL_OK)
            return JL_ENOMEM;
        for (size_t i = 0; i < column_count; i++) {
            if (jl_buf_append(w->out, ",", 1) != JL_OK ||
                csv_field(w->out, columns[i], strlen(columns[i])) != JL_OK)
                return JL_ENOMEM;
        }
        if (jl_buf_append(w->out, "\r\n", 2) != JL_OK)
            return JL_ENOMEM;
        w->header_written = 1;
    }
    return csv_prefix(w, metric, tags, tag_count);
}

static int csv_row(fm_writer *w, const sk_text *text, const qx_cell *cells, size_t cell_count)
{
    jl_buf *out = w->out;
    /* The prefix ends with the comma before the first cell. */
    if (jl_buf_append(out, w->prefix.data,
                      cell_count > 0 || text ? w->prefix.len : w->prefix.len - 1) != JL_OK ||
        append_cells(out, 0, text, cells, cell_count) != JL_OK)
        return JL_ENOMEM;
    return jl_buf_append(out, "\r\n", 2);
}

/* ------------------------------------------------------------------------------------------ */
/* msgpack writer */

/* The document's first bytes: map of 1, str "series", array32 with a count patched at finish. */
static const unsigned char msgpack_head[] = {0x81, 0xa6, 's', 'e', 'r', 'i', 'e', 's', 0xdd};
#define MSGPACK_HEAD_LEN (sizeof msgpack_head + 4)

/* msgpack-c's write callback: appends to a jl_buf; non-zero tells the packer it failed. */
static int msgpack_to_buf(void *data, const char *bytes, size_t len)
{
    return jl_buf_append(data, bytes, len) == JL_OK ? 0 : -1;
}

/* Packs a str. Invalid UTF-8 bytes become U+FFFD as in JSON, so any msgpack decoder that checks
 * str contents accepts the document; the repaired copy is built in scratch. */
static int msgpack_text(msgpack_packer *pk, jl_buf *scratch, const char *text, size_t len)
{
    if (text == NULL)
        text = ""; /* an empty slice may carry no pointer */
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        size_t seq = s[i] < 0x80 ? 1 : sk_utf8_sequence(s + i, len - i);
        if (seq == 0)
            break;
        i += seq;
    }
    if (i < len) {
        scratch->len = 0;
        i = 0;
        while (i < len) {
            size_t seq = s[i] < 0x80 ? 1 : sk_utf8_sequence(s + i, len - i);
            int rc = seq == 0 ? jl_buf_append(scratch, "\xef\xbf\xbd", 3)
                              : jl_buf_append(scratch, s + i, seq);
            if (rc != JL_OK)
                return JL_ENOMEM;
            i += seq == 0 ? 1 : seq;
        }
        text = scratch->data;
        len = scratch->len;
    }
    if (len > UINT32_MAX)
        return JL_ELIMIT;
    if (msgpack_pack_str(pk, len) != 0 || msgpack_pack_str_body(pk, text, len) != 0)
        return JL_ENOMEM;
    return JL_OK;
}

static int msgpack_key(msgpack_packer *pk, const char *key)
{
    size_t len = strlen(key);
    return msgpack_pack_str(pk, len) == 0 && msgpack_pack_str_body(pk, key, len) == 0 ? JL_OK
                                                                                      : JL_ENOMEM;
}

static int msgpack_begin(fm_writer *w)
{
    w->doc_start = w->out->len;
    unsigned char head[MSGPACK_HEAD_LEN] = {0};
    memcpy(head, msgpack_head, sizeof msgpack_head);
    if (jl_buf_append(w->out, head, sizeof head) != JL_OK)
        return JL_ENOMEM;
    w->out_bytes = sizeof head;
    return JL_OK;
}

/* Packs the series map up to the "values" key straight into out; the rows wait in w->rows. */
static int msgpack_series_begin(fm_writer *w, sk_text metric, const sk_tag *tags, size_t tag_count,
                                const char *const *columns, size_t column_count)
{
    if (w->series_count >= UINT32_MAX || tag_count > UINT32_MAX || column_count > UINT32_MAX)
        return JL_ELIMIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, w->out, msgpack_to_buf);
    size_t before = w->out->len;
    int rc = JL_ENOMEM;
    if (msgpack_pack_map(&pk, 4) != 0 || msgpack_key(&pk, "metric") != JL_OK)
        goto out;
    if ((rc = msgpack_text(&pk, &w->prefix, metric.data, metric.len)) != JL_OK)
        goto out;
    rc = JL_ENOMEM;
    if (msgpack_key(&pk, "tags") != JL_OK || msgpack_pack_map(&pk, tag_count) != 0)
        goto out;
    for (size_t i = 0; i < tag_count; i++) {
        if ((rc = msgpack_text(&pk, &w->prefix, tags[i].key.data, tags[i].key.len)) != JL_OK ||
            (rc = msgpack_text(&pk, &w->prefix, tags[i].value.data, tags[i].value.len)) != JL_OK)
            goto out;
    }
    rc = JL_ENOMEM;
    if (msgpack_key(&pk, "columns") != JL_OK || msgpack_pack_array(&pk, column_count) != 0)
        goto out;
    for (size_t i = 0; i < column_count; i++) {
        if ((rc = msgpack_text(&pk, &w->prefix, columns[i], strlen(columns[i]))) != JL_OK)
            goto out;
    }
    rc = msgpack_key(&pk, "values");
    w->rows.len = 0;
out:
    w->out_bytes += w->out->len - before;
    return rc;
}

static int msgpack_row(fm_writer *w, const sk_text *text, const qx_cell *cells, size_t cell_count)
{
    if (w->row_count >= UINT32_MAX || cell_count >= UINT32_MAX)
        return JL_ELIMIT;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w->rows, msgpack_to_buf);
    if (msgpack_pack_array(&pk, cell_count + (text ? 1 : 0)) != 0)
        return JL_ENOMEM;
    if (text) {
        int rc = msgpack_text(&pk, &w->prefix, text->data, text->len);
        if (rc != JL_OK)
            return rc;
    }
    for (size_t i = 0; i < cell_count; i++) {
        int rc;
        switch (cells[i].type) {
        case QX_CELL_INT:
            rc = msgpack_pack_int64(&pk, cells[i].as.i);
            break;
        case QX_CELL_DOUBLE:
            rc = msgpack_pack_double(&pk, cells[i].as.d);
            break;
        case QX_CELL_FLAG: {
            char letter = jl_flag_letter((unsigned)cells[i].as.i);
            int text_rc = msgpack_text(&pk, &w->prefix, &letter, 1);
            if (text_rc != JL_OK)
                return text_rc;
            rc = 0;
            break;
        }
        case QX_CELL_BOOL:
            rc = cells[i].as.i ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
            break;
        default:
            rc = msgpack_pack_nil(&pk);
            break;
        }
        if (rc != 0)
            return JL_ENOMEM;
    }
    return JL_OK;
}

/* Now that the row count is known: the values array header, then the buffered rows. */
static int msgpack_series_end(fm_writer *w)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, w->out, msgpack_to_buf);
    size_t before = w->out->len;
    int rc = msgpack_pack_array(&pk, (size_t)w->row_count) == 0 &&
                     jl_buf_append(w->out, w->rows.data, w->rows.len) == JL_OK
                 ? JL_OK
                 : JL_ENOMEM;
    w->out_bytes += w->out->len - before;
    w->rows.len = 0;
    return rc;
}

/* Writes the series count into the array32 header when it is still where init put it (out holds
 * exactly the bytes the writer appended, starting with the header); when bytes were taken out,
 * leaves the patch to the caller (fm_writer_count_patch). */
static int msgpack_finish(fm_writer *w)
{
    jl_buf *out = w->out;
    uint32_t n = (uint32_t)w->series_count;
    w->count_bytes[0] = (unsigned char)(n >> 24);
    w->count_bytes[1] = (unsigned char)(n >> 16);
    w->count_bytes[2] = (unsigned char)(n >> 8);
    w->count_bytes[3] = (unsigned char)n;
    if (out->len >= w->doc_start && out->len - w->doc_start < w->out_bytes) {
        w->count_pending = 1; /* taken out: the caller patches */
        return JL_OK;
    }
    if (out->len < w->doc_start || out->len - w->doc_start != w->out_bytes ||
        w->out_bytes < MSGPACK_HEAD_LEN ||
        memcmp(out->data + w->doc_start, msgpack_head, sizeof msgpack_head) != 0)
        return JL_EINVAL;
    memcpy(out->data + w->doc_start + sizeof msgpack_head, w->count_bytes, 4);
    return JL_OK;
}

int fm_writer_count_patch(const fm_writer *w, uint64_t *offset, unsigned char bytes[4])
{
    if (w->format != FM_MSGPACK || !w->finished || !w->count_pending)
        return 0;
    *offset = sizeof msgpack_head;
    memcpy(bytes, w->count_bytes, 4);
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Writer and sink */

int fm_writer_init(fm_writer *w, fm_format format, jl_buf *out)
{
    memset(w, 0, sizeof *w);
    jl_buf_init(&w->prefix);
    jl_buf_init(&w->rows);
    w->format = format;
    w->out = out;
    if (format != FM_JSON && format != FM_CSV && format != FM_MSGPACK)
        return w->status = JL_EINVAL;
    if (format == FM_JSON && jl_buf_append_str(out, "{\"series\":[") != JL_OK)
        return w->status = JL_ENOMEM;
    if (format == FM_MSGPACK && msgpack_begin(w) != JL_OK)
        return w->status = JL_ENOMEM;
    return JL_OK;
}

static int sink_series_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                             const char *const *columns, size_t column_count)
{
    fm_writer *w = context;
    if (w->status != JL_OK)
        return w->status;
    if (w->in_series || w->finished)
        return w->status = JL_EINVAL;
    int rc;
    switch (w->format) {
    case FM_JSON:
        rc = json_series_begin(w, metric, tags, tag_count, columns, column_count);
        break;
    case FM_CSV:
        rc = csv_series_begin(w, metric, tags, tag_count, columns, column_count);
        break;
    default:
        rc = msgpack_series_begin(w, metric, tags, tag_count, columns, column_count);
        break;
    }
    if (rc != JL_OK)
        return w->status = rc;
    w->in_series = 1;
    w->series_count++;
    w->row_count = 0;
    return JL_OK;
}

static int writer_row(fm_writer *w, const sk_text *text, const qx_cell *cells, size_t cell_count)
{
    if (w->status != JL_OK)
        return w->status;
    if (!w->in_series)
        return w->status = JL_EINVAL;
    int rc;
    switch (w->format) {
    case FM_JSON:
        rc = json_row(w, text, cells, cell_count);
        break;
    case FM_CSV:
        rc = csv_row(w, text, cells, cell_count);
        break;
    default:
        rc = msgpack_row(w, text, cells, cell_count);
        break;
    }
    if (rc != JL_OK)
        return w->status = rc;
    w->row_count++;
    return JL_OK;
}

static int sink_row(void *context, const qx_cell *cells, size_t cell_count)
{
    return writer_row(context, NULL, cells, cell_count);
}

int fm_writer_text_row(fm_writer *w, sk_text text, const qx_cell *cells, size_t cell_count)
{
    return writer_row(w, &text, cells, cell_count);
}

static int sink_series_end(void *context)
{
    fm_writer *w = context;
    if (w->status != JL_OK)
        return w->status;
    if (!w->in_series)
        return w->status = JL_EINVAL;
    int rc = JL_OK;
    if (w->format == FM_JSON)
        rc = jl_buf_append_str(w->out, "]}");
    else if (w->format == FM_MSGPACK)
        rc = msgpack_series_end(w);
    if (rc != JL_OK)
        return w->status = rc;
    w->in_series = 0;
    return JL_OK;
}

qx_sink fm_writer_sink(fm_writer *w)
{
    qx_sink sink = {
        .context = w,
        .series_begin = sink_series_begin,
        .row = sink_row,
        .series_end = sink_series_end,
    };
    return sink;
}

int fm_writer_finish(fm_writer *w)
{
    if (w->status != JL_OK)
        return w->status;
    if (w->finished)
        return w->status = JL_EINVAL;
    if (w->in_series) {
        int rc = sink_series_end(w);
        if (rc != JL_OK)
            return rc;
    }
    if (w->format == FM_JSON && jl_buf_append_str(w->out, "]}") != JL_OK)
        return w->status = JL_ENOMEM;
    if (w->format == FM_MSGPACK) {
        int rc = msgpack_finish(w);
        if (rc != JL_OK)
            return w->status = rc;
    }
    w->finished = 1;
    return JL_OK;
}

void fm_writer_destroy(fm_writer *w)
{
    jl_buf_destroy(&w->prefix);
    jl_buf_destroy(&w->rows);
}
