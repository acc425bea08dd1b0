/* The writer: st_write() queues a batch for the single writer thread, which takes as many queued
 * requests as fit one LMDB transaction (group commit), applies them (catalog, tails, late
 * readings, seals, log; review marks, review.c), commits, and only then publishes the new series
 * states and the new set of review marks to readers. A
 * full map is grown and the group retried; a group that fails otherwise is retried request by
 * request, so one bad batch fails alone. */
#include "store_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "log_block.h"

/* Adds one request to the transaction being built. */
static int apply_request(st_store *store, writer_txn *wt, write_request *request, uint64_t seq,
                         jl_error *err)
{
    const st_batch *batch = request->batch;
    free(request->series_ids); /* a retry fills them again */
    request->series_ids = NULL;
    size_t n = batch->series_count ? batch->series_count : 1;
    uint64_t *ids = malloc(sizeof(uint64_t) * n);
    series **owners = malloc(sizeof(series *) * n);
    uint64_t *hashes = malloc(sizeof(uint64_t) * n);
    int rc = (ids && owners && hashes) ? JL_OK : jl_error_set(err, JL_ENOMEM, "out of memory");
    /* The lookups run as a pipeline over the batch's keys (see catalog_prefetch_bucket): key
     * i + 3 * LOOKAHEAD is hashed and its bucket fetched, the series of key i + 2 * LOOKAHEAD
     * fetched, the key and tail of key i + LOOKAHEAD, then key i is looked up. */
    enum { LOOKAHEAD = 8 };
    for (uint32_t i = 0; rc == JL_OK && i < batch->series_count + 3 * LOOKAHEAD; i++) {
        if (i < batch->series_count) {
            hashes[i] =
                catalog_key_hash(batch->keys.data + batch->key_offsets[i], batch->key_lengths[i]);
            catalog_prefetch_bucket(store, hashes[i]);
        }
        if (i >= LOOKAHEAD && i - LOOKAHEAD < batch->series_count)
            catalog_prefetch_series(store, hashes[i - LOOKAHEAD]);
        if (i >= 2 * LOOKAHEAD && i - 2 * LOOKAHEAD < batch->series_count)
            catalog_prefetch_key_and_tail(store, hashes[i - 2 * LOOKAHEAD]);
        if (i < 3 * LOOKAHEAD)
            continue;
        uint32_t k = i - 3 * LOOKAHEAD;
        rc = catalog_series_for_key(store, wt, batch->keys.data + batch->key_offsets[k],
                                    batch->key_lengths[k], hashes[k], &owners[k], err);
        if (rc == JL_OK) {
            ids[k] = owners[k]->id;
            tail_touch(wt, owners[k]);
        }
    }
    free(hashes);
    if (rc == JL_OK)
        rc = log_put_block(store, wt, seq, ids, &request->log_block, err);
    for (size_t i = 0; rc == JL_OK && i < batch->point_count; i++) {
        if (i + 2 * LOOKAHEAD < batch->point_count)
            tail_prefetch_buffer(&owners[batch->point_series[i + 2 * LOOKAHEAD]]->next);
        if (i + LOOKAHEAD < batch->point_count)
            tail_prefetch_append(&owners[batch->point_series[i + LOOKAHEAD]]->next);
        series *s = owners[batch->point_series[i]];
        int64_t ms = batch->point_ms[i];
        double value = batch->point_values[i];
        uint8_t flag = batch->point_flags[i];
        wt->flagged_points += flag != JL_FLAG_N;
        if (ms > s->next.sealed_max_ms) {
            rc = tail_add(s, ms, value, flag, seq);
            if (rc != JL_OK)
                jl_error_set(err, rc, "out of memory adding to a series tail");
        } else {
            rc = merge_add_late(wt, s, ms, value, flag, wt->points + i);
            if (rc != JL_OK)
                jl_error_set(err, rc, "out of memory");
        }
    }
    wt->points += batch->point_count;
    request->series_ids = ids; /* kept for the commit hook; st_write frees them */
    free(owners);
    return rc;
}

/* Drops everything the failed transaction prepared, the rewriting credit it earned and spent
 * included (a retry after growing the map, or request by request, earns it again). */
static void rollback(st_store *store, writer_txn *wt)
{
    series_state_forget(wt);
    store->relog_credit = wt->relog_credit_before;
    store->review_next_id = wt->review_next_id_before;
    store->event_next_id = wt->event_next_id_before;
    review_set_release(wt->review_next);
    wt->review_next = NULL;
    for (series *s = wt->touched; s; s = s->touched_next) {
        if (s->tail_private)
            store_tail_release(s->next.tail);
        s->touched = 0;
        s->tail_private = 0;
        s->relog_queued = 0;
    }
    for (size_t i = 0; i < wt->created_count; i++) {
        catalog_unlink(store, wt->created[i]);
        catalog_series_free(wt->created[i]);
    }
}

/* Publishes the prepared states; called with state_lock held for writing, after the commit.
 * Cannot fail: everything it needs was reserved before the commit. */
static void publish(st_store *store, writer_txn *wt)
{
    for (size_t i = 0; i < wt->created_count; i++)
        store->by_id[wt->created[i]->id] = wt->created[i];
    store->series_count += wt->created_count;
    size_t joining = 0;
    for (series *s = wt->touched; s; s = s->touched_next) {
        int was_pending = s->live.tail_count > 0, now_pending = s->next.tail_count > 0;
        int moved = s->next.tail_min_seq != s->live.tail_min_seq;
        if (was_pending && (!now_pending || moved))
            tail_pending_unlink(store, s);
        if (now_pending && (!was_pending || moved))
            wt->joining[joining++] = s;
        if (s->live.tail != s->next.tail)
            store_tail_release(s->live.tail);
        s->live = s->next;
        s->touched = 0;
        s->tail_private = 0;
    }
    /* Tails (re)started by this transaction are newer than every pending one. */
    if (joining > 1) /* a group of review marks or events alone has no array at all */
        qsort(wt->joining, joining, sizeof *wt->joining, tail_compare_next_min_seq);
    for (size_t i = 0; i < joining; i++)
        tail_pending_append(store, wt->joining[i]);
    store->chunk_count += wt->chunk_count_delta;
    store->chunk_bytes += wt->chunk_bytes_delta;
    store->log_blocks += wt->log_blocks_delta;
    store->log_bytes += wt->log_bytes_delta;
    store->log_rewritten_readings += wt->relogged_readings;
    if (wt->review_next) {
        wt->review_old = store->reviews;
        store->reviews = wt->review_next;
        wt->review_next = NULL;
    }
}

static int grow_map(st_store *store, jl_error *err)
{
    uint64_t max = store->options.max_map_bytes;
    if (store->map_bytes >= max)
        return jl_error_set(err, JL_EFULL, "the store reached its maximum map size (%llu bytes)",
                            (unsigned long long)max);
    uint64_t grown = store->map_bytes * 2;
    if (grown > max)
        grown = max;
    pthread_rwlock_wrlock(&store->map_lock);
    int rc = mdb_env_set_mapsize(store->env, grown);
    pthread_rwlock_unlock(&store->map_lock);
    if (rc != 0)
        return store_lmdb_error(err, rc, "growing the map");
    store->map_bytes = grown;
    return JL_OK;
}

/* LMDB reports a short write, as a full disk gives, as EIO; a nearly full filesystem under the
 * data directory makes that JL_EDISKFULL (507: free space and retry) rather than an I/O error. */
static int commit_error(const st_store *store, int rc, jl_error *err)
{
    struct statvfs disk;
    if ((rc == EIO || rc == ENOSPC) && statvfs(store->options.directory, &disk) == 0) {
        uint64_t free_bytes = (uint64_t)disk.f_bavail * disk.f_frsize;
        if (free_bytes < (64u << 20))
            return jl_error_set(err, JL_EDISKFULL,
                                "the disk holding the data directory is full (%llu bytes free); "
                                "nothing of this request was stored",
                                (unsigned long long)free_bytes);
    }
    return store_lmdb_error(err, rc, "committing");
}

/* Hands the batches of a committed group to the commit hook, if one is set. Out of memory, the
 * group goes to the hook in pieces of one batch (the array holds one entry at least). */
static void call_hook(writer_txn *wt, write_request *first, write_request *after_last)
{
    if (wt->hook == NULL)
        return;
    size_t n = 0;
    for (write_request *r = first; r != after_last; r = r->next)
        n += r->kind == WRITE_BATCH;
    if (n == 0)
        return;
    if (n > wt->hook_capacity) {
        st_commit_batch *grown = realloc(wt->hook_batches, n * sizeof *grown);
        if (grown) {
            wt->hook_batches = grown;
            wt->hook_capacity = n;
        }
    }
    size_t used = 0;
    for (write_request *r = first; r != after_last; r = r->next) {
        if (r->kind != WRITE_BATCH || r->series_ids == NULL)
            continue;
        if (wt->hook_capacity == 0) {
            st_commit_batch one = {r->batch, r->series_ids};
            wt->hook(wt->hook_ctx, &one, 1);
            continue;
        }
        wt->hook_batches[used++] = (st_commit_batch){r->batch, r->series_ids};
        if (used == wt->hook_capacity) {
            wt->hook(wt->hook_ctx, wt->hook_batches, used);
            used = 0;
        }
    }
    if (used)
        wt->hook(wt->hook_ctx, wt->hook_batches, used);
}

/* Builds and commits one transaction holding the requests [first, after_last). */
static int commit_group(st_store *store, writer_txn *wt, write_request *first,
                        write_request *after_last, jl_error *err)
{
    wt->touched = NULL;
    wt->touched_count = 0;
    wt->created_count = 0;
    wt->late_count = 0;
    wt->points = 0;
    wt->flagged_points = 0;
    wt->review_next = NULL;
    wt->review_old = NULL;
    wt->review_next_id_before = store->review_next_id;
    wt->event_next_id_before = store->event_next_id;
    wt->log_cut_below = 0;
    wt->chunk_count_delta = wt->chunk_bytes_delta = 0;
    wt->log_blocks_delta = wt->log_bytes_delta = 0;
    wt->first_new_id = store->series_count + 1;
    wt->first_seq = store->next_log_seq;
    wt->next_seq = store->next_log_seq;
    st_batch_reset(&wt->relog_batch);
    wt->relogged_count = 0;
    wt->relogged_readings = 0;
    wt->relog_credit_before = store->relog_credit;
    int mrc = mdb_txn_begin(store->env, NULL, 0, &wt->txn);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "beginning a write transaction");
    int rc = JL_OK;
    /* A review operation takes no log sequence number: the log's stay dense. */
    for (write_request *r = first; r != after_last && rc == JL_OK; r = r->next)
        rc = r->kind == WRITE_REVIEW      ? review_apply(store, wt, r->review, err)
             : r->kind == WRITE_RETENTION ? retention_apply(store, wt, r->retention, err)
             : r->kind == WRITE_EVENTS    ? events_apply(store, wt, r->events, err)
             : r->kind == WRITE_SYNC      ? JL_OK
                                          : apply_request(store, wt, r, wt->next_seq++, err);
    if (rc == JL_OK)
        rc = merge_late(store, wt, err);
    for (series *s = wt->touched; s && rc == JL_OK; s = s->touched_next)
        if (s->next.tail_count >= s->seal_threshold)
            rc = seal_tail(store, wt, s, 1, err);
    if (rc == JL_OK)
        rc = log_relog_old_tails(store, wt, err);
    if (rc == JL_OK)
        rc = log_write_relogged(store, wt, err);
    uint64_t saved_next_seq = store->next_log_seq;
    store->next_log_seq = wt->next_seq;
    if (rc == JL_OK)
        rc = log_truncate(store, wt, err);
    /* After the last change to chunks: the sealed-state records go into the same commit. */
    if (rc == JL_OK)
        rc = series_state_write(store, wt, err);
    /* Reserve what publishing needs before committing, so that it cannot fail after. */
    if (rc == JL_OK && wt->touched_count > wt->joining_capacity) {
        series **grown = realloc(wt->joining, wt->touched_count * sizeof *grown);
        if (grown == NULL) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory preparing a commit");
        } else {
            wt->joining = grown;
            wt->joining_capacity = wt->touched_count;
        }
    }
    if (rc == JL_OK && wt->created_count) {
        pthread_rwlock_wrlock(&store->state_lock);
        if (catalog_reserve_ids(store, store->series_count + wt->created_count) != JL_OK)
            rc = jl_error_set(err, JL_ENOMEM, "out of memory preparing a commit");
        pthread_rwlock_unlock(&store->state_lock);
    }
    if (rc != JL_OK) {
        mdb_txn_abort(wt->txn);
        store->next_log_seq = saved_next_seq;
        rollback(store, wt);
        return rc;
    }
    /* The commit (and its fsync) runs without state_lock; a snapshot that begins in between
     * sees a transaction newer than published_txn_id and waits for the publish below. */
    mrc = mdb_txn_commit(wt->txn);
    if (mrc != 0) {
        store->next_log_seq = saved_next_seq;
        rollback(store, wt);
        return commit_error(store, mrc, err);
    }
    /* The id readers now see: a transaction that changed nothing (a retention pass with nothing
     * to delete) leaves LMDB's last id as it was, and snapshots wait for the published id. */
    MDB_envinfo env_info;
    mdb_env_info(store->env, &env_info);
    uint64_t txn_id = env_info.me_last_txnid;
    pthread_rwlock_wrlock(&store->state_lock);
    publish(store, wt);
    store->published_txn_id = txn_id;
    pthread_rwlock_unlock(&store->state_lock);
    /* Snapshots still holding the old set keep it alive; freeing waits for the last one. */
    review_set_release(wt->review_old);
    wt->review_old = NULL;

    /* Log sequence numbers are dense and truncation only cuts the front. */
    if (wt->log_cut_below > store->oldest_log_seq)
        store->oldest_log_seq = wt->log_cut_below;
    atomic_fetch_add(&store->points_written, wt->points);
    atomic_fetch_add(&store->flagged_points_written, wt->flagged_points);
    atomic_fetch_add(&store->commits, 1);
    call_hook(wt, first, after_last);
    return rc;
}

/* Commits the requests [first, after), growing the map and retrying while it is full. */
static int commit_growing(st_store *store, writer_txn *wt, write_request *first,
                          write_request *after, jl_error *err)
{
    for (;;) {
        int rc = commit_group(store, wt, first, after, err);
        if (rc != JL_EFULL)
            return rc;
        rc = grow_map(store, err);
        if (rc != JL_OK)
            return rc;
    }
}

/* Points a request brings to a group (a review operation none). */
static size_t request_points(const write_request *request)
{
    return request->kind == WRITE_BATCH ? request->batch->point_count : 0;
}

/* One pass of the writer's own retention cycle, as a transaction of its own (retention.c). */
static void retention_pass(st_store *store, writer_txn *wt, retention_auto *a)
{
    write_request request;
    memset(&request, 0, sizeof request);
    request.kind = WRITE_RETENTION;
    request.retention = &a->op;
    retention_auto_begin(store, a);
    jl_error err;
    jl_error_clear(&err);
    retention_auto_end(store, a, commit_growing(store, wt, &request, NULL, &err));
}

/* Waits for work, or until the next retention pass is due (-1: no pass is). */
static void wait_for_work(st_store *store, int64_t wait_ms)
{
    if (wait_ms < 0) {
        pthread_cond_wait(&store->queue_cond, &store->queue_mutex);
        return;
    }
    struct timespec until = jl_deadline_after_ms(wait_ms);
    pthread_cond_timedwait(&store->queue_cond, &store->queue_mutex, &until);
}

static void *writer_main(void *argument)
{
    st_store *store = argument;
    writer_txn wt;
    memset(&wt, 0, sizeof wt);
    jl_buf_init(&wt.scratch);
    st_batch_init(&wt.relog_batch);
    jl_buf_init(&wt.relog_block);
    retention_auto retention;
    memset(&retention, 0, sizeof retention);
    pthread_mutex_lock(&store->queue_mutex);
    for (;;) {
        /* Retention runs between groups, a bounded pass at a time (retention.c). */
        int64_t wait_ms = retention_auto_wait_ms(store, &retention, store->queue_head == NULL);
        if (wait_ms == 0 && !store->stopping) {
            pthread_mutex_unlock(&store->queue_mutex);
            retention_pass(store, &wt, &retention);
            pthread_mutex_lock(&store->queue_mutex);
            continue;
        }
        if (store->queue_head == NULL && !store->stopping) {
            wait_for_work(store, wait_ms);
            continue;
        }
        if (store->queue_head == NULL && store->stopping)
            break;
        retention.ran_since_group = 0;
        /* Take as many queued requests as fit one transaction. */
        write_request *first = store->queue_head, *last = first;
        size_t points = request_points(first);
        while (last->next &&
               points + request_points(last->next) <= store->options.group_commit_max_points) {
            last = last->next;
            points += request_points(last);
        }
        write_request *after = last->next;
        wt.hook = store->commit_hook;
        wt.hook_ctx = store->commit_hook_ctx;
        store->queue_head = after;
        if (after == NULL)
            store->queue_tail = NULL;
        pthread_mutex_unlock(&store->queue_mutex);

        jl_error err;
        jl_error_clear(&err);
        /* A group of sync markers alone needs no transaction: LMDB would not count an empty
         * commit, and snapshots wait for the id published. */
        int empty = 1;
        for (write_request *r = first; r != after && empty; r = r->next)
            empty = r->kind == WRITE_SYNC;
        int rc = empty ? JL_OK : commit_growing(store, &wt, first, after, &err);
        if (rc != JL_OK && rc != JL_EFULL && rc != JL_EDISKFULL && first->next != after) {
            /* One bad request must not fail the others of its group: commit them one by one. */
            for (write_request *r = first; r != after; r = r->next) {
                jl_error_clear(&r->error);
                r->result = commit_growing(store, &wt, r, r->next, &r->error);
            }
        } else {
            for (write_request *r = first; r != after; r = r->next) {
                r->result = rc;
                r->error = err;
            }
        }
        pthread_mutex_lock(&store->queue_mutex);
        for (write_request *r = first; r != after; r = r->next)
            r->done = 1;
        pthread_cond_broadcast(&store->done_cond);
    }
    pthread_mutex_unlock(&store->queue_mutex);
    retention_auto_destroy(&retention);
    jl_buf_destroy(&wt.scratch);
    st_batch_destroy(&wt.relog_batch);
    free(wt.relogged);
    jl_buf_destroy(&wt.relog_block);
    free(wt.created);
    free(wt.joining);
    free(wt.late);
    free(wt.tail_ms);
    free(wt.tail_values);
    free(wt.tail_flags);
    free(wt.merge_ms);
    free(wt.merge_values);
    free(wt.merge_flags);
    free(wt.hook_batches);
    free(wt.state_changes);
    return NULL;
}

int writer_start(st_store *store, jl_error *err)
{
    if (pthread_create(&store->writer, NULL, writer_main, store) != 0)
        return jl_error_set(err, JL_ENOMEM, "cannot start the writer thread");
    store->writer_started = 1;
    return JL_OK;
}

void writer_stop(st_store *store)
{
    if (!store->writer_started)
        return;
    pthread_mutex_lock(&store->queue_mutex);
    store->stopping = 1;
    pthread_cond_signal(&store->queue_cond);
    pthread_mutex_unlock(&store->queue_mutex);
    pthread_join(store->writer, NULL);
    store->writer_started = 0;
}

int st_write(st_store *store, const st_batch *batch, jl_error *err)
{
    for (size_t i = 0; i < batch->point_count; i++) {
        if (!isfinite(batch->point_values[i]) || batch->point_ms[i] < JL_MIN_MS ||
            batch->point_ms[i] > JL_MAX_MS || batch->point_series[i] >= batch->series_count)
            return jl_error_set(err, JL_EINVAL, "point %zu is invalid", i);
        if (batch->point_flags[i] >= JL_FLAG_COUNT)
            return jl_error_set(err, JL_EINVAL, "point %zu has an unknown flag code", i);
    }
    if (batch->point_count == 0)
        return JL_OK;
    if (batch->point_count > ST_MAX_BATCH_POINTS)
        return jl_error_set(err, JL_ETOOLARGE,
                            "a request may hold at most %u readings; this one holds %zu",
                            ST_MAX_BATCH_POINTS, batch->point_count);
    if (store->options.read_only)
        return jl_error_set(err, JL_EBUSY, "the store was opened read-only");
    /* Readings already past retention are dropped here, never logged (retention.c). */
    st_batch kept;
    uint64_t dropped = 0;
    int rc = retention_filter(store, batch, &kept, &dropped, err);
    if (rc != JL_OK)
        return rc;
    if (dropped)
        batch = &kept;
    write_request request;
    memset(&request, 0, sizeof request);
    request.kind = WRITE_BATCH;
    request.batch = batch;
    /* Encoded here, in the caller's thread, so the single writer only fills in the ids. */
    jl_buf_init(&request.log_block);
    if (batch->point_count > 0) {
        rc = wl_encode(batch, &request.log_block, err);
        if (rc == JL_OK)
            rc = writer_submit(store, &request, err);
    }
    jl_buf_destroy(&request.log_block);
    free(request.series_ids);
    if (rc == JL_OK)
        atomic_fetch_add(&store->retention_dropped_readings, dropped);
    st_batch_destroy(&kept);
    return rc;
}

void st_store_set_commit_hook(st_store *store, st_commit_hook fn, void *ctx)
{
    pthread_mutex_lock(&store->queue_mutex);
    store->commit_hook = fn;
    store->commit_hook_ctx = ctx;
    pthread_mutex_unlock(&store->queue_mutex);
}

void st_store_sync_hook(st_store *store)
{
    /* Groups are committed in order and each is handed to the hook before its requests are
     * done, so an empty request's completion follows every group taken before it. */
    write_request request;
    memset(&request, 0, sizeof request);
    request.kind = WRITE_SYNC;
    if (!store->options.read_only)
        writer_submit(store, &request, NULL);
}

int writer_submit(st_store *store, write_request *request, jl_error *err)
{
    pthread_mutex_lock(&store->queue_mutex);
    if (store->stopping) {
        pthread_mutex_unlock(&store->queue_mutex);
        return jl_error_set(err, JL_EBUSY, "the store is shutting down");
    }
    if (store->queue_tail)
        store->queue_tail->next = request;
    else
        store->queue_head = request;
    store->queue_tail = request;
    pthread_cond_signal(&store->queue_cond);
    while (!request->done)
        pthread_cond_wait(&store->done_cond, &store->queue_mutex);
    pthread_mutex_unlock(&store->queue_mutex);
    if (request->result != JL_OK && err)
        *err = request->error;
    return request->result;
}
