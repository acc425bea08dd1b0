/* jialingd: opens the store, optionally loads the demo data, serves HTTP, and shuts down in
 * order on SIGTERM/SIGINT (stop accepting, finish writes in flight, close LMDB). SIGHUP re-reads
 * the token file, the sites file, the HJ 212 stations and codes files and the alarm rules (a
 * bad one keeps the old). With --hj212 it also runs the HJ 212 listener (server/hj212_listener.c),
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
#include "jialing/sites.h"
#include "events_http.h"

/* Halts the evaluator (nothing more is announced), stops the notifier (no delivery report comes
 * after it), then frees the evaluator, storing the reports that came in meanwhile: freed before
 * the notifier stopped, a report on the notifier's thread could reach a freed evaluator. */
static void al_sv_stop(sv_config *config)
{
    al_evaluator *alarms = config->alarms;
    if (alarms)
        al_evaluator_flush(alarms);
    al_evaluator_halt(alarms);
    wh_notifier_stop(config->notifier);
    config->notifier = NULL;
    __atomic_store_n(&config->alarms, NULL, __ATOMIC_SEQ_CST);
    al_evaluator_stop(alarms);
}

/* The valid set of the rules' "flags": "valid", as --valid-flags gives it to queries. */
static jl_flag_mask valid_mask(const sv_config *config)
{
    return config->limits.valid_flags ? config->limits.valid_flags : JL_FLAG_MASK_N;
}

/* Starts the notifier (with --webhook) and the evaluator (with --rules) over the open store; the
 * rules were checked before the store opened. JL_OK or an error in err. */
static int start_alarms(sv_config *config, st_store *store, al_rules *rules, jl_error *err)
{
    if (config->webhook_count) {
        wh_options w;
        memset(&w, 0, sizeof w);
        w.urls = config->webhook_urls;
        w.url_count = config->webhook_count;
        w.on_delivered = sv_alarm_delivered;
        w.ctx = config;
        int rc = wh_notifier_start(&w, &config->notifier, err);
        if (rc != JL_OK) {
            al_rules_free(rules);
            return rc;
        }
    }
    if (config->rules_path == NULL)
        return JL_OK;
    al_options options;
    memset(&options, 0, sizeof options);
    options.notify = sv_alarm_notify;
    options.notify_ctx = config;
    /* Delivery reports may come as soon as the evaluator offers its first documents, before
     * al_evaluator_start returns: they are dropped (config->alarms is still NULL) and those
     * states offered again at the next start, which the receiver's key check absorbs. */
    return al_evaluator_start(store, rules, &options, &config->alarms, err);
}

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
    /* The sites file is checked before the store opens, so a bad one is refused at once. */
    static si_registry sites;
    if (config.sites_path) {
        if (si_registry_init(&sites, config.sites_path) != JL_OK ||
            si_registry_reload(&sites, &err) != JL_OK) {
            fprintf(stderr, "jialingd: %s\n",
                    err.message[0] ? err.message : "out of memory reading the sites file");
            au_tokens_free(context.tokens);
            return 1;
        }
        config.sites = &sites;
    } else if (config.load_demo) {
        /* --demo without --sites: the demo's own sites, so that aqi, water_quality and
         * assessment answer at once. Not a file: SIGHUP has nothing to re-read, and --sites
         * keeps its meaning (when given, it alone is used). */
        si_set *set = NULL;
        const char *json = dm_sites_json();
        if (si_registry_init(&sites, NULL) != JL_OK ||
            si_parse(json, strlen(json), "demo sites", &set, &err) != JL_OK) {
            fprintf(stderr, "jialingd: %s\n",
                    err.message[0] ? err.message : "out of memory reading the demo sites");
            au_tokens_free(context.tokens);
            return 1;
        }
        si_registry_install(&sites, set);
        config.sites = &sites;
    }
    /* The rules too: a bad file is refused before the store opens. */
    al_rules rules;
    memset(&rules, 0, sizeof rules);
    if (config.rules_path &&
        al_rules_load(config.rules_path, valid_mask(&config), &rules, &err) != JL_OK) {
        fprintf(stderr, "jialingd: %s\n", err.message);
        au_tokens_free(context.tokens);
        if (config.sites != NULL)
            si_registry_destroy(config.sites);
        return 1;
    }
    if (config.webhook_count && config.rules_path == NULL)
        fprintf(stderr, "jialingd: --webhook without --rules: nothing will be sent\n");
    st_options options;
    memset(&options, 0, sizeof options);
    options.directory = config.data_directory;
    options.sync_full = config.sync_full;
    options.initial_map_bytes = config.initial_map_bytes;
    options.retention_ms = config.retention_ms;
    options.retention_rules = config.retention_rules;
    options.retention_rule_count = config.retention_rule_count;
    if (st_store_open(&options, &context.store, &err) != JL_OK) {
        fprintf(stderr, "jialingd: cannot open store in %s: %s\n", config.data_directory,
                err.message);
        al_rules_free(&rules);
        au_tokens_free(context.tokens);
        if (config.sites != NULL)
            si_registry_destroy(config.sites);
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
                        "jialingd: loaded %llu demo readings (try /api/v1/latest?series=pm25 "
                        "or /api/v1/sites)\n",
                        (unsigned long long)readings);
        }
    }
    if (start_alarms(&config, context.store, &rules, &err) != JL_OK) {
        fprintf(stderr, "jialingd: alarms not started: %s\n", err.message);
        wh_notifier_stop(config.notifier);
        st_store_close(context.store);
        au_tokens_free(context.tokens);
        if (config.sites != NULL)
            si_registry_destroy(config.sites);
        return 1;
    }
    /* Started before HTTP, so that once /health answers the loggers' port is open too. */
    hs_listener *hj212 = NULL;
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
        if (hs_start(&context, &hj212, &err) != JL_OK) {
            fprintf(stderr, "jialingd: %s\n", err.message);
            al_sv_stop(&config);
            st_store_close(context.store);
            au_tokens_free(context.tokens);
            return 1;
        }
        long long offset_min = llabs(config.hj212_utc_offset_ms) / 60000;
        char stations[64];
        if (config.hj212_stations_path)
            snprintf(stations, sizeof stations, "%zu stations", hs_station_count(hj212));
        else
            snprintf(stations, sizeof stations, "no stations file: any MN and PW");
        fprintf(
            stderr, "jialingd: HJ 212 listening on %s:%u (DataTime at UTC%c%02lld:%02lld, %s)\n",
            config.hj212_host[0] ? config.hj212_host : "*", (unsigned)hs_port(hj212),
            config.hj212_utc_offset_ms < 0 ? '-' : '+', offset_min / 60, offset_min % 60, stations);
    }
    context.public_cache = pb_cache_create(PB_CACHE_MAX_AGE_MS);
    sv_http *http = NULL;
    if (context.public_cache == NULL) {
        jl_error_set(&err, JL_ENOMEM, "out of memory creating the public page's cache");
    }
    if (context.public_cache == NULL || sv_http_start(&context, &http, &err) != JL_OK) {
        fprintf(stderr, "jialingd: %s\n", err.message);
        hs_stop(hj212);
        pb_cache_destroy(context.public_cache);
        al_sv_stop(&config);
        st_store_close(context.store);
        au_tokens_free(context.tokens);
        if (config.sites != NULL)
            si_registry_destroy(config.sites);
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
            if (config.alarms != NULL) {
                al_rules fresh;
                if (al_rules_load(config.rules_path, valid_mask(&config), &fresh, &err) == JL_OK) {
                    size_t count = fresh.count;
                    if (al_evaluator_reload(config.alarms, &fresh, &err) == JL_OK)
                        fprintf(stderr, "jialingd: rules file re-read (%zu rules)\n", count);
                    else
                        fprintf(stderr, "jialingd: rules not replaced: %s\n", err.message);
                } else {
                    fprintf(stderr, "jialingd: rules file not re-read, old rules kept: %s\n",
                            err.message);
                }
            }
            if (config.sites != NULL && config.sites_path != NULL) {
                if (si_registry_reload(config.sites, &err) == JL_OK)
                    fprintf(stderr, "jialingd: sites file re-read (%zu sites)\n",
                            si_count(config.sites->current));
                else
                    fprintf(stderr, "jialingd: sites file not re-read, old sites kept: %s\n",
                            err.message);
            }
            if (context.tokens != NULL) {
                if (au_tokens_reload(context.tokens, &err) == JL_OK)
                    fprintf(stderr, "jialingd: token file re-read\n");
                else
                    fprintf(stderr, "jialingd: token file not re-read, old tokens kept: %s\n",
                            err.message);
            }
            if (hj212 != NULL && (config.hj212_stations_path || config.hj212_codes_path)) {
                size_t stations = 0, codes = 0;
                if (hs_reload(hj212, &stations, &codes, &err) == JL_OK)
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
    hs_stop(hj212);
    pb_cache_destroy(context.public_cache);
    /* The evaluator first (it stores events and hands documents to the notifier), then the
     * notifier (whose delivery reports the evaluator would store), then the store. */
    al_sv_stop(&config);
    st_store_close(context.store);
    au_tokens_free(context.tokens);
    if (config.sites != NULL)
        si_registry_destroy(config.sites);
    fprintf(stderr, "jialingd: stopped cleanly\n");
    return 0;
}
