/* Tests of server/httpclient.c against a scripted HTTP server running in a thread of this test on
 * 127.0.0.1: the request path selects the response framing (Content-Length, chunked, to end of
 * stream), a close after the response, silence (timeout) or a malformed status line. */
#include "check.h"
#include "jialing/httpclient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int server_fd = -1;
static int server_port;
static int server_accepts;      /* connections accepted so far */
static char last_head[4096];    /* request line and headers of the last request */
static char last_body[1 << 16]; /* its body */
static size_t last_body_len;
static pthread_mutex_t server_lock = PTHREAD_MUTEX_INITIALIZER;

static void send_text(int fd, const char *text)
{
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = send(fd, text, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        text += n;
        len -= (size_t)n;
    }
}

/* Reads one request into last_head/last_body; returns 0 at end of stream. */
static int read_request(int fd, char *buf, size_t *have, size_t cap)
{
    for (;;) {
        char *end = memmem(buf, *have, "\r\n\r\n", 4);
        if (end != NULL) {
            size_t head_len = (size_t)(end - buf) + 4;
            size_t content_length = 0;
            char *cl = memmem(buf, head_len, "Content-Length: ", 16);
            if (cl != NULL)
                content_length = strtoul(cl + 16, NULL, 10);
            while (*have < head_len + content_length) {
                ssize_t n = recv(fd, buf + *have, cap - *have, 0);
                if (n <= 0)
                    return 0;
                *have += (size_t)n;
            }
            pthread_mutex_lock(&server_lock);
            size_t copy = head_len < sizeof last_head - 1 ? head_len : sizeof last_head - 1;
            memcpy(last_head, buf, copy);
            last_head[copy] = '\0';
            memcpy(last_body, buf + head_len, content_length);
            last_body_len = content_length;
            pthread_mutex_unlock(&server_lock);
            memmove(buf, buf + head_len + content_length, *have - head_len - content_length);
            *have -= head_len + content_length;
            return 1;
        }
        ssize_t n = recv(fd, buf + *have, cap - *have, 0);
        if (n <= 0)
            return 0;
        *have += (size_t)n;
    }
}

static void *server_main(void *arg)
{
    (void)arg;
    static char buf[1 << 17];
    for (;;) {
        int fd = accept(server_fd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_mutex_lock(&server_lock);
        server_accepts++;
        pthread_mutex_unlock(&server_lock);
        size_t have = 0;
        while (read_request(fd, buf, &have, sizeof buf)) {
            char path[256] = "";
            sscanf(last_head, "%*s %255s", path);
            if (strcmp(path, "/cl") == 0) {
                send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
            } else if (strcmp(path, "/204") == 0) {
                send_text(fd, "HTTP/1.1 204 No Content\r\n\r\n");
            } else if (strcmp(path, "/chunked") == 0) {
                send_text(fd, "HTTP/1.1 100 Continue\r\n\r\n"
                              "HTTP/1.1 400 Bad Request\r\ntransfer-encoding: Chunked\r\n\r\n"
                              "4;ext=1\r\n{\"er\r\n"
                              "B\r\nror\": \"x\"}\n\r\n"
                              "0\r\nTrailer: yes\r\n\r\n");
            } else if (strcmp(path, "/echo") == 0) {
                char head[128];
                snprintf(head, sizeof head, "HTTP/1.1 201 Created\r\nContent-Length: %zu\r\n\r\n",
                         last_body_len);
                send_text(fd, head);
                size_t off = 0;
                while (off < last_body_len) {
                    ssize_t n = send(fd, last_body + off, last_body_len - off, MSG_NOSIGNAL);
                    if (n <= 0)
                        break;
                    off += (size_t)n;
                }
            } else if (strcmp(path, "/close-after") == 0) {
                /* No Connection: close header: the client learns of the close only later. */
                send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                break;
            } else if (strcmp(path, "/header-close") == 0) {
                send_text(fd,
                          "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
                break;
            } else if (strcmp(path, "/eof") == 0) {
                send_text(fd, "HTTP/1.0 200 OK\r\n\r\nuntil the end");
                break;
            } else if (strcmp(path, "/silent") == 0) {
                continue; /* never answer; the next read sees the client's close */
            } else if (strcmp(path, "/short") == 0) {
                send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
                break;
            } else {
                send_text(fd, "garbage\r\n\r\n");
                break;
            }
        }
        close(fd);
    }
}

static int accepts(void)
{
    pthread_mutex_lock(&server_lock);
    int n = server_accepts;
    pthread_mutex_unlock(&server_lock);
    return n;
}

static void start_server(void)
{
    struct sockaddr_in addr = {0};
    socklen_t len = sizeof addr;
    pthread_t thread;
    server_fd = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(server_fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(server_fd, 8) != 0 ||
        getsockname(server_fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("test server");
        exit(2);
    }
    server_port = ntohs(addr.sin_port);
    pthread_create(&thread, NULL, server_main, NULL);
    pthread_detach(thread);
}

static void test_keepalive_content_length(void)
{
    hc_conn *conn = NULL;
    jl_error err;
    jl_buf body;
    int status = 0;
    jl_buf_init(&body);
    int before = accepts();
    CHECK_INT(hc_connect("127.0.0.1", server_port, &conn, &err), JL_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(hc_request(conn, "GET", "/cl", NULL, NULL, 0, NULL, &status, &body, &err), JL_OK);
        CHECK_INT(status, 200);
        CHECK_INT(body.len, 5);
        CHECK(body.len == 5 && memcmp(body.data, "hello", 5) == 0);
    }
    /* A 204 carries no body even without Content-Length; the connection stays usable. */
    CHECK_INT(hc_request(conn, "POST", "/204", "text/plain", "x", 1, NULL, &status, &body, &err),
              JL_OK);
    CHECK_INT(status, 204);
    CHECK_INT(body.len, 0);
    CHECK_INT(accepts() - before, 1);
    hc_close(conn);
    jl_buf_destroy(&body);
}

static void test_post_body_and_headers(void)
{
    hc_conn *conn = NULL;
    jl_error err;
    jl_buf body;
    int status = 0;
    jl_buf_init(&body);
    /* A body larger than a socket buffer exercises partial sends. */
    size_t n = 40000;
    char *payload = malloc(n);
    for (size_t i = 0; i < n; i++)
        payload[i] = (char)('a' + i % 26);
    CHECK_INT(hc_connect("localhost", server_port, &conn, &err), JL_OK);
    CHECK_INT(hc_request(conn, "POST", "/echo", "text/plain; charset=utf-8", payload, n,
                         "Authorization: Bearer tok\r\n", &status, &body, &err),
              JL_OK);
    CHECK_INT(status, 201);
    CHECK_INT(body.len, n);
    CHECK(body.len == n && memcmp(body.data, payload, n) == 0);
    pthread_mutex_lock(&server_lock);
    CHECK(strstr(last_head, "POST /echo HTTP/1.1\r\n") == last_head);
    CHECK(strstr(last_head, "\r\nContent-Type: text/plain; charset=utf-8\r\n") != NULL);
    CHECK(strstr(last_head, "\r\nContent-Length: 40000\r\n") != NULL);
    CHECK(strstr(last_head, "\r\nAuthorization: Bearer tok\r\n") != NULL);
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: localhost:%d\r\n", server_port);
    CHECK(strstr(last_head, host) != NULL);
    pthread_mutex_unlock(&server_lock);
    hc_close(conn);
    free(payload);
    jl_buf_destroy(&body);
}

static void test_chunked_and_interim(void)
{
    hc_conn *conn = NULL;
    jl_error err;
    jl_buf body;
    int status = 0;
    jl_buf_init(&body);
    int before = accepts();
    CHECK_INT(hc_connect("127.0.0.1", server_port, &conn, &err), JL_OK);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(hc_request(conn, "GET", "/chunked", NULL, NULL, 0, NULL, &status, &body, &err),
                  JL_OK);
        CHECK_INT(status, 400);
        CHECK_STR(body.data, "{\"error\": \"x\"}\n");
    }
    CHECK_INT(accepts() - before, 1);
    hc_close(conn);
    jl_buf_destroy(&body);
}

static void test_reconnect_after_server_close(void)
{
    hc_conn *conn = NULL;
    jl_error err;
    jl_buf body;
    int status = 0;
    jl_buf_init(&body);
    int before = accepts();
    CHECK_INT(hc_connect("127.0.0.1", server_port, &conn, &err), JL_OK);
    CHECK_INT(hc_request(conn, "GET", "/close-after", NULL, NULL, 0, NULL, &status, &body, &err),
              JL_OK);
    CHECK_STR(body.data, "ok");
    usleep(50000); /* let the close arrive, as with an idle keep-alive timeout */
    CHECK_INT(hc_request(conn, "GET", "/cl", NULL, NULL, 0, NULL, &status, &body, &err), JL_OK);
    CHECK_INT(status, 200);
    CHECK_STR(body.data, "hello");
    CHECK_INT(accepts() - before, 2);
    /* Connection: close is honoured at once: the next request opens a third connection. */
    CHECK_INT(hc_request(conn, "GET", "/header-close", NULL, NULL, 0, NULL, &status, &body, &err),
              JL_OK);
    CHECK_INT(hc_request(conn, "GET", "/cl", NULL, NULL, 0, NULL, &status, &body, &err), JL_OK);
    CHECK_INT(accepts() - before, 3);
    hc_close(conn);
    jl_buf_destroy(&body);
}

static void test_body_until_eof(void)
{
    hc_conn *conn = NULL;
    jl_error err;
    jl_buf body;
    int status = 0;
    jl_buf_init(&body);
    CHECK_INT(hc_connect("127.0.0.1", server_port, &conn, &err), JL_OK);
    CHECK_INT(hc_request(conn, "GET", "/eof", NULL, NULL, 0, NULL, &status, &body, &err), JL_OK);
    CHECK_INT(status, 200);
    CHECK_STR(body.data, "until the end");
    hc_close(conn);
    jl_buf_destroy(&body);
}

static void test_errors(void)
{
    hc_conn *conn = NULL;
    jl_error err;
    jl_buf body;
    int status = 0;
    jl_buf_init(&body);
    CHECK_INT(hc_connect("127.0.0.1", server_port, &conn, &err), JL_OK);
    hc_set_timeout(conn, 200);
    int64_t t0 = jl_monotonic_ns();
    CHECK_INT(hc_request(conn, "GET", "/silent", NULL, NULL, 0, NULL, &status, &body, &err),
              JL_ETIMEOUT);
    int64_t waited_ms = (jl_monotonic_ns() - t0) / 1000000;
    CHECK(waited_ms >= 150 && waited_ms < 5000);
    CHECK_INT(hc_request(conn, "GET", "/garbage", NULL, NULL, 0, NULL, &status, &body, &err),
              JL_ECORRUPT);
    /* A response cut short is an error, never a short body presented as whole. */
    CHECK_INT(hc_request(conn, "GET", "/short", NULL, NULL, 0, NULL, &status, &body, &err),
              JL_ECORRUPT);
    /* The connection recovers after errors. */
    CHECK_INT(hc_request(conn, "GET", "/cl", NULL, NULL, 0, NULL, &status, &body, &err), JL_OK);
    CHECK_INT(hc_request(conn, "GET", "no-slash", NULL, NULL, 0, NULL, &status, &body, &err),
              JL_EINVAL);
    hc_close(conn);

    /* Nothing listens on a port we just closed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    socklen_t len = sizeof addr;
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    conn = NULL;
    CHECK_INT(hc_connect("127.0.0.1", ntohs(addr.sin_port), &conn, &err), JL_EIO);
    CHECK(conn == NULL);
    CHECK(strstr(err.message, "cannot connect") != NULL);
    CHECK_INT(hc_connect("127.0.0.1", 0, &conn, &err), JL_EINVAL);
    jl_buf_destroy(&body);
}

static void test_parse_url(void)
{
    char host[64];
    int port = 0;
    jl_error err;
    CHECK_INT(hc_parse_url("http://127.0.0.1:8470", host, sizeof host, &port, &err), JL_OK);
    CHECK_STR(host, "127.0.0.1");
    CHECK_INT(port, 8470);
    CHECK_INT(hc_parse_url("http://example.org/", host, sizeof host, &port, &err), JL_OK);
    CHECK_STR(host, "example.org");
    CHECK_INT(port, 80);
    CHECK_INT(hc_parse_url("[::1]:9", host, sizeof host, &port, &err), JL_OK);
    CHECK_STR(host, "[::1]");
    CHECK_INT(port, 9);
    CHECK_INT(hc_parse_url("https://a:1", host, sizeof host, &port, &err), JL_EINVAL);
    CHECK_INT(hc_parse_url("http://a:0", host, sizeof host, &port, &err), JL_EINVAL);
    CHECK_INT(hc_parse_url("http://a:65536", host, sizeof host, &port, &err), JL_EINVAL);
    CHECK_INT(hc_parse_url("http://a:80/api", host, sizeof host, &port, &err), JL_EINVAL);
    CHECK_INT(hc_parse_url("http://:80", host, sizeof host, &port, &err), JL_EINVAL);
    CHECK_INT(hc_parse_url("http://[::1:80", host, sizeof host, &port, &err), JL_EINVAL);
    CHECK_INT(hc_parse_url(
                  "http://averyveryverylonghostname.example.org.averyveryverylonghostname.example",
                  host, sizeof host, &port, &err),
              JL_EINVAL);
}

static void test_query_escape(void)
{
    jl_buf out;
    jl_buf_init(&out);
    CHECK_INT(hc_append_query_escaped(&out, "pm25{station=\"s 1\"}&a~b_c.d-é"), JL_OK);
    CHECK_STR(out.data, "pm25%7Bstation%3D%22s%201%22%7D%26a~b_c.d-%C3%A9");
    jl_buf_destroy(&out);
}

int main(void)
{
    start_server();
    RUN(test_keepalive_content_length);
    RUN(test_post_body_and_headers);
    RUN(test_chunked_and_interim);
    RUN(test_reconnect_after_server_close);
    RUN(test_body_until_eof);
    RUN(test_errors);
    RUN(test_parse_url);
    RUN(test_query_escape);
    return CHECK_DONE();
}
