/* The InfluxQL subset (include/jialing/influxql.h): a tokenizer, a recursive-descent parser per
 * statement, and the planner that turns a SELECT into a qx_query_request for the one engine. */
#include "jialing/influxql.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jialing/serieskey.h"

/* ---------- tokens ---------- */

typedef enum tok_kind {
    TK_END = 0,
    TK_IDENT,  /* bare word or "quoted identifier" (text unescaped) */
    TK_STRING, /* 'single quoted' (text unescaped) */
    TK_NUMBER, /* digits, '.', and a unit suffix such as 5m or 1596240000000ms */
    TK_REGEX,  /* /.../ (text between the slashes) */
    TK_OP,     /* = != <> < <= > >= =~ !~ + - * */
    TK_PUNCT   /* ( ) , . */
} tok_kind;

typedef struct token {
    tok_kind kind;
    int quoted; /* TK_IDENT: was "quoted" */
    char text[1100];
} token;

typedef struct parser {
    const char *s;
    size_t len, pos;
    token tok;  /* current token */
    int failed; /* an error was set */
    iq_statement *st;
    int64_t now_ms;
    int depth; /* parentheses open in WHERE: bounded, since each level recurses */
} parser;

/* Deeper nesting than any query builder writes; the bound keeps recursion off the stack's end. */
#define IQ_MAX_NESTING 32

static int perr(parser *p, const char *format, ...) __attribute__((format(printf, 2, 3)));

static int perr(parser *p, const char *format, ...)
{
    if (!p->failed) {
        va_list ap;
        va_start(ap, format);
        vsnprintf(p->st->error, sizeof p->st->error, format, ap);
        va_end(ap);
        p->failed = 1;
    }
    return JL_EINVAL;
}

static int quoted_text(parser *p, char quote, token *t)
{
    size_t n = 0;
    p->pos++;
    while (p->pos < p->len && p->s[p->pos] != quote) {
        char c = p->s[p->pos];
        if (c == '\\' && p->pos + 1 < p->len && quote != '/')
            c = p->s[++p->pos];
        else if (c == '\\' && p->pos + 1 < p->len && quote == '/' && p->s[p->pos + 1] == '/')
            c = p->s[++p->pos];
        if (n + 2 >= sizeof t->text)
            return perr(p, "a quoted text is too long");
        t->text[n++] = c;
        p->pos++;
    }
    if (p->pos >= p->len)
        return perr(p, "unterminated %c...%c", quote, quote);
    p->pos++;
    t->text[n] = '\0';
    return JL_OK;
}

static int next(parser *p)
{
    token *t = &p->tok;
    memset(t, 0, sizeof t->kind + sizeof t->quoted);
    t->text[0] = '\0';
    t->quoted = 0;
    while (p->pos < p->len && isspace((unsigned char)p->s[p->pos]))
        p->pos++;
    if (p->pos >= p->len) {
        t->kind = TK_END;
        return JL_OK;
    }
    char c = p->s[p->pos];
    if (c == '"') {
        t->kind = TK_IDENT;
        t->quoted = 1;
        return quoted_text(p, '"', t);
    }
    if (c == '\'') {
        t->kind = TK_STRING;
        return quoted_text(p, '\'', t);
    }
    if (c == '/') {
        t->kind = TK_REGEX;
        return quoted_text(p, '/', t);
    }
    size_t start = p->pos;
    if (isalpha((unsigned char)c) || c == '_' || isdigit((unsigned char)c) ||
        (unsigned char)c >= 0x80) {
        t->kind = isdigit((unsigned char)c) ? TK_NUMBER : TK_IDENT;
        while (p->pos < p->len) {
            unsigned char d = (unsigned char)p->s[p->pos];
            if (!(isalnum(d) || d == '_' || d >= 0x80 || (t->kind == TK_NUMBER && d == '.')))
                break;
            p->pos++;
        }
    } else if (strchr("(),.", c)) {
        t->kind = TK_PUNCT;
        p->pos++;
    } else if (strchr("=!<>+-*", c)) {
        t->kind = TK_OP;
        p->pos++;
        if (p->pos < p->len && strchr("=~>", p->s[p->pos]) && !(c == '=' && p->s[p->pos] == '='))
            p->pos++;
        else if (c == '=' && p->pos < p->len && p->s[p->pos] == '=')
            p->pos++;
    } else {
        return perr(p, "unexpected character '%c' at offset %zu", c, p->pos);
    }
    size_t n = p->pos - start;
    if (n >= sizeof t->text)
        return perr(p, "a word is too long");
    memcpy(t->text, p->s + start, n);
    t->text[n] = '\0';
    /* A cast such as "value"::field or "station"::tag says nothing the subset needs. */
    if (t->kind == TK_IDENT && p->pos + 1 < p->len && p->s[p->pos] == ':' &&
        p->s[p->pos + 1] == ':') {
        p->pos += 2;
        while (p->pos < p->len && isalpha((unsigned char)p->s[p->pos]))
            p->pos++;
    }
    return JL_OK;
}

/* Also handles a quoted identifier that follows, e.g. "value"::field. */
static int is_kw(const parser *p, const char *word)
{
    return p->tok.kind == TK_IDENT && !p->tok.quoted && strcasecmp(p->tok.text, word) == 0;
}

static int is_punct(const parser *p, char c)
{
    return p->tok.kind == TK_PUNCT && p->tok.text[0] == c;
}

static int is_op(const parser *p, const char *op)
{
    return p->tok.kind == TK_OP && strcmp(p->tok.text, op) == 0;
}

static int expect_kw(parser *p, const char *word)
{
    if (!is_kw(p, word))
        return perr(p, "expected %s, found \"%.60s\"", word, p->tok.text);
    return next(p);
}

static int expect_punct(parser *p, char c)
{
    if (!is_punct(p, c))
        return perr(p, "expected '%c', found \"%.60s\"", c, p->tok.text);
    return next(p);
}

static char *dup_text(parser *p, const char *text)
{
    char *copy = strdup(text);
    if (copy == NULL)
        perr(p, "out of memory");
    return copy;
}

/* ---------- literals ---------- */

/* A duration such as 5m, 1596240000000ms, 300000000000ns, or a bare integer (nanoseconds when
 * bare_ns, else an error), into milliseconds rounded toward zero in *exact_ms; *sub_ms is set
 * when it was not a whole number of milliseconds. */
static int parse_duration_text(parser *p, const char *text, int bare_ns, int64_t *out_ms,
                               int *sub_ms)
{
    char *end = NULL;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (end == text || errno == ERANGE)
        return perr(p, "\"%.60s\" is not a number", text);
    const char *unit = end;
    long double ms;
    if (*unit == '\0') {
        if (!bare_ns)
            return perr(p, "\"%.60s\" needs a unit (ms, s, m, h, d, w)", text);
        ms = (long double)n / 1e6L;
    } else if (strcmp(unit, "ns") == 0) {
        ms = (long double)n / 1e6L;
    } else if (strcmp(unit, "u") == 0 || strcmp(unit, "us") == 0 || strcmp(unit, "\xc2\xb5") == 0) {
        ms = (long double)n / 1e3L;
    } else if (strcmp(unit, "ms") == 0) {
        ms = (long double)n;
    } else if (strcmp(unit, "s") == 0) {
        ms = (long double)n * 1e3L;
    } else if (strcmp(unit, "m") == 0) {
        ms = (long double)n * 6e4L;
    } else if (strcmp(unit, "h") == 0) {
        ms = (long double)n * 3.6e6L;
    } else if (strcmp(unit, "d") == 0) {
        ms = (long double)n * 8.64e7L;
    } else if (strcmp(unit, "w") == 0) {
        ms = (long double)n * 6.048e8L;
    } else {
        return perr(p, "unknown duration unit in \"%.60s\" (ns u ms s m h d w)", text);
    }
    if (ms > (long double)JL_MAX_MS * 4 || ms < (long double)JL_MIN_MS * 4)
        return perr(p, "\"%.60s\" is out of range", text);
    int64_t whole = (int64_t)ms;
    *sub_ms = (long double)whole != ms;
    *out_ms = whole;
    return JL_OK;
}

/* A time operand: now() [+|- duration]..., a number with unit, or an RFC 3339 string. *sub_ms is
 * set when the instant lies strictly after *ms (inside the next millisecond). */
static int parse_time_value(parser *p, int64_t *ms, int *sub_ms)
{
    *sub_ms = 0;
    if (is_kw(p, "now")) {
        if (next(p) || expect_punct(p, '(') || expect_punct(p, ')'))
            return JL_EINVAL;
        *ms = p->now_ms;
    } else if (p->tok.kind == TK_NUMBER) {
        if (parse_duration_text(p, p->tok.text, 1, ms, sub_ms) || next(p))
            return JL_EINVAL;
    } else if (p->tok.kind == TK_STRING) {
        char text[128];
        snprintf(text, sizeof text, "%.120s", p->tok.text);
        char *space = strchr(text, ' ');
        if (space)
            *space = 'T';
        if (strlen(text) == 10 && text[4] == '-')
            strcat(text, "T00:00:00Z");
        else if (strlen(text) > 10 && strchr(text, 'Z') == NULL && strchr(text + 10, '+') == NULL &&
                 strchr(text + 10, '-') == NULL && strlen(text) < sizeof text - 1)
            strcat(text, "Z");
        jl_error err;
        if (qp_parse_time(text, ms, &err) != JL_OK)
            return perr(p, "time '%.60s': %s", p->tok.text, err.message);
        if (next(p))
            return JL_EINVAL;
    } else {
        return perr(p,
                    "expected a time (now(), 1596240000000ms or '2025-01-01T00:00:00Z'), "
                    "found \"%.60s\"",
                    p->tok.text);
    }
    while (is_op(p, "+") || is_op(p, "-")) {
        int minus = p->tok.text[0] == '-';
        if (next(p))
            return JL_EINVAL;
        if (p->tok.kind != TK_NUMBER)
            return perr(p, "expected a duration after %c", minus ? '-' : '+');
        int64_t d;
        int sub;
        if (parse_duration_text(p, p->tok.text, 0, &d, &sub) || next(p))
            return JL_EINVAL;
        /* Checked after every term: |*ms| and |d| are far below INT64_MAX / 2, so no sum of
         * two of them overflows, whatever the number of terms. */
        *ms += minus ? -d : d;
        if (*ms < JL_MIN_MS || *ms > JL_MAX_MS)
            return perr(p, "a time is out of range");
    }
    if (*ms < JL_MIN_MS || *ms > JL_MAX_MS)
        return perr(p, "a time is out of range");
    return JL_OK;
}

/* ---------- SELECT ---------- */

static const struct {
    const char *name;
    qx_aggregate agg;
    double p;
} aggregate_names[] = {
    {"mean", QX_AGG_MEAN, 0},
    {"median", QX_AGG_PERCENTILE, 50},
    {"max", QX_AGG_MAX, 0},
    {"min", QX_AGG_MIN, 0},
    {"sum", QX_AGG_SUM, 0},
    {"count", QX_AGG_COUNT, 0},
    {"first", QX_AGG_FIRST, 0},
    {"last", QX_AGG_LAST, 0},
    {"spread", QX_AGG_SPREAD, 0},
    {"stddev", QX_AGG_STDDEV, 0},
    {"percentile", QX_AGG_PERCENTILE, -1},
};

static int set_field(parser *p, const char *field)
{
    iq_statement *st = p->st;
    if (strcmp(field, "*") == 0)
        return perr(p, "SELECT * is not supported; name the field, e.g. SELECT \"value\"");
    if (st->field == NULL)
        return (st->field = dup_text(p, field)) ? JL_OK : JL_ENOMEM;
    if (strcmp(st->field, field) != 0)
        return perr(p,
                    "selecting several fields (\"%.60s\", \"%.60s\") in one statement is not "
                    "supported; use one statement per field",
                    st->field, field);
    return JL_OK;
}

static int parse_item(parser *p)
{
    iq_statement *st = p->st;
    if (st->column_count == QX_MAX_AGGREGATES)
        return perr(p, "too many selected items (at most %d)", QX_MAX_AGGREGATES);
    size_t i = st->column_count;
    char name[128];
    if (is_op(p, "*"))
        return set_field(p, "*");
    if (p->tok.kind != TK_IDENT)
        return perr(p, "expected a field or a function, found \"%.60s\"", p->tok.text);
    char word[1100];
    snprintf(word, sizeof word, "%s", p->tok.text);
    int quoted = p->tok.quoted;
    if (next(p))
        return JL_EINVAL;
    int is_call = !quoted && is_punct(p, '(');
    if (is_call) {
        size_t a = 0, count = sizeof aggregate_names / sizeof aggregate_names[0];
        while (a < count && strcasecmp(aggregate_names[a].name, word) != 0)
            a++;
        if (a == count)
            return perr(p,
                        "function %.60s() is not supported (mean, median, max, min, sum, "
                        "count, first, last, spread, stddev, percentile)",
                        word);
        if (next(p))
            return JL_EINVAL;
        if (p->tok.kind != TK_IDENT && !is_op(p, "*"))
            return perr(p, "expected a field name inside %s()", word);
        if (set_field(p, p->tok.text) || next(p))
            return JL_EINVAL;
        double pct = aggregate_names[a].p;
        if (pct < 0) {
            if (expect_punct(p, ','))
                return JL_EINVAL;
            char *end = NULL;
            pct = p->tok.kind == TK_NUMBER ? strtod(p->tok.text, &end) : -1;
            if (pct < 0 || pct > 100 || end == NULL || *end != '\0')
                return perr(p, "percentile() needs a number from 0 to 100");
            if (next(p))
                return JL_EINVAL;
        }
        if (expect_punct(p, ')'))
            return JL_EINVAL;
        if (i > 0 && st->raw)
            return perr(p, "mixing aggregates and raw fields is not supported");
        st->aggregates[i] = aggregate_names[a].agg;
        st->percentiles[i] = pct > 0 || aggregate_names[a].agg == QX_AGG_PERCENTILE ? pct : 0;
        snprintf(name, sizeof name, "%s", aggregate_names[a].name);
        for (char *c = name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    } else {
        if (i > 0 && !st->raw)
            return perr(p, "mixing aggregates and raw fields is not supported");
        st->raw = 1;
        if (set_field(p, word))
            return JL_EINVAL;
        snprintf(name, sizeof name, "%.100s", word);
    }
    if (is_op(p, "+") || is_op(p, "-") || is_op(p, "*") || p->tok.kind == TK_REGEX)
        return perr(p, "arithmetic on selected values is not supported");
    if (is_kw(p, "as")) {
        if (next(p))
            return JL_EINVAL;
        if (p->tok.kind != TK_IDENT)
            return perr(p, "expected an alias after AS");
        snprintf(name, sizeof name, "%.100s", p->tok.text);
        if (next(p))
            return JL_EINVAL;
    }
    /* InfluxDB numbers repeated column names: mean, mean_1, ... */
    char unique[160];
    snprintf(unique, sizeof unique, "%s", name);
    for (int n = 1;; n++) {
        int clash = 0;
        for (size_t j = 0; j < i && !clash; j++)
            clash = strcmp(st->columns[j], unique) == 0;
        if (!clash)
            break;
        snprintf(unique, sizeof unique, "%s_%d", name, n);
    }
    if ((st->columns[i] = dup_text(p, unique)) == NULL)
        return JL_ENOMEM;
    st->column_count++;
    return JL_OK;
}

/* FROM [db.][rp.]measurement: the last part names the measurement. */
static int parse_measurement(parser *p)
{
    char last[1100] = "";
    for (;;) {
        if (p->tok.kind == TK_REGEX)
            return perr(p, "a regular expression in FROM is not supported; name the measurement");
        if (p->tok.kind != TK_IDENT)
            return perr(p, "expected a measurement name, found \"%.60s\"", p->tok.text);
        snprintf(last, sizeof last, "%s", p->tok.text);
        if (next(p))
            return JL_EINVAL;
        if (!is_punct(p, '.'))
            break;
        if (next(p))
            return JL_EINVAL;
    }
    if (is_punct(p, ','))
        return perr(p, "several measurements in FROM are not supported");
    free(p->st->measurement);
    return (p->st->measurement = dup_text(p, last)) ? JL_OK : JL_ENOMEM;
}

/* The literals a regex stands for: /^text$/ or /^(t1|t2|...)$/ with backslash escapes of
 * punctuation (Grafana writes a.b as a\.b). Writes them NUL-separated into out (cap bytes; the
 * regex's length + 1 always suffices) and returns how many, or 0 when the regex is anything else
 * (classes, repetition, an empty alternative, ^$). */
static size_t regex_literals(const char *re, char *out, size_t cap)
{
    size_t len = strlen(re), n = 0, count = 0;
    if (len < 3 || re[0] != '^' || re[len - 1] != '$' || cap < len)
        return 0;
    size_t i = 1, end = len - 1;
    int group = re[i] == '(';
    if (group)
        i++;
    size_t item_start = n;
    for (; i < end; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < end) {
            c = re[++i];
            if (isalnum((unsigned char)c))
                return 0; /* \d, \w ... are classes */
        } else if (group && c == ')' && i + 1 == end) {
            break;
        } else if (group && c == '|') {
            if (n == item_start)
                return 0;
            out[n++] = '\0';
            count++;
            item_start = n;
            continue;
        } else if (strchr(".[]()*+?{}|^$\\", c)) {
            return 0;
        }
        out[n++] = c;
    }
    if (group && (i >= end || re[i] != ')'))
        return 0;
    if (n == item_start)
        return 0;
    out[n] = '\0';
    return count + 1;
}

/* A WHERE clause (or part of it) in disjunctive normal form: ORed AND-only conjuncts. One
 * conjunct without conditions is "true" (a time condition, or no condition). */
typedef struct dnf {
    iq_conjunct *items; /* count entries, owned */
    size_t count;
    int has_time; /* a time condition is inside */
} dnf;

static void conjunct_clear(iq_conjunct *c)
{
    for (size_t i = 0; i < c->condition_count; i++) {
        free(c->conditions[i].key);
        free(c->conditions[i].value);
    }
    c->condition_count = 0;
}

static void dnf_free(dnf *d)
{
    for (size_t i = 0; i < d->count; i++)
        conjunct_clear(&d->items[i]);
    free(d->items);
    memset(d, 0, sizeof *d);
}

/* Adds key (!)= value to c unless it is there already. */
static int conjunct_add(parser *p, iq_conjunct *c, const char *key, const char *value, int negate)
{
    for (size_t i = 0; i < c->condition_count; i++)
        if (c->conditions[i].negate == negate && strcmp(c->conditions[i].key, key) == 0 &&
            strcmp(c->conditions[i].value, value) == 0)
            return JL_OK;
    if (c->condition_count == QP_MAX_MATCHERS)
        return perr(p, "too many tag conditions in one alternative of WHERE (at most %d)",
                    QP_MAX_MATCHERS);
    iq_condition *cond = &c->conditions[c->condition_count];
    cond->key = strdup(key);
    cond->value = strdup(value);
    cond->negate = negate;
    c->condition_count++;
    if (cond->key == NULL || cond->value == NULL)
        return perr(p, "out of memory");
    return JL_OK;
}

/* d = n empty conjuncts. */
static int dnf_init(parser *p, dnf *d, size_t n)
{
    memset(d, 0, sizeof *d);
    if ((d->items = calloc(n, sizeof *d->items)) == NULL)
        return perr(p, "out of memory");
    d->count = n;
    return JL_OK;
}

static int too_many_disjuncts(parser *p, size_t n)
{
    return perr(p,
                "the WHERE clause expands to %zu alternatives (OR and =~ /^(a|b)$/ multiply "
                "out over AND); at most %d are supported",
                n, IQ_MAX_DISJUNCTS);
}

static int or_over_time(parser *p)
{
    return perr(p, "OR over time conditions is not supported; AND the time range with the "
                   "rest of WHERE");
}

/* a = a OR b; b is consumed. */
static int dnf_or(parser *p, dnf *a, dnf *b)
{
    if (a->has_time || b->has_time)
        return or_over_time(p);
    size_t n = a->count + b->count;
    if (n > IQ_MAX_DISJUNCTS)
        return too_many_disjuncts(p, n);
    iq_conjunct *items = realloc(a->items, n * sizeof *items);
    if (items == NULL)
        return perr(p, "out of memory");
    memcpy(items + a->count, b->items, b->count * sizeof *items);
    a->items = items;
    a->count = n;
    free(b->items);
    memset(b, 0, sizeof *b);
    return JL_OK;
}

/* a = a AND b, multiplied out; b is consumed. */
static int dnf_and(parser *p, dnf *a, dnf *b)
{
    size_t n = a->count * b->count;
    if (n > IQ_MAX_DISJUNCTS)
        return too_many_disjuncts(p, n);
    dnf out;
    if (dnf_init(p, &out, n))
        return JL_EINVAL;
    out.has_time = a->has_time || b->has_time;
    int rc = JL_OK;
    for (size_t i = 0; i < a->count && rc == JL_OK; i++)
        for (size_t j = 0; j < b->count && rc == JL_OK; j++) {
            iq_conjunct *c = &out.items[i * b->count + j];
            const iq_conjunct *x = &a->items[i], *y = &b->items[j];
            for (size_t k = 0; k < x->condition_count && rc == JL_OK; k++)
                rc = conjunct_add(p, c, x->conditions[k].key, x->conditions[k].value,
                                  x->conditions[k].negate);
            for (size_t k = 0; k < y->condition_count && rc == JL_OK; k++)
                rc = conjunct_add(p, c, y->conditions[k].key, y->conditions[k].value,
                                  y->conditions[k].negate);
        }
    dnf_free(a);
    dnf_free(b);
    *a = out;
    if (rc != JL_OK)
        dnf_free(a);
    return rc;
}

static int parse_term(parser *p, dnf *out);

/* A chain of operands joined by one keyword, folded left by combine:
 *   and_expr := term (AND term)*      or_expr := and_expr (OR and_expr)* */
static int parse_chain(parser *p, dnf *out, const char *keyword, int (*operand)(parser *, dnf *),
                       int (*combine)(parser *, dnf *, dnf *))
{
    if (operand(p, out))
        return JL_EINVAL;
    while (is_kw(p, keyword)) {
        dnf more = {0};
        if (next(p) || operand(p, &more) || combine(p, out, &more)) {
            dnf_free(&more);
            return JL_EINVAL;
        }
    }
    return JL_OK;
}

static int parse_and(parser *p, dnf *out)
{
    return parse_chain(p, out, "and", parse_term, dnf_and);
}

static int parse_or(parser *p, dnf *out)
{
    return parse_chain(p, out, "or", parse_and, dnf_or);
}

/* A time comparison (the cursor after the operator op): intersects the statement's bounds. */
static int parse_time_condition(parser *p, const char *op)
{
    iq_statement *st = p->st;
    int64_t ms;
    int sub;
    if (parse_time_value(p, &ms, &sub))
        return JL_EINVAL;
    /* Bounds in ms: [from, to). A bound inside a millisecond rounds inward. */
    int64_t from = INT64_MIN, to = INT64_MIN;
    if (strcmp(op, ">=") == 0)
        from = ms + sub;
    else if (strcmp(op, ">") == 0)
        from = ms + 1;
    else if (strcmp(op, "<=") == 0)
        to = ms + 1;
    else if (strcmp(op, "<") == 0)
        to = ms + sub;
    else if (strcmp(op, "=") == 0 && !sub)
        from = ms, to = ms + 1;
    else
        return perr(p, "time %s is not supported (use >=, >, <=, < or =)", op);
    if (from != INT64_MIN && (!st->has_from || from > st->from_ms))
        st->from_ms = from, st->has_from = 1;
    if (to != INT64_MIN && (!st->has_to || to < st->to_ms))
        st->to_ms = to, st->has_to = 1;
    return JL_OK;
}

/* term := '(' or_expr ')' | comparison */
static int parse_term(parser *p, dnf *out)
{
    iq_statement *st = p->st;
    memset(out, 0, sizeof *out);
    if (is_punct(p, '(')) {
        if (p->depth >= IQ_MAX_NESTING)
            return perr(p, "parentheses in WHERE nest deeper than %d levels", IQ_MAX_NESTING);
        p->depth++;
        int rc = next(p) || parse_or(p, out) ? JL_EINVAL : expect_punct(p, ')');
        p->depth--;
        return rc;
    }
    if (p->tok.kind != TK_IDENT)
        return perr(p, "expected a tag name or time in WHERE, found \"%.60s\"", p->tok.text);
    char key[1100];
    snprintf(key, sizeof key, "%s", p->tok.text);
    int is_time = strcasecmp(key, "time") == 0;
    if (next(p))
        return JL_EINVAL;
    if (p->tok.kind != TK_OP)
        return perr(p, "expected a comparison after \"%.60s\"", key);
    char op[4];
    snprintf(op, sizeof op, "%.3s", p->tok.text);
    if (next(p))
        return JL_EINVAL;
    if (is_time) {
        if (parse_time_condition(p, op) || dnf_init(p, out, 1))
            return JL_EINVAL;
        out->has_time = 1;
        return JL_OK;
    }
    if (strcmp(key, "value") == 0 || (st->field && strcmp(key, st->field) == 0))
        return perr(p, "conditions on field values are not supported (only on tags and time)");
    int negate;
    if (strcmp(op, "=") == 0 || strcmp(op, "=~") == 0)
        negate = 0;
    else if (strcmp(op, "!=") == 0 || strcmp(op, "<>") == 0 || strcmp(op, "!~") == 0)
        negate = 1;
    else
        return perr(p,
                    "tag comparison %s is not supported (=, !=, or =~ /^literal$/, "
                    "/^(v1|v2)$/)",
                    op);
    char values[1100];
    size_t count = 1;
    if (op[1] == '~') {
        if (p->tok.kind != TK_REGEX)
            return perr(p, "expected /regex/ after %s", op);
        if ((count = regex_literals(p->tok.text, values, sizeof values)) == 0)
            return perr(p,
                        "regular expression /%.60s/ is not supported: only a literal /^v$/ or "
                        "literals /^(v1|v2|...)$/",
                        p->tok.text);
    } else if (p->tok.kind == TK_STRING || p->tok.kind == TK_NUMBER) {
        snprintf(values, sizeof values, "%s", p->tok.text);
    } else {
        return perr(p, "expected a 'quoted' tag value after %s", op);
    }
    if (next(p))
        return JL_EINVAL;
    /* =~ of n literals: n alternatives; !~ of them: n conditions that all hold. */
    if (count > IQ_MAX_DISJUNCTS && !negate)
        return too_many_disjuncts(p, count);
    if (dnf_init(p, out, negate ? 1 : count))
        return JL_EINVAL;
    const char *value = values;
    for (size_t i = 0; i < count; i++, value += strlen(value) + 1)
        if (conjunct_add(p, &out->items[negate ? 0 : i], key, value, negate))
            return JL_EINVAL;
    return JL_OK;
}

/* WHERE: the conditions into st->disjuncts (none when some alternative has no tag condition,
 * i.e. every series of the metric matches). */
static int parse_conditions(parser *p)
{
    iq_statement *st = p->st;
    dnf d = {0};
    if (parse_or(p, &d)) {
        dnf_free(&d);
        return JL_EINVAL;
    }
    int everything = 0;
    for (size_t i = 0; i < d.count; i++)
        everything |= d.items[i].condition_count == 0;
    if (everything) {
        dnf_free(&d);
        return JL_OK;
    }
    st->disjuncts = d.items;
    st->disjunct_count = d.count;
    return JL_OK;
}

static int parse_uint(parser *p, const char *what, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long n = p->tok.kind == TK_NUMBER ? strtoull(p->tok.text, &end, 10) : 0;
    if (p->tok.kind != TK_NUMBER || *end != '\0' || errno == ERANGE)
        return perr(p, "%s needs a whole number", what);
    *out = n;
    return next(p);
}

static int parse_fill(parser *p)
{
    iq_statement *st = p->st;
    if (next(p) || expect_punct(p, '('))
        return JL_EINVAL;
    char text[128];
    int negative = 0;
    if (is_op(p, "-")) {
        negative = 1;
        if (next(p))
            return JL_EINVAL;
    }
    snprintf(text, sizeof text, "%s%.100s", negative ? "-" : "", p->tok.text);
    jl_error err;
    if (qx_parse_fill(text, &st->fill, &st->fill_value, &err) != JL_OK)
        return perr(p, "fill(%.60s) is not supported (null, none, previous, linear, a number)",
                    text);
    st->has_fill = 1;
    if (next(p))
        return JL_EINVAL;
    return expect_punct(p, ')');
}

static int parse_group_by(parser *p)
{
    iq_statement *st = p->st;
    for (;;) {
        if (is_kw(p, "time")) {
            int sub;
            if (next(p) || expect_punct(p, '('))
                return JL_EINVAL;
            if (p->tok.kind != TK_NUMBER)
                return perr(p, "time() needs a duration such as 5m");
            if (parse_duration_text(p, p->tok.text, 0, &st->window_ms, &sub) || next(p))
                return JL_EINVAL;
            if (sub || st->window_ms <= 0)
                return perr(p, "time() needs a whole, positive number of milliseconds");
            if (is_punct(p, ',')) {
                int minus = 0;
                if (next(p))
                    return JL_EINVAL;
                if (is_op(p, "-")) {
                    minus = 1;
                    if (next(p))
                        return JL_EINVAL;
                }
                if (p->tok.kind != TK_NUMBER ||
                    parse_duration_text(p, p->tok.text, 0, &st->window_offset_ms, &sub) || next(p))
                    return perr(p, "time()'s offset needs a duration");
                if (minus)
                    st->window_offset_ms = -st->window_offset_ms;
            }
            if (expect_punct(p, ')'))
                return JL_EINVAL;
            st->has_window = 1;
        } else if (is_op(p, "*") || p->tok.kind == TK_REGEX) {
            return perr(p, "GROUP BY * or a regex is not supported; name the tags");
        } else if (p->tok.kind == TK_IDENT) {
            if (st->group_tag_count == QX_MAX_GROUP_TAGS)
                return perr(p, "too many GROUP BY tags");
            if (!sk_name_valid(p->tok.text, strlen(p->tok.text)))
                return perr(p, "\"%.60s\" is not a tag name", p->tok.text);
            if ((st->group_tags[st->group_tag_count] = dup_text(p, p->tok.text)) == NULL)
                return JL_ENOMEM;
            st->group_tag_count++;
            if (next(p))
                return JL_EINVAL;
        } else {
            return perr(p, "expected time(...) or a tag in GROUP BY, found \"%.60s\"", p->tok.text);
        }
        if (!is_punct(p, ','))
            return JL_OK;
        if (next(p))
            return JL_EINVAL;
    }
}

static int parse_select(parser *p)
{
    iq_statement *st = p->st;
    st->kind = IQ_SELECT;
    for (;;) {
        if (parse_item(p))
            return JL_EINVAL;
        if (!is_punct(p, ','))
            break;
        if (next(p))
            return JL_EINVAL;
    }
    if (is_kw(p, "into"))
        return perr(p, "SELECT ... INTO is not supported");
    if (expect_kw(p, "from") || parse_measurement(p))
        return JL_EINVAL;
    if (is_kw(p, "where") && (next(p) || parse_conditions(p)))
        return JL_EINVAL;
    while (p->tok.kind != TK_END) {
        if (is_kw(p, "group")) {
            if (next(p) || expect_kw(p, "by") || parse_group_by(p))
                return JL_EINVAL;
        } else if (is_kw(p, "fill")) {
            if (parse_fill(p))
                return JL_EINVAL;
        } else if (is_kw(p, "order")) {
            if (next(p) || expect_kw(p, "by") || expect_kw(p, "time"))
                return JL_EINVAL;
            if (is_kw(p, "desc")) {
                st->order_desc = 1;
                if (next(p))
                    return JL_EINVAL;
            } else if (is_kw(p, "asc") && next(p)) {
                return JL_EINVAL;
            }
        } else if (is_kw(p, "limit")) {
            if (next(p) || parse_uint(p, "LIMIT", &st->limit))
                return JL_EINVAL;
        } else if (is_kw(p, "offset")) {
            if (next(p) || parse_uint(p, "OFFSET", &st->offset))
                return JL_EINVAL;
        } else if (is_kw(p, "tz")) {
            if (next(p) || expect_punct(p, '('))
                return JL_EINVAL;
            if (p->tok.kind != TK_STRING)
                return perr(p, "tz() needs a quoted zone name such as 'Asia/Shanghai'");
            free(st->tz);
            if ((st->tz = dup_text(p, p->tok.text)) == NULL || next(p) || expect_punct(p, ')'))
                return JL_EINVAL;
        } else if (is_kw(p, "slimit") || is_kw(p, "soffset")) {
            return perr(p, "%.20s is not supported", p->tok.text);
        } else {
            return perr(p, "unexpected \"%.60s\"", p->tok.text);
        }
    }
    if (st->has_fill && !st->has_window)
        return perr(p, "fill() needs GROUP BY time(...)");
    if (st->raw && (st->has_window || st->has_fill))
        return perr(p, "GROUP BY time() needs an aggregate function such as mean(\"value\")");
    return JL_OK;
}

/* ---------- SHOW ---------- */

static int parse_show_tail(parser *p)
{
    iq_statement *st = p->st;
    while (p->tok.kind != TK_END) {
        if (is_kw(p, "on")) {
            if (next(p) || (p->tok.kind != TK_IDENT && p->tok.kind != TK_STRING))
                return perr(p, "expected a database name after ON");
            if (next(p))
                return JL_EINVAL;
        } else if (is_kw(p, "from")) {
            if (next(p) || parse_measurement(p))
                return JL_EINVAL;
        } else if (is_kw(p, "limit")) {
            if (next(p) || parse_uint(p, "LIMIT", &st->limit))
                return JL_EINVAL;
        } else if (is_kw(p, "offset")) {
            if (next(p) || parse_uint(p, "OFFSET", &st->offset))
                return JL_EINVAL;
        } else if (is_kw(p, "with") && st->kind == IQ_SHOW_TAG_VALUES) {
            if (next(p) || expect_kw(p, "key"))
                return JL_EINVAL;
            if (is_kw(p, "in")) {
                if (next(p) || expect_punct(p, '('))
                    return JL_EINVAL;
                for (;;) {
                    if (p->tok.kind != TK_IDENT || st->key_count == IQ_MAX_KEYS)
                        return perr(p, "expected tag keys in KEY IN (...)");
                    if ((st->keys[st->key_count++] = dup_text(p, p->tok.text)) == NULL || next(p))
                        return JL_EINVAL;
                    if (!is_punct(p, ','))
                        break;
                    if (next(p))
                        return JL_EINVAL;
                }
                if (expect_punct(p, ')'))
                    return JL_EINVAL;
            } else if (is_op(p, "=")) {
                if (next(p) || p->tok.kind != TK_IDENT)
                    return perr(p, "expected a tag key after KEY =");
                if ((st->keys[st->key_count++] = dup_text(p, p->tok.text)) == NULL || next(p))
                    return JL_EINVAL;
            } else {
                return perr(p, "only WITH KEY = \"k\" and WITH KEY IN (...) are supported");
            }
        } else if (is_kw(p, "where") || is_kw(p, "with")) {
            return perr(p, "%.20s in SHOW statements is not supported", p->tok.text);
        } else {
            return perr(p, "unexpected \"%.60s\"", p->tok.text);
        }
    }
    if (st->kind == IQ_SHOW_TAG_VALUES && st->key_count == 0)
        return perr(p, "SHOW TAG VALUES needs WITH KEY = \"k\"");
    return JL_OK;
}

static int parse_show(parser *p)
{
    iq_statement *st = p->st;
    if (is_kw(p, "measurements")) {
        st->kind = IQ_SHOW_MEASUREMENTS;
    } else if (is_kw(p, "databases")) {
        st->kind = IQ_SHOW_DATABASES;
    } else if (is_kw(p, "retention")) {
        st->kind = IQ_SHOW_RETENTION_POLICIES;
        if (next(p) || !is_kw(p, "policies"))
            return perr(p, "expected SHOW RETENTION POLICIES");
    } else if (is_kw(p, "tag") || is_kw(p, "field")) {
        int tag = is_kw(p, "tag");
        if (next(p))
            return JL_EINVAL;
        if (is_kw(p, "keys"))
            st->kind = tag ? IQ_SHOW_TAG_KEYS : IQ_SHOW_FIELD_KEYS;
        else if (tag && is_kw(p, "values"))
            st->kind = IQ_SHOW_TAG_VALUES;
        else
            return perr(p, "SHOW %s %.40s is not supported", tag ? "TAG" : "FIELD", p->tok.text);
    } else {
        return perr(p,
                    "SHOW %.60s is not supported (MEASUREMENTS, TAG KEYS, TAG VALUES, FIELD "
                    "KEYS, DATABASES, RETENTION POLICIES)",
                    p->tok.text);
    }
    if (next(p))
        return JL_EINVAL;
    return parse_show_tail(p);
}

static void parse_statement(const char *text, size_t len, int64_t now_ms, iq_statement *st)
{
    parser p = {.s = text, .len = len, .st = st, .now_ms = now_ms};
    int rc = next(&p);
    if (rc == JL_OK) {
        if (is_kw(&p, "select")) {
            rc = next(&p) || parse_select(&p);
        } else if (is_kw(&p, "show")) {
            rc = next(&p) || parse_show(&p);
        } else if (is_kw(&p, "create")) {
            st->kind = IQ_NOOP;
            rc = next(&p) || expect_kw(&p, "database");
        } else {
            rc = perr(&p, "statement \"%.40s\" is not supported (SELECT and SHOW are)", p.tok.text);
        }
    }
    if (rc != JL_OK || p.failed) {
        st->kind = IQ_ERROR;
        if (!st->error[0])
            snprintf(st->error, sizeof st->error, "could not parse the statement");
    }
}

int iq_parse(const char *text, size_t len, int64_t now_ms, iq_query *out, jl_error *err)
{
    memset(out, 0, sizeof *out);
    out->statements = calloc(IQ_MAX_STATEMENTS, sizeof *out->statements);
    if (out->statements == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    size_t start = 0;
    char quote = 0;
    for (size_t i = 0; i <= len; i++) {
        char c = i < len ? text[i] : ';';
        if (quote) {
            if (c == '\\' && i + 1 < len)
                i++;
            else if (c == quote)
                quote = 0;
            if (i < len)
                continue;
        } else if (c == '\'' || c == '"') {
            quote = c;
            continue;
        }
        if (c != ';' && i < len)
            continue;
        size_t s = start, e = i;
        start = i + 1;
        while (s < e && isspace((unsigned char)text[s]))
            s++;
        if (s == e)
            continue;
        if (out->count == IQ_MAX_STATEMENTS)
            return jl_error_set(err, JL_EINVAL, "more than %d statements in one query",
                                IQ_MAX_STATEMENTS);
        parse_statement(text + s, e - s, now_ms, &out->statements[out->count++]);
    }
    if (out->count == 0)
        return jl_error_set(err, JL_EINVAL, "the query holds no statement");
    return JL_OK;
}

static void statement_destroy(iq_statement *st)
{
    free(st->measurement);
    free(st->field);
    free(st->tz);
    for (size_t i = 0; i < QX_MAX_AGGREGATES; i++)
        free(st->columns[i]);
    for (size_t i = 0; i < st->disjunct_count; i++)
        conjunct_clear(&st->disjuncts[i]);
    free(st->disjuncts);
    for (size_t i = 0; i < st->group_tag_count; i++)
        free(st->group_tags[i]);
    for (size_t i = 0; i < st->key_count; i++)
        free(st->keys[i]);
}

void iq_query_destroy(iq_query *query)
{
    if (query == NULL || query->statements == NULL)
        return;
    for (size_t i = 0; i < query->count; i++)
        statement_destroy(&query->statements[i]);
    free(query->statements);
    memset(query, 0, sizeof *query);
}

/* ---------- planning ---------- */

#define DAY_MS (86400000LL)
#define WEEK_MS (7 * DAY_MS)

int iq_metric_name(const char *measurement, const char *field, char *out, size_t cap, jl_error *err)
{
    int n = field == NULL || strcmp(field, "value") == 0
                ? snprintf(out, cap, "%s", measurement)
                : snprintf(out, cap, "%s_%s", measurement, field);
    if (n < 0 || (size_t)n >= cap || !sk_name_valid(out, (size_t)n))
        return jl_error_set(err, JL_EINVAL,
                            "measurement \"%.60s\" with field \"%.60s\" is not a metric name",
                            measurement, field ? field : "value");
    return JL_OK;
}

int iq_plan_select(const iq_statement *st, int64_t now_ms, const qx_limits *limits, iq_plan *out,
                   jl_error *err)
{
    memset(out, 0, sizeof *out);
    out->row_time_ms = INT64_MIN;
    if (st->kind != IQ_SELECT)
        return jl_error_set(err, JL_EINVAL, "not a SELECT statement");
    int rc = iq_metric_name(st->measurement, st->field, out->metric, sizeof out->metric, err);
    if (rc != JL_OK)
        return rc;
    /* One selector per alternative of WHERE; the engine runs one query over their union. */
    size_t count = st->disjunct_count ? st->disjunct_count : 1;
    if (count > IQ_MAX_DISJUNCTS)
        return jl_error_set(err, JL_EINVAL, "more than %d alternatives in WHERE", IQ_MAX_DISJUNCTS);
    for (size_t d = 0; d < count; d++) {
        qp_selector *sel = &out->selectors[out->selector_count++];
        if ((sel->metric = strdup(out->metric)) == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory");
        const iq_conjunct *c = st->disjunct_count ? &st->disjuncts[d] : NULL;
        for (size_t i = 0; c && i < c->condition_count; i++) {
            qp_matcher *m = &sel->matchers[sel->matcher_count++];
            m->key = strdup(c->conditions[i].key);
            m->value = strdup(c->conditions[i].value);
            m->negate = c->conditions[i].negate;
            if (m->key == NULL || m->value == NULL)
                return jl_error_set(err, JL_ENOMEM, "out of memory");
        }
    }
    qx_query_request *r = &out->request;
    r->selector = &out->selectors[0];
    r->more_selectors = count > 1 ? &out->selectors[1] : NULL;
    r->more_selector_count = count - 1;
    r->limits = *limits;
    /* InfluxQL has no way to ask for flags, so Grafana gets what /api/v1/query gives by default:
     * the valid readings (flags=valid). */
    r->flags.mask = limits->valid_flags ? limits->valid_flags : JL_FLAG_MASK_N;
    r->flags.reviews = 1;
    if (st->tz) {
        rc = tz_zone_load(st->tz, &out->zone, err);
        if (rc != JL_OK)
            return rc;
        r->zone = out->zone;
    }
    r->from_ms = st->has_from ? st->from_ms : JL_MIN_MS;
    r->to_ms = st->has_to ? st->to_ms : JL_MAX_MS;
    if (st->raw) {
        /* Raw rows of every series; the caller merges them per GROUP BY tags. */
        if (r->from_ms >= r->to_ms)
            r->to_ms = r->from_ms + 1, r->from_ms = r->to_ms; /* empty: caller sees no rows */
        return JL_OK;
    }
    r->has_window = 1;
    r->aggregate_count = st->column_count;
    memcpy(r->aggregates, st->aggregates, sizeof r->aggregates);
    memcpy(r->percentiles, st->percentiles, sizeof r->percentiles);
    r->group = 1;
    for (size_t i = 0; i < st->group_tag_count; i++)
        r->group_tags[r->group_tag_count++] = st->group_tags[i];
    if (st->has_window) {
        if (!st->has_from)
            return jl_error_set(err, JL_EINVAL,
                                "GROUP BY time() needs a lower time bound (WHERE time >= ...)");
        if (!st->has_to)
            r->to_ms = now_ms + 1; /* InfluxDB ends such a query at now() */
        r->window.ms = st->window_ms;
        r->shift_ms = st->window_offset_ms;
        /* InfluxDB's default fill is null. */
        r->fill = st->has_fill ? st->fill : QX_FILL_NULL;
        r->fill_value = st->fill_value;
    } else {
        /* One window over the whole range, reported at the range's start (0 without one). With
         * a lower bound but no upper one the range ends at now(), as with GROUP BY time(); a
         * range up to the end of time would be wider than any single window can be here. */
        if (!st->has_from)
            r->from_ms = 0;
        else if (!st->has_to)
            r->to_ms = now_ms + 1;
        int64_t length = r->to_ms - r->from_ms;
        if (length <= 0)
            return jl_error_set(err, JL_EINVAL, "the time range is empty");
        r->zone = NULL; /* a single window needs no local alignment */
        if (r->from_ms == 0) {
            r->window.ms = length;
        } else if (r->from_ms > 0 && r->from_ms >= length) {
            r->window.ms = r->from_ms; /* windows [k*from, ...): one starts at from */
        } else {
            return jl_error_set(err, JL_EINVAL,
                                "an aggregate without GROUP BY time() over this time range is "
                                "not supported; add GROUP BY time(...) or bound the range");
        }
        r->fill = QX_FILL_NONE;
        out->row_time_ms = r->from_ms;
    }
    /* The engine starts multiples of a week on Mondays; InfluxDB counts them from the epoch (a
     * Thursday), so move the boundaries back there. */
    if (r->window.ms % WEEK_MS == 0)
        r->shift_ms += 3 * DAY_MS;
    return JL_OK;
}

void iq_plan_destroy(iq_plan *plan)
{
    if (plan == NULL)
        return;
    for (size_t i = 0; i < plan->selector_count && i < IQ_MAX_DISJUNCTS; i++)
        qp_selector_destroy(&plan->selectors[i]);
    tz_zone_free(plan->zone);
    memset(plan, 0, sizeof *plan);
}
