/* The `jialing` command-line tool: `import` sends line protocol or CSV to a running jialingd in
 * batches over one keep-alive connection and reports what was stored; `inspect` opens a data
 * directory and prints the store's figures; `backup` copies a data directory, even one a server
 * is running on. Owns argument parsing, progress output and exit codes (0 ok, 1 failure, 2
 * usage error). */
#include "jialing/common.h"
#include "jialing/csvconvert.h"
#include "jialing/httpclient.h"
#include "jialing/store.h"
#include "hj212_send.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_URL "http://127.0.0.1:8470"
#define DEFAULT_BATCH 5000
#define MAX_REPORTED_ERRORS 20 /* bad CSV rows listed one by one; the rest only counted */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: jialing <command> [options]\n"
            "\n"
            "commands:\n"
            "  import [--url URL] [--precision ns|us|ms|s] [--batch N] [--token T] FILE|-\n"
            "      Send readings to a running jialingd. FILE holds InfluxDB line protocol, or CSV\n"
            "      whose first line is the header 'time,metric,tags,value' (time as epoch ms or\n"
            "      RFC 3339, tags as k=v;k=v). '-' reads standard input.\n"
            "        --url URL         server address [" DEFAULT_URL "]\n"
            "        --precision P     timestamp unit of line protocol [ns]; CSV is always ms\n"
            "        --batch N         lines per request [%d]\n"
            "        --token T         send 'Authorization: Bearer T'\n"
            "  inspect DIR\n"
            "      Open the data directory DIR (the server must not be running on it) and print\n"
            "      series, readings, chunks and bytes per reading.\n"
            "  backup DIR OUT\n"
            "      Copy the store in the data directory DIR into the new or empty directory OUT,\n"
            "      compacted and consistent; safe while a server runs on DIR and writes go on.\n"
            "      Start jialingd with --data OUT to restore it.\n",
            DEFAULT_BATCH);
    hj212_send_usage(out);
    fprintf(out,
            "  --help\n"
            "      Show this text.\n"
            "\n"
            "exit status: 0 success, 1 failure (rejected batches, server unreachable), 2 usage "
            "error\n");
}

static int usage_error(const char *format, const char *arg)
{
    fprintf(stderr, "jialing: ");
    fprintf(stderr, format, arg);
    fprintf(stderr, "\nRun 'jialing --help' for usage.\n");
    return 2;
}

/* ---- import ---- */

typedef struct import_state {
    hc_conn *conn;
    const char *precision; /* query parameter value */
    char *auth_header;     /* "Authorization: Bearer T\r\n" or NULL; owned */
    jl_buf body;           /* the batch being built */
    long *file_lines;      /* per batch line: its line in the input file */
    size_t batch_lines;    /* lines in body */
    size_t batch_max;      /* --batch */
    uint64_t batch_readings;
    uint64_t batches_sent;
    uint64_t readings_sent;    /* acknowledged by the server */
    uint64_t readings_refused; /* in rejected batches */
    uint64_t rejected_batches;
    uint64_t bad_rows; /* CSV rows not converted */
    jl_buf response;
    int progress; /* stderr is a terminal */
    int64_t start_ns;
    int64_t last_progress_ns;
    long long total_bytes; /* input size when known, else -1 */
    long long read_bytes;
} import_state;

static void show_progress(import_state *st, int final)
{
    int64_t now = jl_monotonic_ns();
    if (!st->progress || (!final && now - st->last_progress_ns < 200000000))
        return;
    st->last_progress_ns = now;
    double seconds = (double)(now - st->start_ns) / 1e9;
    double rate = seconds > 0 ? (double)st->readings_sent / seconds : 0;
    if (st->total_bytes > 0) {
        int width = 30;
        double share = (double)st->read_bytes / (double)st->total_bytes;
        if (share > 1)
            share = 1;
        int filled = (int)(share * width);
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %3.0f%%  %llu readings  %.0f readings/s ", bar, share * 100,
                (unsigned long long)st->readings_sent, rate);
    } else {
        fprintf(stderr, "\r%llu readings  %.0f readings/s ", (unsigned long long)st->readings_sent,
                rate);
    }
    if (final)
        fprintf(stderr, "\n");
    fflush(stderr);
}

/* Sends the pending batch. Returns 0, or 1 when the import cannot go on (connection lost, server
 * refusing for a reason other than a bad line). */
static int send_batch(import_state *st)
{
    char path[128];
    int status = 0;
    jl_error err;
    int fatal = 0;

    if (st->batch_lines == 0)
        return 0;
    snprintf(path, sizeof path, "/api/v1/write?precision=%s", st->precision);
    int rc = hc_request(st->conn, "POST", path, "text/plain; charset=utf-8", st->body.data,
                        st->body.len, st->auth_header, &status, &st->response, &err);
    st->batches_sent++;
    if (rc != JL_OK) {
        if (st->progress)
            fprintf(stderr, "\n");
        fprintf(stderr, "jialing import: %s (batch of lines %ld-%ld not confirmed)\n", err.message,
                st->file_lines[0], st->file_lines[st->batch_lines - 1]);
        fatal = 1;
        goto out;
    }
    if (status >= 200 && status < 300) {
        st->readings_sent += st->batch_readings;
        goto out;
    }

    jl_buf message, translated;
    jl_buf_init(&message);
    jl_buf_init(&translated);
    if (cv_error_message(st->response.data ? st->response.data : "", st->response.len, &message) !=
            JL_OK ||
        cv_translate_line(message.data, st->file_lines, st->batch_lines, &translated) != JL_OK) {
        fprintf(stderr, "jialing import: out of memory\n");
        fatal = 1;
    } else if (status == 400) {
        st->rejected_batches++;
        st->readings_refused += st->batch_readings;
        if (st->progress)
            fprintf(stderr, "\n");
        fprintf(stderr,
                "jialing import: batch of lines %ld-%ld rejected (nothing of it stored): %s\n",
                st->file_lines[0], st->file_lines[st->batch_lines - 1], translated.data);
    } else {
        /* Auth, size limits, a full disk or an overloaded server would refuse every later batch
         * too: stop instead of hammering it. */
        if (st->progress)
            fprintf(stderr, "\n");
        fprintf(stderr, "jialing import: server answered %d for the batch of lines %ld-%ld: %s\n",
                status, st->file_lines[0], st->file_lines[st->batch_lines - 1], translated.data);
        if (status == 413)
            fprintf(stderr, "jialing import: try a smaller --batch\n");
        fatal = 1;
    }
    jl_buf_destroy(&message);
    jl_buf_destroy(&translated);
out:
    st->body.len = 0;
    st->batch_lines = 0;
    st->batch_readings = 0;
    show_progress(st, 0);
    return fatal;
}

static int parse_batch(const char *text, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || text[0] == '-' || v < 1 || v > 10000000)
        return 0;
    *out = (size_t)v;
    return 1;
}

static int cmd_import(int argc, char **argv)
{
    const char *url = DEFAULT_URL;
    const char *precision = NULL;
    const char *token = NULL;
    const char *file = NULL;
    size_t batch = DEFAULT_BATCH;
    import_state st;
    char host[HC_MAX_HOST_BYTES];
    int port = 0;
    jl_error err;
    FILE *in = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    int result = 1;

    memset(&st, 0, sizeof st);
    jl_buf_init(&st.body);
    jl_buf_init(&st.response);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        int has_value = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            result = 0;
            goto out;
        }
        if (strcmp(a, "--url") == 0 || strcmp(a, "--precision") == 0 || strcmp(a, "--batch") == 0 ||
            strcmp(a, "--token") == 0) {
            if (!has_value) {
                result = usage_error("%s needs a value", a);
                goto out;
            }
            value = argv[++i];
        } else if (strncmp(a, "--", 2) == 0 && strchr(a, '=') != NULL) {
            /* --name=value form */
            static char name[32];
            size_t n = (size_t)(strchr(a, '=') - a);
            if (n >= sizeof name) {
                result = usage_error("unknown option %s", a);
                goto out;
            }
            memcpy(name, a, n);
            name[n] = '\0';
            value = a + n + 1;
            a = name;
        }
        if (strcmp(a, "--url") == 0) {
            url = value;
        } else if (strcmp(a, "--precision") == 0) {
            if (strcmp(value, "ns") != 0 && strcmp(value, "us") != 0 && strcmp(value, "ms") != 0 &&
                strcmp(value, "s") != 0) {
                result = usage_error("--precision must be ns, us, ms or s, not '%s'", value);
                goto out;
            }
            precision = value;
        } else if (strcmp(a, "--batch") == 0) {
            if (!parse_batch(value, &batch)) {
                result = usage_error("--batch must be a whole number from 1 to 10000000, not '%s'",
                                     value);
                goto out;
            }
        } else if (strcmp(a, "--token") == 0) {
            token = value;
        } else if (a[0] == '-' && a[1] != '\0') {
            result = usage_error("unknown option %s", a);
            goto out;
        } else if (file != NULL) {
            result = usage_error("only one input file may be given (also got '%s')", a);
            goto out;
        } else {
            file = a;
        }
    }
    if (file == NULL) {
        result = usage_error("%s", "import needs a FILE (or - for standard input)");
        goto out;
    }
    if (hc_parse_url(url, host, sizeof host, &port, &err) != JL_OK) {
        result = usage_error("%s", err.message);
        goto out;
    }
    if (token != NULL) {
        if (strpbrk(token, "\r\n") != NULL) {
            result = usage_error("%s", "--token must not contain line breaks");
            goto out;
        }
        size_t n = strlen(token) + 32;
        st.auth_header = malloc(n);
        if (st.auth_header == NULL)
            goto oom;
        snprintf(st.auth_header, n, "Authorization: Bearer %s\r\n", token);
    }

    in = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
    if (in == NULL) {
        fprintf(stderr, "jialing import: cannot open %s: %s\n", file, strerror(errno));
        goto out;
    }
    struct stat sb;
    st.total_bytes =
        fstat(fileno(in), &sb) == 0 && S_ISREG(sb.st_mode) ? (long long)sb.st_size : -1;
    st.batch_max = batch;
    st.file_lines = malloc(batch * sizeof *st.file_lines);
    if (st.file_lines == NULL)
        goto oom;
    st.progress = isatty(STDERR_FILENO);

    if (hc_connect(host, port, &st.conn, &err) != JL_OK) {
        fprintf(stderr, "jialing import: %s\n", err.message);
        goto out;
    }

    int csv = 0;
    int first = 1;
    long line_no = 0;
    ssize_t got;
    st.start_ns = jl_monotonic_ns();
    st.precision = precision ? precision : "ns";
    while ((got = getline(&line, &line_cap, in)) >= 0) {
        size_t len = (size_t)got;
        line_no++;
        st.read_bytes += got;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r' || line[k] == '\n'))
            k++;
        if (k == len)
            continue; /* blank */
        if (first) {
            first = 0;
            if (cv_is_csv_header(line, len)) {
                csv = 1;
                if (precision != NULL && strcmp(precision, "ms") != 0)
                    fprintf(stderr,
                            "jialing import: --precision %s ignored: CSV times are sent "
                            "in milliseconds\n",
                            precision);
                st.precision = "ms";
                continue;
            }
        }
        if (csv) {
            jl_error row_err;
            int rc = cv_csv_row_to_lp(line, len, &st.body, &row_err);
            if (rc == JL_ENOMEM)
                goto oom;
            if (rc != JL_OK) {
                if (++st.bad_rows <= MAX_REPORTED_ERRORS)
                    fprintf(stderr, "jialing import: line %ld, column %ld: %s (row skipped)\n",
                            line_no, row_err.column, row_err.message);
                continue;
            }
            st.batch_readings++;
        } else {
            if (line[k] == '#')
                continue; /* comment: not sent, so batch line numbers stay simple */
            size_t fields = cv_lp_field_count(line, len);
            if (jl_buf_append(&st.body, line, len) != JL_OK ||
                (line[len - 1] != '\n' && jl_buf_append(&st.body, "\n", 1) != JL_OK))
                goto oom;
            st.batch_readings += fields;
        }
        st.file_lines[st.batch_lines++] = line_no;
        if (st.batch_lines == st.batch_max && send_batch(&st) != 0)
            goto out;
    }
    if (ferror(in)) {
        fprintf(stderr, "jialing import: reading %s failed: %s\n", file, strerror(errno));
        goto out;
    }
    if (send_batch(&st) != 0)
        goto out;
    show_progress(&st, 1);

    double seconds = (double)(jl_monotonic_ns() - st.start_ns) / 1e9;
    printf("%llu readings stored in %.2f s (%.0f readings/s), %llu batch%s sent",
           (unsigned long long)st.readings_sent, seconds,
           seconds > 0 ? (double)st.readings_sent / seconds : 0.0,
           (unsigned long long)st.batches_sent, st.batches_sent == 1 ? "" : "es");
    if (st.rejected_batches > 0)
        printf(", %llu rejected (%llu readings not stored)",
               (unsigned long long)st.rejected_batches, (unsigned long long)st.readings_refused);
    if (st.bad_rows > 0)
        printf(", %llu CSV row%s skipped", (unsigned long long)st.bad_rows,
               st.bad_rows == 1 ? "" : "s");
    printf("\n");
    result = st.rejected_batches > 0 || st.bad_rows > 0 ? 1 : 0;
    goto out;
oom:
    fprintf(stderr, "jialing import: out of memory\n");
    result = 1;
out:
    if (in != NULL && in != stdin)
        fclose(in);
    free(line);
    hc_close(st.conn);
    free(st.auth_header);
    free(st.file_lines);
    jl_buf_destroy(&st.body);
    jl_buf_destroy(&st.response);
    return result;
}

/* ---- inspect ---- */

static int cmd_inspect(int argc, char **argv)
{
    struct stat sb;
    st_options options;
    st_store *store = NULL;
    st_stats stats;
    jl_error err;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-')
        return usage_error("%s", "inspect needs exactly one argument: the data directory");
    const char *dir = argv[1];
    /* A clear message for a mistyped path, before LMDB reports it its own way. */
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "jialing inspect: %s is not a directory\n", dir);
        return 1;
    }
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.read_only = 1;
    if (st_store_open(&options, &store, &err) != JL_OK) {
        fprintf(stderr, "jialing inspect: cannot open the store in %s: %s\n", dir, err.message);
        return 1;
    }
    int rc = st_store_stats(store, 1, &stats, &err);
    st_store_close(store);
    if (rc != JL_OK) {
        fprintf(stderr, "jialing inspect: %s\n", err.message);
        return 1;
    }
    printf("store                           %s\n", dir);
    printf("series                          %llu\n", (unsigned long long)stats.series);
    printf("readings                        %llu\n", (unsigned long long)stats.readings);
    printf("  in sealed chunks              %llu\n", (unsigned long long)stats.sealed_readings);
    printf("chunks                          %llu\n", (unsigned long long)stats.chunks);
    printf("chunk bytes                     %llu\n", (unsigned long long)stats.chunk_bytes);
    printf("data file bytes                 %llu\n", (unsigned long long)stats.file_bytes);
    printf("map bytes                       %llu\n", (unsigned long long)stats.map_bytes);
    if (stats.readings > 0)
        printf("bytes per reading (file)        %.3f\n",
               (double)stats.file_bytes / (double)stats.readings);
    else
        printf("bytes per reading (file)        -\n");
    if (stats.sealed_readings > 0)
        printf("chunk bytes per sealed reading  %.3f\n",
               (double)stats.chunk_bytes / (double)stats.sealed_readings);
    else
        printf("chunk bytes per sealed reading  -\n");
    if (stats.chunks > 0)
        printf("decimal-codec chunks            %.1f%% (%llu of %llu)\n",
               100.0 * (double)stats.decimal_chunks / (double)stats.chunks,
               (unsigned long long)stats.decimal_chunks, (unsigned long long)stats.chunks);
    else
        printf("decimal-codec chunks            -\n");
    printf("log blocks                      %llu (%llu bytes)\n",
           (unsigned long long)stats.log_blocks, (unsigned long long)stats.log_bytes);
    return 0;
}

/* ---- backup ---- */

static int cmd_backup(int argc, char **argv)
{
    struct stat sb;
    st_options options;
    st_store *store = NULL;
    jl_error err;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
        return usage_error("%s", "backup needs two arguments: the data directory and the "
                                 "destination directory");
    const char *dir = argv[1], *out = argv[2];
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "jialing backup: %s is not a directory\n", dir);
        return 1;
    }
    /* Read-only: no writer thread and no write transaction, so a server may run on dir. */
    memset(&options, 0, sizeof options);
    options.directory = dir;
    options.read_only = 1;
    if (st_store_open(&options, &store, &err) != JL_OK) {
        fprintf(stderr, "jialing backup: cannot open the store in %s: %s\n", dir, err.message);
        return 1;
    }
    int64_t started = jl_monotonic_ns();
    int rc = st_store_backup(store, out, &err);
    st_store_close(store);
    if (rc != JL_OK) {
        fprintf(stderr, "jialing backup: %s\n", err.message);
        return 1;
    }
    char data_path[4200];
    snprintf(data_path, sizeof data_path, "%s/data.mdb", out);
    long long bytes = stat(data_path, &sb) == 0 ? (long long)sb.st_size : -1;
    printf("backup of %s written to %s: %lld bytes in %.1f s\n", dir, out, bytes,
           (double)(jl_monotonic_ns() - started) / 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "import") == 0)
        return cmd_import(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect(argc - 1, argv + 1);
    if (strcmp(cmd, "backup") == 0)
        return cmd_backup(argc - 1, argv + 1);
    if (strcmp(cmd, "hj212-send") == 0)
        return cmd_hj212_send(argc - 1, argv + 1);
    return usage_error("unknown command '%s'", cmd);
}
