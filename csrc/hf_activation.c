#include "hf_activation.h"
#include "hf_simd.h"
#include "hf_status.h"

static void softmax_rows(const float *z, float *a, size_t n, size_t k)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = z + i * k;
        float *o = a + i * k;
        float mx = r[0];
        for (size_t j = 1; j < k; j++)
            mx = r[j] > mx ? r[j] : mx;
        float s = 0.0f;
        for (size_t j = 0; j < k; j++) {
            o[j] = expf(r[j] - mx);
            s += o[j];
        }
        float inv = 1.0f / s;
        for (size_t j = 0; j < k; j++)
            o[j] *= inv;
    }
}

static inline float sigmoid1(float z) { return 1.0f / (1.0f + expf(-z)); }

/* a = act(z) elementwise, for every activation but softmax. */
HF_HOT static void apply(int act, float alpha, const float *z, float *a, size_t nk)
{
    switch (act) {
    case HF_ACT_RELU:
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            a[i] = z[i] < 0.0f ? 0.0f : z[i]; /* NaN passes through */
        break;
    case HF_ACT_SIGMOID:
        for (size_t i = 0; i < nk; i++)
            a[i] = sigmoid1(z[i]);
        break;
    case HF_ACT_TANH:
        for (size_t i = 0; i < nk; i++)
            a[i] = tanhf(z[i]);
        break;
    case HF_ACT_ELU:
        /* tf.nn.elu, then alpha times its negative part (tf-keras backend.elu). */
        for (size_t i = 0; i < nk; i++)
            a[i] = z[i] > 0.0f ? z[i] : alpha * expm1f(z[i]);
        break;
    case HF_ACT_SELU:
        for (size_t i = 0; i < nk; i++)
            a[i] = z[i] > 0.0f ? HF_SELU_SCALE * z[i] : HF_SELU_SCALE * HF_SELU_ALPHA * expm1f(z[i]);
        break;
    case HF_ACT_GELU:
        for (size_t i = 0; i < nk; i++)
            a[i] = 0.5f * z[i] * (1.0f + erff(z[i] * 0.70710678118654752f));
        break;
    case HF_ACT_SOFTPLUS:
        /* log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow for large z. */
        for (size_t i = 0; i < nk; i++)
            a[i] = (z[i] > 0.0f ? z[i] : 0.0f) + log1pf(expf(-fabsf(z[i])));
        break;
    case HF_ACT_SOFTSIGN:
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            a[i] = z[i] / (1.0f + fabsf(z[i]));
        break;
    case HF_ACT_SWISH:
        for (size_t i = 0; i < nk; i++)
            a[i] = z[i] * sigmoid1(z[i]);
        break;
    case HF_ACT_LEAKY_RELU:
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            a[i] = z[i] > 0.0f ? z[i] : alpha * z[i];
        break;
    case HF_ACT_EXPONENTIAL:
        for (size_t i = 0; i < nk; i++)
            a[i] = expf(z[i]);
        break;
    case HF_ACT_HARD_SIGMOID:
        /* tf-keras 2.21 backend.hard_sigmoid; Keras 3 changed it to relu6(z + 3) / 6. */
        HF_SIMD
        for (size_t i = 0; i < nk; i++) {
            float v = z[i] * 0.2f + 0.5f;
            a[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
        break;
    default:
        if (a != z)
            for (size_t i = 0; i < nk; i++)
                a[i] = z[i];
        break;
    }
}

HF_HOT void hf_act_forward(int act, float alpha, float *z, float *a, size_t n, size_t k,
                           const float *bias)
{
    if (bias != NULL) {
        if (act == HF_ACT_RELU) {
            /* The common hidden layer: bias and ReLU in one sweep. */
            for (size_t i = 0; i < n; i++) {
                float *r = z + i * k, *o = a + i * k;
                HF_SIMD
                for (size_t j = 0; j < k; j++) {
                    float v = r[j] + bias[j];
                    o[j] = v < 0.0f ? 0.0f : v; /* NaN passes through */
                }
            }
            return;
        }
        for (size_t i = 0; i < n; i++) {
            float *r = z + i * k;
            HF_SIMD
            for (size_t j = 0; j < k; j++)
                r[j] += bias[j];
        }
    }
    if (act == HF_ACT_SOFTMAX)
        softmax_rows(z, a, n, k);
    else
        apply(act, alpha, z, a, n * k);
}

HF_HOT void hf_act_backward(int act, float alpha, const float *z, const float *a,
                            const float *da, float *dz, size_t n, size_t k)
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
    case HF_ACT_ELU:
        /* For z <= 0: d/dz alpha (e^z - 1) = alpha e^z = a + alpha. */
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            dz[i] = da[i] * (a[i] > 0.0f ? 1.0f : a[i] + alpha);
        break;
    case HF_ACT_SELU:
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            dz[i] = da[i] * (a[i] > 0.0f ? HF_SELU_SCALE : a[i] + HF_SELU_SCALE * HF_SELU_ALPHA);
        break;
    case HF_ACT_GELU:
        /* Phi(z) + z phi(z). */
        for (size_t i = 0; i < nk; i++) {
            float cdf = 0.5f * (1.0f + erff(z[i] * 0.70710678118654752f));
            float pdf = 0.39894228040143268f * expf(-0.5f * z[i] * z[i]);
            dz[i] = da[i] * (cdf + z[i] * pdf);
        }
        break;
    case HF_ACT_SOFTPLUS:
        /* sigmoid(z) = 1 - e^-a. */
        for (size_t i = 0; i < nk; i++)
            dz[i] = da[i] * -expm1f(-a[i]);
        break;
    case HF_ACT_SOFTSIGN:
        /* 1 / (1 + |z|)^2 = (1 - |a|)^2. */
        HF_SIMD
        for (size_t i = 0; i < nk; i++) {
            float t = 1.0f - fabsf(a[i]);
            dz[i] = da[i] * t * t;
        }
        break;
    case HF_ACT_SWISH:
        /* s + z s (1 - s) with s = sigmoid(z). */
        for (size_t i = 0; i < nk; i++) {
            float s = sigmoid1(z[i]);
            dz[i] = da[i] * (s + z[i] * s * (1.0f - s));
        }
        break;
    case HF_ACT_LEAKY_RELU:
        /* alpha >= 0 (checked by the bridge), so a > 0 exactly when z > 0. */
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            dz[i] = a[i] > 0.0f ? da[i] : alpha * da[i];
        break;
    case HF_ACT_EXPONENTIAL:
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            dz[i] = da[i] * a[i];
        break;
    case HF_ACT_HARD_SIGMOID:
        /* 0.2 inside the linear part, 0 where clipped. */
        HF_SIMD
        for (size_t i = 0; i < nk; i++)
            dz[i] = a[i] > 0.0f && a[i] < 1.0f ? 0.2f * da[i] : 0.0f;
        break;
    default:
        if (dz != da)
            for (size_t i = 0; i < nk; i++)
                dz[i] = da[i];
        break;
    }
}
