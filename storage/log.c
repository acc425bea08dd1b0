/* The write log in LMDB: one block per request (encoded by log_block.c), appended under dense
 * sequence numbers; truncated from the front once no tail needs the oldest blocks; tails that
 * alone keep old blocks alive, and the remainders of fitted seals, written again as new blocks;
 * and replayed at open to rebuild the tails.
 *
 * Why a log: one LMDB put per request instead of one per reading keeps durable ingest fast.
 * The readings of a request stay in the log until every series tail holding one was sealed;
 * recovery replays the log, skipping readings at or before a series' sealed end, which are in
 * chunks already (they were sealed, or merged into a chunk in the same transaction). A seal that
 * keeps part of the tail writes that part to the log again as a newer block; replaying the older
 * copies first and this one last gives the same tail, as a later write of a timestamp wins.
 * Tails that alone keep old blocks alive are written again the same way (log_relog_old_tails),
 * so that a few slow series do not keep everyone's readings of many chunk periods in the file. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "log_block.h"

/* Appends the request's log block, with its series ids filled in. */
int log_put_block(st_store *store, writer_txn *wt, uint64_t seq, const uint64_t *ids, jl_buf *block,
                  jl_error *err)
{
    wl_finish(block, ids);
    uint8_t key[8];
    bytes_put_be64(key, seq);
    MDB_val k = {8, key}, v = {block->len, block->data};
    int mrc = mdb_put(wt->txn, store->db_log, &k, &v, MDB_APPEND);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "writing the write log");
    wt->log_blocks_delta++;
    wt->log_bytes_delta += (int64_t)v.mv_size;
    return JL_OK;
}

/* Notes that the tail of s (its readings after a fitted seal, or an old tail) goes back to the
 * log when log_write_relogged() runs, after all the seals of the transaction; once per series. */
int log_relog_tail(writer_txn *wt, series *s, jl_error *err)
{
    if (s->relog_queued)
        return JL_OK;
    series **relogged = jl_array_grow(wt->relogged, &wt->relogged_capacity, wt->relogged_count + 1,
                                      sizeof *relogged, 64);
    if (relogged == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory writing a tail back to the log");
    wt->relogged = relogged;
    wt->relogged[wt->relogged_count++] = s;
    s->relog_queued = 1;
    return JL_OK;
}

/* Readings in one block of remainders at most: far below what a log block may hold
 * (ST_MAX_BATCH_POINTS), so that many series, or one huge remainder, never make a block that
 * recovery would refuse. */
#define RELOG_BLOCK_READINGS (1u << 20)

/* Adds to wt->relog_batch the next readings of the listed tails, from series *next (of whose
 * tail *taken readings are in earlier blocks), until the block holds RELOG_BLOCK_READINGS;
 * records the series' ids in ids[] and sets *points to the readings added. */
static int fill_relog_block(writer_txn *wt, uint64_t seq, uint64_t *ids, size_t *next,
                            uint32_t *taken, size_t *points, jl_error *err)
{
    size_t block_series = 0;
    *points = 0;
    st_batch_reset(&wt->relog_batch);
    while (*next < wt->relogged_count && *points < RELOG_BLOCK_READINGS) {
        series *s = wt->relogged[*next];
        const series_state *st = &s->next;
        uint32_t take = st->tail_count - *taken;
        if (take > RELOG_BLOCK_READINGS - *points)
            take = (uint32_t)(RELOG_BLOCK_READINGS - *points);
        uint32_t index = 0;
        int rc = tail_unpack(wt, s);
        if (rc == JL_OK)
            rc = st_batch_series(&wt->relog_batch, s->key, s->key_len, &index);
        for (uint32_t i = *taken; rc == JL_OK && i < *taken + take; i++)
            rc = st_batch_point_flagged(&wt->relog_batch, index, wt->tail_ms[i], wt->tail_values[i],
                                        wt->tail_flags[i]);
        if (rc != JL_OK)
            return jl_error_set(err, rc, "out of memory writing tails back to the log");
        ids[block_series++] = s->id;
        if (*taken == 0)
            s->next.tail_min_seq = seq;
        *points += take;
        *taken += take;
        if (*taken == st->tail_count) {
            (*next)++;
            *taken = 0;
        }
    }
    return JL_OK;
}

/* Writes the tails listed by log_relog_tail() to the log, so that the older blocks
 * holding them need not be kept for these series: as few blocks as RELOG_BLOCK_READINGS allows,
 * usually one, each series' tail_min_seq moving to the first block holding its readings. Few
 * blocks, not one per seal: sequence numbers also measure the log against log_max_blocks, and
 * thousands of series sealing together must not look like a long log. */
int log_write_relogged(st_store *store, writer_txn *wt, jl_error *err)
{
    if (wt->relogged_count == 0)
        return JL_OK;
    uint64_t *ids = malloc(wt->relogged_count * sizeof *ids);
    if (ids == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory writing tails back to the log");
    int rc = JL_OK;
    size_t next = 0;    /* series being written */
    uint32_t taken = 0; /* of its tail, readings in earlier blocks */
    while (rc == JL_OK && next < wt->relogged_count) {
        uint64_t seq = wt->next_seq;
        size_t points = 0;
        rc = fill_relog_block(wt, seq, ids, &next, &taken, &points, err);
        if (rc == JL_OK)
            rc = wl_encode(&wt->relog_batch, &wt->relog_block, err);
        if (rc == JL_OK)
            rc = log_put_block(store, wt, seq, ids, &wt->relog_block, err);
        if (rc == JL_OK) {
            wt->next_seq++;
            wt->relogged_readings += points;
        }
    }
    free(ids);
    for (size_t i = 0; i < wt->relogged_count; i++)
        wt->relogged[i]->relog_queued = 0;
    return rc;
}

/* A tail is written again once the block holding its oldest reading is this many sequence
 * numbers old (requests and rewritten tails both take one), so that one tail is rewritten at most
 * once per that many blocks. */
#define RELOG_MIN_AGE_BLOCKS 128
/* Readings a tail may rewrite per reading written: bounds the log's write amplification. */
#define RELOG_CREDIT_PER_READING 2
/* Readings of rewriting credit kept at most: what a long quiet spell can save up for a burst. */
#define RELOG_MAX_CREDIT (1u << 20)

/* Writes again to the log the tails whose oldest reading is in a block RELOG_MIN_AGE_BLOCKS old,
 * oldest first, so that truncate_log can drop those blocks. A block holds a request's readings
 * of every series and stays until the last of them seals, so without this the slowest series
 * (smooth data, whose chunks hold three times the readings) keep about three chunk periods of
 * every series' readings in the file: 4.4% of it on the reference year of DESIGN §6. Rewriting
 * is paid for by credit earned by the readings written, so it never writes more than twice the
 * readings requests do: with many slow series (thousands of sensors reporting hourly) the log is
 * then bounded by log_max_blocks as before, at most tripling what goes to it. Tails are rewritten
 * one after another as they age, not in bunches, because a large block needs that many
 * contiguous free pages and would grow the file instead of reusing the freed ones. */
int log_relog_old_tails(st_store *store, writer_txn *wt, jl_error *err)
{
    store->relog_credit += RELOG_CREDIT_PER_READING * wt->points;
    if (store->relog_credit > RELOG_MAX_CREDIT)
        store->relog_credit = RELOG_MAX_CREDIT;
    if (wt->next_seq - store->oldest_log_seq <= RELOG_MIN_AGE_BLOCKS)
        return JL_OK;
    uint64_t cut = wt->next_seq - RELOG_MIN_AGE_BLOCKS;
    for (series *s = store->pending_head; s; s = s->pending_next) {
        /* The list is in published tail_min_seq order, and a transaction only moves tails
         * later: no entry past this one pins a block below cut. */
        if (s->live.tail_min_seq >= cut)
            break;
        const series_state *st = s->touched ? &s->next : &s->live;
        if (st->tail_count == 0 || st->tail_min_seq >= cut || s->relog_queued)
            continue;
        if (st->tail_count > store->relog_credit)
            break;
        store->relog_credit -= st->tail_count;
        tail_touch(wt, s);
        int rc = log_relog_tail(wt, s, err);
        if (rc != JL_OK)
            return rc;
    }
    return JL_OK;
}

/* Tails this transaction seals from the head of the pending list, however young: none while
 * the log holds at most half of log_max_blocks; past that, pending tails x blocks written by
 * this transaction / (half the limit), so that each tail is sealed about once per half-limit
 * blocks and the log stays near half the limit; twice as many past three quarters.
 * Why paced: tails that start together (every series of a city, at its first requests) would
 * otherwise reach the limit together and be sealed in one transaction, which rewrites every
 * chunk leaf and series-state page at once; LMDB keeps the old copies until the commit, so the
 * file grew by the whole tree at every such wave, and one commit held up every write for
 * seconds. Paced, each transaction copies a few hundred pages, freed and reused by the next.
 * Measured at 10^5 series x one day at 60 s (bench/REPORT.md, "Paced seals"): file 345 -> 207
 * MB, peak RSS 842 -> 475 MiB, for about 25% more writer CPU in merging small chunks. */
static uint64_t paced_seal_count(const st_store *store, const writer_txn *wt)
{
    uint64_t half = store->options.log_max_blocks / 2;
    uint64_t held = store->next_log_seq - store->oldest_log_seq;
    if (half == 0 || held <= half)
        return 0;
    uint64_t written = wt->next_seq - wt->first_seq;
    if (written == 0)
        written = 1; /* a group of marks or events alone: still make progress */
    uint64_t count = (store->pending_count * written + half - 1) / half;
    return held > half + half / 2 ? 2 * count : count;
}

/* Deletes log blocks no tail needs any more; seals tails that pin a log grown too long. The
 * pending list holds the series with non-empty published tails in tail_min_seq order, so only
 * its head is looked at: entries touched by this transaction can only have moved later (their
 * tail was sealed, or sealed and restarted), and tails started by this transaction need no block
 * older than the transaction's first. */
int log_truncate(st_store *store, writer_txn *wt, jl_error *err)
{
    uint64_t oldest_needed = wt->first_seq;
    uint64_t force_below = 0;
    /* Past the limit, tails pinning the oldest blocks are sealed early (as smaller chunks), so
     * slow series cannot make the log grow without bound. */
    uint32_t limit = store->options.log_max_blocks;
    if (store->next_log_seq - store->oldest_log_seq > limit)
        force_below = store->next_log_seq - limit / 2;
    uint64_t paced = paced_seal_count(store, wt);
    for (series *s = store->pending_head; s; s = s->pending_next) {
        const series_state *st = s->touched ? &s->next : &s->live;
        int pace = paced > 0 && st->tail_min_seq < wt->first_seq;
        if (st->tail_count > 0 && (st->tail_min_seq < force_below || pace)) {
            if (pace)
                paced--;
            tail_touch(wt, s);
            int rc = seal_tail(store, wt, s, 0, err);
            if (rc != JL_OK)
                return rc;
            continue;
        }
        if (st->tail_count > 0 && st->tail_min_seq < oldest_needed)
            oldest_needed = st->tail_min_seq;
        if (!s->touched)
            break; /* every later entry needs no older block than this one */
    }
    wt->log_cut_below = oldest_needed;
    if (oldest_needed <= store->oldest_log_seq)
        return JL_OK;
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(wt->txn, store->db_log, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the write log");
    MDB_val k, v;
    int rc = JL_OK;
    while ((mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)) == 0) {
        if (bytes_get_be64(k.mv_data) >= oldest_needed)
            break;
        size_t bytes = v.mv_size;
        mrc = mdb_cursor_del(cursor, 0);
        if (mrc != 0) {
            rc = store_lmdb_error(err, mrc, "truncating the write log");
            break;
        }
        wt->log_blocks_delta--;
        wt->log_bytes_delta -= (int64_t)bytes;
    }
    mdb_cursor_close(cursor);
    return rc;
}

/* Adds the readings of one log block (sequence seq) newer than their series' sealed end to the
 * next tails, as a transaction would; readings.* is decode scratch. The readings come grouped
 * by series. A group that reaches the frozen part of its tail (a tail written again to the
 * log, replayed over its older copies) is merged at once (tail_merge_run): reading by reading
 * each would re-encode a segment and copy every newer one, which made the restart of a
 * 500-series store with long tails take 5.8 s instead of 0.5 s. Other groups go in reading by
 * reading. */
static int replay_block(st_store *store, uint64_t seq, const MDB_val *block, wl_readings *readings,
                        jl_error *err)
{
    int rc = wl_decode(block->mv_data, block->mv_size, readings, err);
    for (size_t i = 0; rc == JL_OK && i < readings->count;) {
        uint64_t id = readings->ids[i];
        if (id == 0 || id > store->series_count)
            return jl_error_set(err, JL_ECORRUPT, "write log names unknown series %llu",
                                (unsigned long long)id);
        size_t end = i + 1;
        while (end < readings->count && readings->ids[end] == id)
            end++;
        series *s = store->by_id[id];
        /* Replay works on next and publishes at the end, like a transaction. */
        if (!s->touched) {
            s->touched = 1;
            s->next = s->live;
            s->tail_private = 1; /* nobody reads during recovery */
        }
        /* Readings at or before the sealed end are in chunks already; the rest go in order. */
        size_t kept = 0, appends = 1;
        int64_t earliest = INT64_MAX;
        for (size_t r = i; r < end; r++) {
            if (readings->ms[r] <= s->next.sealed_max_ms)
                continue;
            if (readings->flags[r] >= JL_FLAG_COUNT)
                return jl_error_set(err, JL_ECORRUPT, "write log block %llu has flag code %u",
                                    (unsigned long long)seq, readings->flags[r]);
            readings->ids[i + kept] = id;
            readings->ms[i + kept] = readings->ms[r];
            readings->values[i + kept] = readings->values[r];
            readings->flags[i + kept] = readings->flags[r];
            if (kept > 0 && readings->ms[i + kept] <= readings->ms[i + kept - 1])
                appends = 0;
            if (readings->ms[i + kept] < earliest)
                earliest = readings->ms[i + kept];
            kept++;
        }
        if (kept > 0 && s->next.tail_count > 0 && readings->ms[i] <= s->next.last_ms)
            appends = 0;
        /* Into the head, reading by reading is cheaper: only the frozen part is merged. */
        const tail_buffer *tail = s->next.tail;
        if (kept > 1 && !appends && tail && tail->newest && earliest <= tail->newest->last_ms) {
            if (tail_merge_run(s, readings->ms + i, readings->values + i, readings->flags + i,
                               (uint32_t)kept, seq) != JL_OK)
                rc = jl_error_set(err, JL_ENOMEM, "out of memory replaying the write log");
            i = end;
            continue;
        }
        for (size_t r = i; rc == JL_OK && r < i + kept; r++) {
            /* The series struct, its tail buffer and the tail's head slot of the readings 12,
             * 8 and 4 ahead are fetched, as the writer does (catalog_prefetch_bucket). */
            for (int stage = 1; stage <= 3; stage++) {
                size_t at = r + 4 * (size_t)stage;
                uint64_t ahead = at < readings->count ? readings->ids[at] : 0;
                if (ahead == 0 || ahead > store->series_count)
                    continue;
                const series *a = store->by_id[ahead];
                if (stage == 3) {
                    __builtin_prefetch(a);
                    continue;
                }
                const series_state *st = a->touched ? &a->next : &a->live;
                if (stage == 2)
                    tail_prefetch_buffer(st);
                else
                    tail_prefetch_append(st);
            }
            if (tail_add(s, readings->ms[r], readings->values[r], readings->flags[r], seq) != JL_OK)
                rc = jl_error_set(err, JL_ENOMEM, "out of memory replaying the write log");
        }
        i = end;
    }
    return rc;
}

/* Publishes the replayed tails and builds the pending list, ordered by tail_min_seq
 * (tail_compare_next_min_seq reads next, a copy of live by then). */
static int publish_replayed(st_store *store, jl_error *err)
{
    size_t pending = 0;
    series **order = malloc((store->series_count ? store->series_count : 1) * sizeof *order);
    for (uint64_t id = 1; id <= store->series_count; id++) {
        series *s = store->by_id[id];
        if (s->touched) {
            s->live = s->next;
            s->touched = 0;
            s->tail_private = 0;
        }
        if (order && s->live.tail_count > 0)
            order[pending++] = s;
    }
    if (order == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory replaying the write log");
    qsort(order, pending, sizeof *order, tail_compare_next_min_seq);
    for (size_t i = 0; i < pending; i++)
        tail_pending_append(store, order[i]);
    free(order);
    return JL_OK;
}

/* Rebuilds the tails from the write log (see the file comment for why this is exact). */
int log_replay(st_store *store, MDB_txn *txn, jl_error *err)
{
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(txn, store->db_log, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the write log");
    wl_readings readings;
    memset(&readings, 0, sizeof readings);
    MDB_val k, v;
    int rc = JL_OK;
    store->next_log_seq = 1;
    store->oldest_log_seq = 0;
    for (mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); mrc == 0 && rc == JL_OK;
         mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        uint64_t seq = bytes_get_be64(k.mv_data);
        if (store->oldest_log_seq == 0)
            store->oldest_log_seq = seq;
        store->log_blocks++;
        store->log_bytes += v.mv_size;
        rc = replay_block(store, seq, &v, &readings, err);
        store->next_log_seq = seq + 1;
    }
    if (store->oldest_log_seq == 0)
        store->oldest_log_seq = store->next_log_seq;
    int published = publish_replayed(store, err);
    if (rc == JL_OK)
        rc = published;
    wl_readings_destroy(&readings);
    mdb_cursor_close(cursor);
    return rc;
}
