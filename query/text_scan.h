/* Character classes and message quoting shared by the text grammars of query/ (selector.c,
 * duration.c, time_text.c, number.c, and tz.c's POSIX TZ rules). Internal to query/; static inline
 * so each grammar keeps its own copy without a second definition to keep in step. */
#ifndef JIALING_QUERY_TEXT_SCAN_H
#define JIALING_QUERY_TEXT_SCAN_H

#include <stddef.h>
#include <string.h>

/* Messages quote the user's text; beyond this many bytes it is cut, so a huge parameter cannot
 * push the explanation out of the fixed-size message. */
#define QUOTE_MAX 64

/* Character classes by hand: <ctype.h> answers depend on the locale. */
static inline int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Length of text to quote in a message, and the suffix that says it was cut. */
static inline int quote_len(const char *text)
{
    size_t len = strlen(text);
    return len > QUOTE_MAX ? QUOTE_MAX : (int)len;
}

static inline const char *quote_suffix(const char *text)
{
    return strlen(text) > QUOTE_MAX ? "..." : "";
}

#endif
