/* Review marks (include/jialing/review.h): the entries of the "review" database (their bytes in
 * disk_format.h section 4), the immutable in-memory set of marks in force that snapshots share,
 * the resolution of one series' marks into spans, and the public calls, which validate in the
 * caller's thread and hand the change to the writer (writer.c) so that it commits in the same
 * group transaction as readings and is published with them. */
#include "store_internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

/* ---------- entry bytes ---------- */

/* An entry as stored, texts and ids pointing into the value (texts not NUL-terminated). */
typedef struct review_value {
    int64_t made_ms, from_ms, to_ms, withdrawn_ms;
    uint64_t readings_affected;
    int valid, withdrawn;
    const uint8_t *texts[REVIEW_TEXT_COUNT]; /* made_by, selector, reason, withdrawn_by */
    uint32_t lengths[REVIEW_TEXT_COUNT];
    uint32_t series_count;
    const uint8_t *ids_le; /* series_count u64 LE, or NULL and ids below */
    const uint64_t *ids;   /* when encoding from a caller's mark */
} review_value;

enum { TEXT_MADE_BY = 0, TEXT_SELECTOR = 1, TEXT_REASON = 2, TEXT_WITHDRAWN_BY = 3 };

static void review_key(uint8_t key[REVIEW_KEY_BYTES], uint64_t id)
{
    bytes_put_be64(key, id);
}

/* Encodes v into out (replacing what it held). JL_OK or JL_ENOMEM. */
static int review_encode(const review_value *v, jl_buf *out)
{
    size_t size = REVIEW_OFF_TEXTS + (size_t)v->series_count * 8 + REVIEW_CRC_BYTES;
    for (int t = 0; t < REVIEW_TEXT_COUNT; t++)
        size += 4 + (size_t)v->lengths[t];
    out->len = 0;
    if (jl_buf_reserve(out, size) != JL_OK)
        return JL_ENOMEM;
    uint8_t *p = (uint8_t *)out->data;
    p[REVIEW_OFF_VERSION] = REVIEW_VALUE_VERSION;
    p[REVIEW_OFF_FLAGS] =
        (uint8_t)((v->valid ? REVIEW_FLAG_VALID : 0) | (v->withdrawn ? REVIEW_FLAG_WITHDRAWN : 0));
    bytes_put_le64(p + REVIEW_OFF_MADE_MS, (uint64_t)v->made_ms);
    bytes_put_le64(p + REVIEW_OFF_FROM_MS, (uint64_t)v->from_ms);
    bytes_put_le64(p + REVIEW_OFF_TO_MS, (uint64_t)v->to_ms);
    bytes_put_le64(p + REVIEW_OFF_READINGS, v->readings_affected);
    bytes_put_le64(p + REVIEW_OFF_WITHDRAWN_MS, (uint64_t)v->withdrawn_ms);
    bytes_put_le32(p + REVIEW_OFF_SERIES_COUNT, v->series_count);
    size_t at = REVIEW_OFF_TEXTS;
    for (int t = 0; t < REVIEW_TEXT_COUNT; t++) {
        bytes_put_le32(p + at, v->lengths[t]);
        at += 4;
        if (v->lengths[t])
            memcpy(p + at, v->texts[t], v->lengths[t]);
        at += v->lengths[t];
    }
    for (uint32_t i = 0; i < v->series_count; i++, at += 8)
        bytes_put_le64(p + at, v->ids ? v->ids[i] : bytes_get_le64(v->ids_le + 8 * (size_t)i));
    bytes_put_le32(p + at, ck_crc32c(0, p, at));
    out->len = at + REVIEW_CRC_BYTES;
    return JL_OK;
}

/* Validates and parses an entry in the order disk_format.h gives; max_series_id 0 skips the
 * catalog check. JL_OK or JL_ECORRUPT. */
static int review_decode(const MDB_val *key, const MDB_val *value, uint64_t max_series_id,
                         uint64_t *id, review_value *v, jl_error *err)
{
    uint8_t flags = 0;
    int rc = store_record_check(key, value, REVIEW_VALUE_MIN_BYTES, REVIEW_VALUE_VERSION,
                                REVIEW_FLAGS_KNOWN, "review mark", id, &flags, err);
    if (rc != JL_OK)
        return rc;
    unsigned long long shown = (unsigned long long)*id;
    const uint8_t *p = value->mv_data;
    size_t size = value->mv_size;
    size_t body = size - REVIEW_CRC_BYTES;
    memset(v, 0, sizeof *v);
    v->valid = (flags & REVIEW_FLAG_VALID) != 0;
    v->withdrawn = (flags & REVIEW_FLAG_WITHDRAWN) != 0;
    v->made_ms = (int64_t)bytes_get_le64(p + REVIEW_OFF_MADE_MS);
    v->from_ms = (int64_t)bytes_get_le64(p + REVIEW_OFF_FROM_MS);
    v->to_ms = (int64_t)bytes_get_le64(p + REVIEW_OFF_TO_MS);
    v->readings_affected = bytes_get_le64(p + REVIEW_OFF_READINGS);
    v->withdrawn_ms = (int64_t)bytes_get_le64(p + REVIEW_OFF_WITHDRAWN_MS);
    v->series_count = bytes_get_le32(p + REVIEW_OFF_SERIES_COUNT);
    if (v->from_ms >= v->to_ms)
        return jl_error_set(err, JL_ECORRUPT, "review mark %llu has an empty span", shown);
    if (v->series_count == 0 || v->series_count > ST_REVIEW_MAX_SERIES)
        return jl_error_set(err, JL_ECORRUPT, "review mark %llu names %u series", shown,
                            v->series_count);
    size_t at = REVIEW_OFF_TEXTS;
    for (int t = 0; t < REVIEW_TEXT_COUNT; t++) {
        if (body - at < 4)
            return jl_error_set(err, JL_ECORRUPT, "review mark %llu is truncated", shown);
        uint32_t len = bytes_get_le32(p + at);
        at += 4;
        if (len > ST_REVIEW_MAX_TEXT_BYTES || len > body - at || memchr(p + at, 0, len) != NULL)
            return jl_error_set(err, JL_ECORRUPT, "review mark %llu has a bad text", shown);
        v->texts[t] = p + at;
        v->lengths[t] = len;
        at += len;
    }
    if (!v->withdrawn && (v->withdrawn_ms != 0 || v->lengths[TEXT_WITHDRAWN_BY] != 0))
        return jl_error_set(err, JL_ECORRUPT, "review mark %llu is withdrawn without the flag",
                            shown);
    if (body - at != (size_t)v->series_count * 8)
        return jl_error_set(err, JL_ECORRUPT, "review mark %llu has a bad length", shown);
    v->ids_le = p + at;
    uint64_t previous = 0;
    for (uint32_t i = 0; i < v->series_count; i++) {
        uint64_t sid = bytes_get_le64(v->ids_le + 8 * (size_t)i);
        if (sid <= previous || (max_series_id && sid > max_series_id))
            return jl_error_set(err, JL_ECORRUPT,
                                "review mark %llu names series out of order or unknown", shown);
        previous = sid;
    }
    return JL_OK;
}

/* ---------- the set in force ---------- */

review_set *review_set_retain(review_set *set)
{
    if (set)
        atomic_fetch_add(&set->references, 1);
    return set;
}

void review_set_release(review_set *set)
{
    if (set == NULL || atomic_fetch_sub(&set->references, 1) != 1)
        return;
    free(set->marks);
    free(set->pairs);
    free(set);
}

/* A set with room for marks and pairs, one reference, nothing in it yet; NULL when out of
 * memory. */
static review_set *review_set_new(size_t marks, size_t pairs)
{
    review_set *set = calloc(1, sizeof *set);
    if (set == NULL)
        return NULL;
    atomic_init(&set->references, 1);
    set->marks = malloc((marks ? marks : 1) * sizeof *set->marks);
    set->pairs = malloc((pairs ? pairs : 1) * sizeof *set->pairs);
    if (set->marks == NULL || set->pairs == NULL) {
        review_set_release(set);
        return NULL;
    }
    return set;
}

static int pair_compare(const void *a, const void *b)
{
    const review_pair *x = a, *y = b;
    if (x->series_id != y->series_id)
        return x->series_id < y->series_id ? -1 : 1;
    return x->mark < y->mark ? -1 : x->mark > y->mark;
}

/* base plus mark id (newer than every mark in base) naming ids[0..n), ascending. */
static review_set *review_set_added(const review_set *base, uint64_t id, int64_t from_ms,
                                    int64_t to_ms, int valid, const uint64_t *ids, size_t n)
{
    review_set *set = review_set_new(base->count + 1, base->pair_count + n);
    if (set == NULL)
        return NULL;
    if (base->count > 0)
        memcpy(set->marks, base->marks, base->count * sizeof *set->marks);
    set->marks[base->count] = (review_entry){id, from_ms, to_ms, valid};
    set->count = base->count + 1;
    /* A merge of two sorted runs; the new mark's index is the largest, so it goes after the
     * older marks of the same series. */
    size_t i = 0, j = 0, k = 0;
    while (i < base->pair_count || j < n) {
        if (j == n || (i < base->pair_count && base->pairs[i].series_id <= ids[j]))
            set->pairs[k++] = base->pairs[i++];
        else
            set->pairs[k++] = (review_pair){ids[j++], base->count};
    }
    set->pair_count = k;
    set->stored = base->stored + 1;
    set->withdrawn = base->withdrawn;
    return set;
}

/* base without mark id (it counts as withdrawn from now on). */
static review_set *review_set_without(const review_set *base, uint64_t id)
{
    review_set *set = review_set_new(base->count, base->pair_count);
    if (set == NULL)
        return NULL;
    size_t lo = store_lower_bound_u64(base->marks, base->count, sizeof *base->marks,
                                      offsetof(review_entry, id), id);
    uint64_t gone = lo < base->count && base->marks[lo].id == id ? lo : UINT64_MAX;
    size_t k = 0;
    for (size_t i = 0; i < base->count; i++)
        if (i != gone)
            set->marks[k++] = base->marks[i];
    set->count = k;
    k = 0;
    for (size_t i = 0; i < base->pair_count; i++) {
        review_pair pair = base->pairs[i];
        if (pair.mark == gone)
            continue;
        if (gone != UINT64_MAX && pair.mark > gone)
            pair.mark--;
        set->pairs[k++] = pair;
    }
    set->pair_count = k;
    set->stored = base->stored;
    set->withdrawn = base->withdrawn + 1;
    return set;
}

int review_load(st_store *store, MDB_txn *txn, jl_error *err)
{
    store->review_next_id = 1;
    review_entry *marks = NULL;
    review_pair *pairs = NULL;
    size_t count = 0, mark_capacity = 0, pair_count = 0, pair_capacity = 0;
    uint64_t stored = 0, withdrawn = 0;
    int rc = JL_OK;
    if (store->has_review_db) {
        MDB_cursor *cursor;
        int mrc = mdb_cursor_open(txn, store->db_review, &cursor);
        if (mrc != 0)
            return store_lmdb_error(err, mrc, "opening the review marks");
        MDB_val k, v;
        for (mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); mrc == 0 && rc == JL_OK;
             mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
            uint64_t id;
            review_value value;
            rc = review_decode(&k, &v, store->series_count, &id, &value, err);
            if (rc != JL_OK)
                break;
            stored++;
            store->review_next_id = id + 1;
            if (value.withdrawn) {
                withdrawn++;
                continue;
            }
            review_entry *grown_marks =
                jl_array_grow(marks, &mark_capacity, count + 1, sizeof *marks, 16);
            review_pair *grown_pairs =
                grown_marks ? jl_array_grow(pairs, &pair_capacity, pair_count + value.series_count,
                                            sizeof *pairs, 64)
                            : NULL;
            if (grown_marks)
                marks = grown_marks;
            if (grown_pairs)
                pairs = grown_pairs;
            if (grown_marks == NULL || grown_pairs == NULL) {
                rc = jl_error_set(err, JL_ENOMEM, "out of memory loading review marks");
                break;
            }
            marks[count] = (review_entry){id, value.from_ms, value.to_ms, value.valid};
            for (uint32_t i = 0; i < value.series_count; i++)
                pairs[pair_count++] =
                    (review_pair){bytes_get_le64(value.ids_le + 8 * (size_t)i), count};
            count++;
        }
        if (rc == JL_OK && mrc != MDB_NOTFOUND)
            rc = store_lmdb_error(err, mrc, "reading the review marks");
        mdb_cursor_close(cursor);
    }
    review_set *set = rc == JL_OK ? review_set_new(0, 0) : NULL;
    if (rc == JL_OK && set == NULL)
        rc = jl_error_set(err, JL_ENOMEM, "out of memory loading review marks");
    if (rc != JL_OK) {
        free(marks);
        free(pairs);
        return rc;
    }
    if (count) {
        free(set->marks);
        free(set->pairs);
        qsort(pairs, pair_count, sizeof *pairs, pair_compare);
        set->marks = marks;
        set->pairs = pairs;
        set->count = count;
        set->pair_count = pair_count;
    } else {
        free(marks);
        free(pairs);
    }
    set->stored = stored;
    set->withdrawn = withdrawn;
    store->reviews = set;
    return JL_OK;
}

/* ---------- spans ---------- */

/* Max-heap of local mark indexes (a larger index is a newer mark). */
static void heap_push(size_t *heap, size_t *n, size_t value)
{
    size_t i = (*n)++;
    while (i > 0 && heap[(i - 1) / 2] < value) {
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = value;
}

static void heap_pop(size_t *heap, size_t *n)
{
    size_t last = heap[--(*n)], i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n)
            break;
        if (child + 1 < *n && heap[child + 1] > heap[child])
            child++;
        if (heap[child] <= last)
            break;
        heap[i] = heap[child];
        i = child;
    }
    if (*n)
        heap[i] = last;
}

typedef struct span_event {
    int64_t ms;
    size_t mark; /* local index */
    int start;   /* 1: the mark begins at ms; 0: it ends there */
} span_event;

static int event_compare(const void *a, const void *b)
{
    const span_event *x = a, *y = b;
    return x->ms < y->ms ? -1 : x->ms > y->ms;
}

int review_series_spans(const review_set *set, uint64_t series_id, st_review_span **spans_out,
                        size_t *count_out)
{
    *spans_out = NULL;
    *count_out = 0;
    if (set == NULL)
        return JL_OK;
    size_t first = store_lower_bound_u64(set->pairs, set->pair_count, sizeof *set->pairs,
                                         offsetof(review_pair, series_id), series_id);
    size_t hi = first;
    while (hi < set->pair_count && set->pairs[hi].series_id == series_id)
        hi++;
    size_t k = hi - first; /* the series' marks, ascending id: local index order is age */
    if (k == 0)
        return JL_OK;
    span_event *events = malloc(2 * k * sizeof *events);
    size_t *heap = malloc(k * sizeof *heap);
    unsigned char *ended = calloc(k, 1);
    st_review_span *spans = malloc((2 * k) * sizeof *spans);
    if (events == NULL || heap == NULL || ended == NULL || spans == NULL) {
        free(events);
        free(heap);
        free(ended);
        free(spans);
        return JL_ENOMEM;
    }
    for (size_t j = 0; j < k; j++) {
        const review_entry *m = &set->marks[set->pairs[first + j].mark];
        events[2 * j] = (span_event){m->from_ms, j, 1};
        events[2 * j + 1] = (span_event){m->to_ms, j, 0};
    }
    qsort(events, 2 * k, sizeof *events, event_compare);
    /* Sweep the boundaries: between two of them the newest mark begun and not ended wins;
     * ended marks leave the heap lazily when they reach its top. */
    size_t n = 0, heap_n = 0, e = 0;
    while (e < 2 * k) {
        int64_t ms = events[e].ms;
        for (; e < 2 * k && events[e].ms == ms; e++) {
            if (events[e].start)
                heap_push(heap, &heap_n, events[e].mark);
            else
                ended[events[e].mark] = 1;
        }
        while (heap_n && ended[heap[0]])
            heap_pop(heap, &heap_n);
        if (e == 2 * k || heap_n == 0)
            continue;
        const review_entry *winner = &set->marks[set->pairs[first + heap[0]].mark];
        if (n && spans[n - 1].mark_id == winner->id && spans[n - 1].to_ms == ms) {
            spans[n - 1].to_ms = events[e].ms;
        } else {
            spans[n++] = (st_review_span){ms, events[e].ms, winner->valid, winner->id};
        }
    }
    free(events);
    free(heap);
    free(ended);
    *spans_out = spans;
    *count_out = n;
    return JL_OK;
}

/* ---------- applying operations in the writer ---------- */

static void text_of(const char *text, review_value *v, int t)
{
    v->texts[t] = (const uint8_t *)text;
    v->lengths[t] = (uint32_t)strlen(text);
}

static int review_apply_add(st_store *store, writer_txn *wt, review_op *op, const review_set *base,
                            review_set **next, jl_error *err)
{
    const st_review_mark *mark = op->mark;
    uint64_t id = store->review_next_id;
    review_value v;
    memset(&v, 0, sizeof v);
    v.made_ms = mark->made_ms;
    v.from_ms = mark->from_ms;
    v.to_ms = mark->to_ms;
    v.readings_affected = mark->readings_affected;
    v.valid = mark->valid != 0;
    text_of(mark->made_by ? mark->made_by : "", &v, TEXT_MADE_BY);
    text_of(mark->selector ? mark->selector : "", &v, TEXT_SELECTOR);
    text_of(mark->reason ? mark->reason : "", &v, TEXT_REASON);
    text_of("", &v, TEXT_WITHDRAWN_BY);
    v.series_count = (uint32_t)mark->series_count;
    v.ids = mark->series_ids;
    jl_buf bytes;
    jl_buf_init(&bytes);
    if (review_encode(&v, &bytes) != JL_OK) {
        jl_buf_destroy(&bytes);
        return jl_error_set(err, JL_ENOMEM, "out of memory storing a review mark");
    }
    uint8_t key[REVIEW_KEY_BYTES];
    review_key(key, id);
    MDB_val k = {sizeof key, key}, val = {bytes.len, bytes.data};
    int mrc = mdb_put(wt->txn, store->db_review, &k, &val, MDB_NOOVERWRITE);
    jl_buf_destroy(&bytes);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "storing a review mark");
    *next = review_set_added(base, id, mark->from_ms, mark->to_ms, v.valid, mark->series_ids,
                             mark->series_count);
    if (*next == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory storing a review mark");
    store->review_next_id = id + 1;
    op->id = id;
    return JL_OK;
}

static int review_apply_withdraw(st_store *store, writer_txn *wt, const review_op *op,
                                 const review_set *base, review_set **next, jl_error *err)
{
    uint8_t key[REVIEW_KEY_BYTES];
    review_key(key, op->id);
    MDB_val k = {sizeof key, key}, val;
    int mrc = mdb_get(wt->txn, store->db_review, &k, &val);
    if (mrc == MDB_NOTFOUND)
        return jl_error_set(err, JL_ENOTFOUND, "there is no review mark %llu",
                            (unsigned long long)op->id);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "reading a review mark");
    uint64_t id;
    review_value v;
    int rc = review_decode(&k, &val, 0, &id, &v, err);
    if (rc != JL_OK)
        return rc;
    if (v.withdrawn)
        return jl_error_set(err, JL_ECONFLICT, "review mark %llu is already withdrawn",
                            (unsigned long long)op->id);
    v.withdrawn = 1;
    v.withdrawn_ms = op->when_ms;
    text_of(op->by, &v, TEXT_WITHDRAWN_BY);
    /* Encoded into a copy before the put: LMDB may move the pages the old bytes lie in. */
    jl_buf bytes;
    jl_buf_init(&bytes);
    if (review_encode(&v, &bytes) != JL_OK) {
        jl_buf_destroy(&bytes);
        return jl_error_set(err, JL_ENOMEM, "out of memory withdrawing a review mark");
    }
    MDB_val replaced = {bytes.len, bytes.data};
    mrc = mdb_put(wt->txn, store->db_review, &k, &replaced, 0);
    jl_buf_destroy(&bytes);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "withdrawing a review mark");
    *next = review_set_without(base, op->id);
    if (*next == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory withdrawing a review mark");
    return JL_OK;
}

int review_apply(st_store *store, writer_txn *wt, review_op *op, jl_error *err)
{
    if (!store->has_review_db)
        return jl_error_set(err, JL_EBUSY, "the store has no review database");
    /* Several operations of one group build on each other's sets. */
    const review_set *base = wt->review_next ? wt->review_next : store->reviews;
    review_set *next = NULL;
    int rc = op->kind == REVIEW_OP_ADD ? review_apply_add(store, wt, op, base, &next, err)
                                       : review_apply_withdraw(store, wt, op, base, &next, err);
    if (rc != JL_OK)
        return rc;
    review_set_release(wt->review_next);
    wt->review_next = next;
    return JL_OK;
}

/* ---------- the public calls ---------- */

/* Whether text (NULL taken as "") is at most ST_REVIEW_MAX_TEXT_BYTES long. */
static int text_fits(const char *text)
{
    return text == NULL || strnlen(text, ST_REVIEW_MAX_TEXT_BYTES + 1) <= ST_REVIEW_MAX_TEXT_BYTES;
}

int st_review_add(st_store *store, const st_review_mark *mark, uint64_t *id, jl_error *err)
{
    if (mark->from_ms >= mark->to_ms)
        return jl_error_set(err, JL_EINVAL, "a review mark needs from < to");
    if (mark->series_count == 0 || mark->series_ids == NULL)
        return jl_error_set(err, JL_EINVAL, "a review mark names no series");
    if (mark->series_count > ST_REVIEW_MAX_SERIES)
        return jl_error_set(err, JL_ETOOLARGE,
                            "a review mark may name at most %u series; this "
                            "one names %zu",
                            ST_REVIEW_MAX_SERIES, mark->series_count);
    if (!text_fits(mark->made_by) || !text_fits(mark->selector) || !text_fits(mark->reason))
        return jl_error_set(err, JL_EINVAL, "a review mark's texts may hold at most %u bytes each",
                            ST_REVIEW_MAX_TEXT_BYTES);
    for (size_t i = 0; i < mark->series_count; i++)
        if (mark->series_ids[i] == 0 || (i > 0 && mark->series_ids[i] <= mark->series_ids[i - 1]))
            return jl_error_set(err, JL_EINVAL, "a review mark's series ids must ascend");
    if (store->options.read_only)
        return jl_error_set(err, JL_EBUSY, "the store was opened read-only");
    /* Series are never removed, so one known now stays known until the writer applies this. */
    pthread_rwlock_rdlock(&store->state_lock);
    uint64_t known = store->series_count;
    pthread_rwlock_unlock(&store->state_lock);
    if (mark->series_ids[mark->series_count - 1] > known)
        return jl_error_set(err, JL_EINVAL, "a review mark names unknown series %llu",
                            (unsigned long long)mark->series_ids[mark->series_count - 1]);
    review_op op = {REVIEW_OP_ADD, mark, 0, 0, NULL};
    write_request request;
    memset(&request, 0, sizeof request);
    request.kind = WRITE_REVIEW;
    request.review = &op;
    int rc = writer_submit(store, &request, err);
    if (rc == JL_OK && id)
        *id = op.id;
    return rc;
}

int st_review_withdraw(st_store *store, uint64_t id, int64_t when_ms, const char *by, jl_error *err)
{
    if (!text_fits(by))
        return jl_error_set(err, JL_EINVAL, "a withdrawal's name may hold at most %u bytes",
                            ST_REVIEW_MAX_TEXT_BYTES);
    if (store->options.read_only)
        return jl_error_set(err, JL_EBUSY, "the store was opened read-only");
    review_op op = {REVIEW_OP_WITHDRAW, NULL, id, when_ms, by ? by : ""};
    write_request request;
    memset(&request, 0, sizeof request);
    request.kind = WRITE_REVIEW;
    request.review = &op;
    return writer_submit(store, &request, err);
}

/* ---------- listing ---------- */

struct st_review_list {
    st_review_mark *marks;
    size_t count;
    char *arena; /* every text (NUL-terminated) and id array the marks point to */
};

/* Offsets into the arena of one entry, turned into pointers once the arena stops moving. */
typedef struct list_offsets {
    size_t texts[REVIEW_TEXT_COUNT];
    size_t ids;
} list_offsets;

static int filter_passes(const st_review_filter *f, const review_value *v)
{
    if (f == NULL)
        return 1;
    if (f->from_ms < f->to_ms && !(v->from_ms < f->to_ms && f->from_ms < v->to_ms))
        return 0;
    if (f->series_count == 0)
        return 1;
    size_t i = 0, j = 0; /* both ascending: walk them together */
    while (i < v->series_count && j < f->series_count) {
        uint64_t sid = bytes_get_le64(v->ids_le + 8 * i);
        if (sid == f->series_ids[j])
            return 1;
        if (sid < f->series_ids[j])
            i++;
        else
            j++;
    }
    return 0;
}

/* Appends v to the list being built: the mark in *marks[*count], its bytes to arena. */
static int list_append(uint64_t id, const review_value *v, st_review_mark **marks,
                       list_offsets **offsets, size_t *count, size_t *capacity, jl_buf *arena)
{
    size_t cap = *capacity;
    st_review_mark *grown = jl_array_grow(*marks, &cap, *count + 1, sizeof **marks, 16);
    if (grown == NULL)
        return JL_ENOMEM;
    *marks = grown;
    cap = *capacity;
    list_offsets *grown_offsets = jl_array_grow(*offsets, &cap, *count + 1, sizeof **offsets, 16);
    if (grown_offsets == NULL)
        return JL_ENOMEM;
    *offsets = grown_offsets;
    *capacity = cap;
    list_offsets *o = &(*offsets)[*count];
    for (int t = 0; t < REVIEW_TEXT_COUNT; t++) {
        o->texts[t] = arena->len;
        if (jl_buf_append(arena, v->texts[t], v->lengths[t]) != JL_OK ||
            jl_buf_append(arena, "", 1) != JL_OK)
            return JL_ENOMEM;
    }
    static const char zeros[8];
    if (arena->len % 8 && jl_buf_append(arena, zeros, 8 - arena->len % 8) != JL_OK)
        return JL_ENOMEM;
    o->ids = arena->len;
    size_t bytes = (size_t)v->series_count * 8;
    if (jl_buf_reserve(arena, bytes) != JL_OK)
        return JL_ENOMEM;
    for (uint32_t i = 0; i < v->series_count; i++) {
        uint64_t sid = bytes_get_le64(v->ids_le + 8 * (size_t)i);
        memcpy(arena->data + arena->len + 8 * (size_t)i, &sid, 8);
    }
    arena->len += bytes;
    st_review_mark *m = &(*marks)[*count];
    memset(m, 0, sizeof *m);
    m->id = id;
    m->made_ms = v->made_ms;
    m->from_ms = v->from_ms;
    m->to_ms = v->to_ms;
    m->valid = v->valid;
    m->readings_affected = v->readings_affected;
    m->series_count = v->series_count;
    m->withdrawn = v->withdrawn;
    m->withdrawn_ms = v->withdrawn_ms;
    (*count)++;
    return JL_OK;
}

int st_review_list_marks(st_store *store, const st_review_filter *filter, st_review_list **out,
                         jl_error *err)
{
    *out = NULL;
    st_review_list *list = calloc(1, sizeof *list);
    if (list == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory listing review marks");
    if (!store->has_review_db) {
        *out = list;
        return JL_OK;
    }
    st_review_mark *marks = NULL;
    list_offsets *offsets = NULL;
    size_t count = 0, capacity = 0;
    jl_buf arena;
    jl_buf_init(&arena);
    int rc = JL_OK;
    pthread_rwlock_rdlock(&store->map_lock);
    MDB_txn *txn = NULL;
    MDB_cursor *cursor = NULL;
    rc = store_read_cursor(store, store->db_review, "reading the review marks", &txn, &cursor, err);
    if (rc == JL_OK) {
        MDB_val k, v;
        int mrc;
        uint8_t key[REVIEW_KEY_BYTES];
        int only = filter && filter->id;
        if (only) {
            review_key(key, filter->id);
            k = (MDB_val){sizeof key, key};
            mrc = mdb_cursor_get(cursor, &k, &v, MDB_SET_KEY);
        } else {
            mrc = mdb_cursor_get(cursor, &k, &v, MDB_LAST); /* newest first */
        }
        for (; mrc == 0 && rc == JL_OK;
             mrc = only ? MDB_NOTFOUND : mdb_cursor_get(cursor, &k, &v, MDB_PREV)) {
            uint64_t id;
            review_value value;
            rc = review_decode(&k, &v, 0, &id, &value, err);
            if (rc == JL_OK && filter_passes(filter, &value) &&
                list_append(id, &value, &marks, &offsets, &count, &capacity, &arena) != JL_OK)
                rc = jl_error_set(err, JL_ENOMEM, "out of memory listing review marks");
        }
        if (rc == JL_OK && mrc != MDB_NOTFOUND)
            rc = store_lmdb_error(err, mrc, "reading the review marks");
    }
    store_read_cursor_close(txn, cursor);
    pthread_rwlock_unlock(&store->map_lock);
    if (rc != JL_OK) {
        free(marks);
        free(offsets);
        jl_buf_destroy(&arena);
        free(list);
        return rc;
    }
    /* malloc's alignment and the 8-aligned offsets keep the id arrays aligned. */
    list->arena = arena.data;
    list->marks = marks;
    list->count = count;
    for (size_t i = 0; i < count; i++) {
        st_review_mark *m = &marks[i];
        const list_offsets *o = &offsets[i];
        m->made_by = list->arena + o->texts[TEXT_MADE_BY];
        m->selector = list->arena + o->texts[TEXT_SELECTOR];
        m->reason = list->arena + o->texts[TEXT_REASON];
        m->withdrawn_by = m->withdrawn ? list->arena + o->texts[TEXT_WITHDRAWN_BY] : NULL;
        m->series_ids = (const uint64_t *)(const void *)(list->arena + o->ids);
    }
    free(offsets);
    *out = list;
    return JL_OK;
}

size_t st_review_list_count(const st_review_list *list)
{
    return list->count;
}

const st_review_mark *st_review_list_get(const st_review_list *list, size_t i)
{
    return &list->marks[i];
}

void st_review_list_free(st_review_list *list)
{
    if (list == NULL)
        return;
    free(list->marks);
    free(list->arena);
    free(list);
}
