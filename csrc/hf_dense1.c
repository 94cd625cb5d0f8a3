#include "hf_dense1.h"

#include "hf_activation.h"
#include "hf_loss.h"
#include "hf_simd.h"

/* Dot products keep HF_LANES partial sums: one vector accumulator would make
 * every FMA wait for the previous one (a latency-bound chain at ~2 floats per
 * cycle, slower than memory); four 8-float vectors hide that latency. */
#define HF_LANES 32

static inline float lanes_total(const float *acc, float tail)
{
    float s = tail;
    for (size_t l = 0; l < HF_LANES; l++)
        s += acc[l];
    return s;
}

HF_HOT static float dot(const float *restrict u, const float *restrict v, size_t d)
{
    float acc[HF_LANES] = {0.0f};
    size_t j = 0;
    for (; j + HF_LANES <= d; j += HF_LANES) {
        HF_SIMD
        for (size_t l = 0; l < HF_LANES; l++)
            acc[l] += u[j + l] * v[j + l];
    }
    float tail = 0.0f;
    HF_SIMD_SUM(tail)
    for (size_t t = j; t < d; t++)
        tail += u[t] * v[t];
    return lanes_total(acc, tail);
}

/* Software-pipelined: while row i's gradient term r_i x_i is added to gw,
 * the same loop computes row i+1's dot product, so each row streams from
 * memory once and both FMA chains overlap the load latency. */
HF_HOT hf_status hf_dense1_train(const hf_rows *x, const hf_rows *y, const hf_rows *sw, size_t n,
                                 size_t d, const float *w, const float *b, int act, int loss,
                                 float *gw, float *gb, float *a, double *loss_value)
{
    if (!hf_act_valid(act) || !hf_loss_valid(loss))
        return HF_ERR_KIND;
    if (n == 0 || d == 0 || x->width != d || y->width != 1)
        return HF_ERR_SHAPE;
    const float bias = b ? b[0] : 0.0f;
    const float inv_n = 1.0f / (float)n;
    float *restrict g = gw;
    for (size_t j = 0; j < d; j++)
        g[j] = 0.0f;
    float gbias = 0.0f;
    double lsum = 0.0;
    hf_status st = HF_OK;

    const float *xr = hf_row(x, 0);
    float z = dot(xr, w, d);
    for (size_t i = 0; i < n; i++) {
        float ai = hf_act1(act, z + bias);
        float wi = sw ? hf_row(sw, i)[0] : 1.0f;
        float dl_da;
        float li = hf_loss_row(loss, hf_row(y, i), &ai, 1, &dl_da, wi * inv_n, &st);
        if (HF_UNLIKELY(st != HF_OK))
            return st;
        lsum += (double)(wi * li);
        a[i] = ai;
        const float r = dl_da * hf_dact1(act, ai);
        gbias += r;
        if (i + 1 < n) {
            const float *restrict xn = hf_row(x, i + 1);
            const float *restrict xc = xr;
            float acc[HF_LANES] = {0.0f};
            size_t j = 0;
            for (; j + HF_LANES <= d; j += HF_LANES) {
                HF_SIMD
                for (size_t l = 0; l < HF_LANES; l++) {
                    g[j + l] += r * xc[j + l];
                    acc[l] += xn[j + l] * w[j + l];
                }
            }
            float tail = 0.0f;
            HF_SIMD_SUM(tail)
            for (size_t t = j; t < d; t++) {
                g[t] += r * xc[t];
                tail += xn[t] * w[t];
            }
            z = lanes_total(acc, tail);
            xr = xn;
        } else {
            const float *restrict xc = xr;
            HF_SIMD
            for (size_t j = 0; j < d; j++)
                g[j] += r * xc[j];
        }
    }
    if (gb)
        gb[0] = gbias;
    *loss_value = lsum / (double)n;
    return HF_OK;
}

HF_HOT hf_status hf_dense1_forward(const hf_rows *x, size_t n, size_t d, const float *w,
                                   const float *b, int act, float *a)
{
    if (!hf_act_valid(act))
        return HF_ERR_KIND;
    if (n == 0 || d == 0 || x->width != d)
        return HF_ERR_SHAPE;
    const float bias = b ? b[0] : 0.0f;
    for (size_t i = 0; i < n; i++)
        a[i] = hf_act1(act, dot(hf_row(x, i), w, d) + bias);
    return HF_OK;
}
