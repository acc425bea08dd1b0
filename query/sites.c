/* Sites file (jialing/sites.h): parsed with jansson into an immutable, reference-counted set. Every
 * string of a set is copied into one allocation list owned by the set, so a set can be released
 * by whichever thread drops the last reference, independent of the jansson document. */
#include "jialing/sites.h"
#include "jialing/serieskey.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[SI_KIND_COUNT] = {"air", "river", "lake", "reservoir",
                                                      "drinking"};

static const char *const air_params[] = {"pm25", "pm10", "so2", "no2", "co", "o3"};
static const char *const water_params[] = {"nh3n",   "cod",       "codmn", "tp",      "tn",   "do",
                                           "ph",     "bod5",      "cu",    "zn",      "f",    "se",
                                           "as",     "hg",        "cd",    "cr6",     "pb",   "cn",
                                           "phenol", "petroleum", "las",   "sulfide", "fcoli"};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const char *const class_names[] = {"?", "I", "II", "III", "IV", "V", "worse than V"};

struct si_set {
    atomic_int refs;
    si_site *sites;
    size_t count;
    char **strings; /* every string the sites point to */
    size_t string_count;
    size_t string_cap;
};

const char *si_kind_name(si_kind kind)
{
    return (unsigned)kind < SI_KIND_COUNT ? kind_names[kind] : "?";
}

int si_parse_kind(const char *text, si_kind *out, jl_error *err)
{
    for (int k = 0; text != NULL && k < SI_KIND_COUNT; k++) {
        if (strcmp(text, kind_names[k]) == 0) {
            *out = (si_kind)k;
            return JL_OK;
        }
    }
    return jl_error_set(err, JL_EINVAL,
                        "unknown site kind; expected air, river, lake, reservoir or drinking");
}

int si_kind_is_water(si_kind kind)
{
    return kind == SI_KIND_RIVER || kind == SI_KIND_LAKE || kind == SI_KIND_RESERVOIR ||
           kind == SI_KIND_DRINKING;
}

int si_parse_class(const char *text, int *out, jl_error *err)
{
    for (int c = 1; text != NULL && c <= 5; c++) {
        if (strcmp(text, class_names[c]) == 0) {
            *out = c;
            return JL_OK;
        }
    }
    return jl_error_set(err, JL_EINVAL, "unknown water class; expected I, II, III, IV or V");
}

const char *si_class_name(int water_class)
{
    return water_class >= 1 && water_class <= 6 ? class_names[water_class] : "?";
}

size_t si_default_params(int water, const char *const **names)
{
    if (water) {
        *names = water_params;
        return COUNT_OF(water_params);
    }
    *names = air_params;
    return COUNT_OF(air_params);
}

int si_param_known(si_kind kind, const char *param)
{
    const char *const *names;
    size_t n = si_default_params(si_kind_is_water(kind), &names);
    for (size_t i = 0; param != NULL && i < n; i++)
        if (strcmp(names[i], param) == 0)
            return 1;
    return 0;
}

/* ---- set ownership ---- */

static void set_free(si_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->count; i++) {
        free(set->sites[i].tags);
        free(set->sites[i].metrics);
    }
    free(set->sites);
    for (size_t i = 0; i < set->string_count; i++)
        free(set->strings[i]);
    free(set->strings);
    free(set);
}

si_set *si_set_retain(si_set *set)
{
    if (set != NULL)
        atomic_fetch_add(&set->refs, 1);
    return set;
}

void si_set_release(si_set *set)
{
    if (set != NULL && atomic_fetch_sub(&set->refs, 1) == 1)
        set_free(set);
}

/* Copies text into the set; NULL on allocation failure. */
static const char *set_strdup(si_set *set, const char *text)
{
    if (set->string_count == set->string_cap) {
        size_t cap = set->string_cap ? set->string_cap * 2 : 64;
        char **grown = realloc(set->strings, cap * sizeof *grown);
        if (grown == NULL)
            return NULL;
        set->strings = grown;
        set->string_cap = cap;
    }
    char *copy = strdup(text);
    if (copy == NULL)
        return NULL;
    set->strings[set->string_count++] = copy;
    return copy;
}

/* ---- parsing ---- */

typedef struct parse_state {
    si_set *set;
    const char *source;
    jl_error *err;
    size_t index;   /* site being read */
    const char *id; /* its id when known (for messages) */
} parse_state;

/* Sets a JL_EINVAL naming the site and field. */
static int site_fail(parse_state *ps, const char *field, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static int site_fail(parse_state *ps, const char *field, const char *format, ...)
{
    char reason[320];
    va_list ap;
    va_start(ap, format);
    vsnprintf(reason, sizeof reason, format, ap);
    va_end(ap);
    char quoted[64] = "";
    if (ps->id != NULL) {
        char q[56];
        sk_quote(ps->id, strlen(ps->id), q, sizeof q);
        snprintf(quoted, sizeof quoted, " (\"%s\")", q);
    }
    return jl_error_set(ps->err, JL_EINVAL, "%s: sites[%zu]%s.%s: %s", ps->source, ps->index,
                        quoted, field, reason);
}

static int nomem(parse_state *ps)
{
    return jl_error_set(ps->err, JL_ENOMEM, "%s: out of memory", ps->source);
}

/* A required or optional non-empty string member; *out NULL when absent and optional. */
static int get_text(parse_state *ps, json_t *obj, const char *field, int required, size_t max,
                    const char **out)
{
    *out = NULL;
    json_t *v = json_object_get(obj, field);
    if (v == NULL) {
        if (required)
            return site_fail(ps, field, "is missing");
        return JL_OK;
    }
    if (!json_is_string(v))
        return site_fail(ps, field, "must be a string");
    const char *text = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0)
        return site_fail(ps, field, "is empty");
    if (strlen(text) != len)
        return site_fail(ps, field, "contains a NUL character");
    if (len > max)
        return site_fail(ps, field, "is longer than %zu bytes", max);
    if (!sk_value_valid(text, len))
        return site_fail(ps, field, "%s", sk_value_problem(text, len));
    *out = set_strdup(ps->set, text);
    return *out ? JL_OK : nomem(ps);
}

static int id_valid(const char *text, size_t len)
{
    if (len == 0 || len > SI_MAX_ID_BYTES)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* Refuses members of obj not in allowed (NULL-terminated). */
static int check_members(parse_state *ps, json_t *obj, const char *where,
                         const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        (void)value;
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL; i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = 1;
        if (!ok) {
            char q[56];
            sk_quote(key, strlen(key), q, sizeof q);
            char field[128];
            snprintf(field, sizeof field, "%s%s\"%s\"", where, where[0] ? "." : "", q);
            return site_fail(ps, field, "unknown field");
        }
    }
    return JL_OK;
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const si_tag *)a)->key, ((const si_tag *)b)->key);
}

static int cmp_metric(const void *a, const void *b)
{
    return strcmp(((const si_metric *)a)->param, ((const si_metric *)b)->param);
}

static int parse_select(parse_state *ps, json_t *obj, si_site *site)
{
    json_t *sel = json_object_get(obj, "select");
    if (sel == NULL)
        return site_fail(ps, "select", "is missing (the tag conditions of the site's series)");
    if (!json_is_object(sel))
        return site_fail(ps, "select", "must be an object of tag = value conditions");
    size_t n = json_object_size(sel);
    if (n == 0)
        return site_fail(ps, "select", "needs at least one tag condition");
    if (n > QP_MAX_MATCHERS)
        return site_fail(ps, "select", "has more than %d tag conditions", QP_MAX_MATCHERS);
    site->tags = calloc(n, sizeof *site->tags);
    if (site->tags == NULL)
        return nomem(ps);
    const char *key;
    json_t *value;
    json_object_foreach(sel, key, value)
    {
        char q[56], field[96];
        sk_quote(key, strlen(key), q, sizeof q);
        snprintf(field, sizeof field, "select.\"%s\"", q);
        if (!sk_name_valid(key, strlen(key)))
            return site_fail(ps, field, "is not a valid tag name ([A-Za-z_][A-Za-z0-9_.-]*)");
        if (!json_is_string(value))
            return site_fail(ps, field, "must be a string");
        const char *text = json_string_value(value);
        size_t len = json_string_length(value);
        if (strlen(text) != len || !sk_value_valid(text, len))
            return site_fail(ps, field, "%s",
                             strlen(text) != len ? "contains a NUL character"
                                                 : sk_value_problem(text, len));
        if (len > SK_MAX_VALUE_BYTES)
            return site_fail(ps, field, "is longer than %d bytes", SK_MAX_VALUE_BYTES);
        si_tag *t = &site->tags[site->tag_count];
        t->key = set_strdup(ps->set, key);
        t->value = set_strdup(ps->set, text);
        if (t->key == NULL || t->value == NULL)
            return nomem(ps);
        site->tag_count++;
    }
    if (site->tag_count > 1)
        qsort(site->tags, site->tag_count, sizeof *site->tags, cmp_tag);
    return JL_OK;
}

static int parse_metrics(parse_state *ps, json_t *obj, si_site *site)
{
    json_t *map = json_object_get(obj, "metrics");
    if (map == NULL)
        return JL_OK;
    if (!json_is_object(map))
        return site_fail(ps, "metrics", "must be an object of parameter: metric");
    size_t n = json_object_size(map);
    if (n == 0)
        return JL_OK;
    site->metrics = calloc(n, sizeof *site->metrics);
    if (site->metrics == NULL)
        return nomem(ps);
    const char *key;
    json_t *value;
    json_object_foreach(map, key, value)
    {
        char q[56], field[96];
        sk_quote(key, strlen(key), q, sizeof q);
        snprintf(field, sizeof field, "metrics.\"%s\"", q);
        if (!si_param_known(site->kind, key))
            return site_fail(ps, field, "is not a parameter of a%s %s site",
                             site->kind == SI_KIND_AIR ? "n" : "", si_kind_name(site->kind));
        if (!json_is_string(value))
            return site_fail(ps, field, "must be a string (a metric name)");
        const char *text = json_string_value(value);
        size_t len = json_string_length(value);
        if (strlen(text) != len || len > SK_MAX_NAME_BYTES || !sk_name_valid(text, len))
            return site_fail(ps, field, "is not a valid metric name ([A-Za-z_][A-Za-z0-9_.-]*)");
        si_metric *m = &site->metrics[site->metric_count];
        m->param = set_strdup(ps->set, key);
        m->metric = set_strdup(ps->set, text);
        if (m->param == NULL || m->metric == NULL)
            return nomem(ps);
        site->metric_count++;
    }
    if (site->metric_count > 1) /* none: the array may not exist */
        qsort(site->metrics, site->metric_count, sizeof *site->metrics, cmp_metric);
    return JL_OK;
}

static int get_class(parse_state *ps, json_t *obj, const char *field, int *out)
{
    *out = 0;
    json_t *v = json_object_get(obj, field);
    if (v == NULL)
        return JL_OK;
    if (!json_is_string(v) || si_parse_class(json_string_value(v), out, NULL) != JL_OK)
        return site_fail(ps, field, "must be one of \"I\", \"II\", \"III\", \"IV\", \"V\"");
    return JL_OK;
}

/* A finite number >= 0. */
static int get_amount(parse_state *ps, json_t *obj, const char *field, int required, double *out)
{
    *out = 0;
    json_t *v = json_object_get(obj, field);
    if (v == NULL)
        return required ? site_fail(ps, field, "is missing") : JL_OK;
    if (!json_is_number(v))
        return site_fail(ps, field, "must be a number");
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0)
        return site_fail(ps, field, "must be a finite number >= 0");
    *out = d;
    return JL_OK;
}

static int parse_agreement(parse_state *ps, json_t *obj, si_site *site)
{
    json_t *ag = json_object_get(obj, "agreement");
    if (ag == NULL)
        return JL_OK;
    if (site->kind != SI_KIND_RIVER)
        return site_fail(ps, "agreement", "is for river sections only");
    if (!json_is_object(ag))
        return site_fail(ps, "agreement", "must be an object");
    static const char *const allowed[] = {"baseline", "indicators", "amount", "rule", NULL};
    int rc = check_members(ps, ag, "agreement", allowed);
    if (rc != JL_OK)
        return rc;
    si_agreement *a = &site->agreement;
    a->present = 1;
    a->rule = "chongqing-2023";
    json_t *rule = json_object_get(ag, "rule");
    if (rule != NULL &&
        (!json_is_string(rule) || strcmp(json_string_value(rule), "chongqing-2023") != 0))
        return site_fail(ps, "agreement.rule", "must be \"chongqing-2023\" (the only rule so far)");
    rc = get_class(ps, ag, "baseline", &a->baseline_class);
    if (rc != JL_OK)
        return site_fail(ps, "agreement.baseline",
                         "must be one of \"I\", \"II\", \"III\", \"IV\", \"V\"");
    if (a->baseline_class == 0)
        a->baseline_class = site->target;
    if (site->upstream == NULL || site->downstream == NULL)
        return site_fail(ps, "agreement", "needs the site's upstream and downstream districts");

    json_t *inds = json_object_get(ag, "indicators");
    if (inds == NULL) {
        a->indicator_count = 1; /* the class, against the baseline */
    } else {
        if (!json_is_array(inds) || json_array_size(inds) == 0)
            return site_fail(ps, "agreement.indicators", "must be a non-empty array");
        if (json_array_size(inds) > SI_MAX_INDICATORS)
            return site_fail(ps, "agreement.indicators", "has more than %d entries",
                             SI_MAX_INDICATORS);
        size_t i;
        json_t *ind;
        json_array_foreach(inds, i, ind)
        {
            char field[64];
            snprintf(field, sizeof field, "agreement.indicators[%zu]", i);
            si_indicator *out = &a->indicators[i];
            if (json_is_string(ind) && strcmp(json_string_value(ind), "class") == 0) {
                out->param = NULL;
            } else if (json_is_object(ind)) {
                static const char *const ind_allowed[] = {"param", "baseline", NULL};
                rc = check_members(ps, ind, field, ind_allowed);
                if (rc != JL_OK)
                    return rc;
                json_t *p = json_object_get(ind, "param");
                json_t *b = json_object_get(ind, "baseline");
                if (!json_is_string(p) || !si_param_known(SI_KIND_RIVER, json_string_value(p)))
                    return site_fail(ps, field, "param must name a water parameter");
                if (!json_is_number(b) || !isfinite(json_number_value(b)) ||
                    json_number_value(b) < 0)
                    return site_fail(ps, field, "baseline must be a finite number >= 0");
                out->param = set_strdup(ps->set, json_string_value(p));
                if (out->param == NULL)
                    return nomem(ps);
                out->baseline = json_number_value(b);
            } else {
                return site_fail(ps, field,
                                 "must be \"class\" or {\"param\": ..., \"baseline\": ...}");
            }
        }
        a->indicator_count = json_array_size(inds);
    }
    for (size_t i = 0; i < a->indicator_count; i++)
        if (a->indicators[i].param == NULL && a->baseline_class == 0)
            return site_fail(ps, "agreement.baseline",
                             "is needed for the class indicator (or give the site a target)");

    json_t *amount = json_object_get(ag, "amount");
    if (amount == NULL)
        return site_fail(ps, "agreement.amount", "is missing");
    if (!json_is_object(amount))
        return site_fail(ps, "agreement.amount", "must be an object");
    json_t *arule = json_object_get(amount, "rule");
    if (!json_is_string(arule))
        return site_fail(ps, "agreement.amount.rule", "must be \"fixed\" or \"multiple\"");
    if (strcmp(json_string_value(arule), "fixed") == 0) {
        static const char *const fixed_allowed[] = {"rule", "per_month", NULL};
        if ((rc = check_members(ps, amount, "agreement.amount", fixed_allowed)) != JL_OK)
            return rc;
        a->amount_rule = SI_AMOUNT_FIXED;
        rc = get_amount(ps, amount, "per_month", 1, &a->amount);
        if (rc != JL_OK)
            return site_fail(ps, "agreement.amount.per_month", "is required: a finite number >= 0");
    } else if (strcmp(json_string_value(arule), "multiple") == 0) {
        static const char *const mult_allowed[] = {"rule", "per_unit", "cap", NULL};
        if ((rc = check_members(ps, amount, "agreement.amount", mult_allowed)) != JL_OK)
            return rc;
        a->amount_rule = SI_AMOUNT_MULTIPLE;
        if (get_amount(ps, amount, "per_unit", 1, &a->amount) != JL_OK)
            return site_fail(ps, "agreement.amount.per_unit", "is required: a finite number >= 0");
        if (get_amount(ps, amount, "cap", 0, &a->cap) != JL_OK)
            return site_fail(ps, "agreement.amount.cap", "must be a finite number >= 0");
    } else {
        return site_fail(ps, "agreement.amount.rule", "must be \"fixed\" or \"multiple\"");
    }
    return JL_OK;
}

static int parse_site(parse_state *ps, json_t *obj, si_site *site)
{
    if (!json_is_object(obj))
        return site_fail(ps, "", "must be an object");
    /* The id first, so that every later message names the site. */
    json_t *idv = json_object_get(obj, "id");
    if (idv == NULL)
        return site_fail(ps, "id", "is missing");
    if (!json_is_string(idv) || !id_valid(json_string_value(idv), json_string_length(idv)) ||
        strlen(json_string_value(idv)) != json_string_length(idv))
        return site_fail(ps, "id", "must be 1 to %d characters of A-Z a-z 0-9 _ . -",
                         SI_MAX_ID_BYTES);
    site->id = set_strdup(ps->set, json_string_value(idv));
    if (site->id == NULL)
        return nomem(ps);
    ps->id = site->id;

    static const char *const allowed[] = {"id",         "kind",      "name",   "district",
                                          "select",     "metrics",   "target", "upstream",
                                          "downstream", "agreement", NULL};
    int rc = check_members(ps, obj, "", allowed);
    if (rc != JL_OK)
        return rc;
    json_t *kind = json_object_get(obj, "kind");
    if (kind == NULL)
        return site_fail(ps, "kind", "is missing");
    if (!json_is_string(kind) || si_parse_kind(json_string_value(kind), &site->kind, NULL) != JL_OK)
        return site_fail(ps, "kind", "must be one of air, river, lake, reservoir, drinking");
    if ((rc = get_text(ps, obj, "name", 1, SI_MAX_TEXT_BYTES, &site->name)) != JL_OK ||
        (rc = get_text(ps, obj, "district", 1, SI_MAX_TEXT_BYTES, &site->district)) != JL_OK)
        return rc;
    if (strcmp(site->district, "all") == 0)
        return site_fail(ps, "district", "may not be \"all\" (sites=all means every site)");
    if ((rc = parse_select(ps, obj, site)) != JL_OK || (rc = parse_metrics(ps, obj, site)) != JL_OK)
        return rc;
    int water = si_kind_is_water(site->kind);
    if (!water && json_object_get(obj, "target") != NULL)
        return site_fail(ps, "target", "is for water sites only");
    if ((rc = get_class(ps, obj, "target", &site->target)) != JL_OK)
        return rc;
    static const char *const sides[] = {"upstream", "downstream"};
    for (int s = 0; s < 2; s++) {
        if (site->kind != SI_KIND_RIVER && json_object_get(obj, sides[s]) != NULL)
            return site_fail(ps, sides[s], "is for river sections only");
        const char **dst = s == 0 ? &site->upstream : &site->downstream;
        if ((rc = get_text(ps, obj, sides[s], 0, SI_MAX_TEXT_BYTES, dst)) != JL_OK)
            return rc;
    }
    if (json_object_get(obj, "agreement") != NULL && !water)
        return site_fail(ps, "agreement", "is for river sections only");
    return parse_agreement(ps, obj, site);
}

static int parse_document(parse_state *ps, json_t *root)
{
    jl_error *err = ps->err;
    if (!json_is_object(root))
        return jl_error_set(err, JL_EINVAL, "%s: the document must be an object {\"sites\": [...]}",
                            ps->source);
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        (void)value;
        if (strcmp(key, "sites") != 0) {
            char q[56];
            sk_quote(key, strlen(key), q, sizeof q);
            return jl_error_set(err, JL_EINVAL,
                                "%s: unknown top-level field \"%s\" (only \"sites\")", ps->source,
                                q);
        }
    }
    json_t *sites = json_object_get(root, "sites");
    if (!json_is_array(sites))
        return jl_error_set(err, JL_EINVAL, "%s: \"sites\" must be an array", ps->source);
    size_t n = json_array_size(sites);
    if (n > SI_MAX_SITES)
        return jl_error_set(err, JL_EINVAL, "%s: more than %d sites", ps->source, SI_MAX_SITES);
    if (n > 0) {
        ps->set->sites = calloc(n, sizeof *ps->set->sites);
        if (ps->set->sites == NULL)
            return nomem(ps);
    }
    for (size_t i = 0; i < n; i++) {
        ps->index = i;
        ps->id = NULL;
        si_site *site = &ps->set->sites[i];
        ps->set->count = i + 1; /* counted now so that set_free() frees its arrays */
        int rc = parse_site(ps, json_array_get(sites, i), site);
        if (rc != JL_OK)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(ps->set->sites[j].id, site->id) == 0)
                return site_fail(ps, "id", "duplicates the id of sites[%zu]", j);
    }
    return JL_OK;
}

int si_parse(const char *data, size_t len, const char *source, si_set **out, jl_error *err)
{
    *out = NULL;
    jl_error_clear(err);
    if (source == NULL)
        source = "sites file";
    if (len > SI_MAX_FILE_BYTES)
        return jl_error_set(err, JL_ETOOLARGE, "%s: larger than %u bytes", source,
                            SI_MAX_FILE_BYTES);
    json_error_t jerr;
    json_t *root = json_loadb(data ? data : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        int rc = jl_error_set(err, JL_EINVAL, "%s: line %d, column %d: %s", source, jerr.line,
                              jerr.column, jerr.text);
        if (err != NULL) {
            err->line = jerr.line > 0 ? jerr.line : 0;
            err->column = jerr.column > 0 ? jerr.column : 0;
        }
        return rc;
    }
    si_set *set = calloc(1, sizeof *set);
    if (set == NULL) {
        json_decref(root);
        return jl_error_set(err, JL_ENOMEM, "%s: out of memory", source);
    }
    atomic_init(&set->refs, 1);
    parse_state ps = {.set = set, .source = source, .err = err};
    int rc = parse_document(&ps, root);
    json_decref(root);
    if (rc != JL_OK) {
        set_free(set);
        return rc;
    }
    *out = set;
    return JL_OK;
}

int si_load_file(const char *path, si_set **out, jl_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return jl_error_set(err, JL_EIO, "sites file %s: %s", path, strerror(errno));
    jl_buf buf;
    jl_buf_init(&buf);
    char chunk[65536];
    size_t got;
    int rc = JL_OK;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (buf.len + got > SI_MAX_FILE_BYTES) {
            rc = jl_error_set(err, JL_ETOOLARGE, "sites file %s: larger than %u bytes", path,
                              SI_MAX_FILE_BYTES);
            break;
        }
        if (jl_buf_append(&buf, chunk, got) != JL_OK) {
            rc = jl_error_set(err, JL_ENOMEM, "sites file %s: out of memory", path);
            break;
        }
    }
    if (rc == JL_OK && ferror(f))
        rc = jl_error_set(err, JL_EIO, "sites file %s: read error", path);
    fclose(f);
    if (rc == JL_OK) {
        char source[320];
        snprintf(source, sizeof source, "sites file %s", path);
        rc = si_parse(buf.data, buf.len, source, out, err);
    }
    jl_buf_destroy(&buf);
    return rc;
}

/* ---- lookup ---- */

size_t si_count(const si_set *set)
{
    return set ? set->count : 0;
}

const si_site *si_at(const si_set *set, size_t index)
{
    return set && index < set->count ? &set->sites[index] : NULL;
}

const si_site *si_find(const si_set *set, const char *id)
{
    for (size_t i = 0; set && id && i < set->count; i++)
        if (strcmp(set->sites[i].id, id) == 0)
            return &set->sites[i];
    return NULL;
}

size_t si_by_district(const si_set *set, const char *district, const si_site **out, size_t cap)
{
    size_t n = 0;
    int all = district && strcmp(district, "all") == 0;
    for (size_t i = 0; set && district && i < set->count; i++) {
        if (all || strcmp(set->sites[i].district, district) == 0) {
            if (n < cap)
                out[n] = &set->sites[i];
            n++;
        }
    }
    return n;
}

const char *si_metric_for(const si_site *site, const char *param)
{
    for (size_t i = 0; site && i < site->metric_count; i++)
        if (strcmp(site->metrics[i].param, param) == 0)
            return site->metrics[i].metric;
    return param;
}

int si_selector(const si_site *site, const char *metric, qp_selector *sel, jl_error *err)
{
    memset(sel, 0, sizeof *sel);
    if (site->tag_count > QP_MAX_MATCHERS)
        return jl_error_set(err, JL_EINVAL, "site %s has more than %d tag conditions", site->id,
                            QP_MAX_MATCHERS);
    sel->metric = strdup(metric);
    if (sel->metric == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory");
    for (size_t i = 0; i < site->tag_count; i++) {
        qp_matcher *m = &sel->matchers[i];
        m->key = strdup(site->tags[i].key);
        m->value = strdup(site->tags[i].value);
        sel->matcher_count++;
        if (m->key == NULL || m->value == NULL) {
            qp_selector_destroy(sel);
            memset(sel, 0, sizeof *sel);
            return jl_error_set(err, JL_ENOMEM, "out of memory");
        }
    }
    return JL_OK;
}

/* ---- JSON listing ---- */

static int obj_set(json_t *obj, const char *key, json_t *value)
{
    return value != NULL && json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

static json_t *site_json(const si_site *s)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = 0;
    bad |= obj_set(o, "id", json_string(s->id));
    bad |= obj_set(o, "kind", json_string(si_kind_name(s->kind)));
    bad |= obj_set(o, "name", json_string(s->name));
    bad |= obj_set(o, "district", json_string(s->district));
    json_t *sel = json_object();
    for (size_t i = 0; sel && i < s->tag_count; i++)
        bad |= obj_set(sel, s->tags[i].key, json_string(s->tags[i].value));
    bad |= obj_set(o, "select", sel);
    json_t *metrics = json_object();
    const char *const *names;
    size_t n = si_default_params(si_kind_is_water(s->kind), &names);
    for (size_t i = 0; metrics && i < n; i++)
        bad |= obj_set(metrics, names[i], json_string(si_metric_for(s, names[i])));
    bad |= obj_set(o, "metrics", metrics);
    if (si_kind_is_water(s->kind))
        bad |=
            obj_set(o, "target", s->target ? json_string(si_class_name(s->target)) : json_null());
    if (s->kind == SI_KIND_RIVER) {
        bad |= obj_set(o, "upstream", s->upstream ? json_string(s->upstream) : json_null());
        bad |= obj_set(o, "downstream", s->downstream ? json_string(s->downstream) : json_null());
        const si_agreement *a = &s->agreement;
        if (!a->present) {
            bad |= obj_set(o, "agreement", json_null());
        } else {
            json_t *ag = json_object();
            bad |= obj_set(o, "agreement", ag);
            if (ag != NULL) {
                bad |= obj_set(ag, "baseline",
                               a->baseline_class ? json_string(si_class_name(a->baseline_class))
                                                 : json_null());
                json_t *inds = json_array();
                for (size_t i = 0; inds && i < a->indicator_count; i++) {
                    if (a->indicators[i].param == NULL) {
                        bad |= json_array_append_new(inds, json_string("class"));
                    } else {
                        json_t *ind = json_object();
                        bad |= obj_set(ind, "param", json_string(a->indicators[i].param));
                        bad |= obj_set(ind, "baseline", json_real(a->indicators[i].baseline));
                        bad |= json_array_append_new(inds, ind);
                    }
                }
                bad |= obj_set(ag, "indicators", inds);
                json_t *am = json_object();
                if (am != NULL && a->amount_rule == SI_AMOUNT_FIXED) {
                    bad |= obj_set(am, "rule", json_string("fixed"));
                    bad |= obj_set(am, "per_month", json_real(a->amount));
                } else if (am != NULL) {
                    bad |= obj_set(am, "rule", json_string("multiple"));
                    bad |= obj_set(am, "per_unit", json_real(a->amount));
                    bad |= obj_set(am, "cap", json_real(a->cap));
                }
                bad |= obj_set(ag, "amount", am);
                bad |= obj_set(ag, "rule", json_string(a->rule));
            }
        }
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int si_write_json(const si_set *set, jl_buf *out)
{
    json_t *root = json_object();
    json_t *arr = json_array();
    int bad = root == NULL || arr == NULL;
    for (size_t i = 0; !bad && i < si_count(set); i++) {
        json_t *s = site_json(&set->sites[i]);
        bad = s == NULL || json_array_append_new(arr, s) != 0;
    }
    if (!bad && json_object_set_new(root, "sites", arr) != 0)
        bad = 1;
    else if (bad)
        json_decref(arr);
    char *text = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL)
        return JL_ENOMEM;
    int rc = jl_buf_append_str(out, text);
    free(text);
    return rc;
}

/* ---- registry ---- */

int si_registry_init(si_registry *reg, const char *path)
{
    memset(reg, 0, sizeof *reg);
    if (path != NULL && (reg->path = strdup(path)) == NULL)
        return JL_ENOMEM;
    if (pthread_mutex_init(&reg->lock, NULL) != 0) {
        free(reg->path);
        reg->path = NULL;
        return JL_ENOMEM;
    }
    return JL_OK;
}

void si_registry_destroy(si_registry *reg)
{
    si_set_release(reg->current);
    reg->current = NULL;
    free(reg->path);
    reg->path = NULL;
    pthread_mutex_destroy(&reg->lock);
}

si_set *si_registry_acquire(si_registry *reg)
{
    pthread_mutex_lock(&reg->lock);
    si_set *set = si_set_retain(reg->current);
    pthread_mutex_unlock(&reg->lock);
    return set;
}

void si_registry_install(si_registry *reg, si_set *set)
{
    pthread_mutex_lock(&reg->lock);
    si_set *old = reg->current;
    reg->current = set;
    pthread_mutex_unlock(&reg->lock);
    /* Released outside the lock: readers holding the old set keep it until they release it. */
    si_set_release(old);
}

int si_registry_reload(si_registry *reg, jl_error *err)
{
    jl_error_clear(err);
    if (reg->path == NULL)
        return JL_OK;
    si_set *set;
    int rc = si_load_file(reg->path, &set, err);
    if (rc != JL_OK)
        return rc;
    si_registry_install(reg, set);
    return JL_OK;
}
