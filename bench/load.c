/* bench-load: the ingest load client of the benchmark, the same for Jialing and its peers.
 * Reads line-protocol files in order and sends them as batches of --batch lines from --clients
 * threads, each over its own keep-alive connection (POST --path, by default
 * /api/v1/write?precision=ms; a peer gets its own write path, e.g. /write?db=bench&precision=ms).
 * Threads take the next batch from one shared reader, so the data arrives in roughly file order,
 * as from concurrent collectors. Measures from the first byte sent to the last acknowledgement;
 * any answer other than 204 stops the run and makes the exit status 1. --max-seconds caps the
 * run: no batch is started after the cap, and the output says capped=1 (exit status 3), so a slow
 * peer cannot hold the benchmark hostage. Output ends with one machine-readable line of
 * key=value pairs. */
#include "jialing/common.h"
#include "jialing/httpclient.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define MAX_CLIENTS 64

typedef struct shared {
    pthread_mutex_t lock;
    char **files;
    int file_count;
    int file_index; /* file being read */
    FILE *in;       /* open file, or NULL */
    int stop;       /* set on the first failure */
    char host[HC_MAX_HOST_BYTES];
    int port;
    size_t batch;
    const char *path;      /* request target of every write */
    int64_t deadline_ns;   /* no batch starts after this (0: no cap) */
    int capped;            /* set when the deadline stopped the run */
    int64_t first_send_ns; /* 0 until the first request */
    int64_t last_ack_ns;
    uint64_t readings; /* lines acknowledged */
    uint64_t requests;
    uint64_t errors;
    char first_error[600];
} shared;

static void fail(shared *sh, const char *message)
{
    pthread_mutex_lock(&sh->lock);
    sh->errors++;
    sh->stop = 1;
    if (sh->first_error[0] == '\0')
        snprintf(sh->first_error, sizeof sh->first_error, "%s", message);
    pthread_mutex_unlock(&sh->lock);
}

/* Fills body with up to sh->batch non-blank lines; returns the number of lines, 0 at the end of
 * the input, -1 on a read error (message in sh). */
static long next_batch(shared *sh, jl_buf *body, char **line, size_t *cap)
{
    long lines = 0;
    body->len = 0;
    pthread_mutex_lock(&sh->lock);
    if (sh->deadline_ns != 0 && !sh->stop && jl_monotonic_ns() >= sh->deadline_ns) {
        sh->capped = 1;
        sh->stop = 1;
    }
    while (!sh->stop && (size_t)lines < sh->batch) {
        if (sh->in == NULL) {
            if (sh->file_index == sh->file_count)
                break;
            const char *path = sh->files[sh->file_index];
            sh->in = fopen(path, "r");
            if (sh->in == NULL) {
                snprintf(sh->first_error, sizeof sh->first_error, "cannot open %s: %s", path,
                         strerror(errno));
                sh->stop = 1;
                sh->errors++;
                lines = -1;
                break;
            }
        }
        ssize_t n = getline(line, cap, sh->in);
        if (n < 0) {
            fclose(sh->in);
            sh->in = NULL;
            sh->file_index++;
            continue;
        }
        if (n <= 1)
            continue;
        if (jl_buf_append(body, *line, (size_t)n) != JL_OK) {
            snprintf(sh->first_error, sizeof sh->first_error, "out of memory");
            sh->stop = 1;
            sh->errors++;
            lines = -1;
            break;
        }
        lines++;
    }
    pthread_mutex_unlock(&sh->lock);
    return lines;
}

static void *client_main(void *arg)
{
    shared *sh = arg;
    hc_conn *conn = NULL;
    jl_buf body, response;
    char *line = NULL;
    size_t cap = 0;
    jl_error err;
    char message[600];

    jl_buf_init(&body);
    jl_buf_init(&response);
    if (hc_connect(sh->host, sh->port, &conn, &err) != JL_OK) {
        fail(sh, err.message);
        goto out;
    }
    hc_set_timeout(conn, 600000);
    for (;;) {
        long lines = next_batch(sh, &body, &line, &cap);
        if (lines <= 0)
            break;
        int status = 0;
        int64_t t0 = jl_monotonic_ns();
        pthread_mutex_lock(&sh->lock);
        if (sh->first_send_ns == 0 || t0 < sh->first_send_ns)
            sh->first_send_ns = t0;
        pthread_mutex_unlock(&sh->lock);
        int rc = hc_request(conn, "POST", sh->path, "text/plain; charset=utf-8", body.data,
                            body.len, NULL, &status, &response, &err);
        int64_t t1 = jl_monotonic_ns();
        if (rc != JL_OK) {
            fail(sh, err.message);
            break;
        }
        if (status != 204) {
            snprintf(message, sizeof message, "server answered %d: %.400s", status,
                     response.data ? response.data : "");
            fail(sh, message);
            break;
        }
        pthread_mutex_lock(&sh->lock);
        sh->readings += (uint64_t)lines;
        sh->requests++;
        if (t1 > sh->last_ack_ns)
            sh->last_ack_ns = t1;
        pthread_mutex_unlock(&sh->lock);
    }
out:
    hc_close(conn);
    free(line);
    jl_buf_destroy(&body);
    jl_buf_destroy(&response);
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench-load [--url http://127.0.0.1:8470] [--clients 2] [--batch 5000]\n"
               "                  [--path /api/v1/write?precision=ms] [--max-seconds 0] FILE...\n");
}

int main(int argc, char **argv)
{
    static shared sh;
    const char *url = "http://127.0.0.1:8470";
    int clients = 2;
    pthread_t threads[MAX_CLIENTS];
    jl_error err;

    pthread_mutex_init(&sh.lock, NULL);
    sh.batch = 5000;
    sh.path = "/api/v1/write?precision=ms";
    long max_seconds = 0;
    sh.files = calloc((size_t)argc, sizeof *sh.files);
    if (sh.files == NULL)
        return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--url") == 0 || strcmp(a, "--clients") == 0 || strcmp(a, "--batch") == 0 ||
            strcmp(a, "--path") == 0 || strcmp(a, "--max-seconds") == 0) {
            if (i + 1 >= argc) {
                usage(stderr);
                return 2;
            }
            const char *v = argv[++i];
            long n = strtol(v, NULL, 10);
            if (strcmp(a, "--url") == 0)
                url = v;
            else if (strcmp(a, "--path") == 0 && v[0] == '/')
                sh.path = v;
            else if (strcmp(a, "--max-seconds") == 0 && n >= 0)
                max_seconds = n;
            else if (strcmp(a, "--clients") == 0 && n >= 1 && n <= MAX_CLIENTS)
                clients = (int)n;
            else if (strcmp(a, "--batch") == 0 && n >= 1 && n <= 10000000)
                sh.batch = (size_t)n;
            else {
                fprintf(stderr, "bench-load: bad value %s for %s\n", v, a);
                return 2;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "bench-load: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else {
            sh.files[sh.file_count++] = argv[i];
        }
    }
    if (sh.file_count == 0) {
        usage(stderr);
        return 2;
    }
    if (hc_parse_url(url, sh.host, sizeof sh.host, &sh.port, &err) != JL_OK) {
        fprintf(stderr, "bench-load: %s\n", err.message);
        return 2;
    }

    if (max_seconds > 0)
        sh.deadline_ns = jl_monotonic_ns() + (int64_t)max_seconds * 1000000000;
    int started = 0;
    for (; started < clients; started++)
        if (pthread_create(&threads[started], NULL, client_main, &sh) != 0)
            break;
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (started < clients)
        fail(&sh, "cannot start client threads");
    if (sh.in != NULL)
        fclose(sh.in);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    double seconds =
        sh.last_ack_ns > sh.first_send_ns ? (double)(sh.last_ack_ns - sh.first_send_ns) / 1e9 : 0;
    double rate = seconds > 0 ? (double)sh.readings / seconds : 0;
    if (sh.errors > 0)
        fprintf(stderr, "bench-load: %s\n", sh.first_error);
    if (sh.capped)
        fprintf(stderr, "bench-load: stopped at the cap of %ld s\n", max_seconds);
    printf("readings %llu in %llu requests, %.3f s, %.0f readings/s, client CPU %.2f s, errors "
           "%llu\n",
           (unsigned long long)sh.readings, (unsigned long long)sh.requests, seconds, rate, cpu_s,
           (unsigned long long)sh.errors);
    printf("readings=%llu seconds=%.3f readings_per_s=%.0f cpu_s=%.2f errors=%llu capped=%d\n",
           (unsigned long long)sh.readings, seconds, rate, cpu_s, (unsigned long long)sh.errors,
           sh.capped);
    free(sh.files);
    return sh.errors > 0 ? 1 : sh.capped ? 3 : 0;
}
