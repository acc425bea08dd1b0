/* Surface-water quality classes of GB 3838-2002 (地表水环境质量标准), table 1 (basic items), and
 * the water-quality answers built on them (GET /api/v1/water_quality).
 *
 * Classes (query/water_class.c, pure functions):
 * - Limits are table 1's, in mg/L (fecal coliform: per litre). Every item but DO and pH is a
 *   ceiling written "≤": a concentration equal to a limit meets that class, so a boundary value
 *   belongs to the better class (NH3-N 0.5 is class II, 0.5000001 class III). Where two classes
 *   share a limit (COD 15 for I and II) the better class wins.
 * - DO (溶解氧) is a floor written "≥" (7.5, 6, 5, 3, 2): 5 is class III, 4.99 class IV.
 *   Class I's alternative "saturation 90%" needs temperature and is not used.
 * - pH is "6~9" for all five classes: within [6, 9] (bounds included) it meets every class and so
 *   grades as class I (it never lowers a class); outside it meets no class, which is an
 *   exceedance, graded 6 (worse than V).
 * - TP (总磷) has its own limits for lakes and reservoirs (湖、库: 0.01 0.025 0.05 0.1 0.2) beside
 *   the river ones (0.02 0.1 0.2 0.3 0.4); TN (总氮) is a lake and reservoir item only (湖、库):
 *   for a river it has no class.
 * - Class 6 means worse than V (劣V类).
 *
 * Site class (the single-factor method, 单因子评价法, of the 地表水环境质量评价办法(试行), 环办
 * [2011]22号): the worst class among the assessed items. The assessed items are table 1's without
 * water temperature, TN and fecal coliform (21 items, as the 2011 method and the 2020 统计技术规定
 * list them); TN and fecal coliform still get their own class columns.
 *
 * Exceedance multiple (超标倍数, 2011 method): (C − L) / L with L the limit of the reference class
 * (the site's target class, else III), for C above L; 0 when C meets L. The method computes none
 * for water temperature, pH and DO; for DO Jialing gives the mirrored form (L − C) / L for C below
 * the floor L, so that a DO shortfall is visible as a number; pH has none (null).
 *
 * Implemented in query/water_class.c (classes) and query/water_quality.c (the answers). */
#ifndef JIALING_WATER_H
#define JIALING_WATER_H

#include "jialing/common.h"
#include "jialing/query.h"
#include "jialing/sites.h"
#include "jialing/tz.h"

/* The table 1 items, in the order of si_default_params(1, ...). */
typedef enum wq_param {
    WQ_NH3N = 0, /* ammonia nitrogen 氨氮 */
    WQ_COD,      /* chemical oxygen demand 化学需氧量 */
    WQ_CODMN,    /* permanganate index 高锰酸盐指数 */
    WQ_TP,       /* total phosphorus 总磷 */
    WQ_TN,       /* total nitrogen 总氮 (lakes, reservoirs) */
    WQ_DO,       /* dissolved oxygen 溶解氧 (a floor) */
    WQ_PH,       /* pH (a range) */
    WQ_BOD5,     /* five-day biochemical oxygen demand */
    WQ_CU,
    WQ_ZN,
    WQ_F,  /* fluoride */
    WQ_SE, /* selenium */
    WQ_AS, /* arsenic */
    WQ_HG, /* mercury */
    WQ_CD, /* cadmium */
    WQ_CR6,
    WQ_PB,
    WQ_CN, /* cyanide */
    WQ_PHENOL,
    WQ_PETROLEUM,
    WQ_LAS, /* anionic surfactants */
    WQ_SULFIDE,
    WQ_FCOLI, /* fecal coliform, per litre */
    WQ_PARAM_COUNT
} wq_param;

/* The parameter called name ("nh3n" ...; the names of jialing/sites.h), or -1. */
int wq_param_from_name(const char *name);

/* Its name, "?" outside the enum (static). */
const char *wq_param_name(wq_param param);

/* Limit of class water_class (1..5) for param; lake: 1 for lakes and reservoirs. For pH the
 * lower bound (6); wq_ph_upper() is the upper. Returns NaN for an item without a class there
 * (TN in a river) or arguments out of range. */
double wq_limit(wq_param param, int lake, int water_class);

/* pH's upper bound (9). */
double wq_ph_upper(void);

/* The class (1..6) of concentration c of param (lake as above); 0 when the item has no class there
 * (TN in a river) or c is not finite or param is out of range. */
int wq_class_of(wq_param param, int lake, double c);

/* 1 when param counts for the site class (not TN, not fecal coliform), else 0. */
int wq_param_assessed(wq_param param);

/* The exceedance multiple of c over the limit of ref_class (1..5) as described above. Returns 1
 * and sets *out, or 0 when none is defined (pH, TN in a river, bad arguments). */
int wq_multiple(wq_param param, int lake, int ref_class, double c, double *out);

/* ---- water-quality answers (query/water_quality.c) ---- */

typedef enum wq_window { WQ_WINDOW_DAY = 0, WQ_WINDOW_MONTH, WQ_WINDOW_YEAR } wq_window;

/* Validity defaults (README.md, "Water quality"). */
#define WQ_DEFAULT_MIN_READINGS 4 /* valid readings a day needs (of 6 four-hourly samples) */
#define WQ_DEFAULT_MIN_DAYS 20    /* valid days a month needs */
#define WQ_DEFAULT_MIN_MONTHS 9   /* valid months a year needs */

/* Days one request may span at most (about 100 years), whatever the window: the answer and its
 * metadata are built in memory, so they are bounded here beside limits.max_windows and
 * limits.max_rows (windows times sites). */
#define WQ_MAX_DAYS 36600

/* A request: every pointer borrowed for the call. */
typedef struct wq_request {
    const si_site *const *sites; /* the sites (or pseudo-sites built from select=) */
    size_t site_count;
    const wq_param *params; /* parameters, columns in this order */
    size_t param_count;
    int64_t from_ms, to_ms; /* [from, to) */
    wq_window window;
    const tz_zone *zone;   /* days, months and years in this zone */
    unsigned min_readings; /* per day */
    unsigned min_days;     /* per month */
    unsigned min_months;   /* per year */
    qx_flag_select flags;  /* the readings counted as valid (flags=valid) */
    qx_limits limits;
} wq_request;

typedef struct wq_result wq_result;

/* Computes the answer with qx_query() (daily mean and count of valid readings, and the count of
 * all readings, per site and parameter), then the windows, classes and multiples. On JL_OK *out
 * is a result the caller frees with wq_result_free(). JL_EINVAL (bad window range, no sites or
 * parameters), JL_ELIMIT (more than limits.max_windows windows or WQ_MAX_DAYS days, or more
 * than limits.max_rows rows: windows times sites), JL_ENOMEM, or what qx_query() returns. */
int wq_run(st_store *store, const wq_request *request, wq_result **out, jl_error *err);

/* Sends the result to sink: one series per site (metric "water_quality", tags site, kind and
 * district, or a select= pseudo-site's tags), columns time, class, meets_target, then per
 * parameter p: p, p_class, p_multiple; one row per window of the range. Returns JL_OK or the
 * sink's code. */
int wq_emit(const wq_result *result, const qx_sink *sink);

/* Appends the result's metadata as a JSON object (standard, grid, validity rules; per series the
 * review marks in force over the range (their spans, st_snapshot_review_spans) and the parameters
 * they touch; per series and window the valid and invalid readings of each parameter, the
 * reasons of nulls and the items that decide the class). JL_OK or JL_ENOMEM. */
int wq_meta_json(const wq_result *result, jl_buf *out);

/* Frees a result; NULL is ignored. */
void wq_result_free(wq_result *result);

/* ---- monthly section assessment (GET /api/v1/assessment) ----
 *
 * For each site of request (river sections with an agreement; others are skipped) and each
 * calendar month of [from, to) in request->zone (request->window is ignored), the agreement's
 * indicators are judged on the month's values (wq_run() with window 1mo and the same validity
 * rules): the class indicator meets its baseline when the site class is at or better than the
 * baseline class; a parameter indicator when its monthly mean is at most its baseline (DO: at
 * least). A month where any indicator has no value is "insufficient data", not judged. Verdict
 * (rule chongqing-2023): every indicator met: the downstream district compensates the upstream
 * one; any short: the upstream district compensates the downstream one. Amount: a fixed rule pays
 * per_month either way; a multiple rule pays per_unit once when met, and per_unit times the
 * largest exceedance multiple of the short indicators when short (a class indicator's multiple is
 * the largest of its parameters' multiples over the baseline class limits; an indicator short
 * without a multiple, pH, counts as 1), at most cap when cap > 0.
 *
 * Writes the whole document to out: JSON {"assessment":[{site...,"months":[...]}],"meta":{...}}
 * or, with csv, RFC 4180 lines (CRLF) with the header site,month,time,class,target,baseline,
 * indicators,verdict,payer,payee,amount,reason. JL_OK, or errors as wq_run(). */
int wq_assess(st_store *store, const wq_request *request, int csv, jl_buf *out, jl_error *err);

#endif
