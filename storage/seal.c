/* Sealing: when a series' tail becomes chunks (plan_seal learns, per series, how many readings
 * fill whole LMDB pages), cutting a tail into chunks that fill those pages (the remainder goes
 * back to the log), and sealing whole, with a small previous chunk merged in. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

/* Puts the chunk of s encoded in wt->scratch under (s->id, first_ms). */
static int put_scratch_chunk(st_store *store, writer_txn *wt, series *s, int64_t first_ms,
                             jl_error *err)
{
    uint8_t key[CHUNK_KEY_BYTES];
    store_chunk_key(key, s->id, first_ms);
    MDB_val k = {CHUNK_KEY_BYTES, key}, v = {wt->scratch.len, wt->scratch.data};
    int mrc = mdb_put(wt->txn, store->db_chunks, &k, &v, 0);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "writing a chunk");
    wt->chunk_count_delta++;
    wt->chunk_bytes_delta += (int64_t)wt->scratch.len;
    return series_state_note_chunks(wt, s, 1, (int64_t)wt->scratch.len, err);
}

/* Encodes readings of s into chunks of at most chunk_max readings each, split evenly, and puts
 * them; adds the encoded size to *bytes when bytes is not NULL. */
int seal_put_chunks(st_store *store, writer_txn *wt, series *s, const int64_t *ms,
                    const double *values, const uint8_t *flags, size_t count, uint64_t *bytes,
                    jl_error *err)
{
    size_t pieces = (count + store->chunk_max - 1) / store->chunk_max;
    size_t start = 0;
    for (size_t p = 0; p < pieces; p++) {
        size_t end = count * (p + 1) / pieces;
        wt->scratch.len = 0;
        int rc = ck_encode_flagged(ms + start, values + start, flags + start, end - start,
                                   store->options.segment_period_ms, &wt->scratch, err);
        if (rc == JL_OK)
            rc = put_scratch_chunk(store, wt, s, ms[start], err);
        if (rc != JL_OK)
            return rc;
        if (bytes)
            *bytes += wt->scratch.len;
        start = end;
    }
    return JL_OK;
}

/* Chooses when the series' next tail is sealed and how many bytes its chunk may take. With a
 * fixed chunk_target that is it, and tails are sealed whole. Otherwise the last chunk's size
 * per reading predicts how many readings fill a whole number of LMDB overflow pages (small
 * chunks would sit inline in leaf pages that per-series appends leave half empty, and a chunk
 * just over a page boundary would waste most of a page). The tail is let grow a little past
 * that, and sealing keeps the longest prefix that fits (seal_fitted): chunks filled to ~99%
 * instead of the 92% a prediction alone allowed, 0.85 -> 0.79 bytes per reading on the
 * reference year. */
/* Past the fewest pages that hold SEAL_FEWEST_READINGS, pages are added until a chunk holds
 * SEAL_MIN_READINGS (8 pages at most): each chunk costs a header, a B-tree entry (about 80 bytes
 * at the leaf fill per-series appends give) and a segment period cut in two, so two-page chunks
 * of ~10,000 readings are 2.9% fewer pages than one-page chunks on the reference year, while a
 * query still decodes at most two chunks per window. Those extra pages are not taken when the
 * chunk would then span more than half the periods a segment table covers: an hourly series
 * would otherwise seal a tail once a year, into chunks too long for a table. */
#define SEAL_FEWEST_READINGS 1024
#define SEAL_MIN_READINGS 8192
void seal_plan(const st_store *store, series *s, uint64_t count, uint64_t bytes, double span_ms)
{
    s->seal_budget = 0;
    if (store->options.chunk_target) {
        s->seal_threshold = store->options.chunk_target;
        return;
    }
    const double page_payload = store->page_bytes - 16.0;
    double per_reading = count ? ((double)bytes - (double)CK_HEADER_BYTES) / (double)count : 1.0;
    if (per_reading < 0.05)
        per_reading = 0.05;
    double ms_per_reading = count > 1 ? span_ms / (double)(count - 1) : 0.0;
    int64_t period = store->options.segment_period_ms > 0 ? store->options.segment_period_ms
                                                          : ST_DEFAULT_SEGMENT_PERIOD_MS;
    double longest_span = (double)period * (CK_MAX_SEGMENTS / 2);
    /* readings_in[p]: what a chunk of p pages holds at this size per reading. */
    double readings_in[9];
    for (int p = 1; p <= 8; p++)
        readings_in[p] = (p * page_payload - (double)CK_HEADER_BYTES) / per_reading;
    int pages = 1;
    while (pages < 8 && readings_in[pages] < SEAL_FEWEST_READINGS)
        pages++;
    while (pages < 8 && readings_in[pages] < SEAL_MIN_READINGS &&
           readings_in[pages + 1] * ms_per_reading <= longest_span)
        pages++;
    double readings = (pages * page_payload * 1.03 - (double)CK_HEADER_BYTES) / per_reading;
    if (readings > store->chunk_max)
        readings = store->chunk_max;
    s->seal_threshold = readings < 64 ? 64 : (uint32_t)readings;
    s->seal_budget = (uint32_t)(pages * page_payload);
    s->bytes_per_reading = per_reading;
}

/* Readings expected to fill the series' budget to 99.5% (the first guess of seal_fitted), at
 * most chunk_max: very compressible data (a constant) would otherwise ask for more readings
 * than a chunk may hold. */
static size_t fitting_count(const st_store *store, const series *s)
{
    double count = (s->seal_budget * 0.995 - (double)CK_HEADER_BYTES) / s->bytes_per_reading;
    return count < (double)store->chunk_max ? (size_t)count : store->chunk_max;
}

/* Encodes into wt->scratch the longest run of the unpacked tail (wt->tail_ms...) from `from`
 * (n readings at most) that fits the series' budget, found from the predicted size per reading
 * and corrected by the measured size; sets *fitted to its length, or to 0 when no run of a
 * useful length fits. */
static int encode_fitting_prefix(const st_store *store, writer_txn *wt, const series *s,
                                 size_t from, size_t n, size_t *fitted, jl_error *err)
{
    const int64_t *ms = wt->tail_ms + from;
    const double *values = wt->tail_values + from;
    const uint8_t *flags = wt->tail_flags + from;
    const double target = s->seal_budget * 0.995 - (double)CK_HEADER_BYTES;
    size_t count = fitting_count(store, s);
    *fitted = 0;
    if (count > n)
        count = n;
    for (int attempt = 0; attempt < 6 && count >= 64; attempt++) {
        wt->scratch.len = 0;
        int rc = ck_encode_flagged(ms, values, flags, count, store->options.segment_period_ms,
                                   &wt->scratch, err);
        if (rc != JL_OK)
            return rc;
        if (wt->scratch.len <= s->seal_budget) {
            *fitted = count;
            return JL_OK;
        }
        size_t smaller =
            (size_t)((double)count * target / ((double)wt->scratch.len - (double)CK_HEADER_BYTES));
        count = smaller < count ? smaller : count - 1;
    }
    return JL_OK;
}

/* Seals the tail of s (unpacked into wt->tail_ms...) as chunks that each fill the series' pages,
 * while it holds at least a
 * seal threshold's worth; the rest stays in a new tail, written back to the log. Sets *sealed
 * to the readings sealed: 0 when not even the first chunk fits (the caller seals it whole). A
 * tail many chunks long (a backfill) is cut in one go, not one chunk per transaction. */
static int seal_fitted(st_store *store, writer_txn *wt, series *s, size_t *sealed, jl_error *err)
{
    series_state *st = &s->next;
    const int64_t *ms = wt->tail_ms;
    size_t n = st->tail_count, done = 0;
    *sealed = 0;
    while (n - done >= s->seal_threshold) {
        size_t fitted = 0;
        int rc = encode_fitting_prefix(store, wt, s, done, n - done, &fitted, err);
        if (rc == JL_OK && fitted > 0)
            rc = put_scratch_chunk(store, wt, s, ms[done], err);
        if (rc == JL_OK && fitted == 0 && done > 0) {
            /* The size per reading changed too much to find a fitting run: the rest is sealed
             * whole rather than kept (a backfill could leave millions in the tail). */
            uint64_t bytes = 0;
            rc = seal_put_chunks(store, wt, s, ms + done, wt->tail_values + done,
                                 wt->tail_flags + done, n - done, &bytes, err);
            if (rc == JL_OK)
                seal_plan(store, s, n - done, bytes, (double)ms[n - 1] - (double)ms[done]);
            done = n;
        }
        if (rc != JL_OK)
            return rc;
        if (fitted == 0)
            break;
        seal_plan(store, s, fitted, wt->scratch.len,
                  (double)ms[done + fitted - 1] - (double)ms[done]);
        done += fitted;
    }
    if (done == 0)
        return JL_OK;
    uint32_t rest = (uint32_t)(n - done);
    tail_buffer *remainder = NULL;
    if (rest > 0) {
        remainder =
            tail_from_readings(ms + done, wt->tail_values + done, wt->tail_flags + done, rest);
        if (remainder == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory sealing a tail");
    }
    st->sealed_max_ms = ms[done - 1];
    st->sealed_count += done;
    if (s->tail_private)
        store_tail_release(st->tail);
    st->tail = remainder;
    st->tail_count = rest;
    s->tail_private = remainder != NULL;
    *sealed = done;
    return rest > 0 ? log_relog_tail(wt, s, err) : JL_OK;
}

/* When the last chunk of s is small enough that it and the n tail readings at ms/values stay
 * within merge_limit, deletes it and copies both into the merge buffers: *ms, *values and *total
 * then describe the merged readings. Otherwise leaves them as they are. */
static int absorb_last_chunk(st_store *store, writer_txn *wt, series *s, size_t merge_limit,
                             const int64_t **ms, const double **values, const uint8_t **flags,
                             size_t *total, jl_error *err)
{
    size_t n = *total;
    MDB_cursor *cursor = NULL;
    int mrc = mdb_cursor_open(wt->txn, store->db_chunks, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening a chunk cursor");
    MDB_val k, v;
    ck_summary summary;
    int rc = JL_OK;
    mrc = store_chunk_floor(cursor, s->id, INT64_MAX, &k, &v); /* the last chunk */
    if (mrc != 0 || ck_read_summary(v.mv_data, v.mv_size, &summary, NULL) != JL_OK ||
        summary.count + n > merge_limit)
        goto out;
    size_t old_count = 0;
    rc = merge_decode_chunk(wt, &v, 0, &old_count, err);
    if (rc == JL_OK)
        rc = merge_reserve(wt, old_count + n);
    if (rc != JL_OK)
        goto out;
    memcpy(wt->merge_ms + old_count, *ms, sizeof(int64_t) * n);
    memcpy(wt->merge_values + old_count, *values, sizeof(double) * n);
    memcpy(wt->merge_flags + old_count, *flags, n);
    size_t old_bytes = v.mv_size;
    mrc = mdb_cursor_del(cursor, 0);
    if (mrc != 0)
        rc = store_lmdb_error(err, mrc, "replacing a chunk");
    wt->chunk_count_delta--;
    wt->chunk_bytes_delta -= (int64_t)old_bytes;
    if (rc == JL_OK)
        rc = series_state_note_chunks(wt, s, -1, -(int64_t)old_bytes, err);
    *ms = wt->merge_ms;
    *values = wt->merge_values;
    *flags = wt->merge_flags;
    *total = old_count + n;
out:
    mdb_cursor_close(cursor);
    return rc;
}

/* Seals the next tail of s into chunks: with `fit` and a budget, the longest prefix that fills
 * the series' pages; otherwise all of it, a small previous chunk merged in, so that early seals
 * (forced by log truncation) do not leave many tiny chunks behind. */
int seal_tail(st_store *store, writer_txn *wt, series *s, int fit, jl_error *err)
{
    series_state *st = &s->next;
    uint32_t n = st->tail_count;
    if (n == 0)
        return JL_OK;
    if (tail_unpack(wt, s) != JL_OK)
        return jl_error_set(err, JL_ENOMEM, "out of memory sealing a tail");
    if (fit && s->seal_budget > 0 && n >= s->seal_threshold) {
        size_t sealed = 0;
        int rc = seal_fitted(store, wt, s, &sealed, err);
        if (rc != JL_OK || sealed > 0)
            return rc;
    }
    const int64_t *ms = wt->tail_ms;
    const double *values = wt->tail_values;
    const uint8_t *flags = wt->tail_flags;
    size_t total = n;
    int rc = JL_OK;
    size_t merge_limit = s->seal_budget > 0 ? fitting_count(store, s) : s->seal_threshold;
    if (st->sealed_count > 0 && n < merge_limit)
        rc = absorb_last_chunk(store, wt, s, merge_limit, &ms, &values, &flags, &total, err);
    if (rc != JL_OK)
        return rc;
    uint64_t bytes = 0;
    rc = seal_put_chunks(store, wt, s, ms, values, flags, total, &bytes, err);
    if (rc != JL_OK)
        return rc;
    seal_plan(store, s, total, bytes, (double)ms[total - 1] - (double)ms[0]);
    st->sealed_max_ms = wt->tail_ms[n - 1];
    st->sealed_count += n;
    if (s->tail_private)
        store_tail_release(st->tail);
    st->tail = NULL;
    st->tail_count = 0;
    s->tail_private = 0;
    return JL_OK;
}
