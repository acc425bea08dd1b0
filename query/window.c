/* Windowed aggregation for qx_query() with a window: the plan (grid, aggregators, fill,
 * group tags, window limit), the chunk policy that takes summaries or segment tables instead of
 * decoding, the producer that turns one series' batches into windows of partial aggregates, and
 * the emitter that applies min_count and fill and writes rows. group_by's merge is groupby.c. */
#include "query_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void qx_window_states_destroy(const qx_window_plan *plan, qa_state *states)
{
    for (size_t a = 0; a < plan->aggregate_count; a++)
        qa_state_destroy(&states[a]);
}

/* Gives an aggregator's refusal its message. */
int qx_window_add_failed(qx_exec *exec, int rc)
{
    if (rc == JL_ELIMIT)
        return jl_error_set(exec->err, rc,
                            "a percentile would hold more than %u values of one window or group; "
                            "use a shorter window or range, or fewer series",
                            (unsigned)QA_MAX_PERCENTILE_VALUES);
    return jl_error_set(exec->err, rc, "aggregating a window failed: %s", jl_strerror(rc));
}

/* A sealed chunk is taken whole when every aggregate can use its summary and all of it lies in
 * the range and in one window; else, period by period from its segment table when each period
 * lies in one window (a day of 8-hour periods, say). */
static qx_use window_policy(const void *context, const ck_summary *summary)
{
    const qx_window_plan *plan = context;
    int64_t start, end;
    if (!plan->use_summaries || summary->first_ms < plan->from_ms ||
        summary->last_ms >= plan->to_ms)
        return QX_USE_DECODE;
    qx_grid_window(&plan->grid, summary->first_ms, &start, &end);
    if (summary->last_ms < end)
        return QX_USE_SUMMARY;
    /* A window shorter than a period cannot hold one whole: skip reading the table. */
    return plan->use_segments && summary->segment_count > 0 &&
                   end - start >= summary->segment_period_ms
               ? QX_USE_SEGMENTS
               : QX_USE_DECODE;
}

int qx_producer_open(qx_producer *p, qx_exec *exec, const qx_window_plan *plan, size_t index)
{
    memset(p, 0, sizeof *p);
    p->plan = plan;
    p->exec = exec;
    int rc =
        qx_source_open(&p->source, exec, index, plan->from_ms, plan->to_ms, window_policy, plan);
    p->source_open = 1;
    return rc;
}

void qx_producer_close(qx_producer *p)
{
    if (p->source_open)
        qx_source_close(&p->source);
    p->source_open = 0;
}

static void producer_start_window(qx_producer *p, qx_window *w, int64_t t_ms)
{
    const qx_window_plan *plan = p->plan;
    qx_grid_window(&plan->grid, t_ms, &w->start_ms, &w->end_ms);
    w->count = 0;
    int64_t covered = w->start_ms > plan->from_ms ? w->start_ms : plan->from_ms;
    for (size_t a = 0; a < plan->aggregate_count; a++) {
        plan->aggregators[a]->init(&w->states[a], plan->params[a]);
        if (plan->aggregators[a]->open != NULL)
            plan->aggregators[a]->open(&w->states[a], covered, p->has_last, p->last_value);
    }
}

static void producer_finish_window(qx_producer *p, qx_window *w)
{
    const qx_window_plan *plan = p->plan;
    int64_t covered = w->end_ms < plan->to_ms ? w->end_ms : plan->to_ms;
    for (size_t a = 0; a < plan->aggregate_count; a++)
        if (plan->aggregators[a]->close != NULL)
            plan->aggregators[a]->close(&w->states[a], covered);
}

/* Fills w (whose states array the caller provides, aggregate_count entries; the states are the
 * caller's to destroy after JL_OK) with the next window that has readings. JL_OK, JL_ENOTFOUND
 * after the last window, or an error (the states are then destroyed). */
int qx_producer_next(qx_producer *p, qx_window *w)
{
    const qx_window_plan *plan = p->plan;
    int open = 0, rc = JL_OK;
    for (;;) {
        if (!p->has_batch) {
            rc = p->ended ? JL_ENOTFOUND : qx_source_next(&p->source, &p->batch);
            if (rc == JL_ENOTFOUND)
                p->ended = 1;
            if (rc == JL_ENOTFOUND && open)
                break;
            if (rc != JL_OK)
                goto fail;
            p->has_batch = 1;
            p->pos = 0;
        }
        if (p->batch.summary != NULL) {
            const ck_summary *s = p->batch.summary;
            if (open && s->first_ms >= w->end_ms)
                break;
            if (!open) {
                producer_start_window(p, w, s->first_ms);
                open = 1;
            }
            for (size_t a = 0; a < plan->aggregate_count; a++)
                plan->aggregators[a]->add_summary(&w->states[a], s);
            w->count += s->count;
            p->has_last = 1;
            p->last_value = s->last_value;
            p->has_batch = 0;
            continue;
        }
        const int64_t *ts = p->batch.timestamps_ms;
        while (p->pos < p->batch.count) {
            size_t i = p->pos;
            if (open && ts[i] >= w->end_ms)
                goto done;
            if (!open) {
                producer_start_window(p, w, ts[i]);
                open = 1;
            }
            size_t j = i + qx_lower_bound(ts + i, p->batch.count - i, w->end_ms);
            /* Every percentile aggregate keeps its own copy of the window's values: bound the
             * window's total before any copy grows. */
            if (plan->percentile_count &&
                (w->count + (j - i)) * plan->percentile_count > QA_MAX_PERCENTILE_VALUES) {
                rc = qx_window_add_failed(p->exec, JL_ELIMIT);
                goto fail;
            }
            for (size_t a = 0; a < plan->aggregate_count; a++) {
                rc = plan->aggregators[a]->add(&w->states[a], ts + i, p->batch.values + i, j - i);
                if (rc != JL_OK) {
                    qx_window_add_failed(p->exec, rc);
                    goto fail;
                }
            }
            w->count += j - i;
            p->has_last = 1;
            p->last_value = p->batch.values[j - 1];
            p->pos = j;
        }
        p->has_batch = 0;
    }
done:
    producer_finish_window(p, w);
    return JL_OK;
fail:
    if (open)
        qx_window_states_destroy(plan, w->states);
    return rc;
}

void qx_emitter_init(qx_emitter *em, qx_exec *exec, const qx_window_plan *plan)
{
    memset(em, 0, sizeof *em);
    em->exec = exec;
    em->plan = plan;
}

static double cell_number(const qx_cell *cell)
{
    return cell->type == QX_CELL_INT ? (double)cell->as.i : cell->as.d;
}

/* Writes the windows from next_ms up to (not including) until_ms as fill rows; right, when not
 * NULL, is the valid window at until_ms (linear interpolates towards it). */
static int emitter_fill_to(qx_emitter *em, int64_t until_ms, const qx_cell *right)
{
    const qx_window_plan *plan = em->plan;
    qx_cell cells[QX_MAX_AGGREGATES + 1];
    int rc;
    while (em->next_ms < until_ms) {
        int64_t start, end;
        qx_grid_window(&plan->grid, em->next_ms, &start, &end);
        cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = start};
        for (size_t a = 0; a < plan->aggregate_count; a++) {
            qx_cell *c = &cells[a + 1];
            *c = (qx_cell){.type = QX_CELL_NULL};
            switch (plan->fill) {
            case QX_FILL_PREVIOUS:
                if (em->has_prev)
                    *c = em->prev[a];
                break;
            case QX_FILL_LINEAR:
                if (em->has_prev && right != NULL && em->prev[a].type != QX_CELL_NULL &&
                    right[a].type != QX_CELL_NULL) {
                    double y0 = cell_number(&em->prev[a]), y1 = cell_number(&right[a]);
                    double x = (double)(start - em->prev_ms) / (double)(until_ms - em->prev_ms);
                    c->type = QX_CELL_DOUBLE;
                    c->as.d = y0 + (y1 - y0) * x;
                }
                break;
            case QX_FILL_VALUE:
                if (plan->aggregators[a]->type == QX_CELL_INT && plan->fill_value >= -9e15 &&
                    plan->fill_value <= 9e15 &&
                    plan->fill_value == (double)(int64_t)plan->fill_value) {
                    c->type = QX_CELL_INT;
                    c->as.i = (int64_t)plan->fill_value;
                } else {
                    c->type = QX_CELL_DOUBLE;
                    c->as.d = plan->fill_value;
                }
                break;
            default:
                break;
            }
        }
        if ((rc = qx_exec_row(em->exec, cells)) != JL_OK)
            return rc;
        em->next_ms = end;
    }
    return JL_OK;
}

/* Takes one window with readings (in start order; its states are finalized, not destroyed). */
int qx_emitter_window(qx_emitter *em, qx_window *w)
{
    const qx_window_plan *plan = em->plan;
    qx_cell cells[QX_MAX_AGGREGATES + 1];
    int rc;
    int valid = w->count >= plan->min_count;
    if (plan->fill != QX_FILL_NONE && !em->any)
        em->next_ms = plan->first_start_ms;
    em->any = 1;
    if (!valid)
        return JL_OK;
    cells[0] = (qx_cell){.type = QX_CELL_INT, .as.i = w->start_ms};
    for (size_t a = 0; a < plan->aggregate_count; a++)
        plan->aggregators[a]->final(&w->states[a], &cells[a + 1]);
    if (plan->fill != QX_FILL_NONE) {
        if ((rc = emitter_fill_to(em, w->start_ms, cells + 1)) != JL_OK)
            return rc;
        em->next_ms = w->end_ms;
    }
    if ((rc = qx_exec_row(em->exec, cells)) != JL_OK)
        return rc;
    em->has_prev = 1;
    em->prev_ms = w->start_ms;
    memcpy(em->prev, cells + 1, plan->aggregate_count * sizeof cells[0]);
    return JL_OK;
}

/* Ends the series: fill up to the end of the range (nothing when it had no readings). */
int qx_emitter_finish(qx_emitter *em)
{
    if (em->plan->fill == QX_FILL_NONE || !em->any)
        return JL_OK;
    return emitter_fill_to(em, em->plan->last_end_ms, NULL);
}

/* -- one result per series -- */

static int window_series(qx_exec *exec, size_t index, const st_series_info *info, void *context)
{
    const qx_window_plan *plan = context;
    qa_state states[QX_MAX_AGGREGATES];
    qx_window w = {.states = states};
    qx_producer producer;
    qx_emitter em;
    int rc;
    if (info->count == 0)
        return JL_OK;
    qx_emitter_init(&em, exec, plan);
    rc = qx_producer_open(&producer, exec, plan, index);
    while (rc == JL_OK && (rc = qx_producer_next(&producer, &w)) == JL_OK) {
        rc = qx_emitter_window(&em, &w);
        qx_window_states_destroy(plan, states);
    }
    qx_producer_close(&producer);
    if (rc == JL_ENOTFOUND)
        rc = qx_emitter_finish(&em);
    return rc;
}

int qx_run_windows(qx_exec *exec, st_store *store, const qx_query_request *request, int64_t from_ms,
                   int64_t to_ms, int nonempty, const char **columns)
{
    qx_window_plan plan;
    tz_zone *owned_zone = NULL;
    jl_error *err = exec->err;
    int rc;
    memset(&plan, 0, sizeof plan);
    plan.from_ms = from_ms;
    plan.to_ms = to_ms;
    plan.request = request;
    plan.aggregate_count = request->aggregate_count;
    plan.min_count = request->min_count > 1 ? request->min_count : 1;
    plan.fill = request->fill;
    plan.fill_value = request->fill_value;
    plan.use_summaries = 1;
    plan.use_segments = 1;
    if ((rc = qx_grid_plan(request, &plan.grid, &owned_zone, err)) != JL_OK)
        goto out;
    if (request->aggregate_count == 0 || request->aggregate_count > QX_MAX_AGGREGATES) {
        rc = jl_error_set(err, JL_EINVAL, "agg must name 1 to %d aggregates", QX_MAX_AGGREGATES);
        goto out;
    }
    if ((unsigned)request->fill > QX_FILL_VALUE) {
        rc = jl_error_set(err, JL_EINVAL, "fill is not one of none, null, previous, linear, value");
        goto out;
    }
    if (request->group && request->group_tag_count > QX_MAX_GROUP_TAGS) {
        rc = jl_error_set(err, JL_EINVAL, "group_by names more than %d tags", QX_MAX_GROUP_TAGS);
        goto out;
    }
    for (size_t g = 0; request->group && g < request->group_tag_count; g++) {
        const char *name = request->group_tags[g];
        if (name == NULL || name[0] == '\0') {
            rc = jl_error_set(err, JL_EINVAL, "group_by has an empty tag name");
            goto out;
        }
        /* Sorted and distinct, so that the output's tags are in canonical order. */
        size_t at = 0;
        while (at < plan.group_tag_count && strcmp(plan.group_tags[at], name) < 0)
            at++;
        if (at < plan.group_tag_count && strcmp(plan.group_tags[at], name) == 0)
            continue;
        memmove(plan.group_tags + at + 1, plan.group_tags + at,
                (plan.group_tag_count - at) * sizeof plan.group_tags[0]);
        plan.group_tags[at] = name;
        plan.group_tag_count++;
    }
    columns[0] = "time";
    for (size_t i = 0; i < request->aggregate_count; i++) {
        const qa_aggregator *agg = qa_lookup(request->aggregates[i]);
        if (agg == NULL) {
            rc = jl_error_set(err, JL_EINVAL, "aggregate number %d is unknown",
                              (int)request->aggregates[i]);
            goto out;
        }
        plan.aggregators[i] = agg;
        columns[i + 1] = agg->name;
        if (agg->add_summary == NULL)
            plan.use_summaries = 0;
        if (!agg->takes_segments)
            plan.use_segments = 0;
        if (request->aggregates[i] == QX_AGG_PERCENTILE) {
            double p = request->percentiles[i];
            if (!(p >= 0 && p <= 100)) {
                rc = jl_error_set(err, JL_EINVAL, "a percentile must lie within 0 and 100");
                goto out;
            }
            plan.params[i] = p;
            snprintf(plan.names[i], sizeof plan.names[i], "p%.10g", p);
            columns[i + 1] = plan.names[i];
            plan.percentile_count++;
        }
    }
    exec->columns = columns;
    exec->column_count = request->aggregate_count + 1;
    if (!nonempty)
        goto out;
    uint64_t windows = qx_grid_count(&plan.grid, from_ms, to_ms, exec->limits.max_windows);
    if (windows > exec->limits.max_windows) {
        char text[32];
        qx_duration_format(&request->window, text, sizeof text);
        /* Fixed grids count exactly; the others stop counting past the limit. */
        int exact = plan.grid.kind == QX_GRID_FIXED;
        rc = jl_error_set(err, JL_ELIMIT,
                          "window %s over this range gives %s%" PRIu64
                          " windows per series; the limit is %" PRIu64
                          "; use a longer window or a shorter range",
                          text, exact ? "" : "more than ", exact ? windows : windows - 1,
                          exec->limits.max_windows);
        goto out;
    }
    int64_t unused;
    qx_grid_window(&plan.grid, from_ms, &plan.first_start_ms, &unused);
    qx_grid_window(&plan.grid, to_ms - 1, &unused, &plan.last_end_ms);
    if (request->group)
        rc = qx_group_query(exec, store, &plan);
    else
        rc = qx_exec_run(exec, store, request->selector, window_series, &plan);
out:
    tz_zone_free(owned_zone);
    return rc;
}
