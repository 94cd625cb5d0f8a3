#include "hf_batchnorm.h"

#include <math.h>

#include "hf_dense.h"
#include "hf_simd.h"
#include "hf_status.h"

/* y = x * inv + shift per column (tf.nn.batch_normalization's form). */
HF_HOT static void scale_shift(const float *restrict x, size_t ldx, float *restrict y, size_t n,
                               size_t k, const float *restrict inv, const float *restrict shift)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx;
        float *o = y + i * k;
        HF_SIMD
        for (size_t j = 0; j < k; j++)
            o[j] = r[j] * inv[j] + shift[j];
    }
}

void hf_batchnorm_forward(const float *x, size_t ldx, float *y, size_t n, size_t k,
                          const float *gamma, const float *beta, float *moving_mean,
                          float *moving_var, float epsilon, float momentum, int training,
                          int update, float *stats)
{
    float *mean = stats, *istd = stats + k, *inv = stats + 2 * k, *shift = stats + 3 * k;
    if (training) {
        /* Two passes (mean, then the mean squared deviation): the biased
         * variance of tf.nn.moments, accurate for columns far from zero. */
        hf_column_sums(x, ldx, n, k, mean);
        const float inv_n = 1.0f / (float)n;
        for (size_t j = 0; j < k; j++) {
            mean[j] *= inv_n;
            istd[j] = 0.0f;
        }
        for (size_t i = 0; i < n; i++) {
            const float *r = x + i * ldx;
            HF_SIMD
            for (size_t j = 0; j < k; j++) {
                float d = r[j] - mean[j];
                istd[j] += d * d;
            }
        }
        const float decay = 1.0f - momentum;
        for (size_t j = 0; j < k; j++) {
            float var = istd[j] * inv_n;
            if (update) {
                moving_mean[j] -= (moving_mean[j] - mean[j]) * decay;
                moving_var[j] -= (moving_var[j] - var) * decay;
            }
            istd[j] = 1.0f / sqrtf(var + epsilon);
        }
    }
    for (size_t j = 0; j < k; j++) {
        float m = training ? mean[j] : moving_mean[j];
        float v = training ? istd[j] : 1.0f / sqrtf(moving_var[j] + epsilon);
        inv[j] = gamma != NULL ? v * gamma[j] : v;
        shift[j] = (beta != NULL ? beta[j] : 0.0f) - m * inv[j];
    }
    scale_shift(x, ldx, y, n, k, inv, shift);
}

void hf_batchnorm_backward(const float *x, size_t ldx, const float *dy, size_t n, size_t k,
                           const float *gamma, const float *moving_mean, const float *moving_var,
                           float epsilon, int training, float *stats, float *dx, int accumulate,
                           float *dgamma, float *dbeta)
{
    float *mean = stats, *istd = stats + k, *sdy = stats + 2 * k, *sdyx = stats + 3 * k;
    if (!training) {
        /* The moving statistics, in the slots training keeps its batch ones. */
        for (size_t j = 0; j < k; j++) {
            mean[j] = moving_mean[j];
            istd[j] = 1.0f / sqrtf(moving_var[j] + epsilon);
        }
    }
    /* sum dy and sum dy * xhat per column, xhat = (x - mean) * istd. */
    hf_column_sums(dy, k, n, k, sdy);
    for (size_t j = 0; j < k; j++)
        sdyx[j] = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx, *d = dy + i * k;
        HF_SIMD
        for (size_t j = 0; j < k; j++)
            sdyx[j] += d[j] * ((r[j] - mean[j]) * istd[j]);
    }
    for (size_t j = 0; j < k; j++) {
        if (dgamma != NULL)
            dgamma[j] = sdyx[j];
        if (dbeta != NULL)
            dbeta[j] = sdy[j];
    }
    if (dx == NULL)
        return;
    const float inv_n = 1.0f / (float)n;
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx, *d = dy + i * k;
        float *o = dx + i * k;
        if (training) {
            /* dx = g istd (dy - mean(dy) - xhat mean(dy xhat)): the batch
             * statistics depend on every row. */
            for (size_t j = 0; j < k; j++) {
                float g = gamma != NULL ? gamma[j] : 1.0f;
                float xhat = (r[j] - mean[j]) * istd[j];
                float v = g * istd[j] * (d[j] - sdy[j] * inv_n - xhat * (sdyx[j] * inv_n));
                o[j] = accumulate ? o[j] + v : v;
            }
        } else {
            for (size_t j = 0; j < k; j++) {
                float v = (gamma != NULL ? gamma[j] : 1.0f) * istd[j] * d[j];
                o[j] = accumulate ? o[j] + v : v;
            }
        }
    }
}

static void divisors(const float *variance, float epsilon, float *out, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        float s = sqrtf(variance[j]);
        out[j] = s > epsilon ? s : epsilon;
    }
}

HF_HOT void hf_normalization_forward(const float *x, size_t ldx, float *y, size_t n, size_t k,
                                     const float *mean, const float *variance, float epsilon,
                                     float *scratch)
{
    divisors(variance, epsilon, scratch, k);
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx;
        float *o = y + i * k;
        HF_SIMD
        for (size_t j = 0; j < k; j++)
            o[j] = (r[j] - mean[j]) / scratch[j];
    }
}

HF_HOT void hf_normalization_backward(const float *dy, float *dx, int accumulate, size_t n,
                                      size_t k, const float *variance, float epsilon,
                                      float *scratch)
{
    divisors(variance, epsilon, scratch, k);
    for (size_t i = 0; i < n; i++) {
        const float *d = dy + i * k;
        float *o = dx + i * k;
        if (accumulate) {
            HF_SIMD
            for (size_t j = 0; j < k; j++)
                o[j] += d[j] / scratch[j];
        } else {
            HF_SIMD
            for (size_t j = 0; j < k; j++)
                o[j] = d[j] / scratch[j];
        }
    }
}
