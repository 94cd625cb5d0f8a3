#include "hf_check.h"

#include <math.h>

#include "hf_simd.h"
#include "hf_status.h"

/* x - x is 0 for finite x and NaN for NaN or +-inf: a sum of those is NaN
 * when any value is not finite, and it vectorises. 32 partial sums (four
 * AVX2 vectors) keep the adds from waiting on each other: one sum made the
 * check of a 128 x 784 batch ~8 us, the step it guards ~8 us. */
#define HF_CHECK_LANES 32

HF_HOT static int all_finite(const float *a, size_t n)
{
    float acc[HF_CHECK_LANES] = {0.0f};
    size_t j = 0;
    for (; j + HF_CHECK_LANES <= n; j += HF_CHECK_LANES) {
        HF_SIMD
        for (size_t l = 0; l < HF_CHECK_LANES; l++)
            acc[l] += a[j + l] - a[j + l];
    }
    float s = 0.0f;
    for (; j < n; j++)
        s += a[j] - a[j];
    for (size_t l = 0; l < HF_CHECK_LANES; l++)
        s += acc[l];
    return s == 0.0f;
}

int64_t hf_first_nonfinite_row(const float *a, size_t rows, size_t w)
{
    /* The rows are contiguous: blocks of ~4096 values are checked as one
     * run, and only a block holding a bad value row by row. */
    const size_t block = w == 0 || w >= 4096 ? 1 : 4096 / w;
    for (size_t i = 0; i < rows; i += block) {
        const size_t n = rows - i < block ? rows - i : block;
        if (HF_LIKELY(all_finite(a + i * w, n * w)))
            continue;
        for (size_t k = i; k < i + n; k++)
            if (!all_finite(a + k * w, w))
                return (int64_t)k;
    }
    return -1;
}
