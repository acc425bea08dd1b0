/* HJ 212 data-segment parser and the 9014 reply builder (jialing/hj212.h).
 *
 * The header is a run of key=value fields separated by ';' up to "CP=&&", which must be the last
 * field: CP's own content uses ';' too, so it is found by its key and closed by the "&&" that
 * ends the segment. Everything is copied into fixed arrays of hj_segment: no allocation, and
 * every length is checked against its array before copying. */
#include "jialing/hj212.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return n > 0;
}

/* Reads n (<= 9) digits as an unsigned number; the caller checked they are digits. */
static unsigned digits_value(const char *s, size_t n)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(s[i] - '0');
    return v;
}

static int copy_field(char *dst, const char *name, const char *v, size_t n, int digits,
                      jl_error *err)
{
    if (n == 0)
        return jl_error_set(err, JL_EINVAL, "%s: empty", name);
    if (n > HJ_FIELD_MAX)
        return jl_error_set(err, JL_EINVAL, "%s: longer than %d bytes", name, HJ_FIELD_MAX);
    if (digits && !all_digits(v, n))
        return jl_error_set(err, JL_EINVAL, "%s: not digits", name);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
            return jl_error_set(err, JL_EINVAL, "%s: control character", name);
    memcpy(dst, v, n);
    dst[n] = '\0';
    return JL_OK;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_datetime(const char *v, size_t n, hj_datetime *dt, jl_error *err)
{
    if ((n != 14 && n != 17) || !all_digits(v, n))
        return jl_error_set(err, JL_EINVAL, "CP: DataTime: not 14 or 17 digits");
    dt->year = (int)digits_value(v, 4);
    dt->month = (int)digits_value(v + 4, 2);
    dt->day = (int)digits_value(v + 6, 2);
    dt->hour = (int)digits_value(v + 8, 2);
    dt->minute = (int)digits_value(v + 10, 2);
    dt->second = (int)digits_value(v + 12, 2);
    dt->ms = n == 17 ? (int)digits_value(v + 14, 3) : 0;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (dt->month < 1 || dt->month > 12)
        return jl_error_set(err, JL_EINVAL, "CP: DataTime: month out of range");
    int dim = mdays[dt->month - 1] + (dt->month == 2 && is_leap(dt->year));
    if (dt->day < 1 || dt->day > dim)
        return jl_error_set(err, JL_EINVAL, "CP: DataTime: day out of range");
    if (dt->hour > 23 || dt->minute > 59 || dt->second > 59)
        return jl_error_set(err, JL_EINVAL, "CP: DataTime: time of day out of range");
    return JL_OK;
}

/* Strict decimal: [+-]digits[.digits] (digits on at least one side of the point), nothing else:
 * no exponent, no hex, no inf/nan, no spaces. */
static int parse_number(const char *v, size_t n, double *out)
{
    size_t i = 0, digits = 0;
    if (i < n && (v[i] == '+' || v[i] == '-'))
        i++;
    while (i < n && v[i] >= '0' && v[i] <= '9')
        i++, digits++;
    if (i < n && v[i] == '.') {
        i++;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++, digits++;
    }
    if (i != n || digits == 0 || n > 40)
        return -1;
    char tmp[48];
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    double d = strtod(tmp, NULL);
    if (!isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static const struct {
    const char *suffix;
    unsigned bit;
} value_suffixes[] = {{"Rtd", HJ_HAVE_RTD},
                      {"Avg", HJ_HAVE_AVG},
                      {"Min", HJ_HAVE_MIN},
                      {"Max", HJ_HAVE_MAX},
                      {"Cou", HJ_HAVE_COU}};

static hj_pollutant *find_or_add(hj_segment *seg, const char *code, size_t n, jl_error *err)
{
    for (size_t i = 0; i < seg->pollutant_count; i++)
        if (strlen(seg->pollutants[i].code) == n && memcmp(seg->pollutants[i].code, code, n) == 0)
            return &seg->pollutants[i];
    if (seg->pollutant_count == HJ_POLLUTANTS_MAX) {
        jl_error_set(err, JL_ELIMIT, "CP: more than %d pollutant codes", HJ_POLLUTANTS_MAX);
        return NULL;
    }
    hj_pollutant *p = &seg->pollutants[seg->pollutant_count++];
    memset(p, 0, sizeof *p);
    memcpy(p->code, code, n);
    p->code[n] = '\0';
    return p;
}

/* One CP item key=value (key[0..kn), v[0..vn)); unknown keys are accepted and left in cp. */
static int parse_cp_item(hj_segment *seg, const char *key, size_t kn, const char *v, size_t vn,
                         jl_error *err)
{
    if (kn == 8 && memcmp(key, "DataTime", 8) == 0) {
        if (seg->has_datatime)
            return jl_error_set(err, JL_EINVAL, "CP: DataTime: given twice");
        seg->has_datatime = 1;
        return parse_datetime(v, vn, &seg->datatime, err);
    }
    const char *dash = NULL;
    for (size_t i = kn; i > 0; i--)
        if (key[i - 1] == '-') {
            dash = key + i - 1;
            break;
        }
    if (dash == NULL)
        return JL_OK;
    size_t cn = (size_t)(dash - key), sn = kn - cn - 1;
    const char *suffix = dash + 1;
    unsigned bit = 0;
    int is_flag = sn == 4 && memcmp(suffix, "Flag", 4) == 0;
    for (size_t s = 0; s < sizeof value_suffixes / sizeof *value_suffixes; s++)
        if (sn == 3 && memcmp(suffix, value_suffixes[s].suffix, 3) == 0)
            bit = value_suffixes[s].bit;
    if (!is_flag && bit == 0)
        return JL_OK; /* -Info, -ZsRtd, -SampleTime, -EFlag ...: not ours */
    if (cn == 0)
        return jl_error_set(err, JL_EINVAL, "CP: %.*s: empty pollutant code", (int)kn, key);
    if (cn > HJ_CODE_MAX)
        return jl_error_set(err, JL_EINVAL, "CP: %.*s: pollutant code longer than %d bytes",
                            (int)(kn > 64 ? 64 : kn), key, HJ_CODE_MAX);
    for (size_t i = 0; i < cn; i++)
        if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] == 0x7f)
            return jl_error_set(err, JL_EINVAL, "CP: %.*s: bad pollutant code", (int)kn, key);
    hj_pollutant *p = find_or_add(seg, key, cn, err);
    if (p == NULL)
        return JL_ELIMIT;
    if (is_flag) {
        if (p->flag != 0)
            return jl_error_set(err, JL_EINVAL, "CP: %.*s: given twice", (int)kn, key);
        /* any upper-case letter: 2005 loggers send 'P' (power failure), which 2017 dropped;
         * mapping to stored codes (jl_flag_from_letter) is the caller's decision */
        if (vn != 1 || v[0] < 'A' || v[0] > 'Z')
            return jl_error_set(err, JL_EINVAL, "CP: %.*s: not a flag letter", (int)kn, key);
        p->flag = v[0];
        return JL_OK;
    }
    if (p->have & bit)
        return jl_error_set(err, JL_EINVAL, "CP: %.*s: given twice", (int)kn, key);
    double d;
    if (parse_number(v, vn, &d) != 0)
        return jl_error_set(err, JL_EINVAL, "CP: %.*s: not a number", (int)kn, key);
    p->have |= bit;
    switch (bit) {
    case HJ_HAVE_RTD:
        p->rtd = d;
        break;
    case HJ_HAVE_AVG:
        p->avg = d;
        break;
    case HJ_HAVE_MIN:
        p->min = d;
        break;
    case HJ_HAVE_MAX:
        p->max = d;
        break;
    default:
        p->cou = d;
        break;
    }
    return JL_OK;
}

static int parse_cp(hj_segment *seg, const char *cp, size_t n, jl_error *err)
{
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && cp[i] != ';' && cp[i] != ',')
            i++;
        size_t item_len = i - start;
        const char *item = cp + start;
        i++; /* past the separator (or the end) */
        if (item_len == 0)
            continue; /* ";;" or a trailing separator */
        const char *eq = memchr(item, '=', item_len);
        if (eq == NULL)
            return jl_error_set(err, JL_EINVAL, "CP: %.*s: no '='",
                                (int)(item_len > 64 ? 64 : item_len), item);
        size_t kn = (size_t)(eq - item);
        if (kn == 0)
            return jl_error_set(err, JL_EINVAL, "CP: item without a key");
        int rc = parse_cp_item(seg, item, kn, eq + 1, item_len - kn - 1, err);
        if (rc != JL_OK)
            return rc;
    }
    return JL_OK;
}

int hj_segment_parse(const char *text, size_t len, hj_segment *out, jl_error *err)
{
    memset(out, 0, offsetof(hj_segment, pollutants));
    int have_st = 0, have_cn = 0, have_pw = 0, have_mn = 0, have_pnum = 0, have_pno = 0;
    size_t i = 0;
    for (;;) {
        if (i >= len)
            return jl_error_set(err, JL_EINVAL, "CP: missing");
        if (len - i >= 5 && memcmp(text + i, "CP=&&", 5) == 0)
            break;
        size_t start = i;
        while (i < len && text[i] != ';')
            i++;
        if (i >= len)
            return jl_error_set(err, JL_EINVAL, "CP: missing");
        const char *field = text + start;
        size_t flen = i - start;
        i++;
        const char *eq = memchr(field, '=', flen);
        if (eq == NULL)
            return jl_error_set(err, JL_EINVAL, "header: field without '='");
        size_t kn = (size_t)(eq - field), vn = flen - kn - 1;
        const char *v = eq + 1;
        int rc = JL_OK;
#define KEY(name) (kn == sizeof name - 1 && memcmp(field, name, kn) == 0)
#define ONCE(flag, name)                                                                           \
    do {                                                                                           \
        if (flag)                                                                                  \
            return jl_error_set(err, JL_EINVAL, "%s: given twice", name);                          \
        flag = 1;                                                                                  \
    } while (0)
        if (KEY("QN")) {
            ONCE(out->has_qn, "QN");
            if (vn != 17 || !all_digits(v, vn))
                return jl_error_set(err, JL_EINVAL, "QN: not 17 digits");
            rc = copy_field(out->qn, "QN", v, vn, 1, err);
        } else if (KEY("ST")) {
            ONCE(have_st, "ST");
            rc = copy_field(out->st, "ST", v, vn, 1, err);
        } else if (KEY("CN")) {
            ONCE(have_cn, "CN");
            rc = copy_field(out->cn, "CN", v, vn, 1, err);
        } else if (KEY("PW")) {
            ONCE(have_pw, "PW");
            rc = copy_field(out->pw, "PW", v, vn, 0, err);
        } else if (KEY("MN")) {
            ONCE(have_mn, "MN");
            rc = copy_field(out->mn, "MN", v, vn, 0, err);
        } else if (KEY("Flag")) {
            ONCE(out->has_flag, "Flag");
            if (vn < 1 || vn > 3 || !all_digits(v, vn) || digits_value(v, vn) > 255)
                return jl_error_set(err, JL_EINVAL, "Flag: not a number 0..255");
            out->flag = digits_value(v, vn);
        } else if (KEY("PNUM") || KEY("PNO")) {
            int is_pnum = kn == 4;
            const char *name = is_pnum ? "PNUM" : "PNO";
            if (is_pnum)
                ONCE(have_pnum, "PNUM");
            else
                ONCE(have_pno, "PNO");
            if (vn < 1 || vn > 4 || !all_digits(v, vn) || digits_value(v, vn) == 0)
                return jl_error_set(err, JL_EINVAL, "%s: not a number 1..9999", name);
            *(is_pnum ? &out->pnum : &out->pno) = digits_value(v, vn);
        } else {
            return jl_error_set(err, JL_EINVAL, "header: unknown field %.*s",
                                (int)(kn > 16 ? 16 : kn), field);
        }
#undef KEY
#undef ONCE
        if (rc != JL_OK)
            return rc;
    }
    if (!have_st)
        return jl_error_set(err, JL_EINVAL, "ST: missing");
    if (!have_cn)
        return jl_error_set(err, JL_EINVAL, "CN: missing");
    if (!have_pw)
        return jl_error_set(err, JL_EINVAL, "PW: missing");
    if (!have_mn)
        return jl_error_set(err, JL_EINVAL, "MN: missing");
    if (have_pnum != have_pno)
        return jl_error_set(err, JL_EINVAL, "%s: missing", have_pnum ? "PNO" : "PNUM");
    if (have_pnum && out->pno > out->pnum)
        return jl_error_set(err, JL_EINVAL, "PNO: greater than PNUM");
    out->has_pnum = have_pnum;
    /* CP=&& ... && must end the segment */
    const char *cp = text + i + 5;
    size_t rest = len - i - 5;
    if (rest < 2 || cp[rest - 2] != '&' || cp[rest - 1] != '&')
        return jl_error_set(err, JL_EINVAL, "CP: not closed by && at the end of the segment");
    size_t cp_len = rest - 2;
    if (cp_len > HJ_CP_MAX)
        return jl_error_set(err, JL_EINVAL, "CP: longer than %d bytes", HJ_CP_MAX);
    for (size_t k = 0; k < cp_len; k++)
        if ((unsigned char)cp[k] < 0x20 || (unsigned char)cp[k] == 0x7f)
            return jl_error_set(err, JL_EINVAL, "CP: control character");
    memcpy(out->cp, cp, cp_len);
    out->cp[cp_len] = '\0';
    out->cp_len = cp_len;
    return parse_cp(out, out->cp, cp_len, err);
}

const hj_pollutant *hj_segment_pollutant(const hj_segment *seg, const char *code)
{
    for (size_t i = 0; i < seg->pollutant_count; i++)
        if (strcmp(seg->pollutants[i].code, code) == 0)
            return &seg->pollutants[i];
    return NULL;
}

int hj_reply_9014(const hj_segment *seg, jl_buf *out)
{
    char text[HJ_SEGMENT_MAX + 1];
    int n = snprintf(text, sizeof text, "%s%s%sST=91;CN=9014;PW=%s;MN=%s;Flag=4;CP=&&&&",
                     seg->has_qn ? "QN=" : "", seg->has_qn ? seg->qn : "", seg->has_qn ? ";" : "",
                     seg->pw, seg->mn);
    /* every field is at most HJ_FIELD_MAX bytes, so the text always fits */
    if (n < 0 || (size_t)n >= sizeof text)
        return JL_EINVAL;
    return hj_frame_encode(text, (size_t)n, out);
}
