/* The aggregator table behind qx_query() windows and qx_parse_aggregates(): one entry per
 * qx_aggregate, in enum order. Adding an aggregate means one enum value and one entry here.
 * Sums use Neumaier's compensated summation so that a year of readings (and chunk sums folded in
 * any order) stays within a few ulps of the exact sum; stddev merges partial (count, mean, squared
 * deviations) with Chan's parallel formula, so chunk summaries and other series fold in exactly as
 * batches do. Definitions of stddev, twa and percentiles are in include/jialing/query.h. */
#include "aggregate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One step of the compensated sum, on a running sum and compensation the caller may keep in
 * locals (sum_add does, so the loop does not store and reload them through state). */
static inline void neumaier_step(double *sum, double *compensation, double x)
{
    double t = *sum + x;
    if (fabs(*sum) >= fabs(x))
        *compensation += (*sum - t) + x;
    else
        *compensation += (x - t) + *sum;
    *sum = t;
}

static void neumaier_add(qa_state *state, double x)
{
    neumaier_step(&state->sum, &state->compensation, x);
}

static void state_init(qa_state *state, double param)
{
    memset(state, 0, sizeof *state);
    state->param = param;
}

void qa_state_destroy(qa_state *state)
{
    free(state->values);
    state->values = NULL;
    state->len = state->cap = 0;
}

/* count */
static int count_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                     size_t count)
{
    (void)timestamps_ms;
    (void)values;
    state->count += count;
    return JL_OK;
}

static void count_add_summary(qa_state *state, const ck_summary *summary)
{
    state->count += summary->count;
}

static int count_merge(qa_state *state, const qa_state *other)
{
    state->count += other->count;
    return JL_OK;
}

static void count_final(qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_INT;
    out->as.i = (int64_t)state->count;
}

/* sum and mean share their state: a compensated sum and a count. */
static int sum_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                   size_t count)
{
    (void)timestamps_ms;
    /* On locals: through state, which values might alias as far as the compiler knows, every
     * step stored and reloaded the running sum. */
    double sum = state->sum, compensation = state->compensation;
    for (size_t i = 0; i < count; i++)
        neumaier_step(&sum, &compensation, values[i]);
    state->sum = sum;
    state->compensation = compensation;
    state->count += count;
    return JL_OK;
}

static void sum_add_summary(qa_state *state, const ck_summary *summary)
{
    neumaier_add(state, summary->sum);
    state->count += summary->count;
}

static int sum_merge(qa_state *state, const qa_state *other)
{
    neumaier_add(state, other->sum);
    neumaier_add(state, other->compensation);
    state->count += other->count;
    return JL_OK;
}

static void sum_final(qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_DOUBLE;
    out->as.d = state->sum + state->compensation;
}

static void mean_final(qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_DOUBLE;
    out->as.d = (state->sum + state->compensation) / (double)state->count;
}

/* min and max: value is meaningful once count > 0. One body for both, inlined with a constant
 * `largest` so the per-reading loop has no extra branch. */
static inline int extreme_merge(qa_state *state, const qa_state *other, int largest)
{
    if (other->count == 0)
        return JL_OK;
    if (state->count == 0 || (largest ? other->value > state->value : other->value < state->value))
        state->value = other->value;
    state->count += other->count;
    return JL_OK;
}

static inline int extreme_add(qa_state *state, const double *values, size_t count, int largest)
{
    if (count == 0)
        return JL_OK;
    double m = values[0];
    for (size_t i = 1; i < count; i++)
        if (largest ? values[i] > m : values[i] < m)
            m = values[i];
    qa_state other = {.count = count, .value = m};
    return extreme_merge(state, &other, largest);
}

static int min_merge(qa_state *state, const qa_state *other)
{
    return extreme_merge(state, other, 0);
}

static int min_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                   size_t count)
{
    (void)timestamps_ms;
    return extreme_add(state, values, count, 0);
}

static void min_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {.count = summary->count, .value = summary->min};
    extreme_merge(state, &other, 0);
}

static int max_merge(qa_state *state, const qa_state *other)
{
    return extreme_merge(state, other, 1);
}

static int max_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                   size_t count)
{
    (void)timestamps_ms;
    return extreme_add(state, values, count, 1);
}

static void max_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {.count = summary->count, .value = summary->max};
    extreme_merge(state, &other, 1);
}

static void value_final(qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_DOUBLE;
    out->as.d = state->value;
}

/* first and last compare times rather than arrival order, so merge works on any partition. Across
 * series of a group, equal times keep the value of the series merged first (first) or last (last),
 * that is the lower or higher series id. */
static int first_merge(qa_state *state, const qa_state *other)
{
    if (other->count == 0)
        return JL_OK;
    if (state->count == 0 || other->time_ms < state->time_ms) {
        state->time_ms = other->time_ms;
        state->value = other->value;
    }
    state->count += other->count;
    return JL_OK;
}

static int first_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                     size_t count)
{
    if (count == 0)
        return JL_OK;
    qa_state other = {.count = count, .time_ms = timestamps_ms[0], .value = values[0]};
    return first_merge(state, &other);
}

static void first_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {
        .count = summary->count, .time_ms = summary->first_ms, .value = summary->first_value};
    first_merge(state, &other);
}

static int last_merge(qa_state *state, const qa_state *other)
{
    if (other->count == 0)
        return JL_OK;
    if (state->count == 0 || other->time_ms >= state->time_ms) {
        state->time_ms = other->time_ms;
        state->value = other->value;
    }
    state->count += other->count;
    return JL_OK;
}

static int last_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                    size_t count)
{
    if (count == 0)
        return JL_OK;
    qa_state other = {
        .count = count, .time_ms = timestamps_ms[count - 1], .value = values[count - 1]};
    return last_merge(state, &other);
}

static void last_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {
        .count = summary->count, .time_ms = summary->last_ms, .value = summary->last_value};
    last_merge(state, &other);
}

/* stddev: count, mean (value) and sum of squared deviations from it (value2). A batch is reduced
 * with two passes (mean, then deviations), which is exact to rounding, then merged. */
static int stddev_merge(qa_state *state, const qa_state *other)
{
    if (other->count == 0)
        return JL_OK;
    if (state->count == 0) {
        state->count = other->count;
        state->value = other->value;
        state->value2 = other->value2;
        return JL_OK;
    }
    double na = (double)state->count, nb = (double)other->count, n = na + nb;
    double delta = other->value - state->value;
    state->value += delta * (nb / n);
    state->value2 += other->value2 + delta * delta * (na * nb / n);
    state->count += other->count;
    return JL_OK;
}

static int stddev_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                      size_t count)
{
    (void)timestamps_ms;
    if (count == 0)
        return JL_OK;
    qa_state part;
    state_init(&part, 0);
    sum_add(&part, NULL, values, count);
    double mean = (part.sum + part.compensation) / (double)count;
    double m2 = 0, c = 0;
    for (size_t i = 0; i < count; i++) {
        double d = values[i] - mean;
        c += d;
        m2 += d * d;
    }
    /* The corrected two-pass form: removes what rounding of the mean left in the deviations. */
    m2 -= c * c / (double)count;
    qa_state other = {.count = count, .value = mean, .value2 = m2 > 0 ? m2 : 0};
    return stddev_merge(state, &other);
}

static void stddev_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {.count = summary->count,
                      .value = summary->sum / (double)summary->count,
                      .value2 = summary->sum_squares_dev > 0 ? summary->sum_squares_dev : 0};
    stddev_merge(state, &other);
}

static void stddev_final(qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_DOUBLE;
    out->as.d = state->value2 > 0 ? sqrt(state->value2 / (double)state->count) : 0.0;
}

/* spread: min in value, max in value2. */
static int spread_merge(qa_state *state, const qa_state *other)
{
    if (other->count == 0)
        return JL_OK;
    if (state->count == 0 || other->value < state->value)
        state->value = other->value;
    if (state->count == 0 || other->value2 > state->value2)
        state->value2 = other->value2;
    state->count += other->count;
    return JL_OK;
}

static int spread_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                      size_t count)
{
    (void)timestamps_ms;
    if (count == 0)
        return JL_OK;
    double lo = values[0], hi = values[0];
    for (size_t i = 1; i < count; i++) {
        if (values[i] < lo)
            lo = values[i];
        if (values[i] > hi)
            hi = values[i];
    }
    qa_state other = {.count = count, .value = lo, .value2 = hi};
    return spread_merge(state, &other);
}

static void spread_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {.count = summary->count, .value = summary->min, .value2 = summary->max};
    spread_merge(state, &other);
}

static void spread_final(qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_DOUBLE;
    out->as.d = state->value2 - state->value;
}

/* twa: the integral (value * ms) accumulates in sum; value2 holds since time2_ms. */
static void twa_open(qa_state *state, int64_t start_ms, int has_carry, double carry_value)
{
    if (!has_carry)
        return;
    state->holding = 1;
    state->time_ms = start_ms;
    state->time2_ms = start_ms;
    state->value2 = carry_value;
}

static int twa_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                   size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (state->holding)
            neumaier_add(state, state->value2 * (double)(timestamps_ms[i] - state->time2_ms));
        else
            state->time_ms = timestamps_ms[i];
        state->holding = 1;
        state->time2_ms = timestamps_ms[i];
        state->value2 = values[i];
    }
    state->count += count;
    return JL_OK;
}

static void twa_close(qa_state *state, int64_t end_ms)
{
    if (!state->holding || end_ms <= state->time2_ms)
        return;
    neumaier_add(state, state->value2 * (double)(end_ms - state->time2_ms));
    state->span_ms = end_ms - state->time_ms;
    state->holding = 0;
}

static int twa_merge(qa_state *state, const qa_state *other)
{
    neumaier_add(state, other->sum);
    neumaier_add(state, other->compensation);
    state->span_ms += other->span_ms;
    state->count += other->count;
    return JL_OK;
}

static void twa_final(qa_state *state, qx_cell *out)
{
    if (state->span_ms <= 0) {
        out->type = QX_CELL_NULL;
        return;
    }
    out->type = QX_CELL_DOUBLE;
    out->as.d = (state->sum + state->compensation) / (double)state->span_ms;
}

/* percentile: every value is kept; final sorts them. */
static int percentile_reserve(qa_state *state, size_t more)
{
    if (more > QA_MAX_PERCENTILE_VALUES || state->len > QA_MAX_PERCENTILE_VALUES - more)
        return JL_ELIMIT;
    if (more == 0)
        return JL_OK;
    double *grown =
        jl_array_grow(state->values, &state->cap, state->len + more, sizeof *grown, 256);
    if (grown == NULL)
        return JL_ENOMEM;
    state->values = grown;
    return JL_OK;
}

static int percentile_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                          size_t count)
{
    (void)timestamps_ms;
    if (count == 0)
        return JL_OK;
    int rc = percentile_reserve(state, count);
    if (rc != JL_OK)
        return rc;
    memcpy(state->values + state->len, values, count * sizeof *values);
    state->len += count;
    state->count += count;
    return JL_OK;
}

static int percentile_merge(qa_state *state, const qa_state *other)
{
    int rc = percentile_add(state, NULL, other->values, other->len);
    if (rc == JL_OK)
        state->count += other->count - other->len;
    return rc;
}

/* Rearranges a[0..n) so that a[k] holds the k-th smallest value, nothing before it is larger and
 * nothing after it smaller (Hoare's selection with a median-of-three pivot: linear on average,
 * where sorting a month of minute readings per window cost several times more). */
static double select_kth(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        double x = a[lo], y = a[mid], z = a[hi];
        double pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = lo, j = hi;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            double t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        /* Now a[lo..j] <= pivot <= a[j+1..hi] (j may equal i, then a[i] == pivot). */
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
    return a[k];
}

static void percentile_final(qa_state *state, qx_cell *out)
{
    if (state->len == 0) {
        out->type = QX_CELL_NULL;
        return;
    }
    double h = (double)(state->len - 1) * state->param / 100.0;
    double floor_h = floor(h);
    size_t lo = (size_t)floor_h;
    out->type = QX_CELL_DOUBLE;
    if (lo >= state->len - 1) {
        out->as.d = select_kth(state->values, state->len, state->len - 1);
        return;
    }
    double x0 = select_kth(state->values, state->len, lo), x1 = state->values[lo + 1];
    for (size_t i = lo + 2; i < state->len; i++)
        if (state->values[i] < x1)
            x1 = state->values[i];
    out->as.d = x0 + (h - floor_h) * (x1 - x0);
}

static const qa_aggregator qa_table[] = {
    [QX_AGG_COUNT] = {"count", QX_CELL_INT, state_init, count_add, count_add_summary, count_merge,
                      count_final, NULL, NULL, 1},
    [QX_AGG_SUM] = {"sum", QX_CELL_DOUBLE, state_init, sum_add, sum_add_summary, sum_merge,
                    sum_final, NULL, NULL, 1},
    [QX_AGG_MEAN] = {"mean", QX_CELL_DOUBLE, state_init, sum_add, sum_add_summary, sum_merge,
                     mean_final, NULL, NULL, 1},
    [QX_AGG_MIN] = {"min", QX_CELL_DOUBLE, state_init, min_add, min_add_summary, min_merge,
                    value_final, NULL, NULL, 1},
    [QX_AGG_MAX] = {"max", QX_CELL_DOUBLE, state_init, max_add, max_add_summary, max_merge,
                    value_final, NULL, NULL, 1},
    [QX_AGG_FIRST] = {"first", QX_CELL_DOUBLE, state_init, first_add, first_add_summary,
                      first_merge, value_final, NULL, NULL},
    [QX_AGG_LAST] = {"last", QX_CELL_DOUBLE, state_init, last_add, last_add_summary, last_merge,
                     value_final, NULL, NULL},
    [QX_AGG_STDDEV] = {"stddev", QX_CELL_DOUBLE, state_init, stddev_add, stddev_add_summary,
                       stddev_merge, stddev_final, NULL, NULL},
    [QX_AGG_SPREAD] = {"spread", QX_CELL_DOUBLE, state_init, spread_add, spread_add_summary,
                       spread_merge, spread_final, NULL, NULL, 1},
    [QX_AGG_TWA] = {"twa", QX_CELL_DOUBLE, state_init, twa_add, NULL, twa_merge, twa_final,
                    twa_open, twa_close},
    [QX_AGG_PERCENTILE] = {"p<NN>", QX_CELL_DOUBLE, state_init, percentile_add, NULL,
                           percentile_merge, percentile_final, NULL, NULL},
};

#define QA_COUNT (sizeof qa_table / sizeof qa_table[0])

const qa_aggregator *qa_lookup(qx_aggregate agg)
{
    if ((unsigned)agg >= QA_COUNT)
        return NULL;
    return &qa_table[agg];
}

const char *qx_aggregate_name(qx_aggregate agg)
{
    const qa_aggregator *entry = qa_lookup(agg);
    return entry ? entry->name : "?";
}
