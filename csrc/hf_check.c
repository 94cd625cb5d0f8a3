#include "hf_check.h"

#include <math.h>

#include "hf_simd.h"
#include "hf_status.h"

HF_HOT int64_t hf_first_nonfinite_row(const float *a, size_t rows, size_t w)
{
    for (size_t i = 0; i < rows; i++) {
        const float *r = a + i * w;
        /* x - x is 0 for finite x and NaN for NaN or +-inf; the sum of a row
         * is NaN if any element is not finite, and it vectorises. */
        float acc = 0.0f;
        HF_SIMD_SUM(acc)
        for (size_t j = 0; j < w; j++)
            acc += r[j] - r[j];
        if (HF_UNLIKELY(acc != 0.0f))
            return (int64_t)i;
    }
    return -1;
}
