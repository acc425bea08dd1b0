/* The rules file of the alarms (include/jialing/alarm.h): a JSON document {"rules": [...]} read
 * with jansson, duplicate keys refused. A rule's kind follows from the one kind field it has
 * (window, absent, flatline, rate; none of them: a threshold); a rule with two is refused, as is
 * any unknown field, so that a typo never turns a rule into another one silently. Every refusal
 * is JL_EINVAL naming the rule (its index from 0, and its name when it has one) and the field. */
#include "jialing/alarm.h"
#include "query_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const rule_fields[] = {"name",   "series", "op",     "value",   "for",
                                          "window", "agg",    "tz",     "absent",  "flatline",
                                          "rate",   "flags",  "labels", "summary", NULL};

const char *al_op_name(al_op op)
{
    static const char *const names[] = {"gt", "ge", "lt", "le"};
    return (unsigned)op < 4 ? names[op] : "?";
}

const char *al_kind_name(al_kind kind)
{
    static const char *const names[] = {"threshold", "window", "absent", "flatline", "rate"};
    return (unsigned)kind < 5 ? names[kind] : "?";
}

static void rule_free(al_rule *r)
{
    free(r->name);
    free(r->series_text);
    qp_selector_destroy(&r->series);
    free(r->tz);
    tz_zone_free(r->zone);
    free(r->grid);
    for (size_t i = 0; i < r->label_count; i++) {
        free(r->label_keys[i]);
        free(r->label_values[i]);
    }
    free(r->summary);
    memset(r, 0, sizeof *r);
}

void al_rules_free(al_rules *rules)
{
    for (size_t i = 0; i < rules->count; i++)
        rule_free(&rules->rules[i]);
    free(rules->rules);
    rules->rules = NULL;
    rules->count = 0;
}

/* The error prefix of rule `index`: its index and, once known, its name. */
static int rule_error(jl_error *err, size_t index, const al_rule *r, const char *field,
                      const char *what)
{
    if (r->name)
        return jl_error_set(err, JL_EINVAL, "rules[%zu] (\"%.128s\"): field \"%s\": %s", index,
                            r->name, field, what);
    return jl_error_set(err, JL_EINVAL, "rules[%zu]: field \"%s\": %s", index, field, what);
}

/* A fixed duration field ("2h", "15m"): calendar months are refused (no fixed length). */
static int fixed_duration(const json_t *v, size_t index, const al_rule *r, const char *field,
                          int64_t *ms, jl_error *err)
{
    qp_duration d;
    jl_error detail;
    jl_error_clear(&detail);
    if (!json_is_string(v) || qp_parse_duration(json_string_value(v), &d, &detail) != JL_OK ||
        d.months != 0)
        return rule_error(err, index, r, field, "expected a duration such as \"15m\" or \"2h\"");
    *ms = d.ms;
    return JL_OK;
}

static char *dup_string(const json_t *v)
{
    return strdup(json_string_value(v));
}

static int parse_flags(const json_t *v, size_t index, const al_rule *r, jl_flag_mask valid_mask,
                       jl_flag_mask *out, jl_error *err)
{
    if (v == NULL) {
        *out = valid_mask;
        return JL_OK;
    }
    if (!json_is_string(v))
        return rule_error(err, index, r, "flags", "expected \"valid\", \"all\" or flag letters");
    const char *text = json_string_value(v);
    if (strcmp(text, "valid") == 0) {
        *out = valid_mask;
        return JL_OK;
    }
    if (strcmp(text, "all") == 0) {
        *out = JL_FLAG_MASK_ALL;
        return JL_OK;
    }
    jl_error detail;
    jl_error_clear(&detail);
    if (jl_flag_parse_list(text, strlen(text), out, &detail) != JL_OK)
        return rule_error(err, index, r, "flags", detail.message);
    return JL_OK;
}

static int parse_op(const json_t *v, size_t index, const al_rule *r, al_op *op, jl_error *err)
{
    static const char *const names[] = {"gt", "ge", "lt", "le"};
    if (v == NULL)
        return rule_error(err, index, r, "op", "required: gt, ge, lt or le");
    for (int i = 0; i < 4 && json_is_string(v); i++)
        if (strcmp(json_string_value(v), names[i]) == 0) {
            *op = (al_op)i;
            return JL_OK;
        }
    return rule_error(err, index, r, "op", "expected gt, ge, lt or le");
}

static int parse_number(const json_t *v, size_t index, const al_rule *r, const char *field,
                        double *out, jl_error *err)
{
    if (v == NULL)
        return rule_error(err, index, r, field, "required, a number");
    if (!json_is_number(v))
        return rule_error(err, index, r, field, "expected a number");
    *out = json_number_value(v);
    return JL_OK;
}

static int parse_labels(const json_t *v, size_t index, al_rule *r, jl_error *err)
{
    if (v == NULL)
        return JL_OK;
    if (!json_is_object(v))
        return rule_error(err, index, r, "labels", "expected an object of strings");
    if (json_object_size(v) > AL_MAX_LABELS)
        return rule_error(err, index, r, "labels", "at most 16 labels");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)v, key, value)
    {
        if (!json_is_string(value) || key[0] == '\0')
            return rule_error(err, index, r, "labels", "expected non-empty names of strings");
        if (strcmp(key, "alertname") == 0)
            return rule_error(err, index, r, "labels", "alertname is the rule's name");
        r->label_keys[r->label_count] = strdup(key);
        r->label_values[r->label_count] = dup_string(value);
        r->label_count++;
        if (!r->label_keys[r->label_count - 1] || !r->label_values[r->label_count - 1])
            return jl_error_set(err, JL_ENOMEM, "out of memory reading the rules");
    }
    return JL_OK;
}

static int parse_window(const json_t *rule, size_t index, al_rule *r, jl_error *err)
{
    const json_t *w = json_object_get(rule, "window");
    jl_error detail;
    jl_error_clear(&detail);
    if (!json_is_string(w) || qp_parse_duration(json_string_value(w), &r->window, &detail) != JL_OK)
        return rule_error(err, index, r, "window", "expected a duration such as \"1h\" or \"1d\"");
    if (r->window.months && r->window.ms)
        return rule_error(err, index, r, "window", "either whole months or a fixed length");
    if (r->window.ms && r->window.ms >= 86400000 && r->window.ms % 86400000 != 0)
        return rule_error(err, index, r, "window", "a length of a day or more must be whole days");
    if (r->window.ms && r->window.ms < 86400000 && 86400000 % r->window.ms != 0)
        return rule_error(err, index, r, "window",
                          "a length shorter than a day must divide the day");
    const json_t *agg = json_object_get(rule, "agg");
    static const char *const aggs[] = {"mean", "max", "min", "sum", "count"};
    r->agg = AL_AGG_MEAN;
    if (agg) {
        int found = 0;
        for (int i = 0; i < 5 && json_is_string(agg); i++)
            if (strcmp(json_string_value(agg), aggs[i]) == 0) {
                r->agg = (al_agg)i;
                found = 1;
            }
        if (!found)
            return rule_error(err, index, r, "agg", "expected mean, max, min, sum or count");
    }
    const json_t *tz = json_object_get(rule, "tz");
    if (tz) {
        if (!json_is_string(tz))
            return rule_error(err, index, r, "tz", "expected a zone name such as Asia/Shanghai");
        if ((r->tz = dup_string(tz)) == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory reading the rules");
        if (tz_zone_load(r->tz, &r->zone, &detail) != JL_OK)
            return rule_error(err, index, r, "tz", detail.message);
    } else if (tz_zone_load("UTC", &r->zone, &detail) != JL_OK) {
        return jl_error_set(err, JL_ENOMEM, "out of memory reading the rules");
    }
    /* The grid /query window= uses, in the rule's zone (never NULL here, so no zone is made
     * for it; a fixed-offset zone's wall-clock grid is the fixed grid of tz=+08:00). */
    if ((r->grid = malloc(sizeof *r->grid)) == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory reading the rules");
    tz_zone *owned = NULL;
    int rc = qx_grid_init(r->grid, &r->window, r->zone, 0, 0, &owned, &detail);
    tz_zone_free(owned);
    if (rc == JL_EINVAL)
        return rule_error(err, index, r, "window", detail.message);
    if (rc != JL_OK)
        return jl_error_set(err, rc, "%s", detail.message);
    return JL_OK;
}

static int parse_rule(const json_t *rule, size_t index, jl_flag_mask valid_mask, al_rule *r,
                      jl_error *err)
{
    memset(r, 0, sizeof *r);
    if (!json_is_object(rule))
        return jl_error_set(err, JL_EINVAL, "rules[%zu]: expected an object", index);
    const json_t *name = json_object_get(rule, "name");
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        json_string_length(name) > ST_EVENT_MAX_RULE_BYTES)
        return rule_error(err, index, r, "name", "required, a string of 1 to 128 bytes");
    if ((r->name = dup_string(name)) == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory reading the rules");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)rule, key, value)
    {
        int known = 0;
        for (size_t i = 0; rule_fields[i] && !known; i++)
            known = strcmp(key, rule_fields[i]) == 0;
        if (!known)
            return rule_error(err, index, r, key, "unknown field");
    }
    const json_t *series = json_object_get(rule, "series");
    if (!json_is_string(series))
        return rule_error(err, index, r, "series",
                          "required, a selector such as nh3n{section=\"cp\"}");
    if ((r->series_text = dup_string(series)) == NULL)
        return jl_error_set(err, JL_ENOMEM, "out of memory reading the rules");
    jl_error detail;
    jl_error_clear(&detail);
    if (qp_parse_selector(r->series_text, &r->series, &detail) != JL_OK)
        return rule_error(err, index, r, "series", detail.message);
    const char *kinds[] = {"window", "absent", "flatline", "rate"};
    int kind_count = 0;
    r->kind = AL_THRESHOLD;
    for (int i = 0; i < 4; i++)
        if (json_object_get(rule, kinds[i])) {
            kind_count++;
            r->kind = (al_kind)(AL_WINDOW + i);
        }
    if (kind_count > 1)
        return rule_error(err, index, r, "window",
                          "a rule has at most one of window, absent, flatline and rate");
    int rc = JL_OK;
    const json_t *op = json_object_get(rule, "op"), *val = json_object_get(rule, "value");
    const json_t *for_ = json_object_get(rule, "for");
    if (for_ && r->kind != AL_THRESHOLD)
        return rule_error(err, index, r, "for", "only a threshold rule takes for");
    if (r->kind != AL_WINDOW)
        for (int i = 0; i < 2; i++) {
            const char *f = i ? "tz" : "agg";
            if (json_object_get(rule, f))
                return rule_error(err, index, r, f, "only a window rule takes it");
        }
    if (r->kind == AL_THRESHOLD || r->kind == AL_WINDOW) {
        if ((rc = parse_op(op, index, r, &r->op, err)) != JL_OK ||
            (rc = parse_number(val, index, r, "value", &r->value, err)) != JL_OK)
            return rc;
    } else if (op || val) {
        return rule_error(err, index, r, op ? "op" : "value",
                          "absent, flatline and rate rules take no op or value");
    }
    switch (r->kind) {
    case AL_THRESHOLD:
        if (for_ && (rc = fixed_duration(for_, index, r, "for", &r->for_ms, err)) != JL_OK)
            return rc;
        break;
    case AL_WINDOW:
        if ((rc = parse_window(rule, index, r, err)) != JL_OK)
            return rc;
        break;
    case AL_ABSENT:
        if ((rc = fixed_duration(json_object_get(rule, "absent"), index, r, "absent", &r->absent_ms,
                                 err)) != JL_OK)
            return rc;
        break;
    case AL_FLATLINE: {
        const json_t *n = json_object_get(rule, "flatline");
        if (!json_is_integer(n) || json_integer_value(n) < 2 || json_integer_value(n) > 1000000)
            return rule_error(err, index, r, "flatline",
                              "expected a whole number of readings from 2 to 1000000");
        r->flatline = (uint32_t)json_integer_value(n);
        break;
    }
    case AL_RATE:
        if ((rc = parse_number(json_object_get(rule, "rate"), index, r, "rate", &r->rate, err)) !=
            JL_OK)
            return rc;
        if (!(r->rate > 0))
            return rule_error(err, index, r, "rate", "expected a change per minute above 0");
        break;
    }
    if ((rc = parse_flags(json_object_get(rule, "flags"), index, r, valid_mask, &r->flags, err)) !=
        JL_OK)
        return rc;
    if ((rc = parse_labels(json_object_get(rule, "labels"), index, r, err)) != JL_OK)
        return rc;
    const json_t *summary = json_object_get(rule, "summary");
    if (summary) {
        if (!json_is_string(summary))
            return rule_error(err, index, r, "summary", "expected a string");
        if ((r->summary = dup_string(summary)) == NULL)
            return jl_error_set(err, JL_ENOMEM, "out of memory reading the rules");
    }
    return JL_OK;
}

int al_rules_parse(const char *text, size_t len, jl_flag_mask valid_mask, al_rules *out,
                   jl_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t error;
    json_t *root = json_loadb(text ? text : "", text ? len : 0, JSON_REJECT_DUPLICATES, &error);
    if (root == NULL)
        return jl_error_set(err, JL_EINVAL, "rules file: line %d, column %d: %s", error.line,
                            error.column, error.text);
    int rc = JL_OK;
    const json_t *rules = json_object_get(root, "rules");
    if (!json_is_object(root) || !json_is_array(rules) || json_object_size(root) != 1) {
        rc = jl_error_set(err, JL_EINVAL,
                          "rules file: expected an object with one field, \"rules\": [...]");
    } else {
        size_t n = json_array_size(rules);
        out->rules = calloc(n ? n : 1, sizeof *out->rules);
        if (out->rules == NULL)
            rc = jl_error_set(err, JL_ENOMEM, "out of memory reading the rules");
        for (size_t i = 0; i < n && rc == JL_OK; i++) {
            rc = parse_rule(json_array_get(rules, i), i, valid_mask, &out->rules[i], err);
            out->count = i + 1;
            for (size_t j = 0; j < i && rc == JL_OK; j++)
                if (strcmp(out->rules[j].name, out->rules[i].name) == 0)
                    rc = rule_error(err, i, &out->rules[i], "name", "another rule has this name");
        }
    }
    json_decref(root);
    if (rc != JL_OK)
        al_rules_free(out);
    return rc;
}

int al_rules_load(const char *path, jl_flag_mask valid_mask, al_rules *out, jl_error *err)
{
    memset(out, 0, sizeof *out);
    jl_buf text;
    int rc = jl_read_file(path, "rules", (size_t)64 << 20, &text, err);
    if (rc != JL_OK)
        return rc;
    rc = al_rules_parse(text.data, text.len, valid_mask, out, err);
    jl_buf_destroy(&text);
    return rc;
}
