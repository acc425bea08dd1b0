/* Water-quality answers (jialing/water.h): per site and parameter, the daily mean and count of the
 * valid readings and the count of all readings come from qx_query() (windows of 1d in the
 * request's zone, series of a site merged); days, months and years, classes and multiples are
 * computed here from those daily figures.
 *
 * Validity: a day's value is the mean of its valid readings when it has at least min_readings of
 * them; a month's value is the mean of its valid days' values when it has at least min_days of
 * them; a year's value is the mean of its valid months' values when it has at least min_months.
 * Anything else is null with the reason, never a number from too little data. */
#include "jialing/water.h"
#include "jialing/calendar.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One parameter in one window. */
typedef struct wq_value {
    int has;          /* the window has a valid mean */
    double mean;      /* when has */
    int water_class;  /* 1..6, 0: none (no mean, or no class for the item here) */
    int has_multiple; /* multiple defined */
    double multiple;  /* when has_multiple */
    uint64_t valid;   /* valid readings in the window */
    uint64_t invalid; /* other readings in the window */
    uint32_t units;   /* month: valid days; year: valid months */
    char reason[96];  /* why there is no mean, "" when has */
} wq_value;

/* One window of a site. */
typedef struct wq_row {
    int water_class;   /* 1..6, 0: null */
    int meets;         /* 1, 0, or -1: null */
    uint32_t decisive; /* bit i: params[i] decides the class */
} wq_row;

typedef struct wq_series {
    const si_site *site;
    uint32_t reviewed; /* bit i: a review mark in force touches a series of params[i] */
    uint32_t series;   /* bit i: params[i] has at least one series */
    qx_mark_set marks; /* review marks in force over the range, ascending; owned */
    wq_row *rows;      /* window_count */
    wq_value *values;  /* window_count * param_count */
} wq_series;

struct wq_result {
    wq_request request; /* sites borrowed; params points at own copy */
    wq_param params[WQ_PARAM_COUNT];
    int64_t *windows; /* window_count + 1 boundaries */
    size_t window_count;
    wq_series *series;
    size_t series_count;
};

/* Daily figures of one site and parameter. */
typedef struct daily {
    int64_t *starts; /* day_count + 1 boundaries */
    size_t day_count;
    double *mean;    /* of the valid readings */
    uint64_t *valid; /* valid readings */
    uint64_t *total; /* all readings */
} daily;

static int is_lake(const si_site *site)
{
    return site->kind == SI_KIND_LAKE || site->kind == SI_KIND_RESERVOIR;
}

void wq_result_free(wq_result *result)
{
    if (result == NULL)
        return;
    for (size_t i = 0; i < result->series_count; i++) {
        free(result->series[i].rows);
        free(result->series[i].values);
        qx_mark_set_free(&result->series[i].marks);
    }
    free(result->series);
    free(result->windows);
    free(result);
}

/* Boundaries of the windows of unit covering [from, to): starts[0] <= from, starts[n] >= to. */
static int make_grid(const tz_zone *zone, tz_unit unit, int64_t from, int64_t to, uint64_t max,
                     int64_t **out, size_t *count, jl_error *err)
{
    size_t cap = 64, n = 0;
    int64_t *starts = malloc(cap * sizeof *starts);
    if (starts == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    starts[0] = tz_unit_start(zone, unit, 1, from);
    while (starts[n] < to) {
        if (n + 2 > cap) {
            cap *= 2;
            int64_t *grown = realloc(starts, cap * sizeof *grown);
            if (grown == NULL) {
                free(starts);
                return jl_error_set(err, JL_ENOMEM, "out of memory");
            }
            starts = grown;
        }
        starts[n + 1] = tz_unit_next(zone, unit, 1, starts[n]);
        n++;
        if (n > max) {
            free(starts);
            return jl_error_set(err, JL_ELIMIT,
                                "the range holds more than %llu %s; narrow from and to (at most "
                                "--max-windows windows and %d days)",
                                (unsigned long long)max, unit == TZ_UNIT_DAY ? "days" : "windows",
                                WQ_MAX_DAYS);
        }
    }
    *out = starts;
    *count = n;
    return JL_OK;
}

/* Index of the window holding t (starts ascending, t within them), by bisection. */
static size_t window_index(const int64_t *starts, size_t count, int64_t t)
{
    size_t lo = 0, hi = count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (starts[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Sink collecting the daily rows of one qx_query into a daily. */
typedef struct collect {
    daily *d;
    int all; /* 1: the count of all readings (columns time,count); 0: time,mean,count */
} collect;

static int collect_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                         const char *const *columns, size_t column_count)
{
    (void)context, (void)metric, (void)tags, (void)tag_count, (void)columns, (void)column_count;
    return JL_OK;
}

static int collect_row(void *context, const qx_cell *cells, size_t cell_count)
{
    collect *c = context;
    daily *d = c->d;
    if (cell_count < 2 || cells[0].type != QX_CELL_INT)
        return JL_OK;
    int64_t t = cells[0].as.i;
    if (t < d->starts[0] || t >= d->starts[d->day_count])
        return JL_OK;
    size_t i = window_index(d->starts, d->day_count, t);
    if (c->all) {
        if (cells[1].type == QX_CELL_INT)
            d->total[i] += (uint64_t)cells[1].as.i;
    } else if (cell_count >= 3 && cells[2].type == QX_CELL_INT) {
        d->valid[i] += (uint64_t)cells[2].as.i;
        if (cells[1].type == QX_CELL_DOUBLE)
            d->mean[i] = cells[1].as.d;
    }
    return JL_OK;
}

static int collect_end(void *context)
{
    (void)context;
    return JL_OK;
}

/* Runs the two daily queries of site and param into d (zeroed counts). */
static int query_daily(st_store *store, const wq_request *rq, const si_site *site, wq_param param,
                       daily *d, jl_error *err)
{
    qp_selector sel;
    int rc = si_selector(site, si_metric_for(site, wq_param_name(param)), &sel, err);
    if (rc != JL_OK)
        return rc;
    for (int pass = 0; pass < 2 && rc == JL_OK; pass++) {
        qx_query_request q;
        memset(&q, 0, sizeof q);
        q.selector = &sel;
        q.from_ms = rq->from_ms;
        q.to_ms = rq->to_ms;
        q.has_window = 1;
        q.window.ms = 86400000;
        q.zone = rq->zone;
        q.group = 1; /* every series of the site merged: one daily figure */
        q.fill = QX_FILL_NONE;
        q.limits = rq->limits;
        if (pass == 0) {
            q.flags = rq->flags;
            q.aggregates[0] = QX_AGG_MEAN;
            q.aggregates[1] = QX_AGG_COUNT;
            q.aggregate_count = 2;
        } else {
            q.flags.mask = JL_FLAG_MASK_ALL;
            q.flags.reviews = 0;
            q.aggregates[0] = QX_AGG_COUNT;
            q.aggregate_count = 1;
        }
        collect c = {d, pass == 1};
        qx_sink sink = {&c, collect_begin, collect_row, collect_end};
        rc = qx_query(store, &q, &sink, err);
    }
    qp_selector_destroy(&sel);
    return rc;
}

/* What the store says of a site's series for one parameter: whether there is any, and the review
 * marks in force whose spans overlap the request's range, added to marks (qx_review_marks). */
static int probe_reviews(st_store *store, const wq_request *rq, const si_site *site, wq_param param,
                         qx_mark_set *marks, int *any_series, int *any_mark, jl_error *err)
{
    st_matcher matchers[1 + QP_MAX_MATCHERS];
    size_t n = 0;
    matchers[n++] = (st_matcher){"__name__", si_metric_for(site, wq_param_name(param)), 0};
    for (size_t i = 0; i < site->tag_count && n < 1 + QP_MAX_MATCHERS; i++)
        matchers[n++] = (st_matcher){site->tags[i].key, site->tags[i].value, 0};
    return qx_review_marks(store, matchers, n, rq->limits.max_series, rq->from_ms, rq->to_ms, marks,
                           any_series, any_mark, err);
}

/* Figures of one window [start, end) of a parameter from its daily figures. */
typedef struct figure {
    int has;
    double mean;
    uint64_t valid, invalid;
    uint32_t units; /* valid days (month) or months (year) */
} figure;

static void day_figure(const daily *d, size_t i, unsigned min_readings, figure *f)
{
    memset(f, 0, sizeof *f);
    f->valid = d->valid[i];
    f->invalid = d->total[i] > d->valid[i] ? d->total[i] - d->valid[i] : 0;
    f->has = d->valid[i] > 0 && d->valid[i] >= min_readings;
    f->mean = f->has ? d->mean[i] : 0;
}

static void month_figure(const daily *d, int64_t start, int64_t end, const wq_request *rq,
                         figure *f)
{
    memset(f, 0, sizeof *f);
    double sum = 0;
    /* Days are ascending: start at the month's first (bisection), stop after its last. */
    size_t first = start > d->starts[0] ? window_index(d->starts, d->day_count, start) : 0;
    for (size_t i = first; i < d->day_count && d->starts[i] < end; i++) {
        if (d->starts[i] < start)
            continue;
        figure day;
        day_figure(d, i, rq->min_readings, &day);
        f->valid += day.valid;
        f->invalid += day.invalid;
        if (day.has) {
            sum += day.mean;
            f->units++;
        }
    }
    f->has = f->units > 0 && f->units >= rq->min_days;
    f->mean = f->has ? sum / f->units : 0;
}

static void year_figure(const daily *d, int64_t start, int64_t end, const wq_request *rq, figure *f)
{
    memset(f, 0, sizeof *f);
    double sum = 0;
    for (int64_t m = start; m < end; m = tz_unit_next(rq->zone, TZ_UNIT_MONTH, 1, m)) {
        figure month;
        month_figure(d, m, tz_unit_next(rq->zone, TZ_UNIT_MONTH, 1, m), rq, &month);
        f->valid += month.valid;
        f->invalid += month.invalid;
        if (month.has) {
            sum += month.mean;
            f->units++;
        }
    }
    f->has = f->units > 0 && f->units >= rq->min_months;
    f->mean = f->has ? sum / f->units : 0;
}

static void fill_value(const wq_request *rq, const si_site *site, wq_param param, const figure *f,
                       wq_value *v)
{
    memset(v, 0, sizeof *v);
    v->valid = f->valid;
    v->invalid = f->invalid;
    v->units = f->units;
    if (!f->has) {
        if (rq->window == WQ_WINDOW_DAY) {
            if (f->valid == 0)
                snprintf(v->reason, sizeof v->reason, "%s",
                         f->invalid ? "no valid readings" : "no readings");
            else
                snprintf(v->reason, sizeof v->reason, "%llu valid readings, fewer than %u",
                         (unsigned long long)f->valid, rq->min_readings);
        } else if (rq->window == WQ_WINDOW_MONTH) {
            snprintf(v->reason, sizeof v->reason, "%u valid days, fewer than %u", f->units,
                     rq->min_days ? rq->min_days : 1);
        } else {
            snprintf(v->reason, sizeof v->reason, "%u valid months, fewer than %u", f->units,
                     rq->min_months ? rq->min_months : 1);
        }
        return;
    }
    v->has = 1;
    v->mean = f->mean;
    int lake = is_lake(site);
    v->water_class = wq_class_of(param, lake, f->mean);
    int ref = site->target ? site->target : 3;
    v->has_multiple = wq_multiple(param, lake, ref, f->mean, &v->multiple);
}

static int compute_series(st_store *store, wq_result *res, const int64_t *days, size_t day_count,
                          wq_series *s, jl_error *err)
{
    const wq_request *rq = &res->request;
    size_t pc = rq->param_count, wc = res->window_count;
    s->rows = calloc(wc ? wc : 1, sizeof *s->rows);
    s->values = calloc(wc * pc + 1, sizeof *s->values);
    daily d = {.starts = (int64_t *)days, .day_count = day_count};
    d.mean = calloc(day_count + 1, sizeof *d.mean);
    d.valid = calloc(day_count + 1, sizeof *d.valid);
    d.total = calloc(day_count + 1, sizeof *d.total);
    int rc = JL_OK;
    if (s->rows == NULL || s->values == NULL || d.mean == NULL || d.valid == NULL ||
        d.total == NULL)
        rc = jl_error_set(err, JL_ENOMEM, "out of memory");
    for (size_t p = 0; p < pc && rc == JL_OK; p++) {
        memset(d.mean, 0, (day_count + 1) * sizeof *d.mean);
        memset(d.valid, 0, (day_count + 1) * sizeof *d.valid);
        memset(d.total, 0, (day_count + 1) * sizeof *d.total);
        rc = query_daily(store, rq, s->site, rq->params[p], &d, err);
        int any_series = 0, any_mark = 0;
        if (rc == JL_OK)
            rc = probe_reviews(store, rq, s->site, rq->params[p], &s->marks, &any_series, &any_mark,
                               err);
        if (rc == JL_OK && any_series)
            s->series |= 1u << p;
        if (rc == JL_OK && any_mark)
            s->reviewed |= 1u << p;
        for (size_t w = 0; w < wc && rc == JL_OK; w++) {
            figure f;
            if (rq->window == WQ_WINDOW_DAY)
                day_figure(&d, window_index(days, day_count, res->windows[w]), rq->min_readings,
                           &f);
            else if (rq->window == WQ_WINDOW_MONTH)
                month_figure(&d, res->windows[w], res->windows[w + 1], rq, &f);
            else
                year_figure(&d, res->windows[w], res->windows[w + 1], rq, &f);
            fill_value(rq, s->site, rq->params[p], &f, &s->values[w * pc + p]);
        }
    }
    free(d.mean);
    free(d.valid);
    free(d.total);
    if (rc != JL_OK)
        return rc;
    /* The site class: the worst class among the assessed items that have one. */
    for (size_t w = 0; w < wc; w++) {
        wq_row *row = &s->rows[w];
        for (size_t p = 0; p < pc; p++) {
            const wq_value *v = &s->values[w * pc + p];
            if (wq_param_assessed(rq->params[p]) && v->water_class > row->water_class)
                row->water_class = v->water_class;
        }
        for (size_t p = 0; p < pc && row->water_class; p++) {
            const wq_value *v = &s->values[w * pc + p];
            if (wq_param_assessed(rq->params[p]) && v->water_class == row->water_class)
                row->decisive |= 1u << p;
        }
        row->meets = row->water_class && s->site->target ? row->water_class <= s->site->target : -1;
    }
    return JL_OK;
}

int wq_run(st_store *store, const wq_request *request, wq_result **out, jl_error *err)
{
    *out = NULL;
    jl_error_clear(err);
    if (request->from_ms >= request->to_ms)
        return jl_error_set(err, JL_EINVAL, "parameter from: must be before to");
    if (request->param_count == 0 || request->param_count > WQ_PARAM_COUNT)
        return jl_error_set(err, JL_EINVAL, "parameter params: 1 to %d parameters", WQ_PARAM_COUNT);
    if (request->zone == NULL)
        return jl_error_set(err, JL_EINVAL, "parameter tz: a zone is required");
    wq_result *res = calloc(1, sizeof *res);
    if (res == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    res->request = *request;
    memcpy(res->params, request->params, request->param_count * sizeof *request->params);
    res->request.params = res->params;
    uint64_t max = request->limits.max_windows ? request->limits.max_windows : 1000000;
    tz_unit unit = request->window == WQ_WINDOW_DAY     ? TZ_UNIT_DAY
                   : request->window == WQ_WINDOW_MONTH ? TZ_UNIT_MONTH
                                                        : TZ_UNIT_YEAR;
    int rc = make_grid(request->zone, unit, request->from_ms, request->to_ms, max, &res->windows,
                       &res->window_count, err);
    /* The days cover every window whole (a month's first day may precede from); they are bounded
     * by max_windows too, as the daily queries under them are. */
    int64_t *days = NULL;
    size_t day_count = 0;
    if (rc == JL_OK)
        rc = make_grid(request->zone, TZ_UNIT_DAY, res->windows[0], res->windows[res->window_count],
                       max < WQ_MAX_DAYS ? max : WQ_MAX_DAYS, &days, &day_count, err);
    uint64_t max_rows = request->limits.max_rows ? request->limits.max_rows : QX_DEFAULT_MAX_ROWS;
    if (rc == JL_OK && (uint64_t)res->window_count * request->site_count > max_rows)
        rc = jl_error_set(err, JL_ELIMIT,
                          "%zu windows for %zu sites are more than %llu rows (--max-rows); narrow "
                          "from and to or ask for fewer sites",
                          res->window_count, request->site_count, (unsigned long long)max_rows);
    if (rc == JL_OK && request->site_count > 0) {
        res->series = calloc(request->site_count, sizeof *res->series);
        if (res->series == NULL)
            rc = jl_error_set(err, JL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < request->site_count && rc == JL_OK; i++) {
        res->series[i].site = request->sites[i];
        res->series_count = i + 1;
        rc = compute_series(store, res, days, day_count, &res->series[i], err);
    }
    free(days);
    if (rc != JL_OK) {
        wq_result_free(res);
        return rc;
    }
    *out = res;
    return JL_OK;
}

/* ---- output ---- */

#define COLUMN_BYTES 24

int wq_emit(const wq_result *result, const qx_sink *sink)
{
    const wq_request *rq = &result->request;
    size_t pc = rq->param_count, cc = 3 + 3 * pc;
    char names[3 + 3 * WQ_PARAM_COUNT][COLUMN_BYTES];
    const char *columns[3 + 3 * WQ_PARAM_COUNT];
    snprintf(names[0], COLUMN_BYTES, "time");
    snprintf(names[1], COLUMN_BYTES, "class");
    snprintf(names[2], COLUMN_BYTES, "meets_target");
    for (size_t p = 0; p < pc; p++) {
        const char *n = wq_param_name(rq->params[p]);
        snprintf(names[3 + 3 * p], COLUMN_BYTES, "%s", n);
        snprintf(names[4 + 3 * p], COLUMN_BYTES, "%s_class", n);
        snprintf(names[5 + 3 * p], COLUMN_BYTES, "%s_multiple", n);
    }
    for (size_t i = 0; i < cc; i++)
        columns[i] = names[i];
    qx_cell cells[3 + 3 * WQ_PARAM_COUNT];
    for (size_t i = 0; i < result->series_count; i++) {
        const wq_series *s = &result->series[i];
        const si_site *site = s->site;
        sk_tag tags[SI_MAX_INDICATORS + QP_MAX_MATCHERS];
        size_t tag_count = 0;
        if (site->id != NULL) {
            /* Sorted by key, as series tags are. */
            tags[0] = (sk_tag){{"district", 8}, {site->district, strlen(site->district)}};
            const char *kind = si_kind_name(site->kind);
            tags[1] = (sk_tag){{"kind", 4}, {kind, strlen(kind)}};
            tags[2] = (sk_tag){{"site", 4}, {site->id, strlen(site->id)}};
            tag_count = 3;
        } else {
            for (size_t t = 0; t < site->tag_count && t < QP_MAX_MATCHERS; t++)
                tags[tag_count++] = (sk_tag){{site->tags[t].key, strlen(site->tags[t].key)},
                                             {site->tags[t].value, strlen(site->tags[t].value)}};
        }
        int rc = sink->series_begin(sink->context, (sk_text){"water_quality", 13}, tags, tag_count,
                                    columns, cc);
        for (size_t w = 0; w < result->window_count && rc == JL_OK; w++) {
            const wq_row *row = &s->rows[w];
            cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = result->windows[w]};
            cells[1] = row->water_class ? (qx_cell){.type = QX_CELL_INT, .as.i = row->water_class}
                                        : (qx_cell){.type = QX_CELL_NULL};
            cells[2] = row->meets >= 0 ? (qx_cell){.type = QX_CELL_INT, .as.i = row->meets}
                                       : (qx_cell){.type = QX_CELL_NULL};
            for (size_t p = 0; p < pc; p++) {
                const wq_value *v = &s->values[w * pc + p];
                cells[3 + 3 * p] = v->has ? (qx_cell){.type = QX_CELL_DOUBLE, .as.d = v->mean}
                                          : (qx_cell){.type = QX_CELL_NULL};
                cells[4 + 3 * p] = v->water_class
                                       ? (qx_cell){.type = QX_CELL_INT, .as.i = v->water_class}
                                       : (qx_cell){.type = QX_CELL_NULL};
                cells[5 + 3 * p] = v->has_multiple
                                       ? (qx_cell){.type = QX_CELL_DOUBLE, .as.d = v->multiple}
                                       : (qx_cell){.type = QX_CELL_NULL};
            }
            rc = sink->row(sink->context, cells, cc);
        }
        if (rc == JL_OK)
            rc = sink->series_end(sink->context);
        if (rc != JL_OK)
            return rc;
    }
    return JL_OK;
}

static const char *window_name(wq_window w)
{
    return w == WQ_WINDOW_DAY ? "1d" : w == WQ_WINDOW_MONTH ? "1mo" : "1y";
}

static int set(json_t *obj, const char *key, json_t *value)
{
    return value != NULL && json_object_set_new(obj, key, value) == 0 ? 0 : 1;
}

static json_t *series_meta(const wq_result *res, const wq_series *s)
{
    const wq_request *rq = &res->request;
    size_t pc = rq->param_count;
    const si_site *site = s->site;
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= set(o, "site", site->id ? json_string(site->id) : json_null());
    bad |= set(o, "kind", json_string(si_kind_name(site->kind)));
    bad |= set(o, "target", site->target ? json_string(si_class_name(site->target)) : json_null());
    bad |= set(o, "reference_class", json_string(si_class_name(site->target ? site->target : 3)));
    bad |= set(o, "tp_limits", json_string(is_lake(site) ? "lake/reservoir" : "river"));
    json_t *metrics = json_object(), *reviewed = json_array(), *missing = json_array();
    for (size_t p = 0; metrics && reviewed && missing && p < pc; p++) {
        const char *name = wq_param_name(rq->params[p]);
        bad |= set(metrics, name, json_string(si_metric_for(site, name)));
        if (s->reviewed & (1u << p))
            bad |= json_array_append_new(reviewed, json_string(name)) != 0;
        if (!(s->series & (1u << p)))
            bad |= json_array_append_new(missing, json_string(name)) != 0;
    }
    bad |= set(o, "metrics", metrics);
    /* The parameters whose series a review mark in force touches: their valid readings are what
     * the marks decide (flags=valid), not the device flags alone. */
    bad |= set(o, "reviewed", reviewed);
    json_t *marks = json_array();
    for (size_t k = 0; marks && k < s->marks.count; k++)
        bad |= json_array_append_new(marks, json_integer((json_int_t)s->marks.ids[k])) != 0;
    bad |= set(o, "review_marks", marks);
    bad |= set(o, "no_series", missing);
    json_t *windows = json_array();
    for (size_t w = 0; windows && w < res->window_count; w++) {
        const wq_row *row = &s->rows[w];
        json_t *wo = json_object(), *decisive = json_array(), *valid = json_object(),
               *invalid = json_object(), *nulls = json_object(), *units = json_object();
        bad |= wo == NULL || decisive == NULL || valid == NULL || invalid == NULL ||
               nulls == NULL || units == NULL;
        if (bad) {
            json_decref(wo), json_decref(decisive), json_decref(valid), json_decref(invalid);
            json_decref(nulls), json_decref(units);
            break;
        }
        for (size_t p = 0; p < pc; p++) {
            const wq_value *v = &s->values[w * pc + p];
            const char *name = wq_param_name(rq->params[p]);
            if (row->decisive & (1u << p))
                bad |= json_array_append_new(decisive, json_string(name)) != 0;
            bad |= set(valid, name, json_integer((json_int_t)v->valid));
            bad |= set(invalid, name, json_integer((json_int_t)v->invalid));
            if (rq->window != WQ_WINDOW_DAY)
                bad |= set(units, name, json_integer((json_int_t)v->units));
            if (!v->has)
                bad |= set(nulls, name, json_string(v->reason));
        }
        bad |= set(wo, "time", json_integer((json_int_t)res->windows[w]));
        bad |= set(wo, "decisive", decisive);
        bad |= set(wo, "valid_readings", valid);
        bad |= set(wo, "invalid_readings", invalid);
        if (rq->window == WQ_WINDOW_MONTH)
            bad |= set(wo, "valid_days", units);
        else if (rq->window == WQ_WINDOW_YEAR)
            bad |= set(wo, "valid_months", units);
        else
            json_decref(units);
        bad |= set(wo, "null_reasons", nulls);
        bad |= json_array_append_new(windows, wo) != 0;
    }
    bad |= set(o, "windows", windows);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int wq_meta_json(const wq_result *res, jl_buf *out)
{
    const wq_request *rq = &res->request;
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= set(o, "standard", json_string("GB 3838-2002"));
    bad |= set(o, "method",
               json_string("single-factor: the worst assessed item (地表水环境质量评价办法"
                           "(试行), 环办[2011]22号); TN and fecal coliform not "
                           "assessed"));
    json_t *grid = json_object();
    bad |= set(grid, "window", json_string(window_name(rq->window)));
    bad |= set(grid, "tz", json_string(tz_zone_name(rq->zone)));
    bad |= set(grid, "from", json_integer((json_int_t)rq->from_ms));
    bad |= set(grid, "to", json_integer((json_int_t)rq->to_ms));
    bad |= set(grid, "windows", json_integer((json_int_t)res->window_count));
    bad |= set(o, "grid", grid);
    json_t *validity = json_object();
    bad |= set(validity, "flags", json_string("valid"));
    bad |= set(validity, "min_readings_per_day", json_integer(rq->min_readings));
    bad |= set(validity, "min_days_per_month", json_integer(rq->min_days));
    bad |= set(validity, "min_months_per_year", json_integer(rq->min_months));
    bad |= set(validity, "day", json_string("mean of the day's valid readings"));
    bad |= set(validity, "month", json_string("mean of the month's valid daily means"));
    bad |= set(validity, "year", json_string("mean of the year's valid monthly means"));
    bad |= set(o, "validity", validity);
    json_t *series = json_array();
    for (size_t i = 0; series && i < res->series_count; i++) {
        json_t *s = series_meta(res, &res->series[i]);
        bad |= s == NULL || json_array_append_new(series, s) != 0;
    }
    bad |= set(o, "series", series);
    char *text = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (text == NULL)
        return JL_ENOMEM;
    int rc = jl_buf_append_str(out, text);
    free(text);
    return rc;
}

/* ---- monthly section assessment ---- */

/* One indicator's judgement in one month. */
typedef struct judged {
    const char *name; /* "class" or the parameter */
    int has;          /* a value to judge */
    double value;     /* class (1..6) or the monthly mean */
    double baseline;  /* baseline class (1..5) or concentration */
    int met;
    int has_multiple; /* short with a multiple */
    double multiple;
} judged;

/* The values of month w of series s for param, or NULL when param was not asked. */
static const wq_value *value_of(const wq_result *res, const wq_series *s, size_t w, wq_param param)
{
    for (size_t p = 0; p < res->request.param_count; p++)
        if (res->request.params[p] == param)
            return &s->values[w * res->request.param_count + p];
    return NULL;
}

static void judge_month(const wq_result *res, const wq_series *s, size_t w, judged *out)
{
    const si_site *site = s->site;
    const si_agreement *a = &site->agreement;
    int lake = is_lake(site);
    for (size_t i = 0; i < a->indicator_count; i++) {
        judged *j = &out[i];
        memset(j, 0, sizeof *j);
        const si_indicator *ind = &a->indicators[i];
        if (ind->param == NULL) {
            j->name = "class";
            j->baseline = a->baseline_class;
            int cls = s->rows[w].water_class;
            j->has = cls != 0;
            j->value = cls;
            j->met = j->has && cls <= a->baseline_class;
            if (j->has && !j->met) {
                for (size_t p = 0; p < res->request.param_count; p++) {
                    wq_param param = res->request.params[p];
                    const wq_value *v = &s->values[w * res->request.param_count + p];
                    double m;
                    if (wq_param_assessed(param) && v->has &&
                        wq_multiple(param, lake, a->baseline_class, v->mean, &m) &&
                        (!j->has_multiple || m > j->multiple)) {
                        j->multiple = m;
                        j->has_multiple = 1;
                    }
                }
                if (j->has_multiple && j->multiple == 0)
                    j->has_multiple = 0; /* short by pH alone: no multiple */
            }
            continue;
        }
        j->name = ind->param;
        j->baseline = ind->baseline;
        int param = wq_param_from_name(ind->param);
        const wq_value *v = param >= 0 ? value_of(res, s, w, (wq_param)param) : NULL;
        j->has = v != NULL && v->has;
        if (!j->has)
            continue;
        j->value = v->mean;
        int floor = param == WQ_DO;
        j->met = floor ? v->mean >= ind->baseline : v->mean <= ind->baseline;
        if (!j->met && ind->baseline > 0) {
            j->has_multiple = 1;
            j->multiple = floor ? (ind->baseline - v->mean) / ind->baseline
                                : (v->mean - ind->baseline) / ind->baseline;
        }
    }
}

/* The month's verdict: 0 insufficient, 1 met, -1 short; *amount set when judged. */
static int verdict_of(const si_agreement *a, const judged *j, double *amount)
{
    int all_met = 1;
    double units = 0;
    for (size_t i = 0; i < a->indicator_count; i++) {
        if (!j[i].has)
            return 0;
        if (!j[i].met) {
            all_met = 0;
            double u = j[i].has_multiple ? j[i].multiple : 1.0;
            if (u > units)
                units = u;
        }
    }
    if (a->amount_rule == SI_AMOUNT_FIXED)
        *amount = a->amount;
    else
        *amount = a->amount * (all_met ? 1.0 : units);
    if (a->amount_rule == SI_AMOUNT_MULTIPLE && a->cap > 0 && *amount > a->cap)
        *amount = a->cap;
    return all_met ? 1 : -1;
}

/* "2025-01" for the month starting at t in zone. */
static void month_label(const tz_zone *zone, int64_t t, char out[16])
{
    int64_t local = t + tz_offset_at(zone, t);
    int64_t year;
    unsigned month, day;
    cal_civil_from_days(cal_floor_div(local, 86400000), &year, &month, &day);
    snprintf(out, 16, "%04lld-%02u", (long long)year, month);
}

/* Appends one CSV field (RFC 4180: quoted when it holds a comma, quote, CR or LF). */
static int csv_field(jl_buf *out, const char *text, int last)
{
    int quote = strpbrk(text, ",\"\r\n") != NULL;
    int rc = quote ? jl_buf_append(out, "\"", 1) : JL_OK;
    for (const char *p = text; rc == JL_OK && *p; p++)
        rc = *p == '"' ? jl_buf_append(out, "\"\"", 2) : jl_buf_append(out, p, 1);
    if (rc == JL_OK && quote)
        rc = jl_buf_append(out, "\"", 1);
    if (rc == JL_OK)
        rc = last ? jl_buf_append(out, "\r\n", 2) : jl_buf_append(out, ",", 1);
    return rc;
}

static void format_number(double d, char out[32])
{
    /* Shortest form that reads back to d (as the JSON writer prints doubles). */
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(out, 32, "%.*g", precision, d);
        if (strtod(out, NULL) == d)
            return;
    }
}

/* The indicators as one audit text: "class=IV>III; codmn=4.2>4". */
static void indicators_text(const si_agreement *a, const judged *j, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < a->indicator_count && used < cap; i++) {
        char value[32], base[32];
        if (!j[i].has) {
            snprintf(value, sizeof value, "null");
        } else if (j[i].name[0] == 'c' && strcmp(j[i].name, "class") == 0) {
            snprintf(value, sizeof value, "%s", si_class_name((int)j[i].value));
        } else {
            format_number(j[i].value, value);
        }
        if (strcmp(j[i].name, "class") == 0)
            snprintf(base, sizeof base, "%s", si_class_name((int)j[i].baseline));
        else
            format_number(j[i].baseline, base);
        const char *op = !j[i].has ? "?" : j[i].met ? "<=" : ">";
        if (j[i].has && strcmp(j[i].name, "do") == 0)
            op = j[i].met ? ">=" : "<";
        int n = snprintf(out + used, cap - used, "%s%s=%s%s%s", i ? "; " : "", j[i].name, value, op,
                         base);
        used += n > 0 ? (size_t)n : 0;
    }
}

static int assess_site(st_store *store, const wq_request *request, const si_site *site, int csv,
                       json_t *sites_json, jl_buf *out, jl_error *err)
{
    const si_agreement *a = &site->agreement;
    wq_param params[WQ_PARAM_COUNT];
    size_t pc = 0;
    int want_class = 0;
    for (size_t i = 0; i < a->indicator_count; i++)
        want_class |= a->indicators[i].param == NULL;
    if (want_class) {
        static const wq_param defaults[] = {WQ_NH3N, WQ_COD, WQ_CODMN, WQ_TP,
                                            WQ_TN,   WQ_DO,  WQ_PH,    WQ_BOD5};
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
            params[pc++] = defaults[i];
    }
    for (size_t i = 0; i < a->indicator_count; i++) {
        int p = a->indicators[i].param ? wq_param_from_name(a->indicators[i].param) : -1;
        int dup = p < 0;
        for (size_t k = 0; k < pc && !dup; k++)
            dup = (int)params[k] == p;
        if (!dup)
            params[pc++] = (wq_param)p;
    }
    wq_request sub = *request;
    const si_site *one[1] = {site};
    sub.sites = one;
    sub.site_count = 1;
    sub.params = params;
    sub.param_count = pc;
    sub.window = WQ_WINDOW_MONTH;
    wq_result *res = NULL;
    int rc = wq_run(store, &sub, &res, err);
    if (rc != JL_OK)
        return rc;
    const wq_series *s = &res->series[0];
    json_t *months = csv ? NULL : json_array();
    int bad = !csv && months == NULL;
    for (size_t w = 0; w < res->window_count && rc == JL_OK && !bad; w++) {
        judged j[SI_MAX_INDICATORS];
        judge_month(res, s, w, j);
        double amount = 0;
        int verdict = verdict_of(a, j, &amount);
        char label[16], ind_text[512], reason[160] = "";
        month_label(request->zone, res->windows[w], label);
        indicators_text(a, j, ind_text, sizeof ind_text);
        if (verdict == 0) {
            size_t used = (size_t)snprintf(reason, sizeof reason, "insufficient valid data:");
            for (size_t i = 0; i < a->indicator_count && used < sizeof reason; i++)
                if (!j[i].has)
                    used += (size_t)snprintf(reason + used, sizeof reason - used, " %s", j[i].name);
        }
        const char *payer = verdict > 0 ? site->downstream : verdict < 0 ? site->upstream : "";
        const char *payee = verdict > 0 ? site->upstream : verdict < 0 ? site->downstream : "";
        const char *vtext = verdict > 0 ? "met" : verdict < 0 ? "short" : "insufficient data";
        if (csv) {
            char t[32], cls[16], amt[32];
            snprintf(t, sizeof t, "%lld", (long long)res->windows[w]);
            snprintf(cls, sizeof cls, "%s",
                     s->rows[w].water_class ? si_class_name(s->rows[w].water_class) : "");
            if (verdict != 0)
                format_number(amount, amt);
            else
                amt[0] = '\0';
            const char *fields[] = {site->id,
                                    label,
                                    t,
                                    cls,
                                    site->target ? si_class_name(site->target) : "",
                                    a->baseline_class ? si_class_name(a->baseline_class) : "",
                                    ind_text,
                                    vtext,
                                    payer,
                                    payee,
                                    amt,
                                    reason};
            size_t nf = sizeof fields / sizeof fields[0];
            for (size_t f = 0; f < nf && rc == JL_OK; f++)
                rc = csv_field(out, fields[f], f + 1 == nf);
            continue;
        }
        json_t *m = json_object(), *inds = json_array();
        bad |= m == NULL || inds == NULL;
        for (size_t i = 0; !bad && i < a->indicator_count; i++) {
            json_t *io = json_object();
            int is_class = strcmp(j[i].name, "class") == 0;
            bad |= set(io, "indicator", json_string(j[i].name));
            bad |= set(io, "value",
                       !j[i].has  ? json_null()
                       : is_class ? json_integer((json_int_t)j[i].value)
                                  : json_real(j[i].value));
            bad |= set(io, "baseline",
                       is_class ? json_string(si_class_name((int)j[i].baseline))
                                : json_real(j[i].baseline));
            bad |= set(io, "met", j[i].has ? json_boolean(j[i].met) : json_null());
            bad |= set(io, "multiple", j[i].has_multiple ? json_real(j[i].multiple) : json_null());
            bad |= json_array_append_new(inds, io) != 0;
        }
        bad |= set(m, "month", json_string(label));
        bad |= set(m, "time", json_integer((json_int_t)res->windows[w]));
        bad |= set(m, "class",
                   s->rows[w].water_class ? json_integer(s->rows[w].water_class) : json_null());
        bad |= set(m, "indicators", inds);
        bad |= set(m, "verdict", json_string(vtext));
        bad |= set(m, "payer", verdict ? json_string(payer) : json_null());
        bad |= set(m, "payee", verdict ? json_string(payee) : json_null());
        bad |= set(m, "amount", verdict ? json_real(amount) : json_null());
        bad |= set(m, "reason", verdict ? json_null() : json_string(reason));
        if (bad)
            json_decref(m);
        else
            bad |= json_array_append_new(months, m) != 0;
    }
    if (!csv && !bad) {
        json_t *so = json_object();
        bad |= set(so, "site", json_string(site->id));
        bad |= set(so, "name", json_string(site->name));
        bad |= set(so, "upstream", json_string(site->upstream));
        bad |= set(so, "downstream", json_string(site->downstream));
        bad |= set(so, "target",
                   site->target ? json_string(si_class_name(site->target)) : json_null());
        bad |= set(so, "baseline",
                   a->baseline_class ? json_string(si_class_name(a->baseline_class)) : json_null());
        bad |= set(so, "amount_rule",
                   json_string(a->amount_rule == SI_AMOUNT_FIXED ? "fixed" : "multiple"));
        bad |= set(so, "rule", json_string(a->rule));
        bad |= set(so, "months", months);
        months = NULL;
        bad |= json_array_append_new(sites_json, so) != 0;
    }
    json_decref(months);
    wq_result_free(res);
    if (rc == JL_OK && bad)
        rc = jl_error_set(err, JL_ENOMEM, "out of memory");
    return rc;
}

int wq_assess(st_store *store, const wq_request *request, int csv, jl_buf *out, jl_error *err)
{
    jl_error_clear(err);
    json_t *sites = csv ? NULL : json_array();
    int rc = !csv && sites == NULL ? jl_error_set(err, JL_ENOMEM, "out of memory") : JL_OK;
    if (csv && rc == JL_OK)
        rc = jl_buf_append_str(out, "site,month,time,class,target,baseline,indicators,verdict,"
                                    "payer,payee,amount,reason\r\n");
    for (size_t i = 0; i < request->site_count && rc == JL_OK; i++) {
        const si_site *site = request->sites[i];
        if (site->kind != SI_KIND_RIVER || !site->agreement.present)
            continue;
        rc = assess_site(store, request, site, csv, sites, out, err);
    }
    if (rc != JL_OK || csv) {
        json_decref(sites);
        return rc;
    }
    json_t *doc = json_object(), *meta = json_object();
    int bad = doc == NULL || meta == NULL;
    bad |= set(meta, "standard", json_string("GB 3838-2002"));
    bad |= set(meta, "rule",
               json_string("chongqing-2023: met, the downstream district "
                           "compensates the upstream one; short, the upstream "
                           "district compensates the downstream one"));
    bad |= set(meta, "tz", json_string(tz_zone_name(request->zone)));
    bad |= set(meta, "from", json_integer((json_int_t)request->from_ms));
    bad |= set(meta, "to", json_integer((json_int_t)request->to_ms));
    bad |= set(meta, "min_readings_per_day", json_integer(request->min_readings));
    bad |= set(meta, "min_days_per_month", json_integer(request->min_days));
    bad |= set(doc, "assessment", sites);
    bad |= set(doc, "meta", meta);
    char *text = bad ? NULL : json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (text == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    rc = jl_buf_append_str(out, text);
    free(text);
    return rc;
}
