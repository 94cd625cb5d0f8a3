#include "hf_regularizer.h"

#include <math.h>

#include "hf_simd.h"
#include "hf_status.h"

double hf_penalty(const float *w, size_t n, float l1, float l2)
{
    if (l1 == 0.0f && l2 == 0.0f)
        return 0.0;
    double a = 0.0, q = 0.0;
    for (size_t i = 0; i < n; i++) {
        a += fabsf(w[i]);
        q += (double)w[i] * w[i];
    }
    return (double)l1 * a + (double)l2 * q;
}

HF_HOT void hf_penalty_grad(const float *w, float *g, size_t n, float l1, float l2, float scale)
{
    if (l1 == 0.0f && l2 == 0.0f)
        return;
    const float c1 = l1 * scale, c2 = 2.0f * l2 * scale;
    HF_SIMD
    for (size_t i = 0; i < n; i++) {
        float s = w[i] > 0.0f ? 1.0f : (w[i] < 0.0f ? -1.0f : 0.0f); /* tf.sign(0) = 0 */
        g[i] += c1 * s + c2 * w[i];
    }
}
