/* BatchNormalization over the batch axis of an (n x k) matrix, tf-keras
 * 2.21 formulas (the non-fused path it takes for 2-D inputs):
 *   training:  mean, var = the batch's mean and biased variance per column;
 *   inference: the moving statistics;
 *   y = x * inv + (beta - mean * inv), inv = gamma / sqrt(var + epsilon)
 * (tf.nn.batch_normalization's order of operations). gamma/beta NULL: scale
 * or center off. */
#ifndef HF_BATCHNORM_H
#define HF_BATCHNORM_H

#include <stddef.h>

/* x has row stride ldx, y is contiguous; every loop runs along rows so it
 * vectorises. stats: 4 k floats of scratch; training leaves the batch mean
 * and 1 / sqrt(var + epsilon) in its first 2 k (for the backward pass) and,
 * when update is true, moves the moving statistics as tf-keras does:
 *   moving -= (moving - batch) * (1 - momentum)
 * (Keras 3 writes moving * momentum + batch * (1 - momentum): the same up to
 * rounding). */
void hf_batchnorm_forward(const float *x, size_t ldx, float *y, size_t n, size_t k,
                          const float *gamma, const float *beta, float *moving_mean,
                          float *moving_var, float epsilon, float momentum, int training,
                          int update, float *stats);

/* dy (n x k) -> dx (n x k; added to when accumulate) when dx is not NULL,
 * dgamma / dbeta (k, overwritten) when not NULL. Training mode uses the
 * batch statistics saved in stats by the forward pass, inference the moving
 * ones; stats' last 2 k floats are scratch. */
void hf_batchnorm_backward(const float *x, size_t ldx, const float *dy, size_t n, size_t k,
                           const float *gamma, const float *moving_mean, const float *moving_var,
                           float epsilon, int training, float *stats, float *dx, int accumulate,
                           float *dgamma, float *dbeta);

/* Keras's Normalization layer: y = (x - mean) / max(sqrt(variance), epsilon)
 * (the same in tf-keras and Keras 3), and its input gradient dx (+)= dy /
 * max(sqrt(variance), epsilon). scratch: k floats (the divisors). */
void hf_normalization_forward(const float *x, size_t ldx, float *y, size_t n, size_t k,
                              const float *mean, const float *variance, float epsilon,
                              float *scratch);
void hf_normalization_backward(const float *dy, float *dx, int accumulate, size_t n, size_t k,
                               const float *variance, float epsilon, float *scratch);

#endif
