/* The aggregator table behind qx_query() windows and qx_parse_aggregates(): one entry per
 * qx_aggregate, in enum order. Adding an aggregate means one enum value and one entry here.
 * Sums use Neumaier's compensated summation so that a year of readings (and chunk sums folded in
 * any order) stays within a few ulps of the exact sum. */
#include "aggregate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void neumaier_add(qa_state *state, double x)
{
    double t = state->sum + x;
    if (fabs(state->sum) >= fabs(x))
        state->compensation += (state->sum - t) + x;
    else
        state->compensation += (x - t) + state->sum;
    state->sum = t;
}

static void state_init(qa_state *state)
{
    memset(state, 0, sizeof *state);
}

/* count */
static void count_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                      size_t count)
{
    (void)timestamps_ms;
    (void)values;
    state->count += count;
}

static void count_add_summary(qa_state *state, const ck_summary *summary)
{
    state->count += summary->count;
}

static void count_merge(qa_state *state, const qa_state *other)
{
    state->count += other->count;
}

static void count_final(const qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_INT;
    out->as.i = (int64_t)state->count;
}

/* sum and mean share their state: a compensated sum and a count. */
static void sum_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                    size_t count)
{
    (void)timestamps_ms;
    for (size_t i = 0; i < count; i++)
        neumaier_add(state, values[i]);
    state->count += count;
}

static void sum_add_summary(qa_state *state, const ck_summary *summary)
{
    neumaier_add(state, summary->sum);
    state->count += summary->count;
}

static void sum_merge(qa_state *state, const qa_state *other)
{
    neumaier_add(state, other->sum);
    neumaier_add(state, other->compensation);
    state->count += other->count;
}

static void sum_final(const qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_DOUBLE;
    out->as.d = state->sum + state->compensation;
}

static void mean_final(const qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_DOUBLE;
    out->as.d = (state->sum + state->compensation) / (double)state->count;
}

/* min and max: value is meaningful once count > 0. */
static void min_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                    size_t count)
{
    (void)timestamps_ms;
    if (count == 0)
        return;
    double m = state->count ? state->value : values[0];
    for (size_t i = 0; i < count; i++)
        if (values[i] < m)
            m = values[i];
    state->value = m;
    state->count += count;
}

static void min_merge(qa_state *state, const qa_state *other)
{
    if (other->count == 0)
        return;
    if (state->count == 0 || other->value < state->value)
        state->value = other->value;
    state->count += other->count;
}

static void min_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {.count = summary->count, .value = summary->min};
    min_merge(state, &other);
}

static void max_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                    size_t count)
{
    (void)timestamps_ms;
    if (count == 0)
        return;
    double m = state->count ? state->value : values[0];
    for (size_t i = 0; i < count; i++)
        if (values[i] > m)
            m = values[i];
    state->value = m;
    state->count += count;
}

static void max_merge(qa_state *state, const qa_state *other)
{
    if (other->count == 0)
        return;
    if (state->count == 0 || other->value > state->value)
        state->value = other->value;
    state->count += other->count;
}

static void max_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {.count = summary->count, .value = summary->max};
    max_merge(state, &other);
}

static void value_final(const qa_state *state, qx_cell *out)
{
    out->type = QX_CELL_DOUBLE;
    out->as.d = state->value;
}

/* first and last compare times rather than arrival order, so merge works on any partition. */
static void first_merge(qa_state *state, const qa_state *other)
{
    if (other->count == 0)
        return;
    if (state->count == 0 || other->time_ms < state->time_ms) {
        state->time_ms = other->time_ms;
        state->value = other->value;
    }
    state->count += other->count;
}

static void first_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                      size_t count)
{
    if (count == 0)
        return;
    qa_state other = {.count = count, .time_ms = timestamps_ms[0], .value = values[0]};
    first_merge(state, &other);
}

static void first_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {
        .count = summary->count, .time_ms = summary->first_ms, .value = summary->first_value};
    first_merge(state, &other);
}

static void last_merge(qa_state *state, const qa_state *other)
{
    if (other->count == 0)
        return;
    if (state->count == 0 || other->time_ms >= state->time_ms) {
        state->time_ms = other->time_ms;
        state->value = other->value;
    }
    state->count += other->count;
}

static void last_add(qa_state *state, const int64_t *timestamps_ms, const double *values,
                     size_t count)
{
    if (count == 0)
        return;
    qa_state other = {
        .count = count, .time_ms = timestamps_ms[count - 1], .value = values[count - 1]};
    last_merge(state, &other);
}

static void last_add_summary(qa_state *state, const ck_summary *summary)
{
    qa_state other = {
        .count = summary->count, .time_ms = summary->last_ms, .value = summary->last_value};
    last_merge(state, &other);
}

static const qa_aggregator qa_table[] = {
    [QX_AGG_COUNT] = {"count", QX_CELL_INT, state_init, count_add, count_add_summary, count_merge,
                      count_final},
    [QX_AGG_SUM] = {"sum", QX_CELL_DOUBLE, state_init, sum_add, sum_add_summary, sum_merge,
                    sum_final},
    [QX_AGG_MEAN] = {"mean", QX_CELL_DOUBLE, state_init, sum_add, sum_add_summary, sum_merge,
                     mean_final},
    [QX_AGG_MIN] = {"min", QX_CELL_DOUBLE, state_init, min_add, min_add_summary, min_merge,
                    value_final},
    [QX_AGG_MAX] = {"max", QX_CELL_DOUBLE, state_init, max_add, max_add_summary, max_merge,
                    value_final},
    [QX_AGG_FIRST] = {"first", QX_CELL_DOUBLE, state_init, first_add, first_add_summary,
                      first_merge, value_final},
    [QX_AGG_LAST] = {"last", QX_CELL_DOUBLE, state_init, last_add, last_add_summary, last_merge,
                     value_final},
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

/* Appends the known names, comma-separated, for error messages. */
static void known_names(char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < QA_COUNT && used < size; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", qa_table[i].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

int qx_parse_aggregates(const char *text, qx_aggregate *aggs, size_t *count, jl_error *err)
{
    char known[128];
    known_names(known, sizeof known);
    size_t n = 0;
    *count = 0;
    if (text == NULL || *text == '\0')
        return jl_error_set(err, JL_EINVAL, "agg is empty; known aggregates: %s", known);
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return jl_error_set(err, JL_EINVAL, "agg \"%s\" has an empty name; known: %s", text,
                                known);
        size_t found = QA_COUNT;
        for (size_t i = 0; i < QA_COUNT; i++) {
            if (strlen(qa_table[i].name) == len && memcmp(qa_table[i].name, p, len) == 0) {
                found = i;
                break;
            }
        }
        if (found == QA_COUNT)
            return jl_error_set(err, JL_EINVAL, "unknown aggregate \"%.*s\"; known: %s",
                                len > 64 ? 64 : (int)len, p, known);
        if (n == QX_MAX_AGGREGATES)
            return jl_error_set(err, JL_EINVAL, "agg lists more than %d aggregates",
                                QX_MAX_AGGREGATES);
        aggs[n++] = (qx_aggregate)found;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *count = n;
    return JL_OK;
}
