#include "hf_optimizer.h"

#include <math.h>

#include "hf_simd.h"

/* v = rho v + (1 - rho) g^2;  [a = rho a + (1 - rho) g;  den = v - a^2 + eps]
 * else den = v + eps;  inc = lr g / sqrt(den)  (eps inside the root);
 * momentum: m = momentum m + inc, p -= m;  else p -= inc. */
HF_HOT static void rmsprop(const hf_opt *o, float *restrict p, const float *restrict g,
                           float *restrict v, float *restrict m, float *restrict a, size_t n,
                           float lr)
{
    const float rho = o->rho, one_m_rho = 1.0f - o->rho, eps = o->epsilon, mom = o->momentum;
    if (!o->centered && mom <= 0.0f) {
        HF_SIMD
        for (size_t i = 0; i < n; i++) {
            float vi = rho * v[i] + one_m_rho * (g[i] * g[i]);
            v[i] = vi;
            p[i] -= lr * g[i] / sqrtf(vi + eps);
        }
        return;
    }
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float vi = rho * v[i] + one_m_rho * (g[i] * g[i]);
        v[i] = vi;
        float den = vi + eps;
        if (o->centered) {
            float ai = rho * a[i] + one_m_rho * g[i];
            a[i] = ai;
            den = vi - ai * ai + eps;
        }
        float inc = lr * g[i] / sqrtf(den);
        if (mom > 0.0f) {
            float mi = mom * m[i] + inc;
            m[i] = mi;
            p[i] -= mi;
        } else {
            p[i] -= inc;
        }
    }
}

/* m = momentum m - lr g;  p += m  (nesterov: p += momentum m - lr g);
 * without momentum p -= lr g. */
HF_HOT static void sgd(const hf_opt *o, float *restrict p, const float *restrict g,
                       float *restrict m, size_t n, float lr)
{
    const float mom = o->momentum;
    if (mom <= 0.0f) {
        HF_SIMD
        for (size_t i = 0; i < n; i++)
            p[i] -= lr * g[i];
        return;
    }
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float mi = mom * m[i] - lr * g[i];
        m[i] = mi;
        p[i] += o->nesterov ? mom * mi - lr * g[i] : mi;
    }
}

/* m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  [vhat = max(vhat, v)]
 * p -= alpha m / (sqrt(v or vhat) + eps), alpha = lr sqrt(1 - b2^t) / (1 - b1^t). */
HF_HOT static void adam(const hf_opt *o, float *restrict p, const float *restrict g,
                        float *restrict m, float *restrict v, float *restrict vh, size_t n,
                        float lr, int64_t iteration)
{
    double t = (double)iteration + 1.0;
    float b1p = (float)pow((double)o->beta_1, t), b2p = (float)pow((double)o->beta_2, t);
    const float alpha = lr * sqrtf(1.0f - b2p) / (1.0f - b1p);
    const float c1 = 1.0f - o->beta_1, c2 = 1.0f - o->beta_2, eps = o->epsilon;
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float mi = m[i] + (g[i] - m[i]) * c1;
        float vi = v[i] + (g[i] * g[i] - v[i]) * c2;
        m[i] = mi;
        v[i] = vi;
        if (o->amsgrad) {
            vi = vh[i] > vi ? vh[i] : vi;
            vh[i] = vi;
        }
        p[i] -= (mi * alpha) / (sqrtf(vi) + eps);
    }
}

hf_status hf_optimizer_update(const hf_opt *opt, float *params, const float *grads, float *s0,
                              float *s1, float *s2, size_t n, float lr, int64_t iteration)
{
    if (!isfinite(lr))
        return HF_ERR_NONFINITE;
    switch (opt->kind) {
    case HF_OPT_SGD:
        sgd(opt, params, grads, s0, n, lr);
        return HF_OK;
    case HF_OPT_RMSPROP:
        rmsprop(opt, params, grads, s0, s1, s2, n, lr);
        return HF_OK;
    case HF_OPT_ADAM:
        adam(opt, params, grads, s0, s1, s2, n, lr, iteration);
        return HF_OK;
    default:
        return HF_ERR_KIND;
    }
}
