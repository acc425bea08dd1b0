/* Monitoring sites: the `--sites FILE` the environmental endpoints (/api/v1/aqi,
 * /api/v1/water_quality, /api/v1/assessment) and GET /api/v1/sites read. A site names the series
 * that carry its readings (tag conditions), says which metric plays which parameter of the
 * standards, and for water sites gives the target class (GB 3838-2002) and, for river sections,
 * the districts on either side and the compensation agreement.
 *
 * File format (JSON, read with jansson; README.md "Sites" has the full text):
 *
 *   {"sites": [
 *     {"id": "jialing-cp",                  required, [A-Za-z0-9_.-]{1,64}, unique
 *      "kind": "river",                     required: air river lake reservoir drinking
 *      "name": "Jialing at Caojiaxiang",    required, non-empty
 *      "district": "jiulongpo",             required, non-empty, not "all"
 *      "select": {"station": "jlp-01"},     required, >= 1 tag condition (tag = value),
 *                                           keys and values as jialing/serieskey.h allows
 *      "metrics": {"nh3n": "ammonia"},      optional: parameter -> metric name, for the
 *                                           parameters of the site's kind (si_param_known())
 *      "target": "III",                     water kinds only, optional: I II III IV V
 *      "upstream": "beibei",                river only, optional: district upstream
 *      "downstream": "yuzhong",             river only, optional: district downstream
 *      "agreement": {                       river only, optional; needs target (or baseline),
 *                                           upstream and downstream
 *        "baseline": "III",                   optional class baseline [the target]
 *        "indicators": [                      optional [["class"]]: what is assessed; each
 *          "class",                           entry the GB 3838 class (against baseline) or a
 *          {"param": "codmn", "baseline": 4}  parameter's monthly mean against a concentration
 *        ],                                   baseline (mg/L; for do, a floor)
 *        "amount": {"rule": "fixed", "per_month": 1000000}   a fixed sum per month, or
 *                  {"rule": "multiple", "per_unit": 500000, "cap": 2000000}
 *                                             scaled by the exceedance multiple (cap 0: none)
 *        "rule": "chongqing-2023"             the only direction rule so far [the default]:
 *      }}
 *   ]}
 *
 * Every object member outside these is refused, as are duplicate keys (JSON_REJECT_DUPLICATES),
 * duplicate ids and a wrong type anywhere. Errors are JL_EINVAL: syntax errors carry the line and
 * column jansson reports (err->line, err->column); a valid JSON document with a bad value names
 * the site by index and id and the field ("sites[2] (\"jialing-cp\").target: ...").
 *
 * A loaded set is immutable and reference counted; si_registry swaps sets under a lock so that
 * readers on any thread keep the set they acquired while SIGHUP installs another.
 *
 * Implemented in query/sites.c. */
#ifndef JIALING_SITES_H
#define JIALING_SITES_H

#include <pthread.h>
#include <stddef.h>

#include "jialing/common.h"
#include "jialing/params.h"

#define SI_MAX_SITES 10000           /* sites per file at most */
#define SI_MAX_ID_BYTES 64           /* site id length at most */
#define SI_MAX_TEXT_BYTES 256        /* name and district length at most */
#define SI_MAX_INDICATORS 16         /* agreement indicators at most */
#define SI_MAX_FILE_BYTES (8u << 20) /* a sites file at most (8 MiB) */

typedef enum si_kind {
    SI_KIND_AIR = 0,
    SI_KIND_RIVER,
    SI_KIND_LAKE,
    SI_KIND_RESERVOIR,
    SI_KIND_DRINKING,
    SI_KIND_COUNT
} si_kind;

/* Returns "air", "river", "lake", "reservoir", "drinking", or "?" outside the enum. */
const char *si_kind_name(si_kind kind);

/* Parses a kind name; JL_OK, or JL_EINVAL (NULL or another text) listing the names. */
int si_parse_kind(const char *text, si_kind *out, jl_error *err);

/* Returns 1 for the water kinds (river lake reservoir drinking), else 0. */
int si_kind_is_water(si_kind kind);

/* Parses a GB 3838 class name "I".."V" into 1..5; JL_OK or JL_EINVAL listing the names. */
int si_parse_class(const char *text, int *out, jl_error *err);

/* Returns "I".."V" for 1..5, "worse than V" for 6, "?" otherwise (static). */
const char *si_class_name(int water_class);

/* The default parameter names, in this order (also the metric names used when a site does not map
 * them): air pm25 pm10 so2 no2 co o3; water nh3n cod codmn tp tn do ph bod5, then the further GB
 * 3838-2002 table 1 items cu zn f se as hg cd cr6 pb cn phenol petroleum las sulfide fcoli.
 * Returns the count and sets *names to a static array. */
size_t si_default_params(int water, const char *const **names);

/* Returns 1 when param is a parameter of kind's family (air or water), else 0. */
int si_param_known(si_kind kind, const char *param);

/* One tag condition: the series must carry tag key with exactly value. */
typedef struct si_tag {
    const char *key;   /* owned by the set */
    const char *value; /* owned by the set */
} si_tag;

/* One parameter mapped to another metric name. */
typedef struct si_metric {
    const char *param;  /* owned by the set; a default parameter name */
    const char *metric; /* owned by the set; a valid metric name */
} si_metric;

typedef enum si_amount_rule {
    SI_AMOUNT_FIXED = 0, /* amount per month */
    SI_AMOUNT_MULTIPLE   /* amount per unit of exceedance multiple, up to cap */
} si_amount_rule;

/* One assessed indicator of an agreement. */
typedef struct si_indicator {
    const char *param; /* NULL: the GB 3838 class against the agreement's baseline class; else a
                          water parameter (owned by the set) against baseline */
    double baseline;   /* concentration baseline (mg/L; fcoli per L) when param is set */
} si_indicator;

/* A compensation agreement (river sections). */
typedef struct si_agreement {
    int present;        /* 0: the site has none (the other fields are zero) */
    int baseline_class; /* 1..5: class baseline (defaults to the site's target) */
    si_indicator indicators[SI_MAX_INDICATORS];
    size_t indicator_count; /* >= 1 */
    si_amount_rule amount_rule;
    double amount;    /* fixed: per month; multiple: per unit of multiple (>= 0) */
    double cap;       /* multiple: the most per month, 0 for none */
    const char *rule; /* "chongqing-2023" (static) */
} si_agreement;

/* One site; every pointer is owned by the set it came from. */
typedef struct si_site {
    const char *id;
    si_kind kind;
    const char *name;
    const char *district;
    si_tag *tags;       /* sorted by key (bytewise), keys unique */
    size_t tag_count;   /* >= 1 */
    si_metric *metrics; /* sorted by param */
    size_t metric_count;
    int target;             /* 1..5, 0 when not given */
    const char *upstream;   /* NULL when not given */
    const char *downstream; /* NULL when not given */
    si_agreement agreement;
} si_site;

/* An immutable, reference-counted set of sites in file order. */
typedef struct si_set si_set;

/* Parses a sites document from data[0..len) (no NUL needed); source names it in messages (NULL:
 * "sites file"). On JL_OK *out is a new set with one reference (release with si_set_release()).
 * JL_EINVAL as described above (with err->line/column for syntax errors), JL_ETOOLARGE over
 * SI_MAX_FILE_BYTES, JL_ENOMEM. *out is NULL on error. */
int si_parse(const char *data, size_t len, const char *source, si_set **out, jl_error *err);

/* Reads and parses the file at path as si_parse(); also JL_EIO (cannot read it, message with the
 * system's reason). */
int si_load_file(const char *path, si_set **out, jl_error *err);

/* Takes one more reference; returns set (NULL stays NULL). Thread-safe. */
si_set *si_set_retain(si_set *set);

/* Drops a reference, freeing the set with the last one; NULL is ignored. Thread-safe. */
void si_set_release(si_set *set);

/* Sites in the set (0 for NULL). */
size_t si_count(const si_set *set);

/* The site at index (file order), NULL when out of range. Borrowed from the set. */
const si_site *si_at(const si_set *set, size_t index);

/* The site with this id, NULL when none. Borrowed from the set. */
const si_site *si_find(const si_set *set, const char *id);

/* Fills out (cap entries; may be NULL with cap 0) with the sites of district in file order, or
 * every site when district is "all". Returns how many there are (may exceed cap). */
size_t si_by_district(const si_set *set, const char *district, const si_site **out, size_t cap);

/* The metric that plays param at site: the mapped one, else param itself. Borrowed. */
const char *si_metric_for(const si_site *site, const char *param);

/* Fills sel (zeroed first) with metric and the site's tag conditions as = matchers, copied (free
 * with qp_selector_destroy()). JL_OK, JL_EINVAL (more than QP_MAX_MATCHERS conditions) or
 * JL_ENOMEM. */
int si_selector(const si_site *site, const char *metric, qp_selector *sel, jl_error *err);

/* Writes the set as the GET /api/v1/sites JSON: {"sites":[{...}, ...]} with every field of the
 * file (defaults filled in: metrics lists every parameter of the kind with its metric). JL_OK or
 * JL_ENOMEM. An empty set (or NULL) gives {"sites":[]}. */
int si_write_json(const si_set *set, jl_buf *out);

/* The server's current set, swapped atomically on SIGHUP. Zero-initialise, then si_registry_init.
 */
typedef struct si_registry {
    pthread_mutex_t lock;
    si_set *current; /* NULL: no sites file */
    char *path;      /* the file to re-read, NULL when none */
} si_registry;

/* Initialises the lock; path (copied; may be NULL) is the file si_registry_reload() reads.
 * JL_OK or JL_ENOMEM. */
int si_registry_init(si_registry *reg, const char *path);

/* Releases the current set and the lock. */
void si_registry_destroy(si_registry *reg);

/* The current set with a reference taken (release it), or NULL when there is none. */
si_set *si_registry_acquire(si_registry *reg);

/* Reads the registry's file; on success installs the new set and releases the old one. On error
 * (as si_load_file) the current set stays. JL_OK without a path (nothing to do). */
int si_registry_reload(si_registry *reg, jl_error *err);

/* Installs set (the registry takes the caller's reference), releasing the old one. */
void si_registry_install(si_registry *reg, si_set *set);

#endif
