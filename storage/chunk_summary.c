/* The chunk summary: count, time range, extremes, first and last value, the compensated sum and
 * the sum of squared deviations, computed exactly as the encoder stores them in a chunk header
 * (storage/disk_format.h, section 2) so that the query path can merge unsealed tails with
 * sealed chunks and get the same answers. */
#include "jialing/chunk.h"

#include <math.h>
#include <string.h>

void ck_summarize(const int64_t *timestamps_ms, const double *values, size_t count,
                  ck_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    if (count == 0)
        return;
    summary->count = (uint32_t)count;
    summary->flag_mask = JL_FLAG_MASK_N;
    summary->first_ms = timestamps_ms[0];
    summary->last_ms = timestamps_ms[count - 1];
    summary->first_value = values[0];
    summary->last_value = values[count - 1];
    double min = values[0], max = values[0];
    /* Neumaier summation: the running compensation also catches the terms that are larger than
     * the running sum, which plain Kahan loses. */
    double sum = 0.0, compensation = 0.0;
    for (size_t i = 0; i < count; i++) {
        double v = values[i];
        if (v < min)
            min = v;
        if (v > max)
            max = v;
        double t = sum + v;
        if (fabs(sum) >= fabs(v))
            compensation += (sum - t) + v;
        else
            compensation += (v - t) + sum;
        sum = t;
    }
    /* Once the sum overflowed the compensation is NaN; the infinite sum is the better answer. */
    summary->sum = isfinite(sum) ? sum + compensation : sum;
    summary->min = min;
    summary->max = max;
    /* Corrected two-pass: sum of squares of deviations, minus the square of their (ideally zero)
     * sum over n, which removes most of the error of the mean itself. */
    double mean = summary->sum / (double)count;
    double squares = 0.0, deviations = 0.0;
    for (size_t i = 0; i < count; i++) {
        double d = values[i] - mean;
        squares += d * d;
        deviations += d;
    }
    double ssd = squares - deviations * deviations / (double)count;
    summary->sum_squares_dev = ssd > 0.0 ? ssd : (ssd == ssd ? 0.0 : ssd);
}
