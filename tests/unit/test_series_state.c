/* Tests of the sealed series states kept in LMDB (storage/series_state.c, database
 * "series_state", disk_format.h section 4) on real LMDB directories: the states a store opens
 * with from its records equal, field by field and for every series, those a walk of every chunk
 * gives (the walk done here independently from the raw chunks, and the store's own walk, forced
 * by removing the records and marking the directory format 4), after random writes, late
 * readings merged into chunks, re-sent readings, flags and seals of every kind; a directory of
 * format 4 opens, is walked once and upgraded (read-only it is left as it was); a record that
 * fails validation is rebuilt from its chunks; and a writer killed (SIGKILL, or _exit without
 * closing) at any point leaves records that agree with the chunks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_fixture.h"
#include "jialing/chunk.h"
#include "jialing/flag.h"
#include "../../storage/crc32c.h"
#include "../../storage/store_internal.h"

#define MAX_SERIES 16

/* What a walk of the raw chunks finds for one series, computed here without the store. */
typedef struct reference {
    uint64_t chunks, bytes, sealed;
    int64_t first_ms, last_ms;
    double last_value;
    uint8_t last_flag;
    uint32_t last_count, last_bytes;
    int64_t last_first_ms;
} reference;

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static double get_f64(const uint8_t *p)
{
    uint64_t bits = get_le(p, 8);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* Walks the chunks database of a closed store; ref[id] for ids 1..MAX_SERIES-1. */
static void walk_reference(const char *dir, reference *ref)
{
    memset(ref, 0, sizeof(reference) * MAX_SERIES);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, MDB_RDONLY, "chunks", &env, &txn, &dbi);
    MDB_cursor *cursor;
    CHECK_INT(mdb_cursor_open(txn, dbi, &cursor), 0);
    MDB_val k, v;
    static uint8_t flags[CK_MAX_READINGS];
    for (int mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        CHECK_INT(k.mv_size, 16);
        uint64_t id = get_be64(k.mv_data);
        int64_t first = (int64_t)(get_be64((const uint8_t *)k.mv_data + 8) ^ (UINT64_C(1) << 63));
        CHECK(id >= 1 && id < MAX_SERIES);
        if (id < 1 || id >= MAX_SERIES)
            continue;
        ck_summary s;
        jl_error err;
        CHECK_INT(ck_read_summary(v.mv_data, v.mv_size, &s, &err), JL_OK);
        CHECK_INT(s.first_ms, first);
        CHECK_INT(ck_read_flags(v.mv_data, v.mv_size, flags, s.count, &err), JL_OK);
        reference *r = &ref[id];
        if (r->chunks == 0)
            r->first_ms = first;
        r->chunks++;
        r->bytes += v.mv_size;
        r->sealed += s.count;
        r->last_ms = s.last_ms;
        r->last_value = s.last_value;
        r->last_flag = flags[s.count - 1];
        r->last_count = s.count;
        r->last_bytes = (uint32_t)v.mv_size;
        r->last_first_ms = s.first_ms;
    }
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* Every record of the closed store's "series_state" database matches the reference, decoded
 * here from the offsets of disk_format.h: every series of the catalog has one, the empty record
 * (version 1, then 65 zero bytes, then the checksum) when it has no chunks. */
static void check_records(const char *dir, const reference *ref)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, MDB_RDONLY, "series", &env, &txn, &dbi);
    MDB_stat stat;
    CHECK_INT(mdb_stat(txn, dbi, &stat), 0);
    uint64_t series_n = stat.ms_entries;
    CHECK(series_n < MAX_SERIES);
    CHECK_INT(mdb_dbi_open(txn, "series_state", 0, &dbi), 0);
    for (uint64_t id = 1; id < MAX_SERIES; id++) {
        uint8_t key[8];
        for (int i = 0; i < 8; i++)
            key[i] = (uint8_t)(id >> (56 - 8 * i));
        MDB_val k = {8, key}, v;
        int mrc = mdb_get(txn, dbi, &k, &v);
        const reference *r = &ref[id];
        CHECK_INT(mrc == 0, id <= series_n);
        if (mrc != 0)
            continue;
        const uint8_t *p = v.mv_data;
        CHECK_INT(v.mv_size, 70);
        CHECK_INT(p[0], 1);
        CHECK_INT(get_le(p + 66, 4), ck_crc32c(0, p, 66));
        if (r->chunks == 0) {
            for (int i = 1; i < 66; i++)
                CHECK_INT(p[i], 0);
            continue;
        }
        CHECK_INT(p[1], r->last_flag);
        CHECK_INT(get_le(p + 2, 8), r->chunks);
        CHECK_INT(get_le(p + 10, 8), r->bytes);
        CHECK_INT(get_le(p + 18, 8), r->sealed);
        CHECK_INT((int64_t)get_le(p + 26, 8), r->first_ms);
        CHECK_INT((int64_t)get_le(p + 34, 8), r->last_ms);
        CHECK_DOUBLE_BITS(get_f64(p + 42), r->last_value);
        CHECK_INT(get_le(p + 50, 4), r->last_count);
        CHECK_INT(get_le(p + 54, 4), r->last_bytes);
        CHECK_INT((int64_t)get_le(p + 58, 8), r->last_first_ms);
        CHECK_INT(get_le(p + 66, 4), ck_crc32c(0, p, 66));
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* The parts of a series' state that open sets, and the seal plan it learns. */
typedef struct captured {
    series_state state; /* its tail pointer dangles once the store is closed: see tail_hash */
    uint64_t tail_hash; /* FNV-1a over the tail's timestamps, values and flags */
    uint32_t seal_threshold, seal_budget;
    double bytes_per_reading;
} captured;

typedef struct captured_store {
    uint64_t series, chunks, chunk_bytes;
    captured s[MAX_SERIES];
} captured_store;

static void capture(st_store *store, captured_store *c)
{
    memset(c, 0, sizeof *c);
    c->series = store->series_count;
    c->chunks = store->chunk_count;
    c->chunk_bytes = store->chunk_bytes;
    for (uint64_t id = 1; id <= store->series_count && id < MAX_SERIES; id++) {
        const series *s = store->by_id[id];
        c->s[id].state = s->live;
        c->s[id].seal_threshold = s->seal_threshold;
        c->s[id].seal_budget = s->seal_budget;
        c->s[id].bytes_per_reading = s->bytes_per_reading;
        uint64_t h = UINT64_C(14695981039346656037);
        uint32_t n = s->live.tail_count;
        int64_t *ms = malloc(sizeof *ms * (n ? n : 1));
        double *values = malloc(sizeof *values * (n ? n : 1));
        uint8_t *flags = malloc(n ? n : 1);
        CHECK(ms && values && flags);
        if (ms && values && flags)
            CHECK_INT(tail_read(s->live.tail, n, INT64_MIN, INT64_MAX, ms, values, flags), n);
        for (uint32_t i = 0; ms && values && flags && i < n; i++) {
            uint8_t bytes[17];
            memcpy(bytes, &ms[i], 8);
            memcpy(bytes + 8, &values[i], 8);
            bytes[16] = flags[i];
            for (int b = 0; b < 17; b++)
                h = (h ^ bytes[b]) * UINT64_C(1099511628211);
        }
        free(ms);
        free(values);
        free(flags);
        c->s[id].tail_hash = h;
    }
}

/* Two opens of the same directory give the same states, field by field. */
static void check_same_states(const captured_store *a, const captured_store *b)
{
    CHECK_INT(a->series, b->series);
    CHECK_INT(a->chunks, b->chunks);
    CHECK_INT(a->chunk_bytes, b->chunk_bytes);
    for (uint64_t id = 1; id <= a->series && id < MAX_SERIES; id++) {
        const captured *x = &a->s[id], *y = &b->s[id];
        CHECK_INT(x->state.tail_count, y->state.tail_count);
        CHECK_INT(x->state.tail_min_seq, y->state.tail_min_seq);
        CHECK_INT(x->state.sealed_max_ms, y->state.sealed_max_ms);
        CHECK_INT(x->state.sealed_count, y->state.sealed_count);
        CHECK_INT(x->state.count, y->state.count);
        if (x->state.count > 0) {
            CHECK_INT(x->state.first_ms, y->state.first_ms);
            CHECK_INT(x->state.last_ms, y->state.last_ms);
            CHECK_DOUBLE_BITS(x->state.last_value, y->state.last_value);
        }
        CHECK_INT(x->tail_hash, y->tail_hash);
        CHECK_INT(x->seal_threshold, y->seal_threshold);
        CHECK_INT(x->seal_budget, y->seal_budget);
        CHECK_DOUBLE_BITS(x->bytes_per_reading, y->bytes_per_reading);
    }
}

/* The open store's states agree with the reference walk (sealed part) and its tails. */
static void check_against_reference(st_store *store, const reference *ref)
{
    uint64_t chunks = 0, bytes = 0;
    for (uint64_t id = 1; id <= store->series_count && id < MAX_SERIES; id++) {
        const series_state *st = &store->by_id[id]->live;
        const reference *r = &ref[id];
        chunks += r->chunks;
        bytes += r->bytes;
        CHECK_INT(st->sealed_count, r->sealed);
        CHECK_INT(st->sealed_max_ms, r->chunks ? r->last_ms : INT64_MIN);
        CHECK_INT(st->count, r->sealed + st->tail_count);
        if (r->chunks)
            CHECK_INT(st->first_ms, r->first_ms);
        if (st->tail_count == 0 && r->chunks) {
            CHECK_INT(st->last_ms, r->last_ms);
            CHECK_DOUBLE_BITS(st->last_value, r->last_value);
        }
        if (st->tail_count > 0 && r->chunks)
            CHECK(st->tail->timestamps_ms[0] > r->last_ms);
    }
    CHECK_INT(store->chunk_count, chunks);
    CHECK_INT(store->chunk_bytes, bytes);
}

/* Makes a closed store look like one a format-4 build left: no "series_state", format 4. */
static void make_format4(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, 0, "series_state", &env, &txn, &dbi);
    CHECK_INT(mdb_drop(txn, dbi, 1), 0);
    CHECK_INT(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    uint8_t version[4] = {4, 0, 0, 0};
    MDB_val k = {6, "format"}, v = {4, version};
    CHECK_INT(mdb_put(txn, dbi, &k, &v, 0), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static uint32_t stored_format(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, MDB_RDONLY, "meta", &env, &txn, &dbi);
    MDB_val k = {6, "format"}, v;
    uint32_t version = 0;
    if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size == 4)
        version = (uint32_t)get_le(v.mv_data, 4);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return version;
}

static int has_state_db(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, MDB_RDONLY, "meta", &env, &txn, &dbi);
    int found = mdb_dbi_open(txn, "series_state", 0, &dbi) == 0;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return found;
}

static st_store *open_with(const char *dir, uint32_t chunk_target, int read_only)
{
    st_options options = store_options(dir, chunk_target, 64 << 20);
    options.read_only = read_only;
    return open_store_options(&options);
}

/* One random request: readings of a few of `stations_n` stations, mostly newer than the last
 * time written (*clock), some re-sent or late (into sealed chunks), some flagged. */
static void random_request(st_store *store, int stations_n, int64_t *clock)
{
    test_batch b;
    tb_init(&b);
    int touched = 1 + (int)(next_random() % (uint64_t)stations_n);
    for (int t = 0; t < touched; t++) {
        char station[16];
        snprintf(station, sizeof station, "st%d", (int)(next_random() % (uint64_t)stations_n));
        uint32_t index = tb_series(&b, "pm25", station);
        int readings = 1 + (int)(next_random() % 200);
        for (int i = 0; i < readings; i++) {
            uint64_t kind = next_random() % 100;
            int64_t ms;
            if (kind < 80)
                ms = (*clock += 1000 + (int64_t)(next_random() % 3) * 500);
            else /* late or re-sent: anywhere in the past */
                ms = (int64_t)(next_random() % (uint64_t)(*clock + 1));
            double value = (double)(int64_t)(next_random() % 2000) / 10.0;
            uint8_t flag = next_random() % 10 == 0 ? (uint8_t)(1 + next_random() % 7) : 0;
            tb_point_flagged(&b, index, ms, value, flag);
        }
    }
    CHECK_INT(tb_write(store, &b), JL_OK);
    tb_destroy(&b);
}

/* A new store (chunk_target 64) given `requests` random requests over `stations_n` stations
 * from seed, then closed; ref gets the walk of its raw chunks. Returns its directory, for
 * remove_dir(). */
static char *random_store(uint64_t seed, int requests, int stations_n, reference *ref)
{
    rng_state = seed;
    char *dir = make_temp_dir_named("series-state");
    int64_t clock = 1700000000000LL;
    st_store *store = open_with(dir, 64, 0);
    for (int r = 0; r < requests; r++)
        random_request(store, stations_n, &clock);
    st_store_close(store);
    walk_reference(dir, ref);
    return dir;
}

/* After writes: the records match a raw walk; reopened, the states match it and match those
 * the store's own walk gives once the records are gone. */
static void check_reopen(const char *dir, uint32_t chunk_target)
{
    reference ref[MAX_SERIES];
    walk_reference(dir, ref);
    check_records(dir, ref);
    captured_store *from_records = malloc(sizeof *from_records);
    captured_store *from_walk = malloc(sizeof *from_walk);
    st_store *store = open_with(dir, chunk_target, 1);
    capture(store, from_records);
    check_against_reference(store, ref);
    CHECK_INT(store->states_rebuilt, 0);
    st_store_close(store);
    /* The same directory as a format-4 build left it: walked (read-only: in memory only). */
    char copy[512];
    snprintf(copy, sizeof copy, "cp -r '%s' '%s-walk'", dir, dir);
    CHECK_INT(system(copy), 0);
    snprintf(copy, sizeof copy, "%s-walk", dir);
    make_format4(copy);
    store = open_with(copy, chunk_target, 1);
    capture(store, from_walk);
    st_store_close(store);
    check_same_states(from_records, from_walk);
    CHECK_INT(stored_format(copy), 4);
    CHECK(!has_state_db(copy));
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", copy);
    CHECK_INT(system(command), 0);
    free(from_records);
    free(from_walk);
}

static void random_reopens(uint32_t chunk_target, uint32_t max_blocks, uint64_t seed)
{
    rng_state = seed;
    fprintf(stderr, "  seed %llu, chunk_target %u, log_max_blocks %u\n", (unsigned long long)seed,
            chunk_target, max_blocks);
    log_max_blocks = max_blocks;
    char *dir = make_temp_dir_named("series-state");
    int64_t clock = 1700000000000LL;
    for (int round = 0; round < 6; round++) {
        st_store *store = open_with(dir, chunk_target, 0);
        for (int r = 0; r < 40; r++)
            random_request(store, 9, &clock);
        st_store_close(store);
        check_reopen(dir, chunk_target);
    }
    log_max_blocks = 0;
    remove_dir(dir);
}

/* Small fixed chunks: seals whole, merges of late readings, re-sends. */
static void test_reopen_fixed_chunks(void)
{
    random_reopens(64, 0, 20261203);
}

/* Chunks sized by the store: fitted seals that relog the rest, and the short log that seals
 * tails early, absorbing a small last chunk. */
static void test_reopen_fitted_and_early_seals(void)
{
    random_reopens(0, 8, 20261204);
    random_reopens(0, 0, 20261205);
}

/* Readings written out by hand: ten readings at 1..10 s, values i / 2, the last flagged M;
 * chunk_target 4 gives chunks of at most 8 readings, so the ten are sealed as 5 + 5. Then a
 * late reading at 5.5 s (into the first chunk, whose range it extends) and a re-send of 10 s
 * with 7.25, N: sealed 11, last value 7.25, last flag N. */
static void test_hand_values(void)
{
    char *dir = make_temp_dir_named("series-state");
    st_store *store = open_with(dir, 4, 0);
    test_batch b;
    tb_init(&b);
    uint32_t index = tb_series(&b, "so2", "h");
    for (int i = 1; i <= 10; i++)
        tb_point_flagged(&b, index, 1000 * i, i * 0.5, i == 10 ? JL_FLAG_M : JL_FLAG_N);
    CHECK_INT(tb_write(store, &b), JL_OK);
    st_store_close(store);

    reference ref[MAX_SERIES];
    walk_reference(dir, ref);
    CHECK_INT(ref[1].chunks, 2);
    check_records(dir, ref);
    store = open_with(dir, 4, 0);
    const series_state *st = &store->by_id[1]->live;
    CHECK_INT(st->sealed_count, 10);
    CHECK_INT(st->count, 10);
    CHECK_INT(st->first_ms, 1000);
    CHECK_INT(st->sealed_max_ms, 10000);
    CHECK_INT(st->last_ms, 10000);
    CHECK_DOUBLE_BITS(st->last_value, 5.0);
    CHECK_INT(store->chunk_count, 2);
    CHECK_INT(store->by_id[1]->seal_threshold, 4);

    st_batch_reset(&b.batch);
    index = tb_series(&b, "so2", "h");
    tb_point(&b, index, 5500, 9.0);
    tb_point(&b, index, 10000, 7.25);
    CHECK_INT(tb_write(store, &b), JL_OK);
    st_store_close(store);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, MDB_RDONLY, "series_state", &env, &txn, &dbi);
    uint8_t id_key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    MDB_val k = {8, id_key}, v;
    CHECK_INT(mdb_get(txn, dbi, &k, &v), 0);
    const uint8_t *p = v.mv_data;
    CHECK_INT(p[1], JL_FLAG_N);
    CHECK_INT(get_le(p + 2, 8), 2);      /* chunks */
    CHECK_INT(get_le(p + 18, 8), 11);    /* sealed readings */
    CHECK_INT(get_le(p + 26, 8), 1000);  /* first sealed */
    CHECK_INT(get_le(p + 34, 8), 10000); /* last sealed */
    CHECK_DOUBLE_BITS(get_f64(p + 42), 7.25);
    CHECK_INT(get_le(p + 50, 4), 5);    /* 6..10 s */
    CHECK_INT(get_le(p + 58, 8), 6000); /* first of the last chunk */
    mdb_txn_abort(txn);
    mdb_env_close(env);

    store = open_with(dir, 4, 1);
    st = &store->by_id[1]->live;
    CHECK_INT(st->sealed_count, 11);
    CHECK_INT(st->count, 11);
    CHECK_DOUBLE_BITS(st->last_value, 7.25);
    st_store_close(store);
    walk_reference(dir, ref);
    check_records(dir, ref);
    tb_destroy(&b);
    remove_dir(dir);
}

/* A directory of format 4 (no records): read-only it opens by walking and is left as it was;
 * for writing it is walked once, its records written and marked 5; opened again, the states come
 * from the records and equal the walk's. */
static void test_format4_upgrade(void)
{
    reference ref[MAX_SERIES];
    char *dir = random_store(20261206, 60, 7, ref);
    st_store *store;
    make_format4(dir);
    captured_store *walked = malloc(sizeof *walked), *loaded = malloc(sizeof *loaded);

    store = open_with(dir, 64, 1);
    check_against_reference(store, ref);
    capture(store, walked);
    st_store_close(store);
    CHECK_INT(stored_format(dir), 4);
    CHECK(!has_state_db(dir));

    store = open_with(dir, 64, 0);
    check_against_reference(store, ref);
    st_store_close(store);
    CHECK_INT(stored_format(dir), 6);
    CHECK(has_state_db(dir));
    check_records(dir, ref);

    store = open_with(dir, 64, 1);
    capture(store, loaded);
    st_store_close(store);
    check_same_states(walked, loaded);
    free(walked);
    free(loaded);
    remove_dir(dir);
}

/* Rewrites the record of series id with one byte changed (at offset) and returns nothing. */
static void damage_record(const char *dir, uint64_t id, size_t offset, uint8_t xor_mask)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, 0, "series_state", &env, &txn, &dbi);
    uint8_t key[8] = {0};
    key[7] = (uint8_t)id;
    MDB_val k = {8, key}, v;
    CHECK_INT(mdb_get(txn, dbi, &k, &v), 0);
    uint8_t copy[128];
    CHECK(v.mv_size <= sizeof copy);
    memcpy(copy, v.mv_data, v.mv_size);
    copy[offset] ^= xor_mask;
    v.mv_data = copy;
    CHECK_INT(mdb_put(txn, dbi, &k, &v, 0), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* A record with a flipped bit (checksum), and one of an unknown version, are rebuilt from their
 * series' chunks at open: counted, the states as a walk gives them, the records rewritten. */
static void test_corrupt_record_rebuilt(void)
{
    reference ref[MAX_SERIES];
    char *dir = random_store(20261207, 40, 5, ref);
    st_store *store;
    CHECK(ref[2].chunks > 0 && ref[4].chunks > 0);
    captured_store *before = malloc(sizeof *before), *after = malloc(sizeof *after);
    store = open_with(dir, 64, 1);
    capture(store, before);
    st_store_close(store);

    damage_record(dir, 2, 20, 0x10); /* inside sealed_count: the checksum fails */
    damage_record(dir, 4, 0, 0x02);  /* version 3 */
    store = open_with(dir, 64, 1);   /* read-only: rebuilt in memory */
    CHECK_INT(store->states_rebuilt, 2);
    capture(store, after);
    check_against_reference(store, ref);
    st_store_close(store);
    check_same_states(before, after);

    store = open_with(dir, 64, 0); /* for writing: rebuilt and rewritten */
    CHECK_INT(store->states_rebuilt, 2);
    st_store_close(store);
    check_records(dir, ref);
    store = open_with(dir, 64, 0);
    CHECK_INT(store->states_rebuilt, 0);
    capture(store, after);
    st_store_close(store);
    check_same_states(before, after);
    free(before);
    free(after);
    remove_dir(dir);
}

/* A record damaged while the store is open (through the store's own environment, between
 * commits) is not carried forward by the writer's next change to that series' chunks: the writer
 * rebuilds it from all the series' chunks. */
static void test_corrupt_record_in_writer(void)
{
    rng_state = 20261212;
    char *dir = make_temp_dir_named("series-state");
    int64_t clock = 1700000000000LL;
    st_store *store = open_with(dir, 64, 0);
    for (int r = 0; r < 20; r++)
        random_request(store, 3, &clock);
    MDB_txn *txn;
    CHECK_INT(mdb_txn_begin(store->env, NULL, 0, &txn), 0);
    for (uint64_t id = 1; id <= store->series_count; id++) {
        uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, (uint8_t)id};
        MDB_val k = {8, key}, v;
        CHECK_INT(mdb_get(txn, store->db_series_state, &k, &v), 0);
        uint8_t copy[70];
        memcpy(copy, v.mv_data, sizeof copy);
        copy[3] ^= 0x40; /* the chunk count: the checksum fails */
        v.mv_data = copy;
        CHECK_INT(mdb_put(txn, store->db_series_state, &k, &v, 0), 0);
    }
    CHECK_INT(mdb_txn_commit(txn), 0);
    for (int r = 0; r < 20; r++) /* every series seals again (64 readings each at most) */
        random_request(store, 3, &clock);
    st_store_close(store);
    reference ref[MAX_SERIES];
    walk_reference(dir, ref);
    check_records(dir, ref);
    store = open_with(dir, 64, 1);
    CHECK_INT(store->states_rebuilt, 0);
    check_against_reference(store, ref);
    st_store_close(store);
    remove_dir(dir);
}

/* A directory of format 5 whose "series_state" database is gone altogether is walked at open
 * (the records written again when writable), never opened as if no series had chunks. */
static void test_missing_database_walked(void)
{
    reference ref[MAX_SERIES];
    char *dir = random_store(20261211, 30, 5, ref);
    st_store *store;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, 0, "series_state", &env, &txn, &dbi);
    CHECK_INT(mdb_drop(txn, dbi, 1), 0);
    CHECK_INT(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    CHECK_INT(stored_format(dir), 6);
    store = open_with(dir, 64, 1); /* read-only: walked in memory */
    check_against_reference(store, ref);
    st_store_close(store);
    CHECK(!has_state_db(dir));
    store = open_with(dir, 64, 0); /* for writing: walked, records written */
    check_against_reference(store, ref);
    st_store_close(store);
    check_records(dir, ref);
    remove_dir(dir);
}

/* A child writes random requests and reports each acknowledged one on a pipe; it is killed
 * with SIGKILL after `acks` (or, acks 0, leaves with _exit after 30 requests without closing).
 * The directory then opens with records that match its chunks and states that match a walk. */
static void crash_once(uint32_t chunk_target, uint32_t max_blocks, int acks, uint64_t seed)
{
    char *dir = make_temp_dir_named("series-state");
    int pipe_fds[2];
    CHECK_INT(pipe(pipe_fds), 0);
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        close(pipe_fds[0]);
        rng_state = seed;
        log_max_blocks = max_blocks;
        int64_t clock = 1700000000000LL;
        st_store *store = open_with(dir, chunk_target, 0);
        for (int r = 0; acks > 0 || r < 30; r++) {
            random_request(store, 9, &clock);
            char ack = 1;
            if (write(pipe_fds[1], &ack, 1) != 1)
                _exit(2);
        }
        _exit(check_failed_in_test ? 3 : 0); /* never closed: as if killed between commits */
    }
    close(pipe_fds[1]);
    char ack;
    int got = 0;
    while ((acks == 0 || got < acks) && read(pipe_fds[0], &ack, 1) == 1)
        got++;
    if (acks > 0)
        kill(child, SIGKILL);
    int status = 0;
    CHECK_INT(waitpid(child, &status, 0), child);
    if (acks == 0)
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(pipe_fds[0]);
    CHECK(got >= (acks ? acks : 30));
    log_max_blocks = max_blocks;
    check_reopen(dir, chunk_target);
    /* Opened for writing and written to, it stays consistent. */
    st_store *store = open_with(dir, chunk_target, 0);
    int64_t clock = 1800000000000LL;
    for (int r = 0; r < 5; r++)
        random_request(store, 9, &clock);
    st_store_close(store);
    check_reopen(dir, chunk_target);
    log_max_blocks = 0;
    remove_dir(dir);
}

static void test_killed_writer(void)
{
    crash_once(64, 0, 0, 20261208);
    crash_once(0, 8, 0, 20261209);
    for (int i = 0; i < 6; i++)
        crash_once(i % 2 ? 0 : 64, i % 3 ? 8 : 0, 3 + 7 * i, 20261210 + (uint64_t)i);
}

/* Records fill their pages whatever order the series seal in: 3,000 series created in one
 * request (ids 1..3000), then sealed in a scrambled order, 100 series a request (chunk_target
 * 4: a series' tail of 5 readings is sealed in that request's transaction). A record's node is
 * 8 key + 70 value + 8 node header + 2 index bytes = 88 bytes, 46 of them fit the 4,080 bytes
 * of a 4 KiB page, so the 3,000 records need 66 full leaf pages; at least 90% full allows 73.
 * Records put at each series' first seal, in the middle of the tree, took 103. */
static void test_records_fill_pages(void)
{
    enum { SERIES_N = 3000, PER_REQUEST = 100 };
    char *dir = make_temp_dir_named("series-state");
    st_store *store = open_with(dir, 4, 0);
    char station[16];
    test_batch b;
    tb_init(&b);
    for (int i = 0; i < SERIES_N; i++) {
        snprintf(station, sizeof station, "s%04d", i);
        tb_point(&b, tb_series(&b, "pm25", station), INT64_C(1700000000000), 1.0);
    }
    CHECK_INT(tb_write(store, &b), JL_OK);
    tb_destroy(&b);
    /* i -> (i * 1447) mod 3000 is a permutation: 1447 is prime and does not divide 3000. */
    for (int first = 0; first < SERIES_N; first += PER_REQUEST) {
        tb_init(&b);
        for (int i = first; i < first + PER_REQUEST; i++) {
            snprintf(station, sizeof station, "s%04d", (i * 1447) % SERIES_N);
            uint32_t index = tb_series(&b, "pm25", station);
            for (int r = 1; r <= 4; r++)
                tb_point(&b, index, INT64_C(1700000000000) + 60000 * r, 1.0 + r);
        }
        CHECK_INT(tb_write(store, &b), JL_OK);
        tb_destroy(&b);
    }
    CHECK_INT(store->chunk_count, SERIES_N);
    st_store_close(store);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    open_lmdb(dir, MDB_RDONLY, "series_state", &env, &txn, &dbi);
    MDB_stat stat;
    CHECK_INT(mdb_stat(txn, dbi, &stat), 0);
    CHECK_INT(stat.ms_entries, SERIES_N);
    CHECK_INT(stat.ms_psize, 4096);
    CHECK(stat.ms_leaf_pages >= 66 && stat.ms_leaf_pages <= 73);
    if (stat.ms_leaf_pages > 73)
        fprintf(stderr, "  %zu leaf pages\n", (size_t)stat.ms_leaf_pages);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    remove_dir(dir);
}

int main(void)
{
    RUN(test_hand_values);
    RUN(test_records_fill_pages);
    RUN(test_reopen_fixed_chunks);
    RUN(test_reopen_fitted_and_early_seals);
    RUN(test_format4_upgrade);
    RUN(test_corrupt_record_rebuilt);
    RUN(test_corrupt_record_in_writer);
    RUN(test_missing_database_walked);
    RUN(test_killed_writer);
    return CHECK_DONE();
}
