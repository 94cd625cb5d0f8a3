/* Activations with tf-keras 2.21 formulas, and their derivatives.
 *
 * Most derivatives are computed from the stored output a = act(z), so the
 * backward pass never needs z; gelu and swish are not invertible that way,
 * so a layer using them also keeps z (hf_act_needs_z). */
#ifndef HF_ACTIVATION_H
#define HF_ACTIVATION_H

#include <math.h>
#include <stddef.h>

enum {
    HF_ACT_LINEAR = 0,
    HF_ACT_RELU = 1,
    HF_ACT_SIGMOID = 2,
    HF_ACT_TANH = 3,
    HF_ACT_SOFTMAX = 4,      /* along each row */
    HF_ACT_ELU = 5,          /* z > 0 ? z : alpha (e^z - 1); alpha 1 for 'elu' */
    HF_ACT_SELU = 6,         /* scale * elu(z, selu alpha), the fixed SELU constants */
    HF_ACT_GELU = 7,         /* exact: 0.5 z (1 + erf(z / sqrt 2)); Keras 2 and 3 default */
    HF_ACT_SOFTPLUS = 8,     /* log(1 + e^z), computed stably */
    HF_ACT_SOFTSIGN = 9,     /* z / (1 + |z|) */
    HF_ACT_SWISH = 10,       /* z sigmoid(z), also 'silu' */
    HF_ACT_LEAKY_RELU = 11,  /* z > 0 ? z : alpha z; alpha 0.2 for 'leaky_relu' */
    HF_ACT_EXPONENTIAL = 12, /* e^z */
    HF_ACT_HARD_SIGMOID = 13 /* tf-keras: clip(0.2 z + 0.5, 0, 1); Keras 3 uses z/6 + 0.5 */
};
#define HF_ACT_COUNT 14

#define HF_SELU_ALPHA 1.6732632423543772848170429916717f
#define HF_SELU_SCALE 1.0507009873554804934193349852946f

static inline int hf_act_valid(int act) { return act >= HF_ACT_LINEAR && act < HF_ACT_COUNT; }

/* The derivative needs the pre-activation z, not only the output. */
static inline int hf_act_needs_z(int act) { return act == HF_ACT_GELU || act == HF_ACT_SWISH; }

/* The parameter an activation takes when named by its string (the only
 * ones with a parameter: elu's alpha 1.0, leaky_relu's negative slope 0.2,
 * tf.nn.leaky_relu's default; the LeakyReLU layer passes its own 0.3). */
static inline float hf_act_default_alpha(int act)
{
    return act == HF_ACT_LEAKY_RELU ? 0.2f : 1.0f;
}

/* z (n x k, row stride k) += bias (or nothing when bias is NULL), then
 * a = act(z); a may be z itself (in place). alpha: see hf_act_default_alpha. */
void hf_act_forward(int act, float alpha, float *z, float *a, size_t n, size_t k,
                    const float *bias);

/* dz = da * act'(z) elementwise (softmax: its row Jacobian applied to da),
 * from the output a (and z, only read when hf_act_needs_z). dz may be da. */
void hf_act_backward(int act, float alpha, const float *z, const float *a, const float *da,
                     float *dz, size_t n, size_t k);

/* Scalar forms for one unit (the fused Dense(1) path, which serves the
 * first five activations only). A softmax over one unit is the constant 1,
 * so its derivative is 0. */
static inline int hf_act1_supported(int act) { return act >= HF_ACT_LINEAR && act <= HF_ACT_SOFTMAX; }

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
