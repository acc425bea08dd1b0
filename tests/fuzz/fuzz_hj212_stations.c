/* Fuzz target for the HJ 212 stations and codes files (query/ingest/hj212_stations.c, the codes
 * table in hj212_map.c): any text is either refused with JL_EINVAL naming a line that exists, or
 * gives a table whose stations are in strictly increasing MN order, each found by its MN, with a
 * valid MN and PW and tags that build a series key beside mn and cn; a codes table gives valid
 * metric names for its codes. */
#include "jialing/hj212.h"
#include "jialing/serieskey.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long lines_in(const uint8_t *data, size_t size)
{
    long n = 1;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            n++;
    return n;
}

static void check_refusal(int rc, const jl_error *err, const uint8_t *data, size_t size)
{
    if (rc == JL_ENOMEM)
        return;
    if (rc != JL_EINVAL || err->code != rc || strncmp(err->message, "line ", 5) != 0 ||
        err->line < 1 || err->line > lines_in(data, size))
        abort();
}

static int id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HJ_FIELD_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || strchr(";=&,", s[i]))
            return 0;
    return 1;
}

static void check_stations(const hj_stations *t)
{
    size_t count = hj_stations_count(t);
    jl_buf key;
    jl_buf_init(&key);
    for (size_t i = 0; i < count; i++) {
        const hj_station *s = hj_stations_at(t, i);
        if (i > 0 && strcmp(hj_stations_at(t, i - 1)->mn, s->mn) >= 0)
            abort();
        if (hj_stations_find(t, s->mn) != s || !id_valid(s->mn) || !id_valid(s->pw) ||
            s->tag_count > HJ_STATION_TAGS_MAX || s->line < 1)
            abort();
        sk_tag tags[2 + HJ_STATION_TAGS_MAX] = {{{"cn", 2}, {"2011", 4}}, {{"mn", 2}, {"x", 1}}};
        for (size_t k = 0; k < s->tag_count; k++)
            tags[2 + k] = (sk_tag){{s->tags[k].key, strlen(s->tags[k].key)},
                                   {s->tags[k].value, strlen(s->tags[k].value)}};
        key.len = 0;
        jl_error err;
        int rc = sk_build((sk_text){"m", 1}, tags, 2 + s->tag_count, &key, &err);
        if (rc != JL_OK && rc != JL_ENOMEM)
            abort();
    }
    jl_buf_destroy(&key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jl_error err;
    jl_error_clear(&err);
    hj_stations *t = NULL;
    int rc = hj_stations_parse((const char *)data, size, &t, &err);
    if (rc == JL_OK)
        check_stations(t);
    else if (t != NULL)
        abort();
    else
        check_refusal(rc, &err, data, size);
    hj_stations_free(t);

    hj_code_table *codes = NULL;
    jl_error_clear(&err);
    rc = hj_codes_parse((const char *)data, size, &codes, &err);
    if (rc == JL_OK) {
        /* every metric, with the longest suffix mapping adds, is a valid name */
        for (size_t i = 0; i < size; i++) {
            /* look up the code that starts each line */
            if (i > 0 && data[i - 1] != '\n')
                continue;
            char code[HJ_CODE_MAX + 1];
            size_t n = 0;
            while (i + n < size && n < HJ_CODE_MAX && data[i + n] > 0x20 && data[i + n] < 0x7f)
                n++;
            memcpy(code, data + i, n);
            code[n] = '\0';
            char name[HJ_METRIC_MAX + HJ_CODE_MAX + 8];
            if (hj_codes_metric_name(codes, code, name, sizeof name) != JL_OK)
                abort();
            const char *metric = hj_codes_metric(codes, code);
            if (metric != NULL &&
                (!sk_name_valid(metric, strlen(metric)) || strlen(metric) > HJ_METRIC_MAX))
                abort();
        }
    } else if (codes != NULL) {
        abort();
    } else {
        check_refusal(rc, &err, data, size);
    }
    hj_codes_free(codes);
    return 0;
}
