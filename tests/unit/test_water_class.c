/* Tests of query/water_class.c against GB 3838-2002 table 1, every boundary written out here:
 * a concentration equal to a limit belongs to the better class ("≤"; DO "≥"), the next double
 * above it (below it for DO) to the next class; pH 6~9 bounds included; TP with the lake limits;
 * TN only in lakes; worse than V is 6; exceedance multiples over the class III or target limit. */
#include "check.h"

#include "jialing/water.h"

#include <math.h>

typedef struct boundary {
    wq_param param;
    int lake;
    double limit;
    int at;    /* class of exactly the limit */
    int above; /* class of the next double above it */
} boundary;

static const boundary boundaries[] = {
    {WQ_NH3N, 0, 0.15, 1, 2},     {WQ_NH3N, 0, 0.5, 2, 3},      {WQ_NH3N, 0, 1.0, 3, 4},
    {WQ_NH3N, 0, 1.5, 4, 5},      {WQ_NH3N, 0, 2.0, 5, 6},      {WQ_COD, 0, 15, 1, 3},
    {WQ_COD, 0, 20, 3, 4},        {WQ_COD, 0, 30, 4, 5},        {WQ_COD, 0, 40, 5, 6},
    {WQ_CODMN, 0, 2, 1, 2},       {WQ_CODMN, 0, 4, 2, 3},       {WQ_CODMN, 0, 6, 3, 4},
    {WQ_CODMN, 0, 10, 4, 5},      {WQ_CODMN, 0, 15, 5, 6},      {WQ_BOD5, 0, 3, 1, 3},
    {WQ_BOD5, 0, 4, 3, 4},        {WQ_BOD5, 0, 6, 4, 5},        {WQ_BOD5, 0, 10, 5, 6},
    {WQ_TP, 0, 0.02, 1, 2},       {WQ_TP, 0, 0.1, 2, 3},        {WQ_TP, 0, 0.2, 3, 4},
    {WQ_TP, 0, 0.3, 4, 5},        {WQ_TP, 0, 0.4, 5, 6},        {WQ_TP, 1, 0.01, 1, 2},
    {WQ_TP, 1, 0.025, 2, 3},      {WQ_TP, 1, 0.05, 3, 4},       {WQ_TP, 1, 0.1, 4, 5},
    {WQ_TP, 1, 0.2, 5, 6},        {WQ_TN, 1, 0.2, 1, 2},        {WQ_TN, 1, 0.5, 2, 3},
    {WQ_TN, 1, 1.0, 3, 4},        {WQ_TN, 1, 1.5, 4, 5},        {WQ_TN, 1, 2.0, 5, 6},
    {WQ_HG, 0, 5e-05, 1, 3},      {WQ_HG, 0, 0.0001, 3, 4},     {WQ_HG, 0, 0.001, 4, 6},
    {WQ_CD, 0, 0.001, 1, 2},      {WQ_CD, 0, 0.005, 2, 5},      {WQ_CD, 0, 0.01, 5, 6},
    {WQ_CU, 0, 0.01, 1, 2},       {WQ_CU, 0, 1.0, 2, 6},        {WQ_FCOLI, 0, 200, 1, 2},
    {WQ_FCOLI, 0, 2000, 2, 3},    {WQ_FCOLI, 0, 10000, 3, 4},   {WQ_FCOLI, 0, 20000, 4, 5},
    {WQ_FCOLI, 0, 40000, 5, 6},   {WQ_PHENOL, 0, 0.002, 1, 3},  {WQ_PHENOL, 0, 0.005, 3, 4},
    {WQ_PHENOL, 0, 0.01, 4, 5},   {WQ_PHENOL, 0, 0.1, 5, 6},    {WQ_ZN, 0, 0.05, 1, 2},
    {WQ_ZN, 0, 1.0, 2, 4},        {WQ_ZN, 0, 2.0, 4, 6},        {WQ_F, 0, 1.0, 1, 4},
    {WQ_F, 0, 1.5, 4, 6},         {WQ_SE, 0, 0.01, 1, 4},       {WQ_SE, 0, 0.02, 4, 6},
    {WQ_AS, 0, 0.05, 1, 4},       {WQ_AS, 0, 0.1, 4, 6},        {WQ_CR6, 0, 0.01, 1, 2},
    {WQ_CR6, 0, 0.05, 2, 5},      {WQ_CR6, 0, 0.1, 5, 6},       {WQ_PB, 0, 0.01, 1, 3},
    {WQ_PB, 0, 0.05, 3, 5},       {WQ_PB, 0, 0.1, 5, 6},        {WQ_CN, 0, 0.005, 1, 2},
    {WQ_CN, 0, 0.05, 2, 3},       {WQ_CN, 0, 0.2, 3, 6},        {WQ_PETROLEUM, 0, 0.05, 1, 4},
    {WQ_PETROLEUM, 0, 0.5, 4, 5}, {WQ_PETROLEUM, 0, 1.0, 5, 6}, {WQ_LAS, 0, 0.2, 1, 4},
    {WQ_LAS, 0, 0.3, 4, 6},       {WQ_SULFIDE, 0, 0.05, 1, 2},  {WQ_SULFIDE, 0, 0.1, 2, 3},
    {WQ_SULFIDE, 0, 0.2, 3, 4},   {WQ_SULFIDE, 0, 0.5, 4, 5},   {WQ_SULFIDE, 0, 1.0, 5, 6},
};

static void test_ceiling_boundaries(void)
{
    for (size_t i = 0; i < sizeof boundaries / sizeof boundaries[0]; i++) {
        const boundary *b = &boundaries[i];
        int at = wq_class_of(b->param, b->lake, b->limit);
        int above = wq_class_of(b->param, b->lake, nextafter(b->limit, INFINITY));
        if (at != b->at || above != b->above) {
            fprintf(stderr, "  %s lake=%d %.17g: class %d/%d, expected %d/%d\n",
                    wq_param_name(b->param), b->lake, b->limit, at, above, b->at, b->above);
            check_failed_in_test = 1;
        }
    }
    /* Zero meets class I; items other than TP do not depend on lake. */
    CHECK_INT(wq_class_of(WQ_NH3N, 0, 0.0), 1);
    CHECK_INT(wq_class_of(WQ_NH3N, 1, 0.5), 2);
    CHECK_INT(wq_class_of(WQ_COD, 0, 14.9), 1);
    CHECK_INT(wq_class_of(WQ_COD, 0, 1000), 6);
    /* TP 0.05: river class II, lake class III; TP 0.3: river IV, lake worse than V. */
    CHECK_INT(wq_class_of(WQ_TP, 0, 0.05), 2);
    CHECK_INT(wq_class_of(WQ_TP, 1, 0.05), 3);
    CHECK_INT(wq_class_of(WQ_TP, 0, 0.3), 4);
    CHECK_INT(wq_class_of(WQ_TP, 1, 0.3), 6);
}

static void test_do_ph_tn(void)
{
    /* DO floors 7.5 6 5 3 2: equal meets the class, just below is the next. */
    const double floors[] = {7.5, 6, 5, 3, 2};
    const int at[] = {1, 2, 3, 4, 5};
    const int below[] = {2, 3, 4, 5, 6};
    for (int i = 0; i < 5; i++) {
        CHECK_INT(wq_class_of(WQ_DO, 0, floors[i]), at[i]);
        CHECK_INT(wq_class_of(WQ_DO, 0, nextafter(floors[i], -INFINITY)), below[i]);
    }
    CHECK_INT(wq_class_of(WQ_DO, 1, 9.0), 1);
    CHECK_INT(wq_class_of(WQ_DO, 0, 0.0), 6);
    /* pH 6~9 bounds included: class I; outside: 6. */
    CHECK_INT(wq_class_of(WQ_PH, 0, 6.0), 1);
    CHECK_INT(wq_class_of(WQ_PH, 0, 9.0), 1);
    CHECK_INT(wq_class_of(WQ_PH, 1, 7.2), 1);
    CHECK_INT(wq_class_of(WQ_PH, 0, nextafter(6.0, -INFINITY)), 6);
    CHECK_INT(wq_class_of(WQ_PH, 0, nextafter(9.0, INFINITY)), 6);
    CHECK_INT(wq_class_of(WQ_PH, 0, 5.5), 6);
    CHECK_INT(wq_class_of(WQ_PH, 0, 9.6), 6);
    /* TN: lakes and reservoirs only. */
    CHECK_INT(wq_class_of(WQ_TN, 0, 0.1), 0);
    CHECK(isnan(wq_limit(WQ_TN, 0, 3)));
    CHECK_DOUBLE_BITS(wq_limit(WQ_TN, 1, 3), 1.0);
    CHECK_DOUBLE_BITS(wq_limit(WQ_TP, 1, 3), 0.05);
    CHECK_DOUBLE_BITS(wq_limit(WQ_TP, 0, 3), 0.2);
    CHECK_DOUBLE_BITS(wq_limit(WQ_PH, 0, 1), 6.0);
    CHECK_DOUBLE_BITS(wq_ph_upper(), 9.0);
    CHECK(isnan(wq_limit(WQ_NH3N, 0, 0)));
    CHECK(isnan(wq_limit(WQ_NH3N, 0, 6)));
    CHECK_INT(wq_class_of(WQ_NH3N, 0, NAN), 0);
    CHECK_INT(wq_class_of(WQ_PARAM_COUNT, 0, 1.0), 0);
}

static void test_multiples(void)
{
    double m = -1;
    /* NH3-N 2.5 over class III 1.0: (2.5 - 1.0) / 1.0 = 1.5. */
    CHECK_INT(wq_multiple(WQ_NH3N, 0, 3, 2.5, &m), 1);
    CHECK_DOUBLE_BITS(m, 1.5);
    /* At the limit and below: 0. */
    CHECK_INT(wq_multiple(WQ_NH3N, 0, 3, 1.0, &m), 1);
    CHECK_DOUBLE_BITS(m, 0.0);
    CHECK_INT(wq_multiple(WQ_NH3N, 0, 3, 0.2, &m), 1);
    CHECK_DOUBLE_BITS(m, 0.0);
    /* COD 30 over class II (target) 15: 1.0. */
    CHECK_INT(wq_multiple(WQ_COD, 0, 2, 30, &m), 1);
    CHECK_DOUBLE_BITS(m, 1.0);
    /* TP 0.1 in a lake over class III 0.05: (0.1 - 0.05) / 0.05 = 1 (as doubles). */
    CHECK_INT(wq_multiple(WQ_TP, 1, 3, 0.1, &m), 1);
    CHECK_DOUBLE_BITS(m, (0.1 - 0.05) / 0.05);
    /* DO 4 under class III's 5: (5 - 4) / 5 = 0.2; 6 meets it: 0. */
    CHECK_INT(wq_multiple(WQ_DO, 0, 3, 4, &m), 1);
    CHECK_DOUBLE_BITS(m, (5.0 - 4.0) / 5.0);
    CHECK_INT(wq_multiple(WQ_DO, 0, 3, 6, &m), 1);
    CHECK_DOUBLE_BITS(m, 0.0);
    /* None for pH and for TN in a river. */
    m = 7;
    CHECK_INT(wq_multiple(WQ_PH, 0, 3, 10, &m), 0);
    CHECK_INT(wq_multiple(WQ_TN, 0, 3, 3, &m), 0);
    CHECK_INT(wq_multiple(WQ_NH3N, 0, 0, 3, &m), 0);
    CHECK_DOUBLE_BITS(m, 7.0);
    CHECK_INT(wq_multiple(WQ_TN, 1, 3, 3, &m), 1);
    CHECK_DOUBLE_BITS(m, 2.0);
}

static void test_names(void)
{
    CHECK_INT(wq_param_from_name("nh3n"), WQ_NH3N);
    CHECK_INT(wq_param_from_name("do"), WQ_DO);
    CHECK_INT(wq_param_from_name("fcoli"), WQ_FCOLI);
    CHECK_INT(wq_param_from_name("pm25"), -1);
    CHECK_INT(wq_param_from_name(NULL), -1);
    CHECK_STR(wq_param_name(WQ_BOD5), "bod5");
    CHECK_STR(wq_param_name(WQ_PARAM_COUNT), "?");
    CHECK_INT(wq_param_assessed(WQ_TN), 0);
    CHECK_INT(wq_param_assessed(WQ_FCOLI), 0);
    CHECK_INT(wq_param_assessed(WQ_PH), 1);
    CHECK_INT(wq_param_assessed(WQ_DO), 1);
    /* The enum follows the sites' parameter list. */
    const char *const *names;
    CHECK_INT(si_default_params(1, &names), WQ_PARAM_COUNT);
}

int main(void)
{
    RUN(test_ceiling_boundaries);
    RUN(test_do_ph_tn);
    RUN(test_multiples);
    RUN(test_names);
    return CHECK_DONE();
}
