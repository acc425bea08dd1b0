/* HJ 212 stations file: `MN PW [key=value ...]` lines into an immutable table looked up by MN
 * (include/jialing/hj212.h).
 *
 * While parsing, stations and tags refer to their strings by offset into one growing buffer (its
 * address moves as it grows), and a hash set of the MNs seen finds a repeated MN at the line that
 * repeats it (so errors come in line order, in O(1) a line). Once every line is read the offsets
 * become pointers and the stations are sorted by MN, so a lookup is a binary search with no
 * allocation. */
#include "jialing/hj212.h"
#include "jialing/serieskey.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hj_stations {
    hj_station *stations; /* count, sorted by MN */
    size_t count;
    hj_tag *tags;
    char *text; /* every string, NUL-terminated */
};

typedef struct draft_station {
    size_t mn, pw; /* offsets into text */
    size_t tag_first, tag_count;
    long line;
} draft_station;

typedef struct draft_tag {
    size_t key, value;
} draft_tag;

typedef struct draft {
    jl_buf text;
    draft_station *stations;
    size_t count, cap;
    draft_tag *tags;
    size_t tag_count, tag_cap;
    size_t *slots;     /* open-addressing hash set of station index + 1 (0: empty), by MN */
    size_t slot_count; /* a power of two, at least twice count */
} draft;

static void draft_destroy(draft *d)
{
    jl_buf_destroy(&d->text);
    free(d->stations);
    free(d->tags);
    free(d->slots);
}

void hj_stations_free(hj_stations *table)
{
    if (table == NULL)
        return;
    free(table->stations);
    free(table->tags);
    free(table->text);
    free(table);
}

/* MN and PW: what HJ 212 header values can carry without breaking the header's syntax. */
static int hj_id_valid(const char *s, size_t n)
{
    if (n == 0 || n > HJ_FIELD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == ';' || c == '=' || c == '&' || c == ',')
            return 0;
    }
    return 1;
}

/* Appends s[0..n) and a NUL to the draft's text; *off is where it starts. */
static int draft_string(draft *d, const char *s, size_t n, size_t *off)
{
    *off = d->text.len;
    if (jl_buf_append(&d->text, s, n) != JL_OK || jl_buf_append(&d->text, "", 1) != JL_OK)
        return JL_ENOMEM;
    return JL_OK;
}

#define ID_RULE "1 to 32 printable ASCII bytes without ; = & ,"

/* Parses one non-empty line's fields into a draft station (not yet in the sorted index). */
static int parse_line(draft *d, long line, const char **f, const size_t *fl, size_t n,
                      jl_error *err)
{
    char q[256];
    if (n > 2 + HJ_STATION_TAGS_MAX)
        return jl_error_set(err, JL_EINVAL, "line %ld: more than %d tags", line,
                            HJ_STATION_TAGS_MAX);
    if (!hj_id_valid(f[0], fl[0])) {
        sk_quote(f[0], fl[0], q, sizeof q);
        return jl_error_set(err, JL_EINVAL, "line %ld: MN \"%s\" is not valid (" ID_RULE ")", line,
                            q);
    }
    if (n < 2)
        return jl_error_set(err, JL_EINVAL, "line %ld: PW missing", line);
    if (memchr(f[1], '=', fl[1]) != NULL) {
        /* "MN key=value": the PW was left out, not a PW with '=' in it */
        sk_quote(f[1], fl[1], q, sizeof q);
        return jl_error_set(err, JL_EINVAL,
                            "line %ld: PW missing (\"%s\" is a tag; the PW comes second)", line, q);
    }
    if (!hj_id_valid(f[1], fl[1])) {
        sk_quote(f[1], fl[1], q, sizeof q);
        return jl_error_set(err, JL_EINVAL, "line %ld: PW \"%s\" is not valid (" ID_RULE ")", line,
                            q);
    }
    if (d->count == d->cap) {
        draft_station *grown = jl_array_grow(d->stations, &d->cap, d->count + 1, sizeof *grown, 16);
        if (grown == NULL)
            return JL_ENOMEM;
        d->stations = grown;
    }
    draft_station *s = &d->stations[d->count];
    s->line = line;
    s->tag_first = d->tag_count;
    s->tag_count = 0;
    if (draft_string(d, f[0], fl[0], &s->mn) != JL_OK ||
        draft_string(d, f[1], fl[1], &s->pw) != JL_OK)
        return JL_ENOMEM;
    for (size_t i = 2; i < n; i++) {
        const char *eq = memchr(f[i], '=', fl[i]);
        sk_quote(f[i], fl[i], q, sizeof q);
        if (eq == NULL)
            return jl_error_set(err, JL_EINVAL, "line %ld: \"%s\" is not a key=value tag", line, q);
        size_t kn = (size_t)(eq - f[i]), vn = fl[i] - kn - 1;
        /* sk_build() says what is wrong with a key or a value in the words the rest of Jialing
         * uses; a metric name that is always valid stands in. */
        sk_tag one = {{f[i], kn}, {eq + 1, vn}};
        jl_buf scratch;
        jl_buf_init(&scratch);
        jl_error why;
        int rc = sk_build((sk_text){"m", 1}, &one, 1, &scratch, &why);
        jl_buf_destroy(&scratch);
        if (rc == JL_ENOMEM)
            return JL_ENOMEM;
        if (rc != JL_OK)
            return jl_error_set(err, JL_EINVAL, "line %ld: tag %s: %s", line, q, why.message);
        if ((kn == 2 && memcmp(f[i], "mn", 2) == 0) || (kn == 2 && memcmp(f[i], "cn", 2) == 0))
            return jl_error_set(err, JL_EINVAL,
                                "line %ld: tag %s: mn and cn come from the packet itself", line, q);
        for (size_t k = 0; k < s->tag_count; k++) {
            const char *other = d->text.data + d->tags[s->tag_first + k].key;
            if (strlen(other) == kn && memcmp(other, f[i], kn) == 0)
                return jl_error_set(err, JL_EINVAL, "line %ld: tag %s: key given twice", line, q);
        }
        if (d->tag_count == d->tag_cap) {
            draft_tag *grown =
                jl_array_grow(d->tags, &d->tag_cap, d->tag_count + 1, sizeof *grown, 16);
            if (grown == NULL)
                return JL_ENOMEM;
            d->tags = grown;
        }
        draft_tag *t = &d->tags[d->tag_count];
        if (draft_string(d, f[i], kn, &t->key) != JL_OK ||
            draft_string(d, eq + 1, vn, &t->value) != JL_OK)
            return JL_ENOMEM;
        d->tag_count++;
        s->tag_count++;
    }
    return JL_OK;
}

static size_t mn_hash(const char *mn)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)mn; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (size_t)(h ^ (h >> 29));
}

/* Puts station idx into slots (slot_count of them, a power of two, not full); returns the index
 * of a station with the same MN already there, or (size_t)-1. */
static size_t slot_put(size_t *slots, size_t slot_count, const draft *d, size_t idx)
{
    const char *mn = d->text.data + d->stations[idx].mn;
    size_t mask = slot_count - 1;
    for (size_t i = mn_hash(mn) & mask;; i = (i + 1) & mask) {
        if (slots[i] == 0) {
            slots[i] = idx + 1;
            return (size_t)-1;
        }
        if (strcmp(d->text.data + d->stations[slots[i] - 1].mn, mn) == 0)
            return slots[i] - 1;
    }
}

/* Adds the station parse_line() filled (index d->count) to the set, or refuses a repeated MN. */
static int index_last(draft *d, jl_error *err)
{
    size_t idx = d->count;
    if (2 * (d->count + 1) > d->slot_count) {
        size_t n = d->slot_count ? 2 * d->slot_count : 64;
        size_t *grown = calloc(n, sizeof *grown);
        if (grown == NULL)
            return JL_ENOMEM;
        for (size_t i = 0; i < d->slot_count; i++)
            if (d->slots[i] != 0)
                slot_put(grown, n, d, d->slots[i] - 1);
        free(d->slots);
        d->slots = grown;
        d->slot_count = n;
    }
    size_t first = slot_put(d->slots, d->slot_count, d, idx);
    if (first != (size_t)-1) {
        const char *mn = d->text.data + d->stations[idx].mn;
        char q[256];
        sk_quote(mn, strlen(mn), q, sizeof q);
        return jl_error_set(err, JL_EINVAL, "line %ld: MN %s given twice (first on line %ld)",
                            d->stations[idx].line, q, d->stations[first].line);
    }
    d->count++;
    return JL_OK;
}

static int station_cmp(const void *a, const void *b)
{
    return strcmp(((const hj_station *)a)->mn, ((const hj_station *)b)->mn);
}

/* Turns the draft into the table: pointers instead of offsets, stations in MN order. */
static int finish(draft *d, hj_stations **out)
{
    hj_stations *t = calloc(1, sizeof *t);
    if (t == NULL)
        return JL_ENOMEM;
    t->count = d->count;
    t->stations = calloc(d->count ? d->count : 1, sizeof *t->stations);
    t->tags = calloc(d->tag_count ? d->tag_count : 1, sizeof *t->tags);
    if (t->stations == NULL || t->tags == NULL) {
        hj_stations_free(t);
        return JL_ENOMEM;
    }
    if (d->text.data == NULL && jl_buf_reserve(&d->text, 1) != JL_OK) {
        hj_stations_free(t);
        return JL_ENOMEM;
    }
    t->text = d->text.data; /* the table takes the buffer */
    jl_buf_init(&d->text);
    for (size_t i = 0; i < d->tag_count; i++) {
        t->tags[i].key = t->text + d->tags[i].key;
        t->tags[i].value = t->text + d->tags[i].value;
    }
    for (size_t i = 0; i < d->count; i++) {
        const draft_station *s = &d->stations[i];
        t->stations[i] = (hj_station){t->text + s->mn, t->text + s->pw, t->tags + s->tag_first,
                                      s->tag_count, s->line};
    }
    /* MNs are unique, so the order is total and qsort's instability does not show. */
    qsort(t->stations, t->count, sizeof *t->stations, station_cmp);
    *out = t;
    return JL_OK;
}

int hj_stations_parse(const char *text, size_t len, hj_stations **out, jl_error *err)
{
    *out = NULL;
    draft d;
    memset(&d, 0, sizeof d);
    jl_buf_init(&d.text);
    long line = 0;
    int rc = JL_OK;
    for (size_t i = 0; i < len && rc == JL_OK;) {
        const char *start = text + i;
        const char *nl = memchr(start, '\n', len - i);
        size_t n = nl ? (size_t)(nl - start) : len - i;
        i += n + 1;
        line++;
        const char *f[2 + HJ_STATION_TAGS_MAX];
        size_t fl[2 + HJ_STATION_TAGS_MAX];
        size_t count = hj_split_fields(start, n, f, fl, 2 + HJ_STATION_TAGS_MAX);
        if (count == 0)
            continue;
        rc = parse_line(&d, line, f, fl, count, err);
        if (rc == JL_OK)
            rc = index_last(&d, err);
    }
    if (rc == JL_OK)
        rc = finish(&d, out);
    if (rc == JL_ENOMEM)
        jl_error_set(err, JL_ENOMEM, "out of memory reading HJ 212 stations");
    else if (rc != JL_OK && err != NULL)
        err->line = line;
    draft_destroy(&d);
    return rc;
}

int hj_stations_load(const char *path, hj_stations **out, jl_error *err)
{
    *out = NULL;
    /* The limit keeps a mistaken path (a device, a huge log) from being read whole. */
    jl_buf buf;
    int rc = jl_read_file(path, "HJ 212 stations", (size_t)64 << 20, &buf, err);
    if (rc == JL_OK) {
        rc = hj_stations_parse(buf.data ? buf.data : "", buf.len, out, err);
        if (rc == JL_EINVAL && err != NULL) {
            /* name the file too: the message is shown at startup or on reload */
            char inner[JL_ERROR_MESSAGE_MAX];
            snprintf(inner, sizeof inner, "%s", err->message);
            long line = err->line;
            jl_error_set(err, rc, "%s: %s", path, inner);
            err->line = line;
        }
    }
    jl_buf_destroy(&buf);
    return rc;
}

size_t hj_stations_count(const hj_stations *table)
{
    return table ? table->count : 0;
}

const hj_station *hj_stations_at(const hj_stations *table, size_t i)
{
    return &table->stations[i];
}

const hj_station *hj_stations_find(const hj_stations *table, const char *mn)
{
    if (table == NULL)
        return NULL;
    size_t lo = 0, hi = table->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(table->stations[mid].mn, mn);
        if (c == 0)
            return &table->stations[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
