/* Error texts (from the table in jialing/errors.h), error struct helpers, the growable buffer and
 * clocks shared by every module. */
#include "jialing/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *jl_strerror(int code)
{
#define JL_ERROR_TEXT_CASE(name, number, text, status)                                             \
    case name:                                                                                     \
        return text;
    switch (code) {
    case JL_OK:
        return "ok";
        JL_ERROR_TABLE(JL_ERROR_TEXT_CASE)
    default:
        return "unknown error";
    }
#undef JL_ERROR_TEXT_CASE
}

void jl_error_clear(jl_error *err)
{
    if (err == NULL)
        return;
    err->code = JL_OK;
    err->line = 0;
    err->column = 0;
    err->message[0] = '\0';
}

int jl_error_set(jl_error *err, int code, const char *format, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list args;
    va_start(args, format);
    vsnprintf(err->message, sizeof err->message, format, args);
    va_end(args);
    return code;
}

void jl_buf_init(jl_buf *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->capacity = 0;
}

void jl_buf_destroy(jl_buf *buf)
{
    free(buf->data);
    jl_buf_init(buf);
}

void *jl_array_grow(void *items, size_t *capacity, size_t need, size_t item_size, size_t first)
{
    if (need <= *capacity && items != NULL)
        return items;
    size_t grown_capacity = *capacity ? *capacity : first;
    while (grown_capacity < need)
        grown_capacity *= 2;
    if (grown_capacity > SIZE_MAX / item_size)
        return NULL;
    void *grown = realloc(items, grown_capacity * item_size);
    if (grown != NULL)
        *capacity = grown_capacity;
    return grown;
}

int jl_buf_reserve(jl_buf *buf, size_t more)
{
    if (more > SIZE_MAX / 2 - buf->len)
        return JL_ENOMEM;
    size_t needed = buf->len + more + 1;
    if (needed <= buf->capacity)
        return JL_OK;
    size_t capacity = buf->capacity ? buf->capacity : 256;
    while (capacity < needed)
        capacity *= 2;
    char *grown = realloc(buf->data, capacity);
    if (grown == NULL)
        return JL_ENOMEM;
    buf->data = grown;
    buf->capacity = capacity;
    return JL_OK;
}

int jl_buf_append(jl_buf *buf, const void *bytes, size_t len)
{
    if (jl_buf_reserve(buf, len) != JL_OK)
        return JL_ENOMEM;
    if (len)
        memcpy(buf->data + buf->len, bytes, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return JL_OK;
}

int jl_buf_append_str(jl_buf *buf, const char *text)
{
    return jl_buf_append(buf, text, strlen(text));
}

int jl_buf_printf(jl_buf *buf, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char small[256];
    int needed = vsnprintf(small, sizeof small, format, args);
    va_end(args);
    if (needed < 0)
        return JL_EINVAL;
    if ((size_t)needed < sizeof small)
        return jl_buf_append(buf, small, (size_t)needed);
    if (jl_buf_reserve(buf, (size_t)needed) != JL_OK)
        return JL_ENOMEM;
    va_start(args, format);
    vsnprintf(buf->data + buf->len, (size_t)needed + 1, format, args);
    va_end(args);
    buf->len += (size_t)needed;
    return JL_OK;
}

int jl_read_file(const char *path, const char *what, size_t limit_bytes, jl_buf *out, jl_error *err)
{
    enum { CHUNK = 65536 };
    jl_buf_init(out);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return jl_error_set(err, JL_EIO, "cannot open %s file %s: %s", what, path, strerror(errno));
    int rc = JL_OK;
    for (;;) {
        if (jl_buf_reserve(out, CHUNK) != JL_OK) {
            rc = jl_error_set(err, JL_ENOMEM, "out of memory reading %s file %s", what, path);
            break;
        }
        size_t got = fread(out->data + out->len, 1, CHUNK, f);
        out->len += got;
        if (out->len > limit_bytes) {
            rc = jl_error_set(err, JL_EINVAL, "%s file %s is larger than %zu MiB", what, path,
                              limit_bytes >> 20);
            break;
        }
        if (got < CHUNK) {
            if (ferror(f))
                rc = jl_error_set(err, JL_EIO, "cannot read %s file %s", what, path);
            break;
        }
    }
    fclose(f);
    if (rc != JL_OK) {
        jl_buf_destroy(out);
        return rc;
    }
    out->data[out->len] = '\0';
    return JL_OK;
}

int64_t jl_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

struct timespec jl_deadline_after_ms(int64_t wait_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    return until;
}

int64_t jl_monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}
