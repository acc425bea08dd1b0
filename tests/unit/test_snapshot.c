/* Tests of storage/snapshot.c on real LMDB directories: range reads through cursors across
 * chunks and tail, and many snapshots open at once against LMDB's reader slots. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"

/* A range read returns exactly the readings in [from, to), across chunk and tail. */
static void test_range_read(void)
{
    store_fixture f;
    sf_open(&f, 16, 0);
    uint32_t index = tb_series(&f.b, "nh3n", "river");
    for (int i = 0; i < 100; i++)
        tb_point(&f.b, index, 1000 * i, i * 0.001);
    CHECK_INT(tb_write(f.store, &f.b), JL_OK);
    int64_t ms[200];
    double values[200];
    size_t n = read_all(f.store, "nh3n", "river", 20500, 70000, ms, values, 200);
    CHECK_INT(n, 49); /* 21000 .. 69000 */
    CHECK_INT(ms[0], 21000);
    CHECK_INT(ms[n - 1], 69000);
    CHECK_DOUBLE_BITS(values[0], 21 * 0.001);
    sf_close(&f);
}

/* More concurrent readers than LMDB's default 126 slots: the store's default (1024) serves 200
 * open snapshots at once; with 126 slots the 127th is refused with JL_EBUSY (HTTP 503), and
 * works again once one closes. */
static void test_many_readers(void)
{
    store_fixture f;
    sf_open(&f, 0, 0);
    uint32_t index = tb_series(&f.b, "o3", "r");
    tb_point(&f.b, index, 1000, 42.5);
    CHECK_INT(tb_write(f.store, &f.b), JL_OK);
    jl_error err;
    uint64_t id = 1;
    static st_snapshot *open_snapshots[200];
    for (int i = 0; i < 200; i++)
        CHECK_INT(st_snapshot_open(f.store, &id, 1, &open_snapshots[i], &err), JL_OK);
    for (int i = 0; i < 200; i++)
        st_snapshot_close(open_snapshots[i]);
    st_store_close(f.store);
    remove_dir(f.dir);

    /* LMDB keeps the slot count of the lock file it first made: a new directory. */
    f.dir = make_temp_dir();
    st_options options = store_options(f.dir, 0, 0);
    options.max_readers = 126;
    st_store *store = NULL;
    CHECK_INT(st_store_open(&options, &store, &err), JL_OK);
    f.store = store;
    CHECK_INT(tb_write(store, &f.b), JL_OK);
    int opened = 0, rc = JL_OK;
    while (opened < 200 &&
           (rc = st_snapshot_open(store, &id, 1, &open_snapshots[opened], &err)) == JL_OK)
        opened++;
    CHECK_INT(rc, JL_EBUSY);
    CHECK(opened >= 120 && opened <= 126); /* the writer's own transactions may take a slot */
    st_snapshot_close(open_snapshots[--opened]);
    CHECK_INT(st_snapshot_open(store, &id, 1, &open_snapshots[opened], &err), JL_OK);
    st_series_info info;
    CHECK_INT(st_snapshot_series_info(open_snapshots[opened], 0, &info), JL_OK);
    CHECK_DOUBLE_BITS(info.last_value, 42.5);
    opened++;
    for (int i = 0; i < opened; i++)
        st_snapshot_close(open_snapshots[i]);
    sf_close(&f);
}

int main(void)
{
    RUN(test_range_read);
    RUN(test_many_readers);
    return CHECK_DONE();
}
