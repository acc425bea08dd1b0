/* Fuzz target for the HJ 212 split-message assembler (query/ingest/hj212_assemble.c): the input
 * is a sequence of records, one a line, each a byte giving the time step ((byte % 64) * 1000 ms,
 * so expiry is reached) followed by a data segment. Segments that parse are fed to one assembler
 * (timeout 30 s, at most 4 pending messages, PNUM at most 8): every answer must be a held part,
 * a whole message whose parts are numbered 1..PNUM with one MN and QN, or a counted refusal with
 * a message; the pending count never passes its bound; every whole message maps to readings or
 * is refused with a message; the counters add up. */
#include "jialing/hj212.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t refusals(const hj_assembler_counters *c)
{
    return c->refused_pending + c->refused_pnum + c->refused_pno + c->refused_inconsistent;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hj_segment seg;
    hj_assembler *a = NULL;
    jl_error err;
    if (hj_assembler_new(30000, 4, 8, &a, &err) != JL_OK)
        return 0;
    st_batch batch;
    st_batch_init(&batch);
    hj_tag extra[1] = {{"station", "fuzz"}};
    int64_t now = 0;
    uint64_t completed = 0, refused = 0;
    size_t i = 0;
    while (i < size) {
        const uint8_t *line = data + i;
        const uint8_t *nl = memchr(line, '\n', size - i);
        size_t n = nl ? (size_t)(nl - line) : size - i;
        i += n + 1;
        if (n == 0)
            continue;
        now += (line[0] % 64) * 1000;
        if (hj_segment_parse((const char *)line + 1, n - 1, &seg, &err) != JL_OK)
            continue;
        hj_message *m = (hj_message *)&err;
        jl_error_clear(&err);
        int rc = hj_assembler_add(a, &seg, now, &m, &err);
        hj_assembler_counters c = hj_assembler_counters_get(a);
        if (hj_assembler_pending(a) > 4)
            abort();
        if (rc == JL_ENOMEM) {
            if (m != NULL)
                abort();
            continue;
        }
        if (rc != JL_OK) {
            if ((rc != JL_EINVAL && rc != JL_ELIMIT) || m != NULL || err.message[0] == '\0' ||
                refusals(&c) != refused + 1)
                abort();
            refused++;
            continue;
        }
        if (refusals(&c) != refused)
            abort();
        if (m == NULL)
            continue; /* held */
        if (m->count == 0 || (m->count > 1 && !m->parts[0].has_pnum))
            abort();
        if (m->parts[0].has_pnum) {
            completed++;
            if (m->count != m->parts[0].pnum || m->count > 8)
                abort();
            for (size_t k = 0; k < m->count; k++) {
                const hj_segment *p = &m->parts[k];
                if (p->pno != k + 1 || p->pnum != m->count || !p->has_pnum ||
                    strcmp(p->mn, m->parts[0].mn) != 0 || strcmp(p->qn, m->parts[0].qn) != 0 ||
                    p->pollutant_count > HJ_POLLUTANTS_MAX || strlen(p->cp) != p->cp_len)
                    abort();
            }
        }
        if (c.completed != completed)
            abort();
        size_t added = 0;
        st_batch_reset(&batch);
        rc = hj_message_to_batch(m, 8LL * 3600 * 1000, NULL, extra, 1, &batch, &added, &err);
        if (rc == JL_OK ? added != st_batch_point_count(&batch)
                        : (rc != JL_EINVAL && rc != JL_ENOMEM) || err.message[0] == '\0')
            abort();
        hj_message_free(m);
    }
    size_t before = hj_assembler_pending(a);
    hj_assembler_counters c0 = hj_assembler_counters_get(a);
    /* long enough after the last part for every held message to be too old */
    size_t dropped = hj_assembler_expire(a, now + 30001);
    hj_assembler_counters c1 = hj_assembler_counters_get(a);
    if (dropped != before || hj_assembler_pending(a) != 0 || c1.expired != c0.expired + dropped)
        abort();
    st_batch_destroy(&batch);
    hj_assembler_free(a);
    return 0;
}
