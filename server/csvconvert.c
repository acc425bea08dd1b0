/* Conversions for `jialing import` (include/jialing/csvconvert.h): CSV rows to line protocol,
 * times to epoch ms (through query/'s one RFC 3339 parser, qp_parse_time_text), field counting, and
 * batch-relative line numbers in server error messages rewritten to file line numbers. Owns no
 * state. */
#include "jialing/csvconvert.h"
#include "jialing/params.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CV_MAX_FIELD_BYTES 8192

static void trim(const char **text, size_t *len)
{
    while (*len > 0 && (**text == ' ' || **text == '\t')) {
        (*text)++;
        (*len)--;
    }
    while (*len > 0 && ((*text)[*len - 1] == ' ' || (*text)[*len - 1] == '\t' ||
                        (*text)[*len - 1] == '\r' || (*text)[*len - 1] == '\n'))
        (*len)--;
}

int cv_is_csv_header(const char *line, size_t len)
{
    static const char header[] = "time,metric,tags,value";
    trim(&line, &len);
    return len == sizeof header - 1 && memcmp(line, header, len) == 0;
}

int cv_parse_time_ms(const char *text, size_t len, int64_t *ms, jl_error *err)
{
    trim(&text, &len);
    return qp_parse_time_text(
        text, len, QP_TIME_FOLD_LEAP_SECOND | QP_TIME_COMMA_FRACTION | QP_TIME_PLUS_EPOCH, ms, err);
}

/* One CSV field: its unquoted text copied into a caller buffer, and its 1-based column. */
typedef struct cv_field {
    char text[CV_MAX_FIELD_BYTES];
    size_t len;
    size_t column;
} cv_field;

/* Splits row into exactly four fields; JL_OK or JL_EINVAL with err->column set. */
static int split_row(const char *row, size_t len, cv_field *fields, jl_error *err)
{
    size_t pos = 0;
    int n = 0;
    while (len > 0 && (row[len - 1] == '\r' || row[len - 1] == '\n'))
        len--;
    for (;;) {
        if (n == 4) {
            jl_error_set(err, JL_EINVAL, "more than 4 fields (time,metric,tags,value)");
            err->column = (long)pos + 1;
            return JL_EINVAL;
        }
        cv_field *f = &fields[n++];
        f->len = 0;
        while (pos < len && (row[pos] == ' ' || row[pos] == '\t'))
            pos++;
        f->column = pos + 1;
        if (pos < len && row[pos] == '"') {
            pos++;
            for (;;) {
                if (pos >= len) {
                    jl_error_set(err, JL_EINVAL, "unterminated quoted field");
                    err->column = (long)f->column;
                    return JL_EINVAL;
                }
                char c = row[pos++];
                if (c == '"') {
                    if (pos < len && row[pos] == '"')
                        pos++;
                    else
                        break;
                }
                if (f->len + 1 >= sizeof f->text)
                    goto too_long;
                f->text[f->len++] = c;
            }
            while (pos < len && (row[pos] == ' ' || row[pos] == '\t'))
                pos++;
            if (pos < len && row[pos] != ',') {
                jl_error_set(err, JL_EINVAL, "text after a closing quote");
                err->column = (long)pos + 1;
                return JL_EINVAL;
            }
        } else {
            size_t start = pos;
            while (pos < len && row[pos] != ',')
                pos++;
            size_t end = pos;
            while (end > start && (row[end - 1] == ' ' || row[end - 1] == '\t'))
                end--;
            if (end - start + 1 > sizeof f->text)
                goto too_long;
            memcpy(f->text, row + start, end - start);
            f->len = end - start;
        }
        f->text[f->len] = '\0';
        if (pos >= len)
            break;
        pos++; /* the comma */
    }
    if (n != 4) {
        jl_error_set(err, JL_EINVAL, "%d field%s, expected 4 (time,metric,tags,value)", n,
                     n == 1 ? "" : "s");
        err->column = (long)len + 1;
        return JL_EINVAL;
    }
    return JL_OK;
too_long:
    jl_error_set(err, JL_EINVAL, "field longer than %d bytes", CV_MAX_FIELD_BYTES - 1);
    err->column = (long)fields[n - 1].column;
    return JL_EINVAL;
}

static int name_valid(const char *text, size_t len)
{
    if (len == 0 || !(isalpha((unsigned char)text[0]) || text[0] == '_'))
        return 0;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

static int is_lp_special(char c)
{
    return c == ',' || c == '=' || c == ' ';
}

/* Appends a tag value with line-protocol escapes: ',', '=', ' ' and the backslash itself get a
 * backslash, so a value ending in or containing a backslash keeps its meaning. */
static int append_tag_value(jl_buf *out, const char *text, size_t len, jl_error *err)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f)
            return jl_error_set(err, JL_EINVAL, "control character in tag value");
        if ((is_lp_special((char)c) || c == '\\') && jl_buf_append(out, "\\", 1) != JL_OK)
            return JL_ENOMEM;
        if (jl_buf_append(out, &text[i], 1) != JL_OK)
            return JL_ENOMEM;
    }
    return JL_OK;
}

/* Checks the value is a finite decimal number and appends it in a form every line-protocol
 * parser reads (no leading '+', a digit before the point). */
static int append_value(jl_buf *out, const char *text, size_t len, jl_error *err)
{
    size_t i = 0;
    int negative = 0;
    if (i < len && (text[i] == '+' || text[i] == '-'))
        negative = text[i++] == '-';
    size_t body = i;
    size_t int_digits = 0, frac_digits = 0;
    while (i < len && isdigit((unsigned char)text[i])) {
        i++;
        int_digits++;
    }
    if (i < len && text[i] == '.') {
        i++;
        while (i < len && isdigit((unsigned char)text[i])) {
            i++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0)
        goto bad;
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < len && (text[i] == '+' || text[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < len && isdigit((unsigned char)text[i])) {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            goto bad;
    }
    if (i != len)
        goto bad;
    double v = strtod(text, NULL); /* text is NUL-terminated by split_row */
    if (!isfinite(v))
        return jl_error_set(err, JL_EINVAL, "value '%.*s' is not finite", (int)len, text);
    if ((negative && jl_buf_append(out, "-", 1) != JL_OK) ||
        (int_digits == 0 && jl_buf_append(out, "0", 1) != JL_OK) ||
        jl_buf_append(out, text + body, len - body) != JL_OK)
        return JL_ENOMEM;
    return JL_OK;
bad:
    return jl_error_set(err, JL_EINVAL, "value '%.*s' is not a number", (int)(len > 64 ? 64 : len),
                        text);
}

int cv_csv_row_to_lp(const char *row, size_t len, jl_buf *out, jl_error *err)
{
    /* Four 8 KiB fields are too big for a comfortable stack frame. */
    cv_field *fields = malloc(4 * sizeof *fields);
    size_t mark = out->len;
    int64_t ms = 0;
    int rc;

    jl_error_clear(err);
    if (fields == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    rc = split_row(row, len, fields, err);
    if (rc != JL_OK)
        goto out;
    cv_field *time = &fields[0], *metric = &fields[1], *tags = &fields[2], *value = &fields[3];

    rc = cv_parse_time_ms(time->text, time->len, &ms, err);
    if (rc != JL_OK) {
        err->column = (long)time->column;
        goto out;
    }
    if (!name_valid(metric->text, metric->len)) {
        rc = jl_error_set(err, JL_EINVAL,
                          "metric '%.*s' is not a valid name ([A-Za-z_][A-Za-z0-9_.-]*)",
                          (int)(metric->len > 64 ? 64 : metric->len), metric->text);
        err->column = (long)metric->column;
        goto out;
    }
    rc = jl_buf_append(out, metric->text, metric->len);
    if (rc != JL_OK)
        goto nomem;

    size_t pos = 0;
    while (pos < tags->len) {
        size_t end = pos;
        while (end < tags->len && tags->text[end] != ';')
            end++;
        const char *pair = tags->text + pos;
        size_t pair_len = end - pos;
        trim(&pair, &pair_len);
        if (pair_len > 0) {
            const char *eq = memchr(pair, '=', pair_len);
            if (eq == NULL || eq == pair || eq == pair + pair_len - 1) {
                rc = jl_error_set(err, JL_EINVAL, "tag '%.*s' is not key=value",
                                  (int)(pair_len > 64 ? 64 : pair_len), pair);
                err->column = (long)tags->column;
                goto out;
            }
            size_t key_len = (size_t)(eq - pair);
            if (!name_valid(pair, key_len)) {
                rc = jl_error_set(err, JL_EINVAL, "tag key '%.*s' is not a valid name",
                                  (int)(key_len > 64 ? 64 : key_len), pair);
                err->column = (long)tags->column;
                goto out;
            }
            if (jl_buf_append(out, ",", 1) != JL_OK ||
                jl_buf_append(out, pair, key_len + 1) != JL_OK)
                goto nomem;
            rc = append_tag_value(out, eq + 1, pair_len - key_len - 1, err);
            if (rc == JL_ENOMEM)
                goto nomem;
            if (rc != JL_OK) {
                err->column = (long)tags->column;
                goto out;
            }
        }
        pos = end + 1;
    }

    if (jl_buf_append(out, " value=", 7) != JL_OK)
        goto nomem;
    rc = append_value(out, value->text, value->len, err);
    if (rc == JL_ENOMEM)
        goto nomem;
    if (rc != JL_OK) {
        err->column = (long)value->column;
        goto out;
    }
    if (jl_buf_printf(out, " %lld\n", (long long)ms) != JL_OK)
        goto nomem;
    rc = JL_OK;
    goto out;
nomem:
    rc = jl_error_set(err, JL_ENOMEM, "out of memory");
out:
    if (rc != JL_OK) {
        out->len = mark;
        if (out->data != NULL)
            out->data[mark] = '\0';
    }
    free(fields);
    return rc;
}

size_t cv_lp_field_count(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= len || line[i] == '#' || line[i] == '\r' || line[i] == '\n')
        return 0;
    /* Measurement and tags end at the first unescaped space. */
    for (; i < len && line[i] != ' '; i++)
        if (line[i] == '\\')
            i++;
    if (i >= len)
        return 0;
    size_t count = 1;
    int quoted = 0;
    for (i++; i < len; i++) {
        char c = line[i];
        if (c == '\\') {
            i++;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && c == ',') {
            count++;
        } else if (!quoted && (c == ' ' || c == '\n' || c == '\r')) {
            break;
        }
    }
    return count;
}

static int append_utf8(jl_buf *out, unsigned long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return jl_buf_append(out, b, n);
}

static int hex4(const char *p, const char *end, unsigned long *cp)
{
    unsigned long v = 0;
    if (end - p < 4)
        return 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned long)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned long)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned long)(c - 'A' + 10);
        else
            return 0;
    }
    *cp = v;
    return 1;
}

/* Decodes the JSON string starting after its opening quote at p; JL_OK, JL_EINVAL or
 * JL_ENOMEM. */
static int json_string(const char *p, const char *end, jl_buf *out)
{
    while (p < end) {
        char c = *p++;
        if (c == '"')
            return JL_OK;
        if (c != '\\') {
            if (jl_buf_append(out, &c, 1) != JL_OK)
                return JL_ENOMEM;
            continue;
        }
        if (p >= end)
            return JL_EINVAL;
        char e = *p++;
        const char *simple = NULL;
        switch (e) {
        case '"':
            simple = "\"";
            break;
        case '\\':
            simple = "\\";
            break;
        case '/':
            simple = "/";
            break;
        case 'b':
            simple = "\b";
            break;
        case 'f':
            simple = "\f";
            break;
        case 'n':
            simple = "\n";
            break;
        case 'r':
            simple = "\r";
            break;
        case 't':
            simple = "\t";
            break;
        case 'u': {
            unsigned long cp, low;
            if (!hex4(p, end, &cp))
                return JL_EINVAL;
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                hex4(p + 2, end, &low) && low >= 0xDC00 && low < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            }
            if (append_utf8(out, cp) != JL_OK)
                return JL_ENOMEM;
            continue;
        }
        default:
            return JL_EINVAL;
        }
        if (jl_buf_append_str(out, simple) != JL_OK)
            return JL_ENOMEM;
    }
    return JL_EINVAL;
}

int cv_error_message(const char *body, size_t len, jl_buf *out)
{
    const char *end = body + len;
    size_t mark = out->len;
    const char *key = len >= 7 ? memmem(body, len, "\"error\"", 7) : NULL;
    if (key != NULL) {
        const char *p = key + 7;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            p++;
        if (p < end && *p == ':') {
            p++;
            while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
                p++;
            if (p < end && *p == '"') {
                int rc = json_string(p + 1, end, out);
                if (rc == JL_OK || rc == JL_ENOMEM)
                    return rc;
                out->len = mark; /* malformed: fall back to the raw body */
            }
        }
    }
    const char *text = body;
    size_t text_len = len;
    trim(&text, &text_len);
    while (text_len > 0 && (*text == '\n' || *text == '\r')) {
        text++;
        text_len--;
    }
    if (text_len > 512)
        text_len = 512;
    if (text_len == 0)
        return jl_buf_append_str(out, "(empty answer)");
    return jl_buf_append(out, text, text_len);
}

int cv_translate_line(const char *message, const long *file_lines, size_t count, jl_buf *out)
{
    for (const char *p = message; *p != '\0'; p++) {
        if (strncasecmp(p, "line ", 5) != 0 || !isdigit((unsigned char)p[5]) ||
            (p > message && isalnum((unsigned char)p[-1])))
            continue;
        const char *digits = p + 5;
        const char *q = digits;
        unsigned long long n = 0;
        while (isdigit((unsigned char)*q) && n < 1000000000000ULL)
            n = n * 10 + (unsigned long long)(*q++ - '0');
        if (isdigit((unsigned char)*q) || n < 1 || n > count)
            break;
        if (jl_buf_append(out, message, (size_t)(digits - message)) != JL_OK ||
            jl_buf_printf(out, "%ld", file_lines[n - 1]) != JL_OK ||
            jl_buf_append_str(out, q) != JL_OK)
            return JL_ENOMEM;
        return JL_OK;
    }
    return jl_buf_append_str(out, message);
}
