/* Content-Encoding decoding of request bodies (server/body_decode.h) with zlib's inflate, one
 * fixed output piece at a time so that the decompressed size is checked before it is kept. */
#include "body_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define PIECE_BYTES (64 * 1024)

typedef enum coding { CODING_GZIP, CODING_DEFLATE } coding;

struct sv_body_decoder {
    z_stream z;
    coding coding;
    int started;           /* inflateInit2 done (deflate waits for its first two bytes) */
    int ended;             /* the stream (its last gzip member) ended */
    int status;            /* first error, then sticky */
    unsigned char head[2]; /* deflate: first bytes, to tell zlib-wrapped from raw */
    size_t head_len;
    char message[JL_ERROR_MESSAGE_MAX]; /* the sticky error's message */
};

int sv_body_decoder_new(const char *encoding, sv_body_decoder **out, jl_error *err)
{
    *out = NULL;
    if (encoding == NULL)
        return JL_OK;
    while (*encoding == ' ' || *encoding == '\t')
        encoding++;
    size_t len = strlen(encoding);
    while (len > 0 && (encoding[len - 1] == ' ' || encoding[len - 1] == '\t'))
        len--;
    coding c;
    if (len == 0 || (len == 8 && strncasecmp(encoding, "identity", 8) == 0))
        return JL_OK;
    if ((len == 4 && strncasecmp(encoding, "gzip", 4) == 0) ||
        (len == 6 && strncasecmp(encoding, "x-gzip", 6) == 0))
        c = CODING_GZIP;
    else if (len == 7 && strncasecmp(encoding, "deflate", 7) == 0)
        c = CODING_DEFLATE;
    else
        return jl_error_set(err, JL_EMEDIATYPE,
                            "Content-Encoding \"%.*s\" is not supported; send the body as is, "
                            "or with gzip or deflate",
                            (int)(len < 100 ? len : 100), encoding);
    sv_body_decoder *d = calloc(1, sizeof *d);
    if (d == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    d->coding = c;
    *out = d;
    return JL_OK;
}

static int fail(sv_body_decoder *d, int code, const char *message, jl_error *err)
{
    if (d->status == JL_OK) {
        d->status = code;
        snprintf(d->message, sizeof d->message, "%s", message);
    }
    return jl_error_set(err, d->status, "%s", d->message);
}

static int corrupt(sv_body_decoder *d, jl_error *err)
{
    char message[300];
    snprintf(message, sizeof message, "the request body is not valid %s data (%s)",
             d->coding == CODING_GZIP ? "gzip" : "deflate", d->z.msg ? d->z.msg : "corrupt");
    return fail(d, JL_EINVAL, message, err);
}

static int start(sv_body_decoder *d, jl_error *err)
{
    int bits = 15 + 16; /* gzip wrapper */
    if (d->coding == CODING_DEFLATE) {
        /* A zlib header: compression method 8 and a check making the first two bytes a multiple
         * of 31. Raw deflate (what some clients send for "deflate") has no header. */
        unsigned h = (unsigned)d->head[0] << 8 | d->head[1];
        bits = (d->head[0] & 0x0f) == 8 && h % 31 == 0 ? 15 : -15;
    }
    if (inflateInit2(&d->z, bits) != Z_OK)
        return fail(d, JL_ENOMEM, "out of memory starting to decompress the body", err);
    d->started = 1;
    return JL_OK;
}

/* Appends what one inflate call produced, refusing a body that would pass max_bytes. */
static int append_output(sv_body_decoder *d, const unsigned char *piece, size_t produced,
                         jl_buf *out, size_t max_bytes, jl_error *err)
{
    if (produced > max_bytes || out->len > max_bytes - produced) {
        char message[200];
        snprintf(message, sizeof message,
                 "request body exceeds the limit of %zu bytes after decompression", max_bytes);
        return fail(d, JL_ETOOLARGE, message, err);
    }
    if (produced && jl_buf_append(out, piece, produced) != JL_OK)
        return fail(d, JL_ENOMEM, "out of memory holding the body", err);
    return JL_OK;
}

/* Runs inflate over the input in d->z, appending output to out within max_bytes. */
static int inflate_input(sv_body_decoder *d, jl_buf *out, size_t max_bytes, jl_error *err)
{
    unsigned char piece[PIECE_BYTES];
    while (d->z.avail_in > 0) {
        if (d->ended) {
            /* gzip members may follow one another (RFC 1952 §2.2); anything else is junk. */
            if (d->coding != CODING_GZIP)
                return fail(d, JL_EINVAL, "the request body has bytes after its deflate stream",
                            err);
            if (inflateReset(&d->z) != Z_OK)
                return corrupt(d, err);
            d->ended = 0;
        }
        d->z.next_out = piece;
        d->z.avail_out = sizeof piece;
        int zrc = inflate(&d->z, Z_NO_FLUSH);
        if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR)
            return zrc == Z_MEM_ERROR ? fail(d, JL_ENOMEM, "out of memory decompressing", err)
                                      : corrupt(d, err);
        size_t produced = sizeof piece - d->z.avail_out;
        int rc = append_output(d, piece, produced, out, max_bytes, err);
        if (rc != JL_OK)
            return rc;
        if (zrc == Z_STREAM_END)
            d->ended = 1;
        else if (zrc == Z_BUF_ERROR && produced == 0)
            break; /* needs more input */
    }
    /* inflate may hold output back while input is used up: drain it. */
    while (!d->ended) {
        d->z.next_out = piece;
        d->z.avail_out = sizeof piece;
        int zrc = inflate(&d->z, Z_NO_FLUSH);
        size_t produced = sizeof piece - d->z.avail_out;
        if (zrc != Z_OK && zrc != Z_STREAM_END && zrc != Z_BUF_ERROR)
            return corrupt(d, err);
        int rc = append_output(d, piece, produced, out, max_bytes, err);
        if (rc != JL_OK)
            return rc;
        if (zrc == Z_STREAM_END)
            d->ended = 1;
        if (produced == 0)
            break;
    }
    return JL_OK;
}

int sv_body_decoder_feed(sv_body_decoder *d, const void *data, size_t len, jl_buf *out,
                         size_t max_bytes, jl_error *err)
{
    if (d->status != JL_OK)
        return jl_error_set(err, d->status, "%s", d->message);
    const unsigned char *p = data;
    if (!d->started && d->coding == CODING_DEFLATE) {
        /* Wait for two bytes to see which deflate it is; keep them for inflate. */
        while (d->head_len < 2 && len > 0) {
            d->head[d->head_len++] = *p++;
            len--;
        }
        if (d->head_len < 2)
            return JL_OK;
        int rc = start(d, err);
        if (rc != JL_OK)
            return rc;
        d->z.next_in = d->head;
        d->z.avail_in = 2;
        rc = inflate_input(d, out, max_bytes, err);
        if (rc != JL_OK)
            return rc;
    } else if (!d->started) {
        int rc = start(d, err);
        if (rc != JL_OK)
            return rc;
    }
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        d->z.next_in = (unsigned char *)p;
        d->z.avail_in = n;
        int rc = inflate_input(d, out, max_bytes, err);
        if (rc != JL_OK)
            return rc;
        p += n;
        len -= n;
    }
    return JL_OK;
}

int sv_body_decoder_finish(sv_body_decoder *d, jl_error *err)
{
    if (d->status != JL_OK)
        return jl_error_set(err, d->status, "%s", d->message);
    if (!d->ended) {
        char message[200];
        snprintf(message, sizeof message, "the request body is not valid %s data (%s)",
                 d->coding == CODING_GZIP ? "gzip" : "deflate",
                 d->started || d->head_len ? "the stream is truncated" : "it is empty");
        return fail(d, JL_EINVAL, message, err);
    }
    return JL_OK;
}

void sv_body_decoder_free(sv_body_decoder *d)
{
    if (d == NULL)
        return;
    if (d->started)
        inflateEnd(&d->z);
    free(d);
}
