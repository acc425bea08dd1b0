/* Tests of storage/tail.c called directly, without LMDB: readings added to a series' next tail
 * in and out of order (last write of a timestamp wins), growth past a buffer's capacity and the
 * freezing of older readings into segments (late readings put into them), copy on write of a
 * buffer a snapshot shares (its view never changes), reference counts, a random model against a
 * plain sorted array, and the pending list with its tail_min_seq order. */
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

/* A blank series touched by a fresh transaction: its next state is ready for readings. */
static void begin_series(series *s, writer_txn *wt)
{
    series_blank(s);
    memset(wt, 0, sizeof *wt);
    tail_touch(wt, s);
}

/* Releases what the series' live and next states hold (once when they share a buffer). */
static void end_series(series *s)
{
    if (s->live.tail != s->next.tail)
        store_tail_release(s->live.tail);
    store_tail_release(s->next.tail);
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

/* Every reading of a tail state, through tail_read (room for TEST_MAX readings). */
#define TEST_MAX 16384
static int64_t got_ms[TEST_MAX];
static double got_values[TEST_MAX];
static uint8_t got_flags[TEST_MAX];
static uint32_t read_all(const tail_buffer *tail, uint32_t count)
{
    CHECK(count <= TEST_MAX);
    return tail_read(tail, count, INT64_MIN, INT64_MAX, got_ms, got_values, got_flags);
}

/* In-order readings land at the end; the state counts them and the first log block is kept. */
static void test_append_in_order(void)
{
    series s;
    writer_txn wt;
    begin_series(&s, &wt);
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
    CHECK_INT(read_all(s.next.tail, 3), 3);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(got_ms[i], ms[i]);
        CHECK_DOUBLE_BITS(got_values[i], values[i]);
        CHECK_INT(got_flags[i], JL_FLAG_N);
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
    writer_txn wt;
    begin_series(&s, &wt);
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
    CHECK_INT(read_all(s.next.tail, 3), 3);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(got_ms[i], ms[i]);
        CHECK_DOUBLE_BITS(got_values[i], values[i]);
        CHECK_INT(got_flags[i], flags[i]);
    }
    CHECK_INT(s.next.count, 3);
    CHECK_INT(s.next.first_ms, 100);
    CHECK_INT(s.next.last_ms, 300);
    CHECK_DOUBLE_BITS(s.next.last_value, 30.0);
    store_tail_release(s.next.tail);
}

/* 1,000 readings, the even times ascending then the odd times descending (each odd one an
 * insertion into a frozen segment, which grows past TAIL_SEGMENT_MAX and is split), grow the
 * tail well past its first capacity; all come back sorted, and the head never holds more than
 * a segment's worth. */
static void test_growth(void)
{
    series s;
    writer_txn wt;
    begin_series(&s, &wt);
    for (int64_t t = 0; t < 1000; t += 2)
        CHECK_INT(tail_add(&s, 60000 * t, 0.25 * (double)t, JL_FLAG_N, 1), JL_OK);
    for (int64_t t = 999; t > 0; t -= 2)
        CHECK_INT(tail_add(&s, 60000 * t, 0.25 * (double)t, JL_FLAG_N, 2), JL_OK);
    CHECK_INT(s.next.tail_count, 1000);
    /* The 500 even readings: 15 segments of 32 (0..958) and 20 in the head (960..998). The odd
     * ones newer than the last frozen reading, 959..999, go into the head (41 readings, room
     * for 64); the 479 older ones, 957..1, into the segments. */
    CHECK_INT(s.next.tail->capacity, 64);
    CHECK_INT(s.next.tail->frozen_count, 959);
    CHECK(s.next.tail->segment_count >= 959 / TAIL_SEGMENT_MAX);
    uint32_t in_segments = 0;
    uint32_t listed = 0;
    for (const tail_segment *g = s.next.tail->newest; g; g = g->older, listed++) {
        CHECK(g->count <= TAIL_SEGMENT_MAX);
        CHECK(g->older == NULL || g->older->last_ms < g->first_ms);
        in_segments += g->count;
    }
    CHECK_INT(listed, s.next.tail->segment_count);
    CHECK_INT(in_segments, 959);
    CHECK_INT(read_all(s.next.tail, 1000), 1000);
    int wrong = 0;
    for (int64_t t = 0; t < 1000; t++)
        if (got_ms[t] != 60000 * t || got_values[t] != 0.25 * t)
            wrong++;
    CHECK_INT(wrong, 0);
    /* A range read decodes only what it needs and returns [from, last]. */
    CHECK_INT(tail_read(s.next.tail, 1000, 60000 * 10, 60000 * 19, got_ms, got_values, got_flags),
              10);
    CHECK_INT(got_ms[0], 60000 * 10);
    CHECK_INT(got_ms[9], 60000 * 19);
    CHECK_INT(tail_read(s.next.tail, 1000, 60000 * 990, INT64_MAX, got_ms, got_values, got_flags),
              10);
    CHECK_INT(got_ms[0], 60000 * 990);
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
    writer_txn wt;
    begin_series(&s, &wt);
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
    CHECK_INT(read_all(shared, snap1.tail_count), 2);
    CHECK_INT(got_ms[0], 10);
    CHECK_INT(got_ms[1], 20);
    CHECK_DOUBLE_BITS(got_values[0], 1.0);
    CHECK_DOUBLE_BITS(got_values[1], 2.0);
    const int64_t next_ms[4] = {10, 15, 20, 30};
    const double next_values[4] = {1.0, 1.5, 2.0, 3.0};
    CHECK_INT(s.next.tail_count, 4);
    CHECK_INT(read_all(s.next.tail, 4), 4);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(got_ms[i], next_ms[i]);
        CHECK_DOUBLE_BITS(got_values[i], next_values[i]);
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
    CHECK_INT(read_all(shared2, snap2.tail_count), 4);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(got_ms[i], next_ms[i]);
        CHECK_DOUBLE_BITS(got_values[i], next_values[i]);
    }
    CHECK_INT(read_all(s.next.tail, s.next.tail_count), 4 + capacity2);
    for (int i = 0; i < 4; i++)
        CHECK_INT(got_ms[i], next_ms[i]);
    CHECK_INT(got_ms[4 + capacity2 - 1], 100 + (int64_t)capacity2 - 1);
    CHECK_INT(s.next.tail_min_seq, 1); /* still the oldest block of the tail */
    publish_one(&s);
    CHECK_INT(atomic_load(&shared2->references), 1);

    store_tail_release(snap1.tail); /* frees shared (ASan sees a use or a leak) */
    store_tail_release(snap2.tail);
    CHECK_INT(atomic_load(&s.live.tail->references), 1);
    store_tail_release(s.live.tail);
}

/* A snapshot shares a buffer with frozen segments. Freezing the head (once it holds a segment's
 * worth) and putting a late reading into a segment both leave the snapshot's view as it was;
 * the segments the two buffers share live until both are released (ASan sees a use after free
 * or a leak otherwise). */
static void test_frozen_copy_on_write(void)
{
    series s;
    writer_txn wt;
    begin_series(&s, &wt);
    /* 40 readings a minute apart, values 0.0, 0.1, ...: 32 frozen and 8 in the head. */
    for (int64_t i = 0; i < 40; i++)
        CHECK_INT(tail_add(&s, 60000 * i, (double)i / 10, JL_FLAG_N, 1), JL_OK);
    CHECK_INT(s.next.tail->frozen_count, 32);
    CHECK_INT(s.next.tail->segment_count, 1);
    publish_one(&s);
    series_state snap = s.live;
    atomic_fetch_add(&snap.tail->references, 1);

    memset(&wt, 0, sizeof wt);
    tail_touch(&wt, &s);
    for (int64_t i = 40; i < 80; i++) /* the head fills and freezes into a new buffer */
        CHECK_INT(tail_add(&s, 60000 * i, (double)i / 10, JL_FLAG_N, 2), JL_OK);
    CHECK(s.next.tail != snap.tail);
    CHECK_INT(tail_add(&s, 60000 * 5 + 30000, 99.5, JL_FLAG_M, 2), JL_OK); /* late, frozen */
    CHECK_INT(tail_add(&s, 60000 * 7, -7.25, JL_FLAG_D, 2), JL_OK);        /* replaces */
    CHECK_INT(s.next.tail_count, 81);
    CHECK_INT(s.next.count, 81);
    publish_one(&s);

    CHECK_INT(read_all(snap.tail, snap.tail_count), 40);
    int wrong = 0;
    for (int64_t i = 0; i < 40; i++)
        if (got_ms[i] != 60000 * i || !(got_values[i] == (double)i / 10) || got_flags[i] != 0)
            wrong++;
    CHECK_INT(wrong, 0);
    CHECK_INT(read_all(s.live.tail, s.live.tail_count), 81);
    CHECK_INT(got_ms[6], 60000 * 5 + 30000);
    CHECK_DOUBLE_BITS(got_values[6], 99.5);
    CHECK_INT(got_flags[6], JL_FLAG_M);
    CHECK_INT(got_ms[8], 60000 * 7);
    CHECK_DOUBLE_BITS(got_values[8], -7.25);
    CHECK_INT(got_flags[8], JL_FLAG_D);
    CHECK_INT(got_ms[80], 60000 * 79);
    CHECK_DOUBLE_BITS(got_values[80], 7.9);
    store_tail_release(snap.tail);
    CHECK_INT(atomic_load(&s.live.tail->references), 1);
    store_tail_release(s.live.tail);
}

/* Random readings (mostly in order, some late, some repeated, some flagged, values of one to
 * three decimals or none exact) against a plain sorted array; every few steps the state is
 * published and a snapshot kept, whose view must still be its array copy at the end. */
static void test_random_model(void)
{
    enum { STEPS = 3000, SNAPSHOTS = 8 };
    static int64_t ref_ms[STEPS];
    static double ref_values[STEPS];
    static uint8_t ref_flags[STEPS];
    static int64_t snap_ms[SNAPSHOTS][STEPS];
    static double snap_values[SNAPSHOTS][STEPS];
    series_state snaps[SNAPSHOTS];
    uint32_t snap_taken = 0, n = 0;
    unsigned seed = 20261204;
    series s;
    writer_txn wt;
    begin_series(&s, &wt);
    int64_t clock = 1735689600000;
    for (int step = 0; step < STEPS; step++) {
        unsigned r = (unsigned)rand_r(&seed);
        int64_t ms;
        if (n > 0 && r % 10 == 0)
            ms = ref_ms[(unsigned)rand_r(&seed) % n]; /* a repeat */
        else if (n > 0 && r % 10 == 1)
            ms = ref_ms[(unsigned)rand_r(&seed) % n] - 1 - rand_r(&seed) % 5000; /* late */
        else
            ms = clock += 55000 + rand_r(&seed) % 10000;
        double value = r % 7 == 0 ? 1.0 / 3.0 : (double)(rand_r(&seed) % 20000) / 100.0;
        uint8_t flag = r % 13 == 0 ? JL_FLAG_M : JL_FLAG_N;
        CHECK_INT(tail_add(&s, ms, value, flag, 1), JL_OK);
        uint32_t at = 0;
        while (at < n && ref_ms[at] < ms)
            at++;
        if (at == n || ref_ms[at] != ms) {
            memmove(ref_ms + at + 1, ref_ms + at, sizeof *ref_ms * (n - at));
            memmove(ref_values + at + 1, ref_values + at, sizeof *ref_values * (n - at));
            memmove(ref_flags + at + 1, ref_flags + at, n - at);
            n++;
        }
        ref_ms[at] = ms;
        ref_values[at] = value;
        ref_flags[at] = flag;
        if (step % 350 == 349 && snap_taken < SNAPSHOTS) {
            publish_one(&s);
            snaps[snap_taken] = s.live;
            atomic_fetch_add(&s.live.tail->references, 1);
            memcpy(snap_ms[snap_taken], ref_ms, sizeof *ref_ms * n);
            memcpy(snap_values[snap_taken], ref_values, sizeof *ref_values * n);
            snap_taken++;
            memset(&wt, 0, sizeof wt);
            tail_touch(&wt, &s);
        }
    }
    CHECK_INT(s.next.tail_count, n);
    CHECK_INT(s.next.count, n);
    CHECK_INT(read_all(s.next.tail, n), n);
    int wrong = 0;
    for (uint32_t i = 0; i < n; i++)
        if (got_ms[i] != ref_ms[i] || !bytes_same_f64(got_values[i], ref_values[i]) ||
            got_flags[i] != ref_flags[i])
            wrong++;
    CHECK_INT(wrong, 0);
    for (uint32_t k = 0; k < snap_taken; k++) {
        CHECK_INT(read_all(snaps[k].tail, snaps[k].tail_count), snaps[k].tail_count);
        wrong = 0;
        for (uint32_t i = 0; i < snaps[k].tail_count; i++)
            if (got_ms[i] != snap_ms[k][i] || !bytes_same_f64(got_values[i], snap_values[k][i]))
                wrong++;
        CHECK_INT(wrong, 0);
        store_tail_release(snaps[k].tail);
    }
    CHECK_INT(snap_taken, SNAPSHOTS);
    end_series(&s);
}

/* Re-sending stored readings (same time, value and flag) into a tail of 40 segments that a
 * snapshot shares changes nothing and copies nothing: the next state keeps the shared buffer.
 * A re-send with another value, or another flag, is a write: the buffer is copied, the value
 * replaced, the snapshot's view kept. Times 1..1288 s, value t / 10. */
static void test_identical_resend(void)
{
    series s;
    writer_txn wt;
    begin_series(&s, &wt);
    for (int t = 1; t <= 1288; t++)
        CHECK_INT(tail_add(&s, 1000 * t, t / 10.0, JL_FLAG_N, 3), JL_OK);
    CHECK_INT(s.next.tail->segment_count, 40);
    publish_one(&s);
    tail_buffer *shared = s.live.tail;
    atomic_fetch_add(&shared->references, 1); /* a snapshot */
    memset(&wt, 0, sizeof wt);
    tail_touch(&wt, &s);
    for (int t = 1288; t >= 1; t -= 7)
        CHECK_INT(tail_add(&s, 1000 * t, t / 10.0, JL_FLAG_N, 4), JL_OK);
    CHECK(s.next.tail == shared);
    CHECK_INT(s.next.count, 1288);
    CHECK_INT(tail_add(&s, 100000, 99.5, JL_FLAG_N, 4), JL_OK);       /* t = 100: another value */
    CHECK_INT(tail_add(&s, 200000, 200 / 10.0, JL_FLAG_M, 4), JL_OK); /* t = 200: another flag */
    CHECK(s.next.tail != shared);
    CHECK_INT(s.next.count, 1288);
    CHECK_INT(read_all(s.next.tail, 1288), 1288);
    CHECK_DOUBLE_BITS(got_values[99], 99.5);
    CHECK_INT(got_flags[199], JL_FLAG_M);
    CHECK_DOUBLE_BITS(got_values[198], 199 / 10.0);
    CHECK_INT(read_all(shared, 1288), 1288);
    CHECK_DOUBLE_BITS(got_values[99], 100 / 10.0);
    CHECK_INT(got_flags[199], JL_FLAG_N);
    store_tail_release(shared);
    end_series(&s);
}

/* tail_merge_run by hand: a tail of 40 readings at 1..40 s valued 1..40 (one frozen segment of
 * 32 and a head of 8), then the run (35 s, 99), (5 s, 50), (41 s, 41), (5 s, 55 flagged M) in
 * that order: 5 s takes the later 55 M, 35 s 99, 41 s is new. 41 readings, last 41 at 41 s. */
static void test_merge_run_by_hand(void)
{
    series s;
    writer_txn wt;
    begin_series(&s, &wt);
    for (int t = 1; t <= 40; t++)
        CHECK_INT(tail_add(&s, 1000 * t, (double)t, JL_FLAG_N, 7), JL_OK);
    CHECK_INT(s.next.tail->frozen_count, 32);
    const int64_t run_ms[4] = {35000, 5000, 41000, 5000};
    const double run_values[4] = {99.0, 50.0, 41.0, 55.0};
    const uint8_t run_flags[4] = {JL_FLAG_N, JL_FLAG_N, JL_FLAG_N, JL_FLAG_M};
    CHECK_INT(tail_merge_run(&s, run_ms, run_values, run_flags, 4, 9), JL_OK);
    CHECK_INT(s.next.tail_count, 41);
    CHECK_INT(s.next.count, 41);
    CHECK_INT(s.next.first_ms, 1000);
    CHECK_INT(s.next.last_ms, 41000);
    CHECK_DOUBLE_BITS(s.next.last_value, 41.0);
    CHECK_INT(s.next.tail_min_seq, 7); /* the tail was not empty: its oldest block stays */
    CHECK_INT(read_all(s.next.tail, 41), 41);
    for (int t = 1; t <= 41; t++) {
        double want = t == 5 ? 55.0 : t == 35 ? 99.0 : (double)t;
        CHECK_INT(got_ms[t - 1], 1000 * t);
        CHECK_DOUBLE_BITS(got_values[t - 1], want);
        CHECK_INT(got_flags[t - 1], t == 5 ? JL_FLAG_M : JL_FLAG_N);
    }
    store_tail_release(s.next.tail);
}

/* tail_merge_run against a plain sorted array: random runs (unsorted, with repeats inside the
 * run, late, re-sent and new readings) merged into a tail a snapshot shares, whose view must
 * not change; an empty tail takes the run's log block as its oldest. */
static void test_merge_run_model(void)
{
    enum { ROUNDS = 60, RUN_MAX = 200, CAP = ROUNDS * RUN_MAX };
    static int64_t ref_ms[CAP], run_ms[RUN_MAX], snap_ms[CAP];
    static double ref_values[CAP], run_values[RUN_MAX], snap_values[CAP];
    static uint8_t ref_flags[CAP], run_flags[RUN_MAX];
    uint32_t n = 0;
    unsigned seed = 20261205;
    series s;
    writer_txn wt;
    begin_series(&s, &wt);
    int64_t clock = 1735689600000;
    for (int round = 0; round < ROUNDS; round++) {
        uint32_t len = 1 + (uint32_t)rand_r(&seed) % RUN_MAX;
        for (uint32_t i = 0; i < len; i++) {
            unsigned r = (unsigned)rand_r(&seed);
            if (n > 0 && r % 4 == 0)
                run_ms[i] = ref_ms[(unsigned)rand_r(&seed) % n]; /* re-sent */
            else if (i > 0 && r % 4 == 1)
                run_ms[i] = run_ms[(unsigned)rand_r(&seed) % i]; /* repeated within the run */
            else if (n > 0 && r % 4 == 2)
                run_ms[i] = ref_ms[0] + rand_r(&seed) % 3600000; /* late, maybe new */
            else
                run_ms[i] = clock += 1000 + rand_r(&seed) % 60000;
            run_values[i] = r % 5 == 0 ? 1.0 / 7.0 : (double)(rand_r(&seed) % 5000) / 10.0;
            run_flags[i] = r % 11 == 0 ? JL_FLAG_D : JL_FLAG_N;
        }
        /* The reference: each reading in run order, the last write of a time wins. */
        for (uint32_t i = 0; i < len; i++) {
            uint32_t at = 0;
            while (at < n && ref_ms[at] < run_ms[i])
                at++;
            if (at == n || ref_ms[at] != run_ms[i]) {
                memmove(ref_ms + at + 1, ref_ms + at, sizeof *ref_ms * (n - at));
                memmove(ref_values + at + 1, ref_values + at, sizeof *ref_values * (n - at));
                memmove(ref_flags + at + 1, ref_flags + at, n - at);
                n++;
            }
            ref_ms[at] = run_ms[i];
            ref_values[at] = run_values[i];
            ref_flags[at] = run_flags[i];
        }
        /* Every tenth round a snapshot shares the tail before the merge. */
        series_state snap;
        memset(&snap, 0, sizeof snap);
        uint32_t snap_n = 0;
        int snapped = round % 10 == 5;
        if (snapped) {
            publish_one(&s);
            snap = s.live;
            atomic_fetch_add(&snap.tail->references, 1);
            snap_n = snap.tail_count;
            CHECK_INT(read_all(snap.tail, snap_n), snap_n);
            memcpy(snap_ms, got_ms, sizeof *snap_ms * snap_n);
            memcpy(snap_values, got_values, sizeof *snap_values * snap_n);
            memset(&wt, 0, sizeof wt);
            tail_touch(&wt, &s);
        }
        uint64_t seq_before = s.next.tail_min_seq;
        int was_empty = s.next.tail_count == 0;
        CHECK_INT(tail_merge_run(&s, run_ms, run_values, run_flags, len, 100 + round), JL_OK);
        CHECK_INT(s.next.tail_min_seq, was_empty ? (uint64_t)(100 + round) : seq_before);
        CHECK_INT(s.next.tail_count, n);
        CHECK_INT(s.next.count, n);
        CHECK_INT(s.next.first_ms, ref_ms[0]);
        CHECK_INT(s.next.last_ms, ref_ms[n - 1]);
        CHECK_DOUBLE_BITS(s.next.last_value, ref_values[n - 1]);
        CHECK_INT(read_all(s.next.tail, n), n);
        int wrong = 0;
        for (uint32_t i = 0; i < n; i++)
            if (got_ms[i] != ref_ms[i] || !bytes_same_f64(got_values[i], ref_values[i]) ||
                got_flags[i] != ref_flags[i])
                wrong++;
        CHECK_INT(wrong, 0);
        if (snapped) {
            CHECK_INT(read_all(snap.tail, snap_n), snap_n);
            wrong = 0;
            for (uint32_t i = 0; i < snap_n; i++)
                if (got_ms[i] != snap_ms[i] || !bytes_same_f64(got_values[i], snap_values[i]))
                    wrong++;
            CHECK_INT(wrong, 0);
            store_tail_release(snap.tail);
        }
    }
    end_series(&s);
}

/* A tail made from readings (a seal's remainder): all but the newest segment's worth frozen;
 * reference counting on its own: a buffer lives until its last owner releases it. */
static void test_from_readings_and_release(void)
{
    int64_t ms[70];
    double values[70];
    uint8_t flags[70];
    for (int i = 0; i < 70; i++) {
        ms[i] = 1000 * (int64_t)i;
        values[i] = i;
        flags[i] = i == 3 ? JL_FLAG_C : JL_FLAG_N;
    }
    tail_buffer *tail = tail_from_readings(ms, values, flags, 70);
    CHECK(tail != NULL);
    if (tail == NULL)
        return;
    CHECK_INT(tail->frozen_count, 64); /* 70 = 2 x 32 frozen + 6 in the head */
    CHECK_INT(tail->segment_count, 2);
    CHECK_INT(tail->capacity, TAIL_SEGMENT_READINGS);
    CHECK_INT(read_all(tail, 70), 70);
    CHECK_INT(got_ms[69], 69000);
    CHECK_INT(got_flags[3], JL_FLAG_C);
    CHECK_INT(atomic_load(&tail->references), 1);
    atomic_fetch_add(&tail->references, 1);
    store_tail_release(tail);
    CHECK_INT(atomic_load(&tail->references), 1);
    tail->timestamps_ms[5] = 42; /* still owned: writable under ASan */
    CHECK_INT(tail->timestamps_ms[5], 42);
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
    RUN(test_frozen_copy_on_write);
    RUN(test_random_model);
    RUN(test_identical_resend);
    RUN(test_merge_run_by_hand);
    RUN(test_merge_run_model);
    RUN(test_from_readings_and_release);
    RUN(test_pending_list);
    return CHECK_DONE();
}
