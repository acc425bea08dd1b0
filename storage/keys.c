/* Key layouts of the chunks database and the lookups that depend on their order: the 16-byte
 * chunk key (series id, then the first timestamp, both sorting as unsigned bytes) and the floor
 * search that finds the chunk a timestamp belongs to. */
#include "store_internal.h"

void store_chunk_key(uint8_t key[CHUNK_KEY_BYTES], uint64_t id, int64_t first_ms)
{
    bytes_put_be64(key, id);
    bytes_put_be64(key + 8, (uint64_t)first_ms ^ 0x8000000000000000ull);
}

void store_chunk_key_parse(const uint8_t *key, uint64_t *id, int64_t *first_ms)
{
    *id = bytes_get_be64(key);
    *first_ms = (int64_t)(bytes_get_be64(key + 8) ^ 0x8000000000000000ull);
}

int store_chunk_floor(MDB_cursor *cursor, uint64_t id, int64_t ms, MDB_val *key, MDB_val *value)
{
    uint8_t probe[CHUNK_KEY_BYTES];
    uint64_t found_id;
    int64_t start;
    /* The floor is the entry before the first key past (id, ms). */
    if (ms == INT64_MAX)
        store_chunk_key(probe, id + 1, INT64_MIN);
    else
        store_chunk_key(probe, id, ms + 1);
    key->mv_size = CHUNK_KEY_BYTES;
    key->mv_data = probe;
    int rc = mdb_cursor_get(cursor, key, value, MDB_SET_RANGE);
    if (rc == 0)
        rc = mdb_cursor_get(cursor, key, value, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cursor, key, value, MDB_LAST);
    if (rc == 0) {
        store_chunk_key_parse(key->mv_data, &found_id, &start);
        if (found_id == id)
            return 0;
    } else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    /* No chunk of the series starts at or before ms: its first chunk, if any. */
    store_chunk_key(probe, id, ms);
    key->mv_size = CHUNK_KEY_BYTES;
    key->mv_data = probe;
    rc = mdb_cursor_get(cursor, key, value, MDB_SET_RANGE);
    if (rc != 0)
        return rc;
    store_chunk_key_parse(key->mv_data, &found_id, &start);
    return found_id == id ? 0 : MDB_NOTFOUND;
}
