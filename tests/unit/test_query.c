/* Tests for query/engine.c and query/aggregate.c against a real store in a temporary directory:
 * known readings (several sealed chunks per series, since chunk_target is 16, plus tails) are
 * written, then every query kind is checked row by row against a brute-force computation over
 * the same readings kept in the test. */
#include "check.h"
#include "jialing/query.h"
#include "tempdir.h"

#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#define T0 1735693200000LL /* 2025-01-01T01:00:00Z */
#define MINUTE 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define MAX_READINGS 512

/* ---- reference data ---- */

typedef struct ref_series {
    const char *metric;
    const char *tag_keys[2];
    const char *tag_values[2];
    size_t tag_count;
    int64_t ts[MAX_READINGS]; /* sorted, unique: what the store must hold */
    double vs[MAX_READINGS];
    size_t n;
    int decimal; /* values have one decimal: sums compared with a tolerance */
} ref_series;

/* Written in this order, so ids ascend in this order. */
static ref_series ref_a = {"pm25", {"district", "station"}, {"d1", "s1"}, 2, {0}, {0}, 0, 0};
static ref_series ref_b = {"pm25", {"district", "station"}, {"d1", "s2"}, 2, {0}, {0}, 0, 1};
static ref_series ref_c = {"pm10", {"station"}, {"s1"}, 1, {0}, {0}, 0, 0};
static ref_series ref_d = {"pm25", {"district", "station"}, {"d2", "s3"}, 2, {0}, {0}, 0, 0};
static ref_series ref_e = {"nh3n", {"station"}, {"r1"}, 1, {0}, {0}, 0, 0};
static ref_series ref_f = {"cod", {"station"}, {"c1"}, 1, {0}, {0}, 0, 0};

static st_store *store;
static char store_dir[64];

/* Inserts or replaces (last write wins) a reading in the reference. */
static void ref_put(ref_series *s, int64_t t, double v)
{
    size_t i = 0;
    while (i < s->n && s->ts[i] < t)
        i++;
    if (i < s->n && s->ts[i] == t) {
        s->vs[i] = v;
        return;
    }
    memmove(s->ts + i + 1, s->ts + i, (s->n - i) * sizeof s->ts[0]);
    memmove(s->vs + i + 1, s->vs + i, (s->n - i) * sizeof s->vs[0]);
    s->ts[i] = t;
    s->vs[i] = v;
    s->n++;
}

/* Writes readings of one series in batches of batch_size, and records them in the reference. */
static int write_readings(ref_series *s, const int64_t *ts, const double *vs, size_t n,
                          size_t batch_size)
{
    sk_tag tags[2];
    jl_buf key;
    jl_error err;
    st_batch batch;
    int rc;
    jl_buf_init(&key);
    st_batch_init(&batch);
    for (size_t i = 0; i < s->tag_count; i++) {
        tags[i].key = (sk_text){s->tag_keys[i], strlen(s->tag_keys[i])};
        tags[i].value = (sk_text){s->tag_values[i], strlen(s->tag_values[i])};
    }
    rc = sk_build((sk_text){s->metric, strlen(s->metric)}, tags, s->tag_count, &key, &err);
    for (size_t start = 0; rc == JL_OK && start < n; start += batch_size) {
        uint32_t index;
        st_batch_reset(&batch);
        rc = st_batch_series(&batch, key.data, key.len, &index);
        for (size_t i = start; rc == JL_OK && i < n && i < start + batch_size; i++)
            rc = st_batch_point(&batch, index, ts[i], vs[i]);
        if (rc == JL_OK)
            rc = st_write(store, &batch, &err);
    }
    if (rc != JL_OK)
        fprintf(stderr, "write failed: %s: %s\n", jl_strerror(rc), err.message);
    for (size_t i = 0; rc == JL_OK && i < n; i++)
        ref_put(s, ts[i], vs[i]);
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    return rc;
}

static int write_fixture(void)
{
    static int64_t ts[MAX_READINGS];
    static double vs[MAX_READINGS];
    size_t n = 0;
    /* A: 01:00Z to 04:59Z at 60 s, a 30-minute outage; multiples of 0.5 (sums are exact). */
    for (int i = 0; i < 240; i++) {
        if (i >= 100 && i < 130)
            continue;
        ts[n] = T0 + i * MINUTE;
        vs[n] = (double)((i * 37) % 101) * 0.5 - 10.0;
        n++;
    }
    if (write_readings(&ref_a, ts, vs, n, 20) != JL_OK)
        return -1;
    /* B: one-decimal values, offset by 30 s. */
    n = 0;
    for (int i = 0; i < 50; i++, n++) {
        ts[n] = T0 + 30000 + i * MINUTE;
        vs[n] = (double)((i * 13) % 97 + 1) / 10.0;
    }
    if (write_readings(&ref_b, ts, vs, n, 7) != JL_OK)
        return -1;
    n = 0;
    for (int i = 0; i < 5; i++, n++) {
        ts[n] = T0 + i * HOUR;
        vs[n] = 100.0 + i;
    }
    if (write_readings(&ref_c, ts, vs, n, 5) != JL_OK)
        return -1;
    /* D: 40 readings, then a late reading into the sealed span and an overwrite (last write
     * wins), then a re-sent duplicate batch. */
    n = 0;
    for (int i = 0; i < 40; i++, n++) {
        ts[n] = T0 + i * 2 * MINUTE;
        vs[n] = (double)i;
    }
    if (write_readings(&ref_d, ts, vs, n, 40) != JL_OK)
        return -1;
    ts[0] = T0 + 5 * MINUTE; /* between two sealed readings */
    vs[0] = 1000.0;
    ts[1] = T0 + 6 * MINUTE; /* overwrites 3.0 */
    vs[1] = -3.0;
    if (write_readings(&ref_d, ts, vs, 2, 2) != JL_OK)
        return -1;
    if (write_readings(&ref_d, ts, vs, 2, 2) != JL_OK)
        return -1;
    /* E: a ramp 0, 0.25, ... for threshold scans that skip chunks. */
    n = 0;
    for (int i = 0; i < 170; i++, n++) {
        ts[n] = T0 + i * MINUTE;
        vs[n] = i * 0.25;
    }
    if (write_readings(&ref_e, ts, vs, n, 16) != JL_OK)
        return -1;
    /* F: 1e16, ten 1.0, -1e16 (unsealed): a plain running sum gives 0, the exact sum is 10. */
    n = 0;
    for (int i = 0; i < 12; i++, n++) {
        ts[n] = T0 + i * MINUTE;
        vs[n] = i == 0 ? 1e16 : i == 11 ? -1e16 : 1.0;
    }
    if (write_readings(&ref_f, ts, vs, n, 12) != JL_OK)
        return -1;
    return 0;
}

/* ---- recording sink ---- */

#define REC_MAX_SERIES 16

typedef struct rec_series {
    char metric[64];
    char tags[256];    /* k=v;k=v */
    char columns[256]; /* c1,c2 */
    size_t column_count;
    qx_cell *cells;
    size_t row_count;
    size_t row_capacity;
} rec_series;

typedef struct recorder {
    rec_series series[REC_MAX_SERIES];
    size_t series_count;
    int in_series;
    int protocol_errors; /* calls out of order or with wrong sizes */
    size_t fail_at_row;  /* 1-based row whose callback fails with JL_ENOMEM; 0 never */
    int stall_ms;        /* the first row's callback sleeps this long */
    size_t total_rows;
} recorder;

static int rec_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                     const char *const *columns, size_t column_count)
{
    recorder *r = context;
    if (r->in_series || r->series_count == REC_MAX_SERIES) {
        r->protocol_errors++;
        return JL_EINVAL;
    }
    rec_series *s = &r->series[r->series_count++];
    memset(s, 0, sizeof *s);
    snprintf(s->metric, sizeof s->metric, "%.*s", (int)metric.len, metric.data);
    for (size_t i = 0; i < tag_count; i++) {
        size_t used = strlen(s->tags);
        snprintf(s->tags + used, sizeof s->tags - used, "%s%.*s=%.*s", i ? ";" : "",
                 (int)tags[i].key.len, tags[i].key.data, (int)tags[i].value.len,
                 tags[i].value.data);
    }
    for (size_t i = 0; i < column_count; i++) {
        size_t used = strlen(s->columns);
        snprintf(s->columns + used, sizeof s->columns - used, "%s%s", i ? "," : "", columns[i]);
    }
    s->column_count = column_count;
    r->in_series = 1;
    return JL_OK;
}

static int rec_row(void *context, const qx_cell *cells, size_t cell_count)
{
    recorder *r = context;
    if (!r->in_series || cell_count != r->series[r->series_count - 1].column_count) {
        r->protocol_errors++;
        return JL_EINVAL;
    }
    if (r->fail_at_row && ++r->total_rows == r->fail_at_row)
        return JL_ENOMEM;
    if (r->stall_ms > 0) {
        usleep((useconds_t)r->stall_ms * 1000);
        r->stall_ms = 0;
    }
    rec_series *s = &r->series[r->series_count - 1];
    if (s->row_count == s->row_capacity) {
        size_t capacity = s->row_capacity ? s->row_capacity * 2 : 64;
        qx_cell *grown = realloc(s->cells, capacity * cell_count * sizeof *grown);
        if (grown == NULL)
            return JL_ENOMEM;
        s->cells = grown;
        s->row_capacity = capacity;
    }
    memcpy(s->cells + s->row_count * cell_count, cells, cell_count * sizeof *cells);
    s->row_count++;
    return JL_OK;
}

static int rec_end(void *context)
{
    recorder *r = context;
    if (!r->in_series)
        r->protocol_errors++;
    r->in_series = 0;
    return JL_OK;
}

static qx_sink rec_sink(recorder *r)
{
    memset(r, 0, sizeof *r);
    return (qx_sink){r, rec_begin, rec_row, rec_end};
}

static void rec_free(recorder *r)
{
    for (size_t i = 0; i < r->series_count; i++)
        free(r->series[i].cells);
    r->series_count = 0;
}

static const qx_cell *rec_cell(const recorder *r, size_t series, size_t row, size_t column)
{
    const rec_series *s = &r->series[series];
    return &s->cells[row * s->column_count + column];
}

/* Builds a selector without the selector parser: metric and up to two tag conditions. */
static qp_selector selector(const char *metric, const char *key, const char *value, int negate)
{
    qp_selector sel;
    memset(&sel, 0, sizeof sel);
    sel.metric = (char *)metric;
    if (key != NULL) {
        sel.matchers[0] = (qp_matcher){(char *)key, (char *)value, negate};
        sel.matcher_count = 1;
    }
    return sel;
}

static qp_selector select_ref(const ref_series *s)
{
    qp_selector sel = selector(s->metric, s->tag_keys[0], s->tag_values[0], 0);
    if (s->tag_count > 1) {
        sel.matchers[1] = (qp_matcher){(char *)s->tag_keys[1], (char *)s->tag_values[1], 0};
        sel.matcher_count = 2;
    }
    return sel;
}

static void ref_tags(const ref_series *s, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < s->tag_count; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s=%s", i ? ";" : "", s->tag_keys[i],
                 s->tag_values[i]);
    }
}

/* A sealed chunk as the store reports it. */
typedef struct chunk_span {
    int64_t first, last;
    uint32_t count;
    double min, max;
} chunk_span;

#define MAX_CHUNKS 64

/* Lists the sealed (undecoded) chunks of a series and counts its tail readings, through the
 * store API; the expected optimisation figures are derived from these spans. */
static size_t list_chunks(const ref_series *s, chunk_span *spans, size_t *tail_readings)
{
    qp_selector sel = select_ref(s);
    st_matcher matchers[3] = {{"__name__", sel.metric, 0}};
    for (size_t i = 0; i < sel.matcher_count; i++)
        matchers[i + 1] = (st_matcher){sel.matchers[i].key, sel.matchers[i].value, 0};
    uint64_t *ids = NULL;
    size_t count = 0, sealed = 0;
    st_snapshot *snap = NULL;
    st_cursor *cursor = NULL;
    st_block block;
    jl_error err;
    *tail_readings = 0;
    CHECK_INT(st_select(store, matchers, sel.matcher_count + 1, 100, &ids, &count, &err), JL_OK);
    CHECK_INT(count, 1);
    if (count != 1)
        goto out;
    CHECK_INT(st_snapshot_open(store, ids, 1, &snap, &err), JL_OK);
    CHECK_INT(st_cursor_open(snap, 0, JL_MIN_MS, JL_MAX_MS, &cursor, &err), JL_OK);
    while (cursor && st_cursor_next(cursor, &block, &err) == JL_OK) {
        if (block.decoded) {
            *tail_readings += block.count;
        } else if (sealed < MAX_CHUNKS) {
            spans[sealed++] =
                (chunk_span){block.summary.first_ms, block.summary.last_ms, block.summary.count,
                             block.summary.min, block.summary.max};
        }
    }
out:
    st_cursor_close(cursor);
    st_snapshot_close(snap);
    free(ids);
    return sealed;
}

static int64_t ref_window_start(int64_t t, int64_t w, int64_t offset);

/* What a windowed query should report: a chunk overlapping the range is answered by its summary
 * when it lies inside the range and inside one window, else decoded. */
static qx_query_stats expected_window_stats(const ref_series *s, int64_t from, int64_t to,
                                            int64_t w, int64_t offset)
{
    static chunk_span spans[MAX_CHUNKS];
    size_t tail;
    size_t n = list_chunks(s, spans, &tail);
    qx_query_stats e = {0};
    for (size_t i = 0; i < n; i++) {
        if (spans[i].last < from || spans[i].first >= to)
            continue;
        if (spans[i].first >= from && spans[i].last < to &&
            ref_window_start(spans[i].first, w, offset) ==
                ref_window_start(spans[i].last, w, offset)) {
            e.chunks_from_summary++;
        } else {
            e.chunks_decoded++;
            e.readings_decoded += spans[i].count;
        }
    }
    return e;
}

static void check_stats(const qx_query_stats *got, const qx_query_stats *expected)
{
    CHECK_INT(got->chunks_from_summary, expected->chunks_from_summary);
    CHECK_INT(got->chunks_decoded, expected->chunks_decoded);
    CHECK_INT(got->readings_decoded, expected->readings_decoded);
}

/* ---- brute-force references ---- */

static int64_t ref_window_start(int64_t t, int64_t w, int64_t offset)
{
    /* The distance from the window start is ((t + offset) mod w), taken non-negative; whole
     * weeks start on local Mondays, 3 days after the epoch's Thursday. */
    const int64_t day = 86400000;
    if (w % (7 * day) == 0)
        offset += 3 * day;
    int64_t into = (t + offset) % w;
    if (into < 0)
        into += w;
    return t - into;
}

typedef struct ref_window {
    int64_t start;
    int64_t count;
    long double sum;
    double min, max, first, last;
} ref_window;

/* Fills windows of s over [from, to) in time order; returns how many. */
static size_t ref_windows(const ref_series *s, int64_t from, int64_t to, int64_t w, int64_t offset,
                          ref_window *out)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->ts[i] < from || s->ts[i] >= to)
            continue;
        int64_t start = ref_window_start(s->ts[i], w, offset);
        if (n == 0 || out[n - 1].start != start) {
            out[n] = (ref_window){start, 0, 0, s->vs[i], s->vs[i], s->vs[i], s->vs[i]};
            n++;
        }
        ref_window *win = &out[n - 1];
        win->count++;
        win->sum += s->vs[i];
        if (s->vs[i] < win->min)
            win->min = s->vs[i];
        if (s->vs[i] > win->max)
            win->max = s->vs[i];
        win->last = s->vs[i];
    }
    return n;
}

static const qx_aggregate all_aggs[] = {QX_AGG_COUNT, QX_AGG_SUM,   QX_AGG_MEAN, QX_AGG_MIN,
                                        QX_AGG_MAX,   QX_AGG_FIRST, QX_AGG_LAST};
#define ALL_AGGS (sizeof all_aggs / sizeof all_aggs[0])

/* A windowed query of the given aggregates over [from, to), windows of w ms offset by offset. */
static qx_query_request window_request(const qp_selector *sel, int64_t from, int64_t to, int64_t w,
                                       int64_t offset, const qx_aggregate *aggs, size_t agg_count,
                                       qx_query_stats *stats)
{
    qx_query_request req = {.selector = sel,
                            .from_ms = from,
                            .to_ms = to,
                            .has_window = 1,
                            .window = {w, 0},
                            .offset_ms = offset,
                            .aggregate_count = agg_count,
                            .stats = stats};
    memcpy(req.aggregates, aggs, agg_count * sizeof *aggs);
    return req;
}

/* Runs a windowed query of all aggregates over one series and compares with the reference. */
static void check_windows(const ref_series *s, int64_t from, int64_t to, int64_t w, int64_t offset,
                          qx_query_stats *stats)
{
    static ref_window expected[MAX_READINGS];
    qp_selector sel = select_ref(s);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = window_request(&sel, from, to, w, offset, all_aggs, ALL_AGGS, stats);
    jl_error err;
    int rc = qx_query(store, &req, &sink, &err);
    CHECK_INT(rc, JL_OK);
    if (rc != JL_OK)
        fprintf(stderr, "  query: %s\n", err.message);
    size_t n = ref_windows(s, from, to, w, offset, expected);
    if (stats != NULL) {
        qx_query_stats e = expected_window_stats(s, from, to, w, offset);
        check_stats(stats, &e);
    }
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, n ? 1 : 0);
    if (r.series_count != 1 || n == 0)
        goto out;
    CHECK_STR(r.series[0].columns, "time,count,sum,mean,min,max,first,last");
    CHECK_INT(r.series[0].row_count, n);
    if (r.series[0].row_count != n) {
        fprintf(stderr, "  window %" PRId64 " offset %" PRId64 " from %" PRId64 " to %" PRId64 "\n",
                w, offset, from, to);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const ref_window *e = &expected[i];
        double sum = (double)e->sum;
        double mean = (double)e->sum / (double)e->count;
        CHECK_INT(rec_cell(&r, 0, i, 0)->type, QX_CELL_INT);
        CHECK_INT(rec_cell(&r, 0, i, 0)->as.i, e->start);
        CHECK_INT(rec_cell(&r, 0, i, 1)->type, QX_CELL_INT);
        CHECK_INT(rec_cell(&r, 0, i, 1)->as.i, e->count);
        for (size_t c = 2; c < 8; c++)
            CHECK_INT(rec_cell(&r, 0, i, c)->type, QX_CELL_DOUBLE);
        if (s->decimal) {
            CHECK_NEAR(rec_cell(&r, 0, i, 2)->as.d, sum, 1e-9);
            CHECK_NEAR(rec_cell(&r, 0, i, 3)->as.d, mean, 1e-11);
        } else {
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 2)->as.d, sum);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 3)->as.d, mean);
        }
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 4)->as.d, e->min);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 5)->as.d, e->max);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 6)->as.d, e->first);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 7)->as.d, e->last);
    }
out:
    rec_free(&r);
}

/* Raw query of one series compared with the reference. */
static void check_raw(const ref_series *s, int64_t from, int64_t to)
{
    qp_selector sel = select_ref(s);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &sel, .from_ms = from, .to_ms = to};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->ts[i] >= from && s->ts[i] < to;
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, n ? 1 : 0);
    if (r.series_count == 1) {
        CHECK_STR(r.series[0].columns, "time,value");
        CHECK_INT(r.series[0].row_count, n);
        size_t row = 0;
        for (size_t i = 0; i < s->n && row < r.series[0].row_count; i++) {
            if (s->ts[i] < from || s->ts[i] >= to)
                continue;
            CHECK_INT(rec_cell(&r, 0, row, 0)->type, QX_CELL_INT);
            CHECK_INT(rec_cell(&r, 0, row, 0)->as.i, s->ts[i]);
            CHECK_INT(rec_cell(&r, 0, row, 1)->type, QX_CELL_DOUBLE);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 1)->as.d, s->vs[i]);
            row++;
        }
    }
    rec_free(&r);
}

static int ref_match(qx_compare op, double v, double threshold)
{
    switch (op) {
    case QX_GT:
        return v > threshold;
    case QX_GE:
        return v >= threshold;
    case QX_LT:
        return v < threshold;
    case QX_LE:
        return v <= threshold;
    }
    return 0;
}

/* What a scan should report: chunks overlapping the range that cannot match are skipped by
 * summary; for count, chunks inside the range that match entirely are counted by summary. */
static qx_query_stats expected_scan_stats(const ref_series *s, int64_t from, int64_t to,
                                          qx_compare op, double threshold, int count_only)
{
    static chunk_span spans[MAX_CHUNKS];
    size_t tail;
    size_t n = list_chunks(s, spans, &tail);
    qx_query_stats e = {0};
    for (size_t i = 0; i < n; i++) {
        if (spans[i].last < from || spans[i].first >= to)
            continue;
        int min_ok = ref_match(op, spans[i].min, threshold);
        int max_ok = ref_match(op, spans[i].max, threshold);
        int inside = spans[i].first >= from && spans[i].last < to;
        if ((!min_ok && !max_ok) || (count_only && min_ok && max_ok && inside)) {
            e.chunks_from_summary++;
        } else {
            e.chunks_decoded++;
            e.readings_decoded += spans[i].count;
        }
    }
    return e;
}

/* Scan of one series, points and count, compared with the reference (stats too). */
static void check_scan(const ref_series *s, int64_t from, int64_t to, qx_compare op,
                       double threshold, qx_query_stats *points_stats, qx_query_stats *count_stats)
{
    qp_selector sel = select_ref(s);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_scan_request req = {.selector = &sel,
                           .from_ms = from,
                           .to_ms = to,
                           .compare = op,
                           .threshold = threshold,
                           .output = QX_SCAN_POINTS,
                           .stats = points_stats};
    jl_error err;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += s->ts[i] >= from && s->ts[i] < to && ref_match(op, s->vs[i], threshold);

    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    qx_query_stats e = expected_scan_stats(s, from, to, op, threshold, 0);
    check_stats(points_stats, &e);
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, n ? 1 : 0);
    if (r.series_count == 1) {
        CHECK_STR(r.series[0].columns, "time,value");
        CHECK_INT(r.series[0].row_count, n);
        size_t row = 0;
        for (size_t i = 0; i < s->n && row < r.series[0].row_count; i++) {
            if (s->ts[i] < from || s->ts[i] >= to || !ref_match(op, s->vs[i], threshold))
                continue;
            CHECK_INT(rec_cell(&r, 0, row, 0)->as.i, s->ts[i]);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 1)->as.d, s->vs[i]);
            row++;
        }
    }
    rec_free(&r);

    sink = rec_sink(&r);
    req.output = QX_SCAN_COUNT;
    req.stats = count_stats;
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    e = expected_scan_stats(s, from, to, op, threshold, 1);
    check_stats(count_stats, &e);
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1) {
        CHECK_STR(r.series[0].columns, "count");
        CHECK_INT(r.series[0].row_count, 1);
        if (r.series[0].row_count == 1) {
            CHECK_INT(rec_cell(&r, 0, 0, 0)->type, QX_CELL_INT);
            CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, n);
        }
    }
    rec_free(&r);
}

/* ---- tests ---- */

static void test_fixture_has_chunks_and_tails(void)
{
    static chunk_span spans[MAX_CHUNKS];
    const ref_series *all[] = {&ref_a, &ref_b, &ref_c, &ref_d, &ref_e, &ref_f};
    for (size_t i = 0; i < 6; i++) {
        size_t tail, sealed = list_chunks(all[i], spans, &tail), in_chunks = 0;
        for (size_t c = 0; c < sealed; c++)
            in_chunks += spans[c].count;
        char tags[128];
        ref_tags(all[i], tags, sizeof tags);
        printf("  %s{%s}: %zu readings, %zu sealed chunks, %zu tail readings\n", all[i]->metric,
               tags, all[i]->n, sealed, tail);
        CHECK_INT(in_chunks + tail, all[i]->n);
    }
    size_t tail;
    CHECK_INT(ref_a.n, 210);
    CHECK(list_chunks(&ref_a, spans, &tail) >= 8);
    CHECK(tail > 0);
    CHECK(list_chunks(&ref_e, spans, &tail) >= 5);
    CHECK(tail > 0);
}

static void test_parse_aggregates(void)
{
    qx_aggregate aggs[QX_MAX_AGGREGATES];
    double ps[QX_MAX_AGGREGATES];
    size_t n = 99;
    jl_error err;
    CHECK_INT(qx_parse_aggregates("mean,max", aggs, ps, &n, &err), JL_OK);
    CHECK_INT(n, 2);
    CHECK_INT(aggs[0], QX_AGG_MEAN);
    CHECK_INT(aggs[1], QX_AGG_MAX);
    CHECK_INT(qx_parse_aggregates("count,sum,mean,min,max,first,last,count", aggs, ps, &n, &err),
              JL_OK);
    CHECK_INT(n, 8);
    CHECK_INT(aggs[6], QX_AGG_LAST);
    CHECK_INT(aggs[7], QX_AGG_COUNT);
    CHECK_INT(qx_parse_aggregates("mean,foo", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_STR(err.message, "unknown aggregate \"foo\"; known: count, sum, mean, min, max, first, "
                           "last, stddev, spread, twa, p<NN> (NN from 0 to 100, e.g. p95 or "
                           "p99.9)");
    CHECK_INT(n, 0);
    CHECK_INT(qx_parse_aggregates("", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_INT(qx_parse_aggregates("mean,", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_INT(qx_parse_aggregates(",mean", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_INT(qx_parse_aggregates("MEAN", aggs, ps, &n, &err), JL_EINVAL);
    CHECK_INT(qx_parse_aggregates(
                  "count,count,count,count,count,count,count,count,count,count,count,count,count,"
                  "count,count,count,count",
                  aggs, ps, &n, &err),
              JL_EINVAL);
    CHECK_STR(qx_aggregate_name(QX_AGG_COUNT), "count");
    CHECK_STR(qx_aggregate_name(QX_AGG_LAST), "last");
    CHECK_STR(qx_aggregate_name((qx_aggregate)99), "?");
}

static void test_parse_compare(void)
{
    qx_compare op = QX_LE;
    jl_error err;
    CHECK_INT(qx_parse_compare("gt", &op, &err), JL_OK);
    CHECK_INT(op, QX_GT);
    CHECK_INT(qx_parse_compare("ge", &op, &err), JL_OK);
    CHECK_INT(op, QX_GE);
    CHECK_INT(qx_parse_compare("lt", &op, &err), JL_OK);
    CHECK_INT(op, QX_LT);
    CHECK_INT(qx_parse_compare("le", &op, &err), JL_OK);
    CHECK_INT(op, QX_LE);
    CHECK_INT(qx_parse_compare("eq", &op, &err), JL_EINVAL);
    CHECK(strstr(err.message, "\"eq\"") != NULL);
    CHECK_INT(qx_parse_compare("", &op, &err), JL_EINVAL);
}

static void test_raw(void)
{
    check_raw(&ref_a, T0, T0 + 5 * HOUR);                      /* everything */
    check_raw(&ref_a, T0 + 7 * MINUTE + 1, T0 + 203 * MINUTE); /* cuts chunks at both ends */
    check_raw(&ref_a, T0 + 10 * MINUTE, T0 + 10 * MINUTE + 1); /* one reading */
    check_raw(&ref_a, T0 + 101 * MINUTE, T0 + 129 * MINUTE);   /* inside the outage */
    check_raw(&ref_a, T0 + 230 * MINUTE, T0 + 300 * MINUTE);   /* the tail */
    check_raw(&ref_b, JL_MIN_MS, JL_MAX_MS);
    check_raw(&ref_d, T0, T0 + 2 * HOUR); /* late reading and overwrite included */
    CHECK_INT(ref_d.n, 41);

    /* Several series: ascending id order, metric and tags handed over, empty series omitted. */
    qp_selector sel = selector("pm25", NULL, NULL, 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &sel, .from_ms = T0, .to_ms = T0 + 60 * MINUTE};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, 3);
    if (r.series_count == 3) {
        CHECK_STR(r.series[0].metric, "pm25");
        CHECK_STR(r.series[0].tags, "district=d1;station=s1");
        CHECK_INT(r.series[0].row_count, 60);
        CHECK_STR(r.series[1].tags, "district=d1;station=s2");
        CHECK_INT(r.series[1].row_count, 50);
        CHECK_STR(r.series[2].tags, "district=d2;station=s3");
        CHECK_INT(r.series[2].row_count, 31); /* every 2 min, plus the late one at 5 min */
    }
    rec_free(&r);

    /* A range with no readings of pm10 between its hourly readings: no series at all. */
    sel = selector("pm10", NULL, NULL, 0);
    sink = rec_sink(&r);
    req = (qx_query_request){.selector = &sel, .from_ms = T0 + 1, .to_ms = T0 + HOUR};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 0);
    rec_free(&r);
}

static void test_selectors(void)
{
    static const struct {
        const char *metric, *key, *value;
        int negate;
        const char *expected; /* tags of the series, | separated */
    } cases[] = {
        {"pm25", NULL, NULL, 0,
         "district=d1;station=s1|district=d1;station=s2|"
         "district=d2;station=s3"},
        {"pm25", "district", "d1", 0, "district=d1;station=s1|district=d1;station=s2"},
        {"pm25", "station", "s1", 1, "district=d1;station=s2|district=d2;station=s3"},
        {"pm25", "district", "d1", 1, "district=d2;station=s3"},
        {"pm10", "station", "s1", 0, "station=s1"},
        {"pm25", "station", "nowhere", 0, ""},
        {"so2", NULL, NULL, 0, ""},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        qp_selector sel = selector(cases[c].metric, cases[c].key, cases[c].value, cases[c].negate);
        recorder r;
        qx_sink sink = rec_sink(&r);
        char got[512] = "";
        jl_error err;
        CHECK_INT(qx_series(store, &sel, NULL, &sink, &err), JL_OK);
        for (size_t i = 0; i < r.series_count; i++) {
            size_t used = strlen(got);
            snprintf(got + used, sizeof got - used, "%s%s", i ? "|" : "", r.series[i].tags);
        }
        CHECK_STR(got, cases[c].expected);
        rec_free(&r);
    }
}

static void test_windows_exact(void)
{
    static const int64_t widths[] = {MINUTE, 10 * MINUTE, 7000, HOUR, DAY, 7 * DAY};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        check_windows(&ref_a, T0, T0 + 5 * HOUR, widths[i], 0, NULL);
        check_windows(&ref_a, T0 + 3 * MINUTE + 17, T0 + 211 * MINUTE, widths[i], 0, NULL);
        check_windows(&ref_b, T0, T0 + 5 * HOUR, widths[i], 0, NULL);
        check_windows(&ref_d, T0, T0 + 5 * HOUR, widths[i], 0, NULL);
        check_windows(&ref_e, T0, T0 + 5 * HOUR, widths[i], 0, NULL);
    }

    /* 10-minute windows: the outage (minutes 100..129) leaves windows out (fill=none). */
    check_windows(&ref_a, T0, T0 + 5 * HOUR, 10 * MINUTE, 0, NULL);
    ref_window w[64];
    size_t n = ref_windows(&ref_a, T0, T0 + 5 * HOUR, 10 * MINUTE, 0, w);
    CHECK_INT(n, 21); /* 24 windows less 3 empty ones */
    CHECK_INT(w[10].start, T0 + 130 * MINUTE);

    /* The first window starts before from; it reports its start and counts readings >= from. */
    n = ref_windows(&ref_a, T0 + 5 * MINUTE + 1, T0 + 5 * HOUR, HOUR, 0, w);
    CHECK_INT(w[0].start, T0);
    CHECK_INT(w[0].count, 54);
    check_windows(&ref_a, T0 + 5 * MINUTE + 1, T0 + 5 * HOUR, HOUR, 0, NULL);
}

static void test_windows_offset(void)
{
    static chunk_span spans[MAX_CHUNKS];
    size_t tail, sealed = list_chunks(&ref_a, spans, &tail);
    qx_query_stats stats;
    ref_window w[8];

    /* tz +08:00, 1d: the window starts at local midnight, 16:00Z the day before. The whole
     * series lies in one local day: every sealed chunk is taken from its summary. */
    check_windows(&ref_a, T0 - DAY, T0 + DAY, DAY, 8 * HOUR, &stats);
    CHECK_INT(ref_windows(&ref_a, T0 - DAY, T0 + DAY, DAY, 8 * HOUR, w), 1);
    CHECK_INT(w[0].start, 1735660800000LL); /* 2024-12-31T16:00:00Z */
    CHECK_INT(stats.chunks_decoded, 0);
    CHECK_INT(stats.readings_decoded, 0);
    CHECK_INT(stats.chunks_from_summary, sealed);

    /* tz -02:00: local midnight at 02:00Z splits the series in two windows. */
    check_windows(&ref_a, T0 - DAY, T0 + DAY, DAY, -2 * HOUR, &stats);
    CHECK_INT(ref_windows(&ref_a, T0 - DAY, T0 + DAY, DAY, -2 * HOUR, w), 2);
    CHECK_INT(w[0].start, T0 - DAY + HOUR);
    CHECK_INT(w[1].start, T0 + HOUR);
    CHECK(stats.chunks_decoded <= 1);
    CHECK(stats.chunks_from_summary >= sealed - 1);

    /* tz +05:30 with hourly windows: windows start at hh:30Z. */
    check_windows(&ref_a, T0, T0 + 5 * HOUR, HOUR, 5 * HOUR + 30 * MINUTE, &stats);
    CHECK(ref_windows(&ref_a, T0, T0 + 5 * HOUR, HOUR, 5 * HOUR + 30 * MINUTE, w) > 0);
    CHECK_INT(w[0].start, T0 - 30 * MINUTE);
    check_windows(&ref_b, T0, T0 + 5 * HOUR, HOUR, -5 * HOUR - 30 * MINUTE, &stats);
    check_windows(&ref_e, T0, T0 + 5 * HOUR, 3 * HOUR, 5 * HOUR + 45 * MINUTE, &stats);
}

static void test_windows_from_summaries(void)
{
    static chunk_span spans[MAX_CHUNKS];
    size_t tail, sealed = list_chunks(&ref_a, spans, &tail);
    qx_query_stats stats;

    /* Hourly windows: chunks within one hour are not decoded, those across an hour are; the
     * figures are checked against the chunk spans inside check_windows. */
    check_windows(&ref_a, T0, T0 + 5 * HOUR, HOUR, 0, &stats);
    printf("  hourly: %" PRIu64 " chunks from summaries, %" PRIu64 " decoded of %zu\n",
           stats.chunks_from_summary, stats.chunks_decoded, sealed);
    CHECK(stats.chunks_from_summary > 0);
    CHECK_INT(stats.chunks_from_summary + stats.chunks_decoded, sealed);

    /* One window over everything, but a range that cuts the first chunk: only it is decoded. */
    check_windows(&ref_a, T0 + 1, T0 + 5 * HOUR, DAY, 0, &stats);
    CHECK_INT(stats.chunks_decoded, 1);
    CHECK_INT(stats.chunks_from_summary, sealed - 1);
    CHECK_INT(stats.readings_decoded, spans[0].count);

    /* Minute windows: a chunk spans several minutes, so everything is decoded. */
    check_windows(&ref_a, T0, T0 + 5 * HOUR, MINUTE, 0, &stats);
    CHECK_INT(stats.chunks_from_summary, 0);
    CHECK_INT(stats.chunks_decoded, sealed);

    /* Raw queries never use summaries. */
    qp_selector sel = select_ref(&ref_a);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {
        .selector = &sel, .from_ms = T0, .to_ms = T0 + 5 * HOUR, .stats = &stats};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(stats.chunks_from_summary, 0);
    CHECK_INT(stats.chunks_decoded, sealed);
    CHECK_INT(stats.readings_decoded, ref_a.n - tail);
    rec_free(&r);
}

static void test_windows_random(void)
{
    static const int64_t widths[] = {1000, 7000,     MINUTE, 5 * MINUTE, 10 * MINUTE,
                                     HOUR, 3 * HOUR, DAY,    7 * DAY,    123457};
    static const int64_t offsets[] = {0, 8 * HOUR, -2 * HOUR, -5 * HOUR - 30 * MINUTE,
                                      3 * HOUR + 17 * MINUTE};
    unsigned seed = 20250101u;
    printf("  seed %u\n", seed);
    srand(seed);
    uint64_t from_summary = 0;
    const ref_series *all[] = {&ref_a, &ref_b, &ref_d, &ref_e};
    for (int iter = 0; iter < 200; iter++) {
        int64_t w = widths[rand() % 10];
        int64_t offset = offsets[rand() % 5];
        int64_t from = T0 - 30 * MINUTE + (int64_t)(rand() % 300) * MINUTE + rand() % 60000;
        int64_t to = from + 1 + (int64_t)(rand() % 300) * MINUTE + rand() % 60000;
        qx_query_stats stats;
        check_windows(all[iter % 4], from, to, w, offset, &stats);
        from_summary += stats.chunks_from_summary;
    }
    CHECK(from_summary > 0);
}

static void test_compensated_sum(void)
{
    check_windows(&ref_f, T0, T0 + HOUR, HOUR, 0, NULL);
    qp_selector sel = select_ref(&ref_f);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0,
                            .to_ms = T0 + HOUR,
                            .has_window = 1,
                            .window = {HOUR, 0},
                            .aggregates = {QX_AGG_SUM, QX_AGG_MEAN},
                            .aggregate_count = 2};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1 && r.series[0].row_count == 1) {
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 1)->as.d, 10.0);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 2)->as.d, 10.0 / 12.0);
    }
    rec_free(&r);
}

static void test_windows_aggregate_subset(void)
{
    /* Columns follow the request, duplicates included. */
    qp_selector sel = select_ref(&ref_c);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0,
                            .to_ms = T0 + 5 * HOUR,
                            .has_window = 1,
                            .window = {2 * HOUR, 0},
                            .aggregates = {QX_AGG_MAX, QX_AGG_COUNT, QX_AGG_MAX},
                            .aggregate_count = 3};
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1) {
        CHECK_STR(r.series[0].metric, "pm10");
        CHECK_STR(r.series[0].columns, "time,max,count,max");
        /* readings at 01,02,03,04,05Z: windows [00,02) [02,04) [04,06) */
        CHECK_INT(r.series[0].row_count, 3);
        if (r.series[0].row_count == 3) {
            CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 - HOUR);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 1)->as.d, 100.0);
            CHECK_INT(rec_cell(&r, 0, 0, 2)->as.i, 1);
            CHECK_INT(rec_cell(&r, 0, 1, 0)->as.i, T0 + HOUR);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, 1, 1)->as.d, 102.0);
            CHECK_INT(rec_cell(&r, 0, 1, 2)->as.i, 2);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, 2, 3)->as.d, 104.0);
        }
    }
    rec_free(&r);
}

static void test_scan(void)
{
    qx_query_stats ps, cs;

    /* E is the ramp i/4: above 20.0 means i > 80. Chunks of i < 80 cannot match; chunks of
     * i > 80 wholly inside the range all match and are counted from their summaries. Exact
     * figures are checked against the chunk spans inside check_scan. */
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_GT, 20.0, &ps, &cs);
    printf("  scan gt: points %" PRIu64 "/%" PRIu64 ", count %" PRIu64 "/%" PRIu64
           " (summary/decoded)\n",
           ps.chunks_from_summary, ps.chunks_decoded, cs.chunks_from_summary, cs.chunks_decoded);
    CHECK(ps.chunks_from_summary > 0);
    CHECK(cs.chunks_from_summary > ps.chunks_from_summary);
    CHECK(cs.chunks_decoded <= 1);
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_GE, 20.0, &ps, &cs);
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_LT, 5.0, &ps, &cs);
    CHECK(ps.chunks_from_summary > 0);
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_LE, 5.0, &ps, &cs);
    check_scan(&ref_e, T0, T0 + 5 * HOUR, QX_GT, 1000.0, &ps, &cs);
    CHECK_INT(ps.chunks_decoded, 0);

    /* A range cutting chunks: all-matching chunks that stick out must be decoded to count. */
    check_scan(&ref_e, T0 + 100 * MINUTE + 30000, T0 + 150 * MINUTE + 1, QX_GT, 1.0, &ps, &cs);
    CHECK(cs.chunks_decoded >= 1);

    /* No chunk skipping possible: values all over the range in every chunk. */
    check_scan(&ref_a, T0, T0 + 5 * HOUR, QX_GE, 0.0, &ps, &cs);
    CHECK_INT(ps.chunks_from_summary, 0);
    check_scan(&ref_a, T0 + 17 * MINUTE, T0 + 237 * MINUTE, QX_LT, 3.5, &ps, &cs);
    check_scan(&ref_b, T0, T0 + 5 * HOUR, QX_GT, 5.0, &ps, &cs);
    check_scan(&ref_d, T0, T0 + 5 * HOUR, QX_GE, 30.0, &ps, &cs);
    check_scan(&ref_d, T0, T0 + 5 * HOUR, QX_LT, 0.0, &ps, &cs); /* only the overwrite -3.0 */

    /* Count gives a row for every series, zeros included. */
    qp_selector sel = selector("pm25", NULL, NULL, 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_scan_request req = {.selector = &sel,
                           .from_ms = T0,
                           .to_ms = T0 + 5 * HOUR,
                           .compare = QX_GT,
                           .threshold = 500.0,
                           .output = QX_SCAN_COUNT};
    jl_error err;
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 3);
    if (r.series_count == 3) {
        CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 0);
        CHECK_INT(rec_cell(&r, 1, 0, 0)->as.i, 0);
        CHECK_INT(rec_cell(&r, 2, 0, 0)->as.i, 1); /* D's late 1000.0 */
    }
    rec_free(&r);
}

static void test_latest_and_series(void)
{
    qp_selector sel = selector("pm25", NULL, NULL, 0);
    const ref_series *expected[] = {&ref_a, &ref_b, &ref_d};
    recorder r;
    qx_sink sink = rec_sink(&r);
    jl_error err;
    CHECK_INT(qx_latest(store, &sel, NULL, &sink, &err), JL_OK);
    CHECK_INT(r.protocol_errors, 0);
    CHECK_INT(r.series_count, 3);
    for (size_t i = 0; i < r.series_count && i < 3; i++) {
        char tags[128];
        ref_tags(expected[i], tags, sizeof tags);
        CHECK_STR(r.series[i].tags, tags);
        CHECK_STR(r.series[i].columns, "time,value");
        CHECK_INT(r.series[i].row_count, 1);
        CHECK_INT(rec_cell(&r, i, 0, 0)->as.i, expected[i]->ts[expected[i]->n - 1]);
        CHECK_DOUBLE_BITS(rec_cell(&r, i, 0, 1)->as.d, expected[i]->vs[expected[i]->n - 1]);
    }
    rec_free(&r);

    sink = rec_sink(&r);
    CHECK_INT(qx_series(store, &sel, NULL, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 3);
    for (size_t i = 0; i < r.series_count && i < 3; i++) {
        CHECK_STR(r.series[i].metric, "pm25");
        CHECK_STR(r.series[i].columns, "first,last,count");
        CHECK_INT(r.series[i].row_count, 1);
        for (size_t c = 0; c < 3; c++)
            CHECK_INT(rec_cell(&r, i, 0, c)->type, QX_CELL_INT);
        CHECK_INT(rec_cell(&r, i, 0, 0)->as.i, expected[i]->ts[0]);
        CHECK_INT(rec_cell(&r, i, 0, 1)->as.i, expected[i]->ts[expected[i]->n - 1]);
        CHECK_INT(rec_cell(&r, i, 0, 2)->as.i, expected[i]->n);
    }
    rec_free(&r);
}

static void test_limits_and_errors(void)
{
    qp_selector sel = select_ref(&ref_a);
    recorder r;
    qx_sink sink = rec_sink(&r);
    jl_error err;
    qx_query_request req = {.selector = &sel, .from_ms = T0, .to_ms = T0 + 5 * HOUR};

    /* Raw rows beyond max_rows: an error, never a cut answer. */
    req.limits.max_rows = 10;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    CHECK_INT(err.code, JL_ELIMIT);
    CHECK(strstr(err.message, "more than 10 rows") != NULL);
    CHECK(strstr(err.message, "narrow") != NULL);
    rec_free(&r);
    req.limits.max_rows = 210; /* exactly enough */
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    rec_free(&r);

    /* Windows beyond max_windows, counted over the range whether or not they hold readings. */
    req = (qx_query_request){.selector = &sel,
                             .from_ms = T0 - HOUR, /* 00:00Z */
                             .to_ms = T0 - HOUR + DAY,
                             .has_window = 1,
                             .window = {1000, 0},
                             .aggregates = {QX_AGG_MEAN},
                             .aggregate_count = 1,
                             .limits = {.max_windows = 1000}};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    CHECK(strncmp(err.message,
                  "window 1s over this range gives 86400 windows per series; the limit is 1000",
                  75) == 0);
    CHECK_INT(r.series_count, 0);
    req.window.ms = 90 * MINUTE;
    req.limits.max_windows = 16; /* the day has 16 windows of 90 minutes */
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    rec_free(&r);
    req.window.ms = 89 * MINUTE;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    CHECK(strncmp(err.message, "window 89m over this range gives 17 windows", 43) == 0);
    /* Windows rows count against max_rows too. */
    req.window.ms = MINUTE;
    req.limits = (qx_limits){.max_rows = 100};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    rec_free(&r);

    /* Bad requests. */
    req.limits = (qx_limits){0};
    req.from_ms = req.to_ms;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    CHECK(strncmp(err.message, "from must be before to", 22) == 0);
    req.from_ms = req.to_ms + 1;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    req.from_ms = T0;
    req.window = (qp_duration){DAY, 1};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    CHECK(strstr(err.message, "not a mix of both") != NULL);
    req.window = (qp_duration){0, 0};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    req.window = (qp_duration){HOUR, 0};
    req.aggregate_count = 0;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    CHECK_INT(r.series_count, 0);

    qx_scan_request scan = {.selector = &sel, .from_ms = T0, .to_ms = T0, .compare = QX_GT};
    CHECK_INT(qx_scan(store, &scan, &sink, &err), JL_EINVAL);
    CHECK(strncmp(err.message, "from must be before to", 22) == 0);
    scan.to_ms = T0 + 5 * HOUR;
    scan.limits.max_rows = 3;
    rec_free(&r);
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &scan, &sink, &err), JL_ELIMIT);
    CHECK(strstr(err.message, "more than 3 rows") != NULL);
    CHECK_INT(r.series[0].row_count, 3);
    rec_free(&r);

    /* max_series is the store's refusal, passed on. */
    qp_selector all = selector("pm25", NULL, NULL, 0);
    qx_limits one = {.max_series = 1};
    sink = rec_sink(&r);
    CHECK_INT(qx_latest(store, &all, &one, &sink, &err), JL_ELIMIT);
    CHECK_INT(r.series_count, 0);
    rec_free(&r);

    /* The time budget is checked per block: a stall in the first block ends the query. */
    sink = rec_sink(&r);
    r.stall_ms = 20;
    req = (qx_query_request){
        .selector = &sel, .from_ms = T0, .to_ms = T0 + 5 * HOUR, .limits = {.timeout_ms = 5}};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ETIMEOUT);
    CHECK(strstr(err.message, "5 ms") != NULL);
    CHECK(r.series_count == 1 && r.series[0].row_count < ref_a.n);
    rec_free(&r);

    /* A sink's error stops the query and is returned. */
    sink = rec_sink(&r);
    r.fail_at_row = 3;
    req = (qx_query_request){.selector = &sel, .from_ms = T0, .to_ms = T0 + 5 * HOUR};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ENOMEM);
    CHECK_INT(err.code, JL_ENOMEM);
    CHECK_INT(r.total_rows, 3);
    rec_free(&r);
}

/* ---- audit and dashboard queries: new aggregates, calendar grids, fill, group by, episodes ----
 */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's default percentile ("linear") over n values, in the same float steps. */
static double ref_percentile(const double *values, size_t n, double p)
{
    static double sorted[MAX_READINGS];
    memcpy(sorted, values, n * sizeof *values);
    qsort(sorted, n, sizeof *sorted, cmp_double);
    double h = (double)(n - 1) * p / 100.0, fh = floor(h);
    size_t lo = (size_t)fh;
    if (lo >= n - 1)
        return sorted[n - 1];
    return sorted[lo] + (h - fh) * (sorted[lo + 1] - sorted[lo]);
}

/* Population stddev by the textbook two-pass formula in long double. */
static double ref_stddev(const double *values, size_t n)
{
    long double mean = 0, m2 = 0;
    for (size_t i = 0; i < n; i++)
        mean += values[i];
    mean /= n;
    for (size_t i = 0; i < n; i++)
        m2 += (values[i] - mean) * (values[i] - mean);
    return (double)sqrtl(m2 / n);
}

static void test_new_aggregates_exact(void)
{
    /* ref_a over [from, to) in windows of w: stddev, spread, p0, p50, p90, p100, twa. */
    const int64_t froms[] = {T0, T0 + 7 * MINUTE + 1};
    const int64_t widths[] = {HOUR, 17 * MINUTE, DAY};
    static double vals[MAX_READINGS];
    for (size_t f = 0; f < 2; f++) {
        for (size_t wi = 0; wi < 3; wi++) {
            int64_t from = froms[f], to = T0 + 4 * HOUR + 13 * MINUTE, w = widths[wi];
            qp_selector sel = select_ref(&ref_a);
            recorder r;
            qx_sink sink = rec_sink(&r);
            jl_error err;
            qx_query_request req = {.selector = &sel,
                                    .from_ms = from,
                                    .to_ms = to,
                                    .has_window = 1,
                                    .window = {w, 0},
                                    .aggregates = {QX_AGG_STDDEV, QX_AGG_SPREAD, QX_AGG_PERCENTILE,
                                                   QX_AGG_PERCENTILE, QX_AGG_PERCENTILE,
                                                   QX_AGG_PERCENTILE, QX_AGG_TWA},
                                    .percentiles = {0, 0, 0, 50, 90, 100, 0},
                                    .aggregate_count = 7};
            CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
            CHECK_INT(r.series_count, 1);
            CHECK_STR(r.series[0].columns, "time,stddev,spread,p0,p50,p90,p100,twa");
            size_t row = 0, prev = SIZE_MAX;
            for (size_t i = 0; i < ref_a.n;) {
                if (ref_a.ts[i] < from || ref_a.ts[i] >= to) {
                    if (ref_a.ts[i] < from)
                        i++;
                    else
                        break;
                    continue;
                }
                int64_t start = ref_window_start(ref_a.ts[i], w, 0), end = start + w;
                size_t j = i, n = 0;
                while (j < ref_a.n && ref_a.ts[j] < end && ref_a.ts[j] < to)
                    vals[n++] = ref_a.vs[j++];
                /* twa: the previous reading in the range carries in; the last holds to the end. */
                int64_t cover_end = end < to ? end : to, cover_start = ref_a.ts[i];
                long double integral = 0;
                if (prev != SIZE_MAX) {
                    cover_start = start > from ? start : from;
                    integral += (long double)ref_a.vs[prev] * (ref_a.ts[i] - cover_start);
                }
                for (size_t k = i; k < j; k++)
                    integral += (long double)ref_a.vs[k] *
                                ((k + 1 < j ? ref_a.ts[k + 1] : cover_end) - ref_a.ts[k]);
                double lo = vals[0], hi = vals[0];
                for (size_t k = 0; k < n; k++) {
                    lo = vals[k] < lo ? vals[k] : lo;
                    hi = vals[k] > hi ? vals[k] : hi;
                }
                if (row < r.series[0].row_count) {
                    CHECK_INT(rec_cell(&r, 0, row, 0)->as.i, start);
                    CHECK_NEAR(rec_cell(&r, 0, row, 1)->as.d, ref_stddev(vals, n), 1e-9);
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 2)->as.d, hi - lo);
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 3)->as.d, lo);
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 4)->as.d, ref_percentile(vals, n, 50));
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 5)->as.d, ref_percentile(vals, n, 90));
                    CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 6)->as.d, hi);
                    CHECK_NEAR(rec_cell(&r, 0, row, 7)->as.d,
                               (double)(integral / (cover_end - cover_start)), 1e-9);
                }
                row++;
                prev = j - 1;
                i = j;
            }
            CHECK_INT(r.series[0].row_count, row);
            rec_free(&r);
        }
    }
}

static void test_new_aggregates_use_summaries(void)
{
    /* One day-long window over ref_a: stddev and spread come from the chunk summaries (chunks
     * inside the range), and agree with the decoded answer that p50 forces. */
    qp_selector sel = select_ref(&ref_a);
    recorder r1, r2;
    qx_sink sink = rec_sink(&r1);
    jl_error err;
    qx_query_stats stats1, stats2;
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0 - HOUR,
                            .to_ms = T0 + DAY,
                            .has_window = 1,
                            .window = {DAY, 0},
                            .aggregates = {QX_AGG_STDDEV, QX_AGG_SPREAD, QX_AGG_COUNT},
                            .aggregate_count = 3,
                            .stats = &stats1};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK(stats1.chunks_from_summary >= 8);
    req.aggregates[3] = QX_AGG_PERCENTILE;
    req.percentiles[3] = 50;
    req.aggregate_count = 4;
    req.stats = &stats2;
    sink = rec_sink(&r2);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(stats2.chunks_from_summary, 0);
    CHECK(stats2.chunks_decoded >= 8);
    CHECK_INT(r1.series[0].row_count, 1);
    CHECK_INT(r2.series[0].row_count, 1);
    CHECK_NEAR(rec_cell(&r1, 0, 0, 1)->as.d, rec_cell(&r2, 0, 0, 1)->as.d, 1e-12);
    CHECK_NEAR(rec_cell(&r1, 0, 0, 1)->as.d, ref_stddev(ref_a.vs, ref_a.n), 1e-12);
    CHECK_DOUBLE_BITS(rec_cell(&r1, 0, 0, 2)->as.d, rec_cell(&r2, 0, 0, 2)->as.d);
    CHECK_INT(rec_cell(&r1, 0, 0, 3)->as.i, (int64_t)ref_a.n);
    rec_free(&r1);
    rec_free(&r2);
}

static void test_parse_new_aggregates_and_fill(void)
{
    qx_aggregate aggs[QX_MAX_AGGREGATES];
    double ps[QX_MAX_AGGREGATES];
    size_t n = 0;
    jl_error err;
    CHECK_INT(qx_parse_aggregates("stddev,p95,spread,p99.9,twa,p0,p100", aggs, ps, &n, &err),
              JL_OK);
    CHECK_INT(n, 7);
    CHECK_INT(aggs[0], QX_AGG_STDDEV);
    CHECK_INT(aggs[1], QX_AGG_PERCENTILE);
    CHECK_DOUBLE_BITS(ps[1], 95.0);
    CHECK_INT(aggs[2], QX_AGG_SPREAD);
    CHECK_DOUBLE_BITS(ps[3], 99.9);
    CHECK_INT(aggs[4], QX_AGG_TWA);
    CHECK_DOUBLE_BITS(ps[5], 0.0);
    CHECK_DOUBLE_BITS(ps[6], 100.0);
    const char *bad[] = {"p101", "p",           "p-1",   "p9.", "p.5",
                         "p1e2", "p99.1234567", "p1000", "P50", "p<NN>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT(qx_parse_aggregates(bad[i], aggs, ps, &n, &err), JL_EINVAL);
    qx_fill fill;
    double value;
    CHECK_INT(qx_parse_fill("none", &fill, &value, &err), JL_OK);
    CHECK_INT(fill, QX_FILL_NONE);
    CHECK_INT(qx_parse_fill("linear", &fill, &value, &err), JL_OK);
    CHECK_INT(fill, QX_FILL_LINEAR);
    CHECK_INT(qx_parse_fill("-2.5", &fill, &value, &err), JL_OK);
    CHECK_INT(fill, QX_FILL_VALUE);
    CHECK_DOUBLE_BITS(value, -2.5);
    CHECK_INT(qx_parse_fill("nan", &fill, &value, &err), JL_EINVAL);
    CHECK_INT(qx_parse_fill("Previous", &fill, &value, &err), JL_EINVAL);
    CHECK_INT(qx_parse_fill("", &fill, &value, &err), JL_EINVAL);
}

static void test_calendar_and_zone_grids(void)
{
    qp_selector sel = select_ref(&ref_a);
    recorder r;
    qx_sink sink;
    jl_error err;
    tz_zone *berlin = NULL;
    CHECK_INT(tz_zone_load("Europe/Berlin", &berlin, &err), JL_OK);
    /* In January Berlin is +01:00 all along: hourly and 7-minute windows equal the fixed grid. */
    const int64_t widths[] = {HOUR, 7 * MINUTE, DAY};
    for (size_t i = 0; i < 3 && berlin != NULL; i++) {
        recorder fixed;
        qx_query_request req = {.selector = &sel,
                                .from_ms = T0 + 3 * MINUTE,
                                .to_ms = T0 + 5 * HOUR,
                                .has_window = 1,
                                .window = {widths[i], 0},
                                .offset_ms = HOUR,
                                .aggregates = {QX_AGG_COUNT, QX_AGG_SUM},
                                .aggregate_count = 2};
        sink = rec_sink(&fixed);
        CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
        req.zone = berlin;
        req.offset_ms = 0;
        sink = rec_sink(&r);
        CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
        CHECK_INT(r.series[0].row_count, fixed.series[0].row_count);
        CHECK(r.series[0].row_count > 0);
        for (size_t row = 0; row < r.series[0].row_count && row < fixed.series[0].row_count;
             row++) {
            CHECK_INT(rec_cell(&r, 0, row, 0)->as.i, rec_cell(&fixed, 0, row, 0)->as.i);
            CHECK_INT(rec_cell(&r, 0, row, 1)->as.i, rec_cell(&fixed, 0, row, 1)->as.i);
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 2)->as.d, rec_cell(&fixed, 0, row, 2)->as.d);
        }
        rec_free(&r);
        rec_free(&fixed);
    }
    /* A month in +08:00 (zone NULL: the engine makes the fixed zone) starts 2024-12-31T16:00Z;
     * shifted by 6 h it starts at 22:00Z; a year window in Berlin at 2024-12-31T23:00Z. */
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0,
                            .to_ms = T0 + 5 * HOUR,
                            .has_window = 1,
                            .window = {0, 1},
                            .offset_ms = 8 * HOUR,
                            .aggregates = {QX_AGG_COUNT},
                            .aggregate_count = 1};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 1);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 1735660800000LL);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, (int64_t)ref_a.n);
    rec_free(&r);
    req.shift_ms = 6 * HOUR;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 1735660800000LL + 6 * HOUR);
    rec_free(&r);
    req.shift_ms = 0;
    req.window = (qp_duration){0, 12};
    req.zone = berlin;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 1735686000000LL);
    rec_free(&r);
    /* Shift bounds. */
    req.shift_ms = QX_MAX_SHIFT_MS + 1;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    rec_free(&r);
    tz_zone_free(berlin);
}

static void test_fill_and_min_count(void)
{
    /* ref_a has a 30-minute outage (02:40Z-03:10Z): 10-minute windows over 02:00Z-04:00Z. */
    qp_selector sel = select_ref(&ref_a);
    recorder r;
    qx_sink sink;
    jl_error err;
    qx_query_request req = {.selector = &sel,
                            .from_ms = T0 + HOUR + 5 * MINUTE,
                            .to_ms = T0 + 3 * HOUR,
                            .has_window = 1,
                            .window = {10 * MINUTE, 0},
                            .aggregates = {QX_AGG_COUNT, QX_AGG_MAX},
                            .aggregate_count = 2,
                            .fill = QX_FILL_NULL};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 12); /* 02:00 .. 03:50, the first one starting before from */
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 + HOUR);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, 5); /* 02:05 .. 02:09 */
    for (size_t row = 0; row < 12; row++) {
        int64_t start = T0 + HOUR + (int64_t)row * 10 * MINUTE;
        int empty = start >= T0 + 100 * MINUTE && start < T0 + 130 * MINUTE;
        CHECK_INT(rec_cell(&r, 0, row, 0)->as.i, start);
        CHECK_INT(rec_cell(&r, 0, row, 1)->type, empty ? QX_CELL_NULL : QX_CELL_INT);
        CHECK_INT(rec_cell(&r, 0, row, 2)->type, empty ? QX_CELL_NULL : QX_CELL_DOUBLE);
    }
    rec_free(&r);
    /* min_count=6 makes the first (5 readings) invalid: left out with none, filled with linear. */
    req.min_count = 6;
    req.fill = QX_FILL_NONE;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 8);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 + HOUR + 10 * MINUTE);
    rec_free(&r);
    req.fill = QX_FILL_LINEAR;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 12);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->type, QX_CELL_NULL); /* nothing before it */
    /* 03:00Z-03:10Z lies between 02:30Z (10 readings) and 03:10Z (10): linear gives 10. */
    CHECK_INT(rec_cell(&r, 0, 6, 1)->type, QX_CELL_DOUBLE);
    CHECK_DOUBLE_BITS(rec_cell(&r, 0, 6, 1)->as.d, 10.0);
    rec_free(&r);
    /* fill over too many windows is refused by max_windows before any row. */
    req.limits.max_windows = 11;
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_ELIMIT);
    CHECK_INT(r.series_count, 0);
    rec_free(&r);
    /* Options that need a window. */
    req = (qx_query_request){
        .selector = &sel, .from_ms = T0, .to_ms = T0 + HOUR, .fill = QX_FILL_PREVIOUS};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_EINVAL);
    rec_free(&r);
}

static void test_group_by_merges_partials(void)
{
    /* pm25 has d1/s1 (A), d1/s2 (B), d2/s3 (D). group_by district: d1 = A + B pooled. */
    qp_selector sel = selector("pm25", NULL, NULL, 0);
    recorder r;
    qx_sink sink = rec_sink(&r);
    jl_error err;
    qx_query_request req = {
        .selector = &sel,
        .from_ms = T0,
        .to_ms = T0 + 5 * HOUR,
        .has_window = 1,
        .window = {HOUR, 0},
        .aggregates = {QX_AGG_COUNT, QX_AGG_MAX, QX_AGG_FIRST, QX_AGG_PERCENTILE},
        .percentiles = {0, 0, 0, 50},
        .aggregate_count = 4,
        .group = 1,
        .group_tags = {"district"},
        .group_tag_count = 1};
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 2);
    CHECK_STR(r.series[0].tags, "district=d1");
    CHECK_STR(r.series[1].tags, "district=d2");
    CHECK_STR(r.series[0].metric, "pm25");
    static double vals[2 * MAX_READINGS];
    for (size_t row = 0; row < r.series[0].row_count; row++) {
        int64_t start = rec_cell(&r, 0, row, 0)->as.i;
        size_t n = 0;
        double mx = -1e300, first = 0;
        int64_t first_t = INT64_MAX;
        const ref_series *members[] = {&ref_a, &ref_b};
        for (size_t m = 0; m < 2; m++) {
            for (size_t i = 0; i < members[m]->n; i++) {
                int64_t t = members[m]->ts[i];
                if (t < start || t >= start + HOUR || t >= T0 + 5 * HOUR)
                    continue;
                vals[n++] = members[m]->vs[i];
                mx = members[m]->vs[i] > mx ? members[m]->vs[i] : mx;
                if (t < first_t) {
                    first_t = t;
                    first = members[m]->vs[i];
                }
            }
        }
        CHECK_INT(rec_cell(&r, 0, row, 1)->as.i, (int64_t)n);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 2)->as.d, mx);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 3)->as.d, first);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, row, 4)->as.d, ref_percentile(vals, n, 50));
    }
    CHECK_INT(r.series[0].row_count, 4);
    rec_free(&r);
    /* Every series merged into one, no tags: counts add up to all pm25 readings in range. */
    req.group_tag_count = 0;
    req.aggregates[0] = QX_AGG_COUNT;
    req.aggregate_count = 1;
    req.window = (qp_duration){DAY, 0};
    sink = rec_sink(&r);
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 1);
    CHECK_STR(r.series[0].tags, "");
    size_t total = 0;
    const ref_series *pm25[] = {&ref_a, &ref_b, &ref_d};
    for (size_t m = 0; m < 3; m++)
        for (size_t i = 0; i < pm25[m]->n; i++)
            total += pm25[m]->ts[i] >= T0 && pm25[m]->ts[i] < T0 + 5 * HOUR;
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, (int64_t)total);
    rec_free(&r);
}

/* Episodes by the definition in query.h, for ref_e (a ramp 0, 0.25, ...). */
static void test_episodes_and_duration(void)
{
    qp_selector sel = select_ref(&ref_e);
    recorder r;
    qx_sink sink = rec_sink(&r);
    jl_error err;
    qx_query_stats stats;
    /* Above 30 from minute 121 (30.25) to the last reading (169): one run ending at its last. */
    qx_scan_request req = {.selector = &sel,
                           .from_ms = T0,
                           .to_ms = T0 + DAY,
                           .compare = QX_GT,
                           .threshold = 30.0,
                           .output = QX_SCAN_EPISODES,
                           .stats = &stats};
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_STR(r.series[0].columns, "start,end,duration,count,peak");
    CHECK_INT(r.series[0].row_count, 1);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 + 121 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, T0 + 169 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 2)->as.i, 48 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 3)->as.i, 49);
    CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 4)->as.d, 169 * 0.25);
    CHECK(stats.chunks_from_summary >= 5); /* chunks below 30 skipped, those above taken whole */
    rec_free(&r);
    /* Below 10 (le): minutes 0..40 (value 10 at 40), ended by minute 41. A range from minute 20:
     * the run starts at 20. */
    req.compare = QX_LE;
    req.threshold = 10.0;
    req.from_ms = T0 + 20 * MINUTE;
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series[0].row_count, 1);
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, T0 + 20 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 1)->as.i, T0 + 41 * MINUTE);
    CHECK_INT(rec_cell(&r, 0, 0, 3)->as.i, 21);
    CHECK_DOUBLE_BITS(rec_cell(&r, 0, 0, 4)->as.d, 5.0);
    rec_free(&r);
    /* min_duration longer than the run drops it; duration then reports 0 for the series. */
    req.min_duration_ms = 22 * MINUTE;
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_INT(r.series_count, 0);
    rec_free(&r);
    req.output = QX_SCAN_DURATION;
    req.min_duration_ms = 21 * MINUTE;
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    CHECK_STR(r.series[0].columns, "duration");
    CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, 21 * MINUTE);
    rec_free(&r);
    req.max_gap_ms = -1;
    sink = rec_sink(&r);
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_EINVAL);
    rec_free(&r);
}

/* ---- fixture ---- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* ---- segment tables ---- */

static ref_series ref_g = {"so2", {"station"}, {"g1"}, 1, {0}, {0}, 0, 0};

/* Population standard deviation of ref_g's readings in [from, to), in long double. */
static double ref_g_stddev(int64_t from, int64_t to)
{
    long double sum = 0, squares = 0;
    size_t n = 0;
    for (size_t i = 0; i < ref_g.n; i++)
        if (ref_g.ts[i] >= from && ref_g.ts[i] < to) {
            sum += ref_g.vs[i];
            n++;
        }
    long double mean = sum / (long double)n;
    for (size_t i = 0; i < ref_g.n; i++)
        if (ref_g.ts[i] >= from && ref_g.ts[i] < to)
            squares += (ref_g.vs[i] - mean) * (ref_g.vs[i] - mean);
    return (double)sqrtl(squares / (long double)n);
}

/* Windowed count, sum, mean, min, max (the aggregates segment tables serve) of ref_g, plus
 * optionally one they cannot serve (with_extra first, last or stddev; QX_AGG_COUNT for none),
 * compared with the brute-force reference. */
static void check_segment_windows(int64_t from, int64_t to, int64_t w, int64_t offset,
                                  qx_aggregate with_extra, qx_query_stats *stats)
{
    static ref_window expected[MAX_READINGS];
    qx_aggregate aggs[6] = {QX_AGG_COUNT, QX_AGG_SUM, QX_AGG_MEAN,
                            QX_AGG_MIN,   QX_AGG_MAX, with_extra};
    const int has_extra = with_extra != QX_AGG_COUNT; /* QX_AGG_COUNT: no extra aggregate */
    qp_selector sel = select_ref(&ref_g);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_query_request req =
        window_request(&sel, from, to, w, offset, aggs, has_extra ? 6 : 5, stats);
    jl_error err;
    CHECK_INT(qx_query(store, &req, &sink, &err), JL_OK);
    size_t n = ref_windows(&ref_g, from, to, w, offset, expected);
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1)
        CHECK_INT(r.series[0].row_count, n);
    for (size_t i = 0; r.series_count == 1 && i < n && i < r.series[0].row_count; i++) {
        const ref_window *e = &expected[i];
        CHECK_INT(rec_cell(&r, 0, i, 0)->as.i, e->start);
        CHECK_INT(rec_cell(&r, 0, i, 1)->as.i, e->count);
        /* Values are multiples of 0.5: every sum is exact, whichever way it was added. */
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 2)->as.d, (double)e->sum);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 3)->as.d, (double)e->sum / (double)e->count);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 4)->as.d, e->min);
        CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 5)->as.d, e->max);
        if (with_extra == QX_AGG_FIRST)
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 6)->as.d, e->first);
        if (with_extra == QX_AGG_LAST)
            CHECK_DOUBLE_BITS(rec_cell(&r, 0, i, 6)->as.d, e->last);
        if (with_extra == QX_AGG_STDDEV) {
            int64_t window_end = e->start + w < to ? e->start + w : to;
            double want = ref_g_stddev(e->start > from ? e->start : from, window_end);
            CHECK(fabs(rec_cell(&r, 0, i, 6)->as.d - want) <= 1e-12 * want + 1e-12);
        }
    }
    rec_free(&r);
}

static void check_segment_count(double threshold, qx_query_stats *stats)
{
    qp_selector sel = select_ref(&ref_g);
    recorder r;
    qx_sink sink = rec_sink(&r);
    qx_scan_request req = {.selector = &sel,
                           .from_ms = T0,
                           .to_ms = T0 + DAY,
                           .compare = QX_GT,
                           .threshold = threshold,
                           .output = QX_SCAN_COUNT,
                           .stats = stats};
    jl_error err;
    CHECK_INT(qx_scan(store, &req, &sink, &err), JL_OK);
    int64_t expected = 0;
    for (size_t i = 0; i < ref_g.n; i++)
        expected += ref_g.vs[i] > threshold;
    CHECK_INT(r.series_count, 1);
    if (r.series_count == 1 && r.series[0].row_count == 1)
        CHECK_INT(rec_cell(&r, 0, 0, 0)->as.i, expected);
    rec_free(&r);
}

/* A store with hourly segment tables and 64-reading chunks: each chunk spans an hour boundary,
 * so hourly (or coarser, aligned) windows take it period by period, and anything else decodes. */
static void test_segment_tables(void)
{
    char *dir = make_temp_dir_named("segments");
    st_options options = {
        .directory = dir, .sync_full = 0, .chunk_target = 64, .segment_period_ms = HOUR};
    st_store *main_store = store;
    jl_error err;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    /* 400 minutes from 01:00Z; hour h holds values in [10h, 10h + 5], in steps of 0.5. */
    static int64_t ts[400];
    static double vs[400];
    for (int i = 0; i < 400; i++) {
        ts[i] = T0 + i * MINUTE;
        vs[i] = 10.0 * (i / 60) + (double)((i * 7) % 11) * 0.5;
    }
    CHECK_INT(write_readings(&ref_g, ts, vs, 400, 64), JL_OK);
    static chunk_span spans[MAX_CHUNKS];
    size_t tail, sealed = list_chunks(&ref_g, spans, &tail);
    CHECK_INT(sealed, 6);
    CHECK_INT(tail, 16);
    qx_query_stats stats;

    /* Every chunk crosses an hour: hourly windows read their two periods. */
    check_segment_windows(T0, T0 + DAY, HOUR, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments, 6);
    CHECK_INT(stats.chunks_decoded, 0);
    CHECK_INT(stats.chunks_from_summary, 0);
    /* Two-hour windows: chunks inside one window by summary, the others by period. */
    check_segment_windows(T0, T0 + DAY, 2 * HOUR, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments + stats.chunks_from_summary, 6);
    CHECK(stats.chunks_from_segments > 0);
    CHECK_INT(stats.chunks_decoded, 0);
    /* A range that cuts the first chunk decodes it alone. */
    check_segment_windows(T0 + 30 * MINUTE, T0 + DAY, HOUR, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_decoded, 1);
    CHECK_INT(stats.chunks_from_segments, 5);
    /* Periods that do not fit the windows (half hours; hours shifted by 30 minutes), or an
     * aggregate the table cannot serve: decoded, with the same answers. */
    check_segment_windows(T0, T0 + DAY, 30 * MINUTE, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments, 0);
    CHECK_INT(stats.chunks_decoded, 6);
    check_segment_windows(T0, T0 + DAY, HOUR, 30 * MINUTE, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments, 0);
    CHECK_INT(stats.chunks_decoded, 6);
    const qx_aggregate needs_readings[] = {QX_AGG_FIRST, QX_AGG_LAST, QX_AGG_STDDEV};
    for (size_t a = 0; a < 3; a++) {
        check_segment_windows(T0, T0 + DAY, HOUR, 0, needs_readings[a], &stats);
        CHECK_INT(stats.chunks_from_segments, 0);
        CHECK_INT(stats.chunks_decoded, 6);
    }

    /* Counting above 37 splits at the 04:00 boundary: the chunk across it is counted by period;
     * above 42 the hour 05:00-05:59 is mixed, so the chunks holding it are decoded. */
    check_segment_count(37.0, &stats);
    CHECK_INT(stats.chunks_from_segments, 1);
    CHECK_INT(stats.chunks_decoded, 0);
    check_segment_count(42.0, &stats);
    CHECK(stats.chunks_decoded > 0);

    /* The tables are on disk: a reopened store answers the same way. */
    st_store_close(store);
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    check_segment_windows(T0, T0 + DAY, HOUR, 0, QX_AGG_COUNT, &stats);
    CHECK_INT(stats.chunks_from_segments, 6);
    st_store_close(store);
    store = main_store;
    remove_dir(dir);
}

int main(void)
{
    jl_error err;
    snprintf(store_dir, sizeof store_dir, "/tmp/jialing-test-query-XXXXXX");
    if (mkdtemp(store_dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    st_options options = {.directory = store_dir, .sync_full = 0, .chunk_target = 16};
    if (st_store_open(&options, &store, &err) != JL_OK) {
        fprintf(stderr, "st_store_open: %s\n", err.message);
        return 1;
    }
    if (write_fixture() != 0) {
        st_store_close(store);
        return 1;
    }
    RUN(test_fixture_has_chunks_and_tails);
    RUN(test_parse_aggregates);
    RUN(test_parse_compare);
    RUN(test_raw);
    RUN(test_selectors);
    RUN(test_windows_exact);
    RUN(test_windows_offset);
    RUN(test_windows_from_summaries);
    RUN(test_windows_random);
    RUN(test_compensated_sum);
    RUN(test_windows_aggregate_subset);
    RUN(test_scan);
    RUN(test_latest_and_series);
    RUN(test_limits_and_errors);
    RUN(test_new_aggregates_exact);
    RUN(test_new_aggregates_use_summaries);
    RUN(test_parse_new_aggregates_and_fill);
    RUN(test_calendar_and_zone_grids);
    RUN(test_fill_and_min_count);
    RUN(test_group_by_merges_partials);
    RUN(test_episodes_and_duration);
    RUN(test_segment_tables);
    st_store_close(store);
    nftw(store_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return CHECK_DONE();
}
