#include "hf_dense.h"

#include "hf_activation.h"
#include "hf_simd.h"

hf_status hf_dense_forward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                           const float *b, int act, float alpha, float *z, float *a, size_t n,
                           size_t din, size_t dout)
{
    if (!hf_act_valid(act))
        return HF_ERR_KIND;
    if (n == 0 || din == 0 || dout == 0)
        return HF_ERR_SHAPE;
    if (hf_act_needs_z(act) && z == NULL)
        return HF_ERR_SHAPE;
    float *pre = z != NULL ? z : a;
    hf_gemm(blas, 0, 0, n, dout, din, 1.0f, x, ldx, w, dout, 0.0f, pre, dout);
    hf_act_forward(act, alpha, pre, a, n, dout, b);
    return HF_OK;
}

HF_HOT void hf_column_sums(const float *restrict x, size_t ldx, size_t n, size_t k,
                           float *restrict out)
{
    for (size_t j = 0; j < k; j++)
        out[j] = 0.0f;
    for (size_t i = 0; i < n; i++) {
        const float *r = x + i * ldx;
        HF_SIMD
        for (size_t j = 0; j < k; j++)
            out[j] += r[j];
    }
}

hf_status hf_dense_backward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                            const float *z, const float *a, const float *da, float *dz, int act,
                            float alpha, float *dw, float *db, float *dx, int accumulate_dx,
                            size_t n, size_t din, size_t dout)
{
    if (!hf_act_valid(act))
        return HF_ERR_KIND;
    if (n == 0 || din == 0 || dout == 0)
        return HF_ERR_SHAPE;
    if (hf_act_needs_z(act) && z == NULL)
        return HF_ERR_SHAPE;
    hf_act_backward(act, alpha, z, a, da, dz, n, dout);
    /* dW = x^T dz, db = column sums of dz, dx (+)= dz W^T. */
    if (dw != NULL)
        hf_gemm(blas, 1, 0, din, dout, n, 1.0f, x, ldx, dz, dout, 0.0f, dw, dout);
    if (db != NULL)
        hf_column_sums(dz, dout, n, dout, db);
    if (dx != NULL)
        hf_gemm(blas, 0, 1, n, din, dout, 1.0f, dz, dout, w, dout, accumulate_dx ? 1.0f : 0.0f,
                dx, din);
    return HF_OK;
}
