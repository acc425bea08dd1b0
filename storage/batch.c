/* The write batch parsers fill and storage consumes: distinct series keys (deduplicated through
 * an open-addressing hash table kept at most half full) and points as parallel arrays. Memory is
 * kept across st_batch_reset() so a connection reuses one batch without reallocating. */
#include "jialing/store.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MIN_HASH 64u
#define BATCH_MIN_SERIES 32u
#define BATCH_MIN_POINTS 256u
#define BATCH_MAX_HASH 0x80000000u /* largest power of two a uint32_t holds */

void st_batch_init(st_batch *batch)
{
    memset(batch, 0, sizeof *batch);
    jl_buf_init(&batch->keys);
}

void st_batch_destroy(st_batch *batch)
{
    jl_buf_destroy(&batch->keys);
    free(batch->key_offsets);
    free(batch->key_lengths);
    free(batch->hash_slots);
    free(batch->point_series);
    free(batch->point_ms);
    free(batch->point_values);
    free(batch->point_flags);
    st_batch_init(batch);
}

void st_batch_reset(st_batch *batch)
{
    batch->keys.len = 0;
    if (batch->keys.data)
        batch->keys.data[0] = '\0';
    if (batch->hash_slots)
        memset(batch->hash_slots, 0, (size_t)batch->hash_capacity * sizeof *batch->hash_slots);
    batch->series_count = 0;
    batch->point_count = 0;
}

/* Word-at-a-time multiplicative hash with a final avalanche; series keys share long prefixes
 * (metric and tag names), so every byte must reach the low bits used as the slot index. */
static uint64_t key_hash(const char *key, size_t len)
{
    const uint64_t mul = 0x9e3779b97f4a7c15ull;
    uint64_t h = 0x6a09e667f3bcc909ull ^ (len * 0xc2b2ae3d27d4eb4full);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ w) * mul;
        h ^= h >> 32;
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, key + i, len - i);
        h = (h ^ w) * mul;
        h ^= h >> 32;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

static int batch_grow_hash(st_batch *batch)
{
    uint32_t capacity = batch->hash_capacity ? batch->hash_capacity : BATCH_MIN_HASH / 2;
    if (capacity >= BATCH_MAX_HASH)
        return JL_ENOMEM;
    capacity *= 2;
    uint32_t *slots = calloc(capacity, sizeof *slots);
    if (slots == NULL)
        return JL_ENOMEM;
    uint32_t mask = capacity - 1;
    for (uint32_t s = 0; s < batch->series_count; s++) {
        size_t at =
            key_hash(batch->keys.data + batch->key_offsets[s], batch->key_lengths[s]) & mask;
        while (slots[at] != 0)
            at = (at + 1) & mask;
        slots[at] = s + 1;
    }
    free(batch->hash_slots);
    batch->hash_slots = slots;
    batch->hash_capacity = capacity;
    return JL_OK;
}

static int batch_grow_series(st_batch *batch)
{
    uint32_t capacity = batch->series_capacity ? batch->series_capacity : BATCH_MIN_SERIES / 2;
    /* Slots store index + 1, so the last usable index is UINT32_MAX - 1. */
    if (capacity > (UINT32_MAX - 1) / 2)
        return JL_ENOMEM;
    capacity *= 2;
    uint32_t *offsets = realloc(batch->key_offsets, (size_t)capacity * sizeof *offsets);
    if (offsets == NULL)
        return JL_ENOMEM;
    batch->key_offsets = offsets;
    uint32_t *lengths = realloc(batch->key_lengths, (size_t)capacity * sizeof *lengths);
    if (lengths == NULL)
        return JL_ENOMEM; /* offsets grew; capacity stays the old one, which is still true */
    batch->key_lengths = lengths;
    batch->series_capacity = capacity;
    return JL_OK;
}

int st_batch_series(st_batch *batch, const char *key, size_t len, uint32_t *index)
{
    uint64_t h = key_hash(key, len);
    if (batch->hash_capacity) {
        uint32_t mask = batch->hash_capacity - 1;
        size_t at = h & mask;
        uint32_t slot;
        while ((slot = batch->hash_slots[at]) != 0) {
            uint32_t s = slot - 1;
            if (batch->key_lengths[s] == len &&
                memcmp(batch->keys.data + batch->key_offsets[s], key, len) == 0) {
                *index = s;
                return JL_OK;
            }
            at = (at + 1) & mask;
        }
    }

    /* A new series: make room everywhere first so a failure leaves the batch consistent. */
    if (len > UINT32_MAX || batch->keys.len > (size_t)UINT32_MAX - 1 - len)
        return JL_ENOMEM;
    if (((uint64_t)batch->series_count + 1) * 2 > batch->hash_capacity) {
        if (batch_grow_hash(batch) != JL_OK)
            return JL_ENOMEM;
    }
    if (batch->series_count == batch->series_capacity) {
        if (batch_grow_series(batch) != JL_OK)
            return JL_ENOMEM;
    }
    if (jl_buf_reserve(&batch->keys, len + 1) != JL_OK)
        return JL_ENOMEM;

    uint32_t s = batch->series_count;
    batch->key_offsets[s] = (uint32_t)batch->keys.len;
    batch->key_lengths[s] = (uint32_t)len;
    if (len)
        memcpy(batch->keys.data + batch->keys.len, key, len);
    batch->keys.len += len;
    batch->keys.data[batch->keys.len++] = '\0';
    batch->keys.data[batch->keys.len] = '\0';

    uint32_t mask = batch->hash_capacity - 1;
    size_t at = h & mask;
    while (batch->hash_slots[at] != 0)
        at = (at + 1) & mask;
    batch->hash_slots[at] = s + 1;
    batch->series_count = s + 1;
    *index = s;
    return JL_OK;
}

static int batch_grow_points(st_batch *batch)
{
    size_t capacity = batch->point_capacity ? batch->point_capacity : BATCH_MIN_POINTS / 2;
    if (capacity > SIZE_MAX / 2 / sizeof(int64_t))
        return JL_ENOMEM;
    capacity *= 2;
    /* Each array is replaced as soon as it grows; point_capacity only moves when all four
     * have, so a failure part-way leaves a consistent (if larger) batch. */
    uint32_t *series = realloc(batch->point_series, capacity * sizeof *series);
    if (series == NULL)
        return JL_ENOMEM;
    batch->point_series = series;
    int64_t *ms = realloc(batch->point_ms, capacity * sizeof *ms);
    if (ms == NULL)
        return JL_ENOMEM;
    batch->point_ms = ms;
    double *values = realloc(batch->point_values, capacity * sizeof *values);
    if (values == NULL)
        return JL_ENOMEM;
    batch->point_values = values;
    uint8_t *flags = realloc(batch->point_flags, capacity * sizeof *flags);
    if (flags == NULL)
        return JL_ENOMEM;
    batch->point_flags = flags;
    batch->point_capacity = capacity;
    return JL_OK;
}

int st_batch_point(st_batch *batch, uint32_t index, int64_t ms, double value)
{
    return st_batch_point_flagged(batch, index, ms, value, JL_FLAG_N);
}

int st_batch_point_flagged(st_batch *batch, uint32_t index, int64_t ms, double value, uint8_t flag)
{
    assert(index < batch->series_count);
    assert(flag < JL_FLAG_COUNT);
    if (batch->point_count == batch->point_capacity) {
        if (batch_grow_points(batch) != JL_OK)
            return JL_ENOMEM;
    }
    size_t p = batch->point_count++;
    batch->point_series[p] = index;
    batch->point_ms[p] = ms;
    batch->point_values[p] = value;
    batch->point_flags[p] = flag;
    return JL_OK;
}
