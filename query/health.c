/* Station health (jialing/health.h): three passes of the query engine per metric, each into a sink
 * of this file that folds rows into per-series and per-station state; nothing reads the store
 * directly.
 * 1. qx_series(): which series exist, their station and district, and their last reading, so that
 *    a station silent over the whole range is still listed (and offline).
 * 2. qx_query() raw with with_flags over [from, to): per series its readings (times kept for the
 *    series being read only), their validity, its cadence and its up-intervals, merged into its
 *    station's.
 * 3. qx_query() raw over [from - L, from), L the longest offline_after of any series: the last
 *    reading before from of each series, whose up-interval may reach into the range.
 * Passes 2 and 3 read a metric only when pass 1 found station series of it (hl_plan). */
#include "jialing/health.h"

#include "jialing/discovery.h"

#include <stdlib.h>
#include <string.h>

typedef struct hl_interval {
    int64_t from_ms, to_ms; /* [from, to) */
} hl_interval;

typedef struct hl_station {
    char *value; /* station tag value, NUL-terminated, owned */
    size_t value_len;
    char *group; /* group tag value of its first series, owned; NULL: none */
    size_t group_len;
    hl_interval *online; /* sorted, disjoint, not touching, within [from, to); owned */
    size_t online_count, online_capacity;
    int has_last;
    int64_t last_ms;
    int online_at_to;
    uint64_t readings, valid_readings; /* all its readings in the range */
    uint64_t cadenced, cadenced_valid; /* of those, the readings of series with a cadence */
    double expected;                   /* summed over series with a cadence */
    int has_expected;                  /* some series has a cadence */
    int64_t cadence_ms;                /* shortest, when has_expected */
    double online_rate, capture_rate, valid_rate; /* filled at the end */
    size_t plan_mark; /* 1 + index of the last metric whose plan lists it, 0: none */
} hl_station;

typedef struct hl_series {
    unsigned char *key; /* identity: metric and tags, length-prefixed; owned */
    size_t key_len;
    hl_station *station; /* borrowed from the result */
    int has_last_overall;
    int64_t last_overall_ms; /* from qx_series() */
    int64_t off_ms;          /* its offline_after (0: never up) */
    int has_last_in_range;
    int64_t last_in_range_ms;
    int has_carry;
    int64_t carry_ms; /* last reading in [from - off, from) */
} hl_series;

typedef struct hl_group {
    char *value; /* borrowed from a station; NULL: the stations without a group tag */
    size_t value_len;
    int has_last;
    int64_t last_ms;
    uint64_t stations, online, readings, valid_readings;
    double online_rate_sum, capture_sum, valid_sum, expected;
    uint64_t capture_count, valid_count;
} hl_group;

struct hl_result {
    char *station_tag, *group_tag; /* owned copies */
    int aggregate;
    int64_t from_ms, to_ms;
    hl_station **stations; /* sorted by value; each owned */
    size_t station_count, station_capacity;
    hl_series *series; /* sorted by key after pass 1 */
    size_t series_count, series_capacity;
    hl_group *groups; /* sorted by value, the tagless group first */
    size_t group_count;
};

/* ---------- pure helpers ---------- */

static int compare_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t hl_cadence(const int64_t *times, size_t n)
{
    if (n < 2)
        return 0;
    int64_t *gaps = malloc((n - 1) * sizeof *gaps);
    if (gaps == NULL)
        return 0;
    for (size_t i = 1; i < n; i++)
        gaps[i - 1] = times[i] - times[i - 1];
    qsort(gaps, n - 1, sizeof *gaps, compare_i64);
    /* The lower median is always one of the series' real gaps, a whole number of ms. */
    int64_t cadence = gaps[(n - 2) / 2];
    free(gaps);
    return cadence;
}

/* Merges add[0..n) (sorted, disjoint) into the station's intervals. JL_OK or JL_ENOMEM. */
static int merge_intervals(hl_station *s, const hl_interval *add, size_t n)
{
    if (n == 0)
        return JL_OK;
    size_t total = s->online_count + n;
    hl_interval *merged = malloc(total * sizeof *merged);
    if (merged == NULL)
        return JL_ENOMEM;
    size_t i = 0, j = 0, m = 0;
    while (i < s->online_count || j < n) {
        hl_interval next;
        if (j == n || (i < s->online_count && s->online[i].from_ms <= add[j].from_ms))
            next = s->online[i++];
        else
            next = add[j++];
        /* Touching intervals join too: online without a break. */
        if (m > 0 && next.from_ms <= merged[m - 1].to_ms) {
            if (next.to_ms > merged[m - 1].to_ms)
                merged[m - 1].to_ms = next.to_ms;
        } else {
            merged[m++] = next;
        }
    }
    free(s->online);
    s->online = merged;
    s->online_count = m;
    s->online_capacity = total;
    return JL_OK;
}

/* ---------- identity of a series across the passes ---------- */

static int key_piece(jl_buf *buf, const char *text, size_t len)
{
    uint32_t n = (uint32_t)len;
    int rc = jl_buf_append(buf, &n, sizeof n);
    return rc == JL_OK ? jl_buf_append(buf, text, len) : rc;
}

static int build_key(jl_buf *buf, sk_text metric, const sk_tag *tags, size_t tag_count)
{
    buf->len = 0;
    int rc = key_piece(buf, metric.data, metric.len);
    for (size_t i = 0; rc == JL_OK && i < tag_count; i++) {
        rc = key_piece(buf, tags[i].key.data, tags[i].key.len);
        if (rc == JL_OK)
            rc = key_piece(buf, tags[i].value.data, tags[i].value.len);
    }
    return rc;
}

static int compare_bytes(const void *a, size_t alen, const void *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

static int compare_series(const void *a, const void *b)
{
    const hl_series *x = a, *y = b;
    return compare_bytes(x->key, x->key_len, y->key, y->key_len);
}

static hl_series *find_series(hl_result *r, const jl_buf *key)
{
    size_t lo = 0, hi = r->series_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_bytes(r->series[mid].key, r->series[mid].key_len, key->data, key->len);
        if (c == 0)
            return &r->series[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const sk_tag *find_tag(const sk_tag *tags, size_t count, const char *key)
{
    size_t len = strlen(key);
    for (size_t i = 0; i < count; i++)
        if (tags[i].key.len == len && memcmp(tags[i].key.data, key, len) == 0)
            return &tags[i];
    return NULL;
}

static char *copy_text(sk_text t)
{
    char *out = malloc(t.len + 1);
    if (out) {
        memcpy(out, t.data, t.len);
        out[t.len] = '\0';
    }
    return out;
}

/* Finds or adds the station of value v (kept sorted); NULL when out of memory. */
static hl_station *station_for(hl_result *r, sk_text v, const sk_tag *group)
{
    size_t lo = 0, hi = r->station_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_bytes(r->stations[mid]->value, r->stations[mid]->value_len, v.data, v.len);
        if (c == 0)
            return r->stations[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    hl_station **grown = jl_array_grow(r->stations, &r->station_capacity, r->station_count + 1,
                                       sizeof *r->stations, 64);
    if (grown == NULL)
        return NULL;
    r->stations = grown;
    hl_station *s = calloc(1, sizeof *s);
    if (s == NULL || (s->value = copy_text(v)) == NULL ||
        (group && (s->group = copy_text(group->value)) == NULL)) {
        if (s)
            free(s->value);
        free(s);
        return NULL;
    }
    s->value_len = v.len;
    s->group_len = group ? group->value.len : 0;
    memmove(r->stations + lo + 1, r->stations + lo, (r->station_count - lo) * sizeof *r->stations);
    r->stations[lo] = s;
    r->station_count++;
    return s;
}

/* ---------- the passes' sinks ---------- */

/* What pass 1 learnt of one metric, for passes 2 and 3: which stations have series of it, and
 * whether some of its series carry no station tag (then the later passes select the stations'
 * series by tag value rather than read those too). */
typedef struct hl_plan {
    int untagged;
    hl_station **stations; /* borrowed; the array owned */
    size_t count, capacity;
} hl_plan;

typedef struct hl_pass {
    hl_result *result;
    const hl_request *request;
    int pass;          /* 1, 2, 3 as in the file comment */
    jl_buf key;        /* scratch */
    hl_series *series; /* the series being read (passes 2, 3), NULL: not one of ours */
    hl_plan *plan;     /* pass 1: the current metric's */
    size_t metric_index;
    /* pass 1: the series announced by series_begin, registered at its row (its station too, so
     * that a series begun after the range adds no station) */
    int pending;
    jl_buf pending_station, pending_group; /* tag values */
    int pending_has_group;
    /* pass 2: the current series' times and valid count */
    int64_t *times;
    size_t time_count, time_capacity;
    uint64_t valid;
    hl_interval *scratch;
    size_t scratch_capacity;
} hl_pass;

static int pass_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                      const char *const *columns, size_t column_count)
{
    (void)columns;
    (void)column_count;
    hl_pass *p = context;
    p->series = NULL;
    p->pending = 0;
    p->time_count = 0;
    p->valid = 0;
    const sk_tag *station = find_tag(tags, tag_count, p->result->station_tag);
    if (station == NULL) {
        if (p->pass == 1)
            p->plan->untagged = 1;
        return JL_OK; /* a series of the metric that belongs to no station */
    }
    if (build_key(&p->key, metric, tags, tag_count) != JL_OK)
        return JL_ENOMEM;
    if (p->pass != 1) {
        p->series = find_series(p->result, &p->key);
        return JL_OK;
    }
    const sk_tag *group = find_tag(tags, tag_count, p->result->group_tag);
    p->pending_station.len = 0;
    p->pending_group.len = 0;
    p->pending_has_group = group != NULL;
    if (jl_buf_append(&p->pending_station, station->value.data, station->value.len) != JL_OK ||
        (group && jl_buf_append(&p->pending_group, group->value.data, group->value.len) != JL_OK))
        return JL_ENOMEM;
    p->pending = 1;
    return JL_OK;
}

static int pass_row(void *context, const qx_cell *cells, size_t cell_count)
{
    hl_pass *p = context;
    hl_result *r = p->result;
    if (p->pass == 1) {
        /* first, last, count */
        if (!p->pending || cell_count < 3)
            return JL_OK;
        p->pending = 0;
        if (cells[0].as.i >= r->to_ms)
            return JL_OK; /* began after the range: not a series of it */
        sk_tag group = {{r->group_tag, strlen(r->group_tag)},
                        {p->pending_group.data, p->pending_group.len}};
        hl_station *station =
            station_for(r, (sk_text){p->pending_station.data, p->pending_station.len},
                        p->pending_has_group ? &group : NULL);
        if (station == NULL)
            return JL_ENOMEM;
        hl_series *grown = jl_array_grow(r->series, &r->series_capacity, r->series_count + 1,
                                         sizeof *r->series, 64);
        if (grown == NULL)
            return JL_ENOMEM;
        r->series = grown;
        hl_series *s = &r->series[r->series_count];
        memset(s, 0, sizeof *s);
        s->key = malloc(p->key.len ? p->key.len : 1);
        if (s->key == NULL)
            return JL_ENOMEM;
        memcpy(s->key, p->key.data, p->key.len);
        s->key_len = p->key.len;
        s->station = station;
        s->has_last_overall = cells[2].as.i > 0;
        s->last_overall_ms = cells[1].as.i;
        s->off_ms = p->request->offline_after_ms;
        r->series_count++;
        if (station->plan_mark != p->metric_index + 1) {
            hl_plan *plan = p->plan;
            hl_station **more = jl_array_grow(plan->stations, &plan->capacity, plan->count + 1,
                                              sizeof *plan->stations, 16);
            if (more == NULL)
                return JL_ENOMEM;
            plan->stations = more;
            plan->stations[plan->count++] = station;
            station->plan_mark = p->metric_index + 1;
        }
        return JL_OK;
    }
    if (p->series == NULL || cell_count < 1)
        return JL_OK;
    int64_t t = cells[0].as.i;
    if (p->pass == 3) {
        /* Rows come in time order: the last one kept is the last before from. */
        if (p->series->off_ms > 0 && t >= r->from_ms - p->series->off_ms) {
            p->series->has_carry = 1;
            p->series->carry_ms = t;
        }
        return JL_OK;
    }
    int64_t *grown =
        jl_array_grow(p->times, &p->time_capacity, p->time_count + 1, sizeof *p->times, 256);
    if (grown == NULL)
        return JL_ENOMEM;
    p->times = grown;
    p->times[p->time_count++] = t;
    if (cell_count >= 4 && cells[3].type == QX_CELL_BOOL && cells[3].as.i)
        p->valid++;
    return JL_OK;
}

/* Pass 2: the series' readings are all in; fold them into its station. */
static int pass_end(void *context)
{
    hl_pass *p = context;
    hl_result *r = p->result;
    hl_series *s = p->series;
    if (p->pass != 2 || s == NULL || p->time_count == 0)
        return JL_OK;
    hl_station *st = s->station;
    size_t n = p->time_count;
    int64_t cadence = hl_cadence(p->times, n);
    if (p->request->offline_after_ms == 0)
        s->off_ms = 3 * cadence;
    s->has_last_in_range = 1;
    s->last_in_range_ms = p->times[n - 1];
    st->readings += n;
    st->valid_readings += p->valid;
    if (cadence > 0) {
        st->cadenced += n;
        st->cadenced_valid += p->valid;
        st->expected += (double)(r->to_ms - r->from_ms) / (double)cadence;
        if (!st->has_expected || cadence < st->cadence_ms)
            st->cadence_ms = cadence;
        st->has_expected = 1;
    }
    if (s->off_ms <= 0)
        return JL_OK;
    /* Each reading r makes the series up over [r, r + off); consecutive readings closer than off
     * make one interval. */
    size_t m = 0;
    hl_interval *iv = jl_array_grow(p->scratch, &p->scratch_capacity, n, sizeof *p->scratch, 64);
    if (iv == NULL)
        return JL_ENOMEM;
    p->scratch = iv;
    for (size_t i = 0; i < n; i++) {
        int64_t a = p->times[i], b = p->times[i] + s->off_ms;
        if (m > 0 && a <= iv[m - 1].to_ms)
            iv[m - 1].to_ms = b;
        else
            iv[m++] = (hl_interval){a, b};
    }
    for (size_t i = 0; i < m; i++)
        if (iv[i].to_ms > r->to_ms)
            iv[i].to_ms = r->to_ms;
    return merge_intervals(st, iv, m) == JL_OK ? JL_OK : JL_ENOMEM;
}

/* ---------- the run ---------- */

void hl_result_free(hl_result *result)
{
    if (result == NULL)
        return;
    for (size_t i = 0; i < result->station_count; i++) {
        free(result->stations[i]->value);
        free(result->stations[i]->group);
        free(result->stations[i]->online);
        free(result->stations[i]);
    }
    free(result->stations);
    for (size_t i = 0; i < result->series_count; i++)
        free(result->series[i].key);
    free(result->series);
    free(result->groups);
    free(result->station_tag);
    free(result->group_tag);
    free(result);
}

static char *copy_string(const char *text)
{
    return copy_text((sk_text){text, strlen(text)});
}

/* Limits for one engine call: what is left of the whole call's time budget. */
static int call_limits(const hl_request *request, int64_t started_ns, qx_limits *out, jl_error *err)
{
    *out = request->limits;
    int64_t budget = request->limits.timeout_ms > 0 ? request->limits.timeout_ms : 30000;
    int64_t left = budget - (jl_monotonic_ns() - started_ns) / 1000000;
    if (left <= 0)
        return jl_error_set(err, JL_ETIMEOUT,
                            "stations: the query ran past its time limit of %lld ms; narrow it "
                            "with series= or a shorter range",
                            (long long)budget);
    out->timeout_ms = left;
    /* Rows flow into per-series state, not into a response. */
    out->max_rows = UINT64_MAX;
    return JL_OK;
}

static int run_pass(st_store *store, hl_pass *p, const qp_selector *selector, const hl_plan *plan,
                    int64_t from_ms, int64_t to_ms, int64_t started_ns, jl_error *err)
{
    qx_sink sink = {p, pass_begin, pass_row, pass_end};
    qx_limits limits;
    int rc = call_limits(p->request, started_ns, &limits, err);
    if (rc != JL_OK)
        return rc;
    if (p->pass == 1)
        return qx_series(store, selector, &limits, 0, &sink, err);
    if (plan->count == 0)
        return JL_OK; /* no station has a series of this metric */
    qx_query_request q;
    memset(&q, 0, sizeof q);
    q.selector = selector;
    q.from_ms = from_ms;
    q.to_ms = to_ms;
    q.with_flags = p->pass == 2;
    q.limits = limits;
    /* Some series of the metric belong to no station: select the stations' series by their tag
     * value (the union of one selector per station) instead of reading those too. */
    qp_selector *by_station = NULL;
    if (plan->untagged && selector->matcher_count < QP_MAX_MATCHERS) {
        by_station = malloc(plan->count * sizeof *by_station);
        if (by_station == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory");
        for (size_t i = 0; i < plan->count; i++) {
            by_station[i] = *selector;
            by_station[i].matchers[selector->matcher_count] =
                (qp_matcher){p->result->station_tag, plan->stations[i]->value, 0};
            by_station[i].matcher_count = selector->matcher_count + 1;
        }
        q.selector = &by_station[0];
        q.more_selectors = by_station + 1;
        q.more_selector_count = plan->count - 1;
    }
    rc = qx_query(store, &q, &sink, err);
    free(by_station);
    return rc;
}

static void finish_stations(hl_result *r)
{
    for (size_t i = 0; i < r->series_count; i++) {
        hl_series *s = &r->series[i];
        hl_station *st = s->station;
        int has_last = 1;
        int64_t last = 0;
        if (s->has_last_in_range)
            last = s->last_in_range_ms;
        else if (s->has_last_overall && s->last_overall_ms < r->to_ms)
            last = s->last_overall_ms;
        else if (s->has_carry)
            last = s->carry_ms;
        else
            has_last = 0;
        if (!has_last)
            continue;
        if (!st->has_last || last > st->last_ms)
            st->last_ms = last;
        st->has_last = 1;
        if (s->off_ms > 0 && last + s->off_ms > r->to_ms)
            st->online_at_to = 1;
    }
    double range = (double)(r->to_ms - r->from_ms);
    for (size_t i = 0; i < r->station_count; i++) {
        hl_station *st = r->stations[i];
        int64_t online = 0;
        for (size_t k = 0; k < st->online_count; k++)
            online += st->online[k].to_ms - st->online[k].from_ms;
        st->online_rate = (double)online / range;
        if (st->has_expected) {
            double c = (double)st->cadenced / st->expected;
            double v = (double)st->cadenced_valid / st->expected;
            st->capture_rate = c > 1 ? 1 : c;
            st->valid_rate = v > 1 ? 1 : v;
        }
    }
}

static int compare_group_values(const char *a, size_t alen, const char *b, size_t blen)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    return compare_bytes(a, alen, b, blen);
}

static int build_groups(hl_result *r)
{
    r->groups = calloc(r->station_count ? r->station_count : 1, sizeof *r->groups);
    if (r->groups == NULL)
        return JL_ENOMEM;
    for (size_t i = 0; i < r->station_count; i++) {
        hl_station *st = r->stations[i];
        size_t lo = 0, hi = r->group_count;
        int found = 0;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = compare_group_values(r->groups[mid].value, r->groups[mid].value_len, st->group,
                                         st->group_len);
            if (c == 0) {
                lo = mid;
                found = 1;
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!found) {
            memmove(r->groups + lo + 1, r->groups + lo, (r->group_count - lo) * sizeof *r->groups);
            memset(&r->groups[lo], 0, sizeof r->groups[lo]);
            r->groups[lo].value = st->group;
            r->groups[lo].value_len = st->group_len;
            r->group_count++;
        }
        hl_group *g = &r->groups[lo];
        g->stations++;
        g->online += (uint64_t)st->online_at_to;
        g->readings += st->readings;
        g->valid_readings += st->valid_readings;
        g->expected += st->expected;
        g->online_rate_sum += st->online_rate;
        if (st->has_expected) {
            g->capture_sum += st->capture_rate;
            g->valid_sum += st->valid_rate;
            g->capture_count++;
            g->valid_count++;
        }
        if (st->has_last && (!g->has_last || st->last_ms > g->last_ms)) {
            g->last_ms = st->last_ms;
            g->has_last = 1;
        }
    }
    return JL_OK;
}

int hl_run(st_store *store, const hl_request *request, hl_result **out, jl_error *err)
{
    *out = NULL;
    int64_t started = jl_monotonic_ns();
    const char *station_tag = request->station_tag ? request->station_tag : "station";
    const char *group_tag = request->group_tag ? request->group_tag : "district";
    if (request->from_ms >= request->to_ms)
        return jl_error_set(err, JL_EINVAL, "parameter from: must be before to");
    if (request->offline_after_ms < 0 || request->offline_after_ms > HL_MAX_OFFLINE_AFTER_MS)
        return jl_error_set(err, JL_EINVAL, "parameter offline_after: must be from 0 to 366 days");
    if (station_tag[0] == '\0' || group_tag[0] == '\0' || strcmp(station_tag, group_tag) == 0)
        return jl_error_set(err, JL_EINVAL,
                            "parameter by: the station tag and the district tag must be two "
                            "different, non-empty tag names");
    hl_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    r->aggregate = request->aggregate;
    r->from_ms = request->from_ms;
    r->to_ms = request->to_ms;
    r->station_tag = copy_string(station_tag);
    r->group_tag = copy_string(group_tag);
    st_name_list metrics;
    memset(&metrics, 0, sizeof metrics);
    hl_pass p;
    memset(&p, 0, sizeof p);
    p.result = r;
    p.request = request;
    jl_buf_init(&p.key);
    jl_buf_init(&p.pending_station);
    jl_buf_init(&p.pending_group);
    int rc = r->station_tag && r->group_tag ? JL_OK : JL_ENOMEM;
    size_t metric_count = 1;
    if (rc == JL_OK && request->series == NULL) {
        rc = st_discover_metrics(store, 0, &metrics, err);
        metric_count = metrics.count;
    }
    hl_plan *plans = calloc(metric_count ? metric_count : 1, sizeof *plans);
    if (rc == JL_OK && plans == NULL)
        rc = JL_ENOMEM;
    /* One selector per metric: the request's, or a bare metric name. */
    for (int pass = 1; rc == JL_OK && pass <= 3; pass++) {
        p.pass = pass;
        int64_t lookback = 0;
        if (pass == 3) {
            for (size_t i = 0; i < r->series_count; i++)
                if (r->series[i].off_ms > lookback)
                    lookback = r->series[i].off_ms;
            if (lookback == 0)
                break;
            if (lookback > request->from_ms - JL_MIN_MS)
                lookback = request->from_ms - JL_MIN_MS;
            if (lookback == 0)
                break;
        }
        for (size_t m = 0; rc == JL_OK && m < metric_count; m++) {
            qp_selector bare;
            memset(&bare, 0, sizeof bare);
            const qp_selector *selector = request->series;
            if (selector == NULL) {
                bare.metric = metrics.items[m].name;
                selector = &bare;
            }
            p.plan = &plans[m];
            p.metric_index = m;
            if (pass == 1)
                rc = run_pass(store, &p, selector, &plans[m], 0, 0, started, err);
            else if (pass == 2)
                rc = run_pass(store, &p, selector, &plans[m], request->from_ms, request->to_ms,
                              started, err);
            else
                rc = run_pass(store, &p, selector, &plans[m], request->from_ms - lookback,
                              request->from_ms, started, err);
        }
        if (rc == JL_OK && pass == 1 && r->series_count > 0)
            qsort(r->series, r->series_count, sizeof *r->series, compare_series);
    }
    /* Carried-in readings: up from from until their interval ends. */
    for (size_t i = 0; rc == JL_OK && i < r->series_count; i++) {
        hl_series *s = &r->series[i];
        if (!s->has_carry || s->carry_ms + s->off_ms <= request->from_ms)
            continue;
        hl_interval iv = {request->from_ms, s->carry_ms + s->off_ms};
        if (iv.to_ms > request->to_ms)
            iv.to_ms = request->to_ms;
        rc = merge_intervals(s->station, &iv, 1);
    }
    if (rc == JL_OK) {
        finish_stations(r);
        rc = build_groups(r);
    }
    if (rc == JL_ENOMEM && err && err->message[0] == '\0')
        jl_error_set(err, JL_ENOMEM, "out of memory computing station health");
    jl_buf_destroy(&p.key);
    jl_buf_destroy(&p.pending_station);
    jl_buf_destroy(&p.pending_group);
    free(p.times);
    free(p.scratch);
    for (size_t m = 0; plans && m < metric_count; m++)
        free(plans[m].stations);
    free(plans);
    st_name_list_destroy(&metrics);
    if (rc != JL_OK) {
        hl_result_free(r);
        return rc;
    }
    *out = r;
    return JL_OK;
}

/* ---------- output ---------- */

static qx_cell int_cell(int64_t v)
{
    qx_cell c = {QX_CELL_INT, {.i = v}};
    return c;
}

static qx_cell double_cell(double v)
{
    qx_cell c = {QX_CELL_DOUBLE, {.d = v}};
    return c;
}

static qx_cell null_cell(void)
{
    qx_cell c = {QX_CELL_NULL, {.i = 0}};
    return c;
}

static int emit_one(const qx_sink *sink, const char *metric, sk_tag *tags, size_t tag_count,
                    const char *const *columns, const qx_cell *cells, size_t count)
{
    if (tag_count == 2 && strcmp(tags[0].key.data, tags[1].key.data) > 0) {
        sk_tag t = tags[0];
        tags[0] = tags[1];
        tags[1] = t;
    }
    int rc = sink->series_begin(sink->context, (sk_text){metric, strlen(metric)}, tags, tag_count,
                                columns, count);
    if (rc == JL_OK)
        rc = sink->row(sink->context, cells, count);
    if (rc == JL_OK)
        rc = sink->series_end(sink->context);
    return rc;
}

int hl_emit(const hl_result *r, const qx_sink *sink)
{
    static const char *const station_columns[] = {"last",         "online",         "online_rate",
                                                  "capture_rate", "valid_rate",     "cadence_ms",
                                                  "readings",     "valid_readings", "expected"};
    static const char *const group_columns[] = {
        "last",         "stations",   "online",   "offline",        "online_rate",
        "capture_rate", "valid_rate", "readings", "valid_readings", "expected"};
    sk_text station_key = {r->station_tag, strlen(r->station_tag)};
    sk_text group_key = {r->group_tag, strlen(r->group_tag)};
    int rc = JL_OK;
    if (!r->aggregate) {
        for (size_t i = 0; rc == JL_OK && i < r->station_count; i++) {
            const hl_station *st = r->stations[i];
            sk_tag tags[2];
            size_t tag_count = 0;
            tags[tag_count++] = (sk_tag){station_key, {st->value, st->value_len}};
            if (st->group)
                tags[tag_count++] = (sk_tag){group_key, {st->group, st->group_len}};
            qx_cell cells[9];
            cells[0] = st->has_last ? int_cell(st->last_ms) : null_cell();
            cells[1] = (qx_cell){QX_CELL_BOOL, {.i = st->online_at_to}};
            cells[2] = double_cell(st->online_rate);
            cells[3] = st->has_expected ? double_cell(st->capture_rate) : null_cell();
            cells[4] = st->has_expected ? double_cell(st->valid_rate) : null_cell();
            cells[5] = st->has_expected ? int_cell(st->cadence_ms) : null_cell();
            cells[6] = int_cell((int64_t)st->readings);
            cells[7] = int_cell((int64_t)st->valid_readings);
            cells[8] = double_cell(st->expected);
            rc = emit_one(sink, "station_health", tags, tag_count, station_columns, cells, 9);
        }
        return rc;
    }
    for (size_t i = 0; rc == JL_OK && i < r->group_count; i++) {
        const hl_group *g = &r->groups[i];
        sk_tag tags[1];
        size_t tag_count = 0;
        if (g->value)
            tags[tag_count++] = (sk_tag){group_key, {g->value, g->value_len}};
        qx_cell cells[10];
        cells[0] = g->has_last ? int_cell(g->last_ms) : null_cell();
        cells[1] = int_cell((int64_t)g->stations);
        cells[2] = int_cell((int64_t)g->online);
        cells[3] = int_cell((int64_t)(g->stations - g->online));
        cells[4] = double_cell(g->online_rate_sum / (double)g->stations);
        cells[5] =
            g->capture_count ? double_cell(g->capture_sum / (double)g->capture_count) : null_cell();
        cells[6] =
            g->valid_count ? double_cell(g->valid_sum / (double)g->valid_count) : null_cell();
        cells[7] = int_cell((int64_t)g->readings);
        cells[8] = int_cell((int64_t)g->valid_readings);
        cells[9] = double_cell(g->expected);
        rc = emit_one(sink, "district_health", tags, tag_count, group_columns, cells, 10);
    }
    return rc;
}
