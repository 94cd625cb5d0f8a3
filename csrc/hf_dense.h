/* A Dense layer on a batch: forward a = act(x W + b) through sgemm, and
 * backward giving dW, db, dx with the activation's derivative fused in
 * (computed from the stored a, and z for hf_act_needs_z activations).
 * x: n x din (row stride ldx), W: din x dout, b: dout or NULL, z and a:
 * n x dout. */
#ifndef HF_DENSE_H
#define HF_DENSE_H

#include <stddef.h>

#include "hf_blas.h"
#include "hf_status.h"

/* z receives x W + b when not NULL (needed by gelu/swish backward), else a
 * is used in place. alpha: the activation's parameter (hf_activation.h). */
hf_status hf_dense_forward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                           const float *b, int act, float alpha, float *z, float *a, size_t n,
                           size_t din, size_t dout);

/* da (n x dout) is dL/da; dz (n x dout) receives dL/dz and may be da itself.
 * dw (din x dout) and db (dout) are overwritten when not NULL (NULL: a
 * frozen kernel or no bias); dx (n x din) is written
 * when not NULL, or added to when accumulate_dx is true. */
hf_status hf_dense_backward(const hf_blas *blas, const float *x, size_t ldx, const float *w,
                            const float *z, const float *a, const float *da, float *dz, int act,
                            float alpha, float *dw, float *db, float *dx, int accumulate_dx,
                            size_t n, size_t din, size_t dout);

/* out[j] = sum over the n rows of x[i][j] (x row stride ldx); also serves
 * BatchNormalization's batch statistics. */
void hf_column_sums(const float *x, size_t ldx, size_t n, size_t k, float *out);

#endif
