#include "hf_activation.h"
#include "hf_simd.h"
#include "hf_status.h"

static void softmax_rows(float *z, size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++) {
        float *r = z + i * k;
        float mx = r[0];
        for (size_t j = 1; j < k; j++)
            mx = r[j] > mx ? r[j] : mx;
        float s = 0.0f;
        for (size_t j = 0; j < k; j++) {
            r[j] = expf(r[j] - mx);
            s += r[j];
        }
        float inv = 1.0f / s;
        for (size_t j = 0; j < k; j++)
            r[j] *= inv;
    }
}

HF_HOT void hf_act_forward(int act, float *z, size_t n, size_t k, const float *bias)
{
    if (bias != NULL) {
        for (size_t i = 0; i < n; i++) {
            float *r = z + i * k;
            if (act == HF_ACT_RELU) {
                /* The common hidden layer: bias and ReLU in one sweep. */
                HF_SIMD
                for (size_t j = 0; j < k; j++) {
                    float v = r[j] + bias[j];
                    r[j] = v < 0.0f ? 0.0f : v; /* NaN passes through */
                }
            } else {
                HF_SIMD
                for (size_t j = 0; j < k; j++)
                    r[j] += bias[j];
            }
        }
        if (act == HF_ACT_RELU)
            return;
    }
    size_t nk = n * k;
    switch (act) {
    case HF_ACT_RELU:
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            z[i] = z[i] < 0.0f ? 0.0f : z[i];
        break;
    case HF_ACT_SIGMOID:
        for (size_t i = 0; i < nk; i++)
            z[i] = 1.0f / (1.0f + expf(-z[i]));
        break;
    case HF_ACT_TANH:
        for (size_t i = 0; i < nk; i++)
            z[i] = tanhf(z[i]);
        break;
    case HF_ACT_SOFTMAX:
        softmax_rows(z, n, k);
        break;
    default:
        break;
    }
}

HF_HOT void hf_act_backward(int act, const float *a, const float *da, float *dz, size_t n, size_t k)
{
    size_t nk = n * k;
    switch (act) {
    case HF_ACT_RELU:
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            dz[i] = a[i] > 0.0f ? da[i] : 0.0f;
        break;
    case HF_ACT_SIGMOID:
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            dz[i] = da[i] * (a[i] * (1.0f - a[i]));
        break;
    case HF_ACT_TANH:
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            dz[i] = da[i] * (1.0f - a[i] * a[i]);
        break;
    case HF_ACT_SOFTMAX:
        /* dz_j = a_j (da_j - sum_m da_m a_m), row by row. */
        for (size_t i = 0; i < n; i++) {
            const float *ar = a + i * k, *dr = da + i * k;
            float *zr = dz + i * k;
            float dot = 0.0f;
            for (size_t j = 0; j < k; j++)
                dot += dr[j] * ar[j];
            for (size_t j = 0; j < k; j++)
                zr[j] = ar[j] * (dr[j] - dot);
        }
        break;
    default:
        if (dz != da)
            for (size_t i = 0; i < nk; i++)
                dz[i] = da[i];
        break;
    }
}
