/* The alarm evaluator (include/jialing/alarm.h).
 *
 * Each (rule, series) pair has a small machine (al_state) fed the series' selected readings in
 * time order. The store's commit hook copies what each commit carried into a queue; the
 * evaluator's own thread feeds the readings to the pairs of the rules matching their series, so
 * no reading is read back from the store in the usual case. A reading at or before a pair's
 * frontier (the last reading fed: backfill, or a rewrite of a timestamp) instead makes the pair
 * recompute from the store: its machine is run again over every stored reading of the series,
 * and the events found are reconciled with the stored ones by identity (rule, series, start):
 * missing ones are stored (marked late), firing ones found resolved are resolved (marked late).
 *
 * A restart recomputes every pair the same way (nothing of the machines is persisted): the
 * stored readings decide, and reconciliation by identity means that no event is lost (a commit
 * whose evaluation the crash cut off is in the store) or repeated (an event already stored is
 * found). Un-notified states are offered again to the notifier.
 *
 * Validity: a pair sees the readings whose device flag is in its rule's flags (default: the
 * valid set); review marks are applied when events are listed (server/events_http.c), not here,
 * so that a mark made later withdraws an event without re-evaluating. */
#include "jialing/alarm.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/serieskey.h"
#include "query_internal.h"

/* ---------- the machine ---------- */

void al_state_init(al_state *state)
{
    memset(state, 0, sizeof *state);
    state->last_ms = INT64_MIN;
    state->window_start = INT64_MIN;
}

static int compare(al_op op, double v, double threshold)
{
    switch (op) {
    case AL_GT:
        return v > threshold;
    case AL_GE:
        return v >= threshold;
    case AL_LT:
        return v < threshold;
    case AL_LE:
        return v <= threshold;
    }
    return 0;
}

/* The more extreme of a and b in the rule's direction (max for gt/ge, min for lt/le). */
static double extreme(al_op op, double a, double b)
{
    return (op == AL_GT || op == AL_GE) ? (b > a ? b : a) : (b < a ? b : a);
}

static void fill_event(const al_rule *rule, const al_state *s, st_event *e)
{
    memset(e, 0, sizeof *e);
    snprintf(e->rule, sizeof e->rule, "%s", rule->name);
    e->start_ms = s->start_ms;
    e->peak = s->peak;
    e->count = s->count;
}

static double window_value(const al_rule *r, const al_state *s)
{
    switch (r->agg) {
    case AL_AGG_MEAN:
        return s->acc / (double)s->acc_count;
    case AL_AGG_COUNT:
        return (double)s->acc_count;
    default:
        return s->acc;
    }
}

static void window_add(const al_rule *r, al_state *s, double v)
{
    if (s->acc_count == 0)
        s->acc = r->agg == AL_AGG_MEAN || r->agg == AL_AGG_SUM ? 0 : v;
    if (r->agg == AL_AGG_MEAN || r->agg == AL_AGG_SUM)
        s->acc += v;
    else if (r->agg == AL_AGG_MAX)
        s->acc = v > s->acc ? v : s->acc;
    else if (r->agg == AL_AGG_MIN)
        s->acc = v < s->acc ? v : s->acc;
    s->acc_count++;
}

/* Window: a window is judged when a reading of a later window arrives. A run of windows whose
 * aggregate matches starts at its first window's start, fires when that window closes (fired =
 * its end) and resolves at the start of the first judged window that does not match. */
static al_change feed_window(const al_rule *r, al_state *s, int64_t ms, double v, st_event *e)
{
    /* Calendar arithmetic only when a reading leaves the window of the one before. */
    int64_t ws = s->window_start, closed_end = s->window_end;
    if (s->acc_count == 0 || ms < s->window_start || ms >= s->window_end)
        qx_grid_window(r->grid, ms, &ws, &s->window_end); /* /query window='s (grid.c) */
    al_change change = AL_NONE;
    if (s->acc_count > 0 && ws != s->window_start) {
        double a = window_value(r, s);
        int64_t closed_start = s->window_start;
        if (compare(r->op, a, r->value)) {
            if (!s->open) {
                s->open = 1;
                s->fired = 1;
                s->start_ms = closed_start;
                s->peak = a;
                s->count = 1;
                fill_event(r, s, e);
                e->fired_ms = closed_end;
                change = AL_FIRED;
            } else {
                s->peak = extreme(r->op, s->peak, a);
                s->count++;
            }
        } else if (s->open) {
            fill_event(r, s, e);
            e->resolved = 1;
            e->end_ms = closed_start;
            s->open = s->fired = 0;
            change = AL_RESOLVED;
        }
        s->acc_count = 0;
    }
    s->window_start = ws;
    window_add(r, s, v);
    s->last_ms = ms;
    s->last_value = v;
    return change;
}

al_change al_state_feed(const al_rule *r, al_state *s, int64_t ms, double v, st_event *e)
{
    al_change change = AL_NONE;
    switch (r->kind) {
    case AL_THRESHOLD:
        if (compare(r->op, v, r->value)) {
            if (!s->open) {
                s->open = 1;
                s->fired = 0;
                s->start_ms = ms;
                s->peak = v;
                s->count = 1;
            } else {
                s->peak = extreme(r->op, s->peak, v);
                s->count++;
            }
            if (!s->fired && ms - s->start_ms >= r->for_ms) {
                s->fired = 1;
                fill_event(r, s, e);
                e->fired_ms = ms;
                change = AL_FIRED;
            }
        } else if (s->open) {
            /* The episode rule: the reading that ended the run is its end. */
            int was_fired = s->fired;
            if (was_fired || ms - s->start_ms >= r->for_ms) {
                fill_event(r, s, e);
                e->fired_ms = was_fired ? 0 : ms; /* a resolution keeps the stored fired_ms */
                e->resolved = 1;
                e->end_ms = ms;
                change = was_fired ? AL_RESOLVED : AL_FIRED_RESOLVED;
            }
            s->open = s->fired = 0;
        }
        break;
    case AL_FLATLINE:
        if (s->count > 0 && v == s->last_value) {
            s->count++;
        } else {
            if (s->fired) {
                fill_event(r, s, e);
                e->resolved = 1;
                e->end_ms = ms;
                change = AL_RESOLVED;
            }
            s->open = s->fired = 0;
            s->start_ms = ms;
            s->count = 1;
            s->peak = v;
        }
        if (!s->fired && s->count >= r->flatline) {
            s->open = s->fired = 1;
            fill_event(r, s, e);
            e->fired_ms = ms;
            change = AL_FIRED;
        }
        break;
    case AL_RATE:
        if (s->last_ms != INT64_MIN && ms > s->last_ms) {
            double per_minute = fabs(v - s->last_value) / ((double)(ms - s->last_ms) / 60000.0);
            if (per_minute > r->rate) {
                if (!s->open) {
                    s->open = s->fired = 1;
                    s->start_ms = ms;
                    s->peak = per_minute;
                    s->count = 1;
                    fill_event(r, s, e);
                    e->fired_ms = ms;
                    change = AL_FIRED;
                } else {
                    s->peak = per_minute > s->peak ? per_minute : s->peak;
                    s->count++;
                }
            } else if (s->open) {
                fill_event(r, s, e);
                e->resolved = 1;
                e->end_ms = ms;
                s->open = s->fired = 0;
                change = AL_RESOLVED;
            }
        }
        break;
    case AL_ABSENT:
        if (s->open) {
            fill_event(r, s, e);
            e->fired_ms = s->start_ms + r->absent_ms;
            e->resolved = 1;
            e->end_ms = ms;
            s->open = s->fired = 0;
            change = AL_RESOLVED;
        } else if (s->last_ms != INT64_MIN && ms - s->last_ms > r->absent_ms) {
            s->start_ms = s->last_ms;
            s->peak = s->last_value;
            s->count = 0;
            fill_event(r, s, e);
            e->fired_ms = s->last_ms + r->absent_ms;
            e->resolved = 1;
            e->end_ms = ms;
            change = AL_FIRED_RESOLVED;
        }
        break;
    case AL_WINDOW:
        return feed_window(r, s, ms, v, e);
    }
    s->last_ms = ms;
    s->last_value = v;
    return change;
}

al_change al_state_tick(const al_rule *r, al_state *s, int64_t now_ms, st_event *e)
{
    if (r->kind != AL_ABSENT || s->open || s->last_ms == INT64_MIN ||
        now_ms - s->last_ms <= r->absent_ms || now_ms - s->arrived_ms <= r->absent_ms)
        return AL_NONE;
    s->open = s->fired = 1;
    s->start_ms = s->last_ms;
    s->peak = s->last_value;
    s->count = 0;
    fill_event(r, s, e);
    e->fired_ms = s->last_ms + r->absent_ms;
    return AL_FIRED;
}

/* ---------- the evaluator ---------- */

/* One (rule, series) pair. */
typedef struct pair {
    uint64_t series_id;
    al_state state;
    uint64_t open_id;         /* the stored event of the fired open run, 0: none */
    int late;                 /* met a late reading in the commit being processed */
    int pending;              /* has changes not stored yet (a replay must see them stored) */
    int64_t late_ms;          /* the earliest of them */
    uint64_t replayed_commit; /* the last replay read the store as of at least this commit:
                                 readings of commits up to it are in the state already */
    uint64_t *events;         /* ids of its stored events, in the order made */
    size_t event_count, event_capacity;
} pair;

/* A change to store (flush_pending). */
typedef struct pending_change {
    st_event event; /* as it is to be stored */
    size_t rule;
    unsigned announce; /* ST_EVENT_NOTIFIED_* states to announce once stored */
    int is_new;
} pending_change;

/* Per rule: for each series id, 0 unknown, 1 not matched, else pair index + 2. */
typedef struct rule_pairs {
    uint32_t *slot;
    uint64_t slot_capacity;
    pair *pairs;
    size_t count, capacity;
} rule_pairs;

/* Per series id: the pairs of the rules matching it, as (rule, pair index) references in
 * series_refs, built at the series' first reading after a rebuild, so that a reading costs one
 * lookup and the rules that match it, not a lookup in every rule. Indexes, not pointers: a
 * rule's pair array moves as it grows. */
typedef struct pair_ref {
    uint32_t rule, index;
} pair_ref;

typedef struct series_refs {
    uint32_t first; /* into al_evaluator.refs */
    uint32_t count;
    uint32_t known; /* the refs were built */
} series_refs;

/* One queued commit: its readings (series id, ms, value, flag). */
typedef struct queued {
    struct queued *next;
    uint64_t commit; /* st_store_commit_count() of the commit (evaluation lags behind it) */
    size_t count;
    uint64_t *ids;
    int64_t *ms;
    double *values;
    uint8_t *flags;
} queued;

struct al_evaluator {
    st_store *store;
    al_options options;
    al_rules rules;
    rule_pairs *per_rule;
    st_event **events; /* by id (entry 0 unused); owned */
    uint64_t event_capacity;
    char **series_keys; /* by series id, cached for notifications; owned */
    uint64_t key_capacity;

    pthread_mutex_t lock; /* the queue and flags below */
    pthread_cond_t cond;  /* work arrived, stopping */
    pthread_cond_t idle;  /* the queue drained */
    queued *head, *tail;
    size_t queued_readings;
    int busy, stopping, recompute_all;
    int reoffer_first;    /* the first rebuild offers the stored un-notified states first */
    pthread_mutex_t work; /* held while pairs are touched */
    pthread_t thread;
    int started;

    series_refs *series; /* by series id (evaluator thread, under work) */
    uint64_t series_capacity;
    pair_ref *refs;
    uint64_t ref_count, ref_capacity;
    pair_ref *late; /* pairs met by a late reading in the commit being processed */
    uint64_t late_count, late_capacity;

    pending_change *pending; /* changes not yet stored (evaluator thread, under work) */
    size_t pending_count, pending_capacity;
    uint64_t pending_since_ns; /* jl_monotonic_ns() when the first of them was found */
    int flush_requested;       /* al_evaluator_flush() waits for the pending changes (lock) */

    pthread_mutex_t notified_lock;
    uint64_t *notified_ids;
    unsigned *notified_bits;
    size_t notified_count, notified_capacity;

    pthread_mutex_t stats_lock;
    al_stats stats;
};

#define MAX_QUEUED_READINGS (8u << 20)

static int grow(void **array, uint64_t *capacity, uint64_t needed, size_t size)
{
    if (needed < *capacity)
        return JL_OK;
    uint64_t n = *capacity ? *capacity : 64;
    while (n <= needed)
        n *= 2;
    void *grown = realloc(*array, n * size);
    if (grown == NULL)
        return JL_ENOMEM;
    memset((char *)grown + *capacity * size, 0, (n - *capacity) * size);
    *array = grown;
    *capacity = n;
    return JL_OK;
}

static const char *series_key_of(al_evaluator *ev, uint64_t id)
{
    return id < ev->key_capacity ? ev->series_keys[id] : NULL;
}

static void remember_key(al_evaluator *ev, uint64_t id, const char *key)
{
    if (series_key_of(ev, id) || key == NULL)
        return;
    if (grow((void **)&ev->series_keys, &ev->key_capacity, id, sizeof(char *)) == JL_OK)
        ev->series_keys[id] = strdup(key);
}

/* Whether a canonical key matches a selector (exact and negated tag conditions). */
static int key_matches(const qp_selector *sel, const char *key)
{
    sk_parsed parsed;
    if (sk_parse(key, strlen(key), &parsed, NULL) != JL_OK)
        return 0;
    int ok = strlen(sel->metric) == parsed.metric.len &&
             memcmp(sel->metric, parsed.metric.data, parsed.metric.len) == 0;
    for (size_t i = 0; ok && i < sel->matcher_count; i++) {
        const qp_matcher *m = &sel->matchers[i];
        int equal = 0;
        for (size_t t = 0; t < parsed.tag_count; t++)
            if (parsed.tags[t].key.len == strlen(m->key) &&
                memcmp(parsed.tags[t].key.data, m->key, parsed.tags[t].key.len) == 0)
                equal = parsed.tags[t].value.len == strlen(m->value) &&
                        memcmp(parsed.tags[t].value.data, m->value, parsed.tags[t].value.len) == 0;
        ok = m->negate ? !equal : equal;
    }
    sk_parsed_destroy(&parsed);
    return ok;
}

static void rule_pairs_free(rule_pairs *rp)
{
    for (size_t i = 0; i < rp->count; i++)
        free(rp->pairs[i].events);
    free(rp->pairs);
    free(rp->slot);
    memset(rp, 0, sizeof *rp);
}

/* The pair of series id under rule r, creating it; NULL when the series does not match (or out
 * of memory, counted as an error). key may be NULL when id's match is already known. */
static pair *pair_for(al_evaluator *ev, size_t r, uint64_t id, const char *key)
{
    rule_pairs *rp = &ev->per_rule[r];
    if (grow((void **)&rp->slot, &rp->slot_capacity, id, sizeof(uint32_t)) != JL_OK)
        return NULL;
    uint32_t slot = rp->slot[id];
    if (slot == 1)
        return NULL;
    if (slot >= 2)
        return &rp->pairs[slot - 2];
    if (key == NULL)
        key = series_key_of(ev, id);
    if (key == NULL || !key_matches(&ev->rules.rules[r].series, key)) {
        rp->slot[id] = 1;
        return NULL;
    }
    if (rp->count == rp->capacity) {
        size_t n = rp->capacity ? rp->capacity * 2 : 16;
        pair *grown = realloc(rp->pairs, n * sizeof *grown);
        if (grown == NULL)
            return NULL;
        rp->pairs = grown;
        rp->capacity = n;
    }
    pair *p = &rp->pairs[rp->count];
    memset(p, 0, sizeof *p);
    p->series_id = id;
    al_state_init(&p->state);
    rp->slot[id] = (uint32_t)(rp->count + 2);
    rp->count++;
    return p;
}

static void series_refs_reset(al_evaluator *ev)
{
    free(ev->series);
    free(ev->refs);
    ev->series = NULL;
    ev->refs = NULL;
    ev->series_capacity = ev->ref_count = ev->ref_capacity = 0;
}

static int ref_push(pair_ref **array, uint64_t *count, uint64_t *capacity, uint32_t rule,
                    uint32_t index)
{
    if (grow((void **)array, capacity, *count, sizeof **array) != JL_OK)
        return JL_ENOMEM;
    (*array)[(*count)++] = (pair_ref){rule, index};
    return JL_OK;
}

/* The pairs of series id, creating them: NULL with *count 0 when none matches. A series whose
 * key is not known (learn_keys failed) or out of memory: NULL, and the series stays unknown
 * (tried again at its next reading). */
static const pair_ref *refs_of(al_evaluator *ev, uint64_t id, size_t *count)
{
    *count = 0;
    if (grow((void **)&ev->series, &ev->series_capacity, id, sizeof *ev->series) != JL_OK)
        return NULL;
    series_refs *sr = &ev->series[id];
    if (!sr->known) {
        const char *key = series_key_of(ev, id);
        if (key == NULL)
            return NULL;
        uint64_t first = ev->ref_count;
        for (size_t r = 0; r < ev->rules.count; r++) {
            pair *p = pair_for(ev, r, id, key);
            if (p && ref_push(&ev->refs, &ev->ref_count, &ev->ref_capacity, (uint32_t)r,
                              (uint32_t)(p - ev->per_rule[r].pairs)) != JL_OK) {
                ev->ref_count = first;
                return NULL;
            }
        }
        sr->first = (uint32_t)first;
        sr->count = (uint32_t)(ev->ref_count - first);
        sr->known = 1;
    }
    *count = sr->count;
    return sr->count ? &ev->refs[sr->first] : NULL;
}

static int pair_add_event(pair *p, uint64_t id)
{
    if (p->event_count == p->event_capacity) {
        size_t n = p->event_capacity ? p->event_capacity * 2 : 4;
        uint64_t *grown = realloc(p->events, n * sizeof *grown);
        if (grown == NULL)
            return JL_ENOMEM;
        p->events = grown;
        p->event_capacity = n;
    }
    p->events[p->event_count++] = id;
    return JL_OK;
}

static void count_error(al_evaluator *ev)
{
    pthread_mutex_lock(&ev->stats_lock);
    ev->stats.errors++;
    pthread_mutex_unlock(&ev->stats_lock);
}

static void announce(al_evaluator *ev, size_t r, const st_event *e, unsigned state)
{
    if (ev->options.notify)
        ev->options.notify(ev->options.notify_ctx, e, &ev->rules.rules[r], state);
}

/* Changes are stored in batches: every event the commits evaluated within FLUSH_DELAY_MS (and
 * the ticks, and a rebuild) make or resolve goes to the store in one st_event_put, one group
 * commit and fsync, and is announced after it. A commit of events after every commit of
 * readings would double the fsyncs at ingest, and make the next readings wait behind them;
 * the delay is far inside the minute a notification may take, and a crash before the flush
 * loses nothing: the restart's recompute finds those events in the stored readings. A pair whose
 * new event is still pending has open_id PENDING | index. */
#define PENDING (1ull << 63)
#define FLUSH_DELAY_MS 200

static pair *pair_of(al_evaluator *ev, size_t r, uint64_t series_id)
{
    rule_pairs *rp = &ev->per_rule[r];
    if (series_id >= rp->slot_capacity || rp->slot[series_id] < 2)
        return NULL;
    return &rp->pairs[rp->slot[series_id] - 2];
}

static int pending_add(al_evaluator *ev, const st_event *e, size_t r, unsigned announce, int is_new)
{
    if (ev->pending_count == ev->pending_capacity) {
        size_t n = ev->pending_capacity ? ev->pending_capacity * 2 : 16;
        pending_change *grown = realloc(ev->pending, n * sizeof *grown);
        if (grown == NULL) {
            count_error(ev);
            return -1;
        }
        ev->pending = grown;
        ev->pending_capacity = n;
    }
    if (ev->pending_count == 0)
        ev->pending_since_ns = (uint64_t)jl_monotonic_ns();
    pending_change *c = &ev->pending[ev->pending_count];
    c->event = *e;
    c->event.series_key = NULL;
    c->rule = r;
    c->announce = announce;
    c->is_new = is_new;
    return (int)ev->pending_count++;
}

/* Notes a change of pair p under rule r (e from the machine, or from a recompute); late marks
 * events opened or closed by backfill. Stored by flush_pending(). */
static void store_change(al_evaluator *ev, size_t r, pair *p, al_change change, st_event *e,
                         int late)
{
    e->series_id = p->series_id;
    e->late = late;
    p->pending = 1;
    if (change == AL_RESOLVED && (p->open_id & PENDING)) {
        st_event *q = &ev->pending[p->open_id & ~PENDING].event;
        q->resolved = 1;
        q->end_ms = e->end_ms;
        q->peak = e->peak;
        q->count = e->count;
        q->late = q->late || late;
        ev->pending[p->open_id & ~PENDING].announce |= ST_EVENT_NOTIFIED_RESOLVED;
        p->open_id = 0;
        return;
    }
    st_event *stored = NULL;
    if (change == AL_RESOLVED && p->open_id && p->open_id < ev->event_capacity)
        stored = ev->events[p->open_id];
    if (stored) {
        st_event updated = *stored;
        updated.resolved = 1;
        updated.end_ms = e->end_ms;
        updated.peak = e->peak;
        updated.count = e->count;
        updated.late = stored->late || late;
        pending_add(ev, &updated, r, ST_EVENT_NOTIFIED_RESOLVED, 0);
        p->open_id = 0;
        return;
    }
    /* A new event (fired, or fired and resolved at once). */
    e->id = 0;
    e->notified = 0;
    int index = pending_add(
        ev, e, r, ST_EVENT_NOTIFIED_FIRING | (e->resolved ? ST_EVENT_NOTIFIED_RESOLVED : 0), 1);
    if (index >= 0 && !e->resolved)
        p->open_id = PENDING | (uint64_t)index;
}

/* Stores the pending changes in one commit, then keeps and announces them. */
static void flush_pending(al_evaluator *ev)
{
    size_t n = ev->pending_count;
    if (n == 0)
        return;
    ev->pending_count = 0;
    st_event *batch = malloc(n * sizeof *batch);
    jl_error err;
    int rc = batch ? JL_OK : JL_ENOMEM;
    for (size_t i = 0; batch && i < n; i++)
        batch[i] = ev->pending[i].event;
    if (rc == JL_OK)
        rc = st_event_put(ev->store, batch, n, &err);
    for (size_t i = 0; i < n; i++) {
        pending_change *c = &ev->pending[i];
        pair *p = pair_of(ev, c->rule, c->event.series_id);
        if (p)
            p->pending = 0;
        if (rc == JL_OK && c->is_new &&
            (grow((void **)&ev->events, &ev->event_capacity, batch[i].id, sizeof(st_event *)) !=
                 JL_OK ||
             (ev->events[batch[i].id] = malloc(sizeof(st_event))) == NULL))
            rc = JL_ENOMEM;
        if (rc != JL_OK) {
            /* Lost for now: the next start's recompute finds it again. */
            count_error(ev);
            if (p && p->open_id == (PENDING | i))
                p->open_id = 0;
            continue;
        }
        st_event *kept = ev->events[batch[i].id];
        if (c->is_new) {
            *kept = batch[i];
            const char *key = series_key_of(ev, kept->series_id);
            kept->series_key = key ? strdup(key) : NULL;
            if (p) {
                pair_add_event(p, kept->id);
                if (p->open_id == (PENDING | i))
                    p->open_id = kept->resolved ? 0 : kept->id;
            }
        } else {
            char *key = kept->series_key;
            *kept = batch[i];
            kept->series_key = key;
        }
        pthread_mutex_lock(&ev->stats_lock);
        ev->stats.fired += c->is_new;
        ev->stats.resolved += (c->announce & ST_EVENT_NOTIFIED_RESOLVED) != 0;
        ev->stats.late += kept->late;
        pthread_mutex_unlock(&ev->stats_lock);
        if (c->announce & ST_EVENT_NOTIFIED_FIRING)
            announce(ev, c->rule, kept, ST_EVENT_NOTIFIED_FIRING);
        if (c->announce & ST_EVENT_NOTIFIED_RESOLVED)
            announce(ev, c->rule, kept, ST_EVENT_NOTIFIED_RESOLVED);
    }
    free(batch);
}

/* ---------- recomputing a pair from the store ---------- */

typedef struct found {
    st_event *events;
    size_t count, capacity;
} found;

/* JL_OK, or JL_ENOMEM: the replay then fails (counted), rather than reconcile without it. */
static int found_add(found *f, const st_event *e)
{
    if (f->count == f->capacity) {
        size_t n = f->capacity ? f->capacity * 2 : 8;
        st_event *grown = realloc(f->events, n * sizeof *grown);
        if (grown == NULL)
            return JL_ENOMEM;
        f->events = grown;
        f->capacity = n;
    }
    f->events[f->count++] = *e;
    return JL_OK;
}

/* Runs rule r's machine over the stored readings of p's series from from_ms on into a fresh
 * state; events found go to *out (a resolved one once, a firing one last). */
static int run_from_store(al_evaluator *ev, size_t r, pair *p, int64_t from_ms, found *out,
                          jl_error *err)
{
    const al_rule *rule = &ev->rules.rules[r];
    st_snapshot *snap = NULL;
    /* Taken before the snapshot, which sees at least these commits. */
    uint64_t seen = st_store_commit_count(ev->store);
    int rc = st_snapshot_open(ev->store, &p->series_id, 1, &snap, err);
    if (rc != JL_OK)
        return rc;
    p->replayed_commit = seen;
    st_series_info info;
    if (st_snapshot_series_info(snap, 0, &info) == JL_OK)
        remember_key(ev, p->series_id, info.key);
    st_cursor *cursor = NULL;
    rc = st_cursor_open(snap, 0, from_ms, JL_MAX_MS, &cursor, err);
    int64_t arrived = p->state.arrived_ms; /* not in the store: kept */
    uint64_t fed = 0;
    al_state_init(&p->state);
    p->state.arrived_ms = arrived;
    st_block block;
    while (rc == JL_OK && (rc = st_cursor_next(cursor, &block, err)) == JL_OK) {
        if (!block.decoded && (rc = st_cursor_decode(cursor, &block, err)) != JL_OK)
            break;
        for (size_t i = 0; i < block.count && rc == JL_OK; i++) {
            uint8_t flag = block.flags ? block.flags[i] : JL_FLAG_N;
            if (!(rule->flags & (1u << flag)) || block.timestamps_ms[i] < from_ms)
                continue;
            st_event e;
            fed++;
            al_change c =
                al_state_feed(rule, &p->state, block.timestamps_ms[i], block.values[i], &e);
            if (c == AL_FIRED || c == AL_FIRED_RESOLVED) {
                if (found_add(out, &e) != JL_OK)
                    rc = jl_error_set(err, JL_ENOMEM, "out of memory replaying a series");
            } else if (c == AL_RESOLVED && out->count > 0) {
                /* The run found fired just before ends: keep when it fired. */
                st_event *last = &out->events[out->count - 1];
                last->resolved = 1;
                last->end_ms = e.end_ms;
                last->peak = e.peak;
                last->count = e.count;
            }
        }
    }
    if (rc == JL_ENOTFOUND)
        rc = JL_OK;
    st_cursor_close(cursor);
    st_snapshot_close(snap);
    pthread_mutex_lock(&ev->stats_lock);
    ev->stats.replays++;
    ev->stats.replayed += fed;
    pthread_mutex_unlock(&ev->stats_lock);
    return rc;
}

static int compare_start(const void *a, const void *b)
{
    const st_event *x = *(st_event *const *)a, *y = *(st_event *const *)b;
    return x->start_ms < y->start_ms ? -1 : x->start_ms > y->start_ms;
}

/* A quiet reading: one after which rule r's machine is in the state a fresh machine fed that
 * reading alone would be in, whatever came before, so that replaying from it is exact and
 * nothing before it can change. Threshold: a reading that does not match (no run holds it).
 * Flatline: a value other than the one before (a run starts). Rate: a change per minute within
 * the limit (no run). Absent: any reading (a silence before it is over and was found). Window:
 * the first reading of a window after a judged window that did not match. */
typedef struct quiet_scan {
    int have_prev;
    int64_t prev_ms;
    double prev_value;
    al_state window; /* window rules: a fresh machine fed from a window boundary */
    int windows_seen;
} quiet_scan;

static int quiet_step(const al_rule *r, quiet_scan *q, int64_t ms, double v)
{
    int quiet = 0;
    switch (r->kind) {
    case AL_THRESHOLD:
        quiet = !compare(r->op, v, r->value);
        break;
    case AL_FLATLINE:
        quiet = q->have_prev && v != q->prev_value;
        break;
    case AL_RATE:
        quiet = q->have_prev && ms > q->prev_ms &&
                fabs(v - q->prev_value) / ((double)(ms - q->prev_ms) / 60000.0) <= r->rate;
        break;
    case AL_ABSENT:
        quiet = 1;
        break;
    case AL_WINDOW: {
        int new_window =
            q->window.acc_count == 0 || ms < q->window.window_start || ms >= q->window.window_end;
        st_event e;
        al_state_feed(r, &q->window, ms, v, &e);
        if (new_window)
            q->windows_seen++;
        /* The machine judged a whole window (the scan began at a window boundary) and no run
         * is open. */
        quiet = new_window && q->windows_seen >= 3 && !q->window.open;
        break;
    }
    }
    q->have_prev = 1;
    q->prev_ms = ms;
    q->prev_value = v;
    return quiet;
}

/* Finds the last quiet reading of p's series before t, looking back over growing spans;
 * *q_ms is it, or JL_MIN_MS when there is none (replay everything). */
static int find_quiet(al_evaluator *ev, size_t r, pair *p, int64_t t, int64_t *q_ms, jl_error *err)
{
    const al_rule *rule = &ev->rules.rules[r];
    *q_ms = JL_MIN_MS;
    st_snapshot *snap = NULL;
    int rc = st_snapshot_open(ev->store, &p->series_id, 1, &snap, err);
    if (rc != JL_OK)
        return rc;
    st_series_info info;
    if (st_snapshot_series_info(snap, 0, &info) != JL_OK || info.count == 0) {
        st_snapshot_close(snap);
        return JL_OK;
    }
    int64_t span = 3600000;
    if (rule->kind == AL_WINDOW)
        span = 3 * (rule->window.months ? 31 * 86400000LL * rule->window.months : rule->window.ms);
    int found_one = 0;
    for (;;) {
        int64_t from = t - span < info.first_ms ? info.first_ms : t - span;
        if (rule->kind == AL_WINDOW) {
            int64_t end;
            qx_grid_window(rule->grid, from, &from, &end);
        }
        quiet_scan q;
        memset(&q, 0, sizeof q);
        al_state_init(&q.window);
        st_cursor *cursor = NULL;
        rc = st_cursor_open(snap, 0, from, t, &cursor, err);
        st_block block;
        while (rc == JL_OK && (rc = st_cursor_next(cursor, &block, err)) == JL_OK) {
            if (!block.decoded && (rc = st_cursor_decode(cursor, &block, err)) != JL_OK)
                break;
            for (size_t i = 0; i < block.count; i++) {
                int64_t ms = block.timestamps_ms[i];
                uint8_t flag = block.flags ? block.flags[i] : JL_FLAG_N;
                if (ms < from || ms >= t || !(rule->flags & (1u << flag)))
                    continue;
                if (quiet_step(rule, &q, ms, block.values[i])) {
                    *q_ms = ms;
                    found_one = 1;
                }
            }
        }
        if (rc == JL_ENOTFOUND)
            rc = JL_OK;
        st_cursor_close(cursor);
        if (rc != JL_OK || found_one || from <= info.first_ms || span > (JL_MAX_MS - JL_MIN_MS) / 8)
            break;
        span *= 4;
    }
    st_snapshot_close(snap);
    return rc;
}

/* Recomputes pair p of rule r from from_ms (JL_MIN_MS: everything; else a quiet reading) and
 * reconciles with its stored events (see the top comment). */
static void recompute_from(al_evaluator *ev, size_t r, pair *p, int64_t from_ms, int late)
{
    found f = {NULL, 0, 0};
    jl_error err;
    if (run_from_store(ev, r, p, from_ms, &f, &err) != JL_OK) {
        count_error(ev);
        free(f.events);
        return;
    }
    p->open_id = 0;
    /* The pair's stored events by start, for lookups by identity. */
    st_event **by_start = malloc((p->event_count ? p->event_count : 1) * sizeof *by_start);
    if (by_start == NULL) {
        count_error(ev);
        free(f.events);
        return;
    }
    for (size_t j = 0; j < p->event_count; j++)
        by_start[j] = ev->events[p->events[j]];
    qsort(by_start, p->event_count, sizeof *by_start, compare_start);
    for (size_t i = 0; i < f.count; i++) {
        st_event *e = &f.events[i];
        st_event *stored = NULL;
        size_t lo = 0, hi = p->event_count;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (by_start[mid]->start_ms < e->start_ms)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < p->event_count && by_start[lo]->start_ms == e->start_ms)
            stored = by_start[lo];
        if (stored == NULL) {
            store_change(ev, r, p, e->resolved ? AL_FIRED_RESOLVED : AL_FIRED, e, late);
            continue;
        }
        if (!stored->resolved && e->resolved) {
            p->open_id = stored->id;
            store_change(ev, r, p, AL_RESOLVED, e, late);
        } else if (!stored->resolved) {
            p->open_id = stored->id; /* still firing */
        } else if (e->resolved && (stored->end_ms != e->end_ms || stored->count != e->count ||
                                   stored->peak != e->peak)) {
            /* Backfill moved the end of a resolved event: rewritten (and marked late), not
             * announced again (its key names the state, not the end). */
            st_event updated = *stored;
            updated.end_ms = e->end_ms;
            updated.count = e->count;
            updated.peak = e->peak;
            updated.late = 1;
            updated.series_key = NULL;
            jl_error put_err;
            if (st_event_put(ev->store, &updated, 1, &put_err) == JL_OK) {
                updated.series_key = stored->series_key;
                *stored = updated;
            } else {
                count_error(ev);
            }
        }
    }
    free(f.events);
    free(by_start);
    /* An absent event fired by the timer is in no reading: adopt it while the silence lasts, so
     * that the timer does not fire it again. */
    const al_rule *rule = &ev->rules.rules[r];
    if (rule->kind == AL_ABSENT && p->open_id == 0 && p->state.last_ms != INT64_MIN)
        for (size_t j = 0; j < p->event_count; j++) {
            st_event *s = ev->events[p->events[j]];
            if (!s->resolved && s->start_ms == p->state.last_ms) {
                p->open_id = s->id;
                p->state.open = p->state.fired = 1;
                p->state.start_ms = s->start_ms;
                p->state.peak = s->peak;
            }
        }
}

/* A late reading at t: replays from the last quiet reading before t (everything before it
 * stands), so that a backfill costs the readings since then, not the series' history. */
static void recompute_late(al_evaluator *ev, size_t r, pair *p, int64_t t)
{
    int64_t q_ms;
    jl_error err;
    if (find_quiet(ev, r, p, t, &q_ms, &err) != JL_OK) {
        count_error(ev);
        q_ms = JL_MIN_MS;
    }
    recompute_from(ev, r, p, q_ms, 1);
}

/* ---------- the queue and the thread ---------- */

static void queued_free(queued *q)
{
    free(q->ids);
    free(q->ms);
    free(q->values);
    free(q->flags);
    free(q);
}

static void hook(void *ctx, const st_commit_batch *batches, size_t count)
{
    al_evaluator *ev = ctx;
    size_t n = 0;
    for (size_t b = 0; b < count; b++)
        n += st_batch_point_count(batches[b].batch);
    queued *q = calloc(1, sizeof *q);
    int ok = q != NULL;
    pthread_mutex_lock(&ev->lock);
    ok = ok && ev->queued_readings + n <= MAX_QUEUED_READINGS;
    pthread_mutex_unlock(&ev->lock);
    if (ok) {
        q->ids = malloc(n * sizeof *q->ids + 1);
        q->ms = malloc(n * sizeof *q->ms + 1);
        q->values = malloc(n * sizeof *q->values + 1);
        q->flags = malloc(n + 1);
        ok = q->ids && q->ms && q->values && q->flags;
    }
    if (ok) {
        /* No keys: this runs on the writer thread, before the commit's requests are answered;
         * the evaluator reads the keys of series new to it from a snapshot (learn_keys). */
        size_t at = 0;
        for (size_t b = 0; b < count; b++) {
            const st_batch *batch = batches[b].batch;
            for (size_t i = 0; i < st_batch_point_count(batch); i++, at++) {
                q->ids[at] = batches[b].series_ids[st_batch_point_series(batch, i)];
                q->ms[at] = st_batch_point_ms(batch, i);
                q->values[at] = st_batch_point_value(batch, i);
                q->flags[at] = st_batch_point_flag(batch, i);
            }
        }
        q->count = at;
        /* The writer counted this commit just before calling the hook. */
        q->commit = st_store_commit_count(ev->store);
    }
    pthread_mutex_lock(&ev->lock);
    if (ok) {
        if (ev->tail)
            ev->tail->next = q;
        else
            ev->head = q;
        ev->tail = q;
        ev->queued_readings += n;
    } else {
        /* Never block the writer: recompute everything from the store instead. */
        ev->recompute_all = 1;
    }
    pthread_cond_signal(&ev->cond);
    pthread_mutex_unlock(&ev->lock);
    if (!ok) {
        pthread_mutex_lock(&ev->stats_lock);
        ev->stats.queue_drops++;
        pthread_mutex_unlock(&ev->stats_lock);
        if (q)
            queued_free(q);
    }
}

/* Remembers the keys of the commit's series not seen before, read from one snapshot. */
static void learn_keys(al_evaluator *ev, const queued *q)
{
    uint64_t *ids = NULL;
    size_t count = 0, capacity = 0;
    for (size_t i = 0; i < q->count; i++) {
        uint64_t id = q->ids[i];
        if (series_key_of(ev, id) || (count && ids[count - 1] == id))
            continue;
        if (count == capacity) {
            size_t n = capacity ? capacity * 2 : 64;
            uint64_t *grown = realloc(ids, n * sizeof *ids);
            if (grown == NULL)
                break;
            ids = grown;
            capacity = n;
        }
        ids[count++] = id;
    }
    if (count == 0) {
        free(ids);
        return;
    }
    st_snapshot *snap = NULL;
    jl_error err;
    if (st_snapshot_open(ev->store, ids, count, &snap, &err) != JL_OK) {
        count_error(ev);
        free(ids);
        return;
    }
    st_series_info info;
    for (size_t k = 0; st_snapshot_series_info(snap, k, &info) == JL_OK; k++)
        remember_key(ev, info.id, info.key);
    st_snapshot_close(snap);
    free(ids);
}

/* The readings of a commit come series after series (one reading of each, for time-ordered
 * ingest), so every reading's pairs are cold: each pair's state is fetched ahead, the series'
 * refs further ahead, or the evaluator waits on memory for most of its time. */
#define PREFETCH_SERIES_AHEAD 16
#define PREFETCH_REFS_AHEAD 12
#define PREFETCH_PAIRS_AHEAD 8

static void prefetch_refs(const al_evaluator *ev, uint64_t id)
{
    if (id < ev->series_capacity && ev->series[id].known && ev->series[id].count)
        __builtin_prefetch(&ev->refs[ev->series[id].first]);
}

static void prefetch_pairs(const al_evaluator *ev, uint64_t id)
{
    if (id >= ev->series_capacity || !ev->series[id].known)
        return;
    const series_refs *sr = &ev->series[id];
    for (uint32_t k = 0; k < sr->count; k++) {
        const pair_ref *ref = &ev->refs[sr->first + k];
        const char *at = (const char *)&ev->per_rule[ref->rule].pairs[ref->index];
        for (size_t offset = 0; offset < sizeof(pair); offset += 64)
            __builtin_prefetch(at + offset);
    }
}

/* Feeds a commit's readings to the pairs of their series; pairs met by a late reading are
 * recomputed from the store after the pass, with every reading of this commit. */
static void process(al_evaluator *ev, const queued *q)
{
    uint64_t started = (uint64_t)jl_monotonic_ns();
    int64_t now = ev->options.now_ms();
    ev->late_count = 0;
    learn_keys(ev, q);
    for (size_t i = 0; i < q->count; i++) {
        if (i + PREFETCH_SERIES_AHEAD < q->count &&
            q->ids[i + PREFETCH_SERIES_AHEAD] < ev->series_capacity)
            __builtin_prefetch(&ev->series[q->ids[i + PREFETCH_SERIES_AHEAD]]);
        if (i + PREFETCH_REFS_AHEAD < q->count)
            prefetch_refs(ev, q->ids[i + PREFETCH_REFS_AHEAD]);
        if (i + PREFETCH_PAIRS_AHEAD < q->count)
            prefetch_pairs(ev, q->ids[i + PREFETCH_PAIRS_AHEAD]);
        size_t ref_count;
        const pair_ref *refs = refs_of(ev, q->ids[i], &ref_count);
        for (size_t k = 0; k < ref_count; k++) {
            const al_rule *rule = &ev->rules.rules[refs[k].rule];
            pair *p = &ev->per_rule[refs[k].rule].pairs[refs[k].index];
            if (!(rule->flags & (1u << q->flags[i])))
                continue;
            /* Read by a replay already (evaluation lags behind the commits): not late. */
            if (q->commit <= p->replayed_commit)
                continue;
            if (p->late) {
                if (q->ms[i] < p->late_ms)
                    p->late_ms = q->ms[i];
                continue;
            }
            if (q->ms[i] <= p->state.last_ms) {
                if (ref_push(&ev->late, &ev->late_count, &ev->late_capacity, refs[k].rule,
                             refs[k].index) != JL_OK) {
                    count_error(ev); /* not replayed now; the next rebuild finds it */
                    continue;
                }
                p->late = 1;
                p->late_ms = q->ms[i];
                continue;
            }
            st_event e;
            al_change c = al_state_feed(rule, &p->state, q->ms[i], q->values[i], &e);
            if (c != AL_NONE)
                store_change(ev, refs[k].rule, p, c, &e, 0);
            if (rule->kind == AL_ABSENT)
                p->state.arrived_ms = now;
        }
    }
    /* A replay reconciles with the pair's stored events: its own changes must be stored. */
    for (uint64_t j = 0; j < ev->late_count; j++)
        if (ev->per_rule[ev->late[j].rule].pairs[ev->late[j].index].pending) {
            flush_pending(ev);
            break;
        }
    for (uint64_t j = 0; j < ev->late_count; j++) {
        pair *p = &ev->per_rule[ev->late[j].rule].pairs[ev->late[j].index];
        p->late = 0;
        recompute_late(ev, ev->late[j].rule, p, p->late_ms);
        p->state.arrived_ms = now;
    }
    pthread_mutex_lock(&ev->stats_lock);
    ev->stats.readings += q->count;
    ev->stats.eval_ns += (uint64_t)jl_monotonic_ns() - started;
    pthread_mutex_unlock(&ev->stats_lock);
}

static void tick(al_evaluator *ev)
{
    int64_t now = ev->options.now_ms();
    for (size_t r = 0; r < ev->rules.count; r++) {
        const al_rule *rule = &ev->rules.rules[r];
        if (rule->kind != AL_ABSENT)
            continue;
        rule_pairs *rp = &ev->per_rule[r];
        for (size_t j = 0; j < rp->count; j++) {
            st_event e;
            if (al_state_tick(rule, &rp->pairs[j].state, now, &e) == AL_FIRED)
                store_change(ev, r, &rp->pairs[j], AL_FIRED, &e, 0);
        }
    }
}

/* Writes the notified bits reported since the last call. */
static void apply_notified(al_evaluator *ev)
{
    pthread_mutex_lock(&ev->notified_lock);
    size_t n = ev->notified_count;
    uint64_t *ids = ev->notified_ids;
    unsigned *bits = ev->notified_bits;
    ev->notified_ids = NULL;
    ev->notified_bits = NULL;
    ev->notified_count = ev->notified_capacity = 0;
    pthread_mutex_unlock(&ev->notified_lock);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == 0 || ids[i] >= ev->event_capacity || ev->events[ids[i]] == NULL)
            continue;
        st_event *e = ev->events[ids[i]];
        if ((e->notified | bits[i]) == e->notified)
            continue;
        st_event updated = *e;
        updated.notified |= bits[i];
        updated.series_key = NULL;
        jl_error err;
        if (st_event_put(ev->store, &updated, 1, &err) == JL_OK)
            e->notified = updated.notified;
        else
            count_error(ev);
    }
    free(ids);
    free(bits);
}

/* Builds every pair of every rule from the store and recomputes it (start, reload, or after
 * a dropped commit). Called with work held. */
static void rebuild(al_evaluator *ev)
{
    flush_pending(ev); /* they name pairs about to go */
    series_refs_reset(ev);
    for (size_t r = 0; r < ev->rules.count; r++) {
        const al_rule *rule = &ev->rules.rules[r];
        rule_pairs_free(&ev->per_rule[r]);
        st_matcher matchers[QP_MAX_MATCHERS + 1];
        size_t m = qx_selector_matchers(rule->series.metric, rule->series.matchers,
                                        rule->series.matcher_count, matchers);
        uint64_t *ids = NULL;
        size_t count = 0;
        jl_error err;
        if (st_select(ev->store, matchers, m, 0, &ids, &count, &err) != JL_OK) {
            count_error(ev);
            continue;
        }
        rule_pairs *rp = &ev->per_rule[r];
        uint64_t max_id = count ? ids[count - 1] : 0;
        /* Series known now and not selected do not match. */
        if (grow((void **)&rp->slot, &rp->slot_capacity, max_id, sizeof(uint32_t)) == JL_OK) {
            for (uint64_t id = 1; id <= max_id; id++)
                rp->slot[id] = 1;
            for (size_t i = 0; i < count; i++)
                rp->slot[ids[i]] = 0;
        }
        for (size_t i = 0; i < count; i++) {
            /* Matched by st_select: create the pair without parsing its key. */
            if (rp->count == rp->capacity) {
                size_t n = rp->capacity ? rp->capacity * 2 : 16;
                pair *grown = realloc(rp->pairs, n * sizeof *grown);
                if (grown == NULL)
                    break;
                rp->pairs = grown;
                rp->capacity = n;
            }
            pair *p = &rp->pairs[rp->count];
            memset(p, 0, sizeof *p);
            p->series_id = ids[i];
            al_state_init(&p->state);
            rp->slot[ids[i]] = (uint32_t)(rp->count + 2);
            rp->count++;
        }
        free(ids);
        /* The stored events of this rule, by pair. */
        for (uint64_t id = 1; id < ev->event_capacity; id++) {
            st_event *e = ev->events[id];
            if (e == NULL || strcmp(e->rule, rule->name) != 0 || e->series_id >= rp->slot_capacity)
                continue;
            uint32_t slot = rp->slot[e->series_id];
            if (slot >= 2)
                pair_add_event(&rp->pairs[slot - 2], id);
        }
        for (size_t j = 0; j < rp->count; j++)
            recompute_from(ev, r, &rp->pairs[j], JL_MIN_MS, 0);
    }
    flush_pending(ev);
}

/* Offers again every state of an event of a current rule not reported delivered. */
static void reoffer(al_evaluator *ev)
{
    for (uint64_t id = 1; id < ev->event_capacity; id++) {
        st_event *e = ev->events[id];
        if (e == NULL)
            continue;
        for (size_t r = 0; r < ev->rules.count; r++) {
            if (strcmp(ev->rules.rules[r].name, e->rule) != 0)
                continue;
            if (!(e->notified & ST_EVENT_NOTIFIED_FIRING))
                announce(ev, r, e, ST_EVENT_NOTIFIED_FIRING);
            if (e->resolved && !(e->notified & ST_EVENT_NOTIFIED_RESOLVED))
                announce(ev, r, e, ST_EVENT_NOTIFIED_RESOLVED);
        }
    }
}

static void *evaluator_main(void *argument)
{
    al_evaluator *ev = argument;
    int64_t tick_ms = ev->options.tick_ms;
    uint64_t last_tick = (uint64_t)jl_monotonic_ns();
    /* When the changes waiting are due to be stored (0: none), as of the last pass: pending is
     * read under work only (a reload, which takes work, leaves none). */
    uint64_t flush_due_ns = 0;
    pthread_mutex_lock(&ev->lock);
    for (;;) {
        if (ev->head == NULL && !ev->stopping && !ev->recompute_all && !ev->flush_requested) {
            pthread_cond_broadcast(&ev->idle);
            /* Until the next tick, or the flush of the changes waiting. */
            int64_t wait_ms = tick_ms;
            if (flush_due_ns) {
                uint64_t now_ns = (uint64_t)jl_monotonic_ns();
                int64_t due_ms =
                    now_ns >= flush_due_ns ? 0 : (int64_t)((flush_due_ns - now_ns) / 1000000u) + 1;
                wait_ms = due_ms < tick_ms ? due_ms : tick_ms;
            }
            struct timespec until = jl_deadline_after_ms(wait_ms);
            pthread_cond_timedwait(&ev->cond, &ev->lock, &until);
        }
        if (ev->stopping)
            break;
        queued *q = ev->head;
        int all = ev->recompute_all;
        ev->recompute_all = 0;
        if (q) {
            ev->head = q->next;
            if (ev->head == NULL)
                ev->tail = NULL;
            ev->queued_readings -= q->count;
        }
        /* A flush waits for the last commit queued: kept asked for until that one is taken. */
        int flush_now = ev->flush_requested && ev->head == NULL;
        if (flush_now)
            ev->flush_requested = 0;
        ev->busy = 1;
        pthread_mutex_unlock(&ev->lock);
        pthread_mutex_lock(&ev->work);
        if (all && ev->reoffer_first) {
            /* Stored states not yet delivered first; the recompute then announces what it
             * adds. */
            ev->reoffer_first = 0;
            reoffer(ev);
        }
        if (all) {
            rebuild(ev);
            pthread_mutex_lock(&ev->stats_lock);
            ev->stats.ready = 1;
            pthread_mutex_unlock(&ev->stats_lock);
        }
        if (q)
            process(ev, q);
        /* Ticks also while commits keep coming, or a station would never be found absent. */
        if (q == NULL || (uint64_t)jl_monotonic_ns() - last_tick >= (uint64_t)tick_ms * 1000000u) {
            tick(ev);
            last_tick = (uint64_t)jl_monotonic_ns();
        }
        if (ev->pending_count && (flush_now || (uint64_t)jl_monotonic_ns() - ev->pending_since_ns >=
                                                   FLUSH_DELAY_MS * 1000000ull))
            flush_pending(ev);
        flush_due_ns = ev->pending_count ? ev->pending_since_ns + FLUSH_DELAY_MS * 1000000ull : 0;
        apply_notified(ev);
        pthread_mutex_unlock(&ev->work);
        if (q)
            queued_free(q);
        pthread_mutex_lock(&ev->lock);
        ev->busy = 0;
    }
    pthread_mutex_unlock(&ev->lock);
    return NULL;
}

static void evaluator_free(al_evaluator *ev)
{
    for (size_t r = 0; ev->per_rule && r < ev->rules.count; r++)
        rule_pairs_free(&ev->per_rule[r]);
    free(ev->per_rule);
    al_rules_free(&ev->rules);
    for (uint64_t id = 0; id < ev->event_capacity; id++)
        if (ev->events[id]) {
            free(ev->events[id]->series_key);
            free(ev->events[id]);
        }
    free(ev->events);
    for (uint64_t id = 0; id < ev->key_capacity; id++)
        free(ev->series_keys[id]);
    free(ev->series_keys);
    while (ev->head) {
        queued *q = ev->head;
        ev->head = q->next;
        queued_free(q);
    }
    free(ev->notified_ids);
    free(ev->notified_bits);
    series_refs_reset(ev);
    free(ev->late);
    free(ev->pending);
    pthread_mutex_destroy(&ev->lock);
    pthread_mutex_destroy(&ev->work);
    pthread_mutex_destroy(&ev->notified_lock);
    pthread_mutex_destroy(&ev->stats_lock);
    pthread_cond_destroy(&ev->cond);
    pthread_cond_destroy(&ev->idle);
    free(ev);
}

/* Loads every stored event into ev->events. */
static int load_events(al_evaluator *ev, jl_error *err)
{
    st_event *list = NULL;
    size_t count = 0;
    int rc = st_event_list(ev->store, NULL, &list, &count, err);
    if (rc != JL_OK)
        return rc;
    for (size_t i = 0; i < count && rc == JL_OK; i++) {
        uint64_t id = list[i].id;
        if (grow((void **)&ev->events, &ev->event_capacity, id, sizeof(st_event *)) != JL_OK ||
            (ev->events[id] = malloc(sizeof(st_event))) == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory loading the events");
            break;
        }
        *ev->events[id] = list[i];
        list[i].series_key = NULL; /* moved */
    }
    st_event_list_free(list, count);
    return rc;
}

int al_evaluator_start(st_store *store, al_rules *rules, const al_options *options,
                       al_evaluator **out, jl_error *err)
{
    *out = NULL;
    al_evaluator *ev = calloc(1, sizeof *ev);
    if (ev == NULL) {
        al_rules_free(rules);
        return jl_error_set(err, JL_ENOMEM, "out of memory starting the alarms");
    }
    ev->store = store;
    if (options)
        ev->options = *options;
    if (ev->options.tick_ms <= 0)
        ev->options.tick_ms = 1000;
    if (ev->options.now_ms == NULL)
        ev->options.now_ms = jl_now_ms;
    ev->rules = *rules;
    memset(rules, 0, sizeof *rules);
    pthread_mutex_init(&ev->lock, NULL);
    pthread_mutex_init(&ev->work, NULL);
    pthread_mutex_init(&ev->notified_lock, NULL);
    pthread_mutex_init(&ev->stats_lock, NULL);
    pthread_cond_init(&ev->cond, NULL);
    pthread_cond_init(&ev->idle, NULL);
    ev->per_rule = calloc(ev->rules.count ? ev->rules.count : 1, sizeof *ev->per_rule);
    int rc = ev->per_rule ? JL_OK : jl_error_set(err, JL_ENOMEM, "out of memory");
    if (rc == JL_OK)
        rc = load_events(ev, err);
    if (rc != JL_OK) {
        evaluator_free(ev);
        return rc;
    }
    /* The recompute of every pair runs on the evaluator's thread, first thing, so that the
     * server answers meanwhile. The hook is set before it, so that no commit falls between the
     * recompute and the hook: readings of commits the recompute read are skipped when their
     * turn in the queue comes (replayed_commit). */
    ev->recompute_all = 1;
    ev->reoffer_first = 1;
    st_store_set_commit_hook(store, hook, ev);
    if (pthread_create(&ev->thread, NULL, evaluator_main, ev) != 0) {
        st_store_set_commit_hook(store, NULL, NULL);
        st_store_sync_hook(store);
        evaluator_free(ev);
        return jl_error_set(err, JL_ENOMEM, "cannot start the alarm thread");
    }
    ev->started = 1;
    *out = ev;
    return JL_OK;
}

int al_evaluator_reload(al_evaluator *ev, al_rules *rules, jl_error *err)
{
    rule_pairs *per_rule = calloc(rules->count ? rules->count : 1, sizeof *per_rule);
    if (per_rule == NULL) {
        al_rules_free(rules);
        return jl_error_set(err, JL_ENOMEM, "out of memory reloading the rules");
    }
    pthread_mutex_lock(&ev->work);
    flush_pending(ev); /* under the old rules, whose pairs they name */
    for (size_t r = 0; r < ev->rules.count; r++)
        rule_pairs_free(&ev->per_rule[r]);
    free(ev->per_rule);
    al_rules_free(&ev->rules);
    ev->rules = *rules;
    memset(rules, 0, sizeof *rules);
    ev->per_rule = per_rule;
    /* Stored states not yet delivered first; the recompute then announces what it adds. */
    reoffer(ev);
    rebuild(ev);
    pthread_mutex_unlock(&ev->work);
    return JL_OK;
}

void al_evaluator_flush(al_evaluator *ev)
{
    st_store_sync_hook(ev->store);
    pthread_mutex_lock(&ev->lock);
    ev->flush_requested = 1;
    while (ev->head || ev->busy || ev->recompute_all || ev->flush_requested) {
        pthread_cond_signal(&ev->cond);
        pthread_cond_wait(&ev->idle, &ev->lock);
    }
    pthread_mutex_unlock(&ev->lock);
}

void al_evaluator_notified(al_evaluator *ev, uint64_t event_id, unsigned bits)
{
    pthread_mutex_lock(&ev->notified_lock);
    if (ev->notified_count == ev->notified_capacity) {
        size_t n = ev->notified_capacity ? ev->notified_capacity * 2 : 64;
        uint64_t *ids = realloc(ev->notified_ids, n * sizeof *ids);
        if (ids)
            ev->notified_ids = ids;
        unsigned *b = realloc(ev->notified_bits, n * sizeof *b);
        if (b)
            ev->notified_bits = b;
        if (ids && b)
            ev->notified_capacity = n;
    }
    if (ev->notified_count < ev->notified_capacity) {
        ev->notified_ids[ev->notified_count] = event_id;
        ev->notified_bits[ev->notified_count] = bits;
        ev->notified_count++;
    }
    pthread_mutex_unlock(&ev->notified_lock);
}

void al_evaluator_stats(al_evaluator *ev, al_stats *stats)
{
    pthread_mutex_lock(&ev->stats_lock);
    *stats = ev->stats;
    pthread_mutex_unlock(&ev->stats_lock);
}

void al_evaluator_with_rule(al_evaluator *ev, const char *name,
                            void (*fn)(void *ctx, const al_rule *rule), void *ctx)
{
    pthread_mutex_lock(&ev->work);
    const al_rule *found_rule = NULL;
    for (size_t r = 0; r < ev->rules.count && !found_rule; r++)
        if (strcmp(ev->rules.rules[r].name, name) == 0)
            found_rule = &ev->rules.rules[r];
    fn(ctx, found_rule);
    pthread_mutex_unlock(&ev->work);
}

void al_evaluator_halt(al_evaluator *ev)
{
    if (ev == NULL)
        return;
    st_store_set_commit_hook(ev->store, NULL, NULL);
    st_store_sync_hook(ev->store);
    if (ev->started) {
        pthread_mutex_lock(&ev->lock);
        ev->stopping = 1;
        pthread_cond_signal(&ev->cond);
        pthread_mutex_unlock(&ev->lock);
        pthread_join(ev->thread, NULL);
        ev->started = 0;
    }
}

void al_evaluator_stop(al_evaluator *ev)
{
    if (ev == NULL)
        return;
    al_evaluator_halt(ev);
    /* Reports of delivery that came in last are still written. */
    apply_notified(ev);
    evaluator_free(ev);
}
