/* group_by: the windows of several series merged by start time into one result series per group
 * (the aggregators' merge, as results from shards would be), with bounds on the windows and
 * percentile values a group may hold. Groups come in order of their tag values. */
#include "query_internal.h"

#include <stdlib.h>
#include <string.h>

/* Partial aggregates a group may hold at once (windows x aggregates), and percentile values. */
#define QX_MAX_GROUP_STATES (2u * 1024 * 1024)
#define QX_MAX_GROUP_VALUES (64ULL * 1024 * 1024)

/* Windows of one group (or one series), sorted by start; states n * aggregate_count, owned. */
typedef struct qx_table {
    size_t n, cap;
    qx_window *windows;
    qa_state *states;
} qx_table;

static void table_destroy(const qx_window_plan *plan, qx_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        qx_window_states_destroy(plan, t->windows[i].states);
    free(t->windows);
    free(t->states);
    memset(t, 0, sizeof *t);
}

/* Room for one more window; its states pointer is set when the table's arrays settle. */
static int table_grow(const qx_window_plan *plan, qx_table *t, size_t need)
{
    if (need <= t->cap)
        return JL_OK;
    size_t cap = t->cap ? t->cap * 2 : 64;
    while (cap < need)
        cap *= 2;
    qx_window *windows = realloc(t->windows, cap * sizeof *windows);
    if (windows == NULL)
        return JL_ENOMEM;
    t->windows = windows;
    qa_state *states = realloc(t->states, cap * plan->aggregate_count * sizeof *states);
    if (states == NULL)
        return JL_ENOMEM;
    t->states = states;
    t->cap = cap;
    for (size_t i = 0; i < t->n; i++)
        t->windows[i].states = t->states + i * plan->aggregate_count;
    return JL_OK;
}

typedef struct qx_group_run {
    const qx_window_plan *plan;
    uint64_t held_values; /* percentile values held by the group */
} qx_group_run;

/* Refuses a group table that would pass QX_MAX_GROUP_STATES, before it grows. */
static int group_states_check(qx_exec *exec, const qx_window_plan *plan, size_t windows)
{
    if ((uint64_t)windows * plan->aggregate_count <= QX_MAX_GROUP_STATES)
        return JL_OK;
    return jl_error_set(exec->err, JL_ELIMIT,
                        "a group holds more than %u windows x aggregates or %llu percentile "
                        "values; use a longer window, a shorter range or fewer series per group",
                        (unsigned)QX_MAX_GROUP_STATES, (unsigned long long)QX_MAX_GROUP_VALUES);
}

/* Reads one series' windows into a new table. */
static int series_table(qx_exec *exec, qx_group_run *run, size_t index, qx_table *out)
{
    const qx_window_plan *plan = run->plan;
    qa_state states[QX_MAX_AGGREGATES];
    qx_window w = {.states = states};
    qx_producer producer;
    int rc = qx_producer_open(&producer, exec, plan, index);
    memset(out, 0, sizeof *out);
    while (rc == JL_OK && (rc = qx_producer_next(&producer, &w)) == JL_OK) {
        run->held_values += w.count * plan->percentile_count;
        if ((out->n & 4095) == 4095 && (rc = qx_exec_check_time(exec)) != JL_OK) {
            qx_window_states_destroy(plan, states);
            break;
        }
        if ((rc = group_states_check(exec, plan, out->n + 1)) != JL_OK) {
            qx_window_states_destroy(plan, states);
            break;
        }
        if ((rc = table_grow(plan, out, out->n + 1)) != JL_OK) {
            qx_window_states_destroy(plan, states);
            jl_error_set(exec->err, rc, "out of memory merging a group");
            break;
        }
        qx_window *slot = &out->windows[out->n];
        *slot = w;
        slot->states = out->states + out->n * plan->aggregate_count;
        memcpy(slot->states, states, plan->aggregate_count * sizeof *states);
        out->n++;
    }
    qx_producer_close(&producer);
    return rc == JL_ENOTFOUND ? JL_OK : rc;
}

/* Merges b into a (both sorted by start; b is emptied). */
static int table_merge(qx_exec *exec, const qx_window_plan *plan, qx_table *a, qx_table *b)
{
    qx_table out = {0};
    int rc = JL_OK, merge_failed = 0;
    size_t i = 0, j = 0, k = plan->aggregate_count;
    while (i < a->n || j < b->n) {
        /* Grown as merged windows come, so the limit refuses before memory is taken. */
        if ((rc = group_states_check(exec, plan, out.n + 1)) != JL_OK)
            break;
        if ((rc = table_grow(plan, &out, out.n + 1)) != JL_OK) {
            jl_error_set(exec->err, rc, "out of memory merging a group");
            break;
        }
        qx_window *slot = &out.windows[out.n];
        slot->states = out.states + out.n * k;
        if (j == b->n || (i < a->n && a->windows[i].start_ms < b->windows[j].start_ms)) {
            *slot = a->windows[i];
            slot->states = out.states + out.n * k;
            memcpy(slot->states, a->windows[i].states, k * sizeof(qa_state));
            i++;
        } else if (i == a->n || b->windows[j].start_ms < a->windows[i].start_ms) {
            *slot = b->windows[j];
            slot->states = out.states + out.n * k;
            memcpy(slot->states, b->windows[j].states, k * sizeof(qa_state));
            j++;
        } else {
            *slot = a->windows[i];
            slot->states = out.states + out.n * k;
            memcpy(slot->states, a->windows[i].states, k * sizeof(qa_state));
            slot->count += b->windows[j].count;
            for (size_t x = 0; x < k && rc == JL_OK; x++)
                rc = plan->aggregators[x]->merge(&slot->states[x], &b->windows[j].states[x]);
            merge_failed = rc != JL_OK;
            qx_window_states_destroy(plan, b->windows[j].states);
            i++;
            j++;
        }
        out.n++;
        if (rc != JL_OK)
            break;
    }
    if (rc != JL_OK) {
        /* What is left unmoved in a and b is destroyed with them; out owns the rest. */
        memmove(a->windows, a->windows + i, (a->n - i) * sizeof *a->windows);
        a->n -= i;
        memmove(b->windows, b->windows + j, (b->n - j) * sizeof *b->windows);
        b->n -= j;
        table_destroy(plan, &out);
        return merge_failed ? qx_window_add_failed(exec, rc) : rc;
    }
    free(a->windows);
    free(a->states);
    free(b->windows);
    free(b->states);
    memset(b, 0, sizeof *b);
    *a = out;
    return JL_OK;
}

/* A series' place in the grouping: its group key (for each group tag, '1' and the value or '0',
 * each ending in NUL) and its snapshot index. */
typedef struct qx_member {
    char *key; /* owned */
    size_t key_len;
    size_t index;
} qx_member;

static int member_compare(const void *pa, const void *pb)
{
    const qx_member *a = pa, *b = pb;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    if (c != 0)
        return c;
    if (a->key_len != b->key_len)
        return a->key_len < b->key_len ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int member_key(const qx_window_plan *plan, const st_series_info *info, qx_member *m,
                      jl_error *err)
{
    sk_parsed parsed;
    jl_buf key;
    int rc = sk_parse(info->key, info->key_len, &parsed, err);
    if (rc != JL_OK)
        return rc;
    jl_buf_init(&key);
    for (size_t g = 0; g < plan->group_tag_count && rc == JL_OK; g++) {
        const char *name = plan->group_tags[g];
        size_t len = strlen(name);
        const sk_tag *found = NULL;
        for (size_t t = 0; t < parsed.tag_count && found == NULL; t++)
            if (parsed.tags[t].key.len == len && memcmp(parsed.tags[t].key.data, name, len) == 0)
                found = &parsed.tags[t];
        rc = jl_buf_append(&key, found ? "1" : "0", 1);
        if (rc == JL_OK && found)
            rc = jl_buf_append(&key, found->value.data, found->value.len);
        if (rc == JL_OK)
            rc = jl_buf_append(&key, "", 1);
    }
    sk_parsed_destroy(&parsed);
    if (rc != JL_OK) {
        jl_buf_destroy(&key);
        return jl_error_set(err, JL_ENOMEM, "out of memory grouping series");
    }
    m->key = (char *)key.data; /* the buffer's memory now belongs to the member */
    m->key_len = key.len;
    if (m->key == NULL) {
        m->key = malloc(1);
        if (m->key == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory grouping series");
    }
    return JL_OK;
}

/* Writes one group: its tags come from the key of its first member. */
static int group_emit(qx_exec *exec, const qx_window_plan *plan, const qx_member *m,
                      qx_table *table)
{
    const qx_query_request *request = plan->request;
    sk_tag tags[QX_MAX_GROUP_TAGS];
    size_t tag_count = 0;
    const char *p = m->key;
    for (size_t g = 0; g < plan->group_tag_count; g++) {
        int present = *p++ == '1';
        size_t len = strlen(p);
        if (present)
            tags[tag_count++] =
                (sk_tag){{plan->group_tags[g], strlen(plan->group_tags[g])}, {p, len}};
        p += len + 1;
    }
    exec->grouped = 1;
    exec->group_metric = (sk_text){request->selector->metric, strlen(request->selector->metric)};
    exec->group_tags = tags;
    exec->group_tag_count = tag_count;
    exec->series_begun = 0;
    qx_emitter em;
    int rc = JL_OK;
    qx_emitter_init(&em, exec, plan);
    for (size_t i = 0; i < table->n && rc == JL_OK; i++)
        rc = qx_emitter_window(&em, &table->windows[i]);
    if (rc == JL_OK)
        rc = qx_emitter_finish(&em);
    if (rc == JL_OK && exec->series_begun) {
        rc = exec->sink->series_end(exec->sink->context);
        if (rc != JL_OK)
            qx_exec_sink_failed(exec, rc);
    }
    exec->grouped = 0;
    exec->group_tags = NULL;
    return rc;
}

int qx_group_query(qx_exec *exec, st_store *store, const qx_window_plan *plan)
{
    qx_member *members = NULL;
    size_t member_count = 0;
    qx_table table = {0}, one = {0};
    int rc = qx_exec_open(exec, store, plan->request->selector);
    if (rc != JL_OK || exec->snapshot == NULL)
        goto out;
    size_t series_count = st_snapshot_series_count(exec->snapshot);
    members = calloc(series_count ? series_count : 1, sizeof *members);
    if (members == NULL) {
        rc = jl_error_set(exec->err, JL_ENOMEM, "out of memory grouping series");
        goto out;
    }
    for (size_t i = 0; i < series_count; i++) {
        st_series_info info;
        if ((rc = qx_exec_series_info(exec, i, &info)) != JL_OK)
            goto out;
        if (info.count == 0)
            continue;
        members[member_count].index = i;
        if ((rc = member_key(plan, &info, &members[member_count], exec->err)) != JL_OK)
            goto out;
        member_count++;
    }
    qsort(members, member_count, sizeof *members, member_compare);
    for (size_t first = 0; first < member_count;) {
        size_t end = first + 1;
        while (end < member_count && members[end].key_len == members[first].key_len &&
               memcmp(members[end].key, members[first].key, members[first].key_len) == 0)
            end++;
        qx_group_run run = {.plan = plan};
        for (size_t m = first; m < end; m++) {
            if ((rc = qx_exec_check_time(exec)) != JL_OK)
                goto out;
            exec->series_index = members[m].index;
            if ((rc = series_table(exec, &run, members[m].index, &one)) != JL_OK)
                goto out;
            if ((rc = table_merge(exec, plan, &table, &one)) != JL_OK)
                goto out;
            if (run.held_values > QX_MAX_GROUP_VALUES) {
                rc = group_states_check(exec, plan, SIZE_MAX / 2);
                goto out;
            }
        }
        rc = group_emit(exec, plan, &members[first], &table);
        table_destroy(plan, &table);
        if (rc != JL_OK)
            goto out;
        first = end;
    }
out:
    table_destroy(plan, &table);
    table_destroy(plan, &one);
    for (size_t i = 0; i < member_count; i++)
        free(members[i].key);
    free(members);
    qx_exec_close(exec);
    return rc;
}
