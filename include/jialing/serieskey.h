/* Series keys: the canonical text that identifies a series, `metric{k1="v1",k2="v2"}` with tags
 * sorted by key (bytewise), `\` and `"` in values escaped with a backslash, and no braces when a
 * series has no tags. Storage owns this format: it is the key of the series catalog.
 *
 * Names (metric and tag keys) match [A-Za-z_][A-Za-z0-9_.-]*; tag values are any UTF-8 except
 * control characters (U+0000..U+001F, U+007F) and may not be empty. */
#ifndef JIALING_SERIESKEY_H
#define JIALING_SERIESKEY_H

#include "jialing/common.h"

#define SK_MAX_TAGS 64          /* tags per series at most */
#define SK_MAX_NAME_BYTES 256   /* metric name or tag key length at most */
#define SK_MAX_VALUE_BYTES 1024 /* tag value length at most */
#define SK_MAX_KEY_BYTES 8192   /* canonical key length at most */

/* A borrowed slice of text: not NUL-terminated unless said. */
typedef struct sk_text {
    const char *data; /* borrowed */
    size_t len;       /* bytes */
} sk_text;

/* One tag as slices into the caller's memory. */
typedef struct sk_tag {
    sk_text key;   /* tag key */
    sk_text value; /* tag value, unescaped */
} sk_tag;

/* Returns 1 when text[0..len) is a valid metric name or tag key, else 0. */
int sk_name_valid(const char *text, size_t len);

/* Returns the length (2..4) of the valid UTF-8 sequence at s[0..len) when s[0] >= 0x80, or 0 when
 * it is not one (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
size_t sk_utf8_sequence(const unsigned char *s, size_t len);

/* Returns 1 when text[0..len) is a valid tag value (non-empty UTF-8, no control characters). */
int sk_value_valid(const char *text, size_t len);

/* Validates metric and tags, sorts tags (the array is reordered in place), rejects duplicate
 * keys, and appends the canonical key to out (without NUL in len). Returns JL_OK, JL_EINVAL with
 * a message naming what was wrong, or JL_ENOMEM. */
int sk_build(sk_text metric, sk_tag *tags, size_t tag_count, jl_buf *out, jl_error *err);

/* Writes text[0..len) into out (cap bytes, NUL-terminated) for an error message: at most 48
 * bytes, `"` and `\` escaped, control bytes and invalid UTF-8 as \xNN, "..." when cut. */
void sk_quote(const char *text, size_t len, char *out, size_t cap);

/* Says why a tag value is refused ("is empty", "contains a control character", ...). */
const char *sk_value_problem(const char *text, size_t len);

/* A parsed canonical key: metric and tags point into `storage`, owned by this struct. */
typedef struct sk_parsed {
    sk_text metric;
    sk_tag tags[SK_MAX_TAGS];
    size_t tag_count;
    jl_buf storage; /* unescaped text the slices point into; freed by sk_parsed_destroy() */
} sk_parsed;

/* Parses a canonical key produced by sk_build(); returns JL_OK, JL_ECORRUPT or JL_ENOMEM. */
int sk_parse(const char *key, size_t len, sk_parsed *out, jl_error *err);

/* Frees what sk_parse() allocated. */
void sk_parsed_destroy(sk_parsed *parsed);

#endif
