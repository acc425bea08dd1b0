/* GB 3838-2002 table 1 (basic items): the limits of classes I to V and the class of a
 * concentration (jialing/water.h). Pure functions over constant tables. */
#include "jialing/water.h"

#include <math.h>
#include <string.h>

/* Limits of classes I..V, mg/L (fecal coliform per L), as table 1 prints them. */
static const double limits[WQ_PARAM_COUNT][5] = {
    [WQ_NH3N] = {0.15, 0.5, 1.0, 1.5, 2.0},
    [WQ_COD] = {15, 15, 20, 30, 40},
    [WQ_CODMN] = {2, 4, 6, 10, 15},
    [WQ_TP] = {0.02, 0.1, 0.2, 0.3, 0.4}, /* rivers; lakes below */
    [WQ_TN] = {0.2, 0.5, 1.0, 1.5, 2.0},  /* lakes and reservoirs only */
    [WQ_DO] = {7.5, 6, 5, 3, 2},          /* floors */
    [WQ_PH] = {6, 6, 6, 6, 6},            /* lower bound of 6~9 */
    [WQ_BOD5] = {3, 3, 4, 6, 10},
    [WQ_CU] = {0.01, 1.0, 1.0, 1.0, 1.0},
    [WQ_ZN] = {0.05, 1.0, 1.0, 2.0, 2.0},
    [WQ_F] = {1.0, 1.0, 1.0, 1.5, 1.5},
    [WQ_SE] = {0.01, 0.01, 0.01, 0.02, 0.02},
    [WQ_AS] = {0.05, 0.05, 0.05, 0.1, 0.1},
    [WQ_HG] = {0.00005, 0.00005, 0.0001, 0.001, 0.001},
    [WQ_CD] = {0.001, 0.005, 0.005, 0.005, 0.01},
    [WQ_CR6] = {0.01, 0.05, 0.05, 0.05, 0.1},
    [WQ_PB] = {0.01, 0.01, 0.05, 0.05, 0.1},
    [WQ_CN] = {0.005, 0.05, 0.2, 0.2, 0.2},
    [WQ_PHENOL] = {0.002, 0.002, 0.005, 0.01, 0.1},
    [WQ_PETROLEUM] = {0.05, 0.05, 0.05, 0.5, 1.0},
    [WQ_LAS] = {0.2, 0.2, 0.2, 0.3, 0.3},
    [WQ_SULFIDE] = {0.05, 0.1, 0.2, 0.5, 1.0},
    [WQ_FCOLI] = {200, 2000, 10000, 20000, 40000},
};

/* TP in lakes and reservoirs (湖、库). */
static const double tp_lake[5] = {0.01, 0.025, 0.05, 0.1, 0.2};

#define PH_UPPER 9.0

int wq_param_from_name(const char *name)
{
    const char *const *names;
    size_t n = si_default_params(1, &names);
    for (size_t i = 0; name != NULL && i < n && i < WQ_PARAM_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *wq_param_name(wq_param param)
{
    const char *const *names;
    size_t n = si_default_params(1, &names);
    return (unsigned)param < WQ_PARAM_COUNT && (size_t)param < n ? names[param] : "?";
}

double wq_limit(wq_param param, int lake, int water_class)
{
    if ((unsigned)param >= WQ_PARAM_COUNT || water_class < 1 || water_class > 5)
        return NAN;
    if (param == WQ_TN && !lake)
        return NAN;
    if (param == WQ_TP && lake)
        return tp_lake[water_class - 1];
    return limits[param][water_class - 1];
}

double wq_ph_upper(void)
{
    return PH_UPPER;
}

int wq_class_of(wq_param param, int lake, double c)
{
    if ((unsigned)param >= WQ_PARAM_COUNT || !isfinite(c) || (param == WQ_TN && !lake))
        return 0;
    if (param == WQ_PH)
        return c >= limits[WQ_PH][0] && c <= PH_UPPER ? 1 : 6;
    for (int k = 1; k <= 5; k++) {
        double limit = wq_limit(param, lake, k);
        /* "≤" limits, and "≥" for DO: equality meets the class. */
        if (param == WQ_DO ? c >= limit : c <= limit)
            return k;
    }
    return 6;
}

int wq_param_assessed(wq_param param)
{
    return (unsigned)param < WQ_PARAM_COUNT && param != WQ_TN && param != WQ_FCOLI;
}

int wq_multiple(wq_param param, int lake, int ref_class, double c, double *out)
{
    if (param == WQ_PH || !isfinite(c))
        return 0;
    double limit = wq_limit(param, lake, ref_class);
    if (isnan(limit))
        return 0;
    if (param == WQ_DO)
        *out = c < limit ? (limit - c) / limit : 0.0;
    else
        *out = c > limit ? (c - limit) / limit : 0.0;
    return 1;
}
