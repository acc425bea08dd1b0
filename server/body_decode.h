/* Request bodies sent with Content-Encoding: gzip (also x-gzip) or deflate, decoded with zlib as
 * they arrive, in pieces, so memory stays bounded by the limit on the DECOMPRESSED size: a small
 * body that inflates beyond it (a "gzip bomb") is stopped at the limit, never held whole.
 *
 * Caveats: a decoder belongs to one request; feed it in order. After it returned an error every
 * later call returns the same error. */
#ifndef JIALING_SERVER_BODY_DECODE_H
#define JIALING_SERVER_BODY_DECODE_H

#include "jialing/common.h"

typedef struct sv_body_decoder sv_body_decoder;

/* Chooses a decoder for a Content-Encoding header value (case-insensitive, surrounding blanks
 * ignored). NULL, "" and "identity" need none: JL_OK with *out NULL. "gzip", "x-gzip" and
 * "deflate" (zlib-wrapped as RFC 9110 says, or raw deflate as some clients send): JL_OK with a
 * decoder the caller frees with sv_body_decoder_free(). Anything else (several codings too):
 * JL_EMEDIATYPE (415) with a message naming it. JL_ENOMEM when out of memory. */
int sv_body_decoder_new(const char *encoding, sv_body_decoder **out, jl_error *err);

/* Decodes data[0..len) and appends what it yields to out. Returns JL_OK; JL_ETOOLARGE when out
 * would grow beyond max_bytes (out then holds at most max_bytes; drop it); JL_EINVAL when the
 * bytes are not a valid stream of the coding, with a message saying so; JL_ENOMEM. */
int sv_body_decoder_feed(sv_body_decoder *decoder, const void *data, size_t len, jl_buf *out,
                         size_t max_bytes, jl_error *err);

/* Says whether the body ended where the stream did: JL_OK, or JL_EINVAL for a truncated stream
 * (or the earlier error of a feed). */
int sv_body_decoder_finish(sv_body_decoder *decoder, jl_error *err);

/* Frees the decoder; NULL is ignored. */
void sv_body_decoder_free(sv_body_decoder *decoder);

#endif
