/* Fuzz target for the HJ 212 data-segment parser (query/ingest/hj212_segment.c): any input must
 * either be refused with JL_EINVAL or JL_ELIMIT and a message, or give a segment within its
 * limits (NUL-terminated fields, at most HJ_POLLUTANTS_MAX codes, finite values, upper-case flag
 * letters, a real calendar DataTime), whose 9014 reply parses back with the same QN, PW and MN. */
#include "jialing/hj212.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_field(const char *s)
{
    if (memchr(s, '\0', HJ_FIELD_MAX + 1) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hj_segment seg, back;
    jl_error err;
    jl_error_clear(&err);
    int rc = hj_segment_parse((const char *)data, size, &seg, &err);
    if (rc != JL_OK) {
        if ((rc != JL_EINVAL && rc != JL_ELIMIT) || err.code != rc || err.message[0] == '\0')
            abort();
        return 0;
    }
    check_field(seg.qn);
    check_field(seg.st);
    check_field(seg.cn);
    check_field(seg.pw);
    check_field(seg.mn);
    if (seg.cn[0] == '\0' || seg.st[0] == '\0' || seg.pw[0] == '\0' || seg.mn[0] == '\0')
        abort();
    if (seg.has_qn != (seg.qn[0] != '\0') || (seg.has_qn && strlen(seg.qn) != 17))
        abort();
    if (seg.flag > 255 || seg.cp_len > HJ_CP_MAX || strlen(seg.cp) != seg.cp_len)
        abort();
    if (seg.has_pnum && (seg.pno == 0 || seg.pno > seg.pnum || seg.pnum > 9999))
        abort();
    if (seg.pollutant_count > HJ_POLLUTANTS_MAX)
        abort();
    if (seg.has_datatime) {
        const hj_datetime *t = &seg.datatime;
        if (t->month < 1 || t->month > 12 || t->day < 1 || t->day > 31 || t->hour > 23 ||
            t->minute > 59 || t->second > 59 || t->ms < 0 || t->ms > 999)
            abort();
    }
    for (size_t i = 0; i < seg.pollutant_count; i++) {
        const hj_pollutant *p = &seg.pollutants[i];
        if (memchr(p->code, '\0', HJ_CODE_MAX + 1) == NULL || p->code[0] == '\0')
            abort();
        if (!isfinite(p->rtd) || !isfinite(p->avg) || !isfinite(p->min) || !isfinite(p->max) ||
            !isfinite(p->cou))
            abort();
        if (p->flag != 0 && (p->flag < 'A' || p->flag > 'Z'))
            abort();
        if (p->have == 0 && p->flag == 0)
            abort();
        if (hj_segment_pollutant(&seg, p->code) != p)
            abort();
    }
    jl_buf reply;
    jl_buf_init(&reply);
    if (hj_reply_9014(&seg, &reply) != JL_OK || reply.len < 12)
        abort();
    if (hj_segment_parse(reply.data + 6, reply.len - 12, &back, &err) != JL_OK)
        abort();
    if (strcmp(back.cn, "9014") != 0 || strcmp(back.qn, seg.qn) != 0 ||
        strcmp(back.pw, seg.pw) != 0 || strcmp(back.mn, seg.mn) != 0 || back.flag != 4)
        abort();
    jl_buf_destroy(&reply);

    /* Mapping to readings: at most five per code (value, _min, _max, _cou), each finite with a
     * stored flag code, or a refusal with a message. */
    st_batch batch;
    st_batch_init(&batch);
    size_t added = 0;
    rc = hj_segment_to_batch(&seg, 8LL * 3600 * 1000, &batch, &added, &err);
    if (rc == JL_OK) {
        if (added != st_batch_point_count(&batch) || added > 5 * seg.pollutant_count)
            abort();
        for (size_t i = 0; i < added; i++)
            if (st_batch_point_flag(&batch, i) >= JL_FLAG_COUNT ||
                !isfinite(st_batch_point_value(&batch, i)))
                abort();
    } else if (rc != JL_EINVAL || err.message[0] == '\0') {
        abort();
    }
    st_batch_destroy(&batch);
    return 0;
}
