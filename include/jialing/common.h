/* Jialing common definitions: error codes, the error struct every fallible function fills, a
 * growable byte buffer, and the time limits of the data model. Implemented in storage/common.c,
 * the lowest layer, so every module may use it.
 *
 * Caveats: a jl_buf owns its memory; jl_buf_destroy() frees it. Pointers into a jl_buf are invalid
 * after any call that appends to it. */
#ifndef JIALING_COMMON_H
#define JIALING_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "jialing/errors.h"

/* Project error codes: 0 is success, failures are negative and live in their own range; the
 * rows of JL_ERROR_TABLE (jialing/errors.h) give each its number, text and HTTP status. */
#define JL_ERROR_ENUM_ROW(name, number, text, status) name = number,
enum { JL_OK = 0, JL_ERROR_TABLE(JL_ERROR_ENUM_ROW) };
#undef JL_ERROR_ENUM_ROW

/* Timestamps are epoch milliseconds, limited to what InfluxDB's int64 nanoseconds can hold. */
#define JL_MIN_MS (-9223372036854LL)
#define JL_MAX_MS (9223372036854LL)

#define JL_ERROR_MESSAGE_MAX 512

/* Filled by a failing function: the code, a human message, and for text input the 1-based line
 * and column (0 when not applicable). */
typedef struct jl_error {
    int code;                           /* one of the JL_E* codes */
    long line;                          /* 1-based input line, 0 if none */
    long column;                        /* 1-based input column, 0 if none */
    char message[JL_ERROR_MESSAGE_MAX]; /* complete sentence for the user */
} jl_error;

/* Returns the table's text for code, "ok" for JL_OK, "unknown error" for a code outside the
 * table; a static string, never NULL. */
const char *jl_strerror(int code);

/* Clears err (code JL_OK, empty message); err may be NULL. */
void jl_error_clear(jl_error *err);

/* Sets code and a printf-style message on err (may be NULL); returns code for `return` chaining. */
int jl_error_set(jl_error *err, int code, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Growable byte buffer; zero-initialised or jl_buf_init()ed before use. */
typedef struct jl_buf {
    char *data;      /* owned; NUL-terminated after any append when len < cap */
    size_t len;      /* bytes used */
    size_t capacity; /* bytes allocated */
} jl_buf;

/* Initialises an empty buffer (no allocation). */
void jl_buf_init(jl_buf *buf);

/* Frees the buffer's memory and leaves it empty. */
void jl_buf_destroy(jl_buf *buf);

/* Ensures room for `more` further bytes plus a NUL; returns JL_OK or JL_ENOMEM. */
int jl_buf_reserve(jl_buf *buf, size_t more);

/* Returns items grown to hold at least `need` elements of item_size bytes (*capacity elements
 * now, doubling from `first`): items itself when it is large enough, or NULL when out of memory
 * (items and *capacity are then unchanged). */
void *jl_array_grow(void *items, size_t *capacity, size_t need, size_t item_size, size_t first);

/* Appends len bytes; returns JL_OK or JL_ENOMEM. */
int jl_buf_append(jl_buf *buf, const void *bytes, size_t len);

/* Appends a NUL-terminated string; returns JL_OK or JL_ENOMEM. */
int jl_buf_append_str(jl_buf *buf, const char *text);

/* Appends printf-formatted text; returns JL_OK or JL_ENOMEM. */
int jl_buf_printf(jl_buf *buf, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Reads the whole file at path into *out (initialised here, NUL-terminated; the caller destroys
 * it), refusing one over limit_bytes (SIZE_MAX: no limit). Errors name the file as "<what> file
 * <path>": JL_EIO (cannot open or read), JL_ENOMEM, JL_EINVAL (over the limit); *out is then
 * empty. */
int jl_read_file(const char *path, const char *what, size_t limit_bytes, jl_buf *out,
                 jl_error *err);

/* Returns the current time in epoch milliseconds (CLOCK_REALTIME). */
int64_t jl_now_ms(void);

/* Returns a monotonic clock reading in nanoseconds, for measuring durations. */
int64_t jl_monotonic_ns(void);

/* Returns the CLOCK_REALTIME instant wait_ms (>= 0) from now, as pthread_cond_timedwait() takes
 * it. */
struct timespec jl_deadline_after_ms(int64_t wait_ms);

#endif
