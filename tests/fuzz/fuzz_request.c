/* Fuzz target for query/request.c, the request parsers: the first byte picks an endpoint (query,
 * scan, listing, write, backup), the rest is split at '&' into key=value parameters (as the
 * server hands them over, already decoded) and parsed. A parse may fail, with a known code and a
 * message, but must not crash, read out of bounds or leak; what parses must be a request the
 * query functions accept the shape of (a range, a positive window, bounded lists). */
#include "jialing/request.h"
#include "jialing/serieskey.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FUZZ_PARAMS 64

static int fuzz_format(const char *text, int *format, jl_error *err)
{
    if (strcmp(text, "json") == 0 || strcmp(text, "csv") == 0) {
        *format = text[0] == 'c';
        return JL_OK;
    }
    return jl_error_set(err, JL_EINVAL, "format \"%.64s\" is not known", text);
}

/* A refusal must carry a code from the table and a message. */
static void check_refusal(int rc, const jl_error *err)
{
    if (rc == JL_OK)
        return;
    if (err->code != rc || strcmp(jl_strerror(rc), "unknown error") == 0 ||
        err->message[0] == '\0' || memchr(err->message, '\0', sizeof err->message) == NULL)
        abort();
}

static void check_selector(const qp_selector *selector)
{
    if (selector->metric == NULL || selector->matcher_count > QP_MAX_MATCHERS)
        abort();
}

static void fuzz_query(const rq_input *in)
{
    rq_query q;
    jl_error err;
    jl_error_clear(&err);
    int rc = rq_query_parse(in, &q, &err);
    check_refusal(rc, &err);
    if (rc == JL_OK) {
        const qx_query_request *r = &q.query;
        check_selector(&q.selector);
        if (r->selector != &q.selector || r->from_ms >= r->to_ms || r->zone != q.zone)
            abort();
        if (r->has_window &&
            (r->aggregate_count < 1 || r->aggregate_count > QX_MAX_AGGREGATES || r->window.ms < 0 ||
             r->window.months < 0 || (r->window.ms == 0 && r->window.months == 0)))
            abort();
        if (!r->has_window && (r->aggregate_count || r->group || r->min_count || r->shift_ms))
            abort();
        for (size_t i = 0; i < r->aggregate_count; i++)
            if (qx_aggregate_name(r->aggregates[i])[0] == '?' || r->percentiles[i] < 0 ||
                r->percentiles[i] > 100)
                abort();
        if (r->group_tag_count > QX_MAX_GROUP_TAGS)
            abort();
        for (size_t i = 0; i < r->group_tag_count; i++)
            if (!sk_name_valid(r->group_tags[i], strlen(r->group_tags[i])))
                abort();
    }
    rq_query_destroy(&q);
}

static void fuzz_scan(const rq_input *in)
{
    rq_scan s;
    jl_error err;
    jl_error_clear(&err);
    int rc = rq_scan_parse(in, &s, &err);
    check_refusal(rc, &err);
    if (rc == JL_OK) {
        check_selector(&s.selector);
        if (s.scan.selector != &s.selector || s.scan.from_ms >= s.scan.to_ms ||
            (unsigned)s.scan.compare > QX_LE || (unsigned)s.scan.output > QX_SCAN_DURATION ||
            s.scan.min_duration_ms < 0 || s.scan.max_gap_ms < 0)
            abort();
    }
    rq_scan_destroy(&s);
}

static void fuzz_listing(const rq_input *in)
{
    rq_listing l;
    jl_error err;
    jl_error_clear(&err);
    int rc = rq_listing_parse(in, &l, &err);
    check_refusal(rc, &err);
    if (rc == JL_OK)
        check_selector(&l.selector);
    rq_listing_destroy(&l);
}

static void fuzz_write_and_backup(const rq_input *in)
{
    jl_error err;
    jl_error_clear(&err);
    ig_precision precision;
    int rc = rq_write_parse(in, &precision, &err);
    check_refusal(rc, &err);
    if (rc == JL_OK && (unsigned)precision > IG_PRECISION_H)
        abort();
    jl_error_clear(&err);
    check_refusal(rq_backup_parse(in, &err), &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    rq_param params[MAX_FUZZ_PARAMS];
    size_t count = 0;
    char *save = NULL;
    for (char *part = strtok_r(text, "&", &save); part && count < MAX_FUZZ_PARAMS;
         part = strtok_r(NULL, "&", &save)) {
        char *equals = strchr(part, '=');
        if (equals)
            *equals = '\0';
        params[count].key = part;
        params[count++].value = equals ? equals + 1 : "";
    }
    rq_input in = {.params = params,
                   .param_count = count,
                   .now_ms = 1735689600000LL,
                   .format = 0,
                   .parse_format = fuzz_format,
                   .limits = {0}};
    switch (data[0] % 4) {
    case 0:
        fuzz_query(&in);
        break;
    case 1:
        fuzz_scan(&in);
        break;
    case 2:
        fuzz_listing(&in);
        break;
    default:
        fuzz_write_and_backup(&in);
        break;
    }
    free(text);
    return 0;
}
