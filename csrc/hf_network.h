/* A Sequential stack of Dense layers over caller-owned buffers, and the
 * whole-batch steps: one call runs forward, loss, backward, the optimizer
 * update and the metric accumulation. Nothing here allocates: the caller
 * sizes the workspace with hf_network_workspace(). */
#ifndef HF_NETWORK_H
#define HF_NETWORK_H

#include <stddef.h>
#include <stdint.h>

#include "hf_blas.h"
#include "hf_loss.h"
#include "hf_metric.h"
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
    float *slots[HF_OPT_MAX_SLOTS]; /* hf_opt_n_slots(&opt) used, n_params each */
    hf_opt_spec opt;
    const hf_var *vars;     /* the trainable weight arrays the optimizer updates */
    size_t n_vars;
    hf_loss_spec loss;
    size_t n_metrics;
    const hf_metric_spec *metrics;
    float *mstate;          /* the loss tracker (total, count), then each metric's
                             * block of hf_metric_state_floats() floats, in order */
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

#endif
