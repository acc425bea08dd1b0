/* Tests of storage/tail.c called directly, without LMDB: readings added to a series' next tail
 * in and out of order (last write of a timestamp wins), growth past a buffer's capacity, copy on
 * write of a buffer a snapshot shares (its view never changes), reference counts, and the
 * pending list with its tail_min_seq order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../storage/store_internal.h"

/* A series as the catalog would hold it before its first reading. */
static void series_blank(series *s)
{
    memset(s, 0, sizeof *s);
    s->live.sealed_max_ms = INT64_MIN;
}

/* What publish() does for one touched series: next becomes live, and the old live buffer loses
 * the reference live held when next no longer uses it. */
static void publish_one(series *s)
{
    if (s->live.tail != s->next.tail)
        store_tail_release(s->live.tail);
    s->live = s->next;
    s->touched = 0;
    s->tail_private = 0;
}

/* In-order readings land at the end; the state counts them and the first log block is kept. */
static void test_append_in_order(void)
{
    series s;
    series_blank(&s);
    writer_txn wt;
    memset(&wt, 0, sizeof wt);
    tail_touch(&wt, &s);
    tail_touch(&wt, &s); /* once per transaction */
    CHECK(wt.touched == &s);
    CHECK_INT(wt.touched_count, 1);
    CHECK_INT(s.touched, 1);
    CHECK_INT(tail_add(&s, 1000, 1.5, JL_FLAG_N, 7), JL_OK);
    CHECK_INT(tail_add(&s, 2000, 2.5, JL_FLAG_N, 8), JL_OK);
    CHECK_INT(tail_add(&s, 3000, -4.0, JL_FLAG_N, 9), JL_OK);
    CHECK_INT(s.next.tail_count, 3);
    CHECK_INT(s.next.tail_min_seq, 7);
    CHECK_INT(s.tail_private, 1);
    CHECK(s.next.tail->capacity >= 3);
    const int64_t ms[3] = {1000, 2000, 3000};
    const double values[3] = {1.5, 2.5, -4.0};
    for (int i = 0; i < 3; i++) {
        CHECK_INT(s.next.tail->timestamps_ms[i], ms[i]);
        CHECK_DOUBLE_BITS(s.next.tail->values[i], values[i]);
        CHECK_INT(s.next.tail->flags[i], JL_FLAG_N);
    }
    CHECK_INT(s.next.count, 3);
    CHECK_INT(s.next.first_ms, 1000);
    CHECK_INT(s.next.last_ms, 3000);
    CHECK_DOUBLE_BITS(s.next.last_value, -4.0);
    CHECK(s.live.tail == NULL); /* nothing published */
    CHECK_INT(s.live.count, 0);
    store_tail_release(s.next.tail);
}

/* Out-of-order readings are inserted in time order; a repeated timestamp replaces the value
 * (last write wins) without being counted again, also at the first and last positions. */
static void test_out_of_order_and_duplicates(void)
{
    series s;
    series_blank(&s);
    writer_txn wt;
    memset(&wt, 0, sizeof wt);
    tail_touch(&wt, &s);
    /* Flags travel with their values: inserted, moved, and replaced with them. */
    CHECK_INT(tail_add(&s, 300, 3.0, JL_FLAG_M, 5), JL_OK);
    CHECK_INT(tail_add(&s, 100, 1.0, JL_FLAG_C, 6), JL_OK);  /* before every reading */
    CHECK_INT(tail_add(&s, 200, 2.0, JL_FLAG_D, 6), JL_OK);  /* between */
    CHECK_INT(tail_add(&s, 300, 30.0, JL_FLAG_N, 7), JL_OK); /* duplicate of the last */
    CHECK_INT(tail_add(&s, 100, 10.0, JL_FLAG_T, 7), JL_OK); /* duplicate of the first */
    CHECK_INT(tail_add(&s, 200, -0.0, JL_FLAG_B, 8), JL_OK); /* duplicate in the middle */
    CHECK_INT(s.next.tail_count, 3);
    CHECK_INT(s.next.tail_min_seq, 5);
    const int64_t ms[3] = {100, 200, 300};
    const double values[3] = {10.0, -0.0, 30.0};
    const uint8_t flags[3] = {6, 7, 0}; /* T, B, N */
    for (int i = 0; i < 3; i++) {
        CHECK_INT(s.next.tail->timestamps_ms[i], ms[i]);
        CHECK_DOUBLE_BITS(s.next.tail->values[i], values[i]);
        CHECK_INT(s.next.tail->flags[i], flags[i]);
    }
    CHECK_INT(s.next.count, 3);
    CHECK_INT(s.next.first_ms, 100);
    CHECK_INT(s.next.last_ms, 300);
    CHECK_DOUBLE_BITS(s.next.last_value, 30.0);
    store_tail_release(s.next.tail);
}

/* 1,000 readings, the even times ascending then the odd times descending (each odd one an
 * insertion), grow the buffer well past its first capacity; all come back sorted. */
static void test_growth(void)
{
    series s;
    series_blank(&s);
    writer_txn wt;
    memset(&wt, 0, sizeof wt);
    tail_touch(&wt, &s);
    for (int64_t t = 0; t < 1000; t += 2)
        CHECK_INT(tail_add(&s, 60000 * t, 0.25 * (double)t, JL_FLAG_N, 1), JL_OK);
    for (int64_t t = 999; t > 0; t -= 2)
        CHECK_INT(tail_add(&s, 60000 * t, 0.25 * (double)t, JL_FLAG_N, 2), JL_OK);
    CHECK_INT(s.next.tail_count, 1000);
    CHECK(s.next.tail->capacity >= 1000);
    int wrong = 0;
    for (int64_t t = 0; t < 1000; t++)
        if (s.next.tail->timestamps_ms[t] != 60000 * t || s.next.tail->values[t] != 0.25 * t)
            wrong++;
    CHECK_INT(wrong, 0);
    CHECK_INT(s.next.count, 1000);
    CHECK_INT(s.next.first_ms, 0);
    CHECK_INT(s.next.last_ms, 60000 * 999);
    CHECK_DOUBLE_BITS(s.next.last_value, 249.75);
    CHECK_INT(s.next.tail_min_seq, 1);
    store_tail_release(s.next.tail);
}

/* A snapshot shares the published buffer (one reference more). The writer's in-order appends,
 * an out-of-order insertion (a private copy) and growth past the capacity never change what the
 * snapshot sees in [0, its count); the counts drop to zero once every owner has released. */
static void test_copy_on_write(void)
{
    series s;
    series_blank(&s);
    writer_txn wt;
    memset(&wt, 0, sizeof wt);
    tail_touch(&wt, &s);
    CHECK_INT(tail_add(&s, 10, 1.0, JL_FLAG_N, 1), JL_OK);
    CHECK_INT(tail_add(&s, 20, 2.0, JL_FLAG_N, 1), JL_OK);
    publish_one(&s);

    /* Snapshot 1 takes the live state and a reference. */
    series_state snap1 = s.live;
    atomic_fetch_add(&snap1.tail->references, 1);
    tail_buffer *shared = snap1.tail;
    CHECK_INT(atomic_load(&shared->references), 2);

    memset(&wt, 0, sizeof wt);
    tail_touch(&wt, &s);
    CHECK_INT(s.tail_private, 0);
    CHECK_INT(tail_add(&s, 30, 3.0, JL_FLAG_N, 2),
              JL_OK);             /* in order: beyond the snapshot's count */
    CHECK(s.next.tail == shared); /* room in the shared buffer: no copy yet */
    CHECK_INT(snap1.tail_count, 2);
    CHECK_INT(tail_add(&s, 15, 1.5, JL_FLAG_N, 2), JL_OK); /* out of order: needs a private copy */
    CHECK(s.next.tail != shared);
    CHECK_INT(s.tail_private, 1);
    CHECK_INT(atomic_load(&shared->references), 2);
    CHECK_INT(snap1.tail_count, 2);
    CHECK_INT(shared->timestamps_ms[0], 10);
    CHECK_INT(shared->timestamps_ms[1], 20);
    CHECK_DOUBLE_BITS(shared->values[0], 1.0);
    CHECK_DOUBLE_BITS(shared->values[1], 2.0);
    const int64_t next_ms[4] = {10, 15, 20, 30};
    const double next_values[4] = {1.0, 1.5, 2.0, 3.0};
    CHECK_INT(s.next.tail_count, 4);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(s.next.tail->timestamps_ms[i], next_ms[i]);
        CHECK_DOUBLE_BITS(s.next.tail->values[i], next_values[i]);
    }
    publish_one(&s); /* live drops its reference to the old buffer */
    CHECK_INT(atomic_load(&shared->references), 1);

    /* Snapshot 2 shares the new buffer; the writer appends past its capacity. */
    series_state snap2 = s.live;
    atomic_fetch_add(&snap2.tail->references, 1);
    tail_buffer *shared2 = snap2.tail;
    uint32_t capacity2 = shared2->capacity;
    memset(&wt, 0, sizeof wt);
    tail_touch(&wt, &s);
    for (uint32_t i = 0; i < capacity2; i++)
        CHECK_INT(tail_add(&s, 100 + (int64_t)i, (double)i, JL_FLAG_N, 3), JL_OK);
    CHECK(s.next.tail != shared2);
    CHECK_INT(s.next.tail_count, 4 + capacity2);
    CHECK_INT(snap2.tail_count, 4);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(shared2->timestamps_ms[i], next_ms[i]);
        CHECK_DOUBLE_BITS(shared2->values[i], next_values[i]);
    }
    for (int i = 0; i < 4; i++)
        CHECK_INT(s.next.tail->timestamps_ms[i], next_ms[i]);
    CHECK_INT(s.next.tail->timestamps_ms[4 + capacity2 - 1], 100 + (int64_t)capacity2 - 1);
    CHECK_INT(s.next.tail_min_seq, 1); /* still the oldest block of the tail */
    publish_one(&s);
    CHECK_INT(atomic_load(&shared2->references), 1);

    store_tail_release(snap1.tail); /* frees shared (ASan sees a use or a leak) */
    store_tail_release(snap2.tail);
    CHECK_INT(atomic_load(&s.live.tail->references), 1);
    store_tail_release(s.live.tail);
}

/* Reference counting on its own: a buffer lives until its last owner releases it. */
static void test_release(void)
{
    tail_buffer *tail = tail_new(8);
    CHECK(tail != NULL);
    if (tail == NULL)
        return;
    CHECK_INT(atomic_load(&tail->references), 1);
    CHECK_INT(tail->capacity, 8);
    atomic_fetch_add(&tail->references, 1);
    store_tail_release(tail);
    CHECK_INT(atomic_load(&tail->references), 1);
    tail->timestamps_ms[7] = 42; /* still owned: writable under ASan */
    CHECK_INT(tail->timestamps_ms[7], 42);
    store_tail_release(tail);
    store_tail_release(NULL);
}

/* The pending list keeps append order (publish appends the joining series sorted by
 * next.tail_min_seq) and unlinks from the head, the middle and the end. */
static void test_pending_list(void)
{
    static st_store store; /* only pending_head and pending_tail are used */
    memset(&store, 0, sizeof store);
    series a, b, c, d;
    series_blank(&a);
    series_blank(&b);
    series_blank(&c);
    series_blank(&d);
    a.next.tail_min_seq = 30;
    b.next.tail_min_seq = 10;
    c.next.tail_min_seq = 20;
    d.next.tail_min_seq = 10;
    series *joining[4] = {&a, &b, &c, &d};
    qsort(joining, 4, sizeof joining[0], tail_compare_next_min_seq);
    CHECK_INT(joining[0]->next.tail_min_seq, 10);
    CHECK_INT(joining[1]->next.tail_min_seq, 10);
    CHECK(joining[2] == &c);
    CHECK(joining[3] == &a);
    CHECK_INT(tail_compare_next_min_seq(&joining[0], &joining[1]), 0);
    CHECK(tail_compare_next_min_seq(&joining[2], &joining[3]) < 0);
    CHECK(tail_compare_next_min_seq(&joining[3], &joining[2]) > 0);

    series *order[4] = {&b, &d, &c, &a};
    for (int i = 0; i < 4; i++)
        tail_pending_append(&store, order[i]);
    CHECK(store.pending_head == &b);
    CHECK(store.pending_tail == &a);
    int i = 0;
    for (series *p = store.pending_head; p; p = p->pending_next, i++)
        CHECK(i < 4 && p == order[i]);
    CHECK_INT(i, 4);
    CHECK(a.pending_prev == &c && c.pending_prev == &d && d.pending_prev == &b);
    CHECK(b.pending_prev == NULL);

    tail_pending_unlink(&store, &d); /* middle */
    CHECK(b.pending_next == &c && c.pending_prev == &b);
    CHECK(d.pending_next == NULL && d.pending_prev == NULL);
    tail_pending_unlink(&store, &b); /* head */
    CHECK(store.pending_head == &c && c.pending_prev == NULL);
    tail_pending_unlink(&store, &a); /* tail */
    CHECK(store.pending_tail == &c && c.pending_next == NULL);
    tail_pending_append(&store, &b); /* a series rejoins at the end */
    CHECK(store.pending_head == &c && store.pending_tail == &b);
    CHECK(c.pending_next == &b && b.pending_prev == &c && b.pending_next == NULL);
    tail_pending_unlink(&store, &c);
    tail_pending_unlink(&store, &b);
    CHECK(store.pending_head == NULL && store.pending_tail == NULL);
}

int main(void)
{
    RUN(test_append_in_order);
    RUN(test_out_of_order_and_duplicates);
    RUN(test_growth);
    RUN(test_copy_on_write);
    RUN(test_release);
    RUN(test_pending_list);
    return CHECK_DONE();
}
