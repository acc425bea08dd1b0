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
        tail_segment_release(tail->newest);
        free(tail->segment_index);
        free(tail->timestamps_ms);
        free(tail);
    }
}

/* Points the head arrays into one allocation of `capacity` entries; JL_OK or JL_ENOMEM (the
 * old head is kept then). */
static int head_alloc(tail_buffer *tail, uint32_t capacity)
{
    uint8_t *head = malloc((sizeof(int64_t) + sizeof(double) + 1) * (size_t)capacity);
    if (head == NULL)
        return JL_ENOMEM;
    tail->timestamps_ms = (int64_t *)head;
    tail->values = (double *)(head + sizeof(int64_t) * (size_t)capacity);
    tail->flags = head + (sizeof(int64_t) + sizeof(double)) * (size_t)capacity;
    tail->capacity = capacity;
    return JL_OK;
}

/* A buffer with room for `capacity` head entries sharing the segments of `from` (NULL: none);
 * one reference. */
static tail_buffer *buffer_new(uint32_t capacity, const tail_buffer *from)
{
    tail_buffer *tail = calloc(1, sizeof *tail);
    if (tail == NULL)
        return NULL;
    if (head_alloc(tail, capacity) != JL_OK) {
        free(tail);
        return NULL;
    }
    if (from && from->newest) {
        tail->newest = from->newest;
        atomic_fetch_add(&tail->newest->references, 1);
        tail->segment_count = from->segment_count;
        tail->frozen_count = from->frozen_count;
    }
    atomic_init(&tail->references, 1);
    return tail;
}

/* Forgets the segment index of a buffer whose list changed. */
static void index_drop(tail_buffer *tail)
{
    free(tail->segment_index);
    tail->segment_index = NULL;
    tail->segment_index_count = 0;
}

/* Lookups walk this many segments from the newest (late readings are mostly recent) before
 * they use the index, built at the first lookup that needs it, so that readings re-sent into
 * the far part of a long tail do not each chase pointers through it. */
#define SEGMENT_WALK_MAX 2

/* The oldest segment of a tail whose last time is >= ms (ms <= tail->newest->last_ms), and in
 * *newer how many segments are newer than it. Builds the buffer's index when the walk is long
 * (walking on when out of memory). */
static tail_segment *segment_for(tail_buffer *tail, int64_t ms, uint32_t *newer)
{
    uint32_t count = 0;
    tail_segment *target = tail->newest;
    while (target->older && target->older->last_ms >= ms && count < SEGMENT_WALK_MAX) {
        target = target->older;
        count++;
    }
    if (!(target->older && target->older->last_ms >= ms)) {
        *newer = count;
        return target;
    }
    if (tail->segment_index == NULL) {
        tail->segment_index = malloc(sizeof *tail->segment_index * tail->segment_count);
        uint32_t k = 0;
        tail_segment *g = tail->newest;
        for (; tail->segment_index && g && k < tail->segment_count; g = g->older)
            tail->segment_index[k++] = (tail_segment_ref){g->last_ms, g};
        tail->segment_index_count = k;
        if (g != NULL) /* a list longer than its count: never index part of it */
            index_drop(tail);
    }
    if (tail->segment_index) {
        /* Last times fall from index 0 on, and index[count]'s is >= ms: find the first below. */
        uint32_t lo = count + 1, hi = tail->segment_index_count;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (tail->segment_index[mid].last_ms >= ms)
                lo = mid + 1;
            else
                hi = mid;
        }
        *newer = lo - 1;
        return tail->segment_index[lo - 1].segment;
    }
    while (target->older && target->older->last_ms >= ms) {
        target = target->older;
        count++;
    }
    *newer = count;
    return target;
}

/* Adds to a private buffer the segments of n readings (pieces of TAIL_SEGMENT_READINGS), newer
 * than its others. */
static int freeze_readings(tail_buffer *tail, const int64_t *ms, const double *values,
                           const uint8_t *flags, uint32_t n)
{
    for (uint32_t done = 0; done < n;) {
        uint32_t take = n - done < TAIL_SEGMENT_READINGS ? n - done : TAIL_SEGMENT_READINGS;
        tail_segment *segment = tail_segment_encode(ms + done, values + done, flags + done, take);
        if (segment == NULL)
            return JL_ENOMEM;
        segment->older = tail->newest; /* the buffer's reference moves to the new segment */
        tail->newest = segment;
        tail->segment_count++;
        index_drop(tail);
        tail->frozen_count += take;
        done += take;
    }
    return JL_OK;
}

tail_buffer *tail_from_readings(const int64_t *ms, const double *values, const uint8_t *flags,
                                uint32_t n)
{
    /* The newest readings up to a segment's worth stay in the head, where the next ones go. */
    uint32_t head = n % TAIL_SEGMENT_READINGS ? n % TAIL_SEGMENT_READINGS : TAIL_SEGMENT_READINGS;
    uint32_t frozen = n - head;
    tail_buffer *tail = buffer_new(TAIL_SEGMENT_READINGS, NULL);
    if (tail == NULL)
        return NULL;
    if (freeze_readings(tail, ms, values, flags, frozen) != JL_OK) {
        store_tail_release(tail);
        return NULL;
    }
    memcpy(tail->timestamps_ms, ms + frozen, sizeof(int64_t) * head);
    memcpy(tail->values, values + frozen, sizeof(double) * head);
    memcpy(tail->flags, flags + frozen, head);
    return tail;
}

/* Whether a segment may hold readings in [from_ms, last_ms]. */
static int segment_overlaps(const tail_segment *segment, int64_t from_ms, int64_t last_ms)
{
    return segment->first_ms <= last_ms && segment->last_ms >= from_ms;
}

uint32_t tail_read(const tail_buffer *tail, uint32_t count, int64_t from_ms, int64_t last_ms,
                   int64_t *ms, double *values, uint8_t *flags)
{
    if (tail == NULL || count == 0)
        return 0;
    /* The list runs newest first: the overlapping segments are counted, then decoded from the
     * end of their span backwards, then the readings outside the range dropped. */
    uint32_t span = 0;
    for (const tail_segment *g = tail->newest; g && g->last_ms >= from_ms; g = g->older)
        span += segment_overlaps(g, from_ms, last_ms) ? g->count : 0;
    uint32_t at = span;
    for (const tail_segment *g = tail->newest; g && g->last_ms >= from_ms; g = g->older) {
        if (segment_overlaps(g, from_ms, last_ms)) {
            at -= g->count;
            tail_segment_decode(g, ms + at, values + at, flags + at);
        }
    }
    uint32_t out = 0;
    for (uint32_t j = 0; j < span; j++) {
        if (ms[j] >= from_ms && ms[j] <= last_ms) {
            ms[out] = ms[j];
            values[out] = values[j];
            flags[out] = flags[j];
            out++;
        }
    }
    for (uint32_t j = 0; j < count - tail->frozen_count; j++) {
        if (tail->timestamps_ms[j] > last_ms)
            break;
        if (tail->timestamps_ms[j] >= from_ms) {
            ms[out] = tail->timestamps_ms[j];
            values[out] = tail->values[j];
            flags[out] = tail->flags[j];
            out++;
        }
    }
    return out;
}

int tail_unpack(writer_txn *wt, const series *s)
{
    uint32_t n = s->next.tail_count;
    if (n > wt->tail_capacity) {
        size_t capacity = wt->tail_capacity ? wt->tail_capacity : 1024;
        while (capacity < n)
            capacity *= 2;
        int64_t *ms = realloc(wt->tail_ms, sizeof(int64_t) * capacity);
        if (ms == NULL)
            return JL_ENOMEM;
        wt->tail_ms = ms;
        double *values = realloc(wt->tail_values, sizeof(double) * capacity);
        if (values == NULL)
            return JL_ENOMEM;
        wt->tail_values = values;
        uint8_t *flags = realloc(wt->tail_flags, capacity);
        if (flags == NULL)
            return JL_ENOMEM;
        wt->tail_flags = flags;
        wt->tail_capacity = capacity;
    }
    tail_read(s->next.tail, n, INT64_MIN, INT64_MAX, wt->tail_ms, wt->tail_values, wt->tail_flags);
    return JL_OK;
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
 * to TAIL_SEGMENT_READINGS at a copy or two more. 64 cost 1,088 B per series before the first
 * reading was counted. */
#define TAIL_FIRST_CAPACITY 8

/* Readings in the head of the next tail of s. */
static uint32_t head_count(const series *s)
{
    return s->next.tail ? s->next.tail_count - s->next.tail->frozen_count : 0;
}

/* Makes next.tail a buffer no reader can see (a copy of the shared one, or a new one when the
 * tail is empty) with room for `needed` head entries. */
static int tail_make_private(series *s, uint32_t needed)
{
    tail_buffer *tail = s->next.tail;
    uint32_t head = head_count(s);
    if (tail && s->tail_private && needed <= tail->capacity)
        return JL_OK;
    uint32_t capacity = tail ? tail->capacity : TAIL_FIRST_CAPACITY;
    while (capacity < needed)
        capacity *= 2;
    if (tail && s->tail_private) {
        int64_t *old_ms = tail->timestamps_ms;
        double *old_values = tail->values;
        uint8_t *old_flags = tail->flags;
        if (head_alloc(tail, capacity) != JL_OK)
            return JL_ENOMEM;
        memcpy(tail->timestamps_ms, old_ms, sizeof(int64_t) * head);
        memcpy(tail->values, old_values, sizeof(double) * head);
        memcpy(tail->flags, old_flags, head);
        free(old_ms);
        return JL_OK;
    }
    tail_buffer *fresh = buffer_new(capacity, tail);
    if (fresh == NULL)
        return JL_ENOMEM;
    if (head) {
        memcpy(fresh->timestamps_ms, tail->timestamps_ms, sizeof(int64_t) * head);
        memcpy(fresh->values, tail->values, sizeof(double) * head);
        memcpy(fresh->flags, tail->flags, head);
    }
    s->next.tail = fresh;
    s->tail_private = 1;
    return JL_OK;
}

/* Gives next.tail room for `needed` head entries. Appending beyond every published count needs
 * no copy while the shared buffer has room. */
static int tail_reserve(series *s, uint32_t needed)
{
    tail_buffer *tail = s->next.tail;
    if (tail && needed <= tail->capacity)
        return JL_OK;
    return tail_make_private(s, needed);
}

/* Freezes the whole head of next.tail into segments: in place in a private buffer, else in a
 * new one sharing the old segments. */
static int tail_freeze_head(series *s)
{
    tail_buffer *tail = s->next.tail;
    uint32_t head = head_count(s);
    if (!s->tail_private) {
        tail_buffer *fresh = buffer_new(TAIL_SEGMENT_READINGS, tail);
        if (fresh == NULL)
            return JL_ENOMEM;
        if (freeze_readings(fresh, tail->timestamps_ms, tail->values, tail->flags, head) != JL_OK) {
            store_tail_release(fresh);
            return JL_ENOMEM;
        }
        s->next.tail = fresh;
        s->tail_private = 1;
        return JL_OK;
    }
    return freeze_readings(tail, tail->timestamps_ms, tail->values, tail->flags, head);
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

/* A copy of a segment's bytes on top of `older` (whose reference it takes); NULL when out of
 * memory. */
static tail_segment *segment_copy_onto(const tail_segment *segment, tail_segment *older)
{
    tail_segment *copy = malloc(sizeof *copy + segment->bytes);
    if (copy == NULL)
        return NULL;
    memcpy(copy, segment, sizeof *copy + segment->bytes);
    atomic_init(&copy->references, 1);
    copy->older = older;
    return copy;
}

/* Puts a reading at or before the newest frozen one into its segment: the oldest whose last
 * time is not before it, decoded, changed (a reading of the same time replaced, else inserted)
 * and encoded again, as two segments when it grows past TAIL_SEGMENT_MAX; the segments newer
 * than it are copied on top (late readings usually land in the newest few). next.tail is
 * private. */
static int tail_put_frozen(series *s, int64_t ms, double value, uint8_t flag)
{
    tail_buffer *tail = s->next.tail;
    uint32_t newer = 0;
    tail_segment *target = segment_for(tail, ms, &newer);
    int64_t seg_ms[TAIL_SEGMENT_MAX + 1];
    double seg_values[TAIL_SEGMENT_MAX + 1];
    uint8_t seg_flags[TAIL_SEGMENT_MAX + 1];
    tail_segment_decode(target, seg_ms, seg_values, seg_flags);
    uint32_t n = target->count, at = 0;
    while (seg_ms[at] < ms)
        at++; /* at < n: the segment's last time is >= ms */
    int is_new = seg_ms[at] != ms;
    if (is_new) {
        memmove(seg_ms + at + 1, seg_ms + at, sizeof(int64_t) * (n - at));
        memmove(seg_values + at + 1, seg_values + at, sizeof(double) * (n - at));
        memmove(seg_flags + at + 1, seg_flags + at, n - at);
        n++;
    }
    seg_ms[at] = ms;
    seg_values[at] = value;
    seg_flags[at] = flag;
    uint32_t first = n > TAIL_SEGMENT_MAX ? n / 2 : n;
    tail_segment *a = tail_segment_encode(seg_ms, seg_values, seg_flags, first);
    tail_segment *b = first < n ? tail_segment_encode(seg_ms + first, seg_values + first,
                                                      seg_flags + first, n - first)
                                : NULL;
    if (a == NULL || (first < n && b == NULL)) {
        tail_segment_release(a);
        tail_segment_release(b);
        return JL_ENOMEM;
    }
    a->older = target->older;
    if (a->older)
        atomic_fetch_add(&a->older->references, 1);
    tail_segment *top = a;
    if (b) {
        b->older = a;
        top = b;
    }
    /* The segments newer than the target, oldest of them first. */
    tail_segment **path = newer ? malloc(sizeof *path * newer) : NULL;
    if (newer && path == NULL) {
        tail_segment_release(top);
        return JL_ENOMEM;
    }
    uint32_t k = newer;
    for (tail_segment *g = tail->newest; g != target; g = g->older)
        path[--k] = g;
    for (k = 0; k < newer; k++) {
        tail_segment *copy = segment_copy_onto(path[k], top);
        if (copy == NULL) {
            free(path);
            tail_segment_release(top);
            return JL_ENOMEM;
        }
        top = copy;
    }
    free(path);
    tail_segment_release(tail->newest);
    tail->newest = top;
    tail->segment_count += b != NULL;
    index_drop(tail);
    tail->frozen_count += (uint32_t)is_new;
    s->next.tail_count += (uint32_t)is_new;
    tail_note_reading(&s->next, ms, value, is_new);
    return JL_OK;
}

void tail_prefetch_buffer(const series_state *st)
{
    if (st->tail)
        __builtin_prefetch(st->tail);
}

void tail_prefetch_append(const series_state *st)
{
    const tail_buffer *tail = st->tail;
    if (tail == NULL)
        return;
    uint32_t head = st->tail_count - tail->frozen_count;
    if (head < tail->capacity) {
        __builtin_prefetch(&tail->timestamps_ms[head], 1);
        __builtin_prefetch(&tail->values[head], 1);
        __builtin_prefetch(&tail->flags[head], 1);
    }
}

/* The first of times[0..count) (increasing) that is >= ms; count when none is. */
static uint32_t times_lower_bound(const int64_t *times, uint32_t count, int64_t ms)
{
    uint32_t lo = 0, hi = count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (times[mid] < ms)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whether the tail (head readings in its head) holds exactly this reading: the time, the
 * value's bits and the flag. */
static int tail_holds(tail_buffer *tail, uint32_t head, int64_t ms, double value, uint8_t flag)
{
    const int64_t *times = tail->timestamps_ms;
    const double *values = tail->values;
    const uint8_t *flags = tail->flags;
    uint32_t count = head;
    int64_t seg_ms[TAIL_SEGMENT_MAX];
    double seg_values[TAIL_SEGMENT_MAX];
    uint8_t seg_flags[TAIL_SEGMENT_MAX];
    if (tail->newest && ms <= tail->newest->last_ms) {
        uint32_t newer;
        const tail_segment *segment = segment_for(tail, ms, &newer);
        if (ms < segment->first_ms)
            return 0;
        tail_segment_decode(segment, seg_ms, seg_values, seg_flags);
        times = seg_ms;
        values = seg_values;
        flags = seg_flags;
        count = segment->count;
    }
    uint32_t lo = times_lower_bound(times, count, ms);
    return lo < count && times[lo] == ms && flags[lo] == flag &&
           memcmp(&values[lo], &value, sizeof value) == 0;
}

/* Adds a reading newer than the sealed end to the tail (last write of a timestamp wins, value
 * and flag together). */
int tail_add(series *s, int64_t ms, double value, uint8_t flag, uint64_t seq)
{
    series_state *st = &s->next;
    uint32_t n = st->tail_count, head = head_count(s);
    tail_buffer *tail = st->tail;
    int64_t newest = n == 0 ? 0 : head ? tail->timestamps_ms[head - 1] : tail->newest->last_ms;
    if (n == 0 || ms > newest) {
        int rc = JL_OK;
        if (head >= TAIL_SEGMENT_READINGS) {
            rc = tail_freeze_head(s);
            head = 0;
        }
        if (rc == JL_OK)
            rc = tail_reserve(s, head + 1);
        if (rc != JL_OK)
            return rc;
        st->tail->timestamps_ms[head] = ms;
        st->tail->values[head] = value;
        st->tail->flags[head] = flag;
        if (n == 0)
            st->tail_min_seq = seq;
        st->tail_count = n + 1;
        tail_note_reading(st, ms, value, 1);
        return JL_OK;
    }
    /* Out of order within the tail. A re-send of a stored reading, the usual case after an
     * outage, changes nothing: nothing is copied or encoded again (into a frozen segment that
     * cost a segment re-encoded and every newer one copied, 5 us a reading). */
    if (tail_holds(tail, head, ms, value, flag))
        return JL_OK;
    int rc = tail_make_private(s, head + 1);
    if (rc != JL_OK)
        return rc;
    tail_buffer *own = st->tail;
    if (own->newest && ms <= own->newest->last_ms)
        return tail_put_frozen(s, ms, value, flag);
    /* In the head: find the position. */
    uint32_t lo = times_lower_bound(own->timestamps_ms, head, ms);
    if (lo < head && own->timestamps_ms[lo] == ms) {
        own->values[lo] = value;
        own->flags[lo] = flag;
        tail_note_reading(st, ms, value, 0);
        return JL_OK;
    }
    memmove(own->timestamps_ms + lo + 1, own->timestamps_ms + lo, sizeof(int64_t) * (head - lo));
    memmove(own->values + lo + 1, own->values + lo, sizeof(double) * (head - lo));
    memmove(own->flags + lo + 1, own->flags + lo, head - lo);
    own->timestamps_ms[lo] = ms;
    own->values[lo] = value;
    own->flags[lo] = flag;
    st->tail_count = n + 1;
    tail_note_reading(st, ms, value, 1);
    return JL_OK;
}

/* qsort_r order of run indices: by time (ctx: the times), then by position, so that the last
 * of equal times is last. */
static int compare_run_index(const void *a, const void *b, void *ctx)
{
    const int64_t *ms = ctx;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    int64_t x = ms[i], y = ms[j];
    if (x != y)
        return x < y ? -1 : 1;
    return i < j ? -1 : i > j;
}

int tail_merge_run(series *s, const int64_t *ms, const double *values, const uint8_t *flags,
                   uint32_t n, uint64_t seq)
{
    if (n == 0)
        return JL_OK;
    series_state *st = &s->next;
    uint32_t old = st->tail_count;
    size_t total = (size_t)old + n;
    uint32_t *order = malloc(sizeof *order * n);
    int64_t *out_ms = malloc(sizeof *out_ms * total), *old_ms = malloc(sizeof *old_ms * total);
    double *out_values = malloc(sizeof *out_values * total),
           *old_values = malloc(sizeof *old_values * total);
    uint8_t *out_flags = malloc(total), *old_flags = malloc(total);
    int rc = order && out_ms && old_ms && out_values && old_values && out_flags && old_flags
                 ? JL_OK
                 : JL_ENOMEM;
    if (rc == JL_OK) {
        for (uint32_t i = 0; i < n; i++)
            order[i] = i;
        qsort_r(order, n, sizeof *order, compare_run_index, (void *)ms);
        tail_read(st->tail, old, INT64_MIN, INT64_MAX, old_ms, old_values, old_flags);
        /* order[0..taken) is reused for the run readings written, in time order, each with
         * TAKEN_NEW when its time is new: the state counts them once the tail is built. */
        const uint32_t TAKEN_NEW = UINT32_C(1) << 31;
        uint32_t a = 0, b = 0, m = 0, taken = 0;
        while (a < old || b < n) {
            /* Of a run of equal times, only the last (in the run's order) is written. */
            while (b + 1 < n && ms[order[b]] == ms[order[b + 1]])
                b++;
            if (b >= n || (a < old && old_ms[a] < ms[order[b]])) {
                out_ms[m] = old_ms[a];
                out_values[m] = old_values[a];
                out_flags[m++] = old_flags[a++];
                continue;
            }
            uint32_t r = order[b++];
            int is_new = !(a < old && old_ms[a] == ms[r]);
            a += (uint32_t)!is_new;
            out_ms[m] = ms[r];
            out_values[m] = values[r];
            out_flags[m++] = flags[r];
            order[taken++] = r | (is_new ? TAKEN_NEW : 0);
        }
        tail_buffer *merged = tail_from_readings(out_ms, out_values, out_flags, m);
        if (merged == NULL) {
            rc = JL_ENOMEM;
        } else {
            for (uint32_t t = 0; t < taken; t++) {
                uint32_t r = order[t] & ~TAKEN_NEW;
                tail_note_reading(st, ms[r], values[r], (order[t] & TAKEN_NEW) != 0);
            }
            if (s->tail_private)
                store_tail_release(st->tail);
            st->tail = merged;
            s->tail_private = 1;
            if (old == 0)
                st->tail_min_seq = seq;
            st->tail_count = m;
        }
    }
    free(order);
    free(out_ms);
    free(old_ms);
    free(out_values);
    free(old_values);
    free(out_flags);
    free(old_flags);
    return rc;
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
