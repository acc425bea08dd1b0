/* Tails: the unsealed readings of a series, in buffers shared by reference count with snapshots,
 * and the per-transaction series state the writer builds in series.next (touch, add, copy on
 * write), plus the pending list of series whose published tail is not empty, in the order of the
 * oldest log block each needs. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

void store_tail_release(tail_buffer *tail)
{
    if (tail == NULL)
        return;
    if (atomic_fetch_sub(&tail->references, 1) == 1) {
        free(tail->timestamps_ms);
        free(tail->values);
        free(tail->flags);
        free(tail);
    }
}

tail_buffer *tail_new(uint32_t capacity)
{
    tail_buffer *tail = calloc(1, sizeof *tail);
    if (tail == NULL)
        return NULL;
    tail->timestamps_ms = malloc(sizeof(int64_t) * capacity);
    tail->values = malloc(sizeof(double) * capacity);
    tail->flags = malloc(capacity);
    if (tail->timestamps_ms == NULL || tail->values == NULL || tail->flags == NULL) {
        free(tail->timestamps_ms);
        free(tail->values);
        free(tail->flags);
        free(tail);
        return NULL;
    }
    atomic_init(&tail->references, 1);
    tail->capacity = capacity;
    return tail;
}

void tail_touch(writer_txn *wt, series *s)
{
    if (s->touched)
        return;
    s->touched = 1;
    s->next = s->live;
    s->tail_private = 0;
    s->touched_next = wt->touched;
    wt->touched = s;
    wt->touched_count++;
}

/* A new tail's room, in readings: small, because at 10^6 series most tails are short (hourly
 * series seal after days) and a tail's room is per-series memory; a long one doubles its way up
 * at a few copies more. 64 cost 1,088 B per series before the first reading was counted. */
#define TAIL_FIRST_CAPACITY 8

/* Gives next.tail room for `needed` readings, copying into a private buffer when the shared
 * one is too small. */
static int tail_reserve(series *s, uint32_t needed)
{
    tail_buffer *tail = s->next.tail;
    if (tail && needed <= tail->capacity)
        return JL_OK;
    uint32_t capacity = tail ? tail->capacity * 2 : TAIL_FIRST_CAPACITY;
    while (capacity < needed)
        capacity *= 2;
    if (tail && s->tail_private) {
        int64_t *ms = realloc(tail->timestamps_ms, sizeof(int64_t) * capacity);
        if (ms == NULL)
            return JL_ENOMEM;
        tail->timestamps_ms = ms;
        double *values = realloc(tail->values, sizeof(double) * capacity);
        if (values == NULL)
            return JL_ENOMEM;
        tail->values = values;
        uint8_t *flags = realloc(tail->flags, capacity);
        if (flags == NULL)
            return JL_ENOMEM;
        tail->flags = flags;
        tail->capacity = capacity;
        return JL_OK;
    }
    tail_buffer *fresh = tail_new(capacity);
    if (fresh == NULL)
        return JL_ENOMEM;
    if (tail && s->next.tail_count) {
        memcpy(fresh->timestamps_ms, tail->timestamps_ms, sizeof(int64_t) * s->next.tail_count);
        memcpy(fresh->values, tail->values, sizeof(double) * s->next.tail_count);
        memcpy(fresh->flags, tail->flags, s->next.tail_count);
    }
    s->next.tail = fresh;
    s->tail_private = 1;
    return JL_OK;
}

/* Makes next.tail a private copy so that readings below the published count may change. */
static int tail_make_private(series *s)
{
    if (s->tail_private)
        return JL_OK;
    tail_buffer *shared = s->next.tail;
    tail_buffer *fresh = tail_new(shared->capacity);
    if (fresh == NULL)
        return JL_ENOMEM;
    memcpy(fresh->timestamps_ms, shared->timestamps_ms, sizeof(int64_t) * s->next.tail_count);
    memcpy(fresh->values, shared->values, sizeof(double) * s->next.tail_count);
    memcpy(fresh->flags, shared->flags, s->next.tail_count);
    s->next.tail = fresh;
    s->tail_private = 1;
    return JL_OK;
}

void tail_note_reading(series_state *st, int64_t ms, double value, int is_new)
{
    if (is_new) {
        if (st->count == 0 || ms < st->first_ms)
            st->first_ms = ms;
        if (st->count == 0 || ms > st->last_ms) {
            st->last_ms = ms;
            st->last_value = value;
        }
        st->count++;
    } else if (ms == st->last_ms) {
        st->last_value = value;
    }
}

/* Adds a reading newer than the sealed end to the tail (last write of a timestamp wins, value
 * and flag together). */
int tail_add(series *s, int64_t ms, double value, uint8_t flag, uint64_t seq)
{
    series_state *st = &s->next;
    uint32_t n = st->tail_count;
    if (n == 0 || ms > st->tail->timestamps_ms[n - 1]) {
        int rc = tail_reserve(s, n + 1);
        if (rc != JL_OK)
            return rc;
        st->tail->timestamps_ms[n] = ms;
        st->tail->values[n] = value;
        st->tail->flags[n] = flag;
        if (n == 0)
            st->tail_min_seq = seq;
        st->tail_count = n + 1;
        tail_note_reading(st, ms, value, 1);
        return JL_OK;
    }
    /* Out of order within the tail: find the position (binary search). */
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (st->tail->timestamps_ms[mid] < ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    int rc = tail_make_private(s);
    if (rc == JL_OK && st->tail->timestamps_ms[lo] != ms)
        rc = tail_reserve(s, n + 1);
    if (rc != JL_OK)
        return rc;
    tail_buffer *tail = st->tail;
    if (tail->timestamps_ms[lo] == ms) {
        tail->values[lo] = value;
        tail->flags[lo] = flag;
        tail_note_reading(st, ms, value, 0);
        return JL_OK;
    }
    memmove(tail->timestamps_ms + lo + 1, tail->timestamps_ms + lo, sizeof(int64_t) * (n - lo));
    memmove(tail->values + lo + 1, tail->values + lo, sizeof(double) * (n - lo));
    memmove(tail->flags + lo + 1, tail->flags + lo, n - lo);
    tail->timestamps_ms[lo] = ms;
    tail->values[lo] = value;
    tail->flags[lo] = flag;
    st->tail_count = n + 1;
    tail_note_reading(st, ms, value, 1);
    return JL_OK;
}

void tail_pending_unlink(st_store *store, series *s)
{
    if (s->pending_prev)
        s->pending_prev->pending_next = s->pending_next;
    else
        store->pending_head = s->pending_next;
    if (s->pending_next)
        s->pending_next->pending_prev = s->pending_prev;
    else
        store->pending_tail = s->pending_prev;
    s->pending_prev = s->pending_next = NULL;
    store->pending_count--;
}

void tail_pending_append(st_store *store, series *s)
{
    s->pending_next = NULL;
    s->pending_prev = store->pending_tail;
    if (store->pending_tail)
        store->pending_tail->pending_next = s;
    else
        store->pending_head = s;
    store->pending_tail = s;
    store->pending_count++;
}

/* Orders series by the tail_min_seq of the given state (next when publishing). */
int tail_compare_next_min_seq(const void *a, const void *b)
{
    const series *x = *(series *const *)a, *y = *(series *const *)b;
    return x->next.tail_min_seq < y->next.tail_min_seq
               ? -1
               : x->next.tail_min_seq > y->next.tail_min_seq;
}
