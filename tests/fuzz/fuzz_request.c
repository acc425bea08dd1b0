/* Fuzz target for query/request.c, the request parsers: the first byte picks an endpoint (query,
 * scan, listing, write, backup), the rest is split at '&' into key=value parameters (as the
 * server hands them over, already decoded) and parsed. A parse may fail, with a known code and a
 * message, but must not crash, read out of bounds or leak; what parses must be a request the
 * query functions accept the shape of (a range, a positive window, bounded lists). */
#include "jialing/request.h"
#include "jialing/serieskey.h"
#include "split_params.h"

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

static void check_query(const rq_read *read)
{
    const qx_query_request *r = &read->query;
    if (r->selector != &read->selector || r->from_ms >= r->to_ms || r->zone != read->zone)
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

static void check_scan(const rq_read *read)
{
    const qx_scan_request *s = &read->scan;
    if (s->selector != &read->selector || s->from_ms >= s->to_ms || (unsigned)s->compare > QX_LE ||
        (unsigned)s->output > QX_SCAN_DURATION || s->min_duration_ms < 0 || s->max_gap_ms < 0)
        abort();
}

static void fuzz_read(rq_endpoint endpoint, const rq_input *in)
{
    rq_read read;
    jl_error err;
    jl_error_clear(&err);
    int rc = rq_read_parse(endpoint, in, &read, &err);
    check_refusal(rc, &err);
    if (rc == JL_OK) {
        if (read.selector.metric == NULL || read.selector.matcher_count > QP_MAX_MATCHERS)
            abort();
        if (endpoint == RQ_QUERY)
            check_query(&read);
        else if (endpoint == RQ_SCAN)
            check_scan(&read);
    }
    rq_read_destroy(&read);
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
    char *text = fuzz_text_after_selector(data, size);
    if (text == NULL)
        return 0;
    rq_param params[MAX_FUZZ_PARAMS];
    size_t count = fuzz_split_params(text, params, MAX_FUZZ_PARAMS);
    rq_input in = {.params = params,
                   .param_count = count,
                   .now_ms = 1735689600000LL,
                   .format = 0,
                   .parse_format = fuzz_format,
                   .limits = {0}};
    if (data[0] % 4 == 3)
        fuzz_write_and_backup(&in);
    else
        fuzz_read((rq_endpoint)(data[0] % 4), &in);
    free(text);
    return 0;
}
