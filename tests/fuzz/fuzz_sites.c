/* Fuzz target for query/sites.c: any bytes as a sites file. A parse may fail (with a message) but
 * must not crash, read out of bounds or leak; a set that loads must give consistent lookups and a
 * listing that parses again as JSON. */
#include "jialing/sites.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    si_set *set = NULL;
    jl_error err;
    int rc = si_parse((const char *)data, size, "fuzz", &set, &err);
    if (rc != JL_OK) {
        if (set != NULL || err.message[0] == '\0')
            abort();
        return 0;
    }
    for (size_t i = 0; i < si_count(set); i++) {
        const si_site *site = si_at(set, i);
        if (si_find(set, site->id) != site || site->tag_count == 0)
            abort();
        if (si_by_district(set, site->district, NULL, 0) == 0)
            abort();
        qp_selector sel;
        if (si_selector(site, si_metric_for(site, "ph"), &sel, &err) != JL_OK)
            abort();
        qp_selector_destroy(&sel);
    }
    if (si_by_district(set, "all", NULL, 0) != si_count(set))
        abort();
    jl_buf out;
    jl_buf_init(&out);
    if (si_write_json(set, &out) != JL_OK)
        abort();
    json_error_t jerr;
    json_t *again = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, &jerr);
    if (again == NULL)
        abort();
    json_decref(again);
    jl_buf_destroy(&out);
    si_set_release(set);
    return 0;
}
