/* The shared fixture of the query tests (test_query.c, test_aggregate.c, test_grid.c,
 * test_window.c, test_groupby.c, test_scan.c, test_listing.c, test_source.c): a real store in a
 * temporary directory holding known readings (several sealed chunks per series, since
 * chunk_target is 16, plus tails), the same readings kept in the test as a reference, a sink that
 * records rows, and brute-force references every query is checked against row by row. Each test
 * binary includes it once; not every binary uses every helper, hence the pragma. */
#ifndef JIALING_TEST_QUERY_FIXTURE_H
#define JIALING_TEST_QUERY_FIXTURE_H

/* Before the includes: tempdir.h's helpers are unused in most binaries too. */
#pragma GCC diagnostic ignored "-Wunused-function"

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

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Opens the store in a new temporary directory and writes the fixture; 0, or 1 after printing
 * why not. */
static int fixture_open(void)
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
    return 0;
}

/* Closes the store and removes its directory. */
static void fixture_close(void)
{
    st_store_close(store);
    nftw(store_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
