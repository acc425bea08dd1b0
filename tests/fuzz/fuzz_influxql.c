/* Fuzz target for query/influxql.c: the bytes as the `q` of /query go to iq_parse(), and every
 * SELECT that parses is planned. A parse may fail but must not crash, read out of bounds or leak;
 * what parses must be well-formed. */
#include "jialing/influxql.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    iq_query q;
    jl_error err;
    if (iq_parse((const char *)data, size, 1700000000000LL, &q, &err) == JL_OK) {
        if (q.count == 0 || q.count > IQ_MAX_STATEMENTS)
            abort();
        for (size_t i = 0; i < q.count; i++) {
            const iq_statement *st = &q.statements[i];
            if (st->kind == IQ_SELECT) {
                if (st->measurement == NULL || st->field == NULL || st->column_count == 0)
                    abort();
                iq_plan plan;
                qx_limits limits = {0};
                if (iq_plan_select(st, 1700000000000LL, &limits, &plan, &err) == JL_OK &&
                    plan.request.selector == NULL)
                    abort();
                iq_plan_destroy(&plan);
            }
        }
    }
    iq_query_destroy(&q);
    return 0;
}
