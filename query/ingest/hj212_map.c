/* HJ 212 data messages to readings: pollutant codes to metric names (built in, or overridden by a
 * codes file), the tags mn and cn plus a station's extra tags, the DataTime in the logger's time
 * zone to UTC milliseconds, and -Flag letters to stored flag codes (include/jialing/hj212.h). */
#include "jialing/calendar.h"
#include "jialing/flag.h"
#include "jialing/hj212.h"
#include "jialing/serieskey.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hj_code_name {
    const char *code;
    const char *metric;
} hj_code_name;

/* HJ 212-2017 appendix B codes for the parameters environmental agencies assess (GB 3095 air,
 * GB 3838 surface water), and the 2005 edition's codes still sent by older loggers. */
static const hj_code_name HJ_CODE_NAMES[] = {
    {"a34004", "pm25"},
    {"a34002", "pm10"},
    {"a21026", "so2"},
    {"a21004", "no2"},
    {"a21005", "co"},
    {"a05024", "o3"},
    {"w21003", "nh3n"},
    {"w01018", "cod"},
    {"w01019", "codmn"},
    {"w21011", "tp"},
    {"w21001", "tn"},
    {"w01009", "do"},
    {"w01001", "ph"},
    {"w01010", "water_temp"},
    {"w01014", "conductivity"},
    {"w01003", "turbidity"},
    {"011", "cod"},
    {"060", "nh3n"},
    {"101", "tp"},
    {"065", "tn"},
    {"B01", "flow"},
};

const char *hj_metric_for_code(const char *code)
{
    for (size_t i = 0; i < sizeof HJ_CODE_NAMES / sizeof *HJ_CODE_NAMES; i++)
        if (strcmp(HJ_CODE_NAMES[i].code, code) == 0)
            return HJ_CODE_NAMES[i].metric;
    return NULL;
}

/* The UTC milliseconds of a civil DataTime read at utc_offset_ms east of UTC. */
static int hj_datatime_ms(const hj_datetime *t, int64_t utc_offset_ms, int64_t *ms, jl_error *err)
{
    if (t->month < 1 || t->month > 12 || t->day < 1 ||
        t->day > cal_days_in_month(t->year, t->month) || t->hour > 23 || t->minute > 59 ||
        t->second > 59 || t->ms < 0 || t->ms > 999 || t->hour < 0 || t->minute < 0 || t->second < 0)
        return jl_error_set(
            err, JL_EINVAL,
            "CP: DataTime %04d-%02d-%02d %02d:%02d:%02d is not a real date and time", t->year,
            t->month, t->day, t->hour, t->minute, t->second);
    int64_t days = cal_days_from_civil(t->year, (unsigned)t->month, (unsigned)t->day);
    *ms = days * 86400000 + t->hour * 3600000LL + t->minute * 60000LL + t->second * 1000LL + t->ms -
          utc_offset_ms;
    /* The store keeps times the ns-precision line protocol can carry (years 1677 to 2262); said
     * here, so that the listener logs why rather than the store's bare refusal. */
    if (*ms < JL_MIN_MS || *ms > JL_MAX_MS)
        return jl_error_set(err, JL_EINVAL,
                            "CP: DataTime %04d-%02d-%02d is outside the times the store keeps "
                            "(years 1677 to 2262)",
                            t->year, t->month, t->day);
    return JL_OK;
}

/* The stored flag code of a -Flag letter (0: absent). */
static int hj_flag_code(const hj_pollutant *p, uint8_t *code, jl_error *err)
{
    if (p->flag == 0) {
        *code = JL_FLAG_N;
        return JL_OK;
    }
    /* HJ 212-2005's P (power failure) is a fault of the station: its values are not valid. */
    int c = p->flag == 'P' ? JL_FLAG_D : jl_flag_from_letter(p->flag);
    if (c < 0)
        return jl_error_set(err, JL_EINVAL,
                            "CP: %s-Flag: \"%c\" is not an HJ 212 data flag (N F M S D C T B, or "
                            "P from the 2005 edition)",
                            p->code, p->flag);
    *code = (uint8_t)c;
    return JL_OK;
}

/* ---- code overrides ---------------------------------------------------------------------- */

/* Entries sorted by code (bytewise) for bsearch; code and metric point into text. */
typedef struct hj_code_entry {
    const char *code;
    const char *metric;
    long line;
} hj_code_entry;

struct hj_code_table {
    hj_code_entry *entries;
    size_t count;
    char *text; /* every code and metric, NUL-terminated */
};

/* What a CP key's code part can hold: printable ASCII without the separators of CP. */
static int hj_code_valid(const char *s, size_t n)
{
    if (n == 0 || n > HJ_CODE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == ';' || c == ',' || c == '=' || c == '&')
            return 0;
    }
    return 1;
}

static int hj_code_entry_cmp(const void *a, const void *b)
{
    const hj_code_entry *x = a, *y = b;
    int c = strcmp(x->code, y->code);
    if (c != 0)
        return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

void hj_codes_free(hj_code_table *table)
{
    if (table == NULL)
        return;
    free(table->entries);
    free(table->text);
    free(table);
}

size_t hj_split_fields(const char *line, size_t len, const char **field, size_t *flen, size_t max)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i >= len || line[i] == '#')
            break;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t')
            i++;
        if (n < max) {
            field[n] = line + start;
            flen[n] = i - start;
        }
        n++;
        if (n > max)
            break;
    }
    return n;
}

int hj_codes_parse(const char *text, size_t len, hj_code_table **out, jl_error *err)
{
    *out = NULL;
    hj_code_table *t = calloc(1, sizeof *t);
    /* Every code and metric with its NUL fits in len + 2 bytes per line: reserving len * 2 + 1
     * up front keeps the pointers into it stable. */
    if (t == NULL || (t->text = malloc(len * 2 + 1)) == NULL) {
        hj_codes_free(t);
        return jl_error_set(err, JL_ENOMEM, "out of memory reading HJ 212 codes");
    }
    size_t used = 0, cap = 0;
    long line = 0;
    char q[256];
    int rc = JL_OK;
    for (size_t i = 0; i < len && rc == JL_OK;) {
        const char *start = text + i;
        const char *nl = memchr(start, '\n', len - i);
        size_t n = nl ? (size_t)(nl - start) : len - i;
        i += n + 1;
        line++;
        const char *f[3];
        size_t fl[3];
        size_t count = hj_split_fields(start, n, f, fl, 2);
        if (count == 0)
            continue;
        if (count == 1) {
            rc = jl_error_set(err, JL_EINVAL, "line %ld: a code and a metric are needed", line);
        } else if (count > 2) {
            rc = jl_error_set(err, JL_EINVAL, "line %ld: more than a code and a metric", line);
        } else if (!hj_code_valid(f[0], fl[0])) {
            sk_quote(f[0], fl[0], q, sizeof q);
            rc = jl_error_set(err, JL_EINVAL,
                              "line %ld: code \"%s\" is not valid (1 to %d printable ASCII bytes "
                              "without ; , = &)",
                              line, q, HJ_CODE_MAX);
        } else if (fl[1] > HJ_METRIC_MAX) {
            sk_quote(f[1], fl[1], q, sizeof q);
            rc = jl_error_set(err, JL_EINVAL, "line %ld: metric \"%s\" is longer than %d bytes",
                              line, q, HJ_METRIC_MAX);
        } else if (!sk_name_valid(f[1], fl[1])) {
            sk_quote(f[1], fl[1], q, sizeof q);
            rc = jl_error_set(err, JL_EINVAL,
                              "line %ld: metric \"%s\" is not a valid metric name (a letter or "
                              "'_', then letters, digits, '_', '.' and '-')",
                              line, q);
        }
        if (rc != JL_OK)
            break;
        hj_code_entry *grown = jl_array_grow(t->entries, &cap, t->count + 1, sizeof *grown, 16);
        if (grown == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory reading HJ 212 codes");
            break;
        }
        t->entries = grown;
        hj_code_entry *e = &t->entries[t->count++];
        e->code = t->text + used;
        memcpy(t->text + used, f[0], fl[0]);
        used += fl[0];
        t->text[used++] = '\0';
        e->metric = t->text + used;
        memcpy(t->text + used, f[1], fl[1]);
        used += fl[1];
        t->text[used++] = '\0';
        e->line = line;
    }
    if (rc == JL_OK && t->count > 1) {
        /* Sorted by code, then line: the first repeated pair in file order is the one whose
         * later line is smallest. */
        qsort(t->entries, t->count, sizeof *t->entries, hj_code_entry_cmp);
        const hj_code_entry *dup = NULL;
        long first = 0;
        for (size_t k = 1; k < t->count; k++) {
            if (strcmp(t->entries[k - 1].code, t->entries[k].code) != 0)
                continue;
            size_t f0 = k - 1;
            while (f0 > 0 && strcmp(t->entries[f0 - 1].code, t->entries[k].code) == 0)
                f0--;
            if (dup == NULL || t->entries[k].line < dup->line) {
                dup = &t->entries[k];
                first = t->entries[f0].line;
            }
        }
        if (dup != NULL) {
            sk_quote(dup->code, strlen(dup->code), q, sizeof q);
            rc = jl_error_set(err, JL_EINVAL, "line %ld: code %s given twice (first on line %ld)",
                              dup->line, q, first);
            line = dup->line;
        }
    }
    if (rc != JL_OK) {
        if (err != NULL)
            err->line = rc == JL_EINVAL ? line : 0;
        hj_codes_free(t);
        return rc;
    }
    *out = t;
    return JL_OK;
}

/* Reads the whole file at path into *text (malloc'd, NUL-terminated) and *len. The limit keeps a
 * mistaken path (a device, a huge log) from being read whole. */
static int hj_read_small_file(const char *path, const char *what, char **text, size_t *len,
                              jl_error *err)
{
    jl_buf buf;
    int rc = jl_read_file(path, what, (size_t)64 << 20, &buf, err);
    if (rc != JL_OK)
        return rc;
    *text = buf.data;
    *len = buf.len;
    return JL_OK;
}

int hj_codes_load(const char *path, hj_code_table **out, jl_error *err)
{
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = hj_read_small_file(path, "HJ 212 codes", &text, &len, err);
    if (rc != JL_OK)
        return rc;
    rc = hj_codes_parse(text, len, out, err);
    free(text);
    if (rc != JL_OK && err != NULL) {
        /* name the file too: the message is shown at startup */
        char inner[JL_ERROR_MESSAGE_MAX];
        snprintf(inner, sizeof inner, "%s", err->message);
        long line = err->line;
        jl_error_set(err, rc, "%s: %s", path, inner);
        err->line = line;
    }
    return rc;
}

size_t hj_codes_count(const hj_code_table *table)
{
    return table ? table->count : 0;
}

const char *hj_codes_metric(const hj_code_table *table, const char *code)
{
    if (table != NULL && table->count > 0) {
        size_t lo = 0, hi = table->count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(table->entries[mid].code, code);
            if (c == 0)
                return table->entries[mid].metric;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return hj_metric_for_code(code);
}

int hj_codes_metric_name(const hj_code_table *table, const char *code, char *out, size_t cap)
{
    const char *metric = hj_codes_metric(table, code);
    int n = metric ? snprintf(out, cap, "%s", metric) : snprintf(out, cap, "hj212_%s", code);
    if (n < 0 || (size_t)n >= cap) {
        if (cap > 0)
            out[0] = '\0';
        return JL_ELIMIT;
    }
    return JL_OK;
}

/* ---- readings ----------------------------------------------------------------------------- */

/* Adds one reading of metric base + suffix; tags[0..2) are cn and mn, filled here, and
 * tags[2..tag_count) the extra tags. sk_build() sorts the tags (in place, so they are set again
 * for every reading). */
static int hj_add(const hj_segment *seg, const char *base, const char *suffix, int64_t ms,
                  double value, uint8_t flag, const hj_tag *extra, size_t extra_count,
                  st_batch *batch, jl_buf *key, jl_error *err)
{
    char metric[HJ_METRIC_MAX + HJ_CODE_MAX + 16];
    snprintf(metric, sizeof metric, "%s%s", base, suffix);
    sk_tag tags[SK_MAX_TAGS];
    tags[0] = (sk_tag){{"cn", 2}, {seg->cn, strlen(seg->cn)}};
    tags[1] = (sk_tag){{"mn", 2}, {seg->mn, strlen(seg->mn)}};
    for (size_t i = 0; i < extra_count; i++)
        tags[2 + i] = (sk_tag){{extra[i].key, strlen(extra[i].key)},
                               {extra[i].value, strlen(extra[i].value)}};
    key->len = 0;
    jl_error local;
    int rc = sk_build((sk_text){metric, strlen(metric)}, tags, 2 + extra_count, key, &local);
    if (rc != JL_OK)
        return jl_error_set(err, rc, "CP: %s: %s", metric, local.message);
    uint32_t index;
    if (st_batch_series(batch, key->data, key->len, &index) != JL_OK ||
        st_batch_point_flagged(batch, index, ms, value, flag) != JL_OK)
        return jl_error_set(err, JL_ENOMEM, "out of memory adding an HJ 212 reading");
    return JL_OK;
}

int hj_segment_to_batch(const hj_segment *seg, int64_t utc_offset_ms, st_batch *batch,
                        size_t *added, jl_error *err)
{
    return hj_segment_to_batch_tagged(seg, utc_offset_ms, NULL, NULL, 0, batch, added, err);
}

int hj_segment_to_batch_tagged(const hj_segment *seg, int64_t utc_offset_ms,
                               const hj_code_table *codes, const hj_tag *extra_tags,
                               size_t extra_count, st_batch *batch, size_t *added, jl_error *err)
{
    *added = 0;
    int realtime = strcmp(seg->cn, "2011") == 0;
    int interval = strcmp(seg->cn, "2051") == 0 || strcmp(seg->cn, "2061") == 0 ||
                   strcmp(seg->cn, "2031") == 0;
    if (!realtime && !interval)
        return JL_OK;
    if (extra_count > SK_MAX_TAGS - 2)
        return jl_error_set(err, JL_EINVAL, "%zu extra tags; at most %d fit beside mn and cn",
                            extra_count, SK_MAX_TAGS - 2);
    /* Refused here once rather than as a duplicate key in every reading's message. */
    for (size_t i = 0; i < extra_count; i++)
        if (strcmp(extra_tags[i].key, "mn") == 0 || strcmp(extra_tags[i].key, "cn") == 0)
            return jl_error_set(err, JL_EINVAL,
                                "extra tag %s: mn and cn come from the packet itself",
                                extra_tags[i].key);
    if (!seg->has_datatime)
        return jl_error_set(err, JL_EINVAL, "CP: CN %s data without DataTime", seg->cn);
    int64_t ms = 0;
    int rc = hj_datatime_ms(&seg->datatime, utc_offset_ms, &ms, err);
    if (rc != JL_OK)
        return rc;
    jl_buf key;
    jl_buf_init(&key);
    for (size_t i = 0; rc == JL_OK && i < seg->pollutant_count; i++) {
        const hj_pollutant *p = &seg->pollutants[i];
        uint8_t flag = JL_FLAG_N;
        rc = hj_flag_code(p, &flag, err);
        if (rc != JL_OK)
            break;
        char metric[HJ_METRIC_MAX + HJ_CODE_MAX + 8];
        if (hj_codes_metric_name(codes, p->code, metric, sizeof metric) != JL_OK) {
            rc = jl_error_set(err, JL_EINVAL, "CP: %s: no metric name fits", p->code);
            break;
        }
        size_t before = st_batch_point_count(batch);
        if (realtime && (p->have & HJ_HAVE_RTD))
            rc = hj_add(seg, metric, "", ms, p->rtd, flag, extra_tags, extra_count, batch, &key,
                        err);
        if (interval && rc == JL_OK && (p->have & HJ_HAVE_AVG))
            rc = hj_add(seg, metric, "", ms, p->avg, flag, extra_tags, extra_count, batch, &key,
                        err);
        if (interval && rc == JL_OK && (p->have & HJ_HAVE_MIN))
            rc = hj_add(seg, metric, "_min", ms, p->min, flag, extra_tags, extra_count, batch, &key,
                        err);
        if (interval && rc == JL_OK && (p->have & HJ_HAVE_MAX))
            rc = hj_add(seg, metric, "_max", ms, p->max, flag, extra_tags, extra_count, batch, &key,
                        err);
        if (interval && rc == JL_OK && (p->have & HJ_HAVE_COU))
            rc = hj_add(seg, metric, "_cou", ms, p->cou, flag, extra_tags, extra_count, batch, &key,
                        err);
        *added += st_batch_point_count(batch) - before;
    }
    jl_buf_destroy(&key);
    return rc;
}
