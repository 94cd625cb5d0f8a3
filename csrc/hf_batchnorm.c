#include "hf_batchnorm.h"

#include <math.h>

#include "hf_simd.h"
#include "hf_status.h"

void hf_batchnorm_forward(const float *x, size_t ldx, float *y, size_t n, size_t k,
                          const float *gamma, const float *beta, float *moving_mean,
                          float *moving_var, float epsilon, float momentum, int training,
                          int update, float *mean_out, float *istd_out)
{
    for (size_t j = 0; j < k; j++) {
        float mean, var;
        if (training) {
            /* Two passes in double: the variance of a column with a large
             * mean stays accurate; the result is rounded to float32 as TF's. */
            double s = 0.0;
            for (size_t i = 0; i < n; i++)
                s += x[i * ldx + j];
            double m = s / (double)n, q = 0.0;
            for (size_t i = 0; i < n; i++) {
                double d = x[i * ldx + j] - m;
                q += d * d;
            }
            mean = (float)m;
            var = (float)(q / (double)n);
            istd_out[j] = 1.0f / sqrtf(var + epsilon);
            mean_out[j] = mean;
            if (update) {
                float decay = 1.0f - momentum;
                moving_mean[j] -= (moving_mean[j] - mean) * decay;
                moving_var[j] -= (moving_var[j] - var) * decay;
            }
        } else {
            mean = moving_mean[j];
            var = moving_var[j];
        }
        float inv = 1.0f / sqrtf(var + epsilon);
        if (gamma != NULL)
            inv *= gamma[j];
        float shift = (beta != NULL ? beta[j] : 0.0f) - mean * inv;
        for (size_t i = 0; i < n; i++)
            y[i * k + j] = x[i * ldx + j] * inv + shift;
    }
}

void hf_batchnorm_backward(const float *x, size_t ldx, const float *dy, size_t n, size_t k,
                           const float *gamma, const float *moving_mean, const float *moving_var,
                           float epsilon, int training, const float *mean, const float *istd,
                           float *dx, int accumulate, float *dgamma, float *dbeta)
{
    for (size_t j = 0; j < k; j++) {
        float mu = training ? mean[j] : moving_mean[j];
        float is = training ? istd[j] : 1.0f / sqrtf(moving_var[j] + epsilon);
        float g = gamma != NULL ? gamma[j] : 1.0f;
        double sdy = 0.0, sdyx = 0.0;
        for (size_t i = 0; i < n; i++) {
            float d = dy[i * k + j];
            sdy += d;
            sdyx += (double)d * ((x[i * ldx + j] - mu) * is);
        }
        if (dgamma != NULL)
            dgamma[j] = (float)sdyx;
        if (dbeta != NULL)
            dbeta[j] = (float)sdy;
        if (dx == NULL)
            continue;
        if (training) {
            /* dx = g is / n (n dy - sum dy - xhat sum(dy xhat)): the batch
             * statistics depend on every row. */
            float c = g * is, a = (float)(sdy / (double)n), b = (float)(sdyx / (double)n);
            for (size_t i = 0; i < n; i++) {
                float xhat = (x[i * ldx + j] - mu) * is;
                float v = c * (dy[i * k + j] - a - xhat * b);
                dx[i * k + j] = accumulate ? dx[i * k + j] + v : v;
            }
        } else {
            float c = g * is;
            for (size_t i = 0; i < n; i++) {
                float v = c * dy[i * k + j];
                dx[i * k + j] = accumulate ? dx[i * k + j] + v : v;
            }
        }
    }
}

static inline float norm_divisor(float variance, float epsilon)
{
    float s = sqrtf(variance);
    return s > epsilon ? s : epsilon;
}

HF_HOT void hf_normalization_forward(const float *x, size_t ldx, float *y, size_t n, size_t k,
                                     const float *mean, const float *variance, float epsilon)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx;
        float *o = y + i * k;
        for (size_t j = 0; j < k; j++)
            o[j] = (r[j] - mean[j]) / norm_divisor(variance[j], epsilon);
    }
}

void hf_normalization_backward(const float *dy, float *dx, int accumulate, size_t n, size_t k,
                               const float *variance, float epsilon)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            float v = dy[i * k + j] / norm_divisor(variance[j], epsilon);
            dx[i * k + j] = accumulate ? dx[i * k + j] + v : v;
        }
}
