/* HJ 212 split messages: parts (PNUM/PNO) held by MN and QN until the set is whole, bounded in
 * count and age (include/jialing/hj212.h).
 *
 * A held part keeps its header fields and its CP text, not the parsed hj_segment: the text is at
 * most HJ_CP_MAX bytes where a parsed segment is over 6 KB, which is what keeps the worst case
 * (max_pending * max_pnum parts, all from the network) in tens of megabytes. The pollutants are
 * read again from the text when the message is handed back; hj_segment_parse() is deterministic,
 * so a CP it accepted once parses the same way again. The pending messages are a plain array
 * searched linearly: there are at most a few hundred, and a search is a few hundred strcmp. */
#include "jialing/hj212.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct held_part {
    int held;
    char qn[HJ_FIELD_MAX + 1], st[HJ_FIELD_MAX + 1], cn[HJ_FIELD_MAX + 1];
    char pw[HJ_FIELD_MAX + 1], mn[HJ_FIELD_MAX + 1];
    int has_qn, has_flag;
    unsigned flag;
    char *cp; /* NUL-terminated, cp_len bytes */
    size_t cp_len;
} held_part;

typedef struct pending {
    char mn[HJ_FIELD_MAX + 1], qn[HJ_FIELD_MAX + 1];
    unsigned pnum;
    unsigned have;    /* parts held */
    int64_t first_ms; /* arrival of the first part */
    held_part *parts; /* pnum entries; parts[pno - 1] */
} pending;

struct hj_assembler {
    int64_t timeout_ms;
    size_t max_pending;
    unsigned max_pnum;
    pending **pending; /* count entries of max_pending */
    size_t count;
    hj_assembler_counters counters;
};

static void pending_free(pending *p)
{
    if (p == NULL)
        return;
    for (unsigned i = 0; i < p->pnum; i++)
        free(p->parts[i].cp);
    free(p->parts);
    free(p);
}

int hj_assembler_new(int64_t timeout_ms, size_t max_pending, unsigned max_pnum, hj_assembler **out,
                     jl_error *err)
{
    *out = NULL;
    if (timeout_ms <= 0)
        return jl_error_set(err, JL_EINVAL, "HJ 212 split-message timeout must be positive");
    if (max_pnum > 9999)
        return jl_error_set(err, JL_EINVAL, "HJ 212 PNUM is at most 9999 (asked for %u)", max_pnum);
    hj_assembler *a = calloc(1, sizeof *a);
    if (a == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory creating an HJ 212 assembler");
    a->timeout_ms = timeout_ms;
    a->max_pending = max_pending ? max_pending : HJ_ASSEMBLE_PENDING_MAX;
    a->max_pnum = max_pnum ? max_pnum : HJ_ASSEMBLE_PNUM_MAX;
    a->pending = calloc(a->max_pending, sizeof *a->pending);
    if (a->pending == NULL) {
        free(a);
        return jl_error_set(err, JL_ENOMEM, "out of memory creating an HJ 212 assembler");
    }
    *out = a;
    return JL_OK;
}

void hj_assembler_free(hj_assembler *a)
{
    if (a == NULL)
        return;
    for (size_t i = 0; i < a->count; i++)
        pending_free(a->pending[i]);
    free(a->pending);
    free(a);
}

/* Removes pending entry i (order among the pending does not matter). */
static void remove_at(hj_assembler *a, size_t i)
{
    a->pending[i] = a->pending[--a->count];
    a->pending[a->count] = NULL;
}

size_t hj_assembler_expire(hj_assembler *a, int64_t now_ms)
{
    size_t dropped = 0;
    for (size_t i = 0; i < a->count;) {
        pending *p = a->pending[i];
        /* now_ms before first_ms (a clock stepped back) is age <= 0: kept until the clock
         * passes the first arrival plus the timeout. The subtraction is done so that it cannot
         * overflow for any int64 pair the caller's clock may give. */
        int old = now_ms > p->first_ms &&
                  (uint64_t)now_ms - (uint64_t)p->first_ms > (uint64_t)a->timeout_ms;
        if (old) {
            remove_at(a, i);
            pending_free(p);
            dropped++;
        } else {
            i++;
        }
    }
    a->counters.expired += dropped;
    return dropped;
}

size_t hj_assembler_pending(const hj_assembler *a)
{
    return a->count;
}

hj_assembler_counters hj_assembler_counters_get(const hj_assembler *a)
{
    return a->counters;
}

void hj_message_free(hj_message *m)
{
    if (m == NULL)
        return;
    free(m->parts);
    free(m);
}

/* Rebuilds part pno of p into *out: its header fields, and its pollutants read again from its
 * CP text. */
static int rebuild(const held_part *h, unsigned pnum, unsigned pno, hj_segment *out, jl_error *err)
{
    char text[HJ_CP_MAX + 64];
    int n = snprintf(text, sizeof text, "ST=0;CN=0;PW=0;MN=0;CP=&&%s&&", h->cp);
    if (n < 0 || (size_t)n >= sizeof text)
        return jl_error_set(err, JL_EINVAL, "PNO %u: CP longer than %d bytes", pno, HJ_CP_MAX);
    jl_error local;
    if (hj_segment_parse(text, (size_t)n, out, &local) != JL_OK)
        return jl_error_set(err, JL_EINVAL, "PNO %u: %s", pno, local.message);
    memcpy(out->qn, h->qn, sizeof out->qn);
    memcpy(out->st, h->st, sizeof out->st);
    memcpy(out->cn, h->cn, sizeof out->cn);
    memcpy(out->pw, h->pw, sizeof out->pw);
    memcpy(out->mn, h->mn, sizeof out->mn);
    out->has_qn = h->has_qn;
    out->has_flag = h->has_flag;
    out->flag = h->flag;
    out->has_pnum = 1;
    out->pnum = pnum;
    out->pno = pno;
    return JL_OK;
}

static int single(const hj_segment *seg, hj_message **out, jl_error *err)
{
    hj_message *m = calloc(1, sizeof *m);
    if (m != NULL && (m->parts = malloc(sizeof *m->parts)) == NULL) {
        free(m);
        m = NULL;
    }
    if (m == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory holding an HJ 212 message");
    m->count = 1;
    memcpy(m->parts, seg, sizeof *seg);
    *out = m;
    return JL_OK;
}

/* Hands back p (removed from the assembler at index i) as a whole message. */
static int complete(hj_assembler *a, size_t i, hj_message **out, jl_error *err)
{
    pending *p = a->pending[i];
    unsigned pnum = p->pnum;
    remove_at(a, i);
    hj_message *m = calloc(1, sizeof *m);
    if (m != NULL && (m->parts = calloc(p->pnum, sizeof *m->parts)) == NULL) {
        free(m);
        m = NULL;
    }
    int rc = JL_OK;
    if (m == NULL)
        rc = jl_error_set(err, JL_ENOMEM, "out of memory assembling an HJ 212 message");
    for (unsigned k = 0; rc == JL_OK && k < p->pnum; k++)
        rc = rebuild(&p->parts[k], p->pnum, k + 1, &m->parts[k], err);
    pending_free(p);
    if (rc != JL_OK) {
        hj_message_free(m);
        return rc;
    }
    m->count = pnum;
    a->counters.completed++;
    *out = m;
    return JL_OK;
}

/* For messages: 2005 packets may have no QN. */
#define QN_TEXT(seg) ((seg)->qn[0] ? (seg)->qn : "(none)")

int hj_assembler_add(hj_assembler *a, const hj_segment *seg, int64_t now_ms, hj_message **out,
                     jl_error *err)
{
    *out = NULL;
    hj_assembler_expire(a, now_ms);
    if (!seg->has_pnum)
        return single(seg, out, err);
    if (seg->pnum > a->max_pnum) {
        a->counters.refused_pnum++;
        return jl_error_set(err, JL_ELIMIT,
                            "MN %s QN %s: PNUM %u is over the limit of %u parts a message", seg->mn,
                            QN_TEXT(seg), seg->pnum, a->max_pnum);
    }
    if (seg->pno < 1 || seg->pno > seg->pnum) {
        a->counters.refused_pno++;
        return jl_error_set(err, JL_EINVAL, "MN %s QN %s: PNO %u is not in 1..%u", seg->mn,
                            QN_TEXT(seg), seg->pno, seg->pnum);
    }
    size_t i = 0;
    while (i < a->count &&
           (strcmp(a->pending[i]->mn, seg->mn) != 0 || strcmp(a->pending[i]->qn, seg->qn) != 0))
        i++;
    if (i < a->count && a->pending[i]->pnum != seg->pnum) {
        a->counters.refused_inconsistent++;
        return jl_error_set(err, JL_EINVAL,
                            "MN %s QN %s: PNUM %u differs from the %u of the message's first part",
                            seg->mn, QN_TEXT(seg), seg->pnum, a->pending[i]->pnum);
    }
    char *cp = malloc(seg->cp_len + 1);
    if (cp == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory holding an HJ 212 part");
    memcpy(cp, seg->cp, seg->cp_len);
    cp[seg->cp_len] = '\0';
    if (i == a->count) {
        if (a->count == a->max_pending) {
            free(cp);
            a->counters.refused_pending++;
            return jl_error_set(err, JL_ELIMIT,
                                "MN %s QN %s: %zu split messages are already incomplete", seg->mn,
                                QN_TEXT(seg), a->max_pending);
        }
        pending *p = calloc(1, sizeof *p);
        if (p != NULL && (p->parts = calloc(seg->pnum, sizeof *p->parts)) == NULL) {
            free(p);
            p = NULL;
        }
        if (p == NULL) {
            free(cp);
            return jl_error_set(err, JL_ENOMEM, "out of memory holding an HJ 212 part");
        }
        memcpy(p->mn, seg->mn, sizeof p->mn);
        memcpy(p->qn, seg->qn, sizeof p->qn);
        p->pnum = seg->pnum;
        p->first_ms = now_ms;
        a->pending[a->count++] = p;
    }
    pending *p = a->pending[i];
    held_part *h = &p->parts[seg->pno - 1];
    if (h->held) {
        free(h->cp);
        a->counters.replaced++;
    } else {
        p->have++;
    }
    h->held = 1;
    memcpy(h->qn, seg->qn, sizeof h->qn);
    memcpy(h->st, seg->st, sizeof h->st);
    memcpy(h->cn, seg->cn, sizeof h->cn);
    memcpy(h->pw, seg->pw, sizeof h->pw);
    memcpy(h->mn, seg->mn, sizeof h->mn);
    h->has_qn = seg->has_qn;
    h->has_flag = seg->has_flag;
    h->flag = seg->flag;
    h->cp = cp;
    h->cp_len = seg->cp_len;
    if (p->have < p->pnum)
        return JL_OK;
    return complete(a, i, out, err);
}

int hj_message_to_batch(const hj_message *m, int64_t utc_offset_ms, const hj_code_table *codes,
                        const hj_tag *extra_tags, size_t extra_count, st_batch *batch,
                        size_t *added, jl_error *err)
{
    *added = 0;
    const hj_segment *dated = NULL; /* the lowest-numbered part with a DataTime */
    for (size_t i = 0; i < m->count && dated == NULL; i++)
        if (m->parts[i].has_datatime)
            dated = &m->parts[i];
    hj_segment *copy = NULL;
    int rc = JL_OK;
    for (size_t i = 0; rc == JL_OK && i < m->count; i++) {
        const hj_segment *part = &m->parts[i];
        if (!part->has_datatime && dated != NULL) {
            if (copy == NULL && (copy = malloc(sizeof *copy)) == NULL) {
                rc = jl_error_set(err, JL_ENOMEM, "out of memory mapping an HJ 212 message");
                break;
            }
            memcpy(copy, part, sizeof *copy);
            copy->has_datatime = 1;
            copy->datatime = dated->datatime;
            part = copy;
        }
        size_t n = 0;
        jl_error local;
        jl_error_clear(&local);
        rc = hj_segment_to_batch_tagged(part, utc_offset_ms, codes, extra_tags, extra_count, batch,
                                        &n, &local);
        *added += n;
        if (rc != JL_OK) {
            if (part->has_pnum)
                jl_error_set(err, rc, "PNO %u: %s", part->pno, local.message);
            else
                jl_error_set(err, rc, "%s", local.message);
        }
    }
    free(copy);
    return rc;
}
