/* jialingd: opens the store, optionally loads the demo data, serves HTTP, and shuts down in
 * order on SIGTERM/SIGINT (stop accepting, finish writes in flight, close LMDB). SIGHUP re-reads
 * the token file. With --hj212 it also runs the HJ 212 listener (server/hj212_listener.c),
 * stopped after HTTP and before the store closes, so its commits in flight finish. Signals are
 * taken synchronously with sigwait() in the main thread. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jialing/demo.h"
#include "jialing/public.h"
#include "jialing/server.h"

#include "hj212_listener.h"

static int is_loopback(const char *host)
{
    return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "::1") == 0 || strncmp(host, "127.", 4) == 0;
}

int main(int argc, char **argv)
{
    sv_config config;
    jl_error err;
    jl_error_clear(&err);
    int rc = sv_config_parse(&config, argc, argv, &err);
    if (rc == JL_ENOTFOUND) {
        fputs(sv_config_usage(), stdout);
        return 0;
    }
    if (rc != JL_OK) {
        fprintf(stderr, "jialingd: %s\n", err.message);
        return 2;
    }
    /* Every thread started from here on inherits the blocked set; main waits for them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    sv_context context;
    memset(&context, 0, sizeof context);
    context.config = &config;
    if (config.tokens_path) {
        if (au_tokens_load(config.tokens_path, &context.tokens, &err) != JL_OK) {
            fprintf(stderr, "jialingd: %s\n", err.message);
            return 1;
        }
    } else if (!is_loopback(config.listen_host)) {
        fprintf(stderr,
                "jialingd: no --tokens file, so listening on 127.0.0.1 only instead of %s\n",
                config.listen_host);
        snprintf(config.listen_host, sizeof config.listen_host, "127.0.0.1");
    }
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = config.data_directory;
    options.sync_full = config.sync_full;
    options.initial_map_bytes = config.initial_map_bytes;
    if (st_store_open(&options, &context.store, &err) != JL_OK) {
        fprintf(stderr, "jialingd: cannot open store in %s: %s\n", config.data_directory,
                err.message);
        au_tokens_free(context.tokens);
        return 1;
    }
    if (config.load_demo) {
        st_stats stats;
        if (st_store_stats(context.store, 0, &stats, &err) == JL_OK && stats.series == 0) {
            uint64_t readings = 0;
            if (dm_load(context.store, jl_now_ms(), &readings, &err) != JL_OK)
                fprintf(stderr, "jialingd: demo data not loaded: %s\n", err.message);
            else
                fprintf(stderr,
                        "jialingd: loaded %llu demo readings (try /api/v1/latest?series=pm25)\n",
                        (unsigned long long)readings);
        }
    }
    /* Started before HTTP, so that once /health answers the loggers' port is open too. */
    hl_listener *hj212 = NULL;
    if (config.hj212_enabled) {
        /* Without a stations file no logger is authenticated: like HTTP without tokens, only
         * local clients may write. */
        if (config.hj212_stations_path == NULL && !is_loopback(config.hj212_host)) {
            fprintf(stderr,
                    "jialingd: HJ 212: no stations file, so listening on 127.0.0.1 only instead "
                    "of %s\n",
                    config.hj212_host[0] ? config.hj212_host : "every address");
            snprintf(config.hj212_host, sizeof config.hj212_host, "127.0.0.1");
        }
        if (hl_start(&context, &hj212, &err) != JL_OK) {
            fprintf(stderr, "jialingd: %s\n", err.message);
            st_store_close(context.store);
            au_tokens_free(context.tokens);
            return 1;
        }
        long long offset_min = llabs(config.hj212_utc_offset_ms) / 60000;
        char stations[64];
        if (config.hj212_stations_path)
            snprintf(stations, sizeof stations, "%zu stations", hl_station_count(hj212));
        else
            snprintf(stations, sizeof stations, "no stations file: any MN and PW");
        fprintf(
            stderr, "jialingd: HJ 212 listening on %s:%u (DataTime at UTC%c%02lld:%02lld, %s)\n",
            config.hj212_host[0] ? config.hj212_host : "*", (unsigned)hl_port(hj212),
            config.hj212_utc_offset_ms < 0 ? '-' : '+', offset_min / 60, offset_min % 60, stations);
    }
    context.public_cache = pb_cache_create(PB_CACHE_MAX_AGE_MS);
    sv_http *http = NULL;
    if (context.public_cache == NULL) {
        jl_error_set(&err, JL_ENOMEM, "out of memory creating the public page's cache");
    }
    if (context.public_cache == NULL || sv_http_start(&context, &http, &err) != JL_OK) {
        fprintf(stderr, "jialingd: %s\n", err.message);
        hl_stop(hj212);
        pb_cache_destroy(context.public_cache);
        st_store_close(context.store);
        au_tokens_free(context.tokens);
        return 1;
    }
    fprintf(stderr, "jialingd: listening on http://%s:%u, data in %s, sync=%s%s\n",
            config.listen_host, (unsigned)sv_http_port(http), config.data_directory,
            config.sync_full ? "full"
                             : "none (unsafe: acknowledged writes may be lost on power loss)",
            context.tokens ? "" : ", no tokens (writes open to local clients)");
    for (;;) {
        int received = 0;
        if (sigwait(&signals, &received) != 0)
            continue;
        if (received == SIGHUP) {
            if (context.tokens != NULL) {
                if (au_tokens_reload(context.tokens, &err) == JL_OK)
                    fprintf(stderr, "jialingd: token file re-read\n");
                else
                    fprintf(stderr, "jialingd: token file not re-read, old tokens kept: %s\n",
                            err.message);
            }
            if (hj212 != NULL && (config.hj212_stations_path || config.hj212_codes_path)) {
                size_t stations = 0, codes = 0;
                if (hl_reload(hj212, &stations, &codes, &err) == JL_OK)
                    fprintf(stderr,
                            "jialingd: HJ 212 files re-read: %zu stations, %zu code names\n",
                            stations, codes);
                else
                    fprintf(stderr, "jialingd: HJ 212 files not re-read, old ones kept: %s\n",
                            err.message);
            }
            continue;
        }
        fprintf(stderr, "jialingd: %s received, stopping\n", strsignal(received));
        break;
    }
    sv_http_stop(http);
    hl_stop(hj212);
    pb_cache_destroy(context.public_cache);
    st_store_close(context.store);
    au_tokens_free(context.tokens);
    fprintf(stderr, "jialingd: stopped cleanly\n");
    return 0;
}
