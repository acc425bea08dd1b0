/* Series keys: validation of names and tag values, building the canonical text
 * `metric{k1="v1",k2="v2"}` and parsing it back. This file owns that format; the series catalog
 * uses it as its key, so a change here is an on-disk format change. */
#include "jialing/serieskey.h"

#include <stdio.h>
#include <string.h>

static int name_first_char(unsigned char c)
{
    unsigned char lower = (unsigned char)(c | 0x20);
    return (lower >= 'a' && lower <= 'z') || c == '_';
}

static int name_char(unsigned char c)
{
    return name_first_char(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

int sk_name_valid(const char *text, size_t len)
{
    if (len == 0 || len > SK_MAX_NAME_BYTES || !name_first_char((unsigned char)text[0]))
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (!name_char((unsigned char)text[i]))
            return 0;
    }
    return 1;
}

size_t sk_utf8_sequence(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (len < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < need; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    }
    return need;
}

/* Strict UTF-8 without the control characters U+0000..U+001F and U+007F. */
static int utf8_clean(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t seq = sk_utf8_sequence(s + i, len - i);
        if (seq == 0)
            return 0;
        i += seq;
    }
    return 1;
}

int sk_value_valid(const char *text, size_t len)
{
    if (len == 0 || len > SK_MAX_VALUE_BYTES)
        return 0;
    return utf8_clean((const unsigned char *)text, len);
}

/* Writes a short, printable rendering of text into out for error messages: at most 48 input
 * bytes, `"` and `\` escaped, control and non-UTF-8 bytes as \xNN. */
void sk_quote(const char *text, size_t len, char *out, size_t cap)
{
    size_t o = 0, shown = len > 48 ? 48 : len;
    while (shown < len && shown > 0 && ((unsigned char)text[shown] & 0xc0) == 0x80)
        shown--; /* do not cut a UTF-8 sequence */
    const unsigned char *s = (const unsigned char *)text;
    int clean = utf8_clean(s, shown);
    for (size_t i = 0; i < shown && o + 5 < cap; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !clean)) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (shown < len && o + 4 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* Says why a tag value is refused, for messages. */
const char *sk_value_problem(const char *text, size_t len)
{
    if (len == 0)
        return "is empty";
    if (len > SK_MAX_VALUE_BYTES)
        return "is longer than 1024 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f)
            return "contains a control character";
    }
    return "is not valid UTF-8";
}

static int text_cmp(sk_text a, sk_text b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.data, b.data, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

#define NAME_RULE                                                                                  \
    "names start with a letter or '_' and contain only letters, digits, '_', '.' and '-'"

int sk_build(sk_text metric, sk_tag *tags, size_t tag_count, jl_buf *out, jl_error *err)
{
    char q[256];
    if (!sk_name_valid(metric.data, metric.len)) {
        sk_quote(metric.data, metric.len, q, sizeof q);
        if (metric.len > SK_MAX_NAME_BYTES)
            return jl_error_set(err, JL_EINVAL, "metric name \"%s\" is longer than %d bytes", q,
                                SK_MAX_NAME_BYTES);
        return jl_error_set(err, JL_EINVAL, "metric name \"%s\" is not valid; %s", q, NAME_RULE);
    }
    if (tag_count > SK_MAX_TAGS)
        return jl_error_set(err, JL_EINVAL, "a series has %zu tags; at most %d are allowed",
                            tag_count, SK_MAX_TAGS);
    size_t size = metric.len;
    for (size_t i = 0; i < tag_count; i++) {
        sk_text k = tags[i].key, v = tags[i].value;
        if (!sk_name_valid(k.data, k.len)) {
            sk_quote(k.data, k.len, q, sizeof q);
            if (k.len > SK_MAX_NAME_BYTES)
                return jl_error_set(err, JL_EINVAL, "tag key \"%s\" is longer than %d bytes", q,
                                    SK_MAX_NAME_BYTES);
            return jl_error_set(err, JL_EINVAL, "tag key \"%s\" is not valid; %s", q, NAME_RULE);
        }
        if (!sk_value_valid(v.data, v.len)) {
            sk_quote(k.data, k.len, q, sizeof q);
            return jl_error_set(err, JL_EINVAL, "the value of tag \"%s\" %s", q,
                                sk_value_problem(v.data, v.len));
        }
        size += k.len + 4; /* `="` + `"` + `,` or `{` */
        for (size_t j = 0; j < v.len; j++)
            size += 1 + (v.data[j] == '"' || v.data[j] == '\\');
    }
    if (tag_count)
        size += 1; /* `}` */

    /* Insertion sort: tag sets are small and usually already sorted. */
    for (size_t i = 1; i < tag_count; i++) {
        sk_tag t = tags[i];
        size_t j = i;
        while (j > 0 && text_cmp(tags[j - 1].key, t.key) > 0) {
            tags[j] = tags[j - 1];
            j--;
        }
        tags[j] = t;
    }
    for (size_t i = 1; i < tag_count; i++) {
        if (text_cmp(tags[i - 1].key, tags[i].key) == 0) {
            sk_quote(tags[i].key.data, tags[i].key.len, q, sizeof q);
            return jl_error_set(err, JL_EINVAL, "tag key \"%s\" appears more than once", q);
        }
    }
    if (size > SK_MAX_KEY_BYTES)
        return jl_error_set(err, JL_EINVAL,
                            "the series key would be %zu bytes long; at most %d are allowed", size,
                            SK_MAX_KEY_BYTES);
    if (jl_buf_reserve(out, size) != JL_OK)
        return jl_error_set(err, JL_ENOMEM, "out of memory building a series key");

    char *w = out->data + out->len;
    memcpy(w, metric.data, metric.len);
    w += metric.len;
    for (size_t i = 0; i < tag_count; i++) {
        *w++ = i == 0 ? '{' : ',';
        memcpy(w, tags[i].key.data, tags[i].key.len);
        w += tags[i].key.len;
        *w++ = '=';
        *w++ = '"';
        const char *v = tags[i].value.data;
        for (size_t j = 0; j < tags[i].value.len; j++) {
            if (v[j] == '"' || v[j] == '\\')
                *w++ = '\\';
            *w++ = v[j];
        }
        *w++ = '"';
    }
    if (tag_count)
        *w++ = '}';
    out->len += size;
    out->data[out->len] = '\0';
    return JL_OK;
}

static int corrupt(jl_error *err, const char *key, size_t len, const char *why)
{
    char q[256];
    sk_quote(key, len, q, sizeof q);
    return jl_error_set(err, JL_ECORRUPT, "stored series key \"%s\" is corrupt: %s", q, why);
}

int sk_parse(const char *key, size_t len, sk_parsed *out, jl_error *err)
{
    jl_buf_init(&out->storage);
    out->metric.data = NULL;
    out->metric.len = 0;
    out->tag_count = 0;
    if (len > SK_MAX_KEY_BYTES)
        return corrupt(err, key, len, "it is longer than the largest key");
    /* Reserve everything up front so the slices below never move: the unescaped text is at most
     * len bytes, plus a NUL after each piece. */
    if (jl_buf_reserve(&out->storage, len + 2 * SK_MAX_TAGS + 2) != JL_OK)
        return jl_error_set(err, JL_ENOMEM, "out of memory parsing a series key");
    char *w = out->storage.data;
    const char *why = NULL;
    size_t i = 0;
    while (i < len && key[i] != '{')
        i++;
    if (!sk_name_valid(key, i)) {
        why = "the metric name is not valid";
        goto fail;
    }
    memcpy(w, key, i);
    out->metric.data = w;
    out->metric.len = i;
    w += i;
    *w++ = '\0';
    if (i == len)
        goto done;
    i++; /* `{` */
    for (;;) {
        size_t k0 = i;
        while (i < len && key[i] != '=')
            i++;
        if (i + 1 >= len || key[i + 1] != '"') {
            why = "a tag has no `=\"`";
            goto fail;
        }
        if (!sk_name_valid(key + k0, i - k0)) {
            why = "a tag key is not valid";
            goto fail;
        }
        if (out->tag_count == SK_MAX_TAGS) {
            why = "it has too many tags";
            goto fail;
        }
        sk_tag *tag = &out->tags[out->tag_count];
        memcpy(w, key + k0, i - k0);
        tag->key.data = w;
        tag->key.len = i - k0;
        w += i - k0;
        *w++ = '\0';
        if (out->tag_count > 0 && text_cmp(out->tags[out->tag_count - 1].key, tag->key) >= 0) {
            why = "its tags are not sorted or repeat a key";
            goto fail;
        }
        i += 2;
        tag->value.data = w;
        for (;;) {
            if (i >= len) {
                why = "a tag value has no closing quote";
                goto fail;
            }
            char c = key[i++];
            if (c == '"')
                break;
            if (c == '\\') {
                if (i >= len || (key[i] != '"' && key[i] != '\\')) {
                    why = "a tag value has a bad escape";
                    goto fail;
                }
                c = key[i++];
            }
            *w++ = c;
        }
        tag->value.len = (size_t)(w - tag->value.data);
        *w++ = '\0';
        if (!sk_value_valid(tag->value.data, tag->value.len)) {
            why = "a tag value is not valid";
            goto fail;
        }
        out->tag_count++;
        if (i < len && key[i] == ',') {
            i++;
            continue;
        }
        if (i + 1 == len && key[i] == '}')
            break;
        why = "the tag list is not closed by `}` at the end";
        goto fail;
    }
done:
    out->storage.len = (size_t)(w - out->storage.data);
    return JL_OK;
fail:
    jl_buf_destroy(&out->storage);
    out->metric.data = NULL;
    out->metric.len = 0;
    out->tag_count = 0;
    return corrupt(err, key, len, why);
}

void sk_parsed_destroy(sk_parsed *parsed)
{
    if (parsed == NULL)
        return;
    jl_buf_destroy(&parsed->storage);
    parsed->metric.data = NULL;
    parsed->metric.len = 0;
    parsed->tag_count = 0;
}
