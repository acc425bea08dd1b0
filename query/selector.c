/* Selector parsing for the HTTP API: `metric` or `metric{tag="v",tag2!="w"}`. Owns the selector
 * grammar and its messages (column-numbered); tag names and values follow serieskey.h's limits and
 * rules, so a selector can only name series that could have been written. */
#include "jialing/params.h"
#include "jialing/serieskey.h"
#include "text_scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_name_start(char c)
{
    return is_alpha(c) || c == '_';
}

static int is_name_char(char c)
{
    return is_name_start(c) || is_digit(c) || c == '.' || c == '-';
}

typedef struct sel_parser {
    const char *text; /* whole selector, NUL-terminated */
    size_t pos;       /* byte offset of the next character */
    jl_error *err;
} sel_parser;

/* Fills err with "selector: column N: <message>" for the byte at offset at; returns JL_EINVAL. */
static int sel_fail(sel_parser *p, size_t at, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int sel_fail(sel_parser *p, size_t at, const char *format, ...)
{
    char detail[JL_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, format);
    vsnprintf(detail, sizeof detail, format, args);
    va_end(args);
    jl_error_set(p->err, JL_EINVAL, "selector: column %zu: %s", at + 1, detail);
    if (p->err != NULL)
        p->err->column = (long)(at + 1);
    return JL_EINVAL;
}

/* Describes the character at offset at for a message: 'x', a byte in hex, or the end. */
static void sel_describe(const sel_parser *p, size_t at, char *out, size_t cap)
{
    unsigned char c = (unsigned char)p->text[at];
    if (c == '\0')
        snprintf(out, cap, "the end of the selector");
    else if (c >= 0x20 && c < 0x7f)
        snprintf(out, cap, "'%c'", c);
    else
        snprintf(out, cap, "byte 0x%02X", c);
}

static void sel_skip_space(sel_parser *p)
{
    while (is_space(p->text[p->pos]))
        p->pos++;
}

/* Copies text[start, start+len) into a new NUL-terminated string. */
static char *copy_text(const char *start, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, start, len);
    copy[len] = '\0';
    return copy;
}

/* Reads a name at the current position into *out (allocated); what names the name in messages.
 * The caller has checked that a name starts here. */
static int sel_name(sel_parser *p, const char *what, char **out)
{
    size_t start = p->pos;
    while (is_name_char(p->text[p->pos]))
        p->pos++;
    size_t len = p->pos - start;
    if (len > SK_MAX_NAME_BYTES)
        return sel_fail(p, start, "%s is %zu bytes long; at most %d are allowed", what, len,
                        SK_MAX_NAME_BYTES);
    *out = copy_text(p->text + start, len);
    if (*out == NULL)
        return jl_error_set(p->err, JL_ENOMEM, "selector: out of memory");
    return JL_OK;
}

/* Reads a double-quoted value (the cursor is on the opening quote) into *out, unescaped. */
static int sel_value(sel_parser *p, const char *key, char **out)
{
    size_t open = p->pos;
    p->pos++;
    /* The unescaped value is never longer than the raw text up to the closing quote. */
    size_t end = p->pos;
    while (p->text[end] != '\0' && p->text[end] != '"') {
        if (p->text[end] == '\\' && p->text[end + 1] != '\0')
            end++;
        end++;
    }
    if (p->text[end] == '\0')
        return sel_fail(p, open, "the value of tag \"%s\" has no closing '\"'", key);
    char *value = malloc(end - p->pos + 1);
    if (value == NULL)
        return jl_error_set(p->err, JL_ENOMEM, "selector: out of memory");
    size_t len = 0;
    int rc = JL_OK;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->text[p->pos];
        if (c == '\\') {
            char next = p->text[p->pos + 1];
            if (next != '"' && next != '\\') {
                char found[32];
                sel_describe(p, p->pos + 1, found, sizeof found);
                rc = sel_fail(p, p->pos,
                              "unsupported escape of %s in the value of tag \"%s\" (only \\\" "
                              "and \\\\ are allowed)",
                              found, key);
                goto out;
            }
            value[len++] = next;
            p->pos += 2;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            rc = sel_fail(p, p->pos,
                          "control character (byte 0x%02X) in the value of tag \"%s\"; tag "
                          "values cannot contain control characters",
                          c, key);
            goto out;
        }
        value[len++] = (char)c;
        p->pos++;
    }
    p->pos++; /* closing quote */
    if (len > SK_MAX_VALUE_BYTES) {
        rc = sel_fail(p, open, "the value of tag \"%s\" is %zu bytes long; at most %d are allowed",
                      key, len, SK_MAX_VALUE_BYTES);
        goto out;
    }
    value[len] = '\0';
    /* The same rule as for written tag values: a value no series can have is a mistake. */
    if (rc == JL_OK && len > 0 && !sk_value_valid(value, len)) {
        rc = sel_fail(p, open, "the value of tag \"%s\" is not valid UTF-8", key);
        goto out;
    }
    *out = value;
    value = NULL;
out:
    free(value);
    return rc;
}

/* Parses one `key op "value"` condition into the next matcher slot. */
static int sel_matcher(sel_parser *p, qp_selector *out)
{
    char found[32];
    size_t start = p->pos;
    if (!is_name_start(p->text[p->pos])) {
        sel_describe(p, p->pos, found, sizeof found);
        return sel_fail(p, p->pos, "expected a tag name, found %s", found);
    }
    if (out->matcher_count == QP_MAX_MATCHERS)
        return sel_fail(p, start, "too many tag conditions; at most %d are allowed",
                        QP_MAX_MATCHERS);
    qp_matcher *m = &out->matchers[out->matcher_count];
    int rc = sel_name(p, "tag name", &m->key);
    if (rc != JL_OK)
        return rc;
    /* Counted now so qp_selector_destroy() frees the key even if the rest fails. */
    out->matcher_count++;
    sel_skip_space(p);
    size_t op = p->pos;
    if (p->text[p->pos] == '=') {
        m->negate = 0;
        p->pos++;
    } else if (p->text[p->pos] == '!' && p->text[p->pos + 1] == '=') {
        m->negate = 1;
        p->pos += 2;
    } else if (p->text[p->pos] == '!' && p->text[p->pos + 1] == '~') {
        return sel_fail(p, op, "regular-expression matchers (!~) are not supported; use = or !=");
    } else {
        sel_describe(p, p->pos, found, sizeof found);
        return sel_fail(p, op, "expected '=' or '!=' after tag \"%s\", found %s", m->key, found);
    }
    if (p->text[p->pos] == '~')
        return sel_fail(p, op, "regular-expression matchers (=~) are not supported; use = or !=");
    sel_skip_space(p);
    if (p->text[p->pos] != '"') {
        sel_describe(p, p->pos, found, sizeof found);
        return sel_fail(p, p->pos, "expected '\"' to start the value of tag \"%s\", found %s",
                        m->key, found);
    }
    return sel_value(p, m->key, &m->value);
}

/* Parses the braces of a selector; the cursor is on '{'. A trailing comma is accepted, as
 * Prometheus accepts it. */
static int sel_braces(sel_parser *p, qp_selector *out)
{
    char found[32];
    p->pos++;
    sel_skip_space(p);
    if (p->text[p->pos] == '}') {
        p->pos++;
        return JL_OK;
    }
    for (;;) {
        int rc = sel_matcher(p, out);
        if (rc != JL_OK)
            return rc;
        sel_skip_space(p);
        if (p->text[p->pos] == '}') {
            p->pos++;
            return JL_OK;
        }
        if (p->text[p->pos] != ',') {
            sel_describe(p, p->pos, found, sizeof found);
            return sel_fail(p, p->pos,
                            "expected ',' or '}' after the value of tag \"%s\", found %s",
                            out->matchers[out->matcher_count - 1].key, found);
        }
        p->pos++;
        sel_skip_space(p);
        if (p->text[p->pos] == '}') {
            p->pos++;
            return JL_OK;
        }
    }
}

int qp_parse_selector(const char *text, qp_selector *out, jl_error *err)
{
    memset(out, 0, sizeof *out);
    jl_error_clear(err);
    if (text == NULL)
        text = "";
    sel_parser p = {.text = text, .pos = 0, .err = err};
    char found[32];
    int rc;
    sel_skip_space(&p);
    if (text[p.pos] == '\0') {
        rc = sel_fail(&p, p.pos,
                      "the selector is empty; expected a metric name such as pm25 or "
                      "pm25{station=\"s01\"}");
        goto out;
    }
    if (!is_name_start(text[p.pos])) {
        sel_describe(&p, p.pos, found, sizeof found);
        rc = sel_fail(&p, p.pos, "expected a metric name, found %s", found);
        goto out;
    }
    rc = sel_name(&p, "metric name", &out->metric);
    if (rc != JL_OK)
        goto out;
    sel_skip_space(&p);
    if (text[p.pos] == '{') {
        rc = sel_braces(&p, out);
        if (rc != JL_OK)
            goto out;
        sel_skip_space(&p);
    }
    if (text[p.pos] != '\0') {
        sel_describe(&p, p.pos, found, sizeof found);
        rc = sel_fail(&p, p.pos, "unexpected %s after the end of the selector", found);
        goto out;
    }
out:
    if (rc != JL_OK)
        qp_selector_destroy(out);
    return rc;
}

void qp_selector_destroy(qp_selector *selector)
{
    if (selector == NULL)
        return;
    free(selector->metric);
    for (size_t i = 0; i < selector->matcher_count && i < QP_MAX_MATCHERS; i++) {
        free(selector->matchers[i].key);
        free(selector->matchers[i].value);
    }
    memset(selector, 0, sizeof *selector);
}
