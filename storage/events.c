/* Alarm events (include/jialing/alarm.h): the entries of the "events" database (their bytes in
 * disk_format.h section 4). st_event_put() validates in the caller's thread and hands the events
 * to the writer (writer.c, WRITE_EVENTS), so they commit in the same group transaction as
 * readings and are durable when it returns; st_event_list() reads them in one read
 * transaction. */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#include "crc32c.h"

static void event_key(uint8_t key[EVENT_KEY_BYTES], uint64_t id)
{
    bytes_put_be64(key, id);
}

/* Encodes e into out (replacing what it held). JL_OK or JL_ENOMEM. */
static int event_encode(const st_event *e, jl_buf *out)
{
    size_t name_len = strlen(e->rule);
    size_t size = EVENT_OFF_RULE + name_len + EVENT_CRC_BYTES;
    out->len = 0;
    if (jl_buf_reserve(out, size) != JL_OK)
        return JL_ENOMEM;
    uint8_t *p = (uint8_t *)out->data;
    p[EVENT_OFF_VERSION] = EVENT_VALUE_VERSION;
    p[EVENT_OFF_FLAGS] =
        (uint8_t)((e->resolved ? EVENT_FLAG_RESOLVED : 0) | (e->late ? EVENT_FLAG_LATE : 0) |
                  ((e->notified & ST_EVENT_NOTIFIED_FIRING) ? EVENT_FLAG_NOTIFIED_FIRING : 0) |
                  ((e->notified & ST_EVENT_NOTIFIED_RESOLVED) ? EVENT_FLAG_NOTIFIED_RESOLVED : 0));
    bytes_put_le64(p + EVENT_OFF_SERIES, e->series_id);
    bytes_put_le64(p + EVENT_OFF_START_MS, (uint64_t)e->start_ms);
    bytes_put_le64(p + EVENT_OFF_FIRED_MS, (uint64_t)e->fired_ms);
    bytes_put_le64(p + EVENT_OFF_END_MS, (uint64_t)(e->resolved ? e->end_ms : 0));
    bytes_put_f64(p + EVENT_OFF_PEAK, e->peak);
    bytes_put_le64(p + EVENT_OFF_COUNT, e->count);
    bytes_put_le32(p + EVENT_OFF_RULE_LEN, (uint32_t)name_len);
    memcpy(p + EVENT_OFF_RULE, e->rule, name_len);
    size_t at = EVENT_OFF_RULE + name_len;
    bytes_put_le32(p + at, ck_crc32c(0, p, at));
    out->len = at + EVENT_CRC_BYTES;
    return JL_OK;
}

/* Validates and parses an entry in the order disk_format.h gives. JL_OK or JL_ECORRUPT. */
static int event_decode(const MDB_val *key, const MDB_val *value, st_event *e, jl_error *err)
{
    memset(e, 0, sizeof *e);
    uint8_t flags = 0;
    int rc = store_record_check(key, value, EVENT_VALUE_MIN_BYTES, EVENT_VALUE_VERSION,
                                EVENT_FLAGS_KNOWN, "event", &e->id, &flags, err);
    if (rc != JL_OK)
        return rc;
    unsigned long long shown = (unsigned long long)e->id;
    const uint8_t *p = value->mv_data;
    size_t size = value->mv_size;
    size_t body = size - EVENT_CRC_BYTES;
    e->resolved = (flags & EVENT_FLAG_RESOLVED) != 0;
    e->late = (flags & EVENT_FLAG_LATE) != 0;
    e->notified = ((flags & EVENT_FLAG_NOTIFIED_FIRING) ? ST_EVENT_NOTIFIED_FIRING : 0) |
                  ((flags & EVENT_FLAG_NOTIFIED_RESOLVED) ? ST_EVENT_NOTIFIED_RESOLVED : 0);
    e->series_id = bytes_get_le64(p + EVENT_OFF_SERIES);
    e->start_ms = (int64_t)bytes_get_le64(p + EVENT_OFF_START_MS);
    e->fired_ms = (int64_t)bytes_get_le64(p + EVENT_OFF_FIRED_MS);
    e->end_ms = (int64_t)bytes_get_le64(p + EVENT_OFF_END_MS);
    e->peak = bytes_get_f64(p + EVENT_OFF_PEAK);
    e->count = bytes_get_le64(p + EVENT_OFF_COUNT);
    uint32_t name_len = bytes_get_le32(p + EVENT_OFF_RULE_LEN);
    if (e->series_id == 0)
        return jl_error_set(err, JL_ECORRUPT, "event %llu names series 0", shown);
    if (name_len == 0 || name_len > ST_EVENT_MAX_RULE_BYTES || body - EVENT_OFF_RULE != name_len ||
        memchr(p + EVENT_OFF_RULE, 0, name_len) != NULL)
        return jl_error_set(err, JL_ECORRUPT, "event %llu has a bad rule name", shown);
    memcpy(e->rule, p + EVENT_OFF_RULE, name_len);
    e->rule[name_len] = '\0';
    if ((!e->resolved && e->end_ms != 0) || (e->resolved && e->end_ms < e->start_ms))
        return jl_error_set(err, JL_ECORRUPT, "event %llu has a bad end", shown);
    return JL_OK;
}

int events_load(st_store *store, MDB_txn *txn, jl_error *err)
{
    store->event_next_id = 1;
    if (!store->has_events_db)
        return JL_OK;
    MDB_cursor *cursor;
    int mrc = mdb_cursor_open(txn, store->db_events, &cursor);
    if (mrc != 0)
        return store_lmdb_error(err, mrc, "opening the events");
    MDB_val k, v;
    mrc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
    int rc = JL_OK;
    if (mrc == 0) {
        if (k.mv_size != EVENT_KEY_BYTES)
            rc = jl_error_set(err, JL_ECORRUPT, "an event key has %zu bytes", k.mv_size);
        else
            store->event_next_id = bytes_get_be64(k.mv_data) + 1;
    } else if (mrc != MDB_NOTFOUND) {
        rc = store_lmdb_error(err, mrc, "reading the events");
    }
    mdb_cursor_close(cursor);
    return rc;
}

int events_apply(st_store *store, writer_txn *wt, event_op *op, jl_error *err)
{
    if (op->count == 0)
        return JL_OK;
    jl_buf bytes; /* has_events_db: st_event_put refuses a read-only store, the only one without */
    jl_buf_init(&bytes);
    int rc = JL_OK;
    for (size_t i = 0; i < op->count && rc == JL_OK; i++) {
        st_event *e = &op->events[i];
        int is_new = op->is_new[i];
        uint64_t id = is_new ? store->event_next_id : e->id;
        if (!is_new && id >= store->event_next_id) {
            rc = jl_error_set(err, JL_EINVAL, "there is no event %llu", (unsigned long long)id);
            break;
        }
        if (event_encode(e, &bytes) != JL_OK) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory storing an event");
            break;
        }
        uint8_t key[EVENT_KEY_BYTES];
        event_key(key, id);
        MDB_val k = {sizeof key, key}, val = {bytes.len, bytes.data};
        int mrc = mdb_put(wt->txn, store->db_events, &k, &val, is_new ? MDB_NOOVERWRITE : 0);
        if (mrc != 0) {
            rc = store_lmdb_error(err, mrc, "storing an event");
            break;
        }
        if (is_new) {
            store->event_next_id = id + 1;
            e->id = id;
        }
    }
    jl_buf_destroy(&bytes);
    return rc;
}

int st_event_put(st_store *store, st_event *events, size_t count, jl_error *err)
{
    if (count == 0)
        return JL_OK;
    if (store->options.read_only)
        return jl_error_set(err, JL_EBUSY, "the store was opened read-only");
    pthread_rwlock_rdlock(&store->state_lock);
    uint64_t known = store->series_count;
    pthread_rwlock_unlock(&store->state_lock);
    for (size_t i = 0; i < count; i++) {
        size_t len = strnlen(events[i].rule, sizeof events[i].rule);
        if (len == 0 || len > ST_EVENT_MAX_RULE_BYTES)
            return jl_error_set(err, JL_EINVAL, "an event needs a rule name of 1 to %u bytes",
                                ST_EVENT_MAX_RULE_BYTES);
        if (events[i].series_id == 0 || events[i].series_id > known)
            return jl_error_set(err, JL_EINVAL, "an event names unknown series %llu",
                                (unsigned long long)events[i].series_id);
        if (events[i].resolved && events[i].end_ms < events[i].start_ms)
            return jl_error_set(err, JL_EINVAL, "an event ends before it starts");
    }
    uint8_t *is_new = malloc(count);
    if (is_new == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory storing events");
    for (size_t i = 0; i < count; i++)
        is_new[i] = events[i].id == 0;
    event_op op = {events, is_new, count};
    write_request request;
    memset(&request, 0, sizeof request);
    request.kind = WRITE_EVENTS;
    request.events = &op;
    int rc = writer_submit(store, &request, err);
    for (size_t i = 0; rc != JL_OK && i < count; i++)
        if (is_new[i])
            events[i].id = 0; /* dropped with the transaction */
    free(is_new);
    return rc;
}

static int ids_contain(const uint64_t *ids, size_t count, uint64_t id)
{
    size_t at = store_lower_bound_u64(ids, count, sizeof *ids, 0, id);
    return at < count && ids[at] == id;
}

static int filter_passes(const st_event_filter *f, const st_event *e)
{
    if (f == NULL)
        return 1;
    if (f->state == 1 && e->resolved)
        return 0;
    if (f->state == 2 && !e->resolved)
        return 0;
    if (f->rule && strcmp(f->rule, e->rule) != 0)
        return 0;
    if (f->series_ids && !ids_contain(f->series_ids, f->series_count, e->series_id))
        return 0;
    if (f->has_range) {
        if (e->start_ms >= f->to_ms)
            return 0;
        if (e->resolved && e->end_ms < f->from_ms)
            return 0;
    }
    return 1;
}

void st_event_list_free(st_event *events, size_t count)
{
    if (events == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(events[i].series_key);
    free(events);
}

/* Fills each event's series_key from the catalog (series are never removed). */
static int fill_keys(st_store *store, st_event *events, size_t count, jl_error *err)
{
    int rc = JL_OK;
    pthread_rwlock_rdlock(&store->state_lock);
    for (size_t i = 0; i < count && rc == JL_OK; i++) {
        uint64_t id = events[i].series_id;
        if (id == 0 || id > store->series_count)
            continue; /* a series not published yet (cannot happen for a committed event) */
        events[i].series_key = strdup(store->by_id[id]->key);
        if (events[i].series_key == NULL)
            rc = jl_error_set(err, JL_ENOMEM, "out of memory listing events");
    }
    pthread_rwlock_unlock(&store->state_lock);
    return rc;
}

int st_event_list(st_store *store, const st_event_filter *filter, st_event **events_out,
                  size_t *count_out, jl_error *err)
{
    *events_out = NULL;
    *count_out = 0;
    if (!store->has_events_db)
        return JL_OK;
    st_event *events = NULL;
    size_t count = 0, capacity = 0;
    int rc = JL_OK;
    pthread_rwlock_rdlock(&store->map_lock);
    MDB_txn *txn = NULL;
    MDB_cursor *cursor = NULL;
    rc = store_read_cursor(store, store->db_events, "reading the events", &txn, &cursor, err);
    if (rc == JL_OK) {
        MDB_val k, v;
        int mrc;
        for (mrc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); mrc == 0 && rc == JL_OK;
             mrc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
            st_event e;
            rc = event_decode(&k, &v, &e, err);
            if (rc != JL_OK || !filter_passes(filter, &e))
                continue;
            if (filter && filter->max_events && count >= filter->max_events) {
                rc = jl_error_set(err, JL_ELIMIT, "more than %zu events match", filter->max_events);
                break;
            }
            st_event *grown = jl_array_grow(events, &capacity, count + 1, sizeof *grown, 64);
            if (grown == NULL) {
                rc = jl_error_set(err, JL_ENOMEM, "out of memory listing events");
                break;
            }
            events = grown;
            events[count++] = e;
        }
        if (rc == JL_OK && mrc != MDB_NOTFOUND)
            rc = store_lmdb_error(err, mrc, "reading the events");
    }
    store_read_cursor_close(txn, cursor);
    pthread_rwlock_unlock(&store->map_lock);
    if (rc == JL_OK)
        rc = fill_keys(store, events, count, err);
    if (rc != JL_OK) {
        st_event_list_free(events, count);
        return rc;
    }
    *events_out = events;
    *count_out = count;
    return JL_OK;
}
