/* The project's error table: every JL_E* code with its number, the text jl_strerror() gives and
 * the HTTP status the server answers with. One X-macro row per code; common.h builds the enum
 * from it, storage/common.c the texts and server/routes.c the statuses, so adding a code is one
 * row and the three can never disagree.
 *
 * Codes are negative and live in their own range (-30901 ...), beside LMDB's (-30799 ... -30780),
 * and keep their numbers forever: they are compared in tests and logged. A row's status is what a
 * client sees when a handler fails with that code; codes that only travel inside the process
 * (JL_ENOTFOUND as end of iteration) still have one, so no code is left unmapped. */
#ifndef JIALING_ERRORS_H
#define JIALING_ERRORS_H

/* X(name, number, text, http_status) */
#define JL_ERROR_TABLE(X)                                                                          \
    /* bad input: parse error, bad parameter */                                                    \
    X(JL_EINVAL, -30901, "invalid input", 400)                                                     \
    /* allocation failed */                                                                        \
    X(JL_ENOMEM, -30902, "out of memory", 500)                                                     \
    /* the operating system reported an I/O error */                                               \
    X(JL_EIO, -30903, "I/O error", 500)                                                            \
    /* the LMDB map is full: the store grows it and retries; refused only at its maximum size */   \
    X(JL_EFULL, -30904, "store full", 507)                                                         \
    /* bytes on disk failed validation */                                                          \
    X(JL_ECORRUPT, -30905, "corrupt data", 500)                                                    \
    /* no such item / end of iteration */                                                          \
    X(JL_ENOTFOUND, -30906, "not found", 404)                                                      \
    /* a configured limit was exceeded */                                                          \
    X(JL_ELIMIT, -30907, "limit exceeded", 422)                                                    \
    /* temporarily unable to serve (too many readers or connections, shutting down) */             \
    X(JL_EBUSY, -30908, "busy", 503)                                                               \
    /* another LMDB error; the message keeps LMDB's text */                                        \
    X(JL_ESTORE, -30909, "storage error", 500)                                                     \
    /* request body larger than allowed */                                                         \
    X(JL_ETOOLARGE, -30910, "too large", 413)                                                      \
    /* an operation ran past its time limit */                                                     \
    X(JL_ETIMEOUT, -30911, "timed out", 503)                                                       \
    /* missing or invalid credentials */                                                           \
    X(JL_EAUTH, -30912, "unauthorized", 401)                                                       \
    /* credentials valid but not allowed to do this */                                             \
    X(JL_EFORBIDDEN, -30913, "forbidden", 403)                                                     \
    /* the file system holding the data (or a backup) has no space left: writes refused until      \
     * space is freed, reads go on */                                                              \
    X(JL_EDISKFULL, -30914, "disk full", 507)                                                      \
    /* no endpoint at this path, or one that is not enabled in this server */                      \
    X(JL_ENOROUTE, -30915, "no such endpoint", 404)                                                \
    /* the endpoint exists but not for this HTTP method */                                         \
    X(JL_EMETHOD, -30916, "method not allowed", 405)                                               \
    /* the body is in an encoding (Content-Encoding) the server does not decode */                 \
    X(JL_EMEDIATYPE, -30917, "unsupported media type", 415)                                        \
    /* the request contradicts the stored state (a review mark withdrawn already) */               \
    X(JL_ECONFLICT, -30918, "conflict", 409)

/* The statuses of success (JL_OK; a write acknowledged without a body), and the status of a code
 * outside the table (a bug: an internal error). */
#define JL_STATUS_OK 200
#define JL_STATUS_NO_CONTENT 204
#define JL_STATUS_NOT_MODIFIED 304 /* a cached answer is still current (ETag) */
#define JL_STATUS_UNKNOWN 500
/* Status classes: from 400 the client is refused; from 500 the fault is the server's. */
#define JL_STATUS_CLIENT_ERRORS 400
#define JL_STATUS_SERVER_ERRORS 500

#endif
