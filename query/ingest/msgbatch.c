/* The msgpack columnar batch: {"series":[{"metric":s,"tags":{s:s},"t":[int ms],"v":[num]}]} into
 * an st_batch, with an optional "f":[one-letter string] beside "t" and "v": each reading's HJ
 * 212 data flag (jialing/flag.h; absent: N). Errors name the series index and the field, e.g.
 * "series[2].v[17] is NaN".
 *
 * msgpack-c allocates every array's elements as soon as it reads the array header, before it
 * knows whether the bytes are there, so a five-byte body could ask for gigabytes. The body is
 * therefore walked once first (mb_prescan) to check that every declared length fits in what is
 * left of the body and that nesting is shallow; only then is it unpacked. */
#include "jialing/flag.h"
#include "jialing/ingest.h"
#include "jialing/serieskey.h"

#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#define MB_MAX_DEPTH 24 /* below msgpack-c's own limit of 32, whose failure looks like ENOMEM */

static uint64_t mb_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Layout of the msgpack types 0xc4..0xdf: length bytes after the type byte, fixed payload
 * bytes, and 1 for an array or 2 for a map (whose length counts pairs). */
static const unsigned char mb_layout[28][3] = {
    {1, 0, 0},  /* c4 bin8 */
    {2, 0, 0},  /* c5 bin16 */
    {4, 0, 0},  /* c6 bin32 */
    {1, 1, 0},  /* c7 ext8: the type byte follows the length */
    {2, 1, 0},  /* c8 ext16 */
    {4, 1, 0},  /* c9 ext32 */
    {0, 4, 0},  /* ca float32 */
    {0, 8, 0},  /* cb float64 */
    {0, 1, 0},  /* cc uint8 */
    {0, 2, 0},  /* cd uint16 */
    {0, 4, 0},  /* ce uint32 */
    {0, 8, 0},  /* cf uint64 */
    {0, 1, 0},  /* d0 int8 */
    {0, 2, 0},  /* d1 int16 */
    {0, 4, 0},  /* d2 int32 */
    {0, 8, 0},  /* d3 int64 */
    {0, 2, 0},  /* d4 fixext1 */
    {0, 3, 0},  /* d5 fixext2 */
    {0, 5, 0},  /* d6 fixext4 */
    {0, 9, 0},  /* d7 fixext8 */
    {0, 17, 0}, /* d8 fixext16 */
    {1, 0, 0},  /* d9 str8 */
    {2, 0, 0},  /* da str16 */
    {4, 0, 0},  /* db str32 */
    {2, 0, 1},  /* dc array16 */
    {4, 0, 1},  /* dd array32 */
    {2, 0, 2},  /* de map16 */
    {4, 0, 2},  /* df map32 */
};

/* Checks that body[0..len) is exactly one complete msgpack value whose declared lengths are
 * plausible, so unpacking allocates at most a small multiple of len. */
static int mb_prescan(const unsigned char *body, size_t len, jl_error *err)
{
    uint64_t pending[MB_MAX_DEPTH + 1]; /* values still to read in each open container */
    size_t depth = 1, pos = 0;
    pending[0] = 1;
    if (len == 0)
        return jl_error_set(err, JL_EINVAL, "the msgpack body is empty");
    while (depth > 0) {
        if (pending[depth - 1] == 0) {
            depth--;
            continue;
        }
        pending[depth - 1]--;
        if (pos >= len)
            goto truncated;
        unsigned char b = body[pos++];
        uint64_t skip = 0, items = 0; /* payload bytes; values in a container */
        size_t head = 0;              /* length bytes after the type byte */
        int container = 0;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, booleans: nothing follows */
        } else if (b >= 0x80 && b <= 0x8f) {
            items = 2u * (b & 0x0f);
            container = 1;
        } else if (b >= 0x90 && b <= 0x9f) {
            items = b & 0x0f;
            container = 1;
        } else if (b >= 0xa0 && b <= 0xbf) {
            skip = b & 0x1f;
        } else if (b >= 0xc4) {
            const unsigned char *layout = mb_layout[b - 0xc4];
            head = layout[0];
            skip = layout[1];
            container = layout[2];
        } else {
            return jl_error_set(err, JL_EINVAL,
                                "the body is not valid msgpack: byte 0x%02x at offset %zu starts "
                                "no value",
                                b, pos - 1);
        }
        if (head) {
            if (len - pos < head)
                goto truncated;
            uint64_t n = mb_be(body + pos, head);
            pos += head;
            if (container == 1)
                items = n;
            else if (container == 2)
                items = 2 * n;
            else
                skip += n;
        }
        if (skip > len - pos)
            goto truncated;
        pos += (size_t)skip;
        if (container && items > 0) {
            if (items > len - pos) /* every value takes at least one byte */
                goto truncated;
            if (depth > MB_MAX_DEPTH)
                return jl_error_set(err, JL_EINVAL,
                                    "the msgpack body nests containers more than %d levels deep",
                                    MB_MAX_DEPTH);
            pending[depth++] = items;
        }
    }
    if (pos != len)
        return jl_error_set(err, JL_EINVAL,
                            "the msgpack body has %zu extra bytes after its first value",
                            len - pos);
    return JL_OK;
truncated:
    return jl_error_set(err, JL_EINVAL,
                        "the msgpack body is truncated: it ends in the middle of a value (%zu "
                        "bytes)",
                        len);
}

static const char *mb_type_name(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "an integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "a float";
    case MSGPACK_OBJECT_STR:
        return "a string";
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    case MSGPACK_OBJECT_BIN:
        return "binary data";
    case MSGPACK_OBJECT_EXT:
        return "an extension value";
    }
    return "an unknown value";
}

static int mb_key_is(const msgpack_object *key, const char *name)
{
    size_t n = strlen(name);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == n &&
           memcmp(key->via.str.ptr, name, n) == 0;
}

#define NAME_RULE                                                                                  \
    "names start with a letter or '_' and contain only letters, digits, '_', '.' and '-'"

/* Reads series[i].f[j], which must be one HJ 212 flag letter, into *flag. */
static int mb_flag(size_t i, uint32_t j, const msgpack_object *of, uint8_t *flag, jl_error *err)
{
    if (of->type != MSGPACK_OBJECT_STR)
        return jl_error_set(err, JL_EINVAL, "series[%zu].f[%u] is %s, not a string", i, j,
                            mb_type_name(of));
    int code = of->via.str.size == 1 ? jl_flag_from_letter(of->via.str.ptr[0]) : -1;
    if (code < 0) {
        char q[64];
        sk_quote(of->via.str.ptr, of->via.str.size, q, sizeof q);
        return jl_error_set(err, JL_EINVAL,
                            "series[%zu].f[%u] is \"%s\"; a flag is one of the HJ 212 letters N F "
                            "M S D C T B",
                            i, j, q);
    }
    *flag = (uint8_t)code;
    return JL_OK;
}

/* Adds series number i of the batch; key is scratch for the series key. */
static int mb_series(size_t i, const msgpack_object *s, st_batch *batch, jl_buf *key, jl_error *err)
{
    char q[128];
    if (s->type != MSGPACK_OBJECT_MAP)
        return jl_error_set(err, JL_EINVAL, "series[%zu] is %s, not a map", i, mb_type_name(s));
    const msgpack_object *metric = NULL, *tags = NULL, *t = NULL, *v = NULL, *f = NULL;
    for (uint32_t k = 0; k < s->via.map.size; k++) {
        const msgpack_object_kv *kv = &s->via.map.ptr[k];
        const msgpack_object **slot = mb_key_is(&kv->key, "metric") ? &metric
                                      : mb_key_is(&kv->key, "tags") ? &tags
                                      : mb_key_is(&kv->key, "t")    ? &t
                                      : mb_key_is(&kv->key, "v")    ? &v
                                      : mb_key_is(&kv->key, "f")    ? &f
                                                                    : NULL;
        if (slot == NULL)
            continue; /* unknown keys are ignored so clients may send more */
        if (*slot != NULL)
            return jl_error_set(err, JL_EINVAL, "series[%zu] has the key \"%.*s\" more than once",
                                i, (int)kv->key.via.str.size, kv->key.via.str.ptr);
        *slot = &kv->val;
    }
    if (metric == NULL)
        return jl_error_set(err, JL_EINVAL, "series[%zu] has no \"metric\"", i);
    if (metric->type != MSGPACK_OBJECT_STR)
        return jl_error_set(err, JL_EINVAL, "series[%zu].metric is %s, not a string", i,
                            mb_type_name(metric));
    sk_text name = {metric->via.str.ptr, metric->via.str.size};
    if (!sk_name_valid(name.data, name.len)) {
        sk_quote(name.data, name.len, q, sizeof q);
        if (name.len > SK_MAX_NAME_BYTES)
            return jl_error_set(err, JL_EINVAL, "series[%zu].metric \"%s\" is longer than %d bytes",
                                i, q, SK_MAX_NAME_BYTES);
        return jl_error_set(err, JL_EINVAL,
                            "series[%zu].metric \"%s\" is not a valid metric name; %s", i, q,
                            NAME_RULE);
    }

    sk_tag list[SK_MAX_TAGS];
    size_t ntags = 0;
    if (tags != NULL && tags->type != MSGPACK_OBJECT_NIL) {
        if (tags->type != MSGPACK_OBJECT_MAP)
            return jl_error_set(err, JL_EINVAL, "series[%zu].tags is %s, not a map", i,
                                mb_type_name(tags));
        if (tags->via.map.size > SK_MAX_TAGS)
            return jl_error_set(err, JL_EINVAL,
                                "series[%zu].tags has %u tags; at most %d are allowed", i,
                                tags->via.map.size, SK_MAX_TAGS);
        for (uint32_t k = 0; k < tags->via.map.size; k++) {
            const msgpack_object *tk = &tags->via.map.ptr[k].key;
            const msgpack_object *tv = &tags->via.map.ptr[k].val;
            if (tk->type != MSGPACK_OBJECT_STR)
                return jl_error_set(err, JL_EINVAL,
                                    "series[%zu].tags has a key that is %s, not a "
                                    "string",
                                    i, mb_type_name(tk));
            int key_ok = sk_name_valid(tk->via.str.ptr, tk->via.str.size);
            int value_ok =
                tv->type == MSGPACK_OBJECT_STR && sk_value_valid(tv->via.str.ptr, tv->via.str.size);
            if (!key_ok || !value_ok) {
                sk_quote(tk->via.str.ptr, tk->via.str.size, q, sizeof q);
                if (!key_ok)
                    return jl_error_set(
                        err, JL_EINVAL, "series[%zu].tags key \"%s\" is not a valid tag key; %s%s",
                        i, q, NAME_RULE,
                        tk->via.str.size > SK_MAX_NAME_BYTES ? ", and at most 256 bytes long" : "");
                if (tv->type != MSGPACK_OBJECT_STR)
                    return jl_error_set(err, JL_EINVAL,
                                        "series[%zu].tags[\"%s\"] is %s, not a string", i, q,
                                        mb_type_name(tv));
                return jl_error_set(err, JL_EINVAL, "series[%zu].tags[\"%s\"] %s", i, q,
                                    sk_value_problem(tv->via.str.ptr, tv->via.str.size));
            }
            list[ntags].key.data = tk->via.str.ptr;
            list[ntags].key.len = tk->via.str.size;
            list[ntags].value.data = tv->via.str.ptr;
            list[ntags].value.len = tv->via.str.size;
            ntags++;
        }
    }
    key->len = 0;
    jl_error local;
    int rc = sk_build(name, list, ntags, key, &local);
    if (rc != JL_OK)
        return jl_error_set(err, rc, "series[%zu]: %s", i, local.message);

    if (t == NULL || v == NULL)
        return jl_error_set(err, JL_EINVAL, "series[%zu] has no \"%s\" array", i,
                            t == NULL ? "t" : "v");
    if (t->type != MSGPACK_OBJECT_ARRAY)
        return jl_error_set(err, JL_EINVAL, "series[%zu].t is %s, not an array", i,
                            mb_type_name(t));
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return jl_error_set(err, JL_EINVAL, "series[%zu].v is %s, not an array", i,
                            mb_type_name(v));
    if (t->via.array.size != v->via.array.size)
        return jl_error_set(err, JL_EINVAL,
                            "series[%zu] has %u timestamps in \"t\" but %u values in \"v\"; they "
                            "must pair up",
                            i, t->via.array.size, v->via.array.size);
    if (f != NULL && f->type != MSGPACK_OBJECT_ARRAY)
        return jl_error_set(err, JL_EINVAL, "series[%zu].f is %s, not an array", i,
                            mb_type_name(f));
    if (f != NULL && f->via.array.size != t->via.array.size)
        return jl_error_set(err, JL_EINVAL,
                            "series[%zu] has %u timestamps in \"t\" but %u flags in \"f\"; they "
                            "must pair up",
                            i, t->via.array.size, f->via.array.size);
    if (t->via.array.size == 0)
        return JL_OK;

    uint32_t index;
    if (st_batch_series(batch, key->data, key->len, &index) != JL_OK)
        return jl_error_set(err, JL_ENOMEM, "out of memory at series[%zu]", i);
    for (uint32_t j = 0; j < t->via.array.size; j++) {
        const msgpack_object *ot = &t->via.array.ptr[j], *ov = &v->via.array.ptr[j];
        int64_t ms;
        if (ot->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            if (ot->via.u64 > (uint64_t)JL_MAX_MS)
                return jl_error_set(err, JL_EINVAL,
                                    "series[%zu].t[%u] is %" PRIu64
                                    ", out of range; timestamps are milliseconds between %lld "
                                    "and %lld",
                                    i, j, ot->via.u64, JL_MIN_MS, JL_MAX_MS);
            ms = (int64_t)ot->via.u64;
        } else if (ot->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            if (ot->via.i64 < JL_MIN_MS)
                return jl_error_set(err, JL_EINVAL,
                                    "series[%zu].t[%u] is %" PRId64
                                    ", out of range; timestamps are milliseconds between %lld "
                                    "and %lld",
                                    i, j, ot->via.i64, JL_MIN_MS, JL_MAX_MS);
            ms = ot->via.i64;
        } else {
            return jl_error_set(err, JL_EINVAL,
                                "series[%zu].t[%u] is %s, not an integer (milliseconds)", i, j,
                                mb_type_name(ot));
        }
        double value;
        if (ov->type == MSGPACK_OBJECT_FLOAT64 || ov->type == MSGPACK_OBJECT_FLOAT32)
            value = ov->via.f64;
        else if (ov->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            value = (double)ov->via.u64;
        else if (ov->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            value = (double)ov->via.i64;
        else
            return jl_error_set(err, JL_EINVAL, "series[%zu].v[%u] is %s, not a number", i, j,
                                mb_type_name(ov));
        if (isnan(value))
            return jl_error_set(err, JL_EINVAL, "series[%zu].v[%u] is NaN", i, j);
        if (isinf(value))
            return jl_error_set(err, JL_EINVAL, "series[%zu].v[%u] is infinite", i, j);
        uint8_t flag = JL_FLAG_N;
        if (f != NULL && mb_flag(i, j, &f->via.array.ptr[j], &flag, err) != JL_OK)
            return JL_EINVAL;
        if (st_batch_point_flagged(batch, index, ms, value, flag) != JL_OK)
            return jl_error_set(err, JL_ENOMEM, "out of memory at series[%zu]", i);
    }
    return JL_OK;
}

int ig_parse_msgpack(const char *body, size_t len, st_batch *batch, jl_error *err)
{
    jl_error_clear(err);
    int rc = mb_prescan((const unsigned char *)body, len, err);
    if (rc != JL_OK)
        return rc;

    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    jl_buf key;
    jl_buf_init(&key);
    size_t offset = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&unpacked, body, len, &offset);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory decoding the msgpack body");
        goto out;
    }
    if (ur != MSGPACK_UNPACK_SUCCESS) {
        /* mb_prescan accepted it, so this is a disagreement with msgpack-c, still bad input. */
        rc = jl_error_set(err, JL_EINVAL, "the msgpack body could not be decoded");
        goto out;
    }
    const msgpack_object *root = &unpacked.data;
    if (root->type != MSGPACK_OBJECT_MAP) {
        rc = jl_error_set(err, JL_EINVAL,
                          "the msgpack body is %s; expected a map {\"series\": [...]}",
                          mb_type_name(root));
        goto out;
    }
    const msgpack_object *series = NULL;
    for (uint32_t k = 0; k < root->via.map.size; k++) {
        if (!mb_key_is(&root->via.map.ptr[k].key, "series"))
            continue;
        if (series != NULL) {
            rc = jl_error_set(err, JL_EINVAL, "the msgpack map has the key \"series\" twice");
            goto out;
        }
        series = &root->via.map.ptr[k].val;
    }
    if (series == NULL) {
        rc = jl_error_set(err, JL_EINVAL, "the msgpack map has no \"series\" key");
        goto out;
    }
    if (series->type != MSGPACK_OBJECT_ARRAY) {
        rc = jl_error_set(err, JL_EINVAL, "\"series\" is %s, not an array", mb_type_name(series));
        goto out;
    }
    for (uint32_t i = 0; i < series->via.array.size; i++) {
        rc = mb_series(i, &series->via.array.ptr[i], batch, &key, err);
        if (rc != JL_OK)
            goto out;
    }
    rc = JL_OK;
out:
    jl_buf_destroy(&key);
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}
