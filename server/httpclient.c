/* The blocking HTTP/1.1 client of include/jialing/httpclient.h: one persistent TCP connection per
 * hc_conn, non-blocking socket driven by poll() so every wait has a time limit, responses framed
 * by Content-Length, chunked coding or connection close. Owns no global state. */
#include "jialing/httpclient.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>

#define HC_INBUF_BYTES 65536 /* also the longest status, header or chunk-size line accepted */

struct hc_conn {
    char host[HC_MAX_HOST_BYTES]; /* as given, brackets of an IPv6 literal removed */
    int port;
    int fd;               /* -1 when not connected */
    int timeout_ms;       /* inactivity limit per wait */
    unsigned long served; /* responses read on the current socket */
    size_t in_start;      /* unread bytes are inbuf[in_start..in_end) */
    size_t in_end;
    char inbuf[HC_INBUF_BYTES];
};

static void conn_drop(hc_conn *conn)
{
    if (conn->fd >= 0)
        close(conn->fd);
    conn->fd = -1;
    conn->served = 0;
    conn->in_start = conn->in_end = 0;
}

/* Waits until fd is ready for `events`; JL_OK, JL_ETIMEOUT or JL_EIO. */
static int wait_fd(hc_conn *conn, short events, jl_error *err)
{
    struct pollfd pfd = {.fd = conn->fd, .events = events};
    for (;;) {
        int n = poll(&pfd, 1, conn->timeout_ms);
        if (n > 0)
            return JL_OK;
        if (n == 0)
            return jl_error_set(err, JL_ETIMEOUT, "no progress from %s:%d within %d ms", conn->host,
                                conn->port, conn->timeout_ms);
        if (errno != EINTR)
            return jl_error_set(err, JL_EIO, "poll failed: %s", strerror(errno));
    }
}

static int open_socket(hc_conn *conn, jl_error *err)
{
    struct addrinfo hints = {0}, *list = NULL;
    char port_text[16];
    int rc = JL_EIO;
    int last_errno = 0;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port_text, sizeof port_text, "%d", conn->port);
    int gai = getaddrinfo(conn->host, port_text, &hints, &list);
    if (gai != 0)
        return jl_error_set(err, JL_EIO, "cannot resolve host '%s': %s", conn->host,
                            gai_strerror(gai));

    for (struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        conn->fd = fd;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                last_errno = errno;
                conn_drop(conn);
                continue;
            }
            rc = wait_fd(conn, POLLOUT, err);
            if (rc == JL_ETIMEOUT) {
                last_errno = ETIMEDOUT;
                conn_drop(conn);
                continue;
            }
            int so_error = 0;
            socklen_t so_len = sizeof so_error;
            if (rc != JL_OK || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len) != 0 ||
                so_error != 0) {
                last_errno = so_error ? so_error : errno;
                conn_drop(conn);
                continue;
            }
        }
        /* Requests are written in one go and waited on: Nagle would only add latency. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn->served = 0;
        conn->in_start = conn->in_end = 0;
        rc = JL_OK;
        goto out;
    }
    rc = jl_error_set(err, last_errno == ETIMEDOUT ? JL_ETIMEOUT : JL_EIO,
                      "cannot connect to %s:%d: %s", conn->host, conn->port,
                      strerror(last_errno ? last_errno : ECONNREFUSED));
out:
    freeaddrinfo(list);
    return rc;
}

int hc_connect(const char *host, int port, hc_conn **out, jl_error *err)
{
    *out = NULL;
    if (host == NULL || host[0] == '\0' || port <= 0 || port > 65535)
        return jl_error_set(err, JL_EINVAL, "bad host or port");
    size_t len = strlen(host);
    if (host[0] == '[' && len >= 2 && host[len - 1] == ']') {
        host++;
        len -= 2;
    }
    if (len >= HC_MAX_HOST_BYTES)
        return jl_error_set(err, JL_EINVAL, "host name too long");
    hc_conn *conn = malloc(sizeof *conn);
    if (conn == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    memcpy(conn->host, host, len);
    conn->host[len] = '\0';
    conn->port = port;
    conn->fd = -1;
    conn->timeout_ms = HC_DEFAULT_TIMEOUT_MS;
    conn->served = 0;
    conn->in_start = conn->in_end = 0;
    int rc = open_socket(conn, err);
    if (rc != JL_OK) {
        free(conn);
        return rc;
    }
    *out = conn;
    return JL_OK;
}

void hc_set_timeout(hc_conn *conn, int timeout_ms)
{
    if (conn != NULL && timeout_ms > 0)
        conn->timeout_ms = timeout_ms;
}

void hc_close(hc_conn *conn)
{
    if (conn == NULL)
        return;
    conn_drop(conn);
    free(conn);
}

/* Sends all of iov; JL_OK, JL_EIO (with the errno in *sys_errno) or JL_ETIMEOUT. */
static int send_all(hc_conn *conn, struct iovec *iov, int iov_count, int *sys_errno, jl_error *err)
{
    while (iov_count > 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iov_count};
        ssize_t n = sendmsg(conn->fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                int rc = wait_fd(conn, POLLOUT, err);
                if (rc != JL_OK)
                    return rc;
                continue;
            }
            *sys_errno = errno;
            return jl_error_set(err, JL_EIO, "sending to %s:%d failed: %s", conn->host, conn->port,
                                strerror(errno));
        }
        size_t done = (size_t)n;
        while (iov_count > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            iov_count--;
        }
        if (iov_count > 0) {
            iov->iov_base = (char *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return JL_OK;
}

/* Reads more bytes into inbuf (compacting it first). Returns the number read (> 0), 0 at end of
 * stream, or a negative JL_* code. */
static long fill(hc_conn *conn, jl_error *err)
{
    if (conn->in_start > 0) {
        memmove(conn->inbuf, conn->inbuf + conn->in_start, conn->in_end - conn->in_start);
        conn->in_end -= conn->in_start;
        conn->in_start = 0;
    }
    if (conn->in_end == sizeof conn->inbuf)
        return jl_error_set(err, JL_ECORRUPT, "response line longer than %d bytes", HC_INBUF_BYTES);
    for (;;) {
        ssize_t n =
            recv(conn->fd, conn->inbuf + conn->in_end, sizeof conn->inbuf - conn->in_end, 0);
        if (n > 0) {
            conn->in_end += (size_t)n;
            return (long)n;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int rc = wait_fd(conn, POLLIN, err);
            if (rc != JL_OK)
                return rc;
            continue;
        }
        if (errno == ECONNRESET)
            return 0; /* treated as a close: the caller decides whether it was premature */
        return jl_error_set(err, JL_EIO, "receiving from %s:%d failed: %s", conn->host, conn->port,
                            strerror(errno));
    }
}

/* Returns in *line and *len the next line without its CRLF or LF; valid until the next read. JL_OK,
 * JL_ENOTFOUND at a clean end of stream before any byte of the line, or an error. */
static int read_line(hc_conn *conn, const char **line, size_t *len, jl_error *err)
{
    for (;;) {
        char *start = conn->inbuf + conn->in_start;
        char *nl = memchr(start, '\n', conn->in_end - conn->in_start);
        if (nl != NULL) {
            size_t n = (size_t)(nl - start);
            conn->in_start += n + 1;
            if (n > 0 && start[n - 1] == '\r')
                n--;
            *line = start;
            *len = n;
            return JL_OK;
        }
        size_t pending = conn->in_end - conn->in_start;
        long got = fill(conn, err);
        if (got < 0)
            return (int)got;
        if (got == 0) {
            if (pending == 0)
                return JL_ENOTFOUND;
            return jl_error_set(err, JL_ECORRUPT, "connection closed inside a response line");
        }
    }
}

/* Appends exactly n body bytes to response (or discards them when response is NULL). */
static int read_exact(hc_conn *conn, size_t n, jl_buf *response, jl_error *err)
{
    while (n > 0) {
        if (conn->in_start == conn->in_end) {
            long got = fill(conn, err);
            if (got < 0)
                return (int)got;
            if (got == 0)
                return jl_error_set(err, JL_ECORRUPT,
                                    "connection closed with %zu body bytes still expected", n);
        }
        size_t take = conn->in_end - conn->in_start;
        if (take > n)
            take = n;
        if (response != NULL && jl_buf_append(response, conn->inbuf + conn->in_start, take) != 0)
            return jl_error_set(err, JL_ENOMEM, "out of memory for the response body");
        conn->in_start += take;
        n -= take;
    }
    return JL_OK;
}

static int read_chunked(hc_conn *conn, jl_buf *response, jl_error *err)
{
    const char *line;
    size_t len;
    for (;;) {
        int rc = read_line(conn, &line, &len, err);
        if (rc == JL_ENOTFOUND)
            return jl_error_set(err, JL_ECORRUPT, "connection closed inside a chunked body");
        if (rc != JL_OK)
            return rc;
        size_t size = 0;
        size_t i = 0;
        for (; i < len; i++) {
            char c = line[i];
            int digit;
            if (c >= '0' && c <= '9')
                digit = c - '0';
            else if (c >= 'a' && c <= 'f')
                digit = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                digit = c - 'A' + 10;
            else
                break;
            if (size > (SIZE_MAX >> 4))
                return jl_error_set(err, JL_ECORRUPT, "chunk size too large");
            size = size * 16 + (size_t)digit;
        }
        if (i == 0 || (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
            return jl_error_set(err, JL_ECORRUPT, "bad chunk size line");
        if (size == 0)
            break;
        rc = read_exact(conn, size, response, err);
        if (rc != JL_OK)
            return rc;
        rc = read_line(conn, &line, &len, err);
        if (rc != JL_OK || len != 0)
            return rc == JL_OK || rc == JL_ENOTFOUND
                       ? jl_error_set(err, JL_ECORRUPT, "chunk not followed by CRLF")
                       : rc;
    }
    /* Trailer fields, ignored, up to the empty line. */
    for (;;) {
        int rc = read_line(conn, &line, &len, err);
        if (rc == JL_ENOTFOUND)
            return jl_error_set(err, JL_ECORRUPT, "connection closed inside chunk trailers");
        if (rc != JL_OK)
            return rc;
        if (len == 0)
            return JL_OK;
    }
}

static int header_is(const char *line, size_t len, const char *name, const char **value,
                     size_t *value_len)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return 0;
    size_t i = n + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    size_t end = len;
    while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;
    *value = line + i;
    *value_len = end - i;
    return 1;
}

/* Case-insensitive search for token in a comma-separated header value. */
static int value_has_token(const char *value, size_t len, const char *token)
{
    size_t n = strlen(token);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(value + i, token, n) == 0)
            return 1;
    return 0;
}

/* Reads one response. *started is set once any byte of it arrived (a retry is then unsafe). */
static int read_response(hc_conn *conn, int is_head, int *status, jl_buf *response, int *started,
                         int *must_close, jl_error *err)
{
    const char *line;
    size_t len;
    int rc;
    int code;
    int http10;

    for (;;) {
        rc = read_line(conn, &line, &len, err);
        if (rc == JL_ENOTFOUND)
            return jl_error_set(err, JL_EIO, "%s:%d closed the connection without a response",
                                conn->host, conn->port);
        if (rc != JL_OK)
            return rc;
        *started = 1;
        if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' || line[9] < '1' ||
            line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9' ||
            (len > 12 && line[12] != ' '))
            return jl_error_set(err, JL_ECORRUPT, "bad status line from %s:%d", conn->host,
                                conn->port);
        http10 = line[7] == '0';
        code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');

        long long content_length = -1;
        int chunked = 0;
        int keep_alive = 0;
        int close_flag = 0;
        for (;;) {
            rc = read_line(conn, &line, &len, err);
            if (rc == JL_ENOTFOUND)
                return jl_error_set(err, JL_ECORRUPT, "connection closed inside the headers");
            if (rc != JL_OK)
                return rc;
            if (len == 0)
                break;
            const char *value;
            size_t value_len;
            if (header_is(line, len, "Content-Length", &value, &value_len)) {
                long long n = 0;
                if (value_len == 0 || value_len > 18)
                    return jl_error_set(err, JL_ECORRUPT, "bad Content-Length");
                for (size_t i = 0; i < value_len; i++) {
                    if (value[i] < '0' || value[i] > '9')
                        return jl_error_set(err, JL_ECORRUPT, "bad Content-Length");
                    n = n * 10 + (value[i] - '0');
                }
                content_length = n;
            } else if (header_is(line, len, "Transfer-Encoding", &value, &value_len)) {
                chunked = value_has_token(value, value_len, "chunked");
            } else if (header_is(line, len, "Connection", &value, &value_len)) {
                close_flag = value_has_token(value, value_len, "close");
                keep_alive = value_has_token(value, value_len, "keep-alive");
            }
        }
        if (code >= 100 && code < 200)
            continue; /* interim response (100 Continue): the real one follows */

        *must_close = close_flag || (http10 && !keep_alive);
        *status = code;
        if (is_head || code == 204 || code == 304)
            return JL_OK;
        if (chunked)
            return read_chunked(conn, response, err);
        if (content_length >= 0)
            return read_exact(conn, (size_t)content_length, response, err);
        /* No framing: the body runs to the end of the connection. */
        *must_close = 1;
        for (;;) {
            if (conn->in_end > conn->in_start) {
                if (jl_buf_append(response, conn->inbuf + conn->in_start,
                                  conn->in_end - conn->in_start) != 0)
                    return jl_error_set(err, JL_ENOMEM, "out of memory for the response body");
                conn->in_start = conn->in_end;
            }
            long got = fill(conn, err);
            if (got < 0)
                return (int)got;
            if (got == 0)
                return JL_OK;
        }
    }
}

int hc_request(hc_conn *conn, const char *method, const char *path, const char *content_type,
               const void *body, size_t body_len, const char *extra_headers, int *status,
               jl_buf *response, jl_error *err)
{
    jl_buf head;
    int rc = JL_OK;

    jl_buf_init(&head);
    if (conn == NULL || method == NULL || path == NULL || path[0] != '/' || status == NULL ||
        response == NULL || (body == NULL && body_len > 0))
        return jl_error_set(err, JL_EINVAL, "bad arguments to hc_request");
    *status = 0;

    int is_head = strcmp(method, "HEAD") == 0;
    int bodyless = is_head || strcmp(method, "GET") == 0;
    int host_is_v6 = strchr(conn->host, ':') != NULL;
    if (jl_buf_printf(&head, "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\n", method, path,
                      host_is_v6 ? "[" : "", conn->host, host_is_v6 ? "]" : "", conn->port) != 0 ||
        (content_type != NULL && jl_buf_printf(&head, "Content-Type: %s\r\n", content_type) != 0) ||
        ((!bodyless || body_len > 0) &&
         jl_buf_printf(&head, "Content-Length: %zu\r\n", body_len) != 0) ||
        (extra_headers != NULL && jl_buf_append_str(&head, extra_headers) != 0) ||
        jl_buf_append_str(&head, "\r\n") != 0) {
        rc = jl_error_set(err, JL_ENOMEM, "out of memory");
        goto out;
    }

    for (int attempt = 0;; attempt++) {
        if (conn->fd < 0) {
            rc = open_socket(conn, err);
            if (rc != JL_OK)
                goto out;
        }
        int reused = conn->served > 0;
        int started = 0;
        int must_close = 0;
        int sys_errno = 0;
        struct iovec iov[2] = {{head.data, head.len}, {(void *)body, body_len}};

        response->len = 0;
        rc = send_all(conn, iov, body_len > 0 ? 2 : 1, &sys_errno, err);
        if (rc == JL_OK)
            rc = read_response(conn, is_head, status, response, &started, &must_close, err);
        if (rc == JL_OK) {
            conn->served++;
            if (must_close)
                conn_drop(conn);
            goto out;
        }
        conn_drop(conn);
        /* A keep-alive connection the server closed while idle fails exactly like this: the send
         * may even succeed, then the read sees the close. Only then is resending safe. */
        if (attempt == 0 && reused && !started && rc == JL_EIO)
            continue;
        goto out;
    }
out:
    if (response->data != NULL && response->len < response->capacity)
        response->data[response->len] = '\0';
    jl_buf_destroy(&head);
    return rc;
}

int hc_parse_url(const char *url, char *host, size_t host_size, int *port, jl_error *err)
{
    const char *p = url;
    if (url == NULL)
        return jl_error_set(err, JL_EINVAL, "no URL given");
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    else if (strncmp(p, "https://", 8) == 0)
        return jl_error_set(err, JL_EINVAL, "https is not supported in URL '%s'", url);
    else if (strstr(p, "://") != NULL)
        return jl_error_set(err, JL_EINVAL, "unsupported scheme in URL '%s'", url);

    const char *host_start = p;
    const char *host_end;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (host_end == NULL)
            return jl_error_set(err, JL_EINVAL, "unterminated IPv6 address in URL '%s'", url);
        host_end++;
    } else {
        host_end = p + strcspn(p, ":/?#");
    }
    if (host_end == host_start)
        return jl_error_set(err, JL_EINVAL, "no host in URL '%s'", url);
    if ((size_t)(host_end - host_start) >= host_size)
        return jl_error_set(err, JL_EINVAL, "host too long in URL '%s'", url);
    memcpy(host, host_start, (size_t)(host_end - host_start));
    host[host_end - host_start] = '\0';

    p = host_end;
    *port = 80;
    if (*p == ':') {
        p++;
        long value = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 6) {
            value = value * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || value < 1 || value > 65535)
            return jl_error_set(err, JL_EINVAL, "bad port in URL '%s'", url);
        *port = (int)value;
    }
    if (*p != '\0' && strcmp(p, "/") != 0)
        return jl_error_set(err, JL_EINVAL, "URL '%s' has a path; give only http://host:port", url);
    return JL_OK;
}

int hc_append_query_escaped(jl_buf *out, const char *text)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        unsigned char c = *p;
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '.' || c == '~';
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        int rc = keep ? jl_buf_append(out, p, 1) : jl_buf_append(out, enc, 3);
        if (rc != JL_OK)
            return rc;
    }
    return JL_OK;
}
