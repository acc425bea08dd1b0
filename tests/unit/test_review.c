/* Tests of review marks (storage/review.c, include/jialing/review.h) on real LMDB directories:
 * spans resolved from one mark and from overlapping marks (newest wins), withdrawal, the errors
 * of st_review_add and st_review_withdraw, snapshot isolation, persistence across reopen (the
 * bytes of an entry written out by hand), listing with filters, statistics, and stores without
 * the "review" database, the marks touching a range (qx_review_marks, query/review.c). Every
 * expected span, count and mark id is written out by hand. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"
#include "jialing/query.h"
#include "jialing/review.h"

#define T0 1700000000000LL /* a base time, ms */
/* A small map, so that the tests also run under valgrind (which cannot reserve the default). */
#define MAP_BYTES (16ull << 20)

/* Creates series pm25{station=s1..s3} (ids 1, 2, 3 in that order) with one reading each. */
static void make_series(st_store *store)
{
    test_batch b;
    tb_init(&b);
    for (int s = 0; s < MODEL_SERIES; s++)
        tb_point(&b, tb_series(&b, "pm25", stations[s]), T0, 1.0);
    CHECK_INT(tb_write(store, &b), JL_OK);
    tb_destroy(&b);
}

static uint64_t add_mark(st_store *store, int64_t from, int64_t to, int valid, const uint64_t *ids,
                         size_t n, const char *reason)
{
    st_review_mark mark;
    memset(&mark, 0, sizeof mark);
    mark.made_ms = T0 + 1;
    mark.made_by = "reviewer";
    mark.selector = "pm25{station=~\"s.*\"}";
    mark.reason = reason;
    mark.from_ms = from;
    mark.to_ms = to;
    mark.valid = valid;
    mark.readings_affected = 7;
    mark.series_ids = ids;
    mark.series_count = n;
    uint64_t id = 0;
    jl_error err;
    int rc = st_review_add(store, &mark, &id, &err);
    if (rc != JL_OK)
        fprintf(stderr, "  st_review_add: %s\n", err.message);
    CHECK_INT(rc, JL_OK);
    return id;
}

/* Checks the spans of series `series_id` in snapshot against expected[0..n). */
static void check_spans_in(st_snapshot *snapshot, uint64_t series_id,
                           const st_review_span *expected, size_t n)
{
    size_t index = SIZE_MAX;
    for (size_t i = 0; i < st_snapshot_series_count(snapshot); i++) {
        st_series_info info;
        CHECK_INT(st_snapshot_series_info(snapshot, i, &info), JL_OK);
        if (info.id == series_id)
            index = i;
    }
    CHECK(index != SIZE_MAX);
    if (index == SIZE_MAX)
        return;
    const st_review_span *spans = NULL;
    size_t count = 99;
    CHECK_INT(st_snapshot_review_spans(snapshot, index, &spans, &count), JL_OK);
    CHECK_INT(count, n);
    if (count != n)
        return;
    CHECK(n > 0 || spans == NULL);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(spans[i].from_ms, expected[i].from_ms);
        CHECK_INT(spans[i].to_ms, expected[i].to_ms);
        CHECK_INT(spans[i].valid, expected[i].valid);
        CHECK_INT(spans[i].mark_id, expected[i].mark_id);
    }
    /* A second call answers from the snapshot's cache, the same spans. */
    const st_review_span *again = NULL;
    size_t again_count = 0;
    CHECK_INT(st_snapshot_review_spans(snapshot, index, &again, &again_count), JL_OK);
    CHECK(again == spans);
    CHECK_INT(again_count, n);
}

static const uint64_t all_ids[3] = {1, 2, 3};

static st_snapshot *open_all(st_store *store)
{
    st_snapshot *snapshot = NULL;
    jl_error err;
    CHECK_INT(st_snapshot_open(store, all_ids, 3, &snapshot, &err), JL_OK);
    return snapshot;
}

/* Checks the spans of one series in a fresh snapshot. */
static void check_spans(st_store *store, uint64_t series_id, const st_review_span *expected,
                        size_t n)
{
    st_snapshot *snapshot = open_all(store);
    check_spans_in(snapshot, series_id, expected, n);
    st_snapshot_close(snapshot);
}

static void test_add_spans(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    check_spans(store, 1, NULL, 0);
    uint64_t s1[1] = {1};
    CHECK_INT(add_mark(store, T0 + 1000, T0 + 5000, 0, s1, 1, "pump broken"), 1);
    const st_review_span one[] = {{T0 + 1000, T0 + 5000, 0, 1}};
    check_spans(store, 1, one, 1);
    check_spans(store, 2, NULL, 0);
    check_spans(store, 3, NULL, 0);
    uint64_t s23[2] = {2, 3};
    CHECK_INT(add_mark(store, T0 - 60000, T0, 1, s23, 2, "checked by hand"), 2);
    const st_review_span two[] = {{T0 - 60000, T0, 1, 2}};
    check_spans(store, 1, one, 1);
    check_spans(store, 2, two, 1);
    check_spans(store, 3, two, 1);
    /* Out of range: JL_ENOTFOUND. */
    st_snapshot *snapshot = open_all(store);
    const st_review_span *spans;
    size_t count;
    CHECK_INT(st_snapshot_review_spans(snapshot, 3, &spans, &count), JL_ENOTFOUND);
    st_snapshot_close(snapshot);
    st_store_close(store);
    remove_dir(dir);
}

static void test_overlap_newest_wins(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    uint64_t s1[1] = {1}, s12[2] = {1, 2}, s3[1] = {3};
    CHECK_INT(add_mark(store, 1000, 5000, 0, s1, 1, "a"), 1);
    CHECK_INT(add_mark(store, 3000, 4000, 1, s12, 2, "b"), 2);
    CHECK_INT(add_mark(store, 4500, 7000, 0, s1, 1, "c"), 3);
    CHECK_INT(add_mark(store, 7000, 8000, 0, s1, 1, "d"), 4); /* touches 3: stays apart */
    /* Series 3: an old mark inside a newer, larger one: the newer one whole, in one piece. */
    CHECK_INT(add_mark(store, 1000, 5000, 0, s3, 1, "e"), 5);
    CHECK_INT(add_mark(store, 0, 10000, 1, s3, 1, "f"), 6);
    /* And a newer mark inside 6 cuts it in two pieces around its own. */
    CHECK_INT(add_mark(store, 2000, 3000, 0, s3, 1, "g"), 7);
    const st_review_span series1[] = {
        {1000, 3000, 0, 1}, {3000, 4000, 1, 2}, {4000, 4500, 0, 1},
        {4500, 7000, 0, 3}, {7000, 8000, 0, 4},
    };
    const st_review_span series2[] = {{3000, 4000, 1, 2}};
    const st_review_span series3[] = {{0, 2000, 1, 6}, {2000, 3000, 0, 7}, {3000, 10000, 1, 6}};
    check_spans(store, 1, series1, 5);
    check_spans(store, 2, series2, 1);
    check_spans(store, 3, series3, 3);
    /* Withdrawing the newest of an overlap hands its span back to the older marks. */
    jl_error err;
    CHECK_INT(st_review_withdraw(store, 2, T0, "boss", &err), JL_OK);
    const st_review_span series1_after[] = {
        {1000, 4500, 0, 1}, {4500, 7000, 0, 3}, {7000, 8000, 0, 4}};
    check_spans(store, 1, series1_after, 3);
    check_spans(store, 2, NULL, 0);
    CHECK_INT(st_review_withdraw(store, 7, T0, "boss", &err), JL_OK);
    const st_review_span series3_after[] = {{0, 10000, 1, 6}};
    check_spans(store, 3, series3_after, 1);
    CHECK_INT(st_review_withdraw(store, 6, T0, "boss", &err), JL_OK);
    const st_review_span series3_last[] = {{1000, 5000, 0, 5}};
    check_spans(store, 3, series3_last, 1);
    st_store_close(store);
    remove_dir(dir);
}

static void test_withdraw(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    uint64_t s2[1] = {2};
    CHECK_INT(add_mark(store, 1000, 2000, 0, s2, 1, "calibration"), 1);
    jl_error err;
    CHECK_INT(st_review_withdraw(store, 1, T0 + 500, "alice", &err), JL_OK);
    check_spans(store, 2, NULL, 0);
    st_review_list *list = NULL;
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    CHECK_INT(st_review_list_count(list), 1);
    const st_review_mark *m = st_review_list_get(list, 0);
    CHECK_INT(m->id, 1);
    CHECK_INT(m->withdrawn, 1);
    CHECK_INT(m->withdrawn_ms, T0 + 500);
    CHECK_STR(m->withdrawn_by, "alice");
    CHECK_STR(m->reason, "calibration");
    CHECK_INT(m->from_ms, 1000);
    CHECK_INT(m->to_ms, 2000);
    st_review_list_free(list);
    /* A second withdrawal changes nothing. */
    CHECK_INT(st_review_withdraw(store, 1, T0 + 900, "bob", &err), JL_ECONFLICT);
    CHECK_INT(err.code, JL_ECONFLICT);
    CHECK_INT(st_review_withdraw(store, 99, T0, "bob", &err), JL_ENOTFOUND);
    CHECK_INT(st_review_withdraw(store, 0, T0, "bob", &err), JL_ENOTFOUND);
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    CHECK_INT(st_review_list_count(list), 1);
    CHECK_INT(st_review_list_get(list, 0)->withdrawn_ms, T0 + 500);
    CHECK_STR(st_review_list_get(list, 0)->withdrawn_by, "alice");
    st_review_list_free(list);
    /* Marks still in force list withdrawn_by NULL; ids go on after a withdrawn one. */
    CHECK_INT(add_mark(store, 1000, 2000, 1, s2, 1, "again"), 2);
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    CHECK_INT(st_review_list_count(list), 2);
    CHECK_INT(st_review_list_get(list, 0)->id, 2);
    CHECK_INT(st_review_list_get(list, 0)->withdrawn, 0);
    CHECK_INT(st_review_list_get(list, 0)->withdrawn_ms, 0);
    CHECK(st_review_list_get(list, 0)->withdrawn_by == NULL);
    st_review_list_free(list);
    /* Reads continue after failed withdrawals, and so do writes. */
    const st_review_span now[] = {{1000, 2000, 1, 2}};
    check_spans(store, 2, now, 1);
    st_store_close(store);
    remove_dir(dir);
}

static void test_invalid(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    st_review_mark mark;
    memset(&mark, 0, sizeof mark);
    uint64_t ok_ids[2] = {1, 3}, unknown[2] = {1, 4}, unsorted[2] = {2, 1}, twice[2] = {2, 2},
             zero[1] = {0};
    mark.made_by = "";
    mark.selector = "pm25";
    mark.reason = "r";
    mark.from_ms = 100;
    mark.to_ms = 100; /* from == to */
    mark.series_ids = ok_ids;
    mark.series_count = 2;
    uint64_t id = 77;
    jl_error err;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    mark.to_ms = 99; /* from > to */
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    mark.to_ms = 200;
    mark.series_ids = unknown;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    mark.series_ids = unsorted;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    mark.series_ids = twice;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    mark.series_ids = zero;
    mark.series_count = 1;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    mark.series_ids = ok_ids;
    mark.series_count = 0;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    mark.series_count = (size_t)ST_REVIEW_MAX_SERIES + 1;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_ETOOLARGE);
    mark.series_count = 2;
    char *text = malloc(ST_REVIEW_MAX_TEXT_BYTES + 2);
    memset(text, 'x', ST_REVIEW_MAX_TEXT_BYTES + 1);
    text[ST_REVIEW_MAX_TEXT_BYTES + 1] = '\0'; /* 1025 bytes */
    mark.reason = text;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    mark.reason = "r";
    mark.made_by = text;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    mark.made_by = "";
    mark.selector = text;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_EINVAL);
    CHECK_INT(id, 77); /* untouched on error */
    /* Nothing was stored. */
    st_review_list *list = NULL;
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    CHECK_INT(st_review_list_count(list), 0);
    st_review_list_free(list);
    /* Exactly 1024 bytes is allowed, and the first id is still 1. */
    text[ST_REVIEW_MAX_TEXT_BYTES] = '\0';
    mark.selector = text;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_OK);
    CHECK_INT(id, 1);
    text[ST_REVIEW_MAX_TEXT_BYTES] = 'x';
    CHECK_INT(st_review_withdraw(store, 1, T0, text, &err), JL_EINVAL);
    text[ST_REVIEW_MAX_TEXT_BYTES] = '\0';
    CHECK_INT(st_review_withdraw(store, 1, T0, text, &err), JL_OK);
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    CHECK_INT(st_review_list_count(list), 1);
    CHECK_INT(strlen(st_review_list_get(list, 0)->selector), ST_REVIEW_MAX_TEXT_BYTES);
    CHECK_INT(strlen(st_review_list_get(list, 0)->withdrawn_by), ST_REVIEW_MAX_TEXT_BYTES);
    st_review_list_free(list);
    free(text);
    st_store_close(store);
    remove_dir(dir);
}

static void test_snapshot_isolation(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    uint64_t s1[1] = {1};
    st_snapshot *before = open_all(store);
    CHECK_INT(add_mark(store, 10, 20, 0, s1, 1, "x"), 1);
    st_snapshot *after_add = open_all(store);
    jl_error err;
    CHECK_INT(st_review_withdraw(store, 1, T0, "y", &err), JL_OK);
    st_snapshot *after_withdraw = open_all(store);
    const st_review_span one[] = {{10, 20, 0, 1}};
    check_spans_in(before, 1, NULL, 0);
    check_spans_in(after_add, 1, one, 1);
    check_spans_in(after_withdraw, 1, NULL, 0);
    /* A snapshot computed once keeps its answer while marks change. */
    CHECK_INT(add_mark(store, 30, 40, 1, s1, 1, "z"), 2);
    check_spans_in(after_add, 1, one, 1);
    check_spans_in(before, 1, NULL, 0);
    st_snapshot_close(before);
    st_snapshot_close(after_add);
    st_snapshot_close(after_withdraw);
    const st_review_span two[] = {{30, 40, 1, 2}};
    check_spans(store, 1, two, 1);
    st_store_close(store);
    remove_dir(dir);
}

/* Every field of every entry of a list, as text, for comparing lists. */
static void list_text(st_review_list *list, jl_buf *out)
{
    out->len = 0;
    for (size_t i = 0; i < st_review_list_count(list); i++) {
        const st_review_mark *m = st_review_list_get(list, i);
        jl_buf_printf(out, "%llu %lld %s|%s|%s %lld %lld %d %llu %d %lld %s [",
                      (unsigned long long)m->id, (long long)m->made_ms, m->made_by, m->selector,
                      m->reason, (long long)m->from_ms, (long long)m->to_ms, m->valid,
                      (unsigned long long)m->readings_affected, m->withdrawn,
                      (long long)m->withdrawn_ms, m->withdrawn_by ? m->withdrawn_by : "(null)");
        for (size_t j = 0; j < m->series_count; j++)
            jl_buf_printf(out, " %llu", (unsigned long long)m->series_ids[j]);
        jl_buf_printf(out, "]\n");
    }
}

static void test_reopen(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    uint64_t s13[2] = {1, 3}, s2[1] = {2};
    CHECK_INT(add_mark(store, 1000, 5000, 0, s13, 2, "维护 maintenance"), 1);
    CHECK_INT(add_mark(store, 3000, 9000, 1, s13, 2, "checked"), 2);
    CHECK_INT(add_mark(store, 0, 100, 0, s2, 1, "gone"), 3);
    jl_error err;
    CHECK_INT(st_review_withdraw(store, 3, T0 + 42, "carol", &err), JL_OK);
    st_review_list *list = NULL;
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    jl_buf before, after;
    jl_buf_init(&before);
    jl_buf_init(&after);
    list_text(list, &before);
    st_review_list_free(list);
    CHECK_STR(before.data,
              "3 1700000000001 reviewer|pm25{station=~\"s.*\"}|gone 0 100 0 7 1 1700000000042 "
              "carol [ 2]\n"
              "2 1700000000001 reviewer|pm25{station=~\"s.*\"}|checked 3000 9000 1 7 0 0 (null) "
              "[ 1 3]\n"
              "1 1700000000001 reviewer|pm25{station=~\"s.*\"}|维护 maintenance 1000 5000 0 7 0 "
              "0 (null) [ 1 3]\n");
    st_store_close(store);

    store = open_store(dir, 0, MAP_BYTES);
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    list_text(list, &after);
    st_review_list_free(list);
    CHECK_STR(after.data, before.data);
    const st_review_span s1_spans[] = {{1000, 3000, 0, 1}, {3000, 9000, 1, 2}};
    check_spans(store, 1, s1_spans, 2);
    check_spans(store, 3, s1_spans, 2);
    check_spans(store, 2, NULL, 0);
    st_stats stats;
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.review_marks, 3);
    CHECK_INT(stats.review_marks_withdrawn, 1);
    /* Ids go on from the last stored one. */
    CHECK_INT(add_mark(store, 0, 1, 0, s2, 1, "next"), 4);
    st_store_close(store);

    /* A read-only open sees the same. */
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.initial_map_bytes = MAP_BYTES;
    options.read_only = 1;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    CHECK_INT(st_review_list_count(list), 4);
    st_review_list_free(list);
    check_spans(store, 1, s1_spans, 2);
    const st_review_span s2_spans[] = {{0, 1, 0, 4}};
    check_spans(store, 2, s2_spans, 1);
    st_review_mark mark = {0, 0, "", "", "", 0, 1, 0, 0, s2, 1, 0, 0, NULL};
    CHECK_INT(st_review_add(store, &mark, NULL, &err), JL_EBUSY);
    CHECK_INT(st_review_withdraw(store, 1, 0, "", &err), JL_EBUSY);
    st_store_close(store);
    jl_buf_destroy(&before);
    jl_buf_destroy(&after);
    remove_dir(dir);
}

/* The bytes of one entry, written out by hand from disk_format.h section 4. */
static void test_entry_bytes(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    st_review_mark mark;
    memset(&mark, 0, sizeof mark);
    uint64_t ids[2] = {1, 3};
    mark.made_ms = 0x0102030405060708LL;
    mark.made_by = "ab";
    mark.selector = "s";
    mark.reason = "";
    mark.from_ms = -2;
    mark.to_ms = 0x100;
    mark.valid = 1;
    mark.readings_affected = 5;
    mark.series_ids = ids;
    mark.series_count = 2;
    uint64_t id;
    jl_error err;
    CHECK_INT(st_review_add(store, &mark, &id, &err), JL_OK);
    CHECK_INT(st_review_withdraw(store, id, 9, "w", &err), JL_OK);
    st_store_close(store);
    uint8_t expected[] = {
        0x01,                                           /* version */
        0x03,                                           /* valid | withdrawn */
        0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, /* made_ms */
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* from_ms -2 */
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* to_ms 256 */
        0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* readings_affected */
        0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* withdrawn_ms */
        0x02, 0x00, 0x00, 0x00,                         /* series count */
        0x02, 0x00, 0x00, 0x00, 'a',  'b',              /* made_by */
        0x01, 0x00, 0x00, 0x00, 's',                    /* selector */
        0x00, 0x00, 0x00, 0x00,                         /* reason */
        0x01, 0x00, 0x00, 0x00, 'w',                    /* withdrawn_by */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* series 1 */
        0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* series 3 */
        0x00, 0x00, 0x00, 0x00,                         /* crc32c, filled below */
    };
    size_t body = sizeof expected - 4;
    uint32_t crc = ck_crc32c(0, expected, body);
    expected[body] = (uint8_t)crc;
    expected[body + 1] = (uint8_t)(crc >> 8);
    expected[body + 2] = (uint8_t)(crc >> 16);
    expected[body + 3] = (uint8_t)(crc >> 24);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, 0, "review", &env, &txn, &dbi);
    uint8_t key_bytes[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    MDB_val k = {8, key_bytes}, v;
    CHECK_INT(mdb_get(txn, dbi, &k, &v), 0);
    CHECK_INT(v.mv_size, sizeof expected);
    CHECK(v.mv_size == sizeof expected && memcmp(v.mv_data, expected, sizeof expected) == 0);
    /* One flipped byte in the reason's length makes the store refuse to open. */
    uint8_t patched[sizeof expected];
    memcpy(patched, expected, sizeof expected);
    patched[46 + 6 + 5] = 0x07;
    MDB_val pv = {sizeof patched, patched};
    CHECK_INT(mdb_put(txn, dbi, &k, &pv, 0), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.initial_map_bytes = MAP_BYTES;
    store = NULL;
    CHECK_INT(st_store_open(&options, &store, &err), JL_ECORRUPT);
    CHECK(store == NULL);
    remove_dir(dir);
}

static void test_list_filter(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    uint64_t s1[1] = {1}, s2[1] = {2}, s13[2] = {1, 3};
    CHECK_INT(add_mark(store, 0, 1000, 0, s1, 1, "m1"), 1);
    CHECK_INT(add_mark(store, 1000, 2000, 0, s2, 1, "m2"), 2);
    CHECK_INT(add_mark(store, 500, 1500, 1, s13, 2, "m3"), 3);
    CHECK_INT(add_mark(store, 5000, 6000, 0, s2, 1, "m4"), 4);
    jl_error err;
    CHECK_INT(st_review_withdraw(store, 4, T0, "x", &err), JL_OK);
    struct {
        st_review_filter filter;
        size_t count;
        uint64_t ids[4];
    } cases[] = {
        {{0, NULL, 0, 0, 0}, 4, {4, 3, 2, 1}},
        {{2, NULL, 0, 0, 0}, 1, {2}},
        {{9, NULL, 0, 0, 0}, 0, {0}},
        {{0, s2, 1, 0, 0}, 2, {4, 2}},
        {{0, s13, 2, 0, 0}, 2, {3, 1}},
        {{0, NULL, 0, 1000, 1001}, 2, {3, 2}}, /* mark 1 ends at 1000: not in */
        {{0, NULL, 0, 999, 1000}, 2, {3, 1}},
        {{0, NULL, 0, 1500, 5001}, 2, {4, 2}},
        {{0, NULL, 0, 7, 7}, 4, {4, 3, 2, 1}}, /* from == to: no time filter */
        {{0, s2, 1, 0, 1500}, 1, {2}},
        {{3, s2, 1, 0, 0}, 0, {0}},
        {{3, s13, 2, 1400, 1500}, 1, {3}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        st_review_list *list = NULL;
        CHECK_INT(st_review_list_marks(store, &cases[c].filter, &list, &err), JL_OK);
        CHECK_INT(st_review_list_count(list), cases[c].count);
        if (st_review_list_count(list) == cases[c].count)
            for (size_t i = 0; i < cases[c].count; i++)
                CHECK_INT(st_review_list_get(list, i)->id, cases[c].ids[i]);
        else
            fprintf(stderr, "  case %zu\n", c);
        st_review_list_free(list);
    }
    st_store_close(store);
    remove_dir(dir);
}

static void test_stats(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    jl_error err;
    st_stats stats;
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.review_marks, 0);
    CHECK_INT(stats.review_marks_withdrawn, 0);
    CHECK_INT(stats.flagged_points_written, 0);
    make_series(store); /* 3 points, all N */
    /* 6 points: N M N D S N, then 2 points B T. */
    test_batch b;
    tb_init(&b);
    uint32_t index = tb_series(&b, "pm25", "s1");
    const uint8_t flags[6] = {JL_FLAG_N, JL_FLAG_M, JL_FLAG_N, JL_FLAG_D, JL_FLAG_S, JL_FLAG_N};
    for (int i = 0; i < 6; i++)
        tb_point_flagged(&b, index, T0 + 1000 * (i + 1), i, flags[i]);
    CHECK_INT(tb_write(store, &b), JL_OK);
    st_batch_reset(&b.batch);
    index = tb_series(&b, "pm25", "s2");
    tb_point_flagged(&b, index, T0 + 1000, 1, JL_FLAG_B);
    tb_point_flagged(&b, index, T0 + 2000, 1, JL_FLAG_T);
    CHECK_INT(tb_write(store, &b), JL_OK);
    /* A refused batch counts nothing. */
    st_batch_reset(&b.batch);
    index = tb_series(&b, "pm25", "s2");
    tb_point_flagged(&b, index, JL_MAX_MS + 1, 1, JL_FLAG_B);
    CHECK_INT(tb_write(store, &b), JL_EINVAL);
    tb_destroy(&b);
    uint64_t s1[1] = {1}, s23[2] = {2, 3};
    CHECK_INT(add_mark(store, 0, 10, 0, s1, 1, "a"), 1);
    CHECK_INT(add_mark(store, 0, 10, 0, s23, 2, "b"), 2);
    CHECK_INT(add_mark(store, 0, 10, 0, s1, 1, "c"), 3);
    CHECK_INT(st_review_withdraw(store, 2, T0, "x", &err), JL_OK);
    CHECK_INT(st_review_withdraw(store, 2, T0, "x", &err), JL_ECONFLICT);
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.points_written, 11);
    CHECK_INT(stats.flagged_points_written, 5);
    CHECK_INT(stats.review_marks, 3);
    CHECK_INT(stats.review_marks_withdrawn, 1);
    st_store_close(store);
    /* After reopening: marks counted from the database; points since open only. */
    store = open_store(dir, 0, MAP_BYTES);
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.points_written, 0);
    CHECK_INT(stats.flagged_points_written, 0);
    CHECK_INT(stats.review_marks, 3);
    CHECK_INT(stats.review_marks_withdrawn, 1);
    st_store_close(store);
    remove_dir(dir);
}

/* A store written before review marks has no "review" database: a read-only open finds no
 * marks (and creates nothing), a writable open creates the database. */
static void test_store_without_review_db(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    st_store_close(store);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, 0, "review", &env, &txn, &dbi);
    CHECK_INT(mdb_drop(txn, dbi, 1), 0); /* delete the database itself */
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.initial_map_bytes = MAP_BYTES;
    options.read_only = 1;
    jl_error err;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    st_review_list *list = NULL;
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    CHECK_INT(st_review_list_count(list), 0);
    st_review_list_free(list);
    check_spans(store, 1, NULL, 0);
    st_stats stats;
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.review_marks, 0);
    uint64_t s1[1] = {1};
    st_review_mark mark = {0, 0, "", "", "", 0, 1, 0, 0, s1, 1, 0, 0, NULL};
    CHECK_INT(st_review_add(store, &mark, NULL, &err), JL_EBUSY);
    CHECK_INT(st_review_withdraw(store, 1, 0, "", &err), JL_EBUSY);
    st_store_close(store);
    /* Still absent after the read-only open. */
    CHECK_INT(mdb_env_create(&env), 0);
    CHECK_INT(mdb_env_set_maxdbs(env, 8), 0);
    CHECK_INT(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    CHECK_INT(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    CHECK_INT(mdb_dbi_open(txn, "review", 0, &dbi), MDB_NOTFOUND);
    mdb_txn_abort(txn);
    mdb_env_close(env);

    store = open_store(dir, 0, MAP_BYTES);
    CHECK_INT(add_mark(store, 0, 1, 0, s1, 1, "first"), 1);
    const st_review_span one[] = {{0, 1, 0, 1}};
    check_spans(store, 1, one, 1);
    st_store_close(store);
    remove_dir(dir);
}

/* Threads adding marks, withdrawing one mark all at once and writing readings meanwhile, so that
 * operations share group transactions however the writer happens to group them: every id is
 * given once, exactly one withdrawal of the shared mark succeeds, and the set in force is the
 * one the returned ids describe. The outcome does not depend on timing. */
#define RACE_THREADS 4
#define RACE_MARKS 25

typedef struct race_thread {
    st_store *store;
    int number;
    uint64_t ids[RACE_MARKS];
    int withdraw_rc;
} race_thread;

static void *race_main(void *argument)
{
    race_thread *t = argument;
    uint64_t series[1] = {(uint64_t)(t->number % 3) + 1};
    jl_buf key;
    jl_buf_init(&key);
    st_batch batch;
    st_batch_init(&batch);
    series_key(&key, "pm25", stations[t->number % 3]);
    jl_error err;
    for (int i = 0; i < RACE_MARKS; i++) {
        st_review_mark mark = {0, 0, "", "race", "r", 0, 0, i % 2, 0, series, 1, 0, 0, NULL};
        mark.from_ms = (int64_t)t->number * 1000000 + i * 10;
        mark.to_ms = mark.from_ms + 10;
        t->ids[i] = 0;
        if (st_review_add(t->store, &mark, &t->ids[i], &err) != JL_OK)
            t->ids[i] = 0;
        if (i == RACE_MARKS / 2)
            t->withdraw_rc = st_review_withdraw(t->store, 1, T0, "race", &err);
        uint32_t index;
        st_batch_reset(&batch);
        if (st_batch_series(&batch, key.data, key.len, &index) == JL_OK &&
            st_batch_point_flagged(&batch, index, T0 + 1000 * (t->number * 100 + i + 1), 1.0,
                                   JL_FLAG_M) == JL_OK)
            (void)st_write(t->store, &batch, &err);
    }
    st_batch_destroy(&batch);
    jl_buf_destroy(&key);
    return NULL;
}

static void test_concurrent_operations(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    uint64_t s3[1] = {3};
    CHECK_INT(add_mark(store, -100, -50, 0, s3, 1, "shared"), 1);
    race_thread threads[RACE_THREADS];
    pthread_t handles[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++) {
        memset(&threads[t], 0, sizeof threads[t]);
        threads[t].store = store;
        threads[t].number = t;
        CHECK_INT(pthread_create(&handles[t], NULL, race_main, &threads[t]), 0);
    }
    for (int t = 0; t < RACE_THREADS; t++)
        pthread_join(handles[t], NULL);
    int withdrawn = 0, conflicts = 0;
    unsigned char seen[2 + RACE_THREADS * RACE_MARKS] = {0};
    for (int t = 0; t < RACE_THREADS; t++) {
        withdrawn += threads[t].withdraw_rc == JL_OK;
        conflicts += threads[t].withdraw_rc == JL_ECONFLICT;
        for (int i = 0; i < RACE_MARKS; i++) {
            uint64_t id = threads[t].ids[i];
            CHECK(id >= 2 && id <= 1 + RACE_THREADS * RACE_MARKS);
            if (id >= 2 && id <= 1 + RACE_THREADS * RACE_MARKS) {
                CHECK(!seen[id]);
                seen[id] = 1;
            }
        }
    }
    CHECK_INT(withdrawn, 1);
    CHECK_INT(conflicts, RACE_THREADS - 1);
    jl_error err;
    st_stats stats;
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.review_marks, 1 + RACE_THREADS * RACE_MARKS);
    CHECK_INT(stats.review_marks_withdrawn, 1);
    CHECK_INT(stats.flagged_points_written, RACE_THREADS * RACE_MARKS);
    /* Series 1 is named by threads 0 and 3, series 2 by thread 1, series 3 by thread 2 (the
     * shared mark being withdrawn): each mark one span of 10 ms, in time order. */
    for (uint64_t sid = 1; sid <= 3; sid++) {
        st_review_span expected[2 * RACE_MARKS];
        size_t n = 0;
        for (int t = 0; t < RACE_THREADS; t++) {
            if ((uint64_t)(t % 3) + 1 != sid)
                continue;
            for (int i = 0; i < RACE_MARKS; i++) {
                int64_t from = (int64_t)t * 1000000 + i * 10;
                expected[n++] = (st_review_span){from, from + 10, i % 2, threads[t].ids[i]};
            }
        }
        check_spans(store, sid, expected, n);
    }
    st_store_close(store);
    /* The same after reopening. */
    store = open_store(dir, 0, MAP_BYTES);
    CHECK_INT(st_store_stats(store, 0, &stats, &err), JL_OK);
    CHECK_INT(stats.review_marks, 1 + RACE_THREADS * RACE_MARKS);
    CHECK_INT(stats.review_marks_withdrawn, 1);
    st_review_list *list = NULL;
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    CHECK_INT(st_review_list_count(list), 1 + RACE_THREADS * RACE_MARKS);
    for (size_t i = 0; i < st_review_list_count(list); i++)
        CHECK_INT(st_review_list_get(list, i)->id, 1 + RACE_THREADS * RACE_MARKS - i);
    st_review_list_free(list);
    st_store_close(store);
    remove_dir(dir);
}

/* st_store_backup copies the marks with everything else. */
static void test_backup_keeps_marks(void)
{
    char *dir = make_temp_dir();
    char *copy = make_temp_dir_named("review-backup");
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store);
    uint64_t s12[2] = {1, 2};
    CHECK_INT(add_mark(store, 10, 20, 1, s12, 2, "kept"), 1);
    CHECK_INT(add_mark(store, 15, 30, 0, s12, 2, "gone"), 2);
    jl_error err;
    CHECK_INT(st_review_withdraw(store, 2, T0, "dave", &err), JL_OK);
    st_review_list *list = NULL;
    jl_buf before, after;
    jl_buf_init(&before);
    jl_buf_init(&after);
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    list_text(list, &before);
    st_review_list_free(list);
    CHECK_INT(st_store_backup(store, copy, &err), JL_OK);
    st_store_close(store);
    store = open_store(copy, 0, MAP_BYTES);
    CHECK_INT(st_review_list_marks(store, NULL, &list, &err), JL_OK);
    list_text(list, &after);
    st_review_list_free(list);
    CHECK_STR(after.data, before.data);
    const st_review_span spans[] = {{10, 20, 1, 1}};
    check_spans(store, 2, spans, 1);
    CHECK_INT(add_mark(store, 0, 1, 0, s12, 2, "next"), 3);
    st_store_close(store);
    jl_buf_destroy(&before);
    jl_buf_destroy(&after);
    remove_dir(copy);
    remove_dir(dir);
}

/* Times of the rows a raw query gave (column 0). */
typedef struct time_recorder {
    int64_t ms[64];
    size_t count;
} time_recorder;

static int record_begin(void *context, sk_text metric, const sk_tag *tags, size_t tag_count,
                        const char *const *columns, size_t column_count)
{
    (void)context, (void)metric, (void)tags, (void)tag_count, (void)columns, (void)column_count;
    return JL_OK;
}

static int record_row(void *context, const qx_cell *cells, size_t cell_count)
{
    time_recorder *r = context;
    if (cell_count >= 1 && r->count < 64)
        r->ms[r->count++] = cells[0].as.i;
    return JL_OK;
}

static int record_end(void *context)
{
    (void)context;
    return JL_OK;
}

/* Runs a raw query of pm25{station=s1} with flags=valid (device flag N, marks decide where they
 * lie) and checks the times it answers. */
static void check_valid_times(st_store *store, const int64_t *expected, size_t n)
{
    qp_selector sel;
    memset(&sel, 0, sizeof sel);
    sel.metric = (char *)"pm25";
    sel.matchers[0] = (qp_matcher){(char *)"station", (char *)"s1", 0};
    sel.matcher_count = 1;
    qx_query_request request;
    memset(&request, 0, sizeof request);
    request.selector = &sel;
    request.from_ms = T0 - 100000;
    request.to_ms = T0 + 100000;
    request.flags.mask = JL_FLAG_MASK_N;
    request.flags.reviews = 1;
    time_recorder r = {{0}, 0};
    qx_sink sink = {&r, record_begin, record_row, record_end};
    jl_error err;
    CHECK_INT(qx_query(store, &request, &sink, &err), JL_OK);
    CHECK_INT(r.count, n);
    for (size_t i = 0; i < n && i < r.count; i++)
        CHECK_INT(r.ms[i], expected[i]);
}

/* The query engine sees the marks through the snapshot: an invalid mark hides readings flagged
 * N, a valid one takes in a reading flagged M, in sealed chunks (4 readings each) and the tail
 * alike, and withdrawing gives the device flags back. */
static void test_query_sees_marks(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 4, MAP_BYTES);
    make_series(store); /* s1 at T0, flag N */
    test_batch b;
    tb_init(&b);
    uint32_t index = tb_series(&b, "pm25", "s1");
    for (int i = 1; i <= 10; i++)
        tb_point_flagged(&b, index, T0 + 1000 * i, i, i == 3 || i == 4 ? JL_FLAG_M : JL_FLAG_N);
    CHECK_INT(tb_write(store, &b), JL_OK);
    tb_destroy(&b);
    jl_error err;
    const int64_t plain[] = {T0,        T0 + 1000, T0 + 2000, T0 + 5000, T0 + 6000,
                             T0 + 7000, T0 + 8000, T0 + 9000, T0 + 10000};
    check_valid_times(store, plain, 9);
    uint64_t s1[1] = {1};
    CHECK_INT(add_mark(store, T0 + 2000, T0 + 4000, 0, s1, 1, "invalid"), 1);
    CHECK_INT(add_mark(store, T0 + 4000, T0 + 5000, 1, s1, 1, "valid"), 2);
    CHECK_INT(add_mark(store, T0 + 8000, T0 + 9500, 0, s1, 1, "invalid too"), 3);
    const int64_t marked[] = {T0,        T0 + 1000, T0 + 4000, T0 + 5000,
                              T0 + 6000, T0 + 7000, T0 + 10000};
    check_valid_times(store, marked, 7);
    CHECK_INT(st_review_withdraw(store, 1, T0, "x", &err), JL_OK);
    const int64_t withdrawn[] = {T0,        T0 + 1000, T0 + 2000, T0 + 4000,
                                 T0 + 5000, T0 + 6000, T0 + 7000, T0 + 10000};
    check_valid_times(store, withdrawn, 8);
    st_store_close(store);
    remove_dir(dir);
}

/* Checks a mark set against expected[0..n). */
static void check_mark_set(const qx_mark_set *marks, const uint64_t *expected, size_t n)
{
    CHECK_INT(marks->count, n);
    for (size_t i = 0; i < n && i < marks->count; i++)
        CHECK_INT(marks->ids[i], expected[i]);
}

/* qx_review_marks: the marks in force whose spans touch a range in the series the matchers pick,
 * ascending and unique, added to what the set holds; negated matchers; half-open spans and range;
 * the two flags; the series limit; a withdrawn mark no longer counts. */
static void test_review_marks(void)
{
    char *dir = make_temp_dir();
    st_store *store = open_store(dir, 0, MAP_BYTES);
    make_series(store); /* pm25{station=s1,s2,s3}: ids 1, 2, 3 */
    uint64_t s1[1] = {1}, s23[2] = {2, 3}, s3[1] = {3}, s12[2] = {1, 2};
    CHECK_INT(add_mark(store, T0 + 1000, T0 + 5000, 0, s1, 1, "one"), 1);
    CHECK_INT(add_mark(store, T0 - 60000, T0, 1, s23, 2, "two"), 2);
    CHECK_INT(add_mark(store, T0 + 10000, T0 + 20000, 0, s3, 1, "three"), 3);
    /* Newer than mark 1: s1's spans are [1000, 2000) 1, [2000, 3000) 4, [3000, 5000) 1. */
    CHECK_INT(add_mark(store, T0 + 2000, T0 + 3000, 0, s12, 2, "four"), 4);
    jl_error err;
    qx_mark_set marks = {0};
    int any_series = 9, any_mark = 9;

    /* All three series over [T0 - 1, T0 + 2500): s1 1 and 4, s2 2 and 4, s3 2 (3 starts later). */
    st_matcher all[1] = {{"__name__", "pm25", 0}};
    CHECK_INT(
        qx_review_marks(store, all, 1, 0, T0 - 1, T0 + 2500, &marks, &any_series, &any_mark, &err),
        JL_OK);
    const uint64_t first[] = {1, 2, 4};
    check_mark_set(&marks, first, 3);
    CHECK_INT(any_series, 1);
    CHECK_INT(any_mark, 1);

    /* Added to the set: station != s1 (s2, s3) over [T0 + 2500, T0 + 15000): s2 4, s3 3. */
    st_matcher not_s1[2] = {{"__name__", "pm25", 0}, {"station", "s1", 1}};
    CHECK_INT(qx_review_marks(store, not_s1, 2, 0, T0 + 2500, T0 + 15000, &marks, &any_series,
                              &any_mark, &err),
              JL_OK);
    const uint64_t second[] = {1, 2, 3, 4};
    check_mark_set(&marks, second, 4);
    CHECK_INT(any_series, 1);
    CHECK_INT(any_mark, 1);

    /* Spans and range are half-open: s1 over [T0 + 5000, T0 + 10000) and s2 over [T0, T0 + 2000)
     * touch nothing (mark 1 ends at T0 + 5000, mark 2 at T0, mark 4 starts at T0 + 2000). */
    qx_mark_set none = {0};
    st_matcher only_s1[2] = {{"__name__", "pm25", 0}, {"station", "s1", 0}};
    CHECK_INT(qx_review_marks(store, only_s1, 2, 0, T0 + 5000, T0 + 10000, &none, &any_series,
                              &any_mark, &err),
              JL_OK);
    CHECK_INT(none.count, 0);
    CHECK_INT(any_series, 1);
    CHECK_INT(any_mark, 0);
    st_matcher only_s2[2] = {{"__name__", "pm25", 0}, {"station", "s2", 0}};
    CHECK_INT(qx_review_marks(store, only_s2, 2, 0, T0, T0 + 2000, &none, NULL, NULL, &err), JL_OK);
    CHECK_INT(none.count, 0);

    /* No series: both flags 0, the set unchanged. */
    st_matcher nothing[2] = {{"__name__", "pm25", 0}, {"station", "s9", 0}};
    CHECK_INT(qx_review_marks(store, nothing, 2, 0, T0 - 60000, T0 + 60000, &marks, &any_series,
                              &any_mark, &err),
              JL_OK);
    check_mark_set(&marks, second, 4);
    CHECK_INT(any_series, 0);
    CHECK_INT(any_mark, 0);

    /* More series than max_series: st_select's JL_ELIMIT, the set unchanged. */
    CHECK_INT(qx_review_marks(store, all, 1, 2, T0 - 1, T0 + 2500, &marks, NULL, NULL, &err),
              JL_ELIMIT);
    check_mark_set(&marks, second, 4);

    /* Mark 4 withdrawn: s1 is mark 1 again over [T0 + 1000, T0 + 5000), s2 only mark 2. */
    CHECK_INT(st_review_withdraw(store, 4, T0 + 2, "x", &err), JL_OK);
    qx_mark_set after = {0};
    CHECK_INT(qx_review_marks(store, all, 1, 0, T0 - 1, T0 + 2500, &after, NULL, NULL, &err),
              JL_OK);
    const uint64_t withdrawn[] = {1, 2};
    check_mark_set(&after, withdrawn, 2);

    qx_mark_set_free(&marks);
    CHECK(marks.ids == NULL && marks.count == 0);
    qx_mark_set_free(&none);
    qx_mark_set_free(&after);
    qx_mark_set_free(NULL);
    st_store_close(store);
    remove_dir(dir);
}

int main(void)
{
    RUN(test_add_spans);
    RUN(test_overlap_newest_wins);
    RUN(test_withdraw);
    RUN(test_invalid);
    RUN(test_snapshot_isolation);
    RUN(test_reopen);
    RUN(test_entry_bytes);
    RUN(test_list_filter);
    RUN(test_stats);
    RUN(test_store_without_review_db);
    RUN(test_concurrent_operations);
    RUN(test_backup_keeps_marks);
    RUN(test_query_sees_marks);
    RUN(test_review_marks);
    return CHECK_DONE();
}
