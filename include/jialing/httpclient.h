/* A minimal blocking HTTP/1.1 client over POSIX sockets, for the `jialing` CLI, the bench load
 * client and the end-to-end tests. One hc_conn is one persistent (keep-alive) TCP connection to
 * one host:port; requests on it run one at a time. Response bodies framed by Content-Length,
 * chunked transfer coding or connection close are read whole into the caller's jl_buf.
 *
 * Caveats: an hc_conn belongs to one thread at a time. When a reused keep-alive connection turns
 * out to be closed by the server before any byte of the response arrived, hc_request()
 * reconnects and sends the request once more; callers must therefore only send requests that are
 * safe to repeat (Jialing's writes are idempotent: last write wins). No TLS, no redirects, no
 * proxies. SIGPIPE is never raised (MSG_NOSIGNAL). */
#ifndef JIALING_HTTPCLIENT_H
#define JIALING_HTTPCLIENT_H

#include "jialing/common.h"

typedef struct hc_conn hc_conn;

#define HC_DEFAULT_TIMEOUT_MS 60000 /* per connect, per send and per wait for response bytes */
#define HC_MAX_HOST_BYTES 256

/* Resolves host (name or address) and connects to it on port. The connection starts with
 * HC_DEFAULT_TIMEOUT_MS. Returns JL_OK and sets *out (free with hc_close()), or JL_EINVAL (bad
 * host/port), JL_EIO (resolution or connection failed; the message names host, port and reason),
 * JL_ETIMEOUT or JL_ENOMEM. */
int hc_connect(const char *host, int port, hc_conn **out, jl_error *err);

/* Sets the inactivity limit in milliseconds (> 0) for connecting, sending and each wait for
 * response bytes on this connection. */
void hc_set_timeout(hc_conn *conn, int timeout_ms);

/* Closes the socket and frees the connection; NULL is ignored. */
void hc_close(hc_conn *conn);

/* Sends one request and reads the whole response.
 *   method:        "GET", "POST", "HEAD", ... (required)
 *   path:          request target starting with '/', query string included (required; the caller
 *                  percent-encodes it)
 *   content_type:  Content-Type header value, or NULL for none
 *   body/body_len: request body (may be NULL when body_len is 0); Content-Length is always sent
 *                  for methods other than GET and HEAD
 *   extra_headers: further header lines, each ending in "\r\n" (e.g. "Authorization: Bearer
 *                  x\r\n"), or NULL
 *   *status:       set to the response status code (100-599)
 *   response:      the body is appended to it after it is reset to length 0 (caller owns it)
 * Returns JL_OK for any well-formed response whatever its status, JL_EIO when the connection
 * failed (after the single retry described above), JL_ETIMEOUT, JL_ECORRUPT for a malformed
 * response, JL_ENOMEM, or JL_EINVAL for bad arguments. After an error the connection is closed
 * and the next request reconnects. */
int hc_request(hc_conn *conn, const char *method, const char *path, const char *content_type,
               const void *body, size_t body_len, const char *extra_headers, int *status,
               jl_buf *response, jl_error *err);

/* Splits "http://host:port[/prefix]" into host (at most host_size bytes with NUL) and port
 * (default 80 when absent); an IPv6 literal is written "[::1]". A path after the authority is
 * accepted only when it is "/" or empty, since every API path is absolute. Returns JL_OK or
 * JL_EINVAL with a message. */
int hc_parse_url(const char *url, char *host, size_t host_size, int *port, jl_error *err);

/* Appends text to out percent-encoded for use in a query string (unreserved characters kept).
 * Returns JL_OK or JL_ENOMEM. */
int hc_append_query_escaped(jl_buf *out, const char *text);

#endif
