/* Tiny assertion header for unit tests. Each test is a function run by RUN(); a test passes when
 * none of its CHECKs failed. The binary prints one "ok NAME" or "FAIL NAME" line per test, which
 * tests/run.sh counts, and exits non-zero if any failed. Random seeds are printed by the tests. */
#ifndef JIALING_CHECK_H
#define JIALING_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failed_in_test;
static int check_tests_failed;
static int check_tests_run;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);             \
            check_failed_in_test = 1;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_INT(actual, expected)                                                                \
    do {                                                                                           \
        long long check_a_ = (long long)(actual), check_e_ = (long long)(expected);                \
        if (check_a_ != check_e_) {                                                                \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #actual,   \
                    check_a_, check_e_);                                                           \
            check_failed_in_test = 1;                                                              \
        }                                                                                          \
    } while (0)

/* Bitwise equality of doubles (distinguishes -0.0 from 0.0). */
#define CHECK_DOUBLE_BITS(actual, expected)                                                        \
    do {                                                                                           \
        double check_a_ = (actual), check_e_ = (expected);                                         \
        if (memcmp(&check_a_, &check_e_, sizeof(double)) != 0) {                                   \
            fprintf(stderr, "  %s:%d: %s == %.17g, expected %.17g\n", __FILE__, __LINE__, #actual, \
                    check_a_, check_e_);                                                           \
            check_failed_in_test = 1;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(actual, expected, tolerance)                                                    \
    do {                                                                                           \
        double check_a_ = (actual), check_e_ = (expected);                                         \
        if (!(fabs(check_a_ - check_e_) <= (tolerance))) {                                         \
            fprintf(stderr, "  %s:%d: %s == %.17g, expected %.17g\n", __FILE__, __LINE__, #actual, \
                    check_a_, check_e_);                                                           \
            check_failed_in_test = 1;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_STR(actual, expected)                                                                \
    do {                                                                                           \
        const char *check_a_ = (actual), *check_e_ = (expected);                                   \
        if (check_a_ == NULL || strcmp(check_a_, check_e_) != 0) {                                 \
            fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__,        \
                    #actual, check_a_ ? check_a_ : "(null)", check_e_);                            \
            check_failed_in_test = 1;                                                              \
        }                                                                                          \
    } while (0)

#define RUN(test)                                                                                  \
    do {                                                                                           \
        check_failed_in_test = 0;                                                                  \
        test();                                                                                    \
        check_tests_run++;                                                                         \
        if (check_failed_in_test) {                                                                \
            check_tests_failed++;                                                                  \
            printf("FAIL %s\n", #test);                                                            \
        } else {                                                                                   \
            printf("ok %s\n", #test);                                                              \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

#define CHECK_DONE() (check_tests_failed ? 1 : 0)

#endif
