/* InfluxDB line protocol: turns a /write body into an st_batch. This is the ingest hot path, so
 * a line is lexed in one pass with a byte-class table, names and plain tag values are validated
 * while they are scanned, and nothing is allocated per line (the key, tag and field buffers live
 * for the whole body). Every refusal names the line and column and says what was wrong.
 *
 * Lines are split at '\n' before lexing. Only accepted lines matter for that split, and they
 * never hold quoted strings (string fields are refused, but for the one-letter `flag` field),
 * so a newline inside a quoted string only changes which error is reported, not whether the body
 * is accepted.
 *
 * The one string field taken is `flag="M"`: the HJ 212-2017 data flag of every reading the line
 * carries (jialing/flag.h); lines without it are JL_FLAG_N. A numeric field named flag stays an
 * ordinary field, as it always was. */
#include "jialing/calendar.h"
#include "jialing/flag.h"
#include "jialing/ingest.h"
#include "jialing/serieskey.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    LP_NAME = 1,  /* [A-Za-z0-9_.-]: may appear in metric names and tag keys */
    LP_FIRST = 2, /* [A-Za-z_]: may start one */
    LP_PLAIN = 4  /* tag-value byte needing no unescaping, UTF-8 check or escaping in keys */
};

static unsigned char lp_class[256];
static pthread_once_t lp_class_once = PTHREAD_ONCE_INIT;

static void lp_class_init(void)
{
    for (int c = 0; c < 256; c++) {
        unsigned char k = 0;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (alpha || c == '_')
            k |= LP_FIRST | LP_NAME;
        if ((c >= '0' && c <= '9') || c == '.' || c == '-')
            k |= LP_NAME;
        if (c > 0x20 && c < 0x7f && c != ',' && c != '=' && c != '\\' && c != '"')
            k |= LP_PLAIN;
        lp_class[c] = k;
    }
}

#define LP_CLASS(p) lp_class[(unsigned char)*(p)]
#define NAME_RULE                                                                                  \
    "names start with a letter or '_' and contain only letters, digits, '_', '.' and '-'"

static const double lp_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* One tag of the current line. */
typedef struct lp_tag {
    sk_text key;    /* points into the body */
    sk_text value;  /* into the body, or into scratch when it had escapes */
    const char *at; /* where the tag starts, for messages */
    int escape;     /* value holds `"` or `\`, which the series key escapes */
} lp_tag;

/* State for one body; buffers are reused from line to line. */
typedef struct lp_ctx {
    const char *line; /* start of the current line */
    long line_no;     /* 1-based */
    ig_precision precision;
    int64_t now_ms;         /* timestamp of lines without one */
    st_batch *batch;        /* borrowed */
    jl_error *err;          /* borrowed, may be NULL */
    jl_buf key;             /* series key of the current field */
    jl_buf suffix;          /* `{k="v",...}` of the current line, empty without tags */
    jl_buf scratch;         /* unescaped tag values of the current line */
    jl_buf number;          /* NUL-terminated copy of a number for strtod */
    uint32_t *field_series; /* series of each field of the current line */
    double *field_values;   /* value of each field of the current line */
    size_t field_capacity;  /* entries allocated in both */
    lp_tag tags[SK_MAX_TAGS];
    struct lp_known *known; /* see lp_known_line */
    size_t known_capacity;  /* a power of two, or 0 */
    size_t known_count;
} lp_ctx;

/* A line start already parsed in this body: the bytes `measurement,tags value=` and the series
 * they make. Senders repeat the same few hundred series all through a body, and most of a line's
 * cost is lexing, sorting and escaping its tags into a key and finding that key in the batch;
 * a line whose start matches one seen before skips all of that. */
typedef struct lp_known {
    const char *start; /* into the body, which outlives the parse */
    uint32_t len;      /* bytes up to and including "value=" */
    uint32_t series;   /* index in the batch */
    uint64_t hash;     /* 0: free slot */
} lp_known;

#define LP_KNOWN_MAX 65536 /* distinct line starts remembered per body */

static int lp_sep(char c)
{
    return c == ' ' || c == '\t';
}

static int lp_delim(const char *p, const char *e)
{
    return p == e || *p == ',' || *p == ' ' || *p == '\t';
}

static int lp_fail(lp_ctx *c, const char *at, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int lp_fail(lp_ctx *c, const char *at, const char *format, ...)
{
    char text[JL_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    long column = (long)(at - c->line) + 1;
    if (c->err) {
        c->err->line = c->line_no;
        c->err->column = column;
    }
    return jl_error_set(c->err, JL_EINVAL, "line %ld, column %ld: %s", c->line_no, column, text);
}

static int lp_nomem(lp_ctx *c)
{
    if (c->err) {
        c->err->line = c->line_no;
        c->err->column = 0;
    }
    return jl_error_set(c->err, JL_ENOMEM, "line %ld: out of memory while parsing the body",
                        c->line_no);
}

/* End of a token: the first unescaped byte of `stops`; a backslash hides the byte after it. */
static const char *lp_token_end(const char *p, const char *e, const char *stops)
{
    size_t nstops = strlen(stops);
    while (p < e) {
        if (*p == '\\' && p + 1 < e) {
            p += 2;
            continue;
        }
        if (memchr(stops, *p, nstops))
            break;
        p++;
    }
    return p;
}

static int lp_bad_measurement(lp_ctx *c, const char *m0, const char *e)
{
    char q[128];
    const char *end = lp_token_end(m0, e, ", \t");
    sk_quote(m0, (size_t)(end - m0), q, sizeof q);
    if (end - m0 > SK_MAX_NAME_BYTES)
        return lp_fail(c, m0, "measurement \"%s\" is longer than %d bytes", q, SK_MAX_NAME_BYTES);
    return lp_fail(c, m0, "measurement \"%s\" is not a valid metric name; %s", q, NAME_RULE);
}

static int lp_bad_tag_key(lp_ctx *c, const char *k0, const char *e)
{
    char q[128];
    const char *end = lp_token_end(k0, e, ",= \t");
    int has_eq = end < e && *end == '=';
    if (end == k0) {
        if (has_eq)
            return lp_fail(c, k0, "a tag key is missing before '='");
        return lp_fail(c, k0, "a tag is missing after ','; expected key=value");
    }
    sk_quote(k0, (size_t)(end - k0), q, sizeof q);
    if (!has_eq)
        return lp_fail(c, k0, "tag \"%s\" has no '=' and value", q);
    if (end - k0 > SK_MAX_NAME_BYTES)
        return lp_fail(c, k0, "tag key \"%s\" is longer than %d bytes", q, SK_MAX_NAME_BYTES);
    return lp_fail(c, k0, "tag key \"%s\" is not valid; %s", q, NAME_RULE);
}

static int lp_bad_field_key(lp_ctx *c, const char *f0, const char *e)
{
    char q[128];
    const char *end = lp_token_end(f0, e, ",= \t");
    int has_eq = end < e && *end == '=';
    if (end == f0) {
        if (has_eq)
            return lp_fail(c, f0, "a field name is missing before '='");
        return lp_fail(c, f0, "a field is missing here; expected name=value");
    }
    sk_quote(f0, (size_t)(end - f0), q, sizeof q);
    if (!has_eq)
        return lp_fail(c, f0, "field \"%s\" has no '=' and value", q);
    return lp_fail(c, f0,
                   "field name \"%s\" cannot be part of a metric name; field names contain only "
                   "letters, digits, '_', '.' and '-'",
                   q);
}

/* Slow path of a tag value: escapes, non-ASCII bytes or bytes that are refused. */
static int lp_tag_value_slow(lp_ctx *c, lp_tag *tag, const char *v0, const char *e,
                             const char **next, int *scratch_ready)
{
    char kq[128];
    const char *p = v0;
    int escaped = 0;
    while (p < e) {
        if (*p == '\\' && p + 1 < e) {
            escaped = 1;
            p += 2;
            continue;
        }
        if (*p == ',' || lp_sep(*p))
            break;
        if (*p == '=') {
            sk_quote(tag->key.data, tag->key.len, kq, sizeof kq);
            return lp_fail(c, p,
                           "tag \"%s\" has an unescaped '=' in its value; write it as \\=", kq);
        }
        p++;
    }
    const char *value = v0;
    size_t len = (size_t)(p - v0);
    if (escaped) {
        if (!*scratch_ready) {
            /* Unescaped values are never longer than the line, so one reservation per line keeps
             * earlier values' pointers valid. */
            c->scratch.len = 0;
            if (jl_buf_reserve(&c->scratch, (size_t)(e - c->line)) != JL_OK)
                return lp_nomem(c);
            *scratch_ready = 1;
        }
        char *w = c->scratch.data + c->scratch.len;
        value = w;
        for (const char *r = v0; r < p; r++) {
            if (*r == '\\' && r + 1 < p &&
                (r[1] == ',' || r[1] == '=' || r[1] == ' ' || r[1] == '\t' || r[1] == '\\'))
                r++;
            *w++ = *r;
        }
        len = (size_t)(w - value);
        c->scratch.len += len;
    }
    if (!sk_value_valid(value, len)) {
        sk_quote(tag->key.data, tag->key.len, kq, sizeof kq);
        if (len == 0)
            return lp_fail(c, v0, "tag \"%s\" has no value", kq);
        if (len > SK_MAX_VALUE_BYTES)
            return lp_fail(c, v0, "the value of tag \"%s\" is longer than %d bytes", kq,
                           SK_MAX_VALUE_BYTES);
        for (size_t i = 0; i < len; i++) {
            unsigned char b = (unsigned char)value[i];
            if (b < 0x20 || b == 0x7f)
                return lp_fail(
                    c, v0, "the value of tag \"%s\" contains the control character 0x%02x", kq, b);
        }
        return lp_fail(c, v0, "the value of tag \"%s\" is not valid UTF-8", kq);
    }
    tag->value.data = value;
    tag->value.len = len;
    tag->escape = memchr(value, '"', len) != NULL || memchr(value, '\\', len) != NULL;
    *next = p;
    return JL_OK;
}

static int lp_word_is(const char *p, size_t len, const char *word)
{
    if (len != strlen(word))
        return 0;
    for (size_t i = 0; i < len; i++) {
        if ((p[i] | 0x20) != word[i])
            return 0;
    }
    return 1;
}

/* A field value that is not a number: say what it is. */
static int lp_bad_value(lp_ctx *c, const char *f0, size_t flen, const char *v0, const char *e)
{
    char q[128], field[128];
    sk_quote(f0, flen, field, sizeof field);
    const char *end = lp_token_end(v0, e, ", \t");
    size_t len = (size_t)(end - v0);
    static const char *const booleans[] = {"t", "T", "true",  "True",  "TRUE",
                                           "f", "F", "false", "False", "FALSE"};
    for (size_t i = 0; i < sizeof booleans / sizeof booleans[0]; i++) {
        if (len == strlen(booleans[i]) && memcmp(v0, booleans[i], len) == 0)
            return lp_fail(c, v0, "field \"%s\" is a boolean; only numeric fields are stored",
                           field);
    }
    const char *w = v0;
    size_t wlen = len;
    if (wlen > 0 && (*w == '-' || *w == '+')) {
        w++;
        wlen--;
    }
    if (lp_word_is(w, wlen, "nan"))
        return lp_fail(c, v0, "field \"%s\" is NaN; only finite numbers are stored", field);
    if (lp_word_is(w, wlen, "inf") || lp_word_is(w, wlen, "infinity"))
        return lp_fail(c, v0, "field \"%s\" is infinite; only finite numbers are stored", field);
    sk_quote(v0, len, q, sizeof q);
    return lp_fail(c, v0,
                   "field \"%s\" has the value \"%s\", which is not a number; write floats as 1.5 "
                   "or -2e3, integers as 12i and unsigned integers as 12u",
                   field, q);
}

/* Parses the number at v0 of field f0[0..flen); *end is set past it. */
static int lp_number(lp_ctx *c, const char *f0, size_t flen, const char *v0, const char *e,
                     const char **end, double *out)
{
    const char *p = v0;
    int neg = 0, dot = 0, has_exp = 0, exact = 1;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    uint64_t mant = 0;
    long exp10 = 0;
    size_t digits = 0;
    while ((unsigned)(*p - '0') < 10) {
        if (mant < 100000000000000000ull)
            mant = mant * 10 + (uint64_t)(*p - '0');
        else
            exact = 0;
        digits++;
        p++;
    }
    if (p < e && *p == '.') {
        dot = 1;
        p++;
        while ((unsigned)(*p - '0') < 10) {
            if (mant < 100000000000000000ull) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                exp10--;
            } else {
                exact = 0;
            }
            digits++;
            p++;
        }
    }
    if (digits == 0)
        return lp_bad_value(c, f0, flen, v0, e);
    if (p < e && (*p == 'e' || *p == 'E')) {
        has_exp = 1;
        p++;
        int eneg = 0;
        if (p < e && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p == e || (unsigned)(*p - '0') >= 10)
            return lp_bad_value(c, f0, flen, v0, e);
        long ev = 0;
        while ((unsigned)(*p - '0') < 10) {
            if (ev < 1000000)
                ev = ev * 10 + (*p - '0');
            p++;
        }
        exp10 += eneg ? -ev : ev;
    }
    if (p < e && (*p == 'i' || *p == 'u')) {
        char kind = *p++;
        if (dot || has_exp || !lp_delim(p, e))
            return lp_bad_value(c, f0, flen, v0, e);
        uint64_t limit = kind == 'u' ? UINT64_MAX : neg ? (1ull << 63) : (1ull << 63) - 1;
        uint64_t acc = 0;
        int overflow = kind == 'u' && neg;
        for (const char *d = v0 + neg; d < p - 1 && !overflow; d++) {
            uint64_t digit = (uint64_t)(*d - '0');
            if (acc > (limit - digit) / 10)
                overflow = 1;
            acc = acc * 10 + digit;
        }
        if (overflow) {
            char q[128], field[128];
            sk_quote(v0, (size_t)(p - v0), q, sizeof q);
            sk_quote(f0, flen, field, sizeof field);
            if (kind == 'u' && neg)
                return lp_fail(c, v0, "field \"%s\" has the negative unsigned value \"%s\"", field,
                               q);
            return lp_fail(c, v0,
                           "field \"%s\" has the value \"%s\", which does not fit in a 64-bit %s "
                           "integer",
                           field, q, kind == 'u' ? "unsigned" : "signed");
        }
        *out = neg && acc ? -(double)acc : (double)acc; /* integers have no -0 */
        *end = p;
        return JL_OK;
    }
    if (!lp_delim(p, e))
        return lp_bad_value(c, f0, flen, v0, e);
    double d;
    if (exact && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        /* Both operands are exact doubles, so one correctly rounded operation gives the correctly
         * rounded result (Clinger's fast path); sensor readings nearly always take it. */
        d = (double)mant;
        d = exp10 < 0 ? d / lp_pow10[-exp10] : d * lp_pow10[exp10];
        if (neg)
            d = -d;
    } else {
        c->number.len = 0;
        if (jl_buf_append(&c->number, v0, (size_t)(p - v0)) != JL_OK)
            return lp_nomem(c);
        d = strtod(c->number.data, NULL);
    }
    if (!isfinite(d)) {
        char q[128], field[128];
        sk_quote(v0, (size_t)(p - v0), q, sizeof q);
        sk_quote(f0, flen, field, sizeof field);
        return lp_fail(c, v0,
                       "field \"%s\" has the value %s, which is too large for a double; only "
                       "finite numbers are stored",
                       field, q);
    }
    *out = d;
    *end = p;
    return JL_OK;
}

/* Parses the field value at v0 (just after '=') of field f0[0..flen). */
static int lp_field_value(lp_ctx *c, const char *f0, size_t flen, const char *v0, const char *e,
                          const char **end, double *out)
{
    if (v0 < e && (*v0 == '-' || *v0 == '.' || (unsigned)(*v0 - '0') < 10))
        return lp_number(c, f0, flen, v0, e, end, out);
    char field[128];
    sk_quote(f0, flen, field, sizeof field);
    if (v0 == e || *v0 == ',' || lp_sep(*v0))
        return lp_fail(c, v0, "field \"%s\" has no value after '='", field);
    if (*v0 == '"') {
        /* Lex the string to its closing quote (honouring \" and \\) only to tell the user
         * whether it is closed; either way it is refused. */
        const char *p = v0 + 1;
        while (p < e && *p != '"')
            p += (*p == '\\' && p + 1 < e) ? 2 : 1;
        if (p == e)
            return lp_fail(c, v0,
                           "field \"%s\" is a string with no closing quote; only numeric fields "
                           "are stored",
                           field);
        return lp_fail(c, v0, "field \"%s\" is a string; only numeric fields are stored", field);
    }
    return lp_bad_value(c, f0, flen, v0, e);
}

/* Parses the value of the `flag` string field at v0 (its opening quote): exactly one HJ 212-2017
 * flag letter in quotes, which applies to every field of the line. seen is the flag taken from an
 * earlier `flag` field of the line (-1: none). Sets *end past the closing quote and *out. */
static int lp_flag_field(lp_ctx *c, const char *v0, const char *e, int seen, const char **end,
                         int *out)
{
    if (seen >= 0)
        return lp_fail(c, v0, "the line has more than one flag field");
    const char *close = v0 + 1;
    while (close < e && *close != '"')
        close += (*close == '\\' && close + 1 < e) ? 2 : 1;
    int code = close < e && close == v0 + 2 ? jl_flag_from_letter(v0[1]) : -1;
    if (code < 0) {
        char q[128];
        sk_quote(v0 + 1, (size_t)(close - (v0 + 1)), q, sizeof q);
        return lp_fail(c, v0 + 1,
                       "field \"flag\" has the value \"%s\"; a flag is one of the HJ 212 letters "
                       "N F M S D C T B, e.g. flag=\"M\"",
                       q);
    }
    if (close + 1 < e && close[1] != ',' && !lp_sep(close[1]))
        return lp_fail(c, close + 1, "field \"flag\" must be followed by ',' or a space");
    *end = close + 1;
    *out = code;
    return JL_OK;
}

static const char *const lp_unit_names[] = {"nanoseconds", "microseconds", "milliseconds",
                                            "seconds",     "minutes",      "hours"};

/* Reads the 8 ASCII digits at p as a number (SWAR: eight bytes in one register); returns 0 when
 * one of them is not a digit. Timestamps have 19 digits, so this halves a line's work there. */
static int lp_eight_digits(const char *p, uint64_t *out)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w;
    memcpy(&w, p, 8);
    /* each byte has high nibble 3, and adding 6 keeps it 3: '0'..'9' only */
    uint64_t hi = w & 0xf0f0f0f0f0f0f0f0ull;
    uint64_t hi6 = ((w + 0x0606060606060606ull) & 0xf0f0f0f0f0f0f0f0ull) >> 4;
    if ((hi | hi6) != 0x3333333333333333ull)
        return 0;
    w -= 0x3030303030303030ull; /* the first digit is the lowest byte */
    w = (w * 10 + (w >> 8)) & 0x00ff00ff00ff00ffull;
    w = (w * 100 + (w >> 16)) & 0x0000ffff0000ffffull;
    w = (w * 10000 + (w >> 32)) & 0xffffffffull;
    *out = w;
    return 1;
#else
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        if ((unsigned)(p[i] - '0') >= 10)
            return 0;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return 1;
#endif
}

/* Parses the optional timestamp at p (after the fields) into milliseconds. */
static int lp_timestamp(lp_ctx *c, const char *p, const char *e, int64_t *ms)
{
    char q[128];
    while (p < e && lp_sep(*p))
        p++;
    if (p == e) {
        *ms = c->now_ms;
        return JL_OK;
    }
    const char *t0 = p;
    int neg = 0, overflow = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    const char *d0 = p;
    uint64_t limit = neg ? (1ull << 63) : (1ull << 63) - 1, acc = 0;
    /* 18 digits cannot overflow; only longer numbers pay for the check */
    const char *fast_end = e - p > 18 ? p + 18 : e;
    uint64_t eight;
    while (fast_end - p >= 8 && lp_eight_digits(p, &eight)) {
        acc = acc * 100000000u + eight;
        p += 8;
    }
    while (p < fast_end && (unsigned)(*p - '0') < 10)
        acc = acc * 10 + (uint64_t)(*p++ - '0');
    while (p < e && (unsigned)(*p - '0') < 10) {
        uint64_t digit = (uint64_t)(*p - '0');
        if (acc > (limit - digit) / 10)
            overflow = 1;
        else
            acc = acc * 10 + digit;
        p++;
    }
    if (p == d0 || (p < e && !lp_sep(*p))) {
        const char *end = lp_token_end(t0, e, " \t");
        sk_quote(t0, (size_t)(end - t0), q, sizeof q);
        if (memchr(t0, '=', (size_t)(end - t0)))
            return lp_fail(c, t0,
                           "the timestamp \"%s\" is not an integer; fields are separated by "
                           "commas, not spaces",
                           q);
        return lp_fail(c, t0, "the timestamp \"%s\" is not an integer", q);
    }
    const char *after = p;
    while (after < e && lp_sep(*after))
        after++;
    if (after < e) {
        sk_quote(after, (size_t)(e - after), q, sizeof q);
        return lp_fail(c, after, "unexpected text \"%s\" after the timestamp", q);
    }
    int64_t ts = overflow ? 0 : neg ? (int64_t)(0 - acc) : (int64_t)acc;
    int64_t value = 0;
    int ok = 1;
    switch (c->precision) {
    case IG_PRECISION_NS:
        value = cal_floor_div(ts, 1000000);
        break;
    case IG_PRECISION_US:
        value = cal_floor_div(ts, 1000);
        break;
    case IG_PRECISION_MS:
        value = ts;
        break;
    case IG_PRECISION_S:
    case IG_PRECISION_M:
    case IG_PRECISION_H: {
        int64_t unit_ms = c->precision == IG_PRECISION_S   ? 1000
                          : c->precision == IG_PRECISION_M ? 60000
                                                           : 3600000;
        ok = ts <= INT64_MAX / unit_ms && ts >= INT64_MIN / unit_ms;
        value = ok ? ts * unit_ms : 0;
        break;
    }
    }
    if (overflow || !ok || value < JL_MIN_MS || value > JL_MAX_MS) {
        sk_quote(t0, (size_t)(p - t0), q, sizeof q);
        if (overflow)
            return lp_fail(c, t0, "timestamp out of range: %s does not fit in a 64-bit integer", q);
        return lp_fail(c, t0,
                       "timestamp out of range: %s %s is not between 1677-09-21 and 2262-04-11", q,
                       lp_unit_names[c->precision]);
    }
    *ms = value;
    return JL_OK;
}

static int lp_tag_cmp(const lp_tag *a, const lp_tag *b)
{
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int r = memcmp(a->key.data, b->key.data, n);
    if (r != 0)
        return r;
    return a->key.len < b->key.len ? -1 : (a->key.len > b->key.len ? 1 : 0);
}

/* Sorts the tags, refuses duplicate keys and writes `{k="v",...}` into c->suffix. */
static int lp_build_suffix(lp_ctx *c, size_t ntags)
{
    lp_tag *tags = c->tags;
    for (size_t i = 1; i < ntags; i++) {
        if (lp_tag_cmp(&tags[i - 1], &tags[i]) <= 0)
            continue;
        lp_tag t = tags[i];
        size_t j = i;
        while (j > 0 && lp_tag_cmp(&tags[j - 1], &t) > 0) {
            tags[j] = tags[j - 1];
            j--;
        }
        tags[j] = t;
    }
    size_t need = 1;
    for (size_t i = 0; i < ntags; i++) {
        if (i > 0 && lp_tag_cmp(&tags[i - 1], &tags[i]) == 0) {
            char q[128];
            const lp_tag *later = tags[i].at > tags[i - 1].at ? &tags[i] : &tags[i - 1];
            sk_quote(later->key.data, later->key.len, q, sizeof q);
            return lp_fail(c, later->at, "tag \"%s\" appears more than once in the line", q);
        }
        need += tags[i].key.len + 4 + tags[i].value.len * (tags[i].escape ? 2 : 1);
    }
    c->suffix.len = 0;
    if (jl_buf_reserve(&c->suffix, need) != JL_OK)
        return lp_nomem(c);
    char *w = c->suffix.data;
    for (size_t i = 0; i < ntags; i++) {
        *w++ = i == 0 ? '{' : ',';
        memcpy(w, tags[i].key.data, tags[i].key.len);
        w += tags[i].key.len;
        *w++ = '=';
        *w++ = '"';
        if (tags[i].escape) {
            for (size_t k = 0; k < tags[i].value.len; k++) {
                char ch = tags[i].value.data[k];
                if (ch == '"' || ch == '\\')
                    *w++ = '\\';
                *w++ = ch;
            }
        } else {
            memcpy(w, tags[i].value.data, tags[i].value.len);
            w += tags[i].value.len;
        }
        *w++ = '"';
    }
    *w++ = '}';
    c->suffix.len = (size_t)(w - c->suffix.data);
    return JL_OK;
}

static int lp_grow_fields(lp_ctx *c)
{
    size_t capacity = c->field_capacity ? c->field_capacity * 2 : 16;
    if (capacity > SIZE_MAX / sizeof(double))
        return lp_nomem(c);
    uint32_t *series = realloc(c->field_series, capacity * sizeof *series);
    if (series == NULL)
        return lp_nomem(c);
    c->field_series = series;
    double *values = realloc(c->field_values, capacity * sizeof *values);
    if (values == NULL)
        return lp_nomem(c);
    c->field_values = values;
    c->field_capacity = capacity;
    return JL_OK;
}

/* Parses one line [p, e) (trailing whitespace and CR already cut). *e is readable and is '\n',
 * '\r', ' ' or '\t', none of which continues a name, tag value or number, so the scanning loops
 * stop at e without a bounds check. */
static int lp_line(lp_ctx *c, const char *p, const char *e)
{
    int rc;
    while (p < e && lp_sep(*p))
        p++;
    if (p == e || *p == '#')
        return JL_OK;

    /* Measurement. */
    const char *m0 = p;
    while (LP_CLASS(p) & LP_NAME)
        p++;
    if (p == m0 && *p == ',')
        return lp_fail(c, m0, "the measurement name is missing at the start of the line");
    if ((p < e && *p != ',' && !lp_sep(*p)) || !(LP_CLASS(m0) & LP_FIRST) ||
        p - m0 > SK_MAX_NAME_BYTES)
        return lp_bad_measurement(c, m0, e);
    size_t mlen = (size_t)(p - m0);

    /* Tags. */
    size_t ntags = 0;
    int scratch_ready = 0;
    while (p < e && *p == ',') {
        p++;
        const char *k0 = p;
        while (LP_CLASS(p) & LP_NAME)
            p++;
        if (p == e || *p != '=' || !(LP_CLASS(k0) & LP_FIRST) || p - k0 > SK_MAX_NAME_BYTES)
            return lp_bad_tag_key(c, k0, e);
        if (ntags == SK_MAX_TAGS)
            return lp_fail(c, k0, "the line has more than %d tags", SK_MAX_TAGS);
        lp_tag *tag = &c->tags[ntags];
        tag->key.data = k0;
        tag->key.len = (size_t)(p - k0);
        tag->at = k0;
        tag->escape = 0;
        const char *v0 = ++p;
        while (LP_CLASS(p) & LP_PLAIN)
            p++;
        if (p < e && *p != ',' && !lp_sep(*p)) {
            rc = lp_tag_value_slow(c, tag, v0, e, &p, &scratch_ready);
            if (rc != JL_OK)
                return rc;
        } else {
            if (p == v0 || p - v0 > SK_MAX_VALUE_BYTES) {
                rc = lp_tag_value_slow(c, tag, v0, e, &p, &scratch_ready);
                if (rc != JL_OK)
                    return rc;
            }
            tag->value.data = v0;
            tag->value.len = (size_t)(p - v0);
        }
        ntags++;
    }
    while (p < e && lp_sep(*p))
        p++;
    if (p == e)
        return lp_fail(c, p,
                       "the line has no fields; expected a space and then name=value after the "
                       "measurement and tags");
    if (ntags > 0) {
        rc = lp_build_suffix(c, ntags);
        if (rc != JL_OK)
            return rc;
    } else {
        c->suffix.len = 0;
    }

    /* Fields. */
    size_t nfields = 0;
    int flag = -1; /* the line's `flag` string field, once seen */
    for (;;) {
        const char *f0 = p;
        while (LP_CLASS(p) & LP_NAME)
            p++;
        if (p == e || *p != '=' || p == f0)
            return lp_bad_field_key(c, f0, e);
        size_t flen = (size_t)(p - f0);
        if (flen == 4 && memcmp(f0, "flag", 4) == 0 && p + 1 < e && p[1] == '"') {
            rc = lp_flag_field(c, p + 1, e, flag, &p, &flag);
            if (rc != JL_OK)
                return rc;
            if (p == e || lp_sep(*p))
                break;
            p++; /* ',' */
            continue;
        }
        double value = 0;
        rc = lp_field_value(c, f0, flen, p + 1, e, &p, &value);
        if (rc != JL_OK)
            return rc;
        int plain = flen == 5 && memcmp(f0, "value", 5) == 0;
        size_t metric_len = plain ? mlen : mlen + 1 + flen;
        if (metric_len > SK_MAX_NAME_BYTES || metric_len + c->suffix.len > SK_MAX_KEY_BYTES) {
            char q[128];
            sk_quote(f0, flen, q, sizeof q);
            if (metric_len > SK_MAX_NAME_BYTES)
                return lp_fail(c, f0,
                               "the metric name made of the measurement and field \"%s\" would "
                               "be %zu bytes long; at most %d are allowed",
                               q, metric_len, SK_MAX_NAME_BYTES);
            return lp_fail(c, f0,
                           "the series key for field \"%s\" would be %zu bytes long; at most %d "
                           "are allowed",
                           q, metric_len + c->suffix.len, SK_MAX_KEY_BYTES);
        }
        c->key.len = 0;
        if (jl_buf_reserve(&c->key, metric_len + c->suffix.len) != JL_OK)
            return lp_nomem(c);
        char *w = c->key.data;
        memcpy(w, m0, mlen);
        w += mlen;
        if (!plain) {
            *w++ = '_';
            memcpy(w, f0, flen);
            w += flen;
        }
        if (c->suffix.len) {
            memcpy(w, c->suffix.data, c->suffix.len);
            w += c->suffix.len;
        }
        c->key.len = (size_t)(w - c->key.data);
        if (nfields == c->field_capacity) {
            rc = lp_grow_fields(c);
            if (rc != JL_OK)
                return rc;
        }
        if (st_batch_series(c->batch, c->key.data, c->key.len, &c->field_series[nfields]) != JL_OK)
            return lp_nomem(c);
        c->field_values[nfields++] = value;
        if (p == e || lp_sep(*p))
            break;
        p++; /* ',' */
    }

    if (nfields == 0)
        return lp_fail(c, m0,
                       "the line has only the flag field; it needs a numeric field such as "
                       "value=1.5 for the flag to apply to");
    int64_t ms = 0;
    rc = lp_timestamp(c, p, e, &ms);
    if (rc != JL_OK)
        return rc;
    uint8_t code = flag < 0 ? JL_FLAG_N : (uint8_t)flag;
    for (size_t i = 0; i < nfields; i++) {
        if (st_batch_point_flagged(c->batch, c->field_series[i], ms, c->field_values[i], code) !=
            JL_OK)
            return lp_nomem(c);
    }
    return JL_OK;
}

int ig_precision_parse(const char *text, ig_precision *out, jl_error *err)
{
    jl_error_clear(err);
    if (text == NULL || strcmp(text, "ns") == 0 || strcmp(text, "n") == 0) {
        *out = IG_PRECISION_NS;
    } else if (strcmp(text, "us") == 0 || strcmp(text, "u") == 0) {
        *out = IG_PRECISION_US;
    } else if (strcmp(text, "ms") == 0) {
        *out = IG_PRECISION_MS;
    } else if (strcmp(text, "s") == 0) {
        *out = IG_PRECISION_S;
    } else if (strcmp(text, "m") == 0) {
        *out = IG_PRECISION_M;
    } else if (strcmp(text, "h") == 0) {
        *out = IG_PRECISION_H;
    } else {
        char q[128];
        sk_quote(text, strlen(text), q, sizeof q);
        return jl_error_set(err, JL_EINVAL,
                            "precision \"%s\" is not supported; use ns, us, ms, s, m or h", q);
    }
    return JL_OK;
}

/* The start of a line that lp_known_line can take: `name...` up to its first space, with no
 * backslash or tab before it (so that space ends measurement and tags), followed by "value=".
 * Returns its length with "value=", or 0. */
static size_t lp_known_start(const char *p, const char *e)
{
    if (p == e || !(LP_CLASS(p) & LP_FIRST))
        return 0;
    const char *space = memchr(p, ' ', (size_t)(e - p));
    if (space == NULL || e - space < 8 || memcmp(space + 1, "value=", 6) != 0 ||
        memchr(p, '\\', (size_t)(space - p)) != NULL ||
        memchr(p, '\t', (size_t)(space - p)) != NULL)
        return 0;
    return (size_t)(space + 7 - p);
}

static uint64_t lp_hash(const char *p, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15u ^ len;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        h = (h ^ word) * 0xff51afd7ed558ccdu;
        h ^= h >> 29;
    }
    uint64_t rest = 0;
    memcpy(&rest, p, len);
    h = (h ^ rest) * 0xc4ceb9fe1a85ec53u;
    h ^= h >> 32;
    return h ? h : 1;
}

static lp_known *lp_known_slot(const lp_ctx *c, uint64_t hash, const char *start, size_t len)
{
    size_t mask = c->known_capacity - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        lp_known *k = &c->known[i];
        if (k->hash == 0 || (k->hash == hash && k->len == len && memcmp(k->start, start, len) == 0))
            return k;
    }
}

/* Parses a line whose start was seen before: only its value and timestamp are left to read.
 * Returns 1 when it took the line (*rc: its result), 0 when lp_line must. */
static int lp_known_line(lp_ctx *c, const char *p, const char *e, size_t start_len, uint64_t hash,
                         int *rc)
{
    if (c->known_count == 0)
        return 0;
    lp_known *k = lp_known_slot(c, hash, p, start_len);
    if (k->hash == 0)
        return 0;
    const char *v0 = p + start_len, *after = NULL;
    double value = 0;
    /* Errors here carry the same message and column as in lp_line, which reads the value and
     * timestamp with the same functions. */
    *rc = lp_field_value(c, v0 - 6, 5, v0, e, &after, &value);
    if (*rc == JL_OK && after < e && *after == ',')
        return 0; /* more fields: lp_line */
    int64_t ms = 0;
    if (*rc == JL_OK)
        *rc = lp_timestamp(c, after, e, &ms);
    if (*rc == JL_OK && st_batch_point(c->batch, k->series, ms, value) != JL_OK)
        *rc = lp_nomem(c);
    return 1;
}

/* Remembers the start of a line that lp_line just took as one reading of field "value". */
static void lp_known_add(lp_ctx *c, const char *start, size_t len, uint64_t hash)
{
    if (c->known_count * 2 >= c->known_capacity) {
        if (c->known_capacity >= LP_KNOWN_MAX)
            return;
        size_t capacity = c->known_capacity ? c->known_capacity * 2 : 256;
        lp_known *grown = calloc(capacity, sizeof *grown);
        if (grown == NULL)
            return; /* only a lost shortcut */
        lp_known *old = c->known;
        size_t old_capacity = c->known_capacity;
        c->known = grown;
        c->known_capacity = capacity;
        for (size_t i = 0; i < old_capacity; i++)
            if (old[i].hash != 0)
                *lp_known_slot(c, old[i].hash, old[i].start, old[i].len) = old[i];
        free(old);
    }
    lp_known *k = lp_known_slot(c, hash, start, len);
    if (k->hash != 0)
        return;
    *k = (lp_known){.start = start,
                    .len = (uint32_t)len,
                    .series = st_batch_point_series(c->batch, st_batch_point_count(c->batch) - 1),
                    .hash = hash};
    c->known_count++;
}

int ig_parse_line_protocol(const char *body, size_t len, ig_precision precision, int64_t now_ms,
                           st_batch *batch, jl_error *err)
{
    pthread_once(&lp_class_once, lp_class_init);
    jl_error_clear(err);
    if ((unsigned)precision > IG_PRECISION_H)
        return jl_error_set(err, JL_EINVAL, "unknown timestamp precision %d", (int)precision);
    lp_ctx c;
    c.line = body;
    c.line_no = 0;
    c.precision = precision;
    c.now_ms = now_ms;
    c.batch = batch;
    c.err = err;
    jl_buf_init(&c.key);
    jl_buf_init(&c.suffix);
    jl_buf_init(&c.scratch);
    jl_buf_init(&c.number);
    c.field_series = NULL;
    c.field_values = NULL;
    c.field_capacity = 0;
    c.known = NULL;
    c.known_capacity = 0;
    c.known_count = 0;

    int rc = JL_OK;
    const char *p = body, *end = body + len;
    jl_buf tail; /* the last line and a '\n' when the body does not end with one */
    jl_buf_init(&tail);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            /* Give the last line a terminator too, so that every line is followed by a readable
             * byte ending any token (scanning loops rely on that instead of bounds checks). */
            if (jl_buf_append(&tail, p, (size_t)(end - p)) != JL_OK ||
                jl_buf_append(&tail, "\n", 1) != JL_OK) {
                rc = lp_nomem(&c);
                break;
            }
            p = tail.data;
            end = tail.data + tail.len;
            nl = end - 1;
        }
        const char *e = nl;
        while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        c.line = p;
        c.line_no++;
        size_t start_len = lp_known_start(p, e);
        uint64_t hash = start_len ? lp_hash(p, start_len) : 0;
        if (!start_len || !lp_known_line(&c, p, e, start_len, hash, &rc)) {
            size_t points_before = st_batch_point_count(batch);
            rc = lp_line(&c, p, e);
            if (rc == JL_OK && start_len && st_batch_point_count(batch) == points_before + 1)
                lp_known_add(&c, p, start_len, hash);
        }
        if (rc != JL_OK)
            break;
        p = nl + 1;
    }

    jl_buf_destroy(&c.key);
    jl_buf_destroy(&c.suffix);
    jl_buf_destroy(&c.scratch);
    jl_buf_destroy(&c.number);
    jl_buf_destroy(&tail);
    free(c.field_series);
    free(c.field_values);
    free(c.known);
    return rc;
}
