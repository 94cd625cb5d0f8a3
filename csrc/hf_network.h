/* A Sequential stack of Dense layers over caller-owned buffers, and the
 * whole-batch steps: one call runs forward, loss, backward, the optimizer
 * update and the metric accumulation. Nothing here allocates: the caller
 * sizes the workspace with hf_network_workspace(). */
#ifndef HF_NETWORK_H
#define HF_NETWORK_H

#include <stddef.h>
#include <stdint.h>

#include "hf_blas.h"
#include "hf_optimizer.h"
#include "hf_status.h"

typedef struct hf_network {
    size_t n_layers;
    const size_t *dims;     /* n_layers + 1 widths: input, then each layer's units */
    const int *acts;        /* n_layers activation ids */
    const size_t *w_off;    /* n_layers offsets of the kernels (din x dout) in params */
    const int64_t *b_off;   /* n_layers offsets of the biases, -1 for no bias */
    size_t n_params;
    float *params, *grads;  /* n_params each; grads mirrors the params layout */
    float *slots[3];        /* n_params each (see hf_optimizer.h) */
    hf_opt opt;
    int loss;
    size_t n_metrics;
    const int *metrics;
    float *mstate;          /* (1 + n_metrics) x 2: (total, count), the loss first */
    int64_t iterations;
    const hf_blas *blas;
} hf_network;

typedef struct hf_data {
    const float *x;          /* n_rows x x_width */
    const float *y;          /* n_rows x y_width, or NULL */
    const float *sw;         /* n_rows, or NULL */
    size_t n_rows, x_width, y_width;
    const int64_t *order;    /* n_positions row ids in [0, n_rows), or NULL */
    size_t n_positions;
} hf_data;

/* Floats of workspace the steps need for batches of up to `batch` rows. */
size_t hf_network_workspace(const hf_network *net, size_t batch);

/* True when the fused single-unit path (hf_dense1) serves this network. */
int hf_network_is_dense1(const hf_network *net);

/* ceil(count / batch) steps over positions [start, start + count), the last
 * one partial; each updates the parameters (iterations += 1) and adds to the
 * metric accumulators. lr must be finite. */
hf_status hf_train_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                         size_t batch, float lr, float *ws);

/* Forward, loss and metric accumulation, no update. */
hf_status hf_test_steps(hf_network *net, const hf_data *data, size_t start, size_t count,
                        size_t batch, float *ws);

/* Forward into out rows [start, start + count) (out: n_positions x output width). */
hf_status hf_predict_steps(const hf_network *net, const hf_data *data, size_t start,
                           size_t count, size_t batch, float *out, float *ws);

/* The data-parallel step, in two calls around one in-place sum over ranks
 * (an Allreduce) of the buffer [grads (n_params) | mdelta]:
 *
 * hf_grad_step: forward, loss and backward on this rank's n rows at
 * positions [start, start + n) of a global batch of global_rows rows. The
 * gradient is scaled by n / global_rows, so the sum over ranks of grads is
 * the global batch's gradient (sample weights included); mdelta
 * ((1 + n_metrics) x 2, zeroed first) gets the loss and metric deltas.
 * Parameters, slots, accumulators and iterations do not change. n may be 0
 * (an empty share of a tiny last batch): grads and mdelta become zeros.
 *
 * hf_update_step: adds mdelta to the accumulators, applies the optimizer
 * with grads, iterations += 1. With n == global_rows the two calls compute
 * bitwise what one step of hf_train_steps computes. */
size_t hf_reduce_floats(const hf_network *net);
hf_status hf_grad_step(hf_network *net, const hf_data *data, size_t start, size_t n,
                       size_t global_rows, float *mdelta, float *ws);
hf_status hf_update_step(hf_network *net, const float *mdelta, float lr);

#endif
