/* Activations applied in place, and their derivatives computed from the
 * stored outputs a = act(z) (so backward never needs z). */
#ifndef HF_ACTIVATION_H
#define HF_ACTIVATION_H

#include <math.h>
#include <stddef.h>

enum { HF_ACT_LINEAR = 0, HF_ACT_RELU = 1, HF_ACT_SIGMOID = 2, HF_ACT_TANH = 3, HF_ACT_SOFTMAX = 4 };

static inline int hf_act_valid(int act) { return act >= HF_ACT_LINEAR && act <= HF_ACT_SOFTMAX; }

/* z (n x k, row stride k) += bias (or nothing when bias is NULL), then
 * z = act(z) in place; softmax is taken along each row. */
void hf_act_forward(int act, float *z, size_t n, size_t k, const float *bias);

/* dz = da * act'(a) elementwise (softmax: its row Jacobian applied to da).
 * dz may be the same buffer as da. */
void hf_act_backward(int act, const float *a, const float *da, float *dz, size_t n, size_t k);

/* Scalar forms for one unit (the fused Dense(1) path). A softmax over one
 * unit is the constant 1, so its derivative is 0. */
static inline float hf_act1(int act, float z)
{
    switch (act) {
    case HF_ACT_RELU: return z < 0.0f ? 0.0f : z; /* NaN passes through */
    case HF_ACT_SIGMOID: return 1.0f / (1.0f + expf(-z));
    case HF_ACT_TANH: return tanhf(z);
    case HF_ACT_SOFTMAX: return z == z ? 1.0f : z;
    default: return z;
    }
}

static inline float hf_dact1(int act, float a)
{
    switch (act) {
    case HF_ACT_RELU: return a > 0.0f ? 1.0f : 0.0f;
    case HF_ACT_SIGMOID: return a * (1.0f - a);
    case HF_ACT_TANH: return 1.0f - a * a;
    case HF_ACT_SOFTMAX: return 0.0f;
    default: return 1.0f;
    }
}

#endif
