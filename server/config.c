/* Command-line flags of jialingd and their defaults. */
#include "jialing/server.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/health.h"
#include "jialing/params.h"

static const char usage[] =
    "usage: jialingd [flags]\n"
    "  --data DIR              data directory (default ./data)\n"
    "  --listen HOST:PORT      address to serve (default 127.0.0.1:8470)\n"
    "  --tokens FILE           token file, lines `TOKEN write|read|review [NAME]`; without it the "
    "server\n"
    "                          listens on 127.0.0.1 only\n"
    "  --private-reads         reads need a token too (with --tokens)\n"
    "  --public                with --private-reads, keep /public and its JSON open\n"
    "  --sync=full|none        fsync every commit (default full); none is unsafe on power loss\n"
    "  --demo                  load the demo data set when the store is empty (and, without\n"
    "                          --sites, use the demo's sites)\n"
    "  --max-body-bytes N      largest request body, up to 1 GiB (default 67108864)\n"
    "  --max-series N          series one query may touch (default 10000)\n"
    "  --max-rows N            rows in one response (default 2000000)\n"
    "  --max-windows N         windows per series in one query (default 1000000)\n"
    "  --query-timeout DUR     time limit of one query, e.g. 30s (default 30s)\n"
    "  --valid-flags LIST      device flags that flags=valid (the default) takes as valid,\n"
    "                          e.g. N,S (default N)\n"
    /* station health: how long after its last reading a station counts as offline */
    "  --offline-after DUR     a station is offline this long after its last reading, e.g. 15m\n"
    "                          (default 0: three times each series' usual cadence)\n"
    "  --threads N             HTTP worker threads, and as many for writes (default 8)\n"
    "  --max-connections N     open connections at most (default 512)\n"
    "  --connection-timeout S  idle connection timeout in seconds (default 30)\n"
    "  --map-size BYTES        initial LMDB map size; it grows on demand (default 64 GiB)\n"
    "  --backup-dir DIR        enable POST /api/v1/backup, which writes each backup to a new\n"
    "                          directory DIR/backup-<UTC time> (default: backups disabled)\n"
    "  --sites FILE            monitoring sites (JSON) for /api/v1/sites, water_quality, aqi;\n"
    "                          re-read on SIGHUP (default: none)\n"
    "  --retention DUR         keep readings this long, e.g. 400d or 3y; older whole chunks are\n"
    "                          deleted, older writes dropped (default 0: keep forever)\n"
    "  --retention-metric NAME=DUR  retention of one metric instead, e.g. pm25=3y (0: forever);\n"
    "                          repeat for more metrics\n"
    "  --hj212 HOST:PORT       accept HJ 212 data loggers over TCP there (default: off);\n"
    "                          without a stations file it listens on 127.0.0.1 only\n"
    "  --hj212-max-connections N  logger connections open at most (default 4096)\n"
    "  --hj212-idle-timeout S  close a logger connection after S seconds without a good\n"
    "                          frame (default 600)\n"
    "  --hj212-max-reply-bytes N  reply bytes queued per connection; beyond, it is closed\n"
    "                          (default 65536)\n"
    "  --hj212-tz OFFSET       UTC offset of the loggers' DataTime, e.g. +08:00 (default)\n"
    "  --hj212-stations FILE   stations, lines `MN PW [tag=value ...]`: only they may send,\n"
    "                          with their PW; their tags join their readings; SIGHUP re-reads\n"
    "  --hj212-codes FILE      pollutant code names, lines `code metric`, over the built-in\n"
    "                          table; SIGHUP re-reads\n"
    "  --hj212-split-timeout S  parts of a split message (PNUM/PNO) wait at most S seconds\n"
    "                          for the rest (default 120)\n"
    "  --rules FILE            alarm rules (JSON), evaluated as data arrives; events at\n"
    "                          /api/v1/events; re-read on SIGHUP (default: none)\n"
    "  --webhook URL           POST firing and resolved events (Alertmanager format) to this\n"
    "                          http:// receiver; may be given several times (default: none)\n";

const char *sv_config_usage(void)
{
    return usage;
}

void sv_config_defaults(sv_config *config)
{
    memset(config, 0, sizeof *config);
    config->data_directory = "./data";
    snprintf(config->listen_host, sizeof config->listen_host, "127.0.0.1");
    config->listen_port = 8470;
    config->sync_full = 1;
    config->max_body_bytes = 64u << 20;
    config->threads = 8;
    config->max_connections = 512;
    config->connection_timeout_s = 30;
    config->limits.max_series = 10000;
    config->limits.max_rows = QX_DEFAULT_MAX_ROWS;
    config->limits.max_windows = 1000000;
    config->limits.timeout_ms = 30000;
    config->limits.valid_flags = JL_FLAG_MASK_N;
    config->hj212_max_connections = 4096;
    config->hj212_idle_timeout_s = 600;
    config->hj212_max_reply_bytes = 65536;
    config->hj212_utc_offset_ms = 8 * 3600 * 1000;
    config->hj212_split_timeout_s = 120;
}

static int parse_count(const char *flag, const char *text, uint64_t min, uint64_t max,
                       uint64_t *out, jl_error *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (text[0] == '\0' || text[0] == '-' || *end != '\0' || errno != 0 || value < min ||
        value > max)
        return jl_error_set(err, JL_EINVAL,
                            "%s: expected a whole number from %llu to %llu, got \"%s\"", flag,
                            (unsigned long long)min, (unsigned long long)max, text);
    *out = value;
    return JL_OK;
}

/* retention: a duration (0 for none), months counted as mean Gregorian months. */
#define RETENTION_MONTH_MS 2629746000LL
static int parse_retention(const char *flag, const char *text, int64_t *out, jl_error *err)
{
    if (strcmp(text, "0") == 0) {
        *out = 0;
        return JL_OK;
    }
    qp_duration duration;
    jl_error detail;
    jl_error_clear(&detail);
    if (qp_parse_duration(text, &duration, &detail) != JL_OK)
        return jl_error_set(err, JL_EINVAL, "%s: %s", flag, detail.message);
    if (duration.months > (INT64_MAX - duration.ms) / RETENTION_MONTH_MS)
        return jl_error_set(err, JL_EINVAL, "%s: \"%s\" is too long", flag, text);
    *out = duration.ms + duration.months * RETENTION_MONTH_MS;
    return JL_OK;
}

static int parse_retention_rule(sv_config *config, const char *text, jl_error *err)
{
    const char *equals = strchr(text, '=');
    size_t name_len = equals ? (size_t)(equals - text) : 0;
    if (equals == NULL || !sk_name_valid(text, name_len))
        return jl_error_set(err, JL_EINVAL,
                            "--retention-metric: expected NAME=DUR with a metric name, got \"%s\"",
                            text);
    /* A metric named twice takes the last value. */
    size_t i = 0;
    while (i < config->retention_rule_count &&
           !(strlen(config->retention_metrics[i]) == name_len &&
             memcmp(config->retention_metrics[i], text, name_len) == 0))
        i++;
    if (i == SV_MAX_RETENTION_RULES)
        return jl_error_set(err, JL_EINVAL, "--retention-metric: at most %d metrics",
                            SV_MAX_RETENTION_RULES);
    int64_t ms = 0;
    int rc = parse_retention("--retention-metric", equals + 1, &ms, err);
    if (rc != JL_OK)
        return rc;
    memcpy(config->retention_metrics[i], text, name_len);
    config->retention_metrics[i][name_len] = '\0';
    config->retention_rules[i].metric = config->retention_metrics[i];
    config->retention_rules[i].ms = ms;
    if (i == config->retention_rule_count)
        config->retention_rule_count++;
    return JL_OK;
}

/* HOST:PORT (or [v6]:PORT) of flag into host (host_size bytes) and *port_out. */
static int parse_host_port(const char *flag, const char *text, char *host_out, size_t host_size,
                           uint16_t *port_out, jl_error *err)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text)
        return jl_error_set(err, JL_EINVAL, "%s: expected HOST:PORT, got \"%s\"", flag, text);
    size_t host_len = (size_t)(colon - text);
    const char *host = text;
    if (host[0] == '[' && host_len >= 2 && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    if (host_len >= host_size)
        return jl_error_set(err, JL_EINVAL, "%s: host name too long", flag);
    memcpy(host_out, host, host_len);
    host_out[host_len] = '\0';
    uint64_t port;
    char what[64];
    snprintf(what, sizeof what, "%s port", flag);
    int rc = parse_count(what, colon + 1, 0, 65535, &port, err);
    *port_out = (uint16_t)port;
    return rc;
}

int sv_config_parse(sv_config *config, int argc, char **argv, jl_error *err)
{
    sv_config_defaults(config);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = NULL;
        char flag[64];
        const char *equals = strchr(arg, '=');
        if (strncmp(arg, "--", 2) == 0 && equals && (size_t)(equals - arg) < sizeof flag) {
            memcpy(flag, arg, (size_t)(equals - arg));
            flag[equals - arg] = '\0';
            value = equals + 1;
        } else {
            snprintf(flag, sizeof flag, "%s", arg);
        }
        /* The usage text lists every flag as "  --name"; a flag not there is unknown. */
        char listed[80];
        snprintf(listed, sizeof listed, "  %s ", flag);
        if (strncmp(flag, "--", 2) != 0 && strcmp(flag, "-h") != 0)
            return jl_error_set(err, JL_EINVAL, "unexpected argument %s (see --help)", flag);
        if (strstr(usage, listed) == NULL && strcmp(flag, "--help") != 0 &&
            strcmp(flag, "-h") != 0 && strcmp(flag, "--sync") != 0)
            return jl_error_set(err, JL_EINVAL, "unknown flag %s (see --help)", flag);
        int takes_value = strcmp(flag, "--private-reads") != 0 && strcmp(flag, "--demo") != 0 &&
                          strcmp(flag, "--public") != 0 && strcmp(flag, "--help") != 0 &&
                          strcmp(flag, "-h") != 0;
        if (!takes_value && value != NULL)
            return jl_error_set(err, JL_EINVAL, "%s takes no value", flag);
        if (takes_value && value == NULL) {
            if (i + 1 >= argc)
                return jl_error_set(err, JL_EINVAL, "%s needs a value", flag);
            value = argv[++i];
        }
        uint64_t number = 0;
        int rc = JL_OK;
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            return jl_error_set(err, JL_ENOTFOUND, "help asked for");
        } else if (strcmp(flag, "--data") == 0) {
            config->data_directory = value;
        } else if (strcmp(flag, "--listen") == 0) {
            rc = parse_host_port(flag, value, config->listen_host, sizeof config->listen_host,
                                 &config->listen_port, err);
        } else if (strcmp(flag, "--tokens") == 0) {
            config->tokens_path = value;
        } else if (strcmp(flag, "--private-reads") == 0) {
            config->private_reads = 1;
        } else if (strcmp(flag, "--public") == 0) {
            config->public_page = 1;
        } else if (strcmp(flag, "--demo") == 0) {
            config->load_demo = 1;
        } else if (strcmp(flag, "--sync") == 0) {
            if (strcmp(value, "full") == 0)
                config->sync_full = 1;
            else if (strcmp(value, "none") == 0)
                config->sync_full = 0;
            else
                rc = jl_error_set(err, JL_EINVAL, "--sync: expected full or none, got \"%s\"",
                                  value);
        } else if (strcmp(flag, "--max-body-bytes") == 0) {
            rc = parse_count(flag, value, 1024, 1ull << 30, &number, err);
            config->max_body_bytes = (size_t)number;
        } else if (strcmp(flag, "--max-series") == 0) {
            rc = parse_count(flag, value, 1, 100000000, &number, err);
            config->limits.max_series = (size_t)number;
        } else if (strcmp(flag, "--max-rows") == 0) {
            rc = parse_count(flag, value, 1, 1ull << 40, &number, err);
            config->limits.max_rows = number;
        } else if (strcmp(flag, "--valid-flags") == 0) {
            jl_error detail;
            jl_error_clear(&detail);
            if (jl_flag_parse_list(value, strlen(value), &config->limits.valid_flags, &detail) !=
                JL_OK)
                rc = jl_error_set(err, JL_EINVAL, "--valid-flags: %s", detail.message);
        } else if (strcmp(flag, "--offline-after") == 0) {
            /* station health: "0" keeps the default, three times each series' cadence. */
            qp_duration duration = {0, 0};
            if (strcmp(value, "0") != 0) {
                jl_error detail;
                jl_error_clear(&detail);
                if (qp_parse_duration(value, &duration, &detail) != JL_OK || duration.months != 0)
                    rc = jl_error_set(err, JL_EINVAL,
                                      "--offline-after: expected 0 or a duration in ms, s, m, h, "
                                      "d or w, got \"%s\"",
                                      value);
            }
            if (rc == JL_OK && duration.ms > HL_MAX_OFFLINE_AFTER_MS)
                rc = jl_error_set(err, JL_EINVAL, "--offline-after: at most 366 days");
            config->offline_after_ms = duration.ms;
        } else if (strcmp(flag, "--max-windows") == 0) {
            rc = parse_count(flag, value, 1, 1ull << 40, &number, err);
            config->limits.max_windows = number;
        } else if (strcmp(flag, "--query-timeout") == 0) {
            qp_duration duration;
            rc = qp_parse_duration(value, &duration, err);
            if (rc == JL_OK && duration.months != 0)
                rc = jl_error_set(err, JL_EINVAL, "--query-timeout: use s, m or h");
            config->limits.timeout_ms = duration.ms;
        } else if (strcmp(flag, "--threads") == 0) {
            rc = parse_count(flag, value, 1, 1024, &number, err);
            config->threads = (unsigned)number;
        } else if (strcmp(flag, "--max-connections") == 0) {
            rc = parse_count(flag, value, 1, 1000000, &number, err);
            config->max_connections = (unsigned)number;
        } else if (strcmp(flag, "--connection-timeout") == 0) {
            rc = parse_count(flag, value, 1, 86400, &number, err);
            config->connection_timeout_s = (unsigned)number;
        } else if (strcmp(flag, "--backup-dir") == 0) {
            if (value[0] == '\0')
                rc = jl_error_set(err, JL_EINVAL, "--backup-dir: expected a directory");
            config->backup_directory = value;
        } else if (strcmp(flag, "--sites") == 0) {
            if (value[0] == '\0')
                rc = jl_error_set(err, JL_EINVAL, "--sites: expected a file");
            config->sites_path = value;
        } else if (strcmp(flag, "--rules") == 0) {
            if (value[0] == '\0')
                rc = jl_error_set(err, JL_EINVAL, "--rules: expected a file");
            config->rules_path = value;
        } else if (strcmp(flag, "--webhook") == 0) {
            if (config->webhook_count == sizeof config->webhook_urls / sizeof(char *))
                rc = jl_error_set(err, JL_EINVAL, "--webhook: at most 16 receivers");
            else
                config->webhook_urls[config->webhook_count++] = value;
        } else if (strcmp(flag, "--retention") == 0) {
            rc = parse_retention(flag, value, &config->retention_ms, err);
        } else if (strcmp(flag, "--retention-metric") == 0) {
            rc = parse_retention_rule(config, value, err);
        } else if (strcmp(flag, "--hj212") == 0) {
            rc = parse_host_port(flag, value, config->hj212_host, sizeof config->hj212_host,
                                 &config->hj212_port, err);
            config->hj212_enabled = 1;
        } else if (strcmp(flag, "--hj212-max-connections") == 0) {
            rc = parse_count(flag, value, 1, 1000000, &number, err);
            config->hj212_max_connections = (unsigned)number;
        } else if (strcmp(flag, "--hj212-idle-timeout") == 0) {
            rc = parse_count(flag, value, 1, 86400, &number, err);
            config->hj212_idle_timeout_s = (unsigned)number;
        } else if (strcmp(flag, "--hj212-max-reply-bytes") == 0) {
            rc = parse_count(flag, value, 1024, 1u << 30, &number, err);
            config->hj212_max_reply_bytes = (size_t)number;
        } else if (strcmp(flag, "--hj212-tz") == 0) {
            jl_error detail;
            jl_error_clear(&detail);
            if (qp_parse_utc_offset(value, &config->hj212_utc_offset_ms, &detail) != JL_OK)
                rc = jl_error_set(err, JL_EINVAL, "--hj212-tz: %s", detail.message);
        } else if (strcmp(flag, "--hj212-stations") == 0) {
            if (value[0] == '\0')
                rc = jl_error_set(err, JL_EINVAL, "--hj212-stations: expected a file");
            config->hj212_stations_path = value;
        } else if (strcmp(flag, "--hj212-codes") == 0) {
            if (value[0] == '\0')
                rc = jl_error_set(err, JL_EINVAL, "--hj212-codes: expected a file");
            config->hj212_codes_path = value;
        } else if (strcmp(flag, "--hj212-split-timeout") == 0) {
            rc = parse_count(flag, value, 1, 86400, &number, err);
            config->hj212_split_timeout_s = (unsigned)number;
        } else if (strcmp(flag, "--map-size") == 0) {
            rc = parse_count(flag, value, 1u << 20, 1ull << 44, &number, err);
            config->initial_map_bytes = number;
        } else {
            return jl_error_set(err, JL_EINVAL, "unknown flag %s (see --help)", flag);
        }
        if (rc != JL_OK)
            return rc;
    }
    return JL_OK;
}
